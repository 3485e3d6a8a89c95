"""Loads libmotan.so and declares the prototypes of every function the binding uses."""

import ctypes
import os
from ctypes import (POINTER, c_char_p, c_double, c_float, c_int, c_int16, c_int32, c_int64,
                    c_size_t, c_uint8, c_uint64, c_void_p)

_HERE = os.path.dirname(os.path.abspath(__file__))
# bindings/python/motan -> repo root -> build/lib (a convenience for a source checkout).
_REPO_LIB = os.path.join(_HERE, "..", "..", "..", "build", "lib", "libmotan.so.1")


def _load():
    """MOTAN_LIB (a path), then the dynamic loader's search, then the repo's build/lib."""
    env = os.environ.get("MOTAN_LIB")
    if env:
        return ctypes.CDLL(env), env  # an explicit choice fails loudly
    errors = []
    for name in ("libmotan.so.1", os.path.normpath(_REPO_LIB)):
        try:
            return ctypes.CDLL(name), name
        except OSError as e:
            errors.append(str(e))
    raise OSError("libmotan not found (set MOTAN_LIB to its path): " + "; ".join(errors))


lib, path = _load()

# c_void_p for every handle and every value pointer (values are borrowed from arenas);
# c_char_p only for NUL-terminated strings. Data + length goes out as c_char_p (bytes keep
# embedded NULs when a length is passed) and comes back as c_void_p read with string_at.
_PROTOS = {
    "motan_errname": (c_char_p, [c_int]),
    "motan_strerror": (c_char_p, [c_int]),
    "motan_version": (c_char_p, []),
    "motan_free": (None, [c_void_p]),
    "motan_client_new": (c_int, [c_char_p, POINTER(c_void_p), c_char_p, c_size_t]),
    "motan_client_new_on_loop": (c_int, [c_void_p, c_char_p, POINTER(c_void_p), c_char_p,
                                         c_size_t]),
    "motan_loop_new": (c_int, [POINTER(c_void_p), c_char_p, c_size_t]),
    "motan_loop_forked": (c_int, [c_void_p]),
    "motan_client_free": (None, [c_void_p]),
    "motan_client_call": (c_int, [c_void_p, c_void_p, POINTER(c_void_p)]),
    "motan_client_cancel": (c_int, [c_void_p, c_uint64]),
    "motan_client_request": (c_void_p, [c_void_p, c_char_p]),
    "motan_client_get_service": (c_char_p, [c_void_p]),
    "motan_client_submit": (c_int, [c_void_p, c_void_p, c_uint64]),
    "motan_client_poll": (c_int, [c_void_p, c_int, POINTER(c_void_p), POINTER(c_uint64)]),
    "motan_client_completion_fd": (c_int, [c_void_p]),
    "motan_client_stats_json": (c_void_p, [c_void_p]),
    "motan_client_get_stats": (c_void_p, [c_void_p]),
    "motan_stats_prometheus": (c_int, [POINTER(c_void_p), c_size_t, POINTER(c_void_p),
                                       POINTER(c_size_t)]),
    "motan_request_free": (None, [c_void_p]),
    "motan_request_arena": (c_void_p, [c_void_p]),
    "motan_request_add_arg": (c_int, [c_void_p, c_void_p]),
    "motan_request_set_meta": (c_int, [c_void_p, c_char_p, c_char_p]),
    "motan_request_set_method_desc": (c_int, [c_void_p, c_char_p]),
    "motan_request_set_hash_key": (c_int, [c_void_p, c_char_p, c_size_t]),
    "motan_request_set_timeout": (None, [c_void_p, c_int]),
    "motan_response_free": (None, [c_void_p]),
    "motan_response_get_code": (c_int, [c_void_p]),
    "motan_response_get_value": (c_void_p, [c_void_p]),
    "motan_response_get_errmsg": (c_char_p, [c_void_p]),
    "motan_response_get_errcode": (c_int64, [c_void_p]),
    "motan_response_get_errtype": (c_int, [c_void_p]),
    "motan_value_new_null": (c_void_p, [c_void_p]),
    "motan_value_new_bool": (c_void_p, [c_void_p, c_int]),
    "motan_value_new_byte": (c_void_p, [c_void_p, c_uint8]),
    "motan_value_new_int16": (c_void_p, [c_void_p, c_int16]),
    "motan_value_new_int32": (c_void_p, [c_void_p, c_int32]),
    "motan_value_new_int64": (c_void_p, [c_void_p, c_int64]),
    "motan_value_new_float32": (c_void_p, [c_void_p, c_float]),
    "motan_value_new_float64": (c_void_p, [c_void_p, c_double]),
    "motan_value_new_string": (c_void_p, [c_void_p, c_char_p, c_size_t]),
    "motan_value_new_bytes": (c_void_p, [c_void_p, c_char_p, c_size_t]),
    "motan_value_new_container": (c_void_p, [c_void_p, c_int]),
    "motan_value_append": (c_int, [c_void_p, c_void_p]),
    "motan_value_map_put": (c_int, [c_void_p, c_void_p, c_void_p]),
    "motan_value_type": (c_int, [c_void_p]),
    "motan_value_get_bool": (c_int, [c_void_p]),
    "motan_value_get_int": (c_int64, [c_void_p]),
    "motan_value_get_float": (c_double, [c_void_p]),
    "motan_value_get_data": (c_void_p, [c_void_p, POINTER(c_size_t)]),
    "motan_value_count": (c_size_t, [c_void_p]),
    "motan_value_at": (c_void_p, [c_void_p, c_size_t]),
    "motan_value_key_at": (c_void_p, [c_void_p, c_size_t]),
    "motan_value_value_at": (c_void_p, [c_void_p, c_size_t]),
}

for _name, (_res, _args) in _PROTOS.items():
    _f = getattr(lib, _name)
    _f.restype = _res
    _f.argtypes = _args

# Error codes and type tags the binding branches on (include/motan/core.h, codec.h).
OK = 0
EINVAL = -2
ETIMEOUT = -11
ECONNECT = -12
ECANCELLED = -14
ECLOSED = -18
EREMOTE = -15
ENOENDPOINT = -16
EFORKED = -22

T_NULL, T_STRING, T_STRING_MAP, T_BYTES, T_STRING_ARRAY = 0, 1, 2, 3, 4
T_BOOL, T_BYTE, T_INT16, T_INT32, T_INT64, T_FLOAT32, T_FLOAT64 = 5, 6, 7, 8, 9, 10, 11
T_MAP, T_ARRAY = 20, 21
