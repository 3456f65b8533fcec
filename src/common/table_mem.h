/*
 * table_mem.h - memory for the large tables allocated once at start-up
 * (the flow table, the stream pool).
 *
 * Zero pages from mmap, backed only when touched (what calloc does for a
 * large size, so resident memory still follows what is used, up to the
 * same bound), but at a page boundary, so that entries whose size is a
 * multiple of 64 bytes start on a cache line (calloc's block begins 16
 * bytes into its page: a 192-byte entry then spans 4 lines, not 3).
 *
 * Transparent huge pages are asked for once a table has grown to a part
 * of its bound (table_want_huge, called by its owner: the flow table at
 * a sixty-fourth, the stream pool at an eighth): a flood
 * touches entries all over tens of MiB, and with 4 KiB pages nearly every
 * such touch also misses the TLB (the text flood of bench/flood.py runs
 * about 10% faster with them); but a huge page backs 2 MiB where a small
 * one backs 4 KiB, so asking from the start made a capture of a few flows
 * resident in about 6 MiB more.
 */
#ifndef OFFPORT_COMMON_TABLE_MEM_H
#define OFFPORT_COMMON_TABLE_MEM_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>

/* n * size zero bytes, or NULL (errno set). */
static inline void *table_alloc(size_t n, size_t size)
{
	if (n == 0 || size == 0 || n > SIZE_MAX / size) {
		errno = ENOMEM;
		return NULL;
	}
	void *p = mmap(NULL, n * size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	return p;
}

/* Asks for huge pages on what table_alloc(n, size) returned (a hint: the
 * kernel may not give them). */
static inline void table_want_huge(void *p, size_t n, size_t size)
{
#ifdef MADV_HUGEPAGE
	if (p)
		(void)madvise(p, n * size, MADV_HUGEPAGE);
#else
	(void)p;
	(void)n;
	(void)size;
#endif
}

/* Frees what table_alloc(n, size) returned; NULL is ignored. */
static inline void table_free(void *p, size_t n, size_t size)
{
	if (p)
		munmap(p, n * size);
}

#endif
