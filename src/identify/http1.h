/*
 * http1.h - what proto_http.c shares with proto_websocket.c: the parse of
 * an HTTP/1.x exchange's first messages and the WebSocket upgrade decision
 * (RFC 6455 section 4), so that the two identifiers never disagree on
 * where HTTP ends and WebSocket begins.
 */
#ifndef OFFPORT_IDENTIFY_HTTP1_H
#define OFFPORT_IDENTIFY_HTTP1_H

#include <stdbool.h>

#include "common/reader.h"
#include "identify/identify.h"

/* The header fields an analyst pivots on, and those of the WebSocket
 * opening handshake, from one message. */
struct http_fields {
	struct reader host, agent, server, upgrade, ws_key, ws_protocol, ws_accept;
	bool have_host, have_agent, have_server, have_upgrade, have_ws_key, have_ws_protocol,
	    have_ws_accept;
	bool upgrade_ws; /* an Upgrade field names the token "websocket" */
	bool end;        /* the empty line that ends the header block was seen */
};

/* The exchange as proto_http parsed it. */
struct http_view {
	bool midstream;      /* the match rests on a message found mid-stream */
	bool request;        /* the client's request line is whole */
	bool get;            /* ... and its method is GET */
	bool status;         /* the server's status line is whole */
	bool status_101;     /* ... and its code is 101 (Switching Protocols) */
	struct http_fields client, server;
};

/* proto_http's verdict on the exchange, with its evidence, and the view. */
enum ident_verdict http_parse(const struct ident_input *in, struct ident_evidence *ev,
                              struct http_view *h);

enum http_ws {
	HTTP_WS_NO,   /* not a WebSocket upgrade: the flow is HTTP's to name */
	HTTP_WS_WAIT, /* an upgrade may be under way: more bytes will tell */
	HTTP_WS_YES,  /* the server switched to WebSocket (101 + websocket) */
};

/* Whether the exchange (verdict v from http_parse) is a WebSocket upgrade. */
enum http_ws http_websocket(const struct ident_input *in, enum ident_verdict v,
                            const struct http_view *h);

/* True when the client's request alone makes http_websocket answer
 * HTTP_WS_NO, whatever http_parse says of the rest (and proto_websocket
 * answer NO_MATCH): a whole request line from a client to a server read
 * from its start, whose method is not GET or whose whole header block
 * asks for no websocket upgrade. Reads the client's request only, where
 * http_parse reads both sides and makes the evidence; false when it
 * cannot tell so cheaply. */
bool http_request_not_ws(const struct ident_input *in);

/* True when b is the first letter of a registered method (request_line
 * takes no request line starting otherwise): the client's first_byte set
 * of http and websocket. */
bool http_method_initial(uint8_t b);

#endif
