/*
 * proto_openvpn.c - OpenVPN (the OpenVPN wire protocol, openvpn.net
 * "OpenVPN Protocol" and openvpn/src/openvpn/ssl_pkt.h), over UDP (one
 * packet a datagram) or TCP (each packet after a 2-byte length).
 *
 * Only the start of a session is identified: the client's hard reset.
 *
 *   [TCP: packet length (16)]
 *   +--------+------------------+- - - - - - - - - - - - - - - - - - -+
 *   |op|key  | session id (64)  | tls-auth: HMAC (16/20/32/64)          |
 *   |5b | 3b |                  |   packet-id (32) net-time (32)        |
 *   +--------+------------------+- - - - - - - - - - - - - - - - - - -+
 *   | ack count (8) | acked packet-ids (32 each) | remote session id (64,
 *   |               |                              present when count>0) |
 *   | message packet-id (32) | payload                                  |
 *   +------------------------------------------------------------------+
 *   tls-crypt / tls-crypt-v2: op | session id | packet-id | net-time |
 *   HMAC-SHA256 (32) | encrypted (ack array, message packet-id, ...)
 *
 *   client: opcode 7 P_CONTROL_HARD_RESET_CLIENT_V2 or 10 ..._V3 (tls-crypt-
 *           v2), key id 0, no acks, message packet-id 0; tls-auth/tls-crypt
 *           net-time a plausible Unix time.
 *   server: opcode 8 P_CONTROL_HARD_RESET_SERVER_V2, key id 0, acking the
 *           client's packet 0 and naming the client's session id as the
 *           remote session id (in the clear without tls-crypt); with
 *           tls-crypt the two net-times agree instead.
 *
 * Nine bytes of opcode and random session id say nothing: the zero ack
 * count and packet-id, or a real timestamp, and the server's echo of the
 * client's session id are what tell OpenVPN from random bytes.
 *
 * A flow where only the server's side was captured (the client's packets
 * left by another address, NAT on the capture point) is identified on
 * the server's hard reset alone when its structure is complete (in the
 * clear or with tls-auth: 1-8 acks of small packet-ids, a remote session
 * id, message packet-id 0, at most a short payload) and its next packet
 * goes on with the same session id:
 *
 *   40 d31c3a6964602fa0 01 00000000 334857703d96db39 00000000
 *   20 d31c3a6964602fa0 01 00000001 334857703d96db39 00000001 16 03 03 ...
 */
#include "common/reader.h"
#include "identify/identify.h"

#define OVPN_HARD_RESET_CLIENT_V2 7
#define OVPN_HARD_RESET_SERVER_V2 8
#define OVPN_HARD_RESET_CLIENT_V3 10

/* Unix times 2014-09 .. 2040-03: a net-time field. */
#define OVPN_TIME_MIN 0x54000000u
#define OVPN_TIME_MAX 0x84000000u

static const uint8_t ovpn_hmac_sizes[] = {16, 20, 32, 64};

enum ovpn_auth { OVPN_NONE, OVPN_TLS_AUTH, OVPN_TLS_CRYPT };

struct ovpn_reset {
	uint8_t opcode;
	uint8_t sid[8];
	enum ovpn_auth auth;
	uint32_t time; /* net-time, when auth != NONE */
};

static bool ovpn_time_ok(uint32_t t) { return t >= OVPN_TIME_MIN && t < OVPN_TIME_MAX; }

/* The first packet of direction d: a whole datagram, or a TCP frame. */
/* Packet k (0 or 1) of direction d: a whole datagram, or a TCP frame. 1
 * there, 0 none, -1 a frame length no packet has, -2 not all there yet. */
static int ovpn_packet(const struct ident_input *in, int d, unsigned k, struct reader *pkt)
{
	struct reader r;
	rd_init(&r, in->data[d], in->len[d]);
	if (in->transport == IDENT_UDP) {
		if (in->ndgrams[d] <= k)
			return 0;
		for (unsigned i = 0; i < k; i++)
			rd_skip(&r, in->dgram_len[d][i]);
		*pkt = rd_sub(&r, in->dgram_len[d][k]);
		return 1;
	}
	for (unsigned i = 0;; i++) {
		if (!rd_has(&r, 2))
			return rd_remaining(&r) ? -2 : 0;
		uint16_t n = rd_be16(&r);
		if (n < 14 || n > 2048)
			return -1;
		if (!rd_has(&r, n))
			return -2;
		if (i == k) {
			*pkt = rd_sub(&r, n);
			return 1;
		}
		rd_skip(&r, n);
	}
}

static int ovpn_first(const struct ident_input *in, int d, struct reader *pkt)
{
	return ovpn_packet(in, d, 0, pkt);
}

/* The client's second packet goes on with the same session: a control or
 * ack opcode (P_CONTROL_V1 4, P_ACK_V1 5, a repeated reset, or
 * P_CONTROL_WKC_V1 11), key id 0, the same session id. */
static bool ovpn_same_session_dir(const struct ident_input *in, int d, const struct ovpn_reset *c)
{
	struct reader r;
	if (ovpn_packet(in, d, 1, &r) != 1)
		return false;
	uint8_t op = rd_u8(&r);
	uint8_t sid[8];
	rd_copy(&r, sid, 8);
	if (!rd_ok(&r) || (op & 7) != 0)
		return false;
	op >>= 3;
	if (op != 4 && op != 5 && op != 11 && op != c->opcode)
		return false;
	for (int k = 0; k < 8; k++)
		if (sid[k] != c->sid[k])
			return false;
	return true;
}

/* The ack array and message packet-id of a client hard reset at r: no
 * acks, packet-id 0, then at most a short payload (2.6's early-negotiation
 * TLV). */
static bool ovpn_same_session(const struct ident_input *in, const struct ovpn_reset *c)
{
	return ovpn_same_session_dir(in, 0, c);
}

static bool ovpn_client_tail(struct reader r)
{
	uint8_t acks = rd_u8(&r);
	uint32_t pid = rd_be32(&r);
	return rd_ok(&r) && acks == 0 && pid == 0 && rd_remaining(&r) <= 64;
}

static bool ovpn_client(struct reader *r, struct ovpn_reset *c)
{
	uint8_t op = rd_u8(r);
	rd_copy(r, c->sid, 8);
	if (!rd_ok(r))
		return false;
	c->opcode = op >> 3;
	if ((op & 7) != 0 ||
	    (c->opcode != OVPN_HARD_RESET_CLIENT_V2 && c->opcode != OVPN_HARD_RESET_CLIENT_V3))
		return false;
	struct reader body = *r;
	if (c->opcode == OVPN_HARD_RESET_CLIENT_V2 && ovpn_client_tail(body)) {
		c->auth = OVPN_NONE;
		return true;
	}
	for (size_t i = 0; i < sizeof ovpn_hmac_sizes; i++) {
		struct reader t = body;
		rd_skip(&t, ovpn_hmac_sizes[i]);
		uint32_t pid = rd_be32(&t), time = rd_be32(&t);
		if (rd_ok(&t) && pid >= 1 && pid < 0x100 && ovpn_time_ok(time) && ovpn_client_tail(t)) {
			c->auth = OVPN_TLS_AUTH;
			c->time = time;
			return true;
		}
	}
	/* tls-crypt: packet-id and net-time in the clear, then the HMAC and
	 * at least the encrypted ack count and message packet-id. */
	struct reader t = body;
	(void)rd_be32(&t);
	uint32_t time = rd_be32(&t);
	if (rd_ok(&t) && ovpn_time_ok(time) && rd_remaining(&t) >= 32 + 5 && rd_remaining(&t) <= 1400) {
		c->auth = OVPN_TLS_CRYPT;
		c->time = time;
		return true;
	}
	return false;
}

/* The server's hard reset: 1 when it acks the client's session id (or,
 * with tls-crypt, its net-time agrees), 0 when it is a server reset that
 * cannot be tied to the client, -1 when it is not a server reset. */
static int ovpn_server(struct reader *r, const struct ovpn_reset *c)
{
	uint8_t op = rd_u8(r);
	rd_skip(r, 8);
	if (!rd_ok(r) || op != OVPN_HARD_RESET_SERVER_V2 << 3)
		return -1;
	for (size_t i = 0; i <= sizeof ovpn_hmac_sizes; i++) {
		struct reader t = *r;
		if (i < sizeof ovpn_hmac_sizes)
			rd_skip(&t, (size_t)ovpn_hmac_sizes[i] + 8);
		uint8_t acks = rd_u8(&t);
		if (!rd_ok(&t) || acks < 1 || acks > 8)
			continue;
		rd_skip(&t, (size_t)acks * 4);
		uint8_t remote[8];
		rd_copy(&t, remote, 8);
		if (!rd_ok(&t))
			continue;
		bool same = true;
		for (int k = 0; k < 8; k++)
			same = same && remote[k] == c->sid[k];
		if (same)
			return 1;
	}
	if (c->auth == OVPN_TLS_CRYPT) {
		struct reader t = *r;
		(void)rd_be32(&t);
		uint32_t time = rd_be32(&t);
		uint32_t diff = time > c->time ? time - c->time : c->time - time;
		if (rd_ok(&t) && rd_remaining(&t) >= 32 + 5 && diff < 86400)
			return 1;
	}
	return 0;
}

/* The tail of a server hard reset at r: 1-8 acks of small packet-ids, the
 * remote session id, message packet-id 0, at most a short payload. */
static bool ovpn_server_tail(struct reader r)
{
	uint8_t acks = rd_u8(&r);
	if (!rd_ok(&r) || acks < 1 || acks > 8)
		return false;
	for (unsigned i = 0; i < acks; i++)
		if (rd_be32(&r) >= 0x100)
			return false;
	rd_skip(&r, 8);
	uint32_t pid = rd_be32(&r);
	return rd_ok(&r) && pid == 0 && rd_remaining(&r) <= 64;
}

/* Only the server spoke: its hard reset, complete, and its next packet in
 * the same session. */
static bool ovpn_server_alone(const struct ident_input *in, struct ovpn_reset *srv)
{
	struct reader r;
	if (ovpn_first(in, 1, &r) != 1)
		return false;
	uint8_t op = rd_u8(&r);
	rd_copy(&r, srv->sid, 8);
	if (!rd_ok(&r) || op != OVPN_HARD_RESET_SERVER_V2 << 3)
		return false;
	srv->opcode = OVPN_HARD_RESET_SERVER_V2;
	bool ok = false;
	if (ovpn_server_tail(r)) {
		srv->auth = OVPN_NONE;
		ok = true;
	}
	for (size_t i = 0; !ok && i < sizeof ovpn_hmac_sizes; i++) {
		struct reader t = r;
		rd_skip(&t, ovpn_hmac_sizes[i]);
		uint32_t pid = rd_be32(&t), time = rd_be32(&t);
		if (rd_ok(&t) && pid >= 1 && pid < 0x100 && ovpn_time_ok(time) && ovpn_server_tail(t)) {
			srv->auth = OVPN_TLS_AUTH;
			ok = true;
		}
	}
	return ok && ovpn_same_session_dir(in, 1, srv);
}

static const char *ovpn_opname(uint8_t op)
{
	return op == OVPN_HARD_RESET_CLIENT_V3 ? "P_CONTROL_HARD_RESET_CLIENT_V3"
	                                       : "P_CONTROL_HARD_RESET_CLIENT_V2";
}

/* ovpn_match past its cheap NO_MATCH tests. Out of line: the tests run
 * without this function's frame. */
__attribute__((noinline)) static enum ident_verdict
ovpn_match_parse(const struct ident_input *in, struct ident_evidence *ev)
{
	struct reader cp, sp;
	struct ovpn_reset c = {0};
	int hc = ovpn_first(in, 0, &cp);
	if (hc == -1)
		return IDENT_NO_MATCH;
	if (hc == 0 && in->done[0] && in->len[1] > 0) {
		struct ovpn_reset srv = {0};
		struct reader sr;
		uint8_t sop = 0;
		int hs0 = ovpn_first(in, 1, &sr);
		if (hs0 == 1)
			sop = rd_u8(&sr);
		if (hs0 == -1 || (hs0 == 1 && sop != OVPN_HARD_RESET_SERVER_V2 << 3))
			return IDENT_NO_MATCH;
		if (!ovpn_server_alone(in, &srv))
			return in->done[1] || ovpn_packet(in, 1, 1, &sr) == 1 ? IDENT_NO_MATCH
			                                                       : IDENT_NEED_MORE;
		ident_add_str(ev, "openvpn_opcode", "P_CONTROL_HARD_RESET_SERVER_V2");
		ident_add_str(ev, "openvpn_auth", srv.auth == OVPN_NONE ? "none" : "tls-auth");
		ev->confidence = 70;
		return IDENT_MATCH;
	}
	/* No client packet: with the client done, the server's reset may
	 * still come and be judged alone (above), so only both sides done
	 * end it (NO_MATCH is final). */
	if (hc == 0)
		return in->done[0] && in->done[1] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
	if (hc == -2)
		return in->done[0] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
	if (!ovpn_client(&cp, &c))
		return IDENT_NO_MATCH;
	int hs = ovpn_first(in, 1, &sp);
	if (hs == -1)
		return IDENT_NO_MATCH;
	/* tls-crypt leaves only opcode, session id, packet-id and a timestamp
	 * in the clear: without the server's confirmation the client's next
	 * packet must go on with the same session. */
	bool weak = c.auth == OVPN_TLS_CRYPT && !ovpn_same_session(in, &c);
	if (hs == 1) {
		int v = ovpn_server(&sp, &c);
		if (v < 0)
			return IDENT_NO_MATCH;
		if (v == 0 && weak) {
			/* Weak until the client's second packet is there (or
			 * cannot come): it may still go on with the session
			 * (NO_MATCH is final). */
			struct reader p2;
			int h2 = ovpn_packet(in, 0, 1, &p2);
			return h2 == 1 || h2 == -1 || in->done[0] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
		}
		ev->server_confirmed = v > 0;
		ev->confidence = v > 0 ? 95 : 70;
	} else {
		if (!in->done[1])
			return IDENT_NEED_MORE;
		if (weak)
			return in->done[0] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
		ev->confidence = 60;
	}
	ident_add_str(ev, "openvpn_opcode", ovpn_opname(c.opcode));
	ident_add_str(ev, "openvpn_auth", c.auth == OVPN_NONE       ? "none"
	                                  : c.auth == OVPN_TLS_AUTH ? "tls-auth"
	                                                            : "tls-crypt");
	return IDENT_MATCH;
}

static enum ident_verdict ovpn_match(const struct ident_input *in, struct ident_evidence *ev)
{
	/* UDP, the usual NO_MATCH of ovpn_match_parse (ovpn_client false) from
	 * the client's first datagram's opcode byte, before it is parsed: no
	 * hard reset with key id 0, or too short for the session id. */
	if (in->transport == IDENT_UDP && in->ndgrams[0]) {
		struct reader r, m;
		uint8_t op;
		rd_init(&r, in->data[0], in->len[0]);
		m = rd_sub(&r, in->dgram_len[0][0]);
		if (!rd_has(&m, 9))
			return IDENT_NO_MATCH;
		(void)rd_peek_u8(&m, 0, &op);
		uint8_t type = op >> 3;
		if ((op & 7) != 0 ||
		    (type != OVPN_HARD_RESET_CLIENT_V2 && type != OVPN_HARD_RESET_CLIENT_V3))
			return IDENT_NO_MATCH;
	}
	/* UDP, no client datagram: wait while the client may speak, or the
	 * server's first datagram alone, which must be a server reset. */
	if (in->transport == IDENT_UDP && !in->ndgrams[0]) {
		if (!(in->done[0] && in->len[1] > 0))
			return in->done[0] && in->done[1] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
		if (in->ndgrams[1]) {
			struct reader r, m;
			rd_init(&r, in->data[1], in->len[1]);
			m = rd_sub(&r, in->dgram_len[1][0]);
			if (rd_u8(&m) != OVPN_HARD_RESET_SERVER_V2 << 3)
				return IDENT_NO_MATCH;
		}
	}
	return ovpn_match_parse(in, ev);
}

/* The first bytes (identify.h, first_byte), of direction d.
 * The client's: UDP, ovpn_match: the client's first datagram is a hard
 * reset with key id 0. TCP: none declared.
 * The server's: none declared. */
static bool openvpn_first_byte(int d, uint8_t transport, uint8_t b)
{
	if (d != 0)
		return true;
	if (transport != IDENT_UDP)
		return true;
	return b == (OVPN_HARD_RESET_CLIENT_V2 << 3) || b == (OVPN_HARD_RESET_CLIENT_V3 << 3);
}

const struct ident_proto ident_openvpn = {"openvpn", "OpenVPN (openvpn.net wire protocol)",
                                          IDENT_UDP | IDENT_TCP, ovpn_match, NULL, openvpn_first_byte};
