#!/usr/bin/env python3
"""test_output_safety.py - hostile strings in, safe records out.

    tests/test_output_safety.py --offport PATH

Writes a capture (in a temporary directory) of connections on ports their
protocols do not belong to, each carrying attacker-chosen strings where
offport takes evidence from: a TLS SNI, an HTTP request line, Host and
User-Agent, an HTTP Server header, SSH version lines, an SMTP banner. The
strings hold control characters (NUL, BEL, ESC sequences that would drive
a terminal, CR without LF), quotes and backslashes, invalid UTF-8 (lone
continuation bytes, truncated and overlong sequences, surrogates, 0xFF),
valid multi-byte UTF-8, and lengths far beyond the evidence bound.

Checks, on --json output parsed by Python's json module:
- every line is valid UTF-8 without a raw control character, and one JSON
  object (strict: no NaN, no duplicate keys);
- every evidence value is the source bytes as output/json.c promises
  (docs/output.md, String escaping): valid UTF-8 passes, every other byte
  becomes U+00XX, at most 256 source bytes (IDENT_VALUE_MAX);
- each hostile string reached its alert (the test is not vacuous);
and on the text output: printable ASCII and newlines only.
"""
import argparse
import json
import pathlib
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from checklib import check, summary  # noqa: E402

VALUE_MAX = 256


# ---- capture writing (Ethernet, IPv4, TCP; checksums left zero: offport
# does not verify them) --------------------------------------------------

class Capture:
    def __init__(self):
        self.recs = []
        self.ts = 1_800_000_000 * 1_000_000

    def frame(self, src, dst, sport, dport, seq, ack, flags, payload=b""):
        tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                          5 << 4, flags, 65535, 0, 0) + payload
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0x4000, 64, 6, 0,
                         bytes(src), bytes(dst)) + tcp
        eth = b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00"
        self.ts += 1000
        fr = eth + ip
        self.recs.append(struct.pack("<IIII", self.ts // 1000000, self.ts % 1000000, len(fr),
                                     len(fr)) + fr)

    def conn(self, n, port, client_msgs, server_msgs, server_first=False):
        """A whole connection: handshake, messages alternating, FINs."""
        c, s, cp = (10, 0, 0, n), (10, 0, 1, n), 40000 + n
        cs, ss = 1000 * n, 5000 * n
        self.frame(c, s, cp, port, cs, 0, 0x02)
        self.frame(s, c, port, cp, ss, cs + 1, 0x12)
        cs, ss = cs + 1, ss + 1
        self.frame(c, s, cp, port, cs, ss, 0x10)
        order = []
        for i in range(max(len(client_msgs), len(server_msgs))):
            pair = [("s", server_msgs, i), ("c", client_msgs, i)] if server_first else \
                [("c", client_msgs, i), ("s", server_msgs, i)]
            order += [(w, m[i]) for w, m, i in pair if i < len(m)]
        for who, msg in order:
            for k in range(0, len(msg), 1400):
                part = msg[k:k + 1400]
                if who == "c":
                    self.frame(c, s, cp, port, cs, ss, 0x18, part)
                    cs += len(part)
                else:
                    self.frame(s, c, port, cp, ss, cs, 0x18, part)
                    ss += len(part)
        self.frame(c, s, cp, port, cs, ss, 0x11)
        self.frame(s, c, port, cp, ss, cs + 1, 0x11)
        self.frame(c, s, cp, port, cs + 1, ss + 1, 0x10)

    def write(self, path):
        with open(path, "wb") as f:
            f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
            f.write(b"".join(self.recs))


def tls_client_hello(sni):
    name = struct.pack("!BH", 0, len(sni)) + sni
    sni_ext = struct.pack("!HHH", 0, len(name) + 2, len(name)) + name
    exts = sni_ext
    body = (b"\x03\x03" + bytes(range(32)) + b"\x00" + struct.pack("!H", 4) +
            b"\x13\x01\xc0\x2f" + b"\x01\x00" + struct.pack("!H", len(exts)) + exts)
    hs = b"\x01" + struct.pack("!I", len(body))[1:] + body
    return b"\x16\x03\x01" + struct.pack("!H", len(hs)) + hs


def tls_server_hello():
    body = b"\x03\x03" + bytes(range(32, 64)) + b"\x00" + b"\xc0\x2f" + b"\x00" + b"\x00\x00"
    hs = b"\x02" + struct.pack("!I", len(body))[1:] + body
    return b"\x16\x03\x03" + struct.pack("!H", len(hs)) + hs


# ---- what the JSON must hold ---------------------------------------------

def expected_text(raw):
    """The string a JSON value of the raw bytes decodes to: the longest
    valid UTF-8 sequence at each position as its character, any other byte
    as U+00XX (docs/output.md, String escaping)."""
    out, i = [], 0
    while i < len(raw):
        for n in (4, 3, 2, 1):
            try:
                ch = raw[i:i + n].decode("utf-8")
            except UnicodeDecodeError:
                continue
            if len(ch) == 1:
                out.append(ch)
                i += n
                break
        else:
            out.append(chr(raw[i]))
            i += 1
    return "".join(out)


def no_dupes(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise ValueError(f"duplicate keys {keys}")
    return dict(pairs)


def reject_constant(name):
    raise ValueError(f"non-standard JSON constant {name}")


HOSTILE = {
    "controls": b"a\x00b\x07c\x1b[2J\x1b]0;owned\x07d\re\nf\tg\x7fh",
    "quotes": b'q"uo\\te\\"d\\\\',
    "invalid_utf8": b"x\x80y\xc3(z\xe2\x82w\xf0\x9f\x98v\xc0\xafu\xed\xa0\x80t\xff\xfe",
    "valid_utf8": "caf\u00e9 \u20ac \U0001F600 \u0645".encode(),
    "long": b"L" * 1000 + b"\x1b",
    "long_multibyte": "\u00e9".encode() * 200,  # 400 bytes: the cut falls on a boundary
    "long_cut": b"A" + "\u20ac".encode() * 200,  # the cut splits a 3-byte sequence
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--offport", required=True)
    a = ap.parse_args()
    cap = Capture()
    n = 0
    # each hostile string in each carrier, on a port its protocol does not own
    for label, s in HOSTILE.items():
        n += 1
        cap.conn(n, 8088, [tls_client_hello(s)], [tls_server_hello()])  # TLS on 8088
        n += 1
        req = b"GET /" + s + b" HTTP/1.1\r\nHost: " + s + b"\r\nUser-Agent: " + s + b"\r\n\r\n"
        resp = b"HTTP/1.1 200 OK\r\nServer: " + s + b"\r\nContent-Length: 0\r\n\r\n"
        cap.conn(n, 443, [req], [resp])  # HTTP on 443
        n += 1
        cap.conn(n, 443, [b"SSH-2.0-" + s + b"\r\n"], [b"SSH-2.0-" + s + b"\r\n"],
                 server_first=True)  # SSH on 443
        n += 1
        cap.conn(n, 443, [b"EHLO " + s + b"\r\n"], [b"220 " + s + b" ESMTP\r\n",
                                                     b"250 ok\r\n"], server_first=True)
    with tempfile.TemporaryDirectory() as d:
        path = pathlib.Path(d) / "hostile.pcap"
        cap.write(path)
        p = subprocess.run([a.offport, "--json", "-r", str(path)], capture_output=True,
                           timeout=60)
        check(p.returncode == 0, "exit 0", p.stderr.decode(errors="replace"))
        recs = []
        bad_lines = []
        for line in p.stdout.split(b"\n")[:-1]:
            try:
                text = line.decode("utf-8")  # strict
                if any(c < 0x20 for c in line):
                    raise ValueError("raw control byte")
                recs.append(json.loads(text, object_pairs_hook=no_dupes,
                                       parse_constant=reject_constant))
            except ValueError as e:
                bad_lines.append(f"{e}: {line[:120]!r}")
        check(not bad_lines and recs and recs[-1]["event_type"] == "stats",
              "every line: valid UTF-8, no raw control byte, one strict JSON object",
              "; ".join(bad_lines[:3]))
        alerts = [r for r in recs if r["event_type"] == "alert"]
        values = [v for r in alerts for v in r["offport"].get("evidence", {}).values()
                  if isinstance(v, str)]
        too_long = [v for v in values if len(v.encode("utf-8", "surrogatepass")) >
                    VALUE_MAX * 2 or len(v) > VALUE_MAX]
        check(not too_long, f"every evidence value holds at most {VALUE_MAX} source bytes",
              str([len(v) for v in too_long][:5]))
        for label, s in HOSTILE.items():
            want = expected_text(s[:VALUE_MAX])
            exact = [v for v in values if want in v]
            check(exact, f"{label}: the string reached an alert, escaped as promised",
                  f"want {want[:60]!r}; have {[v[:40] for v in values][:12]}")
        protos = {r["offport"]["observed_protocol"] for r in alerts}
        check({"tls", "http", "ssh", "smtp"} <= protos,
              "every carrier (TLS, HTTP, SSH, SMTP) raised alerts", str(protos))
        # Text mode: nothing a terminal would act on.
        p = subprocess.run([a.offport, "-r", str(path)], capture_output=True, timeout=60)
        out = p.stdout
        check(p.returncode == 0 and all(32 <= c < 127 or c == 10 for c in out),
              "text output: printable ASCII and newlines only",
              repr([c for c in out if not (32 <= c < 127 or c == 10)][:10]))
        check(b"\\x1b" in out, "text output: ESC shown as \\x1b", out[:300])
        check(len([l for l in out.split(b"\n") if b"[**]" in l]) == len(alerts),
              "text output: one line per alert", f"{len(alerts)} alerts")
    return summary("output safety")


if __name__ == "__main__":
    sys.exit(main())
