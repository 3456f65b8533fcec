/*
 * engine.h - the pipeline: decode -> flow -> stream -> identify -> verdict
 * -> output, one packet at a time, with the final accounting.
 */
#ifndef OFFPORT_CLI_ENGINE_H
#define OFFPORT_CLI_ENGINE_H

#include <stdbool.h>
#include <stdio.h>

#include "capture/capture.h"
#include "decode/decode.h"
#include "flow/flow.h"
#include "output/dedup.h"
#include "output/json.h"
#include "output/report.h"
#include "stream/stream.h"
#include "identify/identify.h"
#include "verdict/policy.h"
#include "verdict/ports.h"
#include "verdict/verdict.h"

struct engine_config {
	struct decode_config decode;
	struct flow_config flow;
	struct stream_config stream;
	FILE *json_out;   /* EVE JSON lines go here; NULL = no flow records */
	FILE *text_out;   /* one line per alert for people; NULL = none */
	const char *ports_file; /* --ports: entries over etc/ports.conf, or NULL */
	const struct ports *ports_loaded; /* a registry loaded already, copied in
	                                     place of loading (ports_file is then
	                                     not read); NULL: load it */
	uint32_t inspect_segments; /* payload packets inspected per flow at most */
	bool unknown_all;          /* --unknown all */
	bool dedup;                /* one alert per server, port and protocol
	                              per window (default on; --no-dedup) */
	struct dedup_config dedup_cfg;
	bool explain;              /* --explain: say why for every flow */
};

/* Policies kept after a reload, so that flows decided under one still
 * name its rules (struct engine_note). */
#define ENGINE_POLICIES 4

/* Defaults for every bound (documented in offport(8)). */
void engine_config_defaults(struct engine_config *cfg);

struct engine {
	struct engine_config cfg;
	struct decoder dec;
	struct flow_table flows;
	struct stream_pool streams;
	struct ports *ports;
	/* per protocol, its ports as ports_of_proto() lists them, made at its
	 * first alert: listing them scans the whole registry, too slow for
	 * every alert, and most protocols never alert */
	char expected_ports[PORTS_MAX_PROTOS][REPORT_PORTS_MAX];
	bool expected_ports_made[PORTS_MAX_PROTOS];
	/* per stream slot: the identifiers ruled out on the flow's bytes so
	 * far, as oriented [0] and read the other way round [1], and the input
	 * flags they were ruled out under */
	struct engine_ruled_out {
		struct ident_set set[2];
		uint8_t flags;
	} *ruled_out;
	/* per stream slot: the flow holding it, on a list from the least to
	 * the most recently fed (STREAM_NONE ends), so that a full pool cuts
	 * the inspection of the flow idle longest rather than leave a new
	 * flow uninspected */
	struct engine_slot {
		struct flow *owner;
		uint32_t older, newer;
	} *slot;
	uint32_t slot_oldest, slot_newest;
	/* per flow table entry (flow_index), 8 bytes, written when the flow is
	 * decided: why the registry judged as it did, and the policy rule
	 * that decided (index + 1; UINT16_MAX the default line; 0 none) with the
	 * policy's generation. Beside the table, not in struct flow, since
	 * only findings, policy decisions and --explain read it. */
	struct engine_note {
		uint8_t reason; /* enum verdict_reason */
		uint16_t rule;
		uint32_t gen;   /* never wraps in practice: 4 G reloads */
	} *notes;
	struct dedup dedup;
	/* the site policy (NULL: none) and the ones it replaced, by
	 * generation: policies[gen % ENGINE_POLICIES] is the current one */
	struct policy *policies[ENGINE_POLICIES];
	struct policy *policy;
	uint32_t policy_gen;
	bool policy_ever; /* a policy was in force at some time */
	struct run_totals totals;
	int write_errno;  /* first output write error, 0 = none */
	struct json json; /* record buffer */
};

/* Returns 0, or -1 with a message. */
int engine_init(struct engine *e, const struct engine_config *cfg, char *err, size_t errlen);
void engine_free(struct engine *e);

/* Puts a site policy in force (the engine owns it from now; NULL: none).
 * Flows already decided keep their verdicts. */
void engine_set_policy(struct engine *e, struct policy *p);

/* The policy of generation gen, or NULL when it is gone (replaced more
 * than ENGINE_POLICIES - 1 times since) or there was none. */
const struct policy *engine_policy_of(const struct engine *e, uint32_t gen);

/* One captured frame of link type dlt. */
void engine_packet(struct engine *e, int dlt, const struct capture_pkt *pkt);

/* Capture time has moved on without packets (live capture). */
void engine_tick(struct engine *e, uint64_t now_us);

/* End of all input: reassembly and flows still open are flushed. */
void engine_finish(struct engine *e);

/* Writes the final stats record (JSON), and with it every record still
 * held in the output buffer. Returns 0 or -1 on a write error. */
int engine_write_stats(struct engine *e);

/* Writes the JSON records held in the output buffer (json.h) to json_out
 * (a write error is kept in write_errno). */
void engine_flush_json(struct engine *e);

#endif
