/*
 * proto_dnp3.c - DNP3 (IEEE 1815-2012), over TCP or UDP (IEEE 1815 annex:
 * the link layer frames are carried unchanged).
 *
 * Link layer frame:
 *
 *   +------+------+-----+-------+-------------+-------------+-----------+
 *   | 0x05 | 0x64 | LEN | CTRL  | DEST (le16) | SRC (le16)  | CRC (le16)|
 *   +------+------+-----+-------+-------------+-------------+-----------+
 *   then LEN - 5 user bytes in blocks of 16, each followed by its CRC.
 *   LEN >= 5. User data byte 0 is the transport header, byte 1 the
 *   application control, byte 2 the application function code.
 *
 * Why this strict: the two start bytes are little; the header CRC (CRC-16
 * DNP, polynomial 0x3D65 reflected, complemented) makes a random match one
 * in 2^32. Both sides, when present: one is the master (DIR set), the other
 * the outstation, and one side's source is the other's destination.
 */
#include "common/reader.h"
#include "identify/identify.h"
#include "identify/text_proto.h"

/* CRC-16 DNP over the next n bytes of r (consumed). */
static uint16_t dnp3_crc(struct reader *r, size_t n)
{
	uint16_t crc = 0;
	for (size_t i = 0; i < n; i++) {
		crc ^= rd_u8(r);
		for (int b = 0; b < 8; b++)
			crc = (crc & 1) ? (uint16_t)((crc >> 1) ^ 0xA6BC) : (uint16_t)(crc >> 1);
	}
	return (uint16_t)~crc;
}

struct dnp3_frame {
	uint16_t dst, src;
	bool dir; /* DIR bit: set in frames from the master */
	int func; /* application function code, -1 when the frame has none */
};

enum dnp3_parse { DNP3_BAD, DNP3_SHORT, DNP3_OK };

static enum dnp3_parse dnp3_frame(const uint8_t *p, uint32_t len, struct dnp3_frame *f)
{
	struct reader r;
	rd_init(&r, p, len);
	struct reader h = rd_sub(&r, 10);
	if (!rd_ok(&h)) {
		/* The start bytes decide early. */
		uint8_t a, b;
		if ((rd_peek_u8(&r, 0, &a) && a != 0x05) || (rd_peek_u8(&r, 1, &b) && b != 0x64))
			return DNP3_BAD;
		return DNP3_SHORT;
	}
	struct reader hc = h;
	uint8_t s0 = rd_u8(&h), s1 = rd_u8(&h), hlen = rd_u8(&h), ctrl = rd_u8(&h);
	if (s0 != 0x05 || s1 != 0x64 || hlen < 5)
		return DNP3_BAD;
	f->dst = rd_le16(&h);
	f->src = rd_le16(&h);
	if (dnp3_crc(&hc, 8) != rd_le16(&h))
		return DNP3_BAD;
	f->dir = ctrl & 0x80;
	f->func = -1;
	size_t user = (size_t)hlen - 5;
	if (user >= 3) {
		size_t blk = user < 16 ? user : 16;
		struct reader b = rd_sub(&r, blk + 2);
		if (!rd_ok(&b))
			return DNP3_OK; /* the header is proof enough; the function is unknown */
		uint8_t fc = 0;
		rd_peek_u8(&b, 2, &fc);
		if (dnp3_crc(&b, blk) != rd_le16(&b))
			return DNP3_BAD;
		f->func = fc;
	}
	return DNP3_OK;
}

static const char *dnp3_func_name(int fc)
{
	switch (fc) {
	case 0: return "confirm";
	case 1: return "read";
	case 2: return "write";
	case 3: return "select";
	case 4: return "operate";
	case 5: return "direct_operate";
	case 13: return "cold_restart";
	case 14: return "warm_restart";
	case 20: return "enable_unsolicited";
	case 21: return "disable_unsolicited";
	case 129: return "response";
	case 130: return "unsolicited_response";
	default: return NULL;
	}
}

static void dnp3_evidence(struct ident_evidence *ev, const struct dnp3_frame *f)
{
	if (f->func < 0)
		return;
	const char *nm = dnp3_func_name(f->func);
	if (nm)
		ident_add_str(ev, "dnp3_function", nm);
	else
		ident_add_u64(ev, "dnp3_function", (uint64_t)f->func);
}

/* dnp3_match past its cheap NO_MATCH tests. Out of line: the tests run
 * without this function's frame. */
__attribute__((noinline)) static enum ident_verdict
dnp3_match_parse(const struct ident_input *in, struct ident_evidence *ev)
{
	struct dnp3_frame c = {0}, s = {0};
	uint32_t l0 = in->len[0], l1 = in->len[1];
	if (in->transport == IDENT_UDP) {
		l0 = in->ndgrams[0] ? dgram_first_len(in, 0) : 0;
		l1 = in->ndgrams[1] ? dgram_first_len(in, 1) : 0;
	}
	enum dnp3_parse pc = l0 ? dnp3_frame(in->data[0], l0, &c) : DNP3_SHORT;
	enum dnp3_parse ps = l1 ? dnp3_frame(in->data[1], l1, &s) : DNP3_SHORT;
	if (pc == DNP3_BAD || ps == DNP3_BAD)
		return IDENT_NO_MATCH;
	if (pc == DNP3_OK && ps == DNP3_OK) {
		/* The answer comes from the station the other side addressed,
		 * and from the other end of the master/outstation pair. (Its
		 * destination may be another master of the outstation's.) */
		if (s.dir == c.dir || (s.src != c.dst && c.src != s.dst))
			return IDENT_NO_MATCH;
		dnp3_evidence(ev, c.func >= 0 ? &c : &s);
		ev->server_confirmed = true;
		ev->confidence = 95;
		return IDENT_MATCH;
	}
	if (pc == DNP3_OK) {
		if (!in->done[1])
			return IDENT_NEED_MORE;
		dnp3_evidence(ev, &c);
		ev->confidence = 75; /* the CRC makes even one side convincing */
		return IDENT_MATCH;
	}
	if (ps == DNP3_OK && l0 == 0) {
		/* An outstation's unsolicited frame before the master spoke. */
		if (!in->done[0])
			return IDENT_NEED_MORE;
		dnp3_evidence(ev, &s);
		ev->confidence = 70;
		return IDENT_MATCH;
	}
	if (!in->done[0] || (ps == DNP3_SHORT && !in->done[1]))
		return IDENT_NEED_MORE;
	return IDENT_NO_MATCH;
}

static enum ident_verdict dnp3_match(const struct ident_input *in, struct ident_evidence *ev)
{
	uint32_t l0 = in->len[0], l1 = in->len[1];
	if (in->transport == IDENT_UDP) {
		l0 = in->ndgrams[0] ? dgram_first_len(in, 0) : 0;
		l1 = in->ndgrams[1] ? dgram_first_len(in, 1) : 0;
	}
	/* The usual NO_MATCH of dnp3_match_parse (either side DNP3_BAD) from
	 * the start bytes, before the header and its CRC are read. */
	for (int d = 0; d < 2; d++) {
		struct reader r;
		uint8_t a, b;
		rd_init(&r, in->data[d], d ? l1 : l0);
		if ((rd_peek_u8(&r, 0, &a) && a != 0x05) || (rd_peek_u8(&r, 1, &b) && b != 0x64))
			return IDENT_NO_MATCH;
	}
	return dnp3_match_parse(in, ev);
}

/* The first bytes (identify.h, first_byte), of direction d.
 * The client's: dnp3_match: the client's bytes (UDP: first datagram)
 * start 05 64, over either transport.
 * The server's: the same (dnp3_match checks both sides' first bytes
 * alike). */
static bool dnp3_first_byte(int d, uint8_t transport, uint8_t b)
{
	(void)d;
	(void)transport;
	return b == 0x05;
}

const struct ident_proto ident_dnp3 = {"dnp3", "DNP3 (IEEE 1815-2012)", IDENT_TCP | IDENT_UDP,
                                       dnp3_match, NULL, dnp3_first_byte};
