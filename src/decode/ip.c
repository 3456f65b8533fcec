/*
 * ip.c - IPv4 (RFC 791), IPv6 (RFC 8200) with its extension headers, and
 * the transport headers the sensor tracks: TCP (RFC 9293), UDP (RFC 768),
 * ICMP (RFC 792) / ICMPv6 (RFC 4443). Tunnel payloads (GRE, IP-in-IP,
 * VXLAN, GENEVE) are handed to tunnel.c; fragments to frag.c.
 *
 * Lengths: each IP header's length field shrinks the reader's window
 * (trimming Ethernet padding) and sets s->missing to what the snap length
 * cut. A header that claims more than rd_remaining() + missing lies about
 * its length (malformed); one that claims more than rd_remaining() only
 * was cut by the capture, which is legal for payload and *_TRUNCATED when
 * the cut falls inside a header.
 */
#include <string.h>

#include "decode/decode_int.h"

#define IPPROTO_HOPOPTS_ 0
#define IPPROTO_ICMP_ 1
#define IPPROTO_IPIP_ 4
#define IPPROTO_TCP_ 6
#define IPPROTO_UDP_ 17
#define IPPROTO_IPV6_ 41
#define IPPROTO_ROUTING_ 43
#define IPPROTO_FRAGMENT_ 44
#define IPPROTO_GRE_ 47
#define IPPROTO_AH_ 51
#define IPPROTO_ICMPV6_ 58
#define IPPROTO_DSTOPTS_ 60

/* The rest of the window is the packet's payload. */
static void take_payload(struct dstate *s, struct reader *r)
{
	size_t n;
	s->pkt->payload = rd_rest(r, &n);
	s->pkt->payload_len = (uint32_t)n;
	s->pkt->payload_wire_len = (uint32_t)n + s->missing;
}

/*
 * TCP header (RFC 9293 section 3.1); options are skipped:
 *
 *    0                   1                   2                   3
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |          Source Port          |       Destination Port        |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                        Sequence Number                        |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                    Acknowledgment Number                      |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |  Data |       |C|E|U|A|P|R|S|F|                               |
 *   | Offset| Rsrvd |W|C|R|C|S|S|Y|I|            Window             |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |           Checksum            |         Urgent Pointer        |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */
static enum decode_result dec_tcp(struct dstate *s, struct reader *r)
{
	struct packet *p = s->pkt;
	size_t avail = rd_remaining(r);
	uint64_t wire = (uint64_t)avail + s->missing;
	const uint8_t *h = rd_bytes(r, 20); /* checksum and urgent pointer unread */
	if (!h)
		return dec_drop(s, DROP_TCP_TRUNCATED);
	uint16_t sport = be16_at(h), dport = be16_at(h + 2);
	uint32_t seq = be32_at(h + 4), ack = be32_at(h + 8);
	uint8_t doff = h[12], flags = h[13];
	uint16_t win = be16_at(h + 14);
	size_t hlen = (size_t)(doff >> 4) * 4;
	if (hlen < 20 || hlen > wire)
		return dec_drop(s, DROP_TCP_BAD_HLEN);
	if (hlen > avail)
		return dec_drop(s, DROP_TCP_TRUNCATED);
	rd_skip(r, hlen - 20);
	p->src_port = sport;
	p->dst_port = dport;
	p->seq = seq;
	p->ack = ack;
	p->tcp_flags = flags;
	p->window = win;
	take_payload(s, r);
	return DECODE_TCP;
}

/*
 * UDP header (RFC 768):
 *
 *    0      7 8     15 16    23 24    31
 *   +--------+--------+--------+--------+
 *   |   Source Port   |   Dest. Port    |
 *   +--------+--------+--------+--------+
 *   |     Length      |    Checksum     |
 *   +--------+--------+--------+--------+
 *
 * Length covers header and data: it trims the payload, and may exceed the
 * captured bytes when the snap length cut the datagram (not malformed:
 * payload_wire_len says what was sent). VXLAN, GENEVE, GTP-U and CAPWAP
 * data are recognised by port and decapsulated when their header
 * validates (tunnel.c).
 */
static enum decode_result dec_udp(struct dstate *s, struct reader *r)
{
	struct packet *p = s->pkt;
	uint64_t wire = (uint64_t)rd_remaining(r) + s->missing;
	const uint8_t *h = rd_bytes(r, 8); /* the checksum unread */
	if (!h)
		return dec_drop(s, DROP_UDP_TRUNCATED);
	uint16_t sport = be16_at(h), dport = be16_at(h + 2), len = be16_at(h + 4);
	if (len < 8 || len > wire)
		return dec_drop(s, DROP_UDP_BAD_LEN);
	dec_limit(s, r, (uint32_t)len - 8);
	p->src_port = sport;
	p->dst_port = dport;
	enum decode_result res;
	if (dec_udp_tunnel(s, r, sport, dport, &res))
		return res;
	take_payload(s, r);
	return DECODE_UDP;
}

/* What follows an IP header (after extension headers), by protocol. */
static enum decode_result dec_ip_payload(struct dstate *s, struct reader *r, uint8_t proto)
{
	struct packet *p = s->pkt;
	p->l4_proto = proto;
	switch (proto) {
	case IPPROTO_TCP_:
		return dec_tcp(s, r);
	case IPPROTO_UDP_:
		return dec_udp(s, r);
	case IPPROTO_ICMP_:
	case IPPROTO_ICMPV6_:
		/* Not a flow: payload is the whole ICMP message (type, code...). */
		take_payload(s, r);
		return DECODE_ICMP;
	case IPPROTO_GRE_:
		return dec_gre(s, r);
	case IPPROTO_IPIP_:
		if (!dec_tunnel_enter(s, p->ip_version == 4 ? TUNNEL_IPIP : TUNNEL_4IN6, false, 0))
			return DECODE_MALFORMED;
		return dec_ipv4(s, r);
	case IPPROTO_IPV6_:
		if (!dec_tunnel_enter(s, p->ip_version == 4 ? TUNNEL_6IN4 : TUNNEL_6IN6, false, 0))
			return DECODE_MALFORMED;
		return dec_ipv6(s, r);
	default:
		/* ESP, SCTP, OSPF, no-next-header (59), mobility (135), ... */
		take_payload(s, r);
		return DECODE_IP_OTHER;
	}
}

/*
 * IPv4 header (RFC 791 section 3.1):
 *
 *    0                   1                   2                   3
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |Version|  IHL  |Type of Service|          Total Length         |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |         Identification        |Flags|      Fragment Offset    |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |  Time to Live |    Protocol   |         Header Checksum       |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                       Source Address                          |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                    Destination Address                        |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                    Options (IHL > 5)          |    Padding    |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Flags: bit 0x2000 of the 16-bit word is More Fragments; the offset is in
 * 8-byte units. The checksum is not verified (offloading makes captured
 * checksums unreliable, as tcpdump and Zeek also assume).
 */
enum decode_result dec_ipv4(struct dstate *s, struct reader *r)
{
	struct packet *p = s->pkt;
	size_t avail = rd_remaining(r);
	uint64_t wire = (uint64_t)avail + s->missing;
	const uint8_t *h = rd_bytes(r, 20); /* TOS, TTL and checksum unread */
	if (!h)
		return dec_drop(s, DROP_IPV4_TRUNCATED);
	uint8_t vihl = h[0];
	uint16_t total = be16_at(h + 2);
	uint16_t id = be16_at(h + 4);
	uint16_t frag = be16_at(h + 6);
	uint8_t proto = h[9];
	const uint8_t *src = h + 12, *dst = h + 16;
	if (vihl >> 4 != 4)
		return dec_drop(s, DROP_IPV4_BAD_VERSION);
	size_t hlen = (size_t)(vihl & 0x0F) * 4;
	if (hlen < 20)
		return dec_drop(s, DROP_IPV4_BAD_HLEN);
	if (total < hlen)
		return dec_drop(s, DROP_IPV4_BAD_LEN);
	if (hlen > avail || total > wire)
		return dec_drop(s, DROP_IPV4_TRUNCATED);
	rd_skip(r, hlen - 20); /* options */

	p->ip_version = 4;
	p->l4_proto = proto;
	memset(p->src_ip, 0, sizeof p->src_ip);
	memset(p->dst_ip, 0, sizeof p->dst_ip);
	memcpy(p->src_ip, src, 4);
	memcpy(p->dst_ip, dst, 4);
	dec_limit(s, r, (uint32_t)(total - hlen));

	bool more = (frag & 0x2000) != 0;
	uint32_t offset = (uint32_t)(frag & 0x1FFF) * 8;
	if (!more && offset == 0)
		return dec_ip_payload(s, r, proto);

	/* A fragment: never parsed as TCP/UDP on its own. */
	if (s->missing)
		return dec_drop(s, DROP_FRAG_TRUNCATED);
	struct frag_key key;
	memset(&key, 0, sizeof key);
	key.ipver = 4;
	key.proto = proto;
	key.id = id;
	memcpy(key.src, src, 4);
	memcpy(key.dst, dst, 4);
	struct reader dg;
	uint8_t nh;
	switch (frag_add(s, &key, offset, more, r, proto, &dg, &nh)) {
	case FRAG_OUT_HELD:
		return DECODE_FRAG_HELD;
	case FRAG_OUT_DROP:
		return DECODE_MALFORMED;
	case FRAG_OUT_COMPLETE:
	default:
		break;
	}
	p->reassembled = 1;
	s->missing = 0;
	return dec_ip_payload(s, &dg, proto);
}

/*
 * IPv6 header (RFC 8200 section 3):
 *
 *    0                   1                   2                   3
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |Version| Traffic Class |           Flow Label                  |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |         Payload Length        |  Next Header  |   Hop Limit   |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                Source Address (16 bytes)                      |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |             Destination Address (16 bytes)                    |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Extension headers (section 4) are walked up to DECODE_MAX_EXT:
 * Hop-by-Hop (0), Routing (43), Destination Options (60), each
 *
 *   +---------------+---------------+-------------------------------
 *   |  Next Header  | Hdr Ext Len   | (Hdr Ext Len + 1) * 8 bytes ...
 *   +---------------+---------------+-------------------------------
 *
 * Authentication Header (51, RFC 4302): same first two bytes, but its
 * length is in 4-byte units minus 2: (len + 2) * 4 bytes.
 * Fragment (44, section 4.5), 8 bytes:
 *
 *   +---------------+---------------+-------------------------+-+-+-+
 *   |  Next Header  |   Reserved    |  Fragment Offset (13)   |Res|M|
 *   +---------------+---------------+-------------------------+-+-+-+
 *   |                         Identification                        |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Offset 0 with M = 0 is an atomic fragment (RFC 6946): read through it.
 * ESP (50), No Next Header (59), Mobility (135) and anything else end
 * the walk as DECODE_IP_OTHER.
 */
enum decode_result dec_ipv6(struct dstate *s, struct reader *r)
{
	struct packet *p = s->pkt;
	size_t avail = rd_remaining(r);
	uint64_t wire = (uint64_t)avail + s->missing;
	uint32_t vtf = rd_be32(r);
	uint16_t plen = rd_be16(r);
	uint8_t nh = rd_u8(r);
	rd_skip(r, 1); /* hop limit */
	uint8_t src[16], dst[16];
	rd_copy(r, src, 16);
	rd_copy(r, dst, 16);
	if (!rd_ok(r))
		return dec_drop(s, DROP_IPV6_TRUNCATED);
	if (vtf >> 28 != 6)
		return dec_drop(s, DROP_IPV6_BAD_VERSION);
	uint64_t body = plen;
	if (plen == 0 && nh == IPPROTO_HOPOPTS_)
		body = wire - 40; /* jumbogram (RFC 2675): the frame's length rules */
	if (40 + body > wire)
		return dec_drop(s, DROP_IPV6_TRUNCATED);

	p->ip_version = 6;
	memcpy(p->src_ip, src, 16);
	memcpy(p->dst_ip, dst, 16);
	dec_limit(s, r, (uint32_t)body);

	struct reader dg;
	struct reader *cur = r;
	bool reassembled = false;
	for (unsigned n = 0;; n++) {
		p->l4_proto = nh;
		switch (nh) {
		case IPPROTO_HOPOPTS_:
		case IPPROTO_ROUTING_:
		case IPPROTO_DSTOPTS_:
		case IPPROTO_AH_: {
			if (n >= DECODE_MAX_EXT)
				return dec_drop(s, DROP_IPV6_BAD_EXT);
			uint8_t next = 0, elen = 0;
			bool have = rd_peek_u8(cur, 0, &next) && rd_peek_u8(cur, 1, &elen);
			size_t len = nh == IPPROTO_AH_ ? ((size_t)elen + 2) * 4 : ((size_t)elen + 1) * 8;
			uint64_t left = (uint64_t)rd_remaining(cur) + s->missing;
			if (!have)
				return dec_drop(s, left < 2 ? DROP_IPV6_BAD_EXT : DROP_IPV6_TRUNCATED);
			if (len > left)
				return dec_drop(s, DROP_IPV6_BAD_EXT);
			if (len > rd_remaining(cur))
				return dec_drop(s, DROP_IPV6_TRUNCATED);
			rd_skip(cur, len);
			nh = next;
			continue;
		}
		case IPPROTO_FRAGMENT_: {
			if (n >= DECODE_MAX_EXT)
				return dec_drop(s, DROP_IPV6_BAD_EXT);
			uint64_t left = (uint64_t)rd_remaining(cur) + s->missing;
			uint8_t next = rd_u8(cur);
			rd_skip(cur, 1);
			uint16_t offm = rd_be16(cur);
			uint32_t id = rd_be32(cur);
			if (!rd_ok(cur))
				return dec_drop(s, left < 8 ? DROP_IPV6_BAD_EXT : DROP_IPV6_TRUNCATED);
			uint32_t offset = offm & 0xFFF8u;
			bool more = (offm & 1) != 0;
			if (offset == 0 && !more) {
				nh = next; /* atomic fragment */
				continue;
			}
			/* A fragment header inside a reassembled datagram would
			 * need a second reassembly of the same layer. */
			if (reassembled)
				return dec_drop(s, DROP_FRAG_BAD);
			if (s->missing)
				return dec_drop(s, DROP_FRAG_TRUNCATED);
			struct frag_key key;
			memset(&key, 0, sizeof key);
			key.ipver = 6;
			key.id = id;
			memcpy(key.src, src, 16);
			memcpy(key.dst, dst, 16);
			uint8_t dnh;
			switch (frag_add(s, &key, offset, more, cur, next, &dg, &dnh)) {
			case FRAG_OUT_HELD:
				p->l4_proto = next;
				return DECODE_FRAG_HELD;
			case FRAG_OUT_DROP:
				return DECODE_MALFORMED;
			case FRAG_OUT_COMPLETE:
			default:
				break;
			}
			/* Carry on with the fragmentable part's chain. */
			p->reassembled = 1;
			s->missing = 0;
			reassembled = true;
			cur = &dg;
			nh = dnh;
			continue;
		}
		default:
			return dec_ip_payload(s, cur, nh);
		}
	}
}

enum decode_result dec_ip_by_version(struct dstate *s, struct reader *r, enum decode_drop if_bad)
{
	uint8_t first;
	if (!rd_peek_u8(r, 0, &first))
		return dec_drop(s, DROP_LINK_TRUNCATED);
	switch (first >> 4) {
	case 4:
		return dec_ipv4(s, r);
	case 6:
		return dec_ipv6(s, r);
	default:
		return dec_drop(s, if_bad);
	}
}
