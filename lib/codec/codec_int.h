/* Private to lib/codec: value layout and helpers shared by the codec's files. */
#ifndef MOTAN_CODEC_INT_H
#define MOTAN_CODEC_INT_H

#include <motan/codec.h>

#include "core/core_int.h"

/*
 * One node of a value tree; always allocated from an arena.
 * ARRAY / STRING_ARRAY: items[0..count). MAP / STRING_MAP: items[2*i] key, items[2*i+1]
 * value. STRING / BYTES: s.p (NUL-terminated copy in the arena) and s.len.
 */
struct motan_value {
    uint8_t type;
    union {
        int b;
        uint8_t byte;
        int64_t i;
        float f32;
        double f64;
        struct {
            const char *p;
            size_t len;
        } s;
        struct {
            motan_value **items;
            size_t count; /* elements, or entries for maps */
            size_t cap;   /* slots in items */
            motan_arena *arena;
        } c;
    } u;
};

static inline int motan__is_container(int t)
{
    return t == MOTAN_T_ARRAY || t == MOTAN_T_STRING_ARRAY || t == MOTAN_T_MAP ||
           t == MOTAN_T_STRING_MAP;
}

static inline int motan__is_map(int t) { return t == MOTAN_T_MAP || t == MOTAN_T_STRING_MAP; }

/* zigzag (§5.3) */
static inline uint64_t motan__zz64(int64_t n) { return ((uint64_t)n << 1) ^ (uint64_t)(n >> 63); }
static inline uint32_t motan__zz32(int32_t n) { return ((uint32_t)n << 1) ^ (uint32_t)(n >> 31); }
static inline int64_t motan__unzz64(uint64_t u) { return (int64_t)(u >> 1) ^ -(int64_t)(u & 1); }
static inline int32_t motan__unzz32(uint32_t u) { return (int32_t)(u >> 1) ^ -(int32_t)(u & 1); }

#endif
