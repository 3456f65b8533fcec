/*
 * proto_rdp.c - RDP (MS-RDPBCGR 2.2.1.1 / 2.2.1.2: the X.224 Connection
 * Request and Confirm, carried in TPKT, RFC 1006 / ITU-T X.224).
 *
 *   TPKT                       X.224 Connection Request (client)
 *   +----+----+---------+      +----+----+---------+---------+-------+
 *   | 03 | 00 | length  |      | LI | E0 | dst-ref | src-ref | class |
 *   +----+----+---------+      +----+----+---------+---------+-------+
 *     LI = length - 5            then, RDP's variable part:
 *       [ "Cookie: mstshash=USER" CR LF | "Cookie: msts=..." CR LF ]
 *       [ RDP_NEG_REQ: 01 flags 08 00 requestedProtocols (32, LE) ]
 *       [ RDP_NEG_CORRELATION_INFO: 06 00 24 00 + 32 bytes ]
 *
 *   X.224 Connection Confirm (server): LI D0 dst-ref src-ref class
 *       [ RDP_NEG_RSP: 02 flags 08 00 selectedProtocol (32, LE)  |
 *         RDP_NEG_FAILURE: 03 00 08 00 failureCode (1-6) ]
 *
 *   requestedProtocols: 0 standard RDP, 1 TLS, 2 CredSSP, 4 RDSTLS,
 *   8 CredSSP with early user auth, 0x10 RDS AAD.
 *
 * TPKT + X.224 is also ISO-TSAP (S7comm and other ISO 8073 users), whose
 * Connection Request carries TSAP parameters (C0/C1/C2) instead. So the
 * variable part must be RDP's, exactly, and a claim needs the cookie or
 * the negotiation request, or (an empty request) a Confirm that carries
 * RDP's negotiation response.
 *
 * Over UDP (MS-RDPEUDP 2.2.2.1, 2.2.2.5, 3.1.5.1.1) the connection opens
 * with a SYN datagram, zero-padded to the MTU, and a SYN+ACK:
 *
 *   RDPUDP_FEC_HEADER                 RDPUDP_SYNDATA_PAYLOAD
 *   +-------------+--------+-------+  +----------+----------+----------+
 *   | snSourceAck | window | flags |  | initial  | upstream | downstr. |
 *   |   (32)      |  (16)  | (16)  |  | seq (32) | MTU (16) | MTU (16) |
 *   +-------------+--------+-------+  +----------+----------+----------+
 *   SYN:     snSourceAck ff ff ff ff, flags SYN (0x0001) without ACK
 *            (0x0004), MTUs 1132-1232, the datagram as long as the MTU;
 *   SYN+ACK: snSourceAck = the SYN's initial sequence number, flags
 *            SYN|ACK, MTUs 1132-1232.
 * The SYN's sequence number echoed by the server is what confirms.
 *
 * A capture that starts after the SYNs sees only data and acknowledgements
 * (2.2.2.7, 2.2.2.8, 2.2.2.4), each datagram:
 *
 *   RDPUDP_FEC_HEADER, flags ACK (0x0004) set, SYN clear
 *   RDPUDP_ACK_VECTOR_HEADER: uAckVectorSize (16), that many elements,
 *       zero padding to a 4-byte boundary
 *   [RDPUDP_ACK_OF_ACKVECTOR_HEADER: snAckOfAcksSeqNum (32), flag 0x0100]
 *   [RDPUDP_SOURCE_PAYLOAD_HEADER: snCoded (32), snSourceStart (32), flag
 *       DATA 0x0008, then the payload: a TLS or DTLS record]
 *
 * Each side's snSourceAck acknowledges the other side's sequence numbers,
 * so a data datagram's snSourceStart in one direction must come back (give
 * or take the datagrams in flight) as the snSourceAck of the other: two
 * random 32-bit numbers agreeing both ways, plus a TLS/DTLS record in the
 * data, is what names a flow seen from the middle.
 */
#include "common/reader.h"
#include "identify/identify.h"
#include "identify/text_proto.h"

#define X224_CR 0xe0
#define X224_CC 0xd0
#define X224_DR 0x80

struct rdp_req {
	const uint8_t *cookie; /* the mstshash value */
	size_t cookie_len;
	bool routing_token; /* some other "Cookie:" line */
	bool neg;
	uint32_t protocols;
};

enum rdp_parse { RDP_BAD, RDP_SHORT, RDP_OK };

/* TPKT header and X.224 fixed part; r is left at the variable part and
 * limited to it. *code gets the TPDU code. */
static enum rdp_parse rdp_tpkt(struct reader *r, bool done, uint8_t *code)
{
	uint8_t h[4];
	for (int i = 0; i < 4; i++)
		if (!rd_peek_u8(r, (size_t)i, &h[i]))
			return done ? RDP_BAD : RDP_SHORT;
	if (h[0] != 3 || h[1] != 0)
		return RDP_BAD;
	size_t len = (size_t)h[2] << 8 | h[3];
	if (len < 11 || len > 512)
		return RDP_BAD;
	if (!rd_has(r, len))
		return done ? RDP_BAD : RDP_SHORT;
	rd_skip(r, 4);
	uint8_t li = rd_u8(r);
	*code = rd_u8(r);
	uint16_t dst = rd_be16(r);
	(void)rd_be16(r); /* src-ref */
	uint8_t cls = rd_u8(r);
	if (li != len - 5)
		return RDP_BAD;
	if (*code == X224_CR && dst != 0)
		return RDP_BAD;
	if ((*code == X224_CR || *code == X224_CC) && (cls & 0xf0) != 0)
		return RDP_BAD;
	rd_limit(r, len - 11);
	return RDP_OK;
}

static bool rdp_conn_request(struct reader *r, struct rdp_req *q)
{
	if (rd_starts(r, "Cookie: ")) {
		const uint8_t *line;
		size_t n;
		if (!rd_line(r, 256, &line, &n))
			return false;
		struct reader l;
		rd_init(&l, line, n);
		if (!rd_printable(&l, n))
			return false;
		/* rd_line accepts a bare LF; the cookie ends in CR LF. */
		if (rd_starts(&l, "Cookie: mstshash=")) {
			rd_skip(&l, 17);
			q->cookie = rd_rest(&l, &q->cookie_len);
		} else {
			q->routing_token = true;
		}
	}
	uint8_t t;
	if (rd_peek_u8(r, 0, &t) && t == 1) {
		(void)rd_u8(r);
		uint8_t flags = rd_u8(r);
		uint16_t len = rd_le16(r);
		q->protocols = rd_le32(r);
		if (!rd_ok(r) || len != 8 || (flags & 0xf4) || q->protocols > 0x1f)
			return false;
		q->neg = true;
		if (flags & 0x08) { /* correlation info */
			uint8_t ct = rd_u8(r), cf = rd_u8(r);
			uint16_t cl = rd_le16(r);
			if (!rd_ok(r) || ct != 6 || cf != 0 || cl != 36)
				return false;
			rd_skip(r, 32);
		}
	}
	return rd_ok(r) && rd_remaining(r) == 0;
}

/* The Confirm's variable part: 1 RDP negotiation response/failure, 0
 * empty, -1 something else. *selected gets the selected protocol. */
static int rdp_conn_confirm(struct reader *r, uint32_t *selected, bool *failure)
{
	if (rd_remaining(r) == 0)
		return 0;
	uint8_t t = rd_u8(r), flags = rd_u8(r);
	uint16_t len = rd_le16(r);
	uint32_t v = rd_le32(r);
	if (!rd_ok(r) || rd_remaining(r) != 0 || len != 8)
		return -1;
	if (t == 2 && v <= 0x1f) {
		*selected = v;
		return 1;
	}
	if (t == 3 && flags == 0 && v >= 1 && v <= 6) {
		*failure = true;
		return 1;
	}
	return -1;
}

/* The protocol bits as names: "standard" or e.g. "tls,credssp". */
static size_t rdp_protocols(uint32_t p, char *b)
{
	static const char *const names[] = {"tls", "credssp", "rdstls", "credssp_ex", "aad"};
	size_t n = 0;
	for (unsigned i = 0; i < 5; i++) {
		if (!(p & (1u << i)))
			continue;
		if (n)
			b[n++] = ',';
		for (const char *s = names[i]; *s; s++)
			b[n++] = *s;
	}
	if (n == 0)
		for (const char *s = "standard"; *s; s++)
			b[n++] = *s;
	return n;
}

#define RDPUDP_SYN 0x0001
#define RDPUDP_ACK 0x0004
#define RDPUDP_MTU_MIN 1132
#define RDPUDP_MTU_MAX 1232

/* A SYN (server false) or SYN+ACK datagram; *isn its initial sequence
 * number, *ack its snSourceAck. */
static bool rdpudp_syn(const uint8_t *d, size_t n, bool server, uint32_t *isn, uint32_t *ack)
{
	struct reader r;
	rd_init(&r, d, n);
	*ack = rd_be32(&r);
	(void)rd_be16(&r); /* uReceiveWindowSize */
	uint16_t flags = rd_be16(&r);
	*isn = rd_be32(&r);
	uint16_t up = rd_be16(&r), down = rd_be16(&r);
	if (!rd_ok(&r) || !(flags & RDPUDP_SYN) || (bool)(flags & RDPUDP_ACK) != server)
		return false;
	if (up < RDPUDP_MTU_MIN || up > RDPUDP_MTU_MAX || down < RDPUDP_MTU_MIN ||
	    down > RDPUDP_MTU_MAX)
		return false;
	/* 3.1.5.1.1: the client pads its SYN to the MTU it offers. */
	return server || (*ack == 0xffffffffu && n >= RDPUDP_MTU_MIN && n <= RDPUDP_MTU_MAX);
}

#define RDPUDP_DATA 0x0008
#define RDPUDP_FEC 0x0010
#define RDPUDP_ACK_OF_ACKS 0x0100
#define RDPUDP_FLAGS_KNOWN 0x1fff
#define RDPUDP_ACK_SLACK 64 /* datagrams in flight between the two numbers */

struct rdpudp_dir {
	uint32_t acks[IDENT_DGRAMS_MAX];
	unsigned nacks;
	uint32_t data_sn; /* snSourceStart of the first data datagram */
	bool data;
};

/* One mid-stream datagram; false when it is not RDPEUDP's shape. */
static bool rdpudp_dgram(struct reader *r, struct rdpudp_dir *dir)
{
	uint32_t ack = rd_be32(r);
	(void)rd_be16(r); /* uReceiveWindowSize */
	uint16_t flags = rd_be16(r);
	if (!rd_ok(r) || (flags & ~RDPUDP_FLAGS_KNOWN) || (flags & RDPUDP_SYN) ||
	    !(flags & RDPUDP_ACK))
		return false;
	uint16_t nvec = rd_be16(r);
	rd_skip(r, nvec);
	size_t pad = (4 - (2 + (size_t)nvec) % 4) % 4;
	for (size_t i = 0; i < pad; i++)
		if (rd_u8(r) != 0)
			return false;
	if (flags & RDPUDP_ACK_OF_ACKS)
		(void)rd_be32(r);
	if (!rd_ok(r))
		return false;
	dir->acks[dir->nacks++] = ack;
	if (!(flags & RDPUDP_DATA) || (flags & RDPUDP_FEC) || dir->data)
		return true;
	uint32_t coded = rd_be32(r), start = rd_be32(r);
	uint8_t type = rd_u8(r), major = rd_u8(r), minor = rd_u8(r);
	if (!rd_ok(r) || coded != start || type < 0x14 || type > 0x17 ||
	    !((major == 3 && minor <= 4) || (major == 0xfe && minor >= 0xfd)))
		return false;
	dir->data = true;
	dir->data_sn = start;
	return true;
}

/* True when one of the acks acknowledges sn, give or take the slack. */
static bool rdpudp_acked(const struct rdpudp_dir *by, uint32_t sn)
{
	for (unsigned i = 0; i < by->nacks; i++) {
		uint32_t d = by->acks[i] - sn;
		if (d <= RDPUDP_ACK_SLACK || -d <= RDPUDP_ACK_SLACK)
			return true;
	}
	return false;
}

/* Both directions from the middle of a connection (see the header). */
static enum ident_verdict rdp_udp_midstream(const struct ident_input *in,
                                            struct ident_evidence *ev)
{
	struct rdpudp_dir dir[2] = {{{0}, 0, 0, false}, {{0}, 0, 0, false}};
	for (int d = 0; d < 2; d++) {
		struct reader r;
		/* The first datagram must have the shape; a later one that does
		 * not (the last one kept may be cut) ends the walk. */
		for (unsigned k = 0; ident_dgram(in, d, k, &r); k++)
			if (!rdpudp_dgram(&r, &dir[d])) {
				if (k == 0)
					return IDENT_NO_MATCH;
				break;
			}
	}
	bool decided = dir[0].data && dir[1].data;
	if (!decided)
		return in->done[0] && in->done[1] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
	if (!rdpudp_acked(&dir[1], dir[0].data_sn) || !rdpudp_acked(&dir[0], dir[1].data_sn))
		return IDENT_NO_MATCH;
	ident_add_str(ev, "rdp_transport", "udp");
	ev->server_confirmed = true;
	ev->confidence = 85;
	return IDENT_MATCH;
}

/* rdp_udp past its cheap NO_MATCH tests. Out of line: the tests run
 * without this function's frame. */
__attribute__((noinline)) static enum ident_verdict
rdp_udp_parse(const struct ident_input *in, struct ident_evidence *ev)
{
	uint32_t isn, ack;
	if (!rdpudp_syn(in->data[0], dgram_first_len(in, 0), false, &isn, &ack))
		return rdp_udp_midstream(in, ev);
	if (in->ndgrams[1] == 0) {
		if (!in->done[1])
			return IDENT_NEED_MORE;
		ev->confidence = 60;
	} else {
		uint32_t sisn, sack;
		if (!rdpudp_syn(in->data[1], dgram_first_len(in, 1), true, &sisn, &sack) || sack != isn)
			return IDENT_NO_MATCH;
		ev->server_confirmed = true;
		ev->confidence = 95;
	}
	ident_add_str(ev, "rdp_transport", "udp");
	return IDENT_MATCH;
}

static enum ident_verdict rdp_udp(const struct ident_input *in, struct ident_evidence *ev)
{
	if (in->ndgrams[0] == 0)
		return in->done[0] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
	/* The usual NO_MATCH of rdp_udp_midstream from the client's first
	 * datagram's flags, when it cannot be a SYN (padded to the MTU) and
	 * lacks the mid-stream shape (ACK set, SYN and unknown bits clear). */
	{
		struct reader r;
		uint8_t f0, f1;
		size_t n = dgram_first_len(in, 0);
		if ((n < RDPUDP_MTU_MIN || n > RDPUDP_MTU_MAX) && dgram_first(in, 0, &r) &&
		    (!rd_has(&r, 8) || (rd_peek_u8(&r, 6, &f0) && rd_peek_u8(&r, 7, &f1) &&
		                        ((f0 & 0xe0) || (f1 & RDPUDP_SYN) || !(f1 & RDPUDP_ACK)))))
			return IDENT_NO_MATCH;
	}
	return rdp_udp_parse(in, ev);
}

/* TCP: the X.224 Connection Request and Confirm. Out of line: the UDP
 * identification runs without its frame. */
__attribute__((noinline)) static enum ident_verdict
rdp_tcp(const struct ident_input *in, struct ident_evidence *ev)
{
	struct reader c, s;
	rd_init(&c, in->data[0], in->len[0]);
	rd_init(&s, in->data[1], in->len[1]);
	uint8_t code;
	enum rdp_parse p = rdp_tpkt(&c, in->done[0], &code);
	if (p == RDP_BAD)
		return IDENT_NO_MATCH;
	if (p == RDP_SHORT)
		return IDENT_NEED_MORE;
	struct rdp_req q = {0};
	if (code != X224_CR || !rdp_conn_request(&c, &q))
		return IDENT_NO_MATCH;
	bool rdp_client = q.cookie || q.routing_token || q.neg;

	int srv = -2; /* -2 no server yet */
	uint32_t selected = 0;
	bool failure = false;
	if (in->len[1]) {
		uint8_t scode;
		enum rdp_parse ps = rdp_tpkt(&s, in->done[1], &scode);
		if (ps == RDP_BAD)
			return IDENT_NO_MATCH;
		if (ps == RDP_OK) {
			if (scode == X224_CC)
				srv = rdp_conn_confirm(&s, &selected, &failure);
			else if (scode == X224_DR && rdp_client)
				srv = 0;
			else
				return IDENT_NO_MATCH;
			if (srv < 0)
				return IDENT_NO_MATCH;
		}
	}
	if (srv == -2 && !in->done[1])
		return IDENT_NEED_MORE;
	if (!rdp_client && srv != 1)
		return IDENT_NO_MATCH; /* a bare CR: ISO-TSAP as much as RDP */
	ev->server_confirmed = srv >= 0;
	ev->confidence = srv == 1 ? 95 : srv == 0 ? 85 : 65;
	if (q.cookie)
		ident_add(ev, "rdp_cookie", q.cookie, q.cookie_len);
	char b[64];
	size_t n = rdp_protocols(q.protocols, b);
	ident_add(ev, "rdp_protocols", (const uint8_t *)b, n);
	if (srv == 1 && !failure) {
		n = rdp_protocols(selected, b);
		ident_add(ev, "rdp_selected", (const uint8_t *)b, n);
	}
	return IDENT_MATCH;
}

static enum ident_verdict rdp_match(const struct ident_input *in, struct ident_evidence *ev)
{
	if (in->transport == IDENT_UDP)
		return rdp_udp(in, ev);
	return rdp_tcp(in, ev);
}

const struct ident_proto ident_rdp = {"rdp", "RDP (MS-RDPBCGR, X.224 over TPKT RFC 1006; MS-RDPEUDP)",
                                      IDENT_TCP | IDENT_UDP, rdp_match, NULL, NULL};
