/* Error codes: one table gives the name and the text of each. */
#include <stdio.h>

#include "core/core_int.h"

static const struct {
    int code;
    const char *name;
    const char *text;
} errors[] = {
    {MOTAN_OK, "MOTAN_OK", "success"},
    {MOTAN_ENOMEM, "MOTAN_ENOMEM", "out of memory"},
    {MOTAN_EINVAL, "MOTAN_EINVAL", "invalid argument"},
    {MOTAN_EAGAIN, "MOTAN_EAGAIN", "more input needed"},
    {MOTAN_EDECODE, "MOTAN_EDECODE", "malformed serialized value"},
    {MOTAN_EPROTO, "MOTAN_EPROTO", "protocol error"},
    {MOTAN_ETOOBIG, "MOTAN_ETOOBIG", "size limit exceeded"},
    {MOTAN_EVERSION, "MOTAN_EVERSION", "unsupported protocol version"},
    {MOTAN_EMOTAN1, "MOTAN_EMOTAN1", "peer speaks motan1"},
    {MOTAN_EUNSUPPORTED, "MOTAN_EUNSUPPORTED", "not supported"},
    {MOTAN_EURL, "MOTAN_EURL", "malformed URL or parameter"},
    {MOTAN_ETIMEOUT, "MOTAN_ETIMEOUT", "timeout"},
    {MOTAN_ECONNECT, "MOTAN_ECONNECT", "connection failed or lost"},
    {MOTAN_EBUSY, "MOTAN_EBUSY", "too many requests in flight"},
    {MOTAN_ECANCELLED, "MOTAN_ECANCELLED", "cancelled"},
    {MOTAN_EREMOTE, "MOTAN_EREMOTE", "remote error"},
    {MOTAN_ENOENDPOINT, "MOTAN_ENOENDPOINT", "no available endpoint"},
    {MOTAN_EREGISTRY, "MOTAN_EREGISTRY", "registry error"},
    {MOTAN_ECLOSED, "MOTAN_ECLOSED", "closed"},
    {MOTAN_ENOTFOUND, "MOTAN_ENOTFOUND", "not found"},
    {MOTAN_EIO, "MOTAN_EIO", "I/O error"},
    {MOTAN_EDEADLOCK, "MOTAN_EDEADLOCK", "blocking call from the loop thread"},
    {MOTAN_EFORKED, "MOTAN_EFORKED", "used in a child process after fork()"},
};

MOTAN_EXPORT const char *motan_strerror(int code)
{
    for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++)
        if (errors[i].code == code)
            return errors[i].text;
    return "unknown error";
}

MOTAN_EXPORT const char *motan_errname(int code)
{
    for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++)
        if (errors[i].code == code)
            return errors[i].name;
    return "MOTAN_EUNKNOWN";
}

int motan__errf(char *errbuf, size_t errlen, int code, const char *fmt, ...)
{
    if (errbuf && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errbuf, errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}
