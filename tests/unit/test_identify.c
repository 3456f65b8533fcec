/*
 * test_identify.c - every identifier on bytes captured from real
 * implementations, and against every other protocol's bytes.
 *
 * Samples live in tests/identify/samples/PROTO/CASE.txt (ctest runs this
 * from tests/):
 *
 *   # source: where the bytes come from (capture and stream, or programs)
 *   # transport: tcp | udp
 *   # expect: PROTO | none         what ident_run must answer at the end
 *   # done: both | client | server | none   directions finished (default both)
 *   # midstream: both | client | server      the capture began mid-connection
 *   # evidence: KEY=VALUE          a field the match must carry (repeatable)
 *   > 16 03 01 ...                 client-to-server bytes, hex
 *   < 16 03 03 ...                 server-to-client bytes, hex
 *
 * For UDP each ">" or "<" line is one datagram; for TCP the lines of one
 * direction are concatenated.
 *
 * Checks, per sample:
 *   1. ident_run on the whole sample gives the expected protocol (or none)
 *      and the expected evidence;
 *   2. the cross test: no identifier other than the expected one answers
 *      MATCH on it;
 *   3. growing prefixes (the bytes as they arrive, both directions not
 *      done) never give a MATCH for a wrong protocol;
 *   4. NO_MATCH is final (identify.h): for every identifier, once it
 *      answers NO_MATCH on a prefix of the sample's bytes it answers
 *      NO_MATCH on every longer prefix, in every order the two directions
 *      can grow in, and when a direction finishes;
 *   5. the first-byte declarations (identify.h, first_byte) hold: an
 *      identifier whose set for a side excludes that side's first byte
 *      answers NO_MATCH, on every input of checks 2 and 4, and on the
 *      samples of each declaring identifier with either side's first
 *      byte replaced by each of the 256 values; and ident_run_more does
 *      not call it.
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "identify/identify.h"
#include "identify/protocols.h"

#define SAMPLE_MAX 65536

struct sample {
	char path[512];
	char expect[32];
	uint8_t transport;
	bool done[2];
	bool midstream[2];
	uint8_t data[2][SAMPLE_MAX];
	uint32_t len[2];
	uint8_t ndgrams[2];
	uint16_t dgram_len[2][IDENT_DGRAMS_MAX];
	char evidence[8][300];
	int nevidence;
};

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool load(const char *path, struct sample *s)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	memset(s, 0, sizeof *s);
	snprintf(s->path, sizeof s->path, "%s", path);
	s->transport = IDENT_TCP;
	s->done[0] = s->done[1] = true;
	static char line[1 << 17];
	int lineno = 0;
	bool ok = true;
	while (fgets(line, sizeof line, f)) {
		lineno++;
		size_t n = strlen(line);
		while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = 0;
		if (strncmp(line, "# transport:", 12) == 0) {
			s->transport = strstr(line + 12, "udp") ? IDENT_UDP : IDENT_TCP;
		} else if (strncmp(line, "# expect:", 9) == 0) {
			sscanf(line + 9, "%31s", s->expect);
		} else if (strncmp(line, "# done:", 7) == 0) {
			const char *v = line + 7;
			while (*v == ' ')
				v++;
			s->done[0] = strcmp(v, "both") == 0 || strcmp(v, "client") == 0;
			s->done[1] = strcmp(v, "both") == 0 || strcmp(v, "server") == 0;
		} else if (strncmp(line, "# midstream:", 12) == 0) {
			const char *v = line + 12;
			while (*v == ' ')
				v++;
			s->midstream[0] = strcmp(v, "both") == 0 || strcmp(v, "client") == 0;
			s->midstream[1] = strcmp(v, "both") == 0 || strcmp(v, "server") == 0;
		} else if (strncmp(line, "# evidence:", 11) == 0 && s->nevidence < 8) {
			const char *v = line + 11;
			while (*v == ' ')
				v++;
			size_t vn = strlen(v);
			if (vn >= sizeof s->evidence[0])
				vn = sizeof s->evidence[0] - 1;
			memcpy(s->evidence[s->nevidence], v, vn);
			s->evidence[s->nevidence++][vn] = 0;
		} else if (line[0] == '>' || line[0] == '<') {
			int d = line[0] == '>' ? 0 : 1;
			uint32_t start = s->len[d];
			for (const char *c = line + 1; *c;) {
				if (*c == ' ' || *c == '\t' || *c == ':') {
					c++;
					continue;
				}
				int hi = hexval(c[0]), lo = c[1] ? hexval(c[1]) : -1;
				if (hi < 0 || lo < 0 || s->len[d] >= SAMPLE_MAX) {
					fprintf(stderr, "%s:%d: bad hex\n", path, lineno);
					ok = false;
					break;
				}
				s->data[d][s->len[d]++] = (uint8_t)(hi << 4 | lo);
				c += 2;
			}
			if (s->transport == IDENT_UDP && s->ndgrams[d] < IDENT_DGRAMS_MAX)
				s->dgram_len[d][s->ndgrams[d]++] = (uint16_t)(s->len[d] - start);
		}
	}
	fclose(f);
	if (!s->expect[0]) {
		fprintf(stderr, "%s: no '# expect:' line\n", path);
		ok = false;
	}
	return ok;
}

/* The input for the first n0/n1 bytes (UDP: whole datagrams within them). */
static void input_of(const struct sample *s, uint32_t n0, uint32_t n1, bool done0, bool done1,
                     struct ident_input *in)
{
	memset(in, 0, sizeof *in);
	in->transport = s->transport;
	uint32_t n[2] = {n0, n1};
	for (int d = 0; d < 2; d++) {
		in->data[d] = s->data[d];
		in->len[d] = n[d];
		if (s->transport == IDENT_UDP) {
			uint32_t sum = 0;
			for (int k = 0; k < s->ndgrams[d] && sum + s->dgram_len[d][k] <= n[d]; k++) {
				in->dgram_len[d][k] = s->dgram_len[d][k];
				sum += s->dgram_len[d][k];
				in->ndgrams[d]++;
			}
			in->len[d] = sum;
		}
	}
	in->done[0] = done0;
	in->done[1] = done1;
	in->midstream[0] = s->midstream[0];
	in->midstream[1] = s->midstream[1];
}

static const char *name_of(int proto) { return proto < 0 ? "none" : ident_registry[proto]->name; }

static unsigned first_failures;

/* Check 5 on one answer: identifier id answered v on in. */
static void check_first(const char *path, unsigned id, const struct ident_input *in,
                        enum ident_verdict v)
{
	const struct ident_proto *p = ident_registry[id];
	if (v == IDENT_NO_MATCH || !p->first_byte)
		return;
	for (int d = 0; d < 2; d++) {
		if (!ident_first_byte(in, d) || p->first_byte(d, in->transport, in->data[d][0]))
			continue;
		if (first_failures++ < 20)
			fprintf(stderr, "%s: %s answers %d on %u/%u bytes (done %d/%d) whose side %d "
			                "starts with %02x, outside its set\n",
			        path, p->name, v, in->len[0], in->len[1], in->done[0], in->done[1], d,
			        in->data[d][0]);
		CHECK(0);
	}
}

static void check_sample(const struct sample *s, unsigned *count)
{
	struct ident_input in;
	struct ident_result r;
	(*count)++;
	input_of(s, s->len[0], s->len[1], s->done[0], s->done[1], &in);
	ident_run(&in, &r);
	const char *got = r.verdict == IDENT_MATCH ? name_of(r.proto) : "none";
	if (strcmp(got, s->expect) != 0) {
		fprintf(stderr, "%s: identified as %s (verdict %d), want %s\n", s->path, got, r.verdict,
		        s->expect);
		CHECK(0);
	} else {
		CHECK(1);
	}
	for (int e = 0; e < s->nevidence; e++) {
		char key[64];
		const char *eq = strchr(s->evidence[e], '=');
		size_t kn = eq ? (size_t)(eq - s->evidence[e]) : strlen(s->evidence[e]);
		snprintf(key, sizeof key, "%.*s", (int)kn, s->evidence[e]);
		const struct ident_field *fld = ident_get(&r.ev, key);
		bool ok = fld && (!eq || (strlen(eq + 1) == fld->len &&
		                          memcmp(eq + 1, fld->value, fld->len) == 0));
		if (!ok)
			fprintf(stderr, "%s: evidence %s missing or different (got '%.*s')\n", s->path,
			        s->evidence[e], fld ? (int)fld->len : 0, fld ? (const char *)fld->value : "");
		CHECK(ok);
	}

	/* Fake TLS: the constructed FakeTLS samples (none/tls_fake_*) are
	 * flagged, nothing else is. */
	{
		bool want_fake = strstr(s->path, "/none/tls_fake") != NULL;
		bool fake = s->transport == IDENT_TCP && ident_tls_fake(&in);
		if (fake != want_fake)
			fprintf(stderr, "%s: ident_tls_fake says %d\n", s->path, fake);
		CHECK(fake == want_fake);
	}

	/* Cross test: no other identifier claims these bytes. A passenger's
	 * bytes are its carrier's too (Tor's are TLS): the carrier may match
	 * them, the registry order puts the passenger first. */
	int want = ident_find(s->expect);
	const char *carrier = want >= 0 ? ident_registry[want]->carrier : NULL;
	for (unsigned i = 0; i < ident_count; i++) {
		const struct ident_proto *p = ident_registry[i];
		if (!(p->transports & s->transport) || strcmp(p->name, s->expect) == 0 ||
		    (carrier && strcmp(p->name, carrier) == 0))
			continue;
		struct ident_evidence ev;
		ident_clear(&ev);
		enum ident_verdict v = p->match(&in, &ev);
		check_first(s->path, i, &in, v);
		if (v == IDENT_MATCH)
			fprintf(stderr, "%s: identifier %s also matches (cross test)\n", s->path, p->name);
		CHECK(v != IDENT_MATCH);
	}

	/* As the bytes arrive: client bytes first, then the server's, in
	 * steps; no wrong MATCH on the way. */
	uint32_t step0 = s->len[0] / 16 + 1, step1 = s->len[1] / 16 + 1;
	for (uint32_t n0 = 0; n0 <= s->len[0]; n0 += step0) {
		for (uint32_t n1 = 0; n1 <= s->len[1]; n1 += step1) {
			input_of(s, n0, n1, false, false, &in);
			ident_run(&in, &r);
			if (r.verdict == IDENT_MATCH && strcmp(name_of(r.proto), s->expect) != 0) {
				fprintf(stderr, "%s: after %u/%u bytes identified as %s, want %s\n", s->path,
				        n0, n1, name_of(r.proto), s->expect);
				CHECK(0);
				return;
			}
		}
	}
	CHECK(1);
}

/* Check 4. Cut points: 8 steps per TCP direction, each datagram for UDP. */
#define CUTS_MAX 10
static unsigned cuts_of(const struct sample *s, int d, uint32_t *cut)
{
	unsigned n = 0;
	if (s->transport == IDENT_UDP) {
		uint32_t sum = 0;
		cut[n++] = 0;
		for (int k = 0; k < s->ndgrams[d] && n < CUTS_MAX; k++) {
			sum += s->dgram_len[d][k];
			cut[n++] = sum;
		}
		return n;
	}
	for (unsigned k = 0; k <= 8; k++) {
		uint32_t c = (uint32_t)((uint64_t)s->len[d] * k / 8);
		if (n == 0 || c != cut[n - 1])
			cut[n++] = c;
	}
	return n;
}

static enum ident_verdict verdict_at(const struct sample *s, unsigned id, uint32_t n0,
                                     uint32_t n1, bool done0, bool done1)
{
	struct ident_input in;
	struct ident_evidence ev;
	input_of(s, n0, n1, done0, done1, &in);
	ident_clear(&ev);
	enum ident_verdict v = ident_registry[id]->match(&in, &ev);
	check_first(s->path, id, &in, v);
	return v;
}

static unsigned final_failures;

static void final_fail(const struct sample *s, unsigned id, uint32_t n0, uint32_t n1,
                       bool done0, bool done1, const char *then)
{
	final_failures++;
	fprintf(stderr, "%s: %s answers NO_MATCH at %u/%u bytes (done %d/%d) but not %s\n",
	        s->path, ident_registry[id]->name, n0, n1, done0, done1, then);
	CHECK(0);
}

static void check_final(const struct sample *s)
{
	uint32_t c0[CUTS_MAX], c1[CUTS_MAX];
	unsigned k0 = cuts_of(s, 0, c0), k1 = cuts_of(s, 1, c1);
	enum ident_verdict v[CUTS_MAX][CUTS_MAX];
	for (unsigned id = 0; id < ident_count; id++) {
		if (!(ident_registry[id]->transports & s->transport))
			continue;
		for (unsigned i = 0; i < k0; i++)
			for (unsigned j = 0; j < k1; j++)
				v[i][j] = verdict_at(s, id, c0[i], c1[j], false, false);
		bool bad = false;
		for (unsigned i = 0; i < k0 && !bad; i++)
			for (unsigned j = 0; j < k1 && !bad; j++) {
				if (v[i][j] != IDENT_NO_MATCH)
					continue;
				if (i + 1 < k0 && v[i + 1][j] != IDENT_NO_MATCH) {
					final_fail(s, id, c0[i], c1[j], 0, 0, "when the client's bytes grow");
					bad = true;
				} else if (j + 1 < k1 && v[i][j + 1] != IDENT_NO_MATCH) {
					final_fail(s, id, c0[i], c1[j], 0, 0, "when the server's bytes grow");
					bad = true;
				}
			}
		/* A direction finishing (done) while the other still grows. */
		for (int d = 0; d < 2 && !bad; d++) {
			if (!s->done[d])
				continue;
			unsigned kk = d == 0 ? k1 : k0;
			enum ident_verdict prev = IDENT_NEED_MORE;
			for (unsigned j = 0; j < kk && !bad; j++) {
				uint32_t n0 = d == 0 ? c0[k0 - 1] : c0[j], n1 = d == 0 ? c1[j] : c1[k1 - 1];
				enum ident_verdict open = d == 0 ? v[k0 - 1][j] : v[j][k1 - 1];
				enum ident_verdict fin = verdict_at(s, id, n0, n1, d == 0, d == 1);
				if (open == IDENT_NO_MATCH && fin != IDENT_NO_MATCH) {
					final_fail(s, id, n0, n1, 0, 0, "when a direction finishes");
					bad = true;
				} else if (prev == IDENT_NO_MATCH && fin != IDENT_NO_MATCH) {
					final_fail(s, id, n0, n1, d == 0, d == 1,
					           "when the other direction grows");
					bad = true;
				}
				prev = fin;
			}
		}
		if (!bad && v[k0 - 1][k1 - 1] == IDENT_NO_MATCH &&
		    verdict_at(s, id, s->len[0], s->len[1], s->done[0], s->done[1]) != IDENT_NO_MATCH)
			final_fail(s, id, s->len[0], s->len[1], 0, 0, "when the flow finishes");
		CHECK(!bad);
	}
}

/* Check 5 on a declaring identifier's own sample with either side's first
 * byte replaced by each value its set for that side excludes: NO_MATCH at
 * every cut of the two directions (check 4's grid), open or done. */
static void check_first_replaced(struct sample *s, unsigned id)
{
	const struct ident_proto *p = ident_registry[id];
	if (!p->first_byte || !(p->transports & s->transport))
		return;
	uint32_t c0[CUTS_MAX], c1[CUTS_MAX];
	unsigned k0 = cuts_of(s, 0, c0), k1 = cuts_of(s, 1, c1);
	for (int d = 0; d < 2; d++) {
		if (s->len[d] == 0)
			continue;
		uint8_t keep = s->data[d][0];
		for (unsigned b = 0; b < 256; b++) {
			if (p->first_byte(d, s->transport, (uint8_t)b))
				continue;
			s->data[d][0] = (uint8_t)b;
			for (unsigned i = 0; i < k0; i++)
				for (unsigned j = 0; j < k1; j++)
					for (unsigned done = 0; done < 4; done++)
						(void)verdict_at(s, id, c0[i], c1[j], done & 1, done >> 1);
			(void)verdict_at(s, id, s->len[0], s->len[1], s->done[0], s->done[1]);
		}
		s->data[d][0] = keep;
	}
}

/* Whether identifier i's set for side d admits b. */
static bool admits(unsigned i, int d, uint8_t transport, uint8_t b)
{
	const struct ident_proto *p = ident_registry[i];
	return !p->first_byte || p->first_byte(d, transport, b);
}

/* Check 5, the dispatcher: a run skips the identifiers whose sets exclude
 * a side's first byte, and rules them out all the same. One byte on one
 * side (d), nothing done: no identifier matches, so each admitted one is
 * called once. */
static void test_prefilter(void)
{
	static const uint8_t firsts[3] = {0x00, 0x16, 0x30};
	for (int t = 0; t < 2; t++) {
		uint8_t transport = t ? IDENT_UDP : IDENT_TCP;
		for (int d = 0; d < 2; d++) {
			for (int f = 0; f < 3; f++) {
				struct ident_input in;
				memset(&in, 0, sizeof in);
				in.transport = transport;
				in.data[d] = &firsts[f];
				in.len[d] = 1;
				in.ndgrams[d] = t ? 1 : 0;
				in.dgram_len[d][0] = 1;
				CHECK(ident_first_byte(&in, d) && !ident_first_byte(&in, 1 - d));
				unsigned all = 0, admitted = 0;
				struct ident_set adm;
				ident_admitted(&in, &adm);
				for (unsigned i = 0; i < ident_count; i++) {
					if (!(ident_registry[i]->transports & transport))
						continue;
					all++;
					bool in_set = admits(i, d, transport, firsts[f]);
					admitted += in_set;
					CHECK(((adm.w[i / 64] >> (i % 64)) & 1) == in_set);
				}
				CHECK(admitted < all);
				struct ident_set ro = {{0}};
				struct ident_result r;
				unsigned long before = ident_calls();
				ident_run_more(&in, &ro, &r);
				CHECK(r.verdict != IDENT_MATCH);
				CHECK_EQ_U(ident_calls() - before, admitted);
				/* the skipped ones are ruled out, as their NO_MATCH would */
				for (unsigned i = 0; i < ident_count; i++)
					if ((ident_registry[i]->transports & transport) &&
					    !admits(i, d, transport, firsts[f]))
						CHECK((ro.w[i / 64] >> (i % 64)) & 1);
				/* that side's first byte unknown (mid-stream): every
				 * identifier of the transport is called */
				if (!t) {
					in.midstream[d] = true;
					CHECK(!ident_first_byte(&in, d));
					struct ident_set ro2 = {{0}};
					before = ident_calls();
					ident_run_more(&in, &ro2, &r);
					CHECK(r.verdict == IDENT_MATCH || ident_calls() - before == all);
				}
			}
		}
	}
	/* Both sides known: the two sets both apply (UDP, 0x30 then 0x16:
	 * SNMP's client byte, not its server's). */
	static const uint8_t c = 0x30, sv = 0x16;
	struct ident_input in;
	memset(&in, 0, sizeof in);
	in.transport = IDENT_UDP;
	in.data[0] = &c;
	in.data[1] = &sv;
	in.len[0] = in.len[1] = 1;
	in.ndgrams[0] = in.ndgrams[1] = 1;
	in.dgram_len[0][0] = in.dgram_len[1][0] = 1;
	struct ident_set adm;
	ident_admitted(&in, &adm);
	int snmp = ident_find("snmp");
	CHECK(snmp >= 0 && admits((unsigned)snmp, 0, IDENT_UDP, c) &&
	      !admits((unsigned)snmp, 1, IDENT_UDP, sv));
	CHECK(!((adm.w[snmp / 64] >> (snmp % 64)) & 1));
}

static void test_registry(void)
{
	for (unsigned i = 0; i < ident_count; i++) {
		const struct ident_proto *p = ident_registry[i];
		CHECK(p->name && p->title && p->match && p->transports);
		CHECK_EQ_U(ident_find(p->name), i);
		for (unsigned k = 0; k < i; k++)
			CHECK(strcmp(ident_registry[k]->name, p->name) != 0);
	}
	CHECK(ident_find("no-such-protocol") == -1);

	/* Nothing at all, both sides done: no protocol. */
	struct ident_input in;
	struct ident_result r;
	memset(&in, 0, sizeof in);
	in.transport = IDENT_TCP;
	in.done[0] = in.done[1] = true;
	ident_run(&in, &r);
	CHECK(r.verdict != IDENT_MATCH);
	in.transport = IDENT_UDP;
	ident_run(&in, &r);
	CHECK(r.verdict != IDENT_MATCH);
}

/* ident_payload_class: text, structured binary, opaque. */
static enum ident_payload payload_of(const uint8_t *b, uint32_t n, uint8_t transport)
{
	struct ident_input in;
	memset(&in, 0, sizeof in);
	in.transport = transport;
	in.data[0] = b;
	in.len[0] = n;
	if (transport == IDENT_UDP) {
		in.ndgrams[0] = 1;
		in.dgram_len[0][0] = (uint16_t)n;
	}
	return ident_payload_class(&in);
}

/* The classes as payload.c's header comment defines them, byte by byte. */
static enum ident_payload payload_ref(const uint8_t *b, uint32_t n)
{
	if (n == 0)
		return IDENT_PAYLOAD_NONE;
	if (n > 256)
		n = 256;
	if (n < 8)
		return IDENT_PAYLOAD_OPAQUE;
	uint32_t count[256] = {0}, printable = 0, most = 0;
	for (uint32_t i = 0; i < n; i++) {
		if ((b[i] >= 0x20 && b[i] <= 0x7e) || b[i] == '\t' || b[i] == '\r' || b[i] == '\n')
			printable++;
		count[b[i]]++;
	}
	for (unsigned v = 0; v < 256; v++)
		most = count[v] > most ? count[v] : most;
	if (printable * 10 >= n * 9)
		return IDENT_PAYLOAD_TEXT;
	if ((count[0] >= 3 && count[0] * 8 >= n) || (most >= 4 && most * 5 >= n))
		return IDENT_PAYLOAD_STRUCTURED;
	return IDENT_PAYLOAD_OPAQUE;
}

static void test_payload_reference(void)
{
	/* Random messages of every length to 300 from alphabets of 2 to 256
	 * values (with and without zero, printable or not), so that every
	 * class and every threshold is crossed. */
	uint64_t seed = 12345;
	uint8_t buf[300];
	unsigned seen[4] = {0};
	for (unsigned round = 0; round < 20000; round++) {
		uint32_t n = (uint32_t)(check_rand(&seed) % 301);
		unsigned span = 2 + (unsigned)(check_rand(&seed) % 255);
		unsigned base = (unsigned)(check_rand(&seed) % 3) == 0 ? 0 : 0x20;
		for (uint32_t i = 0; i < n; i++)
			buf[i] = (uint8_t)(base + check_rand(&seed) % span);
		enum ident_payload want = payload_ref(buf, n);
		seen[want]++;
		if (payload_of(buf, n, IDENT_TCP) != want) {
			CHECK_EQ_U(payload_of(buf, n, IDENT_TCP), want);
			return;
		}
	}
	CHECK(seen[IDENT_PAYLOAD_TEXT] && seen[IDENT_PAYLOAD_STRUCTURED] &&
	      seen[IDENT_PAYLOAD_OPAQUE] && seen[IDENT_PAYLOAD_NONE]);
}

static void test_payload(void)
{
	static const uint8_t text[] = "HELLO agent=7 version=2\r\n";
	CHECK_EQ_U(payload_of(text, sizeof text - 1, IDENT_TCP), IDENT_PAYLOAD_TEXT);
	static const uint8_t hdr[] = {0, 0, 0, 0x2c, 0, 1, 0, 0, 0, 0, 0, 0, 0x9f, 0x3a, 0x71, 0xe2};
	CHECK_EQ_U(payload_of(hdr, sizeof hdr, IDENT_TCP), IDENT_PAYLOAD_STRUCTURED);
	/* bytes from a SHA-1-style mixer: no zero bytes, no repeats to speak of */
	uint8_t rnd[256];
	uint32_t x = 0x9e3779b9u;
	for (unsigned i = 0; i < sizeof rnd; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		rnd[i] = (uint8_t)(x >> 11);
	}
	CHECK_EQ_U(payload_of(rnd, sizeof rnd, IDENT_TCP), IDENT_PAYLOAD_OPAQUE);
	CHECK_EQ_U(payload_of(rnd, 8, IDENT_UDP), IDENT_PAYLOAD_OPAQUE);
	CHECK_EQ_U(payload_of(text, 7, IDENT_TCP), IDENT_PAYLOAD_OPAQUE); /* too short to tell */
	/* one repeated value is structure (padding) */
	uint8_t pad[64];
	memcpy(pad, rnd, sizeof pad);
	memset(pad + 40, 0xff, 20);
	CHECK_EQ_U(payload_of(pad, sizeof pad, IDENT_TCP), IDENT_PAYLOAD_STRUCTURED);
	/* the server's message is judged when the client sent nothing */
	struct ident_input in;
	memset(&in, 0, sizeof in);
	in.transport = IDENT_TCP;
	in.data[1] = text;
	in.len[1] = sizeof text - 1;
	CHECK_EQ_U(ident_payload_class(&in), IDENT_PAYLOAD_TEXT);
	in.len[1] = 0;
	CHECK_EQ_U(ident_payload_class(&in), IDENT_PAYLOAD_NONE);
	CHECK(strcmp(ident_payload_name(IDENT_PAYLOAD_STRUCTURED), "structured") == 0);
}

int main(void)
{
	static struct sample s;
	test_payload();
	test_payload_reference();
	unsigned samples = 0;
	unsigned with_samples = 0;
	test_registry();
	test_prefilter();
	for (unsigned i = 0; i < ident_count; i++) {
		char dir[256];
		snprintf(dir, sizeof dir, "identify/samples/%s", ident_registry[i]->name);
		DIR *d = opendir(dir);
		unsigned here = 0;
		if (d) {
			struct dirent *e;
			while ((e = readdir(d)) != NULL) {
				size_t n = strlen(e->d_name);
				if (n < 5 || strcmp(e->d_name + n - 4, ".txt") != 0)
					continue;
				char path[600];
				snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
				bool ok = load(path, &s);
				CHECK(ok);
				if (ok) {
					check_sample(&s, &samples);
					check_final(&s);
					check_first_replaced(&s, i);
					if (strcmp(s.expect, ident_registry[i]->name) == 0)
						here++;
				}
			}
			closedir(d);
		}
		if (!here)
			fprintf(stderr, "identifier %s has no sample that expects it\n",
			        ident_registry[i]->name);
		CHECK(here > 0);
		with_samples += here > 0;
	}
	/* Samples of protocols offport does not identify (must stay "none"). */
	DIR *d = opendir("identify/samples/none");
	if (d) {
		struct dirent *e;
		while ((e = readdir(d)) != NULL) {
			size_t n = strlen(e->d_name);
			if (n < 5 || strcmp(e->d_name + n - 4, ".txt") != 0)
				continue;
			char path[600];
			snprintf(path, sizeof path, "identify/samples/none/%s", e->d_name);
			bool ok = load(path, &s);
			CHECK(ok);
			if (ok) {
				check_sample(&s, &samples);
				check_final(&s);
			}
		}
		closedir(d);
	}
	printf("identify: %u samples, %u of %u identifiers have samples, %u NO_MATCH not final, "
	       "%u first bytes outside a declared set not NO_MATCH\n",
	       samples, with_samples, ident_count, final_failures, first_failures);
	return check_done();
}
