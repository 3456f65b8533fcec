/*
 * decode.c - the decoder's entry points, name tables and accounting.
 *
 * The layers live in link.c (link types, 802.1Q, MPLS, PPPoE, PPP),
 * ip.c (IPv4, IPv6, TCP, UDP), tunnel.c (GRE, ERSPAN, VXLAN, GENEVE,
 * IP-in-IP) and frag.c (reassembly). This file owns the one rule every
 * caller relies on: each decode_packet() call adds exactly one to
 * stats.result[], and a DECODE_MALFORMED result exactly one to
 * stats.drop[], so sum(result) == calls and sum(drop) == result[MALFORMED].
 *
 * Depth guards (see decode_int.h): DECODE_MAX_DEPTH counts tunnel layers
 * only; 802.1Q tags, MPLS labels, IPv6 extension headers and pseudowire
 * frames each have their own bound.
 *
 * Per-packet side counters (tunnel[], vlan_tagged, mpls, pppoe) count a
 * packet once per kind seen, whatever its result: VXLAN inside VXLAN adds
 * one to tunnel[TUNNEL_VXLAN], GRE carrying VXLAN adds one to each.
 */
#include <stdio.h>
#include <string.h>

#include "decode/decode_int.h"

struct linktype {
	int dlt;
	const char *name;
};

/* libpcap DLT_ numbers (pcap/dlt.h), spelled out so the table reads the
 * same on every platform: DLT_RAW is 12 on most systems and 14 on OpenBSD,
 * and a savefile's LINKTYPE_RAW (101) may come through unmapped. */
static const struct linktype linktypes[] = {
	{1, "ethernet"},     /* DLT_EN10MB */
	{113, "linux-sll"},  /* DLT_LINUX_SLL */
	{276, "linux-sll2"}, /* DLT_LINUX_SLL2 */
	{12, "raw"},         /* DLT_RAW (Linux, BSD) */
	{14, "raw"},         /* DLT_RAW (OpenBSD) */
	{101, "raw"},        /* LINKTYPE_RAW */
	{228, "ipv4"},       /* DLT_IPV4 */
	{229, "ipv6"},       /* DLT_IPV6 */
	{0, "null"},         /* DLT_NULL: host-order address family */
	{108, "loop"},       /* DLT_LOOP: network-order address family */
	{9, "ppp"},          /* DLT_PPP */
	{50, "ppp-serial"},  /* DLT_PPP_SERIAL */
	{51, "ppp-ether"},   /* DLT_PPP_ETHER: PPPoE without Ethernet */
	{104, "c-hdlc"},     /* DLT_C_HDLC: Cisco HDLC */
	{192, "ppi"},        /* DLT_PPI: per-packet information + a frame above */
};

bool decode_linktype_supported(int dlt, const char **name)
{
	for (size_t i = 0; i < sizeof linktypes / sizeof linktypes[0]; i++) {
		if (linktypes[i].dlt == dlt) {
			if (name)
				*name = linktypes[i].name;
			return true;
		}
	}
	if (name)
		*name = NULL;
	return false;
}

const char *decode_linktypes_help(void)
{
	return "ethernet, linux-sll, linux-sll2, raw, ipv4, ipv6, null, loop, ppp, ppp-serial, "
	       "ppp-ether, c-hdlc, ppi (holding one of these)";
}

static const char *const result_names[DECODE__COUNT] = {
	[DECODE_TCP] = "tcp",
	[DECODE_UDP] = "udp",
	[DECODE_ICMP] = "icmp",
	[DECODE_IP_OTHER] = "ip_other",
	[DECODE_NON_IP] = "non_ip",
	[DECODE_FRAG_HELD] = "frag_held",
	[DECODE_MALFORMED] = "malformed",
};

const char *decode_result_name(enum decode_result r)
{
	if ((unsigned)r >= DECODE__COUNT)
		return "unknown";
	return result_names[r];
}

static const char *const drop_names[DROP__COUNT] = {
	[DROP_NONE] = "none",
	[DROP_LINK_TRUNCATED] = "link_truncated",
	[DROP_LINK_BAD] = "link_bad",
	[DROP_LINK_UNSUPPORTED] = "link_unsupported",
	[DROP_VLAN_TRUNCATED] = "vlan_truncated",
	[DROP_VLAN_TOO_DEEP] = "vlan_too_deep",
	[DROP_MPLS_TRUNCATED] = "mpls_truncated",
	[DROP_MPLS_TOO_DEEP] = "mpls_too_deep",
	[DROP_PPPOE_TRUNCATED] = "pppoe_truncated",
	[DROP_PPPOE_BAD] = "pppoe_bad",
	[DROP_PPP_TRUNCATED] = "ppp_truncated",
	[DROP_IPV4_TRUNCATED] = "ipv4_truncated",
	[DROP_IPV4_BAD_VERSION] = "ipv4_bad_version",
	[DROP_IPV4_BAD_HLEN] = "ipv4_bad_hlen",
	[DROP_IPV4_BAD_LEN] = "ipv4_bad_len",
	[DROP_IPV6_TRUNCATED] = "ipv6_truncated",
	[DROP_IPV6_BAD_VERSION] = "ipv6_bad_version",
	[DROP_IPV6_BAD_EXT] = "ipv6_bad_ext",
	[DROP_FRAG_BAD] = "frag_bad",
	[DROP_FRAG_OVERLAP] = "frag_overlap",
	[DROP_TCP_TRUNCATED] = "tcp_truncated",
	[DROP_TCP_BAD_HLEN] = "tcp_bad_hlen",
	[DROP_UDP_TRUNCATED] = "udp_truncated",
	[DROP_UDP_BAD_LEN] = "udp_bad_len",
	[DROP_GRE_TRUNCATED] = "gre_truncated",
	[DROP_GRE_BAD] = "gre_bad",
	[DROP_TUNNEL_TOO_DEEP] = "tunnel_too_deep",
	[DROP_FRAG_TRUNCATED] = "frag_truncated",
	[DROP_FRAG_NO_CONTEXT] = "frag_no_context",
};

const char *decode_drop_name(enum decode_drop d)
{
	if ((unsigned)d >= DROP__COUNT || !drop_names[d])
		return "unknown";
	return drop_names[d];
}

static const char *const tunnel_names[TUNNEL__COUNT] = {
	[TUNNEL_NONE] = "none",   [TUNNEL_GRE] = "gre",     [TUNNEL_ERSPAN] = "erspan",
	[TUNNEL_VXLAN] = "vxlan", [TUNNEL_GENEVE] = "geneve", [TUNNEL_IPIP] = "ipip",
	[TUNNEL_6IN4] = "6in4",   [TUNNEL_4IN6] = "4in6",   [TUNNEL_6IN6] = "6in6",
	[TUNNEL_GTPU] = "gtpu", [TUNNEL_CAPWAP] = "capwap",
};

const char *tunnel_type_name(enum tunnel_type t)
{
	if ((unsigned)t >= TUNNEL__COUNT)
		return "unknown";
	return tunnel_names[t];
}

/* frag_max must be >= 1: reassembly is not optional, because a decoder
 * that cannot reassemble would have to report every non-first fragment as
 * something, and non-first fragments must never be parsed as TCP/UDP. */
int decoder_init(struct decoder *d, const struct decode_config *cfg, char *err, size_t errlen)
{
	memset(d, 0, sizeof *d);
	if (!cfg) {
		snprintf(err, errlen, "%s:%d: decode: no configuration", __FILE__, __LINE__);
		return -1;
	}
	if (cfg->frag_max < 1 || cfg->frag_max > 65536) {
		snprintf(err, errlen, "%s:%d: decode: frag_max %u out of range 1..65536", __FILE__,
		         __LINE__, (unsigned)cfg->frag_max);
		return -1;
	}
	if (cfg->frag_timeout_us == 0) {
		snprintf(err, errlen, "%s:%d: decode: frag_timeout_us must be > 0", __FILE__, __LINE__);
		return -1;
	}
	d->cfg = *cfg;
	d->last_drop = DROP_NONE;
	return frag_table_create(d, err, errlen);
}

void decoder_free(struct decoder *d)
{
	frag_table_destroy(d);
}

/* The commonest frames, TCP or UDP in IPv4 without options in Ethernet
 * without 802.1Q, not a fragment, not cut by the snap length and (UDP)
 * not on a tunnel's port, decoded in one step: the layers (dec_link,
 * dec_ethernet, dec_ethertype, dec_ipv4, dec_ip_payload, dec_tcp or
 * dec_udp) spend about 330 instructions on one, this about 60. It gives
 * exactly what they give (the fields, the payload, the one counter, the
 * result); any frame it is not sure of goes through the layers.
 * tests/unit/test_decode.c compares the two on every frame of the test
 * captures and on mutations of their headers, fuzz/fuzz_decode.c on every
 * input. */
static enum decode_result decode_ipv4_l4(struct decoder *d, const uint8_t *b, uint32_t caplen,
                                         struct packet *out)
{
	if (caplen < 14 + 20 + 8 || b[12] != 0x08 || b[13] != 0x00)
		return DECODE__COUNT;
	const uint8_t *ip = b + 14;
	uint32_t total = be16_at(ip + 2);
	uint8_t proto = ip[9];
	/* version 4, no options, neither more fragments nor an offset, the
	 * whole datagram captured (padding after it is cut off) */
	if (ip[0] != 0x45 || (be16_at(ip + 6) & 0x3fff) != 0 || total > caplen - 14)
		return DECODE__COUNT;
	const uint8_t *l4 = ip + 20;
	uint32_t hlen, len;
	if (proto == 6) {
		if (total < 40) /* first: then the 20 bytes of a TCP header were captured */
			return DECODE__COUNT;
		hlen = (uint32_t)(l4[12] >> 4) * 4;
		if (hlen < 20 || hlen > total - 20)
			return DECODE__COUNT;
		len = total - 20;
		out->seq = be32_at(l4 + 4);
		out->ack = be32_at(l4 + 8);
		out->tcp_flags = l4[13];
		out->window = be16_at(l4 + 14);
	} else if (proto == 17) {
		hlen = 8; /* captured: caplen is at least 14 + 20 + 8 */
		len = be16_at(l4 + 4);
		if (total < 28 || len < 8 || len > total - 20 ||
		    udp_tunnel_port(be16_at(l4), be16_at(l4 + 2)))
			return DECODE__COUNT;
	} else {
		return DECODE__COUNT;
	}
	out->ip_version = 4;
	out->l4_proto = proto;
	memcpy(out->src_ip, ip + 12, 4);
	memcpy(out->dst_ip, ip + 16, 4);
	out->src_port = be16_at(l4);
	out->dst_port = be16_at(l4 + 2);
	out->payload = l4 + hlen;
	out->payload_len = len - hlen;
	out->payload_wire_len = len - hlen;
	enum decode_result res = proto == 6 ? DECODE_TCP : DECODE_UDP;
	d->stats.result[res]++;
	return res;
}

enum decode_result decode_packet(struct decoder *d, int dlt, const uint8_t *data, uint32_t caplen,
                                 uint32_t wirelen, uint64_t ts_us, struct packet *out)
{
	/* The previous call's reassembled payload is no longer promised. */
	frag_release_completed(d);
	frag_maybe_expire(d, ts_us);

	memset(out, 0, sizeof *out);
	out->ts_us = ts_us;
	out->frame_bytes = wirelen;
	if (dlt == 1 /* DLT_EN10MB */ && !d->layered_only) {
		enum decode_result res = decode_ipv4_l4(d, data, caplen, out);
		if (res != DECODE__COUNT)
			return res;
	}

	struct dstate s;
	memset(&s, 0, sizeof s);
	s.d = d;
	s.pkt = out;
	s.ts_us = ts_us;
	s.missing = wirelen > caplen ? wirelen - caplen : 0;
	s.frame_len = wirelen;
	s.drop = DROP_NONE;

	struct reader r;
	rd_init(&r, data, caplen);
	enum decode_result res = dec_link(&s, dlt, &r);

	if ((unsigned)res >= DECODE__COUNT) { /* cannot happen; keep the books balanced */
		res = DECODE_MALFORMED;
		s.drop = DROP_LINK_BAD;
	}
	d->stats.result[res]++;
	if (res == DECODE_MALFORMED) {
		if (s.drop == DROP_NONE || (unsigned)s.drop >= DROP__COUNT)
			s.drop = DROP_LINK_BAD;
		d->stats.drop[s.drop]++;
		d->last_drop = s.drop;
	}
	/* the set bits of the mask (none, mostly) */
	for (unsigned m = s.tunnel_mask & ((1u << TUNNEL__COUNT) - 2); m; m &= m - 1)
		d->stats.tunnel[__builtin_ctz(m)]++;
	if (s.saw_vlan)
		d->stats.vlan_tagged++;
	if (s.saw_mpls)
		d->stats.mpls++;
	if (s.saw_pppoe)
		d->stats.pppoe++;
	if ((res == DECODE_TCP || res == DECODE_UDP || res == DECODE_ICMP || res == DECODE_IP_OTHER) &&
	    out->payload_len < out->payload_wire_len)
		d->stats.snaplen_cut++;
	return res;
}
