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
 * Message Length is a multiple of 4 and (UDP) equals the datagram length
 * minus 20; the attributes must fill it exactly. The method (type bits
 * M0-M11) must be a defined one (Binding; TURN 3-0xc). When both sides are
 * there, the server's success or error response carries the transaction
 * ID of one of the client's requests. Classic STUN (RFC 3489, no cookie) is
 * accepted only in that confirmed form: a Binding request answered with a
 * Binding response carrying the same 128-bit transaction ID.
 */
#include "common/reader.h"
#include "identify/identify.h"

#define STUN_COOKIE 0x2112A442u

struct stun_msg {
	uint16_t method;
	uint8_t cls; /* 0 request, 1 indication, 2 success, 3 error */
	bool classic;
	uint8_t tid[16]; /* classic: cookie + 12, else the 12 after the cookie */
};

/* Parses one message of exactly `len` bytes (len 0: not known, the length
 * field decides and *used is set). */
static bool stun_parse(struct reader *m, struct stun_msg *s, size_t *used)
{
	uint16_t type = rd_be16(m), mlen = rd_be16(m);
	uint32_t cookie = rd_be32(m);
	const uint8_t *tid = rd_bytes(m, 12);
	if (!rd_ok(m) || (type & 0xc000) || (mlen & 3))
		return false;
	s->classic = cookie != STUN_COOKIE;
	s->method = (uint16_t)((type & 0x000f) | (type & 0x00e0) >> 1 | (type & 0x3e00) >> 2);
	s->cls = (uint8_t)((type >> 4 & 1) | (type >> 7 & 2));
	for (int i = 0; i < 4; i++)
		s->tid[i] = (uint8_t)(cookie >> (24 - 8 * i));
	for (int i = 0; i < 12; i++)
		s->tid[4 + i] = tid[i];
	if (s->method == 0 || s->method > 0x0c || s->method == 2 || s->method == 5)
		return false;
	if (s->classic && s->method != 1)
		return false;
	struct reader a = rd_sub(m, mlen);
	if (!rd_ok(m))
		return false;
	while (rd_remaining(&a) > 0) {
		uint16_t at = rd_be16(&a), alen = rd_be16(&a);
		rd_skip(&a, ((size_t)alen + 3) & ~(size_t)3);
		if (!rd_ok(&a) || at == 0)
			return false;
		/* classic attributes: 0x0001-0x000b, and 0x8000+ optional */
		if (s->classic && at > 0x000b && at < 0x8000)
			return false;
	}
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
	uint8_t b0, b1;
	if (!rd_peek_u8(&r, 0, &b0) || !rd_peek_u8(&r, 1, &b1) || !rd_has(&r, 20))
		return in->len[d] && rd_peek_u8(&r, 0, &b0) && (b0 & 0xc0) ? ST_BAD : ST_SHORT;
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

static const char *stun_method_name(uint16_t m)
{
	switch (m) {
	case 1: return "Binding";
	case 3: return "Allocate";
	case 4: return "Refresh";
	case 6: return "Send";
	case 7: return "Data";
	case 8: return "CreatePermission";
	case 9: return "ChannelBind";
	case 10: return "Connect";
	case 11: return "ConnectionBind";
	case 12: return "ConnectionAttempt";
	default: return "unknown";
	}
}

static bool stun_same_tid(const struct stun_msg *a, const struct stun_msg *b)
{
	for (int i = 0; i < 16; i++)
		if (a->tid[i] != b->tid[i])
			return false;
	return true;
}

static enum ident_verdict stun_match(const struct ident_input *in, struct ident_evidence *ev)
{
	struct stun_msg c[4], s[4];
	unsigned nc = 0, ns = 0;
	enum stun_res rc = stun_dir(in, 0, c, &nc);
	if (rc == ST_BAD)
		return IDENT_NO_MATCH;
	enum stun_res rs = in->len[1] ? stun_dir(in, 1, s, &ns) : ST_SHORT;
	if (rs == ST_BAD)
		return IDENT_NO_MATCH;
	if (rc == ST_SHORT)
		return in->done[0] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
	bool classic = c[0].classic;
	if (rs == ST_SHORT) {
		if (!in->done[1] || classic)
			return classic && in->done[1] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
		/* Requests or indications with no answer (ICE checks to a
		 * peer that never replied). */
		if (c[0].cls >= 2 && nc < 2)
			return IDENT_NO_MATCH;
		ident_add_str(ev, "stun_method", stun_method_name(c[0].method));
		ev->confidence = 65;
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
	if (classic && !confirmed)
		return IDENT_NO_MATCH;
	ident_add_str(ev, "stun_method", stun_method_name(c[0].method));
	ev->server_confirmed = confirmed;
	ev->confidence = confirmed ? 95 : 70;
	return IDENT_MATCH;
}

const struct ident_proto ident_stun = {"stun", "STUN/TURN (RFC 8489, RFC 5389, RFC 8656)",
                                       IDENT_UDP | IDENT_TCP, stun_match, NULL};
