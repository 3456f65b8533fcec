/*
 * ports.c - the ports registry and its strict parser.
 *
 * Every error names the file and line: "etc/ports.conf:12: unknown
 * protocol 'htpp' (offport --list-protocols)". Startup code: allocation is
 * allowed here, the per-packet lookup is one array index.
 */
#include "verdict/ports.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/file.h"
#include "identify/identify.h"

extern const char ports_default_text[];
extern const size_t ports_default_text_len;

_Static_assert(PORTS_MAX_SETS <= 65536, "set index fits the entry array");


/* Index of the set equal to s, added when new; -1 when the table is full. */
static int set_index(struct ports *p, const struct proto_set *s)
{
	if (proto_set_empty(s))
		return 0;
	for (unsigned i = 1; i < p->nsets; i++)
		if (memcmp(&p->sets[i], s, sizeof *s) == 0)
			return (int)i;
	if (p->nsets >= PORTS_MAX_SETS)
		return -1;
	p->sets[p->nsets] = *s;
	return (int)p->nsets++;
}

/* "tcp/443", "udp/6665-6669", or "tcp/any" (stored as port 0: the
 * protocols accepted on every port that has no entry of its own). */
static bool parse_spec(const char *tok, enum ports_transport *t, unsigned *lo, unsigned *hi)
{
	if (strncmp(tok, "tcp/", 4) == 0)
		*t = PORTS_TCP;
	else if (strncmp(tok, "udp/", 4) == 0)
		*t = PORTS_UDP;
	else
		return false;
	const char *s = tok + 4;
	if (strcmp(s, "any") == 0) {
		*lo = *hi = 0;
		return true;
	}
	char *end;
	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	unsigned long a = strtoul(s, &end, 10), b = a;
	if (*end == '-') {
		const char *s2 = end + 1;
		if (*s2 < '0' || *s2 > '9')
			return false;
		b = strtoul(s2, &end, 10);
	}
	if (errno || *end || a < 1 || b > 65535 || a > b)
		return false;
	*lo = (unsigned)a;
	*hi = (unsigned)b;
	return true;
}

int ports_load_text(struct ports *p, const char *name, const char *text, size_t len,
                    bool overlay, char *err, size_t errlen)
{
	/* Which line first named each port in this text: a port named twice
	 * in one file is a mistake worth an error. */
	uint32_t *seen = calloc(2 * 65536, sizeof *seen);
	if (!seen)
		return config_error(err, errlen, name, 0, "out of memory");
	if (p->nsets == 0)
		p->nsets = 1; /* set 0 is "no entry" */
	int rc = 0;
	unsigned lineno = 0;
	size_t pos = 0;
	char line[1024];
	while (pos < len && rc == 0) {
		lineno++;
		size_t start = pos;
		while (pos < len && text[pos] != '\n')
			pos++;
		size_t n = pos - start;
		pos++; /* the newline */
		if (n >= sizeof line) {
			rc = config_error(err, errlen, name, lineno, "line longer than %zu bytes", sizeof line - 1);
			break;
		}
		memcpy(line, text + start, n);
		line[n] = 0;
		if (memchr(line, 0, n)) {
			rc = config_error(err, errlen, name, lineno, "NUL byte in line");
			break;
		}
		char *hash = strchr(line, '#');
		if (hash)
			*hash = 0;
		char *save = NULL;
		char *tok = strtok_r(line, " \t\r", &save);
		if (!tok)
			continue;
		enum ports_transport t;
		unsigned lo, hi;
		if (!parse_spec(tok, &t, &lo, &hi)) {
			rc = config_error(err, errlen, name, lineno,
			          "'%s' is not tcp/PORT, udp/PORT, a range such as tcp/6665-6669 "
			          "(ports 1 to 65535) or tcp/any and udp/any",
			          tok);
			break;
		}
		char spec[32];
		snprintf(spec, sizeof spec, "%s", tok);
		struct proto_set set;
		memset(&set, 0, sizeof set);
		enum { SET, ADD, REMOVE } mode = SET;
		unsigned nprotos = 0;
		while ((tok = strtok_r(NULL, " \t\r", &save)) != NULL) {
			if ((strcmp(tok, "+") == 0 || strcmp(tok, "-") == 0) && nprotos == 0 &&
			    mode == SET) {
				if (!overlay) {
					rc = config_error(err, errlen, name, lineno,
					          "'%s' is only allowed in a file given with --ports", tok);
					break;
				}
				mode = tok[0] == '+' ? ADD : REMOVE;
				continue;
			}
			if (mode == REMOVE) {
				rc = config_error(err, errlen, name, lineno, "nothing may follow '-' (got '%s')", tok);
				break;
			}
			int proto = ident_find(tok);
			if (proto < 0) {
				rc = config_error(err, errlen, name, lineno,
				          "unknown protocol '%s' (offport --list-protocols)", tok);
				break;
			}
			if (proto >= PORTS_MAX_PROTOS) {
				rc = config_error(err, errlen, name, lineno, "protocol index out of range");
				break;
			}
			set.w[proto / 64] |= 1ull << (proto % 64);
			nprotos++;
		}
		if (rc)
			break;
		if (mode != REMOVE && nprotos == 0) {
			rc = config_error(err, errlen, name, lineno, "%s names no protocol", spec);
			break;
		}
		for (unsigned port = lo; port <= hi && rc == 0; port++) {
			uint32_t *s = &seen[t * 65536u + port];
			if (*s) {
				if (port == 0)
					rc = config_error(err, errlen, name, lineno, "%s/any is already listed at line %u",
					          t == PORTS_TCP ? "tcp" : "udp", *s);
				else
					rc = config_error(err, errlen, name, lineno, "%s/%u is already listed at line %u",
					          t == PORTS_TCP ? "tcp" : "udp", port, *s);
				break;
			}
			*s = lineno;
			struct proto_set next = set;
			if (mode == ADD) {
				const struct proto_set *cur = &p->sets[p->entry[t][port]];
				for (size_t w = 0; w < PORTS_MAX_PROTOS / 64; w++)
					next.w[w] |= cur->w[w];
			} else if (mode == REMOVE) {
				memset(&next, 0, sizeof next);
			}
			int idx = set_index(p, &next);
			if (idx < 0) {
				rc = config_error(err, errlen, name, lineno, "more than %d distinct protocol sets",
				          PORTS_MAX_SETS - 1);
				break;
			}
			p->entry[t][port] = (uint16_t)idx;
		}
	}
	free(seen);
	return rc;
}

int ports_load_default(struct ports *p, char *err, size_t errlen)
{
	memset(p, 0, sizeof *p);
	return ports_load_text(p, "etc/ports.conf", ports_default_text, ports_default_text_len, false,
	                       err, errlen);
}

int ports_load_file(struct ports *p, const char *path, char *err, size_t errlen)
{
	char *buf;
	size_t len;
	if (file_read_all(path, 16u << 20, &buf, &len, err, errlen) != 0)
		return -1;
	int rc = ports_load_text(p, path, buf, len, true, err, errlen);
	free(buf);
	return rc;
}

const struct proto_set *ports_expected(const struct ports *p, enum ports_transport t,
                                       uint16_t port)
{
	uint16_t idx = port ? p->entry[t][port] : 0;
	return idx ? &p->sets[idx] : NULL;
}

bool ports_anywhere(const struct ports *p, enum ports_transport t, int proto)
{
	return proto_set_has(&p->sets[p->entry[t][0]], proto);
}

unsigned ports_of_proto(const struct ports *p, int proto, char *out, size_t outlen)
{
	unsigned count = 0;
	size_t used = 0;
	if (outlen)
		out[0] = 0;
	/* Which entry sets list the protocol, looked up per port below: the
	 * scan of 2 x 65,536 entries is then one load and test per port. */
	bool has[PORTS_MAX_SETS];
	for (unsigned i = 0; i < PORTS_MAX_SETS; i++)
		has[i] = i < p->nsets && proto_set_has(&p->sets[i], proto);
	for (int t = 0; t < 2; t++) {
		const uint16_t *e = p->entry[t];
		if (has[e[0]]) {
			char one[16];
			snprintf(one, sizeof one, "%s%s/any", count ? "," : "", t ? "udp" : "tcp");
			size_t n = strlen(one);
			if (used + n + 1 <= outlen) {
				memcpy(out + used, one, n + 1);
				used += n;
			}
			count++;
		}
		for (unsigned port = 1; port <= 65535; port++) {
			uint64_t four;
			if ((port & 3) == 0 && port + 3 <= 65535) {
				/* most ports have no entry: four at once */
				memcpy(&four, e + port, sizeof four);
				if (four == 0) {
					port += 3;
					continue;
				}
			}
			if (!has[e[port]])
				continue;
			unsigned hi = port;
			while (hi < 65535 && has[e[hi + 1]])
				hi++;
			char one[32];
			if (hi > port)
				snprintf(one, sizeof one, "%s%s/%u-%u", count ? "," : "", t ? "udp" : "tcp",
				         port, hi);
			else
				snprintf(one, sizeof one, "%s%s/%u", count ? "," : "", t ? "udp" : "tcp", port);
			size_t n = strlen(one);
			if (used + n + 1 <= outlen) {
				memcpy(out + used, one, n + 1);
				used += n;
			}
			count++;
			port = hi;
		}
	}
	return count;
}
