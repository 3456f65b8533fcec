/*
 * proto_bgp.c - BGP-4 (RFC 4271; ROUTE-REFRESH RFC 2918 / RFC 7313; 4-octet
 * AS numbers RFC 6793; extended messages RFC 8654).
 *
 * Every BGP message starts with the same 19-byte header:
 *
 *   +------------------------------------------------+
 *   | marker: 16 bytes, all ones (ff x 16)           |
 *   +------------------------+-----------+-----------+
 *   | length (16, whole msg) | type (8)  |
 *   +------------------------+-----------+
 *   type  1 OPEN          length >= 29
 *         2 UPDATE        length >= 23
 *         3 NOTIFICATION  length >= 21
 *         4 KEEPALIVE     length == 19
 *         5 ROUTE-REFRESH length >= 23
 *   lengths <= 4096, or <= 65535 for UPDATE, NOTIFICATION and
 *   ROUTE-REFRESH once extended messages are negotiated (RFC 8654).
 *
 *   OPEN body:
 *   | version = 4 | my AS (16) | hold time (16): 0 or >= 3 |
 *   | BGP identifier (32, an IPv4 address, not 0)         |
 *   | opt param len (8) | parameters: type, len, value    |  fill the message
 *     capability 65 (4-octet AS) carries the real AS when my AS is
 *     AS_TRANS 23456.
 *
 *   UPDATE body:
 *   | withdrawn routes length (16) | withdrawn routes |
 *   | path attributes length (16)  | path attributes  |  <= the message
 *   | NLRI (the rest)                                 |
 *
 * Both peers send OPEN when the session starts (the side that connected
 * usually first), so a server's bytes confirm a client's claim when they
 * start with a BGP header too. A capture begun after the OPEN exchange
 * (UPDATEs, KEEPALIVEs only) is recognised from either direction's first
 * message; the 128-bit marker with a consistent length and type is what
 * sets BGP apart from other binary protocols.
 */
#include <stdio.h>

#include "common/reader.h"
#include "identify/identify.h"

enum bgp_parse { BGP_BAD, BGP_SHORT, BGP_OK };

struct bgp_msg {
	uint8_t type;
	bool open;       /* an OPEN, with the fields below */
	uint32_t as;
	uint32_t id;
	uint16_t hold;
};

/* The optional parameters of an OPEN: each fits; a 4-octet AS capability
 * replaces AS_TRANS. */
static bool bgp_open_params(struct reader *p, struct bgp_msg *m)
{
	while (rd_remaining(p)) {
		uint8_t ptype = rd_u8(p);
		uint8_t plen = rd_u8(p);
		struct reader v = rd_sub(p, plen);
		if (!rd_ok(p))
			return false;
		if (ptype != 2) /* capabilities; others (1: authentication) are skipped */
			continue;
		while (rd_remaining(&v)) {
			uint8_t code = rd_u8(&v);
			uint8_t clen = rd_u8(&v);
			struct reader c = rd_sub(&v, clen);
			if (!rd_ok(&v))
				return false;
			if (code == 65 && clen == 4 && m->as == 23456)
				m->as = rd_be32(&c);
		}
	}
	return true;
}

/* The first message of one direction. */
static enum bgp_parse bgp_first(const uint8_t *data, uint32_t len, bool done, struct bgp_msg *m)
{
	struct reader r;
	rd_init(&r, data, len);
	for (unsigned i = 0; i < 16; i++) {
		uint8_t b;
		if (!rd_peek_u8(&r, i, &b))
			return BGP_SHORT;
		if (b != 0xff)
			return BGP_BAD;
	}
	rd_skip(&r, 16);
	uint16_t mlen = rd_be16(&r);
	uint8_t type = rd_u8(&r);
	if (!rd_ok(&r))
		return BGP_SHORT;
	m->type = type;
	switch (type) {
	case 1:
		if (mlen < 29 || mlen > 4096)
			return BGP_BAD;
		break;
	case 2:
		if (mlen < 23)
			return BGP_BAD;
		break;
	case 3:
		if (mlen < 21)
			return BGP_BAD;
		break;
	case 4:
		if (mlen != 19)
			return BGP_BAD;
		break;
	case 5:
		if (mlen < 23)
			return BGP_BAD;
		break;
	default:
		return BGP_BAD;
	}
	size_t blen = (size_t)mlen - 19;
	if (!rd_has(&r, blen)) {
		/* A long UPDATE may be cut by the first-bytes budget: the header
		 * has decided when no more will come. */
		if (!done)
			return BGP_SHORT;
		return type == 2 || type == 3 ? BGP_OK : BGP_BAD;
	}
	struct reader b = rd_sub(&r, blen);
	if (type == 1) {
		uint8_t version = rd_u8(&b);
		m->as = rd_be16(&b);
		m->hold = rd_be16(&b);
		m->id = rd_be32(&b);
		uint8_t optlen = rd_u8(&b);
		if (!rd_ok(&b) || version != 4 || (m->hold != 0 && m->hold < 3) || m->id == 0 ||
		    m->as == 0)
			return BGP_BAD;
		if (optlen != rd_remaining(&b)) /* RFC 9072 extended length (255) is not seen */
			return BGP_BAD;
		struct reader p = rd_sub(&b, optlen);
		if (!bgp_open_params(&p, m))
			return BGP_BAD;
		m->open = true;
	} else if (type == 2) {
		uint16_t wlen = rd_be16(&b);
		rd_skip(&b, wlen);
		uint16_t alen = rd_be16(&b);
		rd_skip(&b, alen);
		if (!rd_ok(&b))
			return BGP_BAD;
	} else if (type == 3) {
		uint8_t code = rd_u8(&b);
		if (code < 1 || code > 8) /* RFC 4271 1-6, RFC 7313 7, RFC 9234 8 */
			return BGP_BAD;
	} else if (type == 5) {
		(void)rd_be16(&b); /* AFI */
		uint8_t subtype = rd_u8(&b);
		if (subtype > 2 || blen != 4)
			return BGP_BAD;
	}
	return BGP_OK;
}

static const char *bgp_type_name(uint8_t t)
{
	switch (t) {
	case 1:
		return "OPEN";
	case 2:
		return "UPDATE";
	case 3:
		return "NOTIFICATION";
	case 4:
		return "KEEPALIVE";
	default:
		return "ROUTE-REFRESH";
	}
}

static void bgp_add_open(struct ident_evidence *ev, const struct bgp_msg *m, const char *as_key,
                         const char *id_key)
{
	char b[16];
	ident_add_u64(ev, as_key, m->as);
	snprintf(b, sizeof b, "%u.%u.%u.%u", (unsigned)(m->id >> 24), (unsigned)(m->id >> 16 & 0xff),
	         (unsigned)(m->id >> 8 & 0xff), (unsigned)(m->id & 0xff));
	ident_add_str(ev, id_key, b);
}

static enum ident_verdict bgp_match(const struct ident_input *in, struct ident_evidence *ev)
{
	struct bgp_msg c = {0}, s = {0};
	enum bgp_parse pc = in->len[0] ? bgp_first(in->data[0], in->len[0], in->done[0], &c) : BGP_SHORT;
	enum bgp_parse ps = in->len[1] ? bgp_first(in->data[1], in->len[1], in->done[1], &s) : BGP_SHORT;
	if (pc == BGP_BAD || ps == BGP_BAD)
		return IDENT_NO_MATCH;
	if (pc == BGP_SHORT && !in->done[0] && (in->len[0] || ps != BGP_OK))
		return IDENT_NEED_MORE;
	if (pc == BGP_SHORT && in->len[0])
		return IDENT_NO_MATCH; /* done, and the client's bytes are no whole header */
	if (ps == BGP_SHORT && in->len[1] && in->done[1])
		return IDENT_NO_MATCH;
	if (pc == BGP_OK && ps == BGP_SHORT && !in->done[1])
		return IDENT_NEED_MORE;
	if (pc != BGP_OK && ps != BGP_OK)
		return in->done[0] && in->done[1] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
	ev->server_confirmed = ps == BGP_OK;
	ev->confidence = pc == BGP_OK && ps == BGP_OK ? 95 : 80;
	ident_add_str(ev, "bgp_type", bgp_type_name(pc == BGP_OK ? c.type : s.type));
	if (c.open)
		bgp_add_open(ev, &c, "bgp_as", "bgp_id");
	if (s.open)
		bgp_add_open(ev, &s, c.open ? "bgp_peer_as" : "bgp_as", c.open ? "bgp_peer_id" : "bgp_id");
	if (c.open || s.open)
		ident_add_u64(ev, "bgp_hold_time", c.open ? c.hold : s.hold);
	return IDENT_MATCH;
}

/* The first bytes (identify.h, first_byte), of direction d.
 * The client's: bgp_first on the client's bytes: the marker of 0xff.
 * The server's: none declared. */
static bool bgp_first_byte(int d, uint8_t transport, uint8_t b)
{
	if (d != 0)
		return true;
	(void)transport;
	return b == 0xff;
}

const struct ident_proto ident_bgp = {"bgp", "BGP-4 (RFC 4271)", IDENT_TCP, bgp_match, NULL, bgp_first_byte};
