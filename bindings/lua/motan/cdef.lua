-- The C declarations the binding uses, copied from include/motan/{core,codec,observe,transport,client}.h
-- (tests/test_motan.lua checks that each one, whitespace aside, still appears in those
-- headers), and the loader that finds libmotan. Only what the binding calls is declared, so
-- no header is needed at run time.
local ffi = require("ffi")

local M = {}

M.decls = [[
typedef enum motan_type {
    MOTAN_T_NULL = 0, MOTAN_T_STRING = 1, MOTAN_T_STRING_MAP = 2, MOTAN_T_BYTES = 3,
    MOTAN_T_STRING_ARRAY = 4, MOTAN_T_BOOL = 5, MOTAN_T_BYTE = 6, MOTAN_T_INT16 = 7,
    MOTAN_T_INT32 = 8, MOTAN_T_INT64 = 9, MOTAN_T_FLOAT32 = 10, MOTAN_T_FLOAT64 = 11,
    MOTAN_T_MAP = 20, MOTAN_T_ARRAY = 21
} motan_type;
typedef struct motan_arena motan_arena;
typedef struct motan_value motan_value;
typedef struct motan_request motan_request;
typedef struct motan_response motan_response;
typedef struct motan_client motan_client;
const char *motan_strerror(int code);
const char *motan_errname(int code);
const char *motan_version(void);
void motan_free(void *p);
motan_arena *motan_arena_new(void);
void motan_arena_free(motan_arena *a);
motan_value *motan_value_new_null(motan_arena *a);
motan_value *motan_value_new_bool(motan_arena *a, int v);
motan_value *motan_value_new_byte(motan_arena *a, uint8_t v);
motan_value *motan_value_new_int16(motan_arena *a, int16_t v);
motan_value *motan_value_new_int32(motan_arena *a, int32_t v);
motan_value *motan_value_new_int64(motan_arena *a, int64_t v);
motan_value *motan_value_new_float32(motan_arena *a, float v);
motan_value *motan_value_new_float64(motan_arena *a, double v);
motan_value *motan_value_new_string(motan_arena *a, const char *s, size_t len);
motan_value *motan_value_new_bytes(motan_arena *a, const void *p, size_t len);
motan_value *motan_value_new_container(motan_arena *a, motan_type t);
int motan_value_append(motan_value *container, motan_value *item);
int motan_value_map_put(motan_value *map, motan_value *key, motan_value *val);
motan_type motan_value_type(const motan_value *v);
int motan_value_get_bool(const motan_value *v);
int64_t motan_value_get_int(const motan_value *v);
double motan_value_get_float(const motan_value *v);
const char *motan_value_get_data(const motan_value *v, size_t *len);
size_t motan_value_count(const motan_value *v);
const motan_value *motan_value_at(const motan_value *v, size_t i);
const motan_value *motan_value_key_at(const motan_value *v, size_t i);
const motan_value *motan_value_value_at(const motan_value *v, size_t i);
int motan_tjson_parse(const char *text, size_t len, motan_arena *a, motan_value **out,
                      char *errbuf, size_t errlen);
char *motan_tjson_format(const motan_value *v);
void motan_request_free(motan_request *r);
int motan_request_set_method_desc(motan_request *r, const char *desc);
int motan_request_set_meta(motan_request *r, const char *key, const char *val);
motan_arena *motan_request_arena(motan_request *r);
int motan_request_add_arg(motan_request *r, motan_value *v);
void motan_request_set_timeout(motan_request *r, int timeout_ms);
int motan_request_set_hash_key(motan_request *r, const char *key, size_t len);
void motan_response_free(motan_response *r);
const motan_value *motan_response_get_value(const motan_response *r);
const char *motan_response_get_errmsg(const motan_response *r);
int64_t motan_response_get_errcode(const motan_response *r);
int motan_response_get_errtype(const motan_response *r);
int64_t motan_response_get_process_time(const motan_response *r);
const char *motan_response_get_endpoint(const motan_response *r);
size_t motan_response_meta_count(const motan_response *r);
const char *motan_response_meta_key(const motan_response *r, size_t i);
const char *motan_response_meta_value(const motan_response *r, size_t i);
int motan_client_new(const char *url, motan_client **out, char *errbuf, size_t errlen);
typedef struct motan_loop motan_loop;
int motan_loop_new(motan_loop **out, char *errbuf, size_t errlen);
int motan_loop_forked(const motan_loop *l);
int motan_client_new_on_loop(motan_loop *loop, const char *url, motan_client **out,
                             char *errbuf, size_t errlen);
void motan_client_free(motan_client *c);
int motan_client_call(motan_client *c, motan_request *req, motan_response **out);
motan_request *motan_client_request(motan_client *c, const char *method);
const char *motan_client_get_service(const motan_client *c);
int motan_client_wait_ready(motan_client *c, int timeout_ms);
typedef struct motan_stats motan_stats;
int motan_stats_prometheus(motan_stats *const *sources, size_t n, char **out, size_t *len);
char *motan_client_stats_json(motan_client *c);
motan_stats *motan_client_get_stats(motan_client *c);
]]

local function cdef_once()
    -- Another module may already have declared libmotan (e.g. from the full headers).
    if pcall(ffi.typeof, "motan_client") then
        return
    end
    ffi.cdef(M.decls)
end

-- The directory of this file (for the repo fallback: <repo>/build/lib/libmotan.so.1).
local function here()
    local src = debug.getinfo(1, "S").source
    if src:sub(1, 1) ~= "@" then
        return "./"
    end
    return src:sub(2):match("^(.*/)") or "./"
end

-- MOTAN_LIB (a path) wins; then the dynamic loader's search; then the repo's build.
local function load()
    cdef_once()
    local explicit = os.getenv("MOTAN_LIB")
    if explicit and explicit ~= "" then
        return ffi.load(explicit), explicit
    end
    local ok, lib = pcall(ffi.load, "libmotan.so.1")
    if ok then
        return lib, "libmotan.so.1"
    end
    local repo = here() .. "../../../build/lib/libmotan.so.1"
    local ok2, lib2 = pcall(ffi.load, repo)
    if ok2 then
        return lib2, repo
    end
    error("motan: cannot load libmotan: set MOTAN_LIB to its path (" .. tostring(lib) .. ")", 0)
end

-- Loaded once per Lua state: M.C is the library namespace, M.path what was loaded.
M.C, M.path = load()

return M
