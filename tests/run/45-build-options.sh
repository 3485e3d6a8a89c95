# Packager options: a build with WITH_ZOOKEEPER=0 WITH_CONSUL=0 and the caller's CFLAGS,
# CPPFLAGS and LDFLAGS, into a scratch BUILD: those flags reach every compile and link line,
# the library has no ZooKeeper or Consul code or dependency, and the registries are gone at
# run time (the others still work).
set -uo pipefail
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
b="$tmp/build"
fail=0
err() { echo "45-build-options: $*"; fail=1; }

if ! make --no-print-directory -j2 BUILD="$b" WITH_ZOOKEEPER=0 WITH_CONSUL=0 \
        CFLAGS="-O1 -g -fno-common" CPPFLAGS="-DMOTAN_PACKAGER_PROBE=1" \
        LDFLAGS="-Wl,-rpath,/opt/motan-ldflags-probe" lib tools >"$tmp/log" 2>&1; then
    tail -30 "$tmp/log"
    echo "45-build-options: the build failed"
    exit 1
fi

compiles=$(grep -c -- ' -c lib/' "$tmp/log")
probed=$(grep -- ' -c lib/' "$tmp/log" | grep -c -- '-DMOTAN_PACKAGER_PROBE=1.*-O1 -g -fno-common')
[ "$compiles" -gt 0 ] && [ "$compiles" = "$probed" ] ||
    err "CPPFLAGS/CFLAGS reached $probed of $compiles library compiles"
grep -- ' -c lib/registry/\(zookeeper\|zk_\|consul\)' "$tmp/log" >/dev/null &&
    err "ZooKeeper or Consul sources were compiled"

so=$(ls "$b"/lib/libmotan.so.*.* 2>/dev/null | head -1)
[ -n "$so" ] || { echo "45-build-options: no shared library built"; exit 1; }
readelf -d "$so" | grep '/opt/motan-ldflags-probe' >/dev/null || err "LDFLAGS did not reach the shared library link"
readelf -d "$b/bin/motan" | grep '/opt/motan-ldflags-probe' >/dev/null || err "LDFLAGS did not reach the CLI link"
readelf -d "$so" | grep 'NEEDED.*zookeeper' >/dev/null && err "the library still needs libzookeeper"
nm "$b/lib/libmotan.a" 2>/dev/null | grep ' U zoo' >/dev/null && err "libmotan.a refers to ZooKeeper symbols"

"$b/bin/motan" call 'zookeeper://127.0.0.1:2181/com.example.EchoService' echo '"x"' >"$tmp/out" 2>&1
rc=$?
{ [ "$rc" -eq 2 ] && grep -q 'no registry for scheme "zookeeper"' "$tmp/out"; } ||
    err "zookeeper:// without ZooKeeper: exit $rc, $(cat "$tmp/out")"
"$b/bin/motan" call 'consul://127.0.0.1:8500/com.example.EchoService' echo '"x"' >"$tmp/out" 2>&1
rc=$?
{ [ "$rc" -eq 2 ] && grep -q 'no registry for scheme "consul"' "$tmp/out"; } ||
    err "consul:// without Consul: exit $rc, $(cat "$tmp/out")"
"$b/bin/motan" encode simple '{"$int32":1}' >"$tmp/out" 2>&1 && [ "$(cat "$tmp/out")" = 0802 ] ||
    err "the reduced CLI does not work: $(cat "$tmp/out")"

[ "$fail" -eq 0 ] && echo "45-build-options: WITH_ZOOKEEPER=0 WITH_CONSUL=0 with CFLAGS, CPPFLAGS, LDFLAGS: $compiles compiles, no ZooKeeper/Consul"
exit $fail
