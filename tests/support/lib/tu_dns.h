/*
 * A fake DNS server for the suites: UDP on 127.0.0.1 (a free port), its own thread. Each
 * name it knows answers A records (in the order given) after a delay of its own, or
 * NXDOMAIN; AAAA questions get an empty answer; unknown names NXDOMAIN. Delays do not hold
 * up other questions. Point a loop's resolver at it with tu_dns_use.
 */
#ifndef MOTAN_TU_DNS_H
#define MOTAN_TU_DNS_H

#include <motan/transport.h>

typedef struct tu_dns tu_dns;

/* Aborts the test process when it cannot be started. */
tu_dns *tu_dns_start(void);
void tu_dns_stop(tu_dns *d);
/* name (case-insensitive) answers addrs ("127.0.0.3,127.0.0.1"; NULL: NXDOMAIN) after delay_ms. */
void tu_dns_add(tu_dns *d, const char *name, const char *addrs, int delay_ms);
/* A questions for name answered (or being delayed) so far. */
int tu_dns_queries(tu_dns *d, const char *name);
/* Makes l's resolver (motan_loop_get_dns) ask d only; runs on the loop thread. */
void tu_dns_use(tu_dns *d, motan_loop *l);

#endif
