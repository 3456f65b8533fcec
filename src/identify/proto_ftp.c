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
#include "identify/text_proto.h"

/* AUTH TLS, or AUTH SSL (RFC 4217 4), with or without more on the line. */
static bool ftp_auth_tls(const struct reader *l, size_t n)
{
	return n >= 8 && (rd_starts_ci(l, "AUTH TLS") || rd_starts_ci(l, "AUTH SSL"));
}

/* The reply accepting AUTH TLS (RFC 4217 4). */
static bool ftp_234(const struct reader *l, size_t n)
{
	(void)n;
	return text_reply(l, "234");
}

static enum ident_verdict match_ftp(const struct ident_input *in, struct ident_evidence *ev)
{
	static const char *const user_verbs[] = {"USER"};
	static const struct text_220_spec spec = {TEXT_220_FTP, user_verbs,
	                                          sizeof user_verbs / sizeof user_verbs[0],
	                                          ftp_auth_tls, true};
	struct text_220_client cl;
	struct text_220_banner b;
	enum ident_verdict v = text_220_read(in, &spec, &cl, &b);
	if (v != IDENT_MATCH)
		return v;
	if (!b.line) {
		/* The server has not spoken (a capture of one side): the client's
		 * FTP commands with a USER are a claim. */
		ident_add(ev, "ftp_user", cl.arg, cl.arg_len);
		ev->confidence = 50;
		return IDENT_MATCH;
	}

	v = text_220_decide(in, b.cls, cl.cls, TEXT_220_FTP);
	if (v != IDENT_MATCH)
		return v;

	ident_add(ev, "ftp_banner", b.line, b.len);
	if (cl.arg)
		ident_add(ev, "ftp_user", cl.arg, cl.arg_len);

	/* AUTH TLS accepted (reply 234), then the TLS record. */
	if (cl.upgrade && cl.tls_after && text_220_server_count(in, ftp_234) > 0)
		text_upgraded(ev);
	ev->server_confirmed = true;
	ev->confidence = text_220_confidence(b.cls, cl.cls, TEXT_220_FTP);
	return IDENT_MATCH;
}

const struct ident_proto ident_ftp = {"ftp", "FTP (RFC 959)", IDENT_TCP, match_ftp, NULL, NULL};
