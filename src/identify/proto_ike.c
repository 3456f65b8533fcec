/*
 * proto_ike.c - IKE: ISAKMP/IKEv1 (RFC 2408, RFC 2409) and IKEv2
 * (RFC 7296), with UDP encapsulation for NAT traversal (RFC 3948: on port
 * 4500 an IKE message follows a 4-byte non-ESP marker of zeros).
 *
 *    0                   1                   2                   3
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |  [00 00 00 00 non-ESP marker, NAT-T only]                     |
 *   |                  Initiator SPI (8, non-zero)                  |
 *   |                  Responder SPI (8, zero in the first message) |
 *   |  Next Payload | MjVer | MnVer | Exchange Type |     Flags     |
 *   |                          Message ID                           |
 *   |                  Length (= the datagram, minus the marker)    |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   | payloads: Next(8) Critical/Reserved(8) Length(16 >= 4) ...    |
 *
 *   version 0x10 (IKEv1: exchange 1-5, 32 quick mode, 33 new group) or 0x20
 *   (IKEv2: exchange 34 IKE_SA_INIT .. 37 INFORMATIONAL, 43 ...).
 *
 * The payload chain must fill the message exactly (unless IKEv1's
 * encryption flag hides it); the responder answers with the initiator's SPI.
 *
 * An initiator whose first datagram is not a well-formed message (seen:
 * an IKE_SA_INIT with flags 0xff, an IKE_AUTH whose first payload type is
 * 127) is still IKE when one of its next datagrams (up to the fourth) is,
 * and the responder's first answer is one for the same initiator SPI: the
 * answer is required then, the client's bytes alone do not decide.
 */
#include "common/reader.h"
#include "identify/identify.h"

struct ike_msg {
	uint8_t ispi[8];
	uint8_t version, exchange;
	bool rspi_zero;
};

static bool ike_parse(struct reader *m, size_t len, struct ike_msg *k)
{
	if (len >= 32) {
		struct reader t = *m;
		if (rd_be32(&t) == 0) { /* non-ESP marker */
			rd_skip(m, 4);
			len -= 4;
		}
	}
	uint8_t ispi[8], rspi[8];
	rd_copy(m, ispi, 8);
	rd_copy(m, rspi, 8);
	uint8_t np = rd_u8(m), ver = rd_u8(m), ex = rd_u8(m), flags = rd_u8(m);
	(void)rd_be32(m);
	uint32_t mlen = rd_be32(m);
	if (!rd_ok(m) || mlen != len)
		return false;
	bool nz = false;
	k->rspi_zero = true;
	for (int i = 0; i < 8; i++) {
		k->ispi[i] = ispi[i];
		nz |= ispi[i] != 0;
		k->rspi_zero &= rspi[i] == 0;
	}
	if (!nz)
		return false;
	k->version = ver;
	k->exchange = ex;
	if (ver == 0x10) {
		if (!((ex >= 1 && ex <= 5) || ex == 32 || ex == 33) || (flags & 0xf8))
			return false;
		if (np > 33 && np < 128)
			return false;
		if (flags & 1)
			return np != 0 || rd_remaining(m) == 0; /* encrypted: chain unseen */
	} else if (ver == 0x20) {
		if (ex < 34 || ex > 43 || (flags & 0xc7))
			return false;
		if (np != 0 && (np < 33 || np > 54))
			return false;
	} else {
		return false;
	}
	while (np != 0) {
		uint8_t cur = np;
		uint8_t next = rd_u8(m);
		(void)rd_u8(m);
		uint16_t plen = rd_be16(m);
		if (!rd_ok(m) || plen < 4)
			return false;
		rd_skip(m, (size_t)plen - 4);
		if (!rd_ok(m))
			return false;
		np = next;
		/* IKEv2 encrypted payload (SK, 46) or fragment (SKF, 53): it
		 * is the last one; its Next Payload names the first inner one */
		if (ver == 0x20 && (cur == 46 || cur == 53))
			break;
	}
	return rd_remaining(m) == 0;
}

/* An IKE header: version 1.0 or 2.0, a non-zero initiator SPI and the
 * length field naming the datagram (after a NAT-T marker). */
static bool ike_header_like(struct reader *m, size_t len)
{
	if (len >= 32) {
		struct reader t = *m;
		if (rd_be32(&t) == 0) {
			rd_skip(m, 4);
			len -= 4;
		}
	}
	uint32_t hi = rd_be32(m), lo = rd_be32(m);
	bool ispi = hi != 0 || lo != 0;
	rd_skip(m, 8 + 1);
	uint8_t ver = rd_u8(m);
	rd_skip(m, 2 + 4);
	uint32_t mlen = rd_be32(m);
	return rd_ok(m) && ispi && (ver == 0x10 || ver == 0x20) && mlen == len;
}

/* The first datagram of direction d: 1 IKE, 0 none, -1 not IKE, 2 wait
 * for more (see ike_header_like). With
 * later (not NULL), a well-formed message among the next datagrams (up to
 * the fourth) goes there when the first is not one. */
static int ike_first(const struct ident_input *in, int d, struct ike_msg *k, bool *later)
{
	if (in->transport != IDENT_UDP || in->ndgrams[d] == 0)
		return 0;
	struct reader r;
	rd_init(&r, in->data[d], in->len[d]);
	bool like = false;
	for (unsigned i = 0; i < in->ndgrams[d] && i < (later ? 4u : 1u); i++) {
		size_t len = in->dgram_len[d][i];
		struct reader m = rd_sub(&r, len);
		if (!rd_ok(&r))
			return -1;
		struct reader h = m;
		if (ike_parse(&m, len, k)) {
			if (later)
				*later = i > 0;
			return 1;
		}
		if (i == 0)
			like = ike_header_like(&h, len);
		if (!like)
			return -1;
	}
	/* a first datagram with an IKE header whose body is not well formed:
	 * the next ones may tell */
	return like && later && in->ndgrams[d] < 4 && !in->done[d] ? 2 : -1;
}

static const char *ike_exname(uint8_t v, uint8_t e)
{
	if (v == 0x20) {
		switch (e) {
		case 34: return "IKE_SA_INIT";
		case 35: return "IKE_AUTH";
		case 36: return "CREATE_CHILD_SA";
		case 37: return "INFORMATIONAL";
		default: return "other";
		}
	}
	switch (e) {
	case 2: return "identity_protection";
	case 4: return "aggressive";
	case 5: return "informational";
	case 32: return "quick_mode";
	default: return "other";
	}
}

/* ike_header_like false, the usual way: fewer bytes than a header or a
 * version byte other than 1.0 and 2.0 (before the SPIs are read). */
static bool ike_header_bad(struct reader m, size_t len)
{
	uint8_t b[4] = {0, 0, 0, 0}, ver;
	size_t at = 0;
	if (len >= 32 && rd_peek_u8(&m, 0, &b[0]) && rd_peek_u8(&m, 1, &b[1]) &&
	    rd_peek_u8(&m, 2, &b[2]) && rd_peek_u8(&m, 3, &b[3]) && !(b[0] | b[1] | b[2] | b[3]))
		at = 4; /* non-ESP marker */
	return !rd_has(&m, at + 28) ||
	       (rd_peek_u8(&m, at + 17, &ver) && ver != 0x10 && ver != 0x20);
}

/* ike_match past its cheap NO_MATCH tests. Out of line: the tests run
 * without this function's frame. */
__attribute__((noinline)) static enum ident_verdict
ike_match_parse(const struct ident_input *in, struct ident_evidence *ev)
{
	struct ike_msg c = {0}, s = {0};
	bool later = false;
	int pc = ike_first(in, 0, &c, &later), ps = ike_first(in, 1, &s, NULL);
	if (pc < 0 || ps < 0)
		return IDENT_NO_MATCH;
	if (pc == 2)
		return IDENT_NEED_MORE;
	if (pc == 0)
		return in->done[0] && in->done[1] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
	if (later && ps == 0)
		return in->done[1] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
	bool confirmed = false;
	if (ps > 0) {
		/* Same SA: the initiator's SPI, the same major version. */
		for (int i = 0; i < 8; i++)
			if (c.ispi[i] != s.ispi[i])
				return IDENT_NO_MATCH;
		if ((c.version & 0xf0) != (s.version & 0xf0))
			return IDENT_NO_MATCH;
		confirmed = true;
	} else if (!in->done[1]) {
		return IDENT_NEED_MORE;
	}
	ident_add_str(ev, "ike_version", c.version == 0x20 ? "2" : "1");
	ident_add_str(ev, "ike_exchange", ike_exname(c.version, c.exchange));
	ev->server_confirmed = confirmed;
	ev->confidence = confirmed ? 95 : 80;
	return IDENT_MATCH;
}

static enum ident_verdict ike_match(const struct ident_input *in, struct ident_evidence *ev)
{
	/* The usual NO_MATCH of ike_match_parse (ike_first -1 on either side)
	 * before the parses: a first datagram that is not even ike_header_like.
	 */
	for (int d = 0; d < 2 && in->transport == IDENT_UDP; d++) {
		if (!in->ndgrams[d])
			continue;
		struct reader r, m;
		rd_init(&r, in->data[d], in->len[d]);
		m = rd_sub(&r, in->dgram_len[d][0]);
		if (!rd_ok(&r) || ike_header_bad(m, in->dgram_len[d][0]))
			return IDENT_NO_MATCH;
	}
	return ike_match_parse(in, ev);
}

const struct ident_proto ident_ike = {"ike", "IKE/ISAKMP (RFC 7296, RFC 2408, RFC 3948)",
                                      IDENT_UDP, ike_match, NULL, NULL};
