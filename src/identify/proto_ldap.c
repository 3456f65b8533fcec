/*
 * proto_ldap.c - LDAP (RFC 4511), with StartTLS (RFC 4511 4.14, RFC 4513).
 *
 * Every message is a BER-encoded LDAPMessage (RFC 4511 4.1.1, X.690 with
 * the LDAP restrictions of 5.1: definite lengths only):
 *
 *   30 LL                 SEQUENCE, length (short form, or 81-84 + 1-4 bytes)
 *     02 01-04 id         messageID INTEGER 0..2^31-1
 *     TT LL ...           protocolOp, an APPLICATION tag:
 *                           client: 60 bindRequest    42 unbindRequest
 *                                   63 searchRequest  66 modifyRequest
 *                                   68 addRequest     4a delRequest
 *                                   6c modDNRequest   6e compareRequest
 *                                   50 abandonRequest 77 extendedRequest
 *                           server: 61 bindResponse   64 searchResEntry
 *                                   65 searchResDone  73 searchResRef
 *                                   67/69/6b/6d/6f    modify/add/del/
 *                                                     modDN/compare resp.
 *                                   78 extendedResp   79 intermediateResp
 *     [a0 LL ...]         controls, optional
 *
 *   bindRequest:  60 LL  02 01 03 (version)  04 LL name  80 LL password
 *                                                       | a3 LL sasl
 *   LDAPResult:   0a 01 code  04 LL matchedDN  04 LL diagnosticMessage
 *   StartTLS:     77 LL 80 16 "1.3.6.1.4.1.1466.20037"   answered by
 *                 78 LL 0a 01 00 ...  then the client's TLS record 16 03.
 *
 * A SEQUENCE opens many BER protocols (SNMP over TCP, Kerberos inside its
 * length prefix, X.509): the messageID, an LDAP operation tag of the right
 * direction, lengths that nest exactly, and the operation's first fields
 * are all required.
 */
#include "common/reader.h"
#include "identify/ber.h"
#include "identify/protocols.h"

#define LDAP_STARTTLS_OID "1.3.6.1.4.1.1466.20037"

enum ldap_parse { LDAP_BAD, LDAP_MORE, LDAP_OK };

struct ldap_msg {
	uint8_t op;
	uint32_t id;
	size_t total;          /* bytes of the whole message */
	const uint8_t *dn;     /* bindRequest name, simple bind only */
	size_t dn_len;
	const uint8_t *oid;    /* extendedRequest requestName */
	size_t oid_len;
	int result;            /* LDAPResult resultCode, -1 when none */
};

/* One BER header: tag and definite length (the indefinite form is
 * forbidden by RFC 4511 5.1). False on a bad or short one. */
static bool ldap_hdr(struct reader *r, uint8_t *tag, size_t *len)
{
	return ber_header(r, tag, len, 4);
}

/* The next element must be `tag`; its contents as a sub-reader. */
static bool ldap_elem(struct reader *r, uint8_t tag, struct reader *body)
{
	uint8_t t;
	size_t len;
	if (!ldap_hdr(r, &t, &len) || t != tag || !rd_has(r, len))
		return false;
	*body = rd_sub(r, len);
	return true;
}

static bool ldap_client_op(uint8_t op)
{
	switch (op) {
	case 0x60: case 0x42: case 0x63: case 0x66: case 0x68:
	case 0x4a: case 0x6c: case 0x6e: case 0x50: case 0x77:
		return true;
	default:
		return false;
	}
}

static bool ldap_server_op(uint8_t op)
{
	switch (op) {
	case 0x61: case 0x64: case 0x65: case 0x73: case 0x67: case 0x69:
	case 0x6b: case 0x6d: case 0x6f: case 0x78: case 0x79:
		return true;
	default:
		return false;
	}
}

static const char *ldap_op_name(uint8_t op)
{
	switch (op) {
	case 0x60: return "bindRequest";
	case 0x61: return "bindResponse";
	case 0x42: return "unbindRequest";
	case 0x63: return "searchRequest";
	case 0x64: return "searchResEntry";
	case 0x65: return "searchResDone";
	case 0x73: return "searchResRef";
	case 0x66: return "modifyRequest";
	case 0x67: return "modifyResponse";
	case 0x68: return "addRequest";
	case 0x69: return "addResponse";
	case 0x4a: return "delRequest";
	case 0x6b: return "delResponse";
	case 0x6c: return "modDNRequest";
	case 0x6d: return "modDNResponse";
	case 0x6e: return "compareRequest";
	case 0x6f: return "compareResponse";
	case 0x50: return "abandonRequest";
	case 0x77: return "extendedReq";
	case 0x78: return "extendedResp";
	case 0x79: return "intermediateResponse";
	default: return "unknown";
	}
}

/* The operation's first fields (the op's contents in r). */
static bool ldap_op_fields(uint8_t op, struct reader r, struct ldap_msg *m)
{
	struct reader e;
	uint8_t t;
	size_t len;
	switch (op) {
	case 0x60: { /* version, name, authentication */
		if (!ldap_elem(&r, 0x02, &e) || rd_remaining(&e) != 1)
			return false;
		uint8_t v = rd_u8(&e);
		if (v < 1 || v > 3)
			return false;
		struct reader name;
		if (!ldap_elem(&r, 0x04, &name))
			return false;
		if (!ldap_hdr(&r, &t, &len) || (t != 0x80 && t != 0xa3) || !rd_has(&r, len))
			return false;
		if (t == 0x80)
			m->dn = rd_rest(&name, &m->dn_len);
		return true;
	}
	case 0x42: /* unbind: NULL */
		return rd_remaining(&r) == 0;
	case 0x50: /* abandon: a message id */
		return rd_remaining(&r) >= 1 && rd_remaining(&r) <= 4;
	case 0x4a: /* del: an LDAPDN, primitive */
		return rd_printable(&r, rd_remaining(&r));
	case 0x63: { /* baseObject, scope, derefAliases */
		if (!ldap_elem(&r, 0x04, &e) || !ldap_elem(&r, 0x0a, &e) || rd_remaining(&e) != 1)
			return false;
		if (rd_u8(&e) > 3)
			return false;
		return ldap_elem(&r, 0x0a, &e) && rd_remaining(&e) == 1 && rd_u8(&e) <= 3;
	}
	case 0x66: case 0x68: case 0x6c: case 0x6e: case 0x64: /* an LDAPDN first */
		return ldap_elem(&r, 0x04, &e) && rd_remaining(&r) > 0;
	case 0x73: /* URIs */
		return ldap_elem(&r, 0x04, &e);
	case 0x77: { /* requestName [0] LDAPOID */
		if (!ldap_elem(&r, 0x80, &e) || !rd_remaining(&e) || !rd_printable(&e, rd_remaining(&e)))
			return false;
		m->oid = rd_rest(&e, &m->oid_len);
		return true;
	}
	case 0x79:
		return true;
	default: /* LDAPResult: resultCode, matchedDN, diagnosticMessage */
		if (!ldap_elem(&r, 0x0a, &e) || rd_remaining(&e) != 1)
			return false;
		m->result = rd_u8(&e);
		return ldap_elem(&r, 0x04, &e) && ldap_elem(&r, 0x04, &e);
	}
}

/* The first LDAPMessage of one direction. */
static enum ldap_parse ldap_msg(const uint8_t *data, size_t avail, bool server,
                                struct ldap_msg *m)
{
	struct reader r;
	rd_init(&r, data, avail);
	m->op = 0;
	m->id = 0;
	m->dn = m->oid = NULL;
	m->dn_len = m->oid_len = 0;
	m->result = -1;
	uint8_t tag;
	size_t len;
	if (avail == 0)
		return LDAP_MORE;
	if (!rd_starts(&r, "\x30"))
		return LDAP_BAD;
	if (!ldap_hdr(&r, &tag, &len))
		return rd_ok(&r) ? LDAP_BAD : LDAP_MORE;
	/* The smallest message: 02 01 id 42 00 (unbind). */
	if (len < 5 || len > (1u << 24))
		return LDAP_BAD;
	m->total = rd_offset(&r) + len;
	bool whole = rd_has(&r, len);
	struct reader seq;
	rd_init(&seq, data, avail); /* re-read within the declared length */
	rd_skip(&seq, rd_offset(&r));
	rd_limit(&seq, len);

	/* messageID: INTEGER, 1-4 bytes, not negative */
	if (!ldap_hdr(&seq, &tag, &len))
		return whole ? LDAP_BAD : LDAP_MORE;
	if (tag != 0x02 || len < 1 || len > 4)
		return LDAP_BAD;
	for (size_t i = 0; i < len; i++) {
		uint8_t b = rd_u8(&seq);
		if (i == 0 && (b & 0x80))
			return LDAP_BAD;
		m->id = m->id << 8 | b;
	}
	if (!rd_ok(&seq))
		return whole ? LDAP_BAD : LDAP_MORE;

	/* protocolOp: an operation of this direction, nested exactly. */
	uint8_t op;
	if (!rd_peek_u8(&seq, 0, &op))
		return whole ? LDAP_BAD : LDAP_MORE;
	if (server ? !ldap_server_op(op) : !ldap_client_op(op))
		return LDAP_BAD;
	m->op = op;
	if (!ldap_hdr(&seq, &tag, &len))
		return whole ? LDAP_BAD : LDAP_MORE;
	if (rd_offset(&seq) + len > m->total)
		return LDAP_BAD; /* the operation overruns the message */
	if (!rd_has(&seq, len))
		return LDAP_MORE;
	struct reader body = rd_sub(&seq, len);
	if (!ldap_op_fields(op, body, m))
		return LDAP_BAD;
	/* After the operation: nothing, or controls [0] filling the rest. */
	if (whole && rd_remaining(&seq)) {
		if (!ldap_hdr(&seq, &tag, &len) || tag != 0xa0 || rd_remaining(&seq) != len)
			return LDAP_BAD;
	}
	return whole ? LDAP_OK : LDAP_MORE;
}

static enum ident_verdict match_ldap(const struct ident_input *in, struct ident_evidence *ev)
{
	struct ldap_msg cm, sm;
	enum ldap_parse c = ldap_msg(in->data[0], in->len[0], false, &cm);
	enum ldap_parse s = ldap_msg(in->data[1], in->len[1], true, &sm);

	if (c == LDAP_BAD || s == LDAP_BAD)
		return IDENT_NO_MATCH; /* either side speaks something else */
	if (c == LDAP_MORE) {
		if (in->len[0] && !in->done[0])
			return IDENT_NEED_MORE;
		/* No client message: a server's unsolicited notice alone. */
		if (in->len[0] || s != LDAP_OK)
			return in->done[0] && (s != LDAP_MORE || in->done[1]) ? IDENT_NO_MATCH
			                                                      : IDENT_NEED_MORE;
		if (!in->done[0])
			return IDENT_NEED_MORE;
		ident_add_str(ev, "ldap_op", ldap_op_name(sm.op));
		ev->server_confirmed = true;
		ev->confidence = 50;
		return IDENT_MATCH;
	}
	/* A whole client message: wait for the server's answer. */
	if (s == LDAP_MORE) {
		if (!in->done[1])
			return IDENT_NEED_MORE;
		if (in->len[1])
			return IDENT_NO_MATCH; /* the server ended mid-message */
	}
	ident_add_str(ev, "ldap_op", ldap_op_name(cm.op));
	if (cm.dn)
		ident_add(ev, "ldap_bind_dn", cm.dn, cm.dn_len);
	if (s == LDAP_OK && cm.op == 0x77 && sm.op == 0x78 && sm.result == 0 && cm.oid &&
	    cm.oid_len == sizeof LDAP_STARTTLS_OID - 1) {
		/* StartTLS accepted: the client's next bytes are TLS. */
		struct reader o, r;
		rd_init(&o, cm.oid, cm.oid_len);
		rd_init(&r, in->data[0], in->len[0]);
		rd_skip(&r, cm.total);
		uint8_t b0, b1;
		if (rd_starts(&o, LDAP_STARTTLS_OID) && rd_peek_u8(&r, 0, &b0) &&
		    rd_peek_u8(&r, 1, &b1) && b0 == 0x16 && b1 == 0x03) {
			ident_add_u64(ev, "starttls", 1);
			ev->tls_upgrade = true;
		}
	}
	ev->server_confirmed = s == LDAP_OK;
	ev->confidence = s == LDAP_OK ? (sm.id == cm.id ? 100 : 90) : 60;
	return IDENT_MATCH;
}

/* The first bytes (identify.h, first_byte), of direction d.
 * The client's: ldap_msg on the client's bytes: a SEQUENCE (0x30).
 * The server's: none declared. */
static bool ldap_first_byte(int d, uint8_t transport, uint8_t b)
{
	if (d != 0)
		return true;
	(void)transport;
	return b == 0x30;
}

const struct ident_proto ident_ldap = {"ldap", "LDAP (RFC 4511)", IDENT_TCP, match_ldap, NULL, ldap_first_byte};
