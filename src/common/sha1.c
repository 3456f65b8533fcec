/*
 * sha1.c - SHA-1 written from FIPS 180-4 sections 5.1.1 (padding), 6.1.2
 * (hash computation) and 4.1.1 (functions), 4.2.1 (constants).
 *
 * Every flow record carries a Community ID, one SHA-1 each: on x86 CPUs
 * with the SHA extensions (SHA1RNDS4 and friends, Intel SDM vol. 2) the
 * block function runs on them, about six times fewer instructions; the
 * portable one is used elsewhere and is what the tests compare it with.
 */
#include "common/sha1.h"

#include <assert.h>
#include <stdbool.h>
#include <string.h>

#include "common/cpu.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define SHA1_HAVE_SHANI 1
#endif

static uint32_t rotl(uint32_t x, unsigned n) { return x << n | x >> (32 - n); }

static uint32_t be32_at(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static void compress_one(uint32_t h[5], const uint8_t m[64])
{
	uint32_t w[80];
	for (unsigned t = 0; t < 16; t++)
		w[t] = be32_at(m + 4 * t);
	for (unsigned t = 16; t < 80; t++)
		w[t] = rotl(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1);
	uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
	/* One loop per function and constant (4.1.1, 4.2.1): no branch per
	 * round, so the compiler unrolls them. */
#define SHA1_ROUND(f, k)                                       \
	do {                                                       \
		uint32_t tmp = rotl(a, 5) + (f) + e + (k) + w[t];      \
		e = d;                                                 \
		d = c;                                                 \
		c = rotl(b, 30);                                       \
		b = a;                                                 \
		a = tmp;                                               \
	} while (0)
	unsigned t = 0;
	for (; t < 20; t++)
		SHA1_ROUND((b & c) ^ (~b & d), 0x5a827999u); /* Ch */
	for (; t < 40; t++)
		SHA1_ROUND(b ^ c ^ d, 0x6ed9eba1u); /* Parity */
	for (; t < 60; t++)
		SHA1_ROUND((b & c) ^ (b & d) ^ (c & d), 0x8f1bbcdcu); /* Maj */
	for (; t < 80; t++)
		SHA1_ROUND(b ^ c ^ d, 0xca62c1d6u); /* Parity */
#undef SHA1_ROUND
	h[0] += a;
	h[1] += b;
	h[2] += c;
	h[3] += d;
	h[4] += e;
}

static void compress_generic(uint32_t h[5], const uint8_t *m, size_t blocks)
{
	for (size_t b = 0; b < blocks; b++)
		compress_one(h, m + 64 * b);
}

#ifdef SHA1_HAVE_SHANI
/* Four rounds per SHA1RNDS4 (its immediate picks the round function and
 * constant of rounds 0-19, 20-39, 40-59, 60-79). A, B, C, D sit in lanes
 * 3..0 of one register, E (added to the first message word of a group) in
 * lane 3 of another; SHA1NEXTE derives the next group's E from the A of
 * four rounds before. The message schedule W[t] = rotl(W[t-3] ^ W[t-8] ^
 * W[t-14] ^ W[t-16], 1) is SHA1MSG1, a XOR and SHA1MSG2 per four words. */
__attribute__((target("sha,ssse3,sse4.1"))) static void compress_shani(uint32_t h[5],
                                                                       const uint8_t *m,
                                                                       size_t blocks)
{
	const __m128i bswap = _mm_set_epi64x(0x0001020304050607LL, 0x08090a0b0c0d0e0fLL);
	__m128i abcd = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)(const void *)h), 0x1b);
	__m128i e = _mm_set_epi32((int)h[4], 0, 0, 0);
	for (; blocks > 0; blocks--, m += 64) {
		__m128i w[20];
		for (int k = 0; k < 4; k++)
			w[k] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(const void *)(m + 16 * k)),
			                        bswap);
		for (int k = 4; k < 20; k++)
			w[k] = _mm_sha1msg2_epu32(
			    _mm_xor_si128(_mm_sha1msg1_epu32(w[k - 4], w[k - 3]), w[k - 2]), w[k - 1]);
		__m128i abcd_in = abcd, e_in = e;
		__m128i prev = abcd; /* the state entering the last group */
		abcd = _mm_sha1rnds4_epu32(abcd, _mm_add_epi32(e, w[0]), 0);
#define SHA1_GROUP(k, f)                                        \
	do {                                                        \
		__m128i x = _mm_sha1nexte_epu32(prev, w[k]);            \
		prev = abcd;                                            \
		abcd = _mm_sha1rnds4_epu32(abcd, x, f);                 \
	} while (0)
		SHA1_GROUP(1, 0);
		SHA1_GROUP(2, 0);
		SHA1_GROUP(3, 0);
		SHA1_GROUP(4, 0);
		SHA1_GROUP(5, 1);
		SHA1_GROUP(6, 1);
		SHA1_GROUP(7, 1);
		SHA1_GROUP(8, 1);
		SHA1_GROUP(9, 1);
		SHA1_GROUP(10, 2);
		SHA1_GROUP(11, 2);
		SHA1_GROUP(12, 2);
		SHA1_GROUP(13, 2);
		SHA1_GROUP(14, 2);
		SHA1_GROUP(15, 3);
		SHA1_GROUP(16, 3);
		SHA1_GROUP(17, 3);
		SHA1_GROUP(18, 3);
		SHA1_GROUP(19, 3);
#undef SHA1_GROUP
		e = _mm_sha1nexte_epu32(prev, e_in);
		abcd = _mm_add_epi32(abcd, abcd_in);
	}
	_mm_storeu_si128((__m128i *)(void *)h, _mm_shuffle_epi32(abcd, 0x1b));
	h[4] = (uint32_t)_mm_extract_epi32(e, 3);
}

#endif

static void compress(uint32_t h[5], const uint8_t *m, size_t blocks, bool generic)
{
#ifdef SHA1_HAVE_SHANI
	if (!generic && cpu_has_sha()) {
		compress_shani(h, m, blocks);
		return;
	}
#endif
	(void)generic;
	compress_generic(h, m, blocks);
}

static void digest(const uint8_t *data, size_t n, uint8_t out[20], bool generic);

void sha1_digest(const uint8_t *data, size_t n, uint8_t out[20])
{
	digest(data, n, out, false);
}

void sha1_digest_generic(const uint8_t *data, size_t n, uint8_t out[20])
{
	digest(data, n, out, true);
}

bool sha1_accelerated(void)
{
#ifdef SHA1_HAVE_SHANI
	return cpu_has_sha();
#else
	return false;
#endif
}

static void digest(const uint8_t *data, size_t n, uint8_t out[20], bool generic)
{
	uint32_t h[5] = {0x67452301u, 0xefcdab89u, 0x98badcfeu, 0x10325476u, 0xc3d2e1f0u};
	size_t whole = n - n % 64;
	compress(h, data, whole / 64, generic);
	/* The tail, the 1 bit, zeros, and the length in bits (64-bit big
	 * endian): one or two more blocks. */
	uint8_t last[128];
	size_t rest = n - whole;
	size_t blocks = rest < 56 ? 1 : 2;
	/* Only the blocks used cleared, each size a constant (a few vector
	 * stores): a Community ID per flow record is one block, and clearing
	 * 128 bytes took a rep stos, slow to start, on every record. */
	if (blocks == 1)
		memset(last, 0, 64);
	else
		memset(last, 0, 128);
	if (rest)
		memcpy(last, data + whole, rest);
	last[rest] = 0x80;
	uint64_t bits = (uint64_t)n * 8;
	for (unsigned i = 0; i < 8; i++)
		last[blocks * 64 - 1 - i] = (uint8_t)(bits >> (8 * i));
	compress(h, last, blocks, generic);
	for (unsigned i = 0; i < 5; i++) {
		out[4 * i] = (uint8_t)(h[i] >> 24);
		out[4 * i + 1] = (uint8_t)(h[i] >> 16);
		out[4 * i + 2] = (uint8_t)(h[i] >> 8);
		out[4 * i + 3] = (uint8_t)h[i];
	}
}

void sha1_digest_block(uint8_t block[64], size_t n, uint8_t out[20])
{
	/* FIPS 180-4 5.1.1 for a message of one block: its 1 bit right after
	 * it, zeros (which the caller's block already holds), and the length
	 * in bits as a 64-bit big-endian number in the last 8 bytes, of which
	 * only the last two can be nonzero (n * 8 <= 440). */
	assert(n <= 55);
	uint32_t h[5] = {0x67452301u, 0xefcdab89u, 0x98badcfeu, 0x10325476u, 0xc3d2e1f0u};
	block[n] = 0x80;
	block[62] = (uint8_t)(n * 8 >> 8);
	block[63] = (uint8_t)(n * 8);
	compress(h, block, 1, false);
	for (unsigned i = 0; i < 5; i++) {
		out[4 * i] = (uint8_t)(h[i] >> 24);
		out[4 * i + 1] = (uint8_t)(h[i] >> 16);
		out[4 * i + 2] = (uint8_t)(h[i] >> 8);
		out[4 * i + 3] = (uint8_t)h[i];
	}
}
