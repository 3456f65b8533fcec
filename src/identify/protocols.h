/*
 * protocols.h - the identifiers, one per file (proto_NAME.c).
 */
#ifndef OFFPORT_IDENTIFY_PROTOCOLS_H
#define OFFPORT_IDENTIFY_PROTOCOLS_H

#include "identify/identify.h"

extern const struct ident_proto ident_tls, ident_dtls, ident_quic, ident_ssh, ident_http2,
    ident_http, ident_rdp, ident_smb, ident_socks4, ident_socks5, ident_rfb, ident_mqtt,
    ident_redis, ident_openvpn, ident_smtp, ident_pop3, ident_imap, ident_ftp, ident_irc,
    ident_xmpp, ident_ldap, ident_sip, ident_ntp, ident_dns,
    ident_rtp, ident_rtcp, /* helper R */
    /* network services */
    ident_snmp, ident_syslog, ident_dhcp, ident_stun, ident_wireguard, ident_tftp,
    ident_kerberos, ident_ike, ident_netbios,
    ident_slp, ident_ssdp, ident_radius, ident_dnscrypt, ident_dhcpv6, ident_ipmi,
    ident_l2tp,
    ident_websocket, ident_grpc, /* helper F: passengers of http, http2 */
    /* databases, brokers, developer services */
    ident_mysql, ident_postgresql, ident_tds, ident_mongodb, ident_zookeeper, ident_kafka,
    ident_amqp, ident_git, ident_nats, ident_rtsp, ident_memcached, ident_telnet,
    /* industrial, RPC, peer to peer, messaging */
    ident_modbus, ident_dnp3, ident_s7comm, ident_bacnet, ident_coap, ident_pptp,
    ident_sunrpc, ident_dcerpc, ident_bittorrent, ident_whatsapp,
    ident_bgp, ident_zabbix, ident_bitcoin, ident_stratum, ident_tor,
    ident_gnutella; /* helper E */

/* TLS record framing without a parsable handshake ("fake TLS"): true when
 * the client's bytes start like a TLS handshake record (content type 22,
 * version 3.x) but are not a ClientHello that parses. proto_tls.c. */
bool ident_tls_fake(const struct ident_input *in);

/* JA4 (FoxIO) from a ClientHello's lists, GREASE already left out: writes
 * the 36-character fingerprint and a NUL to out, returns 36. proto_tls.c. */
size_t ident_ja4_build(bool sni, uint16_t version, const uint16_t *suites, unsigned n_suites,
                       const uint16_t *exts, unsigned n_exts, const uint16_t *sigs,
                       unsigned n_sigs, const uint8_t *alpn0, size_t alpn0_len, char out[37]);

#endif
