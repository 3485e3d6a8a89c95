<?php
// A motan client: one libmotan motan_client (on the process's shared loop thread), blocking calls.
declare(strict_types=1);

namespace Motan;

final class Client
{
    private const OPTIONS = ['timeout', 'attachments', 'method_desc', 'hash_key', 'typed'];

    private \FFI $f;
    private Values $values;
    private ?\FFI\CData $c;

    /**
     * The process's one loop thread, shared by every client unless it asks for its own; made on
     * first use, never freed (clients may be destroyed in any order). A child process after
     * fork() makes a new one: the parent's can only be freed there.
     */
    private static ?\FFI\CData $loop = null;

    private static function processLoop(\FFI $f): \FFI\CData
    {
        if (self::$loop === null || $f->motan_loop_forked(self::$loop) !== 0) {
            $out = $f->new('motan_loop *');
            $err = $f->new('char[512]');
            $rc = $f->motan_loop_new(\FFI::addr($out), $err, 512);
            if ($rc !== 0) {
                $msg = \FFI::string($err);
                throw new MotanException($msg !== '' ? $msg : $f->motan_strerror($rc), $rc);
            }
            self::$loop = $out;
        }
        return self::$loop;
    }

    /**
     * On the process's shared loop thread, or on a thread of its own with $ownLoop.
     * @throws MotanException for a bad URL (getCode() MOTAN_EURL) or a library that cannot load
     */
    public function __construct(string $url, bool $ownLoop = false)
    {
        $this->f = Native::ffi();
        $this->values = new Values();
        $out = $this->f->new('motan_client *');
        $err = $this->f->new('char[512]');
        $rc = $ownLoop
            ? $this->f->motan_client_new(self::cstr($url, 'the URL'), \FFI::addr($out), $err, 512)
            : $this->f->motan_client_new_on_loop(self::processLoop($this->f), self::cstr($url, 'the URL'),
                \FFI::addr($out), $err, 512);
        if ($rc !== 0) {
            $msg = \FFI::string($err);
            throw new MotanException($msg !== '' ? $msg : $this->f->motan_strerror($rc), $rc);
        }
        $this->c = $out;
    }

    /** call("add", 1, 2): the arguments as they are, default options. */
    public function call(string $method, mixed ...$args): mixed
    {
        return $this->callWith($method, $args);
    }

    /**
     * callWith($method, [$arg, ...], [
     *     'timeout' => 500,                    // ms; 0 or absent: the URL's requestTimeout
     *     'attachments' => ['X-Key' => 'v'],  // request metadata
     *     'method_desc' => 'java.lang.String', // M_md
     *     'hash_key' => 'user-42',             // for loadbalance=consistent
     *     'typed' => true,                     // decode to exact-tag wrappers (see README)
     * ])
     */
    public function callWith(string $method, array $args, array $options = []): mixed
    {
        $f = $this->f;
        if ($this->c === null) {
            throw new MotanException('client is closed', Code::ECLOSED);
        }
        foreach ($options as $k => $_) {
            if (!in_array($k, self::OPTIONS, true)) {
                throw new MotanException("unknown option '$k'", Code::EINVAL);
            }
        }
        $req = $f->motan_client_request($this->c, self::cstr($method, 'the method name'))
            ?? throw new MotanException('out of memory', Code::ENOMEM);
        try {
            $this->prepare($req, $args, $options);
            $out = $f->new('motan_response *'); // NULL until the call fills it
            $rc = $f->motan_client_call($this->c, $req, \FFI::addr($out));
            $resp = $out;
            if (\FFI::isNull($resp)) {
                throw MotanException::forCall($rc, $f->motan_strerror($rc));
            }
            try {
                if ($rc !== 0) {
                    throw MotanException::forCall($rc, $f->motan_response_get_errmsg($resp),
                        $f->motan_response_get_errcode($resp), $f->motan_response_get_errtype($resp));
                }
                $v = $f->motan_response_get_value($resp);
                return $v === null ? null : $this->values->decode($v, (bool)($options['typed'] ?? false));
            } finally {
                $f->motan_response_free($resp);
            }
        } finally {
            $f->motan_request_free($req);
        }
    }

    /** Frees the client; calls in flight elsewhere end with MOTAN_ECANCELLED. Idempotent. */
    /**
     * The client's statistics (docs/observability.md) as the decoded JSON array: with
     * filter=metrics in the URL, calls and attempts by method and endpoint; endpoints always.
     */
    public function stats(): array
    {
        return json_decode($this->statsJson(), true, 64, JSON_THROW_ON_ERROR);
    }

    /** The same statistics as the library's JSON text. */
    public function statsJson(): string
    {
        $p = $this->f->motan_client_stats_json($this->open())
            ?? throw new MotanException('out of memory', Code::ENOMEM);
        try {
            return \FFI::string($p);
        } finally {
            $this->f->motan_free($p);
        }
    }

    /** The same statistics in the Prometheus text format. */
    public function prometheus(): string
    {
        $f = $this->f;
        $src = $f->new('motan_stats *[1]');
        $src[0] = $f->motan_client_get_stats($this->open());
        $out = $f->new('char *');
        $len = $f->new('size_t');
        $rc = $f->motan_stats_prometheus($src, 1, \FFI::addr($out), \FFI::addr($len));
        if ($rc !== 0) {
            throw new MotanException('motan_stats_prometheus: ' . $f->motan_strerror($rc), $rc);
        }
        try {
            return \FFI::string($out, $len->cdata);
        } finally {
            $f->motan_free($out);
        }
    }

    private function open(): \FFI\CData
    {
        return $this->c ?? throw new MotanException('client is closed', Code::ECLOSED);
    }

    public function close(): void
    {
        if ($this->c !== null) {
            $this->f->motan_client_free($this->c);
            $this->c = null;
        }
    }

    public function __destruct()
    {
        $this->close();
    }

    private function prepare(\FFI\CData $req, array $args, array $o): void
    {
        $f = $this->f;
        if (isset($o['timeout'])) {
            $f->motan_request_set_timeout($req, self::int($o['timeout'], 'timeout'));
        }
        if (isset($o['method_desc'])) {
            $this->check($f->motan_request_set_method_desc($req, self::cstr(self::str($o['method_desc'], 'method_desc'), 'method_desc')), 'method_desc');
        }
        if (isset($o['hash_key'])) {
            $key = self::str($o['hash_key'], 'hash_key');
            $this->check($f->motan_request_set_hash_key($req, $key, strlen($key)), 'hash_key');
        }
        $attachments = $o['attachments'] ?? [];
        if (!is_array($attachments)) {
            throw new MotanException('attachments must be an array of strings', Code::EINVAL);
        }
        foreach ($attachments as $k => $v) {
            $this->check($f->motan_request_set_meta($req, self::cstr((string)$k, 'an attachment key'),
                self::cstr(self::str($v, "attachment '$k'"), "attachment '$k'")), "attachment '$k'");
        }
        $arena = $f->motan_request_arena($req);
        foreach ($args as $arg) {
            $this->check($f->motan_request_add_arg($req, $this->values->encode($arena, $arg)), 'argument');
        }
    }

    private function check(int $rc, string $what): void
    {
        if ($rc !== 0) {
            throw new MotanException("bad $what: " . $this->f->motan_strerror($rc), $rc);
        }
    }

    private static function str(mixed $v, string $what): string
    {
        return is_string($v) ? $v : throw new MotanException("$what must be a string", Code::EINVAL);
    }

    /**
     * Text for a C string parameter. PHP passes a string's buffer as it is, so an embedded NUL
     * would end it early in C (another method or URL than the one written): refused.
     */
    private static function cstr(string $s, string $what): string
    {
        return !str_contains($s, "\0") ? $s
            : throw new MotanException("$what contains a NUL byte", Code::EINVAL);
    }

    private static function int(mixed $v, string $what): int
    {
        return is_int($v) && $v >= 0 && $v <= 0x7fffffff
            ? $v : throw new MotanException("$what must be a non-negative int", Code::EINVAL);
    }
}
