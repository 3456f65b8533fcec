#!/usr/bin/env python3
"""flood.py - offport's throughput and memory under a flood, against
normal traffic measured in the same run.

    bench/flood.py [--dir DIR] [--rounds 3] [--offport PATH] [--normal NAME]...

Needs flood.pcap and the normal captures in DIR (default build/bench/;
`bench/make_captures.py --flood` writes them all). For each capture it runs
`offport --json -r FILE > /dev/null` and `offport -r FILE > /dev/null`
(text) under /usr/bin/time -v, each run after an untimed read of its
capture (so that it is in the page cache), the captures alternating, `--rounds` times,
and prints the medians, the cost per packet, and the floor of
docs/robustness.md:

    flood ns/packet / normal ns/packet <= 2   (per output mode)

for each normal capture (default corpus_x.pcap, real traffic amplified,
and flows_1e6.pcap, a million ordinary short flows). Then, from the flood
run's stats record: flows created and evicted, inspections cut short,
fragments evicted, uninspected flows, and peak RSS against
stats.memory.tables_bytes (the configured bound, offport(8) MEMORY). A
second flood run with tables a tenth of the default size shows the bound
follows the configuration.
"""
import argparse
import json
import pathlib
import statistics
import subprocess
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from run import measure, offport_stats  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parent.parent
SMALL = ["--max-flows", "26214", "--stream-slots", "1638", "--frag-max", "102"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dir", default=str(REPO / "build/bench"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--offport", default=str(REPO / "build/release/offport"))
    ap.add_argument("--normal", action="append",
                    help="normal capture(s) to compare with (default corpus_x.pcap, "
                         "flows_1e6.pcap)")
    ap.add_argument("--timeout", type=float, default=600)
    a = ap.parse_args()
    d = pathlib.Path(a.dir)
    flood = d / "flood.pcap"
    normals = [d / n for n in (a.normal or ["corpus_x.pcap", "flows_1e6.pcap"])]
    missing = [str(p) for p in [flood, *normals] if not p.exists()]
    if missing:
        sys.exit(f"flood.py: missing {', '.join(missing)}; run bench/make_captures.py --flood")
    caps = [flood, *normals]
    packets = {}
    stats = {}
    for c in caps:
        st, rc = offport_stats(a.offport, c)
        if st is None or rc != 0:
            sys.exit(f"flood.py: offport failed on {c} (exit {rc})")
        packets[c] = st["packets"]
        stats[c] = st
    runs = {(c, m): [] for c in caps for m in ("json", "text")}
    for r in range(a.rounds):
        for c in caps:
            for m in ("json", "text"):
                cmd = [a.offport] + (["--json"] if m == "json" else []) + ["-r", str(c)]
                res = measure(cmd, a.timeout, cache=c)
                if res.get("exit") != 0:
                    sys.exit(f"flood.py: {' '.join(cmd)} failed: {res}")
                runs[(c, m)].append(res)
        print(f"round {r + 1}/{a.rounds} done", file=sys.stderr)

    def med(c, m, k):
        return statistics.median(x[k] for x in runs[(c, m)])

    print(f"offport {a.offport}; {a.rounds} rounds, captures alternating\n")
    print(f"  {'capture':16} {'mode':5} {'packets':>10} {'wall s':>8} {'ns/pkt':>7} "
          f"{'RSS MiB':>8}")
    for c in caps:
        for m in ("json", "text"):
            w = med(c, m, "wall_s")
            print(f"  {c.name:16} {m:5} {packets[c]:10d} {w:8.3f} "
                  f"{w / packets[c] * 1e9:7.0f} {med(c, m, 'rss_kb') / 1024:8.1f}")
    print()
    ok = True
    for n in normals:
        for m in ("json", "text"):
            ratio = (med(flood, m, "wall_s") / packets[flood]) / \
                (med(n, m, "wall_s") / packets[n])
            good = ratio <= 2
            ok &= good
            print(f"  flood / {n.name:15} ({m}): {ratio:5.2f} x the cost per packet "
                  f"(floor <= 2) {'PASS' if good else 'FAIL'}")
    # The same per flow: a flood packet is mostly a new flow, a normal one
    # mostly not, so this is the other side of the picture (not the floor).
    for n in normals:
        for m in ("json", "text"):
            per_flow = (med(flood, m, "wall_s") / stats[flood]["flow"]["created"]) / \
                (med(n, m, "wall_s") / stats[n]["flow"]["created"])
            print(f"  flood / {n.name:15} ({m}): {per_flow:5.2f} x the cost per flow")
    st = stats[flood]
    fl, ss, fr = st["flow"], st["stream"], st["decoder"]["fragments"]
    bound = st["memory"]["tables_bytes"]
    rss = max(med(flood, m, "rss_kb") for m in ("json", "text")) * 1024
    print(f"\nflood: {fl['created']} flows, {fl['ended']['evicted']} evicted, peak "
          f"{fl['peak_active']} of {fl['max_flows']}; {ss['inspections_cut']} inspections cut "
          f"short, {ss['uninspected_flows']} uninspected; {fr['datagrams']} fragmented "
          f"datagrams, {fr['evicted']} evicted; accounting complete: "
          f"{st['accounting']['complete']}")
    print(f"  peak RSS {rss / 2**20:.1f} MiB, tables bound {bound / 2**20:.1f} MiB "
          f"({'within' if rss <= bound + 8 * 2**20 else 'OVER'} the bound + 8 MiB)")
    # A tenth of the tables: the bound follows the configuration.
    res = measure([a.offport, *SMALL, "-r", str(flood)], a.timeout, cache=flood)
    p = subprocess.run([a.offport, "--json", *SMALL, "-r", str(flood)], capture_output=True,
                       timeout=a.timeout)
    small = json.loads(p.stdout.splitlines()[-1])["stats"]
    sb = small["memory"]["tables_bytes"]
    print(f"  tables a tenth ({' '.join(SMALL)}): peak RSS {res['rss_kb'] / 1024:.1f} MiB, "
          f"bound {sb / 2**20:.1f} MiB, {small['flow']['ended']['evicted']} evicted, "
          f"{small['stream']['inspections_cut']} cut short")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
