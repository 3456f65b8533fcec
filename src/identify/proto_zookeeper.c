/*
 * proto_zookeeper.c - Apache ZooKeeper client protocol (ZooKeeper
 * jute records ConnectRequest/ConnectResponse, zookeeper.jute) and the
 * four-letter-word admin commands (ZooKeeper Administrator's Guide).
 *
 * A session opens with a length-prefixed ConnectRequest, big endian:
 *
 *   len(4) = 44, or 45 with readOnly
 *   protocolVersion(4) = 0   lastZxidSeen(8)   timeOut(4, ms, > 0)
 *   sessionId(8)   passwd: length(4) = 16 (0 for a new session) + bytes
 *   [readOnly(1): 0 or 1]
 *
 * answered by a ConnectResponse:
 *
 *   len(4) = 36 or 37   protocolVersion(4) = 0   timeOut(4)
 *   sessionId(8)   passwd length(4) = 16 + 16 bytes   [readOnly(1)]
 *
 * Or the client sends a four-letter word (ruok, stat, srvr, mntr, conf,
 * cons, envi, dump, wchs, dirs, isro ...) and the server answers in text
 * ("imok", "Zookeeper version: ...", "zk_version ...") and closes.
 */
#include "common/reader.h"
#include "identify/identify.h"

static const char *const zk_words[] = {
    "ruok", "stat", "srvr", "mntr", "conf", "cons", "crst", "dump", "envi", "wchs",
    "wchc", "wchp", "dirs", "isro", "gtmk", "stmk", "srst", "reqs",
};

enum zk_parse { ZK_BAD, ZK_SHORT, ZK_OK };

static enum zk_parse zk_connect(const struct ident_input *in)
{
	struct reader r;
	rd_init(&r, in->data[0], in->len[0]);
	if (!rd_has(&r, 4 + 28 + 4))
		return ZK_SHORT;
	uint32_t len = rd_be32(&r);
	uint32_t ver = rd_be32(&r);
	rd_skip(&r, 8);
	uint32_t to = rd_be32(&r);
	rd_skip(&r, 8);
	uint32_t plen = rd_be32(&r);
	if ((len != 44 && len != 45 && len != 28 && len != 29) || ver != 0 || to == 0 ||
	    to > 3600000 || (plen != 16 && plen != 0) || len != 28 + plen + (len & 1))
		return ZK_BAD;
	if (!rd_has(&r, len - 28))
		return ZK_SHORT;
	rd_skip(&r, plen);
	if (len & 1) {
		uint8_t ro = rd_u8(&r);
		if (ro > 1)
			return ZK_BAD;
	}
	return ZK_OK;
}

static enum zk_parse zk_connect_resp(const struct ident_input *in)
{
	struct reader r;
	rd_init(&r, in->data[1], in->len[1]);
	if (!rd_has(&r, 24))
		return in->done[1] && in->len[1] ? ZK_BAD : ZK_SHORT;
	uint32_t len = rd_be32(&r);
	uint32_t ver = rd_be32(&r);
	uint32_t to = rd_be32(&r);
	rd_skip(&r, 8);
	uint32_t plen = rd_be32(&r);
	/* a refused session answers with timeOut 0, sessionId 0, passwd 16 zero bytes */
	if ((len != 36 && len != 37) || ver != 0 || plen != 16 || to > 3600000)
		return ZK_BAD;
	return ZK_OK;
}

static enum ident_verdict zk_match(const struct ident_input *in, struct ident_evidence *ev)
{
	struct reader c;
	rd_init(&c, in->data[0], in->len[0]);
	uint8_t b0;
	if (!rd_peek_u8(&c, 0, &b0))
		return in->done[0] || in->len[1] > 0 ? IDENT_NO_MATCH : IDENT_NEED_MORE;
	if (b0 >= 'a' && b0 <= 'z') {
		/* a four-letter word, alone (optionally CR LF / LF) */
		if (!rd_has(&c, 4))
			return in->done[0] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
		int w = -1;
		for (size_t k = 0; k < sizeof zk_words / sizeof zk_words[0]; k++)
			if (rd_starts(&c, zk_words[k]))
				w = (int)k;
		if (w < 0)
			return IDENT_NO_MATCH;
		rd_skip(&c, 4);
		if (!(rd_remaining(&c) == 0 || (rd_remaining(&c) == 2 && rd_starts(&c, "\r\n")) ||
		      (rd_remaining(&c) == 1 && rd_starts(&c, "\n"))))
			return IDENT_NO_MATCH;
		struct reader s;
		rd_init(&s, in->data[1], in->len[1]);
		bool ok;
		if (w == 0) /* ruok */
			ok = rd_starts(&s, "imok");
		else if (w == 3) /* mntr */
			ok = rd_starts(&s, "zk_version\t");
		else
			ok = rd_starts(&s, "Zookeeper version: ") || rd_starts(&s, "Environment:") ||
			     rd_starts(&s, "clientPort=") || rd_starts(&s, "Connections:") ||
			     rd_starts(&s, "SessionTracker") || rd_starts(&s, "Cnxns:") ||
			     rd_starts(&s, "datadir_size:") || rd_starts(&s, "rw") ||
			     rd_starts(&s, "ro") || rd_starts(&s, "is not executed because");
		if (!ok) {
			if (!in->done[1] && in->len[1] < 20)
				return IDENT_NEED_MORE;
			return IDENT_NO_MATCH;
		}
		ident_add_str(ev, "zk_op", zk_words[w]);
		ev->server_confirmed = true;
		ev->confidence = 95;
		return IDENT_MATCH;
	}
	enum zk_parse pc = zk_connect(in);
	if (pc == ZK_BAD || (pc == ZK_SHORT && in->done[0]))
		return IDENT_NO_MATCH;
	enum zk_parse ps = zk_connect_resp(in);
	if (ps == ZK_BAD)
		return IDENT_NO_MATCH;
	if (pc == ZK_SHORT)
		return in->len[1] > 0 ? IDENT_NO_MATCH : IDENT_NEED_MORE;
	if (ps == ZK_SHORT) {
		if (!in->done[1])
			return IDENT_NEED_MORE;
		if (in->len[1] > 0)
			return IDENT_NO_MATCH;
		ev->confidence = 70;
	} else {
		ev->server_confirmed = true;
		ev->confidence = 100;
	}
	ident_add_str(ev, "zk_op", "connect");
	return IDENT_MATCH;
}

const struct ident_proto ident_zookeeper = {"zookeeper", "Apache ZooKeeper client protocol",
                                            IDENT_TCP, zk_match, NULL};
