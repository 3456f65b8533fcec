/*
 * capture.h - packets from capture files and live interfaces, via libpcap
 * (the ordinary records of a classic pcap file are read in place by
 * capture.c itself, exactly as libpcap would hand them over).
 *
 * A capture source is one pcap or pcapng file ("-" reads standard input) or
 * one live interface, with an optional BPF filter expression compiled by
 * libpcap exactly as tcpdump compiles it. The link type is reported as
 * libpcap's DLT_ number; whether it is supported is decode's business.
 */
#ifndef OFFPORT_CAPTURE_CAPTURE_H
#define OFFPORT_CAPTURE_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct pcap; /* libpcap's handle */
struct capture_tap; /* a stream that cannot seek: its bytes as they are read */
struct capture_direct; /* ordinary pcap records read in place: see capture.c */

struct capture_pkt {
	uint64_t ts_us;        /* timestamp in microseconds since the epoch */
	uint32_t caplen;       /* bytes captured, at data */
	uint32_t wirelen;      /* bytes on the wire */
	const uint8_t *data;   /* valid until the next capture_next() */
};

struct capture {
	struct pcap *p;
	char *iobuf;           /* the file's stdio buffer, freed after the close */
	const char *name;      /* file path or interface name, for messages */
	const char *path;      /* the file's path; NULL for standard input and live */
	long base;             /* a seekable file: where the capture starts in it; else -1 */
	struct capture_tap *tap; /* a stream that cannot seek (a pipe): see capture.c */
	struct capture_direct *direct; /* while ordinary pcap records are read in place */
	int dlt;               /* link type (DLT_ value) */
	bool live;
	volatile int stop;     /* set by capture_stop() */
	bool draining;         /* live: reading what was captured before the stop */
	int timeout_ms;        /* live: the kernel's block timeout */
	volatile int tick;     /* live: set by capture_tick() */
	uint64_t packets;      /* packets returned by capture_next() */
	uint64_t bytes;        /* their wire lengths, summed */
	uint64_t short_wirelen; /* of those, records whose wire length was
	                           below their captured length (or 0): taken
	                           as the captured length */
};

struct capture_live_opts {
	int snaplen;           /* bytes kept per packet */
	bool promisc;
	int buffer_bytes;      /* kernel buffer, 0 = libpcap's default */
	int timeout_ms;        /* how long the kernel may hold packets back */
};

/* What opening a file returns besides 0. */
enum {
	CAPTURE_OPEN_ERROR = -1,   /* it cannot be read at all: missing, no permission,
	                            * a directory, a read error */
	CAPTURE_OPEN_DAMAGED = -2, /* its bytes are not a readable capture: not pcap or
	                            * pcapng (compressed, text, empty, ...), or a damaged
	                            * file header; the message names the file, the byte
	                            * offset and, when it can tell, what the file is */
};

/* Open a file ("-" = standard input). Returns 0, or CAPTURE_OPEN_ERROR or
 * CAPTURE_OPEN_DAMAGED with a message naming the file. */
int capture_open_file(struct capture *c, const char *path, char *err, size_t errlen);

/* Open a capture already open as a stdio stream (a pipe, or bytes in
 * memory through fmemopen), named name in messages; returns as
 * capture_open_file. The capture owns f: capture_close() closes
 * it, as does a failure here (standard input excepted). A stream that
 * cannot seek (a pipe) is read through a tap that follows its record
 * framing, so that the damage offset is known for it too. */
int capture_open_stream(struct capture *c, FILE *f, const char *name, char *err, size_t errlen);

/* Checks that a BPF filter expression compiles (for Ethernet), without a
 * capture: when no input could be opened. 0, or -1 with a message. */
int capture_check_filter(const char *expr, char *err, size_t errlen);

/* Open a live interface. Returns 0, or -1 with a message. */
int capture_open_live(struct capture *c, const char *ifname, const struct capture_live_opts *o,
                      char *err, size_t errlen);

/* Compile and install a BPF filter (NULL or "" = none). 0, or -1 with a message. */
int capture_set_filter(struct capture *c, const char *expr, char *err, size_t errlen);

enum capture_status {
	CAPTURE_PACKET = 1,    /* *pkt filled */
	CAPTURE_EOF = 0,       /* end of file */
	CAPTURE_TIMEOUT = 2,   /* live: no packet within the timeout; call again */
	CAPTURE_BROKEN = -1,   /* read error or damaged file: message in err */
	CAPTURE_STOPPED = -2,  /* capture_stop() was called */
};

enum capture_status capture_next(struct capture *c, struct capture_pkt *pkt, char *err,
                                 size_t errlen);

/* Async-signal-safe: make a blocked capture_next() return CAPTURE_STOPPED. */
void capture_stop(struct capture *c);

/* Live: makes a blocking read return CAPTURE_TIMEOUT now (async-signal
 * safe; a timer signal calls it). On a quiet interface a read waits for
 * the kernel to hand over a buffer block, which its timeout does only for
 * a block holding packets: without a tick nothing would time flows out,
 * flush the output or take a SIGHUP until the next packet. */
void capture_tick(struct capture *c);

/* Live, after a stop: read on what the kernel already holds. capture_next()
 * then returns CAPTURE_STOPPED at the first timeout without a packet (the
 * buffer is empty) or at the next capture_stop(). */
void capture_drain(struct capture *c);

/* The kernel's counters for a live capture. Returns false when unavailable. */
bool capture_kernel_stats(struct capture *c, uint64_t *received, uint64_t *dropped,
                          uint64_t *if_dropped);

/* After CAPTURE_BROKEN: the byte offset (from the start of the capture)
 * of the record (pcap) or block (pcapng) that libpcap failed on, found
 * from the file's own framing: the last record that starts before the
 * point where libpcap's reading stopped. -1 when unknown (live). A
 * seekable file is read again up to there, so that the reading itself
 * never asks the file for its position; a pipe's tap has followed the
 * framing as the bytes came. */
long capture_damage_offset(struct capture *c);

void capture_close(struct capture *c);

/* libpcap's name and description for a link type, for messages. */
const char *capture_dlt_name(int dlt);

/* libpcap's version string. */
const char *capture_lib_version(void);

#endif
