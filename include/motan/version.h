/* libmotan version numbers. The Makefile reads these lines; keep their shape. */
#ifndef MOTAN_VERSION_H
#define MOTAN_VERSION_H

#define MOTAN_VERSION_MAJOR 0
#define MOTAN_VERSION_MINOR 1
#define MOTAN_VERSION_PATCH 0
#define MOTAN_VERSION_STRING "0.1.0"
/*
 * The ABI version of the shared library, independent of the product version above: the
 * SONAME is libmotan.so.<MOTAN_ABI_MAJOR> and the linker version node LIBMOTAN_<it>. Bump it
 * only when a change breaks binaries built against the previous one.
 */
#define MOTAN_ABI_MAJOR 1
/* 0x00MMmmpp, comparable with < and > */
#define MOTAN_VERSION_NUMBER ((MOTAN_VERSION_MAJOR << 16) | (MOTAN_VERSION_MINOR << 8) | MOTAN_VERSION_PATCH)

#endif
