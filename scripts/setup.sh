#!/usr/bin/env bash
# setup.sh [--e2e] - installs what offport needs to build and test on Debian 12.
# Installs only what is missing; needs root (or sudo) for apt-get.
# --e2e adds the real servers and clients of the end-to-end suite
# (tests/e2e/e2e.py). Their packages would start system services on
# install; a temporary policy-rc.d (invoke-rc.d's "do not start") keeps
# them stopped, and is removed afterwards unless the machine had one.
set -euo pipefail

# Build: compiler, CMake, libpcap. Tests: python3 (JSON checks), clang for
# the fuzz harnesses, tcpdump to record the sample, mandoc to lint the man page.
PKGS=(build-essential cmake pkg-config libpcap-dev python3 clang libclang-rt-14-dev tcpdump mandoc)
E2E=(iproute2 nginx-light openssl curl openssh-server openssh-client dnsmasq-base
	bind9-dnsutils opensmtpd swaks libnet-ssleay-perl libio-socket-ssl-perl mosquitto mosquitto-clients redis-server redis-tools
	ngircd netcat-openbsd tigervnc-standalone-server python3-websockets xrdp freerdp2-x11
	xvfb xauth)
if [ "${1:-}" = "--e2e" ]; then
	PKGS+=("${E2E[@]}")
fi

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
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\n# offport setup.sh: no service starts during this install\nexit 101\n' |
		$SUDO tee "$policy" >/dev/null
	$SUDO chmod 755 "$policy"
	trap '$SUDO rm -f "$policy"' EXIT
fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
