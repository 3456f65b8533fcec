/*
 * community_id.c - see community_id.h. SHA-1 written from FIPS 180-4; it
 * is used for its published output format, not for security.
 */
#include "output/community_id.h"

#include <string.h>

static uint32_t rol(uint32_t x, int n) { return x << n | x >> (32 - n); }

static void sha1_block(uint32_t h[5], const uint8_t b[64])
{
	uint32_t w[80];
	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)b[4 * i] << 24 | (uint32_t)b[4 * i + 1] << 16 |
		       (uint32_t)b[4 * i + 2] << 8 | b[4 * i + 3];
	for (int i = 16; i < 80; i++)
		w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
	uint32_t a = h[0], bb = h[1], c = h[2], d = h[3], e = h[4];
	for (int i = 0; i < 80; i++) {
		uint32_t f, k;
		if (i < 20) {
			f = (bb & c) | (~bb & d);
			k = 0x5a827999u;
		} else if (i < 40) {
			f = bb ^ c ^ d;
			k = 0x6ed9eba1u;
		} else if (i < 60) {
			f = (bb & c) | (bb & d) | (c & d);
			k = 0x8f1bbcdcu;
		} else {
			f = bb ^ c ^ d;
			k = 0xca62c1d6u;
		}
		uint32_t t = rol(a, 5) + f + e + k + w[i];
		e = d;
		d = c;
		c = rol(bb, 30);
		bb = a;
		a = t;
	}
	h[0] += a;
	h[1] += bb;
	h[2] += c;
	h[3] += d;
	h[4] += e;
}

void sha1(const uint8_t *data, size_t n, uint8_t out[20])
{
	uint32_t h[5] = {0x67452301u, 0xefcdab89u, 0x98badcfeu, 0x10325476u, 0xc3d2e1f0u};
	uint8_t block[64];
	size_t full = n / 64 * 64;
	for (size_t i = 0; i < full; i += 64)
		sha1_block(h, data + i);
	size_t rest = n - full;
	memset(block, 0, sizeof block);
	if (rest)
		memcpy(block, data + full, rest);
	block[rest] = 0x80;
	if (rest >= 56) {
		sha1_block(h, block);
		memset(block, 0, sizeof block);
	}
	uint64_t bits = (uint64_t)n * 8;
	for (int i = 0; i < 8; i++)
		block[63 - i] = (uint8_t)(bits >> (8 * i));
	sha1_block(h, block);
	for (int i = 0; i < 5; i++) {
		out[4 * i] = (uint8_t)(h[i] >> 24);
		out[4 * i + 1] = (uint8_t)(h[i] >> 16);
		out[4 * i + 2] = (uint8_t)(h[i] >> 8);
		out[4 * i + 3] = (uint8_t)h[i];
	}
}

void community_id_v1(uint16_t seed, uint8_t ipver, uint8_t proto, const uint8_t src[16],
                     uint16_t sport, const uint8_t dst[16], uint16_t dport, char out[32])
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t alen = ipver == 6 ? 16 : 4;
	int c = memcmp(src, dst, alen);
	if (c > 0 || (c == 0 && sport > dport)) { /* the smaller endpoint first */
		const uint8_t *t = src;
		src = dst;
		dst = t;
		uint16_t tp = sport;
		sport = dport;
		dport = tp;
	}
	uint8_t buf[2 + 16 + 16 + 2 + 4];
	size_t n = 0;
	buf[n++] = (uint8_t)(seed >> 8);
	buf[n++] = (uint8_t)seed;
	memcpy(buf + n, src, alen);
	n += alen;
	memcpy(buf + n, dst, alen);
	n += alen;
	buf[n++] = proto;
	buf[n++] = 0;
	buf[n++] = (uint8_t)(sport >> 8);
	buf[n++] = (uint8_t)sport;
	buf[n++] = (uint8_t)(dport >> 8);
	buf[n++] = (uint8_t)dport;
	uint8_t d[20];
	sha1(buf, n, d);
	char *o = out;
	*o++ = '1';
	*o++ = ':';
	for (int i = 0; i < 21; i += 3) {
		uint32_t v = (uint32_t)d[i] << 16 | (uint32_t)(i + 1 < 20 ? d[i + 1] : 0) << 8 |
		             (i + 2 < 20 ? d[i + 2] : 0);
		*o++ = b64[v >> 18 & 63];
		*o++ = b64[v >> 12 & 63];
		*o++ = i + 1 < 20 ? b64[v >> 6 & 63] : '=';
		*o++ = i + 2 < 20 ? b64[v & 63] : '=';
	}
	*o = 0;
}
