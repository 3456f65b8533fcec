/*
 * proto_nats.c - NATS client protocol (docs.nats.io, "Client Protocol").
 *
 * The server speaks first with one line, a JSON object after "INFO ":
 *
 *   INFO {"server_id":"NALG56...","version":"2.9.0","go":"go1.19",...} CR LF
 *
 * and the client answers with its own JSON object, then commands:
 *
 *   CONNECT {"verbose":false,"pedantic":false,"name":"x","lang":"go",...} CR LF
 *   PING CR LF / PONG CR LF / SUB / PUB ...
 *
 * The INFO line is required to start with '{' and end with '}' (before the
 * line end); server_id and version are the evidence. A client's CONNECT
 * without the server's INFO is claimed only once the server is done silent.
 */
#include "common/reader.h"
#include "identify/identify.h"

#define NATS_LINE_MAX 8192

/* The string value of "key":"value" in a JSON line (no escapes: the
 * values NATS sends are ids and versions). */
static bool nats_json_str(const uint8_t *line, size_t n, const char *key, const uint8_t **v,
                          size_t *vn)
{
	struct reader r;
	rd_init(&r, line, n);
	while (rd_remaining(&r) > 0) {
		if (rd_starts(&r, "\"") ) {
			struct reader k = r;
			rd_skip(&k, 1);
			if (rd_starts(&k, key)) {
				size_t kl = 0;
				while (key[kl])
					kl++;
				rd_skip(&k, kl);
				if (rd_starts(&k, "\":\"")) {
					rd_skip(&k, 3);
					size_t i = 0;
					uint8_t c;
					while (rd_peek_u8(&k, i, &c) && c != '"' && i < 128)
						i++;
					if (c != '"')
						return false;
					*v = rd_bytes(&k, i);
					*vn = i;
					return true;
				}
			}
		}
		rd_skip(&r, 1);
	}
	return false;
}

enum nats_line { NATS_BAD, NATS_SHORT, NATS_OK };

/* A line "WORD {json}" (the word and SP already checked by the caller). */
static enum nats_line nats_json_line(const struct ident_input *in, int d, const char *word,
                                     const uint8_t **line, size_t *n)
{
	struct reader r;
	rd_init(&r, in->data[d], in->len[d]);
	size_t wl = 0;
	while (word[wl])
		wl++;
	uint8_t c;
	for (size_t i = 0; i < wl; i++)
		if (rd_peek_u8(&r, i, &c) && c != (uint8_t)word[i])
			return NATS_BAD;
	if (!rd_line(&r, NATS_LINE_MAX, line, n)) {
		size_t rest = rd_partial_len(&r, rd_remaining(&r));
		if (rest >= NATS_LINE_MAX || !rd_printable(&r, rest) || in->done[d])
			return NATS_BAD;
		return NATS_SHORT;
	}
	struct reader l;
	rd_init(&l, *line, *n);
	if (*n < wl + 2 || !rd_starts(&l, word) || !rd_printable(&l, *n))
		return NATS_BAD;
	rd_skip(&l, wl);
	/* the object's closing brace, before optional trailing spaces
	 * (nats-server writes "} " CR LF) */
	size_t end = *n - wl;
	uint8_t last = ' ';
	while (end > 0 && last == ' ')
		(void)rd_peek_u8(&l, --end, &last);
	if (!rd_starts(&l, "{") || last != '}')
		return NATS_BAD;
	return NATS_OK;
}

static enum ident_verdict nats_match(const struct ident_input *in, struct ident_evidence *ev)
{
	const uint8_t *sl = NULL, *cl = NULL;
	size_t sn = 0, cn = 0;
	enum nats_line s = nats_json_line(in, 1, "INFO ", &sl, &sn);
	if (s == NATS_BAD)
		return IDENT_NO_MATCH;
	enum nats_line c = in->len[0] ? nats_json_line(in, 0, "CONNECT ", &cl, &cn) : NATS_SHORT;
	/* a client that does not open with CONNECT is not NATS, whether the
	 * INFO line is all here yet or not (NO_MATCH is final: a verdict on
	 * the client's line that waited for the server's would not be) */
	if (c == NATS_BAD)
		return IDENT_NO_MATCH;
	if (s == NATS_SHORT) {
		if (in->len[1] > 0 || !in->done[1])
			return IDENT_NEED_MORE;
		/* the server is done silent: the client's CONNECT alone */
		if (c != NATS_OK)
			return IDENT_NO_MATCH;
		ev->confidence = 60;
	} else {
		ev->server_confirmed = true;
		ev->confidence = c == NATS_OK ? 100 : 90;
		const uint8_t *v;
		size_t vn;
		if (nats_json_str(sl, sn, "server_id", &v, &vn))
			ident_add(ev, "nats_server_id", v, vn);
		if (nats_json_str(sl, sn, "version", &v, &vn))
			ident_add(ev, "nats_version", v, vn);
	}
	if (c == NATS_OK) {
		const uint8_t *v;
		size_t vn;
		if (nats_json_str(cl, cn, "name", &v, &vn))
			ident_add(ev, "nats_client_name", v, vn);
		if (nats_json_str(cl, cn, "lang", &v, &vn))
			ident_add(ev, "nats_client_lang", v, vn);
	}
	return IDENT_MATCH;
}

/* The first bytes (identify.h, first_byte), of direction d.
 * The client's: nats_json_line on the client's bytes: "CONNECT ".
 * The server's: none declared. */
static bool nats_first_byte(int d, uint8_t transport, uint8_t b)
{
	if (d != 0)
		return true;
	(void)transport;
	return b == 'C';
}

const struct ident_proto ident_nats = {"nats", "NATS client protocol", IDENT_TCP, nats_match, NULL, nats_first_byte};
