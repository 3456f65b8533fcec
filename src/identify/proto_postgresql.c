/*
 * proto_postgresql.c - PostgreSQL frontend/backend protocol 3.0
 * (PostgreSQL documentation, "Frontend/Backend Protocol", 55.2 and 55.7).
 *
 * The client speaks first, with one of (all integers big endian):
 *
 *   StartupMessage   len(4)  00 03 00 00 (196608)  ( key 00 value 00 )* 00
 *                    keys: "user" (required), "database", "application_name"
 *   SSLRequest       00 00 00 08  04 d2 16 2f (80877103)
 *   GSSENCRequest    00 00 00 08  04 d2 16 30 (80877104)
 *
 * The server answers an SSLRequest/GSSENCRequest with one byte: 'S' (TLS
 * or GSSAPI follows: the client's next bytes are a TLS ClientHello), 'N'
 * (refused: a StartupMessage follows in clear), or 'G' (GSS accepted).
 * It answers a StartupMessage with a message 'R' len(4) auth-type(4)
 * (0 ok, 3 cleartext, 5 md5, 10 SASL ...) or 'E' len(4) error fields.
 */
#include "common/reader.h"
#include "identify/identify.h"

#define PG_PROTO_30 196608u
#define PG_SSL 80877103u
#define PG_GSSENC 80877104u
#define PG_STARTUP_MAX 10000

enum pg_parse { PG_BAD, PG_SHORT, PG_OK };

struct pg_startup {
	const uint8_t *user, *db;
	size_t user_len, db_len;
};

/* A StartupMessage at the reader. */
static enum pg_parse pg_startup(struct reader *r, struct pg_startup *st)
{
	if (!rd_has(r, 8))
		return PG_SHORT;
	uint32_t len = rd_be32(r);
	uint32_t ver = rd_be32(r);
	if (ver != PG_PROTO_30 || len < 8 + 5 + 2 || len > PG_STARTUP_MAX)
		return PG_BAD;
	if (!rd_has(r, len - 8))
		return PG_SHORT;
	struct reader b = rd_sub(r, len - 8);
	/* key/value pairs, both NUL-terminated printable, then the final NUL */
	bool user = false;
	for (int k = 0; k < 64; k++) {
		uint8_t c;
		if (!rd_peek_u8(&b, 0, &c))
			return PG_BAD;
		if (c == 0)
			return user && rd_remaining(&b) == 1 ? PG_OK : PG_BAD;
		const uint8_t *kv[2];
		size_t kn[2];
		for (int j = 0; j < 2; j++) {
			size_t i = 0;
			while (rd_peek_u8(&b, i, &c) && c != 0)
				i++;
			if (c != 0 || !rd_printable(&b, i) || (j == 0 && i == 0))
				return PG_BAD;
			kv[j] = rd_bytes(&b, i);
			kn[j] = i;
			rd_skip(&b, 1);
		}
		struct reader kr;
		rd_init(&kr, kv[0], kn[0]);
		if (kn[0] == 4 && rd_starts(&kr, "user")) {
			user = true;
			st->user = kv[1];
			st->user_len = kn[1];
		} else if (kn[0] == 8 && rd_starts(&kr, "database")) {
			st->db = kv[1];
			st->db_len = kn[1];
		}
	}
	return PG_BAD;
}

/* The server's answer to a StartupMessage: 'R' or 'E' with a sane length. */
static enum pg_parse pg_server_msg(struct reader *r)
{
	if (!rd_has(r, 5))
		return PG_SHORT;
	uint8_t t = rd_u8(r);
	uint32_t len = rd_be32(r);
	if (t == 'R') {
		if (len < 8 || len > 2048)
			return PG_BAD;
		if (!rd_has(r, 4))
			return PG_SHORT;
		uint32_t auth = rd_be32(r);
		return auth <= 12 && auth != 1 && auth != 4 && auth != 6 ? PG_OK : PG_BAD;
	}
	if (t == 'E') {
		/* error fields: a field type letter ('S' severity first) */
		uint8_t f;
		if (len < 6 || len > 8192)
			return PG_BAD;
		if (!rd_peek_u8(r, 0, &f))
			return PG_SHORT;
		return f == 'S' || f == 'V' || f == 'C' || f == 'M' ? PG_OK : PG_BAD;
	}
	return PG_BAD;
}

static enum ident_verdict pg_match(const struct ident_input *in, struct ident_evidence *ev)
{
	struct reader c, s;
	rd_init(&c, in->data[0], in->len[0]);
	rd_init(&s, in->data[1], in->len[1]);
	struct pg_startup st = {0};
	bool negotiated = false;
	uint8_t b;
	/* Every first answer of the server starts with 'S', 'N', 'G' (to a
	 * request) or 'R', 'E' (to a startup message): another first byte
	 * rules it out whatever the client sends (NO_MATCH is final). */
	if (rd_peek_u8(&s, 0, &b) && b != 'S' && b != 'N' && b != 'G' && b != 'R' && b != 'E')
		return IDENT_NO_MATCH;
	if (!rd_has(&c, 8)) {
		/* Too few client bytes (the server's may come first in the
		 * capture): wait, unless the bytes there already rule it out.
		 * Every first message's length is at most PG_STARTUP_MAX, so it
		 * starts 00 00. */
		if (in->done[0])
			return IDENT_NO_MATCH;
		if ((rd_peek_u8(&c, 0, &b) && b != 0) || (rd_peek_u8(&c, 1, &b) && b != 0))
			return IDENT_NO_MATCH;
		return IDENT_NEED_MORE;
	}
	(void)rd_peek_u8(&c, 4, &b);
	if (b == 0x04) {
		/* SSLRequest / GSSENCRequest: exactly 8 bytes, then a 1-byte answer */
		uint32_t len = rd_be32(&c), code = rd_be32(&c);
		if (len != 8 || (code != PG_SSL && code != PG_GSSENC))
			return IDENT_NO_MATCH;
		negotiated = true;
		uint8_t a;
		if (!rd_peek_u8(&s, 0, &a))
			return in->done[1] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
		(void)rd_u8(&s);
		if (a == 'S' || a == 'G') {
			/* accepted: the client's next bytes are the TLS/GSS handshake */
			uint8_t t0, t1;
			if (code == PG_SSL) {
				if (!rd_peek_u8(&c, 0, &t0))
					return in->done[0] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
				if (!rd_peek_u8(&c, 1, &t1))
					return in->done[0] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
				if (t0 != 0x16 || t1 != 0x03)
					return IDENT_NO_MATCH;
				ev->tls_upgrade = true;
				ident_add_str(ev, "starttls", "1");
			}
			ident_add_str(ev, "pg_request", code == PG_SSL ? "ssl" : "gssenc");
			ev->server_confirmed = true;
			ev->confidence = 95;
			return IDENT_MATCH;
		}
		if (a != 'N')
			return IDENT_NO_MATCH;
		ident_add_str(ev, "pg_request", code == PG_SSL ? "ssl" : "gssenc");
		/* refused: a StartupMessage in clear follows (or the client quits) */
		if (rd_remaining(&c) == 0) {
			if (!in->done[0])
				return IDENT_NEED_MORE;
			ev->server_confirmed = true;
			ev->confidence = 85;
			return IDENT_MATCH;
		}
	}
	enum pg_parse p = pg_startup(&c, &st);
	if (p == PG_BAD)
		return IDENT_NO_MATCH;
	if (p == PG_SHORT)
		return in->done[0] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
	enum pg_parse sv = pg_server_msg(&s);
	if (sv == PG_BAD)
		return IDENT_NO_MATCH;
	if (sv == PG_SHORT) {
		if (!in->done[1])
			return IDENT_NEED_MORE;
		if (rd_remaining(&s) > 0)
			return IDENT_NO_MATCH;
		ev->confidence = negotiated ? 85 : 70;
		ev->server_confirmed = negotiated;
	} else {
		ev->server_confirmed = true;
		ev->confidence = 100;
	}
	ident_add(ev, "pg_user", st.user, st.user_len);
	if (st.db)
		ident_add(ev, "pg_database", st.db, st.db_len);
	return IDENT_MATCH;
}

/* The first bytes (identify.h, first_byte), of direction d.
 * The client's: pg_match: every first message (SSLRequest,
 * GSSENCRequest, StartupMessage) has a length of at most
 * PG_STARTUP_MAX, whose high byte is 0.
 * The server's: none declared. */
static bool postgresql_first_byte(int d, uint8_t transport, uint8_t b)
{
	if (d != 0)
		return true;
	(void)transport;
	return b == 0;
}

const struct ident_proto ident_postgresql = {"postgresql", "PostgreSQL (frontend/backend protocol 3.0)",
                                             IDENT_TCP, pg_match, NULL, postgresql_first_byte};
