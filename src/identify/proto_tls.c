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
#include <stddef.h>
#include <string.h>

#include "common/reader.h"
#include "common/sha256.h"
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
#define EXT_SIGNATURE_ALGORITHMS 13
#define EXT_ALPN 16
#define EXT_SUPPORTED_VERSIONS 43

/* What JA4 keeps of a ClientHello: more entries than these do not occur in
 * real hellos (a few dozen suites, under 30 extensions); a hello with more
 * gets no fingerprint rather than a wrong one. */
#define JA4_SUITES_MAX 256
#define JA4_EXTS_MAX 96
#define JA4_SIGS_MAX 64

/*
 * The handshake byte stream as carried by consecutive handshake records.
 *
 * Reads within the current record and the bytes kept are the common case
 * (a ClientHello is one record): they check one count, n, and read at p
 * (the hs_* functions are inline for that). Crossing into the next record,
 * or running out of bytes, goes through the out-of-line hs_refill. n is 0
 * once the reader failed, so a failed reader always takes the slow path,
 * which answers 0 and reads nothing.
 */
struct hs_reader {
	const uint8_t *p;   /* next byte */
	const uint8_t *end; /* end of this direction's bytes kept */
	uint32_t n;         /* bytes readable at p in the current record:
	                       min(its bytes left, end - p) */
	uint32_t left;      /* bytes left in the current record, n included */
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

static void hs_init(struct hs_reader *h, const struct reader *r)
{
	h->p = r->p + r->off;
	h->end = r->p + r->len;
	h->n = h->left = h->pos = 0;
	h->trunc = h->bad = false;
}

static bool hs_failed(const struct hs_reader *h) { return h->trunc || h->bad; }

static void hs_fail(struct hs_reader *h, bool bad)
{
	if (bad)
		h->bad = true;
	else
		h->trunc = true;
	h->n = 0;
}

/* Makes at least one byte readable (n > 0): at the end of a record, reads
 * the next record header of a handshake continued over records. False,
 * with trunc or bad set, when it cannot. */
static __attribute__((noinline)) bool hs_refill(struct hs_reader *h)
{
	if (hs_failed(h))
		return false;
	if (h->n)
		return true;
	if (h->left) {
		/* the bytes kept end inside the record */
		hs_fail(h, false);
		return false;
	}
	struct reader r;
	rd_init(&r, h->p, (size_t)(h->end - h->p));
	uint8_t type = rd_u8(&r);
	uint16_t ver = rd_be16(&r);
	uint16_t len = rd_be16(&r);
	if (!rd_ok(&r)) {
		hs_fail(h, false);
		return false;
	}
	/* RFC 5246 6.2.1: zero-length handshake fragments are not sent. */
	if (type != TLS_CT_HANDSHAKE || !tls_version_ok(ver) || len == 0 || len > TLS_RECORD_MAX) {
		hs_fail(h, true);
		return false;
	}
	h->p += 5;
	size_t kept = (size_t)(h->end - h->p);
	h->left = len;
	h->n = len < kept ? len : (uint32_t)kept;
	if (h->n == 0) {
		hs_fail(h, false);
		return false;
	}
	return true;
}

/* Consumes k bytes known to be readable (k <= n). */
static inline void hs_take(struct hs_reader *h, uint32_t k)
{
	h->p += k;
	h->n -= k;
	h->left -= k;
	h->pos += k;
}

static inline uint8_t hs_u8(struct hs_reader *h)
{
	if (h->n == 0 && !hs_refill(h))
		return 0;
	uint8_t v = h->p[0];
	hs_take(h, 1);
	return v;
}

static inline uint16_t hs_be16(struct hs_reader *h)
{
	if (h->n >= 2) {
		/* both bytes in this record and kept (the usual case) */
		uint16_t v = (uint16_t)(h->p[0] << 8 | h->p[1]);
		hs_take(h, 2);
		return v;
	}
	uint16_t hi = hs_u8(h);
	return (uint16_t)(hi << 8 | hs_u8(h));
}

static uint32_t hs_be24(struct hs_reader *h)
{
	uint32_t hi = hs_be16(h);
	return hi << 8 | hs_u8(h);
}

static inline void hs_skip(struct hs_reader *h, uint32_t k)
{
	if (k <= h->n) {
		hs_take(h, k); /* all in this record and kept (the usual case) */
		return;
	}
	while (k && hs_refill(h)) {
		/* Within one record, a piece the bytes kept do not hold
		 * whole is not consumed at all: the reader stops before it. */
		uint32_t take = k < h->left ? k : h->left;
		if (take > h->n) {
			hs_fail(h, false);
			return;
		}
		hs_take(h, take);
		k -= take;
	}
}

/* Copies up to cap bytes of the next k into dst (the rest skipped). */
static size_t hs_copy(struct hs_reader *h, uint32_t k, uint8_t *dst, size_t cap)
{
	size_t got = 0;
	if (k <= h->n && k <= cap) {
		/* all in this record and kept (the usual case): one copy */
		memcpy(dst, h->p, k);
		hs_take(h, k);
		return k;
	}
	for (; k && got < cap && !hs_failed(h); k--)
		dst[got++] = hs_u8(h);
	hs_skip(h, k);
	return got;
}

/* What the ClientHello (or ServerHello) said. The arrays come last:
 * hello_init clears only the fields before them (some 60 bytes, not the
 * struct's 1.4 KiB), since an array is read only up to its count (sni_len,
 * alpn_len, n_suites, n_exts, n_sigs), which starts at 0. */
struct hello {
	bool v2;              /* SSL 2.0-compatible ClientHello */
	bool fixed;           /* the fixed part (through compression) parsed */
	uint16_t version;     /* legacy_version of the hello */
	uint16_t supported;   /* highest supported_versions entry, 0 if none */
	size_t sni_len;
	size_t alpn_len;
	/* For JA4 (client only), GREASE values left out. */
	bool sni_ext;                /* a server_name extension is there */
	uint16_t top_version;        /* highest supported_versions entry, raw */
	unsigned n_suites, n_exts, n_sigs;
	bool ja4_overflow;           /* a list did not fit */
	uint8_t alpn0[2];            /* first and last byte of the first ALPN */
	size_t alpn0_len;            /* length of the first ALPN value */
	/* arrays: not cleared (see above) */
	uint8_t sni[IDENT_VALUE_MAX];
	uint8_t alpn[IDENT_VALUE_MAX];
	uint16_t suites[JA4_SUITES_MAX];
	uint16_t exts[JA4_EXTS_MAX]; /* in the order they appear */
	uint16_t sigs[JA4_SIGS_MAX]; /* signature_algorithms, in order */
};

static void hello_init(struct hello *o) { memset(o, 0, offsetof(struct hello, sni)); }

/* RFC 8701 GREASE values (0x?a?a) mean nothing. */
static bool grease(uint16_t v) { return (v & 0x0f0f) == 0x0a0a && (v >> 12) == ((v >> 4) & 0xf); }

/* Reads count 16-bit values, keeping those that are not GREASE in v (up
 * to max; more set *overflow). A list wholly in this record and kept (the
 * usual case) is read at p and taken at once: hs_be16 per value updates
 * the reader's four counts each time (perf, flows_1e6 with --json:
 * parse_hello went from 5.3% of the samples to 3.5%). */
static inline void list_keep(uint16_t x, uint16_t *v, unsigned *k, unsigned max, bool *overflow)
{
	if (grease(x))
		return;
	if (*k < max)
		v[(*k)++] = x;
	else
		*overflow = true;
}

static void hs_be16_list(struct hs_reader *h, uint32_t count, uint16_t *v, unsigned *nv,
                         unsigned max, bool *overflow)
{
	unsigned k = *nv;
	if (count <= h->n / 2u) {
		const uint8_t *p = h->p;
		for (uint32_t i = 0; i < count; i++)
			list_keep((uint16_t)(p[2 * i] << 8 | p[2 * i + 1]), v, &k, max, overflow);
		hs_take(h, 2 * count);
	} else {
		for (uint32_t i = 0; i < count && !hs_failed(h); i++) {
			uint16_t x = hs_be16(h);
			if (!hs_failed(h))
				list_keep(x, v, &k, max, overflow);
		}
	}
	*nv = k;
}

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
	bool first = true;
	while (h->pos < end && !hs_failed(h)) {
		uint8_t n = hs_u8(h);
		if (n == 0 || h->pos + n > end)
			return;
		if (o->alpn_len && o->alpn_len < sizeof o->alpn)
			o->alpn[o->alpn_len++] = ',';
		for (unsigned i = 0; i < n && !hs_failed(h); i++) {
			uint8_t c = hs_u8(h);
			if (o->alpn_len < sizeof o->alpn)
				o->alpn[o->alpn_len++] = c;
			/* JA4 takes the first value's first and last bytes. */
			if (first && i == 0)
				o->alpn0[0] = c;
			if (first && i + 1u == n)
				o->alpn0[1] = c;
		}
		if (first)
			o->alpn0_len = n;
		first = false;
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
		uint16_t raw = hs_be16(h);
		if (!grease(raw) && raw > o->top_version)
			o->top_version = raw;
		uint16_t v = tls13_variant(raw);
		if (!grease(v) && tls_version_ok(v) && v > o->supported)
			o->supported = v;
	}
}

static void ext_signature_algorithms(struct hs_reader *h, uint32_t end, struct hello *o)
{
	/* RFC 8446 4.2.3: supported_signature_algorithms<2..2^16-2>. */
	uint16_t list = hs_be16(h);
	if (list + h->pos != end || list % 2)
		return;
	hs_be16_list(h, list / 2u, o->sigs, &o->n_sigs, JA4_SIGS_MAX, &o->ja4_overflow);
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
		if (!server && !grease(type)) {
			if (o->n_exts < JA4_EXTS_MAX)
				o->exts[o->n_exts++] = type;
			else
				o->ja4_overflow = true;
			if (type == EXT_SERVER_NAME)
				o->sni_ext = true;
		}
		if (type == EXT_SIGNATURE_ALGORITHMS && !server && n >= 2)
			ext_signature_algorithms(h, ext_end, o);
		else if (type == EXT_SERVER_NAME && !server && n >= 2)
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
	struct hs_reader h;
	hs_init(&h, r);
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
		hs_be16_list(&h, suites / 2u, o->suites, &o->n_suites, JA4_SUITES_MAX,
		             &o->ja4_overflow);
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

static enum ident_verdict server_accepts_bad_hello(const struct ident_input *in,
                                                   struct ident_evidence *ev);

bool ident_tls_fake(const struct ident_input *in)
{
	if (appdata_first(in))
		return true;
	if (!record_header_plausible(in))
		return false;
	struct hello c;
	hello_init(&c);
	enum parse p = client_hello(in, &c);
	if (p == P_BAD) {
		/* Unless a server answered it with a whole ServerHello. */
		struct ident_evidence ev;
		ident_clear(&ev);
		return server_accepts_bad_hello(in, &ev) != IDENT_MATCH;
	}
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

/*
 * JA4, the TLS client fingerprint of FoxIO's JA4+ (technical_details/JA4.md):
 *
 *   t 13 d 15 16 h2 _ 8daaf6152771 _ e5627efa2ab1
 *   | |  | |  |  |    |              sha256, first 12 hex digits, of the
 *   | |  | |  |  |    |              extensions sorted (SNI 0000 and ALPN
 *   | |  | |  |  |    |              0010 left out) "_" the signature
 *   | |  | |  |  |    |              algorithms in their order
 *   | |  | |  |  |    sha256 (12) of the cipher suites sorted, "%04x,"
 *   | |  | |  |  first and last character of the first ALPN value (00)
 *   | |  | |  extensions counted (SNI and ALPN included), at most 99
 *   | |  | cipher suites counted, at most 99
 *   | |  d: an SNI extension, i: none
 *   | highest supported_versions entry, else the hello's version
 *   t: TLS over TCP
 *
 * GREASE values (RFC 8701) count nowhere; an empty list hashes to twelve
 * zeros.
 */
static const char *ja4_version(uint16_t v)
{
	switch (v) {
	case 0x0304: return "13";
	case 0x0303: return "12";
	case 0x0302: return "11";
	case 0x0301: return "10";
	case 0x0300: return "s3";
	case 0x0002: return "s2";
	case 0xfeff: return "d1";
	case 0xfefd: return "d2";
	case 0xfefc: return "d3";
	default: return "00";
	}
}

static bool ja4_alnum(uint8_t c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static void u16_sort(uint16_t *v, unsigned n)
{
	for (unsigned i = 1; i < n; i++) {
		uint16_t x = v[i];
		unsigned j = i;
		for (; j > 0 && v[j - 1] > x; j--)
			v[j] = v[j - 1];
		v[j] = x;
	}
}

/* Appends "%04x" values joined by commas; returns the new length. */
static size_t ja4_list(char *buf, size_t at, size_t cap, const uint16_t *v, unsigned n)
{
	static const char hex[] = "0123456789abcdef";
	for (unsigned i = 0; i < n && at + 5 < cap; i++) {
		if (i)
			buf[at++] = ',';
		for (int k = 3; k >= 0; k--)
			buf[at++] = hex[(v[i] >> (4 * k)) & 0xf];
	}
	return at;
}

/* The first 12 hex digits of SHA-256 over buf[0..n), or 12 zeros. */
static void ja4_hash12(const char *buf, size_t n, bool empty, char out[12])
{
	static const char hex[] = "0123456789abcdef";
	if (empty) {
		memset(out, '0', 12);
		return;
	}
	uint8_t d[32];
	sha256_digest((const uint8_t *)buf, n, d);
	for (int i = 0; i < 6; i++) {
		out[2 * i] = hex[d[i] >> 4];
		out[2 * i + 1] = hex[d[i] & 0xf];
	}
}

/* JA4 from the raw lists (exposed for the published example's check). */
size_t ident_ja4_build(bool sni, uint16_t version, const uint16_t *suites, unsigned n_suites,
                       const uint16_t *exts, unsigned n_exts, const uint16_t *sigs,
                       unsigned n_sigs, const uint8_t *alpn0, size_t alpn0_len, char out[37])
{
	static const char hex[] = "0123456789abcdef";
	uint16_t cs[JA4_SUITES_MAX], ex[JA4_EXTS_MAX];
	unsigned ncs = 0, nex = 0;
	for (unsigned i = 0; i < n_suites && ncs < JA4_SUITES_MAX; i++)
		cs[ncs++] = suites[i];
	for (unsigned i = 0; i < n_exts && nex < JA4_EXTS_MAX; i++)
		if (exts[i] != EXT_SERVER_NAME && exts[i] != EXT_ALPN)
			ex[nex++] = exts[i];
	u16_sort(cs, ncs);
	u16_sort(ex, nex);

	char a[2];
	if (alpn0_len == 0) {
		a[0] = a[1] = '0';
	} else if (ja4_alnum(alpn0[0]) && ja4_alnum(alpn0[1])) {
		a[0] = (char)alpn0[0];
		a[1] = (char)alpn0[1];
	} else {
		/* First and last characters of the value's hex form. */
		a[0] = hex[alpn0[0] >> 4];
		a[1] = hex[alpn0[1] & 0xf];
	}
	unsigned nc = n_suites > 99 ? 99 : n_suites, ne = n_exts > 99 ? 99 : n_exts;
	const char *v = ja4_version(version);
	char *o = out;
	*o++ = 't';
	*o++ = v[0];
	*o++ = v[1];
	*o++ = sni ? 'd' : 'i';
	*o++ = (char)('0' + nc / 10);
	*o++ = (char)('0' + nc % 10);
	*o++ = (char)('0' + ne / 10);
	*o++ = (char)('0' + ne % 10);
	*o++ = a[0];
	*o++ = a[1];
	*o++ = '_';
	char buf[5 * (JA4_EXTS_MAX + JA4_SIGS_MAX + JA4_SUITES_MAX) + 2];
	size_t n = ja4_list(buf, 0, sizeof buf, cs, ncs);
	ja4_hash12(buf, n, ncs == 0, o);
	o += 12;
	*o++ = '_';
	n = ja4_list(buf, 0, sizeof buf, ex, nex);
	if (n_sigs) {
		buf[n++] = '_';
		n = ja4_list(buf, n, sizeof buf, sigs, n_sigs);
	}
	ja4_hash12(buf, n, nex == 0, o);
	o += 12;
	*o = 0;
	return (size_t)(o - out);
}

static const char ja4_key[] = "ja4";

/* The JA4 of a hello that parsed whole; false when it has none. */
static bool ja4_of(const struct hello *c, char fp[37], size_t *n)
{
	if (c->v2 || c->ja4_overflow)
		return false;
	*n = ident_ja4_build(c->sni_ext, c->top_version ? c->top_version : c->version, c->suites,
	                     c->n_suites, c->exts, c->n_exts, c->sigs, c->n_sigs, c->alpn0,
	                     c->alpn0_len, fp);
	return true;
}

/* ev->finish of a MATCH that reserved the "ja4" field: parses the
 * client's hello again and writes its JA4 there. The input is the one
 * tls_match judged, so the hello parses as it did then (P_OK, the same
 * lists); a hello that could not give a JA4 reserved no field. */
static void ja4_finish(const struct ident_input *in, struct ident_evidence *ev)
{
	struct hello c;
	hello_init(&c);
	char fp[37];
	size_t n;
	if (client_hello(in, &c) != P_OK || !ja4_of(&c, fp, &n))
		return;
	for (unsigned i = 0; i < ev->nfields; i++) {
		struct ident_field *f = &ev->field[i];
		if (f->key == ja4_key) {
			memcpy(f->value, fp, n);
			f->len = (uint16_t)n;
		}
	}
}

/* JA4 is shown only with an alert, a small share of TLS flows, and costs
 * two SHA-256 and the sorting and formatting of the lists: the field is
 * reserved here, in its place among the others, and filled in by
 * ja4_finish when the evidence is to be shown. */
static void ja4_add(const struct hello *c, struct ident_evidence *ev)
{
	if (c->v2 || c->ja4_overflow)
		return;
	ident_add(ev, ja4_key, NULL, 0);
	ev->finish = ja4_finish;
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
 *   | 20-23| 03 01-04|  1 .. 2^14 + 2048                   |
 *   +------+---------+--------+----------------------------+
 *
 * records() walks the chain from the first byte: each header must be
 * well-formed and land exactly where the previous record ends. Only for
 * flows seen mid-stream: a stream seen from its start opens with a
 * ClientHello.
 */
struct chain {
	int whole;          /* whole records back to back from the first byte */
	bool next_header;   /* then a whole, valid header whose record runs
	                       past the bytes kept */
	bool exact;         /* the bytes end exactly where a record ends */
	uint8_t first_type; /* content type of the first record */
	uint16_t version;   /* the record version (all records share it) */
};

/* False at the first header that is not a record. */
static bool records(const uint8_t *data, uint32_t len, struct chain *c)
{
	struct reader r;
	rd_init(&r, data, len);
	memset(c, 0, sizeof *c);
	while (rd_remaining(&r) >= 5) {
		uint8_t type = rd_u8(&r);
		uint16_t ver = rd_be16(&r), rlen = rd_be16(&r);
		if (type < 20 || type > 23 || ver < 0x0301 || ver > 0x0304 || rlen == 0 ||
		    rlen > TLS_RECORD_MAX)
			return false;
		if (c->version == 0) {
			c->version = ver;
			c->first_type = type;
		} else if (ver != c->version && type != TLS_CT_ALERT) {
			return false; /* one connection, one record version */
		}
		if (!rd_has(&r, rlen)) {
			c->next_header = c->whole > 0;
			return true; /* the last record runs past the bytes kept */
		}
		rd_skip(&r, rlen);
		c->whole++;
	}
	/* A header cut short by the end of the data must agree so far. */
	uint8_t b;
	if (rd_peek_u8(&r, 0, &b) && (b < 20 || b > 23))
		return false;
	if (rd_peek_u8(&r, 1, &b) && b != 3)
		return false;
	c->exact = rd_remaining(&r) == 0;
	return true;
}

/*
 * What is evidence, from the strongest:
 *   - two whole records (either direction, or one in each);
 *   - one whole record and, right after it, the valid header of the next;
 *   - a record header in each direction, one of the records whole;
 *   - once both sides are done, one whole record that is all one side
 *     sent while the other side sent nothing: an alert (21) or
 *     application data (23) - what a connection's last moments look like
 *     (close_notify, a final message). A single handshake record is not
 *     enough: a hello without its connection's start is what fake TLS
 *     sends, and a real one is read by the handshake parser above.
 */
static enum ident_verdict tls_midstream(const struct ident_input *in, struct ident_evidence *ev)
{
	struct chain c[2];
	memset(c, 0, sizeof c);
	for (int d = 0; d < 2; d++)
		if (in->len[d] && !records(in->data[d], in->len[d], &c[d]))
			return IDENT_NO_MATCH;
	if (c[0].version && c[1].version && c[0].version != c[1].version)
		return IDENT_NO_MATCH;
	int whole = c[0].whole + c[1].whole;
	bool both_dirs = c[0].version && c[1].version;
	bool done = in->done[0] && in->done[1];
	uint8_t conf;
	if (whole >= 2)
		conf = whole >= 4 ? 80 : 65;
	else if (whole == 1 && (c[0].next_header || c[1].next_header || both_dirs))
		conf = 60;
	else if (whole == 1 && done) {
		int d = c[0].whole ? 0 : 1;
		uint8_t t = c[d].first_type;
		if (!c[d].exact || in->len[1 - d] || (t != TLS_CT_ALERT && t != 23))
			return IDENT_NO_MATCH;
		conf = 50;
	} else {
		return done ? IDENT_NO_MATCH : IDENT_NEED_MORE;
	}
	uint16_t v = c[0].version ? c[0].version : c[1].version;
	ident_add_str(ev, "tls_version", version_name(v));
	ident_add_str(ev, "tls_midstream", "1");
	ev->server_confirmed = both_dirs;
	ev->confidence = conf;
	return IDENT_MATCH;
}

/*
 * A ClientHello that does not parse (a length that does not add up) but
 * that a server answered with a ServerHello that parses to its end: the
 * server took it for TLS and so does offport. Only the handshake record
 * header and the ClientHello type byte are required of the client; the
 * server's whole hello carries the weight.
 */
static enum ident_verdict server_accepts_bad_hello(const struct ident_input *in,
                                                   struct ident_evidence *ev)
{
	uint8_t t;
	struct reader r;
	rd_init(&r, in->data[0], in->len[0]);
	if (!record_header_plausible(in) || !rd_peek_u8(&r, 5, &t) || t != TLS_HS_CLIENT_HELLO)
		return IDENT_NO_MATCH;
	struct hello s;
	hello_init(&s);
	rd_init(&r, in->data[1], in->len[1]);
	uint8_t b0;
	if (!rd_peek_u8(&r, 0, &b0))
		return in->done[1] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
	if (b0 != TLS_CT_HANDSHAKE)
		return IDENT_NO_MATCH;
	enum parse p = parse_hello(&r, true, &s);
	if (p == P_PARTIAL && !in->done[1])
		return IDENT_NEED_MORE;
	if (p != P_OK)
		return IDENT_NO_MATCH;
	ident_add_str(ev, "tls_version", version_name(s.supported ? s.supported : s.version));
	ident_add_str(ev, "tls_client_hello", "malformed");
	ev->server_confirmed = true;
	ev->confidence = 80;
	return IDENT_MATCH;
}

static enum ident_verdict tls_match(const struct ident_input *in, struct ident_evidence *ev)
{
	struct hello c, s;
	hello_init(&c);
	hello_init(&s);
	if (in->midstream[0] || in->midstream[1]) {
		/* The handshake may be there (the SYN alone was lost): try it
		 * first, then the record chain. */
		struct ident_evidence hv; /* a scratch: ev is kept for the chain */
		ident_clear(&hv);
		struct ident_input whole = *in;
		whole.midstream[0] = whole.midstream[1] = false;
		enum ident_verdict v = tls_match(&whole, &hv);
		if (v == IDENT_MATCH) {
			*ev = hv;
			return v;
		}
		/* The chain may rule it out while the handshake may still
		 * complete: only both decide NO_MATCH (it is final). */
		enum ident_verdict m = tls_midstream(in, ev);
		return m == IDENT_NO_MATCH ? v : m;
	}
	/* While both sides may still send and the server has sent nothing,
	 * a client that opened with a handshake record header and the
	 * ClientHello type byte gets NEED_MORE whatever the rest says: a hello
	 * that parses or is cut short waits for the server's answer (S_WAIT),
	 * one that does not parse waits for a server that may accept it
	 * (server_accepts_bad_hello). The parse is left for the run that has
	 * the server's bytes, so a flow parses its hello once, not twice. */
	if (in->len[1] == 0 && !in->done[0] && !in->done[1] && record_header_plausible(in)) {
		struct reader r;
		rd_init(&r, in->data[0], in->len[0]);
		uint8_t t;
		if (rd_peek_u8(&r, 5, &t) && t == TLS_HS_CLIENT_HELLO)
			return IDENT_NEED_MORE;
	}
	enum parse p = client_hello(in, &c);
	if (p == P_BAD)
		return server_accepts_bad_hello(in, ev);
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
	if (p == P_OK)
		ja4_add(&c, ev);
	ev->server_confirmed = a == S_HELLO || a == S_ALERT;
	ev->confidence = a == S_HELLO ? 100 : a == S_ALERT ? 95 : p == P_OK ? 85 : 70;
	return IDENT_MATCH;
}

/* The first bytes (identify.h, first_byte), of direction d.
 * The client's: client_hello: a handshake record (22) or an SSLv2 hello
 * (top bit); the others are P_BAD, and server_accepts_bad_hello needs a
 * handshake record header. With the server mid-stream, tls_midstream's
 * records() also wants a record type 20-23 first.
 * The server's: none declared. */
static bool tls_first_byte(int d, uint8_t transport, uint8_t b)
{
	if (d != 0)
		return true;
	(void)transport;
	return (b >= 20 && b <= 23) || (b & 0x80);
}

const struct ident_proto ident_tls = {"tls", "TLS / SSL 3.0 (RFC 8446, RFC 5246, RFC 6101)",
                                      IDENT_TCP, tls_match, NULL, tls_first_byte};
