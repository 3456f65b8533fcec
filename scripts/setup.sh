#!/usr/bin/env bash
# setup.sh - installs what offport needs to build and test on Debian 12.
# Installs only what is missing; needs root (or sudo) for apt-get.
set -euo pipefail

# Build: compiler, CMake, libpcap. Tests: python3 (JSON checks), clang for
# the fuzz harnesses, tcpdump to record the sample, mandoc to lint the man page.
PKGS=(build-essential cmake pkg-config libpcap-dev python3 clang libclang-rt-14-dev tcpdump mandoc)

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi

SUDO=
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null; then SUDO=sudo; else
		echo "setup: need root to install: ${missing[*]}" >&2
		exit 1
	fi
fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
