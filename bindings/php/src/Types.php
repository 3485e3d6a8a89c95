<?php
// Wrappers that pin a value to an exact Simple tag (Java servers are strict about argument
// types, spec §5.7). They are also what a typed decode (option 'typed' => true) returns.
declare(strict_types=1);

namespace Motan;

/** A bytes value (tag 3); plain PHP strings are sent as strings (tag 1). */
final class Bytes
{
    public function __construct(public readonly string $value)
    {
    }
}

/** An unsigned byte (tag 6): 0..255; -128..-1 are taken as Java's signed bytes (& 0xff). */
final class Byte
{
    public readonly int $value;

    public function __construct(int $value)
    {
        if ($value < -128 || $value > 255) {
            throw new MotanException("Byte out of range: $value", Code::EINVAL);
        }
        $this->value = $value & 0xff;
    }
}

/** A 16-bit integer (tag 7). */
final class Int16
{
    public function __construct(public readonly int $value)
    {
        if ($value < -32768 || $value > 32767) {
            throw new MotanException("Int16 out of range: $value", Code::EINVAL);
        }
    }
}

/** A 32-bit integer (tag 8). */
final class Int32
{
    public function __construct(public readonly int $value)
    {
        if ($value < -2147483648 || $value > 2147483647) {
            throw new MotanException("Int32 out of range: $value", Code::EINVAL);
        }
    }
}

/** A single-precision float (tag 10); the value is rounded to float when sent. */
final class Float32
{
    public function __construct(public readonly float $value)
    {
    }
}

/** A string map (tag 2): keys and values are strings (integer keys are sent as their digits). */
final class StringMap
{
    /** @param array<string|int, string> $value */
    public function __construct(public readonly array $value = [])
    {
        foreach ($value as $v) {
            if (!is_string($v)) {
                throw new MotanException('StringMap values must be strings, got ' . get_debug_type($v), Code::EINVAL);
            }
        }
    }
}

/** A string array (tag 4): a list of strings. */
final class StringArray
{
    /** @var list<string> */
    public readonly array $value;

    /** @param array<string> $value */
    public function __construct(array $value = [])
    {
        foreach ($value as $v) {
            if (!is_string($v)) {
                throw new MotanException('StringArray items must be strings, got ' . get_debug_type($v), Code::EINVAL);
            }
        }
        $this->value = array_values($value);
    }
}

/**
 * A map (tag 20) as ordered [key, value] pairs, so keys may be any value (wrappers, floats,
 * bools, null, arrays). new Map() is the empty map (a plain [] is an empty array);
 * new Map([1 => 'a']) forces a map for a PHP array that would otherwise be a list.
 */
final class Map
{
    /** @var list<array{0: mixed, 1: mixed}> */
    public readonly array $pairs;

    public function __construct(array $entries = [])
    {
        $pairs = [];
        foreach ($entries as $k => $v) {
            $pairs[] = [$k, $v];
        }
        $this->pairs = $pairs;
    }

    /** @param iterable<array{0: mixed, 1: mixed}> $pairs */
    public static function fromPairs(iterable $pairs): self
    {
        $list = [];
        foreach ($pairs as $p) {
            if (!is_array($p) || count($p) !== 2 || !array_key_exists(0, $p) || !array_key_exists(1, $p)) {
                throw new MotanException('Map::fromPairs wants [key, value] pairs', Code::EINVAL);
            }
            $list[] = [$p[0], $p[1]];
        }
        // $pairs is readonly: initialise it once, on an instance made without the constructor.
        $m = (new \ReflectionClass(self::class))->newInstanceWithoutConstructor();
        (function () use ($list): void {
            $this->pairs = $list;
        })->call($m);
        return $m;
    }

    /** The map as a PHP array; keys that PHP cannot hold (not int/string) are an error. */
    public function toArray(): array
    {
        $out = [];
        foreach ($this->pairs as [$k, $v]) {
            if (!is_int($k) && !is_string($k)) {
                throw new MotanException('map key of type ' . get_debug_type($k) . ' cannot be a PHP array key', Code::EINVAL);
            }
            $out[$k] = $v;
        }
        return $out;
    }
}
