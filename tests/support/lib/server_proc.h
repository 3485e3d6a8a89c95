/*
 * Running build/bin/motan-test-server from C tests and benchmarks (docs/test-server.md).
 *
 * The binary is $MOTAN_TEST_SERVER when set, else <root>/<BUILD>/bin/motan-test-server
 * (BUILD defaults to "build"; a relative BUILD is taken under $MOTAN_ROOT or the cwd).
 * $MOTAN_SERVER_WRAPPER, when set, is a space-separated command put in front of it
 * (e.g. "valgrind -q --leak-check=full --error-exitcode=99"); start-up may then take 60 s.
 * The server's stdout (its port line) is read through a private pipe; its stderr is the
 * test's. It gets SIGTERM when the thread that started it exits (PR_SET_PDEATHSIG), so a
 * crashed test leaves no server behind: start servers from the test's main thread.
 */
#ifndef MOTAN_SERVER_PROC_H
#define MOTAN_SERVER_PROC_H

#include <sys/types.h>

#define TU_SERVER_MAX_ARGS 32

typedef struct tu_server {
    pid_t pid;           /* 0 when not running */
    int port;            /* TCP port (0 with --unix) */
    char name[64];       /* the server's X-Server name (--name, or srv-<port>) */
    char unix_path[256]; /* --unix PATH, "" for TCP */
    /* private: the extra arguments, kept for tu_server_restart */
    int argc;
    char args[2048];
} tu_server;

/*
 * Starts the server with the NULL-terminated extra arguments (argv_extra may be NULL) and
 * waits for its port line (5 s). 0, or -1 with a message on stderr (s->pid is then 0).
 */
int tu_server_start(tu_server *s, const char *const *argv_extra);
/* SIGTERM and wait (10 s, then SIGKILL). 0 only when it exited with status 0. */
int tu_server_stop(tu_server *s);
/* SIGKILL and wait. */
void tu_server_kill(tu_server *s);
/* Stops it when running, then starts it again with the same arguments on the same port. */
int tu_server_restart(tu_server *s);
/* A blocking socket connected to the server (TCP_NODELAY for TCP); -1 with errno. */
int tu_server_connect(const tu_server *s);

#endif
