/*
 * main.c - the offport command: options, inputs, signals, exit status.
 *
 * Exit status (offport(8), EXIT STATUS):
 *   0  every input was read to its end and the output written;
 *   1  an error stopped the run: an input that cannot be opened or read
 *      at all (missing, no permission, a directory), an unsupported link
 *      type, a bad filter, a write error on the output;
 *   2  the command line is wrong;
 *   3  an input is damaged: its bytes are not a readable capture (not
 *      pcap or pcapng, a damaged file header) or it breaks after its
 *      header. What could be read was processed and reported, the other
 *      inputs were read, and the message names the file and the offset.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "capture/capture.h"
#include "cli/engine.h"
#include "decode/decode.h"
#include "identify/identify.h"
#include "verdict/policy.h"
#include "verdict/ports.h"

enum { EXIT_OK = 0, EXIT_ERROR = 1, EXIT_USAGE = 2, EXIT_DAMAGED = 3, EXIT_DEAD_RULES = 4 };

#define MAX_INPUTS 256

static const char usage_text[] =
    "usage: offport [-hV] [--json] [--eve path] [-r file]... [-i interface] [options] [expression]\n"
    "       offport [--ports file] --list-protocols | --list-ports\n"
    "       offport --check-policy file\n";

static const char help_text[] =
    "offport - find traffic using a protocol on a port it does not belong to\n"
    "(MITRE ATT&CK T1571 Non-Standard Port)\n"
    "\n"
    "usage: offport [-hV] [--json] [--eve path] [-r file]... [-i interface] [options] [expression]\n"
    "       offport [--ports file] --list-protocols | --list-ports\n"
    "       offport --check-policy file\n"
    "\n"
    "Input (one of):\n"
    "  -r, --read FILE          read a pcap or pcapng capture; '-' reads standard\n"
    "                           input; repeat to read several files in order\n"
    "  -i, --interface IFACE    capture live from a network interface\n"
    "  expression               a BPF filter, as tcpdump takes it (pcap-filter(7))\n"
    "\n"
    "Output:\n"
    "      --json               write EVE JSON lines to standard output: an alert\n"
    "                           record per finding, a flow record per flow as it\n"
    "                           ends, then a stats record (default: one line per\n"
    "                           alert and a summary, for people)\n"
    "      --eve PATH           write the EVE JSON lines to PATH instead, and the\n"
    "                           text to standard output\n"
    "\n"
    "Detection:\n"
    "      --ports FILE         entries over the built-in ports registry\n"
    "                           (etc/ports.conf format; see offport(8))\n"
    "      --list-protocols     list the protocols offport identifies and exit\n"
    "      --list-ports         list the ports registry and exit\n"
    "      --unknown MODE       which unidentified payloads on a port with an\n"
    "                           entry are findings: 'opaque' (random-looking\n"
    "                           first bytes only) or 'all' (default opaque)\n"
    "      --policy FILE        site policy: ordered allow and alert rules over\n"
    "                           the registry's verdicts (etc/policy.conf format);\n"
    "                           SIGHUP reloads it\n"
    "      --check-policy FILE  validate a policy file, list rules that can never\n"
    "                           match, and exit (0 good, 1 invalid, 4 dead rules)\n"
    "      --explain            say for every flow why it is or is not a finding\n"
    "                           (a text line per flow; in JSON, the flow record's\n"
    "                           offport.explanation)\n"
    "      --no-dedup           an alert for every flow that is a finding (default:\n"
    "                           one per server address, port, protocol and kind\n"
    "                           per window, and a dedup record counting repeats)\n"
    "      --dedup-window S     the window, in seconds of capture time (default 3600)\n"
    "\n"
    "Bounds:\n"
    "      --max-flows N        flows tracked at once (default 262144); a full\n"
    "                           table evicts a closed flow, else an unanswered\n"
    "                           SYN, else the least recently seen flow\n"
    "      --first-bytes N      bytes kept per direction for identification\n"
    "                           (default 4096, 64 to 1048576)\n"
    "      --stream-slots N     flows whose first bytes are collected at once\n"
    "                           (default 16384)\n"
    "      --frag-max N         IP datagrams reassembled at once (default 1024)\n"
    "      --frag-timeout S     seconds to complete a fragmented datagram (default 30)\n"
    "      --timeout-tcp-new S          SYN sent, no answer (default 30)\n"
    "      --timeout-tcp-established S  established TCP idle (default 600)\n"
    "      --timeout-tcp-closing S      one FIN seen (default 120)\n"
    "      --timeout-tcp-closed S       both FINs or a RST seen (default 10)\n"
    "      --timeout-udp S              UDP idle (default 60)\n"
    "      --seed N             flow hash seed (default: random)\n"
    "\n"
    "Live capture:\n"
    "  -s, --snaplen N          bytes captured per packet (default 262144)\n"
    "  -p, --no-promisc         do not put the interface in promiscuous mode\n"
    "      --buffer-size KIB    kernel capture buffer in KiB (default 16384)\n"
    "\n"
    "  -h, --help               show this help\n"
    "  -V, --version            show the version\n"
    "\n"
    "Exit status: 0 success, 1 error, 2 usage error, 3 damaged input, 4 dead rules.\n"
    "See offport(8).\n";

enum {
	OPT_JSON = 256,
	OPT_MAX_FLOWS,
	OPT_FIRST_BYTES,
	OPT_STREAM_SLOTS,
	OPT_FRAG_MAX,
	OPT_FRAG_TIMEOUT,
	OPT_TO_TCP_NEW,
	OPT_TO_TCP_EST,
	OPT_TO_TCP_CLOSING,
	OPT_TO_TCP_CLOSED,
	OPT_TO_UDP,
	OPT_SEED,
	OPT_BUFFER_SIZE,
	OPT_EVE,
	OPT_PORTS,
	OPT_LIST_PROTOCOLS,
	OPT_LIST_PORTS,
	OPT_UNKNOWN,
	OPT_POLICY,
	OPT_CHECK_POLICY,
	OPT_EXPLAIN,
	OPT_NO_DEDUP,
	OPT_DEDUP_WINDOW,
};

static const struct option long_opts[] = {
    {"read", required_argument, NULL, 'r'},
    {"interface", required_argument, NULL, 'i'},
    {"json", no_argument, NULL, OPT_JSON},
    {"max-flows", required_argument, NULL, OPT_MAX_FLOWS},
    {"first-bytes", required_argument, NULL, OPT_FIRST_BYTES},
    {"stream-slots", required_argument, NULL, OPT_STREAM_SLOTS},
    {"frag-max", required_argument, NULL, OPT_FRAG_MAX},
    {"frag-timeout", required_argument, NULL, OPT_FRAG_TIMEOUT},
    {"timeout-tcp-new", required_argument, NULL, OPT_TO_TCP_NEW},
    {"timeout-tcp-established", required_argument, NULL, OPT_TO_TCP_EST},
    {"timeout-tcp-closing", required_argument, NULL, OPT_TO_TCP_CLOSING},
    {"timeout-tcp-closed", required_argument, NULL, OPT_TO_TCP_CLOSED},
    {"timeout-udp", required_argument, NULL, OPT_TO_UDP},
    {"seed", required_argument, NULL, OPT_SEED},
    {"snaplen", required_argument, NULL, 's'},
    {"no-promisc", no_argument, NULL, 'p'},
    {"buffer-size", required_argument, NULL, OPT_BUFFER_SIZE},
    {"eve", required_argument, NULL, OPT_EVE},
    {"ports", required_argument, NULL, OPT_PORTS},
    {"list-protocols", no_argument, NULL, OPT_LIST_PROTOCOLS},
    {"list-ports", no_argument, NULL, OPT_LIST_PORTS},
    {"unknown", required_argument, NULL, OPT_UNKNOWN},
    {"policy", required_argument, NULL, OPT_POLICY},
    {"check-policy", required_argument, NULL, OPT_CHECK_POLICY},
    {"explain", no_argument, NULL, OPT_EXPLAIN},
    {"no-dedup", no_argument, NULL, OPT_NO_DEDUP},
    {"dedup-window", required_argument, NULL, OPT_DEDUP_WINDOW},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

static const char *long_name(int val)
{
	for (const struct option *o = long_opts; o->name; o++)
		if (o->val == val)
			return o->name;
	return "?";
}

static struct capture *volatile g_current; /* the capture a signal stops */
static volatile sig_atomic_t g_stop, g_stop_twice;
static volatile sig_atomic_t g_reload; /* SIGHUP: reload the policy */

static void on_hup(int sig)
{
	(void)sig;
	g_reload = 1;
}

/* Live: the read timeout's tick (see capture_tick), every LIVE_TICK_US. */
#define LIVE_TICK_US 100000

static void on_alarm(int sig)
{
	(void)sig;
	struct capture *c = g_current;
	if (c && !g_stop)
		capture_tick(c);
}

static void live_ticks(bool on)
{
	struct itimerval it = {{0, on ? LIVE_TICK_US : 0}, {0, on ? LIVE_TICK_US : 0}};
	setitimer(ITIMER_REAL, &it, NULL);
}

static void on_signal(int sig)
{
	(void)sig;
	if (g_stop)
		g_stop_twice = 1; /* a second signal ends a live drain at once */
	g_stop = 1;
	struct capture *c = g_current;
	if (c)
		capture_stop(c);
}

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "offport: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n%sTry 'offport --help'.\n", usage_text);
	return EXIT_USAGE;
}

/* Parses a whole decimal number in [min, max]; false on anything else. */
static bool parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	if (!s || !*s || *s == '-' || *s == '+')
		return false;
	errno = 0;
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

struct opts {
	const char *reads[MAX_INPUTS];
	int nreads;
	const char *iface;
	bool json;
	const char *eve;
	int list; /* OPT_LIST_PROTOCOLS or OPT_LIST_PORTS */
	const char *policy;       /* --policy */
	const char *check_policy; /* --check-policy */
	struct engine_config ecfg;
	struct capture_live_opts live;
	char filter[8192];
};

static int parse_args(int argc, char **argv, struct opts *o)
{
	uint64_t v;
	int c;
	memset(o, 0, sizeof *o);
	engine_config_defaults(&o->ecfg);
	o->live.snaplen = 262144;
	o->live.promisc = true;
	o->live.timeout_ms = 100;
	/* libpcap's default (2 MiB) holds a few milliseconds of a fast link:
	 * a burst of large (GRO) packets overflows it while a flow is decided. */
	o->live.buffer_bytes = 16384 * 1024;
	/* "+" stops at the first operand, so a filter such as "tcp port 80"
	 * is never taken for options (as tcpdump does). */
	while ((c = getopt_long(argc, argv, "+r:i:s:phV", long_opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			if (o->nreads == MAX_INPUTS)
				return usage_error("too many -r inputs (at most %s)", "256");
			/* standard input is read once: a second '-' would read
			 * what the first left, or nothing */
			if (strcmp(optarg, "-") == 0)
				for (int k = 0; k < o->nreads; k++)
					if (strcmp(o->reads[k], "-") == 0)
						return usage_error("-r %s given twice: standard input can be "
						                   "read once", optarg);
			o->reads[o->nreads++] = optarg;
			break;
		case 'i':
			if (o->iface)
				return usage_error("only one -i interface may be given (%s)", optarg);
			o->iface = optarg;
			break;
		case OPT_JSON:
			o->json = true;
			break;
		case OPT_EVE:
			o->eve = optarg;
			break;
		case OPT_PORTS:
			o->ecfg.ports_file = optarg;
			break;
		case OPT_LIST_PROTOCOLS:
		case OPT_LIST_PORTS:
			o->list = c;
			break;
		case OPT_POLICY:
			o->policy = optarg;
			break;
		case OPT_CHECK_POLICY:
			o->check_policy = optarg;
			break;
		case OPT_EXPLAIN:
			o->ecfg.explain = true;
			break;
		case OPT_NO_DEDUP:
			o->ecfg.dedup = false;
			break;
		case OPT_DEDUP_WINDOW:
			if (!parse_u64(optarg, 1, 86400u * 365u, &v))
				return usage_error("--dedup-window wants seconds from 1 to 31536000, not '%s'",
				                   optarg);
			o->ecfg.dedup_cfg.window_us = v * 1000000u;
			break;
		case 's':
			if (!parse_u64(optarg, 64, 262144, &v))
				return usage_error("--snaplen wants a number from 64 to 262144, not '%s'",
				                   optarg);
			o->live.snaplen = (int)v;
			break;
		case 'p':
			o->live.promisc = false;
			break;
		case OPT_BUFFER_SIZE:
			if (!parse_u64(optarg, 1, 4194304, &v))
				return usage_error("--buffer-size wants KiB from 1 to 4194304, not '%s'",
				                   optarg);
			o->live.buffer_bytes = (int)(v * 1024u > INT_MAX ? INT_MAX : v * 1024u);
			break;
		case OPT_MAX_FLOWS:
			if (!parse_u64(optarg, 1, 1u << 28, &v))
				return usage_error("--max-flows wants a number from 1 to 268435456, not '%s'",
				                   optarg);
			o->ecfg.flow.max_flows = (uint32_t)v;
			break;
		case OPT_UNKNOWN:
			if (strcmp(optarg, "opaque") == 0)
				o->ecfg.unknown_all = false;
			else if (strcmp(optarg, "all") == 0)
				o->ecfg.unknown_all = true;
			else
				return usage_error("--unknown wants 'opaque' or 'all', not '%s'", optarg);
			break;
		case OPT_FIRST_BYTES:
			if (!parse_u64(optarg, 64, 1u << 20, &v))
				return usage_error("--first-bytes wants a number from 64 to 1048576, not '%s'",
				                   optarg);
			o->ecfg.stream.cap = (uint32_t)v;
			break;
		case OPT_STREAM_SLOTS:
			if (!parse_u64(optarg, 1, 1u << 24, &v))
				return usage_error("--stream-slots wants a number from 1 to 16777216, not '%s'",
				                   optarg);
			o->ecfg.stream.max_slots = (uint32_t)v;
			break;
		case OPT_FRAG_MAX:
			if (!parse_u64(optarg, 1, 65536, &v))
				return usage_error("--frag-max wants a number from 1 to 65536, not '%s'",
				                   optarg);
			o->ecfg.decode.frag_max = (uint32_t)v;
			break;
		case OPT_FRAG_TIMEOUT:
		case OPT_TO_TCP_NEW:
		case OPT_TO_TCP_EST:
		case OPT_TO_TCP_CLOSING:
		case OPT_TO_TCP_CLOSED:
		case OPT_TO_UDP: {
			if (!parse_u64(optarg, 1, 86400u * 365u, &v))
				return usage_error("--%s wants seconds from 1 to 31536000, not '%s'",
				                   long_name(c), optarg);
			uint64_t us = v * 1000000u;
			if (c == OPT_FRAG_TIMEOUT)
				o->ecfg.decode.frag_timeout_us = us;
			else if (c == OPT_TO_TCP_NEW)
				o->ecfg.flow.tcp_new_timeout_us = us;
			else if (c == OPT_TO_TCP_EST)
				o->ecfg.flow.tcp_established_timeout_us = us;
			else if (c == OPT_TO_TCP_CLOSING)
				o->ecfg.flow.tcp_closing_timeout_us = us;
			else if (c == OPT_TO_TCP_CLOSED)
				o->ecfg.flow.tcp_closed_timeout_us = us;
			else
				o->ecfg.flow.udp_timeout_us = us;
			break;
		}
		case OPT_SEED:
			if (!parse_u64(optarg, 1, UINT64_MAX, &v))
				return usage_error("--seed wants a positive number, not '%s'", optarg);
			o->ecfg.flow.seed = v;
			break;
		case 'h':
			fputs(help_text, stdout);
			exit(fflush(stdout) == 0 && !ferror(stdout) ? EXIT_OK : EXIT_ERROR);
		case 'V':
			printf("offport %s (%s)\n", OFFPORT_VERSION, capture_lib_version());
			exit(fflush(stdout) == 0 && !ferror(stdout) ? EXIT_OK : EXIT_ERROR);
		default:
			fprintf(stderr, "%sTry 'offport --help'.\n", usage_text);
			return EXIT_USAGE;
		}
	}
	if (o->list || o->check_policy) {
		/* they read no traffic: inputs or a filter would be ignored */
		const char *what = o->list == OPT_LIST_PROTOCOLS ? "--list-protocols"
		                   : o->list == OPT_LIST_PORTS   ? "--list-ports"
		                                                 : "--check-policy";
		if (o->list && o->check_policy)
			return usage_error("%s", "give one of --list-protocols, --list-ports and "
			                         "--check-policy");
		if (o->nreads || o->iface || optind < argc)
			return usage_error("%s reads no traffic: no -r, -i or filter expression with it",
			                   what);
		return -1;
	}
	if (o->json && o->eve)
		return usage_error("%s", "give either --json (standard output) or --eve PATH, not both");
	if (o->nreads && o->iface)
		return usage_error("%s", "give either -r files or one -i interface, not both");
	if (!o->nreads && !o->iface)
		return usage_error("%s", "no input: give -r FILE or -i INTERFACE");
	size_t len = 0;
	for (int i = optind; i < argc; i++) {
		size_t n = strlen(argv[i]);
		if (len + n + 2 > sizeof o->filter)
			return usage_error("%s", "the filter expression is too long");
		if (len)
			o->filter[len++] = ' ';
		memcpy(o->filter + len, argv[i], n + 1);
		len += n;
	}
	return -1; /* go on */
}

/* Below this snapshot length a full-size Ethernet frame loses payload. */
#define SNAPLEN_ADVISED 1600

/* Opens one input, checks its link type and installs the filter.
 * Returns 0, -1 after an error, or EXIT_DAMAGED for a file whose bytes
 * are not a readable capture (it is then not open, and is skipped). */
static int open_input(struct capture *c, const struct opts *o, const char *name)
{
	char err[10240]; /* two paths (name, and in a hint) and a reason */
	const char *ltname;
	int rc = o->iface ? capture_open_live(c, name, &o->live, err, sizeof err)
	                  : capture_open_file(c, name, err, sizeof err);
	if (rc != 0) {
		fprintf(stderr, "offport: %s\n", err);
		return rc == CAPTURE_OPEN_DAMAGED ? EXIT_DAMAGED : -1;
	}
	if (!decode_linktype_supported(c->dlt, &ltname)) {
		fprintf(stderr,
		        "offport: %s: link type %d (%s) is not supported; offport reads %s\n",
		        c->name, c->dlt, capture_dlt_name(c->dlt), decode_linktypes_help());
		capture_close(c);
		return -1;
	}
	if (capture_set_filter(c, o->filter, err, sizeof err) != 0) {
		fprintf(stderr, "offport: %s\n", err);
		capture_close(c);
		return -1;
	}
	if (o->iface) {
		/* As tcpdump does: the moment packets are being captured. */
		fprintf(stderr, "offport: listening on %s, link type %s, snapshot length %d bytes\n",
		        c->name, capture_dlt_name(c->dlt), o->live.snaplen);
		if (o->live.snaplen < SNAPLEN_ADVISED)
			fprintf(stderr,
			        "offport: warning: a snapshot length of %d bytes cuts the payload "
			        "identification reads (up to --first-bytes per direction); cut "
			        "packets are counted in decoder.snaplen_cut\n",
			        o->live.snaplen);
	}
	return 0;
}

/* --list-protocols and --list-ports: what offport knows, then exit. */
static int list_and_exit(const struct opts *o)
{
	char err[512];
	struct ports *p = malloc(sizeof *p);
	if (!p || ports_load_default(p, err, sizeof err) != 0 ||
	    (o->ecfg.ports_file && ports_load_file(p, o->ecfg.ports_file, err, sizeof err) != 0)) {
		fprintf(stderr, "offport: %s\n", p ? err : "out of memory");
		free(p);
		return EXIT_ERROR;
	}
	if (o->list == OPT_LIST_PROTOCOLS) {
		static char ports[8192];
		int w = 11;
		for (unsigned i = 0; i < ident_count; i++)
			if ((int)strlen(ident_registry[i]->title) > w)
				w = (int)strlen(ident_registry[i]->title);
		printf("%-10s %-8s %-*s %s\n", "PROTOCOL", "OVER", w, "DESCRIPTION", "EXPECTED ON");
		for (unsigned i = 0; i < ident_count; i++) {
			const struct ident_proto *ip = ident_registry[i];
			const char *over = ip->transports == (IDENT_TCP | IDENT_UDP) ? "tcp,udp"
			                   : ip->transports == IDENT_UDP            ? "udp"
			                                                            : "tcp";
			if (ports_of_proto(p, (int)i, ports, sizeof ports) == 0) {
				if (ip->carrier)
					snprintf(ports, sizeof ports, "(inside %s: where %s is expected)",
					         ip->carrier, ip->carrier);
				else
					snprintf(ports, sizeof ports,
					         "(no port: found anywhere, it is a finding)");
			} else if (ip->carrier) {
				size_t n = strlen(ports);
				snprintf(ports + n, sizeof ports - n, " (and inside %s)", ip->carrier);
			}
			printf("%-10s %-8s %-*s %s\n", ip->name, over, w, ip->title, ports);
		}
	} else {
		for (int t = 0; t < 2; t++) {
			for (unsigned port = 1; port <= 65535; port++) {
				const struct proto_set *set = ports_expected(p, (enum ports_transport)t,
				                                             (uint16_t)port);
				if (!set)
					continue;
				unsigned hi = port;
				while (hi < 65535 &&
				       ports_expected(p, (enum ports_transport)t, (uint16_t)(hi + 1)) == set)
					hi++;
				char spec[32];
				if (hi > port)
					snprintf(spec, sizeof spec, "%s/%u-%u", t ? "udp" : "tcp", port, hi);
				else
					snprintf(spec, sizeof spec, "%s/%u", t ? "udp" : "tcp", port);
				printf("%-14s", spec);
				for (unsigned i = 0; i < ident_count; i++)
					if (proto_set_has(set, (int)i))
						printf(" %s", ident_registry[i]->name);
				putchar('\n');
				port = hi;
			}
			const struct proto_set *any = &p->sets[p->entry[t][0]];
			if (!proto_set_empty(any)) {
				printf("%-14s", t ? "udp/any" : "tcp/any");
				for (unsigned i = 0; i < ident_count; i++)
					if (proto_set_has(any, (int)i))
						printf(" %s", ident_registry[i]->name);
				putchar('\n');
			}
		}
	}
	free(p);
	return fflush(stdout) == 0 && !ferror(stdout) ? EXIT_OK : EXIT_ERROR;
}

/* --check-policy: the file's summary and its dead rules, then exit. */
struct dead_ctx {
	const struct policy *p;
	unsigned n;
};

static void print_dead(void *ctx, unsigned rule, int by, const char *why)
{
	struct dead_ctx *d = ctx;
	const struct policy_rule_info *r = policy_rule(d->p, rule);
	printf("%s:%u: rule ", policy_file(d->p), r->line);
	if (r->name)
		printf("'%s' ", r->name);
	if (by >= 0) {
		const struct policy_rule_info *b = policy_rule(d->p, (unsigned)by);
		printf("can never match: the rule at line %u", b->line);
		if (b->name)
			printf(" ('%s')", b->name);
		printf(" comes first and matches every flow it would\n");
	} else {
		printf("can never match: %s\n", why ? why : "it contradicts itself");
	}
	d->n++;
}

static int check_policy_and_exit(const char *path)
{
	char err[1024];
	struct policy *p;
	if (policy_load_file(path, &p, err, sizeof err) != 0) {
		fprintf(stderr, "offport: %s\n", err);
		return EXIT_ERROR;
	}
	unsigned n = policy_rule_count(p);
	printf("%s: valid: %u rule%s, default %s (line %u), home network %s\n", policy_file(p), n,
	       n == 1 ? "" : "s", policy_default_name(policy_default_action(p)), policy_default_line(p),
	       policy_has_home(p) ? "defined" : "not defined");
	struct dead_ctx d = {p, 0};
	policy_dead_rules(p, print_dead, &d);
	if (d.n)
		printf("%s: %u rule%s can never match\n", policy_file(p), d.n, d.n == 1 ? "" : "s");
	policy_free(p);
	if (fflush(stdout) != 0 || ferror(stdout))
		return EXIT_ERROR;
	return d.n ? EXIT_DEAD_RULES : EXIT_OK;
}

static uint64_t wall_us(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (uint64_t)tv.tv_sec * 1000000u + (uint64_t)tv.tv_usec;
}

/* Live output reaches its reader within this long (records are written
 * to a large buffer; a live sensor's reader should not wait for it to fill). */
#define LIVE_FLUSH_US 200000u
/* After SIGINT or SIGTERM, how long a live capture may go on reading what
 * the kernel captured before the signal (see run_input). */
#define LIVE_DRAIN_US 2000000u

/* Both outputs: with --eve the JSON goes to the file and the text alert
 * lines to standard output, and a reader of either waits for it. */
static void flush_output(struct engine *e)
{
	engine_flush_json(e);
	FILE *outs[2] = {e->cfg.json_out, e->cfg.text_out};
	for (int i = 0; i < 2; i++)
		if (outs[i] && fflush(outs[i]) != 0 && !e->write_errno)
			e->write_errno = errno ? errno : EIO;
}

/* Reads one input to its end. Returns EXIT_OK or EXIT_DAMAGED.
 *
 * Live, a stop (SIGINT, SIGTERM) first drains: the packets the kernel
 * captured before the signal are still read and decoded, so the flows
 * they end are reported as ended and the statistics account for every
 * packet the kernel counted. The drain ends when a read times out with
 * nothing (the buffer is empty), after LIVE_DRAIN_US, or at a second
 * signal. */
/* SIGHUP: the policy file read again. A file that no longer loads leaves
 * the policy in force unchanged (and says why). */
static void reload_policy(struct engine *e, const char *path)
{
	g_reload = 0;
	if (!path) {
		fprintf(stderr, "offport: SIGHUP: no --policy file to reload\n");
		return;
	}
	char err[1024];
	struct policy *p;
	if (policy_load_file(path, &p, err, sizeof err) != 0) {
		e->totals.policy_reload_failures++;
		fprintf(stderr, "offport: SIGHUP: %s; the policy in force is kept\n", err);
		return;
	}
	engine_set_policy(e, p);
	e->totals.policy_reloads++;
	fprintf(stderr, "offport: SIGHUP: policy reloaded from %s: %u rule%s, default %s\n", path,
	        policy_rule_count(p), policy_rule_count(p) == 1 ? "" : "s", e->totals.policy_default);
}

static int run_input(struct engine *e, struct capture *c, const char *policy_path)
{
	struct capture_pkt pkt;
	char err[512];
	int status = EXIT_OK;
	uint64_t next_flush = 0, drain_until = 0;
	g_current = c;
	if (g_stop)
		capture_stop(c);
	if (c->live)
		live_ticks(true);
	for (;;) {
		enum capture_status st = capture_next(c, &pkt, err, sizeof err);
		if (g_reload)
			reload_policy(e, policy_path);
		if (st == CAPTURE_PACKET) {
			engine_packet(e, c->dlt, &pkt);
			if (e->write_errno)
				break;
			if (c->live) {
				uint64_t now = wall_us();
				if (now >= next_flush) {
					flush_output(e);
					next_flush = now + LIVE_FLUSH_US;
				}
				if (drain_until && now >= drain_until)
					break;
			}
			continue;
		}
		if (st == CAPTURE_TIMEOUT) {
			engine_tick(e, wall_us());
			flush_output(e);
			continue;
		}
		if (st == CAPTURE_STOPPED && c->live && !c->draining && !g_stop_twice) {
			live_ticks(false); /* the drain's reads do not block */
			drain_until = wall_us() + LIVE_DRAIN_US;
			capture_drain(c);
			continue;
		}
		if (st == CAPTURE_BROKEN) {
			long before = capture_damage_offset(c);
			const char *pl = c->packets == 1 ? "" : "s";
			if (before >= 0)
				fprintf(stderr,
				        "offport: %s: damaged capture at byte offset %ld after %" PRIu64
				        " packet%s: %s\n",
				        c->name, before, c->packets, pl, err);
			else
				fprintf(stderr,
				        "offport: %s: damaged capture after %" PRIu64 " packet%s: %s\n",
				        c->name, c->packets, pl, err);
			e->totals.inputs_damaged++;
			status = EXIT_DAMAGED;
		}
		break; /* EOF, stopped or broken */
	}
	e->totals.short_wirelen += c->short_wirelen;
	if (c->live) {
		live_ticks(false);
		uint64_t rx, drop, ifdrop;
		if (capture_kernel_stats(c, &rx, &drop, &ifdrop)) {
			e->totals.kernel_valid = true;
			e->totals.kernel_received = rx;
			e->totals.kernel_dropped = drop;
			e->totals.kernel_if_dropped = ifdrop;
		}
	}
	g_current = NULL;
	return status;
}

int main(int argc, char **argv)
{
	static struct opts o;
	static struct capture caps[MAX_INPUTS];
	char err[2048];
	int rc = parse_args(argc, argv, &o);
	if (rc >= 0)
		return rc;
	if (o.list)
		return list_and_exit(&o);
	if (o.check_policy)
		return check_policy_and_exit(o.check_policy);
	struct policy *policy = NULL;
	if (o.policy && policy_load_file(o.policy, &policy, err, sizeof err) != 0) {
		fprintf(stderr, "offport: %s\n", err);
		return EXIT_ERROR;
	}

	/* Signals first: a stop that arrives while the inputs are opened and
	 * the tables allocated is a stop like any other (nothing is read, the
	 * stats are written, exit 0), not a kill. */
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	/* SIGHUP only asks for a reload at the next packet: a read it
	 * interrupts (a pipe, standard input) resumes instead of failing. */
	sa.sa_handler = on_hup;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGHUP, &sa, NULL);
	/* The live tick: SA_RESTART, so that it never fails a write. */
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN); /* a closed pipe shows as a write error */

	/* Open every input first: a missing file, an unsupported link type or
	 * a bad filter stops the run before any output is written. A file whose
	 * bytes are not a readable capture is damaged input: reported here,
	 * skipped, and the others are read. */
	int ncaps = o.iface ? 1 : o.nreads;
	uint32_t damaged_at_open = 0;
	bool filter_checked = false;
	for (int i = 0; i < ncaps; i++) {
		int orc = open_input(&caps[i], &o, o.iface ? o.iface : o.reads[i]);
		if (orc == EXIT_DAMAGED) {
			damaged_at_open++;
			continue;
		}
		if (orc != 0) {
			for (int k = 0; k < i; k++)
				capture_close(&caps[k]);
			policy_free(policy);
			return EXIT_ERROR;
		}
		filter_checked = true;
	}
	if (!filter_checked && capture_check_filter(o.filter, err, sizeof err) != 0) {
		fprintf(stderr, "offport: %s\n", err);
		policy_free(policy);
		return EXIT_ERROR; /* no input is open */
	}

	/* JSON: the engine's output buffer holds the records and writes a
	 * megabyte at a time (output/json.h); a stdio buffer would copy them
	 * once more. */
	FILE *eve = NULL;
	if (o.json) {
		setvbuf(stdout, NULL, _IONBF, 0);
		o.ecfg.json_out = stdout;
	} else {
		o.ecfg.text_out = stdout;
	}
	if (o.eve) {
		eve = fopen(o.eve, "w");
		if (!eve) {
			fprintf(stderr, "offport: %s: %s\n", o.eve, strerror(errno));
			for (int i = 0; i < ncaps; i++)
				capture_close(&caps[i]);
			policy_free(policy);
			return EXIT_ERROR;
		}
		setvbuf(eve, NULL, _IONBF, 0);
		o.ecfg.json_out = eve;
	}
	struct engine *e = malloc(sizeof *e);
	if (!e || engine_init(e, &o.ecfg, err, sizeof err) != 0) {
		fprintf(stderr, "offport: %s\n", e ? err : "out of memory");
		free(e);
		if (eve)
			fclose(eve);
		for (int i = 0; i < ncaps; i++)
			capture_close(&caps[i]);
		policy_free(policy);
		return EXIT_ERROR;
	}
	engine_set_policy(e, policy); /* the engine owns it from here */
	policy = NULL;
	e->totals.inputs = (uint32_t)ncaps;
	e->totals.inputs_damaged = damaged_at_open;


	int status = damaged_at_open ? EXIT_DAMAGED : EXIT_OK;
	for (int i = 0; i < ncaps && !g_stop && !e->write_errno; i++) {
		if (!caps[i].p)
			continue; /* damaged: not a readable capture */
		if (run_input(e, &caps[i], o.policy) == EXIT_DAMAGED)
			status = EXIT_DAMAGED;
	}
	engine_finish(e);
	engine_write_stats(e);
	if (!o.json && report_summary_text(stdout, &e->totals) != 0 && !e->write_errno)
		e->write_errno = errno ? errno : EIO;
	/* Which output failed, for the message: the --eve file or standard
	 * output (the JSON without --eve, the text with or without it). */
	bool eve_bad = eve && ferror(eve);
	if (eve && (fclose(eve) != 0)) {
		eve_bad = true;
		if (!e->write_errno)
			e->write_errno = errno ? errno : EIO;
	}
	if ((fflush(stdout) != 0 || ferror(stdout)) && !e->write_errno)
		e->write_errno = errno ? errno : EIO;
	if (e->write_errno) {
		/* The output stops at the first error: what was written is an
		 * incomplete record set (no stats record), never to be taken for
		 * a whole one. */
		fprintf(stderr, "offport: error writing output (%s): %s; the output is incomplete\n",
		        eve_bad ? o.eve : "standard output", strerror(e->write_errno));
		status = EXIT_ERROR;
	}
	for (int i = 0; i < ncaps; i++)
		capture_close(&caps[i]);
	engine_free(e);
	free(e);
	return status;
}
