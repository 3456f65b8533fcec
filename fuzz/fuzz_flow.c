/*
 * fuzz_flow.c - the flow table driven by packets synthesised from input.
 *
 *   header (6 bytes): max_flows (bits 0-2 n, bit 3 large: 1 + n flows,
 *                     or 16 + 8n, enough to fill buckets past their 12
 *                     slots), bit 4 crowd: each packet's source address
 *                     (its third byte) is chosen so that its flow's home
 *                     bucket is the first (op b7 bit 0 clear) or the last
 *                     of the table, which overflows them and wraps past
 *                     the end; then the TCP
 *                     new/established/closing/closed and UDP timeouts in
 *                     seconds (1 + byte % 16)
 *   op (8 bytes):     b0  bits 0-2 source host, 3-5 destination host,
 *                         bit 6 UDP, bit 7 IPv6
 *                     b1  bits 0-2 source port, 3-5 destination port (from
 *                         a table of edge ports), bit 6 VLAN 7, bit 7 VXLAN
 *                     b2  TCP flags
 *                     b3  time step: (b3 & 0x7f) x (1 s if bit 7 else 10 ms);
 *                         exactly 0x80 sends the packet 5 s in the past
 *                     b4  0xff: flow_expire(now) instead of a packet;
 *                         0xfe: flow_flush(); else the payload length
 *                     b5  VXLAN id; b6-b7 sequence number
 *
 * After every operation: created == sum(ended) + active, the class lists
 * are consistent and ordered by last-seen, the buckets hold every flow
 * with exact overflow counts (flow_table_check), the returned flow is the
 * packet's (in the returned direction), ids are 51-bit and non-zero, and
 * every ended flow had a reason. Violations abort.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flow/flow.h"

#define S 1000000ULL

static void fail(const char *what)
{
	fprintf(stderr, "fuzz_flow: invariant violated: %s\n", what);
	abort();
}

static uint64_t ended_seen;

static void on_end(void *ctx, struct flow *f)
{
	(void)ctx;
	if (f->end_reason == FLOW_END_NONE || f->end_reason >= FLOW_END__COUNT)
		fail("flow ended without a reason");
	if (f->last_ts_us < f->first_ts_us || f->pkts[0] + f->pkts[1] == 0)
		fail("ended flow counters");
	ended_seen++;
}

static void check_table(const struct flow_table *ft)
{
	uint64_t ended = 0;
	for (int i = 0; i < FLOW_END__COUNT; i++)
		ended += ft->stats.ended[i];
	if (ft->stats.created != ended + ft->stats.active)
		fail("created == sum(ended) + active");
	if (ended != ended_seen)
		fail("every ended flow went through the callback");
	if (ft->stats.active > ft->cfg.max_flows || ft->stats.peak_active > ft->cfg.max_flows)
		fail("active <= max_flows");
	uint64_t listed = 0;
	for (int c = 0; c < FLOW_LRU_CLASSES; c++) {
		uint64_t prev_ts = 0;
		uint32_t prev = 0;
		for (uint32_t l = ft->lru_head[c]; l; l = ft->entries[l - 1].lnext) {
			if (l > ft->high_water || listed > ft->cfg.max_flows)
				fail("class list link out of range or cyclic");
			const struct flow *f = &ft->entries[l - 1];
			if (f->lprev != prev || f->lclass != c)
				fail("class list links");
			if (f->last_ts_us < prev_ts)
				fail("class list ordered by last-seen");
			if (f->last_ts_us > ft->now_us || f->first_ts_us > f->last_ts_us)
				fail("flow times");
			if (f->end_reason != FLOW_END_NONE || f->state >= FLOW_STATE__COUNT ||
			    f->orient >= ORIENT__COUNT)
				fail("flow fields");
			if (f->flow_id == 0 || f->flow_id >> 51)
				fail("flow_id is 51-bit, non-zero");
			prev_ts = f->last_ts_us;
			prev = l;
			listed++;
		}
		if (ft->lru_tail[c] != prev)
			fail("class list tail");
	}
	if (listed != ft->stats.active)
		fail("every active flow in one class list");
	char err[160];
	if (flow_table_check(ft, err, sizeof err) < 0) {
		fprintf(stderr, "fuzz_flow: %s\n", err);
		fail("buckets (flow_table_check)");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint16_t ports[8] = {53, 80, 443, 1023, 1024, 49151, 49152, 65535};
	if (size < 6)
		return 0;
	struct flow_config cfg;
	flow_config_defaults(&cfg);
	cfg.max_flows = data[0] & 8 ? 16 + 8u * (data[0] & 7) : 1 + (data[0] & 7u);
	cfg.tcp_new_timeout_us = (1 + data[1] % 16) * S;
	cfg.tcp_established_timeout_us = (1 + data[2] % 16) * S;
	cfg.tcp_closing_timeout_us = (1 + data[3] % 16) * S;
	cfg.tcp_closed_timeout_us = (1 + data[4] % 16) * S;
	cfg.udp_timeout_us = (1 + data[5] % 16) * S;
	cfg.seed = 1;
	struct flow_table ft;
	char err[128];
	if (flow_table_init(&ft, &cfg, on_end, NULL, err, sizeof err) != 0)
		fail("table init");
	ended_seen = 0;
	uint64_t ts = 1000 * S;
	for (size_t at = 6; size - at >= 8; at += 8) {
		const uint8_t *op = data + at;
		if ((op[3] & 0x80) && op[3] != 0x80)
			ts += (uint64_t)(op[3] & 0x7f) * S;
		else
			ts += (uint64_t)(op[3] & 0x7f) * 10000;
		if (op[4] == 0xff) {
			flow_expire(&ft, ts);
			check_table(&ft);
			continue;
		}
		if (op[4] == 0xfe) {
			flow_flush(&ft);
			check_table(&ft);
			if (ft.stats.active != 0)
				fail("flush leaves nothing");
			continue;
		}
		struct packet p;
		memset(&p, 0, sizeof p);
		p.ts_us = op[3] == 0x80 ? ts - 5 * S : ts;
		p.ip_version = (op[0] & 0x80) ? 6 : 4;
		p.l4_proto = (op[0] & 0x40) ? 17 : 6;
		p.src_ip[0] = 10;
		p.src_ip[3] = op[0] & 7;
		p.dst_ip[0] = 10;
		p.dst_ip[3] = (op[0] >> 3) & 7;
		p.src_port = ports[op[1] & 7];
		p.dst_port = ports[(op[1] >> 3) & 7];
		p.vlan_id = (op[1] & 0x40) ? 7 : 0;
		if (op[1] & 0x80) {
			p.tunnel.type = TUNNEL_VXLAN;
			p.tunnel.depth = 1;
			p.tunnel.id_valid = 1;
			p.tunnel.id = op[5];
			p.tunnel.outer_src[0] = op[0];
			p.tunnel.outer_dst[0] = op[2];
		}
		p.tcp_flags = p.l4_proto == 6 ? op[2] : 0;
		p.seq = (uint32_t)op[6] << 8 | op[7];
		if (data[0] & 0x10) {
			uint32_t target = op[7] & 1 ? ft.nbuckets - 1 : 0;
			for (unsigned k = 0; k < 256 && flow_home_bucket(&ft, &p) != target; k++)
				p.src_ip[2] = (uint8_t)(k + 1);
		}
		p.payload_len = p.payload_wire_len = op[4];
		uint64_t created_before = ft.stats.created;
		enum flow_dir dir = DIR_TO_SERVER;
		bool created = false;
		struct flow *f = flow_packet(&ft, &p, 60 + op[4], &dir, &created);
		if (!f || f < ft.entries || f >= ft.entries + ft.cfg.max_flows)
			fail("flow_packet returns an entry");
		const uint8_t *sip = dir == DIR_TO_SERVER ? f->cli_ip : f->srv_ip;
		const uint8_t *dip = dir == DIR_TO_SERVER ? f->srv_ip : f->cli_ip;
		uint16_t sport = dir == DIR_TO_SERVER ? f->cli_port : f->srv_port;
		uint16_t dport = dir == DIR_TO_SERVER ? f->srv_port : f->cli_port;
		if (memcmp(sip, p.src_ip, 16) || memcmp(dip, p.dst_ip, 16) || sport != p.src_port ||
		    dport != p.dst_port || f->proto != p.l4_proto || f->ip_version != p.ip_version ||
		    f->vlan_id != p.vlan_id || f->tunnel.type != p.tunnel.type ||
		    f->tunnel.id != p.tunnel.id)
			fail("the returned flow is the packet's");
		if (f->end_reason != FLOW_END_NONE)
			fail("the returned flow is in the table");
		if (created != (ft.stats.created == created_before + 1))
			fail("created flag");
		if (created && f->pkts[0] + f->pkts[1] != 1)
			fail("a new flow holds one packet");
		if (f->last_ts_us != ft.now_us)
			fail("last seen is now");
		if (p.l4_proto == 6 && (p.tcp_flags & TCPF_RST) && f->state != FLOW_CLOSED)
			fail("RST closes");
		if (created && p.l4_proto == 6 && (p.tcp_flags & (TCPF_SYN | TCPF_ACK)) == TCPF_SYN &&
		    (f->orient != ORIENT_SYN || dir != DIR_TO_SERVER))
			fail("a SYN makes its sender the client");
		check_table(&ft);
	}
	flow_flush(&ft);
	check_table(&ft);
	if (ft.stats.active != 0)
		fail("flush leaves nothing");
	flow_table_free(&ft);
	return 0;
}
