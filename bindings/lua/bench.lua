-- make bench-bindings: N echo calls of a 16-byte string (N = BENCH_CALLS, default 20000)
-- against the server URL given as the argument; prints "<total_seconds> <calls>".
-- Usage: luajit bindings/lua/bench.lua motan2://127.0.0.1:PORT/com.example.EchoService
local here = (arg and arg[0] or ""):match("^(.*/)") or "./"
package.path = here .. "?.lua;" .. package.path

local ffi = require("ffi")
local motan = require("motan")

local url = arg[1]
if not url then
    io.stderr:write("usage: luajit bench.lua <url>\n")
    os.exit(2)
end
local calls = tonumber(os.getenv("BENCH_CALLS") or "") or 20000
if calls <= 0 then
    calls = 20000
end

ffi.cdef [[
uint64_t motan_now_us(void);
]]
local lib = ffi.load(motan.lib_path)

local ARG = "0123456789abcdef"
local c = motan.client(url)
for _ = 1, 100 do -- warm-up: connections, buffers, JIT
    assert(c:call("echo", ARG) == ARG)
end
local t0 = lib.motan_now_us()
for i = 1, calls do
    if c:call("echo", ARG) ~= ARG then
        io.stderr:write("bench.lua: call " .. i .. " returned a wrong value\n")
        os.exit(1)
    end
end
local t1 = lib.motan_now_us()
c:close()
print(string.format("%.6f %d", tonumber(t1 - t0) / 1e6, calls))
