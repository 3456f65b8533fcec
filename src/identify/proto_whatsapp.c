/*
 * proto_whatsapp.c - WhatsApp's chat connection (no public specification;
 * the layout below is what WhatsApp clients send, as seen in captures and
 * described by the open implementations of the protocol, e.g. yowsup and
 * whatsmeow, whose noise socket writes the same header).
 *
 * Client, first bytes:
 *   [ 'E' 'D' 0x00 0x01 | length (be24) | routing info (length bytes) ]
 *                                  optional edge-routing prefix (newer apps)
 *   'W' 'A' | major | minor          connection header: 1.5 (FunXMPP, the
 *                                    old XMPP-like binary protocol), 2.x /
 *                                    5.x / 6.x (Noise Pipes handshake)
 *   frame: length (be24, FunXMPP: 4 flag bits + 20 length bits) | body
 *     FunXMPP body starts with a list token 0xF8/0xF9 (the stream start,
 *       carrying the client's user agent as a string, "Android-2.12.84");
 *     Noise body is a HandshakeMessage protobuf: 0x12 (field 2, ClientHello)
 * Server, first bytes: frame length (be24) | body: 0xF8/0xF9 (FunXMPP) or
 *   0x1A (field 3, ServerHello).
 *
 * Why this strict: "WA" and two version bytes alone are weak; the frame
 * that follows must have a plausible length and a body whose first byte is
 * the one its version implies, and the server's answer must be a frame of
 * the same family.
 */
#include "common/reader.h"
#include "identify/identify.h"

enum wa_parse { WA_BAD, WA_SHORT, WA_OK };

struct wa_hdr {
	bool edge;
	uint8_t major, minor;
	const uint8_t *body; /* first frame body (what is there of it) */
	size_t body_len;
};

/* Bytes still to check at the reader, or a verdict: each present byte is
 * judged, so a short prefix that already contradicts is BAD. */
static bool wa_expect(struct reader *r, const char *s, size_t n, bool *shortp)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t b;
		if (!rd_peek_u8(r, i, &b)) {
			*shortp = true;
			return true;
		}
		if (b != (uint8_t)s[i])
			return false;
	}
	rd_skip(r, n);
	return true;
}

static enum wa_parse wa_client(const uint8_t *p, uint32_t len, struct wa_hdr *h)
{
	struct reader r;
	bool shortp = false;
	rd_init(&r, p, len);
	uint8_t b0 = 0;
	if (!rd_peek_u8(&r, 0, &b0))
		return WA_SHORT;
	h->edge = false;
	if (b0 == 'E') {
		if (!wa_expect(&r, "ED\x00\x01", 4, &shortp))
			return WA_BAD;
		if (shortp)
			return WA_SHORT;
		uint32_t rl = rd_be24(&r);
		if (!rd_ok(&r))
			return WA_SHORT;
		if (rl == 0 || rl > 64)
			return WA_BAD;
		if (!rd_bytes(&r, rl))
			return WA_SHORT;
		h->edge = true;
	}
	if (!wa_expect(&r, "WA", 2, &shortp))
		return WA_BAD;
	if (shortp)
		return WA_SHORT;
	uint8_t mj = 0;
	if (rd_peek_u8(&r, 0, &mj) && (mj < 1 || mj > 6))
		return WA_BAD;
	h->major = rd_u8(&r);
	h->minor = rd_u8(&r);
	uint32_t flen = rd_be24(&r);
	uint8_t first = 0;
	bool have_first = rd_peek_u8(&r, 0, &first);
	if (!rd_ok(&r) || !have_first)
		return WA_SHORT;
	if (h->minor > 15)
		return WA_BAD;
	if (h->major == 1) {
		/* FunXMPP: 4 flag bits, 20 length bits; a list starts the stream. */
		if ((flen & 0x0fffff) < 2 || (first != 0xf8 && first != 0xf9))
			return WA_BAD;
	} else {
		if (flen < 8 || flen > 0xffff || first != 0x12)
			return WA_BAD;
	}
	h->body = r.p + rd_offset(&r);
	h->body_len = rd_remaining(&r);
	return WA_OK;
}

static enum wa_parse wa_server(const uint8_t *p, uint32_t len, uint8_t major)
{
	struct reader r;
	rd_init(&r, p, len);
	uint32_t flen = rd_be24(&r);
	uint8_t first = rd_u8(&r);
	if (!rd_ok(&r))
		return WA_SHORT;
	if (major == 1)
		return (flen & 0x0fffff) >= 2 && (first == 0xf8 || first == 0xf9) ? WA_OK : WA_BAD;
	return flen >= 8 && flen <= 0xffff && first == 0x1a ? WA_OK : WA_BAD;
}

static void wa_evidence(struct ident_evidence *ev, const struct wa_hdr *h)
{
	char v[8];
	int n = 0;
	v[n++] = (char)('0' + h->major);
	v[n++] = '.';
	if (h->minor >= 10)
		v[n++] = (char)('0' + h->minor / 10);
	v[n++] = (char)('0' + h->minor % 10);
	ident_add(ev, "whatsapp_version", (const uint8_t *)v, (size_t)n);
	ident_add_str(ev, "whatsapp_handshake", h->major == 1 ? "funxmpp" : "noise");
	if (h->edge)
		ident_add_str(ev, "whatsapp_edge_routing", "yes");
	/* FunXMPP's stream start names the client: the first short string
	 * (token 0xFC, 8-bit length) of the opening list. */
	for (size_t i = 0; h->major == 1 && i + 2 < h->body_len && i < 16; i++) {
		if (h->body[i] != 0xfc)
			continue;
		size_t sl = h->body[i + 1];
		if (sl < 3 || sl > 64 || i + 2 + sl > h->body_len)
			break;
		bool ok = true;
		for (size_t k = 0; k < sl; k++)
			if (h->body[i + 2 + k] < 0x20 || h->body[i + 2 + k] > 0x7e)
				ok = false;
		if (ok)
			ident_add(ev, "whatsapp_client", h->body + i + 2, sl);
		break;
	}
}

static enum ident_verdict whatsapp_match(const struct ident_input *in, struct ident_evidence *ev)
{
	struct wa_hdr h = {0};
	enum wa_parse pc = wa_client(in->data[0], in->len[0], &h);
	if (pc == WA_BAD)
		return IDENT_NO_MATCH;
	if (pc == WA_SHORT)
		return in->done[0] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
	enum wa_parse ps = in->len[1] ? wa_server(in->data[1], in->len[1], h.major) : WA_SHORT;
	if (ps == WA_BAD)
		return IDENT_NO_MATCH;
	if (ps == WA_SHORT) {
		if (!in->done[1])
			return IDENT_NEED_MORE;
		if (in->len[1])
			return IDENT_NO_MATCH;
	}
	wa_evidence(ev, &h);
	ev->server_confirmed = ps == WA_OK;
	ev->confidence = ps == WA_OK ? 95 : (h.edge ? 80 : 70);
	return IDENT_MATCH;
}

/* The first bytes (identify.h, first_byte), of direction d.
 * The client's: wa_client: "ED" (edge routing) or "WA".
 * The server's: none declared. */
static bool whatsapp_first_byte(int d, uint8_t transport, uint8_t b)
{
	if (d != 0)
		return true;
	(void)transport;
	return b == 'E' || b == 'W';
}

const struct ident_proto ident_whatsapp = {"whatsapp", "WhatsApp chat (FunXMPP / Noise handshake)",
                                           IDENT_TCP, whatsapp_match, NULL, whatsapp_first_byte};
