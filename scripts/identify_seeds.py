#!/usr/bin/env python3
"""Writes fuzz/corpus/identify/ seeds from the identifier samples, in the
input format of fuzz/fuzz_identify.c: flags byte (bit 0 UDP, bits 1-2 done
flags, bits 3-4 mid-stream flags), 2-byte client length, client bytes,
server bytes.

    identify_seeds.py [--out fuzz/corpus/identify]
"""
import argparse
import pathlib
import struct

REPO = pathlib.Path(__file__).resolve().parents[1]


def parse(path):
    udp = False
    mid = 0
    data = [bytearray(), bytearray()]
    for line in path.read_text().splitlines():
        if line.startswith("# transport:"):
            udp = "udp" in line
        elif line.startswith("# midstream:"):
            v = line.split(":", 1)[1].strip()
            mid = {"client": 0x08, "server": 0x10, "both": 0x18}.get(v, 0)
        elif line[:1] in (">", "<"):
            data[0 if line[0] == ">" else 1] += bytes.fromhex("".join(line[1:].split()))
    return udp, mid, bytes(data[0]), bytes(data[1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(REPO / "fuzz" / "corpus" / "identify"))
    a = ap.parse_args()
    out = pathlib.Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    n = 0
    for p in sorted((REPO / "tests" / "identify" / "samples").glob("*/*.txt")):
        udp, mid, c, s = parse(p)
        c = c[:65535]
        blob = bytes([(1 if udp else 0) | 0x06 | (0 if udp else mid)]) + struct.pack(">H", len(c)) + c + s[:4096]
        (out / f"{p.parent.name}_{p.stem}").write_bytes(blob)
        n += 1
    print(f"identify_seeds: wrote {n} seeds to {out}")


if __name__ == "__main__":
    main()
