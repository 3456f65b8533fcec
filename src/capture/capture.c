/*
 * capture.c - libpcap behind struct capture.
 *
 * Files are opened with microsecond timestamp precision: libpcap converts
 * nanosecond files itself, so every source hands out the same unit.
 *
 * Damaged files. libpcap says what went wrong but not where. Where is
 * found from the file's own framing (struct framing): a pcap file is a
 * 24-byte header then records (a 16-byte header giving the captured
 * length, then that many bytes); a pcapng file is blocks, each giving its
 * total length in its second word. libpcap reads records strictly in
 * order, so the record it failed on is the last one that starts before
 * the point where its reading stopped. A seekable file is framed again up
 * to that point when the damage is found; a stream that cannot seek (a
 * pipe on standard input) is read through a tap (fopencookie) that frames
 * the bytes as they come and remembers where the last records started.
 */
#define _GNU_SOURCE /* fopencookie */
#include "capture/capture.h"

#include <errno.h>
#include <fcntl.h>
#include <pcap/pcap.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

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

/* ---- framing ------------------------------------------------------------ */

/* Record starts remembered. A stream's tap frames up to a stdio buffer
 * (64 KiB) ahead of libpcap, and a record is at least 12 bytes (a pcapng
 * block; 16 for pcap): fewer than 5462 starts lie beyond libpcap's
 * position, so the start before it is always still here. */
#define FRAMING_STARTS 8192

enum framing_fmt { FMT_START, FMT_PCAP, FMT_PCAPNG, FMT_OTHER };

struct framing {
	uint64_t pos;        /* bytes framed */
	uint64_t cur;        /* where the record being framed starts */
	uint64_t next;       /* where the record after it starts (once its header is in) */
	uint8_t hdr[24];     /* the current record's first bytes */
	unsigned have;       /* of them, in hdr */
	bool in_header;      /* hdr is being filled; else the record's body is skipped */
	enum framing_fmt fmt;
	bool be;             /* the file's numbers are big-endian */
	unsigned rec_hdr;    /* pcap: record header bytes (16; 24 in Kuznetzov's format) */
	int len_swap;        /* pcap: caplen and len swapped: 0 no, 1 yes, 2 when caplen > len */
	bool stuck;          /* the current record cannot be framed: nothing after it */
	uint8_t head[64];    /* the file's first bytes, for messages */
	unsigned head_len;
	uint64_t nstarts;    /* record starts seen; the last FRAMING_STARTS of them below */
	uint64_t starts[FRAMING_STARTS];
};

static void framing_init(struct framing *fr)
{
	memset(fr, 0, offsetof(struct framing, starts));
	fr->in_header = true;
}

static uint32_t fr_u32(const struct framing *fr, unsigned at)
{
	const uint8_t *b = fr->hdr + at;
	return fr->be ? (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3]
	              : (uint32_t)b[3] << 24 | (uint32_t)b[2] << 16 | (uint32_t)b[1] << 8 | b[0];
}

static uint16_t fr_u16(const struct framing *fr, unsigned at)
{
	const uint8_t *b = fr->hdr + at;
	return (uint16_t)(fr->be ? b[0] << 8 | b[1] : b[1] << 8 | b[0]);
}

/* Bytes of the current record's header needed to frame it. */
static unsigned framing_want(const struct framing *fr)
{
	switch (fr->fmt) {
	case FMT_START:
		return fr->have < 4 ? 4 : fr->next == 24 ? 24 : 12; /* magic, then the rest */
	case FMT_PCAP:
		return fr->rec_hdr;
	default:
		return 8; /* pcapng: block type and total length */
	}
}

/* The current record's header is in (as far as framing_want asked): its
 * length, or 0 when more header is wanted, or -1 when it cannot be framed. */
static int64_t framing_length(struct framing *fr)
{
	if (fr->fmt == FMT_START && fr->have == 4) {
		static const uint8_t ng[4] = {0x0a, 0x0d, 0x0d, 0x0a};
		uint32_t le = (uint32_t)fr->hdr[3] << 24 | (uint32_t)fr->hdr[2] << 16 |
		              (uint32_t)fr->hdr[1] << 8 | fr->hdr[0];
		uint32_t be = (uint32_t)fr->hdr[0] << 24 | (uint32_t)fr->hdr[1] << 16 |
		              (uint32_t)fr->hdr[2] << 8 | fr->hdr[3];
		/* microsecond, nanosecond, Kuznetzov's (longer record headers):
		 * the pcap magic numbers libpcap reads */
		static const uint32_t magics[] = {0xa1b2c3d4u, 0xa1b23c4du, 0xa1b2cd34u};
		for (unsigned i = 0; i < sizeof magics / sizeof magics[0]; i++) {
			if (le == magics[i] || be == magics[i]) {
				fr->be = be == magics[i];
				fr->rec_hdr = magics[i] == 0xa1b2cd34u ? 24 : 16;
				fr->next = 24; /* marks pcap for framing_want */
				return 0;
			}
		}
		if (memcmp(fr->hdr, ng, 4) == 0)
			return 0; /* framing_want asks for 12 */
		return -1;
	}
	if (fr->fmt == FMT_START && fr->next == 24) { /* the pcap file header */
		uint16_t major = fr_u16(fr, 4), minor = fr_u16(fr, 6);
		/* as libpcap: which version's records have caplen and len swapped */
		fr->len_swap = major == 543 ? 1 : major == 2 && minor < 3 ? 1 : major == 2 && minor == 3 ? 2 : 0;
		fr->fmt = FMT_PCAP;
		return 24;
	}
	if (fr->fmt == FMT_START) { /* the first section header block */
		const uint8_t *bom = fr->hdr + 8;
		if (bom[0] == 0x1a && bom[1] == 0x2b && bom[2] == 0x3c && bom[3] == 0x4d)
			fr->be = true;
		else if (bom[0] == 0x4d && bom[1] == 0x3c && bom[2] == 0x2b && bom[3] == 0x1a)
			fr->be = false;
		else
			return -1;
		fr->fmt = FMT_PCAPNG;
	}
	if (fr->fmt == FMT_PCAP) {
		uint32_t caplen = fr_u32(fr, 8), len = fr_u32(fr, 12);
		if (fr->len_swap == 1 || (fr->len_swap == 2 && caplen > len))
			caplen = len;
		return (int64_t)fr->rec_hdr + caplen;
	}
	/* pcapng: libpcap reads every block's length in the first section's
	 * byte order, a later section header's too (it then refuses a change). */
	uint32_t total = fr_u32(fr, 4);
	return total < 12 ? -1 : (int64_t)total;
}

static void framing_feed(struct framing *fr, const uint8_t *p, size_t n)
{
	if (fr->head_len < sizeof fr->head) {
		size_t k = sizeof fr->head - fr->head_len < n ? sizeof fr->head - fr->head_len : n;
		memcpy(fr->head + fr->head_len, p, k);
		fr->head_len += (unsigned)k;
	}
	while (n && !fr->stuck) {
		if (!fr->in_header) { /* a record's body */
			uint64_t left = fr->next - fr->pos;
			size_t k = left < n ? (size_t)left : n;
			fr->pos += k;
			p += k;
			n -= k;
			if (fr->pos == fr->next) {
				fr->in_header = true;
				fr->have = 0;
			}
			continue;
		}
		if (fr->have == 0) {
			fr->cur = fr->pos;
			fr->starts[fr->nstarts++ % FRAMING_STARTS] = fr->pos;
		}
		unsigned want = framing_want(fr);
		size_t k = want - fr->have < n ? want - fr->have : n;
		memcpy(fr->hdr + fr->have, p, k);
		fr->have += (unsigned)k;
		fr->pos += k;
		p += k;
		n -= k;
		if (fr->have < want)
			continue;
		int64_t len = framing_length(fr);
		if (len < 0) {
			fr->stuck = true;
		} else if (len > 0) {
			fr->next = fr->cur + (uint64_t)len;
			if (fr->pos >= fr->next) { /* a record no longer than what was read of it */
				fr->have = 0;
			} else {
				fr->in_header = false;
			}
		}
	}
	fr->pos += n; /* stuck: the rest is not framed */
}

/* The start of the last record that begins before offset at. */
static long framing_start_before(const struct framing *fr, uint64_t at)
{
	uint64_t kept = fr->nstarts < FRAMING_STARTS ? fr->nstarts : FRAMING_STARTS;
	for (uint64_t i = 0; i < kept; i++) {
		uint64_t s = fr->starts[(fr->nstarts - 1 - i) % FRAMING_STARTS];
		if (s < at)
			return (long)s;
	}
	return at == 0 || fr->nstarts == 0 ? 0 : -1;
}

/* A seekable file: frames it again from its start up to offset at (at
 * least its first bytes, for messages). */
static bool framing_reread(struct framing *fr, FILE *f, long base, uint64_t at)
{
	uint8_t buf[16384];
	clearerr(f);
	if (fseek(f, base, SEEK_SET) != 0)
		return false;
	uint64_t upto = at > sizeof fr->head ? at : sizeof fr->head;
	while (fr->pos < upto) {
		size_t want = upto - fr->pos < sizeof buf ? (size_t)(upto - fr->pos) : sizeof buf;
		size_t got = fread(buf, 1, want, f);
		if (got == 0)
			break;
		framing_feed(fr, buf, got);
	}
	return fr->pos >= at;
}

/* ---- the tap: a stream that cannot seek --------------------------------- */

struct capture_tap {
	int fd;       /* read with read(2), which returns what a pipe holds at once; */
	FILE *inner;  /* without a descriptor, with fread from this stream */
	struct framing fr;
};

static ssize_t tap_read(void *cookie, char *buf, size_t n)
{
	struct capture_tap *t = cookie;
	ssize_t got;
	if (t->fd >= 0) {
		got = read(t->fd, buf, n);
	} else {
		size_t k = fread(buf, 1, n, t->inner);
		got = k ? (ssize_t)k : ferror(t->inner) ? -1 : 0;
	}
	/* A signal (SIGINT, SIGTERM) that interrupts the read fails it with
	 * EINTR, as it would stdio's own read: capture_next calls that a stop. */
	if (got > 0)
		framing_feed(&t->fr, (const uint8_t *)buf, (size_t)got);
	return got;
}

/* Only ftell: the position is the bytes read. */
static int tap_seek(void *cookie, off64_t *off, int whence)
{
	struct capture_tap *t = cookie;
	if (whence != SEEK_CUR || *off != 0) {
		errno = ESPIPE;
		return -1;
	}
	*off = (off64_t)t->fr.pos;
	return 0;
}

static int tap_close(void *cookie)
{
	struct capture_tap *t = cookie;
	int rc = t->inner != stdin ? fclose(t->inner) : 0;
	free(t);
	return rc;
}

/* ---- direct reading: ordinary pcap records in place --------------------- */

/* libpcap reads a file record by record: an fread of the 16-byte header,
 * an fread of the packet into its own buffer, each a locked stdio call
 * and a copy out of the stdio buffer (about a fifth of the whole time on
 * corpus_x, an eighth on the flood; docs/performance.md). For the
 * ordinary case, a classic pcap file (version 2.4, either byte order,
 * micro- or nanosecond) of a link type libpcap hands over unchanged, the
 * capture reads the records itself, in place in a buffer filled by large
 * reads (pread on the file's descriptor, at the capture's own offset), and
 * hands out pointers into it.
 *
 * Only records libpcap would hand over unchanged are taken this way: a
 * captured length within the file's snapshot length and libpcap's maximum
 * (beyond either libpcap cuts the packet or fails). Anything else -- such
 * a record, a partial record at the end, the end of the file, a read
 * error -- hands the reading back to libpcap for good: the file is sought
 * to that record's start, and libpcap reads on from there exactly as if
 * it had read everything before (it reads a savefile strictly in order,
 * from its FILE, and keeps no state between records). So what is not
 * ordinary, the damaged records and their messages and offsets included,
 * is libpcap's, and the ordinary records are bit for bit what libpcap
 * would have handed out (tests/unit/test_capture.c reads every test
 * capture both ways and compares). A BPF filter is applied with libpcap's
 * pcap_offline_filter, as pcap_next_ex would. Standard input that is a
 * pipe, pcapng and live captures are read by libpcap. */

/* Each read asks for this much: the buffer being parsed stays in the L2. */
enum { DIRECT_CHUNK = 1 << 17 };
/* libpcap's largest captured length for the link types taken here
 * (MAXIMUM_SNAPLEN); a longer record goes to libpcap. */
enum { DIRECT_MAX_CAPLEN = 262144, DIRECT_REC_HDR = 16 };

struct capture_direct {
	FILE *f;
	int fd;                 /* f's descriptor, read with pread; -1: read f */
	uint8_t *buf;           /* DIRECT_CHUNK + the largest record */
	size_t pos, end;        /* the bytes not yet handed out: buf[pos, end) */
	int64_t buf_off;        /* where buf[0] is in the file (an ftello offset) */
	uint32_t max_caplen;    /* min(snapshot length, DIRECT_MAX_CAPLEN) */
	bool swapped, nano;
	bool has_filter;
	struct bpf_program filter;
	struct pcap_pkthdr hdr; /* the last record handed out */
};

/* Link types whose records libpcap hands over exactly as they are in the
 * file; those with a pseudo-header libpcap byte-swaps (Linux cooked
 * capture's CAN frames, USB, NFLOG, ...) only from a file in this
 * machine's byte order. */
static bool direct_link_ok(int dlt, bool swapped)
{
	switch (dlt) {
	case DLT_EN10MB:
	case DLT_RAW:
	case DLT_IPV4:
	case DLT_IPV6:
	case DLT_PPP:
	case DLT_PPP_SERIAL:
	case DLT_PPP_ETHER:
	case DLT_C_HDLC:
		return true;
	case DLT_NULL:
	case DLT_LOOP:
	case DLT_LINUX_SLL:
	case DLT_LINUX_SLL2:
		return !swapped;
	default:
		return false;
	}
}

static uint32_t direct_u32(const uint8_t *p, bool swapped)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return swapped ? __builtin_bswap32(v) : v;
}

/* After libpcap opened f: reads the file header again and, for an ordinary
 * pcap file whose header libpcap read and nothing more, takes over the
 * reading. On any doubt leaves it to libpcap, with f where it was. */
static void direct_start(struct capture *c, FILE *f)
{
	int64_t after = ftello(f);
	bool lib_swapped = pcap_is_swapped(c->p) != 0;
	if (c->base < 0 || after != (int64_t)c->base + 24 || !direct_link_ok(c->dlt, lib_swapped))
		return;
	uint8_t h[24];
	if (fseeko(f, c->base, SEEK_SET) != 0 || fread(h, 1, sizeof h, f) != sizeof h) {
		clearerr(f);
		(void)fseeko(f, after, SEEK_SET);
		return;
	}
	uint32_t magic;
	memcpy(&magic, h, 4);
	bool swapped = magic == 0xd4c3b2a1u || magic == 0x4d3cb2a1u;
	bool nano = magic == 0xa1b23c4du || magic == 0x4d3cb2a1u;
	bool pcap = magic == 0xa1b2c3d4u || magic == 0xd4c3b2a1u || nano;
	uint16_t major, minor;
	memcpy(&major, h + 4, 2);
	memcpy(&minor, h + 6, 2);
	if (swapped) {
		major = __builtin_bswap16(major);
		minor = __builtin_bswap16(minor);
	}
	int snap = pcap_snapshot(c->p);
	struct capture_direct *d = NULL;
	if (pcap && major == 2 && minor == 4 && swapped == lib_swapped && snap > 0)
		d = calloc(1, sizeof *d);
	if (d)
		d->buf = malloc(DIRECT_CHUNK + DIRECT_REC_HDR + DIRECT_MAX_CAPLEN);
	if (!d || !d->buf) {
		free(d);
		(void)fseeko(f, after, SEEK_SET);
		return;
	}
	d->f = f;
	d->fd = fileno(f);
	d->buf_off = after;
	d->max_caplen = (uint32_t)snap < DIRECT_MAX_CAPLEN ? (uint32_t)snap : DIRECT_MAX_CAPLEN;
	d->swapped = swapped;
	d->nano = nano;
	c->direct = d;
}

static void direct_free(struct capture_direct *d)
{
	if (!d)
		return;
	if (d->has_filter)
		pcap_freecode(&d->filter);
	free(d->buf);
	free(d);
}

/* Gives the reading back to libpcap at the first byte not handed out.
 * 0, or -1 with a message if the file cannot be sought there. */
static int direct_hand_over(struct capture *c, char *err, size_t errlen)
{
	struct capture_direct *d = c->direct;
	int64_t at = d->buf_off + (int64_t)d->pos;
	c->direct = NULL;
	clearerr(d->f); /* libpcap reads the end, or the error, again itself */
	int rc = fseeko(d->f, at, SEEK_SET);
	if (rc != 0)
		set_err(err, errlen, "error reading dump file: cannot seek to byte %lld: %s",
		        (long long)at, strerror(errno));
	direct_free(d);
	return rc == 0 ? 0 : -1;
}

/* Moves what is left to the buffer's start and reads on. False at the end
 * of the file or on an error (libpcap meets either again). */
static bool direct_fill(struct capture_direct *d)
{
	size_t left = d->end - d->pos;
	if (d->pos > 0) {
		memmove(d->buf, d->buf + d->pos, left);
		d->buf_off += (int64_t)d->pos;
		d->pos = 0;
		d->end = left;
	}
	size_t n;
	if (d->fd >= 0) {
		/* pread at the capture's own offset: no copy through the stdio
		 * buffer, and the stream's position stays where it was until
		 * direct_hand_over seeks it */
		ssize_t r;
		do
			r = pread(d->fd, d->buf + left, DIRECT_CHUNK, (off_t)(d->buf_off + (int64_t)left));
		while (r < 0 && errno == EINTR);
		n = r > 0 ? (size_t)r : 0;
	} else {
		n = fread(d->buf + left, 1, DIRECT_CHUNK, d->f); /* bytes in memory (fmemopen) */
	}
	d->end += n;
	return n > 0;
}

/* The next record: 1 with *h and *data set, 0 when libpcap is to read it
 * (the reading has been handed back), -1 with a message (see
 * direct_hand_over). */
static int direct_next(struct capture *c, struct pcap_pkthdr **h, const uint8_t **data,
                       char *err, size_t errlen)
{
	struct capture_direct *d = c->direct;
	for (;;) {
		size_t avail = d->end - d->pos;
		if (avail >= DIRECT_REC_HDR) {
			const uint8_t *r = d->buf + d->pos;
			uint32_t caplen = direct_u32(r + 8, d->swapped);
			if (caplen > d->max_caplen)
				return direct_hand_over(c, err, errlen);
			if (avail - DIRECT_REC_HDR >= caplen) {
				/* as libpcap 1.10: the stamp's 32-bit fields are signed
				 * in this machine's byte order, unsigned once swapped */
				struct pcap_pkthdr *ph = &d->hdr;
				uint32_t sec = direct_u32(r, d->swapped), usec = direct_u32(r + 4, d->swapped);
				ph->ts.tv_sec = d->swapped ? (time_t)sec : (time_t)(int32_t)sec;
				ph->ts.tv_usec = d->swapped ? (suseconds_t)usec : (suseconds_t)(int32_t)usec;
				if (d->nano)
					ph->ts.tv_usec /= 1000;
				ph->caplen = caplen;
				ph->len = direct_u32(r + 12, d->swapped);
				d->pos += DIRECT_REC_HDR + caplen;
				if (d->has_filter && !pcap_offline_filter(&d->filter, ph, r + DIRECT_REC_HDR))
					continue;
				*h = ph;
				*data = r + DIRECT_REC_HDR;
				return 1;
			}
		}
		if (!direct_fill(d))
			return direct_hand_over(c, err, errlen);
	}
}

/* ---- opening ------------------------------------------------------------- */

static bool has(const uint8_t *b, unsigned n, const char *magic, unsigned mlen)
{
	return n >= mlen && memcmp(b, magic, mlen) == 0;
}

/* path as one shell word, for a command line the message suggests: as is
 * when every character is safe, else in single quotes (a quote as '\''). */
static void shell_word(const char *path, char *out, size_t outlen)
{
	bool safe = *path != 0;
	for (const char *c = path; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
		      strchr("_./+-:@%,=", *c)))
			safe = false;
	if (safe) {
		snprintf(out, outlen, "%s", path);
		return;
	}
	size_t o = 0;
	if (outlen < 3) {
		if (outlen)
			out[0] = 0;
		return;
	}
	out[o++] = '\'';
	for (const char *c = path; *c && o + 6 < outlen; c++) {
		if (*c == '\'') {
			memcpy(out + o, "'\\''", 4);
			o += 4;
		} else {
			out[o++] = *c;
		}
	}
	out[o++] = '\'';
	out[o] = 0;
}

/* What the first bytes of a file that is not pcap or pcapng look like:
 * compressed, an archive, text, JSON, or unknown. */
static void describe(const uint8_t *b, unsigned n, const char *file, char *out, size_t outlen)
{
	static const struct {
		const char *magic;
		unsigned len;
		const char *what, *tool;
	} packed[] = {
	    {"\x1f\x8b", 2, "gzip", "zcat"},           {"\xfd" "7zXZ\0", 6, "xz", "xzcat"},
	    {"BZh", 3, "bzip2", "bzcat"},              {"\x28\xb5\x2f\xfd", 4, "zstd", "zstdcat"},
	    {"\x04\x22\x4d\x18", 4, "lz4", "lz4cat"},
	};
	if (n == 0) {
		snprintf(out, outlen, "the file is empty (no bytes at all)");
		return;
	}
	for (unsigned i = 0; i < sizeof packed / sizeof packed[0]; i++) {
		if (has(b, n, packed[i].magic, packed[i].len)) {
			char word[4200];
			shell_word(file, word, sizeof word);
			snprintf(out, outlen, "%s-compressed; decompress it first, e.g. %s %s | offport -r -",
			         packed[i].what, packed[i].tool, word);
			return;
		}
	}
	if (has(b, n, "PK\x03\x04", 4)) {
		snprintf(out, outlen, "a zip archive; extract the capture from it first");
		return;
	}
	unsigned printable = 0, first = n;
	bool binary = false;
	for (unsigned i = 0; i < n; i++) {
		uint8_t c = b[i];
		if ((c >= 0x20 && c < 0x7f) || c == '\t' || c == '\n' || c == '\r' || c >= 0x80)
			printable++;
		else
			binary = true;
		if (first == n && c != ' ' && c != '\t' && c != '\n' && c != '\r')
			first = i;
	}
	if (!binary && printable == n) {
		char quote[44];
		unsigned q = 0;
		for (unsigned i = first; i < n && q < 40 && b[i] != '\n' && b[i] != '\r'; i++)
			quote[q++] = b[i] >= 0x20 && b[i] < 0x7f && b[i] != '\'' ? (char)b[i] : '.';
		quote[q] = '\0';
		if (first < n && (b[first] == '{' || b[first] == '['))
			snprintf(out, outlen,
			         "JSON text (it begins '%s'); offport reads pcap and pcapng files", quote);
		else
			snprintf(out, outlen,
			         "text (it begins '%s'); offport reads pcap and pcapng files, as tcpdump -w "
			         "writes them, not tcpdump's printed output",
			         quote);
		return;
	}
	char hex[16] = "";
	for (unsigned i = 0; i < n && i < 4; i++)
		snprintf(hex + (i ? 3 * i - 1 : 0), sizeof hex - 3 * i, "%s%02x", i ? " " : "", b[i]);
	snprintf(out, outlen, "not pcap or pcapng (it begins %s); offport reads pcap and pcapng files",
	         hex);
}

/* libpcap refused the file when opening it: an error when it could not
 * be read, else damage, with the offset where it broke and, for a file
 * that is not a capture at all, what it looks like. */
static int open_failure(struct capture *c, FILE *f, const char *why, char *err, size_t errlen)
{
	if (ferror(f)) {
		set_err(err, errlen, "%s: %s", c->name, why);
		return CAPTURE_OPEN_ERROR;
	}
	struct framing *fr = c->tap ? &c->tap->fr : malloc(sizeof *fr);
	long at = -1;
	if (fr) {
		if (c->tap) {
			long stop = ftell(f);
			if (stop >= 0)
				at = framing_start_before(fr, (uint64_t)stop);
		} else {
			framing_init(fr);
			long stop = ftell(f);
			if (stop >= 0 && c->base >= 0 && stop >= c->base &&
			    framing_reread(fr, f, c->base, (uint64_t)(stop - c->base)))
				at = framing_start_before(fr, (uint64_t)(stop - c->base));
		}
	}
	const uint8_t *b = fr ? fr->head : (const uint8_t *)"";
	unsigned n = fr ? fr->head_len : 0;
	/* pcap (microsecond, nanosecond, Kuznetzov's; either byte order) and
	 * pcapng; a file shorter than a magic number that begins like one is
	 * a truncated capture */
	static const uint8_t magics[][4] = {
	    {0xd4, 0xc3, 0xb2, 0xa1}, {0xa1, 0xb2, 0xc3, 0xd4}, {0x4d, 0x3c, 0xb2, 0xa1},
	    {0xa1, 0xb2, 0x3c, 0x4d}, {0x34, 0xcd, 0xb2, 0xa1}, {0xa1, 0xb2, 0xcd, 0x34},
	    {0x0a, 0x0d, 0x0d, 0x0a}};
	bool capture = false;
	for (unsigned i = 0; i < sizeof magics / sizeof magics[0] && n > 0; i++)
		capture = capture || memcmp(b, magics[i], n < 4 ? n : 4) == 0;
	if (capture) {
		/* a capture's magic number, then a damaged header (or too few bytes
		 * for a magic number) */
		if (at >= 0)
			set_err(err, errlen, "%s: damaged capture at byte offset %ld, before any packet: %s",
			        c->name, at, why);
		else
			set_err(err, errlen, "%s: damaged capture before any packet: %s", c->name, why);
	} else {
		char what[4608]; /* a path, in a hint */
		describe(b, n, c->path ? c->path : "FILE", what, sizeof what);
		set_err(err, errlen, "%s: not a capture, at byte offset 0: %s", c->name, what);
	}
	if (fr && !c->tap)
		free(fr);
	return CAPTURE_OPEN_DAMAGED;
}

/* capture_open_stream, with the file's path (NULL for a stream) and the
 * stdio buffer to read it with (NULL: one is taken for a tap), both owned
 * by the capture from here on. */
static int open_stream(struct capture *c, FILE *f, const char *name, const char *path,
                       char *iobuf, char *err, size_t errlen)
{
	static char stdin_buf[CAPTURE_IOBUF];
	static bool stdin_buffered;
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	memset(c, 0, sizeof *c);
	c->name = name;
	c->path = path;
	c->iobuf = iobuf;
	c->base = -1;

	/* A regular file (or bytes in memory) can be read again to find where
	 * it broke; anything else (a pipe, a terminal) goes through a tap. */
	struct stat st;
	int fd = fileno(f);
	long at = ftell(f);
	FILE *rf = f;
	if (at >= 0 && (fd < 0 || (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)))) {
		c->base = at;
	} else {
		struct capture_tap *t = malloc(sizeof *t);
		static const cookie_io_functions_t tap_io = {
		    .read = tap_read, .write = NULL, .seek = tap_seek, .close = tap_close};
		FILE *tf = t ? fopencookie(t, "r", tap_io) : NULL;
		if (tf) {
			t->fd = fd;
			t->inner = f;
			framing_init(&t->fr);
			c->tap = t;
			rf = tf;
			if (!c->iobuf)
				c->iobuf = malloc(CAPTURE_IOBUF);
		} else {
			free(t); /* read it untapped: no offset for its damage */
		}
	}
	if (rf == stdin) {
		if (!stdin_buffered)
			setvbuf(stdin, stdin_buf, _IOFBF, sizeof stdin_buf);
		stdin_buffered = true;
	} else if (c->iobuf) {
		setvbuf(rf, c->iobuf, _IOFBF, CAPTURE_IOBUF);
	}

	c->p = pcap_fopen_offline_with_tstamp_precision(rf, PCAP_TSTAMP_PRECISION_MICRO, ebuf);
	if (!c->p) {
		int rc = open_failure(c, rf, ebuf, err, errlen);
		if (rf != stdin)
			fclose(rf); /* the tap's close closes f, unless it is stdin */
		c->tap = NULL;
		free(c->iobuf);
		c->iobuf = NULL;
		return rc;
	}
	c->dlt = pcap_datalink(c->p);
	if (!c->tap)
		direct_start(c, rf);
	return 0;
}

int capture_open_stream(struct capture *c, FILE *f, const char *name, char *err, size_t errlen)
{
	return open_stream(c, f, name, NULL, NULL, err, errlen);
}

int capture_open_file(struct capture *c, const char *path, char *err, size_t errlen)
{
	memset(c, 0, sizeof *c);
	if (strcmp(path, "-") == 0)
		return open_stream(c, stdin, "(stdin)", NULL, NULL, err, errlen);
	FILE *f = fopen(path, "rb");
	if (!f) {
		set_err(err, errlen, "%s: %s", path, strerror(errno));
		return CAPTURE_OPEN_ERROR;
	}
	struct stat st;
	if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
		set_err(err, errlen, "%s: %s", path, strerror(EISDIR));
		fclose(f);
		return CAPTURE_OPEN_ERROR;
	}
	(void)posix_fadvise(fileno(f), 0, 0, POSIX_FADV_SEQUENTIAL);
	return open_stream(c, f, path, path, malloc(CAPTURE_IOBUF), err, errlen);
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
	if (rc == 0 && c->direct) {
		struct capture_direct *d = c->direct;
		if (d->has_filter)
			pcap_freecode(&d->filter);
		d->filter = prog; /* kept for pcap_offline_filter */
		d->has_filter = true;
	} else {
		pcap_freecode(&prog);
	}
	if (rc != 0) {
		set_err(err, errlen, "%s: cannot set filter: %s", c->name, pcap_geterr(c->p));
		return -1;
	}
	return 0;
}

int capture_check_filter(const char *expr, char *err, size_t errlen)
{
	struct bpf_program prog;
	if (!expr || !*expr)
		return 0;
	pcap_t *p = pcap_open_dead(DLT_EN10MB, 262144);
	if (!p) {
		set_err(err, errlen, "cannot check the filter expression: out of memory");
		return -1;
	}
	int rc = pcap_compile(p, &prog, expr, 1, PCAP_NETMASK_UNKNOWN);
	if (rc != 0)
		set_err(err, errlen, "bad filter expression: %s", pcap_geterr(p));
	else
		pcap_freecode(&prog);
	pcap_close(p);
	return rc == 0 ? 0 : -1;
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

/*
 * pcap_next_ex, keeping a packet that libpcap took off the ring just
 * before a pcap_breakloop (a tick or a stop, from a signal): its Linux
 * ring reader hands the packet to pcap_next_ex's callback, then sees the
 * break flag and returns PCAP_ERROR_BREAK all the same, and the packet,
 * already consumed, would be lost (a live burst under load lost one such
 * packet in five runs, and the read count fell short of the kernel's).
 * The callback is what sets *data, so a break with *data set carries a
 * packet. The break's cause stays in c->tick or c->stop for the next
 * call.
 */
static int next_ex(struct capture *c, struct pcap_pkthdr **h, const u_char **data)
{
	*data = NULL;
	int rc = pcap_next_ex(c->p, h, data);
	if (rc == PCAP_ERROR_BREAK && *data)
		rc = 1;
	return rc;
}

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
			rc = next_ex(c, h, data);
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
	int rc = 0;
	if (c->direct) {
		rc = direct_next(c, &h, &data, err, errlen);
		if (rc < 0)
			return CAPTURE_BROKEN;
	}
	if (rc == 0)
		rc = next_ex(c, &h, &data);
	if (rc == PCAP_ERROR_BREAK && c->tick && !c->stop) {
		c->tick = 0; /* a capture_tick(), not a stop */
		if (!c->draining)
			return CAPTURE_TIMEOUT;
		rc = next_ex(c, &h, &data);
	}
	if (rc == PCAP_ERROR_BREAK && c->draining && !c->stop)
		rc = next_ex(c, &h, &data); /* the break of the stop that began the drain */
	if (rc == 0 && c->draining)
		rc = drain_wait(c, &h, &data);
	switch (rc) {
	case 1:
		pkt->ts_us = (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec;
		pkt->caplen = h->caplen;
		pkt->wirelen = h->len < h->caplen ? h->caplen : h->len;
		c->short_wirelen += h->len < h->caplen;
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

void capture_tick(struct capture *c)
{
	if (c->p && c->live && !c->stop) {
		c->tick = 1;
		pcap_breakloop(c->p);
	}
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
	if (c->live || !c->p)
		return -1;
	FILE *f = pcap_file(c->p);
	long stop = f ? ftell(f) : -1; /* where libpcap's reading stopped */
	if (stop < 0)
		return -1;
	if (c->tap)
		return framing_start_before(&c->tap->fr, (uint64_t)stop);
	if (c->base < 0 || stop < c->base)
		return -1;
	struct framing *fr = malloc(sizeof *fr);
	if (!fr)
		return -1;
	framing_init(fr);
	uint64_t at = (uint64_t)(stop - c->base);
	long bad = framing_reread(fr, f, c->base, at) ? framing_start_before(fr, at) : -1;
	free(fr);
	return bad;
}

void capture_close(struct capture *c)
{
	direct_free(c->direct);
	c->direct = NULL;
	if (c->p)
		pcap_close(c->p); /* closes the file (and its tap) too: then its buffer can go */
	c->p = NULL;
	c->tap = NULL;
	free(c->iobuf);
	c->iobuf = NULL;
}

const char *capture_dlt_name(int dlt)
{
	const char *n = pcap_datalink_val_to_name(dlt);
	return n ? n : "unknown";
}

const char *capture_lib_version(void) { return pcap_lib_version(); }
