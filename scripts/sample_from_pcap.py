#!/usr/bin/env python3
"""Writes an identifier sample (tests/identify/samples format) from one TCP
or UDP stream of a capture, using tshark's stream following.

    sample_from_pcap.py CAPTURE tcp|udp STREAM EXPECT [--max 4096] [--source TEXT]

STREAM is tshark's stream index (tshark -r CAPTURE -q -z conv,tcp shows
them; or -T fields -e tcp.stream). The client is the side that sent the
first captured payload unless --server-first is given. The sample is
printed on standard output. Where the capture lost bytes of a direction
(tshark writes "[N bytes missing in capture file]" in their place) that
direction stops, and a "# gap:" comment says so.
"""
import argparse
import re
import subprocess
import sys

# tshark's follow output puts this text, as if it were payload, where the
# capture lost bytes of a TCP stream (a gap). It is not on the wire.
GAP = re.compile(rb"^\[(\d+) bytes missing in capture file\]\x00?$")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("capture")
    ap.add_argument("transport", choices=["tcp", "udp"])
    ap.add_argument("stream", type=int)
    ap.add_argument("expect")
    ap.add_argument("--max", type=int, default=4096, help="bytes kept per direction")
    ap.add_argument("--dgrams", type=int, default=8, help="UDP datagrams kept per direction")
    ap.add_argument("--source", default="")
    ap.add_argument("--server-first", action="store_true",
                    help="the first payload in the capture came from the server")
    ap.add_argument("--evidence", action="append", default=[])
    a = ap.parse_args()
    out = subprocess.run(["tshark", "-r", a.capture, "-q", "-z",
                          f"follow,{a.transport},raw,{a.stream}"],
                         capture_output=True, text=True, check=True).stdout
    chunks = []  # (direction, bytes)
    started = False
    for line in out.splitlines():
        if line.startswith("Node 1:"):
            started = True
            continue
        if not started or line.startswith("=") or not line.strip():
            continue
        d = 1 if line.startswith("\t") else 0
        chunks.append((d, bytes.fromhex(line.strip())))
    # A direction ends at its first gap: the bytes after it do not follow
    # the bytes before, so they cannot be part of the sample.
    gaps = {}
    kept_chunks = []
    for d, b in chunks:
        m = GAP.match(b)
        if m and d not in gaps:
            gaps[d] = int(m.group(1))
        if d in gaps:
            continue
        kept_chunks.append((d, b))
    chunks = kept_chunks
    if a.server_first:
        chunks = [(1 - d, b) for d, b in chunks]
        gaps = {1 - d: n for d, n in gaps.items()}
    print(f"# source: {a.source or a.capture} {a.transport} stream {a.stream}")
    print(f"# transport: {a.transport}")
    print(f"# expect: {a.expect}")
    for e in a.evidence:
        print(f"# evidence: {e}")
    for d, n in sorted(gaps.items()):
        side = "client" if d == 0 else "server"
        print(f"# gap: the {side}'s bytes stop where the capture lost {n} bytes")
    kept = [0, 0]
    ndg = [0, 0]
    for d, b in chunks:
        if a.transport == "udp":
            if ndg[d] >= a.dgrams or kept[d] + len(b) > a.max:
                continue
            ndg[d] += 1
        else:
            b = b[: max(0, a.max - kept[d])]
            if not b:
                continue
        kept[d] += len(b)
        mark = ">" if d == 0 else "<"
        for i in range(0, len(b), 32):
            if a.transport == "udp" and i > 0:
                break  # one line per datagram
            print(mark, (b if a.transport == "udp" else b[i:i + 32]).hex())
    return 0


if __name__ == "__main__":
    sys.exit(main())
