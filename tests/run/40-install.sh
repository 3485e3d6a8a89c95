# `make install` into a temporary root, then build examples/codec_roundtrip.c against the
# installed tree through pkg-config, dynamically and statically, and run both; `make
# uninstall` removes it all again; neither (nor `make`) calls apt.
set -euo pipefail
BUILD="${BUILD:-build}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
root="$tmp/root"
version=$(sed -n 's/^#define MOTAN_VERSION_STRING "\(.*\)"/\1/p' include/motan/version.h)
abi=$(sed -n 's/^#define MOTAN_ABI_MAJOR \([0-9]*\)/\1/p' include/motan/version.h)

# Package tools that must not run: each leaves a mark.
mkdir -p "$tmp/fakebin"
for tool in apt apt-get dpkg sudo; do
    printf '#!/bin/sh\necho "$0 $*" >>"%s/apt-called"\nexit 1\n' "$tmp" >"$tmp/fakebin/$tool"
    chmod +x "$tmp/fakebin/$tool"
done
nopkg() { PATH="$tmp/fakebin:$PATH" "$@"; }

if ! nopkg make --no-print-directory all install PREFIX=/usr DESTDIR="$root" BUILD="$BUILD" >"$tmp/install.log" 2>&1; then
    cat "$tmp/install.log"
    echo "40-install: make install failed"
    exit 1
fi
installed=(include/motan/core.h include/motan/codec.h include/motan/version.h lib/libmotan.a
           "lib/libmotan.so.$abi.$version" "lib/libmotan.so.$abi" lib/libmotan.so lib/pkgconfig/libmotan.pc)
for f in "${installed[@]}"; do
    [ -e "$root/usr/$f" ] || { echo "40-install: $f was not installed"; exit 1; }
done

export PKG_CONFIG_PATH="$root/usr/lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$root"
[ "$(pkg-config --modversion libmotan)" = "$version" ] || { echo "40-install: pkg-config version mismatch"; exit 1; }
cflags=$(pkg-config --cflags libmotan)
libs=$(pkg-config --libs libmotan)
static_libs=$(pkg-config --static --libs libmotan)
WARN="-std=c11 -Wall -Wextra -Werror -pedantic"

check_output() { # binary, how
    local out
    out=$("$@" '["hello",{"$int32":42}]')
    local want='value:  ["hello",{"$int32":42}]
simple: 150000000c010000000568656c6c6f0854
back:   ["hello",{"$int32":42}]'
    if [ "$out" != "$want" ]; then
        echo "40-install: unexpected output of $1:"
        echo "$out"
        exit 1
    fi
}

# Dynamic: must load the installed libmotan.so.<abi> (its SONAME).
cc $WARN $cflags -o "$tmp/roundtrip" examples/codec_roundtrip.c $libs
readelf -d "$tmp/roundtrip" | grep "NEEDED.*\[libmotan.so.$abi\]" >/dev/null ||
    { echo "40-install: the dynamic build does not need libmotan.so.$abi"; exit 1; }
LD_LIBRARY_PATH="$root/usr/lib" ldd "$tmp/roundtrip" | grep "$root/usr/lib/libmotan.so.$abi" >/dev/null ||
    { echo "40-install: the dynamic build does not use the installed library"; exit 1; }
LD_LIBRARY_PATH="$root/usr/lib" check_output "$tmp/roundtrip"

# Static: libmotan.a plus its Libs.private / Requires.private; no libmotan.so needed.
cc $WARN $cflags -o "$tmp/roundtrip-static" examples/codec_roundtrip.c \
    $(sed 's/-lmotan\b/-l:libmotan.a/' <<<"$static_libs")
if readelf -d "$tmp/roundtrip-static" | grep 'NEEDED.*libmotan' >/dev/null; then
    echo "40-install: the static build still needs libmotan.so"
    exit 1
fi
check_output "$tmp/roundtrip-static"

if ! nopkg make --no-print-directory uninstall PREFIX=/usr DESTDIR="$root" BUILD="$BUILD" >"$tmp/uninstall.log" 2>&1; then
    cat "$tmp/uninstall.log"
    echo "40-install: make uninstall failed"
    exit 1
fi
left=$(cd "$root" && find . -type f -o -type l)
[ -z "$left" ] || { echo "40-install: make uninstall left: $left"; exit 1; }
echo "40-install: installed into DESTDIR, pkg-config builds (dynamic and static) run, uninstalled"

# A prefix pkg-config does not know, used the way the README says (its sh block under the C
# quickstart, with /opt/motan -> a temporary prefix): no LD_LIBRARY_PATH, the rpath finds it.
unset PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR
prefix="$tmp/opt/motan"
if ! nopkg make --no-print-directory install PREFIX="$prefix" BUILD="$BUILD" >"$tmp/install2.log" 2>&1; then
    cat "$tmp/install2.log"
    echo "40-install: make install PREFIX=$prefix failed"
    exit 1
fi
awk '/^## C in fifteen lines/{f=1} f&&/^```sh/{c=1;next} c&&/^```/{exit} c' README.md >"$tmp/prefix.sh"
grep -q '^export PKG_CONFIG_PATH=' "$tmp/prefix.sh" ||
    { echo "40-install: no PKG_CONFIG_PATH instructions in README.md"; exit 1; }
sed -e '/^make install/d' -e "s|/opt/motan|$prefix|g" \
    -e "s|^cc hello.c|cc $WARN -o $tmp/roundtrip-prefix examples/codec_roundtrip.c|" \
    "$tmp/prefix.sh" >"$tmp/prefix-run.sh"
if ! bash -e "$tmp/prefix-run.sh"; then
    echo "40-install: the README's commands for a non-default PREFIX failed:"
    cat "$tmp/prefix-run.sh"
    exit 1
fi
env -u LD_LIBRARY_PATH ldd "$tmp/roundtrip-prefix" | grep -F "$prefix/lib/libmotan.so.$abi" >/dev/null ||
    { echo "40-install: the PREFIX build does not load $prefix/lib/libmotan.so.$abi"; exit 1; }
env -u LD_LIBRARY_PATH bash -c "$(declare -f check_output); check_output $tmp/roundtrip-prefix"
echo "40-install: installed into PREFIX=$prefix, built with the README's commands, runs"
if [ -e "$tmp/apt-called" ]; then
    echo "40-install: make, make install or make uninstall ran a package tool:"
    cat "$tmp/apt-called"
    exit 1
fi
echo "40-install: no package tool was run"
