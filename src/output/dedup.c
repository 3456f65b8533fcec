/*
 * dedup.c - see dedup.h.
 *
 * Groups live in a preallocated array, found by a chained hash of their
 * key and kept on a list in the order they opened: the window of each
 * ends a fixed time after it opened, so the list's head is the first to
 * close, and the oldest is the one a full table evicts. Capture time that
 * runs backwards (files read out of order) can put a group whose window
 * ends earlier behind one whose window ends later: the expiry reaches it
 * late, so a finding checks its group's window itself and, outside it,
 * closes the group and opens a new one. A new group joins the end of its
 * hash chain, so that chains run from older to newer groups: the oldest,
 * which closes first, is then at the head of its chain. A group holds its
 * first client; the others are (group, address) pairs in a second
 * preallocated hash, and each group chains its own pairs so that closing
 * it frees them.
 */
#include "output/dedup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct dedup_client {
	uint8_t ip[16];
	uint32_t group; /* index + 1 */
	uint32_t hnext; /* bucket chain, index + 1 */
	uint32_t gnext; /* the group's pairs, index + 1 */
};

const char *dedup_close_name(enum dedup_close c)
{
	static const char *const names[DEDUP_CLOSE__COUNT] = {
		[DEDUP_CLOSE_WINDOW] = "window",
		[DEDUP_CLOSE_EVICTED] = "evicted",
		[DEDUP_CLOSE_END] = "end",
	};
	return (unsigned)c < DEDUP_CLOSE__COUNT ? names[c] : "?";
}

void dedup_config_defaults(struct dedup_config *cfg)
{
	cfg->window_us = 3600ull * 1000000u;
	cfg->max_groups = 16384;
	cfg->max_clients = 65536;
	cfg->seed = 0;
}

static uint32_t pow2_at_least(uint32_t n)
{
	uint32_t p = 1;
	while (p < n && p < (1u << 30))
		p <<= 1;
	return p;
}

/* A 64-bit mix (the finaliser of SplitMix64) over the key's bytes, from
 * the configured seed, so that findings cannot be chosen to collide. Only
 * the speed of a lookup depends on it, never what is reported. */
static uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebull;
	return h ^ (h >> 31);
}

static uint64_t load64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof v);
	return v;
}

static uint64_t key_hash(const struct dedup *d, const struct dedup_key *k)
{
	uint64_t h = mix(d->cfg.seed, load64(k->srv_ip));
	h = mix(h, load64(k->srv_ip + 8));
	h = mix(h, (uint64_t)k->rule | (uint64_t)k->gen << 16);
	return mix(h, (uint64_t)k->ip_version | (uint64_t)k->transport << 8 |
	                  (uint64_t)k->srv_port << 16 | (uint64_t)(uint16_t)k->proto << 32 |
	                  (uint64_t)(k->sid & 0xffff) << 48);
}

static bool key_eq(const struct dedup_key *a, const struct dedup_key *b)
{
	return a->ip_version == b->ip_version && a->transport == b->transport &&
	       a->srv_port == b->srv_port && a->proto == b->proto && a->sid == b->sid &&
	       a->rule == b->rule && a->gen == b->gen && memcmp(a->srv_ip, b->srv_ip, 16) == 0;
}

static uint32_t client_bucket(const struct dedup *d, uint32_t group, const uint8_t ip[16])
{
	uint64_t h = mix(mix(d->cfg.seed ^ group, load64(ip)), load64(ip + 8));
	return (uint32_t)(h & (d->nclient_buckets - 1));
}

int dedup_init(struct dedup *d, const struct dedup_config *cfg, dedup_close_fn on_close,
               void *ctx, char *err, size_t errlen)
{
	memset(d, 0, sizeof *d);
	d->cfg = *cfg;
	if (d->cfg.max_groups < 1)
		d->cfg.max_groups = 1;
	if (d->cfg.max_clients < 1)
		d->cfg.max_clients = 1;
	d->on_close = on_close;
	d->ctx = ctx;
	d->nbuckets = pow2_at_least(d->cfg.max_groups * 2u);
	d->nclient_buckets = pow2_at_least(d->cfg.max_clients * 2u);
	d->groups = calloc(d->cfg.max_groups, sizeof *d->groups);
	d->buckets = calloc(d->nbuckets, sizeof *d->buckets);
	d->clients = calloc(d->cfg.max_clients, sizeof *d->clients);
	d->client_buckets = calloc(d->nclient_buckets, sizeof *d->client_buckets);
	if (!d->groups || !d->buckets || !d->clients || !d->client_buckets) {
		dedup_free(d);
		snprintf(err, errlen, "out of memory for the alert deduplication tables");
		return -1;
	}
	d->mem_bytes = (size_t)d->cfg.max_groups * sizeof *d->groups +
	               (size_t)d->nbuckets * sizeof *d->buckets +
	               (size_t)d->cfg.max_clients * sizeof *d->clients +
	               (size_t)d->nclient_buckets * sizeof *d->client_buckets;
	return 0;
}

void dedup_free(struct dedup *d)
{
	free(d->groups);
	free(d->buckets);
	free(d->clients);
	free(d->client_buckets);
	d->groups = NULL;
	d->buckets = NULL;
	d->clients = NULL;
	d->client_buckets = NULL;
}

static uint32_t *bucket_of(struct dedup *d, const struct dedup_key *k)
{
	return &d->buckets[key_hash(d, k) & (d->nbuckets - 1)];
}

/* Reports group gi1 (index + 1) and frees it and its clients. */
static void close_group(struct dedup *d, uint32_t gi1, enum dedup_close why)
{
	struct dedup_group *g = &d->groups[gi1 - 1];
	d->stats.closed[why]++;
	d->stats.closed_with_repeats += g->flows > 1;
	if (d->on_close)
		d->on_close(d->ctx, g, why);
	/* its clients */
	for (uint32_t c1 = g->client_head; c1;) {
		struct dedup_client *c = &d->clients[c1 - 1];
		uint32_t next = c->gnext;
		uint32_t *link = &d->client_buckets[client_bucket(d, gi1, c->ip)];
		while (*link && *link != c1)
			link = &d->clients[*link - 1].hnext;
		if (*link)
			*link = c->hnext;
		c->hnext = d->free_client;
		d->free_client = c1;
		c1 = next;
	}
	/* its hash chain */
	uint32_t *link = bucket_of(d, &g->key);
	while (*link && *link != gi1)
		link = &d->groups[*link - 1].hnext;
	if (*link)
		*link = g->hnext;
	/* the opening order */
	if (g->older) {
		d->groups[g->older - 1].newer = g->newer;
	} else {
		d->oldest = g->newer;
		/* the next to close, in a full table at the next new key: its
		 * key's line (the links' line is written just below) */
		if (g->newer)
			__builtin_prefetch(&d->groups[g->newer - 1].key);
	}
	if (g->newer)
		d->groups[g->newer - 1].older = g->older;
	else
		d->newest = g->older;
	memset(g, 0, sizeof *g);
	g->hnext = d->free_group;
	d->free_group = gi1;
	d->active--;
}

void dedup_expire(struct dedup *d, uint64_t now_us)
{
	while (dedup_due(d, now_us))
		close_group(d, d->oldest, DEDUP_CLOSE_WINDOW);
}

void dedup_flush(struct dedup *d)
{
	while (d->oldest)
		close_group(d, d->oldest, DEDUP_CLOSE_END);
}

/* Counts cli_ip among the group's clients when it is new to it. */
static void add_client(struct dedup *d, uint32_t gi1, const uint8_t cli_ip[16])
{
	struct dedup_group *g = &d->groups[gi1 - 1];
	if (g->clients == 0) { /* the first: in the group itself */
		memcpy(g->first_client, cli_ip, 16);
		g->clients = 1;
		return;
	}
	if (memcmp(g->first_client, cli_ip, 16) == 0)
		return; /* seen */
	uint32_t *head = &d->client_buckets[client_bucket(d, gi1, cli_ip)];
	for (uint32_t c1 = *head; c1; c1 = d->clients[c1 - 1].hnext)
		if (d->clients[c1 - 1].group == gi1 && memcmp(d->clients[c1 - 1].ip, cli_ip, 16) == 0)
			return; /* seen */
	if (!d->free_client && d->clients_used < d->cfg.max_clients) {
		d->clients[d->clients_used].hnext = 0;
		d->free_client = ++d->clients_used; /* a never used pair, index + 1 */
	}
	if (!d->free_client) {
		if (g->clients_exact) {
			g->clients_exact = false;
			d->stats.clients_inexact++;
		}
		return;
	}
	uint32_t c1 = d->free_client;
	struct dedup_client *c = &d->clients[c1 - 1];
	d->free_client = c->hnext;
	memcpy(c->ip, cli_ip, 16);
	c->group = gi1;
	c->hnext = *head;
	*head = c1;
	c->gnext = g->client_head;
	g->client_head = c1;
	g->clients++;
}

bool dedup_offer(struct dedup *d, const struct dedup_key *k, const uint8_t cli_ip[16],
                 uint64_t ts_us, uint64_t flow_id, uint8_t severity,
                 const struct dedup_group **gout)
{
	dedup_expire(d, ts_us);
	if (!d->free_group && d->groups_used == d->cfg.max_groups && d->oldest)
		/* Full: a new key evicts the oldest group, whose bucket its
		 * unlinking reads; fetched now, that miss overlaps the lookup's
		 * own (a million short flows: a new group per finding). */
		__builtin_prefetch(bucket_of(d, &d->groups[d->oldest - 1].key));
	uint32_t *head = bucket_of(d, k);
	for (uint32_t gi1 = *head; gi1; gi1 = d->groups[gi1 - 1].hnext) {
		struct dedup_group *g = &d->groups[gi1 - 1];
		if (!key_eq(&g->key, k))
			continue;
		if (ts_us >= g->window_end_us || ts_us + d->cfg.window_us <= g->first_ts_us) {
			/* outside its window: later (a group the expiry has not
			 * reached, behind one opened at a later time when capture
			 * time ran backwards), or a window's length before it */
			close_group(d, gi1, DEDUP_CLOSE_WINDOW);
			break;
		}
		g->flows++;
		if (ts_us > g->last_ts_us)
			g->last_ts_us = ts_us;
		add_client(d, gi1, cli_ip);
		d->stats.repeats++;
		if (gout)
			*gout = g;
		return false;
	}
	if (!d->free_group && d->groups_used < d->cfg.max_groups) {
		d->groups[d->groups_used].hnext = 0;
		d->free_group = ++d->groups_used; /* a never used group, index + 1 */
	}
	if (!d->free_group)
		close_group(d, d->oldest, DEDUP_CLOSE_EVICTED);
	head = bucket_of(d, k); /* the same bucket: closing does not move it */
	uint32_t gi1 = d->free_group;
	struct dedup_group *g = &d->groups[gi1 - 1];
	d->free_group = g->hnext;
	memset(g, 0, sizeof *g);
	g->key = *k;
	g->first_ts_us = g->last_ts_us = ts_us;
	g->window_end_us = ts_us + d->cfg.window_us < ts_us ? UINT64_MAX : ts_us + d->cfg.window_us;
	g->alert_flow_id = flow_id;
	g->flows = 1;
	g->clients_exact = true;
	g->severity = severity;
	/* At the chain's end (its groups were just read by the lookup): a
	 * chain then runs from older to newer groups, so the group a full
	 * table or the expiry closes, the oldest, is nearly always first in
	 * its chain and unlinking it reads no other group. */
	uint32_t *link = head;
	while (*link)
		link = &d->groups[*link - 1].hnext;
	*link = gi1; /* g->hnext is 0 (cleared above) */
	g->older = d->newest;
	if (d->newest)
		d->groups[d->newest - 1].newer = gi1;
	else
		d->oldest = gi1;
	d->newest = gi1;
	d->active++;
	d->stats.groups++;
	add_client(d, gi1, cli_ip);
	if (gout)
		*gout = g;
	return true;
}
