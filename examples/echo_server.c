/*
 * echo_server: com.example.EchoService with echo(x) and add(a, b) on a built-in loop.
 *   build/examples/echo_server 8002      (prints "listening 127.0.0.1:8002"; 0 picks a port)
 * SIGINT or SIGTERM drains it: requests in flight are answered, then it exits.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include <motan/motan.h>

static void echo(const motan_server_request *req, motan_reply *reply, void *userdata)
{
    const motan_value *args;
    (void)userdata;
    motan_server_request_args(req, &args, NULL, 0); /* decoded before the handler runs */
    if (motan_value_count(args) == 1)
        motan_reply_send(reply, motan_value_at(args, 0));
    else
        motan_reply_error(reply, 500, 1, "echo takes one argument", 23);
}

static void add(const motan_server_request *req, motan_reply *reply, void *userdata)
{
    const motan_value *args;
    (void)userdata;
    motan_server_request_args(req, &args, NULL, 0);
    if (motan_value_count(args) != 2) {
        motan_reply_error(reply, 500, 1, "add takes two integers", 22);
        return;
    }
    int64_t sum = motan_value_get_int(motan_value_at(args, 0)) +
                  motan_value_get_int(motan_value_at(args, 1));
    motan_reply_send(reply, motan_value_new_int64(motan_reply_arena(reply), sum));
}

int main(int argc, char **argv)
{
    char err[256] = "", addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%s", argc > 1 ? argv[1] : "8002");
    sigset_t sigs; /* blocked here, so the loop thread never takes them: sigwait below does */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    motan_loop *loop;
    motan_server *srv;
    int port;
    if (motan_loop_new(&loop, err, sizeof(err)) != MOTAN_OK ||
        motan_server_new(loop, &srv, err, sizeof(err)) != MOTAN_OK ||
        motan_server_handle(srv, "com.example.EchoService", "echo", echo, NULL) != MOTAN_OK ||
        motan_server_handle(srv, "com.example.EchoService", "add", add, NULL) != MOTAN_OK ||
        motan_server_listen(srv, addr, &port, err, sizeof(err)) != MOTAN_OK) {
        fprintf(stderr, "echo_server: %s\n", err);
        return 1;
    }
    printf("listening 127.0.0.1:%d\n", port);
    fflush(stdout);

    int sig;
    sigwait(&sigs, &sig);
    int rc = motan_server_shutdown(srv, 5000); /* answer what is in flight, at most 5 s */
    motan_server_free(srv);
    motan_loop_free(loop);
    return rc == MOTAN_OK ? 0 : 1;
}
