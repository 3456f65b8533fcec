/*
 * report.c - EVE JSON records and the text summary.
 *
 * Field names follow Suricata's EVE format so that Filebeat, Elastic,
 * Splunk and jq read offport's output unchanged; what Suricata has no field
 * for lives under the "offport" key.
 */
#include "output/report.h"

#include <arpa/inet.h>
#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "output/community_id.h"

static void put_safe(FILE *out, const uint8_t *v, size_t n);

/* IPv4 octets as text followed by their dot ("7.", "42.", "255."), n the
 * text's length with the dot; made at build time (OCT below spells each
 * value's digits). An address is then four copies of 4 bytes, each moved
 * on by its octet's length, rather than divisions per digit: the bytes a
 * short octet's copy writes past its text are overwritten by the next
 * octet's, and those past the last octet's digits by what the caller
 * writes next (report_ip's NUL, a record's closing quote). */
struct octet {
	char t[4];
	uint8_t n;
};
#define OCT(v)                                                                                     \
	{{(char)((v) >= 100 ? '0' + (v) / 100 : (v) >= 10 ? '0' + (v) / 10 : '0' + (v)),              \
	  (char)((v) >= 100 ? '0' + (v) / 10 % 10 : (v) >= 10 ? '0' + (v) % 10 : '.'),                \
	  (char)((v) >= 100 ? '0' + (v) % 10 : (v) >= 10 ? '.' : 0), (char)((v) >= 100 ? '.' : 0)},  \
	 (v) >= 100 ? 4 : (v) >= 10 ? 3 : 2}
#define OCT4(v) OCT(v), OCT((v) + 1), OCT((v) + 2), OCT((v) + 3)
#define OCT16(v) OCT4(v), OCT4((v) + 4), OCT4((v) + 8), OCT4((v) + 12)
#define OCT64(v) OCT16(v), OCT16((v) + 16), OCT16((v) + 32), OCT16((v) + 48)
static const struct octet octets[256] = {OCT64(0), OCT64(64), OCT64(128), OCT64(192)};
#undef OCT64
#undef OCT16
#undef OCT4
#undef OCT

/* The address's text at o (46 bytes of room, as INET6_ADDRSTRLEN; IPv4
 * writes at most 16), without a NUL; returns its end. */
static char *put_ip(char *o, uint8_t ipver, const uint8_t addr[16])
{
	if (ipver != 6) { /* by table: inet_ntop formats IPv4 with sprintf */
		for (int i = 0; i < 4; i++) {
			memcpy(o, octets[addr[i]].t, 4);
			o += octets[addr[i]].n;
		}
		return o - 1; /* the last octet's dot is not the address's */
	}
	if (!inet_ntop(AF_INET6, addr, o, 46))
		memcpy(o, "?", 2);
	return o + strlen(o);
}

size_t report_ip(uint8_t ipver, const uint8_t addr[16], char out[46])
{
	char *end = put_ip(out, ipver, addr);
	*end = 0;
	return (size_t)(end - out);
}

static const char *proto_name(uint8_t proto)
{
	switch (proto) {
	case 6:
		return "TCP";
	case 17:
		return "UDP";
	default:
		return "IP";
	}
}

static uint64_t sum(const uint64_t *v, size_t n)
{
	uint64_t s = 0;
	for (size_t i = 0; i < n; i++)
		s += v[i];
	return s;
}

bool report_accounted(const struct run_totals *t)
{
	uint64_t results = sum(t->decode->result, DECODE__COUNT);
	uint64_t drops = sum(t->decode->drop, DROP__COUNT);
	uint64_t ended = sum(t->flow->ended, FLOW_END__COUNT);
	uint64_t repeats = t->dedup ? t->dedup->repeats : 0;
	return results == t->packets && drops == t->decode->result[DECODE_MALFORMED] &&
	       ended + t->flow->active == t->flow->created &&
	       t->flows_reported == ended &&
	       sum(t->findings, FINDING__COUNT) == sum(t->alerts, FINDING__COUNT) + repeats;
}

/* Suricata's "reason": timeout, forced or shutdown. */
static const char *suricata_reason(uint8_t end)
{
	switch (end) {
	case FLOW_END_EVICTED:
		return "forced";
	case FLOW_END_EOF:
		return "shutdown";
	default:
		return "timeout";
	}
}

const char *report_app_proto(const struct flow *f)
{
	if (f->user_proto >= 0 && (unsigned)f->user_proto < ident_count)
		return ident_registry[f->user_proto]->name;
	return (f->user_flags & REPORT_UF_PAYLOAD) ? "unknown" : "none";
}

static void tunnel(struct json *j, const struct flow *f)
{
	char ip[46];
	if (f->tunnel.type == TUNNEL_NONE)
		return;
	json_obj(j, "tunnel");
	json_own(j, "type", tunnel_type_name((enum tunnel_type)f->tunnel.type));
	if (f->tunnel.id_valid)
		json_u64(j, "id", f->tunnel.id);
	json_own_n(j, "src_ip", ip, report_ip(f->tunnel.outer_ipver, f->tunnel.outer_src, ip));
	json_own_n(j, "dest_ip", ip, report_ip(f->tunnel.outer_ipver, f->tunnel.outer_dst, ip));
	json_u64(j, "depth", f->tunnel.depth);
	json_end_obj(j);
}

/*
 * The flow record and the header it shares with alerts are written once
 * per flow, millions of times in a flood, so they are written directly
 * (json_raw_begin in json.h): the record's constant text (keys,
 * punctuation, the members always present) is a run of literals between
 * the values, each copied with one memcpy of a size known at build time,
 * and no member checks for room. That is safe because everything these
 * writers put in the buffer has a bound, FLOW_RAW_MAX below, far smaller
 * than the buffer: the literal runs (under 1024 bytes with every optional
 * member), three timestamps (json_format_ts writes at most 40 bytes),
 * four addresses (46 each: the header's two and a tunnel's two, which
 * tunnel() writes), thirteen numbers (20 digits each), the Community ID
 * (30 bytes) and ten names from the program's tables
 * (REPORT_NAME_MAX each, which the unit tests check for every name). The
 * verdict note's strings, of no such bound, follow with the member
 * writers, which check.
 */
#define FLOW_RAW_MAX (1024 + 3 * 40 + 4 * 46 + 13 * 20 + 32 + 10 * REPORT_NAME_MAX)
_Static_assert(FLOW_RAW_MAX <= JSON_BUF_SIZE, "a flow record's fixed part fits the buffer");

/* A literal run: one copy of a size known at build time. */
#define PUT(o, lit)                                \
	do {                                           \
		memcpy((o), (lit), sizeof(lit) - 1);       \
		(o) += sizeof(lit) - 1;                    \
	} while (0)

/* A name from the program's tables (a protocol, a state, a reason):
 * plain text of at most REPORT_NAME_MAX bytes. Copied byte by byte up to
 * its NUL: names are a few bytes, and measuring one first (strlen, a
 * library call) cost more than the copy. */
static char *put_name(char *o, const char *s)
{
	const char *start = s;
	while (*s)
		*o++ = *s++;
	assert(s - start <= REPORT_NAME_MAX && json_plain_text(start, (size_t)(s - start)));
	(void)start;
	return o;
}

static char *put_hex2(char *o, uint8_t v)
{
	static const char hex[] = "0123456789abcdef";
	o[0] = hex[v >> 4];
	o[1] = hex[v & 15];
	return o + 2;
}

/* Where eve_header put what a record may need again: the timestamp's
 * text, and the Community ID's place, which it leaves for the caller to
 * fill (community_id_text: COMMUNITY_ID_LEN bytes). */
struct eve_marks {
	const char *ts;
	size_t tslen;
	char *cid;
};

/* What every EVE record of a flow starts with, in Suricata's order:
 * timestamp, flow_id, event_type, the client as src_*, the server as
 * dest_*, proto, app_proto, community_id, vlan; from the record's "{" to
 * its last member, written at o (see FLOW_RAW_MAX). Returns the end. */
static char *eve_header(char *o, const struct flow *f, uint64_t ts_us, const char *event,
                        const char *app_proto, struct eve_marks *m)
{
	PUT(o, "{\"timestamp\":\"");
	m->ts = o;
	m->tslen = json_format_ts(ts_us, o);
	o += m->tslen;
	PUT(o, "\",\"flow_id\":");
	o = json_put_u64(o, f->flow_id);
	PUT(o, ",\"event_type\":\"");
	o = put_name(o, event);
	PUT(o, "\",\"src_ip\":\"");
	o = put_ip(o, f->ip_version, f->cli_ip);
	PUT(o, "\",\"src_port\":");
	o = json_put_u64(o, f->cli_port);
	PUT(o, ",\"dest_ip\":\"");
	o = put_ip(o, f->ip_version, f->srv_ip);
	PUT(o, "\",\"dest_port\":");
	o = json_put_u64(o, f->srv_port);
	switch (f->proto) { /* proto_name's three names */
	case 6:
		PUT(o, ",\"proto\":\"TCP\",\"app_proto\":\"");
		break;
	case 17:
		PUT(o, ",\"proto\":\"UDP\",\"app_proto\":\"");
		break;
	default:
		PUT(o, ",\"proto\":\"IP\",\"app_proto\":\"");
		break;
	}
	o = put_name(o, app_proto);
	PUT(o, "\",\"community_id\":\"");
	m->cid = o;
	o += COMMUNITY_ID_LEN;
	PUT(o, "\"");
	if (f->vlan_id) {
		PUT(o, ",\"vlan\":[");
		o = json_put_u64(o, f->vlan_id);
		PUT(o, "]");
	}
	return o;
}

/* The "flow" object's four counters, first in it in flow records and
 * alerts alike. */
static char *put_counters(char *o, const struct flow *f)
{
	PUT(o, "\"pkts_toserver\":");
	o = json_put_u64(o, f->pkts[DIR_TO_SERVER]);
	PUT(o, ",\"pkts_toclient\":");
	o = json_put_u64(o, f->pkts[DIR_TO_CLIENT]);
	PUT(o, ",\"bytes_toserver\":");
	o = json_put_u64(o, f->bytes[DIR_TO_SERVER]);
	PUT(o, ",\"bytes_toclient\":");
	return json_put_u64(o, f->bytes[DIR_TO_CLIENT]);
}

/* The flow's Community ID digest (SHA-1 of its tuple). */
static void flow_cid_hash(const struct flow *f, uint8_t digest[20])
{
	community_id_hash(0, f->ip_version, f->proto, f->cli_ip, f->cli_port, f->srv_ip, f->srv_port,
	                  digest);
}

static void verdict_note_json(struct json *j, const struct verdict_note *note)
{
	if (!note)
		return;
	if (note->decided_by) {
		json_own(j, "decided_by", note->decided_by);
		json_str(j, "rule", note->rule ? note->rule : "");
		if (note->rule_location)
			json_str(j, "rule_location", note->rule_location);
	}
	if (note->explanation)
		json_str(j, "explanation", note->explanation);
}

void report_flow_json(struct json *j, const struct flow *f, const uint32_t first_bytes[2],
                      bool inspected, const struct verdict_note *note)
{
	/* ",\"syn\":true" and its kind: each 11 bytes, copied when the flag
	 * was seen, in Suricata's order */
	static const uint8_t flag_bits[8] = {TCPF_SYN, TCPF_FIN, TCPF_RST, TCPF_PSH,
	                                     TCPF_ACK, TCPF_URG, TCPF_ECE, TCPF_CWR};
	static const char flag_runs[8][12] = {",\"syn\":true", ",\"fin\":true", ",\"rst\":true",
	                                      ",\"psh\":true", ",\"ack\":true", ",\"urg\":true",
	                                      ",\"ecn\":true", ",\"cwr\":true"};
	/* The Community ID is hashed first and its text written last, into
	 * the place the header left for it: SHA-1 is a long chain of
	 * dependent steps (tens of nanoseconds even on the CPU's SHA
	 * instructions), and nothing else in the record needs its result, so
	 * the processor writes the rest of the record while the hash is in
	 * flight instead of after it. */
	uint8_t cid[20];
	flow_cid_hash(f, cid);
	struct eve_marks m;
	const char *state = flow_state_name((enum flow_state)f->state);
	char *o = eve_header(json_raw_begin(j), f, f->first_ts_us, "flow", report_app_proto(f), &m);
	const char *ts = m.ts;
	size_t tslen = m.tslen;
	PUT(o, ",\"flow\":{");
	o = put_counters(o, f);
	/* start is the header's instant: its text copied, not formatted
	 * again (ts lies before o, the two do not overlap); end too when it
	 * is the same instant, as in a flow of one packet */
	PUT(o, ",\"start\":\"");
	json__copy(o, ts, tslen);
	o += tslen;
	PUT(o, "\",\"end\":\"");
	if (f->last_ts_us == f->first_ts_us) {
		json__copy(o, ts, tslen);
		o += tslen;
	} else {
		o += json_format_ts(f->last_ts_us, o);
	}
	PUT(o, "\",\"age\":");
	o = json_put_u64(o, (f->last_ts_us - f->first_ts_us) / 1000000u);
	PUT(o, ",\"state\":\"");
	o = put_name(o, state);
	PUT(o, "\",\"reason\":\"");
	o = put_name(o, suricata_reason(f->end_reason));
	PUT(o, "\"}");
	if (f->proto == 6) {
		uint8_t all = f->tcp_flags[0] | f->tcp_flags[1];
		PUT(o, ",\"tcp\":{\"tcp_flags\":\"");
		o = put_hex2(o, all);
		PUT(o, "\",\"tcp_flags_ts\":\"");
		o = put_hex2(o, f->tcp_flags[DIR_TO_SERVER]);
		PUT(o, "\",\"tcp_flags_tc\":\"");
		o = put_hex2(o, f->tcp_flags[DIR_TO_CLIENT]);
		PUT(o, "\"");
		for (size_t i = 0; i < sizeof flag_bits; i++) {
			if (all & flag_bits[i]) {
				memcpy(o, flag_runs[i], 11);
				o += 11;
			}
		}
		PUT(o, ",\"state\":\"");
		o = put_name(o, state);
		PUT(o, "\"}");
	}
	if (f->tunnel.type != TUNNEL_NONE) { /* rare: the member writers, then on */
		json_raw_end(j, o, 0);
		tunnel(j, f);
		assert(json_raw_room(j) >= JSON_BUF_SIZE - FLOW_RAW_MAX);
		o = json_raw_at(j);
	}
	PUT(o, ",\"offport\":{\"orientation\":\"");
	if (flow_orient_guessed(f->orient))
		PUT(o, "guessed");
	else
		PUT(o, "syn");
	PUT(o, "\",\"orientation_basis\":\"");
	o = put_name(o, flow_orient_name((enum flow_orient)f->orient));
	PUT(o, "\",\"end_reason\":\"");
	o = put_name(o, flow_end_name((enum flow_end)f->end_reason));
	if (inspected)
		PUT(o, "\",\"inspected\":true");
	else
		PUT(o, "\",\"inspected\":false");
	if (f->user_flags & REPORT_UF_INSPECTION_CUT)
		PUT(o, ",\"inspection_cut\":true");
	if (f->user_kind) {
		PUT(o, ",\"finding\":\"");
		o = put_name(o, finding_kind_name((enum finding_kind)f->user_kind));
		PUT(o, "\"");
	}
	unsigned pc = (f->user_flags & REPORT_UF_PAYLOAD_MASK) >> REPORT_UF_PAYLOAD_SHIFT;
	if (pc != IDENT_PAYLOAD_NONE) {
		PUT(o, ",\"payload_class\":\"");
		o = put_name(o, ident_payload_name((enum ident_payload)pc));
		PUT(o, "\"");
	}
	PUT(o, ",\"first_bytes_toserver\":");
	o = json_put_u64(o, first_bytes[DIR_TO_SERVER]);
	PUT(o, ",\"first_bytes_toclient\":");
	o = json_put_u64(o, first_bytes[DIR_TO_CLIENT]);
	if (f->user_flags & REPORT_UF_REPEAT)
		PUT(o, ",\"repeat\":true");
	community_id_text(cid, m.cid);
	assert(o - j->buf <= FLOW_RAW_MAX);
	json_raw_end(j, o, 1); /* inside "offport", which holds members */
	verdict_note_json(j, note);
	json_end_obj(j);
}

void report_stats_json(struct json *j, const struct run_totals *t)
{
	char ts[40];
	const struct decode_stats *d = t->decode;
	const struct flow_stats *fs = t->flow;
	const struct stream_stats *ss = t->stream;
	json_begin(j);
	json_format_ts(t->last_ts_us, ts);
	json_str(j, "timestamp", ts);
	json_str(j, "event_type", "stats");
	json_obj(j, "stats");
	json_u64(j, "packets", t->packets);
	json_u64(j, "bytes", t->bytes);
	json_obj(j, "inputs");
	json_u64(j, "opened", t->inputs);
	json_u64(j, "damaged", t->inputs_damaged);
	json_u64(j, "short_wire_length", t->short_wirelen);
	json_end_obj(j);
	if (t->kernel_valid) {
		json_obj(j, "capture");
		json_u64(j, "kernel_packets", t->kernel_received);
		json_u64(j, "kernel_drops", t->kernel_dropped);
		json_u64(j, "kernel_ifdrops", t->kernel_if_dropped);
		json_end_obj(j);
	}
	json_obj(j, "decoder");
	for (int r = 0; r < DECODE__COUNT; r++)
		json_u64(j, decode_result_name((enum decode_result)r), d->result[r]);
	json_obj(j, "drops");
	for (int r = 1; r < DROP__COUNT; r++)
		json_u64(j, decode_drop_name((enum decode_drop)r), d->drop[r]);
	json_end_obj(j);
	json_u64(j, "vlan", d->vlan_tagged);
	json_u64(j, "mpls", d->mpls);
	json_u64(j, "pppoe", d->pppoe);
	json_obj(j, "tunnel");
	for (int r = 1; r < TUNNEL__COUNT; r++)
		json_u64(j, tunnel_type_name((enum tunnel_type)r), d->tunnel[r]);
	json_end_obj(j);
	json_u64(j, "snaplen_cut", d->snaplen_cut);
	json_obj(j, "fragments");
	json_u64(j, "datagrams", d->frag_datagrams);
	json_u64(j, "reassembled", d->frag_reassembled);
	json_u64(j, "timeout", d->frag_timeout);
	json_u64(j, "evicted", d->frag_evicted);
	json_u64(j, "incomplete_at_end", d->frag_flushed);
	json_end_obj(j);
	json_end_obj(j);
	json_obj(j, "flow");
	json_u64(j, "created", fs->created);
	json_u64(j, "tcp", fs->created_tcp);
	json_u64(j, "udp", fs->created_udp);
	json_u64(j, "reported", t->flows_reported);
	json_u64(j, "active", fs->active);
	json_u64(j, "peak_active", fs->peak_active);
	json_u64(j, "max_flows", t->flow_cfg->max_flows);
	json_u64(j, "reused", fs->reused);
	json_obj(j, "ended");
	for (int r = 1; r < FLOW_END__COUNT; r++)
		json_u64(j, flow_end_name((enum flow_end)r), fs->ended[r]);
	json_end_obj(j);
	json_obj(j, "orientation");
	for (int r = 0; r < ORIENT__COUNT; r++)
		json_u64(j, flow_orient_name((enum flow_orient)r), fs->orient[r]);
	json_end_obj(j);
	json_end_obj(j);
	json_obj(j, "stream");
	json_u64(j, "first_bytes", t->stream_cfg->cap);
	json_u64(j, "max_slots", t->stream_cfg->max_slots);
	json_u64(j, "slots_taken", ss->slots_taken);
	json_u64(j, "peak_slots", ss->peak_slots);
	json_u64(j, "uninspected_flows", ss->slots_exhausted);
	json_u64(j, "inspections_cut", t->inspections_cut);
	json_u64(j, "segments", ss->segments);
	json_u64(j, "in_order", ss->in_order);
	json_u64(j, "out_of_order", ss->out_of_order);
	json_u64(j, "retransmissions", ss->retransmissions);
	json_u64(j, "overlaps", ss->overlaps);
	json_u64(j, "overlap_mismatch", ss->overlap_mismatch);
	json_u64(j, "padding_replaced", ss->padding_replaced);
	json_u64(j, "before_start", ss->before_start);
	json_u64(j, "beyond_first_bytes", ss->beyond_cap);
	json_u64(j, "datagrams", ss->datagrams);
	json_end_obj(j);
	json_obj(j, "detection");
	json_obj(j, "alerts");
	for (int k = 1; k < FINDING__COUNT; k++)
		json_u64(j, finding_kind_name((enum finding_kind)k), t->alerts[k]);
	json_end_obj(j);
	json_obj(j, "findings");
	for (int k = 1; k < FINDING__COUNT; k++)
		json_u64(j, finding_kind_name((enum finding_kind)k), t->findings[k]);
	json_end_obj(j);
	json_obj(j, "dedup");
	json_bool(j, "enabled", t->dedup != NULL);
	if (t->dedup) {
		json_u64(j, "window", t->dedup_window_us / 1000000u);
		json_u64(j, "groups", t->dedup->groups);
		json_u64(j, "repeats", t->dedup->repeats);
		json_obj(j, "closed");
		for (int c = 0; c < DEDUP_CLOSE__COUNT; c++)
			json_u64(j, dedup_close_name((enum dedup_close)c), t->dedup->closed[c]);
		json_end_obj(j);
		json_u64(j, "closed_with_repeats", t->dedup->closed_with_repeats);
		json_u64(j, "clients_inexact", t->dedup->clients_inexact);
	}
	json_end_obj(j);
	if (t->policy_file) {
		json_obj(j, "policy");
		json_str(j, "file", t->policy_file);
		json_u64(j, "rules", t->policy_rules);
		json_own(j, "default", t->policy_default);
		json_u64(j, "allowed", t->policy_allowed);
		json_u64(j, "allowed_findings", t->policy_allowed_findings);
		json_u64(j, "alerted", t->policy_alerted);
		json_u64(j, "alerted_beyond_registry", t->policy_alerted_new);
		json_u64(j, "by_default", t->policy_by_default);
		json_u64(j, "reloads", t->policy_reloads);
		json_u64(j, "reload_failures", t->policy_reload_failures);
		json_end_obj(j);
	}
	json_obj(j, "app_proto");
	for (unsigned i = 0; i < ident_count && i < PORTS_MAX_PROTOS; i++)
		json_u64(j, ident_registry[i]->name, t->app_proto[i]);
	json_u64(j, "unknown", t->app_unknown);
	json_u64(j, "none", t->app_none);
	json_end_obj(j);
	json_obj(j, "unknown_payload");
	for (int c = IDENT_PAYLOAD_TEXT; c <= IDENT_PAYLOAD_OPAQUE; c++)
		json_u64(j, ident_payload_name((enum ident_payload)c), t->unknown_payload[c]);
	json_end_obj(j);
	json_end_obj(j);
	json_obj(j, "memory");
	json_u64(j, "tables_bytes", t->memory_bytes);
	json_end_obj(j);
	json_obj(j, "accounting");
	json_u64(j, "packets_read", t->packets);
	json_u64(j, "packets_decoded_or_dropped", sum(d->result, DECODE__COUNT));
	json_u64(j, "flows_created", fs->created);
	json_u64(j, "flows_reported", t->flows_reported);
	json_u64(j, "findings", sum(t->findings, FINDING__COUNT));
	json_u64(j, "alerts_written", sum(t->alerts, FINDING__COUNT));
	json_u64(j, "repeats_counted", t->dedup ? t->dedup->repeats : 0);
	json_u64(j, "records_too_large", t->output_overflow);
	json_bool(j, "complete", report_accounted(t));
	json_end_obj(j);
	json_end_obj(j);
}

static void line_counts(FILE *out, const char *title, const char *const *names,
                        const uint64_t *v, int from, int n)
{
	bool any = false;
	for (int i = from; i < n; i++) {
		if (!v[i])
			continue;
		fprintf(out, "%s%s %" PRIu64, any ? ", " : title, names[i], v[i]);
		any = true;
	}
	if (any)
		fputc('\n', out);
}

int report_summary_text(FILE *out, const struct run_totals *t)
{
	const struct decode_stats *d = t->decode;
	const struct flow_stats *fs = t->flow;
	const char *names[64];
	_Static_assert(DROP__COUNT <= 64 && TUNNEL__COUNT <= 64 && DECODE__COUNT <= 64 &&
	                   FINDING__COUNT <= 64 &&
	                   FLOW_END__COUNT <= 64 && ORIENT__COUNT <= 64,
	               "names[] holds every counter name");
	char a[40], b[40];

	fprintf(out, "offport: %" PRIu64 " packets, %" PRIu64 " bytes from %u input%s", t->packets,
	        t->bytes, t->inputs, t->inputs == 1 ? "" : "s");
	if (t->inputs_damaged)
		fprintf(out, " (%u damaged)", t->inputs_damaged);
	fputc('\n', out);
	if (t->short_wirelen)
		fprintf(out,
		        "  records whose wire length is below their captured length (taken as the "
		        "captured length): %" PRIu64 "\n",
		        t->short_wirelen);
	if (t->packets) {
		json_format_ts(t->first_ts_us, a);
		json_format_ts(t->last_ts_us, b);
		fprintf(out, "  time: %s to %s\n", a, b);
	}
	if (t->kernel_valid)
		fprintf(out,
		        "  capture: kernel received %" PRIu64 ", dropped %" PRIu64
		        ", interface dropped %" PRIu64 "\n",
		        t->kernel_received, t->kernel_dropped, t->kernel_if_dropped);
	for (int r = 0; r < DECODE__COUNT; r++)
		names[r] = decode_result_name((enum decode_result)r);
	line_counts(out, "  packets: ", names, d->result, 0, DECODE__COUNT);
	for (int r = 0; r < DROP__COUNT; r++)
		names[r] = decode_drop_name((enum decode_drop)r);
	line_counts(out, "  malformed: ", names, d->drop, 1, DROP__COUNT);
	for (int r = 0; r < TUNNEL__COUNT; r++)
		names[r] = tunnel_type_name((enum tunnel_type)r);
	line_counts(out, "  tunnels: ", names, d->tunnel, 1, TUNNEL__COUNT);
	if (d->frag_datagrams)
		fprintf(out,
		        "  fragments: %" PRIu64 " datagrams, %" PRIu64 " reassembled, %" PRIu64
		        " timed out, %" PRIu64 " evicted, %" PRIu64 " incomplete at end\n",
		        d->frag_datagrams, d->frag_reassembled, d->frag_timeout, d->frag_evicted,
		        d->frag_flushed);
	fprintf(out, "  flows: %" PRIu64 " (%" PRIu64 " tcp, %" PRIu64 " udp), peak %" PRIu64
	             " open of %" PRIu32 "\n",
	        fs->created, fs->created_tcp, fs->created_udp, fs->peak_active,
	        t->flow_cfg->max_flows);
	for (int r = 0; r < FLOW_END__COUNT; r++)
		names[r] = flow_end_name((enum flow_end)r);
	line_counts(out, "  flow ends: ", names, fs->ended, 1, FLOW_END__COUNT);
	for (int r = 0; r < ORIENT__COUNT; r++)
		names[r] = flow_orient_name((enum flow_orient)r);
	line_counts(out, "  client/server from: ", names, fs->orient, 0, ORIENT__COUNT);
	uint64_t nalerts = 0;
	for (int k = 1; k < FINDING__COUNT; k++) {
		names[k] = finding_kind_name((enum finding_kind)k);
		nalerts += t->alerts[k];
	}
	fprintf(out, "  alerts: %" PRIu64, nalerts);
	if (t->dedup && t->dedup->repeats)
		fprintf(out,
		        " (and %" PRIu64 " repeats: findings on a server, port and protocol already "
		        "alerted within %" PRIu64 " s, counted, not shown; --no-dedup shows them)",
		        t->dedup->repeats, t->dedup_window_us / 1000000u);
	fputc('\n', out);
	line_counts(out, "  alerts by kind: ", names, t->alerts, 1, FINDING__COUNT);
	if (t->policy_file) {
		fputs("  policy ", out);
		put_safe(out, (const uint8_t *)t->policy_file, strlen(t->policy_file));
		fprintf(out,
		        ": %u rule%s, default %s; allowed %" PRIu64 " flows (%" PRIu64
		        " of them registry findings), alerted on %" PRIu64 " (%" PRIu64
		        " beyond the registry)",
		        t->policy_rules, t->policy_rules == 1 ? "" : "s", t->policy_default,
		        t->policy_allowed, t->policy_allowed_findings, t->policy_alerted,
		        t->policy_alerted_new);
		if (t->policy_reloads || t->policy_reload_failures)
			fprintf(out, "; reloaded %" PRIu64 " times, %" PRIu64 " failed", t->policy_reloads,
			        t->policy_reload_failures);
		fputc('\n', out);
	}
	bool any = false;
	for (unsigned i = 0; i < ident_count && i < PORTS_MAX_PROTOS; i++) {
		if (!t->app_proto[i])
			continue;
		fprintf(out, "%s%s %" PRIu64, any ? ", " : "  protocols: ", ident_registry[i]->name,
		        t->app_proto[i]);
		any = true;
	}
	if (t->app_unknown)
		fprintf(out, "%sunknown %" PRIu64, any ? ", " : "  protocols: ", t->app_unknown), any = true;
	if (t->app_none)
		fprintf(out, "%snone %" PRIu64, any ? ", " : "  protocols: ", t->app_none), any = true;
	if (any)
		fputc('\n', out);
	if (t->app_unknown)
		fprintf(out,
		        "  unidentified first messages: text %" PRIu64 ", structured %" PRIu64
		        ", opaque %" PRIu64 "\n",
		        t->unknown_payload[IDENT_PAYLOAD_TEXT], t->unknown_payload[IDENT_PAYLOAD_STRUCTURED],
		        t->unknown_payload[IDENT_PAYLOAD_OPAQUE]);
	if (t->inspections_cut)
		fprintf(out, "  inspections cut short (stream slots scarce): %" PRIu64 "\n",
		        t->inspections_cut);
	if (t->stream->slots_exhausted)
		fprintf(out, "  uninspected flows (stream slots exhausted): %" PRIu64 "\n",
		        t->stream->slots_exhausted);
	if (!report_accounted(t))
		fprintf(out, "  accounting: INCOMPLETE (please report this as a bug)\n");
	fflush(out);
	return ferror(out) ? -1 : 0;
}

/* ---- alerts --------------------------------------------------------------- */

static const char *const nist_controls[] = {"AC-4", "CA-7", "CM-2", "CM-6",
                                            "CM-7", "SC-7", "SI-3", "SI-4"};

static const char *transport_name(uint8_t proto) { return proto == 17 ? "udp" : "tcp"; }

/*
 * Text built piece by piece, for the alert line and the sentences in it.
 * fprintf, and fputc per byte of a banner, were 7.5% of a text run's
 * instructions on a capture of many short flows (one alert line each):
 * the pieces are copied into a buffer and the line is written with one
 * fwrite. With a FILE the buffer is written out whenever it fills, so a
 * line of any length is written whole; without one (a sentence for a
 * fixed-size field) the text stops where the buffer does, as snprintf
 * would cut it, and cut says so.
 */
struct text {
	FILE *out;  /* where a full buffer goes, or NULL: cut at cap */
	char *p;    /* NUL-terminated when out is NULL */
	size_t n, cap;
	bool cut;
};

static void text_init(struct text *t, char *buf, size_t cap, FILE *out)
{
	t->out = out;
	t->p = buf;
	t->n = 0;
	t->cap = cap;
	t->cut = false;
	if (!out)
		buf[0] = 0;
}

static void text_flush(struct text *t)
{
	if (t->out && t->n)
		fwrite(t->p, 1, t->n, t->out);
	t->n = 0;
}

static void text_mem_slow(struct text *t, const char *s, size_t n)
{
	if (!t->out) {
		size_t room = t->cap - 1 - t->n; /* the NUL's byte kept */
		if (n > room) {
			n = room;
			t->cut = true;
		}
		memcpy(t->p + t->n, s, n);
		t->n += n;
		t->p[t->n] = 0;
		return;
	}
	while (n) {
		if (t->n == t->cap)
			text_flush(t);
		size_t k = t->cap - t->n < n ? t->cap - t->n : n;
		memcpy(t->p + t->n, s, k);
		t->n += k;
		s += k;
		n -= k;
	}
}

/* Inline, for the short pieces a line is made of: one room check, and a
 * copy of constant-size moves instead of a libc call (json__copy). */
static inline void text_mem(struct text *t, const char *s, size_t n)
{
	if (t->out && n <= t->cap - t->n) {
		json__copy(t->p + t->n, s, n);
		t->n += n;
		return;
	}
	text_mem_slow(t, s, n);
}

static void text_str(struct text *t, const char *s) { text_mem(t, s, strlen(s)); }

static void text_u64(struct text *t, uint64_t v)
{
	if (t->out && t->cap - t->n >= 20) { /* 20 digits at most: in place */
		t->n += json_fmt_u64(t->p + t->n, v);
		return;
	}
	char d[24];
	text_mem_slow(t, d, json_fmt_u64(d, v));
}

/* Payload-derived text for a terminal: printable ASCII as is, the rest as
 * \xNN, so a hostile banner cannot drive the terminal. */
static void text_safe(struct text *t, const uint8_t *v, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i = 0;
	while (i < n) {
		size_t run = i;
		while (run < n && v[run] >= 0x20 && v[run] < 0x7f && v[run] != '"' && v[run] != '\\')
			run++;
		text_mem(t, (const char *)v + i, run - i);
		if (run == n)
			break;
		char esc[4] = {'\\', 'x', hex[v[run] >> 4], hex[v[run] & 15]};
		text_mem(t, esc, 4);
		i = run + 1;
	}
}

/* "tls", "dtls or quic", "http2, http or tls" into t. */
static void set_names(const struct proto_set *s, struct text *t)
{
	unsigned total = 0, k = 0;
	if (!s)
		return;
	for (size_t w = 0; w < PORTS_MAX_PROTOS / 64; w++)
		for (uint64_t bits = s->w[w]; bits; bits &= bits - 1)
			total += w * 64 + (size_t)__builtin_ctzll(bits) < ident_count;
	/* the set's members in registry order: its set bits, lowest first */
	for (size_t w = 0; w < PORTS_MAX_PROTOS / 64 && !t->cut; w++) {
		for (uint64_t bits = s->w[w]; bits && !t->cut; bits &= bits - 1) {
			size_t i = w * 64 + (size_t)__builtin_ctzll(bits);
			if (i >= ident_count)
				return;
			k++;
			text_str(t, k == 1 ? "" : k == total ? " or " : ", ");
			text_str(t, ident_registry[i]->name);
		}
	}
}

/* The sentence in alert.signature, into t. */
static void signature(const struct alert_info *a, struct text *t)
{
	const struct flow *f = a->f;
	const char *name = a->proto >= 0 ? ident_registry[a->proto]->name : "unidentified protocol";
	enum finding_kind kind = a->finding->kind;
	text_str(t, "OFFPORT T1571");
	if (kind < FINDING_OFF_PORT || kind > FINDING_POLICY)
		return;
	text_str(t, " ");
	text_str(t, kind == FINDING_UNKNOWN ? "unidentified protocol"
	            : kind == FINDING_FAKE_TLS ? "fake TLS"
	                                       : name);
	text_str(t, kind == FINDING_OFF_PORT ? " on non-standard port " : " on ");
	text_str(t, transport_name(f->proto));
	text_str(t, "/");
	text_u64(t, f->srv_port);
	switch (kind) {
	case FINDING_UNEXPECTED:
	case FINDING_UNKNOWN: {
		/* the expected names cut at 255 bytes, as in their own buffer
		 * before: only these two sentences name them */
		char exp_buf[256];
		struct text exp;
		text_init(&exp, exp_buf, sizeof exp_buf, NULL);
		set_names(a->finding->expected, &exp);
		text_str(t, ", where ");
		text_mem(t, exp.p, exp.n);
		text_str(t, " is expected");
		break;
	}
	case FINDING_FAKE_TLS:
		text_str(t, ": a TLS record header without a TLS handshake");
		break;
	case FINDING_POLICY:
		text_str(t, ", which the site policy alerts on");
		break;
	default:
		break;
	}
}

/* An alert's fixed part (see FLOW_RAW_MAX): the header's bound, the
 * literal runs (under 1024 bytes), the signature (under 400), the
 * timestamp, nine numbers, three names, the expected protocols' names
 * (each with its quotes and comma) and the expected ports (a list of at
 * most REPORT_PORTS_MAX bytes, each comma becoming three). */
#define ALERT_RAW_MAX                                                                              \
	(FLOW_RAW_MAX + 1024 + 400 + 40 + 9 * 20 + 3 * REPORT_NAME_MAX +                               \
	 PORTS_MAX_PROTOS * (REPORT_NAME_MAX + 3) + 3 * REPORT_PORTS_MAX)
_Static_assert(ALERT_RAW_MAX <= JSON_BUF_SIZE, "an alert's fixed part fits the buffer");

/* "a","b" for a comma-separated list (empty items skipped, as strtok
 * does): the program's own port specs, plain text. */
static char *put_list(char *o, const char *s)
{
	bool any = false;
	while (*s) {
		const char *e = strchr(s, ',');
		size_t n = e ? (size_t)(e - s) : strlen(s);
		if (n) {
			assert(json_plain_text(s, n));
			if (any)
				*o++ = ',';
			*o++ = '"';
			memcpy(o, s, n);
			o += n;
			*o++ = '"';
			any = true;
		}
		s += n + (e != NULL);
	}
	return o;
}

void report_alert_json(struct json *j, const struct alert_info *a)
{
	const struct flow *f = a->f;
	char sig[400], ports[REPORT_PORTS_MAX];
	uint8_t cid[20];
	struct eve_marks m;
	const char *observed = a->proto >= 0 ? ident_registry[a->proto]->name : "unknown";
	flow_cid_hash(f, cid); /* first, as for a flow record */
	char *o = eve_header(json_raw_begin(j), f, a->ts_us, "alert", observed, &m);
	/* Everything up to the confidence is written as literal runs between
	 * values (see the flow record): the metadata block is constant. */
	PUT(o, ",\"direction\":\"to_server\",\"alert\":{\"action\":\"allowed\",\"gid\":");
	o = json_put_u64(o, OFFPORT_GID);
	PUT(o, ",\"signature_id\":");
	o = json_put_u64(o, a->finding->sid);
	PUT(o, ",\"rev\":1,\"signature\":\"");
	struct text st;
	text_init(&st, sig, sizeof sig, NULL);
	signature(a, &st); /* names and numbers of the program's own */
	assert(json_plain_text(sig, st.n));
	memcpy(o, sig, st.n);
	o += st.n;
	PUT(o, "\",\"category\":\"Detection of a Non-Standard Protocol or Event\",\"severity\":");
	o = json_put_u64(o, a->finding->severity);
	PUT(o, ",\"metadata\":{\"mitre_technique_id\":[\"T1571\"],"
	       "\"mitre_technique_name\":[\"Non-Standard Port\"],\"mitre_tactic_id\":[\"TA0011\"],"
	       "\"mitre_tactic_name\":[\"Command and Control\"],\"nist_800_53\":[");
	for (size_t i = 0; i < sizeof nist_controls / sizeof nist_controls[0]; i++) {
		if (i)
			*o++ = ',';
		*o++ = '"';
		o = put_name(o, nist_controls[i]);
		*o++ = '"';
	}
	PUT(o, "]}},\"flow\":{");
	o = put_counters(o, f);
	PUT(o, ",\"start\":\"");
	o += json_format_ts(f->first_ts_us, o);
	PUT(o, "\"},\"offport\":{\"reason\":\"");
	o = put_name(o, finding_kind_name(a->finding->kind));
	PUT(o, "\",\"observed_protocol\":\"");
	o = put_name(o, observed);
	if (f->proto == 17)
		PUT(o, "\",\"transport\":\"udp\",\"server_port\":");
	else
		PUT(o, "\",\"transport\":\"tcp\",\"server_port\":");
	o = json_put_u64(o, f->srv_port);
	PUT(o, ",\"expected_protocols\":[");
	const struct proto_set *exp = a->finding->expected;
	bool any = false;
	for (size_t w = 0; exp && w < PORTS_MAX_PROTOS / 64; w++) {
		for (uint64_t bits = exp->w[w]; bits; bits &= bits - 1) {
			size_t i = w * 64 + (size_t)__builtin_ctzll(bits);
			if (i >= ident_count)
				break;
			if (any)
				*o++ = ',';
			*o++ = '"';
			o = put_name(o, ident_registry[i]->name);
			*o++ = '"';
			any = true;
		}
	}
	PUT(o, "],\"expected_ports\":[");
	if (a->proto >= 0) {
		const char *list = a->expected_ports;
		if (!list) {
			ports_of_proto(a->ports, a->proto, ports, sizeof ports);
			list = ports;
		}
		assert(strlen(list) < REPORT_PORTS_MAX);
		o = put_list(o, list);
	}
	PUT(o, "],\"confidence\":");
	o = json_put_u64(o, a->finding->confidence);
	community_id_text(cid, m.cid);
	assert(o - j->buf <= ALERT_RAW_MAX);
	json_raw_end(j, o, 1); /* inside "offport", which holds members */
	verdict_note_json(j, a->note);
	json_own(j, "orientation", flow_orient_guessed(f->orient) ? "guessed" : "syn");
	json_own(j, "orientation_basis", flow_orient_name((enum flow_orient)f->orient));
	unsigned pc = (f->user_flags & REPORT_UF_PAYLOAD_MASK) >> REPORT_UF_PAYLOAD_SHIFT;
	if (pc != IDENT_PAYLOAD_NONE)
		json_own(j, "payload_class", ident_payload_name((enum ident_payload)pc));
	tunnel(j, f);
	json_obj(j, "evidence");
	if (a->ev) {
		for (unsigned i = 0; i < a->ev->nfields; i++)
			json_strn(j, a->ev->field[i].key, a->ev->field[i].value, a->ev->field[i].len);
		if (a->ev->tls_upgrade)
			json_bool(j, "tls_upgrade", true);
	}
	json_end_obj(j);
	json_end_obj(j);
}

/* Payload-derived text for the summary (see text_safe). */
static void put_safe(FILE *out, const uint8_t *v, size_t n)
{
	char buf[256];
	struct text t;
	text_init(&t, buf, sizeof buf, out);
	text_safe(&t, v, n);
	text_flush(&t);
}

/* "{TCP} CLIENT:PORT -> SERVER:PORT", IPv6 addresses in brackets: how
 * every text line names its flow. */
static void put_endpoints(struct text *t, const struct flow *f)
{
	char ip[46];
	bool v6 = f->ip_version == 6;
	text_str(t, "{");
	text_str(t, proto_name(f->proto));
	text_str(t, v6 ? "} [" : "} ");
	text_mem(t, ip, report_ip(f->ip_version, f->cli_ip, ip));
	text_str(t, v6 ? "]:" : ":");
	text_u64(t, f->cli_port);
	text_str(t, v6 ? " -> [" : " -> ");
	text_mem(t, ip, report_ip(f->ip_version, f->srv_ip, ip));
	text_str(t, v6 ? "]:" : ":");
	text_u64(t, f->srv_port);
}

/* A text line to out, begun with its timestamp. */
static void text_line(struct text *t, char *buf, size_t cap, FILE *out, uint64_t ts_us)
{
	text_init(t, buf, cap, out);
	char ts[40];
	text_mem_slow(t, ts, json_format_ts(ts_us, ts));
}

int report_alert_text(FILE *out, const struct alert_info *a)
{
	char buf[4096];
	struct text t;
	text_line(&t, buf, sizeof buf, out, a->ts_us);
	text_str(&t, " [**] [");
	text_u64(&t, OFFPORT_GID);
	text_str(&t, ":");
	text_u64(&t, a->finding->sid);
	text_str(&t, ":1] ");
	/* the signature was cut at 399 bytes when it had a buffer of its own */
	struct text sig = t;
	sig.out = NULL;
	sig.cap = t.n + 400 <= sizeof buf ? t.n + 400 : sizeof buf;
	signature(a, &sig);
	t.n = sig.n;
	text_str(&t, " [**] [Priority: ");
	text_u64(&t, a->finding->severity);
	text_str(&t, "] [Confidence: ");
	text_u64(&t, a->finding->confidence);
	text_str(&t, "] ");
	if (a->note && a->note->decided_by) {
		text_str(&t, "[Rule: ");
		text_str(&t, a->note->decided_by);
		text_str(&t, " ");
		text_safe(&t, (const uint8_t *)a->note->rule, strlen(a->note->rule));
		if (a->note->rule_location) {
			text_str(&t, " at ");
			text_safe(&t, (const uint8_t *)a->note->rule_location,
			          strlen(a->note->rule_location));
		}
		text_str(&t, "] ");
	}
	put_endpoints(&t, a->f);
	if (a->ev) {
		for (unsigned i = 0; i < a->ev->nfields; i++) {
			text_str(&t, " ");
			text_str(&t, a->ev->field[i].key);
			text_str(&t, "=\"");
			text_safe(&t, a->ev->field[i].value, a->ev->field[i].len);
			text_str(&t, "\"");
		}
		if (a->ev->tls_upgrade)
			text_str(&t, " tls_upgrade=\"true\"");
	}
	text_str(&t, "\n");
	text_flush(&t);
	return ferror(out) ? -1 : 0;
}

/* ---- who decided, and why ------------------------------------------------ */

void report_entry_spec(const struct ports *ports, uint8_t ip_proto, uint16_t port, char *out,
                       size_t outlen)
{
	(void)ports; /* the entry is the port's own: ranges are a file's shorthand */
	/* "tcp/443" by hand: snprintf cost about 1,900 instructions an alert
	 * (callgrind, a capture of many short flows) */
	char buf[16];
	memcpy(buf, transport_name(ip_proto), 3);
	buf[3] = '/';
	char *e = json_put_u64(buf + 4, port);
	*e = 0;
	size_t n = (size_t)(e - buf);
	if (outlen == 0)
		return;
	if (n >= outlen)
		n = outlen - 1;
	memcpy(out, buf, n);
	out[n] = 0;
}

void report_rule_label(const struct policy *pol, int rule, char *label, size_t labellen,
                       char *loc, size_t loclen)
{
	if (rule == VERDICT_BY_DEFAULT || rule < 0) {
		snprintf(label, labellen, "default");
		snprintf(loc, loclen, "%s:%u", policy_file(pol), policy_default_line(pol));
		return;
	}
	const struct policy_rule_info *r = policy_rule(pol, (unsigned)rule);
	if (!r) { /* not a rule of pol: never expected (the engine keeps the
	             policy each flow was decided under) */
		snprintf(label, labellen, "%s", REPORT_RULE_REPLACED);
		snprintf(loc, loclen, "%s", policy_file(pol));
		return;
	}
	snprintf(loc, loclen, "%s:%u", policy_file(pol), r->line);
	snprintf(label, labellen, "%s", r->name ? r->name : loc);
}

/* Appends to a bounded string. */
__attribute__((format(printf, 4, 5))) static void add(char *out, size_t outlen, size_t *used,
                                                      const char *fmt, ...)
{
	if (*used >= outlen)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(out + *used, outlen - *used, fmt, ap);
	va_end(ap);
	if (n > 0)
		*used = *used + (size_t)n < outlen ? *used + (size_t)n : outlen - 1;
}

void report_explain(char *out, size_t outlen, const struct flow *f, const struct ports *ports,
                    enum verdict_reason reason, const struct policy *pol, int rule,
                    bool policy_gone, bool inspected, uint64_t dedup_window_us)
{
	size_t used = 0;
	const char *tr = transport_name(f->proto);
	out[0] = 0;
	if (!(f->user_flags & REPORT_UF_DECIDED)) {
		if (!(f->user_flags & REPORT_UF_PAYLOAD))
			add(out, outlen, &used, "no payload on %s/%u: nothing to identify => no finding",
			    tr, f->srv_port);
		else if (!inspected)
			add(out, outlen, &used,
			    "payload on %s/%u not inspected: every stream slot was taken "
			    "(--stream-slots) => no finding",
			    tr, f->srv_port);
		else
			add(out, outlen, &used, "payload on %s/%u left undecided => no finding", tr,
			    f->srv_port);
		return;
	}
	char exp[256];
	const struct proto_set *set =
	    ports_expected(ports, f->proto == 17 ? PORTS_UDP : PORTS_TCP, f->srv_port);
	struct text et;
	text_init(&et, exp, sizeof exp, NULL);
	set_names(set, &et);
	if (f->user_proto >= 0) {
		add(out, outlen, &used, "%s on %s/%u", report_app_proto(f), tr, f->srv_port);
	} else {
		unsigned pc = (f->user_flags & REPORT_UF_PAYLOAD_MASK) >> REPORT_UF_PAYLOAD_SHIFT;
		add(out, outlen, &used, "unidentified %s%spayload on %s/%u",
		    pc ? ident_payload_name((enum ident_payload)pc) : "", pc ? " " : "", tr,
		    f->srv_port);
	}
	const char *name = report_app_proto(f);
	switch (reason) {
	case VR_EXPECTED:
		add(out, outlen, &used, ", where the ports registry expects %s", exp);
		break;
	case VR_CARRIER:
		add(out, outlen, &used, ", inside %s, which the ports registry expects there (%s)",
		    f->user_proto >= 0 ? ident_registry[f->user_proto]->carrier : "?", exp);
		break;
	case VR_ANYWHERE:
		add(out, outlen, &used,
		    ", a port without a registry entry, where %s is accepted (%s/any)", name, tr);
		break;
	case VR_UNEXPECTED:
		add(out, outlen, &used, ", where the ports registry expects %s: a finding (unexpected)",
		    exp);
		break;
	case VR_OFF_PORT:
		add(out, outlen, &used, ", a port without a registry entry: a finding (off-port)");
		break;
	case VR_MIDSTREAM:
		add(out, outlen, &used,
		    ", seen from the middle of the connection (no SYN), which proves nothing");
		break;
	case VR_FAKE_TLS:
		add(out, outlen, &used, ": a TLS record header without a TLS handshake: a finding "
		                        "(fake-tls)");
		break;
	case VR_UNKNOWN:
		add(out, outlen, &used, ", where the ports registry expects %s: a finding (unknown)",
		    exp);
		break;
	case VR_UNKNOWN_NOT_OPAQUE:
		add(out, outlen, &used,
		    ", where the ports registry expects %s; only opaque bytes are a finding "
		    "(--unknown all judges the rest)",
		    exp);
		break;
	case VR_UNKNOWN_NO_ENTRY:
		add(out, outlen, &used,
		    ", a port without a registry entry: not knowing a protocol is no evidence");
		break;
	case VR_UNKNOWN_SILENT:
		add(out, outlen, &used, ", no payload bytes kept to judge");
		break;
	default:
		break;
	}
	const struct policy_rule_info *r = pol && rule >= 0 ? policy_rule(pol, (unsigned)rule) : NULL;
	if (policy_gone || (pol && rule >= 0 && !r)) {
		add(out, outlen, &used, "; decided under a site policy since replaced");
	} else if (pol && rule == -1 && !verdict_reason_judgeable(reason)) {
		add(out, outlen, &used, "; the site policy does not judge it either");
	} else if (pol) {
		char label[128], loc[128];
		report_rule_label(pol, rule, label, sizeof label, loc, sizeof loc);
		if (r) {
			add(out, outlen, &used, "; policy rule %s%s%s%s %s it", label,
			    r->name ? " (" : "", r->name ? loc : "", r->name ? ")" : "",
			    r->action == POLICY_ALLOW ? "allows" : "alerts on");
		} else if (rule == VERDICT_BY_DEFAULT) {
			add(out, outlen, &used, "; no policy rule matches, and the default (%s) %s it",
			    loc, policy_default_action(pol) == POLICY_DEFAULT_ALLOW ? "allows" : "alerts on");
		} else {
			add(out, outlen, &used,
			    "; no policy rule matches, and the default (%s) is %s: the ports registry "
			    "decides",
			    loc, policy_default_name(policy_default_action(pol)));
		}
	}
	if (!f->user_kind)
		add(out, outlen, &used, " => no finding");
	else if (f->user_flags & REPORT_UF_REPEAT)
		add(out, outlen, &used,
		    " => finding (%s), not alerted: a repeat of an alert on the same server, port "
		    "and protocol within the last %" PRIu64 " s (--no-dedup alerts on every flow)",
		    finding_kind_name((enum finding_kind)f->user_kind), dedup_window_us / 1000000u);
	else
		add(out, outlen, &used, " => alert (%s)",
		    finding_kind_name((enum finding_kind)f->user_kind));
}

int report_explain_text(FILE *out, const struct flow *f, const char *explanation)
{
	char buf[4096];
	struct text t;
	text_line(&t, buf, sizeof buf, out, f->last_ts_us);
	text_str(&t, " [explain] ");
	put_endpoints(&t, f);
	text_str(&t, " ");
	text_safe(&t, (const uint8_t *)explanation, strlen(explanation));
	text_str(&t, "\n");
	text_flush(&t);
	return ferror(out) ? -1 : 0;
}

/* ---- repeats -------------------------------------------------------------- */

static const char *group_proto(const struct dedup_group *g)
{
	return g->key.proto >= 0 && (unsigned)g->key.proto < ident_count
	           ? ident_registry[g->key.proto]->name
	           : "unknown";
}

void report_dedup_json(struct json *j, const struct dedup_group *g, enum dedup_close why,
                       uint64_t window_us)
{
	char ts[40], ip[46];
	json_begin(j);
	json_format_ts(g->last_ts_us, ts);
	json_own(j, "timestamp", ts);
	json_u64(j, "flow_id", g->alert_flow_id);
	json_own(j, "event_type", "dedup");
	report_ip(g->key.ip_version, g->key.srv_ip, ip);
	json_own(j, "dest_ip", ip);
	json_u64(j, "dest_port", g->key.srv_port);
	json_own(j, "proto", proto_name(g->key.transport));
	json_own(j, "app_proto", group_proto(g));
	json_obj(j, "dedup");
	json_u64(j, "signature_id", g->key.sid);
	json_own(j, "reason",
	         finding_kind_name((enum finding_kind)(g->key.sid - OFFPORT_SID_BASE)));
	json_own(j, "observed_protocol", group_proto(g));
	json_u64(j, "severity", g->severity);
	json_u64(j, "flows", g->flows);
	json_u64(j, "repeats", g->flows - 1);
	json_u64(j, "clients", g->clients);
	json_bool(j, "clients_exact", g->clients_exact);
	json_format_ts(g->first_ts_us, ts);
	json_own(j, "first", ts);
	json_format_ts(g->last_ts_us, ts);
	json_own(j, "last", ts);
	json_u64(j, "window", window_us / 1000000u);
	json_own(j, "closed", dedup_close_name(why));
	json_end_obj(j);
}

int report_dedup_text(FILE *out, const struct dedup_group *g)
{
	char first[40], last[40], srv[46];
	json_format_ts(g->first_ts_us, first);
	json_format_ts(g->last_ts_us, last);
	report_ip(g->key.ip_version, g->key.srv_ip, srv);
	bool v6 = g->key.ip_version == 6;
	fprintf(out,
	        "%s [**] [%u:%u:1] repeats: %" PRIu64 " more %s flows like the alert of %s "
	        "(flow %" PRIu64 "), %" PRIu64 " in all from %s%" PRIu64 " client%s {%s} -> %s%s%s:%u\n",
	        last, OFFPORT_GID, (unsigned)g->key.sid, g->flows - 1, group_proto(g), first,
	        g->alert_flow_id, g->flows, g->clients_exact ? "" : "at least ", g->clients,
	        g->clients == 1 ? "" : "s", proto_name(g->key.transport), v6 ? "[" : "", srv,
	        v6 ? "]" : "", g->key.srv_port);
	return ferror(out) ? -1 : 0;
}
