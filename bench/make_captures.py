#!/usr/bin/env python3
"""make_captures.py - writes the benchmark captures of bench/run.py.

    bench/make_captures.py [--dir DIR] [--scale X] [--scaling] [--only NAME]

Writes into DIR (default build/bench/, never committed) classic pcap files,
link type Ethernet (DLT_EN10MB), snap length 262144, microsecond
timestamps, little-endian, every timestamp strictly increasing:

corpus_x.pcap
    The shared nDPI test corpus (/work/shared/corpus/ndpi/pcap, or
    $OFFPORT_CORPUS/pcap) amplified to at least 2,000,000 packets. A small
    reader below takes pcap (both byte orders, micro- and nanosecond) and
    pcapng (SHB of either byte order, IDB link type and if_tsresol /
    if_tsoffset per interface, EPB, SPB and the obsolete PB); files and
    interfaces whose link type is not Ethernet are skipped. Copy k of the
    corpus (k = 0, 1, ...) XORs a 16-bit value m_k (m_0 = 0, distinct for
    every k) into the last two bytes of every outer IPv4 and IPv6 source and
    destination address, also behind 802.1Q / 802.1ad VLAN tags, and
    recomputes the IPv4 header checksum; TCP/UDP checksums are left as they
    were (neither tool checks them). Addresses inside tunnels, MPLS or PPPoE
    are not rewritten (counted and printed). The first octet stays, so
    private, multicast and loopback addresses keep their class. Packets keep
    their order in each file; the gap between two consecutive packets keeps
    its length, but at least 1 us and at most 60 s (many corpus files jump
    by decades or go backwards, which would not fit 32-bit seconds). Each
    file of each copy then starts 1 ms after the previous one ended, so the
    copies' flows are distinct and every timestamp is larger than the last.

bulk.pcap
    64 long TCP transfers to ports 80, 443, 8088 and 22 (some on ports that
    do not belong to their protocol): a three-way handshake, a real first
    exchange (HTTP GET and response header, TLS ClientHello and ServerHello,
    SSH banners), then 16,000 full-size segments (1448 bytes of payload)
    from the server, the client ACKing every second one, then FINs. The
    flows run concurrently (round-robin), about 1.55 M packets, 1.5 GB.
    Sequence and acknowledgement numbers, IPv4 and TCP checksums are right.

flows_1e4.pcap, flows_1e5.pcap, flows_1e6.pcap (flows_1e6 always; the
others and flows_1e7 only with --scaling)
    N short flows with distinct 5-tuples: clients across 10.0.0.0/8 (four
    flows per client address, distinct ports), servers across
    172.16.0.0/12. A mix: HTTP, TLS, SSH on their ports and off them, and
    DNS over UDP on 53 and 5353/8053. A TCP flow is SYN, SYN-ACK, ACK, the
    first message, the answer, FIN/ACK, FIN/ACK, ACK (8 packets); a DNS flow
    a query and its answer. New flows arrive at 50,000 per second, each
    lasting a few milliseconds.
flows_1e7.pcap (--scaling)
    10,000,000 flows, each as short as still makes sense: SYN, SYN-ACK, one
    data packet each way (TCP), query and answer (DNS); no FIN, so the
    flows stay open until the flow table's timeout or eviction.

flood.pcap (--flood, or --only flood.pcap)
    A hostile mix of at least 5,000,000 distinct flows, for the
    robustness floor (docs/robustness.md): out of every 20 packets, 8 are a
    SYN flood (spoofed sources across 11.0.0.0/8, one SYN each, never
    answered, to ports 80 and 443 of four servers), 6 a UDP spray (one
    datagram of 8 to 120 random bytes from one source to a new destination
    address and port each), 2 a fragment flood (a first IPv4 fragment,
    more-fragments set, of a datagram that never completes; every fourth a
    lone middle fragment instead) and 4 a tiny-segment storm (2,000 TCP
    connections open at a time, each a handshake, then 40 one-byte
    segments from the client with every fifth pair swapped and every
    seventh segment sent twice, then FIN; a finished connection is replaced
    by a new one). One packet per microsecond of capture time, so that no
    flow times out: the tables fill and must evict.

Everything is deterministic (fixed seeds). A JSON manifest (manifest.json)
beside the captures records the parameters, the packet / flow counts, the
sizes and the generation times; a capture whose parameters and size match
its manifest entry is not written again. Packets are built with one
struct.pack per header, payload blocks are built once (with their
one's-complement sums, so a checksum costs a few additions) and reused, and
output is written in large joined chunks.
"""
import argparse
import json
import os
import pathlib
import random
import shutil
import struct
import sys
import time

REPO = pathlib.Path(__file__).resolve().parent.parent
GEN_VERSION = 1
SNAPLEN = 262144
DLT_EN10MB = 1
CHUNK = 1 << 22  # bytes buffered before a write
MAX_GAP = 60 * 1000000  # longest gap kept between two corpus packets, us

# ---------------------------------------------------------------- output


class PcapWriter:
    """Classic pcap, little-endian, microseconds. write(ts_us, frame)."""

    def __init__(self, path):
        self.f = open(path, "wb")
        self.f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, SNAPLEN, DLT_EN10MB))
        self.parts = []
        self.size = 0
        self.packets = 0
        self.last_ts = -1

    def write(self, ts, frame, orig_len=None):
        n = len(frame)
        self.parts.append(struct.pack("<IIII", ts // 1000000, ts % 1000000, n,
                                      orig_len if orig_len is not None else n))
        self.parts.append(frame)
        self.size += n + 16
        self.packets += 1
        self.last_ts = ts
        if self.size > CHUNK:
            self.flush()

    def flush(self):
        self.f.write(b"".join(self.parts))
        self.parts = []
        self.size = 0

    def close(self):
        self.flush()
        self.f.close()


def fold(s):
    """One's-complement checksum from a 32-bit-or-more sum of 16-bit words."""
    s = (s & 0xFFFF) + (s >> 16)
    s = (s & 0xFFFF) + (s >> 16)
    s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def word_sum(b):
    """Sum of the big-endian 16-bit words of b (zero-padded)."""
    if len(b) & 1:
        b = b + b"\0"
    return sum(struct.unpack("!%dH" % (len(b) // 2), b))


class Payload:
    """A payload block and its word sum, built once and reused."""
    __slots__ = ("data", "sum")

    def __init__(self, data):
        self.data = data
        self.sum = word_sum(data)


EMPTY = Payload(b"")
ETH_HDR = struct.Struct("!6s6sH")
IP4_TCP = struct.Struct("!6s6sHBBHHHBBHIIHHIIHHHH")  # Ethernet + IPv4 + TCP (20)
IP4_UDP = struct.Struct("!6s6sHBBHHHBBHIIHHHH")  # Ethernet + IPv4 + UDP
MAC_C = bytes.fromhex("020000000001")
MAC_S = bytes.fromhex("020000000002")
FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10


def tcp_frame(src, dst, sport, dport, seq, ack, flags, pl, ipid=0, win=64240):
    """An Ethernet/IPv4/TCP frame with correct IPv4 and TCP checksums."""
    seq &= 0xFFFFFFFF
    ack &= 0xFFFFFFFF
    tlen = 20 + len(pl.data)
    ilen = 20 + tlen
    a = (src >> 16) + (src & 0xFFFF) + (dst >> 16) + (dst & 0xFFFF)
    ipsum = fold(0x4500 + ilen + ipid + 0x4000 + 0x4006 + a)
    off = 0x5000 | flags
    tsum = fold(a + 6 + tlen + sport + dport + (seq >> 16) + (seq & 0xFFFF)
                + (ack >> 16) + (ack & 0xFFFF) + off + win + pl.sum)
    mac_d, mac_s = (MAC_S, MAC_C) if dport < sport else (MAC_C, MAC_S)
    return IP4_TCP.pack(mac_d, mac_s, 0x0800, 0x45, 0, ilen, ipid, 0x4000, 64, 6, ipsum,
                        src, dst, sport, dport, seq, ack, off, win, tsum, 0) + pl.data


def udp_frame(src, dst, sport, dport, pl, ipid=0):
    ulen = 8 + len(pl.data)
    ilen = 20 + ulen
    a = (src >> 16) + (src & 0xFFFF) + (dst >> 16) + (dst & 0xFFFF)
    ipsum = fold(0x4500 + ilen + ipid + 0x4011 + a)
    usum = fold(a + 17 + ulen + sport + dport + ulen + pl.sum) or 0xFFFF
    return IP4_UDP.pack(MAC_C, MAC_S, 0x0800, 0x45, 0, ilen, ipid, 0, 64, 17, ipsum,
                        src, dst, sport, dport, ulen, usum) + pl.data


def ip4(a, b, c, d):
    return (a << 24) | (b << 16) | (c << 8) | d


# ---------------------------------------------------------------- payloads


def tls_client_hello(rng, sni):
    """A TLS 1.3 ClientHello (as a 1.2 record) with SNI, ALPN, key share."""
    def ext(t, body):
        return struct.pack("!HH", t, len(body)) + body
    name = sni.encode()
    exts = b"".join([
        ext(0x0000, struct.pack("!HBH", len(name) + 3, 0, len(name)) + name),
        ext(0x0017, b""),
        ext(0xFF01, b"\0"),
        ext(0x000A, bytes.fromhex("0008001d001700180019")),
        ext(0x000B, bytes.fromhex("0100")),
        ext(0x0023, b""),
        ext(0x0010, bytes.fromhex("000c02683208687474702f312e31")),
        ext(0x0005, bytes.fromhex("0100000000")),
        ext(0x000D, bytes.fromhex("001404030503060308040805080604010501060102010201")[:22]),
        ext(0x0033, struct.pack("!HHH", 36, 0x001D, 32) + rng.randbytes(32)),
        ext(0x002D, bytes.fromhex("0101")),
        ext(0x002B, bytes.fromhex("0403040303")),
    ])
    suites = bytes.fromhex("130113031302c02bc02fcca9cca8c02cc030c00ac009c013c014009c009d002f0035")
    body = (b"\x03\x03" + rng.randbytes(32) + b"\x20" + rng.randbytes(32)
            + struct.pack("!H", len(suites)) + suites + b"\x01\x00"
            + struct.pack("!H", len(exts)) + exts)
    hs = b"\x01" + struct.pack("!I", len(body))[1:] + body
    return b"\x16\x03\x01" + struct.pack("!H", len(hs)) + hs


def tls_server_hello(rng):
    """ServerHello (TLS 1.3), ChangeCipherSpec, an encrypted record."""
    exts = (struct.pack("!HHH", 0x002B, 2, 0x0304)
            + struct.pack("!HHHH", 0x0033, 36, 0x001D, 32) + rng.randbytes(32))
    body = (b"\x03\x03" + rng.randbytes(32) + b"\x20" + rng.randbytes(32)
            + b"\x13\x01\x00" + struct.pack("!H", len(exts)) + exts)
    hs = b"\x02" + struct.pack("!I", len(body))[1:] + body
    enc = rng.randbytes(1100)
    return (b"\x16\x03\x03" + struct.pack("!H", len(hs)) + hs + bytes.fromhex("140303000101")
            + b"\x17\x03\x03" + struct.pack("!H", len(enc)) + enc)


def http_get(host, path):
    return (f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: Mozilla/5.0 (X11; Linux "
            f"x86_64; rv:115.0) Gecko/20100101 Firefox/115.0\r\nAccept: */*\r\n"
            f"Accept-Encoding: gzip, deflate\r\nConnection: keep-alive\r\n\r\n").encode()


def http_response(rng, length, body_len):
    head = (f"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Fri, 27 Nov 2026 06:00:00 "
            f"GMT\r\nContent-Type: application/octet-stream\r\nContent-Length: {length}\r\n"
            f"Connection: keep-alive\r\n\r\n").encode()
    return head + rng.randbytes(body_len)


SSH_CLIENT = b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n"
SSH_SERVER = b"SSH-2.0-OpenSSH_8.4p1 Debian-5+deb11u3\r\n"


def dns_query(qid, name, answer=None):
    q = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0\x00\x01\x00\x01"
    if answer is None:
        return struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + q
    return (struct.pack("!HHHHHH", qid, 0x8180, 1, 1, 0, 0) + q
            + struct.pack("!HHHIH", 0xC00C, 1, 1, 300, 4) + struct.pack("!I", answer))


# ---------------------------------------------------------------- corpus reader


def read_capture(path):
    """(packets, skipped) of one pcap/pcapng file: packets is a list of
    (ts_us, frame, orig_len) on Ethernet interfaces; skipped counts packets
    of other link types. Raises ValueError on a file it cannot read."""
    data = path.read_bytes()
    if len(data) < 24:
        raise ValueError("too short")
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        return read_pcap(data)
    if magic == b"\x0a\x0d\x0d\x0a":
        return read_pcapng(data)
    raise ValueError("not pcap or pcapng")


def read_pcap(data):
    le = data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1")
    nano = data[:4] in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    e = "<" if le else ">"
    linktype = struct.unpack_from(e + "I", data, 20)[0] & 0x03FFFFFF
    rec = struct.Struct(e + "IIII")
    out, skipped, off, n = [], 0, 24, len(data)
    while off + 16 <= n:
        sec, frac, incl, orig = rec.unpack_from(data, off)
        off += 16
        if off + incl > n:
            break  # truncated last record
        if linktype == DLT_EN10MB:
            ts = sec * 1000000 + (frac // 1000 if nano else frac)
            out.append((ts, data[off:off + incl], orig))
        else:
            skipped += 1
        off += incl
    return out, skipped


def read_pcapng(data):
    out, skipped, off, n = [], 0, 0, len(data)
    e = "<"
    ifaces = []  # (linktype, ticks per second, offset seconds)
    last_ts = 0
    while off + 12 <= n:
        btype_raw = data[off:off + 4]
        if btype_raw == b"\x0a\x0d\x0d\x0a":  # section header: byte order first
            bom = data[off + 8:off + 12]
            e = "<" if bom == b"\x4d\x3c\x2b\x1a" else ">"
            ifaces = []
        btype, blen = struct.unpack_from(e + "II", data, off)
        if blen < 12 or off + blen > n:
            break
        body = off + 8
        if btype == 1:  # interface description
            link = struct.unpack_from(e + "H", data, body)[0]
            tsres, tsoff = 1000000, 0
            o, end = body + 8, off + blen - 4
            while o + 4 <= end:
                code, olen = struct.unpack_from(e + "HH", data, o)
                if code == 0:
                    break
                v = data[o + 4:o + 4 + olen]
                if code == 9 and olen >= 1:
                    r = v[0]
                    tsres = 2 ** (r & 0x7F) if r & 0x80 else 10 ** r
                elif code == 14 and olen >= 8:
                    tsoff = struct.unpack(e + "q", v[:8])[0]
                o += 4 + ((olen + 3) & ~3)
            ifaces.append((link, tsres, tsoff))
        elif btype in (6, 2):  # enhanced / obsolete packet block
            if btype == 6:
                iface, hi, lo, incl, orig = struct.unpack_from(e + "IIIII", data, body)
            else:
                iface, _drops, hi, lo, incl, orig = struct.unpack_from(e + "HHIIII", data, body)
            pkt = body + 20
            if iface < len(ifaces) and pkt + incl <= off + blen:
                link, tsres, tsoff = ifaces[iface]
                if link == DLT_EN10MB:
                    ticks = (hi << 32) | lo
                    last_ts = tsoff * 1000000 + ticks * 1000000 // tsres
                    out.append((last_ts, data[pkt:pkt + incl], orig))
                else:
                    skipped += 1
        elif btype == 3:  # simple packet block: interface 0, no timestamp
            orig = struct.unpack_from(e + "I", data, body)[0]
            incl = min(orig, blen - 16)
            if ifaces and ifaces[0][0] == DLT_EN10MB:
                last_ts += 1
                out.append((last_ts, data[body + 4:body + 4 + incl], orig))
            else:
                skipped += 1
        off += blen
    return out, skipped


def ip_offsets(frame):
    """(version, offset of the IP header, IPv4 header length) of an Ethernet
    frame, behind up to 4 VLAN tags; (0, 0, 0) when not plain IP."""
    off = 12
    for _ in range(5):
        if off + 2 > len(frame):
            return 0, 0, 0
        et = (frame[off] << 8) | frame[off + 1]
        if et in (0x8100, 0x88A8, 0x9100):
            off += 4
            continue
        off += 2
        if et == 0x0800 and off + 20 <= len(frame) and frame[off] >> 4 == 4:
            hl = (frame[off] & 0x0F) * 4
            if hl >= 20 and off + hl <= len(frame):
                return 4, off, hl
        if et == 0x86DD and off + 40 <= len(frame) and frame[off] >> 4 == 6:
            return 6, off, 0
        return 0, 0, 0
    return 0, 0, 0


def make_corpus_x(path, corpus_dir, target):
    files = sorted(p for p in corpus_dir.iterdir()
                   if p.is_file() and p.suffix in (".pcap", ".pcapng", ".cap"))
    per_file = []
    skipped_files, skipped_pkts = [], 0
    for p in files:
        try:
            pkts, skipped = read_capture(p)
        except (ValueError, struct.error) as err:
            skipped_files.append(f"{p.name} ({err})")
            continue
        skipped_pkts += skipped
        if not pkts:
            if skipped:
                skipped_files.append(f"{p.name} (no Ethernet interface)")
            continue
        # parse each frame once: (ts, frame, orig, version, ip offset, ihl)
        # The file's own timeline, made strictly increasing: a gap between
        # two packets in file order keeps its length between 1 us and
        # MAX_GAP (many corpus files jump by years or run backwards).
        rows, t, prev = [], 0, pkts[0][0]
        for ts, fr, orig in pkts:
            t += min(max(ts - prev, 1), MAX_GAP) if rows else 0
            prev = ts
            rows.append((t, fr, orig) + ip_offsets(fr))
        per_file.append((p.name, rows, 0, t))
    n_corpus = sum(len(r) for _, r, _, _ in per_file)
    if n_corpus == 0:
        sys.exit(f"make_captures: no Ethernet packets in {corpus_dir}")
    copies = -(-target // n_corpus)
    not_ip = sum(1 for _, rows, _, _ in per_file for r in rows if r[3] == 0)
    w = PcapWriter(path)
    cursor = 1700000000 * 1000000  # 2023-11-14
    csum_struct = {}
    for k in range(copies):
        m = (k * 40503) & 0xFFFF  # odd multiplier: distinct for k < 65536, m_0 = 0
        mh, ml = m >> 8, m & 0xFF
        for _name, rows, lo, hi in per_file:
            shift = cursor + 1000 - lo
            for ts, fr, orig, ver, o, hl in rows:
                if ver == 0 or m == 0:
                    w.write(ts + shift, fr, orig)
                    continue
                b = bytearray(fr)
                if ver == 4:
                    b[o + 14] ^= mh
                    b[o + 15] ^= ml
                    b[o + 18] ^= mh
                    b[o + 19] ^= ml
                    b[o + 10] = b[o + 11] = 0
                    st = csum_struct.get(hl)
                    if st is None:
                        st = csum_struct[hl] = struct.Struct("!%dH" % (hl // 2))
                    c = fold(sum(st.unpack_from(b, o)))
                    b[o + 10] = c >> 8
                    b[o + 11] = c & 0xFF
                else:
                    if o + 40 <= len(b):
                        b[o + 22] ^= mh
                        b[o + 23] ^= ml
                        b[o + 38] ^= mh
                        b[o + 39] ^= ml
                w.write(ts + shift, bytes(b), orig)
            cursor = hi + shift
    w.close()
    return {"packets": w.packets, "corpus_files": len(per_file),
            "corpus_packets": n_corpus, "copies": copies,
            "packets_not_rewritten_per_copy": not_ip,
            "skipped_files": skipped_files, "skipped_non_ethernet_packets": skipped_pkts}


# ---------------------------------------------------------------- bulk


def make_bulk(path, n_flows, segments):
    rng = random.Random(6)
    w = PcapWriter(path)
    block = Payload(rng.randbytes(1448))
    blocks = [Payload(rng.randbytes(1448)) for _ in range(3)] + [block]
    kinds = [(80, "http"), (443, "tls"), (8088, "http"), (22, "ssh"),
             (443, "ssh"), (8088, "tls"), (80, "http"), (443, "tls")]
    flows = []
    ts = 1790000000 * 1000000
    for f in range(n_flows):
        port, proto = kinds[f % len(kinds)]
        c = ip4(10, 1, f >> 8, (f & 0xFF) + 1)
        s = ip4(198, 18, 0, 10 + (f % 16))
        cp = 40000 + f
        cseq, sseq = rng.getrandbits(32), rng.getrandbits(32)
        rtt = 200 + rng.randrange(800)
        total = segments * 1448
        if proto == "http":
            first = [(c, s, cp, port, Payload(http_get(f"files{f}.example.net", f"/big/{f}.bin")))]
            ans = [(s, c, port, cp, Payload(http_response(rng, total, 0)))]
        elif proto == "tls":
            first = [(c, s, cp, port, Payload(tls_client_hello(rng, f"cdn{f}.example.org")))]
            ans = [(s, c, port, cp, Payload(tls_server_hello(rng)))]
        else:  # ssh: server banner first
            first = [(s, c, port, cp, Payload(SSH_SERVER))]
            ans = [(c, s, cp, port, Payload(SSH_CLIENT))]
        flows.append(dict(c=c, s=s, cp=cp, port=port, cseq=cseq, sseq=sseq, rtt=rtt,
                          first=first, ans=ans))
    # handshakes and first exchanges, 200 us apart
    for fl in flows:
        c, s, cp, port = fl["c"], fl["s"], fl["cp"], fl["port"]
        cseq, sseq = fl["cseq"], fl["sseq"]
        w.write(ts, tcp_frame(c, s, cp, port, cseq, 0, SYN, EMPTY))
        w.write(ts + fl["rtt"], tcp_frame(s, c, port, cp, sseq, cseq + 1, SYN | ACK, EMPTY))
        cseq += 1
        sseq += 1
        t = ts + fl["rtt"] + 20
        w.write(t, tcp_frame(c, s, cp, port, cseq, sseq, ACK, EMPTY))
        for src, dst, sp, dp, pl in fl["first"] + fl["ans"]:
            t += 30
            if src == c:
                w.write(t, tcp_frame(c, s, cp, port, cseq, sseq, PSH | ACK, pl))
                cseq = (cseq + len(pl.data)) & 0xFFFFFFFF
            else:
                w.write(t, tcp_frame(s, c, port, cp, sseq, cseq, PSH | ACK, pl))
                sseq = (sseq + len(pl.data)) & 0xFFFFFFFF
        fl["cseq"], fl["sseq"] = cseq, sseq
        ts = t + 200
    # the transfers: one segment per flow per turn; about 1 Gbit/s overall
    ts += 1000
    step = 12
    for i in range(segments):
        pl = blocks[i & 3]
        for fl in flows:
            c, s, cp, port = fl["c"], fl["s"], fl["cp"], fl["port"]
            sseq = fl["sseq"]
            w.write(ts, tcp_frame(s, c, port, cp, sseq, fl["cseq"], ACK, pl))
            sseq = (sseq + 1448) & 0xFFFFFFFF
            fl["sseq"] = sseq
            ts += step
            if i & 1:
                w.write(ts, tcp_frame(c, s, cp, port, fl["cseq"], sseq, ACK, EMPTY))
                ts += step
    for fl in flows:
        c, s, cp, port, cseq, sseq = fl["c"], fl["s"], fl["cp"], fl["port"], fl["cseq"], fl["sseq"]
        w.write(ts, tcp_frame(c, s, cp, port, cseq, sseq, FIN | ACK, EMPTY))
        w.write(ts + 50, tcp_frame(s, c, port, cp, sseq, cseq + 1, FIN | ACK, EMPTY))
        w.write(ts + 100, tcp_frame(c, s, cp, port, cseq + 1, sseq + 1, ACK, EMPTY))
        ts += 150
    w.close()
    return {"packets": w.packets, "flows": n_flows, "segments_per_flow": segments}


# ---------------------------------------------------------------- many flows

# (weight, transport, protocol, server port); about a third off their ports
FLOW_MIX = [
    (20, "tcp", "tls", 443), (4, "tcp", "tls", 8443), (3, "tcp", "tls", 8088),
    (2, "tcp", "tls", 2083),
    (12, "tcp", "http", 80), (4, "tcp", "http", 8080), (3, "tcp", "http", 1224),
    (2, "tcp", "http", 53),
    (6, "tcp", "ssh", 22), (2, "tcp", "ssh", 2222), (2, "tcp", "ssh", 443),
    (16, "udp", "dns", 53), (2, "udp", "dns", 5353), (2, "udp", "dns", 8053),
]


def make_flows(path, n, short):
    """n short flows; short=True: SYN, SYN-ACK, one data packet each way."""
    rng = random.Random(1000 + n)
    table = [e for e in FLOW_MIX for _ in range(e[0])]  # 80 entries
    # a pool of payloads per protocol, built once
    pools = {
        "tls": [(Payload(tls_client_hello(rng, f"www{i}.example{i % 7}.com")),
                 Payload(tls_server_hello(rng))) for i in range(64)],
        "http": [(Payload(http_get(f"site{i}.example.net", f"/index{i}.html")),
                  Payload(http_response(rng, 600, 600))) for i in range(64)],
        "ssh": [(Payload(SSH_SERVER), Payload(SSH_CLIENT))],
    }
    names = [f"host{i}.zone{i % 13}.example.com" for i in range(256)]
    w = PcapWriter(path)
    rate_gap = 20  # us between flow starts: 50,000 new flows per second
    t0 = 1790000000 * 1000000
    pending = []
    batch = 2000
    for b0 in range(0, n, batch):
        evs = pending
        for i in range(b0, min(n, b0 + batch)):
            start = t0 + i * rate_gap
            h = (i * 2654435761) & 0xFFFFFFFF
            client_no = i >> 2
            c = 0x0A000000 | ((client_no * 0x9E3779B1) & 0xFFFFFF)  # 10/8, bijective
            cp = 1024 + ((client_no * 13 + (i & 3) * 15013) % 64000)
            s = 0xAC100000 | ((h >> 8) & 0xFFFFF)  # 172.16/12
            _, l4, proto, port = table[h % 80]
            rtt = 300 + (h & 0x3FF)
            if l4 == "udp":
                qid = h & 0xFFFF
                nm = names[(h >> 16) & 0xFF]
                q = dns_query(qid, nm)
                a = dns_query(qid, nm, answer=0xC6336400 | (h & 0xFF))
                evs.append((start, udp_frame(c, s, cp, port, Payload(q))))
                evs.append((start + rtt, udp_frame(s, c, port, cp, Payload(a))))
                continue
            cs, ss = h, (h * 69069 + 1) & 0xFFFFFFFF
            req, resp = pools[proto][(h >> 20) % len(pools[proto])]
            if proto == "ssh":  # the server speaks first
                first_srv = True
            else:
                first_srv = False
            t = start
            evs.append((t, tcp_frame(c, s, cp, port, cs, 0, SYN, EMPTY)))
            t += rtt
            evs.append((t, tcp_frame(s, c, port, cp, ss, cs + 1, SYN | ACK, EMPTY)))
            cs = (cs + 1) & 0xFFFFFFFF
            ss = (ss + 1) & 0xFFFFFFFF
            if not short:
                t += 15
                evs.append((t, tcp_frame(c, s, cp, port, cs, ss, ACK, EMPTY)))
            t += 40
            if first_srv:
                evs.append((t, tcp_frame(s, c, port, cp, ss, cs, PSH | ACK, req)))
                ss = (ss + len(req.data)) & 0xFFFFFFFF
                t += rtt
                evs.append((t, tcp_frame(c, s, cp, port, cs, ss, PSH | ACK, resp)))
                cs = (cs + len(resp.data)) & 0xFFFFFFFF
            else:
                evs.append((t, tcp_frame(c, s, cp, port, cs, ss, PSH | ACK, req)))
                cs = (cs + len(req.data)) & 0xFFFFFFFF
                t += rtt
                evs.append((t, tcp_frame(s, c, port, cp, ss, cs, PSH | ACK, resp)))
                ss = (ss + len(resp.data)) & 0xFFFFFFFF
            if not short:
                t += 100
                evs.append((t, tcp_frame(c, s, cp, port, cs, ss, FIN | ACK, EMPTY)))
                t += rtt
                evs.append((t, tcp_frame(s, c, port, cp, ss, cs + 1, FIN | ACK, EMPTY)))
                t += 15
                evs.append((t, tcp_frame(c, s, cp, port, cs + 1, ss + 1, ACK, EMPTY)))
        # emit everything before the next batch's first start; keep the rest
        limit = t0 + (b0 + batch) * rate_gap if b0 + batch < n else None
        evs.sort(key=lambda e: e[0])
        if limit is None:
            cut = len(evs)
        else:
            cut = len(evs)
            for j, e in enumerate(evs):
                if e[0] >= limit:
                    cut = j
                    break
        last = w.last_ts
        for ts, fr in evs[:cut]:
            if ts <= last:  # equal timestamps: nudge, keep strictly increasing
                ts = last + 1
            w.write(ts, fr)
            last = ts
        pending = evs[cut:]
    w.close()
    return {"packets": w.packets, "flows": n, "shape": "short" if short else "full"}


def ip4_frag_frame(src, dst, ipid, offset8, more, pl):
    """An Ethernet/IPv4 fragment of a UDP datagram (protocol 17): payload
    pl at fragment offset offset8 (8-byte units), more-fragments as given."""
    ilen = 20 + len(pl.data)
    flags = (0x2000 if more else 0) | offset8
    a = (src >> 16) + (src & 0xFFFF) + (dst >> 16) + (dst & 0xFFFF)
    ipsum = fold(0x4500 + ilen + ipid + flags + 0x4011 + a)
    return (ETH_HDR.pack(MAC_C, MAC_S, 0x0800) +
            struct.pack("!BBHHHBBHII", 0x45, 0, ilen, ipid, flags, 64, 17, ipsum, src, dst) +
            pl.data)


def make_flood(path, steps):
    """steps packets of the hostile mix described in the module doc."""
    rng = random.Random(7)
    w = PcapWriter(path)
    t = 1795000000 * 1000000
    servers = [ip4(172, 16, 0, 10 + k) for k in range(4)]
    spray_src = ip4(10, 99, 0, 1)
    sprays = [Payload(rng.randbytes(rng.randrange(8, 121))) for _ in range(512)]
    frag_pl = [Payload(rng.randbytes(72)) for _ in range(64)]  # 8-byte multiple
    one = [Payload(bytes([b])) for b in range(256)]
    n_syn = n_udp = n_frag = n_tiny_flows = 0
    # the tiny-segment storm: open connections, each a list of frames still
    # to send, refilled with a new connection when one ends
    storm = []
    storm_no = 0

    def new_conn(k):
        c = ip4(10, 50 + (k >> 16 & 0x3F), k >> 8 & 0xFF, k & 0xFF)
        cp = 1024 + (k * 7919) % 60000
        s = servers[k & 3]
        port = (80, 443, 22, 8088)[(k >> 2) & 3]
        cs, ss = (k * 2654435761) & 0xFFFFFFFF, (k * 40503 + 7) & 0xFFFFFFFF
        frames = [tcp_frame(c, s, cp, port, cs, 0, SYN, EMPTY),
                  tcp_frame(s, c, port, cp, ss, cs + 1, SYN | ACK, EMPTY),
                  tcp_frame(c, s, cp, port, cs + 1, ss + 1, ACK, EMPTY)]
        segs = []
        for j in range(40):
            b = one[(k + j * 31) & 0xFF]
            segs.append(tcp_frame(c, s, cp, port, cs + 1 + j, ss + 1, PSH | ACK, b))
            if j % 7 == 6:
                segs.append(segs[-1])  # sent twice
        for j in range(0, len(segs) - 1, 10):  # every fifth pair swapped
            segs[j], segs[j + 1] = segs[j + 1], segs[j]
        frames += segs
        frames.append(tcp_frame(c, s, cp, port, cs + 41, ss + 1, FIN | ACK, EMPTY))
        frames.reverse()  # popped from the end
        return frames

    for i in range(steps):
        slot = i % 20
        t += 1
        if slot < 8:  # SYN flood
            k = n_syn
            n_syn += 1
            src = ip4(11, k >> 16 & 0xFF, k >> 8 & 0xFF, k & 0xFF) ^ ((k >> 24) << 20)
            w.write(t, tcp_frame(src, servers[k & 3], 1024 + (k * 31) % 64000,
                                 443 if k & 4 else 80, k * 2654435761, 0, SYN, EMPTY))
        elif slot < 14:  # UDP spray
            k = n_udp
            n_udp += 1
            dst = ip4(172, 20 + (k >> 24 & 7), k >> 16 & 0xFF, k >> 8 & 0xFF)
            dport = 1 + ((k & 0xFF) * 257 + (k >> 8)) % 65535
            w.write(t, udp_frame(spray_src, dst, 1024 + (k * 13) % 64000, dport,
                                 sprays[k & 511], ipid=k & 0xFFFF))
        elif slot < 16:  # fragment flood
            k = n_frag
            n_frag += 1
            src = ip4(10, 200 + (k >> 24 & 7), k >> 16 & 0xFF, k >> 8 & 0xFF)
            off = 0 if k & 3 else 9 * (1 + (k >> 2) % 100)
            w.write(t, ip4_frag_frame(src, servers[k & 3], k & 0xFFFF, off, True,
                                      frag_pl[k & 63]))
        else:  # tiny-segment storm
            if len(storm) < 2000:
                storm.append(new_conn(storm_no))
                storm_no += 1
            j = (i * 40503) % len(storm)
            fr = storm[j].pop()
            if fr[47] == SYN:  # a connection's first packet: a flow begins
                n_tiny_flows += 1
            w.write(t, fr)
            if not storm[j]:
                storm[j] = storm[-1]
                storm.pop()
    w.close()
    return {"packets": w.packets, "flows": n_syn + n_udp + n_tiny_flows, "syn_flows": n_syn,
            "udp_flows": n_udp, "fragments": n_frag, "tiny_segment_flows": n_tiny_flows}


# ---------------------------------------------------------------- main


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", default=str(REPO / "build/bench"))
    ap.add_argument("--scale", type=float, default=1.0,
                    help="multiply every size (packets, segments, flows) by X, e.g. 0.01 "
                         "for a quick try (the file names stay)")
    ap.add_argument("--scaling", action="store_true",
                    help="also flows_1e4, flows_1e5 and flows_1e7 (10 M flows, ~6 GB)")
    ap.add_argument("--flood", action="store_true",
                    help="also flood.pcap (5 M hostile flows, ~0.7 GB)")
    ap.add_argument("--only", action="append", help="only this capture (repeatable)")
    ap.add_argument("--force", action="store_true", help="write again even if present")
    a = ap.parse_args()
    out = pathlib.Path(a.dir)
    out.mkdir(parents=True, exist_ok=True)
    corpus = pathlib.Path(os.environ.get("OFFPORT_CORPUS", "/work/shared/corpus/ndpi")) / "pcap"
    sc = a.scale

    def scaled(x):
        return max(1, int(round(x * sc)))

    jobs = {
        "corpus_x.pcap": ({"corpus": str(corpus), "target": scaled(2_000_000)},
                          lambda p, q: make_corpus_x(p, pathlib.Path(q["corpus"]), q["target"])),
        "bulk.pcap": ({"flows": 64, "segments": scaled(16000)},
                      lambda p, q: make_bulk(p, q["flows"], q["segments"])),
        "flows_1e6.pcap": ({"flows": scaled(10**6), "short": False},
                           lambda p, q: make_flows(p, q["flows"], q["short"])),
    }
    if a.scaling:
        for e, short in ((4, False), (5, False), (7, True)):
            jobs[f"flows_1e{e}.pcap"] = ({"flows": scaled(10**e), "short": short},
                                        lambda p, q: make_flows(p, q["flows"], q["short"]))
    if a.flood or (a.only and "flood.pcap" in a.only):
        jobs["flood.pcap"] = ({"steps": scaled(7_200_000)},
                              lambda p, q: make_flood(p, q["steps"]))
    mpath = out / "manifest.json"
    manifest = json.loads(mpath.read_text()) if mpath.exists() else {}
    for name, (params, fn) in jobs.items():
        if a.only and name not in a.only:
            continue
        params = dict(params, version=GEN_VERSION)
        path = out / name
        old = manifest.get(name)
        if (not a.force and old and old.get("params") == params and path.exists()
                and path.stat().st_size == old.get("bytes")):
            print(f"{name}: present ({old['packets']} packets, {old['bytes'] / 1e6:.0f} MB)")
            continue
        free = shutil.disk_usage(out).free
        need = {"flows_1e7.pcap": 8e9, "bulk.pcap": 2e9}.get(name, 1e9) * sc
        if free < need + 2e9:
            sys.exit(f"make_captures: {free / 1e9:.1f} GB free in {out}, {name} needs about "
                     f"{need / 1e9:.1f} GB (and 2 GB spare)")
        t = time.monotonic()
        tmp = path.with_suffix(".pcap.part")
        info = fn(tmp, params)
        tmp.replace(path)
        info.update(params=params, bytes=path.stat().st_size,
                    seconds=round(time.monotonic() - t, 1))
        manifest[name] = info
        mpath.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
        print(f"{name}: {info['packets']} packets, {info['bytes'] / 1e6:.0f} MB, "
              f"{info['seconds']} s")
        for k in ("copies", "corpus_files", "corpus_packets", "packets_not_rewritten_per_copy",
                  "skipped_non_ethernet_packets"):
            if k in info:
                print(f"  {k}: {info[k]}")
        if info.get("skipped_files"):
            print(f"  skipped files ({len(info['skipped_files'])}, listed in the manifest): "
                  + ", ".join(s.split()[0] for s in info["skipped_files"][:8]) + ", ...")
    return 0


if __name__ == "__main__":
    sys.exit(main())
