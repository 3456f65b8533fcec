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

static uint8_t clamp_conf(int c) { return (uint8_t)(c < 5 ? 5 : c > 100 ? 100 : c); }

void verdict_judge(const struct ports *p, const struct verdict_input *in, struct finding *f)
{
	memset(f, 0, sizeof *f);
	const struct proto_set *exp = ports_expected(p, in->transport, in->server_port);
	f->expected = exp;
	int guess_penalty = in->orientation_guessed ? 15 : 0;
	bool well_known = in->server_port < 1024;

	if (in->proto >= 0) {
		const char *name = ident_registry[in->proto]->name;
		int conf = in->ev ? in->ev->confidence : 50;
		if (exp && proto_set_has(exp, in->proto))
			return; /* where it belongs */
		const char *carrier = ident_registry[in->proto]->carrier;
		int carrier_idx = carrier ? ident_find(carrier) : -1;
		if (exp && carrier_idx >= 0 && proto_set_has(exp, carrier_idx))
			return; /* inside the protocol the port expects */
		if (!exp && ports_anywhere(p, in->transport, in->proto))
			return; /* a protocol that picks its ports (tcp/any entry) */
		if (exp) {
			f->kind = FINDING_UNEXPECTED;
			f->severity = well_known ? 1 : 2;
		} else {
			f->kind = FINDING_OFF_PORT;
			f->severity = is_fixed(name) ? 1 : is_web(name) ? 3 : 2;
		}
		f->confidence = clamp_conf(conf - guess_penalty);
	} else if (!in->start_seen) {
		return; /* the middle of a stream proves nothing */
	} else if (in->fake_tls) {
		f->kind = FINDING_FAKE_TLS;
		f->severity = 1;
		f->confidence = clamp_conf(80 - guess_penalty);
	} else if (exp && (in->client_spoke || in->server_spoke) &&
	           (in->unknown_all || in->payload == IDENT_PAYLOAD_OPAQUE)) {
		/* Text or structured binary is plausibly a protocol offport does
		 * not know yet: not a finding unless --unknown all. */
		f->kind = FINDING_UNKNOWN;
		bool both = in->client_spoke && in->server_spoke;
		f->severity = well_known ? (both ? 1 : 2) : (both ? 2 : 3);
		f->confidence = clamp_conf((both ? 70 : 45) - guess_penalty);
	} else {
		return;
	}
	f->sid = OFFPORT_SID_BASE + (uint32_t)f->kind;
}
