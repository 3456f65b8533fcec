#!/usr/bin/env python3
"""Identification accuracy against nDPI's labels on nDPI's own captures.

Runs offport over every capture of the shared corpus, joins each TCP/UDP
flow with flows.tsv (by protocol and both endpoints), maps nDPI's label to
offport's protocol name, and prints, per protocol offport identifies:
the flows nDPI labelled by payload (confidence DPI), how many offport names
the same, and what it said instead. nDPI is a peer, not the truth: the
disagreements are listed so that each class can be read in the bytes.

    python3 bench/accuracy.py --offport build/release/offport [--corpus DIR]
                              [--details FILE]

The corpus is $OFFPORT_CORPUS or ../shared/corpus/ndpi beside the repository.
"""
import argparse
import collections
import concurrent.futures
import csv
import importlib.util
import json
import os
import pathlib
import re
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[1]

# nDPI master protocol (the part before the dot of ndpi_proto) -> offport.
NDPI_TO_OFFPORT = {
    "TLS": "tls", "DTLS": "dtls", "QUIC": "quic", "HTTP": "http", "HTTP_Proxy": "http",
    "HTTP_Connect": "http", "SSH": "ssh", "DNS": "dns", "MDNS": "dns", "LLMNR": "dns",
    "SMTP": "smtp", "SMTPS": "tls", "POP3": "pop3", "POPS": "tls", "IMAP": "imap",
    "IMAPS": "tls", "FTP_CONTROL": "ftp", "FTPS": "tls", "IRC": "irc", "RDP": "rdp",
    "VNC": "rfb", "MQTT": "mqtt", "Redis": "redis", "SOCKS": "socks5", "SMBv1": "smb",
    "SMBv23": "smb", "NTP": "ntp", "SIP": "sip", "OpenVPN": "openvpn", "XMPP": "xmpp",
    "Jabber": "xmpp", "LDAP": "ldap", "RESP": "redis", "HTTP2": "http2",
    "SNMP": "snmp", "Syslog": "syslog", "DHCP": "dhcp", "STUN": "stun",
    "WireGuard": "wireguard", "TFTP": "tftp", "Kerberos": "kerberos", "IPSec": "ike",
    "NetBIOS": "netbios", "MySQL": "mysql", "PostgreSQL": "postgresql", "MsSQL-TDS": "tds",
    "MongoDB": "mongodb", "Kafka": "kafka", "AMQP": "amqp", "Git": "git", "Nats": "nats",
    "RTSP": "rtsp", "Memcached": "memcached", "Telnet": "telnet", "Modbus": "modbus",
    "DNP3": "dnp3", "S7Comm": "s7comm", "S7CommPlus": "s7comm", "BACnet": "bacnet",
    "COAP": "coap", "PPTP": "pptp", "NFS": "sunrpc", "DCERPC": "dcerpc",
    "BitTorrent": "bittorrent", "WhatsApp": "whatsapp",
    "Service_Location_Protocol": "slp", "SSDP": "ssdp", "Radius": "radius",
    "DHCPV6": "dhcpv6", "RTP": "rtp", "RTCP": "rtcp", "DNScrypt": "dnscrypt",
    "RMCP": "ipmi", "BGP": "bgp", "Zabbix": "zabbix", "BITCOIN": "bitcoin",
    "Mining": "stratum", "Tor": "tor", "WebSocket": "websocket", "Gnutella": "gnutella",
}


def _corpus_run():
    """tests/corpus/run.py, which joins offport's flows with flows.tsv the
    same way (loaded by path: tests/golden has a run.py too)."""
    spec = importlib.util.spec_from_file_location("corpus_run",
                                                  REPO / "tests" / "corpus" / "run.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


norm_ep = _corpus_run().norm_ep


def ndpi_name(row):
    """offport's name for nDPI's label, or None when offport has no such
    protocol. The master protocol decides (TLS.Google is tls)."""
    master = row["master"] or row["ndpi_proto"].split(".")[0]
    if master == "NetBIOS" and row["app"] in ("SMBv1", "SMBv23") and row["l4"] == "TCP":
        return "smb"  # SMB over the NetBIOS session service: the bytes are SMB
    return NDPI_TO_OFFPORT.get(master)


def pick(flows):
    """Of the offport flows on one conversation (a refused connection and
    its retry from the same port), the first that carried payload."""
    return next((f for f in flows if f["app_proto"] != "none"), flows[0])


def run(offport, path):
    p = subprocess.run([offport, "--json", "-r", str(path)], capture_output=True, timeout=300)
    flows = {}
    for line in p.stdout.decode("utf-8", "replace").splitlines():
        r = json.loads(line)
        if r.get("event_type") == "flow":
            key = (r["proto"], frozenset([(r["src_ip"], r["src_port"]),
                                          (r["dest_ip"], r["dest_port"])]),
                   str((r.get("vlan") or [""])[-1]))
            flows.setdefault(key, []).append(r)
    return path.name, flows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--offport", required=True)
    ap.add_argument("--corpus", default=os.environ.get("OFFPORT_CORPUS",
                                                      str(REPO.parent / "shared/corpus/ndpi")))
    ap.add_argument("--details", help="write every disagreement here")
    ap.add_argument("--check", metavar="PINS",
                    help="fail (exit 1) unless every disagreement on a nDPI DPI label is "
                         "listed in PINS with offport's answer and a class, and every "
                         "listed one still happens (tests/corpus/accuracy_pins.tsv)")
    a = ap.parse_args()
    corpus = pathlib.Path(a.corpus)
    if not (corpus / "flows.tsv").exists():
        print(f"accuracy: no corpus at {corpus}, skipped")
        return 77
    lp = subprocess.run([a.offport, "--list-protocols"], capture_output=True, text=True, check=True)
    supported = {line.split()[0] for line in lp.stdout.splitlines()[1:] if line.strip()}
    # Answers that agree with a label besides the label's own name: a
    # passenger for its carrier (tor is TLS, websocket is HTTP: nDPI names
    # the carrier), and SOCKS 4 for nDPI's single SOCKS label (the version
    # byte decides; nDPI does not split them).
    also_agree = collections.defaultdict(set)
    for line in lp.stdout.splitlines()[1:]:
        m = re.search(r"inside (\w+)", line)
        if m:
            also_agree[m.group(1)].add(line.split()[0])
    also_agree["socks5"].add("socks4")
    rows = collections.defaultdict(list)
    with open(corpus / "flows.tsv", newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            if row["l4"] in ("TCP", "UDP"):
                rows[row["file"]].append(row)
    caps = sorted(p for p in (corpus / "pcap").iterdir() if p.suffix in (".pcap", ".pcapng"))
    with concurrent.futures.ThreadPoolExecutor(os.cpu_count() or 2) as ex:
        results = dict(ex.map(lambda p: run(a.offport, p), caps))

    total = collections.Counter()
    agree = collections.Counter()
    instead = collections.defaultdict(collections.Counter)
    details = []
    disagreements = {}
    want_of = {}
    for name, flows in results.items():
        for row in rows.get(name, []):
            want = ndpi_name(row)
            if want not in supported or row["confidence"] != "DPI":
                continue
            key = (row["l4"], frozenset([norm_ep(row["client"]), norm_ep(row["server"])]),
                   row["vlan"].split(",")[-1].strip())
            ours = flows.get(key)
            got = pick(ours)["app_proto"] if ours else "(no flow)"
            total[want] += 1
            if got == want or got in also_agree.get(want, ()):
                agree[want] += 1
            else:
                instead[want][got] += 1
                disagreements[(name, row["l4"], row["client"], row["server"])] = got
                want_of[(name, row["l4"], row["client"], row["server"])] = want
                details.append(f"{name}\t{row['l4']}\t{row['client']}\t{row['server']}\t"
                               f"ndpi={row['ndpi_proto']}\toffport={got}")
    # Disagreements whose pinned class says the bytes side with offport
    # (nDPI wrong, malformed bytes offport refuses, a documented naming
    # choice): "bytes" counts them with the agreements.
    pins = load_pins(pathlib.Path(a.check or REPO / "tests/corpus/accuracy_pins.tsv"))
    justified = collections.Counter()
    for key, got in disagreements.items():
        pin = pins.get(key)
        if pin and pin[0] == got and pin[1].split(":")[0] in ("ndpi-wrong", "malformed",
                                                              "design"):
            justified[want_of[key]] += 1
    print(f"{'protocol':10} {'nDPI DPI':>8} {'agree':>6} {'%':>6} {'bytes%':>7}  "
          "offport said instead")
    all_t = all_a = all_j = 0
    for proto in sorted(total, key=lambda p: -total[p]):
        t, g, j = total[proto], agree[proto], justified[proto]
        all_t += t
        all_a += g
        all_j += j
        other = ", ".join(f"{k} {v}" for k, v in instead[proto].most_common(4))
        print(f"{proto:10} {t:8} {g:6} {100.0 * g / t:6.1f} {100.0 * (g + j) / t:7.1f}  {other}")
    print(f"{'all':10} {all_t:8} {all_a:6} {100.0 * all_a / max(all_t, 1):6.1f} "
          f"{100.0 * (all_a + all_j) / max(all_t, 1):7.1f}")
    compare_findings(a.offport, rows, results, details)
    if a.details:
        pathlib.Path(a.details).write_text("\n".join(sorted(details)) + "\n")
    if a.check:
        return check_pins(pathlib.Path(a.check), disagreements)
    return 0


def load_pins(path):
    """{(file, l4, client, server): (offport's answer, class)}."""
    pins = {}
    if not path.exists():
        return pins
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        f = line.split("\t")
        if len(f) != 6:
            sys.exit(f"{path}:{n}: want 6 tab-separated fields "
                     "(file, l4, client, server, offport, class)")
        pins[tuple(f[:4])] = (f[4], f[5])
    return pins


def check_pins(path, disagreements):
    """Every disagreement is pinned with offport's answer and its class
    (docs/accuracy.md explains each class); every pin still disagrees."""
    pins = load_pins(path)
    bad = 0
    for key, got in sorted(disagreements.items()):
        pin = pins.get(key)
        if pin is None or pin[0] != got:
            bad += 1
            print("FAIL not pinned: " + "\t".join(key) + f"\t{got}"
                  + (f" (pinned {pin[0]})" if pin else ""))
    for key, (got, cls) in sorted(pins.items()):
        if key not in disagreements:
            bad += 1
            print("FAIL pinned but now agrees (remove it): " + "\t".join(key) + f"\t{cls}")
    classes = collections.Counter(cls for _, cls in pins.values())
    print(f"accuracy pins: {len(pins)} disagreements in {len(classes)} classes, {bad} problems")
    return 1 if bad else 0


def registry(offport):
    """offport's ports registry: {(l4, port): set of names}, and the
    protocols accepted anywhere per l4 ("tcp/any")."""
    out = subprocess.run([offport, "--list-ports"], capture_output=True, text=True,
                         check=True).stdout
    ports, anywhere = {}, {"TCP": set(), "UDP": set()}
    for line in out.splitlines():
        spec, *names = line.split()
        l4, _, rng = spec.partition("/")
        l4 = l4.upper()
        if rng == "any":
            anywhere[l4] |= set(names)
            continue
        lo, _, hi = rng.partition("-")
        for port in range(int(lo), int(hi or lo) + 1):
            ports[(l4, port)] = set(names)
    return ports, anywhere


def difference_reason(row, flow, ports, anywhere):
    """Why nDPI's Known-Proto-on-Non-Std-Port flag and offport's finding
    differ on one flow, from the two tools' own data."""
    l4 = row["l4"]
    port = int(row["server_port"]) if row["server_port"].isdigit() else None
    want = ndpi_name(row)
    if flow is None:
        return "no offport flow for nDPI's flow (see tests/corpus/tuple_differences.tsv)"
    got = flow["app_proto"]
    o = flow.get("offport", {})
    finding = o.get("finding")
    # offport judges the port the flow was sent to; nDPI sometimes the other side
    oport = flow["dest_port"]
    entry = ports.get((l4, oport))
    if row["non_std_port"] == "1":
        if port != oport:
            return f"the two tools picked different server sides ({port} vs {oport})"
        if got in ("unknown", "none"):
            pc = o.get("payload_class")
            if want is not None and got == "unknown":
                what = f"offport did not recognise this {want} flow"
            else:
                what = f"offport does not identify nDPI's {row['ndpi_proto'].split('.')[0]}"
            if got == "none":
                return "no payload in offport's flow"
            if entry is None:
                return f"{what}: unidentified bytes on a port without an entry are no finding"
            if pc in ("text", "structured"):
                return f"{what}: {pc} payload on a listed port is no finding (not yet known)"
            return f"{what}: seen without its start (mid-stream)"
        if entry and got in entry:
            return f"offport's registry expects {got} on {l4.lower()}/{oport}"
        if entry is None and got in anywhere[l4]:
            return f"{got} chooses its ports ({l4.lower()}/any)"
        if want and got != want:
            return f"offport identified {got}, nDPI {row['ndpi_proto']}"
        return "passenger accepted through its carrier"
    # offport reports, nDPI does not
    if row["confidence"] != "DPI":
        return (f"nDPI labelled the flow from the port ({row['confidence']}: "
                f"{row['ndpi_proto']}); offport's bytes: {got} ({finding})")
    if want is None:
        return (f"nDPI's {row['ndpi_proto']} is not an offport protocol; offport: {got} "
                f"({finding})")
    if want != got:
        return f"offport identified {got}, nDPI {row['ndpi_proto']} ({finding})"
    # flows.tsv names nDPI's default ports only on flagged flows: here nDPI
    # either has none for the protocol or counts this port among them
    return (f"same protocol, nDPI raises no risk for {row['ndpi_proto']} on "
            f"{l4.lower()}/{oport}; offport's registry there: "
            f"{' '.join(sorted(entry)) if entry else 'no entry'} ({finding})")


def compare_findings(offport, rows, results, details):
    """nDPI's Known Proto on Non Std Port against offport's findings, flow by
    flow, with a reason for every difference."""
    ports, anywhere = registry(offport)
    both = only_ndpi = only_offport = neither = 0
    reasons = collections.Counter()
    for name, flows in results.items():
        for row in rows.get(name, []):
            key = (row["l4"], frozenset([norm_ep(row["client"]), norm_ep(row["server"])]),
                   row["vlan"].split(",")[-1].strip())
            ours = flows.get(key)
            flow = pick(ours) if ours else None
            n = row["non_std_port"] == "1"
            o = bool(flow and flow.get("offport", {}).get("finding"))
            if n and o:
                both += 1
            elif not n and not o:
                neither += 1
            else:
                if n:
                    only_ndpi += 1
                else:
                    only_offport += 1
                why = difference_reason(row, flow, ports, anywhere)
                side = "nDPI only" if n else "offport only"
                reasons[(side, why)] += 1
                details.append(f"{name}\t{row['l4']}\t{row['client']}\t{row['server']}\t"
                               f"ndpi={row['ndpi_proto']}\t{side}\t{why}")
    print()
    print("T1571: nDPI's 'Known Proto on Non Std Port' against offport's findings, per flow")
    print(f"  both {both}, neither {neither}, nDPI only {only_ndpi}, offport only {only_offport}")
    for (side, why), c in sorted(reasons.items(), key=lambda kv: (kv[0][0], -kv[1])):
        print(f"  {side:12} {c:5}  {why}")


if __name__ == "__main__":
    sys.exit(main())
