/*
 * A TCP proxy for the suites: listens on 127.0.0.1 (a free port) and forwards every
 * connection to 127.0.0.1:<target>, on its own thread. Frozen, it stops moving bytes in
 * either direction (connections stay open, nothing is read or written): a peer that hangs,
 * like a ZooKeeper in a long GC pause or a partitioned network.
 */
#ifndef MOTAN_TU_PROXY_H
#define MOTAN_TU_PROXY_H

typedef struct tu_proxy tu_proxy;

/* Aborts the test process when it cannot be started. */
tu_proxy *tu_proxy_start(int target_port);
int tu_proxy_port(const tu_proxy *p);
void tu_proxy_freeze(tu_proxy *p, int frozen);
/*
 * Chopped (seed != 0), what the server sends reaches the client in pieces of 1 byte to
 * 64 KiB from a generator seeded with seed, each a send of its own after a pause of up to
 * 300 us: frame boundaries fall anywhere in the client's reads.
 */
void tu_proxy_chop(tu_proxy *p, unsigned seed);
/* Closes every connection and the listener, frees. */
void tu_proxy_stop(tu_proxy *p);

#endif
