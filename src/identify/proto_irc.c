/*
 * proto_irc.c - IRC client connections (RFC 2812, RFC 1459; IRCv3 CAP).
 *
 * The client registers with text lines (RFC 2812 3.1), often after a
 * capability negotiation (IRCv3 "CAP LS 302"):
 *
 *   client:  ["PASS" SP password CR LF]
 *            ["CAP" SP "LS" [SP "302"] CR LF]
 *            "NICK" SP nickname CR LF
 *            "USER" SP user SP mode SP unused SP ":" realname CR LF
 *
 * The server answers (often before the client has spoken) with messages
 * that carry its name as prefix (RFC 2812 2.3.1):
 *
 *   server:  ":" servername SP ( "NOTICE" | 3digit | "CAP" | ... ) SP params
 *            ":irc.example.net NOTICE * :*** Looking up your hostname..."
 *            ":irc.example.net 001 nick :Welcome to the Internet Relay Network"
 *            or without prefix "NOTICE AUTH :...", "PING :token", "ERROR :..."
 *
 * IRC is a common C2 channel, so a claim needs the shapes above, not just a
 * word: a well-formed NICK (RFC 2812 2.3.1 nickname characters) or a USER
 * with its four parameters. A server line of that shape alone is enough
 * when the client says nothing; a server that answers otherwise cancels.
 */
#include "common/reader.h"
#include "identify/protocols.h"

#define IRC_LINE_MAX 512 /* RFC 2812 2.3: 512 characters with CR LF */
#define IRC_LINES 8

static size_t irc_len(const char *w)
{
	size_t n = 0;
	while (w[n])
		n++;
	return n;
}

/* True when the line starts with the word w followed by SP. */
static bool irc_verb(const struct reader *l, const char *w)
{
	size_t n = irc_len(w);
	uint8_t c;
	return rd_starts(l, w) && rd_peek_u8(l, n, &c) && c == ' ';
}

/* nickname = ( letter / special ) *( letter / digit / special / "-" ) */
static bool irc_nick_char(uint8_t c, bool first)
{
	if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'))
		return true;
	if (c == '[' || c == ']' || c == '\\' || c == '`' || c == '_' || c == '^' || c == '{' ||
	    c == '|' || c == '}')
		return true;
	return !first && ((c >= '0' && c <= '9') || c == '-');
}

/* Counts the SP-separated words of the rest of a line, up to a ":" word. */
static unsigned irc_params(struct reader l, bool *trailing)
{
	unsigned words = 0;
	*trailing = false;
	while (rd_remaining(&l)) {
		if (rd_starts(&l, ":")) {
			*trailing = true;
			return words + 1;
		}
		uint8_t c;
		size_t i = 0;
		while (rd_peek_u8(&l, i, &c) && c != ' ')
			i++;
		if (i == 0)
			return 0; /* two spaces in a row: not a message */
		words++;
		rd_skip(&l, i);
		if (rd_remaining(&l))
			rd_skip(&l, 1);
	}
	return words;
}

/* One registration line; *nick set for NICK. */
static bool irc_client_line(const uint8_t *line, size_t n, const uint8_t **nick, size_t *nick_len,
                            bool *reg)
{
	struct reader l;
	rd_init(&l, line, n);
	if (!rd_printable(&l, n))
		return false;
	bool trailing;
	*reg = false;
	if (irc_verb(&l, "NICK")) {
		rd_skip(&l, 5);
		if (rd_starts(&l, ":"))
			rd_skip(&l, 1);
		size_t i = 0;
		uint8_t c;
		while (i < 64 && rd_peek_u8(&l, i, &c) && irc_nick_char(c, i == 0))
			i++;
		if (i == 0 || i >= 64 || rd_peek_u8(&l, i, &c))
			return false; /* empty, too long, or junk after the nickname */
		*nick = rd_bytes(&l, i);
		*nick_len = i;
		*reg = true;
		return true;
	}
	if (irc_verb(&l, "USER")) {
		rd_skip(&l, 5);
		*reg = true;
		return irc_params(l, &trailing) == 4;
	}
	if (irc_verb(&l, "PASS")) {
		rd_skip(&l, 5);
		return irc_params(l, &trailing) == 1;
	}
	if (irc_verb(&l, "CAP")) {
		rd_skip(&l, 4);
		return rd_starts(&l, "LS") || rd_starts(&l, "REQ ") || rd_starts(&l, "END");
	}
	return false;
}

/* A server message: [":" prefix SP] command SP params. */
static bool irc_server_line(const uint8_t *line, size_t n, const uint8_t **prefix,
                            size_t *prefix_len)
{
	struct reader l;
	rd_init(&l, line, n);
	if (!rd_printable(&l, n))
		return false;
	bool trailing;
	if (rd_starts(&l, ":")) {
		rd_skip(&l, 1);
		size_t i = 0;
		uint8_t c;
		while (rd_peek_u8(&l, i, &c) && c != ' ')
			i++;
		if (i == 0 || c != ' ')
			return false;
		*prefix = rd_bytes(&l, i);
		*prefix_len = i;
		rd_skip(&l, 1);
		/* command: a numeric reply or a word the server sends first */
		uint8_t d0, d1, d2, sp;
		if (rd_peek_u8(&l, 0, &d0) && rd_peek_u8(&l, 1, &d1) && rd_peek_u8(&l, 2, &d2) &&
		    rd_peek_u8(&l, 3, &sp) && d0 >= '0' && d0 <= '9' && d1 >= '0' && d1 <= '9' &&
		    d2 >= '0' && d2 <= '9' && sp == ' ') {
			rd_skip(&l, 4);
			return irc_params(l, &trailing) >= 2 && trailing;
		}
		static const char *const words[] = {"NOTICE", "CAP", "PING", "ERROR", "MODE", "PRIVMSG"};
		for (size_t k = 0; k < sizeof words / sizeof words[0]; k++) {
			if (irc_verb(&l, words[k])) {
				rd_skip(&l, irc_len(words[k]) + 1);
				return irc_params(l, &trailing) >= 1 && trailing;
			}
		}
		return false;
	}
	*prefix = NULL;
	*prefix_len = 0;
	if (irc_verb(&l, "NOTICE") && (rd_skip(&l, 7), rd_starts(&l, "AUTH :")))
		return true;
	if (irc_verb(&l, "PING") || irc_verb(&l, "ERROR")) {
		rd_skip(&l, rd_starts(&l, "PING") ? 5 : 6);
		return rd_starts(&l, ":") && rd_remaining(&l) > 1;
	}
	return false;
}

static enum ident_verdict match_irc(const struct ident_input *in, struct ident_evidence *ev)
{
	struct reader s, c;
	const uint8_t *line, *nick = NULL, *prefix = NULL;
	size_t n, nick_len = 0, prefix_len = 0;
	rd_init(&c, in->data[0], in->len[0]);
	rd_init(&s, in->data[1], in->len[1]);

	/* The client's registration lines: every whole line one of them. */
	unsigned cli_lines = 0, cli_reg = 0;
	bool cli_bad = false;
	for (int k = 0; k < IRC_LINES && rd_line(&c, IRC_LINE_MAX, &line, &n); k++) {
		bool reg;
		if (!irc_client_line(line, n, &nick, &nick_len, &reg)) {
			/* After NICK and USER come other commands (MODE, JOIN...). */
			if (cli_reg < 2)
				cli_bad = true;
			break;
		}
		cli_lines++;
		cli_reg += reg;
	}
	if (!cli_lines && !cli_bad && rd_remaining(&c) &&
	    (rd_remaining(&c) >= IRC_LINE_MAX || !rd_printable(&c, rd_partial_len(&c, rd_remaining(&c)))))
		cli_bad = true; /* no line end where one would be, or binary */

	/* The server's first line. */
	bool srv_ok = false, srv_more = false;
	if (rd_line(&s, IRC_LINE_MAX, &line, &n)) {
		if (!irc_server_line(line, n, &prefix, &prefix_len))
			return IDENT_NO_MATCH; /* the server speaks something else */
		srv_ok = true;
	} else if (rd_remaining(&s)) {
		uint8_t ch = 0;
		rd_peek_u8(&s, 0, &ch);
		if (rd_remaining(&s) >= IRC_LINE_MAX || !rd_printable(&s, rd_partial_len(&s, rd_remaining(&s))) ||
		    (ch != ':' && ch != 'N' && ch != 'P' && ch != 'E'))
			return IDENT_NO_MATCH;
		srv_more = true;
	}

	if (!srv_ok) {
		/* The client's claim: registration lines, waiting for the
		 * server. A server line of IRC's shape decides whatever the
		 * client sent, so nothing is ruled out while the server may
		 * still speak, nor while the client may still register
		 * (NO_MATCH is final). */
		if (!in->done[1])
			return IDENT_NEED_MORE;
		if (cli_bad || srv_more || in->len[1])
			return IDENT_NO_MATCH;
		if (cli_reg < 2 || !nick)
			return in->done[0] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
		ident_add(ev, "irc_nick", nick, nick_len);
		ev->confidence = 60;
		return IDENT_MATCH;
	}
	/* The server speaks IRC: the flow is IRC; the client's lines add. */
	if (!cli_lines && !cli_bad && !in->done[0])
		return IDENT_NEED_MORE; /* wait for the client's registration */
	if (nick)
		ident_add(ev, "irc_nick", nick, nick_len);
	if (prefix)
		ident_add(ev, "irc_server", prefix, prefix_len);
	ev->server_confirmed = true;
	ev->confidence = cli_lines && !cli_bad ? 100 : (cli_bad ? 60 : 75);
	return IDENT_MATCH;
}

const struct ident_proto ident_irc = {"irc", "IRC (RFC 2812)", IDENT_TCP, match_irc, NULL, NULL};
