/*
 * hpack.c - see hpack.h. Written from RFC 7541 (HPACK).
 *
 * Header block representations (section 6), first byte:
 *
 *   1xxxxxxx  indexed field, index on 7 bits (6.1)
 *   01xxxxxx  literal with incremental indexing, name index on 6 bits,
 *             0 = literal name follows (6.2.1)
 *   001xxxxx  dynamic table size update, size on 5 bits (6.3)
 *   0001xxxx  literal never indexed, name index on 4 bits (6.2.3)
 *   0000xxxx  literal without indexing, name index on 4 bits (6.2.2)
 *
 * Integers (5.1): an N-bit prefix; when all ones, 7-bit groups follow, least
 * significant first, the high bit set on all but the last. Strings (5.2):
 * H bit (Huffman) and a 7-bit-prefix length, then the octets.
 *
 * Huffman (Appendix B): the code is canonical (within one length the codes
 * follow the symbol order; the first code of a length continues the last of
 * the shorter one, shifted), so the table below keeps only each symbol's
 * code length, as Appendix B lists it; codes are counted from them.
 */
#include "identify/hpack.h"

#include <string.h>

#include "common/reader.h"

/* ---- Huffman ------------------------------------------------------------ */

#define HUFF_SYMBOLS 257 /* 256 octets and EOS */
#define HUFF_EOS 256
#define HUFF_MAXLEN 30

/* RFC 7541 Appendix B, "len in bits", symbols 0 to 256 (EOS). */
static const uint8_t huff_len[HUFF_SYMBOLS] = {
    /*   0 */ 13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28,
    /*  16 */ 28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
    /*  32 */ 6,  10, 10, 12, 13, 6,  8,  11, 10, 10, 8,  11, 8,  6,  6,  6,
    /*  48 */ 5,  5,  5,  6,  6,  6,  6,  6,  6,  6,  7,  8,  15, 6,  12, 10,
    /*  64 */ 13, 6,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,
    /*  80 */ 7,  7,  7,  7,  7,  7,  7,  7,  8,  7,  8,  13, 19, 13, 14, 6,
    /*  96 */ 15, 5,  6,  5,  6,  5,  6,  6,  6,  5,  7,  7,  6,  6,  6,  5,
    /* 112 */ 6,  7,  6,  5,  5,  6,  7,  7,  7,  7,  7,  15, 11, 14, 13, 28,
    /* 128 */ 20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23,
    /* 144 */ 24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
    /* 160 */ 22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23,
    /* 176 */ 21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
    /* 192 */ 26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25,
    /* 208 */ 19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
    /* 224 */ 20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23,
    /* 240 */ 26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
    /* 256 */ 30,
};

/* Canonical decoding tables, counted from huff_len once. For each length
 * L: how many codes have it, the first code of that length, and where its
 * symbols start in `sorted` (the symbols ordered by length, then value). */
static struct {
	bool ready;
	uint16_t count[HUFF_MAXLEN + 1];
	uint32_t first[HUFF_MAXLEN + 1];
	uint16_t start[HUFF_MAXLEN + 1];
	uint16_t sorted[HUFF_SYMBOLS];
} huff;

static void huff_init(void)
{
	if (huff.ready)
		return;
	memset(&huff, 0, sizeof huff);
	for (unsigned s = 0; s < HUFF_SYMBOLS; s++)
		huff.count[huff_len[s]]++;
	uint32_t code = 0;
	uint16_t at = 0;
	for (unsigned l = 1; l <= HUFF_MAXLEN; l++) {
		code = (code + huff.count[l - 1]) << 1; /* count[0] is 0 */
		huff.first[l] = code;
		huff.start[l] = at;
		for (unsigned s = 0; s < HUFF_SYMBOLS; s++)
			if (huff_len[s] == l)
				huff.sorted[at++] = (uint16_t)s;
	}
	huff.ready = true;
}

bool hpack_huffman(const uint8_t *p, size_t len, uint8_t *out, size_t cap, size_t *outlen,
                   bool *cut)
{
	struct reader r;
	rd_init(&r, p, len);
	huff_init();
	*outlen = 0;
	*cut = false;
	uint32_t code = 0;
	unsigned bits = 0; /* bits in the code read so far */
	bool ones = true;  /* those bits are all ones (a prefix of EOS) */
	while (rd_remaining(&r) > 0) {
		uint8_t byte = rd_u8(&r);
		for (int i = 7; i >= 0; i--) {
			unsigned bit = (byte >> i) & 1u;
			code = code << 1 | bit;
			bits++;
			ones = ones && bit;
			if (bits > HUFF_MAXLEN)
				return false;
			if (code - huff.first[bits] < huff.count[bits]) {
				unsigned sym = huff.sorted[huff.start[bits] + (code - huff.first[bits])];
				if (sym == HUFF_EOS)
					return false; /* 5.2: EOS in a string is an error */
				if (*outlen < cap)
					out[(*outlen)++] = (uint8_t)sym;
				else
					*cut = true;
				code = 0;
				bits = 0;
				ones = true;
			}
		}
	}
	/* 5.2: padding is the most significant bits of EOS (all ones), and
	 * strictly shorter than 8 bits. */
	return bits < 8 && ones;
}

/* ---- static table (Appendix A) ------------------------------------------ */

static const char *const static_table[][2] = {
    {":authority", ""},
    {":method", "GET"},
    {":method", "POST"},
    {":path", "/"},
    {":path", "/index.html"},
    {":scheme", "http"},
    {":scheme", "https"},
    {":status", "200"},
    {":status", "204"},
    {":status", "206"},
    {":status", "304"},
    {":status", "400"},
    {":status", "404"},
    {":status", "500"},
    {"accept-charset", ""},
    {"accept-encoding", "gzip, deflate"},
    {"accept-language", ""},
    {"accept-ranges", ""},
    {"accept", ""},
    {"access-control-allow-origin", ""},
    {"age", ""},
    {"allow", ""},
    {"authorization", ""},
    {"cache-control", ""},
    {"content-disposition", ""},
    {"content-encoding", ""},
    {"content-language", ""},
    {"content-length", ""},
    {"content-location", ""},
    {"content-range", ""},
    {"content-type", ""},
    {"cookie", ""},
    {"date", ""},
    {"etag", ""},
    {"expect", ""},
    {"expires", ""},
    {"from", ""},
    {"host", ""},
    {"if-match", ""},
    {"if-modified-since", ""},
    {"if-none-match", ""},
    {"if-range", ""},
    {"if-unmodified-since", ""},
    {"last-modified", ""},
    {"link", ""},
    {"location", ""},
    {"max-forwards", ""},
    {"proxy-authenticate", ""},
    {"proxy-authorization", ""},
    {"range", ""},
    {"referer", ""},
    {"refresh", ""},
    {"retry-after", ""},
    {"server", ""},
    {"set-cookie", ""},
    {"strict-transport-security", ""},
    {"transfer-encoding", ""},
    {"user-agent", ""},
    {"vary", ""},
    {"via", ""},
    {"www-authenticate", ""},
};
#define STATIC_ENTRIES (sizeof static_table / sizeof static_table[0]) /* 61 */

/* ---- block -------------------------------------------------------------- */

/* Integers larger than this are not in any header block worth decoding
 * (and keep the arithmetic far from overflow). */
#define HPACK_INT_MAX (1u << 24)

enum rstate { R_OK, R_CUT, R_BAD };

/* 5.1: an integer with an N-bit prefix; the first byte's other bits were
 * already looked at by the caller (it is consumed here). */
static enum rstate read_int(struct reader *r, unsigned nbits, uint32_t *v)
{
	if (!rd_has(r, 1))
		return R_CUT;
	uint32_t max = (1u << nbits) - 1;
	uint32_t x = rd_u8(r) & max;
	if (x < max) {
		*v = x;
		return R_OK;
	}
	for (unsigned shift = 0;; shift += 7) {
		if (!rd_has(r, 1))
			return R_CUT;
		uint8_t b = rd_u8(r);
		if (shift > 21)
			return R_BAD;
		x += (uint32_t)(b & 0x7f) << shift;
		if (x > HPACK_INT_MAX)
			return R_BAD;
		if (!(b & 0x80))
			break;
	}
	*v = x;
	return R_OK;
}

/* 5.2: a string literal into out (cap bytes), *cut when longer. */
static enum rstate read_string(struct reader *r, uint8_t *out, size_t cap, size_t *n, bool *cut)
{
	uint8_t first;
	if (!rd_peek_u8(r, 0, &first))
		return R_CUT;
	bool huffman = first & 0x80;
	uint32_t len;
	enum rstate s = read_int(r, 7, &len);
	if (s != R_OK)
		return s;
	if (!rd_has(r, len))
		return R_CUT;
	if (huffman)
		return hpack_huffman(rd_bytes(r, len), len, out, cap, n, cut) ? R_OK : R_BAD;
	struct reader b = rd_sub(r, len);
	*cut = len > cap;
	*n = len > cap ? cap : len;
	rd_copy(&b, out, *n);
	return R_OK;
}

static void set_static(struct hpack_field *f, uint32_t index, bool with_value)
{
	const char *name = static_table[index - 1][0];
	const char *value = static_table[index - 1][1];
	f->name_len = strlen(name);
	memcpy(f->name, name, f->name_len);
	if (with_value) {
		f->value_len = strlen(value);
		memcpy(f->value, value, f->value_len);
	}
}

enum hpack_status hpack_decode(const uint8_t *p, size_t len, bool complete, hpack_visit visit,
                               void *ctx)
{
	struct reader r;
	rd_init(&r, p, len);
	uint32_t inserted = 0; /* dynamic table entries this block added */
	bool any_field = false;
	struct hpack_field f;
	while (rd_remaining(&r) > 0) {
		uint8_t b;
		rd_peek_u8(&r, 0, &b);
		memset(&f, 0, sizeof f);
		enum rstate s;
		uint32_t index;
		if (b & 0x80) { /* 6.1 indexed field */
			s = read_int(&r, 7, &index);
			if (s == R_OK && index == 0)
				return HPACK_BAD;
			if (s == R_OK && index > STATIC_ENTRIES + inserted)
				return HPACK_BAD;
			if (s == R_OK) {
				if (index <= STATIC_ENTRIES)
					set_static(&f, index, true);
				else
					f.dynamic = true;
			}
		} else if ((b & 0xe0) == 0x20) { /* 6.3 size update */
			uint32_t size;
			s = read_int(&r, 5, &size);
			/* 4.2: only at the start of a block. */
			if (s == R_OK && any_field)
				return HPACK_BAD;
			if (s == R_OK)
				continue;
		} else { /* 6.2 literals */
			bool incremental = (b & 0xc0) == 0x40;
			s = read_int(&r, incremental ? 6 : 4, &index);
			if (s == R_OK && index > STATIC_ENTRIES + inserted)
				return HPACK_BAD;
			if (s == R_OK && index == 0)
				s = read_string(&r, f.name, sizeof f.name, &f.name_len, &f.name_cut);
			else if (s == R_OK && index <= STATIC_ENTRIES)
				set_static(&f, index, false);
			else if (s == R_OK)
				f.dynamic = true;
			if (s == R_OK)
				s = read_string(&r, f.value, sizeof f.value, &f.value_len, &f.value_cut);
			if (s == R_OK && incremental)
				inserted++;
		}
		if (s == R_BAD)
			return HPACK_BAD;
		if (s == R_CUT)
			return complete ? HPACK_BAD : HPACK_CUT;
		any_field = true;
		visit(ctx, &f);
	}
	return HPACK_OK;
}
