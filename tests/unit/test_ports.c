/*
 * test_ports.c - the ports registry: the shipped etc/ports.conf, the strict
 * parser's file:line errors, --ports overlays, lookups and the inverse
 * (ports of a protocol); and the verdict over it.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "identify/identify.h"
#include "verdict/ports.h"
#include "verdict/verdict.h"

static struct ports P;

static int load(const char *text, bool overlay, char *err, size_t errlen)
{
	return ports_load_text(&P, "t.conf", text, strlen(text), overlay, err, errlen);
}

static void expect_error(const char *text, bool overlay, const char *want)
{
	char err[512] = "";
	struct ports saved = P;
	int rc = load(text, overlay, err, sizeof err);
	if (rc == 0 || !strstr(err, want))
		fprintf(stderr, "  text %s: got rc %d '%s', want '%s'\n", text, rc, err, want);
	CHECK(rc == -1 && strstr(err, want) != NULL);
	P = saved;
}

static bool has(enum ports_transport t, uint16_t port, const char *proto)
{
	const struct proto_set *s = ports_expected(&P, t, port);
	return s && proto_set_has(s, ident_find(proto));
}

static void test_default(void)
{
	char err[512];
	CHECK_EQ_U(ports_load_default(&P, err, sizeof err), 0);
	CHECK(has(PORTS_TCP, 443, "tls"));
	CHECK(!has(PORTS_TCP, 443, "http"));
	CHECK(has(PORTS_UDP, 443, "quic"));
	CHECK(has(PORTS_TCP, 80, "http"));
	CHECK(has(PORTS_TCP, 22, "ssh"));
	CHECK(has(PORTS_UDP, 53, "dns"));
	CHECK(has(PORTS_TCP, 53, "dns"));
	CHECK(has(PORTS_TCP, 587, "smtp"));
	CHECK(has(PORTS_TCP, 993, "tls"));
	CHECK(has(PORTS_TCP, 8088, "http"));
	CHECK(has(PORTS_TCP, 6667, "irc"));
	CHECK(ports_expected(&P, PORTS_TCP, 1224) == NULL); /* unassigned: no entry */
	CHECK(ports_expected(&P, PORTS_TCP, 6789) == NULL);
	/* Every protocol the registry names exists, and every identifier has a
	 * home port, or a carrier whose ports accept it (websocket in http). */
	char out[4096];
	for (unsigned i = 0; i < ident_count; i++) {
		unsigned n = ports_of_proto(&P, (int)i, out, sizeof out);
		if (ident_registry[i]->carrier) {
			int c = ident_find(ident_registry[i]->carrier);
			CHECK(c >= 0 && ports_of_proto(&P, c, out, sizeof out) > 0);
			continue;
		}
		/* stratum (mining) is left without a port on purpose: found
		 * anywhere it is a finding (etc/ports.conf says why) */
		if (strcmp(ident_registry[i]->name, "stratum") == 0) {
			CHECK(n == 0);
			continue;
		}
		if (n == 0)
			fprintf(stderr, "  %s has no port in etc/ports.conf\n", ident_registry[i]->name);
		CHECK(n > 0);
	}
	ports_of_proto(&P, ident_find("irc"), out, sizeof out);
	CHECK(strstr(out, "tcp/6665-6669") != NULL);
	ports_of_proto(&P, ident_find("quic"), out, sizeof out);
	CHECK(strcmp(out, "udp/443,udp/853") == 0);
}

static void test_errors(void)
{
	char err[512];
	ports_load_default(&P, err, sizeof err);
	expect_error("tcp/22 ssh\nsctp/22 ssh\n", false, "t.conf:2: 'sctp/22' is not tcp/PORT");
	expect_error("tcp/0 http\n", false, "t.conf:1:");
	expect_error("tcp/65536 http\n", false, "t.conf:1:");
	expect_error("udp/10-5 dns\n", false, "t.conf:1:");
	expect_error("tcp/80x http\n", false, "t.conf:1:");
	expect_error("tcp/-1 http\n", false, "t.conf:1:");
	expect_error("\n\n# c\ntcp/81 htpp\n", false, "t.conf:4: unknown protocol 'htpp'");
	expect_error("tcp/81\n", false, "t.conf:1: tcp/81 names no protocol");
	expect_error("tcp/81 http\ntcp/80-82 tls\n", false, "t.conf:2: tcp/81 is already listed at line 1");
	expect_error("tcp/81 + http\n", false, "t.conf:1: '+' is only allowed in a file given with --ports");
	expect_error("tcp/81 - http\n", true, "t.conf:1: nothing may follow '-'");
	char big[2048];
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = 0;
	expect_error(big, false, "t.conf:1: line longer than");
	static const char nul[] = "tcp/81 http\0 x\n";
	char e2[256];
	struct ports saved = P;
	CHECK(ports_load_text(&P, "t.conf", nul, sizeof nul - 1, false, e2, sizeof e2) == -1 &&
	      strstr(e2, "t.conf:1: NUL byte") != NULL);
	P = saved;
	/* A file that does not exist. */
	CHECK(ports_load_file(&P, "/nonexistent/ports.conf", e2, sizeof e2) == -1 &&
	      strstr(e2, "/nonexistent/ports.conf") != NULL);
}

static void test_overlay(void)
{
	char err[512];
	ports_load_default(&P, err, sizeof err);
	CHECK_EQ_U(load("tcp/443 + ssh\n"
	                "tcp/8080 tls    # replaces http\n"
	                "tcp/80 -\n"
	                "udp/40000-40010 dns quic\n",
	                true, err, sizeof err),
	           0);
	CHECK(has(PORTS_TCP, 443, "tls") && has(PORTS_TCP, 443, "ssh"));
	CHECK(has(PORTS_TCP, 8080, "tls") && !has(PORTS_TCP, 8080, "http"));
	CHECK(ports_expected(&P, PORTS_TCP, 80) == NULL);
	CHECK(has(PORTS_UDP, 40005, "quic") && has(PORTS_UDP, 40010, "dns"));
	CHECK(!has(PORTS_UDP, 40011, "dns"));
	/* Equal sets share one entry. */
	CHECK(ports_expected(&P, PORTS_UDP, 40000) == ports_expected(&P, PORTS_UDP, 40010));
}

static void judge(const char *proto, enum ports_transport t, uint16_t port, bool guessed,
                  bool cli, bool srv, bool fake, struct finding *f)
{
	struct ident_evidence ev;
	ident_clear(&ev);
	ev.confidence = 90;
	struct verdict_input in = {
		.proto = proto ? ident_find(proto) : -1, .ev = &ev, .transport = t,
		.server_port = port, .orientation_guessed = guessed, .client_spoke = cli,
		.server_spoke = srv, .fake_tls = fake, .start_seen = true,
		.payload = proto ? IDENT_PAYLOAD_NONE : IDENT_PAYLOAD_OPAQUE,
	};
	verdict_judge(&P, &in, f);
}

static void test_verdict(void)
{
	char err[512];
	struct finding f;
	ports_load_default(&P, err, sizeof err);
	/* Where they belong: nothing. */
	judge("tls", PORTS_TCP, 443, false, true, true, false, &f);
	CHECK_EQ_U(f.kind, FINDING_NONE);
	judge("smtp", PORTS_TCP, 587, false, true, true, false, &f);
	CHECK_EQ_U(f.kind, FINDING_NONE);
	judge("tls", PORTS_TCP, 993, false, true, true, false, &f);
	CHECK_EQ_U(f.kind, FINDING_NONE);
	/* An unknown protocol on a port without an entry: not a finding. */
	judge(NULL, PORTS_TCP, 40123, false, true, true, false, &f);
	CHECK_EQ_U(f.kind, FINDING_NONE);
	/* Known protocol off its ports. */
	judge("http", PORTS_TCP, 1224, false, true, true, false, &f);
	CHECK_EQ_U(f.kind, FINDING_OFF_PORT);
	CHECK_EQ_U(f.severity, 3);
	CHECK_EQ_U(f.sid, OFFPORT_SID_BASE + FINDING_OFF_PORT);
	CHECK_EQ_U(f.confidence, 90);
	judge("rdp", PORTS_TCP, 28035, false, true, true, false, &f);
	CHECK_EQ_U(f.kind, FINDING_OFF_PORT);
	CHECK_EQ_U(f.severity, 1);
	judge("ssh", PORTS_TCP, 6789, false, true, true, false, &f);
	CHECK_EQ_U(f.severity, 2);
	/* Unexpected protocol on a port that expects another. */
	judge("ssh", PORTS_TCP, 443, false, true, true, false, &f);
	CHECK_EQ_U(f.kind, FINDING_UNEXPECTED);
	CHECK_EQ_U(f.severity, 1);
	CHECK(f.expected && proto_set_has(f.expected, ident_find("tls")));
	judge("tls", PORTS_TCP, 8088, false, true, true, false, &f);
	CHECK_EQ_U(f.kind, FINDING_UNEXPECTED);
	CHECK_EQ_U(f.severity, 2);
	judge("http", PORTS_UDP, 53, true, true, false, false, &f);
	CHECK_EQ_U(f.kind, FINDING_UNEXPECTED);
	CHECK_EQ_U(f.confidence, 75); /* guessed orientation costs 15 */
	/* Unidentified bytes on a port that expects a protocol. */
	judge(NULL, PORTS_TCP, 443, false, true, true, false, &f);
	CHECK_EQ_U(f.kind, FINDING_UNKNOWN);
	CHECK_EQ_U(f.severity, 1);
	judge(NULL, PORTS_TCP, 443, false, true, false, false, &f);
	CHECK_EQ_U(f.kind, FINDING_UNKNOWN);
	CHECK_EQ_U(f.severity, 2);
	judge(NULL, PORTS_TCP, 443, false, false, false, false, &f);
	CHECK_EQ_U(f.kind, FINDING_NONE); /* no payload: nothing to judge */
	/* The middle of a stream (capture began mid-connection) proves nothing. */
	{
		struct verdict_input mid = {.proto = -1, .transport = PORTS_TCP, .server_port = 443,
		                            .client_spoke = true, .server_spoke = true,
		                            .fake_tls = true, .start_seen = false};
		verdict_judge(&P, &mid, &f);
		CHECK_EQ_U(f.kind, FINDING_NONE);
	}
	/* Unidentified but structured (or text): plausibly a protocol offport
	 * does not know - no finding unless --unknown all. */
	{
		struct verdict_input u = {.proto = -1, .transport = PORTS_TCP, .server_port = 443,
		                          .client_spoke = true, .server_spoke = true,
		                          .start_seen = true, .payload = IDENT_PAYLOAD_STRUCTURED};
		verdict_judge(&P, &u, &f);
		CHECK_EQ_U(f.kind, FINDING_NONE);
		u.payload = IDENT_PAYLOAD_TEXT;
		verdict_judge(&P, &u, &f);
		CHECK_EQ_U(f.kind, FINDING_NONE);
		u.unknown_all = true;
		verdict_judge(&P, &u, &f);
		CHECK_EQ_U(f.kind, FINDING_UNKNOWN);
		u.unknown_all = false;
		u.payload = IDENT_PAYLOAD_OPAQUE;
		verdict_judge(&P, &u, &f);
		CHECK_EQ_U(f.kind, FINDING_UNKNOWN);
	}
	/* Fake TLS anywhere. */
	judge(NULL, PORTS_TCP, 1058, false, true, true, true, &f);
	CHECK_EQ_U(f.kind, FINDING_FAKE_TLS);
	CHECK_EQ_U(f.severity, 1);
	CHECK(strcmp(finding_kind_name(FINDING_FAKE_TLS), "fake-tls") == 0);
}

/* "tcp/any" and "udp/any": protocols that choose their ports. */
static void test_anywhere(void)
{
	char err[512];
	struct finding f;
	ports_load_default(&P, err, sizeof err);
	int bt = ident_find("bittorrent");
	CHECK(ports_anywhere(&P, PORTS_TCP, bt) && ports_anywhere(&P, PORTS_UDP, bt));
	CHECK(!ports_anywhere(&P, PORTS_TCP, ident_find("ssh")));
	/* port 0 is never looked up as a port */
	CHECK(ports_expected(&P, PORTS_TCP, 0) == NULL);
	/* anywhere without an entry: no finding; on a port with one: a finding */
	judge("bittorrent", PORTS_TCP, 51413, false, true, true, false, &f);
	CHECK_EQ_U(f.kind, FINDING_NONE);
	judge("bittorrent", PORTS_TCP, 443, false, true, true, false, &f);
	CHECK_EQ_U(f.kind, FINDING_UNEXPECTED);
	judge("ssh", PORTS_TCP, 51413, false, true, true, false, &f);
	CHECK_EQ_U(f.kind, FINDING_OFF_PORT);
	char list[256];
	CHECK(ports_of_proto(&P, bt, list, sizeof list) >= 2 && strstr(list, "tcp/any") != NULL &&
	      strstr(list, "udp/any") != NULL);
	/* overlay: add ssh anywhere, then remove every tcp/any protocol */
	CHECK_EQ_U(load("tcp/any + ssh\n", true, err, sizeof err), 0);
	judge("ssh", PORTS_TCP, 6789, false, true, true, false, &f);
	CHECK_EQ_U(f.kind, FINDING_NONE);
	CHECK_EQ_U(load("tcp/any -\n", true, err, sizeof err), 0);
	judge("bittorrent", PORTS_TCP, 51413, false, true, true, false, &f);
	CHECK_EQ_U(f.kind, FINDING_OFF_PORT);
	expect_error("tcp/any bittorrent\ntcp/any stun\n", false, "t.conf:2: tcp/any is already listed at line 1");
	expect_error("tcp/anything ssh\n", false, "t.conf:1: 'tcp/anything' is not");
	expect_error("tcp/* ssh\n", false, "t.conf:1: 'tcp/*' is not");
}

int main(void)
{
	test_default();
	test_errors();
	test_overlay();
	test_verdict();
	test_anywhere();
	return check_done();
}
