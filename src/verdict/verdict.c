/*
 * verdict.c - see verdict.h.
 *
 * Severity follows what the technique's procedure examples show (see
 * docs/detection.md): anything but the port's own protocol on a
 * well-known port (below 1024: 443, 80, 53, 25, ...) is worse than a web
 * protocol on an unassigned high port, and a protocol that lives on one
 * fixed port (RDP, SMB, DNS) found elsewhere is worse still.
 */
#include "verdict/verdict.h"

#include <string.h>

const char *finding_kind_name(enum finding_kind k)
{
	static const char *const names[FINDING__COUNT] = {
		[FINDING_NONE] = "none",
		[FINDING_OFF_PORT] = "off-port",
		[FINDING_UNEXPECTED] = "unexpected",
		[FINDING_UNKNOWN] = "unknown",
		[FINDING_FAKE_TLS] = "fake-tls",
		[FINDING_POLICY] = "policy",
	};
	return (unsigned)k < FINDING__COUNT ? names[k] : "?";
}

/* Protocols that run on any port in ordinary use (web servers on 3000,
 * 8081, 9443, ...): away from their ports they are the lowest severity. */
static bool is_web(const char *name)
{
	return strcmp(name, "http") == 0 || strcmp(name, "http2") == 0 ||
	       strcmp(name, "tls") == 0 || strcmp(name, "quic") == 0 || strcmp(name, "dtls") == 0;
}

/* Protocols bound to one well-known port, whose presence elsewhere is
 * itself suspicious (C0018: RDP on 28035; DNS tunnels on odd ports). */
static bool is_fixed(const char *name)
{
	return strcmp(name, "rdp") == 0 || strcmp(name, "smb") == 0 || strcmp(name, "dns") == 0;
}

const char *verdict_reason_name(enum verdict_reason r)
{
	static const char *const names[VR__COUNT] = {
		[VR_NONE] = "none",
		[VR_EXPECTED] = "expected",
		[VR_CARRIER] = "inside-carrier",
		[VR_ANYWHERE] = "any-port",
		[VR_UNEXPECTED] = "unexpected",
		[VR_OFF_PORT] = "off-port",
		[VR_MIDSTREAM] = "midstream",
		[VR_FAKE_TLS] = "fake-tls",
		[VR_UNKNOWN] = "unknown",
		[VR_UNKNOWN_NOT_OPAQUE] = "unknown-not-opaque",
		[VR_UNKNOWN_NO_ENTRY] = "unknown-no-entry",
		[VR_UNKNOWN_SILENT] = "unknown-silent",
	};
	return (unsigned)r < VR__COUNT ? names[r] : "?";
}

uint8_t verdict_off_port_severity(int proto)
{
	const char *name = ident_registry[proto]->name;
	return is_fixed(name) ? 1 : is_web(name) ? 3 : 2;
}

bool verdict_reason_judgeable(enum verdict_reason r)
{
	return r != VR_MIDSTREAM && r != VR_UNKNOWN_SILENT && r != VR_NONE;
}

static uint8_t clamp_conf(int c) { return (uint8_t)(c < 5 ? 5 : c > 100 ? 100 : c); }

void verdict_judge(const struct ports *p, const struct verdict_input *in, struct finding *f)
{
	memset(f, 0, sizeof *f);
	const struct proto_set *exp = ports_expected(p, in->transport, in->server_port);
	f->expected = exp;
	int guess_penalty = in->orientation_guessed ? 15 : 0;
	bool well_known = in->server_port < 1024;

	if (in->proto >= 0) {
		int conf = in->ev ? in->ev->confidence : 50;
		if (exp && proto_set_has(exp, in->proto)) {
			f->reason = VR_EXPECTED;
			return; /* where it belongs */
		}
		const char *carrier = ident_registry[in->proto]->carrier;
		int carrier_idx = carrier ? ident_find(carrier) : -1;
		if (exp && carrier_idx >= 0 && proto_set_has(exp, carrier_idx)) {
			f->reason = VR_CARRIER;
			return; /* inside the protocol the port expects */
		}
		if (!exp && ports_anywhere(p, in->transport, in->proto)) {
			f->reason = VR_ANYWHERE;
			return; /* a protocol that picks its ports (tcp/any entry) */
		}
		if (exp) {
			f->kind = FINDING_UNEXPECTED;
			f->reason = VR_UNEXPECTED;
			f->severity = well_known ? 1 : 2;
		} else {
			f->kind = FINDING_OFF_PORT;
			f->reason = VR_OFF_PORT;
			f->severity = verdict_off_port_severity(in->proto);
		}
		f->confidence = clamp_conf(conf - guess_penalty);
	} else if (!in->start_seen) {
		f->reason = VR_MIDSTREAM;
		return; /* the middle of a stream proves nothing */
	} else if (in->fake_tls) {
		f->kind = FINDING_FAKE_TLS;
		f->reason = VR_FAKE_TLS;
		f->severity = 1;
		f->confidence = clamp_conf(80 - guess_penalty);
	} else if (exp && (in->client_spoke || in->server_spoke) &&
	           (in->unknown_all || in->payload == IDENT_PAYLOAD_OPAQUE)) {
		/* Text or structured binary is plausibly a protocol offport does
		 * not know yet: not a finding unless --unknown all. */
		f->kind = FINDING_UNKNOWN;
		f->reason = VR_UNKNOWN;
		bool both = in->client_spoke && in->server_spoke;
		f->severity = well_known ? (both ? 1 : 2) : (both ? 2 : 3);
		f->confidence = clamp_conf((both ? 70 : 45) - guess_penalty);
	} else {
		f->reason = !exp                                         ? VR_UNKNOWN_NO_ENTRY
		            : (in->client_spoke || in->server_spoke) ? VR_UNKNOWN_NOT_OPAQUE
		                                                     : VR_UNKNOWN_SILENT;
		return;
	}
	f->sid = OFFPORT_SID_BASE + (uint32_t)f->kind;
}

int verdict_apply_policy(const struct policy *pol, const struct policy_flow *pf,
                         const struct verdict_input *in, struct finding *f)
{
	if (!pol || !verdict_reason_judgeable(f->reason))
		return -1;
	int rule = policy_match(pol, pf);
	enum policy_action action;
	uint8_t severity = 0;
	if (rule >= 0) {
		const struct policy_rule_info *r = policy_rule(pol, (unsigned)rule);
		action = r->action;
		severity = r->severity;
	} else {
		switch (policy_default_action(pol)) {
		case POLICY_DEFAULT_ALLOW:
			action = POLICY_ALLOW;
			break;
		case POLICY_DEFAULT_ALERT:
			action = POLICY_ALERT;
			break;
		default:
			return -1;
		}
		rule = VERDICT_BY_DEFAULT;
	}
	if (action == POLICY_ALLOW) {
		f->kind = FINDING_NONE;
		f->sid = 0;
		f->severity = 0;
		f->confidence = 0;
		return rule;
	}
	if (f->kind == FINDING_NONE) {
		int guess_penalty = in->orientation_guessed ? 15 : 0;
		f->kind = FINDING_POLICY;
		f->sid = OFFPORT_SID_BASE + (uint32_t)FINDING_POLICY;
		if (in->proto >= 0) {
			f->severity = verdict_off_port_severity(in->proto);
			f->confidence = clamp_conf((in->ev ? in->ev->confidence : 50) - guess_penalty);
		} else {
			f->severity = in->server_port < 1024 ? 2 : 3;
			f->confidence = clamp_conf(50 - guess_penalty);
		}
	}
	if (severity)
		f->severity = severity;
	return rule;
}
