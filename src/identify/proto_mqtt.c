/*
 * proto_mqtt.c - MQTT (OASIS MQTT 3.1.1 and 5.0; IBM MQTT 3.1 "MQIsdp").
 *
 * The client's first packet is CONNECT, the server's first CONNACK:
 *
 *   CONNECT                            CONNACK
 *   +------+---------------------+     +------+----------------+
 *   | 0x10 | remaining length    |     | 0x20 | remaining len  |  2 (3.x);
 *   +------+ (varint, 1-4 bytes) |     +------+----------------+  >= 3 (5.0)
 *   | 00 04 "MQTT" (or 00 06 "MQIsdp")  | ack flags (0/1)       |
 *   | level: 4 (3.1.1) / 5 / 3 (MQIsdp) | reason code: 0-5 (3.x)|
 *   | connect flags: bit 0 reserved = 0;|   0 or >= 0x80 (5.0)  |
 *   |   will QoS <= 2; will QoS/retain  | [5.0: properties]     |
 *   |   only with the will flag         +-----------------------+
 *   | keep alive (16)                   |
 *   | [5.0: properties (varint length)] |
 *   | client id (16-bit length + UTF-8) |
 *   | [will props (5.0), topic, payload]|
 *   | [user name] [password]            |
 *   +-----------------------------------+
 *
 * The protocol name and level already make CONNECT specific; the payload
 * strings are walked so that their lengths must fit the remaining length.
 * The password is never kept.
 *
 * A capture that began after CONNECT (no SYN either way) sees control
 * packets back to back (MQTT 3.1.1 section 2, 3):
 *
 *   PUBLISH  0x3N len | topic (16-bit length, UTF-8, no wildcard) |
 *                       [packet id, QoS 1 and 2] | payload
 *   PUBACK 0x40, PUBREC 0x50, PUBREL 0x62, PUBCOMP 0x70: len 2 | id
 *   SUBSCRIBE 0x82, SUBACK 0x90, UNSUBSCRIBE 0xA2, UNSUBACK 0xB0: id ...
 *   PINGREQ c0 00, PINGRESP d0 00, DISCONNECT e0 00
 *
 * Each direction must walk as such a chain, and the two must answer each
 * other: a QoS 1 PUBLISH whose packet id comes back in a PUBACK (QoS 2: a
 * PUBREC), or a PINGREQ answered by a PINGRESP.
 */
#include <string.h>

#include "common/reader.h"
#include "identify/identify.h"

struct mqtt_connect {
	uint8_t level;
	const uint8_t *client_id;
	size_t client_id_len;
	const uint8_t *user;
	size_t user_len;
};

enum mqtt_parse { MQTT_BAD, MQTT_SHORT, MQTT_OK };

/* Variable byte integer (1-4 bytes). */
static enum mqtt_parse mqtt_varint(struct reader *r, uint32_t *v)
{
	*v = 0;
	for (int i = 0; i < 4; i++) {
		uint8_t b;
		if (!rd_peek_u8(r, 0, &b))
			return MQTT_SHORT;
		(void)rd_u8(r);
		*v |= (uint32_t)(b & 0x7f) << (7 * i);
		if (!(b & 0x80))
			return MQTT_OK;
	}
	return MQTT_BAD;
}

/* A 16-bit length-prefixed string or binary field. */
static bool mqtt_str(struct reader *r, const uint8_t **p, size_t *n)
{
	uint16_t len = rd_be16(r);
	const uint8_t *b = rd_bytes(r, len);
	if (!rd_ok(r))
		return false;
	if (p) {
		*p = b;
		*n = len;
	}
	return true;
}

/* Skips a 5.0 property block (varint length, then that many bytes). */
static bool mqtt_props(struct reader *r)
{
	uint32_t n;
	if (mqtt_varint(r, &n) != MQTT_OK)
		return false;
	return rd_bytes(r, n) != NULL;
}

static enum mqtt_parse mqtt_connect(const struct ident_input *in, struct mqtt_connect *m)
{
	struct reader r;
	rd_init(&r, in->data[0], in->len[0]);
	uint8_t b;
	if (!rd_peek_u8(&r, 0, &b))
		return MQTT_SHORT;
	if (b != 0x10) /* CONNECT, flags 0 */
		return MQTT_BAD;
	(void)rd_u8(&r);
	uint32_t rem;
	enum mqtt_parse p = mqtt_varint(&r, &rem);
	if (p != MQTT_OK)
		return p;
	if (rem < 12 || rem > 65536)
		return MQTT_BAD;
	/* The variable header is at most 10 bytes before properties: judge it
	 * as soon as it is there. */
	struct reader v = r;
	uint16_t nlen = rd_be16(&v);
	if (!rd_ok(&v))
		return MQTT_SHORT;
	if (nlen != 4 && nlen != 6)
		return MQTT_BAD;
	if (!rd_has(&v, (size_t)nlen + 4))
		return rd_starts(&v, nlen == 4 ? "MQTT" : "MQIsdp") || rd_remaining(&v) < nlen
		           ? MQTT_SHORT
		           : MQTT_BAD;
	bool v31 = nlen == 6;
	if (!rd_starts(&v, v31 ? "MQIsdp" : "MQTT"))
		return MQTT_BAD;
	rd_skip(&v, nlen);
	m->level = rd_u8(&v);
	uint8_t flags = rd_u8(&v);
	(void)rd_be16(&v); /* keep alive */
	if (v31 ? m->level != 3 : (m->level != 4 && m->level != 5))
		return MQTT_BAD;
	bool will = flags & 0x04;
	uint8_t will_qos = flags >> 3 & 3;
	if ((flags & 0x01) || will_qos == 3 || (!will && (flags & 0x38)))
		return MQTT_BAD;
	if (m->level < 5 && (flags & 0x40) && !(flags & 0x80))
		return MQTT_BAD; /* 3.x: a password needs a user name */
	/* Walk the payload within the packet. When the stream kept only part
	 * of a large CONNECT (a big will message) and no more will come, the
	 * header already decided: keep what parses. */
	bool complete = rd_has(&r, rem);
	if (!complete && !in->done[0])
		return MQTT_SHORT;
	struct reader pk = rd_sub(&r, complete ? rem : rd_remaining(&r));
	rd_skip(&pk, (size_t)nlen + 2 + 4);
	enum mqtt_parse bad = complete ? MQTT_BAD : MQTT_OK;
	if (m->level == 5 && !mqtt_props(&pk))
		return bad;
	if (!mqtt_str(&pk, &m->client_id, &m->client_id_len))
		return bad;
	if (will) {
		if ((m->level == 5 && !mqtt_props(&pk)) || !mqtt_str(&pk, NULL, NULL) ||
		    !mqtt_str(&pk, NULL, NULL))
			return bad;
	}
	if ((flags & 0x80) && !mqtt_str(&pk, &m->user, &m->user_len))
		return bad;
	if ((flags & 0x40) && !mqtt_str(&pk, NULL, NULL))
		return bad;
	return rd_remaining(&pk) == 0 ? MQTT_OK : MQTT_BAD;
}

/* CONNACK, as answered to a CONNECT of the given level. */
static enum mqtt_parse mqtt_connack(const struct ident_input *in, uint8_t level)
{
	struct reader r;
	rd_init(&r, in->data[1], in->len[1]);
	uint8_t b;
	if (!rd_peek_u8(&r, 0, &b))
		return MQTT_SHORT;
	if (b != 0x20)
		return MQTT_BAD;
	(void)rd_u8(&r);
	uint32_t rem;
	enum mqtt_parse p = mqtt_varint(&r, &rem);
	if (p != MQTT_OK)
		return p;
	if (level < 5 ? rem != 2 : (rem < 2 || rem > 65536))
		return MQTT_BAD;
	uint8_t ack = rd_u8(&r), rc = rd_u8(&r);
	if (!rd_ok(&r))
		return MQTT_SHORT;
	if (ack > 1)
		return MQTT_BAD;
	if (level < 5 ? rc > 5 : (rc != 0 && rc < 0x80))
		return MQTT_BAD;
	return MQTT_OK;
}

#define MQTT_IDS_MAX 16

struct mqtt_chain {
	int whole;                     /* whole packets walked */
	uint16_t pub_id[MQTT_IDS_MAX]; /* ids of QoS 1/2 PUBLISHes, their QoS apart */
	uint8_t pub_qos[MQTT_IDS_MAX];
	int npub;
	uint16_t ack_id[MQTT_IDS_MAX]; /* ids of PUBACKs (1) and PUBRECs (2) */
	uint8_t ack_kind[MQTT_IDS_MAX];
	int nack;
	bool pingreq, pingresp;
};

/* One PUBLISH's variable header; false when it cannot be one. */
static bool mqtt_publish(struct reader pk, uint8_t qos, struct mqtt_chain *c)
{
	uint16_t tlen = rd_be16(&pk);
	struct reader t = rd_sub(&pk, tlen);
	if (!rd_ok(&pk) || tlen == 0)
		return false;
	for (uint16_t i = 0; i < tlen; i++) {
		uint8_t ch = rd_u8(&t);
		if (ch < 0x20 || ch == 0x7f || ch == '#' || ch == '+')
			return false; /* MQTT 4.7.3: no wildcards in a PUBLISH topic */
	}
	if (qos) {
		uint16_t id = rd_be16(&pk);
		if (!rd_ok(&pk) || id == 0)
			return false;
		if (c->npub < MQTT_IDS_MAX) {
			c->pub_id[c->npub] = id;
			c->pub_qos[c->npub++] = qos;
		}
	}
	return true;
}

/* Walks one direction's packets; false at the first that cannot be MQTT. */
static bool mqtt_chain(const uint8_t *data, size_t len, struct mqtt_chain *c)
{
	struct reader r;
	rd_init(&r, data, len);
	while (rd_remaining(&r)) {
		uint8_t h = rd_u8(&r), type = h >> 4, flags = h & 0x0f;
		uint32_t rem;
		enum mqtt_parse p = mqtt_varint(&r, &rem);
		if (p == MQTT_BAD)
			return false;
		if (p == MQTT_SHORT)
			return true;
		bool whole = rd_has(&r, rem);
		struct reader pk = rd_sub(&r, whole ? rem : rd_remaining(&r));
		switch (type) {
		case 3: { /* PUBLISH */
			uint8_t qos = flags >> 1 & 3;
			if (qos == 3 || (qos == 0 && (flags & 0x08)) || rem < 3)
				return false;
			if (whole && !mqtt_publish(pk, qos, c))
				return false;
			break;
		}
		case 4: case 5: case 6: case 7: /* PUBACK, PUBREC, PUBREL, PUBCOMP */
			if (flags != (type == 6 ? 2 : 0) || rem < 2 || rem > 4096)
				return false;
			if (whole && (type == 4 || type == 5) && c->nack < MQTT_IDS_MAX) {
				c->ack_id[c->nack] = rd_be16(&pk);
				c->ack_kind[c->nack++] = (uint8_t)(type == 4 ? 1 : 2);
			}
			break;
		case 8: case 10: /* SUBSCRIBE, UNSUBSCRIBE */
			if (flags != 2 || rem < 5)
				return false;
			break;
		case 9: case 11: /* SUBACK, UNSUBACK */
			if (flags != 0 || rem < 2)
				return false;
			break;
		case 12: case 13: /* PINGREQ, PINGRESP */
			if (flags != 0 || rem != 0)
				return false;
			if (type == 12)
				c->pingreq = true;
			else
				c->pingresp = true;
			break;
		case 14: /* DISCONNECT */
			if (flags != 0 || rem > 4096)
				return false;
			break;
		default:
			return false; /* CONNECT, CONNACK and AUTH open a connection */
		}
		if (!whole)
			return true;
		c->whole++;
	}
	return true;
}

/* Does a's PUBLISH come back acknowledged in b, or a's PINGREQ answered? */
static bool mqtt_answers(const struct mqtt_chain *a, const struct mqtt_chain *b)
{
	if (a->pingreq && b->pingresp)
		return true;
	for (int i = 0; i < a->npub; i++)
		for (int k = 0; k < b->nack; k++)
			if (a->pub_id[i] == b->ack_id[k] && a->pub_qos[i] == b->ack_kind[k])
				return true;
	return false;
}

static enum ident_verdict mqtt_midstream(const struct ident_input *in, struct ident_evidence *ev)
{
	struct mqtt_chain c[2];
	memset(c, 0, sizeof c);
	for (int d = 0; d < 2; d++)
		if (!mqtt_chain(in->data[d], in->len[d], &c[d]))
			return IDENT_NO_MATCH;
	if (c[0].whole + c[1].whole >= 3 && (mqtt_answers(&c[0], &c[1]) || mqtt_answers(&c[1], &c[0]))) {
		ident_add_str(ev, "mqtt_midstream", "1");
		ev->server_confirmed = true;
		ev->confidence = 70;
		return IDENT_MATCH;
	}
	return in->done[0] && in->done[1] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
}

static enum ident_verdict mqtt_match(const struct ident_input *in, struct ident_evidence *ev)
{
	if (in->midstream[0] && in->midstream[1]) {
		struct mqtt_connect m0 = {0};
		if (mqtt_connect(in, &m0) == MQTT_BAD)
			return mqtt_midstream(in, ev);
	}
	struct mqtt_connect m = {0};
	enum mqtt_parse pc = mqtt_connect(in, &m);
	if (pc == MQTT_BAD)
		return IDENT_NO_MATCH;
	if (pc == MQTT_SHORT)
		return in->done[0] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
	enum mqtt_parse ps = mqtt_connack(in, m.level);
	if (ps == MQTT_BAD)
		return IDENT_NO_MATCH;
	if (ps == MQTT_SHORT && !in->done[1])
		return IDENT_NEED_MORE;
	ev->server_confirmed = ps == MQTT_OK;
	ev->confidence = ps == MQTT_OK ? 95 : 75;
	ident_add(ev, "mqtt_client_id", m.client_id, m.client_id_len);
	ident_add_str(ev, "mqtt_version", m.level == 3 ? "3.1" : m.level == 4 ? "3.1.1" : "5.0");
	if (m.user)
		ident_add(ev, "mqtt_username", m.user, m.user_len);
	return IDENT_MATCH;
}

/* The first bytes (identify.h, first_byte), of direction d.
 * The client's: mqtt_connect: CONNECT (0x10); the mid-stream path needs
 * the client mid-stream.
 * The server's: none declared. */
static bool mqtt_first_byte(int d, uint8_t transport, uint8_t b)
{
	if (d != 0)
		return true;
	(void)transport;
	return b == 0x10;
}

const struct ident_proto ident_mqtt = {"mqtt", "MQTT (OASIS MQTT 3.1.1, 5.0)", IDENT_TCP, mqtt_match, NULL, mqtt_first_byte};
