/*
 * table_mem.h - memory for the large tables allocated once at start-up
 * (the flow table, the stream pool).
 *
 * Zero pages from mmap, backed only when touched (what calloc does for a
 * large size, so resident memory still follows what is used, up to the
 * same bound), but at a page boundary, so that entries whose size is a
 * multiple of 64 bytes start on a cache line (calloc's block begins 16
 * bytes into its page: a 192-byte entry then spans 4 lines, not 3), and,
 * when huge, with transparent huge pages asked for: a flood touches flow
 * entries all over tens of MiB, and with 4 KiB pages nearly every such
 * touch also missed the TLB. The price of a huge page is resident memory:
 * a touch backs 2 MiB, not 4 KiB, so only the flow table asks for them
 * (the stream pool's gain was within the noise, and it cost about 6 MiB
 * of resident memory on a capture of a few flows).
 */
#ifndef OFFPORT_COMMON_TABLE_MEM_H
#define OFFPORT_COMMON_TABLE_MEM_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>

/* n * size zero bytes, or NULL (errno set); huge: ask for huge pages. */
static inline void *table_alloc(size_t n, size_t size, bool huge)
{
	if (n == 0 || size == 0 || n > SIZE_MAX / size) {
		errno = ENOMEM;
		return NULL;
	}
	void *p = mmap(NULL, n * size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
#ifdef MADV_HUGEPAGE
	if (huge)
		(void)madvise(p, n * size, MADV_HUGEPAGE); /* a hint: without it, small pages */
#else
	(void)huge;
#endif
	return p;
}

/* Frees what table_alloc(n, size) returned; NULL is ignored. */
static inline void table_free(void *p, size_t n, size_t size)
{
	if (p)
		munmap(p, n * size);
}

#endif
