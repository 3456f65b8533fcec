/*
 * proto_mysql.c - MySQL / MariaDB client/server protocol (MySQL internals
 * manual, "Connection Phase": Protocol::HandshakeV10 and
 * Protocol::HandshakeResponse41 / SSLRequest).
 *
 * The server speaks first. Every packet has a 4-byte header:
 *
 *   len (3 bytes, little endian)  seq (1 byte)  payload (len bytes)
 *
 * The server's greeting, seq 0:
 *   0a                        protocol version 10
 *   "5.7.33-log" 00           server version, NUL-terminated
 *   thread id (4)  auth-plugin-data part 1 (8)  00 filler
 *   capability flags, low 16 bits (2)  ...
 *
 * or, when the server refuses the host, an ERR packet: seq 0, ff, error
 * code (2, little endian), message text.
 *
 * The client's answer, seq 1: capability flags (4, CLIENT_PROTOCOL_41
 * 0x200 set), max packet size (4), charset (1), 23 zero bytes, then the
 * NUL-terminated user name; when it is exactly 32 bytes with CLIENT_SSL
 * (0x800) it is an SSLRequest and TLS follows.
 */
#include "common/reader.h"
#include "identify/identify.h"

#define MYSQL_GREETING_MAX 1024 /* real greetings are ~80-120 bytes */
#define MYSQL_VERSION_MAX 64

enum mysql_parse { MYSQL_BAD, MYSQL_SHORT, MYSQL_OK, MYSQL_REFUSED };

static uint32_t mysql_le24(struct reader *r)
{
	uint32_t a = rd_u8(r), b = rd_u8(r), c = rd_u8(r);
	return a | b << 8 | c << 16;
}

/* The server's first packet; the version string in (*ver, *ver_len). */
static enum mysql_parse mysql_server(const struct ident_input *in, const uint8_t **ver,
                                     size_t *ver_len)
{
	struct reader r;
	rd_init(&r, in->data[1], in->len[1]);
	if (!rd_has(&r, 5)) {
		/* A header still arriving: its length (at most
		 * MYSQL_GREETING_MAX) has a zero high byte, its seq is 0. */
		uint8_t b;
		if ((rd_peek_u8(&r, 2, &b) && b != 0) || (rd_peek_u8(&r, 3, &b) && b != 0))
			return MYSQL_BAD;
		return MYSQL_SHORT;
	}
	uint32_t len = mysql_le24(&r);
	uint8_t seq = rd_u8(&r);
	uint8_t kind = rd_u8(&r);
	if (seq != 0 || len < 2 || len > MYSQL_GREETING_MAX)
		return MYSQL_BAD;
	if (kind == 0xff) {
		/* ERR: error code 1040-1300ish (e.g. 1130 host not allowed), text */
		if (len < 4 || !rd_has(&r, len - 1))
			return rd_has(&r, len - 1) ? MYSQL_BAD : MYSQL_SHORT;
		uint16_t code = rd_le16(&r);
		if (code < 1000 || code > 5000 || !rd_printable(&r, len - 3))
			return MYSQL_BAD;
		return MYSQL_REFUSED;
	}
	if (kind != 10)
		return MYSQL_BAD;
	if (len < 1 + 2 + 4 + 8 + 1 + 2)
		return MYSQL_BAD;
	/* version: printable, starts with a digit, NUL-terminated */
	size_t i = 0;
	uint8_t c;
	while (rd_peek_u8(&r, i, &c) && c != 0) {
		if (c < 0x20 || c > 0x7e || i >= MYSQL_VERSION_MAX)
			return MYSQL_BAD;
		i++;
	}
	if (i >= len - 1 && i > 0)
		return MYSQL_BAD; /* the version must end inside the packet */
	if (!rd_peek_u8(&r, i, &c))
		return MYSQL_SHORT;
	uint8_t first;
	(void)rd_peek_u8(&r, 0, &first);
	if (i == 0 || first < '0' || first > '9')
		return MYSQL_BAD;
	if (1 + i + 1 + 4 + 8 + 1 + 2 > len)
		return MYSQL_BAD;
	*ver = rd_bytes(&r, i);
	*ver_len = i;
	rd_skip(&r, 1 + 4 + 8);
	uint8_t filler = rd_u8(&r);
	uint16_t caps = rd_le16(&r);
	if (!rd_ok(&r))
		return MYSQL_SHORT;
	/* the filler is 0; every server since 4.1 sets CLIENT_PROTOCOL_41 */
	if (filler != 0 || !(caps & 0x0200))
		return MYSQL_BAD;
	return MYSQL_OK;
}

enum mysql_client { MYCL_NONE, MYCL_BAD, MYCL_LOGIN, MYCL_SSL };

/* The client's handshake response (or SSLRequest), seq 1. */
static enum mysql_client mysql_client(const struct ident_input *in, const uint8_t **user,
                                      size_t *user_len)
{
	struct reader r;
	rd_init(&r, in->data[0], in->len[0]);
	if (!rd_has(&r, 4 + 32))
		return MYCL_NONE;
	uint32_t len = mysql_le24(&r);
	uint8_t seq = rd_u8(&r);
	uint32_t caps = rd_le32(&r);
	if (seq != 1 || len < 32 || len > 65536 || !(caps & 0x0200))
		return MYCL_BAD;
	rd_skip(&r, 4 + 1); /* max packet, charset */
	/* 23 reserved zero bytes; MariaDB puts its extended capabilities in
	 * the last 4 when it clears CLIENT_MYSQL (bit 0) */
	for (int k = 0; k < 19; k++)
		if (rd_u8(&r) != 0)
			return MYCL_BAD;
	uint32_t ext = rd_le32(&r);
	if (ext != 0 && (caps & 1))
		return MYCL_BAD;
	if (len == 32)
		return (caps & 0x0800) ? MYCL_SSL : MYCL_BAD;
	size_t i = 0;
	uint8_t c;
	while (rd_peek_u8(&r, i, &c) && c != 0 && i < 256 && i + 32 < len)
		i++;
	if (c != 0 || !rd_printable(&r, i))
		return MYCL_NONE; /* user name not whole yet: no evidence */
	*user = rd_bytes(&r, i);
	*user_len = i;
	return MYCL_LOGIN;
}

static enum ident_verdict mysql_match(const struct ident_input *in, struct ident_evidence *ev)
{
	const uint8_t *ver = NULL, *user = NULL;
	size_t ver_len = 0, user_len = 0;
	enum mysql_parse s = mysql_server(in, &ver, &ver_len);
	if (s == MYSQL_BAD)
		return IDENT_NO_MATCH;
	if (s == MYSQL_SHORT)
		/* The server always speaks first, but its greeting may still
		 * come after the client's bytes in the capture: wait while it
		 * may (NO_MATCH is final). */
		return in->done[1] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
	if (s == MYSQL_REFUSED) {
		/* an ERR greeting alone is weak: the client must not have spoken */
		if (in->len[0] > 0)
			return IDENT_NO_MATCH;
		ev->confidence = 60;
		ev->server_confirmed = true;
		ident_add_str(ev, "mysql_refused", "1");
		return IDENT_MATCH;
	}
	enum mysql_client c = mysql_client(in, &user, &user_len);
	ident_add(ev, "mysql_version", ver, ver_len);
	if (c == MYCL_LOGIN)
		ident_add(ev, "mysql_user", user, user_len);
	if (c == MYCL_SSL) {
		struct reader r;
		rd_init(&r, in->data[0], in->len[0]);
		rd_skip(&r, 36);
		uint8_t a, b;
		if (rd_peek_u8(&r, 0, &a) && rd_peek_u8(&r, 1, &b) && a == 0x16 && b == 0x03) {
			ev->tls_upgrade = true;
			ident_add_str(ev, "starttls", "1");
		}
	}
	ev->server_confirmed = true;
	ev->confidence = c == MYCL_LOGIN || c == MYCL_SSL ? 100 : c == MYCL_BAD ? 80 : 90;
	return IDENT_MATCH;
}

const struct ident_proto ident_mysql = {"mysql", "MySQL/MariaDB (client/server protocol)", IDENT_TCP,
                                        mysql_match, NULL, NULL};
