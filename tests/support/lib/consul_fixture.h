/*
 * An in-process stand-in for a Consul agent's HTTP API, for the consul registry's tests: an
 * evhttp server on 127.0.0.1 (free port), its own thread and event_base.
 *
 * GET /v1/health/service/<name>[?passing][&tag=T][&index=N][&wait=D]: the instances of <name>
 * as Consul's health endpoint answers them ([{"Node":{...},"Service":{...},"Checks":[...]}]),
 * with the service's index in X-Consul-Index. Blocking queries as Consul documents them: with
 * index N equal to the service's current index the answer waits until the index changes or
 * `wait` (default 5m, at most 10m; "10s", "500ms", "1m") expires, then answers the state of
 * that moment. `passing` keeps instances whose check passes; `tag` those carrying T.
 * PUT /v1/agent/service/register (JSON: ID, Name, Tags, Address, Port, Check.TTL: a TTL check
 * starts critical, as in Consul), PUT /v1/agent/service/deregister/<id>,
 * PUT /v1/agent/check/pass/service:<id>.
 *
 * Every write bumps one global index and gives it to the service written. All functions are
 * safe to call from the test's thread while the fixture serves.
 */
#ifndef MOTAN_CONSUL_FIXTURE_H
#define MOTAN_CONSUL_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

typedef struct tu_consul tu_consul;

/* NULL (with a message on stderr) when it cannot start. */
tu_consul *tu_consul_start(void);
/* Stops the thread, drops every connection, frees. NULL is a no-op. */
void tu_consul_free(tu_consul *c);
int tu_consul_port(const tu_consul *c);

/*
 * Adds or replaces instance id of service (passing). address "" leaves Service.Address empty
 * (clients then use Node.Address, "127.0.0.1"). tags: NULL-terminated, may be NULL.
 */
void tu_consul_put(tu_consul *c, const char *service, const char *id, const char *address, int port,
                   const char *const *tags);
/* 0 when removed, -1 when there was no such instance. */
int tu_consul_remove(tu_consul *c, const char *service, const char *id);
void tu_consul_set_passing(tu_consul *c, const char *service, const char *id, int passing);
/* A write that changes nothing but the index (Consul's idempotent writes do that). */
void tu_consul_touch(tu_consul *c, const char *service);
/* Forces the service's index (it may go backwards) and wakes blocked queries. */
void tu_consul_set_index(tu_consul *c, const char *service, uint64_t index);
uint64_t tu_consul_index(tu_consul *c, const char *service);

/* The next n health queries answer at once with HTTP 500 / with a truncated JSON body. */
void tu_consul_fail_next(tu_consul *c, int n);
void tu_consul_bad_json_next(tu_consul *c, int n);

/* Outage: closes the listener and every connection; restart listens on the same port again. */
void tu_consul_stop(tu_consul *c);
int tu_consul_restart(tu_consul *c);

/*
 * Counters: "health" (health queries received), "blocking" (those with an index), "parked"
 * (blocked right now), "register", "deregister", "pass".
 */
int tu_consul_count(tu_consul *c, const char *what);
/*
 * Instance id of service: 1 when present, with its check state, port, address and tags
 * joined by '\n' (each out-parameter may be NULL).
 */
int tu_consul_get(tu_consul *c, const char *service, const char *id, int *passing, int *port,
                  char *addr, size_t addrlen, char *tags, size_t tagslen);

#endif
