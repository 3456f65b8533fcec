/*
 * verdict.h - the T1571 decision: does a flow's protocol belong on its
 * server port?
 *
 * Two halves (offport(8), DETECTION):
 *   off-port    a protocol identified on a port without an entry (HTTP on
 *               1224, SSH on 6789);
 *   unexpected  a protocol identified on a port whose entry lists other
 *               protocols (SSH or HTTP on 443, TLS on 8088, which expects
 *               http);
 *   unknown     bytes no identifier recognises, after both sides spoke or
 *               the inspection budget ran out, on a port that lists
 *               protocols (a custom binary protocol on 443, non-DNS on 53),
 *               when the flow was seen from its start: the middle of a
 *               stream (a capture that began mid-connection) is not
 *               evidence of anything;
 *   fake-tls    a TLS record header in front of bytes that are not a TLS
 *               handshake (or a first record that is not a handshake), on
 *               any port (FakeTLS C2), seen from the start.
 * A protocol offport does not identify on a port without an entry is no
 * finding: not knowing a protocol is not evidence against it.
 */
#ifndef OFFPORT_VERDICT_VERDICT_H
#define OFFPORT_VERDICT_VERDICT_H

#include <stdbool.h>
#include <stdint.h>

#include "identify/identify.h"
#include "verdict/ports.h"

enum finding_kind {
	FINDING_NONE = 0,
	FINDING_OFF_PORT,   /* known protocol, port without an entry */
	FINDING_UNEXPECTED, /* known protocol, port that expects others */
	FINDING_UNKNOWN,    /* unidentified bytes, port that expects protocols */
	FINDING_FAKE_TLS,   /* TLS record header without a TLS handshake */
	FINDING__COUNT
};

/* Stable Suricata-style signature ids, one per kind. */
#define OFFPORT_GID 1
#define OFFPORT_SID_BASE 9157100u

const char *finding_kind_name(enum finding_kind k);

struct verdict_input {
	int proto;                 /* ident_registry index, -1 = unidentified */
	const struct ident_evidence *ev;
	enum ports_transport transport;
	uint16_t server_port;
	bool orientation_guessed;
	bool client_spoke, server_spoke; /* payload seen per direction */
	bool fake_tls;             /* ident_tls_fake() said so */
	bool start_seen;           /* the flow's bytes were seen from their
	                              start (TCP: the client's SYN; UDP: always) */
	enum ident_payload payload; /* unidentified: what the first message
	                               looks like (identify/payload.c) */
	bool unknown_all;          /* --unknown all: every unidentified payload
	                              counts, not only opaque bytes */
};

struct finding {
	enum finding_kind kind;
	uint32_t sid;
	uint8_t severity;          /* 1 high, 2 medium, 3 low (Suricata's scale) */
	uint8_t confidence;        /* 0-100 */
	const struct proto_set *expected; /* protocols the port expects, or NULL */
};

/* Fills f; f->kind is FINDING_NONE when the flow belongs on its port. */
void verdict_judge(const struct ports *p, const struct verdict_input *in, struct finding *f);

#endif
