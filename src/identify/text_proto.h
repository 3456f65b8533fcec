/*
 * text_proto.h - helpers shared by the line-based identifiers (SMTP, FTP,
 * IMAP, POP3): command words, reply codes, greetings and the client's
 * command lines; and dgram_first, the inline look at a direction's first
 * datagram that the UDP identifiers' cheap NO_MATCH tests begin with.
 * Private to src/identify/; text_proto.c.
 *
 * SMTP and FTP both greet with a "220" reply, so their identifiers read the
 * same banner and tell the two apart the same way, each from its own side
 * (the `want` arguments): the text_220_* functions hold that common logic
 * so that the two can never drift apart.
 */
#ifndef OFFPORT_IDENTIFY_TEXT_PROTO_H
#define OFFPORT_IDENTIFY_TEXT_PROTO_H

#include "common/reader.h"
#include "identify/identify.h"

/* ---- the first datagram (UDP identifiers) ------------------------------- */

/* ident_dgram(in, d, 0, out), inline: a reader over the bytes kept of
 * direction d's first datagram; false when there is none. Cheap enough to
 * run first in every identifier, on every flow. */
static inline bool dgram_first(const struct ident_input *in, int d, struct reader *out)
{
	if (!in->ndgrams[d] || !in->len[d])
		return false;
	struct reader r;
	rd_init(&r, in->data[d], in->len[d]);
	size_t n = in->dgram_len[d][0];
	*out = rd_sub(&r, n < in->len[d] ? n : in->len[d]);
	return true;
}

/* The length of direction d's first datagram, bounded by the bytes kept
 * (0 when there is none): what an identifier that reads the datagram
 * through a plain pointer may read. The stream module keeps the two
 * consistent; this makes the bound local. */
static inline size_t dgram_first_len(const struct ident_input *in, int d)
{
	if (!in->ndgrams[d])
		return 0;
	size_t n = in->dgram_len[d][0];
	return n < in->len[d] ? n : in->len[d];
}

/* ---- words and lines ---------------------------------------------------- */

/* True when the reader (one line) contains s, ignoring case. */
bool text_contains(struct reader r, const char *s);

/* True when the line starts with the command word w (then SP or its end),
 * ignoring case. */
bool text_verb(const struct reader *l, const char *w);

/* True when the line starts with one of the `count` command words. */
bool text_verb_any(const struct reader *l, const char *const *words, size_t count);

/* A reply line "ddd" then SP, "-" or the line's end, code `code`. */
bool text_reply(const struct reader *l, const char *code);

/* True when the unread bytes start with a TLS handshake record header
 * (16 03): what a client sends right after an accepted STARTTLS-like
 * command. */
bool text_tls_next(const struct reader *r);

/* The verdict for a greeting without its line end yet (the reader at the
 * server's unread bytes): no match when `max` bytes went by
 * without one, when the bytes stray from `prefix`, or when the server is
 * done (`done`); else wait for more. */
enum ident_verdict text_partial(const struct reader *s, const char *prefix, size_t max, bool done);

/* Records an accepted upgrade to TLS (STARTTLS, STLS, AUTH TLS) the same
 * way for every text protocol. */
void text_upgraded(struct ident_evidence *ev);

/* ---- the client's lines (IMAP, POP3) ------------------------------------ */

struct text_client {
	const uint8_t *first;   /* the client's first line, NULL when none */
	size_t first_len;
	const uint8_t *upgrade; /* the upgrade command's line, NULL when none */
	size_t upgrade_len;
	bool tls_after;         /* a TLS record follows the upgrade command */
};

/* Reads up to `lines` client lines of at most `max` bytes, up to the first
 * one `is_upgrade` accepts (STARTTLS, STLS). False when the client's bytes
 * are binary before any text line: these clients send only text lines
 * before TLS. */
bool text_client_lines(const struct ident_input *in, size_t max, int lines,
                       bool (*is_upgrade)(const uint8_t *line, size_t n), struct text_client *out);

/* ---- the "220" banner: SMTP against FTP --------------------------------- */

/* RFC 5321 4.5.3.1.5 allows 512 for SMTP replies and RFC 959 sets none for
 * FTP (replies and commands are short); be lenient. */
#define TEXT_220_LINE_MAX 1024
#define TEXT_220_LINES 32 /* lines of either side looked at */

enum text_220_class {
	TEXT_220_NONE,    /* no command yet */
	TEXT_220_SMTP,
	TEXT_220_FTP,
	TEXT_220_NEUTRAL, /* names either or neither */
	TEXT_220_OTHER    /* binary, or no command of either */
};

struct text_220_client {
	enum text_220_class cls; /* the first command that is not neutral */
	const uint8_t *arg;      /* the argument of the first `arg_verbs` command */
	size_t arg_len;
	bool upgrade;            /* the upgrade command was sent */
	bool tls_after;          /* and a TLS record follows it */
};

struct text_220_banner {
	const uint8_t *line; /* the banner's first line; NULL: the server is silent */
	size_t len;
	enum text_220_class cls; /* what its text names, over continuation lines too */
};

/* What tells one 220 protocol's identifier from the other's. */
struct text_220_spec {
	enum text_220_class want;      /* TEXT_220_SMTP or TEXT_220_FTP */
	const char *const *arg_verbs;  /* 4-letter commands whose argument is kept */
	size_t n_arg_verbs;            /* (EHLO/HELO, USER) */
	bool (*is_upgrade)(const struct reader *l, size_t n); /* STARTTLS, AUTH TLS */
	bool claim_needs_arg;          /* a silent server's flow is claimed only
	                                  with an arg_verbs command (FTP's USER) */
};

/* Reads the client's commands and the server's 220 banner.
 *
 * The client's commands: the first that is not neutral decides cl->cls;
 * binary, or no line end where a command would have one, is OTHER.
 *
 * IDENT_MATCH with b->line set: a 220 banner, for text_220_decide.
 * IDENT_MATCH with b->line NULL: the server has not spoken and is done, and
 * the client's commands alone claim `want` (a capture of one side).
 * Otherwise the verdict: not a 220 banner, or wait for more. */
enum ident_verdict text_220_read(const struct ident_input *in, const struct text_220_spec *spec,
                                 struct text_220_client *cl, struct text_220_banner *b);

/* How many of the server's lines `pred` accepts, among the first
 * TEXT_220_LINES up to the first that is not text (TLS after an upgrade). */
int text_220_server_count(const struct ident_input *in,
                          bool (*pred)(const struct reader *l, size_t n));

/* Banner and commands together: a banner that names a protocol wins, else
 * the client's commands decide; neither waits while the client may speak.
 * IDENT_MATCH when they make the flow `want`. */
enum ident_verdict text_220_decide(const struct ident_input *in, enum text_220_class bcls,
                                   enum text_220_class cls, enum text_220_class want);

/* The confidence of a `want` match decided by text_220_decide. */
uint8_t text_220_confidence(enum text_220_class bcls, enum text_220_class cls,
                            enum text_220_class want);

#endif
