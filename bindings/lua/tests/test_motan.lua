-- Tests of the LuaJIT binding against the real libmotan and build/bin/motan-test-server.
-- Run from anywhere: luajit bindings/lua/tests/test_motan.lua  (prints one line per test,
-- exits 1 on any failure). Environment: MOTAN_LIB (library), MOTAN_TEST_SERVER (server
-- binary; default <repo>/$BUILD/bin/motan-test-server), BUILD (default build).
local here = (arg and arg[0] or ""):match("^(.*/)") or "./"
local root = here .. "../../../"
package.path = here .. "../?.lua;" .. package.path

local ffi = require("ffi")
local motan = require("motan")

ffi.cdef [[
int kill(int pid, int sig);
int fork(void);
int waitpid(int pid, int *status, int options);
void _exit(int status);
unsigned int alarm(unsigned int seconds);
int usleep(unsigned int usec);
uint64_t motan_now_us(void);
]]

-- ---- a tiny test harness ------------------------------------------------------------------

local tests = {}
local function test(name, fn)
    tests[#tests + 1] = { name = name, fn = fn }
end

local function fmt(v)
    if type(v) == "string" then
        return string.format("%q", v)
    end
    return tostring(v)
end

local function fail(msg, level)
    error(msg, (level or 1) + 1)
end

local function eq(got, want, what)
    if got ~= want then
        fail(string.format("%s: got %s, want %s", what or "value", fmt(got), fmt(want)), 2)
    end
end

local function is_true(v, what)
    if not v then
        fail((what or "condition") .. " is false", 2)
    end
end

-- Deep equality: NaN equals NaN, int64 cdata compare by value, tables key by key.
local function same(a, b)
    if a ~= a and b ~= b then
        return true
    end
    if type(a) == "cdata" or type(b) == "cdata" then
        return type(a) == type(b) and a == b
    end
    if type(a) ~= "table" or type(b) ~= "table" then
        return a == b
    end
    for k, v in pairs(a) do
        if not same(v, b[k]) then
            return false
        end
    end
    for k in pairs(b) do
        if a[k] == nil then
            return false
        end
    end
    return true
end

local function deq(got, want, what)
    if not same(got, want) then
        fail(string.format("%s: got %s, want %s", what or "value", motan.to_tjson(got),
            motan.to_tjson(want)), 2)
    end
end

-- Runs fn and returns the error it raised (fails when it raised none).
local function raises(fn, ...)
    local ok, err = pcall(fn, ...)
    if ok then
        fail("expected an error, none was raised", 2)
    end
    return err
end

-- ---- the test server ----------------------------------------------------------------------

local function server_bin()
    local env = os.getenv("MOTAN_TEST_SERVER")
    if env and env ~= "" then
        return env
    end
    local build = os.getenv("BUILD") or "build"
    if build:sub(1, 1) == "/" then
        return build .. "/bin/motan-test-server"
    end
    return (os.getenv("MOTAN_ROOT") or root) .. "/" .. build .. "/bin/motan-test-server"
end

local servers = {}

-- The shell prints its pid and execs `timeout`, so the pid we SIGTERM is the server's
-- watchdog: it forwards the signal, and kills a server this script forgot after 15 minutes.
local function start_server(args)
    local cmd = "echo $$; exec timeout -s TERM 900 '" .. server_bin() .. "' --port 0 --quiet "
        .. (args or "")
    local f = assert(io.popen(cmd, "r"))
    local pid = tonumber(f:read("*l"))
    local port = tonumber(f:read("*l"))
    if not pid or not port then
        f:close()
        error("cannot start " .. server_bin())
    end
    local s = { f = f, pid = pid, port = port,
        url = "motan2://127.0.0.1:" .. port .. "/com.example.EchoService" }
    servers[#servers + 1] = s
    return s
end

local function stop_server(s)
    if s.f then
        ffi.C.kill(s.pid, 15)
        s.f:close() -- waits for the process
        s.f = nil
    end
end

local lib = ffi.load(motan.lib_path)
local function now()
    return tonumber(lib.motan_now_us()) / 1e6
end

-- ASan's quarantine keeps freed memory: RSS bounds mean nothing under a sanitizer.
local sanitizer = os.getenv("MOTAN_SANITIZER")
if sanitizer == "" then
    sanitizer = nil
end

local function rss_kb()
    local f = io.open("/proc/self/statm")
    local pages = tonumber(f:read("*a"):match("^%d+%s+(%d+)"))
    f:close()
    return pages * 4
end

local function threads()
    local f = io.open("/proc/self/status")
    local n = tonumber(f:read("*a"):match("Threads:%s*(%d+)"))
    f:close()
    return n
end

local srv = start_server("--name lua-srv")
local c = motan.client(srv.url)

-- ---- declarations and loading -------------------------------------------------------------

test("cdef declarations match the headers", function()
    local text = {}
    for _, h in ipairs({ "core.h", "codec.h", "observe.h", "transport.h", "client.h" }) do
        local f = assert(io.open(root .. "include/motan/" .. h))
        for line in f:lines() do
            if line:sub(1, 1) ~= "#" then
                text[#text + 1] = line
            end
        end
        f:close()
    end
    local headers = table.concat(text, "\n"):gsub("/%*.-%*/", ""):gsub("%s+", " ")
    local decls = require("motan.cdef").decls
    local n = 0
    for decl in decls:gmatch("[^;]+;") do
        decl = decl:gsub("%s+", " "):gsub("^ ", "")
        is_true(headers:find(decl, 1, true), "header has: " .. decl)
        n = n + 1
    end
    is_true(n > 40, "declarations found")
end)

test("library loads and reports its version", function()
    local f = assert(io.open(root .. "include/motan/version.h"))
    local want = f:read("*a"):match('#define MOTAN_VERSION_STRING "([^"]+)"')
    f:close()
    eq(motan.version(), want, "version")
    is_true(motan.lib_path ~= "", "lib_path")
end)

-- ---- encoding (typed JSON of what the binding builds) -------------------------------------

test("native values encode to the documented tags", function()
    local cases = {
        { "abc", '"abc"' },
        { 42, "42" },
        { -1, "-1" },
        { 2 ^ 53, "9007199254740992" },
        { 2 ^ 53 + 2, "9007199254740994.0" },
        { 0.5, "0.5" },
        { -0.0, "-0.0" },
        { 1 / 0, '{"$float64":"Infinity"}' },
        { 5LL, "5" },
        { 9223372036854775807LL, "9223372036854775807" },
        { 7ULL, "7" },
        { true, "true" },
        { false, "false" },
        { motan.null, "null" },
        { { 1, "a", true }, '[1,"a",true]' },
        { { 1, motan.null, 3 }, "[1,null,3]" },
        { { k = "v" }, '{"k":"v"}' },
        { {}, "{}" },
        { { [3] = "c" }, '{"$map":[[3,"c"]]}' },
        { { [true] = motan.null }, '{"$map":[[true,null]]}' },
        { { a = { b = { 1 } } }, '{"a":{"b":[1]}}' },
    }
    for _, case in ipairs(cases) do
        local got = motan.to_tjson(case[1])
        eq(got, case[2], "to_tjson(" .. fmt(case[1]) .. ")")
    end
    -- Several keys: pairs() order, so compare as values.
    deq(motan.from_tjson(motan.to_tjson({ [1] = "a", [3] = "c", x = 1 })),
        { [1] = "a", [3] = "c", x = 1 }, "a map with holes")
end)

test("wrappers encode to their exact tags", function()
    local cases = {
        { motan.byte(7), '{"$byte":7}' },
        { motan.byte(-1), '{"$byte":255}' },
        { motan.int16(-2), '{"$int16":-2}' },
        { motan.int32(2147483647), '{"$int32":2147483647}' },
        { motan.int64(5), "5" },
        { motan.int64(-9223372036854775807LL - 1), "-9223372036854775808" },
        { motan.float32(0.5), '{"$float32":0.5}' },
        { motan.float64(1), "1.0" },
        { motan.bytes("\0\255"), '{"$bytes":"AP8="}' },
        { motan.string("x"), '"x"' },
        { motan.string_map { k = "v" }, '{"$string_map":{"k":"v"}}' },
        { motan.string_map {}, '{"$string_map":{}}' },
        { motan.string_array { "a", "b" }, '{"$string_array":["a","b"]}' },
        { motan.string_array {}, '{"$string_array":[]}' },
        { motan.array {}, "[]" },
        { motan.array { 1, nil, 3 }, "[1,null,3]" },
        { motan.map {}, "{}" },
        { motan.map { "a" }, '{"$map":[[1,"a"]]}' },
        { { motan.int32(1), { k = motan.byte(2) } }, '[{"$int32":1},{"k":{"$byte":2}}]' },
        { { [motan.int32(7)] = "x" }, '{"$map":[[{"$int32":7},"x"]]}' },
    }
    for _, case in ipairs(cases) do
        eq(motan.to_tjson(case[1]), case[2], tostring(case[1]))
    end
end)

test("bad wrapper values and unencodable values raise EINVAL", function()
    local bad = {
        function() return motan.byte(256) end,
        function() return motan.byte(1.5) end,
        function() return motan.int16(32768) end,
        function() return motan.int32(-2147483649) end,
        function() return motan.int64(2 ^ 63) end,
        function() return motan.int64(ffi.new("int32_t", 1)) end,
        function() return motan.float32("1") end,
        function() return motan.bytes(1) end,
        function() return motan.string_map { k = 1 } end,
        function() return motan.string_array { "a", 2 } end,
        function() return motan.array { a = 1 } end,
        function() return motan.opts { timeout = -1 } end,
        function() return motan.opts { timeuot = 1 } end,
        function() return motan.opts { attachments = { k = 1 } } end,
        function() return motan.to_tjson(print) end,
        function() return motan.to_tjson(0xffffffffffffffffULL) end,
    }
    for i, fn in ipairs(bad) do
        local err = raises(fn)
        is_true(motan.is_error(err), "case " .. i .. " raises a motan error")
        eq(err.name, "MOTAN_EINVAL", "case " .. i)
        eq(err.kind, "error", "case " .. i)
    end
    local cyc = {}
    cyc.self = cyc
    eq(raises(motan.to_tjson, cyc).code, -2, "a cycle is refused")
end)

-- ---- decoding -----------------------------------------------------------------------------

test("typed JSON decodes to the documented Lua values", function()
    local v = motan.from_tjson('[null,true,{"$byte":255},{"$int16":-2},{"$int32":7},1,' ..
        '{"$int64":9223372036854775807},-9007199254740992,{"$float32":0.5},2.5,"s",' ..
        '{"$bytes":"AP8="},{"$string_map":{"k":"v"}},{"$string_array":["a"]},' ..
        '{"$map":[[1,"one"],[true,"t"],[null,"n"],[{"$int32":2},null]]},[]]')
    eq(v[1], motan.null, "null inside an array")
    eq(v[2], true)
    eq(v[3], 255, "byte")
    eq(v[4], -2, "int16")
    eq(v[5], 7, "int32")
    eq(v[6], 1, "int64")
    eq(type(v[7]), "cdata", "big int64 type")
    is_true(v[7] == 9223372036854775807LL, "big int64 value")
    eq(type(v[8]), "number", "-2^53 stays a number")
    eq(v[9], 0.5, "float32")
    eq(v[10], 2.5, "float64")
    eq(v[11], "s")
    eq(v[12], "\0\255", "bytes are a string")
    deq(v[13], { k = "v" }, "string map")
    deq(v[14], { "a" }, "string array")
    deq(v[15], { [1] = "one", [true] = "t", [motan.null] = "n", [2] = motan.null }, "map keys")
    deq(v[16], {}, "empty array")
    eq(motan.from_tjson("null"), nil, "top-level null is nil")
    local err = raises(motan.from_tjson, "[")
    eq(err.name, "MOTAN_EDECODE", "bad typed JSON")
    eq(raises(motan.from_tjson, '{"$map":[[{"$float64":"NaN"},1]]}').name, "MOTAN_EDECODE",
        "NaN key")
end)

-- ---- calls against the test server --------------------------------------------------------

test("echo round-trips every native type", function()
    local values = {
        "", "hi", "\0bin\255ary", 0, 1, -1, 2 ^ 53, -(2 ^ 53), 0.5, -2.25, 1e300, 1 / 0, -1 / 0,
        true, false, { 1, 2, 3 }, { "a", { "b", { "c" } } }, { k = "v", n = 1, t = { x = true } },
        { [1] = "a", [5] = "e", [true] = false, [2.5] = "f" }, { 1, motan.null, 3 },
        { k = motan.null },
    }
    for _, v in ipairs(values) do
        deq(c:call("echo", v), v, "echo " .. motan.to_tjson(v))
    end
    local nan = c:call("echo", 0 / 0)
    is_true(nan ~= nan, "NaN comes back")
    local negz = c:call("echo", -0.0)
    is_true(negz == 0 and 1 / negz < 0, "-0.0 comes back")
    eq(c:call("echo", nil), nil, "nil")
    eq(c:call("echo", motan.null), nil, "motan.null at the top")
    eq(c:call("echo"), nil, "no argument")
    local big = c:call("echo", 9223372036854775807LL)
    is_true(type(big) == "cdata" and big == 9223372036854775807LL, "int64 max")
    eq(c:call("echo", 5LL), 5, "5LL comes back as a number")
    deq(c:call("echo", {}), {}, "empty table")
    eq(c:invoke("echo", {}).type, "map", "an empty plain table is a map")
end)

test("echo returns each wrapper with its exact tag", function()
    local cases = {
        { motan.byte(200), "byte", 200 },
        { motan.int16(-300), "int16", -300 },
        { motan.int32(70000), "int32", 70000 },
        { motan.int64(-5), "int64", -5 },
        { motan.float32(0.25), "float32", 0.25 },
        { motan.float64(3), "float64", 3 },
        { motan.bytes("\1\2"), "bytes", "\1\2" },
        { motan.string("s"), "string", "s" },
        { motan.string_map { a = "1", b = "2" }, "string_map", { a = "1", b = "2" } },
        { motan.string_array { "x", "y" }, "string_array", { "x", "y" } },
        { motan.array {}, "array", {} },
        { motan.map {}, "map", {} },
        { motan.map { 1, 2 }, "map", { 1, 2 } },
        { "str", "string", "str" },
        { 1, "int64", 1 },
        { 1.5, "float64", 1.5 },
        { true, "bool", true },
        { nil, "null", nil },
        { { 1 }, "array", { 1 } },
    }
    for _, case in ipairs(cases) do
        local r = c:invoke("echo", case[1])
        eq(r.type, case[2], "type of " .. tostring(case[1]))
        deq(r.value, case[3], "value of " .. tostring(case[1]))
        if case[1] ~= nil then
            eq(r.tjson, motan.to_tjson(case[1]), "tjson of " .. tostring(case[1]))
        end
    end
    local nested = { motan.int32(1), { k = motan.byte(2), f = motan.float32(1.5) },
        motan.string_array { "a" }, { [motan.int16(3)] = motan.bytes("b") } }
    eq(c:invoke("echo", nested).tjson, motan.to_tjson(nested), "nested wrappers")
end)

test("invoke reports metadata, process time and endpoint", function()
    local r = c:invoke("name")
    eq(r.value, "lua-srv", "name()")
    eq(r.meta["X-Server"], "lua-srv", "X-Server")
    is_true(r.meta["M_pt"] ~= nil, "M_pt present")
    is_true(r.process_time >= 0, "process time")
    eq(r.endpoint, "127.0.0.1:" .. srv.port, "endpoint")
end)

test("add takes every integer width", function()
    eq(c:call("add", 2, 3), 5)
    eq(c:call("add", motan.int32(2), motan.byte(3)), 5)
    eq(c:call("add", motan.int16(-7), motan.int64(7)), 0)
    local wrapped = c:call("add", 9223372036854775807LL, 1)
    is_true(wrapped == -9223372036854775807LL - 1, "int64 addition wraps")
    is_true(c:call("add", 2 ^ 53, 2 ^ 53) == 2LL ^ 54, "beyond 2^53 comes back as cdata")
end)

test("sleep answers after the delay", function()
    local t0 = now()
    eq(c:call("sleep", 60), 60)
    is_true(now() - t0 >= 0.055, "slept")
end)

test("fail raises a remote error with errcode and errtype", function()
    local err = raises(c.call, c, "fail", "boom")
    is_true(motan.is_remote(err), "is_remote")
    is_true(not motan.is_timeout(err) and not motan.is_connection(err), "only remote")
    eq(err.kind, "remote")
    eq(err.code, -15)
    eq(err.name, "MOTAN_EREMOTE")
    eq(err.message, "boom")
    eq(err.errcode, 30001)
    eq(err.errtype, 2)
    is_true(tostring(err):find("boom", 1, true), "tostring has the message")
    local unknown = raises(c.call, c, "nosuch")
    eq(unknown.errcode, 500, "unknown method errcode")
    is_true(unknown.message:find("nosuch", 1, true), "unknown method message")
end)

test("big returns n bytes", function()
    local b = c:call("big", 300000)
    eq(#b, 300000, "length")
    for _, i in ipairs({ 0, 1, 255, 256, 299999 }) do
        eq(b:byte(i + 1), i % 256, "byte " .. i)
    end
    eq(c:call("big", 0), "", "big(0)")
end)

test("a per-call timeout raises a timeout error", function()
    local t0 = now()
    local err = raises(c.call, c, "sleep", 3000, motan.opts { timeout = 100 })
    is_true(motan.is_timeout(err), "is_timeout: " .. tostring(err))
    eq(err.name, "MOTAN_ETIMEOUT")
    is_true(now() - t0 < 2, "returned early")
    err = raises(c.call, c, "echo", "x",
        motan.opts { timeout = 100, attachments = { ["X-Fault"] = "noreply" } })
    is_true(motan.is_timeout(err), "noreply times out")
    eq(c:call("echo", "still works"), "still works", "the connection is still usable")
end)

test("the URL's requestTimeout applies", function()
    local t = motan.client(srv.url .. "?requestTimeout=80")
    local err = raises(t.call, t, "sleep", 2000)
    is_true(motan.is_timeout(err), "timeout from the URL")
    t:close()
end)

test("connection refused raises a connection error", function()
    local refusing = start_server("--refuse")
    local r = motan.client(refusing.url .. "?connectTimeout=500&requestTimeout=1000")
    local err = raises(r.call, r, "echo", "x")
    is_true(motan.is_connection(err), "is_connection: " .. tostring(err))
    is_true(err.name == "MOTAN_ECONNECT" or err.name == "MOTAN_ENOENDPOINT", err.name)
    r:close()
    stop_server(refusing)
end)

test("attachments are sent", function()
    local err = raises(c.call, c, "echo", 1, motan.opts { attachments = { ["X-Fault"] = "error-go" } })
    is_true(motan.is_remote(err), "error-go is remote")
    eq(err.errcode, 500)
    eq(err.errtype, 1)
    eq(err.message, "injected error")
    eq(c:call("echo", 1, motan.opts { attachments = { ["X-Fault"] = "none", a = "b" } }), 1)
    err = raises(c.call, c, "echo", 1, motan.opts { attachments = { ["X-Fault"] = "bogus" } })
    is_true(err.message:find("bad X-Fault", 1, true), "server saw the attachment")
    eq(raises(c.call, c, "echo", 1, motan.opts { attachments = { M_p = "x" } }).name,
        "MOTAN_EINVAL", "reserved key")
    eq(raises(c.call, c, "echo", 1, motan.opts { attachments = { k = "a\nb" } }).kind,
        "error", "newline in a value")
end)

test("embedded NULs are refused, not cut (another method would be called)", function()
    local function einval(err, what)
        eq(err.name, "MOTAN_EINVAL", what)
        is_true(err.message:find("NUL", 1, true), what .. ": " .. err.message)
    end
    einval(raises(c.call, c, "echo\0fail", "x"), "method")
    einval(raises(c.invoke, c, "fail\0", "x"), "invoke's method")
    einval(raises(c.call, c, "echo", 1, motan.opts { attachments = { k = "a\0b" } }), "value")
    einval(raises(c.call, c, "echo", 1, motan.opts { attachments = { ["k\0"] = "v" } }), "key")
    einval(raises(c.call, c, "echo", 1, motan.opts { method_desc = "int\0x" }), "method_desc")
    einval(raises(motan.client, srv.url .. "\0?requestTimeout=1"), "URL")
    eq(c:call("echo", "a\0b"), "a\0b", "NULs inside values are data")
    eq(c:call("echo", 1, motan.opts { hash_key = "k\0k" }), 1, "the hash key has a length")
end)

test("c.call (a dot) says to use a colon", function()
    for _, name in ipairs({ "call", "invoke", "service", "close", "wait_ready" }) do
        local err = raises(c[name], "echo", 1)
        eq(err.name, "MOTAN_EINVAL", name)
        is_true(err.message:find("c:" .. name, 1, true), name .. ": " .. err.message)
    end
end)

test("after fork the child's calls raise MOTAN_EFORKED and it exits", function()
    local t = motan.client(srv.url)
    eq(t:call("echo", 1), 1)
    local function wait(pid)
        local st = ffi.new("int[1]")
        local deadline = now() + 10
        while now() < deadline do
            if ffi.C.waitpid(pid, st, 1) == pid then -- WNOHANG
                return st[0]
            end
            ffi.C.usleep(10000)
        end
        ffi.C.kill(pid, 9)
        ffi.C.waitpid(pid, st, 0)
        return -1
    end
    io.stdout:flush()
    local pid = ffi.C.fork()
    if pid == 0 then -- never returns into the test run
        ffi.C.alarm(10)
        local good = pcall(function()
            local ok, err = pcall(t.call, t, "echo", 2)
            assert(not ok and err.name == "MOTAN_EFORKED" and err.message:find("fork()", 1, true))
            t:close() -- frees without the parent's loop thread
        end)
        ffi.C._exit(good and 0 or 3)
    end
    eq(wait(pid), 0, "child status")
    pid = ffi.C.fork()
    if pid == 0 then
        ffi.C.alarm(10)
        os.exit(0, true) -- closes the Lua state: the client's finalizer runs in the child
    end
    eq(wait(pid), 0, "status of a child that only exits")
    eq(t:call("echo", "parent"), "parent", "the parent's client still works")
    t:close()
end)

test("clients share the process's one loop thread unless they ask for their own", function()
    local first = motan.client(srv.url) -- the shared loop exists from here on
    local before = threads()
    local cs = {}
    for i = 1, 20 do
        cs[i] = motan.client(srv.url)
    end
    eq(threads(), before, "20 more clients, no more threads")
    for i = 1, 20 do
        eq(cs[i]:call("echo", i), i)
    end
    local own = motan.client(srv.url, { own_loop = true })
    eq(threads(), before + 1, "own_loop adds one")
    eq(own:call("echo", "own"), "own")
    cs[1]:close()
    eq(cs[2]:call("echo", "still"), "still", "closing one leaves the others working")
    for i = 2, 20 do
        cs[i]:close()
    end
    own:close()
    first:close()
    eq(raises(motan.client, srv.url, 5).name, "MOTAN_EINVAL", "options must be a table")
end)

test("a client made in a child after fork gets a loop of its own", function()
    local t = motan.client(srv.url)
    eq(t:call("echo", 1), 1)
    io.stdout:flush()
    local pid = ffi.C.fork()
    if pid == 0 then
        ffi.C.alarm(10)
        local good = pcall(function()
            local d = motan.client(srv.url)
            assert(d:call("echo", "child") == "child")
            d:close()
        end)
        ffi.C._exit(good and 0 or 3)
    end
    local st = ffi.new("int[1]")
    eq(ffi.C.waitpid(pid, st, 0), pid)
    eq(st[0], 0, "child status")
    eq(t:call("echo", "parent"), "parent")
    t:close()
end)

test("method description and hash key are accepted", function()
    local o = motan.opts { method_desc = "java.lang.String", hash_key = "user-42", timeout = 500 }
    eq(c:call("echo", "x", o), "x")
    local h = motan.client(srv.url .. "?loadbalance=consistent")
    for i = 1, 5 do
        eq(h:call("echo", i, motan.opts { hash_key = "k" .. i }), i)
    end
    h:close()
end)

test("a nil argument before options is sent as null", function()
    eq(c:invoke("echo", nil, motan.opts { timeout = 500 }).type, "null")
    local err = raises(c.call, c, "add", 1, nil)
    is_true(err.message:find("bad arguments", 1, true), "add(1, null) is refused by the server")
end)

test("a bad URL raises at construction", function()
    local err = raises(motan.client, "not a url")
    is_true(motan.is_error(err), "a motan error")
    eq(err.kind, "error")
    eq(err.name, "MOTAN_EURL")
    is_true(err.message ~= "", "with a message")
    eq(raises(motan.client, 42).name, "MOTAN_EINVAL", "non-string URL")
end)

test("a closed client raises ECLOSED; close is idempotent", function()
    local t = motan.client(srv.url)
    eq(t:service(), "com.example.EchoService")
    t:wait_ready(2000)
    t:close()
    t:close()
    eq(raises(t.call, t, "echo", 1).name, "MOTAN_ECLOSED")
    is_true(tostring(t):find("closed", 1, true), "tostring says closed")
end)

test("dropped clients are freed by the garbage collector", function()
    collectgarbage()
    local base = threads()
    for _ = 1, 20 do
        local t = motan.client(srv.url, { own_loop = true })
        t:call("echo", 1)
    end
    is_true(threads() > base, "clients with a loop of their own run loop threads")
    collectgarbage()
    collectgarbage()
    eq(threads(), base, "every loop thread is gone")
end)

test("20000 calls in a row keep memory flat", function()
    local arg = { s = "0123456789abcdef", n = { 1, 2, 3 }, i = motan.int32(5) }
    local function batch(n)
        for _ = 1, n do
            local r = c:call("echo", arg)
            if r.s ~= arg.s then
                fail("bad echo")
            end
        end
        collectgarbage()
    end
    batch(2000)
    local before = rss_kb()
    batch(20000)
    local grown = rss_kb() - before
    is_true(sanitizer or grown < 4096, "RSS grew by " .. grown .. " KiB")
end)

test("failing calls do not leak either", function()
    local function batch(n)
        for _ = 1, n do
            is_true(not pcall(c.call, c, "fail", "x"), "fail raises")
            is_true(not pcall(c.call, c, "echo", { 1, print }), "a function is refused")
        end
        collectgarbage()
    end
    batch(1000)
    local before = rss_kb()
    batch(4000)
    local grown = rss_kb() - before
    is_true(sanitizer or grown < 2048, "RSS grew by " .. grown .. " KiB")
end)

-- ---- statistics ---------------------------------------------------------------------------

test("stats JSON and Prometheus text", function()
    local m = motan.client(srv.url .. "?filter=metrics")
    for _ = 1, 3 do
        m:call("echo", 1)
    end
    is_true(not pcall(m.call, m, "fail", "x"), "fail raises")
    local j = m:stats()
    is_true(j:find('"kind":"call","side":"client","service":"com.example.EchoService",'
        .. '"group":"default_rpc","method":"echo","started":3,"in_flight":0,"count":3,"ok":3,'
        .. '"errors":{}', 1, true), "echo counted: " .. j)
    is_true(j:find('"method":"fail","started":1,"in_flight":0,"count":1,"ok":0,'
        .. '"errors":{"MOTAN_EREMOTE":1}', 1, true), "fail counted")
    is_true(j:find('"kind":"endpoint"', 1, true), "endpoint listed")
    local p = m:prometheus()
    is_true(p:find('motan_client_calls_total{service="com.example.EchoService",'
        .. 'group="default_rpc",method="echo",code="MOTAN_OK"} 3\n', 1, true), "prometheus: " .. p)
    eq(p:sub(-1), "\n", "ends with a line feed")
    m:close()
    is_true(not pcall(m.stats, m), "closed client refuses")
end)

-- ---- run ----------------------------------------------------------------------------------

local failed = 0
for _, t in ipairs(tests) do
    local t0 = now()
    local ok, err = xpcall(t.fn, function(e)
        return debug.traceback(tostring(e), 2)
    end)
    if ok then
        print(string.format("ok   %-60s %.2fs", t.name, now() - t0))
    else
        failed = failed + 1
        print(string.format("FAIL %s\n%s", t.name, err))
    end
end
c:close()
for _, s in ipairs(servers) do
    stop_server(s)
end
print(string.format("lua: %d tests, %d failed", #tests, failed))
os.exit(failed == 0 and 0 or 1)
