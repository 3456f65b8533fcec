/*
 * identify.c - the registry of identifiers and the run over it.
 */
#include "identify/identify.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "common/reader.h"
#include "identify/protocols.h"

/* Most specific first: among identifiers that match equally well, the
 * earlier wins. The cross test (tests/identify) checks that no identifier
 * matches another protocol's samples, so the order only breaks ties that
 * the samples do not show. */
const struct ident_proto *const ident_registry[] = {
	&ident_tor, /* helper E: before its carrier tls, NO_MATCH without Tor's traits */
	&ident_tls,   &ident_dtls,    &ident_quic,  &ident_ssh,
	&ident_websocket, /* before http: a confirmed upgrade is websocket's */
	&ident_grpc, /* before http2: a gRPC request is grpc's */
	&ident_http2, &ident_http,
	&ident_rdp,   &ident_smb,     &ident_socks4, &ident_socks5, &ident_rfb,  &ident_mqtt,
	&ident_redis, &ident_openvpn, &ident_smtp,  &ident_pop3,  &ident_imap,  &ident_ftp,
	&ident_irc,   &ident_xmpp,    &ident_ldap,  &ident_sip,   &ident_ntp,
	/* before dns: these carry bytes a lenient DNS parse could accept */
	&ident_snmp, &ident_syslog, &ident_dhcp, &ident_stun, &ident_wireguard, &ident_tftp,
	&ident_kerberos, &ident_ike, &ident_netbios,
	&ident_slp, &ident_ssdp, &ident_radius, &ident_dnscrypt, &ident_dhcpv6, &ident_ipmi,
	&ident_l2tp,
	&ident_dns,
	&ident_rtcp, &ident_rtp, /* helper R: RTP media, RTCP control (RFC 3550) */
	&ident_mysql, &ident_postgresql, &ident_tds, &ident_mongodb,
	&ident_zookeeper, /* before kafka: both frame with a 4-byte length */
	&ident_kafka, &ident_amqp, &ident_git, &ident_nats, &ident_rtsp, &ident_memcached,
	&ident_telnet,
	&ident_modbus, &ident_dnp3, &ident_s7comm, &ident_bacnet, &ident_coap, &ident_pptp,
	&ident_sunrpc, &ident_dcerpc, &ident_bittorrent, &ident_whatsapp,
	&ident_bgp, &ident_zabbix, &ident_bitcoin, &ident_stratum, &ident_gnutella, /* helper E */
};
const unsigned ident_count = sizeof ident_registry / sizeof ident_registry[0];
_Static_assert(sizeof ident_registry / sizeof ident_registry[0] <= IDENT_SET_WORDS * 64,
               "struct ident_set is too small for the registry");

int ident_find(const char *name)
{
	for (unsigned i = 0; i < ident_count; i++)
		if (strcmp(ident_registry[i]->name, name) == 0)
			return (int)i;
	return -1;
}

void ident_clear(struct ident_evidence *ev)
{
	ev->nfields = 0;
	ev->confidence = 0;
	ev->server_confirmed = false;
	ev->tls_upgrade = false;
	ev->finish = NULL;
}

void ident_finish(const struct ident_input *in, struct ident_evidence *ev)
{
	if (ev->finish) {
		ev->finish(in, ev);
		ev->finish = NULL;
	}
}

void ident_add(struct ident_evidence *ev, const char *key, const uint8_t *value, size_t len)
{
	if (ev->nfields >= IDENT_FIELDS_MAX)
		return;
	struct ident_field *f = &ev->field[ev->nfields++];
	f->key = key;
	if (len > IDENT_VALUE_MAX)
		len = IDENT_VALUE_MAX;
	f->len = (uint16_t)len;
	if (len)
		memcpy(f->value, value, len);
}

void ident_add_str(struct ident_evidence *ev, const char *key, const char *value)
{
	ident_add(ev, key, (const uint8_t *)value, strlen(value));
}

void ident_add_u64(struct ident_evidence *ev, const char *key, uint64_t v)
{
	char b[24];
	int n = snprintf(b, sizeof b, "%llu", (unsigned long long)v);
	ident_add(ev, key, (const uint8_t *)b, (size_t)n);
}

/* The datagram of n bytes at off (off below the bytes kept), cut to what
 * was kept. */
static struct reader dgram_reader(const struct ident_input *in, int d, size_t off, size_t n)
{
	if (n > in->len[d] - off)
		n = in->len[d] - off;
	struct reader r;
	rd_init(&r, in->data[d], in->len[d]);
	rd_skip(&r, off);
	return rd_sub(&r, n);
}

bool ident_dgram(const struct ident_input *in, int d, unsigned k, struct reader *out)
{
	if (k >= in->ndgrams[d] || k >= IDENT_DGRAMS_MAX)
		return false;
	size_t off = 0;
	for (unsigned i = 0; i < k; i++)
		off += in->dgram_len[d][i];
	if (off >= in->len[d])
		return false;
	*out = dgram_reader(in, d, off, in->dgram_len[d][k]);
	return true;
}

unsigned ident_dgrams(const struct ident_input *in, int d, struct reader *out)
{
	/* ident_dgram's tests in the same order, with the offset carried
	 * from one datagram to the next: it is false at k >= ndgrams, and
	 * once the offset reaches the bytes kept (offsets never decrease). */
	unsigned nd = in->ndgrams[d] < IDENT_DGRAMS_MAX ? in->ndgrams[d] : IDENT_DGRAMS_MAX;
	size_t off = 0;
	unsigned k = 0;
	for (; k < nd && off < in->len[d]; k++) {
		out[k] = dgram_reader(in, d, off, in->dgram_len[d][k]);
		off += in->dgram_len[d][k];
	}
	return k;
}

const struct ident_field *ident_get(const struct ident_evidence *ev, const char *key)
{
	for (unsigned i = 0; i < ev->nfields; i++)
		if (strcmp(ev->field[i].key, key) == 0)
			return &ev->field[i];
	return NULL;
}

void ident_run(const struct ident_input *in, struct ident_result *out)
{
	struct ident_set none = {{0}};
	ident_run_more(in, &none, out);
	if (out->verdict == IDENT_MATCH)
		ident_finish(in, &out->ev);
}

/* Per transport, the identifiers that support it (bit i: registry entry
 * i), made once: a run visits only the set bits of this minus the ruled
 * out, instead of testing all 72 entries. */
static struct ident_set by_transport[2];
/* Per direction, transport and first byte of that direction's first
 * message, those of by_transport whose first_byte declaration admits that
 * byte (all the ones that declare none). Where ident_first_byte holds,
 * the others answer NO_MATCH on the input (identify.h: what a declaration
 * promises), so a run rules them out without calling them. 16 KiB, made
 * once. */
static struct ident_set by_first[2][2][256];
/* The match functions by registry index, side by side: a run calls
 * through these 9 cache lines instead of loading each identifier's
 * descriptor (one line each, spread over the identifiers' files) and
 * then its function. Under a flood the tables push both out of the
 * caches between runs; the descriptor load was a stall per identifier. */
static ident_fn match_of[IDENT_SET_WORDS * 64];
static pthread_once_t by_transport_once = PTHREAD_ONCE_INIT;
/* Identifiers called by this thread's runs (ident_calls). */
static _Thread_local unsigned long calls;

static void make_by_transport(void)
{
	for (unsigned i = 0; i < ident_count; i++) {
		const struct ident_proto *p = ident_registry[i];
		match_of[i] = p->match;
		for (int t = 0; t < 2; t++) {
			if (!(p->transports & (t ? IDENT_UDP : IDENT_TCP)))
				continue;
			by_transport[t].w[i / 64] |= 1ull << (i % 64);
			for (int d = 0; d < 2; d++)
				for (unsigned b = 0; b < 256; b++)
					if (!p->first_byte ||
					    p->first_byte(d, t ? IDENT_UDP : IDENT_TCP, (uint8_t)b))
						by_first[d][t][b].w[i / 64] |= 1ull << (i % 64);
		}
	}
}

unsigned long ident_calls(void)
{
	return calls;
}

/* The first-byte sets a run on in is held to: by_first of each direction
 * whose first byte is known (ident_first_byte), by_transport for the
 * others (it admits all). */
static void first_sets(const struct ident_input *in, const struct ident_set *set[2])
{
	int t = in->transport == IDENT_UDP;
	for (int d = 0; d < 2; d++)
		set[d] = ident_first_byte(in, d) ? &by_first[d][t][in->data[d][0]] : &by_transport[t];
}

void ident_admitted(const struct ident_input *in, struct ident_set *out)
{
	pthread_once(&by_transport_once, make_by_transport);
	const struct ident_set *set[2];
	first_sets(in, set);
	for (unsigned w = 0; w < IDENT_SET_WORDS; w++)
		out->w[w] = set[0]->w[w] & set[1]->w[w];
}

void ident_run_more(const struct ident_input *in, struct ident_set *ruled_out,
                    struct ident_result *out)
{
	struct ident_evidence ev;
	bool need_more = false;
	int client_only = -1;
	unsigned long ncalls = 0;
	out->verdict = IDENT_NO_MATCH;
	out->proto = -1;
	ident_clear(&out->ev);
	pthread_once(&by_transport_once, make_by_transport);
	const struct ident_set *all = &by_transport[in->transport == IDENT_UDP];
	/* The prefilter: the identifiers whose declared first bytes exclude
	 * either side's would answer NO_MATCH (identify.h, first_byte); they
	 * join the ruled out as if they had. */
	const struct ident_set *set[2];
	first_sets(in, set);
	for (unsigned w = 0; w < IDENT_SET_WORDS; w++) {
		uint64_t cand = set[0]->w[w] & set[1]->w[w];
		/* The word's ruled-out bits are gathered in a local and stored
		 * once per word (and before the early return): through the
		 * pointer, the compiler had to write memory on every NO_MATCH,
		 * since an identifier called through a pointer might read it.
		 * None can: identifiers see only in and their evidence. */
		uint64_t ro = ruled_out->w[w] | (all->w[w] & ~cand);
		uint64_t left = cand & ~ro;
		while (left) {
			unsigned i = w * 64 + (unsigned)__builtin_ctzll(left);
			left &= left - 1;
			/* Evidence goes straight into out->ev until a client-only
			 * claim holds it (2 KiB not copied per match). */
			struct ident_evidence *e = client_only < 0 ? &out->ev : &ev;
			ident_clear(e);
			ncalls++;
			enum ident_verdict v = match_of[i](in, e);
			if (v == IDENT_NO_MATCH) {
				ro |= 1ull << (i % 64);
			} else if (v == IDENT_NEED_MORE) {
				need_more = true;
			} else if (v == IDENT_MATCH) {
				if (e->server_confirmed) {
					ruled_out->w[w] = ro;
					calls += ncalls;
					out->verdict = IDENT_MATCH;
					out->proto = (int)i;
					if (e != &out->ev)
						out->ev = *e;
					return;
				}
				if (client_only < 0)
					client_only = (int)i;
			}
		}
		ruled_out->w[w] = ro;
	}
	calls += ncalls;
	/* A claim resting on one side only waits while a confirmation by the
	 * server (or a better claim) may still come. */
	if (client_only >= 0 && !(need_more && !(in->done[0] && in->done[1]))) {
		out->verdict = IDENT_MATCH;
		out->proto = client_only;
		return;
	}
	ident_clear(&out->ev);
	out->verdict = need_more || client_only >= 0 ? IDENT_NEED_MORE : IDENT_NO_MATCH;
}
