/*
 * proto_mongodb.c - MongoDB wire protocol (MongoDB manual, "MongoDB Wire
 * Protocol": standard message header, OP_MSG, OP_QUERY, OP_REPLY).
 *
 * Every message, both ways, opens with a 16-byte header, little endian:
 *
 *   messageLength(4, header included)  requestID(4)  responseTo(4)  opCode(4)
 *
 *   client: responseTo 0 (-1, 0xffffffff, from the legacy C++ client:
 *           "InactiveUserIdentity.$cmd" getnonce); opCode 2013 OP_MSG, 2004 OP_QUERY (legacy
 *           handshake "isMaster"), 2012 OP_COMPRESSED
 *   server: responseTo = the client's requestID; opCode 1 OP_REPLY or 2013
 *
 * OP_MSG:   flagBits(4)  section kind 0  BSON document
 * OP_QUERY: flags(4)  fullCollectionName cstring ("admin.$cmd")
 *           numberToSkip(4)  numberToReturn(4)  BSON document
 * BSON document: length(4, itself included)  elements  00; an element is
 *           type(1, 0x01-0x13, 0x7f, 0xff)  name cstring  value
 *
 * The first element's name is the command ("isMaster", "hello", "find").
 */
#include "common/reader.h"
#include "identify/identify.h"

#define MONGO_MSG_MAX (48u * 1024 * 1024) /* maxMessageSizeBytes */

enum mongo_parse { MONGO_BAD, MONGO_SHORT, MONGO_OK };

/* A cstring of printable bytes (max bytes), consumed with its NUL. */
static enum mongo_parse mongo_cstring(struct reader *r, size_t max, const uint8_t **s, size_t *n)
{
	size_t i = 0;
	uint8_t c;
	while (rd_peek_u8(r, i, &c) && c != 0) {
		if (c < 0x20 || c > 0x7e || ++i > max)
			return MONGO_BAD;
	}
	if (!rd_peek_u8(r, i, &c))
		return MONGO_SHORT;
	*s = rd_bytes(r, i);
	*n = i;
	rd_skip(r, 1);
	return MONGO_OK;
}

/* The start of a BSON document (fitting in `room` bytes): its first key. */
static enum mongo_parse mongo_bson(struct reader *r, size_t room, const uint8_t **key, size_t *kn)
{
	if (!rd_has(r, 5))
		return MONGO_SHORT;
	uint32_t len = rd_le32(r);
	if (len < 5 || len > room)
		return MONGO_BAD;
	uint8_t t = rd_u8(r);
	if (t == 0)
		return len == 5 ? MONGO_OK : MONGO_BAD;
	if (!((t >= 0x01 && t <= 0x13) || t == 0x7f || t == 0xff))
		return MONGO_BAD;
	enum mongo_parse p = mongo_cstring(r, 128, key, kn);
	if (p == MONGO_OK && *kn == 0)
		return MONGO_BAD;
	return p;
}

struct mongo_msg {
	uint32_t len, req, resp, op;
	const uint8_t *cmd, *coll;
	size_t cmd_len, coll_len;
};

static enum mongo_parse mongo_header(struct reader *r, struct mongo_msg *m)
{
	if (!rd_has(r, 16))
		return MONGO_SHORT;
	m->len = rd_le32(r);
	m->req = rd_le32(r);
	m->resp = rd_le32(r);
	m->op = rd_le32(r);
	if (m->len < 16 + 5 || m->len > MONGO_MSG_MAX)
		return MONGO_BAD;
	return MONGO_OK;
}

static enum mongo_parse mongo_client(const struct ident_input *in, struct mongo_msg *m)
{
	struct reader r;
	rd_init(&r, in->data[0], in->len[0]);
	enum mongo_parse p = mongo_header(&r, m);
	if (p != MONGO_OK)
		return p;
	if (m->resp != 0 && m->resp != 0xffffffffu)
		return MONGO_BAD;
	size_t body = m->len - 16;
	if (m->op == 2013) {
		if (!rd_has(&r, 5))
			return MONGO_SHORT;
		uint32_t flags = rd_le32(&r);
		uint8_t kind = rd_u8(&r);
		/* defined flags: checksumPresent 1, moreToCome 2, exhaustAllowed 1<<16 */
		if ((flags & ~0x10003u) || kind > 1)
			return MONGO_BAD;
		if (kind == 1)
			return MONGO_OK; /* document sequence first: rare, no command */
		return mongo_bson(&r, body - 5, &m->cmd, &m->cmd_len);
	}
	if (m->op == 2004) {
		if (!rd_has(&r, 4))
			return MONGO_SHORT;
		uint32_t flags = rd_le32(&r);
		if (flags & ~0xfeu) /* bits 1-7 defined; bit 0 reserved */
			return MONGO_BAD;
		p = mongo_cstring(&r, 256, &m->coll, &m->coll_len);
		if (p != MONGO_OK)
			return p;
		/* "db.collection": a dot, not first */
		struct reader cr;
		rd_init(&cr, m->coll, m->coll_len);
		size_t i = 0;
		uint8_t c = 0;
		while (rd_peek_u8(&cr, i, &c) && c != '.')
			i++;
		if (c != '.' || i == 0)
			return MONGO_BAD;
		rd_skip(&r, 8);
		if (!rd_ok(&r))
			return MONGO_SHORT;
		if (rd_offset(&r) >= m->len)
			return MONGO_BAD;
		return mongo_bson(&r, m->len - rd_offset(&r), &m->cmd, &m->cmd_len);
	}
	return MONGO_BAD;
}

/* Whether the server's first bytes, as many as are kept, already cannot
 * open a reply: a messageLength out of range, or an opCode no reply has.
 * It reads the server's bytes alone, so its NO_MATCH stays true however
 * either side grows (identify.h: NO_MATCH is final). Before, a client
 * message not yet whole with any server byte was NO_MATCH, which the
 * same flow with the client's message whole and a short reply turned
 * into NEED_MORE (fuzz_identify, fuzz/corpus/identify/
 * regress-mongodb-server-first-finality). */
static bool mongo_server_bad(const struct ident_input *in)
{
	struct reader s;
	rd_init(&s, in->data[1], in->len[1]);
	if (!rd_has(&s, 4))
		return false;
	uint32_t len = rd_le32(&s);
	if (len < 16 + 5 || len > MONGO_MSG_MAX)
		return true;
	if (!rd_has(&s, 12))
		return false;
	rd_skip(&s, 8);
	uint32_t op = rd_le32(&s);
	return op != 1 && op != 2013 && op != 2012;
}

static enum ident_verdict mongo_match(const struct ident_input *in, struct ident_evidence *ev)
{
	struct mongo_msg cm = {0}, sm = {0};
	enum mongo_parse pc = mongo_client(in, &cm);
	if (pc == MONGO_BAD || mongo_server_bad(in))
		return IDENT_NO_MATCH;
	if (pc == MONGO_SHORT)
		return in->done[0] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
	struct reader s;
	rd_init(&s, in->data[1], in->len[1]);
	/* its length and opCode passed mongo_server_bad: left, the reply's
	 * responseTo */
	enum mongo_parse ps = mongo_header(&s, &sm);
	if (ps == MONGO_BAD || (ps == MONGO_OK && sm.resp != cm.req))
		return IDENT_NO_MATCH;
	if (ps == MONGO_SHORT) {
		if (!in->done[1])
			return IDENT_NEED_MORE;
		if (rd_remaining(&s) > 0 || !cm.cmd)
			return IDENT_NO_MATCH;
		ev->confidence = 70;
	} else {
		ev->server_confirmed = true;
		ev->confidence = 100;
	}
	ident_add_str(ev, "mongodb_opcode", cm.op == 2013 ? "OP_MSG" : "OP_QUERY");
	if (cm.cmd)
		ident_add(ev, "mongodb_command", cm.cmd, cm.cmd_len);
	if (cm.coll)
		ident_add(ev, "mongodb_collection", cm.coll, cm.coll_len);
	return IDENT_MATCH;
}

const struct ident_proto ident_mongodb = {"mongodb", "MongoDB wire protocol", IDENT_TCP, mongo_match, NULL, NULL};
