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

static enum ident_verdict match_xmpp(const struct ident_input *in, struct ident_evidence *ev)
{
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
		/* The client's header is a claim that waits for the server. */
		if (c == XMPP_BAD)
			return IDENT_NO_MATCH;
		if (!in->done[1] || (c == XMPP_MORE && !in->done[0]))
			return IDENT_NEED_MORE;
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

const struct ident_proto ident_xmpp = {"xmpp", "XMPP (RFC 6120)", IDENT_TCP, match_xmpp, NULL};
