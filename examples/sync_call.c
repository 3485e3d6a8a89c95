/*
 * sync_call: blocking calls from main(), the library runs its own loop thread.
 *   build/examples/sync_call motan2://127.0.0.1:8002/com.example.EchoService
 */
#include <stdio.h>

#include <motan/motan.h>

int main(int argc, char **argv)
{
    const char *url = argc > 1 ? argv[1] : "motan2://127.0.0.1:8002/com.example.EchoService";
    char err[256];
    motan_client *client;
    if (motan_client_new(url, &client, err, sizeof(err)) != MOTAN_OK) {
        fprintf(stderr, "cannot create the client: %s\n", err);
        return 1;
    }

    /* echo("hello"): one string argument, built in the request's arena. */
    motan_request *req = motan_client_request(client, "echo");
    motan_request_add_arg(req, motan_value_new_string(motan_request_arena(req), "hello", 5));
    motan_response *resp;
    int rc = motan_client_call(client, req, &resp);
    if (rc == MOTAN_OK) {
        size_t len;
        const char *s = motan_value_get_data(motan_response_get_value(resp), &len);
        printf("echo -> %.*s (server took %lld ms)\n", (int)len, s,
               (long long)motan_response_get_process_time(resp));
    } else {
        printf("echo failed: %s: %s\n", motan_errname(rc), motan_response_get_errmsg(resp));
    }
    motan_response_free(resp);
    motan_request_free(req);

    /* add(40, 2): Java servers want exact types, so say int64 explicitly. */
    req = motan_client_request(client, "add");
    motan_request_add_arg(req, motan_value_new_int64(motan_request_arena(req), 40));
    motan_request_add_arg(req, motan_value_new_int64(motan_request_arena(req), 2));
    rc = motan_client_call(client, req, &resp);
    if (rc == MOTAN_OK)
        printf("add -> %lld\n", (long long)motan_value_get_int(motan_response_get_value(resp)));
    else
        printf("add failed: %s: %s\n", motan_errname(rc), motan_response_get_errmsg(resp));
    motan_response_free(resp);
    motan_request_free(req);

    /* fail("nope"): a business error (errtype 2) from the server. */
    req = motan_client_request(client, "fail");
    motan_request_add_arg(req, motan_value_new_string(motan_request_arena(req), "nope", 4));
    rc = motan_client_call(client, req, &resp);
    printf("fail -> %s errcode %lld errtype %d: %s\n", motan_errname(rc),
           (long long)motan_response_get_errcode(resp), motan_response_get_errtype(resp),
           motan_response_get_errmsg(resp));
    motan_response_free(resp);
    motan_request_free(req);

    motan_client_free(client);
    return 0;
}
