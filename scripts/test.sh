#!/usr/bin/env bash
# test.sh - installs what is missing, builds with -Werror and runs the whole
# suite, then builds with AddressSanitizer + UndefinedBehaviorSanitizer and
# runs the whole suite again, then runs each fuzz harness briefly.
# FUZZ_SECONDS (default 20) sets the time per harness; 0 skips fuzzing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
jobs=$(nproc)
"$root/scripts/setup.sh" --e2e

echo "== release build, -Werror"
"$root/scripts/build.sh" release
# The end-to-end suite runs alone (its timing checks want an idle machine)
# and shows its scenarios, so that CI output proves they ran live.
suite() { # suite BUILD_DIR
	(cd "$1" && ctest --output-on-failure -j"$jobs" -E '^e2e$' &&
		ctest --output-on-failure -R '^e2e$' -V | sed -n 's/^[0-9]*: //p')
}
echo "== test suite (release)"
suite "$root/build/release"

echo "== ASan+UBSan build"
"$root/scripts/build.sh" asan
echo "== test suite (ASan+UBSan)"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
suite "$root/build/asan"

secs=${FUZZ_SECONDS:-20}
if [ "$secs" -gt 0 ]; then
	echo "== fuzzing, ${secs}s per harness (clang libFuzzer)"
	"$root/scripts/build.sh" fuzz
	"$root/scripts/fuzz.sh" "$secs"
fi
echo "== all tests passed"
