/*
 * http2.h - what proto_http2.c shares with proto_grpc.c: the HTTP/2 prior
 * knowledge parse and the first request's header fields (HPACK-decoded),
 * so that the two identifiers never both claim a flow.
 */
#ifndef OFFPORT_IDENTIFY_HTTP2_H
#define OFFPORT_IDENTIFY_HTTP2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "identify/hpack.h"
#include "identify/identify.h"

enum h2_req_state {
	H2_REQ_NONE,    /* no HEADERS frame began in the client's bytes */
	H2_REQ_PARTIAL, /* its header block is not all there */
	H2_REQ_OK,      /* the first header block decoded */
	H2_REQ_BAD,     /* the frames or the header block are malformed */
};

struct h2_value {
	uint8_t b[HPACK_VALUE_MAX];
	size_t len;
	bool have;
};

/* The client's first request (RFC 9113 8.3.1 pseudo-header fields and the
 * fields gRPC names). */
struct h2_request {
	enum h2_req_state state;
	struct h2_value method, path, authority, content_type, user_agent, te;
};

/* proto_http2's verdict on the flow, with its evidence (http2_preface,
 * http2_settings, http2_authority, http2_path), and the first request.
 * NEED_MORE while the client's first header block may still come. rq is
 * the request only when the answer is MATCH (before the preface it is not
 * even cleared). */
enum ident_verdict http2_parse(const struct ident_input *in, struct ident_evidence *ev,
                               struct h2_request *rq);

/* The request's content-type is gRPC's: application/grpc, alone or with a
 * "+format" or ";parameters" (gRPC PROTOCOL-HTTP2.md, "Content-Type"). */
bool http2_is_grpc(const struct h2_request *rq);

#endif
