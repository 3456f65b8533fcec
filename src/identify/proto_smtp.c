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
#include "identify/text_proto.h"

/* STARTTLS alone on its line. */
static bool smtp_starttls(const struct reader *l, size_t n)
{
	return n == 8 && text_verb(l, "STARTTLS");
}

/* Not a reply line: RFC 5321 4.2 starts each line of a reply with its code,
 * "2xx" to "5xx". */
static bool smtp_not_reply(const struct reader *l, size_t n)
{
	(void)n;
	uint8_t d0, d1, d2;
	return !rd_peek_u8(l, 0, &d0) || !rd_peek_u8(l, 1, &d1) || !rd_peek_u8(l, 2, &d2) ||
	       d0 < '2' || d0 > '5' || d1 < '0' || d1 > '9' || d2 < '0' || d2 > '9';
}

/* The last line of a 220 reply. */
static bool smtp_final_220(const struct reader *l, size_t n)
{
	return rd_starts(l, "220 ") || (n == 3 && rd_starts(l, "220"));
}

static enum ident_verdict match_smtp(const struct ident_input *in, struct ident_evidence *ev)
{
	static const char *const helo_verbs[] = {"EHLO", "HELO"};
	static const struct text_220_spec spec = {TEXT_220_SMTP, helo_verbs,
	                                          sizeof helo_verbs / sizeof helo_verbs[0],
	                                          smtp_starttls, false};
	struct text_220_client cl;
	struct text_220_banner b;
	enum ident_verdict v = text_220_read(in, &spec, &cl, &b);
	if (v != IDENT_MATCH)
		return v;
	if (!b.line) {
		/* The server has not spoken: EHLO from the client is a claim. */
		if (cl.arg)
			ident_add(ev, "smtp_helo", cl.arg, cl.arg_len);
		ev->confidence = 50;
		return IDENT_MATCH;
	}

	/* Every later server line is a reply too, up to TLS after STARTTLS: a
	 * server that mimics a banner and then talks otherwise is not SMTP. */
	if (text_220_server_count(in, smtp_not_reply))
		return IDENT_NO_MATCH;

	v = text_220_decide(in, b.cls, cl.cls, TEXT_220_SMTP);
	if (v != IDENT_MATCH)
		return v;

	ident_add(ev, "smtp_banner", b.line, b.len);
	if (cl.arg)
		ident_add(ev, "smtp_helo", cl.arg, cl.arg_len);

	/* STARTTLS accepted: a second final 220 reply (the banner's is the
	 * first), then the client's TLS record. */
	if (cl.upgrade && cl.tls_after && text_220_server_count(in, smtp_final_220) >= 2)
		text_upgraded(ev);
	ev->server_confirmed = true;
	ev->confidence = text_220_confidence(b.cls, cl.cls, TEXT_220_SMTP);
	return IDENT_MATCH;
}

const struct ident_proto ident_smtp = {"smtp", "SMTP (RFC 5321)", IDENT_TCP, match_smtp, NULL, NULL};
