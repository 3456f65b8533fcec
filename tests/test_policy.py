#!/usr/bin/env python3
"""test_policy.py - the site policy, explanations, --check-policy, SIGHUP
reloads and deduplication, end to end, on captures of real servers
(tests/e2e/captures: nginx, OpenSSH, dnsmasq, redis, xrdp, mosquitto and
the custom protocols, client 10.231.0.1 or fd31::1, server 10.231.0.2 or
fd31::2) and on copies of them with rewritten clients and times.

    tests/test_policy.py --offport build/release/offport

Every rule key is exercised both ways (the flow silenced or kept, or an
alert forced or not), the alert and flow records must name the rule that
decided, every example of etc/policy.conf must validate, and the counts of
deduplication must be exactly those of the flows made.
"""
import argparse
import json
import os
import pathlib
import re
import signal
import struct
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
from checklib import check, summary  # noqa: E402
sys.path.insert(0, str(HERE / "captures"))
from derive import csum  # noqa: E402  (the Internet checksum)

CAPS = HERE / "e2e" / "captures"
OFFPORT = None
WORK = None


def cap(name):
    return str(CAPS / f"{name}.pcap")


def policy_file(text, name="site.conf"):
    p = WORK / name
    p.write_text(text)
    return str(p)


def run(args, stdin=None, timeout=60):
    p = subprocess.run([OFFPORT, *args], input=stdin, capture_output=True, timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def records(args, **kw):
    code, out, err = run(["--json", *args], **kw)
    recs = [json.loads(line) for line in out.splitlines()]
    return code, recs, err


def alerts(recs):
    return [r for r in recs if r["event_type"] == "alert"]


def flows(recs):
    return [r for r in recs if r["event_type"] == "flow"]


def stats(recs):
    return recs[-1]["stats"]


def with_policy(text, captures, *extra):
    """Runs the captures under a policy; returns (exit, records, stderr)."""
    p = policy_file("default registry\n" + text if "default " not in text else text)
    args = ["--policy", p, *extra]
    for c in captures:
        args += ["-r", c]
    return records(args)


def silenced(rule, capture, what):
    """Without the policy the capture alerts; with `rule` it does not, and
    its flow record names the rule."""
    code0, base, _ = records(["-r", cap(capture)])
    code, recs, err = with_policy(rule + " name=r1\n", [cap(capture)])
    fl = [f for f in flows(recs) if f["offport"].get("decided_by") == "policy"]
    check(code0 == 0 and len(alerts(base)) == 1 and code == 0 and not alerts(recs) and
          len(fl) == 1 and fl[0]["offport"]["rule"] == "r1" and "finding" not in fl[0]["offport"],
          f"{what}: '{rule.splitlines()[-1]}' allows {capture}",
          f"exit {code} {err.strip()}; alerts {len(alerts(recs))}; flows {flows(recs)}")


def kept(rule, capture, what):
    """The rule does not match: the registry's alert stands, and says so."""
    code, recs, err = with_policy(rule + " name=r1\n", [cap(capture)])
    al = alerts(recs)
    check(code == 0 and len(al) == 1 and al[0]["offport"]["decided_by"] == "registry" and
          al[0]["offport"]["rule"] == f"{al[0]['offport']['transport']}/{al[0]['dest_port']}" and
          "rule_location" not in al[0]["offport"],
          f"{what}: '{rule.splitlines()[-1]}' does not match {capture}, the registry's alert "
          "stands",
          f"exit {code} {err.strip()}; alerts {al}")


def check_rule_kinds():
    # proto and port
    silenced("allow proto=ssh port=tcp/443", "ssh_443", "proto+port")
    kept("allow proto=tls port=tcp/443", "ssh_443", "proto+port")
    kept("allow proto=ssh port=udp/443", "ssh_443", "port transport")
    silenced("allow proto=rdp port=28000-28999", "rdp_28035", "port range")
    kept("allow proto=rdp port=28036-28999", "rdp_28035", "port range")
    silenced("allow port=tcp/any proto=mqtt", "mqtt_4444", "tcp/any")
    kept("allow port=udp/any proto=mqtt", "mqtt_4444", "udp/any")
    # transport
    silenced("allow transport=udp proto=dns", "dns_5300", "transport")
    kept("allow transport=tcp proto=dns", "dns_5300", "transport")
    # unknown
    silenced("allow proto=unknown port=tcp/443", "custom_443", "unknown")
    silenced("allow proto=unknown transport=udp", "custom_udp_53", "unknown over udp")
    kept("allow proto=unknown transport=tcp", "custom_udp_53", "unknown over tcp only")
    kept("allow proto=any port=tcp/80", "custom_443", "any on another port")
    silenced("allow proto=any", "custom_443", "any")
    # negation
    silenced("allow proto=!tls port=tcp/443", "redis_443", "negated proto")
    kept("allow proto=!redis port=tcp/443", "redis_443", "negated proto")
    # server and client, IPv4 and IPv6, sets
    silenced("allow proto=tls port=tcp/8088 server=10.231.0.0/24", "tls_8088", "server CIDR")
    kept("allow proto=tls port=tcp/8088 server=10.9.0.0/16", "tls_8088", "server CIDR")
    silenced("allow client=10.231.0.1", "tls_8088", "client address")
    kept("allow client=!10.231.0.1", "tls_8088", "negated client")
    silenced("allow server=fd31::/64 proto=http", "ipv6_http_1224", "IPv6 server CIDR")
    kept("allow server=10.231.0.0/24 proto=http", "ipv6_http_1224", "IPv4 CIDR on IPv6")
    kept("allow server=fd31::/64", "http_1224", "IPv6 CIDR on IPv4")
    silenced("set a 10.231.0.2\nset b $a, 192.0.2.0/24\nallow server=$b proto=http",
             "http_1224", "set of sets")
    kept("set a 10.231.0.3\nset b $a, 192.0.2.0/24\nallow server=$b proto=http",
         "http_1224", "set of sets")
    # direction, the four ways
    for home, direction in (("10.231.0.2/32", "inbound"), ("10.231.0.1/32", "outbound"),
                            ("10.231.0.0/24", "internal"), ("192.0.2.0/24", "external")):
        silenced(f"set home {home}\nallow direction={direction} proto=ssh", "ssh_443",
                 f"direction {direction}")
        other = "external" if direction != "external" else "internal"
        kept(f"set home {home}\nallow direction={other} proto=ssh", "ssh_443",
             f"direction {direction} is not {other}")
    # TLS SNI and HTTP Host
    silenced("allow sni=e2e.offport.test", "tls_8088", "sni exact")
    silenced("allow sni=E2E.Offport.Test", "tls_8088", "sni case")
    silenced("allow sni=*.offport.test", "tls_8088", "sni suffix")
    kept("allow sni=*.e2e.offport.test", "tls_8088", "sni suffix is not the name itself")
    kept("allow sni=offport.test", "tls_8088", "sni exact is not a suffix")
    kept("allow sni=e2e.offport.test", "http_1224", "sni on a flow without one")
    silenced("allow host=10.231.0.2", "http_1224", "host without its port")
    silenced("allow host=[fd31::2]", "ipv6_http_1224", "IPv6 host literal")
    kept("allow host=10.231.0.3", "http_1224", "host")


def check_alerts_and_defaults():
    pol = "alert proto=tls port=tcp/443 severity=high name=force-tls\n"
    code, recs, _ = with_policy(pol, [cap("https_443")])
    al = alerts(recs)
    ok = code == 0 and len(al) == 1
    a = al[0] if ok else {}
    check(ok and a["alert"]["signature_id"] == 9157105 and a["offport"]["reason"] == "policy" and
          a["alert"]["severity"] == 1 and a["offport"]["decided_by"] == "policy" and
          a["offport"]["rule"] == "force-tls" and
          a["offport"]["rule_location"].endswith("site.conf:2") and
          "site policy" in a["alert"]["signature"],
          "an alert rule raises a 'policy' alert where the registry is quiet, named, located",
          json.dumps(al))
    st = stats(recs)["detection"]["policy"] if recs else {}
    check(st.get("alerted") == 1 and st.get("alerted_beyond_registry") == 1 and
          st.get("rules") == 1 and st.get("default") == "registry",
          "stats.detection.policy counts the forced alert", json.dumps(st))

    code, recs, _ = with_policy("alert proto=ssh severity=3 name=sev\n", [cap("ssh_443")])
    al = alerts(recs)
    check(len(al) == 1 and al[0]["offport"]["reason"] == "unexpected" and
          al[0]["alert"]["severity"] == 3 and al[0]["offport"]["rule"] == "sev",
          "an alert rule on a registry finding keeps its kind and sets its severity",
          json.dumps(al))

    code, recs, _ = with_policy("alert proto=ssh\n", [cap("ssh_6789")])
    al = alerts(recs)
    check(len(al) == 1 and al[0]["offport"]["rule"].endswith("site.conf:2") and
          al[0]["offport"]["rule"] == al[0]["offport"]["rule_location"],
          "an unnamed rule is named by FILE:LINE", json.dumps(al))

    # first match wins
    caps = [cap("ssh_443")]
    _, r1, _ = with_policy("allow proto=ssh name=a\nalert proto=ssh severity=1 name=b\n", caps)
    _, r2, _ = with_policy("alert proto=ssh severity=1 name=b\nallow proto=ssh name=a\n", caps)
    check(not alerts(r1) and len(alerts(r2)) == 1 and alerts(r2)[0]["offport"]["rule"] == "b",
          "the first matching rule decides")

    # defaults
    normal = [cap(c) for c in ("http_80", "https_443", "ssh_22", "dns_53", "smtp_25")]
    odd = [cap(c) for c in ("ssh_443", "tls_8088", "http_1224", "custom_443")]
    code, recs, _ = with_policy("default allow\nalert proto=http port=tcp/1224 name=h\n",
                                normal + odd)
    al = alerts(recs)
    check(code == 0 and [a["offport"]["rule"] for a in al] == ["h"],
          "default allow: only alert rules report", json.dumps([a["offport"] for a in al]))
    allow_list = ("default alert\n"
                  "allow proto=http port=tcp/80 name=web\n"
                  "allow proto=tls port=tcp/443 name=tls\n"
                  "allow proto=ssh port=tcp/22 name=ssh\n"
                  "allow proto=dns port=53 name=dns\n"
                  "allow proto=smtp port=tcp/25 name=smtp\n")
    code, recs, _ = with_policy(allow_list, normal + odd)
    al = alerts(recs)
    fl = flows(recs)
    allowed = sorted(f["offport"].get("rule", "") for f in fl if "finding" not in f["offport"])
    check(code == 0 and len(al) == len(odd) and
          all(a["offport"]["rule"] == "default" and a["offport"]["decided_by"] == "policy"
              for a in al) and
          sorted(a["dest_port"] for a in al) == [443, 443, 1224, 8088] and
          allowed == ["dns", "dns", "smtp", "ssh", "tls", "web"],
          "default alert: a strict allow-list, everything not allowed alerts, named 'default'",
          json.dumps([(a["dest_port"], a["offport"].get("rule")) for a in al]))
    kinds = sorted(a["offport"]["reason"] for a in al)
    check(kinds == ["off-port", "unexpected", "unexpected", "unknown"],
          "default alert keeps the registry's kinds for registry findings", str(kinds))
    # a flow without payload is never judged, even under default alert
    syn = flow_copies(cap("ssh_443"), [(0, "10.231.0.1", 40000)], syn_only=True)
    code, recs, _ = with_policy("default alert\n", [syn])
    check(code == 0 and not alerts(recs) and len(flows(recs)) == 1 and
          flows(recs)[0]["app_proto"] == "none",
          "a flow without payload is no finding under default alert")


def check_explain():
    p = policy_file("default registry\nset sslh 10.231.0.2\n"
                    "allow proto=ssh port=tcp/443 server=$sslh name=sslh\n")
    code, out, err = run(["--explain", "--policy", p, "-r", cap("ssh_443"), "-r",
                          cap("tls_8088"), "-r", cap("https_443")])
    lines = [l for l in out.splitlines() if " [explain] " in l]
    check(code == 0 and len(lines) == 3, "--explain: one line per flow", out)
    by_port = {re.search(r"-> \S+:(\d+) (\S+)", l).expand(r"\1 \2"): l for l in lines}
    by_port = {"443": by_port.get("443 ssh", ""), "8088": by_port.get("8088 tls", "")}
    check("policy rule sslh (" in by_port.get("443", "") and "allows it => no finding" in
          by_port.get("443", "") and "where the ports registry expects tls" in by_port.get("443", ""),
          "--explain names the rule that allowed a registry finding", by_port.get("443"))
    check("no policy rule matches" in by_port.get("8088", "") and
          "=> alert (unexpected)" in by_port.get("8088", ""),
          "--explain says no rule matched and the registry decided", by_port.get("8088"))
    code, recs, _ = records(["--explain", "-r", cap("https_443"), "-r", cap("custom_4782"),
                             "-r", cap("http_to_ssh_22")])
    ex = {f["dest_port"]: f["offport"].get("explanation", "") for f in flows(recs)}
    check("expects tls => no finding" in ex.get(443, "") and
          "not knowing a protocol is no evidence" in ex.get(4782, "") and
          all(f["offport"].get("decided_by") == "registry" for f in flows(recs)),
          "--explain in JSON: every flow record explains, decided_by registry", json.dumps(ex))
    code, recs, _ = records(["-r", cap("https_443")])
    check("decided_by" not in flows(recs)[0]["offport"] and
          "explanation" not in flows(recs)[0]["offport"],
          "without --explain a flow that is no finding carries no decision fields")


def check_check_policy():
    def cp(text, name="c.conf"):
        p = policy_file(text, name)
        return run(["--check-policy", p]) + (p,)

    code, out, err, p = cp("set home 10.0.0.0/8\ndefault registry\nallow proto=ssh port=tcp/443\n"
                           "alert proto=!tls port=tcp/443 direction=outbound\n")
    check(code == 0 and "valid: 2 rules, default registry" in out and "home network defined" in out,
          "--check-policy: a good file, exit 0", f"{code} {out} {err}")
    code, out, err, p = cp("default registry\nallow proto=any port=tcp/443 name=wide\n"
                           "alert proto=ssh port=tcp/443 severity=1 name=narrow\n"
                           "alert proto=http port=tcp/8080\n")
    check(code == 4 and re.search(r"c\.conf:3: rule 'narrow' can never match: the rule at "
                                  r"line 2 \('wide'\)", out) and out.count("can never match:") == 1,
          "--check-policy: a shadowed rule is named with the rule shadowing it, exit 4",
          f"{code} {out} {err}")
    code, out, err, p = cp("default registry\nallow proto=ssh transport=udp\n")
    check(code == 4 and "c.conf:2: rule can never match" in out,
          "--check-policy: a self-contradicting rule, exit 4", f"{code} {out} {err}")
    for text, line, msg in (
            ("default registry\nallow proto=htpp\n", 2, "unknown protocol 'htpp'"),
            ("allow proto=ssh\n", None, "no 'default' line"),
            ("default registry\ndrop proto=ssh\n", 2, "reserved"),
            ("default registry\nallow server=$nope\n", 2, "nope"),
            ("default registry\nallow direction=inbound\n", 2, "home"),
            ("default registry\nallow proto=ssh colour=red\n", 2, "colour"),
            ("default registry\nset x 10.0.0.1/8\n", 2, "host bits")):
        code, out, err, p = cp(text, "bad.conf")
        want = f"offport: {p}:{line}: " if line else f"offport: {p}: "
        check(code == 1 and err.startswith(want) and msg in err and not out,
              f"--check-policy rejects with FILE:LINE: {msg}", f"{code} {err.strip()}")
        code2, out2, err2 = run(["--policy", p, "-r", cap("ssh_443")])
        check(code2 == 1 and err2 == err and not out2,
              f"--policy refuses the same file before reading input ({msg})", err2.strip())

    # the policies of docs/policy.md are valid, and its error line is real
    guide = (REPO / "docs" / "policy.md").read_text()
    blocks = re.findall(r"```conf\n(.*?)```", guide, re.S)
    check(blocks, "docs/policy.md has example policies")
    for i, b in enumerate(blocks):
        code, out, err, p = cp(b, f"guide{i}.conf")
        check(code == 0, f"docs/policy.md example {i + 1} is valid, every rule can match",
              f"{code} {out} {err}")
    code, out, err, p = cp(blocks[0].replace("proto=unknown", "proto=htpp"), "site.conf")
    m = re.search(r"site\.conf:\d+: .*", err)
    check(code == 1 and m and "offport: " + m.group(0) in guide,
          "docs/policy.md quotes an error offport writes", err.strip())

    # the size limit: 16 MiB is allowed, a byte more is not
    big = "default registry\n" + "#" * 99 + "\n"
    body = big + ("# " + "x" * 97 + "\n") * (((16 << 20) - len(big)) // 100 - 1)
    body += "#" * ((16 << 20) - len(body) - 1) + "\n"
    code, out, err, p = cp(body, "big.conf")
    check(code == 0 and len(body) == 16 << 20, "a policy file of exactly 16 MiB loads", err)
    code, out, err, p = cp(body + "#", "big.conf")
    check(code == 1 and "larger than 16 MiB" in err, "a byte more is refused", err)

    # every example in etc/policy.conf, uncommented, is valid
    conf = (REPO / "etc" / "policy.conf").read_text()
    code, out, err = run(["--check-policy", str(REPO / "etc" / "policy.conf")])
    check(code == 0 and "valid: 0 rules, default registry" in out,
          "etc/policy.conf as shipped: valid, no rules", f"{code} {out} {err}")
    ex = [l[1:].strip() for l in conf.splitlines()
          if re.match(r"#\s+(set|allow|alert) ", l) and "..." not in l]
    sets = [l for l in ex if l.startswith("set ")]
    rules = [l for l in ex if not l.startswith("set ")]
    check(len(rules) >= 8, "etc/policy.conf has worked examples", str(len(rules)))
    for r in rules:
        code, out, err, p = cp("\n".join(sets) + "\ndefault registry\n" + r + "\n", "ex.conf")
        check(code == 0, f"etc/policy.conf example is valid: {r}", f"{code} {out} {err}")


# ---- captures made from the real ones --------------------------------------

def read_pcap(path):
    data = pathlib.Path(path).read_bytes()
    assert struct.unpack("<I", data[:4])[0] == 0xA1B2C3D4
    off, pkts = 24, []
    while off + 16 <= len(data):
        sec, usec, caplen, wirelen = struct.unpack("<IIII", data[off:off + 16])
        pkts.append([sec, usec, bytearray(data[off + 16:off + 16 + caplen])])
        off += 16 + caplen
    return data[:24], pkts


def rewrite(frame, client, cport, old_client, old_cport):
    """An Ethernet/IPv4/TCP frame with the client's address and port
    replaced (both directions), checksums recomputed."""
    ip = 14
    ihl = (frame[ip] & 15) * 4
    src, dst = bytes(frame[ip + 12:ip + 16]), bytes(frame[ip + 16:ip + 20])
    new = bytes(int(x) for x in client.split("."))
    if src == old_client:
        frame[ip + 12:ip + 16] = new
    if dst == old_client:
        frame[ip + 16:ip + 20] = new
    l4 = ip + ihl
    sp, dp = struct.unpack("!HH", frame[l4:l4 + 4])
    if sp == old_cport:
        frame[l4:l4 + 2] = struct.pack("!H", cport)
    if dp == old_cport:
        frame[l4 + 2:l4 + 4] = struct.pack("!H", cport)
    frame[ip + 10:ip + 12] = b"\0\0"
    frame[ip + 10:ip + 12] = struct.pack("!H", csum(bytes(frame[ip:ip + ihl])))
    total = struct.unpack("!H", frame[ip + 2:ip + 4])[0]
    seg = frame[l4:ip + total]
    ck = 16 if frame[ip + 9] == 6 else 6
    seg[ck:ck + 2] = b"\0\0"
    pseudo = frame[ip + 12:ip + 20] + struct.pack("!BBH", 0, frame[ip + 9], len(seg))
    seg[ck:ck + 2] = struct.pack("!H", csum(bytes(pseudo + seg)))
    frame[l4:ip + total] = seg
    return frame


def flow_copies(path, copies, syn_only=False, name=None, skip=0):
    """A capture of the one TCP flow in `path`, repeated: each copy
    (seconds later, client address, client port) in turn; skip: its first
    packets left out (a capture that began mid-connection)."""
    head, pkts = read_pcap(path)
    first = pkts[0][2]
    old_client = bytes(first[26:30])
    old_cport = struct.unpack("!H", first[34:36])[0]
    if syn_only:
        pkts = pkts[:1]
    pkts = pkts[skip:]
    out = bytearray(head)
    for later, client, cport in copies:
        for sec, usec, frame in pkts:
            f = rewrite(bytearray(frame), client, cport, old_client, old_cport)
            out += struct.pack("<IIII", sec + later, usec, len(f), len(f)) + f
    p = WORK / (name or f"copies_{len(list(WORK.iterdir()))}.pcap")
    p.write_bytes(bytes(out))
    return str(p)


def check_review_cases():
    """Deduplication across files read out of time order, a policy alert
    rule beside the registry's alert on the same server, and a capture
    that began mid-connection under default alert."""
    late = flow_copies(cap("http_1224"), [(10 ** 8, "10.231.0.1", 44000)], name="late.pcap")
    early = flow_copies(cap("http_1224"), [(7200 * i, "10.231.0.1", 44001 + i) for i in range(4)],
                        name="early.pcap")
    code, recs, _ = records(["-r", late, "-r", early])
    check(code == 0 and len(alerts(recs)) == 5 and stats(recs)["detection"]["dedup"]["repeats"] == 0,
          "dedup: a later file read first does not make findings hours apart repeats",
          f"{len(alerts(recs))} alerts")
    two = flow_copies(cap("tls_8088"), [(0, "10.231.0.1", 45000), (10, "10.231.0.9", 45001)],
                      name="two_clients.pcap")
    code, recs, _ = with_policy("alert client=10.231.0.9 severity=high name=ext\n", [two])
    al = alerts(recs)
    check(len(al) == 2 and sorted((a["alert"]["severity"], a["offport"]["rule"]) for a in al) ==
          [(1, "ext"), (2, "tcp/8088")],
          "dedup: a policy rule's alert is not hidden behind the registry's on the same server",
          json.dumps([(a["alert"]["severity"], a["offport"]["rule"]) for a in al]))
    mid = flow_copies(cap("custom_443"), [(0, "10.231.0.1", 46000)], name="mid.pcap", skip=3)
    code, base, _ = records(["-r", mid])
    code, recs, _ = with_policy("default alert\nalert proto=unknown name=u\n", [mid], "--explain")
    fl = flows(recs)
    check(not alerts(base) and not alerts(recs) and len(fl) == 1 and
          "does not judge it either" in fl[0]["offport"].get("explanation", ""),
          "the policy leaves unidentified bytes from mid-connection alone, as the registry does",
          json.dumps([f["offport"] for f in fl]))


def check_dedup():
    clients = ["10.231.0.1", "10.231.0.3", "10.231.0.4"]
    copies = [(10 * i, clients[i % 3], 41000 + i) for i in range(6)]
    c = flow_copies(cap("ssh_443"), copies, name="ssh_443_x6.pcap")
    code, recs, _ = records(["-r", c])
    al, dd = alerts(recs), [r for r in recs if r["event_type"] == "dedup"]
    rep = [f for f in flows(recs) if f["offport"].get("repeat")]
    ok = code == 0 and len(al) == 1 and len(dd) == 1
    d = dd[0]["dedup"] if dd else {}
    check(ok and d["flows"] == 6 and d["repeats"] == 5 and d["clients"] == 3 and
          d["clients_exact"] and dd[0]["flow_id"] == al[0]["flow_id"] and d["closed"] == "end" and
          d["reason"] == "unexpected" and len(rep) == 5 and
          d["first"] == al[0]["timestamp"],
          "dedup: six SSH-on-443 flows from three clients, one alert, one dedup record "
          "counting 6 flows, 5 repeats, 3 clients", json.dumps(dd))
    st = stats(recs)["detection"] if recs else {}
    check(st.get("dedup", {}).get("repeats") == 5 and st["findings"]["unexpected"] == 6 and
          st["alerts"]["unexpected"] == 1 and stats(recs)["accounting"]["complete"],
          "dedup: stats count 6 findings, 1 alert, 5 repeats", json.dumps(st.get("dedup")))
    code, recs, _ = records(["--no-dedup", "-r", c])
    check(len(alerts(recs)) == 6 and not [r for r in recs if r["event_type"] == "dedup"] and
          stats(recs)["detection"]["dedup"] == {"enabled": False},
          "--no-dedup: an alert per flow, no dedup record")
    code, recs, _ = records(["--dedup-window", "25", "-r", c])
    dd = [r["dedup"] for r in recs if r["event_type"] == "dedup"]
    check(len(alerts(recs)) == 2 and [(x["flows"], x["clients"], x["closed"]) for x in dd] ==
          [(3, 3, "window"), (3, 3, "end")],
          "--dedup-window 25 over flows 10 s apart: two groups of three",
          json.dumps(dd))
    code, out, _ = run(["-r", c])
    check(re.search(r"\[1:9157102:1\] repeats: 5 more ssh flows like the alert of .* 6 in all "
                    r"from 3 clients \{TCP\} -> 10\.231\.0\.2:443", out) and
          "alerts: 1 (and 5 repeats" in out,
          "dedup in text: a repeats line and the summary's count", out)
    # a different server is a different alert; an allowed flow is no repeat
    c2 = flow_copies(cap("tls_8088"), [(0, "10.231.0.1", 42000), (5, "10.231.0.5", 42001)],
                     name="tls_8088_x2.pcap")
    code, recs, _ = with_policy("allow client=10.231.0.5 name=trusted\n", [c2])
    check(len(alerts(recs)) == 1 and not [r for r in recs if r["event_type"] == "dedup"] and
          stats(recs)["detection"]["dedup"]["repeats"] == 0,
          "a flow the policy allows is not counted as a repeat")


# ---- SIGHUP ----------------------------------------------------------------

def wait_read(pid, nbytes, secs=20):
    """Waits until process pid has read nbytes and sleeps (blocked on its
    input): everything written so far has been processed."""
    end = time.time() + secs
    while time.time() < end:
        try:
            io = pathlib.Path(f"/proc/{pid}/io").read_text()
            st = pathlib.Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return False
        rchar = int(re.search(r"rchar: (\d+)", io).group(1))
        state = st.rsplit(")", 1)[1].split()[0]
        if rchar >= nbytes and state == "S":
            return True
        time.sleep(0.05)
    return False


def check_replaced():
    """A flow decided under a policy that four reloads have since pushed
    out of those kept names it as replaced, without a location; one
    decided under a policy still kept names its rule."""
    copies = [flow_copies(cap("ssh_443"), [(i, f"10.231.0.{i + 1}", 47000 + i)],
                          name=f"rep{i}.pcap") for i in range(6)]
    data = [pathlib.Path(x).read_bytes() for x in copies]
    pol = WORK / "rep.conf"
    pol.write_text("default registry\nalert proto=ssh name=gen1\n")
    p = subprocess.Popen([OFFPORT, "--json", "--no-dedup", "--timeout-tcp-closed", "100000",
                          "--policy", str(pol), "-r", "-"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    synced, sent = True, 0
    try:
        for i, d in enumerate(data[:5]):
            chunk = d if i == 0 else d[24:]
            p.stdin.write(chunk)
            p.stdin.flush()
            sent += len(chunk)
            synced &= wait_read(p.pid, sent)
            pol.write_text(f"default registry\nalert proto=ssh name=gen{i + 2}\n")
            p.send_signal(signal.SIGHUP)
            time.sleep(0.2)
        out, err = p.communicate(input=data[5][24:], timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    recs = [json.loads(l) for l in out.decode().splitlines()]
    fl = {f["src_port"]: f["offport"] for f in flows(recs)}
    first, last = fl.get(47000, {}), fl.get(47005, {})
    check(synced and p.returncode == 0 and stats(recs)["detection"]["policy"]["reloads"] == 5 and
          first.get("rule") == "(a policy since replaced)" and "rule_location" not in first and
          first.get("decided_by") == "policy" and last.get("rule") == "gen6" and
          fl.get(47002, {}).get("rule") == "gen3",
          "after five reloads, the first policy's flow names it as replaced, the kept ones "
          "their rules", json.dumps({k: v.get("rule") for k, v in fl.items()}))


def check_reload():
    a = flow_copies(cap("ssh_443"), [(0, "10.231.0.1", 43000)], name="hup_a.pcap")
    b = flow_copies(cap("ssh_443"), [(100, "10.231.0.3", 43001)], name="hup_b.pcap")
    c = flow_copies(cap("ssh_443"), [(200, "10.231.0.4", 43002)], name="hup_c.pcap")
    pa, pb, pc = (pathlib.Path(x).read_bytes() for x in (a, b, c))
    pol = WORK / "hup.conf"
    pol.write_text("default registry\nalert proto=ssh severity=1 name=first\n")
    p = subprocess.Popen([OFFPORT, "--json", "--no-dedup", "--policy", str(pol), "-r", "-"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        p.stdin.write(pa)
        p.stdin.flush()
        ok1 = wait_read(p.pid, len(pa))
        pol.write_text("default registry\nalert proto=ssh severity=2 name=second\n")
        p.send_signal(signal.SIGHUP)
        time.sleep(0.2)
        p.stdin.write(pb[24:])
        p.stdin.flush()
        ok2 = wait_read(p.pid, len(pa) + len(pb) - 24)
        pol.write_text("default registry\nalert proto=htpp\n")  # broken
        p.send_signal(signal.SIGHUP)
        time.sleep(0.2)
        out, err = p.communicate(input=pc[24:], timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    recs = [json.loads(l) for l in out.decode().splitlines()]
    err = err.decode()
    rules = [a["offport"]["rule"] for a in alerts(recs)]
    check(ok1 and ok2 and p.returncode == 0 and rules == ["first", "second", "second"],
          "SIGHUP reloads the policy between flows; a broken file keeps the one in force",
          f"synced {ok1} {ok2}, exit {p.returncode}, rules {rules}, stderr {err}")
    st = stats(recs)["detection"]["policy"] if recs else {}
    check(st.get("reloads") == 1 and st.get("reload_failures") == 1 and
          stats(recs)["packets"] == 3 * (len(read_pcap(a)[1])) and
          stats(recs)["inputs"]["damaged"] == 0,
          "reloads counted; every packet read (the interrupted read resumed)", json.dumps(st))
    check("SIGHUP: policy reloaded from" in err and
          re.search(r"SIGHUP: \S*hup\.conf:2: unknown protocol 'htpp'.*policy in force is kept",
                    err),
          "SIGHUP says what it did, and why a reload failed with FILE:LINE", err)
    fl = {f["src_port"]: f["offport"].get("rule") for f in flows(recs)}
    check(fl == {43000: "first", 43001: "second", 43002: "second"},
          "flow records name the rule of the policy they were decided under", json.dumps(fl))
    # without --policy: a message, nothing else
    p = subprocess.Popen([OFFPORT, "-r", "-"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    p.stdin.write(pa)
    p.stdin.flush()
    wait_read(p.pid, len(pa))
    p.send_signal(signal.SIGHUP)
    time.sleep(0.2)
    out, err = p.communicate(input=pb[24:], timeout=30)
    check(p.returncode == 0 and b"no --policy file to reload" in err and b"alerts: 1 (and 1 repeats" in out,
          "SIGHUP without --policy: said, not fatal", err.decode())


def check_evidence_lists():
    """policy.c's lists of the protocols that carry an SNI or an HTTP Host
    (--check-policy's contradictions) follow the identifiers."""
    src = (REPO / "src" / "verdict" / "policy.c").read_text()
    lists = {}
    for key in ("sni", "host"):
        m = re.search(key + r"_protos\[\] = \{([^}]*)\}", src)
        lists[key] = set(re.findall(r'"(\w+)"', m.group(1))) if m else set()
    for f in sorted((REPO / "src" / "identify").glob("proto_*.c")):
        text, name = f.read_text(), f.stem[len("proto_"):]
        if '"sni"' in text:
            check(name in lists["sni"], f"policy.c lists {name} among the protocols with an SNI")
        if '"http_host"' in text:
            check(name in lists["host"], f"policy.c lists {name} among those with an HTTP Host")


def main():
    global OFFPORT, WORK
    ap = argparse.ArgumentParser()
    ap.add_argument("--offport", required=True)
    a = ap.parse_args()
    OFFPORT = str(pathlib.Path(a.offport).resolve())
    with tempfile.TemporaryDirectory(prefix="offport-policy-") as d:
        WORK = pathlib.Path(d)
        check_rule_kinds()
        check_evidence_lists()
        check_alerts_and_defaults()
        check_explain()
        check_check_policy()
        check_dedup()
        check_review_cases()
        check_reload()
        check_replaced()
    return summary("policy")


if __name__ == "__main__":
    sys.exit(main())
