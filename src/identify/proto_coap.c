/*
 * proto_coap.c - CoAP (RFC 7252; FETCH/PATCH RFC 8132), over UDP.
 *
 *    0 1 2 3 4 5 6 7 8 ...
 *   +---+---+-------+---------------+-------------------------------+
 *   |Ver| T |  TKL  |  Code c.dd    |          Message ID           |
 *   +---+---+-------+---------------+-------------------------------+
 *   | Token (TKL bytes, 0..8)                                        |
 *   | Options: delta(4) length(4) [ext delta] [ext length] value ... |
 *   |          13: +1 byte (13+), 14: +2 bytes (269+), 15: reserved  |
 *   | 0xFF payload marker, then at least one payload byte            |
 *   +---------------------------------------------------------------+
 *
 * Ver = 1; codes: 0.00 empty (nothing after the header), requests 0.01-0.07,
 * responses 2.01-2.05, 2.31, 4.00-4.06, 4.08, 4.12, 4.13, 4.15, 4.22, 4.29,
 * 5.00-5.05. Why this strict: the fixed header is four weak bytes, so the
 * option walk must end exactly at the datagram's end, critical (odd)
 * options must be ones the RFCs define, and a request must carry at least
 * one option. When both sides are there, the server's message carries the
 * client's message ID (ACK/RST) or its token.
 */
#include "common/reader.h"
#include "identify/identify.h"
#include "identify/text_proto.h"

struct coap_msg {
	uint8_t type, tkl, code;
	uint16_t mid;
	uint8_t token[8];
	unsigned nopts;
	char path[128];
	size_t pathlen;
};

static bool coap_code_ok(uint8_t code)
{
	uint8_t c = code >> 5, d = code & 31;
	switch (c) {
	case 0: return d <= 7;
	case 2: return (d >= 1 && d <= 5) || d == 31;
	case 4: return d <= 6 || d == 8 || d == 12 || d == 13 || d == 15 || d == 22 || d == 29;
	case 5: return d <= 5;
	default: return false;
	}
}

/* Critical options defined by RFC 7252, 7641, 7959, 8613, 9177, 7967. */
static bool coap_critical_known(unsigned num)
{
	switch (num) {
	case 1: case 3: case 5: case 7: case 9: case 11: case 15: case 17: case 23: case 27:
	case 35: case 39: case 53: case 61:
		return true;
	default: return false;
	}
}

static bool coap_parse(const uint8_t *p, size_t len, struct coap_msg *m)
{
	struct reader r;
	rd_init(&r, p, len);
	uint8_t b0 = rd_u8(&r);
	m->code = rd_u8(&r);
	m->mid = rd_be16(&r);
	if (!rd_ok(&r) || (b0 >> 6) != 1)
		return false;
	m->type = (b0 >> 4) & 3;
	m->tkl = b0 & 15;
	if (m->tkl > 8 || !coap_code_ok(m->code))
		return false;
	if (m->code == 0) /* empty message: nothing but the header */
		return len == 4 && m->tkl == 0;
	rd_copy(&r, m->token, m->tkl);
	unsigned num = 0;
	m->nopts = 0;
	m->pathlen = 0;
	while (rd_ok(&r) && rd_remaining(&r) > 0) {
		uint8_t ob = rd_u8(&r);
		if (ob == 0xff)
			return rd_remaining(&r) > 0;
		unsigned delta = ob >> 4, olen = ob & 15;
		if (delta == 15 || olen == 15)
			return false;
		if (delta == 13)
			delta = 13u + rd_u8(&r);
		else if (delta == 14)
			delta = 269u + rd_be16(&r);
		if (olen == 13)
			olen = 13u + rd_u8(&r);
		else if (olen == 14)
			olen = 269u + rd_be16(&r);
		num += delta;
		struct reader val = rd_sub(&r, olen);
		if (!rd_ok(&r))
			return false;
		if ((num & 1) && !coap_critical_known(num))
			return false;
		if (num == 11 && m->pathlen + olen + 1 < sizeof m->path) { /* Uri-Path */
			m->path[m->pathlen++] = '/';
			for (unsigned i = 0; i < olen; i++)
				m->path[m->pathlen++] = (char)rd_u8(&val);
		}
		m->nopts++;
	}
	return rd_ok(&r);
}

static const char *const coap_methods[] = {"", "GET", "POST", "PUT", "DELETE", "FETCH", "PATCH", "iPATCH"};

static void coap_evidence(struct ident_evidence *ev, const struct coap_msg *m)
{
	if (m->code >> 5 == 0 && (m->code & 31) >= 1) {
		ident_add_str(ev, "coap_code", coap_methods[m->code & 7]);
	} else {
		char b[5] = {(char)('0' + (m->code >> 5)), '.', (char)('0' + (m->code & 31) / 10),
		             (char)('0' + (m->code & 31) % 10), 0};
		ident_add_str(ev, "coap_code", b);
	}
	if (m->pathlen)
		ident_add(ev, "coap_uri_path", (const uint8_t *)m->path, m->pathlen);
}

/* coap_match past its cheap NO_MATCH tests. Out of line: the tests run
 * without this function's frame. */
__attribute__((noinline)) static enum ident_verdict
coap_match_parse(const struct ident_input *in, struct ident_evidence *ev)
{
	struct coap_msg c = {0}, s = {0};
	bool hc = in->ndgrams[0] > 0, hs = in->ndgrams[1] > 0;
	if (hc && !coap_parse(in->data[0], dgram_first_len(in, 0), &c))
		return IDENT_NO_MATCH;
	if (hs && !coap_parse(in->data[1], dgram_first_len(in, 1), &s))
		return IDENT_NO_MATCH;
	if (!hc)
		return in->done[0] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
	/* The client asks: a request with at least one option (a bare
	 * header and token is too little to go on). */
	if (c.code == 0 || c.code >> 5 != 0 || c.nopts == 0 || c.type > 1)
		return IDENT_NO_MATCH;
	if (!hs) {
		if (!in->done[1])
			return IDENT_NEED_MORE;
		coap_evidence(ev, &c);
		ev->confidence = 60;
		return IDENT_MATCH;
	}
	/* The answer: a response or an empty ACK/RST. A piggybacked or
	 * separate response carries the token; an ACK/RST the message ID. */
	bool ok = false;
	if (s.code == 0)
		ok = s.type >= 2 && s.mid == c.mid;
	else if (s.code >> 5 != 0)
		ok = s.tkl == c.tkl && (s.type != 2 || s.mid == c.mid);
	for (unsigned i = 0; ok && s.code != 0 && i < c.tkl; i++)
		ok = s.token[i] == c.token[i];
	if (!ok)
		return IDENT_NO_MATCH;
	coap_evidence(ev, &c);
	ev->server_confirmed = true;
	ev->confidence = 95;
	return IDENT_MATCH;
}

static enum ident_verdict coap_match(const struct ident_input *in, struct ident_evidence *ev)
{
	/* The usual NO_MATCH of coap_match_parse (either side's first datagram
	 * not CoAP) from its first two bytes, before the messages are cleared
	 * and parsed: coap_parse's version, token length and code checks. */
	for (int d = 0; d < 2; d++) {
		if (!in->ndgrams[d])
			continue;
		struct reader r;
		uint8_t b0, code;
		rd_init(&r, in->data[d], dgram_first_len(in, d));
		if (!rd_has(&r, 4) || !rd_peek_u8(&r, 0, &b0) || !rd_peek_u8(&r, 1, &code) ||
		    (b0 >> 6) != 1 || (b0 & 15) > 8 || !coap_code_ok(code))
			return IDENT_NO_MATCH;
	}
	return coap_match_parse(in, ev);
}

/* The first bytes (identify.h, first_byte), of direction d.
 * The client's: coap_match: version 1, token length at most 8.
 * The server's: the same (coap_match checks both sides' first datagrams
 * alike). */
static bool coap_first_byte(int d, uint8_t transport, uint8_t b)
{
	(void)d;
	(void)transport;
	return (b >> 6) == 1 && (b & 15) <= 8;
}

const struct ident_proto ident_coap = {"coap", "CoAP (RFC 7252)", IDENT_UDP, coap_match, NULL, coap_first_byte};
