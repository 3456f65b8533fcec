#!/usr/bin/env bash
# fuzz_coverage.sh [--committed | CORPUS_ROOT...] - how much of src/ the fuzz
# corpora reach.
#
# Builds every fuzz harness's replay driver (fuzz/fuzz_NAME.c with
# fuzz/replay_main.c, as ctest's fuzz_replay.NAME) with clang's source-based
# coverage (-fprofile-instr-generate -fcoverage-mapping) into build/cov
# (COV_BUILD_DIR overrides), replays each harness's committed corpus
# fuzz/corpus/NAME, and NAME/ under every CORPUS_ROOT (default:
# build/fuzz/corpus, what scripts/fuzz.sh found, when present; none with
# --committed), merges the
# profiles with llvm-profdata and prints line and region coverage of src/
# per module folder and in total (llvm-cov). Not run by CI.
#
# Installs what it needs on Debian 12 when missing (scripts/setup.sh, then
# the llvm package for llvm-profdata and llvm-cov). JOBS sets the build
# parallelism (default: the number of CPUs).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${COV_BUILD_DIR:-$root/build/cov}
jobs=${JOBS:-$(nproc)}
if [ "${1:-}" = "--committed" ]; then
	roots=() # the committed corpora only
elif [ $# -gt 0 ]; then
	roots=("$@")
else
	roots=("$root/build/fuzz/corpus")
fi

"$root/scripts/setup.sh"

# llvm-profdata and llvm-cov of clang's own version (a profile written by
# one LLVM version need not be readable by another): llvm-TOOL-N, then
# /usr/lib/llvm-N/bin, then an unversioned one.
major=$(clang -dumpversion | cut -d. -f1)
find_tool() {
	local t
	for t in "$1-$major" "/usr/lib/llvm-$major/bin/$1" "$1"; do
		if command -v "$t" >/dev/null 2>&1; then
			command -v "$t"
			return 0
		fi
	done
	return 1
}
if ! find_tool llvm-profdata >/dev/null || ! find_tool llvm-cov >/dev/null; then
	SUDO=
	if [ "$(id -u)" -ne 0 ]; then
		if command -v sudo >/dev/null; then SUDO=sudo; else
			echo "fuzz_coverage: need root to install llvm (llvm-profdata, llvm-cov)" >&2
			exit 1
		fi
	fi
	echo "fuzz_coverage: installing llvm"
	export DEBIAN_FRONTEND=noninteractive
	$SUDO apt-get update -qq
	$SUDO apt-get install -y -qq --no-install-recommends llvm >/dev/null
fi
profdata=$(find_tool llvm-profdata) || { echo "fuzz_coverage: no llvm-profdata" >&2; exit 1; }
llvmcov=$(find_tool llvm-cov) || { echo "fuzz_coverage: no llvm-cov" >&2; exit 1; }

# The replay drivers (OFFPORT_FUZZ off), assertions on as in the debug and
# sanitizer builds that replay the corpora in ctest; no sanitizers, which
# would only slow the replay. Without -Werror: a newer clang's new warning
# should not stop a measurement.
flags="-fprofile-instr-generate -fcoverage-mapping"
cmake -S "$root" -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
	-DOFFPORT_WERROR=OFF -DOFFPORT_FUZZ=OFF -DOFFPORT_SANITIZE=OFF \
	-DCMAKE_C_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="-fprofile-instr-generate" >/dev/null
names=()
for f in "$root"/fuzz/fuzz_*.c; do
	n=$(basename "$f" .c)
	names+=("${n#fuzz_}")
done
targets=()
for n in "${names[@]}"; do targets+=(--target "fuzz_$n"); done
cmake --build "$build" -j"$jobs" "${targets[@]}" >/dev/null

prof="$build/profiles"
rm -rf "$prof"
mkdir -p "$prof"
objects=()
status=0
for n in "${names[@]}"; do
	bin="$build/fuzz_$n"
	dirs=("$root/fuzz/corpus/$n")
	for r in "${roots[@]}"; do
		[ -d "$r/$n" ] && [ -n "$(ls -A "$r/$n")" ] && dirs+=("$r/$n")
	done
	count=0
	for d in "${dirs[@]}"; do count=$((count + $(find "$d" -type f | wc -l))); done
	printf '%-10s %6d inputs from %s\n' "$n" "$count" "${dirs[*]#"$root"/}"
	if ! LLVM_PROFILE_FILE="$prof/$n-all.profraw" "$bin" "${dirs[@]}" >/dev/null 2>"$prof/$n.log"; then
		# An input that aborts loses the profile of the whole run: replay
		# one file at a time, so that only the failing inputs' are lost.
		echo "fuzz_coverage: $n: an input fails (see $prof/$n.log); replaying one by one" >&2
		status=1
		rm -f "$prof/$n-all.profraw"
		i=0
		while IFS= read -r -d '' file; do
			i=$((i + 1))
			LLVM_PROFILE_FILE="$prof/$n-$i.profraw" "$bin" "$file" >/dev/null 2>&1 ||
				echo "fuzz_coverage: $n: fails: $file" >&2
		done < <(find "${dirs[@]}" -type f -print0)
	fi
	objects+=(-object "$bin")
done

"$profdata" merge -sparse -o "$prof/merged.profdata" "$prof"/*.profraw
# The first -object is the positional binary llvm-cov wants.
"$llvmcov" export -summary-only -instr-profile="$prof/merged.profdata" "${objects[@]:1}" \
	"$root/src" >"$prof/summary.json"
python3 - "$prof/summary.json" "$root" <<'EOF'
import json, sys
data = json.load(open(sys.argv[1]))
root = sys.argv[2].rstrip("/") + "/"
mods = {}
for f in data["data"][0]["files"]:
    name = f["filename"]
    if not name.startswith(root + "src/"):
        continue
    mod = "/".join(name[len(root):].split("/")[:2])
    s = f["summary"]
    m = mods.setdefault(mod, [0, 0, 0, 0, 0])
    m[0] += s["lines"]["count"]; m[1] += s["lines"]["covered"]
    m[2] += s["regions"]["count"]; m[3] += s["regions"]["covered"]
    m[4] += 1
def row(name, m):
    pct = lambda c, n: f"{100.0 * c / n:.1f}%" if n else "-"
    return (f"| {name:<12} | {m[4]:>5} | {f'{m[1]}/{m[0]}':>11} | {pct(m[1], m[0]):>6} "
            f"| {f'{m[3]}/{m[2]}':>11} | {pct(m[3], m[2]):>6} |")
print()
print("| module       | files |       lines |      % |     regions |      % |")
print("|--------------|------:|------------:|-------:|------------:|-------:|")
total = [0, 0, 0, 0, 0]
for mod in sorted(mods):
    print(row(mod, mods[mod]))
    total = [a + b for a, b in zip(total, mods[mod])]
print(row("total", total))
EOF
echo
echo "per file: $llvmcov report -instr-profile=$prof/merged.profdata ${objects[*]:1} $root/src"
echo "annotated source: $llvmcov show -format=html -output-dir=$build/html -instr-profile=$prof/merged.profdata ${objects[*]:1} $root/src"
exit $status
