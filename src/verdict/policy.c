/*
 * policy.c - the site policy: a strict parser for the rules file
 * (etc/policy.conf documents the format), first-match-wins matching, and
 * the dead-rule analysis behind offport --check-policy.
 *
 * Every error names the file and line: "site.conf:7: unknown protocol
 * 'htpp' (offport --list-protocols)". Loading is startup code and
 * allocates; policy_match allocates nothing.
 *
 * Representation (what matching and the analysis work on): every value is
 * turned at load into the exact set of flows the key accepts, negation
 * and $SET references already applied:
 *   - addresses: two sorted, merged lists of inclusive intervals, IPv4
 *     (values below 2^32) and IPv6 (128 bits), looked up by binary search;
 *   - transport and port together: one interval list of server ports per
 *     transport (transport=udp is udp/0-65535 and no tcp port);
 *   - proto: a bitset over ident_registry plus one bit for "unknown";
 *   - direction: a 4-bit mask;
 *   - sni/host: a list of lower-case patterns and a negation flag.
 * A key the rule does not give holds the full set, so that "B accepts a
 * superset of A" is one containment test per key.
 */
#include "verdict/policy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/file.h"
#include "identify/identify.h"

#define POLICY_LINE_MAX 4096
#define POLICY_MAX_RULES 10000
#define POLICY_MAX_SETS 1000
#define POLICY_MAX_RANGES (1u << 20) /* intervals held by sets and rules together */
#define POLICY_NAME_MAX 64
#define POLICY_PATTERN_MAX 253 /* a DNS name's longest text form */
#define POLICY_FILE_MAX (16u << 20)

/* proto bitset: bit i = ident_registry[i], bit PSET_UNKNOWN = no identifier */
#define PSET_UNKNOWN PORTS_MAX_PROTOS
#define PSET_WORDS (PORTS_MAX_PROTOS / 64 + 1)

struct pset {
	uint64_t w[PSET_WORDS];
};

/* ------------------------------------------------------------------ */
/* 128-bit values and interval lists                                   */

struct u128 {
	uint64_t hi, lo;
};

struct range {
	struct u128 lo, hi; /* inclusive */
};

struct ivl {
	struct range *r;
	unsigned n, cap;
};

static int u128_cmp(struct u128 a, struct u128 b)
{
	if (a.hi != b.hi)
		return a.hi < b.hi ? -1 : 1;
	if (a.lo != b.lo)
		return a.lo < b.lo ? -1 : 1;
	return 0;
}

static struct u128 u128_inc(struct u128 a)
{
	a.lo++;
	if (a.lo == 0)
		a.hi++;
	return a;
}

static struct u128 u128_dec(struct u128 a)
{
	if (a.lo == 0)
		a.hi--;
	a.lo--;
	return a;
}

/* The value with the low `bits` bits set (0 to 128). */
static struct u128 u128_low_mask(unsigned bits)
{
	struct u128 m = {0, 0};
	if (bits >= 128)
		return (struct u128){~0ull, ~0ull};
	if (bits >= 64) {
		m.lo = ~0ull;
		m.hi = bits == 64 ? 0 : (~0ull >> (128 - bits));
	} else if (bits > 0) {
		m.lo = ~0ull >> (64 - bits);
	}
	return m;
}

static struct u128 u128_small(uint64_t v)
{
	return (struct u128){0, v};
}

/* IPv4 (4 bytes) or IPv6 (16 bytes), network order. */
static struct u128 u128_from_ip(const uint8_t *b, int v6)
{
	struct u128 x = {0, 0};
	if (!v6) {
		x.lo = (uint64_t)b[0] << 24 | (uint64_t)b[1] << 16 | (uint64_t)b[2] << 8 | b[3];
		return x;
	}
	for (int i = 0; i < 8; i++)
		x.hi = x.hi << 8 | b[i];
	for (int i = 8; i < 16; i++)
		x.lo = x.lo << 8 | b[i];
	return x;
}

static void u128_to_ip(struct u128 x, int v6, uint8_t *b)
{
	if (!v6) {
		for (int i = 0; i < 4; i++)
			b[i] = (uint8_t)(x.lo >> (24 - 8 * i));
		return;
	}
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(x.hi >> (56 - 8 * i));
	for (int i = 0; i < 8; i++)
		b[8 + i] = (uint8_t)(x.lo >> (56 - 8 * i));
}

static void ivl_free(struct ivl *v)
{
	free(v->r);
	v->r = NULL;
	v->n = v->cap = 0;
}

static int ivl_push(struct ivl *v, struct u128 lo, struct u128 hi)
{
	if (v->n == v->cap) {
		unsigned cap = v->cap ? v->cap * 2 : 4;
		struct range *r = realloc(v->r, (size_t)cap * sizeof *r);
		if (!r)
			return -1;
		v->r = r;
		v->cap = cap;
	}
	v->r[v->n].lo = lo;
	v->r[v->n].hi = hi;
	v->n++;
	return 0;
}

static int range_cmp(const void *a, const void *b)
{
	const struct range *x = a, *y = b;
	return u128_cmp(x->lo, y->lo);
}

/* Sorts and merges overlapping and adjacent intervals. */
static void ivl_normalize(struct ivl *v)
{
	if (v->n < 2)
		return;
	qsort(v->r, v->n, sizeof *v->r, range_cmp);
	unsigned out = 0;
	for (unsigned i = 1; i < v->n; i++) {
		struct range *cur = &v->r[out];
		const struct range *nx = &v->r[i];
		/* adjacent when nx.lo <= cur.hi + 1 (cur.hi may be the maximum) */
		bool all = cur->hi.hi == ~0ull && cur->hi.lo == ~0ull;
		if (all || u128_cmp(nx->lo, u128_inc(cur->hi)) <= 0) {
			if (u128_cmp(nx->hi, cur->hi) > 0)
				cur->hi = nx->hi;
		} else {
			v->r[++out] = *nx;
		}
	}
	v->n = out + 1;
}

/* The complement of a normalized list within [0, max]. */
static int ivl_complement(struct ivl *v, struct u128 max)
{
	struct ivl c = {NULL, 0, 0};
	struct u128 next = {0, 0};
	bool done = false; /* next passed max */
	for (unsigned i = 0; i < v->n; i++) {
		if (u128_cmp(v->r[i].lo, next) > 0 && ivl_push(&c, next, u128_dec(v->r[i].lo)) != 0)
			goto oom;
		if (u128_cmp(v->r[i].hi, max) >= 0) {
			done = true;
			break;
		}
		next = u128_inc(v->r[i].hi);
	}
	if (!done && ivl_push(&c, next, max) != 0)
		goto oom;
	ivl_free(v);
	*v = c;
	return 0;
oom:
	ivl_free(&c);
	return -1;
}

/* Index of the last interval whose lo <= x, or -1. */
static long ivl_find(const struct ivl *v, struct u128 x)
{
	long lo = 0, hi = (long)v->n - 1, best = -1;
	while (lo <= hi) {
		long mid = lo + (hi - lo) / 2;
		if (u128_cmp(v->r[mid].lo, x) <= 0) {
			best = mid;
			lo = mid + 1;
		} else {
			hi = mid - 1;
		}
	}
	return best;
}

static bool ivl_has(const struct ivl *v, struct u128 x)
{
	long i = ivl_find(v, x);
	return i >= 0 && u128_cmp(x, v->r[i].hi) <= 0;
}

/* a is a subset of b (both normalized). */
static bool ivl_within(const struct ivl *a, const struct ivl *b)
{
	for (unsigned i = 0; i < a->n; i++) {
		long j = ivl_find(b, a->r[i].lo);
		if (j < 0 || u128_cmp(a->r[i].hi, b->r[j].hi) > 0)
			return false;
	}
	return true;
}

static int ivl_append(struct ivl *dst, const struct ivl *src)
{
	for (unsigned i = 0; i < src->n; i++)
		if (ivl_push(dst, src->r[i].lo, src->r[i].hi) != 0)
			return -1;
	return 0;
}

static const struct u128 max_v4 = {0, 0xffffffffull};
static const struct u128 max_v6 = {~0ull, ~0ull};
static const struct u128 max_port = {0, 65535};

/* ------------------------------------------------------------------ */
/* the policy                                                          */

enum key {
	K_PROTO,
	K_TRANSPORT,
	K_PORT,
	K_SERVER,
	K_CLIENT,
	K_DIRECTION,
	K_SNI,
	K_HOST,
	K_SEVERITY,
	K_NAME,
	K_COUNT
};

static const char *const key_names[K_COUNT] = {
	"proto", "transport", "port", "server", "client",
	"direction", "sni", "host", "severity", "name",
};

#define KB(k) (1u << (k))

struct pattern {
	char *s;     /* lower case; a suffix pattern keeps its dot: ".example.com" */
	size_t len;
	bool suffix; /* written "*.example.com" */
};

struct names {
	struct pattern *v;
	unsigned n;
	bool neg;
};

struct rule {
	struct policy_rule_info info;
	unsigned keys;         /* KB() of the keys given */
	struct pset proto;     /* full when proto= is absent */
	struct ivl tp[2];      /* server ports per transport (PORTS_TCP, PORTS_UDP) */
	struct ivl server[2];  /* [0] IPv4, [1] IPv6 */
	struct ivl client[2];
	uint8_t dirs;          /* bit per enum policy_direction */
	uint8_t tmask;         /* transport= while the rule is read */
	struct names sni, host;
};

struct policy {
	char *file;
	struct rule *rules;
	unsigned nrules, cap;
	enum policy_default def;
	unsigned def_line;
	bool has_home;
	struct ivl home[2];
};

struct named_set {
	char name[POLICY_NAME_MAX + 1];
	unsigned line;
	struct ivl a[2];
};

struct parser {
	struct policy *p;
	const char *name;
	char *err;
	size_t errlen;
	unsigned line;
	struct named_set *sets;
	unsigned nsets;
	size_t nranges;
	struct pset all_protos; /* every protocol and unknown */
};


#define PFAIL(ps, ...) config_error((ps)->err, (ps)->errlen, (ps)->name, (ps)->line, __VA_ARGS__)

static void pset_set(struct pset *s, unsigned bit)
{
	s->w[bit / 64] |= 1ull << (bit % 64);
}

static bool pset_has(const struct pset *s, unsigned bit)
{
	return (s->w[bit / 64] >> (bit % 64)) & 1u;
}

static bool pset_empty(const struct pset *s)
{
	for (unsigned i = 0; i < PSET_WORDS; i++)
		if (s->w[i])
			return false;
	return true;
}

static void pset_all(struct pset *s)
{
	memset(s, 0, sizeof *s);
	for (unsigned i = 0; i < ident_count && i < PORTS_MAX_PROTOS; i++)
		pset_set(s, i);
	pset_set(s, PSET_UNKNOWN);
}

static void names_free(struct names *n)
{
	for (unsigned i = 0; i < n->n; i++)
		free(n->v[i].s);
	free(n->v);
	n->v = NULL;
	n->n = 0;
}

static void rule_free(struct rule *r)
{
	free((char *)(uintptr_t)r->info.name);
	free((char *)(uintptr_t)r->info.text);
	for (int i = 0; i < 2; i++) {
		ivl_free(&r->tp[i]);
		ivl_free(&r->server[i]);
		ivl_free(&r->client[i]);
	}
	names_free(&r->sni);
	names_free(&r->host);
}

void policy_free(struct policy *p)
{
	if (!p)
		return;
	for (unsigned i = 0; i < p->nrules; i++)
		rule_free(&p->rules[i]);
	free(p->rules);
	ivl_free(&p->home[0]);
	ivl_free(&p->home[1]);
	free(p->file);
	free(p);
}

/* ------------------------------------------------------------------ */
/* parsing helpers                                                     */

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* A decimal number of at most `maxdigits` digits, nothing else. */
static bool parse_uint(const char *s, size_t len, unsigned maxdigits, unsigned long *out)
{
	if (len == 0 || len > maxdigits)
		return false;
	unsigned long v = 0;
	for (size_t i = 0; i < len; i++) {
		if (!is_digit(s[i]))
			return false;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	*out = v;
	return true;
}

/* [A-Za-z_][A-Za-z0-9_-]{0,63} */
static bool valid_set_name(const char *s, size_t len)
{
	if (len == 0 || len > POLICY_NAME_MAX || !(is_alpha(s[0]) || s[0] == '_'))
		return false;
	for (size_t i = 1; i < len; i++)
		if (!(is_alpha(s[i]) || is_digit(s[i]) || s[i] == '_' || s[i] == '-'))
			return false;
	return true;
}

static int count_ranges(struct parser *ps, size_t more)
{
	ps->nranges += more;
	if (ps->nranges > POLICY_MAX_RANGES)
		return PFAIL(ps, "the policy holds more than %u address and port ranges; use fewer, "
		                 "larger CIDRs",
		             POLICY_MAX_RANGES);
	return 0;
}

static const struct named_set *find_set(const struct parser *ps, const char *name, size_t len)
{
	for (unsigned i = 0; i < ps->nsets; i++)
		if (strlen(ps->sets[i].name) == len && memcmp(ps->sets[i].name, name, len) == 0)
			return &ps->sets[i];
	return NULL;
}

/* One address item (len bytes at s): an address, a CIDR, $SET or any,
 * appended to a[0] (IPv4) and a[1] (IPv6). self: the set being defined,
 * or NULL. */
static int parse_addr_item(struct parser *ps, const char *s, size_t len, struct ivl a[2],
                           const char *self)
{
	char tok[POLICY_LINE_MAX + 1];
	memcpy(tok, s, len);
	tok[len] = 0;
	if (strcmp(tok, "any") == 0) {
		if (ivl_push(&a[0], u128_small(0), max_v4) || ivl_push(&a[1], u128_small(0), max_v6))
			return PFAIL(ps, "out of memory");
		return count_ranges(ps, 2);
	}
	if (tok[0] == '!')
		return PFAIL(ps, "'%s': '!' negates a whole key's value (server=!$NAME), not an item "
		                 "in a list or a set",
		             tok);
	if (tok[0] == '$') {
		if (self && strcmp(tok + 1, self) == 0)
			return PFAIL(ps, "set '%s' cannot include itself", self);
		const struct named_set *ns = find_set(ps, tok + 1, len - 1);
		if (!ns)
			return PFAIL(ps, "unknown set '%s' (define it with 'set %s ...' on an earlier line)",
			             tok, tok + 1);
		if (ivl_append(&a[0], &ns->a[0]) || ivl_append(&a[1], &ns->a[1]))
			return PFAIL(ps, "out of memory");
		return count_ranges(ps, ns->a[0].n + ns->a[1].n);
	}
	char *slash = strchr(tok, '/');
	char addr[64];
	size_t alen = slash ? (size_t)(slash - tok) : len;
	bool bad = alen == 0 || alen >= sizeof addr;
	int v6 = 0;
	uint8_t bytes[16];
	if (!bad) {
		memcpy(addr, tok, alen);
		addr[alen] = 0;
		v6 = strchr(addr, ':') != NULL;
		bad = inet_pton(v6 ? AF_INET6 : AF_INET, addr, bytes) != 1;
	}
	if (bad)
		return PFAIL(ps, "'%s' is not an address (10.1.2.3, 2001:db8::1), a CIDR (10.0.0.0/8, "
		                 "fd00::/8), $SET or any",
		             tok);
	unsigned width = v6 ? 128 : 32;
	unsigned long prefix = width;
	if (slash) {
		const char *pl = slash + 1;
		if (!parse_uint(pl, strlen(pl), 3, &prefix))
			return PFAIL(ps, "'%s' has a bad prefix length (0 to %u)", tok, width);
		if (prefix > width)
			return PFAIL(ps, "'%s': prefix length %lu is beyond %u", tok, prefix, width);
	}
	struct u128 x = u128_from_ip(bytes, v6);
	struct u128 host = u128_low_mask(width - (unsigned)prefix);
	if ((x.hi & host.hi) || (x.lo & host.lo)) {
		struct u128 net = {x.hi & ~host.hi, x.lo & ~host.lo};
		uint8_t nb[16];
		char text[64];
		u128_to_ip(net, v6, nb);
		if (!inet_ntop(v6 ? AF_INET6 : AF_INET, nb, text, sizeof text))
			text[0] = 0;
		return PFAIL(ps, "%s has host bits set; did you mean %s/%lu?", tok, text, prefix);
	}
	struct u128 hi = {x.hi | host.hi, x.lo | host.lo};
	if (ivl_push(&a[v6], x, hi))
		return PFAIL(ps, "out of memory");
	return count_ranges(ps, 1);
}

/* ------------------------------------------------------------------ */
/* statements                                                          */

static const char *skip_blank(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

/* set NAME ITEM... (items separated by blanks and/or one comma) */
static int parse_set(struct parser *ps, const char *rest)
{
	const char *s = skip_blank(rest);
	const char *nm = s;
	while (*s && *s != ' ' && *s != '\t')
		s++;
	size_t nlen = (size_t)(s - nm);
	if (nlen == 0)
		return PFAIL(ps, "'set' needs a name and at least one address");
	char name[POLICY_LINE_MAX + 1];
	memcpy(name, nm, nlen);
	name[nlen] = 0;
	if (!valid_set_name(name, nlen))
		return PFAIL(ps, "'%s' is not a set name: a letter or '_', then up to 63 letters, "
		                 "digits, '_' or '-'",
		             name);
	const struct named_set *old = find_set(ps, name, nlen);
	if (old)
		return PFAIL(ps, "set '%s' is already defined at line %u", name, old->line);
	if (ps->nsets >= POLICY_MAX_SETS)
		return PFAIL(ps, "more than %d sets", POLICY_MAX_SETS);
	struct named_set ns;
	memset(&ns, 0, sizeof ns);
	memcpy(ns.name, name, nlen + 1);
	ns.line = ps->line;
	s = skip_blank(s);
	int rc = 0;
	if (!*s)
		rc = PFAIL(ps, "set '%s' has no items", name);
	while (rc == 0 && *s) {
		if (*s == ',') {
			rc = PFAIL(ps, "set '%s' has an empty item (a comma with nothing before it)", name);
			break;
		}
		const char *it = s;
		while (*s && *s != ' ' && *s != '\t' && *s != ',')
			s++;
		rc = parse_addr_item(ps, it, (size_t)(s - it), ns.a, name);
		if (rc)
			break;
		s = skip_blank(s);
		if (*s == ',') {
			s = skip_blank(s + 1);
			if (!*s || *s == ',')
				rc = PFAIL(ps, "set '%s' has an empty item (a comma with nothing after it)",
				           name);
		}
	}
	if (rc == 0) {
		ivl_normalize(&ns.a[0]);
		ivl_normalize(&ns.a[1]);
		struct named_set *sets = realloc(ps->sets, (ps->nsets + 1) * sizeof *sets);
		if (!sets) {
			rc = PFAIL(ps, "out of memory");
		} else {
			ps->sets = sets;
			ps->sets[ps->nsets++] = ns;
			if (strcmp(name, "home") == 0) {
				ps->p->has_home = true;
				if (ivl_append(&ps->p->home[0], &ns.a[0]) ||
				    ivl_append(&ps->p->home[1], &ns.a[1]))
					rc = PFAIL(ps, "out of memory");
			}
			return rc;
		}
	}
	ivl_free(&ns.a[0]);
	ivl_free(&ns.a[1]);
	return rc;
}

static int parse_default(struct parser *ps, char *save)
{
	char *w = strtok_r(NULL, " \t", &save);
	if (ps->p->def_line)
		return PFAIL(ps, "'default' is already given at line %u", ps->p->def_line);
	if (!w)
		return PFAIL(ps, "'default' needs one word: registry, allow or alert");
	if (strcmp(w, "registry") == 0)
		ps->p->def = POLICY_DEFAULT_REGISTRY;
	else if (strcmp(w, "allow") == 0)
		ps->p->def = POLICY_DEFAULT_ALLOW;
	else if (strcmp(w, "alert") == 0)
		ps->p->def = POLICY_DEFAULT_ALERT;
	else
		return PFAIL(ps, "unknown default '%s' (registry, allow or alert)", w);
	char *extra = strtok_r(NULL, " \t", &save);
	if (extra)
		return PFAIL(ps, "'default' takes one word, got '%s' after '%s'", extra, w);
	ps->p->def_line = ps->line;
	return 0;
}

/* Name patterns: "www.example.com" or "*.example.com"; host= also allows
 * ':', '[' and ']' (IP literals). */
static int parse_pattern(struct parser *ps, const char *key, const char *item, size_t len,
                         bool host, struct pattern *out)
{
	char tok[POLICY_LINE_MAX + 1];
	memcpy(tok, item, len);
	tok[len] = 0;
	const char *chars = host ? "letters, digits, '-', '.', '_', ':', '[', ']'"
	                         : "letters, digits, '-', '.', '_'";
	bool suffix = len >= 2 && tok[0] == '*' && tok[1] == '.';
	const char *body = suffix ? tok + 2 : tok;
	size_t blen = suffix ? len - 2 : len;
	if (blen == 0)
		return PFAIL(ps, "'%s' is not a name pattern: %s= takes www.example.com or "
		                 "*.example.com",
		             tok, key);
	if (len > POLICY_PATTERN_MAX)
		return PFAIL(ps, "name pattern '%.40s...' is longer than %d characters", tok,
		             POLICY_PATTERN_MAX);
	for (size_t i = 0; i < blen; i++) {
		char c = body[i];
		bool ok = is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' ||
		          (host && (c == ':' || c == '[' || c == ']'));
		if (c == '*')
			return PFAIL(ps, "'%s': '*' is allowed only as a leading '*.' (*.example.com)", tok);
		if (!ok)
			return PFAIL(ps, "'%s' is not a name pattern: %s= takes %s, and a leading '*.'", tok,
			             key, chars);
		if (c == '.' && (i == 0 || i + 1 == blen || body[i + 1] == '.'))
			return PFAIL(ps, "'%s' has an empty label (a leading, trailing or double '.')", tok);
	}
	out->suffix = suffix;
	out->len = suffix ? blen + 1 : blen;
	out->s = malloc(out->len + 1);
	if (!out->s)
		return PFAIL(ps, "out of memory");
	char *d = out->s;
	if (suffix)
		*d++ = '.';
	for (size_t i = 0; i < blen; i++) {
		char c = body[i];
		d[i] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
	}
	d[blen] = 0;
	return 0;
}

/* Splits a key's list at commas; calls one(ps, r, item, len) for each. */
typedef int (*item_fn)(struct parser *ps, struct rule *r, enum key k, const char *item,
                       size_t len);

static int for_items(struct parser *ps, struct rule *r, enum key k, const char *value, item_fn one)
{
	const char *s = value;
	for (;;) {
		const char *c = strchr(s, ',');
		size_t len = c ? (size_t)(c - s) : strlen(s);
		if (len == 0)
			return PFAIL(ps, "'%s=%s' has an empty item in its list", key_names[k], value);
		if (one(ps, r, k, s, len) != 0)
			return -1;
		if (!c)
			return 0;
		s = c + 1;
	}
}

static bool item_is(const char *item, size_t len, const char *word)
{
	return strlen(word) == len && memcmp(item, word, len) == 0;
}

static int one_proto(struct parser *ps, struct rule *r, enum key k, const char *item, size_t len)
{
	(void)k;
	char tok[POLICY_LINE_MAX + 1];
	memcpy(tok, item, len);
	tok[len] = 0;
	if (strcmp(tok, "any") == 0) {
		r->proto = ps->all_protos;
		return 0;
	}
	if (strcmp(tok, "unknown") == 0) {
		pset_set(&r->proto, PSET_UNKNOWN);
		return 0;
	}
	int proto = ident_find(tok);
	if (proto < 0)
		return PFAIL(ps, "unknown protocol '%s' (offport --list-protocols)", tok);
	if (proto >= PORTS_MAX_PROTOS)
		return PFAIL(ps, "protocol index out of range");
	pset_set(&r->proto, (unsigned)proto);
	return 0;
}

static int one_transport(struct parser *ps, struct rule *r, enum key k, const char *item,
                         size_t len)
{
	(void)k;
	if (item_is(item, len, "tcp"))
		r->tmask |= 1u << PORTS_TCP;
	else if (item_is(item, len, "udp"))
		r->tmask |= 1u << PORTS_UDP;
	else if (item_is(item, len, "any"))
		r->tmask |= 3u;
	else
		return PFAIL(ps, "unknown transport '%.*s' (tcp, udp or any)", (int)len, item);
	return 0;
}

static int one_port(struct parser *ps, struct rule *r, enum key k, const char *item, size_t len)
{
	(void)k;
	bool t[2] = {true, true};
	const char *s = item;
	size_t n = len;
	if (n >= 4 && (memcmp(s, "tcp/", 4) == 0 || memcmp(s, "udp/", 4) == 0)) {
		t[s[0] == 't'] = false; /* tcp/ clears udp, udp/ clears tcp */
		s += 4;
		n -= 4;
	}
	unsigned long lo = 0, hi = 65535;
	if (!item_is(s, n, "any")) {
		const char *dash = memchr(s, '-', n);
		size_t l1 = dash ? (size_t)(dash - s) : n;
		if (!parse_uint(s, l1, 5, &lo) || (dash && !parse_uint(dash + 1, n - l1 - 1, 5, &hi)))
			return PFAIL(ps, "'%.*s' is not a port item: N, LO-HI, tcp/N, udp/LO-HI, tcp/any, "
			                 "udp/any or any",
			             (int)len, item);
		if (!dash)
			hi = lo;
		if (lo > 65535 || hi > 65535)
			return PFAIL(ps, "'%.*s': ports go from 0 to 65535", (int)len, item);
		if (lo > hi)
			return PFAIL(ps, "'%.*s': the range starts above its end", (int)len, item);
	}
	for (int i = 0; i < 2; i++)
		if (t[i] && ivl_push(&r->tp[i], u128_small(lo), u128_small(hi)))
			return PFAIL(ps, "out of memory");
	return count_ranges(ps, 1);
}

static int one_addr(struct parser *ps, struct rule *r, enum key k, const char *item, size_t len)
{
	return parse_addr_item(ps, item, len, k == K_SERVER ? r->server : r->client, NULL);
}

static int one_direction(struct parser *ps, struct rule *r, enum key k, const char *item,
                         size_t len)
{
	(void)k;
	static const char *const dn[4] = {"inbound", "outbound", "internal", "external"};
	for (unsigned d = 0; d < 4; d++)
		if (item_is(item, len, dn[d])) {
			r->dirs |= (uint8_t)(1u << d);
			return 0;
		}
	return PFAIL(ps, "unknown direction '%.*s' (inbound, outbound, internal or external)",
	             (int)len, item);
}

static int one_name_pattern(struct parser *ps, struct rule *r, enum key k, const char *item,
                            size_t len)
{
	struct names *nm = k == K_SNI ? &r->sni : &r->host;
	struct pattern *v = realloc(nm->v, (nm->n + 1) * sizeof *v);
	if (!v)
		return PFAIL(ps, "out of memory");
	nm->v = v;
	if (parse_pattern(ps, key_names[k], item, len, k == K_HOST, &v[nm->n]) != 0)
		return -1;
	nm->n++;
	return 0;
}

/* Turns the lists of a key given into its accepted set (sorted, merged,
 * complemented when negated). */
static int finish_key(struct parser *ps, struct rule *r, enum key k, bool neg)
{
	switch (k) {
	case K_PROTO:
		if (neg)
			for (unsigned i = 0; i < PSET_WORDS; i++)
				r->proto.w[i] = ~r->proto.w[i] & ps->all_protos.w[i];
		return 0;
	case K_TRANSPORT:
		if (neg)
			r->tmask = (uint8_t)(~r->tmask & 3u);
		return 0;
	case K_PORT: {
		for (int t = 0; t < 2; t++) {
			ivl_normalize(&r->tp[t]);
			if (neg && ivl_complement(&r->tp[t], max_port))
				return PFAIL(ps, "out of memory");
		}
		return 0;
	}
	case K_SERVER:
	case K_CLIENT: {
		struct ivl *a = k == K_SERVER ? r->server : r->client;
		for (int v = 0; v < 2; v++) {
			ivl_normalize(&a[v]);
			if (neg && ivl_complement(&a[v], v ? max_v6 : max_v4))
				return PFAIL(ps, "out of memory");
		}
		return count_ranges(ps, 2);
	}
	case K_DIRECTION:
		if (neg)
			r->dirs = (uint8_t)(~r->dirs & 0xf);
		return 0;
	case K_SNI:
		r->sni.neg = neg;
		return 0;
	case K_HOST:
		r->host.neg = neg;
		return 0;
	default:
		return 0;
	}
}

/* [A-Za-z0-9_.:-]{1,64} */
static bool valid_rule_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > POLICY_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(is_alpha(s[i]) || is_digit(s[i]) || strchr("_.:-", s[i])))
			return false;
	return true;
}

static int full_addr(struct ivl a[2])
{
	return ivl_push(&a[0], u128_small(0), max_v4) || ivl_push(&a[1], u128_small(0), max_v6);
}

#define RULE_KEYS "keys: proto, transport, port, server, client, direction, sni, host, severity, name"

static int parse_key(struct parser *ps, struct rule *r, char *tok)
{
	struct policy *p = ps->p;
	char *eq = strchr(tok, '=');
	if (!eq)
		return PFAIL(ps, "'%s' is not KEY=VALUE (" RULE_KEYS ")", tok);
	*eq = 0;
	char *value = eq + 1;
	enum key k = K_COUNT;
	for (unsigned i = 0; i < K_COUNT; i++)
		if (strcmp(tok, key_names[i]) == 0)
			k = (enum key)i;
	if (k == K_COUNT)
		return PFAIL(ps, "unknown key '%s' (" RULE_KEYS ")", tok);
	if (r->keys & KB(k))
		return PFAIL(ps, "%s= given twice in one rule", tok);
	r->keys |= KB(k);
	bool neg = value[0] == '!';
	if (neg)
		value++;
	if (!*value)
		return PFAIL(ps, "%s=%s has an empty value", tok, neg ? "!" : "");
	if (neg && (k == K_SEVERITY || k == K_NAME))
		return PFAIL(ps, "'!' has no meaning on %s=", tok);
	int rc = 0;
	switch (k) {
	case K_PROTO:
		rc = for_items(ps, r, k, value, one_proto);
		break;
	case K_TRANSPORT:
		rc = for_items(ps, r, k, value, one_transport);
		break;
	case K_PORT:
		rc = for_items(ps, r, k, value, one_port);
		break;
	case K_SERVER:
	case K_CLIENT:
		rc = for_items(ps, r, k, value, one_addr);
		break;
	case K_DIRECTION:
		if (!p->has_home)
			return PFAIL(ps, "direction= needs the home network: define 'set home ...' "
			                 "before this rule");
		rc = for_items(ps, r, k, value, one_direction);
		break;
	case K_SNI:
	case K_HOST:
		rc = for_items(ps, r, k, value, one_name_pattern);
		break;
	case K_SEVERITY:
		if (r->info.action != POLICY_ALERT)
			return PFAIL(ps, "severity= has no meaning on an allow rule");
		if (strcmp(value, "1") == 0 || strcmp(value, "high") == 0)
			r->info.severity = 1;
		else if (strcmp(value, "2") == 0 || strcmp(value, "medium") == 0)
			r->info.severity = 2;
		else if (strcmp(value, "3") == 0 || strcmp(value, "low") == 0)
			r->info.severity = 3;
		else
			return PFAIL(ps, "'%s' is not a severity (1, 2, 3, high, medium or low)", value);
		return 0;
	case K_NAME: {
		if (!valid_rule_name(value))
			return PFAIL(ps, "'%s' is not a rule name: 1 to 64 letters, digits, '_', '.', ':' "
			                 "or '-'",
			             value);
		for (unsigned i = 0; i < p->nrules; i++)
			if (&p->rules[i] != r && p->rules[i].info.name &&
			    strcmp(p->rules[i].info.name, value) == 0)
				return PFAIL(ps, "name '%s' is already used at line %u", value,
				             p->rules[i].info.line);
		char *nd = strdup(value);
		if (!nd)
			return PFAIL(ps, "out of memory");
		r->info.name = nd;
		return 0;
	}
	default:
		return 0;
	}
	if (rc)
		return rc;
	return finish_key(ps, r, k, neg);
}

static int parse_rule(struct parser *ps, enum policy_action action, const char *text, char *save)
{
	struct policy *p = ps->p;
	if (p->nrules >= POLICY_MAX_RULES)
		return PFAIL(ps, "more than %d rules", POLICY_MAX_RULES);
	if (p->nrules == p->cap) {
		unsigned cap = p->cap ? p->cap * 2 : 16;
		struct rule *rules = realloc(p->rules, (size_t)cap * sizeof *rules);
		if (!rules)
			return PFAIL(ps, "out of memory");
		p->rules = rules;
		p->cap = cap;
	}
	struct rule *r = &p->rules[p->nrules];
	memset(r, 0, sizeof *r);
	p->nrules++; /* freed with the policy, even when this line fails */
	r->info.action = action;
	r->info.line = ps->line;
	char *dup = strdup(text);
	if (!dup)
		return PFAIL(ps, "out of memory");
	r->info.text = dup;
	char *tok;
	while ((tok = strtok_r(NULL, " \t", &save)) != NULL)
		if (parse_key(ps, r, tok) != 0)
			return -1;
	/* Keys not given accept everything; transport= and port= become one
	 * set of (transport, port). */
	if (!(r->keys & KB(K_PROTO)))
		r->proto = ps->all_protos;
	if (!(r->keys & KB(K_PORT)))
		for (int t = 0; t < 2; t++)
			if (ivl_push(&r->tp[t], u128_small(0), max_port))
				return PFAIL(ps, "out of memory");
	if (r->keys & KB(K_TRANSPORT))
		for (int t = 0; t < 2; t++)
			if (!(r->tmask >> t & 1u))
				r->tp[t].n = 0;
	if (!(r->keys & KB(K_SERVER)) && full_addr(r->server))
		return PFAIL(ps, "out of memory");
	if (!(r->keys & KB(K_CLIENT)) && full_addr(r->client))
		return PFAIL(ps, "out of memory");
	if (!(r->keys & KB(K_DIRECTION)))
		r->dirs = 0xf;
	return 0;
}

/* ------------------------------------------------------------------ */
/* loading                                                             */

static int load(struct parser *ps, const char *text, size_t len)
{
	unsigned lineno = 0;
	size_t pos = 0;
	char line[POLICY_LINE_MAX + 2];
	while (pos < len) {
		lineno++;
		ps->line = lineno;
		size_t start = pos;
		while (pos < len && text[pos] != '\n')
			pos++;
		size_t n = pos - start;
		pos++; /* the newline */
		if (n > POLICY_LINE_MAX)
			return PFAIL(ps, "line longer than %d bytes", POLICY_LINE_MAX);
		memcpy(line, text + start, n);
		line[n] = 0;
		if (memchr(line, 0, n))
			return PFAIL(ps, "NUL byte in line");
		if (n && line[n - 1] == '\r')
			line[--n] = 0;
		char *hash = strchr(line, '#');
		if (hash)
			*hash = 0;
		/* the statement as written, for rule text */
		char *b = line;
		while (*b == ' ' || *b == '\t')
			b++;
		size_t bl = strlen(b);
		while (bl && (b[bl - 1] == ' ' || b[bl - 1] == '\t' || b[bl - 1] == '\r'))
			b[--bl] = 0;
		if (!bl)
			continue;
		char stmt[POLICY_LINE_MAX + 2];
		memcpy(stmt, b, bl + 1);
		char *save = NULL;
		char *tok = strtok_r(b, " \t", &save);
		int rc;
		if (strcmp(tok, "set") == 0)
			rc = parse_set(ps, stmt + 3);
		else if (strcmp(tok, "default") == 0)
			rc = parse_default(ps, save);
		else if (strcmp(tok, "allow") == 0)
			rc = parse_rule(ps, POLICY_ALLOW, stmt, save);
		else if (strcmp(tok, "alert") == 0)
			rc = parse_rule(ps, POLICY_ALERT, stmt, save);
		else if (strcmp(tok, "drop") == 0)
			rc = PFAIL(ps, "action 'drop' is reserved for inline use and not supported yet; "
			               "use 'allow' or 'alert'");
		else
			rc = PFAIL(ps, "unknown statement '%s' (a line starts with set, default, allow or "
			               "alert)",
			           tok);
		if (rc)
			return rc;
	}
	if (!ps->p->def_line)
		return config_error(ps->err, ps->errlen, ps->name, 0,
		            "no 'default' line; add 'default registry' to keep the ports registry's "
		            "verdicts where no rule matches");
	return 0;
}

int policy_load_text(const char *name, const char *text, size_t len, struct policy **out,
                     char *err, size_t errlen)
{
	*out = NULL;
	if (errlen)
		err[0] = 0;
	struct policy *p = calloc(1, sizeof *p);
	if (!p || !(p->file = strdup(name))) {
		free(p);
		return config_error(err, errlen, name, 0, "out of memory");
	}
	struct parser ps;
	memset(&ps, 0, sizeof ps);
	ps.p = p;
	ps.name = name;
	ps.err = err;
	ps.errlen = errlen;
	pset_all(&ps.all_protos);
	int rc = load(&ps, text, len);
	for (unsigned i = 0; i < ps.nsets; i++) {
		ivl_free(&ps.sets[i].a[0]);
		ivl_free(&ps.sets[i].a[1]);
	}
	free(ps.sets);
	if (rc) {
		policy_free(p);
		return -1;
	}
	*out = p;
	return 0;
}

int policy_load_file(const char *path, struct policy **out, char *err, size_t errlen)
{
	*out = NULL;
	char *buf;
	size_t len;
	if (file_read_all(path, POLICY_FILE_MAX, &buf, &len, err, errlen) != 0)
		return -1;
	int rc = policy_load_text(path, buf, len, out, err, errlen);
	free(buf);
	return rc;
}

/* ------------------------------------------------------------------ */
/* accessors                                                           */

const char *policy_file(const struct policy *p)
{
	return p->file;
}

unsigned policy_rule_count(const struct policy *p)
{
	return p->nrules;
}

const struct policy_rule_info *policy_rule(const struct policy *p, unsigned i)
{
	return i < p->nrules ? &p->rules[i].info : NULL;
}

const char *policy_default_name(enum policy_default d)
{
	return d == POLICY_DEFAULT_ALLOW ? "allow" : d == POLICY_DEFAULT_ALERT ? "alert" : "registry";
}

enum policy_default policy_default_action(const struct policy *p)
{
	return p->def;
}

unsigned policy_default_line(const struct policy *p)
{
	return p->def_line;
}

bool policy_has_home(const struct policy *p)
{
	return p->has_home;
}

const char *policy_direction_name(enum policy_direction d)
{
	switch (d) {
	case POLICY_DIR_INBOUND:
		return "inbound";
	case POLICY_DIR_OUTBOUND:
		return "outbound";
	case POLICY_DIR_INTERNAL:
		return "internal";
	case POLICY_DIR_EXTERNAL:
		return "external";
	}
	return "?";
}

/* ------------------------------------------------------------------ */
/* matching                                                            */

static bool addr_in(const struct ivl a[2], const struct policy_flow *f, const uint8_t *ip)
{
	if (!ip || (f->ip_version != 4 && f->ip_version != 6))
		return false;
	int v6 = f->ip_version == 6;
	return ivl_has(&a[v6], u128_from_ip(ip, v6));
}

enum policy_direction policy_flow_direction(const struct policy *p, const struct policy_flow *f)
{
	if (!p->has_home)
		return POLICY_DIR_EXTERNAL;
	bool c = addr_in(p->home, f, f->client_ip), s = addr_in(p->home, f, f->server_ip);
	if (c)
		return s ? POLICY_DIR_INTERNAL : POLICY_DIR_OUTBOUND;
	return s ? POLICY_DIR_INBOUND : POLICY_DIR_EXTERNAL;
}

static uint8_t lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

static bool name_matches(const struct pattern *pt, const uint8_t *s, size_t n)
{
	if (pt->suffix ? n <= pt->len : n != pt->len)
		return false;
	const uint8_t *tail = s + n - pt->len;
	for (size_t i = 0; i < pt->len; i++)
		if (lower(tail[i]) != (uint8_t)pt->s[i])
			return false;
	return true;
}

/* The flow's name as compared: the HTTP Host without its ":port", then
 * without one trailing dot. */
static size_t name_view(const uint8_t *s, size_t n, bool host)
{
	if (host && n) {
		if (s[0] == '[') {
			const uint8_t *close = memchr(s, ']', n);
			if (close)
				n = (size_t)(close - s) + 1;
		} else {
			const uint8_t *colon = memchr(s, ':', n);
			if (colon && !memchr(colon + 1, ':', n - (size_t)(colon - s) - 1))
				n = (size_t)(colon - s); /* one colon: a port; more: a bare IPv6 */
		}
	}
	if (n && s[n - 1] == '.')
		n--;
	return n;
}

static bool names_match(const struct names *nm, const uint8_t *s, size_t n, bool host)
{
	bool any = false;
	if (s) {
		n = name_view(s, n, host);
		for (unsigned i = 0; i < nm->n && !any; i++)
			any = name_matches(&nm->v[i], s, n);
	}
	return nm->neg ? !any : any;
}

static bool rule_matches(const struct policy *p, const struct rule *r, const struct policy_flow *f,
                         int *dir)
{
	if (r->keys & KB(K_PROTO)) {
		if (f->proto < -1 || f->proto >= (int)ident_count || f->proto >= PORTS_MAX_PROTOS)
			return false;
		if (!pset_has(&r->proto, f->proto < 0 ? PSET_UNKNOWN : (unsigned)f->proto))
			return false;
	}
	if (r->keys & (KB(K_TRANSPORT) | KB(K_PORT))) {
		if ((unsigned)f->transport > 1 ||
		    !ivl_has(&r->tp[f->transport], u128_small(f->server_port)))
			return false;
	}
	if ((r->keys & KB(K_SERVER)) && !addr_in(r->server, f, f->server_ip))
		return false;
	if ((r->keys & KB(K_CLIENT)) && !addr_in(r->client, f, f->client_ip))
		return false;
	if (r->keys & KB(K_DIRECTION)) {
		if (*dir < 0)
			*dir = (int)policy_flow_direction(p, f);
		if (!(r->dirs >> *dir & 1u))
			return false;
	}
	if ((r->keys & KB(K_SNI)) && !names_match(&r->sni, f->sni, f->sni_len, false))
		return false;
	if ((r->keys & KB(K_HOST)) && !names_match(&r->host, f->host, f->host_len, true))
		return false;
	return true;
}

int policy_match(const struct policy *p, const struct policy_flow *f)
{
	int dir = -1;
	for (unsigned i = 0; i < p->nrules; i++)
		if (rule_matches(p, &p->rules[i], f, &dir))
			return (int)i;
	return -1;
}

bool policy_rule_matches(const struct policy *p, unsigned i, const struct policy_flow *f)
{
	int dir = -1;
	return i < p->nrules && rule_matches(p, &p->rules[i], f, &dir);
}

/* ------------------------------------------------------------------ */
/* dead rules                                                          */

/* Protocols whose identifiers add the evidence a name key compares
 * (grep ident_add src/identify): "sni" from tls, dtls and tor; "http_host"
 * from http and websocket (which copies the handshake's HTTP fields). No
 * other identifier fills them, and an unknown flow has no evidence. */
static const char *const sni_protos[] = {"tls", "dtls", "tor"};
static const char *const host_protos[] = {"http", "websocket"};

static void pset_of_names(struct pset *s, const char *const *names, size_t n)
{
	memset(s, 0, sizeof *s);
	for (size_t i = 0; i < n; i++) {
		int proto = ident_find(names[i]);
		if (proto >= 0 && proto < PORTS_MAX_PROTOS)
			pset_set(s, (unsigned)proto);
	}
}

static bool ends_with(const char *s, size_t n, const char *t, size_t m)
{
	return n >= m && memcmp(s + n - m, t, m) == 0;
}

/* Every name pattern x matches, pattern y matches too. */
static bool pattern_within(const struct pattern *x, const struct pattern *y)
{
	if (!y->suffix)
		return !x->suffix && x->len == y->len && memcmp(x->s, y->s, x->len) == 0;
	if (x->suffix)
		return ends_with(x->s, x->len, y->s, y->len);
	return x->len > y->len && ends_with(x->s, x->len, y->s, y->len);
}

/* Some name matches both patterns. */
static bool patterns_overlap(const struct pattern *x, const struct pattern *y)
{
	if (!x->suffix && !y->suffix)
		return x->len == y->len && memcmp(x->s, y->s, x->len) == 0;
	if (!x->suffix)
		return pattern_within(x, y);
	if (!y->suffix)
		return pattern_within(y, x);
	return ends_with(x->s, x->len, y->s, y->len) || ends_with(y->s, y->len, x->s, x->len);
}

/* Each pattern of a lies within one of b's. */
static bool names_within(const struct names *a, const struct names *b)
{
	for (unsigned i = 0; i < a->n; i++) {
		bool ok = false;
		for (unsigned j = 0; j < b->n && !ok; j++)
			ok = pattern_within(&a->v[i], &b->v[j]);
		if (!ok)
			return false;
	}
	return true;
}

/* B's name key accepts every flow A's does (A's key is given). */
static bool names_cover(const struct names *b, const struct names *a)
{
	if (!a->neg && !b->neg)
		return names_within(a, b);
	if (a->neg && b->neg)
		return names_within(b, a); /* complement of A's list within B's complement */
	if (a->neg)
		return false;
	for (unsigned i = 0; i < a->n; i++) /* A's names all outside B's list */
		for (unsigned j = 0; j < b->n; j++)
			if (patterns_overlap(&a->v[i], &b->v[j]))
				return false;
	return true;
}

/* Rule b accepts every flow rule a accepts. */
static bool covers(const struct rule *b, const struct rule *a)
{
	for (unsigned w = 0; w < PSET_WORDS; w++)
		if (a->proto.w[w] & ~b->proto.w[w])
			return false;
	if (a->dirs & ~b->dirs)
		return false;
	for (int i = 0; i < 2; i++)
		if (!ivl_within(&a->tp[i], &b->tp[i]) || !ivl_within(&a->server[i], &b->server[i]) ||
		    !ivl_within(&a->client[i], &b->client[i]))
			return false;
	if (b->keys & KB(K_SNI)) {
		if (!(a->keys & KB(K_SNI)) || !names_cover(&b->sni, &a->sni))
			return false;
	}
	if (b->keys & KB(K_HOST)) {
		if (!(a->keys & KB(K_HOST)) || !names_cover(&b->host, &a->host))
			return false;
	}
	return true;
}

struct dead_ctx {
	struct pset run[2]; /* protocols identified over tcp, udp (and unknown) */
	struct pset sni, host;
};

static void dead_ctx_init(struct dead_ctx *c)
{
	memset(c, 0, sizeof *c);
	for (unsigned i = 0; i < ident_count && i < PORTS_MAX_PROTOS; i++) {
		if (ident_registry[i]->transports & IDENT_TCP)
			pset_set(&c->run[PORTS_TCP], i);
		if (ident_registry[i]->transports & IDENT_UDP)
			pset_set(&c->run[PORTS_UDP], i);
	}
	pset_set(&c->run[0], PSET_UNKNOWN);
	pset_set(&c->run[1], PSET_UNKNOWN);
	pset_of_names(&c->sni, sni_protos, sizeof sni_protos / sizeof *sni_protos);
	pset_of_names(&c->host, host_protos, sizeof host_protos / sizeof *host_protos);
}

/* Why rule r can match no flow, in why; false when it may match. */
static bool contradicts(const struct dead_ctx *c, const struct rule *r, char *why, size_t n)
{
	if (r->tp[0].n == 0 && r->tp[1].n == 0) {
		if ((r->keys & KB(K_TRANSPORT)) && (r->keys & KB(K_PORT)))
			snprintf(why, n, "transport= and port= have no transport in common");
		else if (r->keys & KB(K_PORT))
			snprintf(why, n, "port= matches no port");
		else
			snprintf(why, n, "transport= matches no transport");
		return true;
	}
	if (pset_empty(&r->proto)) {
		snprintf(why, n, "proto= matches no protocol");
		return true;
	}
	/* the protocols the rule can see over its transports */
	struct pset live;
	memset(&live, 0, sizeof live);
	for (int t = 0; t < 2; t++)
		if (r->tp[t].n)
			for (unsigned w = 0; w < PSET_WORDS; w++)
				live.w[w] |= r->proto.w[w] & c->run[t].w[w];
	if (pset_empty(&live)) {
		snprintf(why, n, "no protocol in proto= is identified over %s",
		         r->tp[0].n && r->tp[1].n ? "tcp or udp" : r->tp[0].n ? "tcp" : "udp");
		return true;
	}
	bool want_sni = (r->keys & KB(K_SNI)) && !r->sni.neg;
	bool want_host = (r->keys & KB(K_HOST)) && !r->host.neg;
	struct pset both = live;
	for (unsigned w = 0; w < PSET_WORDS; w++) {
		if (want_sni)
			both.w[w] &= c->sni.w[w];
		if (want_host)
			both.w[w] &= c->host.w[w];
	}
	if ((want_sni || want_host) && pset_empty(&both)) {
		if (want_sni && want_host)
			snprintf(why, n, "sni= and host= together: no protocol carries both a TLS SNI and "
			                 "an HTTP Host");
		else if (want_sni)
			snprintf(why, n, "sni= needs a protocol that carries a TLS SNI (tls, dtls, tor) "
			                 "over the rule's transports; proto= has none");
		else
			snprintf(why, n, "host= needs a protocol that carries an HTTP Host (http, "
			                 "websocket) over the rule's transports; proto= has none");
		return true;
	}
	static const char *const side[2] = {"server", "client"};
	for (int s = 0; s < 2; s++) {
		const struct ivl *a = s ? r->client : r->server;
		if (a[0].n == 0 && a[1].n == 0) {
			snprintf(why, n, "%s= matches no address", side[s]);
			return true;
		}
	}
	if (!((r->server[0].n && r->client[0].n) || (r->server[1].n && r->client[1].n))) {
		snprintf(why, n, "server= and client= have no IP version in common");
		return true;
	}
	if (r->dirs == 0) {
		snprintf(why, n, "direction= matches no direction");
		return true;
	}
	return false;
}

unsigned policy_dead_rules(const struct policy *p, policy_dead_fn report, void *ctx)
{
	struct dead_ctx c;
	dead_ctx_init(&c);
	unsigned count = 0;
	/* which rules match nothing: they shadow nothing worth naming */
	bool *empty = calloc(p->nrules ? p->nrules : 1, sizeof *empty);
	char why[256];
	for (unsigned i = 0; i < p->nrules; i++) {
		const struct rule *a = &p->rules[i];
		if (contradicts(&c, a, why, sizeof why)) {
			if (empty)
				empty[i] = true;
			if (report)
				report(ctx, i, -1, why);
			count++;
			continue;
		}
		for (unsigned j = 0; j < i; j++) {
			if (empty && empty[j])
				continue;
			if (covers(&p->rules[j], a)) {
				snprintf(why, sizeof why, "line %u matches every flow this rule would",
				         p->rules[j].info.line);
				if (report)
					report(ctx, i, (int)j, why);
				count++;
				break;
			}
		}
	}
	free(empty);
	return count;
}
