/*
 * tunnel.c - decapsulation: GRE (RFC 2784, RFC 2890 keys and sequence
 * numbers), enhanced GRE for PPTP (RFC 2637), ERSPAN types I/II/III
 * (draft-foschiano-erspan), VXLAN (RFC 7348), GENEVE (RFC 8926), GTP-U,
 * CAPWAP data (RFC 5415, with the IEEE 802.11 binding of RFC 5416); IP-in-IP
 * (RFC 2003), 6in4 (RFC 4213) and the IPv6-carried variants (RFC 2473)
 * are entered from ip.c through dec_tunnel_enter().
 *
 * The innermost packet is the one reported; pkt->tunnel describes the
 * innermost tunnel layer and the IP header that carried it.
 *
 * VXLAN and GENEVE are chosen by UDP destination port, which is
 * decapsulation, not identification: a datagram to 4789/6081 whose header
 * does not validate is reported as the ordinary UDP it may well be; a
 * valid header over a broken inner frame drops with the inner layer's
 * reason.
 */
#include <string.h>

#include "decode/decode_int.h"

#define GRE_C 0x8000u /* checksum present */
#define GRE_R 0x4000u /* routing present (RFC 1701, obsolete) */
#define GRE_K 0x2000u /* key present */
#define GRE_S 0x1000u /* sequence number present */
#define GRE_SSR 0x0800u /* strict source route (RFC 1701, obsolete) */
#define GRE_A 0x0080u /* acknowledgment present (enhanced GRE) */

#define UDP_PORT_VXLAN 4789
#define UDP_PORT_GENEVE 6081
#define UDP_PORT_GTPU 2152
#define UDP_PORT_CAPWAP_DATA 5247

bool dec_tunnel_enter(struct dstate *s, enum tunnel_type t, bool id_valid, uint32_t id)
{
	struct packet *p = s->pkt;
	if (s->tunnel_depth >= DECODE_MAX_DEPTH) {
		s->drop = DROP_TUNNEL_TOO_DEEP;
		return false;
	}
	s->tunnel_depth++;
	s->tunnel_mask |= 1u << t;
	struct tunnel_info *ti = &p->tunnel;
	ti->type = (uint8_t)t;
	ti->depth = (uint8_t)s->tunnel_depth;
	ti->outer_ipver = p->ip_version;
	ti->id_valid = id_valid ? 1 : 0;
	ti->id = id_valid ? id : 0;
	memcpy(ti->outer_src, p->src_ip, sizeof ti->outer_src);
	memcpy(ti->outer_dst, p->dst_ip, sizeof ti->outer_dst);
	/* The carrier's transport fields do not describe the inner packet. */
	p->src_port = p->dst_port = 0;
	p->tcp_flags = 0;
	p->seq = p->ack = 0;
	p->window = 0;
	p->payload = NULL;
	p->payload_len = p->payload_wire_len = 0;
	return true;
}

/* The GRE packet itself is the result (unknown payload, keepalive, PPTP
 * acknowledgment): IP with protocol 47. */
static enum decode_result gre_as_other(struct dstate *s, struct reader *r)
{
	size_t n;
	s->pkt->l4_proto = 47;
	s->pkt->payload = rd_rest(r, &n);
	s->pkt->payload_len = (uint32_t)n;
	s->pkt->payload_wire_len = (uint32_t)n + s->missing;
	return DECODE_IP_OTHER;
}

/*
 * ERSPAN type II header (8 bytes), after GRE protocol 0x88BE with S = 1:
 *
 *    0                   1                   2                   3
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |  Ver  |          VLAN         | COS | En|T|    Session ID     |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |      Reserved         |                  Index                |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Ver = 1. Type I (0x88BE without a GRE sequence number) has no header.
 *
 * ERSPAN type III header (12 bytes), GRE protocol 0x22EB:
 *
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |  Ver  |          VLAN         | COS |BSO|T|     Session ID    |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                          Timestamp                            |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |             SGT               |P|    FT   |   Hw ID   |D|Gra|O|
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Ver = 2; O = 1 adds an 8-byte platform-specific subheader; FT (frame
 * type) 0 is an Ethernet frame, the only kind mirrored in practice.
 */
static enum decode_result dec_erspan(struct dstate *s, struct reader *r, uint16_t proto, bool seq)
{
	if (proto == 0x88BE && !seq) { /* type I */
		if (!dec_tunnel_enter(s, TUNNEL_ERSPAN, false, 0))
			return DECODE_MALFORMED;
		return dec_ethernet(s, r);
	}
	uint16_t w0 = rd_be16(r);
	uint16_t w1 = rd_be16(r);
	unsigned ver = w0 >> 12;
	uint32_t session = w1 & 0x03FFu;
	bool ethernet = true;
	if (proto == 0x88BE) {
		rd_skip(r, 4);
		if (!rd_ok(r))
			return dec_drop(s, DROP_GRE_TRUNCATED);
		if (ver != 1)
			return dec_drop(s, DROP_GRE_BAD);
	} else {
		rd_skip(r, 4 + 2); /* timestamp, SGT */
		uint16_t w5 = rd_be16(r);
		if (w5 & 1)
			rd_skip(r, 8);
		if (!rd_ok(r))
			return dec_drop(s, DROP_GRE_TRUNCATED);
		if (ver != 2)
			return dec_drop(s, DROP_GRE_BAD);
		ethernet = ((w5 >> 10) & 0x1F) == 0;
	}
	if (!ethernet)
		return gre_as_other(s, r);
	if (!dec_tunnel_enter(s, TUNNEL_ERSPAN, true, session))
		return DECODE_MALFORMED;
	return dec_ethernet(s, r);
}

/*
 * GRE header, version 0 (RFC 2784 section 2.1 with RFC 2890's key and
 * sequence number):
 *
 *    0                   1                   2                   3
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |C|R|K|S|s|Recur|  Flags  | Ver |         Protocol Type         |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |      Checksum (if C)          |       Reserved1 (if C)        |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                         Key (if K)                            |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                 Sequence Number (if S)                        |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * RFC 2784: a receiver not implementing RFC 1701 discards R or s set.
 *
 * Version 1, enhanced GRE (RFC 2637 section 4.1), carries PPP for PPTP:
 *
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |C|R|K|S|s|Recur|A| Flags | Ver |   Protocol Type (0x880B)      |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |    Payload Length             |       Call ID                 |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                  Sequence Number (if S)                       |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |               Acknowledgment Number (if A)                    |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * C = R = 0 and K = 1 are required. Without S there is no payload (an
 * acknowledgment only). The tunnel id is the call id.
 */
enum decode_result dec_gre(struct dstate *s, struct reader *r)
{
	uint16_t flags = rd_be16(r);
	uint16_t proto = rd_be16(r);
	if (!rd_ok(r))
		return dec_drop(s, DROP_GRE_TRUNCATED);
	unsigned ver = flags & 7u;

	if (ver == 1) {
		if (proto != 0x880B || !(flags & GRE_K) || (flags & (GRE_C | GRE_R)))
			return dec_drop(s, DROP_GRE_BAD);
		uint16_t plen = rd_be16(r);
		uint16_t call = rd_be16(r);
		if (flags & GRE_S)
			rd_skip(r, 4);
		if (flags & GRE_A)
			rd_skip(r, 4);
		if (!rd_ok(r))
			return dec_drop(s, DROP_GRE_TRUNCATED);
		if (!(flags & GRE_S) || plen == 0)
			return gre_as_other(s, r);
		if (plen > rd_remaining(r) + s->missing)
			return dec_drop(s, DROP_GRE_TRUNCATED);
		if (!dec_tunnel_enter(s, TUNNEL_GRE, true, call))
			return DECODE_MALFORMED;
		dec_limit(s, r, plen);
		enum decode_result res = dec_ppp_hdlc(s, r);
		/* PPP control traffic (LCP, CCP, ...) or compressed/encrypted
		 * data: the packet is still IP (GRE), just not one we can open. */
		if (res == DECODE_NON_IP)
			return gre_as_other(s, r);
		return res;
	}
	if (ver != 0 || (flags & (GRE_R | GRE_SSR)))
		return dec_drop(s, DROP_GRE_BAD);

	uint32_t key = 0;
	if (flags & GRE_C)
		rd_skip(r, 4);
	if (flags & GRE_K)
		key = rd_be32(r);
	if (flags & GRE_S)
		rd_skip(r, 4);
	if (!rd_ok(r))
		return dec_drop(s, DROP_GRE_TRUNCATED);
	bool has_key = (flags & GRE_K) != 0;

	switch (proto) {
	case 0x0800:
		if (!dec_tunnel_enter(s, TUNNEL_GRE, has_key, key))
			return DECODE_MALFORMED;
		return dec_ipv4(s, r);
	case 0x86DD:
		if (!dec_tunnel_enter(s, TUNNEL_GRE, has_key, key))
			return DECODE_MALFORMED;
		return dec_ipv6(s, r);
	case 0x6558: /* transparent Ethernet bridging */
		if (!dec_tunnel_enter(s, TUNNEL_GRE, has_key, key))
			return DECODE_MALFORMED;
		return dec_ethernet(s, r);
	case 0x8847: /* MPLS over GRE (RFC 4023) */
	case 0x8848:
		if (!dec_tunnel_enter(s, TUNNEL_GRE, has_key, key))
			return DECODE_MALFORMED;
		return dec_ethertype(s, r, proto);
	case 0x88BE:
	case 0x22EB:
		return dec_erspan(s, r, proto, (flags & GRE_S) != 0);
	default: /* keepalives (proto 0), WCCP, NVGRE-less payloads, ... */
		return gre_as_other(s, r);
	}
}

/*
 * VXLAN header (RFC 7348 section 5), UDP destination port 4789:
 *
 *    0                   1                   2                   3
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |R|R|R|R|I|R|R|R|            Reserved                           |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                VXLAN Network Identifier (VNI) |   Reserved    |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * I (0x08) must be set; the other bits are ignored on receipt. An inner
 * Ethernet frame follows.
 */
static bool dec_vxlan(struct dstate *s, struct reader *r, enum decode_result *res)
{
	struct reader c = *r;
	uint8_t flags = rd_u8(&c);
	rd_skip(&c, 3);
	uint32_t vni = rd_be24(&c);
	rd_skip(&c, 1);
	if (!rd_ok(&c) || !(flags & 0x08))
		return false;
	*r = c;
	if (!dec_tunnel_enter(s, TUNNEL_VXLAN, true, vni))
		*res = DECODE_MALFORMED;
	else
		*res = dec_ethernet(s, r);
	return true;
}

/*
 * GENEVE header (RFC 8926 section 3.4), UDP destination port 6081:
 *
 *    0                   1                   2                   3
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |Ver|  Opt Len  |O|C|    Rsvd.  |          Protocol Type        |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |        Virtual Network Identifier (VNI)       |    Reserved   |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                    Options (Opt Len * 4 bytes)                ~
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Ver = 0. Protocol Type 0x6558 is an Ethernet frame (AWS Gateway Load
 * Balancer uses 0x0800/0x86DD: a bare IP packet).
 */
static bool dec_geneve(struct dstate *s, struct reader *r, enum decode_result *res)
{
	struct reader c = *r;
	uint8_t b0 = rd_u8(&c);
	rd_skip(&c, 1);
	uint16_t ptype = rd_be16(&c);
	uint32_t vni = rd_be24(&c);
	rd_skip(&c, 1);
	rd_skip(&c, (size_t)(b0 & 0x3F) * 4);
	if (!rd_ok(&c) || (b0 >> 6) != 0)
		return false;
	if (ptype != 0x6558 && ptype != 0x0800 && ptype != 0x86DD)
		return false;
	*r = c;
	if (!dec_tunnel_enter(s, TUNNEL_GENEVE, true, vni)) {
		*res = DECODE_MALFORMED;
		return true;
	}
	if (ptype == 0x6558)
		*res = dec_ethernet(s, r);
	else if (ptype == 0x0800)
		*res = dec_ipv4(s, r);
	else
		*res = dec_ipv6(s, r);
	return true;
}

/*
 * GTP-U header (3GPP TS 29.281 section 5), UDP destination port 2152:
 *
 *    0                   1                   2                   3
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |Ver=1|1|0|E|S|N| Message Type  |            Length             |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |            Tunnel Endpoint Identifier (TEID)                  |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   | Sequence Number (if E|S|N)    | N-PDU (opt)   | Next Ext Type |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   | extension headers: length (4-byte units), content, next type  ~
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Only G-PDUs (type 255) carry a user IP packet; echo, error indication
 * and end marker messages stay the ordinary UDP they are. The Length
 * field counts the bytes after the first 8.
 */
static bool dec_gtpu(struct dstate *s, struct reader *r, enum decode_result *res)
{
	struct reader c = *r;
	uint8_t flags = rd_u8(&c), type = rd_u8(&c);
	uint16_t len = rd_be16(&c);
	uint32_t teid = rd_be32(&c);
	if (!rd_ok(&c) || (flags & 0xF0) != 0x30 || type != 0xFF)
		return false;
	size_t body = rd_remaining(&c);
	if (len < body)
		rd_limit(&c, len); /* trailing bytes after the G-PDU: not its payload */
	if (flags & 0x07) {
		rd_skip(&c, 3);
		uint8_t next = rd_u8(&c);
		for (int n = 0; next != 0 && rd_ok(&c); n++) {
			uint8_t units = rd_u8(&c);
			if (units == 0 || n == 8) /* malformed or runaway chain */
				return false;
			rd_skip(&c, (size_t)units * 4 - 2);
			next = rd_u8(&c);
		}
	}
	uint8_t vbyte;
	if (!rd_ok(&c) || !rd_peek_u8(&c, 0, &vbyte) || ((vbyte >> 4) != 4 && (vbyte >> 4) != 6))
		return false;
	*r = c;
	if (!dec_tunnel_enter(s, TUNNEL_GTPU, true, teid))
		*res = DECODE_MALFORMED;
	else if ((vbyte >> 4) == 4)
		*res = dec_ipv4(s, r);
	else
		*res = dec_ipv6(s, r);
	return true;
}

/*
 * An IEEE 802.11 data frame (IEEE 802.11-2020 section 9.3.2.1), as a
 * CAPWAP tunnel carries it in native format:
 *
 *   | FC 2 | duration 2 | addr1 6 | addr2 6 | addr3 6 | seq 2 | addr4 6 (ToDS and FromDS) |
 *   | QoS control 2 (QoS subtypes) | HT control 4 (QoS and +HTC/Order) | LLC/SNAP | ...
 *
 * Frame control: type in bits 2-3 of the first byte (2 = data), subtype in
 * bits 4-7 (bit 2 of the subtype set: no body; bit 3: QoS); flags in the
 * second byte (bit 0 ToDS, bit 1 FromDS, bit 6 protected, bit 7 order).
 * Management and control frames, bodiless data and protected (encrypted)
 * bodies are not IP here. Wireshark's CAPWAP dissector has the same
 * byte-order question as a preference ("swap frame control").
 */
static enum decode_result dec_ieee80211(struct dstate *s, struct reader *r)
{
	uint8_t fc0 = rd_u8(r), fc1 = rd_u8(r);
	if (!rd_ok(r))
		return dec_drop(s, DROP_LINK_TRUNCATED);
	/* Some access points (Cisco's) send the two frame-control bytes
	 * swapped; the protocol version (bits 0-1 of the first) is 0, which
	 * tells the order. */
	if ((fc0 & 3) != 0 && (fc1 & 3) == 0) {
		uint8_t t = fc0;
		fc0 = fc1;
		fc1 = t;
	}
	if ((fc0 & 3) != 0)
		return DECODE_NON_IP;
	uint8_t type = (fc0 >> 2) & 3, subtype = fc0 >> 4;
	if (type != 2 || (subtype & 4) || (fc1 & 0x40))
		return DECODE_NON_IP;
	size_t rest = 22; /* duration, three addresses, sequence control */
	if ((fc1 & 3) == 3)
		rest += 6;
	if (subtype & 8) {
		rest += 2;
		if (fc1 & 0x80)
			rest += 4;
	}
	rd_skip(r, rest);
	if (!rd_ok(r))
		return dec_drop(s, DROP_LINK_TRUNCATED);
	return dec_llc(s, r);
}

/*
 * CAPWAP data channel header (RFC 5415 section 4.3), UDP port 5247 on
 * the access controller (either direction):
 *
 *    0                   1                   2                   3
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |CAPWAP Preamble|  HLEN   |   RID   | WBID    |T|F|L|W|M|K|Flags|
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |          Fragment ID          |     Frag Offset         |Rsvd |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |  (optional radio MAC address, wireless specific information)  ~
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Preamble 0 (version 0, type 0: a clear header; type 1 is DTLS, whose
 * payload is encrypted). HLEN counts 4-byte words of the whole header.
 * T set: the frame is in the binding's native format (WBID 1: IEEE
 * 802.11), else an IEEE 802.3 frame. Fragments (F) are not reassembled
 * and keep-alives carry nothing: both stay the UDP they are.
 */
static bool dec_capwap(struct dstate *s, struct reader *r, enum decode_result *res)
{
	struct reader c = *r;
	uint32_t w0 = rd_be32(&c);
	rd_skip(&c, 4);
	if (!rd_ok(&c))
		return false;
	unsigned hlen = (w0 >> 19) & 0x1F, wbid = (w0 >> 9) & 0x1F;
	bool native = (w0 >> 8) & 1, frag = (w0 >> 7) & 1;
	if ((w0 >> 24) != 0 || hlen < 2 || frag || (native && wbid != 1))
		return false;
	rd_skip(&c, (size_t)(hlen - 2) * 4);
	if (!rd_ok(&c) || rd_remaining(&c) == 0)
		return false;
	*r = c;
	if (!dec_tunnel_enter(s, TUNNEL_CAPWAP, false, 0))
		*res = DECODE_MALFORMED;
	else
		*res = native ? dec_ieee80211(s, r) : dec_ethernet(s, r);
	return true;
}

bool udp_tunnel_port(uint16_t src_port, uint16_t dst_port)
{
	return dst_port == UDP_PORT_CAPWAP_DATA || src_port == UDP_PORT_CAPWAP_DATA ||
	       dst_port == UDP_PORT_GTPU || dst_port == UDP_PORT_VXLAN || dst_port == UDP_PORT_GENEVE;
}

bool dec_udp_tunnel(struct dstate *s, struct reader *r, uint16_t src_port, uint16_t dst_port,
                    enum decode_result *res)
{
	if (!udp_tunnel_port(src_port, dst_port))
		return false; /* every port dispatched below is in that list */
	if (dst_port == UDP_PORT_CAPWAP_DATA || src_port == UDP_PORT_CAPWAP_DATA)
		return dec_capwap(s, r, res);
	if (dst_port == UDP_PORT_GTPU)
		return dec_gtpu(s, r, res);
	if (dst_port == UDP_PORT_VXLAN)
		return dec_vxlan(s, r, res);
	if (dst_port == UDP_PORT_GENEVE)
		return dec_geneve(s, r, res);
	return false;
}
