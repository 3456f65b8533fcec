#!/usr/bin/env python3
"""Damaged captures: offport on deterministic mutations of good captures.

Run by ctest as: test_damaged.py --offport BIN. Prints "damaged: N passed,
N failed" (N counts checks) and the variants run.

The variants are made at test time in a temporary directory from
tests/captures/*.pcap, tests/data/fmt_* and, when the shared nDPI corpus is
there, a few of its small captures (pcapng, big-endian, nanosecond):
truncation at every offset of one small file and at sampled offsets of
the others (inside the file header, record headers and record data),
corrupted record header fields (caplen huge, above the snap length, above
the wire length; wire length 0; garbage timestamps), pcapng block lengths
(too small, not a multiple of 4, huge, header and trailer disagreeing),
pcapng blocks cut short, a later section header that is corrupted, packet
blocks naming unknown interfaces or claiming more bytes than they hold,
a bad magic number, gzip/xz/bzip2 (and zstd/lz4 headers) of a good
capture, an empty file, text and JSON files, the link type swapped
between Ethernet and raw IP, and random byte flips with a fixed seed.

What each variant should give is computed here, independently of
offport and libpcap, by a model of how libpcap reads pcap and pcapng
(model_pcap, model_pcapng): the exit status (0 read to the end, 3
damaged, 1 only for an unsupported link type a flip made), the byte
offset of the record or block where the reading breaks, and how many
packets come before it. For every run: the exit status is the model's;
a damaged file's message names the file and says "offset N" with the
model's N; every line of standard output parses with Python's json
module (strictly: no NaN or Infinity); the last record is the stats
record; packets read and inputs damaged are the model's; and the
accounting equalities of the golden tests hold (check_accounting,
imported from tests/golden/run.py). A subset runs again in text mode and
from standard input (a pipe). Then: several inputs (a damaged one is
reported and skipped, the others read; a missing file or a bad filter
stops the run before any output), a BPF filter (the offset stays the
file's), and a named pipe (damage found without opening it again).
The JSON runs use small tables (SMALL_BOUNDS) to keep the sanitizer
build fast; the run takes about 5 s in a release build and 40 s with
AddressSanitizer on two busy cores.
"""
import argparse
import bz2
import concurrent.futures
import gzip
import json
import lzma
import os
import pathlib
import random
import struct
import subprocess
import sys
import tempfile
import threading
import time

TESTS = pathlib.Path(__file__).resolve().parent
REPO = TESTS.parent
sys.path.insert(0, str(TESTS / "golden"))
from run import check_accounting  # noqa: E402  (tests/golden/run.py)

CORPUS_FILES = ["cnp_ip.pcapng", "dns_invert_query.pcapng", "gre.pcapng", "knxip.pcapng",
                "sctp.cap", "someip_sd_sample.pcap"]
MAX_SNAPLEN = 262144           # libpcap's max_snaplen_for_dlt for every link type offport reads
PCAPNG_MAX_BLOCK = 16 * 1024 * 1024
SHB_INSANE_MAX = 1024 * 1024
BT_SHB, BT_IDB, BT_PB, BT_SPB, BT_EPB = 0x0A0D0D0A, 1, 2, 3, 6
TIMEOUT = 60
# Smaller tables than the defaults: the sanitizer build spends most of a
# short run mapping shadow memory for the preallocated flow table and
# stream slots. Nothing here comes near these bounds. (The runs with
# several inputs keep the defaults.)
SMALL_BOUNDS = ["--max-flows", "4096", "--stream-slots", "256", "--frag-max", "64"]

passed = failed = 0
failures = []


def check(cond, what, detail=""):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        failures.append(f"FAIL {what}" + (f": {detail}" if detail else ""))


# ---- the model: how libpcap reads a file -----------------------------------

class Expect:
    """What reading a file should give. exit None: not determined (a link
    type a flip made, which offport may or may not support)."""

    def __init__(self, exit, offset=None, packets=0, at_open=False, what="", short=0):
        self.exit, self.offset, self.packets, self.at_open, self.what = \
            exit, offset, packets, at_open, what
        self.short = short  # records read whose wire length < captured length

    def __repr__(self):
        return (f"Expect(exit={self.exit}, offset={self.offset}, packets={self.packets}, "
                f"at_open={self.at_open}, {self.what})")


PCAP_MAGICS = {0xA1B2C3D4: 16, 0xA1B23C4D: 16, 0xA1B2CD34: 24}  # record header sizes


def model_pcap(b, orig_linktype):
    """A classic pcap file as libpcap 1.10 reads it (sf-pcap.c)."""
    if len(b) < 4:
        return Expect(3, 0, at_open=True, what="short magic")
    le, be = struct.unpack_from("<I", b)[0], struct.unpack_from(">I", b)[0]
    if le in PCAP_MAGICS:
        e, magic = "<", le
    else:
        e, magic = ">", be
    hdrsize = PCAP_MAGICS[magic]
    if len(b) < 24:
        return Expect(3, 0, at_open=True, what="short file header")
    major, minor, _, _, snaplen, linktype = struct.unpack_from(e + "HHiIII", b, 4)
    if major < 2 or not ((major == 2 and minor <= 4) or (major == 543 and minor == 0)):
        return Expect(3, 0, at_open=True, what="version")
    swap = "yes" if major == 543 or minor < 3 else "maybe" if minor == 3 else "no"
    if linktype & 0x03FFFFFF != orig_linktype & 0x03FFFFFF:
        return Expect(None, what="link type changed")
    pos, n, short = 24, 0, 0
    snap = adjust_snapshot(snaplen)
    while True:
        if pos == len(b):
            return Expect(0, None, n, what="end", short=short)
        if pos + hdrsize > len(b):
            return Expect(3, pos, n, what="short record header", short=short)
        caplen, length = struct.unpack_from(e + "II", b, pos + 8)
        if swap == "yes" or (swap == "maybe" and caplen > length):
            caplen, length = length, caplen
        if caplen > MAX_SNAPLEN:
            return Expect(3, pos, n, what="caplen too large", short=short)
        if pos + hdrsize + caplen > len(b):
            return Expect(3, pos, n, what="record data cut", short=short)
        pos += hdrsize + caplen
        n += 1
        short += length < min(caplen, snap)  # libpcap reads at most the snapshot


def adjust_snapshot(snap):
    """libpcap 1.10's pcap_adjust_snapshot: 0 and values above INT_MAX
    mean the link type's maximum; anything else is kept."""
    return MAX_SNAPLEN if snap == 0 or snap > 0x7FFFFFFF else snap


def ng_blocks(b, e):
    """(start, type, total length) of each block a framing walk finds."""
    out, pos = [], 0
    while pos + 8 <= len(b):
        t, tl = struct.unpack_from(e + "II", b, pos)
        out.append((pos, t, tl))
        if tl < 12:
            break
        pos += tl
    return out


def idb_options(body, e):
    """libpcap's process_idb_options: False when it refuses them."""
    seen = set()
    while body:
        if len(body) < 4:
            return False
        code, olen = struct.unpack_from(e + "HH", body)
        padded = (olen + 3) // 4 * 4
        if len(body) < 4 + padded:
            return False
        val = body[4:4 + olen]
        body = body[4 + padded:]
        if code == 0:
            return olen == 0
        if code == 9:
            if olen != 1 or 9 in seen:
                return False
            seen.add(9)
            v = val[0]
            if (v & 0x80 and (v & 0x7F) > 63) or (not v & 0x80 and v > 19):
                return False
        elif code == 14:
            if olen != 8 or 14 in seen:
                return False
            seen.add(14)
    return True


def model_pcapng(b, orig_linktype):
    """A pcapng file as libpcap 1.10 reads it (sf-pcapng.c)."""
    if len(b) < 12:
        return Expect(3, 0, at_open=True, what="short section header")
    bom = b[8:12]
    if bom == b"\x4d\x3c\x2b\x1a":
        e = "<"
    elif bom == b"\x1a\x2b\x3c\x4d":
        e = ">"
    else:
        return Expect(3, 0, at_open=True, what="byte-order magic")
    shb_len = struct.unpack_from(e + "I", b, 4)[0]
    if shb_len < 28 or shb_len > SHB_INSANE_MAX or shb_len > len(b):
        return Expect(3, 0, at_open=True, what="section header length")
    major, minor = struct.unpack_from(e + "HH", b, 12)
    if not (major == 1 and minor in (0, 2)):
        return Expect(3, 0, at_open=True, what="section header version")
    pos, last, n, short = shb_len, 0, 0, 0
    dlt = snapshot = None
    ifcount = 0

    def block(pos):
        """(type, body) of the block at pos, or a string: why it is refused."""
        if pos + 8 > len(b):
            return "short block header"
        t, tl = struct.unpack_from(e + "II", b, pos)
        if tl < 12:
            return "block too small"
        if tl % 4:
            return "block length not a multiple of 4"
        if tl > PCAPNG_MAX_BLOCK:
            return "block too large"
        if pos + tl > len(b):
            return "block cut"
        if struct.unpack_from(e + "I", b, pos + tl - 4)[0] != tl:
            return "trailer mismatch"
        return t, b[pos + 8:pos + tl - 4]

    while True:  # opening: up to the first IDB
        if pos == len(b):
            return Expect(3, last, at_open=True, what="no IDB")
        r = block(pos)
        if isinstance(r, str):
            return Expect(3, pos, at_open=True, what=r)
        t, body = r
        if t in (BT_EPB, BT_SPB, BT_PB):
            return Expect(3, pos, at_open=True, what="packet before IDB")
        last = pos
        pos += len(body) + 12
        if t == BT_IDB:
            if len(body) < 8:
                return Expect(3, last, at_open=True, what="IDB too short")
            lt, _, snap = struct.unpack_from(e + "HHI", body)
            if not idb_options(body[8:], e):
                return Expect(3, last, at_open=True, what="IDB options")
            if lt != orig_linktype:
                return Expect(None, what="link type changed")
            dlt, snapshot, ifcount = lt, adjust_snapshot(snap), 1
            break
    while True:  # packets
        if pos == len(b):
            return Expect(0, None, n, what="end", short=short)
        r = block(pos)
        if isinstance(r, str):
            return Expect(3, pos, n, what=r, short=short)
        t, body = r
        if t in (BT_EPB, BT_PB):
            if len(body) < 20:
                return Expect(3, pos, n, what="packet block too short", short=short)
            if t == BT_EPB:
                ifid, _, _, caplen, length = struct.unpack_from(e + "IIIII", body)
            else:
                ifid, _, _, _, caplen, length = struct.unpack_from(e + "HHIIII", body)
            if ifid >= ifcount:
                return Expect(3, pos, n, what="unknown interface", short=short)
            if caplen > snapshot:
                return Expect(3, pos, n, what="caplen above snaplen", short=short)
            if caplen > len(body) - 20:
                return Expect(3, pos, n, what="caplen beyond block", short=short)
            n += 1
            short += length < caplen
        elif t == BT_SPB:
            if len(body) < 4:
                return Expect(3, pos, n, what="simple packet block too short", short=short)
            caplen = min(struct.unpack_from(e + "I", body)[0], snapshot)
            if ifcount == 0:
                return Expect(3, pos, n, what="no interface 0", short=short)
            if caplen > len(body) - 4:
                return Expect(3, pos, n, what="caplen beyond block", short=short)
            n += 1
        elif t == BT_IDB:
            if len(body) < 8:
                return Expect(3, pos, n, what="IDB too short", short=short)
            lt, _, snap = struct.unpack_from(e + "HHI", body)
            if lt != dlt:
                return Expect(3, pos, n, what="IDB link type differs", short=short)
            if adjust_snapshot(snap) != snapshot:
                return Expect(3, pos, n, what="IDB snaplen differs", short=short)
            if not idb_options(body[8:], e):
                return Expect(3, pos, n, what="IDB options", short=short)
            ifcount += 1
        elif t == BT_SHB:
            if len(body) < 16:
                return Expect(3, pos, n, what="SHB too short", short=short)
            if body[0:4] != bom:
                return Expect(3, pos, n, what="SHB byte order", short=short)
            if struct.unpack_from(e + "H", body, 4)[0] != 1:
                return Expect(3, pos, n, what="SHB major version", short=short)
            ifcount = 0
        pos += len(body) + 12


def original_linktype(b):
    if b[:4] == b"\x0a\x0d\x0d\x0a":
        e = "<" if b[8:12] == b"\x4d\x3c\x2b\x1a" else ">"
        for start, t, tl in ng_blocks(b, e):
            if t == BT_IDB:
                return struct.unpack_from(e + "H", b, start + 8)[0]
        return None
    e = "<" if struct.unpack_from("<I", b)[0] in PCAP_MAGICS else ">"
    return struct.unpack_from(e + "I", b, 20)[0]


def model(b, orig_linktype):
    if len(b) == 0:
        return Expect(3, 0, at_open=True, what="empty")
    if b[:4] == b"\x0a\x0d\x0d\x0a"[:len(b)] and len(b) >= 4:
        return model_pcapng(b, orig_linktype)
    head = b[:4]
    for m in PCAP_MAGICS:
        for mb in (struct.pack("<I", m), struct.pack(">I", m)):
            if head == mb[:len(head)]:
                return model_pcap(b, orig_linktype)
    if b"\x0a\x0d\x0d\x0a".startswith(head):
        return Expect(3, 0, at_open=True, what="short magic")
    return Expect(3, 0, at_open=True, what="not a capture")


# ---- making variants --------------------------------------------------------

def pcap_records(b):
    """(start, caplen) of each record of a good classic pcap file."""
    e = "<" if struct.unpack_from("<I", b)[0] in PCAP_MAGICS else ">"
    out, pos = [], 24
    while pos + 16 <= len(b):
        caplen = struct.unpack_from(e + "I", b, pos + 8)[0]
        out.append((pos, caplen))
        pos += 16 + caplen
    return e, out


def pcap_to_pcapng(b, endian, extra_blocks=True, two_sections=False):
    """A pcapng file holding a pcap file's packets, in either byte order,
    with non-packet blocks between packets when extra_blocks (a name
    resolution block, custom blocks, an interface statistics block), and
    the packets split over two sections when two_sections."""
    e, recs = pcap_records(b)
    linktype = struct.unpack_from(e + "I", b, 20)[0]

    def blk(t, body):
        body += b"\0" * (-len(body) % 4)
        return struct.pack(endian + "II", t, len(body) + 12) + body + \
            struct.pack(endian + "I", len(body) + 12)

    def section():
        shb = blk(BT_SHB, struct.pack(endian + "IHHq", 0x1A2B3C4D, 1, 0, -1))
        idb = blk(BT_IDB, struct.pack(endian + "HHI", linktype, 0, 262144) +
                  struct.pack(endian + "HH", 9, 1) + b"\x06\0\0\0" + struct.pack(endian + "HH", 0, 0))
        return shb + idb

    out = bytearray(section())
    if extra_blocks:
        out += blk(4, struct.pack(endian + "HH", 1, 8) + bytes([192, 0, 2, 1]) + b"abc\0" +
                   struct.pack(endian + "HH", 0, 0))  # NRB
    for i, (start, caplen) in enumerate(recs):
        sec, usec, _, wire = struct.unpack_from(e + "IIII", b, start)
        ts = sec * 1000000 + usec
        data = b[start + 16:start + 16 + caplen]
        if two_sections and i == len(recs) // 2:
            out += section()
        out += blk(BT_EPB, struct.pack(endian + "IIIII", 0, ts >> 32, ts & 0xFFFFFFFF, caplen, wire) + data)
        if extra_blocks and i % 3 == 1:
            out += blk(0x00000BAD, struct.pack(endian + "I", 32473) + b"offport")  # custom block
    if extra_blocks:
        out += blk(5, struct.pack(endian + "III", 0, 0, 0))  # ISB
    return bytes(out)


class Variants:
    def __init__(self, d):
        self.dir = pathlib.Path(d)
        self.items = []  # (name, path, Expect, linktype, flags)

    def add(self, name, data, orig_lt, expect=None, text=False, stdin=False, cut=0, say=None,
            mislinked=False):
        """cut: how many packets the file's snap length cuts (each must be
        counted in decoder.snaplen_cut or dropped as truncated)."""
        path = self.dir / f"{len(self.items):04d}_{name}"
        path.write_bytes(data)
        exp = expect if expect is not None else model(data, orig_lt)
        exp.cut = cut
        exp.say = say  # what the message must say (with FILE for the file's name)
        exp.mislinked = mislinked  # packets of another link type than the file says
        self.items.append((name, str(path), exp, text, stdin))


def make_variants(d, corpus, rng):
    v = Variants(d)
    sources = {}
    caps = sorted((TESTS / "captures").glob("*.pcap"))
    for p in caps:
        sources[p.name] = p.read_bytes()
    for name in ("fmt_bigendian.pcap", "fmt_nsec.pcap", "fmt_pcapng.pcapng"):
        sources[name] = (TESTS / "data" / name).read_bytes()
    corpus_used = []
    if corpus:
        for name in CORPUS_FILES:
            p = pathlib.Path(corpus) / name
            if p.is_file():
                sources["ndpi_" + name] = p.read_bytes()
                corpus_used.append(name)
    base = sources["http_1224.pcap"]
    sources["synth_le.pcapng"] = pcap_to_pcapng(base, "<")
    sources["synth_be.pcapng"] = pcap_to_pcapng(base, ">")
    sources["synth_2sec.pcapng"] = pcap_to_pcapng(base, "<", two_sections=True)
    lts = {name: original_linktype(b) for name, b in sources.items()}

    # Every good source reads to its end.
    for name, b in sources.items():
        exp = model(b, lts[name])
        check(exp.exit == 0, f"model: {name} is a good capture", repr(exp))
        v.add(f"good_{name}", b, lts[name], text=True, stdin=True)

    # Truncation: every offset of one small file, sampled offsets of the others.
    small = sources["random_udp_53.pcap"]
    for cut in range(len(small)):
        v.add(f"cut{cut}_random_udp_53.pcap", small[:cut], 1, text=cut % 37 == 0,
              stdin=cut % 23 == 0)
    for name, b in sources.items():
        if name == "random_udp_53.pcap":
            continue
        if b[:4] == b"\x0a\x0d\x0d\x0a":
            e = "<" if b[8:12] == b"\x4d\x3c\x2b\x1a" else ">"
            starts = [s for s, _, _ in ng_blocks(b, e)]
            offs = {1, 7, 11, 12, 27}
            for s in starts[1:]:
                offs |= {s, s + 1, s + 4, s + 8, s + 13}
        else:
            _, recs = pcap_records(b)
            offs = {2, 4, 20, 23, 24}
            for s, caplen in recs:
                offs |= {s, s + 1, s + 15, s + 16, s + 16 + caplen // 2, s + 15 + caplen}
        offs = sorted(o for o in offs if 0 < o < len(b))
        if len(offs) > 8:
            offs = sorted(rng.sample(offs, 8))
        for cut in offs:
            v.add(f"cut{cut}_{name}", b[:cut], lts[name], stdin=cut % 5 == 0)

    # Record header fields of classic pcap files.
    for name in ("http_1224.pcap", "dns_53.pcap", "fmt_bigendian.pcap", "fmt_nsec.pcap",
                 "tls_8088.pcap"):
        b = sources[name]
        e, recs = pcap_records(b)
        picks = sorted({0, len(recs) // 2, len(recs) - 1})
        for i in picks:
            s, caplen = recs[i]
            wire = struct.unpack_from(e + "I", b, s + 12)[0]

            def put(off, fmt, val, b=b):
                m = bytearray(b)
                struct.pack_into(e + fmt, m, off, val)
                return bytes(m)
            v.add(f"caplen_huge_r{i}_{name}", put(s + 8, "I", 0xFFFFFFFF), lts[name], text=True)
            v.add(f"caplen_max1_r{i}_{name}", put(s + 8, "I", MAX_SNAPLEN + 1), lts[name])
            v.add(f"caplen_plus1_r{i}_{name}", put(s + 8, "I", caplen + 1), lts[name])
            v.add(f"caplen_gt_len_r{i}_{name}", put(s + 12, "I", max(caplen - 1, 0)), lts[name],
                  text=True)
            v.add(f"len0_r{i}_{name}", put(s + 12, "I", 0), lts[name])
            v.add(f"len_huge_r{i}_{name}", put(s + 12, "I", 0xFFFFFFFF), lts[name])
            m = bytearray(b)
            struct.pack_into(e + "II", m, s, 0xFFFFFFFF, 0xFFFFFFFF)
            v.add(f"ts_garbage_r{i}_{name}", bytes(m), lts[name], text=True)
            # a record of 0 captured bytes (its data removed)
            hdr = bytearray(b[s:s + 16])
            struct.pack_into(e + "I", hdr, 8, 0)
            v.add(f"caplen0_r{i}_{name}", b[:s] + bytes(hdr) + b[s + 16 + caplen:], lts[name])
            _ = wire
        # The file's snap length below the records' captured lengths: libpcap
        # cuts each record to it (not an error); offport counts snaplen_cut.
        for snap in (60, 100, 300):
            m = bytearray(b)
            struct.pack_into(e + "I", m, 16, snap)
            v.add(f"snaplen{snap}_{name}", bytes(m), lts[name], text=snap == 100,
                  cut=sum(1 for _, caplen in recs if caplen > snap))
        # A bad version, and a bad magic number.
        m = bytearray(b)
        struct.pack_into(e + "H", m, 4, 1)
        v.add(f"version1_{name}", bytes(m), lts[name])
        v.add(f"badmagic_{name}", b"\xde\xad\xbe\xef" + b[4:], lts[name], text=True, stdin=True)

    # pcapng blocks.
    for name in [n for n, b in sources.items() if b[:4] == b"\x0a\x0d\x0d\x0a"]:
        b = sources[name]
        e = "<" if b[8:12] == b"\x4d\x3c\x2b\x1a" else ">"
        blocks = ng_blocks(b, e)
        idx = sorted({1, 2, len(blocks) // 2, len(blocks) - 1} & set(range(len(blocks))))
        for i in idx:
            s, t, tl = blocks[i]
            for what, off, val in (("len5", s + 4, 5), ("len13", s + 4, 13),
                                   ("lenhuge", s + 4, 0x7FFFFFF0), ("lenplus4", s + 4, tl + 4),
                                   ("trailer", s + tl - 4, tl + 8)):
                m = bytearray(b)
                struct.pack_into(e + "I", m, off, val & 0xFFFFFFFF)
                v.add(f"ng_{what}_b{i}_{name}", bytes(m), lts[name], text=what == "len13",
                      stdin=what in ("trailer", "lenplus4"))
            if t == BT_EPB:
                m = bytearray(b)
                struct.pack_into(e + "I", m, s + 8, 7)
                v.add(f"ng_ifid7_b{i}_{name}", bytes(m), lts[name])
                m = bytearray(b)
                struct.pack_into(e + "I", m, s + 20, tl)
                v.add(f"ng_caplen_beyond_b{i}_{name}", bytes(m), lts[name])
                m = bytearray(b)
                struct.pack_into(e + "I", m, s + 20, MAX_SNAPLEN + 1)
                v.add(f"ng_caplen_snap_b{i}_{name}", bytes(m), lts[name])
    # Timestamps: garbage in a packet block, odd resolutions in the
    # interface description (seconds: huge times; 2^-64: refused).
    b = sources["synth_le.pcapng"]
    blocks = ng_blocks(b, "<")
    idb = [s for s, t, _ in blocks if t == BT_IDB][0]
    epbs = [s for s, t, _ in blocks if t == BT_EPB]
    m = bytearray(b)
    for s in epbs[::2]:
        struct.pack_into("<II", m, s + 12, 0xFFFFFFFF, 0xFFFFFFFF)
    v.add("ng_ts_garbage_synth_le.pcapng", bytes(m), 1, text=True)
    for what, val in (("tsresol0", 0), ("tsresol_2e63", 0x80 | 63), ("tsresol_2e64", 0x80 | 64),
                      ("tsresol_1e20", 20)):
        m = bytearray(b)
        assert struct.unpack_from("<H", m, idb + 16)[0] == 9  # if_tsresol, first option
        m[idb + 20] = val
        v.add(f"ng_{what}_synth_le.pcapng", bytes(m), 1, text=what == "tsresol0")
    # A later section header corrupted: byte order, version, length.
    b = sources["synth_2sec.pcapng"]
    shbs = [s for s, t, _ in ng_blocks(b, "<") if t == BT_SHB]
    s2 = shbs[1]
    for what, off, fmt, val in (("bom", s2 + 8, ">I", 0x1A2B3C4D), ("bom_junk", s2 + 8, "<I", 0x12345678),
                                ("major", s2 + 12, "<H", 2), ("len", s2 + 4, "<I", 8)):
        m = bytearray(b)
        struct.pack_into(fmt, m, off, val)
        v.add(f"ng_shb2_{what}_synth_2sec.pcapng", bytes(m), lts["synth_2sec.pcapng"], text=True,
              stdin=True)

    # Files that are not captures.
    good = sources["http_1224.pcap"]
    _, recs = pcap_records(good)
    v.add("midrecord_http_1224.pcap", good[:recs[3][0] + 30], 1)
    v.add("gzip.pcap.gz", gzip.compress(good, mtime=0), 1, stdin=True, text=True,
          say="not a capture, at byte offset 0: gzip-compressed; decompress it first, "
              "e.g. zcat FILE | offport -r -")
    v.add("xz.pcap.xz", lzma.compress(good), 1, stdin=True,
          say="xz-compressed; decompress it first, e.g. xzcat FILE | offport -r -")
    v.add("bzip2.pcap.bz2", bz2.compress(good), 1, stdin=True,
          say="bzip2-compressed; decompress it first, e.g. bzcat FILE | offport -r -")
    v.add("zstd_header.pcap.zst", b"\x28\xb5\x2f\xfd" + bytes(60), 1,
          say="zstd-compressed; decompress it first, e.g. zstdcat FILE | offport -r -")
    v.add("lz4_header.pcap.lz4", b"\x04\x22\x4d\x18" + bytes(60), 1,
          say="lz4-compressed; decompress it first, e.g. lz4cat FILE | offport -r -")
    v.add("zip.zip", b"PK\x03\x04" + bytes(60), 1, say="a zip archive")
    v.add("empty.pcap", b"", 1, text=True, stdin=True, say="not a capture, at byte offset 0: "
          "the file is empty")
    v.add("tcpdump.txt", b"12:00:01.000000 IP 192.0.2.1.51514 > 198.51.100.80.1224: Flags [S], "
          b"seq 1, win 64240, length 0\n" * 3, 1, text=True, stdin=True,
          say="not a capture, at byte offset 0: text (it begins '12:00:01.000000 IP "
              "192.0.2.1.51514 > 198'); offport reads pcap and pcapng files")
    v.add("eve.json", b'{"timestamp":"2026-11-26T23:33:26.011338+0000","event_type":"stats"}\n', 1,
          say="not a capture, at byte offset 0: JSON text (it begins '{\"timestamp\":")
    v.add("deadbeef.bin", b"\xde\xad\xbe\xef" + bytes(40), 1,
          say="not a capture, at byte offset 0: not pcap or pcapng (it begins de ad be ef)")
    v.add("binary_junk.bin", bytes(rng.randrange(256) for _ in range(300)), 1)

    # Link type swapped: the header says one thing, the packets are another.
    # Not damage: the packets are counted (malformed by reason or non-IP), exit 0.
    raw = (TESTS / "data" / "link_raw101.pcap").read_bytes()
    for name, b, lt in (("eth_as_raw", good, 101), ("raw_as_eth", raw, 1), ("eth_as_raw12", good, 12)):
        m = bytearray(b)
        struct.pack_into("<I", m, 20, lt)
        v.add(f"linktype_{name}.pcap", bytes(m), lt, text=True, mislinked=True)
    for endian, name in (("<", "synth_le.pcapng"), (">", "synth_be.pcapng")):
        b = sources[name]
        m = bytearray(b)
        idb = [s for s, t, _ in ng_blocks(b, endian) if t == BT_IDB][0]
        struct.pack_into(endian + "H", m, idb + 8, 101)
        v.add(f"linktype_eth_as_raw_{name}", bytes(m), 101, mislinked=True)

    # Random byte flips, fixed seed: 1 to 4 bytes, anywhere.
    names = sorted(sources)
    for k in range(240):
        name = names[k % len(names)]
        b = bytearray(sources[name])
        for _ in range(rng.choice((1, 1, 2, 4))):
            if rng.random() < 0.15:
                pos = rng.randrange(min(len(b), 32))  # the file header, often
            else:
                pos = rng.randrange(len(b))
            b[pos] ^= rng.randrange(1, 256)
        v.add(f"flip{k}_{name}", bytes(b), lts[name], text=k % 10 == 0, stdin=k % 15 == 0)
    return v, corpus_used


# ---- running ------------------------------------------------------------------

def strict_json(line):
    def bad_constant(c):
        raise ValueError(f"non-standard JSON constant {c}")
    return json.loads(line, parse_constant=bad_constant)


def run_one(offport, path, mode):
    """mode: json (file), text (file), stdin (json from a pipe)."""
    if mode == "stdin":
        args = [offport, "--json"] + SMALL_BOUNDS + ["-r", "-"]
        data = pathlib.Path(path).read_bytes()
    else:
        args = [offport] + (["--json"] if mode == "json" else []) + SMALL_BOUNDS + ["-r", path]
        data = None
    t0 = time.monotonic()
    try:
        p = subprocess.run(args, input=data, stdin=None if data is not None else subprocess.DEVNULL,
                           capture_output=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return None, b"", b"timeout", time.monotonic() - t0
    return p.returncode, p.stdout, p.stderr, time.monotonic() - t0


def judge(name, path, exp, mode, code, out, err):
    tag = f"{name} [{mode}]"
    err_s = err.decode("utf-8", "replace")
    if code is None:
        check(False, f"{tag}: finishes within {TIMEOUT} s")
        return
    check(code in (0, 1, 3), f"{tag}: exit status in the documented set", f"{code} {err_s[-500:]}")
    check("Sanitizer" not in err_s and "runtime error" not in err_s, f"{tag}: no sanitizer report",
          err_s[-2000:])
    want = exp.exit
    if want is None:  # a link type a flip made: supported or not
        if code == 1:
            check("not supported" in err_s, f"{tag}: exit 1 only for an unsupported link type",
                  err_s)
            return
    else:
        check(code == want, f"{tag}: exit status {want} ({exp.what})", f"{code}: {err_s.strip()}")
    name_in_msg = "(stdin)" if mode == "stdin" else path
    if code != 0:
        check(name_in_msg in err_s, f"{tag}: the message names the input", err_s)
    if code != 0 and getattr(exp, "say", None):
        want_say = exp.say.replace("FILE", path if mode != "stdin" else "FILE")
        check(want_say in err_s, f"{tag}: the message says {want_say!r}", err_s.strip())
    if code == 3 and exp.offset is not None:
        check(f"offset {exp.offset}" in err_s, f"{tag}: the message says offset {exp.offset} "
              f"({exp.what})", err_s.strip())
        if exp.at_open:
            check("after" not in err_s.split("offset", 1)[1].split(":")[0],
                  f"{tag}: damage at open is not said to follow packets", err_s)
        else:
            word = "packet" if exp.packets == 1 else "packets"
            check(f"after {exp.packets} {word}" in err_s,
                  f"{tag}: the message says after {exp.packets} {word}", err_s.strip())
    if code == 1:
        check(out == b"", f"{tag}: an error stops the run before any output", out[:200])
        return
    text = out.decode("utf-8", "strict") if out else ""
    if mode == "text":
        lines = text.splitlines()
        summary = [l for l in lines if l.startswith("offport: ")]
        check(len(summary) == 1, f"{tag}: one summary", text[-500:])
        if summary and want is not None:
            check(summary[0].startswith(f"offport: {exp.packets} packets,"),
                  f"{tag}: summary counts {exp.packets} packets", summary[0])
            check(("(1 damaged)" in summary[0]) == (code == 3),
                  f"{tag}: summary says damaged iff exit 3", summary[0])
        check("accounting: INCOMPLETE" not in text, f"{tag}: accounting complete", text[-500:])
        return
    try:
        records = [strict_json(l) for l in text.splitlines()]
    except ValueError as ex:
        check(False, f"{tag}: every line is JSON", repr(ex))
        return
    check(bool(records) and records[-1].get("event_type") == "stats",
          f"{tag}: the last record is stats", text[-300:])
    if not records or records[-1].get("event_type") != "stats":
        return
    probs = check_accounting(records)
    check(not probs, f"{tag}: accounting", "; ".join(probs))
    st = records[-1]["stats"]
    if getattr(exp, "cut", 0):
        dec = st["decoder"]
        cut = dec["snaplen_cut"] + sum(n for k, n in dec["drops"].items() if k.endswith("_truncated"))
        # at 100 bytes and more the headers fit: some packets are decoded cut
        check(cut >= exp.cut and (dec["snaplen_cut"] > 0 or "snaplen60" in name),
              f"{tag}: the {exp.cut} packets the snap length cuts are counted snaplen_cut or "
              f"dropped as truncated", f"snaplen_cut {dec['snaplen_cut']}, with truncated drops {cut}")
    if getattr(exp, "mislinked", False):
        dec = st["decoder"]
        check(dec["tcp"] + dec["udp"] == 0 and dec["malformed"] + dec["non_ip"] == st["packets"],
              f"{tag}: packets under the wrong link type are malformed (by reason) or non-IP",
              json.dumps(dec)[:400])
    if want is not None:
        check(st["packets"] == exp.packets, f"{tag}: {exp.packets} packets read",
              str(st["packets"]))
    check(st["inputs"] == {"opened": 1, "damaged": 1 if code == 3 else 0,
                           "short_wire_length": exp.short if want is not None else
                           st["inputs"].get("short_wire_length")},
          f"{tag}: inputs opened 1, damaged iff exit 3, {exp.short} short wire lengths",
          str(st["inputs"]))


def main():
    global passed, failed
    ap = argparse.ArgumentParser()
    ap.add_argument("--offport", required=True)
    ap.add_argument("--corpus", default=os.environ.get("OFFPORT_CORPUS",
                                                       str(REPO.parent / "shared" / "corpus" / "ndpi")))
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--keep", help="write the variants to this directory and keep them")
    a = ap.parse_args()
    offport = str(pathlib.Path(a.offport).resolve())
    corpus = pathlib.Path(a.corpus) / "pcap"
    t0 = time.monotonic()
    rng = random.Random(0x0FF9087)
    with tempfile.TemporaryDirectory(prefix="offport-damaged-") as tmp:
        d = a.keep or tmp
        os.makedirs(d, exist_ok=True)
        v, corpus_used = make_variants(d, corpus if corpus.is_dir() else None, rng)
        if not corpus_used:
            print("damaged: shared nDPI corpus not found: its captures skipped")
        jobs = []
        for name, path, exp, text, stdin in v.items:
            jobs.append((name, path, exp, "json"))
            if text:
                jobs.append((name, path, exp, "text"))
            if stdin:
                jobs.append((name, path, exp, "stdin"))
        with concurrent.futures.ThreadPoolExecutor(max_workers=a.jobs) as pool:
            futs = [(j, pool.submit(run_one, offport, j[1], j[3])) for j in jobs]
            for (name, path, exp, mode), f in futs:
                code, out, err, _ = f.result()
                judge(name, path, exp, mode, code, out, err)
        multi_input_tests(offport, v, d)
    show = int(os.environ.get("DAMAGED_SHOW", "60"))  # failures printed
    for line in failures[:show]:
        print(line)
    if len(failures) > show:
        print(f"... and {len(failures) - show} more (DAMAGED_SHOW=N prints N)")
    print(f"damaged: {len(v.items)} variants, {len(jobs)} runs "
          f"(corpus: {', '.join(corpus_used) or 'none'}) in {time.monotonic() - t0:.1f} s")
    print(f"damaged: {passed} passed, {failed} failed")
    return 1 if failed else 0


def multi_input_tests(offport, v, d):
    """Several -r inputs: a damaged one is reported and the others read; an
    error (a missing file) stops the run before any output."""
    by = {name: (path, exp) for name, path, exp, _, _ in v.items}
    good, gexp = by["good_http_1224.pcap"]
    cases = [("gzip.pcap.gz", 3), ("empty.pcap", 3), ("tcpdump.txt", 3),
             ("midrecord_http_1224.pcap", 3)]
    cases = [(n, c) for n, c in cases if n in by]
    for name, want in cases:
        path, exp = by[name]
        for order in ((path, good), (good, path)):
            args = [offport, "--json"] + [x for f in order for x in ("-r", f)]
            p = subprocess.run(args, capture_output=True, timeout=TIMEOUT)
            err = p.stderr.decode("utf-8", "replace")
            tag = f"multi {name} {'first' if order[0] == path else 'second'}"
            check(p.returncode == want, f"{tag}: exit {want}", f"{p.returncode} {err}")
            check(path in err and f"offset {exp.offset}" in err, f"{tag}: message", err)
            recs = [strict_json(l) for l in p.stdout.decode().splitlines()]
            st = recs[-1]["stats"] if recs else {}
            check(st.get("packets") == gexp.packets + exp.packets,
                  f"{tag}: the good input is read too", str(st.get("packets")))
            check(st.get("inputs") == {"opened": 2, "damaged": 1, "short_wire_length": 0}, f"{tag}: inputs", str(st.get("inputs")))
            check(not check_accounting(recs), f"{tag}: accounting")
    # all inputs damaged: a stats record with nothing read, exit 3
    p = subprocess.run([offport, "--json", "-r", by["gzip.pcap.gz"][0], "-r", by["empty.pcap"][0]],
                       capture_output=True, timeout=TIMEOUT)
    recs = [strict_json(l) for l in p.stdout.decode().splitlines()]
    check(p.returncode == 3 and recs and recs[-1]["stats"]["inputs"] == {"opened": 2, "damaged": 2, "short_wire_length": 0}
          and recs[-1]["stats"]["packets"] == 0, "multi: every input damaged: exit 3, stats",
          p.stderr.decode())
    # ... and a bad filter is still an error (no input to compile it on)
    p = subprocess.run([offport, "--json", "-r", by["gzip.pcap.gz"][0], "tcp", "port", "("],
                       capture_output=True, timeout=TIMEOUT)
    check(p.returncode == 1 and p.stdout == b"" and b"filter" in p.stderr,
          "multi: a bad filter with only damaged inputs: exit 1, no output", p.stderr.decode())
    # A BPF filter does not move the offset (packets the filter passes are
    # not the packets in the file).
    path, exp = by["midrecord_http_1224.pcap"]
    for filt in (["udp"], ["tcp[13]", "&", "2", "!=", "0"]):
        p = subprocess.run([offport, "--json", "-r", path] + filt, capture_output=True,
                           timeout=TIMEOUT)
        err = p.stderr.decode()
        check(p.returncode == 3 and f"at byte offset {exp.offset} after" in err,
              f"filter {' '.join(filt)}: the damage offset is the file's", err)
    # A named pipe: read once, through the tap; its damage offset is known
    # without opening it again (which would wait for another writer).
    path, exp = by["midrecord_http_1224.pcap"]
    fifo = os.path.join(d, "fifo.pcap")
    os.mkfifo(fifo)
    writer = threading.Thread(target=lambda: pathlib.Path(fifo).write_bytes(
        pathlib.Path(path).read_bytes()), daemon=True)
    writer.start()
    try:
        p = subprocess.run([offport, "--json", "-r", fifo], capture_output=True, timeout=20)
        err = p.stderr.decode()
        check(p.returncode == 3 and f"{fifo}: damaged capture at byte offset {exp.offset} after "
              f"{exp.packets} packets" in err, "a named pipe: damage offset, no second open", err)
    except subprocess.TimeoutExpired:
        check(False, "a named pipe: a damaged capture does not hang offport")
    writer.join(5)
    # an error in any input stops the run before output
    p = subprocess.run([offport, "--json", "-r", by["gzip.pcap.gz"][0], "-r", good, "-r",
                        os.path.join(d, "no-such-file.pcap")], capture_output=True, timeout=TIMEOUT)
    check(p.returncode == 1 and p.stdout == b"" and b"no-such-file.pcap" in p.stderr,
          "multi: a missing file stops the run before any output", p.stderr.decode())


if __name__ == "__main__":
    sys.exit(main())
