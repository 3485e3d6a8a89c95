/* echo_server PORT: com.example.EchoService with echo(x) and add(a, b); SIGINT/SIGTERM drains. */
#include <signal.h>
#include <stdio.h>
#include <motan/motan.h>

static void echo(const motan_server_request *req, motan_reply *reply, void *userdata)
{
    const motan_value *args; /* decoded before the handler runs: an ARRAY */
    motan_server_request_args(req, &args, NULL, 0);
    if (motan_value_count(args) == 1)
        motan_reply_send(reply, motan_value_at(args, 0));
    else
        motan_reply_error(reply, 500, 1, "echo takes one argument", 23);
    (void)userdata;
}

static void add(const motan_server_request *req, motan_reply *reply, void *userdata)
{
    const motan_value *args;
    motan_server_request_args(req, &args, NULL, 0);
    if (motan_value_count(args) != 2) {
        motan_reply_error(reply, 500, 1, "add takes two integers", 22);
        return;
    }
    int64_t sum = motan_value_get_int(motan_value_at(args, 0)) +
                  motan_value_get_int(motan_value_at(args, 1));
    motan_reply_send(reply, motan_value_new_int64(motan_reply_arena(reply), sum));
    (void)userdata;
}

int main(int argc, char **argv)
{
    char err[256] = "", addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%s", argc > 1 ? argv[1] : "8002");
    sigset_t sigs; /* blocked before the loop thread starts: only sigwait below takes them */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    motan_loop *loop;
    motan_server *srv;
    int port, sig;
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
    sigwait(&sigs, &sig);
    int rc = motan_server_shutdown(srv, 5000); /* answer what is in flight, 5 s at most */
    motan_server_free(srv);
    motan_loop_free(loop);
    return rc == MOTAN_OK ? 0 : 1;
}
