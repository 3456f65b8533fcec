/*
 * proto_memcached.c - memcached, text and binary protocols (memcached
 * protocol.txt; "Memcache Binary Protocol" wiki / draft).
 *
 * Text protocol: the client speaks first, lower-case command lines ending
 * in CR LF (commands are case sensitive):
 *
 *   get|gets <key>*            retrieval
 *   set|add|replace|append|prepend <key> <flags> <exptime> <bytes> [noreply]
 *                              storage: then <bytes> bytes of data, CR LF
 *   delete incr decr touch stats version verbosity flush_all quit
 *
 * the server answers with an upper-case reply word:
 *   VALUE <key> <flags> <bytes>   END   STORED   NOT_STORED   EXISTS
 *   NOT_FOUND   DELETED   TOUCHED   OK   VERSION x   STAT x y   ERROR
 *   CLIENT_ERROR x   SERVER_ERROR x   or a number (incr/decr)
 *
 * Binary protocol: 24-byte header, big endian:
 *   magic(1: 0x80 request, 0x81 response) opcode(1) key length(2)
 *   extras length(1) data type(1, 0) vbucket/status(2) total body(4)
 *   opaque(4) cas(8);  key + extras <= total body; the response echoes
 *   the opcode and the opaque.
 *
 * A text command is claimed with the server's reply; a storage command
 * whose data block is exactly as long as announced is claimed alone.
 */
#include "common/reader.h"
#include "identify/identify.h"

#define MC_LINE_MAX 2048

static const char *const mc_commands[] = {
    "get", "gets", "gat", "gats", "set", "add", "replace", "append", "prepend", "cas", "delete",
    "incr", "decr", "touch", "stats", "version", "verbosity", "flush_all", "quit", "mg", "ms",
    "md", "ma", "mn", "me",
};

static const char *const mc_replies[] = {
    "VALUE ", "END", "STORED", "NOT_STORED", "EXISTS", "NOT_FOUND", "DELETED", "TOUCHED", "OK",
    "VERSION ", "STAT ", "ERROR", "CLIENT_ERROR ", "SERVER_ERROR ", "HD", "VA ", "EN", "NF",
    "NS", "MN",
};

/* The command word of a text line: an index into mc_commands or -1. */
static int mc_command(const uint8_t *line, size_t n, size_t *wl)
{
	struct reader l;
	rd_init(&l, line, n);
	size_t i = 0;
	uint8_t c;
	while (rd_peek_u8(&l, i, &c) && c != ' ')
		i++;
	*wl = i;
	/* Every command starts with a lower-case letter: a word that does
	 * not (HTTP's "GET", a TLS record) equals none of them, and the walk
	 * over the table below would only find that out 25 times. */
	uint8_t c0;
	if (!rd_peek_u8(&l, 0, &c0) || c0 < 'a' || c0 > 'z')
		return -1;
	for (size_t k = 0; k < sizeof mc_commands / sizeof mc_commands[0]; k++) {
		if ((uint8_t)mc_commands[k][0] != c0)
			continue; /* differs in its first letter */
		size_t j = 0;
		while (mc_commands[k][j] && j < i && rd_peek_u8(&l, j, &c) &&
		       c == (uint8_t)mc_commands[k][j])
			j++;
		if (j == i && !mc_commands[k][j])
			return (int)k;
	}
	return -1;
}

/* A storage command's <bytes> argument (the 4th word), or -1. */
static long mc_storage_bytes(const uint8_t *line, size_t n)
{
	struct reader l;
	rd_init(&l, line, n);
	int word = 0;
	long v = -1;
	bool in_word = false;
	while (rd_remaining(&l)) {
		uint8_t c = rd_u8(&l);
		if (c == ' ') {
			in_word = false;
			continue;
		}
		if (!in_word) {
			in_word = true;
			word++;
			if (word == 5)
				v = 0;
		}
		if (word >= 2 && word <= 5 && word != 2 && (c < '0' || c > '9'))
			return -1;
		if (word == 5) {
			v = v * 10 + (c - '0');
			if (v > 1048576)
				return -1;
		}
	}
	return word == 5 || word == 6 ? v : -1;
}

enum mc_parse { MC_BAD, MC_SHORT, MC_OK };

/* An unfinished line: printable, possibly ending in the CR of its CR LF
 * (the LF may be in the next segment: NO_MATCH is final). */
static bool mc_partial(const struct reader *r)
{
	size_t rest = rd_remaining(r);
	if (rest >= MC_LINE_MAX)
		return false;
	return rd_printable(r, rd_partial_len(r, rest));
}

static enum mc_parse mc_text_reply(const struct ident_input *in)
{
	struct reader r;
	rd_init(&r, in->data[1], in->len[1]);
	const uint8_t *line;
	size_t n;
	if (!rd_line(&r, MC_LINE_MAX, &line, &n))
		return mc_partial(&r) && !in->done[1] ? MC_SHORT : MC_BAD;
	struct reader l;
	rd_init(&l, line, n);
	if (!rd_printable(&l, n) || n == 0)
		return MC_BAD;
	for (size_t k = 0; k < sizeof mc_replies / sizeof mc_replies[0]; k++) {
		size_t j = 0;
		while (mc_replies[k][j])
			j++;
		if (rd_starts(&l, mc_replies[k]) && (mc_replies[k][j - 1] == ' ' || n == j))
			return MC_OK;
	}
	/* incr/decr: a bare number */
	for (size_t i = 0; i < n; i++) {
		uint8_t c = rd_u8(&l);
		if (c < '0' || c > '9')
			return MC_BAD;
	}
	return MC_OK;
}

static enum ident_verdict mc_binary(const struct ident_input *in, struct ident_evidence *ev)
{
	struct reader c, s;
	rd_init(&c, in->data[0], in->len[0]);
	rd_init(&s, in->data[1], in->len[1]);
	if (!rd_has(&c, 24)) {
		/* the rest of the header may come: only a server that answers
		 * with something other than a response rules it out (NO_MATCH
		 * is final) */
		uint8_t m;
		if (in->done[0] || (rd_peek_u8(&s, 0, &m) && m != 0x81))
			return IDENT_NO_MATCH;
		return IDENT_NEED_MORE;
	}
	(void)rd_u8(&c);
	uint8_t op = rd_u8(&c);
	uint16_t klen = rd_be16(&c);
	uint8_t elen = rd_u8(&c), dtype = rd_u8(&c);
	rd_skip(&c, 2);
	uint32_t body = rd_be32(&c);
	uint32_t opaque = rd_be32(&c);
	if (op > 0x48 || dtype != 0 || (uint32_t)klen + elen > body || body > 1048576 + 300)
		return IDENT_NO_MATCH;
	if (!rd_has(&s, 24)) {
		/* a response's magic tells before its header is all here (as
		 * for a client still silent: NO_MATCH is final) */
		uint8_t m;
		if (!in->done[1] && in->len[1] < 24 && !(rd_peek_u8(&s, 0, &m) && m != 0x81))
			return IDENT_NEED_MORE;
		return IDENT_NO_MATCH;
	}
	uint8_t smagic = rd_u8(&s), sop = rd_u8(&s);
	rd_skip(&s, 2 + 1);
	uint8_t sdtype = rd_u8(&s);
	rd_skip(&s, 2 + 4);
	uint32_t sopaque = rd_be32(&s);
	if (smagic != 0x81 || sop != op || sdtype != 0 || sopaque != opaque)
		return IDENT_NO_MATCH;
	ident_add_str(ev, "memcached_command", "binary");
	ident_add_u64(ev, "memcached_opcode", op);
	ev->server_confirmed = true;
	ev->confidence = 95;
	return IDENT_MATCH;
}

static enum ident_verdict mc_match(const struct ident_input *in, struct ident_evidence *ev)
{
	struct reader c;
	rd_init(&c, in->data[0], in->len[0]);
	uint8_t b;
	if (!rd_peek_u8(&c, 0, &b)) {
		/* the client may still speak (NO_MATCH is final) unless the
		 * server already said something no memcached reply starts with */
		uint8_t m;
		struct reader s;
		rd_init(&s, in->data[1], in->len[1]);
		if (in->done[0] ||
		    (rd_peek_u8(&s, 0, &m) && m != 0x81 && mc_text_reply(in) == MC_BAD))
			return IDENT_NO_MATCH;
		return IDENT_NEED_MORE;
	}
	if (b == 0x80)
		return mc_binary(in, ev);
	const uint8_t *line;
	size_t n;
	if (!rd_line(&c, MC_LINE_MAX, &line, &n)) {
		/* the line's end may come: wait unless the server's bytes
		 * already contradict (NO_MATCH is final) */
		if (!mc_partial(&c) || in->done[0] || mc_text_reply(in) == MC_BAD)
			return IDENT_NO_MATCH;
		return IDENT_NEED_MORE;
	}
	struct reader l;
	rd_init(&l, line, n);
	size_t wl;
	int cmd = mc_command(line, n, &wl);
	if (cmd < 0 || !rd_printable(&l, n) || n + 1 > rd_offset(&c) ||
	    !(rd_offset(&c) >= 2 && n + 2 == rd_offset(&c))) /* CR LF */
		return IDENT_NO_MATCH;
	enum mc_parse s = mc_text_reply(in);
	if (s == MC_BAD)
		return IDENT_NO_MATCH;
	if (s == MC_SHORT) {
		if (!in->done[1])
			return IDENT_NEED_MORE;
		/* the server done silent: a storage command with its exact block */
		long want = cmd >= 4 && cmd <= 9 ? mc_storage_bytes(line, n) : -1;
		if (want < 0 || in->len[1] > 0 || !rd_has(&c, (size_t)want + 2))
			return IDENT_NO_MATCH;
		rd_skip(&c, (size_t)want);
		if (!rd_starts(&c, "\r\n"))
			return IDENT_NO_MATCH;
		ev->confidence = 60;
	} else {
		ev->server_confirmed = true;
		ev->confidence = 95;
	}
	ident_add_str(ev, "memcached_command", mc_commands[cmd]);
	return IDENT_MATCH;
}

/* The first bytes (identify.h, first_byte), of direction d.
 * The client's: mc_match: the binary magic 0x80, or a text line: a
 * whole line must start with a lower-case command, an unfinished one
 * must be printable (mc_partial), or be a lone CR.
 * The server's: none declared. */
static bool memcached_first_byte(int d, uint8_t transport, uint8_t b)
{
	if (d != 0)
		return true;
	(void)transport;
	return b == 0x80 || b == '\t' || b == '\r' || (b >= 0x20 && b <= 0x7e);
}

const struct ident_proto ident_memcached = {"memcached", "memcached (text and binary protocols)",
                                            IDENT_TCP, mc_match, NULL, memcached_first_byte};
