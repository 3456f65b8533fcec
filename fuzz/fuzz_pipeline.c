/*
 * fuzz_pipeline.c - libFuzzer harness for the whole pipeline: capture ->
 * decode -> flow -> stream -> identify -> verdict -> output.
 *
 * Seeds (fuzz/corpus/pipeline/): every capture of tests/captures/ and
 * tests/data/ (damaged ones included, and tests/data/ndpi,
 * tests/data/l2tp), and small captures from nDPI's test corpus
 * (github.com/ntop/nDPI, commit 3b1286ab, LGPL-3.0, see
 * tests/data/ndpi/COPYING; the shared corpus's pcap/ folder,
 * ../shared/corpus/ndpi beside the repository), named ndpi_*: pcapng,
 * big-endian, nanosecond, SLL, raw IP, null/loopback, PPP, C-HDLC, VLAN,
 * PPPoE, MPLS, GRE, GTP, IPv6, tunnels, fragments, and nDPI's fuzz-* and
 * bad* captures. Those over 32 KiB (vxlan, fuzz-2006-*, fuzz-2020-*, bad*,
 * ip_fragmented_garbage) are cut to their first records under 32 KiB
 * (ndpi_*_head). Crafted here: crafted_fmt_pcapng_bigendian.pcapng is
 * tests/data/fmt_pcapng.pcapng rewritten big-endian (offport reads both the
 * same); crafted_dns_escapes*.pcap are a DNS query and answer on udp/1234
 * whose name holds a newline, control bytes, DEL, a quote, a backslash,
 * UTF-8 and invalid UTF-8 (an encoded surrogate, an overlong form), so that
 * the alert's evidence must be escaped in both outputs. found_* are inputs
 * libFuzzer found in 55 minutes of fuzzing (2026-11-27), 65 of at most 8
 * KiB that each reached at least 6 lines of src/ the seeds before them did
 * not (greedy, by llvm-cov line coverage). regression-* are inputs that
 * once failed here.
 *
 * Input: the bytes of a capture file (pcap or pcapng), opened from memory
 * (fmemopen + capture_open_stream, so libpcap parses the file header, and
 * the records are read by capture.c's direct reading of ordinary pcap
 * records until it hands the rest to libpcap), for some inputs from an
 * anonymous file with a descriptor (memfd: the direct reading's pread), or
 * for some inputs of at most 64 KiB from a pipe holding
 * them (a stream that cannot seek, read through capture.c's tap, as
 * standard input is). A link type offport does not decode is refused, as
 * the command line refuses it at open. Then the packets go through a fresh
 * engine exactly as offport's run_input drives it (capture_next to EOF or
 * CAPTURE_BROKEN and then capture_damage_offset, engine_packet per packet,
 * engine_finish, engine_write_stats, the text summary), with small bounds
 * so that flow eviction, stream-slot exhaustion and fragment eviction run:
 * the bounds and the output mode are picked from a hash of the input.
 * Output modes: --json (EVE JSON only), text (alert lines and the summary
 * only) or --eve (both), each into a memory stream. Deterministic: fixed
 * hash seed, no wall clock.
 *
 * Checks (abort() on violation):
 *  - JSON: every line is one valid JSON object (a strict RFC 8259
 *    validator below: strings valid UTF-8 without raw control characters,
 *    escapes including \u with paired surrogates, numbers per the grammar,
 *    no duplicate key in an object); the last record, and only it, is the
 *    stats record; the flow records written == flows created; the alert
 *    records written == the alert counters;
 *  - text: no byte below 0x20 but '\n', none at or above 0x7f (payload
 *    bytes in evidence must be escaped); one line per alert before the
 *    summary;
 *  - accounting, from the engine's counters: packets read == the capture's
 *    packets == the sum of the decoder results; the drop reasons add up to
 *    the malformed packets; flows created == tcp + udp == flows reported ==
 *    the sum of the end reasons == the flows per protocol (identified,
 *    unknown, none); no flow active after engine_finish; the stats
 *    record's accounting is complete; no record overflowed, no write
 *    error;
 *  - capture: a file that cannot be opened or that breaks comes with a
 *    message of printable ASCII, and the damage offset is -1 or inside the
 *    input.
 */
#define _GNU_SOURCE /* memfd_create */
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "capture/capture.h"
#include "cli/engine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FAIL(...)                                                                                 \
	do {                                                                                      \
		fprintf(stderr, "fuzz_pipeline: " __VA_ARGS__);                                   \
		fputc('\n', stderr);                                                              \
		abort();                                                                          \
	} while (0)

/* The checkers are the harness's, not offport's: kept out of the coverage
 * libFuzzer steers by (clang's no_sanitize("coverage")), and comparing
 * without memcmp, which libFuzzer would intercept to learn from. */
#if defined(__clang__)
#define NO_COV __attribute__((no_sanitize("coverage")))
#else
#define NO_COV
#endif

NO_COV static bool same(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (a[i] != b[i])
			return false;
	return true;
}

/* ---- a strict JSON (RFC 8259) validator -------------------------------- */

#define JV_MAX_DEPTH 64
#define JV_MAX_KEYS 256 /* keys of one object compared for duplicates */

struct jv {
	const char *p, *end;
	int depth;
	const char *why; /* first problem, NULL = none */
	/* the top-level "event_type" value, raw (between the quotes) */
	const char *event_type;
	size_t event_type_len;
};

NO_COV static bool jv_fail(struct jv *v, const char *why)
{
	if (!v->why)
		v->why = why;
	return false;
}

NO_COV static void jv_ws(struct jv *v)
{
	/* RFC 8259 whitespace; a newline cannot occur inside one record. */
	while (v->p < v->end && (*v->p == ' ' || *v->p == '\t' || *v->p == '\r'))
		v->p++;
}

/* Length of the valid UTF-8 sequence at p (Unicode 15, table 3-7), 0 if
 * none: no overlong forms, no surrogates, nothing above U+10FFFF. */
NO_COV static size_t utf8_len(const unsigned char *p, const unsigned char *end)
{
	unsigned c = p[0];
	size_t n;
	unsigned lo = 0x80, hi = 0xBF;
	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		n = 2;
	else if (c >= 0xE0 && c <= 0xEF) {
		n = 3;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 4;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
	} else
		return 0;
	if ((size_t)(end - p) < n)
		return 0;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xBF)
			return 0;
	return n;
}

NO_COV static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

NO_COV static bool jv_hex4(struct jv *v, unsigned *out)
{
	if (v->end - v->p < 4)
		return jv_fail(v, "short \\u escape");
	unsigned u = 0;
	for (int i = 0; i < 4; i++) {
		int h = hexval(v->p[i]);
		if (h < 0)
			return jv_fail(v, "bad hex digit in \\u escape");
		u = u << 4 | (unsigned)h;
	}
	v->p += 4;
	*out = u;
	return true;
}

/* A string; *s and *n receive its raw content (between the quotes). */
NO_COV static bool jv_string(struct jv *v, const char **s, size_t *n)
{
	if (v->p >= v->end || *v->p != '"')
		return jv_fail(v, "string expected");
	v->p++;
	const char *start = v->p;
	for (;;) {
		if (v->p >= v->end)
			return jv_fail(v, "unterminated string");
		unsigned char c = (unsigned char)*v->p;
		if (c == '"')
			break;
		if (c < 0x20)
			return jv_fail(v, "raw control character in a string");
		if (c == '\\') {
			v->p++;
			if (v->p >= v->end)
				return jv_fail(v, "unterminated escape");
			char e = *v->p++;
			if (e == 'u') {
				unsigned u;
				if (!jv_hex4(v, &u))
					return false;
				if (u >= 0xDC00 && u <= 0xDFFF)
					return jv_fail(v, "lone low surrogate");
				if (u >= 0xD800 && u <= 0xDBFF) {
					unsigned lo;
					if (v->end - v->p < 2 || v->p[0] != '\\' || v->p[1] != 'u')
						return jv_fail(v, "high surrogate without a low one");
					v->p += 2;
					if (!jv_hex4(v, &lo))
						return false;
					if (lo < 0xDC00 || lo > 0xDFFF)
						return jv_fail(v, "high surrogate without a low one");
				}
			} else if (e != '"' && e != '\\' && e != '/' && e != 'b' && e != 'f' &&
			           e != 'n' && e != 'r' && e != 't') {
				return jv_fail(v, "bad escape");
			}
			continue;
		}
		size_t k = utf8_len((const unsigned char *)v->p, (const unsigned char *)v->end);
		if (k == 0)
			return jv_fail(v, "invalid UTF-8 in a string");
		v->p += k;
	}
	*s = start;
	*n = (size_t)(v->p - start);
	v->p++; /* the closing quote */
	return true;
}

NO_COV static bool is_digit(char c) { return c >= '0' && c <= '9'; }

NO_COV static bool jv_number(struct jv *v)
{
	if (v->p < v->end && *v->p == '-')
		v->p++;
	if (v->p >= v->end || !is_digit(*v->p))
		return jv_fail(v, "bad number");
	if (*v->p == '0') {
		v->p++;
	} else {
		while (v->p < v->end && is_digit(*v->p))
			v->p++;
	}
	if (v->p < v->end && *v->p == '.') {
		v->p++;
		if (v->p >= v->end || !is_digit(*v->p))
			return jv_fail(v, "bad fraction");
		while (v->p < v->end && is_digit(*v->p))
			v->p++;
	}
	if (v->p < v->end && (*v->p == 'e' || *v->p == 'E')) {
		v->p++;
		if (v->p < v->end && (*v->p == '+' || *v->p == '-'))
			v->p++;
		if (v->p >= v->end || !is_digit(*v->p))
			return jv_fail(v, "bad exponent");
		while (v->p < v->end && is_digit(*v->p))
			v->p++;
	}
	/* "01" leaves "1" behind, which the caller rejects as garbage */
	return true;
}

NO_COV static bool jv_literal(struct jv *v, const char *lit)
{
	size_t n = strlen(lit);
	if ((size_t)(v->end - v->p) < n || !same(v->p, lit, n))
		return jv_fail(v, "bad literal");
	v->p += n;
	return true;
}

static bool jv_value(struct jv *v);

NO_COV static bool jv_object(struct jv *v)
{
	const char *key[JV_MAX_KEYS];
	size_t keylen[JV_MAX_KEYS];
	unsigned nkeys = 0;
	bool top = v->depth == 0;
	if (++v->depth > JV_MAX_DEPTH)
		return jv_fail(v, "nested too deep");
	v->p++; /* '{' */
	jv_ws(v);
	if (v->p < v->end && *v->p == '}') {
		v->p++;
		v->depth--;
		return true;
	}
	for (;;) {
		const char *k;
		size_t kn;
		jv_ws(v);
		if (!jv_string(v, &k, &kn))
			return false;
		for (unsigned i = 0; i < nkeys; i++)
			if (keylen[i] == kn && same(key[i], k, kn))
				return jv_fail(v, "duplicate key in an object");
		if (nkeys < JV_MAX_KEYS) {
			key[nkeys] = k;
			keylen[nkeys++] = kn;
		}
		jv_ws(v);
		if (v->p >= v->end || *v->p != ':')
			return jv_fail(v, "':' expected");
		v->p++;
		jv_ws(v);
		const char *vs = v->p;
		if (!jv_value(v))
			return false;
		if (top && kn == 10 && same(k, "event_type", 10) && *vs == '"') {
			v->event_type = vs + 1;
			v->event_type_len = (size_t)(v->p - vs) - 2;
		}
		jv_ws(v);
		if (v->p < v->end && *v->p == ',') {
			v->p++;
			continue;
		}
		if (v->p < v->end && *v->p == '}') {
			v->p++;
			v->depth--;
			return true;
		}
		return jv_fail(v, "',' or '}' expected");
	}
}

NO_COV static bool jv_array(struct jv *v)
{
	if (++v->depth > JV_MAX_DEPTH)
		return jv_fail(v, "nested too deep");
	v->p++; /* '[' */
	jv_ws(v);
	if (v->p < v->end && *v->p == ']') {
		v->p++;
		v->depth--;
		return true;
	}
	for (;;) {
		jv_ws(v);
		if (!jv_value(v))
			return false;
		jv_ws(v);
		if (v->p < v->end && *v->p == ',') {
			v->p++;
			continue;
		}
		if (v->p < v->end && *v->p == ']') {
			v->p++;
			v->depth--;
			return true;
		}
		return jv_fail(v, "',' or ']' expected");
	}
}

NO_COV static bool jv_value(struct jv *v)
{
	if (v->p >= v->end)
		return jv_fail(v, "value expected");
	const char *s;
	size_t n;
	switch (*v->p) {
	case '{':
		return jv_object(v);
	case '[':
		return jv_array(v);
	case '"':
		return jv_string(v, &s, &n);
	case 't':
		return jv_literal(v, "true");
	case 'f':
		return jv_literal(v, "false");
	case 'n':
		return jv_literal(v, "null");
	default:
		return jv_number(v);
	}
}

/* One line (without its newline) is one JSON object and nothing else.
 * Returns NULL, or what is wrong. */
NO_COV static const char *jv_line(const char *line, size_t len, struct jv *v)
{
	memset(v, 0, sizeof *v);
	v->p = line;
	v->end = line + len;
	jv_ws(v);
	if (v->p >= v->end || *v->p != '{')
		return "not an object";
	if (!jv_object(v))
		return v->why ? v->why : "invalid";
	jv_ws(v);
	if (v->p != v->end)
		return "garbage after the object";
	return NULL;
}

/* The validator must accept and reject what RFC 8259 says: checked once,
 * so that a validator bug cannot hide an output bug. */
NO_COV static void jv_selftest(void)
{
	static const char *const good[] = {
	    "{}", "{\"a\":1}", "{\"a\":[1,-0,0.5,-1.25e+10,2E-3,true,false,null,{}]}",
	    "{\"a\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\uD83D\\uDE00\"}",
	    "{\"k\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"}", " { \"a\" : [ ] , \"b\" : { } } ",
	    "{\"event_type\":\"stats\",\"x\":{\"event_type\":\"alert\"}}",
	};
	static const char *const bad[] = {
	    "", "[]", "1", "{", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "{\"a\":[1,]}", "{a:1}",
	    "{\"a\":01}", "{\"a\":1.}", "{\"a\":.5}", "{\"a\":1e}", "{\"a\":-}", "{\"a\":+1}",
	    "{\"a\":tru}", "{\"a\":NaN}", "{\"a\":\"\x01\"}", "{\"a\":\"\\x41\"}",
	    "{\"a\":\"\\u12G4\"}", "{\"a\":\"\\uD800\"}", "{\"a\":\"\\uDC00\"}",
	    "{\"a\":\"\\uD800\\u0041\"}", "{\"a\":\"\xc0\xaf\"}", "{\"a\":\"\xed\xa0\x80\"}",
	    "{\"a\":\"\xf4\x90\x80\x80\"}", "{\"a\":\"\xe2\x82\"}", "{\"a\":\"\x80\"}",
	    "{\"a\":\"\xff\"}", "{\"a\":1}x", "{\"a\":1}{}", "{\"a\":1,\"a\":2}", "{\"a\":\"x}",
	    "{\"a\":'x'}",
	};
	struct jv v;
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		const char *why = jv_line(good[i], strlen(good[i]), &v);
		if (why)
			FAIL("validator self-test: rejects %s: %s", good[i], why);
	}
	if (!v.event_type || v.event_type_len != 5 || !same(v.event_type, "stats", 5))
		FAIL("validator self-test: top-level event_type not found");
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (!jv_line(bad[i], strlen(bad[i]), &v))
			FAIL("validator self-test: accepts %s", bad[i]);
}

/* ---- the run ------------------------------------------------------------ */

NO_COV static uint32_t fnv1a(const uint8_t *d, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ d[i]) * 16777619u;
	return h;
}

enum mode { MODE_JSON, MODE_TEXT, MODE_EVE }; /* --json, text, --eve + text */

static uint64_t sum(const uint64_t *v, size_t n)
{
	uint64_t s = 0;
	for (size_t i = 0; i < n; i++)
		s += v[i];
	return s;
}

NO_COV static bool is_type(const struct jv *v, const char *t)
{
	size_t n = strlen(t);
	return v->event_type && v->event_type_len == n && same(v->event_type, t, n);
}

/* Every line of the EVE output; counts the alert and flow records. */
NO_COV static void check_json(const char *out, size_t len, uint64_t *alerts, uint64_t *flows,
                              uint64_t *dedups)
{
	*alerts = *flows = *dedups = 0;
	if (len == 0)
		FAIL("no EVE output at all (no stats record)");
	if (out[len - 1] != '\n')
		FAIL("EVE output does not end with a newline");
	size_t at = 0, line = 0;
	bool stats_seen = false;
	while (at < len) {
		const char *nl = memchr(out + at, '\n', len - at);
		size_t n = (size_t)(nl - (out + at));
		struct jv v;
		line++;
		const char *why = jv_line(out + at, n, &v);
		if (why)
			FAIL("EVE line %zu is not valid JSON (%s): %.*s", line, why, (int)n, out + at);
		if (stats_seen)
			FAIL("EVE line %zu comes after the stats record", line);
		if (is_type(&v, "stats"))
			stats_seen = true;
		else if (is_type(&v, "alert"))
			(*alerts)++;
		else if (is_type(&v, "dedup"))
			(*dedups)++;
		else if (is_type(&v, "flow"))
			(*flows)++;
		else
			FAIL("EVE line %zu: unexpected event_type: %.*s", line, (int)n, out + at);
		at += n + 1;
	}
	if (!stats_seen)
		FAIL("no stats record at the end of the EVE output");
}

/* The text output: printable ASCII lines; counts the alert lines (those
 * before the summary, which starts "offport: "). */
/* True when needle occurs in the n bytes at hay. */
NO_COV static bool has(const char *hay, size_t n, const char *needle)
{
	size_t k = strlen(needle);
	for (size_t i = 0; i + k <= n; i++)
		if (memcmp(hay + i, needle, k) == 0)
			return true;
	return false;
}

NO_COV static void check_text(const char *out, size_t len, uint64_t *alerts, uint64_t *repeats,
                              uint64_t *explains)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)out[i];
		if ((c < 0x20 && c != '\n') || c >= 0x7f)
			FAIL("text output byte %zu is 0x%02x: %.*s", i, c,
			     (int)(len - i < 200 ? len - i : 200), out + (i > 100 ? i - 100 : 0));
	}
	if (len == 0 || out[len - 1] != '\n')
		FAIL("text output does not end with a newline");
	*alerts = *repeats = *explains = 0;
	size_t at = 0;
	while (at < len && !(len - at >= 9 && same(out + at, "offport: ", 9))) {
		const char *nl = memchr(out + at, '\n', len - at);
		size_t n = (size_t)(nl - out) - at;
		/* the kind of line shows right after the timestamp and the
		 * signature id, before anything taken from the payload */
		size_t head = n < 64 ? n : 64;
		if (has(out + at, head, " [explain] "))
			(*explains)++;
		else if (has(out + at, head, ":1] repeats: "))
			(*repeats)++;
		else
			(*alerts)++;
		at = (size_t)(nl - out) + 1;
	}
	if (at >= len)
		FAIL("no summary in the text output");
}

static void check_accounting(const struct engine *e, const struct capture *c)
{
	const struct run_totals *t = &e->totals;
	const struct decode_stats *d = &e->dec.stats;
	const struct flow_stats *fs = &e->flows.stats;
	if (t->packets != c->packets)
		FAIL("packets: engine %llu, capture %llu", (unsigned long long)t->packets,
		     (unsigned long long)c->packets);
	if (sum(d->result, DECODE__COUNT) != t->packets)
		FAIL("decoder results %llu != packets read %llu",
		     (unsigned long long)sum(d->result, DECODE__COUNT), (unsigned long long)t->packets);
	if (d->drop[DROP_NONE] != 0 || sum(d->drop, DROP__COUNT) != d->result[DECODE_MALFORMED])
		FAIL("drop reasons %llu != malformed %llu",
		     (unsigned long long)sum(d->drop, DROP__COUNT),
		     (unsigned long long)d->result[DECODE_MALFORMED]);
	if (fs->created_tcp + fs->created_udp != fs->created)
		FAIL("tcp + udp flows != flows created");
	if (t->flows_reported != fs->created)
		FAIL("flows created %llu != reported %llu", (unsigned long long)fs->created,
		     (unsigned long long)t->flows_reported);
	if (fs->ended[FLOW_END_NONE] != 0 || sum(fs->ended, FLOW_END__COUNT) != fs->created)
		FAIL("flow end reasons %llu != flows created %llu",
		     (unsigned long long)sum(fs->ended, FLOW_END__COUNT), (unsigned long long)fs->created);
	if (fs->active != 0)
		FAIL("%llu flows active after finish", (unsigned long long)fs->active);
	if (sum(t->app_proto, PORTS_MAX_PROTOS) + t->app_unknown + t->app_none != fs->created)
		FAIL("flows per protocol do not add up to flows created");
	if (t->findings[FINDING_NONE] != 0)
		FAIL("alerts counted with no finding");
	if (!report_accounted(t))
		FAIL("report_accounted says the accounting is incomplete");
	if (t->output_overflow != 0)
		FAIL("%llu records overflowed the JSON buffer", (unsigned long long)t->output_overflow);
	if (e->write_errno != 0)
		FAIL("write error %d", e->write_errno);
}

/* offport prints capture messages to a terminal: one line of printable
 * ASCII, whatever bytes the file holds. */
NO_COV static void check_message(const char *msg)
{
	if (!*msg)
		FAIL("capture error without a message");
	for (const char *m = msg; *m; m++)
		if (*m < 0x20 || *m >= 0x7f)
			FAIL("capture message byte 0x%02x: %s", (unsigned)(unsigned char)*m, msg);
}

/* The bytes in a file with a descriptor (an anonymous memory file), as
 * offport -r opens one: capture.c's direct reading then reads it with
 * pread, where bytes opened with fmemopen are read with fread. NULL if
 * none can be made. */
static FILE *open_file(const uint8_t *data, size_t size)
{
	int fd = memfd_create("fuzz", 0);
	if (fd < 0)
		return NULL;
	size_t done = 0;
	while (done < size) {
		ssize_t w = write(fd, data + done, size - done);
		if (w <= 0)
			break;
		done += (size_t)w;
	}
	FILE *f = done == size && lseek(fd, 0, SEEK_SET) == 0 ? fdopen(fd, "r") : NULL;
	if (!f)
		close(fd);
	return f;
}

/* The bytes as a pipe would bring them (standard input from tcpdump -w -):
 * a stream that cannot seek, which capture_open_stream reads through its
 * tap. NULL when they do not fit in the pipe's buffer at once. */
static FILE *open_pipe(const uint8_t *data, size_t size)
{
	int fd[2];
	if (size > 65536 || pipe(fd) != 0)
		return NULL;
	size_t done = 0;
	int fl = fcntl(fd[1], F_GETFL);
	if (fl != -1 && fcntl(fd[1], F_SETFL, fl | O_NONBLOCK) == 0) {
		while (done < size) {
			ssize_t n = write(fd[1], data + done, size - done);
			if (n <= 0)
				break;
			done += (size_t)n;
		}
	}
	close(fd[1]);
	FILE *f = done == size ? fdopen(fd[0], "r") : NULL;
	if (!f)
		close(fd[0]);
	return f;
}

static struct engine eng; /* large: static, set up afresh per input */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool tested;
	if (!tested) {
		jv_selftest();
		tested = true;
	}
	if (size == 0)
		return 0; /* fmemopen wants a buffer; libpcap would refuse it anyway */

	uint32_t h = fnv1a(data, size);
	enum mode mode = (enum mode)(h % 3);
	static const uint32_t flows_by[] = {1, 8, 32};
	static const uint32_t slots_by[] = {1, 2, 4, 16};
	static const uint32_t cap_by[] = {64, 256, 1024, 4096};

	FILE *in = (h >> 18) & 1 ? open_pipe(data, size) : NULL;
	if (!in && (h >> 19) & 1)
		in = open_file(data, size);
	if (!in) {
		/* libpcap reads the bytes as it would a file; the stream never
		 * writes (mode "r"), so casting away const is safe. */
		in = fmemopen((void *)(uintptr_t)data, size, "r");
		if (!in)
			abort();
	}
	struct capture cap;
	memset(&cap, 0, sizeof cap);
	char err[512] = "";
	int rc = capture_open_stream(&cap, in, "fuzz", err, sizeof err);
	if (rc != 0) {
		/* not a capture, or a damaged file header: offport says so and
		 * goes on with its other inputs (exit status 3) */
		if (rc != CAPTURE_OPEN_DAMAGED && rc != CAPTURE_OPEN_ERROR)
			FAIL("capture_open_stream returned %d", rc);
		check_message(err);
		return 0;
	}
	const char *ltname;
	if (!decode_linktype_supported(cap.dlt, &ltname)) {
		capture_close(&cap); /* offport refuses it at open, as here */
		return 0;
	}

	char *jbuf = NULL, *tbuf = NULL;
	size_t jlen = 0, tlen = 0;
	FILE *jout = NULL, *tout = NULL;
	if (mode != MODE_TEXT && !(jout = open_memstream(&jbuf, &jlen)))
		abort();
	if (mode != MODE_JSON && !(tout = open_memstream(&tbuf, &tlen)))
		abort();

	struct engine_config cfg;
	engine_config_defaults(&cfg);
	/* the registry parsed once, copied per input (parsing it each time
	 * took half of every run) */
	static struct ports registry;
	static int registry_ready;
	if (!registry_ready) {
		if (ports_load_default(&registry, err, sizeof err) != 0)
			FAIL("ports_load_default: %s", err);
		registry_ready = 1;
	}
	cfg.ports_loaded = &registry;
	cfg.json_out = jout;
	cfg.text_out = tout;
	cfg.unknown_all = (h >> 8) & 1;
	cfg.flow.max_flows = flows_by[(h >> 9) % 3];
	cfg.flow.seed = 0x0ff0f0ffu; /* 0 would be a random seed per run */
	cfg.stream.max_slots = slots_by[(h >> 12) & 3];
	cfg.stream.cap = cap_by[(h >> 14) & 3];
	cfg.inspect_segments = 0; /* engine_init raises it to the cap */
	cfg.decode.frag_max = (h >> 16) & 1 ? 2 : 16;
	cfg.dedup = !((h >> 18) & 1);
	cfg.explain = (h >> 19) & 1;
	cfg.dedup_cfg.max_groups = 64; /* small tables: quick to make per input */
	cfg.dedup_cfg.max_clients = 256;
	if ((h >> 20) & 1) { /* windows that close within the capture */
		cfg.dedup_cfg.window_us = 1000000u;
		cfg.dedup_cfg.max_groups = 2;
		cfg.dedup_cfg.max_clients = 3;
	}
	if ((h >> 17) & 1) {
		/* short timeouts, so that the captures' gaps expire flows and
		 * fragments, and closed flows' tuples get reused */
		cfg.decode.frag_timeout_us = 1000000u;
		cfg.flow.tcp_new_timeout_us = 1000000u;
		cfg.flow.tcp_established_timeout_us = 5000000u;
		cfg.flow.tcp_closing_timeout_us = 2000000u;
		cfg.flow.tcp_closed_timeout_us = 1000000u;
		cfg.flow.udp_timeout_us = 2000000u;
	}
	if (engine_init(&eng, &cfg, err, sizeof err) != 0)
		FAIL("engine_init: %s", err);
	eng.totals.inputs = 1;
	if ((h >> 21) & 1) {
		/* a site policy touching every key, with each of two defaults */
		static const char pol[] =
		    "set home 10.0.0.0/8, 192.168.0.0/16, 127.0.0.0/8, fd00::/8\n"
		    "set web 0.0.0.0/0, ::/0\n"
		    "allow proto=tls sni=*.example.com,localhost name=a\n"
		    "alert proto=unknown port=tcp/1-1023 severity=1 name=b\n"
		    "allow proto=http host=localhost,127.0.0.1 name=c\n"
		    "alert proto=!tls,dns direction=outbound,external name=d\n"
		    "allow transport=udp port=5000-6000 client=$home name=e\n"
		    "alert server=!$web severity=low\n";
		char text[sizeof pol + 32];
		snprintf(text, sizeof text, "%sdefault %s\n", pol, (h >> 22) & 1 ? "alert" : "registry");
		struct policy *p;
		if (policy_load_text("fuzz.conf", text, strlen(text), &p, err, sizeof err) != 0)
			FAIL("the fuzz policy does not load: %s", err);
		engine_set_policy(&eng, p);
	}

	/* run_input, for a file */
	struct capture_pkt pkt;
	for (;;) {
		enum capture_status st = capture_next(&cap, &pkt, err, sizeof err);
		if (st == CAPTURE_PACKET) {
			engine_packet(&eng, cap.dlt, &pkt);
			if (eng.write_errno)
				break;
			continue;
		}
		if (st == CAPTURE_BROKEN) {
			/* run_input: the message names where the file broke */
			check_message(err);
			long at = capture_damage_offset(&cap);
			if (at < -1 || at >= (long)size)
				FAIL("damage offset %ld in a capture of %zu bytes", at, size);
			eng.totals.inputs_damaged++;
		} else if (st != CAPTURE_EOF)
			FAIL("capture_next returned %d for a file", (int)st);
		break;
	}
	eng.totals.short_wirelen += cap.short_wirelen; /* as run_input */
	engine_finish(&eng);
	if (engine_write_stats(&eng) != 0)
		FAIL("engine_write_stats: write error");
	if (tout && report_summary_text(tout, &eng.totals) != 0)
		FAIL("report_summary_text: write error");
	if (jout && fclose(jout) != 0)
		abort();
	if (tout && fclose(tout) != 0)
		abort();

	check_accounting(&eng, &cap);
	uint64_t alerts = sum(eng.totals.alerts, FINDING__COUNT);
	uint64_t repeated = cfg.dedup ? eng.dedup.stats.closed_with_repeats : 0;
	if (!cfg.dedup && alerts != sum(eng.totals.findings, FINDING__COUNT))
		FAIL("--no-dedup: %llu alerts for %llu findings", (unsigned long long)alerts,
		     (unsigned long long)sum(eng.totals.findings, FINDING__COUNT));
	if (jbuf) {
		uint64_t ja, jf, jd;
		check_json(jbuf, jlen, &ja, &jf, &jd);
		if (jd != repeated)
			FAIL("%llu dedup records written, %llu groups closed with repeats",
			     (unsigned long long)jd, (unsigned long long)repeated);
		if (jf != eng.flows.stats.created)
			FAIL("%llu flow records written, %llu flows created", (unsigned long long)jf,
			     (unsigned long long)eng.flows.stats.created);
		if (ja != alerts)
			FAIL("%llu alert records written, alert counters %llu", (unsigned long long)ja,
			     (unsigned long long)alerts);
	}
	if (tbuf) {
		uint64_t ta, tr, te;
		check_text(tbuf, tlen, &ta, &tr, &te);
		if (ta != alerts)
			FAIL("%llu alert lines written, alert counters %llu", (unsigned long long)ta,
			     (unsigned long long)alerts);
		if (tr != repeated)
			FAIL("%llu repeat lines written, %llu groups closed with repeats",
			     (unsigned long long)tr, (unsigned long long)repeated);
		if (te != (cfg.explain ? eng.totals.flows_reported : 0))
			FAIL("%llu explain lines for %llu flows", (unsigned long long)te,
			     (unsigned long long)eng.totals.flows_reported);
	}

	free(jbuf);
	free(tbuf);
	engine_free(&eng);
	capture_close(&cap);
	return 0;
}
