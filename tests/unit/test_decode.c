/*
 * test_decode.c - unit tests for src/decode: frames are built byte by byte
 * with the small builders below (inside out: payload, L4, IP, link), fed
 * to decode_packet(), and the struct packet and counters are checked.
 * After every group the accounting equalities are asserted:
 * sum(result) == calls and sum(drop) == result[DECODE_MALFORMED].
 */
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "common/reader.h"
#include "decode/decode.h"

#define BB_MAX 9000

struct bb {
	uint8_t d[BB_MAX];
	size_t n;
};

static void bb_u8(struct bb *b, unsigned v)
{
	if (b->n < BB_MAX)
		b->d[b->n++] = (uint8_t)v;
}
static void bb_be16(struct bb *b, unsigned v)
{
	bb_u8(b, v >> 8);
	bb_u8(b, v);
}
static void bb_be32(struct bb *b, uint32_t v)
{
	bb_be16(b, v >> 16);
	bb_be16(b, v & 0xFFFF);
}
static void bb_mem(struct bb *b, const void *p, size_t n)
{
	const uint8_t *s = p;
	for (size_t i = 0; i < n; i++)
		bb_u8(b, s[i]);
}
static void bb_cat(struct bb *b, const struct bb *in) { bb_mem(b, in->d, in->n); }
static void bb_str(struct bb *b, const char *s) { bb_mem(b, s, strlen(s)); }
/* A string literal with embedded NULs. */
#define BB_LIT(b, lit) bb_mem((b), (lit), sizeof(lit) - 1)

static const uint8_t A4[4] = {10, 0, 0, 1}, B4[4] = {192, 168, 1, 2};
static const uint8_t C4[4] = {172, 16, 0, 1}, E4[4] = {172, 16, 0, 2};
static const uint8_t A6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
static const uint8_t B6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};

/* ---- builders ---------------------------------------------------------- */

static void mk_tcp(struct bb *o, uint16_t sp, uint16_t dp, uint32_t seq, uint32_t ack, uint8_t flags,
                   size_t optlen, const char *payload)
{
	bb_be16(o, sp);
	bb_be16(o, dp);
	bb_be32(o, seq);
	bb_be32(o, ack);
	bb_u8(o, (unsigned)((20 + optlen) / 4) << 4);
	bb_u8(o, flags);
	bb_be16(o, 65535);
	bb_be32(o, 0); /* checksum, urgent */
	for (size_t i = 0; i < optlen; i++)
		bb_u8(o, 1); /* NOP */
	if (payload)
		bb_str(o, payload);
}

static void mk_udp(struct bb *o, uint16_t sp, uint16_t dp, const struct bb *in)
{
	bb_be16(o, sp);
	bb_be16(o, dp);
	bb_be16(o, (unsigned)(8 + in->n));
	bb_be16(o, 0);
	bb_cat(o, in);
}

static void mk_ipv4x(struct bb *o, uint8_t proto, const uint8_t *src, const uint8_t *dst,
                     const struct bb *in, uint16_t id, uint16_t frag, size_t optlen)
{
	bb_u8(o, 0x40 | (unsigned)((20 + optlen) / 4));
	bb_u8(o, 0);
	bb_be16(o, (unsigned)(20 + optlen + in->n));
	bb_be16(o, id);
	bb_be16(o, frag);
	bb_u8(o, 64);
	bb_u8(o, proto);
	bb_be16(o, 0);
	bb_mem(o, src, 4);
	bb_mem(o, dst, 4);
	for (size_t i = 0; i < optlen; i++)
		bb_u8(o, 1); /* NOP options */
	bb_cat(o, in);
}

static void mk_ipv4(struct bb *o, uint8_t proto, const uint8_t *src, const uint8_t *dst,
                    const struct bb *in)
{
	mk_ipv4x(o, proto, src, dst, in, 0x1234, 0x4000, 0);
}

static void mk_ipv6(struct bb *o, uint8_t nh, const uint8_t *src, const uint8_t *dst, const struct bb *in)
{
	bb_be32(o, 0x60000000);
	bb_be16(o, (unsigned)in->n);
	bb_u8(o, nh);
	bb_u8(o, 64);
	bb_mem(o, src, 16);
	bb_mem(o, dst, 16);
	bb_cat(o, in);
}

static const uint8_t MAC_HDR[12] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};

/* Ethernet with n tags (tpid, vid pairs) and the final EtherType. */
static void mk_eth_tags(struct bb *o, const uint16_t *tags, size_t ntags, uint16_t type, const struct bb *in)
{
	bb_mem(o, MAC_HDR, 12);
	for (size_t i = 0; i < ntags; i++) {
		bb_be16(o, tags[2 * i]);
		bb_be16(o, tags[2 * i + 1]);
	}
	bb_be16(o, type);
	bb_cat(o, in);
}

static void mk_eth(struct bb *o, uint16_t type, const struct bb *in) { mk_eth_tags(o, NULL, 0, type, in); }

/* The standard test datagram: TCP 10.0.0.1:40000 -> 192.168.1.2:443. */
static void std_tcp4(struct bb *ip, const char *payload)
{
	struct bb t = {.n = 0};
	mk_tcp(&t, 40000, 443, 1000, 2000, TCPF_PSH | TCPF_ACK, 0, payload);
	mk_ipv4(ip, 6, A4, B4, &t);
}

static void std_tcp6(struct bb *ip, const char *payload)
{
	struct bb t = {.n = 0};
	mk_tcp(&t, 40001, 8080, 7, 9, TCPF_SYN, 0, payload);
	mk_ipv6(ip, 6, A6, B6, &t);
}

/* ---- decoder helpers ---------------------------------------------------- */

static struct decoder D;
static uint64_t calls, now_us = 1000000;

static enum decode_result run_cut(int dlt, const struct bb *f, size_t caplen, size_t wirelen,
                                  struct packet *p)
{
	calls++;
	now_us += 10;
	return decode_packet(&D, dlt, f->d, (uint32_t)caplen, (uint32_t)wirelen, now_us, p);
}

static enum decode_result run(int dlt, const struct bb *f, struct packet *p)
{
	return run_cut(dlt, f, f->n, f->n, p);
}

static void check_books(void)
{
	uint64_t sr = 0, sd = 0;
	for (int i = 0; i < DECODE__COUNT; i++)
		sr += D.stats.result[i];
	for (int i = 0; i < DROP__COUNT; i++)
		sd += D.stats.drop[i];
	CHECK_EQ_U(sr, calls);
	CHECK_EQ_U(sd, D.stats.result[DECODE_MALFORMED]);
	CHECK_EQ_U(D.stats.drop[DROP_NONE], 0);
}

static bool is_v4(const uint8_t *a16, const uint8_t *a4)
{
	static const uint8_t zero[12];
	return memcmp(a16, a4, 4) == 0 && memcmp(a16 + 4, zero, 12) == 0;
}

static void check_std_tcp4(const struct packet *p, const char *payload)
{
	CHECK_EQ_U(p->ip_version, 4);
	CHECK_EQ_U(p->l4_proto, 6);
	CHECK(is_v4(p->src_ip, A4));
	CHECK(is_v4(p->dst_ip, B4));
	CHECK_EQ_U(p->src_port, 40000);
	CHECK_EQ_U(p->dst_port, 443);
	CHECK_EQ_U(p->seq, 1000);
	CHECK_EQ_U(p->ack, 2000);
	CHECK_EQ_U(p->tcp_flags, TCPF_PSH | TCPF_ACK);
	CHECK_EQ_U(p->window, 65535);
	CHECK_EQ_U(p->payload_len, strlen(payload));
	CHECK_EQ_U(p->payload_wire_len, strlen(payload));
	CHECK(p->payload_len == 0 || memcmp(p->payload, payload, p->payload_len) == 0);
}

static void check_std_tcp6(const struct packet *p, const char *payload)
{
	CHECK_EQ_U(p->ip_version, 6);
	CHECK_EQ_U(p->l4_proto, 6);
	CHECK_MEM(p->src_ip, A6, 16);
	CHECK_MEM(p->dst_ip, B6, 16);
	CHECK_EQ_U(p->src_port, 40001);
	CHECK_EQ_U(p->dst_port, 8080);
	CHECK_EQ_U(p->tcp_flags, TCPF_SYN);
	CHECK_EQ_U(p->payload_len, strlen(payload));
	CHECK(p->payload_len == 0 || memcmp(p->payload, payload, p->payload_len) == 0);
}

/* ---- tests --------------------------------------------------------------- */

static void test_init_and_names(void)
{
	struct decoder d;
	char err[256] = "";
	struct decode_config bad = {.frag_max = 0, .frag_timeout_us = 1};
	CHECK(decoder_init(&d, &bad, err, sizeof err) == -1);
	CHECK(strstr(err, "frag_max") != NULL);
	struct decode_config bad2 = {.frag_max = 4, .frag_timeout_us = 0};
	CHECK(decoder_init(&d, &bad2, err, sizeof err) == -1);
	struct decode_config ok = {.frag_max = 2, .frag_timeout_us = 1};
	CHECK(decoder_init(&d, &ok, err, sizeof err) == 0);
	decoder_free(&d);
	decoder_free(&d); /* idempotent */

	const char *name = "x";
	static const int dlts[] = {0, 1, 9, 12, 14, 50, 51, 101, 104, 108, 113, 228, 229, 276};
	for (size_t i = 0; i < sizeof dlts / sizeof dlts[0]; i++) {
		CHECK(decode_linktype_supported(dlts[i], &name));
		CHECK(name != NULL);
	}
	CHECK(decode_linktype_supported(1, &name) && strcmp(name, "ethernet") == 0);
	CHECK(!decode_linktype_supported(105, &name) && name == NULL);
	CHECK(!decode_linktype_supported(127, NULL));
	CHECK(strstr(decode_linktypes_help(), "linux-sll2") != NULL);
	for (int r = 0; r < DECODE__COUNT; r++)
		CHECK(strcmp(decode_result_name((enum decode_result)r), "unknown") != 0);
	for (int r = 0; r < DROP__COUNT; r++)
		CHECK(strcmp(decode_drop_name((enum decode_drop)r), "unknown") != 0);
	for (int r = 0; r < TUNNEL__COUNT; r++)
		CHECK(strcmp(tunnel_type_name((enum tunnel_type)r), "unknown") != 0);
	CHECK(strcmp(decode_drop_name(DROP__COUNT), "unknown") == 0);
	CHECK(strcmp(decode_result_name(DECODE_TCP), "tcp") == 0);
	CHECK(strcmp(tunnel_type_name(TUNNEL_VXLAN), "vxlan") == 0);
}

static void test_ethernet_tcp(void)
{
	struct bb ip = {.n = 0}, f = {.n = 0};
	struct packet p;
	std_tcp4(&ip, "hello");
	mk_eth(&f, 0x0800, &ip);
	CHECK_EQ_U(run(1, &f, &p), DECODE_TCP);
	check_std_tcp4(&p, "hello");
	CHECK_EQ_U(p.vlan_id, 0);
	CHECK_EQ_U(p.vlan_depth, 0);
	CHECK_EQ_U(p.tunnel.type, TUNNEL_NONE);
	CHECK_EQ_U(p.tunnel.depth, 0);
	CHECK_EQ_U(p.reassembled, 0);
	CHECK_EQ_U(p.ts_us, now_us);

	/* TCP options skipped; every flag and the numbers come through. */
	struct bb t = {.n = 0}, ip2 = {.n = 0}, f2 = {.n = 0};
	mk_tcp(&t, 1, 2, 0xDEADBEEF, 0xCAFEBABE, 0xFF, 12, "xyz");
	mk_ipv4(&ip2, 6, A4, B4, &t);
	mk_eth(&f2, 0x0800, &ip2);
	CHECK_EQ_U(run(1, &f2, &p), DECODE_TCP);
	CHECK_EQ_U(p.seq, 0xDEADBEEF);
	CHECK_EQ_U(p.ack, 0xCAFEBABE);
	CHECK_EQ_U(p.tcp_flags, 0xFF);
	CHECK_EQ_U(p.payload_len, 3);
	CHECK(memcmp(p.payload, "xyz", 3) == 0);

	/* Bad TCP header length (data offset 4). */
	f2.d[14 + 20 + 12] = 0x40;
	CHECK_EQ_U(run(1, &f2, &p), DECODE_MALFORMED);
	CHECK_EQ_U(decode_last_drop(&D), DROP_TCP_BAD_HLEN);
	/* Data offset beyond the segment. */
	f2.d[14 + 20 + 12] = 0xF0;
	CHECK_EQ_U(run(1, &f2, &p), DECODE_MALFORMED);
	CHECK_EQ_U(decode_last_drop(&D), DROP_TCP_BAD_HLEN);
	check_books();
}

static void test_link_types(void)
{
	struct bb ip = {.n = 0}, ip6 = {.n = 0};
	struct packet p;
	std_tcp4(&ip, "abc");
	std_tcp6(&ip6, "v6");

	/* Linux SLL v1 */
	struct bb f = {.n = 0};
	bb_be16(&f, 0);
	bb_be16(&f, 1);
	bb_be16(&f, 6);
	bb_mem(&f, MAC_HDR, 8);
	bb_be16(&f, 0x0800);
	bb_cat(&f, &ip);
	CHECK_EQ_U(run(113, &f, &p), DECODE_TCP);
	check_std_tcp4(&p, "abc");
	f.d[14] = 0x00;
	f.d[15] = 0x04; /* 802.2 LLC */
	CHECK_EQ_U(run(113, &f, &p), DECODE_NON_IP);

	/* Linux SLL v2, IPv6 */
	f.n = 0;
	bb_be16(&f, 0x86DD);
	bb_be16(&f, 0);
	bb_be32(&f, 3);
	bb_be16(&f, 1);
	bb_u8(&f, 0);
	bb_u8(&f, 6);
	bb_mem(&f, MAC_HDR, 8);
	bb_cat(&f, &ip6);
	CHECK_EQ_U(run(276, &f, &p), DECODE_TCP);
	check_std_tcp6(&p, "v6");
	CHECK_EQ_U(run_cut(276, &f, 19, 19, &p), DECODE_MALFORMED);
	CHECK_EQ_U(decode_last_drop(&D), DROP_LINK_TRUNCATED);

	/* Raw IP, every number */
	static const int raws[] = {12, 14, 101};
	for (size_t i = 0; i < 3; i++) {
		CHECK_EQ_U(run(raws[i], &ip, &p), DECODE_TCP);
		check_std_tcp4(&p, "abc");
		CHECK_EQ_U(run(raws[i], &ip6, &p), DECODE_TCP);
		check_std_tcp6(&p, "v6");
	}
	CHECK_EQ_U(run(228, &ip, &p), DECODE_TCP);
	check_std_tcp4(&p, "abc");
	CHECK_EQ_U(run(229, &ip6, &p), DECODE_TCP);
	check_std_tcp6(&p, "v6");
	CHECK_EQ_U(run(228, &ip6, &p), DECODE_MALFORMED);
	CHECK_EQ_U(decode_last_drop(&D), DROP_IPV4_BAD_VERSION);
	struct bb junk = {.n = 0};
	bb_str(&junk, "\x50zzzz");
	CHECK_EQ_U(run(12, &junk, &p), DECODE_MALFORMED);
	CHECK_EQ_U(decode_last_drop(&D), DROP_LINK_BAD);

	/* Null: host order either way, every AF_INET6 value; loop: network order */
	static const uint32_t afs6[] = {10, 24, 28, 30};
	for (int le = 0; le < 2; le++) {
		f.n = 0;
		if (le) {
			bb_u8(&f, 2), bb_u8(&f, 0), bb_u8(&f, 0), bb_u8(&f, 0);
		} else {
			bb_be32(&f, 2);
		}
		bb_cat(&f, &ip);
		CHECK_EQ_U(run(0, &f, &p), DECODE_TCP);
		check_std_tcp4(&p, "abc");
		for (size_t i = 0; i < 4; i++) {
			f.n = 0;
			if (le) {
				bb_u8(&f, afs6[i]), bb_u8(&f, 0), bb_u8(&f, 0), bb_u8(&f, 0);
			} else {
				bb_be32(&f, afs6[i]);
			}
			bb_cat(&f, &ip6);
			CHECK_EQ_U(run(0, &f, &p), DECODE_TCP);
			check_std_tcp6(&p, "v6");
		}
	}
	f.n = 0;
	bb_be32(&f, 2);
	bb_cat(&f, &ip);
	CHECK_EQ_U(run(108, &f, &p), DECODE_TCP);
	check_std_tcp4(&p, "abc");
	f.d[3] = 7; /* AF 7: not IP */
	CHECK_EQ_U(run(108, &f, &p), DECODE_NON_IP);

	/* PPP with and without ff 03, compressed protocol field */
	f.n = 0;
	bb_be16(&f, 0x0021);
	bb_cat(&f, &ip);
	CHECK_EQ_U(run(9, &f, &p), DECODE_TCP);
	check_std_tcp4(&p, "abc");
	f.n = 0;
	bb_u8(&f, 0xFF), bb_u8(&f, 0x03), bb_be16(&f, 0x0057);
	bb_cat(&f, &ip6);
	CHECK_EQ_U(run(9, &f, &p), DECODE_TCP);
	check_std_tcp6(&p, "v6");
	CHECK_EQ_U(run(50, &f, &p), DECODE_TCP);
	check_std_tcp6(&p, "v6");
	f.n = 0;
	bb_u8(&f, 0x21); /* PFC */
	bb_cat(&f, &ip);
	CHECK_EQ_U(run(9, &f, &p), DECODE_TCP);
	f.n = 0;
	bb_u8(&f, 0xFF), bb_u8(&f, 0x03), bb_be16(&f, 0xC021); /* LCP */
	BB_LIT(&f, "\x01\x01\x00\x04");
	CHECK_EQ_U(run(50, &f, &p), DECODE_NON_IP);
	CHECK_EQ_U(run_cut(9, &f, 3, 3, &p), DECODE_MALFORMED);
	CHECK_EQ_U(decode_last_drop(&D), DROP_PPP_TRUNCATED);

	/* Cisco HDLC, on its own DLT and within PPP_SERIAL */
	f.n = 0;
	bb_u8(&f, 0x0F), bb_u8(&f, 0), bb_be16(&f, 0x0800);
	bb_cat(&f, &ip);
	CHECK_EQ_U(run(104, &f, &p), DECODE_TCP);
	check_std_tcp4(&p, "abc");
	CHECK_EQ_U(run(50, &f, &p), DECODE_TCP);
	/* ... and under DLT_PPP, as some routers write it (0F 00 is no PPP
	 * protocol: PPP protocol numbers are odd). */
	CHECK_EQ_U(run(9, &f, &p), DECODE_TCP);
	check_std_tcp4(&p, "abc");
	/* 0F followed by anything but 00 stays PPP (a compressed protocol
	 * field): here PPP protocol 0x0F08, not IP. */
	f.d[1] = 0x08;
	CHECK(run(9, &f, &p) != DECODE_TCP);
	f.d[1] = 0x00;
	f.d[0] = 0x33;
	CHECK_EQ_U(run(104, &f, &p), DECODE_MALFORMED);
	CHECK_EQ_U(decode_last_drop(&D), DROP_LINK_BAD);

	/* PPP_ETHER: PPPoE session header without Ethernet; discovery */
	f.n = 0;
	bb_u8(&f, 0x11), bb_u8(&f, 0), bb_be16(&f, 0x1234), bb_be16(&f, (unsigned)(2 + ip.n));
	bb_be16(&f, 0x0021);
	bb_cat(&f, &ip);
	CHECK_EQ_U(run(51, &f, &p), DECODE_TCP);
	check_std_tcp4(&p, "abc");
	f.d[1] = 0x09; /* PADI */
	CHECK_EQ_U(run(51, &f, &p), DECODE_NON_IP);

	/* An unsupported link type still balances the books. */
	CHECK_EQ_U(run(147, &ip, &p), DECODE_MALFORMED);
	CHECK_EQ_U(decode_last_drop(&D), DROP_LINK_BAD);
	check_books();
}

/* PPI (DLT 192): an 8-byte header plus fields, then the inner link type. */
static void test_ppi(void)
{
	struct bb ip = {.n = 0}, eth = {.n = 0}, f = {.n = 0};
	struct packet p;
	const char *name = NULL;
	CHECK(decode_linktype_supported(192, &name) && strcmp(name, "ppi") == 0);
	std_tcp4(&ip, "ppi");
	mk_eth(&eth, 0x0800, &ip);
	static const uint8_t hdr[16] = {0, 0, 16, 0, 1, 0, 0, 0, /* v0, len 16, DLT 1 */
	                                8, 0, 4, 0, 0, 0, 0, 0}; /* aggregation field */
	bb_mem(&f, hdr, sizeof hdr);
	bb_cat(&f, &eth);
	CHECK_EQ_U(run(192, &f, &p), DECODE_TCP);
	check_std_tcp4(&p, "ppi");

	/* 802.11 inside (DLT 105) is not decoded: counted, not guessed. */
	f.d[4] = 105;
	CHECK_EQ_U(run(192, &f, &p), DECODE_MALFORMED);
	CHECK_EQ_U(decode_last_drop(&D), DROP_LINK_UNSUPPORTED);
	/* PPI in PPI is refused, so a frame cannot recurse. */
	f.d[4] = 192;
	CHECK_EQ_U(run(192, &f, &p), DECODE_MALFORMED);
	CHECK_EQ_U(decode_last_drop(&D), DROP_LINK_UNSUPPORTED);
	/* A header length shorter than the header, or past the frame. */
	f.d[4] = 1;
	f.d[2] = 4;
	CHECK_EQ_U(run(192, &f, &p), DECODE_MALFORMED);
	CHECK_EQ_U(decode_last_drop(&D), DROP_LINK_BAD);
	f.d[2] = 0xff;
	f.d[3] = 0xff;
	CHECK_EQ_U(run(192, &f, &p), DECODE_MALFORMED);
	CHECK_EQ_U(decode_last_drop(&D), DROP_LINK_TRUNCATED);
	CHECK_EQ_U(run_cut(192, &f, 5, 5, &p), DECODE_MALFORMED);
	CHECK_EQ_U(decode_last_drop(&D), DROP_LINK_TRUNCATED);
	check_books();
}

static void test_vlan(void)
{
	struct bb ip = {.n = 0}, f = {.n = 0};
	struct packet p;
	std_tcp4(&ip, "vlan");
	uint64_t tagged = D.stats.vlan_tagged;

	uint16_t one[] = {0x8100, 0x2064}; /* PCP 1, VID 100 */
	mk_eth_tags(&f, one, 1, 0x0800, &ip);
	CHECK_EQ_U(run(1, &f, &p), DECODE_TCP);
	check_std_tcp4(&p, "vlan");
	CHECK_EQ_U(p.vlan_id, 100);
	CHECK_EQ_U(p.vlan_depth, 1);

	uint16_t qinq[] = {0x88A8, 10, 0x8100, 20};
	f.n = 0;
	mk_eth_tags(&f, qinq, 2, 0x0800, &ip);
	CHECK_EQ_U(run(1, &f, &p), DECODE_TCP);
	check_std_tcp4(&p, "vlan");
	CHECK_EQ_U(p.vlan_id, 20);
	CHECK_EQ_U(p.vlan_depth, 2);

	uint16_t four[] = {0x9100, 1, 0x88A8, 2, 0x8100, 3, 0x8100, 4094};
	f.n = 0;
	mk_eth_tags(&f, four, 4, 0x0800, &ip);
	CHECK_EQ_U(run(1, &f, &p), DECODE_TCP);
	CHECK_EQ_U(p.vlan_id, 4094);
	CHECK_EQ_U(p.vlan_depth, 4);

	uint16_t five[] = {0x8100, 1, 0x8100, 2, 0x8100, 3, 0x8100, 4, 0x8100, 5};
	f.n = 0;
	mk_eth_tags(&f, five, 5, 0x0800, &ip);
	CHECK_EQ_U(run(1, &f, &p), DECODE_MALFORMED);
	CHECK_EQ_U(decode_last_drop(&D), DROP_VLAN_TOO_DEEP);
	CHECK_EQ_U(run_cut(1, &f, 16, 16, &p), DECODE_MALFORMED);
	CHECK_EQ_U(decode_last_drop(&D), DROP_VLAN_TRUNCATED);
	CHECK_EQ_U(D.stats.vlan_tagged, tagged + 4); /* the cut one never read a tag */

	/* Non-IP: ARP, also behind a tag */
	struct bb arp = {.n = 0};
	BB_LIT(&arp, "\x00\x01\x08\x00\x06\x04\x00\x01");
	f.n = 0;
	mk_eth(&f, 0x0806, &arp);
	CHECK_EQ_U(run(1, &f, &p), DECODE_NON_IP);
	f.n = 0;
	mk_eth_tags(&f, one, 1, 0x0806, &arp);
	CHECK_EQ_U(run(1, &f, &p), DECODE_NON_IP);
	CHECK_EQ_U(p.vlan_id, 100);
	/* 802.3 + LLC (STP) is not IP; SNAP carrying IPv4 is */
	f.n = 0;
	mk_eth(&f, 38, &arp);
	CHECK_EQ_U(run(1, &f, &p), DECODE_NON_IP);
	struct bb snap = {.n = 0};
	bb_str(&snap, "\xAA\xAA\x03");
	bb_u8(&snap, 0), bb_u8(&snap, 0), bb_u8(&snap, 0), bb_be16(&snap, 0x0800);
	bb_cat(&snap, &ip);
	f.n = 0;
	mk_eth(&f, (uint16_t)snap.n, &snap);
	CHECK_EQ_U(run(1, &f, &p), DECODE_TCP);
	check_std_tcp4(&p, "vlan");
	/* Short Ethernet */
	CHECK_EQ_U(run_cut(1, &f, 13, 13, &p), DECODE_MALFORMED);
	CHECK_EQ_U(decode_last_drop(&D), DROP_LINK_TRUNCATED);
	check_books();
}

static void test_mpls_pppoe(void)
{
	struct bb ip = {.n = 0}, ip6 = {.n = 0}, m = {.n = 0}, f = {.n = 0};
	struct packet p;
	std_tcp4(&ip, "mpls");
	std_tcp6(&ip6, "six");
	uint64_t mpls0 = D.stats.mpls, pppoe0 = D.stats.pppoe;

	bb_be32(&m, (16u << 12) | 0x100 | 64); /* label 16, S */
	bb_cat(&m, &ip);
	mk_eth(&f, 0x8847, &m);
	CHECK_EQ_U(run(1, &f, &p), DECODE_TCP);
	check_std_tcp4(&p, "mpls");
	CHECK_EQ_U(p.mpls_depth, 1);

	m.n = 0;
	bb_be32(&m, (100u << 12) | 64);
	bb_be32(&m, (200u << 12) | 64);
	bb_be32(&m, (2u << 12) | 0x100 | 64);
	bb_cat(&m, &ip6);
	f.n = 0;
	mk_eth(&f, 0x8848, &m);
	CHECK_EQ_U(run(1, &f, &p), DECODE_TCP);
	check_std_tcp6(&p, "six");
	CHECK_EQ_U(p.mpls_depth, 3);

	m.n = 0;
	for (int i = 0; i < 9; i++)
		bb_be32(&m, (100u << 12) | 64);
	bb_cat(&m, &ip);
	f.n = 0;
	mk_eth(&f, 0x8847, &m);
	CHECK_EQ_U(run(1, &f, &p), DECODE_MALFORMED);
	CHECK_EQ_U(decode_last_drop(&D), DROP_MPLS_TOO_DEEP);

	/* Pseudowire: control word then an Ethernet frame */
	struct bb inner = {.n = 0};
	mk_eth(&inner, 0x0800, &ip);
	m.n = 0;
	bb_be32(&m, (300u << 12) | 0x100 | 64);
	bb_be32(&m, 0); /* control word */
	bb_cat(&m, &inner);
	f.n = 0;
	mk_eth(&f, 0x8847, &m);
	CHECK_EQ_U(run(1, &f, &p), DECODE_TCP);
	check_std_tcp4(&p, "mpls");
	CHECK_EQ_U(D.stats.mpls, mpls0 + 4);

	/* PPPoE session, IPv4 and IPv6 */
	struct bb s = {.n = 0};
	bb_u8(&s, 0x11), bb_u8(&s, 0), bb_be16(&s, 7), bb_be16(&s, (unsigned)(2 + ip.n));
	bb_be16(&s, 0x0021);
	bb_cat(&s, &ip);
	f.n = 0;
	mk_eth(&f, 0x8864, &s);
	CHECK_EQ_U(run(1, &f, &p), DECODE_TCP);
	check_std_tcp4(&p, "mpls");
	s.n = 0;
	bb_u8(&s, 0x11), bb_u8(&s, 0), bb_be16(&s, 7), bb_be16(&s, (unsigned)(2 + ip6.n));
	bb_be16(&s, 0x0057);
	bb_cat(&s, &ip6);
	f.n = 0;
	mk_eth(&f, 0x8864, &s);
	CHECK_EQ_U(run(1, &f, &p), DECODE_TCP);
	check_std_tcp6(&p, "six");
	CHECK_EQ_U(D.stats.pppoe, pppoe0 + 2);
	f.d[14] = 0x21; /* bad version */
	CHECK_EQ_U(run(1, &f, &p), DECODE_MALFORMED);
	CHECK_EQ_U(decode_last_drop(&D), DROP_PPPOE_BAD);
	f.d[14] = 0x11;
	f.d[15] = 0x07; /* a discovery code on the session EtherType */
	CHECK_EQ_U(run(1, &f, &p), DECODE_MALFORMED);
	CHECK_EQ_U(decode_last_drop(&D), DROP_PPPOE_BAD);
	/* Discovery EtherType */
	f.d[12] = 0x88, f.d[13] = 0x63;
	CHECK_EQ_U(run(1, &f, &p), DECODE_NON_IP);
	check_books();
}

static void test_ipv4_options_padding(void)
{
	struct bb u = {.n = 0}, ud = {.n = 0}, ip = {.n = 0}, f = {.n = 0};
	struct packet p;
	bb_str(&u, "dns?");
	mk_udp(&ud, 5353, 53, &u);
	mk_ipv4x(&ip, 17, A4, B4, &ud, 1, 0, 8); /* IHL 7 */
	mk_eth(&f, 0x0800, &ip);
	while (f.n < 60)
		bb_u8(&f, 0xEE); /* Ethernet padding */
	CHECK_EQ_U(run(1, &f, &p), DECODE_UDP);
	CHECK_EQ_U(p.src_port, 5353);
	CHECK_EQ_U(p.dst_port, 53);
	CHECK_EQ_U(p.payload_len, 4);
	CHECK_EQ_U(p.payload_wire_len, 4);
	CHECK(memcmp(p.payload, "dns?", 4) == 0);
	CHECK(is_v4(p.src_ip, A4) && is_v4(p.dst_ip, B4));

	/* UDP length shorter than the IP payload trims; longer is malformed */
	f.d[14 + 28 + 5] = 10; /* UDP length 10: 2 payload bytes */
	CHECK_EQ_U(run(1, &f, &p), DECODE_UDP);
	CHECK_EQ_U(p.payload_len, 2);
	f.d[14 + 28 + 5] = 200;
	CHECK_EQ_U(run(1, &f, &p), DECODE_MALFORMED);
	CHECK_EQ_U(decode_last_drop(&D), DROP_UDP_BAD_LEN);
	f.d[14 + 28 + 5] = 4;
	CHECK_EQ_U(run(1, &f, &p), DECODE_MALFORMED);
	CHECK_EQ_U(decode_last_drop(&D), DROP_UDP_BAD_LEN);

	/* IPv4 header checks */
	struct bb g = f;
	g.d[14] = 0x44;
	CHECK_EQ_U(run(1, &g, &p), DECODE_MALFORMED);
	CHECK_EQ_U(decode_last_drop(&D), DROP_IPV4_BAD_HLEN);
	g = f;
	g.d[14] = 0x57;
	CHECK_EQ_U(run(1, &g, &p), DECODE_MALFORMED);
	CHECK_EQ_U(decode_last_drop(&D), DROP_IPV4_BAD_VERSION);
	g = f;
	g.d[16] = 0, g.d[17] = 20; /* total < hlen 28 */
	CHECK_EQ_U(run(1, &g, &p), DECODE_MALFORMED);
	CHECK_EQ_U(decode_last_drop(&D), DROP_IPV4_BAD_LEN);
	g = f;
	g.d[16] = 0x05; /* total 1300+ > frame */
	CHECK_EQ_U(run(1, &g, &p), DECODE_MALFORMED);
	CHECK_EQ_U(decode_last_drop(&D), DROP_IPV4_TRUNCATED);

	/* ICMP and another protocol */
	struct bb ic = {.n = 0}, ip2 = {.n = 0};
	BB_LIT(&ic, "\x08\x00\x00\x00\x00\x01\x00\x01ping");
	mk_ipv4(&ip2, 1, A4, B4, &ic);
	CHECK_EQ_U(run(12, &ip2, &p), DECODE_ICMP);
	CHECK_EQ_U(p.l4_proto, 1);
	CHECK_EQ_U(p.payload_len, 12);
	CHECK_EQ_U(p.payload[0], 8);
	ip2.n = 0;
	mk_ipv4(&ip2, 132, A4, B4, &ic); /* SCTP */
	CHECK_EQ_U(run(12, &ip2, &p), DECODE_IP_OTHER);
	CHECK_EQ_U(p.l4_proto, 132);
	CHECK(is_v4(p.src_ip, A4) && is_v4(p.dst_ip, B4));
	struct bb ic6 = {.n = 0}, ip6 = {.n = 0};
	BB_LIT(&ic6, "\x80\x00\x00\x00\x00\x01\x00\x01");
	mk_ipv6(&ip6, 58, A6, B6, &ic6);
	CHECK_EQ_U(run(229, &ip6, &p), DECODE_ICMP);
	CHECK_EQ_U(p.l4_proto, 58);
	CHECK_MEM(p.dst_ip, B6, 16);
	check_books();
}

/* Extension header: next header, length in 8-byte units. */
static void ext8(struct bb *o, uint8_t nh, unsigned units)
{
	bb_u8(o, nh);
	bb_u8(o, units);
	bb_u8(o, 1), bb_u8(o, 4); /* PadN */
	for (unsigned i = 0; i < 4 + units * 8; i++)
		bb_u8(o, 0);
}

static void test_ipv6_ext(void)
{
	struct bb t = {.n = 0}, chain = {.n = 0}, ip = {.n = 0};
	struct packet p;
	mk_tcp(&t, 40001, 8080, 7, 9, TCPF_SYN, 0, "ext");
	ext8(&chain, 60, 0);     /* HBH -> DST */
	ext8(&chain, 44, 1);     /* DST (16 bytes) -> FRAG */
	bb_u8(&chain, 51);       /* FRAG (atomic) -> AH */
	bb_u8(&chain, 0);
	bb_be16(&chain, 0);
	bb_be32(&chain, 99);
	bb_u8(&chain, 43);       /* AH: len 4 -> (4+2)*4 = 24 bytes -> RH */
	bb_u8(&chain, 4);
	for (int i = 0; i < 22; i++)
		bb_u8(&chain, 0);
	ext8(&chain, 6, 0);      /* RH -> TCP */
	bb_cat(&chain, &t);
	mk_ipv6(&ip, 0, A6, B6, &chain);
	CHECK_EQ_U(run(229, &ip, &p), DECODE_TCP);
	check_std_tcp6(&p, "ext");
	CHECK_EQ_U(p.reassembled, 0);

	/* No next header; ESP; mobility */
	struct bb e = {.n = 0}, ip2 = {.n = 0};
	ext8(&e, 59, 0);
	mk_ipv6(&ip2, 60, A6, B6, &e);
	CHECK_EQ_U(run(229, &ip2, &p), DECODE_IP_OTHER);
	CHECK_EQ_U(p.l4_proto, 59);
	ip2.n = 0;
	mk_ipv6(&ip2, 50, A6, B6, &e);
	CHECK_EQ_U(run(229, &ip2, &p), DECODE_IP_OTHER);
	CHECK_EQ_U(p.l4_proto, 50);
	ip2.n = 0;
	mk_ipv6(&ip2, 135, A6, B6, &e);
	CHECK_EQ_U(run(229, &ip2, &p), DECODE_IP_OTHER);
	CHECK_EQ_U(p.l4_proto, 135);

	/* Too long a chain */
	struct bb lng = {.n = 0}, ip3 = {.n = 0};
	for (int i = 0; i < 12; i++)
		ext8(&lng, 60, 0);
	ext8(&lng, 59, 0);
	mk_ipv6(&ip3, 60, A6, B6, &lng);
	CHECK_EQ_U(run(229, &ip3, &p), DECODE_MALFORMED);
	CHECK_EQ_U(decode_last_drop(&D), DROP_IPV6_BAD_EXT);
	/* Extension header length beyond the payload */
	struct bb bad = {.n = 0}, ip4 = {.n = 0};
	bb_u8(&bad, 59), bb_u8(&bad, 200), bb_be16(&bad, 0), bb_be32(&bad, 0);
	mk_ipv6(&ip4, 0, A6, B6, &bad);
	CHECK_EQ_U(run(229, &ip4, &p), DECODE_MALFORMED);
	CHECK_EQ_U(decode_last_drop(&D), DROP_IPV6_BAD_EXT);
	ip4.d[0] = 0x70;
	CHECK_EQ_U(run(229, &ip4, &p), DECODE_MALFORMED);
	CHECK_EQ_U(decode_last_drop(&D), DROP_IPV6_BAD_VERSION);
	check_books();
}

/* Fragments of an IPv4 UDP datagram of `n` payload bytes, in 8*k pieces. */
static void frag4(struct bb *out, uint16_t id, const struct bb *l4, size_t off, size_t len, bool more,
                  uint8_t proto)
{
	struct bb piece = {.n = 0};
	bb_mem(&piece, l4->d + off, len);
	struct bb ip = {.n = 0};
	mk_ipv4x(&ip, proto, C4, E4, &piece, id, (uint16_t)((more ? 0x2000 : 0) | (off / 8)), 0);
	out->n = 0;
	mk_eth(out, 0x0800, &ip);
}

static void make_udp_datagram(struct bb *l4, size_t payload)
{
	struct bb u = {.n = 0};
	for (size_t i = 0; i < payload; i++)
		bb_u8(&u, (unsigned)(i * 7 + 3));
	mk_udp(l4, 1111, 2222, &u);
}

static void check_reassembled_udp(const struct packet *p, const struct bb *l4)
{
	CHECK_EQ_U(p->reassembled, 1);
	CHECK_EQ_U(p->src_port, 1111);
	CHECK_EQ_U(p->dst_port, 2222);
	CHECK_EQ_U(p->payload_len, l4->n - 8);
	CHECK_EQ_U(p->payload_wire_len, l4->n - 8);
	CHECK(memcmp(p->payload, l4->d + 8, l4->n - 8) == 0);
}

static void test_ipv4_frags(void)
{
	struct bb l4 = {.n = 0}, f = {.n = 0};
	struct packet p;
	make_udp_datagram(&l4, 3000 - 8); /* 3000 bytes: pieces of 1000 */
	uint64_t re0 = D.stats.frag_reassembled, dg0 = D.stats.frag_datagrams;

	/* In order */
	frag4(&f, 1, &l4, 0, 1000, true, 17);
	CHECK_EQ_U(run(1, &f, &p), DECODE_FRAG_HELD);
	frag4(&f, 1, &l4, 1000, 1000, true, 17);
	CHECK_EQ_U(run(1, &f, &p), DECODE_FRAG_HELD);
	CHECK_EQ_U(p.src_port, 0); /* never parsed as UDP on its own */
	frag4(&f, 1, &l4, 2000, 1000, false, 17);
	CHECK_EQ_U(run(1, &f, &p), DECODE_UDP);
	check_reassembled_udp(&p, &l4);
	CHECK(is_v4(p.src_ip, C4) && is_v4(p.dst_ip, E4));
	/* The datagram's bytes are those of all three frames. */
	CHECK_EQ_U(p.frame_bytes, 3 * (14 + 20 + 1000));

	/* Reversed, with a duplicate in the middle */
	frag4(&f, 2, &l4, 2000, 1000, false, 17);
	CHECK_EQ_U(run(1, &f, &p), DECODE_FRAG_HELD);
	frag4(&f, 2, &l4, 1000, 1000, true, 17);
	CHECK_EQ_U(run(1, &f, &p), DECODE_FRAG_HELD);
	CHECK_EQ_U(run(1, &f, &p), DECODE_FRAG_HELD); /* duplicate */
	frag4(&f, 2, &l4, 0, 1000, true, 17);
	CHECK_EQ_U(run(1, &f, &p), DECODE_UDP);
	check_reassembled_udp(&p, &l4);
	CHECK_EQ_U(D.stats.frag_reassembled, re0 + 2);
	CHECK_EQ_U(D.stats.frag_datagrams, dg0 + 2);

	/* Same-content overlap (0..1504 then 1000..3000) completes */
	frag4(&f, 3, &l4, 0, 1504, true, 17);
	CHECK_EQ_U(run(1, &f, &p), DECODE_FRAG_HELD);
	frag4(&f, 3, &l4, 1000, 2000, false, 17);
	CHECK_EQ_U(run(1, &f, &p), DECODE_UDP);
	check_reassembled_udp(&p, &l4);

	/* Overlap with different bytes: MALFORMED once, first copy wins */
	uint64_t ov0 = D.stats.drop[DROP_FRAG_OVERLAP];
	frag4(&f, 4, &l4, 0, 1504, true, 17);
	CHECK_EQ_U(run(1, &f, &p), DECODE_FRAG_HELD);
	struct bb evil = l4;
	evil.d[1200] ^= 0xFF;
	frag4(&f, 4, &evil, 1000, 2000, false, 17);
	CHECK_EQ_U(run(1, &f, &p), DECODE_MALFORMED);
	CHECK_EQ_U(decode_last_drop(&D), DROP_FRAG_OVERLAP);
	CHECK_EQ_U(D.stats.drop[DROP_FRAG_OVERLAP], ov0 + 1);
	frag4(&f, 4, &l4, 1504, 1496, false, 17);
	CHECK_EQ_U(run(1, &f, &p), DECODE_UDP);
	check_reassembled_udp(&p, &l4);

	/* Bad: a non-last fragment not a multiple of 8; beyond 65535 */
	frag4(&f, 5, &l4, 0, 1001, true, 17);
	CHECK_EQ_U(run(1, &f, &p), DECODE_MALFORMED);
	CHECK_EQ_U(decode_last_drop(&D), DROP_FRAG_BAD);
	frag4(&f, 5, &l4, 0, 1000, false, 17);
	f.d[14 + 6] = 0x1F, f.d[14 + 7] = 0xFF; /* offset 65528 + 1000 */
	CHECK_EQ_U(run(1, &f, &p), DECODE_MALFORMED);
	CHECK_EQ_U(decode_last_drop(&D), DROP_FRAG_BAD);
	/* A fragment cut by the snap length */
	frag4(&f, 6, &l4, 0, 1000, true, 17);
	CHECK_EQ_U(run_cut(1, &f, 500, f.n, &p), DECODE_MALFORMED);
	CHECK_EQ_U(decode_last_drop(&D), DROP_FRAG_TRUNCATED);

	/* Different protocol, same id: a different datagram */
	frag4(&f, 7, &l4, 0, 1000, true, 17);
	CHECK_EQ_U(run(1, &f, &p), DECODE_FRAG_HELD);
	frag4(&f, 7, &l4, 1000, 2000, false, 50);
	CHECK_EQ_U(run(1, &f, &p), DECODE_FRAG_HELD);
	frag4(&f, 7, &l4, 1000, 2000, false, 17);
	CHECK_EQ_U(run(1, &f, &p), DECODE_UDP);
	check_reassembled_udp(&p, &l4);
	check_books();
}

static void test_frag_lifetime(void)
{
	/* A separate small decoder: 2 contexts, 1 s timeout. */
	struct decoder saved = D;
	uint64_t saved_calls = calls;
	char err[128];
	struct decode_config cfg = {.frag_max = 2, .frag_timeout_us = 1000000};
	CHECK(decoder_init(&D, &cfg, err, sizeof err) == 0);
	calls = 0;
	struct bb l4 = {.n = 0}, f = {.n = 0};
	struct packet p;
	make_udp_datagram(&l4, 2000 - 8);

	/* Never completed: timeout by decode_expire */
	frag4(&f, 1, &l4, 0, 1000, true, 17);
	CHECK_EQ_U(run(1, &f, &p), DECODE_FRAG_HELD);
	decode_expire(&D, now_us + 500000);
	CHECK_EQ_U(D.stats.frag_timeout, 0);
	decode_expire(&D, now_us + 1000001);
	CHECK_EQ_U(D.stats.frag_timeout, 1);
	/* The late second half opens a new datagram, which cannot complete */
	frag4(&f, 1, &l4, 1000, 1000, false, 17);
	now_us += 2000000;
	CHECK_EQ_U(run(1, &f, &p), DECODE_FRAG_HELD);
	/* Timeout noticed on lookup, too */
	now_us += 2000000;
	frag4(&f, 1, &l4, 0, 1000, true, 17);
	CHECK_EQ_U(run(1, &f, &p), DECODE_FRAG_HELD);
	CHECK_EQ_U(D.stats.frag_timeout, 2);

	/* Table full: the third datagram evicts the oldest (id 1) */
	frag4(&f, 2, &l4, 0, 1000, true, 17);
	CHECK_EQ_U(run(1, &f, &p), DECODE_FRAG_HELD);
	frag4(&f, 3, &l4, 0, 1000, true, 17);
	CHECK_EQ_U(run(1, &f, &p), DECODE_FRAG_HELD);
	CHECK_EQ_U(D.stats.frag_evicted, 1);
	frag4(&f, 2, &l4, 1000, 1000, false, 17);
	CHECK_EQ_U(run(1, &f, &p), DECODE_UDP); /* id 2 survived */
	check_reassembled_udp(&p, &l4);
	frag4(&f, 1, &l4, 1000, 1000, false, 17);
	CHECK_EQ_U(run(1, &f, &p), DECODE_FRAG_HELD); /* id 1 was evicted */

	/* End of input: ids 3 and 1 are incomplete */
	decode_flush(&D);
	CHECK_EQ_U(D.stats.frag_flushed, 2);
	CHECK_EQ_U(D.stats.frag_datagrams, 6);
	CHECK_EQ_U(D.stats.frag_reassembled, 1);
	CHECK_EQ_U(D.stats.frag_datagrams,
	           D.stats.frag_reassembled + D.stats.frag_timeout + D.stats.frag_evicted + D.stats.frag_flushed);
	check_books();
	decoder_free(&D);

	/* Eight contexts, opened 1 ms apart: eviction takes them in the order
	 * they opened, skipping one completed from the middle of the list, and
	 * the sweep drops exactly those past their timeout. */
	cfg.frag_max = 8;
	CHECK(decoder_init(&D, &cfg, err, sizeof err) == 0);
	calls = 0;
	uint64_t t0 = now_us;
	for (unsigned id = 10; id < 18; id++) {
		now_us = t0 + (id - 10) * 1000;
		frag4(&f, id, &l4, 0, 1000, true, 17);
		CHECK_EQ_U(run(1, &f, &p), DECODE_FRAG_HELD);
	}
	frag4(&f, 12, &l4, 1000, 1000, false, 17);
	CHECK_EQ_U(run(1, &f, &p), DECODE_UDP); /* 12 leaves the middle */
	for (unsigned id = 18; id < 21; id++) { /* 18 takes 12's room; 19, 20 evict 10, 11 */
		now_us = t0 + (id - 10) * 1000;
		frag4(&f, id, &l4, 0, 1000, true, 17);
		CHECK_EQ_U(run(1, &f, &p), DECODE_FRAG_HELD);
	}
	CHECK_EQ_U(D.stats.frag_evicted, 2);
	frag4(&f, 13, &l4, 1000, 1000, false, 17);
	CHECK_EQ_U(run(1, &f, &p), DECODE_UDP); /* 13 survived */
	/* 14..17 opened at t0 + 4..7 ms, 18..20 at 8..10 ms: at t0 + 1 s +
	 * 7.5 ms, 14..17 are past the 1 s timeout. */
	decode_expire(&D, t0 + 1000000 + 7500);
	CHECK_EQ_U(D.stats.frag_timeout, 4);
	frag4(&f, 18, &l4, 1000, 1000, false, 17);
	now_us = t0 + 1000000 + 7600;
	CHECK_EQ_U(run(1, &f, &p), DECODE_UDP); /* 18 is still open */
	decode_flush(&D);
	CHECK_EQ_U(D.stats.frag_flushed, 2); /* 19, 20 */
	CHECK_EQ_U(D.stats.frag_datagrams,
	           D.stats.frag_reassembled + D.stats.frag_timeout + D.stats.frag_evicted + D.stats.frag_flushed);
	check_books();
	decoder_free(&D);

	/* One context, pinned by a completed outer datagram: an inner
	 * fragment inside it finds no room (and the pinned one is kept). */
	cfg.frag_max = 1;
	CHECK(decoder_init(&D, &cfg, err, sizeof err) == 0);
	calls = 0;
	struct bb piece = {.n = 0}, inner = {.n = 0}, outer = {.n = 0};
	bb_mem(&piece, l4.d, 1000);
	mk_ipv4x(&inner, 17, A4, B4, &piece, 42, 0x2000, 0); /* inner first fragment */
	for (int half = 0; half < 2; half++) {
		struct bb part = {.n = 0};
		size_t cut = 512;
		bb_mem(&part, inner.d + (half ? cut : 0), half ? inner.n - cut : cut);
		outer.n = 0;
		mk_ipv4x(&outer, 4, C4, E4, &part, 43, (uint16_t)(half ? cut / 8 : 0x2000), 0);
		enum decode_result r = run(12, &outer, &p);
		CHECK_EQ_U(r, half ? DECODE_MALFORMED : DECODE_FRAG_HELD);
	}
	CHECK_EQ_U(decode_last_drop(&D), DROP_FRAG_NO_CONTEXT);
	CHECK_EQ_U(D.stats.frag_reassembled, 1);
	CHECK_EQ_U(D.stats.tunnel[TUNNEL_IPIP], 1);
	check_books();
	decoder_free(&D);
	D = saved;
	calls = saved_calls;
}

static void frag6(struct bb *out, uint32_t id, const struct bb *l4, size_t off, size_t len, bool more)
{
	struct bb body = {.n = 0};
	ext8(&body, 44, 0); /* a destination options header before the fragment */
	bb_u8(&body, 17);
	bb_u8(&body, 0);
	bb_be16(&body, (unsigned)(off | (more ? 1 : 0)));
	bb_be32(&body, id);
	bb_mem(&body, l4->d + off, len);
	out->n = 0;
	mk_ipv6(out, 60, A6, B6, &body);
}

static void test_ipv6_frags(void)
{
	struct bb l4 = {.n = 0}, f = {.n = 0};
	struct packet p;
	make_udp_datagram(&l4, 2500 - 8);
	frag6(&f, 77, &l4, 1248, 1252, false);
	CHECK_EQ_U(run(229, &f, &p), DECODE_FRAG_HELD);
	frag6(&f, 77, &l4, 0, 1248, true);
	CHECK_EQ_U(run(229, &f, &p), DECODE_UDP);
	check_reassembled_udp(&p, &l4);
	CHECK_MEM(p.src_ip, A6, 16);
	CHECK_MEM(p.dst_ip, B6, 16);
	CHECK_EQ_U(p.ip_version, 6);

	/* Overlap with different bytes */
	frag6(&f, 78, &l4, 0, 1248, true);
	CHECK_EQ_U(run(229, &f, &p), DECODE_FRAG_HELD);
	struct bb evil = l4;
	evil.d[1000] ^= 1;
	frag6(&f, 78, &evil, 992, 1508, false);
	CHECK_EQ_U(run(229, &f, &p), DECODE_MALFORMED);
	CHECK_EQ_U(decode_last_drop(&D), DROP_FRAG_OVERLAP);
	/* Contradicting the known end */
	frag6(&f, 78, &l4, 1496, 1000, false);
	CHECK_EQ_U(run(229, &f, &p), DECODE_FRAG_HELD);
	frag6(&f, 78, &l4, 1496, 1004, false);
	CHECK_EQ_U(run(229, &f, &p), DECODE_MALFORMED);
	CHECK_EQ_U(decode_last_drop(&D), DROP_FRAG_BAD);
	check_books();
}

static void test_snaplen(void)
{
	struct bb ip = {.n = 0}, f = {.n = 0};
	struct packet p;
	std_tcp4(&ip, "0123456789abcdef");
	mk_eth(&f, 0x0800, &ip);
	uint64_t cut0 = D.stats.snaplen_cut;
	CHECK_EQ_U(run_cut(1, &f, f.n - 10, f.n, &p), DECODE_TCP);
	CHECK_EQ_U(p.payload_len, 6);
	CHECK_EQ_U(p.payload_wire_len, 16);
	CHECK(memcmp(p.payload, "012345", 6) == 0);
	CHECK_EQ_U(D.stats.snaplen_cut, cut0 + 1);
	/* Cut inside the TCP header */
	CHECK_EQ_U(run_cut(1, &f, 14 + 20 + 10, f.n, &p), DECODE_MALFORMED);
	CHECK_EQ_U(decode_last_drop(&D), DROP_TCP_TRUNCATED);
	/* UDP whose length exceeds what was captured is not malformed */
	struct bb u = {.n = 0}, ud = {.n = 0}, ip2 = {.n = 0}, f2 = {.n = 0};
	bb_str(&u, "a fairly long datagram payload");
	mk_udp(&ud, 1, 2, &u);
	mk_ipv4(&ip2, 17, A4, B4, &ud);
	mk_eth(&f2, 0x0800, &ip2);
	CHECK_EQ_U(run_cut(1, &f2, 14 + 28 + 4, f2.n, &p), DECODE_UDP);
	CHECK_EQ_U(p.payload_len, 4);
	CHECK_EQ_U(p.payload_wire_len, u.n);
	CHECK_EQ_U(D.stats.snaplen_cut, cut0 + 2);
	check_books();
}

static void outer_v4(struct bb *o, uint8_t proto, const struct bb *in) { mk_ipv4(o, proto, C4, E4, in); }

static void check_tunnel_v4(const struct packet *p, enum tunnel_type t, unsigned depth)
{
	CHECK_EQ_U(p->tunnel.type, t);
	CHECK_EQ_U(p->tunnel.depth, depth);
	CHECK_EQ_U(p->tunnel.outer_ipver, 4);
	CHECK(is_v4(p->tunnel.outer_src, C4));
	CHECK(is_v4(p->tunnel.outer_dst, E4));
}

static void test_tunnels(void)
{
	struct bb ip = {.n = 0}, ip6 = {.n = 0}, inner_eth = {.n = 0};
	struct packet p;
	std_tcp4(&ip, "inner");
	std_tcp6(&ip6, "in6");
	mk_eth(&inner_eth, 0x0800, &ip);

	/* GRE with checksum, key and sequence */
	struct bb g = {.n = 0}, o = {.n = 0}, f = {.n = 0};
	bb_be16(&g, 0xB000);
	bb_be16(&g, 0x0800);
	bb_be32(&g, 0);
	bb_be32(&g, 0xABCD1234);
	bb_be32(&g, 5);
	bb_cat(&g, &ip);
	outer_v4(&o, 47, &g);
	mk_eth(&f, 0x0800, &o);
	uint64_t gre0 = D.stats.tunnel[TUNNEL_GRE];
	CHECK_EQ_U(run(1, &f, &p), DECODE_TCP);
	check_std_tcp4(&p, "inner");
	check_tunnel_v4(&p, TUNNEL_GRE, 1);
	CHECK_EQ_U(p.tunnel.id_valid, 1);
	CHECK_EQ_U(p.tunnel.id, 0xABCD1234);
	CHECK_EQ_U(D.stats.tunnel[TUNNEL_GRE], gre0 + 1);
	/* GRE with the routing bit is discarded (RFC 2784) */
	f.d[14 + 20] = 0x40;
	CHECK_EQ_U(run(1, &f, &p), DECODE_MALFORMED);
	CHECK_EQ_U(decode_last_drop(&D), DROP_GRE_BAD);

	/* GRE transparent Ethernet bridging, no key, IPv6 inside */
	struct bb ie6 = {.n = 0};
	mk_eth(&ie6, 0x86DD, &ip6);
	g.n = o.n = f.n = 0;
	bb_be16(&g, 0), bb_be16(&g, 0x6558);
	bb_cat(&g, &ie6);
	outer_v4(&o, 47, &g);
	mk_eth(&f, 0x0800, &o);
	CHECK_EQ_U(run(1, &f, &p), DECODE_TCP);
	check_std_tcp6(&p, "in6");
	check_tunnel_v4(&p, TUNNEL_GRE, 1);
	CHECK_EQ_U(p.tunnel.id_valid, 0);
	/* GRE with an unknown payload: IP_OTHER */
	f.d[14 + 22] = 0x12;
	CHECK_EQ_U(run(1, &f, &p), DECODE_IP_OTHER);
	CHECK_EQ_U(p.l4_proto, 47);

	/* ERSPAN type II: GRE with S, 8-byte header, session 0x155 */
	g.n = o.n = f.n = 0;
	bb_be16(&g, 0x1000), bb_be16(&g, 0x88BE), bb_be32(&g, 1);
	bb_be16(&g, 0x1000 | 12), bb_be16(&g, 0x0155), bb_be32(&g, 0);
	bb_cat(&g, &inner_eth);
	outer_v4(&o, 47, &g);
	mk_eth(&f, 0x0800, &o);
	CHECK_EQ_U(run(1, &f, &p), DECODE_TCP);
	check_std_tcp4(&p, "inner");
	check_tunnel_v4(&p, TUNNEL_ERSPAN, 1);
	CHECK_EQ_U(p.tunnel.id_valid, 1);
	CHECK_EQ_U(p.tunnel.id, 0x155);

	/* ERSPAN type III with the platform subheader */
	g.n = o.n = f.n = 0;
	bb_be16(&g, 0x1000), bb_be16(&g, 0x22EB), bb_be32(&g, 1);
	bb_be16(&g, 0x2000), bb_be16(&g, 0x0042), bb_be32(&g, 0x11223344);
	bb_be16(&g, 0), bb_be16(&g, 0x0001);
	bb_be32(&g, 0), bb_be32(&g, 0);
	bb_cat(&g, &inner_eth);
	outer_v4(&o, 47, &g);
	mk_eth(&f, 0x0800, &o);
	CHECK_EQ_U(run(1, &f, &p), DECODE_TCP);
	check_std_tcp4(&p, "inner");
	CHECK_EQ_U(p.tunnel.type, TUNNEL_ERSPAN);
	CHECK_EQ_U(p.tunnel.id, 0x42);

	/* PPTP enhanced GRE carrying PPP/IPv4; and an ack-only packet */
	struct bb ppp = {.n = 0};
	bb_u8(&ppp, 0xFF), bb_u8(&ppp, 0x03), bb_be16(&ppp, 0x0021);
	bb_cat(&ppp, &ip);
	g.n = o.n = f.n = 0;
	bb_be16(&g, 0x3081), bb_be16(&g, 0x880B);
	bb_be16(&g, (unsigned)ppp.n), bb_be16(&g, 0x4242);
	bb_be32(&g, 1), bb_be32(&g, 0);
	bb_cat(&g, &ppp);
	outer_v4(&o, 47, &g);
	mk_eth(&f, 0x0800, &o);
	CHECK_EQ_U(run(1, &f, &p), DECODE_TCP);
	check_std_tcp4(&p, "inner");
	check_tunnel_v4(&p, TUNNEL_GRE, 1);
	CHECK_EQ_U(p.tunnel.id, 0x4242);
	g.n = o.n = f.n = 0;
	bb_be16(&g, 0x2081), bb_be16(&g, 0x880B), bb_be16(&g, 0), bb_be16(&g, 0x4242), bb_be32(&g, 1);
	outer_v4(&o, 47, &g);
	mk_eth(&f, 0x0800, &o);
	CHECK_EQ_U(run(1, &f, &p), DECODE_IP_OTHER);
	CHECK_EQ_U(p.l4_proto, 47);

	/* VXLAN */
	struct bb vx = {.n = 0}, ud = {.n = 0};
	bb_u8(&vx, 0x08), bb_u8(&vx, 0), bb_be16(&vx, 0);
	bb_be32(&vx, (0x123456u << 8));
	bb_cat(&vx, &inner_eth);
	mk_udp(&ud, 55555, 4789, &vx);
	o.n = f.n = 0;
	outer_v4(&o, 17, &ud);
	uint16_t tag[] = {0x8100, 33};
	mk_eth_tags(&f, tag, 1, 0x0800, &o);
	uint64_t vx0 = D.stats.tunnel[TUNNEL_VXLAN];
	CHECK_EQ_U(run(1, &f, &p), DECODE_TCP);
	check_std_tcp4(&p, "inner");
	check_tunnel_v4(&p, TUNNEL_VXLAN, 1);
	CHECK_EQ_U(p.tunnel.id, 0x123456);
	CHECK_EQ_U(p.vlan_id, 33); /* the outer frame's tag */
	CHECK_EQ_U(D.stats.tunnel[TUNNEL_VXLAN], vx0 + 1);
	/* I flag clear: ordinary UDP to port 4789 */
	f.d[18 + 28] = 0x00;
	CHECK_EQ_U(run(1, &f, &p), DECODE_UDP);
	CHECK_EQ_U(p.dst_port, 4789);
	CHECK_EQ_U(p.tunnel.type, TUNNEL_NONE);
	CHECK(is_v4(p.src_ip, C4));

	/* GENEVE: Ethernet with 8 bytes of options; bare IPv6 */
	struct bb gn = {.n = 0};
	bb_u8(&gn, 2), bb_u8(&gn, 0), bb_be16(&gn, 0x6558), bb_be32(&gn, 0xBEEF00u << 8 >> 8 << 8);
	bb_be32(&gn, 0x01020304), bb_be32(&gn, 0x05060708);
	bb_cat(&gn, &inner_eth);
	ud.n = o.n = f.n = 0;
	mk_udp(&ud, 1, 6081, &gn);
	outer_v4(&o, 17, &ud);
	mk_eth(&f, 0x0800, &o);
	CHECK_EQ_U(run(1, &f, &p), DECODE_TCP);
	check_std_tcp4(&p, "inner");
	check_tunnel_v4(&p, TUNNEL_GENEVE, 1);
	CHECK_EQ_U(p.tunnel.id, 0xBEEF00);
	gn.n = 0;
	bb_u8(&gn, 0), bb_u8(&gn, 0), bb_be16(&gn, 0x86DD), bb_be32(&gn, 7u << 8);
	bb_cat(&gn, &ip6);
	ud.n = o.n = f.n = 0;
	mk_udp(&ud, 1, 6081, &gn);
	outer_v4(&o, 17, &ud);
	mk_eth(&f, 0x0800, &o);
	CHECK_EQ_U(run(1, &f, &p), DECODE_TCP);
	check_std_tcp6(&p, "in6");
	CHECK_EQ_U(p.tunnel.id, 7);
	f.d[14 + 28] = 0x40; /* version 1: ordinary UDP */
	CHECK_EQ_U(run(1, &f, &p), DECODE_UDP);
	CHECK_EQ_U(p.dst_port, 6081);

	/* CAPWAP data (RFC 5415): 802.3 inside (T clear), from the WTP to
	 * the controller's 5247 */
	struct bb cw = {.n = 0};
	bb_be32(&cw, 0x00100200u); /* HLEN 2, WBID 1, T 0 */
	bb_be32(&cw, 0);
	bb_cat(&cw, &inner_eth);
	ud.n = o.n = f.n = 0;
	mk_udp(&ud, 40000, 5247, &cw);
	outer_v4(&o, 17, &ud);
	mk_eth(&f, 0x0800, &o);
	uint64_t cw0 = D.stats.tunnel[TUNNEL_CAPWAP];
	CHECK_EQ_U(run(1, &f, &p), DECODE_TCP);
	check_std_tcp4(&p, "inner");
	check_tunnel_v4(&p, TUNNEL_CAPWAP, 1);
	CHECK_EQ_U(D.stats.tunnel[TUNNEL_CAPWAP], cw0 + 1);
	CHECK(strcmp(tunnel_type_name(TUNNEL_CAPWAP), "capwap") == 0);
	/* 802.11 QoS data (T set) with wireless-specific information (HLEN 4),
	 * from the controller's 5247; then the frame control bytes swapped */
	struct bb w = {.n = 0};
	bb_u8(&w, 0x88), bb_u8(&w, 0x02); /* QoS data, FromDS */
	bb_be16(&w, 0);                     /* duration */
	for (int i = 0; i < 18; i++)
		bb_u8(&w, (unsigned)i);         /* three addresses */
	bb_be16(&w, 0x1230);                /* sequence control */
	bb_be16(&w, 0);                     /* QoS control */
	BB_LIT(&w, "\xaa\xaa\x03\x00\x00\x00\x08\x00");
	bb_cat(&w, &ip);
	cw.n = 0;
	bb_be32(&cw, 0x00200320u); /* HLEN 4, WBID 1, T 1, W 1 */
	bb_be32(&cw, 0), bb_be32(&cw, 0x04bf2300u), bb_be32(&cw, 0);
	bb_cat(&cw, &w);
	ud.n = o.n = f.n = 0;
	mk_udp(&ud, 5247, 40000, &cw);
	outer_v4(&o, 17, &ud);
	mk_eth(&f, 0x0800, &o);
	CHECK_EQ_U(run(1, &f, &p), DECODE_TCP);
	check_std_tcp4(&p, "inner");
	check_tunnel_v4(&p, TUNNEL_CAPWAP, 1);
	size_t fc = 14 + 20 + 8 + 16;
	f.d[fc] = 0x02, f.d[fc + 1] = 0x88; /* swapped, as Cisco access points send it */
	CHECK_EQ_U(run(1, &f, &p), DECODE_TCP);
	check_std_tcp4(&p, "inner");
	f.d[fc] = 0x88, f.d[fc + 1] = 0x42; /* protected: the body is encrypted */
	CHECK_EQ_U(run(1, &f, &p), DECODE_NON_IP);
	f.d[fc] = 0x80, f.d[fc + 1] = 0x00; /* a beacon: management, not IP */
	CHECK_EQ_U(run(1, &f, &p), DECODE_NON_IP);
	f.d[14 + 20 + 8 + 3] = 0xA0; /* the F bit: fragments stay UDP */
	CHECK_EQ_U(run(1, &f, &p), DECODE_UDP);
	CHECK_EQ_U(p.src_port, 5247);
	f.d[14 + 20 + 8] = 0x01; /* preamble type 1: DTLS, encrypted */
	CHECK_EQ_U(run(1, &f, &p), DECODE_UDP);
	/* a keep-alive (header only) stays UDP */
	cw.n = 0;
	bb_be32(&cw, 0x00100208u), bb_be32(&cw, 0);
	ud.n = o.n = f.n = 0;
	mk_udp(&ud, 40000, 5247, &cw);
	outer_v4(&o, 17, &ud);
	mk_eth(&f, 0x0800, &o);
	CHECK_EQ_U(run(1, &f, &p), DECODE_UDP);

	/* IP-in-IP, 6in4, 4in6, 6in6 */
	o.n = f.n = 0;
	outer_v4(&o, 4, &ip);
	mk_eth(&f, 0x0800, &o);
	CHECK_EQ_U(run(1, &f, &p), DECODE_TCP);
	check_std_tcp4(&p, "inner");
	check_tunnel_v4(&p, TUNNEL_IPIP, 1);
	CHECK_EQ_U(p.tunnel.id_valid, 0);
	o.n = 0;
	outer_v4(&o, 41, &ip6);
	CHECK_EQ_U(run(12, &o, &p), DECODE_TCP);
	check_std_tcp6(&p, "in6");
	check_tunnel_v4(&p, TUNNEL_6IN4, 1);
	o.n = 0;
	mk_ipv6(&o, 4, B6, A6, &ip);
	CHECK_EQ_U(run(12, &o, &p), DECODE_TCP);
	check_std_tcp4(&p, "inner");
	CHECK_EQ_U(p.tunnel.type, TUNNEL_4IN6);
	CHECK_EQ_U(p.tunnel.outer_ipver, 6);
	CHECK_MEM(p.tunnel.outer_src, B6, 16);
	CHECK_MEM(p.tunnel.outer_dst, A6, 16);
	o.n = 0;
	mk_ipv6(&o, 41, B6, A6, &ip6);
	CHECK_EQ_U(run(12, &o, &p), DECODE_TCP);
	check_std_tcp6(&p, "in6");
	CHECK_EQ_U(p.tunnel.type, TUNNEL_6IN6);

	/* Nesting: VXLAN inside GRE inside IPIP: innermost reported, depth 3 */
	struct bb l1 = {.n = 0}, l2 = {.n = 0}, l3 = {.n = 0}, l4 = {.n = 0};
	vx.n = ud.n = 0;
	bb_u8(&vx, 0x08), bb_u8(&vx, 0), bb_be16(&vx, 0), bb_be32(&vx, 9u << 8);
	bb_cat(&vx, &inner_eth);
	mk_udp(&ud, 1, 4789, &vx);
	mk_ipv4(&l1, 17, C4, E4, &ud);
	bb_be16(&l2, 0x2000), bb_be16(&l2, 0x0800), bb_be32(&l2, 5);
	bb_cat(&l2, &l1);
	mk_ipv4(&l3, 47, B4, A4, &l2);
	mk_ipv4(&l4, 4, A4, B4, &l3);
	CHECK_EQ_U(run(12, &l4, &p), DECODE_TCP);
	check_std_tcp4(&p, "inner");
	check_tunnel_v4(&p, TUNNEL_VXLAN, 3);
	CHECK_EQ_U(p.tunnel.id, 9);

	/* Depth guard: 8 IPIP layers decode, 9 do not */
	struct bb cur = ip, nxt;
	for (int i = 0; i < 8; i++) {
		nxt.n = 0;
		mk_ipv4(&nxt, 4, C4, E4, &cur);
		cur = nxt;
	}
	CHECK_EQ_U(run(12, &cur, &p), DECODE_TCP);
	CHECK_EQ_U(p.tunnel.depth, 8);
	check_std_tcp4(&p, "inner");
	nxt.n = 0;
	mk_ipv4(&nxt, 4, C4, E4, &cur);
	uint64_t deep0 = D.stats.drop[DROP_TUNNEL_TOO_DEEP];
	CHECK_EQ_U(run(12, &nxt, &p), DECODE_MALFORMED);
	CHECK_EQ_U(decode_last_drop(&D), DROP_TUNNEL_TOO_DEEP);
	CHECK_EQ_U(D.stats.drop[DROP_TUNNEL_TOO_DEEP], deep0 + 1);

	/* A fragmented inner datagram inside GRE goes through the table */
	struct bb dl4 = {.n = 0}, fr = {.n = 0};
	make_udp_datagram(&dl4, 1600 - 8);
	for (int half = 0; half < 2; half++) {
		fr.n = 0;
		struct bb piece = {.n = 0}, in = {.n = 0};
		bb_mem(&piece, dl4.d + half * 800, 800);
		mk_ipv4x(&in, 17, A4, B4, &piece, 99, (uint16_t)(half ? 100 : 0x2000), 0);
		g.n = 0;
		bb_be16(&g, 0x2000), bb_be16(&g, 0x0800), bb_be32(&g, 77);
		bb_cat(&g, &in);
		outer_v4(&fr, 47, &g);
		CHECK_EQ_U(run(12, &fr, &p), half ? DECODE_UDP : DECODE_FRAG_HELD);
	}
	check_reassembled_udp(&p, &dl4);
	check_tunnel_v4(&p, TUNNEL_GRE, 1);
	CHECK_EQ_U(p.tunnel.id, 77);
	check_books();
}

/* Cuts a valid frame at every length, with the wire length both equal to
 * the cut (a frame that lies about its length) and the original (a snap
 * length cut): either a decode or a *_TRUNCATED drop, never a crash. */
static void truncate_all(int dlt, const struct bb *f, enum decode_result full)
{
	struct packet p;
	CHECK_EQ_U(run(dlt, f, &p), full);
	for (size_t cut = 0; cut < f->n; cut++) {
		for (int w = 0; w < 2; w++) {
			enum decode_result r = run_cut(dlt, f, cut, w ? f->n : cut, &p);
			if (r == DECODE_MALFORMED) {
				const char *name = decode_drop_name(decode_last_drop(&D));
				bool ok = strstr(name, "truncated") != NULL;
				if (!ok)
					fprintf(stderr, "dlt %d cut %zu wire %zu: %s\n", dlt, cut, w ? f->n : cut, name);
				CHECK(ok);
			} else {
				CHECK(r == full || r == DECODE_NON_IP || r == DECODE_UDP);
				CHECK(p.payload_len <= p.payload_wire_len);
			}
		}
	}
}

static void test_truncation(void)
{
	struct bb ip = {.n = 0}, ip6 = {.n = 0}, f = {.n = 0};
	std_tcp4(&ip, "truncate me");
	std_tcp6(&ip6, "and me");

	uint16_t qinq[] = {0x88A8, 10, 0x8100, 20};
	mk_eth_tags(&f, qinq, 2, 0x0800, &ip);
	truncate_all(1, &f, DECODE_TCP);

	struct bb s = {.n = 0};
	bb_u8(&s, 0x11), bb_u8(&s, 0), bb_be16(&s, 7), bb_be16(&s, (unsigned)(2 + ip6.n));
	bb_be16(&s, 0x0057);
	bb_cat(&s, &ip6);
	f.n = 0;
	mk_eth(&f, 0x8864, &s);
	truncate_all(1, &f, DECODE_TCP);

	struct bb m = {.n = 0};
	bb_be32(&m, (1u << 12)), bb_be32(&m, (2u << 12)), bb_be32(&m, (3u << 12) | 0x100);
	bb_cat(&m, &ip);
	f.n = 0;
	mk_eth(&f, 0x8847, &m);
	truncate_all(1, &f, DECODE_TCP);

	struct bb t = {.n = 0}, chain = {.n = 0}, ipx = {.n = 0};
	mk_tcp(&t, 40001, 8080, 7, 9, TCPF_SYN, 0, "ext");
	ext8(&chain, 60, 1);
	ext8(&chain, 6, 0);
	bb_cat(&chain, &t);
	mk_ipv6(&ipx, 0, A6, B6, &chain);
	truncate_all(229, &ipx, DECODE_TCP);

	struct bb ie = {.n = 0}, vx = {.n = 0}, ud = {.n = 0}, o = {.n = 0};
	mk_eth(&ie, 0x0800, &ip);
	bb_u8(&vx, 0x08), bb_u8(&vx, 0), bb_be16(&vx, 0), bb_be32(&vx, 5u << 8);
	bb_cat(&vx, &ie);
	mk_udp(&ud, 1, 4789, &vx);
	mk_ipv4(&o, 17, C4, E4, &ud);
	f.n = 0;
	mk_eth(&f, 0x0800, &o);
	truncate_all(1, &f, DECODE_TCP);

	struct bb g = {.n = 0}, og = {.n = 0};
	bb_be16(&g, 0x3000), bb_be16(&g, 0x0800), bb_be32(&g, 1), bb_be32(&g, 2);
	bb_cat(&g, &ip6);
	g.d[2] = 0x86, g.d[3] = 0xDD;
	mk_ipv4(&og, 47, C4, E4, &g);
	truncate_all(12, &og, DECODE_TCP);

	struct bb sll = {.n = 0};
	bb_be16(&sll, 0), bb_be16(&sll, 1), bb_be16(&sll, 6);
	bb_mem(&sll, MAC_HDR, 8);
	bb_be16(&sll, 0x0800);
	bb_cat(&sll, &ip);
	truncate_all(113, &sll, DECODE_TCP);
	check_books();
}

/* common/reader.h's text helpers (word-at-a-time inside) against byte by
 * byte references, on pseudo-random text with every kind of byte mixed in
 * at every alignment and length. */
static void test_reader_text(void)
{
	static const uint8_t odd[] = {'\t', '\n', '\r', 0x00, 0x1f, 0x7f, 0x80, 0xff, 0xc3};
	uint8_t buf[80];
	uint64_t x = 0x243f6a8885a308d3u;
	unsigned bad = 0;
	for (unsigned t = 0; t < 50000; t++) {
		size_t n = t % 80;
		for (size_t i = 0; i < n; i++) {
			check_rand(&x);
			buf[i] = (x >> 8) % 16 == 0 ? odd[(x >> 16) % sizeof odd]
			                            : (uint8_t)(0x20 + (x >> 24) % 0x5f);
		}
		size_t off = n ? (size_t)(x >> 40) % (n + 1) : 0;
		struct reader r;
		rd_init(&r, buf, n);
		rd_skip(&r, off);
		/* rd_printable over every length from the offset */
		for (size_t k = 0; off + k <= n; k++) {
			bool want = true;
			for (size_t i = off; i < off + k; i++)
				if ((buf[i] < 0x20 && buf[i] != '\t') || buf[i] > 0x7e)
					want = false;
			bad += rd_printable(&r, k) != want;
		}
		bad += rd_printable(&r, n - off + 1); /* past the end: false */
		/* rd_partial_len drops one CR at the end, within the bytes there */
		for (size_t k = 0; off + k <= n + 1; k++) {
			size_t want = k > 0 && off + k <= n && buf[off + k - 1] == '\r' ? k - 1 : k;
			bad += rd_partial_len(&r, k) != want;
		}
		/* rd_line with a limit */
		size_t max = (size_t)(x >> 48) % 90;
		size_t nl = off;
		while (nl < n && nl < off + max && buf[nl] != '\n')
			nl++;
		bool want_line = nl < n && nl < off + max;
		const uint8_t *line;
		size_t len;
		struct reader l = r;
		bool got = rd_line(&l, max, &line, &len);
		if (got != want_line) {
			bad++;
		} else if (got) {
			size_t want_len = nl - off - (nl > off && buf[nl - 1] == '\r');
			bad += line != buf + off || len != want_len || rd_offset(&l) != nl + 1;
		} else {
			bad += rd_offset(&l) != off;
		}
	}
	CHECK_EQ_U(bad, 0);
}

/* ---- the one-step decode of Ethernet/IPv4/TCP and UDP (decode_ipv4_l4) -- */

struct twin {
	struct decoder fast, layered;
	unsigned long frames, differ;
	uint64_t seed; /* of the mutations */
};

/* Decodes f with both decoders: the result, the whole struct packet (a
 * reassembled payload compared by its bytes: each decoder has its own
 * buffers) and all counters must be the same. */
static void twin_frame(struct twin *t, const uint8_t *f, uint32_t caplen, uint32_t wirelen,
                       uint64_t ts)
{
	struct packet a, b;
	enum decode_result ra = decode_packet(&t->fast, 1, f, caplen, wirelen, ts, &a);
	enum decode_result rb = decode_packet(&t->layered, 1, f, caplen, wirelen, ts, &b);
	bool same = ra == rb && a.reassembled == b.reassembled && a.payload_len == b.payload_len;
	if (same && a.reassembled) {
		same = memcmp(a.payload, b.payload, a.payload_len) == 0;
		a.payload = b.payload = NULL;
	}
	same = same && memcmp(&a, &b, sizeof a) == 0 &&
	       memcmp(&t->fast.stats, &t->layered.stats, sizeof t->fast.stats) == 0;
	t->frames++;
	if (!same && t->differ++ < 5)
		fprintf(stderr, "one-step and layered decode differ on a %u-byte frame (results %d, %d)\n",
		        caplen, (int)ra, (int)rb);
}

static void twin_file(const char *path, void *ctx)
{
	struct twin *t = ctx;
	uint64_t *seed = &t->seed;
	char ebuf[PCAP_ERRBUF_SIZE];
	pcap_t *p = pcap_open_offline(path, ebuf);
	if (!p)
		return;
	if (pcap_datalink(p) == 1) {
		struct pcap_pkthdr *h;
		const u_char *data;
		static uint8_t m[70000];
		while (pcap_next_ex(p, &h, &data) == 1) {
			uint64_t ts = (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec;
			twin_frame(t, data, h->caplen, h->len, ts);
			if (h->caplen > sizeof m)
				continue;
			/* mutations of the headers the one-step decode reads, and cuts;
			 * each decoded from a heap block of exactly its length, so that
			 * the sanitizer build sees any read past it */
			for (int k = 0; k < 6; k++) {
				memcpy(m, data, h->caplen);
				uint32_t cap = h->caplen;
				uint64_t x = check_rand(seed);
				if (cap > 12) {
					uint32_t span = cap < 70 ? cap : 70;
					m[12 + x % (span - 12)] = (uint8_t)(x >> 8);
					if (x & 0x10000)
						m[12 + (x >> 20) % (span - 12)] = (uint8_t)(x >> 32);
				}
				if ((x >> 40) % 4 == 0)
					cap = (uint32_t)((x >> 42) % (cap + 1));
				uint8_t *exact = malloc(cap ? cap : 1);
				memcpy(exact, m, cap);
				twin_frame(t, exact, cap, (x >> 60) ? h->len : cap, ts);
				free(exact);
			}
		}
	}
	pcap_close(p);
}

/* Every Ethernet frame of the test captures (and of the shared corpus when
 * it is beside the repository), as it is and with mutated headers. */
static void test_one_step_tcp(void)
{
	static struct twin t;
	char err[256];
	struct decode_config cfg = {.frag_max = 64, .frag_timeout_us = 30000000};
	CHECK(decoder_init(&t.fast, &cfg, err, sizeof err) == 0);
	CHECK(decoder_init(&t.layered, &cfg, err, sizeof err) == 0);
	t.layered.layered_only = true;
	t.seed = 0x243f6a8885a308d3u;
	check_each_capture("captures", twin_file, &t, 0);
	check_each_capture("e2e/captures", twin_file, &t, 0);
	const char *corpus = getenv("OFFPORT_CORPUS");
	check_each_capture(corpus ? corpus : "../../shared/corpus/ndpi", twin_file, &t, 0);
	printf("one-step decode: %lu frames compared with the layered decode, %lu differ; "
	       "%llu decoded as TCP, %llu as UDP\n",
	       t.frames, t.differ, (unsigned long long)t.fast.stats.result[DECODE_TCP],
	       (unsigned long long)t.fast.stats.result[DECODE_UDP]);
	CHECK(t.frames > 10000);
	CHECK_EQ_U(t.differ, 0);
	decoder_free(&t.fast);
	decoder_free(&t.layered);
}

/* The whole suite, with the one-step decode (as offport runs) and then
 * with every frame through the layers. */
static int run_suite(bool layered)
{
	char err[256];
	struct decode_config cfg = {.frag_max = 16, .frag_timeout_us = 30000000};
	if (decoder_init(&D, &cfg, err, sizeof err) != 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	D.layered_only = layered;
	calls = 0;
	now_us = 1000000;
	test_init_and_names();
	test_ethernet_tcp();
	test_link_types();
	test_ppi();
	test_vlan();
	test_mpls_pppoe();
	test_ipv4_options_padding();
	test_ipv6_ext();
	test_ipv4_frags();
	test_frag_lifetime();
	test_ipv6_frags();
	test_snaplen();
	test_tunnels();
	test_truncation();
	decode_flush(&D);
	check_books();
	decoder_free(&D);
	return 0;
}

int main(void)
{
	test_reader_text();
	if (run_suite(false) != 0 || run_suite(true) != 0)
		return 1;
	test_one_step_tcp();
	return check_done();
}
