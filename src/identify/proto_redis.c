/*
 * proto_redis.c - Redis (RESP2 and RESP3, the Redis serialization protocol
 * specification, redis.io/docs/reference/protocol-spec).
 *
 * The client speaks first, with a command as an array of bulk strings or,
 * rarely, as an inline line:
 *
 *   "*" N CRLF  ( "$" LEN CRLF  LEN bytes  CRLF ) x N      N 1..1M
 *   *3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n
 *   inline:  PING\r\n   INFO server\r\n
 *
 * The server answers with a RESP value whose first byte gives its type:
 *   + simple string  - error  : integer  $ bulk  * array   (RESP2)
 *   _ null  , double  # boolean  ! blob error  = verbatim  ( big number
 *   % map  ~ set  | attribute  > push                       (RESP3)
 *   each with a line ending in CRLF.
 *
 * Lookalikes: POP3's "+OK ..." banner (the server speaks first with a text;
 * Redis's +OK is exactly "+OK\r\n"), and text protocols whose commands are
 * words (an inline "GET" is HTTP's method too). So an inline command needs
 * the server's RESP reply, and "+OK " with text after it is not Redis.
 */
#include "common/reader.h"
#include "identify/identify.h"

#define REDIS_CMD_MAX 32

/* Commands clients open with (and attackers send: CONFIG, SLAVEOF, MODULE,
 * EVAL ...). */
static const char *const redis_commands[] = {
    "PING",     "AUTH",      "HELLO",   "SELECT",   "GET",      "SET",       "SETEX",
    "SETNX",    "MGET",      "MSET",    "DEL",      "EXISTS",   "EXPIRE",    "TTL",
    "KEYS",     "SCAN",      "TYPE",    "INCR",     "DECR",     "INCRBY",    "APPEND",
    "HGET",     "HSET",      "HMSET",   "HMGET",    "HGETALL",  "HDEL",      "HSCAN",
    "LPUSH",    "RPUSH",     "LPOP",    "RPOP",     "LRANGE",   "LLEN",      "BLPOP",
    "BRPOP",    "SADD",      "SREM",    "SMEMBERS", "SISMEMBER", "ZADD",     "ZRANGE",
    "ZREM",     "ZSCORE",    "ZRANGEBYSCORE", "INFO", "CONFIG", "CLIENT",    "COMMAND",
    "DBSIZE",   "FLUSHDB",   "FLUSHALL", "SAVE",    "BGSAVE",   "SLAVEOF",   "REPLICAOF",
    "MONITOR",  "SUBSCRIBE", "PSUBSCRIBE", "PUBLISH", "MULTI",  "EXEC",      "DISCARD",
    "WATCH",    "EVAL",      "EVALSHA", "SCRIPT",   "MODULE",   "CLUSTER",   "SYNC",
    "PSYNC",    "REPLCONF",  "XADD",    "XREAD",    "XRANGE",   "XREADGROUP", "OBJECT",
    "MEMORY",   "SLOWLOG",   "LASTSAVE", "TIME",    "ECHO",     "QUIT",      "SENTINEL",
    "ACL",      "SHUTDOWN",  "DEBUG",   "UNLINK",   "RENAME",   "PERSIST",   "GETSET",
    "PEXPIRE",  "PTTL",      "STRLEN",  "SETRANGE", "GETRANGE", "BITCOUNT",  "PFADD",
    "PFCOUNT",  "GEOADD",    "FUNCTION", "FCALL",   "WAIT",     "RESET",     "LATENCY",
};

/* Inline commands that no line-based protocol this side of Redis sends
 * first (no GET/SET: HTTP; no AUTH/QUIT/TYPE/ECHO: POP3/SMTP/FTP). */
static const char *const redis_inline[] = {
    "PING", "INFO", "CONFIG", "SLAVEOF", "REPLICAOF", "MODULE", "EVAL", "KEYS", "DBSIZE",
    "FLUSHALL", "FLUSHDB", "CLIENT", "COMMAND", "MONITOR", "HELLO", "SELECT", "SCAN",
};

/* Upper-cases a word of at most REDIS_CMD_MAX bytes into buf; false when
 * it is not a command-shaped word. */
static bool redis_word(struct reader w, size_t n, char *buf)
{
	if (n == 0 || n > REDIS_CMD_MAX || !rd_has(&w, n))
		return false;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = rd_u8(&w);
		if (c >= 'a' && c <= 'z')
			c = (uint8_t)(c - 32);
		if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '|' || c == '-'))
			return false;
		buf[i] = (char)c;
	}
	buf[n] = 0;
	return true;
}

static bool redis_in(const char *w, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		size_t k = 0;
		while (w[k] && w[k] == list[i][k])
			k++;
		if (!w[k] && !list[i][k])
			return true;
	}
	return false;
}

/* A line ending in CR LF (RESP never ends a line with a bare LF) within
 * max bytes: 1 found (consumed, the line (*line, *n) without the CR LF), 2 not yet,
 * 0 not within max. */
static int redis_crlf_line(struct reader *r, size_t max, const uint8_t **line, size_t *n)
{
	uint8_t c, c2;
	for (size_t i = 0; i < max; i++) {
		if (!rd_peek_u8(r, i, &c))
			return 2;
		if (c != '\r')
			continue;
		if (!rd_peek_u8(r, i + 1, &c2))
			return 2;
		if (c2 != '\n')
			return 0;
		*line = rd_bytes(r, i);
		*n = i;
		rd_skip(r, 2);
		return 1;
	}
	return 0;
}

/* A decimal line "<digits>\r\n" after a type byte (the type byte already
 * read); a leading '-' allowed when neg (-1: null). 0 bad, 1 ok, 2 need
 * more. */
static int redis_num_line(struct reader *r, bool neg, long *v)
{
	const uint8_t *line;
	size_t n;
	int k = redis_crlf_line(r, 24, &line, &n);
	if (k != 1)
		return k;
	struct reader l;
	rd_init(&l, line, n);
	*v = 0;
	bool minus = false;
	uint8_t c;
	if (rd_peek_u8(&l, 0, &c) && c == '-') {
		if (!neg)
			return 0;
		minus = true;
		(void)rd_u8(&l);
	}
	size_t digits = 0;
	while (rd_remaining(&l)) {
		c = rd_u8(&l);
		if (c < '0' || c > '9' || ++digits > 10)
			return 0;
		*v = *v * 10 + (c - '0');
	}
	if (!digits)
		return 0;
	if (minus)
		*v = -*v;
	return 1;
}

enum redis_parse { REDIS_BAD, REDIS_SHORT, REDIS_OK };

/* The client's first command. *inline_cmd tells which form. */
static enum redis_parse redis_client(const struct ident_input *in, char *cmd, bool *inline_cmd)
{
	struct reader r;
	rd_init(&r, in->data[0], in->len[0]);
	uint8_t b;
	if (!rd_peek_u8(&r, 0, &b))
		return REDIS_SHORT;
	if (b == '*') {
		*inline_cmd = false;
		(void)rd_u8(&r);
		long n;
		int k = redis_num_line(&r, false, &n);
		if (k != 1)
			return k == 2 ? REDIS_SHORT : REDIS_BAD;
		if (n < 1 || n > 1048576)
			return REDIS_BAD;
		if (!rd_peek_u8(&r, 0, &b))
			return REDIS_SHORT;
		if (b != '$')
			return REDIS_BAD;
		(void)rd_u8(&r);
		long len;
		k = redis_num_line(&r, false, &len);
		if (k != 1)
			return k == 2 ? REDIS_SHORT : REDIS_BAD;
		if (len < 1 || len > REDIS_CMD_MAX)
			return REDIS_BAD;
		if (!rd_has(&r, (size_t)len + 2))
			return REDIS_SHORT;
		struct reader w = rd_sub(&r, (size_t)len);
		if (!rd_starts(&r, "\r\n") || !redis_word(w, (size_t)len, cmd))
			return REDIS_BAD;
		return REDIS_OK;
	}
	*inline_cmd = true;
	const uint8_t *line;
	size_t n;
	if (!rd_line(&r, 512, &line, &n)) {
		size_t rest = rd_partial_len(&r, rd_remaining(&r));
		return rd_remaining(&r) < 512 && rd_printable(&r, rest) ? REDIS_SHORT : REDIS_BAD;
	}
	struct reader l;
	rd_init(&l, line, n);
	if (!rd_printable(&l, n))
		return REDIS_BAD;
	size_t wn = 0;
	uint8_t c;
	while (rd_peek_u8(&l, wn, &c) && c != ' ')
		wn++;
	if (!redis_word(l, wn, cmd) ||
	    !redis_in(cmd, redis_inline, sizeof redis_inline / sizeof redis_inline[0]))
		return REDIS_BAD;
	return REDIS_OK;
}

/* The server's first reply. */
static enum redis_parse redis_server(const struct ident_input *in)
{
	struct reader r;
	rd_init(&r, in->data[1], in->len[1]);
	uint8_t t;
	if (!rd_peek_u8(&r, 0, &t))
		return REDIS_SHORT;
	(void)rd_u8(&r);
	long v;
	int k;
	switch (t) {
	case ':': /* integer */
	case '$': /* bulk string */
	case '*': /* array */
	case '%': /* map */
	case '~': /* set */
	case '|': /* attribute */
	case '>': /* push */
	case '!': /* blob error */
	case '=': /* verbatim string */
		k = redis_num_line(&r, t == ':' || t == '$' || t == '*', &v);
		return k == 1 ? REDIS_OK : k == 2 ? REDIS_SHORT : REDIS_BAD;
	case '_': /* null */
		return rd_starts(&r, "\r\n") ? REDIS_OK : rd_remaining(&r) < 2 ? REDIS_SHORT : REDIS_BAD;
	case '+':
	case '-':
	case ',':
	case '#':
	case '(': {
		const uint8_t *line;
		size_t n;
		int k2 = redis_crlf_line(&r, 1024, &line, &n);
		if (k2 != 1)
			return k2 == 2 ? REDIS_SHORT : REDIS_BAD;
		struct reader l;
		rd_init(&l, line, n);
		if (!rd_printable(&l, n) || n == 0)
			return REDIS_BAD;
		/* POP3 greets with "+OK text"; Redis's OK stands alone. */
		if (t == '+' && rd_starts(&l, "OK") && n > 2)
			return REDIS_BAD;
		return REDIS_OK;
	}
	default:
		return REDIS_BAD;
	}
}

static enum ident_verdict redis_match(const struct ident_input *in, struct ident_evidence *ev)
{
	char cmd[REDIS_CMD_MAX + 1];
	bool inl = false;
	enum redis_parse pc = redis_client(in, cmd, &inl);
	if (pc == REDIS_BAD)
		return IDENT_NO_MATCH;
	if (pc == REDIS_SHORT)
		return in->done[0] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
	bool known = redis_in(cmd, redis_commands, sizeof redis_commands / sizeof redis_commands[0]);
	enum redis_parse ps = redis_server(in);
	if (ps == REDIS_BAD)
		return IDENT_NO_MATCH;
	if (ps == REDIS_SHORT) {
		if (!in->done[1])
			return IDENT_NEED_MORE;
		/* Unanswered: only a well-formed array naming a known command (a
		 * reply that never completed is no answer in RESP). */
		if (inl || !known || in->len[1] > 0)
			return IDENT_NO_MATCH;
		ev->confidence = 65;
	} else {
		ev->server_confirmed = true;
		ev->confidence = inl ? 80 : 95;
	}
	ident_add_str(ev, "redis_command", cmd);
	return IDENT_MATCH;
}

/* The first bytes (identify.h, first_byte), of direction d.
 * The client's: redis_client: an array ('*'), or an inline command
 * line, printable (a line end admitted too).
 * The server's: none declared. */
static bool redis_first_byte(int d, uint8_t transport, uint8_t b)
{
	if (d != 0)
		return true;
	(void)transport;
	return b == '*' || b == '\t' || b == '\r' || b == '\n' || (b >= 0x20 && b <= 0x7e);
}

const struct ident_proto ident_redis = {"redis", "Redis (RESP2/RESP3)", IDENT_TCP, redis_match, NULL, redis_first_byte};
