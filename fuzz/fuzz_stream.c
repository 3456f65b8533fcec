/*
 * fuzz_stream.c - stream reassembly against a shadow model.
 *
 * The input is a pool configuration followed by operations:
 *
 *   header:  b0 bits 0-2 cap selector, bits 3-5 handles 0-2 carry UDP
 *            (a slot holds one flow: TCP or UDP, never both); ISN for
 *            each direction (2 x 4 bytes)
 *   op:      b0  bit 0    direction
 *                bit 1    with bit 4: the fresh slot carries UDP
 *                bits 2-3 handle (0..2; the pool has 2 slots, so one of
 *                         three handles can be STREAM_NONE)
 *                bit 4    slot operation: give the handle's slot back and
 *                         take a fresh one (no data)
 *                bit 5    the seq delta is in units of 65536 (far jumps,
 *                         offsets near 2^31)
 *                bit 6    payload bytes come from the input (arbitrary,
 *                         so overlaps may disagree) instead of a pattern
 *                         that depends on the sequence number only
 *            b1  TCP flags
 *            b2-3 seq delta from the direction's ISN (signed, big endian)
 *            b4  payload length
 *            b5  bit 0: snap-cut, payload_wire_len = len + (b5 >> 1)
 *            [payload bytes when bit 6]
 *
 * After every operation each handle's two directions are compared with a
 * byte-per-byte model of the documented semantics (first copy wins, but
 * for the padding exception of stream.h, contig, held, gap bytes, base
 * rules, UDP append) and the pool-wide
 * counters are checked; any difference aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stream/stream.h"

#define MAX_CAP 512
#define HANDLES 3
#define SLOTS 2

struct model_dir {
	bool have_base, syn_seen, fin_seen;
	uint32_t base;
	uint32_t held, gap;
	uint8_t present[MAX_CAP];
	uint8_t data[MAX_CAP];
	unsigned ndgrams;
	uint16_t dlen[STREAM_MAX_DGRAMS];
	uint32_t pad_at, pad_len; /* the direction's first bytes: <= 6 zero bytes */
};

struct model {
	uint32_t cap;
	struct model_dir dir[SLOTS][2];
	uint64_t segments, in_order, out_of_order, retrans, overlaps, before, beyond;
	uint64_t mismatch, datagrams, padding;
};

static struct model M;

static void fail(const char *what)
{
	fprintf(stderr, "fuzz_stream: invariant violated: %s\n", what);
	abort();
}

static uint32_t model_contig(const struct model_dir *d, uint32_t cap)
{
	uint32_t c = 0;
	while (c < cap && d->present[c])
		c++;
	return c;
}

static void model_tcp(struct model_dir *d, uint32_t seq, uint8_t flags, const uint8_t *p,
                      uint32_t len, uint32_t wire)
{
	uint32_t cap = M.cap;
	if (flags & TCPF_SYN) {
		if (!d->have_base || (!d->syn_seen && d->held == 0)) {
			d->base = seq + 1;
			d->have_base = true;
			d->syn_seen = true;
		}
		seq++;
	}
	if (flags & TCPF_FIN)
		d->fin_seen = true;
	if (flags & TCPF_RST)
		return;
	if (wire < len)
		wire = len;
	if (wire == 0)
		return;
	if (!d->have_base) {
		d->base = seq;
		d->have_base = true;
	}
	d->gap += wire - len;
	if (len == 0)
		return;
	M.segments++;
	/* Padding (stream.h): a longer segment covering the pending zeros,
	 * from a start at or after the base, replaces them. */
	uint32_t srel0 = seq - d->base;
	int64_t s0 = srel0 < 0x80000000U ? (int64_t)srel0 : (int64_t)srel0 - 0x100000000LL;
	int64_t e0 = s0 + len < (int64_t)cap ? s0 + len : (int64_t)cap;
	if (d->pad_len && s0 >= 0 && s0 < cap && s0 <= d->pad_at &&
	    e0 >= (int64_t)(d->pad_at + d->pad_len) && e0 - s0 > d->pad_len) {
		for (uint32_t o = d->pad_at; o < d->pad_at + d->pad_len; o++)
			d->present[o] = 0;
		d->held -= d->pad_len;
		d->pad_len = 0;
		M.padding++;
	}
	uint32_t old_contig = model_contig(d, cap);
	uint32_t covered = 0, stored = 0, first = UINT32_MAX;
	bool before = false;
	/* The segment's start as a signed distance from the base (RFC 9293
	 * sequence comparison); its bytes follow it linearly. */
	uint32_t srel = seq - d->base;
	int64_t start = srel < 0x80000000U ? (int64_t)srel : (int64_t)srel - 0x100000000LL;
	for (uint32_t i = 0; i < len; i++) {
		int64_t off = start + i;
		if (off < 0) {
			before = true; /* this byte is before the start */
			continue;
		}
		if (off >= cap)
			continue;
		uint32_t rel = (uint32_t)off;
		if (first == UINT32_MAX)
			first = rel;
		stored++;
		if (d->present[rel]) {
			covered++;
			M.mismatch += d->data[rel] != p[i];
		} else {
			d->present[rel] = 1;
			d->data[rel] = p[i];
			d->held++;
		}
	}
	bool zeros = true; /* over the bytes kept */
	for (uint32_t i = 0; i < len; i++)
		if (start + i >= 0 && start + i < cap)
			zeros = zeros && p[i] == 0;
	if (!before && stored > 0 && covered == 0 && stored <= 6 && wire == len && d->held == stored &&
	    zeros) {
		d->pad_at = first;
		d->pad_len = stored;
	} else if (covered < stored) {
		d->pad_len = 0; /* other data: the zeros stand */
	}
	if (before)
		M.before++;
	else if (stored == 0)
		M.beyond++;
	else if (covered == stored)
		M.retrans++;
	else if (covered)
		M.overlaps++;
	else if (first == old_contig)
		M.in_order++;
	else
		M.out_of_order++;
}

static void model_udp(struct model_dir *d, const uint8_t *p, uint32_t len)
{
	if (d->held >= M.cap)
		return;
	uint32_t n = len < M.cap - d->held ? len : M.cap - d->held;
	for (uint32_t i = 0; i < n; i++) {
		d->data[d->held + i] = p[i];
		d->present[d->held + i] = 1;
	}
	if (d->ndgrams < STREAM_MAX_DGRAMS)
		d->dlen[d->ndgrams++] = (uint16_t)n;
	d->held += n;
	M.datagrams++;
}

static void check_dir(const struct stream_pool *sp, uint32_t slot, int dir)
{
	const struct model_dir *m = &M.dir[slot][dir];
	const struct stream_dir *d = stream_dir_state(sp, slot, (enum flow_dir)dir);
	uint32_t len;
	const uint8_t *data = stream_data(sp, slot, (enum flow_dir)dir, &len);
	uint32_t contig = model_contig(m, M.cap);
	/* Pending padding is not shown until something follows it. */
	if (m->pad_len && m->pad_at == 0 && contig == m->pad_len && !m->fin_seen)
		contig = 0;
	if (!d || !data)
		fail("no state for a taken slot");
	if (!(d->contig <= d->held && d->held <= M.cap))
		fail("contig <= held <= cap");
	if (len != contig || (len != d->contig && len != 0))
		fail("contig differs from the model");
	if (d->held != m->held)
		fail("held differs from the model");
	if (memcmp(data, m->data, len) != 0)
		fail("data prefix differs from the model (first copy must win)");
	if (d->have_base != m->have_base || d->syn_seen != m->syn_seen ||
	    d->fin_seen != m->fin_seen || (m->have_base && d->base_seq != m->base))
		fail("base/syn/fin differ from the model");
	if (d->gap_bytes != m->gap)
		fail("gap_bytes differs from the model");
	if (d->ndgrams != m->ndgrams || memcmp(d->dgram_len, m->dlen, m->ndgrams * 2) != 0)
		fail("datagram lengths differ from the model");
	if (stream_full(sp, slot, (enum flow_dir)dir) != (d->held >= M.cap))
		fail("stream_full");
}

static void check_all(const struct stream_pool *sp, const uint32_t *handle)
{
	const struct stream_stats *s = &sp->stats;
	if (s->segments != M.segments || s->in_order != M.in_order ||
	    s->out_of_order != M.out_of_order || s->retransmissions != M.retrans ||
	    s->overlaps != M.overlaps || s->before_start != M.before ||
	    s->beyond_cap != M.beyond)
		fail("segment classes differ from the model");
	if (s->segments != s->in_order + s->out_of_order + s->retransmissions + s->overlaps +
	                       s->before_start + s->beyond_cap)
		fail("every segment in exactly one class");
	if (s->padding_replaced != M.padding)
		fail("padding_replaced differs from the model");
	if (s->overlap_mismatch != M.mismatch)
		fail("overlap_mismatch differs from the model");
	if (s->datagrams != M.datagrams)
		fail("datagrams differ from the model");
	if (sp->in_use > SLOTS || s->peak_slots > SLOTS)
		fail("slots in use exceed the pool");
	for (int h = 0; h < HANDLES; h++) {
		if (handle[h] == STREAM_NONE)
			continue;
		if (handle[h] >= SLOTS)
			fail("slot out of range");
		for (int k = 0; k < h; k++)
			if (handle[k] == handle[h])
				fail("one slot handed out twice");
		check_dir(sp, handle[h], 0);
		check_dir(sp, handle[h], 1);
	}
}

static uint32_t take(struct stream_pool *sp)
{
	uint32_t s = stream_take(sp);
	if (s != STREAM_NONE) {
		if (s >= SLOTS)
			fail("take returned a slot out of range");
		memset(&M.dir[s], 0, sizeof M.dir[s]);
	}
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t caps[8] = {64, 67, 100, 128, 200, 255, 256, 512};
	if (size < 9)
		return 0;
	memset(&M, 0, sizeof M);
	M.cap = caps[data[0] & 7];
	uint32_t isn[2];
	isn[0] = (uint32_t)data[1] << 24 | (uint32_t)data[2] << 16 | (uint32_t)data[3] << 8 | data[4];
	isn[1] = (uint32_t)data[5] << 24 | (uint32_t)data[6] << 16 | (uint32_t)data[7] << 8 | data[8];
	size_t at = 9;

	struct stream_pool sp;
	struct stream_config cfg = {.max_slots = SLOTS, .cap = M.cap};
	char err[128];
	if (stream_pool_init(&sp, &cfg, err, sizeof err) != 0)
		fail("pool init");
	uint32_t handle[HANDLES];
	bool is_udp[HANDLES];
	for (int h = 0; h < HANDLES; h++) {
		handle[h] = take(&sp);
		is_udp[h] = data[0] >> (3 + h) & 1;
	}
	if (handle[2] != STREAM_NONE || sp.stats.slots_exhausted != 1)
		fail("pool of 2 must refuse a third slot");

	uint8_t buf[256];
	while (size - at >= 6) {
		const uint8_t *op = data + at;
		at += 6;
		int dir = op[0] & 1;
		int h = (op[0] >> 2) & 3;
		if (h >= HANDLES)
			h = 0;
		if (op[0] & 0x10) {
			stream_give(&sp, handle[h]);
			handle[h] = take(&sp);
			is_udp[h] = op[0] & 2;
			check_all(&sp, handle);
			continue;
		}
		uint8_t flags = op[1];
		int16_t delta = (int16_t)(uint16_t)((unsigned)op[2] << 8 | op[3]);
		uint32_t seq = isn[dir] + ((op[0] & 0x20) ? (uint32_t)delta * 65536U : (uint32_t)delta);
		uint32_t len = op[4];
		if (op[0] & 0x40) {
			if (len > size - at)
				len = (uint32_t)(size - at);
			memcpy(buf, data + at, len);
			at += len;
		} else {
			/* Same bytes for the same sequence number: retransmissions agree. */
			for (uint32_t i = 0; i < len; i++)
				buf[i] = (uint8_t)((seq + i) * 131u >> 3);
		}
		uint32_t wire = (op[5] & 1) ? len + (op[5] >> 1) : len;
		uint32_t slot = handle[h];
		if (is_udp[h]) {
			stream_udp(&sp, slot, (enum flow_dir)dir, len ? buf : NULL, len);
			if (slot != STREAM_NONE)
				model_udp(&M.dir[slot][dir], buf, len);
		} else {
			stream_tcp(&sp, slot, (enum flow_dir)dir, seq, flags, len ? buf : NULL, len, wire);
			if (slot != STREAM_NONE)
				model_tcp(&M.dir[slot][dir], seq, flags, buf, len, wire);
		}
		check_all(&sp, handle);
	}
	for (int h = 0; h < HANDLES; h++)
		stream_give(&sp, handle[h]);
	if (sp.in_use != 0)
		fail("slots leaked");
	stream_pool_free(&sp);
	return 0;
}
