<?php
// PHP values <-> Simple values (include/motan/codec.h) through FFI.
declare(strict_types=1);

namespace Motan;

/** @internal */
final class Values
{
    private const MAX_DEPTH = 64; // MOTAN_MAX_DEPTH: what any decoder would refuse anyway

    private const T_NULL = 0, T_STRING = 1, T_STRING_MAP = 2, T_BYTES = 3, T_STRING_ARRAY = 4,
        T_BOOL = 5, T_BYTE = 6, T_INT16 = 7, T_INT32 = 8, T_INT64 = 9, T_FLOAT32 = 10,
        T_FLOAT64 = 11, T_MAP = 20, T_ARRAY = 21;

    private \FFI $f;
    private \FFI\CData $len; // size_t out-parameter of motan_value_get_data, reused

    public function __construct()
    {
        $this->f = Native::ffi();
        $this->len = $this->f->new('size_t');
    }

    /** Builds $v in arena $a; the result is owned by the arena. */
    public function encode(\FFI\CData $a, mixed $v, int $depth = 0): \FFI\CData
    {
        $f = $this->f;
        if ($depth > self::MAX_DEPTH) {
            throw new MotanException('value nested deeper than ' . self::MAX_DEPTH, Code::ETOOBIG);
        }
        $r = match (true) {
            is_string($v) => $f->motan_value_new_string($a, $v, strlen($v)),
            is_int($v) => $f->motan_value_new_int64($a, $v),
            is_float($v) => $f->motan_value_new_float64($a, $v),
            is_bool($v) => $f->motan_value_new_bool($a, $v ? 1 : 0),
            $v === null => $f->motan_value_new_null($a),
            is_array($v) => array_is_list($v) ? $this->list($a, $v, $depth) : $this->map($a, new Map($v), $depth),
            $v instanceof Bytes => $f->motan_value_new_bytes($a, $v->value, strlen($v->value)),
            $v instanceof Byte => $f->motan_value_new_byte($a, $v->value),
            $v instanceof Int16 => $f->motan_value_new_int16($a, $v->value),
            $v instanceof Int32 => $f->motan_value_new_int32($a, $v->value),
            $v instanceof Float32 => $f->motan_value_new_float32($a, $v->value),
            $v instanceof StringMap => $this->stringMap($a, $v),
            $v instanceof StringArray => $this->stringArray($a, $v),
            $v instanceof Map => $this->map($a, $v, $depth),
            default => throw new MotanException('cannot send a PHP value of type ' . get_debug_type($v), Code::EINVAL),
        };
        return $r ?? throw new MotanException('out of memory', Code::ENOMEM);
    }

    /** A PHP value for $v: natively (tags folded into PHP types) or typed (exact wrappers). */
    public function decode(\FFI\CData $v, bool $typed): mixed
    {
        $f = $this->f;
        switch ($f->motan_value_type($v)) {
            case self::T_NULL:
                return null;
            case self::T_STRING:
                return $this->data($v);
            case self::T_BYTES:
                return $typed ? new Bytes($this->data($v)) : $this->data($v);
            case self::T_BOOL:
                return $f->motan_value_get_bool($v) !== 0;
            case self::T_BYTE:
                return $typed ? new Byte($f->motan_value_get_int($v)) : $f->motan_value_get_int($v);
            case self::T_INT16:
                return $typed ? new Int16($f->motan_value_get_int($v)) : $f->motan_value_get_int($v);
            case self::T_INT32:
                return $typed ? new Int32($f->motan_value_get_int($v)) : $f->motan_value_get_int($v);
            case self::T_INT64:
                return $f->motan_value_get_int($v);
            case self::T_FLOAT32:
                return $typed ? new Float32($f->motan_value_get_float($v)) : $f->motan_value_get_float($v);
            case self::T_FLOAT64:
                return $f->motan_value_get_float($v);
            case self::T_ARRAY:
            case self::T_STRING_ARRAY:
                $out = [];
                for ($i = 0, $n = $f->motan_value_count($v); $i < $n; $i++) {
                    $out[] = $this->decode($f->motan_value_at($v, $i), $typed);
                }
                return ($typed && $f->motan_value_type($v) === self::T_STRING_ARRAY) ? new StringArray($out) : $out;
            case self::T_STRING_MAP:
                $out = [];
                for ($i = 0, $n = $f->motan_value_count($v); $i < $n; $i++) {
                    $out[$this->data($f->motan_value_key_at($v, $i))] = $this->data($f->motan_value_value_at($v, $i));
                }
                return $typed ? new StringMap($out) : $out;
            case self::T_MAP:
                return $this->decodeMap($v, $typed);
            default:
                throw new MotanException('unknown Simple type ' . $f->motan_value_type($v), Code::EDECODE);
        }
    }

    /**
     * MAP: typed -> Map (pairs, exact keys). Native -> a PHP array when every key is a
     * string, bytes or integer; otherwise a Map of natively decoded pairs.
     */
    private function decodeMap(\FFI\CData $v, bool $typed): mixed
    {
        $f = $this->f;
        $pairs = [];
        $phpKeys = !$typed;
        for ($i = 0, $n = $f->motan_value_count($v); $i < $n; $i++) {
            $k = $this->decode($f->motan_value_key_at($v, $i), $typed);
            $phpKeys = $phpKeys && (is_int($k) || is_string($k));
            $pairs[] = [$k, $this->decode($f->motan_value_value_at($v, $i), $typed)];
        }
        if (!$phpKeys) {
            return Map::fromPairs($pairs);
        }
        $out = [];
        foreach ($pairs as [$k, $val]) {
            $out[$k] = $val;
        }
        return $out;
    }

    private function data(\FFI\CData $v): string
    {
        $p = $this->f->motan_value_get_data($v, \FFI::addr($this->len));
        $n = $this->len->cdata;
        return $n === 0 ? '' : \FFI::string($p, $n);
    }

    private function list(\FFI\CData $a, array $items, int $depth): ?\FFI\CData
    {
        $c = $this->container($a, self::T_ARRAY);
        foreach ($items as $item) {
            $this->check($this->f->motan_value_append($c, $this->encode($a, $item, $depth + 1)));
        }
        return $c;
    }

    private function map(\FFI\CData $a, Map $m, int $depth): ?\FFI\CData
    {
        $c = $this->container($a, self::T_MAP);
        foreach ($m->pairs as [$k, $val]) {
            $this->check($this->f->motan_value_map_put($c, $this->encode($a, $k, $depth + 1),
                $this->encode($a, $val, $depth + 1)));
        }
        return $c;
    }

    private function stringMap(\FFI\CData $a, StringMap $m): ?\FFI\CData
    {
        $c = $this->container($a, self::T_STRING_MAP);
        foreach ($m->value as $k => $val) {
            $this->check($this->f->motan_value_map_put($c, $this->encode($a, (string)$k), $this->encode($a, $val)));
        }
        return $c;
    }

    private function stringArray(\FFI\CData $a, StringArray $s): ?\FFI\CData
    {
        $c = $this->container($a, self::T_STRING_ARRAY);
        foreach ($s->value as $item) {
            $this->check($this->f->motan_value_append($c, $this->encode($a, $item)));
        }
        return $c;
    }

    private function container(\FFI\CData $a, int $t): \FFI\CData
    {
        return $this->f->motan_value_new_container($a, $t) ?? throw new MotanException('out of memory', Code::ENOMEM);
    }

    private function check(int $rc): void
    {
        if ($rc !== 0) {
            throw new MotanException(Native::ffi()->motan_strerror($rc), $rc);
        }
    }
}
