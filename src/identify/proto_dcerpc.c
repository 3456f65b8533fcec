/*
 * proto_dcerpc.c - DCE/RPC connection-oriented PDUs (DCE 1.1 RPC, C706
 * chapter 12; Microsoft MS-RPCE 2.2.2), as on TCP (ncacn_ip_tcp: port 135
 * and the dynamic ports the endpoint mapper hands out).
 *
 * Common header, 16 bytes:
 *   +-----+-------+-------+-------+-------------------------------+
 *   | 5   | 0 / 1 | ptype | flags | data representation (4):     |
 *   |     |       |       |       | int/char 0x00/0x10, float 0-3, 0, 0 |
 *   +-----+-------+-------+-------+-------------------------------+
 *   | frag_length (2) | auth_length (2) | call_id (4)            |
 *   +-----------------------------------------------------------+
 *   integers in the byte order drep[0] says (0x10: little endian).
 *   frag_length >= 16 and holds the auth trailer (8 + auth_length).
 *   bind (11) / alter_context (14): max_xmit(2) max_recv(2) assoc(4)
 *     n_contexts(1) pad(3), then per context: id(2) n_transfer(1) pad(1)
 *     abstract syntax UUID(16) + version(4), n_transfer x (UUID + version),
 *     all inside frag_length.
 *
 * Client PDUs: request 0, bind 11, alter_context 14, auth3 16, cancel 18,
 * orphaned 19. Server PDUs: response 2, fault 3, bind_ack 12, bind_nak 13,
 * alter_context_resp 15, shutdown 17. Why this strict: version bytes and a
 * type are few; the lengths must add up PDU after PDU and the server's
 * first PDU must answer a call id the client used.
 *
 * Connectionless PDUs (C706 chapter 12, ncadg_ip_udp: the endpoint mapper
 * on udp/135, PROFINET IO context management on udp/34964), one per
 * datagram, an 80-byte header:
 *
 *   04 | ptype 0-10 | flags1 | flags2 | drep(3) | serial_hi
 *   object UUID(16) | interface UUID(16) | activity UUID(16)
 *   server_boot(4) if_vers(4) seqnum(4) opnum(2) ihint(2) ahint(2)
 *   len(2) fragnum(2) auth_proto(1) serial_lo(1)
 *
 *   04 00 20 00 | 00 00 00 | 00 | dea00000-6c97-11d1-8271-00010101014d ...
 *   ... 0232 0000 00 00  then 0x232 bytes: 80 + 562 = the datagram
 *
 * ptype 0 request, 1 ping, 2 response, 3 fault, 4 working, 5 nocall,
 * 6 reject, 7 ack, 8 cl_cancel, 9 fack, 10 cancel_ack; integers and the
 * UUIDs' first three fields in the drep byte order. len is the body after
 * the header (an authentication trailer may follow when auth_proto is not
 * 0). Calls and answers may travel in flows of their own (PROFINET answers
 * from another port), so every datagram of the flow must be such a PDU
 * and each side's datagrams are judged alone; an answer in the same flow
 * carries the activity UUID of the call.
 */
#include "common/reader.h"
#include "identify/identify.h"

#define DCE_CHECK_MAX 4

struct dce_pdu {
	uint8_t ptype;
	uint32_t call_id;
	bool has_if;
	uint8_t uuid[16];
	bool le;
	uint16_t if_major;
};

enum dce_parse { DCE_BAD, DCE_SHORT, DCE_OK };

static uint16_t dce_16(struct reader *r, bool le) { return le ? rd_le16(r) : rd_be16(r); }
static uint32_t dce_32(struct reader *r, bool le) { return le ? rd_le32(r) : rd_be32(r); }

static bool dce_type_ok(uint8_t t, bool server)
{
	if (server)
		return t == 2 || t == 3 || t == 12 || t == 13 || t == 15 || t == 17;
	return t == 0 || t == 11 || t == 14 || t == 16 || t == 18 || t == 19;
}

/* The bind body: contexts must fit the PDU. */
static bool dce_bind(struct reader *b, bool le, struct dce_pdu *p)
{
	uint16_t xmit = dce_16(b, le), recv = dce_16(b, le);
	rd_skip(b, 4);
	uint8_t n = rd_u8(b);
	rd_skip(b, 3);
	if (!rd_ok(b) || xmit < 16 || recv < 16 || n == 0)
		return false;
	for (unsigned i = 0; i < n; i++) {
		rd_skip(b, 2);
		uint8_t nts = rd_u8(b);
		rd_skip(b, 1);
		uint8_t u[16];
		rd_copy(b, u, 16);
		uint16_t maj = dce_16(b, le);
		rd_skip(b, 2);
		if (!rd_ok(b) || nts == 0 || !rd_bytes(b, (size_t)nts * 20))
			return false;
		if (i == 0) {
			for (int k = 0; k < 16; k++)
				p->uuid[k] = u[k];
			p->has_if = true;
			p->if_major = maj;
		}
	}
	return true;
}

static enum dce_parse dce_dir(const uint8_t *data, uint32_t len, bool server, struct dce_pdu *out,
                              unsigned *n)
{
	struct reader r;
	rd_init(&r, data, len);
	*n = 0;
	while (*n < DCE_CHECK_MAX && rd_remaining(&r) > 0) {
		struct dce_pdu *p = &out[*n];
		uint8_t h[16];
		size_t have = rd_remaining(&r);
		for (size_t i = 0; i < 16; i++)
			rd_peek_u8(&r, i, &h[i]);
		/* Judge the header bytes that are there. */
		if (h[0] != 5 || (have > 1 && h[1] > 1) || (have > 2 && !dce_type_ok(h[2], server)) ||
		    (have > 4 && (h[4] & 0xef) != 0) || (have > 5 && h[5] > 3) ||
		    (have > 6 && h[6] != 0) || (have > 7 && h[7] != 0))
			return DCE_BAD;
		if (have < 16)
			return *n ? DCE_OK : DCE_SHORT;
		bool le = h[4] & 0x10;
		rd_skip(&r, 8);
		uint16_t flen = dce_16(&r, le), alen = dce_16(&r, le);
		p->call_id = dce_32(&r, le);
		p->ptype = h[2];
		p->le = le;
		p->has_if = false;
		if (flen < 16 || (alen && (size_t)alen + 8 + 16 > flen))
			return DCE_BAD;
		if (!rd_has(&r, (size_t)flen - 16))
			return *n ? DCE_OK : DCE_SHORT;
		struct reader b = rd_sub(&r, (size_t)flen - 16);
		rd_limit(&b, (size_t)flen - 16 - (alen ? (size_t)alen + 8 : 0));
		if ((p->ptype == 11 || p->ptype == 14) && !dce_bind(&b, le, p))
			return DCE_BAD;
		if ((p->ptype == 12 || p->ptype == 15) && (size_t)flen - 16 < 10)
			return DCE_BAD;
		(*n)++;
	}
	return DCE_OK;
}

static const char *const dce_ptypes[20] = {
	"request", "ping", "response", "fault", "working", "nocall", "reject", "ack",
	"cl_cancel", "fack", "cancel_ack", "bind", "bind_ack", "bind_nak", "alter_context",
	"alter_context_resp", "auth3", "shutdown", "co_cancel", "orphaned"};

static void dce_evidence(struct ident_evidence *ev, const struct dce_pdu *p, unsigned n)
{
	ident_add_str(ev, "dcerpc_ptype", dce_ptypes[p[0].ptype % 20]);
	for (unsigned i = 0; i < n; i++) {
		if (!p[i].has_if)
			continue;
		const uint8_t *u = p[i].uuid;
		/* Text form: the first three fields in the sender's byte order. */
		static const int le_order[16] = {3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15};
		static const char hx[] = "0123456789abcdef";
		char t[36];
		int k = 0;
		for (int j = 0; j < 16; j++) {
			if (j == 4 || j == 6 || j == 8 || j == 10)
				t[k++] = '-';
			uint8_t b = u[p[i].le ? le_order[j] : j];
			t[k++] = hx[b >> 4];
			t[k++] = hx[b & 15];
		}
		ident_add(ev, "dcerpc_interface", (const uint8_t *)t, 36);
		return;
	}
}

/* One connectionless PDU filling a datagram of len bytes (cut: the
 * capture cut it short). The activity UUID goes to act, normalised to big
 * endian fields. */
static bool dce_cl_pdu(struct reader *m, size_t len, bool cut, struct dce_pdu *p, uint8_t act[16])
{
	static const int le_order[16] = {3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15};
	uint8_t vers = rd_u8(m), ptype = rd_u8(m);
	rd_skip(m, 1);
	uint8_t flags2 = rd_u8(m), d0 = rd_u8(m), d1 = rd_u8(m), d2 = rd_u8(m);
	rd_skip(m, 1 + 16);
	uint8_t ifid[16], a[16];
	rd_copy(m, ifid, 16);
	rd_copy(m, a, 16);
	if (!rd_ok(m) || vers != 4 || ptype > 10 || (flags2 & 0xf0) || (d0 & 0xee) || d1 > 3 || d2)
		return false;
	bool le = d0 & 0x10;
	rd_skip(m, 4);
	uint32_t ifv = dce_32(m, le);
	rd_skip(m, 4 + 2 + 2 + 2);
	uint16_t blen = dce_16(m, le);
	rd_skip(m, 2);
	uint8_t auth = rd_u8(m);
	rd_skip(m, 1);
	if (!rd_ok(m) || rd_offset(m) != 80)
		return false;
	if (auth == 0 ? (cut ? 80u + blen < len : 80u + blen != len) : 80u + blen > len)
		return false;
	for (int k = 0; k < 16; k++) {
		act[k] = a[le ? le_order[k] : k];
		p->uuid[k] = ifid[k];
	}
	p->ptype = ptype;
	p->le = le;
	p->has_if = ptype <= 2 || ptype == 3;
	p->if_major = (uint16_t)(le ? ifv & 0xffff : ifv >> 16);
	p->call_id = 0;
	return true;
}

/* Every datagram of direction d: a connectionless PDU; 0 none, -1 not. */
static int dce_cl_dir(const struct ident_input *in, int d, struct dce_pdu *first, uint8_t act[16])
{
	struct reader r;
	rd_init(&r, in->data[d], in->len[d]);
	for (unsigned k = 0; k < in->ndgrams[d]; k++) {
		uint16_t len = in->dgram_len[d][k];
		struct reader m = rd_sub(&r, len);
		bool cut = in->truncated[d] && k + 1 == in->ndgrams[d];
		struct dce_pdu p;
		uint8_t a[16];
		if (!rd_ok(&r) || !dce_cl_pdu(&m, len, cut, &p, a))
			return -1;
		if (k == 0) {
			*first = p;
			for (int i = 0; i < 16; i++)
				act[i] = a[i];
		}
	}
	return in->ndgrams[d] > 0;
}

/* dcerpc_cl_match past its cheap NO_MATCH tests. Out of line: the tests run
 * without this function's frame. */
__attribute__((noinline)) static enum ident_verdict
dcerpc_cl_match_parse(const struct ident_input *in, struct ident_evidence *ev)
{
	struct dce_pdu c, s;
	uint8_t ca[16], sa[16];
	int pc = dce_cl_dir(in, 0, &c, ca), ps = dce_cl_dir(in, 1, &s, sa);
	if (pc < 0 || ps < 0)
		return IDENT_NO_MATCH;
	if (pc == 0 && ps == 0)
		return in->done[0] && in->done[1] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
	bool confirmed = false;
	if (pc && ps) {
		for (int i = 0; i < 16; i++)
			if (ca[i] != sa[i])
				return IDENT_NO_MATCH;
		confirmed = true;
	} else if (!(in->done[0] && in->done[1])) {
		return IDENT_NEED_MORE;
	}
	dce_evidence(ev, pc ? &c : &s, 1);
	ev->server_confirmed = confirmed;
	ev->confidence = confirmed ? 95 : 75;
	return IDENT_MATCH;
}

static enum ident_verdict dcerpc_cl_match(const struct ident_input *in, struct ident_evidence *ev)
{
	/* The usual NO_MATCH of dcerpc_cl_match_parse (dce_cl_dir -1 on either
	 * side) from the first datagram's first bytes, before its 80-byte
	 * header is read: not there in full, shorter than the header, not
	 * version 4, or a ptype over 10 fails dce_cl_pdu. */
	for (int d = 0; d < 2; d++) {
		if (!in->ndgrams[d])
			continue;
		struct reader r, m;
		uint8_t vers, ptype;
		rd_init(&r, in->data[d], in->len[d]);
		m = rd_sub(&r, in->dgram_len[d][0]);
		if (!rd_ok(&r) || !rd_has(&m, 80) || (rd_peek_u8(&m, 0, &vers) && vers != 4) ||
		    (rd_peek_u8(&m, 1, &ptype) && ptype > 10))
			return IDENT_NO_MATCH;
	}
	return dcerpc_cl_match_parse(in, ev);
}

/* TCP: the connection-oriented PDUs. Out of line: the UDP identification
 * runs without its frame. */
__attribute__((noinline)) static enum ident_verdict
dcerpc_co_match(const struct ident_input *in, struct ident_evidence *ev)
{
	struct dce_pdu c[DCE_CHECK_MAX], s[DCE_CHECK_MAX];
	unsigned nc = 0, ns = 0;
	enum dce_parse pc = in->len[0] ? dce_dir(in->data[0], in->len[0], false, c, &nc) : DCE_SHORT;
	if (pc == DCE_BAD)
		return IDENT_NO_MATCH;
	if (pc == DCE_SHORT)
		return in->done[0] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
	enum dce_parse ps = in->len[1] ? dce_dir(in->data[1], in->len[1], true, s, &ns) : DCE_SHORT;
	if (ps == DCE_BAD)
		return IDENT_NO_MATCH;
	if (ps == DCE_SHORT) {
		if (!in->done[1])
			return IDENT_NEED_MORE;
		if (in->len[1])
			return IDENT_NO_MATCH;
		dce_evidence(ev, c, nc);
		ev->confidence = c[0].has_if ? 70 : 55;
		return IDENT_MATCH;
	}
	for (unsigned i = 0; i < nc; i++) {
		if (c[i].call_id == s[0].call_id && c[i].le == s[0].le) {
			dce_evidence(ev, c, nc);
			ev->server_confirmed = true;
			ev->confidence = 95;
			return IDENT_MATCH;
		}
	}
	return IDENT_NO_MATCH;
}

static enum ident_verdict dcerpc_match(const struct ident_input *in, struct ident_evidence *ev)
{
	if (in->transport == IDENT_UDP)
		return dcerpc_cl_match(in, ev);
	return dcerpc_co_match(in, ev);
}

/* The first bytes (identify.h, first_byte), of direction d.
 * The client's: UDP, dcerpc_cl_match: version 4; TCP, dce_dir on the
 * client's bytes: version 5.
 * The server's: UDP, the same (dcerpc_cl_match checks both sides
 * alike); TCP, none declared. */
static bool dcerpc_first_byte(int d, uint8_t transport, uint8_t b)
{
	if (d != 0 && transport != IDENT_UDP)
		return true;
	return transport == IDENT_UDP ? b == 4 : b == 5;
}

const struct ident_proto ident_dcerpc = {"dcerpc", "DCE/RPC (C706, MS-RPCE)",
                                         IDENT_TCP | IDENT_UDP, dcerpc_match, NULL, dcerpc_first_byte};
