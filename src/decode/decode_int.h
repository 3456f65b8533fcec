/*
 * decode_int.h - private to src/decode: the state one decode_packet() call
 * carries down the layers, and the entry points the layer files share.
 *
 * Every layer function takes the reader positioned at the first byte of its
 * header and returns an enum decode_result. A malformed frame returns
 * dec_drop(s, reason), so the reason travels with the result and
 * decode_packet() counts exactly one of each.
 */
#ifndef OFFPORT_DECODE_DECODE_INT_H
#define OFFPORT_DECODE_DECODE_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "common/reader.h"
#include "decode/decode.h"

/* Guards, each counted separately from the tunnel depth:
 * - 802.1Q tags per Ethernet frame (QinQ is 2; 3 is seen in carrier
 *   networks; Suricata drops beyond 3);
 * - MPLS labels per stack (real stacks are 2-5 deep);
 * - IPv6 extension headers per chain (HBH, DST, RH, DST, FRAG, AH is 6);
 * - MPLS pseudowire Ethernet frames nested in one another (they are not a
 *   tunnel type, but without a bound they would recurse per 22 bytes). */
#define DECODE_MAX_VLAN 4
#define DECODE_MAX_MPLS 8
#define DECODE_MAX_EXT 10
#define DECODE_MAX_PW 4

struct dstate {
	struct decoder *d;
	struct packet *pkt;
	uint64_t ts_us;
	/* Bytes of the current window that were on the wire but not captured
	 * (the snap length cut them). Every length check compares a header's
	 * length with rd_remaining() + missing: beyond that the header lies
	 * (malformed); beyond rd_remaining() only, the capture was cut. */
	uint32_t missing;
	uint32_t frame_len;    /* the frame's wire length, for reassembly byte counts */
	unsigned tunnel_depth; /* tunnel layers removed so far */
	unsigned pw_depth;     /* MPLS pseudowire Ethernet frames entered */
	unsigned tunnel_mask;  /* bit per enum tunnel_type removed */
	bool saw_vlan, saw_mpls, saw_pppoe;
	enum decode_drop drop;
};

/* Big-endian fields of a header already bounds-checked as a whole (one
 * rd_bytes for its fixed part instead of a check per field). */
static inline uint16_t be16_at(const uint8_t *b) { return (uint16_t)(b[0] << 8 | b[1]); }
static inline uint32_t be32_at(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static inline enum decode_result dec_drop(struct dstate *s, enum decode_drop why)
{
	s->drop = why;
	return DECODE_MALFORMED;
}

/* A length field says the window holds `len` bytes: trim the window to
 * them (Ethernet padding) and note how many of them the capture lacks. */
static inline void dec_limit(struct dstate *s, struct reader *r, uint32_t len)
{
	size_t have = rd_remaining(r);
	if (len <= have) {
		rd_limit(r, len);
		s->missing = 0;
	} else {
		s->missing = (uint32_t)(len - have);
	}
}

/* link.c */
enum decode_result dec_link(struct dstate *s, int dlt, struct reader *r);
enum decode_result dec_ethernet(struct dstate *s, struct reader *r);
enum decode_result dec_ethertype(struct dstate *s, struct reader *r, uint16_t type);
/* IEEE 802.2 LLC with SNAP (AA AA 03, OUI, EtherType); anything else is
 * not IP. */
enum decode_result dec_llc(struct dstate *s, struct reader *r);
/* PPP with optional RFC 1662 ff 03 framing, then the protocol field. */
enum decode_result dec_ppp_hdlc(struct dstate *s, struct reader *r);

/* ip.c */
enum decode_result dec_ipv4(struct dstate *s, struct reader *r);
enum decode_result dec_ipv6(struct dstate *s, struct reader *r);
enum decode_result dec_ip_by_version(struct dstate *s, struct reader *r, enum decode_drop if_bad);

/* tunnel.c */
enum decode_result dec_gre(struct dstate *s, struct reader *r);
/* Whether dec_udp_tunnel would look into a datagram of these ports (its
 * one list of tunnel ports; the one-step decode in decode.c asks too). */
bool udp_tunnel_port(uint16_t src_port, uint16_t dst_port);
/* Decapsulates VXLAN/GENEVE by destination port; returns false (reader
 * untouched) when the datagram is not one, or its header does not validate,
 * so the caller reports it as ordinary UDP. */
bool dec_udp_tunnel(struct dstate *s, struct reader *r, uint16_t src_port, uint16_t dst_port,
                    enum decode_result *res);
/* Enters a tunnel layer: checks the depth guard, fills pkt->tunnel from the
 * carrying IP header (still in pkt->src_ip/dst_ip) and clears the L4 fields
 * so the inner packet starts clean. Returns false with s->drop set. */
bool dec_tunnel_enter(struct dstate *s, enum tunnel_type t, bool id_valid, uint32_t id);

/* frag.c */
struct frag_key {
	uint8_t ipver;
	uint8_t proto; /* IPv4 only; 0 for IPv6 (RFC 8200 keys on src, dst, id) */
	uint32_t id;
	uint8_t src[16], dst[16];
};

enum frag_outcome {
	FRAG_OUT_HELD,     /* stored, datagram incomplete */
	FRAG_OUT_COMPLETE, /* *datagram reads the whole reassembled payload */
	FRAG_OUT_DROP      /* s->drop set */
};

/* Adds one fragment: `data` reads exactly the fragment's bytes (already
 * checked fully captured), `offset` is in bytes, `nh` the protocol that
 * follows (IPv6: the Fragment header's Next Header; kept from offset 0).
 * On completion *datagram and *nh_out describe the reassembled payload. */
enum frag_outcome frag_add(struct dstate *s, const struct frag_key *key, uint32_t offset, bool more,
                           struct reader *data, uint8_t nh, struct reader *datagram, uint8_t *nh_out);

int frag_table_create(struct decoder *d, char *err, size_t errlen);
void frag_table_destroy(struct decoder *d);
/* Releases the contexts completed by the previous decode_packet call. */
void frag_release_completed(struct decoder *d);
/* Runs decode_expire when the capture clock has moved on far enough. */
void frag_maybe_expire(struct decoder *d, uint64_t now_us);

#endif
