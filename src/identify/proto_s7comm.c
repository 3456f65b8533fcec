/*
 * proto_s7comm.c - Siemens S7 communication (S7comm, and S7comm-plus) over
 * ISO-on-TCP (RFC 1006 TPKT, ISO 8073 / X.224 COTP class 0).
 *
 *   TPKT  +------+------+-----------------+
 *         | 0x03 | 0x00 | length (be16)   |  whole packet, >= 7
 *         +------+------+-----------------+
 *   COTP  | LI | CR 0xE0 / CC 0xD0 | dst-ref(2) src-ref(2) class(1) |
 *         | parameters: code len value ... to LI: must include the   |
 *         | calling and called TSAPs 0xC1, 0xC2                      |
 *    or   | LI=2 | DT 0xF0 | nr/EOT |  then the S7 PDU:
 *   S7    | 0x32 | ROSCTR 1,2,3,7 | reserved(2) | pdu-ref(2) |
 *         | param-len(2) | data-len(2) | [error(2) for ROSCTR 2,3] |
 *         | params, data: the sizes add up to the TPKT             |
 *    or   | 0x72 | version 1..3 | length(2) | opcode 0x31 req / 0x32 resp |
 *         | reserved(2) | function(2) ...                         (plus)
 *
 * Why this strict: TPKT/COTP carries RDP, MMS and others too. RDP's
 * connection request has no TSAP parameters (its cookie / negotiation
 * follows the fixed part), so a CR without 0xC1 and 0xC2 is refused; MMS
 * and other ISO stacks use TSAPs too, so a match needs an S7 header (0x32 or
 * 0x72) in a data TPDU of the client.
 */
#include "common/reader.h"
#include "identify/identify.h"

#define S7_TPKT_MAX 6

struct s7_dir {
	bool cr;      /* a connection request with TSAPs */
	bool cc;      /* a connection confirm */
	bool s7;      /* an S7 PDU was seen */
	bool plus;    /* it was S7comm-plus */
	uint8_t rosctr;
	int func;     /* S7 parameter function code / plus function, -1 none */
};

enum s7_parse { S7_BAD, S7_SHORT, S7_OK };

/* COTP CR/CC: fixed part, then the parameters walk to the end. */
static bool s7_cotp_conn(struct reader *c, bool need_tsap)
{
	rd_skip(c, 5); /* dst-ref, src-ref, class/options */
	bool c1 = false, c2 = false;
	while (rd_ok(c) && rd_remaining(c) > 0) {
		uint8_t code = rd_u8(c), plen = rd_u8(c);
		if (!rd_bytes(c, plen))
			return false;
		if (code == 0xc1)
			c1 = true;
		else if (code == 0xc2)
			c2 = true;
		else if (code != 0xc0 && code != 0xc3 && code != 0xc4 && code != 0xc6 &&
		         code != 0xc7 && code != 0xe0 && code != 0x85 && code != 0x87 &&
		         code != 0x86 && code != 0xc5)
			return false;
	}
	return rd_ok(c) && (!need_tsap || (c1 && c2));
}

/* The S7 PDU in a DT TPDU's user data. */
static bool s7_pdu(struct reader *u, struct s7_dir *d)
{
	uint8_t proto = rd_u8(u);
	if (proto == 0x32) {
		uint8_t rosctr = rd_u8(u);
		rd_skip(u, 4);
		uint16_t plen = rd_be16(u), dlen = rd_be16(u);
		if (!rd_ok(u) || (rosctr != 1 && rosctr != 2 && rosctr != 3 && rosctr != 7))
			return false;
		if (rosctr == 2 || rosctr == 3)
			rd_skip(u, 2);
		uint8_t fn = 0;
		bool hasfn = plen > 0 && rd_peek_u8(u, 0, &fn);
		if (!rd_ok(u) || rd_remaining(u) != (size_t)plen + dlen)
			return false;
		d->s7 = true;
		d->rosctr = rosctr;
		d->func = hasfn ? fn : -1;
		return true;
	}
	if (proto == 0x72) {
		uint8_t ver = rd_u8(u);
		uint16_t len = rd_be16(u);
		uint8_t op = rd_u8(u);
		rd_skip(u, 2);
		uint16_t fn = rd_be16(u);
		/* The data (len bytes) follows the 4-byte header inside this
		 * TPDU (a 4-byte trailer may follow it). */
		if (!rd_ok(u) || ver < 1 || ver > 3 || len < 5 || (size_t)len > rd_remaining(u) + 5)
			return false;
		d->s7 = true;
		d->plus = true;
		d->rosctr = 0;
		d->func = (op == 0x31 || op == 0x32) ? fn : -1;
		return true;
	}
	return false;
}

static enum s7_parse s7_dir_parse(const uint8_t *p, uint32_t len, bool client, struct s7_dir *d)
{
	struct reader r;
	rd_init(&r, p, len);
	d->func = -1;
	for (unsigned k = 0; k < S7_TPKT_MAX && rd_remaining(&r) > 0; k++) {
		uint8_t v = 0, z = 0;
		if ((rd_peek_u8(&r, 0, &v) && v != 0x03) || (rd_peek_u8(&r, 1, &z) && z != 0x00))
			return S7_BAD;
		if (!rd_has(&r, 4))
			return k ? S7_OK : S7_SHORT;
		rd_skip(&r, 2);
		uint16_t tlen = rd_be16(&r);
		if (tlen < 7)
			return S7_BAD;
		if (!rd_has(&r, (size_t)tlen - 4)) {
			if (k == 0 && rd_remaining(&r) >= 2) {
				uint8_t li, t;
				rd_peek_u8(&r, 0, &li);
				rd_peek_u8(&r, 1, &t);
				if (t != 0xe0 && t != 0xd0 && t != 0xf0)
					return S7_BAD;
			}
			return k ? S7_OK : S7_SHORT;
		}
		struct reader c = rd_sub(&r, (size_t)tlen - 4);
		uint8_t li = rd_u8(&c), type = rd_u8(&c);
		if ((size_t)li + 1 > (size_t)tlen - 4)
			return S7_BAD;
		if (type == 0xe0 || type == 0xd0) {
			if (!client && type == 0xe0)
				return S7_BAD;
			if (client && type == 0xd0)
				return S7_BAD;
			if ((size_t)li + 1 != (size_t)tlen - 4)
				return S7_BAD;
			struct reader cc = rd_sub(&c, (size_t)li - 1);
			if (!s7_cotp_conn(&cc, type == 0xe0))
				return S7_BAD;
			if (type == 0xe0)
				d->cr = true;
			else
				d->cc = true;
		} else if (type == 0xf0) {
			if (li != 2)
				return S7_BAD;
			rd_skip(&c, 1);
			if (rd_remaining(&c) == 0)
				continue; /* an empty DT (keep-alive) */
			if (!s7_pdu(&c, d))
				return S7_BAD;
			return S7_OK;
		} else {
			return S7_BAD;
		}
	}
	return S7_OK;
}

static void s7_evidence(struct ident_evidence *ev, const struct s7_dir *d)
{
	static const char *const ros[] = {"", "job", "ack", "ack_data", "", "", "", "userdata"};
	if (d->plus)
		ident_add_str(ev, "s7_rosctr", "s7comm-plus");
	else
		ident_add_str(ev, "s7_rosctr", ros[d->rosctr & 7]);
	if (d->func >= 0)
		ident_add_u64(ev, "s7_function", (uint64_t)d->func);
}

static enum ident_verdict s7comm_match(const struct ident_input *in, struct ident_evidence *ev)
{
	struct s7_dir c = {0}, s = {0};
	enum s7_parse pc = s7_dir_parse(in->data[0], in->len[0], true, &c);
	if (pc == S7_BAD)
		return IDENT_NO_MATCH;
	enum s7_parse ps = in->len[1] ? s7_dir_parse(in->data[1], in->len[1], false, &s) : S7_SHORT;
	if (ps == S7_BAD)
		return IDENT_NO_MATCH;
	if (pc != S7_OK || !c.s7) {
		/* A TSAP connection request (or nothing yet): the S7 header
		 * may still come. */
		return in->done[0] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
	}
	bool confirmed = ps == S7_OK && (s.s7 || (c.cr && s.cc)) && (!s.s7 || s.plus == c.plus);
	if (ps == S7_OK && s.s7 && s.plus != c.plus)
		return IDENT_NO_MATCH;
	if (!confirmed && !in->done[1])
		return IDENT_NEED_MORE;
	s7_evidence(ev, &c);
	ev->server_confirmed = confirmed;
	ev->confidence = confirmed ? 95 : 70;
	return IDENT_MATCH;
}

/* The first bytes (identify.h, first_byte), of direction d.
 * The client's: s7_dir_parse on the client's bytes: TPKT version 3.
 * The server's: none declared. */
static bool s7comm_first_byte(int d, uint8_t transport, uint8_t b)
{
	if (d != 0)
		return true;
	(void)transport;
	return b == 0x03;
}

const struct ident_proto ident_s7comm = {
	"s7comm", "Siemens S7comm / S7comm-plus over ISO-on-TCP (RFC 1006, ISO 8073)", IDENT_TCP,
	s7comm_match, NULL, s7comm_first_byte};
