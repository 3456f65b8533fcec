/*
 * stream.h - the first bytes of each direction of a flow, in order.
 *
 * Identification needs the opening bytes of both directions exactly as the
 * application wrote them, even when TCP delivered them split, reordered,
 * duplicated or overlapping. A stream slot holds, per direction, a buffer of
 * `cap` bytes indexed by sequence offset from the start of the stream, a
 * bitmap of the bytes filled, and the length of the contiguous prefix. Data
 * past `cap` is not kept. Overlapping data keeps the first copy (and counts
 * a mismatch when the later copy differs: a classic evasion), with one
 * exception: a segment of at most 6 zero bytes, the most Ethernet padding a
 * minimum frame can hold, that a longer segment at the same place later
 * covers is taken as padding the sender's IP length counted (see
 * stream_tcp).
 *
 * Slots come from a pool allocated once; a slot is taken on a flow's first
 * payload byte (so a SYN flood takes none) and given back when the caller
 * has decided the flow. A caller that takes a slot after the handshake
 * replays each direction's SYN first (stream_tcp with TCPF_SYN, the SYN's
 * sequence number and no payload) so that the stream starts at ISN + 1. A pool that is empty counts the flow as
 * uninspected; it never grows.
 *
 * UDP: each direction keeps its first datagrams back to back up to `cap`,
 * with the length of the first STREAM_MAX_DGRAMS of them.
 */
#ifndef OFFPORT_STREAM_STREAM_H
#define OFFPORT_STREAM_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flow/flow.h"

#define STREAM_NONE UINT32_MAX
#define STREAM_MAX_DGRAMS 8

struct stream_config {
	uint32_t max_slots;  /* concurrent flows being inspected */
	uint32_t cap;        /* bytes kept per direction (first-bytes budget) */
};

struct stream_stats {
	uint64_t slots_taken;
	uint64_t slots_exhausted;   /* flows that found the pool empty */
	uint64_t segments;          /* TCP segments with payload offered */
	uint64_t in_order;          /* extended the contiguous prefix directly */
	uint64_t out_of_order;      /* stored ahead of a hole */
	uint64_t retransmissions;   /* entirely inside data already held */
	uint64_t overlaps;          /* partly inside data already held */
	uint64_t overlap_mismatch;  /* overlapping bytes that differ from the first copy */
	uint64_t padding_replaced;  /* zero "payload" (frame padding) replaced by real data */
	uint64_t before_start;      /* data before the stream's first byte (mid-stream) */
	uint64_t beyond_cap;        /* segments wholly past the kept bytes */
	uint64_t datagrams;         /* UDP datagrams stored */
	uint64_t peak_slots;
};

/* Per-direction state. The byte buffer and fill bitmap live in the pool. */
struct stream_dir {
	uint32_t base_seq;  /* sequence number of stream byte 0 */
	uint8_t have_base;  /* base_seq is known */
	uint8_t syn_seen;   /* base came from a SYN (ISN + 1) */
	uint8_t ndgrams;    /* UDP: datagram lengths recorded */
	uint8_t fin_seen;
	uint32_t contig;    /* bytes [0, contig) are present */
	uint32_t held;      /* bytes present in total (contiguous or not) */
	uint32_t gap_bytes; /* payload bytes the capture did not contain (snap length) */
	uint16_t dgram_len[STREAM_MAX_DGRAMS]; /* UDP: bytes kept of each datagram
	                                          (only the last kept one can be cut) */
	uint32_t extent;    /* private: one past the highest offset ever filled */
	uint32_t pad_at;    /* private: offset of a suspected padding segment */
	uint8_t pad_len;    /* private: its length, 0 for none (see stream_tcp) */
	uint8_t bm_dirty;   /* private: a bit of the fill bitmap was set (stream.c):
	                       a reused slot clears the bitmap up to extent */
};
_Static_assert(sizeof(struct stream_dir) == 48, "a direction's state stays 48 bytes");

struct stream_pool {
	struct stream_config cfg;
	struct stream_stats stats;
	/* private */
	uint8_t *mem;          /* max_slots * 2 * (cap + cap/8) bytes, lazily touched */
	struct stream_dir *dirs; /* max_slots * 2 */
	uint32_t *free_list;
	uint32_t free_top;
	uint32_t high_water;
	uint32_t in_use;
	size_t mem_bytes;      /* allocated by stream_pool_init, for the memory bound */
};

int stream_pool_init(struct stream_pool *sp, const struct stream_config *cfg, char *err, size_t errlen);
void stream_pool_free(struct stream_pool *sp);

/* Takes a slot, or STREAM_NONE when the pool is empty (counted). */
uint32_t stream_take(struct stream_pool *sp);
/* Gives a slot back. STREAM_NONE is ignored. */
void stream_give(struct stream_pool *sp, uint32_t slot);

/* Offers one TCP segment of direction dir. `flags` are the TCP flags (a SYN
 * fixes the stream start at seq + 1); payload_wire_len > payload_len when the
 * snap length cut the payload. */
void stream_tcp(struct stream_pool *sp, uint32_t slot, enum flow_dir dir, uint32_t seq,
                uint8_t flags, const uint8_t *payload, uint32_t payload_len,
                uint32_t payload_wire_len);

/* Offers one UDP datagram of direction dir. */
void stream_udp(struct stream_pool *sp, uint32_t slot, enum flow_dir dir, const uint8_t *payload,
                uint32_t payload_len);

/* The contiguous first bytes of direction dir (length in *len). */
const uint8_t *stream_data(const struct stream_pool *sp, uint32_t slot, enum flow_dir dir,
                           uint32_t *len);

/* The per-direction state (for its counters and datagram lengths). */
const struct stream_dir *stream_dir_state(const struct stream_pool *sp, uint32_t slot,
                                          enum flow_dir dir);

/* Exchanges the two directions of a slot (the flow's client and server
 * were the wrong way round). */
void stream_swap(struct stream_pool *sp, uint32_t slot);

/* True when direction dir holds cap contiguous bytes. */
bool stream_full(const struct stream_pool *sp, uint32_t slot, enum flow_dir dir);

/* A hint: the slot will be read soon (its state, its first bytes and the
 * start of its bitmaps are fetched into the cache meanwhile). */
void stream_prefetch(const struct stream_pool *sp, uint32_t slot);

#endif
