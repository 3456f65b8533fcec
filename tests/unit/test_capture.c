/*
 * test_capture.c - the capture's own reading of ordinary pcap records
 * (capture.c, "direct reading") hands out exactly what libpcap would.
 *
 * Every capture under tests/captures and tests/e2e/captures (and the
 * shared nDPI corpus when it is beside the repository: ../shared/corpus,
 * or $OFFPORT_CORPUS) is read three times: through struct capture from
 * memory (fmemopen: read with fread) and from a file (tmpfile: read with
 * pread), and through libpcap alone (pcap_next_ex, microsecond precision, as the capture opens
 * files). Timestamps, lengths, bytes, the number of packets and how the
 * reading ended (end of file, or the same libpcap error message) must be
 * the same. Then variants made in memory from a few captures: the other
 * byte order, nanosecond timestamps, a record longer than the snapshot
 * length or than libpcap's maximum, a wire length below the captured one,
 * timestamps past 2038 (negative in the file's signed fields), a file cut
 * inside a record header and inside a packet, BPF filters, and 3,000
 * random corruptions of record headers. Each ordinary variant must also
 * be read directly (the capture says so), so that the comparison is not
 * one of libpcap with itself.
 */
#define _GNU_SOURCE
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture/capture.h"
#include "check.h"

struct bytes {
	uint8_t *p;
	size_t n;
};

static struct bytes slurp(const char *path)
{
	struct bytes b = {NULL, 0};
	FILE *f = fopen(path, "rb");
	if (!f)
		return b;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	if (n > 0 && n < (64L << 20)) {
		b.p = malloc((size_t)n);
		if (b.p && fread(b.p, 1, (size_t)n, f) == (size_t)n)
			b.n = (size_t)n;
	}
	fclose(f);
	return b;
}

/* The reference: libpcap alone over the same bytes. Returns the packets
 * read, and in *end 0 for the end of file or 1 with libpcap's message. */
struct ref_pkt {
	int64_t sec, usec;
	uint32_t caplen, len;
	uint8_t *data;
};

struct reading {
	struct ref_pkt *pkts;
	size_t n, cap;
	int end; /* 0 EOF, 1 error, -1 not opened */
	char msg[512];
	bool direct_at_open;
	bool direct_at_last; /* still reading directly when the last packet came */
};

static void add_pkt(struct reading *r, int64_t sec, int64_t usec, uint32_t caplen, uint32_t len,
                    const uint8_t *data)
{
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 256;
		r->pkts = realloc(r->pkts, r->cap * sizeof *r->pkts);
	}
	struct ref_pkt *p = &r->pkts[r->n++];
	p->sec = sec;
	p->usec = usec;
	p->caplen = caplen;
	p->len = len;
	p->data = malloc(caplen ? caplen : 1);
	memcpy(p->data, data, caplen);
}

static void reading_free(struct reading *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->pkts[i].data);
	free(r->pkts);
	memset(r, 0, sizeof *r);
}

static void read_libpcap(const struct bytes *b, const char *filter, struct reading *r)
{
	memset(r, 0, sizeof *r);
	char ebuf[PCAP_ERRBUF_SIZE];
	FILE *f = fmemopen(b->p, b->n, "rb");
	pcap_t *p = f ? pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_MICRO, ebuf)
	              : NULL;
	if (!p) {
		if (f)
			fclose(f);
		r->end = -1;
		return;
	}
	if (filter) {
		struct bpf_program prog;
		if (pcap_compile(p, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) == 0) {
			pcap_setfilter(p, &prog);
			pcap_freecode(&prog);
		}
	}
	struct pcap_pkthdr *h;
	const u_char *data;
	int rc;
	while ((rc = pcap_next_ex(p, &h, &data)) == 1)
		add_pkt(r, (int64_t)h->ts.tv_sec, (int64_t)h->ts.tv_usec, h->caplen, h->len, data);
	r->end = rc == PCAP_ERROR_BREAK ? 0 : 1;
	if (r->end)
		snprintf(r->msg, sizeof r->msg, "%s", pcap_geterr(p));
	pcap_close(p);
}

/* What the capture hands out, its timestamp in microseconds split back
 * into seconds and microseconds as libpcap gave them (exact for the
 * timestamps used here: see capture_next). */
static void read_capture(const struct bytes *b, const char *filter, bool from_file,
                         struct reading *r)
{
	memset(r, 0, sizeof *r);
	FILE *f;
	if (from_file) { /* a file with a descriptor: read with pread */
		f = tmpfile();
		if (f && (fwrite(b->p, 1, b->n, f) != b->n || fseek(f, 0, SEEK_SET) != 0)) {
			fclose(f);
			f = NULL;
		}
	} else { /* bytes in memory, no descriptor: read with fread */
		f = fmemopen(b->p, b->n, "rb");
	}
	struct capture c;
	char err[512];
	if (!f || capture_open_stream(&c, f, "test", err, sizeof err) != 0) {
		r->end = -1;
		return;
	}
	r->direct_at_open = c.direct != NULL;
	if (filter && capture_set_filter(&c, filter, err, sizeof err) != 0) {
		capture_close(&c);
		r->end = -1;
		return;
	}
	struct capture_pkt pkt;
	enum capture_status st;
	while ((st = capture_next(&c, &pkt, err, sizeof err)) == CAPTURE_PACKET) {
		r->direct_at_last = c.direct != NULL;
		/* wirelen: the capture raises a wire length below the captured
		 * one to it (counted in short_wirelen); compare what it read */
		add_pkt(r, 0, (int64_t)pkt.ts_us, pkt.caplen, pkt.wirelen, pkt.data);
	}
	r->end = st == CAPTURE_EOF ? 0 : 1;
	if (r->end)
		snprintf(r->msg, sizeof r->msg, "%s", err);
	capture_close(&c);
}

static unsigned compared_files, compared_packets, direct_files;

/* Compares the two readings of b; returns false (and says where) on the
 * first difference. */
static bool same_reading_as(const char *what, const struct bytes *b, const char *filter,
                            bool want_direct, bool from_file)
{
	struct reading ref, got;
	read_libpcap(b, filter, &ref);
	read_capture(b, filter, from_file, &got);
	bool ok = ref.end == got.end && ref.n == got.n;
	if (ok && ref.end == 1)
		ok = strcmp(ref.msg, got.msg) == 0;
	size_t i = 0;
	for (; ok && i < ref.n; i++) {
		const struct ref_pkt *x = &ref.pkts[i], *y = &got.pkts[i];
		uint32_t wire = x->len < x->caplen ? x->caplen : x->len;
		ok = (uint64_t)x->sec * 1000000u + (uint64_t)x->usec == (uint64_t)y->usec &&
		     x->caplen == y->caplen && wire == y->len && memcmp(x->data, y->data, x->caplen) == 0;
	}
	if (!ok)
		fprintf(stderr, "%s (%s): readings differ (libpcap %zu packets, end %d \"%s\"; capture %zu, "
		                "end %d \"%s\"; first difference at packet %zu)\n",
		        what, from_file ? "file" : "memory", ref.n, ref.end, ref.msg, got.n, got.end,
		        got.msg, i ? i - 1 : 0);
	if (want_direct && !(got.direct_at_open && (got.n == 0 || got.direct_at_last))) {
		fprintf(stderr, "%s: not read directly\n", what);
		ok = false;
	}
	compared_files++;
	compared_packets += (unsigned)ref.n;
	direct_files += got.direct_at_open;
	reading_free(&ref);
	reading_free(&got);
	return ok;
}

/* From memory (fmemopen) and from a file (tmpfile). */
static bool same_reading(const char *what, const struct bytes *b, const char *filter,
                         bool want_direct)
{
	bool m = same_reading_as(what, b, filter, want_direct, false);
	bool f = same_reading_as(what, b, filter, want_direct, true);
	return m && f;
}

static void whole(const char *path, void *ctx)
{
	(void)ctx;
	struct bytes b = slurp(path);
	if (b.n) {
		CHECK(same_reading(path, &b, NULL, false));
		CHECK(same_reading(path, &b, "tcp", false));
	}
	free(b.p);
}

/* ---- variants of one classic pcap file --------------------------------- */

static uint32_t rd32(const uint8_t *p, bool sw)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return sw ? __builtin_bswap32(v) : v;
}

static void wr32(uint8_t *p, uint32_t v, bool sw)
{
	if (sw)
		v = __builtin_bswap32(v);
	memcpy(p, &v, 4);
}

/* Offsets of the record headers of a native-order microsecond file. */
static size_t records(const struct bytes *b, size_t *at, size_t max)
{
	size_t n = 0;
	for (size_t o = 24; o + 16 <= b->n && n < max;) {
		at[n++] = o;
		o += 16 + rd32(b->p + o + 8, false);
	}
	return n;
}

static struct bytes copy(const struct bytes *b)
{
	struct bytes c = {malloc(b->n + 64), b->n};
	memcpy(c.p, b->p, b->n);
	return c;
}

/* The same file in the other byte order and/or with nanosecond stamps;
 * at[0..n) are its record offsets (records()). */
static struct bytes transform(const struct bytes *b, const size_t *at, size_t n, bool swap,
                              bool nano)
{
	struct bytes c = copy(b);
	wr32(c.p, nano ? 0xa1b23c4du : 0xa1b2c3d4u, swap);
	for (int k = 0; k < 2; k++) {
		uint16_t v;
		memcpy(&v, c.p + 4 + 2 * k, 2);
		if (swap)
			v = __builtin_bswap16(v);
		memcpy(c.p + 4 + 2 * k, &v, 2);
	}
	for (int k = 2; k < 6; k++)
		wr32(c.p + 4 * k, rd32(b->p + 4 * k, false), swap);
	for (size_t i = 0; i < n; i++) {
		const uint8_t *r = b->p + at[i];
		uint32_t usec = rd32(r + 4, false);
		wr32(c.p + at[i], rd32(r, false), swap);
		wr32(c.p + at[i] + 4, nano ? usec * 1000u + (uint32_t)(i % 1000) : usec, swap);
		wr32(c.p + at[i] + 8, rd32(r + 8, false), swap);
		wr32(c.p + at[i] + 12, rd32(r + 12, false), swap);
	}
	return c;
}

static void variants(const char *path)
{
	struct bytes b = slurp(path);
	if (b.n < 24 || rd32(b.p, false) != 0xa1b2c3d4u) {
		fprintf(stderr, "%s: not a native microsecond pcap file\n", path);
		CHECK(0);
		free(b.p);
		return;
	}
	char what[4200];
	static size_t at[100000];
	size_t n = records(&b, at, 100000);
	for (int v = 0; v < 4; v++) {
		struct bytes c = transform(&b, at, n, v & 1, v & 2);
		snprintf(what, sizeof what, "%s swapped=%d nano=%d", path, v & 1, (v & 2) != 0);
		CHECK(same_reading(what, &c, NULL, true));
		CHECK(same_reading(what, &c, "udp or port 443", true));
		free(c.p);
	}
	CHECK(n > 4);
	if (n <= 4) {
		free(b.p);
		return;
	}
	struct bytes c;
	/* a record beyond the snapshot length: libpcap cuts it */
	c = copy(&b);
	wr32(c.p + 16, 64, false);
	snprintf(what, sizeof what, "%s snaplen 64", path);
	CHECK(same_reading(what, &c, NULL, false));
	free(c.p);
	/* a captured length beyond libpcap's maximum: an error */
	c = copy(&b);
	wr32(c.p + at[n / 2] + 8, 300000, false);
	snprintf(what, sizeof what, "%s caplen 300000", path);
	CHECK(same_reading(what, &c, NULL, false));
	free(c.p);
	/* wire length below captured length, timestamps past 2038 */
	c = copy(&b);
	for (size_t i = 0; i < n; i += 3)
		wr32(c.p + at[i] + 12, 1, false);
	for (size_t i = 1; i < n; i += 2)
		wr32(c.p + at[i], 0x80000000u + (uint32_t)i, false);
	snprintf(what, sizeof what, "%s short wire lengths, 2038", path);
	CHECK(same_reading(what, &c, NULL, true));
	/* the same in the other byte order, micro- and nanoseconds, with
	 * microsecond fields past 2^31 too */
	for (size_t i = 2; i < n; i += 4)
		wr32(c.p + at[i] + 4, 0x80000000u + (uint32_t)i, false);
	for (int v = 1; v < 4; v += 2) {
		struct bytes w = transform(&c, at, n, true, v == 3);
		snprintf(what, sizeof what, "%s swapped, 2038, nano=%d", path, v == 3);
		CHECK(same_reading(what, &w, NULL, true));
		free(w.p);
	}
	free(c.p);
	/* cut inside the last record's header, and inside its packet */
	struct bytes cut = {b.p, at[n - 1] + 7};
	snprintf(what, sizeof what, "%s cut in a header", path);
	CHECK(same_reading(what, &cut, NULL, false));
	cut.n = at[n - 1] + 16 + 3;
	snprintf(what, sizeof what, "%s cut in a packet", path);
	CHECK(same_reading(what, &cut, NULL, false));
	/* random corruption of record headers */
	uint64_t seed = 0x9e3779b97f4a7c15u;
	unsigned bad = 0;
	for (int k = 0; k < 1000; k++) {
		c = copy(&b);
		int edits = 1 + (int)(check_rand(&seed) % 3);
		for (int e = 0; e < edits; e++) {
			size_t r = at[check_rand(&seed) % n];
			unsigned field = (unsigned)(check_rand(&seed) % 16);
			uint64_t x = check_rand(&seed);
			c.p[r + field] = (uint8_t)x;
			if (x & 0x100) /* a plausible length now and then */
				wr32(c.p + r + 8 + (field & 4), (uint32_t)(x >> 16) % 2000, false);
		}
		snprintf(what, sizeof what, "%s corruption %d", path, k);
		bad += !same_reading(what, &c, k % 4 ? NULL : "tcp", false);
		free(c.p);
	}
	CHECK_EQ_U(bad, 0);
	free(b.p);
}

int main(void)
{
	check_each_capture("captures", whole, NULL, 0);
	check_each_capture("e2e/captures", whole, NULL, 0);
	const char *corpus = getenv("OFFPORT_CORPUS");
	check_each_capture(corpus ? corpus : "../../shared/corpus/ndpi", whole, NULL, 0);
	unsigned whole = compared_files;
	variants("captures/tls_443.pcap");
	variants("captures/vxlan_ssh_443.pcap");
	variants("e2e/captures/one_byte_tls_8088.pcap");
	variants("e2e/captures/rdp_28035.pcap");
	printf("%u readings compared (%u of whole captures), %u packets, %u read directly\n",
	       compared_files, whole, compared_packets, direct_files);
	CHECK(whole >= 2 * 70);
	CHECK(direct_files > whole / 2);
	return check_done();
}
