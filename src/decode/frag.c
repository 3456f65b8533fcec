/*
 * frag.c - IPv4 (RFC 791 section 3.2) and IPv6 (RFC 8200 section 4.5)
 * fragment reassembly in a table sized once at decoder_init().
 *
 * Memory: cfg.frag_max contexts, each with a 65536-byte buffer taken from
 * one calloc (the OS backs only the pages fragments touch) and a bitmap of
 * the 8-byte units held (every fragment but the last is a multiple of 8
 * bytes at an offset that is a multiple of 8, so units never split).
 * Nothing is allocated per packet.
 *
 * A datagram is keyed on (version, source, destination, id, and for IPv4
 * the protocol), as RFC 791 and RFC 8200 define it. Its payload may be up
 * to 65535 bytes; a fragment reaching beyond is DROP_FRAG_BAD.
 *
 * Overlaps: the first copy wins. A fragment whose bytes all agree with
 * what is held (a retransmission, or an overlap with the same content) is
 * DECODE_FRAG_HELD and adds whatever it brings new. A fragment that
 * overlaps held bytes with different content is evidence of an evasion
 * attempt (Ptacek & Newsham; RFC 5722 for IPv6): it is counted once as
 * DECODE_MALFORMED / DROP_FRAG_OVERLAP and discarded whole (none of its
 * bytes are stored), while the datagram stays open so that a consistent
 * fragment may still complete it. A fragment contradicting the datagram's
 * known end is DROP_FRAG_BAD, also discarded whole.
 *
 * Lifetime: a context opens with its first fragment and is dropped
 * incomplete when frag_timeout_us of capture time has passed since then
 * (stats.frag_timeout, checked on lookup and by a sweep at most once per
 * second of capture time), when the table is full and a new datagram needs
 * room (the context open longest goes: stats.frag_evicted), or at
 * decode_flush (stats.frag_flushed). A completed context is pinned: the
 * packet's payload points into it until the next decode_packet call
 * releases it, and a pinned context is never evicted.
 *
 * Open contexts are kept on a list in the order they opened, so that
 * eviction takes the head and the sweep walks from the head to the first
 * context still in time: both cost O(1) per context dropped, whatever
 * frag_max is (a fragment flood evicts on every fragment). Capture time
 * that goes backwards (several inputs) can put a younger context ahead of
 * an older one; it then expires on lookup, at a later sweep or by
 * eviction, never later than the end of the run.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/siphash.h"
#include "decode/decode_int.h"

#define FRAG_BUF 65536u          /* per context */
#define FRAG_MAX_PAYLOAD 65535u  /* largest reassembled payload */
#define FRAG_UNITS (FRAG_BUF / 8)
#define FRAG_SWEEP_EVERY_US 1000000u
/* One reassembly may complete per IP layer of a packet; a packet has at
 * most DECODE_MAX_DEPTH + 1 IP layers. */
#define FRAG_PINNED_MAX (DECODE_MAX_DEPTH + 1)

enum ctx_state { CTX_FREE = 0, CTX_OPEN, CTX_DONE };

struct frag_ctx {
	uint8_t state;     /* enum ctx_state */
	uint8_t have_last; /* the fragment with MF = 0 arrived: total known */
	uint8_t nh;        /* protocol of the reassembled payload */
	struct frag_key key;
	uint64_t first_ts;
	uint32_t total;      /* payload length, once have_last */
	uint32_t max_end;    /* highest byte end held */
	uint32_t units_held; /* bits set in held[] */
	uint64_t frame_bytes; /* wire bytes of the frames whose fragments were taken */
	uint32_t hash;       /* key_hash of key */
	/* held[] has bits set only for units in [min_off, max_end): what
	 * ctx_open clears when the context is next used (not all 1 KiB) */
	uint32_t min_off;
	int32_t hnext;       /* hash chain, -1 ends */
	int32_t older, newer; /* the open list, -1 ends */
	uint8_t held[FRAG_UNITS / 8];
};

struct frag_table {
	struct frag_ctx *ctx;
	uint8_t *bufs; /* n * FRAG_BUF */
	int32_t *bucket;
	uint32_t bmask;
	int32_t *freelist;
	uint32_t nfree;
	uint32_t n;
	uint32_t open; /* contexts in CTX_OPEN */
	int32_t oldest, newest; /* ends of the open list, -1 when empty */
	int32_t done[FRAG_PINNED_MAX];
	unsigned ndone;
	uint64_t last_sweep;
	uint64_t seed[2]; /* SipHash key, random per run */
};

/* SipHash-1-3 keyed per run (common/siphash.h): an attacker who knows
 * the code cannot choose addresses and ids that all land in one chain.
 * Computed once per fragment (kept in the context for its unlinking). */
static uint32_t key_hash(const struct frag_key *k, const uint64_t seed[2])
{
	uint64_t w[5];
	memcpy(&w[0], k->src, 16);
	memcpy(&w[2], k->dst, 16);
	w[4] = (uint64_t)k->id | (uint64_t)k->proto << 32 | (uint64_t)k->ipver << 40;
	return (uint32_t)sip13(seed[0], seed[1], w, 5);
}

static bool key_eq(const struct frag_key *a, const struct frag_key *b)
{
	return a->ipver == b->ipver && a->proto == b->proto && a->id == b->id &&
	       memcmp(a->src, b->src, 16) == 0 && memcmp(a->dst, b->dst, 16) == 0;
}

static bool unit_held(const struct frag_ctx *c, uint32_t u) { return c->held[u / 8] & (1u << (u % 8)); }

static void unit_set(struct frag_ctx *c, uint32_t u) { c->held[u / 8] |= (uint8_t)(1u << (u % 8)); }

/* The bits of units [u0, u1) of held byte i. */
static uint8_t units_mask(uint32_t i, uint32_t u0, uint32_t u1)
{
	uint32_t lo = u0 > i * 8 ? u0 - i * 8 : 0, hi = u1 < i * 8 + 8 ? u1 - i * 8 : 8;
	return (uint8_t)((0xffu << lo) & (0xffu >> (8 - hi)));
}

/* Whether any unit of [u0, u1) is held. */
static bool any_held(const struct frag_ctx *c, uint32_t u0, uint32_t u1)
{
	for (uint32_t i = u0 / 8; u0 < u1 && i <= (u1 - 1) / 8; i++)
		if (c->held[i] & units_mask(i, u0, u1))
			return true;
	return false;
}

/* Marks units [u0, u1) held. */
static void set_held(struct frag_ctx *c, uint32_t u0, uint32_t u1)
{
	for (uint32_t i = u0 / 8; u0 < u1 && i <= (u1 - 1) / 8; i++)
		c->held[i] |= units_mask(i, u0, u1);
}

static uint8_t *ctx_buf(struct frag_table *t, int32_t i) { return t->bufs + (size_t)i * FRAG_BUF; }

int frag_table_create(struct decoder *d, char *err, size_t errlen)
{
	uint32_t n = d->cfg.frag_max;
	uint32_t nb = 1;
	while (nb < 2 * n)
		nb <<= 1;
	struct frag_table *t = calloc(1, sizeof *t);
	if (t) {
		t->ctx = calloc(n, sizeof *t->ctx);
		t->bufs = calloc(n, FRAG_BUF);
		t->bucket = malloc(nb * sizeof *t->bucket);
		t->freelist = malloc(n * sizeof *t->freelist);
	}
	if (!t || !t->ctx || !t->bufs || !t->bucket || !t->freelist) {
		if (t) {
			free(t->ctx);
			free(t->bufs);
			free(t->bucket);
			free(t->freelist);
			free(t);
		}
		snprintf(err, errlen, "%s:%d: decode: cannot allocate %u reassembly contexts", __FILE__,
		         __LINE__, (unsigned)n);
		return -1;
	}
	t->n = n;
	t->bmask = nb - 1;
	d->mem_bytes = sizeof *t + (size_t)n * (sizeof *t->ctx + FRAG_BUF + sizeof *t->freelist) +
	               (size_t)nb * sizeof *t->bucket;
	t->oldest = t->newest = -1;
	t->seed[0] = sip_random_seed();
	t->seed[1] = sip_mix64(t->seed[0]);
	for (uint32_t i = 0; i < nb; i++)
		t->bucket[i] = -1;
	/* Pop order 0, 1, 2, ... keeps runs reproducible. */
	for (uint32_t i = 0; i < n; i++)
		t->freelist[i] = (int32_t)(n - 1 - i);
	t->nfree = n;
	d->frags = t;
	return 0;
}

void frag_table_destroy(struct decoder *d)
{
	struct frag_table *t = d->frags;
	if (!t)
		return;
	free(t->ctx);
	free(t->bufs);
	free(t->bucket);
	free(t->freelist);
	free(t);
	d->frags = NULL;
}

/* Takes an open context off its hash chain and the open list. */
static void ctx_unlink(struct frag_table *t, int32_t i)
{
	struct frag_ctx *c = &t->ctx[i];
	if (c->older >= 0)
		t->ctx[c->older].newer = c->newer;
	else
		t->oldest = c->newer;
	if (c->newer >= 0)
		t->ctx[c->newer].older = c->older;
	else
		t->newest = c->older;
	int32_t *pp = &t->bucket[c->hash & t->bmask];
	while (*pp != -1) {
		if (*pp == i) {
			*pp = t->ctx[i].hnext;
			return;
		}
		pp = &t->ctx[*pp].hnext;
	}
}

/* Frees an open context (timeout, eviction, flush). */
static void ctx_drop(struct frag_table *t, int32_t i)
{
	ctx_unlink(t, i);
	t->ctx[i].state = CTX_FREE;
	t->freelist[t->nfree++] = i;
	t->open--;
}

static int32_t ctx_find(struct frag_table *t, const struct frag_key *k, uint32_t h)
{
	for (int32_t i = t->bucket[h & t->bmask]; i != -1; i = t->ctx[i].hnext)
		if (t->ctx[i].hash == h && key_eq(&t->ctx[i].key, k))
			return i;
	return -1;
}

static bool expired(const struct decoder *d, const struct frag_ctx *c, uint64_t now)
{
	return now > c->first_ts && now - c->first_ts > d->cfg.frag_timeout_us;
}

static int32_t ctx_open(struct decoder *d, const struct frag_key *k, uint32_t h, uint64_t now)
{
	struct frag_table *t = d->frags;
	if (t->nfree == 0) {
		/* Evict the datagram open longest; completed ones are pinned
		 * (and not on the open list). */
		int32_t victim = t->oldest;
		if (victim < 0)
			return -1;
		ctx_drop(t, victim);
		d->stats.frag_evicted++;
	}
	int32_t i = t->freelist[--t->nfree];
	struct frag_ctx *c = &t->ctx[i];
	/* the previous datagram's bits (zeroed memory: none), then the rest
	 * of the state; a flood of small fragments writes two lines here, not
	 * the 17 of the whole context */
	if (c->max_end > c->min_off) {
		uint32_t b0 = c->min_off / 64, b1 = (c->max_end + 63) / 64;
		memset(c->held + b0, 0, b1 - b0);
	}
	memset(c, 0, offsetof(struct frag_ctx, held));
	c->state = CTX_OPEN;
	c->key = *k;
	c->hash = h;
	c->min_off = FRAG_BUF;
	c->first_ts = now;
	uint32_t b = h & t->bmask;
	c->hnext = t->bucket[b];
	t->bucket[b] = i;
	c->older = t->newest;
	c->newer = -1;
	if (t->newest >= 0)
		t->ctx[t->newest].newer = i;
	else
		t->oldest = i;
	t->newest = i;
	t->open++;
	d->stats.frag_datagrams++;
	return i;
}

/* Stores a fragment's bytes [offset, end) in c, unless bytes it overlaps
 * differ from those held (false, nothing stored). */
static bool store(struct frag_ctx *c, uint8_t *buf, uint32_t offset, uint32_t end,
                  struct reader *data)
{
	uint32_t u0 = offset / 8, u1 = (end + 7) / 8;
	if (!any_held(c, u0, u1)) {
		/* Nothing of it held yet (a new datagram, fragments that do not
		 * overlap): all of it is stored, in one copy. */
		if (end > offset) {
			memcpy(buf + offset, rd_bytes(data, end - offset), end - offset);
			set_held(c, u0, u1);
			c->units_held += u1 - u0;
		}
		return true;
	}
	/* Pass 1: held units must carry the same bytes. */
	struct reader chk = *data;
	for (uint32_t lo = offset; lo < end; lo += 8) {
		uint32_t n = end - lo < 8 ? end - lo : 8;
		const uint8_t *b = rd_bytes(&chk, n);
		if (b && unit_held(c, lo / 8) && memcmp(buf + lo, b, n) != 0)
			return false;
	}
	/* Pass 2: store what is new (first copy wins). */
	for (uint32_t lo = offset; lo < end; lo += 8) {
		uint32_t n = end - lo < 8 ? end - lo : 8;
		const uint8_t *b = rd_bytes(data, n);
		if (b && !unit_held(c, lo / 8)) {
			memcpy(buf + lo, b, n);
			unit_set(c, lo / 8);
			c->units_held++;
		}
	}
	return true;
}

enum frag_outcome frag_add(struct dstate *s, const struct frag_key *key, uint32_t offset, bool more,
                           struct reader *data, uint8_t nh, struct reader *datagram, uint8_t *nh_out)
{
	struct decoder *d = s->d;
	struct frag_table *t = d->frags;
	uint32_t len = (uint32_t)rd_remaining(data);
	uint32_t end = offset + len;

	/* Only the last fragment may end off an 8-byte boundary, and only it
	 * may be empty (it then just marks the end). */
	if (end > FRAG_MAX_PAYLOAD || (more && (len == 0 || len % 8 != 0))) {
		s->drop = DROP_FRAG_BAD;
		return FRAG_OUT_DROP;
	}
	if (!t) {
		s->drop = DROP_FRAG_NO_CONTEXT;
		return FRAG_OUT_DROP;
	}

	uint32_t h = key_hash(key, t->seed);
	int32_t i = ctx_find(t, key, h);
	if (i >= 0 && expired(d, &t->ctx[i], s->ts_us)) {
		ctx_drop(t, i);
		d->stats.frag_timeout++;
		i = -1;
	}
	if (i < 0) {
		i = ctx_open(d, key, h, s->ts_us);
		if (i < 0) {
			s->drop = DROP_FRAG_NO_CONTEXT;
			return FRAG_OUT_DROP;
		}
	}
	struct frag_ctx *c = &t->ctx[i];
	uint8_t *buf = ctx_buf(t, i);

	/* The datagram's end must be consistent: one last fragment, and no
	 * fragment beyond it. */
	if ((!more && ((c->have_last && end != c->total) || end < c->max_end)) ||
	    (more && c->have_last && end > c->total)) {
		s->drop = DROP_FRAG_BAD;
		return FRAG_OUT_DROP;
	}

	if (!store(c, buf, offset, end, data)) {
		s->drop = DROP_FRAG_OVERLAP;
		return FRAG_OUT_DROP;
	}
	if (offset < c->min_off)
		c->min_off = offset;
	c->frame_bytes += s->frame_len;
	if (!more) {
		c->have_last = 1;
		c->total = end;
	}
	if (end > c->max_end)
		c->max_end = end;
	if (offset == 0)
		c->nh = nh; /* IPv6: the first fragment's Next Header rules */

	if (!c->have_last || c->units_held != (c->total + 7) / 8)
		return FRAG_OUT_HELD;

	/* Complete. Pin it until the next decode_packet call. */
	ctx_unlink(t, i);
	t->open--;
	if (t->ndone >= FRAG_PINNED_MAX) { /* cannot happen: one per IP layer */
		c->state = CTX_FREE;
		t->freelist[t->nfree++] = i;
		s->drop = DROP_FRAG_NO_CONTEXT;
		return FRAG_OUT_DROP;
	}
	c->state = CTX_DONE;
	t->done[t->ndone++] = i;
	d->stats.frag_reassembled++;
	rd_init(datagram, buf, c->total);
	*nh_out = c->nh;
	s->pkt->frame_bytes = c->frame_bytes > UINT32_MAX ? UINT32_MAX : (uint32_t)c->frame_bytes;
	return FRAG_OUT_COMPLETE;
}

void frag_release_completed(struct decoder *d)
{
	struct frag_table *t = d->frags;
	if (!t)
		return;
	for (unsigned k = 0; k < t->ndone; k++) {
		int32_t i = t->done[k];
		t->ctx[i].state = CTX_FREE;
		t->freelist[t->nfree++] = i;
	}
	t->ndone = 0;
}

void decode_expire(struct decoder *d, uint64_t now_us)
{
	struct frag_table *t = d->frags;
	if (!t)
		return;
	t->last_sweep = now_us;
	while (t->oldest >= 0 && expired(d, &t->ctx[t->oldest], now_us)) {
		ctx_drop(t, t->oldest);
		d->stats.frag_timeout++;
	}
}

void frag_maybe_expire(struct decoder *d, uint64_t now_us)
{
	struct frag_table *t = d->frags;
	if (!t || t->open == 0)
		return;
	/* A clock that went backwards restarts the sweep period. */
	if (now_us < t->last_sweep || now_us - t->last_sweep >= FRAG_SWEEP_EVERY_US)
		decode_expire(d, now_us);
}

void decode_flush(struct decoder *d)
{
	struct frag_table *t = d->frags;
	if (!t)
		return;
	frag_release_completed(d);
	while (t->oldest >= 0) {
		ctx_drop(t, t->oldest);
		d->stats.frag_flushed++;
	}
}
