#!/usr/bin/env bash
# Part 1 of `make demo`: the request of spec §2.7 built with the motan CLI and decoded back.
# (scripts/demo.sh runs it before the cluster demo.)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${BUILD:-build}"
M="$BUILD/bin/motan"

req='{"kind":"request","request_id":"1311768467294899695","metadata":{"M_p":"com.weibo.api.HelloService","M_m":"hello","M_md":"java.lang.String,long","M_g":"default_rpc","M_v":"1.0","M_s":"libmotan-demo","M_pp":"motan2"},"args":["hello",42]}'

cat <<TXT
libmotan demo: one motan2 request, encoded and decoded with the motan CLI.

The call is com.weibo.api.HelloService.hello("hello", 42L), request id 0x1234567890abcdef,
described as JSON (arguments in typed JSON: 42 is an int64, {"\$int32":42} would be an int32):

  \$ motan encode frame '$req'

TXT
hex=$("$M" encode frame "$req")
echo "  $hex"

# Split the frame at its fields (§1): 13-byte header, metadata size + metadata, body size + body.
msize=$((16#${hex:26:8}))
meta=${hex:34:$((2 * msize))}
bat=$((34 + 2 * msize))
bsize=$((16#${hex:$bat:8}))
body=${hex:$((bat + 8))}
cat <<TXT

$(( ${#hex} / 2 )) bytes on the wire:
  header          ${hex:0:26}   magic f1f1, request, version 1, Simple (6 << 3), request id
  metadata size   ${hex:26:8}   ($msize bytes of "key\\nvalue\\n..." text)
  metadata        ${meta:0:60}...
  body size       ${hex:$bat:8}   ($bsize bytes)
  body            $body   Simple string "hello", then int64 42

Decoded back:

  \$ motan decode frame ${hex:0:24}...

TXT
"$M" decode frame "$hex" | sed 's/^/  /'
echo
echo "Try: $M decode simple 0954   or   $M --help"
