<?php
// make bench-bindings: N echo calls of a 16-byte string, printed as "<total_seconds> <calls>".
// Usage: php -d ffi.enable=1 bindings/php/bench.php motan2://127.0.0.1:PORT/com.example.EchoService
// N = $BENCH_CALLS (default 20000).
declare(strict_types=1);

require __DIR__ . '/Motan.php';

if ($argc < 2) {
    fwrite(STDERR, "usage: php -d ffi.enable=1 bench.php <url>\n");
    exit(2);
}
$n = (int)(getenv('BENCH_CALLS') ?: 20000);
$c = new Motan\Client($argv[1]);
$arg = '0123456789abcdef';
$c->call('echo', $arg); // connect outside the timing
$t = hrtime(true);
for ($i = 0; $i < $n; $i++) {
    if ($c->call('echo', $arg) !== $arg) {
        fwrite(STDERR, "bench: wrong answer\n");
        exit(1);
    }
}
printf("%.6f %d\n", (hrtime(true) - $t) / 1e9, $n);
$c->close();
