/*
 * proto_zabbix.c - Zabbix agent, sender, proxy and server protocol
 * (Zabbix manual, Appendixes > Protocols > "Header and data length";
 * "Zabbix agent protocol", "Zabbix sender protocol").
 *
 * Every message is framed with the same header:
 *
 *   +------+-------+-----------------+-------------------+
 *   | ZBXD | flags | data length     | reserved          |
 *   |  4   |   1   | 4 LE (8 large)  | 4 LE (8 large)    |
 *   +------+-------+-----------------+-------------------+
 *   flags: 0x01 Zabbix protocol (always set), 0x02 zlib compression,
 *          0x04 large packet (8-byte lengths): 01, 03, 05 or 07.
 *   reserved: 0, or the uncompressed length when compressed (then the
 *   data is a zlib stream: first byte 0x78). Before Zabbix 4.0 the data
 *   length was one 8-byte field; for real lengths its high half is the
 *   zero "reserved" of the newer header, so both read alike. Data length
 *   <= 1 GiB (ZBX_MAX_RECV_DATA_SIZE) unless large.
 *
 * Either side may connect: an agent or zabbix_sender to a server or proxy
 * (tcp/10051, JSON {"request":"agent data"|"sender data"|...}), or a server
 * to an agent for a passive check (tcp/10050, the item key, framed, or from
 * old servers as a bare text line "agent.ping\n"); the answer is framed
 * too. A framed client message is confirmed by a framed answer; a bare key
 * line is accepted only with a framed answer.
 */
#include "common/reader.h"
#include "identify/identify.h"

enum zbx_parse { ZBX_BAD, ZBX_SHORT, ZBX_OK };

struct zbx_msg {
	uint8_t flags;
	const uint8_t *data; /* the payload bytes present */
	size_t dlen;
};

static enum zbx_parse zbx_header(const uint8_t *p, uint32_t len, bool done, struct zbx_msg *m)
{
	struct reader r;
	rd_init(&r, p, len);
	static const char magic[] = "ZBXD";
	for (unsigned i = 0; i < 4; i++) {
		uint8_t b;
		if (!rd_peek_u8(&r, i, &b))
			return ZBX_SHORT;
		if (b != (uint8_t)magic[i])
			return ZBX_BAD;
	}
	rd_skip(&r, 4);
	uint8_t flags;
	if (!rd_peek_u8(&r, 0, &flags))
		return ZBX_SHORT;
	if ((flags & ~0x07) || !(flags & 0x01))
		return ZBX_BAD;
	(void)rd_u8(&r);
	bool large = flags & 0x04;
	uint64_t dlen, res;
	if (large) {
		dlen = (uint64_t)rd_le32(&r);
		dlen |= (uint64_t)rd_le32(&r) << 32;
		res = (uint64_t)rd_le32(&r);
		res |= (uint64_t)rd_le32(&r) << 32;
	} else {
		dlen = rd_le32(&r);
		res = rd_le32(&r);
	}
	if (!rd_ok(&r))
		return done ? ZBX_BAD : ZBX_SHORT;
	if (!large && dlen > (1u << 30))
		return ZBX_BAD;
	if (large && dlen >> 40)
		return ZBX_BAD;
	bool compressed = flags & 0x02;
	if (compressed ? (res == 0 || dlen < 2) : res != 0)
		return ZBX_BAD;
	m->flags = flags;
	uint8_t b0;
	if (compressed) {
		if (!rd_peek_u8(&r, 0, &b0))
			return done ? ZBX_BAD : ZBX_SHORT;
		if (b0 != 0x78) /* zlib, deflate */
			return ZBX_BAD;
	}
	size_t n = rd_remaining(&r);
	if (n > dlen)
		n = (size_t)dlen;
	m->data = rd_bytes(&r, n);
	m->dlen = n;
	return ZBX_OK;
}

/* An old server's passive check: one printable item key line, nothing
 * after it. */
static bool zbx_key_line(const uint8_t *p, uint32_t len, const uint8_t **key, size_t *klen)
{
	struct reader r;
	rd_init(&r, p, len);
	if (!rd_line(&r, 256, key, klen) || *klen == 0 || rd_remaining(&r) != 0)
		return false;
	struct reader k;
	rd_init(&k, *key, *klen);
	return rd_printable(&k, *klen);
}

/* The value of "request" in a JSON payload, searched in its first bytes. */
static bool zbx_request(const uint8_t *p, size_t n, const uint8_t **v, size_t *vlen)
{
	struct reader r;
	rd_init(&r, p, n > 512 ? 512 : n);
	uint8_t c;
	if (!rd_peek_u8(&r, 0, &c) || c != '{')
		return false;
	while (rd_remaining(&r)) {
		if (!rd_starts(&r, "\"request\"")) {
			rd_skip(&r, 1);
			continue;
		}
		rd_skip(&r, 9);
		while (rd_peek_u8(&r, 0, &c) && (c == ' ' || c == ':' || c == '\t'))
			rd_skip(&r, 1);
		if (!rd_peek_u8(&r, 0, &c) || c != '"')
			return false;
		rd_skip(&r, 1);
		size_t i = 0;
		while (rd_peek_u8(&r, i, &c) && c != '"' && c >= 0x20 && c < 0x7f)
			i++;
		if (c != '"' || i == 0)
			return false;
		*v = rd_bytes(&r, i);
		*vlen = i;
		return *v != NULL;
	}
	return false;
}

static void zbx_add_payload(struct ident_evidence *ev, const struct zbx_msg *m)
{
	if (m->flags & 0x02)
		return;
	const uint8_t *v;
	size_t n;
	if (zbx_request(m->data, m->dlen, &v, &n)) {
		ident_add(ev, "zabbix_request", v, n);
		return;
	}
	/* a passive check's item key: printable text, up to a line end or NUL */
	struct reader r;
	rd_init(&r, m->data, m->dlen);
	size_t i = 0;
	uint8_t c;
	while (i < 256 && rd_peek_u8(&r, i, &c) && c >= 0x20 && c < 0x7f)
		i++;
	if (i > 0 && i == m->dlen)
		ident_add(ev, "zabbix_key", m->data, i);
}

static enum ident_verdict zbx_match(const struct ident_input *in, struct ident_evidence *ev)
{
	struct zbx_msg c = {0}, s = {0};
	enum zbx_parse pc = zbx_header(in->data[0], in->len[0], in->done[0], &c);
	const uint8_t *key = NULL;
	size_t klen = 0;
	if (pc == ZBX_BAD) {
		if (!zbx_key_line(in->data[0], in->len[0], &key, &klen)) {
			/* a key line whose end has not come yet: it may still
			 * (NO_MATCH is final), unless the server's bytes are no
			 * Zabbix header */
			struct reader r;
			rd_init(&r, in->data[0], in->len[0]);
			size_t n = rd_partial_len(&r, in->len[0]);
			if (in->done[0] || in->len[0] >= 256 || !rd_printable(&r, n) ||
			    zbx_header(in->data[1], in->len[1], in->done[1], &s) == ZBX_BAD)
				return IDENT_NO_MATCH;
			return IDENT_NEED_MORE;
		}
	} else if (pc == ZBX_SHORT) {
		if (in->len[0] == 0 || !in->done[0])
			return in->done[0] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
		return IDENT_NO_MATCH;
	}
	enum zbx_parse ps = zbx_header(in->data[1], in->len[1], in->done[1], &s);
	if (ps == ZBX_BAD)
		return IDENT_NO_MATCH;
	if (ps == ZBX_SHORT) {
		if (!in->done[1])
			return IDENT_NEED_MORE;
		if (key || in->len[1])
			return IDENT_NO_MATCH;
	}
	ev->server_confirmed = ps == ZBX_OK;
	ev->confidence = ps == ZBX_OK ? 95 : 80;
	if (key) {
		ident_add(ev, "zabbix_key", key, klen);
	} else {
		ident_add_str(ev, "zabbix_compressed", (c.flags & 0x02) ? "1" : "0");
		zbx_add_payload(ev, &c);
	}
	return IDENT_MATCH;
}

/* The first bytes (identify.h, first_byte), of direction d.
 * The client's: zbx_match: the header ("ZBXD") or a printable key line,
 * whole or arriving (a lone CR).
 * The server's: none declared. */
static bool zabbix_first_byte(int d, uint8_t transport, uint8_t b)
{
	if (d != 0)
		return true;
	(void)transport;
	return b == '\t' || b == '\r' || (b >= 0x20 && b <= 0x7e);
}

const struct ident_proto ident_zabbix = {"zabbix", "Zabbix agent/sender protocol", IDENT_TCP,
                                         zbx_match, NULL, zabbix_first_byte};
