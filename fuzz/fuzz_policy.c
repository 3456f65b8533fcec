/*
 * fuzz_policy.c - libFuzzer harness for the site policy: any bytes as a
 * --policy file. Loading must answer 0, or -1 with an error that starts
 * with the file name. A policy that loads is then matched against flows
 * made by a PRNG seeded from the input (addresses, ports and names taken
 * from the input's own text, and their neighbours, so that rule edges are
 * hit), and the dead-rule analysis is checked for soundness:
 *   - policy_match is the first rule whose policy_rule_matches holds;
 *   - a rule reported shadowed by `by` never matches a flow `by` misses;
 *   - a rule reported self-contradicting never matches.
 * Flows are the kind the engine makes: a protocol only over a transport its
 * identifier runs on, an SNI only on tls/dtls/tor, an HTTP Host only on
 * http/websocket (what the identifiers put in their evidence).
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "identify/identify.h"
#include "verdict/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_DEAD 64
#define MAX_CAND 32
#define FLOWS 200

struct dead {
	unsigned n;
	unsigned rule[MAX_DEAD];
	int by[MAX_DEAD];
};

static void on_dead(void *ctx, unsigned rule, int by, const char *why)
{
	struct dead *d = ctx;
	if (!why || !*why)
		abort();
	if (d->n < MAX_DEAD) {
		d->rule[d->n] = rule;
		d->by[d->n] = by;
	}
	d->n++;
}

static uint64_t next(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

struct cands {
	uint8_t ip4[MAX_CAND][4], ip6[MAX_CAND][16];
	unsigned n4, n6;
	unsigned port[MAX_CAND], nport;
	char name[MAX_CAND][80];
	unsigned nname;
};

static bool addr_char(uint8_t c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
	       c == '.' || c == ':';
}

static bool name_char(uint8_t c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       c == '.' || c == '-' || c == '_' || c == '*' || c == ':' || c == '[' || c == ']';
}

/* Addresses, numbers and names written in the input. */
static void scan(const uint8_t *d, size_t n, struct cands *c)
{
	memset(c, 0, sizeof *c);
	for (size_t i = 0; i < n;) {
		if (!addr_char(d[i])) {
			i++;
			continue;
		}
		size_t j = i;
		while (j < n && addr_char(d[j]))
			j++;
		char tok[64];
		size_t len = j - i < sizeof tok - 1 ? j - i : sizeof tok - 1;
		memcpy(tok, d + i, len);
		tok[len] = 0;
		uint8_t b[16];
		if (c->n4 < MAX_CAND && inet_pton(AF_INET, tok, b) == 1)
			memcpy(c->ip4[c->n4++], b, 4);
		else if (c->n6 < MAX_CAND && inet_pton(AF_INET6, tok, b) == 1)
			memcpy(c->ip6[c->n6++], b, 16);
		else if (c->nport < MAX_CAND && tok[0] >= '0' && tok[0] <= '9')
			c->port[c->nport++] = (unsigned)strtoul(tok, NULL, 10);
		i = j;
	}
	for (size_t i = 0; i < n && c->nname < MAX_CAND;) {
		if (!name_char(d[i])) {
			i++;
			continue;
		}
		size_t j = i;
		while (j < n && name_char(d[j]))
			j++;
		size_t len = j - i < 60 ? j - i : 60;
		memcpy(c->name[c->nname], d + i, len);
		c->name[c->nname][len] = 0;
		if (memchr(c->name[c->nname], '.', len))
			c->nname++;
		i = j;
	}
}

/* One of the input's addresses, perturbed by -1, 0 or +1, or random. */
static void pick_ip(uint64_t *x, const struct cands *c, int v6, uint8_t *out)
{
	uint64_t r = next(x);
	memset(out, 0, 16);
	unsigned width = v6 ? 16 : 4;
	unsigned n = v6 ? c->n6 : c->n4;
	if (n && r % 4) {
		memcpy(out, v6 ? c->ip6[(r >> 8) % n] : c->ip4[(r >> 8) % n], width);
		int delta = (int)((r >> 20) % 3) - 1;
		for (int i = (int)width - 1; i >= 0 && delta; i--) {
			int v = out[i] + delta;
			out[i] = (uint8_t)v;
			if (v >= 0 && v <= 255)
				break; /* no carry */
		}
	} else {
		for (unsigned i = 0; i < width; i++)
			out[i] = (uint8_t)(next(x) >> 32);
	}
}

static void pick_name(uint64_t *x, const struct cands *c, bool host, char *out, size_t cap)
{
	uint64_t r = next(x);
	const char *base = c->nname ? c->name[(r >> 4) % c->nname] : "example.com";
	if (base[0] == '*')
		base += 1; /* "*.example.com" -> ".example.com", prefixed below */
	const char *pre[] = {"", "a", "www", "x.y"};
	const char *post[] = {"", ".", ":8080", ".:1"};
	const char *suffix = post[(r >> 12) % (host ? 4 : 2)];
	snprintf(out, cap, "%s%s%s", base[0] == '.' ? pre[(r >> 8) % 4] : "", base, suffix);
	if ((r >> 16) & 1) /* case flips */
		for (char *p = out; *p; p++)
			if (*p >= 'a' && *p <= 'z' && (next(x) & 1))
				*p = (char)(*p - 32);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512];
	char *text = malloc(size ? size : 1);
	if (!text)
		abort();
	memcpy(text, data, size);
	struct policy *p = NULL;
	err[0] = 0;
	int rc = policy_load_text("fuzz.conf", text, size, &p, err, sizeof err);
	free(text);
	if (rc != 0) {
		if (rc != -1 || p || strncmp(err, "fuzz.conf:", 10) != 0)
			abort();
		return 0;
	}
	if (!p || strcmp(policy_file(p), "fuzz.conf") != 0 || policy_default_line(p) == 0)
		abort();
	unsigned nrules = policy_rule_count(p);
	for (unsigned i = 0; i < nrules; i++) {
		const struct policy_rule_info *r = policy_rule(p, i);
		if (!r || !r->text || r->line == 0 || r->severity > 3 ||
		    (r->action != POLICY_ALLOW && r->action != POLICY_ALERT) ||
		    (r->severity && r->action != POLICY_ALERT))
			abort();
	}
	struct dead d;
	memset(&d, 0, sizeof d);
	unsigned ndead = policy_dead_rules(p, on_dead, &d);
	if (ndead != d.n)
		abort();
	for (unsigned k = 0; k < d.n && k < MAX_DEAD; k++)
		if (d.rule[k] >= nrules || d.by[k] >= (int)d.rule[k] || d.by[k] < -1)
			abort();

	struct cands c;
	scan(data, size, &c);
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	for (size_t i = 0; i < size; i++)
		seed = (seed ^ data[i]) * 0x100000001b3ull;
	if (!seed)
		seed = 1;
	int sni_protos[3] = {ident_find("tls"), ident_find("dtls"), ident_find("tor")};
	int host_protos[2] = {ident_find("http"), ident_find("websocket")};
	for (unsigned it = 0; it < FLOWS; it++) {
		uint64_t r = next(&seed);
		struct policy_flow f;
		memset(&f, 0, sizeof f);
		uint8_t sip[16], cip[16];
		char sni[128], host[128];
		/* protocol: often one that carries a name, sometimes unknown */
		switch (r % 5) {
		case 0:
			f.proto = sni_protos[(r >> 8) % 3];
			break;
		case 1:
			f.proto = host_protos[(r >> 8) % 2];
			break;
		case 2:
			f.proto = -1;
			break;
		default:
			f.proto = (int)((r >> 8) % ident_count);
			break;
		}
		uint8_t tr = f.proto < 0 ? (IDENT_TCP | IDENT_UDP) : ident_registry[f.proto]->transports;
		if (tr == (IDENT_TCP | IDENT_UDP))
			f.transport = (r >> 16) & 1 ? PORTS_UDP : PORTS_TCP;
		else
			f.transport = tr & IDENT_UDP ? PORTS_UDP : PORTS_TCP;
		unsigned pr = (unsigned)(r >> 20);
		if (c.nport && pr % 4) {
			unsigned port = c.port[(pr >> 4) % c.nport] + (pr >> 10) % 3 - 1;
			f.server_port = (uint16_t)port;
		} else {
			f.server_port = (uint16_t)(pr >> 2);
		}
		int v6 = (r >> 40) & 1;
		f.ip_version = v6 ? 6 : 4;
		pick_ip(&seed, &c, v6, sip);
		pick_ip(&seed, &c, v6, cip);
		f.server_ip = sip;
		f.client_ip = cip;
		bool names = (r >> 41) % 4 != 0;
		for (int k = 0; k < 3; k++)
			if (f.proto >= 0 && f.proto == sni_protos[k] && names) {
				pick_name(&seed, &c, false, sni, sizeof sni);
				f.sni = (const uint8_t *)sni;
				f.sni_len = strlen(sni);
			}
		for (int k = 0; k < 2; k++)
			if (f.proto >= 0 && f.proto == host_protos[k] && names) {
				pick_name(&seed, &c, true, host, sizeof host);
				f.host = (const uint8_t *)host;
				f.host_len = strlen(host);
			}
		int first = -1;
		for (unsigned i = 0; i < nrules && first < 0; i++)
			if (policy_rule_matches(p, i, &f))
				first = (int)i;
		if (policy_match(p, &f) != first)
			abort();
		if ((unsigned)policy_flow_direction(p, &f) > POLICY_DIR_EXTERNAL)
			abort();
		for (unsigned k = 0; k < d.n && k < MAX_DEAD; k++) {
			if (!policy_rule_matches(p, d.rule[k], &f))
				continue;
			if (d.by[k] < 0 || !policy_rule_matches(p, (unsigned)d.by[k], &f))
				abort(); /* a rule called dead matched a flow its reason excludes */
		}
	}
	policy_free(p);
	return 0;
}
