/*
 * The connection budget of a loop: how many sockets all its endpoints' connections hold
 * together (connectionBudget), and its idle connections (connected, nothing pending) in
 * least-recently-used order. A connection a call needs takes the oldest idle one's place
 * when the budget is spent, so a client over 100 000 nodes holds a bounded working set of
 * sockets instead of one (or `connections`) per node.
 */
#include <sys/resource.h>

#include "transport/transport_int.h"

#define BUDGET_MIN 64
#define BUDGET_MAX (1u << 20)

size_t motan__budget_default(void)
{
    struct rlimit rl;
    size_t n = 1024;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        n = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > 2 * (rlim_t)BUDGET_MAX
                ? 2 * (size_t)BUDGET_MAX
                : (size_t)rl.rlim_cur;
    n /= 2; /* the rest of the descriptors are the application's */
    return n < BUDGET_MIN ? BUDGET_MIN : n > BUDGET_MAX ? BUDGET_MAX : n;
}

void motan__budget_join(motan_endpoint *ep, int join)
{
    motan__fdbudget *b = motan__loop_budget(ep->loop);
    if (join == ep->joined)
        return;
    ep->joined = join;
    if (join)
        b->wanted += (size_t)ep->nconns;
    else
        b->wanted -= (size_t)ep->nconns;
}

int motan__budget_eager(const motan_endpoint *ep)
{
    return motan__loop_budget(ep->loop)->wanted <= ep->conn_budget;
}

static void idle_remove(motan__fdbudget *b, motan__conn *c)
{
    if (!c->idle)
        return;
    if (c->idle_prev)
        c->idle_prev->idle_next = c->idle_next;
    else
        b->idle_head = c->idle_next;
    if (c->idle_next)
        c->idle_next->idle_prev = c->idle_prev;
    else
        b->idle_tail = c->idle_prev;
    c->idle_prev = c->idle_next = NULL;
    c->idle = 0;
}

void motan__budget_set_idle(motan__conn *c, int idle)
{
    motan__fdbudget *b = motan__loop_budget(c->ep->loop);
    idle_remove(b, c);
    if (!idle)
        return;
    c->idle_prev = b->idle_tail;
    if (b->idle_tail)
        b->idle_tail->idle_next = c;
    else
        b->idle_head = c;
    b->idle_tail = c;
    c->idle = 1;
}

int motan__budget_take(motan__conn *c, int may_evict)
{
    motan__fdbudget *b = motan__loop_budget(c->ep->loop);
    if (c->counted)
        return 1;
    while (b->open >= c->ep->conn_budget) {
        motan__conn *victim = b->idle_head;
        if (!may_evict || !victim)
            return 0;
        motan__conn_close_idle(victim); /* gives its socket back: open drops */
    }
    b->open++;
    c->counted = 1;
    return 1;
}

void motan__budget_put(motan__conn *c)
{
    motan__fdbudget *b = motan__loop_budget(c->ep->loop);
    idle_remove(b, c);
    if (c->counted) {
        b->open--;
        c->counted = 0;
    }
}
