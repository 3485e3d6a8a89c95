/*
 * The repeat mode of `motan call` (-n N, -c C): the pull queue keeps C calls in flight until
 * N have been made, then one summary line (call_stats.c) is printed.
 *
 * Ownership: the library borrows a submitted request until its completion is polled, so a
 * slot's request is reused or freed only once its call has been polled; every way out of
 * the loop first waits for the calls in flight.
 */
#include <stdlib.h>

#include "cli.h"

typedef struct slot {
    motan_request *req; /* owned; borrowed by the library while busy */
    uint64_t sent_us;
    int busy;
} slot;

typedef struct repeat {
    motan_client *cl;
    slot *slots;
    long nslots, n, issued, live;
    cli_stats *st;
    int first_fail; /* exit code of the first failed call, CLI_OK before */
} repeat;

/* Counts a failed call; the first one is reported on stderr (resp, or else why it did not
 * start) and gives the exit code. */
static void count_failure(repeat *r, int code, uint64_t latency_us, const motan_response *resp)
{
    cli_stats_add(r->st, code, latency_us);
    if (r->first_fail != CLI_OK)
        return;
    r->first_fail = resp ? cli_call_failure(resp)
                         : cli_error(cli_call_exit_code(code), "%s: the call could not start: %s",
                                     motan_errname(code), motan_strerror(code));
}

/* Starts the next calls on slot i until one is in flight (a call that cannot start counts
 * as failed) or N calls have been issued. */
static void issue(repeat *r, long i)
{
    slot *s = &r->slots[i];
    while (r->issued < r->n) {
        r->issued++;
        s->sent_us = motan_now_us();
        int rc = motan_client_submit(r->cl, s->req, (uint64_t)i);
        if (rc == MOTAN_OK) {
            s->busy = 1;
            r->live++;
            return;
        }
        count_failure(r, rc, motan_now_us() - s->sent_us, NULL);
    }
}

/* Takes one completion and starts the slot's next call. CLI_OK, or the exit code when the
 * queue cannot be polled (the calls still in flight then stay borrowed). */
static int complete_one(repeat *r)
{
    motan_response *resp = NULL;
    uint64_t tag = 0;
    int rc = motan_client_poll(r->cl, -1, &resp, &tag);
    if (rc != 1)
        return cli_error(CLI_EDATA, "cannot poll for completions: %s", motan_strerror(rc));
    if (tag >= (uint64_t)r->nslots || !r->slots[tag].busy) { /* cannot happen: our tags only */
        motan_response_free(resp);
        return cli_error(CLI_EDATA, "a completion for an unknown call");
    }
    slot *s = &r->slots[tag];
    s->busy = 0;
    r->live--;
    uint64_t latency = motan_now_us() - s->sent_us;
    int code = resp ? motan_response_get_code(resp) : MOTAN_ENOMEM;
    if (code == MOTAN_OK)
        cli_stats_add(r->st, code, latency);
    else
        count_failure(r, code, latency, resp);
    motan_response_free(resp);
    issue(r, (long)tag);
    return CLI_OK;
}

int cli_call_repeat(motan_client *cl, long n, long c, cli_request_fn make, void *ud, FILE *out)
{
    repeat r = {.cl = cl, .n = n, .nslots = c < n ? c : n};
    int code = CLI_OK;
    r.slots = calloc((size_t)r.nslots, sizeof(slot));
    r.st = cli_stats_new();
    if (!r.slots || !r.st) {
        code = cli_error(CLI_EDATA, "out of memory");
        goto out;
    }
    /* Every request is built before the first call starts: a bad argument stops the run
     * with nothing in flight. */
    for (long i = 0; i < r.nslots; i++) {
        if (!(r.slots[i].req = make(ud, &code))) {
            if (code == CLI_OK)
                code = CLI_EDATA;
            goto out;
        }
    }
    uint64_t t0 = motan_now_us();
    for (long i = 0; i < r.nslots; i++)
        issue(&r, i);
    while (r.live > 0 && code == CLI_OK)
        code = complete_one(&r);
    cli_stats_print(r.st, (double)(motan_now_us() - t0) / 1e6, out);
    if (code == CLI_OK)
        code = r.first_fail;
out:
    for (long i = 0; r.slots && i < r.nslots; i++)
        if (!r.slots[i].busy) /* a busy one is still the library's: leave it (we exit) */
            motan_request_free(r.slots[i].req);
    free(r.slots);
    cli_stats_free(r.st);
    return code;
}
