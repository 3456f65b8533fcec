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
		const uint8_t *u = rd_bytes(b, 16);
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

static enum ident_verdict dcerpc_match(const struct ident_input *in, struct ident_evidence *ev)
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

const struct ident_proto ident_dcerpc = {"dcerpc", "DCE/RPC connection-oriented (C706, MS-RPCE)",
                                         IDENT_TCP, dcerpc_match, NULL};
