/*
 * check.h - a minimal unit-test harness. Each test program calls CHECK*()
 * and returns check_done(), which prints the plain summary line
 * "N passed, N failed" and exits non-zero on any failure.
 */
#ifndef OFFPORT_TESTS_CHECK_H
#define OFFPORT_TESTS_CHECK_H

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

static inline int check_done(void)
{
	printf("%u passed, %u failed\n", check_passed_, check_failed_);
	return check_failed_ ? 1 : 0;
}

#endif
