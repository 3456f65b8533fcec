/*
 * proto_kerberos.c - Kerberos V5 (RFC 4120; over TCP with a 4-byte length,
 * section 7.2.2), DER encoded (X.690).
 *
 *   [TCP: 4-byte big-endian length, top bit 0]
 *   APPLICATION tag: 6a AS-REQ(10) 6b AS-REP(11) 6c TGS-REQ(12)
 *                    6d TGS-REP(13) 7e KRB-ERROR(30)       length = the rest
 *     30 LL  SEQUENCE
 *       KDC-REQ:   a1 { 02 01 05 } pvno   a2 { 02 01 msg-type } ...
 *                  a3 padata (opt)  a4 req-body { ... a2 realm (1b GeneralString) ... }
 *       KDC-REP/KRB-ERROR: a0 { 02 01 05 } pvno  a1 { 02 01 msg-type } ...
 *                  KDC-REP a3 crealm; KRB-ERROR a9 realm
 *
 * msg-type must agree with the application tag. A request is answered by
 * the matching reply (AS-REQ: AS-REP or KRB-ERROR; TGS-REQ: TGS-REP or
 * KRB-ERROR).
 *
 * A TCP server direction seen without its start (midstream: the capture
 * missed its SYN and the bytes may begin inside a reply, e.g. after a lost
 * first segment of a long AS-REP) neither confirms nor contradicts: the
 * client's complete request decides alone.
 */
#include "common/reader.h"
#include "identify/ber.h"
#include "identify/identify.h"

static bool krb_tlv(struct reader *r, uint8_t *tag, struct reader *val, size_t *declared)
{
	size_t len;
	if (!ber_header(r, tag, &len, 3))
		return false;
	if (declared)
		*declared = len;
	size_t have = rd_remaining(r);
	*val = rd_sub(r, len < have || !declared ? len : have);
	return rd_ok(r);
}

struct krb_msg {
	uint8_t type;
	const uint8_t *realm;
	size_t realmlen;
};

enum krb_res { KRB_BAD, KRB_SHORT, KRB_OK };

/* krb_tlv for an element with tag want; partial: r holds only the first
 * bytes of the message, and an element they end inside is KRB_SHORT, not
 * KRB_BAD (its rest may come: NO_MATCH is final). */
static enum krb_res krb_elem(struct reader *r, uint8_t want, struct reader *val, bool partial)
{
	struct reader t = *r;
	uint8_t tag, l0;
	if (krb_tlv(r, &tag, val, NULL))
		return tag == want ? KRB_OK : KRB_BAD;
	if (!partial || (rd_peek_u8(&t, 0, &tag) && tag != want))
		return KRB_BAD;
	if (rd_peek_u8(&t, 1, &l0) && l0 >= 0x80 && ((l0 & 0x7f) == 0 || (l0 & 0x7f) > 3))
		return KRB_BAD;
	return KRB_SHORT;
}

/* [n] { INTEGER } */
static enum krb_res krb_ctx_int(struct reader *r, uint8_t ctx, uint32_t *v, bool partial)
{
	struct reader e, i;
	enum krb_res res = krb_elem(r, 0xa0 | ctx, &e, partial);
	if (res != KRB_OK)
		return res;
	if ((res = krb_elem(&e, 0x02, &i, false)) != KRB_OK)
		return res;
	if (rd_remaining(&i) == 0 || rd_remaining(&i) > 4)
		return KRB_BAD;
	*v = 0;
	while (rd_remaining(&i))
		*v = *v << 8 | rd_u8(&i);
	return KRB_OK;
}

/* Parses a message in r; complete: r holds all of it (else only the
 * first bytes are checked). */
static enum krb_res krb_parse(struct reader *r, bool complete, struct krb_msg *k)
{
	uint8_t app, tag;
	struct reader body, seq;
	size_t declared;
	if (!rd_has(r, 16))
		return complete ? KRB_BAD : KRB_SHORT;
	if (!krb_tlv(r, &app, &body, &declared))
		return KRB_BAD;
	if (complete && (declared != rd_remaining(&body) || rd_remaining(r) != 0))
		return KRB_BAD;
	if (app != 0x6a && app != 0x6b && app != 0x6c && app != 0x6d && app != 0x7e)
		return KRB_BAD;
	if (!krb_tlv(&body, &tag, &seq, &declared) || tag != 0x30)
		return KRB_BAD;
	bool req = app == 0x6a || app == 0x6c;
	uint32_t pvno = 0, mt = 0;
	enum krb_res res = krb_ctx_int(&seq, req ? 1 : 0, &pvno, !complete);
	if (res == KRB_OK && pvno != 5)
		return KRB_BAD;
	if (res == KRB_OK)
		res = krb_ctx_int(&seq, req ? 2 : 1, &mt, !complete);
	if (res != KRB_OK)
		return res;
	if (mt != (uint32_t)(app & 0x1f))
		return KRB_BAD;
	k->type = (uint8_t)mt;
	k->realm = NULL;
	k->realmlen = 0;
	/* The realm: KDC-REQ req-body [2], KDC-REP crealm [3], KRB-ERROR [9]. */
	while (rd_remaining(&seq) > 0) {
		struct reader e;
		if (!krb_tlv(&seq, &tag, &e, NULL))
			break;
		struct reader s = e, g;
		uint8_t t2;
		if (req && tag == 0xa4) {
			struct reader rb;
			if (!krb_tlv(&s, &t2, &rb, NULL) || t2 != 0x30)
				break;
			while (rd_remaining(&rb) > 0) {
				struct reader f;
				if (!krb_tlv(&rb, &t2, &f, NULL))
					break;
				if (t2 == 0xa2) {
					s = f;
					tag = 0xff;
					break;
				}
			}
			if (tag != 0xff)
				break;
		} else if (!((!req && app != 0x7e && tag == 0xa3) || (app == 0x7e && tag == 0xa9))) {
			continue;
		}
		if (krb_tlv(&s, &t2, &g, NULL) && t2 == 0x1b && rd_printable(&g, rd_remaining(&g))) {
			k->realmlen = rd_remaining(&g);
			k->realm = rd_bytes(&g, k->realmlen);
		}
		break;
	}
	return KRB_OK;
}

static enum krb_res krb_first(const struct ident_input *in, int d, struct krb_msg *k)
{
	struct reader r;
	rd_init(&r, in->data[d], in->len[d]);
	if (in->transport == IDENT_UDP) {
		if (in->ndgrams[d] == 0)
			return KRB_SHORT;
		struct reader m = rd_sub(&r, in->dgram_len[d][0]);
		return krb_parse(&m, !in->truncated[d], k);
	}
	if (!rd_has(&r, 4))
		return in->done[d] && in->len[d] ? KRB_BAD : KRB_SHORT;
	uint32_t len = rd_be32(&r);
	if (len < 16 || len > 0x7fffffff)
		return KRB_BAD;
	bool complete = rd_has(&r, len);
	struct reader m = rd_sub(&r, complete ? len : rd_remaining(&r));
	enum krb_res res = krb_parse(&m, complete, k);
	if (res == KRB_SHORT && in->done[d])
		return KRB_BAD;
	return res;
}

static const char *krb_name(uint8_t t)
{
	switch (t) {
	case 10: return "AS-REQ";
	case 11: return "AS-REP";
	case 12: return "TGS-REQ";
	case 13: return "TGS-REP";
	default: return "KRB-ERROR";
	}
}

/* UDP: krb_first's KRB_BAD from the first datagram's first byte, before
 * the parse: a whole datagram shorter than 16 bytes, or an APPLICATION
 * tag that is none of the five messages. */
static bool krb_udp_quick_bad(const struct ident_input *in, int d)
{
	if (in->transport != IDENT_UDP || in->ndgrams[d] == 0)
		return false;
	struct reader r, m;
	uint8_t app;
	rd_init(&r, in->data[d], in->len[d]);
	m = rd_sub(&r, in->dgram_len[d][0]);
	if (!rd_has(&m, 16))
		return !in->truncated[d];
	(void)rd_peek_u8(&m, 0, &app);
	return app != 0x6a && app != 0x6b && app != 0x6c && app != 0x6d && app != 0x7e;
}

/* kerberos_match past its cheap NO_MATCH tests. Out of line: the tests run
 * without this function's frame. */
__attribute__((noinline)) static enum ident_verdict
kerberos_match_parse(const struct ident_input *in, struct ident_evidence *ev)
{
	struct krb_msg c = {0}, s = {0};
	enum krb_res rc = krb_first(in, 0, &c);
	if (rc == KRB_BAD)
		return IDENT_NO_MATCH;
	enum krb_res rs = in->len[1] ? krb_first(in, 1, &s) : KRB_SHORT;
	bool server_unknown = false;
	if (rs == KRB_BAD && in->transport == IDENT_TCP && in->midstream[1] && in->len[1] > 0) {
		rs = KRB_SHORT;
		server_unknown = true;
	}
	if (rs == KRB_BAD)
		return IDENT_NO_MATCH;
	if (rc == KRB_SHORT)
		return in->done[0] && in->done[1] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
	bool confirmed = false;
	if (rs == KRB_OK) {
		bool ok = (c.type == 10 && (s.type == 11 || s.type == 30)) ||
		          (c.type == 12 && (s.type == 13 || s.type == 30));
		if (!ok)
			return IDENT_NO_MATCH;
		confirmed = true;
	} else if (!in->done[1] && !server_unknown) {
		return IDENT_NEED_MORE;
	}
	ident_add_str(ev, "krb_msg", krb_name(c.type));
	if (c.realm)
		ident_add(ev, "krb_realm", c.realm, c.realmlen);
	else if (s.realm)
		ident_add(ev, "krb_realm", s.realm, s.realmlen);
	ev->server_confirmed = confirmed;
	ev->confidence = confirmed ? 98 : 85;
	return IDENT_MATCH;
}

static enum ident_verdict kerberos_match(const struct ident_input *in, struct ident_evidence *ev)
{
	/* The usual NO_MATCH of kerberos_match_parse (either side's krb_first
	 * KRB_BAD). */
	if (krb_udp_quick_bad(in, 0) || (in->len[1] && krb_udp_quick_bad(in, 1)))
		return IDENT_NO_MATCH;
	return kerberos_match_parse(in, ev);
}

const struct ident_proto ident_kerberos = {"kerberos", "Kerberos V5 (RFC 4120)",
                                           IDENT_UDP | IDENT_TCP, kerberos_match, NULL, NULL};
