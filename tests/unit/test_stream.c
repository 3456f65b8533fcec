/*
 * test_stream.c - stream reassembly: order, duplicates, overlaps (first copy
 * wins), holes, mid-stream starts, the stream's edges (before the start,
 * past cap, sequence wrap, offsets near 2^31), snap-length gaps, UDP
 * datagrams, slot reuse and pool exhaustion, and a randomized reassembly.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "stream/stream.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static void fill_random(uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)rnd();
}

static void pool(struct stream_pool *sp, uint32_t slots, uint32_t cap)
{
	struct stream_config cfg = {.max_slots = slots, .cap = cap};
	char err[200];
	int rc = stream_pool_init(sp, &cfg, err, sizeof err);
	CHECK(rc == 0);
	if (rc != 0) {
		fprintf(stderr, "%s\n", err);
		exit(1);
	}
}

/* Every segment lands in exactly one class. */
static void check_classes(const struct stream_pool *sp)
{
	const struct stream_stats *s = &sp->stats;
	CHECK_EQ_U(s->segments, s->in_order + s->out_of_order + s->retransmissions + s->overlaps +
	                            s->before_start + s->beyond_cap);
}

/* Direction dir holds exactly want[0..n) contiguously. */
static void check_data(const struct stream_pool *sp, uint32_t slot, enum flow_dir dir,
                       const uint8_t *want, uint32_t n)
{
	uint32_t len = 0;
	const uint8_t *d = stream_data(sp, slot, dir, &len);
	CHECK_EQ_U(len, n);
	if (len == n && n)
		CHECK_MEM(d, want, n);
	const struct stream_dir *st = stream_dir_state(sp, slot, dir);
	CHECK(st->contig <= st->held && st->held <= sp->cfg.cap);
}

/* A data segment at stream offset off (relative to isn + 1). */
static void seg(struct stream_pool *sp, uint32_t slot, enum flow_dir dir, uint32_t isn,
                uint32_t off, const uint8_t *p, uint32_t len)
{
	stream_tcp(sp, slot, dir, isn + 1 + off, TCPF_ACK | TCPF_PSH, p, len, len);
}

static void syn(struct stream_pool *sp, uint32_t slot, enum flow_dir dir, uint32_t isn)
{
	stream_tcp(sp, slot, dir, isn, TCPF_SYN, NULL, 0, 0);
}

/* ---- tests -------------------------------------------------------------- */

static void test_config(void)
{
	struct stream_pool sp;
	char err[200];
	struct stream_config c = {.max_slots = 4, .cap = 63};
	err[0] = 0;
	CHECK(stream_pool_init(&sp, &c, err, sizeof err) == -1);
	CHECK(strstr(err, "cap") != NULL);
	c.cap = (1U << 20) + 1;
	CHECK(stream_pool_init(&sp, &c, err, sizeof err) == -1);
	c.cap = 1024;
	c.max_slots = 0;
	err[0] = 0;
	CHECK(stream_pool_init(&sp, &c, err, sizeof err) == -1);
	CHECK(strstr(err, "max_slots") != NULL);
	c.max_slots = 1;
	c.cap = 64;
	CHECK(stream_pool_init(&sp, &c, err, sizeof err) == 0);
	stream_pool_free(&sp);
	c.cap = 1U << 20;
	c.max_slots = 16;
	CHECK(stream_pool_init(&sp, &c, err, sizeof err) == 0);
	stream_pool_free(&sp);
	/* An odd cap (not a multiple of 8) works to its last byte. */
	c.cap = 67;
	c.max_slots = 1;
	CHECK(stream_pool_init(&sp, &c, err, sizeof err) == 0);
	uint32_t s = stream_take(&sp);
	uint8_t m[80];
	fill_random(m, sizeof m);
	syn(&sp, s, DIR_TO_SERVER, 5);
	seg(&sp, s, DIR_TO_SERVER, 5, 0, m, 80);
	check_data(&sp, s, DIR_TO_SERVER, m, 67);
	CHECK(stream_full(&sp, s, DIR_TO_SERVER));
	stream_pool_free(&sp);
}

static void test_in_order(void)
{
	struct stream_pool sp;
	pool(&sp, 4, 1024);
	uint8_t m[310];
	fill_random(m, sizeof m);
	uint32_t s = stream_take(&sp);
	CHECK(s != STREAM_NONE);
	uint32_t isn = 123456;
	syn(&sp, s, DIR_TO_SERVER, isn);
	const struct stream_dir *d = stream_dir_state(&sp, s, DIR_TO_SERVER);
	CHECK(d->have_base && d->syn_seen);
	CHECK_EQ_U(d->base_seq, isn + 1);
	seg(&sp, s, DIR_TO_SERVER, isn, 0, m, 100);
	seg(&sp, s, DIR_TO_SERVER, isn, 100, m + 100, 100);
	seg(&sp, s, DIR_TO_SERVER, isn, 200, m + 200, 100);
	check_data(&sp, s, DIR_TO_SERVER, m, 300);
	CHECK_EQ_U(d->held, 300);
	CHECK_EQ_U(sp.stats.in_order, 3);
	CHECK_EQ_U(sp.stats.segments, 3);
	CHECK(!stream_full(&sp, s, DIR_TO_SERVER));
	/* The other direction is untouched. */
	check_data(&sp, s, DIR_TO_CLIENT, m, 0);
	CHECK(!stream_dir_state(&sp, s, DIR_TO_CLIENT)->have_base);

	/* The same bytes in 1-byte segments, other direction. */
	syn(&sp, s, DIR_TO_CLIENT, 7);
	for (uint32_t i = 0; i < 300; i++)
		seg(&sp, s, DIR_TO_CLIENT, 7, i, m + i, 1);
	check_data(&sp, s, DIR_TO_CLIENT, m, 300);
	CHECK_EQ_U(sp.stats.in_order, 303);
	check_classes(&sp);

	/* A zero-length FIN only marks the end. */
	uint64_t segs = sp.stats.segments;
	stream_tcp(&sp, s, DIR_TO_CLIENT, 7 + 301, TCPF_FIN | TCPF_ACK, NULL, 0, 0);
	CHECK(stream_dir_state(&sp, s, DIR_TO_CLIENT)->fin_seen);
	CHECK_EQ_U(sp.stats.segments, segs);
	check_data(&sp, s, DIR_TO_CLIENT, m, 300);
	/* A FIN carrying data stores it too. */
	stream_tcp(&sp, s, DIR_TO_SERVER, isn + 301, TCPF_FIN | TCPF_ACK, m + 300, 10, 10);
	CHECK(stream_dir_state(&sp, s, DIR_TO_SERVER)->fin_seen);
	check_data(&sp, s, DIR_TO_SERVER, m, 310);
	stream_pool_free(&sp);
}

static void test_reversed_and_holes(void)
{
	struct stream_pool sp;
	pool(&sp, 2, 512);
	uint8_t m[400];
	fill_random(m, sizeof m);
	uint32_t s = stream_take(&sp);
	syn(&sp, s, DIR_TO_CLIENT, 1000);
	/* Reversed: every segment but the last-delivered is ahead of a hole. */
	for (int i = 39; i >= 0; i--) {
		seg(&sp, s, DIR_TO_CLIENT, 1000, (uint32_t)i * 10, m + i * 10, 10);
		uint32_t len;
		stream_data(&sp, s, DIR_TO_CLIENT, &len);
		CHECK_EQ_U(len, i == 0 ? 400 : 0);
	}
	check_data(&sp, s, DIR_TO_CLIENT, m, 400);
	CHECK_EQ_U(sp.stats.out_of_order, 39);
	CHECK_EQ_U(sp.stats.in_order, 1);
	stream_give(&sp, s);

	/* Holes: the contiguous prefix stops at the first one. */
	s = stream_take(&sp);
	syn(&sp, s, DIR_TO_SERVER, 0);
	seg(&sp, s, DIR_TO_SERVER, 0, 0, m, 10);
	seg(&sp, s, DIR_TO_SERVER, 0, 20, m + 20, 10);
	seg(&sp, s, DIR_TO_SERVER, 0, 35, m + 35, 5);
	check_data(&sp, s, DIR_TO_SERVER, m, 10);
	CHECK_EQ_U(stream_dir_state(&sp, s, DIR_TO_SERVER)->held, 25);
	seg(&sp, s, DIR_TO_SERVER, 0, 10, m + 10, 10);
	check_data(&sp, s, DIR_TO_SERVER, m, 30);
	seg(&sp, s, DIR_TO_SERVER, 0, 30, m + 30, 5);
	check_data(&sp, s, DIR_TO_SERVER, m, 40);
	CHECK_EQ_U(stream_dir_state(&sp, s, DIR_TO_SERVER)->held, 40);
	check_classes(&sp);
	stream_pool_free(&sp);
}

static void test_duplicates_and_overlaps(void)
{
	struct stream_pool sp;
	pool(&sp, 2, 256);
	uint8_t m[100], x[100];
	fill_random(m, sizeof m);
	for (int i = 0; i < 100; i++)
		x[i] = (uint8_t)~m[i];
	uint32_t s = stream_take(&sp);
	uint32_t isn = 0x10000;
	syn(&sp, s, DIR_TO_SERVER, isn);
	seg(&sp, s, DIR_TO_SERVER, isn, 0, m, 20);
	seg(&sp, s, DIR_TO_SERVER, isn, 0, m, 20); /* exact duplicate */
	CHECK_EQ_U(sp.stats.retransmissions, 1);
	CHECK_EQ_U(sp.stats.overlap_mismatch, 0);
	seg(&sp, s, DIR_TO_SERVER, isn, 5, m + 5, 10); /* inside */
	CHECK_EQ_U(sp.stats.retransmissions, 2);
	/* A retransmission with other bytes: first copy wins, counted. */
	seg(&sp, s, DIR_TO_SERVER, isn, 0, x, 20);
	CHECK_EQ_U(sp.stats.retransmissions, 3);
	CHECK_EQ_U(sp.stats.overlap_mismatch, 20);
	check_data(&sp, s, DIR_TO_SERVER, m, 20);
	/* Overlap with the same bytes extends. */
	seg(&sp, s, DIR_TO_SERVER, isn, 10, m + 10, 20);
	CHECK_EQ_U(sp.stats.overlaps, 1);
	CHECK_EQ_U(sp.stats.overlap_mismatch, 20);
	check_data(&sp, s, DIR_TO_SERVER, m, 30);
	/* Overlap with different bytes: 5 old bytes differ, 5 new bytes kept. */
	uint8_t mix[10];
	memcpy(mix, x + 25, 5);
	memcpy(mix + 5, m + 30, 5);
	seg(&sp, s, DIR_TO_SERVER, isn, 25, mix, 10);
	CHECK_EQ_U(sp.stats.overlaps, 2);
	CHECK_EQ_U(sp.stats.overlap_mismatch, 25);
	check_data(&sp, s, DIR_TO_SERVER, m, 35);
	/* An out-of-order segment, then one covering it and the hole before. */
	seg(&sp, s, DIR_TO_SERVER, isn, 50, m + 50, 10);
	CHECK_EQ_U(sp.stats.out_of_order, 1);
	uint8_t cover[40];
	memcpy(cover, m + 35, 40);
	cover[20] ^= 1; /* offset 55: differs from the stored byte */
	seg(&sp, s, DIR_TO_SERVER, isn, 35, cover, 40);
	CHECK_EQ_U(sp.stats.overlaps, 3);
	CHECK_EQ_U(sp.stats.overlap_mismatch, 26);
	check_data(&sp, s, DIR_TO_SERVER, m, 75);
	check_classes(&sp);
	stream_pool_free(&sp);
}

/* Frame padding counted as payload: a bare ACK's 2-6 zero bytes at the
 * first sequence number, then the real first message at the same number
 * (nDPI's heuristic_tcp_ack_payload.pcap). */
static void test_padding(void)
{
	struct stream_pool sp;
	pool(&sp, 4, 256);
	uint8_t m[100];
	fill_random(m, sizeof m);
	m[0] = 0x16;
	const uint8_t zeros[8] = {0};
	uint32_t isn = 0x2000;

	/* Replaced: hidden while pending, then the longer segment wins. */
	uint32_t s = stream_take(&sp);
	syn(&sp, s, DIR_TO_SERVER, isn);
	seg(&sp, s, DIR_TO_SERVER, isn, 0, zeros, 6);
	check_data(&sp, s, DIR_TO_SERVER, zeros, 0);
	seg(&sp, s, DIR_TO_SERVER, isn, 0, zeros, 6); /* the same ACK again */
	check_data(&sp, s, DIR_TO_SERVER, zeros, 0);
	seg(&sp, s, DIR_TO_SERVER, isn, 0, m, 40);
	CHECK_EQ_U(sp.stats.padding_replaced, 1);
	CHECK_EQ_U(sp.stats.overlap_mismatch, 0);
	check_data(&sp, s, DIR_TO_SERVER, m, 40);
	/* Only once: later zeros are data like any other. */
	seg(&sp, s, DIR_TO_SERVER, isn, 40, zeros, 4);
	seg(&sp, s, DIR_TO_SERVER, isn, 40, m + 40, 10);
	CHECK_EQ_U(sp.stats.padding_replaced, 1);
	CHECK_EQ_U(sp.stats.overlap_mismatch, 4);
	stream_give(&sp, s);

	/* Zeros followed by more data are the stream's bytes: they stand. */
	s = stream_take(&sp);
	syn(&sp, s, DIR_TO_SERVER, isn);
	seg(&sp, s, DIR_TO_SERVER, isn, 0, zeros, 2);
	seg(&sp, s, DIR_TO_SERVER, isn, 2, m, 10);
	seg(&sp, s, DIR_TO_SERVER, isn, 0, m, 12);
	CHECK_EQ_U(sp.stats.padding_replaced, 1);
	uint8_t want[12] = {0};
	memcpy(want + 2, m, 10);
	check_data(&sp, s, DIR_TO_SERVER, want, 12);
	stream_give(&sp, s);

	/* Seven zero bytes cannot be padding; nonzero bytes are not either;
	 * a shorter or equal later segment does not replace. */
	s = stream_take(&sp);
	syn(&sp, s, DIR_TO_SERVER, isn);
	seg(&sp, s, DIR_TO_SERVER, isn, 0, zeros, 7);
	check_data(&sp, s, DIR_TO_SERVER, zeros, 7);
	syn(&sp, s, DIR_TO_CLIENT, isn);
	seg(&sp, s, DIR_TO_CLIENT, isn, 0, zeros, 4);
	seg(&sp, s, DIR_TO_CLIENT, isn, 0, m, 4);
	CHECK_EQ_U(sp.stats.padding_replaced, 1);
	check_data(&sp, s, DIR_TO_CLIENT, zeros, 0);
	/* A FIN ends the wait: the zeros are then what was sent. */
	stream_tcp(&sp, s, DIR_TO_CLIENT, isn + 5, TCPF_ACK | TCPF_FIN, NULL, 0, 0);
	check_data(&sp, s, DIR_TO_CLIENT, zeros, 4);
	stream_give(&sp, s);
	check_classes(&sp);
	stream_pool_free(&sp);
}

static void test_mid_stream(void)
{
	struct stream_pool sp;
	pool(&sp, 2, 256);
	uint8_t m[100], pre[20];
	fill_random(m, sizeof m);
	fill_random(pre, sizeof pre);
	uint32_t s = stream_take(&sp);
	/* No SYN: the first data segment is byte 0. */
	stream_tcp(&sp, s, DIR_TO_CLIENT, 5000, TCPF_ACK, m, 10, 10);
	const struct stream_dir *d = stream_dir_state(&sp, s, DIR_TO_CLIENT);
	CHECK(d->have_base && !d->syn_seen);
	CHECK_EQ_U(d->base_seq, 5000);
	CHECK_EQ_U(sp.stats.in_order, 1);
	/* Wholly before the start. */
	stream_tcp(&sp, s, DIR_TO_CLIENT, 4990, TCPF_ACK, pre, 10, 10);
	CHECK_EQ_U(sp.stats.before_start, 1);
	check_data(&sp, s, DIR_TO_CLIENT, m, 10);
	/* Straddling the start: the part from byte 0 on is kept. */
	uint8_t st[25];
	memcpy(st, pre, 5);
	memcpy(st + 5, m, 20);
	stream_tcp(&sp, s, DIR_TO_CLIENT, 4995, TCPF_ACK, st, 25, 25);
	CHECK_EQ_U(sp.stats.before_start, 2);
	check_data(&sp, s, DIR_TO_CLIENT, m, 20);
	/* A late SYN does not move a base that already has data. */
	stream_tcp(&sp, s, DIR_TO_CLIENT, 100, TCPF_SYN | TCPF_ACK, NULL, 0, 0);
	CHECK_EQ_U(d->base_seq, 5000);
	check_classes(&sp);

	/* A SYN arriving before any byte was stored still sets the base. */
	stream_tcp(&sp, s, DIR_TO_SERVER, 70, TCPF_ACK, NULL, 0, 0); /* pure ACK */
	CHECK(!stream_dir_state(&sp, s, DIR_TO_SERVER)->have_base);
	syn(&sp, s, DIR_TO_SERVER, 69);
	CHECK_EQ_U(stream_dir_state(&sp, s, DIR_TO_SERVER)->base_seq, 70);
	stream_pool_free(&sp);
}

static void test_syn_payload_and_wrap(void)
{
	struct stream_pool sp;
	pool(&sp, 4, 512);
	uint8_t m[300];
	fill_random(m, sizeof m);

	/* TCP Fast Open: the SYN's own payload is bytes 0.. */
	uint32_t s = stream_take(&sp);
	stream_tcp(&sp, s, DIR_TO_SERVER, 999, TCPF_SYN, m, 40, 40);
	check_data(&sp, s, DIR_TO_SERVER, m, 40);
	seg(&sp, s, DIR_TO_SERVER, 999, 40, m + 40, 60);
	check_data(&sp, s, DIR_TO_SERVER, m, 100);
	/* The SYN retransmitted (with its data) is a retransmission. */
	stream_tcp(&sp, s, DIR_TO_SERVER, 999, TCPF_SYN, m, 40, 40);
	CHECK_EQ_U(sp.stats.retransmissions, 1);
	stream_give(&sp, s);

	/* Sequence wrap: ISN just below 2^32, data crossing zero. */
	static const uint32_t isns[] = {0xffffffffU, 0xfffffff0U, 0xffffff00U, 0x7fffffffU,
	                                0x80000000U};
	for (size_t k = 0; k < sizeof isns / sizeof isns[0]; k++) {
		s = stream_take(&sp);
		uint32_t isn = isns[k];
		syn(&sp, s, DIR_TO_CLIENT, isn);
		CHECK_EQ_U(stream_dir_state(&sp, s, DIR_TO_CLIENT)->base_seq, (uint32_t)(isn + 1));
		for (uint32_t off = 0; off < 300; off += 30)
			seg(&sp, s, DIR_TO_CLIENT, isn, 270 - off, m + 270 - off, 30);
		check_data(&sp, s, DIR_TO_CLIENT, m, 300);
		stream_give(&sp, s);
	}
	/* Mid-stream start right at the wrap. */
	s = stream_take(&sp);
	stream_tcp(&sp, s, DIR_TO_SERVER, 0xfffffffeU, TCPF_ACK, m, 10, 10);
	stream_tcp(&sp, s, DIR_TO_SERVER, 8, TCPF_ACK, m + 10, 10, 10);
	check_data(&sp, s, DIR_TO_SERVER, m, 20);
	check_classes(&sp);
	stream_pool_free(&sp);
}

static void test_edges(void)
{
	struct stream_pool sp;
	pool(&sp, 2, 64);
	uint8_t m[200];
	fill_random(m, sizeof m);
	uint32_t s = stream_take(&sp);
	uint32_t isn = 0x40000000;
	syn(&sp, s, DIR_TO_SERVER, isn);
	/* Wholly past cap. */
	seg(&sp, s, DIR_TO_SERVER, isn, 64, m + 64, 10);
	CHECK_EQ_U(sp.stats.beyond_cap, 1);
	CHECK_EQ_U(stream_dir_state(&sp, s, DIR_TO_SERVER)->held, 0);
	/* Offsets near 2^31 either way. */
	seg(&sp, s, DIR_TO_SERVER, isn, 0x7ffffff0U, m, 100); /* far ahead */
	CHECK_EQ_U(sp.stats.beyond_cap, 2);
	seg(&sp, s, DIR_TO_SERVER, isn, 0x7fffffffU, m, 100); /* crosses 2^31 */
	CHECK_EQ_U(sp.stats.beyond_cap, 3);
	seg(&sp, s, DIR_TO_SERVER, isn, 0x80000000U, m, 100); /* -2^31: behind */
	CHECK_EQ_U(sp.stats.before_start, 1);
	seg(&sp, s, DIR_TO_SERVER, isn, 0xffffff00U, m, 200); /* -256 .. -56 */
	CHECK_EQ_U(sp.stats.before_start, 2);
	CHECK_EQ_U(stream_dir_state(&sp, s, DIR_TO_SERVER)->held, 0);
	/* Partly past cap: the part below cap is kept. */
	seg(&sp, s, DIR_TO_SERVER, isn, 0, m, 50);
	seg(&sp, s, DIR_TO_SERVER, isn, 50, m + 50, 100);
	check_data(&sp, s, DIR_TO_SERVER, m, 64);
	CHECK_EQ_U(sp.stats.in_order, 2);
	CHECK(stream_full(&sp, s, DIR_TO_SERVER));
	CHECK(!stream_full(&sp, s, DIR_TO_CLIENT));
	/* A straddling segment that is also past cap. */
	seg(&sp, s, DIR_TO_SERVER, isn, 0xfffffff0U, m, 200);
	CHECK_EQ_U(sp.stats.before_start, 3);
	check_data(&sp, s, DIR_TO_SERVER, m, 64);
	CHECK_EQ_U(sp.stats.overlap_mismatch > 0, 1);
	/* RST payload is never stream data. */
	stream_tcp(&sp, s, DIR_TO_CLIENT, 1, TCPF_RST, m, 20, 20);
	CHECK(!stream_dir_state(&sp, s, DIR_TO_CLIENT)->have_base);
	check_data(&sp, s, DIR_TO_CLIENT, m, 0);
	check_classes(&sp);
	/* STREAM_NONE is ignored everywhere. */
	stream_tcp(&sp, STREAM_NONE, DIR_TO_SERVER, 1, 0, m, 10, 10);
	stream_udp(&sp, STREAM_NONE, DIR_TO_SERVER, m, 10);
	uint32_t len = 99;
	CHECK(stream_data(&sp, STREAM_NONE, DIR_TO_SERVER, &len) == NULL && len == 0);
	CHECK(!stream_full(&sp, STREAM_NONE, DIR_TO_SERVER));
	stream_give(&sp, STREAM_NONE);
	stream_pool_free(&sp);
}

static void test_snaplen_gaps(void)
{
	struct stream_pool sp;
	pool(&sp, 2, 256);
	uint8_t m[100];
	fill_random(m, sizeof m);
	uint32_t s = stream_take(&sp);
	syn(&sp, s, DIR_TO_SERVER, 0);
	/* 30 bytes on the wire, 10 captured: bytes 10..29 never come. */
	stream_tcp(&sp, s, DIR_TO_SERVER, 1, TCPF_ACK, m, 10, 30);
	const struct stream_dir *d = stream_dir_state(&sp, s, DIR_TO_SERVER);
	CHECK_EQ_U(d->gap_bytes, 20);
	check_data(&sp, s, DIR_TO_SERVER, m, 10);
	stream_tcp(&sp, s, DIR_TO_SERVER, 31, TCPF_ACK, m + 30, 10, 10);
	check_data(&sp, s, DIR_TO_SERVER, m, 10);
	CHECK_EQ_U(sp.stats.out_of_order, 1);
	/* Nothing captured at all: a gap, not a segment. */
	uint64_t segs = sp.stats.segments;
	stream_tcp(&sp, s, DIR_TO_SERVER, 41, TCPF_ACK, NULL, 0, 50);
	CHECK_EQ_U(d->gap_bytes, 70);
	CHECK_EQ_U(sp.stats.segments, segs);
	/* A cut segment also fixes a mid-stream base. */
	stream_tcp(&sp, s, DIR_TO_CLIENT, 777, TCPF_ACK, NULL, 0, 5);
	CHECK(stream_dir_state(&sp, s, DIR_TO_CLIENT)->have_base);
	CHECK_EQ_U(stream_dir_state(&sp, s, DIR_TO_CLIENT)->base_seq, 777);
	check_classes(&sp);
	stream_pool_free(&sp);
}

static void test_udp(void)
{
	struct stream_pool sp;
	pool(&sp, 2, 100);
	uint8_t m[300];
	fill_random(m, sizeof m);
	uint32_t s = stream_take(&sp);
	stream_udp(&sp, s, DIR_TO_SERVER, m, 30);
	stream_udp(&sp, s, DIR_TO_SERVER, m + 30, 0);
	stream_udp(&sp, s, DIR_TO_SERVER, m + 30, 40);
	const struct stream_dir *d = stream_dir_state(&sp, s, DIR_TO_SERVER);
	CHECK_EQ_U(d->ndgrams, 3);
	CHECK_EQ_U(d->dgram_len[0], 30);
	CHECK_EQ_U(d->dgram_len[1], 0);
	CHECK_EQ_U(d->dgram_len[2], 40);
	check_data(&sp, s, DIR_TO_SERVER, m, 70);
	CHECK_EQ_U(d->held, 70);
	CHECK(!stream_full(&sp, s, DIR_TO_SERVER));
	/* Does not fit: the part that does is kept, then the direction is full. */
	stream_udp(&sp, s, DIR_TO_SERVER, m + 70, 50);
	CHECK_EQ_U(d->ndgrams, 4);
	CHECK_EQ_U(d->dgram_len[3], 30);
	check_data(&sp, s, DIR_TO_SERVER, m, 100);
	CHECK(stream_full(&sp, s, DIR_TO_SERVER));
	stream_udp(&sp, s, DIR_TO_SERVER, m, 10);
	CHECK_EQ_U(d->ndgrams, 4);
	CHECK_EQ_U(sp.stats.datagrams, 4);
	/* More datagrams than lengths recorded. */
	for (int i = 0; i < 12; i++)
		stream_udp(&sp, s, DIR_TO_CLIENT, m + i * 5, 5);
	const struct stream_dir *c = stream_dir_state(&sp, s, DIR_TO_CLIENT);
	CHECK_EQ_U(c->ndgrams, STREAM_MAX_DGRAMS);
	check_data(&sp, s, DIR_TO_CLIENT, m, 60);
	CHECK_EQ_U(sp.stats.datagrams, 16);
	CHECK_EQ_U(sp.stats.segments, 0);
	stream_pool_free(&sp);
}

static void test_reuse_and_exhaustion(void)
{
	struct stream_pool sp;
	pool(&sp, 2, 128);
	uint8_t m[128], x[128];
	fill_random(m, sizeof m);
	fill_random(x, sizeof x);
	uint32_t a = stream_take(&sp), b = stream_take(&sp);
	CHECK(a != STREAM_NONE && b != STREAM_NONE && a != b);
	CHECK_EQ_U(stream_take(&sp), STREAM_NONE);
	CHECK_EQ_U(sp.stats.slots_exhausted, 1);
	CHECK_EQ_U(sp.stats.peak_slots, 2);
	syn(&sp, a, DIR_TO_SERVER, 10);
	seg(&sp, a, DIR_TO_SERVER, 10, 0, m, 30);
	seg(&sp, a, DIR_TO_SERVER, 10, 100, m + 100, 28); /* ahead of a hole */
	stream_tcp(&sp, a, DIR_TO_CLIENT, 10, TCPF_FIN, m, 5, 9);
	stream_give(&sp, a);
	/* LIFO: the slot just given back comes back, with nothing in it. */
	uint32_t c = stream_take(&sp);
	CHECK_EQ_U(c, a);
	for (int dir = 0; dir < 2; dir++) {
		const struct stream_dir *d = stream_dir_state(&sp, c, (enum flow_dir)dir);
		CHECK(!d->have_base && !d->syn_seen && !d->fin_seen);
		CHECK_EQ_U(d->contig + d->held + d->gap_bytes + d->ndgrams, 0);
	}
	/* Old bytes are neither data nor "first copies". */
	uint64_t mism = sp.stats.overlap_mismatch, retr = sp.stats.retransmissions;
	syn(&sp, c, DIR_TO_SERVER, 50);
	seg(&sp, c, DIR_TO_SERVER, 50, 100, x + 100, 28);
	seg(&sp, c, DIR_TO_SERVER, 50, 0, x, 30);
	CHECK_EQ_U(sp.stats.overlap_mismatch, mism);
	CHECK_EQ_U(sp.stats.retransmissions, retr);
	check_data(&sp, c, DIR_TO_SERVER, x, 30);
	CHECK_EQ_U(stream_dir_state(&sp, c, DIR_TO_SERVER)->held, 58);
	stream_give(&sp, b);
	stream_give(&sp, c);
	CHECK_EQ_U(sp.in_use, 0);
	CHECK_EQ_U(sp.stats.slots_taken, 3);
	CHECK_EQ_U(sp.stats.peak_slots, 2);
	stream_pool_free(&sp);
}

/* A random message cut into random segments, delivered in a random order
 * with random duplicates and re-cut retransmissions, reassembles exactly. */
static void test_random(void)
{
	static const uint32_t caps[] = {64, 100, 1000, 4096};
	enum { MAXLEN = 6200, MAXSEG = 4000 };
	static uint8_t msg[MAXLEN];
	static struct {
		uint32_t off, len;
	} segs[MAXSEG];
	unsigned bad = 0;
	for (int iter = 0; iter < 400; iter++) {
		uint32_t cap = caps[rnd() % 4];
		struct stream_pool sp;
		pool(&sp, 3, cap);
		uint32_t len = 1 + (uint32_t)(rnd() % (cap + cap / 2));
		fill_random(msg, len);
		uint32_t isn = (uint32_t)rnd();
		if (iter % 4 == 0)
			isn = 0xffffffffU - (uint32_t)(rnd() % 2000);
		unsigned n = 0;
		for (uint32_t off = 0; off < len && n < MAXSEG / 2;) {
			uint32_t l = 1 + (uint32_t)(rnd() % (iter % 2 ? 8 : 300));
			if (l > len - off)
				l = len - off;
			segs[n].off = off;
			segs[n].len = l;
			n++;
			off += l;
		}
		/* Duplicates: same cut, and re-cut ranges over the same bytes. */
		unsigned extra = (unsigned)(rnd() % (n + 1));
		for (unsigned i = 0; i < extra && n < MAXSEG; i++) {
			if (rnd() % 2) {
				segs[n] = segs[rnd() % n];
			} else {
				uint32_t o = (uint32_t)(rnd() % len);
				uint32_t l = 1 + (uint32_t)(rnd() % 200);
				segs[n].off = o;
				segs[n].len = l > len - o ? len - o : l;
			}
			n++;
		}
		for (unsigned i = n - 1; i > 0; i--) {
			unsigned j = (unsigned)(rnd() % (i + 1));
			uint32_t to = segs[i].off, tl = segs[i].len;
			segs[i] = segs[j];
			segs[j].off = to;
			segs[j].len = tl;
		}
		uint32_t s = stream_take(&sp);
		uint32_t s2 = stream_take(&sp); /* a neighbour that must stay untouched */
		syn(&sp, s, DIR_TO_CLIENT, isn);
		for (unsigned i = 0; i < n; i++) {
			seg(&sp, s, DIR_TO_CLIENT, isn, segs[i].off, msg + segs[i].off, segs[i].len);
			const struct stream_dir *d = stream_dir_state(&sp, s, DIR_TO_CLIENT);
			if (!(d->contig <= d->held && d->held <= cap))
				bad++;
		}
		uint32_t want = len < cap ? len : cap, got;
		const uint8_t *data = stream_data(&sp, s, DIR_TO_CLIENT, &got);
		if (got != want || memcmp(data, msg, want) != 0)
			bad++;
		if (stream_full(&sp, s, DIR_TO_CLIENT) != (len >= cap))
			bad++;
		if (sp.stats.overlap_mismatch != 0)
			bad++;
		if (stream_dir_state(&sp, s, DIR_TO_CLIENT)->held != want)
			bad++;
		uint32_t l2;
		stream_data(&sp, s2, DIR_TO_SERVER, &l2);
		if (l2 != 0 || stream_dir_state(&sp, s2, DIR_TO_CLIENT)->held != 0)
			bad++;
		check_classes(&sp);
		stream_pool_free(&sp);
	}
	CHECK_EQ_U(bad, 0);
}

int main(void)
{
	test_config();
	test_in_order();
	test_reversed_and_holes();
	test_duplicates_and_overlaps();
	test_padding();
	test_mid_stream();
	test_syn_payload_and_wrap();
	test_edges();
	test_snaplen_gaps();
	test_udp();
	test_reuse_and_exhaustion();
	test_random();
	return check_done();
}
