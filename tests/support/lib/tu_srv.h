/*
 * The server layer's suites: a motan_server on a test loop (built-in or the test's own), and
 * a raw wire client (blocking socket + the codec) for byte-exact checks and hostile bytes.
 * Nothing here uses Check, so benchmarks can link it too; failures abort with a message.
 */
#ifndef MOTAN_TU_SRV_H
#define MOTAN_TU_SRV_H

#include <sys/types.h>

#include <motan/motan.h>

#include "tu_loop.h"

#define TU_SVC "com.example.EchoService"

typedef struct tu_srv {
    tu_env e;
    motan_server *s;
    int port; /* of the TCP listener on 127.0.0.1 */
} tu_srv;

/*
 * A server on a new loop (builtin: its own thread, else the test's event_base), with the
 * NULL-terminated key, value, key, value... params set (params may be NULL), listening on
 * 127.0.0.1:0. Aborts when something fails.
 */
void tu_srv_start(tu_srv *t, int builtin, const char *const *params);
/* Frees the server, then the loop. */
void tu_srv_stop(tu_srv *t);

/* Handlers: echo(x) answers x (null without arguments); big(n) answers n bytes of 'b'. */
void tu_srv_echo(const motan_server_request *req, motan_reply *reply, void *userdata);
void tu_srv_big(const motan_server_request *req, motan_reply *reply, void *userdata);
/* A client (built-in loop) for TU_SVC on t's listener, URL parameters params (may be NULL). */
motan_client *tu_srv_client(const tu_srv *t, const char *params);
/* An endpoint for TU_SVC on t's listener, on t's loop. */
motan_endpoint *tu_srv_endpoint(const tu_srv *t);
/*
 * Waits (sleeping beside a built-in loop) until stat name reaches want: at least want, or
 * exactly want when exact. 1 when it did within timeout_ms.
 */
int tu_srv_wait_stat(const tu_srv *t, const char *name, uint64_t want, int exact, int timeout_ms);
/* build/examples/echo_server 0 started: its pid, *port from its "listening" line; -1 on failure. */
pid_t tu_echo_server_start(int *port);

/*
 * 1 when resident memory grew by less than max_kb since rss0 (tu_rss_kb), else 0 with the
 * growth on stderr. Always 1 under valgrind and the sanitizers, which keep freed memory
 * (quarantines, redzones) by design: there the bounds say nothing.
 */
int tu_rss_within(long rss0, long max_kb, const char *what);

/* A raw client connection. */
typedef struct tu_wire {
    int fd;
    motan_buf *in;    /* received, not yet consumed */
    size_t eat;       /* length of the frame last returned, dropped on the next read */
    motan_frame *f;   /* the frame last returned */
} tu_wire;

enum { TU_WIRE_EOF = 100, TU_WIRE_TIMEOUT = 101, TU_WIRE_ERROR = 102 };

/* Connects to 127.0.0.1:port (TCP_NODELAY). 0, or -1 with errno. */
int tu_wire_open(tu_wire *w, int port);
void tu_wire_close(tu_wire *w);
/* Sends every byte; 0 or -1. */
int tu_wire_send(tu_wire *w, const void *p, size_t n);
/* A request frame: M_p, M_m, then the NULL-terminated key, value pairs of meta; body raw. */
int tu_wire_request(tu_wire *w, uint64_t id, int ser, const char *service, const char *method,
                    const char *const *meta, const void *body, size_t blen);
/* The next frame into w->f: MOTAN_OK, a parse error, TU_WIRE_EOF, _TIMEOUT or _ERROR. */
int tu_wire_frame(tu_wire *w, int timeout_ms);
/* Reads until the peer closes: TU_WIRE_EOF (or _ERROR for a reset), _TIMEOUT. */
int tu_wire_until_closed(tu_wire *w, int timeout_ms);
/* Bytes buffered and not consumed. */
size_t tu_wire_buffered(const tu_wire *w);

#endif
