/*
 * proto_sip.c - SIP (RFC 3261, methods of RFC 3262, 3265/6665, 3311, 3428,
 * 3515, 3903, 6086), over UDP (one message a datagram) or TCP.
 *
 * The start line of the first message of a direction:
 *
 *   Request:  METHOD SP Request-URI SP "SIP/2.0" CRLF
 *             INVITE sip:bob@example.com SIP/2.0
 *             ^ known method, upper case (methods are case-sensitive)
 *                    ^ sip: / sips: / tel: / urn:, no spaces, bounded
 *   Response: "SIP/2.0" SP 3DIGIT (100-699) SP Reason-Phrase CRLF
 *   then header lines ("User-Agent: ...", "Server: ...") up to a blank line.
 *
 * Keepalives (RFC 5626: a bare CRLF CRLF, or a lone CRLF; over UDP also a
 * vendor's short datagram without a line end, such as "hello") before the
 * first message are skipped. "SIP/2.0" after a known method, or a status line,
 * is used by no other protocol; a server that answers with anything else
 * cancels the claim.
 */
#include <string.h>

#include "common/reader.h"
#include "identify/identify.h"

#define SIP_LINE_MAX 1024
#define SIP_URI_MAX 128
#define SIP_HEADER_LINES 40
#define SIP_KEEPALIVE_MAX 16 /* "SIP/2.0 100 X\r\n" is longer */

static const char *const sip_methods[] = {
    "INVITE",    "REGISTER", "OPTIONS", "ACK",   "BYE",   "CANCEL", "SUBSCRIBE",
    "NOTIFY",    "MESSAGE",  "INFO",    "PRACK", "UPDATE", "REFER", "PUBLISH",
};

struct sip_msg {
	bool request;
	const char *method;
	const uint8_t *uri;
	size_t uri_len;
	unsigned status;
	const uint8_t *ua; /* User-Agent (or a response's Server) value */
	size_t ua_len;
};

enum sip_parse { SIP_BAD, SIP_SHORT, SIP_NONE, SIP_OK };

/* A token of r's line up to the next space (consumed, with the space). */
static bool sip_token(struct reader *l, const uint8_t **tok, size_t *n)
{
	size_t len = 0;
	uint8_t c;
	while (rd_peek_u8(l, len, &c) && c != ' ')
		len++;
	if (len == 0)
		return false;
	*tok = rd_bytes(l, len);
	*n = len;
	if (rd_remaining(l)) /* the space */
		(void)rd_u8(l);
	return *tok != NULL;
}

static bool sip_eq(const uint8_t *a, size_t n, const char *s)
{
	size_t i = 0;
	for (; i < n && s[i]; i++)
		if (a[i] != (uint8_t)s[i])
			return false;
	return i == n && s[i] == 0;
}

static bool sip_start_line(const uint8_t *line, size_t n, struct sip_msg *m)
{
	struct reader l;
	rd_init(&l, line, n);
	if (!rd_printable(&l, n))
		return false;
	if (rd_starts_ci(&l, "SIP/2.0 ")) {
		rd_skip(&l, 8);
		unsigned code = 0;
		for (int i = 0; i < 3; i++) {
			uint8_t c = rd_u8(&l);
			if (c < '0' || c > '9')
				return false;
			code = code * 10 + (unsigned)(c - '0');
		}
		uint8_t sp;
		if (!rd_ok(&l) || code < 100 || code > 699)
			return false;
		if (rd_peek_u8(&l, 0, &sp) && sp != ' ')
			return false;
		m->request = false;
		m->status = code;
		return true;
	}
	const uint8_t *meth, *uri, *ver;
	size_t mn, un, vn;
	if (!sip_token(&l, &meth, &mn) || !sip_token(&l, &uri, &un) || !sip_token(&l, &ver, &vn))
		return false;
	if (rd_remaining(&l) != 0)
		return false;
	m->method = NULL;
	for (size_t i = 0; i < sizeof sip_methods / sizeof sip_methods[0]; i++)
		if (sip_eq(meth, mn, sip_methods[i]))
			m->method = sip_methods[i];
	if (!m->method)
		return false;
	struct reader u, v;
	rd_init(&u, uri, un);
	rd_init(&v, ver, vn);
	if (!(rd_starts_ci(&u, "sip:") || rd_starts_ci(&u, "sips:") || rd_starts_ci(&u, "tel:") ||
	      rd_starts_ci(&u, "urn:")) ||
	    un < 5 || un > 512)
		return false;
	if (vn != 7 || !rd_starts_ci(&v, "SIP/2.0"))
		return false;
	m->request = true;
	m->uri = uri;
	m->uri_len = un;
	return true;
}

/* The bytes of an unfinished first line could still become a start line:
 * their first word is a prefix of a method or of "SIP/2.0". */
static bool sip_could_start(const struct reader *r)
{
	size_t n = 0;
	uint8_t c;
	while (rd_peek_u8(r, n, &c) && c != ' ')
		n++;
	for (size_t i = 0; i <= sizeof sip_methods / sizeof sip_methods[0]; i++) {
		const char *w = i < sizeof sip_methods / sizeof sip_methods[0] ? sip_methods[i] : "SIP/2.0";
		size_t k = 0;
		while (k < n && w[k] && rd_peek_u8(r, k, &c) && c == (uint8_t)w[k])
			k++;
		if (k == n)
			return true;
	}
	return false;
}

/* Header lines, looking for User-Agent (requests) / Server (responses). A
 * cut-off header section is fine: the start line decided. */
static void sip_headers(struct reader *r, struct sip_msg *m)
{
	for (int i = 0; i < SIP_HEADER_LINES; i++) {
		const uint8_t *line;
		size_t n;
		if (!rd_line(r, SIP_LINE_MAX, &line, &n) || n == 0)
			return;
		struct reader l;
		rd_init(&l, line, n);
		size_t skip = 0;
		if (rd_starts_ci(&l, "User-Agent:"))
			skip = 11;
		else if (!m->ua && rd_starts_ci(&l, "Server:"))
			skip = 7;
		if (!skip)
			continue;
		rd_skip(&l, skip);
		uint8_t c;
		while (rd_peek_u8(&l, 0, &c) && (c == ' ' || c == '\t'))
			(void)rd_u8(&l);
		m->ua = rd_rest(&l, &m->ua_len);
	}
}

/* The first message of direction d. */
static enum sip_parse sip_dir(const struct ident_input *in, int d, struct sip_msg *m)
{
	struct reader all, r;
	rd_init(&all, in->data[d], in->len[d]);
	if (in->transport == IDENT_UDP) {
		unsigned k = 0;
		for (; k < in->ndgrams[d]; k++) {
			r = rd_sub(&all, in->dgram_len[d][k]);
			uint8_t c;
			size_t i = 0;
			while (rd_peek_u8(&r, i, &c) && (c == '\r' || c == '\n'))
				i++;
			/* Vendor keepalives: a datagram too short to hold a
			 * start line ("hello", 5 bytes, between Huawei peers)
			 * and without a line end. */
			size_t rem = rd_remaining(&r);
			if (i < rem && rem > SIP_KEEPALIVE_MAX)
				break; /* not a keepalive (no line-end search needed) */
			struct reader t = r;
			size_t tn;
			const uint8_t *tb = rd_rest(&t, &tn);
			if (i < rem && memchr(tb, '\n', tn))
				break; /* not a keepalive */
		}
		if (k == in->ndgrams[d])
			return SIP_NONE;
	} else {
		r = all;
		uint8_t c;
		while (rd_peek_u8(&r, 0, &c) && (c == '\r' || c == '\n'))
			(void)rd_u8(&r);
		if (!rd_remaining(&r))
			return SIP_NONE;
	}
	const uint8_t *line;
	size_t n;
	if (!rd_line(&r, SIP_LINE_MAX, &line, &n)) {
		/* No line end yet: wait while it may come and the bytes so far
		 * could begin a start line. */
		size_t have = rd_remaining(&r), text = rd_partial_len(&r, have);
		if (in->done[d] || have >= SIP_LINE_MAX || in->transport == IDENT_UDP ||
		    !rd_printable(&r, text) || !sip_could_start(&r))
			return SIP_BAD;
		return SIP_SHORT;
	}
	if (!sip_start_line(line, n, m))
		return SIP_BAD;
	sip_headers(&r, m);
	return SIP_OK;
}

/* A byte that may start a start line: the first letter of a method in
 * sip_methods, or of "SIP/2.0" (any case: sip_start_line reads it so). */
static bool sip_initial(uint8_t b)
{
	switch (b) {
	case 'I': case 'R': case 'O': case 'A': case 'B': case 'C': case 'S':
	case 'N': case 'M': case 'P': case 'U': case 's':
		return true;
	default:
		return false;
	}
}

/* sip_dir's answer where the first bytes tell it: SIP_BAD for a first
 * datagram too long for a keepalive (UDP) or the first bytes of a stream
 * (TCP) that start neither with a line end nor with what a start line can
 * start with; SIP_NONE (UDP) for no datagram, or only one, a keepalive
 * without a line end. SIP_SHORT: not told here. */
static enum sip_parse sip_quick(const struct ident_input *in, int d)
{
	struct reader r;
	uint8_t b0;
	rd_init(&r, in->data[d], in->len[d]);
	if (in->transport == IDENT_UDP) {
		if (!in->ndgrams[d])
			return SIP_NONE;
		r = rd_sub(&r, in->dgram_len[d][0]);
		if (rd_remaining(&r) <= SIP_KEEPALIVE_MAX) {
			size_t n;
			const uint8_t *b = rd_rest(&r, &n);
			bool lf = n && memchr(b, '\n', n);
			return in->ndgrams[d] == 1 && !lf ? SIP_NONE : SIP_SHORT;
		}
	}
	/* TCP: a first word of no bytes (a space) could still start one */
	return rd_peek_u8(&r, 0, &b0) && b0 != '\r' && b0 != '\n' && b0 != ' ' && !sip_initial(b0)
	           ? SIP_BAD
	           : SIP_SHORT;
}

/* sip_match past its cheap NO_MATCH tests. Out of line: the tests run
 * without this function's frame. */
__attribute__((noinline)) static enum ident_verdict
sip_match_parse(const struct ident_input *in, struct ident_evidence *ev)
{
	struct sip_msg c = {0}, s = {0};
	enum sip_parse pc = sip_dir(in, 0, &c);
	if (pc == SIP_BAD)
		return IDENT_NO_MATCH;
	enum sip_parse ps = sip_dir(in, 1, &s);
	if (ps == SIP_BAD)
		return IDENT_NO_MATCH;
	if (pc == SIP_OK && ps == SIP_OK) {
		ev->server_confirmed = true;
		ev->confidence = 95;
	} else if (pc == SIP_OK) {
		if (!in->done[1])
			return IDENT_NEED_MORE;
		ev->confidence = 75;
	} else if (ps == SIP_OK) {
		if (!in->done[0])
			return IDENT_NEED_MORE;
		ev->confidence = 60;
	} else {
		return in->done[0] && in->done[1] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
	}
	const struct sip_msg *req = pc == SIP_OK && c.request ? &c : ps == SIP_OK && s.request ? &s : NULL;
	const struct sip_msg *rsp = pc == SIP_OK && !c.request ? &c : ps == SIP_OK && !s.request ? &s : NULL;
	if (req) {
		ident_add_str(ev, "sip_method", req->method);
		ident_add(ev, "sip_uri", req->uri, req->uri_len > SIP_URI_MAX ? SIP_URI_MAX : req->uri_len);
	}
	const struct sip_msg *ua = pc == SIP_OK && c.ua ? &c : ps == SIP_OK && s.ua ? &s : NULL;
	if (ua)
		ident_add(ev, "sip_user_agent", ua->ua, ua->ua_len > 128 ? 128 : ua->ua_len);
	if (rsp)
		ident_add_u64(ev, "sip_status", rsp->status);
	return IDENT_MATCH;
}

static enum ident_verdict sip_match(const struct ident_input *in, struct ident_evidence *ev)
{
	/* Either side's first message SIP_BAD is NO_MATCH (sip_match_parse):
	 * told from its first byte before the lines are looked for; and with
	 * neither side's first message there yet, nothing can be said. */
	enum sip_parse pc = sip_quick(in, 0);
	if (pc == SIP_BAD)
		return IDENT_NO_MATCH;
	enum sip_parse ps = sip_quick(in, 1);
	if (ps == SIP_BAD)
		return IDENT_NO_MATCH;
	if (pc == SIP_NONE && ps == SIP_NONE)
		return in->done[0] && in->done[1] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
	return sip_match_parse(in, ev);
}

/* The first bytes (identify.h, first_byte), of direction d.
 * The client's: TCP, sip_quick on the client's stream: a line end, a
 * space, or what a start line can start with. UDP: none declared (a
 * short datagram may be a keepalive).
 * The server's: none declared. */
static bool sip_first_byte(int d, uint8_t transport, uint8_t b)
{
	if (d != 0)
		return true;
	if (transport == IDENT_UDP)
		return true;
	return b == '\r' || b == '\n' || b == ' ' || sip_initial(b);
}

const struct ident_proto ident_sip = {"sip", "SIP (RFC 3261)", IDENT_UDP | IDENT_TCP, sip_match, NULL, sip_first_byte};
