/*
 * json.c - see json.h.
 */
#include "output/json.h"

#include <inttypes.h>
#include <string.h>
#include <time.h>

static void put(struct json *j, const char *s, size_t n)
{
	if (j->overflow || n > sizeof j->buf - j->len) {
		j->overflow = true;
		return;
	}
	memcpy(j->buf + j->len, s, n);
	j->len += n;
}

static void putc_(struct json *j, char c) { put(j, &c, 1); }

static void put_escaped(struct json *j, const uint8_t *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	putc_(j, '"');
	size_t i = 0;
	while (i < n) {
		/* The common case, a run of printable ASCII: one copy. */
		size_t run = i;
		while (run < n && s[run] >= 0x20 && s[run] < 0x7f && s[run] != '"' && s[run] != '\\')
			run++;
		if (run > i) {
			put(j, (const char *)s + i, run - i);
			i = run;
			continue;
		}
		uint8_t c = s[i];
		if (c == '"' || c == '\\') {
			char e[2] = {'\\', (char)c};
			put(j, e, 2);
			i++;
		} else if (c >= 0x20 && c < 0x7f) {
			putc_(j, (char)c);
			i++;
		} else if (c == '\n') {
			put(j, "\\n", 2);
			i++;
		} else if (c == '\r') {
			put(j, "\\r", 2);
			i++;
		} else if (c == '\t') {
			put(j, "\\t", 2);
			i++;
		} else {
			/* A valid UTF-8 sequence passes through; anything else is one
			 * byte shown as \u00XX. Overlong forms, surrogates and code
			 * points past U+10FFFF are not valid (RFC 3629). */
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
				put(j, (const char *)s + i, len);
				i += len;
			} else {
				char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
				put(j, e, 6);
				i++;
			}
		}
	}
	putc_(j, '"');
}

static void member(struct json *j, const char *key)
{
	if (!j->first[j->depth])
		putc_(j, ',');
	j->first[j->depth] = false;
	if (key) {
		put_escaped(j, (const uint8_t *)key, strlen(key));
		putc_(j, ':');
	}
}

static void open_(struct json *j, const char *key, char c)
{
	member(j, key);
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

void json_begin(struct json *j)
{
	j->len = 0;
	j->depth = 0;
	j->overflow = false;
	j->first[0] = true;
	putc_(j, '{');
}

void json_obj(struct json *j, const char *key) { open_(j, key, '{'); }
void json_arr(struct json *j, const char *key) { open_(j, key, '['); }
void json_end_obj(struct json *j) { close_(j, '}'); }
void json_end_arr(struct json *j) { close_(j, ']'); }

void json_str(struct json *j, const char *key, const char *s)
{
	json_strn(j, key, (const uint8_t *)s, strlen(s));
}

void json_strn(struct json *j, const char *key, const uint8_t *s, size_t n)
{
	member(j, key);
	put_escaped(j, s, n);
}

void json_u64(struct json *j, const char *key, uint64_t v)
{
	char b[24];
	int n = snprintf(b, sizeof b, "%" PRIu64, v);
	member(j, key);
	put(j, b, (size_t)n);
}

void json_i64(struct json *j, const char *key, int64_t v)
{
	char b[24];
	int n = snprintf(b, sizeof b, "%" PRId64, v);
	member(j, key);
	put(j, b, (size_t)n);
}

void json_double(struct json *j, const char *key, double v, int decimals)
{
	char b[48];
	int n = snprintf(b, sizeof b, "%.*f", decimals, v);
	member(j, key);
	if (n <= 0 || (size_t)n >= sizeof b || v != v) /* NaN has no JSON form */
		put(j, "null", 4);
	else
		put(j, b, (size_t)n);
}

void json_bool(struct json *j, const char *key, bool v)
{
	member(j, key);
	if (v)
		put(j, "true", 4);
	else
		put(j, "false", 5);
}

int json_emit(struct json *j, FILE *f)
{
	putc_(j, '}');
	putc_(j, '\n');
	if (j->overflow || j->depth != 0)
		return -1;
	if (fwrite(j->buf, 1, j->len, f) != j->len)
		return -2;
	return 0;
}

void json_format_ts(uint64_t ts_us, char out[40])
{
	time_t secs = (time_t)(ts_us / 1000000u);
	struct tm tm;
	if (!gmtime_r(&secs, &tm)) {
		memset(&tm, 0, sizeof tm);
		tm.tm_year = 70;
		tm.tm_mday = 1;
	}
	char date[24];
	strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, 40, "%s.%06u+0000", date, (unsigned)(ts_us % 1000000u));
}
