#!/usr/bin/env python3
"""run.py - times offport against ndpiReader and a bare libpcap read loop.

    bench/run.py [--dir DIR] [--rounds 5] [--scaling] [--offport PATH]
                 [--only NAME] [--json FILE]

The captures come from bench/make_captures.py (same --dir, default
build/bench/). For each capture:

1. The offport binary (and build/release/bench_pcap_loop) are copied to a
   temporary folder first, so a rebuild during the run cannot mix versions;
   their SHA-256 prefixes are printed.
2. Warm-up: one untimed `offport --json -r FILE` whose output is piped here;
   its stats record gives the packets, bytes and flows of the capture.
   Before every timed run the capture is also read once, untimed, so that
   every run finds it in the page cache (some machines page out file pages
   unused for a minute, as this one's DAMON reclaim does).
3. Rounds: in each round every tool runs once, the tools in ALTERNATION
   (round-robin, the order rotated by one each round, so no tool always runs
   after the same one):
     offport --json -r FILE           > /dev/null   (EVE JSON: alerts, flows, stats)
     offport -r FILE                  > /dev/null   (text: alert lines, summary)
     ndpiReader -i FILE -q            > /dev/null   (nDPI 4.2: full detection,
                                                     -q prints nothing at all)
     bench_pcap_loop FILE             > /dev/null   (bench/pcap_loop.c: the read limit)
   Each run is wrapped in `/usr/bin/time -v`: its maximum resident set size
   is the peak RSS. Wall time is measured here around the run (perf_counter;
   /usr/bin/time's own wall clock has 10 ms resolution, it is kept in the
   JSON). A run slower than --slow seconds is not repeated for that capture
   (its median is of fewer runs, marked); one that exceeds --timeout is
   killed and reported as not finished.
4. Printed: packets, flows, the medians of wall time and peak RSS per tool,
   offport's throughput (packets/s, Gbit/s of captured packet bytes), and the
   floors of issue 6, each PASS or FAIL:
     ndpiReader wall / offport wall    >= 10
     offport wall / pcap loop wall     <= 2
     ndpiReader RSS / offport RSS      >= 8
   (offport = the --json run, the mode the floors are about), then the
   same two time ratios for the text mode (the default: alert lines only).

--scaling runs the same on flows_1e4 .. flows_1e7 (make_captures.py
--scaling) and prints how time and memory grow with the flow count
(flows_1e7 has shorter flows: 3.6 packets a flow instead of 6.5, see
make_captures.py, so compare per packet as well as per flow).

Needs /usr/bin/time (Debian package `time`) and ndpiReader (package
`libndpi-bin`); without ndpiReader the nDPI columns are left out.
"""
import argparse
import hashlib
import json
import os
import pathlib
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

REPO = pathlib.Path(__file__).resolve().parent.parent
MAIN = ["corpus_x.pcap", "bulk.pcap", "flows_1e6.pcap"]
SCALING = ["flows_1e4.pcap", "flows_1e5.pcap", "flows_1e6.pcap", "flows_1e7.pcap"]
FLOORS = {"ndpi_over_offport_wall": 10.0, "offport_over_loop_wall": 2.0,
          "ndpi_over_offport_rss": 8.0}


def sha(path):
    return hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()[:12]


def parse_time_v(text):
    """The fields of GNU time -v that we use."""
    out = {}
    for line in text.splitlines():
        line = line.strip()
        key, _, val = line.rpartition(": ")
        if key == "Maximum resident set size (kbytes)":
            out["rss_kb"] = int(val)
        elif key == "User time (seconds)":
            out["user_s"] = float(val)
        elif key == "System time (seconds)":
            out["sys_s"] = float(val)
        elif key.startswith("Elapsed (wall clock) time"):
            parts = [float(p) for p in val.split(":")]
            s = 0.0
            for p in parts:
                s = s * 60 + p
            out["time_wall_s"] = s
        elif key == "Exit status":
            out["exit"] = int(val)
    return out


def warm(path):
    """Reads the file once, untimed, so that it is in the page cache."""
    buf = bytearray(1 << 20)
    with open(path, "rb", buffering=0) as f:
        while f.readinto(buf):
            pass


def measure(cmd, timeout, cache=None):
    """Runs cmd under /usr/bin/time -v, stdout to /dev/null. Returns a dict
    with wall_s, rss_kb, user_s, sys_s, exit (None when killed). The file
    cache, if given, is read first, untimed: a machine may page out file
    pages left unused for a while (this one's DAMON reclaim does after about
    a minute), and a run would then pay for reading the disk."""
    if cache:
        warm(cache)
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf, \
            tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        p = subprocess.Popen(["/usr/bin/time", "-v", "-o", tf.name] + cmd,
                             stdout=subprocess.DEVNULL, stderr=err, stdin=subprocess.DEVNULL,
                             start_new_session=True)
        # A blocking wait: Popen.wait(timeout=...) polls with sleeps of up
        # to 50 ms, which would quantise the wall time. The timeout is a
        # watchdog thread that kills our own session (time and the tool).
        killed = []

        def kill():
            killed.append(True)
            os.killpg(p.pid, signal.SIGKILL)
        dog = threading.Timer(timeout, kill)
        dog.start()
        p.wait()
        wall = time.perf_counter() - t0
        dog.cancel()
        if killed:
            return {"wall_s": wall, "exit": None, "timeout": True}
        r = parse_time_v(tf.read())
        r["wall_s"] = wall
        if r.get("exit", p.returncode) != 0:
            err.seek(0)
            r["stderr"] = err.read()[-2000:]
        return r


def offport_stats(offport, cap):
    """Warm-up run: offport --json, piped; returns its stats record."""
    p = subprocess.Popen([offport, "--json", "-r", str(cap)], stdout=subprocess.PIPE,
                         stdin=subprocess.DEVNULL)
    tail = b""
    while True:
        chunk = p.stdout.read(1 << 20)
        if not chunk:
            break
        tail = (tail + chunk)[-(1 << 20):]
    p.wait()
    for line in reversed(tail.splitlines()):
        if b'"event_type":"stats"' in line.replace(b" ", b""):
            return json.loads(line)["stats"], p.returncode
    return None, p.returncode


def med(runs, key):
    vals = [r[key] for r in runs if r.get("exit") == 0 and key in r]
    return statistics.median(vals) if vals else None


def fmt_s(x):
    return "-" if x is None else (f"{x:8.3f}" if x < 100 else f"{x:8.1f}")


def fmt_mb(kb):
    return "-" if kb is None else f"{kb / 1024:8.1f}"


def bench_capture(cap, tools, rounds, slow, timeout, offport):
    stats, rc = offport_stats(offport, cap)
    info = {"capture": cap.name, "bytes_on_disk": cap.stat().st_size, "warmup_exit": rc}
    if stats:
        info["packets"] = stats["packets"]
        info["bytes"] = stats["bytes"]
        info["flows"] = stats["flow"]["created"]
        info["peak_active_flows"] = stats["flow"]["peak_active"]
        info["evicted"] = stats["flow"].get("ended", {}).get("evicted")
        # bytes as captured (what is read and inspected): the file less its
        # headers; offport's stats.bytes counts original lengths
        info["captured_bytes"] = cap.stat().st_size - 24 - 16 * stats["packets"]
    runs = {name: [] for name, _ in tools}
    stopped = set()
    names = [n for n, _ in tools]
    cmds = dict(tools)
    for r in range(rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for name in order:
            if name in stopped:
                continue
            res = measure(cmds[name], timeout, cache=cap)
            runs[name].append(res)
            if res.get("timeout"):
                stopped.add(name)
                print(f"  {name}: killed after {timeout} s", flush=True)
            elif res.get("exit") != 0:
                stopped.add(name)
                print(f"  {name}: exit {res.get('exit')}: {res.get('stderr', '').strip()[:300]}",
                      flush=True)
            elif res["wall_s"] > slow:
                stopped.add(name)
                print(f"  {name}: {res['wall_s']:.1f} s > --slow {slow} s, not repeated",
                      flush=True)
    info["runs"] = runs
    info["median"] = {n: {"wall_s": med(runs[n], "wall_s"), "rss_kb": med(runs[n], "rss_kb"),
                          "user_s": med(runs[n], "user_s"), "sys_s": med(runs[n], "sys_s"),
                          "n": sum(1 for x in runs[n] if x.get("exit") == 0)}
                      for n in runs}
    return info


def ratios(info):
    m = info["median"]
    o = m.get("offport-json", {})
    nd = m.get("ndpiReader", {})
    lp = m.get("pcap-loop", {})
    out = {}
    if o.get("wall_s") and nd.get("wall_s"):
        out["ndpi_over_offport_wall"] = nd["wall_s"] / o["wall_s"]
    if o.get("wall_s") and lp.get("wall_s"):
        out["offport_over_loop_wall"] = o["wall_s"] / lp["wall_s"]
    if o.get("rss_kb") and nd.get("rss_kb"):
        out["ndpi_over_offport_rss"] = nd["rss_kb"] / o["rss_kb"]
    t = m.get("offport-text", {})
    if t.get("wall_s") and nd.get("wall_s"):
        out["text_ndpi_over_offport_wall"] = nd["wall_s"] / t["wall_s"]
    if t.get("wall_s") and lp.get("wall_s"):
        out["text_offport_over_loop_wall"] = t["wall_s"] / lp["wall_s"]
    return out


def verdict(key, v):
    floor = FLOORS[key]
    ok = v <= floor if key == "offport_over_loop_wall" else v >= floor
    return "PASS" if ok else "FAIL"


def print_capture(info):
    print(f"\n{info['capture']}: {info.get('packets', '?')} packets, "
          f"{info.get('captured_bytes', 0) / 1e6:.0f} MB captured "
          f"({info['bytes_on_disk'] / 1e6:.0f} MB file), {info.get('flows', '?')} flows "
          f"(peak {info.get('peak_active_flows', '?')} open, {info.get('evicted', '?')} evicted)")
    print(f"  {'tool':14} {'runs':>4} {'wall s':>8} {'user s':>8} {'sys s':>8} {'RSS MiB':>8}"
          f"   (medians)")
    for name, m in info["median"].items():
        print(f"  {name:14} {m['n']:4} {fmt_s(m['wall_s'])} {fmt_s(m['user_s'])} "
              f"{fmt_s(m['sys_s'])} {fmt_mb(m['rss_kb'])}")
    o = info["median"].get("offport-json", {})
    if o.get("wall_s") and info.get("packets"):
        pps = info["packets"] / o["wall_s"]
        gbps = info["captured_bytes"] * 8 / o["wall_s"] / 1e9
        info["offport_throughput"] = {"packets_per_s": pps, "gbit_per_s": gbps}
        print(f"  offport --json: {pps / 1e6:.2f} M packets/s, {gbps:.2f} Gbit/s, "
              f"{o['wall_s'] * 1e9 / info['packets']:.0f} ns/packet")
    info["ratios"] = ratios(info)
    labels = {"ndpi_over_offport_wall": ("ndpiReader wall / offport wall", ">="),
              "offport_over_loop_wall": ("offport wall / pcap loop wall", "<="),
              "ndpi_over_offport_rss": ("ndpiReader RSS / offport RSS", ">=")}
    for key, (label, op) in labels.items():
        v = info["ratios"].get(key)
        if v is None:
            print(f"  {label:32} {'-':>7}   (floor {op} {FLOORS[key]:g}) not measured")
        else:
            print(f"  {label:32} {v:7.2f}   (floor {op} {FLOORS[key]:g}) {verdict(key, v)}")
    r = info["ratios"]
    if "text_ndpi_over_offport_wall" in r:
        # the default mode (alert lines only), for comparison; the floors
        # are judged on the --json run above
        print(f"  text mode: ndpiReader / offport {r['text_ndpi_over_offport_wall']:.2f}, "
              f"offport / loop {r.get('text_offport_over_loop_wall', float('nan')):.2f}")


def print_scaling(results):
    print("\nscaling (medians):")
    print(f"  {'capture':16} {'flows':>9} {'packets':>10} {'offport s':>9} {'ns/pkt':>7} "
          f"{'us/flow':>7} {'RSS MiB':>8} {'evicted':>8} {'nDPI s':>8} {'nDPI MiB':>8} "
          f"{'loop s':>7}")
    for info in results:
        m = info["median"]
        o, nd, lp = m.get("offport-json", {}), m.get("ndpiReader", {}), m.get("pcap-loop", {})
        w = o.get("wall_s")
        pk, fl = info.get("packets"), info.get("flows")
        nd_note = ""
        if "ndpiReader" in info["runs"] and not nd.get("wall_s"):
            nd_note = " (did not finish)"
        print(f"  {info['capture']:16} {fl or 0:9} {pk or 0:10} {fmt_s(w):>9} "
              f"{(w * 1e9 / pk if w and pk else 0):7.0f} {(w * 1e6 / fl if w and fl else 0):7.2f} "
              f"{fmt_mb(o.get('rss_kb')):>8} {str(info.get('evicted', '-')):>8} "
              f"{fmt_s(nd.get('wall_s')):>8} {fmt_mb(nd.get('rss_kb')):>8} "
              f"{fmt_s(lp.get('wall_s')):>7}{nd_note}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", default=str(REPO / "build/bench"))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--scaling", action="store_true",
                    help="the scaling study on flows_1e4 .. flows_1e7 instead")
    ap.add_argument("--offport", default=str(REPO / "build/release/offport"))
    ap.add_argument("--loop", default=str(REPO / "build/release/bench_pcap_loop"))
    ap.add_argument("--only", action="append", help="only this capture (repeatable)")
    ap.add_argument("--no-text", action="store_true", help="skip offport's text mode")
    ap.add_argument("--no-ndpi", action="store_true", help="skip ndpiReader")
    ap.add_argument("--slow", type=float, default=300,
                    help="a tool whose run takes longer is not repeated on that capture")
    ap.add_argument("--timeout", type=float, default=1800, help="kill a run after S seconds")
    ap.add_argument("--json", metavar="FILE", help="write the results as JSON")
    ap.add_argument("--print", metavar="FILE", dest="reprint",
                    help="print the results of an earlier --json FILE again, and exit")
    a = ap.parse_args()

    if a.reprint:
        saved = json.loads(pathlib.Path(a.reprint).read_text())
        e = saved["env"]
        print(f"offport {e['offport_version']} (sha256 {e['offport_sha256']}), git "
              f"{e['git_head']}; {e['rounds']} rounds, {e['started']} .. {e.get('finished')}")
        for info in saved["results"]:
            print_capture(info)
        if len(saved["results"]) > 1 and saved["results"][0]["capture"].startswith("flows_1e"):
            print_scaling(saved["results"])
        return 0
    if not os.access("/usr/bin/time", os.X_OK):
        sys.exit("run.py: /usr/bin/time is missing: apt-get install time")
    ndpi = shutil.which("ndpiReader")
    if ndpi is None and not a.no_ndpi:
        print("run.py: ndpiReader is missing (apt-get install libndpi-bin); "
              "the nDPI columns are left out", file=sys.stderr)
    for path, what in ((a.offport, "scripts/build.sh release"), (a.loop, "scripts/build.sh release")):
        if not os.access(path, os.X_OK):
            sys.exit(f"run.py: {path} is missing: {what}")
    d = pathlib.Path(a.dir)
    names = SCALING if a.scaling else MAIN
    if a.only:
        names = [n for n in names if n in a.only or n.removesuffix(".pcap") in a.only]
    caps = []
    for n in names:
        if not (d / n).exists():
            sys.exit(f"run.py: {d / n} is missing: bench/make_captures.py --dir {d}"
                     + (" --scaling" if a.scaling else ""))
        caps.append(d / n)

    tmp = pathlib.Path(tempfile.mkdtemp(prefix="offport-bench-"))
    try:
        offport = tmp / "offport"
        loop = tmp / "bench_pcap_loop"
        shutil.copy2(a.offport, offport)
        shutil.copy2(a.loop, loop)
        ver = subprocess.run([str(offport), "--version"], capture_output=True, text=True).stdout
        head = subprocess.run(["git", "-C", str(REPO), "log", "-1", "--format=%h %cI %s"],
                              capture_output=True, text=True).stdout.strip()
        env = {"offport": a.offport, "offport_sha256": sha(offport),
               "offport_version": ver.strip().splitlines()[0] if ver.strip() else "",
               "git_head": head, "loop_sha256": sha(loop), "ndpiReader": ndpi,
               "host": platform.node(), "kernel": platform.release(),
               "rounds": a.rounds, "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        print(f"offport {env['offport_version']} ({a.offport}, sha256 {env['offport_sha256']}), "
              f"git {head}")
        print(f"ndpiReader: {ndpi or 'missing'} -i FILE -q;  pcap loop: {a.loop};  "
              f"{a.rounds} rounds, tools alternating")
        tools = [("offport-json", [str(offport), "--json", "-r", "{}"])]
        if not a.no_text:
            tools.append(("offport-text", [str(offport), "-r", "{}"]))
        if ndpi and not a.no_ndpi:
            tools.append(("ndpiReader", [ndpi, "-i", "{}", "-q"]))
        tools.append(("pcap-loop", [str(loop), "{}"]))
        results = []
        for cap in caps:
            print(f"\n[{time.strftime('%H:%M:%S')}] {cap.name} ...", flush=True)
            t = [(n, [str(cap) if x == "{}" else x for x in c]) for n, c in tools]
            info = bench_capture(cap, t, a.rounds, a.slow, a.timeout, str(offport))
            print_capture(info)
            results.append(info)
            sys.stdout.flush()
        if a.scaling:
            print_scaling(results)
        env["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        if a.json:
            pathlib.Path(a.json).write_text(json.dumps({"env": env, "results": results},
                                                       indent=1) + "\n")
            print(f"\nresults: {a.json}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
