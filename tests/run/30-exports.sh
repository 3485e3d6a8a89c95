# The shared library exports only the public API: motan_* symbols (never motan__*), with
# SONAME libmotan.so.<major> and the usual symlinks.
set -uo pipefail
BUILD="${BUILD:-build}"
version=$(sed -n 's/^#define MOTAN_VERSION_STRING "\(.*\)"/\1/p' include/motan/version.h)
major=${version%%.*}
lib="$BUILD/lib/libmotan.so.$version"
fail=0
err() { echo "30-exports: $*"; fail=1; }

[ -f "$lib" ] || { echo "30-exports: $lib is missing"; exit 1; }

syms=$(nm -D --defined-only "$lib" | awk 'NF >= 3 { print $3 }' | sed 's/@.*//' | sort -u)
[ -n "$syms" ] || err "no exported symbols in $lib"
bad=$(grep -v '^motan_' <<<"$syms" | grep -v '^$' || true)
[ -z "$bad" ] || err "exported symbols without the motan_ prefix: $(tr '\n' ' ' <<<"$bad")"
internal=$(grep '^motan__' <<<"$syms" || true)
[ -z "$internal" ] || err "internal motan__ symbols exported: $(tr '\n' ' ' <<<"$internal")"

soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = "libmotan.so.$major" ] || err "SONAME is '$soname', want libmotan.so.$major"

for link in "libmotan.so.$major" libmotan.so; do
    [ -L "$BUILD/lib/$link" ] || err "$BUILD/lib/$link is not a symlink"
done
[ "$(readlink -f "$BUILD/lib/libmotan.so")" = "$(readlink -f "$lib")" ] ||
    err "libmotan.so does not resolve to $lib"

[ "$fail" -eq 0 ] && echo "30-exports: $(wc -l <<<"$syms") motan_* symbols, SONAME $soname"
exit $fail
