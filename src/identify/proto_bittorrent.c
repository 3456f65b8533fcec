/*
 * proto_bittorrent.c - BitTorrent peer wire protocol (BEP 3), its UDP
 * relatives: the DHT (BEP 5, KRPC bencoded dictionaries) and uTP (BEP 29).
 *
 * TCP handshake, both sides:
 *   +----+---------------------+------------+-----------+-----------+
 *   | 19 | "BitTorrent protocol" | reserved 8 | info_hash 20 | peer_id 20 |
 *   +----+---------------------+------------+-----------+-----------+
 *   The answering peer names the same info_hash.
 *
 * UDP, DHT: one bencoded dictionary filling the datagram, starting
 *   "d1:ad2:id20:" (query) or "d1:rd2:id20:" / "d1:e" (response, error).
 * UDP, uTP: 20-byte header: type(4) version 1(4) | extension | conn_id(2) |
 *   timestamp(4) | timestamp_diff(4) | wnd_size(4) | seq_nr(2) | ack_nr(2)
 *   A ST_SYN (type 4) is answered by ST_STATE (type 2) with the same
 *   connection id acknowledging the SYN's sequence number; a uTP header
 *   alone is too weak, so uTP matches only with that answer.
 *
 * Why this strict: the TCP magic is 20 bytes; the DHT datagram must be
 * valid bencoding to its last byte.
 */
#include "common/reader.h"
#include "identify/identify.h"

/* One bencoded value; false when malformed or cut. */
static bool bt_bencode(struct reader *r, int depth)
{
	uint8_t c;
	if (depth > 16 || !rd_peek_u8(r, 0, &c))
		return false;
	if (c == 'i') {
		rd_skip(r, 1);
		uint8_t d;
		unsigned n = 0;
		if (rd_peek_u8(r, 0, &d) && d == '-')
			rd_skip(r, 1);
		while (rd_peek_u8(r, 0, &d) && d >= '0' && d <= '9' && n < 20) {
			rd_skip(r, 1);
			n++;
		}
		return n > 0 && rd_u8(r) == 'e' && rd_ok(r);
	}
	if (c >= '0' && c <= '9') {
		size_t len = 0;
		unsigned n = 0;
		uint8_t d;
		while (rd_peek_u8(r, 0, &d) && d >= '0' && d <= '9' && n < 6) {
			len = len * 10 + (size_t)(d - '0');
			rd_skip(r, 1);
			n++;
		}
		return rd_u8(r) == ':' && rd_bytes(r, len) != NULL;
	}
	if (c == 'l' || c == 'd') {
		rd_skip(r, 1);
		for (unsigned k = 0; k < 256; k++) {
			uint8_t e;
			if (!rd_peek_u8(r, 0, &e))
				return false;
			if (e == 'e') {
				rd_skip(r, 1);
				return true;
			}
			if (c == 'd' && (e < '0' || e > '9'))
				return false; /* dictionary keys are strings */
			if (!bt_bencode(r, depth + 1))
				return false;
			if (c == 'd' && !bt_bencode(r, depth + 1))
				return false;
		}
	}
	return false;
}

/* A whole datagram that is one KRPC dictionary. */
static bool bt_dht(const uint8_t *p, size_t len, bool *query)
{
	struct reader r;
	rd_init(&r, p, len);
	if (rd_starts(&r, "d1:ad2:id20:"))
		*query = true;
	else if (rd_starts(&r, "d1:rd2:id20:") || rd_starts(&r, "d1:eli"))
		*query = false;
	else
		return false;
	return bt_bencode(&r, 0) && rd_remaining(&r) == 0;
}

struct bt_utp {
	uint8_t type;
	uint16_t conn, seq, ack;
};

static bool bt_utp(const uint8_t *p, size_t len, struct bt_utp *u)
{
	struct reader r;
	rd_init(&r, p, len);
	uint8_t tv = rd_u8(&r), ext = rd_u8(&r);
	u->conn = rd_be16(&r);
	rd_skip(&r, 12);
	u->seq = rd_be16(&r);
	u->ack = rd_be16(&r);
	u->type = tv >> 4;
	return rd_ok(&r) && (tv & 15) == 1 && u->type <= 4 && ext <= 2;
}

/* The DHT query's method ("q" value) when short and printable. */
static void bt_dht_evidence(struct ident_evidence *ev, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i + 4 < len; i++) {
		if (p[i] == '1' && p[i + 1] == ':' && p[i + 2] == 'q' && i + 4 < len &&
		    p[i + 3] >= '1' && p[i + 3] <= '9' && p[i + 4] == ':') {
			size_t n = (size_t)(p[i + 3] - '0');
			if (i + 5 + n <= len) {
				ident_add(ev, "bt_dht_query", p + i + 5, n);
				return;
			}
		}
	}
}

static void bt_hex(struct ident_evidence *ev, const char *key, const uint8_t *b, size_t n)
{
	static const char hx[] = "0123456789abcdef";
	uint8_t out[40];
	for (size_t i = 0; i < n && i < 20; i++) {
		out[2 * i] = (uint8_t)hx[b[i] >> 4];
		out[2 * i + 1] = (uint8_t)hx[b[i] & 15];
	}
	ident_add(ev, key, out, 2 * (n < 20 ? n : 20));
}

static enum ident_verdict bt_udp(const struct ident_input *in, struct ident_evidence *ev)
{
	bool hc = in->ndgrams[0] > 0, hs = in->ndgrams[1] > 0, qc = false, qs = false;
	const uint8_t *c = in->data[0], *s = in->data[1];
	size_t lc = hc ? in->dgram_len[0][0] : 0, ls = hs ? in->dgram_len[1][0] : 0;
	if (!hc)
		return in->done[0] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
	struct bt_utp uc, us;
	if (bt_dht(c, lc, &qc)) {
		/* The answer is KRPC, or uTP (a client sharing one port). */
		bool sd = hs && bt_dht(s, ls, &qs);
		if (hs && !sd && !bt_utp(s, ls, &us))
			return IDENT_NO_MATCH;
		if (!hs && !in->done[1])
			return IDENT_NEED_MORE;
		bt_dht_evidence(ev, c, lc);
		ev->server_confirmed = sd && !qs;
		ev->confidence = ev->server_confirmed ? 95 : 75;
		return IDENT_MATCH;
	}
	if (!bt_utp(c, lc, &uc) || uc.type != 4 || lc < 20)
		return IDENT_NO_MATCH;
	if (!hs)
		return in->done[1] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
	if (!bt_utp(s, ls, &us) || us.type != 2 || us.conn != uc.conn || us.ack != uc.seq)
		return IDENT_NO_MATCH;
	ident_add_str(ev, "bt_transport", "utp");
	ev->server_confirmed = true;
	ev->confidence = 85;
	return IDENT_MATCH;
}

#define BT_HS 68

/* 1: a handshake (peer id maybe missing when short), 0: not, -1: too short. */
static int bt_handshake(const uint8_t *p, uint32_t len)
{
	static const char magic[] = "\x13" "BitTorrent protocol";
	for (uint32_t i = 0; i < 20; i++) {
		if (i >= len)
			return -1;
		if (p[i] != (uint8_t)magic[i])
			return 0;
	}
	return len >= 48 ? 1 : -1;
}

static enum ident_verdict bittorrent_match(const struct ident_input *in, struct ident_evidence *ev)
{
	if (in->transport == IDENT_UDP)
		return bt_udp(in, ev);
	int c = bt_handshake(in->data[0], in->len[0]);
	if (c == 0)
		return IDENT_NO_MATCH;
	if (c < 0)
		return in->done[0] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
	int s = in->len[1] ? bt_handshake(in->data[1], in->len[1]) : -1;
	if (s == 0)
		return IDENT_NO_MATCH;
	if (s < 0 && !in->done[1])
		return IDENT_NEED_MORE;
	bool confirmed = false;
	if (s > 0) {
		for (int i = 0; i < 20; i++)
			if (in->data[0][28 + i] != in->data[1][28 + i])
				return IDENT_NO_MATCH; /* another torrent: not an answer */
		confirmed = true;
	}
	bt_hex(ev, "bt_info_hash", in->data[0] + 28, 20);
	if (in->len[0] >= BT_HS) {
		size_t n = 0;
		const uint8_t *pid = in->data[0] + 48;
		while (n < 8 && pid[n] >= 0x20 && pid[n] < 0x7f)
			n++;
		if (n)
			ident_add(ev, "bt_peer_id", pid, n);
	}
	ev->server_confirmed = confirmed;
	ev->confidence = confirmed ? 98 : 85;
	return IDENT_MATCH;
}

const struct ident_proto ident_bittorrent = {"bittorrent", "BitTorrent (BEP 3, BEP 5, BEP 29)",
                                             IDENT_TCP | IDENT_UDP, bittorrent_match, NULL};
