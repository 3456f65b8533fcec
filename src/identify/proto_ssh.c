/*
 * proto_ssh.c - SSH, from the identification strings (RFC 4253 section 4.2).
 *
 * Both sides open with one identification line; the server may send other
 * lines first (RFC 4253 4.2: "The server MAY send other lines of data before
 * sending the version string"; they must not start with "SSH-"):
 *
 *   [other line CR LF]*                     server only, printable text
 *   "SSH-" protoversion "-" softwareversion [SP comments] CR LF
 *          |                |
 *          "2.0" "1.99"     "OpenSSH_9.2p1"  (printable, no space; the
 *          "1.5": digits    RFC forbids '-', real servers use it anyway:
 *          "." digits        "APACHE-SSHD-2.5.0")
 *
 *   at most 255 bytes with the line end; old servers end with LF alone.
 *
 * The server's identification line decides (a client speaking anything else
 * to an SSH server is still an SSH flow: the server is SSH; then the line
 * must be the server's first, no other lines before it). A client's
 * "SSH-" line alone is a claim: it waits for the server, and a server that
 * answers with anything but SSH cancels it.
 */
#include "common/reader.h"
#include "identify/protocols.h"

#define SSH_LINE_MAX 255 /* RFC 4253 4.2, line end included */
#define SSH_PRE_LINES 16 /* other lines before the server's version line */
#define SSH_PRE_BYTES 2048

struct ssh_id {
	const uint8_t *proto, *soft;
	size_t proto_len, soft_len;
};

enum ssh_parse { SSH_BAD, SSH_MORE, SSH_OK };

/* Checks one identification line (without its line end). */
static bool ssh_id_line(const uint8_t *line, size_t n, struct ssh_id *id)
{
	struct reader r;
	rd_init(&r, line, n);
	if (!rd_starts(&r, "SSH-") || !rd_printable(&r, n))
		return false;
	rd_skip(&r, 4);
	/* protoversion: digits "." digits */
	size_t i = 0;
	uint8_t c;
	bool dot = false;
	size_t digits_before = 0, digits_after = 0;
	while (rd_peek_u8(&r, i, &c) && c != '-') {
		if (c == '.' && !dot)
			dot = true;
		else if (c >= '0' && c <= '9')
			*(dot ? &digits_after : &digits_before) += 1;
		else
			return false;
		i++;
	}
	if (!dot || !digits_before || !digits_after || c != '-' || i > 8)
		return false;
	id->proto = rd_bytes(&r, i);
	id->proto_len = i;
	rd_skip(&r, 1); /* '-' */
	/* softwareversion: up to the first space, not empty */
	i = 0;
	while (rd_peek_u8(&r, i, &c) && c != ' ')
		i++;
	if (i == 0)
		return false;
	id->soft = rd_bytes(&r, i);
	id->soft_len = i;
	return rd_ok(&r);
}

/* True when the unread bytes, as far as they go, agree with s. */
static bool ssh_prefix(const struct reader *r, const char *s)
{
	uint8_t c;
	for (size_t i = 0; s[i]; i++) {
		if (!rd_peek_u8(r, i, &c))
			return true;
		if (c != (uint8_t)s[i])
			return false;
	}
	return true;
}

/* The server's side: other lines, then the version line. */
static enum ssh_parse ssh_server(const struct ident_input *in, struct ssh_id *id)
{
	struct reader r;
	rd_init(&r, in->data[1], in->len[1]);
	for (int k = 0; k <= SSH_PRE_LINES; k++) {
		if (rd_remaining(&r) == 0)
			return SSH_MORE;
		/* A partial "SSH-" (or partial other line) waits for the rest. */
		const uint8_t *line;
		size_t n;
		if (!rd_line(&r, SSH_PRE_BYTES, &line, &n)) {
			size_t rest = rd_remaining(&r);
			if (rest >= SSH_PRE_BYTES || !rd_printable(&r, rd_partial_len(&r, rest)))
				return SSH_BAD;
			if (ssh_prefix(&r, "SSH-") && rest >= SSH_LINE_MAX)
				return SSH_BAD;
			return SSH_MORE;
		}
		struct reader l;
		rd_init(&l, line, n);
		if (rd_starts(&l, "SSH-")) {
			if (n + 2 > SSH_LINE_MAX)
				return SSH_BAD;
			return ssh_id_line(line, n, id) ? SSH_OK : SSH_BAD;
		}
		/* Another line: text only (a banner), else not SSH. */
		if (!rd_printable(&l, n) || rd_offset(&r) > SSH_PRE_BYTES)
			return SSH_BAD;
	}
	return SSH_BAD;
}

/* The client's side: the version line comes first. */
static enum ssh_parse ssh_client(const struct ident_input *in, struct ssh_id *id)
{
	struct reader r;
	rd_init(&r, in->data[0], in->len[0]);
	size_t have = rd_remaining(&r);
	if (have == 0)
		return SSH_MORE;
	const uint8_t *line;
	size_t n;
	if (!rd_line(&r, SSH_LINE_MAX, &line, &n)) {
		/* Not yet a whole line: a prefix of "SSH-" followed by text. */
		if (!ssh_prefix(&r, "SSH-") || have >= SSH_LINE_MAX ||
		    !rd_printable(&r, rd_partial_len(&r, have)))
			return SSH_BAD;
		return SSH_MORE;
	}
	return ssh_id_line(line, n, id) ? SSH_OK : SSH_BAD;
}

static enum ident_verdict match_ssh(const struct ident_input *in, struct ident_evidence *ev)
{
	struct ssh_id srv = {0}, cli = {0};
	enum ssh_parse s = ssh_server(in, &srv);
	enum ssh_parse c = ssh_client(in, &cli);

	if (s == SSH_BAD)
		return IDENT_NO_MATCH; /* the server speaks something else */
	/* A client speaking something else leaves the flow to a server whose
	 * first line is its identification line (other lines first are taken
	 * only from a server whose client spoke SSH, or not yet): decided as
	 * soon as the server's first bytes stray from "SSH-", so that this
	 * NO_MATCH is final. */
	struct reader sr;
	rd_init(&sr, in->data[1], in->len[1]);
	if (c == SSH_BAD && !ssh_prefix(&sr, "SSH-"))
		return IDENT_NO_MATCH;
	if (s == SSH_MORE) {
		/* The client's line alone is a claim that waits for the server.
		 * A client speaking something else does not decide either while
		 * the server may still send its line (it sends it whatever the
		 * client says, and NO_MATCH is final). */
		if (!in->done[1])
			return IDENT_NEED_MORE;
		if (in->len[1] > 0 || c == SSH_BAD)
			return IDENT_NO_MATCH; /* server ended on a partial line */
		if (c == SSH_MORE)
			return in->done[0] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
		ident_add(ev, "ssh_client", cli.soft, cli.soft_len);
		ident_add(ev, "ssh_proto", cli.proto, cli.proto_len);
		ev->confidence = 60;
		ev->server_confirmed = false;
		return IDENT_MATCH;
	}
	/* The server's identification line: SSH, whatever the client says. */
	ident_add(ev, "ssh_server", srv.soft, srv.soft_len);
	if (c == SSH_OK)
		ident_add(ev, "ssh_client", cli.soft, cli.soft_len);
	ident_add(ev, "ssh_proto", srv.proto, srv.proto_len);
	ev->server_confirmed = true;
	ev->confidence = c == SSH_OK ? 100 : 85;
	return IDENT_MATCH;
}

const struct ident_proto ident_ssh = {"ssh", "SSH (RFC 4253)", IDENT_TCP, match_ssh, NULL, NULL};
