/*
 * identify.c - the registry of identifiers and the run over it.
 */
#include "identify/identify.h"

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

bool ident_dgram(const struct ident_input *in, int d, unsigned k, struct reader *out)
{
	if (k >= in->ndgrams[d] || k >= IDENT_DGRAMS_MAX)
		return false;
	size_t off = 0;
	for (unsigned i = 0; i < k; i++)
		off += in->dgram_len[d][i];
	if (off >= in->len[d])
		return false;
	size_t n = in->dgram_len[d][k];
	if (n > in->len[d] - off)
		n = in->len[d] - off;
	struct reader r;
	rd_init(&r, in->data[d], in->len[d]);
	rd_skip(&r, off);
	*out = rd_sub(&r, n);
	return true;
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
	struct ident_evidence ev;
	bool need_more = false;
	int client_only = -1;
	out->verdict = IDENT_NO_MATCH;
	out->proto = -1;
	ident_clear(&out->ev);
	for (unsigned i = 0; i < ident_count; i++) {
		const struct ident_proto *p = ident_registry[i];
		if (!(p->transports & in->transport))
			continue;
		ident_clear(&ev);
		enum ident_verdict v = p->match(in, &ev);
		if (v == IDENT_NEED_MORE) {
			need_more = true;
		} else if (v == IDENT_MATCH) {
			if (ev.server_confirmed) {
				out->verdict = IDENT_MATCH;
				out->proto = (int)i;
				out->ev = ev;
				return;
			}
			if (client_only < 0) {
				client_only = (int)i;
				out->ev = ev;
			}
		}
	}
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
