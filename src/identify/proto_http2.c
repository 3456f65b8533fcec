/*
 * proto_http2.c - HTTP/2 with prior knowledge (cleartext "h2c" without
 * Upgrade) over TCP.
 *
 * Specification: RFC 9113 sections 3.4 (HTTP/2 connection preface), 4.1
 * (frame format), 6.5 (SETTINGS). HTTP/2 over TLS is TLS with ALPN "h2"
 * (proto_tls); an HTTP/1.1 "Upgrade: h2c" request is HTTP/1.1 (proto_http).
 *
 * Client: the 24-byte preface, then a SETTINGS frame
 *
 *   "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
 *   +-------------+------+-------+-----------------+----------------------+
 *   | length (24) | type | flags | R + stream (31) | id16 value32 ...     |
 *   +-------------+------+-------+-----------------+----------------------+
 *     multiple of 6  04    00 (no ACK)  0            length / 6 settings
 *
 * Server: its preface is a SETTINGS frame (the same frame header, stream 0,
 * not an ACK) as its very first bytes. A server answering anything else
 * (an HTTP/1.1 "400 Bad Request", a banner) cancels.
 */
#include <string.h>

#include "common/reader.h"
#include "identify/identify.h"
#include "identify/protocols.h"

#define H2_PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define H2_PREFACE_LEN 24
#define H2_FRAME_HEADER 9
#define H2_TYPE_SETTINGS 4
#define H2_FLAG_ACK 0x1
#define H2_SETTING_SIZE 6
/* SETTINGS_MAX_FRAME_SIZE starts at 2^14 (RFC 9113 4.2). */
#define H2_FRAME_MAX (1u << 14)

enum state { ST_PARTIAL, ST_OK, ST_BAD };

/* A SETTINGS frame header (not an ACK, stream 0) next; *count settings. */
static enum state settings_frame(struct reader *r, uint32_t *count)
{
	if (!rd_has(r, H2_FRAME_HEADER))
		return ST_PARTIAL;
	uint32_t len = rd_be24(r);
	uint8_t type = rd_u8(r);
	uint8_t flags = rd_u8(r);
	uint32_t stream = rd_be32(r) & 0x7fffffffu;
	if (type != H2_TYPE_SETTINGS || (flags & H2_FLAG_ACK) || stream != 0 ||
	    len % H2_SETTING_SIZE || len > H2_FRAME_MAX)
		return ST_BAD;
	*count = len / H2_SETTING_SIZE;
	return ST_OK;
}

static enum ident_verdict http2_match(const struct ident_input *in, struct ident_evidence *ev)
{
	struct reader c;
	rd_init(&c, in->data[0], in->len[0]);
	/* The preface, compared as far as the bytes go. */
	size_t have = rd_remaining(&c) < H2_PREFACE_LEN ? rd_remaining(&c) : H2_PREFACE_LEN;
	for (size_t k = 0; k < have; k++) {
		uint8_t b;
		rd_peek_u8(&c, k, &b);
		if (b != (uint8_t)H2_PREFACE[k])
			return IDENT_NO_MATCH;
	}
	if (have < H2_PREFACE_LEN)
		return in->done[0] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
	rd_skip(&c, H2_PREFACE_LEN);

	/* RFC 9113 3.4: the preface MUST be followed by a SETTINGS frame. */
	uint32_t nsettings = 0;
	enum state cs = settings_frame(&c, &nsettings);
	if (cs == ST_BAD)
		return IDENT_NO_MATCH;
	if (cs == ST_PARTIAL && !in->done[0])
		return IDENT_NEED_MORE;

	struct reader s;
	rd_init(&s, in->data[1], in->len[1]);
	uint32_t server_settings = 0;
	enum state ss = ST_PARTIAL;
	if (in->len[1]) {
		ss = settings_frame(&s, &server_settings);
		if (ss == ST_BAD)
			return IDENT_NO_MATCH;
		/* Until 9 bytes have come, at least those there must agree. */
		uint8_t b;
		if (ss == ST_PARTIAL && rd_peek_u8(&s, 3, &b) && b != H2_TYPE_SETTINGS)
			return IDENT_NO_MATCH;
	}
	if (ss == ST_PARTIAL && !in->done[1])
		return IDENT_NEED_MORE;

	ident_add_str(ev, "http2_preface", "1");
	if (cs == ST_OK)
		ident_add_u64(ev, "http2_settings", nsettings);
	ev->server_confirmed = ss == ST_OK;
	ev->confidence = ss == ST_OK ? 100 : 90;
	return IDENT_MATCH;
}

const struct ident_proto ident_http2 = {"http2", "HTTP/2 prior knowledge (RFC 9113)", IDENT_TCP,
                                        http2_match, NULL};
