#!/usr/bin/env python3
"""Derives the encapsulated and reshaped detection cases from the captures
that make.sh recorded from real programs, the way the traffic reaches a
sensor in practice:

  vxlan_ssh_443.pcap      ssh_443 as AWS Traffic Mirroring delivers it
                          (VXLAN, VNI 4242, UDP 4789, outer 192.0.2.1/.2)
  geneve_http_1224.pcap   http_1224 behind an AWS Gateway Load Balancer
                          (GENEVE, inner IPv4 without Ethernet)
  vlan_tls_8088.pcap      tls_8088 on an 802.1Q trunk (VID 42)
  tiny_tls_8088.pcap      tls_8088 with every client payload byte in its
                          own TCP segment (the ClientHello in ~500 pieces)
  midstream_tls_8088.pcap tls_8088 picked up after the handshake: only
                          TLS records, no SYN, no ClientHello
  midstream_http_80.pcap  http_80 picked up after the request: the
                          response and the teardown only (no finding)

Python 3 standard library only; deterministic (no randomness). Run from
anywhere: python3 tests/captures/derive.py
"""
import pathlib
import struct

HERE = pathlib.Path(__file__).resolve().parent


def read_pcap(path):
    data = path.read_bytes()
    magic, = struct.unpack("<I", data[:4])
    assert magic == 0xA1B2C3D4, f"{path}: want a little-endian microsecond pcap"
    linktype, = struct.unpack("<I", data[20:24])
    assert linktype == 1, f"{path}: want Ethernet"
    off, pkts = 24, []
    while off + 16 <= len(data):
        sec, usec, caplen, wirelen = struct.unpack("<IIII", data[off:off + 16])
        pkts.append((sec, usec, data[off + 16:off + 16 + caplen]))
        off += 16 + caplen
    return pkts


def write_pcap(name, pkts, linktype=1):
    out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, linktype))
    for sec, usec, frame in pkts:
        out += struct.pack("<IIII", sec, usec, len(frame), len(frame)) + frame
    (HERE / name).write_bytes(bytes(out))
    print(f"derive.py: {name} ({len(out)} bytes, {len(pkts)} packets)")


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ipv4(src, dst, proto, payload, ident=0):
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, 0x4000, 64, proto, 0,
                      bytes(src), bytes(dst))
    return hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:] + payload


def udp(src, dst, sport, dport, payload):
    seg = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    pseudo = bytes(src) + bytes(dst) + struct.pack("!BBH", 0, 17, len(seg))
    c = csum(pseudo + seg) or 0xFFFF
    return seg[:6] + struct.pack("!H", c) + seg[8:]


def tcp_fix(ip):
    """Recomputes the IPv4 total length/checksum and the TCP checksum."""
    ihl = (ip[0] & 15) * 4
    ip = bytearray(ip)
    struct.pack_into("!H", ip, 2, len(ip))
    struct.pack_into("!H", ip, 10, 0)
    struct.pack_into("!H", ip, 10, csum(bytes(ip[:ihl])))
    seg = bytearray(ip[ihl:])
    struct.pack_into("!H", seg, 16, 0)
    pseudo = bytes(ip[12:16]) + bytes(ip[16:20]) + struct.pack("!BBH", 0, 6, len(seg))
    struct.pack_into("!H", seg, 16, csum(pseudo + bytes(seg)))
    return bytes(ip[:ihl]) + bytes(seg)


OUT_A, OUT_B = [192, 0, 2, 1], [192, 0, 2, 2]


def vxlan_of(pkts, vni, server_port):
    """The VTEP pair swaps outer addresses with the inner direction."""
    res = []
    for i, (sec, usec, frame) in enumerate(pkts):
        _, _, t, _ = tcp_parts(frame)
        to_server = struct.unpack("!H", t[2:4])[0] == server_port
        a, b = (OUT_A, OUT_B) if to_server else (OUT_B, OUT_A)
        vx = struct.pack("!BBHI", 0x08, 0, 0, vni << 8) + frame
        o = ipv4(a, b, 17, udp(a, b, 49152 + (i % 16), 4789, vx), ident=i)
        res.append((sec, usec, b"\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x08\x00" + o))
    return res


def geneve_of(pkts):
    res = []
    for i, (sec, usec, frame) in enumerate(pkts):
        inner_ip = frame[14:]
        opts = struct.pack("!HBB", 0x0108, 1, 2) + b"\0" * 8  # AWS: GWLBE/VPCE id
        gen = struct.pack("!BBHI", len(opts) // 4, 0, 0x0800, 0) + opts + inner_ip
        o = ipv4(OUT_A, OUT_B, 17, udp(OUT_A, OUT_B, 40000 + (i % 16), 6081, gen), ident=i)
        res.append((sec, usec, b"\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x08\x00" + o))
    return res


def vlan_of(pkts, vid):
    return [(s, u, f[:12] + struct.pack("!HH", 0x8100, vid) + f[12:]) for s, u, f in pkts]


def tcp_parts(frame):
    ip = frame[14:]
    ihl = (ip[0] & 15) * 4
    t = ip[ihl:]
    doff = (t[12] >> 4) * 4
    return ip, ihl, t, doff


def tiny_of(pkts, client_port):
    """Every client payload byte in its own segment (same timestamps + 1 us)."""
    res = []
    for sec, usec, frame in pkts:
        ip, ihl, t, doff = tcp_parts(frame)
        sport, = struct.unpack("!H", t[:2])
        payload = t[doff:]
        if sport != client_port or len(payload) <= 1:
            res.append((sec, usec, frame))
            continue
        seq, = struct.unpack("!I", t[4:8])
        for k, byte in enumerate(payload):
            hdr = bytearray(t[:doff])
            struct.pack_into("!I", hdr, 4, (seq + k) & 0xFFFFFFFF)
            ipk = tcp_fix(bytes(ip[:ihl]) + bytes(hdr) + bytes([byte]))
            u = usec + k
            res.append((sec + u // 1000000, u % 1000000, frame[:14] + ipk))
    return res


def reversed_of(pkts, server_port, new_server, new_client):
    """Without SYNs, and the server on a port above the client's: the
    orientation is guessed from the ports, wrongly, and the payload must
    turn the flow round."""
    res = []
    for sec, usec, frame in pkts:
        ip, ihl, t, doff = tcp_parts(frame)
        if t[13] & 0x02:
            continue
        sport, dport = struct.unpack("!HH", t[:4])
        sport = new_server if sport == server_port else new_client
        dport = new_server if dport == server_port else new_client
        seg = struct.pack("!HH", sport, dport) + bytes(t[4:])
        res.append((sec, usec, frame[:14] + tcp_fix(bytes(ip[:ihl]) + seg)))
    return res


def midstream_of(pkts, skip_while):
    """Drops packets from the start while skip_while(frame) holds."""
    i = 0
    while i < len(pkts) and skip_while(pkts[i][2]):
        i += 1
    return pkts[i:]


def main():
    ssh = read_pcap(HERE / "ssh_443.pcap")
    http = read_pcap(HERE / "http_1224.pcap")
    tls = read_pcap(HERE / "tls_8088.pcap")
    http80 = read_pcap(HERE / "http_80.pcap")
    write_pcap("vxlan_ssh_443.pcap", vxlan_of(ssh, 4242, 443))
    write_pcap("geneve_http_1224.pcap", geneve_of(http))
    write_pcap("vlan_tls_8088.pcap", vlan_of(tls, 42))
    client = next(struct.unpack("!H", tcp_parts(f)[2][:2])[0] for _, _, f in tls
                  if struct.unpack("!H", tcp_parts(f)[2][2:4])[0] == 8088)
    write_pcap("tiny_tls_8088.pcap", tiny_of(tls, client))
    write_pcap("reversed_tls_40000.pcap", reversed_of(tls, 8088, 40000, 1000))

    def before_appdata(frame):
        _, _, t, doff = tcp_parts(frame)
        return t[doff:doff + 1] != b"\x17"
    write_pcap("midstream_tls_8088.pcap", midstream_of(tls, before_appdata))

    def before_response(frame):
        _, _, t, doff = tcp_parts(frame)
        return not t[doff:].startswith(b"HTTP/")
    write_pcap("midstream_http_80.pcap", midstream_of(http80, before_response))


if __name__ == "__main__":
    main()
