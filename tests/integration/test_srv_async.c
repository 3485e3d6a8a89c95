/*
 * Replies finished later and elsewhere: from worker threads, after the connection went, after
 * the server was freed; the deadline from M_tmo answered with a timeout exception while the
 * late reply is dropped (exactly one answer, nothing leaked); drop and discard.
 */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <motan/motan.h>

#include "testutil.h"
#include "tu_srv.h"

#define TMO 5000

static int slow(void) { return tu_slow() ? 10 : 1; }

/* ---- a queue of replies and worker threads answering them --------------------------------- */

typedef struct work {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    motan_reply *q[4096];
    size_t head, tail;
    int stop;
    int delay_ms;  /* each answer waits this long */
    int mode;      /* 0 echo the argument, 1 drop, 2 discard, 3 hold until released */
    int released;
    pthread_t th[4];
    int nth;
} work;

static work g_work;

static void *worker(void *arg)
{
    work *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (w->head == w->tail && !w->stop)
            pthread_cond_wait(&w->cv, &w->mu);
        if (w->head == w->tail)
            break;
        motan_reply *r = w->q[w->head++ % 4096];
        while (w->mode == 3 && !w->released)
            pthread_cond_wait(&w->cv, &w->mu);
        int mode = w->mode, delay = w->delay_ms;
        pthread_mutex_unlock(&w->mu);
        if (delay)
            usleep((useconds_t)delay * 1000);
        const motan_value *args;
        if (mode == 1) {
            motan_reply_drop(r);
        } else if (mode == 2) {
            motan_reply_discard(r);
        } else if (motan_server_request_args(motan_reply_request(r), &args, NULL, 0) == MOTAN_OK &&
                   motan_value_count(args) == 1) {
            motan_reply_set_meta(r, "X-Worker", 8, "yes", 3);
            motan_reply_send(r, motan_value_at(args, 0));
        } else {
            motan_reply_error(r, 500, 1, "bad", 3);
        }
        pthread_mutex_lock(&w->mu);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

static void work_start(work *w, int nth, int mode, int delay_ms)
{
    memset(w, 0, sizeof(*w));
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    w->mode = mode;
    w->delay_ms = delay_ms;
    w->nth = nth;
    for (int i = 0; i < nth; i++)
        pthread_create(&w->th[i], NULL, worker, w);
}

static void work_release(work *w)
{
    pthread_mutex_lock(&w->mu);
    w->released = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static void work_stop(work *w)
{
    pthread_mutex_lock(&w->mu);
    w->stop = 1;
    w->released = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    for (int i = 0; i < w->nth; i++)
        pthread_join(w->th[i], NULL);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
}

static size_t work_queued(work *w)
{
    pthread_mutex_lock(&w->mu);
    size_t n = w->tail;
    pthread_mutex_unlock(&w->mu);
    return n;
}

/* The handler: the reply goes to a worker (loop thread -> worker thread). */
static void h_async(const motan_server_request *req, motan_reply *reply, void *ud)
{
    work *w = ud;
    (void)req;
    pthread_mutex_lock(&w->mu);
    w->q[w->tail++ % 4096] = reply;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static void free_resp(motan_response *resp, void *ud)
{
    (void)ud;
    motan_response_free(resp);
}

/* ---- tests --------------------------------------------------------------------------------- */

typedef struct caller {
    motan_client *c;
    int n, ok;
    int64_t base;
} caller;

static void *call_many(void *arg)
{
    caller *k = arg;
    for (int i = 0; i < k->n; i++) {
        motan_request *r = motan_client_request(k->c, "echo");
        motan_request_add_arg(r, motan_value_new_int64(motan_request_arena(r), k->base + i));
        motan_response *resp;
        if (motan_client_call(k->c, r, &resp) == MOTAN_OK &&
            motan_value_get_int(motan_response_get_value(resp)) == k->base + i &&
            !strcmp(motan_response_get_meta(resp, "X-Worker"), "yes"))
            k->ok++;
        motan_response_free(resp);
        motan_request_free(r);
    }
    return NULL;
}

START_TEST(answers_from_worker_threads)
{
    int builtin = _i;
    tu_srv t;
    tu_srv_start(&t, builtin, NULL);
    work_start(&g_work, 4, 0, 0);
    ck_assert_int_eq(motan_server_handle(t.s, TU_SVC, "echo", h_async, &g_work), MOTAN_OK);
    if (builtin) {
        /* Eight callers at once, every answer built on one of four workers. */
        caller k[8];
        pthread_t th[8];
        motan_client *c = tu_srv_client(&t, "requestTimeout=5000");
        int per = 300 / slow();
        for (int i = 0; i < 8; i++) {
            k[i] = (caller){c, per, 0, (int64_t)i * 100000};
            pthread_create(&th[i], NULL, call_many, &k[i]);
        }
        for (int i = 0; i < 8; i++) {
            pthread_join(th[i], NULL);
            ck_assert_int_eq(k[i].ok, per);
        }
        motan_client_free(c);
    } else {
        /* The test's own event_base: workers still answer, through the server's inbox. */
        motan_endpoint *ep = tu_srv_endpoint(&t);
        motan_request *r = motan_request_new("echo");
        motan_request_set_service(r, TU_SVC);
        motan_request_add_arg(r, motan_value_new_int64(motan_request_arena(r), 7));
        int done = 0;
        for (int i = 0; i < 500; i++)
            motan_endpoint_call(ep, r, 5000, free_resp,
                                NULL, NULL);
        while (motan_endpoint_stat(ep, "ok") < 500 && done++ < 2000)
            tu_run_once(&t.e);
        ck_assert_uint_eq(motan_endpoint_stat(ep, "ok"), 500);
        motan_endpoint_free(ep);
        motan_request_free(r);
    }
    work_stop(&g_work);
    ck_assert_uint_eq(motan_server_stat(t.s, "open_replies"), 0);
    tu_srv_stop(&t);
}
END_TEST

START_TEST(deadline_from_m_tmo)
{
    tu_srv t;
    tu_srv_start(&t, 1, NULL);
    work_start(&g_work, 1, 3, 0); /* held until released */
    ck_assert_int_eq(motan_server_handle(t.s, TU_SVC, "echo", h_async, &g_work), MOTAN_OK);
    tu_wire w;
    ck_assert_int_eq(tu_wire_open(&w, t.port), 0);
    const char *meta[] = {"M_tmo", "200", NULL};
    uint64_t t0 = motan_now_us();
    ck_assert_int_eq(tu_wire_request(&w, 1, MOTAN_SER_SIMPLE, TU_SVC, "echo", meta,
                                     "\x01\x00\x00\x00\x01z", 6), 0);
    /* Answered at the deadline with a timeout exception (spec §3.3 form). */
    ck_assert_int_eq(tu_wire_frame(&w, TMO * slow()), MOTAN_OK);
    uint64_t took = (motan_now_us() - t0) / 1000;
    ck_assert_uint_ge(took, 195);
    ck_assert_uint_eq(motan_frame_get_request_id(w.f), 1);
    ck_assert_int_eq(motan_frame_get_status(w.f), 1);
    motan_response *resp = motan_response_new();
    motan_response_set_frame(resp, w.f);
    ck_assert_int_eq(motan_response_get_errcode(resp), 10003);
    ck_assert_int_eq(motan_response_get_errtype(resp), 1);
    ck_assert_msg(strstr(motan_response_get_errmsg(resp), "200 ms (deadline from M_tmo)"), "%s",
                  motan_response_get_errmsg(resp));
    motan_response_free(resp);
    ck_assert_uint_eq(motan_server_stat(t.s, "timeouts"), 1);
    /* The late answer is dropped: nothing more comes, the connection still serves. */
    work_release(&g_work);
    ck_assert_int_eq(tu_wire_frame(&w, 300), TU_WIRE_TIMEOUT);
    work_stop(&g_work);
    ck_assert_uint_eq(motan_server_stat(t.s, "open_replies"), 0);
    tu_wire_close(&w);
    tu_srv_stop(&t);
}
END_TEST

/* Records the deadline it saw; answers after ud ms on this (the loop) thread via a timer-less wait. */
static int64_t g_remaining;

static void h_remaining(const motan_server_request *req, motan_reply *reply, void *ud)
{
    (void)req;
    (void)ud;
    g_remaining = motan_reply_remaining_ms(reply);
    motan_reply_send(reply, motan_value_new_int64(motan_reply_arena(reply), g_remaining));
}

START_TEST(remaining_and_server_timeouts)
{
    const char *params[] = {"requestTimeout", "700", NULL};
    tu_srv t;
    tu_srv_start(&t, 1, params);
    ck_assert_int_eq(motan_server_handle(t.s, TU_SVC, "left", h_remaining, NULL), MOTAN_OK);
    motan_client *c = tu_srv_client(&t, "requestTimeout=3000");
    motan_request *r = motan_client_request(c, "left");
    motan_response *resp;
    /* The client sends its timeout as M_tmo: the handler sees about that much left. */
    ck_assert_int_eq(motan_client_call(c, r, &resp), MOTAN_OK);
    int64_t left = motan_value_get_int(motan_response_get_value(resp));
    ck_assert_msg(left > 2000 && left <= 3000, "%lld", (long long)left);
    motan_response_free(resp);
    motan_request_free(r);
    motan_client_free(c);
    /* Without M_tmo, requestTimeout is the deadline. */
    tu_wire w;
    ck_assert_int_eq(tu_wire_open(&w, t.port), 0);
    ck_assert_int_eq(tu_wire_request(&w, 1, MOTAN_SER_SIMPLE, TU_SVC, "left", NULL, NULL, 0), 0);
    ck_assert_int_eq(tu_wire_frame(&w, TMO), MOTAN_OK);
    resp = motan_response_new();
    motan_response_set_frame(resp, w.f);
    left = motan_value_get_int(motan_response_get_value(resp));
    ck_assert_msg(left > 500 && left <= 700, "%lld", (long long)left);
    motan_response_free(resp);
    /* clientDeadline=false: M_tmo is ignored (requestTimeout still applies). */
    char err[256];
    ck_assert_int_eq(motan_server_set(t.s, NULL, "clientDeadline", "false", err, sizeof(err)), MOTAN_OK);
    ck_assert_int_eq(motan_server_set(t.s, NULL, "requestTimeout", "0", err, sizeof(err)), MOTAN_OK);
    const char *meta[] = {"M_tmo", "50", NULL};
    ck_assert_int_eq(tu_wire_request(&w, 2, MOTAN_SER_SIMPLE, TU_SVC, "left", meta, NULL, 0), 0);
    ck_assert_int_eq(tu_wire_frame(&w, TMO), MOTAN_OK);
    resp = motan_response_new();
    motan_response_set_frame(resp, w.f);
    ck_assert_int_eq(motan_value_get_int(motan_response_get_value(resp)), -1);
    motan_response_free(resp);
    tu_wire_close(&w);
    tu_srv_stop(&t);
}
END_TEST

START_TEST(drop_and_discard)
{
    tu_srv t;
    tu_srv_start(&t, 1, NULL);
    work_start(&g_work, 1, 1, 0);
    ck_assert_int_eq(motan_server_handle(t.s, TU_SVC, "echo", h_async, &g_work), MOTAN_OK);
    motan_client *c = tu_srv_client(&t, "requestTimeout=2000");
    motan_request *r = motan_client_request(c, "echo");
    motan_response *resp;
    ck_assert_int_eq(motan_client_call(c, r, &resp), MOTAN_EREMOTE);
    ck_assert_int_eq(motan_response_get_errcode(resp), 500);
    ck_assert_str_eq(motan_response_get_errmsg(resp), "request dropped by the handler");
    motan_response_free(resp);
    work_stop(&g_work);
    /* Discarded: no answer at all, the caller times out (its M_tmo is not answered either). */
    work_start(&g_work, 1, 2, 0);
    ck_assert_int_eq(motan_server_handle(t.s, TU_SVC, "echo", h_async, &g_work), MOTAN_OK);
    motan_request_set_timeout(r, 300);
    ck_assert_int_eq(motan_client_call(c, r, &resp), MOTAN_ETIMEOUT);
    motan_response_free(resp);
    work_stop(&g_work);
    motan_request_free(r);
    motan_client_free(c);
    ck_assert_uint_eq(motan_server_stat(t.s, "open_replies"), 0);
    ck_assert_uint_eq(motan_server_stat(t.s, "timeouts"), 0);
    tu_srv_stop(&t);
}
END_TEST

START_TEST(replies_outlive_connection_and_server)
{
    tu_srv t;
    tu_srv_start(&t, 1, NULL);
    work_start(&g_work, 2, 3, 0); /* held until released */
    ck_assert_int_eq(motan_server_handle(t.s, TU_SVC, "echo", h_async, &g_work), MOTAN_OK);
    tu_wire w;
    ck_assert_int_eq(tu_wire_open(&w, t.port), 0);
    for (uint64_t i = 1; i <= 20; i++)
        ck_assert_int_eq(tu_wire_request(&w, i, MOTAN_SER_SIMPLE, TU_SVC, "echo", NULL,
                                         "\x01\x00\x00\x00\x01z", 6), 0);
    uint64_t t0 = motan_now_us();
    while (work_queued(&g_work) < 20 && motan_now_us() - t0 < (uint64_t)TMO * 1000)
        usleep(1000);
    ck_assert_uint_eq(work_queued(&g_work), 20);
    ck_assert_uint_eq(motan_server_stat(t.s, "open_replies"), 20);
    /* The client goes: the replies are owed to nobody now. */
    tu_wire_close(&w);
    ck_assert(tu_srv_wait_stat(&t, "connections", 0, 1, TMO));
    ck_assert_uint_eq(motan_server_stat(t.s, "open_replies"), 0);
    /* Ten are finished now (with the server alive), the rest after it is freed. */
    ck_assert_int_eq(tu_wire_open(&w, t.port), 0);
    for (uint64_t i = 21; i <= 30; i++)
        ck_assert_int_eq(tu_wire_request(&w, i, MOTAN_SER_SIMPLE, TU_SVC, "echo", NULL,
                                         "\x01\x00\x00\x00\x01z", 6), 0);
    t0 = motan_now_us();
    while (work_queued(&g_work) < 30 && motan_now_us() - t0 < (uint64_t)TMO * 1000)
        usleep(1000);
    motan_server_free(t.s); /* 30 replies still with the workers */
    t.s = NULL;
    work_release(&g_work);
    work_stop(&g_work); /* they finish into nothing; ASan/valgrind: nothing leaks */
    tu_wire_close(&w);
    tu_srv_stop(&t);
}
END_TEST

/* Frees the server from inside its own handler. */
static void h_free_self(const motan_server_request *req, motan_reply *reply, void *ud)
{
    (void)req;
    motan_reply_send(reply, motan_value_new_null(motan_reply_arena(reply)));
    motan_server_free(*(motan_server **)ud);
    *(motan_server **)ud = NULL;
}

START_TEST(free_inside_a_handler)
{
    tu_srv t;
    tu_srv_start(&t, 0, NULL);
    static motan_server *self;
    self = t.s;
    ck_assert_int_eq(motan_server_handle(t.s, TU_SVC, "bye", h_free_self, &self), MOTAN_OK);
    motan_endpoint *ep = tu_srv_endpoint(&t);
    motan_request *r = motan_request_new("bye");
    motan_request_set_service(r, TU_SVC);
    for (int i = 0; i < 3; i++) /* three in one batch: the free waits for the handler's end */
        motan_endpoint_call(ep, r, 1000, free_resp, NULL, NULL);
    uint64_t t0 = motan_now_us();
    while (self && motan_now_us() - t0 < (uint64_t)TMO * 1000)
        tu_run_once(&t.e);
    ck_assert_ptr_null(self);
    tu_run_for(&t.e, 50);
    motan_endpoint_free(ep);
    motan_request_free(r);
    t.s = NULL;
    tu_srv_stop(&t);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("test_srv_async");
    TCase *t = tcase_create("async");
    tcase_set_timeout(t, 60 * slow());
    tcase_add_loop_test(t, answers_from_worker_threads, 0, 2);
    tcase_add_test(t, deadline_from_m_tmo);
    tcase_add_test(t, remaining_and_server_timeouts);
    tcase_add_test(t, drop_and_discard);
    tcase_add_test(t, replies_outlive_connection_and_server);
    tcase_add_test(t, free_inside_a_handler);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *r = srunner_create(suite());
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? 1 : 0;
}
