/*
 * proto_tor.c - the Tor link protocol's TLS handshake (tor-spec.txt,
 * section 2 "Connections" and "Tor's TLS handshake"; TLS framing per
 * RFC 5246 / RFC 8446, server_name RFC 6066, supported_groups RFC 8422).
 *
 * Tor rides on TLS: this identifier is a passenger of tls (carrier "tls"),
 * is tried before it, and answers NO_MATCH unless a ClientHello carries
 * Tor's traits, so that ordinary TLS stays tls.
 *
 * What a Tor relay connection looks like on the wire:
 *
 *   ClientHello (16 03 xx len | 01 len24 | ...), parsed here through the
 *   record layer:
 *     - server_name: a random name "www." + 4-25 characters of Tor's
 *       base32 alphabet [a-z2-7] + ".com" (the client never names the relay
 *       it connects to); REQUIRED;
 *     - no ALPN extension (browsers and most TLS clients send one);
 *       REQUIRED;
 *   and at least one of:
 *     - "groups": supported_groups exactly P-256, X25519, P-224
 *       (17 00, 1d 00, 15 00; the list Tor 0.4 sets; P-224 is offered by
 *       nothing else seen on today's networks);
 *     - "ciphers": the cipher suite list of Tor's v2 link handshake, which
 *       mimicked Firefox of 2012 (35 suites ending c0 03, fe ff, 00 0a, an
 *       optional 00 ff), exactly, with only the server_name,
 *       ec_point_formats and elliptic_curves extensions (no session
 *       ticket, no renegotiation_info: Firefox always sent those);
 *     - "cert": when the server's Certificate is visible (TLS <= 1.2), the
 *       relay's link certificate has a random subject CN
 *       "www.<8-20 [a-z2-7]>.net" and a different random issuer CN of the
 *       same form (.com or .net): public certificates are never issued by a
 *       "www." name.
 *   The server's bytes must be TLS (a ServerHello); it confirms the claim.
 *
 * A www.<letters>.com name alone is never enough: real sites have such
 * names; it takes the name, no ALPN and one more trait. Evidence repeats
 * the TLS fields (sni, tls_version) and names the traits seen.
 */
#include <string.h>

#include "common/reader.h"
#include "identify/identify.h"

#define TOR_HS_MAX 16384

/* The handshake bytes of one direction's leading handshake records,
 * copied out of the records through the reader. */
struct tor_hs {
	uint8_t buf[TOR_HS_MAX];
	size_t len;
	bool more;      /* the records may continue (the bytes ended inside) */
	bool tls;       /* the first record is a TLS handshake record */
};

static void tor_collect(const uint8_t *data, uint32_t len, struct tor_hs *h)
{
	struct reader r;
	rd_init(&r, data, len);
	h->len = 0;
	h->more = false;
	h->tls = false;
	bool first = true;
	for (;;) {
		if (!rd_has(&r, 5)) {
			h->more = true;
			return;
		}
		uint8_t type = rd_u8(&r);
		uint8_t major = rd_u8(&r);
		uint8_t minor = rd_u8(&r);
		uint16_t rlen = rd_be16(&r);
		if (type != 22 || major != 3 || minor > 4 || rlen == 0 || rlen > (1u << 14) + 2048)
			return; /* the handshake records end (CCS, application data) */
		if (first)
			h->tls = true;
		first = false;
		size_t n = rd_remaining(&r) < rlen ? rd_remaining(&r) : rlen;
		if (n > sizeof h->buf - h->len)
			n = sizeof h->buf - h->len;
		rd_copy(&r, h->buf + h->len, n);
		h->len += n;
		if (n < rlen) {
			h->more = h->len < sizeof h->buf;
			return;
		}
	}
}

/* The next whole handshake message of h (type and body), from *r. */
enum tor_msg { TOR_MSG_BAD, TOR_MSG_SHORT, TOR_MSG_OK };

static enum tor_msg tor_next(struct reader *r, uint8_t *type, struct reader *body)
{
	if (!rd_has(r, 4))
		return TOR_MSG_SHORT;
	struct reader save = *r;
	*type = rd_u8(r);
	uint32_t mlen = rd_be24(r);
	if (!rd_has(r, mlen)) {
		*r = save;
		return mlen > TOR_HS_MAX ? TOR_MSG_BAD : TOR_MSG_SHORT;
	}
	*body = rd_sub(r, mlen);
	return TOR_MSG_OK;
}

/* "www." + min..max of [a-z2-7] + one of the suffixes. */
static bool tor_name(const uint8_t *p, size_t n, size_t min, size_t max, bool net_ok, bool com_ok)
{
	struct reader r;
	rd_init(&r, p, n);
	if (n < 4 + min + 4 || n > 4 + max + 4 || !rd_starts(&r, "www."))
		return false;
	struct reader s = r;
	rd_skip(&s, n - 4);
	if (!((com_ok && rd_starts(&s, ".com")) || (net_ok && rd_starts(&s, ".net"))))
		return false;
	for (size_t i = 4; i < n - 4; i++) {
		uint8_t c;
		(void)rd_peek_u8(&r, i, &c);
		if (!((c >= 'a' && c <= 'z') || (c >= '2' && c <= '7')))
			return false;
	}
	return true;
}

struct tor_hello {
	uint8_t sni[64];
	size_t sni_len;
	bool alpn;
	bool groups;   /* P-256, X25519, P-224 exactly */
	bool ciphers;  /* the v2 link handshake list */
	bool exts_v2;  /* server_name, ec_point_formats, elliptic_curves only */
	uint16_t version;
};

/* Tor's v2 link handshake cipher list, as its clients send it (observed on
 * the wire; an optional TLS_EMPTY_RENEGOTIATION_INFO_SCSV 00 ff follows). */
static const uint16_t tor_v2_suites[] = {
	0xc00a, 0xc014, 0x0088, 0x0087, 0x0039, 0x0038, 0xc00f, 0xc005, 0x0084,
	0x0035, 0xc007, 0xc009, 0xc011, 0xc013, 0x0045, 0x0044, 0x0033, 0x0032,
	0xc00c, 0xc00e, 0xc002, 0xc004, 0x0096, 0x0041, 0x0004, 0x0005, 0x002f,
	0xc008, 0xc012, 0x0016, 0x0013, 0xc00d, 0xc003, 0xfeff, 0x000a,
};
#define TOR_V2_N (sizeof tor_v2_suites / sizeof tor_v2_suites[0])

static bool tor_suites(struct reader s)
{
	size_t n = rd_remaining(&s) / 2;
	if (n != TOR_V2_N && n != TOR_V2_N + 1)
		return false;
	for (size_t i = 0; i < TOR_V2_N; i++)
		if (rd_be16(&s) != tor_v2_suites[i])
			return false;
	return n == TOR_V2_N || rd_be16(&s) == 0x00ff;
}

static bool tor_client_hello(struct reader *b, struct tor_hello *o)
{
	o->version = rd_be16(b);
	rd_skip(b, 32);
	uint8_t sid = rd_u8(b);
	rd_skip(b, sid);
	uint16_t slen = rd_be16(b);
	struct reader suites = rd_sub(b, slen);
	uint8_t clen = rd_u8(b);
	rd_skip(b, clen);
	if (!rd_ok(b) || sid > 32 || slen == 0 || slen % 2 || clen == 0)
		return false;
	o->ciphers = tor_suites(suites);
	if (rd_remaining(b) == 0)
		return true; /* no extensions: no SNI, not Tor */
	uint16_t elen = rd_be16(b);
	struct reader e = rd_sub(b, elen);
	if (!rd_ok(b) || rd_remaining(b) != 0)
		return false;
	unsigned n_ext = 0, v2_ext = 0;
	while (rd_remaining(&e)) {
		uint16_t type = rd_be16(&e);
		uint16_t len = rd_be16(&e);
		struct reader v = rd_sub(&e, len);
		if (!rd_ok(&e))
			return false;
		n_ext++;
		if (type == 0 || type == 10 || type == 11)
			v2_ext++;
		if (type == 16) {
			o->alpn = true;
		} else if (type == 0) {
			(void)rd_be16(&v); /* list length */
			uint8_t nt = rd_u8(&v);
			uint16_t nl = rd_be16(&v);
			struct reader name = rd_sub(&v, nl);
			if (rd_ok(&v) && nt == 0 && nl <= sizeof o->sni) {
				rd_copy(&name, o->sni, nl);
				o->sni_len = nl;
			}
		} else if (type == 10) {
			uint16_t gl = rd_be16(&v);
			uint16_t g0 = rd_be16(&v), g1 = rd_be16(&v), g2 = rd_be16(&v);
			o->groups = rd_ok(&v) && gl == 6 && rd_remaining(&v) == 0 && g0 == 0x0017 &&
			            g1 == 0x001d && g2 == 0x0015;
		} else if (type == 43) {
			uint8_t vl = rd_u8(&v);
			for (unsigned i = 0; i + 1 < vl && rd_ok(&v); i += 2) {
				uint16_t sv = rd_be16(&v);
				if (rd_ok(&v) && sv >= 0x0300 && sv <= 0x0304 && sv > o->version)
					o->version = sv;
			}
		}
	}
	o->exts_v2 = n_ext == 3 && v2_ext == 3;
	return true;
}

/* The server's flight: ServerHello (its version), then, for TLS <= 1.2,
 * the Certificate whose first certificate's CNs are read. */
struct tor_server {
	bool hello;        /* a ServerHello begins the server's bytes */
	bool version_seen; /* it is whole: version is its (negotiated) one */
	uint16_t version;
	bool cert_done;   /* a Certificate was read (or cannot come: TLS 1.3) */
	bool cert_tor;
	uint8_t subject[64], issuer[64];
	size_t subject_len, issuer_len;
};

/* A DER TLV: tag, definite length (up to 3 length bytes), sub-reader. */
static bool der(struct reader *r, uint8_t *tag, struct reader *val)
{
	*tag = rd_u8(r);
	uint8_t l = rd_u8(r);
	size_t len = l;
	if (l & 0x80) {
		unsigned n = l & 0x7f;
		if (n == 0 || n > 3)
			return false;
		len = 0;
		for (unsigned i = 0; i < n; i++)
			len = len << 8 | rd_u8(r);
	}
	*val = rd_sub(r, len);
	return rd_ok(r);
}

/* The commonName of an X.501 Name (the last one when several). */
static bool der_cn(struct reader name, uint8_t *out, size_t cap, size_t *n)
{
	bool found = false;
	while (rd_remaining(&name)) {
		uint8_t tag;
		struct reader set;
		if (!der(&name, &tag, &set) || tag != 0x31)
			return false;
		while (rd_remaining(&set)) {
			struct reader atv, oid, val;
			if (!der(&set, &tag, &atv) || tag != 0x30)
				return false;
			if (!der(&atv, &tag, &oid) || tag != 0x06)
				return false;
			if (!der(&atv, &tag, &val))
				return false;
			if (rd_remaining(&oid) == 3 && rd_starts(&oid, "\x55\x04\x03") &&
			    (tag == 0x13 || tag == 0x0c || tag == 0x16 || tag == 0x14) &&
			    rd_remaining(&val) <= cap) {
				*n = rd_remaining(&val);
				rd_copy(&val, out, *n);
				found = true;
			}
		}
	}
	return found;
}

static void tor_cert(struct reader body, struct tor_server *s)
{
	(void)rd_be24(&body); /* certificate_list length */
	uint32_t clen = rd_be24(&body);
	struct reader cert = rd_sub(&body, clen);
	if (!rd_ok(&body))
		return;
	uint8_t tag;
	struct reader c, tbs, x;
	if (!der(&cert, &tag, &c) || tag != 0x30 || !der(&c, &tag, &tbs) || tag != 0x30)
		return;
	uint8_t t0;
	if (rd_peek_u8(&tbs, 0, &t0) && t0 == 0xa0 && !der(&tbs, &tag, &x)) /* version */
		return;
	if (!der(&tbs, &tag, &x) || tag != 0x02) /* serial */
		return;
	if (!der(&tbs, &tag, &x) || tag != 0x30) /* signature algorithm */
		return;
	struct reader issuer, subject;
	if (!der(&tbs, &tag, &issuer) || tag != 0x30)
		return;
	if (!der(&tbs, &tag, &x) || tag != 0x30) /* validity */
		return;
	if (!der(&tbs, &tag, &subject) || tag != 0x30)
		return;
	if (!der_cn(issuer, s->issuer, sizeof s->issuer, &s->issuer_len) ||
	    !der_cn(subject, s->subject, sizeof s->subject, &s->subject_len))
		return;
	s->cert_tor = tor_name(s->subject, s->subject_len, 8, 20, true, true) &&
	              tor_name(s->issuer, s->issuer_len, 8, 20, true, true) &&
	              !(s->subject_len == s->issuer_len &&
	                memcmp(s->subject, s->issuer, s->subject_len) == 0);
}

/* false when the server's bytes are not a TLS server flight */
static bool tor_server_flight(const struct tor_hs *h, struct tor_server *s)
{
	struct reader r;
	rd_init(&r, h->buf, h->len);
	uint8_t type;
	struct reader body;
	uint8_t t0;
	if (!rd_peek_u8(&r, 0, &t0))
		return true; /* the record has begun: wait for its message */
	if (t0 != 2)
		return false;
	/* A ServerHello begins: the server speaks TLS (as for tls, this
	 * confirms); its fields are read once it is whole. */
	s->hello = true;
	enum tor_msg m = tor_next(&r, &type, &body);
	if (m == TOR_MSG_BAD)
		return false;
	if (m == TOR_MSG_SHORT)
		return true;
	s->version = rd_be16(&body);
	rd_skip(&body, 32);
	uint8_t sid = rd_u8(&body);
	rd_skip(&body, sid);
	rd_skip(&body, 3); /* suite, compression */
	if (!rd_ok(&body) || s->version < 0x0300 || s->version > 0x0303)
		return false;
	if (rd_remaining(&body) >= 2) {
		uint16_t elen = rd_be16(&body);
		struct reader e = rd_sub(&body, elen);
		while (rd_ok(&e) && rd_remaining(&e)) {
			uint16_t et = rd_be16(&e);
			uint16_t el = rd_be16(&e);
			struct reader v = rd_sub(&e, el);
			if (et == 43 && el == 2) {
				uint16_t sv = rd_be16(&v);
				if (rd_ok(&v) && sv >= 0x0300 && sv <= 0x0304)
					s->version = sv;
			}
		}
	}
	s->version_seen = true;
	if (s->version >= 0x0304) {
		s->cert_done = true; /* encrypted from here on */
		return true;
	}
	while ((m = tor_next(&r, &type, &body)) == TOR_MSG_OK) {
		if (type == 11) {
			tor_cert(body, s);
			s->cert_done = true;
			return true;
		}
		if (type == 14 || type == 12) /* done, key exchange: no cert (anonymous) */
			break;
	}
	if (m == TOR_MSG_SHORT && h->more)
		return true; /* the Certificate may come */
	s->cert_done = true;
	return true;
}

static const char *tor_version_name(uint16_t v)
{
	switch (v) {
	case 0x0300:
		return "ssl3";
	case 0x0301:
		return "1.0";
	case 0x0302:
		return "1.1";
	case 0x0303:
		return "1.2";
	default:
		return "1.3";
	}
}

static enum ident_verdict tor_match(const struct ident_input *in, struct ident_evidence *ev)
{
	struct tor_hs h;
	tor_collect(in->data[0], in->len[0], &h);
	if (!h.tls)
		return in->len[0] < 5 && !in->done[0] ? IDENT_NEED_MORE : IDENT_NO_MATCH;
	struct reader r;
	rd_init(&r, h.buf, h.len);
	uint8_t type;
	struct reader body;
	enum tor_msg m = tor_next(&r, &type, &body);
	if (m == TOR_MSG_SHORT)
		return h.more && !in->done[0] ? IDENT_NEED_MORE : IDENT_NO_MATCH;
	if (m == TOR_MSG_BAD || type != 1)
		return IDENT_NO_MATCH;
	struct tor_hello c;
	memset(&c, 0, sizeof c);
	if (!tor_client_hello(&body, &c))
		return IDENT_NO_MATCH;
	if (c.alpn || !tor_name(c.sni, c.sni_len, 4, 25, false, true))
		return IDENT_NO_MATCH;
	bool v2 = c.ciphers && c.exts_v2;

	struct tor_server s;
	memset(&s, 0, sizeof s);
	if (in->len[1] >= 5 || (in->len[1] && in->done[1])) {
		tor_collect(in->data[1], in->len[1], &h);
		if (!h.tls)
			return IDENT_NO_MATCH; /* not a TLS server (an alert is no Tor relay either) */
		if (!tor_server_flight(&h, &s))
			return IDENT_NO_MATCH;
	}
	bool traits = c.groups || v2 || s.cert_tor;
	if (!s.hello) {
		if (!in->done[1])
			return IDENT_NEED_MORE;
		if (!(c.groups || v2))
			return IDENT_NO_MATCH;
	} else if (!traits) {
		return !s.cert_done && !in->done[1] ? IDENT_NEED_MORE : IDENT_NO_MATCH;
	}
	ev->server_confirmed = s.hello;
	ev->confidence = s.hello ? 90 : 70;
	ident_add(ev, "sni", c.sni, c.sni_len);
	ident_add_str(ev, "tls_version", tor_version_name(s.version_seen ? s.version : c.version));
	char tr[32] = "";
	if (s.cert_tor)
		strcat(tr, "cert");
	if (v2)
		strcat(tr, tr[0] ? ",ciphers" : "ciphers");
	if (c.groups)
		strcat(tr, tr[0] ? ",groups" : "groups");
	ident_add_str(ev, "tor_traits", tr);
	if (s.cert_tor) {
		ident_add(ev, "tor_cert_subject", s.subject, s.subject_len);
		ident_add(ev, "tor_cert_issuer", s.issuer, s.issuer_len);
	}
	return IDENT_MATCH;
}

const struct ident_proto ident_tor = {"tor", "Tor link protocol (tor-spec, over TLS)", IDENT_TCP,
                                      tor_match, "tls", NULL};
