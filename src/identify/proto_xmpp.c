/*
 * proto_xmpp.c - XMPP streams (RFC 6120), with STARTTLS (RFC 6120 5).
 *
 * Each side opens an XML stream (RFC 6120 4.2, 4.7):
 *
 *   client:  ["<?xml version='1.0'?>"]
 *            "<stream:stream to='example.com' version='1.0'
 *               xmlns='jabber:client'                    (or jabber:server,
 *               xmlns:stream='http://etherx.jabber.org/streams'>"  s2s)
 *   server:  ["<?xml version='1.0'?>"]
 *            "<stream:stream from='example.com' id='...' version='1.0'
 *               xmlns:stream='http://etherx.jabber.org/streams' ...>"
 *            "<stream:features><starttls xmlns=...xmpp-tls'/>..."
 *   client:  "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"
 *   server:  "<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"
 *   client:  16 03 xx ...                       a TLS record: the upgrade
 *
 * A stream header is "<stream:stream" whose tag carries the jabber content
 * namespace (client) or the etherx streams namespace (server); XML that
 * is not a stream header (SOAP, XML-RPC, a feed) does not match.
 *
 * A capture that began after the stream headers (no SYN) sees stanzas
 * (RFC 6120 8): each direction's bytes start with a top-level element
 *
 *   "<iq " | "<presence" | "<message"  (then SP, ">" or "/")
 *   "<r xmlns='urn:xmpp:sm:" | "<a xmlns='urn:xmpp:sm:"   (XEP-0198 acks)
 *   "</stream:stream>"                                      (the close)
 *
 * and, but for the close tag alone, an XMPP namespace ("jabber:",
 * "urn:xmpp:", "jabber.org/protocol") within the first bytes. Every
 * direction that spoke must read so.
 */
#include "common/reader.h"
#include "identify/protocols.h"

#define XMPP_TAG_MAX 2048  /* a stream header is a few hundred bytes */
#define XMPP_SCAN_MAX 8192 /* how far STARTTLS is looked for */

enum xmpp_parse { XMPP_BAD, XMPP_MORE, XMPP_OK };

/* True when the reader (a window) contains s (ignoring case); *at, when
 * given, is set to a reader positioned on it. */
static bool xmpp_find(struct reader r, const char *s, struct reader *at)
{
	while (rd_remaining(&r)) {
		if (rd_starts_ci(&r, s)) {
			if (at)
				*at = r;
			return true;
		}
		rd_skip(&r, 1);
	}
	return false;
}

static void xmpp_skip_space(struct reader *r)
{
	uint8_t c;
	while (rd_peek_u8(r, 0, &c) && (c == ' ' || c == '\t' || c == '\r' || c == '\n'))
		rd_skip(r, 1);
}

/* True when the unread bytes, as far as they go, agree with s. */
static bool xmpp_prefix(const struct reader *r, const char *s)
{
	uint8_t c;
	for (size_t i = 0; s[i]; i++) {
		if (!rd_peek_u8(r, i, &c))
			return true;
		if (c != (uint8_t)s[i])
			return false;
	}
	return true;
}

/* The window up to and including the next '>' (within XMPP_TAG_MAX). */
static enum xmpp_parse xmpp_tag(struct reader *r, struct reader *tag)
{
	uint8_t c;
	for (size_t i = 0; i < XMPP_TAG_MAX; i++) {
		if (!rd_peek_u8(r, i, &c))
			return XMPP_MORE;
		if (c == '>') {
			*tag = rd_sub(r, i + 1);
			return XMPP_OK;
		}
		if (c < 0x09 || c == 0x7f)
			return XMPP_BAD; /* no control bytes in a tag */
	}
	return XMPP_BAD;
}

/* [XML declaration] then the stream header; *hdr is its tag. */
static enum xmpp_parse xmpp_header(const uint8_t *data, size_t len, struct reader *hdr)
{
	struct reader r, tag;
	rd_init(&r, data, len);
	xmpp_skip_space(&r);
	if (!rd_remaining(&r))
		return XMPP_MORE;
	if (rd_starts(&r, "<?")) {
		enum xmpp_parse p = xmpp_tag(&r, &tag);
		if (p != XMPP_OK)
			return p;
		if (!rd_starts_ci(&tag, "<?xml"))
			return XMPP_BAD;
		xmpp_skip_space(&r);
		if (!rd_remaining(&r))
			return XMPP_MORE;
	} else if (!xmpp_prefix(&r, "<?xml") && !xmpp_prefix(&r, "<stream:stream")) {
		return XMPP_BAD;
	}
	if (!xmpp_prefix(&r, "<stream:stream"))
		return XMPP_BAD;
	if (!rd_starts(&r, "<stream:stream"))
		return XMPP_MORE;
	return xmpp_tag(&r, hdr);
}

/* The value of attribute name (" to=") in a tag, quoted with ' or ". */
static bool xmpp_attr(struct reader tag, const char *name, const uint8_t **v, size_t *n)
{
	struct reader at;
	if (!xmpp_find(tag, name, &at))
		return false;
	size_t k = 0;
	while (name[k])
		k++;
	rd_skip(&at, k);
	uint8_t q = rd_u8(&at), c;
	if (q != '\'' && q != '"')
		return false;
	size_t i = 0;
	while (rd_peek_u8(&at, i, &c) && c != q)
		i++;
	if (c != q)
		return false;
	*v = rd_bytes(&at, i);
	*n = i;
	return *v != NULL;
}

enum { XMPP_STANZA_SCAN = 2048 };

/* One mid-stream direction: XMPP_OK when it starts with a stanza. */
static enum xmpp_parse xmpp_stanza(const uint8_t *data, size_t len, bool done)
{
	static const char *const open[] = {"<iq", "<presence", "<message"};
	static const char *const sm[] = {"<r xmlns='urn:xmpp:sm:", "<a xmlns='urn:xmpp:sm:",
	                                 "<r xmlns=\"urn:xmpp:sm:", "<a xmlns=\"urn:xmpp:sm:"};
	struct reader r;
	rd_init(&r, data, len);
	xmpp_skip_space(&r);
	if (!rd_remaining(&r))
		return done ? XMPP_BAD : XMPP_MORE;
	if (rd_starts(&r, "</stream:stream>"))
		return XMPP_OK;
	bool start = false, maybe = xmpp_prefix(&r, "</stream:stream>");
	for (size_t i = 0; i < sizeof open / sizeof open[0]; i++) {
		size_t k = 0;
		while (open[i][k])
			k++;
		uint8_t c;
		if (rd_starts(&r, open[i]) && rd_peek_u8(&r, k, &c) &&
		    (c == ' ' || c == '>' || c == '/'))
			start = true;
		else if (xmpp_prefix(&r, open[i]) && rd_remaining(&r) <= k)
			maybe = true;
	}
	for (size_t i = 0; i < sizeof sm / sizeof sm[0]; i++) {
		if (rd_starts(&r, sm[i]))
			start = true;
		else if (xmpp_prefix(&r, sm[i]))
			maybe = true;
	}
	if (!start)
		return maybe && !done ? XMPP_MORE : XMPP_BAD;
	struct reader tag, w = r;
	enum xmpp_parse t = xmpp_tag(&w, &tag);
	if (t != XMPP_OK)
		return t == XMPP_MORE && !done ? XMPP_MORE : XMPP_BAD;
	rd_limit(&r, XMPP_STANZA_SCAN);
	if (xmpp_find(r, "jabber:", NULL) || xmpp_find(r, "urn:xmpp:", NULL) ||
	    xmpp_find(r, "jabber.org/protocol", NULL))
		return XMPP_OK;
	return rd_remaining(&r) < XMPP_STANZA_SCAN && !done ? XMPP_MORE : XMPP_BAD;
}

static enum ident_verdict xmpp_midstream(const struct ident_input *in, struct ident_evidence *ev)
{
	enum xmpp_parse d[2];
	int ok = 0;
	for (int i = 0; i < 2; i++) {
		d[i] = in->len[i] ? xmpp_stanza(in->data[i], in->len[i], in->done[i])
		                  : (in->done[i] ? XMPP_OK : XMPP_MORE);
		if (d[i] == XMPP_BAD)
			return IDENT_NO_MATCH;
		if (d[i] == XMPP_OK && in->len[i])
			ok++;
	}
	if (d[0] == XMPP_MORE || d[1] == XMPP_MORE || ok == 0)
		return ok == 0 && in->done[0] && in->done[1] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
	ident_add_str(ev, "xmpp_midstream", "1");
	ev->server_confirmed = ok == 2;
	ev->confidence = ok == 2 ? 75 : 55;
	return IDENT_MATCH;
}

static enum ident_verdict match_xmpp(const struct ident_input *in, struct ident_evidence *ev)
{
	if (in->midstream[0] && in->midstream[1]) {
		/* The stream headers may still be there (only the SYN was
		 * lost): read them first, then stanzas. */
		struct ident_input whole = *in;
		whole.midstream[0] = whole.midstream[1] = false;
		struct ident_evidence hv = *ev;
		enum ident_verdict v = match_xmpp(&whole, &hv);
		if (v == IDENT_MATCH) {
			*ev = hv;
			return v;
		}
		enum ident_verdict m = xmpp_midstream(in, ev);
		return m == IDENT_NO_MATCH ? v : m;
	}
	struct reader ch, sh;
	enum xmpp_parse c = xmpp_header(in->data[0], in->len[0], &ch);
	enum xmpp_parse s = xmpp_header(in->data[1], in->len[1], &sh);
	/* The namespaces make it XMPP and not some other XML. */
	if (c == XMPP_OK && !xmpp_find(ch, "jabber:", NULL))
		c = XMPP_BAD;
	if (s == XMPP_OK && !xmpp_find(sh, "http://etherx.jabber.org/streams", NULL))
		s = XMPP_BAD;

	if (s == XMPP_BAD && in->len[1])
		return IDENT_NO_MATCH; /* the server answers something else */
	if (s != XMPP_OK) {
		/* The client's header is a claim that waits for the server.
		 * The server's header decides whatever the client sent, so
		 * nothing is ruled out while it may still come (NO_MATCH is
		 * final). */
		if (!in->done[1] || (c == XMPP_MORE && !in->done[0]))
			return IDENT_NEED_MORE;
		if (c == XMPP_BAD)
			return IDENT_NO_MATCH;
		if (c != XMPP_OK || in->len[1])
			return IDENT_NO_MATCH;
	} else if (c == XMPP_MORE && !in->done[0]) {
		return IDENT_NEED_MORE;
	}

	const uint8_t *to;
	size_t to_len;
	if (c == XMPP_OK && xmpp_attr(ch, " to=", &to, &to_len))
		ident_add(ev, "xmpp_to", to, to_len);

	/* STARTTLS: the client's <starttls/>, the server's <proceed/>, then
	 * the client's TLS record right after the element. */
	struct reader cr, at;
	rd_init(&cr, in->data[0], in->len[0] < XMPP_SCAN_MAX ? in->len[0] : XMPP_SCAN_MAX);
	struct reader sr;
	rd_init(&sr, in->data[1], in->len[1] < XMPP_SCAN_MAX ? in->len[1] : XMPP_SCAN_MAX);
	if (s == XMPP_OK && xmpp_find(cr, "<starttls", &at) && xmpp_find(sr, "<proceed", NULL)) {
		struct reader tag;
		if (xmpp_tag(&at, &tag) == XMPP_OK) {
			/* "<starttls .../>" or "<starttls ...></starttls>" */
			if (rd_starts(&at, "</starttls>"))
				rd_skip(&at, 11);
			uint8_t b0, b1;
			if (rd_peek_u8(&at, 0, &b0) && rd_peek_u8(&at, 1, &b1) && b0 == 0x16 &&
			    b1 == 0x03) {
				ident_add_u64(ev, "starttls", 1);
				ev->tls_upgrade = true;
			}
		}
	}
	ev->server_confirmed = s == XMPP_OK;
	ev->confidence = s == XMPP_OK ? (c == XMPP_OK ? 100 : 80) : 60;
	return IDENT_MATCH;
}

const struct ident_proto ident_xmpp = {"xmpp", "XMPP (RFC 6120)", IDENT_TCP, match_xmpp, NULL, NULL};
