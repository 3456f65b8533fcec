/*
 * proto_rtsp.c - RTSP (RFC 2326 RTSP 1.0, RFC 7826 RTSP 2.0).
 *
 * The client speaks first with an HTTP-like request:
 *
 *   METHOD SP Request-URI SP "RTSP/1.0" CR LF     (RFC 2326 6.1)
 *   OPTIONS DESCRIBE ANNOUNCE SETUP PLAY PAUSE TEARDOWN GET_PARAMETER
 *   SET_PARAMETER REDIRECT RECORD PLAY_NOTIFY
 *   Request-URI: "rtsp://" "rtsps://" "rtspu://" host..., or "*"
 *   header lines ("CSeq: 2", "User-Agent: ...") up to an empty line
 *
 * and the server answers with a status line (RFC 2326 7.1):
 *
 *   "RTSP/1.0" SP 3 digits SP reason CR LF
 *
 * The request line alone names the protocol (its version token); it waits
 * for the server's status line, which must then be RTSP's.
 */
#include "common/reader.h"
#include "identify/identify.h"

#define RTSP_LINE_MAX 2048
#define RTSP_HEADERS 32

static const char *const rtsp_methods[] = {
    "OPTIONS",  "DESCRIBE", "ANNOUNCE", "SETUP",         "PLAY",          "PAUSE",
    "TEARDOWN", "REDIRECT", "RECORD",   "GET_PARAMETER", "SET_PARAMETER", "PLAY_NOTIFY",
};

enum rtsp_parse { RTSP_BAD, RTSP_SHORT, RTSP_OK };

struct rtsp_req {
	const char *method;
	const uint8_t *uri, *ua;
	size_t uri_len, ua_len;
};

/* True when the line's bytes from `at` equal s up to the line's end. */
static bool rtsp_ends(const uint8_t *line, size_t n, const char *s)
{
	size_t sl = 0;
	while (s[sl])
		sl++;
	if (n < sl)
		return false;
	struct reader l;
	rd_init(&l, line, n);
	rd_skip(&l, n - sl);
	return rd_starts(&l, s);
}

static enum rtsp_parse rtsp_client(const struct ident_input *in, struct rtsp_req *q)
{
	struct reader r;
	rd_init(&r, in->data[0], in->len[0]);
	const uint8_t *line;
	size_t n;
	if (!rd_line(&r, RTSP_LINE_MAX, &line, &n)) {
		size_t rest = rd_partial_len(&r, rd_remaining(&r));
		if (rest >= RTSP_LINE_MAX || !rd_printable(&r, rest) || in->done[0])
			return RTSP_BAD;
		/* a prefix of some method */
		for (size_t k = 0; k < sizeof rtsp_methods / sizeof rtsp_methods[0]; k++) {
			bool ok = true;
			uint8_t c;
			for (size_t i = 0; rtsp_methods[k][i] && ok; i++)
				if (rd_peek_u8(&r, i, &c) && c != (uint8_t)rtsp_methods[k][i])
					ok = false;
			if (ok)
				return RTSP_SHORT;
		}
		return RTSP_BAD;
	}
	struct reader l;
	rd_init(&l, line, n);
	if (!rd_printable(&l, n))
		return RTSP_BAD;
	q->method = NULL;
	for (size_t k = 0; k < sizeof rtsp_methods / sizeof rtsp_methods[0]; k++) {
		size_t ml = 0;
		while (rtsp_methods[k][ml])
			ml++;
		uint8_t sp = 0;
		if (rd_starts(&l, rtsp_methods[k]) && rd_peek_u8(&l, ml, &sp) && sp == ' ') {
			q->method = rtsp_methods[k];
			rd_skip(&l, ml + 1);
			break;
		}
	}
	if (!q->method)
		return RTSP_BAD;
	if (!rtsp_ends(line, n, " RTSP/1.0") && !rtsp_ends(line, n, " RTSP/2.0"))
		return RTSP_BAD;
	if (rd_remaining(&l) < 10)
		return RTSP_BAD;
	size_t ulen = rd_remaining(&l) - 9;
	if (!(rd_starts_ci(&l, "rtsp://") || rd_starts_ci(&l, "rtsps://") ||
	      rd_starts_ci(&l, "rtspu://") || (ulen == 1 && rd_starts(&l, "*"))))
		return RTSP_BAD;
	q->uri = rd_bytes(&l, ulen);
	q->uri_len = ulen;
	/* headers: the User-Agent */
	for (int k = 0; k < RTSP_HEADERS; k++) {
		if (!rd_line(&r, RTSP_LINE_MAX, &line, &n) || n == 0)
			break;
		rd_init(&l, line, n);
		if (rd_starts_ci(&l, "User-Agent:")) {
			rd_skip(&l, 11);
			uint8_t c;
			while (rd_peek_u8(&l, 0, &c) && c == ' ')
				rd_skip(&l, 1);
			q->ua = rd_rest(&l, &q->ua_len);
		}
	}
	return RTSP_OK;
}

static enum rtsp_parse rtsp_server(const struct ident_input *in)
{
	struct reader r;
	rd_init(&r, in->data[1], in->len[1]);
	static const char v[] = "RTSP/";
	uint8_t c;
	for (size_t i = 0; v[i]; i++) {
		if (!rd_peek_u8(&r, i, &c))
			return in->done[1] && in->len[1] ? RTSP_BAD : RTSP_SHORT;
		if (c != (uint8_t)v[i])
			return RTSP_BAD;
	}
	const uint8_t *line;
	size_t n;
	if (!rd_line(&r, RTSP_LINE_MAX, &line, &n))
		return in->done[1] || rd_remaining(&r) >= RTSP_LINE_MAX ? RTSP_BAD : RTSP_SHORT;
	struct reader l;
	rd_init(&l, line, n);
	if (n < 12 || !(rd_starts(&l, "RTSP/1.0 ") || rd_starts(&l, "RTSP/2.0 ")))
		return RTSP_BAD;
	rd_skip(&l, 9);
	for (int i = 0; i < 3; i++) {
		c = rd_u8(&l);
		if (c < '0' || c > '9')
			return RTSP_BAD;
	}
	return RTSP_OK;
}

static enum ident_verdict rtsp_match(const struct ident_input *in, struct ident_evidence *ev)
{
	struct rtsp_req q = {0};
	enum rtsp_parse pc = rtsp_client(in, &q);
	if (pc == RTSP_BAD)
		return IDENT_NO_MATCH;
	enum rtsp_parse ps = rtsp_server(in);
	if (ps == RTSP_BAD)
		return IDENT_NO_MATCH;
	if (pc == RTSP_SHORT)
		return IDENT_NEED_MORE;
	if (ps == RTSP_SHORT) {
		if (!in->done[1])
			return IDENT_NEED_MORE;
		ev->confidence = 80;
	} else {
		ev->server_confirmed = true;
		ev->confidence = 100;
	}
	ident_add_str(ev, "rtsp_method", q.method);
	ident_add(ev, "rtsp_uri", q.uri, q.uri_len);
	if (q.ua)
		ident_add(ev, "rtsp_user_agent", q.ua, q.ua_len);
	return IDENT_MATCH;
}

/* The first bytes (identify.h, first_byte), of direction d.
 * The client's: rtsp_client: a method of rtsp_methods, or a prefix of
 * one.
 * The server's: none declared. */
static bool rtsp_first_byte(int d, uint8_t transport, uint8_t b)
{
	if (d != 0)
		return true;
	(void)transport;
	return b == 'A' || b == 'D' || b == 'G' || b == 'O' || b == 'P' || b == 'R' || b == 'S' ||
	       b == 'T';
}

const struct ident_proto ident_rtsp = {"rtsp", "RTSP (RFC 2326, RFC 7826)", IDENT_TCP, rtsp_match, NULL, rtsp_first_byte};
