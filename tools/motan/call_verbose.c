/*
 * motan call -v: what a call does, on stderr, through a filter of the tool's own: the call,
 * each attempt with the endpoint chosen and where its time went (the transport's phases),
 * the outcome. Lines start with "* " so they stand apart from error messages.
 */
#include <stdio.h>
#include <string.h>

#include <motan/client.h>

#include "cli.h"

static int v_before(void *state, motan_filter_call *call)
{
    (void)state;
    fprintf(stderr, "* call %s.%s (group %s, %s, %zu bytes)\n", motan_filter_call_service(call),
            motan_filter_call_method(call), motan_filter_call_group(call),
            motan_serialization_name(motan_filter_call_serialization(call)),
            motan_filter_call_request_size(call));
    return MOTAN_OK;
}

static void v_attempt_start(void *state, motan_filter_call *call)
{
    (void)state;
    /* On the built-in loop the call crosses to the loop thread before its first attempt. */
    uint64_t since = motan_now_us() - motan_filter_call_start_us(call);
    fprintf(stderr, "* attempt %d -> %s (sent %llu us after the call began)\n",
            motan_filter_call_attempt(call), motan_filter_call_endpoint(call),
            (unsigned long long)since);
}

static void v_attempt_end(void *state, motan_filter_call *call)
{
    (void)state;
    const motan_response *r = motan_filter_call_response(call);
    int code = motan_filter_call_code(call);
    fprintf(stderr,
            "* attempt %d <- %s: %s in %llu us: queue %llu, connect %llu, write %llu, wait %llu, "
            "decode %llu us%s\n",
            motan_filter_call_attempt(call), motan_filter_call_endpoint(call), motan_errname(code),
            (unsigned long long)motan_filter_call_latency_us(call),
            (unsigned long long)motan_filter_call_phase_us(call, MOTAN_PHASE_QUEUE),
            (unsigned long long)motan_filter_call_phase_us(call, MOTAN_PHASE_CONNECT),
            (unsigned long long)motan_filter_call_phase_us(call, MOTAN_PHASE_WRITE),
            (unsigned long long)motan_filter_call_phase_us(call, MOTAN_PHASE_WAIT),
            (unsigned long long)motan_filter_call_phase_us(call, MOTAN_PHASE_DECODE),
            motan_filter_call_endpoint_available(call) ? "" : " (endpoint now fused)");
    if (code != MOTAN_OK && r && *motan_response_get_errmsg(r))
        fprintf(stderr, "*   %s\n", motan_response_get_errmsg(r));
}

static void v_after(void *state, motan_filter_call *call)
{
    (void)state;
    int n = motan_filter_call_attempts(call);
    fprintf(stderr, "* result %s in %llu us after %d attempt%s, %zu bytes\n",
            motan_errname(motan_filter_call_code(call)),
            (unsigned long long)motan_filter_call_latency_us(call), n, n == 1 ? "" : "s",
            motan_filter_call_response_size(call));
}

static const motan_filter_ops verbose_ops = {
    .struct_size = sizeof(motan_filter_ops),
    .name = "cliVerbose",
    .flags = MOTAN_FILTER_PHASES,
    .before = v_before,
    .attempt_start = v_attempt_start,
    .attempt_end = v_attempt_end,
    .after = v_after,
};

int cli_verbose_enable(motan_config *cfg)
{
    if (!motan_filter_exists(verbose_ops.name) && motan_filter_register(&verbose_ops) != MOTAN_OK)
        return cli_error(CLI_EDATA, "cannot register the -v filter");
    /* Last in the list: it sees what the URL's own filters did (their metadata, a rejection). */
    char *url = motan_config_to_url(cfg);
    motan_url *u = NULL;
    const char *have = NULL;
    if (url && motan_url_parse(url, strlen(url), &u, NULL, 0) == MOTAN_OK)
        have = motan_url_get_param(u, "filter");
    char list[1024];
    snprintf(list, sizeof(list), "%s%s%s", have && *have ? have : "", have && *have ? "," : "",
             verbose_ops.name);
    motan_url_free(u);
    motan_free(url);
    char err[256];
    if (motan_config_set(cfg, NULL, "filter", list, err, sizeof(err)) != MOTAN_OK)
        return cli_usage_error("call", "%s", err);
    return CLI_OK;
}
