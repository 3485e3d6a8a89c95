/* The endpoint epoch of core_int.h: one counter for the whole process. */
#include "core/core_int.h"

_Atomic unsigned motan__endpoint_epoch;
