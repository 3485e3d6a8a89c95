-- Errors raised by the binding: tables with a metatable (so tostring() gives a readable line)
--   { code = -11, name = "MOTAN_ETIMEOUT", message = "...", kind = "timeout",
--     errcode = <server errcode or 0>, errtype = <0 framework, 1 service, 2 business, -1> }
-- kind: "remote" (MOTAN_EREMOTE), "timeout" (MOTAN_ETIMEOUT), "connection" (MOTAN_ECONNECT,
-- MOTAN_ENOENDPOINT), "error" (any other code, including bad arguments: MOTAN_EINVAL).
local M = {}

M.OK = 0
M.ENOMEM = -1
M.EINVAL = -2
M.EURL = -10
M.ETIMEOUT = -11
M.ECONNECT = -12
M.EREMOTE = -15
M.ENOENDPOINT = -16
M.ECLOSED = -18
M.EFORKED = -22

local Error = {}
Error.__index = Error
Error.__tostring = function(e)
    if e.kind == "remote" then
        return string.format("%s: %s (errcode %s, errtype %s)", e.name, e.message,
            tostring(e.errcode), tostring(e.errtype))
    end
    return e.name .. ": " .. e.message
end
M.Error = Error

local kinds = {
    [M.EREMOTE] = "remote",
    [M.ETIMEOUT] = "timeout",
    [M.ECONNECT] = "connection",
    [M.ENOENDPOINT] = "connection",
}

-- name: the code's symbolic name (motan_errname), passed in to keep this file free of ffi.
function M.new(code, name, message, errcode, errtype)
    return setmetatable({
        code = code,
        name = name,
        message = message or "",
        kind = kinds[code] or "error",
        errcode = errcode or 0,
        errtype = errtype or -1,
    }, Error)
end

function M.is_error(e)
    return getmetatable(e) == Error
end

local function kind_is(k)
    return function(e)
        return getmetatable(e) == Error and e.kind == k
    end
end
M.is_remote = kind_is("remote")
M.is_timeout = kind_is("timeout")
M.is_connection = kind_is("connection")

return M
