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
 * UDP, DHT: one bencoded dictionary filling the datagram, its keys in
 *   order, with "t" (transaction id) and "y": "q" with "a" (arguments) and
 *   "q" (method), "r" with "r" (the response dictionary, "id" first), or "e"
 *   with "e" (error list): "d1:ad2:id20:...e1:q4:ping1:t2:..1:y1:qe";
 *   a response may carry "ip" first (BEP 42): "d2:ip6:......1:rd2:id20:".
 * UDP, uTP: 20-byte header: type(4) version 1(4) | extension | conn_id(2) |
 *   timestamp(4) | timestamp_diff(4) | wnd_size(4) | seq_nr(2) | ack_nr(2)
 *   A ST_SYN (type 4) is answered by ST_STATE (type 2) with the same
 *   connection id acknowledging the SYN's sequence number. A connection
 *   seen after its SYN (or one direction of it) is claimed on the lock
 *   step of at least 4 datagrams: types 0 DATA, 1 FIN, 2 STATE, 3 RESET,
 *   one connection id per direction (the two directions' ids differ by
 *   one, BEP 29), seq_nr rising by one per DATA and staying on STATE,
 *   ack_nr never falling, a STATE without extension exactly 20 bytes.
 *
 * LSD (BEP 14, Local Service Discovery): an HTTP-like multicast datagram
 *   "BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\nPort: ...\r\n
 *   Infohash: <40 hex>\r\n".
 *
 * Why this strict: the TCP magic is 20 bytes; the DHT datagram must be
 * valid bencoding to its last byte.
 */
#include "common/reader.h"
#include "identify/identify.h"
#include "identify/text_proto.h"

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

/* A whole datagram that is one KRPC dictionary: keys "t" and "y", and the
 * key "y" names ("a" for a query, "r" for a response, "e" for an error). */
static bool bt_dht(const uint8_t *p, size_t len, bool *query)
{
	struct reader r;
	rd_init(&r, p, len);
	if (!rd_starts(&r, "d"))
		return false;
	struct reader all = r;
	if (!bt_bencode(&all, 0) || rd_remaining(&all) != 0)
		return false;
	rd_skip(&r, 1);
	bool has_t = false, has_a = false, has_r = false, has_e = false, has_q = false;
	uint8_t y = 0;
	for (unsigned k = 0; k < 32; k++) {
		uint8_t c;
		if (!rd_peek_u8(&r, 0, &c) || c == 'e')
			break;
		/* keys: one-letter keys are what KRPC defines at the top */
		bool one = rd_starts(&r, "1:");
		uint8_t key = 0;
		if (one)
			rd_peek_u8(&r, 2, &key);
		if (!bt_bencode(&r, 1))
			return false;
		struct reader v = r;
		if (!bt_bencode(&r, 1))
			return false;
		if (!one)
			continue;
		uint8_t vc = 0;
		rd_peek_u8(&v, 0, &vc);
		if (key == 't')
			has_t = vc >= '0' && vc <= '9';
		else if (key == 'y' && rd_starts(&v, "1:"))
			rd_peek_u8(&v, 2, &y);
		else if (key == 'a')
			has_a = rd_starts(&v, "d2:id20:");
		else if (key == 'r')
			has_r = rd_starts(&v, "d2:id20:");
		else if (key == 'e')
			has_e = vc == 'l';
		else if (key == 'q')
			has_q = vc >= '1' && vc <= '9';
	}
	if (!has_t)
		return false;
	*query = y == 'q';
	return (y == 'q' && has_a && has_q) || (y == 'r' && has_r) || (y == 'e' && has_e);
}

/* BEP 14: "BT-SEARCH * HTTP/1.1" with an Infohash header. */
static bool bt_lsd(const uint8_t *p, size_t len, const uint8_t **hash)
{
	struct reader r;
	rd_init(&r, p, len);
	const uint8_t *line;
	size_t n;
	if (!rd_starts(&r, "BT-SEARCH * HTTP/1.1\r\n") || !rd_line(&r, 64, &line, &n))
		return false;
	*hash = NULL;
	while (rd_line(&r, 256, &line, &n) && n > 0) {
		struct reader l;
		rd_init(&l, line, n);
		if (!rd_printable(&l, n))
			return false;
		if (n == 10 + 40 && rd_starts_ci(&l, "Infohash: ")) {
			rd_skip(&l, 10);
			for (size_t i = 0; i < 40; i++) {
				uint8_t c = rd_u8(&l);
				if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
					return false;
			}
			*hash = line + 10;
		}
	}
	return *hash != NULL;
}

struct bt_utp {
	uint8_t type, ext;
	uint16_t conn, seq, ack;
	uint32_t ts, wnd;
};

static bool bt_utp(const uint8_t *p, size_t len, struct bt_utp *u)
{
	struct reader r;
	rd_init(&r, p, len);
	uint8_t tv = rd_u8(&r), ext = rd_u8(&r);
	u->conn = rd_be16(&r);
	u->ts = rd_be32(&r);
	rd_skip(&r, 4);
	u->wnd = rd_be32(&r);
	u->seq = rd_be16(&r);
	u->ack = rd_be16(&r);
	u->type = tv >> 4;
	u->ext = ext;
	return rd_ok(&r) && (tv & 15) == 1 && u->type <= 4 && ext <= 2;
}

/* The DHT query's method ("q" value) when short and printable. */
static void bt_dht_evidence(struct ident_evidence *ev, const uint8_t *p, size_t len)
{
	struct reader r;
	rd_init(&r, p, len);
	for (size_t i = 0; i + 4 < len; i++) {
		struct reader s = r;
		rd_skip(&s, i);
		uint8_t d = 0, colon = 0;
		if (!rd_starts(&s, "1:q") || !rd_peek_u8(&s, 3, &d) || d < '1' || d > '9' ||
		    !rd_peek_u8(&s, 4, &colon) || colon != ':')
			continue;
		size_t n = (size_t)(d - '0');
		rd_skip(&s, 5);
		const uint8_t *v = rd_bytes(&s, n);
		if (v) {
			ident_add(ev, "bt_dht_query", v, n);
			return;
		}
	}
}

/* Hex of up to 20 bytes read from r. */
static void bt_hex(struct ident_evidence *ev, const char *key, struct reader *r, size_t n)
{
	static const char hx[] = "0123456789abcdef";
	uint8_t out[40];
	for (size_t i = 0; i < n && i < 20; i++) {
		uint8_t c = rd_u8(r);
		out[2 * i] = (uint8_t)hx[c >> 4];
		out[2 * i + 1] = (uint8_t)hx[c & 15];
	}
	ident_add(ev, key, out, 2 * (n < 20 ? n : 20));
}

/* uTP lock step of direction d (see the header): 1 holds, 0 not uTP, -1
 * no datagrams. *conn gets its connection id, *n its datagrams. */
static int bt_utp_dir(const struct ident_input *in, int d, uint16_t *conn, unsigned *n)
{
	struct reader r;
	rd_init(&r, in->data[d], in->len[d]);
	*n = in->ndgrams[d];
	if (*n == 0)
		return -1;
	struct bt_utp prev = {0};
	for (unsigned k = 0; k < *n; k++) {
		uint16_t len = in->dgram_len[d][k];
		const uint8_t *p = rd_bytes(&r, len);
		struct bt_utp u;
		if (!p || len < 20 || !bt_utp(p, len, &u) || (u.type == 4 && k > 0))
			return 0;
		bool cut = in->truncated[d] && k + 1 == *n;
		if (u.type == 2 && u.ext == 0 && len != 20 && !cut)
			return 0;
		if (k == 0) {
			*conn = u.conn;
		} else {
			if (u.conn != *conn)
				return 0;
			/* DATA/FIN/SYN take a number, the next packet carries the
			 * one after; a STATE carries the next without taking it */
			uint16_t step = (uint16_t)(u.seq - prev.seq);
			uint16_t ack_step = (uint16_t)(u.ack - prev.ack);
			bool prev_took = prev.type == 0 || prev.type == 1 || prev.type == 4;
			if (step != (prev_took ? 1 : 0) || ack_step > 64 || u.ts == prev.ts)
				return 0;
		}
		/* a live window, and a well-formed extension chain */
		if (u.wnd == 0)
			return 0;
		struct reader x;
		rd_init(&x, p, len);
		rd_skip(&x, 1);
		uint8_t next = rd_u8(&x);
		rd_skip(&x, 18);
		for (unsigned e = 0; next && e < 4; e++) {
			uint8_t kind = next;
			next = rd_u8(&x);
			uint8_t elen = rd_u8(&x);
			if (!rd_ok(&x) || (kind == 1 && (elen < 4 || elen % 4)) || !rd_bytes(&x, elen))
				return 0;
		}
		if (next && !cut)
			return 0;
		prev = u;
	}
	return 1;
}

/* bt_udp past its cheap NO_MATCH tests. Out of line: the tests run
 * without this function's frame. */
__attribute__((noinline)) static enum ident_verdict
bt_udp_parse(const struct ident_input *in, struct ident_evidence *ev)
{
	bool hc = in->ndgrams[0] > 0, hs = in->ndgrams[1] > 0, qc = false, qs = false;
	const uint8_t *c = in->data[0], *s = in->data[1];
	size_t lc = hc ? dgram_first_len(in, 0) : 0, ls = hs ? dgram_first_len(in, 1) : 0;
	const uint8_t *hash;
	if (bt_lsd(c, lc, &hash)) {
		/* multicast: nobody answers in this flow */
		if (hs)
			return IDENT_NO_MATCH;
		ident_add_str(ev, "bt_transport", "lsd");
		ident_add(ev, "bt_info_hash", hash, 40);
		ev->confidence = 85;
		return IDENT_MATCH;
	}
	struct bt_utp uc, us;
	{
		/* uTP seen after its SYN: the lock step */
		uint16_t cc = 0, sc = 0;
		unsigned nc = 0, ns = 0;
		int a = bt_utp_dir(in, 0, &cc, &nc), b = bt_utp_dir(in, 1, &sc, &ns);
		/* one side alone (the other sent nothing), or both in step */
		bool alone = (a == 1 && b < 0) || (a < 0 && b == 1);
		bool both = a == 1 && b == 1 && ((uint16_t)(cc - sc) == 1 || (uint16_t)(sc - cc) == 1);
		if (alone || both) {
			struct bt_utp u0;
			bool syn = hc && bt_utp(c, lc, &u0) && u0.type == 4;
			if (!syn && nc + ns >= 4) {
				ident_add_str(ev, "bt_transport", "utp");
				ev->server_confirmed = both;
				ev->confidence = both ? 85 : 75;
				return IDENT_MATCH;
			}
			if (!syn && !(in->done[0] && in->done[1]))
				return IDENT_NEED_MORE;
		}
	}
	if (!hc)
		return IDENT_NO_MATCH;
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

static enum ident_verdict bt_udp(const struct ident_input *in, struct ident_evidence *ev)
{
	bool hc = in->ndgrams[0] > 0, hs = in->ndgrams[1] > 0;
	const uint8_t *c = in->data[0], *s = in->data[1];
	size_t lc = hc ? dgram_first_len(in, 0) : 0, ls = hs ? dgram_first_len(in, 1) : 0;
	if (!hc && !(hs && in->done[0]))
		return in->done[0] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
	/* The usual NO_MATCH of bt_udp_parse from one byte, before the parses:
	 * a first datagram that starts neither LSD ('B') nor DHT ('d') nor a
	 * uTP header (version 1, type 0-4) is none of them, and no uTP lock
	 * step can start with it; with no client datagram, a server's first
	 * datagram that is no uTP leaves nothing to claim. */
	{
		struct reader r;
		uint8_t b0 = 0;
		if (hc) {
			rd_init(&r, c, lc);
			if (!rd_peek_u8(&r, 0, &b0) ||
			    (b0 != 'B' && b0 != 'd' && !((b0 & 15) == 1 && (b0 >> 4) <= 4)))
				return IDENT_NO_MATCH;
		} else {
			rd_init(&r, s, in->len[1]);
			if (rd_has(&r, ls) && rd_peek_u8(&r, 0, &b0) &&
			    !((b0 & 15) == 1 && (b0 >> 4) <= 4))
				return IDENT_NO_MATCH;
		}
	}
	return bt_udp_parse(in, ev);
}

#define BT_HS 68

/* 1: a handshake (peer id maybe missing when short), 0: not, -1: too short. */
static int bt_handshake(const uint8_t *p, uint32_t len)
{
	static const char magic[] = "\x13" "BitTorrent protocol";
	struct reader r;
	rd_init(&r, p, len);
	for (uint32_t i = 0; i < 20; i++) {
		uint8_t c;
		if (!rd_peek_u8(&r, i, &c))
			return -1;
		if (c != (uint8_t)magic[i])
			return 0;
	}
	return len >= 48 ? 1 : -1;
}

/* TCP: the handshakes. Out of line: the UDP identification runs without
 * its frame. */
__attribute__((noinline)) static enum ident_verdict
bt_tcp(const struct ident_input *in, struct ident_evidence *ev)
{
	int c = bt_handshake(in->data[0], in->len[0]);
	if (c == 0)
		return IDENT_NO_MATCH;
	if (c < 0)
		return in->done[0] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
	int s = in->len[1] ? bt_handshake(in->data[1], in->len[1]) : -1;
	if (s == 0 && in->midstream[1])
		s = -2; /* the server's bytes begin inside its stream: no say */
	if (s == 0)
		return IDENT_NO_MATCH;
	if (s == -1 && !in->done[1])
		return IDENT_NEED_MORE;
	bool confirmed = false;
	struct reader rc;
	rd_init(&rc, in->data[0], in->len[0]);
	rd_skip(&rc, 28);
	if (s > 0) {
		struct reader rs;
		rd_init(&rs, in->data[1], in->len[1]);
		rd_skip(&rs, 28);
		for (int i = 0; i < 20; i++) {
			uint8_t a = 0, b = 0;
			rd_peek_u8(&rc, (size_t)i, &a);
			rd_peek_u8(&rs, (size_t)i, &b);
			if (a != b)
				return IDENT_NO_MATCH; /* another torrent: not an answer */
		}
		confirmed = true;
	}
	bt_hex(ev, "bt_info_hash", &rc, 20);
	if (in->len[0] >= BT_HS) {
		size_t n = 0;
		uint8_t ch;
		while (n < 8 && rd_peek_u8(&rc, n, &ch) && ch >= 0x20 && ch < 0x7f)
			n++;
		const uint8_t *pid = rd_bytes(&rc, n);
		if (n && pid)
			ident_add(ev, "bt_peer_id", pid, n);
	}
	ev->server_confirmed = confirmed;
	ev->confidence = confirmed ? 98 : 85;
	return IDENT_MATCH;
}

static enum ident_verdict bittorrent_match(const struct ident_input *in, struct ident_evidence *ev)
{
	if (in->transport == IDENT_UDP)
		return bt_udp(in, ev);
	return bt_tcp(in, ev);
}

/* The first bytes (identify.h, first_byte), of direction d.
 * The client's: UDP, bt_udp: LSD ('B'), DHT ('d') or a uTP header
 * (version 1, type 0-4); TCP, bt_tcp: the handshake's 0x13.
 * The server's: none declared. */
static bool bittorrent_first_byte(int d, uint8_t transport, uint8_t b)
{
	if (d != 0)
		return true;
	if (transport == IDENT_UDP)
		return b == 'B' || b == 'd' || ((b & 15) == 1 && (b >> 4) <= 4);
	return b == 0x13;
}

const struct ident_proto ident_bittorrent = {"bittorrent", "BitTorrent (BEP 3, BEP 5, BEP 29)",
                                             IDENT_TCP | IDENT_UDP, bittorrent_match, NULL, bittorrent_first_byte};
