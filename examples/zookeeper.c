/*
 * zookeeper: servers publish themselves under /motan/<group>/<service>/server in ZooKeeper;
 * the client follows the list.
 *   build/examples/zookeeper 'zookeeper://127.0.0.1:2181/com.example.EchoService?group=default_rpc'
 */
#include <stdio.h>

#include <motan/motan.h>

int main(int argc, char **argv)
{
    const char *url = argc > 1 ? argv[1]
                               : "zookeeper://127.0.0.1:2181/com.example.EchoService?group=default_rpc";
    char err[256];
    motan_client *client;
    if (motan_client_new(url, &client, err, sizeof(err)) != MOTAN_OK) {
        fprintf(stderr, "cannot create the client: %s\n", err);
        return 1;
    }
    /* Calls made before ZooKeeper answered wait for the first node list; this just shows it. */
    if (motan_client_wait_ready(client, 5000) != MOTAN_OK) {
        char status[256];
        motan_client_registry_status(client, status, sizeof(status));
        fprintf(stderr, "no server registered yet (registry: %s)\n", status[0] ? status : "ok");
    }
    /* From this (non-loop) thread: the client asks its loop (the cluster is loop-thread only). */
    printf("servers from ZooKeeper: %zu\n", motan_client_endpoint_count(client));

    motan_request *req = motan_client_request(client, "name");
    motan_response *resp;
    int rc = motan_client_call(client, req, &resp);
    if (rc == MOTAN_OK) {
        size_t len;
        const char *name = motan_value_get_data(motan_response_get_value(resp), &len);
        printf("answered by %.*s\n", (int)len, name);
    } else {
        printf("call failed: %s: %s\n", motan_errname(rc), motan_response_get_errmsg(resp));
    }
    motan_response_free(resp);
    motan_request_free(req);
    motan_client_free(client);
    return rc == MOTAN_OK ? 0 : 1;
}
