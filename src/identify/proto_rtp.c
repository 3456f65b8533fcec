/*
 * proto_rtp.c - RTP, the Real-time Transport Protocol (RFC 3550 section 5;
 * payload types kept apart from RTCP by RFC 5761 section 4), over UDP, and
 * over TCP with RFC 4571 framing (each packet behind a 16-bit length),
 * where "datagram" below means one frame.
 *
 *    0                   1                   2                   3
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |V=2|P|X|  CC   |M|     PT      |       sequence number         |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                           timestamp                           |
 *   |           synchronization source (SSRC) identifier            |
 *   |            CC contributing source (CSRC) identifiers          |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   X: | profile-defined (16) |  length in 32-bit words (16) | ... |
 *   payload ...  P: padding, its last byte counts the padding bytes
 *
 * One RTP header says little (a version and a few bits), so a stream is
 * judged on three consecutive datagrams of one direction, as RFC 3550
 * appendix A.1 validates a source only after several packets in sequence:
 * version 2, one SSRC, one payload type (not 72-76, which would make the
 * second byte an RTCP packet type, RFC 5761 4), sequence numbers advancing
 * by 1 to 10 (modulo 2^16, a few losses allowed), timestamps that never go
 * back (modulo 2^32), and in each datagram the CSRC list, the header
 * extension and the padding count fitting in it.
 *
 * SRTP (RFC 3711) keeps the RTP header in clear and is RTP here. STUN
 * (first two bits 00), DTLS (first byte 20-63) and QUIC long headers
 * (first byte 0xc0 and above) lack version 2; a QUIC short header with
 * bits 10 would need its random-looking bytes to repeat a 32-bit SSRC and
 * count a sequence number. A direction may start with other datagrams
 * (STUN checks, RTCP when RFC 5761 multiplexes both): the three are looked
 * for among the datagrams kept. When both directions are there, the other
 * one must hold version-2 datagrams (RTP or RTCP) too. Before its first
 * version-2 datagram a direction may hold only what RFC 7983 lets share
 * the ports (first byte 0-3 STUN, 16-19 ZRTP, 20-63 DTLS); anything else
 * there rules RTP out for good (NO_MATCH is final, identify.h).
 */
#include "common/reader.h"
#include "identify/identify.h"
#include "identify/text_proto.h"

struct rtp_hdr {
	uint8_t pt;
	uint16_t seq;
	uint32_t ts, ssrc;
};

/* Parses one datagram as an RTP packet. */
static bool rtp_parse(struct reader *r, struct rtp_hdr *h)
{
	size_t total = rd_remaining(r);
	uint8_t b0 = rd_u8(r);
	uint8_t b1 = rd_u8(r);
	h->seq = rd_be16(r);
	h->ts = rd_be32(r);
	h->ssrc = rd_be32(r);
	if (!rd_ok(r) || (b0 >> 6) != 2)
		return false;
	h->pt = b1 & 0x7f;
	if (h->pt >= 72 && h->pt <= 76)
		return false;
	rd_skip(r, 4 * (size_t)(b0 & 0x0f)); /* CSRC list */
	if (b0 & 0x10) {
		rd_skip(r, 2);
		uint16_t words = rd_be16(r);
		rd_skip(r, 4 * (size_t)words);
	}
	if (!rd_ok(r))
		return false;
	if (b0 & 0x20) {
		/* the padding count is the datagram's last byte */
		size_t head = rd_offset(r);
		struct reader q = *r;
		rd_skip(&q, rd_remaining(r) - 1);
		uint8_t n = rd_u8(&q);
		if (!rd_ok(&q) || n == 0 || n > total - head)
			return false;
	}
	return true;
}

/* The messages of direction d: UDP, its datagrams (ident_dgrams); TCP,
 * the frames of the RFC 4571 framing (a 16-bit length before each packet;
 * only whole frames, up to the first that is not). Found in one walk
 * from the start, into m; returns how many. (The walks over them asked
 * for message k from the start for each k: k^2/2 lengths walked.) */
static unsigned rtp_msgs(const struct ident_input *in, int d, struct reader m[IDENT_DGRAMS_MAX])
{
	if (in->transport == IDENT_UDP)
		return ident_dgrams(in, d, m);
	struct reader r;
	rd_init(&r, in->data[d], in->len[d]);
	unsigned k = 0;
	for (; k < IDENT_DGRAMS_MAX; k++) {
		uint16_t n = rd_be16(&r);
		if (!rd_ok(&r) || n == 0 || !rd_has(&r, n))
			break;
		m[k] = rd_sub(&r, n);
	}
	return k;
}

/* A direction's messages (rtp_msgs): 1 an RTP stream (its first packet in
 * *h), 0 none (yet).
 * The three are looked for among all the datagrams kept: a run may start
 * after other datagrams. A datagram repeating the previous one's SSRC,
 * sequence number and timestamp is a duplicate (a capture taken on two
 * interfaces has every packet twice) and is passed over. */
static int rtp_dir(const struct reader *msg, unsigned count, struct rtp_hdr *h)
{
	struct rtp_hdr start = {0}, last = {0}, cur;
	unsigned run = 0;
	for (unsigned k = 0; k < count; k++) {
		struct reader r = msg[k];
		if (!rtp_parse(&r, &cur)) {
			run = 0; /* a STUN check or RTCP: RTP may follow */
			continue;
		}
		if (run > 0 && cur.ssrc == last.ssrc && cur.seq == last.seq && cur.ts == last.ts)
			continue;
		uint16_t step = (uint16_t)(cur.seq - last.seq);
		uint32_t tstep = cur.ts - last.ts;
		if (run > 0 && cur.ssrc == last.ssrc && cur.pt == last.pt && step >= 1 && step <= 10 &&
		    tstep < 0x80000000u) {
			run++;
		} else {
			run = 1;
			start = cur;
		}
		last = cur;
		if (run >= 3) {
			*h = start;
			return 1;
		}
	}
	return 0;
}

/* What leads direction d, passing over the datagrams RFC 7983 lets share
 * an RTP session's ports (first byte 0-3 STUN, 16-19 ZRTP, 20-63 DTLS):
 * 1 a version-2 datagram (RTP or RTCP), -1 a datagram none of these
 * (the direction is no RTP session's, whatever follows), 0 neither yet.
 * *n gets the number of datagrams (frames) there are: count, those of
 * msg (rtp_msgs). */
static int rtp_lead(const struct reader *msg, unsigned count, unsigned *n)
{
	int lead = 0;
	*n = count;
	for (unsigned k = 0; k < count; k++) {
		struct reader r = msg[k];
		uint8_t b0 = rd_u8(&r);
		if (lead != 0 || !rd_ok(&r) || b0 <= 3 || (b0 >= 16 && b0 <= 63))
			continue;
		lead = (b0 >> 6) == 2 ? 1 : -1;
	}
	return lead;
}

/* Whether direction d, with n datagrams (frames) so far, may bring more
 * that rtp_dir would look at. */
static bool rtp_more(const struct ident_input *in, int d, unsigned n)
{
	if (in->done[d] || n >= IDENT_DGRAMS_MAX)
		return false;
	if (in->transport == IDENT_UDP)
		return in->ndgrams[d] < IDENT_DGRAMS_MAX;
	/* TCP: a zero length ends the framing */
	struct reader r;
	rd_init(&r, in->data[d], in->len[d]);
	for (unsigned i = 0; i < n; i++)
		rd_skip(&r, rd_be16(&r));
	uint16_t len = rd_be16(&r);
	return !(rd_ok(&r) && len == 0);
}

/* rtp_match past its cheap NO_MATCH tests. Out of line: the tests run
 * without this function's frame. */
__attribute__((noinline)) static enum ident_verdict
rtp_match_walk(const struct ident_input *in, struct ident_evidence *ev)
{
	/* a direction whose datagrams lack version 2 is not RTP's (nor
	 * RTCP's) answer: the other one's claim falls with it. NO_MATCH is
	 * final: that needs a datagram RFC 7983 keeps off an RTP session's
	 * ports before any version-2 one, or the direction over with only
	 * STUN or DTLS in it; until then a version-2 datagram may come. */
	int lead[2];
	unsigned n[2], count[2];
	bool more[2];
	struct reader msg[2][IDENT_DGRAMS_MAX];
	for (int i = 0; i < 2; i++) {
		count[i] = rtp_msgs(in, i, msg[i]);
		lead[i] = rtp_lead(msg[i], count[i], &n[i]);
		more[i] = rtp_more(in, i, n[i]);
		if (lead[i] < 0 || (n[i] > 0 && lead[i] == 0 && !more[i]))
			return IDENT_NO_MATCH;
	}
	struct rtp_hdr h[2];
	/* a run of three needs three datagrams */
	int v[2];
	for (int i = 0; i < 2; i++)
		v[i] = in->transport == IDENT_UDP && in->ndgrams[i] < 3 ? 0 : rtp_dir(msg[i], count[i], &h[i]);
	int d = v[0] > 0 ? 0 : v[1] > 0 ? 1 : -1;
	if (d < 0) {
		/* three in a row may still come in a direction that is not over
		 * (NO_MATCH is final) */
		return more[0] || more[1] ? IDENT_NEED_MORE : IDENT_NO_MATCH;
	}
	/* the answer holds only STUN or DTLS so far: its RTP may follow */
	if (n[1 - d] > 0 && lead[1 - d] == 0)
		return IDENT_NEED_MORE;
	ident_add_u64(ev, "rtp_payload_type", h[d].pt);
	char hex[9];
	for (int i = 0; i < 8; i++)
		hex[i] = "0123456789abcdef"[(h[d].ssrc >> (28 - 4 * i)) & 15];
	hex[8] = 0;
	ident_add_str(ev, "rtp_ssrc", hex);
	bool both = v[0] > 0 && v[1] > 0;
	ev->server_confirmed = both;
	ev->confidence = both ? 95 : 85;
	return IDENT_MATCH;
}

static enum ident_verdict rtp_match(const struct ident_input *in, struct ident_evidence *ev)
{
	/* TCP: the framing is only known from the start of the stream, and
	 * the first frame tells at once: a length an RTP packet can have
	 * (12 bytes to 4 KiB; media packets fit a path MTU) before version 2 */
	if (in->transport == IDENT_TCP) {
		if (in->midstream[0] || in->midstream[1])
			return IDENT_NO_MATCH;
		for (int i = 0; i < 2; i++) {
			struct reader r;
			rd_init(&r, in->data[i], in->len[i]);
			uint16_t n = rd_be16(&r);
			uint8_t b0 = rd_u8(&r);
			if (rd_ok(&r) && (n < 12 || n > 4096 || (b0 >> 6) != 2))
				return IDENT_NO_MATCH;
		}
	}
	/* UDP, at most one datagram a side (no run of three yet): the verdict
	 * of the walks in rtp_match_walk from the first bytes alone (rtp_lead,
	 * rtp_more: a direction not done may bring more). */
	if (in->transport == IDENT_UDP && in->ndgrams[0] <= 1 && in->ndgrams[1] <= 1) {
		bool more_any = false;
		for (int i = 0; i < 2; i++) {
			struct reader r;
			uint8_t b0;
			bool more = !in->done[i];
			if (dgram_first(in, i, &r)) {
				int lead = 0;
				if (rd_peek_u8(&r, 0, &b0) && !(b0 <= 3 || (b0 >= 16 && b0 <= 63)))
					lead = (b0 >> 6) == 2 ? 1 : -1;
				if (lead < 0 || (lead == 0 && !more))
					return IDENT_NO_MATCH;
			}
			more_any |= more;
		}
		return more_any ? IDENT_NEED_MORE : IDENT_NO_MATCH;
	}
	/* UDP, more datagrams: the usual NO_MATCH of rtp_match_walk, from the
	 * first byte of each direction's first datagram alone (rtp_lead: a
	 * first byte that neither RFC 7983 lets share the ports nor has version
	 * 2) */
	if (in->transport == IDENT_UDP) {
		for (int i = 0; i < 2; i++) {
			struct reader r;
			uint8_t b0;
			rd_init(&r, in->data[i], in->len[i]);
			if (in->ndgrams[i] && in->dgram_len[i][0] && rd_peek_u8(&r, 0, &b0) &&
			    !(b0 <= 3 || (b0 >= 16 && b0 <= 63)) && (b0 >> 6) != 2)
				return IDENT_NO_MATCH;
		}
	}
	return rtp_match_walk(in, ev);
}

/* The first bytes (identify.h, first_byte), of direction d.
 * The client's: UDP, rtp_match: the first datagram is version 2 or one
 * RFC 7983 lets share the ports (0-3 STUN, 16-19 ZRTP, 20-63 DTLS).
 * TCP: none declared.
 * The server's: the same (rtp_match checks both sides' first datagrams
 * alike). */
static bool rtp_first_byte(int d, uint8_t transport, uint8_t b)
{
	(void)d;
	if (transport != IDENT_UDP)
		return true;
	return b <= 3 || (b >= 16 && b <= 63) || (b >> 6) == 2;
}

const struct ident_proto ident_rtp = {
	.name = "rtp",
	.title = "RTP (RFC 3550)",
	.transports = IDENT_UDP | IDENT_TCP,
	.match = rtp_match,
	.carrier = NULL,
	.first_byte = rtp_first_byte,
};
