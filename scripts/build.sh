#!/usr/bin/env bash
# build.sh [release|debug|asan|fuzz] - configures and builds into build/<kind>.
set -euo pipefail
kind=${1:-release}
root=$(cd "$(dirname "$0")/.." && pwd)
case "$kind" in
release) args=(-DCMAKE_BUILD_TYPE=Release) ;;
debug) args=(-DCMAKE_BUILD_TYPE=Debug) ;;
asan) args=(-DCMAKE_BUILD_TYPE=Debug -DOFFPORT_SANITIZE=ON) ;;
fuzz) args=(-DCMAKE_BUILD_TYPE=Debug -DOFFPORT_FUZZ=ON -DOFFPORT_SANITIZE=ON -DCMAKE_C_COMPILER=clang) ;;
*) echo "usage: build.sh [release|debug|asan|fuzz]" >&2; exit 2 ;;
esac
cmake -S "$root" -B "$root/build/$kind" -DOFFPORT_WERROR=ON "${args[@]}" >/dev/null
cmake --build "$root/build/$kind" -j"$(nproc)"
