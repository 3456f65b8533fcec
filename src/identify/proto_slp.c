/*
 * proto_slp.c - Service Location Protocol, version 2 (RFC 2608) and
 * version 1 (RFC 2165), over UDP (one message a datagram) or TCP.
 *
 * Version 2 header (RFC 2608 section 8):
 *
 *   +---------+---------+---------------------------+
 *   | 02      | func    | length (24): the message  |  func 1-11
 *   +---------+---------+------------+--------------+
 *   | flags O F R + 13 reserved bits = 0 | next ext offset (24) |
 *   +------------------------------------+----------------------+
 *   | XID (16)          | lang tag length (16) | lang tag (RFC 1766) ...
 *   +-------------------+
 *
 * Version 1 header (RFC 2165 section 7):
 *
 *   01 | func 1-10 | length (16) | flags O M U A F 000 | dialect 00 |
 *   language code (2 letters) | char encoding (16, IANA MIBenum) | XID
 *
 * The body is a walk of 16-bit length-prefixed strings and URL entries per
 * function (SrvRqst: PRList, service type, scopes, predicate, SPI; SrvReg:
 * URL entry, service type, ...; SrvTypeRqst: PRList, naming authority
 * (0xffff: all), scopes; ...), which must fit within the length. The
 * length field equal to the datagram, the version and function bytes, the
 * reserved flag bits and a printable language tag already make a random
 * datagram or another protocol's header pass with odds far below 2^-40.
 * SLP has no request the server must answer (multicast SrvRqst goes
 * unanswered by most hosts), so the client's message alone is a match; a
 * server's message that is not SLP cancels it.
 */
#include "common/reader.h"
#include "identify/identify.h"
#include "identify/text_proto.h"

struct slp_msg {
	uint8_t version, function;
	const uint8_t *what; /* service type or URL, the analyst's pivot */
	size_t what_len;
	bool what_is_url;
	const uint8_t *scope;
	size_t scope_len;
};

enum slp_parse { SLP_BAD, SLP_SHORT, SLP_OK };

/* A 16-bit length-prefixed string; NULL on overrun. */
static const uint8_t *slp_str(struct reader *r, size_t *n)
{
	uint16_t len = rd_be16(r);
	*n = len;
	const uint8_t *b = rd_bytes(r, len);
	return rd_ok(r) ? b : NULL;
}

/* A v2 authentication block (RFC 2608 9.2): BSD, length (the whole block). */
static bool slp_auth(struct reader *r)
{
	(void)rd_be16(r);
	uint16_t len = rd_be16(r);
	if (!rd_ok(r) || len < 10)
		return false;
	rd_skip(r, (size_t)len - 4);
	return rd_ok(r);
}

static bool slp_auths(struct reader *r, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (!slp_auth(r))
			return false;
	return true;
}

/* A v2 URL entry (RFC 2608 4.3): reserved, lifetime, URL, auth blocks. */
static bool slp_url(struct reader *r, struct slp_msg *m)
{
	(void)rd_u8(r);
	(void)rd_be16(r);
	size_t n;
	const uint8_t *u = slp_str(r, &n);
	uint8_t na = rd_u8(r);
	if (!u || !rd_ok(r) || n == 0 || !slp_auths(r, na))
		return false;
	if (!m->what) {
		m->what = u;
		m->what_len = n;
		m->what_is_url = true;
	}
	return true;
}

static void slp_keep(struct slp_msg *m, const uint8_t *s, size_t n, bool url)
{
	if (s && n && !m->what) {
		m->what = s;
		m->what_len = n;
		m->what_is_url = url;
	}
}

/* The body of a v2 message, within its length. */
static bool slp2_body(struct reader *b, struct slp_msg *m)
{
	size_t n;
	const uint8_t *s;
	switch (m->function) {
	case 1: /* SrvRqst */
		if (!slp_str(b, &n) || !(s = slp_str(b, &n)))
			return false;
		slp_keep(m, s, n, false);
		m->scope = slp_str(b, &m->scope_len);
		return m->scope && slp_str(b, &n) && slp_str(b, &n);
	case 2: { /* SrvRply */
		(void)rd_be16(b);
		uint16_t count = rd_be16(b);
		for (unsigned i = 0; i < count && rd_ok(b); i++)
			if (!slp_url(b, m))
				return false;
		return rd_ok(b);
	}
	case 3: /* SrvReg */
		if (!slp_url(b, m) || !(s = slp_str(b, &n)))
			return false;
		m->scope = slp_str(b, &m->scope_len);
		return m->scope && slp_str(b, &n) && slp_auths(b, rd_u8(b)) && rd_ok(b);
	case 4: /* SrvDeReg */
		m->scope = slp_str(b, &m->scope_len);
		return m->scope && slp_url(b, m) && slp_str(b, &n);
	case 5: /* SrvAck */
		(void)rd_be16(b);
		return rd_ok(b);
	case 6: /* AttrRqst */
		if (!slp_str(b, &n) || !(s = slp_str(b, &n)))
			return false;
		slp_keep(m, s, n, true);
		m->scope = slp_str(b, &m->scope_len);
		return m->scope && slp_str(b, &n) && slp_str(b, &n);
	case 7: /* AttrRply */
		(void)rd_be16(b);
		return slp_str(b, &n) && slp_auths(b, rd_u8(b)) && rd_ok(b);
	case 8: /* DAAdvert */
		(void)rd_be16(b);
		(void)rd_be32(b);
		if (!(s = slp_str(b, &n)))
			return false;
		slp_keep(m, s, n, true);
		m->scope = slp_str(b, &m->scope_len);
		return m->scope && slp_str(b, &n) && slp_str(b, &n) && slp_auths(b, rd_u8(b)) && rd_ok(b);
	case 9: { /* SrvTypeRqst */
		if (!slp_str(b, &n))
			return false;
		uint16_t na = rd_be16(b);
		if (na != 0xffff)
			rd_skip(b, na);
		m->scope = slp_str(b, &m->scope_len);
		return m->scope != NULL;
	}
	case 10: /* SrvTypeRply */
		(void)rd_be16(b);
		if (!(s = slp_str(b, &n)))
			return false;
		slp_keep(m, s, n, false);
		return true;
	case 11: /* SAAdvert */
		if (!(s = slp_str(b, &n)))
			return false;
		slp_keep(m, s, n, true);
		m->scope = slp_str(b, &m->scope_len);
		return m->scope && slp_str(b, &n) && slp_auths(b, rd_u8(b)) && rd_ok(b);
	}
	return false;
}

/* The body of a v1 message (RFC 2165 section 9 and on). */
static bool slp1_body(struct reader *b, struct slp_msg *m)
{
	size_t n;
	const uint8_t *s;
	switch (m->function) {
	case 1: /* SrvReq: PRList, predicate ("service-type/scope/where/") */
	case 6: /* AttrRqst: PRList, URL, scope, select list */
		if (!slp_str(b, &n) || !(s = slp_str(b, &n)))
			return false;
		slp_keep(m, s, n, m->function == 6);
		return true;
	case 2:  /* SrvRply: error, count, URL entries (lifetime, URL) */
	case 3:  /* SrvReg: URL entry, attributes */
	case 4:  /* SrvDeReg: URL, tags */
	case 8:  /* DAAdvert: error, URL, scopes */
	case 10: /* SrvTypeRply: error, count, types */
		if (m->function == 2 || m->function == 8 || m->function == 10)
			(void)rd_be16(b);
		if (m->function == 2 || m->function == 10)
			(void)rd_be16(b);
		if (m->function == 2 || m->function == 3)
			(void)rd_be16(b); /* lifetime */
		s = slp_str(b, &n);
		slp_keep(m, s, n, m->function != 10);
		return rd_ok(b);
	case 5: /* SrvAck */
	case 7: /* AttrRply: error, attributes */
		(void)rd_be16(b);
		return rd_ok(b);
	case 9: { /* SrvTypeRqst: PRList, naming authority, scopes */
		if (!slp_str(b, &n))
			return false;
		uint16_t na = rd_be16(b);
		if (na != 0xffff)
			rd_skip(b, na);
		m->scope = slp_str(b, &m->scope_len);
		return m->scope != NULL;
	}
	}
	return false;
}

static bool slp_alpha(uint8_t c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

/* One message at r. avail: bytes there are (UDP: the datagram, exactly);
 * exact: the length must equal avail. */
static enum slp_parse slp_parse(struct reader *r, bool exact, struct slp_msg *m)
{
	uint8_t ver, fn;
	if (!rd_peek_u8(r, 0, &ver))
		return SLP_SHORT;
	if (ver != 1 && ver != 2)
		return SLP_BAD;
	if (!rd_peek_u8(r, 1, &fn))
		return SLP_SHORT;
	if (fn == 0 || fn > (ver == 2 ? 11 : 10))
		return SLP_BAD;
	m->version = ver;
	m->function = fn;
	struct reader h = *r;
	size_t hdr, len, total;
	if (ver == 2) {
		if (!rd_has(&h, 14))
			return exact ? SLP_BAD : SLP_SHORT;
		rd_skip(&h, 2);
		len = rd_be24(&h);
		uint16_t flags = rd_be16(&h);
		uint32_t ext = rd_be24(&h);
		(void)rd_be16(&h); /* XID */
		uint16_t ll = rd_be16(&h);
		if ((flags & 0x1fff) || ll == 0 || ll > 64)
			return SLP_BAD;
		hdr = 14u + ll;
		total = len;
		if (len < hdr || (ext != 0 && (ext < hdr || ext >= len)))
			return SLP_BAD;
		if (!rd_has(&h, ll))
			return exact ? SLP_BAD : SLP_SHORT;
		for (size_t i = 0; i < ll; i++) {
			uint8_t c = rd_u8(&h);
			if (!slp_alpha(c) && c != '-' && !(c >= '0' && c <= '9'))
				return SLP_BAD;
		}
		if (ext)
			len = ext; /* the extensions follow the body */
	} else {
		if (!rd_has(&h, 12))
			return exact ? SLP_BAD : SLP_SHORT;
		rd_skip(&h, 2);
		len = rd_be16(&h);
		uint8_t flags = rd_u8(&h), dialect = rd_u8(&h);
		uint8_t l0 = rd_u8(&h), l1 = rd_u8(&h);
		uint16_t enc = rd_be16(&h);
		(void)rd_be16(&h);
		if ((flags & 0x07) || dialect != 0 || !slp_alpha(l0) || !slp_alpha(l1) || enc == 0 ||
		    enc > 2259)
			return SLP_BAD;
		hdr = 12;
		total = len;
		if (len < hdr)
			return SLP_BAD;
	}
	if (exact && total != rd_remaining(r))
		return SLP_BAD;
	if (!rd_has(r, total))
		return SLP_SHORT;
	struct reader msg = rd_sub(r, total);
	rd_skip(&msg, hdr);
	struct reader b = rd_sub(&msg, len - hdr);
	bool ok = ver == 2 ? slp2_body(&b, m) : slp1_body(&b, m);
	return ok && rd_ok(&b) ? SLP_OK : SLP_BAD;
}

/* The first message of direction d: 1 SLP, 0 none yet, -1 not SLP. */
static int slp_first(const struct ident_input *in, int d, struct slp_msg *m)
{
	struct reader r;
	if (in->transport == IDENT_UDP) {
		if (!ident_dgram(in, d, 0, &r))
			return 0;
		return slp_parse(&r, true, m) == SLP_OK ? 1 : -1;
	}
	if (in->midstream[d])
		return -1;
	rd_init(&r, in->data[d], in->len[d]);
	enum slp_parse p = slp_parse(&r, false, m);
	if (p == SLP_SHORT)
		return in->done[d] && in->len[d] ? -1 : 0;
	return p == SLP_OK ? 1 : -1;
}

static const char *const slp_functions[] = {
    "",          "SrvRqst",  "SrvRply",  "SrvReg",      "SrvDeReg",    "SrvAck",
    "AttrRqst",  "AttrRply", "DAAdvert", "SrvTypeRqst", "SrvTypeRply", "SAAdvert",
};

/* slp_first -1 from the first two bytes, before the parse: a version
 * other than 1 and 2 or a function it does not have (UDP: or a datagram
 * without them; TCP: or bytes from the middle of the stream). */
static bool slp_quick_bad(const struct ident_input *in, int d)
{
	struct reader r;
	uint8_t ver, fn;
	if (in->transport == IDENT_UDP) {
		if (!dgram_first(in, d, &r))
			return false;
		if (!rd_peek_u8(&r, 0, &ver) || !rd_peek_u8(&r, 1, &fn))
			return true;
	} else {
		if (in->midstream[d])
			return true;
		rd_init(&r, in->data[d], in->len[d]);
		if (!rd_peek_u8(&r, 0, &ver))
			return false;
		if (ver != 1 && ver != 2)
			return true;
		if (!rd_peek_u8(&r, 1, &fn))
			return false;
	}
	return (ver != 1 && ver != 2) || fn == 0 || fn > (ver == 2 ? 11 : 10);
}

/* slp_match past its cheap NO_MATCH tests. Out of line: the tests run
 * without this function's frame. */
__attribute__((noinline)) static enum ident_verdict
slp_match_parse(const struct ident_input *in, struct ident_evidence *ev)
{
	struct slp_msg c = {0}, s = {0};
	int pc = slp_first(in, 0, &c), ps = slp_first(in, 1, &s);
	if (pc < 0 || ps < 0)
		return IDENT_NO_MATCH;
	if (pc == 0) {
		/* one side captured: a lone server message (an advert or reply
		 * whose request went unseen) */
		if (ps == 0 || !in->done[0] || !in->done[1])
			return in->done[0] && in->done[1] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
		c = s;
	} else if (ps > 0 && s.version != c.version) {
		return IDENT_NO_MATCH;
	}
	/* a request waits for its answer while one may come */
	bool request = c.function == 1 || c.function == 3 || c.function == 4 || c.function == 6 ||
	               c.function == 9;
	if (pc > 0 && ps == 0 && request && !in->done[1])
		return IDENT_NEED_MORE;
	ident_add_u64(ev, "slp_version", c.version);
	ident_add_str(ev, "slp_function", slp_functions[c.function]);
	if (c.what)
		ident_add(ev, c.what_is_url ? "slp_url" : "slp_service_type", c.what,
		          c.what_len > 128 ? 128 : c.what_len);
	if (c.scope && c.scope_len)
		ident_add(ev, "slp_scope", c.scope, c.scope_len > 64 ? 64 : c.scope_len);
	ev->server_confirmed = pc > 0 && ps > 0;
	ev->confidence = pc > 0 && ps > 0 ? 95 : 85;
	return IDENT_MATCH;
}

static enum ident_verdict slp_match(const struct ident_input *in, struct ident_evidence *ev)
{
	/* The usual NO_MATCH of slp_match_parse (slp_first -1 on either side).
	 */
	if (slp_quick_bad(in, 0) || slp_quick_bad(in, 1))
		return IDENT_NO_MATCH;
	return slp_match_parse(in, ev);
}

/* The first bytes (identify.h, first_byte), of direction d.
 * The client's: slp_quick_bad on the client: version 1 or 2, over
 * either transport (TCP from the stream's start).
 * The server's: the same (slp_quick_bad checks both sides alike). */
static bool slp_first_byte(int d, uint8_t transport, uint8_t b)
{
	(void)d;
	(void)transport;
	return b == 1 || b == 2;
}

const struct ident_proto ident_slp = {"slp", "SLP (RFC 2608, RFC 2165)", IDENT_TCP | IDENT_UDP,
                                      slp_match, NULL, slp_first_byte};
