/*
 * community_id.c - see community_id.h. SHA-1 (common/sha1.c) is used for
 * the published output format, not for security.
 */
#include "output/community_id.h"

#include <stdbool.h>
#include <string.h>

#include "common/sha1.h"

static uint64_t be64_at(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof v);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	return v;
}

/* memcmp's order of two addresses (16 bytes, or 4 for IPv4), compared as
 * big-endian integers: no library call, one per flow record. */
static int addr_cmp(const uint8_t *a, const uint8_t *b, bool v6)
{
	uint64_t x = v6 ? be64_at(a) : (uint64_t)a[0] << 24 | a[1] << 16 | a[2] << 8 | a[3];
	uint64_t y = v6 ? be64_at(b) : (uint64_t)b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3];
	if (x == y && v6) {
		x = be64_at(a + 8);
		y = be64_at(b + 8);
	}
	return (x > y) - (x < y);
}

void community_id_hash(uint16_t seed, uint8_t ipver, uint8_t proto, const uint8_t src[16],
                       uint16_t sport, const uint8_t dst[16], uint16_t dport, uint8_t digest[20])
{
	size_t alen = ipver == 6 ? 16 : 4;
	int c = addr_cmp(src, dst, ipver == 6);
	if (c > 0 || (c == 0 && sport > dport)) { /* the smaller endpoint first */
		const uint8_t *t = src;
		src = dst;
		dst = t;
		uint16_t tp = sport;
		sport = dport;
		dport = tp;
	}
	/* The message is hashed where it is built: a zeroed block, which
	 * sha1_digest_block pads in place (at most 40 bytes, one block). */
	uint8_t buf[64] = {0};
	size_t n = 0;
	buf[n++] = (uint8_t)(seed >> 8);
	buf[n++] = (uint8_t)seed;
	/* copies of a constant size: a few moves, not library calls */
	if (ipver == 6) {
		memcpy(buf + n, src, 16);
		memcpy(buf + n + 16, dst, 16);
	} else {
		memcpy(buf + n, src, 4);
		memcpy(buf + n + 4, dst, 4);
	}
	n += 2 * alen;
	buf[n++] = proto;
	buf[n++] = 0;
	buf[n++] = (uint8_t)(sport >> 8);
	buf[n++] = (uint8_t)sport;
	buf[n++] = (uint8_t)(dport >> 8);
	buf[n++] = (uint8_t)dport;
	sha1_digest_block(buf, n, digest);
}

void community_id_text(const uint8_t d[20], char *out)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	/* base64 (RFC 4648 section 4): six groups of three bytes, four
	 * characters each, then the last two bytes as three characters and
	 * one '=' */
	char *o = out;
	*o++ = '1';
	*o++ = ':';
	for (int i = 0; i < 18; i += 3) {
		uint32_t v = (uint32_t)d[i] << 16 | (uint32_t)d[i + 1] << 8 | d[i + 2];
		o[0] = b64[v >> 18];
		o[1] = b64[v >> 12 & 63];
		o[2] = b64[v >> 6 & 63];
		o[3] = b64[v & 63];
		o += 4;
	}
	uint32_t v = (uint32_t)d[18] << 16 | (uint32_t)d[19] << 8;
	o[0] = b64[v >> 18];
	o[1] = b64[v >> 12 & 63];
	o[2] = b64[v >> 6 & 63];
	o[3] = '=';
}

void community_id_v1(uint16_t seed, uint8_t ipver, uint8_t proto, const uint8_t src[16],
                     uint16_t sport, const uint8_t dst[16], uint16_t dport, char out[32])
{
	uint8_t d[20];
	community_id_hash(seed, ipver, proto, src, sport, dst, dport, d);
	community_id_text(d, out);
	out[COMMUNITY_ID_LEN] = 0;
}
