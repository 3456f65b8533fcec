/*
 * proto_netbios.c - NetBIOS Name Service (RFC 1002 section 4.2, NBNS) and
 * Datagram Service (RFC 1002 section 4.4, NBDS; see netbios_dgm_match).
 *
 * DNS's message format (RFC 1035) with NetBIOS names:
 *
 *   | NAME_TRN_ID (16) |R| OPCODE(4) |AA|TC|RD|RA|0|0|B| RCODE(4) |
 *   | QDCOUNT | ANCOUNT | NSCOUNT | ARCOUNT |      (each 0 or 1)
 *   | 0x20 | 32 bytes 'A'..'P' | [scope labels] | 0x00 |  the name: 16
 *   |   bytes, each split in two nibbles + 'A' (first-level encoding)
 *   | TYPE: NB 0x0020 / NBSTAT 0x0021 | CLASS: IN 0x0001 |
 *   [answer/additional: NAME (or pointer C0 0C) TYPE CLASS TTL RDLENGTH RDATA]
 *
 *   OPCODE 0 query, 5 registration, 6 release, 7 WACK, 8 refresh, 9 multi-homed.
 *
 * The dns identifier rejects these names, so they come here. The first
 * name (question, or answer in a response without one) must be a full
 * NetBIOS name; a response from the other side carries the query's ID.
 */
#include <stdio.h>

#include "common/reader.h"
#include "identify/identify.h"

struct nb_msg {
	uint16_t id;
	bool response;
	char name[24];
	size_t namelen;
};

/* Reads the encoded name (no pointer): 0x20, 32 letters, scope labels. */
static bool nb_name(struct reader *m, struct nb_msg *nb)
{
	if (rd_u8(m) != 0x20)
		return false;
	struct reader e = rd_sub(m, 32);
	if (!rd_ok(m))
		return false;
	uint8_t raw[16];
	for (int i = 0; i < 16; i++) {
		uint8_t h = rd_u8(&e), l = rd_u8(&e);
		if (h < 'A' || h > 'P' || l < 'A' || l > 'P')
			return false;
		raw[i] = (uint8_t)((h - 'A') << 4 | (l - 'A'));
	}
	for (int labels = 0; labels < 16; labels++) {
		uint8_t len = rd_u8(m);
		if (!rd_ok(m) || len > 63)
			return false;
		if (len == 0)
			break;
		rd_skip(m, len);
	}
	if (!rd_ok(m))
		return false;
	/* "NAME<xx>": 15 characters, trailing spaces (NULs: the "*" wildcard) dropped, then the suffix */
	size_t n = 15;
	while (n > 0 && (raw[n - 1] == ' ' || raw[n - 1] == 0))
		n--;
	nb->namelen = 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = raw[i];
		nb->name[nb->namelen++] = (char)(c >= 0x20 && c < 0x7f ? c : '?');
	}
	nb->namelen += (size_t)snprintf(nb->name + nb->namelen, sizeof nb->name - nb->namelen,
	                                "<%02x>", raw[15]);
	return true;
}

static bool nb_parse(struct reader *m, struct nb_msg *nb)
{
	nb->id = rd_be16(m);
	uint16_t fl = rd_be16(m);
	uint16_t qd = rd_be16(m), an = rd_be16(m), ns = rd_be16(m), ar = rd_be16(m);
	if (!rd_ok(m))
		return false;
	uint8_t op = (uint8_t)(fl >> 11 & 0xf);
	nb->response = fl & 0x8000;
	if ((op != 0 && (op < 5 || op > 9)) || (fl & 0x0060) || qd > 1 || an > 1 || ns > 1 ||
	    ar > 1 || qd + an == 0)
		return false;
	if (!nb_name(m, nb))
		return false;
	uint16_t type = rd_be16(m), cls = rd_be16(m);
	if (!rd_ok(m) || (type != 0x20 && type != 0x21) || cls != 1)
		return false;
	if (qd == 0) {
		/* answer record: TTL, RDLENGTH, RDATA */
		(void)rd_be32(m);
		uint16_t rdlen = rd_be16(m);
		if (!rd_bytes(m, rdlen))
			return false;
	}
	return true;
}

static int nb_first(const struct ident_input *in, int d, struct nb_msg *out)
{
	if (in->ndgrams[d] == 0)
		return 0;
	struct reader r;
	rd_init(&r, in->data[d], in->len[d]);
	struct reader m = rd_sub(&r, in->dgram_len[d][0]);
	return rd_ok(&r) && nb_parse(&m, out) ? 1 : -1;
}

/* NetBIOS Datagram Service (RFC 1002 section 4.4), one datagram:
 *
 *   | MSG_TYPE | FLAGS | DGM_ID (16)  |  type 0x10 direct unique, 0x11
 *   | SOURCE_IP (32)                  |  direct group, 0x12 broadcast,
 *   | SOURCE_PORT (16)                |  0x13 error, 0x14-0x16 query
 *   0x10-0x12: | DGM_LENGTH | PACKET_OFFSET | SOURCE_NAME | DESTINATION_NAME
 *              | USER_DATA (Windows: SMB mailslot, "\xffSMB")
 *   0x13:      | ERROR_CODE 0x82-0x84 |
 *   0x14-0x16: | DESTINATION_NAME |
 *
 * FLAGS: 4 reserved zero bits, SNT (node type), F (first), M (more).
 * DGM_LENGTH counts the bytes after PACKET_OFFSET (names and user data),
 * so the datagram is 14 + DGM_LENGTH long. */
struct nb_dgm {
	uint8_t type;
	bool smb;
	struct nb_msg src;
};

static bool nb_dgm_parse(struct reader *m, size_t len, struct nb_dgm *g)
{
	g->type = rd_u8(m);
	uint8_t flags = rd_u8(m);
	rd_skip(m, 2 + 4 + 2); /* DGM_ID, SOURCE_IP, SOURCE_PORT */
	if (!rd_ok(m) || (flags & 0xf0) || g->type < 0x10 || g->type > 0x16)
		return false;
	if (g->type == 0x13) {
		uint8_t code = rd_u8(m);
		return rd_ok(m) && code >= 0x82 && code <= 0x84 && rd_remaining(m) == 0;
	}
	if (g->type >= 0x14) {
		struct nb_msg dst;
		return nb_name(m, &dst) && rd_remaining(m) == 0;
	}
	uint16_t dlen = rd_be16(m), off = rd_be16(m);
	if (!rd_ok(m) || (size_t)dlen + 14 != len)
		return false;
	/* PACKET_OFFSET: 0 in a first fragment (F set) */
	if ((flags & 0x02) && off != 0)
		return false;
	struct nb_msg dst;
	if (!nb_name(m, &g->src) || !nb_name(m, &dst))
		return false;
	g->smb = rd_starts(m, "\xffSMB");
	return true;
}

static int nb_dgm_first(const struct ident_input *in, int d, struct nb_dgm *out)
{
	if (in->ndgrams[d] == 0)
		return 0;
	struct reader r;
	rd_init(&r, in->data[d], in->len[d]);
	struct reader m = rd_sub(&r, in->dgram_len[d][0]);
	return rd_ok(&r) && nb_dgm_parse(&m, in->dgram_len[d][0], out) ? 1 : -1;
}

static enum ident_verdict netbios_dgm_match(const struct ident_input *in,
                                            struct ident_evidence *ev)
{
	struct nb_dgm c = {0}, s = {0};
	if (nb_dgm_first(in, 0, &c) <= 0)
		return IDENT_NO_MATCH;
	int ps = nb_dgm_first(in, 1, &s);
	if (ps < 0)
		return IDENT_NO_MATCH;
	/* Datagrams are sent, not answered (a query may be): no waiting. */
	ident_add_str(ev, "netbios_service", "datagram");
	if (c.type <= 0x12) {
		ident_add(ev, "netbios_name", (const uint8_t *)c.src.name, c.src.namelen);
		if (c.smb)
			ident_add_str(ev, "netbios_payload", "smb");
	}
	ev->server_confirmed = ps > 0;
	ev->confidence = 85;
	return IDENT_MATCH;
}

/* NetBIOS Session Service (RFC 1002 section 4.3), TCP 139:
 *
 *   | TYPE | FLAGS (7 zero bits, E) | LENGTH (16) | ...LENGTH bytes |
 *   0x81 session request: CALLED_NAME CALLING_NAME (each 0x20 + 32 letters)
 *   0x82 positive response (LENGTH 0), 0x83 negative response (1 byte,
 *   error 0x80-0x8f), 0x84 retarget response (IP, port), 0x85 keep-alive.
 *
 * A session that carries SMB after the request belongs to the smb
 * identifier; this one names a session request answered (or not) with no
 * session message following, as a name check or a refused call does.
 * (Out of line: the UDP identification runs without its frame.) */
__attribute__((noinline)) static enum ident_verdict
netbios_session_match(const struct ident_input *in, struct ident_evidence *ev)
{
	struct reader c, s;
	rd_init(&c, in->data[0], in->len[0]);
	rd_init(&s, in->data[1], in->len[1]);
	uint8_t type = rd_u8(&c), flags = rd_u8(&c);
	uint16_t len = rd_be16(&c);
	if (rd_ok(&c) && (type != 0x81 || flags != 0 || len < 68))
		return IDENT_NO_MATCH;
	struct reader body = rd_sub(&c, len);
	struct nb_msg called = {0}, calling = {0};
	if (!rd_ok(&c))
		return in->done[0] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
	if (!nb_name(&body, &called) || !nb_name(&body, &calling) || rd_remaining(&body) != 0)
		return IDENT_NO_MATCH;
	if (rd_remaining(&c) > 0)
		return IDENT_NO_MATCH; /* a session message follows: smb's, or not NetBIOS's alone */
	bool confirmed = false, refused = false;
	if (in->len[1] > 0) {
		uint8_t st = rd_u8(&s), sf = rd_u8(&s);
		uint16_t sl = rd_be16(&s);
		if (!rd_ok(&s))
			return in->done[1] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
		if (sf != 0 || !((st == 0x82 && sl == 0) || (st == 0x83 && sl == 1) ||
		                 (st == 0x84 && sl == 6)))
			return IDENT_NO_MATCH;
		if (st == 0x83) {
			uint8_t code = rd_u8(&s);
			if (!rd_ok(&s))
				return in->done[1] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
			if (code < 0x80 || code > 0x8f)
				return IDENT_NO_MATCH;
		}
		confirmed = true;
		refused = st != 0x82;
		/* After a positive response the client's session messages
		 * follow: wait for them, they may be SMB. */
		if (!refused && !in->done[0])
			return IDENT_NEED_MORE;
	} else if (!in->done[1] || !in->done[0]) {
		return IDENT_NEED_MORE;
	}
	ident_add_str(ev, "netbios_service", "session");
	ident_add(ev, "netbios_name", (const uint8_t *)called.name, called.namelen);
	ident_add(ev, "netbios_calling", (const uint8_t *)calling.name, calling.namelen);
	ev->server_confirmed = confirmed;
	ev->confidence = confirmed ? 95 : 80;
	return IDENT_MATCH;
}

/* nb_parse false from the header's first 8 bytes: too short, an opcode
 * or flag bits NBNS does not use, more than one question or answer. */
static bool nb_quick_bad(const struct reader *m)
{
	uint8_t b[8];
	if (!rd_has(m, 12))
		return true;
	(void)rd_peek_u8(m, 4, &b[4]);
	if (b[4]) /* QDCOUNT > 1, the usual case */
		return true;
	for (size_t i = 0; i < 8; i++)
		(void)rd_peek_u8(m, i, &b[i]);
	uint8_t op = (uint8_t)(b[2] >> 3 & 0xf);
	return (op != 0 && (op < 5 || op > 9)) || (b[3] & 0x60) || b[5] > 1 || b[6] || b[7] > 1;
}

/* nb_dgm_parse false from the first two bytes: too short, no datagram
 * MSG_TYPE, reserved flag bits set. */
static bool nb_dgm_quick_bad(const struct reader *m)
{
	uint8_t type, flags;
	if (!rd_has(m, 10))
		return true;
	(void)rd_peek_u8(m, 0, &type);
	(void)rd_peek_u8(m, 1, &flags);
	return type < 0x10 || type > 0x16 || (flags & 0xf0);
}

/* netbios_match past its cheap NO_MATCH tests. Out of line: the tests run
 * without this function's frame. */
__attribute__((noinline)) static enum ident_verdict
netbios_match_parse(const struct ident_input *in, struct ident_evidence *ev)
{
	struct nb_msg c = {0}, s = {0};
	int pc = nb_first(in, 0, &c), ps = nb_first(in, 1, &s);
	if (pc < 0)
		return netbios_dgm_match(in, ev);
	if (ps < 0)
		return IDENT_NO_MATCH;
	if (pc == 0)
		return in->done[0] && in->done[1] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
	bool confirmed = false;
	if (ps > 0) {
		if (c.response || !s.response || s.id != c.id)
			return IDENT_NO_MATCH;
		confirmed = true;
	} else if (!in->done[1] && !c.response) {
		return IDENT_NEED_MORE;
	}
	ident_add(ev, "netbios_name", (const uint8_t *)c.name, c.namelen);
	ident_add_str(ev, "netbios_service", "name");
	ev->server_confirmed = confirmed;
	ev->confidence = confirmed ? 95 : 85;
	return IDENT_MATCH;
}

static enum ident_verdict netbios_match(const struct ident_input *in, struct ident_evidence *ev)
{
	if (in->transport == IDENT_TCP)
		return netbios_session_match(in, ev);
	/* The usual NO_MATCH of netbios_match_parse before the parses: a
	 * client's first datagram neither a name service message (nb_first -1)
	 * nor a datagram service one; with no client datagram, a server's that
	 * is no name service message. */
	{
		int d = in->ndgrams[0] ? 0 : 1;
		if (in->ndgrams[d]) {
			struct reader r, m;
			rd_init(&r, in->data[d], in->len[d]);
			m = rd_sub(&r, in->dgram_len[d][0]);
			if (!rd_ok(&r) || (nb_quick_bad(&m) && (d == 1 || nb_dgm_quick_bad(&m))))
				return IDENT_NO_MATCH;
		}
	}
	return netbios_match_parse(in, ev);
}

const struct ident_proto ident_netbios = {"netbios", "NetBIOS Name, Datagram and Session Services (RFC 1002)", IDENT_UDP | IDENT_TCP,
                                          netbios_match, NULL, NULL};
