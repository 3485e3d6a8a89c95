"""make bench-bindings: N echo calls of a 16-byte string through the Python binding.

Usage: /usr/bin/python3 bindings/python/bench.py <url>   (BENCH_CALLS, default 20000)
Prints "<total_seconds> <calls>" on one line.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import motan  # noqa: E402


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: bench.py <url>")
    calls = int(os.environ.get("BENCH_CALLS") or 20000)
    arg = "0123456789abcdef"
    with motan.Client(sys.argv[1]) as c:
        call = c.call
        for _ in range(100):  # warm-up: connections, buffers
            call("echo", arg)
        t0 = time.perf_counter()
        for _ in range(calls):
            if call("echo", arg) != arg:
                sys.exit("bench.py: echo returned something else")
        elapsed = time.perf_counter() - t0
    print("%.6f %d" % (elapsed, calls))


if __name__ == "__main__":
    main()
