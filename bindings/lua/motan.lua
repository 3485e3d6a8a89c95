-- libmotan for LuaJIT (ffi): a motan2 RPC client without a sidecar.
--
--   local motan = require("motan")
--   local c = motan.client("motan2://127.0.0.1:8002/com.example.EchoService")
--   print(c:call("echo", "hi"))
--   print(c:call("add", 2, 3, motan.opts{timeout = 500, attachments = {k = "v"}}))
--
-- Calls block (motan_client_call on the client's built-in loop); no Lua function is ever
-- handed to C. Options are an optional last argument made by motan.opts. Errors are raised
-- as tables (see motan/errors.lua); value mapping is in motan/values.lua. README.md has more.
local ffi = require("ffi")
local cdef = require("motan.cdef")
local errors = require("motan.errors")
local values = require("motan.values")

local C = cdef.C
local motan = {}

motan.lib_path = cdef.path
motan.null = values.null
for _, name in ipairs({ "byte", "int16", "int32", "int64", "float32", "float64", "bytes",
    "string", "array", "map", "string_map", "string_array", "to_tjson", "from_tjson" }) do
    motan[name] = values[name]
end
motan.Error = errors.Error
motan.is_error = errors.is_error
motan.is_remote = errors.is_remote
motan.is_timeout = errors.is_timeout
motan.is_connection = errors.is_connection

function motan.version()
    return ffi.string(C.motan_version())
end

local function raise(code, message, errcode, errtype)
    if message == nil or message == "" then
        message = ffi.string(C.motan_strerror(code))
    end
    error(errors.new(code, ffi.string(C.motan_errname(code)), message, errcode, errtype), 0)
end

-- Text for a C string parameter: an embedded NUL would end it early in C (a different method
-- or URL than the one written), so it is refused.
local function cstring(s, what)
    if s:find("\0", 1, true) then
        values.invalid(what .. " contains a NUL byte")
    end
    return s
end

-- ---- options ------------------------------------------------------------------------------

local Opts = { __metatable = "motan.opts" }

local opt_checks = {
    timeout = function(v)
        return type(v) == "number" and v >= 0 and v <= 2147483647 and math.floor(v) == v
    end,
    method_desc = function(v) return type(v) == "string" end,
    hash_key = function(v) return type(v) == "string" end,
    attachments = function(v)
        if type(v) ~= "table" then
            return false
        end
        for k, s in pairs(v) do
            if type(k) ~= "string" or type(s) ~= "string" then
                return false
            end
        end
        return true
    end,
}

-- Per-call options: timeout (ms; 0 = the URL's requestTimeout), attachments (string ->
-- string), method_desc (M_md, e.g. "java.lang.String,long") and hash_key (consistent hash).
-- Pass the result as the last argument of call/invoke. Unknown keys are an error.
function motan.opts(t)
    local o = {}
    for k, v in pairs(t or {}) do
        local ok = opt_checks[k]
        if not ok then
            values.invalid("motan.opts: unknown option '" .. tostring(k) .. "'")
        end
        if not ok(v) then
            values.invalid("motan.opts: bad value for '" .. k .. "': " .. tostring(v))
        end
        o[k] = v
    end
    return setmetatable(o, Opts)
end

local function is_opts(v)
    return type(v) == "table" and getmetatable(v) == "motan.opts"
end

local function apply_opts(req, o)
    if o.timeout then
        C.motan_request_set_timeout(req, o.timeout)
    end
    if o.method_desc then
        local rc = C.motan_request_set_method_desc(req, cstring(o.method_desc, "method_desc"))
        if rc ~= 0 then
            raise(rc, "bad method_desc")
        end
    end
    if o.hash_key then
        local rc = C.motan_request_set_hash_key(req, o.hash_key, #o.hash_key)
        if rc ~= 0 then
            raise(rc, "bad hash_key")
        end
    end
    for k, v in pairs(o.attachments or {}) do
        local rc = C.motan_request_set_meta(req, cstring(k, "an attachment key"),
            cstring(v, "attachment '" .. k:gsub("%z", "\\0") .. "'"))
        if rc ~= 0 then
            raise(rc, "bad attachment '" .. k .. "' (reserved key, empty key or a newline)")
        end
    end
end

-- ---- client -------------------------------------------------------------------------------

local Client = {}
Client.__index = Client
Client.__tostring = function(c)
    return "motan.client(" .. c.url .. (c._h and "" or ", closed") .. ")"
end

-- c.call(...) instead of c:call(...) passes the method name as the client.
local function check_self(self, name)
    if getmetatable(self) ~= Client then
        values.invalid("use c:" .. name .. "(...) with a colon: c." .. name ..
            "(...) was called without the client")
    end
end


-- The process's one loop thread, shared by every client unless it asks for its own; made on
-- first use, never freed (clients may be collected in any order). A child process after
-- fork() makes a new one: the parent's can only be freed there.
local shared_loop

local function process_loop()
    if shared_loop == nil or C.motan_loop_forked(shared_loop) ~= 0 then
        local out = ffi.new("motan_loop *[1]")
        local errbuf = ffi.new("char[512]")
        local rc = C.motan_loop_new(out, errbuf, 512)
        if rc ~= 0 then
            raise(rc, ffi.string(errbuf))
        end
        shared_loop = out[0]
    end
    return shared_loop
end

-- Creates a client from a URL on the process's shared loop thread (motan_client_new_on_loop),
-- or on a loop thread of its own with options { own_loop = true } (motan_client_new).
-- Raises on a bad URL.
function motan.client(url, options)
    if type(url) ~= "string" then
        values.invalid("motan.client expects a URL string")
    end
    if options ~= nil and type(options) ~= "table" then
        values.invalid("motan.client options must be a table")
    end
    local out = ffi.new("motan_client *[1]")
    local errbuf = ffi.new("char[512]")
    local rc
    if options and options.own_loop then
        rc = C.motan_client_new(cstring(url, "the URL"), out, errbuf, 512)
    else
        rc = C.motan_client_new_on_loop(process_loop(), cstring(url, "the URL"), out, errbuf, 512)
    end
    if rc ~= 0 then
        raise(rc, ffi.string(errbuf))
    end
    return setmetatable({ _h = ffi.gc(out[0], C.motan_client_free), url = url }, Client)
end

-- Frees the client now (pending calls of other threads end with MOTAN_ECANCELLED); the
-- garbage collector does the same for a client that is dropped. Closing twice is harmless.
function Client:close()
    check_self(self, "close")
    local h = self._h
    if h then
        self._h = nil
        ffi.gc(h, nil)
        C.motan_client_free(h)
    end
end

function Client:service()
    check_self(self, "service")
    if not self._h then
        raise(errors.ECLOSED, "the client is closed")
    end
    return ffi.string(C.motan_client_get_service(self._h))
end

-- Waits until the client has an endpoint (useful after creating a registry-based client);
-- raises the error (e.g. MOTAN_ETIMEOUT) when none came within timeout_ms.
function Client:wait_ready(timeout_ms)
    check_self(self, "wait_ready")
    if not self._h then
        raise(errors.ECLOSED, "the client is closed")
    end
    local rc = C.motan_client_wait_ready(self._h, timeout_ms or 1000)
    if rc ~= 0 then
        raise(rc, "no endpoint is ready")
    end
end

-- The client's statistics (docs/observability.md) as a JSON string: with filter=metrics
-- in the URL, calls and attempts by method and endpoint; endpoints always.
function Client:stats()
    if not self._h then
        raise(errors.ECLOSED, "the client is closed")
    end
    local p = C.motan_client_stats_json(self._h)
    if p == nil then
        raise(errors.ENOMEM, "no memory for the statistics")
    end
    local s = ffi.string(p)
    C.motan_free(p)
    return s
end

-- The same statistics in the Prometheus text format.
function Client:prometheus()
    if not self._h then
        raise(errors.ECLOSED, "the client is closed")
    end
    local src = ffi.new("motan_stats *[1]", C.motan_client_get_stats(self._h))
    local out = ffi.new("char *[1]")
    local len = ffi.new("size_t[1]")
    local rc = C.motan_stats_prometheus(src, 1, out, len)
    if rc ~= 0 then
        raise(rc, "motan_stats_prometheus")
    end
    local s = ffi.string(out[0], len[0])
    C.motan_free(out[0])
    return s
end

local respbox = ffi.new("motan_response *[1]")

-- Runs one call and returns the owned response (ffi.gc'd until the caller frees it).
-- Request and response are tied to the GC as soon as they exist, so an error raised while
-- encoding or decoding never leaks them; the normal path frees them at once.
local function run(self, name, method, n, ...)
    check_self(self, name)
    local h = self._h
    if not h then
        raise(errors.ECLOSED, "the client is closed")
    end
    if type(method) ~= "string" then
        values.invalid("the method name must be a string")
    end
    cstring(method, "the method name")
    local opts
    if n > 0 and is_opts((select(n, ...))) then
        opts = (select(n, ...))
        n = n - 1
    end
    local req = C.motan_client_request(h, method)
    if req == nil then
        raise(-1, "out of memory")
    end
    req = ffi.gc(req, C.motan_request_free)
    if opts then
        apply_opts(req, opts)
    end
    local a = C.motan_request_arena(req)
    for i = 1, n do
        local rc = C.motan_request_add_arg(req, values.encode(a, (select(i, ...))))
        if rc ~= 0 then
            raise(rc, "cannot add argument " .. i)
        end
    end
    local code = C.motan_client_call(h, req, respbox)
    ffi.gc(req, nil)
    C.motan_request_free(req)
    local resp = respbox[0]
    if code ~= 0 then
        local msg = resp ~= nil and ffi.string(C.motan_response_get_errmsg(resp)) or ""
        local errcode = resp ~= nil and tonumber(C.motan_response_get_errcode(resp)) or 0
        local errtype = resp ~= nil and C.motan_response_get_errtype(resp) or -1
        C.motan_response_free(resp)
        raise(code, msg, errcode, errtype)
    end
    return ffi.gc(resp, C.motan_response_free)
end

local function done(resp)
    ffi.gc(resp, nil)
    C.motan_response_free(resp)
end

-- c:call(method, arg1, ..., [motan.opts{...}]) -> the decoded result (nil for null).
function Client:call(method, ...)
    local resp = run(self, "call", method, select("#", ...), ...)
    local v = values.decode(C.motan_response_get_value(resp))
    done(resp)
    return v
end

-- Like call, but returns a table describing the whole answer:
--   value, type (the result's Simple type name: "int32", "string_map", ...), tjson (the
--   result as canonical typed JSON, exact tags throughout), meta (response metadata),
--   process_time (ms, -1 when absent) and endpoint ("host:port").
function Client:invoke(method, ...)
    local resp = run(self, "invoke", method, select("#", ...), ...)
    local p = C.motan_response_get_value(resp)
    local r = {
        value = values.decode(p),
        type = p ~= nil and values.type_names[tonumber(C.motan_value_type(p))] or "null",
        tjson = p ~= nil and values.format_tjson(p) or "null",
        meta = {},
        process_time = tonumber(C.motan_response_get_process_time(resp)),
        endpoint = ffi.string(C.motan_response_get_endpoint(resp)),
    }
    for i = 0, tonumber(C.motan_response_meta_count(resp)) - 1 do
        r.meta[ffi.string(C.motan_response_meta_key(resp, i))] =
            ffi.string(C.motan_response_meta_value(resp, i))
    end
    done(resp)
    return r
end

return motan
