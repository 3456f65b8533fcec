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

static bool imap_verb(const struct reader *l, const char *w)
{
	size_t n = 0;
	while (w[n])
		n++;
	uint8_t c;
	return rd_starts_ci(l, w) && (!rd_peek_u8(l, n, &c) || c == ' ');
}

static bool imap_command(const struct reader *cmd)
{
	static const char *const cmds[] = {
	    "CAPABILITY", "LOGIN",  "STARTTLS", "AUTHENTICATE", "ID",     "NOOP",   "LOGOUT",
	    "SELECT",     "EXAMINE", "LIST",    "LSUB",         "STATUS", "ENABLE", "NAMESPACE",
	    "CREATE",     "APPEND", "IDLE",     "UID",          "FETCH",  "SEARCH", "COMPRESS"};
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
		if (imap_verb(cmd, cmds[i]))
			return true;
	return false;
}

static enum ident_verdict match_imap(const struct ident_input *in, struct ident_evidence *ev)
{
	struct reader s, c;
	const uint8_t *line;
	size_t n;
	rd_init(&s, in->data[1], in->len[1]);
	rd_init(&c, in->data[0], in->len[0]);

	/* The greeting. */
	if (!rd_line(&s, IMAP_LINE_MAX, &line, &n)) {
		uint8_t ch;
		for (size_t i = 0; i < 2 && rd_peek_u8(&s, i, &ch); i++)
			if (ch != (uint8_t)"* "[i])
				return IDENT_NO_MATCH;
		if (rd_remaining(&s) >= IMAP_LINE_MAX || in->done[1])
			return IDENT_NO_MATCH;
		return IDENT_NEED_MORE; /* the client's bytes alone never decide */
	}
	struct reader g;
	rd_init(&g, line, n);
	if (!(rd_starts_ci(&g, "* OK ") || rd_starts_ci(&g, "* PREAUTH ")) || !rd_printable(&g, n))
		return IDENT_NO_MATCH;
	const uint8_t *banner = line;
	size_t banner_len = n;

	/* The client's lines: tagged commands; binary cancels. */
	bool known = false, first = true, starttls = false, tls_after = false;
	const uint8_t *tag = NULL;
	size_t taglen = 0;
	for (int k = 0; k < IMAP_LINES && rd_line(&c, IMAP_LINE_MAX, &line, &n); k++) {
		struct reader l, cmd;
		rd_init(&l, line, n);
		if (!rd_printable(&l, n)) {
			if (first)
				return IDENT_NO_MATCH;
			break;
		}
		size_t tl;
		bool tagged = imap_tagged(line, n, &cmd, &tl);
		if (first)
			known = tagged && imap_command(&cmd);
		first = false;
		if (tagged && imap_verb(&cmd, "STARTTLS") && rd_remaining(&cmd) == 8) {
			starttls = true;
			tag = line;
			taglen = tl;
			uint8_t b0, b1;
			tls_after = rd_peek_u8(&c, 0, &b0) && rd_peek_u8(&c, 1, &b1) && b0 == 0x16 &&
			            b1 == 0x03;
			break;
		}
	}
	if (first && rd_remaining(&c) && !rd_printable(&c, rd_remaining(&c)))
		return IDENT_NO_MATCH; /* binary from the client, no line at all */

	ident_add(ev, "imap_banner", banner, banner_len);
	if (starttls && tls_after) {
		/* The server's tagged OK to the STARTTLS command. */
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
		if (ok) {
			ident_add_u64(ev, "starttls", 1);
			ev->tls_upgrade = true;
		}
	}
	ev->server_confirmed = true;
	ev->confidence = known ? 100 : (first ? 85 : 70);
	return IDENT_MATCH;
}

const struct ident_proto ident_imap = {"imap", "IMAP (RFC 9051)", IDENT_TCP, match_imap};
