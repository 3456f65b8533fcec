/*
 * reader.h - the one bounds-checked reader for untrusted bytes.
 *
 * Every byte of a packet, a payload or a capture-derived buffer is read
 * through a struct reader. A read past the end never touches memory: it
 * returns 0 (or NULL) and sets the sticky `err` flag, so a parser may read a
 * whole header and test `rd_ok()` once.
 *
 *   struct reader r;
 *   rd_init(&r, data, len);
 *   uint8_t  vihl = rd_u8(&r);
 *   uint16_t tot  = rd_be16(&r);
 *   if (!rd_ok(&r)) return DROP_IPV4_TRUNCATED;
 *
 * Everything here is static inline so the hot path pays no call.
 */
#ifndef OFFPORT_COMMON_READER_H
#define OFFPORT_COMMON_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct reader {
	const uint8_t *p; /* start of the readable window */
	size_t len;       /* bytes in the window */
	size_t off;       /* next byte to read, always <= len */
	bool err;         /* sticky: set by any read past the end */
};

static inline void rd_init(struct reader *r, const uint8_t *p, size_t len)
{
	r->p = p;
	r->len = p ? len : 0;
	r->off = 0;
	r->err = false;
}

static inline bool rd_ok(const struct reader *r) { return !r->err; }

static inline size_t rd_remaining(const struct reader *r) { return r->len - r->off; }

static inline size_t rd_offset(const struct reader *r) { return r->off; }

/* True when n more bytes can be read. Does not set err. */
static inline bool rd_has(const struct reader *r, size_t n) { return n <= r->len - r->off; }

static inline bool rd_need_(struct reader *r, size_t n)
{
	if (r->err || n > r->len - r->off) {
		r->err = true;
		return false;
	}
	return true;
}

static inline uint8_t rd_u8(struct reader *r)
{
	if (!rd_need_(r, 1))
		return 0;
	return r->p[r->off++];
}

static inline uint16_t rd_be16(struct reader *r)
{
	if (!rd_need_(r, 2))
		return 0;
	const uint8_t *b = r->p + r->off;
	r->off += 2;
	return (uint16_t)((unsigned)b[0] << 8 | b[1]);
}

static inline uint16_t rd_le16(struct reader *r)
{
	if (!rd_need_(r, 2))
		return 0;
	const uint8_t *b = r->p + r->off;
	r->off += 2;
	return (uint16_t)((unsigned)b[1] << 8 | b[0]);
}

static inline uint32_t rd_be24(struct reader *r)
{
	if (!rd_need_(r, 3))
		return 0;
	const uint8_t *b = r->p + r->off;
	r->off += 3;
	return (uint32_t)b[0] << 16 | (uint32_t)b[1] << 8 | b[2];
}

static inline uint32_t rd_be32(struct reader *r)
{
	if (!rd_need_(r, 4))
		return 0;
	const uint8_t *b = r->p + r->off;
	r->off += 4;
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static inline uint32_t rd_le32(struct reader *r)
{
	if (!rd_need_(r, 4))
		return 0;
	const uint8_t *b = r->p + r->off;
	r->off += 4;
	return (uint32_t)b[3] << 24 | (uint32_t)b[2] << 16 | (uint32_t)b[1] << 8 | b[0];
}

/* Returns a pointer to the next n bytes and consumes them, or NULL (err set). */
static inline const uint8_t *rd_bytes(struct reader *r, size_t n)
{
	if (!rd_need_(r, n))
		return NULL;
	const uint8_t *b = r->p + r->off;
	r->off += n;
	return b;
}

static inline void rd_skip(struct reader *r, size_t n) { (void)rd_bytes(r, n); }

/* Copies n bytes into dst; on overrun dst is zero-filled and err set. */
static inline void rd_copy(struct reader *r, void *dst, size_t n)
{
	const uint8_t *b = rd_bytes(r, n);
	uint8_t *d = dst;
	for (size_t i = 0; i < n; i++)
		d[i] = b ? b[i] : 0;
}

/* Byte at offset `at` from the current position without consuming; 0 and
 * false when absent (err is not set: peeking is a question, not a read). */
static inline bool rd_peek_u8(const struct reader *r, size_t at, uint8_t *out)
{
	if (at >= r->len - r->off) {
		*out = 0;
		return false;
	}
	*out = r->p[r->off + at];
	return true;
}

/* The rest of the window, consumed. Never NULL-dereferenced: len may be 0. */
static inline const uint8_t *rd_rest(struct reader *r, size_t *n)
{
	*n = r->len - r->off;
	const uint8_t *b = r->p + r->off;
	r->off = r->len;
	return b;
}

/* A sub-reader over the next n bytes (consumed from r). When fewer remain,
 * r's err is set and the sub-reader is empty with err set. */
static inline struct reader rd_sub(struct reader *r, size_t n)
{
	struct reader s;
	const uint8_t *b = rd_bytes(r, n);
	rd_init(&s, b, b ? n : 0);
	s.err = (b == NULL);
	return s;
}

/* Shrinks the window so that at most n bytes remain after the current
 * position (used when a header's length field says the payload ends before
 * the captured frame does, e.g. Ethernet padding). Never grows it. */
static inline void rd_limit(struct reader *r, size_t n)
{
	if (n < r->len - r->off)
		r->len = r->off + n;
}

/* ---- text helpers (protocol identification) ----------------------------- */

/* True when the unread bytes start with the string s (not consumed). */
static inline bool rd_starts(const struct reader *r, const char *s)
{
	size_t i = 0;
	for (; s[i]; i++)
		if (r->off + i >= r->len || r->p[r->off + i] != (uint8_t)s[i])
			return false;
	return true;
}

static inline uint8_t rd_lower_(uint8_t c) { return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c; }

/* As rd_starts, ignoring ASCII case. */
static inline bool rd_starts_ci(const struct reader *r, const char *s)
{
	size_t i = 0;
	for (; s[i]; i++)
		if (r->off + i >= r->len || rd_lower_(r->p[r->off + i]) != rd_lower_((uint8_t)s[i]))
			return false;
	return true;
}

/* Reads one line ending in LF (CR LF or bare LF) that starts within the
 * next `max` bytes: *line points at it and *n is its length without the line
 * end; the line and its end are consumed. False (nothing consumed, err not
 * set) when no LF occurs within max bytes or the window. */
static inline bool rd_line(struct reader *r, size_t max, const uint8_t **line, size_t *n)
{
	size_t avail = r->len - r->off;
	size_t lim = avail < max ? avail : max;
	const uint8_t *nl = lim ? memchr(r->p + r->off, '\n', lim) : NULL;
	if (!nl)
		return false;
	size_t i = (size_t)(nl - (r->p + r->off));
	*line = r->p + r->off;
	*n = (i > 0 && r->p[r->off + i - 1] == '\r') ? i - 1 : i;
	r->off += i + 1;
	return true;
}

/* True when the next n bytes exist and are printable ASCII or tab. */
static inline bool rd_printable(const struct reader *r, size_t n)
{
	if (n > r->len - r->off)
		return false;
	const uint8_t *p = r->p + r->off;
	size_t i = 0;
	/* Eight bytes at a time: a word is looked at byte by byte only when
	 * one of its bytes is below 0x20 (a tab, or not text), 0x7f, or has
	 * its top bit set (bit tricks on 64-bit words). */
	const uint64_t ones = 0x0101010101010101u, high = 0x8080808080808080u;
	for (; n - i >= 8; i += 8) {
		uint64_t x, d = 0;
		memcpy(&x, p + i, sizeof x);
		d = x ^ (ones * 0x7f);
		if (!((x & high) | ((x - ones * 0x20) & ~x & high) | ((d - ones) & ~d & high)))
			continue;
		for (size_t k = i; k < i + 8; k++)
			if ((p[k] < 0x20 && p[k] != '\t') || p[k] > 0x7e)
				return false;
	}
	for (; i < n; i++)
		if ((p[i] < 0x20 && p[i] != '\t') || p[i] > 0x7e)
			return false;
	return true;
}

/* n, less one when the n-th next byte is a CR: the text of a partial line
 * whose CR LF has come as far as its CR. A CR there is no verdict on the
 * line yet (identify.h: NO_MATCH is final). */
static inline size_t rd_partial_len(const struct reader *r, size_t n)
{
	return n > 0 && n <= r->len - r->off && r->p[r->off + n - 1] == '\r' ? n - 1 : n;
}

#endif
