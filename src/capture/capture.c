/*
 * capture.c - libpcap behind struct capture.
 *
 * Files are opened with microsecond timestamp precision: libpcap converts
 * nanosecond files itself, so every source hands out the same unit.
 */
#include "capture/capture.h"

#include <errno.h>
#include <fcntl.h>
#include <pcap/pcap.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

__attribute__((format(printf, 3, 4))) static void set_err(char *err, size_t errlen,
                                                          const char *fmt, ...)
{
	va_list ap;
	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* libpcap reads a file record by record with fread. With stdio's default
 * buffer (one 4 KiB page) that is a read() system call per page; a 64 KiB
 * buffer makes it one per 16 pages and read-only passes over a capture in
 * the page cache about a third faster (docs/performance.md). Larger buffers
 * measured no better: the copy out of the page cache then leaves the L2. */
enum { CAPTURE_IOBUF = 1 << 16 };

int capture_open_stream(struct capture *c, FILE *f, const char *name, char *err, size_t errlen)
{
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	char *iobuf = c->iobuf; /* capture_open_file's, set before the call */
	memset(c, 0, sizeof *c);
	c->name = name;
	c->iobuf = iobuf;
	c->p = pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_MICRO, ebuf);
	if (!c->p) {
		set_err(err, errlen, "%s: %s", c->name, ebuf);
		if (f != stdin)
			fclose(f);
		free(c->iobuf);
		c->iobuf = NULL;
		return -1;
	}
	c->dlt = pcap_datalink(c->p);
	return 0;
}

int capture_open_file(struct capture *c, const char *path, char *err, size_t errlen)
{
	static char stdin_buf[CAPTURE_IOBUF];
	static bool stdin_buffered;
	memset(c, 0, sizeof *c);
	if (strcmp(path, "-") == 0) {
		if (!stdin_buffered)
			setvbuf(stdin, stdin_buf, _IOFBF, sizeof stdin_buf);
		stdin_buffered = true;
		return capture_open_stream(c, stdin, "(stdin)", err, errlen);
	}
	FILE *f = fopen(path, "rb");
	if (!f) {
		set_err(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	c->iobuf = malloc(CAPTURE_IOBUF);
	if (c->iobuf)
		setvbuf(f, c->iobuf, _IOFBF, CAPTURE_IOBUF);
	(void)posix_fadvise(fileno(f), 0, 0, POSIX_FADV_SEQUENTIAL);
	if (capture_open_stream(c, f, path, err, errlen) != 0)
		return -1;
	c->path = path;
	return 0;
}

int capture_open_live(struct capture *c, const char *ifname, const struct capture_live_opts *o,
                      char *err, size_t errlen)
{
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	memset(c, 0, sizeof *c);
	c->name = ifname;
	c->live = true;
	c->p = pcap_create(ifname, ebuf);
	if (!c->p) {
		set_err(err, errlen, "%s: %s", ifname, ebuf);
		return -1;
	}
	pcap_set_snaplen(c->p, o->snaplen);
	pcap_set_promisc(c->p, o->promisc ? 1 : 0);
	pcap_set_timeout(c->p, o->timeout_ms);
	c->timeout_ms = o->timeout_ms;
	if (o->buffer_bytes > 0)
		pcap_set_buffer_size(c->p, o->buffer_bytes);
	pcap_set_tstamp_precision(c->p, PCAP_TSTAMP_PRECISION_MICRO);
	int rc = pcap_activate(c->p);
	if (rc < 0) {
		const char *why = rc == PCAP_ERROR ? pcap_geterr(c->p) : pcap_statustostr(rc);
		if (rc == PCAP_ERROR_NO_SUCH_DEVICE || rc == PCAP_ERROR_PERM_DENIED) {
			const char *detail = pcap_geterr(c->p);
			if (detail && *detail)
				why = detail;
		}
		set_err(err, errlen, "%s: cannot capture: %s", ifname, why);
		pcap_close(c->p);
		c->p = NULL;
		return -1;
	}
	c->dlt = pcap_datalink(c->p);
	return 0;
}

int capture_set_filter(struct capture *c, const char *expr, char *err, size_t errlen)
{
	struct bpf_program prog;
	if (!expr || !*expr)
		return 0;
	if (pcap_compile(c->p, &prog, expr, 1, PCAP_NETMASK_UNKNOWN) != 0) {
		set_err(err, errlen, "bad filter expression: %s", pcap_geterr(c->p));
		return -1;
	}
	int rc = pcap_setfilter(c->p, &prog);
	pcap_freecode(&prog);
	if (rc != 0) {
		set_err(err, errlen, "%s: cannot set filter: %s", c->name, pcap_geterr(c->p));
		return -1;
	}
	return 0;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Draining (non-blocking reads): nothing is ready. The kernel hands over a
 * partly filled buffer block only when its timeout expires, so the buffer
 * counts as empty only after twice that timeout without a packet, and only
 * if the kernel counted no new packet meanwhile (one that arrived late in
 * the wait may still sit in a block not yet handed over): then it waits
 * again, at most DRAIN_ROUNDS times. */
#define DRAIN_ROUNDS 10

static int drain_wait(struct capture *c, struct pcap_pkthdr **h, const u_char **data)
{
	uint64_t wait = 2u * (uint64_t)(c->timeout_ms > 0 ? c->timeout_ms : 100) + 20u;
	const struct timespec nap = {0, 5 * 1000 * 1000};
	struct pcap_stat st;
	unsigned before = pcap_stats(c->p, &st) == 0 ? st.ps_recv : 0;
	int rc = 0;
	for (int round = 0; round < DRAIN_ROUNDS && rc == 0 && !c->stop; round++) {
		uint64_t until = mono_ms() + wait;
		while (rc == 0 && !c->stop && mono_ms() < until) {
			nanosleep(&nap, NULL);
			rc = pcap_next_ex(c->p, h, data);
		}
		if (rc != 0 || pcap_stats(c->p, &st) != 0 || st.ps_recv == before)
			break;
		before = st.ps_recv;
	}
	return rc;
}

enum capture_status capture_next(struct capture *c, struct capture_pkt *pkt, char *err,
                                 size_t errlen)
{
	struct pcap_pkthdr *h;
	const u_char *data;
	if (c->stop)
		return CAPTURE_STOPPED;
	int rc = pcap_next_ex(c->p, &h, &data);
	if (rc == PCAP_ERROR_BREAK && c->draining && !c->stop)
		rc = pcap_next_ex(c->p, &h, &data); /* the break of the stop that began the drain */
	if (rc == 0 && c->draining)
		rc = drain_wait(c, &h, &data);
	switch (rc) {
	case 1:
		pkt->ts_us = (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec;
		pkt->caplen = h->caplen;
		pkt->wirelen = h->len < h->caplen ? h->caplen : h->len;
		pkt->data = data;
		c->packets++;
		c->bytes += pkt->wirelen;
		return CAPTURE_PACKET;
	case 0:
		return c->stop || c->draining ? CAPTURE_STOPPED : CAPTURE_TIMEOUT;
	case PCAP_ERROR_BREAK:
		return c->live || c->stop ? CAPTURE_STOPPED : CAPTURE_EOF;
	default:
		/* A signal that stops a blocking read (a pipe on standard input)
		 * makes the read fail with EINTR: that is a stop, not damage. */
		if (c->stop)
			return CAPTURE_STOPPED;
		set_err(err, errlen, "%s", pcap_geterr(c->p));
		return CAPTURE_BROKEN;
	}
}

void capture_stop(struct capture *c)
{
	c->stop = 1;
	if (c->p)
		pcap_breakloop(c->p);
}

void capture_drain(struct capture *c)
{
	if (!c->live || !c->p)
		return;
	char ebuf[PCAP_ERRBUF_SIZE];
	/* Blocking reads could wait for ever on a quiet interface: the
	 * kernel's block timeout does not fire on an empty block. */
	pcap_setnonblock(c->p, 1, ebuf);
	c->draining = true;
	c->stop = 0;
}

bool capture_kernel_stats(struct capture *c, uint64_t *received, uint64_t *dropped,
                          uint64_t *if_dropped)
{
	struct pcap_stat st;
	if (!c->live || !c->p || pcap_stats(c->p, &st) != 0)
		return false;
	*received = st.ps_recv;
	*dropped = st.ps_drop;
	*if_dropped = st.ps_ifdrop;
	return true;
}

long capture_damage_offset(struct capture *c)
{
	if (c->live || !c->path)
		return -1;
	char ebuf[PCAP_ERRBUF_SIZE];
	pcap_t *p = pcap_open_offline(c->path, ebuf);
	if (!p)
		return -1;
	struct pcap_pkthdr *h;
	const u_char *data;
	uint64_t n = 0;
	while (n < c->packets && pcap_next_ex(p, &h, &data) == 1)
		n++;
	FILE *f = pcap_file(p);
	long at = n == c->packets && f ? ftell(f) : -1;
	pcap_close(p);
	return at;
}

void capture_close(struct capture *c)
{
	if (c->p)
		pcap_close(c->p); /* closes the file too: then its buffer can go */
	c->p = NULL;
	free(c->iobuf);
	c->iobuf = NULL;
}

const char *capture_dlt_name(int dlt)
{
	const char *n = pcap_datalink_val_to_name(dlt);
	return n ? n : "unknown";
}

const char *capture_lib_version(void) { return pcap_lib_version(); }
