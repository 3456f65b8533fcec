/*
 * test_alloc.c - no allocation per packet once running (issue 6).
 *
 * This program replaces malloc, calloc, realloc and free (the executable's
 * definitions win over the C library's for every caller) with counting
 * wrappers around glibc's own. It reads the packets of the captures in
 * tests/captures and tests/e2e/captures into memory, then runs the whole
 * pipeline over them twice (decode, flows, first bytes, identification,
 * verdicts, alerts and flow records in EVE JSON) with small tables (16
 * flows, 8 inspection slots, 4 fragment contexts) so that eviction, slot
 * exhaustion and reuse run too. Every allocation from the first packet to
 * the end of input is counted; there must be none.
 *
 * Sanitizer builds replace malloc themselves: there the test says so and
 * passes without counting (the release build, which ctest also runs,
 * counts).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cli/engine.h"

#if defined(__SANITIZE_ADDRESS__)
#define ALLOC_COUNTING 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(memory_sanitizer)
#define ALLOC_COUNTING 0
#endif
#endif
#ifndef ALLOC_COUNTING
#define ALLOC_COUNTING 1
#endif

static unsigned long allocations;

#if ALLOC_COUNTING
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t k, size_t n);
extern void *__libc_realloc(void *p, size_t n);
extern void __libc_free(void *p);

void *malloc(size_t n)
{
	allocations++;
	return __libc_malloc(n);
}

void *calloc(size_t k, size_t n)
{
	allocations++;
	return __libc_calloc(k, n);
}

void *realloc(void *p, size_t n)
{
	allocations++;
	return __libc_realloc(p, n);
}

void free(void *p) { __libc_free(p); }
#endif

/* The packets of every capture, read first (libpcap's own buffers are
 * libpcap's business: it grows its record buffer when a larger record
 * comes), then fed to the engine while allocations are counted. */
#define ARENA_BYTES (64u << 20)
#define PKTS_MAX 200000
static uint8_t *arena;
static size_t arena_used;
static struct {
	struct capture_pkt p;
	int dlt;
} pkts[PKTS_MAX];
static unsigned npkts;

static void load_capture(const char *path)
{
	struct capture c;
	char err[256];
	if (capture_open_file(&c, path, err, sizeof err) != 0) {
		fprintf(stderr, "%s: %s\n", path, err);
		CHECK(0);
		return;
	}
	struct capture_pkt pkt;
	while (capture_next(&c, &pkt, err, sizeof err) == CAPTURE_PACKET && npkts < PKTS_MAX &&
	       arena_used + pkt.caplen <= ARENA_BYTES) {
		memcpy(arena + arena_used, pkt.data, pkt.caplen);
		pkts[npkts].p = pkt;
		pkts[npkts].p.data = arena + arena_used;
		pkts[npkts].dlt = c.dlt;
		arena_used += pkt.caplen;
		npkts++;
	}
	capture_close(&c);
}

static unsigned load_dir(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	unsigned files = 0;
	struct dirent *de;
	char path[1024];
	while ((de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);
		if (n < 6 || strcmp(de->d_name + n - 5, ".pcap") != 0)
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		load_capture(path);
		files++;
	}
	closedir(d);
	return files;
}

int main(void)
{
	/* Output goes to /dev/null through a buffer given up front, so stdio
	 * does not allocate one at the first record. */
	static char outbuf[1 << 16];
	FILE *out = fopen("/dev/null", "w");
	CHECK(out != NULL);
	if (!out)
		return check_done();
	setvbuf(out, outbuf, _IOFBF, sizeof outbuf);

	struct engine_config cfg;
	engine_config_defaults(&cfg);
	cfg.flow.max_flows = 16;
	cfg.stream.max_slots = 8;
	cfg.decode.frag_max = 4;
	cfg.json_out = out;
	static struct engine e;
	char err[256];
	int rc = engine_init(&e, &cfg, err, sizeof err);
	CHECK(rc == 0);
	if (rc != 0) {
		fprintf(stderr, "engine_init: %s\n", err);
		return check_done();
	}
	arena = malloc(ARENA_BYTES);
	CHECK(arena != NULL);
	if (!arena)
		return check_done();
	unsigned files = load_dir("captures") + load_dir("e2e/captures");
	/* Twice over, the second time with timestamps moved on by a day, so
	 * the same 5-tuples come back as new flows into a full table. */
	unsigned long before = allocations;
	unsigned long packets = 0;
	for (int pass = 0; pass < 2; pass++) {
		for (unsigned i = 0; i < npkts; i++) {
			struct capture_pkt p = pkts[i].p;
			p.ts_us += (uint64_t)pass * 86400u * 1000000u;
			engine_packet(&e, pkts[i].dlt, &p);
			packets++;
		}
	}
	engine_finish(&e);
	unsigned long during = allocations - before;
	CHECK(engine_write_stats(&e) == 0);
	CHECK(files >= 20);
	CHECK(packets > 1000);
	CHECK(e.totals.flow->ended[FLOW_END_EVICTED] > 0); /* the small table was full */
	if (ALLOC_COUNTING)
		CHECK_EQ_U(during, 0);
	printf("alloc: %u captures, %lu packets, %llu flows (%llu evicted): %s\n", files, packets,
	       (unsigned long long)e.totals.flow->created,
	       (unsigned long long)e.totals.flow->ended[FLOW_END_EVICTED],
	       ALLOC_COUNTING ? (during ? "allocations while running" : "no allocation while running")
	                      : "not counted (sanitizer build)");
	engine_free(&e);
	free(arena);
	fclose(out);
	return check_done();
}
