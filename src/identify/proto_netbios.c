/*
 * proto_netbios.c - NetBIOS Name Service (RFC 1002 section 4.2, NBNS).
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
	const uint8_t *e = rd_bytes(m, 32);
	if (!e)
		return false;
	uint8_t raw[16];
	for (int i = 0; i < 16; i++) {
		uint8_t h = e[2 * i], l = e[2 * i + 1];
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

static enum ident_verdict netbios_match(const struct ident_input *in, struct ident_evidence *ev)
{
	if (in->transport != IDENT_UDP)
		return IDENT_NO_MATCH;
	struct nb_msg c = {0}, s = {0};
	int pc = nb_first(in, 0, &c), ps = nb_first(in, 1, &s);
	if (pc < 0 || ps < 0)
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
	ev->server_confirmed = confirmed;
	ev->confidence = confirmed ? 95 : 85;
	return IDENT_MATCH;
}

const struct ident_proto ident_netbios = {"netbios", "NetBIOS Name Service (RFC 1002)", IDENT_UDP,
                                          netbios_match, NULL};
