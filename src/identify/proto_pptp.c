/*
 * proto_pptp.c - PPTP control connection (RFC 2637, section 2).
 *
 * Start-Control-Connection-Request (client) / -Reply (server), 156 bytes:
 *
 *   +-----------------+-----------------+
 *   | length = 156    | message type 1  |  control message
 *   +-----------------+-----------------+
 *   |        magic cookie 0x1A2B3C4D    |
 *   +-----------------+-----------------+
 *   | ctrl type 1 / 2 | reserved0 = 0   |  SCCRQ / SCCRP
 *   +-----------------+--------+--------+
 *   | version 0x0100  | result | error  |  (reply: result 1..5)
 *   +-----------------+--------+--------+
 *   | framing caps(4) | bearer caps(4) | max channels(2) | firmware(2) |
 *   | host name (64, NUL padded)       | vendor (64, NUL padded)      |
 *
 * Why this strict: the fixed length, the cookie and the control type pin
 * the first message; the reply must be the matching SCCRP.
 */
#include "common/reader.h"
#include "identify/identify.h"

enum pptp_parse { PPTP_BAD, PPTP_SHORT, PPTP_OK };

static enum pptp_parse pptp_sccr(const uint8_t *p, uint32_t len, uint16_t ctype,
                                 const uint8_t **host, const uint8_t **vendor)
{
	struct reader r;
	rd_init(&r, p, len);
	uint16_t mlen = rd_be16(&r), mtype = rd_be16(&r);
	uint32_t cookie = rd_be32(&r);
	uint16_t ct = rd_be16(&r), res0 = rd_be16(&r), ver = rd_be16(&r);
	uint8_t result = rd_u8(&r);
	/* Judge what is there: any byte against the fixed values. */
	size_t have = len;
	if ((have >= 2 && mlen != 156) || (have >= 4 && mtype != 1) ||
	    (have >= 8 && cookie != 0x1A2B3C4D) || (have >= 10 && ct != ctype) ||
	    (have >= 12 && res0 != 0) || (have >= 14 && ver != 0x0100) ||
	    (have >= 15 && ctype == 2 && (result < 1 || result > 5)))
		return PPTP_BAD;
	if (len < 156)
		return PPTP_SHORT;
	rd_init(&r, p, len);
	rd_skip(&r, 28);
	*host = rd_bytes(&r, 64);
	*vendor = rd_bytes(&r, 64);
	return PPTP_OK;
}

static void pptp_str(struct ident_evidence *ev, const char *key, const uint8_t *s)
{
	size_t n = 0;
	while (n < 64 && s[n])
		n++;
	if (n)
		ident_add(ev, key, s, n);
}

static enum ident_verdict pptp_match(const struct ident_input *in, struct ident_evidence *ev)
{
	const uint8_t *h = NULL, *v = NULL, *sh = NULL, *sv = NULL;
	enum pptp_parse pc = in->len[0] ? pptp_sccr(in->data[0], in->len[0], 1, &h, &v) : PPTP_SHORT;
	if (pc == PPTP_BAD)
		return IDENT_NO_MATCH;
	if (pc == PPTP_SHORT)
		return in->done[0] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
	enum pptp_parse ps = in->len[1] ? pptp_sccr(in->data[1], in->len[1], 2, &sh, &sv) : PPTP_SHORT;
	if (ps == PPTP_BAD)
		return IDENT_NO_MATCH;
	if (ps == PPTP_SHORT && !in->done[1])
		return IDENT_NEED_MORE;
	if (ps == PPTP_SHORT && in->len[1])
		return IDENT_NO_MATCH;
	pptp_str(ev, "pptp_hostname", h);
	pptp_str(ev, "pptp_vendor", v);
	ev->server_confirmed = ps == PPTP_OK;
	ev->confidence = ps == PPTP_OK ? 95 : 75;
	return IDENT_MATCH;
}

const struct ident_proto ident_pptp = {"pptp", "PPTP (RFC 2637)", IDENT_TCP, pptp_match, NULL, NULL};
