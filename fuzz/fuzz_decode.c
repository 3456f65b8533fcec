/*
 * fuzz_decode.c - libFuzzer harness for src/decode.
 *
 * Input: one selector byte (index, modulo the table, into the supported
 * link types, high bit masked), then the frame. The selector's high bit
 * set presents the frame as if the snap length had cut 100 bytes off it
 * (wire length = captured + 100). One decoder lives for the whole
 * run with a small reassembly table, so fragments from different inputs
 * meet, time out and get evicted; timestamps increase by 10 ms per input.
 *
 * The accounting invariants are checked after every call and abort() on
 * violation: sum(result) == calls, sum(drop) == result[MALFORMED], and a
 * decoded packet's payload lies within what was captured. A second decoder
 * decodes every frame through the layers only (layered_only: no one-step
 * decode of Ethernet/IPv4/TCP and UDP): its result, packet and counters
 * must be the first one's.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "decode/decode.h"

static const int dlts[] = {1, 113, 276, 12, 14, 101, 228, 229, 0, 108, 9, 50, 51, 104, 192};

static struct decoder dec, layered;
static int ready;
static uint64_t calls, ts = 1700000000000000ull;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!ready) {
		char err[256];
		struct decode_config cfg = {.frag_max = 16, .frag_timeout_us = 2000000};
		if (decoder_init(&dec, &cfg, err, sizeof err) != 0 ||
		    decoder_init(&layered, &cfg, err, sizeof err) != 0)
			abort();
		layered.layered_only = true;
		ready = 1;
	}
	if (size < 1 || size > 65535 + 1)
		return 0;
	int dlt = dlts[(data[0] & 0x7F) % (sizeof dlts / sizeof dlts[0])];
	const uint8_t *frame = data + 1;
	uint32_t caplen = (uint32_t)(size - 1);
	uint32_t wirelen = (data[0] & 0x80) ? caplen + 100 : caplen;
	ts += 10000;

	struct packet pkt;
	enum decode_result r = decode_packet(&dec, dlt, frame, caplen, wirelen, ts, &pkt);
	calls++;
	struct packet lp;
	enum decode_result lr = decode_packet(&layered, dlt, frame, caplen, wirelen, ts, &lp);
	if (lr != r || lp.reassembled != pkt.reassembled || lp.payload_len != pkt.payload_len ||
	    memcmp(&layered.stats, &dec.stats, sizeof dec.stats) != 0)
		abort();
	if (pkt.reassembled) { /* each decoder reassembles in its own buffers */
		if (pkt.payload_len && memcmp(lp.payload, pkt.payload, pkt.payload_len) != 0)
			abort();
		lp.payload = pkt.payload;
	}
	if (memcmp(&lp, &pkt, sizeof pkt) != 0)
		abort();

	if ((unsigned)r >= DECODE__COUNT)
		abort();
	uint64_t sr = 0, sd = 0;
	for (int i = 0; i < DECODE__COUNT; i++)
		sr += dec.stats.result[i];
	for (int i = 0; i < DROP__COUNT; i++)
		sd += dec.stats.drop[i];
	if (sr != calls || sd != dec.stats.result[DECODE_MALFORMED] || dec.stats.drop[DROP_NONE] != 0)
		abort();
	if (r == DECODE_MALFORMED && (decode_last_drop(&dec) == DROP_NONE ||
	                              decode_last_drop(&dec) >= DROP__COUNT))
		abort();
	if (r == DECODE_TCP || r == DECODE_UDP || r == DECODE_ICMP || r == DECODE_IP_OTHER) {
		if (pkt.payload_len > pkt.payload_wire_len)
			abort();
		if (pkt.ip_version != 4 && pkt.ip_version != 6)
			abort();
		if (!pkt.reassembled && pkt.payload_len &&
		    (pkt.payload < frame || pkt.payload + pkt.payload_len > frame + caplen))
			abort();
		/* Touch every payload byte so ASan checks the span. */
		volatile uint8_t sink = 0;
		for (uint32_t i = 0; i < pkt.payload_len; i++)
			sink ^= pkt.payload[i];
		(void)sink;
	}
	if (pkt.tunnel.depth > DECODE_MAX_DEPTH)
		abort();
	return 0;
}
