/*
 * flow.c - the bounded flow table (see flow.h for the contract).
 *
 * Layout. One calloc'd array of cfg.max_flows entries and one of hash
 * buckets (a power of two >= max_flows). Both are zero-filled, large
 * callocs come straight from mmap, and pages are only backed when touched,
 * so the table's resident memory follows the flows actually seen. Entries
 * are handed out from a high-water mark first, then from a free list of
 * ended entries, so an untouched entry is never written.
 *
 * Links. Every private link (bucket slots, LRU prev/next, LRU heads and
 * tails, the free list) holds an entry index + 1, and 0 means "none":
 * zeroed memory is then a valid empty table and the buckets never need an
 * initialising pass.
 *
 * Buckets. A bucket is one cache line of BUCKET_SLOTS slots: a one-byte
 * tag per slot (8 bits of the flow's hash, never 0; 0 marks an empty
 * slot), the slots' links, and an overflow count. There is one bucket
 * per BUCKET_LOAD (8) flows of max_flows, so a full table fills two
 * thirds of the slots, and the buckets cost 8 bytes a flow (the chained
 * table before them cost 4). A flow lives in its home bucket (from the
 * hash's high bits) or, when that is full, in the first bucket after it
 * with a free slot; each full bucket it passed counts it in its
 * overflow, and a lookup goes on to the next bucket (the adjacent cache
 * line) only while that count says some flow did: at a full table about
 * one bucket in nine is full. Measured on the flood, text: as fast as
 * with one bucket per 6 flows, 17% faster than the chained table
 * (docs/performance.md). The lookup of a new flow
 * (every packet of a flood) then touches one cache line and reads no
 * entry unless a tag matches by chance (one in 255 per occupied slot);
 * adding it writes that same line, and ending a flow writes only its own
 * bucket. The earlier chained table (a 4-byte bucket per flow, entries
 * linked both ways) read or wrote an entry of another flow for most new
 * flows: a cache miss each in a table far larger than the caches.
 *
 * Expiry. There is one LRU list per distinct timeout (TCP new, established,
 * closing, closed, and UDP). Every packet moves its flow to the tail of its
 * class list, and time never goes backwards, so each list is ordered by
 * last-seen: expiry only ever looks at list heads, O(1) per ended flow.
 */
#include "flow/flow.h"

#include "common/siphash.h"
#include "common/table_mem.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define US_PER_S 1000000ULL

/* Upper bound on max_flows: links are index + 1 in a uint32_t, and 2^28
 * entries is already far beyond what a sensor can keep resident. */
#define FLOW_MAX_FLOWS (1U << 28)

/* flow_id keeps 51 bits so it survives a round trip through a double
 * (JSON consumers), like Suricata's flow_id. */
#define FLOW_ID_MASK ((1ULL << 51) - 1)

enum lru_class {
	LC_TCP_NEW,
	LC_TCP_ESTABLISHED,
	LC_TCP_CLOSING,
	LC_TCP_CLOSED,
	LC_UDP,
};

_Static_assert(LC_UDP + 1 == FLOW_LRU_CLASSES, "one LRU list per class");

/* ---- names -------------------------------------------------------------- */

const char *flow_state_name(enum flow_state s)
{
	static const char *const names[FLOW_STATE__COUNT] = {
		[FLOW_NEW] = "new",
		[FLOW_ESTABLISHED] = "established",
		[FLOW_CLOSING] = "closing",
		[FLOW_CLOSED] = "closed",
	};
	return (unsigned)s < FLOW_STATE__COUNT ? names[s] : "unknown";
}

const char *flow_orient_name(enum flow_orient o)
{
	static const char *const names[ORIENT__COUNT] = {
		[ORIENT_SYN] = "syn",
		[ORIENT_SYNACK] = "synack",
		[ORIENT_PORT] = "port",
		[ORIENT_FIRST_PACKET] = "first_packet",
		[ORIENT_PAYLOAD] = "payload",
	};
	return (unsigned)o < ORIENT__COUNT ? names[o] : "unknown";
}

const char *flow_end_name(enum flow_end e)
{
	static const char *const names[FLOW_END__COUNT] = {
		[FLOW_END_NONE] = "none",
		[FLOW_END_FIN] = "fin",
		[FLOW_END_RST] = "rst",
		[FLOW_END_TIMEOUT] = "timeout",
		[FLOW_END_EVICTED] = "evicted",
		[FLOW_END_EOF] = "eof",
	};
	return (unsigned)e < FLOW_END__COUNT ? names[e] : "unknown";
}

/* ---- configuration ------------------------------------------------------ */

/*
 * Defaults:
 *   max_flows                  262144 (2^18; ~45 MB of entries when all used)
 *   tcp_new_timeout            30 s   (an unanswered SYN: scans, SYN floods)
 *   tcp_established_timeout    600 s  (idle keep-alive connections)
 *   tcp_closing_timeout        120 s  (one FIN seen: half-closed)
 *   tcp_closed_timeout         10 s   (both FINs or RST: linger for stragglers)
 *   udp_timeout                60 s
 *   seed                       0      (random hash seed per run)
 */
void flow_config_defaults(struct flow_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->max_flows = 262144;
	cfg->tcp_new_timeout_us = 30 * US_PER_S;
	cfg->tcp_established_timeout_us = 600 * US_PER_S;
	cfg->tcp_closing_timeout_us = 120 * US_PER_S;
	cfg->tcp_closed_timeout_us = 10 * US_PER_S;
	cfg->udp_timeout_us = 60 * US_PER_S;
	cfg->seed = 0;
}

/* ---- hashing ------------------------------------------------------------ */

/* The bucket hash is SipHash-1-3 (common/siphash.h) keyed with the
 * per-run seed, so that an attacker who knows the code still cannot aim
 * packets at one bucket; flow_id uses the same function with a fixed key
 * so that it is the same in every run. */

/* Bytes loaded little-endian explicitly, so flow_id is the same on every
 * host for the same capture. */
static uint64_t load_le64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof v);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	return v;
}

#define KEY_WORDS 6
_Static_assert(sizeof ((struct flow_table *)0)->last_key == KEY_WORDS * sizeof(uint64_t),
               "flow_table.last_key holds one key");

/* The canonical key: the same for both directions of a flow. The tunnel's
 * outer addresses are left out on purpose: they swap with the direction
 * (and may differ per direction on asymmetric paths). */
static void key_words(uint64_t w[KEY_WORDS], uint8_t ipver, uint8_t proto, const uint8_t *ip_a,
                      uint16_t port_a, const uint8_t *ip_b, uint16_t port_b, uint16_t vlan,
                      uint8_t ttype, uint32_t tid)
{
	/* memcmp order of the two addresses, as two big-endian words */
	uint64_t a0 = load_le64(ip_a), a1 = load_le64(ip_a + 8);
	uint64_t b0 = load_le64(ip_b), b1 = load_le64(ip_b + 8);
	uint64_t ah = __builtin_bswap64(a0), bh = __builtin_bswap64(b0);
	int c = ah != bh ? (ah > bh ? 1 : -1)
	                 : a1 != b1 ? (__builtin_bswap64(a1) > __builtin_bswap64(b1) ? 1 : -1) : 0;
	if (c > 0 || (c == 0 && port_a > port_b)) {
		const uint8_t *ti = ip_a;
		ip_a = ip_b;
		ip_b = ti;
		uint16_t tp = port_a;
		port_a = port_b;
		port_b = tp;
	}
	w[0] = load_le64(ip_a);
	w[1] = load_le64(ip_a + 8);
	w[2] = load_le64(ip_b);
	w[3] = load_le64(ip_b + 8);
	w[4] = (uint64_t)port_a | (uint64_t)port_b << 16 | (uint64_t)ipver << 32 |
	       (uint64_t)proto << 40 | (uint64_t)vlan << 48;
	w[5] = (uint64_t)ttype | (uint64_t)tid << 32;
}

/* The tunnel id is part of the key only where it names a network that
 * both directions share: a VXLAN or GENEVE VNI (overlapping address spaces
 * of different tenants) and an ERSPAN session. GTP-U TEIDs and PPTP call
 * ids differ per direction by design, and GRE keys may: keying on them
 * would split one conversation into two flows. */
static uint32_t pkt_tunnel_id(const struct tunnel_info *t)
{
	if (!t->id_valid)
		return 0;
	switch (t->type) {
	case TUNNEL_VXLAN:
	case TUNNEL_GENEVE:
	case TUNNEL_ERSPAN:
		return t->id;
	default:
		return 0;
	}
}

static void pkt_key(const struct packet *p, uint64_t w[KEY_WORDS])
{
	key_words(w, p->ip_version, p->l4_proto, p->src_ip, p->src_port, p->dst_ip, p->dst_port,
	          p->vlan_id, p->tunnel.type, pkt_tunnel_id(&p->tunnel));
}

/* An IPv4 key has its addresses in the low halves of words 0 and 2 and
 * zeros in words 1 and 3 (packet addresses are zero past the fourth
 * byte): folded into three words it hashes in seven SipHash rounds
 * instead of ten, about 55 instructions less on every packet that is not
 * of the previous packet's flow. Folding loses nothing (the version in
 * word 4 keeps IPv4 and IPv6 keys apart); the flow_id still hashes the
 * whole key. */
static uint32_t key_hash(const struct flow_table *ft, const uint64_t w[KEY_WORDS])
{
	if ((uint8_t)(w[4] >> 32) == 4) {
		uint64_t v4[3] = {w[0] | w[2] << 32, w[4], w[5]};
		return (uint32_t)sip13(ft->seed, ft->seed2, v4, 3);
	}
	return (uint32_t)sip13(ft->seed, ft->seed2, w, KEY_WORDS);
}

static uint64_t make_flow_id(const uint64_t key[KEY_WORDS], uint64_t first_ts, uint64_t serial)
{
	uint64_t w[KEY_WORDS + 2];
	memcpy(w, key, KEY_WORDS * sizeof w[0]);
	w[KEY_WORDS] = first_ts;
	w[KEY_WORDS + 1] = serial;
	uint64_t id = sip13(0x6f6666706f727431ULL, 0x666c6f775f696421ULL, w, KEY_WORDS + 2) &
	              FLOW_ID_MASK;
	return id ? id : 1;
}

/* ---- entry helpers ------------------------------------------------------ */

static inline struct flow *ent(const struct flow_table *ft, uint32_t link)
{
	assert(link != 0 && link <= ft->high_water);
	return &ft->entries[link - 1];
}

static inline uint32_t link_of(const struct flow_table *ft, const struct flow *f)
{
	return (uint32_t)(f - ft->entries) + 1;
}

static uint8_t class_of(const struct flow *f)
{
	if (f->proto != 6)
		return LC_UDP;
	switch (f->state) {
	case FLOW_NEW:
		return LC_TCP_NEW;
	case FLOW_CLOSING:
		return LC_TCP_CLOSING;
	case FLOW_CLOSED:
		return LC_TCP_CLOSED;
	default:
		return LC_TCP_ESTABLISHED;
	}
}

static uint64_t class_timeout(const struct flow_table *ft, uint8_t lc)
{
	switch (lc) {
	case LC_TCP_NEW:
		return ft->cfg.tcp_new_timeout_us;
	case LC_TCP_ESTABLISHED:
		return ft->cfg.tcp_established_timeout_us;
	case LC_TCP_CLOSING:
		return ft->cfg.tcp_closing_timeout_us;
	case LC_TCP_CLOSED:
		return ft->cfg.tcp_closed_timeout_us;
	default:
		return ft->cfg.udp_timeout_us;
	}
}

static bool idle_expired(const struct flow_table *ft, const struct flow *f, uint64_t now)
{
	uint64_t t = class_timeout(ft, f->lclass);
	/* Saturating: a huge configured timeout must not wrap to "expired". */
	return f->last_ts_us + t >= f->last_ts_us && f->last_ts_us + t <= now;
}

static void lru_unlink(struct flow_table *ft, struct flow *f)
{
	uint8_t c = f->lclass;
	if (f->lprev)
		ent(ft, f->lprev)->lnext = f->lnext;
	else
		ft->lru_head[c] = f->lnext;
	if (f->lnext)
		ent(ft, f->lnext)->lprev = f->lprev;
	else
		ft->lru_tail[c] = f->lprev;
	f->lprev = f->lnext = 0;
}

static void lru_append(struct flow_table *ft, struct flow *f, uint8_t c)
{
	uint32_t l = link_of(ft, f);
	f->lclass = c;
	f->lnext = 0;
	f->lprev = ft->lru_tail[c];
	if (f->lprev) {
		/* The ordering every expiry decision relies on. */
		assert(ent(ft, f->lprev)->last_ts_us <= f->last_ts_us);
		ent(ft, f->lprev)->lnext = l;
	} else {
		ft->lru_head[c] = l;
	}
	ft->lru_tail[c] = l;
}

/* ---- buckets (top of this file) ----------------------------------------- */

#define BUCKET_SLOTS 12
#define BUCKET_LOAD 8 /* flows of max_flows per bucket */

struct flow_bucket {
	uint8_t tag[BUCKET_SLOTS];
	uint32_t overflow; /* flows living past this bucket that passed it full */
	uint32_t link[BUCKET_SLOTS];
};
_Static_assert(sizeof(struct flow_bucket) == 64, "a bucket is one cache line");

/* The home bucket: the hash's high bits scaled to nbuckets (any count,
 * not only a power of two); the tag comes from its low 8 bits. */
static inline uint32_t home_bucket(const struct flow_table *ft, uint32_t h)
{
	return (uint32_t)(((uint64_t)h * ft->nbuckets) >> 32);
}

static inline uint8_t hash_tag(uint32_t h)
{
	uint8_t t = (uint8_t)h;
	return t ? t : 1;
}

static inline uint32_t next_bucket(const struct flow_table *ft, uint32_t i)
{
	return i + 1 == ft->nbuckets ? 0 : i + 1;
}

/* Bit 8*k+7 set for each slot k whose tag is t (t == 0: each empty slot).
 * Exact (no carry crosses a byte): ((x & 0x7f) + 0x7f) | x has its top
 * bit clear only for a zero byte. */
static inline uint64_t zero_bytes(uint64_t x)
{
	const uint64_t low7 = 0x7f7f7f7f7f7f7f7fULL;
	return ~(((x & low7) + low7) | x | low7);
}

static inline uint32_t tag_matches(const struct flow_bucket *b, uint8_t t)
{
	/* slot k's tag in byte k of lo (k < 8) or of hi, on any host */
	uint64_t lo = load_le64(b->tag);
	uint64_t hi = (uint64_t)b->tag[8] | (uint64_t)b->tag[9] << 8 | (uint64_t)b->tag[10] << 16 |
	              (uint64_t)b->tag[11] << 24;
	const uint64_t ones = 0x0101010101010101ULL;
	uint64_t mlo = zero_bytes(lo ^ ones * t);
	uint64_t mhi = zero_bytes(hi ^ ones * t) & 0x80808080ULL; /* bytes 4-7 are not slots */
	/* one bit per slot, bit k for slot k: the byte flags (bit 7 of each
	 * byte) gathered into the top byte by one multiply (each flag lands
	 * on its own bit, so no two partial products collide) */
	const uint64_t gather = 0x0102040810204080ULL;
	return (uint32_t)(((mlo >> 7) * gather) >> 56) | (uint32_t)(((mhi >> 7) * gather) >> 56) << 8;
}

/* Puts f (hash h) in the first bucket from its home with a free slot. */
static void bucket_insert(struct flow_table *ft, struct flow *f, uint32_t h)
{
	uint8_t t = hash_tag(h);
	uint32_t i = home_bucket(ft, h);
	for (uint32_t n = 0;; n++) {
		/* a free slot exists: max_flows <= BUCKET_LOAD * nbuckets, two
		 * thirds of the slots */
		assert(n < ft->nbuckets);
		struct flow_bucket *b = &ft->buckets[i];
		uint32_t empty = tag_matches(b, 0);
		if (empty) {
			int k = __builtin_ctz(empty);
			b->tag[k] = t;
			b->link[k] = link_of(ft, f);
			return;
		}
		b->overflow++;
		i = next_bucket(ft, i);
	}
}

/* Takes f out of its bucket, and out of the overflow counts of the full
 * buckets it passed. Reads only buckets (end_flow prefetched the home). */
static void bucket_remove(struct flow_table *ft, struct flow *f)
{
	uint32_t l = link_of(ft, f);
	uint8_t t = hash_tag(f->hash);
	uint32_t i = home_bucket(ft, f->hash);
	for (uint32_t n = 0;; n++) {
		assert(n < ft->nbuckets);
		struct flow_bucket *b = &ft->buckets[i];
		for (uint32_t m = tag_matches(b, t); m; m &= m - 1) {
			int k = __builtin_ctz(m);
			if (b->link[k] == l) {
				b->tag[k] = 0;
				b->link[k] = 0;
				return;
			}
		}
		assert(b->overflow > 0);
		b->overflow--;
		i = next_bucket(ft, i);
	}
}

static void check_accounting(const struct flow_table *ft)
{
#ifndef NDEBUG
	uint64_t ended = 0;
	for (int i = 0; i < FLOW_END__COUNT; i++)
		ended += ft->stats.ended[i];
	assert(ft->stats.created == ended + ft->stats.active);
	assert(ft->stats.active <= ft->cfg.max_flows);
#else
	(void)ft;
#endif
}

/* Hands a flow to the callback, then unlinks it and frees its entry. */
static void end_flow(struct flow_table *ft, struct flow *f, enum flow_end why)
{
	assert(why != FLOW_END_NONE && why < FLOW_END__COUNT);
	f->end_reason = (uint8_t)why;
	if (ft->last == f)
		ft->last = NULL;
	/* bucket_remove reads f's bucket after the callback (which writes the
	 * flow's record): fetched meanwhile */
	__builtin_prefetch(&ft->buckets[home_bucket(ft, f->hash)], 1);
	if (ft->on_end)
		ft->on_end(ft->on_end_ctx, f);
	bucket_remove(ft, f);
	lru_unlink(ft, f);
	f->free_next = ft->free_head;
	ft->free_head = link_of(ft, f);
	ft->stats.ended[why]++;
	ft->stats.active--;
	check_accounting(ft);
}

/* The reason a flow ends with when its idle time runs out: a closed flow
 * ended because of its FIN or RST; the linger time was only for stragglers. */
static enum flow_end timeout_reason(const struct flow *f)
{
	if (f->state == FLOW_CLOSED)
		return (enum flow_end)f->close_reason;
	return FLOW_END_TIMEOUT;
}

/* ---- init / free -------------------------------------------------------- */

/* The entries and the buckets: common/table_mem.h (page-aligned, so an
 * entry spans 3 cache lines, and on huge pages where the kernel allows). */

int flow_table_init(struct flow_table *ft, const struct flow_config *cfg, flow_end_fn on_end,
                    void *ctx, char *err, size_t errlen)
{
	memset(ft, 0, sizeof *ft);
	if (cfg->max_flows < 1 || cfg->max_flows > FLOW_MAX_FLOWS) {
		snprintf(err, errlen, "%s:%d: max_flows %u out of range 1..%u", __FILE__, __LINE__,
		         cfg->max_flows, FLOW_MAX_FLOWS);
		return -1;
	}
	if (!cfg->tcp_new_timeout_us || !cfg->tcp_established_timeout_us ||
	    !cfg->tcp_closing_timeout_us || !cfg->tcp_closed_timeout_us || !cfg->udp_timeout_us) {
		snprintf(err, errlen, "%s:%d: flow timeouts must be greater than 0", __FILE__,
		         __LINE__);
		return -1;
	}
	uint32_t nb = (cfg->max_flows + BUCKET_LOAD - 1) / BUCKET_LOAD;
	ft->entries = table_alloc(cfg->max_flows, sizeof *ft->entries);
	ft->buckets = table_alloc(nb, sizeof *ft->buckets);
	if (!ft->entries || !ft->buckets) {
		table_free(ft->entries, cfg->max_flows, sizeof *ft->entries);
		table_free(ft->buckets, nb, sizeof *ft->buckets);
		ft->entries = NULL;
		ft->buckets = NULL;
		snprintf(err, errlen, "%s:%d: cannot allocate a flow table of %u flows: %s", __FILE__,
		         __LINE__, cfg->max_flows, strerror(errno ? errno : ENOMEM));
		return -1;
	}
	ft->cfg = *cfg;
	ft->on_end = on_end;
	ft->on_end_ctx = ctx;
	ft->nbuckets = nb;
	ft->mem_bytes = (size_t)cfg->max_flows * sizeof *ft->entries + (size_t)nb * sizeof *ft->buckets;
	ft->seed = cfg->seed ? cfg->seed : sip_random_seed();
	ft->seed2 = sip_mix64(ft->seed);
	return 0;
}

void flow_table_free(struct flow_table *ft)
{
	table_free(ft->entries, ft->cfg.max_flows, sizeof *ft->entries);
	table_free(ft->buckets, ft->nbuckets, sizeof *ft->buckets);
	ft->entries = NULL;
	ft->buckets = NULL;
}

/* ---- lookup / create ---------------------------------------------------- */

static bool same_ep(const uint8_t *ip_a, uint16_t port_a, const uint8_t *ip_b, uint16_t port_b)
{
	return port_a == port_b && load_le64(ip_a) == load_le64(ip_b) &&
	       load_le64(ip_a + 8) == load_le64(ip_b + 8);
}

/*
 * Recently seen flows. The hash (SipHash, keyed, so that no one can aim
 * packets at a bucket) is about 140 instructions, and with the bucket's
 * tags and the entry's compare a lookup is about 200: on a million short
 * flows, whose packets interleave, a tenth of all the instructions. Most
 * packets belong to a flow seen a moment ago, so a small direct-mapped
 * table, indexed by a cheap mix of the key, remembers which entry the last
 * packet at each index belonged to (with 32 more bits of the mix, so that
 * an entry is read only when they agree): when that flow is still in the table
 * and the packet's endpoints are its own, it is the packet's flow (the
 * table never holds two flows of one key) and the hash is not needed.
 * Otherwise the lookup runs as before and the index is pointed at its
 * flow. Packets aimed at one index cost each other this shortcut and
 * nothing more: the cheap mix is only ever a hint.
 */
static inline uint64_t recent_mix(const struct flow_table *ft, const uint64_t w[KEY_WORDS])
{
	return (w[0] ^ w[1] << 1 ^ w[2] << 2 ^ w[3] << 3 ^ w[4] ^ w[5] ^ ft->seed) *
	       0x9e3779b97f4a7c15ULL;
}

/* The index: the mix's top 12 bits. */
static inline uint32_t recent_index(uint64_t x)
{
	return (uint32_t)(x >> 52) & (FLOW_RECENT - 1);
}

/* The check kept beside the entry: 32 more bits of the mix. A new flow's
 * packet (all of a flood's) then rarely reads the entry another flow left
 * at its index, a cache miss on a flow long gone. */
static inline uint32_t recent_check(uint64_t x)
{
	return (uint32_t)(x >> 20);
}
_Static_assert((FLOW_RECENT & (FLOW_RECENT - 1)) == 0 && FLOW_RECENT <= 4096,
               "recent_index takes 12 bits");

/* Whether f is pkt's flow (its key's fields but for the hash), and in
 * which direction. */
static inline bool is_pkt_flow(const struct flow *f, const struct packet *p, uint32_t tid,
                               enum flow_dir *dir)
{
	if (f->ip_version != p->ip_version || f->proto != p->l4_proto || f->vlan_id != p->vlan_id ||
	    f->tunnel.type != p->tunnel.type || pkt_tunnel_id(&f->tunnel) != tid)
		return false;
	if (same_ep(f->cli_ip, f->cli_port, p->src_ip, p->src_port) &&
	    same_ep(f->srv_ip, f->srv_port, p->dst_ip, p->dst_port)) {
		*dir = DIR_TO_SERVER;
		return true;
	}
	if (same_ep(f->cli_ip, f->cli_port, p->dst_ip, p->dst_port) &&
	    same_ep(f->srv_ip, f->srv_port, p->src_ip, p->src_port)) {
		*dir = DIR_TO_CLIENT;
		return true;
	}
	return false;
}

/* pkt's flow when it is f and f is still in the table. */
static inline bool recent_match(const struct flow *f, const struct packet *p, uint32_t tid,
                                enum flow_dir *dir)
{
	return f->end_reason == FLOW_END_NONE && is_pkt_flow(f, p, tid, dir);
}

/* Returns the flow of pkt (and its direction) or NULL. An entry is read
 * only when its tag matches (buckets, top of this file). */
static struct flow *lookup(struct flow_table *ft, const struct packet *p, uint32_t h,
                           enum flow_dir *dir)
{
	uint32_t tid = pkt_tunnel_id(&p->tunnel);
	uint8_t t = hash_tag(h);
	uint32_t i = home_bucket(ft, h);
	for (uint32_t n = 0; n < ft->nbuckets; n++) {
		const struct flow_bucket *b = &ft->buckets[i];
		for (uint32_t m = tag_matches(b, t); m; m &= m - 1) {
			struct flow *f = ent(ft, b->link[__builtin_ctz(m)]);
			if (f->hash == h && is_pkt_flow(f, p, tid, dir))
				return f;
		}
		if (!b->overflow)
			break; /* no flow of this home lives further on */
		i = next_bucket(ft, i);
	}
	return NULL;
}

/* A SYN unanswered for this long is given up first when the table is full;
 * a younger one may just be waiting for its SYN-ACK (one round trip, most
 * under 250 ms). A SYN flood keeps being evicted by its own SYNs as long as
 * it sends fewer than max_flows per 250 ms (a million a second with the
 * default table); faster, the least recently seen flows go first. */
#define SYN_UNANSWERED_US 250000u

/* The victim when the table is full: an already closed flow first (it is
 * only lingering), then a SYN unanswered for 250 ms (likely a scan), then
 * the least recently seen of the rest. Ties go to the lower class,
 * deterministically. (Evicting the newest unanswered SYN instead would end
 * every new connection of a full table just before its SYN-ACK, which
 * would then open a second flow.) */
static struct flow *pick_victim(struct flow_table *ft)
{
	if (ft->lru_head[LC_TCP_CLOSED])
		return ent(ft, ft->lru_head[LC_TCP_CLOSED]);
	if (ft->lru_head[LC_TCP_NEW]) {
		struct flow *f = ent(ft, ft->lru_head[LC_TCP_NEW]);
		if (ft->now_us >= f->last_ts_us + SYN_UNANSWERED_US)
			return f;
	}
	struct flow *best = NULL;
	for (int c = 0; c < FLOW_LRU_CLASSES; c++) {
		if (!ft->lru_head[c])
			continue;
		struct flow *f = ent(ft, ft->lru_head[c]);
		if (!best || f->last_ts_us < best->last_ts_us)
			best = f;
	}
	return best;
}

/* A full table evicts the head of a class list again and again (a flood:
 * one eviction per packet). Ending a victim misses the cache on its
 * bucket (its slot cleared), and the bucket prefetch in end_flow comes
 * too late when the callback is short. So after evicting from class c,
 * the work for the next victim of c is fetched one eviction ahead, in two
 * stages: the new head n1 was itself fetched (as n2) by the previous
 * eviction from c, so reading its hash is cheap, and its bucket is
 * fetched now; n1's successor n2 is fetched for next time. Only hints: if
 * another flow is evicted first (the head moved on a packet, another
 * class's victim was older), nothing but the fetch is lost. */
static void prefetch_next_victim(const struct flow_table *ft, uint8_t c)
{
	uint32_t l1 = ft->lru_head[c];
	if (!l1)
		return;
	const struct flow *n1 = ent(ft, l1);
	__builtin_prefetch(&ft->buckets[home_bucket(ft, n1->hash)], 1);
	if (n1->lnext) {
		const char *n2 = (const char *)ent(ft, n1->lnext);
		for (size_t off = 0; off < sizeof(struct flow); off += 64)
			__builtin_prefetch(n2 + off, 1);
	}
}

static struct flow *alloc_entry(struct flow_table *ft)
{
	if (!ft->free_head && ft->high_water == ft->cfg.max_flows) {
		struct flow *v = pick_victim(ft);
		assert(v != NULL);
		uint8_t c = v->lclass;
		end_flow(ft, v, FLOW_END_EVICTED);
		prefetch_next_victim(ft, c);
	}
	struct flow *f;
	if (ft->free_head) {
		f = ent(ft, ft->free_head);
		ft->free_head = f->free_next;
	} else {
		f = &ft->entries[ft->high_water++];
	}
	memset(f, 0, sizeof *f);
	return f;
}

/* The port ranges of rules 2 and 3, from most to least server-like:
 * system ports, registered ports, Linux's ephemeral range (32768-60999
 * starts here), the IANA dynamic range that Windows and the BSDs use. */
static int port_range(uint16_t port)
{
	return port < 1024 ? 0 : port < 32768 ? 1 : port < 49152 ? 2 : 3;
}

/* Orientation of a flow whose first packet is not a SYN (flow.h rules 1-4).
 * Returns true when the packet's sender is the client. */
static bool guess_sender_is_client(const struct packet *p, uint8_t *orient)
{
	uint16_t sp = p->src_port, dp = p->dst_port;
	if (p->l4_proto == 6 && (p->tcp_flags & (TCPF_SYN | TCPF_ACK)) == (TCPF_SYN | TCPF_ACK)) {
		*orient = ORIENT_SYNACK;
		return false;
	}
	if (port_range(sp) != port_range(dp)) {
		*orient = ORIENT_PORT;
		return port_range(dp) < port_range(sp);
	}
	*orient = ORIENT_FIRST_PACKET;
	return true;
}

static struct flow *create(struct flow_table *ft, const struct packet *p, const uint64_t key[],
                           uint32_t h, enum flow_dir *dir)
{
	struct flow *f = alloc_entry(ft);
	bool tcp = p->l4_proto == 6;
	bool sender_is_client;
	if (tcp && (p->tcp_flags & (TCPF_SYN | TCPF_ACK)) == TCPF_SYN) {
		f->orient = ORIENT_SYN;
		f->state = FLOW_NEW;
		sender_is_client = true;
	} else {
		sender_is_client = guess_sender_is_client(p, &f->orient);
		/* Mid-stream TCP: whatever happened before the capture started
		 * was a handshake. UDP stays new until both sides speak. */
		f->state = tcp ? FLOW_ESTABLISHED : FLOW_NEW;
	}
	if (sender_is_client) {
		memcpy(f->cli_ip, p->src_ip, 16);
		memcpy(f->srv_ip, p->dst_ip, 16);
		f->cli_port = p->src_port;
		f->srv_port = p->dst_port;
		*dir = DIR_TO_SERVER;
	} else {
		memcpy(f->cli_ip, p->dst_ip, 16);
		memcpy(f->srv_ip, p->src_ip, 16);
		f->cli_port = p->dst_port;
		f->srv_port = p->src_port;
		*dir = DIR_TO_CLIENT;
	}
	f->ip_version = p->ip_version;
	f->proto = p->l4_proto;
	f->vlan_id = p->vlan_id;
	f->tunnel = p->tunnel;
	if (!f->tunnel.id_valid)
		f->tunnel.id = 0;
	f->end_reason = FLOW_END_NONE;
	f->first_ts_us = ft->now_us;
	f->last_ts_us = ft->now_us;
	f->user_slot = FLOW_NONE;
	f->user_proto = -1;
	f->hash = h;
	ft->stats.created++;
	if (tcp)
		ft->stats.created_tcp++;
	else if (p->l4_proto == 17)
		ft->stats.created_udp++;
	ft->stats.orient[f->orient]++;
	f->flow_id = make_flow_id(key, f->first_ts_us, ft->stats.created);

	bucket_insert(ft, f, h);
	lru_append(ft, f, class_of(f));
	ft->stats.active++;
	if (ft->stats.active > ft->stats.peak_active) {
		ft->stats.peak_active = ft->stats.active;
		if (ft->stats.peak_active == ft->cfg.max_flows / 64 + 1) {
			/* grown: worth huge pages (common/table_mem.h). At a
			 * sixty-fourth (4,096 flows with the defaults) rather
			 * than an eighth: flows_1e5 13% faster, where 32,768
			 * entries (6 MiB) were first touched in 4 KiB pages
			 * (docs/performance.md, Table memory) */
			table_want_huge(ft->entries, ft->cfg.max_flows, sizeof *ft->entries);
			table_want_huge(ft->buckets, ft->nbuckets, sizeof *ft->buckets);
		}
	}
	check_accounting(ft);
	return f;
}

/* ---- state -------------------------------------------------------------- */

static void tcp_update(struct flow *f, const struct packet *p, enum flow_dir dir)
{
	uint8_t fl = p->tcp_flags;
	uint8_t bit = (uint8_t)(1u << dir);

	if ((fl & TCPF_SYN) && !(f->syn_seen & bit)) {
		f->syn_seen |= bit;
		f->syn_seq[dir] = p->seq;
	}
	if (f->state == FLOW_NEW) {
		bool server_ack = dir == DIR_TO_CLIENT && (fl & TCPF_ACK);
		bool data_both = f->data_dirs == 3;
		if (server_ack || data_both)
			f->state = FLOW_ESTABLISHED;
	}
	if (fl & TCPF_RST) {
		if (f->state != FLOW_CLOSED) {
			f->state = FLOW_CLOSED;
			f->close_reason = FLOW_END_RST;
		}
	} else if (fl & TCPF_FIN) {
		f->fin_seen |= bit;
		if (f->state != FLOW_CLOSED) {
			if (f->fin_seen == 3) {
				f->state = FLOW_CLOSED;
				f->close_reason = FLOW_END_FIN;
			} else {
				f->state = FLOW_CLOSING;
			}
		}
	}
}

struct flow *flow_packet(struct flow_table *ft, const struct packet *pkt, uint32_t wire_len,
                         enum flow_dir *dir, bool *created)
{
	if (pkt->ts_us > ft->now_us)
		ft->now_us = pkt->ts_us;
	if (ft->now_us >= ft->next_expire_us) {
		flow_expire(ft, ft->now_us);
		ft->next_expire_us = ft->now_us + US_PER_S;
	}

	uint64_t key[KEY_WORDS];
	pkt_key(pkt, key);
	bool tcp = pkt->l4_proto == 6;

	*created = false;
	struct flow *f;
	uint32_t h = 0;
	bool hashed = false;
	uint32_t r = FLOW_RECENT; /* the recent index, when not the last packet's flow */
	uint64_t x = 0;           /* and the key's mix */
	if (ft->last && memcmp(key, ft->last_key, sizeof key) == 0) {
		/* The previous packet's flow (the key holds everything lookup
		 * compares): no hash, no bucket. */
		f = ft->last;
		*dir = same_ep(f->cli_ip, f->cli_port, pkt->src_ip, pkt->src_port) &&
		               same_ep(f->srv_ip, f->srv_port, pkt->dst_ip, pkt->dst_port)
		           ? DIR_TO_SERVER
		           : DIR_TO_CLIENT;
	} else {
		x = recent_mix(ft, key);
		r = recent_index(x);
		const struct flow_recent *fr = &ft->recent[r];
		f = fr->link && fr->check == recent_check(x) ? ent(ft, fr->link) : NULL;
		if (!f || !recent_match(f, pkt, pkt_tunnel_id(&pkt->tunnel), dir)) {
			h = key_hash(ft, key);
			hashed = true;
			f = lookup(ft, pkt, h, dir);
		}
	}
	if (f && idle_expired(ft, f, ft->now_us)) {
		/* Expiry runs once per second; a flow idle past its timeout is over
		 * even if the sweep has not reached it yet. */
		end_flow(ft, f, timeout_reason(f));
		f = NULL;
	} else if (f && tcp && f->state == FLOW_CLOSED &&
	           (pkt->tcp_flags & (TCPF_SYN | TCPF_ACK)) == TCPF_SYN) {
		/* A new connection on a closed flow's 5-tuple (port reuse). */
		end_flow(ft, f, (enum flow_end)f->close_reason);
		ft->stats.reused++;
		f = NULL;
	}
	if (!f) {
		f = create(ft, pkt, key, hashed ? h : key_hash(ft, key), dir);
		*created = true;
	}
	ft->last = f;
	memcpy(ft->last_key, key, sizeof key);
	if (r != FLOW_RECENT)
		ft->recent[r] = (struct flow_recent){link_of(ft, f), recent_check(x)};

	f->pkts[*dir]++;
	f->bytes[*dir] += wire_len;
	f->last_ts_us = ft->now_us;
	if (pkt->payload_len || pkt->payload_wire_len)
		f->data_dirs |= (uint8_t)(1u << *dir);
	if (tcp) {
		f->tcp_flags[*dir] |= pkt->tcp_flags;
		tcp_update(f, pkt, *dir);
	} else if (f->state == FLOW_NEW && f->pkts[0] && f->pkts[1]) {
		f->state = FLOW_ESTABLISHED;
	}
	/* Most recently seen: tail of its (possibly new) class list. A burst of
	 * one flow's packets finds it there already. */
	uint8_t c = class_of(f);
	if (c != f->lclass || ft->lru_tail[c] != link_of(ft, f)) {
		lru_unlink(ft, f);
		lru_append(ft, f, c);
	}
	return f;
}

/* ---- checks (tests) ----------------------------------------------------- */

uint32_t flow_home_bucket(const struct flow_table *ft, const struct packet *pkt)
{
	uint64_t key[KEY_WORDS];
	pkt_key(pkt, key);
	return home_bucket(ft, key_hash(ft, key));
}

uint32_t flow_recent_slot(const struct flow_table *ft, const struct packet *pkt)
{
	uint64_t key[KEY_WORDS];
	pkt_key(pkt, key);
	return recent_index(recent_mix(ft, key));
}

long flow_table_check(const struct flow_table *ft, char *err, size_t errlen)
{
	uint32_t *passed = calloc(ft->nbuckets, sizeof *passed);
	if (!passed) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	long displaced = 0;
	uint64_t flows = 0, slots = 0;
	for (int c = 0; c < FLOW_LRU_CLASSES; c++) {
		for (uint32_t l = ft->lru_head[c]; l; l = ent(ft, l)->lnext, flows++) {
			const struct flow *f = ent(ft, l);
			uint32_t i = home_bucket(ft, f->hash), n = 0;
			int found = -1;
			for (; n < ft->nbuckets; n++, i = next_bucket(ft, i)) {
				for (int k = 0; k < BUCKET_SLOTS && found < 0; k++)
					if (ft->buckets[i].link[k] == l)
						found = k;
				if (found >= 0)
					break;
				passed[i]++;
			}
			if (found < 0 || ft->buckets[i].tag[found] != hash_tag(f->hash)) {
				snprintf(err, errlen, "flow %u: %s", l, found < 0 ? "in no slot" : "wrong tag");
				free(passed);
				return -1;
			}
			displaced += n > 0;
		}
	}
	for (uint32_t i = 0; i < ft->nbuckets; i++) {
		const struct flow_bucket *b = &ft->buckets[i];
		for (int k = 0; k < BUCKET_SLOTS; k++) {
			if (!b->link[k] != !b->tag[k]) {
				snprintf(err, errlen, "bucket %u slot %d: link %u, tag %u", i, k, b->link[k],
				         b->tag[k]);
				free(passed);
				return -1;
			}
			slots += b->link[k] != 0;
		}
		if (b->overflow != passed[i]) {
			snprintf(err, errlen, "bucket %u: overflow %u, %u flows passed it", i, b->overflow,
			         passed[i]);
			free(passed);
			return -1;
		}
	}
	free(passed);
	if (flows != ft->stats.active || slots != flows) {
		snprintf(err, errlen, "%" PRIu64 " flows listed, %" PRIu64 " slots taken, %" PRIu64
		         " active", flows, slots, ft->stats.active);
		return -1;
	}
	return displaced;
}

/* ---- expiry / flush ----------------------------------------------------- */

void flow_expire(struct flow_table *ft, uint64_t now_us)
{
	if (now_us > ft->now_us)
		ft->now_us = now_us;
	for (int c = 0; c < FLOW_LRU_CLASSES; c++) {
		while (ft->lru_head[c]) {
			struct flow *f = ent(ft, ft->lru_head[c]);
			if (!idle_expired(ft, f, ft->now_us))
				break; /* the list is ordered by last-seen: the rest are newer */
			end_flow(ft, f, timeout_reason(f));
		}
	}
}

void flow_flush(struct flow_table *ft)
{
	/* Merge the class lists by last-seen so the end order does not depend
	 * on the seed or on entry reuse: oldest activity first. */
	for (;;) {
		struct flow *best = NULL;
		for (int c = 0; c < FLOW_LRU_CLASSES; c++) {
			if (!ft->lru_head[c])
				continue;
			struct flow *f = ent(ft, ft->lru_head[c]);
			if (!best || f->last_ts_us < best->last_ts_us)
				best = f;
		}
		if (!best)
			break;
		/* A flow already closed by FIN or RST ended then; the linger
		 * time was only for stragglers. */
		end_flow(ft, best, best->state == FLOW_CLOSED ? timeout_reason(best) : FLOW_END_EOF);
	}
	assert(ft->stats.active == 0);
}

void flow_reverse(struct flow_table *ft, struct flow *f)
{
	uint8_t ip[16];
	memcpy(ip, f->cli_ip, 16);
	memcpy(f->cli_ip, f->srv_ip, 16);
	memcpy(f->srv_ip, ip, 16);
	uint16_t port = f->cli_port;
	f->cli_port = f->srv_port;
	f->srv_port = port;
	uint64_t t = f->pkts[0];
	f->pkts[0] = f->pkts[1];
	f->pkts[1] = t;
	t = f->bytes[0];
	f->bytes[0] = f->bytes[1];
	f->bytes[1] = t;
	uint8_t fl = f->tcp_flags[0];
	f->tcp_flags[0] = f->tcp_flags[1];
	f->tcp_flags[1] = fl;
	uint32_t seq = f->syn_seq[0];
	f->syn_seq[0] = f->syn_seq[1];
	f->syn_seq[1] = seq;
	uint32_t len = f->user_len[0];
	f->user_len[0] = f->user_len[1];
	f->user_len[1] = len;
	/* per-direction bit sets: bit 0 <-> bit 1 */
	f->fin_seen = (uint8_t)((f->fin_seen & ~3u) | (f->fin_seen & 1u) << 1 | (f->fin_seen >> 1 & 1u));
	f->syn_seen = (uint8_t)((f->syn_seen & ~3u) | (f->syn_seen & 1u) << 1 | (f->syn_seen >> 1 & 1u));
	f->data_dirs = (uint8_t)((f->data_dirs & ~3u) | (f->data_dirs & 1u) << 1 | (f->data_dirs >> 1 & 1u));
	memcpy(ip, f->tunnel.outer_src, 16);
	memcpy(f->tunnel.outer_src, f->tunnel.outer_dst, 16);
	memcpy(f->tunnel.outer_dst, ip, 16);
	if (f->orient < ORIENT__COUNT && ft->stats.orient[f->orient] > 0)
		ft->stats.orient[f->orient]--;
	f->orient = ORIENT_PAYLOAD;
	ft->stats.orient[ORIENT_PAYLOAD]++;
}
