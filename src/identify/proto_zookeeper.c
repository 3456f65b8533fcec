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

static const char *const zk_replies[] = {
    "imok", "zk_version\t", "Zookeeper version: ", "Environment:", "clientPort=", "Connections:",
    "SessionTracker", "Cnxns:", "datadir_size:", "rw", "ro", "is not executed because",
};

/* Whether the server's bytes so far agree with the start of reply k (all
 * of it or as many bytes as there are): more may complete it. */
static bool zk_reply_prefix(const struct reader *s, size_t k)
{
	const char *w = zk_replies[k];
	uint8_t c;
	for (size_t i = 0; w[i] && rd_peek_u8(s, i, &c); i++)
		if (c != (uint8_t)w[i])
			return false;
	return true;
}

/* Whether the server's bytes are, or may still become, one of replies
 * lo..hi-1 (or answer nothing yet). */
static bool zk_reply_may(const struct ident_input *in, size_t lo, size_t hi)
{
	struct reader s;
	rd_init(&s, in->data[1], in->len[1]);
	for (size_t k = lo; k < hi; k++)
		if (rd_starts(&s, zk_replies[k]) || (!in->done[1] && zk_reply_prefix(&s, k)))
			return true;
	return false;
}

#define ZK_NREPLIES (sizeof zk_replies / sizeof zk_replies[0])

static enum ident_verdict zk_match(const struct ident_input *in, struct ident_evidence *ev)
{
	struct reader c;
	rd_init(&c, in->data[0], in->len[0]);
	uint8_t b0;
	if (!rd_peek_u8(&c, 0, &b0)) {
		/* the client may still speak (NO_MATCH is final) unless the
		 * server already said what no ZooKeeper server answers */
		if (in->done[0])
			return IDENT_NO_MATCH;
		if (zk_connect_resp(in) != ZK_BAD || zk_reply_may(in, 0, ZK_NREPLIES))
			return IDENT_NEED_MORE;
		return IDENT_NO_MATCH;
	}
	if (b0 >= 'a' && b0 <= 'z') {
		/* a four-letter word, alone (optionally CR LF / LF) */
		if (!rd_has(&c, 4)) {
			/* the rest of the word may come (NO_MATCH is final),
			 * unless no word starts so or the server's bytes are no
			 * reply */
			bool word = false;
			for (size_t k = 0; k < sizeof zk_words / sizeof zk_words[0]; k++) {
				size_t i = 0;
				uint8_t ch;
				while (rd_peek_u8(&c, i, &ch) && ch == (uint8_t)zk_words[k][i])
					i++;
				word = word || i == rd_remaining(&c);
			}
			if (in->done[0] || !word || !zk_reply_may(in, 0, ZK_NREPLIES))
				return IDENT_NO_MATCH;
			return IDENT_NEED_MORE;
		}
		int w = -1;
		for (size_t k = 0; k < sizeof zk_words / sizeof zk_words[0]; k++)
			if (rd_starts(&c, zk_words[k]))
				w = (int)k;
		if (w < 0)
			return IDENT_NO_MATCH;
		rd_skip(&c, 4);
		/* the CR of a CR LF: its LF may follow (NO_MATCH is final) */
		if (rd_remaining(&c) == 1 && rd_starts(&c, "\r") && !in->done[0])
			return IDENT_NEED_MORE;
		if (!(rd_remaining(&c) == 0 || (rd_remaining(&c) == 2 && rd_starts(&c, "\r\n")) ||
		      (rd_remaining(&c) == 1 && rd_starts(&c, "\n"))))
			return IDENT_NO_MATCH;
		struct reader s;
		rd_init(&s, in->data[1], in->len[1]);
		/* ruok: imok; mntr: zk_version; the others: the rest */
		size_t lo = w == 0 ? 0 : w == 3 ? 1 : 2;
		size_t hi = w == 0 ? 1 : w == 3 ? 2 : ZK_NREPLIES;
		bool ok = false;
		for (size_t k = lo; k < hi; k++)
			ok = ok || rd_starts(&s, zk_replies[k]);
		if (!ok) {
			/* wait only while the server's bytes may still become a
			 * reply (NO_MATCH is final: the 20-byte bound alone was
			 * not) */
			if (zk_reply_may(in, lo, hi))
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
	if (pc == ZK_SHORT) /* the rest of the request may come (NO_MATCH is final) */
		return IDENT_NEED_MORE;
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
                                            IDENT_TCP, zk_match, NULL, NULL};
