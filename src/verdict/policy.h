/*
 * policy.h - the site policy (--policy FILE; etc/policy.conf documents the
 * format): ordered rules, first match wins, and an explicit default.
 *
 * A rule says what to do with a flow whose payload was inspected (its
 * protocol identified, or "unknown"): allow it (no finding, whatever the
 * ports registry says) or alert on it (a finding even where the registry
 * would stay quiet), optionally with its own severity. It matches on the
 * observed protocol, transport, server port, server and client addresses,
 * direction relative to the home network, and the TLS SNI or HTTP host.
 * Every key given must match (AND); a key's list matches when any item
 * does (OR); "!" before a value takes its complement.
 *
 *   set home 10.0.0.0/8 192.168.0.0/16 fd00::/8
 *   set sslh 10.1.2.3
 *   default registry
 *   allow proto=ssh port=tcp/443 server=$sslh name=sslh-box
 *   alert proto=!tls port=tcp/443 direction=outbound severity=high
 *   allow proto=tls sni=*.corp.example.com
 *
 * Startup code: loading allocates and reports "FILE:LINE: message";
 * matching (policy_match) allocates nothing and is safe per flow.
 */
#ifndef OFFPORT_VERDICT_POLICY_H
#define OFFPORT_VERDICT_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "verdict/ports.h"

enum policy_action {
	POLICY_ALLOW = 1, /* no finding */
	POLICY_ALERT = 2, /* a finding */
	/* "drop" is a reserved word: the parser rejects it until offport
	 * runs inline */
};

/* What happens to a flow no rule matches. */
enum policy_default {
	POLICY_DEFAULT_REGISTRY = 0, /* the ports registry's verdict stands */
	POLICY_DEFAULT_ALLOW = 1,    /* no finding */
	POLICY_DEFAULT_ALERT = 2,    /* a finding (a strict allow-list) */
};

/* Direction of a flow relative to the home network (set "home"). */
enum policy_direction {
	POLICY_DIR_INBOUND = 0,  /* client outside home, server inside */
	POLICY_DIR_OUTBOUND = 1, /* client inside, server outside */
	POLICY_DIR_INTERNAL = 2, /* both inside */
	POLICY_DIR_EXTERNAL = 3, /* neither inside */
};

/* What a rule is matched against: one decided flow. */
struct policy_flow {
	int proto;                    /* ident_registry index; -1 = unknown */
	enum ports_transport transport;
	uint16_t server_port;
	uint8_t ip_version;           /* 4 or 6 */
	const uint8_t *server_ip;     /* 16 bytes; IPv4 in the first 4 */
	const uint8_t *client_ip;
	const uint8_t *sni;           /* TLS SNI (evidence "sni"), or NULL */
	size_t sni_len;
	const uint8_t *host;          /* HTTP Host (evidence "http_host") as
	                                 sent, maybe with ":port", or NULL */
	size_t host_len;
};

/* One rule, as loaded. */
struct policy_rule_info {
	enum policy_action action;
	uint8_t severity;             /* 1 high, 2 medium, 3 low; 0 = not set */
	const char *name;             /* name=..., or NULL */
	unsigned line;                /* its line in the file */
	const char *text;             /* the rule as written, comments and
	                                 surrounding blanks removed */
};

struct policy; /* opaque */

/* Loads a policy file. Returns 0 with *out set, or -1 with
 * "FILE:LINE: message" (or "FILE: message" for a whole-file problem:
 * cannot open, no default line) in err. */
int policy_load_file(const char *path, struct policy **out, char *err, size_t errlen);

/* The same from text, as if read from a file called `name`. */
int policy_load_text(const char *name, const char *text, size_t len, struct policy **out,
                     char *err, size_t errlen);

void policy_free(struct policy *p);

/* The file name given at load. */
const char *policy_file(const struct policy *p);

unsigned policy_rule_count(const struct policy *p);
const struct policy_rule_info *policy_rule(const struct policy *p, unsigned i);

enum policy_default policy_default_action(const struct policy *p);
/* "registry", "allow" or "alert", as the default line writes it. */
const char *policy_default_name(enum policy_default d);
unsigned policy_default_line(const struct policy *p);

/* True when the file defines the home network (set home ...). */
bool policy_has_home(const struct policy *p);

/* The direction of a flow (meaningful only with a home network). */
enum policy_direction policy_flow_direction(const struct policy *p, const struct policy_flow *f);
const char *policy_direction_name(enum policy_direction d);

/* Index of the first rule that matches f, or -1 when none does (the
 * default applies). Allocates nothing. */
int policy_match(const struct policy *p, const struct policy_flow *f);

/* Rules that can never match (offport --check-policy). For each, in file
 * order, calls report(ctx, rule, by, why):
 *   by >= 0: an earlier rule `by` matches every flow rule `rule` would
 *            (each of its keys accepts a superset), so first-match-wins
 *            never reaches it;
 *   by == -1: the rule contradicts itself (e.g. proto=ssh transport=udp:
 *            SSH is never identified over UDP; sni= with a protocol that
 *            carries no SNI); why says how.
 * The analysis is sound, not complete: it never names a rule that can
 * match, and may miss a rule that only several earlier rules together
 * cover. Returns the number of rules reported. */
typedef void (*policy_dead_fn)(void *ctx, unsigned rule, int by, const char *why);
unsigned policy_dead_rules(const struct policy *p, policy_dead_fn report, void *ctx);

/* Not for the engine (which wants policy_match's first match): true when
 * rule i alone matches f, whatever the rules before it. For tests and
 * fuzz/fuzz_policy.c, which check policy_dead_rules against it. */
bool policy_rule_matches(const struct policy *p, unsigned i, const struct policy_flow *f);

#endif
