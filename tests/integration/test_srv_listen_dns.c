/*
 * motan_server_listen resolves a host name on the calling thread, never on a built-in loop
 * that serves calls meanwhile. This suite defines its own getaddrinfo (the static library's
 * calls bind to it): "slow.test" answers 127.0.0.1 after 600 ms, every other name goes to the
 * C library's. A listener on slow.test opened from the main thread must not hold up the
 * calls a worker thread makes to the same server.
 */
#include <check.h>
#include <dlfcn.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "tu_srv.h"

#define SLOW_MS 600

typedef int (*gai_fn)(const char *, const char *, const struct addrinfo *, struct addrinfo **);

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                struct addrinfo **res)
{
    void *sym = dlsym(RTLD_NEXT, "getaddrinfo");
    gai_fn real; /* ISO C has no object-to-function pointer cast */
    memcpy(&real, &sym, sizeof(real));
    if (node && !strcmp(node, "slow.test")) {
        usleep(SLOW_MS * 1000);
        node = "127.0.0.1";
    }
    return real(node, service, hints, res);
}

typedef struct caller {
    motan_client *c;
    atomic_int stop;
    atomic_int calls, failed;
    atomic_llong worst_us;
} caller;

static void *call_loop(void *arg)
{
    caller *k = arg;
    while (!atomic_load(&k->stop)) {
        motan_request *req = motan_client_request(k->c, "echo");
        motan_response *resp = NULL;
        uint64_t t0 = motan_now_us();
        int rc = motan_client_call(k->c, req, &resp);
        long long us = (long long)(motan_now_us() - t0);
        if (us > atomic_load(&k->worst_us))
            atomic_store(&k->worst_us, us);
        atomic_fetch_add(rc == MOTAN_OK ? &k->calls : &k->failed, 1);
        motan_response_free(resp);
        motan_request_free(req);
    }
    return NULL;
}

START_TEST(listen_on_a_slow_name_leaves_the_loop_serving)
{
    tu_srv t;
    tu_srv_start(&t, 1, NULL);
    ck_assert_int_eq(motan_server_handle(t.s, TU_SVC, "echo", tu_srv_echo, NULL), MOTAN_OK);
    caller k = {.c = tu_srv_client(&t, "requestTimeout=5000")};
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, call_loop, &k), 0);
    while (atomic_load(&k.calls) < 50) /* warm: the connection is up */
        usleep(1000);
    atomic_store(&k.worst_us, 0);

    char err[256];
    int port = 0;
    uint64_t t0 = motan_now_us();
    int rc = motan_server_listen(t.s, "slow.test:0", &port, err, sizeof(err));
    uint64_t took_ms = (motan_now_us() - t0) / 1000;
    ck_assert_msg(rc == MOTAN_OK, "%s", err);
    ck_assert_int_gt(port, 0);
    ck_assert_uint_ge(took_ms, SLOW_MS - 50); /* the name really was slow */
    int during = atomic_load(&k.calls);
    atomic_store(&k.stop, 1);
    pthread_join(th, NULL);
    long long worst_ms = atomic_load(&k.worst_us) / 1000;
    ck_assert_int_eq(atomic_load(&k.failed), 0);
    /* Calls went on while the name resolved: none waited for the look-up. */
    ck_assert_msg(worst_ms < SLOW_MS / 2, "a call waited %lld ms during a %d ms look-up",
                  worst_ms, SLOW_MS);
    ck_assert_int_gt(during, 100);

    /* The new listener serves too. */
    tu_srv t2 = t;
    t2.port = port;
    motan_client *c2 = tu_srv_client(&t2, NULL);
    motan_request *req = motan_client_request(c2, "echo");
    motan_response *resp = NULL;
    ck_assert_int_eq(motan_client_call(c2, req, &resp), MOTAN_OK);
    motan_response_free(resp);
    motan_request_free(req);
    motan_client_free(c2);
    motan_client_free(k.c);
    tu_srv_stop(&t);
}
END_TEST

/* A name that does not resolve fails on the calling thread with the resolver's reason. */
START_TEST(unresolvable_listen_address)
{
    tu_srv t;
    tu_srv_start(&t, 1, NULL);
    char err[256];
    int port = -1;
    ck_assert_int_eq(motan_server_listen(t.s, "no-such-host.invalid:0", &port, err, sizeof(err)),
                     MOTAN_EIO);
    ck_assert_ptr_nonnull(strstr(err, "cannot resolve"));
    ck_assert_int_eq(port, 0);
    tu_srv_stop(&t);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("srv_listen_dns");
    TCase *tc = tcase_create("listen");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, listen_on_a_slow_name_leaves_the_loop_serving);
    tcase_add_test(tc, unresolvable_listen_address);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
