/*
 * siphash.h - SipHash-1-3 (Aumasson and Bernstein, "SipHash: a fast
 * short-input PRF", 2012; one compression and three finalisation rounds)
 * over 64-bit words, for the hash tables that attacker-chosen keys fill
 * (flows, fragments): keyed with a per-run seed, the buckets a key lands
 * in cannot be predicted from the code, so no input can aim at one bucket.
 */
#ifndef OFFPORT_COMMON_SIPHASH_H
#define OFFPORT_COMMON_SIPHASH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/random.h>
#include <sys/types.h>
#include <time.h>

#define SIP_ROTL64(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

struct sip {
	uint64_t v0, v1, v2, v3;
};

static inline void sip_round(struct sip *s)
{
	s->v0 += s->v1;
	s->v1 = SIP_ROTL64(s->v1, 13);
	s->v1 ^= s->v0;
	s->v0 = SIP_ROTL64(s->v0, 32);
	s->v2 += s->v3;
	s->v3 = SIP_ROTL64(s->v3, 16);
	s->v3 ^= s->v2;
	s->v0 += s->v3;
	s->v3 = SIP_ROTL64(s->v3, 21);
	s->v3 ^= s->v0;
	s->v2 += s->v1;
	s->v1 = SIP_ROTL64(s->v1, 17);
	s->v1 ^= s->v2;
	s->v2 = SIP_ROTL64(s->v2, 32);
}

static inline uint64_t sip13(uint64_t k0, uint64_t k1, const uint64_t *w, size_t n)
{
	struct sip s = {
		k0 ^ 0x736f6d6570736575ULL,
		k1 ^ 0x646f72616e646f6dULL,
		k0 ^ 0x6c7967656e657261ULL,
		k1 ^ 0x7465646279746573ULL,
	};
	for (size_t i = 0; i < n; i++) {
		s.v3 ^= w[i];
		sip_round(&s);
		s.v0 ^= w[i];
	}
	uint64_t b = (uint64_t)(n * 8) << 56;
	s.v3 ^= b;
	sip_round(&s);
	s.v0 ^= b;
	s.v2 ^= 0xff;
	sip_round(&s);
	sip_round(&s);
	sip_round(&s);
	return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

/* splitmix64 step: derives a key's second word from a 64-bit seed. */
static inline uint64_t sip_mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* A non-zero seed that differs per run, for a table's key. */
static inline uint64_t sip_random_seed(void)
{
	uint64_t s = 0;
	if (getrandom(&s, sizeof s, GRND_NONBLOCK) == (ssize_t)sizeof s && s != 0)
		return s;
	/* No entropy yet (early boot) or no syscall: time and an address still
	 * make the seed differ per run, which is all a hash seed needs. */
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	s = sip_mix64((uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec);
	s ^= sip_mix64((uint64_t)(uintptr_t)&s);
	return s ? s : 1;
}

#endif
