/*
 * proto_snmp.c - SNMP (RFC 1157 v1, RFC 3416 v2c PDUs, RFC 3412 v3
 * message), BER encoded (X.690).
 *
 *   30 LL                         SEQUENCE, length = the rest of the datagram
 *     02 01 VV                    version INTEGER: 0 (v1), 1 (v2c), 3 (v3)
 *   v1/v2c:
 *     04 LL community             OCTET STRING, printable, <= 255
 *     PP LL                       PDU: a0 Get, a1 GetNext, a2 Response, a3 Set,
 *                                 a4 Trap(v1), a5 GetBulk, a6 Inform,
 *                                 a7 TrapV2, a8 Report
 *       02 request-id, 02 error-status (0-255), 02 error-index (Trap v1: 06
 *       enterprise)
 *       30 varbinds               and the PDU fills the message exactly
 *   v3:
 *     30 msgGlobalData { 02 msgID, 02 maxSize, 04 01 flags, 02 securityModel }
 *     04 securityParameters
 *     30 scopedPDU | 04 encrypted  fills the message exactly
 *
 * Requests are answered with a Response (a2) or Report (a8) carrying the
 * request-id (v3: msgID); traps and v2 traps are one-way. A flow holding
 * only the agent's answers (the requests were not captured) is SNMP when
 * every datagram of it parses as one.
 */
#include "common/reader.h"
#include "identify/ber.h"
#include "identify/identify.h"
#include "identify/text_proto.h"

/* A BER tag and definite length (short or long form up to 4 bytes); the
 * value must fit in r. Returns a sub-reader over the value. */
static bool ber_tlv(struct reader *r, uint8_t *tag, struct reader *val)
{
	size_t len;
	if (!ber_header(r, tag, &len, 4))
		return false;
	*val = rd_sub(r, len);
	return rd_ok(r);
}

static bool ber_int(struct reader *r, uint32_t *v)
{
	uint8_t tag;
	struct reader val;
	if (!ber_tlv(r, &tag, &val) || tag != 0x02 || rd_remaining(&val) == 0 || rd_remaining(&val) > 5)
		return false;
	*v = 0;
	while (rd_remaining(&val))
		*v = *v << 8 | rd_u8(&val);
	return true;
}

struct snmp_msg {
	uint8_t version, pdu;
	uint32_t reqid;
	const uint8_t *community;
	size_t clen;
};

static bool snmp_parse(struct reader *m, struct snmp_msg *s)
{
	uint8_t tag;
	struct reader msg, val;
	if (!ber_tlv(m, &tag, &msg) || tag != 0x30 || rd_remaining(m) != 0)
		return false;
	uint32_t ver;
	if (!ber_int(&msg, &ver) || (ver != 0 && ver != 1 && ver != 3))
		return false;
	s->version = (uint8_t)ver;
	if (ver == 3) {
		struct reader g;
		uint32_t id, max, model;
		if (!ber_tlv(&msg, &tag, &g) || tag != 0x30 || !ber_int(&g, &id) || !ber_int(&g, &max) ||
		    !ber_tlv(&g, &tag, &val) || tag != 0x04 || rd_remaining(&val) != 1 || !ber_int(&g, &model) ||
		    rd_remaining(&g) != 0 || max < 484 || model == 0)
			return false;
		s->reqid = id;
		if (!ber_tlv(&msg, &tag, &val) || tag != 0x04)
			return false;
		struct reader sp;
		if (!ber_tlv(&msg, &tag, &sp) || (tag != 0x30 && tag != 0x04) || rd_remaining(&msg) != 0)
			return false;
		s->pdu = 0;
		if (tag == 0x30) {
			/* plaintext scopedPDU: contextEngineID, contextName, PDU */
			struct reader pdu;
			if (!ber_tlv(&sp, &tag, &val) || tag != 0x04 || !ber_tlv(&sp, &tag, &val) ||
			    tag != 0x04 || !ber_tlv(&sp, &tag, &pdu) || tag < 0xa0 || tag > 0xa8)
				return false;
			s->pdu = tag;
		}
		return true;
	}
	if (!ber_tlv(&msg, &tag, &val) || tag != 0x04 || rd_remaining(&val) > 255)
		return false;
	s->clen = rd_remaining(&val);
	if (!rd_printable(&val, s->clen))
		return false;
	s->community = rd_bytes(&val, s->clen);
	struct reader pdu;
	if (!ber_tlv(&msg, &tag, &pdu) || tag < 0xa0 || tag > 0xa8 || rd_remaining(&msg) != 0)
		return false;
	if (ver == 0 && tag > 0xa4)
		return false;
	s->pdu = tag;
	if (tag == 0xa4) {
		/* Trap-PDU: enterprise OID, agent address, ... */
		return ber_tlv(&pdu, &tag, &val) && tag == 0x06;
	}
	uint32_t st, ix;
	struct reader vb;
	if (!ber_int(&pdu, &s->reqid) || !ber_int(&pdu, &st) || !ber_int(&pdu, &ix) ||
	    !ber_tlv(&pdu, &tag, &vb) || tag != 0x30 || rd_remaining(&pdu) != 0)
		return false;
	/* error-status: RFC 3416 defines 0-18; agents send more (a DSL modem
	 * answers 19), so one unsigned byte is allowed */
	if (tag != 0xa5 && st > 255)
		return false;
	return true;
}

/* The first datagram of direction d (1, 0 none, -1 not SNMP); the
 * request-ids (v3: msgIDs) of its first datagrams go to ids. */
static int snmp_first(const struct ident_input *in, int d, struct snmp_msg *out, uint32_t *ids,
                      unsigned *nids)
{
	*nids = 0;
	if (in->ndgrams[d] == 0)
		return 0;
	struct reader r;
	rd_init(&r, in->data[d], in->len[d]);
	for (unsigned k = 0; k < in->ndgrams[d]; k++) {
		struct reader m = rd_sub(&r, in->dgram_len[d][k]);
		struct snmp_msg s;
		if (!rd_ok(&r) || !snmp_parse(&m, &s)) {
			if (k == 0)
				return -1;
			continue;
		}
		if (k == 0)
			*out = s;
		ids[(*nids)++] = s.reqid;
	}
	return 1;
}

static const char *const snmp_pdus[] = {"get",  "getnext", "response", "set",   "trap",
                                        "getbulk", "inform", "trapv2",  "report"};

/* snmp_match past its cheap NO_MATCH tests. Out of line: the tests run
 * without this function's frame. */
__attribute__((noinline)) static enum ident_verdict
snmp_match_parse(const struct ident_input *in, struct ident_evidence *ev)
{
	struct snmp_msg c = {0}, s = {0};
	uint32_t cid[IDENT_DGRAMS_MAX], sid[IDENT_DGRAMS_MAX];
	unsigned nc, ns;
	int pc = snmp_first(in, 0, &c, cid, &nc), ps = snmp_first(in, 1, &s, sid, &ns);
	if (pc < 0 || ps < 0)
		return IDENT_NO_MATCH;
	if (pc == 0 && ps > 0 && in->done[0] && (s.pdu == 0xa2 || s.pdu == 0xa8) &&
	    ns == in->ndgrams[1]) {
		/* Only the agent's answers were captured (the requests took
		 * another path): each of its datagrams parsed as SNMP. */
		ident_add_str(ev, "snmp_version", s.version == 0 ? "1" : s.version == 1 ? "2c" : "3");
		if (s.version != 3)
			ident_add(ev, "snmp_community", s.community, s.clen > 64 ? 64 : s.clen);
		ident_add_str(ev, "snmp_pdu", snmp_pdus[s.pdu - 0xa0]);
		ev->confidence = 70;
		return IDENT_MATCH;
	}
	if (pc == 0)
		return in->done[0] && in->done[1] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
	bool oneway = c.pdu == 0xa4 || c.pdu == 0xa7;
	bool confirmed = false;
	if (ps > 0) {
		if (s.version != c.version)
			return IDENT_NO_MATCH;
		/* the answer names the request (v3: the msgID) */
		for (unsigned i = 0; i < nc; i++)
			for (unsigned k = 0; k < ns; k++)
				confirmed |= cid[i] == sid[k];
	} else if (!in->done[1] && !oneway) {
		return IDENT_NEED_MORE;
	}
	ident_add_str(ev, "snmp_version", c.version == 0 ? "1" : c.version == 1 ? "2c" : "3");
	if (c.version != 3)
		ident_add(ev, "snmp_community", c.community, c.clen > 64 ? 64 : c.clen);
	if (c.pdu)
		ident_add_str(ev, "snmp_pdu", snmp_pdus[c.pdu - 0xa0]);
	ev->server_confirmed = confirmed;
	ev->confidence = confirmed ? 95 : 80;
	return IDENT_MATCH;
}

static enum ident_verdict snmp_match(const struct ident_input *in, struct ident_evidence *ev)
{
	if (in->transport != IDENT_UDP)
		return IDENT_NO_MATCH;
	/* The usual NO_MATCH of snmp_match_parse (snmp_first -1 on either side)
	 * from the first datagram's first two bytes, before the BER walk: a
	 * message is a SEQUENCE (30) filling the datagram (a short-form length
	 * then is the rest of it). */
	for (int d = 0; d < 2; d++) {
		if (!in->ndgrams[d])
			continue;
		struct reader m;
		uint8_t tag, l0;
		if (!dgram_first(in, d, &m) || !rd_peek_u8(&m, 0, &tag) || !rd_peek_u8(&m, 1, &l0) ||
		    tag != 0x30 || (l0 < 0x80 && (size_t)l0 + 2 != rd_remaining(&m)))
			return IDENT_NO_MATCH;
	}
	return snmp_match_parse(in, ev);
}

/* The first bytes (identify.h, first_byte), of direction d.
 * The client's: snmp_match: the client's first datagram is a SEQUENCE
 * (0x30).
 * The server's: the same (snmp_match checks both sides' first datagrams
 * alike). */
static bool snmp_first_byte(int d, uint8_t transport, uint8_t b)
{
	(void)d;
	(void)transport;
	return b == 0x30;
}

const struct ident_proto ident_snmp = {"snmp", "SNMP (RFC 1157, RFC 3416, RFC 3412)", IDENT_UDP,
                                       snmp_match, NULL, snmp_first_byte};
