/* com.example.EchoService: echo, add, sleep, fail, big, name, meta. */
#include <stdio.h>
#include <string.h>

#include "srv.h"

#define BIG_MAX (256u * 1024 * 1024)
#define SLEEP_MAX 86400000 /* a day */

typedef void (*method_fn)(srv_server *s, motan_arena *a, const motan_value *args, size_t n,
                          srv_call *call);

static void bad_args(srv_call *call, const char *method, const char *why)
{
    call->errcode = 500;
    call->errtype = 1;
    snprintf(call->errbuf, sizeof(call->errbuf), "bad arguments for %s: %s", method, why);
    call->errmsg = call->errbuf;
    call->errmsg_len = strlen(call->errbuf);
}

static int is_int(const motan_value *v)
{
    motan_type t = motan_value_type(v);
    return t == MOTAN_T_BYTE || t == MOTAN_T_INT16 || t == MOTAN_T_INT32 || t == MOTAN_T_INT64;
}

/* The result value, or a 500 "out of memory" answer. */
static void result(srv_call *call, const motan_value *v)
{
    call->result = v;
    if (!v) {
        call->errcode = 500;
        call->errtype = 1;
        call->errmsg = "server out of memory";
        call->errmsg_len = strlen(call->errmsg);
    }
}

static void m_echo(srv_server *s, motan_arena *a, const motan_value *args, size_t n,
                   srv_call *call)
{
    (void)s;
    if (n > 1) {
        bad_args(call, "echo", "expected 0 or 1 argument");
        return;
    }
    result(call, n ? motan_value_at(args, 0) : motan_value_new_null(a));
}

static void m_add(srv_server *s, motan_arena *a, const motan_value *args, size_t n,
                  srv_call *call)
{
    (void)s;
    if (n != 2 || !is_int(motan_value_at(args, 0)) || !is_int(motan_value_at(args, 1))) {
        bad_args(call, "add", "expected two integers");
        return;
    }
    uint64_t x = (uint64_t)motan_value_get_int(motan_value_at(args, 0));
    uint64_t y = (uint64_t)motan_value_get_int(motan_value_at(args, 1));
    result(call, motan_value_new_int64(a, (int64_t)(x + y))); /* wraps, no UB */
}

static void m_sleep(srv_server *s, motan_arena *a, const motan_value *args, size_t n,
                    srv_call *call)
{
    (void)s;
    int64_t ms = n == 1 && is_int(motan_value_at(args, 0))
                     ? motan_value_get_int(motan_value_at(args, 0))
                     : -1;
    if (ms < 0 || ms > SLEEP_MAX) {
        bad_args(call, "sleep", "expected one integer 0..86400000 (ms)");
        return;
    }
    call->delay_ms = (uint32_t)ms;
    result(call, motan_value_new_int64(a, ms));
}

static void m_fail(srv_server *s, motan_arena *a, const motan_value *args, size_t n,
                   srv_call *call)
{
    (void)s;
    (void)a;
    size_t len = 0;
    const char *msg = n == 1 ? motan_value_get_data(motan_value_at(args, 0), &len) : NULL;
    if (!msg) {
        bad_args(call, "fail", "expected one string");
        return;
    }
    call->errcode = 30001;
    call->errtype = 2;
    call->errmsg = msg;
    call->errmsg_len = len;
}

static void m_big(srv_server *s, motan_arena *a, const motan_value *args, size_t n,
                  srv_call *call)
{
    (void)s;
    int64_t size = n == 1 && is_int(motan_value_at(args, 0))
                       ? motan_value_get_int(motan_value_at(args, 0))
                       : -1;
    if (size < 0 || size > (int64_t)BIG_MAX) {
        bad_args(call, "big", "expected one integer 0..268435456");
        return;
    }
    uint8_t *p = size ? motan_arena_alloc(a, (size_t)size) : NULL;
    if (size && !p) {
        result(call, NULL);
        return;
    }
    for (int64_t i = 0; i < size; i++)
        p[i] = (uint8_t)i;
    result(call, motan_value_new_bytes(a, p, (size_t)size));
}

static void m_name(srv_server *s, motan_arena *a, const motan_value *args, size_t n,
                   srv_call *call)
{
    (void)args;
    if (n) {
        bad_args(call, "name", "expected no argument");
        return;
    }
    result(call, motan_value_new_string(a, s->name, s->name_len));
}

/*
 * meta(key): the request's metadata entry `key` as a string, null when absent (what a client
 * sent); meta(): all of it as a string map (later duplicates win), e.g. to see a traceparent.
 */
static void m_meta(srv_server *s, motan_arena *a, const motan_value *args, size_t n,
                   srv_call *call)
{
    (void)s;
    if (n == 0) {
        motan_value *m = motan_value_new_container(a, MOTAN_T_STRING_MAP);
        for (size_t i = 0; m && i < motan_server_request_meta_count(call->req); i++) {
            size_t kl, vl;
            const char *k = motan_server_request_meta_key(call->req, i, &kl);
            const char *v = motan_server_request_meta_value(call->req, i, &vl);
            motan_value *kv = motan_value_new_string(a, k, kl);
            motan_value *vv = motan_value_new_string(a, v, vl);
            if (!kv || !vv || motan_value_map_put(m, kv, vv) != MOTAN_OK)
                m = NULL;
        }
        result(call, m);
        return;
    }
    size_t vlen = 0;
    /* Strings decoded into an arena are NUL-terminated: the key is a C string. */
    const char *key = n == 1 ? motan_value_get_data(motan_value_at(args, 0), NULL) : NULL;
    if (!key) {
        bad_args(call, "meta", "expected one string or nothing");
        return;
    }
    const char *v = motan_server_request_meta(call->req, key, &vlen);
    result(call, v ? motan_value_new_string(a, v, vlen) : motan_value_new_null(a));
}

static const struct {
    const char *name;
    method_fn fn;
} methods[] = {
    {"echo", m_echo}, {"add", m_add}, {"sleep", m_sleep}, {"fail", m_fail},
    {"big", m_big},   {"name", m_name}, {"meta", m_meta},
};

/* Go servers capitalise the first letter of M_m: "echo" and "Echo" are the same method. */
static method_fn find(const char *m, size_t len)
{
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        const char *name = methods[i].name;
        if (len == strlen(name) && len && (m[0] == name[0] || m[0] == name[0] - 'a' + 'A') &&
            !memcmp(m + 1, name + 1, len - 1))
            return methods[i].fn;
    }
    return NULL;
}

int srv_method_exists(const char *m, size_t len) { return find(m, len) != NULL; }

void srv_method_call(srv_server *s, motan_arena *a, const char *m, size_t len,
                     const motan_value *args, srv_call *call)
{
    method_fn fn = find(m, len);
    size_t n = motan_value_count(args);
    if (fn)
        fn(s, a, args, n, call);
}
