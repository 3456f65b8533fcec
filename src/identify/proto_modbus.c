/*
 * proto_modbus.c - Modbus/TCP (Modbus Messaging on TCP/IP Implementation
 * Guide V1.0b; Modbus Application Protocol Specification V1.1b3).
 *
 * Every message is an MBAP header and a PDU:
 *
 *   +--------+--------+--------+--------+--------+-- - -+
 *   | transaction id  | protocol id = 0 | length = n      |  n = unit + PDU
 *   +--------+--------+--------+--------+--------+-- - -+     2..254
 *   | unit id| function code | data (n - 2 bytes)         |
 *   +--------+---------------+----------------------------+
 *
 * A request's function code is a public one (1-8, 11, 12, 15-17, 20-24, 43)
 * or Schneider's UMAS (90); a response echoes the transaction id and the
 * function code, or sets its top bit (exception) followed by one exception
 * code 1..11. Requests 1-6 have a fixed 4-byte body (n = 6). Why this strict:
 * the only magic is a 2-byte zero, so the lengths must add up message after
 * message, and the server must echo a client's transaction id.
 */
#include "common/reader.h"
#include "identify/identify.h"

#define MB_CHECK_MAX 4

struct mb_msg {
	uint16_t tid;
	uint8_t fc;
};

enum mb_parse { MB_BAD, MB_SHORT, MB_OK };

static bool mb_fc_ok(uint8_t fc)
{
	return (fc >= 1 && fc <= 8) || fc == 11 || fc == 12 || (fc >= 15 && fc <= 17) ||
	       (fc >= 20 && fc <= 24) || fc == 43 || fc == 90;
}

/* Parses up to MB_CHECK_MAX messages of one direction; *n counts the whole
 * ones. MB_SHORT when not even the first is whole. */
static enum mb_parse mb_dir(const uint8_t *p, uint32_t len, bool response, struct mb_msg *m,
                            unsigned *n)
{
	struct reader r;
	rd_init(&r, p, len);
	*n = 0;
	while (*n < MB_CHECK_MAX && rd_remaining(&r) > 0) {
		if (!rd_has(&r, 8))
			return *n ? MB_OK : MB_SHORT;
		uint16_t tid = rd_be16(&r), pid = rd_be16(&r), mlen = rd_be16(&r);
		(void)rd_u8(&r); /* unit id: any (0xff / 0 on TCP, a slave id behind a gateway) */
		uint8_t fc = rd_u8(&r);
		if (pid != 0 || mlen < 2 || mlen > 254)
			return MB_BAD;
		uint8_t base = response ? (uint8_t)(fc & 0x7f) : fc;
		if (!mb_fc_ok(base) || (!response && (fc & 0x80)))
			return MB_BAD;
		if (!response && fc >= 1 && fc <= 6 && mlen != 6)
			return MB_BAD;
		if (response && (fc & 0x80) && mlen != 3)
			return MB_BAD;
		if (!rd_has(&r, (size_t)mlen - 2))
			return *n ? MB_OK : MB_SHORT;
		if (response && (fc & 0x80)) {
			uint8_t code = rd_u8(&r);
			if (code < 1 || code > 11)
				return MB_BAD;
		} else {
			rd_skip(&r, (size_t)mlen - 2);
		}
		m[*n].tid = tid;
		m[*n].fc = fc;
		(*n)++;
	}
	return *n ? MB_OK : MB_SHORT;
}

static const char *mb_fc_name(uint8_t fc)
{
	switch (fc) {
	case 1: return "read_coils";
	case 2: return "read_discrete_inputs";
	case 3: return "read_holding_registers";
	case 4: return "read_input_registers";
	case 5: return "write_single_coil";
	case 6: return "write_single_register";
	case 8: return "diagnostics";
	case 15: return "write_multiple_coils";
	case 16: return "write_multiple_registers";
	case 23: return "read_write_multiple_registers";
	case 43: return "read_device_identification";
	case 90: return "umas";
	default: return NULL;
	}
}

static void mb_evidence(struct ident_evidence *ev, uint8_t fc)
{
	const char *nm = mb_fc_name(fc & 0x7f);
	if (nm)
		ident_add_str(ev, "modbus_function", nm);
	else
		ident_add_u64(ev, "modbus_function", fc & 0x7f);
}

static enum ident_verdict modbus_match(const struct ident_input *in, struct ident_evidence *ev)
{
	struct mb_msg c[MB_CHECK_MAX], s[MB_CHECK_MAX];
	unsigned nc = 0, ns = 0;
	enum mb_parse pc = mb_dir(in->data[0], in->len[0], false, c, &nc);
	if (pc == MB_BAD)
		return IDENT_NO_MATCH;
	if (pc == MB_SHORT)
		return in->done[0] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
	if (in->len[1] == 0) {
		/* A request waits for its response. */
		if (!in->done[1])
			return IDENT_NEED_MORE;
		mb_evidence(ev, c[0].fc);
		ev->confidence = nc > 1 ? 70 : 60;
		return IDENT_MATCH;
	}
	enum mb_parse ps = mb_dir(in->data[1], in->len[1], true, s, &ns);
	if (ps == MB_BAD)
		return IDENT_NO_MATCH;
	if (ps == MB_SHORT)
		return in->done[1] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
	/* The first response answers one of the requests: same transaction
	 * id, same function (or its exception). */
	for (unsigned i = 0; i < nc; i++) {
		if (c[i].tid == s[0].tid && c[i].fc == (s[0].fc & 0x7f)) {
			mb_evidence(ev, c[0].fc);
			ev->server_confirmed = true;
			ev->confidence = 95;
			return IDENT_MATCH;
		}
	}
	return IDENT_NO_MATCH;
}

const struct ident_proto ident_modbus = {"modbus", "Modbus/TCP (Modbus Messaging on TCP/IP V1.0b)",
                                         IDENT_TCP, modbus_match, NULL, NULL};
