/*
 * proto_wireguard.c - WireGuard (Donenfeld, "WireGuard: Next Generation
 * Kernel Network Tunnel", NDSS 2017, section 5.4; wireguard.com/protocol).
 *
 * Every message starts with a 1-byte type and 3 reserved zero bytes, and
 * each type has an exact length:
 *
 *   type 1 initiation   | 01 00 00 00 | sender(4) | ephemeral(32) | static(48)
 *                       | timestamp(28) | mac1(16) | mac2(16) |       = 148
 *   type 2 response     | 02 00 00 00 | sender(4) | receiver(4) | ephemeral(32)
 *                       | empty(16) | mac1(16) | mac2(16) |           = 92
 *   type 3 cookie reply | 03 00 00 00 | receiver(4) | nonce(24) | cookie(32) = 64
 *   type 4 transport    | 04 00 00 00 | receiver(4) | counter(8) | data(16n+16)
 *                                                                    = 32 + 16n
 *
 * Indexes are little-endian and chosen at random by each peer. Every
 * datagram of both directions must be one of these; when the initiator's
 * first datagram is an initiation and the responder's a response, the
 * response's receiver index must be the initiator's sender index; transport
 * datagrams of one direction carry one receiver index (a session).
 *
 * Handshake messages longer than these lengths (TunnelBear's WireGuard:
 * an initiation of 204 bytes, a response of 100) are accepted only when the
 * indexes tie the flow together: the response names the initiation's
 * sender, and the initiator's transport messages (if any) name the
 * response's sender:
 *
 *   > 01000000 316618ac ...(204)   < 02000000 02ca1a00 316618ac ...(100)
 *   > 04000000 02ca1a00 0000000000000000 ...
 */
#include "common/reader.h"
#include "identify/identify.h"
#include "identify/text_proto.h"

struct wg_msg {
	uint8_t type;
	uint32_t a, b; /* sender/receiver as laid out after the header */
};

static bool wg_parse(struct reader *m, size_t len, struct wg_msg *w, bool lax)
{
	w->type = rd_u8(m);
	uint8_t z0 = rd_u8(m), z1 = rd_u8(m), z2 = rd_u8(m);
	w->a = rd_le32(m);
	w->b = rd_le32(m);
	if (!rd_ok(m) || z0 || z1 || z2)
		return false;
	switch (w->type) {
	case 1: return len == 148 || (lax && len > 148 && len <= 148 + 256);
	case 2: return len == 92 || (lax && len > 92 && len <= 92 + 256);
	case 3: return len == 64;
	case 4: return len >= 32 && (len - 32) % 16 == 0;
	default: return false;
	}
}

static const char *const wg_names[] = {"", "handshake_initiation", "handshake_response",
                                       "cookie_reply", "transport_data"};

/* All datagrams of direction d; 0 when it has none, -1 when one is not
 * WireGuard, else the count. first gets the first; *rx_ok tells whether
 * the transport messages share one receiver index; *first_rx is the
 * receiver index of the first session's transport messages (0: none), the
 * one before any later handshake (a later handshake does not undo it:
 * NO_MATCH is final). */
static int wg_dir(const struct ident_input *in, int d, struct wg_msg *first, bool *rx_ok, bool lax,
                  uint32_t *first_rx)
{
	struct reader r;
	rd_init(&r, in->data[d], in->len[d]);
	bool have_rx = false, first_session = true;
	uint32_t rx = 0;
	*rx_ok = true;
	*first_rx = 0;
	for (unsigned k = 0; k < in->ndgrams[d]; k++) {
		size_t len = in->dgram_len[d][k];
		struct reader m = rd_sub(&r, len);
		struct wg_msg w;
		if (!rd_ok(&r) || !wg_parse(&m, len, &w, lax))
			return -1;
		if (k == 0)
			*first = w;
		if ((w.type == 1 || w.type == 2) && k > 0)
			first_session = false;
		if (w.type == 1 || w.type == 2)
			have_rx = false; /* a new handshake: a new session */
		if (w.type == 4 && first_session && !*first_rx)
			*first_rx = w.a;
		if (w.type == 4) {
			if (have_rx && w.a != rx)
				*rx_ok = false;
			have_rx = true;
			rx = w.a;
		}
	}
	return in->ndgrams[d];
}

/* wireguard_match past its cheap NO_MATCH tests. Out of line: the tests run
 * without this function's frame. */
__attribute__((noinline)) static enum ident_verdict
wireguard_match_walk(const struct ident_input *in, struct ident_evidence *ev)
{
	struct wg_msg c = {0}, s = {0};
	bool crx, srx;
	uint32_t ctx, stx;
	int nc = wg_dir(in, 0, &c, &crx, false, &ctx);
	int ns = wg_dir(in, 1, &s, &srx, false, &stx);
	if (nc < 0 || ns < 0) {
		/* longer handshakes: only with the indexes tying them */
		nc = wg_dir(in, 0, &c, &crx, true, &ctx);
		ns = wg_dir(in, 1, &s, &srx, true, &stx);
		if (nc > 0 && crx && c.type == 1 && ns == 0 && !in->done[1])
			return IDENT_NEED_MORE;
		/* a response before its initiation: the initiation may still
		 * come and name it (NO_MATCH is final) */
		if (nc == 0 && ns > 0 && srx && s.type == 2 && !in->done[0])
			return IDENT_NEED_MORE;
		if (nc <= 0 || ns <= 0 || !crx || !srx || c.type != 1 || s.type != 2 || s.b != c.a ||
		    (ctx && ctx != s.a))
			return IDENT_NO_MATCH;
		ident_add_str(ev, "wireguard_type", wg_names[1]);
		ident_add_str(ev, "wireguard_variant", "long_handshake");
		ev->server_confirmed = true;
		ev->confidence = 85;
		return IDENT_MATCH;
	}
	if (!crx || !srx)
		return IDENT_NO_MATCH;
	if (nc == 0)
		return in->done[0] && in->done[1] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
	if (ns == 0) {
		if (!in->done[1])
			return IDENT_NEED_MORE;
		/* One side only: a lone initiation, or a run of transport
		 * messages to one session. */
		if (c.type != 1 && nc < 2) /* a second may come (NO_MATCH is final) */
			return in->done[0] || in->ndgrams[0] >= IDENT_DGRAMS_MAX ? IDENT_NO_MATCH
			                                                          : IDENT_NEED_MORE;
		ident_add_str(ev, "wireguard_type", wg_names[c.type]);
		ev->confidence = 60;
		return IDENT_MATCH;
	}
	bool confirmed;
	if (c.type == 1) {
		/* An initiation is answered by a response naming its sender. */
		if (s.type == 2 && s.b != c.a)
			return IDENT_NO_MATCH;
		confirmed = s.type == 2 || s.type == 3;
		if (s.type == 4)
			confirmed = nc + ns >= 3;
	} else {
		/* Mid-session: transport both ways, each side naming its own
		 * receiver index. */
		confirmed = nc + ns >= 3;
	}
	ident_add_str(ev, "wireguard_type", wg_names[c.type]);
	ev->server_confirmed = confirmed;
	ev->confidence = confirmed ? (c.type == 1 && s.type == 2 ? 95 : 85) : 60;
	return IDENT_MATCH;
}

static enum ident_verdict wireguard_match(const struct ident_input *in, struct ident_evidence *ev)
{
	if (in->transport != IDENT_UDP)
		return IDENT_NO_MATCH;
	/* The usual NO_MATCH of wireguard_match_walk from four bytes, before
	 * the walks: a first datagram (of either side) without a type 1-4 and
	 * three zero bytes fails wg_parse, lax or not, and wg_dir's -1 on
	 * either side, lax, is NO_MATCH. */
	for (int d = 0; d < 2; d++) {
		if (!in->ndgrams[d])
			continue;
		struct reader m;
		uint8_t t, z0, z1, z2;
		if (!dgram_first(in, d, &m) || !rd_has(&m, 12))
			continue;
		(void)rd_peek_u8(&m, 0, &t);
		(void)rd_peek_u8(&m, 1, &z0);
		(void)rd_peek_u8(&m, 2, &z1);
		(void)rd_peek_u8(&m, 3, &z2);
		if (t < 1 || t > 4 || z0 | z1 | z2)
			return IDENT_NO_MATCH;
	}
	return wireguard_match_walk(in, ev);
}

/* The first bytes (identify.h, first_byte), of direction d.
 * The client's: A first datagram whose type is not 1-4 fails wg_parse,
 * lax or not: wg_dir -1 for the client, NO_MATCH in wireguard_match
 * (short) or wireguard_match_walk.
 * The server's: the same (wg_dir judges both sides' datagrams alike
 * (wireguard_match_walk: ns -1 is NO_MATCH)). */
static bool wireguard_first_byte(int d, uint8_t transport, uint8_t b)
{
	(void)d;
	(void)transport;
	return b >= 1 && b <= 4;
}

const struct ident_proto ident_wireguard = {"wireguard", "WireGuard (NDSS 2017, wireguard.com)",
                                            IDENT_UDP, wireguard_match, NULL, wireguard_first_byte};
