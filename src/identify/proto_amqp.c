/*
 * proto_amqp.c - AMQP 0-9-1 (AMQP 0-9-1 specification, 4.2 "Protocol
 * Header" and "General Frame Format") and AMQP 1.0 (OASIS AMQP 1.0,
 * 2.2 "Version Negotiation").
 *
 * The client opens with an 8-byte protocol header:
 *
 *   "AMQP" 00 00 09 01     0-9-1
 *   "AMQP" 01 01 00 09     0-9 (old), "AMQP" 01 01 08 00  0-8
 *   "AMQP" 00 01 00 00     1.0;  03 01 00 00  1.0 SASL;  02 01 00 00  1.0 TLS
 *
 * The server answers 0-9-1 with a method frame connection.start, or with
 * its own protocol header when it wants another version; 1.0 servers echo
 * a header. A 0-9-1 frame:
 *
 *   type(1: 1 method, 2 header, 3 body, 8 heartbeat)  channel(2)  size(4)
 *   payload(size)  frame-end 0xce
 *   method payload: class-id(2)  method-id(2)  (connection.start: 10 10,
 *   then version-major 0, version-minor 9)
 *
 * A capture that began after the header (no SYN) starts on a frame: a
 * method frame whose frame-end byte is where its size says, of a known
 * class, followed by another well-formed frame or the stream's end.
 */
#include "common/reader.h"
#include "identify/identify.h"

#define AMQP_FRAME_MAX (1u << 20)

enum amqp_parse { AMQP_BAD, AMQP_SHORT, AMQP_OK };

/* The protocol header; the version into ver (e.g. "0-9-1"). */
static enum amqp_parse amqp_header(struct reader *r, const char **ver)
{
	uint8_t b[8];
	static const char magic[] = "AMQP";
	for (size_t i = 0; i < 8; i++) {
		if (!rd_peek_u8(r, i, &b[i]))
			return AMQP_SHORT;
		if (i < 4 && b[i] != (uint8_t)magic[i])
			return AMQP_BAD;
	}
	rd_skip(r, 8);
	if (b[4] == 0 && b[5] == 0 && b[6] == 9 && b[7] == 1)
		*ver = "0-9-1";
	else if (b[4] == 1 && b[5] == 1 && b[6] == 0 && b[7] == 9)
		*ver = "0-9";
	else if (b[4] == 1 && b[5] == 1 && b[6] == 8 && b[7] == 0)
		*ver = "0-8";
	else if (b[4] == 0 && b[5] == 1 && b[6] == 0 && b[7] == 0)
		*ver = "1.0";
	else if (b[4] == 3 && b[5] == 1 && b[6] == 0 && b[7] == 0)
		*ver = "1.0-sasl";
	else if (b[4] == 2 && b[5] == 1 && b[6] == 0 && b[7] == 0)
		*ver = "1.0-tls";
	else
		return AMQP_BAD;
	return AMQP_OK;
}

/* One 0-9-1 frame; the class and method ids of a method frame. */
static enum amqp_parse amqp_frame(struct reader *r, uint8_t *type, uint16_t *cls, uint16_t *meth)
{
	uint8_t t0;
	/* the type tells before the rest of the header is here (the client
	 * check above judges the server's first byte the same way) */
	if (rd_peek_u8(r, 0, &t0) && t0 != 1 && t0 != 2 && t0 != 3 && t0 != 8)
		return AMQP_BAD;
	if (!rd_has(r, 7))
		return AMQP_SHORT;
	*type = rd_u8(r);
	uint16_t ch = rd_be16(r);
	uint32_t size = rd_be32(r);
	if ((*type != 1 && *type != 2 && *type != 3 && *type != 8) || size > AMQP_FRAME_MAX)
		return AMQP_BAD;
	if (*type == 8 && (size != 0 || ch != 0))
		return AMQP_BAD;
	if ((*type == 1 && size < 4) || (*type == 2 && size < 14))
		return AMQP_BAD;
	if (!rd_has(r, (size_t)size + 1))
		return AMQP_SHORT;
	struct reader p = rd_sub(r, size);
	if (*type == 1) {
		*cls = rd_be16(&p);
		*meth = rd_be16(&p);
		/* classes: connection 10, channel 20, exchange 40, queue 50,
		 * basic 60, confirm 85, tx 90 */
		if (*cls != 10 && *cls != 20 && *cls != 40 && *cls != 50 && *cls != 60 &&
		    *cls != 85 && *cls != 90)
			return AMQP_BAD;
		if (*meth == 0 || *meth > 120)
			return AMQP_BAD;
	}
	return rd_u8(r) == 0xce ? AMQP_OK : AMQP_BAD;
}

/* A side that starts on frames (mid-stream): two frames, or one that ends
 * the side's bytes when the side is done. */
static enum amqp_parse amqp_frames(const struct ident_input *in, int d)
{
	struct reader r;
	rd_init(&r, in->data[d], in->len[d]);
	uint8_t t;
	uint16_t cls = 0, meth = 0;
	enum amqp_parse p = amqp_frame(&r, &t, &cls, &meth);
	if (p != AMQP_OK)
		return p == AMQP_SHORT && in->done[d] ? AMQP_BAD : p;
	if (t != 1)
		return AMQP_BAD; /* a message starts with a method frame */
	if (rd_remaining(&r) == 0)
		return in->done[d] ? AMQP_OK : AMQP_SHORT;
	p = amqp_frame(&r, &t, &cls, &meth);
	return p == AMQP_SHORT && in->done[d] ? AMQP_BAD : p;
}

static enum ident_verdict amqp_match(const struct ident_input *in, struct ident_evidence *ev)
{
	struct reader c, s;
	rd_init(&c, in->data[0], in->len[0]);
	rd_init(&s, in->data[1], in->len[1]);
	const char *ver = NULL;
	enum amqp_parse pc = amqp_header(&c, &ver);
	if (pc == AMQP_SHORT && !in->done[0]) {
		/* the client may still send (the rest of) its header, which
		 * the server's bytes may answer with a header or frames
		 * (NO_MATCH is final): only a server starting otherwise rules
		 * AMQP out */
		uint8_t b0;
		struct reader t = s;
		const char *sver;
		if (!rd_peek_u8(&s, 0, &b0) || b0 == 1 || b0 == 2 || b0 == 3 || b0 == 8 ||
		    (b0 == 'A' && amqp_header(&t, &sver) != AMQP_BAD))
			return IDENT_NEED_MORE;
		return IDENT_NO_MATCH;
	}
	if (pc != AMQP_OK) {
		/* no header: a capture begun after it, on 0-9-1 frames */
		enum amqp_parse fc = amqp_frames(in, 0);
		if (fc == AMQP_BAD || (fc == AMQP_SHORT && in->done[0]))
			return IDENT_NO_MATCH;
		enum amqp_parse fs = in->len[1] ? amqp_frames(in, 1) : AMQP_SHORT;
		if (fs == AMQP_BAD)
			return IDENT_NO_MATCH;
		if (fc == AMQP_SHORT || (fs == AMQP_SHORT && !in->done[1]))
			return IDENT_NEED_MORE;
		ident_add_str(ev, "amqp_version", "0-9-1");
		ident_add_str(ev, "amqp_midstream", "1");
		ev->server_confirmed = fs == AMQP_OK;
		ev->confidence = fs == AMQP_OK ? 85 : 65;
		return IDENT_MATCH;
	}
	ident_add_str(ev, "amqp_version", ver);
	/* the server: its own protocol header, or connection.start */
	uint8_t b;
	if (!rd_peek_u8(&s, 0, &b)) {
		if (!in->done[1])
			return IDENT_NEED_MORE;
		ev->confidence = 70;
		return IDENT_MATCH;
	}
	if (b == 'A') {
		const char *sver = NULL;
		enum amqp_parse ps = amqp_header(&s, &sver);
		if (ps == AMQP_BAD || (ps == AMQP_SHORT && in->done[1]))
			return IDENT_NO_MATCH;
		if (ps == AMQP_SHORT)
			return IDENT_NEED_MORE;
		ident_add_str(ev, "amqp_server_version", sver);
	} else {
		uint8_t t;
		uint16_t cls = 0, meth = 0;
		struct reader h = s;
		if (rd_has(&h, 13)) {
			/* check connection.start's header before waiting for the frame end */
			t = rd_u8(&h);
			rd_skip(&h, 6);
			cls = rd_be16(&h);
			meth = rd_be16(&h);
			if (t != 1 || cls != 10 || meth != 10 || rd_u8(&h) != 0 || rd_u8(&h) != 9)
				return IDENT_NO_MATCH;
		}
		enum amqp_parse ps = amqp_frame(&s, &t, &cls, &meth);
		if (ps == AMQP_BAD || (ps == AMQP_SHORT && in->done[1]))
			return IDENT_NO_MATCH;
		if (ps == AMQP_SHORT)
			return IDENT_NEED_MORE;
	}
	ev->server_confirmed = true;
	ev->confidence = 100;
	return IDENT_MATCH;
}

/* The first bytes (identify.h, first_byte), of direction d.
 * The client's: amqp_match: the protocol header ("AMQP"), or
 * amqp_frames from the first byte: a frame type 1, 2, 3 or 8.
 * The server's: none declared. */
static bool amqp_first_byte(int d, uint8_t transport, uint8_t b)
{
	if (d != 0)
		return true;
	(void)transport;
	return b == 'A' || b == 1 || b == 2 || b == 3 || b == 8;
}

const struct ident_proto ident_amqp = {"amqp", "AMQP 0-9-1 / 1.0", IDENT_TCP, amqp_match, NULL, amqp_first_byte};
