/*
 * proto_rtcp.c - RTCP, the RTP Control Protocol (RFC 3550 section 6;
 * RTPFB/PSFB RFC 4585, XR RFC 3611; multiplexed with RTP on one port,
 * RFC 5761), over UDP.
 *
 * One datagram is a compound packet: one or more RTCP packets back to back,
 * each with this common header (RFC 3550 6.4.1):
 *
 *    0                   1                   2                   3
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |V=2|P|    RC   |   PT 200-207  |             length            |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                 SSRC of sender (SR, RR, ...)                  |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * PT: 200 SR, 201 RR, 202 SDES, 203 BYE, 204 APP, 205 RTPFB, 206 PSFB,
 * 207 XR. A packet is (length + 1) * 4 bytes; the packets must walk exactly
 * to the end of the datagram. RFC 3550 6.1 (and the validity checks of its
 * appendix A.2): the first packet of a compound is an SR or an RR, only the
 * last may carry the padding bit, and its last byte (the padding count)
 * stays inside it. SR and RR hold their RC report blocks (24 bytes each,
 * after 24 or 4 bytes of sender data), BYE its SC SSRCs, APP its name.
 *
 * One datagram is enough: a 2-bit version, a PT in 200-207 and lengths that
 * add up to the datagram are rarely all met by chance. RTP with the marker
 * bit set and payload type 72-76 would give the same second byte, which is
 * why RFC 5761 4 keeps those payload types out of RTP. Encrypted SRTCP
 * (RFC 3711) encrypts all but the first 8 bytes and appends its E flag,
 * index and tag: it is taken when the first header is a clear SR or RR
 * and the word before a usual tag length holds the E flag and a small
 * index (see rtcp_srtcp).
 *
 * Either end sends RTCP, on its own schedule: a flow may carry only one
 * direction. When both directions are there, the other one must hold RTP
 * or RTCP (version 2) too; it confirms the match when it is RTCP.
 */
#include "common/reader.h"
#include "identify/identify.h"
#include "identify/text_proto.h"

static const char *const rtcp_names[8] = {"SR", "RR", "SDES", "BYE", "APP", "RTPFB", "PSFB", "XR"};

/* Walks one compound packet filling the datagram r. On success *pt is the
 * first packet's type and *ssrc its sender SSRC. */
static bool rtcp_compound(struct reader *r, uint8_t *pt, uint32_t *ssrc)
{
	bool first = true;
	if (!rd_has(r, 8))
		return false;
	while (rd_remaining(r) > 0) {
		uint8_t b0 = rd_u8(r);
		uint8_t t = rd_u8(r);
		uint16_t words = rd_be16(r);
		if (!rd_ok(r) || (b0 >> 6) != 2 || t < 200 || t > 207)
			return false;
		size_t body = (size_t)words * 4; /* bytes after the 4-byte header */
		struct reader p = rd_sub(r, body);
		if (!rd_ok(r))
			return false;
		unsigned count = b0 & 0x1f;
		bool pad = (b0 & 0x20) != 0;
		if (pad) {
			/* only the last packet is padded; the count is its last byte */
			if (rd_remaining(r) != 0 || body == 0)
				return false;
			struct reader q = p;
			rd_skip(&q, body - 1);
			uint8_t n = rd_u8(&q);
			if (!rd_ok(&q) || n == 0 || n > body)
				return false;
			body -= n;
		}
		if (first) {
			if (t != 200 && t != 201)
				return false;
			*pt = t;
			*ssrc = rd_be32(&p);
			if (!rd_ok(&p))
				return false;
			first = false;
		}
		switch (t) {
		case 200: /* SSRC, 20 bytes of sender info, RC report blocks */
			if (body < 24 + 24 * (size_t)count)
				return false;
			break;
		case 201: /* SSRC, RC report blocks */
			if (body < 4 + 24 * (size_t)count)
				return false;
			break;
		case 203: /* SC SSRCs */
			if (body < 4 * (size_t)count)
				return false;
			break;
		case 204: /* SSRC, 4-byte name */
			if (body < 8)
				return false;
			break;
		case 205:
		case 206: /* sender SSRC, media SSRC */
			if (body < 8)
				return false;
			break;
		case 207: /* SSRC */
			if (body < 4)
				return false;
			break;
		default:
			break;
		}
	}
	return rd_ok(r);
}

/* SRTCP (RFC 3711 3.4): the compound's first 8 bytes stay clear, the rest
 * is encrypted, then come the E flag and 31-bit SRTCP index, an optional
 * MKI and the authentication tag (80 bits by default, 32 allowed). The
 * index starts at 0 and counts packets (RFC 3711 3.3.2): early in a flow
 * it is small. The first packet's header must be an SR or RR that fits in
 * the compound left before that trailer. */
static bool rtcp_srtcp(const struct reader *dg, uint8_t *pt, uint32_t *ssrc)
{
	static const uint8_t tails[] = {10, 4, 14, 8}; /* tag, or MKI + tag */
	size_t total = rd_remaining(dg);
	struct reader r = *dg;
	uint8_t b0 = rd_u8(&r);
	uint8_t t = rd_u8(&r);
	uint16_t words = rd_be16(&r);
	uint32_t s = rd_be32(&r);
	if (!rd_ok(&r) || (b0 >> 6) != 2 || (b0 & 0x20) || (t != 200 && t != 201))
		return false;
	size_t first = ((size_t)words + 1) * 4;
	for (unsigned i = 0; i < sizeof tails; i++) {
		if (total < 4 + (size_t)tails[i] + first)
			continue;
		size_t clen = total - 4 - tails[i];
		if (clen % 4)
			continue;
		struct reader q = *dg;
		rd_skip(&q, clen);
		uint32_t e = rd_be32(&q);
		if (!rd_ok(&q) || !(e & 0x80000000u) || (e & 0x7fffffffu) > 0xffff)
			continue;
		*pt = t;
		*ssrc = s;
		return true;
	}
	return false;
}

/* Direction d's first datagram: 1 RTCP, 0 none, -1 not RTCP. */
static int rtcp_first(const struct ident_input *in, int d, uint8_t *pt, uint32_t *ssrc)
{
	struct reader r;
	if (!ident_dgram(in, d, 0, &r))
		return 0;
	struct reader c = r;
	if (rtcp_compound(&c, pt, ssrc) || rtcp_srtcp(&r, pt, ssrc))
		return 1;
	return -1;
}

/* Whether direction d holds RTP or RTCP (version 2): 1 yes, -1 no and
 * never will (NO_MATCH is final), 0 not yet. As RFC 7983 demultiplexes
 * an RTP session's ports, datagrams with first byte 0-3 (STUN), 16-19
 * (ZRTP) or 20-63 (DTLS) may come before; any other non-version-2
 * datagram first, or a direction over with none, rules it out. */
static int rtcp_other_v2(const struct ident_input *in, int d)
{
	for (unsigned k = 0; k < in->ndgrams[d] && k < IDENT_DGRAMS_MAX; k++) {
		struct reader r;
		if (!ident_dgram(in, d, k, &r))
			break;
		uint8_t b0 = rd_u8(&r);
		if (!rd_ok(&r) || b0 <= 3 || (b0 >= 16 && b0 <= 63))
			continue;
		return (b0 >> 6) == 2 ? 1 : -1;
	}
	return in->done[d] || in->ndgrams[d] >= IDENT_DGRAMS_MAX ? -1 : 0;
}

/* What rtcp_first needs of a first datagram before it parses: 8 bytes,
 * version 2 and an SR or RR first (rtcp_compound and rtcp_srtcp both). */
static inline bool rtcp_maybe(const struct reader *dg)
{
	uint8_t b0, b1;
	return rd_has(dg, 8) && rd_peek_u8(dg, 0, &b0) && rd_peek_u8(dg, 1, &b1) &&
	       (b0 >> 6) == 2 && (b1 == 200 || b1 == 201);
}

/* rtcp_match past its cheap NO_MATCH tests. Out of line: the tests run
 * without this function's frame. */
__attribute__((noinline)) static enum ident_verdict
rtcp_match_parse(const struct ident_input *in, struct ident_evidence *ev)
{
	uint8_t pt = 0, opt = 0;
	uint32_t ssrc = 0, ossrc = 0;
	int d = 0;
	int c = rtcp_first(in, 0, &pt, &ssrc);
	if (c < 0)
		return IDENT_NO_MATCH;
	if (c == 0) {
		/* only the server's datagrams were captured */
		if (!in->done[0] && in->ndgrams[1] == 0)
			return IDENT_NEED_MORE;
		d = 1;
		c = rtcp_first(in, 1, &pt, &ssrc);
		/* the server's datagrams may yet answer a client's RTCP to
		 * come (NO_MATCH is final) */
		if (c < 0 && !in->done[0] && rtcp_other_v2(in, 1) >= 0)
			return IDENT_NEED_MORE;
		if (c <= 0)
			return c == 0 && !in->done[1] ? IDENT_NEED_MORE : IDENT_NO_MATCH;
	}
	bool confirmed = false;
	if (in->ndgrams[1 - d] > 0) {
		int o = rtcp_first(in, 1 - d, &opt, &ossrc);
		if (o > 0) {
			confirmed = true;
		} else {
			int v2 = rtcp_other_v2(in, 1 - d);
			if (v2 < 0)
				return IDENT_NO_MATCH;
			if (v2 == 0) /* its RTP or RTCP may follow (NO_MATCH is final) */
				return IDENT_NEED_MORE;
		}
	}
	ident_add_str(ev, "rtcp_type", rtcp_names[pt - 200]);
	char hex[9];
	for (int i = 0; i < 8; i++)
		hex[i] = "0123456789abcdef"[(ssrc >> (28 - 4 * i)) & 15];
	hex[8] = 0;
	ident_add_str(ev, "rtcp_ssrc", hex);
	ev->server_confirmed = confirmed && d == 0;
	ev->confidence = confirmed ? 95 : 85;
	return IDENT_MATCH;
}

static enum ident_verdict rtcp_match(const struct ident_input *in, struct ident_evidence *ev)
{
	if (in->transport != IDENT_UDP)
		return IDENT_NO_MATCH;
	/* The usual verdicts of rtcp_match_parse, before any parse: the
	 * client's first datagram no RTCP (rtcp_first -1) is NO_MATCH; without
	 * one, so is the server's, unless the client may still speak (see
	 * below). */
	struct reader dg;
	if (dgram_first(in, 0, &dg)) {
		if (!rtcp_maybe(&dg))
			return IDENT_NO_MATCH;
	} else if ((in->done[0] || in->ndgrams[1] != 0) && dgram_first(in, 1, &dg) &&
	           !rtcp_maybe(&dg)) {
		/* the server's datagrams not RTCP: NO_MATCH, unless the client
		 * may still speak and rtcp_other_v2 (here from the first
		 * datagram's first byte, or with only that datagram) does not
		 * rule RTP out */
		uint8_t b0;
		if (in->done[0])
			return IDENT_NO_MATCH;
		if (rd_peek_u8(&dg, 0, &b0) && !(b0 <= 3 || (b0 >= 16 && b0 <= 63)))
			return (b0 >> 6) == 2 ? IDENT_NEED_MORE : IDENT_NO_MATCH;
		if (in->ndgrams[1] == 1)
			return in->done[1] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
	}
	return rtcp_match_parse(in, ev);
}

/* The first bytes (identify.h, first_byte), of direction d.
 * The client's: rtcp_match: rtcp_maybe wants version 2 in the client's
 * first datagram.
 * The server's: version 2, or a datagram RFC 7983 lets come first (0-3,
 * 16-63): with a client datagram, rtcp_first and rtcp_other_v2 want
 * that of the server's first; without, rtcp_match's test of the
 * server's datagram does. */
static bool rtcp_first_byte(int d, uint8_t transport, uint8_t b)
{
	if (d != 0)
		return b <= 3 || (b >= 16 && b <= 63) || (b >> 6) == 2;
	(void)transport;
	return (b >> 6) == 2;
}

const struct ident_proto ident_rtcp = {
	.name = "rtcp",
	.title = "RTCP (RFC 3550)",
	.transports = IDENT_UDP,
	.match = rtcp_match,
	.carrier = NULL,
	.first_byte = rtcp_first_byte,
};
