/*
 * proto_sunrpc.c - ONC RPC (RFC 5531; record marking over TCP, section 11),
 * with the programs it carries: portmapper/rpcbind, NFS, mountd, ...
 *
 *   TCP only: +-+------------------------------+
 *             |L| fragment length (31 bits)   |   L: last fragment
 *             +-+------------------------------+
 *   call:     xid | msg_type 0 | rpcvers 2 | prog | vers | proc |
 *             cred: flavor, length <= 400, body | verf: same
 *   reply:    xid | msg_type 1 | reply_stat 0 accepted / 1 denied |
 *             accepted: verf (flavor, length, body) | accept_stat 0..5
 *             denied:   reject_stat 0 (RPC_MISMATCH) / 1 (AUTH_ERROR)
 *
 * Why this strict: two zero/one words and a 2 are not much, so the
 * credential and verifier flavors must be defined ones with bounded lengths
 * that fit, the version and procedure small, and the server's reply must
 * carry the call's xid.
 */
#include "common/reader.h"
#include "identify/identify.h"
#include "identify/text_proto.h"

struct rpc_call {
	uint32_t xid, prog, vers, proc;
};

enum rpc_parse { RPC_BAD, RPC_SHORT, RPC_OK };

static bool rpc_flavor_ok(uint32_t f)
{
	return f <= 6 || (f >= 390003 && f <= 390009);
}

static bool rpc_auth(struct reader *r)
{
	uint32_t flavor = rd_be32(r), len = rd_be32(r);
	if (!rd_ok(r))
		return true; /* judged by the caller's rd_ok */
	if (!rpc_flavor_ok(flavor) || len > 400 || (len & 3))
		return false;
	rd_skip(r, len);
	return true;
}

/* The message body of direction d (after the record mark on TCP). */
static enum rpc_parse rpc_body(const struct ident_input *in, int d, struct reader *out)
{
	struct reader r;
	if (in->transport == IDENT_UDP) {
		if (!in->ndgrams[d])
			return RPC_SHORT;
		rd_init(out, in->data[d], dgram_first_len(in, d));
		return RPC_OK;
	}
	rd_init(&r, in->data[d], in->len[d]);
	uint32_t mark = rd_be32(&r);
	if (!rd_ok(&r))
		return RPC_SHORT;
	uint32_t flen = mark & 0x7fffffff;
	if (flen < 24 || flen > 1u << 24)
		return RPC_BAD;
	size_t have = rd_remaining(&r);
	*out = rd_sub(&r, have < flen ? have : flen);
	return RPC_OK;
}

static enum rpc_parse rpc_call_parse(struct reader *r, struct rpc_call *c)
{
	c->xid = rd_be32(r);
	uint32_t mt = rd_be32(r), rv = rd_be32(r);
	c->prog = rd_be32(r);
	c->vers = rd_be32(r);
	c->proc = rd_be32(r);
	if (!rd_ok(r))
		return RPC_SHORT;
	if (mt != 0 || rv != 2 || c->vers == 0 || c->vers > 64 || c->proc > 1024)
		return RPC_BAD;
	if (!rpc_auth(r) || !rpc_auth(r))
		return RPC_BAD;
	return rd_ok(r) ? RPC_OK : RPC_SHORT;
}

static enum rpc_parse rpc_reply_parse(struct reader *r, uint32_t *xid)
{
	*xid = rd_be32(r);
	uint32_t mt = rd_be32(r), stat = rd_be32(r);
	if (!rd_ok(r))
		return RPC_SHORT;
	if (mt != 1 || stat > 1)
		return RPC_BAD;
	if (stat == 0) {
		if (!rpc_auth(r))
			return RPC_BAD;
		uint32_t as = rd_be32(r);
		if (!rd_ok(r))
			return RPC_SHORT;
		return as <= 5 ? RPC_OK : RPC_BAD;
	}
	uint32_t rs = rd_be32(r);
	if (!rd_ok(r))
		return RPC_SHORT;
	return rs <= 1 ? RPC_OK : RPC_BAD;
}

static const char *rpc_prog_name(uint32_t p)
{
	switch (p) {
	case 100000: return "portmapper";
	case 100001: return "rstatd";
	case 100002: return "rusersd";
	case 100003: return "nfs";
	case 100004: return "ypserv";
	case 100005: return "mountd";
	case 100007: return "ypbind";
	case 100011: return "rquotad";
	case 100021: return "nlockmgr";
	case 100024: return "status";
	case 100227: return "nfs_acl";
	default: return NULL;
	}
}

static void rpc_evidence(struct ident_evidence *ev, const struct rpc_call *c)
{
	const char *nm = rpc_prog_name(c->prog);
	if (nm)
		ident_add_str(ev, "rpc_program", nm);
	else
		ident_add_u64(ev, "rpc_program", c->prog);
	ident_add_u64(ev, "rpc_version", c->vers);
	ident_add_u64(ev, "rpc_procedure", c->proc);
}

/* sunrpc_match past its cheap NO_MATCH tests. Out of line: the tests run
 * without this function's frame. */
__attribute__((noinline)) static enum ident_verdict
sunrpc_match_parse(const struct ident_input *in, struct ident_evidence *ev)
{
	struct reader cr, sr;
	struct rpc_call c = {0};
	enum rpc_parse pc = rpc_body(in, 0, &cr);
	if (pc == RPC_OK)
		pc = rpc_call_parse(&cr, &c);
	if (pc == RPC_BAD)
		return IDENT_NO_MATCH;
	if (pc == RPC_SHORT)
		return in->done[0] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
	uint32_t sxid = 0;
	enum rpc_parse ps = rpc_body(in, 1, &sr);
	if (ps == RPC_OK)
		ps = rpc_reply_parse(&sr, &sxid);
	if (ps == RPC_BAD || (ps == RPC_OK && sxid != c.xid))
		return IDENT_NO_MATCH;
	if (ps == RPC_SHORT) {
		if (!in->done[1])
			return IDENT_NEED_MORE;
		if (in->len[1])
			return IDENT_NO_MATCH;
	}
	rpc_evidence(ev, &c);
	ev->server_confirmed = ps == RPC_OK;
	ev->confidence = ps == RPC_OK ? 95 : 60;
	return IDENT_MATCH;
}

static enum ident_verdict sunrpc_match(const struct ident_input *in, struct ident_evidence *ev)
{
	/* UDP, the usual verdicts of sunrpc_match_parse from the call's first
	 * words, before it is parsed: too short for a call header (RPC_SHORT),
	 * or not a call (msg_type 0) of RPC version 2 (RPC_BAD). */
	if (in->transport == IDENT_UDP && !in->ndgrams[0]) /* rpc_body: RPC_SHORT */
		return in->done[0] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
	if (in->transport == IDENT_UDP) {
		struct reader r;
		uint8_t w[12];
		rd_init(&r, in->data[0], dgram_first_len(in, 0));
		if (!rd_has(&r, 24))
			return in->done[0] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
		for (size_t i = 4; i < 12; i++)
			(void)rd_peek_u8(&r, i, &w[i]);
		if (w[4] | w[5] | w[6] | w[7] | w[8] | w[9] | w[10] || w[11] != 2)
			return IDENT_NO_MATCH;
	}
	return sunrpc_match_parse(in, ev);
}

const struct ident_proto ident_sunrpc = {"sunrpc", "ONC RPC (RFC 5531)", IDENT_TCP | IDENT_UDP,
                                         sunrpc_match, NULL, NULL};
