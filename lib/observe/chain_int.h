/*
 * For the layers above: a call whose request size is measured only if a hook asks for it
 * (motan_filter_call_request_size), as the client's costs a second serialization and
 * chains such as metrics alone never read it.
 */
#ifndef MOTAN_CHAIN_INT_H
#define MOTAN_CHAIN_INT_H

#include <motan/observe.h>

/* Bytes of the request body behind arg; called at most once per call, on the loop thread. */
typedef size_t (*motan__size_fn)(void *arg);

/* motan_filter_chain_begin with the size measured by size(size_arg) when first read. */
int motan__filter_chain_begin_lazy(motan_filter_chain *ch, const char *service,
                                   const char *group, const char *method, int serialization,
                                   motan__size_fn size, void *size_arg, motan_meta_lookup lookup,
                                   const void *source, uint64_t start_us, motan_filter_call **out,
                                   char *errbuf, size_t errlen);

/* 1 when ch is the metrics filter alone: its hooks read no size, serialization or metadata. */
int motan__filter_chain_metrics_only(const motan_filter_chain *ch);

/*
 * Such a chain's counters (stable while the chain lives): a caller that runs the metrics
 * hot path itself (metrics_int.h, on the loop thread) needs no filter call context.
 */
struct motan__writer *motan__filter_chain_writer(const motan_filter_chain *ch);

#endif
