/*
 * proto_grpc.c - gRPC over cleartext HTTP/2 (prior knowledge) over TCP.
 *
 * Specification: gRPC "PROTOCOL-HTTP2.md" (gRPC over HTTP2: Requests,
 * Content-Type, TE), on RFC 9113 (HTTP/2) and RFC 7541 (HPACK). gRPC over
 * TLS is TLS (ALPN "h2", proto_tls).
 *
 * Client: the HTTP/2 preface and SETTINGS (proto_http2 checks them, see its
 * header), then the first request's HEADERS frame, whose HPACK-coded block
 * carries
 *
 *   :method POST   :scheme http   :path /package.Service/Method
 *   :authority host:port
 *   content-type: application/grpc  (or application/grpc+proto, +json, ...;
 *                                     "application/grpc-web" is gRPC-Web)
 *   te: trailers   grpc-timeout, grpc-encoding, user-agent: grpc-go/1.60 ...
 *
 * Server: its SETTINGS frame first, as for any HTTP/2 server.
 *
 * The content-type decides: HTTP/2 whose first request is gRPC is gRPC;
 * proto_http2 leaves such a flow alone (the decision is http2_is_grpc,
 * shared), so the two never both claim it. gRPC's carrier is HTTP/2: a port
 * whose entry lists http2 accepts it.
 */
#include <string.h>

#include "identify/http2.h"
#include "identify/identify.h"
#include "identify/protocols.h"

static enum ident_verdict grpc_match(const struct ident_input *in, struct ident_evidence *ev)
{
	struct h2_request rq;
	struct ident_evidence h2;
	ident_clear(&h2);
	enum ident_verdict v = http2_parse(in, &h2, &rq);
	if (v != IDENT_MATCH)
		return v;
	if (!http2_is_grpc(&rq))
		return IDENT_NO_MATCH;
	if (rq.path.have)
		ident_add(ev, "grpc_path", rq.path.b, rq.path.len);
	if (rq.user_agent.have)
		ident_add(ev, "grpc_user_agent", rq.user_agent.b, rq.user_agent.len);
	ident_add(ev, "grpc_content_type", rq.content_type.b, rq.content_type.len);
	if (rq.authority.have)
		ident_add(ev, "http2_authority", rq.authority.b, rq.authority.len);
	ev->server_confirmed = h2.server_confirmed;
	/* te: trailers is required of gRPC clients; its absence is odd. */
	bool te = rq.te.have && rq.te.len == 8 && memcmp(rq.te.b, "trailers", 8) == 0;
	ev->confidence = (uint8_t)(h2.confidence - (te ? 0 : 10));
	return IDENT_MATCH;
}

/* The first bytes (identify.h, first_byte), of direction d.
 * The client's: http2_parse: the preface, compared as far as the bytes
 * go.
 * The server's: none declared. */
static bool grpc_first_byte(int d, uint8_t transport, uint8_t b)
{
	if (d != 0)
		return true;
	(void)transport;
	return b == 'P';
}

const struct ident_proto ident_grpc = {"grpc", "gRPC over HTTP/2 (gRPC PROTOCOL-HTTP2)",
                                       IDENT_TCP, grpc_match, "http2", grpc_first_byte};
