/*
 * capture.h - packets from capture files and live interfaces, via libpcap.
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
	int dlt;               /* link type (DLT_ value) */
	bool live;
	volatile int stop;     /* set by capture_stop() */
	bool draining;         /* live: reading what was captured before the stop */
	int timeout_ms;        /* live: the kernel's block timeout */
	uint64_t packets;      /* packets returned by capture_next() */
	uint64_t bytes;        /* their wire lengths, summed */
};

struct capture_live_opts {
	int snaplen;           /* bytes kept per packet */
	bool promisc;
	int buffer_bytes;      /* kernel buffer, 0 = libpcap's default */
	int timeout_ms;        /* how long the kernel may hold packets back */
};

/* Open a file ("-" = standard input). Returns 0, or -1 with a message. */
int capture_open_file(struct capture *c, const char *path, char *err, size_t errlen);

/* Open a capture already open as a stdio stream (a pipe, or bytes in
 * memory through fmemopen), named name in messages. The capture owns f:
 * capture_close() closes it, as does a failure here (standard input
 * excepted). The damage offset is unknown for a stream (no path). */
int capture_open_stream(struct capture *c, FILE *f, const char *name, char *err, size_t errlen);

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

/* Live, after a stop: read on what the kernel already holds. capture_next()
 * then returns CAPTURE_STOPPED at the first timeout without a packet (the
 * buffer is empty) or at the next capture_stop(). */
void capture_drain(struct capture *c);

/* The kernel's counters for a live capture. Returns false when unavailable. */
bool capture_kernel_stats(struct capture *c, uint64_t *received, uint64_t *dropped,
                          uint64_t *if_dropped);

/* Byte offset in a capture file of the record after the c->packets read
 * so far: where a damaged file broke. -1 when unknown (standard input,
 * live). It reads the file again up to there, so that the reading itself
 * never asks the file for its position (a system call per packet). */
long capture_damage_offset(struct capture *c);

void capture_close(struct capture *c);

/* libpcap's name and description for a link type, for messages. */
const char *capture_dlt_name(int dlt);

/* libpcap's version string. */
const char *capture_lib_version(void);

#endif
