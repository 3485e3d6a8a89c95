/* motan-agent and its python3 HTTP backend as child processes, and a tiny HTTP client. */
#include "agent_proc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"
#include "tu_prom.h"

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* $MOTAN_AGENT_WRAPPER: a command put in front of the agent (valgrind); timeouts grow 12 times. */
static int wrap(char **argv, int max, char *buf, size_t len)
{
    const char *w = getenv("MOTAN_AGENT_WRAPPER");
    int n = 0;
    if (!w || !*w)
        return 0;
    snprintf(buf, len, "%s", w);
    char *save = NULL;
    for (char *t = strtok_r(buf, " ", &save); t && n < max; t = strtok_r(NULL, " ", &save))
        argv[n++] = t;
    return n;
}

static int slow(void)
{
    const char *w = getenv("MOTAN_AGENT_WRAPPER");
    return w && *w ? 12 : 1;
}

static void agent_path(char *buf, size_t len) { tu_bin_path("MOTAN_AGENT", "motan-agent", buf, len); }

char *tu_fmt(const char *f, ...)
{
    va_list ap;
    char *s = NULL;
    va_start(ap, f);
    if (vasprintf(&s, f, ap) < 0)
        s = NULL;
    va_end(ap);
    if (!s)
        abort();
    return s;
}

/* Reads one line from fd within timeout_ms (the rest of the stream is left alone). */
static int read_line(int fd, char *buf, size_t len, int timeout_ms)
{
    size_t n = 0;
    int64_t deadline = now_ms() + timeout_ms;
    while (n + 1 < len) {
        int64_t left = deadline - now_ms();
        struct pollfd p = {fd, POLLIN, 0};
        if (left <= 0)
            return -1;
        int rc = poll(&p, 1, (int)left);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc <= 0)
            return -1;
        ssize_t r = read(fd, buf + n, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        if (buf[n] == '\n') {
            buf[n] = '\0';
            return 0;
        }
        n++;
    }
    return -1;
}

/* fork + exec argv with stdout on a pipe (*out) and stderr on err_fd (-1: inherited). */
static pid_t spawn(char *const *argv, int *out, int err_fd)
{
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC))
        return -1;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        close(pfd[0]);
        close(pfd[1]);
        return -1;
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(126);
        if (dup2(pfd[1], STDOUT_FILENO) < 0 || (err_fd >= 0 && dup2(err_fd, STDERR_FILENO) < 0))
            _exit(126);
        close_range(3, ~0u, 0);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(pfd[1]);
    *out = pfd[0];
    return pid;
}

static int status_of(int st)
{
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    return WIFSIGNALED(st) ? 128 + WTERMSIG(st) : -1;
}

/* yaml with every "@DIR@" replaced by the directory (malloc'd). */
static char *expand(const tu_agent *a, const char *yaml)
{
    size_t dl = strlen(a->dir), n = 0;
    char *out = malloc(strlen(yaml) * (dl > 5 ? dl : 5) / 5 + strlen(yaml) + 1);
    if (!out)
        return NULL;
    for (const char *p = yaml; *p;) {
        if (!strncmp(p, "@DIR@", 5)) {
            memcpy(out + n, a->dir, dl);
            n += dl;
            p += 5;
        } else {
            out[n++] = *p++;
        }
    }
    out[n] = '\0';
    return out;
}

static int make_dir(tu_agent *a, const char *yaml)
{
    snprintf(a->dir, sizeof(a->dir), "/tmp/motan-agent-test-XXXXXX");
    if (!mkdtemp(a->dir))
        return -1;
    snprintf(a->conf, sizeof(a->conf), "%s/agent.yaml", a->dir);
    char *text = expand(a, yaml);
    int rc = text ? tu_write_file_renamed(a->conf, text) : -1;
    free(text);
    return rc;
}

static void remove_dir(tu_agent *a)
{
    if (!a->dir[0])
        return;
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", a->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "agent_proc: cannot remove %s\n", a->dir);
    a->dir[0] = '\0';
}

int tu_agent_start(tu_agent *a, const char *yaml)
{
    char path[4096], line[256];
    memset(a, 0, sizeof(*a));
    if (make_dir(a, yaml)) {
        fprintf(stderr, "tu_agent_start: cannot write the configuration\n");
        return -1;
    }
    agent_path(path, sizeof(path));
    char wbuf[512], *argv[20];
    int n = wrap(argv, 12, wbuf, sizeof(wbuf));
    argv[n++] = path;
    argv[n++] = "-c";
    argv[n++] = a->conf;
    argv[n] = NULL;
    int out;
    a->pid = spawn(argv, &out, -1);
    if (a->pid < 0) {
        a->pid = 0;
        perror("tu_agent_start: fork");
        return -1;
    }
    int rc = read_line(out, line, sizeof(line), 10000 * slow());
    close(out);
    if (rc || sscanf(line, "motan-agent ready port=%d eport=%d hport=%d mport=%d", &a->port,
                     &a->eport, &a->hport, &a->mport) != 4) {
        fprintf(stderr, "tu_agent_start: no ready line from %s (got \"%s\")\n", path, rc ? "" : line);
        kill(a->pid, SIGKILL);
        tu_agent_wait(a, 5000);
        return -1;
    }
    return 0;
}

int tu_agent_rewrite(tu_agent *a, const char *yaml)
{
    char *text = expand(a, yaml);
    int rc = text ? tu_write_file_renamed(a->conf, text) : -1;
    free(text);
    return rc;
}

int tu_agent_signal(const tu_agent *a, int sig) { return a->pid > 0 ? kill(a->pid, sig) : -1; }

int tu_agent_wait(tu_agent *a, int timeout_ms)
{
    if (a->pid <= 0)
        return -1;
    int64_t deadline = now_ms() + timeout_ms;
    for (;;) {
        int st;
        pid_t r = waitpid(a->pid, &st, WNOHANG);
        if (r == a->pid) {
            a->pid = 0;
            return status_of(st);
        }
        if (r < 0 && errno != EINTR)
            return -1;
        if (now_ms() > deadline)
            return -1;
        sleep_ms(5);
    }
}

int tu_agent_stop(tu_agent *a)
{
    int rc = -1;
    if (a->pid > 0) {
        kill(a->pid, SIGTERM);
        rc = tu_agent_wait(a, 15000 * slow());
        if (a->pid > 0) {
            fprintf(stderr, "tu_agent_stop: pid %d ignored SIGTERM; killing it\n", (int)a->pid);
            kill(a->pid, SIGKILL);
            tu_agent_wait(a, 5000);
            rc = -1;
        }
    }
    remove_dir(a);
    return rc;
}

int tu_agent_run(const char *yaml, char *out, size_t outlen, int timeout_ms, const char **file)
{
    static tu_agent a;
    static char conf[300];
    char path[4096];
    memset(&a, 0, sizeof(a));
    if (make_dir(&a, yaml))
        return -1;
    snprintf(conf, sizeof(conf), "%s", a.conf);
    if (file)
        *file = conf;
    agent_path(path, sizeof(path));
    char wbuf[512], *argv[20];
    int na = wrap(argv, 12, wbuf, sizeof(wbuf));
    argv[na++] = path;
    argv[na++] = "-c";
    argv[na++] = a.conf;
    argv[na] = NULL;
    timeout_ms *= slow();
    int fd, pfd[2];
    if (pipe2(pfd, O_CLOEXEC))
        return -1;
    a.pid = spawn(argv, &fd, pfd[1]);
    close(pfd[1]);
    size_t n = 0;
    int64_t deadline = now_ms() + timeout_ms;
    /* both pipes to EOF: stdout first (the agent writes little), then stderr */
    int fds[2] = {fd, pfd[0]};
    for (int i = 0; i < 2; i++) {
        for (;;) {
            struct pollfd p = {fds[i], POLLIN, 0};
            int64_t left = deadline - now_ms();
            if (left <= 0 || poll(&p, 1, (int)left) <= 0)
                break;
            ssize_t r = read(fds[i], out + n, n + 1 < outlen ? outlen - n - 1 : 0);
            if (r <= 0)
                break;
            n += (size_t)r;
        }
        close(fds[i]);
    }
    out[n] = '\0';
    int rc = tu_agent_wait(&a, (int)(deadline > now_ms() ? deadline - now_ms() : 0));
    if (a.pid > 0) {
        kill(a.pid, SIGKILL);
        tu_agent_wait(&a, 5000);
        rc = -1;
    }
    remove_dir(&a);
    return rc;
}

/* backend.py on b->path when set, else on b->port; its first line says it listens. */
static int backend_spawn(tu_backend *b)
{
    char script[4096], line[64], portarg[16];
    snprintf(script, sizeof(script), "%s/tests/support/http/backend.py", tu_root());
    snprintf(portarg, sizeof(portarg), "%d", b->port);
    char *argv[] = {"python3", script, b->path[0] ? "--unix" : "--port", b->path[0] ? b->path : portarg,
                    NULL};
    int out;
    b->pid = spawn(argv, &out, -1);
    if (b->pid < 0) {
        b->pid = 0;
        return -1;
    }
    int rc = read_line(out, line, sizeof(line), 10000);
    close(out);
    if (!rc && !b->path[0])
        b->port = atoi(line);
    if (rc || (b->path[0] ? strcmp(line, "unix") != 0 : b->port <= 0)) {
        fprintf(stderr, "tu_backend_start: no listening line from %s %s %s\n", script, argv[2], argv[3]);
        tu_backend_stop(b);
        return -1;
    }
    if (b->path[0])
        snprintf(b->addr, sizeof(b->addr), "unix:%s", b->path);
    else
        snprintf(b->addr, sizeof(b->addr), "127.0.0.1:%d", b->port);
    return 0;
}

int tu_backend_start(tu_backend *b, int port)
{
    memset(b, 0, sizeof(*b));
    b->port = port;
    return backend_spawn(b);
}

int tu_backend_start_unix(tu_backend *b)
{
    memset(b, 0, sizeof(*b));
    snprintf(b->dir, sizeof(b->dir), "/tmp/motan-backend-XXXXXX");
    if (!mkdtemp(b->dir))
        return -1;
    snprintf(b->path, sizeof(b->path), "%s/http.sock", b->dir);
    return backend_spawn(b);
}

int tu_backend_restart(tu_backend *b) { return b->pid > 0 ? -1 : backend_spawn(b); }

void tu_backend_free(tu_backend *b)
{
    tu_backend_stop(b);
    if (b->path[0])
        unlink(b->path);
    if (b->dir[0])
        rmdir(b->dir);
    b->dir[0] = b->path[0] = '\0';
}

void tu_backend_stop(tu_backend *b)
{
    if (b->pid <= 0)
        return;
    kill(b->pid, SIGTERM);
    int st;
    int64_t deadline = now_ms() + 5000;
    while (waitpid(b->pid, &st, WNOHANG) == 0) {
        if (now_ms() > deadline) {
            kill(b->pid, SIGKILL);
            waitpid(b->pid, &st, 0);
            break;
        }
        sleep_ms(5);
    }
    b->pid = 0;
}

int tu_http(int port, const char *method, const char *path, const char *body, char **resp)
{
    if (resp)
        *resp = NULL;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    size_t blen = body ? strlen(body) : 0;
    char head[1024];
    int hl = snprintf(head, sizeof(head),
                      "%s %s HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: %zu\r\n"
                      "Content-Type: application/json\r\n\r\n",
                      method, path, blen);
    if (write(fd, head, (size_t)hl) != hl || (blen && write(fd, body, blen) != (ssize_t)blen)) {
        close(fd);
        return -1;
    }
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (n + 1 >= cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb)
                break;
            buf = nb;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + n, cap - n - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    buf[n] = '\0';
    int status = -1;
    if (sscanf(buf, "HTTP/%*d.%*d %d", &status) != 1)
        status = -1;
    char *sep = strstr(buf, "\r\n\r\n");
    if (resp)
        *resp = strdup(sep ? sep + 4 : "");
    free(buf);
    return status;
}

int tu_agent_wait_backend(const tu_agent *a, int up, int timeout_ms)
{
    const char *want = up ? "\"backend_up\": true" : "\"backend_up\": false";
    int64_t deadline = now_ms() + (int64_t)timeout_ms * slow();
    for (;;) {
        char *body;
        tu_http(a->mport, "GET", "/registry/list", NULL, &body);
        int hit = body && strstr(body, want);
        free(body);
        if (hit)
            return 1;
        if (now_ms() > deadline)
            return 0;
        sleep_ms(10);
    }
}

double tu_agent_metric(const tu_agent *a, const char *name, const char *const *want, int *found)
{
    char *body;
    *found = 0;
    if (tu_http(a->mport, "GET", "/metrics", NULL, &body) != 200) {
        free(body);
        return -1;
    }
    double v = tu_prom_sum(body, name, want, found);
    free(body);
    return v;
}

motan_response *tu_call(motan_client *c, const char *method, ...)
{
    motan_request *r = motan_client_request(c, method);
    va_list ap;
    va_start(ap, method);
    for (const char *a = va_arg(ap, const char *); a; a = va_arg(ap, const char *)) {
        motan_value *v;
        char err[128];
        if (motan_tjson_parse(a, strlen(a), motan_request_arena(r), &v, err, sizeof(err)) != MOTAN_OK) {
            fprintf(stderr, "tu_call: argument %s: %s\n", a, err);
            abort();
        }
        motan_request_add_arg(r, v);
    }
    va_end(ap);
    motan_response *resp;
    motan_client_call(c, r, &resp);
    motan_request_free(r);
    return resp;
}

const char *tu_resp_str(const motan_response *resp)
{
    const motan_value *v = motan_response_get_value(resp);
    const char *s = v ? motan_value_get_data(v, NULL) : NULL;
    return s ? s : "";
}
