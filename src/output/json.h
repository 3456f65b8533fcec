/*
 * json.h - a small JSON line writer.
 *
 * Records are built in a fixed buffer and written whole, one per line, so a
 * reader never sees half a record. Keys are emitted in the order the caller
 * writes them (fixed key order keeps golden files stable). Strings are
 * escaped per RFC 8259; bytes that are not valid UTF-8 are written as
 * \u00XX so that any input, however hostile, yields valid JSON.
 */
#ifndef OFFPORT_OUTPUT_JSON_H
#define OFFPORT_OUTPUT_JSON_H

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define JSON_MAX_DEPTH 16
#define JSON_BUF_SIZE 65536       /* the most one record may take */
#define JSON_OUT_SIZE (1u << 20)  /* records kept before they are written */

/*
 * Records are built where they will be written from: in the output
 * buffer, right after the records before them, and written out together
 * once JSON_OUT_SIZE bytes are held (json_emit) or when the caller asks
 * (json_flush). Building a record elsewhere and handing it to stdio
 * copied every byte of the output once more (flows_1e6: 1 GB of JSON;
 * not writing it at all saved 4% of the run, building it in place 3%).
 * The FILE written to should then be unbuffered: its own buffer would
 * copy it again.
 */
struct json {
	char *buf;                  /* the record being built: out + out_len */
	size_t len;                 /* its length */
	int depth;
	bool first[JSON_MAX_DEPTH]; /* no member written yet at this depth */
	bool overflow;              /* the record did not fit: it is not written */
	char *out;                  /* JSON_OUT_SIZE + JSON_BUF_SIZE bytes */
	size_t out_len;             /* the finished records held in out */
};

/* Allocates the output buffer: 0, or -1 when memory is short. */
int json_init(struct json *j);
void json_free(struct json *j);

void json_begin(struct json *j);           /* starts a record: "{" */
void json_end_obj(struct json *j);
void json_end_arr(struct json *j);

/* The writers take the key's length; the inline forms below measure it,
 * which the compiler does at build time for the string constants that
 * nearly all keys are (no strlen per field). */
void json_obj_k(struct json *j, const char *key, size_t klen);
void json_arr_k(struct json *j, const char *key, size_t klen);
void json_strn_k(struct json *j, const char *key, size_t klen, const uint8_t *s, size_t n);
void json_own_k(struct json *j, const char *key, size_t klen, const char *s, size_t n);
void json_u64_k(struct json *j, const char *key, size_t klen, uint64_t v);
void json_i64_k(struct json *j, const char *key, size_t klen, int64_t v);
void json_double_k(struct json *j, const char *key, size_t klen, double v, int decimals);
void json_bool_k(struct json *j, const char *key, size_t klen, bool v);

#define JSON_KLEN(key) ((key) ? strlen(key) : 0)

/* Decimal digits of v at o (at most 20); returns how many. */
size_t json_fmt_u64(char *o, uint64_t v);

#ifndef NDEBUG
/* The n bytes at s are printable ASCII without a quote or a backslash
 * (for the assertions on keys and the program's own strings). */
bool json_plain_text(const char *s, size_t n);
#endif

/*
 * The fast path of the writers below (a flood writes a flow record per
 * new flow, millions of them): inline, so that a constant key is copied
 * with a few moves of a length known at build time, and one room check
 * covers the comma, the quoted key, its colon and the longest value
 * (vmax bytes). Returns where the value goes, or NULL when that much room
 * is not left (or the record already overflowed): the caller then takes
 * the out-of-line writer, which checks piece by piece and sets overflow
 * only when the record really does not fit, exactly as before. The
 * bookkeeping is member()'s in json.c: the first member at a depth has no
 * comma.
 */
static inline char *json__member_fast(struct json *j, const char *key, size_t klen, size_t vmax)
{
	/* keys: the program's own names, plain (checked in debug builds) */
	assert(!key || (json_plain_text(key, klen) && key[klen] == 0));
	if (j->overflow || 1 + klen + 3 + vmax > JSON_BUF_SIZE - j->len)
		return NULL;
	char *o = j->buf + j->len;
	bool *first = &j->first[j->depth];
	*o = ',';
	o += !*first; /* the comma stays only after another member */
	*first = false;
	if (key) {
		*o++ = '"';
		memcpy(o, key, klen);
		o += klen;
		*o++ = '"';
		*o++ = ':';
	}
	return o;
}

/* Copies n bytes from s to o (not overlapping). The values of json_own_n
 * are short (a timestamp is 31 bytes, an address at most 45, a name a few)
 * and their length is known only at run time, so memcpy was a libc call
 * each, a dozen per flow record. Inline: two moves of the same constant
 * size that between them cover [0, n) (they overlap in the middle when n
 * is below twice that size), reading and writing nothing outside it; 1
 * to 3 bytes (names: "TCP", "new", "syn") three single ones likewise. */
static inline void json__copy(char *o, const char *s, size_t n)
{
	if (n >= 16 && n <= 32) {
		memcpy(o, s, 16);
		memcpy(o + n - 16, s + n - 16, 16);
	} else if (n >= 8 && n < 16) {
		memcpy(o, s, 8);
		memcpy(o + n - 8, s + n - 8, 8);
	} else if (n >= 4 && n < 8) {
		memcpy(o, s, 4);
		memcpy(o + n - 4, s + n - 4, 4);
	} else if (n > 0 && n < 4) { /* first, middle and last byte: all of 1 to 3 */
		o[0] = s[0];
		o[n / 2] = s[n / 2];
		o[n - 1] = s[n - 1];
	} else if (n > 32) {
		memcpy(o, s, n);
	}
}

/* "key":{ (key NULL inside arrays) */
static inline void json_obj(struct json *j, const char *key) { json_obj_k(j, key, JSON_KLEN(key)); }
/* "key":[ */
static inline void json_arr(struct json *j, const char *key) { json_arr_k(j, key, JSON_KLEN(key)); }
static inline void json_str(struct json *j, const char *key, const char *s)
{
	json_strn_k(j, key, JSON_KLEN(key), (const uint8_t *)s, strlen(s));
}
/* A string of the program's own making (a timestamp, an address, a name
 * from its tables; never bytes from the wire): printable ASCII without a
 * quote or backslash, written without escaping. json_own_n takes its
 * length (a timestamp, an address: known to their writer). */
static inline void json_own_n(struct json *j, const char *key, const char *s, size_t n)
{
	size_t klen = JSON_KLEN(key);
	assert(json_plain_text(s, n) && s[n] == 0);
	char *o = json__member_fast(j, key, klen, n + 2);
	if (!o) {
		json_own_k(j, key, klen, s, n);
		return;
	}
	*o++ = '"';
	json__copy(o, s, n);
	o += n;
	*o++ = '"';
	j->len = (size_t)(o - j->buf);
}
static inline void json_own(struct json *j, const char *key, const char *s)
{
	json_own_n(j, key, s, strlen(s));
}
static inline void json_strn(struct json *j, const char *key, const uint8_t *s, size_t n)
{
	json_strn_k(j, key, JSON_KLEN(key), s, n);
}
static inline void json_u64(struct json *j, const char *key, uint64_t v)
{
	size_t klen = JSON_KLEN(key);
	char *o = json__member_fast(j, key, klen, 20);
	if (!o) {
		json_u64_k(j, key, klen, v);
		return;
	}
	j->len = (size_t)(o + json_fmt_u64(o, v) - j->buf);
}
static inline void json_i64(struct json *j, const char *key, int64_t v)
{
	json_i64_k(j, key, JSON_KLEN(key), v);
}
static inline void json_double(struct json *j, const char *key, double v, int decimals)
{
	json_double_k(j, key, JSON_KLEN(key), v, decimals);
}
static inline void json_bool(struct json *j, const char *key, bool v)
{
	size_t klen = JSON_KLEN(key);
	char *o = json__member_fast(j, key, klen, 5);
	if (!o) {
		json_bool_k(j, key, klen, v);
		return;
	}
	if (v) {
		memcpy(o, "true", 4);
		o += 4;
	} else {
		memcpy(o, "false", 5);
		o += 5;
	}
	j->len = (size_t)(o - j->buf);
}

/*
 * Direct writing, for the records written once per flow (the flow record
 * and the header it shares with alerts, report.c): the caller writes the
 * record's text itself, fixed runs and values, with no room check per
 * member. It may do so only for text whose length has a bound known at
 * build time that, added to what the record already holds, fits the
 * buffer (report.c states its bounds and asserts them).
 *
 * json_raw_begin starts a record (as json_begin, without the "{", which
 * the caller writes) and returns where its first byte goes.
 * json_raw_at returns where the next byte goes after member writers,
 * the caller having checked there is room (json_raw_room).
 * json_raw_end hands the record back to the member writers: o is where
 * the text ends and depth how many objects the text left open, each of
 * which (and the record itself) holds at least one member, so the next
 * member at any of these depths takes a comma.
 */
static inline char *json_raw_begin(struct json *j)
{
	/* out_len < JSON_OUT_SIZE (json_emit): a whole record's room is left */
	assert(j->out && j->out_len < JSON_OUT_SIZE);
	j->buf = j->out + j->out_len;
	j->len = 0;
	j->depth = 0;
	j->overflow = false;
	return j->buf;
}
static inline size_t json_raw_room(const struct json *j)
{
	return j->overflow ? 0 : JSON_BUF_SIZE - j->len;
}
static inline char *json_raw_at(struct json *j) { return j->buf + j->len; }
static inline void json_raw_end(struct json *j, char *o, int depth)
{
	assert(o >= j->buf && o <= j->buf + JSON_BUF_SIZE);
	assert(depth >= 0 && depth < JSON_MAX_DEPTH);
	j->len = (size_t)(o - j->buf);
	j->depth = depth;
	for (int d = 0; d <= depth; d++)
		j->first[d] = false;
}

/* The decimal digits of v at o; returns the end. Inline for the small
 * counts that most members of a flow record hold (0, 1, a packet's
 * length): one or two stores, no call. */
static inline char *json_put_u64(char *o, uint64_t v)
{
	if (v < 10) {
		*o = (char)('0' + v);
		return o + 1;
	}
	return o + json_fmt_u64(o, v);
}

/* Closes the record with a newline and keeps it; writes the records kept
 * to f once they fill JSON_OUT_SIZE. Returns 0, -1 when the record
 * overflowed its JSON_BUF_SIZE (it is dropped, the others kept), -2 on a
 * write error. */
int json_emit(struct json *j, FILE *f);
/* Writes the records kept to f (0, or -2 on a write error; they are let
 * go either way). */
int json_flush(struct json *j, FILE *f);

/* Formats a capture timestamp as Suricata does: 2024-05-01T10:12:34.123456+0000
 * (NUL-terminated); returns its length. */
size_t json_format_ts(uint64_t ts_us, char out[40]);

#endif
