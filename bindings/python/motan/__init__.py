"""libmotan for Python: a motan2 RPC client over ctypes (no compilation step).

    import motan
    with motan.Client("motan2://127.0.0.1:8002/com.example.EchoService") as c:
        c.call("echo", "hi")                      # -> "hi"
        c.call("hello", motan.Int32(5), timeout=500, attachments={"k": "v"},
               method_desc="int", hash_key="user1")

See README.md for the type mapping and the exceptions.
"""

import ctypes
import itertools
import os
import select
import threading
import weakref
from collections.abc import Mapping

from . import _lib
from .errors import ConnectionError, MotanError, RemoteError, TimeoutError, error_for, \
    from_response
from .values import Byte, Float32, Int16, Int32, Int64, StringArray, StringMap, _utf8, decode, \
    encode

__all__ = ["Client", "MotanError", "RemoteError", "TimeoutError", "ConnectionError", "Byte",
           "Int16", "Int32", "Int64", "Float32", "StringMap", "StringArray", "version",
           "library_path"]

library_path = _lib.path

_l = _lib.lib
_client_call = _l.motan_client_call
_client_request = _l.motan_client_request
_request_free = _l.motan_request_free
_request_arena = _l.motan_request_arena
_add_arg = _l.motan_request_add_arg
_response_free = _l.motan_response_free
_response_code = _l.motan_response_get_code
_response_value = _l.motan_response_get_value
_submit = _l.motan_client_submit
_poll = _l.motan_client_poll
_cancel = _l.motan_client_cancel

_FORKED_MSG = ("the client was created before fork(): in this child process it can only be "
               "freed (make a new Client in the child)")

# Tags of the main thread's calls through the pull queue (see Client._wait_main).
_tags = itertools.count(1)

# Live clients, so that a child process created by fork() can reset their Python-side state.
_live = weakref.WeakSet()


def _after_fork_in_child():
    # The parent's other threads did not come along: their calls and their hold on the
    # condition's lock are gone. The library refuses calls here (MOTAN_EFORKED); only
    # freeing remains, which the finalizer does at exit.
    for c in list(_live):
        c._forked = True
        c._cond = threading.Condition()
        c._active = 0
        c._poller = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def version():
    """The loaded library's version string, e.g. "0.1.0"."""
    return _l.motan_version().decode("ascii")


def _cstr(s, what):
    """NUL-terminated UTF-8 for the library (an embedded NUL would silently cut the text)."""
    b = _utf8(s, what)
    if b"\0" in b:
        raise ValueError("%s contains a NUL character" % what)
    return b


def _free_client(handle):
    _l.motan_client_free(handle)


class Client:
    """A client for one service, from the same URL as motan_client_new in C, e.g.
    "motan2://host:port/com.example.EchoService?requestTimeout=500" or a registry URL.

    Runs on the library's built-in loop thread: call() may be used from many threads at
    once (the GIL is released while a call waits). close() (or leaving a with block, or
    garbage collection) frees it; close() waits for calls in flight to return.
    Raises MotanError (code MOTAN_EURL for a bad URL) when the client cannot be created.
    """

    def __init__(self, url):
        handle = ctypes.c_void_p()
        errbuf = ctypes.create_string_buffer(512)
        rc = _l.motan_client_new(_cstr(url, "url"), ctypes.byref(handle), errbuf,
                                 len(errbuf))
        if rc != _lib.OK or not handle.value:
            raise error_for(rc or _lib.EINVAL, errbuf.value.decode("utf-8", "replace"))
        self._h = handle.value
        self._cond = threading.Condition()
        self._active = 0
        self._closed = False
        self._forked = False
        self._poller = None  # the completion fd's, for the main thread's calls
        self._finalizer = weakref.finalize(self, _free_client, self._h)
        _live.add(self)

    @property
    def closed(self):
        return self._closed

    @property
    def service(self):
        """The service path from the URL."""
        self._check_open()
        return _l.motan_client_get_service(self._h).decode("utf-8", "replace")

    def _check_open(self):
        if self._closed:
            raise MotanError(_lib.ECLOSED, "client is closed")
        if self._forked:
            raise MotanError(_lib.EFORKED, _FORKED_MSG)

    def call(self, method, *args, timeout=None, attachments=None, method_desc=None,
             hash_key=None, typed=False):
        """Calls method(*args) and returns the result as a Python value.

        timeout: ms for this call (default: the URL's requestTimeout); attachments: dict of
        str -> str sent as request metadata; method_desc: the M_md parameter description
        (e.g. "java.lang.String,int"); hash_key: str or bytes for the consistent-hash load
        balancer; typed: decode with wrappers that keep exact tags (see values.decode).
        Raises RemoteError, TimeoutError, ConnectionError or MotanError.
        """
        with self._cond:
            self._check_open()
            self._active += 1
        try:
            return self._call(method, args, timeout, attachments, method_desc, hash_key, typed)
        finally:
            with self._cond:
                self._active -= 1
                if self._closed and self._active == 0:
                    self._cond.notify_all()

    def _call(self, method, args, timeout, attachments, method_desc, hash_key, typed):
        req = _client_request(self._h, _cstr(method, "method"))
        if not req:
            raise MemoryError("libmotan: cannot create a request")
        resp = ctypes.c_void_p()
        try:
            if args:
                arena = _request_arena(req)
                for arg in args:
                    rc = _add_arg(req, encode(arena, arg))
                    if rc != _lib.OK:
                        raise error_for(rc, "adding an argument")
            if timeout is not None or attachments is not None or method_desc or \
                    hash_key is not None:
                _options(req, timeout, attachments, method_desc, hash_key)
            if threading.current_thread() is threading.main_thread():
                resp.value = self._wait_main(req)
                rc = _lib.OK
            else:
                rc = _client_call(self._h, req, ctypes.byref(resp))
            r = resp.value
            if not r:
                raise error_for(rc or _lib.EINVAL, "motan_client_call gave no response")
            if _response_code(r) != _lib.OK:
                raise from_response(r)
            return decode(_response_value(r), typed)
        finally:
            if resp.value:
                _response_free(resp.value)
            if req not in _abandoned:
                _request_free(req)

    def _wait_main(self, req):
        """The main thread's blocking call: submitted to the pull queue and waited for on the
        completion fd, which a signal interrupts, so Ctrl-C raises KeyboardInterrupt at once
        (a C call blocked in motan_client_call would hold it back until the answer). Then the
        call is cancelled and its completion taken before the request is freed. Only the main
        thread uses this client's queue; other threads block in motan_client_call."""
        tag = next(_tags)
        rc = _submit(self._h, req, tag)
        if rc != _lib.OK:
            raise error_for(rc, _FORKED_MSG if rc == _lib.EFORKED else None)
        resp = ctypes.c_void_p()
        got = ctypes.c_uint64()
        try:
            while True:
                n = _poll(self._h, 0, ctypes.byref(resp), ctypes.byref(got))
                if n == 1:
                    if got.value == tag:
                        return resp.value
                    _response_free(resp.value)  # not ours: none should be there
                elif n < 0:
                    raise error_for(n, "waiting for the answer")
                else:
                    if self._poller is None:
                        self._poller = select.poll()
                        self._poller.register(_l.motan_client_completion_fd(self._h),
                                              select.POLLIN)
                    self._poller.poll()
        except BaseException:
            _cancel(self._h, tag)
            while True:  # the cancelled completion is queued within moments
                n = _poll(self._h, 5000, ctypes.byref(resp), ctypes.byref(got))
                if n != 1:
                    _abandoned.add(req)  # still borrowed by a call: never freed
                    raise
                _response_free(resp.value)
                if got.value == tag:
                    raise

    def close(self):
        """Frees the client after the calls in flight have returned; idempotent."""
        with self._cond:
            self._closed = True
            while self._active:
                self._cond.wait()
        self._finalizer()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return "<motan.Client %s>" % ("(closed)" if self._closed else self.service)


# Requests of calls that could not be taken back (kept alive for the library to read).
_abandoned = set()


def _options(req, timeout, attachments, method_desc, hash_key):
    if timeout is not None:
        if not isinstance(timeout, int) or isinstance(timeout, bool) or \
                not 0 <= timeout <= 0x7FFFFFFF:
            raise ValueError("timeout must be an int number of ms >= 0: %r" % (timeout,))
        _l.motan_request_set_timeout(req, timeout)
    if attachments is not None:
        if not isinstance(attachments, Mapping):
            raise TypeError("attachments must be a dict of str -> str, not %s"
                            % type(attachments).__name__)
        for k, v in attachments.items():
            rc = _l.motan_request_set_meta(req, _cstr(k, "attachment key"),
                                           _cstr(v, "attachment value"))
            if rc != _lib.OK:
                raise ValueError("attachment %r rejected: reserved key, empty key or newline"
                                 % (k,))
    if method_desc:
        rc = _l.motan_request_set_method_desc(req, _cstr(method_desc, "method_desc"))
        if rc != _lib.OK:
            raise error_for(rc, "method_desc rejected")
    if hash_key is not None:
        b = _utf8(hash_key, "hash_key")
        rc = _l.motan_request_set_hash_key(req, b, len(b))
        if rc != _lib.OK:
            raise error_for(rc, "hash_key rejected")
