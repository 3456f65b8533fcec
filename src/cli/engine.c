/*
 * engine.c - see engine.h.
 *
 * Per flow, f->user_slot says where the flow is in inspection:
 *   STREAM_NONE      no payload seen yet (a SYN flood never leaves this);
 *   a slot index     its first bytes are being collected and identified;
 *   SLOT_DONE        the verdict is taken, f->user_len[] keeps the lengths;
 *   SLOT_EXHAUSTED   the stream pool was empty: the flow is counted only;
 *   SLOT_UNMATCHED   UDP, nothing can match its bytes: slot given back
 *                    under pressure, verdict waiting (judge_under_pressure).
 *
 * A flow that needs a slot when all are taken does not go uninspected
 * (a UDP spray or a crowd of silent connections would otherwise blind
 * the sensor to every new flow): the slot holder fed least recently is
 * decided at once on what it has, as if it had ended (counted in
 * stats.stream.inspections_cut, and its flow record says
 * inspection_cut), and its slot goes to the new flow. SLOT_EXHAUSTED is
 * left for a pool with no slot to cut.
 *
 * When to decide (DESIGN: decide late enough): after each payload packet
 * the identifiers run over both directions' first bytes, once the server
 * has sent some or a side is done (try_decide). A match decides
 * at once (an identifier that matched on the client's bytes alone has
 * already waited for the server, see identify.h). Bytes that nothing
 * matches decide as "unknown" only once both sides have spoken, or when
 * the flow's inspection budget is spent (the first-bytes buffers full, or
 * inspect_segments payload packets, at least as many as first-bytes
 * bytes), or when the flow ends. After the
 * verdict the flow gives its buffers back and costs counters only.
 */
#include "cli/engine.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "identify/protocols.h"

#define SLOT_DONE (STREAM_NONE - 1)
#define SLOT_EXHAUSTED (STREAM_NONE - 2)
#define SLOT_UNMATCHED (STREAM_NONE - 3)

void engine_config_defaults(struct engine_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->decode.frag_max = 1024;
	cfg->decode.frag_timeout_us = 30u * 1000000u;
	flow_config_defaults(&cfg->flow);
	cfg->stream.cap = 4096;
	cfg->stream.max_slots = 16384;
	/* As many payload segments as first-bytes bytes: a handshake sent one
	 * byte per segment (an evasion) is still read whole. */
	cfg->inspect_segments = 4096;
	cfg->dedup = true;
	dedup_config_defaults(&cfg->dedup_cfg);
}

static void emit(struct engine *e)
{
	int rc = json_emit(&e->json, e->cfg.json_out);
	if (rc == -1)
		e->totals.output_overflow++;
	else if (rc == -2 && !e->write_errno)
		e->write_errno = errno ? errno : EIO;
}

void engine_flush_json(struct engine *e)
{
	if (e->cfg.json_out && json_flush(&e->json, e->cfg.json_out) != 0 && !e->write_errno)
		e->write_errno = errno ? errno : EIO;
}

static bool inspecting(const struct flow *f)
{
	return f->user_slot != STREAM_NONE && f->user_slot != SLOT_DONE &&
	       f->user_slot != SLOT_EXHAUSTED && f->user_slot != SLOT_UNMATCHED;
}

static void slot_unlink(struct engine *e, uint32_t s)
{
	struct engine_slot *x = &e->slot[s];
	if (x->older != STREAM_NONE)
		e->slot[x->older].newer = x->newer;
	else
		e->slot_oldest = x->newer;
	if (x->newer != STREAM_NONE)
		e->slot[x->newer].older = x->older;
	else
		e->slot_newest = x->older;
}

static void slot_append(struct engine *e, uint32_t s)
{
	struct engine_slot *x = &e->slot[s];
	x->older = e->slot_newest;
	x->newer = STREAM_NONE;
	if (e->slot_newest != STREAM_NONE)
		e->slot[e->slot_newest].newer = s;
	else
		e->slot_oldest = s;
	e->slot_newest = s;
}

/* Gives the flow's stream slot back, keeping the first-bytes lengths. */
static void release(struct engine *e, struct flow *f)
{
	if (!inspecting(f))
		return;
	slot_unlink(e, f->user_slot);
	e->slot[f->user_slot].owner = NULL;
	for (int d = 0; d < 2; d++)
		(void)stream_data(&e->streams, f->user_slot, (enum flow_dir)d, &f->user_len[d]);
	stream_give(&e->streams, f->user_slot);
	f->user_slot = SLOT_DONE;
}

static void build_input(const struct engine *e, const struct flow *f, bool final,
                        struct ident_input *in)
{
	memset(in, 0, sizeof *in);
	in->transport = f->proto == 17 ? IDENT_UDP : IDENT_TCP;
	bool budget = f->user_segments >= e->cfg.inspect_segments;
	for (int d = 0; d < 2; d++) {
		enum flow_dir dir = (enum flow_dir)d;
		in->data[d] = stream_data(&e->streams, f->user_slot, dir, &in->len[d]);
		const struct stream_dir *sd = stream_dir_state(&e->streams, f->user_slot, dir);
		bool closed = (f->fin_seen & (1u << d)) || ((f->tcp_flags[0] | f->tcp_flags[1]) & TCPF_RST);
		in->done[d] = final || budget || closed || stream_full(&e->streams, f->user_slot, dir);
		in->midstream[d] = in->transport == IDENT_TCP && !(sd && sd->syn_seen);
		in->truncated[d] = f->user_flags & (d == 0 ? REPORT_UF_CUT_TS : REPORT_UF_CUT_TC);
		if (sd && in->transport == IDENT_UDP) {
			in->ndgrams[d] = sd->ndgrams < IDENT_DGRAMS_MAX ? sd->ndgrams : IDENT_DGRAMS_MAX;
			for (int k = 0; k < in->ndgrams[d]; k++)
				in->dgram_len[d][k] = sd->dgram_len[k];
			if (sd->ndgrams >= STREAM_MAX_DGRAMS)
				in->done[d] = true;
		}
	}
}

/* engine_note.rule from verdict_apply_policy's answer, and back. */
static uint16_t note_rule(int rule)
{
	return rule >= 0 ? (uint16_t)(rule + 1) : rule == VERDICT_BY_DEFAULT ? UINT16_MAX : 0;
}

static int rule_of_note(uint16_t r)
{
	return r == 0 ? -1 : r == UINT16_MAX ? VERDICT_BY_DEFAULT : (int)r - 1;
}

/* Who decided: the policy rule (rule >= 0 or VERDICT_BY_DEFAULT, under
 * pol; pol NULL: a policy replaced since) or the ports registry (rule
 * -1); label and loc are the buffers the note points into. */
static void make_note(const struct engine *e, const struct flow *f, int rule,
                      const struct policy *pol, char *label, size_t labellen, char *loc,
                      size_t loclen, struct verdict_note *note)
{
	memset(note, 0, sizeof *note);
	if (rule != -1 && !pol) {
		note->decided_by = "policy";
		note->rule = REPORT_RULE_REPLACED;
	} else if (rule != -1) {
		report_rule_label(pol, rule, label, labellen, loc, loclen);
		note->decided_by = "policy";
		note->rule = label;
		note->rule_location = loc;
	} else {
		report_entry_spec(e->ports, f->proto, f->srv_port, label, labellen);
		note->decided_by = "registry";
		note->rule = label;
	}
}

static void judge(struct engine *e, struct flow *f, int proto, struct ident_evidence *ev,
                  const struct ident_input *in, struct verdict_input vi, uint64_t now_us);

static void decide(struct engine *e, struct flow *f, int proto, struct ident_evidence *ev,
                   const struct ident_input *in, uint64_t now_us)
{
	struct verdict_input vi = {
		.proto = proto,
		.ev = ev,
		.transport = f->proto == 17 ? PORTS_UDP : PORTS_TCP,
		.server_port = f->srv_port,
		.orientation_guessed = flow_orient_guessed(f->orient),
		.client_spoke = in->len[0] > 0,
		.server_spoke = in->len[1] > 0,
		.fake_tls = proto < 0 && in->transport == IDENT_TCP && ident_tls_fake(in),
		.start_seen = in->transport == IDENT_UDP || !in->midstream[0],
		.payload = proto < 0 ? ident_payload_class(in) : IDENT_PAYLOAD_NONE,
		.unknown_all = e->cfg.unknown_all,
	};
	judge(e, f, proto, ev, in, vi, now_us);
}

/* A UDP flow whose bytes nothing matched, read either way as if it had
 * ended, and whose slot was given back under pressure (let_go_unmatched,
 * below): unidentified, judged on
 * what was noted then (the first message's class, the sides that had
 * spoken) and on whether the silent side has spoken since. */
static void decide_unmatched(struct engine *e, struct flow *f, uint64_t now_us)
{
	struct verdict_input vi = {
		.proto = -1,
		.transport = PORTS_UDP,
		.server_port = f->srv_port,
		.orientation_guessed = flow_orient_guessed(f->orient),
		.client_spoke = f->user_len[0] > 0,
		.server_spoke = f->user_len[1] > 0,
		.start_seen = true,
		.payload = (enum ident_payload)((f->user_flags & REPORT_UF_PAYLOAD_MASK) >>
		                                REPORT_UF_PAYLOAD_SHIFT),
		.unknown_all = e->cfg.unknown_all,
	};
	f->user_slot = SLOT_DONE;
	judge(e, f, -1, NULL, NULL, vi, now_us);
}

/* The verdict on what decide or decide_unmatched gathered; in is NULL for
 * the second (used only for a match). */
static void judge(struct engine *e, struct flow *f, int proto, struct ident_evidence *ev,
                  const struct ident_input *in, struct verdict_input vi, uint64_t now_us)
{
	struct finding fd;
	verdict_judge(e->ports, &vi, &fd);
	f->user_proto = (int16_t)proto;
	f->user_flags |= REPORT_UF_DECIDED;
	if (proto >= 0 && proto < PORTS_MAX_PROTOS) {
		e->totals.app_proto[proto]++;
	} else {
		e->totals.app_unknown++;
		if (vi.payload != IDENT_PAYLOAD_NONE)
			e->totals.unknown_payload[vi.payload]++;
		f->user_flags = (uint8_t)((f->user_flags & ~REPORT_UF_PAYLOAD_MASK) |
		                          ((unsigned)vi.payload << REPORT_UF_PAYLOAD_SHIFT));
	}
	int rule = -1;
	if (e->policy) {
		const struct ident_field *sni = proto >= 0 ? ident_get(ev, "sni") : NULL;
		const struct ident_field *host = proto >= 0 ? ident_get(ev, "http_host") : NULL;
		struct policy_flow pf = {
			.proto = proto,
			.transport = vi.transport,
			.server_port = f->srv_port,
			.ip_version = f->ip_version,
			.server_ip = f->srv_ip,
			.client_ip = f->cli_ip,
			.sni = sni ? sni->value : NULL,
			.sni_len = sni ? sni->len : 0,
			.host = host ? host->value : NULL,
			.host_len = host ? host->len : 0,
		};
		bool registry_finding = fd.kind != FINDING_NONE;
		rule = verdict_apply_policy(e->policy, &pf, &vi, &fd);
		if (rule != -1) {
			if (rule == VERDICT_BY_DEFAULT)
				e->totals.policy_by_default++;
			if (fd.kind == FINDING_NONE) {
				e->totals.policy_allowed++;
				e->totals.policy_allowed_findings += registry_finding;
			} else {
				e->totals.policy_alerted++;
				e->totals.policy_alerted_new += !registry_finding;
			}
		}
	}
	struct engine_note *en = &e->notes[flow_index(&e->flows, f)];
	en->reason = (uint8_t)fd.reason;
	en->rule = note_rule(rule);
	en->gen = e->policy_gen;
	f->user_kind = (uint8_t)fd.kind;
	if (fd.kind != FINDING_NONE) {
		e->totals.findings[fd.kind]++;
		if (e->cfg.dedup) {
			struct dedup_key k = {
				.ip_version = f->ip_version,
				.transport = f->proto,
				.srv_port = f->srv_port,
				.proto = (int16_t)proto,
				.rule = en->rule,
				.sid = fd.sid,
				.gen = en->rule ? en->gen : 0,
			};
			memcpy(k.srv_ip, f->srv_ip, sizeof k.srv_ip);
			if (!dedup_offer(&e->dedup, &k, f->cli_ip, now_us, f->flow_id, fd.severity, NULL)) {
				f->user_flags |= REPORT_UF_REPEAT;
				release(e, f);
				return;
			}
		}
		e->totals.alerts[fd.kind]++;
		if (proto >= 0 && proto < PORTS_MAX_PROTOS && !e->expected_ports_made[proto]) {
			ports_of_proto(e->ports, proto, e->expected_ports[proto],
			               sizeof e->expected_ports[proto]);
			e->expected_ports_made[proto] = true;
		}
		/* The evidence is shown: what the identifier left for later
		 * (a TLS flow's JA4) is filled in now, for alerts only. */
		if (proto >= 0)
			ident_finish(in, ev);
		char label[128], loc[128];
		struct verdict_note note;
		make_note(e, f, rule, e->policy, label, sizeof label, loc, sizeof loc, &note);
		struct alert_info a = {
			.f = f, .ts_us = now_us, .proto = proto, .finding = &fd,
			.ev = proto >= 0 ? ev : NULL, .ports = e->ports,
			.expected_ports = proto >= 0 && proto < PORTS_MAX_PROTOS ? e->expected_ports[proto]
			                                                         : NULL,
			.note = &note,
		};
		if (e->cfg.json_out) {
			report_alert_json(&e->json, &a);
			emit(e);
		}
		if (e->cfg.text_out && report_alert_text(e->cfg.text_out, &a) != 0 && !e->write_errno)
			e->write_errno = errno ? errno : EIO;
	}
	release(e, f);
}

/* The capture flags a reading of the bytes was judged under. */
static uint8_t input_flags(const struct ident_input *in)
{
	return (uint8_t)(in->midstream[0] | in->midstream[1] << 1 | in->truncated[0] << 2 |
	                 in->truncated[1] << 3);
}

/* The identifiers already ruled out for this flow's bytes read one way
 * (way 0: as oriented, 1: reversed). NO_MATCH is final only for the same
 * reading of the bytes: when the capture flags change (a SYN arrives late,
 * the snap length starts cutting) every identifier runs again. */
static struct ident_set *ruled_out(struct engine *e, const struct flow *f,
                                   const struct ident_input *in, int way)
{
	struct engine_ruled_out *ro = &e->ruled_out[f->user_slot];
	uint8_t flags = input_flags(in);
	if (way == 0 && flags != ro->flags) {
		memset(ro->set, 0, sizeof ro->set);
		ro->flags = flags;
	}
	return &ro->set[way];
}

/* The same bytes with client and server exchanged. */
static void swapped(const struct ident_input *in, struct ident_input *out)
{
	*out = *in;
	for (int d = 0; d < 2; d++) {
		out->data[d] = in->data[1 - d];
		out->len[d] = in->len[1 - d];
		out->done[d] = in->done[1 - d];
		out->truncated[d] = in->truncated[1 - d];
		out->midstream[d] = in->midstream[1 - d];
		out->ndgrams[d] = in->ndgrams[1 - d];
		memcpy(out->dgram_len[d], in->dgram_len[1 - d], sizeof out->dgram_len[d]);
	}
}

/* A guessed orientation (ports, first packet) gives way to the payload:
 * when the bytes read the other way round are a protocol that the server's
 * side confirms, and read this way they are not, the guess was wrong (a
 * capture that began with the server's reply on two high ports). */
static void maybe_reverse(struct engine *e, struct flow *f, struct ident_input *in,
                          struct ident_result *r)
{
	if (f->orient != ORIENT_PORT && f->orient != ORIENT_FIRST_PACKET)
		return;
	if (r->verdict == IDENT_MATCH && r->ev.server_confirmed)
		return;
	struct ident_input sw;
	struct ident_result rs;
	swapped(in, &sw);
	ident_run_more(&sw, ruled_out(e, f, &sw, 1), &rs);
	if (rs.verdict != IDENT_MATCH || !rs.ev.server_confirmed)
		return;
	flow_reverse(&e->flows, f);
	stream_swap(&e->streams, f->user_slot);
	/* the two readings' ruled-out sets trade places with the roles */
	struct engine_ruled_out *ro = &e->ruled_out[f->user_slot];
	struct ident_set t = ro->set[0];
	ro->set[0] = ro->set[1];
	ro->set[1] = t;
	ro->flags = input_flags(&sw);
	uint8_t cut = f->user_flags & (REPORT_UF_CUT_TS | REPORT_UF_CUT_TC);
	f->user_flags = (uint8_t)((f->user_flags & ~cut) |
	                          ((cut & REPORT_UF_CUT_TS) ? REPORT_UF_CUT_TC : 0) |
	                          ((cut & REPORT_UF_CUT_TC) ? REPORT_UF_CUT_TS : 0));
	/* The slot's regions traded their bytes: the new client's are now
	 * where in->data[0] points. The swapped reading holds with the
	 * pointers of the original one (ident_finish reads the bytes again
	 * when the alert is written). */
	const uint8_t *d0 = in->data[0], *d1 = in->data[1];
	*in = sw;
	in->data[0] = d0;
	in->data[1] = d1;
	*r = rs;
}

/* Runs identification on what the flow holds; decides when the evidence
 * is in (see the top of this file). */
static void try_decide(struct engine *e, struct flow *f, bool final, uint64_t now_us)
{
	struct ident_input in;
	struct ident_result r;
	build_input(e, f, final, &in);
	/* Wait for the server. While the server (as oriented) has sent
	 * nothing and both sides may still send, no run is made: its only
	 * possible outcome on most flows is NEED_MORE (a claim on the client's
	 * bytes waits for the server, identify.h) plus identifiers ruled out
	 * that the next run rules out as well, and it cost every flow a
	 * second pass over its client's bytes (HTTP and TLS parsed twice; a
	 * million short flows 17% faster without it, docs/performance.md).
	 * What waits now: a claim that would have decided on one side alone
	 * (nothing else needing more, an identifier confirming from the
	 * client's bytes, or the bytes read the other way round being a
	 * server's under a guessed orientation) is decided when the other
	 * side's first bytes come, or the client's side is done (FIN, RST,
	 * first-bytes buffer full, segment budget, STREAM_MAX_DGRAMS
	 * datagrams), or the flow ends: with the server's bytes in the
	 * evidence when they come. */
	if (!final && in.len[1] == 0 && !in.done[0] && !in.done[1])
		return;
	ident_run_more(&in, ruled_out(e, f, &in, 0), &r);
	maybe_reverse(e, f, &in, &r);
	if (r.verdict == IDENT_MATCH) {
		decide(e, f, r.proto, &r.ev, &in, now_us);
		return;
	}
	bool all_done = in.done[0] && in.done[1];
	if (r.verdict == IDENT_NEED_MORE && !all_done)
		return;
	/* Nothing matches (or nothing can any more). Unknown, once both sides
	 * have spoken or no more bytes will come. */
	if (all_done || (in.len[0] > 0 && in.len[1] > 0))
		decide(e, f, -1, NULL, &in, now_us);
}

/*
 * Under a UDP spray every slot fills with one-datagram flows that no
 * identifier matches, each kept until the pool is full and it is cut,
 * a pool of flows later, out of the caches (its flow, its slot, its
 * ruled-out sets: most of a spray datagram's cost). So while three
 * quarters of the pool or more are taken, a UDP flow that only one side
 * has spoken in is judged when its datagram arrives, as if it had ended
 * (judge_under_pressure): when nothing matches its bytes read either way,
 * its verdict is unidentified whatever it sends later; its first message's
 * payload class and the lengths held are noted in the flow, its slot is
 * given back (still in the cache, to the next flow) and the flow is
 * decided when its silent side speaks or it ends. What that gives up,
 * under pressure only: later datagrams of the side that spoke are counted,
 * not kept, so a protocol recognised only from several datagrams (RTP) or
 * only with the other side's answer is not recognised in such a flow (a
 * cut, a pool of flows later, would also have judged it on what it had).
 * A flow that something matches keeps its slot.
 */
static bool pool_pressed(const struct engine *e)
{
	return e->streams.in_use >= e->streams.cfg.max_slots - e->streams.cfg.max_slots / 4;
}

static void let_go_unmatched(struct engine *e, struct flow *f, const struct ident_input *in)
{
	enum ident_payload pc = ident_payload_class(in);
	release(e, f); /* f->user_len[] = the lengths held */
	f->user_slot = SLOT_UNMATCHED;
	f->user_flags = (uint8_t)((f->user_flags & ~REPORT_UF_PAYLOAD_MASK) |
	                          ((unsigned)pc << REPORT_UF_PAYLOAD_SHIFT) |
	                          REPORT_UF_INSPECTION_CUT);
	e->totals.inspections_cut++;
}

static void judge_under_pressure(struct engine *e, struct flow *f)
{
	if (f->orient != ORIENT_PORT && f->orient != ORIENT_FIRST_PACKET)
		return; /* turned round already: it keeps its slot */
	struct ident_input in, sw;
	struct ident_result r;
	build_input(e, f, true, &in);
	if (in.len[0] > 0 && in.len[1] > 0)
		return; /* both sides spoke: try_decide has judged */
	/* Both readings as if the flow ended now, on copies of the ruled-out
	 * sets (an answer given as final is not final for a flow that goes
	 * on): a flow that something matches so keeps its slot and waits as
	 * any other. */
	const struct engine_ruled_out *ro = &e->ruled_out[f->user_slot];
	bool same = ro->flags == input_flags(&in);
	struct ident_set way0 = same ? ro->set[0] : (struct ident_set){{0}};
	struct ident_set way1 = same ? ro->set[1] : (struct ident_set){{0}};
	ident_run_more(&in, &way0, &r);
	if (r.verdict != IDENT_NO_MATCH)
		return;
	swapped(&in, &sw);
	ident_run_more(&sw, &way1, &r);
	if (r.verdict != IDENT_NO_MATCH)
		return;
	let_go_unmatched(e, f, &in);
}

static void on_flow_end(void *ctx, struct flow *f)
{
	struct engine *e = ctx;
	if (inspecting(f) && !(f->user_flags & REPORT_UF_DECIDED))
		try_decide(e, f, true, f->last_ts_us);
	else if (f->user_slot == SLOT_UNMATCHED)
		decide_unmatched(e, f, f->last_ts_us);
	release(e, f);
	if (!(f->user_flags & REPORT_UF_DECIDED)) {
		/* no payload at all, or none of it could be inspected */
		if (f->user_flags & REPORT_UF_PAYLOAD)
			e->totals.app_unknown++;
		else
			e->totals.app_none++;
	}
	e->totals.flows_reported++;
	if (!e->cfg.json_out && !(e->cfg.explain && e->cfg.text_out))
		return;
	/* The verdict's note: shown for findings and for flows a policy rule
	 * decided, and for every decided flow with --explain. */
	bool inspected = f->user_slot != SLOT_EXHAUSTED;
	bool decided = f->user_flags & REPORT_UF_DECIDED;
	/* the note is read only where something shows it: a finding, a run
	 * with a policy, --explain */
	struct engine_note note0 = {0};
	const struct engine_note *n = &note0;
	if (decided && (f->user_kind || e->policy_ever || e->cfg.explain))
		n = &e->notes[flow_index(&e->flows, f)];
	int rule = rule_of_note(n->rule);
	const struct policy *pol = engine_policy_of(e, n->gen);
	bool gone = rule != -1 && !pol;
	char label[128], loc[128], why[1024];
	struct verdict_note note = {0}, *np = NULL;
	if (decided && (f->user_kind || rule != -1 || e->cfg.explain)) {
		make_note(e, f, rule, pol, label, sizeof label, loc, sizeof loc, &note);
		np = &note;
	}
	if (e->cfg.explain) {
		report_explain(why, sizeof why, f, e->ports, (enum verdict_reason)n->reason,
		               gone ? NULL : pol, rule, gone, inspected, e->cfg.dedup_cfg.window_us);
		note.explanation = why;
		np = &note;
		if (e->cfg.text_out && report_explain_text(e->cfg.text_out, f, why) != 0 &&
		    !e->write_errno)
			e->write_errno = errno ? errno : EIO;
	}
	if (!e->cfg.json_out)
		return;
	report_flow_json(&e->json, f, f->user_len, inspected, np);
	emit(e);
}

static void on_dedup_close(void *ctx, const struct dedup_group *g, enum dedup_close why)
{
	struct engine *e = ctx;
	if (g->flows < 2)
		return; /* the alert said it all */
	if (e->cfg.json_out) {
		report_dedup_json(&e->json, g, why, e->cfg.dedup_cfg.window_us);
		emit(e);
	}
	if (e->cfg.text_out && report_dedup_text(e->cfg.text_out, g) != 0 && !e->write_errno)
		e->write_errno = errno ? errno : EIO;
}

void engine_set_policy(struct engine *e, struct policy *p)
{
	if (e->policy || p) {
		e->policy_gen++;
		struct policy **slot = &e->policies[e->policy_gen % ENGINE_POLICIES];
		policy_free(*slot); /* ENGINE_POLICIES generations ago */
		*slot = p;
	}
	e->policy = p;
	e->policy_ever |= p != NULL;
	e->totals.policy_file = p ? policy_file(p) : NULL;
	e->totals.policy_rules = p ? policy_rule_count(p) : 0;
	e->totals.policy_default = p ? policy_default_name(policy_default_action(p)) : NULL;
}

const struct policy *engine_policy_of(const struct engine *e, uint32_t gen)
{
	if (e->policy_gen - gen >= ENGINE_POLICIES)
		return NULL;
	return e->policies[gen % ENGINE_POLICIES];
}

int engine_init(struct engine *e, const struct engine_config *cfg, char *err, size_t errlen)
{
	memset(e, 0, sizeof *e);
	e->cfg = *cfg;
	if (e->cfg.inspect_segments < e->cfg.stream.cap)
		e->cfg.inspect_segments = e->cfg.stream.cap;
	if (e->cfg.inspect_segments > UINT16_MAX) /* f->user_segments counts to here */
		e->cfg.inspect_segments = UINT16_MAX;
	e->ports = malloc(sizeof *e->ports);
	if (!e->ports) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (cfg->ports_loaded)
		memcpy(e->ports, cfg->ports_loaded, sizeof *e->ports);
	else if (ports_load_default(e->ports, err, errlen) != 0 ||
	         (cfg->ports_file && ports_load_file(e->ports, cfg->ports_file, err, errlen) != 0)) {
		free(e->ports);
		return -1;
	}
	if (decoder_init(&e->dec, &cfg->decode, err, errlen) != 0) {
		free(e->ports);
		return -1;
	}
	if (flow_table_init(&e->flows, &cfg->flow, on_flow_end, e, err, errlen) != 0) {
		decoder_free(&e->dec);
		free(e->ports);
		return -1;
	}
	size_t nslots = cfg->stream.max_slots ? cfg->stream.max_slots : 1;
	e->ruled_out = calloc(nslots, sizeof *e->ruled_out);
	e->slot = calloc(nslots, sizeof *e->slot);
	e->notes = calloc(e->flows.cfg.max_flows, sizeof *e->notes);
	e->slot_oldest = e->slot_newest = STREAM_NONE;
	if (!e->ruled_out || !e->slot || !e->notes ||
	    stream_pool_init(&e->streams, &cfg->stream, err, errlen) != 0) {
		if (!e->ruled_out || !e->slot || !e->notes)
			snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (e->cfg.dedup) {
		if (!e->cfg.dedup_cfg.seed)
			e->cfg.dedup_cfg.seed = e->flows.cfg.seed;
		if (dedup_init(&e->dedup, &e->cfg.dedup_cfg, on_dedup_close, e, err, errlen) != 0) {
			stream_pool_free(&e->streams);
			goto fail;
		}
		e->totals.dedup = &e->dedup.stats;
		e->totals.dedup_window_us = e->cfg.dedup_cfg.window_us;
	}
	e->totals.memory_bytes = e->dedup.mem_bytes + sizeof *e + sizeof *e->ports + e->dec.mem_bytes +
	                         e->flows.mem_bytes + e->streams.mem_bytes +
	                         nslots * (sizeof *e->ruled_out + sizeof *e->slot) +
	                         (size_t)e->flows.cfg.max_flows * sizeof *e->notes;
	e->totals.decode = &e->dec.stats;
	e->totals.flow = &e->flows.stats;
	e->totals.flow_cfg = &e->flows.cfg;
	e->totals.stream = &e->streams.stats;
	e->totals.stream_cfg = &e->streams.cfg;
	if (e->cfg.json_out && json_init(&e->json) != 0) {
		engine_free(e);
		snprintf(err, errlen, "out of memory for the output buffer");
		return -1;
	}
	return 0;
fail: /* the tables made before the stream pool */
	free(e->ruled_out);
	free(e->slot);
	free(e->notes);
	flow_table_free(&e->flows);
	decoder_free(&e->dec);
	free(e->ports);
	return -1;
}

void engine_free(struct engine *e)
{
	json_free(&e->json);
	dedup_free(&e->dedup);
	for (int i = 0; i < ENGINE_POLICIES; i++) {
		policy_free(e->policies[i]);
		e->policies[i] = NULL;
	}
	e->policy = NULL;
	stream_pool_free(&e->streams);
	free(e->ruled_out);
	e->ruled_out = NULL;
	free(e->notes);
	e->notes = NULL;
	free(e->slot);
	e->slot = NULL;
	flow_table_free(&e->flows);
	decoder_free(&e->dec);
	free(e->ports);
	e->ports = NULL;
}

/*
 * Identification runs every identifier over everything a flow holds, so
 * running it on each TCP segment of an undecided flow costs the square of
 * its segments (a flow seen mid-stream, a protocol offport does not know,
 * a handshake sent a byte at a time). It runs again only when a direction
 * has grown by more than a quarter since the last run (or got its first
 * bytes), or a direction may have finished (FIN, RST, first bytes full,
 * segment budget spent): a logarithmic number of runs per direction, and
 * a verdict no later than the segment that completes a quarter more of the
 * bytes. UDP keeps at most STREAM_MAX_DGRAMS datagrams: each is judged.
 * During inspection f->user_len[] holds the lengths judged last.
 */
static bool worth_judging(struct engine *e, struct flow *f, uint8_t tcp_flags)
{
	bool run = (tcp_flags & (TCPF_FIN | TCPF_RST)) || f->user_segments >= e->cfg.inspect_segments;
	uint32_t len[2];
	for (int d = 0; d < 2; d++) {
		uint32_t last = f->user_len[d];
		(void)stream_data(&e->streams, f->user_slot, (enum flow_dir)d, &len[d]);
		if (len[d] > last + last / 4 || stream_full(&e->streams, f->user_slot, (enum flow_dir)d))
			run = true;
	}
	if (run)
		memcpy(f->user_len, len, sizeof len);
	return run;
}

/* A pool that is full stays full (a spray): the next flow to need a slot
 * will cut the one now oldest, whose flow, stream and ruled-out sets were
 * last touched a whole pool of flows ago (out of the caches: a miss on
 * each in try_decide, stream_data and the slot's reset). Fetched now, they
 * are in the cache by then. Only a hint: if another slot is cut instead,
 * nothing but the fetch is lost. */
static void prefetch_next_cut(const struct engine *e)
{
	uint32_t s = e->slot_oldest;
	if (s == STREAM_NONE)
		return;
	const struct flow *f = e->slot[s].owner;
	for (size_t off = 0; off < sizeof *f; off += 64)
		__builtin_prefetch((const char *)f + off, 1);
	__builtin_prefetch(&e->ruled_out[s], 1);
	stream_prefetch(&e->streams, s);
}

static void inspect(struct engine *e, struct flow *f, enum flow_dir dir, const struct packet *p)
{
	bool tcp = p->l4_proto == 6;
	if (p->payload_wire_len > 0)
		f->user_flags |= REPORT_UF_PAYLOAD;
	if (p->payload_len < p->payload_wire_len)
		f->user_flags |= dir == DIR_TO_SERVER ? REPORT_UF_CUT_TS : REPORT_UF_CUT_TC;
	if (f->user_slot == SLOT_DONE || f->user_slot == SLOT_EXHAUSTED)
		return;
	if (f->user_slot == SLOT_UNMATCHED) {
		/* nothing can match: the silent side's first bytes decide it */
		if (p->payload_wire_len > 0 && f->user_len[dir] == 0) {
			uint32_t cap = e->streams.cfg.cap;
			f->user_len[dir] = p->payload_len < cap ? p->payload_len : cap;
			decide_unmatched(e, f, p->ts_us);
		}
		return;
	}
	if (f->user_slot == STREAM_NONE) {
		if (p->payload_wire_len == 0)
			return; /* nothing to keep yet; the SYN's sequence is in the flow */
		if (e->streams.in_use >= e->streams.cfg.max_slots && e->slot_oldest != STREAM_NONE) {
			struct flow *idle = e->slot[e->slot_oldest].owner;
			idle->user_flags |= REPORT_UF_INSPECTION_CUT;
			e->totals.inspections_cut++;
			try_decide(e, idle, true, p->ts_us); /* final: it decides */
			release(e, idle);
			prefetch_next_cut(e);
		}
		uint32_t slot = stream_take(&e->streams);
		if (slot == STREAM_NONE) {
			f->user_slot = SLOT_EXHAUSTED;
			e->totals.flows_uninspected++;
			return;
		}
		f->user_slot = slot;
		e->slot[slot].owner = f;
		slot_append(e, slot);
		memset(&e->ruled_out[slot], 0, sizeof e->ruled_out[slot]);
		/* Replay the handshake so each stream starts at its ISN + 1. */
		for (int d = 0; tcp && d < 2; d++)
			if (f->syn_seen & (1u << d))
				stream_tcp(&e->streams, slot, (enum flow_dir)d, f->syn_seq[d], TCPF_SYN,
				           NULL, 0, 0);
	}
	if (f->user_slot != e->slot_newest) { /* fed now: the most recent */
		slot_unlink(e, f->user_slot);
		slot_append(e, f->user_slot);
	}
	if (tcp)
		stream_tcp(&e->streams, f->user_slot, dir, p->seq, p->tcp_flags, p->payload,
		           p->payload_len, p->payload_wire_len);
	else
		stream_udp(&e->streams, f->user_slot, dir, p->payload, p->payload_len);
	if (p->payload_wire_len > 0 && f->user_segments < UINT16_MAX)
		f->user_segments++;
	/* A FIN or RST without payload can finish a direction: judge then too. */
	if (p->payload_wire_len > 0 || (p->tcp_flags & (TCPF_FIN | TCPF_RST))) {
		if (tcp && !worth_judging(e, f, p->tcp_flags))
			return;
		try_decide(e, f, false, p->ts_us);
		if (!tcp && inspecting(f) && pool_pressed(e))
			judge_under_pressure(e, f);
	}
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
	if (dedup_due(&e->dedup, p.ts_us))
		dedup_expire(&e->dedup, p.ts_us);
	if (created) {
		f->user_slot = STREAM_NONE;
		f->user_len[0] = f->user_len[1] = 0;
		f->user_proto = -1;
		f->user_kind = 0;
		f->user_flags = 0;
		f->user_segments = 0;
	}
	inspect(e, f, dir, &p);
}

void engine_tick(struct engine *e, uint64_t now_us)
{
	decode_expire(&e->dec, now_us);
	flow_expire(&e->flows, now_us);
	if (e->cfg.dedup)
		dedup_expire(&e->dedup, now_us);
}

void engine_finish(struct engine *e)
{
	decode_flush(&e->dec);
	flow_flush(&e->flows);
	if (e->cfg.dedup)
		dedup_flush(&e->dedup);
}

int engine_write_stats(struct engine *e)
{
	if (!e->cfg.json_out)
		return 0;
	report_stats_json(&e->json, &e->totals);
	emit(e);
	engine_flush_json(e);
	return e->write_errno ? -1 : 0;
}
