<?php
// Loads libmotan through FFI once per process.
declare(strict_types=1);

namespace Motan;

/**
 * The FFI handle. The declarations below are the subset of include/motan/{core,codec,observe,transport,client}.h
 * the binding uses, copied by hand (same signatures, ABI-identical): reading the headers
 * would need their #include chain. One deliberate difference: motan_value_get_data returns
 * `const uint8_t *` instead of `const char *`, because PHP FFI turns a returned `const char *`
 * into a string cut at the first NUL, and strings and bytes may hold NULs.
 */
final class Native
{
    private const CDEF = <<<'C'
typedef struct motan_arena motan_arena;
typedef struct motan_value motan_value;
typedef struct motan_request motan_request;
typedef struct motan_response motan_response;
typedef struct motan_client motan_client;
typedef enum motan_type {
    MOTAN_T_NULL = 0, MOTAN_T_STRING = 1, MOTAN_T_STRING_MAP = 2, MOTAN_T_BYTES = 3,
    MOTAN_T_STRING_ARRAY = 4, MOTAN_T_BOOL = 5, MOTAN_T_BYTE = 6, MOTAN_T_INT16 = 7,
    MOTAN_T_INT32 = 8, MOTAN_T_INT64 = 9, MOTAN_T_FLOAT32 = 10, MOTAN_T_FLOAT64 = 11,
    MOTAN_T_MAP = 20, MOTAN_T_ARRAY = 21
} motan_type;

const char *motan_errname(int code);
const char *motan_strerror(int code);
const char *motan_version(void);

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
const uint8_t *motan_value_get_data(const motan_value *v, size_t *len);
size_t motan_value_count(const motan_value *v);
const motan_value *motan_value_at(const motan_value *v, size_t i);
const motan_value *motan_value_key_at(const motan_value *v, size_t i);
const motan_value *motan_value_value_at(const motan_value *v, size_t i);

motan_request *motan_request_new(const char *method);
void motan_request_free(motan_request *r);
int motan_request_set_method_desc(motan_request *r, const char *desc);
int motan_request_set_meta(motan_request *r, const char *key, const char *val);
motan_arena *motan_request_arena(motan_request *r);
int motan_request_add_arg(motan_request *r, motan_value *v);
size_t motan_request_arg_count(const motan_request *r);
const motan_value *motan_request_arg(const motan_request *r, size_t i);
void motan_request_set_timeout(motan_request *r, int timeout_ms);
int motan_request_set_hash_key(motan_request *r, const char *key, size_t len);

void motan_response_free(motan_response *r);
int motan_response_get_code(const motan_response *r);
const motan_value *motan_response_get_value(const motan_response *r);
const char *motan_response_get_errmsg(const motan_response *r);
int64_t motan_response_get_errcode(const motan_response *r);
int motan_response_get_errtype(const motan_response *r);

int motan_client_new(const char *url, motan_client **out, char *errbuf, size_t errlen);
typedef struct motan_loop motan_loop;
int motan_loop_new(motan_loop **out, char *errbuf, size_t errlen);
int motan_loop_forked(const motan_loop *l);
int motan_client_new_on_loop(motan_loop *loop, const char *url, motan_client **out,
                             char *errbuf, size_t errlen);
void motan_client_free(motan_client *c);
int motan_client_call(motan_client *c, motan_request *req, motan_response **out);
motan_request *motan_client_request(motan_client *c, const char *method);
void motan_free(void *p);
typedef struct motan_stats motan_stats;
int motan_stats_prometheus(motan_stats *const *sources, size_t n, char **out, size_t *len);
char *motan_client_stats_json(motan_client *c);
motan_stats *motan_client_get_stats(motan_client *c);
C;

    private static ?\FFI $ffi = null;

    /** The loaded library: $MOTAN_LIB when set, else "libmotan.so.1", else the repo's build. */
    public static function ffi(): \FFI
    {
        return self::$ffi ??= self::load();
    }

    /** A code's symbolic name (the library's, or the same text from Code when not loaded). */
    public static function errname(int $code): string
    {
        if (self::$ffi !== null) {
            return self::$ffi->motan_errname($code);
        }
        $name = array_search($code, (new \ReflectionClass(Code::class))->getConstants(), true);
        return $name === false ? 'MOTAN_E?' : 'MOTAN_' . $name;
    }

    private static function load(): \FFI
    {
        if (!extension_loaded('ffi')) {
            throw new MotanException('the PHP FFI extension is not loaded', Code::EUNSUPPORTED);
        }
        $mode = strtolower((string)ini_get('ffi.enable'));
        if (!in_array($mode, ['1', 'on', 'true', 'yes'], true) && !($mode === 'preload' && PHP_SAPI === 'cli')) {
            throw new MotanException("the FFI API is disabled (ffi.enable=$mode): run php -d ffi.enable=1",
                Code::EUNSUPPORTED);
        }
        $env = getenv('MOTAN_LIB');
        $candidates = ($env !== false && $env !== '')
            ? [$env]
            : ['libmotan.so.1', dirname(__DIR__, 3) . '/build/lib/libmotan.so.1'];
        $errors = [];
        foreach ($candidates as $path) {
            try {
                return \FFI::cdef(self::CDEF, $path);
            } catch (\FFI\Exception $e) {
                $errors[] = $e->getMessage();
            }
        }
        throw new MotanException('cannot load libmotan: ' . implode('; ', $errors), Code::EIO);
    }
}
