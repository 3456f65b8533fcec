/*
 * sha256.c - SHA-256 as FIPS 180-4 defines it: sections 4.1.2 (functions),
 * 4.2.2 (constants), 5.1.1 (padding), 5.3.3 (initial hash value) and 6.2.2
 * (the computation), one 64-byte block at a time.
 *
 * Each TLS flow's JA4 fingerprint takes two digests: on x86 CPUs with the
 * SHA extensions (SHA256RNDS2, SHA256MSG1/2; Intel SDM vol. 2) the block
 * function runs on them; the portable one elsewhere, and in the tests that
 * compare the two.
 */
#include "common/sha256.h"

#include <stdbool.h>
#include <string.h>

#include "common/cpu.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define SHA256_HAVE_SHANI 1
#endif

/* 4.2.2: the first 32 bits of the fractional parts of the cube roots of
 * the first 64 primes. */
static const uint32_t K[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
	0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
	0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
	0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
	0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
	0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
	0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
	0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
	0xc67178f2,
};

static uint32_t rotr(uint32_t x, unsigned n) { return x >> n | x << (32 - n); }

static void block_generic(uint32_t h[8], const uint8_t *p)
{
	uint32_t w[64];
	for (int t = 0; t < 16; t++)
		w[t] = (uint32_t)p[4 * t] << 24 | (uint32_t)p[4 * t + 1] << 16 |
		       (uint32_t)p[4 * t + 2] << 8 | p[4 * t + 3];
	for (int t = 16; t < 64; t++) {
		uint32_t s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >> 3);
		uint32_t s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >> 10);
		w[t] = s1 + w[t - 7] + s0 + w[t - 16];
	}
	uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
	for (int t = 0; t < 64; t++) {
		uint32_t S1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25);
		uint32_t ch = (e & f) ^ (~e & g);
		uint32_t t1 = k + S1 + ch + K[t] + w[t];
		uint32_t S0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22);
		uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
		uint32_t t2 = S0 + maj;
		k = g;
		g = f;
		f = e;
		e = d + t1;
		d = c;
		c = b;
		b = a;
		a = t1 + t2;
	}
	h[0] += a;
	h[1] += b;
	h[2] += c;
	h[3] += d;
	h[4] += e;
	h[5] += f;
	h[6] += g;
	h[7] += k;
}

#ifdef SHA256_HAVE_SHANI
/* SHA256RNDS2 does two rounds on the state split as {A, B, E, F} and
 * {C, D, G, H} (lanes 3..0), with W[t] + K[t] of the two rounds in the low
 * lanes of its third operand; the result is the new ABEF, the old ABEF the
 * new CDGH, so the two registers alternate. The schedule W[t] = s1(W[t-2])
 * + W[t-7] + s0(W[t-15]) + W[t-16] is SHA256MSG1 (the s0 part), an add of
 * the W[t-7] words and SHA256MSG2 (the s1 part), four words at a time. */
__attribute__((target("sha,ssse3,sse4.1"))) static void block_shani(uint32_t h[8],
                                                                    const uint8_t *p)
{
	const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
	__m128i t = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)(const void *)h), 0xb1);
	__m128i cdgh = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)(const void *)(h + 4)),
	                                 0x1b);
	__m128i abef = _mm_alignr_epi8(t, cdgh, 8);
	cdgh = _mm_blend_epi16(cdgh, t, 0xf0);
	__m128i abef_in = abef, cdgh_in = cdgh;
	__m128i m[16];
	for (int g = 0; g < 4; g++)
		m[g] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(const void *)(p + 16 * g)),
		                        bswap);
	for (int g = 4; g < 16; g++)
		m[g] = _mm_sha256msg2_epu32(
		    _mm_add_epi32(_mm_sha256msg1_epu32(m[g - 4], m[g - 3]),
		                  _mm_alignr_epi8(m[g - 1], m[g - 2], 4)),
		    m[g - 1]);
	for (int g = 0; g < 16; g++) {
		__m128i wk = _mm_add_epi32(m[g], _mm_loadu_si128((const __m128i *)(const void *)&K[4 * g]));
		cdgh = _mm_sha256rnds2_epu32(cdgh, abef, wk);
		abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(wk, 0x0e));
	}
	abef = _mm_add_epi32(abef, abef_in);
	cdgh = _mm_add_epi32(cdgh, cdgh_in);
	t = _mm_shuffle_epi32(abef, 0x1b);
	cdgh = _mm_shuffle_epi32(cdgh, 0xb1);
	_mm_storeu_si128((__m128i *)(void *)h, _mm_blend_epi16(t, cdgh, 0xf0));
	_mm_storeu_si128((__m128i *)(void *)(h + 4), _mm_alignr_epi8(cdgh, t, 8));
}

#endif

static void block(uint32_t h[8], const uint8_t *p, bool generic)
{
#ifdef SHA256_HAVE_SHANI
	if (!generic && cpu_has_sha()) {
		block_shani(h, p);
		return;
	}
#endif
	(void)generic;
	block_generic(h, p);
}

static void digest(const uint8_t *data, size_t n, uint8_t out[32], bool generic);

void sha256_digest(const uint8_t *data, size_t n, uint8_t out[32])
{
	digest(data, n, out, false);
}

void sha256_digest_generic(const uint8_t *data, size_t n, uint8_t out[32])
{
	digest(data, n, out, true);
}

static void digest(const uint8_t *data, size_t n, uint8_t out[32], bool generic)
{
	/* 5.3.3 */
	uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
	                 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
	size_t full = n / 64;
	for (size_t i = 0; i < full; i++)
		block(h, data + 64 * i, generic);
	/* 5.1.1: the rest, a 1 bit, zeros, the length in bits (64-bit). */
	uint8_t tail[128];
	size_t rest = n - 64 * full;
	memset(tail, 0, sizeof tail);
	if (rest)
		memcpy(tail, data + 64 * full, rest);
	tail[rest] = 0x80;
	size_t tlen = rest + 1 + 8 <= 64 ? 64 : 128;
	uint64_t bits = (uint64_t)n * 8;
	for (int i = 0; i < 8; i++)
		tail[tlen - 1 - i] = (uint8_t)(bits >> (8 * i));
	block(h, tail, generic);
	if (tlen == 128)
		block(h, tail + 64, generic);
	for (int i = 0; i < 8; i++) {
		out[4 * i] = (uint8_t)(h[i] >> 24);
		out[4 * i + 1] = (uint8_t)(h[i] >> 16);
		out[4 * i + 2] = (uint8_t)(h[i] >> 8);
		out[4 * i + 3] = (uint8_t)h[i];
	}
}
