/*
 * proto_ipmi.c - RMCP (DMTF ASF 2.0, DSP0136, section 3.2.2) carrying ASF
 * presence ping/pong or IPMI over LAN (IPMI v1.5 sessions and v2.0 RMCP+,
 * Intel/HP/NEC/Dell IPMI v2.0 specification, section 13), over UDP.
 *
 *   RMCP header:  06 | 00 | sequence (ff: no ACK) | class
 *                 class: bit 7 ACK, bits 6-5 reserved 0, bits 4-0:
 *                 6 ASF, 7 IPMI
 *   ASF:          IANA enterprise 00 00 11 be (4542) | type (80 ping,
 *                 40 pong) | tag | 00 | data length = the rest
 *   IPMI v1.5:    auth type (0 none, 1 MD2, 2 MD5, 4 password, 5 OEM) |
 *                 session seq 32 | session id 32 | [auth code 16 when
 *                 auth type != 0] | message length = the rest | message
 *   IPMI v2.0:    auth type 06 | payload type (bits 5-0: 0 IPMI, 1 SOL,
 *                 2 OEM, 10-15 session setup) | [OEM: IANA 4 + id 2] |
 *                 session id 32 | seq 32 | payload length (16, little
 *                 endian) = the rest, up to the integrity trailer
 *   RMCP ACK:     the header alone, class bit 7 set.
 *
 * The fixed 06 00 start, the class, and a length field that accounts for
 * the rest of the datagram make a random datagram pass rarely (< 2^-30).
 */
#include "common/reader.h"
#include "identify/identify.h"
#include "identify/text_proto.h"

struct ipmi_msg {
	const char *cls;
	const char *what;
	uint8_t auth;
	bool is_ipmi;
};

static bool ipmi_parse(struct reader *r, struct ipmi_msg *m)
{
	uint8_t v = rd_u8(r), res = rd_u8(r);
	(void)rd_u8(r); /* sequence */
	uint8_t cls = rd_u8(r);
	if (!rd_ok(r) || v != 6 || res != 0 || (cls & 0x60))
		return false;
	if (cls & 0x80) { /* ACK: the header alone */
		m->cls = (cls & 0x1f) == 6 ? "asf" : "ipmi";
		m->what = "ack";
		return ((cls & 0x1f) == 6 || (cls & 0x1f) == 7) && rd_remaining(r) == 0;
	}
	if ((cls & 0x1f) == 6) {
		m->cls = "asf";
		uint32_t iana = rd_be32(r);
		uint8_t type = rd_u8(r);
		(void)rd_u8(r);
		uint8_t rsv = rd_u8(r), dl = rd_u8(r);
		if (!rd_ok(r) || iana != 4542 || rsv != 0 || dl != rd_remaining(r))
			return false;
		m->what = type == 0x80 ? "presence-ping" : type == 0x40 ? "presence-pong" : "asf";
		return true;
	}
	if ((cls & 0x1f) != 7)
		return false;
	m->cls = "ipmi";
	m->is_ipmi = true;
	m->auth = rd_u8(r);
	if (m->auth == 6) {
		uint8_t pt = rd_u8(r);
		uint8_t p = pt & 0x3f;
		if (p == 2)
			rd_skip(r, 6);
		else if (p > 2 && (p < 0x10 || p > 0x15))
			return false;
		rd_skip(r, 8);
		uint16_t len = rd_le16(r);
		if (!rd_ok(r) || len > rd_remaining(r))
			return false;
		/* the integrity trailer of an authenticated session follows
		 * the payload: pad, pad length, next header 07, auth code */
		if (len != rd_remaining(r)) {
			if (!(pt & 0x40))
				return false;
			rd_skip(r, len);
			size_t t = rd_remaining(r);
			if (t < 2 + 12 || t > 3 + 2 + 32)
				return false;
		}
		m->what = p == 0 ? "rmcp+ ipmi" : p == 1 ? "rmcp+ sol" : p == 2 ? "rmcp+ oem"
		          : p == 0x10 ? "rmcp+ open-session-request" : p == 0x11 ? "rmcp+ open-session-response"
		          : p == 0x12 ? "rmcp+ rakp1" : p == 0x13 ? "rmcp+ rakp2"
		          : p == 0x14 ? "rmcp+ rakp3" : "rmcp+ rakp4";
		return true;
	}
	if (m->auth != 0 && m->auth != 1 && m->auth != 2 && m->auth != 4 && m->auth != 5)
		return false;
	rd_skip(r, 8);
	if (m->auth != 0)
		rd_skip(r, 16);
	uint8_t len = rd_u8(r);
	if (!rd_ok(r) || len != rd_remaining(r) || len < 7)
		return false;
	m->what = "ipmi-1.5";
	return true;
}

static int ipmi_first(const struct ident_input *in, int d, struct ipmi_msg *m)
{
	struct reader r;
	if (!ident_dgram(in, d, 0, &r))
		return 0;
	return ipmi_parse(&r, m) ? 1 : -1;
}

/* ipmi_match past its cheap NO_MATCH tests. Out of line: the tests run
 * without this function's frame. */
__attribute__((noinline)) static enum ident_verdict
ipmi_match_parse(const struct ident_input *in, struct ident_evidence *ev)
{
	struct ipmi_msg c = {0}, s = {0};
	int pc = ipmi_first(in, 0, &c), ps = ipmi_first(in, 1, &s);
	if (pc < 0 || ps < 0)
		return IDENT_NO_MATCH;
	if (pc == 0) {
		if (ps == 0 || !in->done[0] || !in->done[1])
			return in->done[0] && in->done[1] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
		c = s;
	} else if (ps == 0 && !in->done[1]) {
		return IDENT_NEED_MORE; /* pings and requests are answered */
	}
	ident_add_str(ev, "ipmi_class", c.cls);
	ident_add_str(ev, "ipmi_message", c.what);
	if (c.is_ipmi)
		ident_add_u64(ev, "ipmi_auth_type", c.auth);
	ev->server_confirmed = pc > 0 && ps > 0;
	ev->confidence = ev->server_confirmed ? 95 : 85;
	return IDENT_MATCH;
}

static enum ident_verdict ipmi_match(const struct ident_input *in, struct ident_evidence *ev)
{
	if (in->transport != IDENT_UDP)
		return IDENT_NO_MATCH;
	/* The usual NO_MATCH of ipmi_match_parse (ipmi_first -1 on either side)
	 * from a first datagram without the RMCP header's fixed 06 00 start. */
	for (int d = 0; d < 2; d++) {
		struct reader r;
		uint8_t v, res;
		if (dgram_first(in, d, &r) &&
		    (!rd_has(&r, 4) || (rd_peek_u8(&r, 0, &v) && v != 6) ||
		     (rd_peek_u8(&r, 1, &res) && res != 0)))
			return IDENT_NO_MATCH;
	}
	return ipmi_match_parse(in, ev);
}

/* The first bytes (identify.h, first_byte), of direction d.
 * The client's: ipmi_match: the client's first datagram starts with the
 * RMCP version 06.
 * The server's: the same (ipmi_match checks both sides' first datagrams
 * alike). */
static bool ipmi_first_byte(int d, uint8_t transport, uint8_t b)
{
	(void)d;
	(void)transport;
	return b == 6;
}

const struct ident_proto ident_ipmi = {"ipmi", "RMCP/IPMI (DMTF ASF 2.0, IPMI v2.0)", IDENT_UDP,
                                       ipmi_match, NULL, ipmi_first_byte};
