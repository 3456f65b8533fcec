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
 */
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

static enum ident_verdict mqtt_match(const struct ident_input *in, struct ident_evidence *ev)
{
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

const struct ident_proto ident_mqtt = {"mqtt", "MQTT (OASIS MQTT 3.1.1, 5.0)", IDENT_TCP, mqtt_match, NULL};
