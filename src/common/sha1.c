/*
 * sha1.c - SHA-1 written from FIPS 180-4 sections 5.1.1 (padding), 6.1.2
 * (hash computation) and 4.1.1 (functions), 4.2.1 (constants).
 */
#include "common/sha1.h"

#include <string.h>

static uint32_t rotl(uint32_t x, unsigned n) { return x << n | x >> (32 - n); }

static uint32_t be32_at(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static void compress(uint32_t h[5], const uint8_t m[64])
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

void sha1_digest(const uint8_t *data, size_t n, uint8_t out[20])
{
	uint32_t h[5] = {0x67452301u, 0xefcdab89u, 0x98badcfeu, 0x10325476u, 0xc3d2e1f0u};
	size_t whole = n - n % 64;
	for (size_t i = 0; i < whole; i += 64)
		compress(h, data + i);
	/* The tail, the 1 bit, zeros, and the length in bits (64-bit big
	 * endian): one or two more blocks. */
	uint8_t last[128];
	size_t rest = n - whole;
	memset(last, 0, sizeof last);
	if (rest)
		memcpy(last, data + whole, rest);
	last[rest] = 0x80;
	size_t blocks = rest < 56 ? 1 : 2;
	uint64_t bits = (uint64_t)n * 8;
	for (unsigned i = 0; i < 8; i++)
		last[blocks * 64 - 1 - i] = (uint8_t)(bits >> (8 * i));
	for (size_t b = 0; b < blocks; b++)
		compress(h, last + 64 * b);
	for (unsigned i = 0; i < 5; i++) {
		out[4 * i] = (uint8_t)(h[i] >> 24);
		out[4 * i + 1] = (uint8_t)(h[i] >> 16);
		out[4 * i + 2] = (uint8_t)(h[i] >> 8);
		out[4 * i + 3] = (uint8_t)h[i];
	}
}
