/*
 * proto_socks4.c - SOCKS 4 and 4a (Ying-Da Lee, "SOCKS: A protocol for
 * TCP proxy across firewalls" and "SOCKS 4A: A Simple Extension to SOCKS 4
 * Protocol").
 *
 *   client request                          server reply (8 bytes)
 *   +----+----+----+----+----+----+----+----+----+....+----+
 *   | VN | CD | DSTPORT |      DSTIP        | USERID   |NUL |
 *   +----+----+----+----+----+----+----+----+----+....+----+
 *     4   1/2   != 0      != 0.0.0.0          printable, <= 255
 *   4a: DSTIP = 0.0.0.x (x != 0), then HOSTNAME NUL (printable, <= 255)
 *
 *   +----+----+----+----+----+----+----+----+
 *   | VN | CD | DSTPORT |      DSTIP        |    VN 0; CD 90 granted,
 *   +----+----+----+----+----+----+----+----+    91-93 rejected
 *
 * After a grant both sides carry the proxied protocol. The request's
 * shape (version, command, the NUL-terminated printable strings) is
 * specific; the 8-byte reply with VN 0 and CD 90-93 confirms it.
 */
#include <stdio.h>

#include "common/reader.h"
#include "identify/identify.h"

#define SOCKS4_STR_MAX 255

struct socks4_req {
	uint8_t cmd;
	uint16_t port;
	uint32_t ip;
	const uint8_t *user;
	size_t user_len;
	const uint8_t *host; /* 4a */
	size_t host_len;
};

enum socks4_parse { S4_BAD, S4_SHORT, S4_OK };

/* A NUL-terminated printable string (NUL consumed). */
static enum socks4_parse socks4_cstr(struct reader *r, const uint8_t **s, size_t *n)
{
	uint8_t c;
	for (size_t i = 0; i <= SOCKS4_STR_MAX; i++) {
		if (!rd_peek_u8(r, i, &c))
			return S4_SHORT;
		if (c == 0) {
			*s = rd_bytes(r, i);
			*n = i;
			(void)rd_u8(r);
			return S4_OK;
		}
		if (c < 0x20 || c > 0x7e)
			return S4_BAD;
	}
	return S4_BAD;
}

static enum socks4_parse socks4_request(const struct ident_input *in, struct socks4_req *q)
{
	struct reader r;
	rd_init(&r, in->data[0], in->len[0]);
	uint8_t vn = rd_u8(&r), cd = rd_u8(&r);
	q->port = rd_be16(&r);
	q->ip = rd_be32(&r);
	q->cmd = cd;
	/* Judge each byte as it arrives. */
	if (in->len[0] >= 1 && vn != 4)
		return S4_BAD;
	if (in->len[0] >= 2 && cd != 1 && cd != 2)
		return S4_BAD;
	if (!rd_ok(&r))
		return S4_SHORT;
	if (q->port == 0 || q->ip == 0)
		return S4_BAD;
	enum socks4_parse p = socks4_cstr(&r, &q->user, &q->user_len);
	if (p != S4_OK)
		return p;
	if (q->ip < 256) /* 4a: 0.0.0.x, the name follows */
		return socks4_cstr(&r, &q->host, &q->host_len);
	return S4_OK;
}

static enum ident_verdict socks4_match(const struct ident_input *in, struct ident_evidence *ev)
{
	struct socks4_req q = {0};
	enum socks4_parse p = socks4_request(in, &q);
	if (p == S4_BAD || (p == S4_SHORT && in->done[0]))
		return IDENT_NO_MATCH;
	if (p == S4_SHORT)
		return IDENT_NEED_MORE;
	struct reader r;
	rd_init(&r, in->data[1], in->len[1]);
	uint8_t vn = rd_u8(&r), cd = rd_u8(&r);
	if (in->len[1] >= 1 && vn != 0)
		return IDENT_NO_MATCH;
	if (in->len[1] >= 2 && (cd < 90 || cd > 93))
		return IDENT_NO_MATCH;
	if (in->len[1] < 8) {
		if (!in->done[1])
			return IDENT_NEED_MORE;
		if (in->len[1] > 0)
			return IDENT_NO_MATCH;
		ev->confidence = 60;
	} else {
		ev->server_confirmed = true;
		ev->confidence = 95;
	}
	char t[SOCKS4_STR_MAX + 8];
	int n;
	if (q.host)
		n = snprintf(t, sizeof t, "%.*s:%u", (int)q.host_len, (const char *)q.host, q.port);
	else
		n = snprintf(t, sizeof t, "%u.%u.%u.%u:%u", q.ip >> 24, q.ip >> 16 & 0xff,
		             q.ip >> 8 & 0xff, q.ip & 0xff, q.port);
	ident_add(ev, "socks_target", (const uint8_t *)t, n < 0 ? 0 : (size_t)n);
	if (q.user_len)
		ident_add(ev, "socks_user", q.user, q.user_len);
	ident_add_str(ev, "socks_command", q.cmd == 1 ? "connect" : "bind");
	return IDENT_MATCH;
}

/* The first bytes (identify.h, first_byte), of direction d.
 * The client's: socks4_request: VN 4.
 * The server's: none declared. */
static bool socks4_first_byte(int d, uint8_t transport, uint8_t b)
{
	if (d != 0)
		return true;
	(void)transport;
	return b == 4;
}

const struct ident_proto ident_socks4 = {"socks4", "SOCKS 4/4a", IDENT_TCP, socks4_match, NULL, socks4_first_byte};
