/*
 * libmotan codec: the Simple value model and serialization, motan2 frames, requests and
 * responses as data, motan URLs, typed JSON. No I/O happens in this layer.
 *
 * Byte-level reference: docs/motan2-protocol.md (sections quoted as §n).
 * Thread-safety: every object here is single-threaded; distinct objects may be used from
 * distinct threads.
 */
#ifndef MOTAN_CODEC_H
#define MOTAN_CODEC_H

#include <motan/core.h>

/* ==== values ============================================================================ */

/* The 14 Simple types; the enum value is the wire tag (§5.2). */
typedef enum motan_type {
    MOTAN_T_NULL = 0,
    MOTAN_T_STRING = 1,
    MOTAN_T_STRING_MAP = 2,
    MOTAN_T_BYTES = 3,
    MOTAN_T_STRING_ARRAY = 4,
    MOTAN_T_BOOL = 5,
    MOTAN_T_BYTE = 6,
    MOTAN_T_INT16 = 7,
    MOTAN_T_INT32 = 8,
    MOTAN_T_INT64 = 9,
    MOTAN_T_FLOAT32 = 10,
    MOTAN_T_FLOAT64 = 11,
    MOTAN_T_MAP = 20,
    MOTAN_T_ARRAY = 21
} motan_type;

/* Nesting limit of every decoder (containers inside containers). */
#define MOTAN_MAX_DEPTH 64

/*
 * Decoded-size budget. Decoding is not bounded by the input size alone: a 1-byte Simple
 * null becomes a value node of tens of bytes, and a gzipped body may inflate 1000-fold. So
 * every decoder here (motan_simple_decode*, motan_deserialize_value/_args, motan_tjson_parse,
 * motan_response_set_frame) allocates all it builds from the arena it is given, and honours
 * that arena's limit (motan_arena_set_limit, core.h): past it the decode stops and returns
 * MOTAN_ETOOBIG with "decoded values exceed maxDecodedSize (N bytes)" in errbuf. JSON texts
 * (jansson builds its own tree first) are refused before parsing when the values they hold
 * cannot fit. To bound one decode by n bytes from any layer:
 *
 *     motan_arena_set_limit(a, motan_arena_used(a) + n);
 *     rc = motan_deserialize_args(ser, body, len, a, &args, err, sizeof(err));
 *     motan_arena_set_limit(a, 0);
 *
 * The URL parameter is maxDecodedSize (bytes), default 4 x maxContentLength; a response
 * applies its own budget (motan_response_set_max_decoded). The macros are the defaults.
 */
#define MOTAN_DEFAULT_MAX_DECODED ((size_t)4 * MOTAN_DEFAULT_MAX_CONTENT)

/*
 * A value lives in a motan_arena and is freed with it. Builders copy the bytes they are
 * given. Containers keep insertion order. A container only accepts values from its own
 * arena. Strings and bytes built or decoded into an arena are followed by a NUL byte that
 * is not part of their length. One exception: a client's response keeps bytes values of at
 * least 4 KiB from a big Simple answer as views into the memory the answer was received in
 * (no copy; that memory lives until the response is freed or reset), and those are not
 * followed by a NUL. Use the length for bytes; motan_value_copy makes a NUL-ended copy.
 */
typedef struct motan_value motan_value;

/* Builders: borrowed from a (valid until a is freed or reset); NULL on out of memory. */
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
/* An empty container of type t (STRING_MAP, STRING_ARRAY, MAP or ARRAY); NULL for other t. */
motan_value *motan_value_new_container(motan_arena *a, motan_type t);

/*
 * Appends item to an ARRAY, or to a STRING_ARRAY when item is a STRING.
 * MOTAN_EINVAL for a wrong container or item type.
 */
int motan_value_append(motan_value *container, motan_value *item);
/*
 * Adds key -> val to a MAP (any key and value types) or a STRING_MAP (both STRING).
 * A key equal to an existing one replaces that entry's value in place (last wins).
 */
int motan_value_map_put(motan_value *map, motan_value *key, motan_value *val);

/* Accessors (v must not be NULL). */
motan_type motan_value_type(const motan_value *v);
/* BOOL: 0 or 1. */
int motan_value_get_bool(const motan_value *v);
/* BYTE (0..255), INT16, INT32, INT64; 0 for other types. */
int64_t motan_value_get_int(const motan_value *v);
/* FLOAT32, FLOAT64; also integers converted; 0 for other types. */
double motan_value_get_float(const motan_value *v);
/* STRING or BYTES: borrowed pointer (lives with the arena) and *len; NULL for other types. */
const char *motan_value_get_data(const motan_value *v, size_t *len);
/* Elements of ARRAY / STRING_ARRAY, entries of MAP / STRING_MAP; 0 otherwise. */
size_t motan_value_count(const motan_value *v);
/* i-th element of ARRAY / STRING_ARRAY; NULL when out of range. Borrowed. */
const motan_value *motan_value_at(const motan_value *v, size_t i);
/* i-th entry's key / value of MAP / STRING_MAP; NULL when out of range. Borrowed. */
const motan_value *motan_value_key_at(const motan_value *v, size_t i);
const motan_value *motan_value_value_at(const motan_value *v, size_t i);
/* Value stored under the string key in a MAP or STRING_MAP; NULL when absent. Borrowed. */
const motan_value *motan_value_map_get(const motan_value *map, const char *key, size_t klen);
/*
 * 1 when a and b are the same value in the sense of typed-json.md "Comparing": same tags
 * throughout, equal contents, NaN equals NaN, -0.0 differs from 0.0, order matters.
 */
int motan_value_equal(const motan_value *a, const motan_value *b);
/* A deep copy of v into arena a (NULL on out of memory). */
motan_value *motan_value_copy(motan_arena *a, const motan_value *v);

/* ==== Simple serialization (§5) ========================================================= */

/*
 * Streaming writer: appends straight into b, allocating only when b must grow.
 * Containers: motan_simple_begin writes the tag and a length placeholder and returns a
 * mark; write the elements (for STRING_MAP / STRING_ARRAY with motan_simple_write_raw,
 * keys and values alternating for maps); motan_simple_end patches the byte length.
 */
int motan_simple_write_null(motan_buf *b);
int motan_simple_write_bool(motan_buf *b, int v);
int motan_simple_write_byte(motan_buf *b, uint8_t v);
int motan_simple_write_int16(motan_buf *b, int16_t v);
int motan_simple_write_int32(motan_buf *b, int32_t v);
int motan_simple_write_int64(motan_buf *b, int64_t v);
int motan_simple_write_float32(motan_buf *b, float v);
int motan_simple_write_float64(motan_buf *b, double v);
int motan_simple_write_string(motan_buf *b, const char *s, size_t len);
int motan_simple_write_bytes(motan_buf *b, const void *p, size_t len);
/* An untagged u32-length-prefixed string: an item of a STRING_MAP or STRING_ARRAY. */
int motan_simple_write_raw(motan_buf *b, const char *s, size_t len);
int motan_simple_begin(motan_buf *b, motan_type container, size_t *mark);
int motan_simple_end(motan_buf *b, size_t mark);
/* Writes a whole value tree. */
int motan_simple_write_value(motan_buf *b, const motan_value *v);

/*
 * Zero-copy reader as a visitor (hiredis-style): every callback gets the caller's userdata
 * last and returns 0 to go on, non-zero to stop (the decode then fails with MOTAN_EINVAL).
 * Strings and bytes point into the input. Container callbacks get the element count
 * (entries for maps); map keys and values are visited alternately. Any callback may be NULL.
 */
typedef struct motan_visitor {
    int (*on_null)(void *userdata);
    int (*on_bool)(int v, void *userdata);
    int (*on_int)(motan_type t, int64_t v, void *userdata);   /* BYTE, INT16, INT32, INT64 */
    int (*on_float)(motan_type t, double v, void *userdata);  /* FLOAT32, FLOAT64 */
    int (*on_data)(motan_type t, const char *p, size_t len, void *userdata); /* STRING, BYTES */
    int (*on_begin)(motan_type t, size_t count, void *userdata);
    int (*on_end)(motan_type t, void *userdata);
} motan_visitor;

/*
 * Visits one value at the start of data; *consumed (may be NULL) gets its length.
 * Errors: MOTAN_EDECODE (malformed, including nesting deeper than MOTAN_MAX_DEPTH; errbuf
 * says why and at which offset), MOTAN_EINVAL (a callback stopped). errbuf may be NULL.
 */
int motan_simple_visit(const uint8_t *data, size_t len, const motan_visitor *vis, void *userdata,
                       size_t *consumed, char *errbuf, size_t errlen);

/*
 * Tree decoders, built on the reader; the tree lives in arena a.
 * motan_simple_decode: exactly one value (bytes left over are an error).
 * motan_simple_decode_prefix: one value at the start, *consumed gets its length.
 * motan_simple_decode_seq: zero or more consecutive values (a request body) as one ARRAY.
 */
int motan_simple_decode(const uint8_t *data, size_t len, motan_arena *a, motan_value **out,
                        char *errbuf, size_t errlen);
int motan_simple_decode_prefix(const uint8_t *data, size_t len, motan_arena *a, motan_value **out,
                               size_t *consumed, char *errbuf, size_t errlen);
int motan_simple_decode_seq(const uint8_t *data, size_t len, motan_arena *a, motan_value **out,
                            char *errbuf, size_t errlen);

/* ==== serializations (§1.4, §6) ========================================================= */

typedef enum motan_serialization {
    MOTAN_SER_HESSIAN2 = 0,
    MOTAN_SER_GRPC_PB = 1,
    MOTAN_SER_JSON = 2,
    MOTAN_SER_MSGPACK = 3,
    MOTAN_SER_HPROSE = 4,
    MOTAN_SER_PROTOBUF = 5,
    MOTAN_SER_SIMPLE = 6,
    MOTAN_SER_GRPC_JSON = 7,
    MOTAN_SER_BREEZE = 8
} motan_serialization;

/* "simple" -> 6, "json" -> 2, "msgpack" -> 3, other names -> MOTAN_ENOTFOUND. */
int motan_serialization_by_name(const char *name);
/* Static name of a serialization id ("unknown" when out of range). */
const char *motan_serialization_name(int id);
/* 1 when libmotan can encode and decode bodies of this serialization. */
int motan_serialization_supported(int id);

/* Request body: the arguments in serialization ser (Simple: concatenated; JSON: one array). */
int motan_serialize_args(int ser, const motan_value *const *args, size_t n, motan_buf *out,
                         char *errbuf, size_t errlen);
/* Response body: one value. */
int motan_serialize_value(int ser, const motan_value *v, motan_buf *out, char *errbuf,
                          size_t errlen);
/* Response body -> one value (an empty body is null). */
int motan_deserialize_value(int ser, const uint8_t *data, size_t len, motan_arena *a,
                            motan_value **out, char *errbuf, size_t errlen);
/* Request body -> ARRAY of the arguments (an empty body is no arguments). */
int motan_deserialize_args(int ser, const uint8_t *data, size_t len, motan_arena *a,
                           motan_value **out, char *errbuf, size_t errlen);

/* ==== motan2 frames (§1-§4) ============================================================= */

/* Message-type bits (§1.2). */
#define MOTAN_FLAG_RESPONSE 0x01
#define MOTAN_FLAG_PROXY 0x02
#define MOTAN_FLAG_ONEWAY 0x04
#define MOTAN_FLAG_GZIP 0x08
#define MOTAN_FLAG_HEARTBEAT 0x10

/* Smallest frame and header sizes; default maxContentLength (§2.5). */
#define MOTAN_FRAME_MIN 21
#define MOTAN_DEFAULT_MAX_CONTENT 10485760

typedef enum motan_frame_kind {
    MOTAN_FRAME_REQUEST = 0,
    MOTAN_FRAME_RESPONSE = 1,
    MOTAN_FRAME_HEARTBEAT_REQUEST = 2,
    MOTAN_FRAME_HEARTBEAT_RESPONSE = 3
} motan_frame_kind;

/*
 * Frame writer. motan_frame_write_begin appends the 13-byte header and a metadata-size
 * placeholder to b and returns a mark; motan_frame_write_meta adds entries (keys and
 * values containing '\n' and empty keys are MOTAN_EINVAL; an empty value is skipped);
 * motan_frame_write_body_begin closes the metadata; the body is then appended to b (for
 * example with motan_simple_write_*); motan_frame_write_end patches the body size and,
 * when mingz > 0 and the body is longer than mingz, gzips the body and sets the gzip bit.
 * status: 0 normal, 1 exception. serialization: the id (0..31).
 */
int motan_frame_write_begin(motan_buf *b, uint8_t flags, uint8_t status, uint8_t serialization,
                            uint64_t request_id, size_t *mark);
int motan_frame_write_meta(motan_buf *b, size_t mark, const char *key, size_t klen,
                           const char *val, size_t vlen);
int motan_frame_write_body_begin(motan_buf *b, size_t mark);
int motan_frame_write_end(motan_buf *b, size_t mark, size_t mingz);
/* M_e metadata for an error response: {"errcode":C,"errmsg":"...","errtype":T} (Go form). */
int motan_frame_write_error_meta(motan_buf *b, size_t mark, int64_t errcode, int errtype,
                                 const char *msg, size_t msglen);
/* A whole heartbeat frame in Go form (§4.1): request 12 08 30, response 13 08 30. */
int motan_frame_write_heartbeat(motan_buf *b, uint64_t request_id, int response);

/*
 * A parsed frame: header fields, metadata and body. Metadata and body are views into
 * the parsed input (or, for gzip bodies, into the frame's own inflate buffer) and stay valid
 * until the next parse into the same frame or until the input changes. Reusable: parsing
 * again allocates only when a frame needs more room than any before it.
 */
typedef struct motan_frame motan_frame;

/* owned: free with motan_frame_free. */
motan_frame *motan_frame_new(void);
void motan_frame_free(motan_frame *f);

/*
 * Parses one frame at the start of data.
 * MOTAN_OK: *consumed = the frame's length.
 * MOTAN_EAGAIN: incomplete; *consumed = how many bytes are needed in total, when known
 *   (at least len + 1).
 * Errors, each as soon as the bytes that prove it are present (a size over max_content is
 * reported before the body arrives): MOTAN_EPROTO (bad magic, odd metadata, bad gzip,
 * unexpected layout), MOTAN_EVERSION (version not 1), MOTAN_EMOTAN1 (version 0, motan1),
 * MOTAN_ETOOBIG (metadata, body or gunzipped body over max_content; 0 = default 10 MiB).
 * The error text goes to errbuf (may be NULL).
 */
int motan_frame_parse(motan_frame *f, const uint8_t *data, size_t len, size_t max_content,
                      size_t *consumed, char *errbuf, size_t errlen);

motan_frame_kind motan_frame_get_kind(const motan_frame *f);
uint8_t motan_frame_get_flags(const motan_frame *f);
int motan_frame_get_status(const motan_frame *f);
int motan_frame_get_serialization(const motan_frame *f);
uint64_t motan_frame_get_request_id(const motan_frame *f);
/* Raw metadata entries in wire order (a later duplicate key wins in motan_frame_meta_get). */
size_t motan_frame_meta_count(const motan_frame *f);
const char *motan_frame_meta_key(const motan_frame *f, size_t i, size_t *len);
const char *motan_frame_meta_value(const motan_frame *f, size_t i, size_t *len);
/* Value of key, or NULL. Borrowed, see above. */
const char *motan_frame_meta_get(const motan_frame *f, const char *key, size_t klen,
                                 size_t *vlen);
/* The body after gunzip. */
const uint8_t *motan_frame_body(const motan_frame *f, size_t *len);

/*
 * Error details of a response with status != 0, from M_e (§3.3): tolerant parsing; when M_e
 * is missing or unparsable, errcode 0, errtype 1 and the raw text (or "no error details") as
 * message. Returns 0 when the frame is not an error response. msg is borrowed like metadata.
 */
int motan_frame_error(const motan_frame *f, int64_t *errcode, int *errtype, const char **msg,
                      size_t *msglen);

/* Incremental parser: feed chunks of any size, take whole frames out. */
typedef struct motan_parser motan_parser;

/* owned: free with motan_parser_free. max_content 0 = 10 MiB. */
motan_parser *motan_parser_new(size_t max_content);
void motan_parser_free(motan_parser *p);
/*
 * Buffers a chunk. Fails (and stays failed) as soon as the buffered bytes prove the stream
 * bad, e.g. MOTAN_ETOOBIG for a declared size over the limit, without buffering that body.
 */
int motan_parser_feed(motan_parser *p, const void *data, size_t len);
/*
 * Takes the next whole frame into f (views valid until the next feed or next call).
 * MOTAN_OK, MOTAN_EAGAIN (need more bytes) or the sticky error of the stream.
 */
int motan_parser_next(motan_parser *p, motan_frame *f, char *errbuf, size_t errlen);
/* Bytes buffered and not yet returned as frames. */
size_t motan_parser_buffered(const motan_parser *p);

/* ==== requests and responses as data ==================================================== */

/*
 * A call to make: method, arguments, attachments and per-call options. The client sends
 * service, group, version, application and serialization from its URL where they are unset,
 * without writing them into the request: calls only read a request, so one request may be in
 * flight several times at once, from several threads. It must stay unchanged (no setter
 * called, not freed) from the call until its completion; it can be sent again.
 */
typedef struct motan_request motan_request;

/* owned: free with motan_request_free. method may be NULL (set it later). */
motan_request *motan_request_new(const char *method);
void motan_request_free(motan_request *r);

int motan_request_set_method(motan_request *r, const char *method);
const char *motan_request_get_method(const motan_request *r);
/* Service path (M_p). */
int motan_request_set_service(motan_request *r, const char *path);
const char *motan_request_get_service(const motan_request *r);
/* Method description (M_md), e.g. "java.lang.String,long"; NULL or "" clears it. */
int motan_request_set_method_desc(motan_request *r, const char *desc);
const char *motan_request_get_method_desc(const motan_request *r);
/* group (M_g), version (M_v), application (M_s), module (M_mdu); NULL or "" clears. */
int motan_request_set_group(motan_request *r, const char *group);
const char *motan_request_get_group(const motan_request *r);
int motan_request_set_version(motan_request *r, const char *version);
const char *motan_request_get_version(const motan_request *r);
int motan_request_set_application(motan_request *r, const char *app);
const char *motan_request_get_application(const motan_request *r);
int motan_request_set_module(motan_request *r, const char *module);
/*
 * Attachments, sent after the reserved keys in insertion order. Setting an existing key
 * replaces its value; an empty value removes it. Keys or values with '\n', empty keys and
 * reserved keys the client sets itself (M_p, M_m, M_md, M_g, M_v, M_s, M_mdu, M_pp, M_tmo)
 * are MOTAN_EINVAL.
 */
int motan_request_set_meta(motan_request *r, const char *key, const char *val);
const char *motan_request_get_meta(const motan_request *r, const char *key);
size_t motan_request_meta_count(const motan_request *r);
const char *motan_request_meta_key(const motan_request *r, size_t i);
const char *motan_request_meta_value(const motan_request *r, size_t i);

/* Arena for building arguments; borrowed, lives as long as r. */
motan_arena *motan_request_arena(motan_request *r);
/* Appends an argument (a value from motan_request_arena(r)); discards a raw body. */
int motan_request_add_arg(motan_request *r, motan_value *v);
size_t motan_request_arg_count(const motan_request *r);
const motan_value *motan_request_arg(const motan_request *r, size_t i);
/* A pre-encoded body in serialization ser (copied); replaces the arguments. */
int motan_request_set_body(motan_request *r, int ser, const void *data, size_t len);
/*
 * Streaming alternative: the buffer to write a Simple body into directly (discarding the
 * arguments); borrowed, lives as long as r. NULL on out of memory.
 */
motan_buf *motan_request_body_buf(motan_request *r);

/*
 * Serialization for the body. Unset (get returns -1), the client's URL decides (its
 * `serialization` parameter, else Simple); a request used alone encodes as Simple.
 */
int motan_request_set_serialization(motan_request *r, int ser);
int motan_request_get_serialization(const motan_request *r);
/* Per-call timeout in ms (0: the client's requestTimeout for the method). */
void motan_request_set_timeout(motan_request *r, int timeout_ms);
int motan_request_get_timeout(const motan_request *r);
/* Key for the consistent-hash load balancer (copied). */
int motan_request_set_hash_key(motan_request *r, const char *key, size_t len);
const char *motan_request_get_hash_key(const motan_request *r, size_t *len);
/*
 * Pass-through, for proxies (the agent): raw 1 = the response to this request keeps its body
 * as received (after gunzip) and is not decoded: motan_response_get_body and
 * _get_serialization give it, motan_response_get_value gives NULL. Status, metadata, M_pt
 * and M_e are read as always (an error response is MOTAN_EREMOTE with its errcode). Any
 * serialization passes, including ones libmotan cannot decode. Default 0 (decoded).
 */
int motan_request_set_raw_response(motan_request *r, int raw);
int motan_request_get_raw_response(const motan_request *r);

/*
 * Serializes the arguments into the body (once; later calls reuse it). Errors: encoding
 * failures, MOTAN_EUNSUPPORTED for a serialization without a codec.
 */
int motan_request_prepare(motan_request *r, char *errbuf, size_t errlen);
/* The prepared body (borrowed). */
const uint8_t *motan_request_body(const motan_request *r, size_t *len);
/*
 * Appends the whole request frame to out: header with request_id, metadata (M_p, M_m, M_md,
 * M_g, M_v, M_s, M_mdu, M_pp=motan2, M_tmo when timeout_ms > 0, then attachments) and the
 * prepared body, gzipped when mingz > 0 and the body is longer.
 */
int motan_request_encode(motan_request *r, uint64_t request_id, int timeout_ms, size_t mingz,
                         motan_buf *out, char *errbuf, size_t errlen);
/*
 * As motan_request_encode, plus nmeta extra metadata entries meta[2i] = meta[2i + 1]
 * (NUL-terminated; a filter's additions for this call) written after the attachments; an
 * attachment with the same key as an extra entry is left out. Like motan_request_encode it
 * prepares the body first (motan_request_encode_filled does not).
 */
int motan_request_encode_ex(motan_request *r, uint64_t request_id, int timeout_ms, size_t mingz,
                            const char *const *meta, size_t nmeta, motan_buf *out, char *errbuf,
                            size_t errlen);

/*
 * What a sender puts in a frame where the request leaves a field unset (NULL: nothing), and
 * a group sent instead of the request's own (a rule routed the call to another group; NULL:
 * none). Zero it before use ({0}): fields are only ever added at the end.
 */
typedef struct motan_request_fill {
    const char *service;
    const char *group;
    const char *version;
    const char *application;
    int serialization; /* MOTAN_SER_*; 0 or < 0: none (hessian2, id 0, has no codec here) */
    const char *group_override;
    /* Extra metadata meta[2i] = meta[2i + 1], as motan_request_encode_ex takes them. */
    const char *const *meta;
    size_t nmeta;
} motan_request_fill;

/*
 * motan_request_encode without writing to r (the transport's, for requests shared between
 * calls and threads): fill (may be NULL) supplies what r leaves unset, and arguments that
 * were not prepared in the serialization sent (motan_request_prepare) are serialized straight
 * into out. Errors as motan_request_encode, plus argument encoding errors.
 */
int motan_request_encode_filled(const motan_request *r, const motan_request_fill *fill,
                                uint64_t request_id, int timeout_ms, size_t mingz, motan_buf *out,
                                char *errbuf, size_t errlen);

/*
 * Zero-copy encoding, for senders that write from a list of buffers (the transport):
 * motan_request_encode_filled, except that big bytes of the request (a prepared or raw body,
 * or top-level Simple string and bytes arguments, of at least MOTAN_ENCODE_REF_MIN bytes
 * each) are not copied into out but listed in refs (at most nrefs_max, in order): ref i goes
 * at offset refs[i].offset of out, the bytes of out before it first. Not when the body may
 * be gzipped (mingz > 0 and arguments not prepared, or a body longer than mingz): copied.
 * When *nrefs > 0, *hold holds the request's memory once per ref (the request may be freed
 * meanwhile): release each with motan_request_hold_release once its bytes are written.
 * The frame's size fields count the referenced bytes.
 */
#define MOTAN_ENCODE_REF_MIN 8192
typedef struct motan_encode_ref {
    size_t offset;
    const uint8_t *data;
    size_t len;
} motan_encode_ref;
typedef struct motan_request_hold motan_request_hold;
int motan_request_encode_refs(const motan_request *r, const motan_request_fill *fill,
                              uint64_t request_id, int timeout_ms, size_t mingz, motan_buf *out,
                              motan_encode_ref *refs, size_t nrefs_max, size_t *nrefs,
                              motan_request_hold **hold, char *errbuf, size_t errlen);
/* Gives back one of the holds motan_request_encode_refs took (any thread). */
void motan_request_hold_release(motan_request_hold *h);

/*
 * The outcome of one call: a value, or an error with a code, a message and, for remote
 * errors, the server's errcode and errtype. Values and metadata live with the response.
 */
typedef struct motan_response motan_response;

/* owned: free with motan_response_free. NULL on out of memory. */
motan_response *motan_response_new(void);
/*
 * Never NULL: a new response, or when memory runs out a shared, read-only one with code
 * MOTAN_ENOMEM and message "out of memory" (setters leave it as it is, and
 * motan_response_free accepts it). For completions that must be delivered whatever happens:
 * every response a callback or motan_client_poll hands out is one of these.
 */
motan_response *motan_response_new_or_oom(void);
void motan_response_free(motan_response *r);

/* MOTAN_OK, or the error code of the call (MOTAN_EREMOTE for an error response). */
int motan_response_get_code(const motan_response *r);
/* The result value (borrowed; NULL when the call failed). */
const motan_value *motan_response_get_value(const motan_response *r);
/* Error message, "" on success (borrowed, NUL-terminated). */
const char *motan_response_get_errmsg(const motan_response *r);
/* Remote errcode (0 when not remote). */
int64_t motan_response_get_errcode(const motan_response *r);
/* Remote errtype: 0 framework, 1 service, 2 business; -1 when the error is not remote. */
int motan_response_get_errtype(const motan_response *r);
/* Server process time in ms from M_pt; -1 when absent. */
int64_t motan_response_get_process_time(const motan_response *r);
uint64_t motan_response_get_request_id(const motan_response *r);
/* Endpoint that answered ("host:port"), "" when none. Borrowed. */
const char *motan_response_get_endpoint(const motan_response *r);
/* Response metadata (borrowed, NUL-terminated; later duplicates win in _meta). */
const char *motan_response_get_meta(const motan_response *r, const char *key);
size_t motan_response_meta_count(const motan_response *r);
const char *motan_response_meta_key(const motan_response *r, size_t i);
const char *motan_response_meta_value(const motan_response *r, size_t i);
/* The arena of the response (for callers building values that live with it); NULL for the
 * shared out-of-memory response (motan_response_new_or_oom). */
motan_arena *motan_response_arena(motan_response *r);
/* Bytes of the response frame's body (after gunzip); 0 for a response not from a frame. */
size_t motan_response_get_body_size(const motan_response *r);

/*
 * Where an attempt's time went, measured by the transport when the call asked for it
 * (MOTAN_CALL_PHASES, see transport.h; filters with MOTAN_FILTER_PHASES): queue (handing
 * the call to the loop thread), connect (waiting for the connection to open), write
 * (encoding and writing the request until it left for the kernel), wait (until the answer
 * frame was complete), decode (metadata and value into the response).
 */
typedef enum motan_phase {
    MOTAN_PHASE_QUEUE = 0,
    MOTAN_PHASE_CONNECT = 1,
    MOTAN_PHASE_WRITE = 2,
    MOTAN_PHASE_WAIT = 3,
    MOTAN_PHASE_DECODE = 4,
    MOTAN_PHASE_COUNT = 5
} motan_phase;
/* When the transport read the answer (motan_now_us clock; MOTAN_CALL_RECEIVED), else 0. */
uint64_t motan_response_get_received_us(const motan_response *r);
void motan_response_set_received_us(motan_response *r, uint64_t us);
/* Microseconds spent in phase; 0 when not measured. */
uint64_t motan_response_get_phase_us(const motan_response *r, int phase);
void motan_response_set_phase_us(motan_response *r, int phase, uint64_t us);

/*
 * Filling a response (transport, HA strategies, servers).
 * motan_response_set_frame: status, metadata, M_pt, M_e and the value decoded from the
 * body (copied into the response's arena). A body that cannot be decoded makes the response
 * MOTAN_EDECODE; one whose values would take more than the response's decoded-size budget,
 * MOTAN_ETOOBIG (message naming maxDecodedSize). Returns the response's code. (A client's
 * transport instead lends a big frame's memory to the response: see read-side views above.)
 */
int motan_response_set_frame(motan_response *r, const motan_frame *f);
/*
 * As motan_response_set_frame, but the body is copied as bytes (after gunzip) instead of
 * decoded (pass-through; the transport uses it for motan_request_set_raw_response).
 */
int motan_response_set_frame_raw(motan_response *r, const motan_frame *f);
/*
 * The body of a response filled by motan_response_set_frame_raw (borrowed, lives with r;
 * "" with *len 0 for an empty body), or NULL with *len 0 when r holds no raw body. *len may
 * be NULL. Use *len: a client's big raw body (4 KiB and more, from a big frame) is a view
 * into the memory it was received in, with no NUL after it.
 */
const uint8_t *motan_response_get_body(const motan_response *r, size_t *len);
/* The serialization id of the received frame, -1 when no frame was received. */
int motan_response_get_serialization(const motan_response *r);
/*
 * The decoded-size budget of motan_response_set_frame: bytes of values its body may decode
 * to (0: MOTAN_DEFAULT_MAX_DECODED). Kept across motan_response_reset.
 */
void motan_response_set_max_decoded(motan_response *r, size_t max_bytes);
/* A local failure: code (< 0) and message (copied). */
void motan_response_set_error(motan_response *r, int code, const char *msg);
/* A remote error: MOTAN_EREMOTE with errcode, errtype and message. */
void motan_response_set_remote_error(motan_response *r, int64_t errcode, int errtype,
                                     const char *msg);
/* A successful value (copied into the response's arena). */
int motan_response_set_value(motan_response *r, const motan_value *v);
void motan_response_set_endpoint(motan_response *r, const char *endpoint);
void motan_response_set_request_id(motan_response *r, uint64_t id);
/* Resets r to an empty, successful, null response, keeping its memory. */
void motan_response_reset(motan_response *r);

/* ==== motan URLs (§8) =================================================================== */

/*
 * protocol://host:port[,host:port...]/path?k=v&k=v. A host may be "[::1]" (IPv6) or
 * "[unix:/path/to.sock]" (Unix socket). Parameters are URL-decoded, Java's trailing '&'
 * and "key" without '=' (= "key=key") are accepted. "group" stays an ordinary parameter.
 */
typedef struct motan_url motan_url;

/* owned: free with motan_url_free. */
int motan_url_parse(const char *s, size_t len, motan_url **out, char *errbuf, size_t errlen);
/*
 * ZooKeeper node data (§8.1): plain UTF-8, or a Java object-stream string
 * (ac ed 00 05 74 <u16 len> ... or 7c <u64 len> ...).
 */
int motan_url_parse_node_data(const uint8_t *data, size_t len, motan_url **out, char *errbuf,
                              size_t errlen);
motan_url *motan_url_new(const char *protocol);
motan_url *motan_url_clone(const motan_url *u);
void motan_url_free(motan_url *u);

const char *motan_url_get_protocol(const motan_url *u);
/* Addresses, in order: host ("" when none; a Unix path for "unix:" entries) and port. */
size_t motan_url_addr_count(const motan_url *u);
const char *motan_url_addr_host(const motan_url *u, size_t i);
int motan_url_addr_port(const motan_url *u, size_t i);
/* 1 when address i is a Unix socket path. */
int motan_url_addr_is_unix(const motan_url *u, size_t i);
int motan_url_add_addr(motan_url *u, const char *host, int port);
const char *motan_url_get_path(const motan_url *u);
int motan_url_set_path(motan_url *u, const char *path);

/* Raw parameter or NULL. Borrowed until the parameter is changed. */
const char *motan_url_get_param(const motan_url *u, const char *key);
/* Sets (or with NULL removes) a parameter; keeps first-insertion order. */
int motan_url_set_param(motan_url *u, const char *key, const char *val);
size_t motan_url_param_count(const motan_url *u);
const char *motan_url_param_key(const motan_url *u, size_t i);
const char *motan_url_param_value(const motan_url *u, size_t i);

/* Default of a §8.2 parameter as libmotan uses it ("1000" for requestTimeout...), or NULL. */
const char *motan_url_param_default(const char *key);
/*
 * Effective parameter: "<method>.<key>" when method is given and set, else "<key>", else the
 * §8.2 default, else def. motan_url_get_int: the same, parsed as a decimal integer (an
 * unparsable value gives def).
 */
const char *motan_url_get_str(const motan_url *u, const char *method, const char *key,
                              const char *def);
int64_t motan_url_get_int(const motan_url *u, const char *method, const char *key, int64_t def);

/*
 * Text form. motan_url_format: protocol://addrs/path?params in stored order (owned: free
 * with motan_free). motan_url_identity: protocol://first-addr/path?group=G (Go identity).
 */
char *motan_url_format(const motan_url *u);
char *motan_url_identity(const motan_url *u);

/* ==== typed JSON (docs/typed-json.md) ============================================ */

/* Parses one typed-JSON text into arena a. MOTAN_EDECODE with a message on bad text. */
int motan_tjson_parse(const char *text, size_t len, motan_arena *a, motan_value **out,
                      char *errbuf, size_t errlen);
/* Canonical typed JSON of v. owned: free with motan_free; NULL on out of memory. */
char *motan_tjson_format(const motan_value *v);

#endif /* MOTAN_CODEC_H */
