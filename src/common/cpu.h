/*
 * cpu.h - what the CPU offers beyond the baseline the build targets.
 */
#ifndef OFFPORT_COMMON_CPU_H
#define OFFPORT_COMMON_CPU_H

#include <stdbool.h>

/* x86 SHA extensions (SHA1RNDS4, SHA256RNDS2, ...) with SSSE3 and
 * SSE4.1, which the code using them needs too. Asked of CPUID once (a
 * virtual machine traps CPUID: too slow to ask per call). False on other
 * architectures. */
bool cpu_has_sha(void);

#endif
