/* libmotan version numbers. The Makefile reads these lines; keep their shape. */
#ifndef MOTAN_VERSION_H
#define MOTAN_VERSION_H

#define MOTAN_VERSION_MAJOR 0
#define MOTAN_VERSION_MINOR 1
#define MOTAN_VERSION_PATCH 0
#define MOTAN_VERSION_STRING "0.1.0"
/* 0x00MMmmpp, comparable with < and > */
#define MOTAN_VERSION_NUMBER ((MOTAN_VERSION_MAJOR << 16) | (MOTAN_VERSION_MINOR << 8) | MOTAN_VERSION_PATCH)

#endif
