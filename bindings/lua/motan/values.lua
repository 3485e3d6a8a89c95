-- Lua values <-> Simple values (motan_value trees in an arena).
--
-- Encoding: string -> string; integral number within +-2^53 -> int64, other numbers (and -0.0)
-- -> float64; int64_t/uint64_t cdata -> int64; boolean -> bool; nil / motan.null -> null;
-- table with keys exactly 1..n (n > 0) -> array; any other table -> map; wrappers (below)
-- -> their exact tag.
-- Decoding: string and bytes -> string; integers of every width -> number, int64 outside
-- +-2^53 -> int64_t cdata; floats -> number; bool -> boolean; arrays and string arrays ->
-- sequences; maps and string maps -> tables (keys of any type); null -> motan.null inside
-- containers, nil at the top.
local ffi = require("ffi")
local cdef = require("motan.cdef")
local errors = require("motan.errors")

local C = cdef.C
local M = {}

local T = {
    null = 0, string = 1, string_map = 2, bytes = 3, string_array = 4, bool = 5, byte = 6,
    int16 = 7, int32 = 8, int64 = 9, float32 = 10, float64 = 11, map = 20, array = 21,
}
M.tags = T
M.type_names = {}
for name, tag in pairs(T) do
    M.type_names[tag] = name
end

local MAX_DEPTH = 64 -- MOTAN_MAX_DEPTH: the library refuses deeper values anyway
local INT53 = 2 ^ 53
local INT63 = 2 ^ 63
local int64_t = ffi.typeof("int64_t")
local uint64_t = ffi.typeof("uint64_t")
local floor = math.floor
local lenbuf = ffi.new("size_t[1]")

local function invalid(msg)
    error(errors.new(errors.EINVAL, "MOTAN_EINVAL", msg), 0)
end
M.invalid = invalid

-- ---- null and wrappers --------------------------------------------------------------------

M.null = setmetatable({}, {
    __tostring = function() return "motan.null" end,
    __newindex = function() error("motan.null is read-only", 2) end,
    __metatable = "motan.null",
})

-- A wrapper is {tag = "<type name>", value = <payload>}; the payload is checked when the
-- wrapper is made, so a bad value fails where it is written, not at call time.
local Wrapper = {}
Wrapper.__index = Wrapper
Wrapper.__tostring = function(w)
    return "motan." .. w.tag .. "(" .. tostring(w.value) .. ")"
end
M.Wrapper = Wrapper

local function wrap(tag, v)
    return setmetatable({ tag = tag, value = v }, Wrapper)
end

local function integer(x, lo, hi, what)
    if type(x) ~= "number" or floor(x) ~= x or x < lo or x > hi then
        invalid(string.format("%s expects an integer in %.0f..%.0f, got %s", what, lo, hi,
            tostring(x)))
    end
    return x
end

function M.byte(n)
    n = integer(n, -128, 255, "motan.byte")
    return wrap("byte", n < 0 and n + 256 or n)
end

function M.int16(n)
    return wrap("int16", integer(n, -32768, 32767, "motan.int16"))
end

function M.int32(n)
    return wrap("int32", integer(n, -2147483648, 2147483647, "motan.int32"))
end

-- A number (integral, |n| < 2^63; precise only within +-2^53) or an int64_t / uint64_t cdata.
function M.int64(n)
    if type(n) == "cdata" then
        if ffi.istype(int64_t, n) then
            return wrap("int64", n)
        end
        if ffi.istype(uint64_t, n) and n <= 0x7fffffffffffffffULL then
            return wrap("int64", ffi.cast(int64_t, n))
        end
        invalid("motan.int64 expects an int64_t, a uint64_t below 2^63 or a number")
    end
    if type(n) ~= "number" or floor(n) ~= n or n < -INT63 or n >= INT63 then
        invalid("motan.int64 expects an integer below 2^63, got " .. tostring(n))
    end
    return wrap("int64", n)
end

local function float(tag)
    return function(x)
        if type(x) ~= "number" then
            invalid("motan." .. tag .. " expects a number, got " .. type(x))
        end
        return wrap(tag, x)
    end
end
M.float32 = float("float32")
M.float64 = float("float64")

local function str(tag)
    return function(s)
        if type(s) ~= "string" then
            invalid("motan." .. tag .. " expects a string, got " .. type(s))
        end
        return wrap(tag, s)
    end
end
M.bytes = str("bytes")
M.string = str("string")

-- Highest positive integer key of t and the number of keys; nil when t has any other key.
local function seq_len(t)
    local n, count = 0, 0
    for k in pairs(t) do
        if type(k) ~= "number" or k < 1 or floor(k) ~= k then
            return nil
        end
        count = count + 1
        if k > n then
            n = k
        end
    end
    return n, count
end

-- An explicit array: elements t[1..n] where n is the highest integer key (holes are null).
function M.array(t)
    t = t or {}
    if type(t) ~= "table" or getmetatable(t) ~= nil or not seq_len(t) then
        invalid("motan.array expects a plain table with integer keys 1..n")
    end
    return wrap("array", t)
end

function M.map(t)
    t = t or {}
    if type(t) ~= "table" or getmetatable(t) ~= nil then
        invalid("motan.map expects a plain table")
    end
    return wrap("map", t)
end

function M.string_map(t)
    t = t or {}
    if type(t) ~= "table" or getmetatable(t) ~= nil then
        invalid("motan.string_map expects a table of strings")
    end
    for k, v in pairs(t) do
        if type(k) ~= "string" or type(v) ~= "string" then
            invalid("motan.string_map: keys and values must be strings")
        end
    end
    return wrap("string_map", t)
end

function M.string_array(t)
    t = t or {}
    local n = type(t) == "table" and getmetatable(t) == nil and seq_len(t)
    if not n then
        invalid("motan.string_array expects a sequence of strings")
    end
    for i = 1, n do
        if type(t[i]) ~= "string" then
            invalid("motan.string_array: element " .. i .. " is not a string")
        end
    end
    return wrap("string_array", t)
end

-- ---- encoding -----------------------------------------------------------------------------

local function built(p)
    if p == nil then
        error(errors.new(-1, "MOTAN_ENOMEM", "out of memory"), 0)
    end
    return p
end

local function check(rc, what)
    if rc ~= 0 then
        error(errors.new(rc, ffi.string(C.motan_errname(rc)), what), 0)
    end
end

local encode

local function encode_number(a, x)
    if floor(x) == x and x >= -INT53 and x <= INT53 and (x ~= 0 or 1 / x > 0) then
        return C.motan_value_new_int64(a, x)
    end
    return C.motan_value_new_float64(a, x)
end

local function encode_array(a, t, n, depth)
    local arr = built(C.motan_value_new_container(a, T.array))
    for i = 1, n do
        check(C.motan_value_append(arr, encode(a, t[i], depth)), "cannot append to an array")
    end
    return arr
end

local function encode_map(a, t, depth)
    local map = built(C.motan_value_new_container(a, T.map))
    for k, v in pairs(t) do
        check(C.motan_value_map_put(map, encode(a, k, depth), encode(a, v, depth)),
            "cannot put into a map")
    end
    return map
end

local function encode_strings(a, w)
    local c = built(C.motan_value_new_container(a, T[w.tag]))
    if w.tag == "string_map" then
        for k, v in pairs(w.value) do
            check(C.motan_value_map_put(c, built(C.motan_value_new_string(a, k, #k)),
                built(C.motan_value_new_string(a, v, #v))), "cannot put into a string map")
        end
    else
        for _, s in ipairs(w.value) do
            check(C.motan_value_append(c, built(C.motan_value_new_string(a, s, #s))),
                "cannot append to a string array")
        end
    end
    return c
end

local function encode_wrapper(a, w, depth)
    local tag, v = w.tag, w.value
    if tag == "byte" then
        return C.motan_value_new_byte(a, v)
    elseif tag == "int16" then
        return C.motan_value_new_int16(a, v)
    elseif tag == "int32" then
        return C.motan_value_new_int32(a, v)
    elseif tag == "int64" then
        return C.motan_value_new_int64(a, v)
    elseif tag == "float32" then
        return C.motan_value_new_float32(a, v)
    elseif tag == "float64" then
        return C.motan_value_new_float64(a, v)
    elseif tag == "bytes" then
        return C.motan_value_new_bytes(a, v, #v)
    elseif tag == "string" then
        return C.motan_value_new_string(a, v, #v)
    elseif tag == "array" then
        return encode_array(a, v, seq_len(v), depth)
    elseif tag == "map" then
        return encode_map(a, v, depth)
    end
    return encode_strings(a, w)
end

-- Builds v in arena a; raises a motan error table for values that have no Simple form.
encode = function(a, v, depth)
    local ty = type(v)
    if ty == "string" then
        return built(C.motan_value_new_string(a, v, #v))
    elseif ty == "number" then
        return built(encode_number(a, v))
    elseif ty == "boolean" then
        return built(C.motan_value_new_bool(a, v and 1 or 0))
    elseif ty == "nil" then
        return built(C.motan_value_new_null(a))
    elseif ty == "table" then
        if v == M.null then
            return built(C.motan_value_new_null(a))
        end
        depth = (depth or 0) + 1
        if depth > MAX_DEPTH then
            invalid("value nested deeper than " .. MAX_DEPTH .. " levels (a cycle?)")
        end
        if getmetatable(v) == Wrapper then
            return built(encode_wrapper(a, v, depth))
        end
        local n, count = seq_len(v)
        if n and n > 0 and count == n then
            return encode_array(a, v, n, depth)
        end
        return encode_map(a, v, depth)
    elseif ty == "cdata" then
        return built(encode_wrapper(a, M.int64(v), depth))
    end
    invalid("cannot send a " .. ty .. " as a motan value")
end
M.encode = encode

-- ---- decoding -----------------------------------------------------------------------------

local decode

local function decode_int64(p)
    local v = C.motan_value_get_int(p)
    if v >= -INT53 and v <= INT53 then
        return tonumber(v)
    end
    return v
end

-- p: a const motan_value *; null comes back as motan.null.
decode = function(p)
    local t = C.motan_value_type(p)
    if t == 1 or t == 3 then
        local s = C.motan_value_get_data(p, lenbuf)
        return ffi.string(s, lenbuf[0])
    elseif t == 9 then
        return decode_int64(p)
    elseif t >= 6 and t <= 8 then
        return tonumber(C.motan_value_get_int(p))
    elseif t == 10 or t == 11 then
        return C.motan_value_get_float(p)
    elseif t == 5 then
        return C.motan_value_get_bool(p) ~= 0
    elseif t == 0 then
        return M.null
    end
    local n = tonumber(C.motan_value_count(p))
    local out = {}
    if t == 21 or t == 4 then
        for i = 0, n - 1 do
            out[i + 1] = decode(C.motan_value_at(p, i))
        end
        return out
    end
    for i = 0, n - 1 do
        local k = decode(C.motan_value_key_at(p, i))
        if k ~= k then
            error(errors.new(-4, "MOTAN_EDECODE", "a map key is NaN (no Lua table key)"), 0)
        end
        out[k] = decode(C.motan_value_value_at(p, i))
    end
    return out
end

-- Top-level decode: null is nil.
function M.decode(p)
    if p == nil then
        return nil
    end
    local v = decode(p)
    if v == M.null then
        return nil
    end
    return v
end

-- ---- typed JSON (docs/typed-json.md) -----------------------------------------------

local function with_arena(fn, ...)
    local a = built(C.motan_arena_new())
    local ok, res = pcall(fn, a, ...)
    C.motan_arena_free(a)
    if not ok then
        error(res, 0)
    end
    return res
end

-- The canonical typed JSON of a value as the binding encodes it (for logs and tests).
function M.format_tjson(p)
    local s = C.motan_tjson_format(p)
    if s == nil then
        error(errors.new(-1, "MOTAN_ENOMEM", "out of memory"), 0)
    end
    local text = ffi.string(s)
    C.motan_free(s)
    return text
end

function M.to_tjson(v)
    return with_arena(function(a)
        return M.format_tjson(encode(a, v))
    end)
end

function M.from_tjson(text)
    if type(text) ~= "string" then
        invalid("from_tjson expects a string")
    end
    return with_arena(function(a)
        local out = ffi.new("motan_value *[1]")
        local errbuf = ffi.new("char[256]")
        local rc = C.motan_tjson_parse(text, #text, a, out, errbuf, 256)
        if rc ~= 0 then
            error(errors.new(rc, ffi.string(C.motan_errname(rc)), ffi.string(errbuf)), 0)
        end
        return M.decode(out[0])
    end)
end

return M
