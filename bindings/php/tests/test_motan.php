<?php
// Tests of the PHP binding against the real test server (build/bin/motan-test-server).
// Run from the repo root: php -d ffi.enable=1 bindings/php/tests/test_motan.php
// One line per test; exit status 1 when any fails.
declare(strict_types=1);

require __DIR__ . '/../Motan.php';

use Motan\{Byte, Bytes, Client, Code, ConnectionException, Float32, Int16, Int32, Map,
    MotanException, RemoteException, StringArray, StringMap, TimeoutException};

// ---- a tiny runner --------------------------------------------------------------------

final class Failed extends Exception
{
}

$tests = [];
function test(string $name, callable $fn): void
{
    $GLOBALS['tests'][$name] = $fn;
}

/** Strict deep equality: same types, same keys in order, NaN equals NaN, -0.0 differs from 0.0. */
function same(mixed $a, mixed $b): bool
{
    if (is_float($a) && is_float($b)) {
        if (is_nan($a) || is_nan($b)) {
            return is_nan($a) && is_nan($b);
        }
        return $a === $b && fdiv(1, $a) === fdiv(1, $b);
    }
    if (is_array($a) && is_array($b)) {
        if (array_keys($a) !== array_keys($b)) {
            return false;
        }
        foreach ($a as $k => $v) {
            if (!same($v, $b[$k])) {
                return false;
            }
        }
        return true;
    }
    if (is_object($a) && is_object($b)) {
        return get_class($a) === get_class($b) && same((array)$a, (array)$b);
    }
    return $a === $b;
}

function eq(mixed $want, mixed $got, string $what = ''): void
{
    if (!same($want, $got)) {
        throw new Failed(($what !== '' ? "$what: " : '') . 'want ' . var_export($want, true)
            . ', got ' . var_export($got, true));
    }
}

function ok(bool $cond, string $what): void
{
    if (!$cond) {
        throw new Failed($what);
    }
}

/** Runs $fn, which must throw $class; returns the exception. */
function throws(string $class, callable $fn): Throwable
{
    try {
        $fn();
    } catch (Throwable $e) {
        if ($e instanceof $class) {
            return $e;
        }
        throw new Failed("want $class, got " . get_class($e) . ': ' . $e->getMessage());
    }
    throw new Failed("want $class, nothing thrown");
}

// ---- the test server ------------------------------------------------------------------

/** Starts motan-test-server on a free port: [process, port]. */
function start_server(array $extra = []): array
{
    $root = getenv('MOTAN_ROOT') ?: getcwd();
    $build = getenv('BUILD') ?: 'build';
    $bin = getenv('MOTAN_TEST_SERVER') ?: (str_starts_with($build, '/') ? $build : "$root/$build") . '/bin/motan-test-server';
    $p = proc_open(array_merge([$bin, '--port', '0', '--quiet'], $extra),
        [0 => ['file', '/dev/null', 'r'], 1 => ['pipe', 'w'], 2 => STDERR], $pipes);
    if ($p === false) {
        throw new RuntimeException("cannot start $bin");
    }
    $r = [$pipes[1]];
    $w = $e = null;
    $line = stream_select($r, $w, $e, 5) ? fgets($pipes[1]) : false;
    fclose($pipes[1]);
    if ($line === false || !ctype_digit(trim($line))) {
        proc_terminate($p, 9);
        proc_close($p);
        throw new RuntimeException("$bin printed no port");
    }
    return [$p, (int)trim($line)];
}

/** SIGTERM and wait; the server's exit status. */
function stop_server($p): int
{
    proc_terminate($p, 15);
    return proc_close($p);
}

function free_port(): int
{
    $s = stream_socket_server('tcp://127.0.0.1:0');
    $port = (int)substr(strrchr(stream_socket_get_name($s, false), ':'), 1);
    fclose($s);
    return $port;
}

/** RSS bounds mean nothing under a sanitizer: ASan's quarantine keeps freed memory. */
function rss_checked(): bool
{
    return (string)getenv('MOTAN_SANITIZER') === '';
}

function rss_kb(): int
{
    preg_match('/^VmRSS:\s+(\d+)/m', (string)file_get_contents('/proc/self/status'), $m);
    return (int)($m[1] ?? 0);
}

[$server, $port] = start_server(['--name', 'php-test']);
$url = "motan2://127.0.0.1:$port/com.example.EchoService?requestTimeout=2000";
$c = new Client($url);

// ---- values ---------------------------------------------------------------------------

test('strings round-trip (binary-safe, UTF-8, empty)', function () use ($c) {
    foreach (['hi', '', "a\0b\xff", 'héllo 世界', str_repeat('x', 70000)] as $s) {
        eq($s, $c->call('echo', $s));
    }
});

test('ints, floats, bools, null round-trip', function () use ($c) {
    foreach ([0, 1, -1, PHP_INT_MAX, PHP_INT_MIN, 0.0, -0.0, 1.5, -2.25e300, INF, -INF, NAN,
              true, false, null] as $v) {
        eq($v, $c->call('echo', $v));
        eq($v, $c->callWith('echo', [$v], ['typed' => true]), 'typed');
    }
});

test('no argument echoes null', function () use ($c) {
    eq(null, $c->call('echo'));
});

test('lists and maps round-trip natively', function () use ($c) {
    $v = [1, 'two', [3.5, [true, null]], ['k' => 'v', 7 => [1]], []];
    eq($v, $c->call('echo', $v));
    eq([], $c->call('echo', []));
    eq(['a' => 1, 'b' => ['c' => 'd']], $c->call('echo', ['a' => 1, 'b' => ['c' => 'd']]));
    eq([5 => 'x', -3 => 'y'], $c->call('echo', [5 => 'x', -3 => 'y']));
});

test('plain values keep their tags (typed decode)', function () use ($c) {
    // A list array is ARRAY, any other array a MAP with int64/string keys.
    $m = $c->callWith('echo', [['a' => 1, 2 => 'b']], ['typed' => true]);
    eq(Map::fromPairs([['a', 1], [2, 'b']]), $m);
    eq([], $c->callWith('echo', [[]], ['typed' => true]));
});

test('Bytes: a string natively, Bytes when typed', function () use ($c) {
    eq("\x00\x01bin", $c->call('echo', new Bytes("\x00\x01bin")));
    eq(new Bytes("\x00\x01bin"), $c->callWith('echo', [new Bytes("\x00\x01bin")], ['typed' => true]));
    eq(new Bytes(''), $c->callWith('echo', [new Bytes('')], ['typed' => true]));
});

test('exact-tag wrappers round-trip with their tags', function () use ($c) {
    $vals = [new Byte(0), new Byte(200), new Int16(-32768), new Int16(32767), new Int32(-2147483648),
             new Int32(70000), new Float32(1.5), new Float32(-0.25), new StringMap(['a' => 'b', '1' => '']),
             new StringMap(), new StringArray(['x', '', "y\0z"]), new StringArray(), new Map(),
             new Map(['k' => new Int16(3)])];
    foreach ($vals as $v) {
        eq($v, $c->callWith('echo', [$v], ['typed' => true]), get_class($v));
    }
});

test('wrappers decode natively to plain PHP values', function () use ($c) {
    eq(200, $c->call('echo', new Byte(200)));
    eq(255, $c->call('echo', new Byte(-1)));
    eq(-300, $c->call('echo', new Int16(-300)));
    eq(70000, $c->call('echo', new Int32(70000)));
    eq(1.5, $c->call('echo', new Float32(1.5)));
    eq(['a' => 'b'], $c->call('echo', new StringMap(['a' => 'b'])));
    eq(['x', 'y'], $c->call('echo', new StringArray(['x', 'y'])));
    eq([], $c->call('echo', new Map()));
    eq([0 => 'a', 1 => 'b'], $c->call('echo', new Map(['a', 'b'])));
});

test('tags nested inside containers survive', function () use ($c) {
    $v = Map::fromPairs([['i', new Int32(5)], ['l', [new Byte(1), new Float32(2.5)]],
        ['s', new StringArray(['q'])], ['b', new Bytes('z')]]);
    eq($v, $c->callWith('echo', [$v], ['typed' => true]));
});

test('maps with keys PHP arrays cannot hold decode to Map', function () use ($c) {
    $v = Map::fromPairs([[1.5, 'f'], [true, 'b'], [null, 'n'], [[1, 2], 'l'], [new Int32(7), 'i']]);
    eq(Map::fromPairs([[1.5, 'f'], [true, 'b'], [null, 'n'], [[1, 2], 'l'], [7, 'i']]), $c->call('echo', $v));
    eq($v, $c->callWith('echo', [$v], ['typed' => true]));
    eq([7 => 'i', 'x' => 'b'], $c->call('echo', Map::fromPairs([[new Int32(7), 'i'], [new Bytes('x'), 'b']])));
});

test('bad values are MotanException EINVAL / ETOOBIG', function () use ($c) {
    eq(Code::EINVAL, throws(MotanException::class, fn () => $c->call('echo', new stdClass()))->getCode());
    eq(Code::EINVAL, throws(MotanException::class, fn () => new Int16(40000))->getCode());
    eq(Code::EINVAL, throws(MotanException::class, fn () => new Int32(1 << 31))->getCode());
    eq(Code::EINVAL, throws(MotanException::class, fn () => new Byte(256))->getCode());
    eq(Code::EINVAL, throws(MotanException::class, fn () => new StringMap(['a' => 1]))->getCode());
    eq(Code::EINVAL, throws(MotanException::class, fn () => new StringArray([1]))->getCode());
    $deep = 'x';
    for ($i = 0; $i < 70; $i++) {
        $deep = [$deep];
    }
    $e = throws(MotanException::class, fn () => $c->call('echo', $deep));
    eq(Code::ETOOBIG, $e->getCode());
    eq('MOTAN_ETOOBIG', $e->name);
});

// ---- methods --------------------------------------------------------------------------

test('add', function () use ($c) {
    eq(5, $c->call('add', 2, 3));
    eq(70001, $c->call('add', new Int32(70000), new Byte(1)));
    eq(-1, $c->call('add', new Int16(-3), 2));
    eq(PHP_INT_MIN, $c->call('add', PHP_INT_MAX, 1));
});

test('sleep', function () use ($c) {
    $t = microtime(true);
    eq(50, $c->call('sleep', 50));
    ok(microtime(true) - $t >= 0.045, 'slept');
});

test('big', function () use ($c) {
    $b = $c->call('big', 100000);
    eq(100000, strlen($b));
    ok($b === substr(str_repeat(implode('', array_map('chr', range(0, 255))), 391), 0, 100000), 'content');
    ok($c->callWith('big', [300], ['typed' => true]) instanceof Bytes, 'Bytes when typed');
});

test('name', function () use ($c) {
    eq('php-test', $c->call('name'));
});

// ---- errors ---------------------------------------------------------------------------

test('fail raises RemoteException (errtype 2, errcode 30001)', function () use ($c) {
    $e = throws(RemoteException::class, fn () => $c->call('fail', 'boom'));
    eq('boom', $e->getMessage());
    eq(30001, $e->errcode);
    eq(2, $e->errtype);
    eq(Code::EREMOTE, $e->getCode());
    eq('MOTAN_EREMOTE', $e->name);
    ok($e instanceof MotanException, 'is a MotanException');
});

test('server errors: unknown method, error-go fault', function () use ($c) {
    $e = throws(RemoteException::class, fn () => $c->call('nosuch'));
    eq([500, 1], [$e->errcode, $e->errtype]);
    $e = throws(RemoteException::class, fn () => $c->callWith('echo', [1], ['attachments' => ['X-Fault' => 'error-go']]));
    eq([500, 1, 'injected error'], [$e->errcode, $e->errtype, $e->getMessage()]);
});

test('timeout: sleep past the per-call timeout, and noreply', function () use ($c) {
    $t = microtime(true);
    $e = throws(TimeoutException::class, fn () => $c->callWith('sleep', [3000], ['timeout' => 100]));
    ok(microtime(true) - $t < 1.5, 'timed out early');
    eq(Code::ETIMEOUT, $e->getCode());
    eq('MOTAN_ETIMEOUT', $e->name);
    throws(TimeoutException::class,
        fn () => $c->callWith('echo', ['x'], ['timeout' => 150, 'attachments' => ['X-Fault' => 'noreply']]));
    eq('still fine', $c->call('echo', 'still fine'));
});

test('connection refused raises ConnectionException', function () {
    $port = free_port();
    $d = new Client("motan2://127.0.0.1:$port/com.example.EchoService?connectTimeout=500");
    $e = throws(ConnectionException::class, fn () => $d->call('echo', 'x'));
    ok(in_array($e->getCode(), [Code::ECONNECT, Code::ENOENDPOINT], true), 'code ' . $e->getCode());
    ok(str_starts_with($e->name, 'MOTAN_E'), 'name');
    $d->close();
});

test('bad URL raises MotanException at construction', function () {
    foreach (['not a url', 'motan2://127.0.0.1:x/svc', ''] as $u) {
        $e = throws(MotanException::class, fn () => new Client($u));
        eq(Code::EURL, $e->getCode(), $u);
        eq('MOTAN_EURL', $e->name);
        ok($e->getMessage() !== '', 'message');
    }
});

// ---- options --------------------------------------------------------------------------

test('attachments, hash key and method description are accepted', function () use ($c) {
    eq('a', $c->callWith('echo', ['a'], ['attachments' => ['X-Trace' => 't1', 'X-Fault' => 'none'],
        'hash_key' => 'user-42', 'method_desc' => 'java.lang.String', 'timeout' => 1000]));
    eq(3, $c->callWith('add', [1, 2], ['method_desc' => 'int,int']));
});

test('bad options are MotanException EINVAL', function () use ($c) {
    $bad = [['attachments' => ["X-A" => "a\nb"]], ['attachments' => ['M_p' => 'x']],
            ['attachments' => ['X-A' => 5]], ['timeout' => -1], ['timeout' => '5'], ['nope' => 1], ['attachments' => 'X-A'],
            ['hash_key' => 5], ['method_desc' => ['x']]];
    foreach ($bad as $o) {
        eq(Code::EINVAL, throws(MotanException::class, fn () => $c->callWith('echo', ['x'], $o))->getCode(),
            json_encode($o));
    }
});

test('embedded NULs are refused, not cut (another method would be called)', function () use ($c, $url) {
    $cases = [
        'method' => fn () => $c->call("echo\0fail", 'x'),
        'attachment value' => fn () => $c->callWith('echo', ['x'], ['attachments' => ['k' => "a\0b"]]),
        'attachment key' => fn () => $c->callWith('echo', ['x'], ['attachments' => ["k\0" => 'v']]),
        'method_desc' => fn () => $c->callWith('echo', ['x'], ['method_desc' => "int\0x"]),
        'URL' => fn () => new Client("$url\0&requestTimeout=1"),
    ];
    foreach ($cases as $what => $fn) {
        $e = throws(MotanException::class, $fn);
        eq(Code::EINVAL, $e->getCode(), $what);
        ok(str_contains($e->getMessage(), 'NUL'), "$what: " . $e->getMessage());
    }
    eq("a\0b", $c->call('echo', "a\0b"), 'NULs inside values are data');
    eq(1, $c->callWith('echo', [1], ['hash_key' => "k\0k"]), 'the hash key has a length');
});

test('after fork the child\'s calls fail with EFORKED and it exits', function () use ($url) {
    if (!function_exists('pcntl_fork')) {
        echo "  (skipped: no pcntl)\n";
        return;
    }
    $d = new Client($url);
    eq(1, $d->call('echo', 1));
    $wait = function (int $pid): int {
        $end = microtime(true) + 10;
        while (microtime(true) < $end) {
            if (pcntl_waitpid($pid, $st, WNOHANG) === $pid) {
                return pcntl_wifexited($st) ? pcntl_wexitstatus($st) : 100 + pcntl_wtermsig($st);
            }
            usleep(10000);
        }
        posix_kill($pid, 9);
        pcntl_waitpid($pid, $st);
        return -1;
    };
    $pid = pcntl_fork();
    if ($pid === 0) {
        pcntl_alarm(10);
        try {
            $d->call('echo', 2);
            $status = 3;
        } catch (MotanException $e) {
            $status = $e->getCode() === Code::EFORKED && str_contains($e->getMessage(), 'fork()') ? 0 : 4;
        }
        $d->close(); // frees without the parent's loop thread
        exit($status);
    }
    eq(0, $wait($pid), 'child status');
    $pid = pcntl_fork();
    if ($pid === 0) {
        pcntl_alarm(10);
        exit(0); // only the destructors run
    }
    eq(0, $wait($pid), 'status of a child that only exits');
    eq('parent', $d->call('echo', 'parent'), "the parent's client still works");
    $d->close();
});

function threads(): int
{
    preg_match('/^Threads:\s*(\d+)/m', file_get_contents('/proc/self/status'), $m);
    return (int)$m[1];
}

test('clients share the process\'s one loop thread unless they ask for their own', function () use ($c, $url) {
    $before = threads(); // $c made the shared loop already
    $cs = [];
    for ($i = 0; $i < 20; $i++) {
        $cs[] = new Client($url);
    }
    eq($before, threads(), '20 more clients, no more threads');
    foreach ($cs as $i => $d) {
        eq($i, $d->call('echo', $i));
    }
    $own = new Client($url, true);
    eq($before + 1, threads(), 'ownLoop adds one');
    eq('own', $own->call('echo', 'own'));
    $cs[0]->close();
    eq('still', $cs[1]->call('echo', 'still'), 'closing one leaves the others working');
    foreach ($cs as $d) {
        $d->close();
    }
    $own->close();
    eq($before, threads(), 'only the shared loop is left');
});

test('a client made in a child after fork gets a loop of its own', function () use ($url) {
    if (!function_exists('pcntl_fork')) {
        echo "  (skipped: no pcntl)\n";
        return;
    }
    $d = new Client($url);
    eq(1, $d->call('echo', 1));
    // Several children: PHP unloads the library at exit while the child's loop thread runs
    // (a crash in about one exit of ten before the library was linked -z nodelete).
    for ($i = 0; $i < 20; $i++) {
        $pid = pcntl_fork();
        if ($pid === 0) {
            pcntl_alarm(10);
            try {
                $e = new Client($url);
                $status = $e->call('echo', 'child') === 'child' ? 0 : 3;
                $e->close();
            } catch (\Throwable $t) {
                $status = 4;
            }
            exit($status);
        }
        pcntl_waitpid($pid, $st);
        $how = pcntl_wifexited($st) ? 'exit ' . pcntl_wexitstatus($st)
            : (pcntl_wifsignaled($st) ? 'signal ' . pcntl_wtermsig($st) : 'status ' . $st);
        eq('exit 0', $how, "child $i");
    }
    eq('parent', $d->call('echo', 'parent'));
    $d->close();
});

test('close: later calls fail with ECLOSED; close twice is fine', function () use ($url) {
    $d = new Client($url);
    eq('x', $d->call('echo', 'x'));
    $d->close();
    $d->close();
    eq(Code::ECLOSED, throws(MotanException::class, fn () => $d->call('echo', 'x'))->getCode());
});

// ---- resources ------------------------------------------------------------------------

test('20000 calls: memory and RSS stay flat', function () use ($url) {
    $d = new Client($url);
    $arg = ['k' => str_repeat('v', 100), 'l' => [1, 2.5, new Int32(3)], 's' => new StringMap(['a' => 'b'])];
    $round = function (int $n) use ($d, $arg) {
        for ($i = 0; $i < $n; $i++) {
            if ($i % 10 === 0) {
                try {
                    $d->call('fail', 'x');
                } catch (RemoteException) {
                }
            } else {
                $d->call('echo', $arg);
            }
        }
    };
    $round(2000);
    $mem0 = memory_get_usage();
    $rss0 = rss_kb();
    $round(20000);
    $dm = memory_get_usage() - $mem0;
    $drss = rss_kb() - $rss0;
    ok($dm < 64 * 1024, "PHP memory grew by $dm bytes");
    ok(!rss_checked() || $drss < 2048, "RSS grew by $drss kB");
    // Clients too: creating and freeing them must not leak either.
    $rss1 = rss_kb();
    for ($i = 0; $i < 200; $i++) {
        (new Client($url))->call('echo', 1);
    }
    $drss = rss_kb() - $rss1;
    ok(!rss_checked() || $drss < 2048, "RSS grew by $drss kB over 200 clients");
    $d->close();
});

// ---- statistics -----------------------------------------------------------------------

test('stats as an array, as JSON and as Prometheus text', function () use ($url) {
    $m = new Client($url . '&filter=metrics');
    for ($i = 0; $i < 3; $i++) {
        $m->call('echo', $i);
    }
    try {
        $m->call('fail', 'x');
        ok(false, 'fail raises');
    } catch (RemoteException $e) {
    }
    $calls = [];
    foreach ($m->stats()['series'] as $s) {
        if ($s['kind'] === 'call') {
            $calls[$s['method']] = $s;
        }
    }
    eq(3, $calls['echo']['count'], 'echo count');
    eq(3, $calls['echo']['ok'], 'echo ok');
    eq(['MOTAN_EREMOTE' => 1], $calls['fail']['errors'], 'fail errors');
    ok(str_contains($m->statsJson(), '"kind":"endpoint"'), 'endpoint listed');
    $p = $m->prometheus();
    ok(str_contains($p, 'motan_client_calls_total{service="com.example.EchoService",'
        . 'group="default_rpc",method="echo",code="MOTAN_OK"} 3' . "\n"), "prometheus: $p");
    eq("\n", substr($p, -1), 'ends with a line feed');
    $m->close();
    try {
        $m->stats();
        ok(false, 'a closed client refuses');
    } catch (MotanException $e) {
        eq(Code::ECLOSED, $e->getCode(), 'closed');
    }
});

// ---- run ------------------------------------------------------------------------------

$failed = 0;
$n = 0;
foreach ($tests as $name => $fn) {
    $n++;
    try {
        $fn();
        echo "ok $n - $name\n";
    } catch (Throwable $e) {
        $failed++;
        $where = $e instanceof Failed ? '' : ' (' . get_class($e) . ' at ' . basename($e->getFile()) . ':' . $e->getLine() . ')';
        echo "not ok $n - $name: " . $e->getMessage() . "$where\n";
    }
}
$c->close();
$status = stop_server($server);
if ($status !== 0) {
    echo "not ok - test server exited with status $status\n";
    $failed++;
}
echo $failed === 0 ? "php: all $n tests passed\n" : "php: $failed of $n tests FAILED\n";
exit($failed === 0 ? 0 : 1);
