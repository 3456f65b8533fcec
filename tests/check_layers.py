#!/usr/bin/env python3
"""Fails when a module includes a module to its right in the pipeline.

    common -> capture -> decode -> flow -> stream -> identify -> verdict -> output -> cli

A file in src/M/ may include "N/..." only when N is M or stands left of M.
Data flows one way; this keeps it so.
"""
import pathlib
import re
import sys

ORDER = ["common", "capture", "decode", "flow", "stream", "identify", "verdict", "output", "cli"]
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"/]+)/[^"]+"', re.M)


def main() -> int:
    src = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "src")
    bad = []
    checked = 0
    for path in sorted(src.rglob("*")):
        if path.suffix not in (".c", ".h"):
            continue
        module = path.relative_to(src).parts[0]
        if module not in ORDER:
            bad.append(f"{path}: not inside a known module folder ({', '.join(ORDER)})")
            continue
        checked += 1
        text = path.read_text(errors="replace")
        for m in INCLUDE.finditer(text):
            target = m.group(1)
            line = text.count("\n", 0, m.start()) + 1
            if target not in ORDER:
                bad.append(f"{path}:{line}: includes unknown module '{target}'")
            elif ORDER.index(target) > ORDER.index(module):
                bad.append(f"{path}:{line}: module '{module}' includes '{target}', "
                           f"which is to its right in the pipeline")
    for b in bad:
        print(b)
    print(f"layers: {checked - len(bad) if checked >= len(bad) else 0} passed, {len(bad)} failed")
    return 1 if bad or checked == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
