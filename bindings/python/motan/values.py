"""Python values <-> Simple values (motan_value trees in a request's or response's arena).

Encoding: None -> null, bool -> bool, int -> int64, float -> float64, str -> string (UTF-8),
bytes/bytearray/memoryview -> bytes, list/tuple -> array, dict -> map; the wrappers below pick
an exact tag. Decoding goes the other way; see decode() for the details.
"""

import ctypes
import math
import struct

from . import _lib

MAX_DEPTH = 64  # MOTAN_MAX_DEPTH: the library's decoders refuse deeper trees anyway


def _check_range(cls, n, lo, hi):
    if not isinstance(n, int) or isinstance(n, bool):
        raise TypeError("%s needs an int, not %s" % (cls.__name__, type(n).__name__))
    if not lo <= n <= hi:
        raise OverflowError("%s out of range %d..%d: %d" % (cls.__name__, lo, hi, n))


class Byte(int):
    """Simple byte (tag 6), 0..255; -128..-1 are accepted as Java's signed bytes (n & 0xff)."""

    def __new__(cls, n=0):
        _check_range(cls, n, -128, 255)
        return super().__new__(cls, n & 0xFF)

    def __repr__(self):
        return "motan.Byte(%d)" % int(self)


class Int16(int):
    """Simple int16 (tag 7)."""

    def __new__(cls, n=0):
        _check_range(cls, n, -(1 << 15), (1 << 15) - 1)
        return super().__new__(cls, n)

    def __repr__(self):
        return "motan.Int16(%d)" % int(self)


class Int32(int):
    """Simple int32 (tag 8), Java's int."""

    def __new__(cls, n=0):
        _check_range(cls, n, -(1 << 31), (1 << 31) - 1)
        return super().__new__(cls, n)

    def __repr__(self):
        return "motan.Int32(%d)" % int(self)


class Int64(int):
    """Simple int64 (tag 9): what a plain int becomes anyway; spelled out for clarity."""

    def __new__(cls, n=0):
        _check_range(cls, n, -(1 << 63), (1 << 63) - 1)
        return super().__new__(cls, n)

    def __repr__(self):
        return "motan.Int64(%d)" % int(self)


class Float32(float):
    """Simple float32 (tag 10); the value is rounded to single precision at construction so
    that what is sent is what compares equal (OverflowError beyond float32's range)."""

    def __new__(cls, x=0.0):
        x = float(x)
        try:
            f = struct.unpack("f", struct.pack("f", x))[0]
        except OverflowError:
            f = math.inf
        if math.isinf(f) and not math.isinf(x):
            raise OverflowError("Float32 out of range: %r" % x)
        return super().__new__(cls, f)

    def __repr__(self):
        return "motan.Float32(%r)" % float(self)


class StringMap(dict):
    """Simple string map (tag 2): Java's Map<String,String>; keys and values str or bytes."""

    def __repr__(self):
        return "motan.StringMap(%s)" % dict.__repr__(self)


class StringArray(list):
    """Simple string array (tag 4): Java's String[]; items str or bytes."""

    def __repr__(self):
        return "motan.StringArray(%s)" % list.__repr__(self)


# ---- encoding ---------------------------------------------------------------------------

_lib_ = _lib.lib
_new_null = _lib_.motan_value_new_null
_new_bool = _lib_.motan_value_new_bool
_new_int64 = _lib_.motan_value_new_int64
_new_float64 = _lib_.motan_value_new_float64
_new_string = _lib_.motan_value_new_string
_new_bytes = _lib_.motan_value_new_bytes
_new_container = _lib_.motan_value_new_container
_append = _lib_.motan_value_append
_map_put = _lib_.motan_value_map_put

_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1


def _ok(v):
    if not v:
        raise MemoryError("libmotan: out of memory building a value")
    return v


def _utf8(s, what):
    """UTF-8 bytes of a str, or the bytes of a bytes-like object."""
    if isinstance(s, str):
        return s.encode("utf-8")
    if isinstance(s, (bytes, bytearray, memoryview)):
        return bytes(s)
    raise TypeError("%s must be str or bytes, not %s" % (what, type(s).__name__))


def _string(a, b):
    return _ok(_new_string(a, b, len(b)))


def _enc_none(a, obj, depth):
    return _ok(_new_null(a))


def _enc_bool(a, obj, depth):
    return _ok(_new_bool(a, 1 if obj else 0))


def _enc_int(a, obj, depth):
    if not _INT64_MIN <= obj <= _INT64_MAX:
        raise OverflowError("int does not fit int64: %d" % obj)
    return _ok(_new_int64(a, obj))


def _enc_float(a, obj, depth):
    return _ok(_new_float64(a, obj))


def _enc_str(a, obj, depth):
    return _string(a, obj.encode("utf-8"))


def _enc_bytes(a, obj, depth):
    b = bytes(obj)
    return _ok(_new_bytes(a, b, len(b)))


def _enc_fixed(fn):
    return lambda a, obj, depth: _ok(fn(a, obj))


def _enc_list(a, obj, depth):
    arr = _ok(_new_container(a, _lib.T_ARRAY))
    for item in obj:
        _check(_append(arr, encode(a, item, depth + 1)))
    return arr


def _enc_dict(a, obj, depth):
    m = _ok(_new_container(a, _lib.T_MAP))
    for k, v in obj.items():
        _check(_map_put(m, encode(a, k, depth + 1), encode(a, v, depth + 1)))
    return m


def _enc_string_map(a, obj, depth):
    m = _ok(_new_container(a, _lib.T_STRING_MAP))
    for k, v in obj.items():
        _check(_map_put(m, _string(a, _utf8(k, "StringMap items")),
                        _string(a, _utf8(v, "StringMap items"))))
    return m


def _enc_string_array(a, obj, depth):
    arr = _ok(_new_container(a, _lib.T_STRING_ARRAY))
    for item in obj:
        _check(_append(arr, _string(a, _utf8(item, "StringArray items"))))
    return arr


def _check(rc):
    if rc != _lib.OK:
        from .errors import error_for
        raise error_for(rc, "building a value")


# Exact type -> encoder; subclasses are matched by the isinstance walk in encode().
_ENCODERS = {
    type(None): _enc_none,
    bool: _enc_bool,
    Byte: _enc_fixed(_lib_.motan_value_new_byte),
    Int16: _enc_fixed(_lib_.motan_value_new_int16),
    Int32: _enc_fixed(_lib_.motan_value_new_int32),
    Int64: _enc_int,
    int: _enc_int,
    Float32: _enc_fixed(_lib_.motan_value_new_float32),
    float: _enc_float,
    str: _enc_str,
    bytes: _enc_bytes,
    bytearray: _enc_bytes,
    memoryview: _enc_bytes,
    StringMap: _enc_string_map,
    StringArray: _enc_string_array,
    list: _enc_list,
    tuple: _enc_list,
    dict: _enc_dict,
}
# Most specific first: the wrappers subclass int/float/dict/list, bool subclasses int.
_ORDER = (bool, Byte, Int16, Int32, Int64, int, Float32, float, str, bytes, bytearray,
          memoryview, StringMap, StringArray, list, tuple, dict)


def encode(a, obj, depth=0):
    """A motan_value pointer for obj, built in arena a."""
    if depth > MAX_DEPTH:
        raise ValueError("value nested deeper than %d levels (a cycle?)" % MAX_DEPTH)
    enc = _ENCODERS.get(type(obj))
    if enc is None:
        for t in _ORDER:
            if isinstance(obj, t):
                enc = _ENCODERS[t]
                break
        else:
            raise TypeError("cannot send a %s as a motan value" % type(obj).__name__)
    return enc(a, obj, depth)


# ---- decoding ---------------------------------------------------------------------------

_type = _lib_.motan_value_type
_get_bool = _lib_.motan_value_get_bool
_get_int = _lib_.motan_value_get_int
_get_float = _lib_.motan_value_get_float
_get_data = _lib_.motan_value_get_data
_count = _lib_.motan_value_count
_at = _lib_.motan_value_at
_key_at = _lib_.motan_value_key_at
_value_at = _lib_.motan_value_value_at
_string_at = ctypes.string_at
_size_t = ctypes.c_size_t
_byref = ctypes.byref


def _data(v):
    n = _size_t()
    p = _get_data(v, _byref(n))
    return _string_at(p, n.value) if p else b""


def _text(v):
    b = _data(v)
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        return b  # not UTF-8: the raw bytes, rather than losing data


def _freeze(x):
    """A hashable stand-in for a map key: lists -> tuples, dicts -> tuples of (k, v) pairs."""
    if isinstance(x, list):
        return tuple(_freeze(i) for i in x)
    if isinstance(x, dict):
        return tuple((k, _freeze(i)) for k, i in x.items())
    return x


def decode(v, typed=False):
    """Python value of a motan_value pointer (None for NULL).

    string -> str (bytes when not valid UTF-8), bytes -> bytes, byte/int16/int32/int64 -> int,
    float32/float64 -> float, bool -> bool, null -> None, array/string array -> list,
    map/string map -> dict. typed=True keeps the exact tag: Byte, Int16, Int32, Float32,
    StringMap and StringArray come back as those wrappers (int64, float64 stay int, float).
    Map keys that are arrays or maps become tuples (see _freeze).
    """
    if not v:
        return None
    t = _type(v)
    if t == _lib.T_STRING:
        return _text(v)
    if t == _lib.T_INT64:
        return _get_int(v)
    if t == _lib.T_BYTES:
        return _data(v)
    if t == _lib.T_BOOL:
        return bool(_get_bool(v))
    if t == _lib.T_NULL:
        return None
    if t == _lib.T_FLOAT64:
        return _get_float(v)
    if t in (_lib.T_ARRAY, _lib.T_STRING_ARRAY):
        out = [decode(_at(v, i), typed) for i in range(_count(v))]
        return StringArray(out) if typed and t == _lib.T_STRING_ARRAY else out
    if t in (_lib.T_MAP, _lib.T_STRING_MAP):
        out = StringMap() if typed and t == _lib.T_STRING_MAP else {}
        for i in range(_count(v)):
            k = decode(_key_at(v, i), typed)
            if isinstance(k, (list, dict)):
                k = _freeze(k)
            out[k] = decode(_value_at(v, i), typed)
        return out
    if t in (_lib.T_BYTE, _lib.T_INT16, _lib.T_INT32):
        n = _get_int(v)
        if typed:
            return (Byte if t == _lib.T_BYTE else Int16 if t == _lib.T_INT16 else Int32)(n)
        return n
    if t == _lib.T_FLOAT32:
        x = _get_float(v)
        return Float32(x) if typed else x
    raise ValueError("unknown Simple type tag %d" % t)
