/*
 * text_proto.c - helpers shared by the line-based identifiers; see
 * text_proto.h.
 */
#include "identify/text_proto.h"

bool text_contains(struct reader r, const char *s)
{
	while (rd_remaining(&r)) {
		if (rd_starts_ci(&r, s))
			return true;
		rd_skip(&r, 1);
	}
	return false;
}

bool text_verb(const struct reader *l, const char *w)
{
	size_t n = 0;
	while (w[n])
		n++;
	uint8_t c;
	return rd_starts_ci(l, w) && (!rd_peek_u8(l, n, &c) || c == ' ');
}

bool text_verb_any(const struct reader *l, const char *const *words, size_t count)
{
	/* text_verb for each word, with the line's first token read once:
	 * the bytes up to the first space or the end, which must equal a word
	 * (case-insensitively). */
	uint8_t tok[16], c;
	size_t n = 0;
	while (rd_peek_u8(l, n, &c) && c != ' ') {
		if (n == sizeof tok)
			return false; /* longer than any verb */
		tok[n++] = rd_lower_(c);
	}
	for (size_t i = 0; i < count; i++) {
		const char *w = words[i];
		if (n == 0 || rd_lower_((uint8_t)w[0]) != tok[0])
			continue;
		size_t k = 1;
		while (k < n && w[k] && rd_lower_((uint8_t)w[k]) == tok[k])
			k++;
		if (k == n && !w[k])
			return true;
	}
	return false;
}

bool text_reply(const struct reader *l, const char *code)
{
	uint8_t c;
	return rd_starts(l, code) && (!rd_peek_u8(l, 3, &c) || c == ' ' || c == '-');
}

bool text_tls_next(const struct reader *r)
{
	uint8_t b0, b1;
	return rd_peek_u8(r, 0, &b0) && rd_peek_u8(r, 1, &b1) && b0 == 0x16 && b1 == 0x03;
}

enum ident_verdict text_partial(const struct reader *s, const char *prefix, size_t max, bool done)
{
	uint8_t ch;
	for (size_t i = 0; prefix[i] && rd_peek_u8(s, i, &ch); i++)
		if (ch != (uint8_t)prefix[i])
			return IDENT_NO_MATCH;
	if (rd_remaining(s) >= max || done)
		return IDENT_NO_MATCH;
	return IDENT_NEED_MORE;
}

void text_upgraded(struct ident_evidence *ev)
{
	ident_add_u64(ev, "starttls", 1);
	ev->tls_upgrade = true;
}

bool text_client_lines(const struct ident_input *in, size_t max, int lines,
                       bool (*is_upgrade)(const uint8_t *line, size_t n), struct text_client *out)
{
	struct reader c;
	const uint8_t *line;
	size_t n;
	bool first = true;
	rd_init(&c, in->data[0], in->len[0]);
	*out = (struct text_client){.first = NULL};
	for (int k = 0; k < lines && rd_line(&c, max, &line, &n); k++) {
		struct reader l;
		rd_init(&l, line, n);
		if (!rd_printable(&l, n)) {
			if (first)
				return false;
			break;
		}
		if (first) {
			out->first = line;
			out->first_len = n;
		}
		first = false;
		if (is_upgrade(line, n)) {
			out->upgrade = line;
			out->upgrade_len = n;
			out->tls_after = text_tls_next(&c);
			break;
		}
	}
	/* Binary from the client, no line at all. A CR at the end may start
	 * the CR LF still to come: not binary (NO_MATCH is final). */
	size_t rest = rd_partial_len(&c, rd_remaining(&c));
	return !(first && rest && !rd_printable(&c, rest));
}

/* What a client command line names: SMTP, FTP, either (NEUTRAL: QUIT, NOOP,
 * HELP) or neither (OTHER). */
static enum text_220_class text_220_command(const struct reader *l)
{
	static const char *const smtp_cmds[] = {"EHLO", "HELO", "MAIL", "RCPT", "DATA",
	                                        "RSET", "VRFY", "EXPN", "STARTTLS", "BDAT"};
	static const char *const ftp_cmds[] = {"USER", "PASS", "AUTH", "FEAT", "SYST", "OPTS",
	                                       "PASV", "EPSV", "EPRT", "PORT", "PWD",  "CWD",
	                                       "TYPE", "LIST", "NLST", "RETR", "STOR", "ACCT",
	                                       "HOST", "CLNT", "SITE", "PBSZ", "PROT", "SIZE"};
	static const char *const both[] = {"QUIT", "NOOP", "HELP"};
	if (text_verb_any(l, smtp_cmds, sizeof smtp_cmds / sizeof smtp_cmds[0]))
		return TEXT_220_SMTP;
	if (text_verb_any(l, ftp_cmds, sizeof ftp_cmds / sizeof ftp_cmds[0]))
		return TEXT_220_FTP;
	if (text_verb_any(l, both, sizeof both / sizeof both[0]))
		return TEXT_220_NEUTRAL;
	return TEXT_220_OTHER;
}

/* What the banner's text names: SMTP, FTP or neither (NEUTRAL). */
static enum text_220_class text_220_banner_class(struct reader l)
{
	static const char *const smtp_words[] = {"SMTP", "Postfix", "Exim", "Sendmail",
	                                         "Microsoft Exchange", "qmail"};
	static const char *const ftp_words[] = {"FTP", "FileZilla", "Serv-U"};
	bool smtp = false, ftp = false;
	for (size_t i = 0; i < sizeof smtp_words / sizeof smtp_words[0]; i++)
		smtp = smtp || text_contains(l, smtp_words[i]);
	for (size_t i = 0; i < sizeof ftp_words / sizeof ftp_words[0]; i++)
		ftp = ftp || text_contains(l, ftp_words[i]);
	if (smtp && !ftp)
		return TEXT_220_SMTP;
	if (ftp && !smtp)
		return TEXT_220_FTP;
	if (!smtp && !ftp && text_contains(l, "mail"))
		return TEXT_220_SMTP;
	return TEXT_220_NEUTRAL;
}

/* The client's commands. settle: only the class is wanted, and only
 * whether it is spec->want: the reading stops once it is another (it
 * never changes after), which spares a long client stream line after
 * line of verb comparisons when the server never spoke. */
static void text_220_client(const struct ident_input *in, const struct text_220_spec *spec,
                            bool settle, struct text_220_client *out)
{
	struct reader c;
	const uint8_t *line;
	size_t n;
	rd_init(&c, in->data[0], in->len[0]);
	*out = (struct text_220_client){.cls = TEXT_220_NONE};
	for (int k = 0; k < TEXT_220_LINES && rd_line(&c, TEXT_220_LINE_MAX, &line, &n); k++) {
		struct reader l;
		rd_init(&l, line, n);
		if (!rd_printable(&l, n)) {
			if (out->cls == TEXT_220_NONE)
				out->cls = TEXT_220_OTHER;
			break;
		}
		enum text_220_class lc = text_220_command(&l);
		if (out->cls == TEXT_220_NONE || out->cls == TEXT_220_NEUTRAL)
			out->cls = lc;
		if (settle && out->cls != TEXT_220_NEUTRAL && out->cls != spec->want)
			return;
		if (!out->arg && text_verb_any(&l, spec->arg_verbs, spec->n_arg_verbs) && n > 5) {
			rd_skip(&l, 5); /* the 4-letter verb and its SP */
			out->arg = rd_rest(&l, &out->arg_len);
		} else if (spec->is_upgrade(&l, n)) {
			/* After the upgrade command the client's next bytes are a
			 * TLS record. */
			out->upgrade = true;
			out->tls_after = text_tls_next(&c);
			break;
		}
	}
	if (out->cls == TEXT_220_NONE && rd_remaining(&c) >= TEXT_220_LINE_MAX)
		out->cls = TEXT_220_OTHER; /* no line end where a command would have one */
}

enum text_220_read {
	TEXT_220_BANNER, /* a 220 banner: out is set */
	TEXT_220_SILENT, /* the server has not spoken */
	TEXT_220_WAIT,   /* a partial banner heading for "220" */
	TEXT_220_REJECT  /* not a 220 banner */
};

static enum text_220_read text_220_banner(const struct ident_input *in, struct text_220_banner *out)
{
	struct reader s, b;
	const uint8_t *line;
	size_t n;
	rd_init(&s, in->data[1], in->len[1]);
	if (!rd_remaining(&s))
		return TEXT_220_SILENT;
	/* Whole line or partial, it starts "220": the first bytes decide
	 * before any search for the line end (binary replies are common). */
	uint8_t ch;
	for (size_t i = 0; i < 3 && rd_peek_u8(&s, i, &ch); i++)
		if (ch != (uint8_t)"220"[i])
			return TEXT_220_REJECT;
	if (!rd_line(&s, TEXT_220_LINE_MAX, &line, &n)) {
		/* A partial banner: it must be heading for "220". */
		return text_partial(&s, "220", TEXT_220_LINE_MAX, in->done[1]) == IDENT_NEED_MORE
		           ? TEXT_220_WAIT
		           : TEXT_220_REJECT;
	}
	rd_init(&b, line, n);
	if (!text_reply(&b, "220") || !rd_printable(&b, n))
		return TEXT_220_REJECT;
	out->line = line;
	out->len = n;

	/* The banner's text, over its continuation lines too. */
	out->cls = text_220_banner_class(b);
	bool multi = n > 3 && rd_starts(&b, "220-");
	int k = 0;
	for (; multi && out->cls == TEXT_220_NEUTRAL && k < TEXT_220_LINES &&
	       rd_line(&s, TEXT_220_LINE_MAX, &line, &n);
	     k++) {
		struct reader l;
		rd_init(&l, line, n);
		if (!rd_printable(&l, n)) {
			multi = false;
			break;
		}
		out->cls = text_220_banner_class(l);
		multi = !rd_starts(&l, "220 ");
	}
	/* A multi-line banner that names neither yet and whose next line is
	 * still to come: a later line may name one (NONE: undecided, so that
	 * text_220_decide does not rule out what it may still name). */
	if (multi && out->cls == TEXT_220_NEUTRAL && k < TEXT_220_LINES && !in->done[1] &&
	    rd_remaining(&s) < TEXT_220_LINE_MAX)
		out->cls = TEXT_220_NONE;
	return TEXT_220_BANNER;
}

/* The protocol a 220 banner is confused with: SMTP for FTP and back. */
static enum text_220_class text_220_other(enum text_220_class want)
{
	return want == TEXT_220_SMTP ? TEXT_220_FTP : TEXT_220_SMTP;
}

/* The server is done without a word: the client's commands alone are a
 * claim for `want` when they name `want` (`enough`: with what the protocol
 * needs besides). */
static enum ident_verdict text_220_claim(const struct ident_input *in, enum text_220_class cls,
                                         enum text_220_class want, bool enough)
{
	if (cls == text_220_other(want) || cls == TEXT_220_OTHER)
		return IDENT_NO_MATCH;
	if (cls != want || !enough)
		return in->done[0] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
	return IDENT_MATCH;
}

enum ident_verdict text_220_read(const struct ident_input *in, const struct text_220_spec *spec,
                                 struct text_220_client *cl, struct text_220_banner *b)
{
	*b = (struct text_220_banner){.line = NULL, .cls = TEXT_220_NONE};
	enum text_220_read r = text_220_banner(in, b);
	if (r == TEXT_220_REJECT || r == TEXT_220_WAIT)
		return r == TEXT_220_WAIT ? IDENT_NEED_MORE : IDENT_NO_MATCH; /* cl unused */
	/* A banner that names `want` wins over the client's commands: while
	 * it may still come, they rule nothing out (NO_MATCH is final), and
	 * are not even read (cl unused). */
	if (r == TEXT_220_SILENT && !in->done[1])
		return IDENT_NEED_MORE;
	/* silent, and done: the client's commands alone may be a claim, and
	 * when they name anything but `want`, cl is not used (NO_MATCH) */
	text_220_client(in, spec, r != TEXT_220_BANNER, cl);
	if (r == TEXT_220_BANNER)
		return IDENT_MATCH;
	return text_220_claim(in, cl->cls, spec->want, !spec->claim_needs_arg || cl->arg != NULL);
}

int text_220_server_count(const struct ident_input *in,
                          bool (*pred)(const struct reader *l, size_t n))
{
	struct reader s;
	const uint8_t *line;
	size_t n;
	int count = 0;
	rd_init(&s, in->data[1], in->len[1]);
	for (int k = 0; k < TEXT_220_LINES && rd_line(&s, TEXT_220_LINE_MAX, &line, &n); k++) {
		struct reader l;
		rd_init(&l, line, n);
		if (!rd_printable(&l, n))
			break;
		if (pred(&l, n))
			count++;
	}
	return count;
}

enum ident_verdict text_220_decide(const struct ident_input *in, enum text_220_class bcls,
                                   enum text_220_class cls, enum text_220_class want)
{
	enum text_220_class other = text_220_other(want);
	if (bcls == want)
		return IDENT_MATCH;
	if (bcls == other)
		return IDENT_NO_MATCH;
	if (cls == want)
		return IDENT_MATCH;
	/* A banner still open (NONE) may yet name `want`: no verdict against
	 * it before its end (NO_MATCH is final). */
	if (bcls == TEXT_220_NONE)
		return IDENT_NEED_MORE;
	if (cls == other || cls == TEXT_220_OTHER)
		return IDENT_NO_MATCH;
	/* undecided: the client may still name its protocol */
	return in->done[0] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
}

uint8_t text_220_confidence(enum text_220_class bcls, enum text_220_class cls,
                            enum text_220_class want)
{
	if (bcls == want && cls == want)
		return 100;
	if (bcls == want)
		return cls == TEXT_220_NONE || cls == TEXT_220_NEUTRAL ? 85 : 75;
	return 90;
}
