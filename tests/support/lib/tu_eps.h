/*
 * Real endpoints on a caller-owned loop, for load-balancer and guard tests: they point at
 * 127.0.0.1 ports of this process. "Refused" ones are bound but not listening (a call fails
 * at once with MOTAN_ECONNECT, which with errorCountThreshold=1 fuses the endpoint); "black
 * hole" ones listen but never accept or read, so their calls stay in flight until the
 * endpoint is freed. Everything made is freed by tu_eps_teardown. Failures abort.
 */
#ifndef MOTAN_TU_EPS_H
#define MOTAN_TU_EPS_H

#include <motan/transport.h>

#define TU_EPS_SERVICE "com.example.EchoService"

/* A loop on a fresh event_base. */
void tu_eps_setup(void);
/* Frees every endpoint, request and socket made since tu_eps_setup, then the loop. */
void tu_eps_teardown(void);
motan_loop *tu_eps_loop(void);
/* A 127.0.0.1 TCP port held open by this process: listening (black hole) or not (refused). */
int tu_eps_port(int do_listen);
/* An endpoint for addr ("host:port" or "[unix:/path]"), errorCountThreshold=1, one
 * connection, extra appended to its parameters (may be NULL). */
motan_endpoint *tu_eps_url(const char *addr, const char *extra);
motan_endpoint *tu_eps_at(const char *host, int port, const char *extra);
/* Available until a call fails. */
motan_endpoint *tu_eps_refused(const char *extra);
/* A request for echo (with a consistent-hash key unless NULL). */
motan_request *tu_eps_req(const char *hash_key);
/* One failing call fuses a refused endpoint (unavailable until the end of the test). */
void tu_eps_fuse(motan_endpoint *ep);
/* k calls that stay in flight on a black-hole endpoint. */
void tu_eps_load(motan_endpoint *ep, int k);

#endif
