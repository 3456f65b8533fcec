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
#include "verdict/policy.h"
#include "verdict/ports.h"

enum finding_kind {
	FINDING_NONE = 0,
	FINDING_OFF_PORT,   /* known protocol, port without an entry */
	FINDING_UNEXPECTED, /* known protocol, port that expects others */
	FINDING_UNKNOWN,    /* unidentified bytes, port that expects protocols */
	FINDING_FAKE_TLS,   /* TLS record header without a TLS handshake */
	FINDING_POLICY,     /* a site policy rule alerts where the registry
	                       would not (verdict/policy.h) */
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

/* Why verdict_judge judged as it did: one value per way through it, so
 * that --explain can say it and the flow record can show it. */
enum verdict_reason {
	VR_NONE = 0,           /* not judged */
	VR_EXPECTED,           /* the port's entry lists the protocol */
	VR_CARRIER,            /* it rides inside a protocol the entry lists */
	VR_ANYWHERE,           /* no entry; the protocol is accepted on any
	                          such port (tcp/any, udp/any) */
	VR_UNEXPECTED,         /* finding: the entry lists other protocols */
	VR_OFF_PORT,           /* finding: a known protocol, no entry */
	VR_MIDSTREAM,          /* unidentified, seen from the middle */
	VR_FAKE_TLS,           /* finding */
	VR_UNKNOWN,            /* finding: unidentified bytes where the entry
	                          expects protocols */
	VR_UNKNOWN_NOT_OPAQUE, /* unidentified text or structured bytes on a
	                          port with an entry (--unknown all judges them) */
	VR_UNKNOWN_NO_ENTRY,   /* unidentified, on a port without an entry */
	VR_UNKNOWN_SILENT,     /* unidentified, no payload bytes kept */
	VR__COUNT
};

const char *verdict_reason_name(enum verdict_reason r);

/* False for the verdicts that rest on no evidence: unidentified bytes from
 * the middle of a connection, or no payload bytes kept. The site policy
 * leaves those alone too (verdict_apply_policy). */
bool verdict_reason_judgeable(enum verdict_reason r);

struct finding {
	enum finding_kind kind;
	enum verdict_reason reason;
	uint32_t sid;
	uint8_t severity;          /* 1 high, 2 medium, 3 low (Suricata's scale) */
	uint8_t confidence;        /* 0-100 */
	const struct proto_set *expected; /* protocols the port expects, or NULL */
};

/* Fills f; f->kind is FINDING_NONE when the flow belongs on its port. */
void verdict_judge(const struct ports *p, const struct verdict_input *in, struct finding *f);

/* The severity of a known protocol found on a port without an entry: a
 * protocol bound to one port (rdp, smb, dns) 1, a web protocol 3, the
 * others 2. Also the default of a policy alert on a known protocol. */
uint8_t verdict_off_port_severity(int proto);

/* verdict_apply_policy's answer when the policy's default line decided. */
#define VERDICT_BY_DEFAULT (-2)

/* The site policy over the registry's verdict f (from verdict_judge on
 * in): the first rule matching pf allows (f->kind becomes FINDING_NONE)
 * or alerts (a registry finding keeps its kind, with the rule's severity
 * when it sets one; otherwise the kind becomes FINDING_POLICY); with no
 * rule matching, the default line does the same, or leaves the registry's
 * verdict ("default registry"). f->reason keeps the registry's reason.
 * A verdict that rests on no evidence (verdict_reason_judgeable false) is
 * left as it is: a policy alerts on what was seen, not on a capture that
 * began mid-connection. Returns the deciding rule's index,
 * VERDICT_BY_DEFAULT, or -1 when the registry decided (pol NULL, no
 * evidence, or default registry and no rule matched). */
int verdict_apply_policy(const struct policy *pol, const struct policy_flow *pf,
                         const struct verdict_input *in, struct finding *f);

#endif
