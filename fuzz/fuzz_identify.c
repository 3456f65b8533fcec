/*
 * fuzz_identify.c - libFuzzer harness for every identifier.
 *
 * Input: byte 0 = flags (bit 0: UDP, bits 1-2: done[0], done[1], bits 3-4:
 * midstream[0], midstream[1] (TCP only), bits 5-6: truncated[0], [1]); bytes
 * 1-2 = length of the client part (big-endian, clamped); then the client's
 * bytes, then the server's. UDP inputs are cut into datagrams of at most
 * 64 bytes (the lengths recorded as the stream module records them).
 * Every identifier runs on its own and through ident_run; a MATCH must come
 * with bounded evidence and a confidence of at most 100. NO_MATCH must be
 * final (identify.h): each identifier also runs on prefixes of the input
 * (no bytes, half, all but the last byte or datagram of each direction,
 * neither done), and where it answers NO_MATCH on a prefix it must answer
 * NO_MATCH on the whole input. The first-byte declarations hold
 * (identify.h, first_byte): on the input and on each prefix, an
 * identifier whose set for a side excludes that side's first byte (when
 * ident_first_byte says it is one) answers NO_MATCH.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "identify/identify.h"
#include "identify/protocols.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const struct ident_evidence *ev)
{
	if (ev->nfields > IDENT_FIELDS_MAX || ev->confidence > 100)
		abort();
	for (unsigned i = 0; i < ev->nfields; i++) {
		const char *k = ev->field[i].key;
		if (!k || !*k || ev->field[i].len > IDENT_VALUE_MAX)
			abort();
		/* keys are written into the JSON unescaped (output/json.c) */
		for (; *k; k++)
			if (!((*k >= 'a' && *k <= 'z') || (*k >= '0' && *k <= '9') || *k == '_'))
				abort();
	}
}

/* The first_byte declarations of identifier i hold for answer v. */
static void check_first(const struct ident_input *in, unsigned i, enum ident_verdict v)
{
	const struct ident_proto *p = ident_registry[i];
	if (v == IDENT_NO_MATCH || !p->first_byte)
		return;
	for (int d = 0; d < 2; d++) {
		if (ident_first_byte(in, d) && !p->first_byte(d, in->transport, in->data[d][0])) {
			fprintf(stderr, "%s: answers %d with side %d's first byte %02x outside its set\n",
			        p->name, v, d, in->data[d][0]);
			abort();
		}
	}
}

/* The first n bytes of one direction of in (UDP: whole datagrams). */
static void cut(struct ident_input *in, int d, uint32_t n)
{
	if (in->transport == IDENT_UDP) {
		uint32_t sum = 0;
		uint8_t k = 0;
		while (k < in->ndgrams[d] && sum + in->dgram_len[d][k] <= n)
			sum += in->dgram_len[d][k++];
		in->ndgrams[d] = k;
		n = sum;
	}
	in->len[d] = n;
}

static void check_final(const struct ident_input *full, const enum ident_verdict *verdict)
{
	uint32_t at[2][3];
	for (int d = 0; d < 2; d++) {
		at[d][0] = 0;
		at[d][1] = full->len[d] / 2;
		at[d][2] = full->len[d] ? full->len[d] - 1 : 0;
	}
	for (int a = 0; a < 3; a++) {
		for (int b = 0; b < 3; b++) {
			struct ident_input in = *full;
			in.done[0] = in.done[1] = false;
			cut(&in, 0, at[0][a]);
			cut(&in, 1, at[1][b]);
			for (unsigned i = 0; i < ident_count; i++) {
				if (!(ident_registry[i]->transports & in.transport))
					continue;
				struct ident_evidence ev;
				ident_clear(&ev);
				enum ident_verdict v = ident_registry[i]->match(&in, &ev);
				check_first(&in, i, v);
				if (verdict[i] == IDENT_NO_MATCH)
					continue;
				if (v == IDENT_NO_MATCH) {
					fprintf(stderr, "%s: NO_MATCH on %u/%u bytes, %d on all %u/%u\n",
					        ident_registry[i]->name, in.len[0], in.len[1], verdict[i],
					        full->len[0], full->len[1]);
					abort();
				}
			}
		}
	}
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
	enum ident_verdict verdict[IDENT_SET_WORDS * 64];
	for (unsigned i = 0; i < ident_count; i++) {
		verdict[i] = IDENT_NO_MATCH;
		if (!(ident_registry[i]->transports & in.transport))
			continue;
		struct ident_evidence ev;
		ident_clear(&ev);
		enum ident_verdict v = ident_registry[i]->match(&in, &ev);
		if (v != IDENT_NO_MATCH && v != IDENT_NEED_MORE && v != IDENT_MATCH)
			abort();
		check(&ev);
		check_first(&in, i, v);
		verdict[i] = v;
	}
	check_final(&in, verdict);
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
