/*
 * test_output.c - the JSON writer and record formats: escaping of hostile
 * strings, nesting, overflow, timestamps, and the flow/stats records'
 * invariants.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "common/sha1.h"
#include "output/community_id.h"
#include "output/json.h"
#include "output/report.h"

static struct json J;

/* Emits the record to a memory stream and returns it (static buffer). */
static const char *emit_str(int *rc)
{
	static char out[JSON_BUF_SIZE + 64];
	memset(out, 0, sizeof out);
	FILE *f = fmemopen(out, sizeof out - 1, "w");
	*rc = json_emit(&J, f);
	int flushed = json_flush(&J, f);
	if (*rc == 0)
		*rc = flushed;
	fclose(f);
	return out;
}

static void check_str(const uint8_t *in, size_t n, const char *want)
{
	int rc;
	json_begin(&J);
	json_strn(&J, "s", in, n);
	const char *got = emit_str(&rc);
	char full[512];
	snprintf(full, sizeof full, "{\"s\":%s}\n", want);
	CHECK_EQ_U(rc, 0);
	if (strcmp(got, full) != 0)
		fprintf(stderr, "  got  %s  want %s", got, full);
	CHECK(strcmp(got, full) == 0);
}

/* A byte-at-a-time reference of the escaping rules (json.h), for the
 * randomised comparison below: the writer scans eight bytes at a time. */
static size_t ref_escape(const uint8_t *s, size_t n, char *o)
{
	static const char hex[] = "0123456789abcdef";
	size_t k = 0;
	o[k++] = '"';
	for (size_t i = 0; i < n;) {
		uint8_t c = s[i];
		if (c == '"' || c == '\\') {
			o[k++] = '\\';
			o[k++] = (char)c;
			i++;
		} else if (c >= 0x20 && c < 0x7f) {
			o[k++] = (char)c;
			i++;
		} else if (c == '\n' || c == '\r' || c == '\t') {
			o[k++] = '\\';
			o[k++] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
			i++;
		} else {
			size_t len = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3
			           : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
			uint32_t cp = len == 2 ? c & 0x1fu : len == 3 ? c & 0x0fu : c & 0x07u;
			bool ok = len && i + len <= n;
			for (size_t m = 1; ok && m < len; m++) {
				ok = (s[i + m] & 0xc0) == 0x80;
				cp = cp << 6 | (s[i + m] & 0x3fu);
			}
			if (ok && len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff)))
				ok = false;
			if (ok && len == 4 && (cp < 0x10000 || cp > 0x10ffff))
				ok = false;
			if (ok) {
				memcpy(o + k, s + i, len);
				k += len;
				i += len;
			} else {
				k += (size_t)sprintf(o + k, "\\u00%c%c", hex[c >> 4], hex[c & 15]);
				i++;
			}
		}
	}
	o[k++] = '"';
	o[k] = 0;
	return k;
}

static void test_escaping_random(void)
{
	/* Mostly printable, with every kind of special byte mixed in at every
	 * alignment. */
	static const uint8_t special[] = {'"', '\\', 0x00, 0x1f, 0x7f, 0x80, 0xff, '\n', 0xc3,
	                                  0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80, 0xed};
	uint64_t x = 0x2545f4914f6cdd1du;
	unsigned bad = 0;
	for (unsigned t = 0; t < 20000; t++) {
		uint8_t in[64];
		char want[64 * 6 + 3];
		size_t n = t % 64;
		for (size_t i = 0; i < n; i++) {
			check_rand(&x);
			in[i] = (x >> 8) % 8 == 0 ? special[(x >> 16) % sizeof special]
			                          : (uint8_t)(0x20 + (x >> 24) % 0x5f);
		}
		ref_escape(in, n, want);
		size_t wl = strlen(want);
		int rc;
		json_begin(&J);
		if (t % 2) {
			/* Near the end of the record buffer: room for the string
			 * escaped (three times its length) but not for the worst
			 * case, the writer's careful path; it fits or the record
			 * overflows, never a cut string. */
			static uint8_t filler[JSON_BUF_SIZE];
			size_t room = n * 3 + 10;
			memset(filler, 'f', sizeof filler);
			json_strn(&J, "f", filler, JSON_BUF_SIZE - 12 - room);
			json_strn(&J, "s", in, n);
			const char *got = emit_str(&rc);
			bool fits = wl + 2 <= room;
			const char *tail = got + strlen(got) - (rc == 0 ? wl + 2 : 0);
			if (rc != (fits ? 0 : -1) ||
			    (fits && (strncmp(tail, want, wl) != 0 || strcmp(tail + wl, "}\n") != 0))) {
				if (bad++ < 3)
					fprintf(stderr, "  escaping near the end differs (rc %d): want %s\n", rc,
					        want);
			}
			continue;
		}
		json_strn(&J, "s", in, n);
		const char *got = emit_str(&rc);
		if (rc != 0 || strncmp(got, "{\"s\":", 5) != 0 || strncmp(got + 5, want, wl) != 0 ||
		    strcmp(got + 5 + wl, "}\n") != 0) {
			if (bad++ < 3)
				fprintf(stderr, "  escaping differs: got %s  want %s\n", got, want);
		}
	}
	CHECK_EQ_U(bad, 0);
	/* A buffer one byte or none from full: the record overflows, nothing
	 * is written past the buffer (ASan would see it). */
	for (size_t left = 0; left < 4; left++) {
		static uint8_t filler[JSON_BUF_SIZE];
		int rc;
		memset(filler, 'f', sizeof filler);
		json_begin(&J);
		json_strn(&J, "f", filler, JSON_BUF_SIZE - 7 - left); /* {"f":"..." */
		CHECK_EQ_U(J.len, JSON_BUF_SIZE - left);
		json_strn(&J, NULL, (const uint8_t *)"", 0);
		/* ',' and '""' fit in 3 bytes; with fewer the record overflows,
		 * and nothing is written past the buffer either way */
		CHECK(J.len <= JSON_BUF_SIZE && J.overflow == (left < 3));
		(void)emit_str(&rc);
		CHECK(rc == -1);
	}
}

static void test_escaping(void)
{
	check_str((const uint8_t *)"plain", 5, "\"plain\"");
	check_str((const uint8_t *)"q\"b\\", 4, "\"q\\\"b\\\\\"");
	check_str((const uint8_t *)"a\nb\rc\td", 7, "\"a\\nb\\rc\\td\"");
	static const uint8_t ctl[] = {0x00, 0x01, 0x1f, 0x7f};
	check_str(ctl, sizeof ctl, "\"\\u0000\\u0001\\u001f\\u007f\"");
	/* Valid UTF-8 passes through: é (2 bytes), € (3), 😀 (4). */
	static const uint8_t utf[] = {0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80};
	check_str(utf, sizeof utf, "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"");
	/* Invalid UTF-8 becomes \u00XX per byte: a lone continuation byte, an
	 * overlong '/', a surrogate, a truncated sequence, a code point past
	 * U+10FFFF, 0xff. */
	static const uint8_t bad1[] = {0x80};
	check_str(bad1, 1, "\"\\u0080\"");
	static const uint8_t bad2[] = {0xc0, 0xaf};
	check_str(bad2, 2, "\"\\u00c0\\u00af\"");
	static const uint8_t bad3[] = {0xed, 0xa0, 0x80};
	check_str(bad3, 3, "\"\\u00ed\\u00a0\\u0080\"");
	static const uint8_t bad4[] = {0xe2, 0x82};
	check_str(bad4, 2, "\"\\u00e2\\u0082\"");
	static const uint8_t bad5[] = {0xf4, 0x90, 0x80, 0x80};
	check_str(bad5, 4, "\"\\u00f4\\u0090\\u0080\\u0080\"");
	static const uint8_t bad6[] = {'a', 0xff, 'b'};
	check_str(bad6, 3, "\"a\\u00ffb\"");
	/* Keys are the program's own plain names, copied as they are. */
	int rc;
	json_begin(&J);
	json_u64(&J, "k_1", 1);
	CHECK(strcmp(emit_str(&rc), "{\"k_1\":1}\n") == 0);
}

static void test_structure(void)
{
	int rc;
	json_begin(&J);
	json_str(&J, "a", "x");
	json_obj(&J, "o");
	json_u64(&J, "n", 18446744073709551615u);
	json_i64(&J, "m", -5);
	json_bool(&J, "t", true);
	json_arr(&J, "l");
	json_u64(&J, NULL, 1);
	json_u64(&J, NULL, 2);
	json_end_arr(&J);
	json_end_obj(&J);
	json_double(&J, "d", 0.5, 3);
	const char *got = emit_str(&rc);
	CHECK_EQ_U(rc, 0);
	CHECK(strcmp(got, "{\"a\":\"x\",\"o\":{\"n\":18446744073709551615,\"m\":-5,\"t\":true,"
	                  "\"l\":[1,2]},\"d\":0.500}\n") == 0);

	/* An unclosed object is not written. */
	json_begin(&J);
	json_obj(&J, "open");
	got = emit_str(&rc);
	CHECK_EQ_U(rc, (uint64_t)-1);
	CHECK(got[0] == 0);

	/* A record larger than the buffer is refused whole, never cut. */
	static uint8_t big[JSON_BUF_SIZE];
	memset(big, 0x01, sizeof big); /* each byte becomes 6 */
	json_begin(&J);
	json_strn(&J, "big", big, sizeof big);
	got = emit_str(&rc);
	CHECK_EQ_U(rc, (uint64_t)-1);
	CHECK(got[0] == 0);

	/* Too deep a nesting is refused. */
	json_begin(&J);
	for (int i = 0; i < JSON_MAX_DEPTH + 2; i++)
		json_obj(&J, "x");
	for (int i = 0; i < JSON_MAX_DEPTH + 2; i++)
		json_end_obj(&J);
	(void)emit_str(&rc);
	CHECK_EQ_U(rc, (uint64_t)-1);

	/* A write error is reported. */
	FILE *full = fopen("/dev/full", "w");
	if (full) {
		setvbuf(full, NULL, _IONBF, 0);
		json_begin(&J);
		json_u64(&J, "n", 1);
		CHECK_EQ_U(json_emit(&J, full), 0); /* kept, not yet written */
		CHECK_EQ_U(json_flush(&J, full), (uint64_t)-2);
		fclose(full);
	}
}

/* Records are kept in the output buffer and written together once they
 * fill JSON_OUT_SIZE: nothing reaches the file before, everything in
 * order after, a refused record leaves no trace, and json_flush writes
 * the rest. */
static void test_batching(void)
{
	FILE *f = tmpfile();
	CHECK(f != NULL);
	if (!f)
		return;
	setvbuf(f, NULL, _IONBF, 0);
	size_t want_cap = 3 * JSON_OUT_SIZE;
	char *want = malloc(want_cap);
	CHECK(want != NULL);
	if (!want) {
		fclose(f);
		return;
	}
	size_t want_len = 0, kept = 0;
	unsigned writes = 0;
	for (uint64_t i = 0; want_len < 2 * JSON_OUT_SIZE + 1000; i++) {
		json_begin(&J);
		json_u64(&J, "i", i);
		char pad[200];
		memset(pad, 'a' + (int)(i % 26), sizeof pad);
		json_strn(&J, "pad", (const uint8_t *)pad, (size_t)(i % sizeof pad));
		if (i % 1000 == 7)
			json_obj(&J, "unclosed"); /* refused: no trace */
		int n = snprintf(want + want_len, want_cap - want_len, "{\"i\":%llu,\"pad\":\"%.*s\"}\n",
		                 (unsigned long long)i, (int)(i % sizeof pad), pad);
		int rc = json_emit(&J, f);
		if (i % 1000 == 7) {
			CHECK_EQ_U(rc, (uint64_t)-1);
			continue;
		}
		CHECK_EQ_U(rc, 0);
		want_len += (size_t)n;
		kept += (size_t)n;
		long at = ftell(f);
		if (kept >= JSON_OUT_SIZE) { /* this record filled the buffer: all written */
			CHECK_EQ_U((uint64_t)at, want_len);
			kept = 0;
			writes++;
		} else { /* still held */
			CHECK_EQ_U((uint64_t)at, want_len - kept);
		}
	}
	CHECK_EQ_U(writes, 2);
	CHECK(kept > 0);
	CHECK_EQ_U(json_flush(&J, f), 0);
	CHECK_EQ_U((uint64_t)ftell(f), want_len);
	CHECK_EQ_U(json_flush(&J, f), 0); /* nothing left: nothing written */
	CHECK_EQ_U((uint64_t)ftell(f), want_len);
	char *got = malloc(want_len);
	CHECK(got != NULL);
	if (got) {
		rewind(f);
		CHECK_EQ_U(fread(got, 1, want_len, f), want_len);
		CHECK(memcmp(got, want, want_len) == 0);
		free(got);
	}
	free(want);
	fclose(f);
}

static void test_timestamps(void)
{
	char ts[40];
	json_format_ts(0, ts);
	CHECK(strcmp(ts, "1970-01-01T00:00:00.000000+0000") == 0);
	json_format_ts(1705312800123456u, ts);
	CHECK(strcmp(ts, "2024-01-15T10:00:00.123456+0000") == 0);
	json_format_ts(4102444799999999u, ts); /* 2099-12-31T23:59:59.999999 */
	CHECK(strcmp(ts, "2099-12-31T23:59:59.999999+0000") == 0);
	/* The hand-made calendar against gmtime_r and strftime: leap days,
	 * century years, every day boundary of 1970-2400 and pseudo-random
	 * instants up to year 99,999. */
	static const uint64_t fixed[] = {
		951782400u, 951868800u, 4107542400u, 4107456000u, 253402300799u, 253402300800u,
		13569465600u, 68256000u,
	};
	unsigned bad = 0, n = 0;
	uint64_t x = 0x9e3779b97f4a7c15u;
	for (unsigned i = 0; i < 200000; i++) {
		uint64_t secs;
		if (i < sizeof fixed / sizeof fixed[0])
			secs = fixed[i];
		else if (i < 160000)
			secs = (uint64_t)(i - 8) * 86400u - (i & 1);
		else
			secs = check_rand(&x) % 3093527980800u;
		time_t t = (time_t)secs;
		struct tm tm;
		if (!gmtime_r(&t, &tm))
			continue;
		char want[64], date[48];
		strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
		snprintf(want, sizeof want, "%s.%06u+0000", date, (unsigned)(i * 7919u % 1000000u));
		json_format_ts(secs * 1000000u + i * 7919u % 1000000u, ts);
		n++;
		if (strcmp(ts, want) != 0 && bad++ < 5)
			fprintf(stderr, "json_format_ts(%llu s): %s, want %s\n", (unsigned long long)secs,
			        ts, want);
	}
	CHECK_EQ_U(bad, 0);
	CHECK(n > 190000);
	/* The same second again with other microseconds (the formatted
	 * second is reused), also for years of five digits and after a
	 * second of another width. */
	bad = 0;
	for (unsigned i = 0; i < 20000; i++) {
		uint64_t secs = i % 3 == 0 ? check_rand(&x) % 3093527980800u
		                           : check_rand(&x) % 4102444800u;
		time_t t = (time_t)secs;
		struct tm tm;
		if (!gmtime_r(&t, &tm))
			continue;
		char date[48], want[64];
		strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
		for (unsigned k = 0; k < 3; k++) {
			unsigned us = (unsigned)(check_rand(&x) % 1000000u);
			snprintf(want, sizeof want, "%s.%06u+0000", date, us);
			json_format_ts(secs * 1000000u + us, ts);
			if (strcmp(ts, want) != 0 && bad++ < 5)
				fprintf(stderr, "json_format_ts again: %s, want %s\n", ts, want);
		}
	}
	/* Consecutive seconds across a minute, an hour and a day boundary. */
	for (uint64_t secs = 1705363140u; secs < 1705363320u; secs++) {
		time_t t = (time_t)secs;
		struct tm tm;
		char date[48], want[64];
		gmtime_r(&t, &tm);
		strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
		snprintf(want, sizeof want, "%s.000007+0000", date);
		json_format_ts(secs * 1000000u + 7, ts);
		if (strcmp(ts, want) != 0 && bad++ < 5)
			fprintf(stderr, "json_format_ts next second: %s, want %s\n", ts, want);
	}
	CHECK_EQ_U(bad, 0);
}

static void test_flow_record(void)
{
	struct flow f;
	memset(&f, 0, sizeof f);
	f.ip_version = 6;
	f.proto = 6;
	f.cli_ip[0] = 0x20, f.cli_ip[1] = 0x01, f.cli_ip[2] = 0x0d, f.cli_ip[3] = 0xb8, f.cli_ip[15] = 1;
	f.srv_ip[0] = 0x20, f.srv_ip[1] = 0x01, f.srv_ip[2] = 0x0d, f.srv_ip[3] = 0xb8, f.srv_ip[15] = 2;
	f.cli_port = 40000;
	f.srv_port = 443;
	f.flow_id = 42;
	f.first_ts_us = 1705312800000000u;
	f.last_ts_us = 1705312803500000u;
	f.pkts[0] = 3, f.pkts[1] = 2, f.bytes[0] = 300, f.bytes[1] = 200;
	f.tcp_flags[0] = TCPF_SYN | TCPF_ACK;
	f.tcp_flags[1] = TCPF_SYN | TCPF_ACK | TCPF_RST;
	f.state = FLOW_CLOSED;
	f.orient = ORIENT_SYN;
	f.end_reason = FLOW_END_RST;
	f.vlan_id = 7;
	f.user_proto = -1;
	uint32_t fb[2] = {10, 20};
	report_flow_json(&J, &f, fb, true, NULL);
	int rc;
	const char *got = emit_str(&rc);
	CHECK_EQ_U(rc, 0);
	CHECK(strstr(got, "\"src_ip\":\"2001:db8::1\",\"src_port\":40000,\"dest_ip\":\"2001:db8::2\","
	                  "\"dest_port\":443,\"proto\":\"TCP\",\"app_proto\":\"none\","
	                  "\"community_id\":\"1:") != NULL);
	CHECK(strstr(got, "\"vlan\":[7]") != NULL);
	CHECK(strstr(got, "\"age\":3,\"state\":\"closed\",\"reason\":\"timeout\"") != NULL);
	CHECK(strstr(got, "\"tcp_flags\":\"16\",\"tcp_flags_ts\":\"12\",\"tcp_flags_tc\":\"16\","
	                  "\"syn\":true,\"rst\":true,\"ack\":true") != NULL);
	CHECK(strstr(got, "\"end_reason\":\"rst\",\"inspected\":true,\"first_bytes_toserver\":10,"
	                  "\"first_bytes_toclient\":20") != NULL);
	CHECK(strstr(got, "\"tunnel\"") == NULL);
	f.tunnel.type = TUNNEL_VXLAN;
	f.tunnel.id_valid = 1;
	f.tunnel.id = 4242;
	f.tunnel.depth = 1;
	f.tunnel.outer_ipver = 4;
	f.tunnel.outer_src[0] = 203, f.tunnel.outer_src[3] = 1;
	f.tunnel.outer_dst[0] = 203, f.tunnel.outer_dst[3] = 2;
	report_flow_json(&J, &f, fb, false, NULL);
	got = emit_str(&rc);
	CHECK(strstr(got, "\"tunnel\":{\"type\":\"vxlan\",\"id\":4242,\"src_ip\":\"203.0.0.1\","
	                  "\"dest_ip\":\"203.0.0.2\",\"depth\":1}") != NULL);
	CHECK(strstr(got, "\"inspected\":false") != NULL);
}

/*
 * The flow record as the member writers wrote it before report.c wrote it
 * directly (json_raw_begin): the reference for the randomised comparison
 * below, byte for byte.
 */
static void ref_ip(struct json *j, const char *key, uint8_t ipver, const uint8_t *addr)
{
	char ip[INET6_ADDRSTRLEN];
	inet_ntop(ipver == 6 ? AF_INET6 : AF_INET, addr, ip, sizeof ip);
	json_own(j, key, ip);
}

static void ref_flow_json(struct json *j, const struct flow *f, const uint32_t first_bytes[2],
                          bool inspected, const struct verdict_note *note)
{
	static const char hex[] = "0123456789abcdef";
	char ts[40], cid[32], hx[3] = {0};
	json_begin(j);
	json_format_ts(f->first_ts_us, ts);
	json_own(j, "timestamp", ts);
	json_u64(j, "flow_id", f->flow_id);
	json_own(j, "event_type", "flow");
	ref_ip(j, "src_ip", f->ip_version, f->cli_ip);
	json_u64(j, "src_port", f->cli_port);
	ref_ip(j, "dest_ip", f->ip_version, f->srv_ip);
	json_u64(j, "dest_port", f->srv_port);
	json_own(j, "proto", f->proto == 6 ? "TCP" : f->proto == 17 ? "UDP" : "IP");
	json_own(j, "app_proto", report_app_proto(f));
	community_id_v1(0, f->ip_version, f->proto, f->cli_ip, f->cli_port, f->srv_ip, f->srv_port,
	                cid);
	json_own(j, "community_id", cid);
	if (f->vlan_id) {
		json_arr(j, "vlan");
		json_u64(j, NULL, f->vlan_id);
		json_end_arr(j);
	}
	json_obj(j, "flow");
	json_u64(j, "pkts_toserver", f->pkts[DIR_TO_SERVER]);
	json_u64(j, "pkts_toclient", f->pkts[DIR_TO_CLIENT]);
	json_u64(j, "bytes_toserver", f->bytes[DIR_TO_SERVER]);
	json_u64(j, "bytes_toclient", f->bytes[DIR_TO_CLIENT]);
	json_own(j, "start", ts);
	json_format_ts(f->last_ts_us, ts);
	json_own(j, "end", ts);
	json_u64(j, "age", (f->last_ts_us - f->first_ts_us) / 1000000u);
	json_own(j, "state", flow_state_name((enum flow_state)f->state));
	json_own(j, "reason", f->end_reason == FLOW_END_EVICTED ? "forced"
	                      : f->end_reason == FLOW_END_EOF   ? "shutdown"
	                                                        : "timeout");
	json_end_obj(j);
	if (f->proto == 6) {
		static const struct {
			uint8_t bit;
			const char *name;
		} names[] = {{TCPF_SYN, "syn"}, {TCPF_FIN, "fin"}, {TCPF_RST, "rst"},
		             {TCPF_PSH, "psh"}, {TCPF_ACK, "ack"}, {TCPF_URG, "urg"},
		             {TCPF_ECE, "ecn"}, {TCPF_CWR, "cwr"}};
		uint8_t all = f->tcp_flags[0] | f->tcp_flags[1];
		const uint8_t v[3] = {all, f->tcp_flags[DIR_TO_SERVER], f->tcp_flags[DIR_TO_CLIENT]};
		const char *keys[3] = {"tcp_flags", "tcp_flags_ts", "tcp_flags_tc"};
		json_obj(j, "tcp");
		for (int i = 0; i < 3; i++) {
			hx[0] = hex[v[i] >> 4];
			hx[1] = hex[v[i] & 15];
			json_own(j, keys[i], hx);
		}
		for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
			if (all & names[i].bit)
				json_bool(j, names[i].name, true);
		json_own(j, "state", flow_state_name((enum flow_state)f->state));
		json_end_obj(j);
	}
	if (f->tunnel.type != TUNNEL_NONE) {
		json_obj(j, "tunnel");
		json_own(j, "type", tunnel_type_name((enum tunnel_type)f->tunnel.type));
		if (f->tunnel.id_valid)
			json_u64(j, "id", f->tunnel.id);
		ref_ip(j, "src_ip", f->tunnel.outer_ipver, f->tunnel.outer_src);
		ref_ip(j, "dest_ip", f->tunnel.outer_ipver, f->tunnel.outer_dst);
		json_u64(j, "depth", f->tunnel.depth);
		json_end_obj(j);
	}
	json_obj(j, "offport");
	json_own(j, "orientation", flow_orient_guessed(f->orient) ? "guessed" : "syn");
	json_own(j, "orientation_basis", flow_orient_name((enum flow_orient)f->orient));
	json_own(j, "end_reason", flow_end_name((enum flow_end)f->end_reason));
	json_bool(j, "inspected", inspected);
	if (f->user_flags & REPORT_UF_INSPECTION_CUT)
		json_bool(j, "inspection_cut", true);
	if (f->user_kind)
		json_own(j, "finding", finding_kind_name((enum finding_kind)f->user_kind));
	unsigned pc = (f->user_flags & REPORT_UF_PAYLOAD_MASK) >> REPORT_UF_PAYLOAD_SHIFT;
	if (pc != IDENT_PAYLOAD_NONE)
		json_own(j, "payload_class", ident_payload_name((enum ident_payload)pc));
	json_u64(j, "first_bytes_toserver", first_bytes[DIR_TO_SERVER]);
	json_u64(j, "first_bytes_toclient", first_bytes[DIR_TO_CLIENT]);
	if (f->user_flags & REPORT_UF_REPEAT)
		json_bool(j, "repeat", true);
	if (note) {
		if (note->decided_by) {
			json_own(j, "decided_by", note->decided_by);
			json_str(j, "rule", note->rule ? note->rule : "");
			if (note->rule_location)
				json_str(j, "rule_location", note->rule_location);
		}
		if (note->explanation)
			json_str(j, "explanation", note->explanation);
	}
	json_end_obj(j);
}

static uint64_t rnd_state = 0x9e3779b97f4a7c15u;
static uint64_t rnd(void) /* xorshift64* */
{
	rnd_state ^= rnd_state >> 12;
	rnd_state ^= rnd_state << 25;
	rnd_state ^= rnd_state >> 27;
	return rnd_state * 2685821657736338717u;
}

/* A value of n bits, small ones often (counts of 0 and 1 are most). */
static uint64_t rnd_num(unsigned bits)
{
	uint64_t v = rnd();
	switch (v & 3) {
	case 0:
		return v >> 62;
	case 1:
		return (v >> 2) % 1000;
	default:
		return bits >= 64 ? v : (v >> 2) & ((1ull << bits) - 1);
	}
}

static void rnd_addr(uint8_t a[16], uint8_t ipver)
{
	memset(a, 0, 16);
	for (int i = 0; i < (ipver == 6 ? 16 : 4); i++) {
		uint64_t r = rnd();
		a[i] = (r & 3) == 0 ? 0 : (uint8_t)(r >> 8); /* zero runs for "::" */
	}
}

/* report_flow_json writes the same bytes as the member writers did, on
 * random flows: IPv4 and IPv6, every protocol kind, flag, state, end,
 * orientation, finding, class, tunnel and note (names past the tables'
 * ends too), timestamps in one instant, one second, and years apart. */
static void test_flow_record_random(void)
{
	static char want[JSON_BUF_SIZE + 64];
	static const char *const notes[] = {"registry", "policy"};
	static const uint8_t protos[] = {6, 17, 1, 132};
	unsigned bad = 0;
	for (unsigned i = 0; i < 20000; i++) {
		struct flow f;
		memset(&f, 0, sizeof f);
		f.ip_version = rnd() % 3 ? 4 : 6;
		f.proto = protos[rnd() % 4];
		rnd_addr(f.cli_ip, f.ip_version);
		rnd_addr(f.srv_ip, f.ip_version);
		f.cli_port = (uint16_t)rnd_num(16);
		f.srv_port = (uint16_t)rnd_num(16);
		f.flow_id = rnd_num(53);
		f.first_ts_us = rnd_num(rnd() % 8 ? 51 : 64) % 253402300800000000u; /* to 9999 */
		switch (rnd() % 4) {
		case 0:
			f.last_ts_us = f.first_ts_us;
			break;
		case 1:
			f.last_ts_us = f.first_ts_us + rnd() % 1000; /* often the same second */
			break;
		default:
			f.last_ts_us = f.first_ts_us + rnd_num(40);
			break;
		}
		for (int d = 0; d < 2; d++) {
			f.pkts[d] = rnd_num(40);
			f.bytes[d] = rnd_num(64);
			f.tcp_flags[d] = (uint8_t)rnd();
		}
		f.state = (uint8_t)(rnd() % (FLOW_STATE__COUNT + 1));
		f.orient = (uint8_t)(rnd() % (ORIENT__COUNT + 1));
		f.end_reason = (uint8_t)(rnd() % (FLOW_END__COUNT + 1));
		f.vlan_id = rnd() % 3 ? 0 : (uint16_t)(rnd() % 4096);
		f.user_proto = (int16_t)((int)(rnd() % (ident_count + 2)) - 1);
		f.user_flags = (uint8_t)rnd();
		f.user_kind = (uint8_t)(rnd() % 3 ? 0 : rnd() % (FINDING__COUNT + 1));
		if (rnd() % 4 == 0) {
			f.tunnel.type = (uint8_t)(1 + rnd() % TUNNEL__COUNT);
			f.tunnel.id_valid = rnd() & 1;
			f.tunnel.id = (uint32_t)rnd_num(24);
			f.tunnel.depth = (uint8_t)(1 + rnd() % 4);
			f.tunnel.outer_ipver = rnd() % 3 ? 4 : 6;
			rnd_addr(f.tunnel.outer_src, f.tunnel.outer_ipver);
			rnd_addr(f.tunnel.outer_dst, f.tunnel.outer_ipver);
		}
		uint32_t fb[2] = {(uint32_t)rnd_num(32), (uint32_t)rnd_num(32)};
		bool inspected = rnd() & 1;
		struct verdict_note note = {0};
		if (rnd() & 1)
			note.decided_by = notes[rnd() & 1];
		note.rule = rnd() & 1 ? "tcp/443" : "site \"rule\"";
		note.rule_location = rnd() & 1 ? "policy.conf:7" : NULL;
		note.explanation = rnd() & 1 ? "why\n, in a sentence" : NULL;
		const struct verdict_note *np = rnd() & 1 ? &note : NULL;

		int rc;
		ref_flow_json(&J, &f, fb, inspected, np);
		strcpy(want, emit_str(&rc));
		CHECK_EQ_U(rc, 0);
		report_flow_json(&J, &f, fb, inspected, np);
		const char *got = emit_str(&rc);
		CHECK_EQ_U(rc, 0);
		if (strcmp(got, want) != 0 && bad++ < 3)
			fprintf(stderr, "flow record:\n  got  %s  want %s", got, want);
	}
	CHECK_EQ_U(bad, 0);
}

/* Community ID by the specification's steps, byte by byte, on the
 * portable SHA-1: the reference for community_id_v1, which hashes in
 * place and encodes without a branch per group. */
static void ref_community_id(uint8_t ipver, uint8_t proto, const uint8_t *src, uint16_t sport,
                             const uint8_t *dst, uint16_t dport, char *out)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t alen = ipver == 6 ? 16 : 4;
	int c = memcmp(src, dst, alen);
	if (c > 0 || (c == 0 && sport > dport)) {
		const uint8_t *t = src;
		src = dst;
		dst = t;
		uint16_t tp = sport;
		sport = dport;
		dport = tp;
	}
	uint8_t m[40], d[21] = {0};
	size_t n = 0;
	m[n++] = 0;
	m[n++] = 0;
	memcpy(m + n, src, alen);
	n += alen;
	memcpy(m + n, dst, alen);
	n += alen;
	m[n++] = proto;
	m[n++] = 0;
	m[n++] = (uint8_t)(sport >> 8);
	m[n++] = (uint8_t)sport;
	m[n++] = (uint8_t)(dport >> 8);
	m[n++] = (uint8_t)dport;
	sha1_digest_generic(m, n, d);
	char *o = out + sprintf(out, "1:");
	for (int i = 0; i < 21; i += 3) {
		uint32_t v = (uint32_t)d[i] << 16 | (uint32_t)d[i + 1] << 8 | d[i + 2];
		for (int k = 0; k < 4; k++)
			*o++ = b64[v >> (18 - 6 * k) & 63];
	}
	out[29] = '=';
	out[30] = 0;
}

static void test_community_id_random(void)
{
	unsigned bad = 0;
	for (unsigned i = 0; i < 20000; i++) {
		uint8_t ipver = i & 1 ? 6 : 4, a[16] = {0}, b[16] = {0};
		uint8_t proto = (uint8_t)rnd();
		for (size_t k = 0; k < (ipver == 6 ? 16u : 4u); k++) {
			a[k] = (uint8_t)(rnd() % 4);
			b[k] = rnd() % 2 ? a[k] : (uint8_t)(rnd() % 4); /* often equal */
		}
		uint16_t sp = (uint16_t)(rnd() % 4 ? rnd() : 80), dp = (uint16_t)(rnd() % 4 ? rnd() : 80);
		char got[32], want[32];
		community_id_v1(0, ipver, proto, a, sp, b, dp, got);
		ref_community_id(ipver, proto, a, sp, b, dp, want);
		bad += strcmp(got, want) != 0;
	}
	CHECK_EQ_U(bad, 0);
	/* the one-block digest against the general one at every length */
	for (size_t n = 0; n <= 55; n++) {
		uint8_t block[64] = {0}, d1[20], d2[20];
		for (size_t k = 0; k < n; k++)
			block[k] = (uint8_t)rnd();
		sha1_digest(block, n, d1);
		sha1_digest_block(block, n, d2);
		CHECK(memcmp(d1, d2, 20) == 0);
	}
}

/* json_fmt_u64 against printf on values of every length, and each power
 * of ten and its neighbours (eight digits at a time, then two). */
static void test_numbers(void)
{
	char got[32], want[32];
	unsigned bad = 0;
	for (unsigned i = 0; i < 200000; i++) {
		uint64_t v = rnd() >> (rnd() % 64);
		got[json_fmt_u64(got, v)] = 0;
		snprintf(want, sizeof want, "%llu", (unsigned long long)v);
		bad += strcmp(got, want) != 0;
	}
	for (uint64_t p = 1, k = 0; k < 20; k++, p *= 10) {
		for (uint64_t v = p - 1; v <= p + 1; v++) {
			got[json_fmt_u64(got, v)] = 0;
			snprintf(want, sizeof want, "%llu", (unsigned long long)v);
			bad += strcmp(got, want) != 0;
		}
	}
	got[json_fmt_u64(got, UINT64_MAX)] = 0;
	bad += strcmp(got, "18446744073709551615") != 0;
	CHECK_EQ_U(bad, 0);
}

/* Every name a flow record shows fits REPORT_NAME_MAX, which its writer
 * counts on (report.c, FLOW_RAW_MAX). */
static void test_name_lengths(void)
{
	size_t longest = 0;
#define LONGEST(s) (longest = strlen(s) > longest ? strlen(s) : longest)
	for (unsigned i = 0; i < ident_count; i++)
		LONGEST(ident_registry[i]->name);
	for (int i = 0; i <= FLOW_STATE__COUNT; i++)
		LONGEST(flow_state_name((enum flow_state)i));
	for (int i = 0; i <= ORIENT__COUNT; i++)
		LONGEST(flow_orient_name((enum flow_orient)i));
	for (int i = 0; i <= FLOW_END__COUNT; i++)
		LONGEST(flow_end_name((enum flow_end)i));
	for (int i = 0; i <= FINDING__COUNT; i++)
		LONGEST(finding_kind_name((enum finding_kind)i));
	for (int i = 0; i <= IDENT_PAYLOAD_OPAQUE + 1; i++)
		LONGEST(ident_payload_name((enum ident_payload)i));
	for (int i = 0; i <= TUNNEL__COUNT; i++)
		LONGEST(tunnel_type_name((enum tunnel_type)i));
#undef LONGEST
	CHECK(longest <= REPORT_NAME_MAX);
}

/* The Community ID specification's own example, both directions, plus
 * SHA-1 test vectors of FIPS 180-4 (one and two blocks). */
/* report_ip writes IPv4 by hand: the same text as inet_ntop. */
static void test_report_ip(void)
{
	uint8_t a[16] = {0};
	char got[46], want[46];
	unsigned bad = 0;
	for (unsigned v = 0; v < 256 * 64; v++) {
		a[0] = (uint8_t)v;
		a[1] = (uint8_t)(v >> 8);
		a[2] = (uint8_t)(255 - v);
		a[3] = (uint8_t)(v * 7);
		report_ip(4, a, got);
		inet_ntop(AF_INET, a, want, sizeof want);
		bad += strcmp(got, want) != 0;
	}
	CHECK_EQ_U(bad, 0);
	memset(a, 0, sizeof a);
	a[15] = 1;
	report_ip(6, a, got);
	CHECK(strcmp(got, "::1") == 0);
}

static void test_community_id(void)
{
	uint8_t a[16] = {128, 232, 110, 120}, b[16] = {66, 35, 250, 204};
	char out[32];
	community_id_v1(0, 4, 6, a, 34855, b, 80, out);
	CHECK(strcmp(out, "1:LQU9qZlK+B5F3KDmev6m5PMibrg=") == 0);
	community_id_v1(0, 4, 6, b, 80, a, 34855, out);
	CHECK(strcmp(out, "1:LQU9qZlK+B5F3KDmev6m5PMibrg=") == 0);
	uint8_t d[20];
	char hex[41];
	sha1_digest((const uint8_t *)"abc", 3, d);
	for (int i = 0; i < 20; i++)
		snprintf(hex + 2 * i, 3, "%02x", d[i]);
	CHECK(strcmp(hex, "a9993e364706816aba3e25717850c26c9cd0d89d") == 0);
	const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	sha1_digest((const uint8_t *)two, strlen(two), d);
	for (int i = 0; i < 20; i++)
		snprintf(hex + 2 * i, 3, "%02x", d[i]);
	CHECK(strcmp(hex, "84983e441c3bd26ebaae4aa1f95129e5e54670f1") == 0);
}

int main(void)
{
	CHECK(json_init(&J) == 0);
	test_community_id();
	test_report_ip();
	test_escaping();
	test_escaping_random();
	test_structure();
	test_timestamps();
	test_flow_record();
	test_flow_record_random();
	test_name_lengths();
	test_community_id_random();
	test_numbers();
	test_batching();
	json_free(&J);
	return check_done();
}
