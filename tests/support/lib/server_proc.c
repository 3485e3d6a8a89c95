/* Starting, stopping and killing motan-test-server processes for tests (fork + exec). */
#include "server_proc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

static const char *wrapper(void)
{
    const char *w = getenv("MOTAN_SERVER_WRAPPER");
    return w && *w ? w : NULL;
}

/* Valgrind and friends start slowly. */
static int slow_factor(void) { return wrapper() ? 12 : 1; }

static void server_path(char *buf, size_t len)
{
    tu_bin_path("MOTAN_TEST_SERVER", "motan-test-server", buf, len);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The saved arguments, in order, as pointers into s->args. */
static int saved_args(const tu_server *s, const char **out, int max)
{
    const char *p = s->args;
    int n = 0;
    for (int i = 0; i < s->argc && n < max; i++) {
        out[n++] = p;
        p += strlen(p) + 1;
    }
    return n;
}

static int save_args(tu_server *s, const char *const *extra)
{
    size_t off = 0;
    s->argc = 0;
    for (int i = 0; extra && extra[i]; i++) {
        size_t n = strlen(extra[i]) + 1;
        if (s->argc == TU_SERVER_MAX_ARGS || off + n > sizeof(s->args)) {
            fprintf(stderr, "tu_server_start: too many or too long arguments\n");
            return -1;
        }
        memcpy(s->args + off, extra[i], n);
        off += n;
        s->argc++;
    }
    return 0;
}

/* Value of --opt V or --opt=V among the arguments (the last one wins, as in the server). */
static const char *find_opt(const char **args, int n, const char *opt)
{
    const char *v = NULL;
    size_t ol = strlen(opt);
    for (int i = 0; i < n; i++) {
        if (!strncmp(args[i], opt, ol) && args[i][ol] == '=')
            v = args[i] + ol + 1;
        else if (!strcmp(args[i], opt) && i + 1 < n)
            v = args[++i];
    }
    return v;
}

/* Reads the first line of fd within timeout_ms; 0 or -1. */
static int read_line(int fd, char *buf, size_t len, int timeout_ms)
{
    size_t n = 0;
    int64_t deadline = now_ms() + timeout_ms;
    while (n + 1 < len) {
        int64_t left = deadline - now_ms();
        if (left <= 0)
            return -1;
        struct pollfd p = {fd, POLLIN, 0};
        int rc = poll(&p, 1, (int)left);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc <= 0)
            return -1;
        ssize_t r = read(fd, buf + n, len - 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        n += (size_t)r;
        buf[n] = '\0';
        char *nl = strchr(buf, '\n');
        if (nl) {
            *nl = '\0';
            return 0;
        }
    }
    return -1;
}

static void reap(tu_server *s)
{
    while (waitpid(s->pid, NULL, 0) < 0 && errno == EINTR)
        ;
    s->pid = 0;
}

static int spawn(tu_server *s, int port)
{
    char path[4096], wbuf[512], portarg[16];
    const char *argv[TU_SERVER_MAX_ARGS + 16];
    const char *args[TU_SERVER_MAX_ARGS];
    int argc = 0, nargs = saved_args(s, args, TU_SERVER_MAX_ARGS);

    server_path(path, sizeof(path));
    if (wrapper()) {
        char *save = NULL;
        snprintf(wbuf, sizeof(wbuf), "%s", wrapper());
        for (char *w = strtok_r(wbuf, " ", &save); w && argc < 12; w = strtok_r(NULL, " ", &save))
            argv[argc++] = w;
    }
    argv[argc++] = path;
    for (int i = 0; i < nargs; i++)
        argv[argc++] = args[i];
    if (port > 0) {
        snprintf(portarg, sizeof(portarg), "%d", port);
        argv[argc++] = "--port";
        argv[argc++] = portarg;
    }
    argv[argc] = NULL;

    const char *un = find_opt(args, nargs, "--unix");
    snprintf(s->unix_path, sizeof(s->unix_path), "%s", un ? un : "");

    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC)) {
        perror("tu_server_start: pipe");
        return -1;
    }
    pid_t parent = getpid();
    long maxfd = sysconf(_SC_OPEN_MAX);
    pid_t pid = fork();
    if (pid < 0) {
        perror("tu_server_start: fork");
        close(pfd[0]);
        close(pfd[1]);
        return -1;
    }
    if (pid == 0) {
        /* Only async-signal-safe calls until exec: the test may have threads. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(126);
        if (dup2(pfd[1], STDOUT_FILENO) < 0)
            _exit(126);
        /* The test's sockets must not live on in the server (a closed client would not EOF). */
        if (close_range(3, ~0u, 0) != 0) {
            for (long fd = 3; fd < maxfd; fd++)
                close((int)fd);
        }
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(pfd[1]);
    s->pid = pid;

    char line[512];
    int rc = read_line(pfd[0], line, sizeof(line), 5000 * slow_factor());
    close(pfd[0]);
    if (rc) {
        int status = 0;
        kill(pid, SIGKILL);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
        s->pid = 0;
        if (WIFEXITED(status))
            fprintf(stderr, "tu_server_start: %s exited with status %d before its port line\n",
                    path, WEXITSTATUS(status));
        else
            fprintf(stderr, "tu_server_start: %s gave no port line in time\n", path);
        return -1;
    }
    if (s->unix_path[0]) {
        s->port = 0;
        if (strcmp(line, s->unix_path) != 0) {
            fprintf(stderr, "tu_server_start: unexpected line '%s'\n", line);
            tu_server_kill(s);
            return -1;
        }
    } else {
        char *end;
        long p = strtol(line, &end, 10);
        if (*end || p <= 0 || p > 65535) {
            fprintf(stderr, "tu_server_start: bad port line '%s'\n", line);
            tu_server_kill(s);
            return -1;
        }
        s->port = (int)p;
    }
    const char *name = find_opt(args, nargs, "--name");
    if (name)
        snprintf(s->name, sizeof(s->name), "%s", name);
    else if (s->unix_path[0])
        snprintf(s->name, sizeof(s->name), "srv-%.59s", s->unix_path);
    else
        snprintf(s->name, sizeof(s->name), "srv-%d", s->port);
    return 0;
}

int tu_server_start(tu_server *s, const char *const *argv_extra)
{
    memset(s, 0, sizeof(*s));
    if (save_args(s, argv_extra))
        return -1;
    return spawn(s, 0);
}

int tu_server_stop(tu_server *s)
{
    if (s->pid <= 0)
        return -1;
    int status = 0;
    kill(s->pid, SIGTERM);
    int64_t deadline = now_ms() + 10000 * slow_factor();
    for (;;) {
        pid_t r = waitpid(s->pid, &status, WNOHANG);
        if (r == s->pid)
            break;
        if (r < 0 && errno != EINTR) {
            perror("tu_server_stop: waitpid");
            s->pid = 0;
            return -1;
        }
        if (now_ms() > deadline) {
            fprintf(stderr, "tu_server_stop: pid %d ignored SIGTERM; killing it\n", (int)s->pid);
            tu_server_kill(s);
            return -1;
        }
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    pid_t pid = s->pid;
    s->pid = 0;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    if (WIFEXITED(status))
        fprintf(stderr, "tu_server_stop: pid %d exited with status %d\n", (int)pid,
                WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        fprintf(stderr, "tu_server_stop: pid %d died of signal %d\n", (int)pid, WTERMSIG(status));
    return -1;
}

void tu_server_kill(tu_server *s)
{
    if (s->pid <= 0)
        return;
    kill(s->pid, SIGKILL);
    reap(s);
}

/*
 * The same port again: it may be taken meanwhile (another test's connection can get it as
 * its local port), so a failed start is tried again for up to 2 s.
 */
int tu_server_restart(tu_server *s)
{
    if (s->pid > 0)
        tu_server_stop(s);
    int port = s->unix_path[0] ? 0 : s->port, rc = spawn(s, port);
    for (int i = 0; rc != 0 && i < 20; i++) {
        usleep(100000);
        rc = spawn(s, port);
    }
    return rc;
}

int tu_server_connect(const tu_server *s)
{
    int fd;
    if (s->unix_path[0]) {
        struct sockaddr_un sa;
        memset(&sa, 0, sizeof(sa));
        sa.sun_family = AF_UNIX;
        size_t n = strlen(s->unix_path);
        if (n >= sizeof(sa.sun_path)) {
            errno = ENAMETOOLONG;
            return -1;
        }
        memcpy(sa.sun_path, s->unix_path, n + 1);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
            int e = errno;
            close(fd);
            errno = e;
            return -1;
        }
        return fd;
    }
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)s->port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}
