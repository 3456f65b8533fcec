#!/usr/bin/env bash
# quickstart.sh - installs what is missing, builds offport and runs it on
# the bundled sample capture.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh"
"$root/scripts/build.sh" release
echo
echo "\$ offport -r samples/sample.pcap"
"$root/build/release/offport" -r "$root/samples/sample.pcap"
echo
echo "\$ offport --eve eve.json -r samples/sample.pcap > /dev/null; head -2 eve.json"
eve=$(mktemp)
"$root/build/release/offport" --eve "$eve" -r "$root/samples/sample.pcap" >/dev/null
head -2 "$eve"
rm -f "$eve"
