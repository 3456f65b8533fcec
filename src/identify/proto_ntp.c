/*
 * proto_ntp.c - NTP (RFC 5905 NTPv4, RFC 1305 NTPv3, RFC 7822 extension
 * fields; mode 6 control messages as in RFC 1305 appendix B / RFC 9327).
 *
 * Modes 1-5, one datagram:
 *
 *    0                   1                   2                   3
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |LI | VN  |Mode |    Stratum    |     Poll      |   Precision   |
 *   +---------------+---------------+---------------+---------------+
 *   | Root Delay (16.16)          (< 256 s: top byte 0)             |
 *   | Root Dispersion (16.16)     (< 256 s: top byte 0)             |
 *   | Reference ID                                                  |
 *   | Reference Timestamp (64)                                      |  16
 *   | Origin Timestamp (64)       (a response: the client's T3)     |  24
 *   | Receive Timestamp (64)                                        |  32
 *   | Transmit Timestamp (64)                                       |  40
 *   +---------------------------------------------------------------+  48
 *   | extension fields (type 16, length 16 >= 16, multiple of 4)... |
 *   | MAC: key id (32) + digest (DES 8 / MD5 16 / SHA1 20), or a    |
 *   | 4-byte crypto-NAK                                             |
 *   +---------------------------------------------------------------+
 *
 *   VN 1-4; stratum 0-16; poll 0-17; precision -32..0 (a client: -32..32).
 *
 * Mode 7 (ntpd private, ntpdc; monlist):
 *   |R|M| VN  |  7  |A|  Sequence   | Implementation| Request code  |
 *   | Err | Number of items (12)    | MBZ |  Item size (12)         |
 *   |   data: items x size (response), 40-byte area (request) [+MAC] |
 *
 * Mode 6 (control):
 *   |LI | VN  |  6  |R|E|M| Opcode  |   Sequence (16)               |
 *   |   Status (16)                 |   Association ID (16)         |
 *   |   Offset (16)                 |   Count (16) <= 468           |
 *   |   data (Count bytes, padded to 4) [+ MAC]                     |
 *
 * NTP has no magic number, so every field with a range is checked and the
 * datagram length must be one the format allows; random datagrams then
 * almost never pass. When both sides are there, a mode 4 answer echoes the
 * client's transmit timestamp in its origin timestamp.
 */
#include "common/reader.h"
#include "identify/identify.h"

#define NTP_HDR 48

struct ntp_pkt {
	uint8_t version;
	uint8_t mode;
	uint64_t origin;
	uint64_t transmit;
};

static uint64_t ntp_ts(struct reader *r)
{
	uint64_t hi = rd_be32(r);
	return hi << 32 | rd_be32(r);
}

/* After the 48-byte header: extension fields, then nothing, a crypto-NAK
 * or a MAC. */
static bool ntp_tail_ok(struct reader *r, uint8_t version)
{
	size_t rest = rd_remaining(r);
	if (version == 4) {
		while (rd_remaining(r) > 24) {
			(void)rd_be16(r);
			uint16_t flen = rd_be16(r);
			if (flen < 16 || flen % 4 || !rd_has(r, (size_t)flen - 4))
				return false;
			rd_skip(r, (size_t)flen - 4);
		}
		rest = rd_remaining(r);
	}
	return rest == 0 || rest == 4 || rest == 12 || rest == 20 || rest == 24;
}

/* Modes 1-5: returns true when the datagram in r is one. */
static bool ntp_parse_std(struct reader *r, struct ntp_pkt *p)
{
	uint8_t b0 = rd_u8(r);
	uint8_t stratum = rd_u8(r);
	int8_t poll = (int8_t)rd_u8(r);
	int8_t prec = (int8_t)rd_u8(r);
	uint32_t rdelay = rd_be32(r), rdisp = rd_be32(r);
	(void)rd_be32(r); /* reference id */
	(void)ntp_ts(r);  /* reference timestamp */
	p->origin = ntp_ts(r);
	(void)ntp_ts(r); /* receive timestamp */
	p->transmit = ntp_ts(r);
	if (!rd_ok(r))
		return false;
	p->version = b0 >> 3 & 7;
	p->mode = b0 & 7;
	if (p->version < 1 || p->version > 4 || p->mode < 1 || p->mode > 5)
		return false;
	/* chrony 4.3's client requests carry precision 0x20 (+32; seen on
	 * loopback): a client's precision may be any of -32..32. */
	if (stratum > 16 || poll < 0 || poll > 17 || prec < -32 || prec > (p->mode == 3 ? 32 : 0))
		return false;
	if (rdelay >> 24 || rdisp >> 24)
		return false;
	return ntp_tail_ok(r, p->version);
}

/* Mode 6 control message. */
static bool ntp_parse_ctl(struct reader *r, struct ntp_pkt *p)
{
	uint8_t b0 = rd_u8(r), b1 = rd_u8(r);
	(void)rd_be16(r); /* sequence */
	(void)rd_be16(r); /* status */
	(void)rd_be16(r); /* association id */
	uint16_t off = rd_be16(r), count = rd_be16(r);
	if (!rd_ok(r))
		return false;
	p->version = b0 >> 3 & 7;
	p->mode = b0 & 7;
	p->origin = p->transmit = 0;
	if (p->mode != 6 || p->version < 2 || p->version > 4 || (b0 & 0xc0))
		return false;
	uint8_t opcode = b1 & 0x1f;
	if (opcode < 1 || opcode > 31 || count > 468 || off > 0x8000)
		return false;
	/* A request (R = 0) has neither the error nor the more bit. */
	if (!(b1 & 0x80) && (b1 & 0x60))
		return false;
	size_t padded = ((size_t)count + 3) & ~(size_t)3;
	size_t rest = rd_remaining(r);
	if (rest < count)
		return false;
	if (rest < padded) /* the last word's padding left out */
		return rest == count;
	rest -= padded; /* then nothing, or a MAC: key id + DES / MD5 / SHA1 */
	return rest == 0 || rest == 12 || rest == 20 || rest == 24;
}

/* Mode 7 (ntpd's private "ntpdc" messages, e.g. the monlist that NTP
 * amplification abuses): an 8-byte header, then nitems * itemsize bytes;
 * a request carries a 40-byte data area (or nothing) and maybe a MAC. */
static bool ntp_parse_priv(struct reader *r, struct ntp_pkt *p)
{
	uint8_t b0 = rd_u8(r);
	(void)rd_u8(r); /* auth bit, sequence */
	uint8_t impl = rd_u8(r), req = rd_u8(r);
	uint16_t en = rd_be16(r), ms = rd_be16(r);
	if (!rd_ok(r))
		return false;
	p->version = b0 >> 3 & 7;
	p->mode = 7;
	p->origin = p->transmit = 0;
	uint8_t err = (uint8_t)(en >> 12);
	size_t nitems = en & 0xfff, isize = ms & 0xfff;
	if (p->version < 1 || p->version > 4 || (impl != 0 && impl != 2 && impl != 3) || req > 63)
		return false;
	if ((err > 5 && err != 7) || (ms & 0xf000) || nitems > 500 || isize > 500 ||
	    nitems * isize > 500)
		return false;
	size_t rest = rd_remaining(r);
	if (b0 & 0x80) /* a response: exactly its items */
		return rest == nitems * isize && !(b0 & 0x40 && nitems == 0);
	return (b0 & 0x40) == 0 && err == 0 && rest >= nitems * isize && rest <= 40 + 24 &&
	       (rest == 0 || rest >= 40);
}

static bool ntp_parse(struct reader *r, struct ntp_pkt *p)
{
	uint8_t b0;
	if (!rd_peek_u8(r, 0, &b0))
		return false;
	if ((b0 & 7) == 6)
		return ntp_parse_ctl(r, p);
	if ((b0 & 7) == 7)
		return ntp_parse_priv(r, p);
	return ntp_parse_std(r, p);
}

/* Datagram k of direction d. */
static struct reader ntp_dgram(const struct ident_input *in, int d, unsigned k)
{
	struct reader r;
	rd_init(&r, in->data[d], in->len[d]);
	for (unsigned i = 0; i < k; i++)
		rd_skip(&r, in->dgram_len[d][i]);
	return rd_sub(&r, in->dgram_len[d][k]);
}

#define NTP_CHECK_MAX 4

/* All the first datagrams of a direction must be NTP. 1: yes (p = the
 * first), 0: none there, -1: not NTP. */
static int ntp_dir(const struct ident_input *in, int d, struct ntp_pkt *p)
{
	unsigned n = in->ndgrams[d];
	if (n == 0)
		return 0;
	for (unsigned k = 0; k < n && k < NTP_CHECK_MAX; k++) {
		struct ntp_pkt q;
		struct reader r = ntp_dgram(in, d, k);
		if (!ntp_parse(&r, k == 0 ? p : &q))
			return -1;
	}
	return 1;
}

/* ntp_parse false, told from the first bytes: the version, the mode and
 * the length each mode needs, and the first range checks of each. */
static bool ntp_quick_bad(const struct reader *r)
{
	uint8_t b0, b1, b2;
	if (!rd_peek_u8(r, 0, &b0))
		return true;
	uint8_t version = b0 >> 3 & 7, mode = b0 & 7;
	if (version < 1 || version > 4 || mode == 0)
		return true;
	if (mode == 6)
		return !rd_has(r, 12) || version < 2 || (b0 & 0xc0);
	if (!rd_has(r, mode == 7 ? 8 : NTP_HDR))
		return true;
	(void)rd_peek_u8(r, 1, &b1);
	(void)rd_peek_u8(r, 2, &b2);
	if (mode == 7)
		return b2 != 0 && b2 != 2 && b2 != 3; /* implementation */
	return b1 > 16 || b2 > 17;            /* stratum, poll */
}

/* ntp_match past its cheap NO_MATCH tests. Out of line: the tests run
 * without this function's frame. */
__attribute__((noinline)) static enum ident_verdict
ntp_match_parse(const struct ident_input *in, struct ident_evidence *ev)
{
	struct ntp_pkt c = {0}, s = {0};
	int hc = ntp_dir(in, 0, &c);
	int hs = ntp_dir(in, 1, &s);
	if (hc < 0 || hs < 0)
		return IDENT_NO_MATCH;
	if (hc == 0 && hs == 0)
		return in->done[0] && in->done[1] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
	if (hc > 0 && hs > 0) {
		/* Client/server, symmetric peers, or control request/response. */
		bool pair = (c.mode == 3 && s.mode == 4) || (c.mode == 1 && (s.mode == 2 || s.mode == 1)) ||
		            (c.mode == 6 && s.mode == 6) || (c.mode == 7 && s.mode == 7);
		if (!pair)
			return IDENT_NO_MATCH;
		bool echo = c.mode < 6 && s.origin == c.transmit && c.transmit != 0;
		ev->server_confirmed = true;
		ev->confidence = echo || c.mode >= 6 ? 95 : 80;
	} else if (hc > 0) {
		/* Broadcast (mode 5) expects no answer; a request does. */
		if (c.mode != 5 && !in->done[1])
			return IDENT_NEED_MORE;
		ev->confidence = 60;
	} else {
		if (!in->done[0])
			return IDENT_NEED_MORE;
		c = s; /* only the server's side was seen */
		ev->confidence = 55;
	}
	ident_add_u64(ev, "ntp_version", c.version);
	ident_add_u64(ev, "ntp_mode", c.mode);
	return IDENT_MATCH;
}

static enum ident_verdict ntp_match(const struct ident_input *in, struct ident_evidence *ev)
{
	/* The usual NO_MATCH of ntp_match_parse (ntp_dir -1 on either side)
	 * from a first datagram's first bytes, before the parses. */
	for (int d = 0; d < 2; d++) {
		if (!in->ndgrams[d])
			continue;
		struct reader r = ntp_dgram(in, d, 0);
		if (ntp_quick_bad(&r))
			return IDENT_NO_MATCH;
	}
	return ntp_match_parse(in, ev);
}

/* The first bytes (identify.h, first_byte), of direction d.
 * The client's: ntp_quick_bad on the client's first datagram: version
 * 1-4, a mode, and a control message (6) without the leap bits.
 * The server's: the same (ntp_match checks both sides' first datagrams
 * alike). */
static bool ntp_first_byte(int d, uint8_t transport, uint8_t b)
{
	(void)d;
	(void)transport;
	uint8_t version = b >> 3 & 7, mode = b & 7;
	return version >= 1 && version <= 4 && mode != 0 && !(mode == 6 && (b & 0xc0));
}

const struct ident_proto ident_ntp = {"ntp", "NTP (RFC 5905, RFC 1305)", IDENT_UDP, ntp_match, NULL, ntp_first_byte};
