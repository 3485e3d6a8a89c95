/*
 * Driving the single-threaded ZooKeeper client from libevent, c-ares style: ask the handle
 * what it wants (zookeeper_interest: a socket, read/write, a deadline), watch exactly that
 * with one event, and hand what happened back (zookeeper_process). The socket changes on
 * every reconnect and the client may close it inside any call, so the event is reassigned
 * on every arming rather than trusted to still describe the same socket.
 */
#include "registry/zk_int.h"

static void on_io(evutil_socket_t fd, short what, void *arg)
{
    motan__zk *z = arg;
    int events = 0;
    MOTAN_UNUSED(fd);
    if (what & EV_READ)
        events |= ZOOKEEPER_READ;
    if (what & EV_WRITE)
        events |= ZOOKEEPER_WRITE;
    motan__zk *prev = motan__zk_enter(z);
    if (z->zh) {
        z->in_zk++;
        zookeeper_process(z->zh, events);
        z->in_zk--;
    }
    motan__zk_arm(z);
    motan__zk_leave(prev);
}

void motan__zk_disarm(motan__zk *z)
{
    if (z->io_ev)
        event_del(z->io_ev);
}

void motan__zk_arm(motan__zk *z)
{
    /* Inside the client the caller re-arms once it is back out. */
    if (z->in_zk || z->closing || !z->zh)
        return;
    int fd = -1, interest = 0;
    struct timeval tv = {0, 0};
    z->in_zk++;
    int rc = zookeeper_interest(z->zh, &fd, &interest, &tv);
    z->in_zk--;
    motan__zk_disarm(z);
    /* Expired or refused for good: a new session (normally scheduled by the watcher). */
    if (rc == ZINVALIDSTATE || !z->zh) {
        static const struct timeval soon = {1, 0};
        if (z->zh && !evtimer_pending(z->restart_ev, NULL))
            evtimer_add(z->restart_ev, &soon);
        return;
    }
    short what = 0;
    if (fd >= 0 && (interest & ZOOKEEPER_READ))
        what |= EV_READ;
    if (fd >= 0 && (interest & ZOOKEEPER_WRITE))
        what |= EV_WRITE;
    if (tv.tv_sec < 0 || tv.tv_usec < 0)
        tv.tv_sec = tv.tv_usec = 0;
    if (!z->io_ev) {
        z->io_ev = event_new(z->base, what ? fd : -1, what, on_io, z);
        if (!z->io_ev) {
            motan__zk_setf(z->conn_err, "out of memory watching the ZooKeeper connection");
            return;
        }
    } else {
        event_assign(z->io_ev, z->base, what ? fd : -1, what, on_io, z);
    }
    event_add(z->io_ev, &tv);
}
