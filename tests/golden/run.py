#!/usr/bin/env python3
"""Golden tests: offport --json on small captures, compared record by record.

Each line of cases.tsv is: name, capture (relative to tests/), expected exit
status, extra arguments. The expected output of case NAME is
expected/NAME.jsonl; every line is parsed with Python's json module (a real
parser) and compared as data, key order included. Every case is also checked
for the accounting equalities: every packet read is decoded or dropped for a
named reason, and every flow created is reported.

    run.py --offport BIN                  run every case
    run.py --offport BIN --update NAME    rewrite expected/NAME.jsonl
    run.py --offport BIN --update all     rewrite them all (review the diff!)
"""
import argparse
import json
import pathlib
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent
TESTS = HERE.parent


def load_cases():
    cases = []
    for n, line in enumerate((HERE / "cases.tsv").read_text().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        f = line.split("\t")
        if len(f) < 3:
            sys.exit(f"cases.tsv:{n}: want name<TAB>capture<TAB>exit[<TAB>args]")
        cases.append((f[0], f[1], int(f[2]), f[3].split() if len(f) > 3 and f[3] else []))
    return cases


def run(offport, capture, args):
    cmd = [offport, "--json", *args, "-r", str(TESTS / capture)]
    p = subprocess.run(cmd, capture_output=True, timeout=120, cwd=TESTS)
    return p.returncode, p.stdout.decode("utf-8"), p.stderr.decode("utf-8", "replace")


def check_accounting(records):
    """The invariants every run must satisfy; returns a list of problems."""
    problems = []
    stats = [r for r in records if r.get("event_type") == "stats"]
    flows = [r for r in records if r.get("event_type") == "flow"]
    if len(stats) != 1 or records[-1] is not stats[0]:
        return ["want exactly one stats record, last"]
    s = stats[0]["stats"]
    dec = s["decoder"]
    results = sum(v for k, v in dec.items() if isinstance(v, int) and k in (
        "tcp", "udp", "icmp", "ip_other", "non_ip", "frag_held", "malformed"))
    if results != s["packets"]:
        problems.append(f"decoder results {results} != packets read {s['packets']}")
    if sum(dec["drops"].values()) != dec["malformed"]:
        problems.append("drop reasons do not add up to malformed")
    fl = s["flow"]
    if fl["created"] != fl["reported"] or fl["reported"] != len(flows):
        problems.append(f"flows created {fl['created']}, reported {fl['reported']}, "
                        f"records {len(flows)}")
    if sum(fl["ended"].values()) != fl["created"] or fl["active"] != 0:
        problems.append("flow end reasons do not add up to flows created")
    if fl["tcp"] + fl["udp"] != fl["created"]:
        problems.append("tcp + udp flows != flows created")
    if not s["accounting"]["complete"]:
        problems.append("stats.accounting.complete is false")
    pkts = sum(r["flow"]["pkts_toserver"] + r["flow"]["pkts_toclient"] for r in flows)
    if pkts != dec["tcp"] + dec["udp"]:
        problems.append(f"packets in flow records {pkts} != tcp+udp packets "
                        f"{dec['tcp'] + dec['udp']}")
    ids = [r["flow_id"] for r in flows]
    if len(set(ids)) != len(ids):
        problems.append("flow_id not unique")
    det = s.get("detection")
    if det is not None:
        alerts = [r for r in records if r.get("event_type") == "alert"]
        if len(alerts) != sum(det["alerts"].values()):
            problems.append(f"{len(alerts)} alert records, stats count "
                            f"{sum(det['alerts'].values())}")
        if sum(det["app_proto"].values()) != fl["created"]:
            problems.append("app_proto counts do not add up to flows created")
        by_id = {r["flow_id"]: r for r in flows}
        for a in alerts:
            fr = by_id.get(a["flow_id"])
            if fr is None:
                problems.append(f"alert for flow {a['flow_id']} without a flow record")
            elif fr["app_proto"] != a["app_proto"] or \
                    fr["offport"].get("finding") != a["offport"]["reason"]:
                problems.append(f"alert and flow record of {a['flow_id']} disagree")
        repeats = [r for r in flows if r["offport"].get("repeat")]
        if sum(1 for r in flows if "finding" in r["offport"]) != len(alerts) + len(repeats):
            problems.append("flows marked with a finding != alerts + repeats")
        problems += check_dedup(records, det, alerts, flows, repeats)
    return problems


def group_key(r):
    """What makes findings one alert: server, port, transport, protocol, kind."""
    kind = r["offport"]["reason"] if r["event_type"] == "alert" else \
        r["offport"].get("finding") if r["event_type"] == "flow" else r["dedup"]["reason"]
    return (r["dest_ip"], r["dest_port"], r["proto"], r["app_proto"], kind)


def check_dedup(records, det, alerts, flows, repeats):
    """Deduplication: repeats counted, one dedup record per group that held
    repeats, its counts equal to the flows of the group."""
    problems = []
    dd = det.get("dedup", {})
    if not dd.get("enabled"):
        if repeats or any(r.get("event_type") == "dedup" for r in records):
            problems.append("repeats or dedup records with dedup disabled")
        if sum(det["findings"].values()) != len(alerts):
            problems.append("findings != alerts with dedup disabled")
        return problems
    dedups = [r for r in records if r.get("event_type") == "dedup"]
    if dd["repeats"] != len(repeats):
        problems.append(f"stats dedup.repeats {dd['repeats']} != {len(repeats)} repeat flows")
    if sum(det["findings"].values()) != len(alerts) + len(repeats):
        problems.append("findings != alerts + repeats")
    if dd["closed_with_repeats"] != len(dedups):
        problems.append(f"{len(dedups)} dedup records, stats say {dd['closed_with_repeats']}")
    if sum(d["dedup"]["repeats"] for d in dedups) != len(repeats):
        problems.append("dedup records' repeats do not add up to the repeat flows")
    alert_ids = {a["flow_id"]: a for a in alerts}
    keys = {}
    for a in alerts:
        keys.setdefault(group_key(a), []).append(a)
    for d in dedups:
        a = alert_ids.get(d["flow_id"])
        if a is None or group_key(a) != group_key(d):
            problems.append(f"dedup record for flow {d['flow_id']} names no alert of its key")
            continue
        if d["dedup"]["flows"] != d["dedup"]["repeats"] + 1:
            problems.append("dedup flows != repeats + 1")
        if len(keys[group_key(a)]) == 1:
            # one group for this key in the whole run: its flows are all here
            members = [r for r in flows if r["offport"].get("finding") and
                       group_key(r) == group_key(a)]
            if len(members) != d["dedup"]["flows"]:
                problems.append(f"dedup record counts {d['dedup']['flows']} flows, "
                                f"{len(members)} flows have its key")
            clients = {r["src_ip"] for r in members}
            if d["dedup"]["clients_exact"] and len(clients) != d["dedup"]["clients"]:
                problems.append(f"dedup record counts {d['dedup']['clients']} clients, "
                                f"the flows have {len(clients)}")
    for r in repeats:
        if group_key(r) not in keys:
            problems.append(f"repeat flow {r['flow_id']} with no alert of its key")
    return problems


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--offport", required=True)
    ap.add_argument("--update", metavar="NAME")
    a = ap.parse_args()
    a.offport = str(pathlib.Path(a.offport).resolve())
    cases = load_cases()
    passed = failed = 0
    names = {c[0] for c in cases}
    if a.update and a.update != "all" and a.update not in names:
        sys.exit(f"no case named {a.update}")
    for name, capture, want_exit, args in cases:
        code, out, err = run(a.offport, capture, args)
        exp_path = HERE / "expected" / f"{name}.jsonl"
        problems = []
        if code != want_exit:
            problems.append(f"exit status {code}, want {want_exit}; stderr: {err.strip()}")
        try:
            records = [json.loads(line) for line in out.splitlines()]
        except json.JSONDecodeError as e:
            records = []
            problems.append(f"output is not JSON lines: {e}")
        if records:
            problems += check_accounting(records)
        if a.update in (name, "all") and not problems:
            exp_path.write_text(out)
            print(f"updated {exp_path.relative_to(TESTS)}")
        elif not exp_path.exists():
            problems.append(f"no expected output {exp_path.relative_to(TESTS)} "
                            f"(run with --update {name})")
        else:
            want = [json.loads(line) for line in exp_path.read_text().splitlines()]
            if [list(r.items()) for r in records] != [list(r.items()) for r in want]:
                for i, (g, w) in enumerate(zip(records, want)):
                    if g != w or list(g) != list(w):
                        problems.append(f"record {i + 1} differs:\n  got  {json.dumps(g)}\n"
                                        f"  want {json.dumps(w)}")
                        break
                else:
                    problems.append(f"{len(records)} records, want {len(want)}")
        if problems:
            failed += 1
            print(f"FAIL {name}:")
            for p in problems:
                print(f"  {p}")
        else:
            passed += 1
    print(f"golden: {passed} passed, {failed} failed")
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main())
