/*
 * json.c - see json.h.
 */
#include "output/json.h"

#include <assert.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static void put(struct json *j, const char *s, size_t n)
{
	if (j->overflow || n > JSON_BUF_SIZE - j->len) {
		j->overflow = true;
		return;
	}
	memcpy(j->buf + j->len, s, n);
	j->len += n;
}

static void putc_(struct json *j, char c)
{
	if (j->overflow || j->len >= JSON_BUF_SIZE) {
		j->overflow = true;
		return;
	}
	j->buf[j->len++] = c;
}

/* Bytes copied into a JSON string as they are: printable ASCII but the
 * quote and the backslash. */
static inline bool plain(uint8_t c)
{
	return (uint8_t)(c - 0x20) < 0x5f && c != '"' && c != '\\';
}

/* Eight bytes at once (bit tricks on a 64-bit word): true when all are
 * plain. A byte is flagged when it is below 0x20, has its top bit set, or
 * equals '"', '\\' or 0x7f (a zero byte after XOR with the value). */
static inline bool plain8(const uint8_t *p)
{
	const uint64_t ones = 0x0101010101010101u, high = 0x8080808080808080u;
	uint64_t x;
	memcpy(&x, p, sizeof x);
#define HAS_ZERO(v) (((v) - ones) & ~(v) & high)
	uint64_t bad = (x & high) | ((x - ones * 0x20) & ~x & high) | HAS_ZERO(x ^ (ones * '"')) |
	               HAS_ZERO(x ^ (ones * '\\')) | HAS_ZERO(x ^ (ones * 0x7f));
#undef HAS_ZERO
	return bad == 0;
}

/* Writes the escaped form of the byte at s[i], which is not plain, at o
 * (at most 6 bytes); returns how many were written and sets *used to the
 * input bytes it stands for. A valid UTF-8 sequence passes through;
 * anything else is one byte shown as \u00XX. Overlong forms, surrogates
 * and code points past U+10FFFF are not valid (RFC 3629). */
static size_t escape_one(const uint8_t *s, size_t n, size_t i, char *o, size_t *used)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t c = s[i];
	*used = 1;
	switch (c) {
	case '"':
	case '\\':
		o[0] = '\\';
		o[1] = (char)c;
		return 2;
	case '\n':
		memcpy(o, "\\n", 2);
		return 2;
	case '\r':
		memcpy(o, "\\r", 2);
		return 2;
	case '\t':
		memcpy(o, "\\t", 2);
		return 2;
	default:
		break;
	}
	size_t len = 0;
	uint32_t cp = 0;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		cp = c & 0x1fu;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		cp = c & 0x0fu;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		cp = c & 0x07u;
	}
	bool ok = len > 0 && i + len <= n;
	for (size_t k = 1; ok && k < len; k++) {
		if ((s[i + k] & 0xc0) != 0x80)
			ok = false;
		else
			cp = cp << 6 | (s[i + k] & 0x3fu);
	}
	if (ok && ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	           (len == 4 && (cp < 0x10000 || cp > 0x10ffff))))
		ok = false;
	if (ok) {
		memcpy(o, s + i, len);
		*used = len;
		return len;
	}
	char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
	memcpy(o, e, 6);
	return 6;
}

#define ESCAPED_MAX 6 /* output bytes per input byte at most */

static void put_escaped(struct json *j, const uint8_t *s, size_t n)
{
	size_t i = 0, used, room = JSON_BUF_SIZE - j->len;
	if (!j->overflow && room >= 2 && n <= (room - 2) / ESCAPED_MAX) {
		/* Room for the worst case: straight into the buffer, runs of
		 * plain bytes eight at a time. */
		char *o = j->buf + j->len;
		*o++ = '"';
		while (i < n) {
			while (n - i >= 8 && plain8(s + i)) {
				memcpy(o, s + i, 8);
				o += 8;
				i += 8;
			}
			while (i < n && plain(s[i]))
				*o++ = (char)s[i++];
			if (i < n) {
				o += escape_one(s, n, i, o, &used);
				i += used;
			}
		}
		*o++ = '"';
		j->len = (size_t)(o - j->buf);
		return;
	}
	/* Near the end of the buffer: piece by piece, each checked. */
	putc_(j, '"');
	while (i < n) {
		size_t run = i;
		while (run < n && plain(s[run]))
			run++;
		if (run > i) {
			put(j, (const char *)s + i, run - i);
			i = run;
			continue;
		}
		char e[ESCAPED_MAX];
		put(j, e, escape_one(s, n, i, e, &used));
		i += used;
	}
	putc_(j, '"');
}

#ifndef NDEBUG
static bool plain_key(const char *key)
{
	for (size_t i = 0; key[i]; i++)
		if (!plain((uint8_t)key[i]))
			return false;
	return true;
}

bool json_plain_text(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!plain((uint8_t)s[i]))
			return false;
	return true;
}
#endif

static void member(struct json *j, const char *key, size_t n)
{
	bool comma = !j->first[j->depth];
	j->first[j->depth] = false;
	/* Keys are the program's own names (field names, evidence keys):
	 * plain ASCII, copied as they are (checked in debug builds, which the
	 * golden tests run under). */
	assert(!key || (plain_key(key) && strlen(key) == n));
	size_t need = comma + (key ? n + 3 : 0);
	if (j->overflow || need > JSON_BUF_SIZE - j->len) {
		j->overflow = true;
		return;
	}
	char *o = j->buf + j->len;
	if (comma)
		*o++ = ',';
	if (key) {
		*o++ = '"';
		memcpy(o, key, n);
		o += n;
		*o++ = '"';
		*o++ = ':';
	}
	j->len = (size_t)(o - j->buf);
}

static void open_(struct json *j, const char *key, size_t klen, char c)
{
	member(j, key, klen);
	putc_(j, c);
	if (j->depth + 1 >= JSON_MAX_DEPTH) {
		j->overflow = true;
		return;
	}
	j->depth++;
	j->first[j->depth] = true;
}

static void close_(struct json *j, char c)
{
	putc_(j, c);
	if (j->depth > 0)
		j->depth--;
}

int json_init(struct json *j)
{
	memset(j, 0, sizeof *j);
	j->out = malloc(JSON_OUT_SIZE + JSON_BUF_SIZE);
	j->buf = j->out;
	return j->out ? 0 : -1;
}

void json_free(struct json *j)
{
	free(j->out);
	j->out = j->buf = NULL;
	j->out_len = 0;
}

void json_begin(struct json *j)
{
	(void)json_raw_begin(j);
	j->first[0] = true;
	putc_(j, '{');
}

void json_obj_k(struct json *j, const char *key, size_t klen) { open_(j, key, klen, '{'); }
void json_arr_k(struct json *j, const char *key, size_t klen) { open_(j, key, klen, '['); }
void json_end_obj(struct json *j) { close_(j, '}'); }
void json_end_arr(struct json *j) { close_(j, ']'); }

void json_own_k(struct json *j, const char *key, size_t klen, const char *s, size_t n)
{
	/* The program's own text (timestamps, addresses, names from its
	 * tables): plain by construction, copied without the escaping scan
	 * (checked in debug builds). */
	assert(plain_key(s) && strlen(s) == n);
	member(j, key, klen);
	if (j->overflow || n + 2 > JSON_BUF_SIZE - j->len) {
		j->overflow = true;
		return;
	}
	char *o = j->buf + j->len;
	*o++ = '"';
	memcpy(o, s, n);
	o += n;
	*o++ = '"';
	j->len = (size_t)(o - j->buf);
}

void json_strn_k(struct json *j, const char *key, size_t klen, const uint8_t *s, size_t n)
{
	member(j, key, klen);
	put_escaped(j, s, n);
}

/* "00" to "99": two digits per division (a flow record's numbers, its
 * 16-digit flow_id first, cost half the divisions). */
static const char two_digits[201] = "00010203040506070809101112131415161718192021222324"
                                    "25262728293031323334353637383940414243444546474849"
                                    "50515253545556575859606162636465666768697071727374"
                                    "75767778798081828384858687888990919293949596979899";

/* The eight digits of r (< 10^8) at o, leading zeros included: two
 * 32-bit divisions and four pairs. */
static void eight_digits(char *o, uint32_t r)
{
	uint32_t hi = r / 10000, lo = r % 10000;
	memcpy(o, two_digits + 2 * (hi / 100), 2);
	memcpy(o + 2, two_digits + 2 * (hi % 100), 2);
	memcpy(o + 4, two_digits + 2 * (lo / 100), 2);
	memcpy(o + 6, two_digits + 2 * (lo % 100), 2);
}

/* Decimal digits of v, right-aligned ending at end; returns the first.
 * Eight digits per 64-bit division while v has more than eight (a flow
 * record's 16-digit flow_id: two, instead of eight divisions by 100),
 * then two at a time in 32 bits. */
static char *digits(uint64_t v, char *end)
{
	while (v >= 100000000u) {
		end -= 8;
		eight_digits(end, (uint32_t)(v % 100000000u));
		v /= 100000000u;
	}
	uint32_t w = (uint32_t)v;
	while (w >= 100) {
		uint32_t r = w % 100;
		w /= 100;
		end -= 2;
		memcpy(end, two_digits + 2 * r, 2);
	}
	if (w >= 10) {
		end -= 2;
		memcpy(end, two_digits + 2 * w, 2);
	} else {
		*--end = (char)('0' + w);
	}
	return end;
}

/* Number of decimal digits of v: t below is floor((log2(v) + 1) *
 * log10(2)) (1233 / 4096 = 0.30103), which is the number of digits of v
 * less one, or that number itself; comparing with 10^t tells which
 * (Sean Anderson's "Bit Twiddling Hacks", IntegerLog10). */
static size_t decimal_len(uint64_t v)
{
	static const uint64_t pow10[20] = {
		1u, 10u, 100u, 1000u, 10000u, 100000u, 1000000u, 10000000u, 100000000u,
		1000000000u, 10000000000u, 100000000000u, 1000000000000u, 10000000000000u,
		100000000000000u, 1000000000000000u, 10000000000000000u, 100000000000000000u,
		1000000000000000000u, 10000000000000000000u,
	};
	if (v == 0)
		return 1;
	unsigned t = (unsigned)(64 - __builtin_clzll(v)) * 1233u >> 12; /* <= 19 */
	return t + (v >= pow10[t]);
}

size_t json_fmt_u64(char *o, uint64_t v)
{
	/* Straight into o from its last digit: building them in a scratch
	 * buffer and copying it in one wide move stalled on every call (a
	 * load spanning several smaller stores is not forwarded from them). */
	size_t n = decimal_len(v);
	char *end = digits(v, o + n);
	assert(end == o);
	(void)end;
	return n;
}

void json_u64_k(struct json *j, const char *key, size_t klen, uint64_t v)
{
	char b[24];
	char *d = digits(v, b + sizeof b);
	member(j, key, klen);
	put(j, d, (size_t)(b + sizeof b - d));
}

void json_i64_k(struct json *j, const char *key, size_t klen, int64_t v)
{
	char b[24];
	char *d = digits(v < 0 ? 0 - (uint64_t)v : (uint64_t)v, b + sizeof b);
	if (v < 0)
		*--d = '-';
	member(j, key, klen);
	put(j, d, (size_t)(b + sizeof b - d));
}

void json_double_k(struct json *j, const char *key, size_t klen, double v, int decimals)
{
	char b[48];
	int n = snprintf(b, sizeof b, "%.*f", decimals, v);
	member(j, key, klen);
	if (n <= 0 || (size_t)n >= sizeof b || v != v) /* NaN has no JSON form */
		put(j, "null", 4);
	else
		put(j, b, (size_t)n);
}

void json_bool_k(struct json *j, const char *key, size_t klen, bool v)
{
	member(j, key, klen);
	if (v)
		put(j, "true", 4);
	else
		put(j, "false", 5);
}

/* The records go to the stream without stdio's lock: offport writes its
 * output from one thread only, so the lock keeps nothing out (taking and
 * releasing it was most of fwrite's time on a flood when each record was
 * written alone: perf, _IO_fwrite 145 samples per 705,034 records,
 * fwrite_unlocked 27). fwrite_unlocked is in glibc and musl; fwrite
 * elsewhere. */
#if defined(__GLIBC__) || defined(__linux__)
#define JSON_FWRITE fwrite_unlocked
#else
#define JSON_FWRITE fwrite
#endif

int json_flush(struct json *j, FILE *f)
{
	size_t n = j->out_len;
	j->out_len = 0;
	if (n && JSON_FWRITE(j->out, 1, n, f) != n)
		return -2;
	return 0;
}

int json_emit(struct json *j, FILE *f)
{
	putc_(j, '}');
	putc_(j, '\n');
	if (j->overflow || j->depth != 0)
		return -1; /* not kept: out_len stays where the record began */
	j->out_len += j->len;
	if (j->out_len >= JSON_OUT_SIZE)
		return json_flush(j, f);
	return 0;
}

/* Two digits of v (< 100) at o. */
static void two(char *o, unsigned v)
{
	o[0] = (char)('0' + v / 10);
	o[1] = (char)('0' + v % 10);
}

/* Formatted by hand (one per record; strftime and printf cost more than
 * the rest of a record): the civil date of a day count since 1970-01-01
 * in the proleptic Gregorian calendar, by eras of 400 years (146,097
 * days), years starting on March 1 so that the leap day comes last. */
/* The text before the microseconds of the last second formatted: records
 * come in capture order, so most timestamps fall in a second already
 * formatted (a flow record formats two or three). */
static _Thread_local struct {
	bool valid;
	uint64_t secs;
	size_t len; /* "YYYY-MM-DDTHH:MM:SS." */
	char text[40];
} ts_last;

static void put_micros(char *o, unsigned us)
{
	memcpy(o, two_digits + 2 * (us / 10000), 2);
	memcpy(o + 2, two_digits + 2 * (us / 100 % 100), 2);
	memcpy(o + 4, two_digits + 2 * (us % 100), 2);
	memcpy(o + 6, "+0000", 6);
}

size_t json_format_ts(uint64_t ts_us, char out[40])
{
	uint64_t secs = ts_us / 1000000u;
	unsigned us = (unsigned)(ts_us % 1000000u);
	if (ts_last.valid && ts_last.secs == secs) {
		/* all of text: a copy of fixed size; past len it is overwritten */
		memcpy(out, ts_last.text, sizeof ts_last.text);
		put_micros(out + ts_last.len, us);
		return ts_last.len + 11;
	}
	unsigned sod = (unsigned)(secs % 86400u);
	int64_t days = (int64_t)(secs / 86400u) + 719468; /* days since 0000-03-01 */
	int64_t era = days / 146097;
	unsigned doe = (unsigned)(days - era * 146097);                      /* [0, 146096] */
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
	int64_t year = (int64_t)yoe + era * 400;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100); /* [0, 365], from March 1 */
	unsigned mp = (5 * doy + 2) / 153;                      /* [0, 11], March = 0 */
	unsigned day = doy - (153 * mp + 2) / 5 + 1;
	unsigned month = mp < 10 ? mp + 3 : mp - 9;
	if (month <= 2)
		year++;
	char *o = out;
	if (year > 9999) { /* more digits, as strftime's %Y */
		char b[24];
		char *d = digits((uint64_t)year, b + sizeof b);
		size_t n = (size_t)(b + sizeof b - d);
		memcpy(o, d, n);
		o += n - 4;
	} else {
		unsigned y = (unsigned)year;
		two(o, y / 100);
		two(o + 2, y % 100);
	}
	o[4] = '-';
	two(o + 5, month);
	o[7] = '-';
	two(o + 8, day);
	o[10] = 'T';
	two(o + 11, sod / 3600);
	o[13] = ':';
	two(o + 14, sod / 60 % 60);
	o[16] = ':';
	two(o + 17, sod % 60);
	o[19] = '.';
	ts_last.len = (size_t)(o + 20 - out);
	memcpy(ts_last.text, out, ts_last.len);
	ts_last.secs = secs;
	ts_last.valid = true;
	put_micros(o + 20, us);
	return ts_last.len + 11; /* "123456+0000" */
}
