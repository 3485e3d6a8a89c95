/*
 * A private ZooKeeper server for tests (Debian's `zookeeper` package: Java).
 *
 * tu_zk_start forks a small supervisor process that owns the server: it picks a free
 * loopback port, writes <tmpdir>/zoo.cfg (tickTime 500 ms: sessions of 1..30 s), runs
 * `java ... org.apache.zookeeper.server.ZooKeeperServerMain <tmpdir>/zoo.cfg` (output in
 * <tmpdir>/zk.log) and waits until the server answers `ruok` with `imok` (20 s at most).
 * Stop and restart go through the supervisor, so they work from Check's forked test
 * processes too. When every copy of the test process is gone (crash included) the
 * supervisor kills the server and removes the directory; the server dies with the
 * supervisor (PR_SET_PDEATHSIG). Start it from the main thread, before any other thread.
 */
#ifndef MOTAN_ZK_PROC_H
#define MOTAN_ZK_PROC_H

#include <sys/types.h>

typedef struct tu_zk {
    pid_t sup;       /* the supervisor, 0 when not started */
    int ctl;         /* command socket to it */
    int port;        /* the server's client port on 127.0.0.1 */
    char hosts[32];  /* "127.0.0.1:<port>" */
    char dir[256];   /* data directory */
} tu_zk;

/* Starts the supervisor and the server. 0, or -1 with a message on stderr. */
int tu_zk_start(tu_zk *z);
/* Stops the server (SIGTERM, SIGKILL after 5 s), keeping its data. 0 or -1. */
int tu_zk_stop(tu_zk *z);
/* Starts the server again on the same port and data directory; waits until ready. 0 or -1. */
int tu_zk_restart(tu_zk *z);
/* 1 when the server answers ruok. */
int tu_zk_ok(const tu_zk *z);
/* Stops the server, removes the directory, ends the supervisor. */
void tu_zk_free(tu_zk *z);

#endif
