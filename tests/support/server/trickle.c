/*
 * The two faults that pace their bytes, as streaming replies: bytewise (one byte per write,
 * 1 ms apart, each once the connection has written everything before it) and endless-meta
 * (1 KiB per ms while the client reads, stopping one byte short of a whole frame). Later
 * answers on the connection wait behind the stream, as the layer orders them.
 */
#include <stdlib.h>
#include <string.h>

#include "srv.h"

#define ENDLESS_TOTAL 10485760u
#define ENDLESS_CHUNK 1024
#define ENDLESS_BACKLOG (64 * 1024) /* top up only while the client keeps reading */
#define PROBE_MS 100                /* an endless stream that is all written: is its client gone? */

static void rearm(srv_job *j, int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    evtimer_add(j->ev, &tv);
}

static void done(srv_job *j)
{
    motan_reply_end(j->reply);
    srv_job_free(j);
}

static void on_byte(evutil_socket_t fd, short what, void *arg)
{
    srv_job *j = arg;
    (void)fd;
    (void)what;
    if (motan_reply_backlog(j->reply) == 0) {
        if (motan_reply_write(j->reply, j->bytes + j->off, 1) != MOTAN_OK || ++j->off == j->len) {
            done(j);
            return;
        }
    }
    rearm(j, 1);
}

void srv_trickle_bytes(srv_server *s, motan_reply *reply, const uint8_t *bytes, size_t len)
{
    uint8_t *copy = len ? malloc(len) : NULL;
    if (!copy) {
        motan_reply_drop(reply);
        return;
    }
    srv_job *j = srv_job_new(s, reply, SRV_JOB_BYTES, on_byte, 1);
    if (!j) {
        free(copy);
        return;
    }
    memcpy(copy, bytes, len);
    j->bytes = copy;
    j->len = len;
}

static void on_endless(evutil_socket_t fd, short what, void *arg)
{
    static char chunk[ENDLESS_CHUNK];
    srv_job *j = arg;
    (void)fd;
    (void)what;
    if (!chunk[0]) {
        for (size_t i = 0; i < sizeof(chunk); i += 4)
            memcpy(chunk + i, "k\nv\n", 4);
    }
    if (!j->left) {
        /* Nothing more to send; the stream stays open until its connection goes. */
        if (motan_reply_write(j->reply, NULL, 0) != MOTAN_OK)
            done(j);
        else
            rearm(j, PROBE_MS);
        return;
    }
    if (motan_reply_backlog(j->reply) < ENDLESS_BACKLOG) {
        size_t n = j->left < ENDLESS_CHUNK ? j->left : ENDLESS_CHUNK;
        if (motan_reply_write(j->reply, chunk, n) != MOTAN_OK) {
            done(j);
            return;
        }
        j->left -= n;
    }
    rearm(j, 1);
}

void srv_trickle_endless(srv_server *s, motan_reply *reply)
{
    srv_job *j = srv_job_new(s, reply, SRV_JOB_ENDLESS, on_endless, 1);
    if (j)
        j->left = ENDLESS_TOTAL - 1; /* one byte short: the frame never completes */
}
