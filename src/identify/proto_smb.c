/*
 * proto_smb.c - SMB (MS-CIFS for SMB1, MS-SMB2 for SMB 2/3) over the
 * NetBIOS session service (RFC 1002) on 139 or its direct-TCP form on 445,
 * which frames every message the same way.
 *
 *   session message                    SMB1 header (32 bytes)
 *   +----+----------------+            +-----------+-----+---------+-----+
 *   | 00 | length (24)    |            | FF 'S''M''B' | cmd | status  |flags|
 *   +----+----------------+            +-----------+-----+---------+-----+
 *   | FF/FE/FD/FC 'S' 'M' 'B' ...  |   flags bit 7: reply
 *                                      SMB2 header (64 bytes)
 *   NetBIOS session request (139)      +-------------+--------+--------+
 *   +----+----+--------+               | FE 'S''M''B' | 64 (LE)| credit |
 *   | 81 | 00 | len=68 |               | status (32)  | command (16, <= 0x12)
 *   +----+----+--------+               | credits (16) | flags (32): bit 0 reply
 *   | called name | calling name  |    FD 'S''M''B': SMB3 transform (encrypted)
 *     20 + 32 bytes 'A'-'P' + scope... FC 'S''M''B': SMB3 compression transform
 *   reply: 82 00 00 00 positive, 83 00 00 01 XX negative
 *
 * NetBIOS keepalives (85 00 00 00) may come first and are skipped. The
 * 4-byte protocol id after a length that fits is what makes SMB; the
 * server's own SMB message (a reply) confirms it.
 */
#include "common/reader.h"
#include "identify/identify.h"

#define NB_SESSION_MESSAGE 0x00
#define NB_SESSION_REQUEST 0x81
#define NB_POSITIVE_RESPONSE 0x82
#define NB_NEGATIVE_RESPONSE 0x83
#define NB_KEEPALIVE 0x85

struct smb_msg {
	int version;      /* 1, 2 (SMB2/3), 3 (transform) */
	uint16_t command; /* SMB1: 8 bits; SMB2: 16 */
	bool reply;
	bool session_request;  /* NetBIOS session request (client) */
	bool session_response; /* NetBIOS positive/negative response (server) */
};

enum smb_parse { SMB_BAD, SMB_SHORT, SMB_OK };

/* One NetBIOS first-level encoded name: length 32, 32 bytes 'A'-'P', then
 * scope labels up to a 0. */
static bool smb_nbname(struct reader *r)
{
	if (rd_u8(r) != 32)
		return false;
	struct reader n = rd_sub(r, 32);
	if (!rd_ok(r))
		return false;
	for (int i = 0; i < 32; i++) {
		uint8_t c = rd_u8(&n);
		if (c < 'A' || c > 'P')
			return false;
	}
	for (int k = 0; k < 16; k++) {
		uint8_t len = rd_u8(r);
		if (!rd_ok(r) || len > 63)
			return false;
		if (len == 0)
			return true;
		rd_skip(r, len);
	}
	return false;
}

/* The first message of a direction. */
static enum smb_parse smb_first(struct reader *r, bool done, struct smb_msg *m)
{
	for (int k = 0; k < 4; k++) {
		uint8_t h[4];
		for (int i = 0; i < 4; i++)
			if (!rd_peek_u8(r, (size_t)i, &h[i]))
				return SMB_SHORT;
		uint32_t len = (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
		if (h[0] == NB_KEEPALIVE && len == 0) {
			rd_skip(r, 4);
			continue;
		}
		if (h[0] == NB_SESSION_REQUEST) {
			if (len < 68 || len > 4 + 2 * 34 + 256 || h[1] != 0)
				return SMB_BAD;
			if (!rd_has(r, 4 + (size_t)len))
				return done ? SMB_BAD : SMB_SHORT;
			rd_skip(r, 4);
			struct reader names = rd_sub(r, len);
			if (!smb_nbname(&names) || !smb_nbname(&names) || rd_remaining(&names))
				return SMB_BAD;
			m->session_request = true;
			return SMB_OK;
		}
		if (h[0] == NB_POSITIVE_RESPONSE || h[0] == NB_NEGATIVE_RESPONSE) {
			uint8_t code;
			if (h[0] == NB_POSITIVE_RESPONSE && len == 0) {
				m->session_response = true;
				return SMB_OK;
			}
			if (h[0] == NB_NEGATIVE_RESPONSE && len == 1) {
				if (!rd_peek_u8(r, 4, &code))
					return SMB_SHORT;
				if (code < 0x80 || code > 0x8f)
					return SMB_BAD;
				m->session_response = true;
				return SMB_OK;
			}
			return SMB_BAD;
		}
		if (h[0] != NB_SESSION_MESSAGE)
			return SMB_BAD;
		rd_skip(r, 4);
		uint8_t p[4];
		for (int i = 0; i < 4; i++)
			if (!rd_peek_u8(r, (size_t)i, &p[i]))
				return SMB_SHORT;
		if (p[1] != 'S' || p[2] != 'M' || p[3] != 'B')
			return SMB_BAD;
		if (p[0] == 0xff) {
			if (len < 32 + 3) /* header, word count, byte count */
				return SMB_BAD;
			uint8_t cmd, flags;
			if (!rd_peek_u8(r, 4, &cmd) || !rd_peek_u8(r, 9, &flags))
				return SMB_SHORT;
			m->version = 1;
			m->command = cmd;
			m->reply = flags & 0x80;
			return SMB_OK;
		}
		if (p[0] == 0xfe) {
			if (len < 64)
				return SMB_BAD;
			if (!rd_has(r, 20))
				return SMB_SHORT;
			rd_skip(r, 4);
			uint16_t hlen = rd_le16(r);
			rd_skip(r, 6); /* credit charge, status */
			uint16_t cmd = rd_le16(r);
			rd_skip(r, 2); /* credits */
			uint32_t flags = rd_le32(r);
			if (hlen != 64 || cmd > 0x12)
				return SMB_BAD;
			m->version = 2;
			m->command = cmd;
			m->reply = flags & 1;
			return SMB_OK;
		}
		if (p[0] == 0xfd || p[0] == 0xfc) {
			if (len < 52)
				return SMB_BAD;
			m->version = 3;
			m->command = p[0];
			return SMB_OK;
		}
		return SMB_BAD;
	}
	return SMB_BAD; /* only keepalives */
}

static const char *smb2_command(uint16_t c)
{
	static const char *const names[] = {
	    "NEGOTIATE", "SESSION_SETUP", "LOGOFF",     "TREE_CONNECT",    "TREE_DISCONNECT",
	    "CREATE",    "CLOSE",         "FLUSH",      "READ",            "WRITE",
	    "LOCK",      "IOCTL",         "CANCEL",     "ECHO",            "QUERY_DIRECTORY",
	    "CHANGE_NOTIFY", "QUERY_INFO", "SET_INFO",  "OPLOCK_BREAK",
	};
	return c < sizeof names / sizeof names[0] ? names[c] : "UNKNOWN";
}

static const char *smb1_command(uint16_t c)
{
	switch (c) {
	case 0x72: return "NEGOTIATE";
	case 0x73: return "SESSION_SETUP_ANDX";
	case 0x74: return "LOGOFF_ANDX";
	case 0x75: return "TREE_CONNECT_ANDX";
	case 0x71: return "TREE_DISCONNECT";
	case 0x25: return "TRANSACTION";
	case 0x32: return "TRANSACTION2";
	case 0xa0: return "NT_TRANSACT";
	case 0xa2: return "NT_CREATE_ANDX";
	case 0x2e: return "READ_ANDX";
	case 0x2f: return "WRITE_ANDX";
	case 0x04: return "CLOSE";
	case 0x2b: return "ECHO";
	default: return NULL;
	}
}

static void smb_evidence(struct ident_evidence *ev, const struct smb_msg *m)
{
	if (m->version == 1) {
		ident_add_str(ev, "smb_version", "1");
		const char *n = smb1_command(m->command);
		if (n)
			ident_add_str(ev, "smb_command", n);
		else
			ident_add_u64(ev, "smb_command", m->command);
	} else if (m->version == 2) {
		ident_add_str(ev, "smb_version", "2/3");
		ident_add_str(ev, "smb_command", smb2_command(m->command));
	} else if (m->version == 3) {
		ident_add_str(ev, "smb_version", "3");
		ident_add_str(ev, "smb_command", m->command == 0xfd ? "TRANSFORM" : "COMPRESSION_TRANSFORM");
	}
}

static enum ident_verdict smb_match(const struct ident_input *in, struct ident_evidence *ev)
{
	struct reader c, s;
	rd_init(&c, in->data[0], in->len[0]);
	rd_init(&s, in->data[1], in->len[1]);
	struct smb_msg cm = {0}, sm = {0}, next = {0};
	enum smb_parse pc = smb_first(&c, in->done[0], &cm);
	if (pc == SMB_BAD || (pc == SMB_SHORT && in->done[0]))
		return IDENT_NO_MATCH;
	if (pc == SMB_SHORT)
		return IDENT_NEED_MORE;
	if (cm.session_response || (cm.version && cm.reply))
		return IDENT_NO_MATCH; /* the client does not answer first */
	enum smb_parse ps = smb_first(&s, in->done[1], &sm);
	if (ps == SMB_BAD)
		return IDENT_NO_MATCH;
	if (ps == SMB_OK) {
		/* A session request is answered by a session response, an SMB
		 * message by an SMB message (a reply, or an encrypted one). */
		if (cm.session_request ? !sm.session_response
		                       : (sm.session_response || sm.session_request ||
		                          (sm.version != 3 && !sm.reply)))
			return IDENT_NO_MATCH;
	} else if (!in->done[1]) {
		return IDENT_NEED_MORE;
	} else if (in->len[1]) {
		return IDENT_NO_MATCH;
	}
	const struct smb_msg *ev_msg = &cm;
	int conf = ps == SMB_OK ? 95 : 70;
	if (cm.session_request) {
		/* On 139 the client's SMB negotiate follows the session request
		 * (after the server's positive response). */
		enum smb_parse pn = smb_first(&c, in->done[0], &next);
		if (pn == SMB_OK && next.version && !next.reply) {
			ev_msg = &next;
		} else if (pn == SMB_SHORT && !in->done[0]) {
			return IDENT_NEED_MORE;
		} else {
			/* The session framing alone, no SMB in it: the netbios
			 * identifier names that. */
			return IDENT_NO_MATCH;
		}
	}
	ev->server_confirmed = ps == SMB_OK;
	ev->confidence = (uint8_t)conf;
	smb_evidence(ev, ev_msg);
	return IDENT_MATCH;
}

const struct ident_proto ident_smb = {"smb", "SMB (MS-CIFS, MS-SMB2 over RFC 1002 framing)",
                                      IDENT_TCP, smb_match, NULL, NULL};
