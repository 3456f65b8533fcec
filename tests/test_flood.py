#!/usr/bin/env python3
"""test_flood.py - offport under a flood, at a scale a test can afford.

    tests/test_flood.py --offport PATH

Builds, in a temporary directory, the hostile mix of bench/make_captures.py
(flood.pcap: SYN flood, UDP spray, fragment flood, tiny-segment storm) with
60,000 packets (about 42,000 flows), then appends two real off-port flows
after it (SSH on tcp/443 and HTTP on tcp/53, from tests/captures/). Runs
offport with tables far smaller than the flood, and checks:

- every accounting equality of the golden cases holds (tests/golden/run.py
  check_accounting): every packet decoded or dropped for a named reason,
  every flow created reported once;
- the tables evicted and counted: flows ("evicted"), fragments ("evicted"),
  stream slots ("inspections_cut", flow records "inspection_cut");
- no flow went uninspected, and the two off-port flows after the flood
  still raise their alerts (a flood cannot blind the sensor);
- peak resident memory stays within stats.memory.tables_bytes plus the
  program's fixed part, and is the same (within 2 MiB) for a flood twice
  as long: bounded, not growing with the input;
- the text mode survives the same input with the same counts.
"""
import argparse
import importlib.util
import json
import pathlib
import struct
import subprocess
import sys
import tempfile

TESTS = pathlib.Path(__file__).resolve().parent
REPO = TESTS.parent
sys.path.insert(0, str(TESTS / "golden"))
sys.path.insert(0, str(TESTS))
from checklib import check, summary  # noqa: E402
from run import check_accounting  # noqa: E402

FIXED_MIB = 12  # program, libraries, stdio and record buffers: measured ~4
BOUNDS = ["--max-flows", "2000", "--stream-slots", "32", "--frag-max", "16"]



def load_make_captures():
    spec = importlib.util.spec_from_file_location("make_captures",
                                                  REPO / "bench" / "make_captures.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def read_pcap(path):
    """(ts_us, frame) of a classic little-endian microsecond pcap."""
    b = path.read_bytes()
    magic, = struct.unpack_from("<I", b, 0)
    assert magic == 0xA1B2C3D4, path
    out, pos = [], 24
    while pos + 16 <= len(b):
        s, us, cap, _ = struct.unpack_from("<IIII", b, pos)
        out.append((s * 1000000 + us, b[pos + 16:pos + 16 + cap]))
        pos += 16 + cap
    return out


def append_flows(path, tails):
    """Appends the packets of the captures in tails after the last packet
    of path, keeping their spacing."""
    last = read_pcap(path)[-1][0]
    with open(path, "ab") as f:
        for t in tails:
            pkts = read_pcap(t)
            base = pkts[0][0]
            for ts, fr in pkts:
                ts = last + 1000 + (ts - base)
                f.write(struct.pack("<IIII", ts // 1000000, ts % 1000000, len(fr), len(fr)) + fr)
            last = ts


def run(offport, args, timeout=120):
    """Runs offport; returns (exit status, stdout, stderr)."""
    p = subprocess.run([offport, *args], capture_output=True, timeout=timeout)
    return p.returncode, p.stdout.decode(), p.stderr.decode("utf-8", "replace")


def rss_of(offport, args, timeout=120):
    """Exit status and peak RSS in bytes of one run, measured from a fresh
    Python process whose only child it is (RUSAGE_CHILDREN keeps the
    largest child's peak)."""
    code = ("import resource,subprocess,sys;"
            "p=subprocess.run(sys.argv[1:],stdout=subprocess.DEVNULL,stderr=subprocess.DEVNULL);"
            "print(p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss*1024)")
    r = subprocess.run([sys.executable, "-c", code, offport, *args], capture_output=True,
                       text=True, timeout=timeout)
    rc, rss = r.stdout.split()
    return int(rc), int(rss)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--offport", required=True)
    a = ap.parse_args()
    mc = load_make_captures()
    sanitized = "asan" in a.offport
    with tempfile.TemporaryDirectory() as d:
        d = pathlib.Path(d)
        small, big = d / "flood.pcap", d / "flood2.pcap"
        info = mc.make_flood(small, 60000)
        mc.make_flood(big, 120000)
        append_flows(small, [TESTS / "captures" / "ssh_443.pcap",
                             TESTS / "captures" / "http_53.pcap"])
        check(info["flows"] > 40000, "the flood has many more flows than the table",
              str(info))

        rc, out, err = run(a.offport, ["--json", *BOUNDS, "--seed", "1", "-r", str(small)])
        check(rc == 0, "flood: exit 0", f"{rc} {err[-500:]}")
        recs = [json.loads(line) for line in out.splitlines()]
        problems = check_accounting(recs)
        check(not problems, "flood: accounting equalities", "; ".join(problems))
        st = recs[-1]["stats"]
        fl, fr, ss = st["flow"], st["decoder"]["fragments"], st["stream"]
        npk = len(read_pcap(small))
        check(st["packets"] == npk, "flood: every packet read", f"{st['packets']} of {npk}")
        check(fl["created"] >= info["flows"] and fl["ended"]["evicted"] >= fl["created"] - 2000,
              "flood: flows beyond the table were evicted and counted",
              f"created {fl['created']} evicted {fl['ended']['evicted']}")
        check(fl["peak_active"] == 2000, "flood: the flow table filled to its bound",
              str(fl["peak_active"]))
        check(fr["evicted"] > 0 and fr["datagrams"] == fr["reassembled"] + fr["timeout"] +
              fr["evicted"] + fr["incomplete_at_end"],
              "flood: fragment contexts evicted and every datagram accounted for", str(fr))
        cut = [r for r in recs if r["event_type"] == "flow"
               and r["offport"].get("inspection_cut")]
        check(ss["inspections_cut"] > 0 and len(cut) == ss["inspections_cut"],
              "flood: full stream pool cut inspections, one flow record each",
              f"{ss['inspections_cut']} {len(cut)}")
        check(ss["uninspected_flows"] == 0 and all(
            r["offport"]["inspected"] for r in recs if r["event_type"] == "flow"),
              "flood: no flow went uninspected", str(ss["uninspected_flows"]))
        sigs = [r["alert"]["signature"] for r in recs if r["event_type"] == "alert"]
        check(any("ssh" in s and "tcp/443" in s for s in sigs),
              "flood: SSH on tcp/443 after the flood still alerts",
              str([s for s in sigs if "443" in s][:5]))
        check(any("http" in s and "tcp/53" in s for s in sigs),
              "flood: HTTP on tcp/53 after the flood still alerts",
              str([s for s in sigs if "/53" in s][:5]))

        # Text mode: same input, same counts, nothing but printable text.
        rc, tout, err = run(a.offport, [*BOUNDS, "--seed", "1", "-r", str(small)])
        check(rc == 0 and f"flows: {fl['created']} " in tout and
              "accounting: INCOMPLETE" not in tout, "flood, text mode: same flows, accounted",
              tout[-800:])
        check(all(32 <= c < 127 or c == 10 for c in tout.encode()),
              "flood, text mode: printable ASCII only")

        # Memory: within the tables' bound, and flat when the flood doubles.
        if sanitized:
            print("skip memory bounds (sanitizer build: shadow memory)")
        else:
            bound = st["memory"]["tables_bytes"]
            rc1, rss1 = rss_of(a.offport, ["--json", *BOUNDS, "-r", str(small)])
            rc2, rss2 = rss_of(a.offport, ["--json", *BOUNDS, "-r", str(big)])
            check(rc1 == 0 and rss1 <= bound + FIXED_MIB * 2**20,
                  "flood: peak RSS within tables_bytes + fixed part",
                  f"rss {rss1 / 2**20:.1f} MiB, bound {bound / 2**20:.1f} MiB")
            check(rc2 == 0 and abs(rss2 - rss1) <= 2 * 2**20,
                  "flood: peak RSS flat when the flood doubles",
                  f"{rss1 / 2**20:.1f} vs {rss2 / 2**20:.1f} MiB")
    return summary("flood")


if __name__ == "__main__":
    sys.exit(main())
