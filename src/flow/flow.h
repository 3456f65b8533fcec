/*
 * flow.h - the bounded flow table.
 *
 * A flow is a TCP or UDP conversation keyed by (IP version, protocol, both
 * addresses and ports, VLAN id, tunnel type, and the tunnel id where both
 * directions share it: VXLAN/GENEVE VNI, ERSPAN session), the same in both
 * directions. The table is allocated once at flow_table_init() with a fixed
 * maximum; entries and hash buckets are touched only when used, so memory
 * grows with the flows actually seen and never past the maximum. A full
 * table evicts a flow and counts it: a closed flow first (its record is
 * complete), else an unanswered SYN, else the least recently seen flow.
 *
 * Orientation: the SYN decides the client. Without one (mid-stream TCP,
 * UDP) a heuristic decides and the flow is marked guessed:
 *   1. a SYN+ACK as the first packet: its receiver is the client;
 *   2. one port below 1024 and the other not: the low port is the server;
 *   3. the ports in different ranges of 1024-32767 (registered),
 *      32768-49151 (Linux's ephemeral ports begin at 32768) and 49152-65535
 *      (the IANA dynamic range of Windows and the BSDs): the port in the
 *      lower range is the server;
 *   4. otherwise the sender of the first packet is the client.
 *
 * Time is capture time (packet timestamps); it never goes backwards here:
 * an older timestamp is treated as "now" for counters but does not expire
 * anything.
 */
#ifndef OFFPORT_FLOW_FLOW_H
#define OFFPORT_FLOW_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "decode/decode.h"

/* Direction of a packet relative to the flow's orientation. */
enum flow_dir { DIR_TO_SERVER = 0, DIR_TO_CLIENT = 1 };

enum flow_state {
	FLOW_NEW,         /* TCP: SYN seen, not yet answered; UDP: one side only */
	FLOW_ESTABLISHED, /* TCP: handshake done or data seen; UDP: both sides spoke */
	FLOW_CLOSING,     /* TCP: FIN from one side */
	FLOW_CLOSED,      /* TCP: FIN from both sides, or RST */
	FLOW_STATE__COUNT
};

enum flow_orient {
	ORIENT_SYN,          /* client sent the SYN */
	ORIENT_SYNACK,       /* guessed from a SYN+ACK without its SYN */
	ORIENT_PORT,         /* guessed from the ports (rules 2 and 3) */
	ORIENT_FIRST_PACKET, /* guessed: first sender is the client */
	ORIENT_PAYLOAD,      /* guessed, then turned round by the payload: the
	                        identified protocol showed which side serves */
	ORIENT__COUNT
};

/* Why a flow ended (was handed to the end callback). */
enum flow_end {
	FLOW_END_NONE = 0, /* still open */
	FLOW_END_FIN,      /* both FINs seen, closing timeout passed or reused */
	FLOW_END_RST,      /* RST seen, closing timeout passed or reused */
	FLOW_END_TIMEOUT,  /* idle longer than its state's timeout */
	FLOW_END_EVICTED,  /* table full: least recently seen flow made room */
	FLOW_END_EOF,      /* still open when the input ended (not closed by FIN/RST) */
	FLOW_END__COUNT
};

const char *flow_state_name(enum flow_state s);
const char *flow_orient_name(enum flow_orient o);
const char *flow_end_name(enum flow_end e);
/* True for every orientation but ORIENT_SYN. */
static inline bool flow_orient_guessed(uint8_t o) { return o != ORIENT_SYN; }

#define FLOW_NONE UINT32_MAX

struct flow {
	/* Hot: what every packet of the flow reads or writes (lookup, counters,
	 * state, LRU position, inspection state), together in the first 120
	 * bytes; then what is set once or read when the flow ends. 192 bytes
	 * in all. */
	uint32_t hash;
	/* table links, private to flow.c. Links are entry index + 1, 0 = none,
	 * so that zeroed (untouched) memory is a valid empty state. free_next
	 * links ended entries; lprev/lnext the LRU list. */
	uint32_t free_next;
	uint32_t lprev, lnext;
	/* oriented endpoints */
	uint8_t cli_ip[16], srv_ip[16];
	uint16_t cli_port, srv_port;
	uint8_t ip_version, proto;
	uint8_t state;       /* enum flow_state */
	uint8_t lclass;      /* LRU (timeout) class the flow is linked in (flow.c) */
	uint16_t vlan_id;
	uint8_t tcp_flags[2]; /* union of flags seen per direction */
	uint8_t fin_seen;    /* bit DIR_TO_SERVER / DIR_TO_CLIENT */
	uint8_t syn_seen;    /* bit per enum flow_dir: a SYN was seen, syn_seq valid */
	uint8_t data_dirs;   /* bit per enum flow_dir: payload seen (flow.c) */
	uint8_t user_flags;     /* new flow: 0 */
	uint64_t last_ts_us;
	uint64_t pkts[2], bytes[2]; /* per enum flow_dir; bytes = frame wire lengths */
	/* owned by the caller's pipeline (stream slot, first-bytes lengths, ...);
	 * a new flow starts with user_slot = FLOW_NONE (== STREAM_NONE) and
	 * user_len zero */
	uint32_t user_slot;
	uint16_t user_segments; /* new flow: 0 */
	int16_t user_proto;     /* new flow: -1 */
	struct tunnel_info tunnel; /* its type and id first: compared by lookup */
	/* Cold: set once, or read when the flow ends. */
	uint64_t flow_id;    /* stable 51-bit id, deterministic for the same input */
	uint64_t first_ts_us;
	uint32_t syn_seq[2]; /* sequence number of each direction's SYN */
	uint32_t user_len[2];
	uint8_t user_kind;      /* new flow: 0 */
	uint8_t orient;      /* enum flow_orient */
	uint8_t end_reason;  /* enum flow_end */
	uint8_t close_reason; /* FLOW_END_FIN or FLOW_END_RST once FLOW_CLOSED */
	uint32_t spare; /* padding: the entry stays 192 bytes */
};
_Static_assert(sizeof(struct flow) == 192, "a flow table entry is 192 bytes (docs/performance.md)");

struct flow_config {
	uint32_t max_flows;
	uint64_t tcp_new_timeout_us;         /* SYN sent, no answer yet */
	uint64_t tcp_established_timeout_us;
	uint64_t tcp_closing_timeout_us;     /* one FIN seen */
	uint64_t tcp_closed_timeout_us;      /* both FINs or RST: linger for stragglers */
	uint64_t udp_timeout_us;
	uint64_t seed;                       /* hash seed; 0 = random */
};

/* Default values, documented in the man page. */
void flow_config_defaults(struct flow_config *cfg);

struct flow_stats {
	uint64_t created;
	uint64_t created_tcp, created_udp;
	uint64_t ended[FLOW_END__COUNT];
	uint64_t orient[ORIENT__COUNT];
	uint64_t reused;        /* a closed flow's 5-tuple reopened by a new SYN */
	uint64_t active;        /* currently in the table */
	uint64_t peak_active;
};

/* Called for every flow that leaves the table, before its entry is reused.
 * f->end_reason tells why. The callback must not call back into the table
 * (flow_packet, flow_expire, flow_flush). */
typedef void (*flow_end_fn)(void *ctx, struct flow *f);

struct flow_bucket;

struct flow_table {
	struct flow_config cfg;
	struct flow_stats stats;
	flow_end_fn on_end;
	void *on_end_ctx;
	/* private (links are entry index + 1, 0 = none; see flow.c) */
	struct flow *entries;
	struct flow_bucket *buckets; /* one cache line each (flow.c) */
	uint32_t nbuckets;
	uint32_t high_water;   /* entries[0..high_water) have been used */
	uint32_t free_head;
	/* one LRU list per distinct timeout, ordered by last-seen */
#define FLOW_LRU_CLASSES 5
	uint32_t lru_head[FLOW_LRU_CLASSES], lru_tail[FLOW_LRU_CLASSES];
	uint64_t seed;
	uint64_t seed2; /* second SipHash key word, derived from seed */
	/* the flow of the previous packet and its key: a burst of one flow's
	 * packets skips the hash and the bucket (flow.c) */
	struct flow *last;
	uint64_t last_key[6];
	/* recently seen flows by a cheap index of their key: a packet of one
	 * of them skips the hash and the bucket (flow.c) */
#define FLOW_RECENT 4096
	struct flow_recent {
		uint32_t link;  /* the entry, 0 none */
		uint32_t check; /* more bits of the key's mix: the entry is read
		                   only when they agree */
	} recent[FLOW_RECENT];
	uint64_t now_us;
	uint64_t next_expire_us;
	size_t mem_bytes; /* allocated by flow_table_init, for the memory bound */
};

int flow_table_init(struct flow_table *ft, const struct flow_config *cfg, flow_end_fn on_end,
                    void *ctx, char *err, size_t errlen);
void flow_table_free(struct flow_table *ft);

/* Finds or creates the flow of a TCP or UDP packet, updates its counters,
 * TCP state and last-seen time, and sets *dir. May end other flows through
 * the callback (eviction, a reused 5-tuple, expiry). *created is set when
 * the packet opened a new flow. Never returns NULL. */
struct flow *flow_packet(struct flow_table *ft, const struct packet *pkt, uint32_t wire_len,
                         enum flow_dir *dir, bool *created);

/* Ends every flow idle past its state's timeout at capture time now_us.
 * flow_packet calls it itself at most once per capture second. */
void flow_expire(struct flow_table *ft, uint64_t now_us);

/* Ends every flow still in the table: FLOW_END_EOF, or FLOW_END_FIN /
 * FLOW_END_RST for a flow that had already closed. */
void flow_flush(struct flow_table *ft);

/* Turns a flow round: its client becomes its server. For a flow whose
 * orientation was guessed, once its payload shows the guess was wrong (an
 * HTTP response in the "client's" bytes). Later packets map to the new
 * directions; the orientation counters move to ORIENT_PAYLOAD. */
void flow_reverse(struct flow_table *ft, struct flow *f);

/* For tests. flow_home_bucket: the bucket a packet's flow is looked up in
 * first (flow.c). flow_table_check: checks the buckets against the flows
 * in the table (each in exactly one slot, with its tag, in its home bucket
 * or past it; every overflow count exact); returns the number of flows
 * living past their home bucket, or -1 with a message in err. */
uint32_t flow_home_bucket(const struct flow_table *ft, const struct packet *pkt);
/* For tests: the index of pkt's flow in the table of recently seen flows
 * (flow.c), to make two flows share one. */
uint32_t flow_recent_slot(const struct flow_table *ft, const struct packet *pkt);
long flow_table_check(const struct flow_table *ft, char *err, size_t errlen);

/* Index of a flow in the table, stable for its lifetime (for per-flow side
 * tables sized max_flows). */
static inline uint32_t flow_index(const struct flow_table *ft, const struct flow *f)
{
	return (uint32_t)(f - ft->entries);
}

#endif
