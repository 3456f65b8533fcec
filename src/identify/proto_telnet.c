/*
 * proto_telnet.c - Telnet option negotiation (RFC 854, RFC 855).
 *
 * Telnet carries text, but its endpoints usually open by negotiating
 * options with commands that start with IAC (0xff):
 *
 *   IAC WILL|WONT|DO|DONT option        ff fb|fc|fd|fe  opt
 *   IAC SB option ... IAC SE            ff fa opt ... ff f0
 *   options: 0-49 registered (1 echo, 3 suppress go ahead, 24 terminal
 *   type, 31 window size, 32 terminal speed, 39 new environ), 255 extended
 *
 * Random bytes or another binary protocol starting with 0xff: at least two
 * well-formed commands are required at the start of a side, and the rest
 * of that side's leading run must be commands too, up to the first data
 * byte. The server's negotiation decides; a client's negotiation alone
 * waits for the server, whose bytes must then be Telnet commands or text.
 */
#include "common/reader.h"
#include "identify/identify.h"

#define TELNET_CMDS_MAX 64
#define TELNET_SB_MAX 256
#define TELNET_EVIDENCE 96

enum telnet_parse { TELNET_BAD, TELNET_SHORT, TELNET_OK };

static const char *telnet_verb(uint8_t c)
{
	switch (c) {
	case 0xfb: return "WILL";
	case 0xfc: return "WONT";
	case 0xfd: return "DO";
	case 0xfe: return "DONT";
	default: return "SB";
	}
}

/* The leading run of IAC commands of one side; *cmds how many; the
 * options, as text, appended to buf (bounded). */
static enum telnet_parse telnet_run(const struct ident_input *in, int d, int *cmds, char *buf,
                                    size_t *blen)
{
	struct reader r;
	rd_init(&r, in->data[d], in->len[d]);
	*cmds = 0;
	while (*cmds < TELNET_CMDS_MAX) {
		uint8_t iac;
		if (!rd_peek_u8(&r, 0, &iac))
			return *cmds >= 2 ? TELNET_OK : in->done[d] ? TELNET_BAD : TELNET_SHORT;
		if (iac != 0xff)
			return *cmds >= 2 ? TELNET_OK : TELNET_BAD;
		uint8_t verb, opt;
		if (!rd_peek_u8(&r, 1, &verb) || !rd_peek_u8(&r, 2, &opt))
			return in->done[d] ? TELNET_BAD : TELNET_SHORT;
		if (verb < 0xfa || verb > 0xfe || (opt > 49 && opt != 255))
			return TELNET_BAD;
		rd_skip(&r, 3);
		if (verb == 0xfa) {
			/* subnegotiation: up to IAC SE */
			size_t i = 0;
			uint8_t a = 0, b = 0;
			for (;; i++) {
				if (i >= TELNET_SB_MAX)
					return TELNET_BAD;
				if (!rd_peek_u8(&r, i, &a) || !rd_peek_u8(&r, i + 1, &b))
					return in->done[d] ? TELNET_BAD : TELNET_SHORT;
				if (a == 0xff && b == 0xf0)
					break;
				if (a == 0xff && b == 0xff)
					i++; /* escaped 0xff */
			}
			rd_skip(&r, i + 2);
		}
		(*cmds)++;
		char item[16];
		const char *v = telnet_verb(verb);
		size_t k = 0;
		if (*blen)
			item[k++] = ',';
		for (size_t j = 0; v[j]; j++)
			item[k++] = v[j];
		item[k++] = ' ';
		if (opt >= 100)
			item[k++] = (char)('0' + opt / 100);
		if (opt >= 10)
			item[k++] = (char)('0' + opt / 10 % 10);
		item[k++] = (char)('0' + opt % 10);
		if (*blen + k < TELNET_EVIDENCE)
			for (size_t j = 0; j < k; j++)
				buf[(*blen)++] = item[j];
	}
	return TELNET_OK;
}

/* True when the side's first bytes (up to 64) are text: printable, tab,
 * CR, LF (a login banner), NUL after CR (RFC 854's CR NUL). */
static bool telnet_texty(const struct ident_input *in, int d)
{
	struct reader r;
	rd_init(&r, in->data[d], in->len[d]);
	for (int i = 0; i < 64 && rd_remaining(&r) > 0; i++) {
		uint8_t b = rd_u8(&r);
		if ((b < 0x20 && b != '\t' && b != '\r' && b != '\n' && b != 0) || b > 0x7e)
			return false;
	}
	return true;
}

static enum ident_verdict telnet_match(const struct ident_input *in, struct ident_evidence *ev)
{
	char sb[TELNET_EVIDENCE], cb[TELNET_EVIDENCE];
	size_t sl = 0, cl = 0;
	int sc = 0, cc = 0;
	enum telnet_parse s = telnet_run(in, 1, &sc, sb, &sl);
	enum telnet_parse c = telnet_run(in, 0, &cc, cb, &cl);
	if (s == TELNET_OK) {
		/* the client, if it spoke, negotiates too or sends text */
		if (c == TELNET_BAD && in->len[0] > 0 && !telnet_texty(in, 0))
			return IDENT_NO_MATCH;
		ev->server_confirmed = true;
		ev->confidence = c == TELNET_OK ? 100 : 85;
		ident_add(ev, "telnet_options", (const uint8_t *)sb, sl);
		if (c == TELNET_OK)
			ident_add(ev, "telnet_client_options", (const uint8_t *)cb, cl);
		return IDENT_MATCH;
	}
	if (c != TELNET_OK) {
		/* A server still to be heard may negotiate: it confirms telnet
		 * whatever text the client sent (NO_MATCH is final). */
		if (s == TELNET_SHORT && (c == TELNET_SHORT || in->len[0] == 0 || telnet_texty(in, 0)))
			return IDENT_NEED_MORE;
		if (c == TELNET_SHORT && telnet_texty(in, 1))
			return IDENT_NEED_MORE;
		return IDENT_NO_MATCH;
	}
	/* the client negotiates; the server: silent, short, or plain text */
	if (s == TELNET_SHORT && !in->done[1])
		return IDENT_NEED_MORE;
	if (in->len[1] > 0 && !telnet_texty(in, 1))
		return IDENT_NO_MATCH;
	ev->confidence = 70;
	ident_add(ev, "telnet_client_options", (const uint8_t *)cb, cl);
	return IDENT_MATCH;
}

/* The first bytes (identify.h, first_byte), of direction d.
 * The client's: telnet_match: the client negotiates (IAC, 0xff) or
 * sends text (telnet_texty); any other first byte is NO_MATCH whatever
 * the server does.
 * The server's: none declared. */
static bool telnet_first_byte(int d, uint8_t transport, uint8_t b)
{
	if (d != 0)
		return true;
	(void)transport;
	return b == 0xff || b == 0 || b == '\t' || b == '\r' || b == '\n' || (b >= 0x20 && b <= 0x7e);
}

const struct ident_proto ident_telnet = {"telnet", "Telnet (RFC 854)", IDENT_TCP, telnet_match, NULL, telnet_first_byte};
