"""libmotan for Python: a motan2 RPC client over ctypes (no compilation step).

    import motan
    with motan.Client("motan2://127.0.0.1:8002/com.example.EchoService") as c:
        c.call("echo", "hi")                      # -> "hi"
        c.call("hello", motan.Int32(5), timeout=500, attachments={"k": "v"},
               method_desc="int", hash_key="user1")
        await c.acall("echo", "hi")               # from a coroutine, on asyncio
        c.stats()                                 # the client's statistics, a dict

See README.md for the type mapping and the exceptions.
"""

import asyncio
import ctypes
import itertools
import json
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

# Tags of the calls through the pull queue (Client._wait_main and Client.acall).
_tags = itertools.count(1)

# Live clients, so that a child process created by fork() can reset their Python-side state.
_live = weakref.WeakSet()

# The process's one loop (a built-in loop thread) that every Client shares unless it asks for
# its own; made on first use and never freed (clients may be finalized at exit in any order).
# A child process after fork() makes a new one: the parent's can only be freed there.
_loop = None
_loop_lock = threading.Lock()


def _process_loop():
    global _loop
    with _loop_lock:
        if _loop is None or _l.motan_loop_forked(_loop):
            handle = ctypes.c_void_p()
            errbuf = ctypes.create_string_buffer(512)
            rc = _l.motan_loop_new(ctypes.byref(handle), errbuf, len(errbuf))
            if rc != _lib.OK or not handle.value:
                raise error_for(rc or _lib.EINVAL, errbuf.value.decode("utf-8", "replace"))
            _loop = handle.value
        return _loop


def _after_fork_in_child():
    # The parent's other threads did not come along: their calls and their hold on the
    # condition's lock are gone. The library refuses calls here (MOTAN_EFORKED); only
    # freeing remains, which the finalizer does at exit. New clients get a new loop.
    global _loop_lock
    _loop_lock = threading.Lock()
    for c in list(_live):
        c._forked = True
        c._cond = threading.Condition()
        c._active = 0
        c._poller = None
        c._sync = {}
        c._pending = {}
        c._aloop = None


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

    Runs on a built-in loop thread, by default the one loop all Clients of the process share
    (own_loop=True gives this client a thread of its own): call() may be used from many
    threads at once (the GIL is released while a call waits). close() (or leaving a with
    block, or garbage collection) frees it; close() waits for calls in flight to return.
    Raises MotanError (code MOTAN_EURL for a bad URL) when the client cannot be created.
    """

    def __init__(self, url, own_loop=False):
        handle = ctypes.c_void_p()
        errbuf = ctypes.create_string_buffer(512)
        if own_loop:
            rc = _l.motan_client_new(_cstr(url, "url"), ctypes.byref(handle), errbuf,
                                     len(errbuf))
        else:
            rc = _l.motan_client_new_on_loop(_process_loop(), _cstr(url, "url"),
                                             ctypes.byref(handle), errbuf, len(errbuf))
        if rc != _lib.OK or not handle.value:
            raise error_for(rc or _lib.EINVAL, errbuf.value.decode("utf-8", "replace"))
        self._h = handle.value
        self._cond = threading.Condition()
        self._active = 0
        self._closed = False
        self._forked = False
        self._fd = _l.motan_client_completion_fd(self._h)
        self._poller = None  # the completion fd's, for the main thread's calls
        # The pull queue's calls by tag: the main thread's blocking ones (tag -> response
        # handle once taken, else None) and the awaited ones (tag -> (future, request,
        # typed)). Whoever polls the queue routes what it takes (Client._take).
        self._sync = {}
        self._pending = {}
        self._aloop = None  # the event loop watching the completion fd
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

    def _request(self, method, args, timeout, attachments, method_desc, hash_key):
        """A new request handle (owned by the caller) with the arguments and options."""
        req = _client_request(self._h, _cstr(method, "method"))
        if not req:
            raise MemoryError("libmotan: cannot create a request")
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
        except BaseException:
            _request_free(req)
            raise
        return req

    def _call(self, method, args, timeout, attachments, method_desc, hash_key, typed):
        req = self._request(method, args, timeout, attachments, method_desc, hash_key)
        resp = ctypes.c_void_p()
        try:
            if threading.current_thread() is threading.main_thread():
                resp.value = self._wait_main(req)
                rc = _lib.OK
            else:
                rc = _client_call(self._h, req, ctypes.byref(resp))
            r = resp.value
            if not r:
                raise error_for(rc or _lib.EINVAL, "motan_client_call gave no response")
            return _outcome(r, typed)
        finally:
            if resp.value:
                _response_free(resp.value)
            if req not in _abandoned:
                _request_free(req)

    def _wait_main(self, req):
        """The main thread's blocking call: submitted to the pull queue and waited for on the
        completion fd, which a signal interrupts, so Ctrl-C raises KeyboardInterrupt at once
        (a C call blocked in motan_client_call would hold it back until the answer). Then the
        call is cancelled and its completion taken before the request is freed. Other
        threads block in motan_client_call. Awaited calls share the queue: what this wait
        takes for them goes to their futures, and an event loop on another thread may take
        this call's completion for it (hence the wait in slices)."""
        tag = next(_tags)
        with self._cond:
            self._sync[tag] = None
            rc = _submit(self._h, req, tag)
            if rc != _lib.OK:
                del self._sync[tag]
                raise error_for(rc, _FORKED_MSG if rc == _lib.EFORKED else None)
        try:
            while True:
                r = self._take_until(tag)
                if r:
                    return r
                if self._poller is None:
                    self._poller = select.poll()
                    self._poller.register(self._fd, select.POLLIN)
                self._poller.poll(50)
        except BaseException:
            _cancel(self._h, tag)
            for _ in range(100):  # the cancelled completion is queued within moments
                r = self._take_until(tag)
                if r:
                    _response_free(r)
                    raise
                if self._poller is not None:
                    self._poller.poll(50)
            with self._cond:
                self._sync.pop(tag, None)
            _abandoned.add(req)  # still borrowed by a call: never freed
            raise

    def _take_until(self, tag):
        """Routes what the queue holds; the response of sync call `tag` once it is in."""
        while True:
            with self._cond:
                r = self._sync.get(tag)
                if r:
                    del self._sync[tag]
                    return r
                if not self._take():
                    return None

    def _take(self):
        """Takes one completion off the queue and routes it (with self._cond held): a
        blocking call's response to its slot, an awaited call's to its future (settled
        on its event loop). False when the queue was empty."""
        resp = ctypes.c_void_p()
        got = ctypes.c_uint64()
        if _poll(self._h, 0, ctypes.byref(resp), ctypes.byref(got)) != 1:
            return False
        t = got.value
        if t in self._sync:
            self._sync[t] = resp.value
        elif t in self._pending:
            fut, req, typed = self._pending.pop(t)
            try:
                result, error = _outcome(resp.value, typed), None
            except Exception as e:  # a failed call, or a value Python cannot hold
                result, error = None, e
            finally:
                _response_free(resp.value)
                _request_free(req)
            loop = fut.get_loop()
            if loop is _running_loop():
                _settle(fut, result, error)
            else:
                loop.call_soon_threadsafe(_settle, fut, result, error)
        else:
            _response_free(resp.value)  # nobody waits for it (none should be there)
        return True

    # ---- asyncio: the pull queue, its completion fd watched by the event loop ----

    async def acall(self, method, *args, timeout=None, attachments=None, method_desc=None,
                    hash_key=None, typed=False):
        """As call(), awaited: await c.acall("echo", "hi"). The call runs on the library's
        loop thread; the event loop learns of completions through the client's completion fd
        (loop.add_reader), so any number of calls may be awaited at once from one loop.
        Cancelling the awaiting task abandons the result (the call itself still completes
        within its timeout). One client serves one event loop at a time.
        """
        loop = asyncio.get_running_loop()
        with self._cond:
            self._check_open()
            if self._aloop is not None and self._aloop is not loop:
                if self._pending:
                    raise RuntimeError("this client's async calls run on another event loop")
                self._aloop.remove_reader(self._fd)
                self._aloop = None
            if self._aloop is None:
                loop.add_reader(self._fd, self._drain)
                self._aloop = loop
            req = self._request(method, args, timeout, attachments, method_desc, hash_key)
            tag = next(_tags)
            fut = loop.create_future()
            self._pending[tag] = (fut, req, typed)
            rc = _submit(self._h, req, tag)
            if rc != _lib.OK:
                del self._pending[tag]
                _request_free(req)
                raise error_for(rc, _FORKED_MSG if rc == _lib.EFORKED else
                                "cannot submit the call")
        return await fut

    def _drain(self):
        """The completion fd is readable: take every finished call off the queue."""
        while True:
            with self._cond:
                if self._closed or not self._take():
                    return

    def _abandon_async(self):
        """close(): the reader goes, awaiting tasks get MOTAN_ECLOSED (after the free)."""
        if self._aloop is not None:
            try:
                self._aloop.remove_reader(self._fd)
            except (RuntimeError, ValueError):  # the loop is closed or on another thread
                pass
        pending, self._pending = self._pending, {}
        return pending

    # ---- statistics ----

    def stats(self):
        """The client's statistics (docs/observability.md) as a dict: filter=metrics in the
        URL counts calls and attempts; endpoints are always listed."""
        self._check_open()
        p = _l.motan_client_stats_json(self._h)
        if not p:
            raise MemoryError("libmotan: no memory for the statistics")
        try:
            return json.loads(ctypes.string_at(p).decode("utf-8", "replace"))
        finally:
            _l.motan_free(p)

    def prometheus(self):
        """The client's statistics in the Prometheus text format (a str)."""
        self._check_open()
        src = (ctypes.c_void_p * 1)(_l.motan_client_get_stats(self._h))
        out, n = ctypes.c_void_p(), ctypes.c_size_t()
        rc = _l.motan_stats_prometheus(src, 1, ctypes.byref(out), ctypes.byref(n))
        if rc != _lib.OK:
            raise error_for(rc, "motan_stats_prometheus")
        try:
            return ctypes.string_at(out.value, n.value).decode("utf-8", "replace")
        finally:
            _l.motan_free(out.value)

    def close(self):
        """Frees the client after the blocking calls in flight have returned; idempotent.
        Async calls still in flight are cancelled: their awaits raise MotanError
        (MOTAN_ECLOSED)."""
        with self._cond:
            self._closed = True
            while self._active:
                self._cond.wait()
            pending = self._abandon_async()
        self._finalizer()  # completes what is in flight; the library frees their responses
        for fut, req, _ in pending.values():
            _request_free(req)  # borrowed by the library until now
            fut.get_loop().call_soon_threadsafe(_fail, fut, MotanError(_lib.ECLOSED,
                                                                         "client closed"))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return "<motan.Client %s>" % ("(closed)" if self._closed else self.service)


# Requests of calls that could not be taken back (kept alive for the library to read).
_abandoned = set()


def _outcome(r, typed):
    """The value of a response handle, or the exception it stands for (raised)."""
    if _response_code(r) != _lib.OK:
        raise from_response(r)
    return decode(_response_value(r), typed)


def _running_loop():
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _settle(fut, result, error):
    if fut.done():  # the awaiting task was cancelled
        return
    if error is None:
        fut.set_result(result)
    else:
        fut.set_exception(error)


def _fail(fut, error):
    if not fut.done():
        fut.set_exception(error)


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
