/*
 * proto_pop3.c - POP3 (RFC 1939), with STLS (RFC 2595 section 4).
 *
 * The server speaks first, a positive status line (RFC 1939 section 4):
 *
 *   server:  "+OK" SP text CR LF          "+OK Dovecot ready."
 *   client:  command [SP args] CR LF      USER, PASS, APOP, CAPA, STLS,
 *                                         AUTH, STAT, LIST, UIDL, QUIT, ...
 *   client:  "STLS" CR LF
 *   server:  "+OK" [SP text] CR LF
 *   client:  16 03 xx ...                 a TLS record: the upgrade
 *
 * "+OK" is also what a Redis server answers ("+OK" CR LF, RESP simple
 * string) to a client that spoke first, so the greeting must carry text
 * after "+OK " (every POP3 server sends some), and the client's bytes, when
 * there are any, must be text commands and not a RESP array ("*2" CR LF).
 * A POP3 greeting decides against other text from the client (a client
 * speaking another protocol to a POP3 server is still a POP3 flow).
 */
#include "common/reader.h"
#include "identify/protocols.h"

#define POP3_LINE_MAX 512 /* RFC 1939 3: responses up to 512 octets */
#define POP3_LINES 32

/* True when the line starts with the command word w (then SP or its end). */
static bool pop3_verb(const struct reader *l, const char *w)
{
	size_t n = 0;
	while (w[n])
		n++;
	uint8_t c;
	return rd_starts_ci(l, w) && (!rd_peek_u8(l, n, &c) || c == ' ');
}

static bool pop3_command(const struct reader *l)
{
	static const char *const cmds[] = {"USER", "PASS", "APOP", "CAPA", "STLS", "AUTH",
	                                   "STAT", "LIST", "UIDL", "RETR", "TOP",  "DELE",
	                                   "NOOP", "RSET", "QUIT", "UTF8"};
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
		if (pop3_verb(l, cmds[i]))
			return true;
	return false;
}

static enum ident_verdict match_pop3(const struct ident_input *in, struct ident_evidence *ev)
{
	struct reader s, c;
	const uint8_t *line;
	size_t n;
	rd_init(&s, in->data[1], in->len[1]);
	rd_init(&c, in->data[0], in->len[0]);

	/* The greeting. */
	if (!rd_line(&s, POP3_LINE_MAX, &line, &n)) {
		uint8_t ch;
		for (size_t i = 0; i < 4 && rd_peek_u8(&s, i, &ch); i++)
			if (ch != (uint8_t)"+OK "[i])
				return IDENT_NO_MATCH;
		/* No whole greeting yet; the client's bytes alone never decide. */
		if (rd_remaining(&s) >= POP3_LINE_MAX || in->done[1])
			return IDENT_NO_MATCH;
		return IDENT_NEED_MORE;
	}
	struct reader g;
	rd_init(&g, line, n);
	if (n < 5 || !rd_starts(&g, "+OK ") || !rd_printable(&g, n))
		return IDENT_NO_MATCH;
	const uint8_t *banner = line;
	size_t banner_len = n;

	/* The client's commands: a RESP array or binary cancels. */
	bool known = false, first = true, stls = false, tls_after = false;
	if (rd_starts(&c, "*") || rd_starts(&c, "$"))
		return IDENT_NO_MATCH;
	for (int k = 0; k < POP3_LINES && rd_line(&c, POP3_LINE_MAX, &line, &n); k++) {
		struct reader l;
		rd_init(&l, line, n);
		if (!rd_printable(&l, n)) {
			if (first)
				return IDENT_NO_MATCH;
			break;
		}
		if (first)
			known = pop3_command(&l);
		first = false;
		if (n == 4 && pop3_verb(&l, "STLS")) {
			stls = true;
			uint8_t b0, b1;
			tls_after = rd_peek_u8(&c, 0, &b0) && rd_peek_u8(&c, 1, &b1) && b0 == 0x16 &&
			            b1 == 0x03;
			break;
		}
	}
	if (first && rd_remaining(&c) && !rd_printable(&c, rd_remaining(&c)))
		return IDENT_NO_MATCH; /* binary from the client, no line at all */

	ident_add(ev, "pop3_banner", banner, banner_len);
	if (stls && tls_after) {
		/* The server's answer to STLS is the last "+OK" before TLS. */
		bool ok = false;
		for (int k = 0; k < 256 && rd_line(&s, POP3_LINE_MAX, &line, &n); k++) {
			struct reader l;
			rd_init(&l, line, n);
			if (!rd_printable(&l, n))
				break;
			ok = rd_starts(&l, "+OK");
		}
		if (ok) {
			ident_add_u64(ev, "starttls", 1);
			ev->tls_upgrade = true;
		}
	}
	ev->server_confirmed = true;
	ev->confidence = known ? 100 : (first ? 85 : 70);
	return IDENT_MATCH;
}

const struct ident_proto ident_pop3 = {"pop3", "POP3 (RFC 1939)", IDENT_TCP, match_pop3};
