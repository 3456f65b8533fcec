/*
 * payload.c - is an unidentified payload plausibly a protocol offport does
 * not know yet, or bytes that no protocol would send in the clear?
 *
 * The `unknown` finding (verdict.h) is meant for the second: a custom
 * encrypted or encoded C2 channel on 443, random bytes on 53. A legitimate
 * service that offport has no identifier for (a vendor's push protocol on
 * 5223, a game on a well-known port, a malformed but DNS-shaped packet on
 * 53) shows its structure in its first bytes: a text protocol is lines of
 * printable characters; a binary protocol has headers with zero bytes
 * (length fields, flags, reserved fields) and repeated values. Encrypted,
 * compressed or random bytes have neither: every byte value is about
 * equally likely. So offport looks at the first message of the flow (the
 * client's, or the server's when only the server spoke; for UDP the first
 * datagram), at most 256 bytes:
 *
 *   text        at least 8 bytes, of which 90% or more are printable ASCII
 *               (0x20-0x7e) or TAB, CR, LF;
 *   structured  at least 8 bytes, with zero bytes making up an eighth of
 *               them or more (at least 3), or one byte value making up a
 *               fifth or more (at least 4);
 *   opaque      anything else, including messages shorter than 8 bytes.
 *
 * For n uniformly random bytes the chance of reaching either structure
 * threshold is below 1e-5 (8 bytes: 3 zeros ~ C(8,3)/256^3 = 3.3e-6; 256
 * bytes: 32 zeros where 1 is expected), so random and encrypted first
 * messages stay opaque; protocol headers rarely avoid both thresholds.
 * The price, written down in docs/detection.md: a cleartext custom protocol
 * (text or binary headers) on a port that expects another protocol is not
 * an `unknown` finding by default (`--unknown all` reports it).
 */
#include <string.h>

#include "identify/identify.h"

#define PAYLOAD_SCAN_MAX 256
#define PAYLOAD_MIN 8

enum ident_payload ident_payload_class(const struct ident_input *in)
{
	int d = in->len[0] > 0 ? 0 : 1;
	if (in->len[d] == 0)
		return IDENT_PAYLOAD_NONE;
	uint32_t n = in->len[d];
	if (in->transport == IDENT_UDP && in->ndgrams[d] > 0 && in->dgram_len[d][0] < n)
		n = in->dgram_len[d][0];
	if (n > PAYLOAD_SCAN_MAX)
		n = PAYLOAD_SCAN_MAX;
	if (n < PAYLOAD_MIN)
		return IDENT_PAYLOAD_OPAQUE;
	/* Two passes instead of one histogram that also tracked the maximum
	 * (its read-after-write chain on the counts and the maximum made it
	 * about 300 ns for a 64-byte datagram: 9% of a UDP spray's time,
	 * where every flow is a random datagram decided opaque; these take
	 * about 70 ns):
	 *   1. printable and zero bytes, counted without branches in 16-bit
	 *      sums (n <= 256; the compiler vectorises it): text, and
	 *      structure by zeros, are decided here;
	 *   2. only then the byte-value histogram, four bytes a step,
	 *      stopping as soon as a value reaches the threshold:
	 *      most >= 4 && most * 5 >= n is most >= max(4, ceil(n / 5)),
	 *      the same test, and a count only grows, so testing the four
	 *      new counts after each step finds the same. Every count stays
	 *      below the threshold before a step (52 at most for n <= 256)
	 *      and a step adds at most 4, so 8-bit counters do not
	 *      overflow, and the 256-byte table is cleared with a few wide
	 *      stores.
	 * The same classes as before, in the same order: text first, then
	 * zeros, then the most frequent value (tests/unit/test_identify.c
	 * checks them against the definition above, byte by byte). */
	const uint8_t *p = in->data[d];
	uint16_t printable = 0, zeros = 0;
	for (uint32_t i = 0; i < n; i++) {
		uint8_t b = p[i];
		printable += (uint8_t)(b - 0x20) < 0x5f || b == '\t' || b == '\r' || b == '\n';
		zeros += b == 0;
	}
	if (printable * 10u >= n * 9)
		return IDENT_PAYLOAD_TEXT;
	if (zeros >= 3 && zeros * 8u >= n)
		return IDENT_PAYLOAD_STRUCTURED;
	uint32_t threshold = (n + 4) / 5;
	if (threshold < 4)
		threshold = 4;
	_Static_assert((PAYLOAD_SCAN_MAX + 4) / 5 + 3 < 256, "8-bit counts do not overflow");
	uint8_t count[256];
	memset(count, 0, sizeof count);
	uint32_t i = 0;
	for (; i + 4 <= n; i += 4) {
		unsigned c0 = ++count[p[i]];
		unsigned c1 = ++count[p[i + 1]];
		unsigned c2 = ++count[p[i + 2]];
		unsigned c3 = ++count[p[i + 3]];
		if ((c0 >= threshold) | (c1 >= threshold) | (c2 >= threshold) | (c3 >= threshold))
			return IDENT_PAYLOAD_STRUCTURED;
	}
	for (; i < n; i++)
		if (++count[p[i]] >= threshold)
			return IDENT_PAYLOAD_STRUCTURED;
	return IDENT_PAYLOAD_OPAQUE;
}

const char *ident_payload_name(enum ident_payload p)
{
	switch (p) {
	case IDENT_PAYLOAD_TEXT:
		return "text";
	case IDENT_PAYLOAD_STRUCTURED:
		return "structured";
	case IDENT_PAYLOAD_OPAQUE:
		return "opaque";
	case IDENT_PAYLOAD_NONE:
		break;
	}
	return "none";
}
