# The callers of docs/agent.md: the Python, Lua and PHP examples and `motan call` reach a
# real motan-agent (TCP port and Unix socket) in front of a motan-test-server.
set -uo pipefail
BUILD="${BUILD:-build}"
bin="$BUILD/bin"
tmp=$(mktemp -d /tmp/agent-callers-XXXXXX)
fail=0
cleanup() {
    [ -n "${agent:-}" ] && kill "$agent" 2>/dev/null && wait "$agent" 2>/dev/null
    [ -n "${srv:-}" ] && kill "$srv" 2>/dev/null && wait "$srv" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

"$bin/motan-test-server" --quiet >"$tmp/srv.port" &
srv=$!
for _ in $(seq 100); do [ -s "$tmp/srv.port" ] && break; sleep 0.05; done
cat >"$tmp/agent.yaml" <<YAML
motan-agent:
  port: 0
  eport: 0
  mport: 0
  unixSock: $tmp/agent.sock
  log_dir: $tmp
motan-registry:
  direct:
    protocol: direct
    address: 127.0.0.1:$(head -1 "$tmp/srv.port")
motan-refer:
  echo:
    path: com.example.EchoService
    registry: direct
YAML
"$bin/motan-agent" -c "$tmp/agent.yaml" >"$tmp/ready" 2>"$tmp/stderr" &
agent=$!
for _ in $(seq 200); do [ -s "$tmp/ready" ] && break; sleep 0.05; done
port=$(sed -n 's/.* port=\([0-9]*\) .*/\1/p' "$tmp/ready")
[ -n "$port" ] || { echo "73-agent-callers: the agent did not start"; cat "$tmp/stderr"; exit 1; }
lib="$PWD/$BUILD/lib/libmotan.so" # the unversioned link: whatever the SONAME

check() { # check NAME WANT COMMAND...
    local name=$1 want=$2; shift 2
    local got
    got=$("$@" 2>&1)
    if [ "$got" = "$want" ]; then echo "73-agent-callers: $name ok"; else
        echo "73-agent-callers: $name: got '$got', want '$want'"; fail=1; fi
}
for url in "motan2://127.0.0.1:$port/com.example.EchoService" "motan2://[unix:$tmp/agent.sock]/com.example.EchoService"; do
    kind=tcp; case "$url" in *unix:*) kind=unix ;; esac
    check "motan call ($kind)" '"cli"' "$bin/motan" call "$url" echo '"cli"'
    check "python ($kind)" "py" env MOTAN_LIB="$lib" python3 bindings/python/examples/agent_call.py "$url" py
    if command -v luajit >/dev/null; then
        check "luajit ($kind)" "lua" env MOTAN_LIB="$lib" luajit bindings/lua/examples/agent_call.lua "$url" lua
    fi
    if command -v php >/dev/null; then
        check "php ($kind)" "php" env MOTAN_LIB="$lib" php -d ffi.enable=1 bindings/php/examples/agent_call.php "$url" php
    fi
done
exit $fail
