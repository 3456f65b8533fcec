/*
 * proto_syslog.c - syslog (RFC 5424, RFC 3164; over TCP RFC 6587 with
 * octet counting or LF framing; over UDP RFC 5426).
 *
 * One message:
 *
 *   [TCP octet counting: MSG-LEN SP]   "57 <34>1 2003-10-11T22:14:15Z host ..."
 *   '<' PRI '>'                         PRI = facility*8 + severity, 0..191,
 *                                       1-3 digits, no leading zero
 *   then one of
 *     RFC 5424:  VERSION SP TIMESTAMP SP HOSTNAME SP ...   "1 2003-... host"
 *     RFC 3164:  Mmm SP dd SP hh:mm:ss SP HOSTNAME SP TAG   "Oct 11 22:14:15 host"
 *     bare 3164: TAG ("snmpd[123]:", Cisco "85:")          no timestamp (3164 4.3.3)
 *     ISO stamp: YYYY-MM-DDThh:mm:ss... SP HOSTNAME (rsyslog high precision)
 *     vendor:    printable text holding a time of day hh:mm:ss within its
 *                first 48 bytes (RFC 3164 4.3.3 lets a relay pass any
 *                content): FortiGate "date=2021-12-09 time=16:29:06 ...",
 *                "854 08/20/2013-19:05:23 CONFIG ...",
 *                " 2021-04-18 15:12:38+04:00 10.126.20.68 Log, ..."
 *   then text: printable, tab, UTF-8 (bytes >= 0x80), LF and CR (a message
 *   may span lines: RFC 5424 6.4 allows any octets in MSG); NUL only at the
 *   end
 *
 * Syslog is one-way: the collector never answers, so the sender's message
 * is judged alone and no wait is needed; bytes from the other side, if any,
 * must be syslog as well (a bidirectional flow that answers in something
 * else is not syslog). When only the side taken for the server sent (a
 * relay sending from port 514 to a collector on another port), that side
 * is the sender and its messages are judged.
 */
#include "common/reader.h"
#include "identify/identify.h"

#define SYSLOG_MSG_MAX 8192

static bool sl_digit(uint8_t c) { return c >= '0' && c <= '9'; }

/* n digits at r's position (not consumed). */
static bool sl_digits(const struct reader *r, size_t at, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t c;
		if (!rd_peek_u8(r, at + i, &c) || !sl_digit(c))
			return false;
	}
	return true;
}

static bool sl_char(const struct reader *r, size_t at, uint8_t want)
{
	uint8_t c;
	return rd_peek_u8(r, at, &c) && c == want;
}

static bool sl_tagchar(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || sl_digit(c) || c == '_' ||
	       c == '-' || c == '.' || c == '/';
}

/* Copies the token (up to a space) at r's position as the host. */
static void sl_host(struct reader *r, struct ident_evidence *ev)
{
	size_t n = 0;
	uint8_t c;
	while (n < 255 && rd_peek_u8(r, n, &c) && c > ' ' && c < 0x7f)
		n++;
	if (n == 0 || !sl_char(r, n, ' ') || (n == 1 && sl_char(r, 0, '-')))
		return;
	ident_add(ev, "syslog_host", rd_bytes(r, n), n);
}

enum sl_res { SL_BAD, SL_SHORT, SL_OK };

/* Parses one message in r (the whole window). ev may be NULL. more: the
 * window is only the start of the message, the rest may come (TCP): where
 * the bytes run out before a part is complete the answer is SL_SHORT, not
 * SL_BAD (NO_MATCH is final). */
static enum sl_res sl_msg(struct reader *r, struct ident_evidence *ev, uint8_t *conf, bool more)
{
	static const char *const mon[] = {"Jan ", "Feb ", "Mar ", "Apr ", "May ", "Jun ",
	                                  "Jul ", "Aug ", "Sep ", "Oct ", "Nov ", "Dec "};
	uint8_t c;
	if (!rd_peek_u8(r, 0, &c))
		return SL_SHORT;
	if (c != '<')
		return SL_BAD;
	rd_skip(r, 1);
	unsigned pri = 0;
	size_t nd = 0;
	for (;;) {
		if (!rd_peek_u8(r, 0, &c))
			return SL_SHORT;
		if (c == '>')
			break;
		if (!sl_digit(c) || nd == 3 || (nd == 1 && pri == 0))
			return SL_BAD;
		pri = pri * 10 + (unsigned)(c - '0');
		nd++;
		rd_skip(r, 1);
	}
	if (nd == 0 || pri > 191)
		return SL_BAD;
	rd_skip(r, 1);
	if (rd_remaining(r) < 16)
		return SL_SHORT;
	if (sl_digits(r, 0, 1) && !sl_char(r, 0, '0') && sl_char(r, 1, ' ') &&
	    (sl_char(r, 2, '-') || (sl_digits(r, 2, 4) && sl_char(r, 6, '-')))) {
		/* RFC 5424: VERSION SP TIMESTAMP ("-" or full-date) */
		*conf = 90;
		rd_skip(r, 2);
		size_t n = 0;
		while (rd_peek_u8(r, n, &c) && c != ' ' && n < 64)
			n++;
		if (!sl_char(r, n, ' '))
			return more && n == rd_remaining(r) ? SL_SHORT : SL_BAD;
		rd_skip(r, n + 1);
		if (ev)
			sl_host(r, ev);
	} else if (sl_digits(r, 0, 4) && sl_char(r, 4, '-') && sl_digits(r, 5, 2) &&
	           sl_char(r, 7, '-') && sl_digits(r, 8, 2) && sl_char(r, 10, 'T')) {
		/* ISO 8601 timestamp without a version */
		*conf = 80;
		size_t n = 0;
		while (rd_peek_u8(r, n, &c) && c != ' ' && n < 64)
			n++;
		if (!sl_char(r, n, ' '))
			return more && n == rd_remaining(r) ? SL_SHORT : SL_BAD;
		rd_skip(r, n + 1);
		if (ev)
			sl_host(r, ev);
	} else {
		bool ts = false;
		for (int m = 0; m < 12 && !ts; m++)
			ts = rd_starts(r, mon[m]);
		if (ts) {
			/* RFC 3164: "Mmm dd hh:mm:ss " (day space padded) */
			if (!(sl_char(r, 4, ' ') || sl_digits(r, 4, 1)) ||
			    !sl_digits(r, 5, 1) || !sl_char(r, 6, ' ') || !sl_digits(r, 7, 2) ||
			    !sl_char(r, 9, ':') || !sl_digits(r, 10, 2) || !sl_char(r, 12, ':') ||
			    !sl_digits(r, 13, 2))
				return SL_BAD;
			*conf = 85;
			rd_skip(r, 15);
			if (sl_char(r, 0, ' ')) {
				rd_skip(r, 1);
				if (ev)
					sl_host(r, ev);
			}
		} else {
			/* A bare TAG: "name[pid]:", "name:" or a Cisco sequence
			 * number "85:". */
			size_t n = 0;
			while (rd_peek_u8(r, n, &c) && sl_tagchar(c) && n < 48)
				n++;
			if (n > 0 && (sl_char(r, n, ':') || sl_char(r, n, '['))) {
				*conf = 70;
			} else if (more && n == rd_remaining(r)) {
				return SL_SHORT; /* the tag's end may come */
			} else {
				/* vendor text with a time of day hh:mm:ss */
				size_t at = 0;
				bool tod = false;
				for (; at < 48 && !tod; at++) {
					if (!rd_peek_u8(r, at, &c))
						return more ? SL_SHORT : SL_BAD;
					if (c < 0x20 || c > 0x7e)
						return SL_BAD;
					tod = sl_digits(r, at, 2) && sl_char(r, at + 2, ':') &&
					      sl_digits(r, at + 3, 2) && sl_char(r, at + 5, ':') &&
					      sl_digits(r, at + 6, 2);
				}
				if (!tod)
					return SL_BAD;
				*conf = 60;
			}
		}
	}
	/* The rest is text. */
	size_t rest = rd_remaining(r);
	for (size_t i = 0; i < rest; i++) {
		(void)rd_peek_u8(r, i, &c);
		if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
			/* NUL: only trailing */
			for (size_t k = i; k < rest; k++) {
				uint8_t e;
				(void)rd_peek_u8(r, k, &e);
				if (e != '\n' && e != '\r' && e != 0)
					return SL_BAD;
			}
			break;
		}
		if (c == 0x7f)
			return SL_BAD;
	}
	return SL_OK;
}

/* Direction d: its first message(s). TCP: octet counting or LF framing;
 * UDP: each datagram is one message (up to 4 checked). */
static enum sl_res sl_dir(const struct ident_input *in, int d, struct ident_evidence *ev,
                          uint8_t *conf)
{
	struct reader r;
	rd_init(&r, in->data[d], in->len[d]);
	if (in->transport == IDENT_UDP) {
		if (in->ndgrams[d] == 0)
			return SL_SHORT;
		for (unsigned k = 0; k < in->ndgrams[d] && k < 4; k++) {
			struct reader m = rd_sub(&r, in->dgram_len[d][k]);
			if (!rd_ok(&r))
				return SL_BAD;
			uint8_t cf = 0;
			enum sl_res s = sl_msg(&m, k == 0 ? ev : NULL, &cf, false);
			if (s != SL_OK)
				return SL_BAD; /* a datagram is a whole message */
			if (k == 0)
				*conf = cf;
		}
		return SL_OK;
	}
	/* TCP: "LEN SP" octet counting, or a line. */
	uint8_t c;
	if (!rd_peek_u8(&r, 0, &c))
		return SL_SHORT;
	if (sl_digit(c) && c != '0') {
		size_t len = 0, n = 0;
		while (rd_peek_u8(&r, n, &c) && sl_digit(c) && n < 6)
			len = len * 10 + (size_t)(c - '0'), n++;
		if (!rd_has(&r, n + 1))
			return SL_SHORT;
		if (c != ' ' || len > 1048576 || len < 3)
			return SL_BAD;
		rd_skip(&r, n + 1);
		if (!rd_has(&r, len) && rd_remaining(&r) < 32 && !in->done[d])
			return SL_SHORT;
		bool part = !rd_has(&r, len) && !in->done[d];
		struct reader m = rd_sub(&r, rd_has(&r, len) ? len : rd_remaining(&r));
		enum sl_res s = sl_msg(&m, ev, conf, part);
		if (s == SL_SHORT)
			return in->done[d] ? SL_BAD : SL_SHORT;
		return s;
	}
	const uint8_t *line;
	size_t n;
	if (!rd_line(&r, SYSLOG_MSG_MAX, &line, &n)) {
		if (in->done[d] || rd_remaining(&r) >= SYSLOG_MSG_MAX) {
			struct reader m;
			rd_init(&m, in->data[d], in->len[d]);
			enum sl_res s = sl_msg(&m, ev, conf, false);
			return s == SL_SHORT ? SL_BAD : s;
		}
		/* Judge what is there: a bad start is final. */
		struct reader m;
		rd_init(&m, in->data[d], in->len[d]);
		uint8_t cf;
		return sl_msg(&m, NULL, &cf, true) == SL_BAD ? SL_BAD : SL_SHORT;
	}
	struct reader m;
	rd_init(&m, line, n);
	enum sl_res s = sl_msg(&m, ev, conf, false);
	return s == SL_SHORT ? SL_BAD : s;
}

/* syslog_match past its cheap NO_MATCH tests. Out of line: the tests run
 * without this function's frame. */
__attribute__((noinline)) static enum ident_verdict
syslog_match_parse(const struct ident_input *in, struct ident_evidence *ev)
{
	/* the sender, as syslog_match chose it */
	int snd = in->len[0] == 0 && in->done[0] && in->len[1] > 0 ? 1 : 0;
	uint8_t conf = 0, sconf = 0;
	struct ident_evidence tmp;
	ident_clear(&tmp);
	enum sl_res c = sl_dir(in, snd, &tmp, &conf);
	if (c == SL_BAD)
		return IDENT_NO_MATCH;
	if (c == SL_SHORT) {
		/* a client done silent: the server may yet be the sender
		 * (NO_MATCH is final) */
		if (snd == 0 && in->len[0] == 0 && !in->done[1])
			return IDENT_NEED_MORE;
		return in->done[snd] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
	}
	if (snd == 0 && in->len[1] > 0) {
		/* The collector does not answer; whatever comes back must be
		 * syslog too. */
		enum sl_res s = sl_dir(in, 1, NULL, &sconf);
		if (s == SL_BAD)
			return IDENT_NO_MATCH;
		if (s == SL_SHORT)
			return in->done[1] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
	}
	*ev = tmp;
	/* PRI as "facility.severity" numbers */
	{
		struct reader r;
		rd_init(&r, in->data[snd], in->len[snd]);
		uint8_t ch;
		while (rd_peek_u8(&r, 0, &ch) && ch != '<')
			rd_skip(&r, 1);
		rd_skip(&r, 1);
		size_t n = 0;
		while (rd_peek_u8(&r, n, &ch) && sl_digit(ch) && n < 3)
			n++;
		/* insert first */
		struct ident_evidence out;
		ident_clear(&out);
		ident_add(&out, "syslog_pri", rd_bytes(&r, n), n);
		for (unsigned i = 0; i < tmp.nfields; i++)
			ident_add(&out, tmp.field[i].key, tmp.field[i].value, tmp.field[i].len);
		*ev = out;
	}
	ev->confidence = conf;
	ev->server_confirmed = false;
	return IDENT_MATCH;
}

static enum ident_verdict syslog_match(const struct ident_input *in, struct ident_evidence *ev)
{
	/* the sender: the client, or the server when the client sent nothing */
	int snd = in->len[0] == 0 && in->done[0] && in->len[1] > 0 ? 1 : 0;
	/* The usual NO_MATCH of syslog_match_parse (the sender's sl_dir SL_BAD)
	 * from one byte: a message starts with '<' (TCP: or with the digits of
	 * an octet count). */
	{
		struct reader r;
		uint8_t b0;
		rd_init(&r, in->data[snd], in->len[snd]);
		if (in->transport == IDENT_UDP) {
			if (in->ndgrams[snd]) {
				struct reader m = rd_sub(&r, in->dgram_len[snd][0]);
				if (!rd_ok(&r) || !rd_peek_u8(&m, 0, &b0) || b0 != '<')
					return IDENT_NO_MATCH;
			} else { /* sl_dir: SL_SHORT */
				if (snd == 0 && in->len[0] == 0 && !in->done[1])
					return IDENT_NEED_MORE;
				return in->done[snd] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
			}
		} else if (rd_peek_u8(&r, 0, &b0) && b0 != '<' && !(sl_digit(b0) && b0 != '0')) {
			return IDENT_NO_MATCH;
		}
	}
	return syslog_match_parse(in, ev);
}

/* The first bytes (identify.h, first_byte), of direction d.
 * The client's: syslog_match, the client being the sender (it sent
 * bytes): '<', or over TCP the first digit of an octet count.
 * The server's: none declared. */
static bool syslog_first_byte(int d, uint8_t transport, uint8_t b)
{
	if (d != 0)
		return true;
	if (transport == IDENT_UDP)
		return b == '<';
	return b == '<' || (sl_digit(b) && b != '0');
}

const struct ident_proto ident_syslog = {"syslog", "Syslog (RFC 5424, RFC 3164, RFC 6587)",
                                         IDENT_UDP | IDENT_TCP, syslog_match, NULL, syslog_first_byte};
