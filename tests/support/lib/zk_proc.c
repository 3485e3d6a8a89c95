/* A private ZooKeeper server for tests, owned by a supervisor process (zk_proc.h). */
#include "zk_proc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define READY_MS 20000
#define STOP_GRACE_MS 5000
#define START_ATTEMPTS 3

/* The package's jar lists its dependencies in its manifest Class-Path. */
#define ZK_CLASSPATH "/etc/zookeeper/conf:/usr/share/java/zookeeper.jar"
#define ZK_MAIN "org.apache.zookeeper.server.ZooKeeperServerMain"

enum { CMD_STOP = 's', CMD_START = 'r', CMD_QUIT = 'q' };

typedef struct reply {
    int status;
    int port;
} reply;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static int free_port(void)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
        getsockname(fd, (struct sockaddr *)&sa, &len)) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return ntohs(sa.sin_port);
}

static int ruok(int port)
{
    struct sockaddr_in sa;
    struct timeval tv = {1, 0};
    char buf[8] = {0};
    size_t got = 0;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 && write(fd, "ruok", 4) == 4) {
        ssize_t r;
        while (got < 4 && (r = read(fd, buf + got, 4 - got)) > 0)
            got += (size_t)r;
    }
    close(fd);
    return got == 4 && !memcmp(buf, "imok", 4);
}

int tu_zk_ok(const tu_zk *z) { return z->port > 0 && ruok(z->port); }

/* ---- the supervisor ----------------------------------------------------------------------- */

typedef struct sup {
    int ctl;
    int port;
    pid_t java;
    const char *dir;
} sup;

static int write_cfg(const sup *s)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/zoo.cfg", s->dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f,
            "tickTime=500\n"
            "minSessionTimeout=1000\n"
            "maxSessionTimeout=30000\n"
            "dataDir=%s/data\n"
            "clientPort=%d\n"
            "clientPortAddress=127.0.0.1\n"
            "admin.enableServer=false\n"
            "4lw.commands.whitelist=ruok,stat,cons,dump\n"
            "maxClientCnxns=0\n"
            /* Tests need no durability: no fsync, a small preallocated log. */
            "forceSync=no\n"
            "preAllocSize=1024\n",
            s->dir, s->port);
    return fclose(f);
}

static pid_t spawn_java(const sup *s)
{
    char cfg[512], log[512];
    snprintf(cfg, sizeof(cfg), "%s/zoo.cfg", s->dir);
    snprintf(log, sizeof(log), "%s/zk.log", s->dir);
    pid_t me = getpid();
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != me)
        _exit(126);
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    int nul = open("/dev/null", O_RDONLY);
    if (fd < 0 || nul < 0 || dup2(nul, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
        _exit(126);
    close_range(3, ~0u, 0);
    execlp("java", "java", "-Xms16m", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
           "-Dzookeeper.jmx.log4j.disable=true", "-cp", ZK_CLASSPATH, ZK_MAIN, cfg, (char *)NULL);
    _exit(127);
}

static void stop_java(sup *s)
{
    if (s->java <= 0)
        return;
    kill(s->java, SIGTERM);
    int64_t deadline = now_ms() + STOP_GRACE_MS;
    while (waitpid(s->java, NULL, WNOHANG) == 0) {
        if (now_ms() > deadline) {
            kill(s->java, SIGKILL);
            waitpid(s->java, NULL, 0);
            break;
        }
        sleep_ms(20);
    }
    s->java = 0;
    /* Until the port refuses, a restart could find it taken. */
    for (int i = 0; i < 100 && ruok(s->port); i++)
        sleep_ms(20);
}

/* 0 once the server answers ruok; -1 when it died or took too long. */
static int start_java(sup *s)
{
    if (write_cfg(s))
        return -1;
    s->java = spawn_java(s);
    if (s->java < 0) {
        s->java = 0;
        return -1;
    }
    int64_t deadline = now_ms() + READY_MS;
    while (now_ms() < deadline) {
        if (waitpid(s->java, NULL, WNOHANG) == s->java) {
            s->java = 0;
            return -1;
        }
        if (ruok(s->port))
            return 0;
        sleep_ms(100);
    }
    stop_java(s);
    return -1;
}

/* Why it did not start: the server's output, on the test's stderr. */
static void dump_log(const sup *s)
{
    char path[512], buf[4096];
    snprintf(path, sizeof(path), "%s/zk.log", s->dir);
    FILE *f = fopen(path, "r");
    size_t n;
    if (!f)
        return;
    fprintf(stderr, "---- %s\n", path);
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
        fwrite(buf, 1, n, stderr);
    fclose(f);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void send_reply(int ctl, int status, int port)
{
    reply r = {status, port};
    (void)!send(ctl, &r, sizeof(r), MSG_NOSIGNAL);
}

static void supervise(sup *s)
{
    int ok = -1;
    for (int i = 0; i < START_ATTEMPTS && ok != 0; i++) {
        s->port = free_port();
        ok = s->port > 0 ? start_java(s) : -1;
    }
    if (ok != 0)
        dump_log(s);
    send_reply(s->ctl, ok, s->port);
    for (;;) {
        char cmd = CMD_QUIT;
        ssize_t n = ok == 0 ? read(s->ctl, &cmd, 1) : 0;
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || cmd == CMD_QUIT) /* EOF: every test process is gone */
            break;
        if (cmd == CMD_STOP) {
            stop_java(s);
            send_reply(s->ctl, 0, s->port);
        } else if (cmd == CMD_START) {
            stop_java(s);
            int rc = start_java(s);
            if (rc)
                dump_log(s);
            send_reply(s->ctl, rc, s->port);
        }
    }
    stop_java(s);
    nftw(s->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    send_reply(s->ctl, 0, s->port);
}

/* ---- the test side ------------------------------------------------------------------------ */

static int await_reply(const tu_zk *z, reply *r)
{
    struct pollfd p = {z->ctl, POLLIN, 0};
    int64_t deadline = now_ms() + READY_MS * START_ATTEMPTS + STOP_GRACE_MS + 10000;
    for (;;) {
        int rc = poll(&p, 1, (int)(deadline - now_ms()));
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc != 1)
            return -1;
        ssize_t n = read(z->ctl, r, sizeof(*r));
        if (n < 0 && errno == EINTR)
            continue;
        return n == (ssize_t)sizeof(*r) ? 0 : -1;
    }
}

static int command(tu_zk *z, char cmd)
{
    reply r;
    if (z->sup <= 0 || send(z->ctl, &cmd, 1, MSG_NOSIGNAL) != 1 || await_reply(z, &r))
        return -1;
    return r.status;
}

int tu_zk_start(tu_zk *z)
{
    int sv[2];
    memset(z, 0, sizeof(*z));
    z->ctl = -1;
    snprintf(z->dir, sizeof(z->dir), "/tmp/motan-zk-XXXXXX");
    if (!mkdtemp(z->dir)) {
        perror("tu_zk_start: mkdtemp");
        return -1;
    }
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv)) {
        perror("tu_zk_start: socketpair");
        rmdir(z->dir);
        return -1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        perror("tu_zk_start: fork");
        close(sv[0]);
        close(sv[1]);
        rmdir(z->dir);
        return -1;
    }
    if (pid == 0) {
        close(sv[0]);
        signal(SIGINT, SIG_IGN); /* ^C on the test: clean up on EOF like any other end */
        sup s = {.ctl = sv[1], .dir = z->dir};
        supervise(&s);
        _exit(0);
    }
    close(sv[1]);
    z->sup = pid;
    z->ctl = sv[0];
    reply r;
    if (await_reply(z, &r) || r.status != 0) {
        fprintf(stderr, "tu_zk_start: ZooKeeper did not start (java -cp %s %s)\n", ZK_CLASSPATH,
                ZK_MAIN);
        tu_zk_free(z);
        return -1;
    }
    z->port = r.port;
    snprintf(z->hosts, sizeof(z->hosts), "127.0.0.1:%d", z->port);
    return 0;
}

int tu_zk_stop(tu_zk *z) { return command(z, CMD_STOP); }

int tu_zk_restart(tu_zk *z)
{
    int rc = command(z, CMD_START);
    if (rc)
        fprintf(stderr, "tu_zk_restart: ZooKeeper did not come back on port %d\n", z->port);
    return rc;
}

void tu_zk_free(tu_zk *z)
{
    if (z->sup > 0) {
        command(z, CMD_QUIT);
        close(z->ctl);
        while (waitpid(z->sup, NULL, 0) < 0 && errno == EINTR)
            ;
    } else if (z->ctl >= 0) {
        close(z->ctl);
    }
    z->sup = 0;
    z->ctl = -1;
    z->port = 0;
}
