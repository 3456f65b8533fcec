/*
 * proto_imap.c - IMAP (RFC 9051, RFC 3501), with STARTTLS (RFC 9051 6.2.1).
 *
 * The server speaks first, an untagged greeting (RFC 9051 7.1.1, 7.1.4):
 *
 *   server:  "* OK" SP [ "[" resp-code "]" SP ] text CR LF
 *            "* PREAUTH" SP text CR LF     (already authenticated)
 *   client:  tag SP command [SP args] CR LF   "a001 CAPABILITY", "A1 LOGIN u p"
 *            tag: ASTRING-CHAR without "+", e.g. "a001", "C00000", "."
 *   client:  tag SP "STARTTLS" CR LF
 *   server:  tag SP "OK" SP text CR LF
 *   client:  16 03 xx ...                  a TLS record: the upgrade
 *
 * The greeting decides: a client speaking other text to an IMAP server is
 * still an IMAP flow (lower confidence); binary from the client cancels, as
 * IMAP clients only send text lines before TLS.
 */
#include "common/reader.h"
#include "identify/protocols.h"
#include "identify/text_proto.h"

#define IMAP_LINE_MAX 8192 /* capability greetings run long */
#define IMAP_LINES 32

/* ASTRING-CHAR without "+" (RFC 9051 9): printable, not SP ( ) { % * " \ ] */
static bool imap_tag_char(uint8_t c)
{
	if (c <= 0x20 || c >= 0x7f)
		return false;
	switch (c) {
	case '(': case ')': case '{': case '%': case '*': case '"': case '\\': case '+':
		return false;
	default:
		return true;
	}
}

/* A tagged command line: tag SP command; *cmd is set to the command. */
static bool imap_tagged(const uint8_t *line, size_t n, struct reader *cmd, size_t *taglen)
{
	struct reader l;
	rd_init(&l, line, n);
	size_t i = 0;
	uint8_t c = 0;
	while (i < 64 && rd_peek_u8(&l, i, &c) && imap_tag_char(c))
		i++;
	if (i == 0 || c != ' ' || !rd_peek_u8(&l, i + 1, &c))
		return false;
	rd_skip(&l, i + 1);
	*cmd = l;
	*taglen = i;
	return true;
}

static bool imap_command(const struct reader *cmd)
{
	static const char *const cmds[] = {
	    "CAPABILITY", "LOGIN",  "STARTTLS", "AUTHENTICATE", "ID",     "NOOP",   "LOGOUT",
	    "SELECT",     "EXAMINE", "LIST",    "LSUB",         "STATUS", "ENABLE", "NAMESPACE",
	    "CREATE",     "APPEND", "IDLE",     "UID",          "FETCH",  "SEARCH", "COMPRESS"};
	return text_verb_any(cmd, cmds, sizeof cmds / sizeof cmds[0]);
}

/* A tagged STARTTLS alone on its line. */
static bool imap_starttls(const uint8_t *line, size_t n)
{
	struct reader cmd;
	size_t tl;
	return imap_tagged(line, n, &cmd, &tl) && text_verb(&cmd, "STARTTLS") &&
	       rd_remaining(&cmd) == 8;
}

static enum ident_verdict match_imap(const struct ident_input *in, struct ident_evidence *ev)
{
	struct reader s;
	const uint8_t *line;
	size_t n;
	rd_init(&s, in->data[1], in->len[1]);

	/* The greeting. Without it the client's bytes alone never decide. */
	if (!rd_line(&s, IMAP_LINE_MAX, &line, &n))
		return text_partial(&s, "* ", IMAP_LINE_MAX, in->done[1]);
	struct reader g;
	rd_init(&g, line, n);
	if (!(rd_starts_ci(&g, "* OK ") || rd_starts_ci(&g, "* PREAUTH ")) || !rd_printable(&g, n))
		return IDENT_NO_MATCH;
	const uint8_t *banner = line;
	size_t banner_len = n;

	/* The client's lines: tagged commands; binary cancels. */
	struct text_client cl;
	if (!text_client_lines(in, IMAP_LINE_MAX, IMAP_LINES, imap_starttls, &cl))
		return IDENT_NO_MATCH;
	bool known = false;
	if (cl.first) {
		struct reader cmd;
		size_t tl;
		known = imap_tagged(cl.first, cl.first_len, &cmd, &tl) && imap_command(&cmd);
	}

	ident_add(ev, "imap_banner", banner, banner_len);
	if (cl.upgrade && cl.tls_after) {
		/* The server's tagged OK to the STARTTLS command, whose tag
		 * imap_starttls found (so imap_tagged holds again). */
		struct reader cmd;
		const uint8_t *tag = cl.upgrade;
		size_t taglen = 0;
		(void)imap_tagged(cl.upgrade, cl.upgrade_len, &cmd, &taglen);
		bool ok = false;
		for (int k = 0; k < 256 && !ok && rd_line(&s, IMAP_LINE_MAX, &line, &n); k++) {
			struct reader l, t;
			rd_init(&l, line, n);
			if (!rd_printable(&l, n))
				break;
			rd_init(&t, tag, taglen);
			bool same = n > taglen + 3;
			for (size_t i = 0; same && i < taglen; i++) {
				uint8_t a = rd_u8(&l), b = rd_u8(&t);
				same = a == b;
			}
			ok = same && rd_starts_ci(&l, " OK");
		}
		if (ok)
			text_upgraded(ev);
	}
	ev->server_confirmed = true;
	ev->confidence = known ? 100 : (!cl.first ? 85 : 70);
	return IDENT_MATCH;
}

const struct ident_proto ident_imap = {"imap", "IMAP (RFC 9051)", IDENT_TCP, match_imap, NULL, NULL};
