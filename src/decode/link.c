/*
 * link.c - link layers and what sits between them and IP: Ethernet
 * (+ 802.2 LLC/SNAP), 802.1Q/802.1ad tags, MPLS, PPPoE, PPP, Cisco HDLC,
 * Linux cooked capture v1/v2, BSD null/loopback and raw IP.
 *
 * Every function reads the frame through the reader it is given; when a
 * length field (PPPoE) says the payload ends early, rd_limit() shrinks the
 * window and s->missing is adjusted so later layers can tell a cut capture
 * from a lying header.
 */
#include "decode/decode_int.h"

/* libpcap DLT_ numbers, see decode.c's table. */
enum {
	DLT_NULL_ = 0,
	DLT_EN10MB_ = 1,
	DLT_PPP_ = 9,
	DLT_RAW_ = 12,
	DLT_RAW_OPENBSD_ = 14,
	DLT_PPP_SERIAL_ = 50,
	DLT_PPP_ETHER_ = 51,
	LINKTYPE_RAW_ = 101,
	DLT_C_HDLC_ = 104,
	DLT_LOOP_ = 108,
	DLT_LINUX_SLL_ = 113,
	DLT_IPV4_ = 228,
	DLT_IPV6_ = 229,
	DLT_PPI_ = 192,
	DLT_LINUX_SLL2_ = 276,
};

#define ETH_P_IPV4 0x0800
#define ETH_P_IPV6 0x86DD
#define ETH_P_8021Q 0x8100
#define ETH_P_8021AD 0x88A8
#define ETH_P_QINQ_OLD 0x9100
#define ETH_P_MPLS_UC 0x8847
#define ETH_P_MPLS_MC 0x8848
#define ETH_P_PPPOE_DISC 0x8863
#define ETH_P_PPPOE_SESS 0x8864

/*
 * IEEE 802.2 LLC with SNAP (RFC 1042), after an 802.3 length field:
 *
 *   +------+------+------+----------------+-----------+
 *   | DSAP | SSAP | ctrl | OUI (3 bytes)  | EtherType |
 *   | 0xAA | 0xAA | 0x03 |                |           |
 *   +------+------+------+----------------+-----------+
 *
 * Only SNAP carries an EtherType (IP over 802.3); anything else (STP's
 * 0x42 SAP, NetBIOS, IPX) is not IP.
 */
enum decode_result dec_llc(struct dstate *s, struct reader *r)
{
	uint8_t dsap = rd_u8(r), ssap = rd_u8(r), ctrl = rd_u8(r);
	if (!rd_ok(r) || dsap != 0xAA || ssap != 0xAA || ctrl != 0x03)
		return DECODE_NON_IP;
	rd_skip(r, 3); /* OUI */
	uint16_t type = rd_be16(r);
	if (!rd_ok(r))
		return DECODE_NON_IP;
	return dec_ethertype(s, r, type);
}

/*
 * Ethernet II / IEEE 802.3 (the FCS is not captured by libpcap):
 *
 *    0                   6                  12      14
 *   +-------------------+------------------+-------+---------
 *   | destination MAC   | source MAC       | type  | payload
 *   +-------------------+------------------+-------+---------
 *
 * type >= 0x0600 is an EtherType; <= 1500 is an 802.3 length (LLC follows).
 */
enum decode_result dec_ethernet(struct dstate *s, struct reader *r)
{
	rd_skip(r, 12);
	uint16_t type = rd_be16(r);
	if (!rd_ok(r))
		return dec_drop(s, DROP_LINK_TRUNCATED);
	if (type <= 1500) {
		dec_limit(s, r, type);
		return dec_llc(s, r);
	}
	if (type < 0x0600)
		return DECODE_NON_IP; /* 1501..1535: undefined */
	return dec_ethertype(s, r, type);
}

/*
 * MPLS label stack entries (RFC 3032 section 2.1), repeated until S = 1:
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                Label                  | TC  |S|       TTL     |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * MPLS does not say what follows the stack; the first nibble does
 * (RFC 4928): 4 = IPv4, 6 = IPv6, 0 = a pseudowire control word
 * (RFC 4385, 4 bytes) followed by an Ethernet frame (RFC 4448).
 */
static enum decode_result dec_mpls(struct dstate *s, struct reader *r)
{
	unsigned labels = 0;
	s->saw_mpls = true;
	for (;;) {
		uint32_t lse = rd_be32(r);
		if (!rd_ok(r))
			return dec_drop(s, DROP_MPLS_TRUNCATED);
		if (++labels > DECODE_MAX_MPLS)
			return dec_drop(s, DROP_MPLS_TOO_DEEP);
		if (s->tunnel_depth == 0 && s->pw_depth == 0)
			s->pkt->mpls_depth++;
		if (lse & 0x100u) /* S: bottom of stack */
			break;
	}
	uint8_t first;
	if (!rd_peek_u8(r, 0, &first))
		return dec_drop(s, DROP_MPLS_TRUNCATED);
	switch (first >> 4) {
	case 4:
		return dec_ipv4(s, r);
	case 6:
		return dec_ipv6(s, r);
	case 0:
		/* Control word: 0000 | flags | frg | length | sequence. */
		rd_skip(r, 4);
		if (!rd_ok(r))
			return dec_drop(s, DROP_MPLS_TRUNCATED);
		if (s->pw_depth >= DECODE_MAX_PW)
			return dec_drop(s, DROP_TUNNEL_TOO_DEEP);
		s->pw_depth++;
		return dec_ethernet(s, r);
	default:
		return DECODE_NON_IP;
	}
}

/*
 * PPP protocol field (RFC 1661 section 2), possibly compressed to one byte
 * (Protocol-Field-Compression: a first byte with the low bit set is the
 * whole field):
 *
 *   +----------+----------+---------
 *   | protocol (1 or 2)   | payload
 *   +----------+----------+---------
 *
 * 0x0021 IPv4, 0x0057 IPv6, 0x0281/0x0283 MPLS (RFC 3032); the control
 * protocols (LCP 0xC021, IPCP 0x8021, ...) are not IP traffic.
 */
static enum decode_result dec_ppp_payload(struct dstate *s, struct reader *r)
{
	uint16_t proto = rd_u8(r);
	if (!(proto & 1))
		proto = (uint16_t)(proto << 8 | rd_u8(r));
	if (!rd_ok(r))
		return dec_drop(s, DROP_PPP_TRUNCATED);
	switch (proto) {
	case 0x0021:
		return dec_ipv4(s, r);
	case 0x0057:
		return dec_ipv6(s, r);
	case 0x0281:
	case 0x0283:
		return dec_mpls(s, r);
	default:
		return DECODE_NON_IP;
	}
}

/* RFC 1662 HDLC-like framing: an optional ff 03 (address, control) ahead
 * of the protocol field; Address-and-Control-Field-Compression omits it. */
enum decode_result dec_ppp_hdlc(struct dstate *s, struct reader *r)
{
	uint8_t a, c;
	if (rd_peek_u8(r, 0, &a) && rd_peek_u8(r, 1, &c) && a == 0xFF && c == 0x03)
		rd_skip(r, 2);
	return dec_ppp_payload(s, r);
}

/*
 * PPPoE (RFC 2516 section 4):
 *
 *    0                   1                   2                   3
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |  VER  | TYPE  |      CODE     |          SESSION_ID           |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |            LENGTH             |           payload             ~
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * VER = TYPE = 1. Session data has CODE 0 and a PPP protocol field first;
 * LENGTH counts the payload (so it trims Ethernet padding). Other codes
 * are discovery (PADI/PADO/...): legal on DLT_PPP_ETHER, not IP.
 */
static enum decode_result dec_pppoe(struct dstate *s, struct reader *r, bool session_only)
{
	uint8_t vt = rd_u8(r);
	uint8_t code = rd_u8(r);
	rd_skip(r, 2); /* session id */
	uint16_t len = rd_be16(r);
	if (!rd_ok(r))
		return dec_drop(s, DROP_PPPOE_TRUNCATED);
	if (vt != 0x11)
		return dec_drop(s, DROP_PPPOE_BAD);
	if (code != 0)
		return session_only ? dec_drop(s, DROP_PPPOE_BAD) : DECODE_NON_IP;
	s->saw_pppoe = true;
	if (len > rd_remaining(r) + s->missing)
		return dec_drop(s, DROP_PPPOE_TRUNCATED);
	dec_limit(s, r, len);
	return dec_ppp_payload(s, r);
}

/*
 * An EtherType and what follows, including 802.1Q / 802.1ad tags
 * (IEEE 802.1Q section 9.6), each 4 bytes after the TPID that announced it:
 *
 *   +-----+---+-------------+-----------+
 *   | PCP |DEI|  VID (12)   | EtherType |
 *   +-----+---+-------------+-----------+
 *
 * TPIDs 0x8100 (C-tag), 0x88A8 (S-tag) and 0x9100 (pre-standard QinQ).
 * The packet reports the outermost frame's tags: vlan_depth is their
 * count and vlan_id the innermost one's VID (the customer VLAN in QinQ).
 */
enum decode_result dec_ethertype(struct dstate *s, struct reader *r, uint16_t type)
{
	unsigned tags = 0;
	bool outer = s->tunnel_depth == 0 && s->pw_depth == 0;
	while (type == ETH_P_8021Q || type == ETH_P_8021AD || type == ETH_P_QINQ_OLD) {
		if (++tags > DECODE_MAX_VLAN)
			return dec_drop(s, DROP_VLAN_TOO_DEEP);
		uint16_t tci = rd_be16(r);
		type = rd_be16(r);
		if (!rd_ok(r))
			return dec_drop(s, DROP_VLAN_TRUNCATED);
		s->saw_vlan = true;
		if (outer) {
			s->pkt->vlan_id = tci & 0x0FFF;
			s->pkt->vlan_depth++;
		}
	}
	if (type <= 1500 && tags > 0) {
		dec_limit(s, r, type);
		return dec_llc(s, r);
	}
	switch (type) {
	case ETH_P_IPV4:
		return dec_ipv4(s, r);
	case ETH_P_IPV6:
		return dec_ipv6(s, r);
	case ETH_P_MPLS_UC:
	case ETH_P_MPLS_MC:
		return dec_mpls(s, r);
	case ETH_P_PPPOE_SESS:
		return dec_pppoe(s, r, true);
	case ETH_P_PPPOE_DISC: /* PPPoE discovery: session setup, not IP */
	default:               /* ARP, LLDP, LACP, ... */
		return DECODE_NON_IP;
	}
}

/*
 * Linux cooked capture v1 (DLT_LINUX_SLL), 16 bytes:
 *
 *   +-------------+-------------+-------------+----------------+----------+
 *   | packet type | ARPHRD type | addr length | address (8)    | protocol |
 *   +-------------+-------------+-------------+----------------+----------+
 *
 * and v2 (DLT_LINUX_SLL2), 20 bytes:
 *
 *   +----------+----------+----------+-------+-------+--------+-------------+
 *   | protocol | reserved | ifindex  |ARPHRD |pkttype|addr len| address (8) |
 *   |    2     |    2     |    4     |   2   |   1   |   1    |             |
 *   +----------+----------+----------+-------+-------+--------+-------------+
 *
 * protocol is an EtherType, except below 0x0600 (0x0001 raw 802.3, 0x0004
 * 802.2 LLC, CAN, ...) and on netlink captures (ARPHRD 824): not IP.
 */
static enum decode_result dec_sll(struct dstate *s, struct reader *r, bool v2)
{
	uint16_t proto, hatype;
	if (v2) {
		proto = rd_be16(r);
		rd_skip(r, 6);
		hatype = rd_be16(r);
		rd_skip(r, 10);
	} else {
		rd_skip(r, 2);
		hatype = rd_be16(r);
		rd_skip(r, 10);
		proto = rd_be16(r);
	}
	if (!rd_ok(r))
		return dec_drop(s, DROP_LINK_TRUNCATED);
	if (hatype == 824 || proto < 0x0600)
		return DECODE_NON_IP;
	return dec_ethertype(s, r, proto);
}

/*
 * BSD loopback (DLT_NULL: 4-byte address family in the capturing host's
 * byte order; DLT_LOOP: network order):
 *
 *   +---------------------------+--------
 *   | address family (32 bits)  | packet
 *   +---------------------------+--------
 *
 * AF_INET is 2 everywhere; AF_INET6 is 10 (Linux), 24 (NetBSD, OpenBSD),
 * 28 (FreeBSD, DragonFly) or 30 (macOS). The capturing host may differ
 * from ours, so DLT_NULL accepts either byte order: a family is small, so
 * a value with high bits set was written the other way round.
 */
static enum decode_result dec_null(struct dstate *s, struct reader *r, bool network_order)
{
	struct reader copy = *r;
	uint32_t af = network_order ? rd_be32(r) : rd_le32(r);
	if (!rd_ok(r))
		return dec_drop(s, DROP_LINK_TRUNCATED);
	if (!network_order && (af & 0xFFFF0000u))
		af = rd_be32(&copy);
	switch (af) {
	case 2:
		return dec_ipv4(s, r);
	case 10:
	case 24:
	case 28:
	case 30:
		return dec_ipv6(s, r);
	default:
		return DECODE_NON_IP;
	}
}

/*
 * Cisco HDLC (DLT_C_HDLC), 4 bytes:
 *
 *   +---------+---------+-----------+
 *   | address | control | protocol  |
 *   | 0F / 8F |   00    | EtherType |
 *   +---------+---------+-----------+
 *
 * Address 0x0F is unicast, 0x8F broadcast; SLARP (0x8035) is not IP.
 */
static enum decode_result dec_chdlc(struct dstate *s, struct reader *r)
{
	uint8_t addr = rd_u8(r);
	rd_skip(r, 1);
	uint16_t proto = rd_be16(r);
	if (!rd_ok(r))
		return dec_drop(s, DROP_LINK_TRUNCATED);
	if (addr != 0x0F && addr != 0x8F)
		return dec_drop(s, DROP_LINK_BAD);
	return dec_ethertype(s, r, proto);
}

/* DLT_PPP_SERIAL carries PPP in HDLC-like framing (RFC 1662) or, on the
 * same links, Cisco HDLC; libpcap documents both. */
static enum decode_result dec_ppp_serial(struct dstate *s, struct reader *r)
{
	uint8_t first, second;
	if (!rd_peek_u8(r, 0, &first))
		return dec_drop(s, DROP_PPP_TRUNCATED);
	if ((first == 0x0F || first == 0x8F) && rd_peek_u8(r, 1, &second) && second == 0x00)
		return dec_chdlc(s, r);
	return dec_ppp_hdlc(s, r);
}

static enum decode_result dec_link_inner(struct dstate *s, int dlt, struct reader *r);

/*
 * Per-Packet Information (DLT_PPI), little-endian, then a frame of the
 * link type it names (PPI specification 1.0.10, CACE Technologies):
 *
 *   +---------+-------+-------------+-------------------+--------+
 *   | version | flags | length (LE) | inner DLT (LE 32) | fields |
 *   |    0    |       |  >= 8       |                   |  ...   |
 *   +---------+-------+-------------+-------------------+--------+
 *
 * The fields (802.11 radio data, aggregation) say nothing about IP; the
 * inner frame is decoded as its own link type. PPI inside PPI is refused
 * so a crafted frame cannot recurse.
 */
static enum decode_result dec_ppi(struct dstate *s, struct reader *r)
{
	uint8_t version = rd_u8(r);
	rd_skip(r, 1);
	uint16_t len = rd_le16(r);
	uint32_t inner = rd_le32(r);
	if (!rd_ok(r))
		return dec_drop(s, DROP_LINK_TRUNCATED);
	if (version != 0 || len < 8)
		return dec_drop(s, DROP_LINK_BAD);
	rd_skip(r, (size_t)len - 8);
	if (!rd_ok(r))
		return dec_drop(s, DROP_LINK_TRUNCATED);
	if (inner == DLT_PPI_ || !decode_linktype_supported((int)inner, NULL))
		return dec_drop(s, DROP_LINK_UNSUPPORTED);
	return dec_link_inner(s, (int)inner, r);
}

enum decode_result dec_link(struct dstate *s, int dlt, struct reader *r)
{
	if (dlt == DLT_PPI_)
		return dec_ppi(s, r);
	return dec_link_inner(s, dlt, r);
}

static enum decode_result dec_link_inner(struct dstate *s, int dlt, struct reader *r)
{
	switch (dlt) {
	case DLT_EN10MB_:
		return dec_ethernet(s, r);
	case DLT_LINUX_SLL_:
		return dec_sll(s, r, false);
	case DLT_LINUX_SLL2_:
		return dec_sll(s, r, true);
	case DLT_RAW_:
	case DLT_RAW_OPENBSD_:
	case LINKTYPE_RAW_:
		return dec_ip_by_version(s, r, DROP_LINK_BAD);
	case DLT_IPV4_:
		return dec_ipv4(s, r);
	case DLT_IPV6_:
		return dec_ipv6(s, r);
	case DLT_NULL_:
		return dec_null(s, r, false);
	case DLT_LOOP_:
		return dec_null(s, r, true);
	case DLT_PPP_:
		/* Some routers write Cisco HDLC under DLT_PPP (Wireshark reads it
		 * so too). 0F 00 / 8F 00 cannot start PPP: a PPP protocol number's
		 * low byte is always odd (RFC 1661 section 2). */
		return dec_ppp_serial(s, r);
	case DLT_PPP_SERIAL_:
		return dec_ppp_serial(s, r);
	case DLT_PPP_ETHER_:
		return dec_pppoe(s, r, false);
	case DLT_C_HDLC_:
		return dec_chdlc(s, r);
	default:
		/* The caller refuses unsupported link types up front; a frame
		 * of one that still arrives is not decodable. */
		return dec_drop(s, DROP_LINK_BAD);
	}
}
