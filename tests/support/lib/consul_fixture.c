/*
 * A Consul agent stand-in (consul_fixture.h). One mutex guards the state; the fixture thread
 * holds it while it serves a request, the test's thread while it changes something and then
 * wakes the fixture thread (an eventfd) so that blocked queries see the change. Stop and
 * restart are commands the fixture thread carries out while the caller waits.
 */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "consul_fixture.h"

#define MAX_WAIT_MS 600000
#define DEFAULT_WAIT_MS 300000

typedef struct inst {
    char *id;
    char *address;
    int port;
    char **tags;
    size_t ntags;
    int passing;
    struct inst *next;
} inst;

typedef struct svc {
    char *name;
    uint64_t index;
    inst *insts;
    struct svc *next;
} svc;

typedef struct parked {
    struct tu_consul *c;
    struct evhttp_request *req;
    char *service;
    uint64_t index;
    int passing;
    char *tag;
    struct event *timer;
    struct parked *next;
} parked;

enum { CMD_NONE, CMD_STOP, CMD_RESTART, CMD_EXIT };

struct tu_consul {
    pthread_t thread;
    struct event_base *base;
    struct evhttp *http;
    int port;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int wake_fd;
    struct event *wake_ev;
    int cmd;
    int cmd_rc;
    unsigned cmd_seq, done_seq;
    uint64_t gindex;
    svc *svcs;
    parked *parked;
    int fail_next, bad_next;
    int n_health, n_blocking, n_register, n_dereg, n_pass, n_parked;
};

/* ---- state (called with mu held) ----------------------------------------------------- */

static svc *find_svc(tu_consul *c, const char *name, int create)
{
    for (svc *s = c->svcs; s; s = s->next)
        if (!strcmp(s->name, name))
            return s;
    if (!create)
        return NULL;
    svc *s = calloc(1, sizeof(*s));
    s->name = strdup(name);
    s->index = 1;
    s->next = c->svcs;
    c->svcs = s;
    return s;
}

static inst *find_inst(svc *s, const char *id)
{
    for (inst *i = s ? s->insts : NULL; i; i = i->next)
        if (!strcmp(i->id, id))
            return i;
    return NULL;
}

static void inst_free(inst *i)
{
    for (size_t k = 0; k < i->ntags; k++)
        free(i->tags[k]);
    free(i->tags);
    free(i->id);
    free(i->address);
    free(i);
}

static void bump(tu_consul *c, svc *s) { s->index = ++c->gindex; }

/* Adds or replaces (in place, keeping the order) instance id. */
static void put_inst(tu_consul *c, const char *service, const char *id, const char *address,
                     int port, const char *const *tags, size_t ntags, int passing)
{
    svc *s = find_svc(c, service, 1);
    inst *i = find_inst(s, id);
    if (!i) {
        i = calloc(1, sizeof(*i));
        i->id = strdup(id);
        inst **tail = &s->insts;
        while (*tail)
            tail = &(*tail)->next;
        *tail = i;
    } else {
        for (size_t k = 0; k < i->ntags; k++)
            free(i->tags[k]);
        free(i->tags);
        free(i->address);
    }
    i->address = strdup(address ? address : "");
    i->port = port;
    i->ntags = ntags;
    i->tags = calloc(ntags ? ntags : 1, sizeof(char *));
    for (size_t k = 0; k < ntags; k++)
        i->tags[k] = strdup(tags[k]);
    i->passing = passing;
    bump(c, s);
}

static int remove_inst(tu_consul *c, svc *s, const char *id)
{
    for (inst **p = s ? &s->insts : NULL; p && *p; p = &(*p)->next) {
        if (!strcmp((*p)->id, id)) {
            inst *i = *p;
            *p = i->next;
            inst_free(i);
            bump(c, s);
            return 0;
        }
    }
    return -1;
}

/* The service holding instance id, or NULL. */
static svc *svc_of(tu_consul *c, const char *id)
{
    for (svc *s = c->svcs; s; s = s->next)
        if (find_inst(s, id))
            return s;
    return NULL;
}

/* ---- answers ------------------------------------------------------------------------- */

static void reply(struct evhttp_request *req, int code, const char *reason, const char *body,
                  uint64_t index)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    if (index) {
        char v[32];
        snprintf(v, sizeof(v), "%llu", (unsigned long long)index);
        evhttp_add_header(h, "X-Consul-Index", v);
        evhttp_add_header(h, "X-Consul-KnownLeader", "true");
    }
    evhttp_add_header(h, "Content-Type", code == 200 ? "application/json" : "text/plain");
    struct evbuffer *b = evbuffer_new();
    evbuffer_add(b, body, strlen(body));
    evhttp_send_reply(req, code, reason, b);
    evbuffer_free(b);
}

static int has_tag(const inst *i, const char *tag)
{
    for (size_t k = 0; k < i->ntags; k++)
        if (!strcmp(i->tags[k], tag))
            return 1;
    return 0;
}

/* The health endpoint's answer for service now. */
static void answer_health(tu_consul *c, struct evhttp_request *req, const char *service,
                          int passing, const char *tag)
{
    svc *s = find_svc(c, service, 0);
    json_t *arr = json_array();
    for (inst *i = s ? s->insts : NULL; i; i = i->next) {
        if ((passing && !i->passing) || (tag && !has_tag(i, tag)))
            continue;
        json_t *tags = json_array();
        for (size_t k = 0; k < i->ntags; k++)
            json_array_append_new(tags, json_string(i->tags[k]));
        char check_id[512];
        snprintf(check_id, sizeof(check_id), "service:%s", i->id);
        json_t *e = json_pack(
            "{s:{s:s, s:s, s:s}, s:{s:s, s:s, s:o, s:s, s:i, s:{}}, s:[{s:s, s:s, s:s, s:s}]}",
            "Node", "Node", "fixture-node", "Address", "127.0.0.1", "Datacenter", "dc1", "Service",
            "ID", i->id, "Service", service, "Tags", tags, "Address", i->address, "Port", i->port,
            "Meta", "Checks", "Node", "fixture-node", "CheckID", check_id, "ServiceID", i->id,
            "Status", i->passing ? "passing" : "critical");
        json_array_append_new(arr, e);
    }
    char *text = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    reply(req, 200, "OK", text, s ? s->index : 1);
    free(text);
}

static void parked_free(parked *p)
{
    if (p->timer)
        event_free(p->timer);
    free(p->service);
    free(p->tag);
    free(p);
}

static void unpark(tu_consul *c, parked *p)
{
    for (parked **q = &c->parked; *q; q = &(*q)->next) {
        if (*q == p) {
            *q = p->next;
            break;
        }
    }
    c->n_parked--;
}

static void wait_expired(evutil_socket_t fd, short what, void *arg)
{
    parked *p = arg;
    tu_consul *c = p->c;
    (void)fd;
    (void)what;
    pthread_mutex_lock(&c->mu);
    unpark(c, p);
    answer_health(c, p->req, p->service, p->passing, p->tag);
    parked_free(p);
    pthread_mutex_unlock(&c->mu);
}

/* Answers every blocked query whose service's index moved. */
static void release_parked(tu_consul *c)
{
    parked **q = &c->parked;
    while (*q) {
        parked *p = *q;
        svc *s = find_svc(c, p->service, 0);
        uint64_t now = s ? s->index : 1;
        if (now == p->index) {
            q = &p->next;
            continue;
        }
        *q = p->next;
        c->n_parked--;
        answer_health(c, p->req, p->service, p->passing, p->tag);
        parked_free(p);
    }
}

/* ---- requests ------------------------------------------------------------------------ */

/* "10s", "500ms", "1m", "7" (seconds) -> ms; -1 when bad. */
static long parse_wait(const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || v < 0)
        return -1;
    if (!strcmp(end, "ms"))
        return v;
    if (!*end || !strcmp(end, "s"))
        return v * 1000;
    if (!strcmp(end, "m"))
        return v * 60000;
    return -1;
}

static void on_health(tu_consul *c, struct evhttp_request *req, const char *service,
                      const char *query)
{
    int passing = 0;
    char *tag = NULL;
    uint64_t index = 0;
    long wait_ms = DEFAULT_WAIT_MS;
    /* By hand: evhttp_parse_query_str refuses Consul's bare "passing". */
    char *q = strdup(query ? query : ""), *save = NULL;
    for (char *kv = strtok_r(q, "&", &save); kv; kv = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(kv, '=');
        char *val = eq ? evhttp_uridecode(eq + 1, 1, NULL) : strdup("");
        if (eq)
            *eq = '\0';
        if (!strcmp(kv, "passing"))
            passing = !*val || !strcmp(val, "true") || !strcmp(val, "1");
        else if (!strcmp(kv, "tag")) {
            free(tag);
            tag = strdup(val);
        } else if (!strcmp(kv, "index"))
            index = strtoull(val, NULL, 10);
        else if (!strcmp(kv, "wait"))
            wait_ms = parse_wait(val);
        free(val);
    }
    free(q);
    c->n_health++;
    if (index)
        c->n_blocking++;
    if (wait_ms < 0) {
        reply(req, 400, "Bad Request", "Invalid wait time", 0);
    } else if (c->fail_next > 0) {
        c->fail_next--;
        reply(req, 500, "Internal Server Error", "rpc error making call: No cluster leader", 0);
    } else if (c->bad_next > 0) {
        svc *s = find_svc(c, service, 0);
        c->bad_next--;
        reply(req, 200, "OK", "[{\"Node\":{\"Node\":\"fixture-node\",\"Addr", s ? s->index : 1);
    } else {
        svc *s = find_svc(c, service, 0);
        uint64_t now = s ? s->index : 1;
        if (!index || index != now) {
            answer_health(c, req, service, passing, tag);
        } else {
            parked *p = calloc(1, sizeof(*p));
            p->c = c;
            p->req = req;
            p->service = strdup(service);
            p->index = index;
            p->passing = passing;
            p->tag = tag;
            tag = NULL;
            if (wait_ms > MAX_WAIT_MS)
                wait_ms = MAX_WAIT_MS;
            p->timer = evtimer_new(c->base, wait_expired, p);
            struct timeval tv = {wait_ms / 1000, (wait_ms % 1000) * 1000};
            evtimer_add(p->timer, &tv);
            p->next = c->parked;
            c->parked = p;
            c->n_parked++;
        }
    }
    free(tag);
}

static char *body_of(struct evhttp_request *req)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t n = evbuffer_get_length(in);
    char *s = malloc(n + 1);
    evbuffer_copyout(in, s, n);
    s[n] = '\0';
    return s;
}

static void on_register(tu_consul *c, struct evhttp_request *req)
{
    char *text = body_of(req);
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    free(text);
    const char *name = json_string_value(json_object_get(j, "Name"));
    const char *id = json_string_value(json_object_get(j, "ID"));
    json_t *tags = json_object_get(j, "Tags");
    if (!name || !*name) {
        reply(req, 400, "Bad Request", "Missing service name", 0);
        json_decref(j);
        return;
    }
    size_t nt = json_array_size(tags);
    const char **tv = calloc(nt ? nt : 1, sizeof(char *));
    for (size_t k = 0; k < nt; k++) {
        tv[k] = json_string_value(json_array_get(tags, k));
        if (!tv[k])
            tv[k] = "";
    }
    /* A TTL check starts critical until its first pass, as in Consul. */
    int ttl = json_object_get(json_object_get(j, "Check"), "TTL") != NULL;
    svc *old = svc_of(c, id && *id ? id : name);
    if (old && strcmp(old->name, name))
        remove_inst(c, old, id && *id ? id : name);
    put_inst(c, name, id && *id ? id : name, json_string_value(json_object_get(j, "Address")),
             (int)json_integer_value(json_object_get(j, "Port")), tv, nt, !ttl);
    free(tv);
    json_decref(j);
    c->n_register++;
    reply(req, 200, "OK", "", 0);
}

static void handle(struct evhttp_request *req, void *arg)
{
    tu_consul *c = arg;
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *raw = uri ? evhttp_uri_get_path(uri) : NULL;
    char *path = raw ? evhttp_uridecode(raw, 0, NULL) : strdup("");
    enum evhttp_cmd_type m = evhttp_request_get_command(req);
    static const char health[] = "/v1/health/service/", dereg[] = "/v1/agent/service/deregister/",
                      pass[] = "/v1/agent/check/pass/service:";
    pthread_mutex_lock(&c->mu);
    if (!strncmp(path, health, sizeof(health) - 1) && path[sizeof(health) - 1]) {
        if (m == EVHTTP_REQ_GET)
            on_health(c, req, path + sizeof(health) - 1, evhttp_uri_get_query(uri));
        else
            reply(req, 405, "Method Not Allowed", "method not allowed", 0);
    } else if (!strcmp(path, "/v1/agent/service/register")) {
        if (m == EVHTTP_REQ_PUT)
            on_register(c, req);
        else
            reply(req, 405, "Method Not Allowed", "method not allowed", 0);
    } else if (!strncmp(path, dereg, sizeof(dereg) - 1) && m == EVHTTP_REQ_PUT) {
        const char *id = path + sizeof(dereg) - 1;
        c->n_dereg++;
        if (remove_inst(c, svc_of(c, id), id) == 0)
            reply(req, 200, "OK", "", 0);
        else
            reply(req, 404, "Not Found", "Unknown service ID", 0);
    } else if (!strncmp(path, pass, sizeof(pass) - 1) && m == EVHTTP_REQ_PUT) {
        const char *id = path + sizeof(pass) - 1;
        svc *s = svc_of(c, id);
        inst *i = find_inst(s, id);
        c->n_pass++;
        if (i) {
            if (!i->passing) {
                i->passing = 1;
                bump(c, s);
            }
            reply(req, 200, "OK", "", 0);
        } else {
            reply(req, 500, "Internal Server Error", "CheckID does not have associated TTL", 0);
        }
    } else {
        reply(req, 404, "Not Found", "not found", 0);
    }
    release_parked(c);
    pthread_mutex_unlock(&c->mu);
    free(path);
}

/* ---- the fixture thread ------------------------------------------------------------- */

static int listen_on(tu_consul *c)
{
    c->http = evhttp_new(c->base);
    if (!c->http)
        return -1;
    evhttp_set_gencb(c->http, handle, c);
    evhttp_set_allowed_methods(c->http, EVHTTP_REQ_GET | EVHTTP_REQ_PUT);
    struct evhttp_bound_socket *bs =
        evhttp_bind_socket_with_handle(c->http, "127.0.0.1", (ev_uint16_t)c->port);
    if (!bs) {
        evhttp_free(c->http);
        c->http = NULL;
        return -1;
    }
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);
    if (getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&sa, &sl) == 0)
        c->port = ntohs(sa.sin_port);
    return 0;
}

/* Drops blocked queries unanswered, then the listener and every connection. */
static void stop_listening(tu_consul *c)
{
    while (c->parked) {
        parked *p = c->parked;
        c->parked = p->next;
        parked_free(p);
    }
    c->n_parked = 0;
    if (c->http)
        evhttp_free(c->http);
    c->http = NULL;
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
    tu_consul *c = arg;
    uint64_t v;
    (void)what;
    (void)!read(fd, &v, sizeof(v));
    pthread_mutex_lock(&c->mu);
    if (c->cmd != CMD_NONE) {
        int cmd = c->cmd;
        c->cmd = CMD_NONE;
        c->cmd_rc = 0;
        if (cmd == CMD_STOP || cmd == CMD_EXIT)
            stop_listening(c);
        if (cmd == CMD_RESTART && !c->http)
            c->cmd_rc = listen_on(c);
        if (cmd == CMD_EXIT)
            event_base_loopbreak(c->base);
        c->done_seq = c->cmd_seq;
        pthread_cond_broadcast(&c->cv);
    }
    release_parked(c);
    pthread_mutex_unlock(&c->mu);
}

static void *thread_main(void *arg)
{
    tu_consul *c = arg;
    event_base_loop(c->base, EVLOOP_NO_EXIT_ON_EMPTY);
    return NULL;
}

static void wake(tu_consul *c)
{
    uint64_t one = 1;
    (void)!write(c->wake_fd, &one, sizeof(one));
}

/* Runs cmd on the fixture thread and waits for it. */
static int run_cmd(tu_consul *c, int cmd)
{
    pthread_mutex_lock(&c->mu);
    c->cmd = cmd;
    unsigned seq = ++c->cmd_seq;
    pthread_mutex_unlock(&c->mu);
    wake(c);
    pthread_mutex_lock(&c->mu);
    while (c->done_seq != seq)
        pthread_cond_wait(&c->cv, &c->mu);
    int rc = c->cmd_rc;
    pthread_mutex_unlock(&c->mu);
    return rc;
}

tu_consul *tu_consul_start(void)
{
    /* Answering a client that went away must not kill the test. */
    signal(SIGPIPE, SIG_IGN);
    tu_consul *c = calloc(1, sizeof(*c));
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    c->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    c->base = event_base_new();
    if (c->wake_fd < 0 || !c->base || listen_on(c) != 0) {
        fprintf(stderr, "consul fixture: cannot listen: %s\n", strerror(errno));
        if (c->base)
            event_base_free(c->base);
        if (c->wake_fd >= 0)
            close(c->wake_fd);
        free(c);
        return NULL;
    }
    c->wake_ev = event_new(c->base, c->wake_fd, EV_READ | EV_PERSIST, on_wake, c);
    event_add(c->wake_ev, NULL);
    if (pthread_create(&c->thread, NULL, thread_main, c) != 0) {
        fprintf(stderr, "consul fixture: pthread_create failed\n");
        stop_listening(c);
        event_free(c->wake_ev);
        event_base_free(c->base);
        close(c->wake_fd);
        free(c);
        return NULL;
    }
    return c;
}

void tu_consul_free(tu_consul *c)
{
    if (!c)
        return;
    run_cmd(c, CMD_EXIT);
    pthread_join(c->thread, NULL);
    event_free(c->wake_ev);
    event_base_free(c->base);
    close(c->wake_fd);
    while (c->svcs) {
        svc *s = c->svcs;
        c->svcs = s->next;
        while (s->insts) {
            inst *i = s->insts;
            s->insts = i->next;
            inst_free(i);
        }
        free(s->name);
        free(s);
    }
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

int tu_consul_port(const tu_consul *c) { return c->port; }

void tu_consul_stop(tu_consul *c) { run_cmd(c, CMD_STOP); }

int tu_consul_restart(tu_consul *c) { return run_cmd(c, CMD_RESTART); }

/* ---- the test's side ---------------------------------------------------------------- */

void tu_consul_put(tu_consul *c, const char *service, const char *id, const char *address, int port,
                   const char *const *tags)
{
    size_t nt = 0;
    while (tags && tags[nt])
        nt++;
    pthread_mutex_lock(&c->mu);
    put_inst(c, service, id, address, port, tags, nt, 1);
    pthread_mutex_unlock(&c->mu);
    wake(c);
}

int tu_consul_remove(tu_consul *c, const char *service, const char *id)
{
    pthread_mutex_lock(&c->mu);
    int rc = remove_inst(c, find_svc(c, service, 0), id);
    pthread_mutex_unlock(&c->mu);
    wake(c);
    return rc;
}

void tu_consul_set_passing(tu_consul *c, const char *service, const char *id, int passing)
{
    pthread_mutex_lock(&c->mu);
    svc *s = find_svc(c, service, 0);
    inst *i = find_inst(s, id);
    if (i) {
        i->passing = passing;
        bump(c, s);
    }
    pthread_mutex_unlock(&c->mu);
    wake(c);
}

void tu_consul_touch(tu_consul *c, const char *service)
{
    pthread_mutex_lock(&c->mu);
    bump(c, find_svc(c, service, 1));
    pthread_mutex_unlock(&c->mu);
    wake(c);
}

void tu_consul_set_index(tu_consul *c, const char *service, uint64_t index)
{
    pthread_mutex_lock(&c->mu);
    find_svc(c, service, 1)->index = index;
    pthread_mutex_unlock(&c->mu);
    wake(c);
}

uint64_t tu_consul_index(tu_consul *c, const char *service)
{
    pthread_mutex_lock(&c->mu);
    svc *s = find_svc(c, service, 0);
    uint64_t v = s ? s->index : 1;
    pthread_mutex_unlock(&c->mu);
    return v;
}

void tu_consul_fail_next(tu_consul *c, int n)
{
    pthread_mutex_lock(&c->mu);
    c->fail_next = n;
    pthread_mutex_unlock(&c->mu);
}

void tu_consul_bad_json_next(tu_consul *c, int n)
{
    pthread_mutex_lock(&c->mu);
    c->bad_next = n;
    pthread_mutex_unlock(&c->mu);
}

int tu_consul_count(tu_consul *c, const char *what)
{
    pthread_mutex_lock(&c->mu);
    int v = !strcmp(what, "health")       ? c->n_health
            : !strcmp(what, "blocking")   ? c->n_blocking
            : !strcmp(what, "parked")     ? c->n_parked
            : !strcmp(what, "register")   ? c->n_register
            : !strcmp(what, "deregister") ? c->n_dereg
            : !strcmp(what, "pass")       ? c->n_pass
                                          : -1;
    pthread_mutex_unlock(&c->mu);
    return v;
}

int tu_consul_get(tu_consul *c, const char *service, const char *id, int *passing, int *port,
                  char *addr, size_t addrlen, char *tags, size_t tagslen)
{
    pthread_mutex_lock(&c->mu);
    inst *i = find_inst(find_svc(c, service, 0), id);
    if (i) {
        if (passing)
            *passing = i->passing;
        if (port)
            *port = i->port;
        if (addr && addrlen)
            snprintf(addr, addrlen, "%s", i->address);
        if (tags && tagslen) {
            tags[0] = '\0';
            for (size_t k = 0; k < i->ntags; k++) {
                size_t used = strlen(tags);
                snprintf(tags + used, tagslen - used, "%s%s", k ? "\n" : "", i->tags[k]);
            }
        }
    }
    pthread_mutex_unlock(&c->mu);
    return i != NULL;
}
