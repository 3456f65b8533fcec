/*
 * stream.c - first bytes of each direction, in sequence order (see stream.h).
 *
 * Memory. One allocation of max_slots * 2 regions; a region is `cap` data bytes
 * followed by a fill bitmap of (cap + 7) / 8 bytes (one bit per data byte).
 * It is backed by zero pages until written, and the free list
 * is LIFO, so the resident memory is that of the peak number of slots in
 * use at once, not of max_slots.
 *
 * Offsets. A byte's stream offset is (seq - base_seq) in uint32 arithmetic,
 * read as a signed 32-bit distance: sequence wrap-around is then free, and
 * offsets in the upper half of the space are "before the start" (a
 * retransmission of data from before the capture began), exactly as TCP
 * itself compares sequence numbers (RFC 9293 3.4).
 *
 * Overlaps. The first copy of a byte wins (a later differing copy is
 * counted in overlap_mismatch): what we identify is then what the first
 * segment said, and an evasion that rewrites bytes shows up in the stats.
 * The one exception is frame padding counted as payload (stream_tcp): only
 * the direction's very first bytes, at most 6 and all zero, can be
 * replaced, and only by one longer segment covering them.
 */
#include "stream/stream.h"

#include "common/table_mem.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STREAM_CAP_MIN 64U
#define STREAM_CAP_MAX (1U << 20)
#define STREAM_SLOTS_MAX (1U << 28)

static size_t bitmap_bytes(uint32_t cap) { return ((size_t)cap + 7) / 8; }

static size_t region_bytes(uint32_t cap) { return (size_t)cap + bitmap_bytes(cap); }

int stream_pool_init(struct stream_pool *sp, const struct stream_config *cfg, char *err, size_t errlen)
{
	memset(sp, 0, sizeof *sp);
	if (cfg->cap < STREAM_CAP_MIN || cfg->cap > STREAM_CAP_MAX) {
		snprintf(err, errlen, "%s:%d: stream cap %u out of range %u..%u", __FILE__, __LINE__,
		         cfg->cap, STREAM_CAP_MIN, STREAM_CAP_MAX);
		return -1;
	}
	if (cfg->max_slots < 1 || cfg->max_slots > STREAM_SLOTS_MAX) {
		snprintf(err, errlen, "%s:%d: stream max_slots %u out of range 1..%u", __FILE__,
		         __LINE__, cfg->max_slots, STREAM_SLOTS_MAX);
		return -1;
	}
	size_t region = region_bytes(cfg->cap);
	if ((size_t)cfg->max_slots > SIZE_MAX / 2 / region) {
		snprintf(err, errlen, "%s:%d: stream pool of %u slots of %u bytes is too large",
		         __FILE__, __LINE__, cfg->max_slots, cfg->cap);
		return -1;
	}
	/* the regions and their states: common/table_mem.h (a spray touches
	 * slots all over the pool: huge pages spare a TLB miss on each) */
	sp->cfg = *cfg; /* stream_pool_free needs the sizes */
	sp->mem = table_alloc((size_t)cfg->max_slots * 2, region);
	sp->dirs = table_alloc((size_t)cfg->max_slots * 2, sizeof *sp->dirs);
	sp->free_list = calloc(cfg->max_slots, sizeof *sp->free_list);
	if (!sp->mem || !sp->dirs || !sp->free_list) {
		stream_pool_free(sp);
		snprintf(err, errlen, "%s:%d: cannot allocate a stream pool of %u slots of %u bytes",
		         __FILE__, __LINE__, cfg->max_slots, cfg->cap);
		return -1;
	}
	sp->mem_bytes = (size_t)cfg->max_slots * 2 * (region + sizeof *sp->dirs) +
	                (size_t)cfg->max_slots * sizeof *sp->free_list;
	return 0;
}

void stream_pool_free(struct stream_pool *sp)
{
	table_free(sp->mem, (size_t)sp->cfg.max_slots * 2, region_bytes(sp->cfg.cap));
	table_free(sp->dirs, (size_t)sp->cfg.max_slots * 2, sizeof *sp->dirs);
	free(sp->free_list);
	sp->mem = NULL;
	sp->dirs = NULL;
	sp->free_list = NULL;
}

static inline size_t dir_index(uint32_t slot, enum flow_dir dir)
{
	return (size_t)slot * 2 + (dir == DIR_TO_CLIENT ? 1 : 0);
}

static inline uint8_t *dir_data(const struct stream_pool *sp, uint32_t slot, enum flow_dir dir)
{
	return sp->mem + dir_index(slot, dir) * region_bytes(sp->cfg.cap);
}

static inline uint8_t *dir_bitmap(const struct stream_pool *sp, uint32_t slot, enum flow_dir dir)
{
	return dir_data(sp, slot, dir) + sp->cfg.cap;
}

/* The state of a taken slot's direction, or NULL for STREAM_NONE. */
static struct stream_dir *dir_state(const struct stream_pool *sp, uint32_t slot,
                                    enum flow_dir dir)
{
	if (slot == STREAM_NONE || !sp->dirs)
		return NULL;
	assert(slot < sp->high_water);
	if (slot >= sp->high_water)
		return NULL;
	return &sp->dirs[dir_index(slot, dir)];
}

static void reset_dir(struct stream_pool *sp, uint32_t slot, enum flow_dir dir)
{
	struct stream_dir *d = &sp->dirs[dir_index(slot, dir)];
	/* Only the bitmap is read back (data bytes are read only where their bit
	 * is set, or below contig), only up to the extent was written, and
	 * nothing at all when the data came in order (fill). */
	if (d->bm_dirty)
		memset(dir_bitmap(sp, slot, dir), 0, ((size_t)d->extent + 7) / 8);
	memset(d, 0, sizeof *d);
}

uint32_t stream_take(struct stream_pool *sp)
{
	uint32_t slot;
	if (sp->free_top > 0) {
		slot = sp->free_list[--sp->free_top];
	} else if (sp->high_water < sp->cfg.max_slots) {
		slot = sp->high_water++;
		if (sp->high_water == sp->cfg.max_slots / 8 + 1) {
			/* grown: worth huge pages (common/table_mem.h) */
			table_want_huge(sp->mem, (size_t)sp->cfg.max_slots * 2, region_bytes(sp->cfg.cap));
			table_want_huge(sp->dirs, (size_t)sp->cfg.max_slots * 2, sizeof *sp->dirs);
		}
	} else {
		sp->stats.slots_exhausted++;
		return STREAM_NONE;
	}
	reset_dir(sp, slot, DIR_TO_SERVER);
	reset_dir(sp, slot, DIR_TO_CLIENT);
	sp->in_use++;
	assert(sp->in_use + sp->free_top == sp->high_water);
	sp->stats.slots_taken++;
	if (sp->in_use > sp->stats.peak_slots)
		sp->stats.peak_slots = sp->in_use;
	return slot;
}

void stream_give(struct stream_pool *sp, uint32_t slot)
{
	if (slot == STREAM_NONE)
		return;
	assert(slot < sp->high_water && sp->in_use > 0);
	if (slot >= sp->high_water || sp->in_use == 0)
		return;
	sp->free_list[sp->free_top++] = slot;
	sp->in_use--;
	assert(sp->in_use + sp->free_top == sp->high_water);
}

/*
 * The fill bitmap: a bit per byte kept, set once the byte is held. Every
 * byte below contig is held, so the bits there are never read: data that
 * arrives in order (nearly all of it) extends contig and sets no bit, and
 * a slot whose bytes all came in order has nothing to clear when it is
 * taken again. Bits are set only for bytes held past contig (out of order,
 * or around a replaced padding), which marks the direction bm_dirty; then
 * reset_dir clears its bitmap up to the extent. At or above contig, a bit
 * is set exactly when its byte is held. (Before, every byte's bit was set
 * and every reused slot's bitmap cleared: memset was 2.9% of perf's
 * samples on the amplified corpus, 0.4% after.)
 */

/* Sets bits [from, to) of bm. */
static void set_bits(uint8_t *bm, uint32_t from, uint32_t to)
{
	while (from < to && (from & 7)) {
		bm[from >> 3] |= (uint8_t)(1u << (from & 7));
		from++;
	}
	if (to - from >= 8) {
		memset(bm + (from >> 3), 0xff, (to - from) >> 3);
		from += (to - from) & ~7u;
	}
	while (from < to) {
		bm[from >> 3] |= (uint8_t)(1u << (from & 7));
		from++;
	}
}

/* Writes p[0..n) at offsets [at, at + n) wherever no byte is held and
 * compares where one is. Returns the number of bytes that were already
 * present; adds differing ones to *mismatch. Does not move contig. */
static uint32_t fill(struct stream_dir *d, uint8_t *data, uint8_t *bm, uint32_t at,
                     const uint8_t *p, uint32_t n, uint64_t *mismatch)
{
	if (at == d->contig && at >= d->extent) {
		/* In order, past everything held (the common case): nothing to
		 * compare, one copy, no bit (below contig, the new one). */
		memcpy(data + at, p, n);
		d->held += n;
		d->contig = at + n;
		return 0;
	}
	uint32_t covered = 0;
	uint32_t i = 0;
	if (at < d->contig) {
		/* below contig: all held, compared */
		uint32_t k = d->contig - at < n ? d->contig - at : n;
		if (memcmp(data + at, p, k) != 0)
			for (uint32_t j = 0; j < k; j++)
				*mismatch += data[at + j] != p[j];
		covered = k;
		i = k;
	}
	if (i < n)
		d->bm_dirty = 1;
	while (i < n) {
		uint32_t o = at + i;
		if ((o & 7) == 0 && n - i >= 8) {
			/* A whole bitmap byte at once: the common cases are all clear
			 * (fresh data) and all set (retransmission). */
			uint8_t b = bm[o >> 3];
			if (b == 0) {
				memcpy(data + o, p + i, 8);
				bm[o >> 3] = 0xff;
				d->held += 8;
				i += 8;
				continue;
			}
			if (b == 0xff) {
				covered += 8;
				if (memcmp(data + o, p + i, 8) != 0)
					for (uint32_t k = 0; k < 8; k++)
						*mismatch += data[o + k] != p[i + k];
				i += 8;
				continue;
			}
		}
		uint8_t bit = (uint8_t)(1u << (o & 7));
		if (bm[o >> 3] & bit) {
			covered++;
			*mismatch += data[o] != p[i];
		} else {
			bm[o >> 3] |= bit;
			data[o] = p[i];
			d->held++;
		}
		i++;
	}
	return covered;
}

static uint32_t advance_contig(const uint8_t *bm, uint32_t c, uint32_t cap)
{
	while (c < cap) {
		if ((c & 7) == 0 && cap - c >= 8 && bm[c >> 3] == 0xff) {
			c += 8;
			continue;
		}
		if (!(bm[c >> 3] & (1u << (c & 7))))
			break;
		c++;
	}
	return c;
}

/* seq - base as a signed distance (RFC 9293 sequence arithmetic), without
 * relying on implementation-defined unsigned-to-signed conversion. */
static int64_t seq_offset(uint32_t seq, uint32_t base)
{
	uint32_t rel = seq - base;
	return rel < 0x80000000U ? (int64_t)rel : (int64_t)rel - 0x100000000LL;
}

void stream_tcp(struct stream_pool *sp, uint32_t slot, enum flow_dir dir, uint32_t seq,
                uint8_t flags, const uint8_t *payload, uint32_t payload_len,
                uint32_t payload_wire_len)
{
	struct stream_dir *d = dir_state(sp, slot, dir);
	if (!d)
		return;
	uint32_t cap = sp->cfg.cap;

	if (flags & TCPF_SYN) {
		/* The SYN takes one sequence number: byte 0 (and TCP Fast Open
		 * data in the SYN itself) is at ISN + 1. A SYN arriving after data
		 * already fixed the base (capture reordering) only moves the base
		 * when nothing has been stored yet. */
		if (!d->have_base || (!d->syn_seen && d->held == 0)) {
			d->base_seq = seq + 1;
			d->have_base = 1;
			d->syn_seen = 1;
		}
		seq += 1;
	}
	if (flags & TCPF_FIN)
		d->fin_seen = 1;
	/* A RST's payload is diagnostic text, never application data (RFC 1122
	 * 4.2.2.12): the endpoint does not deliver it, so neither do we, or an
	 * injected RST could plant bytes the application never saw. */
	if (flags & TCPF_RST)
		return;

	uint32_t wire = payload_wire_len > payload_len ? payload_wire_len : payload_len;
	if (wire == 0)
		return;
	if (!d->have_base) {
		/* Mid-stream start: the first data we see is byte 0. */
		d->base_seq = seq;
		d->have_base = 1;
	}
	if (wire > payload_len) {
		/* The snap length cut this segment: those bytes never come. */
		uint32_t gap = wire - payload_len;
		d->gap_bytes = d->gap_bytes > UINT32_MAX - gap ? UINT32_MAX : d->gap_bytes + gap;
	}
	if (payload_len == 0 || !payload)
		return;
	sp->stats.segments++;

	int64_t start = seq_offset(seq, d->base_seq);
	int64_t end = start + payload_len;
	bool before = false;
	if (end <= 0) {
		sp->stats.before_start++;
		return;
	}
	if (start < 0) {
		/* Straddles the base: keep the part from byte 0 on. */
		payload += (size_t)-start;
		start = 0;
		before = true;
	}
	if (start >= cap) {
		assert(!before); /* a trimmed segment starts at byte 0 */
		sp->stats.beyond_cap++;
		return;
	}
	if (end > cap)
		end = cap;

	uint32_t at = (uint32_t)start, n = (uint32_t)(end - start);
	uint8_t *data = dir_data(sp, slot, dir);
	uint8_t *bm = data + cap;
	if (d->pad_len && !before && at <= d->pad_at && at + n >= d->pad_at + d->pad_len &&
	    n > d->pad_len) {
		/* Padding. A 60-byte minimum Ethernet frame holds up to 6 bytes
		 * of padding after a 40-byte IPv4+TCP header; some stacks count
		 * them in the IP total length, so a bare ACK arrives as a few
		 * zero "payload" bytes at the next sequence number, and the real
		 * first message follows at the same number. The zeros were never
		 * application data (the receiver answered the message that
		 * followed), so the longer segment replaces them instead of
		 * being an overlap. */
		uint32_t pad_end = d->pad_at + d->pad_len;
		if (d->contig > d->pad_at) {
			/* contig falls back to the padding: what it covered past
			 * the padding is held, and now has to say so */
			if (d->contig > pad_end)
				set_bits(bm, pad_end, d->contig);
			d->contig = d->pad_at;
			d->bm_dirty = 1;
		}
		for (uint32_t o = d->pad_at; o < pad_end; o++)
			bm[o >> 3] &= (uint8_t)~(1u << (o & 7));
		d->held -= d->pad_len;
		d->pad_len = 0;
		sp->stats.padding_replaced++;
	}
	uint32_t old_contig = d->contig;
	uint32_t covered = fill(d, data, bm, at, payload, n, &sp->stats.overlap_mismatch);
	if (covered == 0 && !before && n <= 6 && wire == payload_len && d->held == n) {
		/* The direction's first bytes: remember them if they are all
		 * zero, the padding shape above. */
		uint32_t k = 0;
		while (k < n && payload[k] == 0)
			k++;
		if (k == n) {
			d->pad_at = at;
			d->pad_len = (uint8_t)n;
		}
	} else if (covered < n) {
		d->pad_len = 0; /* other data arrived: the zeros stand */
	}
	if (at + n > d->extent)
		d->extent = at + n;
	d->contig = advance_contig(bm, d->contig, cap);
	assert(d->contig <= d->held && d->held <= cap && d->extent <= cap);

	if (before)
		sp->stats.before_start++;
	else if (covered == n)
		sp->stats.retransmissions++;
	else if (covered > 0)
		sp->stats.overlaps++;
	else if (at == old_contig)
		sp->stats.in_order++;
	else
		sp->stats.out_of_order++;
}

void stream_udp(struct stream_pool *sp, uint32_t slot, enum flow_dir dir, const uint8_t *payload,
                uint32_t payload_len)
{
	struct stream_dir *d = dir_state(sp, slot, dir);
	if (!d)
		return;
	uint32_t cap = sp->cfg.cap;
	if (d->held >= cap)
		return;
	if (!payload)
		payload_len = 0;
	uint32_t n = payload_len < cap - d->held ? payload_len : cap - d->held;
	if (n)
		memcpy(dir_data(sp, slot, dir) + d->held, payload, n);
	if (d->ndgrams < STREAM_MAX_DGRAMS)
		d->dgram_len[d->ndgrams++] = (uint16_t)(n > UINT16_MAX ? UINT16_MAX : n);
	d->held += n;
	d->contig = d->held;
	sp->stats.datagrams++;
}

const uint8_t *stream_data(const struct stream_pool *sp, uint32_t slot, enum flow_dir dir,
                           uint32_t *len)
{
	const struct stream_dir *d = dir_state(sp, slot, dir);
	if (!d) {
		*len = 0;
		return NULL;
	}
	*len = d->contig;
	/* Suspected padding (stream_tcp) that nothing has followed yet is not
	 * shown until the direction closes: the real first message may still
	 * replace it, and judging a protocol by two zero bytes would decide
	 * the flow before that message arrives. */
	if (d->pad_len && d->pad_at == 0 && d->contig == d->pad_len && !d->fin_seen)
		*len = 0;
	return dir_data(sp, slot, dir);
}

const struct stream_dir *stream_dir_state(const struct stream_pool *sp, uint32_t slot,
                                          enum flow_dir dir)
{
	return dir_state(sp, slot, dir);
}

bool stream_full(const struct stream_pool *sp, uint32_t slot, enum flow_dir dir)
{
	const struct stream_dir *d = dir_state(sp, slot, dir);
	/* TCP: held == cap means every bit is set, so contig == cap too; UDP:
	 * no room for another byte. One test serves both. */
	return d && d->held >= sp->cfg.cap;
}

void stream_prefetch(const struct stream_pool *sp, uint32_t slot)
{
	if (slot == STREAM_NONE || slot >= sp->high_water)
		return;
	for (int d = 0; d < 2; d++) {
		__builtin_prefetch(&sp->dirs[dir_index(slot, (enum flow_dir)d)]);
		/* two lines of first bytes: a datagram of a UDP spray is up to
		 * 120 bytes, and deciding reads it whole (the payload class) */
		__builtin_prefetch(dir_data(sp, slot, (enum flow_dir)d));
		__builtin_prefetch(dir_data(sp, slot, (enum flow_dir)d) + 64);
	}
}

static void swap_bytes(uint8_t *x, uint8_t *y, size_t n)
{
	uint8_t buf[512];
	for (size_t off = 0; off < n; off += sizeof buf) {
		size_t k = n - off < sizeof buf ? n - off : sizeof buf;
		memcpy(buf, x + off, k);
		memcpy(x + off, y + off, k);
		memcpy(y + off, buf, k);
	}
}

void stream_swap(struct stream_pool *sp, uint32_t slot)
{
	struct stream_dir *a = dir_state(sp, slot, DIR_TO_SERVER);
	struct stream_dir *b = dir_state(sp, slot, DIR_TO_CLIENT);
	if (!a || !b)
		return;
	struct stream_dir t = *a;
	*a = *b;
	*b = t;
	/* Swap the two regions in place, bytes and bitmap, up to the larger
	 * extent: beyond it neither was written since the slot was taken
	 * (bitmaps zero, bytes never read). */
	size_t ext = a->extent > b->extent ? a->extent : b->extent;
	uint8_t *x = dir_data(sp, slot, DIR_TO_SERVER), *y = dir_data(sp, slot, DIR_TO_CLIENT);
	size_t cap = sp->cfg.cap;
	swap_bytes(x, y, ext);
	swap_bytes(x + cap, y + cap, (ext + 7) / 8);
}
