/*
 * proto_socks5.c - SOCKS 5 (RFC 1928; username/password RFC 1929).
 *
 *   client                                    server
 *   greeting:  05 NMETHODS METHODS...          selection:  05 METHOD
 *              1-32 methods, each 00-09 or     (one of the offered, or FF
 *              80-FE (no FF)                    no acceptable method)
 *   [RFC 1929: 01 ULEN UNAME PLEN PASSWD]      [01 STATUS]
 *   request:   05 CMD 00 ATYP DST.ADDR DST.PORT     reply: 05 REP 00 ATYP ...
 *              CMD 1 connect 2 bind 3 UDP       REP 00-08
 *              ATYP 1 IPv4 (4) / 3 name (len, printable) / 4 IPv6 (16)
 *
 * The 3-byte greeting alone is weak (any binary protocol can start with
 * 05 01 00), so a MATCH needs the server's method selection naming an
 * offered method, or, when the server was not seen, the request that
 * follows the greeting.
 */
#include <stdio.h>

#include "common/reader.h"
#include "identify/identify.h"

#define SOCKS5_METHODS_MAX 32

enum s5_parse { S5_BAD, S5_SHORT, S5_OK };

static bool socks5_method_ok(uint8_t m) { return m <= 0x09 || (m >= 0x80 && m <= 0xfe); }

static enum s5_parse socks5_greeting(struct reader *r, uint8_t *methods, uint8_t *n)
{
	uint8_t v, c;
	if (!rd_peek_u8(r, 0, &v))
		return S5_SHORT;
	if (v != 5)
		return S5_BAD;
	if (!rd_peek_u8(r, 1, &c))
		return S5_SHORT;
	if (c < 1 || c > SOCKS5_METHODS_MAX)
		return S5_BAD;
	rd_skip(r, 2);
	for (uint8_t i = 0; i < c; i++) {
		uint8_t m;
		if (!rd_peek_u8(r, 0, &m))
			return S5_SHORT;
		if (!socks5_method_ok(m))
			return S5_BAD;
		for (uint8_t k = 0; k < i; k++)
			if (methods[k] == m)
				return S5_BAD; /* offered twice */
		methods[i] = m;
		(void)rd_u8(r);
	}
	*n = c;
	return S5_OK;
}

/* RFC 1929 request: 01 ULEN UNAME PLEN PASSWD (the password is skipped,
 * never kept). */
static enum s5_parse socks5_userpass(struct reader *r, const uint8_t **user, size_t *ulen)
{
	uint8_t v, n;
	if (!rd_peek_u8(r, 0, &v))
		return S5_SHORT;
	if (v != 1)
		return S5_BAD;
	if (!rd_peek_u8(r, 1, &n))
		return S5_SHORT;
	if (n == 0 || !rd_has(r, 2 + (size_t)n + 1))
		return n == 0 ? S5_BAD : S5_SHORT;
	rd_skip(r, 2);
	*user = rd_bytes(r, n);
	*ulen = n;
	uint8_t plen = rd_u8(r);
	if (!rd_has(r, plen))
		return S5_SHORT;
	rd_skip(r, plen);
	return S5_OK;
}

/* Request or reply: 05 CODE 00 ATYP ADDR PORT. Formats the address into t
 * for a request. */
static enum s5_parse socks5_request(struct reader *r, bool reply, char *t, size_t tn)
{
	uint8_t h[4];
	for (int i = 0; i < 4; i++)
		if (!rd_peek_u8(r, (size_t)i, &h[i]))
			return S5_SHORT;
	if (h[0] != 5 || h[2] != 0)
		return S5_BAD;
	if (reply ? h[1] > 8 : (h[1] < 1 || h[1] > 3))
		return S5_BAD;
	rd_skip(r, 4);
	int n = 0;
	if (h[3] == 1) {
		uint8_t a[4];
		rd_copy(r, a, 4);
		uint16_t port = rd_be16(r);
		if (!rd_ok(r))
			return S5_SHORT;
		n = snprintf(t, tn, "%u.%u.%u.%u:%u", a[0], a[1], a[2], a[3], port);
	} else if (h[3] == 3) {
		uint8_t len;
		if (!rd_peek_u8(r, 0, &len))
			return S5_SHORT;
		if (len == 0)
			return S5_BAD;
		if (!rd_has(r, 1 + (size_t)len + 2))
			return S5_SHORT;
		(void)rd_u8(r);
		if (!rd_printable(r, len))
			return S5_BAD;
		char name[256];
		rd_copy(r, name, len);
		uint16_t port = rd_be16(r);
		n = snprintf(t, tn, "%.*s:%u", (int)len, name, port);
	} else if (h[3] == 4) {
		uint8_t a[16];
		rd_copy(r, a, 16);
		uint16_t port = rd_be16(r);
		if (!rd_ok(r))
			return S5_SHORT;
		n = snprintf(t, tn, "[%x:%x:%x:%x:%x:%x:%x:%x]:%u", a[0] << 8 | a[1], a[2] << 8 | a[3],
		             a[4] << 8 | a[5], a[6] << 8 | a[7], a[8] << 8 | a[9], a[10] << 8 | a[11],
		             a[12] << 8 | a[13], a[14] << 8 | a[15], port);
	} else {
		return S5_BAD;
	}
	if (n < 0)
		t[0] = 0;
	return S5_OK;
}

static const char *socks5_method_name(uint8_t m)
{
	switch (m) {
	case 0x00: return "none";
	case 0x01: return "gssapi";
	case 0x02: return "username";
	case 0x03: return "chap";
	case 0xff: return "no_acceptable";
	default: return NULL;
	}
}

static enum ident_verdict socks5_match(const struct ident_input *in, struct ident_evidence *ev)
{
	struct reader c, s;
	rd_init(&c, in->data[0], in->len[0]);
	rd_init(&s, in->data[1], in->len[1]);
	uint8_t methods[SOCKS5_METHODS_MAX], nm = 0;
	enum s5_parse p = socks5_greeting(&c, methods, &nm);
	if (p == S5_BAD || (p == S5_SHORT && in->done[0]))
		return IDENT_NO_MATCH;
	if (p == S5_SHORT)
		return IDENT_NEED_MORE;

	/* The server's selection. */
	int chosen = -1;
	uint8_t v, m;
	if (rd_peek_u8(&s, 0, &v) && v != 5)
		return IDENT_NO_MATCH;
	if (rd_peek_u8(&s, 1, &m)) {
		bool offered = m == 0xff;
		for (uint8_t i = 0; i < nm; i++)
			offered = offered || methods[i] == m;
		if (!offered)
			return IDENT_NO_MATCH;
		chosen = m;
		rd_skip(&s, 2);
	} else if (!in->done[1]) {
		return IDENT_NEED_MORE;
	} else if (in->len[1] > 0) {
		return IDENT_NO_MATCH;
	}

	/* What the client sent next: authentication, then the request. */
	const uint8_t *user = NULL;
	size_t ulen = 0;
	char target[300] = "";
	enum s5_parse pr = S5_SHORT;
	uint8_t b;
	if (chosen != 0xff && rd_peek_u8(&c, 0, &b)) {
		pr = S5_OK;
		if (chosen == 2 || (chosen < 0 && b == 1))
			pr = socks5_userpass(&c, &user, &ulen);
		if (pr == S5_OK)
			pr = socks5_request(&c, false, target, sizeof target);
		else if (pr == S5_BAD)
			return IDENT_NO_MATCH;
		if (pr == S5_BAD)
			return IDENT_NO_MATCH;
	}
	if (chosen < 0) {
		/* No server seen: the greeting and a whole request must be there. */
		if (pr != S5_OK)
			return IDENT_NO_MATCH;
		ev->confidence = 60;
	} else {
		/* Wait for the request (and its target) while it may come. */
		if (pr == S5_SHORT && chosen != 0xff && !in->done[0])
			return IDENT_NEED_MORE;
		ev->server_confirmed = true;
		ev->confidence = 90;
		const char *mn = socks5_method_name((uint8_t)chosen);
		if (mn)
			ident_add_str(ev, "socks_auth", mn);
		else
			ident_add_u64(ev, "socks_auth", (uint64_t)chosen);
	}
	if (target[0])
		ident_add_str(ev, "socks_target", target);
	if (user)
		ident_add(ev, "socks_user", user, ulen);
	return IDENT_MATCH;
}

/* The first bytes (identify.h, first_byte), of direction d.
 * The client's: socks5_greeting: version 5.
 * The server's: none declared. */
static bool socks5_first_byte(int d, uint8_t transport, uint8_t b)
{
	if (d != 0)
		return true;
	(void)transport;
	return b == 5;
}

const struct ident_proto ident_socks5 = {"socks5", "SOCKS 5 (RFC 1928)", IDENT_TCP, socks5_match, NULL, socks5_first_byte};
