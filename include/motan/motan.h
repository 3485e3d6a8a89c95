/*
 * libmotan: a thin, fast motan2 RPC client (and server). One include for the whole public API; C++
 * programs include this one (it adds the extern "C" block the layer headers leave out so
 * that FFI loaders can read them once preprocessor lines are stripped).
 */
#ifndef MOTAN_H
#define MOTAN_H

#ifdef __cplusplus
extern "C" {
#endif

#include <motan/version.h>
#include <motan/core.h>
#include <motan/codec.h>
#include <motan/observe.h>
#include <motan/transport.h>
#include <motan/cluster.h>
#include <motan/registry.h>
#include <motan/client.h>
#include <motan/server.h>

#ifdef __cplusplus
}
#endif

#endif
