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
 *
 * The first request: after its SETTINGS the client sends frames (WINDOW_
 * UPDATE, PRIORITY, SETTINGS ACK, ...) and then a HEADERS frame (type 1,
 * RFC 9113 6.2) on an odd stream, its header block continued by
 * CONTINUATION frames (type 9, 6.10) until END_HEADERS:
 *
 *   +-----------+------+-------+--------+--------+----------+-----------+-----+
 *   | length 24 | 0x01 | flags | stream | [pad]  | [prio 5] | block ... | pad |
 *   +-----------+------+-------+--------+--------+----------+-----------+-----+
 *                        0x04 END_HEADERS, 0x08 PADDED, 0x20 PRIORITY
 *
 * The block is HPACK (RFC 7541, identify/hpack.c); the first one of a
 * connection starts with an empty dynamic table. Its :authority and :path
 * are evidence, and its content-type tells gRPC (proto_grpc, which rides on
 * HTTP/2) from other HTTP/2: this identifier waits for the block while the
 * client may still send it, and leaves a gRPC request to proto_grpc.
 */
#include <string.h>

#include "common/reader.h"
#include "identify/hpack.h"
#include "identify/http2.h"
#include "identify/identify.h"
#include "identify/protocols.h"

#define H2_PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define H2_PREFACE_LEN 24
#define H2_FRAME_HEADER 9
#define H2_TYPE_DATA 0
#define H2_TYPE_HEADERS 1
#define H2_TYPE_SETTINGS 4
#define H2_TYPE_CONTINUATION 9
#define H2_FLAG_ACK 0x1
#define H2_FLAG_END_HEADERS 0x4
#define H2_FLAG_PADDED 0x8
#define H2_FLAG_PRIORITY 0x20
#define H2_FRAMES_MAX 64      /* frames walked before the first HEADERS */
#define H2_BLOCK_MAX 8192     /* header block bytes decoded */
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

static void keep(struct h2_value *v, const struct hpack_field *f)
{
	if (v->have)
		return;
	v->have = true;
	v->len = f->value_len;
	memcpy(v->b, f->value, f->value_len);
}

static bool name_is(const struct hpack_field *f, const char *name)
{
	size_t n = strlen(name);
	return !f->name_cut && f->name_len == n && memcmp(f->name, name, n) == 0;
}

static void visit(void *ctx, const struct hpack_field *f)
{
	struct h2_request *rq = ctx;
	if (name_is(f, ":method"))
		keep(&rq->method, f);
	else if (name_is(f, ":path"))
		keep(&rq->path, f);
	else if (name_is(f, ":authority"))
		keep(&rq->authority, f);
	else if (name_is(f, "content-type"))
		keep(&rq->content_type, f);
	else if (name_is(f, "user-agent"))
		keep(&rq->user_agent, f);
	else if (name_is(f, "te"))
		keep(&rq->te, f);
}

/* Appends up to n bytes of a fragment to the block (bounded). */
static void append(uint8_t *blk, size_t *blen, struct reader *frag, size_t n)
{
	size_t room = H2_BLOCK_MAX - *blen;
	size_t take = n < room ? n : room;
	rd_copy(frag, blk + *blen, take);
	*blen += take;
}

/*
 * Walks the client's frames after its SETTINGS to the first header block
 * and decodes it. A frame that runs past the bytes kept ends the walk: a
 * header block cut there is decoded as far as it goes (PARTIAL).
 */
static void first_request(struct reader *c, struct h2_request *rq)
{
	uint8_t blk[H2_BLOCK_MAX];
	size_t blen = 0;
	uint32_t open_stream = 0; /* the HEADERS stream awaiting CONTINUATION */
	bool cut = false;
	rq->state = H2_REQ_NONE;
	for (unsigned k = 0; k < H2_FRAMES_MAX; k++) {
		if (!rd_has(c, H2_FRAME_HEADER)) {
			cut = true;
			break;
		}
		uint32_t len = rd_be24(c);
		uint8_t type = rd_u8(c);
		uint8_t flags = rd_u8(c);
		uint32_t stream = rd_be32(c) & 0x7fffffffu;
		bool whole = rd_has(c, len);
		size_t have = whole ? len : rd_remaining(c);
		struct reader pl = rd_sub(c, have);
		if (open_stream) {
			/* 6.10: nothing but CONTINUATION of that stream. */
			if (type != H2_TYPE_CONTINUATION || stream != open_stream) {
				rq->state = H2_REQ_BAD;
				return;
			}
			append(blk, &blen, &pl, have);
		} else if (type == H2_TYPE_HEADERS) {
			/* 5.1.1: client streams are odd. */
			if (stream == 0 || !(stream & 1)) {
				rq->state = H2_REQ_BAD;
				return;
			}
			size_t pad = 0;
			if (flags & H2_FLAG_PADDED)
				pad = rd_u8(&pl);
			if (flags & H2_FLAG_PRIORITY)
				rd_skip(&pl, 5);
			if (!rd_ok(&pl) && whole) {
				rq->state = H2_REQ_BAD;
				return;
			}
			size_t frag = rd_remaining(&pl);
			if (whole) {
				if (pad > frag) { /* 6.2: padding longer than the payload */
					rq->state = H2_REQ_BAD;
					return;
				}
				frag -= pad;
			}
			append(blk, &blen, &pl, frag);
			open_stream = stream;
		} else if (type == H2_TYPE_CONTINUATION || type == H2_TYPE_DATA) {
			/* 6.10, 8.1: no CONTINUATION without HEADERS, no DATA before
			 * a stream's HEADERS. */
			rq->state = H2_REQ_BAD;
			return;
		}
		if (!whole) {
			cut = true;
			break;
		}
		if (open_stream && (flags & H2_FLAG_END_HEADERS))
			break;
	}
	if (!open_stream)
		return; /* no HEADERS among the frames kept (NONE) */
	enum hpack_status hs = hpack_decode(blk, blen, !cut, visit, rq);
	if (hs == HPACK_BAD)
		rq->state = H2_REQ_BAD;
	else
		rq->state = cut ? H2_REQ_PARTIAL : H2_REQ_OK;
}

bool http2_is_grpc(const struct h2_request *rq)
{
	static const char grpc[] = "application/grpc";
	const size_t n = sizeof grpc - 1;
	const struct h2_value *v = &rq->content_type;
	if (!v->have || v->len < n)
		return false;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = v->b[i];
		if (c >= 'A' && c <= 'Z')
			c = (uint8_t)(c + 32);
		if (c != (uint8_t)grpc[i])
			return false;
	}
	return v->len == n || v->b[n] == '+' || v->b[n] == ';';
}

static void add_value(struct ident_evidence *ev, const char *key, const struct h2_value *v)
{
	if (v->have)
		ident_add(ev, key, v->b, v->len);
}

enum ident_verdict http2_parse(const struct ident_input *in, struct ident_evidence *ev,
                               struct h2_request *rq)
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
	/* Cleared only now (1.6 KiB: six values of HPACK_VALUE_MAX bytes):
	 * nearly every flow has no preface and returns above, and rq is read
	 * only after a MATCH (http2.h). */
	memset(rq, 0, sizeof *rq);
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

	/* The first request names a passenger (gRPC) or not: wait for its
	 * header block while the client may still send it. */
	if (cs == ST_OK) {
		rd_skip(&c, (size_t)nsettings * H2_SETTING_SIZE);
		if (rd_ok(&c))
			first_request(&c, rq);
	}
	if ((rq->state == H2_REQ_NONE || rq->state == H2_REQ_PARTIAL) && !in->done[0])
		return IDENT_NEED_MORE;

	ident_add_str(ev, "http2_preface", "1");
	if (cs == ST_OK)
		ident_add_u64(ev, "http2_settings", nsettings);
	add_value(ev, "http2_authority", &rq->authority);
	add_value(ev, "http2_path", &rq->path);
	ev->server_confirmed = ss == ST_OK;
	ev->confidence = ss == ST_OK ? 100 : 90;
	return IDENT_MATCH;
}

static enum ident_verdict http2_match(const struct ident_input *in, struct ident_evidence *ev)
{
	struct h2_request rq;
	enum ident_verdict v = http2_parse(in, ev, &rq);
	if (v == IDENT_MATCH && http2_is_grpc(&rq))
		return IDENT_NO_MATCH; /* proto_grpc's */
	return v;
}

/* The first bytes (identify.h, first_byte), of direction d.
 * The client's: http2_parse: the preface, compared as far as the bytes
 * go.
 * The server's: none declared. */
static bool http2_first_byte(int d, uint8_t transport, uint8_t b)
{
	if (d != 0)
		return true;
	(void)transport;
	return b == 'P';
}

const struct ident_proto ident_http2 = {"http2", "HTTP/2 prior knowledge (RFC 9113)", IDENT_TCP,
                                        http2_match, NULL, http2_first_byte};
