/*
 * cluster_failover: round robin over several servers with failover; a server that dies
 * mid-run costs no call. Prints the result and how many calls each server answered.
 *   build/examples/cluster_failover \
 *     'motan2://127.0.0.1:8001,127.0.0.1:8002,127.0.0.1:8003/com.example.EchoService' \
 *     [calls] [in-flight] [progress]
 * With progress N, a line "done <count>" is printed (and flushed) every N completions.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <motan/motan.h>

#define MAX_SERVERS 16

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s URL [calls] [in-flight] [progress]\n", argv[0]);
        return 2;
    }
    int calls = argc > 2 ? atoi(argv[2]) : 20000;
    int inflight = argc > 3 ? atoi(argv[3]) : 16;
    int progress = argc > 4 ? atoi(argv[4]) : 0;
    char err[256];
    motan_config *cfg;
    if (motan_config_new(argv[1], &cfg, err, sizeof(err)) != MOTAN_OK) {
        fprintf(stderr, "bad URL: %s\n", err);
        return 2;
    }
    motan_config_set_loadbalance(cfg, "roundrobin");
    motan_config_set_ha_strategy(cfg, "failover");
    motan_config_set_retries(cfg, 2);
    motan_client *client;
    int rc = motan_client_new_config(cfg, NULL, &client, err, sizeof(err));
    motan_config_free(cfg);
    if (rc != MOTAN_OK) {
        fprintf(stderr, "cannot create the client: %s\n", err);
        return 1;
    }
    /* The pull queue keeps `inflight` calls going from this one thread. */
    motan_request **reqs = calloc((size_t)inflight, sizeof(*reqs));
    for (int i = 0; i < inflight; i++) {
        reqs[i] = motan_client_request(client, "echo");
        motan_request_add_arg(reqs[i], motan_value_new_string(motan_request_arena(reqs[i]), "x", 1));
    }
    char names[MAX_SERVERS][64];
    int counts[MAX_SERVERS] = {0}, nnames = 0, issued = 0, done = 0, failed = 0;
    for (; issued < inflight && issued < calls; issued++)
        motan_client_submit(client, reqs[issued], (uint64_t)issued);
    while (done < issued) {
        motan_response *resp;
        uint64_t slot;
        if (motan_client_poll(client, -1, &resp, &slot) != 1)
            break;
        done++;
        if (motan_response_get_code(resp) != MOTAN_OK) {
            if (!failed++)
                fprintf(stderr, "first failure: %s\n", motan_response_get_errmsg(resp));
        } else {
            const char *srv = motan_response_get_meta(resp, "X-Server");
            int k = 0;
            while (k < nnames && strcmp(names[k], srv ? srv : "?"))
                k++;
            if (k == nnames && nnames < MAX_SERVERS)
                snprintf(names[nnames++], sizeof(names[0]), "%s", srv ? srv : "?");
            if (k < MAX_SERVERS)
                counts[k]++;
        }
        motan_response_free(resp);
        if (progress > 0 && done % progress == 0) {
            printf("done %d\n", done);
            fflush(stdout);
        }
        if (issued < calls)
            motan_client_submit(client, reqs[slot], slot), issued++;
    }
    printf("calls %d ok %d failed %d\n", done, done - failed, failed);
    for (int k = 0; k < nnames; k++)
        printf("  %-12s %d\n", names[k], counts[k]);
    for (int i = 0; i < inflight; i++)
        motan_request_free(reqs[i]);
    free(reqs);
    motan_client_free(client);
    return failed ? 1 : 0;
}
