/*
 * proto_ssdp.c - SSDP, the Simple Service Discovery Protocol of UPnP (UPnP
 * Device Architecture 1.1/2.0 section 1; draft-cai-ssdp-v1-03): HTTP
 * messages over UDP (HTTPU/HTTPMU), one message a datagram.
 *
 *   M-SEARCH * HTTP/1.1          search (multicast to 239.255.255.250:1900
 *   HOST: 239.255.255.250:1900    or [ff02::c]:1900, or unicast)
 *   MAN: "ssdp:discover"
 *   ST: ssdp:all | upnp:rootdevice | uuid:... | urn:...
 *
 *   NOTIFY * HTTP/1.1            advertisement (one-way)
 *   NT: ... / NTS: ssdp:alive | ssdp:byebye | ssdp:update / USN: ...
 *
 *   HTTP/1.1 200 OK              unicast answer to a search
 *   ST: ... / USN: ... / LOCATION: ... / SERVER: ...
 *
 * The request lines, with "*" as the request target and a method no other
 * HTTP use has, are SSDP's alone (HTTP itself is identified over TCP only).
 * A UDP "HTTP/1.x 200 OK" is taken as SSDP only with the ST and USN header
 * lines of a search answer. A search waits for its answer while one may
 * come in the same flow (unicast searches); other messages match at once.
 */
#include "common/reader.h"
#include "identify/identify.h"
#include "identify/text_proto.h"

#define SSDP_LINE_MAX 1024
#define SSDP_LINES 40

enum ssdp_kind { SSDP_MSEARCH = 1, SSDP_NOTIFY, SSDP_RESPONSE };

struct ssdp_msg {
	enum ssdp_kind kind;
	const uint8_t *st, *server, *location;
	size_t st_len, server_len, location_len;
	bool usn;
};

static bool ssdp_eq(const uint8_t *l, size_t n, const char *s)
{
	size_t i = 0;
	for (; s[i]; i++)
		if (i >= n || l[i] != (uint8_t)s[i])
			return false;
	return i == n;
}

/* "NAME:" at the start of a header line, ignoring case; the value with
 * leading blanks skipped goes to v. */
static bool ssdp_header(const uint8_t *l, size_t n, const char *name, const uint8_t **v,
                        size_t *vn)
{
	struct reader r;
	rd_init(&r, l, n);
	if (!rd_starts_ci(&r, name))
		return false;
	size_t k = 0;
	while (name[k])
		k++;
	rd_skip(&r, k);
	uint8_t c;
	if (!rd_peek_u8(&r, 0, &c) || c != ':')
		return false;
	rd_skip(&r, 1);
	while (rd_peek_u8(&r, 0, &c) && (c == ' ' || c == '\t'))
		rd_skip(&r, 1);
	*v = rd_rest(&r, vn);
	return true;
}

/* One datagram: true when it is an SSDP message. */
static bool ssdp_parse(struct reader *r, struct ssdp_msg *m)
{
	const uint8_t *l;
	size_t n;
	if (!rd_line(r, SSDP_LINE_MAX, &l, &n))
		return false;
	if (ssdp_eq(l, n, "M-SEARCH * HTTP/1.1") || ssdp_eq(l, n, "M-SEARCH * HTTP/1.0"))
		m->kind = SSDP_MSEARCH;
	else if (ssdp_eq(l, n, "NOTIFY * HTTP/1.1") || ssdp_eq(l, n, "NOTIFY * HTTP/1.0"))
		m->kind = SSDP_NOTIFY;
	else if (ssdp_eq(l, n, "HTTP/1.1 200 OK") || ssdp_eq(l, n, "HTTP/1.0 200 OK"))
		m->kind = SSDP_RESPONSE;
	else
		return false;
	for (int i = 0; i < SSDP_LINES; i++) {
		if (!rd_line(r, SSDP_LINE_MAX, &l, &n))
			break; /* a last line without its end, or the datagram's end */
		if (n == 0)
			break;
		struct reader lr;
		rd_init(&lr, l, n);
		if (!rd_printable(&lr, n))
			return false;
		const uint8_t *v;
		size_t vn;
		if (ssdp_header(l, n, "ST", &v, &vn) || ssdp_header(l, n, "NT", &v, &vn)) {
			m->st = v;
			m->st_len = vn;
		} else if (ssdp_header(l, n, "SERVER", &v, &vn) || ssdp_header(l, n, "USER-AGENT", &v, &vn)) {
			if (!m->server) {
				m->server = v;
				m->server_len = vn;
			}
		} else if (ssdp_header(l, n, "LOCATION", &v, &vn)) {
			m->location = v;
			m->location_len = vn;
		} else if (ssdp_header(l, n, "USN", &v, &vn)) {
			m->usn = true;
		}
	}
	return m->kind != SSDP_RESPONSE || (m->st && m->usn);
}

/* The first datagram of direction d: 1 SSDP, 0 none, -1 not SSDP. */
static int ssdp_first(const struct ident_input *in, int d, struct ssdp_msg *m)
{
	struct reader r;
	if (!ident_dgram(in, d, 0, &r))
		return 0;
	return ssdp_parse(&r, m) ? 1 : -1;
}

/* ssdp_match past its cheap NO_MATCH tests. Out of line: the tests run
 * without this function's frame. */
__attribute__((noinline)) static enum ident_verdict
ssdp_match_parse(const struct ident_input *in, struct ident_evidence *ev)
{
	struct ssdp_msg c = {0}, s = {0};
	int pc = ssdp_first(in, 0, &c), ps = ssdp_first(in, 1, &s);
	if (pc < 0 || ps < 0)
		return IDENT_NO_MATCH;
	if (pc == 0) {
		/* one side captured: the server's message alone */
		if (ps == 0 || !in->done[0] || !in->done[1])
			return in->done[0] && in->done[1] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
		c = s;
	}
	if (pc > 0 && c.kind == SSDP_MSEARCH && ps == 0 && !in->done[1])
		return IDENT_NEED_MORE;
	bool confirmed = pc > 0 && ps > 0 && c.kind == SSDP_MSEARCH && s.kind == SSDP_RESPONSE;
	ident_add_str(ev, "ssdp_method",
	              c.kind == SSDP_MSEARCH ? "M-SEARCH" : c.kind == SSDP_NOTIFY ? "NOTIFY" : "200 OK");
	if (c.st)
		ident_add(ev, "ssdp_st", c.st, c.st_len > 128 ? 128 : c.st_len);
	const struct ssdp_msg *sv = c.server ? &c : s.server ? &s : NULL;
	if (sv)
		ident_add(ev, "ssdp_server", sv->server, sv->server_len > 128 ? 128 : sv->server_len);
	const struct ssdp_msg *lo = c.location ? &c : s.location ? &s : NULL;
	if (lo)
		ident_add(ev, "ssdp_location", lo->location, lo->location_len > 128 ? 128 : lo->location_len);
	ev->server_confirmed = confirmed;
	ev->confidence = confirmed ? 95 : 85;
	return IDENT_MATCH;
}

static enum ident_verdict ssdp_match(const struct ident_input *in, struct ident_evidence *ev)
{
	if (in->transport != IDENT_UDP)
		return IDENT_NO_MATCH;
	/* The usual NO_MATCH of ssdp_match_parse (ssdp_first -1 on either side)
	 * from one byte: a first datagram that does not start "M-SEARCH",
	 * "NOTIFY" or "HTTP" has no start line ssdp_parse takes. */
	for (int d = 0; d < 2; d++) {
		struct reader r;
		uint8_t b0;
		if (dgram_first(in, d, &r) &&
		    (!rd_peek_u8(&r, 0, &b0) || (b0 != 'M' && b0 != 'N' && b0 != 'H')))
			return IDENT_NO_MATCH;
	}
	return ssdp_match_parse(in, ev);
}

/* The first bytes (identify.h, first_byte), of direction d.
 * The client's: ssdp_match: a first datagram starts "M-SEARCH",
 * "NOTIFY" or "HTTP".
 * The server's: the same (ssdp_match checks both sides' first datagrams
 * alike). */
static bool ssdp_first_byte(int d, uint8_t transport, uint8_t b)
{
	(void)d;
	(void)transport;
	return b == 'M' || b == 'N' || b == 'H';
}

const struct ident_proto ident_ssdp = {"ssdp", "SSDP (UPnP Device Architecture)", IDENT_UDP,
                                       ssdp_match, NULL, ssdp_first_byte};
