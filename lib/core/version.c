#include "core/core_int.h"

MOTAN_EXPORT const char *motan_version(void) { return MOTAN_VERSION_STRING; }

MOTAN_EXPORT int motan_version_number(void) { return MOTAN_VERSION_NUMBER; }
