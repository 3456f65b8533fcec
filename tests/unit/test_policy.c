/*
 * test_policy.c - the site policy: every key matching and not, first match
 * wins, the defaults, every parser error with its exact text, the limits,
 * the dead-rule analysis (and its soundness), and etc/policy.conf itself.
 * Runs from tests/ (ctest's working directory).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "identify/identify.h"
#include "verdict/policy.h"

static char err[512];

static struct policy *load(const char *text)
{
	struct policy *p = NULL;
	err[0] = 0;
	if (policy_load_text("t.conf", text, strlen(text), &p, err, sizeof err) != 0) {
		fprintf(stderr, "load failed: %s\n", err);
		return NULL;
	}
	return p;
}

/* The text must fail with exactly this message. */
static void check_error(const char *text, const char *want, int line)
{
	struct policy *p = NULL;
	err[0] = 0;
	int rc = policy_load_text("t.conf", text, strlen(text), &p, err, sizeof err);
	if (rc == 0 || p != NULL || strcmp(err, want) != 0) {
		check_failed_++;
		fprintf(stderr, "%s:%d: error case: got rc %d '%s', want '%s'\n", __FILE__, line, rc,
		        err, want);
		policy_free(p);
	} else {
		check_passed_++;
	}
}
#define ERR(text, want) check_error(text, want, __LINE__)

struct fl {
	struct policy_flow f;
	uint8_t s[16], c[16];
};

/* proto: a name, "unknown" (-1); addresses in text; sni/host or NULL. */
static struct policy_flow *mk(struct fl *x, const char *proto, const char *tr, unsigned port,
                              const char *server, const char *client, const char *sni,
                              const char *host)
{
	memset(x, 0, sizeof *x);
	x->f.proto = strcmp(proto, "unknown") == 0 ? -1 : ident_find(proto);
	x->f.transport = strcmp(tr, "udp") == 0 ? PORTS_UDP : PORTS_TCP;
	x->f.server_port = (uint16_t)port;
	int v6 = strchr(server, ':') != NULL;
	x->f.ip_version = v6 ? 6 : 4;
	if (inet_pton(v6 ? AF_INET6 : AF_INET, server, x->s) != 1 ||
	    inet_pton(v6 ? AF_INET6 : AF_INET, client, x->c) != 1)
		abort();
	x->f.server_ip = x->s;
	x->f.client_ip = x->c;
	if (sni) {
		x->f.sni = (const uint8_t *)sni;
		x->f.sni_len = strlen(sni);
	}
	if (host) {
		x->f.host = (const uint8_t *)host;
		x->f.host_len = strlen(host);
	}
	return &x->f;
}

/* Does the one rule of `rule` (after `pre`, set lines) match the flow? */
static int m1(const char *pre, const char *rule, const struct policy_flow *f)
{
	char text[2048];
	snprintf(text, sizeof text, "%s\ndefault registry\n%s\n", pre, rule);
	struct policy *p = load(text);
	if (!p)
		return -2;
	int r = policy_match(p, f);
	policy_free(p);
	return r == 0;
}

#define YES(pre, rule, f) CHECK_EQ_U(m1(pre, rule, f), 1)
#define NO(pre, rule, f) CHECK_EQ_U(m1(pre, rule, f), 0)

static void test_proto_transport_port(void)
{
	struct fl x;
	struct policy_flow *tls443 = mk(&x, "tls", "tcp", 443, "10.0.0.1", "10.0.0.2", NULL, NULL);
	YES("", "allow", tls443);
	YES("", "allow proto=tls", tls443);
	YES("", "allow proto=ssh,tls", tls443);
	NO("", "allow proto=ssh", tls443);
	NO("", "allow proto=!tls", tls443);
	YES("", "allow proto=!ssh", tls443);
	YES("", "allow proto=any", tls443);
	NO("", "allow proto=unknown", tls443);
	YES("", "allow transport=tcp", tls443);
	YES("", "allow transport=any", tls443);
	NO("", "allow transport=udp", tls443);
	NO("", "allow transport=!tcp", tls443);
	YES("", "allow port=443", tls443);
	YES("", "allow port=tcp/443", tls443);
	NO("", "allow port=udp/443", tls443);
	YES("", "allow port=400-500", tls443);
	YES("", "allow port=443-443", tls443);
	NO("", "allow port=444-500", tls443);
	NO("", "allow port=1-442", tls443);
	YES("", "allow port=tcp/any", tls443);
	NO("", "allow port=udp/any", tls443);
	YES("", "allow port=any", tls443);
	NO("", "allow port=!443", tls443);
	YES("", "allow port=!udp/443", tls443);
	YES("", "allow port=80,tcp/443,8080", tls443);
	YES("", "allow transport=tcp port=443", tls443);
	NO("", "allow transport=udp port=443", tls443);
	struct policy_flow *unk = mk(&x, "unknown", "udp", 0, "10.0.0.1", "10.0.0.2", NULL, NULL);
	YES("", "allow proto=unknown", unk);
	YES("", "allow proto=any", unk);
	NO("", "allow proto=tls", unk);
	YES("", "allow proto=!tls", unk);
	NO("", "allow proto=!unknown", unk);
	YES("", "allow port=0", unk);
	YES("", "allow port=udp/0-1", unk);
	unk->server_port = 65535;
	YES("", "allow port=65535", unk);
	YES("", "allow port=udp/65535", unk);
	NO("", "allow port=0-65534", unk);
}

static void test_addresses(void)
{
	struct fl x;
	struct policy_flow *f = mk(&x, "tls", "tcp", 443, "10.1.2.3", "192.168.1.9", NULL, NULL);
	YES("", "allow server=10.1.2.3", f);
	NO("", "allow server=10.1.2.4", f);
	YES("", "allow server=10.1.2.3/32", f);
	YES("", "allow server=10.0.0.0/8", f);
	NO("", "allow server=11.0.0.0/8", f);
	YES("", "allow server=0.0.0.0/0", f);
	NO("", "allow server=::/0", f); /* IPv4 items never match IPv6 flows and back */
	YES("", "allow server=any", f);
	NO("", "allow server=!any", f);
	NO("", "allow server=!10.0.0.0/8", f);
	YES("", "allow server=!11.0.0.0/8", f);
	YES("", "allow server=10.1.2.0/24,172.16.0.0/12", f);
	YES("", "allow client=192.168.0.0/16", f);
	NO("", "allow client=192.168.2.0/24", f);
	YES("", "allow server=10.1.2.3 client=192.168.1.9", f);
	NO("", "allow server=10.1.2.3 client=192.168.1.8", f);
	/* CIDR edges: the first and last address in, their neighbours out */
	struct fl y;
	const char *in[] = {"10.1.2.0", "10.1.2.255"}, *out[] = {"10.1.1.255", "10.1.3.0"};
	for (int i = 0; i < 2; i++) {
		YES("", "allow server=10.1.2.0/24", mk(&y, "tls", "tcp", 1, in[i], "1.1.1.1", 0, 0));
		NO("", "allow server=10.1.2.0/24", mk(&y, "tls", "tcp", 1, out[i], "1.1.1.1", 0, 0));
	}
	YES("", "allow server=255.255.255.255", mk(&y, "tls", "tcp", 1, "255.255.255.255",
	                                           "1.1.1.1", 0, 0));
	YES("", "allow server=!0.0.0.0/1", mk(&y, "tls", "tcp", 1, "255.255.255.255", "1.1.1.1", 0,
	                                     0));
	NO("", "allow server=!128.0.0.0/1", mk(&y, "tls", "tcp", 1, "255.255.255.255", "1.1.1.1",
	                                      0, 0));
	/* IPv6 */
	struct policy_flow *g = mk(&y, "ssh", "tcp", 22, "2001:db8::1", "fd00::5", NULL, NULL);
	YES("", "allow server=2001:db8::1", g);
	YES("", "allow server=2001:db8::1/128", g);
	NO("", "allow server=2001:db8::2/128", g);
	YES("", "allow server=2001:db8::/32", g);
	NO("", "allow server=2001:db9::/32", g);
	YES("", "allow server=::/0", g);
	NO("", "allow server=0.0.0.0/0", g);
	YES("", "allow client=fd00::/8", g);
	NO("", "allow client=!fd00::/8", g);
	YES("", "allow client=!10.0.0.0/8", g); /* complement holds all of IPv6 */
	YES("", "allow server=any", g);
	YES("", "allow server=ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
	    mk(&y, "ssh", "tcp", 22, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "::1", 0, 0));
	YES("", "allow server=!::/1",
	    mk(&y, "ssh", "tcp", 22, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "::1", 0, 0));
	YES("", "allow server=2001:db8::/64",
	    mk(&y, "ssh", "tcp", 22, "2001:db8::ffff:ffff:ffff:ffff", "::1", 0, 0));
	NO("", "allow server=2001:db8::/64",
	   mk(&y, "ssh", "tcp", 22, "2001:db8:0:1::", "::1", 0, 0));
	/* a v4-mapped IPv6 address is IPv6: no mapped-address magic */
	NO("", "allow server=10.1.2.3", mk(&y, "ssh", "tcp", 22, "::ffff:10.1.2.3", "::1", 0, 0));
	/* sets, sets of sets, negated sets */
	f = mk(&x, "tls", "tcp", 443, "10.1.2.3", "192.168.1.9", NULL, NULL);
	const char *sets = "set a 10.1.2.3\nset b 172.16.0.0/12, 2001:db8::/32\nset c $a,$b\n"
	                   "set d $c 192.168.0.0/16";
	YES(sets, "allow server=$a", f);
	NO(sets, "allow server=$b", f);
	YES(sets, "allow server=$c", f);
	YES(sets, "allow server=$d client=$d", f);
	NO(sets, "allow server=!$c", f);
	YES(sets, "allow server=$b,$a", f);
	YES(sets, "allow server=$b", mk(&y, "ssh", "tcp", 22, "2001:db8::9", "::1", 0, 0));
	YES("set everything any", "allow server=$everything client=$everything", f);
}

static void test_direction(void)
{
	const char *home = "set home 10.0.0.0/8 fd00::/8";
	struct fl x;
	struct policy_flow *in = mk(&x, "tls", "tcp", 443, "10.0.0.1", "8.8.8.8", 0, 0);
	YES(home, "allow direction=inbound", in);
	NO(home, "allow direction=outbound,internal,external", in);
	YES(home, "allow direction=!outbound", in);
	struct fl y;
	struct policy_flow *out = mk(&y, "tls", "tcp", 443, "8.8.8.8", "10.0.0.1", 0, 0);
	YES(home, "allow direction=outbound", out);
	NO(home, "allow direction=inbound", out);
	struct fl z;
	struct policy_flow *internal = mk(&z, "tls", "tcp", 443, "fd00::1", "fd00::2", 0, 0);
	YES(home, "allow direction=internal", internal);
	NO(home, "allow direction=external", internal);
	struct fl w;
	struct policy_flow *ext = mk(&w, "tls", "tcp", 443, "2001:db8::1", "2001:db8::2", 0, 0);
	YES(home, "allow direction=external", ext);
	NO(home, "allow direction=inbound,outbound,internal", ext);

	struct policy *p = load("set home 10.0.0.0/8\ndefault registry\n");
	CHECK(p && policy_has_home(p));
	if (p) {
		CHECK_EQ_U(policy_flow_direction(p, in), POLICY_DIR_INBOUND);
		CHECK_EQ_U(policy_flow_direction(p, out), POLICY_DIR_OUTBOUND);
		CHECK_EQ_U(policy_flow_direction(p, ext), POLICY_DIR_EXTERNAL);
		/* IPv6 flows are never inside an IPv4-only home */
		CHECK_EQ_U(policy_flow_direction(p, internal), POLICY_DIR_EXTERNAL);
		policy_free(p);
	}
	p = load("default registry\n");
	CHECK(p && !policy_has_home(p));
	if (p) {
		CHECK_EQ_U(policy_flow_direction(p, in), POLICY_DIR_EXTERNAL);
		CHECK_EQ_U(policy_flow_direction(p, internal), POLICY_DIR_EXTERNAL);
		policy_free(p);
	}
	CHECK(strcmp(policy_direction_name(POLICY_DIR_INBOUND), "inbound") == 0);
	CHECK(strcmp(policy_direction_name(POLICY_DIR_OUTBOUND), "outbound") == 0);
	CHECK(strcmp(policy_direction_name(POLICY_DIR_INTERNAL), "internal") == 0);
	CHECK(strcmp(policy_direction_name(POLICY_DIR_EXTERNAL), "external") == 0);
}

static void test_names(void)
{
	struct fl x;
	const char *a = "10.0.0.1", *b = "10.0.0.2";
	YES("", "allow sni=www.example.com", mk(&x, "tls", "tcp", 443, a, b, "www.example.com", 0));
	YES("", "allow sni=www.example.com", mk(&x, "tls", "tcp", 443, a, b, "WWW.Example.COM", 0));
	YES("", "allow sni=WWW.example.com", mk(&x, "tls", "tcp", 443, a, b, "www.example.com", 0));
	YES("", "allow sni=www.example.com", mk(&x, "tls", "tcp", 443, a, b, "www.example.com.", 0));
	NO("", "allow sni=www.example.com", mk(&x, "tls", "tcp", 443, a, b, "www.example.com..", 0));
	NO("", "allow sni=www.example.com", mk(&x, "tls", "tcp", 443, a, b, "example.com", 0));
	NO("", "allow sni=www.example.com", mk(&x, "tls", "tcp", 443, a, b, "xwww.example.com", 0));
	NO("", "allow sni=www.example.com", mk(&x, "tls", "tcp", 443, a, b, NULL, 0));
	YES("", "allow sni=*.example.com", mk(&x, "tls", "tcp", 443, a, b, "a.example.com", 0));
	YES("", "allow sni=*.example.com", mk(&x, "tls", "tcp", 443, a, b, "a.b.c.Example.com.", 0));
	NO("", "allow sni=*.example.com", mk(&x, "tls", "tcp", 443, a, b, "example.com", 0));
	NO("", "allow sni=*.example.com", mk(&x, "tls", "tcp", 443, a, b, "badexample.com", 0));
	NO("", "allow sni=*.example.com", mk(&x, "tls", "tcp", 443, a, b, "a.example.com.evil", 0));
	YES("", "allow sni=x.org,*.example.com", mk(&x, "tls", "tcp", 443, a, b, "x.org", 0));
	/* negation: the complement, so also a flow without an SNI */
	NO("", "allow sni=!*.example.com", mk(&x, "tls", "tcp", 443, a, b, "a.example.com", 0));
	YES("", "allow sni=!*.example.com", mk(&x, "tls", "tcp", 443, a, b, "example.org", 0));
	YES("", "allow sni=!*.example.com", mk(&x, "tls", "tcp", 443, a, b, NULL, 0));
	/* host=: the port is removed first */
	YES("", "allow host=example.com", mk(&x, "http", "tcp", 80, a, b, 0, "example.com"));
	YES("", "allow host=example.com", mk(&x, "http", "tcp", 80, a, b, 0, "example.com:8080"));
	YES("", "allow host=example.com", mk(&x, "http", "tcp", 80, a, b, 0, "EXAMPLE.com.:80"));
	NO("", "allow host=example.com", mk(&x, "http", "tcp", 80, a, b, 0, "example.com8080"));
	NO("", "allow host=example.com", mk(&x, "http", "tcp", 80, a, b, 0, NULL));
	YES("", "allow host=*.example.com", mk(&x, "http", "tcp", 80, a, b, 0, "a.example.com:1"));
	YES("", "allow host=[2001:db8::1]", mk(&x, "http", "tcp", 80, a, b, 0, "[2001:db8::1]:80"));
	YES("", "allow host=[2001:db8::1]", mk(&x, "http", "tcp", 80, a, b, 0, "[2001:DB8::1]"));
	NO("", "allow host=[2001:db8::1]", mk(&x, "http", "tcp", 80, a, b, 0, "[2001:db8::2]:80"));
	YES("", "allow host=10.1.2.3", mk(&x, "http", "tcp", 80, a, b, 0, "10.1.2.3:8000"));
	YES("", "allow host=2001:db8::1", mk(&x, "http", "tcp", 80, a, b, 0, "2001:db8::1"));
	NO("", "allow host=!example.com", mk(&x, "http", "tcp", 80, a, b, 0, "example.com:80"));
	YES("", "allow host=!example.com", mk(&x, "http", "tcp", 80, a, b, 0, NULL));
	/* sni= does not look at the host and back */
	NO("", "allow sni=example.com", mk(&x, "http", "tcp", 80, a, b, 0, "example.com"));
	NO("", "allow host=example.com", mk(&x, "tls", "tcp", 443, a, b, "example.com", 0));
	/* bytes beyond ASCII never match a pattern */
	NO("", "allow sni=*.example.com", mk(&x, "tls", "tcp", 443, a, b, "\xc3.example.co\xcd", 0));
}

static void test_first_match_and_info(void)
{
	struct policy *p = load("# a policy\n"
	                        "set home 10.0.0.0/8\r\n"
	                        "  default   allow  # comment\n"
	                        "\n"
	                        "allow proto=ssh port=tcp/443 name=sslh  # the sslh box\n"
	                        "\talert proto=!tls port=tcp/443 direction=outbound severity=high\t\n"
	                        "alert port=tcp/443 severity=3 name=x:y.z-1_\n"
	                        "alert\n");
	CHECK(p != NULL);
	if (!p)
		return;
	CHECK(strcmp(policy_file(p), "t.conf") == 0);
	CHECK_EQ_U(policy_rule_count(p), 4);
	CHECK_EQ_U(policy_default_action(p), POLICY_DEFAULT_ALLOW);
	CHECK_EQ_U(policy_default_line(p), 3);
	const struct policy_rule_info *r = policy_rule(p, 0);
	CHECK(r && r->action == POLICY_ALLOW && r->line == 5 && r->severity == 0);
	CHECK(r && r->name && strcmp(r->name, "sslh") == 0);
	CHECK(r && strcmp(r->text, "allow proto=ssh port=tcp/443 name=sslh") == 0);
	r = policy_rule(p, 1);
	CHECK(r && r->action == POLICY_ALERT && r->severity == 1 && r->name == NULL);
	CHECK(r && strcmp(r->text,
	                  "alert proto=!tls port=tcp/443 direction=outbound severity=high") == 0);
	r = policy_rule(p, 2);
	CHECK(r && r->severity == 3 && r->name && strcmp(r->name, "x:y.z-1_") == 0);
	r = policy_rule(p, 3);
	CHECK(r && strcmp(r->text, "alert") == 0 && r->line == 8);
	CHECK(policy_rule(p, 4) == NULL);
	struct fl x;
	CHECK_EQ_U(policy_match(p, mk(&x, "ssh", "tcp", 443, "8.8.8.8", "10.1.1.1", 0, 0)), 0);
	CHECK_EQ_U(policy_match(p, mk(&x, "http", "tcp", 443, "8.8.8.8", "10.1.1.1", 0, 0)), 1);
	CHECK_EQ_U(policy_match(p, mk(&x, "tls", "tcp", 443, "8.8.8.8", "10.1.1.1", 0, 0)), 2);
	CHECK_EQ_U(policy_match(p, mk(&x, "http", "tcp", 443, "10.8.8.8", "10.1.1.1", 0, 0)), 2);
	CHECK_EQ_U(policy_match(p, mk(&x, "http", "tcp", 80, "10.8.8.8", "10.1.1.1", 0, 0)), 3);
	CHECK(policy_rule_matches(p, 3, &x.f));
	CHECK(!policy_rule_matches(p, 0, &x.f));
	CHECK(!policy_rule_matches(p, 99, &x.f));
	policy_free(p);

	/* no rule matches: -1, the default applies */
	const char *defs[] = {"registry", "allow", "alert"};
	const enum policy_default want[] = {POLICY_DEFAULT_REGISTRY, POLICY_DEFAULT_ALLOW,
	                                    POLICY_DEFAULT_ALERT};
	for (int i = 0; i < 3; i++) {
		char text[128];
		snprintf(text, sizeof text, "allow proto=ssh\ndefault %s", defs[i]);
		p = load(text);
		CHECK(p != NULL);
		if (!p)
			continue;
		CHECK_EQ_U(policy_default_action(p), want[i]);
		CHECK_EQ_U(policy_default_line(p), 2);
		CHECK_EQ_U((unsigned)(policy_match(p, mk(&x, "tls", "tcp", 1, "1.1.1.1", "2.2.2.2", 0,
		                                        0)) + 1),
		           0);
		policy_free(p);
	}
	policy_free(NULL);
}

static void test_errors(void)
{
	const char *d = "default registry\n";
	char t[8192];
#define E1(line, want)                                                                           \
	do {                                                                                         \
		snprintf(t, sizeof t, "%s%s\n", d, line);                                                \
		ERR(t, "t.conf:2: " want);                                                               \
	} while (0)
	ERR("", "t.conf: no 'default' line; add 'default registry' to keep the ports registry's "
	        "verdicts where no rule matches");
	ERR("allow\n", "t.conf: no 'default' line; add 'default registry' to keep the ports "
	               "registry's verdicts where no rule matches");
	ERR("default registry\ndefault allow\n", "t.conf:2: 'default' is already given at line 1");
	ERR("default\n", "t.conf:1: 'default' needs one word: registry, allow or alert");
	ERR("default deny\n", "t.conf:1: unknown default 'deny' (registry, allow or alert)");
	ERR("default allow alert\n", "t.conf:1: 'default' takes one word, got 'alert' after 'allow'");
	E1("drop proto=ssh", "action 'drop' is reserved for inline use and not supported yet; use "
	                     "'allow' or 'alert'");
	E1("permit proto=ssh",
	   "unknown statement 'permit' (a line starts with set, default, allow or alert)");
	E1("Allow", "unknown statement 'Allow' (a line starts with set, default, allow or alert)");
	E1("allow proto", "'proto' is not KEY=VALUE (keys: proto, transport, port, server, client, "
	                  "direction, sni, host, severity, name)");
	E1("allow protocol=ssh", "unknown key 'protocol' (keys: proto, transport, port, server, "
	                         "client, direction, sni, host, severity, name)");
	E1("allow proto=ssh proto=tls", "proto= given twice in one rule");
	E1("allow proto=", "proto= has an empty value");
	E1("allow proto=!", "proto=! has an empty value");
	E1("allow proto=htpp", "unknown protocol 'htpp' (offport --list-protocols)");
	E1("allow proto=tls,,ssh", "'proto=tls,,ssh' has an empty item in its list");
	E1("allow proto=tls,", "'proto=tls,' has an empty item in its list");
	E1("allow proto=,tls", "'proto=,tls' has an empty item in its list");
	E1("allow proto=TLS", "unknown protocol 'TLS' (offport --list-protocols)");
	E1("allow transport=sctp", "unknown transport 'sctp' (tcp, udp or any)");
	E1("allow port=http", "'http' is not a port item: N, LO-HI, tcp/N, udp/LO-HI, tcp/any, "
	                      "udp/any or any");
	E1("allow port=sctp/80", "'sctp/80' is not a port item: N, LO-HI, tcp/N, udp/LO-HI, "
	                         "tcp/any, udp/any or any");
	E1("allow port=-80", "'-80' is not a port item: N, LO-HI, tcp/N, udp/LO-HI, tcp/any, "
	                     "udp/any or any");
	E1("allow port=80-", "'80-' is not a port item: N, LO-HI, tcp/N, udp/LO-HI, tcp/any, "
	                     "udp/any or any");
	E1("allow port=+80", "'+80' is not a port item: N, LO-HI, tcp/N, udp/LO-HI, tcp/any, "
	                     "udp/any or any");
	E1("allow port=123456", "'123456' is not a port item: N, LO-HI, tcp/N, udp/LO-HI, tcp/any, "
	                        "udp/any or any");
	E1("allow port=65536", "'65536': ports go from 0 to 65535");
	E1("allow port=tcp/90-80", "'tcp/90-80': the range starts above its end");
	E1("allow server=10.0.0.256", "'10.0.0.256' is not an address (10.1.2.3, 2001:db8::1), a "
	                              "CIDR (10.0.0.0/8, fd00::/8), $SET or any");
	E1("allow server=example.com", "'example.com' is not an address (10.1.2.3, 2001:db8::1), a "
	                               "CIDR (10.0.0.0/8, fd00::/8), $SET or any");
	E1("allow server=10.0.0.1/8", "10.0.0.1/8 has host bits set; did you mean 10.0.0.0/8?");
	E1("allow server=2001:db8::1/32",
	   "2001:db8::1/32 has host bits set; did you mean 2001:db8::/32?");
	E1("allow server=10.0.0.0/33", "'10.0.0.0/33': prefix length 33 is beyond 32");
	E1("allow client=fd00::/129", "'fd00::/129': prefix length 129 is beyond 128");
	E1("allow server=10.0.0.0/", "'10.0.0.0/' has a bad prefix length (0 to 32)");
	E1("allow server=10.0.0.0/+8", "'10.0.0.0/+8' has a bad prefix length (0 to 32)");
	E1("allow server=/8", "'/8' is not an address (10.1.2.3, 2001:db8::1), a CIDR (10.0.0.0/8, "
	                      "fd00::/8), $SET or any");
	E1("allow server=$nope", "unknown set '$nope' (define it with 'set nope ...' on an earlier "
	                         "line)");
	E1("allow server=10.0.0.1,!10.0.0.2", "'!10.0.0.2': '!' negates a whole key's value "
	                                      "(server=!$NAME), not an item in a list or a set");
	E1("allow direction=inbound", "direction= needs the home network: define 'set home ...' "
	                              "before this rule");
	ERR("default registry\nset home 10.0.0.0/8\nallow direction=in\n",
	    "t.conf:3: unknown direction 'in' (inbound, outbound, internal or external)");
	ERR("default registry\nallow direction=inbound\nset home 10.0.0.0/8\n",
	    "t.conf:2: direction= needs the home network: define 'set home ...' before this rule");
	E1("allow sni=*example.com", "'*example.com': '*' is allowed only as a leading '*.' "
	                             "(*.example.com)");
	E1("allow sni=www.*.com",
	   "'www.*.com': '*' is allowed only as a leading '*.' (*.example.com)");
	E1("allow sni=*.", "'*.' is not a name pattern: sni= takes www.example.com or *.example.com");
	E1("allow sni=a..com", "'a..com' has an empty label (a leading, trailing or double '.')");
	E1("allow sni=example.com.", "'example.com.' has an empty label (a leading, trailing or "
	                             "double '.')");
	E1("allow sni=[::1]", "'[::1]' is not a name pattern: sni= takes letters, digits, '-', '.', "
	                      "'_', and a leading '*.'");
	E1("allow host=a/b", "'a/b' is not a name pattern: host= takes letters, digits, '-', '.', "
	                     "'_', ':', '[', ']', and a leading '*.'");
	E1("allow severity=high", "severity= has no meaning on an allow rule");
	E1("alert severity=urgent", "'urgent' is not a severity (1, 2, 3, high, medium or low)");
	E1("alert severity=1,2", "'1,2' is not a severity (1, 2, 3, high, medium or low)");
	E1("alert severity=!1", "'!' has no meaning on severity=");
	E1("alert name=!x", "'!' has no meaning on name=");
	E1("alert name=a/b", "'a/b' is not a rule name: 1 to 64 letters, digits, '_', '.', ':' or "
	                     "'-'");
	ERR("default registry\nalert name=x\nallow name=x\n",
	    "t.conf:3: name 'x' is already used at line 2");
	E1("set", "'set' needs a name and at least one address");
	E1("set a", "set 'a' has no items");
	E1("set 1a 10.0.0.1", "'1a' is not a set name: a letter or '_', then up to 63 letters, "
	                      "digits, '_' or '-'");
	E1("set a.b 10.0.0.1", "'a.b' is not a set name: a letter or '_', then up to 63 letters, "
	                       "digits, '_' or '-'");
	ERR("default registry\nset a 10.0.0.1\n\nset a 10.0.0.2\n",
	    "t.conf:4: set 'a' is already defined at line 2");
	E1("set a $a", "set 'a' cannot include itself");
	E1("set a 10.0.0.1,,10.0.0.2", "set 'a' has an empty item (a comma with nothing after it)");
	E1("set a 10.0.0.1 , , 10.0.0.2",
	   "set 'a' has an empty item (a comma with nothing after it)");
	E1("set a ,10.0.0.1", "set 'a' has an empty item (a comma with nothing before it)");
	E1("set a 10.0.0.1,", "set 'a' has an empty item (a comma with nothing after it)");
	E1("set a 10.0.0.1 !10.0.0.2", "'!10.0.0.2': '!' negates a whole key's value "
	                               "(server=!$NAME), not an item in a list or a set");
	E1("set a 10.0.0.0/7 11.0.0.0/7", "11.0.0.0/7 has host bits set; did you mean 10.0.0.0/7?");
	/* lines: length, NUL, where the line number counts */
	char big[5000];
	memset(big, ' ', sizeof big);
	memcpy(big, "default registry\n#", 18);
	big[17 + 4097] = '\n';
	big[17 + 4098] = 0;
	ERR(big, "t.conf:2: line longer than 4096 bytes");
	big[17 + 4096] = '\n'; /* exactly 4096 bytes: accepted */
	big[17 + 4097] = 0;
	struct policy *p = load(big);
	CHECK(p != NULL);
	policy_free(p);
	struct policy *q = NULL;
	CHECK(policy_load_text("t.conf", "default registry\nallow\0\n", 24, &q, err, sizeof err) ==
	      -1);
	CHECK(strcmp(err, "t.conf:2: NUL byte in line") == 0);
	CHECK(q == NULL);
	/* errors name the file as given */
	CHECK(policy_load_text("/etc/x.conf", "allow x", 7, &q, err, sizeof err) == -1);
	CHECK(strcmp(err, "/etc/x.conf:1: 'x' is not KEY=VALUE (keys: proto, transport, port, "
	                  "server, client, direction, sni, host, severity, name)") == 0);
	/* a small error buffer is cut, never overrun */
	char small[12];
	memset(small, 'x', sizeof small);
	CHECK(policy_load_text("t.conf", "allow x", 7, &q, small, 8) == -1);
	CHECK(small[7] == 0 && small[8] == 'x');
	CHECK(policy_load_file("/nonexistent/policy.conf", &q, err, sizeof err) == -1);
	CHECK(strcmp(err, "/nonexistent/policy.conf: No such file or directory") == 0);
#undef E1
}

static void test_limits(void)
{
	/* 10,000 rules load; one more is an error on its line */
	size_t cap = 10002 * 24 + 64;
	char *t = malloc(cap);
	if (!t)
		abort();
	size_t n = (size_t)snprintf(t, cap, "default registry\n");
	for (int i = 0; i < 10000; i++)
		n += (size_t)snprintf(t + n, cap - n, "allow port=%d\n", i);
	struct policy *p = NULL;
	CHECK(policy_load_text("t.conf", t, n, &p, err, sizeof err) == 0);
	CHECK(p && policy_rule_count(p) == 10000);
	if (p) {
		struct fl x;
		CHECK_EQ_U(policy_match(p, mk(&x, "tls", "tcp", 9999, "1.1.1.1", "2.2.2.2", 0, 0)), 9999);
		policy_free(p);
	}
	n += (size_t)snprintf(t + n, cap - n, "alert\n");
	p = NULL;
	CHECK(policy_load_text("t.conf", t, n, &p, err, sizeof err) == -1);
	CHECK(strcmp(err, "t.conf:10002: more than 10000 rules") == 0);
	free(t);
	/* 1,000 sets; one more is an error */
	cap = 1002 * 32 + 64;
	t = malloc(cap);
	if (!t)
		abort();
	n = (size_t)snprintf(t, cap, "default registry\n");
	for (int i = 0; i < 1000; i++)
		n += (size_t)snprintf(t + n, cap - n, "set s%d 10.0.%d.%d\n", i, i / 256, i % 256);
	p = NULL;
	CHECK(policy_load_text("t.conf", t, n, &p, err, sizeof err) == 0);
	policy_free(p);
	n += (size_t)snprintf(t + n, cap - n, "set one_more 10.9.9.9\n");
	CHECK(policy_load_text("t.conf", t, n, &p, err, sizeof err) == -1);
	CHECK(strcmp(err, "t.conf:1002: more than 1000 sets") == 0);
	free(t);
	/* thousands of rules each naming sets of hundreds of ranges: an error,
	 * not gigabytes */
	cap = 1 << 20;
	t = malloc(cap);
	if (!t)
		abort();
	n = (size_t)snprintf(t, cap, "default registry\nset s0");
	for (int i = 0; i < 300; i++)
		n += (size_t)snprintf(t + n, cap - n, " 10.%d.%d.0/24", 2 * i / 256, 2 * i % 256);
	n += (size_t)snprintf(t + n, cap - n, "\n");
	for (int i = 1; i < 1000; i++)
		n += (size_t)snprintf(t + n, cap - n, "set s%d $s%d $s%d\n", i, i - 1, i - 1);
	for (int i = 0; i < 9000; i++)
		n += (size_t)snprintf(t + n, cap - n, "allow server=$s999 client=$s999\n");
	p = NULL;
	CHECK(policy_load_text("t.conf", t, n, &p, err, sizeof err) == -1);
	if (p)
		fprintf(stderr, "loaded %u rules\n", policy_rule_count(p));
	policy_free(p);
	CHECK(strstr(err, "address and port ranges") != NULL);
	CHECK(strncmp(err, "t.conf:", 7) == 0);
	free(t);
}

struct dead {
	unsigned n;
	unsigned rule[16];
	int by[16];
	char why[16][256];
};

static void on_dead(void *ctx, unsigned rule, int by, const char *why)
{
	struct dead *d = ctx;
	if (d->n < 16) {
		d->rule[d->n] = rule;
		d->by[d->n] = by;
		snprintf(d->why[d->n], sizeof d->why[0], "%s", why);
	}
	d->n++;
}

/* The dead rules of "default registry\n" + text: returns the count; the
 * first report in *d. */
static unsigned dead(const char *text, struct dead *d)
{
	char t[4096];
	snprintf(t, sizeof t, "default registry\n%s\n", text);
	memset(d, 0, sizeof *d);
	struct policy *p = load(t);
	if (!p)
		return 999;
	unsigned n = policy_dead_rules(p, on_dead, d);
	CHECK_EQ_U(n, d->n);
	policy_free(p);
	return n;
}

/* Rule 1 is shadowed by rule 0. */
static void shadowed(const char *text, int line)
{
	struct dead d;
	unsigned n = dead(text, &d);
	if (n == 1 && d.rule[0] == 1 && d.by[0] == 0) {
		check_passed_++;
	} else {
		check_failed_++;
		fprintf(stderr, "%s:%d: want rule 1 shadowed by 0: %u reports\n", __FILE__, line, n);
	}
}

static void live(const char *text, int line)
{
	struct dead d;
	unsigned n = dead(text, &d);
	if (n == 0) {
		check_passed_++;
	} else {
		check_failed_++;
		fprintf(stderr, "%s:%d: want no dead rule, got rule %u by %d (%s)\n", __FILE__, line,
		        d.rule[0], d.by[0], d.why[0]);
	}
}

/* The only rule contradicts itself, with this reason. */
static void contradiction(const char *text, const char *why, int line)
{
	struct dead d;
	unsigned n = dead(text, &d);
	if (n == 1 && d.rule[0] == 0 && d.by[0] == -1 && strcmp(d.why[0], why) == 0) {
		check_passed_++;
	} else {
		check_failed_++;
		fprintf(stderr, "%s:%d: want contradiction '%s': %u reports, first '%s'\n", __FILE__,
		        line, why, n, d.why[0]);
	}
}
#define SHADOWED(t) shadowed(t, __LINE__)
#define LIVE(t) live(t, __LINE__)
#define CONTRA(t, why) contradiction(t, why, __LINE__)

static void test_dead_rules(void)
{
	SHADOWED("allow\nalert proto=ssh");
	SHADOWED("alert proto=ssh,tls\nallow proto=ssh");
	LIVE("allow proto=ssh\nallow proto=ssh,tls");
	SHADOWED("allow proto=any\nallow proto=unknown");
	SHADOWED("allow proto=!ssh\nallow proto=tls,http");
	LIVE("allow proto=!ssh\nallow proto=tls,ssh");
	SHADOWED("allow transport=tcp\nallow port=tcp/443");
	LIVE("allow transport=tcp\nallow port=443"); /* udp/443 gets through */
	SHADOWED("allow port=tcp/any\nallow transport=tcp port=80-90");
	SHADOWED("allow port=1-1000\nallow port=443,80,tcp/22");
	LIVE("allow port=1-1000\nallow port=443,1001");
	SHADOWED("allow port=!udp/53\nallow port=tcp/53");
	LIVE("allow port=!udp/53\nallow port=53");
	SHADOWED("allow port=!0-1023\nallow port=8080");
	SHADOWED("allow server=10.0.0.0/8\nallow server=10.1.0.0/16,10.2.3.4");
	LIVE("allow server=10.0.0.0/8\nallow server=10.1.0.0/16,11.2.3.4");
	LIVE("allow server=10.0.0.0/8\nallow proto=ssh"); /* absent = every address */
	SHADOWED("allow server=!10.0.0.0/8\nallow server=11.0.0.0/8,fd00::/8");
	LIVE("allow server=!10.0.0.0/8\nallow server=10.0.0.0/7");
	SHADOWED("allow server=0.0.0.0/0,::/0\nallow server=1.2.3.4");
	SHADOWED("allow client=any\nallow client=fd00::1");
	LIVE("allow client=0.0.0.0/0\nallow client=fd00::1");
	SHADOWED("set a 10.0.0.0/8\nset b $a fd00::/8\nallow server=$b\nallow server=$a");
	SHADOWED("set home 10.0.0.0/8\nallow direction=inbound,outbound\nallow direction=inbound");
	LIVE("set home 10.0.0.0/8\nallow direction=inbound\nallow direction=!outbound");
	SHADOWED("allow sni=*.example.com\nallow sni=a.b.example.com");
	SHADOWED("allow sni=*.example.com\nallow sni=*.b.example.com");
	SHADOWED("allow sni=x.org,*.example.com\nallow sni=*.example.com,x.org");
	LIVE("allow sni=*.example.com\nallow sni=example.com");
	LIVE("allow sni=*.example.com\nallow sni=*.xexample.com");
	LIVE("allow sni=a.example.com\nallow sni=*.a.example.com");
	LIVE("allow sni=*.example.com\nallow proto=tls"); /* absent: also flows without an SNI */
	SHADOWED("allow proto=tls\nallow proto=tls sni=*.example.com");
	SHADOWED("allow sni=!*.example.com\nallow sni=!*.com");
	LIVE("allow sni=!*.com\nallow sni=!*.example.com");
	SHADOWED("allow sni=!*.example.com\nallow sni=a.example.org,*.x.com");
	LIVE("allow sni=!*.example.com\nallow sni=a.example.com");
	LIVE("allow sni=!*.example.com\nallow sni=*.com");
	LIVE("allow sni=example.com\nallow sni=!example.com");
	SHADOWED("allow host=example.com\nallow host=Example.COM");
	LIVE("allow host=example.com\nallow sni=example.com");
	/* every key must cover */
	SHADOWED("allow proto=ssh port=tcp/22-443\nallow proto=ssh port=443 transport=tcp "
	         "server=1.2.3.4 name=x");
	LIVE("allow proto=ssh port=tcp/22-443\nallow proto=ssh,tls port=443 transport=tcp");
	/* the action does not matter */
	SHADOWED("alert proto=ssh\nallow proto=ssh");
	/* a negated key only covers what its complement holds */
	LIVE("allow proto=!unknown\nallow port=443");
	SHADOWED("allow proto=!unknown\nallow proto=tls port=443");
	/* a rule already reported still shadows those after it */
	struct dead d;
	CHECK_EQ_U(dead("allow\nallow proto=tls\nallow proto=ssh", &d), 2);
	CHECK(d.rule[0] == 1 && d.by[0] == 0 && d.rule[1] == 2 && d.by[1] == 0);
	CHECK(strcmp(d.why[0], "line 2 matches every flow this rule would") == 0);
	/* a rule that matches nothing shadows nothing: only itself is named */
	CHECK_EQ_U(dead("allow server=!any\nallow server=1.2.3.4", &d), 1);
	CHECK(d.rule[0] == 0 && d.by[0] == -1);

	CONTRA("allow proto=ssh transport=udp", "no protocol in proto= is identified over udp");
	CONTRA("allow proto=ssh port=udp/53", "no protocol in proto= is identified over udp");
	CONTRA("allow proto=wireguard,dhcp port=udp/53,53 transport=tcp",
	       "no protocol in proto= is identified over tcp");
	LIVE("allow proto=dns port=53");
	LIVE("allow proto=unknown transport=udp");
	LIVE("allow proto=!ssh transport=udp");
	CONTRA("allow proto=!any", "proto= matches no protocol");
	CONTRA("allow proto=ssh sni=example.com",
	       "sni= needs a protocol that carries a TLS SNI (tls, dtls, tor) over the rule's "
	       "transports; proto= has none");
	CONTRA("allow proto=tls transport=udp sni=example.com",
	       "no protocol in proto= is identified over udp");
	CONTRA("allow proto=unknown sni=example.com",
	       "sni= needs a protocol that carries a TLS SNI (tls, dtls, tor) over the rule's "
	       "transports; proto= has none");
	LIVE("allow proto=dtls transport=udp sni=example.com");
	LIVE("allow sni=example.com");
	LIVE("allow proto=ssh sni=!example.com"); /* the complement holds SNI-less flows */
	CONTRA("allow proto=tls host=example.com",
	       "host= needs a protocol that carries an HTTP Host (http, websocket) over the rule's "
	       "transports; proto= has none");
	LIVE("allow proto=websocket host=example.com");
	CONTRA("allow sni=a.com host=a.com",
	       "sni= and host= together: no protocol carries both a TLS SNI and an HTTP Host");
	CONTRA("allow server=!any", "server= matches no address");
	CONTRA("allow client=!0.0.0.0/0,::/0", "client= matches no address");
	CONTRA("allow server=10.0.0.0/8 client=fd00::/8",
	       "server= and client= have no IP version in common");
	LIVE("allow server=10.0.0.0/8 client=fd00::/8,10.0.0.1");
	CONTRA("allow port=!any", "port= matches no port");
	CONTRA("allow transport=!any", "transport= matches no transport");
	CONTRA("allow transport=udp port=tcp/443,tcp/80",
	       "transport= and port= have no transport in common");
	CONTRA("set home 10.0.0.0/8\nallow direction=!inbound,outbound,internal,external",
	       "direction= matches no direction");
}

/* A naive model check: a rule reported shadowed never matches a flow its
 * shadower does not, over many flows; a contradiction never matches. */
static void test_dead_soundness(void)
{
	const char *text = "set home 10.0.0.0/8 fd00::/8\n"
	                   "default registry\n"
	                   "allow proto=tls,http port=tcp/400-500 server=!10.0.0.0/9\n"
	                   "allow proto=tls port=443 server=10.200.0.0/16,::/0\n"
	                   "allow proto=!ssh sni=!*.example.com\n"
	                   "allow proto=tls sni=a.b.com\n"
	                   "alert direction=!inbound host=*.x.org\n"
	                   "alert direction=outbound,internal host=a.x.org\n"
	                   "alert port=!tcp/0-1023 transport=udp\n"
	                   "alert port=udp/2000 proto=dns,unknown\n"
	                   "alert proto=ssh transport=udp\n";
	struct policy *p = load(text);
	CHECK(p != NULL);
	if (!p)
		return;
	struct dead d;
	memset(&d, 0, sizeof d);
	unsigned n = policy_dead_rules(p, on_dead, &d);
	CHECK(n >= 4);
	const char *sni[] = {NULL, "a.b.com", "x.example.com", "example.com", "A.B.COM."};
	const char *host[] = {NULL, "a.x.org", "b.x.org:80", "x.org"};
	const char *ips4[] = {"10.0.0.1", "10.200.1.1", "10.127.255.255", "10.128.0.0", "8.8.8.8"};
	const char *ips6[] = {"fd00::1", "2001:db8::1"};
	const char *protos[] = {"tls", "http", "ssh", "dns", "unknown", "websocket"};
	const unsigned ports[] = {0, 53, 80, 443, 500, 501, 1023, 1024, 2000, 65535};
	uint64_t seed = 0x1234567;
	unsigned checked = 0, bad = 0;
	for (unsigned it = 0; it < 20000; it++) {
		struct fl x;
		const char *pr = protos[check_rand(&seed) % 6];
		int v6 = check_rand(&seed) % 3 == 0;
		const char *s = v6 ? ips6[check_rand(&seed) % 2] : ips4[check_rand(&seed) % 5];
		const char *c = v6 ? ips6[check_rand(&seed) % 2] : ips4[check_rand(&seed) % 5];
		int id = strcmp(pr, "unknown") == 0 ? -1 : ident_find(pr);
		bool udp = id < 0 ? check_rand(&seed) & 1
		                  : (ident_registry[id]->transports & IDENT_UDP) &&
		                        (!(ident_registry[id]->transports & IDENT_TCP) ||
		                         (check_rand(&seed) & 1));
		const char *sn = strcmp(pr, "tls") == 0 ? sni[check_rand(&seed) % 5] : NULL;
		const char *ho = (strcmp(pr, "http") == 0 || strcmp(pr, "websocket") == 0)
		                     ? host[check_rand(&seed) % 4]
		                     : NULL;
		mk(&x, pr, udp ? "udp" : "tcp", ports[check_rand(&seed) % 10], s, c, sn, ho);
		int first = -1;
		for (unsigned r = 0; r < policy_rule_count(p); r++)
			if (policy_rule_matches(p, r, &x.f) && first < 0)
				first = (int)r;
		bad += policy_match(p, &x.f) != first;
		for (unsigned k = 0; k < d.n && k < 16; k++) {
			if (!policy_rule_matches(p, d.rule[k], &x.f))
				continue;
			checked++;
			bad += d.by[k] < 0 || !policy_rule_matches(p, (unsigned)d.by[k], &x.f);
		}
	}
	CHECK_EQ_U(bad, 0);
	CHECK(checked > 0);
	policy_free(p);
}

static void test_shipped_file(void)
{
	struct policy *p = NULL;
	int rc = policy_load_file("../etc/policy.conf", &p, err, sizeof err);
	if (rc != 0)
		fprintf(stderr, "%s\n", err);
	CHECK_EQ_U(rc, 0);
	if (!p)
		return;
	/* it changes nothing: no rule, the registry decides */
	CHECK_EQ_U(policy_rule_count(p), 0);
	CHECK_EQ_U(policy_default_action(p), POLICY_DEFAULT_REGISTRY);
	CHECK(!policy_has_home(p));
	policy_free(p);

	/* and every commented example in it loads once uncommented */
	FILE *f = fopen("../etc/policy.conf", "rb");
	CHECK(f != NULL);
	if (!f)
		return;
	static char text[65536], examples[65536];
	size_t n = fread(text, 1, sizeof text - 1, f);
	fclose(f);
	text[n] = 0;
	size_t m = 0;
	unsigned count = 0;
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		/* examples are the lines "#   set ...", "#   allow ...", "#   alert ..." */
		if (strncmp(line, "#   ", 4) != 0)
			continue;
		const char *s = line + 4;
		if (strncmp(s, "set ", 4) != 0 && strncmp(s, "allow", 5) != 0 &&
		    strncmp(s, "alert", 5) != 0)
			continue;
		if (strstr(s, "..."))
			continue; /* the syntax summary */
		if (strncmp(s, "set home ", 9) == 0 && strstr(examples, "set home "))
			continue;
		if (strncmp(s, "set ", 4) == 0 && strstr(examples, s))
			continue;
		m += (size_t)snprintf(examples + m, sizeof examples - m, "%s\n", s);
		count++;
	}
	m += (size_t)snprintf(examples + m, sizeof examples - m, "default registry\n");
	CHECK(count >= 15);
	p = NULL;
	rc = policy_load_text("examples", examples, m, &p, err, sizeof err);
	if (rc != 0)
		fprintf(stderr, "%s\n", err);
	CHECK_EQ_U(rc, 0);
	policy_free(p);
}

int main(void)
{
	test_proto_transport_port();
	test_addresses();
	test_direction();
	test_names();
	test_first_match_and_info();
	test_errors();
	test_limits();
	test_dead_rules();
	test_dead_soundness();
	test_shipped_file();
	return check_done();
}
