/*
 * check.h - a minimal unit-test harness. Each test program calls CHECK*()
 * and returns check_done(), which prints the plain summary line
 * "N passed, N failed" and exits non-zero on any failure.
 */
#ifndef OFFPORT_TESTS_CHECK_H
#define OFFPORT_TESTS_CHECK_H

#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static unsigned check_passed_, check_failed_;

#define CHECK(cond)                                                                              \
	do {                                                                                         \
		if (cond) {                                                                              \
			check_passed_++;                                                                     \
		} else {                                                                                 \
			check_failed_++;                                                                     \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);             \
		}                                                                                        \
	} while (0)

#define CHECK_EQ_U(a, b)                                                                         \
	do {                                                                                         \
		uint64_t ca_ = (uint64_t)(a), cb_ = (uint64_t)(b);                                       \
		if (ca_ == cb_) {                                                                        \
			check_passed_++;                                                                     \
		} else {                                                                                 \
			check_failed_++;                                                                     \
			fprintf(stderr, "%s:%d: check failed: %s == %s (%" PRIu64 " != %" PRIu64 ")\n",     \
			        __FILE__, __LINE__, #a, #b, ca_, cb_);                                       \
		}                                                                                        \
	} while (0)

#define CHECK_MEM(a, b, n) CHECK(memcmp((a), (b), (n)) == 0)

/* xorshift64: pseudo-random test data, the same on every run. */
static inline uint64_t check_rand(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* The number of messages two implementations of one digest disagree on:
 * pseudo-random messages of every length from 0 to 300 bytes (one to six
 * 64-byte blocks, every padding case), 20 rounds. */
static inline unsigned check_digests_differ(void (*a)(const uint8_t *, size_t, uint8_t *),
                                            void (*b)(const uint8_t *, size_t, uint8_t *),
                                            size_t digest_len, uint64_t seed)
{
	uint8_t msg[300], da[64], db[64];
	unsigned differ = 0;
	for (unsigned round = 0; round < 20; round++) {
		for (size_t i = 0; i < sizeof msg; i++)
			msg[i] = (uint8_t)(check_rand(&seed) >> 56);
		for (size_t n = 0; n <= sizeof msg; n++) {
			a(msg, n, da);
			b(msg, n, db);
			differ += memcmp(da, db, digest_len) != 0;
		}
	}
	return differ;
}

/* Calls fn(path, ctx) for every capture file (.pcap, .pcapng, .cap) under
 * dir, down to four levels of subdirectories. A missing dir is no file. */
static inline void check_each_capture(const char *dir, void (*fn)(const char *path, void *ctx),
                                      void *ctx, int depth)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char path[4096];
		int n = snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		if (n < 0 || (size_t)n >= sizeof path)
			continue; /* too deep a path for a test capture */
		size_t k = strlen(e->d_name);
		if (e->d_type == DT_DIR) {
			if (depth < 4)
				check_each_capture(path, fn, ctx, depth + 1);
		} else if ((k > 5 && strcmp(e->d_name + k - 5, ".pcap") == 0) ||
		           (k > 7 && strcmp(e->d_name + k - 7, ".pcapng") == 0) ||
		           (k > 4 && strcmp(e->d_name + k - 4, ".cap") == 0)) {
			fn(path, ctx);
		}
	}
	closedir(d);
}

static inline int check_done(void)
{
	printf("%u passed, %u failed\n", check_passed_, check_failed_);
	return check_failed_ ? 1 : 0;
}

#endif
