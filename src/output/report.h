/*
 * report.h - what offport writes: EVE JSON flow and stats records, and the
 * human-readable summary. docs/output.md describes every field.
 */
#ifndef OFFPORT_OUTPUT_REPORT_H
#define OFFPORT_OUTPUT_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "decode/decode.h"
#include "flow/flow.h"
#include "output/json.h"
#include "stream/stream.h"

/* Everything the final statistics report. Pointers are borrowed. */
struct run_totals {
	uint64_t packets;          /* frames read from all inputs */
	uint64_t bytes;            /* their wire lengths */
	uint64_t first_ts_us, last_ts_us;
	uint32_t inputs;           /* files or interfaces opened */
	uint32_t inputs_damaged;   /* files that ended in a read error */
	uint64_t flows_reported;   /* flow records handed to the output */
	uint64_t flows_uninspected;/* flows that found the stream pool empty */
	uint64_t output_overflow;  /* records too large to write (never expected) */
	bool kernel_valid;         /* live capture: kernel counters below are set */
	uint64_t kernel_received, kernel_dropped, kernel_if_dropped;
	const struct decode_stats *decode;
	const struct flow_stats *flow;
	const struct flow_config *flow_cfg;
	const struct stream_stats *stream;
	const struct stream_config *stream_cfg;
};

/* True when every packet read is accounted for by exactly one decode
 * result and every flow created was reported. */
bool report_accounted(const struct run_totals *t);

/* One EVE "flow" record for a flow that ended. first_bytes[] are the
 * contiguous first bytes kept per direction; inspected is false when the
 * flow found the stream pool empty. */
void report_flow_json(struct json *j, const struct flow *f, const uint32_t first_bytes[2],
                      bool inspected);

/* The final EVE "stats" record. */
void report_stats_json(struct json *j, const struct run_totals *t);

/* The human-readable summary. Returns 0, or -1 on a write error. */
int report_summary_text(FILE *out, const struct run_totals *t);

/* Address as text (inet_ntop); out must hold 46 bytes. */
void report_ip(uint8_t ipver, const uint8_t addr[16], char out[46]);

#endif
