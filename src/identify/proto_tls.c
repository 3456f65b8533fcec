/*
 * proto_tls.c - TLS 1.0-1.3 and SSL 3.0 over TCP, by the ClientHello.
 *
 * Specifications: RFC 8446 (TLS 1.3) sections 4.1.2, 4.2, 5.1; RFC 5246
 * (TLS 1.2) sections 6.2, 7.4.1; RFC 6101 (SSL 3.0) and its appendix E.2
 * (the SSL 2.0-compatible ClientHello); RFC 6066 section 3 (server_name),
 * RFC 7301 (ALPN).
 *
 * Client, the usual form: one handshake message inside one or more records
 *
 *   record   +----+-------+-------+      type 22 (handshake), version 3.x,
 *            | 16 | 03 xx | len16 |      1 <= len <= 2^14 + 2048
 *            +----+-------+-------+
 *   message  +----+-------+---------+--------+-----+--------+-------+-----+
 *            | 01 | len24 | version | random | sid | suites | comp  | ext |
 *            +----+-------+---------+--------+-----+--------+-------+-----+
 *              1     3        2        32   1+<=32  2+2n>0   1+n>0  2+...
 *   ext      | type16 | len16 | data |  ...  walked to the exact end
 *
 * The message may continue in the next record(s) (each again 16 03 xx len),
 * so the parser reads the handshake bytes through the record layer.
 *
 * Client, SSL 2.0-compatible ClientHello (RFC 6101 E.2):
 *
 *   +--------+-------+----+---------+--------+--------+---------+---------+
 *   |1 len15 (2)     | 01 | 03 xx   | cs_len | sid_len| ch_len  | data... |
 *   +--------+-------+----+---------+--------+--------+---------+---------+
 *      cs_len % 3 == 0 and > 0, sid_len 0 or 16, 16 <= ch_len <= 32,
 *      len == 9 + cs_len + sid_len + ch_len
 *
 * Server: a ServerHello (16 03 xx len | 02 len24 | 03 xx | random | sid |
 * suite | comp | [ext]) confirms, as does an alert record (15 03 xx 00 02
 * level desc): only a TLS stack answers in TLS records. Anything else (an
 * "HTTP/1.1 400" page, an SSH banner) cancels: the server does not speak TLS.
 *
 * A record header in front of something that is not a ClientHello is
 * "fake TLS" (HOPLIGHT, BADCALL, TYPEFRAME): never TLS. ident_tls_fake()
 * tells the verdict about it.
 */
#include <string.h>

#include "common/reader.h"
#include "identify/identify.h"
#include "identify/protocols.h"

#define TLS_CT_ALERT 21
#define TLS_CT_HANDSHAKE 22
#define TLS_HS_CLIENT_HELLO 1
#define TLS_HS_SERVER_HELLO 2
/* RFC 8446 5.1: plaintext records carry at most 2^14 bytes; 5.2 allows
 * 2^14 + 256 for ciphertext and RFC 5246 2^14 + 2048; the header check uses
 * the widest bound. */
#define TLS_RECORD_MAX ((1u << 14) + 2048)
/* A ClientHello this large does not occur (huge post-quantum hellos are a
 * few KiB); the bound keeps random lengths out. */
#define TLS_HELLO_MAX (1u << 16)

#define EXT_SERVER_NAME 0
#define EXT_ALPN 16
#define EXT_SUPPORTED_VERSIONS 43

/* The handshake byte stream as carried by consecutive handshake records. */
struct hs_reader {
	struct reader *r;   /* over one direction's bytes */
	uint32_t left;      /* bytes left in the current record */
	uint32_t pos;       /* handshake bytes consumed */
	bool trunc;         /* ran out of bytes (more may come) */
	bool bad;           /* a record header that cannot be TLS */
};

enum parse { P_OK, P_PARTIAL, P_BAD };

static bool tls_version_ok(uint16_t v) { return v >= 0x0300 && v <= 0x0304; }

/* TLS 1.3 drafts (0x7fNN) and Facebook's pre-standard 1.3 (0xfbNN) as they
 * appear in supported_versions count as 1.3. */
static uint16_t tls13_variant(uint16_t v)
{
	return (v >> 8) == 0x7f || (v >> 8) == 0xfb ? 0x0304 : v;
}

/* Reads the next record header of a handshake continued over records. */
static bool hs_next_record(struct hs_reader *h)
{
	if (!rd_has(h->r, 5)) {
		h->trunc = true;
		return false;
	}
	uint8_t type = rd_u8(h->r);
	uint16_t ver = rd_be16(h->r);
	uint16_t len = rd_be16(h->r);
	/* RFC 5246 6.2.1: zero-length handshake fragments are not sent. */
	if (type != TLS_CT_HANDSHAKE || !tls_version_ok(ver) || len == 0 || len > TLS_RECORD_MAX) {
		h->bad = true;
		return false;
	}
	h->left = len;
	return true;
}

static bool hs_failed(const struct hs_reader *h) { return h->trunc || h->bad; }

static uint8_t hs_u8(struct hs_reader *h)
{
	if (hs_failed(h))
		return 0;
	if (h->left == 0 && !hs_next_record(h))
		return 0;
	if (!rd_has(h->r, 1)) {
		h->trunc = true;
		return 0;
	}
	h->left--;
	h->pos++;
	return rd_u8(h->r);
}

static uint16_t hs_be16(struct hs_reader *h)
{
	uint16_t hi = hs_u8(h);
	return (uint16_t)(hi << 8 | hs_u8(h));
}

static uint32_t hs_be24(struct hs_reader *h)
{
	uint32_t hi = hs_be16(h);
	return hi << 8 | hs_u8(h);
}

static void hs_skip(struct hs_reader *h, uint32_t n)
{
	while (n && !hs_failed(h)) {
		if (h->left == 0 && !hs_next_record(h))
			return;
		uint32_t take = n < h->left ? n : h->left;
		if (!rd_has(h->r, take)) {
			h->trunc = true;
			return;
		}
		rd_skip(h->r, take);
		h->left -= take;
		h->pos += take;
		n -= take;
	}
}

/* Copies up to cap bytes of the next n into dst (the rest skipped). */
static size_t hs_copy(struct hs_reader *h, uint32_t n, uint8_t *dst, size_t cap)
{
	size_t got = 0;
	for (; n && got < cap && !hs_failed(h); n--)
		dst[got++] = hs_u8(h);
	hs_skip(h, n);
	return got;
}

/* What the ClientHello (or ServerHello) said. */
struct hello {
	bool v2;              /* SSL 2.0-compatible ClientHello */
	bool fixed;           /* the fixed part (through compression) parsed */
	uint16_t version;     /* legacy_version of the hello */
	uint16_t supported;   /* highest supported_versions entry, 0 if none */
	uint8_t sni[IDENT_VALUE_MAX];
	size_t sni_len;
	uint8_t alpn[IDENT_VALUE_MAX];
	size_t alpn_len;
};

/* RFC 8701 GREASE values (0x?a?a) mean nothing. */
static bool grease(uint16_t v) { return (v & 0x0f0f) == 0x0a0a && (v >> 12) == ((v >> 4) & 0xf); }

static void ext_server_name(struct hs_reader *h, uint32_t end, struct hello *o)
{
	/* RFC 6066 3: ServerNameList <1..2^16-1> of {type, HostName<1..2^16-1>}. */
	uint16_t list = hs_be16(h);
	if (list + h->pos != end)
		return;
	while (h->pos + 3 <= end && !hs_failed(h)) {
		uint8_t type = hs_u8(h);
		uint16_t n = hs_be16(h);
		if (h->pos + n > end)
			return;
		if (type == 0 && o->sni_len == 0) {
			o->sni_len = hs_copy(h, n, o->sni, sizeof o->sni);
			return;
		}
		hs_skip(h, n);
	}
}

static void ext_alpn(struct hs_reader *h, uint32_t end, struct hello *o)
{
	/* RFC 7301 3.1: ProtocolNameList <2..2^16-1> of ProtocolName<1..2^8-1>. */
	uint16_t list = hs_be16(h);
	if (list + h->pos != end)
		return;
	while (h->pos < end && !hs_failed(h)) {
		uint8_t n = hs_u8(h);
		if (n == 0 || h->pos + n > end)
			return;
		if (o->alpn_len && o->alpn_len < sizeof o->alpn)
			o->alpn[o->alpn_len++] = ',';
		o->alpn_len += hs_copy(h, n, o->alpn + o->alpn_len, sizeof o->alpn - o->alpn_len);
	}
}

static void ext_supported_versions(struct hs_reader *h, uint32_t end, bool server,
                                   struct hello *o)
{
	/* Client: versions<2..254> with a 1-byte length; server: the selected
	 * version alone (RFC 8446 4.2.1). */
	if (server) {
		if (h->pos + 2 == end)
			o->supported = tls13_variant(hs_be16(h));
		return;
	}
	uint8_t n = hs_u8(h);
	if (n + h->pos != end || n % 2)
		return;
	while (h->pos + 2 <= end && !hs_failed(h)) {
		uint16_t v = tls13_variant(hs_be16(h));
		if (!grease(v) && tls_version_ok(v) && v > o->supported)
			o->supported = v;
	}
}

/* Walks the extensions block to its exact end (start: at its length). */
static enum parse hello_extensions(struct hs_reader *h, uint32_t end, bool server,
                                   struct hello *o)
{
	if (h->pos == end)
		return P_OK; /* SSL 3.0 / early TLS: no extensions */
	uint16_t total = hs_be16(h);
	if (hs_failed(h))
		return h->bad ? P_BAD : P_PARTIAL;
	if (h->pos + total != end)
		return P_BAD;
	while (h->pos < end) {
		if (h->pos + 4 > end)
			return P_BAD;
		uint16_t type = hs_be16(h);
		uint16_t n = hs_be16(h);
		if (hs_failed(h))
			return h->bad ? P_BAD : P_PARTIAL;
		uint32_t ext_end = h->pos + n;
		if (ext_end > end)
			return P_BAD;
		if (type == EXT_SERVER_NAME && !server && n >= 2)
			ext_server_name(h, ext_end, o);
		else if (type == EXT_ALPN && n >= 2)
			ext_alpn(h, ext_end, o);
		else if (type == EXT_SUPPORTED_VERSIONS && n >= 1)
			ext_supported_versions(h, ext_end, server, o);
		/* Whatever an extension's inner parse consumed, continue at its end. */
		if (h->pos <= ext_end)
			hs_skip(h, ext_end - h->pos);
		if (h->bad)
			return P_BAD;
		if (h->trunc)
			return P_PARTIAL;
		if (h->pos != ext_end)
			return P_BAD;
	}
	return P_OK;
}

/* A ClientHello (client) or ServerHello (server) in TLS records at the start
 * of r. */
static enum parse parse_hello(struct reader *r, bool server, struct hello *o)
{
	struct hs_reader h = {r, 0, 0, false, false};
	uint8_t type = hs_u8(&h);
	uint32_t len = hs_be24(&h);
	if (hs_failed(&h))
		return h.bad ? P_BAD : P_PARTIAL;
	if (type != (server ? TLS_HS_SERVER_HELLO : TLS_HS_CLIENT_HELLO))
		return P_BAD;
	/* Smallest: version, random, empty session id, then for a client two
	 * suite bytes with their length and one compression method with its
	 * length; for a server one suite and one method. */
	if (len < (server ? 38u : 41u) || len > TLS_HELLO_MAX)
		return P_BAD;
	uint32_t end = h.pos + len;
	o->version = hs_be16(&h);
	if (!hs_failed(&h) && !tls_version_ok(o->version))
		return P_BAD;
	hs_skip(&h, 32); /* random */
	uint8_t sid = hs_u8(&h);
	if (!hs_failed(&h) && sid > 32)
		return P_BAD;
	hs_skip(&h, sid);
	if (server) {
		hs_skip(&h, 2); /* cipher_suite */
		hs_u8(&h);      /* compression_method */
	} else {
		uint16_t suites = hs_be16(&h);
		if (!hs_failed(&h) && (suites == 0 || suites % 2 || h.pos + suites > end))
			return P_BAD;
		hs_skip(&h, suites);
		uint8_t comp = hs_u8(&h);
		if (!hs_failed(&h) && (comp == 0 || h.pos + comp > end))
			return P_BAD;
		hs_skip(&h, comp);
	}
	if (hs_failed(&h))
		return h.bad ? P_BAD : P_PARTIAL;
	if (h.pos > end)
		return P_BAD;
	o->fixed = true;
	return hello_extensions(&h, end, server, o);
}

/* The SSL 2.0-compatible ClientHello of RFC 6101 appendix E.2. */
static enum parse parse_v2_hello(struct reader *r, struct hello *o)
{
	/* While the header is still arriving, what is there must fit. */
	uint8_t t, maj;
	if ((rd_peek_u8(r, 2, &t) && t != 1) || (rd_peek_u8(r, 3, &maj) && maj != 3))
		return P_BAD;
	uint16_t hdr = rd_be16(r);
	uint8_t type = rd_u8(r);
	uint16_t ver = rd_be16(r);
	uint16_t cs = rd_be16(r), sid = rd_be16(r), ch = rd_be16(r);
	if (!rd_ok(r))
		return P_PARTIAL;
	uint16_t len = hdr & 0x7fff;
	if (!(hdr & 0x8000) || type != 1 || (ver >> 8) != 3 || (ver & 0xff) > 4)
		return P_BAD;
	if (cs == 0 || cs % 3 || (sid != 0 && sid != 16) || ch < 16 || ch > 32 ||
	    len != 9u + cs + sid + ch)
		return P_BAD;
	o->v2 = true;
	o->version = ver;
	/* Version-2 cipher specs are 3 bytes; a TLS server picks one whose first
	 * byte is 0 (a TLS suite). Nothing else to check: lengths say it all. */
	if (!rd_has(r, (size_t)cs + sid + ch))
		return P_PARTIAL;
	rd_skip(r, (size_t)cs + sid + ch);
	o->fixed = true;
	return P_OK;
}

/* Do the client's first five bytes look like a TLS handshake record header? */
static bool record_header_plausible(const struct ident_input *in)
{
	struct reader r;
	rd_init(&r, in->data[0], in->len[0]);
	uint8_t type = rd_u8(&r);
	uint16_t ver = rd_be16(&r);
	uint16_t len = rd_be16(&r);
	return rd_ok(&r) && type == TLS_CT_HANDSHAKE && tls_version_ok(ver) && len >= 1 &&
	       len <= TLS_RECORD_MAX;
}

/* The client's ClientHello; P_PARTIAL means consistent so far. */
static enum parse client_hello(const struct ident_input *in, struct hello *o)
{
	struct reader r;
	rd_init(&r, in->data[0], in->len[0]);
	uint8_t b0;
	if (!rd_peek_u8(&r, 0, &b0))
		return P_PARTIAL;
	if (b0 == TLS_CT_HANDSHAKE)
		return parse_hello(&r, false, o);
	if (b0 & 0x80)
		return parse_v2_hello(&r, o);
	return P_BAD;
}

/* The first record a client sends, seen from the start of the stream, is
 * a handshake: a first record of application data (23) or change-cipher-
 * spec (20) with a TLS version is framing without the protocol. */
static bool appdata_first(const struct ident_input *in)
{
	struct reader r;
	rd_init(&r, in->data[0], in->len[0]);
	uint8_t type = rd_u8(&r);
	uint16_t ver = rd_be16(&r), len = rd_be16(&r);
	return rd_ok(&r) && !in->midstream[0] && (type == 23 || type == 20) &&
	       ver >= 0x0300 && ver <= 0x0304 && len > 0 && len <= 16384 + 2048;
}

bool ident_tls_fake(const struct ident_input *in)
{
	if (appdata_first(in))
		return true;
	if (!record_header_plausible(in))
		return false;
	struct hello c;
	memset(&c, 0, sizeof c);
	enum parse p = client_hello(in, &c);
	if (p == P_BAD)
		return true;
	/* Consistent but cut short: fake only once no more bytes will come and
	 * not even the hello's fixed part was there. */
	return p == P_PARTIAL && in->done[0] && !c.fixed;
}

enum server_answer { S_WAIT, S_HELLO, S_ALERT, S_OTHER };

/* The server's first bytes: a ServerHello, an alert, or not TLS. */
static enum server_answer server_answer(const struct ident_input *in, const struct hello *c,
                                        struct hello *s)
{
	struct reader r;
	rd_init(&r, in->data[1], in->len[1]);
	uint8_t b0;
	if (!rd_peek_u8(&r, 0, &b0))
		return S_WAIT;
	if (b0 == TLS_CT_ALERT) {
		/* A plaintext alert: 15 03 xx 00 02 level(1|2) description. */
		if (in->len[1] < 6 && !in->done[1]) {
			uint8_t maj, min;
			bool ok = (!rd_peek_u8(&r, 1, &maj) || maj == 3) &&
			          (!rd_peek_u8(&r, 2, &min) || min <= 4);
			return ok ? S_WAIT : S_OTHER;
		}
		rd_skip(&r, 1);
		uint16_t ver = rd_be16(&r);
		uint16_t len = rd_be16(&r);
		uint8_t level = rd_u8(&r);
		return rd_ok(&r) && tls_version_ok(ver) && len == 2 && (level == 1 || level == 2)
		           ? S_ALERT
		           : S_OTHER;
	}
	if (b0 == TLS_CT_HANDSHAKE) {
		enum parse p = parse_hello(&r, true, s);
		if (p == P_BAD)
			return S_OTHER;
		if (p == P_OK || s->fixed)
			return S_HELLO;
		return in->done[1] ? S_OTHER : S_WAIT;
	}
	if (c->v2 && (b0 & 0x80)) {
		/* An SSL 2.0 server's SERVER-HELLO (message type 4). */
		rd_skip(&r, 2);
		uint8_t t = rd_u8(&r);
		if (!rd_ok(&r))
			return in->done[1] ? S_OTHER : S_WAIT;
		return t == 4 ? S_HELLO : S_OTHER;
	}
	return S_OTHER;
}

static const char *version_name(uint16_t v)
{
	switch (v) {
	case 0x0300: return "ssl3";
	case 0x0301: return "1.0";
	case 0x0302: return "1.1";
	case 0x0303: return "1.2";
	case 0x0304: return "1.3";
	default: return "unknown";
	}
}

/*
 * A capture that began mid-connection (no SYN) sees TLS as records, not as
 * a handshake:
 *
 *   +------+---------+--------+----------------------------+
 *   | type | version | length | fragment (length bytes)    | ...
 *   | 20-23| 03 01-04|  <= 2^14 + 2048                      |
 *   +------+---------+--------+----------------------------+
 *
 * records() walks the chain: how many whole records lie back to back from
 * the first byte (a last one may be cut by the end of the data), or -1 at
 * the first header that is not a record. Only for directions that start
 * mid-stream: a stream seen from its start must open with a ClientHello.
 */
static int records(const uint8_t *data, uint32_t len, uint16_t *version)
{
	struct reader r;
	int whole = 0;
	rd_init(&r, data, len);
	*version = 0;
	while (rd_remaining(&r) >= 5) {
		uint8_t type = rd_u8(&r);
		uint16_t ver = rd_be16(&r), rlen = rd_be16(&r);
		if (type < 20 || type > 23 || ver < 0x0301 || ver > 0x0304 || rlen == 0 ||
		    rlen > 16384 + 2048)
			return -1;
		if (*version == 0)
			*version = ver;
		else if (ver != *version && type != 21)
			return -1; /* one connection, one record version */
		if (!rd_has(&r, rlen))
			return whole; /* the last record runs past the bytes kept */
		rd_skip(&r, rlen);
		whole++;
	}
	return whole; /* a header cut short by the end of the data */
}

static enum ident_verdict tls_midstream(const struct ident_input *in, struct ident_evidence *ev)
{
	uint16_t v[2] = {0, 0};
	int n[2] = {0, 0};
	for (int d = 0; d < 2; d++) {
		if (in->len[d] == 0)
			continue;
		n[d] = records(in->data[d], in->len[d], &v[d]);
		if (n[d] < 0)
			return IDENT_NO_MATCH;
	}
	if (v[0] && v[1] && v[0] != v[1])
		return IDENT_NO_MATCH;
	/* Two whole records, back to back, are the least that is evidence. */
	if (n[0] + n[1] < 2)
		return in->done[0] && in->done[1] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
	ident_add_str(ev, "tls_version", version_name(v[0] ? v[0] : v[1]));
	ident_add_str(ev, "tls_midstream", "1");
	ev->server_confirmed = n[0] > 0 && n[1] > 0;
	ev->confidence = n[0] + n[1] >= 4 ? 80 : 65;
	return IDENT_MATCH;
}

static enum ident_verdict tls_match(const struct ident_input *in, struct ident_evidence *ev)
{
	struct hello c, s;
	memset(&c, 0, sizeof c);
	memset(&s, 0, sizeof s);
	if (in->midstream[0] || in->midstream[1]) {
		/* The handshake may be there (the SYN alone was lost): try it
		 * first, then the record chain. */
		struct ident_evidence hv = *ev;
		struct ident_input whole = *in;
		whole.midstream[0] = whole.midstream[1] = false;
		enum ident_verdict v = tls_match(&whole, &hv);
		if (v == IDENT_MATCH) {
			*ev = hv;
			return v;
		}
		return tls_midstream(in, ev);
	}
	enum parse p = client_hello(in, &c);
	if (p == P_BAD)
		return IDENT_NO_MATCH;
	if (p == P_PARTIAL) {
		if (!in->done[0])
			return IDENT_NEED_MORE;
		/* The budget (or the client) stopped inside a hello that was
		 * well-formed up to there: TLS if its fixed part was whole. */
		if (!c.fixed)
			return IDENT_NO_MATCH;
	}
	enum server_answer a = server_answer(in, &c, &s);
	if (a == S_OTHER)
		return IDENT_NO_MATCH;
	if (a == S_WAIT && !in->done[1])
		return IDENT_NEED_MORE;

	if (c.sni_len)
		ident_add(ev, "sni", c.sni, c.sni_len);
	if (c.alpn_len)
		ident_add(ev, "alpn", c.alpn, c.alpn_len);
	const char *ver;
	if (a == S_HELLO && s.fixed)
		ver = version_name(s.supported ? s.supported : s.version);
	else if (c.v2)
		ver = "ssl2-compatible";
	else
		ver = version_name(c.supported ? c.supported : c.version);
	ident_add_str(ev, "tls_version", ver);
	ident_add_str(ev, "tls_client_version", version_name(c.version));
	if (c.v2)
		ident_add_str(ev, "tls_hello_format", "ssl2-compatible");
	ev->server_confirmed = a == S_HELLO || a == S_ALERT;
	ev->confidence = a == S_HELLO ? 100 : a == S_ALERT ? 95 : p == P_OK ? 85 : 70;
	return IDENT_MATCH;
}

const struct ident_proto ident_tls = {"tls", "TLS / SSL 3.0 (RFC 8446, RFC 5246, RFC 6101)",
                                      IDENT_TCP, tls_match, NULL};
