/*
 * engine.c - see engine.h.
 *
 * Per flow, f->user_slot says where the flow is in inspection:
 *   STREAM_NONE      no payload seen yet (a SYN flood never leaves this);
 *   a slot index     its first bytes are being collected;
 *   SLOT_DONE        inspection is over, f->user_len[] keeps the lengths;
 *   SLOT_EXHAUSTED   the stream pool was empty: the flow is counted only.
 * A flow leaves inspection as soon as both directions hold their full
 * first-bytes budget, so long bulk transfers cost counters only.
 */
#include "cli/engine.h"

#include <errno.h>
#include <string.h>

#define SLOT_DONE (STREAM_NONE - 1)
#define SLOT_EXHAUSTED (STREAM_NONE - 2)

void engine_config_defaults(struct engine_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->decode.frag_max = 1024;
	cfg->decode.frag_timeout_us = 30u * 1000000u;
	flow_config_defaults(&cfg->flow);
	cfg->stream.cap = 4096;
	cfg->stream.max_slots = 16384;
}

static void emit(struct engine *e)
{
	int rc = json_emit(&e->json, e->cfg.json_out);
	if (rc == -1)
		e->totals.output_overflow++;
	else if (rc == -2 && !e->write_errno)
		e->write_errno = errno ? errno : EIO;
}

static void inspection_done(struct engine *e, struct flow *f)
{
	uint32_t slot = f->user_slot;
	if (slot == STREAM_NONE || slot == SLOT_DONE || slot == SLOT_EXHAUSTED)
		return;
	for (int d = 0; d < 2; d++)
		(void)stream_data(&e->streams, slot, (enum flow_dir)d, &f->user_len[d]);
	stream_give(&e->streams, slot);
	f->user_slot = SLOT_DONE;
}

static void on_flow_end(void *ctx, struct flow *f)
{
	struct engine *e = ctx;
	inspection_done(e, f);
	e->totals.flows_reported++;
	if (!e->cfg.json_out)
		return;
	report_flow_json(&e->json, f, f->user_len, f->user_slot != SLOT_EXHAUSTED);
	emit(e);
}

int engine_init(struct engine *e, const struct engine_config *cfg, char *err, size_t errlen)
{
	memset(e, 0, sizeof *e);
	e->cfg = *cfg;
	if (decoder_init(&e->dec, &cfg->decode, err, errlen) != 0)
		return -1;
	if (flow_table_init(&e->flows, &cfg->flow, on_flow_end, e, err, errlen) != 0) {
		decoder_free(&e->dec);
		return -1;
	}
	if (stream_pool_init(&e->streams, &cfg->stream, err, errlen) != 0) {
		flow_table_free(&e->flows);
		decoder_free(&e->dec);
		return -1;
	}
	e->totals.decode = &e->dec.stats;
	e->totals.flow = &e->flows.stats;
	e->totals.flow_cfg = &e->flows.cfg;
	e->totals.stream = &e->streams.stats;
	e->totals.stream_cfg = &e->streams.cfg;
	return 0;
}

void engine_free(struct engine *e)
{
	stream_pool_free(&e->streams);
	flow_table_free(&e->flows);
	decoder_free(&e->dec);
}

static void inspect(struct engine *e, struct flow *f, enum flow_dir dir, const struct packet *p)
{
	bool tcp = p->l4_proto == 6;
	if (f->user_slot == SLOT_DONE || f->user_slot == SLOT_EXHAUSTED)
		return;
	if (f->user_slot == STREAM_NONE) {
		if (p->payload_wire_len == 0)
			return; /* nothing to keep yet; the SYN's sequence is in the flow */
		uint32_t slot = stream_take(&e->streams);
		if (slot == STREAM_NONE) {
			f->user_slot = SLOT_EXHAUSTED;
			e->totals.flows_uninspected++;
			return;
		}
		f->user_slot = slot;
		/* Replay the handshake so each stream starts at its ISN + 1. */
		for (int d = 0; tcp && d < 2; d++)
			if (f->syn_seen & (1u << d))
				stream_tcp(&e->streams, slot, (enum flow_dir)d, f->syn_seq[d], TCPF_SYN,
				           NULL, 0, 0);
	}
	if (tcp)
		stream_tcp(&e->streams, f->user_slot, dir, p->seq, p->tcp_flags, p->payload,
		           p->payload_len, p->payload_wire_len);
	else
		stream_udp(&e->streams, f->user_slot, dir, p->payload, p->payload_len);
	if (stream_full(&e->streams, f->user_slot, DIR_TO_SERVER) &&
	    stream_full(&e->streams, f->user_slot, DIR_TO_CLIENT))
		inspection_done(e, f);
}

void engine_packet(struct engine *e, int dlt, const struct capture_pkt *cp)
{
	struct packet p;
	struct run_totals *t = &e->totals;
	if (t->packets == 0 || cp->ts_us < t->first_ts_us)
		t->first_ts_us = cp->ts_us;
	if (cp->ts_us > t->last_ts_us)
		t->last_ts_us = cp->ts_us;
	t->packets++;
	t->bytes += cp->wirelen;
	enum decode_result r = decode_packet(&e->dec, dlt, cp->data, cp->caplen, cp->wirelen,
	                                     cp->ts_us, &p);
	if (r != DECODE_TCP && r != DECODE_UDP)
		return;
	enum flow_dir dir;
	bool created;
	struct flow *f = flow_packet(&e->flows, &p, p.frame_bytes, &dir, &created);
	if (created) {
		f->user_slot = STREAM_NONE;
		f->user_len[0] = f->user_len[1] = 0;
	}
	inspect(e, f, dir, &p);
}

void engine_tick(struct engine *e, uint64_t now_us)
{
	decode_expire(&e->dec, now_us);
	flow_expire(&e->flows, now_us);
}

void engine_finish(struct engine *e)
{
	decode_flush(&e->dec);
	flow_flush(&e->flows);
}

int engine_write_stats(struct engine *e)
{
	if (!e->cfg.json_out)
		return 0;
	report_stats_json(&e->json, &e->totals);
	emit(e);
	return e->write_errno ? -1 : 0;
}
