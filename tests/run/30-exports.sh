# The shared library exports only the public API: motan_* symbols (never motan__*), all in the
# version node LIBMOTAN_<abi>, with SONAME libmotan.so.<abi> (the ABI major of
# include/motan/version.h, not the product version) and the usual symlinks.
set -uo pipefail
BUILD="${BUILD:-build}"
version=$(sed -n 's/^#define MOTAN_VERSION_STRING "\(.*\)"/\1/p' include/motan/version.h)
abi=$(sed -n 's/^#define MOTAN_ABI_MAJOR \([0-9]*\)/\1/p' include/motan/version.h)
[ -n "$abi" ] || { echo "30-exports: no MOTAN_ABI_MAJOR in include/motan/version.h"; exit 1; }
major=$abi
lib="$BUILD/lib/libmotan.so.$abi.$version"
fail=0
err() { echo "30-exports: $*"; fail=1; }

[ -f "$lib" ] || { echo "30-exports: $lib is missing"; exit 1; }

syms=$(nm -D --defined-only "$lib" | awk 'NF >= 3 && $2 != "A" { print $3 }' | sed 's/@.*//' | sort -u)
[ -n "$syms" ] || err "no exported symbols in $lib"
bad=$(grep -v '^motan_' <<<"$syms" | grep -v '^$' || true)
[ -z "$bad" ] || err "exported symbols without the motan_ prefix: $(tr '\n' ' ' <<<"$bad")"
internal=$(grep '^motan__' <<<"$syms" || true)
[ -z "$internal" ] || err "internal motan__ symbols exported: $(tr '\n' ' ' <<<"$internal")"

versioned=$(nm -D --defined-only "$lib" | awk 'NF >= 3 && $3 ~ /^motan_/ { print $3 }')
unversioned=$(grep -v "@@LIBMOTAN_$abi\$" <<<"$versioned" || true)
[ -z "$unversioned" ] || err "symbols outside the version node LIBMOTAN_$abi: $(tr '\n' ' ' <<<"$unversioned")"
readelf -d "$lib" | grep 'NEEDED.*libevent_pthreads' >/dev/null && err "still linked with libevent_pthreads"

soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = "libmotan.so.$major" ] || err "SONAME is '$soname', want libmotan.so.$major"

for link in "libmotan.so.$major" libmotan.so; do
    [ -L "$BUILD/lib/$link" ] || err "$BUILD/lib/$link is not a symlink"
done
[ "$(readlink -f "$BUILD/lib/libmotan.so")" = "$(readlink -f "$lib")" ] ||
    err "libmotan.so does not resolve to $lib"

[ "$fail" -eq 0 ] && echo "30-exports: $(wc -l <<<"$syms") motan_* symbols in LIBMOTAN_$abi, SONAME $soname"
exit $fail
