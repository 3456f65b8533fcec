/*
 * proto_ftp.c - FTP control connections (RFC 959), with AUTH TLS (RFC 4217).
 *
 * The server speaks first, a reply with code 220 (RFC 959 5.4), possibly
 * over several lines:
 *
 *   server:  "220" ("-" | SP) text CR LF       "220 (vsFTPd 3.0.3)"
 *            ["220-" text CR LF | text CR LF]* "220" SP text CR LF
 *   client:  "USER" SP name CR LF              (or AUTH, FEAT, SYST, ...)
 *            "AUTH TLS" CR LF                  (RFC 4217 4: also "AUTH SSL")
 *   server:  "234" SP text CR LF
 *   client:  16 03 xx ...                      a TLS record: the upgrade
 *
 * SMTP also greets with 220 (RFC 5321), so a 220 banner alone is not enough:
 *   - the client's first command decides when present (USER/AUTH/FEAT/SYST/
 *     PASV/...: FTP; EHLO/HELO: SMTP);
 *   - else the banner text ("FTP", "FileZilla", "Serv-U": vsFTPd, ProFTPD,
 *     Pure-FTPd all say FTP; against "SMTP", "Postfix", "Exim", "mail");
 *   - neither: wait while the client may speak, then no match.
 * A banner that names FTP wins over the client's command; one that names
 * SMTP cancels.
 */
#include "common/reader.h"
#include "identify/protocols.h"

#define FTP_LINE_MAX 1024 /* RFC 959 sets none; replies and commands are short */
#define FTP_LINES 32      /* lines of either side looked at */

enum ftp_class { FTP_NONE, FTP_IS_SMTP, FTP_IS_FTP, FTP_NEUTRAL, FTP_OTHER };

/* True when the reader (one line) contains s, ignoring case. */
static bool ftp_contains(struct reader r, const char *s)
{
	while (rd_remaining(&r)) {
		if (rd_starts_ci(&r, s))
			return true;
		rd_skip(&r, 1);
	}
	return false;
}

/* True when the line starts with the command word w (then SP or its end). */
static bool ftp_verb(const struct reader *l, const char *w)
{
	size_t n = 0;
	while (w[n])
		n++;
	uint8_t c;
	return rd_starts_ci(l, w) && (!rd_peek_u8(l, n, &c) || c == ' ');
}

/* A reply line "ddd" then SP, "-" or the line's end, code `code`. */
static bool ftp_reply(const struct reader *l, const char *code)
{
	uint8_t c;
	return rd_starts(l, code) && (!rd_peek_u8(l, 3, &c) || c == ' ' || c == '-');
}

static enum ftp_class ftp_command(const struct reader *l)
{
	static const char *const smtp_cmds[] = {"EHLO", "HELO", "MAIL", "RCPT", "DATA",
	                                        "RSET", "VRFY", "EXPN", "STARTTLS", "BDAT"};
	static const char *const ftp_cmds[] = {"USER", "PASS", "AUTH", "FEAT", "SYST", "OPTS",
	                                       "PASV", "EPSV", "EPRT", "PORT", "PWD",  "CWD",
	                                       "TYPE", "LIST", "NLST", "RETR", "STOR", "ACCT",
	                                       "HOST", "CLNT", "SITE", "PBSZ", "PROT", "SIZE"};
	static const char *const both[] = {"QUIT", "NOOP", "HELP"};
	for (size_t i = 0; i < sizeof smtp_cmds / sizeof smtp_cmds[0]; i++)
		if (ftp_verb(l, smtp_cmds[i]))
			return FTP_IS_SMTP;
	for (size_t i = 0; i < sizeof ftp_cmds / sizeof ftp_cmds[0]; i++)
		if (ftp_verb(l, ftp_cmds[i]))
			return FTP_IS_FTP;
	for (size_t i = 0; i < sizeof both / sizeof both[0]; i++)
		if (ftp_verb(l, both[i]))
			return FTP_NEUTRAL;
	return FTP_OTHER;
}

/* What the banner's text names: SMTP, FTP or neither (FTP_NEUTRAL). */
static enum ftp_class ftp_banner_class(struct reader l)
{
	static const char *const smtp_words[] = {"SMTP", "Postfix", "Exim", "Sendmail",
	                                          "Microsoft Exchange", "qmail"};
	static const char *const ftp_words[] = {"FTP", "FileZilla", "Serv-U"};
	bool smtp = false, ftp = false;
	for (size_t i = 0; i < sizeof smtp_words / sizeof smtp_words[0]; i++)
		smtp = smtp || ftp_contains(l, smtp_words[i]);
	for (size_t i = 0; i < sizeof ftp_words / sizeof ftp_words[0]; i++)
		ftp = ftp || ftp_contains(l, ftp_words[i]);
	if (smtp && !ftp)
		return FTP_IS_SMTP;
	if (ftp && !smtp)
		return FTP_IS_FTP;
	if (!smtp && !ftp && ftp_contains(l, "mail"))
		return FTP_IS_SMTP;
	return FTP_NEUTRAL;
}

static enum ident_verdict match_ftp(const struct ident_input *in, struct ident_evidence *ev)
{
	struct reader s, c;
	const uint8_t *line;
	size_t n;
	rd_init(&s, in->data[1], in->len[1]);
	rd_init(&c, in->data[0], in->len[0]);

	/* The client's commands: the first that is not neutral decides. */
	enum ftp_class cls = FTP_NONE;
	const uint8_t *user = NULL;
	size_t user_len = 0;
	bool auth_tls = false, tls_after = false;
	for (int k = 0; k < FTP_LINES && rd_line(&c, FTP_LINE_MAX, &line, &n); k++) {
		struct reader l;
		rd_init(&l, line, n);
		if (!rd_printable(&l, n)) {
			if (cls == FTP_NONE)
				cls = FTP_OTHER;
			break;
		}
		enum ftp_class lc = ftp_command(&l);
		if (cls == FTP_NONE || cls == FTP_NEUTRAL)
			cls = lc;
		if (!user && ftp_verb(&l, "USER") && n > 5) {
			rd_skip(&l, 5);
			user = rd_rest(&l, &user_len);
		} else if (n >= 8 && (rd_starts_ci(&l, "AUTH TLS") || rd_starts_ci(&l, "AUTH SSL"))) {
			/* After AUTH TLS the client's next bytes are a TLS record. */
			auth_tls = true;
			uint8_t b0, b1;
			tls_after = rd_peek_u8(&c, 0, &b0) && rd_peek_u8(&c, 1, &b1) && b0 == 0x16 &&
			            b1 == 0x03;
			break;
		}
	}
	if (cls == FTP_NONE && rd_remaining(&c) >= FTP_LINE_MAX)
		cls = FTP_OTHER; /* no line end where a command would have one */

	/* The server's banner. */
	if (!rd_line(&s, FTP_LINE_MAX, &line, &n)) {
		size_t rest = rd_remaining(&s);
		if (rest >= FTP_LINE_MAX)
			return IDENT_NO_MATCH;
		if (rest) {
			/* A partial banner: it must be heading for "220". */
			uint8_t ch;
			for (size_t i = 0; i < 3 && rd_peek_u8(&s, i, &ch); i++)
				if (ch != (uint8_t)"220"[i])
					return IDENT_NO_MATCH;
			return in->done[1] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
		}
		/* The server has not spoken (a capture of one side): the client's
		 * FTP commands with a USER are a claim. */
		if (cls != FTP_IS_FTP && cls != FTP_NONE && cls != FTP_NEUTRAL)
			return IDENT_NO_MATCH;
		if (!in->done[1] || cls != FTP_IS_FTP || !user)
			return in->done[1] && in->done[0] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
		ident_add(ev, "ftp_user", user, user_len);
		ev->confidence = 50;
		return IDENT_MATCH;
	}
	struct reader b;
	rd_init(&b, line, n);
	if (!ftp_reply(&b, "220") || !rd_printable(&b, n))
		return IDENT_NO_MATCH;
	const uint8_t *banner = line;
	size_t banner_len = n;

	/* The banner's text, over its continuation lines too. */
	enum ftp_class bcls = ftp_banner_class(b);
	bool multi = n > 3 && rd_starts(&b, "220-");
	for (int k = 0; multi && bcls == FTP_NEUTRAL && k < FTP_LINES &&
	                rd_line(&s, FTP_LINE_MAX, &line, &n);
	     k++) {
		struct reader l;
		rd_init(&l, line, n);
		if (!rd_printable(&l, n))
			break;
		bcls = ftp_banner_class(l);
		multi = !rd_starts(&l, "220 ");
	}

	bool is_ftp;
	if (bcls == FTP_IS_FTP)
		is_ftp = true;
	else if (bcls == FTP_IS_SMTP)
		is_ftp = false;
	else if (cls == FTP_IS_FTP)
		is_ftp = true;
	else if (cls == FTP_IS_SMTP || cls == FTP_OTHER)
		is_ftp = false;
	else /* undecided: the client may still name its protocol */
		return in->done[0] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
	if (!is_ftp)
		return IDENT_NO_MATCH;

	ident_add(ev, "ftp_banner", banner, banner_len);
	if (user)
		ident_add(ev, "ftp_user", user, user_len);

	/* AUTH TLS accepted (RFC 4217 4: reply 234), then the TLS record. */
	if (auth_tls && tls_after) {
		bool ok = false;
		rd_init(&s, in->data[1], in->len[1]);
		for (int k = 0; k < FTP_LINES && rd_line(&s, FTP_LINE_MAX, &line, &n); k++) {
			struct reader l;
			rd_init(&l, line, n);
			if (!rd_printable(&l, n))
				break;
			if (ftp_reply(&l, "234"))
				ok = true;
		}
		if (ok) {
			ident_add_u64(ev, "starttls", 1);
			ev->tls_upgrade = true;
		}
	}
	ev->server_confirmed = true;
	if (bcls == FTP_IS_FTP && cls == FTP_IS_FTP)
		ev->confidence = 100;
	else if (bcls == FTP_IS_FTP)
		ev->confidence = cls == FTP_NONE || cls == FTP_NEUTRAL ? 85 : 75;
	else
		ev->confidence = 90;
	return IDENT_MATCH;
}

const struct ident_proto ident_ftp = {"ftp", "FTP (RFC 959)", IDENT_TCP, match_ftp};
