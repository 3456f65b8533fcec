#!/usr/bin/env python3
"""Generate offport's small, deterministic test captures.

    python3 tests/data/gen_captures.py [--out DIR]

Standard library only. Every run writes byte-identical files: timestamps,
addresses, sequence numbers and IP ids are fixed (or derived from a hash of a
fixed string). Addresses come from the documentation ranges only
(192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32, MAC
00:00:5e:00:53:xx from RFC 7042); nothing is ever sent.

The file names and the facts in README.md (written by this script from the
same values that build the packets) are the contract the golden tests are
checked against.

Layout: checksums and byte helpers; capture-file writers (pcap, pcapng);
link layers; IPv4/IPv6 (+options, extension headers, fragments); TCP/UDP;
tunnels; application payloads (HTTP, DNS); the TCP conversation builder;
then one function per capture file.
"""

import argparse
import gzip
import hashlib
import ipaddress
import os
import struct
import sys

# ---------------------------------------------------------------- helpers --

T0 = 1705312800 * 10**9      # 2024-01-15 10:00:00 UTC, in nanoseconds
MS = 10**6                   # one millisecond in ns
US = 10**3
SEC = 10**9


def h32(text):
    """A fixed 32-bit number derived from a string (ISNs, ids)."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big")


def hbytes(text, n):
    """n deterministic pseudo-random bytes (ciphertext, opaque blobs)."""
    out = b""
    i = 0
    while len(out) < n:
        out += hashlib.sha256(f"{text}/{i}".encode()).digest()
        i += 1
    return out[:n]


def ip_bytes(addr):
    return ipaddress.ip_address(addr).packed


def mac(text):
    return bytes(int(x, 16) for x in text.split(":"))


def csum(data):
    """RFC 1071 Internet checksum."""
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def l4_csum(src, dst, proto, seg):
    """TCP/UDP/ICMPv6 checksum with the IPv4 or IPv6 pseudo-header."""
    s, d = ip_bytes(src), ip_bytes(dst)
    if len(s) == 4:
        pseudo = s + d + struct.pack("!BBH", 0, proto, len(seg))
    else:
        pseudo = s + d + struct.pack("!IxxxB", len(seg), proto)
    return csum(pseudo + seg)


def is_v6(addr):
    return ":" in addr


def br(addr):
    """An address as written before :port ([v6])."""
    return f"[{addr}]" if is_v6(addr) else addr


# ------------------------------------------------------ capture writers --

LINKTYPE = {
    "null": 0, "en10mb": 1, "ppp": 9, "raw12": 12, "ppp_hdlc": 50, "raw": 101,
    "c_hdlc": 104, "loop": 108, "sll": 113, "user0": 147, "ipv4": 228,
    "ipv6": 229, "sll2": 276,
}


class Pcap:
    """Classic pcap file (https://www.ietf.org/archive/id/draft-ietf-opsawg-pcap).

    Packets are (ts_ns, frame[, wirelen]); frames longer than snaplen are
    cut to snaplen with the original length kept in the record."""

    def __init__(self, linktype, snaplen=262144, nsec=False, big_endian=False):
        self.linktype = linktype
        self.snaplen = snaplen
        self.nsec = nsec
        self.e = ">" if big_endian else "<"
        self.records = []

    def add(self, ts_ns, frame, wirelen=None):
        wirelen = len(frame) if wirelen is None else wirelen
        data = frame[: self.snaplen]
        sec, frac = divmod(ts_ns, SEC)
        if not self.nsec:
            frac //= US
        self.records.append(struct.pack(self.e + "IIII", sec, frac, len(data), wirelen) + data)

    def header(self):
        magic = 0xA1B23C4D if self.nsec else 0xA1B2C3D4
        return struct.pack(self.e + "IHHiIII", magic, 2, 4, 0, 0, self.snaplen, self.linktype)

    def bytes(self):
        return self.header() + b"".join(self.records)


def _pad4(b):
    return b + b"\0" * (-len(b) % 4)


def pcapng_opt(code, value):
    return struct.pack("<HH", code, len(value)) + _pad4(value)


def pcapng_block(btype, body):
    body = _pad4(body)
    n = len(body) + 12
    return struct.pack("<II", btype, n) + body + struct.pack("<I", n)


class Pcapng:
    """pcapng (SHB, IDB, EPB), little-endian, one section."""

    def __init__(self, shb_options=()):
        opts = b"".join(pcapng_opt(c, v) for c, v in shb_options)
        if opts:
            opts += pcapng_opt(0, b"")
        self.blocks = [pcapng_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1) + opts)]
        self.ifaces = []   # tsresol exponent (10^-n) per interface

    def interface(self, linktype, snaplen=262144, name=None, tsresol=6):
        opts = b""
        if name:
            opts += pcapng_opt(2, name.encode())
        if tsresol != 6:
            opts += pcapng_opt(9, bytes([tsresol]))
        if opts:
            opts += pcapng_opt(0, b"")
        self.blocks.append(pcapng_block(1, struct.pack("<HHI", linktype, 0, snaplen) + opts))
        self.ifaces.append(tsresol)
        return len(self.ifaces) - 1

    def add(self, ifid, ts_ns, frame, wirelen=None, comment=None):
        wirelen = len(frame) if wirelen is None else wirelen
        ts = ts_ns // 10 ** (9 - self.ifaces[ifid])
        opts = b""
        if comment:
            opts = pcapng_opt(1, comment.encode()) + pcapng_opt(0, b"")
        body = struct.pack("<IIIII", ifid, ts >> 32, ts & 0xFFFFFFFF, len(frame), wirelen)
        self.blocks.append(pcapng_block(6, body + _pad4(frame) + opts))

    def bytes(self):
        return b"".join(self.blocks)


# ----------------------------------------------------------- link layers --

MAC_CLI = mac("00:00:5e:00:53:01")   # the capturing host / client side
MAC_GW = mac("00:00:5e:00:53:fe")    # its default gateway
MAC_BCAST = b"\xff" * 6

ETH_IPV4, ETH_IPV6, ETH_ARP = 0x0800, 0x86DD, 0x0806
ETH_VLAN, ETH_QINQ = 0x8100, 0x88A8
ETH_MPLS = 0x8847
ETH_PPPOE_DISC, ETH_PPPOE_SESS = 0x8863, 0x8864
ETH_TEB = 0x6558   # transparent Ethernet bridging (GRE/GENEVE payload)
ETH_ERSPAN2 = 0x88BE
PPP_IPV4, PPP_IPV6 = 0x0021, 0x0057


def ethertype_of(ip):
    return ETH_IPV6 if ip[0] >> 4 == 6 else ETH_IPV4


def ether(dst, src, etype, payload):
    return dst + src + struct.pack("!H", etype) + payload


def vlan_tag(tpid, vid, pcp=0):
    """A 4-byte 802.1Q/802.1ad tag: TPID + TCI (the next ethertype follows)."""
    return struct.pack("!HH", tpid, (pcp << 13) | vid)


def ether_tagged(dst, src, tags, etype, payload):
    """tags: [(tpid, vid), ...] outermost first."""
    return dst + src + b"".join(vlan_tag(t, v) for t, v in tags) + struct.pack("!H", etype) + payload


def mpls(labels, payload, ttl=64):
    """MPLS label stack (RFC 3032); the last label gets the bottom-of-stack bit."""
    out = b""
    for i, label in enumerate(labels):
        bos = 1 if i == len(labels) - 1 else 0
        out += struct.pack("!I", (label << 12) | (0 << 9) | (bos << 8) | ttl)
    return out + payload


def pppoe_session(session, ppp_proto, payload):
    """PPPoE session stage (RFC 2516): ver/type 0x11, code 0, session id, length."""
    body = struct.pack("!H", ppp_proto) + payload
    return struct.pack("!BBHH", 0x11, 0x00, session, len(body)) + body


def pppoe_padi(host_uniq):
    tags = struct.pack("!HH", 0x0101, 0) + struct.pack("!HH", 0x0103, len(host_uniq)) + host_uniq
    return struct.pack("!BBHH", 0x11, 0x09, 0, len(tags)) + tags


def sll(ip, outgoing):
    """Linux cooked v1 (16 bytes): pkttype, ARPHRD_ETHER, addr len, addr, protocol."""
    return struct.pack("!HHH8sH", 4 if outgoing else 0, 1, 6,
                       (MAC_CLI if outgoing else MAC_GW), ethertype_of(ip)) + ip


def sll2(ip, outgoing, ifindex=2):
    """Linux cooked v2 (20 bytes): protocol, reserved, ifindex, ARPHRD, pkttype, addr len, addr."""
    return struct.pack("!HHIHBB8s", ethertype_of(ip), 0, ifindex, 1,
                       4 if outgoing else 0, 6, (MAC_CLI if outgoing else MAC_GW)) + ip


AF_INET = 2


def null_hdr(ip, big_endian, af_inet6):
    af = af_inet6 if ip[0] >> 4 == 6 else AF_INET
    return struct.pack(">I" if big_endian else "<I", af) + ip


def ppp_proto(ip):
    return PPP_IPV6 if ip[0] >> 4 == 6 else PPP_IPV4


# ------------------------------------------------------------- IP layer --

class IpIds:
    """IPv4 identification counters per source address (Linux-like)."""

    def __init__(self):
        self.n = {}

    def next(self, src):
        v = self.n.get(src, h32("ipid" + src) & 0xFFFF)
        self.n[src] = (v + 1) & 0xFFFF
        return v


def ipv4(src, dst, proto, payload, ttl=64, ident=0, df=True, mf=False, frag_off=0,
         options=b"", tos=0, total_len=None):
    options = options + b"\0" * (-len(options) % 4)
    ihl = 5 + len(options) // 4
    assert ihl <= 15
    flags = (0x4000 if df else 0) | (0x2000 if mf else 0) | (frag_off // 8)
    tl = ihl * 4 + len(payload) if total_len is None else total_len
    hdr = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, tos, tl, ident, flags, ttl, proto, 0,
                      ip_bytes(src), ip_bytes(dst)) + options
    c = csum(hdr)
    return hdr[:10] + struct.pack("!H", c) + hdr[12:] + payload


def ipv4_fragments(src, dst, proto, datagram, frag_size, ident, ttl=64, options=b""):
    """Splits an L4 datagram (header included, checksum already over the whole)
    into IPv4 fragments of frag_size data bytes (a multiple of 8)."""
    assert frag_size % 8 == 0
    out = []
    for off in range(0, len(datagram), frag_size):
        chunk = datagram[off: off + frag_size]
        mf = off + frag_size < len(datagram)
        out.append(ipv4(src, dst, proto, chunk, ttl=ttl, ident=ident, df=False, mf=mf,
                        frag_off=off, options=options if off == 0 else b""))
    return out


IP6_HBH, IP6_ROUTING, IP6_FRAG, IP6_DSTOPTS = 0, 43, 44, 60


def ip6_opts_body(options):
    """Hop-by-hop / destination options area padded to 8n-2 bytes (Pad1/PadN)."""
    pad = -(len(options) + 2) % 8
    if pad == 1:
        options += b"\0"
    elif pad:
        options += bytes([1, pad - 2]) + b"\0" * (pad - 2)
    return options


def ipv6(src, dst, nh, payload, hlim=64, ext=(), flow=0, tclass=0):
    """ext: [(header type, body), ...] in order; each body is what follows the
    next-header and length bytes (options, or the fragment header's 6 bytes)."""
    chain = b""
    types = [t for t, _ in ext] + [nh]
    for i, (t, body) in enumerate(ext):
        if t == IP6_FRAG:
            chain += struct.pack("!BB", types[i + 1], 0) + body
        else:
            full = struct.pack("!BB", types[i + 1], 0) + body
            assert len(full) % 8 == 0
            chain += struct.pack("!BB", types[i + 1], len(full) // 8 - 1) + body
    first = types[0]
    plen = len(chain) + len(payload)
    return struct.pack("!IHBB16s16s", (6 << 28) | (tclass << 20) | flow, plen, first, hlim,
                       ip_bytes(src), ip_bytes(dst)) + chain + payload


def ipv6_fragments(src, dst, nh, datagram, frag_size, ident, hlim=64, pre_ext=(), flow=0):
    """IPv6 fragments (RFC 8200 4.5); pre_ext = unfragmentable extension headers."""
    assert frag_size % 8 == 0
    out = []
    for off in range(0, len(datagram), frag_size):
        chunk = datagram[off: off + frag_size]
        m = 1 if off + frag_size < len(datagram) else 0
        fh = struct.pack("!HI", off | m, ident)
        out.append(ipv6(src, dst, nh, chunk, hlim=hlim, ext=list(pre_ext) + [(IP6_FRAG, fh)], flow=flow))
    return out


def ip_packet(src, dst, proto, payload, ttl=64, ident=0, df=True, options=b"", ext=(), flow=0):
    if is_v6(src):
        return ipv6(src, dst, proto, payload, hlim=ttl, ext=ext, flow=flow)
    return ipv4(src, dst, proto, payload, ttl=ttl, ident=ident, df=df, options=options)


# --------------------------------------------------------------- TCP/UDP --

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
SYN_OPTS_CLI = (b"\x02\x04\x05\xb4" b"\x04\x02"                 # MSS 1460, SACK ok
                b"\x08\x0a" + struct.pack("!II", 0x1A2B3C4D, 0) +  # timestamps
                b"\x01" b"\x03\x03\x07")                            # NOP, wscale 7
SYN_OPTS_SRV = (b"\x02\x04\x05\xb4" b"\x04\x02"
                b"\x08\x0a" + struct.pack("!II", 0x0BADCAFE, 0x1A2B3C4D) +
                b"\x01" b"\x03\x03\x07")


def tcp(src, dst, sport, dport, seq, ack, flags, payload=b"", window=502, options=b""):
    options = options + b"\0" * (-len(options) % 4)
    off = (20 + len(options)) // 4
    hdr = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                      off << 4, flags, window, 0, 0) + options
    c = l4_csum(src, dst, 6, hdr + payload)
    return hdr[:16] + struct.pack("!H", c) + hdr[18:] + payload


def udp(src, dst, sport, dport, payload, zero_csum=False):
    hdr = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0)
    if zero_csum:
        return hdr + payload
    c = l4_csum(src, dst, 17, hdr + payload) or 0xFFFF
    return hdr[:6] + struct.pack("!H", c) + payload


def icmp_echo(ident, seq, data, reply=False):
    hdr = struct.pack("!BBHHH", 0 if reply else 8, 0, 0, ident, seq)
    c = csum(hdr + data)
    return hdr[:2] + struct.pack("!H", c) + hdr[4:] + data


def icmp6_echo(src, dst, ident, seq, data, reply=False):
    hdr = struct.pack("!BBHHH", 129 if reply else 128, 0, 0, ident, seq)
    c = l4_csum(src, dst, 58, hdr + data)
    return hdr[:2] + struct.pack("!H", c) + hdr[4:] + data


def arp(op, sha, spa, tha, tpa):
    return struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, op, sha, ip_bytes(spa), tha, ip_bytes(tpa))


# --------------------------------------------------------------- tunnels --

def gre(proto, payload, key=None, seq=None, checksum=False):
    """GRE (RFC 2784/2890): C, K, S flags, version 0."""
    flags = (0x8000 if checksum else 0) | (0x2000 if key is not None else 0) | (0x1000 if seq is not None else 0)
    opt = b""
    if checksum:
        opt += b"\0\0\0\0"
    if key is not None:
        opt += struct.pack("!I", key)
    if seq is not None:
        opt += struct.pack("!I", seq)
    pkt = struct.pack("!HH", flags, proto) + opt + payload
    if checksum:
        c = csum(pkt)
        pkt = pkt[:4] + struct.pack("!H", c) + pkt[6:]
    return pkt


def erspan2(session, frame, vlan=0, cos=0, index=0):
    """ERSPAN type II header (8 bytes, draft-foschiano-erspan): ver 1, VLAN,
    COS, En 0 (original frame untagged), T 0, session id, index."""
    return struct.pack("!HHI", (1 << 12) | vlan, (cos << 13) | (0 << 11) | (0 << 10) | session,
                       index & 0xFFFFF) + frame


def vxlan(vni, frame):
    """VXLAN (RFC 7348): flags I, VNI."""
    return struct.pack("!BxxxI", 0x08, vni << 8) + frame


def geneve_opt(cls, typ, data):
    assert len(data) % 4 == 0
    return struct.pack("!HBB", cls, typ, len(data) // 4) + data


def geneve(vni, proto, payload, options=b""):
    """GENEVE (RFC 8926): ver 0, opt len in 4-byte words, protocol type, VNI."""
    assert len(options) % 4 == 0
    return struct.pack("!BBHI", len(options) // 4, 0, proto, vni << 8) + options + payload


# ------------------------------------------------------ application data --

def http_request(host, path="/", method="GET", ua="curl/7.88.1"):
    return (f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {ua}\r\n"
            f"Accept: */*\r\n\r\n").encode()


def http_response(body, status="200 OK", ctype="text/html"):
    if isinstance(body, str):
        body = body.encode()
    head = (f"HTTP/1.1 {status}\r\nServer: nginx\r\nDate: Mon, 15 Jan 2024 10:00:00 GMT\r\n"
            f"Content-Type: {ctype}\r\nContent-Length: {len(body)}\r\n\r\n").encode()
    return head + body


def dns_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def dns_query(qid, name, qtype=1, edns=False):
    q = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 1 if edns else 0) + dns_name(name) + struct.pack("!HH", qtype, 1)
    if edns:
        q += b"\0" + struct.pack("!HHIH", 41, 4096, 0, 0)
    return q


def dns_response(qid, name, qtype, rdatas, ttl=300, edns=False):
    """rdatas: list of raw RDATA; every answer points back at the question name."""
    r = struct.pack("!HHHHHH", qid, 0x8180, 1, len(rdatas), 0, 1 if edns else 0)
    r += dns_name(name) + struct.pack("!HH", qtype, 1)
    for rd in rdatas:
        r += struct.pack("!HHHIH", 0xC00C, qtype, 1, ttl, len(rd)) + rd
    if edns:
        r += b"\0" + struct.pack("!HHIH", 41, 4096, 0, 0)
    return r


def txt_rdata(text):
    out = b""
    for i in range(0, len(text), 255):
        part = text[i: i + 255]
        out += bytes([len(part)]) + part
    return out


def dns_exchange(qid, name, answer_ip):
    """A DNS query and its A/AAAA answer (real wire format)."""
    qtype = 28 if is_v6(answer_ip) else 1
    return dns_query(qid, name, qtype), dns_response(qid, name, qtype, [ip_bytes(answer_ip)])


# ---------------------------------------------------- packet sequences --

class Ev:
    """One packet of a conversation before link framing."""

    def __init__(self, ts, ip, frm):
        self.ts, self.ip, self.frm = ts, ip, frm   # frm: 'c' client or 's' server


class Seg:
    def __init__(self, d, flags, seq, ack, payload=b"", opts=b"", window=None, delay=None):
        self.d, self.flags, self.seq, self.ack, self.payload = d, flags, seq, ack, payload
        self.opts, self.window, self.delay = opts, window, delay


class TcpConn:
    """Builds a TCP conversation segment by segment, tracking both sides'
    next sequence numbers; the list `segs` can then be edited (reordered,
    duplicated, cut) before render() turns it into timestamped IP packets.

    Timing, as captured next to the client: a packet from the same side as
    the previous one follows it by 100 us, a server packet after a client
    packet by 20 ms (the RTT), a client packet after a server packet by
    50 us; Seg.delay overrides that."""

    def __init__(self, cli, srv, cport, sport, isn_c=None, isn_s=None, ttl_c=64, ttl_s=56,
                 cli_ipopts=b"", srv_ipopts=b"", ext=()):
        self.ip = {"c": cli, "s": srv}
        self.port = {"c": cport, "s": sport}
        tag = f"{cli}:{cport}-{srv}:{sport}"
        self.isn = {"c": h32("isn-c" + tag) if isn_c is None else isn_c,
                    "s": h32("isn-s" + tag) if isn_s is None else isn_s}
        self.nxt = dict(self.isn)
        self.ttl = {"c": ttl_c, "s": ttl_s}
        self.ipopts = {"c": cli_ipopts, "s": srv_ipopts}
        self.ext = ext
        self.win = {"c": 502, "s": 509}
        self.segs = []

    @staticmethod
    def other(d):
        return "s" if d == "c" else "c"

    def seg(self, d, flags, payload=b"", opts=b"", window=None, delay=None):
        ack = self.nxt[self.other(d)] if flags & ACK else 0
        s = Seg(d, flags, self.nxt[d], ack, payload, opts, window, delay)
        self.nxt[d] = (self.nxt[d] + len(payload) + (1 if flags & (SYN | FIN) else 0)) & 0xFFFFFFFF
        self.segs.append(s)
        return s

    def handshake(self):
        self.seg("c", SYN, opts=SYN_OPTS_CLI, window=64240)
        self.seg("s", SYN | ACK, opts=SYN_OPTS_SRV, window=65160)
        self.seg("c", ACK)

    def send(self, d, data, mss=1448, ack_every=2, delay=None):
        """Sends data from side d in mss-byte segments (PSH on the last); the
        peer ACKs every ack_every segments (0: never) and after the last.
        Returns the data segments."""
        out = []
        n = 0
        for off in range(0, len(data), mss):
            chunk = data[off: off + mss]
            last = off + mss >= len(data)
            s = self.seg(d, ACK | (PSH if last else 0), chunk, delay=delay if off == 0 else None)
            out.append(s)
            n += 1
            if ack_every and n % ack_every == 0 and not last:
                self.seg(self.other(d), ACK)
        return out

    def ack(self, d, delay=None):
        return self.seg(d, ACK, delay=delay)

    def close(self, first="c", delay=None):
        self.seg(first, FIN | ACK, delay=delay)
        self.seg(self.other(first), FIN | ACK)
        self.seg(first, ACK)

    def reset(self, d):
        self.seg(d, RST | ACK)

    def exchange(self, req, resp, cmss=1448, smss=1448):
        """Request, response (acknowledged); the request's last segment is
        acknowledged by the response's first."""
        self.send("c", req, mss=cmss, ack_every=0)
        self.send("s", resp, mss=smss, ack_every=2)
        self.ack("c")

    def ip_of(self, s):
        d = s.d
        o = self.other(d)
        t = tcp(self.ip[d], self.ip[o], self.port[d], self.port[o], s.seq, s.ack, s.flags,
                s.payload, window=s.window or self.win[d], options=s.opts)
        return ip_packet(self.ip[d], self.ip[o], 6, t, ttl=self.ttl[d], ident=IDS.next(self.ip[d]),
                         options=self.ipopts[d], ext=self.ext,
                         flow=(h32("fl" + self.ip[d] + str(self.port[d])) & 0xFFFFF))

    def render(self, t0):
        evs = []
        t = t0
        prev = None
        done = {}
        for s in self.segs:
            if prev is not None:
                t += s.delay if s.delay is not None else (100 * US if s.d == prev else 20 * MS if s.d == "s" else 50 * US)
            orig = getattr(s, "dup_of", None)
            ip = done[id(orig)] if orig is not None else self.ip_of(s)
            done[id(s)] = ip
            evs.append(Ev(t, ip, s.d))
            prev = s.d
        return evs


IDS = IpIds()


def tcp_conversation(cli, srv, cport, sport, req, resp, *, seg=1448, resp_seg=1448, ranges=None,
                     reorder=False, duplicate=False, drop_segments=(), start_at=0, close="fin",
                     isn_c=None, isn_s=None, **kw):
    """A whole TCP conversation: handshake, request, response, teardown.

    seg        request segment size (1: one byte per segment)
    resp_seg   response segment size
    ranges     instead of seg: request segments as (start, end[, data]) stream
               offsets; overlapping ranges make overlapping segments, and
               `data` (a bytes object as long as the request) replaces the
               request bytes for that segment (overlap with different bytes)
    reorder    send the request segments last to first
    drop_segments  indexes of request segments missing from the capture
    duplicate  every packet twice, the copy 1 us later
    start_at   the capture starts at this packet: 1 = SYN missed (SYN+ACK
               first), 3 = whole handshake missed (mid-stream)
    close      "fin" (FIN/FIN/ACK by the client first), "rst" (RST+ACK from
               the server after its response), None
    isn_c/isn_s  initial sequence numbers (0xfffffff0: data crosses 2^32)
    Returns the TcpConn; .render(t0) gives the packets."""
    c = TcpConn(cli, srv, cport, sport, isn_c=isn_c, isn_s=isn_s, **kw)
    c.handshake()
    if ranges:
        base, ackv = c.nxt["c"], c.nxt["s"]
        segs = []
        for r in ranges:
            a, b = r[0], r[1]
            src = r[2] if len(r) > 2 else req
            segs.append(Seg("c", ACK | (PSH if b == len(req) else 0), base + a, ackv, src[a:b]))
        c.segs += segs
        c.nxt["c"] = (base + len(req)) & 0xFFFFFFFF
    else:
        segs = c.send("c", req, mss=seg, ack_every=0)
    if reorder:
        i0 = c.segs.index(segs[0])
        c.segs[i0: i0 + len(segs)] = list(reversed(segs))
    for i in sorted(drop_segments, reverse=True):
        c.segs.remove(segs[i])
    c.send("s", resp, mss=resp_seg, ack_every=0 if close == "rst" else 2)
    if close == "rst":
        c.reset("s")
    else:
        c.ack("c")
        if close == "fin":
            c.close()
    c.segs = c.segs[start_at:]
    if duplicate:
        dup = []
        for s in c.segs:
            copy = Seg(s.d, s.flags, s.seq, s.ack, s.payload, s.opts, s.window, delay=1 * US)
            copy.dup_of = s   # rendered with the original's bytes (same IP id)
            dup += [s, copy]
        c.segs = dup
    return c


def udp_exchange(cli, srv, cport, sport, msgs, t0, ttl_c=64, ttl_s=56, gap=None):
    """msgs: [(from 'c'|'s', payload), ...]; replies 10 ms after requests."""
    ip = {"c": cli, "s": srv}
    port = {"c": cport, "s": sport}
    ttl = {"c": ttl_c, "s": ttl_s}
    evs = []
    t = t0
    for i, (d, payload) in enumerate(msgs):
        o = "s" if d == "c" else "c"
        if i:
            t += gap if gap is not None else 10 * MS
        u = udp(ip[d], ip[o], port[d], port[o], payload)
        evs.append(Ev(t, ip_packet(ip[d], ip[o], 17, u, ttl=ttl[d], ident=IDS.next(ip[d]),
                                   df=False), d))
    return evs


def merge(*lists):
    return sorted((e for lst in lists for e in lst), key=lambda e: e.ts)


# ---------------------------------------------------------- addresses --

C4, S4 = "192.0.2.10", "198.51.100.80"        # client, web server
DNS4 = "198.51.100.53"
C6, S6 = "2001:db8:0:1::10", "2001:db8:0:2::80"
DNS6 = "2001:db8:0:2::53"

REQ = http_request("www.example.com", "/index.html")
RESP = http_response("<html><body>offport test page</body></html>\n")
REQ6 = http_request("www.example.net", "/")
RESP6 = http_response("<html><body>ipv6 test page</body></html>\n")
DNSQ, DNSR = dns_exchange(0x1234, "www.example.com", "198.51.100.80")
DNSQ6, DNSR6 = dns_exchange(0x2345, "www.example.net", "2001:db8:0:2::80")


def std_conv(cli=C4, srv=S4, cport=51514, sport=80, req=REQ, resp=RESP, **kw):
    c = TcpConn(cli, srv, cport, sport, **kw)
    c.handshake()
    c.exchange(req, resp)
    c.close()
    return c


def std_set(t0=T0, v6=True, v4=True, dns6=False):
    """The link files' traffic: an HTTP conversation over IPv4, one over IPv6,
    and a DNS exchange."""
    evs = []
    if v4:
        evs += std_conv().render(t0)
        evs += udp_exchange(C4, DNS4, 53001, 53, [("c", DNSQ), ("s", DNSR)], t0 + 1 * SEC)
    if v6:
        evs += std_conv(C6, S6, 51516, 80, REQ6, RESP6).render(t0 + 2 * SEC)
    if dns6:
        evs += udp_exchange(C6, DNS6, 53002, 53, [("c", DNSQ6), ("s", DNSR6)], t0 + 3 * SEC)
    return merge(evs)


def eth_frame(e):
    """Ethernet frame as captured on the client: its own frames as sent
    (54-byte bare ACKs), received frames padded to the 60-byte minimum (the
    padding is not part of the IP packet)."""
    if e.frm == "c":
        return ether(MAC_GW, MAC_CLI, ethertype_of(e.ip), e.ip)
    f = ether(MAC_CLI, MAC_GW, ethertype_of(e.ip), e.ip)
    return f + b"\0" * (60 - len(f)) if len(f) < 60 else f


# ------------------------------------------------------------ the files --

FILES = {}      # name -> bytes
README = []     # (name, text)


def out(name, data, text):
    """Registers a file; IPv4 ids restart so that each file's bytes depend
    only on its own generator."""
    FILES[name] = data
    IDS.n.clear()
    README.append((name, text))


def pcap_of(linktype, evs, frame_fn, **kw):
    p = Pcap(linktype, **kw)
    for e in evs:
        p.add(e.ts, frame_fn(e))
    return p


L = len
STD_FLOWS = (f"TCP {C4}:51514 -> {S4}:80 (syn; first bytes c->s {L(REQ)}, s->c {L(RESP)}); "
             f"TCP [{C6}]:51516 -> [{S6}]:80 (syn; {L(REQ6)}/{L(RESP6)}); "
             f"UDP {C4}:53001 -> {DNS4}:53 (port; datagrams {L(DNSQ)}/{L(DNSR)})")
STD4 = (f"TCP {C4}:51514 -> {S4}:80 (syn; {L(REQ)}/{L(RESP)}); "
        f"UDP {C4}:53001 -> {DNS4}:53 (port; {L(DNSQ)}/{L(DNSR)})")
STD6 = (f"TCP [{C6}]:51516 -> [{S6}]:80 (syn; {L(REQ6)}/{L(RESP6)}); "
        f"UDP [{C6}]:53002 -> [{DNS6}]:53 (port; {L(DNSQ6)}/{L(DNSR6)})")


def gen_links():
    evs = std_set()
    n = len(evs)
    head = f"{n} packets; 2 TCP + 1 UDP flows: {STD_FLOWS}."

    out("link_en10mb.pcap", pcap_of(1, evs, eth_frame).bytes(),
        f"LINKTYPE_ETHERNET (1). {head}")
    out("link_sll.pcap", pcap_of(113, evs, lambda e: sll(e.ip, e.frm == "c")).bytes(),
        f"LINKTYPE_LINUX_SLL (113), outgoing/incoming packet types. {head}")
    out("link_sll2.pcap", pcap_of(276, evs, lambda e: sll2(e.ip, e.frm == "c")).bytes(),
        f"LINKTYPE_LINUX_SLL2 (276), ifindex 2. {head}")
    out("link_raw101.pcap", pcap_of(101, evs, lambda e: e.ip).bytes(),
        f"LINKTYPE_RAW (101; libpcap reports DLT_RAW 12). {head}")
    out("link_raw12.pcap", pcap_of(12, evs, lambda e: e.ip).bytes(),
        f"link type field 12 (old files; libpcap 1.10.3 passes 12 through, pcap_datalink() = DLT_RAW 12 on Linux). {head}")

    ev4 = merge(std_conv().render(T0),
                udp_exchange(C4, DNS4, 53001, 53, [("c", DNSQ), ("s", DNSR)], T0 + 1 * SEC))
    out("link_ipv4.pcap", pcap_of(228, ev4, lambda e: e.ip).bytes(),
        f"LINKTYPE_IPV4 (228), IPv4 only. {len(ev4)} packets; 1 TCP + 1 UDP flows: {STD4}.")
    ev6 = merge(std_conv(C6, S6, 51516, 80, REQ6, RESP6).render(T0),
                udp_exchange(C6, DNS6, 53002, 53, [("c", DNSQ6), ("s", DNSR6)], T0 + 1 * SEC))
    out("link_ipv6.pcap", pcap_of(229, ev6, lambda e: e.ip).bytes(),
        f"LINKTYPE_IPV6 (229), IPv6 only. {len(ev6)} packets; 1 TCP + 1 UDP flows: {STD6}.")

    out("link_null_le.pcap", pcap_of(0, evs, lambda e: null_hdr(e.ip, False, 30)).bytes(),
        f"LINKTYPE_NULL (0), 4-byte family in little-endian host order: AF_INET 2, IPv6 as 30 (macOS AF_INET6). {head}")
    out("link_null_be.pcap", pcap_of(0, evs, lambda e: null_hdr(e.ip, True, 24)).bytes(),
        f"LINKTYPE_NULL (0), 4-byte family in big-endian host order: AF_INET 2, IPv6 as 24 (NetBSD/OpenBSD AF_INET6). {head}")
    out("link_loop.pcap", pcap_of(108, evs, lambda e: null_hdr(e.ip, True, 24)).bytes(),
        f"LINKTYPE_LOOP (108, OpenBSD loopback), family in network order: 2 / 24. {head}")

    # DLT_PPP: with or without the ff 03 address/control bytes; both appear.
    def ppp_frame(e):
        hdr = struct.pack("!H", ppp_proto(e.ip))
        return (b"\xff\x03" + hdr if e.ip[0] >> 4 == 6 else hdr) + e.ip
    out("link_ppp.pcap", pcap_of(9, evs, ppp_frame).bytes(),
        f"LINKTYPE_PPP (9): IPv4 packets start with the 2-byte PPP protocol 0x0021, IPv6 packets with ff 03 00 57 "
        f"(HDLC address/control present). {head}")
    out("link_ppp_hdlc.pcap", pcap_of(50, evs, lambda e: b"\xff\x03" + struct.pack("!H", ppp_proto(e.ip)) + e.ip).bytes(),
        f"LINKTYPE_PPP_HDLC (50, DLT_PPP_SERIAL): ff 03 + PPP protocol, no FCS. {head}")
    out("link_c_hdlc.pcap", pcap_of(104, evs, lambda e: b"\x0f\x00" + struct.pack("!H", ethertype_of(e.ip)) + e.ip).bytes(),
        f"LINKTYPE_C_HDLC (104, Cisco HDLC): 0f 00 + ethertype. {head}")

    ev_u = std_conv().render(T0)[:4]
    out("link_unsupported.pcap", pcap_of(147, ev_u, eth_frame).bytes(),
        f"LINKTYPE_USER0 (147) holding {len(ev_u)} Ethernet frames: opens, but offport must refuse the link type "
        f"(error naming it, no packets decoded).")


def gen_encaps():
    evs = merge(std_conv().render(T0),
                udp_exchange(C4, DNS4, 53001, 53, [("c", DNSQ), ("s", DNSR)], T0 + 1 * SEC))
    n = len(evs)
    flows = f"1 TCP + 1 UDP flows: {STD4}"

    def tagged(tags):
        return lambda e: ether_tagged(MAC_GW if e.frm == "c" else MAC_CLI, MAC_CLI if e.frm == "c" else MAC_GW,
                                      tags, ethertype_of(e.ip), e.ip)
    out("encap_vlan.pcap", pcap_of(1, evs, tagged([(ETH_VLAN, 100)])).bytes(),
        f"Ethernet + 802.1Q VID 100. {n} packets, all tagged (vlan_id 100, vlan_depth 1); {flows}.")
    out("encap_qinq.pcap", pcap_of(1, evs, tagged([(ETH_QINQ, 200), (ETH_VLAN, 100)])).bytes(),
        f"Ethernet + 802.1ad S-tag 0x88a8 VID 200 + 802.1Q C-tag VID 100. {n} packets (vlan_depth 2; "
        f"innermost VID 100); {flows}.")

    def mpls_frame(e):
        return ether(MAC_GW if e.frm == "c" else MAC_CLI, MAC_CLI if e.frm == "c" else MAC_GW, ETH_MPLS,
                     mpls([16004, 299776] if e.frm == "c" else [16010, 299792], e.ip))
    out("encap_mpls.pcap", pcap_of(1, evs, mpls_frame).bytes(),
        f"Ethernet + MPLS unicast (0x8847), 2 labels (c->s 16004/299776, s->c 16010/299792, S bit on the second), "
        f"then IPv4. {n} packets (mpls_depth 2); {flows}.")

    p = Pcap(1)
    p.add(T0 - 1 * SEC, ether(MAC_BCAST, MAC_CLI, ETH_PPPOE_DISC, pppoe_padi(b"\x00\x00\x12\x34")))
    for e in evs:
        p.add(e.ts, ether(MAC_GW if e.frm == "c" else MAC_CLI, MAC_CLI if e.frm == "c" else MAC_GW,
                          ETH_PPPOE_SESS, pppoe_session(0x1A2B, PPP_IPV4, e.ip)))
    out("encap_pppoe.pcap", p.bytes(),
        f"1 PPPoE discovery PADI (0x8863, broadcast: non-IP) then {n} PPPoE session packets (0x8864, session 0x1a2b, "
        f"PPP 0x0021 IPv4); {flows}.")

    # IPv4 options: client packets carry Record Route (IHL 15, the maximum),
    # server packets Router Alert (IHL 6).
    rr = bytes([7, 39, 4]) + b"\0" * 36
    ra = bytes([148, 4, 0, 0])
    c = std_conv(cli_ipopts=rr, srv_ipopts=ra)
    evo = merge(c.render(T0))
    u = udp(C4, DNS4, 53001, 53, DNSQ)
    ur = udp(DNS4, C4, 53, 53001, DNSR)
    evo += [Ev(T0 + 1 * SEC, ipv4(C4, DNS4, 17, u, ident=IDS.next(C4), df=False, options=ra), "c"),
            Ev(T0 + 1 * SEC + 10 * MS, ipv4(DNS4, C4, 17, ur, ttl=56, ident=IDS.next(DNS4), df=False,
                                            options=b"\x01\x01\x01\x01"), "s")]
    out("ipv4_options.pcap", pcap_of(1, evo, eth_frame).bytes(),
        f"Ethernet/IPv4 with options. TCP: client packets Record Route (IHL 15, 40 option bytes), server packets "
        f"Router Alert (IHL 6). UDP query Router Alert, reply 4 NOPs (IHL 6). {len(evo)} packets; {flows}.")

    hbh = (IP6_HBH, ip6_opts_body(bytes([1, 4, 0, 0, 0, 0])))           # PadN
    dst = (IP6_DSTOPTS, ip6_opts_body(bytes([0x1E, 2, 0xAB, 0xCD])))   # an experimental option (RFC 4727), skip type 00
    c6 = std_conv(C6, S6, 51516, 80, REQ6, RESP6, ext=[hbh, dst])
    evx = c6.render(T0)
    u = udp(C6, DNS6, 53002, 53, DNSQ6)
    ur = udp(DNS6, C6, 53, 53002, DNSR6)
    dst16 = (IP6_DSTOPTS, ip6_opts_body(bytes([1, 12]) + b"\0" * 12))    # 16-byte destination options
    evx += [Ev(T0 + 1 * SEC, ipv6(C6, DNS6, 17, u, ext=[dst16]), "c"),
            Ev(T0 + 1 * SEC + 10 * MS, ipv6(DNS6, C6, 17, ur, hlim=56, ext=[hbh, dst16]), "s")]
    out("ipv6_ext.pcap", pcap_of(1, evx, eth_frame).bytes(),
        f"Ethernet/IPv6 with extension headers. Every TCP packet: hop-by-hop (8 bytes, PadN) + destination options "
        f"(8 bytes, option 0x1e) before TCP. DNS query: destination options (16 bytes); reply: hop-by-hop + "
        f"destination options (16). {len(evx)} packets; 1 TCP + 1 UDP flows: {STD6}.")


def gen_frags():
    # Three DNS lookups over UDP; each response is a large TXT answer that
    # arrives fragmented. Query 1: response in order; query 2: fragments last
    # to first; query 3: middle fragment never arrives.
    def big(qid, name, size):
        """A TXT query (EDNS0, 4096) and an answer of about size bytes."""
        q = dns_query(qid, name, qtype=16, edns=True)
        text = b"v=offport-test " + hashlib.sha256(name.encode()).hexdigest().encode() * 200
        rds = []
        body = len(dns_response(qid, name, 16, [], edns=True))
        while body < size:
            rds.append(txt_rdata(text[len(rds) * 200: len(rds) * 200 + 200]))
            body += 12 + len(rds[-1])
        return q, dns_response(qid, name, 16, rds, edns=True)

    for v6, fname in ((False, "frag_ipv4.pcap"), (True, "frag_ipv6.pcap")):
        cli = C6 if v6 else C4
        srv = DNS6 if v6 else DNS4
        fsize = 1448 if v6 else 1480
        evs = []
        desc = []
        for k, (order, name) in enumerate(((None, "big1.example.com"), ("reverse", "big2.example.com"),
                                           ("hole", "big3.example.com"))):
            cport = 40001 + k
            q, r = big(0x3000 + k, name, 2960 - 40 * k)
            t = T0 + k * SEC
            qi = ip_packet(cli, srv, 17, udp(cli, srv, cport, 53, q), ident=IDS.next(cli), df=False)
            evs.append(Ev(t, qi, "c"))
            dgram = udp(srv, cli, 53, cport, r)
            ident = 0x4A00 + k
            if v6:
                frags = ipv6_fragments(srv, cli, 17, dgram, fsize, 0x8A000000 + k, hlim=56)
            else:
                frags = ipv4_fragments(srv, cli, 17, dgram, fsize, ident, ttl=56)
            idx = list(range(len(frags)))
            if order == "reverse":
                idx = idx[-1:] + idx[:-1]      # last, first, middle
            elif order == "hole":
                idx = [i for i in idx if i != 1]
            for j, i in enumerate(idx):
                evs.append(Ev(t + 10 * MS + j * 100 * US, frags[i], "s"))
            state = {None: "in order, reassembled", "reverse": "sent in the order last, first, middle; reassembled",
                     "hole": f"fragment 2 of {len(frags)} missing: never completed (frag_flushed at EOF), no datagram delivered"}[order]
            desc.append(f"UDP {br(cli)}:{cport} -> {br(srv)}:53 (port): query {len(q)} bytes, "
                        f"response {len(r)} bytes (UDP {len(dgram)}) in {len(frags)} fragments of <= {fsize} data bytes "
                        f"[{', '.join(str(min(fsize, len(dgram) - i * fsize)) for i in range(len(frags)))}], {state}")
        p = pcap_of(1, evs, eth_frame)
        kind = "IPv6 fragment header, ids 0x8a000000+k" if v6 else "IPv4 MF/offset, DF clear, ids 0x4a00+k"
        out(fname, p.bytes(),
            f"Ethernet, {kind}. {len(evs)} packets; 3 UDP flows (the third has only the client's datagram): "
            + "; ".join(desc) + ". Expected: frag_datagrams 3, frag_reassembled 2, frag_flushed 1; "
            f"2 reassembled UDP packets (reassembled=1, payload_len = response length).")


def gen_tunnels():
    base = merge(std_conv().render(T0),
                 udp_exchange(C4, DNS4, 53001, 53, [("c", DNSQ), ("s", DNSR)], T0 + 1 * SEC))
    n = len(base)
    flows = f"1 TCP + 1 UDP flows (inner): {STD4}"
    O1, O2 = "203.0.113.1", "203.0.113.2"

    def outer_eth(ip, frm):
        return ether(MAC_GW if frm == "c" else MAC_CLI, MAC_CLI if frm == "c" else MAC_GW, ethertype_of(ip), ip)

    # GRE with key: router O1 on the client side, O2 on the server side.
    p = Pcap(1)
    for e in base:
        a, b = (O1, O2) if e.frm == "c" else (O2, O1)
        o = ipv4(a, b, 47, gre(ETH_IPV4, e.ip, key=0x00001234), ttl=255, ident=IDS.next(a), df=False)
        p.add(e.ts, outer_eth(o, e.frm))
    out("tunnel_gre.pcap", p.bytes(),
        f"Ethernet/IPv4 {O1} <-> {O2} (swapped per direction) / GRE key 0x1234, protocol 0x0800 / inner IPv4. "
        f"{n} packets; {flows}; tunnel gre, id 0x1234 (4660) valid.")

    # ERSPAN II: a switch (M1) mirrors both directions to a collector (M2).
    M1, M2 = "198.51.100.1", "198.51.100.2"
    p = Pcap(1)
    for i, e in enumerate(base):
        inner = eth_frame(e)
        o = ipv4(M1, M2, 47, gre(ETH_ERSPAN2, erspan2(100, inner), seq=i), ttl=64, ident=IDS.next(M1), df=False)
        p.add(e.ts, ether(MAC_GW, mac("00:00:5e:00:53:10"), ETH_IPV4, o))
    out("tunnel_erspan.pcap", p.bytes(),
        f"Ethernet/IPv4 {M1} -> {M2} (all packets one way, as mirrored) / GRE with sequence (S bit), protocol 0x88be / "
        f"ERSPAN type II session 100 / inner Ethernet / IPv4. {n} packets; {flows}; tunnel erspan, id 100.")

    # VXLAN: VTEPs V1 (client side) and V2; outer source port from the inner flow hash.
    V1, V2 = "203.0.113.11", "203.0.113.12"
    p = Pcap(1)
    for e in base:
        a, b = (V1, V2) if e.frm == "c" else (V2, V1)
        inner = ether(mac("00:00:5e:00:53:21") if e.frm == "c" else mac("00:00:5e:00:53:22"),
                      mac("00:00:5e:00:53:22") if e.frm == "c" else mac("00:00:5e:00:53:21"),
                      ethertype_of(e.ip), e.ip)
        sport = 49152 + (h32(f"vx{e.ip[12:20].hex()}{e.frm}{e.ip[9]}") % 16384)
        u = udp(a, b, sport, 4789, vxlan(4242, inner), zero_csum=True)
        p.add(e.ts, outer_eth(ipv4(a, b, 17, u, ttl=64, ident=IDS.next(a), df=False), e.frm))
    out("tunnel_vxlan.pcap", p.bytes(),
        f"Ethernet/IPv4 VTEPs {V1} <-> {V2} (swapped per direction) / UDP dport 4789 (outer checksum 0, as RFC 7348 "
        f"allows), sport from the inner flow / VXLAN VNI 4242 / inner Ethernet / IPv4. {n} packets; {flows}; "
        f"tunnel vxlan, id 4242.")

    # GENEVE as AWS Gateway Load Balancer sends it to an appliance: VNI 0,
    # protocol 0x0800 (inner IP, no Ethernet), three AWS options (class
    # 0x0108): type 1 GWLBE/VPC endpoint id (8 bytes), type 2 attachment id
    # (8 bytes), type 3 flow cookie (4 bytes).
    G, A = "198.51.100.10", "198.51.100.20"
    p = Pcap(1)
    for e in base:
        fid = h32(f"cookie{min(e.ip[12:16], e.ip[16:20]).hex()}{e.ip[9]}")
        opts = (geneve_opt(0x0108, 1, struct.pack("!Q", 0x0A1B2C3D4E5F6071)) +
                geneve_opt(0x0108, 2, struct.pack("!Q", 0x0123456789ABCDEF)) +
                geneve_opt(0x0108, 3, struct.pack("!I", fid)))
        sport = 49152 + (fid % 16384)
        u = udp(G, A, sport, 6081, geneve(0, ETH_IPV4, e.ip, opts))
        p.add(e.ts, ether(MAC_CLI, MAC_GW, ETH_IPV4, ipv4(G, A, 17, u, ttl=64, ident=IDS.next(G), df=True)))
    out("tunnel_geneve.pcap", p.bytes(),
        f"Ethernet/IPv4 {G} (GWLB) -> {A} (appliance), both inner directions / UDP 6081 / GENEVE VNI 0, "
        f"protocol 0x0800, 32 option bytes (AWS class 0x0108 types 1, 2, 3) / inner IPv4 (no inner Ethernet). "
        f"{n} packets; {flows}; tunnel geneve, id 0.")

    p = Pcap(1)
    for e in base:
        a, b = (O1, O2) if e.frm == "c" else (O2, O1)
        p.add(e.ts, outer_eth(ipv4(a, b, 4, e.ip, ttl=64, ident=IDS.next(a), df=False), e.frm))
    out("tunnel_ipip.pcap", p.bytes(),
        f"Ethernet/IPv4 {O1} <-> {O2} protocol 4 / inner IPv4. {n} packets; {flows}; tunnel ipip.")

    base6 = merge(std_conv(C6, S6, 51516, 80, REQ6, RESP6).render(T0),
                  udp_exchange(C6, DNS6, 53002, 53, [("c", DNSQ6), ("s", DNSR6)], T0 + 1 * SEC))
    p = Pcap(1)
    for e in base6:
        a, b = (O1, O2) if e.frm == "c" else (O2, O1)
        p.add(e.ts, outer_eth(ipv4(a, b, 41, e.ip, ttl=64, ident=IDS.next(a), df=False), e.frm))
    out("tunnel_6in4.pcap", p.bytes(),
        f"Ethernet/IPv4 {O1} <-> {O2} protocol 41 / inner IPv6. {len(base6)} packets; 1 TCP + 1 UDP flows (inner): "
        f"{STD6}; tunnel 6in4.")

    # Too deep: 11 IPv4-in-IPv4 layers around a TCP conversation (12 IPv4
    # headers); a DNS exchange in a single IP-in-IP layer shows the file is
    # otherwise fine.
    deep = std_conv().render(T0)
    frames = []
    for e in deep:
        ip = e.ip
        for k in range(11):
            a, b = f"203.0.113.{101 + k}", f"203.0.113.{201 + k}"
            if e.frm == "s":
                a, b = b, a
            ip = ipv4(a, b, 4, ip, ttl=64, ident=0, df=True)
        frames.append((e.ts, outer_eth(ip, e.frm)))
    for e in udp_exchange(C4, DNS4, 53001, 53, [("c", DNSQ), ("s", DNSR)], T0 + 1 * SEC):
        a, b = (O1, O2) if e.frm == "c" else (O2, O1)
        frames.append((e.ts, outer_eth(ipv4(a, b, 4, e.ip, ttl=64, ident=IDS.next(a), df=False), e.frm)))
    allp = Pcap(1)
    for ts, f in sorted(frames, key=lambda x: x[0]):
        allp.add(ts, f)
    out("tunnel_deep.pcap", allp.bytes(),
        f"Ethernet. {len(deep)} packets of an HTTP conversation ({C4}:51514 -> {S4}:80) each wrapped in 11 nested "
        f"IPv4-in-IPv4 layers (12 IPv4 headers, 203.0.113.101..111 <-> .201..211): all dropped as "
        f"DROP_TUNNEL_TOO_DEEP, no TCP flow. Plus a DNS exchange in 1 IP-in-IP layer ({O1} <-> {O2}) that decodes: "
        f"0 TCP + 1 UDP flow: UDP {C4}:53001 -> {DNS4}:53 (port; {L(DNSQ)}/{L(DNSR)}); tunnel ipip.")


def gen_tcp():
    def save(name, evs, text, **kw):
        out(name, pcap_of(1, evs, eth_frame, **kw).bytes(), text)

    # 1-byte client segments.
    c = tcp_conversation(C4, S4, 51600, 80, REQ, RESP, seg=1)
    save("tcp_split1.pcap", c.render(T0),
         f"{len(c.segs)} packets; 1 TCP flow {C4}:51600 -> {S4}:80 (syn). The request ({L(REQ)} bytes) is sent in "
         f"{L(REQ)} one-byte segments; first bytes c->s {L(REQ)} (the whole request, in order), s->c {L(RESP)}.")

    # Reversed client segments (10 bytes each).
    c = tcp_conversation(C4, S4, 51601, 80, REQ, RESP, seg=10, reorder=True)
    segs = [s for s in c.segs if s.d == "c" and s.payload]
    save("tcp_reorder.pcap", c.render(T0),
         f"{len(c.segs)} packets; 1 TCP flow {C4}:51601 -> {S4}:80 (syn). The request ({L(REQ)} bytes) is sent in "
         f"{len(segs)} segments of <= 10 bytes in reverse order (last first); first bytes c->s {L(REQ)} equal to the "
         f"request, s->c {L(RESP)}; stream: {len(segs) - 1} out_of_order segments before the first one fills the hole.")

    # Every packet twice (a SPAN port that copies ingress and egress).
    c = tcp_conversation(C4, S4, 51602, 80, REQ, RESP, duplicate=True)
    evs = c.render(T0)
    nseg_c = sum(1 for s in c.segs if s.d == "c" and s.payload) // 2
    nseg_s = sum(1 for s in c.segs if s.d == "s" and s.payload) // 2
    save("tcp_dup.pcap", evs,
         f"{len(evs)} packets: every packet of a {len(c.segs) // 2}-packet conversation twice, the copy 1 us later "
         f"(identical bytes, SYN included). 1 TCP flow {C4}:51602 -> {S4}:80 (syn; the duplicate SYN is not a new "
         f"flow); first bytes c->s {L(REQ)}, s->c {L(RESP)}; {nseg_c + nseg_s} retransmissions "
         f"({nseg_c} c->s, {nseg_s} s->c); pkts per direction doubled.")

    # Overlaps: [0,30) [20,50) same bytes; [50,80); [70,len) whose first 10
    # bytes differ from what [50,80) carried. The first copy is kept.
    ln = L(REQ)
    forged = REQ[:70] + b"X" * 10 + REQ[80:]
    c = tcp_conversation(C4, S4, 51603, 80, REQ, RESP,
                         ranges=[(0, 30), (20, 50), (50, 80), (70, ln, forged)])
    save("tcp_overlap.pcap", c.render(T0),
         f"{len(c.segs)} packets; 1 TCP flow {C4}:51603 -> {S4}:80 (syn). Request ({ln} bytes) as segments "
         f"[0,30) [20,50) [50,80) [70,{ln}) (stream offsets): 2 overlaps; the second ([70,80)) carries 'XXXXXXXXXX' "
         f"instead of the original bytes: overlap_mismatch 1, first copy kept, so first bytes c->s = the original "
         f"request ({ln} bytes, no 'X'); s->c {L(RESP)}.")

    # Mid-stream: the capture starts after the handshake and after the first
    # request; the first packet is the server's response, then a second
    # request/response on the same connection.
    c = TcpConn(C4, S4, 51604, 80)
    c.handshake()
    req1 = http_request("www.example.com", "/first")
    resp1 = http_response("<p>first</p>\n")
    req2 = http_request("www.example.com", "/second")
    resp2 = http_response("<p>second</p>\n")
    c.send("c", req1, ack_every=0)
    cut = len(c.segs)
    c.send("s", resp1, ack_every=0)
    c.ack("c")
    c.exchange(req2, resp2)
    c.close()
    c.segs = c.segs[cut:]
    save("tcp_midstream.pcap", c.render(T0),
         f"{len(c.segs)} packets; no SYN; the first packet is the server's response ({L(resp1)} bytes) to a request "
         f"sent before the capture, then a second request ({L(req2)}) / response ({L(resp2)}) and FIN teardown. "
         f"1 TCP flow: client {C4}:51604, server {S4}:80 (port: 80 < 1024, guessed although the server spoke "
         f"first). First bytes (stream starts at the first seen sequence number): c->s {L(req2)}, "
         f"s->c {L(resp1) + L(resp2)} (both responses).")

    # Mid-stream on two registered ports (client 20000, server 9000, one
    # port range): the port rules cannot tell, the first packet is the
    # server's, so the first-packet guess is wrong until the payload (an
    # HTTP response in the "client's" bytes) turns the flow round.
    c = TcpConn(C4, S4, 20000, 9000)
    c.handshake()
    c.send("c", req1, ack_every=0)
    cut = len(c.segs)
    c.send("s", resp1, ack_every=0)
    c.ack("c")
    c.exchange(req2, resp2)
    c.close()
    c.segs = c.segs[cut:]
    save("tcp_midstream_reversed.pcap", c.render(T0),
         f"{len(c.segs)} packets; like tcp_midstream.pcap on ports 20000 (client) and 9000 (server): "
         f"the first packet is the server's response, so the first-packet rule guesses the server as "
         f"client; the HTTP bytes turn the flow round. 1 TCP flow: client {C4}:20000, server "
         f"{S4}:9000 (orientation basis payload). The server's HTTP status line alone would decide, but "
         f"no run is made before the other side speaks: the verdict comes with the second request, so "
         f"the first bytes kept are c->s {L(req2)}, s->c {L(resp1)}.")

    # One side only, as on a tap that sees one direction: mid-stream, only
    # the server's packets. The first-packet rule takes the server for the
    # client, so "the server" never speaks and the flow is judged when its
    # "client" is done: flow 1 at the server's FIN 2 s later, flow 2 (no
    # FIN) when the input ends. Both are turned round by the payload.
    one_side = []
    for k, (cport, sport, fin) in enumerate(((20002, 9002, True), (20003, 9003, False))):
        c = TcpConn(C4, S4, cport, sport)
        c.handshake()
        c.send("c", req1, ack_every=0)
        cut = len(c.segs)
        c.send("s", resp1, ack_every=0)
        if fin:
            c.seg("s", FIN | ACK, delay=2 * SEC)
        c.segs = [g for g in c.segs[cut:] if g.d == "s"]
        one_side.append(c.render(T0 + k * 100 * MS))
    save("tcp_one_side.pcap", merge(*one_side),
         f"3 packets; only the server's side of two mid-stream connections (HTTP responses of "
         f"{L(resp1)} bytes). 2 TCP flows, each first guessed with the server as client and turned "
         f"round by the payload (orientation basis payload): {C4}:20002 -> {S4}:9002, whose server "
         f"sends a FIN 2 s later: decided then (its guessed client's direction done); "
         f"{C4}:20003 -> {S4}:9003: decided at the end of the input. First bytes c->s 0, "
         f"s->c {L(resp1)} each.")

    # SYN+ACK first: the client's SYN was missed. Ports 40001 -> 8080 are
    # both in 1024..49151 so only the SYN+ACK rule can orient the flow.
    rq = http_request("www.example.com:8080", "/api")
    rs = http_response('{"ok":true}\n', ctype="application/json")
    c = tcp_conversation(C4, S4, 40001, 8080, rq, rs, start_at=1)
    save("tcp_synack_first.pcap", c.render(T0),
         f"{len(c.segs)} packets; the first is the SYN+ACK ({S4}:8080 -> {C4}:40001), the SYN is missing. "
         f"1 TCP flow: client {C4}:40001, server {S4}:8080 (synack); first bytes c->s {L(rq)}, s->c {L(rs)} "
         f"(streams based on the SYN+ACK's ISN+1 and the client's first sequence number).")

    # Sequence wrap: client ISN 0xfffffff0, server ISN 0xffffffa0; both
    # directions' data cross 2^32.
    c = tcp_conversation(C4, S4, 51605, 80, REQ, RESP, isn_c=0xFFFFFFF0, isn_s=0xFFFFFFA0)
    save("tcp_wrap.pcap", c.render(T0),
         f"{len(c.segs)} packets; 1 TCP flow {C4}:51605 -> {S4}:80 (syn). Client ISN 0xfffffff0 (request bytes "
         f"15.. at seq 0 after the wrap), server ISN 0xffffffa0 (response byte 95 at seq 0); first bytes c->s "
         f"{L(REQ)}, s->c {L(RESP)}, both complete and in order.")

    # RST by the server after a partial answer.
    bad = http_response("bad request\n", status="400 Bad Request", ctype="text/plain")
    c = tcp_conversation(C4, S4, 51606, 80, REQ, bad, close="rst")
    save("tcp_rst.pcap", c.render(T0),
         f"{len(c.segs)} packets; 1 TCP flow {C4}:51606 -> {S4}:80 (syn): handshake, request ({L(REQ)}), a 400 "
         f"response ({L(bad)}), then RST+ACK from the server (no FIN). Flow ends RST; first bytes c->s {L(REQ)}, "
         f"s->c {L(bad)}.")

    # Reuse: the same 4-tuple twice; the second SYN 2 s after the first close.
    c1 = std_conv(C4, S4, 51607, 80)
    c2 = std_conv(C4, S4, 51607, 80, isn_c=h32("reuse2c"), isn_s=h32("reuse2s"),
                  req=http_request("www.example.com", "/again"), resp=http_response("<p>again</p>\n"))
    e1 = c1.render(T0)
    e2 = c2.render(e1[-1].ts + 2 * SEC)
    r2q, r2s = c2.segs[3].payload, c2.segs[4].payload
    save("tcp_reuse.pcap", e1 + e2,
         f"{len(e1) + len(e2)} packets; 2 TCP flows on the same 4-tuple {C4}:51607 -> {S4}:80, both syn: the first "
         f"closed by FIN/FIN/ACK (ends FIN), the second's SYN 2 s after the last ACK, new ISNs (flow reused "
         f"counter 1 if the first was still lingering). First bytes: flow 1 {L(REQ)}/{L(RESP)}, flow 2 "
         f"{L(r2q)}/{L(r2s)}.")

    # Hole: the request in 4 segments; the second never captured (the server
    # did get it: its ACK covers the whole request).
    sz = -(-L(REQ) // 4)
    c = tcp_conversation(C4, S4, 51608, 80, REQ, RESP, seg=sz, drop_segments=[1])
    save("tcp_hole.pcap", c.render(T0),
         f"{len(c.segs)} packets; 1 TCP flow {C4}:51608 -> {S4}:80 (syn). Request ({L(REQ)} bytes) in 4 segments of "
         f"{sz}; segment 2 (bytes {sz}..{2 * sz - 1}) missing from the capture. First bytes c->s: contiguous prefix "
         f"{sz}, held {L(REQ) - sz}; s->c {L(RESP)} complete.")

    # Bulk: a short request, then 200 KiB in 1448-byte segments.
    body = b"".join(hashlib.sha256(b"bulk%d" % i).digest() for i in range(200 * 1024 // 32))
    resp = (b"HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: application/octet-stream\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body)) + body
    c = TcpConn(C4, S4, 51609, 80)
    c.handshake()
    req = http_request("www.example.com", "/blob.bin")
    c.send("c", req, ack_every=0)
    ds = c.send("s", resp, ack_every=2)
    c.ack("c")
    c.close()
    evs = c.render(T0)
    save("tcp_bulk.pcap", evs,
         f"{len(evs)} packets; 1 TCP flow {C4}:51609 -> {S4}:80 (syn): request {L(req)} bytes, response "
         f"{L(resp)} bytes (headers + 204800-byte body) in {len(ds)} segments of 1448 (last {L(resp) % 1448}), "
         f"client ACK every 2. First bytes s->c: capped at the stream budget (segments past it count as beyond_cap). "
         f"The one file larger than a few KiB.")


def gen_udp():
    evs = []
    d = []
    # 1. normal DNS
    q, r = dns_exchange(0x5001, "a.example.org", "203.0.113.50")
    evs += udp_exchange(C4, DNS4, 53101, 53, [("c", q), ("s", r)], T0)
    d.append(f"{C4}:53101 -> {DNS4}:53 (port; {L(q)}/{L(r)})")
    # 2. the first captured packet is the answer (53 -> ephemeral), then a second lookup
    q1, r1 = dns_exchange(0x5002, "b.example.org", "203.0.113.51")
    q2, r2 = dns_exchange(0x5003, "c.example.org", "203.0.113.52")
    evs += udp_exchange("192.0.2.11", DNS4, 53102, 53, [("s", r1), ("c", q2), ("s", r2)], T0 + 1 * SEC)
    d.append(f"192.0.2.11:53102 -> {DNS4}:53 (port, although the first packet came from port 53; c->s {L(q2)}, "
             f"s->c {L(r1)}+{L(r2)} in 2 datagrams)")
    # 3. 40000 <-> 50000; the first packet comes from 40000: rule 3 still makes 40000 the server.
    a = hbytes("hi1", 48)
    evs += udp_exchange("192.0.2.12", "198.51.100.60", 40000, 50000,
                        [("c", a), ("s", hbytes("hi2", 64)), ("c", hbytes("hi3", 48))], T0 + 2 * SEC)
    d.append("198.51.100.60:50000 -> 192.0.2.12:40000 (port rule 3: 50000 is dynamic, so 40000 is the server even "
             "though 192.0.2.12:40000 sent the first packet; c->s 64, s->c 48+48)")
    # 4. 30000 <-> 31000: no port rule applies -> first packet.
    evs += udp_exchange("192.0.2.13", "198.51.100.61", 31000, 30000,
                        [("c", hbytes("x1", 100)), ("s", hbytes("x2", 120))], T0 + 3 * SEC)
    d.append("192.0.2.13:31000 -> 198.51.100.61:30000 (first_packet; 100/120)")
    # 5. NTP 123 <-> 123: both below 1024 -> first packet.
    ntp_req = bytes([0x23, 0, 6, 0xE9]) + b"\0" * 36 + struct.pack("!II", 0xE94F2C80, 0)
    ntp_rsp = bytes([0x24, 2, 6, 0xE9]) + b"\0" * 8 + b"\xc0\x00\x02\x01" + b"\0" * 24 + struct.pack("!II", 0xE94F2C80, 0x10000000)
    ntp_rsp = ntp_rsp[:48]
    evs += udp_exchange("192.0.2.14", "198.51.100.123", 123, 123, [("c", ntp_req), ("s", ntp_rsp)], T0 + 4 * SEC)
    d.append(f"192.0.2.14:123 -> 198.51.100.123:123 (first_packet; NTPv4 {L(ntp_req)}/{L(ntp_rsp)})")
    evs = merge(evs)
    out("udp_flows.pcap", pcap_of(1, evs, eth_frame).bytes(),
        f"Ethernet. {len(evs)} packets; 0 TCP + 5 UDP flows (client -> server, basis; first-bytes datagram lengths "
        f"c->s/s->c): " + "; ".join(d) + ".")

    # A small UDP spray at a DNS server: 8 one-datagram flows of opaque
    # bytes from distinct clients, 1 ms apart; the fourth is answered
    # (opaque too) 5 ms later; amid them a real DNS lookup, answered 20 ms
    # later. Run with --stream-slots 4 (tests/golden: udp_spray), three
    # quarters of the pool are taken from the third flow on.
    evs = []
    for k in range(8):
        cli = f"192.0.2.{100 + k}"
        msgs = [("c", hbytes(f"spray{k}", 40 + 9 * k))]
        if k == 3:
            msgs.append(("s", hbytes("spray-reply", 56)))
        evs += udp_exchange(cli, DNS4, 40000 + k, 53, msgs, T0 + k * MS, gap=5 * MS)
    q, r = dns_exchange(0x5101, "d.example.org", "203.0.113.53")
    evs += udp_exchange("192.0.2.99", DNS4, 53199, 53, [("c", q), ("s", r)], T0 + 4 * MS + 500 * US,
                        gap=20 * MS)
    evs = merge(evs)
    out("udp_spray.pcap", pcap_of(1, evs, eth_frame).bytes(),
        f"Ethernet. {len(evs)} packets; 9 UDP flows to {DNS4}:53 (port): 192.0.2.100..107 ports "
        f"40000..40007 each send one datagram of opaque bytes (40 to 103 bytes), 1 ms apart; "
        f"192.0.2.103 gets an opaque 56-byte answer 5 ms later; 192.0.2.99:53199 makes a DNS lookup "
        f"({L(q)}/{L(r)}) 4.5 ms in, answered 20 ms later. With --stream-slots 4 the opaque flows "
        f"are let go (inspection_cut) and decided as unknown when they end (the answered one when "
        f"its answer comes); the lookup keeps its slot and is decided as DNS.")


def gen_timeouts():
    q1, r1 = dns_exchange(0x6001, "t1.example.com", "203.0.113.61")
    q2, r2 = dns_exchange(0x6002, "t2.example.com", "203.0.113.62")
    u1 = udp_exchange(C4, DNS4, 53201, 53, [("c", q1), ("s", r1)], T0)
    u2 = udp_exchange(C4, DNS4, 53201, 53, [("c", q2), ("s", r2)], T0 + 120 * SEC)
    c = TcpConn(C4, S4, 51700, 80)
    c.handshake()
    req1 = http_request("www.example.com", "/a")
    resp1 = http_response("<p>a</p>\n")
    req2 = http_request("www.example.com", "/b")
    resp2 = http_response("<p>b</p>\n")
    c.exchange(req1, resp1)
    n1 = len(c.segs)
    c.send("c", req2, ack_every=0, delay=700 * SEC)
    c.send("s", resp2, ack_every=0)
    c.ack("c")
    c.close()
    t = c.render(T0 + 1 * SEC)
    evs = merge(u1, u2, t)
    out("timeouts.pcap", pcap_of(1, evs, eth_frame).bytes(),
        f"Ethernet, {len(evs)} packets over {(evs[-1].ts - evs[0].ts) / SEC:.1f} s. UDP {C4}:53201 -> {DNS4}:53 "
        f"(port): a lookup at t=0 s, the same 4-tuple again at t=120 s: with the default 60 s UDP timeout 2 UDP "
        f"flows (the first ends TIMEOUT), each {L(q1)}/{L(r1)}. TCP {C4}:51700 -> {S4}:80 (syn) from t=1 s: "
        f"handshake + request/response ({L(req1)}/{L(resp1)}), {n1} packets, then 700 s idle in ESTABLISHED, then a "
        f"second request/response ({L(req2)}/{L(resp2)}) and FIN teardown. With an established timeout below 700 s "
        f"(e.g. 600 s) that is 2 TCP flows: the first ends TIMEOUT, the second starts mid-stream (port; first bytes "
        f"{L(req2)}/{L(resp2)}); with a longer timeout 1 flow.")


def gen_misc():
    # Snap length 96: Ethernet 14 + IPv4 20 + TCP 20 leaves 42 payload bytes.
    q = dns_query(0x7001, "www.example.com")
    r = dns_response(0x7001, "www.example.com", 1, [ip_bytes(f"198.51.100.{80 + i}") for i in range(4)])
    evs = merge(std_conv().render(T0),
                udp_exchange(C4, DNS4, 53001, 53, [("c", q), ("s", r)], T0 + 1 * SEC))
    p = Pcap(1, snaplen=96)
    cut = 0
    for e in evs:
        f = eth_frame(e)
        cut += len(f) > 96
        p.add(e.ts, f)
    out("snaplen_cut.pcap", p.bytes(),
        f"Ethernet, snaplen 96. {len(evs)} packets, {cut} cut (caplen 96 < wire length): TCP payloads keep 42 "
        f"bytes, UDP 54. TCP {C4}:51514 -> {S4}:80 (syn), UDP {C4}:53001 -> {DNS4}:53 (port). Captured "
        f"first bytes: c->s 42 of {L(REQ)}, s->c 42 of {L(RESP)} (payload_wire_len > payload_len; the rest "
        f"counted as gap bytes); DNS query {L(q)} whole, answer (4 A records) 54 of {L(r)}. "
        f"snaplen_cut {cut}.")

    # Non-flow traffic.
    p = Pcap(1)
    t = T0
    ping = bytes(range(0x10, 0x38))  # 40 bytes as Linux ping's pattern after its timestamp
    ping = struct.pack("<QQ", 1705312800, 0) + ping
    pkts = [
        ether(MAC_BCAST, MAC_CLI, ETH_ARP, arp(1, MAC_CLI, C4, b"\0" * 6, "192.0.2.1")),
        ether(MAC_CLI, MAC_GW, ETH_ARP, arp(2, MAC_GW, "192.0.2.1", MAC_CLI, C4)),
        ether(MAC_GW, MAC_CLI, ETH_IPV4, ipv4(C4, S4, 1, icmp_echo(0x77, 1, ping), ident=IDS.next(C4))),
        ether(MAC_CLI, MAC_GW, ETH_IPV4, ipv4(S4, C4, 1, icmp_echo(0x77, 1, ping, reply=True), ttl=56, ident=IDS.next(S4), df=False)),
        ether(MAC_GW, MAC_CLI, ETH_IPV6, ipv6(C6, S6, 58, icmp6_echo(C6, S6, 0x78, 1, ping))),
        ether(MAC_CLI, MAC_GW, ETH_IPV6, ipv6(S6, C6, 58, icmp6_echo(S6, C6, 0x78, 1, ping, reply=True), hlim=56)),
        ether(MAC_GW, MAC_CLI, ETH_IPV4, ipv4(C4, "203.0.113.99", 50,
                                              struct.pack("!II", 0xC0FFEE01, 1) + hbytes("esp", 96), ident=IDS.next(C4))),
    ]
    for i, f in enumerate(pkts):
        p.add(t + i * 10 * MS, f)
    out("icmp_arp.pcap", p.bytes(),
        f"Ethernet, {len(pkts)} packets, 0 flows: ARP request + reply (non_ip 2), ICMP echo request + reply and "
        f"ICMPv6 echo request + reply (icmp 4), 1 ESP packet (IP protocol 50, SPI 0xc0ffee01: ip_other 1).")


def gen_formats():
    evs = std_set()
    n = len(evs)

    # pcapng: two interfaces. libpcap 1.10 refuses a section whose interfaces
    # have different link types, so both are Ethernet; the second uses a
    # nanosecond if_tsresol.
    ng = Pcapng(shb_options=[(4, b"offport gen_captures.py")])
    i0 = ng.interface(1, name="eth0")
    i1 = ng.interface(1, name="eth1", tsresol=9)
    for e in evs:
        ifid = i1 if e.ip[0] >> 4 == 6 else i0
        ng.add(ifid, e.ts + (123 if ifid == i1 else 0), eth_frame(e),
               comment="first packet" if e is evs[0] else None)
    out("fmt_pcapng.pcapng", ng.bytes(),
        f"pcapng: SHB (user application option), 2 IDBs, both Ethernet (libpcap 1.10.3 stops with 'an interface has "
        f"a type 101 different from the type of the first interface' when they differ, so no mixed file) (eth0 microsecond, eth1 if_tsresol 9 = "
        f"nanoseconds); IPv4 packets on eth0, IPv6 packets on eth1 (timestamps +123 ns), the first EPB has a "
        f"comment. {n} packets; 2 TCP + 1 UDP flows: {STD_FLOWS}.")

    p = Pcap(1, nsec=True)
    for i, e in enumerate(evs):
        p.add(e.ts + 1 + i * 7, eth_frame(e))
    out("fmt_nsec.pcap", p.bytes(),
        f"pcap with the nanosecond magic a1b23c4d (little-endian); timestamps have sub-microsecond digits (first "
        f"packet 1705312800.000000001). {n} packets; 2 TCP + 1 UDP flows: {STD_FLOWS}.")

    p = pcap_of(1, evs, eth_frame, big_endian=True)
    out("fmt_bigendian.pcap", p.bytes(),
        f"pcap written big-endian (magic bytes a1 b2 c3 d4). {n} packets; 2 TCP + 1 UDP flows: {STD_FLOWS}.")

    full = pcap_of(1, evs, eth_frame)
    hdr = full.header()
    keep = full.records[:5]
    r5 = full.records[5]
    data = hdr + b"".join(keep) + r5[: 16 + (len(r5) - 16) // 2]
    out("damaged_truncated.pcap", data,
        f"link_en10mb-like pcap cut in the middle of record 6 (header complete, {(len(r5) - 16) // 2} of "
        f"{len(r5) - 16} data bytes present): 5 packets read, then a truncation error. The 5 packets are the IPv4 "
        f"HTTP handshake + request + response ({C4}:51514 -> {S4}:80, syn).")

    bad = hdr + b"".join(full.records[:3]) + struct.pack("<IIII", 1705312801, 0, 0x7FFFFFFF, 0x7FFFFFFF) + b"\0" * 64
    out("damaged_badlen.pcap", bad,
        "3 valid Ethernet packets (SYN, SYN+ACK, ACK of " f"{C4}:51514 -> {S4}:80" ") then a record header with "
        "caplen and len 0x7fffffff: libpcap reports an error (capture length bigger than the snaplen) after 3 packets.")

    text = b"This is not a capture file.\nIt is gzip-compressed text made by gen_captures.py.\n" * 4
    out("damaged_notpcap.bin", gzip.compress(text, mtime=0),
        "gzip-compressed text (magic 1f 8b, mtime 0): not a capture; libpcap refuses it (unknown file format), "
        "offport says it is gzip-compressed (exit status 3).")

    out("empty.pcap", Pcap(1).header(),
        "pcap header only (Ethernet, snaplen 262144), 0 packets: a clean run with all counters zero.")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)),
                    help="output folder (default: the script's folder)")
    args = ap.parse_args()
    for gen in (gen_links, gen_encaps, gen_frags, gen_tunnels, gen_tcp, gen_udp, gen_timeouts, gen_misc,
                gen_formats):
        gen()
    os.makedirs(args.out, exist_ok=True)
    for name, data in FILES.items():
        with open(os.path.join(args.out, name), "wb") as f:
            f.write(data)
    with open(os.path.join(args.out, "README.md"), "w") as f:
        f.write(README_HEAD)
        for name, text in README:
            f.write(f"- `{name}` ({len(FILES[name])} bytes): {text}\n")
    print(f"wrote {len(FILES)} captures and README.md to {args.out}", file=sys.stderr)


README_HEAD = """# Test captures

Generated by `gen_captures.py` (Python 3 standard library only; run
`python3 tests/data/gen_captures.py` to rewrite every file byte for byte).
Do not edit the captures or this file by hand: change the script.

Conventions used below:

- Timestamps start at 2024-01-15 10:00:00 UTC (1705312800). Within a
  TCP conversation, as captured next to the client: a packet from the same
  side follows the previous one by 100 us, a server packet follows a client
  packet by 20 ms, a client packet a server packet by 50 us. UDP replies
  come 10 ms after requests.
- Addresses are documentation ranges only: client 192.0.2.10 /
  2001:db8:0:1::10, web server 198.51.100.80 / 2001:db8:0:2::80, DNS server
  198.51.100.53 / 2001:db8:0:2::53; MACs 00:00:5e:00:53:xx.
- Flows are written `client -> server (orientation basis; first bytes c->s / s->c)`.
  Orientation bases are flow.h's: `syn`, `synack`, `port` (rules 2-3),
  `first_packet`. First-bytes numbers are the application bytes of each
  direction in stream order (all of them fit the stream budget unless
  stated); for UDP the datagram lengths.
- Checked with tshark 4.0.17 / tcpdump 4.99.3 / libpcap 1.10.3 (Debian 12):
  every file but the damaged_* ones reads to the end, every IPv4/TCP/UDP/
  ICMP checksum verifies. (tshark flags one HTTP segment of tcp_overlap.pcap
  as malformed: its reassembly meets the forged overlap; that is the point.)
- A standard HTTP conversation is SYN, SYN+ACK, ACK, request (1 segment),
  response (1 segment, acknowledging the request), client ACK, FIN+ACK (client),
  FIN+ACK (server), ACK: 9 packets, 6 client -> server and 3 server ->
  client; it ends FIN. A DNS exchange is query + answer (A or
  AAAA, real DNS wire format): 2 packets.
- All IPv4 header checksums and TCP/UDP/ICMP checksums are correct (the outer
  UDP checksum of VXLAN is 0, "no checksum").
- Client TTL / hop limit 64, server 56.
- Ethernet captures are taken on the client: frames it receives that are
  shorter than 60 bytes (bare ACKs, FINs) carry Ethernet padding after the
  IP packet (IP total length < frame length); its own frames are not padded.

## Files

"""


if __name__ == "__main__":
    main()
