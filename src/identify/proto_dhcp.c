/*
 * proto_dhcp.c - DHCP (RFC 2131, options RFC 2132) on its BOOTP frame
 * (RFC 951).
 *
 *   0      1      2      3
 *   | op   | htype| hlen | hops |   op 1 request / 2 reply; htype 1
 *   |            xid            |   (Ethernet), hlen 6
 *   | secs        | flags       |
 *   | ciaddr | yiaddr | siaddr | giaddr (4 each)
 *   | chaddr (16) | sname (64) | file (128)
 *   | 63 82 53 63 |  magic cookie at offset 236
 *   | options: code len value ...; 53 (message type 1-18) required; 255 end
 *
 * The options are walked to the end option (pad 0 allowed); message type
 * must be present; after the end option only pad bytes (RFC 2132 3.2:
 * "should be filled with pad options"). When both sides are there, one is a
 * request and the other a reply with the same xid; the answer's bytes after
 * its end option are then not judged (receivers ignore them: a reply whose
 * padding holds stray bytes is still the answer).
 */
#include "common/reader.h"
#include "identify/identify.h"

struct dhcp_msg {
	uint8_t op, type;
	uint32_t xid;
	const uint8_t *host;
	size_t hostlen;
};

static bool dhcp_parse(struct reader *m, struct dhcp_msg *d, bool any_tail)
{
	d->op = rd_u8(m);
	uint8_t htype = rd_u8(m), hlen = rd_u8(m), hops = rd_u8(m);
	d->xid = rd_be32(m);
	rd_skip(m, 2 + 2 + 16 + 16 + 64 + 128);
	uint32_t cookie = rd_be32(m);
	if (!rd_ok(m) || (d->op != 1 && d->op != 2) || htype != 1 || hlen != 6 || hops > 16 ||
	    cookie != 0x63825363)
		return false;
	d->type = 0;
	d->host = NULL;
	d->hostlen = 0;
	for (;;) {
		uint8_t code = rd_u8(m);
		if (!rd_ok(m))
			return false; /* no end option */
		if (code == 0)
			continue;
		if (code == 255)
			break;
		uint8_t len = rd_u8(m);
		uint8_t v0 = 0;
		(void)rd_peek_u8(m, 0, &v0);
		const uint8_t *v = rd_bytes(m, len);
		if (!v)
			return false;
		if (code == 53) {
			if (len != 1 || v0 == 0 || v0 > 18)
				return false;
			d->type = v0;
		} else if (code == 12) {
			d->host = v;
			d->hostlen = len;
		}
	}
	/* after the end option: padding only */
	uint8_t b;
	while (!any_tail && rd_peek_u8(m, 0, &b)) {
		if (b != 0)
			return false;
		rd_skip(m, 1);
	}
	return d->type != 0;
}

/* The first datagram of direction d: 1 parsed, 0 none, -1 not DHCP. */
static int dhcp_first(const struct ident_input *in, int d, struct dhcp_msg *out, bool any_tail)
{
	if (in->transport != IDENT_UDP || in->ndgrams[d] == 0)
		return 0;
	struct reader r;
	rd_init(&r, in->data[d], in->len[d]);
	struct reader m = rd_sub(&r, in->dgram_len[d][0]);
	return rd_ok(&r) && dhcp_parse(&m, out, any_tail) ? 1 : -1;
}

static const char *const dhcp_types[] = {
    "",          "DISCOVER",      "OFFER",        "REQUEST",          "DECLINE",
    "ACK",       "NAK",           "RELEASE",      "INFORM",           "FORCERENEW",
    "LEASEQUERY", "LEASEUNASSIGNED", "LEASEUNKNOWN", "LEASEACTIVE",    "BULKLEASEQUERY",
    "LEASEQUERYDONE", "ACTIVELEASEQUERY", "LEASEQUERYSTATUS", "TLS"};

/* dhcp_match past its cheap NO_MATCH tests. Out of line: the tests run
 * without this function's frame. */
__attribute__((noinline)) static enum ident_verdict
dhcp_match_parse(const struct ident_input *in, struct ident_evidence *ev)
{
	struct dhcp_msg c = {0}, s = {0};
	int pc = dhcp_first(in, 0, &c, false);
	int ps = dhcp_first(in, 1, &s, false);
	if (pc > 0 && ps < 0 && dhcp_first(in, 1, &s, true) > 0 && s.op != c.op && s.xid == c.xid)
		ps = 1; /* the answer, stray bytes after its end option */
	/* the answer before its request, stray bytes after its end option:
	 * the request may still come and excuse them (NO_MATCH is final) */
	if (pc == 0 && ps < 0 && !in->done[0] && dhcp_first(in, 1, &s, true) > 0)
		return IDENT_NEED_MORE;
	if (pc < 0 || ps < 0)
		return IDENT_NO_MATCH;
	if (pc == 0)
		return in->done[0] && in->done[1] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
	bool confirmed = false;
	if (ps > 0) {
		if (s.op == c.op || s.xid != c.xid)
			return IDENT_NO_MATCH;
		confirmed = true;
	} else if (!in->done[1]) {
		return IDENT_NEED_MORE;
	}
	ident_add_str(ev, "dhcp_type", dhcp_types[c.type]);
	if (c.host)
		ident_add(ev, "dhcp_hostname", c.host, c.hostlen);
	else if (s.host)
		ident_add(ev, "dhcp_hostname", s.host, s.hostlen);
	ev->server_confirmed = confirmed;
	ev->confidence = confirmed ? 98 : 90;
	return IDENT_MATCH;
}

static enum ident_verdict dhcp_match(const struct ident_input *in, struct ident_evidence *ev)
{
	/* The usual NO_MATCH of dhcp_match_parse (dhcp_first -1 on either side,
	 * with any tail too) from the first datagram's first bytes, before the
	 * parse: not there in full, shorter than the BOOTP frame and the
	 * cookie, or no request or reply on Ethernet (op, htype, hlen, hops).
	 */
	for (int d = 0; d < 2 && in->transport == IDENT_UDP; d++) {
		if (!in->ndgrams[d])
			continue;
		struct reader r, m;
		uint8_t op, htype, hlen, hops;
		rd_init(&r, in->data[d], in->len[d]);
		m = rd_sub(&r, in->dgram_len[d][0]);
		if (!rd_ok(&r) || !rd_has(&m, 240))
			return IDENT_NO_MATCH;
		(void)rd_peek_u8(&m, 0, &op);
		(void)rd_peek_u8(&m, 1, &htype);
		(void)rd_peek_u8(&m, 2, &hlen);
		(void)rd_peek_u8(&m, 3, &hops);
		if ((op != 1 && op != 2) || htype != 1 || hlen != 6 || hops > 16)
			return IDENT_NO_MATCH;
	}
	return dhcp_match_parse(in, ev);
}

/* The first bytes (identify.h, first_byte), of direction d.
 * The client's: dhcp_match: the client's first datagram's op is 1 or 2.
 * The server's: the same (dhcp_match checks both sides' first datagrams
 * alike). */
static bool dhcp_first_byte(int d, uint8_t transport, uint8_t b)
{
	(void)d;
	(void)transport;
	return b == 1 || b == 2;
}

const struct ident_proto ident_dhcp = {"dhcp", "DHCP (RFC 2131, RFC 2132)", IDENT_UDP, dhcp_match, NULL, dhcp_first_byte};
