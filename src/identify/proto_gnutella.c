/*
 * proto_gnutella.c - Gnutella 0.6 and Gnutella2 (G2) peer to peer
 * (The Annotated Gnutella Protocol Specification v0.4 and the Gnutella
 * 0.6 RFC draft (rfc-gnutella.sourceforge.net): connection handshake and
 * message header; the Gnutella2 specification (g2.doxu.org): "UDP
 * Transceiver" and "Packet Structure"; LimeWire Mojito DHT messages).
 *
 * TCP: the connecting servent opens with a text handshake, headers as in
 * HTTP, and the other answers with a status line:
 *
 *   GNUTELLA CONNECT/0.6\r\n            GNUTELLA/0.6 200 OK\r\n
 *   User-Agent: gtk-gnutella/1.2.2\r\n  User-Agent: ...\r\n
 *   ...\r\n\r\n                          ...\r\n\r\n
 *   (0.4: "GNUTELLA CONNECT/0.4\n\n", answered "GNUTELLA OK\n\n")
 *
 * UDP: every datagram is either
 *   - a Gnutella message: 16-byte GUID, function (00 ping, 01 pong,
 *     02 bye, 30 route table, 31/32 vendor, 40 push, 41 reliable UDP,
 *     44 DHT (Mojito), 80 query, 81 query hit), TTL, hops (TTL + hops
 *     <= 16), payload length (32 LE), and the payload fills the rest of
 *     the datagram exactly;
 *   - or a G2 UDP transceiver packet: "GND", flags (01 deflate, 02
 *     acknowledge me, the rest reserved for the receiver to ignore),
 *     sequence (16 LE), part, count (part 1..count; count 0: an
 *     acknowledgement, nothing after the 8 bytes), then a G2 packet whose
 *     control byte gives its length size and a name of 1-8 letters or
 *     digits (unless deflated).
 * The exact length of a Gnutella message, and "GND" with a well-formed
 * part and G2 packet, must hold for every datagram of the flow held.
 */
#include <string.h>

#include "common/reader.h"
#include "identify/identify.h"
#include "identify/text_proto.h"

/* ---- TCP ---------------------------------------------------------------- */

#define GNU_LINE_MAX 512

enum gnu_parse { GNU_BAD, GNU_SHORT, GNU_OK };

static enum gnu_parse gnu_prefix(const struct reader *r, const char *s, bool done)
{
	size_t n = strlen(s);
	if (rd_starts(r, s))
		return GNU_OK;
	/* a prefix of s so far */
	size_t have = rd_remaining(r);
	if (have < n) {
		struct reader q = *r;
		for (size_t i = 0; i < have; i++)
			if (rd_u8(&q) != (uint8_t)s[i])
				return GNU_BAD;
		return done ? GNU_BAD : GNU_SHORT;
	}
	return GNU_BAD;
}

/* The value of header `name` among the lines after the first. */
static bool gnu_header(struct reader r, const char *name, const uint8_t **v, size_t *vn)
{
	const uint8_t *line;
	size_t n;
	size_t kn = strlen(name);
	while (rd_line(&r, GNU_LINE_MAX, &line, &n) && n > 0) {
		struct reader l;
		rd_init(&l, line, n);
		if (n <= kn || !rd_starts_ci(&l, name))
			continue;
		rd_skip(&l, kn);
		uint8_t c;
		if (!rd_peek_u8(&l, 0, &c) || c != ':')
			continue;
		rd_skip(&l, 1);
		while (rd_peek_u8(&l, 0, &c) && (c == ' ' || c == '\t'))
			rd_skip(&l, 1);
		size_t rest = rd_remaining(&l);
		if (!rd_printable(&l, rest))
			return false;
		*v = rd_bytes(&l, rest);
		*vn = rest;
		return *v != NULL;
	}
	return false;
}

/* Out of line: the UDP identification runs without its frame. */
__attribute__((noinline)) static enum ident_verdict
gnu_tcp(const struct ident_input *in, struct ident_evidence *ev)
{
	struct reader c;
	rd_init(&c, in->data[0], in->len[0]);
	enum gnu_parse p = gnu_prefix(&c, "GNUTELLA CONNECT/", in->done[0]);
	if (p != GNU_OK)
		return p == GNU_SHORT ? IDENT_NEED_MORE : IDENT_NO_MATCH;
	struct reader hdr = c;
	const uint8_t *line;
	size_t n;
	if (!rd_line(&hdr, GNU_LINE_MAX, &line, &n))
		return rd_remaining(&c) < GNU_LINE_MAX && !in->done[0] ? IDENT_NEED_MORE : IDENT_NO_MATCH;
	struct reader l;
	rd_init(&l, line, n);
	rd_skip(&l, 17);
	size_t vn = rd_remaining(&l);
	const uint8_t *ver = rd_bytes(&l, vn);
	/* "0.4" or "0.6": digits and one dot */
	struct reader vr;
	rd_init(&vr, ver, vn);
	if (vn < 3 || vn > 5 || !rd_starts(&vr, "0."))
		return IDENT_NO_MATCH;
	rd_skip(&vr, 2);
	uint8_t d;
	while (rd_peek_u8(&vr, 0, &d) && d >= '0' && d <= '9')
		rd_skip(&vr, 1);
	if (rd_remaining(&vr))
		return IDENT_NO_MATCH;

	/* the answer: "GNUTELLA/0.6 NNN ..." or "GNUTELLA OK" */
	struct reader s;
	rd_init(&s, in->data[1], in->len[1]);
	const uint8_t *status = NULL;
	bool confirmed = false;
	if (in->len[1]) {
		enum gnu_parse ps = gnu_prefix(&s, "GNUTELLA", in->done[1]);
		if (ps == GNU_BAD)
			return IDENT_NO_MATCH;
		if (ps == GNU_SHORT)
			return IDENT_NEED_MORE;
		struct reader t = s;
		rd_skip(&t, 8);
		if (rd_starts(&t, " OK")) {
			confirmed = true;
		} else if (rd_starts(&t, "/0.")) {
			rd_skip(&t, 3);
			while (rd_peek_u8(&t, 0, &d) && d >= '0' && d <= '9')
				rd_skip(&t, 1);
			uint8_t sp = 0, d0 = 0, d1 = 0, d2 = 0;
			(void)rd_peek_u8(&t, 0, &sp);
			(void)rd_peek_u8(&t, 1, &d0);
			(void)rd_peek_u8(&t, 2, &d1);
			(void)rd_peek_u8(&t, 3, &d2);
			if (!rd_has(&t, 4))
				return in->done[1] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
			if (sp != ' ' || d0 < '1' || d0 > '5' || d1 < '0' || d1 > '9' || d2 < '0' || d2 > '9')
				return IDENT_NO_MATCH;
			rd_skip(&t, 1);
			status = rd_bytes(&t, 3);
			confirmed = true;
		} else if (rd_has(&t, 3)) {
			return IDENT_NO_MATCH;
		} else if (!in->done[1]) {
			return IDENT_NEED_MORE;
		} else {
			return IDENT_NO_MATCH;
		}
	} else if (!in->done[1]) {
		return IDENT_NEED_MORE;
	}
	ev->server_confirmed = confirmed;
	ev->confidence = confirmed ? 95 : 80;
	ident_add(ev, "gnutella_version", ver, vn);
	const uint8_t *ua;
	size_t uan;
	if (gnu_header(hdr, "User-Agent", &ua, &uan))
		ident_add(ev, "gnutella_user_agent", ua, uan);
	if (status)
		ident_add(ev, "gnutella_status", status, 3);
	return IDENT_MATCH;
}

/* ---- UDP ---------------------------------------------------------------- */

static const char *gnu_function(uint8_t f)
{
	switch (f) {
	case 0x00: return "ping";
	case 0x01: return "pong";
	case 0x02: return "bye";
	case 0x30: return "route-table";
	case 0x31: return "vendor";
	case 0x32: return "vendor";
	case 0x40: return "push";
	case 0x41: return "rudp";
	case 0x44: return "dht";
	case 0x80: return "query";
	case 0x81: return "query-hit";
	default: return NULL;
	}
}

struct gnu_dgram {
	const char *kind;         /* the message's function, or "g2" */
	const uint8_t *g2name;    /* G2: the packet name, when readable */
	size_t g2name_len;
};

static bool gnu_dgram(const uint8_t *p, size_t n, struct gnu_dgram *o)
{
	struct reader r;
	rd_init(&r, p, n);
	if (rd_starts(&r, "GND")) {
		rd_skip(&r, 3);
		uint8_t flags = rd_u8(&r);
		(void)rd_le16(&r); /* sequence */
		uint8_t part = rd_u8(&r), count = rd_u8(&r);
		if (!rd_ok(&r))
			return false;
		o->kind = "g2";
		if (count == 0) /* acknowledgement */
			return rd_remaining(&r) == 0 && part >= 1;
		if (part < 1 || part > count || rd_remaining(&r) == 0)
			return false;
		if (part != 1 || (flags & 0x01))
			return true; /* a later part, or deflated: no header to read */
		uint8_t cb = rd_u8(&r);
		unsigned len_len = cb >> 6, name_len = ((cb >> 3) & 7) + 1;
		if (cb & 0x01) /* reserved */
			return false;
		rd_skip(&r, len_len);
		const uint8_t *name = rd_bytes(&r, name_len);
		if (!rd_ok(&r))
			return false;
		struct reader nr;
		rd_init(&nr, name, name_len);
		for (unsigned i = 0; i < name_len; i++) {
			uint8_t c = rd_u8(&nr);
			if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
				return false;
		}
		o->g2name = name;
		o->g2name_len = name_len;
		return true;
	}
	rd_skip(&r, 16); /* GUID */
	uint8_t f = rd_u8(&r), ttl = rd_u8(&r), hops = rd_u8(&r);
	uint32_t len = rd_le32(&r);
	if (!rd_ok(&r) || !gnu_function(f) || ttl + hops > 16 || len != rd_remaining(&r))
		return false;
	o->kind = gnu_function(f);
	return true;
}

/* Every datagram held of direction d parses; *first of the first one. */
static enum gnu_parse gnu_side(const struct ident_input *in, int d, struct gnu_dgram *first)
{
	if (in->ndgrams[d] == 0)
		return GNU_SHORT;
	struct reader r;
	rd_init(&r, in->data[d], in->len[d]);
	for (unsigned i = 0; i < in->ndgrams[d]; i++) {
		size_t n = in->dgram_len[d][i];
		const uint8_t *p = rd_bytes(&r, n);
		struct gnu_dgram g = {0};
		if (!p || !gnu_dgram(p, n, &g))
			return GNU_BAD;
		if (i == 0)
			*first = g;
	}
	return GNU_OK;
}

/* gnu_side's GNU_BAD from the first datagram's header bytes, before the
 * walk: not there in full; or, not "GND", shorter than a message header,
 * no known function, or TTL + hops over 16. */
static bool gnu_udp_quick_bad(const struct ident_input *in, int d)
{
	if (in->ndgrams[d] == 0)
		return false;
	struct reader r, m;
	size_t n = dgram_first_len(in, d);
	uint8_t b0, f, ttl, hops;
	rd_init(&r, in->data[d], in->len[d]);
	if (!rd_has(&r, n))
		return true;
	m = rd_sub(&r, n);
	if (rd_peek_u8(&m, 0, &b0) && b0 == 'G')
		return false;
	if (n < 16 + 3 + 4)
		return true;
	(void)rd_peek_u8(&m, 16, &f);
	(void)rd_peek_u8(&m, 17, &ttl);
	(void)rd_peek_u8(&m, 18, &hops);
	return !gnu_function(f) || ttl + hops > 16;
}

/* gnu_udp past its cheap NO_MATCH tests. Out of line: the tests run
 * without this function's frame. */
__attribute__((noinline)) static enum ident_verdict
gnu_udp_parse(const struct ident_input *in, struct ident_evidence *ev)
{
	struct gnu_dgram c = {0}, s = {0};
	enum gnu_parse pc = gnu_side(in, 0, &c);
	enum gnu_parse ps = gnu_side(in, 1, &s);
	if (pc == GNU_BAD || ps == GNU_BAD)
		return IDENT_NO_MATCH;
	if (pc == GNU_SHORT) {
		/* Peers are symmetric: datagrams of one side only, which an
		 * orientation by ports may have put on the server's side, are
		 * judged alike once the other side is over. */
		if (!in->done[0])
			return IDENT_NEED_MORE;
		if (ps != GNU_OK)
			return IDENT_NO_MATCH;
		c = s;
	} else if (ps == GNU_SHORT && !in->done[1]) {
		return IDENT_NEED_MORE;
	}
	ev->server_confirmed = ps == GNU_OK;
	ev->confidence = pc == GNU_OK && ps == GNU_OK ? 90 : 75;
	ident_add_str(ev, "gnutella_message", c.kind);
	if (c.g2name)
		ident_add(ev, "gnutella_g2_packet", c.g2name, c.g2name_len);
	return IDENT_MATCH;
}

static enum ident_verdict gnu_udp(const struct ident_input *in, struct ident_evidence *ev)
{
	/* The usual NO_MATCH of gnu_udp_parse (either side GNU_BAD). */
	if (gnu_udp_quick_bad(in, 0) || gnu_udp_quick_bad(in, 1))
		return IDENT_NO_MATCH;
	return gnu_udp_parse(in, ev);
}

static enum ident_verdict gnu_match(const struct ident_input *in, struct ident_evidence *ev)
{
	return in->transport == IDENT_UDP ? gnu_udp(in, ev) : gnu_tcp(in, ev);
}

/* The first bytes (identify.h, first_byte), of direction d.
 * The client's: TCP, gnu_tcp: "GNUTELLA CONNECT/" compared as far as
 * the bytes go. UDP: none declared.
 * The server's: none declared. */
static bool gnutella_first_byte(int d, uint8_t transport, uint8_t b)
{
	if (d != 0)
		return true;
	return transport == IDENT_UDP || b == 'G';
}

const struct ident_proto ident_gnutella = {"gnutella", "Gnutella 0.6 and Gnutella2 (G2)",
                                           IDENT_TCP | IDENT_UDP, gnu_match, NULL, gnutella_first_byte};
