/*
 * fuzz_identify.c - libFuzzer harness for every identifier.
 *
 * Input: byte 0 = flags (bit 0: UDP, bits 1-2: done[0], done[1], bits 3-4:
 * midstream[0], midstream[1] (TCP only), bits 5-6: truncated[0], [1]); bytes
 * 1-2 = length of the client part (big-endian, clamped); then the client's
 * bytes, then the server's. UDP inputs are cut into datagrams of at most
 * 64 bytes (the lengths recorded as the stream module records them).
 * Every identifier runs on its own and through ident_run; a MATCH must come
 * with bounded evidence and a confidence of at most 100.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "identify/identify.h"
#include "identify/protocols.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const struct ident_evidence *ev)
{
	if (ev->nfields > IDENT_FIELDS_MAX || ev->confidence > 100)
		abort();
	for (unsigned i = 0; i < ev->nfields; i++)
		if (!ev->field[i].key || ev->field[i].len > IDENT_VALUE_MAX)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 3)
		return 0;
	struct ident_input in;
	memset(&in, 0, sizeof in);
	in.transport = (data[0] & 1) ? IDENT_UDP : IDENT_TCP;
	in.done[0] = (data[0] >> 1) & 1;
	in.done[1] = (data[0] >> 2) & 1;
	if (in.transport == IDENT_TCP) {
		in.midstream[0] = (data[0] >> 3) & 1;
		in.midstream[1] = (data[0] >> 4) & 1;
	}
	in.truncated[0] = (data[0] >> 5) & 1;
	in.truncated[1] = (data[0] >> 6) & 1;
	size_t rest = size - 3;
	size_t n0 = (size_t)data[1] << 8 | data[2];
	if (n0 > rest)
		n0 = rest;
	/* Exact-size copies so that any overread is caught by ASan. */
	uint8_t *c = malloc(n0 ? n0 : 1), *s = malloc(rest - n0 ? rest - n0 : 1);
	if (!c || !s)
		abort();
	memcpy(c, data + 3, n0);
	memcpy(s, data + 3 + n0, rest - n0);
	in.data[0] = c;
	in.len[0] = (uint32_t)n0;
	in.data[1] = s;
	in.len[1] = (uint32_t)(rest - n0);
	if (in.transport == IDENT_UDP) {
		for (int d = 0; d < 2; d++) {
			uint32_t left = in.len[d];
			while (left && in.ndgrams[d] < IDENT_DGRAMS_MAX) {
				uint16_t n = left > 64 ? 64 : (uint16_t)left;
				in.dgram_len[d][in.ndgrams[d]++] = n;
				left -= n;
			}
			in.len[d] -= left; /* what the stream module would have kept */
		}
	}
	for (unsigned i = 0; i < ident_count; i++) {
		if (!(ident_registry[i]->transports & in.transport))
			continue;
		struct ident_evidence ev;
		ident_clear(&ev);
		enum ident_verdict v = ident_registry[i]->match(&in, &ev);
		if (v != IDENT_NO_MATCH && v != IDENT_NEED_MORE && v != IDENT_MATCH)
			abort();
		check(&ev);
	}
	struct ident_result r;
	ident_run(&in, &r);
	if (r.verdict == IDENT_MATCH && (r.proto < 0 || (unsigned)r.proto >= ident_count))
		abort();
	check(&r.ev);
	(void)ident_tls_fake(&in);
	if (ident_payload_class(&in) > IDENT_PAYLOAD_OPAQUE)
		abort();
	free(c);
	free(s);
	return 0;
}
