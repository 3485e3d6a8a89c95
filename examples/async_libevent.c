/*
 * async_libevent: the client runs on the caller's own event_base; calls complete in
 * callbacks on that loop.
 *   build/examples/async_libevent motan2://127.0.0.1:8002/com.example.EchoService [calls]
 */
#include <stdio.h>
#include <stdlib.h>

#include <event2/event.h>

#include <motan/motan.h>

struct state {
    struct event_base *base;
    int pending, ok, failed;
};

static void on_response(motan_response *resp, void *userdata)
{
    struct state *st = userdata;
    if (motan_response_get_code(resp) == MOTAN_OK)
        st->ok++;
    else {
        st->failed++;
        fprintf(stderr, "call failed: %s\n", motan_response_get_errmsg(resp));
    }
    motan_response_free(resp);
    if (--st->pending == 0)
        event_base_loopbreak(st->base); /* all answered */
}

int main(int argc, char **argv)
{
    const char *url = argc > 1 ? argv[1] : "motan2://127.0.0.1:8002/com.example.EchoService";
    int calls = argc > 2 ? atoi(argv[2]) : 100;
    struct state st = {.base = event_base_new(), .pending = calls};
    char err[256];
    motan_client *client;
    if (motan_client_new_with_base(st.base, url, &client, err, sizeof(err)) != MOTAN_OK) {
        fprintf(stderr, "cannot create the client: %s\n", err);
        return 1;
    }
    /* One request can be in flight many times: it is only read. */
    motan_request *req = motan_client_request(client, "echo");
    motan_request_add_arg(req, motan_value_new_string(motan_request_arena(req), "ping", 4));
    for (int i = 0; i < calls; i++)
        if (motan_client_call_async(client, req, on_response, &st) != MOTAN_OK)
            return 1;
    event_base_dispatch(st.base); /* the callbacks run here */
    printf("async calls %d ok %d failed %d\n", calls, st.ok, st.failed);
    motan_request_free(req);
    motan_client_free(client);
    event_base_free(st.base);
    return st.failed ? 1 : 0;
}
