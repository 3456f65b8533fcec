/*
 * proto_smtp.c - SMTP (RFC 5321), with STARTTLS (RFC 3207).
 *
 * The server speaks first, a reply with code 220 (RFC 5321 4.2, 4.3.1),
 * possibly over several lines:
 *
 *   server:  "220" ("-" | SP) text CR LF     "220 mx.example.org ESMTP Postfix"
 *            ["220-" text CR LF]* "220" SP text CR LF
 *   client:  "EHLO" SP domain CR LF            (or HELO)
 *            ... "STARTTLS" CR LF
 *   server:  "220" SP "2.0.0 Ready to start TLS" CR LF
 *   client:  16 03 xx ...                     a TLS record: the upgrade
 *
 * FTP also greets with 220 (RFC 959), so a 220 banner alone is not enough:
 *   - the client's first command decides when present (EHLO/HELO: SMTP;
 *     USER/AUTH/FEAT/SYST/...: FTP);
 *   - else the banner text ("ESMTP", "SMTP", "Postfix", "Exim", "Sendmail",
 *     "mail" against "FTP", "FileZilla", ...);
 *   - neither: wait while the client may speak, then no match.
 * A banner that names SMTP wins over the client's command (an FTP client at
 * an SMTP server is an SMTP flow); one that names FTP cancels.
 */
#include "common/reader.h"
#include "identify/protocols.h"

#define SMTP_LINE_MAX 1024 /* RFC 5321 4.5.3.1.5: 512 for replies; be lenient */
#define SMTP_LINES 32      /* lines of either side looked at */

enum smtp_class { SMTP_NONE, SMTP_IS_SMTP, SMTP_IS_FTP, SMTP_NEUTRAL, SMTP_OTHER };

/* True when the reader (one line) contains s, ignoring case. */
static bool smtp_contains(struct reader r, const char *s)
{
	while (rd_remaining(&r)) {
		if (rd_starts_ci(&r, s))
			return true;
		rd_skip(&r, 1);
	}
	return false;
}

/* True when the line starts with the command word w (then SP or its end). */
static bool smtp_verb(const struct reader *l, const char *w)
{
	size_t n = 0;
	while (w[n])
		n++;
	uint8_t c;
	return rd_starts_ci(l, w) && (!rd_peek_u8(l, n, &c) || c == ' ');
}

/* A reply line "ddd" then SP, "-" or the line's end, code `code`. */
static bool smtp_reply(const struct reader *l, const char *code)
{
	uint8_t c;
	return rd_starts(l, code) && (!rd_peek_u8(l, 3, &c) || c == ' ' || c == '-');
}

static enum smtp_class smtp_command(const struct reader *l)
{
	static const char *const smtp_cmds[] = {"EHLO", "HELO", "MAIL", "RCPT", "DATA",
	                                        "RSET", "VRFY", "EXPN", "STARTTLS", "BDAT"};
	static const char *const ftp_cmds[] = {"USER", "PASS", "AUTH", "FEAT", "SYST", "OPTS",
	                                       "PASV", "EPSV", "EPRT", "PORT", "PWD",  "CWD",
	                                       "TYPE", "LIST", "NLST", "RETR", "STOR", "ACCT",
	                                       "HOST", "CLNT", "SITE", "PBSZ", "PROT", "SIZE"};
	static const char *const both[] = {"QUIT", "NOOP", "HELP"};
	for (size_t i = 0; i < sizeof smtp_cmds / sizeof smtp_cmds[0]; i++)
		if (smtp_verb(l, smtp_cmds[i]))
			return SMTP_IS_SMTP;
	for (size_t i = 0; i < sizeof ftp_cmds / sizeof ftp_cmds[0]; i++)
		if (smtp_verb(l, ftp_cmds[i]))
			return SMTP_IS_FTP;
	for (size_t i = 0; i < sizeof both / sizeof both[0]; i++)
		if (smtp_verb(l, both[i]))
			return SMTP_NEUTRAL;
	return SMTP_OTHER;
}

/* What the banner's text names: SMTP, FTP or neither (SMTP_NEUTRAL). */
static enum smtp_class smtp_banner_class(struct reader l)
{
	static const char *const smtp_words[] = {"SMTP", "Postfix", "Exim", "Sendmail",
	                                         "Microsoft Exchange", "qmail"};
	static const char *const ftp_words[] = {"FTP", "FileZilla", "Serv-U"};
	bool smtp = false, ftp = false;
	for (size_t i = 0; i < sizeof smtp_words / sizeof smtp_words[0]; i++)
		smtp = smtp || smtp_contains(l, smtp_words[i]);
	for (size_t i = 0; i < sizeof ftp_words / sizeof ftp_words[0]; i++)
		ftp = ftp || smtp_contains(l, ftp_words[i]);
	if (smtp && !ftp)
		return SMTP_IS_SMTP;
	if (ftp && !smtp)
		return SMTP_IS_FTP;
	if (!smtp && !ftp && smtp_contains(l, "mail"))
		return SMTP_IS_SMTP;
	return SMTP_NEUTRAL;
}

static enum ident_verdict match_smtp(const struct ident_input *in, struct ident_evidence *ev)
{
	struct reader s, c;
	const uint8_t *line;
	size_t n;
	rd_init(&s, in->data[1], in->len[1]);
	rd_init(&c, in->data[0], in->len[0]);

	/* The client's commands: the first that is not neutral decides. */
	enum smtp_class cls = SMTP_NONE;
	const uint8_t *helo = NULL;
	size_t helo_len = 0;
	bool starttls = false, tls_after = false;
	for (int k = 0; k < SMTP_LINES && rd_line(&c, SMTP_LINE_MAX, &line, &n); k++) {
		struct reader l;
		rd_init(&l, line, n);
		if (!rd_printable(&l, n)) {
			if (cls == SMTP_NONE)
				cls = SMTP_OTHER;
			break;
		}
		enum smtp_class lc = smtp_command(&l);
		if (cls == SMTP_NONE || cls == SMTP_NEUTRAL)
			cls = lc;
		if (!helo && (smtp_verb(&l, "EHLO") || smtp_verb(&l, "HELO")) && n > 5) {
			rd_skip(&l, 5);
			helo = rd_rest(&l, &helo_len);
		} else if (n == 8 && smtp_verb(&l, "STARTTLS")) {
			/* After STARTTLS the client's next bytes are a TLS record. */
			starttls = true;
			uint8_t b0, b1;
			tls_after = rd_peek_u8(&c, 0, &b0) && rd_peek_u8(&c, 1, &b1) && b0 == 0x16 &&
			            b1 == 0x03;
			break;
		}
	}
	if (cls == SMTP_NONE && rd_remaining(&c) >= SMTP_LINE_MAX)
		cls = SMTP_OTHER; /* no line end where a command would have one */

	/* The server's banner. */
	if (!rd_line(&s, SMTP_LINE_MAX, &line, &n)) {
		size_t rest = rd_remaining(&s);
		if (rest >= SMTP_LINE_MAX)
			return IDENT_NO_MATCH;
		if (rest) {
			/* A partial banner: it must be heading for "220". */
			uint8_t ch;
			for (size_t i = 0; i < 3 && rd_peek_u8(&s, i, &ch); i++)
				if (ch != (uint8_t)"220"[i])
					return IDENT_NO_MATCH;
			return in->done[1] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
		}
		/* The server has not spoken: EHLO from the client is a claim. */
		if (cls == SMTP_IS_FTP || cls == SMTP_OTHER)
			return IDENT_NO_MATCH;
		if (!in->done[1] || cls != SMTP_IS_SMTP)
			return in->done[1] && in->done[0] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
		if (helo)
			ident_add(ev, "smtp_helo", helo, helo_len);
		ev->confidence = 50;
		return IDENT_MATCH;
	}
	struct reader b;
	rd_init(&b, line, n);
	if (!smtp_reply(&b, "220") || !rd_printable(&b, n))
		return IDENT_NO_MATCH;
	const uint8_t *banner = line;
	size_t banner_len = n;

	/* The banner's text, over its continuation lines too. */
	enum smtp_class bcls = smtp_banner_class(b);
	bool multi = n > 3 && rd_starts(&b, "220-");
	for (int k = 0; multi && bcls == SMTP_NEUTRAL && k < SMTP_LINES &&
	                rd_line(&s, SMTP_LINE_MAX, &line, &n);
	     k++) {
		struct reader l;
		rd_init(&l, line, n);
		if (!rd_printable(&l, n))
			break;
		bcls = smtp_banner_class(l);
		multi = !rd_starts(&l, "220 ");
	}

	/* Every later server line is a reply too (RFC 5321 4.2: each line of
	 * a reply starts with its code), up to TLS after STARTTLS: a server
	 * that mimics a banner and then talks otherwise is not SMTP. */
	{
		struct reader t;
		rd_init(&t, in->data[1], in->len[1]);
		for (int k = 0; k < SMTP_LINES && rd_line(&t, SMTP_LINE_MAX, &line, &n); k++) {
			struct reader l;
			rd_init(&l, line, n);
			if (!rd_printable(&l, n))
				break;
			uint8_t d0, d1, d2;
			if (!rd_peek_u8(&l, 0, &d0) || !rd_peek_u8(&l, 1, &d1) || !rd_peek_u8(&l, 2, &d2) ||
			    d0 < '2' || d0 > '5' || d1 < '0' || d1 > '9' || d2 < '0' || d2 > '9')
				return IDENT_NO_MATCH;
		}
	}

	bool is_smtp;
	if (bcls == SMTP_IS_SMTP)
		is_smtp = true;
	else if (bcls == SMTP_IS_FTP)
		is_smtp = false;
	else if (cls == SMTP_IS_SMTP)
		is_smtp = true;
	else if (cls == SMTP_IS_FTP || cls == SMTP_OTHER)
		is_smtp = false;
	else /* undecided: the client may still name its protocol */
		return in->done[0] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
	if (!is_smtp)
		return IDENT_NO_MATCH;

	ident_add(ev, "smtp_banner", banner, banner_len);
	if (helo)
		ident_add(ev, "smtp_helo", helo, helo_len);

	/* STARTTLS accepted: a second final 220 reply (the banner's is the
	 * first), then the client's TLS record. */
	if (starttls && tls_after) {
		int finals = 0;
		rd_init(&s, in->data[1], in->len[1]);
		for (int k = 0; k < SMTP_LINES && rd_line(&s, SMTP_LINE_MAX, &line, &n); k++) {
			struct reader l;
			rd_init(&l, line, n);
			if (!rd_printable(&l, n))
				break;
			if (rd_starts(&l, "220 ") || (n == 3 && rd_starts(&l, "220")))
				finals++;
		}
		if (finals >= 2) {
			ident_add_u64(ev, "starttls", 1);
			ev->tls_upgrade = true;
		}
	}
	ev->server_confirmed = true;
	if (bcls == SMTP_IS_SMTP && cls == SMTP_IS_SMTP)
		ev->confidence = 100;
	else if (bcls == SMTP_IS_SMTP)
		ev->confidence = cls == SMTP_NONE || cls == SMTP_NEUTRAL ? 85 : 75;
	else
		ev->confidence = 90;
	return IDENT_MATCH;
}

const struct ident_proto ident_smtp = {"smtp", "SMTP (RFC 5321)", IDENT_TCP, match_smtp};
