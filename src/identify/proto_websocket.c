/*
 * proto_websocket.c - WebSocket (RFC 6455) over TCP: an HTTP/1.1 exchange
 * that the server switched to the WebSocket protocol.
 *
 * Specification: RFC 6455 sections 1.3 and 4.1 (client handshake), 4.2.2
 * (server handshake, Sec-WebSocket-Accept), 11.3 (header fields).
 *
 * Client: an HTTP/1.1 GET (proto_http parses it) with
 *
 *   Upgrade: websocket
 *   Connection: Upgrade
 *   Sec-WebSocket-Key: base64 of a 16-byte nonce      e.g. dGhlIHNhbXBsZSBub25jZQ==
 *   Sec-WebSocket-Protocol: chat, superchat            (optional)
 *
 * Server:
 *
 *   HTTP/1.1 101 Switching Protocols
 *   Upgrade: websocket
 *   Sec-WebSocket-Accept: base64(SHA-1(key || "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
 *
 * then frames. The decision (http_websocket in proto_http.c) is shared
 * with proto_http, so the two never both claim a flow: a 101 that names
 * websocket (in either side's Upgrade field or by an Accept field) is
 * WebSocket; a request for it that the server refuses or never answers
 * stays HTTP. When both the key and the accept value are there, the accept
 * is checked; a wrong one is reported (ws_accept_valid=0: an endpoint that
 * only mimics the handshake), the flow is still named WebSocket.
 *
 * A capture that began after the handshake (both directions mid-stream)
 * shows only frames (section 5.2):
 *
 *   +-----+------+--------+---+-------+--------------------+----------+---------+
 *   | FIN | RSV3 | opcode | M | len 7 | len 16 / 64 if 126 | mask key | payload |
 *   +-----+------+--------+---+-------+--------------------+----------+---------+
 *      opcode 0-2 data, 8-10 control (FIN, len <= 125); RSV1 only on data
 *      (permessage-deflate, RFC 7692); M: 1 from the client, 0 from the server
 *
 * Then each direction must be a run of such frames that ends exactly where
 * its bytes end, one direction all masked and the other all unmasked (5.1),
 * and every uncompressed text frame valid UTF-8 once unmasked (5.6, 8.1).
 *
 * WebSocket's carrier is HTTP: a port whose entry lists http accepts it.
 */
#include <string.h>

#include "common/reader.h"
#include "common/sha1.h"
#include "identify/http1.h"
#include "identify/identify.h"
#include "identify/protocols.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WS_GUID_LEN 36
#define WS_KEY_MAX 128 /* a real key is 24 characters */

static void base64(const uint8_t *in, size_t n, char *out)
{
	static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		out[o++] = abc[v >> 18 & 63];
		out[o++] = abc[v >> 12 & 63];
		out[o++] = i + 1 < n ? abc[v >> 6 & 63] : '=';
		out[o++] = i + 2 < n ? abc[v & 63] : '=';
	}
	out[o] = 0;
}

/* 1: the accept value is the key's; 0: it is not; -1: cannot tell. */
static int accept_valid(struct reader key, struct reader accept)
{
	size_t kn = rd_remaining(&key), an = rd_remaining(&accept);
	if (kn == 0 || kn > WS_KEY_MAX)
		return -1;
	uint8_t buf[WS_KEY_MAX + WS_GUID_LEN];
	rd_copy(&key, buf, kn);
	memcpy(buf + kn, WS_GUID, WS_GUID_LEN);
	uint8_t digest[20];
	char want[32];
	sha1_digest(buf, kn + WS_GUID_LEN, digest);
	base64(digest, sizeof digest, want);
	return an == strlen(want) && rd_starts(&accept, want);
}

static void add_reader(struct ident_evidence *ev, const char *key, struct reader v)
{
	size_t n;
	const uint8_t *b = rd_rest(&v, &n);
	ident_add(ev, key, b, n);
}

#define WS_FRAMES_MAX 64
#define WS_OP_TEXT 1

/* RFC 3629: is the payload (unmasked with key when masked) valid UTF-8? A
 * sequence cut at the end of the bytes kept is accepted. */
static bool utf8_ok(struct reader p, const uint8_t key[4], bool masked)
{
	unsigned need = 0, i = 0;
	while (rd_remaining(&p) > 0) {
		uint8_t c = rd_u8(&p);
		if (masked)
			c ^= key[i & 3];
		i++;
		if (need) {
			if ((c & 0xc0) != 0x80)
				return false;
			need--;
		} else if (c >= 0x80) {
			if (c >= 0xc2 && c <= 0xdf)
				need = 1;
			else if (c >= 0xe0 && c <= 0xef)
				need = 2;
			else if (c >= 0xf0 && c <= 0xf4)
				need = 3;
			else
				return false;
		}
	}
	return true;
}

/* Frames of one direction: 1 all masked, 0 all unmasked, -1 not known yet
 * (no frame header whole), -2 not frames. *count whole frames; *cut when
 * the last frame runs past the bytes (valid as far as present): more bytes
 * may finish it, so that is no verdict yet (NO_MATCH is final). */
static int frames(const uint8_t *data, uint32_t len, unsigned *count, bool *cut)
{
	struct reader r;
	rd_init(&r, data, len);
	int masked = -1;
	*count = 0;
	*cut = false;
	while (rd_remaining(&r) > 0) {
		if (*count >= WS_FRAMES_MAX)
			return masked; /* enough seen */
		uint8_t b0 = rd_u8(&r), b1 = 0;
		bool whole_b1 = rd_has(&r, 1);
		if (whole_b1)
			b1 = rd_u8(&r);
		unsigned op = b0 & 0x0f;
		bool fin = b0 & 0x80, rsv1 = b0 & 0x40, m = b1 & 0x80;
		uint64_t plen = b1 & 0x7f;
		if (b0 & 0x30)
			return -2; /* RSV2, RSV3: no extension defines them */
		if (op > 2 && (op < 8 || op > 10))
			return -2;
		if (!whole_b1) {
			*cut = true;
			return masked;
		}
		if (op >= 8 && (!fin || rsv1 || plen > 125))
			return -2;
		if (masked >= 0 && m != (masked == 1))
			return -2;
		masked = m;
		if (plen == 126) {
			plen = rd_be16(&r);
			if (rd_ok(&r) && plen < 126)
				return -2; /* 5.2: the minimal number of bytes */
		} else if (plen == 127) {
			uint64_t hi = rd_be32(&r);
			plen = hi << 32 | rd_be32(&r);
			if (rd_ok(&r) && (hi >> 31 || plen < 65536))
				return -2;
		}
		uint8_t key[4] = {0, 0, 0, 0};
		if (m)
			rd_copy(&r, key, 4);
		if (!rd_ok(&r) || plen > rd_remaining(&r)) {
			/* A frame runs past the bytes; a text payload's bytes
			 * present must already be UTF-8. */
			if (rd_ok(&r) && op == WS_OP_TEXT && !rsv1) {
				size_t n = rd_remaining(&r);
				if (!utf8_ok(rd_sub(&r, n), key, m))
					return -2;
			}
			*cut = true;
			return masked;
		}
		struct reader payload = rd_sub(&r, (size_t)plen);
		if (op == WS_OP_TEXT && !rsv1 && !utf8_ok(payload, key, m))
			return -2;
		(*count)++;
	}
	return masked;
}

/* Both directions seen mid-stream: frames only, as the header says. */
static enum ident_verdict websocket_midstream(const struct ident_input *in,
                                              struct ident_evidence *ev)
{
	unsigned n0, n1;
	bool cut0, cut1;
	int m0 = frames(in->data[0], in->len[0], &n0, &cut0);
	int m1 = frames(in->data[1], in->len[1], &n1, &cut1);
	if (m0 == -2 || m1 == -2)
		return IDENT_NO_MATCH;
	if (m0 >= 0 && m1 >= 0 && m0 == m1)
		return IDENT_NO_MATCH; /* both masked or both not (5.1) */
	/* A frame cut at the end, a side not heard from, too few frames: more
	 * bytes may still make it frames of both sides (NO_MATCH is final). */
	if ((cut0 && in->done[0]) || (cut1 && in->done[1]))
		return IDENT_NO_MATCH; /* a frame that will never be whole */
	if (cut0 || cut1 || !in->len[0] || !in->len[1] || n0 + n1 < 3)
		return in->done[0] && in->done[1] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
	ident_add_str(ev, "ws_midstream", "1");
	ident_add_u64(ev, "ws_frames", n0 + n1);
	ev->server_confirmed = true;
	ev->confidence = 70;
	return IDENT_MATCH;
}

static enum ident_verdict websocket_match(const struct ident_input *in, struct ident_evidence *ev)
{
	/* Nearly every HTTP flow: a request that is no upgrade, told from
	 * the client's bytes without parsing the exchange (http1.h). */
	if (http_request_not_ws(in))
		return IDENT_NO_MATCH;
	struct http_view h;
	struct ident_evidence http;
	ident_clear(&http);
	enum ident_verdict v = http_parse(in, &http, &h);
	enum http_ws w = http_websocket(in, v, &h);
	if (in->midstream[0] && in->midstream[1] && (v != IDENT_MATCH || h.midstream)) {
		/* Frames only, unless the handshake may still show (the SYN
		 * alone was lost): NO_MATCH is final. */
		enum ident_verdict m = websocket_midstream(in, ev);
		return m == IDENT_NO_MATCH && w == HTTP_WS_WAIT ? IDENT_NEED_MORE : m;
	}
	switch (w) {
	case HTTP_WS_NO:
		return IDENT_NO_MATCH;
	case HTTP_WS_WAIT:
		return IDENT_NEED_MORE;
	case HTTP_WS_YES:
		break;
	}
	/* The handshake's own fields first (the evidence has room for 8). */
	int valid = -1;
	if (h.client.have_ws_key && h.server.have_ws_accept)
		valid = accept_valid(h.client.ws_key, h.server.ws_accept);
	if (valid >= 0)
		ident_add_str(ev, "ws_accept_valid", valid ? "1" : "0");
	if (h.client.have_ws_key)
		add_reader(ev, "websocket_key", h.client.ws_key);
	if (h.client.have_ws_protocol)
		add_reader(ev, "ws_protocol", h.client.ws_protocol);
	else if (h.server.have_ws_protocol)
		add_reader(ev, "ws_protocol", h.server.ws_protocol);
	/* Then HTTP's, but for what the handshake fixes (GET, websocket). */
	for (unsigned i = 0; i < http.nfields; i++) {
		const struct ident_field *f = &http.field[i];
		if (strcmp(f->key, "http_method") == 0 || strcmp(f->key, "http_upgrade") == 0)
			continue;
		ident_add(ev, f->key, f->value, f->len);
	}
	ev->server_confirmed = true; /* the server's 101 */
	ev->confidence = valid == 1 ? 100 : valid == 0 ? 60 : 85;
	return IDENT_MATCH;
}

/* The first bytes (identify.h, first_byte), of direction d.
 * The client's: http_parse is NO_MATCH (the client's stream read from
 * its start: no mid-stream frames path), so http_websocket answers
 * HTTP_WS_NO, and so does this.
 * The server's: none declared. */
static bool websocket_first_byte(int d, uint8_t transport, uint8_t b)
{
	if (d != 0)
		return true;
	(void)transport;
	return http_method_initial(b);
}

const struct ident_proto ident_websocket = {"websocket", "WebSocket (RFC 6455)", IDENT_TCP,
                                            websocket_match, "http", websocket_first_byte};
