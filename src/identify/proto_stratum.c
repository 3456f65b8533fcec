/*
 * proto_stratum.c - Stratum mining protocol: line-delimited JSON-RPC over
 * TCP between a miner and a pool (Stratum v1 as documented by Slush Pool
 * and in BIP 310 "Stratum protocol extensions"; the Monero/XMRig dialect
 * "login"; the Ethereum proxy dialect "eth_submitLogin"; NiceHash
 * EthereumStratum/1.0.0 and 2.0.0 "mining.hello").
 *
 * The miner speaks first, one JSON object per line:
 *
 *   {"id":1,"method":"mining.subscribe","params":["cgminer/4.10",...]}\n
 *   {"id":2,"method":"mining.authorize","params":["wallet.worker","x"]}\n
 *   {"id":1,"jsonrpc":"2.0","method":"login",
 *    "params":{"login":"4BCe...","pass":"x","agent":"XMRig/6.21"}}\n
 *   {"worker":"eth1.0","jsonrpc":"2.0","params":["0x9c99.../w1","x"],
 *    "id":2,"method":"eth_submitLogin"}\n
 *
 * and the pool answers with JSON objects too ({"id":1,"result":...,
 * "error":null}, or a notification {"method":"mining.notify",...}).
 *
 * What makes it stratum and not any JSON over TCP: the first line is one
 * well-formed JSON object whose "method" is one of the opening methods
 * above (mining.subscribe, mining.authorize, mining.configure,
 * mining.extranonce.subscribe, mining.hello, eth_submitLogin, or "login"
 * with an object of params holding "login"), and the server's first line,
 * when there is one, is a JSON object with "result", "error" or "method".
 *
 * Evidence: the method, the miner software (subscribe's first parameter,
 * login's "agent") and the login: the wallet address or pool account with
 * the worker name, which is what ties a mining host to its operator. The
 * "pass" parameter is never copied.
 */
#include <string.h>

#include "common/reader.h"
#include "identify/identify.h"

#define STRATUM_LINE_MAX 4096
#define STRATUM_DEPTH_MAX 16

struct json_str {
	const uint8_t *p; /* between the quotes, still escaped */
	size_t n;
};

static void json_ws(struct reader *r)
{
	uint8_t c;
	while (rd_peek_u8(r, 0, &c) && (c == ' ' || c == '\t' || c == '\r'))
		rd_skip(r, 1);
}

static bool json_string(struct reader *r, struct json_str *s)
{
	uint8_t c;
	if (!rd_peek_u8(r, 0, &c) || c != '"')
		return false;
	rd_skip(r, 1);
	size_t i = 0;
	for (;;) {
		if (!rd_peek_u8(r, i, &c) || c < 0x20)
			return false;
		if (c == '"')
			break;
		i += c == '\\' ? 2 : 1;
	}
	s->p = rd_bytes(r, i);
	s->n = i;
	rd_skip(r, 1);
	return rd_ok(r);
}

static bool json_value(struct reader *r, unsigned depth);

/* Skips an object or array (well-formed, nested at most
 * STRATUM_DEPTH_MAX deep). */
static bool json_container(struct reader *r, unsigned depth, uint8_t open)
{
	uint8_t close = open == '{' ? '}' : ']';
	uint8_t c;
	if (depth > STRATUM_DEPTH_MAX || !rd_peek_u8(r, 0, &c) || c != open)
		return false;
	rd_skip(r, 1);
	json_ws(r);
	if (rd_peek_u8(r, 0, &c) && c == close) {
		rd_skip(r, 1);
		return true;
	}
	for (;;) {
		json_ws(r);
		if (open == '{') {
			struct json_str k;
			if (!json_string(r, &k))
				return false;
			json_ws(r);
			if (!rd_peek_u8(r, 0, &c) || c != ':')
				return false;
			rd_skip(r, 1);
			json_ws(r);
		}
		if (!json_value(r, depth + 1))
			return false;
		json_ws(r);
		if (!rd_peek_u8(r, 0, &c))
			return false;
		rd_skip(r, 1);
		if (c == close)
			return true;
		if (c != ',')
			return false;
	}
}

static bool json_value(struct reader *r, unsigned depth)
{
	uint8_t c;
	if (!rd_peek_u8(r, 0, &c))
		return false;
	if (c == '{' || c == '[')
		return json_container(r, depth, c);
	if (c == '"') {
		struct json_str s;
		return json_string(r, &s);
	}
	if (rd_starts(r, "true") || rd_starts(r, "null")) {
		rd_skip(r, 4);
		return true;
	}
	if (rd_starts(r, "false")) {
		rd_skip(r, 5);
		return true;
	}
	size_t i = 0;
	while (rd_peek_u8(r, i, &c) && ((c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' ||
	                                c == 'e' || c == 'E'))
		i++;
	if (i == 0)
		return false;
	rd_skip(r, i);
	return true;
}

/* Looks up the member `key` of the object that r is on (r is not moved):
 * *val is a reader on its value. */
static bool json_member(const struct reader *obj, const char *key, struct reader *val)
{
	struct reader r = *obj;
	uint8_t c;
	size_t klen = strlen(key);
	json_ws(&r);
	if (!rd_peek_u8(&r, 0, &c) || c != '{')
		return false;
	rd_skip(&r, 1);
	for (;;) {
		json_ws(&r);
		struct json_str k;
		if (!json_string(&r, &k))
			return false;
		json_ws(&r);
		if (!rd_peek_u8(&r, 0, &c) || c != ':')
			return false;
		rd_skip(&r, 1);
		json_ws(&r);
		struct reader kr;
		rd_init(&kr, k.p, k.n);
		if (k.n == klen && rd_starts(&kr, key)) {
			*val = r;
			return true;
		}
		if (!json_value(&r, 1))
			return false;
		json_ws(&r);
		if (!rd_peek_u8(&r, 0, &c) || c != ',')
			return false;
		rd_skip(&r, 1);
	}
}

/* The first element of the array that r is on, when it is a string. */
static bool json_first_string(const struct reader *arr, struct json_str *s)
{
	struct reader r = *arr;
	uint8_t c;
	if (!rd_peek_u8(&r, 0, &c) || c != '[')
		return false;
	rd_skip(&r, 1);
	json_ws(&r);
	return json_string(&r, s);
}

/* One line of JSON object: *line is a reader over it (no LF). */
static bool json_line(struct reader *r, struct reader *line)
{
	const uint8_t *l;
	size_t n;
	if (!rd_line(r, STRATUM_LINE_MAX, &l, &n))
		return false;
	rd_init(line, l, n);
	struct reader w = *line;
	json_ws(&w);
	if (!json_container(&w, 0, '{'))
		return false;
	json_ws(&w);
	return rd_remaining(&w) == 0;
}

static bool str_is(const struct json_str *s, const char *v)
{
	struct reader r;
	rd_init(&r, s->p, s->n);
	return s->n == strlen(v) && rd_starts(&r, v);
}

enum stratum_parse { ST_BAD, ST_SHORT, ST_OK };

struct stratum_hello {
	struct json_str method, agent, user;
};

/* Agent and user carried by one request line, by its method. */
static void stratum_params(const struct reader *line, const struct json_str *m,
                           struct stratum_hello *h)
{
	struct reader params, v;
	if (!json_member(line, "params", &params))
		return;
	struct json_str s;
	if (str_is(m, "mining.subscribe") || str_is(m, "mining.hello")) {
		if (!h->agent.p && json_first_string(&params, &s))
			h->agent = s;
	} else if (str_is(m, "mining.authorize") || str_is(m, "eth_submitLogin")) {
		if (!h->user.p && json_first_string(&params, &s))
			h->user = s;
	} else if (str_is(m, "login")) {
		if (!h->user.p && json_member(&params, "login", &v) && json_string(&v, &s))
			h->user = s;
		if (!h->agent.p && json_member(&params, "agent", &v) && json_string(&v, &s))
			h->agent = s;
	}
}

static bool stratum_opening(const struct reader *line, struct json_str *m)
{
	struct reader v, params, x;
	if (!json_member(line, "method", &v) || !json_string(&v, m))
		return false;
	if (!json_member(line, "params", &params))
		return false;
	static const char *const methods[] = {"mining.subscribe", "mining.authorize",
	                                      "mining.configure", "mining.extranonce.subscribe",
	                                      "mining.hello",     "eth_submitLogin"};
	for (unsigned i = 0; i < sizeof methods / sizeof methods[0]; i++)
		if (str_is(m, methods[i]))
			return true;
	/* Monero: {"method":"login","params":{"login":"<wallet>",...}} */
	if (str_is(m, "login")) {
		struct json_str s;
		return json_member(&params, "login", &x) && json_string(&x, &s);
	}
	return false;
}

static enum stratum_parse stratum_client(const struct ident_input *in, struct stratum_hello *h)
{
	struct reader r;
	rd_init(&r, in->data[0], in->len[0]);
	uint8_t c;
	size_t i = 0;
	while (rd_peek_u8(&r, i, &c) && (c == ' ' || c == '\t' || c == '\r' || c == '\n'))
		i++;
	if (!rd_peek_u8(&r, i, &c))
		return ST_SHORT;
	if (c != '{')
		return ST_BAD;
	struct reader line;
	if (!json_line(&r, &line)) {
		/* no line end yet: wait while one may come within the limit */
		if (rd_remaining(&r) < STRATUM_LINE_MAX && !in->done[0])
			return ST_SHORT;
		return ST_BAD;
	}
	if (!stratum_opening(&line, &h->method))
		return ST_BAD;
	stratum_params(&line, &h->method, h);
	/* The next lines (authorize after subscribe) may carry the login. */
	for (int n = 0; n < 4 && (!h->user.p || !h->agent.p); n++) {
		struct json_str m;
		struct reader v;
		if (!json_line(&r, &line))
			break;
		if (json_member(&line, "method", &v) && json_string(&v, &m))
			stratum_params(&line, &m, h);
	}
	return ST_OK;
}

static enum stratum_parse stratum_server(const struct ident_input *in)
{
	struct reader r;
	rd_init(&r, in->data[1], in->len[1]);
	uint8_t c;
	if (!rd_peek_u8(&r, 0, &c))
		return ST_SHORT;
	if (c != '{')
		return ST_BAD;
	struct reader line, v;
	if (!json_line(&r, &line))
		return rd_remaining(&r) < STRATUM_LINE_MAX && !in->done[1] ? ST_SHORT : ST_BAD;
	if (json_member(&line, "result", &v) || json_member(&line, "error", &v) ||
	    json_member(&line, "method", &v))
		return ST_OK;
	return ST_BAD;
}

/* A JSON string value as evidence: its bytes, still escaped, cut to the
 * evidence size. */
static void stratum_add(struct ident_evidence *ev, const char *key, const struct json_str *s)
{
	if (s->p && s->n)
		ident_add(ev, key, s->p, s->n);
}

static enum ident_verdict stratum_match(const struct ident_input *in, struct ident_evidence *ev)
{
	struct stratum_hello h;
	memset(&h, 0, sizeof h);
	enum stratum_parse pc = stratum_client(in, &h);
	if (pc == ST_BAD)
		return IDENT_NO_MATCH;
	if (pc == ST_SHORT)
		return in->done[0] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
	enum stratum_parse ps = stratum_server(in);
	if (ps == ST_BAD)
		return IDENT_NO_MATCH;
	if (ps == ST_SHORT && !in->done[1])
		return IDENT_NEED_MORE;
	if (ps == ST_SHORT && in->len[1])
		return IDENT_NO_MATCH;
	ev->server_confirmed = ps == ST_OK;
	ev->confidence = ps == ST_OK ? 95 : 80;
	stratum_add(ev, "stratum_method", &h.method);
	stratum_add(ev, "stratum_agent", &h.agent);
	stratum_add(ev, "stratum_user", &h.user);
	return IDENT_MATCH;
}

/* The first bytes (identify.h, first_byte), of direction d.
 * The client's: stratum_client: JSON's '{' after optional white space.
 * The server's: none declared. */
static bool stratum_first_byte(int d, uint8_t transport, uint8_t b)
{
	if (d != 0)
		return true;
	(void)transport;
	return b == '{' || b == ' ' || b == '\t' || b == '\r' || b == '\n';
}

const struct ident_proto ident_stratum = {"stratum", "Stratum mining protocol (JSON-RPC)", IDENT_TCP,
                                          stratum_match, NULL, stratum_first_byte};
