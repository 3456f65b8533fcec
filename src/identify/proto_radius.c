/*
 * proto_radius.c - RADIUS (RFC 2865 authentication, RFC 2866 accounting,
 * RFC 5997 Status-Server, RFC 5176 Dynamic Authorization: Disconnect and
 * CoA), over UDP, one packet a datagram.
 *
 *   +--------+--------+-----------------+
 *   | code   | ident  | length (16)     |  length = the datagram, 20-4096
 *   +--------+--------+-----------------+
 *   | authenticator (16 bytes)          |
 *   +-----------------------------------+
 *   | type | length (>= 2, the AVP) | value ... |  AVPs up to the end,
 *   +-----------------------------------------+   walking exactly to it
 *
 * Codes: 1 Access-Request, 2 Access-Accept, 3 Access-Reject,
 * 4 Accounting-Request, 5 Accounting-Response, 11 Access-Challenge,
 * 12 Status-Server, 13 Status-Client, 40-42 Disconnect-Request/ACK/NAK,
 * 43-45 CoA-Request/ACK/NAK.
 *
 * A known code, a length equal to the datagram and attributes that fill it
 * exactly are a chain a random datagram passes with odds below 2^-20 even
 * before the walk. The server's answer carries the request's identifier and
 * a code that answers the request's (Access-Request: Accept, Reject or
 * Challenge; Accounting-Request: Accounting-Response; ...).
 *
 * A packet whose walk breaks (corrupted, or malformed on purpose; RFC 2865
 * has the server drop it) still counts, marked radius_attributes=malformed,
 * when its header holds and either another of the flow's first datagrams
 * walks exactly or its first RADIUS_PREFIX attributes are shaped as the
 * RFCs define them (radius_attr_sane). The header alone is not enough:
 * collectd's encrypted part (type 0x0210, length = the datagram) reads as
 * an Access-Accept header, and text such as an SLPv1 AttrRply
 * (01 07 LL LL = the datagram) as an Access-Request.
 */
#include "common/reader.h"
#include "identify/identify.h"
#include "identify/text_proto.h"

/* A packet whose attribute walk breaks is kept when at least this many
 * attributes of assigned types come first (see radius_parse). */
#define RADIUS_PREFIX 4

struct radius_pkt {
	uint8_t code, ident;
	const uint8_t *user, *nas_id;
	size_t user_len, nas_id_len;
	bool has_nas_ip;
	uint8_t nas_ip[4];
};

static bool radius_code_ok(uint8_t c) { return (c >= 1 && c <= 5) || (c >= 11 && c <= 13) || (c >= 40 && c <= 45); }

/* An attribute as RFC 2865, 2866 and 2869 shape it: integer, time and
 * IPv4 address attributes are 6 bytes long, Message-Authenticator 18, a
 * Vendor-Specific one starts with a vendor id whose high byte is 0, text
 * ones carry at least a byte; types above 95 (but the extended 241-246)
 * are rare. Text passes this seldom: a letter or bracket taken as a type
 * names an integer attribute or none. */
static bool radius_attr_sane(uint8_t type, uint8_t alen, uint8_t v0)
{
	static const uint8_t fixed6[] = {4,  5,  6,  7,  9,  10, 12, 13, 14, 15, 16, 27, 28, 29, 37, 38,
	                                 40, 41, 42, 43, 45, 46, 47, 48, 49, 51, 52, 53, 55, 61, 62};
	if (!((type >= 1 && type <= 95) || (type >= 241 && type <= 246)))
		return false;
	for (size_t i = 0; i < sizeof fixed6; i++)
		if (fixed6[i] == type)
			return alen == 6;
	if (type == 80)
		return alen == 18;
	if (type == 26)
		return alen >= 7 && v0 == 0;
	return alen >= 3;
}

static const char *radius_code_name(uint8_t c)
{
	switch (c) {
	case 1: return "Access-Request";
	case 2: return "Access-Accept";
	case 3: return "Access-Reject";
	case 4: return "Accounting-Request";
	case 5: return "Accounting-Response";
	case 11: return "Access-Challenge";
	case 12: return "Status-Server";
	case 13: return "Status-Client";
	case 40: return "Disconnect-Request";
	case 41: return "Disconnect-ACK";
	case 42: return "Disconnect-NAK";
	case 43: return "CoA-Request";
	case 44: return "CoA-ACK";
	default: return "CoA-NAK";
	}
}

/* One datagram (r: exactly it). truncated: the snap length may have cut
 * it, so the length field may exceed what is there. 2: a RADIUS packet
 * whose attributes walk exactly to its end; 1: the header holds (known
 * code, length = the datagram) and the first attribute is whole, but a
 * later one breaks the walk (a corrupted or deliberately malformed
 * packet: RFC 2865 says to discard it, it is still sent to a RADIUS
 * server); 0: not RADIUS. */
static int radius_parse(struct reader *r, bool truncated, struct radius_pkt *p)
{
	p->code = rd_u8(r);
	p->ident = rd_u8(r);
	uint16_t len = rd_be16(r);
	rd_skip(r, 16);
	if (!rd_ok(r) || !radius_code_ok(p->code) || len < 20 || len > 4096)
		return 0;
	size_t have = rd_remaining(r) + 20;
	if (len != have && !(truncated && len > have))
		return 0;
	unsigned good = 0; /* attributes of assigned types before a break */
	bool run = true;
	while (rd_remaining(r)) {
		uint8_t type = rd_u8(r), alen = rd_u8(r);
		if (!rd_ok(r)) /* a lone type byte */
			return truncated ? 3 : good >= RADIUS_PREFIX ? 2 : 1;
		if (alen < 2 || type == 0)
			return good >= RADIUS_PREFIX ? 2 : 1;
		if (type == 4 && alen == 6 && !p->has_nas_ip && rd_has(r, 4)) {
			struct reader ip = *r;
			rd_copy(&ip, p->nas_ip, 4);
			p->has_nas_ip = true;
		}
		uint8_t v0 = 0; /* the value's first byte (a vendor id's high byte) */
		if (alen > 2)
			(void)rd_peek_u8(r, 0, &v0);
		const uint8_t *v = rd_bytes(r, (size_t)alen - 2);
		if (!v)
			return truncated ? 3 : good >= RADIUS_PREFIX ? 2 : 1;
		size_t vn = (size_t)alen - 2;
		if (type == 1 && !p->user) {
			p->user = v;
			p->user_len = vn;
		} else if (type == 32 && !p->nas_id) {
			p->nas_id = v;
			p->nas_id_len = vn;
		}
		if (run && radius_attr_sane(type, alen, v0))
			good++;
		else
			run = false;
	}
	return 3;
}

/* The first datagram of direction d: its radius_parse class, 0 when the
 * direction has none, -1 when it is not RADIUS. *exact is set when any of
 * the direction's first datagrams walks exactly. */
static int radius_first(const struct ident_input *in, int d, struct radius_pkt *p, bool *exact)
{
	if (in->ndgrams[d] == 0)
		return 0;
	struct reader r;
	rd_init(&r, in->data[d], in->len[d]);
	int first = -1;
	for (unsigned k = 0; k < in->ndgrams[d]; k++) {
		struct reader m = rd_sub(&r, in->dgram_len[d][k]);
		if (!rd_ok(&r))
			break;
		struct radius_pkt q = {0};
		int c = radius_parse(&m, in->truncated[d] && k + 1 == in->ndgrams[d], &q);
		if (k == 0) {
			if (c == 0)
				return -1;
			first = c;
			*p = q;
		}
		*exact |= c == 3;
	}
	return first;
}

static bool radius_request(uint8_t c) { return c == 1 || c == 4 || c == 12 || c == 13 || c == 40 || c == 43; }

/* True when answer code a answers request code q. */
static bool radius_answers(uint8_t q, uint8_t a)
{
	switch (q) {
	case 1: return a == 2 || a == 3 || a == 11;
	case 4: return a == 5;
	case 12: return a == 2 || a == 3 || a == 11 || a == 5;
	case 13: return a == 5;
	case 40: return a == 41 || a == 42;
	case 43: return a == 44 || a == 45;
	}
	return false;
}

/* radius_match past its cheap NO_MATCH tests. Out of line: the tests run
 * without this function's frame. */
__attribute__((noinline)) static enum ident_verdict
radius_match_parse(const struct ident_input *in, struct ident_evidence *ev)
{
	struct radius_pkt c = {0}, s = {0};
	bool exact = false;
	int pc = radius_first(in, 0, &c, &exact), ps = radius_first(in, 1, &s, &exact);
	if (pc < 0 || ps < 0)
		return IDENT_NO_MATCH;
	/* a broken attribute walk is forgiven only with company: enough
	 * well-typed attributes first, or a packet of the flow that walks */
	if (!exact && (pc == 1 || ps == 1))
		return in->done[0] && in->done[1] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
	if (pc == 0) {
		if (ps == 0 || !in->done[0] || !in->done[1])
			return in->done[0] && in->done[1] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
		c = s; /* one side captured */
	}
	bool malformed = (pc > 0 && pc < 3) || (ps > 0 && ps < 3);
	bool confirmed = false;
	if (pc > 0 && ps > 0) {
		/* an answer names its request's identifier: any of the client's
		 * first datagrams (retransmissions, pipelined requests) */
		if (!radius_answers(c.code, s.code) && !radius_answers(s.code, c.code))
			return IDENT_NO_MATCH;
		confirmed = s.ident == c.ident;
	} else if (pc > 0 && radius_request(c.code) && !in->done[1]) {
		return IDENT_NEED_MORE;
	}
	ident_add_str(ev, "radius_code", radius_code_name(c.code));
	const struct radius_pkt *u = c.user ? &c : s.user ? &s : NULL;
	if (u)
		ident_add(ev, "radius_user_name", u->user, u->user_len > 128 ? 128 : u->user_len);
	if (c.nas_id)
		ident_add(ev, "radius_nas_id", c.nas_id, c.nas_id_len > 128 ? 128 : c.nas_id_len);
	if (c.has_nas_ip) {
		char b[16];
		int k = 0;
		for (int i = 0; i < 4; i++) {
			unsigned v = c.nas_ip[i];
			if (i)
				b[k++] = '.';
			if (v >= 100)
				b[k++] = (char)('0' + v / 100);
			if (v >= 10)
				b[k++] = (char)('0' + v / 10 % 10);
			b[k++] = (char)('0' + v % 10);
		}
		ident_add(ev, "radius_nas_ip", (const uint8_t *)b, (size_t)k);
	}
	if (malformed)
		ident_add_str(ev, "radius_attributes", "malformed");
	ev->server_confirmed = confirmed;
	ev->confidence = malformed ? 60 : confirmed ? 95 : 85;
	return IDENT_MATCH;
}

static enum ident_verdict radius_match(const struct ident_input *in, struct ident_evidence *ev)
{
	if (in->transport != IDENT_UDP)
		return IDENT_NO_MATCH;
	/* The usual NO_MATCH of radius_match_parse (radius_first -1 on either
	 * side) from the first datagram's header, before the packets are
	 * cleared and walked: not there in full, or radius_parse's 0 (a code, a
	 * length that is the datagram's). */
	for (int d = 0; d < 2; d++) {
		if (!in->ndgrams[d])
			continue;
		struct reader m;
		uint8_t code, l0, l1;
		if (!dgram_first(in, d, &m) || !rd_has(&m, 20))
			return IDENT_NO_MATCH;
		(void)rd_peek_u8(&m, 0, &code);
		(void)rd_peek_u8(&m, 2, &l0);
		(void)rd_peek_u8(&m, 3, &l1);
		size_t len = (size_t)l0 << 8 | l1, have = rd_remaining(&m);
		bool cut = in->truncated[d] && in->ndgrams[d] == 1;
		if (!radius_code_ok(code) || len < 20 || len > 4096 ||
		    (len != have && !(cut && len > have)))
			return IDENT_NO_MATCH;
	}
	return radius_match_parse(in, ev);
}

/* The first bytes (identify.h, first_byte), of direction d.
 * The client's: radius_match: the client's first datagram's code is one
 * radius_code_ok takes.
 * The server's: the same (radius_match checks both sides' first
 * datagrams alike). */
static bool radius_first_byte(int d, uint8_t transport, uint8_t b)
{
	(void)d;
	(void)transport;
	return radius_code_ok(b);
}

const struct ident_proto ident_radius = {"radius", "RADIUS (RFC 2865, RFC 2866, RFC 5176)", IDENT_UDP,
                                         radius_match, NULL, radius_first_byte};
