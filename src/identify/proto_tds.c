/*
 * proto_tds.c - Microsoft SQL Server, Tabular Data Stream ([MS-TDS] 2.2.3,
 * packet header; 2.2.6.5 PRELOGIN; 2.2.6.4 LOGIN7).
 *
 * Every TDS message travels in packets with an 8-byte header:
 *
 *   type(1) status(1) length(2, big endian, header included) spid(2)
 *   packet id(1) window(1, 0)
 *
 *   client types: 0x12 PRELOGIN, 0x10 LOGIN7, 0x01 SQL batch, 0x03 RPC,
 *                 0x0e transaction manager, 0x06 attention
 *   server type:  0x04 tabular result
 *   status bit 0x01: end of message; the others are small flags (<= 0x1f)
 *
 * PRELOGIN's payload is an option table, (token(1) offset(2) length(2))*
 * then 0xff, token 0x00 VERSION first, offsets inside the payload. LOGIN7
 * opens with its own length (4, little endian) and TDS version (0x7x...).
 *
 * SQL batch and RPC requests (2.2.6.6, 2.2.6.7) of TDS 7.2 and later open
 * with ALL_HEADERS (2.2.5.3): TotalLength(4, LE) then headers, each
 * HeaderLength(4, LE) HeaderType(2, LE: 1 query notifications, 2
 * transaction descriptor (length 18), 3 trace activity) data, the lengths
 * adding up to TotalLength:
 *
 *   03 09 00b9 0000 01 00    RPC, end of message + reset connection
 *   16000000                 ALL_HEADERS, 22 bytes
 *     12000000 0200 <8 transaction descriptor> 01000000 (outstanding)
 *   0e00 7000 5f00 4700 ...  ProcNameLength 14, "p_GetBugsData" UTF-16LE
 *
 * then an RPC names its procedure: ProcNameLength(2, LE) and as many UTF-16
 * characters, or 0xffff and a well-known ProcID (1..15); a SQL batch
 * carries its text in UTF-16.
 *
 * A packet header alone is 8 loosely-constrained bytes: a PRELOGIN or
 * LOGIN7 is identified by its payload structure, and so is a SQL batch or
 * an RPC whose ALL_HEADERS add up, or whose procedure name or text is
 * UTF-16 ASCII (at least 4 characters). Other client packets (a capture
 * that began after the login) need the server's 0x04 answer.
 */
#include "common/reader.h"
#include "identify/identify.h"

enum tds_parse { TDS_BAD, TDS_SHORT, TDS_OK };

struct tds_hdr {
	uint8_t type, status;
	uint16_t len;
};

static enum tds_parse tds_header(struct reader *r, struct tds_hdr *h)
{
	if (!rd_has(r, 8))
		return TDS_SHORT;
	h->type = rd_u8(r);
	h->status = rd_u8(r);
	h->len = rd_be16(r);
	rd_skip(r, 2 + 1); /* spid, packet id */
	uint8_t window = rd_u8(r);
	/* packets are at most 32767 bytes (the negotiated packet size) */
	if (h->len < 9 || h->len > 32768 || h->status > 0x1f || window != 0)
		return TDS_BAD;
	return TDS_OK;
}

/* PRELOGIN option table: VERSION first, offsets within the payload. */
static enum tds_parse tds_prelogin(struct reader *r, size_t plen, const struct ident_input *in,
                                   int d)
{
	(void)in;
	(void)d;
	if (!rd_has(r, plen))
		return TDS_SHORT;
	struct reader p = rd_sub(r, plen);
	size_t table_end = 0;
	for (int k = 0; k < 16; k++) {
		uint8_t tok = rd_u8(&p);
		if (!rd_ok(&p))
			return TDS_BAD;
		if (tok == 0xff) {
			table_end = rd_offset(&p);
			break;
		}
		if (k == 0 && tok != 0x00)
			return TDS_BAD;
		if (tok > 0x08)
			return TDS_BAD;
		uint16_t off = rd_be16(&p), len = rd_be16(&p);
		if (!rd_ok(&p) || (size_t)off + len > plen)
			return TDS_BAD;
	}
	return table_end ? TDS_OK : TDS_BAD;
}

/* LOGIN7: its length matches the payload, TDS version 7.x. */
static enum tds_parse tds_login7(struct reader *r, size_t plen)
{
	if (!rd_has(r, 8))
		return TDS_SHORT;
	uint32_t len = rd_le32(r);
	uint32_t ver = rd_be32(r); /* 0x74000004 etc. (byte order differs) */
	if (len != plen || len < 36)
		return TDS_BAD;
	uint8_t hi = (uint8_t)(ver >> 24), lo = (uint8_t)ver;
	return (hi >= 0x70 && hi <= 0x74) || (lo >= 0x70 && lo <= 0x74) ? TDS_OK : TDS_BAD;
}

/* n UTF-16LE characters of ASCII text (names, SQL text: printable, tab,
 * CR, LF), checked as far as they were captured; at least 4 must be (a
 * SQL batch: its first 32 characters). */
static bool tds_utf16_ascii(struct reader *r, size_t n)
{
	size_t have = rd_remaining(r) / 2;
	if (have < n)
		n = have;
	if (n < 4)
		return false;
	for (size_t i = 0; i < n; i++) {
		uint8_t lo = rd_u8(r), hi = rd_u8(r);
		if (hi != 0 || ((lo < 0x20 || lo > 0x7e) && lo != '\t' && lo != '\r' && lo != '\n'))
			return false;
	}
	return rd_ok(r);
}

/* ALL_HEADERS at the start of r: consumed when present and well formed.
 * Returns false when absent (r untouched) or malformed. */
static bool tds_all_headers(struct reader *r)
{
	struct reader p = *r;
	uint32_t total = rd_le32(&p);
	if (!rd_ok(&p) || total < 4 + 6 || total > 1024 || !rd_has(&p, total - 4))
		return false;
	uint32_t seen = 4;
	while (seen < total) {
		uint32_t hl = rd_le32(&p);
		uint16_t ht = rd_le16(&p);
		if (!rd_ok(&p) || hl < 6 || hl > total - seen || ht < 1 || ht > 3 ||
		    (ht == 2 && hl != 18))
			return false;
		rd_skip(&p, hl - 6);
		seen += hl;
	}
	*r = p;
	return true;
}

/* The body of a SQL batch (0x01) or RPC (0x03) request, as far as it was
 * captured: true when its structure shows TDS. */
static bool tds_request(struct reader *r, uint8_t type, size_t plen)
{
	struct reader b = *r;
	if (rd_remaining(&b) > plen)
		rd_limit(&b, plen);
	bool hdrs = tds_all_headers(&b);
	if (type == 0x01)
		return tds_utf16_ascii(&b, 32) || (hdrs && rd_remaining(&b) == 0);
	uint16_t nl = rd_le16(&b);
	if (!rd_ok(&b))
		return hdrs;
	if (nl == 0xffff) {
		uint16_t id = rd_le16(&b);
		return rd_ok(&b) ? hdrs && id >= 1 && id <= 15 : hdrs;
	}
	if (nl == 0 || nl > 128)
		return false;
	return tds_utf16_ascii(&b, nl) || (hdrs && rd_remaining(&b) == 0);
}

static const char *tds_name(uint8_t t)
{
	switch (t) {
	case 0x12: return "prelogin";
	case 0x10: return "login7";
	case 0x01: return "sql_batch";
	case 0x03: return "rpc";
	case 0x0e: return "transaction_manager";
	case 0x06: return "attention";
	default: return "other";
	}
}

static enum ident_verdict tds_match(const struct ident_input *in, struct ident_evidence *ev)
{
	struct reader c, s;
	rd_init(&c, in->data[0], in->len[0]);
	rd_init(&s, in->data[1], in->len[1]);
	struct tds_hdr ch, sh;
	enum tds_parse pc = tds_header(&c, &ch);
	if (pc == TDS_BAD)
		return IDENT_NO_MATCH;
	if (pc == TDS_SHORT) {
		/* the rest of the header may come even when the server spoke
		 * (NO_MATCH is final), unless the server's header is no
		 * tabular result */
		enum tds_parse ps = tds_header(&s, &sh);
		if (in->done[0] || ps == TDS_BAD || (ps == TDS_OK && sh.type != 0x04))
			return IDENT_NO_MATCH;
		return IDENT_NEED_MORE;
	}
	bool strong = false;
	switch (ch.type) {
	case 0x12: /* PRELOGIN: the option table */
		pc = tds_prelogin(&c, ch.len - 8u, in, 0);
		strong = true;
		break;
	case 0x10:
		pc = tds_login7(&c, ch.len - 8u);
		strong = true;
		break;
	case 0x01:
	case 0x03:
		strong = tds_request(&c, ch.type, ch.len - 8u);
		pc = TDS_OK;
		break;
	case 0x0e:
	case 0x06:
		pc = TDS_OK;
		break;
	default:
		return IDENT_NO_MATCH;
	}
	if (pc == TDS_BAD)
		return IDENT_NO_MATCH;
	if (pc == TDS_SHORT && in->done[0])
		return IDENT_NO_MATCH;
	/* the server's answer: a 0x04 packet, end of message unless split */
	enum tds_parse ps = tds_header(&s, &sh);
	if (ps == TDS_OK && (sh.type != 0x04 || sh.len > 32768))
		ps = TDS_BAD;
	if (ps == TDS_OK && ch.type == 0x12 && tds_prelogin(&s, sh.len - 8u, in, 1) == TDS_BAD)
		ps = TDS_BAD;
	if (ps == TDS_BAD)
		return IDENT_NO_MATCH;
	if (ps == TDS_SHORT) {
		if (!in->done[1] || pc == TDS_SHORT)
			return IDENT_NEED_MORE;
		/* a request whose body is still arriving may yet show its
		 * structure (NO_MATCH is final) */
		if (!strong && rd_remaining(&s) == 0 && !in->done[0] &&
		    (ch.type == 0x01 || ch.type == 0x03) && rd_remaining(&c) < ch.len - 8u)
			return IDENT_NEED_MORE;
		if (!strong || rd_remaining(&s) > 0)
			return IDENT_NO_MATCH;
		ev->confidence = 70;
	} else {
		if (pc == TDS_SHORT)
			return IDENT_NEED_MORE;
		ev->server_confirmed = true;
		ev->confidence = strong ? 100 : 80;
	}
	ident_add_str(ev, "tds_type", tds_name(ch.type));
	return IDENT_MATCH;
}

const struct ident_proto ident_tds = {"tds", "Microsoft SQL Server TDS ([MS-TDS])", IDENT_TCP, tds_match, NULL, NULL};
