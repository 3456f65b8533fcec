/*
 * proto_quic.c - QUIC over UDP, by the client's first Initial packet.
 *
 * Specifications: RFC 8999 (version-independent properties), RFC 9000
 * sections 14.1 (Initial datagrams are at least 1200 bytes), 17.2 (long
 * header), 17.2.1 (Version Negotiation), 17.2.2 (Initial); RFC 9369 (QUIC
 * v2: version 0x6b3343cf, Initial type 0b01); the IETF drafts
 * (0xff0000NN); Facebook mvfst (0xfaceb0NN); Google QUIC (Q0NN, T0NN).
 *
 * Client's first datagram, IETF form (v1, v2, drafts >= 22, Q050+, T05x):
 *
 *   +-+-+---+----+---------+-----+------+-----+------+-------+-------+---
 *   |1|1|T  |rest| version | dcl | dcid | scl | scid | token | len   | ...
 *   +-+-+---+----+---------+-----+------+-----+------+-------+-------+---
 *    form fixed      32       8   <=20   8   <=20   varint+  varint
 *    T = Initial (v1: 0, v2: 1)                     bytes    <= rest
 *   and the datagram is at least 1200 bytes (client Initials are padded).
 *
 * Google Q046 (and drafts < 22) carry both CID lengths in one byte
 * (nibbles, len - 3), and Q046 sends its handshake message "CHLO" in the
 * clear. Google Q043 and older use a "public header":
 *
 *   +-------+---------+---------+----+------+------------------- - -
 *   | flags | cid (8) | "Q0NN"  | pn | hash | stream frame "CHLO"...
 *   +-------+---------+---------+----+------+------------------- - -
 *    0x01 version, 0x08 8-byte cid, 0x80 clear
 *
 * Server: a long header packet of the same version (Initial, Retry,
 * Handshake; the fixed bit may be greased, RFC 9287) or of a compatible
 * version (RFC 9368), or a Version Negotiation packet (version 0)
 * confirms; a short
 * header packet neither confirms nor cancels (its Initial may be lost);
 * anything else cancels.
 *
 * Also taken, with less confidence: an Initial after the client's 0-RTT
 * packets (reordered); a reserved version (0x?a?a?a?a) left unanswered but
 * retransmitted with one DCID, or laid out exactly as a v1 Initial; Google
 * QUIC seen from the server only (public header, "REJ" in the clear); and
 * flows of short header packets only, one side repeating a DCID of 8-20
 * bytes before encrypted bytes (evidence quic_seen).
 */
#include <stdint.h>
#include <string.h>

#include "common/reader.h"
#include "identify/identify.h"
#include "identify/protocols.h"

#define QUIC_V1 0x00000001u
#define QUIC_V2 0x6b3343cfu
#define QUIC_MIN_INITIAL 1200 /* RFC 9000 14.1 */
#define GQUIC_MIN_CHLO 1024   /* Google QUIC pads its CHLO to at least 1 KiB */
#define QUIC_CID_MAX 20

enum family { F_NONE, F_IETF, F_DRAFT_OLD, F_GQUIC_LONG, F_GQUIC_LEGACY, F_GREASE };

static bool digit(uint8_t c) { return c >= '0' && c <= '9'; }

/* Google versions are four ASCII bytes: 'Q' or 'T', '0', two digits. */
static int gquic_number(uint32_t v)
{
	uint8_t a = (uint8_t)(v >> 24), b = (uint8_t)(v >> 16), c = (uint8_t)(v >> 8),
	        d = (uint8_t)v;
	if ((a != 'Q' && a != 'T') || b != '0' || !digit(c) || !digit(d))
		return -1;
	return (c - '0') * 10 + (d - '0');
}

static enum family family_of(uint32_t v)
{
	if (v == QUIC_V1 || v == QUIC_V2)
		return F_IETF;
	if ((v & 0xffffff00u) == 0xff000000u && (v & 0xff) >= 1 && (v & 0xff) <= 34)
		return (v & 0xff) >= 22 ? F_IETF : F_DRAFT_OLD;
	if ((v & 0xffffff00u) == 0xfaceb000u && (v & 0xff) <= 0x20)
		return F_IETF; /* mvfst, draft-based */
	int g = gquic_number(v);
	if (g >= 50 || (g >= 0 && (v >> 24) == 'T'))
		return F_IETF;
	if (g >= 46)
		return F_GQUIC_LONG;
	if ((v & 0x0f0f0f0fu) == 0x0a0a0a0au)
		return F_GREASE; /* RFC 9000 15: reserved, forces negotiation */
	return F_NONE;
}

static uint64_t varint(struct reader *r)
{
	uint8_t b = rd_u8(r);
	uint64_t v = b & 0x3f;
	unsigned n = 1u << (b >> 6);
	for (unsigned i = 1; i < n; i++)
		v = v << 8 | rd_u8(r);
	return v;
}

/* "CHLO" within the next `within` bytes (Google's cleartext handshake). */
static bool find_chlo(struct reader r, size_t within)
{
	for (size_t i = 0; i < within && rd_has(&r, 4); i++, rd_skip(&r, 1))
		if (rd_starts(&r, "CHLO"))
			return true;
	return false;
}

struct client {
	enum family fam;
	uint32_t version;
	uint8_t scid_len;
};

static bool client_initial(struct reader *dg, struct client *c)
{
	size_t size = rd_remaining(dg);
	uint8_t b0 = rd_u8(dg);
	if (!(b0 & 0x80)) {
		/* Google public header: version present, 8-byte connection id,
		 * no reset flag, reserved bits clear. */
		if ((b0 & 0x09) != 0x09 || (b0 & 0xc2) || size < GQUIC_MIN_CHLO)
			return false;
		rd_skip(dg, 8);
		c->version = rd_be32(dg);
		int g = gquic_number(c->version);
		c->fam = F_GQUIC_LEGACY;
		return rd_ok(dg) && g >= 0 && g < 46 && (c->version >> 24) == 'Q' &&
		       find_chlo(*dg, 48);
	}
	c->version = rd_be32(dg);
	c->fam = family_of(c->version);
	if (!rd_ok(dg) || c->fam == F_NONE)
		return false;
	/* The fixed bit is set, except where RFC 9287 lets an IETF QUIC peer
	 * that remembers a grease_quic_bit transport parameter clear it. */
	if (!(b0 & 0x40) && c->fam != F_IETF)
		return false;
	if (size < (c->fam == F_GQUIC_LONG ? GQUIC_MIN_CHLO : QUIC_MIN_INITIAL))
		return false;
	if (c->fam == F_GQUIC_LONG || c->fam == F_DRAFT_OLD) {
		uint8_t cil = rd_u8(dg);
		uint8_t dcl = cil >> 4 ? (uint8_t)((cil >> 4) + 3) : 0;
		uint8_t scl = cil & 0xf ? (uint8_t)((cil & 0xf) + 3) : 0;
		rd_skip(dg, (size_t)dcl + scl);
		c->scid_len = scl;
		if (!rd_ok(dg))
			return false;
		if (c->fam == F_DRAFT_OLD)
			return dcl >= 8;
		/* Q046: Initial type, packet number, then CHLO in the clear. */
		return (b0 & 0x30) == 0 && find_chlo(*dg, 32);
	}
	uint8_t dcl = rd_u8(dg);
	rd_skip(dg, dcl);
	uint8_t scl = rd_u8(dg);
	rd_skip(dg, scl);
	c->scid_len = scl;
	if (!rd_ok(dg) || dcl > QUIC_CID_MAX || scl > QUIC_CID_MAX)
		return false;
	if (c->fam == F_GREASE)
		return true; /* nothing more is defined for an unknown version */
	/* RFC 9000 7.2: a client's first Initial DCID has at least 8 bytes. */
	uint8_t initial = c->version == QUIC_V2 ? 0x10 : 0x00;
	if ((b0 & 0x30) != initial || dcl < 8)
		return false;
	uint64_t token = varint(dg);
	if (!rd_ok(dg) || token > rd_remaining(dg))
		return false;
	rd_skip(dg, (size_t)token);
	uint64_t len = varint(dg);
	/* Packet number (1-4) and an AEAD tag (16) at least. */
	return rd_ok(dg) && len >= 20 && len <= rd_remaining(dg);
}

enum answer { A_NONE, A_CONFIRM, A_SHORT, A_OTHER };

static enum answer server_answer(struct reader *dg, const struct client *c)
{
	uint8_t b0;
	if (!rd_peek_u8(dg, 0, &b0))
		return A_NONE;
	rd_skip(dg, 1);
	if (c->fam == F_GQUIC_LEGACY) {
		/* Public header without the version flag (or a version
		 * negotiation packet, which repeats the connection id). */
		return b0 & 0xc0 ? A_OTHER : A_CONFIRM;
	}
	if (!(b0 & 0x80))
		return b0 & 0x40 ? A_SHORT : A_OTHER;
	uint32_t v = rd_be32(dg);
	if (!rd_ok(dg))
		return A_OTHER;
	if (v == 0) {
		/* Version Negotiation: DCID, SCID, then a non-empty list of
		 * 32-bit versions. */
		uint8_t dcl = rd_u8(dg);
		rd_skip(dg, dcl);
		uint8_t scl = rd_u8(dg);
		rd_skip(dg, scl);
		if (c->fam == F_GQUIC_LONG || c->fam == F_DRAFT_OLD)
			return rd_ok(dg) ? A_CONFIRM : A_OTHER;
		size_t rest = rd_remaining(dg);
		return rd_ok(dg) && rest >= 4 && rest % 4 == 0 ? A_CONFIRM : A_OTHER;
	}
	/* RFC 9287: servers grease the fixed bit of their long headers once
	 * the client offered grease_quic_bit; the version decides. */
	if (v == c->version)
		return A_CONFIRM;
	/* RFC 9368 compatible negotiation: the server may answer in another
	 * version it knows (v1 -> v2). */
	enum family f = family_of(v);
	return f != F_NONE && f != F_GREASE ? A_CONFIRM : A_OTHER;
}

static void add_version(struct ident_evidence *ev, uint32_t v)
{
	char b[16];
	if (v == QUIC_V1) {
		ident_add_str(ev, "quic_version", "1");
		return;
	}
	if (v == QUIC_V2) {
		ident_add_str(ev, "quic_version", "2");
		return;
	}
	if ((v & 0xffffff00u) == 0xff000000u) {
		unsigned d = v & 0xff;
		memcpy(b, "draft-", 6);
		b[6] = (char)('0' + d / 10 % 10);
		b[7] = (char)('0' + d % 10);
		ident_add(ev, "quic_version", (const uint8_t *)b, 8);
		return;
	}
	if (gquic_number(v) >= 0) {
		b[0] = (char)(v >> 24);
		b[1] = (char)(v >> 16);
		b[2] = (char)(v >> 8);
		b[3] = (char)v;
		ident_add(ev, "quic_version", (const uint8_t *)b, 4);
		return;
	}
	b[0] = '0';
	b[1] = 'x';
	for (int i = 0; i < 8; i++) {
		unsigned x = (v >> (28 - 4 * i)) & 0xf;
		b[2 + i] = (char)(x < 10 ? '0' + x : 'a' + x - 10);
	}
	ident_add(ev, "quic_version", (const uint8_t *)b, 10);
}

/* The k-th datagram of direction d. */
static struct reader dgram(const struct ident_input *in, int d, unsigned k)
{
	struct reader all, dg;
	rd_init(&all, in->data[d], in->len[d]);
	for (unsigned i = 0; i < k; i++)
		rd_skip(&all, in->dgram_len[d][i]);
	dg = rd_sub(&all, in->dgram_len[d][k]);
	return dg;
}

/* Long header (form and fixed bits) of the given version. */
static bool long_header_of(struct reader dg, uint32_t version)
{
	uint8_t b0 = rd_u8(&dg);
	uint32_t v = rd_be32(&dg);
	return rd_ok(&dg) && (b0 & 0x80) && v == version;
}

/* A reserved (greased) version that nobody answered: QUIC when the client
 * sent it again and again, padded to 1200 bytes (RFC 9000 14.1, 6.1: a
 * server drops smaller datagrams of unknown versions), with one DCID of at
 * least 8 bytes (RFC 9000 7.2): what a client testing version negotiation
 * sends (the interop runner's "V" test). */
static bool grease_repeated(const struct ident_input *in, const struct client *c)
{
	if (in->ndgrams[0] < 2) {
		/* Once only: then its packet must be laid out as a v1 Initial
		 * (token length, then a length that ends it exactly at the
		 * datagram's end), as clients testing negotiation send it. */
		struct reader dg = dgram(in, 0, 0);
		if (rd_remaining(&dg) < QUIC_MIN_INITIAL)
			return false;
		rd_skip(&dg, 5);
		uint8_t dcl = rd_u8(&dg);
		rd_skip(&dg, dcl);
		uint8_t scl = rd_u8(&dg);
		rd_skip(&dg, scl);
		uint64_t token = varint(&dg);
		if (!rd_ok(&dg) || dcl < 8 || dcl > QUIC_CID_MAX || scl > QUIC_CID_MAX ||
		    token > rd_remaining(&dg))
			return false;
		rd_skip(&dg, (size_t)token);
		uint64_t len = varint(&dg);
		return rd_ok(&dg) && len >= 20 && len == rd_remaining(&dg);
	}
	uint8_t cid[2][QUIC_CID_MAX];
	uint8_t dcl[2] = {0, 0};
	for (unsigned k = 0; k < 2; k++) {
		struct reader dg = dgram(in, 0, k);
		if (rd_remaining(&dg) < QUIC_MIN_INITIAL || !long_header_of(dg, c->version))
			return false;
		rd_skip(&dg, 5);
		dcl[k] = rd_u8(&dg);
		if (dcl[k] < 8 || dcl[k] > QUIC_CID_MAX)
			return false;
		rd_copy(&dg, cid[k], dcl[k]);
		if (!rd_ok(&dg))
			return false;
	}
	return dcl[0] == dcl[1] && memcmp(cid[0], cid[1], dcl[0]) == 0;
}

/* Google QUIC seen from the server only (the capture or the flow table
 * missed the client): a public header with an 8-byte connection id and no
 * version (0x08 flag, reserved bits clear), and the server's "REJ" crypto
 * handshake message in the clear within the first packet. */
static bool gquic_rej(const struct ident_input *in, int d);

static bool gquic_server_only(const struct ident_input *in)
{
	int d = in->len[1] == 0 ? 0 : 1;
	if (in->len[1 - d] != 0 || !in->done[1 - d] || in->ndgrams[d] == 0)
		return false;
	return gquic_rej(in, d);
}

/* The first datagram of direction d is a Google QUIC server's REJ. */
static bool gquic_rej(const struct ident_input *in, int d)
{
	if (in->ndgrams[d] == 0)
		return false;
	struct reader dg = dgram(in, d, 0);
	uint8_t b0 = rd_u8(&dg);
	if (!rd_ok(&dg) || (b0 & 0xcb) != 0x08 || !rd_has(&dg, 8 + 1 + 12 + 4))
		return false;
	rd_skip(&dg, 8);
	for (size_t i = 0; i < 48 && rd_has(&dg, 4); i++, rd_skip(&dg, 1))
		if (rd_starts(&dg, "REJ"))
			return true;
	return false;
}

/* Short header packets only (RFC 9000 17.3: form bit 0, fixed bit 1, then
 * the destination connection id): a flow whose handshake came before the
 * capture. The client's datagrams must repeat one DCID of at least 8 bytes
 * and carry encrypted bytes after it (not text: a text protocol repeats
 * its first bytes too); the server's, if any, must be short headers. */
#define QUIC_SH_MIN_DGRAMS 3
enum sh_state { SH_NO, SH_MAYBE, SH_YES };
static enum sh_state sh_prefix_(const struct ident_input *in, int d);

/* SH_MAYBE: not yet, but more datagrams of d may still make it so (the
 * common prefix only shrinks with more datagrams: below 8 bytes it is
 * final; anything else may change, and NO_MATCH is final). */
static enum sh_state sh_prefix(const struct ident_input *in, int d)
{
	enum sh_state s = sh_prefix_(in, d);
	if (s == SH_MAYBE)
		return in->done[d] || in->ndgrams[d] >= IDENT_DGRAMS_MAX ? SH_NO : SH_MAYBE;
	return s;
}

static enum sh_state sh_prefix_(const struct ident_input *in, int d)
{
	unsigned n = in->ndgrams[d];
	if (n < QUIC_SH_MIN_DGRAMS)
		return SH_NO;
	/* The common prefix after the first byte, over the datagrams. */
	size_t common = SIZE_MAX;
	struct reader d0 = dgram(in, d, 0);
	size_t len0 = rd_remaining(&d0);
	if (!rd_ok(&d0))
		return false;
	for (unsigned k = 1; k < n; k++) {
		struct reader dk = dgram(in, d, k);
		size_t lk = rd_remaining(&dk);
		if (!rd_ok(&dk))
			return SH_NO;
		size_t i = 1;
		uint8_t a, b;
		while (i < common && i < lk && i < len0 && rd_peek_u8(&dk, i, &a) &&
		       rd_peek_u8(&d0, i, &b) && a == b)
			i++;
		common = i;
	}
	/* The DCID, then bytes that differ in every packet (the packet
	 * number and the ciphertext): no datagram repeats another. */
	size_t cid = common - 1;
	if (cid < 8)
		return SH_NO;
	if (cid > QUIC_CID_MAX)
		return SH_MAYBE;
	/* Encrypted: at least a quarter of the protected bytes with the high
	 * bit set, in every datagram (text and DNS names have none). */
	for (unsigned k = 0; k < n; k++) {
		struct reader dk = dgram(in, d, k);
		size_t lk = rd_remaining(&dk);
		if (!rd_ok(&dk) || lk < common + 17)
			return SH_MAYBE;
		size_t bin = 0;
		uint8_t c;
		for (size_t i = common; i < lk && rd_peek_u8(&dk, i, &c); i++)
			bin += c >= 0x80;
		if (bin * 4 < lk - common)
			return SH_MAYBE;
	}
	return SH_YES;
}

/* Short header packets only (RFC 9000 17.3: form bit 0, fixed bit 1, then
 * the destination connection id): a flow whose handshake came before the
 * capture. One side's datagrams (at least 3) must repeat one DCID of 8 to
 * 20 bytes and carry encrypted bytes after it (not text: a text protocol
 * repeats its first bytes too); every datagram of both sides is a short
 * header. (The other side's DCID may be empty: clients often choose a
 * zero-length connection ID.) */
static enum sh_state short_headers_only(const struct ident_input *in)
{
	for (int d = 0; d < 2; d++)
		for (unsigned k = 0; k < in->ndgrams[d]; k++) {
			struct reader dg = dgram(in, d, k);
			uint8_t b0 = rd_u8(&dg);
			if (!rd_ok(&dg) || (b0 & 0xc0) != 0x40 || rd_remaining(&dg) < 8 + 1 + 16)
				return SH_NO;
		}
	enum sh_state p0 = sh_prefix(in, 0), p1 = sh_prefix(in, 1);
	if (p0 == SH_YES || p1 == SH_YES)
		return SH_YES;
	if (p0 == SH_MAYBE || p1 == SH_MAYBE)
		return SH_MAYBE;
	/* Fewer than 3 datagrams on a side that may still send: wait. */
	for (int d = 0; d < 2; d++)
		if (!in->done[d] && in->ndgrams[d] < QUIC_SH_MIN_DGRAMS)
			return SH_MAYBE;
	return SH_NO;
}

/* Every datagram of the client is a long header of one IETF version:
 * 0-RTT packets whose Initial was reordered behind them. */
static bool zero_rtt_only(const struct ident_input *in)
{
	struct reader dg = dgram(in, 0, 0);
	uint8_t b0 = rd_u8(&dg);
	uint32_t v = rd_be32(&dg);
	if (!rd_ok(&dg) || !(b0 & 0x80) || family_of(v) != F_IETF)
		return false;
	for (unsigned k = 1; k < in->ndgrams[0]; k++)
		if (!long_header_of(dgram(in, 0, k), v))
			return false;
	return true;
}

/* quic_match past its cheap tests. Out of line: the tests run without
 * this function's frame. */
__attribute__((noinline)) static enum ident_verdict
quic_match_parse(const struct ident_input *in, struct ident_evidence *ev)
{
	struct reader dg = dgram(in, 0, 0);
	struct client c;
	memset(&c, 0, sizeof c);
	if (!client_initial(&dg, &c)) {
		/* The client's Initial may come after its 0-RTT packets when
		 * the network reorders them: take the first Initial when every
		 * datagram before it is a long header of that version. */
		bool found = false;
		for (unsigned k = 1; k < in->ndgrams[0] && !found; k++) {
			dg = dgram(in, 0, k);
			memset(&c, 0, sizeof c);
			if (!client_initial(&dg, &c) || c.fam != F_IETF)
				continue;
			found = true;
			for (unsigned i = 0; i < k; i++)
				found &= long_header_of(dgram(in, 0, i), c.version);
			if (!found)
				break;
		}
		if (!found) {
			if (gquic_server_only(in)) {
				ident_add_str(ev, "quic_version", "gquic");
				ident_add_str(ev, "quic_seen", "server-only");
				ev->confidence = 60;
				return IDENT_MATCH;
			}
			enum sh_state sh = short_headers_only(in);
			if (sh == SH_MAYBE)
				return IDENT_NEED_MORE;
			if (sh == SH_YES) {
				ident_add_str(ev, "quic_seen", "short-header");
				ev->confidence = 50;
				return IDENT_MATCH;
			}
			/* Not yet decided (NO_MATCH is final): long headers of
			 * one IETF version so far (0-RTT) whose Initial may
			 * still come; or a REJ that is the server's when the
			 * other side ends silent. */
			if (!in->done[0] && in->ndgrams[0] < IDENT_DGRAMS_MAX &&
			    zero_rtt_only(in))
				return IDENT_NEED_MORE;
			if (in->len[1] == 0 && !in->done[1] && gquic_rej(in, 0))
				return IDENT_NEED_MORE;
			return IDENT_NO_MATCH;
		}
	}

	enum answer a = A_NONE;
	if (in->ndgrams[1]) {
		dg = dgram(in, 1, 0);
		a = server_answer(&dg, &c);
	}
	if (a == A_OTHER)
		return IDENT_NO_MATCH;
	if (a == A_NONE && !in->done[1])
		return IDENT_NEED_MORE;
	/* A reserved version means nothing until a server negotiates, or
	 * the client retries it unanswered. */
	if (c.fam == F_GREASE && a != A_CONFIRM && !grease_repeated(in, &c))
		/* A second datagram may still repeat it (NO_MATCH is final). */
		return in->ndgrams[0] < 2 && !in->done[0] ? IDENT_NEED_MORE : IDENT_NO_MATCH;

	add_version(ev, c.version);
	ev->server_confirmed = a == A_CONFIRM;
	ev->confidence = a == A_CONFIRM ? 100 : c.fam == F_GREASE ? 60 : 80;
	return IDENT_MATCH;
}

static enum ident_verdict quic_match(const struct ident_input *in, struct ident_evidence *ev)
{
	if (in->ndgrams[0] == 0) {
		if (in->done[0] && gquic_server_only(in)) {
			ident_add_str(ev, "quic_version", "gquic");
			ident_add_str(ev, "quic_seen", "server-only");
			ev->confidence = 60;
			return IDENT_MATCH;
		}
		/* With the client done, the server's first datagram may still
		 * come and be a REJ (NO_MATCH is final). */
		return in->done[0] && (in->done[1] || in->ndgrams[1]) ? IDENT_NO_MATCH
		                                                      : IDENT_NEED_MORE;
	}
	struct reader dg = dgram(in, 0, 0);
	/* One client datagram, nothing from the server, too short for any
	 * Initial (client_initial false): the verdict of the searches in
	 * quic_match_parse from the first byte (and the version), without them.
	 * Only a first byte that may start a REJ (gquic_rej) takes the long
	 * way. */
	uint8_t b0;
	if (in->ndgrams[0] == 1 && in->ndgrams[1] == 0 && in->len[1] == 0 &&
	    rd_remaining(&dg) < GQUIC_MIN_CHLO &&
	    !(rd_peek_u8(&dg, 0, &b0) && (b0 & 0xcb) == 0x08)) {
		size_t size = rd_remaining(&dg);
		if (size == 0)
			return IDENT_NO_MATCH;
		if ((b0 & 0xc0) == 0x40) /* short_headers_only: wait for 3 */
			return size >= 1 + 8 + 1 + 16 && (!in->done[0] || !in->done[1])
			           ? IDENT_NEED_MORE
			           : IDENT_NO_MATCH;
		if (b0 & 0x80) { /* zero_rtt_only */
			struct reader t = dg;
			rd_skip(&t, 1);
			uint32_t v = rd_be32(&t);
			return !in->done[0] && rd_ok(&t) && family_of(v) == F_IETF
			           ? IDENT_NEED_MORE
			           : IDENT_NO_MATCH;
		}
		return IDENT_NO_MATCH;
	}
	return quic_match_parse(in, ev);
}

const struct ident_proto ident_quic = {"quic", "QUIC (RFC 9000, RFC 9369)", IDENT_UDP, quic_match, NULL, NULL};
