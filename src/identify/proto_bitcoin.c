/*
 * proto_bitcoin.c - Bitcoin peer-to-peer protocol (Bitcoin developer
 * reference, "P2P Network": message headers and the "version" message;
 * BIP 14 user agent, BIP 37 relay flag).
 *
 * Every message starts with a header:
 *
 *   +----------------+---------------------------+-------------+----------+
 *   | network magic  | command: 12 bytes, ASCII  | payload len | checksum |
 *   | 4 bytes        | lower-case, NUL-padded    | 4 LE        | 4        |
 *   +----------------+---------------------------+-------------+----------+
 *   magic: f9 be b4 d9 mainnet, 0b 11 09 07 testnet3, 1c 16 3f 28 testnet4,
 *          0a 03 cf 40 signet, fa bf b5 da regtest.
 *   payload <= 32 MiB (MAX_SIZE). Early clients (0.3.x, 2010-2011, still
 *   in old captures) sent "version" and "verack" without the checksum
 *   field: a 20-byte header.
 *
 * The connecting peer's first message is "version":
 *   version (4 LE, the protocol: 106 ... 70016), services (8),
 *   timestamp (8), addr_recv (26), [>= 106: addr_from (26), nonce (8),
 *   user agent (CompactSize length + ASCII, e.g. "/Satoshi:27.0.0/"),
 *   start height (4), [>= 70001: relay (1)]]
 * and the listener answers with its own "version" (and "verack"). The
 * header alone is specific: four magic bytes, then a command that is
 * lower-case letters padded with NULs only. A flow seen mid-stream may
 * start at any message, so any command is accepted there.
 */
#include <string.h>

#include "common/reader.h"
#include "identify/identify.h"

enum btc_parse { BTC_BAD, BTC_SHORT, BTC_OK };

struct btc_msg {
	const char *network;
	uint8_t command[12];
	size_t command_len;
	bool version;     /* a "version" message, parsed */
	uint32_t proto;   /* its protocol version */
	const uint8_t *ua;
	size_t ua_len;
};

static const char *btc_network(uint32_t magic)
{
	switch (magic) {
	case 0xf9beb4d9:
		return "mainnet";
	case 0x0b110907:
		return "testnet3";
	case 0x1c163f28:
		return "testnet4";
	case 0x0a03cf40:
		return "signet";
	case 0xfabfb5da:
		return "regtest";
	default:
		return NULL;
	}
}

/* The version payload from r (its length plen). BTC_OK when its fields
 * fit and the protocol version is plausible. */
static enum btc_parse btc_version(struct reader *r, uint32_t plen, bool done, struct btc_msg *m)
{
	if (plen < 46 || plen > 1024)
		return BTC_BAD;
	if (!rd_has(r, plen)) {
		if (!done)
			return BTC_SHORT;
		/* only part of it will come: judge what is there */
	}
	struct reader p = rd_sub(r, rd_has(r, plen) ? plen : rd_remaining(r));
	bool whole = rd_remaining(&p) == plen;
	uint32_t v = rd_le32(&p);
	if (!rd_ok(&p))
		return BTC_BAD;
	if (v < 106 || v > 200000)
		return BTC_BAD;
	m->proto = v;
	rd_skip(&p, 8 + 8 + 26 + 26 + 8); /* services, time, addr_recv, addr_from, nonce */
	uint8_t l0 = rd_u8(&p);
	if (!rd_ok(&p))
		return whole ? BTC_BAD : BTC_OK;
	uint64_t ulen = l0;
	if (l0 == 0xfd)
		ulen = rd_le16(&p);
	else if (l0 >= 0xfe)
		return BTC_BAD;
	if (ulen > 256) /* MAX_SUBVERSION_LENGTH */
		return BTC_BAD;
	const uint8_t *ua = rd_bytes(&p, (size_t)ulen);
	if (!rd_ok(&p))
		return whole ? BTC_BAD : BTC_OK;
	struct reader u;
	rd_init(&u, ua, (size_t)ulen);
	if (!rd_printable(&u, (size_t)ulen))
		return BTC_BAD;
	m->ua = ua;
	m->ua_len = (size_t)ulen;
	(void)rd_le32(&p); /* start height */
	if (whole && (!rd_ok(&p) || rd_remaining(&p) > 1))
		return BTC_BAD;
	m->version = true;
	return BTC_OK;
}

static enum btc_parse btc_first(const uint8_t *data, uint32_t len, bool done, bool midstream,
                                struct btc_msg *m)
{
	struct reader r;
	rd_init(&r, data, len);
	uint32_t magic = rd_be32(&r);
	if (!rd_ok(&r)) {
		/* fewer than 4 bytes: a prefix of one of the magics waits */
		static const uint32_t magics[] = {0xf9beb4d9, 0x0b110907, 0x1c163f28, 0x0a03cf40,
		                                  0xfabfb5da};
		struct reader q;
		rd_init(&q, data, len);
		for (unsigned k = 0; k < sizeof magics / sizeof magics[0]; k++) {
			bool prefix = true;
			for (unsigned i = 0; i < len && i < 4; i++) {
				uint8_t b;
				(void)rd_peek_u8(&q, i, &b);
				prefix &= b == (uint8_t)(magics[k] >> (24 - 8 * i));
			}
			if (prefix)
				return done ? BTC_BAD : BTC_SHORT;
		}
		return BTC_BAD;
	}
	m->network = btc_network(magic);
	if (!m->network)
		return BTC_BAD;
	/* command: [a-z]+ then NULs to 12 bytes */
	size_t n = 0;
	bool pad = false;
	for (unsigned i = 0; i < 12; i++) {
		uint8_t c;
		if (!rd_peek_u8(&r, i, &c))
			return done ? BTC_BAD : BTC_SHORT;
		if (c == 0) {
			pad = true;
		} else if (pad || c < 'a' || c > 'z') {
			return BTC_BAD;
		} else {
			m->command[n++] = c;
		}
	}
	if (n == 0)
		return BTC_BAD;
	rd_skip(&r, 12);
	m->command_len = n;
	uint32_t plen = rd_le32(&r);
	if (!rd_ok(&r))
		return done ? BTC_BAD : BTC_SHORT;
	if (plen > (32u << 20))
		return BTC_BAD;
	bool is_version = n == 7 && memcmp(m->command, "version", 7) == 0;
	bool is_verack = n == 6 && memcmp(m->command, "verack", 6) == 0;
	if (is_verack)
		return plen == 0 ? BTC_OK : BTC_BAD;
	if (!is_version)
		return midstream ? BTC_OK : BTC_BAD;
	/* With the checksum the payload's version field is at 24, without it
	 * (early clients) at 20: the one that parses decides, the checksum
	 * form first. */
	struct reader with = r;
	(void)rd_le32(&with);
	struct btc_msg m1 = *m, m2 = *m;
	enum btc_parse p1 = rd_ok(&with) ? btc_version(&with, plen, done, &m1) : (done ? BTC_BAD : BTC_SHORT);
	if (p1 == BTC_OK) {
		*m = m1;
		return BTC_OK;
	}
	enum btc_parse p2 = btc_version(&r, plen, done, &m2);
	if (p2 == BTC_OK) {
		*m = m2;
		return BTC_OK;
	}
	if (p1 == BTC_SHORT || p2 == BTC_SHORT)
		return BTC_SHORT;
	return BTC_BAD;
}

static enum ident_verdict btc_match(const struct ident_input *in, struct ident_evidence *ev)
{
	struct btc_msg c = {0}, s = {0};
	enum btc_parse pc = btc_first(in->data[0], in->len[0], in->done[0], in->midstream[0], &c);
	if (pc == BTC_BAD)
		return IDENT_NO_MATCH;
	if (pc == BTC_SHORT)
		return in->done[0] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
	enum btc_parse ps = BTC_SHORT;
	if (in->len[1]) {
		ps = btc_first(in->data[1], in->len[1], in->done[1], true, &s);
		if (ps == BTC_BAD)
			return IDENT_NO_MATCH;
	}
	if (ps == BTC_SHORT && !in->done[1])
		return IDENT_NEED_MORE;
	if (ps == BTC_SHORT && in->len[1])
		return IDENT_NO_MATCH;
	ev->server_confirmed = ps == BTC_OK;
	ev->confidence = ps == BTC_OK ? 95 : 80;
	ident_add_str(ev, "bitcoin_network", c.network);
	ident_add(ev, "bitcoin_command", c.command, c.command_len);
	const struct btc_msg *v = c.version ? &c : s.version ? &s : NULL;
	if (v) {
		ident_add_u64(ev, "bitcoin_version", v->proto);
		if (v->ua_len)
			ident_add(ev, "bitcoin_user_agent", v->ua, v->ua_len);
	}
	return IDENT_MATCH;
}

/* The first bytes (identify.h, first_byte), of direction d.
 * The client's: btc_first: the first byte of one of the network magics
 * (of a prefix of one).
 * The server's: none declared. */
static bool bitcoin_first_byte(int d, uint8_t transport, uint8_t b)
{
	if (d != 0)
		return true;
	(void)transport;
	return b == 0xf9 || b == 0x0b || b == 0x1c || b == 0x0a || b == 0xfa;
}

const struct ident_proto ident_bitcoin = {"bitcoin", "Bitcoin P2P (Bitcoin developer reference)",
                                          IDENT_TCP, btc_match, NULL, bitcoin_first_byte};
