/*
 * proto_dnscrypt.c - DNSCrypt version 2 (the DNSCrypt protocol
 * specification, https://dnscrypt.info/protocol), over UDP (one message a
 * datagram) or TCP (each message after a 16-bit length).
 *
 *   query:    <client-magic 8> <client-pk 32> <client-nonce 12> <encrypted
 *             query + MAC 16 + padding>
 *             client-magic: the first 8 bytes of the resolver certificate's
 *             client magic, chosen by the resolver
 *   response: "r6fnvWj8" (72 36 66 6e 76 57 6a 38, the resolver magic)
 *             <nonce 24 = client-nonce 12 + resolver-nonce 12>
 *             <encrypted response + MAC 16>
 *
 * The query alone is the resolver's magic followed by random bytes: nothing
 * tells it from other encrypted datagrams. The response starts with the
 * fixed 8-byte resolver magic and repeats the client's nonce half: when
 * both sides are there, the response's bytes 8-19 equal the query's bytes
 * 40-51 (a 2^-96 coincidence otherwise). A response seen without its
 * query (one side captured) is taken on the magic alone.
 *
 * The certificate fetch that precedes the encrypted exchange is a DNS
 * query (RFC 1035 header, QDCOUNT 1, QR 0) for TXT 2.dnscrypt-cert.<provider>
 * sent to the resolver's DNSCrypt port. It is part of the protocol (the
 * specification's "Certificates" section) and is named dnscrypt here, with
 * the provider name as evidence: on udp/443 it is the DNSCrypt service,
 * not DNS on a web port. dnscrypt-proxy 1 adds a padding record of type 0
 * that a strict DNS parse refuses, so only the header and the question are
 * read. The server's answer, when there is one, must be a DNS response
 * with the same ID.
 */
#include "common/reader.h"
#include "identify/identify.h"

#define DNSCRYPT_QUERY_MIN (8 + 32 + 12 + 16)
#define DNSCRYPT_RESP_MIN (8 + 24 + 16)

/* Message k of direction d as a sub-reader; false when there is none (or
 * it is not whole). */
static bool dnscrypt_msg(const struct ident_input *in, int d, unsigned k, struct reader *m)
{
	struct reader r;
	rd_init(&r, in->data[d], in->len[d]);
	if (in->transport == IDENT_UDP) {
		if (k >= in->ndgrams[d])
			return false;
		for (unsigned i = 0; i < k; i++)
			rd_skip(&r, in->dgram_len[d][i]);
		*m = rd_sub(&r, in->dgram_len[d][k]);
		return rd_ok(&r);
	}
	for (unsigned i = 0;; i++) {
		uint16_t n = rd_be16(&r);
		if (!rd_ok(&r))
			return false;
		if (i == k) {
			/* a long message may be cut by the first-bytes budget:
			 * its start is enough */
			*m = rd_sub(&r, rd_has(&r, n) ? n : rd_remaining(&r));
			return rd_ok(&r);
		}
		rd_skip(&r, n);
	}
}

/* Whether the first message of direction d may still grow (TCP: its
 * length or bytes not all here; UDP: no datagram yet), d not done. */
static bool dnscrypt_partial(const struct ident_input *in, int d)
{
	if (in->done[d])
		return false;
	if (in->transport == IDENT_UDP)
		return in->ndgrams[d] == 0;
	struct reader r;
	rd_init(&r, in->data[d], in->len[d]);
	uint16_t n = rd_be16(&r);
	return !rd_ok(&r) || !rd_has(&r, n);
}

/* Whether the client's first message, still growing, may become a
 * certificate query: its bytes so far agree with a query header (QR 0,
 * opcode 0, QDCOUNT 1) and the labels "2" "dnscrypt-cert". */
static bool dnscrypt_cert_may(const struct ident_input *in)
{
	static const uint8_t want[] = {0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, '2', 13,
	                               'd', 'n', 's', 'c', 'r', 'y', 'p', 't', '-', 'c', 'e', 'r', 't'};
	if (!dnscrypt_partial(in, 0))
		return false;
	struct reader r;
	rd_init(&r, in->data[0], in->len[0]);
	if (in->transport == IDENT_TCP)
		rd_skip(&r, 2);
	uint8_t c;
	for (size_t i = 0; i < sizeof want && rd_peek_u8(&r, i, &c); i++) {
		if (i < 2 || i == 3 || i == 6 || i == 7 || i == 8 || i == 9 || i == 10 || i == 11)
			continue; /* id, flags low byte, other counts */
		if (i == 2 ? (c & 0xf8) != 0 : (c | (i >= 15 ? 0x20 : 0)) != want[i])
			return false;
	}
	return true;
}

/* The server's first message m: 1 a response, 0 its start (partial: the
 * rest may come), -1 not one. */
static int dnscrypt_response(const struct ident_input *in, struct reader m, bool partial)
{
	static const char magic[] = "r6fnvWj8";
	for (size_t i = 0; i < 8; i++) {
		uint8_t c;
		if (rd_peek_u8(&m, i, &c) && c != (uint8_t)magic[i])
			return -1;
	}
	if (in->transport == IDENT_TCP) {
		struct reader t;
		rd_init(&t, in->data[1], in->len[1]);
		if (rd_be16(&t) < DNSCRYPT_RESP_MIN)
			return -1;
	}
	if (rd_has(&m, DNSCRYPT_RESP_MIN))
		return 1;
	return partial ? 0 : -1;
}

/* The certificate query: DNS header, then the question's name starting
 * with the labels "2" and "dnscrypt-cert", type TXT. Copies the provider
 * name (the labels after them, dotted) into name. */
static bool dnscrypt_cert_query(struct reader m, uint16_t *id, char *name, size_t cap,
                                size_t *nlen)
{
	*id = rd_be16(&m);
	uint16_t flags = rd_be16(&m);
	uint16_t qd = rd_be16(&m);
	rd_skip(&m, 6);
	if (!rd_ok(&m) || (flags & 0x8000) || ((flags >> 11) & 15) != 0 || qd != 1)
		return false;
	*nlen = 0;
	for (unsigned label = 0;; label++) {
		uint8_t n = rd_u8(&m);
		if (!rd_ok(&m) || n > 63 || label > 127)
			return false;
		if (n == 0)
			break;
		struct reader l = rd_sub(&m, n);
		if (!rd_ok(&m))
			return false;
		if (label == 0) {
			if (n != 1 || !rd_starts(&l, "2"))
				return false;
			continue;
		}
		if (label == 1) {
			if (n != 13 || !rd_starts_ci(&l, "dnscrypt-cert"))
				return false;
			continue;
		}
		if (*nlen && *nlen < cap)
			name[(*nlen)++] = '.';
		while (rd_remaining(&l) > 0) {
			uint8_t c = rd_u8(&l);
			if (*nlen < cap)
				name[(*nlen)++] = (char)c;
		}
	}
	uint16_t qtype = rd_be16(&m);
	return rd_ok(&m) && qtype == 16 && *nlen > 0;
}

/* dnscrypt_match past its cheap NO_MATCH tests. Out of line: the tests run
 * without this function's frame. */
__attribute__((noinline)) static enum ident_verdict
dnscrypt_match_parse(const struct ident_input *in, struct ident_evidence *ev)
{
	struct reader cq;
	char provider[IDENT_VALUE_MAX];
	size_t plen;
	uint16_t qid;
	if (dnscrypt_msg(in, 0, 0, &cq) &&
	    dnscrypt_cert_query(cq, &qid, provider, sizeof provider, &plen)) {
		struct reader ans;
		bool answered = dnscrypt_msg(in, 1, 0, &ans);
		if (answered) {
			uint16_t aid = rd_be16(&ans);
			uint16_t aflags = rd_be16(&ans);
			if (!rd_ok(&ans)) /* its header may come (NO_MATCH is final) */
				return dnscrypt_partial(in, 1) ? IDENT_NEED_MORE : IDENT_NO_MATCH;
			if (aid != qid || !(aflags & 0x8000))
				return IDENT_NO_MATCH;
		} else if (!in->done[1]) {
			return IDENT_NEED_MORE;
		}
		ident_add_str(ev, "dnscrypt_role", "certificate");
		ident_add(ev, "dnscrypt_provider", (const uint8_t *)provider, plen);
		ev->server_confirmed = answered;
		ev->confidence = answered ? 95 : 85;
		return IDENT_MATCH;
	}
	struct reader q, s;
	bool hq = dnscrypt_msg(in, 0, 0, &q), hs = dnscrypt_msg(in, 1, 0, &s);
	/* the client's first message may still become a certificate query
	 * (NO_MATCH is final) */
	bool cpart = dnscrypt_cert_may(in);
	/* a whole first message neither a certificate query nor as long as
	 * a query: not DNSCrypt, whatever the server sends (NO_MATCH is
	 * final: a response to come must not turn it around) */
	if (hq && !cpart) {
		size_t qlen = rd_remaining(&q);
		if (in->transport == IDENT_TCP) {
			struct reader t;
			rd_init(&t, in->data[0], in->len[0]);
			qlen = rd_be16(&t);
		}
		if (qlen < DNSCRYPT_QUERY_MIN)
			return IDENT_NO_MATCH;
	}
	int rs = hs ? dnscrypt_response(in, s, dnscrypt_partial(in, 1)) : 0;
	if (rs < 0) {
		/* a DNS answer: the certificate query it answers may be on
		 * its way */
		uint8_t f;
		if (cpart && (!rd_peek_u8(&s, 2, &f) || (f & 0x80)))
			return IDENT_NEED_MORE;
		return IDENT_NO_MATCH;
	}
	if (rs == 0 && hs) /* the rest of the response may come */
		return IDENT_NEED_MORE;
	if (!hs) {
		/* a query looks like random bytes: only the response can tell;
		 * wait for it (the client's message is long enough, above) */
		return in->done[1] && !cpart ? IDENT_NO_MATCH : IDENT_NEED_MORE;
	}
	/* the response repeats the nonce half of one of the client's queries */
	struct reader sn = s;
	rd_skip(&sn, 8);
	const uint8_t *nonce = rd_bytes(&sn, 12);
	const uint8_t *magic = NULL;
	bool confirmed = false;
	for (unsigned k = 0; nonce && !confirmed && dnscrypt_msg(in, 0, k, &q); k++) {
		const uint8_t *cm = rd_bytes(&q, 8);
		rd_skip(&q, 32);
		const uint8_t *cn = rd_bytes(&q, 12);
		if (!rd_ok(&q))
			continue;
		struct reader a, b;
		rd_init(&a, cn, 12);
		rd_init(&b, nonce, 12);
		bool same = true;
		for (int i = 0; i < 12; i++)
			same &= rd_u8(&a) == rd_u8(&b);
		if (same) {
			confirmed = true;
			magic = cm;
		}
	}
	if (hq && !confirmed && !in->done[0])
		return IDENT_NEED_MORE;
	ident_add_str(ev, "dnscrypt_role", confirmed ? "query+response" : "response");
	if (magic) {
		static const char hex[] = "0123456789abcdef";
		char b[16];
		struct reader mr;
		rd_init(&mr, magic, 8);
		for (int i = 0; i < 8; i++) {
			uint8_t c = rd_u8(&mr);
			b[2 * i] = hex[c >> 4];
			b[2 * i + 1] = hex[c & 15];
		}
		ident_add(ev, "dnscrypt_client_magic", (const uint8_t *)b, sizeof b);
	}
	ev->server_confirmed = confirmed;
	ev->confidence = confirmed ? 95 : 75;
	return IDENT_MATCH;
}

static enum ident_verdict dnscrypt_match(const struct ident_input *in, struct ident_evidence *ev)
{
	if (in->midstream[0] || in->midstream[1])
		return IDENT_NO_MATCH;
	/* UDP, the verdicts of dnscrypt_match_parse for one side's first
	 * datagram, from its length and a few bytes before any parse: a
	 * client's that cannot be a certificate query (QR 0, opcode 0, QDCOUNT
	 * 1) is too short for a query or waits for the response; with no client
	 * datagram, a server's without the resolver magic's first byte is no
	 * response. */
	if (in->transport == IDENT_UDP) {
		struct reader r, m;
		uint8_t b2 = 0, b4 = 0, b5 = 0;
		if (in->ndgrams[0] && !in->ndgrams[1]) {
			rd_init(&r, in->data[0], in->len[0]);
			m = rd_sub(&r, in->dgram_len[0][0]);
			size_t qlen = rd_remaining(&m);
			if (rd_ok(&r) && (qlen < 12 || (rd_peek_u8(&m, 2, &b2) && (b2 & 0xf8)) ||
			                  (rd_peek_u8(&m, 4, &b4) && rd_peek_u8(&m, 5, &b5) &&
			                   (b4 != 0 || b5 != 1))))
				return qlen < DNSCRYPT_QUERY_MIN || in->done[1] ? IDENT_NO_MATCH
				                                                : IDENT_NEED_MORE;
		} else if (!in->ndgrams[0] && !in->len[0] && in->ndgrams[1]) {
			rd_init(&r, in->data[1], in->len[1]);
			m = rd_sub(&r, in->dgram_len[1][0]);
			if (rd_ok(&r) && rd_peek_u8(&m, 0, &b2) && b2 != 'r')
				return !in->done[0] && (!rd_peek_u8(&m, 2, &b2) || (b2 & 0x80))
				           ? IDENT_NEED_MORE
				           : IDENT_NO_MATCH;
		}
	}
	return dnscrypt_match_parse(in, ev);
}

const struct ident_proto ident_dnscrypt = {"dnscrypt", "DNSCrypt v2 (dnscrypt.info protocol)",
                                           IDENT_TCP | IDENT_UDP, dnscrypt_match, NULL, NULL};
