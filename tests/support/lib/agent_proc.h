/*
 * Running build/bin/motan-agent (and the python3 HTTP backend of its export tests) from C
 * tests and benchmarks, plus a tiny blocking HTTP client for its HTTP ports.
 *
 * The binary is $MOTAN_AGENT when set, else <root>/<BUILD>/bin/motan-agent (as
 * server_proc.h finds the test server); $MOTAN_AGENT_WRAPPER (e.g. "valgrind -q
 * --leak-check=full --error-exitcode=99") is put in front of it, with 12 times the timeouts. The configuration is written to a private temporary
 * directory; the agent's stdout (its ready line) is read through a pipe, its stderr is the
 * test's (or a file, tu_agent_run). It gets SIGTERM when the starting thread exits.
 */
#ifndef MOTAN_AGENT_PROC_H
#define MOTAN_AGENT_PROC_H

#include <stddef.h>
#include <sys/types.h>

#include <motan/motan.h>

typedef struct tu_agent {
    pid_t pid;     /* 0 when not running */
    int port, eport, hport, mport; /* from the ready line (hport -1: off) */
    char dir[256]; /* the temporary directory */
    char conf[300];/* dir/agent.yaml */
} tu_agent;

/*
 * Writes yaml to a fresh dir/agent.yaml (every "@DIR@" in it replaced by dir) and starts the
 * agent on it; waits for its ready line (10 s). 0, or -1 with a message on stderr.
 */
int tu_agent_start(tu_agent *a, const char *yaml);
/* Replaces dir/agent.yaml atomically (rename) with yaml, for SIGHUP reloads. 0 or -1. */
int tu_agent_rewrite(tu_agent *a, const char *yaml);
int tu_agent_signal(const tu_agent *a, int sig);
/* Waits for the agent to exit (timeout_ms); its exit status, 128+signal, or -1 (still running). */
int tu_agent_wait(tu_agent *a, int timeout_ms);
/* SIGTERM and wait (15 s, then SIGKILL); the exit status. Removes the directory. */
int tu_agent_stop(tu_agent *a);
/*
 * Runs the agent on yaml until it exits (timeout_ms), capturing stdout and stderr into out
 * (NUL-terminated); the exit status, or -1 when it had to be killed. *file (may be NULL)
 * gets the configuration's path as the agent saw it (valid until the next call).
 */
int tu_agent_run(const char *yaml, char *out, size_t outlen, int timeout_ms, const char **file);

/* printf into a malloc'd string (for YAML texts); aborts without memory. */
char *tu_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The python3 backend (tests/support/http/backend.py) on a free port, or the given one. */
typedef struct tu_backend {
    pid_t pid;
    int port;       /* 0 on a Unix socket */
    char dir[64];   /* Unix socket: its private temporary directory */
    char path[108]; /* the Unix socket dir/http.sock, "" on TCP */
    char addr[128]; /* its proxyAddress: 127.0.0.1:PORT or unix:PATH */
} tu_backend;
int tu_backend_start(tu_backend *b, int port);
/* The same backend on a Unix socket in a fresh temporary directory. */
int tu_backend_start_unix(tu_backend *b);
/* After tu_backend_stop: the backend again, on the same port or socket path. */
int tu_backend_restart(tu_backend *b);
/* Stops it (SIGTERM, then SIGKILL after 5 s); a socket's directory stays for a restart. */
void tu_backend_stop(tu_backend *b);
/* Stops it and removes the socket's directory. */
void tu_backend_free(tu_backend *b);

/* Waits until the agent's /registry/list says its (only) backend is up (1) or down (0); 1 when so. */
int tu_agent_wait_backend(const tu_agent *a, int up, int timeout_ms);
/* tu_prom_sum over the agent's /metrics; -1 when it does not answer 200. */
double tu_agent_metric(const tu_agent *a, const char *name, const char *const *want, int *found);

/* One call with typed-JSON arguments (NULL-terminated); aborts when one does not parse. */
motan_response *tu_call(motan_client *c, const char *method, ...);
/* The string result of resp ("" when it is no string). */
const char *tu_resp_str(const motan_response *resp);

/*
 * One HTTP/1.0 request to 127.0.0.1:port (body may be NULL). Returns the status (-1 when
 * the connection failed); *resp (may be NULL) gets the body, malloc'd and NUL-terminated.
 */
int tu_http(int port, const char *method, const char *path, const char *body, char **resp);

#endif
