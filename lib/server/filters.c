/*
 * Filters on server dispatch (docs/observability.md): the `filter` parameter names them, a
 * stats source (the server's own, or one given with motan_server_set_stats) takes what
 * `metrics` counts. Every request but heartbeats goes through the chain once: before its
 * handler runs, and again when it is answered (on the loop thread: a reply finished on
 * another thread ends when the inbox delivers it). No filter: nothing of this runs.
 */
#include <stdio.h>

#include "server/server_int.h"

static int make_chain(motan_server *s, const char *names, motan_stats *stats, char *errbuf,
                      size_t errlen)
{
    motan_stats *own = NULL;
    if (!stats && motan_stats_new(&own) != MOTAN_OK)
        return motan__errf(errbuf, errlen, MOTAN_ENOMEM, "out of memory");
    motan_filter_chain *ch = NULL;
    int rc = motan_filter_chain_new(names, NULL, MOTAN_SIDE_SERVER, stats ? stats : own, &ch,
                                    errbuf, errlen);
    motan_stats_free(own); /* the chain holds it */
    if (rc != MOTAN_OK)
        return rc;
    motan_filter_chain_free(s->chain);
    s->chain = ch;
    s->filtering = motan_filter_chain_length(ch) > 0;
    return MOTAN_OK;
}

int motan__srv_filters_init(motan_server *s, char *errbuf, size_t errlen)
{
    return make_chain(s, NULL, NULL, errbuf, errlen);
}

/* Requests in flight hold call contexts of the chain: it is only replaced before any. */
static int idle(const motan_server *s, char *errbuf, size_t errlen)
{
    if (s->listeners || s->out_replies)
        return motan__errf(errbuf, errlen, MOTAN_EINVAL,
                           "filters and stats are set before the server listens");
    return MOTAN_OK;
}

int motan__srv_set_filters(motan_server *s, const char *names, char *errbuf, size_t errlen)
{
    int rc = idle(s, errbuf, errlen);
    char *copy = names && *names ? motan__strdup(names) : NULL;
    if (rc == MOTAN_OK && names && *names && !copy)
        rc = motan__errf(errbuf, errlen, MOTAN_ENOMEM, "out of memory");
    if (rc == MOTAN_OK)
        rc = make_chain(s, names, motan_filter_chain_stats(s->chain), errbuf, errlen);
    if (rc != MOTAN_OK) {
        motan_free(copy);
        return rc;
    }
    motan_free(s->filters);
    s->filters = copy;
    return MOTAN_OK;
}

typedef struct stats_job {
    motan_server *s;
    motan_stats *stats;
    int rc;
} stats_job;

static void set_stats_on_loop(void *arg)
{
    stats_job *j = arg;
    j->rc = idle(j->s, NULL, 0);
    if (j->rc == MOTAN_OK)
        j->rc = make_chain(j->s, j->s->filters, j->stats, NULL, 0);
}

MOTAN_EXPORT int motan_server_set_stats(motan_server *s, motan_stats *stats)
{
    if (!s || !stats)
        return MOTAN_EINVAL;
    stats_job j = {s, stats, MOTAN_OK};
    int rc = motan_loop_run_wait(s->loop, set_stats_on_loop, &j);
    return rc == MOTAN_OK ? j.rc : rc;
}

MOTAN_EXPORT motan_stats *motan_server_get_stats(motan_server *s)
{
    return s ? motan_filter_chain_stats(s->chain) : NULL;
}

static const char *request_meta(const void *req, const char *key)
{
    return motan_server_request_meta(req, key, NULL);
}

int motan__srv_filter_begin(motan_server *s, motan_reply *r, const motan__ssvc *svc)
{
    char err[320];
    size_t body = 0;
    motan_frame_body(r->req.frame, &body);
    r->fcode = MOTAN_ECANCELLED; /* until it is answered */
    r->fsize = 0;
    /* Stable labels (the chain's contract): the registered name; "" for unknown services,
     * and for the group, which a request names in a string of its own. */
    int rc = motan_filter_chain_begin(s->chain, svc ? svc->name : "", "", r->req.method, r->ser,
                                      body, request_meta, &r->req, r->recv_us, &r->fc, err,
                                      sizeof(err));
    if (rc == MOTAN_OK || !r->fc) /* out of memory for a context: unfiltered */
        return MOTAN_OK;
    /* Rejected: the filters that ran see the filter's code, the client an exception. */
    motan_filter_chain_end(r->fc, rc, NULL, 0, motan_now_us());
    r->fc = NULL;
    motan__reply_builtin_error(r, rc == MOTAN_EBUSY ? 503 : 500, 1, "%s", err);
    return rc;
}

void motan__srv_filter_end(motan_reply *r)
{
    motan_filter_call *fc = r->fc;
    r->fc = NULL;
    motan_filter_chain_end(fc, r->fcode, NULL, r->fsize, motan_now_us());
}

void motan__srv_filters_free(motan_server *s)
{
    for (motan_reply *r = s->out_replies; r; r = r->snext)
        if (r->fc) {
            r->fcode = MOTAN_ECANCELLED;
            motan__srv_filter_end(r);
        }
    motan_filter_chain_free(s->chain);
    s->chain = NULL;
    motan_free(s->filters);
}

MOTAN_EXPORT const char *motan_reply_traceparent(const motan_reply *r)
{
    return r && r->fc ? motan_filter_call_traceparent(r->fc) : NULL;
}
