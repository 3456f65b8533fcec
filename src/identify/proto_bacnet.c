/*
 * proto_bacnet.c - BACnet/IP (ANSI/ASHRAE 135, Annex J: BACnet Virtual Link
 * Control; clause 6: the network layer PDU).
 *
 * One UDP datagram:
 *
 *   +------+----------+------------------+
 *   | 0x81 | function | length (be16)    |  length = the whole datagram
 *   +------+----------+------------------+
 *   | [Forwarded-NPDU 0x04: originator B/IP address, 6 bytes]       |
 *   | NPDU: version 0x01 | control (bits 6 and 4 reserved, zero) |
 *   |   [DNET(2) DLEN(1) DADR(DLEN)] [SNET(2) SLEN(1) SADR(SLEN)]   |
 *   |   [hop count if DNET] [message type if network message]        |
 *   |   APDU: type nibble 0..7                                       |
 *   +---------------------------------------------------------------+
 *   or BVLC-Result (0x00): length 6, a result code 0x0000..0x0060.
 *
 * Why this strict: the BVLC type byte and the length equal to the
 * datagram, then the NPDU version and its address fields adding up, leave
 * little to chance.
 */
#include "common/reader.h"
#include "identify/identify.h"
#include "identify/text_proto.h"

static const char *bacnet_fn_name(uint8_t f)
{
	switch (f) {
	case 0x00: return "BVLC-Result";
	case 0x04: return "Forwarded-NPDU";
	case 0x09: return "Distribute-Broadcast-To-Network";
	case 0x0a: return "Original-Unicast-NPDU";
	case 0x0b: return "Original-Broadcast-NPDU";
	case 0x0c: return "Secure-BVLL";
	default: return NULL;
	}
}

/* One datagram; *fn gets the BVLC function. */
static bool bacnet_dgram(const uint8_t *p, size_t len, uint8_t *fn)
{
	struct reader r;
	rd_init(&r, p, len);
	uint8_t type = rd_u8(&r), f = rd_u8(&r);
	uint16_t blen = rd_be16(&r);
	if (!rd_ok(&r) || type != 0x81 || blen != len)
		return false;
	*fn = f;
	if (f == 0x00) {
		uint16_t res = rd_be16(&r);
		return rd_ok(&r) && blen == 6 && res <= 0x60 && (res & 0x0f) == 0;
	}
	if (f == 0x04)
		rd_skip(&r, 6);
	else if (f != 0x09 && f != 0x0a && f != 0x0b)
		return false;
	uint8_t ver = rd_u8(&r), ctl = rd_u8(&r);
	if (!rd_ok(&r) || ver != 0x01 || (ctl & 0x50))
		return false;
	if (ctl & 0x20) { /* destination specifier */
		rd_skip(&r, 2);
		rd_skip(&r, rd_u8(&r));
	}
	if (ctl & 0x08) { /* source specifier: SLEN 0 is invalid */
		rd_skip(&r, 2);
		uint8_t sl = rd_u8(&r);
		if (sl == 0)
			return false;
		rd_skip(&r, sl);
	}
	if (ctl & 0x20)
		rd_skip(&r, 1); /* hop count */
	if (ctl & 0x80) {
		uint8_t mt = rd_u8(&r);
		return rd_ok(&r) && (mt <= 0x13 || mt >= 0x80);
	}
	uint8_t apdu = rd_u8(&r);
	return rd_ok(&r) && (apdu >> 4) <= 7;
}

/* bacnet_match past its cheap NO_MATCH test. Out of line: the test runs
 * without this function's frame. */
__attribute__((noinline)) static enum ident_verdict
bacnet_match_parse(const struct ident_input *in, struct ident_evidence *ev)
{
	uint8_t fc = 0, fs = 0;
	bool c = false, s = false;
	if (in->ndgrams[0]) {
		if (!bacnet_dgram(in->data[0], dgram_first_len(in, 0), &fc))
			return IDENT_NO_MATCH;
		c = true;
	}
	if (in->ndgrams[1]) {
		if (!bacnet_dgram(in->data[1], dgram_first_len(in, 1), &fs))
			return IDENT_NO_MATCH;
		s = true;
	}
	if (!c) {
		if (!in->done[0] || !s)
			return in->done[0] && in->done[1] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
	} else if (!s && !in->done[1]) {
		return IDENT_NEED_MORE;
	}
	const char *nm = bacnet_fn_name(c ? fc : fs);
	if (nm)
		ident_add_str(ev, "bacnet_function", nm);
	ev->server_confirmed = c && s;
	ev->confidence = c && s ? 95 : 70;
	return IDENT_MATCH;
}

static enum ident_verdict bacnet_match(const struct ident_input *in, struct ident_evidence *ev)
{
	/* The usual NO_MATCH of bacnet_match_parse (either side's first
	 * datagram not BACnet/IP) from its first byte: the BVLC type 0x81. */
	for (int d = 0; d < 2; d++) {
		struct reader r;
		uint8_t type;
		if (!in->ndgrams[d])
			continue;
		rd_init(&r, in->data[d], dgram_first_len(in, d));
		if (!rd_peek_u8(&r, 0, &type) || type != 0x81)
			return IDENT_NO_MATCH;
	}
	return bacnet_match_parse(in, ev);
}

/* The first bytes (identify.h, first_byte), of direction d.
 * The client's: bacnet_match: the BVLC type 0x81.
 * The server's: the same (bacnet_match checks both sides' first
 * datagrams alike). */
static bool bacnet_first_byte(int d, uint8_t transport, uint8_t b)
{
	(void)d;
	(void)transport;
	return b == 0x81;
}

const struct ident_proto ident_bacnet = {"bacnet", "BACnet/IP (ASHRAE 135 Annex J)", IDENT_UDP,
                                         bacnet_match, NULL, bacnet_first_byte};
