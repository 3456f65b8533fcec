/*
 * proto_http.c - HTTP/1.0 and HTTP/1.1 over TCP.
 *
 * Specification: RFC 9112 (HTTP/1.1 message syntax) sections 3 (request
 * line), 4 (status line), 5 (field lines), 9.3.6 of RFC 9110 (CONNECT),
 * RFC 6455 section 4 (the WebSocket opening handshake); the methods are
 * those of the IANA HTTP Method Registry (RFC 9110, WebDAV RFC 4918/3253/
 * 3648/3744/5323/5842/4791, RFC 5789 PATCH).
 *
 * Client: a request line, then header fields
 *
 *   +--------+----+----------------+----+----------+------+
 *   | method | SP | request-target | SP | HTTP/1.d | CRLF |   (bare LF
 *   +--------+----+----------------+----+----------+------+    tolerated)
 *     registered   visible ASCII        '1' '.' digit
 *   Host: ...  User-Agent: ...  Upgrade: websocket ...  CRLF CRLF
 *
 * Server: a status line, then header fields
 *
 *   +----------+----+-----+----+--------+------+
 *   | HTTP/1.d | SP | ddd | SP | reason | CRLF |   Server: ...
 *   +----------+----+-----+----+--------+------+
 *
 * A server answering in anything but a status line cancels the client's
 * request (an HTTP client talking to an SSH server is SSH). The server's
 * status line alone (the client's request not captured) is HTTP.
 * "PRI * HTTP/2.0" (the HTTP/2 preface) is not a registered method and not
 * version 1.x: it is proto_http2's.
 *
 * WebSocket: a request with "Upgrade: websocket" that the server accepts
 * (101 Switching Protocols naming websocket) is no longer HTTP after the
 * handshake: http_websocket() decides, and both this identifier and
 * proto_websocket follow it (this one answers NO_MATCH for a confirmed
 * upgrade, NEED_MORE while it may be one). A refused or unanswered upgrade
 * stays HTTP, with the request's Upgrade value as http_upgrade.
 */
#include <string.h>

#include "common/reader.h"
#include "identify/http1.h"
#include "identify/identify.h"
#include "identify/protocols.h"

#define HTTP_METHOD_MAX 24
#define HTTP_TARGET_MAX 8192  /* RFC 9112 3: at least 8000 octets supported */
#define HTTP_LINE_MAX 8192
#define HTTP_LONG_TARGET 1024 /* a target this long may fill the whole budget */

enum state { ST_NONE, ST_PARTIAL, ST_OK, ST_BAD };

static bool is_visible(uint8_t c) { return c > 0x20 && c < 0x7f; }

/* Does the next n bytes' run equal the start of s (n <= strlen(s))? */
static bool prefix_of(const struct reader *r, size_t n, const char *s)
{
	size_t k = 0;
	uint8_t c;
	for (; k < n && s[k]; k++)
		if (!rd_peek_u8(r, k, &c) || c != (uint8_t)s[k])
			return false;
	return k == n;
}

/* Compares a template ('#' = any digit) with the bytes ahead; PARTIAL when
 * the bytes end early but agree so far. Nothing is consumed. */
static enum state pattern(const struct reader *r, const char *pat)
{
	uint8_t c;
	for (size_t k = 0; pat[k]; k++) {
		if (!rd_peek_u8(r, k, &c))
			return ST_PARTIAL;
		if (pat[k] == '#' ? !(c >= '0' && c <= '9') : c != (uint8_t)pat[k])
			return ST_BAD;
	}
	return ST_OK;
}

/* A line end (CRLF or LF) next; consumed. */
static enum state line_end(struct reader *r)
{
	uint8_t c;
	if (!rd_peek_u8(r, 0, &c))
		return ST_PARTIAL;
	if (c == '\n') {
		rd_skip(r, 1);
		return ST_OK;
	}
	if (c != '\r')
		return ST_BAD;
	if (!rd_peek_u8(r, 1, &c))
		return ST_PARTIAL;
	if (c != '\n')
		return ST_BAD;
	rd_skip(r, 2);
	return ST_OK;
}

struct request {
	const uint8_t *method, *target;
	size_t method_len, target_len;
	bool long_target; /* a visible target ran to the end of the bytes */
};

/* IANA HTTP Method Registry (PRI excluded: HTTP/2's preface). */
static const char *const methods[] = {
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
    "QUERY", "PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK",
    "SEARCH", "REPORT", "MKACTIVITY", "CHECKOUT", "CHECKIN", "UNCHECKOUT", "MERGE",
    "VERSION-CONTROL", "BASELINE-CONTROL", "MKWORKSPACE", "UPDATE", "LABEL", "ACL",
    "BIND", "UNBIND", "REBIND", "LINK", "UNLINK", "MKCALENDAR", "MKREDIRECTREF",
    "UPDATEREDIRECTREF", "ORDERPATCH",
};

bool http_method_initial(uint8_t b)
{
	for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
		if ((uint8_t)methods[i][0] == b)
			return true;
	return false;
}

static enum state request_line(struct reader *r, struct request *q)
{
	const size_t nmethods = sizeof methods / sizeof methods[0];
	uint8_t c = 0;
	size_t n = 0;
	while (n < HTTP_METHOD_MAX && rd_peek_u8(r, n, &c) && ((c >= 'A' && c <= 'Z') || c == '-'))
		n++;
	if (n == rd_remaining(r)) {
		/* The method is still arriving: a prefix of a registered one? */
		for (size_t i = 0; i < nmethods; i++)
			if (n < strlen(methods[i]) + 1 && prefix_of(r, n, methods[i]))
				return n ? ST_PARTIAL : ST_NONE;
		return ST_BAD;
	}
	if (c != ' ')
		return ST_BAD;
	bool known = false;
	for (size_t i = 0; i < nmethods && !known; i++)
		known = strlen(methods[i]) == n && rd_starts(r, methods[i]);
	if (!known)
		return ST_BAD;
	q->method = rd_bytes(r, n);
	q->method_len = n;
	/* RFC 9112 section 3 lets a recipient split the request line on runs
	 * of whitespace; servers do, and so do attacks: "GET   /x HTTP/1.1",
	 * and a target with spaces in it ("GET /cgi;cat /etc/passwd HTTP/1.1")
	 * that a server still answers. The line must end in the version. */
	while (rd_peek_u8(r, 0, &c) && c == ' ')
		rd_skip(r, 1);
	struct reader start = *r;
	size_t span = 0;
	for (;;) {
		n = 0;
		while (span + n < HTTP_TARGET_MAX && rd_peek_u8(r, n, &c) && is_visible(c))
			n++;
		if (n == rd_remaining(r)) {
			span += n;
			q->target = rd_bytes(&start, span);
			q->target_len = span;
			q->long_target = span >= HTTP_LONG_TARGET;
			return ST_PARTIAL;
		}
		if (n == 0 || c != ' ')
			return ST_BAD;
		rd_skip(r, n);
		span += n;
		size_t gap = 0;
		while (rd_peek_u8(r, gap, &c) && c == ' ')
			gap++;
		rd_skip(r, gap);
		enum state s = pattern(r, "HTTP/1.#");
		if (s == ST_OK)
			break;
		if (s == ST_PARTIAL) {
			q->target = rd_bytes(&start, span);
			q->target_len = span;
			return ST_PARTIAL;
		}
		if (span + gap >= HTTP_TARGET_MAX)
			return ST_BAD;
		span += gap; /* a space inside the target */
	}
	q->target = rd_bytes(&start, span);
	q->target_len = span;
	rd_skip(r, 8);
	return line_end(r);
}

struct status {
	const uint8_t *code;
};

static enum state status_line(struct reader *r, struct status *s)
{
	if (rd_remaining(r) == 0)
		return ST_NONE;
	enum state st = pattern(r, "HTTP/1.# ###");
	if (st != ST_OK)
		return st;
	rd_skip(r, 9);
	s->code = rd_bytes(r, 3);
	uint8_t c;
	if (!rd_peek_u8(r, 0, &c))
		return ST_PARTIAL;
	if (c != ' ' && c != '\r' && c != '\n')
		return ST_BAD;
	/* The reason phrase is not evidence: skip the line when it is whole
	 * (the header fields follow it). */
	const uint8_t *line;
	size_t n;
	(void)rd_line(r, HTTP_LINE_MAX, &line, &n);
	return ST_OK;
}

/* If the field line `line` is "name: value", the value without the
 * surrounding whitespace. */
static bool field(const uint8_t *line, size_t len, const char *name, struct reader *value)
{
	struct reader r;
	rd_init(&r, line, len);
	size_t k = strlen(name);
	uint8_t c;
	if (!rd_starts_ci(&r, name) || !rd_peek_u8(&r, k, &c) || c != ':')
		return false;
	rd_skip(&r, k + 1);
	while (rd_peek_u8(&r, 0, &c) && (c == ' ' || c == '\t'))
		rd_skip(&r, 1);
	size_t n = rd_remaining(&r);
	while (n && rd_peek_u8(&r, n - 1, &c) && (c == ' ' || c == '\t'))
		n--;
	*value = rd_sub(&r, n);
	return true;
}

/* Does the value (a comma-separated list) name `token`, any case? */
static bool has_token(struct reader v, const char *token)
{
	size_t k = strlen(token);
	for (; rd_remaining(&v) >= k; rd_skip(&v, 1))
		if (rd_starts_ci(&v, token))
			return true;
	return false;
}

/* One named field, the first occurrence kept. */
static bool take(const uint8_t *line, size_t n, const char *name, bool *have, struct reader *out)
{
	struct reader v;
	if (*have || !field(line, n, name, &v))
		return false;
	*out = v;
	*have = true;
	return true;
}

/* The length of a field line's name: the bytes before its first colon
 * (the whole line when it has none). */
static size_t name_len(const uint8_t *line, size_t n)
{
	const uint8_t *colon = memchr(line, ':', n);
	return colon ? (size_t)(colon - line) : n;
}

/* Walks the field lines up to the empty line or the end of the bytes kept
 * (a line cut by the budget is left out).
 *
 * Each line is compared with the one wanted name of its name's length,
 * not with all seven: field() takes a line that starts with the name (any
 * case) followed by ':', and no name holds a colon, so that colon is the
 * line's first and the name's length is the length before it. The seven
 * names have seven different lengths (4 Host, 6 Server, 7 Upgrade, 10
 * User-Agent, 17 Sec-WebSocket-Key, 20 Sec-WebSocket-Accept, 22
 * Sec-WebSocket-Protocol), so at most one can match a line, as before. */
static void header_fields(struct reader *r, struct http_fields *f)
{
	const uint8_t *line;
	size_t n;
	while (rd_line(r, HTTP_LINE_MAX, &line, &n)) {
		if (n == 0) {
			f->end = true;
			return;
		}
		struct reader v;
		switch (name_len(line, n)) {
		case 4:
			take(line, n, "Host", &f->have_host, &f->host);
			break;
		case 6:
			take(line, n, "Server", &f->have_server, &f->server);
			break;
		case 7:
			if (field(line, n, "Upgrade", &v)) {
				if (!f->have_upgrade) {
					f->upgrade = v;
					f->have_upgrade = true;
				}
				if (has_token(v, "websocket"))
					f->upgrade_ws = true;
			}
			break;
		case 10:
			take(line, n, "User-Agent", &f->have_agent, &f->agent);
			break;
		case 17:
			take(line, n, "Sec-WebSocket-Key", &f->have_ws_key, &f->ws_key);
			break;
		case 20:
			take(line, n, "Sec-WebSocket-Accept", &f->have_ws_accept, &f->ws_accept);
			break;
		case 22:
			take(line, n, "Sec-WebSocket-Protocol", &f->have_ws_protocol,
			     &f->ws_protocol);
			break;
		default:
			break;
		}
	}
}

static void add_reader(struct ident_evidence *ev, const char *key, struct reader v)
{
	size_t n;
	const uint8_t *b = rd_rest(&v, &n);
	ident_add(ev, key, b, n);
}

/*
 * A capture that began inside a persistent connection sees the tail of a
 * body first; the next message starts at a line start further on. For a
 * direction seen mid-stream, look for one: a status line in the server's
 * bytes or a request line in the client's, right after a line end, and
 * parse from there. The skipped bytes are never parsed.
 */
/* Whether "HTTP/1." occurs in p[0..n): memchr finds the candidates. */
static bool has_http1(const uint8_t *p, size_t n)
{
	static const char pat[] = "HTTP/1.";
	const size_t k = sizeof pat - 1;
	size_t i = 0;
	while (n >= k && i <= n - k) {
		const uint8_t *h = memchr(p + i, 'H', n - k + 1 - i);
		if (!h)
			return false;
		i = (size_t)(h - p);
		if (memcmp(h, pat, k) == 0)
			return true;
		i++;
	}
	return false;
}

static bool resync(const struct ident_input *in, int d, struct reader *out)
{
	struct reader r;
	const uint8_t *line;
	size_t n;
	/* Both a request line and a status line hold "HTTP/1.": bytes
	 * without it anywhere (most of what is seen mid-stream: TLS records,
	 * binary protocols) have no message to find, whatever their lines. */
	if (!has_http1(in->data[d], in->len[d]))
		return false;
	rd_init(&r, in->data[d], in->len[d]);
	if (!rd_line(&r, rd_remaining(&r), &line, &n)) /* the partial first line */
		return false;
	while (rd_remaining(&r) > 0) {
		struct reader at = r;
		struct request q;
		struct status st;
		memset(&q, 0, sizeof q);
		memset(&st, 0, sizeof st);
		struct reader probe = at;
		if (d == 1 ? status_line(&probe, &st) == ST_OK : request_line(&probe, &q) == ST_OK) {
			*out = at;
			return true;
		}
		if (!rd_line(&r, rd_remaining(&r), &line, &n))
			return false;
	}
	return false;
}

static enum ident_verdict http_midstream(const struct ident_input *in, struct ident_evidence *ev,
                                         struct http_view *h)
{
	struct reader cr, sr;
	struct request q0;
	struct status s0;
	memset(&q0, 0, sizeof q0);
	memset(&s0, 0, sizeof s0);
	/* Each side from its start when it starts with a message there, else
	 * (seen mid-stream) from the first message found further on. */
	rd_init(&cr, in->data[0], in->len[0]);
	rd_init(&sr, in->data[1], in->len[1]);
	struct reader t0 = cr, t1 = sr;
	/* A server seen from its start that does not answer in HTTP rules the
	 * flow out (http_parse said so already, and NO_MATCH is final). */
	if (!in->midstream[1] && status_line(&t1, &s0) == ST_BAD)
		return IDENT_NO_MATCH;
	t1 = sr;
	memset(&s0, 0, sizeof s0);
	bool c = request_line(&t0, &q0) == ST_OK || (in->midstream[0] && resync(in, 0, &cr));
	bool s = status_line(&t1, &s0) == ST_OK || (in->midstream[1] && resync(in, 1, &sr));
	if (!c && !s)
		return in->done[0] && in->done[1] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
	struct request q;
	struct status st;
	struct http_fields cf, sf;
	memset(&q, 0, sizeof q);
	memset(&st, 0, sizeof st);
	memset(&cf, 0, sizeof cf);
	memset(&sf, 0, sizeof sf);
	h->midstream = true;
	if (c && request_line(&cr, &q) == ST_OK) {
		header_fields(&cr, &cf);
		ident_add(ev, "http_method", q.method, q.method_len);
		ident_add(ev, "http_uri", q.target, q.target_len);
		if (cf.have_host)
			add_reader(ev, "http_host", cf.host);
	}
	if (s && status_line(&sr, &st) == ST_OK) {
		header_fields(&sr, &sf);
		ident_add(ev, "http_status", st.code, 3);
		if (sf.have_server)
			add_reader(ev, "http_server", sf.server);
	}
	ident_add_str(ev, "http_midstream", "1");
	ev->server_confirmed = s;
	ev->confidence = c && s ? 80 : 60;
	return IDENT_MATCH;
}

enum ident_verdict http_parse(const struct ident_input *in, struct ident_evidence *ev,
                              struct http_view *h)
{
	struct reader cr, sr;
	rd_init(&cr, in->data[0], in->len[0]);
	rd_init(&sr, in->data[1], in->len[1]);
	struct request q;
	struct status s;
	struct http_fields *cf = &h->client, *sf = &h->server;
	memset(&q, 0, sizeof q);
	memset(&s, 0, sizeof s);
	memset(h, 0, sizeof *h);

	enum state c = request_line(&cr, &q);
	if (c == ST_BAD && in->midstream[0])
		return http_midstream(in, ev, h);
	if (c == ST_BAD)
		return IDENT_NO_MATCH;
	/* The server's bytes before the client's request is whole: a server
	 * that is not answering in HTTP rules HTTP out whatever the client
	 * still sends (NO_MATCH is final), and a status line it sent is what
	 * the WebSocket decision reads even while the request is arriving. */
	enum state st = status_line(&sr, &s);
	if (st == ST_BAD && in->midstream[1])
		return http_midstream(in, ev, h);
	if (st == ST_BAD)
		return IDENT_NO_MATCH;
	if (st == ST_OK) {
		header_fields(&sr, sf);
		struct reader code;
		rd_init(&code, s.code, 3);
		h->status = true;
		h->status_101 = rd_starts(&code, "101");
	}
	/* A request line cut short for good: its target filled all the bytes
	 * kept (the line end lies beyond the budget), or a segment the capture
	 * lost (or the snap length) ends the contiguous bytes inside it. Then
	 * a registered method and a target must be there, and the server's
	 * status line decides below. */
	bool cut = c == ST_PARTIAL && q.method && q.target_len > 0 &&
	           (q.long_target || in->truncated[0]);
	if (c == ST_PARTIAL && !cut) {
		if (!in->done[0])
			return IDENT_NEED_MORE;
		if (!q.method || q.target_len == 0)
			return IDENT_NO_MATCH;
		cut = true; /* the rest never came: a lost segment */
	}
	if (c == ST_OK) {
		header_fields(&cr, cf);
		struct reader m;
		rd_init(&m, q.method, q.method_len);
		h->request = true;
		h->get = q.method_len == 3 && rd_starts(&m, "GET");
	}
	if (c == ST_NONE) {
		/* Client silent: the server's status line alone. */
		if (st == ST_OK)
			goto match;
		if (in->done[0] && in->done[1])
			return IDENT_NO_MATCH;
		return IDENT_NEED_MORE;
	}
	if (st != ST_OK && !in->done[1])
		return IDENT_NEED_MORE;
	/* A cut request line needs the server's HTTP answer, unless the target
	 * alone is longer than the bytes kept. */
	if (cut && !q.long_target && st != ST_OK)
		return IDENT_NO_MATCH;

match:
	if (q.method) {
		ident_add(ev, "http_method", q.method, q.method_len);
		ident_add(ev, "http_uri", q.target, q.target_len);
	}
	if (cf->have_host)
		add_reader(ev, "http_host", cf->host);
	if (cf->have_agent)
		add_reader(ev, "http_user_agent", cf->agent);
	if (s.code)
		ident_add(ev, "http_status", s.code, 3);
	if (sf->have_server)
		add_reader(ev, "http_server", sf->server);
	if (cf->have_upgrade)
		add_reader(ev, "http_upgrade", cf->upgrade);
	ev->server_confirmed = st == ST_OK;
	ev->confidence = st == ST_OK ? (c == ST_OK ? 100 : 75) : c == ST_OK ? 85 : 65;
	return IDENT_MATCH;
}

/*
 * RFC 6455 4.1/4.2.2: the client asks with "Upgrade: websocket" (and a
 * Sec-WebSocket-Key) in a GET; the server agrees with 101 Switching
 * Protocols, "Upgrade: websocket" and Sec-WebSocket-Accept. What follows is
 * WebSocket framing, no longer HTTP: a confirmed upgrade is proto_
 * websocket's. Any other answer (a 101 to h2c, a 400, a 426) leaves the
 * exchange HTTP; until the server's header block is whole, wait.
 *
 * Both answers are final for both identifiers (NO_MATCH is final, and each
 * answers NO_MATCH on one of them), so each rests only on bytes that more
 * bytes cannot change: a request whose line or whole header block says it
 * is no WebSocket handshake is not one, whatever the server answers; a
 * 101 to a request that asked for websocket is one; a 101 to a client not
 * heard from (or whose header block is cut) is one when the server names
 * websocket, but only once the client is done (it may still ask otherwise).
 */
enum http_ws http_websocket(const struct ident_input *in, enum ident_verdict v,
                            const struct http_view *h)
{
	if (h->midstream || v == IDENT_NO_MATCH)
		return HTTP_WS_NO;
	bool asked = h->request && h->get && h->client.upgrade_ws;
	if (h->request && (!h->get || (h->client.end && !h->client.upgrade_ws)))
		return HTTP_WS_NO;
	if (h->status) {
		if (!h->status_101)
			return HTTP_WS_NO;
		if (!h->server.end && !in->done[1])
			return HTTP_WS_WAIT; /* the server's fields are still arriving */
		if (asked)
			return HTTP_WS_YES;
		if (!in->done[0])
			return HTTP_WS_WAIT; /* the client's request may still say */
		return h->server.upgrade_ws || h->server.have_ws_accept ? HTTP_WS_YES : HTTP_WS_NO;
	}
	return v == IDENT_NEED_MORE ? HTTP_WS_WAIT : HTTP_WS_NO;
}

bool http_request_not_ws(const struct ident_input *in)
{
	/* With the server's bytes read from its stream's start, http_parse
	 * on a whole request line (ST_OK) never takes the mid-stream path
	 * (h->midstream stays false), sets h->request and h->get from that
	 * line and the client's fields from header_fields, as here, and
	 * answers NO_MATCH, NEED_MORE or MATCH. http_websocket then answers
	 * HTTP_WS_NO either for v == NO_MATCH or for the test below, made
	 * before it looks at the server's status; and proto_websocket takes
	 * its frames-only path only when both sides are mid-stream. */
	if (in->midstream[1])
		return false;
	struct reader cr;
	rd_init(&cr, in->data[0], in->len[0]);
	struct request q;
	memset(&q, 0, sizeof q);
	if (request_line(&cr, &q) != ST_OK)
		return false;
	struct reader m;
	rd_init(&m, q.method, q.method_len);
	if (!(q.method_len == 3 && rd_starts(&m, "GET")))
		return true;
	/* header_fields' end and upgrade_ws alone: the same walk over the
	 * lines, each tested only as an Upgrade field. header_fields tests a
	 * line with field(..., "Upgrade") when its name is 7 bytes long, and
	 * a line that field() takes has a 7-byte name ("Upgrade" has no
	 * colon), so testing every line gives the same answer, without
	 * measuring names or reading the other fields. */
	const uint8_t *line;
	size_t n;
	while (rd_line(&cr, HTTP_LINE_MAX, &line, &n)) {
		struct reader v;
		if (n == 0)
			return true; /* the end of the block, no upgrade asked */
		if (field(line, n, "Upgrade", &v) && has_token(v, "websocket"))
			return false;
	}
	return false; /* the block is not whole */
}

static enum ident_verdict http_match(const struct ident_input *in, struct ident_evidence *ev)
{
	struct http_view h;
	enum ident_verdict v = http_parse(in, ev, &h);
	switch (http_websocket(in, v, &h)) {
	case HTTP_WS_YES:
		return IDENT_NO_MATCH;
	case HTTP_WS_WAIT:
		return IDENT_NEED_MORE;
	case HTTP_WS_NO:
		break;
	}
	return v;
}

/* The first bytes (identify.h, first_byte), of direction d.
 * The client's: request_line: a registered method or a prefix of one;
 * anything else is ST_BAD, NO_MATCH with the client's stream read from
 * its start (http_parse, http_websocket: HTTP_WS_NO on NO_MATCH).
 * The server's: none declared. */
static bool http_first_byte(int d, uint8_t transport, uint8_t b)
{
	if (d != 0)
		return true;
	(void)transport;
	return http_method_initial(b);
}

const struct ident_proto ident_http = {"http", "HTTP/1.x (RFC 9112)", IDENT_TCP, http_match, NULL, http_first_byte};
