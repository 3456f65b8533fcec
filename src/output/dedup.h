/*
 * dedup.h - one alert per (server address, server port, observed
 * protocol) within a time window, with the count of the flows and clients
 * it stands for.
 *
 * The first finding of a key opens a group: its alert is written at once.
 * Later findings of the key within the window (capture time, from the
 * group's first finding) are repeats: counted in the group, not written.
 * A group closes when its window has passed (at the next packet or tick
 * after), when the table is full and it is the oldest (evicted), or at the
 * end of the input; the close callback then reports its counts (a "dedup"
 * record when it held repeats). Like Zeek's one notice per server, without
 * losing the count.
 *
 * Bounded: max_groups groups and max_clients distinct (group, client
 * address) pairs beyond each group's first client (which the group holds
 * itself), allocated once. A group whose clients no longer fit counts its
 * flows exactly and its clients as a lower bound (clients_exact false).
 */
#ifndef OFFPORT_OUTPUT_DEDUP_H
#define OFFPORT_OUTPUT_DEDUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What makes two findings the same alert: the server, its port, the
 * protocol, the finding's kind, and what decided it (a policy rule that
 * alerts on some clients' flows with a higher severity is not hidden
 * behind the registry's alert on others'). */
struct dedup_key {
	uint8_t srv_ip[16];
	uint8_t ip_version;
	uint8_t transport; /* IP protocol: 6 or 17 */
	uint16_t srv_port;
	int16_t proto;     /* observed protocol (ident_registry index), -1 unknown */
	uint16_t rule;     /* the deciding policy rule (engine_note.rule), 0: registry */
	uint32_t sid;      /* the finding's signature id (kind) */
	uint32_t gen;      /* the policy's generation when rule is not 0 */
};

struct dedup_group {
	struct dedup_key key;
	uint64_t first_ts_us, last_ts_us; /* first and last finding */
	uint64_t window_end_us;           /* first + window */
	uint64_t alert_flow_id;           /* the flow whose alert was written */
	uint64_t flows;                   /* findings, the alert's included */
	uint64_t clients;                 /* distinct client addresses */
	bool clients_exact;
	uint8_t severity;                 /* the alert's */
	/* private links (index + 1, 0 none) */
	uint32_t hnext, older, newer, client_head;
	/* private: the first client, kept here rather than as a pair: most
	 * groups never see a second one, and opening and closing such a group
	 * touches no pair and no pair bucket (two cache misses each) */
	uint8_t first_client[16];
};

enum dedup_close {
	DEDUP_CLOSE_WINDOW = 0, /* its window passed */
	DEDUP_CLOSE_EVICTED,    /* the table was full; it was the oldest */
	DEDUP_CLOSE_END,        /* end of input */
	DEDUP_CLOSE__COUNT
};

const char *dedup_close_name(enum dedup_close c);

typedef void (*dedup_close_fn)(void *ctx, const struct dedup_group *g, enum dedup_close why);

struct dedup_config {
	uint64_t window_us;   /* default 3600 s */
	uint32_t max_groups;  /* default 16384 */
	uint32_t max_clients; /* default 65536 */
	uint64_t seed;        /* hash seed */
};

void dedup_config_defaults(struct dedup_config *cfg);

struct dedup_stats {
	uint64_t groups;    /* groups opened = alerts written */
	uint64_t repeats;   /* findings counted in a group, not written */
	uint64_t closed[DEDUP_CLOSE__COUNT];
	uint64_t closed_with_repeats; /* groups closed holding repeats: the
	                                 dedup records written */
	uint64_t clients_inexact; /* groups whose client count is a lower bound */
};

struct dedup_client; /* private */

struct dedup {
	struct dedup_config cfg;
	struct dedup_group *groups;   /* max_groups */
	uint32_t *buckets;            /* nbuckets, group index + 1 */
	uint32_t nbuckets;            /* power of two */
	uint32_t free_group;          /* free list through hnext, index + 1 */
	uint32_t groups_used;         /* groups[0..groups_used) have been used:
	                                 the rest, never touched, are not
	                                 resident (calloc's zero pages) */
	uint32_t oldest, newest;      /* opening order, index + 1 */
	uint32_t active;
	struct dedup_client *clients; /* max_clients */
	uint32_t *client_buckets;     /* nclient_buckets */
	uint32_t nclient_buckets;
	uint32_t free_client;
	uint32_t clients_used;        /* the same for clients[] */
	dedup_close_fn on_close;
	void *ctx;
	size_t mem_bytes;
	struct dedup_stats stats;
};

/* Returns 0, or -1 with a message. */
int dedup_init(struct dedup *d, const struct dedup_config *cfg, dedup_close_fn on_close,
               void *ctx, char *err, size_t errlen);
void dedup_free(struct dedup *d);

/* A finding at ts_us by client cli_ip on flow flow_id. Closes the groups
 * whose window ended by ts_us first. Returns true when the finding opens
 * a group (write its alert), false for a repeat; *g (when not NULL) is
 * the group, valid until the next call. */
bool dedup_offer(struct dedup *d, const struct dedup_key *k, const uint8_t cli_ip[16],
                 uint64_t ts_us, uint64_t flow_id, uint8_t severity,
                 const struct dedup_group **g);

/* True when a group's window ended by now_us: dedup_expire has work. Inline,
 * for a caller that asks on every packet. */
static inline bool dedup_due(const struct dedup *d, uint64_t now_us)
{
	return d->oldest && d->groups[d->oldest - 1].window_end_us <= now_us;
}

/* Closes the groups whose window ended by now_us. */
void dedup_expire(struct dedup *d, uint64_t now_us);

/* Closes every group (end of input). */
void dedup_flush(struct dedup *d);

#endif
