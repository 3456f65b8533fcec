/*
 * decode.h - from a captured frame to the innermost TCP/UDP packet.
 *
 * decode_packet() walks link layer -> (802.1Q/QinQ, MPLS, PPPoE) -> IPv4/IPv6
 * (options, extension headers, fragments) -> tunnels (GRE, VXLAN, GENEVE,
 * IP-in-IP, IPv6-in-IPv4 ...) -> TCP/UDP, and fills a struct packet. It never
 * allocates and never exits: every frame ends in exactly one
 * enum decode_result, and every malformed frame in exactly one
 * enum decode_drop reason, each with a counter in struct decode_stats.
 *
 * The only memory it owns is the preallocated fragment reassembly table,
 * sized at decoder_init().
 */
#ifndef OFFPORT_DECODE_DECODE_H
#define OFFPORT_DECODE_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Link types are libpcap's DLT_ numbers (as pcap_datalink() returns them). */

/* Returns true and a short name ("ethernet", "linux-sll", ...) for a
 * supported link type; false (name = NULL) otherwise. */
bool decode_linktype_supported(int dlt, const char **name);

/* Comma-separated list of supported link type names, for messages. */
const char *decode_linktypes_help(void);

enum decode_result {
	DECODE_TCP,       /* pkt filled, l4_proto 6 */
	DECODE_UDP,       /* pkt filled, l4_proto 17 */
	DECODE_ICMP,      /* ICMP or ICMPv6: counted, not tracked as a flow */
	DECODE_IP_OTHER,  /* IP with another protocol (ESP, SCTP, OSPF, ...) */
	DECODE_NON_IP,    /* ARP, LLDP, STP, ... : not IP at all */
	DECODE_FRAG_HELD, /* a fragment kept for reassembly (no packet yet) */
	DECODE_MALFORMED, /* dropped; the reason is in decode_last_drop() */
	DECODE__COUNT
};

const char *decode_result_name(enum decode_result r);

/* Why a frame was dropped. Append new reasons before DROP__COUNT and give
 * them a name in decode.c; the names appear in the stats output. */
enum decode_drop {
	DROP_NONE = 0,
	DROP_LINK_TRUNCATED,     /* shorter than its link-layer header */
	DROP_LINK_BAD,           /* link header fields impossible */
	DROP_LINK_UNSUPPORTED,   /* PPI holding a link type offport does not decode */
	DROP_VLAN_TRUNCATED,
	DROP_VLAN_TOO_DEEP,      /* more stacked tags than the guard allows */
	DROP_MPLS_TRUNCATED,
	DROP_MPLS_TOO_DEEP,
	DROP_PPPOE_TRUNCATED,
	DROP_PPPOE_BAD,
	DROP_PPP_TRUNCATED,
	DROP_IPV4_TRUNCATED,     /* header or total length beyond the capture */
	DROP_IPV4_BAD_VERSION,
	DROP_IPV4_BAD_HLEN,
	DROP_IPV4_BAD_LEN,       /* total length < header length */
	DROP_IPV6_TRUNCATED,
	DROP_IPV6_BAD_VERSION,
	DROP_IPV6_BAD_EXT,       /* extension header chain malformed or too long */
	DROP_FRAG_BAD,           /* impossible offset/length, > 65535 bytes */
	DROP_FRAG_OVERLAP,       /* overlapping fragments that disagree */
	DROP_TCP_TRUNCATED,
	DROP_TCP_BAD_HLEN,
	DROP_UDP_TRUNCATED,
	DROP_UDP_BAD_LEN,
	DROP_GRE_TRUNCATED,
	DROP_GRE_BAD,
	DROP_TUNNEL_TOO_DEEP,    /* nesting beyond DECODE_MAX_DEPTH */
	DROP_FRAG_TRUNCATED,     /* a fragment the snap length cut: cannot be reassembled */
	DROP_FRAG_NO_CONTEXT,    /* no reassembly context free (all hold completed datagrams) */
	DROP__COUNT
};

const char *decode_drop_name(enum decode_drop d);

enum tunnel_type {
	TUNNEL_NONE = 0,
	TUNNEL_GRE,
	TUNNEL_ERSPAN,
	TUNNEL_VXLAN,
	TUNNEL_GENEVE,
	TUNNEL_IPIP,  /* IPv4 in IPv4 */
	TUNNEL_6IN4,  /* IPv6 in IPv4 */
	TUNNEL_4IN6,  /* IPv4 in IPv6 */
	TUNNEL_6IN6,  /* IPv6 in IPv6 */
	TUNNEL_GTPU,  /* GTP-U (mobile core), id = TEID */
	TUNNEL_CAPWAP, /* CAPWAP data (wireless controllers), 802.3 or 802.11 inside */
	TUNNEL__COUNT
};

const char *tunnel_type_name(enum tunnel_type t);

/* Maximum encapsulation layers (tunnels + VLAN/MPLS stacks count separately,
 * see decode.c) before a frame is dropped as DROP_TUNNEL_TOO_DEEP. */
#define DECODE_MAX_DEPTH 8

/* The innermost tunnel a packet arrived in (outer addresses of that layer). */
struct tunnel_info {
	uint8_t type;      /* enum tunnel_type */
	uint8_t depth;     /* number of tunnel layers removed, 0 = none */
	uint8_t outer_ipver; /* 4 or 6 */
	uint8_t id_valid;  /* 1 when id holds a GRE key / VNI / ERSPAN session */
	uint32_t id;
	uint8_t outer_src[16]; /* IPv4 in the first 4 bytes, rest zero */
	uint8_t outer_dst[16];
};

/* TCP flag bits as in the header. */
#define TCPF_FIN 0x01
#define TCPF_SYN 0x02
#define TCPF_RST 0x04
#define TCPF_PSH 0x08
#define TCPF_ACK 0x10
#define TCPF_URG 0x20
#define TCPF_ECE 0x40
#define TCPF_CWR 0x80

/* One decoded packet. Addresses are network byte order; an IPv4 address
 * occupies the first 4 bytes and the other 12 are zero. `payload` points
 * into the frame (or into the reassembly buffer, valid until the next
 * decode_packet call). */
struct packet {
	uint64_t ts_us;        /* capture timestamp, microseconds since epoch */
	uint8_t ip_version;    /* 4 or 6 (innermost) */
	uint8_t l4_proto;      /* IPPROTO_TCP / IPPROTO_UDP / ... */
	uint8_t tcp_flags;
	uint8_t reassembled;   /* 1 when built from IP fragments */
	uint16_t src_port, dst_port;
	uint16_t vlan_id;      /* innermost 802.1Q VID of the outermost frame, 0 = none */
	uint8_t vlan_depth;    /* number of 802.1Q tags seen */
	uint8_t mpls_depth;    /* number of MPLS labels seen */
	uint8_t src_ip[16], dst_ip[16];
	uint32_t seq, ack;     /* TCP only */
	uint16_t window;       /* TCP only */
	const uint8_t *payload;
	uint32_t payload_len;  /* captured payload bytes available at payload */
	uint32_t payload_wire_len; /* payload length per the IP/UDP header; >
	                             payload_len when the snap length cut it */
	uint32_t frame_bytes;  /* wire bytes of the frame, or for a reassembled
	                          datagram of all the frames its fragments came in */
	struct tunnel_info tunnel;
};

struct decode_config {
	uint32_t frag_max;        /* concurrent datagrams being reassembled */
	uint64_t frag_timeout_us; /* a datagram not completed in this time is dropped */
};

struct decode_stats {
	uint64_t result[DECODE__COUNT];
	uint64_t drop[DROP__COUNT];
	uint64_t tunnel[TUNNEL__COUNT];  /* packets decapsulated, per type */
	uint64_t vlan_tagged;            /* packets with at least one 802.1Q tag */
	uint64_t mpls;                   /* packets with an MPLS stack */
	uint64_t pppoe;                  /* PPPoE session packets */
	uint64_t frag_datagrams;         /* reassembly contexts opened */
	uint64_t frag_reassembled;       /* datagrams completed */
	uint64_t frag_timeout;           /* datagrams dropped incomplete on timeout */
	uint64_t frag_evicted;           /* datagrams dropped incomplete: table full */
	uint64_t frag_flushed;           /* datagrams incomplete at end of input */
	uint64_t snaplen_cut;            /* packets whose payload the snap length cut */
};

struct frag_table; /* private to decode */

struct decoder {
	struct decode_config cfg;
	struct decode_stats stats;
	enum decode_drop last_drop;
	bool layered_only; /* tests: no one-step decode (decode.c), every frame through the layers */
	struct frag_table *frags;
	size_t mem_bytes; /* allocated by decoder_init, for the memory bound */
};

/* Returns 0, or -1 with a message in err. */
int decoder_init(struct decoder *d, const struct decode_config *cfg, char *err, size_t errlen);
void decoder_free(struct decoder *d);

/* Decodes one frame. `caplen` bytes are at data; `wirelen` is the frame's
 * length on the wire. Counts the result (and drop reason) in d->stats. */
enum decode_result decode_packet(struct decoder *d, int dlt, const uint8_t *data, uint32_t caplen,
                                 uint32_t wirelen, uint64_t ts_us, struct packet *out);

/* Reason of the last DECODE_MALFORMED result. */
static inline enum decode_drop decode_last_drop(const struct decoder *d) { return d->last_drop; }

/* Drops incomplete datagrams older than the timeout (counted in frag_timeout).
 * decode_packet calls it itself from time to time; exposed for tests. */
void decode_expire(struct decoder *d, uint64_t now_us);

/* End of input: incomplete datagrams are counted in frag_flushed. */
void decode_flush(struct decoder *d);

#endif
