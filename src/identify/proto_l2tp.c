/*
 * proto_l2tp.c - L2TP over UDP: L2TPv2 (RFC 2661) and L2TPv3 (RFC 3931).
 *
 * Control messages (RFC 2661 section 3.1, RFC 3931 section 3.2.1; over UDP
 * the L2TPv3 control header is sent as is, RFC 3931 4.1.2: the 32 zero bits
 * of Session ID precede it only over IP, 4.1.1.2):
 *
 *   v2:  c8 02 | Length | Tunnel ID (16) | Session ID (16) | Ns | Nr
 *   v3:  c8 03 | Length | Control Connection ID (32)       | Ns | Nr
 *        T=1 L=1 S=1, O=0 P=0, reserved bits 0, Ver 2 or 3; Length = the
 *        whole datagram (header included); 12 bytes of header
 *   AVPs (section 4.1 / 5.1), back to back, filling Length exactly:
 *        M H 0000 len(10) | Vendor ID | Attribute Type | value (len - 6)
 *   the first AVP is the Message Type: 80 08 00 00 00 00 TT TT, a known
 *   type (1-4, 6-12, 14-16; v3 also 20, ACK). A message of 12 bytes (no
 *   AVP) is a ZLB acknowledgement. SCCRQ opens the tunnel: it goes to
 *   Tunnel (Connection) ID 0 with Ns = Nr = 0.
 *
 * Data messages (L2TPv2, RFC 2661 section 3.1 and 5; the payload is PPP,
 * RFC 1661 / RFC 1662 framing without flags, escapes or FCS):
 *
 *   0 L 0 0 S 0 O P | 02 | [Length] | Tunnel ID | Session ID | [Ns Nr] |
 *   [Offset Size, pad] | ff 03 | PPP protocol | PPP packet
 *
 *   the PPP packet must fill the datagram: a control protocol's (LCP,
 *   PAP, CHAP, IPCP, IPv6CP, CCP) code/identifier/length header gives its
 *   length, an IPv4 or IPv6 header its own.
 *
 * Who is who: each side puts the PEER's tunnel ID in its headers. The
 * SCCRQ's Assigned Tunnel ID AVP (attribute 9; v3 Assigned Control
 * Connection ID, attribute 61) is the ID the server's messages must carry:
 * a server message with it confirms, as does one acknowledging a client
 * message (its Nr = the client's Ns + 1), or, for a capture that began
 * after the control exchange, PPP data messages in both directions.
 *
 * Lookalikes: the first two bytes leave four values for control (c8 02,
 * c8 03) and a few for data; the Length equal to the datagram, the fixed
 * Message Type AVP and an AVP walk that ends exactly at Length, or a PPP
 * packet whose own length fills the datagram, leave random bytes and other
 * UDP protocols no room. L2TPv3 data messages carry an arbitrary layer 2
 * payload (often Ethernet) behind a session ID and cookie: there is
 * nothing to check in them, so they are not matched.
 *
 * Evidence: l2tp_version, l2tp_message (the client's first message:
 * SCCRQ, ..., ZLB, or data), l2tp_host_name and l2tp_vendor (Host Name,
 * attribute 7, and Vendor Name, attribute 8, when not hidden).
 */
#include "common/reader.h"
#include "identify/identify.h"
#include "identify/text_proto.h"

enum l2tp_kind { L2TP_NONE = 0, L2TP_CTRL, L2TP_ZLB, L2TP_DATA };

struct l2tp_msg {
	uint8_t kind, ver;
	uint16_t type;          /* Message Type (control) */
	uint32_t conn;          /* header Tunnel ID (v2) / Control Connection ID (v3) */
	uint16_t session;       /* v2 header Session ID */
	uint16_t ns, nr;
	bool has_seq;           /* ns, nr are present */
	bool has_assigned;
	uint32_t assigned;      /* Assigned Tunnel ID / Control Connection ID */
	const uint8_t *host, *vendor;
	size_t host_len, vendor_len;
};

#define L2TP_ATTR_HOST_NAME 7
#define L2TP_ATTR_VENDOR_NAME 8
#define L2TP_ATTR_TUNNEL_ID 9
#define L2TP_ATTR_CCID 61
#define L2TP_TEXT_MAX 64

static const char *const l2tp_names[] = {
    NULL,   "SCCRQ", "SCCRP", "SCCCN", "StopCCN", NULL,  "HELLO", "OCRQ", "OCRP", "OCCN", "ICRQ",
    "ICRP", "ICCN",  NULL,    "CDN",   "WEN",     "SLI", NULL,    NULL,   NULL,   "ACK",
};

static bool l2tp_known_type(uint8_t ver, uint16_t t)
{
	if (t >= sizeof l2tp_names / sizeof l2tp_names[0] || !l2tp_names[t])
		return false;
	return t != 20 || ver == 3; /* ACK is L2TPv3's */
}

/* The AVPs after the Message Type, up to the end of r (= Length). */
static bool l2tp_avps(struct reader *r, struct l2tp_msg *m, bool truncated)
{
	while (rd_remaining(r) > 0) {
		if (truncated && rd_remaining(r) < 6)
			return true; /* the snap length cut it: judge what is there */
		uint16_t fl = rd_be16(r);
		uint16_t vendor = rd_be16(r);
		uint16_t attr = rd_be16(r);
		size_t len = fl & 0x3ff;
		if (!rd_ok(r) || (fl & 0x3c00) || len < 6)
			return false;
		if (len - 6 > rd_remaining(r))
			return truncated;
		struct reader v = rd_sub(r, len - 6);
		if (vendor != 0 || (fl & 0x4000))
			continue; /* vendor specific or hidden: nothing to read */
		size_t n = rd_remaining(&v);
		if (attr == L2TP_ATTR_HOST_NAME && !m->host && n > 0) {
			m->host_len = n > L2TP_TEXT_MAX ? L2TP_TEXT_MAX : n;
			m->host = rd_bytes(&v, m->host_len);
		} else if (attr == L2TP_ATTR_VENDOR_NAME && !m->vendor && n > 0) {
			m->vendor_len = n > L2TP_TEXT_MAX ? L2TP_TEXT_MAX : n;
			m->vendor = rd_bytes(&v, m->vendor_len);
		} else if (attr == L2TP_ATTR_TUNNEL_ID && m->ver == 2 && n == 2) {
			m->assigned = rd_be16(&v);
			m->has_assigned = true;
		} else if (attr == L2TP_ATTR_CCID && m->ver == 3 && n == 4) {
			m->assigned = rd_be32(&v);
			m->has_assigned = true;
		}
	}
	return true;
}

/* A PPP frame (address and control ff 03) that fills r exactly. */
static bool l2tp_ppp(struct reader *r, bool truncated)
{
	if (rd_u8(r) != 0xff || rd_u8(r) != 0x03)
		return false;
	uint16_t proto = rd_be16(r);
	if (!rd_ok(r))
		return false;
	size_t left = rd_remaining(r);
	uint8_t b0 = rd_u8(r);
	switch (proto) {
	case 0xc021: /* LCP */
	case 0xc023: /* PAP */
	case 0xc223: /* CHAP */
	case 0x8021: /* IPCP */
	case 0x8057: /* IPv6CP */
	case 0x80fd: { /* CCP */
		(void)rd_u8(r); /* identifier */
		uint16_t len = rd_be16(r);
		if (!rd_ok(r) || b0 == 0 || b0 > 15 || len < 4)
			return false;
		return len == left || (truncated && len > left);
	}
	case 0x0021: { /* IPv4 */
		(void)rd_u8(r);
		uint16_t tot = rd_be16(r);
		if (!rd_ok(r) || (b0 >> 4) != 4 || (b0 & 0x0f) < 5)
			return false;
		return tot == left || (truncated && tot > left);
	}
	case 0x0057: { /* IPv6 */
		rd_skip(r, 3);
		uint16_t plen = rd_be16(r);
		if (!rd_ok(r) || (b0 >> 4) != 6)
			return false;
		return (size_t)plen + 40 == left || (truncated && (size_t)plen + 40 > left);
	}
	default:
		return false;
	}
}

/* One datagram: true when it is an L2TP control or L2TPv2 data message. */
static bool l2tp_parse(struct reader *r, bool truncated, struct l2tp_msg *m)
{
	*m = (struct l2tp_msg){0};
	size_t dlen = rd_remaining(r);
	uint8_t b0 = rd_u8(r), b1 = rd_u8(r);
	if (!rd_ok(r))
		return false;
	if (b0 == 0xc8 && (b1 == 0x02 || b1 == 0x03)) {
		m->ver = b1;
		uint16_t len = rd_be16(r);
		if (m->ver == 2) {
			m->conn = rd_be16(r);
			m->session = rd_be16(r);
		} else {
			m->conn = rd_be32(r);
		}
		m->ns = rd_be16(r);
		m->nr = rd_be16(r);
		m->has_seq = true;
		if (!rd_ok(r) || len < 12 || (len != dlen && !(truncated && len > dlen)))
			return false;
		if (len == 12) {
			m->kind = L2TP_ZLB;
			return true;
		}
		rd_limit(r, len - 12u);
		/* the Message Type AVP: M set, not hidden, length 8, IETF */
		if (rd_be16(r) != 0x8008 || rd_be16(r) != 0 || rd_be16(r) != 0)
			return false;
		m->type = rd_be16(r);
		if (!rd_ok(r) || !l2tp_known_type(m->ver, m->type))
			return false;
		/* SCCRQ goes to tunnel 0, first in its sequence */
		if (m->type == 1 && (m->conn != 0 || m->session != 0 || m->ns != 0 || m->nr != 0))
			return false;
		m->kind = L2TP_CTRL;
		return l2tp_avps(r, m, truncated);
	}
	/* L2TPv2 data: T = 0, reserved bits (0x30, 0x04, high nibble of the
	 * second byte) 0 */
	if ((b0 & 0xb4) != 0 || b1 != 0x02)
		return false;
	m->ver = 2;
	if (b0 & 0x40) {
		uint16_t len = rd_be16(r);
		if (!rd_ok(r) || len < 8 || (len != dlen && !(truncated && len > dlen)))
			return false;
		rd_limit(r, len - 4u);
	}
	m->conn = rd_be16(r);
	m->session = rd_be16(r);
	if (b0 & 0x08) {
		m->ns = rd_be16(r);
		m->nr = rd_be16(r);
		m->has_seq = true;
	}
	if (b0 & 0x02)
		rd_skip(r, rd_be16(r));
	if (!rd_ok(r) || m->conn == 0 || m->session == 0)
		return false;
	m->kind = L2TP_DATA;
	return l2tp_ppp(r, truncated);
}

struct l2tp_side {
	unsigned n;      /* datagrams parsed (0: none, or the first failed) */
	bool bad_first;  /* the first datagram is not L2TP */
	bool all;        /* every datagram parsed */
	unsigned ctrl;   /* control messages other than ZLB */
	unsigned data;   /* PPP data messages */
	bool data_ids;   /* the data messages share one tunnel and session */
	struct l2tp_msg m[IDENT_DGRAMS_MAX];
	bool ok[IDENT_DGRAMS_MAX];
};

static void l2tp_side(const struct ident_input *in, int d, struct l2tp_side *s)
{
	*s = (struct l2tp_side){0};
	s->all = true;
	s->data_ids = true;
	const struct l2tp_msg *first_data = NULL;
	for (unsigned k = 0; k < in->ndgrams[d] && k < IDENT_DGRAMS_MAX; k++) {
		struct reader r;
		if (!ident_dgram(in, d, k, &r))
			break;
		/* the snap length may have cut any datagram of the direction */
		s->ok[k] = l2tp_parse(&r, in->truncated[d], &s->m[k]);
		if (!s->ok[k]) {
			if (k == 0)
				s->bad_first = true;
			s->all = false;
			continue;
		}
		s->n = k + 1;
		if (s->m[k].kind == L2TP_CTRL)
			s->ctrl++;
		if (s->m[k].kind == L2TP_DATA) {
			s->data++;
			if (!first_data)
				first_data = &s->m[k];
			else if (first_data->conn != s->m[k].conn || first_data->session != s->m[k].session)
				s->data_ids = false;
		}
	}
}

static bool l2tp_confirms(const struct l2tp_side *c, const struct l2tp_side *s)
{
	for (unsigned i = 0; i < IDENT_DGRAMS_MAX; i++) {
		if (!c->ok[i] || c->m[i].kind == L2TP_DATA)
			continue;
		for (unsigned k = 0; k < IDENT_DGRAMS_MAX; k++) {
			if (!s->ok[k] || s->m[k].kind == L2TP_DATA)
				continue;
			/* the server addresses the tunnel the client assigned */
			if (c->m[i].has_assigned && s->m[k].conn == c->m[i].assigned)
				return true;
			/* and the client the one the server assigned */
			if (s->m[k].has_assigned && c->m[i].conn == s->m[k].assigned)
				return true;
			/* the server acknowledges a client message (not a ZLB's:
			 * a ZLB takes no sequence number) */
			if (c->m[i].kind == L2TP_CTRL && s->m[k].nr == (uint16_t)(c->m[i].ns + 1) &&
			    c->m[i].conn != 0 && s->m[k].conn != 0)
				return true;
		}
	}
	return false;
}

static void l2tp_evidence(const struct l2tp_side *a, const struct l2tp_side *b,
                          struct ident_evidence *ev)
{
	const struct l2tp_msg *f = NULL;
	for (unsigned k = 0; k < IDENT_DGRAMS_MAX && !f; k++)
		if (a->ok[k])
			f = &a->m[k];
	if (!f)
		return;
	ident_add_str(ev, "l2tp_version", f->ver == 3 ? "3" : "2");
	ident_add_str(ev, "l2tp_message", f->kind == L2TP_DATA ? "data"
	                                  : f->kind == L2TP_ZLB ? "ZLB"
	                                                        : l2tp_names[f->type]);
	const struct l2tp_msg *host = NULL, *vendor = NULL;
	const struct l2tp_side *sides[2] = {a, b};
	for (int i = 0; i < 2; i++)
		for (unsigned k = 0; k < IDENT_DGRAMS_MAX; k++) {
			if (!sides[i]->ok[k])
				continue;
			if (!host && sides[i]->m[k].host)
				host = &sides[i]->m[k];
			if (!vendor && sides[i]->m[k].vendor)
				vendor = &sides[i]->m[k];
		}
	if (host)
		ident_add(ev, "l2tp_host_name", host->host, host->host_len);
	if (vendor)
		ident_add(ev, "l2tp_vendor", vendor->vendor, vendor->vendor_len);
}

/* Enough on one side to claim L2TP: a control message other than a ZLB, or
 * data messages of one session with every datagram parsed. */
static bool l2tp_claim(const struct l2tp_side *s)
{
	return s->ctrl > 0 || (s->data > 0 && s->all && s->data_ids);
}

/* l2tp_match past its cheap NO_MATCH tests. Out of line: the tests run
 * without this function's frame. */
__attribute__((noinline)) static enum ident_verdict
l2tp_match_parse(const struct ident_input *in, struct ident_evidence *ev)
{
	struct l2tp_side c, s;
	l2tp_side(in, 0, &c);
	l2tp_side(in, 1, &s);
	if (c.bad_first || s.bad_first)
		return IDENT_NO_MATCH;
	if (c.n == 0) {
		/* only the server's datagrams were captured */
		if (s.n == 0 || !in->done[0])
			return in->done[0] && in->done[1] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
		if (s.ctrl == 0)
			return in->done[1] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
		l2tp_evidence(&s, &c, ev);
		ev->confidence = 70;
		return IDENT_MATCH;
	}
	bool ctrl = c.ctrl > 0 || s.ctrl > 0;
	if (s.n > 0) {
		bool data_both = c.data > 0 && s.data > 0 && c.all && s.all && c.data_ids && s.data_ids;
		if (!ctrl && !data_both)
			return in->done[0] && in->done[1] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
		if (!l2tp_claim(&c) && !l2tp_claim(&s))
			return in->done[0] && in->done[1] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
		bool confirmed = l2tp_confirms(&c, &s) || data_both;
		l2tp_evidence(&c, &s, ev);
		ev->server_confirmed = confirmed;
		ev->confidence = confirmed ? 95 : 80;
		return IDENT_MATCH;
	}
	/* the server has not answered */
	if (!in->done[1])
		return IDENT_NEED_MORE;
	if (c.ctrl == 0 && !(c.data >= 2 && c.all && c.data_ids))
		return in->done[0] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
	l2tp_evidence(&c, &s, ev);
	ev->confidence = c.ctrl ? 75 : 60;
	return IDENT_MATCH;
}

static enum ident_verdict l2tp_match(const struct ident_input *in, struct ident_evidence *ev)
{
	if (in->transport != IDENT_UDP)
		return IDENT_NO_MATCH;
	/* The usual NO_MATCH of l2tp_match_parse (bad_first) from two bytes,
	 * before the sides are parsed: a first datagram that starts neither a
	 * control message (c8 02, c8 03) nor an L2TPv2 data message (reserved
	 * bits 0, 02) fails l2tp_parse. */
	for (int d = 0; d < 2; d++) {
		struct reader r;
		uint8_t b0, b1;
		if (!dgram_first(in, d, &r))
			continue;
		if (!rd_peek_u8(&r, 0, &b0) || !rd_peek_u8(&r, 1, &b1))
			return IDENT_NO_MATCH;
		bool ctrl = b0 == 0xc8 && (b1 == 0x02 || b1 == 0x03);
		bool data = (b0 & 0xb4) == 0 && b1 == 0x02;
		if (!ctrl && !data)
			return IDENT_NO_MATCH;
	}
	return l2tp_match_parse(in, ev);
}

/* The first bytes (identify.h, first_byte), of direction d.
 * The client's: l2tp_match: a control message (c8) or an L2TPv2 data
 * message (reserved bits 0).
 * The server's: the same (l2tp_match checks both sides' first datagrams
 * alike). */
static bool l2tp_first_byte(int d, uint8_t transport, uint8_t b)
{
	(void)d;
	(void)transport;
	return b == 0xc8 || (b & 0xb4) == 0;
}

const struct ident_proto ident_l2tp = {"l2tp", "L2TP (RFC 2661, RFC 3931)", IDENT_UDP, l2tp_match,
                                       NULL, l2tp_first_byte};
