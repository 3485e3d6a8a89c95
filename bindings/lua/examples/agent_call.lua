-- One call through the local motan-agent (docs/agent.md), as a short-lived LuaJIT script:
--   luajit bindings/lua/examples/agent_call.lua [URL] [NAME]
--   URL default motan2://127.0.0.1:9981/com.example.EchoService (or motan2://[unix:/path]/...)
local dir = (arg[0]:match("(.*/)") or "./") .. "../"
package.path = dir .. "?.lua;" .. package.path
local motan = require("motan")

local url = arg[1] or "motan2://127.0.0.1:9981/com.example.EchoService"
local c = motan.client(url .. (url:find("?", 1, true) and "&" or "?") .. "requestTimeout=1000")
print(c:call("echo", arg[2] or "hello from lua"))
c:close()
