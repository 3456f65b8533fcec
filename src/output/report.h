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
#include "output/dedup.h"
#include "output/json.h"
#include "stream/stream.h"
#include "identify/identify.h"
#include "verdict/ports.h"
#include "verdict/verdict.h"

/* Everything the final statistics report. Pointers are borrowed. */
struct run_totals {
	uint64_t packets;          /* frames read from all inputs */
	uint64_t bytes;            /* their wire lengths */
	uint64_t first_ts_us, last_ts_us;
	uint32_t inputs;           /* files or interfaces opened */
	uint32_t inputs_damaged;   /* files that ended in a read error */
	uint64_t short_wirelen;    /* records with a wire length below their
	                              captured length, taken as the latter */
	uint64_t flows_reported;   /* flow records handed to the output */
	uint64_t flows_uninspected;/* flows that found the stream pool empty */
	uint64_t inspections_cut;  /* undecided flows decided early to free a slot */
	uint64_t output_overflow;  /* records too large to write (never expected) */
	uint64_t memory_bytes;     /* every table, allocated once at the start: the bound */
	bool kernel_valid;         /* live capture: kernel counters below are set */
	uint64_t kernel_received, kernel_dropped, kernel_if_dropped;
	const struct decode_stats *decode;
	const struct flow_stats *flow;
	const struct flow_config *flow_cfg;
	const struct stream_stats *stream;
	const struct stream_config *stream_cfg;
	/* detection */
	uint64_t findings[FINDING__COUNT];   /* flows judged a finding, per kind */
	uint64_t alerts[FINDING__COUNT];     /* alert records written, per kind */
	const struct dedup_stats *dedup;     /* NULL: --no-dedup */
	uint64_t dedup_window_us;
	/* the site policy: NULL when none */
	const char *policy_file;
	unsigned policy_rules;
	const char *policy_default;
	uint64_t policy_allowed;             /* flows a rule or the default allowed */
	uint64_t policy_allowed_findings;    /* of those, registry findings */
	uint64_t policy_alerted;             /* flows a rule or the default alerted on */
	uint64_t policy_alerted_new;         /* of those, not registry findings */
	uint64_t policy_by_default;          /* flows the default line decided */
	uint64_t policy_reloads, policy_reload_failures;
	uint64_t app_proto[PORTS_MAX_PROTOS]; /* flows decided per protocol */
	uint64_t app_unknown;                /* flows with payload, unidentified */
	uint64_t unknown_payload[4];         /* of those, per enum ident_payload */
	uint64_t app_none;                   /* flows without payload */
};

/* One finding, as the alert record and the text line show it. */
/* An alert lists at most this many bytes of expected ports (whole entries). */
#define REPORT_PORTS_MAX 512

/* Who decided a flow's verdict, for the alert and flow records. */
struct verdict_note {
	const char *decided_by;    /* "registry" or "policy"; NULL: not shown */
	const char *rule;          /* registry: the entry consulted, named by
	                              the server's port ("tcp/443", also when
	                              it has no entry); policy: the rule's
	                              name, else its FILE:LINE, or "default" */
	const char *rule_location; /* policy: FILE:LINE; NULL for the registry */
	const char *explanation;   /* --explain: why, in a sentence; or NULL */
};

struct alert_info {
	const struct flow *f;
	uint64_t ts_us;                  /* when it was decided (capture time) */
	int proto;                       /* ident_registry index, -1 = unknown */
	const struct finding *finding;
	const struct ident_evidence *ev; /* NULL when unidentified */
	const struct ports *ports;
	const char *expected_ports;      /* ports_of_proto(ports, proto), or NULL
	                                    to have it listed here */
	const struct verdict_note *note; /* or NULL */
};

/* Meaning of the pipeline's per-flow fields (struct flow user_*) for the
 * records: user_proto is the identified protocol (-1 none); user_flags: */
#define REPORT_UF_PAYLOAD 0x01 /* the flow carried payload */
#define REPORT_UF_DECIDED 0x02 /* the verdict was taken */
#define REPORT_UF_CUT_TS 0x04  /* the snap length cut client-to-server payload */
#define REPORT_UF_CUT_TC 0x08  /* ... server-to-client payload */
/* bits 4-5: enum ident_payload of an unidentified flow's first message */
#define REPORT_UF_PAYLOAD_SHIFT 4
#define REPORT_UF_PAYLOAD_MASK 0x30
#define REPORT_UF_INSPECTION_CUT 0x40 /* decided early: its slot went to a new flow */
#define REPORT_UF_REPEAT 0x80 /* a finding not alerted: a repeat (dedup.h) */

/* The flow's observed protocol name: a protocol, "unknown" (payload that
 * no identifier recognised) or "none" (no payload). */
const char *report_app_proto(const struct flow *f);

/* One EVE "alert" record. */
void report_alert_json(struct json *j, const struct alert_info *a);

/* One line for people, in the spirit of Suricata's fast.log. Returns 0 or
 * -1 on a write error. */
int report_alert_text(FILE *out, const struct alert_info *a);

/* True when every packet read is accounted for by exactly one decode
 * result and every flow created was reported. */
bool report_accounted(const struct run_totals *t);

/* The longest name from the program's tables that a flow record shows
 * (protocols, states, reasons, kinds, classes, tunnel types): report.c
 * writes that record without a room check per member, counting on it
 * (the unit tests check every name). */
#define REPORT_NAME_MAX 64

/* One EVE "flow" record for a flow that ended. first_bytes[] are the
 * contiguous first bytes kept per direction; inspected is false when the
 * flow found the stream pool empty. */
void report_flow_json(struct json *j, const struct flow *f, const uint32_t first_bytes[2],
                      bool inspected, const struct verdict_note *note);

/* The explanation of a flow's verdict (--explain), a sentence into out:
 * what was seen, what the registry says of it (reason), what the policy
 * did: pol is the policy the flow was decided under (NULL: none, or gone
 * when policy_gone) and rule what verdict_apply_policy answered;
 * inspected as for report_flow_json. */
void report_explain(char *out, size_t outlen, const struct flow *f, const struct ports *ports,
                    enum verdict_reason reason, const struct policy *pol, int rule,
                    bool policy_gone, bool inspected, uint64_t dedup_window_us);

/* One line for people per flow (--explain). Returns 0 or -1. */
int report_explain_text(FILE *out, const struct flow *f, const char *explanation);

/* The registry entry a verdict consulted, named by the port: "tcp/443"
 * (a range's entry too, and a port without one). */
void report_entry_spec(const struct ports *ports, uint8_t ip_proto, uint16_t port, char *out,
                       size_t outlen);

/* The rule named for a flow decided under a policy no longer kept. */
#define REPORT_RULE_REPLACED "(a policy since replaced)"

/* The label of a policy rule (its name, else FILE:LINE; "default" for
 * rule VERDICT_BY_DEFAULT) and its location (FILE:LINE). */
void report_rule_label(const struct policy *pol, int rule, char *label, size_t labellen,
                       char *loc, size_t loclen);

/* A closed deduplication group that held repeats: one EVE "dedup"
 * record, and the text line. */
void report_dedup_json(struct json *j, const struct dedup_group *g, enum dedup_close why,
                       uint64_t window_us);
int report_dedup_text(FILE *out, const struct dedup_group *g);

/* The final EVE "stats" record. */
void report_stats_json(struct json *j, const struct run_totals *t);

/* The human-readable summary. Returns 0, or -1 on a write error. */
int report_summary_text(FILE *out, const struct run_totals *t);

/* Address as text (inet_ntop); out must hold 46 bytes. */
size_t report_ip(uint8_t ipver, const uint8_t addr[16], char out[46]);

#endif
