#!/usr/bin/env python3
"""Runs offport over every capture of the shared nDPI corpus.

Checks, for every capture: offport ends (no crash, no hang, no sanitizer
report), exits 0, 3 (damaged capture, with a message naming the file) or 1
only for an unsupported link type; its JSON parses; and the accounting
equalities hold (every packet decoded or dropped for a named reason, every
flow reported). Then compares its TCP/UDP flows with nDPI's flows.tsv, flow
by flow (matched on protocol and both endpoints), and prints the agreement;
a full per-file report goes to --report. Differences in flow counts do not
fail the test: docs/corpus.md explains them.

Which conversations (protocol and both endpoints) only one side has is not
left to chance: tuple_differences.tsv lists, per capture, how many only
offport and only nDPI found, each with the reason read from the bytes. Any
capture that departs from that list fails the test, so a decoder change
that loses or invents a conversation is caught.

The corpus is found in $OFFPORT_CORPUS or ../shared/corpus/ndpi beside the
repository; without it the test is skipped (exit 77).
"""
import argparse
import collections
import concurrent.futures
import csv
import ipaddress
import json
import os
import pathlib
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "golden"))
from run import check_accounting  # noqa: E402


def find_corpus():
    env = os.environ.get("OFFPORT_CORPUS")
    for c in ([pathlib.Path(env)] if env else []) + [REPO.parent / "shared" / "corpus" / "ndpi"]:
        if (c / "pcap").is_dir() and (c / "flows.tsv").is_file():
            return c
    return None


def norm_ep(ep):
    """'1.2.3.4:80' or '[2001:db8::1]:80' -> (ip, port) normalised."""
    host, _, port = ep.rpartition(":")
    host = host.strip("[]")
    try:
        host = str(ipaddress.ip_address(host))
    except ValueError:
        pass
    return host, int(port) if port.isdigit() else port


def run_one(offport, path):
    try:
        p = subprocess.run([offport, "--json", "-r", str(path)], capture_output=True,
                           timeout=300)
    except subprocess.TimeoutExpired:
        return path.name, None, [], "timed out after 300 s"
    err = p.stderr.decode("utf-8", "replace")
    try:
        recs = [json.loads(line) for line in p.stdout.decode("utf-8").splitlines()]
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        return path.name, p.returncode, [], f"invalid JSON output: {e}; stderr: {err[-500:]}"
    return path.name, p.returncode, recs, err


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--offport", required=True)
    ap.add_argument("--report", default=None, help="write the per-file comparison here")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    a = ap.parse_args()
    corpus = find_corpus()
    if not corpus:
        print("corpus: shared nDPI corpus not found (set OFFPORT_CORPUS); skipped")
        return 77

    ndpi = collections.defaultdict(list)
    with open(corpus / "flows.tsv", newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            if row["l4"] in ("TCP", "UDP"):
                ndpi[row["file"]].append(row)

    known = {}
    here = pathlib.Path(__file__).resolve().parent
    for n, line in enumerate((here / "tuple_differences.tsv").read_text().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        f = line.split("\t")
        if len(f) != 4:
            sys.exit(f"tuple_differences.tsv:{n}: want file<TAB>only_offport<TAB>only_ndpi<TAB>reason")
        known[f[0]] = (int(f[1]), int(f[2]))

    captures = sorted(p for p in (corpus / "pcap").iterdir()
                      if p.suffix in (".pcap", ".pcapng", ".cap"))
    failures, unsupported, damaged = [], [], []
    totals = collections.Counter()
    lines = []
    with concurrent.futures.ThreadPoolExecutor(a.jobs) as ex:
        results = list(ex.map(lambda p: run_one(a.offport, p), captures))
    for name, code, recs, err in results:
        if "ERROR: AddressSanitizer" in err or "runtime error:" in err or "LeakSanitizer" in err:
            failures.append(f"{name}: sanitizer report:\n{err[-3000:]}")
            continue
        if code is None or code not in (0, 1, 3):
            failures.append(f"{name}: exit status {code}: {err[-500:]}")
            continue
        if code == 1:
            if "is not supported" in err:
                unsupported.append(f"{name}: {err.strip()}")
            else:
                failures.append(f"{name}: exit 1: {err.strip()}")
            continue
        if code == 3:
            if name not in err or "damaged" not in err:
                failures.append(f"{name}: exit 3 without a message naming the file: {err}")
            damaged.append(f"{name}: {err.strip()}")
        problems = check_accounting(recs) if recs else ["no output"]
        if problems:
            failures.append(f"{name}: " + "; ".join(problems))
            continue
        ours = {}
        for r in recs:
            if r["event_type"] != "flow":
                continue
            key = (r["proto"], frozenset([(r["src_ip"], r["src_port"]),
                                          (r["dest_ip"], r["dest_port"])]))
            ours.setdefault(key, []).append(r)
        theirs = {}
        for row in ndpi.get(name, []):
            c, s = norm_ep(row["client"]), norm_ep(row["server"])
            theirs.setdefault((row["l4"], frozenset([c, s])), []).append(row)
        n_ours = sum(len(v) for v in ours.values())
        n_theirs = sum(len(v) for v in theirs.values())
        both = set(ours) & set(theirs)
        totals["files"] += 1
        totals["ours"] += n_ours
        totals["ndpi"] += n_theirs
        totals["tuples_both"] += len(both)
        totals["tuples_only_ours"] += len(set(ours) - set(theirs))
        totals["tuples_only_ndpi"] += len(set(theirs) - set(ours))
        totals["files_same_count"] += n_ours == n_theirs
        for k in both:
            o, t = ours[k][0], theirs[k][0]
            if t["dir_basis"] == "syn_agrees":
                totals["syn_both"] += 1
                same = norm_ep(t["client"]) == (o["src_ip"], o["src_port"])
                totals["syn_client_agree"] += same
        diff = (len(set(ours) - set(theirs)), len(set(theirs) - set(ours)))
        if diff != known.get(name, (0, 0)):
            failures.append(f"{name}: conversations only offport / only nDPI found: {diff}, "
                            f"tuple_differences.tsv says {known.get(name, (0, 0))}")
        if n_ours != n_theirs:
            lines.append(f"{name}\tours {n_ours}\tndpi {n_theirs}\t"
                         f"only_ours {len(set(ours) - set(theirs))}\t"
                         f"only_ndpi {len(set(theirs) - set(ours))}")
    if a.report:
        with open(a.report, "w") as f:
            f.write("# files whose TCP/UDP flow count differs from nDPI's\n")
            f.write("\n".join(lines) + "\n")
            f.write("\n# unsupported link types\n" + "\n".join(unsupported) + "\n")
            f.write("\n# damaged captures\n" + "\n".join(damaged) + "\n")
    print(f"corpus: {len(captures)} captures, {totals['files']} read, "
          f"{len(damaged)} damaged (exit 3), {len(unsupported)} unsupported link type")
    print(f"corpus: TCP/UDP flows: offport {totals['ours']}, nDPI {totals['ndpi']}; "
          f"same count in {totals['files_same_count']} of {totals['files']} files")
    print(f"corpus: 5-tuples in both {totals['tuples_both']}, only offport "
          f"{totals['tuples_only_ours']}, only nDPI {totals['tuples_only_ndpi']}")
    if totals["syn_both"]:
        print(f"corpus: client agrees with the SYN-derived client on "
              f"{totals['syn_client_agree']} of {totals['syn_both']} flows")
    if totals["syn_client_agree"] != totals["syn_both"]:
        failures.append(f"client differs from the SYN sender on "
                        f"{totals['syn_both'] - totals['syn_client_agree']} flows")
    for u in unsupported:
        print(f"corpus: unsupported: {u}")
    for fl in failures:
        print(f"FAIL {fl}")
    print(f"corpus: {len(captures) - len(failures)} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
