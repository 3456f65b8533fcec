/*
 * cpu.c - see cpu.h.
 */
#include "common/cpu.h"

#include <pthread.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static bool has_sha;
static pthread_once_t probe_once = PTHREAD_ONCE_INIT;

/* CPUID leaf 7 EBX bit 29: SHA; leaf 1 ECX bits 9 and 19: SSSE3, SSE4.1. */
static void probe(void)
{
	unsigned a, b, c, d;
	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 9)) || !(c & (1u << 19)))
		return;
	if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
		return;
	has_sha = (b >> 29) & 1;
}

bool cpu_has_sha(void)
{
	pthread_once(&probe_once, probe);
	return has_sha;
}
#else
bool cpu_has_sha(void) { return false; }
#endif
