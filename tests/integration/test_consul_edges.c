/*
 * The consul registry at the edges: the agent's name resolved on the loop and every address
 * tried, no SIGPIPE on a caller's loop when the agent drops a connection, shutdown bounded
 * with the agent hung. SIGPIPE keeps its default action in this suite: it would kill it.
 */
#include <check.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <motan/client.h>

#include "consul_fixture.h"
#include "testutil.h"
#include "tu_dns.h"
#include "tu_loop.h"
#include "tu_proxy.h"
#include "tu_registry.h"

static int64_t ms_since(uint64_t t0) { return (int64_t)((motan_now_us() - t0) / 1000); }

/* Item 2: consul://agent.test: slowly resolved to two addresses, the first refusing. */
START_TEST(agent_name_resolved_on_the_loop)
{
    tu_consul *agent = tu_consul_start();
    ck_assert_ptr_nonnull(agent);
    tu_consul_put(agent, "motanrpc_g1", "127.0.0.1:8002-com.example.EchoService", "127.0.0.1", 8002,
                  (const char *const[]){"protocol_motan2", NULL});
    tu_dns *dns = tu_dns_start();
    tu_dns_add(dns, "agent.test", "127.0.0.3,127.0.0.1", 300);
    tu_env e;
    tu_env_init_builtin(&e);
    tu_dns_use(dns, e.loop);
    char text[256];
    snprintf(text, sizeof(text), "consul://agent.test:%d", tu_consul_port(agent));
    uint64_t t0 = motan_now_us();
    motan_registry *r = tu_registry(e.loop, text);
    ck_assert_int_lt(ms_since(t0), 250); /* the name takes 300 ms: not waited for */
    tu_rec rc;
    tu_rec_init(&rc);
    motan_url *s = tu_url("motan2://127.0.0.1:0/com.example.EchoService?group=g1");
    ck_assert_int_eq(motan_registry_subscribe(r, s, tu_rec_cb, &rc), MOTAN_OK);
    ck_assert(tu_rec_wait_list(&rc, 1, "127.0.0.1:8002", 5000));
    ck_assert_int_ge(ms_since(t0), 250);
    ck_assert_int_ge(tu_dns_queries(dns, "agent.test"), 1);
    motan_registry_unsubscribe(r, s, tu_rec_cb, &rc);
    motan_url_free(s);
    motan_registry_free(r);
    tu_env_free(&e);
    tu_rec_destroy(&rc);
    tu_dns_stop(dns);
    tu_consul_free(agent);
}
END_TEST

/* A fake agent that reads a little of every connection, then resets it (SO_LINGER 0). */
typedef struct rude_agent {
    int lfd, port;
    atomic_int stop;
    pthread_t t;
} rude_agent;

static void *rude_run(void *arg)
{
    rude_agent *a = arg;
    while (!atomic_load(&a->stop)) {
        int c = accept(a->lfd, NULL, NULL);
        if (c < 0)
            continue;
        char b[64];
        (void)!recv(c, b, sizeof(b), 0);
        struct linger lg = {1, 0};
        setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        close(c);
    }
    return NULL;
}

static void rude_start(rude_agent *a)
{
    memset(a, 0, sizeof(*a));
    a->lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in s = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(s);
    ck_assert_int_eq(bind(a->lfd, (struct sockaddr *)&s, sizeof(s)), 0);
    ck_assert_int_eq(listen(a->lfd, 16), 0);
    getsockname(a->lfd, (struct sockaddr *)&s, &sl);
    a->port = ntohs(s.sin_port);
    pthread_create(&a->t, NULL, rude_run, a);
}

/*
 * Item 7 (SIGPIPE): on a caller's loop the application's own thread writes to the agent.
 * Registering a node with a large URL makes that write span several send calls; the agent
 * resets the connection after the first bytes, and the next write hits a reset socket. With
 * libevent's writev that raised SIGPIPE and killed this (child) process.
 */
START_TEST(no_sigpipe_on_a_callers_loop)
{
    ck_assert(signal(SIGPIPE, SIG_DFL) != SIG_ERR);
    rude_agent a;
    rude_start(&a);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        tu_env e;
        tu_env_init(&e);
        char text[256];
        snprintf(text, sizeof(text), "consul://127.0.0.1:%d?ttl=10", a.port);
        motan_registry *r = tu_registry(e.loop, text);
        size_t big = 4u << 20;
        char *u = malloc(big + 128);
        int n = snprintf(u, 128, "motan2://127.0.0.1:8002/com.example.EchoService?group=g1&x=");
        memset(u + n, 'a', big);
        u[n + big] = '\0';
        motan_url *node = NULL;
        if (motan_url_parse(u, strlen(u), &node, NULL, 0) != MOTAN_OK)
            _exit(3);
        motan_registry_register(r, node);
        tu_run_for(&e, 1500); /* the registration is retried with backoff: several writes */
        motan_url_free(node);
        free(u);
        motan_registry_free(r);
        tu_env_free(&e);
        _exit(0);
    }
    int st = 0;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    atomic_store(&a.stop, 1);
    shutdown(a.lfd, SHUT_RDWR);
    close(a.lfd);
    pthread_join(a.t, NULL);
    ck_assert_msg(!WIFSIGNALED(st), "the process died of signal %d", WTERMSIG(st));
    ck_assert_int_eq(WEXITSTATUS(st), 0);
}
END_TEST

/*
 * Item 3: the farewell (deregistering what was published) waited up to requestTimeout on a
 * private event_base, blocking the loop; with the agent hung that was seconds. Now 100 ms
 * at most. A client (which publishes nothing) is freed at once.
 */
START_TEST(free_while_the_agent_hangs)
{
    tu_consul *agent = tu_consul_start();
    ck_assert_ptr_nonnull(agent);
    tu_proxy *px = tu_proxy_start(tu_consul_port(agent));
    tu_env e;
    tu_env_init_builtin(&e);
    char text[256];
    snprintf(text, sizeof(text), "consul://127.0.0.1:%d?ttl=10&requestTimeout=3000",
             tu_proxy_port(px));
    motan_registry *r = tu_registry(e.loop, text);
    motan_url *node = tu_url("motan2://127.0.0.1:8002/com.example.EchoService?group=g1");
    ck_assert_int_eq(motan_registry_register(r, node), MOTAN_OK);
    uint64_t t0 = motan_now_us();
    while (tu_consul_count(agent, "pass") < 1 && ms_since(t0) < 5000)
        usleep(5000);
    ck_assert_int_ge(tu_consul_count(agent, "pass"), 1);
    tu_proxy_freeze(px, 1);
    t0 = motan_now_us();
    motan_registry_free(r);
    int64_t took = ms_since(t0);
    fprintf(stderr, "free_while_the_agent_hangs: motan_registry_free took %lld ms\n",
            (long long)took);
    /* Waiting for the hung query would take its requestTimeout (3 s). */
    ck_assert_msg(took < (tu_slow() ? 1000 : 500), "motan_registry_free took %lld ms",
                  (long long)took);
    motan_url_free(node);
    tu_env_free(&e);

    /* A client on a hung agent: its blocking query is cancelled, nothing to deregister. */
    tu_proxy_freeze(px, 0);
    char url[256], err[256];
    snprintf(url, sizeof(url), "consul://127.0.0.1:%d/com.example.EchoService?group=g1",
             tu_proxy_port(px));
    motan_client *c = NULL;
    ck_assert_msg(motan_client_new(url, &c, err, sizeof(err)) == MOTAN_OK, "%s", err);
    usleep(300000); /* its first query answered, the blocking one in flight */
    tu_proxy_freeze(px, 1);
    t0 = motan_now_us();
    motan_client_free(c);
    took = ms_since(t0);
    ck_assert_msg(took < (tu_slow() ? 1000 : 500), "motan_client_free took %lld ms",
                  (long long)took);
    tu_proxy_stop(px);
    tu_consul_free(agent);
}
END_TEST

static Suite *consul_edges_suite(void)
{
    Suite *s = suite_create("consul_edges");
    TCase *tc = tcase_create("consul_edges");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, agent_name_resolved_on_the_loop);
    tcase_add_test(tc, no_sigpipe_on_a_callers_loop);
    tcase_add_test(tc, free_while_the_agent_hangs);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(consul_edges_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
