/*
 * proto_dtls.c - DTLS 1.0, 1.2 and 1.3 over UDP, by the ClientHello.
 *
 * Specifications: RFC 6347 (DTLS 1.2) sections 4.1, 4.2.1-4.2.3, RFC 4347
 * (DTLS 1.0), RFC 9147 (DTLS 1.3) sections 4, 5.3; extensions as in TLS
 * (RFC 6066 server_name, RFC 8446 supported_versions).
 *
 * Client's first datagram:
 *
 *   record   +----+-------+-------+-------+-------+   type 22, version
 *            | 16 | fe xx | epoch | seq48 | len16 |   feff (1.0), fefd (1.2),
 *            +----+-------+-------+-------+-------+   fefc; epoch 0
 *   message  +----+-------+-------+-------+-------+
 *            | 01 | len24 | mseq  | foff24| flen24|   fragment offset 0,
 *            +----+-------+-------+-------+-------+   flen <= len
 *   body     | version | random | sid | cookie | suites | comp | ext |
 *                fe xx     32    1+<=32 1+<=255  2+2n>0  1+n>0  2+... exact
 *
 * Server's first datagram: a HelloVerifyRequest (type 3) or ServerHello
 * (type 2) in a DTLS handshake record, or a DTLS alert (type 21), confirms;
 * other bytes cancel.
 *
 * The ClientHello may be fragmented (RFC 6347 4.2.3): the first fragment is
 * parsed as far as it goes. A server that answers with another handshake
 * record (one sent the ClientHello back) confirms less strongly.
 *
 * Without a ClientHello (a capture that began mid-session, or kept only the
 * server's flight), every datagram of both sides must be DTLS records back
 * to back of one version, each judged by its content type (see
 * dtls_dgram_records); evidence dtls_midstream=1. When only one side sent
 * anything, the engine may have guessed it to be the server (by port): its
 * bytes are then judged as the client's.
 */
#include <string.h>

#include "common/reader.h"
#include "identify/identify.h"
#include "identify/protocols.h"

#define DTLS_CT_ALERT 21
#define DTLS_CT_HANDSHAKE 22
#define DTLS_RECORD_MAX ((1u << 14) + 2048)
#define DTLS_HELLO_MAX (1u << 16)

static bool dtls_version_ok(uint16_t v)
{
	/* 0xfeff DTLS 1.0, 0xfefd 1.2, 0xfefc 1.3 (RFC 9147 5.3: only in
	 * supported_versions, records say fefd), 0x0100 pre-RFC OpenSSL. */
	return v == 0xfeff || v == 0xfefd || v == 0xfefc || v == 0x0100;
}

static const char *version_name(uint16_t v)
{
	switch (v) {
	case 0xfeff: return "1.0";
	case 0xfefd: return "1.2";
	case 0xfefc: return "1.3";
	case 0x0100: return "1.0-pre";
	default: return "unknown";
	}
}

/* RFC 8701 GREASE. */
static bool grease(uint16_t v) { return (v & 0x0f0f) == 0x0a0a && (v >> 12) == ((v >> 4) & 0xf); }

/* Newer DTLS versions are numerically smaller. */
static bool newer(uint16_t a, uint16_t b) { return b == 0 || (a != 0x0100 && a < b); }

struct hello {
	uint16_t version, supported;
	uint8_t sni[IDENT_VALUE_MAX];
	size_t sni_len;
};

/* Record header and handshake header of the first record of a datagram;
 * returns the handshake fragment's reader and the message type. */
static bool dtls_record(struct reader *dg, uint8_t *ctype, struct reader *body)
{
	*ctype = rd_u8(dg);
	uint16_t ver = rd_be16(dg);
	uint16_t epoch = rd_be16(dg);
	uint16_t seq_hi = rd_be16(dg);
	rd_skip(dg, 4);
	uint16_t len = rd_be16(dg);
	/* Sequence numbers start at 0 and a first flight does not reach 2^32. */
	if (!rd_ok(dg) || !dtls_version_ok(ver) || epoch != 0 || seq_hi != 0 || len == 0 ||
	    len > DTLS_RECORD_MAX || !rd_has(dg, len))
		return false;
	*body = rd_sub(dg, len);
	return true;
}

static void ext_walk(struct reader *r, bool server, struct hello *o)
{
	while (rd_remaining(r) >= 4) {
		uint16_t type = rd_be16(r);
		uint16_t n = rd_be16(r);
		struct reader e = rd_sub(r, n);
		if (!rd_ok(r))
			return;
		if (type == 0 && !server) {
			/* server_name: list16 { type 0, name16 } */
			uint16_t list = rd_be16(&e);
			uint8_t t = rd_u8(&e);
			uint16_t nl = rd_be16(&e);
			const uint8_t *name = rd_bytes(&e, nl);
			if (rd_ok(&e) && list == n - 2 && t == 0 && name) {
				o->sni_len = nl < sizeof o->sni ? nl : sizeof o->sni;
				struct reader nr;
				rd_init(&nr, name, nl);
				rd_copy(&nr, o->sni, o->sni_len);
			}
		} else if (type == 43 && server) {
			uint16_t v = rd_be16(&e);
			if (rd_ok(&e) && n == 2)
				o->supported = v;
		} else if (type == 43) {
			uint8_t l = rd_u8(&e);
			if (l != n - 1 || l % 2)
				continue;
			while (rd_remaining(&e) >= 2) {
				uint16_t v = rd_be16(&e);
				if (!grease(v) && dtls_version_ok(v) && v != 0x0100 && newer(v, o->supported))
					o->supported = v;
			}
		}
	}
}

enum parse { P_OK, P_PARTIAL, P_BAD };

/* The ClientHello in the client's first datagram. */
static enum parse client_hello(struct reader *dg, struct hello *o)
{
	uint8_t ctype;
	struct reader rec;
	if (!dtls_record(dg, &ctype, &rec) || ctype != DTLS_CT_HANDSHAKE)
		return P_BAD;
	uint8_t type = rd_u8(&rec);
	uint32_t len = rd_be24(&rec);
	uint16_t mseq = rd_be16(&rec);
	uint32_t foff = rd_be24(&rec);
	uint32_t flen = rd_be24(&rec);
	/* The first ClientHello has message_seq 0, the one after a
	 * HelloVerifyRequest 1; retransmissions keep theirs. */
	if (!rd_ok(&rec) || type != 1 || mseq > 2 || foff != 0 || len < 40 ||
	    len > DTLS_HELLO_MAX || flen > len || flen > rd_remaining(&rec) || flen == 0)
		return P_BAD;
	rd_limit(&rec, flen);
	bool whole = flen == len;
	/* Each length is judged once read; running out of a cut fragment is
	 * not an error, running out of a whole one is. */
	enum parse cut = whole ? P_BAD : P_PARTIAL;
	o->version = rd_be16(&rec);
	rd_skip(&rec, 32);
	uint8_t sid = rd_u8(&rec);
	if (!rd_ok(&rec))
		return cut;
	if (!dtls_version_ok(o->version) || sid > 32)
		return P_BAD;
	rd_skip(&rec, sid);
	uint8_t cookie = rd_u8(&rec);
	rd_skip(&rec, cookie);
	uint16_t suites = rd_be16(&rec);
	if (!rd_ok(&rec))
		return cut;
	if (suites == 0 || suites % 2)
		return P_BAD;
	rd_skip(&rec, suites);
	uint8_t comp = rd_u8(&rec);
	if (!rd_ok(&rec))
		return cut;
	if (comp == 0)
		return P_BAD;
	rd_skip(&rec, comp);
	if (!rd_ok(&rec))
		return cut;
	if (rd_remaining(&rec) == 0)
		return P_OK; /* no extensions */
	uint16_t total = rd_be16(&rec);
	if (whole && total != rd_remaining(&rec))
		return P_BAD;
	if (!rd_ok(&rec) || total < rd_remaining(&rec))
		return whole ? P_BAD : P_PARTIAL;
	struct reader ext = rd_sub(&rec, rd_remaining(&rec));
	ext_walk(&ext, false, o);
	if (whole && (rd_remaining(&ext) != 0 || !rd_ok(&ext)))
		return P_BAD;
	return whole ? P_OK : P_PARTIAL;
}

enum answer { A_NONE, A_HELLO, A_VERIFY, A_ALERT, A_RECORD, A_OTHER };

static enum answer server_answer(struct reader *dg, struct hello *s)
{
	if (rd_remaining(dg) == 0)
		return A_NONE;
	uint8_t ctype;
	struct reader rec;
	if (!dtls_record(dg, &ctype, &rec))
		return A_OTHER;
	if (ctype == DTLS_CT_ALERT) {
		uint8_t level = rd_u8(&rec);
		return rd_ok(&rec) && rd_remaining(&rec) == 1 && (level == 1 || level == 2) ? A_ALERT
		                                                                            : A_OTHER;
	}
	if (ctype != DTLS_CT_HANDSHAKE)
		return A_OTHER;
	uint8_t type = rd_u8(&rec);
	uint32_t len = rd_be24(&rec);
	rd_skip(&rec, 2);
	uint32_t foff = rd_be24(&rec);
	uint32_t flen = rd_be24(&rec);
	uint16_t ver = rd_be16(&rec);
	if (!rd_ok(&rec) || foff != 0 || flen > len || !dtls_version_ok(ver))
		return A_OTHER;
	if (type == 3) {
		/* HelloVerifyRequest: server_version, cookie<0..2^8-1>. */
		uint8_t cl = rd_u8(&rec);
		return rd_ok(&rec) && len == 3u + cl ? A_VERIFY : A_OTHER;
	}
	if (type != 2)
		/* Another handshake message in a DTLS record (a server that
		 * sent the ClientHello back): DTLS bytes all the same. */
		return flen <= len && flen + 12 == rec.len ? A_RECORD : A_OTHER;
	s->version = ver;
	rd_skip(&rec, 32);
	uint8_t sid = rd_u8(&rec);
	rd_skip(&rec, sid);
	rd_skip(&rec, 3); /* suite, compression */
	if (!rd_ok(&rec) || sid > 32)
		return A_OTHER;
	if (flen == len && rd_remaining(&rec) >= 2) {
		rd_skip(&rec, 2);
		ext_walk(&rec, true, s);
	}
	return A_HELLO;
}

/* One datagram of DTLS records back to back, filling it exactly (RFC 6347
 * section 4.1: several records may share a datagram, none may span two).
 * Each record is judged by its content type: a handshake record of epoch 0
 * carries a handshake header whose fragment fills it; ChangeCipherSpec is
 * the single byte 1; a clear alert is level 1 or 2 and a description;
 * application data is protected (epoch 1 or later). *ver keeps the record
 * version, which must not change within the flow. Counts records in *n. */
static bool dtls_dgram_records(struct reader dg, uint16_t *ver, unsigned *n)
{
	if (rd_remaining(&dg) == 0)
		return false;
	while (rd_remaining(&dg) > 0) {
		uint8_t ct = rd_u8(&dg);
		uint16_t v = rd_be16(&dg), epoch = rd_be16(&dg), seq_hi = rd_be16(&dg);
		rd_skip(&dg, 4);
		uint16_t len = rd_be16(&dg);
		struct reader rec = rd_sub(&dg, len);
		if (!rd_ok(&dg) || !dtls_version_ok(v) || (*ver && v != *ver) || seq_hi != 0 ||
		    len == 0 || len > DTLS_RECORD_MAX)
			return false;
		*ver = v;
		switch (ct) {
		case 20: /* change_cipher_spec */
			if (len != 1 || rd_u8(&rec) != 1)
				return false;
			break;
		case DTLS_CT_ALERT:
			if (epoch == 0) {
				uint8_t level = rd_u8(&rec);
				(void)rd_u8(&rec);
				if (len != 2 || (level != 1 && level != 2))
					return false;
			} else if (len < 2) {
				return false;
			}
			break;
		case DTLS_CT_HANDSHAKE:
			if (epoch == 0) {
				uint8_t mt = rd_u8(&rec);
				uint32_t mlen = rd_be24(&rec);
				rd_skip(&rec, 2);
				uint32_t foff = rd_be24(&rec), flen = rd_be24(&rec);
				if (!rd_ok(&rec) || mt == 0 || mt > 20 || flen + 12 != len ||
				    foff + flen > mlen)
					return false;
			}
			break;
		case 23: /* application_data */
			if (epoch == 0)
				return false;
			break;
		default:
			return false;
		}
		(*n)++;
	}
	return true;
}

/* Without a ClientHello (the capture began later, or only the server's
 * flight was kept): every datagram of both sides must be DTLS records of
 * one version. One datagram decides alone only when it holds two records
 * or more; otherwise two datagrams are needed, or the flow's end. */
static enum ident_verdict dtls_records_match(const struct ident_input *in,
                                             struct ident_evidence *ev)
{
	uint16_t ver = 0;
	unsigned ndg = 0, nrec = 0;
	for (int d = 0; d < 2; d++) {
		struct reader all;
		rd_init(&all, in->data[d], in->len[d]);
		for (unsigned k = 0; k < in->ndgrams[d]; k++) {
			struct reader dg = rd_sub(&all, in->dgram_len[d][k]);
			if (!rd_ok(&all) || !dtls_dgram_records(dg, &ver, &nrec))
				return IDENT_NO_MATCH;
			ndg++;
		}
	}
	if (ndg == 0)
		return IDENT_NO_MATCH;
	if (ndg < 2 && nrec < 2 && !(in->done[0] && in->done[1]))
		return IDENT_NEED_MORE;
	ident_add_str(ev, "dtls_version", version_name(ver));
	ident_add_str(ev, "dtls_midstream", "1");
	ev->server_confirmed = in->ndgrams[0] && in->ndgrams[1];
	ev->confidence = ndg >= 2 || nrec >= 2 ? 70 : 55;
	return IDENT_MATCH;
}

static enum ident_verdict dtls_match_oriented(const struct ident_input *in,
                                              struct ident_evidence *ev)
{
	/* No client datagram: with the client done, the server's datagrams
	 * still to come would be judged as the client's (dtls_match), so only
	 * both sides done end it (NO_MATCH is final). */
	if (in->ndgrams[0] == 0)
		return in->done[0] && in->done[1] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
	struct reader all, dg;
	rd_init(&all, in->data[0], in->len[0]);
	dg = rd_sub(&all, in->dgram_len[0][0]);
	struct hello c, s;
	memset(&c, 0, sizeof c);
	memset(&s, 0, sizeof s);
	enum parse p = client_hello(&dg, &c);
	if (p == P_BAD)
		return dtls_records_match(in, ev);

	enum answer a = A_NONE;
	if (in->ndgrams[1]) {
		rd_init(&all, in->data[1], in->len[1]);
		dg = rd_sub(&all, in->dgram_len[1][0]);
		a = server_answer(&dg, &s);
	}
	if (a == A_OTHER)
		return IDENT_NO_MATCH;
	if (a == A_NONE && !in->done[1])
		return IDENT_NEED_MORE;

	if (c.sni_len)
		ident_add(ev, "sni", c.sni, c.sni_len);
	uint16_t v = a == A_HELLO ? (s.supported ? s.supported : s.version)
	                          : (c.supported ? c.supported : c.version);
	ident_add_str(ev, "dtls_version", version_name(v));
	ev->server_confirmed = a != A_NONE;
	ev->confidence = a == A_HELLO || a == A_VERIFY ? 100
	                 : a == A_ALERT || a == A_RECORD ? 90
	                 : p == P_OK ? 85 : 70;
	return IDENT_MATCH;
}

/* dtls_match past its cheap NO_MATCH tests. Out of line: the tests run
 * without this function's frame. */
__attribute__((noinline)) static enum ident_verdict
dtls_match_parse(const struct ident_input *in, struct ident_evidence *ev)
{
	bool swap = in->len[0] == 0 && in->done[0] && in->ndgrams[1];
	if (swap) {
		struct ident_input sw = *in;
		for (int d = 0; d < 2; d++) {
			sw.data[d] = in->data[1 - d];
			sw.len[d] = in->len[1 - d];
			sw.done[d] = in->done[1 - d];
			sw.truncated[d] = in->truncated[1 - d];
			sw.midstream[d] = in->midstream[1 - d];
			sw.ndgrams[d] = in->ndgrams[1 - d];
			for (int k = 0; k < IDENT_DGRAMS_MAX; k++)
				sw.dgram_len[d][k] = in->dgram_len[1 - d][k];
		}
		enum ident_verdict v = dtls_match_oriented(&sw, ev);
		ev->server_confirmed = false;
		return v;
	}
	return dtls_match_oriented(in, ev);
}

static enum ident_verdict dtls_match(const struct ident_input *in, struct ident_evidence *ev)
{
	/* Only one side sent anything and the engine guessed which is the
	 * client (by port): the bytes there are judged as the client's. */
	bool swap = in->len[0] == 0 && in->done[0] && in->ndgrams[1];
	int first = swap ? 1 : 0;
	if (!in->ndgrams[first]) /* dtls_match_oriented: no client datagram */
		return in->done[0] && in->done[1] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
	/* The usual NO_MATCH of dtls_match_oriented from three bytes, before
	 * the hellos are cleared and parsed: a client's first datagram shorter
	 * than a record header or without a DTLS record version is neither a
	 * ClientHello nor DTLS records. */
	{
		struct reader all, dg;
		uint8_t v0, v1;
		rd_init(&all, in->data[first], in->len[first]);
		dg = rd_sub(&all, in->dgram_len[first][0]);
		if (!rd_ok(&all) || !rd_has(&dg, 13) ||
		    (rd_peek_u8(&dg, 1, &v0) && rd_peek_u8(&dg, 2, &v1) &&
		     !dtls_version_ok((uint16_t)(v0 << 8 | v1))))
			return IDENT_NO_MATCH;
	}
	return dtls_match_parse(in, ev);
}

/* The first bytes (identify.h, first_byte), of direction d.
 * The client's: A client's first datagram is a ClientHello record
 * (content type 22) or, without one, DTLS records of types 20-23
 * (dtls_records_match): any other first byte fails client_hello and
 * dtls_dgram_records alike.
 * The server's: none declared. */
static bool dtls_first_byte(int d, uint8_t transport, uint8_t b)
{
	if (d != 0)
		return true;
	(void)transport;
	return b >= 20 && b <= 23;
}

const struct ident_proto ident_dtls = {"dtls", "DTLS (RFC 6347, RFC 9147)", IDENT_UDP, dtls_match, NULL, dtls_first_byte};
