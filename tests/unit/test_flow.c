/*
 * test_flow.c - the flow table: orientation, keys, TCP/UDP state, timeouts,
 * reuse, eviction, flush, flow_id determinism and the accounting invariant
 * (created == sum(ended) + active), checked after every step.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "flow/flow.h"

#define S 1000000ULL /* microseconds per second */

/* ---- helpers ------------------------------------------------------------ */

#define LOG_MAX 64

struct end_log {
	unsigned n;             /* flows ended, all of them */
	unsigned reason[FLOW_END__COUNT];
	struct flow last[LOG_MAX]; /* copies of the first LOG_MAX ended flows */
};

static void on_end(void *ctx, struct flow *f)
{
	struct end_log *log = ctx;
	CHECK(f->end_reason != FLOW_END_NONE && f->end_reason < FLOW_END__COUNT);
	if (log->n < LOG_MAX)
		log->last[log->n] = *f;
	log->n++;
	log->reason[f->end_reason]++;
}

static void ip4(uint8_t out[16], uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
	memset(out, 0, 16);
	out[0] = a;
	out[1] = b;
	out[2] = c;
	out[3] = d;
}

/* A TCP packet between 10.0.0.<s>:sport and 10.0.0.<d>:dport. */
static struct packet tcp(uint8_t s, uint16_t sport, uint8_t d, uint16_t dport, uint8_t flags,
                         uint64_t ts)
{
	struct packet p;
	memset(&p, 0, sizeof p);
	p.ts_us = ts;
	p.ip_version = 4;
	p.l4_proto = 6;
	p.tcp_flags = flags;
	p.src_port = sport;
	p.dst_port = dport;
	ip4(p.src_ip, 10, 0, 0, s);
	ip4(p.dst_ip, 10, 0, 0, d);
	p.seq = 1000u * s + sport;
	return p;
}

static struct packet udp(uint8_t s, uint16_t sport, uint8_t d, uint16_t dport, uint64_t ts)
{
	struct packet p = tcp(s, sport, d, dport, 0, ts);
	p.l4_proto = 17;
	p.seq = 0;
	return p;
}

static uint64_t sum_ended(const struct flow_table *ft)
{
	uint64_t n = 0;
	for (int i = 0; i < FLOW_END__COUNT; i++)
		n += ft->stats.ended[i];
	return n;
}

/* The accounting invariant, plus a walk of the private lists: every active
 * flow is in exactly one class list, each list is ordered by last-seen. */
static void check_table(const struct flow_table *ft)
{
	CHECK_EQ_U(ft->stats.created, sum_ended(ft) + ft->stats.active);
	CHECK(ft->stats.active <= ft->cfg.max_flows);
	CHECK(ft->stats.peak_active >= ft->stats.active);
	CHECK_EQ_U(ft->stats.created, ft->stats.created_tcp + ft->stats.created_udp);
	uint64_t orient = 0;
	for (int i = 0; i < ORIENT__COUNT; i++)
		orient += ft->stats.orient[i];
	CHECK_EQ_U(orient, ft->stats.created);
	uint64_t listed = 0;
	for (int c = 0; c < FLOW_LRU_CLASSES; c++) {
		uint64_t prev_ts = 0;
		uint32_t prev = 0;
		for (uint32_t l = ft->lru_head[c]; l; l = ft->entries[l - 1].lnext) {
			const struct flow *f = &ft->entries[l - 1];
			if (f->lprev != prev || f->lclass != c || f->last_ts_us < prev_ts ||
			    f->end_reason != FLOW_END_NONE) {
				CHECK(!"class list broken");
				return;
			}
			prev_ts = f->last_ts_us;
			prev = l;
			listed++;
		}
		CHECK_EQ_U(ft->lru_tail[c], prev);
	}
	CHECK_EQ_U(listed, ft->stats.active);
	char err[200];
	long displaced = flow_table_check(ft, err, sizeof err);
	if (displaced < 0)
		fprintf(stderr, "flow_table_check: %s\n", err);
	CHECK(displaced >= 0);
}

static void table(struct flow_table *ft, struct end_log *log, uint32_t max, uint64_t seed)
{
	struct flow_config cfg;
	flow_config_defaults(&cfg);
	cfg.max_flows = max;
	cfg.seed = seed;
	/* Distinct timeouts so a wrong class shows. */
	cfg.tcp_new_timeout_us = 5 * S;
	cfg.tcp_established_timeout_us = 50 * S;
	cfg.tcp_closing_timeout_us = 20 * S;
	cfg.tcp_closed_timeout_us = 3 * S;
	cfg.udp_timeout_us = 10 * S;
	char err[200];
	memset(log, 0, sizeof *log);
	int rc = flow_table_init(ft, &cfg, on_end, log, err, sizeof err);
	CHECK(rc == 0);
	if (rc != 0)
		exit(1);
}

static struct flow *feed(struct flow_table *ft, const struct packet *p, enum flow_dir *dir,
                         bool *created)
{
	struct flow *f = flow_packet(ft, p, 60 + p->payload_len, dir, created);
	CHECK(f != NULL);
	check_table(ft);
	return f;
}

/* ---- tests -------------------------------------------------------------- */

static void test_names_and_config(void)
{
	CHECK(strcmp(flow_state_name(FLOW_NEW), "new") == 0);
	CHECK(strcmp(flow_state_name(FLOW_ESTABLISHED), "established") == 0);
	CHECK(strcmp(flow_state_name(FLOW_CLOSING), "closing") == 0);
	CHECK(strcmp(flow_state_name(FLOW_CLOSED), "closed") == 0);
	CHECK(strcmp(flow_orient_name(ORIENT_SYN), "syn") == 0);
	CHECK(strcmp(flow_orient_name(ORIENT_SYNACK), "synack") == 0);
	CHECK(strcmp(flow_orient_name(ORIENT_PORT), "port") == 0);
	CHECK(strcmp(flow_orient_name(ORIENT_FIRST_PACKET), "first_packet") == 0);
	const char *ends[] = {"none", "fin", "rst", "timeout", "evicted", "eof"};
	for (int i = 0; i < FLOW_END__COUNT; i++)
		CHECK(strcmp(flow_end_name((enum flow_end)i), ends[i]) == 0);
	CHECK(!flow_orient_guessed(ORIENT_SYN));
	CHECK(flow_orient_guessed(ORIENT_PORT));

	struct flow_config cfg;
	flow_config_defaults(&cfg);
	CHECK_EQ_U(cfg.max_flows, 262144);
	CHECK_EQ_U(cfg.tcp_new_timeout_us, 30 * S);
	CHECK_EQ_U(cfg.tcp_established_timeout_us, 600 * S);
	CHECK_EQ_U(cfg.tcp_closing_timeout_us, 120 * S);
	CHECK_EQ_U(cfg.tcp_closed_timeout_us, 10 * S);
	CHECK_EQ_U(cfg.udp_timeout_us, 60 * S);
	CHECK_EQ_U(cfg.seed, 0);

	struct flow_table ft;
	char err[200];
	/* The defaults build a table (entries untouched: cheap). */
	CHECK(flow_table_init(&ft, &cfg, NULL, NULL, err, sizeof err) == 0);
	CHECK(ft.seed != 0);
	flow_table_free(&ft);

	struct flow_config bad = cfg;
	bad.max_flows = 0;
	err[0] = 0;
	CHECK(flow_table_init(&ft, &bad, NULL, NULL, err, sizeof err) == -1);
	CHECK(strstr(err, "max_flows") != NULL);
	bad.max_flows = (1U << 28) + 1;
	CHECK(flow_table_init(&ft, &bad, NULL, NULL, err, sizeof err) == -1);
	bad = cfg;
	bad.udp_timeout_us = 0;
	err[0] = 0;
	CHECK(flow_table_init(&ft, &bad, NULL, NULL, err, sizeof err) == -1);
	CHECK(strstr(err, "timeout") != NULL);
	bad = cfg;
	bad.tcp_closed_timeout_us = 0;
	CHECK(flow_table_init(&ft, &bad, NULL, NULL, err, sizeof err) == -1);
}

static void test_orientation(void)
{
	struct flow_table ft;
	struct end_log log;
	table(&ft, &log, 64, 7);
	enum flow_dir dir;
	bool created;

	/* SYN: the sender is the client. */
	struct packet p = tcp(1, 40000, 2, 80, TCPF_SYN, 1 * S);
	struct flow *f = feed(&ft, &p, &dir, &created);
	CHECK(created);
	CHECK_EQ_U(dir, DIR_TO_SERVER);
	CHECK_EQ_U(f->orient, ORIENT_SYN);
	CHECK_EQ_U(f->state, FLOW_NEW);
	CHECK_EQ_U(f->cli_port, 40000);
	CHECK_EQ_U(f->srv_port, 80);
	CHECK_EQ_U(f->cli_ip[3], 1);
	CHECK_EQ_U(f->srv_ip[3], 2);
	CHECK_EQ_U(f->syn_seen, 1u << DIR_TO_SERVER);
	CHECK_EQ_U(f->syn_seq[DIR_TO_SERVER], p.seq);
	CHECK_EQ_U(f->user_slot, FLOW_NONE);
	CHECK_EQ_U(f->end_reason, FLOW_END_NONE);

	/* A SYN to a low port from a low port is still the SYN's call. */
	p = tcp(1, 80, 2, 50000, TCPF_SYN, 1 * S);
	f = feed(&ft, &p, &dir, &created);
	CHECK_EQ_U(f->orient, ORIENT_SYN);
	CHECK_EQ_U(f->srv_port, 50000);

	/* Rule 1: SYN+ACK first: its receiver is the client. */
	p = tcp(2, 8443, 1, 5555, TCPF_SYN | TCPF_ACK, 1 * S);
	f = feed(&ft, &p, &dir, &created);
	CHECK(created);
	CHECK_EQ_U(dir, DIR_TO_CLIENT);
	CHECK_EQ_U(f->orient, ORIENT_SYNACK);
	CHECK_EQ_U(f->state, FLOW_ESTABLISHED);
	CHECK_EQ_U(f->cli_port, 5555);
	CHECK_EQ_U(f->srv_port, 8443);
	CHECK_EQ_U(f->cli_ip[3], 1);
	CHECK_EQ_U(f->syn_seen, 1u << DIR_TO_CLIENT);
	CHECK_EQ_U(f->syn_seq[DIR_TO_CLIENT], p.seq);

	/* Rule 2: one port below 1024: it is the server, either way round. */
	p = tcp(2, 443, 1, 50001, TCPF_ACK | TCPF_PSH, 1 * S);
	f = feed(&ft, &p, &dir, &created);
	CHECK_EQ_U(dir, DIR_TO_CLIENT);
	CHECK_EQ_U(f->orient, ORIENT_PORT);
	CHECK_EQ_U(f->srv_port, 443);
	CHECK_EQ_U(f->state, FLOW_ESTABLISHED); /* mid-stream */
	CHECK_EQ_U(f->syn_seen, 0);
	p = tcp(1, 3333, 2, 22, TCPF_ACK, 1 * S);
	f = feed(&ft, &p, &dir, &created);
	CHECK_EQ_U(dir, DIR_TO_SERVER);
	CHECK_EQ_U(f->orient, ORIENT_PORT);
	CHECK_EQ_U(f->srv_port, 22);

	/* Rule 3: one dynamic port (>= 49152): the lower port is the server. */
	p = tcp(2, 8080, 1, 50002, TCPF_ACK, 1 * S);
	f = feed(&ft, &p, &dir, &created);
	CHECK_EQ_U(dir, DIR_TO_CLIENT);
	CHECK_EQ_U(f->orient, ORIENT_PORT);
	CHECK_EQ_U(f->srv_port, 8080);
	CHECK_EQ_U(f->cli_port, 50002);
	p = udp(1, 49152, 2, 49151, 1 * S);
	f = feed(&ft, &p, &dir, &created);
	CHECK_EQ_U(dir, DIR_TO_SERVER);
	CHECK_EQ_U(f->orient, ORIENT_PORT);
	CHECK_EQ_U(f->srv_port, 49151);
	/* Linux's ephemeral range (from 32768) against a registered port,
	 * whoever sent first. */
	p = tcp(2, 8080, 1, 40000, TCPF_ACK, 1 * S);
	f = feed(&ft, &p, &dir, &created);
	CHECK_EQ_U(dir, DIR_TO_CLIENT);
	CHECK_EQ_U(f->orient, ORIENT_PORT);
	CHECK_EQ_U(f->srv_port, 8080);
	p = udp(1, 32768, 2, 32767, 1 * S);
	f = feed(&ft, &p, &dir, &created);
	CHECK_EQ_U(f->srv_port, 32767);
	p = udp(1, 40001, 2, 45000, 1 * S); /* same range: first sender */
	f = feed(&ft, &p, &dir, &created);
	CHECK_EQ_U(f->orient, ORIENT_FIRST_PACKET);
	CHECK_EQ_U(f->srv_port, 45000);

	/* Rule 4: otherwise the first sender is the client. */
	p = tcp(2, 3000, 1, 2000, TCPF_ACK, 1 * S);
	f = feed(&ft, &p, &dir, &created);
	CHECK_EQ_U(dir, DIR_TO_SERVER);
	CHECK_EQ_U(f->orient, ORIENT_FIRST_PACKET);
	CHECK_EQ_U(f->cli_port, 3000);
	p = udp(1, 53, 2, 123, 1 * S); /* both low */
	f = feed(&ft, &p, &dir, &created);
	CHECK_EQ_U(f->orient, ORIENT_FIRST_PACKET);
	CHECK_EQ_U(f->srv_port, 123);
	p = udp(1, 60000, 2, 50000, 1 * S); /* both dynamic */
	f = feed(&ft, &p, &dir, &created);
	CHECK_EQ_U(f->orient, ORIENT_FIRST_PACKET);
	CHECK_EQ_U(f->srv_port, 50000);
	p = udp(1, 5000, 2, 5000, 1 * S); /* same port */
	f = feed(&ft, &p, &dir, &created);
	CHECK_EQ_U(f->orient, ORIENT_FIRST_PACKET);
	CHECK_EQ_U(f->srv_ip[3], 2);

	/* UDP to DNS: rule 2. */
	p = udp(1, 53000, 2, 53, 1 * S);
	f = feed(&ft, &p, &dir, &created);
	CHECK_EQ_U(f->orient, ORIENT_PORT);
	CHECK_EQ_U(f->srv_port, 53);
	CHECK_EQ_U(f->state, FLOW_NEW);

	CHECK_EQ_U(ft.stats.orient[ORIENT_SYN], 2);
	CHECK_EQ_U(ft.stats.orient[ORIENT_SYNACK], 1);
	CHECK_EQ_U(ft.stats.orient[ORIENT_PORT], 7);
	CHECK_EQ_U(ft.stats.orient[ORIENT_FIRST_PACKET], 5);
	CHECK_EQ_U(ft.stats.created, 15);
	CHECK_EQ_U(ft.stats.created_tcp, 8);
	CHECK_EQ_U(ft.stats.created_udp, 7);
	flow_flush(&ft);
	check_table(&ft);
	CHECK_EQ_U(log.reason[FLOW_END_EOF], 15);
	flow_table_free(&ft);
}

static void test_handshake_and_counters(void)
{
	struct flow_table ft;
	struct end_log log;
	table(&ft, &log, 16, 1);
	enum flow_dir dir;
	bool created;

	struct packet syn = tcp(1, 40000, 2, 8443, TCPF_SYN, 10 * S);
	struct flow *f = feed(&ft, &syn, &dir, &created);
	CHECK(created);
	uint64_t id = f->flow_id;

	struct packet sa = tcp(2, 8443, 1, 40000, TCPF_SYN | TCPF_ACK, 10 * S + 100);
	struct flow *g = feed(&ft, &sa, &dir, &created);
	CHECK(g == f);
	CHECK(!created);
	CHECK_EQ_U(dir, DIR_TO_CLIENT);
	CHECK_EQ_U(f->state, FLOW_ESTABLISHED);
	CHECK_EQ_U(f->syn_seen, 3);
	CHECK_EQ_U(f->syn_seq[DIR_TO_CLIENT], sa.seq);

	struct packet ack = tcp(1, 40000, 2, 8443, TCPF_ACK | TCPF_PSH, 10 * S + 200);
	ack.payload_len = ack.payload_wire_len = 100;
	g = feed(&ft, &ack, &dir, &created);
	CHECK(g == f);
	CHECK_EQ_U(dir, DIR_TO_SERVER);
	CHECK_EQ_U(f->flow_id, id);
	CHECK_EQ_U(f->pkts[DIR_TO_SERVER], 2);
	CHECK_EQ_U(f->pkts[DIR_TO_CLIENT], 1);
	CHECK_EQ_U(f->bytes[DIR_TO_SERVER], 60 + 160);
	CHECK_EQ_U(f->bytes[DIR_TO_CLIENT], 60);
	CHECK_EQ_U(f->tcp_flags[DIR_TO_SERVER], TCPF_SYN | TCPF_ACK | TCPF_PSH);
	CHECK_EQ_U(f->tcp_flags[DIR_TO_CLIENT], TCPF_SYN | TCPF_ACK);
	CHECK_EQ_U(f->first_ts_us, 10 * S);
	CHECK_EQ_U(f->last_ts_us, 10 * S + 200);

	/* An older timestamp counts as "now": time does not go backwards. */
	struct packet old = tcp(2, 8443, 1, 40000, TCPF_ACK, 5 * S);
	g = feed(&ft, &old, &dir, &created);
	CHECK(g == f);
	CHECK_EQ_U(f->last_ts_us, 10 * S + 200);
	CHECK_EQ_U(f->first_ts_us, 10 * S);
	CHECK_EQ_U(ft.stats.active, 1);
	CHECK_EQ_U(ft.stats.created, 1);

	/* NEW -> ESTABLISHED by data both ways (the SYN+ACK was not captured). */
	struct packet s2 = tcp(3, 40001, 4, 9000, TCPF_SYN, 11 * S);
	f = feed(&ft, &s2, &dir, &created);
	struct packet d1 = tcp(3, 40001, 4, 9000, TCPF_PSH, 11 * S);
	d1.payload_len = d1.payload_wire_len = 10;
	feed(&ft, &d1, &dir, &created);
	CHECK_EQ_U(f->state, FLOW_NEW);
	struct packet d2 = tcp(4, 9000, 3, 40001, TCPF_PSH, 11 * S);
	d2.payload_len = 0;
	d2.payload_wire_len = 10; /* snap-cut data still counts as data */
	feed(&ft, &d2, &dir, &created);
	CHECK_EQ_U(f->state, FLOW_ESTABLISHED);

	/* An ACK from the server also establishes. */
	struct packet s3 = tcp(5, 40002, 6, 9001, TCPF_SYN, 12 * S);
	f = feed(&ft, &s3, &dir, &created);
	struct packet a3 = tcp(6, 9001, 5, 40002, TCPF_ACK, 12 * S);
	feed(&ft, &a3, &dir, &created);
	CHECK_EQ_U(f->state, FLOW_ESTABLISHED);
	CHECK_EQ_U(f->orient, ORIENT_SYN);

	/* UDP: new until both sides spoke. */
	struct packet u1 = udp(1, 50000, 2, 53, 13 * S);
	f = feed(&ft, &u1, &dir, &created);
	feed(&ft, &u1, &dir, &created);
	CHECK_EQ_U(f->state, FLOW_NEW);
	struct packet u2 = udp(2, 53, 1, 50000, 13 * S);
	feed(&ft, &u2, &dir, &created);
	CHECK_EQ_U(dir, DIR_TO_CLIENT);
	CHECK_EQ_U(f->state, FLOW_ESTABLISHED);
	CHECK_EQ_U(f->pkts[0], 2);
	CHECK_EQ_U(f->pkts[1], 1);
	CHECK_EQ_U(ft.stats.created_udp, 1);
	CHECK_EQ_U(ft.stats.peak_active, 4);

	flow_flush(&ft);
	check_table(&ft);
	flow_table_free(&ft);
}

static void test_keys(void)
{
	struct flow_table ft;
	struct end_log log;
	table(&ft, &log, 64, 3);
	enum flow_dir dir;
	bool created;

	struct packet a = tcp(1, 1234, 2, 80, TCPF_ACK, 1 * S);
	struct flow *fa = feed(&ft, &a, &dir, &created);
	struct packet b = a;
	b.vlan_id = 10;
	struct flow *fb = feed(&ft, &b, &dir, &created);
	CHECK(created);
	CHECK(fa != fb);
	CHECK_EQ_U(fb->vlan_id, 10);
	b.vlan_id = 20;
	struct flow *fc = feed(&ft, &b, &dir, &created);
	CHECK(created && fc != fb);

	/* Tunnel type and id separate flows; outer addresses do not. */
	struct packet t = a;
	t.tunnel.type = TUNNEL_VXLAN;
	t.tunnel.depth = 1;
	t.tunnel.id_valid = 1;
	t.tunnel.id = 1;
	ip4(t.tunnel.outer_src, 192, 168, 0, 1);
	ip4(t.tunnel.outer_dst, 192, 168, 0, 2);
	struct flow *ft1 = feed(&ft, &t, &dir, &created);
	CHECK(created && ft1 != fa);
	t.tunnel.id = 2;
	struct flow *ft2 = feed(&ft, &t, &dir, &created);
	CHECK(created && ft2 != ft1);
	t.tunnel.type = TUNNEL_GENEVE;
	struct flow *ft3 = feed(&ft, &t, &dir, &created);
	CHECK(created && ft3 != ft2);
	/* The reply of tunnel id 1 arrives with outer addresses swapped. */
	struct packet r = tcp(2, 80, 1, 1234, TCPF_ACK, 2 * S);
	r.tunnel = t.tunnel;
	r.tunnel.type = TUNNEL_VXLAN;
	r.tunnel.id = 1;
	ip4(r.tunnel.outer_src, 192, 168, 0, 2);
	ip4(r.tunnel.outer_dst, 192, 168, 0, 1);
	struct flow *fr = feed(&ft, &r, &dir, &created);
	CHECK(!created);
	CHECK(fr == ft1);
	CHECK_EQ_U(dir, DIR_TO_CLIENT);
	/* An id that is not valid is not part of the key. */
	struct packet n1 = a, n2 = a;
	n1.tunnel.type = n2.tunnel.type = TUNNEL_IPIP;
	n1.tunnel.id = 5;
	n2.tunnel.id = 6;
	struct flow *fn1 = feed(&ft, &n1, &dir, &created);
	CHECK(created);
	struct flow *fn2 = feed(&ft, &n2, &dir, &created);
	CHECK(!created && fn2 == fn1);
	/* GTP-U TEIDs differ per direction by design: the uplink and downlink
	 * of one conversation are one flow. */
	struct packet g1 = a;
	g1.tunnel.type = TUNNEL_GTPU;
	g1.tunnel.id_valid = 1;
	g1.tunnel.id = 0x1111;
	struct flow *fg1 = feed(&ft, &g1, &dir, &created);
	CHECK(created);
	struct packet g2 = tcp(2, 80, 1, 1234, TCPF_ACK, 3 * S);
	g2.tunnel = g1.tunnel;
	g2.tunnel.id = 0x2222;
	struct flow *fg2 = feed(&ft, &g2, &dir, &created);
	CHECK(!created && fg2 == fg1);
	CHECK_EQ_U(dir, DIR_TO_CLIENT);

	/* IPv6 with the same address bytes, and UDP with the same ports. */
	struct packet v6 = a;
	v6.ip_version = 6;
	struct flow *f6 = feed(&ft, &v6, &dir, &created);
	CHECK(created && f6 != fa);
	struct packet u = a;
	u.l4_proto = 17;
	struct flow *fu = feed(&ft, &u, &dir, &created);
	CHECK(created && fu != fa);
	/* Differing only in one port or one address. */
	struct packet p2 = a;
	p2.src_port = 1235;
	CHECK(feed(&ft, &p2, &dir, &created) != fa && created);
	p2 = a;
	p2.dst_ip[15] = 1;
	CHECK(feed(&ft, &p2, &dir, &created) != fa && created);
	/* And the original still maps to its flow, from both sides. */
	struct packet back = tcp(2, 80, 1, 1234, TCPF_ACK, 3 * S);
	CHECK(feed(&ft, &back, &dir, &created) == fa && !created);
	CHECK(feed(&ft, &a, &dir, &created) == fa && !created);
	CHECK_EQ_U(fa->pkts[0] + fa->pkts[1], 3);
	flow_flush(&ft);
	flow_table_free(&ft);
}

/* Creates one flow in the given state at time ts and returns it. */
static struct flow *make_state(struct flow_table *ft, uint8_t host, enum flow_state st, bool rst,
                               uint64_t ts)
{
	enum flow_dir dir;
	bool created;
	struct packet syn = tcp(host, 40000, 100, 443, TCPF_SYN, ts);
	struct flow *f = feed(ft, &syn, &dir, &created);
	CHECK(created);
	if (st == FLOW_NEW)
		return f;
	struct packet sa = tcp(100, 443, host, 40000, TCPF_SYN | TCPF_ACK, ts);
	feed(ft, &sa, &dir, &created);
	if (st == FLOW_ESTABLISHED)
		return f;
	if (rst) {
		struct packet r = tcp(100, 443, host, 40000, TCPF_RST, ts);
		feed(ft, &r, &dir, &created);
		CHECK_EQ_U(f->state, FLOW_CLOSED);
		return f;
	}
	struct packet fin = tcp(host, 40000, 100, 443, TCPF_FIN | TCPF_ACK, ts);
	feed(ft, &fin, &dir, &created);
	CHECK_EQ_U(f->fin_seen, 1u << DIR_TO_SERVER);
	if (st == FLOW_CLOSING)
		return f;
	struct packet fin2 = tcp(100, 443, host, 40000, TCPF_FIN | TCPF_ACK, ts);
	feed(ft, &fin2, &dir, &created);
	CHECK_EQ_U(f->fin_seen, 3);
	return f;
}

static void test_timeouts(void)
{
	static const struct {
		enum flow_state st;
		bool rst;
		uint64_t timeout;
		enum flow_end why;
	} cases[] = {
		{FLOW_NEW, false, 5 * S, FLOW_END_TIMEOUT},
		{FLOW_ESTABLISHED, false, 50 * S, FLOW_END_TIMEOUT},
		{FLOW_CLOSING, false, 20 * S, FLOW_END_TIMEOUT},
		{FLOW_CLOSED, false, 3 * S, FLOW_END_FIN},
		{FLOW_CLOSED, true, 3 * S, FLOW_END_RST},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct flow_table ft;
		struct end_log log;
		table(&ft, &log, 8, 5);
		uint64_t t0 = 1000 * S;
		struct flow *f = make_state(&ft, 1, cases[i].st, cases[i].rst, t0);
		CHECK_EQ_U(f->state, cases[i].st);
		uint64_t id = f->flow_id;
		flow_expire(&ft, t0 + cases[i].timeout - 1);
		check_table(&ft);
		CHECK_EQ_U(log.n, 0);
		CHECK_EQ_U(ft.stats.active, 1);
		flow_expire(&ft, t0 + cases[i].timeout);
		check_table(&ft);
		CHECK_EQ_U(log.n, 1);
		CHECK_EQ_U(log.last[0].flow_id, id);
		CHECK_EQ_U(log.last[0].end_reason, cases[i].why);
		CHECK_EQ_U(ft.stats.ended[cases[i].why], 1);
		CHECK_EQ_U(ft.stats.active, 0);
		/* An older time afterwards expires nothing and moves nothing back. */
		flow_expire(&ft, t0);
		CHECK_EQ_U(ft.now_us, t0 + cases[i].timeout);
		flow_table_free(&ft);
	}

	/* UDP, driven by packet timestamps only: flow_packet expires by itself. */
	struct flow_table ft;
	struct end_log log;
	table(&ft, &log, 8, 5);
	enum flow_dir dir;
	bool created;
	struct packet u = udp(1, 5353, 2, 5353, 100 * S);
	feed(&ft, &u, &dir, &created);
	struct packet t = tcp(3, 40000, 4, 80, TCPF_ACK, 100 * S); /* established: 50 s */
	feed(&ft, &t, &dir, &created);
	struct packet other = udp(5, 1000, 6, 2000, 109 * S);
	feed(&ft, &other, &dir, &created);
	CHECK_EQ_U(log.n, 0);
	other.ts_us = 110 * S;
	feed(&ft, &other, &dir, &created);
	CHECK_EQ_U(log.n, 1);
	CHECK_EQ_U(log.last[0].proto, 17);
	CHECK_EQ_U(log.last[0].cli_port, 5353);
	CHECK_EQ_U(log.last[0].end_reason, FLOW_END_TIMEOUT);
	/* A flow idle past its timeout is over even between expiry sweeps:
	 * its next packet opens a new flow. */
	t.ts_us = 150 * S;
	struct flow *f = feed(&ft, &t, &dir, &created);
	CHECK(created);
	CHECK_EQ_U(f->first_ts_us, 150 * S);
	CHECK_EQ_U(ft.stats.ended[FLOW_END_TIMEOUT], 3); /* udp 5353, old tcp, udp 1000 */
	flow_flush(&ft);
	check_table(&ft);
	flow_table_free(&ft);
}

static void test_fin_rst_reuse(void)
{
	struct flow_table ft;
	struct end_log log;
	table(&ft, &log, 8, 9);
	enum flow_dir dir;
	bool created;

	/* RST closes at once, from either side, and wins over a later FIN. */
	struct flow *f = make_state(&ft, 1, FLOW_ESTABLISHED, false, 1 * S);
	struct packet r = tcp(1, 40000, 100, 443, TCPF_RST | TCPF_ACK, 1 * S);
	feed(&ft, &r, &dir, &created);
	CHECK_EQ_U(f->state, FLOW_CLOSED);
	struct packet fin = tcp(100, 443, 1, 40000, TCPF_FIN | TCPF_ACK, 1 * S);
	feed(&ft, &fin, &dir, &created);
	CHECK_EQ_U(f->state, FLOW_CLOSED);

	/* A FIN from one side: closing; a FIN from the same side again: still. */
	struct flow *g = make_state(&ft, 2, FLOW_CLOSING, false, 1 * S);
	struct packet fin_again = tcp(2, 40000, 100, 443, TCPF_FIN | TCPF_ACK, 1 * S);
	feed(&ft, &fin_again, &dir, &created);
	CHECK_EQ_U(g->state, FLOW_CLOSING);
	/* A FIN while NEW (SYN then FIN) is closing too. */
	struct flow *h = make_state(&ft, 3, FLOW_NEW, false, 1 * S);
	struct packet hf = tcp(3, 40000, 100, 443, TCPF_FIN, 1 * S);
	feed(&ft, &hf, &dir, &created);
	CHECK_EQ_U(h->state, FLOW_CLOSING);

	/* Closed by FIN, then a new SYN on the same 5-tuple: reused. */
	struct flow *c = make_state(&ft, 4, FLOW_CLOSED, false, 2 * S);
	uint64_t old_id = c->flow_id;
	/* A straggling ACK does not reopen it. */
	struct packet straggler = tcp(4, 40000, 100, 443, TCPF_ACK, 2 * S);
	CHECK(feed(&ft, &straggler, &dir, &created) == c && !created);
	CHECK_EQ_U(c->state, FLOW_CLOSED);
	struct packet syn = tcp(4, 40000, 100, 443, TCPF_SYN, 3 * S);
	syn.seq = 777;
	unsigned before = log.n;
	struct flow *n = feed(&ft, &syn, &dir, &created);
	CHECK(created);
	CHECK_EQ_U(ft.stats.reused, 1);
	CHECK_EQ_U(log.n, before + 1);
	CHECK_EQ_U(log.last[before].flow_id, old_id);
	CHECK_EQ_U(log.last[before].end_reason, FLOW_END_FIN);
	CHECK(n->flow_id != old_id);
	CHECK_EQ_U(n->state, FLOW_NEW);
	CHECK_EQ_U(n->pkts[0], 1);
	CHECK_EQ_U(n->syn_seq[0], 777);
	CHECK_EQ_U(n->first_ts_us, 3 * S);
	/* The RST-closed flow reused from the other side ends with RST. */
	struct packet syn2 = tcp(100, 443, 1, 40000, TCPF_SYN, 3 * S);
	struct flow *n2 = feed(&ft, &syn2, &dir, &created);
	CHECK(created);
	CHECK_EQ_U(log.last[before + 1].end_reason, FLOW_END_RST);
	CHECK_EQ_U(n2->cli_port, 443); /* the new SYN decides the new orientation */
	CHECK_EQ_U(ft.stats.reused, 2);
	CHECK_EQ_U(ft.stats.ended[FLOW_END_FIN], 1);
	CHECK_EQ_U(ft.stats.ended[FLOW_END_RST], 1);

	/* A SYN on a still-open flow is just a packet of it. */
	struct packet gsyn = tcp(2, 40000, 100, 443, TCPF_SYN, 3 * S);
	CHECK(feed(&ft, &gsyn, &dir, &created) == g && !created);
	flow_flush(&ft);
	check_table(&ft);
	flow_table_free(&ft);
}

/* The recent-flows shortcut (flow.c) finds a flow without its hash only
 * while the flow is in the table: after it ends, its key opens a new one,
 * whether the entry is reused or still free, and between flows whose keys
 * share an index each packet finds its own. */
static void test_recent(void)
{
	struct flow_table ft;
	struct end_log log;
	table(&ft, &log, 64, 11);
	enum flow_dir dir;
	bool created;
	struct packet a = udp(1, 5000, 100, 53, 1 * S);
	struct packet b = udp(2, 5000, 100, 53, 1 * S);
	struct flow *fa = feed(&ft, &a, &dir, &created);
	CHECK(created);
	struct flow *fb = feed(&ft, &b, &dir, &created);
	CHECK(created);
	/* a's packet after b's: not the last packet's flow; found again */
	CHECK(feed(&ft, &a, &dir, &created) == fa && !created);
	struct packet a_back = udp(100, 53, 1, 5000, 1 * S);
	CHECK(feed(&ft, &b, &dir, &created) == fb && !created);
	CHECK(feed(&ft, &a_back, &dir, &created) == fa && !created && dir == DIR_TO_CLIENT);
	uint64_t old_id = fa->flow_id;
	flow_flush(&ft);
	/* both ended (entries free, fields as they were): b's packet, then
	 * a's, each opens a new flow */
	uint64_t before = ft.stats.created;
	struct flow *nb = feed(&ft, &b, &dir, &created);
	CHECK(created && nb->end_reason == FLOW_END_NONE);
	struct flow *na = feed(&ft, &a, &dir, &created);
	CHECK(created && na->end_reason == FLOW_END_NONE && na->flow_id != old_id);
	CHECK_EQ_U(ft.stats.created, before + 2);
	/* two flows at one index, their packets alternating: each finds its
	 * own, neither is created twice */
	struct packet c = udp(3, 5000, 100, 53, 2 * S);
	for (unsigned k = 0; k < 65536 && flow_recent_slot(&ft, &c) != flow_recent_slot(&ft, &a); k++)
		c.src_port = (uint16_t)(5001 + k);
	CHECK(flow_recent_slot(&ft, &c) == flow_recent_slot(&ft, &a));
	a.ts_us = 2 * S;
	struct flow *fa2 = feed(&ft, &a, &dir, &created);
	CHECK(!created && fa2 == na);
	struct flow *fc = feed(&ft, &c, &dir, &created);
	CHECK(created);
	for (int k = 0; k < 3; k++) {
		CHECK(feed(&ft, &a, &dir, &created) == na && !created);
		CHECK(feed(&ft, &c, &dir, &created) == fc && !created);
	}
	/* many flows over the 4096 indexes, each packet seen twice in a row
	 * apart: every one finds its own flow, none is created twice */
	flow_flush(&ft);
	before = ft.stats.created;
	for (int round = 0; round < 2; round++)
		for (unsigned i = 0; i < 48; i++) {
			struct packet p = udp((uint8_t)(i + 1), (uint16_t)(6000 + i), 100, 53, 2 * S);
			struct flow *f = feed(&ft, &p, &dir, &created);
			CHECK(created == (round == 0));
			CHECK(f->cli_port == 6000 + i);
		}
	CHECK_EQ_U(ft.stats.created, before + 48);
	flow_flush(&ft);
	check_table(&ft);
	flow_table_free(&ft);
}

static void test_eviction(void)
{
	struct flow_table ft;
	struct end_log log;
	table(&ft, &log, 4, 11);
	enum flow_dir dir;
	bool created;

	/* Four established flows, seen at t = 1..4 s; the first is touched again
	 * at 5 s, so the least recently seen is the second. */
	struct flow *f[4];
	for (uint8_t i = 0; i < 4; i++) {
		struct packet p = udp((uint8_t)(i + 1), 1000, 50, 53, (1 + i) * S);
		f[i] = feed(&ft, &p, &dir, &created);
		struct packet q = udp(50, 53, (uint8_t)(i + 1), 1000, (1 + i) * S);
		feed(&ft, &q, &dir, &created);
	}
	struct packet again = udp(1, 1000, 50, 53, 5 * S);
	feed(&ft, &again, &dir, &created);
	uint64_t victim = f[1]->flow_id;
	struct packet p5 = udp(5, 1000, 50, 53, 6 * S);
	struct flow *g = feed(&ft, &p5, &dir, &created);
	CHECK(created);
	CHECK_EQ_U(log.n, 1);
	CHECK_EQ_U(log.last[0].flow_id, victim);
	CHECK_EQ_U(log.last[0].end_reason, FLOW_END_EVICTED);
	CHECK(g == f[1]); /* its entry was reused */
	CHECK_EQ_U(ft.stats.active, 4);

	/* A closed flow goes first even when it is the most recent. */
	flow_flush(&ft);
	memset(&log, 0, sizeof log);
	struct flow *old_est = make_state(&ft, 1, FLOW_ESTABLISHED, false, 10 * S);
	struct flow *new_syn = make_state(&ft, 2, FLOW_NEW, false, 11 * S);
	struct flow *closed = make_state(&ft, 3, FLOW_CLOSED, false, 12 * S);
	struct packet u = udp(9, 1, 10, 2, 12 * S);
	feed(&ft, &u, &dir, &created);
	CHECK_EQ_U(ft.stats.active, 4);
	uint64_t cid = closed->flow_id, nid = new_syn->flow_id, eid = old_est->flow_id;
	struct packet x = udp(11, 1, 12, 2, 13 * S);
	feed(&ft, &x, &dir, &created);
	CHECK_EQ_U(log.n, 1);
	CHECK_EQ_U(log.last[0].flow_id, cid);
	CHECK_EQ_U(log.last[0].end_reason, FLOW_END_EVICTED);
	/* Then the unanswered SYN, though the established flow is older. */
	struct packet y = udp(13, 1, 14, 2, 14 * S);
	feed(&ft, &y, &dir, &created);
	CHECK_EQ_U(log.n, 2);
	CHECK_EQ_U(log.last[1].flow_id, nid);
	/* Then the least recently seen overall: the established one (10 s). */
	struct packet z = udp(15, 1, 16, 2, 15 * S);
	feed(&ft, &z, &dir, &created);
	CHECK_EQ_U(log.n, 3);
	CHECK_EQ_U(log.last[2].flow_id, eid);
	CHECK_EQ_U(ft.stats.ended[FLOW_END_EVICTED], 4);
	CHECK_EQ_U(ft.stats.peak_active, 4);

	/* A SYN younger than 250 ms may be waiting for its SYN-ACK: the least
	 * recently seen flow goes instead. */
	flow_flush(&ft);
	memset(&log, 0, sizeof log);
	struct flow *est2 = make_state(&ft, 1, FLOW_ESTABLISHED, false, 20 * S);
	struct flow *young = make_state(&ft, 2, FLOW_NEW, false, 21 * S);
	make_state(&ft, 3, FLOW_ESTABLISHED, false, 21 * S);
	make_state(&ft, 4, FLOW_ESTABLISHED, false, 21 * S);
	uint64_t est2_id = est2->flow_id, young_id = young->flow_id;
	struct packet w = udp(17, 1, 18, 2, 21 * S + 100000);
	feed(&ft, &w, &dir, &created);
	CHECK_EQ_U(log.n, 1);
	CHECK_EQ_U(log.last[0].flow_id, est2_id);
	/* Unanswered for 250 ms or more, it goes first. */
	struct packet v = udp(19, 1, 20, 2, 21 * S + 250000);
	feed(&ft, &v, &dir, &created);
	CHECK_EQ_U(log.n, 2);
	CHECK_EQ_U(log.last[1].flow_id, young_id);

	/* A one-entry table: every new flow evicts the previous one. */
	struct flow_table one;
	struct end_log log1;
	table(&one, &log1, 1, 1);
	for (uint8_t i = 0; i < 10; i++) {
		struct packet p = tcp(i, 1000, 200, 80, TCPF_SYN, 1 * S);
		feed(&one, &p, &dir, &created);
		CHECK(created);
	}
	CHECK_EQ_U(log1.reason[FLOW_END_EVICTED], 9);
	flow_flush(&one);
	check_table(&one);
	flow_table_free(&one);
	flow_flush(&ft);
	check_table(&ft);
	flow_table_free(&ft);
}

static void test_flush_order(void)
{
	struct flow_table ft;
	struct end_log log;
	table(&ft, &log, 16, 13);
	enum flow_dir dir;
	bool created;
	/* Created 1..5 s in mixed classes, then host 2 touched last. */
	make_state(&ft, 1, FLOW_ESTABLISHED, false, 1 * S);
	make_state(&ft, 2, FLOW_NEW, false, 2 * S);
	struct packet u = udp(3, 1, 4, 2, 3 * S);
	feed(&ft, &u, &dir, &created);
	make_state(&ft, 5, FLOW_CLOSING, false, 4 * S);
	struct packet t = tcp(2, 40000, 100, 443, TCPF_SYN, 5 * S);
	feed(&ft, &t, &dir, &created);
	flow_flush(&ft);
	check_table(&ft);
	CHECK_EQ_U(log.n, 4);
	CHECK_EQ_U(log.reason[FLOW_END_EOF], 4);
	CHECK_EQ_U(log.last[0].cli_ip[3], 1);
	CHECK_EQ_U(log.last[1].cli_ip[3], 3);
	CHECK_EQ_U(log.last[2].cli_ip[3], 5);
	CHECK_EQ_U(log.last[3].cli_ip[3], 2);
	CHECK_EQ_U(ft.stats.active, 0);
	/* The table is usable after a flush. */
	feed(&ft, &u, &dir, &created);
	CHECK(created);
	flow_flush(&ft);
	flow_table_free(&ft);
}

/* ---- determinism and stress -------------------------------------------- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	/* xorshift64*: deterministic, good enough for test traffic. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static struct packet random_packet(uint64_t *ts, unsigned hosts, uint64_t step)
{
	struct packet p;
	uint8_t a = (uint8_t)(rnd() % hosts), b = (uint8_t)(rnd() % hosts);
	uint16_t pa = (uint16_t)(rnd() % 8), pb = (uint16_t)(rnd() % 8);
	static const uint16_t ports[8] = {53, 80, 443, 8080, 50000, 60000, 1234, 5555};
	static const uint8_t flagset[] = {TCPF_SYN, TCPF_SYN | TCPF_ACK, TCPF_ACK, TCPF_ACK | TCPF_PSH,
	                                  TCPF_FIN | TCPF_ACK, TCPF_RST, TCPF_ACK, TCPF_ACK};
	if (rnd() % 3 == 0)
		p = udp(a, ports[pa], b, ports[pb], 0);
	else
		p = tcp(a, ports[pa], b, ports[pb], flagset[rnd() % sizeof flagset], 0);
	p.src_ip[1] = (uint8_t)(rnd() % 4);
	p.vlan_id = (uint16_t)(rnd() % 8 == 0 ? 7 : 0);
	p.payload_len = p.payload_wire_len = (uint32_t)(rnd() % 3 == 0 ? rnd() % 1400 : 0);
	/* Mostly small steps, sometimes a jump past every timeout, sometimes
	 * an older timestamp. */
	uint64_t r = rnd() % 1000;
	if (r == 0)
		*ts += 100 * S;
	else if (r < 10 && *ts > S)
		p.ts_us = *ts - S;
	else
		*ts += rnd() % step;
	if (!p.ts_us)
		p.ts_us = *ts;
	return p;
}

static void test_flow_id_determinism(void)
{
	struct flow_table t1, t2;
	struct end_log l1, l2;
	table(&t1, &l1, 64, 1);
	table(&t2, &l2, 64, 0xdeadbeef);
	CHECK(t1.seed != t2.seed);
	rng_state = 42;
	uint64_t ts = 1000 * S;
	unsigned zero = 0, big = 0, differ = 0;
	for (int i = 0; i < 5000; i++) {
		struct packet p = random_packet(&ts, 40, 20000);
		enum flow_dir d1, d2;
		bool c1, c2;
		struct flow *f1 = flow_packet(&t1, &p, 100, &d1, &c1);
		struct flow *f2 = flow_packet(&t2, &p, 100, &d2, &c2);
		zero += f1->flow_id == 0;
		big += f1->flow_id >> 51 != 0;
		differ += f1->flow_id != f2->flow_id || d1 != d2 || c1 != c2 ||
		          f1->state != f2->state || f1->orient != f2->orient;
	}
	flow_flush(&t1);
	flow_flush(&t2);
	CHECK_EQ_U(zero, 0);
	CHECK_EQ_U(big, 0);
	CHECK_EQ_U(differ, 0);
	CHECK_EQ_U(l1.n, l2.n);
	unsigned ended_differ = 0;
	for (unsigned i = 0; i < LOG_MAX && i < l1.n; i++)
		ended_differ += l1.last[i].flow_id != l2.last[i].flow_id ||
		                l1.last[i].end_reason != l2.last[i].end_reason;
	CHECK_EQ_U(ended_differ, 0);
	for (int i = 0; i < FLOW_END__COUNT; i++)
		CHECK_EQ_U(t1.stats.ended[i], t2.stats.ended[i]);
	CHECK(t1.stats.ended[FLOW_END_EVICTED] > 0);
	CHECK(t1.stats.ended[FLOW_END_TIMEOUT] > 0);
	flow_table_free(&t1);
	flow_table_free(&t2);

	/* Two flows of the same key at different times get different ids. */
	struct flow_table t3;
	struct end_log l3;
	table(&t3, &l3, 4, 0);
	enum flow_dir d;
	bool c;
	struct packet p = udp(1, 1, 2, 2, 1 * S);
	uint64_t a = flow_packet(&t3, &p, 1, &d, &c)->flow_id;
	flow_flush(&t3);
	uint64_t b = flow_packet(&t3, &p, 1, &d, &c)->flow_id;
	CHECK(a != b);
	flow_flush(&t3);
	flow_table_free(&t3);
}

struct stress_ctx {
	uint64_t ended;
	uint64_t bad;
};

static void stress_end(void *ctx, struct flow *f)
{
	struct stress_ctx *s = ctx;
	s->ended++;
	if (f->end_reason == FLOW_END_NONE || f->end_reason >= FLOW_END__COUNT ||
	    f->last_ts_us < f->first_ts_us || f->pkts[0] + f->pkts[1] == 0)
		s->bad++;
}

static void test_stress(void)
{
	struct flow_config cfg;
	flow_config_defaults(&cfg);
	cfg.max_flows = 1000;
	cfg.seed = 99;
	cfg.tcp_new_timeout_us = 2 * S;
	cfg.tcp_closed_timeout_us = 1 * S;
	cfg.udp_timeout_us = 5 * S;
	cfg.tcp_closing_timeout_us = 10 * S;
	cfg.tcp_established_timeout_us = 30 * S;
	struct flow_table ft;
	struct stress_ctx sc = {0, 0};
	char err[200];
	CHECK(flow_table_init(&ft, &cfg, stress_end, &sc, err, sizeof err) == 0);
	rng_state = 0x1234567;
	uint64_t ts = 1 * S;
	unsigned mismatched = 0, broken = 0;
	/* Half the packets repeat a recent conversation (either direction, new
	 * flags) so that flows live, close, time out and get reused. */
	struct packet recent[256];
	unsigned nrecent = 0;
	for (int i = 0; i < 100000; i++) {
		struct packet p = random_packet(&ts, 250, 4000);
		if (nrecent && rnd() % 2) {
			struct packet q = recent[rnd() % nrecent];
			if (rnd() % 2) {
				uint8_t tip[16];
				memcpy(tip, q.src_ip, 16);
				memcpy(q.src_ip, q.dst_ip, 16);
				memcpy(q.dst_ip, tip, 16);
				uint16_t tp = q.src_port;
				q.src_port = q.dst_port;
				q.dst_port = tp;
			}
			q.tcp_flags = p.tcp_flags;
			q.ts_us = p.ts_us;
			q.payload_len = q.payload_wire_len = p.payload_len;
			p = q;
		} else {
			recent[nrecent < 256 ? nrecent++ : rnd() % 256] = p;
		}
		enum flow_dir dir;
		bool created;
		uint64_t before = ft.stats.created;
		struct flow *f = flow_packet(&ft, &p, 64, &dir, &created);
		/* The flow returned is the packet's, in the direction returned. */
		const uint8_t *sip = dir == DIR_TO_SERVER ? f->cli_ip : f->srv_ip;
		uint16_t sport = dir == DIR_TO_SERVER ? f->cli_port : f->srv_port;
		const uint8_t *dip = dir == DIR_TO_SERVER ? f->srv_ip : f->cli_ip;
		uint16_t dport = dir == DIR_TO_SERVER ? f->srv_port : f->cli_port;
		if (memcmp(sip, p.src_ip, 16) || memcmp(dip, p.dst_ip, 16) || sport != p.src_port ||
		    dport != p.dst_port || f->proto != p.l4_proto || f->vlan_id != p.vlan_id ||
		    created != (ft.stats.created == before + 1) || f->end_reason != FLOW_END_NONE ||
		    f->last_ts_us != ft.now_us)
			mismatched++;
		uint64_t ended = 0;
		for (int k = 0; k < FLOW_END__COUNT; k++)
			ended += ft.stats.ended[k];
		if (ft.stats.created != ended + ft.stats.active || ft.stats.active > 1000 ||
		    ended != sc.ended)
			broken++;
		if (i % 5000 == 0)
			check_table(&ft);
	}
	check_table(&ft);
	if (getenv("FLOW_STRESS_VERBOSE"))
		fprintf(stderr, "created %" PRIu64 " evicted %" PRIu64 " timeout %" PRIu64
		        " fin %" PRIu64 " rst %" PRIu64 " reused %" PRIu64 "\n", ft.stats.created,
		        ft.stats.ended[FLOW_END_EVICTED], ft.stats.ended[FLOW_END_TIMEOUT],
		        ft.stats.ended[FLOW_END_FIN], ft.stats.ended[FLOW_END_RST], ft.stats.reused);
	CHECK_EQ_U(mismatched, 0);
	CHECK_EQ_U(broken, 0);
	CHECK_EQ_U(sc.bad, 0);
	CHECK(ft.stats.ended[FLOW_END_EVICTED] > 0);
	CHECK(ft.stats.ended[FLOW_END_TIMEOUT] > 0);
	CHECK(ft.stats.ended[FLOW_END_FIN] + ft.stats.ended[FLOW_END_RST] > 0);
	CHECK(ft.stats.reused > 0);
	CHECK_EQ_U(ft.stats.peak_active, 1000);
	flow_flush(&ft);
	check_table(&ft);
	CHECK_EQ_U(ft.stats.active, 0);
	CHECK_EQ_U(sc.ended, ft.stats.created);
	flow_table_free(&ft);
}

/* The buckets' overflow (flow.c): flows whose home bucket is full live in
 * the buckets after it, across the end of the array back to its start,
 * and are found, ended and replaced there. */
static void test_buckets(void)
{
	struct flow_table ft;
	struct end_log log;
	table(&ft, &log, 80, 7); /* 10 buckets of 12 slots */
	CHECK_EQ_U(ft.nbuckets, 10);
	uint32_t last = ft.nbuckets - 1;
	/* 30 UDP flows whose home is the last bucket, and 3 whose home is the
	 * first: 12 fill the last bucket, 12 the first (past the end), the
	 * rest go on to the second */
	struct packet home_last[30], home_first[3];
	unsigned nl = 0, nf = 0;
	for (uint16_t port = 1000; nl < 30 || nf < 3; port++) {
		if (port >= 60000) {
			CHECK(!"30 ports aimed at the last bucket, 3 at the first");
			break;
		}
		struct packet p = udp(1, port, 2, 53, 1 * S);
		uint32_t hb = flow_home_bucket(&ft, &p);
		if (hb == last && nl < 30)
			home_last[nl++] = p;
		else if (hb == 0 && nf < 3)
			home_first[nf++] = p;
	}
	enum flow_dir dir;
	bool created;
	struct flow *fl[30];
	for (unsigned i = 0; i < 30; i++) {
		fl[i] = feed(&ft, &home_last[i], &dir, &created);
		CHECK(created);
	}
	char err[200];
	CHECK_EQ_U(flow_table_check(&ft, err, sizeof err), 18);
	/* every one is found again, wherever it lives */
	for (unsigned i = 0; i < 30; i++) {
		struct packet p = home_last[i];
		p.ts_us = 2 * S;
		struct flow *f = feed(&ft, &p, &dir, &created);
		CHECK(!created);
		CHECK(f == fl[i]);
		CHECK_EQ_U(f->pkts[DIR_TO_SERVER], 2);
	}
	/* the first bucket is full of others: its own flows go past it */
	for (unsigned i = 0; i < 3; i++) {
		home_first[i].ts_us = 3 * S;
		feed(&ft, &home_first[i], &dir, &created);
		CHECK(created);
	}
	CHECK_EQ_U(flow_table_check(&ft, err, sizeof err), 21);
	/* The 30 time out (10 s UDP timeout, their last packet at 2 s); the 3
	 * stay, are found past the emptied buckets, and the overflow counts
	 * go back down. */
	struct packet later[3];
	for (unsigned i = 0; i < 3; i++) {
		later[i] = home_first[i];
		later[i].ts_us = 12 * S;
		feed(&ft, &later[i], &dir, &created);
		CHECK(!created);
	}
	CHECK_EQ_U(log.reason[FLOW_END_TIMEOUT], 30);
	CHECK_EQ_U(ft.stats.active, 3);
	CHECK_EQ_U(flow_table_check(&ft, err, sizeof err), 3);
	/* new flows of the last bucket take its freed slots */
	for (unsigned i = 0; i < 12; i++) {
		home_last[i].ts_us = 13 * S;
		feed(&ft, &home_last[i], &dir, &created);
		CHECK(created);
	}
	CHECK_EQ_U(flow_table_check(&ft, err, sizeof err), 3);
	flow_flush(&ft);
	CHECK_EQ_U(flow_table_check(&ft, err, sizeof err), 0);
	flow_table_free(&ft);
}

int main(void)
{
	test_names_and_config();
	test_orientation();
	test_handshake_and_counters();
	test_keys();
	test_timeouts();
	test_fin_rst_reuse();
	test_recent();
	test_eviction();
	test_flush_order();
	test_flow_id_determinism();
	test_stress();
	test_buckets();
	return check_done();
}
