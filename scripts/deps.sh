#!/bin/sh
# Install the Debian packages libmotan needs, only those that are missing.
# Usage: scripts/deps.sh            (as root, or with sudo available)
set -eu

PKGS="build-essential pkg-config libevent-dev libmsgpack-dev libjansson-dev check
zlib1g-dev clang libclang-rt-14-dev libfuzzer-14-dev llvm valgrind procps
libzookeeper-st-dev zookeeper default-jre-headless python3 luajit php-cli libyaml-dev"

missing=""
for p in $PKGS; do
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case "$st" in
        *" installed") ;;
        *) missing="$missing $p" ;;
    esac
done

[ -z "$missing" ] && exit 0

echo "deps: installing:$missing"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
echo "deps: done"
