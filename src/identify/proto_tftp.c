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
 * OACK.
 *
 * The transfer runs in a flow of its own between the two chosen ports
 * (transfer identifiers, RFC 1350 section 4), and is claimed when its
 * lock step shows in both directions:
 *
 *   sender    00 03 00 01 <512>   00 03 00 02 <512>   00 03 00 03 <n>
 *   receiver  00 04 00 01         00 04 00 02         00 04 00 03
 *
 * one side only DATA, the other only ACKs of exactly 4 bytes (a WRQ's
 * ACK 0 first), block numbers rising by one (or repeated: a
 * retransmission), every DATA but the last of one size (4 + blksize), the
 * ACKs naming blocks the DATA side sent, at least three datagrams and one
 * ACK naming a DATA block seen. Either side may open with an OACK (RFC
 * 2347) and close with an ERROR. An OACK alone (the server's answer to a
 * request with options, from its new port) is claimed when every option is
 * one the RFCs define (blksize, tsize, timeout, windowsize, multicast) with
 * a numeric value (multicast: "addr,port,mc").
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

/* An OACK's options: defined names, numeric values. */
static bool tftp_oack_opts(struct reader *m, uint32_t *blksize)
{
	static const char *const names[] = {"blksize", "tsize", "timeout", "windowsize", "multicast"};
	unsigned n = 0;
	*blksize = 0;
	while (rd_remaining(m) > 0) {
		const uint8_t *o, *v;
		size_t on, vn;
		if (!tftp_str(m, 16, &o, &on) || !tftp_str(m, 64, &v, &vn))
			return false;
		struct reader t;
		rd_init(&t, o, on);
		int k = -1;
		for (int i = 0; i < 5 && k < 0; i++) {
			size_t len = 0;
			while (names[i][len])
				len++;
			if (len == on && rd_starts_ci(&t, names[i]))
				k = i;
		}
		if (k < 0)
			return false;
		struct reader vr;
		rd_init(&vr, v, vn);
		uint32_t num = 0;
		for (size_t i = 0; i < vn; i++) {
			uint8_t c = rd_u8(&vr);
			bool digit = c >= '0' && c <= '9';
			if (!digit && !(k == 4 && (c == ',' || c == '.')))
				return false;
			if (digit && num < 1000000000u)
				num = num * 10 + (uint32_t)(c - '0');
		}
		if (k == 0)
			*blksize = num;
		n++;
	}
	return n > 0;
}

/* One direction of a transfer flow: OACK? then DATA only or ACK only, then
 * ERROR?; blocks rising by 0 or 1. */
struct tftp_side {
	unsigned ndata, nack;
	bool oack, bad;
	uint16_t first, last; /* blocks of the DATA or ACK datagrams */
	uint16_t full;        /* DATA: the length of all but the last */
	uint16_t lastlen;
	uint32_t blksize;     /* from an OACK */
};

static void tftp_side(const struct ident_input *in, int d, struct tftp_side *t)
{
	struct reader r;
	rd_init(&r, in->data[d], in->len[d]);
	*t = (struct tftp_side){0};
	for (unsigned k = 0; k < in->ndgrams[d]; k++) {
		uint16_t len = in->dgram_len[d][k];
		struct reader m = rd_sub(&r, len);
		if (!rd_ok(&r) || (t->bad = len < 4))
			return;
		struct reader h = m;
		uint16_t op = rd_be16(&h), blk = rd_be16(&h);
		if (op == 6 && k == 0) {
			rd_skip(&m, 2);
			if (!(t->oack = tftp_oack_opts(&m, &t->blksize)))
				t->bad = true;
			if (t->bad)
				return;
			continue;
		}
		if (op == 5 && k + 1 == in->ndgrams[d] && (t->ndata || t->nack || t->oack)) {
			if (tftp_pkt(&m, len, &blk) != 5)
				t->bad = true;
			return;
		}
		if ((op != 3 && op != 4) || (op == 3 && t->nack) || (op == 4 && t->ndata) ||
		    (op == 4 && len != 4)) {
			t->bad = true;
			return;
		}
		if (t->ndata + t->nack > 0) {
			if (blk != t->last && blk != (uint16_t)(t->last + 1)) {
				t->bad = true;
				return;
			}
			if (op == 3 && blk != t->last) {
				/* a new block: the previous one was full size */
				if (t->full && t->lastlen != t->full) {
					t->bad = true;
					return;
				}
				t->full = t->lastlen;
			}
		} else {
			t->first = blk;
		}
		if (op == 3 && t->full && len > t->full) {
			t->bad = true;
			return;
		}
		t->last = blk;
		t->lastlen = len;
		if (op == 3)
			t->ndata++;
		else
			t->nack++;
	}
}

static enum ident_verdict tftp_transfer(const struct ident_input *in, struct ident_evidence *ev)
{
	struct tftp_side a, b;
	tftp_side(in, 0, &a);
	tftp_side(in, 1, &b);
	if (a.bad || b.bad)
		return IDENT_NO_MATCH;
	bool over = in->done[0] && in->done[1];
	const struct tftp_side *dat = a.ndata ? &a : &b, *ack = a.ndata ? &b : &a;
	if (a.ndata && b.ndata)
		return IDENT_NO_MATCH;
	if (dat->ndata && ack->nack) {
		/* the ACKs name blocks the DATA side sent (or 0, before the
		 * first of a WRQ or after an OACK) and one names a block seen */
		uint16_t lo = dat->first, hi = dat->last;
		bool in_range = ack->first >= (uint16_t)(lo - 1) && ack->last <= hi && lo <= hi;
		bool zero_ok = ack->first != (uint16_t)(lo - 1) || lo == 1 || dat->oack || ack->oack;
		bool hit = ack->last >= lo;
		/* an ACK past the last DATA seen: the DATA side's next
		 * datagrams may bring that block (NO_MATCH is final) */
		if (!in_range && zero_ok && ack->first >= (uint16_t)(lo - 1) && lo <= hi &&
		    !in->done[dat == &a ? 0 : 1])
			return IDENT_NEED_MORE;
		if (!in_range || !zero_ok)
			return IDENT_NO_MATCH;
		if (hit && dat->ndata + ack->nack + (a.oack || b.oack) >= 3) {
			ident_add_str(ev, "tftp_transfer", "data");
			uint32_t bs = a.oack ? a.blksize : b.oack ? b.blksize : 0;
			if (!bs && dat->full >= 4)
				bs = dat->full - 4u;
			if (bs)
				ident_add_u64(ev, "tftp_blksize", bs);
			ev->server_confirmed = true;
			ev->confidence = 90;
			return IDENT_MATCH;
		}
		return over ? IDENT_NO_MATCH : IDENT_NEED_MORE;
	}
	/* an OACK alone, nothing (yet) answered */
	const struct tftp_side *o = a.oack ? &a : b.oack ? &b : NULL;
	if (o && !o->ndata && !o->nack && in->ndgrams[o == &a ? 1 : 0] == 0) {
		if (!over)
			return IDENT_NEED_MORE;
		ident_add_str(ev, "tftp_transfer", "oack");
		if (o->blksize)
			ident_add_u64(ev, "tftp_blksize", o->blksize);
		ev->confidence = 75;
		return IDENT_MATCH;
	}
	if (!over && (a.ndata || a.nack || a.oack || b.ndata || b.nack || b.oack))
		return IDENT_NEED_MORE;
	/* no datagram yet on either side: either may still open a transfer
	 * (NO_MATCH is final) */
	if (!over && in->ndgrams[0] == 0 && in->ndgrams[1] == 0)
		return IDENT_NEED_MORE;
	return IDENT_NO_MATCH;
}

/* tftp_match past its cheap NO_MATCH tests. Out of line: the tests run
 * without this function's frame. */
__attribute__((noinline)) static enum ident_verdict
tftp_match_parse(const struct ident_input *in, struct ident_evidence *ev)
{
	if (in->ndgrams[0] == 0) {
		enum ident_verdict v = tftp_transfer(in, ev);
		/* the server spoke first: while the client may still send a
		 * request, a valid reply keeps TFTP open (NO_MATCH is final) */
		if (v == IDENT_NO_MATCH && !in->done[0] && in->ndgrams[1] > 0) {
			struct reader s, a;
			uint16_t blk;
			rd_init(&s, in->data[1], in->len[1]);
			a = rd_sub(&s, in->dgram_len[1][0]);
			if (rd_ok(&s) && tftp_pkt(&a, in->dgram_len[1][0], &blk) != 0)
				return IDENT_NEED_MORE;
		}
		return v;
	}
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
	/* Not a request: the transfer flow. (Ports: udp/any in ports.conf,
	 * the transfer identifiers are chosen at random.) */
	return tftp_transfer(in, ev);
}

static enum ident_verdict tftp_match(const struct ident_input *in, struct ident_evidence *ev)
{
	if (in->transport != IDENT_UDP)
		return IDENT_NO_MATCH;
	/* The usual NO_MATCH of tftp_match_parse from the opcode, before any
	 * parse: a client's first datagram shorter than 4 bytes or with no
	 * opcode of a request or a transfer (1-4, 6) is neither (tftp_side:
	 * bad); with no client datagram, a server's that is no reply either
	 * (5). */
	{
		int d = in->ndgrams[0] ? 0 : 1;
		struct reader r, m;
		uint8_t o0, o1;
		if (in->ndgrams[d]) {
			rd_init(&r, in->data[d], in->len[d]);
			m = rd_sub(&r, in->dgram_len[d][0]);
			if (rd_ok(&r) && in->dgram_len[d][0] < 4)
				return IDENT_NO_MATCH;
			if (rd_ok(&r) && rd_peek_u8(&m, 0, &o0) && rd_peek_u8(&m, 1, &o1)) {
				unsigned op = (unsigned)o0 << 8 | o1;
				bool known = d == 0 ? (op >= 1 && op <= 4) || op == 6
				                    : op >= 3 && op <= 6;
				if (!known)
					return IDENT_NO_MATCH;
			}
		}
	}
	return tftp_match_parse(in, ev);
}

/* The first bytes (identify.h, first_byte), of direction d.
 * The client's: tftp_match: the client's first datagram (whole:
 * ident_first_byte) is shorter than 4 bytes or opens with an opcode 1-4
 * or 6, whose high byte is 0.
 * The server's: none declared. */
static bool tftp_first_byte(int d, uint8_t transport, uint8_t b)
{
	if (d != 0)
		return true;
	(void)transport;
	return b == 0;
}

const struct ident_proto ident_tftp = {"tftp", "TFTP (RFC 1350, RFC 2347)", IDENT_UDP, tftp_match, NULL, tftp_first_byte};
