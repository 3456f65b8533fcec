#!/usr/bin/env bash
# fuzz.sh [SECONDS] - runs every libFuzzer harness in build/fuzz for SECONDS
# (default 60) each, starting from its committed corpus. New inputs go to
# build/fuzz/corpus/NAME (not the repo); crashes are written to
# build/fuzz/crash-* and make the script fail: add them to
# fuzz/corpus/NAME/ as regression cases once fixed.
set -euo pipefail
secs=${1:-60}
root=$(cd "$(dirname "$0")/.." && pwd)
status=0
for bin in "$root"/build/fuzz/fuzz_*; do
	[ -x "$bin" ] || continue
	name=$(basename "$bin")
	short=${name#fuzz_}
	work="$root/build/fuzz/corpus/$short"
	mkdir -p "$work"
	echo "-- $name: ${secs}s"
	if ! "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix="$root/build/fuzz/crash-$short-" -print_final_stats=1 \
		"$work" "$root/fuzz/corpus/$short" 2>"$root/build/fuzz/$short.log"; then
		echo "$name: FAILED, see build/fuzz/$short.log" >&2
		tail -40 "$root/build/fuzz/$short.log" >&2
		status=1
	else
		grep -E "^stat::number_of_executed_units|^#[0-9]+.*DONE" "$root/build/fuzz/$short.log" | tail -2 || true
	fi
done
exit $status
