"""Exceptions raised by the binding; every one is a MotanError carrying the library's code."""

import builtins

from . import _lib


class MotanError(Exception):
    """A failed libmotan call: .code (negative MOTAN_E* int), .name ("MOTAN_EREMOTE"),
    .message (the library's message)."""

    def __init__(self, code, message, name=None):
        super().__init__(message)
        self.code = code
        self.name = name or errname(code)
        self.message = message

    def __str__(self):
        return "%s: %s" % (self.name, self.message)


class RemoteError(MotanError):
    """The server answered with an error: .errcode (e.g. 30001), .errtype (0 framework,
    1 service, 2 business)."""

    def __init__(self, code, message, errcode=0, errtype=-1):
        super().__init__(code, message)
        self.errcode = errcode
        self.errtype = errtype

    def __str__(self):
        return "%s: %s (errcode %d, errtype %d)" % (self.name, self.message, self.errcode,
                                                   self.errtype)


class TimeoutError(MotanError, builtins.TimeoutError):
    """MOTAN_ETIMEOUT: the call did not complete within its timeout."""


class ConnectionError(MotanError, builtins.ConnectionError):
    """MOTAN_ECONNECT or MOTAN_ENOENDPOINT: no connection to a server could serve the call."""


def errname(code):
    name = _lib.lib.motan_errname(code)
    return name.decode("ascii", "replace") if name else "MOTAN_E%d" % -code


def error_for(code, message, errcode=0, errtype=-1):
    """The exception class that fits code, built with message (and remote details)."""
    message = message or _strerror(code)
    if code == _lib.EREMOTE:
        return RemoteError(code, message, errcode, errtype)
    if code == _lib.ETIMEOUT:
        return TimeoutError(code, message)
    if code in (_lib.ECONNECT, _lib.ENOENDPOINT):
        return ConnectionError(code, message)
    return MotanError(code, message)


def from_response(resp):
    """The exception for a failed response handle (code != MOTAN_OK)."""
    lib = _lib.lib
    code = lib.motan_response_get_code(resp)
    msg = (lib.motan_response_get_errmsg(resp) or b"").decode("utf-8", "replace")
    if code == _lib.EREMOTE:
        return error_for(code, msg, lib.motan_response_get_errcode(resp),
                         lib.motan_response_get_errtype(resp))
    return error_for(code, msg)


def _strerror(code):
    s = _lib.lib.motan_strerror(code)
    return s.decode("utf-8", "replace") if s else ""
