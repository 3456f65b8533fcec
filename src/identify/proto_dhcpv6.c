/*
 * proto_dhcpv6.c - DHCPv6 (RFC 8415), over UDP (clients on 546, servers
 * and relays on 547), one message a datagram.
 *
 *   client/server message:             relay message (12 Relay-forw,
 *   +----------+-------------------+    13 Relay-repl):
 *   | msg-type | transaction-id 24 |    msg-type, hop-count,
 *   +----------+-------------------+    link-address 16, peer-address 16,
 *   | options ...                  |    options ...
 *
 *   option: code (16) | length (16) | data
 *
 * msg-type 1-11 (Solicit, Advertise, Request, Confirm, Renew, Rebind,
 * Reply, Release, Decline, Reconfigure, Information-request) or 12-13
 * (relay); the options walk exactly to the datagram's end, each with an
 * assigned code (1-143, IANA DHCPv6 option codes), and there is at least
 * one. A client's first message, a Solicit or Information-request, is
 * multicast to ff02::1:2 and its answer comes from the server's own
 * address: the client's message alone is enough.
 */
#include "common/reader.h"
#include "identify/identify.h"
#include "identify/text_proto.h"

struct dhcpv6_msg {
	uint8_t type;
	const uint8_t *vendor; /* Vendor Class (16): the first class string */
	size_t vendor_len;
	char fqdn[IDENT_VALUE_MAX];
	size_t fqdn_len;
};

/* The Client FQDN option (39, RFC 4704): flags, then a DNS-encoded name
 * (maybe partial, without the root label), copied dotted. */
static void dhcpv6_fqdn(struct reader o, struct dhcpv6_msg *m)
{
	(void)rd_u8(&o);
	size_t n = 0;
	while (rd_ok(&o) && rd_remaining(&o)) {
		uint8_t l = rd_u8(&o);
		if (l == 0 || l > 63 || !rd_printable(&o, l))
			break;
		if (n && n < sizeof m->fqdn)
			m->fqdn[n++] = '.';
		for (uint8_t i = 0; i < l; i++) {
			uint8_t c = rd_u8(&o);
			if (n < sizeof m->fqdn)
				m->fqdn[n++] = (char)c;
		}
	}
	m->fqdn_len = n;
}

static bool dhcpv6_parse(struct reader *r, struct dhcpv6_msg *m)
{
	m->type = rd_u8(r);
	if (!rd_ok(r) || m->type == 0 || m->type > 13)
		return false;
	rd_skip(r, m->type >= 12 ? 1 + 16 + 16 : 3);
	if (!rd_ok(r) || !rd_has(r, 4))
		return false;
	while (rd_remaining(r)) {
		uint16_t code = rd_be16(r), len = rd_be16(r);
		struct reader o = rd_sub(r, len);
		if (!rd_ok(r) || code == 0 || code > 143)
			return false;
		if (code == 39)
			dhcpv6_fqdn(o, m);
		else if (code == 16 && !m->vendor && len >= 6) {
			rd_skip(&o, 4); /* enterprise number */
			uint16_t cl = rd_be16(&o);
			const uint8_t *c = rd_bytes(&o, cl);
			struct reader cr;
			rd_init(&cr, c, c ? cl : 0);
			if (c && rd_printable(&cr, cl)) {
				m->vendor = c;
				m->vendor_len = cl;
			}
		}
	}
	return true;
}

static int dhcpv6_first(const struct ident_input *in, int d, struct dhcpv6_msg *m)
{
	struct reader r;
	if (!ident_dgram(in, d, 0, &r))
		return 0;
	return dhcpv6_parse(&r, m) ? 1 : -1;
}

static const char *const dhcpv6_types[] = {
    "",       "Solicit", "Advertise", "Request",     "Confirm",             "Renew",      "Rebind",
    "Reply",  "Release", "Decline",   "Reconfigure", "Information-request", "Relay-forw", "Relay-repl",
};

/* dhcpv6_match past its cheap NO_MATCH tests. Out of line: the tests run
 * without this function's frame. */
__attribute__((noinline)) static enum ident_verdict
dhcpv6_match_parse(const struct ident_input *in, struct ident_evidence *ev)
{
	struct dhcpv6_msg c = {0}, s = {0};
	int pc = dhcpv6_first(in, 0, &c), ps = dhcpv6_first(in, 1, &s);
	if (pc < 0 || ps < 0)
		return IDENT_NO_MATCH;
	if (pc == 0) {
		if (ps == 0 || !in->done[0] || !in->done[1])
			return in->done[0] && in->done[1] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
		c = s;
	}
	ident_add_str(ev, "dhcpv6_type", dhcpv6_types[c.type]);
	if (c.fqdn_len)
		ident_add(ev, "dhcpv6_fqdn", (const uint8_t *)c.fqdn, c.fqdn_len);
	if (c.vendor)
		ident_add(ev, "dhcpv6_vendor_class", c.vendor, c.vendor_len);
	ev->server_confirmed = pc > 0 && ps > 0;
	ev->confidence = ev->server_confirmed ? 95 : 85;
	return IDENT_MATCH;
}

static enum ident_verdict dhcpv6_match(const struct ident_input *in, struct ident_evidence *ev)
{
	if (in->transport != IDENT_UDP)
		return IDENT_NO_MATCH;
	/* The usual NO_MATCH of dhcpv6_match_parse (dhcpv6_first -1 on either
	 * side) before the messages are cleared and parsed: a first datagram
	 * whose type is none, too short for its header and an option, or whose
	 * first option has no assigned code or does not fit. */
	for (int d = 0; d < 2; d++) {
		struct reader r;
		uint8_t t, c0, c1, l0, l1;
		if (!dgram_first(in, d, &r))
			continue;
		if (!rd_peek_u8(&r, 0, &t) || t == 0 || t > 13)
			return IDENT_NO_MATCH;
		size_t at = t >= 12 ? 1 + 1 + 16 + 16 : 4; /* the first option */
		if (!rd_has(&r, at + 4))
			return IDENT_NO_MATCH;
		(void)rd_peek_u8(&r, at, &c0);
		(void)rd_peek_u8(&r, at + 1, &c1);
		(void)rd_peek_u8(&r, at + 2, &l0);
		(void)rd_peek_u8(&r, at + 3, &l1);
		unsigned code = (unsigned)c0 << 8 | c1, len = (unsigned)l0 << 8 | l1;
		if (code == 0 || code > 143 || len > rd_remaining(&r) - at - 4)
			return IDENT_NO_MATCH;
	}
	return dhcpv6_match_parse(in, ev);
}

/* The first bytes (identify.h, first_byte), of direction d.
 * The client's: dhcpv6_match: the client's first datagram's message
 * type is 1-13.
 * The server's: the same (dhcpv6_match checks both sides' first
 * datagrams alike). */
static bool dhcpv6_first_byte(int d, uint8_t transport, uint8_t b)
{
	(void)d;
	(void)transport;
	return b >= 1 && b <= 13;
}

const struct ident_proto ident_dhcpv6 = {"dhcpv6", "DHCPv6 (RFC 8415)", IDENT_UDP, dhcpv6_match, NULL, dhcpv6_first_byte};
