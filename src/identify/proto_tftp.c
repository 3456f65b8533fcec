/*
 * proto_tftp.c - TFTP (RFC 1350; options RFC 2347-2349, 7440).
 *
 *   RRQ/WRQ   | 00 01 / 00 02 | filename | 00 | mode | 00 | [opt 00 val 00]...
 *             mode: netascii, octet or mail (any case); filename printable
 *   DATA      | 00 03 | block(16) | 0..blksize bytes
 *   ACK       | 00 04 | block(16)
 *   ERROR     | 00 05 | code 0-8 | message | 00
 *   OACK      | 00 06 | opt 00 val 00 ...
 *
 * The server answers a request from a new port, so the request's flow
 * usually has no reply: a request that parses completely (filename, a
 * defined mode, options in pairs, nothing after) is TFTP on its own once
 * the flow is over; a reply in the same flow must be DATA, ACK, ERROR or
 * OACK. The transfer flow (DATA one way, ACK the other, between ephemeral
 * ports) is not claimed: see the end of tftp_match.
 */
#include "common/reader.h"
#include "identify/identify.h"

/* A NUL-terminated printable string of 1..max bytes; s and n point at it. */
static bool tftp_str(struct reader *m, size_t max, const uint8_t **s, size_t *n)
{
	size_t i = 0;
	uint8_t c;
	while (rd_peek_u8(m, i, &c) && c != 0) {
		if (c < 0x20 || c > 0x7e || ++i > max)
			return false;
	}
	if (i == 0 || !rd_peek_u8(m, i, &c))
		return false;
	*s = rd_bytes(m, i);
	*n = i;
	rd_skip(m, 1);
	return true;
}

static bool tftp_req(struct reader *m, const uint8_t **file, size_t *fn, const uint8_t **mode,
                     size_t *mn)
{
	uint16_t op = rd_be16(m);
	if (!rd_ok(m) || (op != 1 && op != 2))
		return false;
	if (!tftp_str(m, 255, file, fn) || !tftp_str(m, 8, mode, mn))
		return false;
	struct reader t;
	rd_init(&t, *mode, *mn);
	if (!((*mn == 8 && rd_starts_ci(&t, "netascii")) || (*mn == 5 && rd_starts_ci(&t, "octet")) ||
	      (*mn == 4 && rd_starts_ci(&t, "mail"))))
		return false;
	while (rd_remaining(m) > 0) {
		const uint8_t *o, *v;
		size_t on, vn;
		if (!tftp_str(m, 64, &o, &on) || !tftp_str(m, 64, &v, &vn))
			return false;
	}
	return true;
}

/* A reply or transfer datagram: DATA, ACK, ERROR, OACK. *blk gets the
 * block of DATA/ACK; returns the opcode or 0. */
static uint16_t tftp_pkt(struct reader *m, size_t len, uint16_t *blk)
{
	uint16_t op = rd_be16(m);
	*blk = 0;
	if (!rd_ok(m))
		return 0;
	if (op == 3) {
		*blk = rd_be16(m);
		return rd_ok(m) && len <= 4 + 65464 ? op : 0;
	}
	if (op == 4) {
		*blk = rd_be16(m);
		return rd_ok(m) && len == 4 ? op : 0;
	}
	const uint8_t *s;
	size_t n;
	if (op == 5) {
		uint16_t code = rd_be16(m);
		if (!rd_ok(m) || code > 8)
			return 0;
		uint8_t c;
		if (rd_peek_u8(m, 0, &c) && c == 0 && rd_remaining(m) == 1)
			return op;
		return tftp_str(m, 512, &s, &n) && rd_remaining(m) == 0 ? op : 0;
	}
	if (op == 6) {
		if (rd_remaining(m) == 0)
			return 0;
		while (rd_remaining(m) > 0)
			if (!tftp_str(m, 64, &s, &n) || !tftp_str(m, 64, &s, &n))
				return 0;
		return op;
	}
	return 0;
}

static enum ident_verdict tftp_match(const struct ident_input *in, struct ident_evidence *ev)
{
	if (in->transport != IDENT_UDP)
		return IDENT_NO_MATCH;
	if (in->ndgrams[0] == 0)
		return in->done[0] && in->done[1] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
	struct reader r, s;
	rd_init(&r, in->data[0], in->len[0]);
	rd_init(&s, in->data[1], in->len[1]);
	struct reader m = rd_sub(&r, in->dgram_len[0][0]);
	const uint8_t *file, *mode;
	size_t fn, mn;
	struct reader q = m;
	if (tftp_req(&q, &file, &fn, &mode, &mn)) {
		uint16_t blk;
		bool confirmed = false;
		if (in->ndgrams[1] > 0) {
			struct reader a = rd_sub(&s, in->dgram_len[1][0]);
			uint16_t op = tftp_pkt(&a, in->dgram_len[1][0], &blk);
			if (op == 0)
				return IDENT_NO_MATCH;
			confirmed = true;
		} else if (!in->done[1]) {
			return IDENT_NEED_MORE;
		}
		ident_add(ev, "tftp_file", file, fn);
		ident_add(ev, "tftp_mode", mode, mn);
		ev->server_confirmed = confirmed;
		ev->confidence = confirmed ? 95 : 80;
		return IDENT_MATCH;
	}
	/* Not a request. The transfer itself (DATA/ACK between two ephemeral
	 * ports) is deliberately not claimed: it never runs on port 69, so
	 * naming it would turn every legitimate transfer into an off-port
	 * finding, and its 4-byte headers say too little to tell it from a
	 * custom protocol. */
	return IDENT_NO_MATCH;
}

const struct ident_proto ident_tftp = {"tftp", "TFTP (RFC 1350, RFC 2347)", IDENT_UDP, tftp_match, NULL};
