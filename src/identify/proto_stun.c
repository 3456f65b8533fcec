/*
 * proto_stun.c - STUN (RFC 5389, RFC 8489; TURN RFC 8656 and RFC 6062
 * methods are STUN too; over TCP back to back, RFC 8489 section 6.2.2, or
 * RFC 4571 2-byte framing as ICE-TCP uses).
 *
 *    0                   1                   2                   3
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |0 0|     STUN Message Type     |         Message Length        |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                  Magic Cookie = 0x2112A442                    |
 *   |                  Transaction ID (96 bits)                     |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   | attributes: Type(16) Length(16) Value, padded to 4 ...        |
 *
 * Message Length (UDP) equals the datagram length minus 20; the attributes
 * must fill it exactly, each padded to 4 bytes (RFC 8489 14) or, as
 * [MS-TURN] and pre-RFC 5389 drafts send them (Microsoft Teams relays),
 * back to back; WhatsApp leaves the last one unpadded. With the magic
 * cookie any method but 0 is STUN. When both sides are there, the server's
 * success or error response carries the transaction ID of one of the
 * client's requests. Classic STUN (RFC 3489, no cookie) must start with a
 * Binding Request and be answered by a message carrying its whole 128-bit
 * transaction ID (Zoom answers with type 0x0002), or, unanswered, be sent
 * again byte for byte (RFC 3489 9.3 retransmission). A lone response is
 * taken only when its FINGERPRINT (CRC-32 xor 0x5354554e, RFC 8489 14.7)
 * checks, or, server side only, when several messages carry the cookie.
 * [MS-TURN] 2.2.3 Multiplexed TURN datagrams (0xFF10, length, 8-byte
 * session ID, then the message) are unwrapped.
 *
 * WebRTC multiplexes STUN, DTLS and SRTP on one 5-tuple (RFC 7983): such a
 * flow starts with ICE Binding checks and is named stun here (stun chooses
 * its ports, as ICE does); nDPI names it by the DTLS that follows.
 */
#include "common/reader.h"
#include "identify/identify.h"

#define STUN_COOKIE 0x2112A442u

struct stun_msg {
	uint16_t method;
	uint8_t cls; /* 0 request, 1 indication, 2 success, 3 error */
	bool classic;
	bool fingerprint; /* a FINGERPRINT attribute whose CRC is right */
	uint8_t tid[16]; /* classic: cookie + 12, else the 12 after the cookie */
};

/* CRC-32 (ISO-HDLC, the one of RFC 1952) over a reader's next n bytes,
 * for the FINGERPRINT attribute (RFC 8489 section 14.7). Four bits a step
 * from a table of the 16 remainders: crc4[i] is i put through four steps
 * of the bitwise loop (c = c >> 1 ^ (c & 1 ? 0xedb88320 : 0)), and since
 * the polynomial term of each step depends only on the low bit the
 * earlier steps left, four bitwise steps on c equal c >> 4 ^
 * crc4[c & 15]: the same CRC, two lookups a byte instead of eight
 * steps (checked against that loop on 200,000 random inputs, and on
 * "123456789": cbf43926). The sample stun_msteams_server_only_fingerprint
 * is identified only through its FINGERPRINTs. */
static const uint32_t crc4[16] = {
	0x00000000, 0x1db71064, 0x3b6e20c8, 0x26d930ac, 0x76dc4190, 0x6b6b51f4,
	0x4db26158, 0x5005713c, 0xedb88320, 0xf00f9344, 0xd6d6a3e8, 0xcb61b38c,
	0x9b64c2b0, 0x86d3d2d4, 0xa00ae278, 0xbdbdf21c,
};

static uint32_t stun_crc32(struct reader *r, size_t n)
{
	uint32_t c = 0xffffffffu;
	for (size_t i = 0; i < n; i++) {
		c ^= rd_u8(r);
		c = c >> 4 ^ crc4[c & 15];
		c = c >> 4 ^ crc4[c & 15];
	}
	return c ^ 0xffffffffu;
}

/* Walks the attributes filling `a` exactly; padded: each value padded to
 * 4 bytes (RFC 8489; the last may lack its padding when the message
 * length is not a multiple of 4, as WhatsApp's Allocate is); unpadded:
 * values back to back ([MS-TURN] and pre-RFC 5389 drafts, as Microsoft
 * Teams' relays answer). `msg` starts at the message header, for the
 * FINGERPRINT check. */
static bool stun_attrs(struct reader a, bool padded, bool classic, const struct reader *msg,
                       bool *fingerprint)
{
	*fingerprint = false;
	while (rd_remaining(&a) > 0) {
		size_t at_off = 20 + rd_offset(&a);
		uint16_t at = rd_be16(&a), alen = rd_be16(&a);
		const uint8_t *v = rd_bytes(&a, alen);
		if (!rd_ok(&a) || at == 0)
			return false;
		size_t pad = padded ? (4 - (alen & 3)) & 3 : 0;
		if (pad && rd_remaining(&a) > 0)
			rd_skip(&a, pad);
		if (!rd_ok(&a))
			return false;
		if (at == 0x8028 && alen == 4 && rd_remaining(&a) == 0 && !classic) {
			struct reader c = *msg, vv;
			uint32_t crc = stun_crc32(&c, at_off);
			rd_init(&vv, v, 4);
			*fingerprint = rd_ok(&c) && (crc ^ 0x5354554eu) == rd_be32(&vv);
		}
	}
	return true;
}

/* Parses one message of exactly `len` bytes (len 0: not known, the length
 * field decides and *used is set). */
static bool stun_parse(struct reader *m, struct stun_msg *s, size_t *used)
{
	const struct reader start = *m;
	uint16_t type = rd_be16(m), mlen = rd_be16(m);
	uint32_t cookie = rd_be32(m);
	uint8_t tid[12];
	rd_copy(m, tid, 12);
	if (!rd_ok(m) || (type & 0xc000))
		return false;
	s->classic = cookie != STUN_COOKIE;
	s->method = (uint16_t)((type & 0x000f) | (type & 0x00e0) >> 1 | (type & 0x3e00) >> 2);
	s->cls = (uint8_t)((type >> 4 & 1) | (type >> 7 & 2));
	for (int i = 0; i < 4; i++)
		s->tid[i] = (uint8_t)(cookie >> (24 - 8 * i));
	for (int i = 0; i < 12; i++)
		s->tid[4 + i] = tid[i];
	/* Any method but 0: the framing (length, attributes that fill it) is
	 * checked here, the meaning by the caller. With the magic cookie the
	 * message is STUN whatever its method (the cookie is what RFC 8489
	 * section 6 gives to tell STUN apart; WhatsApp uses private methods
	 * 0x200 and 0x201); without it (RFC 3489, [MS-TURN]) the caller wants
	 * a Binding Request answered with its 128-bit transaction ID. */
	if (s->method == 0)
		return false;
	struct reader a = rd_sub(m, mlen);
	if (!rd_ok(m))
		return false;
	if (!stun_attrs(a, true, s->classic, &start, &s->fingerprint) &&
	    !stun_attrs(a, false, s->classic, &start, &s->fingerprint))
		return false;
	*used = 20 + (size_t)mlen;
	return true;
}

enum stun_res { ST_BAD, ST_SHORT, ST_OK };

/* The first messages (up to 4) of direction d. UDP: the first datagram must
 * be STUN (later ones may be DTLS, RTP, ChannelData); TCP: messages back to
 * back or with a 2-byte RFC 4571 length. */
static enum stun_res stun_dir(const struct ident_input *in, int d, struct stun_msg *out,
                              unsigned *nout)
{
	struct reader r;
	rd_init(&r, in->data[d], in->len[d]);
	*nout = 0;
	if (in->transport == IDENT_UDP) {
		for (unsigned k = 0; k < in->ndgrams[d]; k++) {
			size_t len = in->dgram_len[d][k], used = 0;
			struct reader m = rd_sub(&r, len);
			struct stun_msg s;
			/* [MS-TURN] 2.2.3 Multiplexed TURN: 0xFF10, length of
			 * the rest, 8-byte session ID, then the message. */
			{
				struct reader t = m;
				uint16_t ch = rd_be16(&t), mlen = rd_be16(&t);
				if (rd_ok(&t) && ch == 0xff10 && (size_t)mlen + 4 == len && len >= 32) {
					rd_skip(&m, 12);
					len -= 12;
				}
			}
			bool ok = rd_ok(&r) && stun_parse(&m, &s, &used) && used == len;
			if (!ok) {
				if (k == 0)
					return ST_BAD;
				continue;
			}
			if (*nout < 4)
				out[(*nout)++] = s;
		}
		return *nout ? ST_OK : ST_SHORT;
	}
	/* A message starts with a type whose top two bits are zero; with an
	 * RFC 4571 length in front, that type is at byte 2 and the length
	 * may take any value. So top bits in byte 0 and in byte 2 rule out
	 * both forms; top bits in byte 0 alone rule out the unframed one. */
	uint8_t b0, b2;
	bool b0_high = rd_peek_u8(&r, 0, &b0) && (b0 & 0xc0);
	bool b2_high = rd_peek_u8(&r, 2, &b2) && (b2 & 0xc0);
	if (!rd_has(&r, 20))
		return b0_high && b2_high ? ST_BAD : ST_SHORT;
	/* The magic cookie at offset 4 (or 6 after an RFC 4571 length) tells
	 * at once: no need to wait for a long message that is not STUN. */
	{
		struct reader t = r;
		rd_skip(&t, 4);
		uint32_t ck4 = rd_be32(&t);
		t = r;
		rd_skip(&t, 6);
		uint32_t ck6 = rd_be32(&t);
		if (ck4 != STUN_COOKIE && ck6 != STUN_COOKIE)
			return ST_BAD;
	}
	/* framed: a 2-byte length, then a message of that length */
	bool framed = false;
	{
		struct reader f = r;
		uint16_t flen = rd_be16(&f);
		struct reader t = f;
		uint16_t mtype = rd_be16(&t), mlen = rd_be16(&t);
		uint32_t ck = rd_be32(&t);
		framed = rd_ok(&t) && !(mtype & 0xc000) && ck == STUN_COOKIE &&
		         flen == (uint32_t)mlen + 20;
	}
	if (!framed && b0_high)
		return ST_BAD;
	while (*nout < 4 && rd_remaining(&r) > 0) {
		size_t flen = 0;
		if (framed) {
			if (!rd_has(&r, 2))
				break;
			flen = rd_be16(&r);
		}
		struct reader t = r;
		uint16_t mlen;
		rd_skip(&t, 2);
		mlen = rd_be16(&t);
		if (!rd_ok(&t) || !rd_has(&r, 20 + (size_t)mlen))
			break;
		struct stun_msg s;
		size_t used = 0;
		struct reader m = rd_sub(&r, 20 + (size_t)mlen);
		if (!stun_parse(&m, &s, &used) || s.classic || (framed && flen != used))
			return ST_BAD;
		out[(*nout)++] = s;
	}
	if (*nout == 0)
		return in->done[d] ? ST_BAD : ST_SHORT;
	return ST_OK;
}

static void stun_add_method(struct ident_evidence *ev, uint16_t m)
{
	static const char *const names[] = {
	    NULL,           "Binding",          "SharedSecret",    "Allocate",
	    "Refresh",      NULL,               "Send",            "Data",
	    "CreatePermission", "ChannelBind",  "Connect",         "ConnectionBind",
	    "ConnectionAttempt",
	};
	if (m < sizeof names / sizeof names[0] && names[m]) {
		ident_add_str(ev, "stun_method", names[m]);
		return;
	}
	static const char hex[] = "0123456789abcdef";
	char b[6] = {'0', 'x', hex[m >> 8 & 0xf], hex[m >> 4 & 0xf], hex[m & 0xf], 0};
	ident_add_str(ev, "stun_method", b);
}

static bool stun_same_tid(const struct stun_msg *a, const struct stun_msg *b)
{
	for (int i = 0; i < 16; i++)
		if (a->tid[i] != b->tid[i])
			return false;
	return true;
}

/* UDP: the client's second datagram repeats its first byte for byte (a
 * request retransmitted with its transaction ID, RFC 3489 section 9.3). */
static bool stun_retransmitted(const struct ident_input *in)
{
	if (in->transport != IDENT_UDP || in->ndgrams[0] < 2 ||
	    in->dgram_len[0][0] != in->dgram_len[0][1])
		return false;
	struct reader r;
	rd_init(&r, in->data[0], in->len[0]);
	size_t n = in->dgram_len[0][0];
	struct reader a = rd_sub(&r, n), b = rd_sub(&r, n);
	if (!rd_ok(&r))
		return false;
	for (size_t i = 0; i < n; i++)
		if (rd_u8(&a) != rd_u8(&b))
			return false;
	return true;
}

/* UDP: stun_dir's ST_BAD from the first datagram's header alone: not
 * there in full, shorter than a header, the top bits set, or a Message
 * Length that does not make the datagram (an [MS-TURN] wrapper, 0xFF10,
 * is left to stun_dir). */
static bool stun_udp_quick_bad(const struct ident_input *in, int d)
{
	if (!in->ndgrams[d])
		return false;
	struct reader r, m;
	size_t len = in->dgram_len[d][0];
	uint8_t b0, b1, l0, l1;
	rd_init(&r, in->data[d], in->len[d]);
	m = rd_sub(&r, len);
	if (!rd_ok(&r) || len < 20)
		return true;
	(void)rd_peek_u8(&m, 0, &b0);
	(void)rd_peek_u8(&m, 1, &b1);
	(void)rd_peek_u8(&m, 2, &l0);
	(void)rd_peek_u8(&m, 3, &l1);
	if (b0 == 0xff && b1 == 0x10)
		return false;
	return (b0 & 0xc0) || 20 + ((size_t)l0 << 8 | l1) != len;
}

/* stun_match past its cheap NO_MATCH tests. Out of line: the tests run
 * without this function's frame. */
__attribute__((noinline)) static enum ident_verdict
stun_match_parse(const struct ident_input *in, struct ident_evidence *ev)
{
	struct stun_msg c[4], s[4];
	unsigned nc = 0, ns = 0;
	enum stun_res rc = stun_dir(in, 0, c, &nc);
	if (rc == ST_BAD)
		return IDENT_NO_MATCH;
	enum stun_res rs = in->len[1] ? stun_dir(in, 1, s, &ns) : ST_SHORT;
	if (rs == ST_BAD)
		return IDENT_NO_MATCH;
	/* whether direction d may bring more messages stun_dir would see */
	bool more[2];
	for (int d = 0; d < 2; d++)
		more[d] = !in->done[d] &&
		          (in->transport != IDENT_UDP || in->ndgrams[d] < IDENT_DGRAMS_MAX);
	/* a client done silent: the server's messages, still to come, may
	 * decide alone (NO_MATCH is final) */
	if (rc == ST_SHORT && in->len[0] == 0 && in->done[0] && rs == ST_SHORT && more[1])
		return IDENT_NEED_MORE;
	if (rc == ST_SHORT && in->len[0] == 0 && in->done[0] && rs == ST_OK) {
		/* Only the server's side was captured: its messages decide
		 * alone when a FINGERPRINT checks or several carry the cookie. */
		bool fp = false;
		for (unsigned k = 0; k < ns; k++)
			fp |= s[k].fingerprint;
		if (s[0].classic)
			return IDENT_NO_MATCH;
		if (!fp && ns < 2) /* a second message may come (NO_MATCH is final) */
			return more[1] ? IDENT_NEED_MORE : IDENT_NO_MATCH;
		stun_add_method(ev, s[0].method);
		ev->confidence = fp ? 75 : 60;
		return IDENT_MATCH;
	}
	if (rc == ST_SHORT)
		return in->done[0] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
	bool classic = c[0].classic;
	/* Classic STUN starts with a Binding Request. */
	if (classic && (c[0].method != 1 || c[0].cls != 0))
		return IDENT_NO_MATCH;
	bool fingerprint = false;
	for (unsigned i = 0; i < nc; i++)
		fingerprint |= c[i].fingerprint;
	if (rs == ST_SHORT) {
		if (!in->done[1])
			return IDENT_NEED_MORE;
		/* Classic STUN has no cookie: unanswered, only a request sent
		 * again byte for byte (Zoom's checks to a closed port). */
		if (classic && !stun_retransmitted(in))
			/* the second datagram may yet repeat the first
			 * (NO_MATCH is final) */
			return in->ndgrams[0] < 2 && more[0] ? IDENT_NEED_MORE : IDENT_NO_MATCH;
		/* Requests or indications with no answer (ICE checks to a
		 * peer that never replied); a lone response only with a
		 * FINGERPRINT that checks (the capture missed the request). */
		if (!classic && c[0].cls >= 2 && nc < 2 && !fingerprint)
			/* a second message may come (NO_MATCH is final) */
			return more[0] ? IDENT_NEED_MORE : IDENT_NO_MATCH;
		stun_add_method(ev, c[0].method);
		ev->confidence = fingerprint ? 80 : 65;
		return IDENT_MATCH;
	}
	/* A response from the other side to one of our requests. */
	bool confirmed = false;
	for (unsigned i = 0; i < nc; i++)
		for (unsigned k = 0; k < ns; k++)
			if (c[i].cls == 0 && s[k].cls >= 2 && c[i].method == s[k].method &&
			    c[i].classic == s[k].classic && stun_same_tid(&c[i], &s[k]))
				confirmed = true;
	/* ICE peers both send requests; the server's may be requests too. */
	if (!confirmed)
		for (unsigned i = 0; i < nc; i++)
			for (unsigned k = 0; k < ns; k++)
				if (s[k].cls == 0 && c[i].cls >= 2 && stun_same_tid(&c[i], &s[k]))
					confirmed = true;
	/* Classic: any answer carrying the request's whole 128-bit
	 * transaction ID (Zoom answers a Binding Request with type 0x0002). */
	if (classic && !confirmed)
		for (unsigned k = 0; k < ns; k++)
			if (s[k].classic && stun_same_tid(&c[0], &s[k]))
				confirmed = true;
	if (classic && !confirmed)
		/* the answer may be among the server's next messages (NO_MATCH
		 * is final) */
		return ns < 4 && more[1] ? IDENT_NEED_MORE : IDENT_NO_MATCH;
	stun_add_method(ev, c[0].method);
	ev->server_confirmed = confirmed;
	ev->confidence = confirmed ? 95 : 70;
	return IDENT_MATCH;
}

static enum ident_verdict stun_match(const struct ident_input *in, struct ident_evidence *ev)
{
	/* The usual NO_MATCH of stun_match_parse (either side's stun_dir
	 * ST_BAD), UDP, before the messages are parsed. */
	if (in->transport == IDENT_UDP &&
	    (stun_udp_quick_bad(in, 0) || (in->len[1] && stun_udp_quick_bad(in, 1))))
		return IDENT_NO_MATCH;
	return stun_match_parse(in, ev);
}

/* The first bytes (identify.h, first_byte), of direction d.
 * The client's: UDP, stun_udp_quick_bad: the client's first datagram
 * has its top two bits clear, or is an [MS-TURN] wrapper (0xff 0x10).
 * TCP: none declared.
 * The server's: the same (stun_match runs stun_udp_quick_bad on its
 * first datagram too). */
static bool stun_first_byte(int d, uint8_t transport, uint8_t b)
{
	(void)d;
	return transport != IDENT_UDP || b < 0x40 || b == 0xff;
}

const struct ident_proto ident_stun = {"stun", "STUN/TURN (RFC 8489, RFC 5389, RFC 8656)",
                                       IDENT_UDP | IDENT_TCP, stun_match, NULL, stun_first_byte};
