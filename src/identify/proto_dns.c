/*
 * proto_dns.c - DNS (RFC 1035; over TCP with a 2-byte length, RFC 7766).
 * mDNS (RFC 6762) and LLMNR (RFC 4795) use the same message format and are
 * named dns as well.
 *
 * One message (UDP: one datagram; TCP: after the 2-byte length prefix):
 *
 *    0  1  2  3  4  5  6  7  8  9 10 11 12 13 14 15
 *   +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
 *   |                      ID                       |
 *   |QR|  Opcode   |AA|TC|RD|RA| Z|AD|CD|   RCODE   |  opcode 0,1,2,4,5; Z = 0
 *   |                    QDCOUNT                    |  0..64
 *   |                    ANCOUNT                    |  bounded (queries: small)
 *   |                    NSCOUNT                    |
 *   |                    ARCOUNT                    |
 *   +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
 *   | question: QNAME (labels: len 1..63, bytes; 0) |  name <= 255 bytes; the
 *   |           QTYPE (16)  QCLASS (16)             |  first name has no pointer
 *   +-----------------------------------------------+
 *   | RRs: NAME TYPE CLASS TTL(32) RDLENGTH RDATA   |  pointers (0xC0|off) only
 *   +-----------------------------------------------+  backwards, to offset >= 12
 *
 * Why this strict: a non-DNS datagram on port 53 (HTTP, a tunnel, a custom
 * C2) is exactly what offport must flag, so the header ranges must hold and
 * the whole question section must parse, QTYPE/QCLASS must be real values,
 * and the records present must be well formed. When both sides are there,
 * the server's message is a response (QR = 1) carrying a query's ID.
 */
#include <stdio.h>
#include <string.h>

#include "common/reader.h"
#include "identify/identify.h"

#define DNS_HDR 12
#define DNS_NAME_MAX 255
#define DNS_QD_MAX 64 /* mDNS queries ask many services at once (RFC 6762 section 5.3) */

struct dns_msg {
	uint16_t id;
	bool response;
	uint8_t rcode;
	uint16_t qdcount;
	char qname[DNS_NAME_MAX + 1]; /* first question, dotted */
	size_t qname_len;
	uint16_t qtype;
};

enum dns_parse { DNS_BAD, DNS_SHORT, DNS_OK };

/* Reads a name at the reader's position. Pointers are allowed only when
 * allow_ptr is set, and must point backwards (to a label start before this
 * name) and not below the header; following them is not needed to judge
 * the message, except that the first question name is copied out (it has
 * no pointer). */
static enum dns_parse dns_name(struct reader *r, bool allow_ptr, char *out, size_t *outlen)
{
	size_t start = rd_offset(r), total = 0;
	for (int labels = 0; labels < 128; labels++) {
		uint8_t len;
		if (!rd_peek_u8(r, 0, &len))
			return DNS_SHORT;
		(void)rd_u8(r);
		if (len == 0)
			return DNS_OK;
		if ((len & 0xc0) == 0xc0) {
			uint8_t lo;
			if (!allow_ptr)
				return DNS_BAD;
			if (!rd_peek_u8(r, 0, &lo))
				return DNS_SHORT;
			(void)rd_u8(r);
			size_t target = (size_t)(len & 0x3f) << 8 | lo;
			if (target < DNS_HDR || target >= start)
				return DNS_BAD;
			return DNS_OK;
		}
		if (len > 63) /* 0x40/0x80: extended label types, obsolete */
			return DNS_BAD;
		total += (size_t)len + 1;
		if (total > DNS_NAME_MAX)
			return DNS_BAD;
		struct reader lab = rd_sub(r, len);
		if (!rd_ok(r))
			return DNS_SHORT;
		if (out) {
			if (*outlen && *outlen < DNS_NAME_MAX)
				out[(*outlen)++] = '.';
			/* The label's bytes that fit, in one copy (lab holds
			 * exactly len bytes: rd_sub succeeded). */
			size_t k = DNS_NAME_MAX - *outlen < len ? DNS_NAME_MAX - *outlen : len;
			memcpy(out + *outlen, rd_bytes(&lab, k), k);
			*outlen += k;
		}
	}
	return DNS_BAD;
}

/* QCLASS / CLASS without the mDNS top bit (QU / cache-flush): IN, CH, HS,
 * NONE, ANY. */
static bool dns_class_ok(uint16_t c)
{
	c &= 0x7fff;
	return c == 1 || c == 3 || c == 4 || c == 254 || c == 255;
}

/* QTYPE: the assigned range (A .. AMTRELAY), TA/DLV, and private use. 0 is
 * reserved. */
static bool dns_type_ok(uint16_t t)
{
	return (t >= 1 && t <= 260) || t == 32768 || t == 32769 || t >= 65280;
}

/* NetBIOS Name Service (RFC 1002) shares DNS's message format, but is not
 * DNS: its names are one label of 32 letters 'A'-'P' (the first-level
 * encoding of a 16-byte NetBIOS name), with type NB (32) or NBSTAT (33). */
static bool dns_netbios(const char *name, size_t n, uint16_t type)
{
	if ((type != 32 && type != 33) || n < 32 || (n > 32 && name[32] != '.'))
		return false;
	for (size_t i = 0; i < 32; i++)
		if (name[i] < 'A' || name[i] > 'P')
			return false;
	return true;
}

/* The header part of dns_parse_msg: DNS_BAD, DNS_SHORT, or DNS_OK to go
 * on with the sections (cnt: QDCOUNT, ANCOUNT, NSCOUNT, ARCOUNT). */
static enum dns_parse dns_parse_hdr(struct reader *r, bool complete, bool lenient,
                                    struct dns_msg *m, uint16_t cnt[4])
{
	m->id = rd_be16(r);
	uint16_t flags = rd_be16(r);
	uint16_t qd = rd_be16(r), an = rd_be16(r), ns = rd_be16(r), ar = rd_be16(r);
	if (!rd_ok(r))
		return complete ? DNS_BAD : DNS_SHORT;
	uint8_t opcode = (uint8_t)(flags >> 11 & 0xf);
	m->response = flags & 0x8000;
	m->rcode = (uint8_t)(flags & 0xf);
	m->qdcount = qd;
	m->qname_len = 0;
	m->qtype = 0;
	if (!lenient && (opcode == 3 || opcode > 5 || (flags & 0x0040)))
		return DNS_BAD;
	if (!lenient && (m->rcode > 11 || (!m->response && m->rcode != 0 && opcode == 0)))
		return DNS_BAD;
	if (m->rcode > 11)
		m->rcode = 1; /* lenient only: shown as FORMERR */
	if (qd > DNS_QD_MAX)
		return DNS_BAD;
	if (!m->response) {
		/* A query asks something (an inverse query, opcode 1, asks with
		 * an answer record; mDNS probes and queries carry their known
		 * answers and proposed records, a few each). */
		if (qd == 0 && opcode != 1 && opcode != 4 && opcode != 5 && !lenient)
			return DNS_BAD;
		if (an > 64 || ns > 64 || ar > 16)
			return DNS_BAD;
	} else {
		if (qd == 0 && an == 0 && ns == 0 && ar == 0 && m->rcode == 0)
			return DNS_BAD; /* an empty success says nothing */
		if (an > 1024 || ns > 256 || ar > 256)
			return DNS_BAD;
	}
	cnt[0] = qd;
	cnt[1] = an;
	cnt[2] = ns;
	cnt[3] = ar;
	return DNS_OK;
}

/* Parses one message in r (its whole window). `complete`: the window holds
 * the whole message (a whole datagram, or as many bytes as the TCP length
 * says), so a short read is a fault and trailing bytes are not allowed;
 * otherwise a cut after the question section is tolerated. `lenient`: the
 * header flags and the TYPE/CLASS values are not judged, only the structure
 * (counts, names, record lengths that fill the message exactly); used for
 * the messages after a first one that passed the strict parse. */
static enum dns_parse dns_parse_msg(struct reader *r, bool complete, bool lenient,
                                    struct dns_msg *m)
{
	uint16_t cnt[4];
	enum dns_parse h = dns_parse_hdr(r, complete, lenient, m, cnt);
	if (h != DNS_OK)
		return h;
	uint16_t qd = cnt[0], an = cnt[1], ns = cnt[2], ar = cnt[3];
	for (unsigned q = 0; q < qd; q++) {
		enum dns_parse p = q == 0 ? dns_name(r, false, m->qname, &m->qname_len)
		                          : dns_name(r, true, NULL, NULL);
		if (p != DNS_OK)
			return p == DNS_BAD || complete ? DNS_BAD : DNS_SHORT;
		uint16_t t = rd_be16(r), c = rd_be16(r);
		if (!rd_ok(r))
			return complete ? DNS_BAD : DNS_SHORT;
		if (!lenient && (!dns_type_ok(t) || !dns_class_ok(c)))
			return DNS_BAD;
		if (q == 0)
			m->qtype = t;
	}
	m->qname[m->qname_len] = 0;
	if (qd > 0 && dns_netbios(m->qname, m->qname_len, m->qtype))
		return DNS_BAD;
	unsigned rrs = (unsigned)an + ns + ar;
	/* Lenient: records past the counted ones are taken when they are
	 * whole records up to the end (a server that echoed the query's OPT
	 * record before its answer and did not count it). */
	for (unsigned k = 0; k < rrs || (lenient && complete && k < rrs + 16 &&
	                                  rd_remaining(r) > 0); k++) {
		char rrname[DNS_NAME_MAX + 1];
		size_t rrlen = 0;
		enum dns_parse p = dns_name(r, true, rrname, &rrlen);
		if (p == DNS_BAD)
			return DNS_BAD;
		if (p == DNS_SHORT)
			return complete ? DNS_BAD : DNS_OK;
		uint16_t t = rd_be16(r), c = rd_be16(r);
		(void)rd_be32(r);
		uint16_t rdlen = rd_be16(r);
		if (!rd_ok(r))
			return complete ? DNS_BAD : DNS_OK;
		if (t == 0 || (k == 0 && qd == 0 && dns_netbios(rrname, rrlen, t)))
			return DNS_BAD;
		/* OPT (41) carries the UDP payload size in CLASS; TSIG (250) and
		 * TKEY use ANY; UPDATE prerequisites use NONE/ANY. */
		if (t != 41 && !lenient && !dns_class_ok(c))
			return DNS_BAD;
		if (!rd_bytes(r, rdlen))
			return complete ? DNS_BAD : DNS_OK;
	}
	if (complete && rd_remaining(r) != 0)
		return DNS_BAD;
	return DNS_OK;
}

/* The k-th message of direction d: UDP datagram k, or TCP message k after
 * its length prefix. *complete says whether the window holds all of it. */
static enum dns_parse dns_nth(const struct ident_input *in, int d, unsigned k, struct reader *out,
                              bool *complete)
{
	struct reader r;
	rd_init(&r, in->data[d], in->len[d]);
	if (in->transport == IDENT_UDP) {
		if (k >= in->ndgrams[d])
			return DNS_SHORT;
		for (unsigned i = 0; i < k; i++)
			rd_skip(&r, in->dgram_len[d][i]);
		*out = rd_sub(&r, in->dgram_len[d][k]);
		/* A datagram the snap length cut may end inside a record. */
		*complete = !in->truncated[d];
		return rd_ok(&r) ? DNS_OK : DNS_BAD;
	}
	for (unsigned i = 0;; i++) {
		if (!rd_has(&r, 2))
			return DNS_SHORT;
		uint16_t mlen = rd_be16(&r);
		if (mlen < DNS_HDR)
			return DNS_BAD;
		if (i == k) {
			size_t have = rd_remaining(&r);
			*complete = have >= mlen;
			*out = rd_sub(&r, *complete ? mlen : have);
			return DNS_OK;
		}
		if (!rd_has(&r, mlen))
			return DNS_SHORT;
		rd_skip(&r, mlen);
	}
}

/* Up to this many messages per direction are checked: a DNS flow carries
 * DNS throughout, a tunnel that opens with one real query does not. */
#define DNS_CHECK_MAX 4

/* Checks the messages of direction d. Returns DNS_OK with *first filled
 * when at least the first parses (its question complete) and none of the
 * others is malformed; DNS_SHORT when the first is not all there yet. ids
 * collects the IDs of the messages (queries or responses, per `want`).
 * The first message is parsed strictly; the later ones (and the first one
 * too when lenient_first, then *first_lenient tells) structurally: a
 * client or server that sends one message with an odd TYPE or CLASS value
 * or header bit still speaks DNS (RFC 1035 3.2.4: CLASS is any 16-bit
 * value; a resolver skips records of classes it did not ask for). */
static enum dns_parse dns_dir(const struct ident_input *in, int d, struct dns_msg *first,
                              uint16_t *ids, unsigned *nids, bool *any_query,
                              bool lenient_first, bool *first_lenient)
{
	struct dns_msg m;
	*nids = 0;
	*any_query = false;
	*first_lenient = false;
	for (unsigned k = 0; k < DNS_CHECK_MAX; k++) {
		struct reader r;
		bool complete = false;
		enum dns_parse p = dns_nth(in, d, k, &r, &complete);
		if (p == DNS_BAD)
			return DNS_BAD;
		if (p == DNS_SHORT)
			return k == 0 ? DNS_SHORT : DNS_OK;
		struct reader r0 = r;
		p = dns_parse_msg(&r, complete, k > 0, k == 0 ? first : &m);
		if (p == DNS_BAD && k == 0 && lenient_first) {
			p = dns_parse_msg(&r0, complete, true, first);
			*first_lenient = p != DNS_BAD;
		}
		if (p == DNS_BAD)
			return DNS_BAD;
		if (p == DNS_SHORT)
			return k == 0 ? DNS_SHORT : DNS_OK;
		const struct dns_msg *cur = k == 0 ? first : &m;
		ids[(*nids)++] = cur->id;
		if (!cur->response)
			*any_query = true;
	}
	return DNS_OK;
}

static const char *dns_type_name(uint16_t t)
{
	switch (t) {
	case 1: return "A";
	case 2: return "NS";
	case 5: return "CNAME";
	case 6: return "SOA";
	case 12: return "PTR";
	case 13: return "HINFO";
	case 15: return "MX";
	case 16: return "TXT";
	case 28: return "AAAA";
	case 33: return "SRV";
	case 35: return "NAPTR";
	case 43: return "DS";
	case 46: return "RRSIG";
	case 47: return "NSEC";
	case 48: return "DNSKEY";
	case 52: return "TLSA";
	case 64: return "SVCB";
	case 65: return "HTTPS";
	case 99: return "SPF";
	case 251: return "IXFR";
	case 252: return "AXFR";
	case 255: return "ANY";
	case 257: return "CAA";
	default: return NULL;
	}
}

static const char *const dns_rcodes[] = {"NOERROR", "FORMERR",  "SERVFAIL", "NXDOMAIN",
                                         "NOTIMP",  "REFUSED",  "YXDOMAIN", "YXRRSET",
                                         "NXRRSET", "NOTAUTH",  "NOTZONE",  "DSOTYPENI"};

static void dns_evidence(struct ident_evidence *ev, const struct dns_msg *m,
                         const struct dns_msg *resp)
{
	if (m->qdcount > 0) {
		ident_add(ev, "dns_query", (const uint8_t *)m->qname, m->qname_len);
		const char *tn = dns_type_name(m->qtype);
		if (tn)
			ident_add_str(ev, "dns_type", tn);
		else
			ident_add_u64(ev, "dns_type", m->qtype);
	}
	if (resp)
		ident_add_str(ev, "dns_rcode", dns_rcodes[resp->rcode]);
}

/* True when the first message of direction d fails already in its header
 * (as dns_dir's parse of it, strict or lenient, would fail): the cheap
 * NO_MATCH for bytes that are no DNS, before the messages are parsed. */
static bool dns_first_bad(const struct ident_input *in, int d, bool lenient)
{
	struct reader r;
	bool complete = false;
	struct dns_msg m;
	uint16_t cnt[4];
	enum dns_parse p = dns_nth(in, d, 0, &r, &complete);
	if (p != DNS_OK)
		return p == DNS_BAD;
	return dns_parse_hdr(&r, complete, lenient, &m, cnt) == DNS_BAD;
}

/* dns_first_bad's cases that the strict and the lenient parse share, from
 * a few loads: the first message of direction d not there in full (UDP),
 * shorter than a header (a whole datagram; TCP: by its length field), or
 * with a QDCOUNT over DNS_QD_MAX. */
static inline bool dns_first_quick_bad(const struct ident_input *in, int d)
{
	struct reader r;
	rd_init(&r, in->data[d], in->len[d]);
	if (in->transport == IDENT_UDP) {
		if (!in->ndgrams[d])
			return false;
		if (!rd_has(&r, in->dgram_len[d][0]))
			return true; /* dns_nth: DNS_BAD */
		if (in->dgram_len[d][0] < DNS_HDR)
			return !in->truncated[d];
	} else {
		uint16_t mlen = rd_be16(&r);
		if (!rd_ok(&r))
			return false;
		if (mlen < DNS_HDR)
			return true; /* dns_nth: DNS_BAD */
		if (!rd_has(&r, DNS_HDR))
			return false;
	}
	uint8_t hi, lo;
	(void)rd_peek_u8(&r, 4, &hi);
	(void)rd_peek_u8(&r, 5, &lo);
	return ((unsigned)hi << 8 | lo) > DNS_QD_MAX;
}

/* dns_match past its cheapest test: the messages parsed. Out of line: the
 * test runs without this function's frame. */
__attribute__((noinline)) static enum ident_verdict
dns_match_msgs(const struct ident_input *in, struct ident_evidence *ev)
{
	/* A client's first message that fails the strict header checks is
	 * NO_MATCH; with no client bytes, so is a server's first message
	 * failing the strict checks, and the lenient ones too while the
	 * client may still speak (see below). */
	if (in->len[0] ? dns_first_bad(in, 0, false)
	               : in->len[1] && dns_first_bad(in, 1, false) &&
	                     (in->done[0] || dns_first_bad(in, 1, true)))
		return IDENT_NO_MATCH;
	struct dns_msg c = {0}, s = {0};
	uint16_t cids[DNS_CHECK_MAX], sids[DNS_CHECK_MAX];
	unsigned nc = 0, ns = 0;
	bool cq = false, sq = false;

	bool lc = false, ls = false;
	enum dns_parse pc = in->len[0] ? dns_dir(in, 0, &c, cids, &nc, &cq, false, &lc) : DNS_SHORT;
	if (pc == DNS_BAD)
		return IDENT_NO_MATCH;
	/* The server's first message is held to the strict parse unless the
	 * client's passed it and the server's carries one of its IDs. */
	enum dns_parse ps = in->len[1] ? dns_dir(in, 1, &s, sids, &ns, &sq, pc == DNS_OK, &ls)
	                               : DNS_SHORT;
	/* the client's first query still to come: a response that only the
	 * lenient parse takes may yet carry its ID (NO_MATCH is final) */
	bool lpc = pc == DNS_SHORT && !in->done[0];
	if (ps == DNS_BAD && lpc &&
	    dns_dir(in, 1, &s, sids, &ns, &sq, true, &ls) != DNS_BAD && s.response)
		return IDENT_NEED_MORE;
	if (ps == DNS_BAD)
		return IDENT_NO_MATCH;
	(void)sq;
	if (ls) {
		bool known = false;
		for (unsigned i = 0; i < nc; i++)
			known |= cids[i] == s.id;
		if (!s.response)
			return IDENT_NO_MATCH;
		/* the query with its ID may be among the client's next
		 * messages (NO_MATCH is final) */
		if (!known)
			return !in->done[0] && nc < DNS_CHECK_MAX &&
			               (in->transport != IDENT_UDP || in->ndgrams[0] < IDENT_DGRAMS_MAX)
			           ? IDENT_NEED_MORE
			           : IDENT_NO_MATCH;
	}

	if (pc == DNS_OK && ps == DNS_OK) {
		/* The server answers with a response carrying the ID of one of
		 * the client's queries. (mDNS peers may both announce: two
		 * responses, unconfirmed.) */
		bool confirmed = false;
		if (cq && s.response) {
			/* Any response answering any query confirms: the first
			 * response may answer a query sent before the capture began. */
			for (unsigned i = 0; i < nc; i++)
				for (unsigned k = 0; k < ns; k++)
					if (cids[i] == sids[k])
						confirmed = true;
		}
		dns_evidence(ev, c.qdcount ? &c : &s, s.response ? &s : NULL);
		ev->server_confirmed = confirmed;
		ev->confidence = confirmed ? 95 : 65;
		return IDENT_MATCH;
	}
	if (pc == DNS_OK) {
		/* A query alone waits for its answer; an mDNS/LLMNR announcement
		 * or an unanswered query is DNS once the other side is done. */
		if (!in->done[1] && !c.response)
			return IDENT_NEED_MORE;
		dns_evidence(ev, &c, c.response ? &c : NULL);
		ev->confidence = c.response ? 60 : 65;
		return IDENT_MATCH;
	}
	if (ps == DNS_OK) {
		/* Only the server's side: a capture that missed the query. */
		if (!in->done[0])
			return IDENT_NEED_MORE;
		if (!s.response)
			return IDENT_NO_MATCH;
		dns_evidence(ev, &s, &s);
		ev->confidence = 55;
		return IDENT_MATCH;
	}
	return in->done[0] && in->done[1] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
}

static enum ident_verdict dns_match(const struct ident_input *in, struct ident_evidence *ev)
{
	/* The first message (the client's; with no client bytes, the
	 * server's) failing a header check that the strict and the lenient
	 * parse share is NO_MATCH (dns_match_msgs), told from a few bytes. */
	int first = in->len[0] ? 0 : 1;
	if (in->len[first] && dns_first_quick_bad(in, first))
		return IDENT_NO_MATCH;
	return dns_match_msgs(in, ev);
}

const struct ident_proto ident_dns = {"dns", "DNS (RFC 1035, RFC 7766)", IDENT_UDP | IDENT_TCP,
                                      dns_match, NULL, NULL};
