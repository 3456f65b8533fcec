/*
 * proto_git.c - the git:// transport (git documentation,
 * gitprotocol-pack(5) "Git Transport" and gitprotocol-common(5) pkt-line).
 *
 * Everything travels in pkt-lines: 4 lower-case hex digits giving the
 * line's length with those 4 digits, then the data; "0000" is a flush.
 * The client's first pkt-line names the service and the repository:
 *
 *   0039git-upload-pack /project.git\0host=example.com\0[\0version=2\0]
 *   services: git-upload-pack (fetch), git-receive-pack (push),
 *             git-upload-archive
 *
 * The server answers with pkt-lines: the refs it advertises
 * ("<40 hex> refs/heads/main\0caps\n"), "version 2\n", "ERR <text>", or a
 * flush for an empty repository.
 */
#include "common/reader.h"
#include "identify/identify.h"

enum git_parse { GIT_BAD, GIT_SHORT, GIT_OK };

/* The 4-hex-digit length; -1 when not hex. */
static int git_len(struct reader *r)
{
	int v = 0;
	for (int i = 0; i < 4; i++) {
		uint8_t c = rd_u8(r);
		if (c >= '0' && c <= '9')
			v = v * 16 + (c - '0');
		else if (c >= 'a' && c <= 'f')
			v = v * 16 + (c - 'a' + 10);
		else
			return -1;
	}
	return v;
}

static const char *const git_services[] = {"git-upload-pack ", "git-receive-pack ",
                                           "git-upload-archive "};

struct git_req {
	const char *service;
	const uint8_t *repo, *host;
	size_t repo_len, host_len;
};

static enum git_parse git_client(const struct ident_input *in, struct git_req *q)
{
	struct reader r;
	rd_init(&r, in->data[0], in->len[0]);
	if (!rd_has(&r, 4))
		return GIT_SHORT;
	int len = git_len(&r);
	if (len < 4 + 17 || len > 65520)
		return GIT_BAD;
	/* the service word can be checked before the whole line is here */
	q->service = NULL;
	for (size_t k = 0; k < 3; k++) {
		bool ok = true;
		uint8_t c;
		for (size_t i = 0; git_services[k][i] && ok; i++)
			if (rd_peek_u8(&r, i, &c) && c != (uint8_t)git_services[k][i])
				ok = false;
		if (ok)
			q->service = git_services[k];
	}
	if (!q->service)
		return GIT_BAD;
	if (!rd_has(&r, (size_t)len - 4))
		return GIT_SHORT;
	struct reader l = rd_sub(&r, (size_t)len - 4);
	size_t sl = 0;
	while (q->service[sl])
		sl++;
	if (!rd_starts(&l, q->service))
		return GIT_BAD;
	rd_skip(&l, sl);
	/* the path, up to NUL (or the line's end with an LF, old clients) */
	size_t i = 0;
	uint8_t c = 0;
	while (rd_peek_u8(&l, i, &c) && c != 0 && c != '\n')
		i++;
	if (i == 0 || !rd_printable(&l, i))
		return GIT_BAD;
	q->repo = rd_bytes(&l, i);
	q->repo_len = i;
	rd_skip(&l, 1);
	if (rd_starts(&l, "host=")) {
		rd_skip(&l, 5);
		i = 0;
		while (rd_peek_u8(&l, i, &c) && c != 0)
			i++;
		if (!rd_printable(&l, i))
			return GIT_BAD;
		q->host = rd_bytes(&l, i);
		q->host_len = i;
	}
	return GIT_OK;
}

static enum git_parse git_server(const struct ident_input *in)
{
	struct reader r;
	rd_init(&r, in->data[1], in->len[1]);
	if (!rd_has(&r, 4))
		return in->done[1] && in->len[1] ? GIT_BAD : GIT_SHORT;
	int len = git_len(&r);
	if (len < 0 || (len > 0 && len < 5) || len > 65520)
		return GIT_BAD;
	if (len == 0)
		return GIT_OK; /* flush: empty repository */
	/* a ref ("<40 hex> name"), "version N", or "ERR text" */
	if (rd_starts(&r, "ERR ") || rd_starts(&r, "version "))
		return GIT_OK;
	/* the start of "ERR " or "version ": the rest may come (NO_MATCH
	 * is final) */
	static const char *const words[] = {"ERR ", "version "};
	for (size_t k = 0; k < 2 && !in->done[1]; k++) {
		size_t i = 0;
		uint8_t c;
		while (words[k][i] && rd_peek_u8(&r, i, &c) && c == (uint8_t)words[k][i])
			i++;
		if (words[k][i] && i == rd_remaining(&r))
			return GIT_SHORT;
	}
	if (len < 4 + 41)
		return GIT_BAD;
	for (size_t i = 0; i < 41; i++) {
		uint8_t c;
		if (!rd_peek_u8(&r, i, &c))
			return in->done[1] ? GIT_BAD : GIT_SHORT;
		if (i == 40 ? c != ' ' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return GIT_BAD;
	}
	return GIT_OK;
}

static enum ident_verdict git_match(const struct ident_input *in, struct ident_evidence *ev)
{
	struct git_req q = {0};
	enum git_parse pc = git_client(in, &q);
	if (pc == GIT_BAD)
		return IDENT_NO_MATCH;
	enum git_parse ps = git_server(in);
	if (ps == GIT_BAD)
		return IDENT_NO_MATCH;
	if (pc == GIT_SHORT) /* the rest of the request may come (NO_MATCH is final) */
		return in->done[0] ? IDENT_NO_MATCH : IDENT_NEED_MORE;
	if (ps == GIT_SHORT) {
		if (!in->done[1])
			return IDENT_NEED_MORE;
		ev->confidence = 80;
	} else {
		ev->server_confirmed = true;
		ev->confidence = 100;
	}
	size_t sl = 0;
	while (q.service[sl + 1])
		sl++;
	ident_add(ev, "git_service", (const uint8_t *)q.service, sl);
	ident_add(ev, "git_repo", q.repo, q.repo_len);
	if (q.host)
		ident_add(ev, "git_host", q.host, q.host_len);
	return IDENT_MATCH;
}

const struct ident_proto ident_git = {"git", "Git protocol (git://, gitprotocol-pack)", IDENT_TCP,
                                      git_match, NULL, NULL};
