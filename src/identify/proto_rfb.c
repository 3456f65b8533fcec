/*
 * proto_rfb.c - RFB, the VNC remote framebuffer protocol (RFC 6143).
 *
 * The server speaks first with its ProtocolVersion, exactly 12 bytes; the
 * client answers with the version it will use, in the same form:
 *
 *   +----+----+----+----+----+----+----+----+----+----+----+----+
 *   | R  | F  | B  | SP | d  | d  | d  | .  | d  | d  | d  | LF |
 *   +----+----+----+----+----+----+----+----+----+----+----+----+
 *   "RFB 003.008\n"  (003.003, 003.007, 003.008; Apple 003.889, ...)
 *
 * Then the server lists security types and the client picks one. A
 * banner-first protocol: the server's 12 bytes are enough; a client that
 * answers with anything but a version line contradicts it.
 */
#include "common/reader.h"
#include "identify/identify.h"

#define RFB_VERSION_LEN 12

enum rfb_parse { RFB_BAD, RFB_SHORT, RFB_OK };

/* "RFB ddd.ddd\n", judged byte by byte as it arrives. */
static enum rfb_parse rfb_version(const struct ident_input *in, int d)
{
	static const char pat[] = "RFB 999.999\n"; /* 9: a digit */
	struct reader r;
	rd_init(&r, in->data[d], in->len[d]);
	for (size_t i = 0; i < RFB_VERSION_LEN; i++) {
		uint8_t c;
		if (!rd_peek_u8(&r, i, &c))
			return i > 0 && in->done[d] ? RFB_BAD : RFB_SHORT;
		if (pat[i] == '9' ? (c < '0' || c > '9') : c != (uint8_t)pat[i])
			return RFB_BAD;
	}
	return RFB_OK;
}

static enum ident_verdict rfb_match(const struct ident_input *in, struct ident_evidence *ev)
{
	enum rfb_parse ps = rfb_version(in, 1);
	enum rfb_parse pc = rfb_version(in, 0);
	if (ps == RFB_BAD || pc == RFB_BAD)
		return IDENT_NO_MATCH;
	struct reader r;
	if (ps == RFB_OK) {
		ev->server_confirmed = true;
		ev->confidence = pc == RFB_OK ? 95 : 85;
		rd_init(&r, in->data[1], in->len[1]);
		rd_skip(&r, 4);
		ident_add(ev, "rfb_version", rd_bytes(&r, 7), 7);
		if (pc == RFB_OK) {
			rd_init(&r, in->data[0], in->len[0]);
			rd_skip(&r, 4);
			ident_add(ev, "rfb_client_version", rd_bytes(&r, 7), 7);
		}
		return IDENT_MATCH;
	}
	/* The server's banner is not (all) there. */
	if (!in->done[1])
		return IDENT_NEED_MORE;
	if (pc != RFB_OK || in->len[1] > 0)
		return pc == RFB_SHORT && !in->done[0] ? IDENT_NEED_MORE : IDENT_NO_MATCH;
	ev->confidence = 60;
	rd_init(&r, in->data[0], in->len[0]);
	rd_skip(&r, 4);
	ident_add(ev, "rfb_version", rd_bytes(&r, 7), 7);
	return IDENT_MATCH;
}

/* The first bytes (identify.h, first_byte), of direction d.
 * The client's: rfb_version on the client's bytes: "RFB " (RFB_BAD is
 * NO_MATCH whatever the server sent).
 * The server's: none declared. */
static bool rfb_first_byte(int d, uint8_t transport, uint8_t b)
{
	if (d != 0)
		return true;
	(void)transport;
	return b == 'R';
}

const struct ident_proto ident_rfb = {"rfb", "RFB / VNC (RFC 6143)", IDENT_TCP, rfb_match, NULL, rfb_first_byte};
