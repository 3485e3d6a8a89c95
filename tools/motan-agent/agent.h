/*
 * motan-agent: the Weibo Mesh sidecar on libmotan (docs/agent.md). One process, one
 * event_base run by the main thread: the forward proxy (port, unixSock), the export server
 * (eport), the HTTP entry (hport), the management HTTP server (mport), every refer's client
 * and every registry live on it, so nothing here needs a lock.
 */
#ifndef MOTAN_AGENT_H
#define MOTAN_AGENT_H

#include <stddef.h>
#include <stdint.h>

#include <motan/motan.h>

struct event_base;
struct event;
struct evhttp;
struct evhttp_bound_socket;
struct evbuffer;
struct evdns_base;
struct sockaddr;

#define AGENT_DEFAULT_PORT 9981
#define AGENT_DEFAULT_EPORT 9982
#define AGENT_DEFAULT_HPORT 9983
#define AGENT_DEFAULT_MPORT 8002

/* ==== the YAML tree (yaml.c) =========================================================== */

enum { Y_SCALAR, Y_MAP, Y_SEQ };

typedef struct ynode {
    int kind;
    int line;        /* where the value starts (1-based) */
    int key_line;    /* where its key is, for values of a mapping */
    char *text;      /* Y_SCALAR */
    size_t n;        /* Y_MAP: entries; Y_SEQ: items */
    char **keys;     /* Y_MAP */
    struct ynode **vals;
} ynode;

/* Loads file; -1 with "FILE:LINE:COL: problem" in err. Free with ynode_free. */
int yaml_load(const char *file, ynode **out, char *err, size_t errlen);
void ynode_free(ynode *n);

/* ==== the configuration (conf.c) ======================================================= */

typedef struct conf_kv {
    char *k, *v;
} conf_kv;

typedef struct conf_registry {
    char *id;
    char *scheme;       /* direct, zookeeper, consul, file */
    char *addrs;        /* "h:p,h:p" (file: the absolute file name) */
    conf_kv *params;    /* the registry's own parameters (sessionTimeout, interval, wait, ttl) */
    size_t nparams;
    char *url;          /* the registry URL (exports register through it) */
} conf_registry;

typedef struct conf_refer {
    char *id;
    char *path, *group, *version;
    char *registry;     /* registry id */
    char *url;          /* the client URL, checked by the library */
    int timeout_ms;     /* requestTimeout */
    int min_tmo, max_tmo; /* the bounds of a caller's M_tmo */
    char *application;  /* M_s for callers that send none */
    int line;           /* of the entry */
} conf_refer;

typedef struct conf_service {
    char *id;
    char *path, *group, *version;
    char *registry;     /* registry id, NULL: exported, not registered */
    int port;           /* export port */
    char *proxy;        /* the HTTP backend, host:port or unix:PATH */
    char *node;         /* the query of the node URL published ("group=...&...") */
    int timeout_ms;     /* backend request timeout */
    int health_ms;      /* backend probe period */
    int connections;    /* HTTP connections to the backend */
    int line;           /* of the entry */
} conf_service;

typedef struct agent_conf {
    char *file;
    int port, eport, hport, mport; /* hport -1: the HTTP entry is off */
    char *unix_sock, *application, *log_dir, *pidfile, *host;
    int available;                 /* start registered (200) instead of 503 */
    int drain_ms;
    conf_registry *regs;
    size_t nregs;
    conf_refer *refers;
    size_t nrefers;
    conf_service *services;
    size_t nservices;
} agent_conf;

/*
 * Reads and checks file. NULL with "FILE:LINE: section.entry.key: what is wrong" in err.
 * Warnings (keys accepted and ignored) go to the log.
 */
agent_conf *conf_load(const char *file, char *err, size_t errlen);
void conf_free(agent_conf *c);
const conf_registry *conf_registry_find(const agent_conf *c, const char *id);
/* Deep copies (0, or -1 without memory: dst is then empty) and their release. */
int conf_refer_copy(conf_refer *dst, const conf_refer *src);
void conf_refer_clear(conf_refer *r);
int conf_service_copy(conf_service *dst, const conf_service *src);
void conf_service_clear(conf_service *s);

/* ==== logging (log.c) ================================================================== */

enum { LOG_ERROR, LOG_WARN, LOG_INFO };

/* dir NULL, "" or "stderr": stderr; "stdout": stdout; else DIR/agent.log and DIR/access.log. */
int log_open(const char *dir, char *err, size_t errlen);
/* Reopens the files (SIGHUP: after rotation). */
void log_reopen(void);
/* Writes out the buffered access log (a timer calls it every second). */
void log_flush(void);
void log_close(void);
void agent_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* One access-log line (already formatted, no newline). */
void agent_access(const char *line);
/* The library's log callback: its lines to the log, its accessLog lines to the access log. */
void log_from_library(int level, const char *message, void *userdata);

/* ==== Prometheus text (prom.c): the agent's own families beside the library's ============ */

void prom_family(struct evbuffer *out, const char *name, const char *type, const char *help);
/* name{labels} value, labels as "k","v" pairs (n pairs), values escaped. */
void prom_sample(struct evbuffer *out, const char *name, const char *const *labels, size_t n,
                 double value);

/* ==== HTTP/1.1 answers from backends (http1.c) ========================================= */

#define H1_MAX_LINE 8192   /* the status line, one header line, one chunk-size line */
#define H1_MAX_HEAD 65536  /* the status line and the header lines together (trailers too) */
#define H1_MAX_FIELDS 100  /* header lines (trailer lines too) */

enum { H1_MORE, H1_DONE, H1_ERROR };

typedef struct h1_resp {
    int state;
    int status;          /* 200, 404, ... */
    int minor;           /* HTTP/1.<minor> */
    int keep_alive;      /* the connection may carry another request after this answer */
    int close, chunked;  /* Connection: close; Transfer-Encoding: chunked */
    int64_t length;      /* Content-Length, -1 when there is none */
    uint64_t left;       /* of the body or of the current chunk */
    size_t head_bytes, fields, max_body;
    struct evbuffer *body; /* the decoded body (owned) */
    char error[200];     /* after H1_ERROR: what was wrong, printable */
} h1_resp;

/* max_body bounds the decoded body. 0, or -1 without memory. */
int h1_resp_init(h1_resp *r, size_t max_body);
/* Ready for the next answer on the same connection (the body emptied). */
void h1_resp_reset(h1_resp *r);
void h1_resp_clear(h1_resp *r);
/*
 * Parses what in holds (consuming it up to the end of the answer, no further); eof: the
 * backend closed the connection after it. H1_DONE, H1_MORE (feed more) or H1_ERROR.
 */
int h1_resp_parse(h1_resp *r, struct evbuffer *in, int eof);

/* ==== an HTTP/1.1 client: keep-alive connections to one backend (hpool.c) ================ */

enum { HP_OK, HP_NOANSWER, HP_TIMEOUT, HP_BAD };

typedef struct hpool hpool;
typedef struct hp_req hp_req;

/*
 * The outcome of a request: HP_OK with the answer (borrowed for the call); HP_NOANSWER
 * (no connection, or closed before any byte of an answer), HP_TIMEOUT, HP_BAD (a broken or
 * cut-short answer) with why. cb may send requests; it must not free the pool.
 */
typedef void (*hp_cb)(void *arg, int result, const h1_resp *answer, const char *why);

/* At most max_conns connections; answers' bodies bounded by max_body. NULL without memory. */
hpool *hpool_new(struct event_base *base, int max_conns, size_t max_body);
/* Cancels every request (no callbacks) and closes the connections. */
void hpool_free(hpool *p);
/* Where new connections go (copied); open connections stay where they are. */
void hpool_set_addr(hpool *p, const struct sockaddr *sa, int len);
/*
 * Sends len bytes (a whole request, copied) on an idle connection, a new one, or the first
 * to be free, within timeout_ms in all. cb runs exactly once, never inside hpool_send,
 * unless the request is cancelled. NULL without memory.
 */
hp_req *hpool_send(hpool *p, const void *data, size_t len, int timeout_ms, hp_cb cb, void *arg);
/* Forgets the request (no callback); a connection it was on is closed. */
void hp_req_cancel(hp_req *q);
/* Open connections; connections opened so far. */
int hpool_open_conns(const hpool *p);
uint64_t hpool_connects(const hpool *p);
/*
 * A non-blocking stream socket connecting to sa (TCP_NODELAY for TCP): the fd, with
 * *connected 1 when it is already connected, 0 while in progress; -1 with errno.
 */
int hp_connect(const struct sockaddr *sa, int len, int *connected);

/* ==== the agent ======================================================================== */

typedef struct agent agent;
typedef struct refer refer;
typedef struct export_service export_service;
typedef struct backend backend;

/* A refer: one client (cluster + registry) for one configured service. */
struct refer {
    agent *ag;
    conf_refer c;        /* owned copy */
    motan_client *client;
    int64_t inflight;
    int retired;         /* removed by a reload: freed once its calls are done */
    refer *next;
};

/* An exported service, forwarded to its HTTP backend. */
struct export_service {
    agent *ag;
    conf_service c;      /* owned copy */
    motan_registry *reg; /* borrowed from the agent's registry table, NULL when none */
    char *reg_url;
    motan_url *node;     /* the published node */
    int registered;
    int retired;
    int64_t inflight;
    backend *be;
    export_service *next;
};

typedef struct regobj {
    char *url;
    motan_registry *reg;
    struct regobj *next;
} regobj;

struct agent {
    struct event_base *base;
    agent_conf *conf;
    char *conf_file;
    motan_loop *loop;            /* servers and export registries */
    motan_server *fwd, *exp;
    int port, eport, hport, mport; /* as bound (port 0 in the file: a free port) */
    int *export_ports;           /* every export port listened on */
    size_t nexport_ports;
    struct evhttp *mhttp, *hhttp;
    struct evhttp_bound_socket *hhttp_sock; /* closed when the drain starts */
    refer *refers;
    refer *retired;              /* removed by a reload, calls still in flight */
    export_service *services;
    export_service *retired_services;
    regobj *regs;
    motan_stats *stats;          /* every refer's client and the export server feed it */
    int available;               /* 200: exports registered */
    int draining, drains_left, drain_timed_out;
    int64_t http_inflight;       /* HTTP-entry calls */
    uint64_t unrouted;           /* forward requests for no refer */
    struct event *ev_term, *ev_int, *ev_hup, *ev_drain_timer, *ev_reap, *ev_flush;
    uint64_t started_us;
};

/* refer.c: the refer table. */
int refers_apply(agent *ag, const agent_conf *c, char *err, size_t errlen);
/*
 * The refer for a request (motan-go's rules: the only refer of the path, else the one of
 * group M_g and, when given, version M_v). NULL with motan-go's message in msg.
 */
refer *refer_find(agent *ag, const char *service, const char *group, const char *version,
                  char *msg, size_t msglen);
/* A call of rf started / finished (a retired refer is freed after its last call). */
void refer_hold(refer *rf);
void refer_release(refer *rf);
void refers_free_all(agent *ag);
/* The ev_reap callback: frees retired refers and services that have no call left. */
void refers_reap(int fd, short what, void *arg);
void services_reap(agent *ag);

/* forward.c: the forward proxy's raw handler; the motan errcode of a local failure. */
void forward_handler(const motan_server_request *q, motan_reply *reply, void *userdata);
int64_t forward_errcode(int code);

/* export.c: exported services, registrations, the 200/503 switch. */
int services_apply(agent *ag, const agent_conf *c, char *err, size_t errlen);
void services_set_available(agent *ag, int available);
void services_unregister_all(agent *ag);
void services_free_all(agent *ag);
void export_heartbeat(const motan_server_request *q, motan_reply *reply, void *userdata);
motan_registry *agent_registry(agent *ag, const char *url, char *err, size_t errlen);

/* backend.c: the HTTP backend of a service (hpool connections and the health probe). */
backend *backend_new(export_service *svc, char *err, size_t errlen);
void backend_free(backend *b);
int backend_up(const backend *b);
/* Why the last probe failed (borrowed), NULL when it did not. */
const char *backend_why(const backend *b);
/* Name look-ups of freed backends whose cancellation has not been delivered yet. */
int backend_cancelled_lookups(void);
/* Open HTTP connections to the backend; connections opened so far. */
int backend_conns(const backend *b);
uint64_t backend_connects(const backend *b);
/* Forwards one decoded request (its reply is finished by the backend's answer). */
void backend_call(backend *b, const motan_server_request *q, motan_reply *reply);
/* svc's backend became up (1) or down (0). */
void service_backend_changed(export_service *svc, int up);

/* http_entry.c and manage.c: the two HTTP servers. */
int http_entry_start(agent *ag, int port, char *err, size_t errlen);
int manage_start(agent *ag, int port, char *err, size_t errlen);
/* The JSON of /registry/list and /status (owned, free). */
char *manage_registry_list(agent *ag);
char *manage_status(agent *ag);

/* main.c */
void agent_drain_step(agent *ag);
/* The resolver for backend names, on the agent's loop (NULL without memory). */
struct evdns_base *agent_dns(agent *ag);
/* An HTTP answer with its Content-Type (manage.c; the HTTP entry uses it too). */
struct evhttp_request;
void agent_http_send(struct evhttp_request *h, int status, const char *type, const char *body,
                     size_t len);
/* The local port of a bound socket. */
int agent_bound_port(int fd);
/* Resident set size in bytes (0 when unknown). */
uint64_t agent_rss(void);

#endif
