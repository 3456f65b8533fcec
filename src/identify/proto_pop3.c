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
#include "identify/text_proto.h"

#define POP3_LINE_MAX 512 /* RFC 1939 3: responses up to 512 octets */
#define POP3_LINES 32

static bool pop3_command(const struct reader *l)
{
	static const char *const cmds[] = {"USER", "PASS", "APOP", "CAPA", "STLS", "AUTH",
	                                   "STAT", "LIST", "UIDL", "RETR", "TOP",  "DELE",
	                                   "NOOP", "RSET", "QUIT", "UTF8"};
	return text_verb_any(l, cmds, sizeof cmds / sizeof cmds[0]);
}

/* STLS alone on its line. */
static bool pop3_stls(const uint8_t *line, size_t n)
{
	struct reader l;
	rd_init(&l, line, n);
	return n == 4 && text_verb(&l, "STLS");
}

static enum ident_verdict match_pop3(const struct ident_input *in, struct ident_evidence *ev)
{
	struct reader s, c;
	const uint8_t *line;
	size_t n;
	rd_init(&s, in->data[1], in->len[1]);
	rd_init(&c, in->data[0], in->len[0]);

	/* The greeting. No whole greeting yet: the client's bytes alone never
	 * decide. */
	if (!rd_line(&s, POP3_LINE_MAX, &line, &n))
		return text_partial(&s, "+OK ", POP3_LINE_MAX, in->done[1]);
	struct reader g;
	rd_init(&g, line, n);
	if (n < 5 || !rd_starts(&g, "+OK ") || !rd_printable(&g, n))
		return IDENT_NO_MATCH;
	const uint8_t *banner = line;
	size_t banner_len = n;

	/* The client's commands: a RESP array or binary cancels. */
	if (rd_starts(&c, "*") || rd_starts(&c, "$"))
		return IDENT_NO_MATCH;
	struct text_client cl;
	if (!text_client_lines(in, POP3_LINE_MAX, POP3_LINES, pop3_stls, &cl))
		return IDENT_NO_MATCH;
	bool known = false;
	if (cl.first) {
		struct reader l;
		rd_init(&l, cl.first, cl.first_len);
		known = pop3_command(&l);
	}

	ident_add(ev, "pop3_banner", banner, banner_len);
	if (cl.upgrade && cl.tls_after) {
		/* The server's answer to STLS is the last "+OK" before TLS. */
		bool ok = false;
		for (int k = 0; k < 256 && rd_line(&s, POP3_LINE_MAX, &line, &n); k++) {
			struct reader l;
			rd_init(&l, line, n);
			if (!rd_printable(&l, n))
				break;
			ok = rd_starts(&l, "+OK");
		}
		if (ok)
			text_upgraded(ev);
	}
	ev->server_confirmed = true;
	ev->confidence = known ? 100 : (!cl.first ? 85 : 70);
	return IDENT_MATCH;
}

const struct ident_proto ident_pop3 = {"pop3", "POP3 (RFC 1939)", IDENT_TCP, match_pop3, NULL, NULL};
