/*
 * identify.h - what protocol a flow speaks, from its bytes alone.
 *
 * An identifier is a pure function over the first bytes of both directions
 * of one flow (client to server, server to client), as the stream module
 * reassembled them. It never sees a port: a port is never evidence for a
 * protocol (a custom protocol on 443 is not TLS because of 443).
 *
 * It answers
 *   IDENT_NO_MATCH   these bytes are not this protocol;
 *   IDENT_NEED_MORE  they could be, more bytes (of either side) would tell;
 *   IDENT_MATCH      they are, with evidence filled in.
 *
 * Rules every identifier follows:
 *   - read bytes only through struct reader (common/reader.h has the
 *     text helpers: rd_starts, rd_starts_ci, rd_line, rd_printable);
 *   - a server that answers in another protocol cancels the client's claim
 *     (an HTTP request to an SSH server is SSH, not HTTP on port 22): an
 *     identifier that matched on the client's bytes checks the server's
 *     bytes when there are any, and returns NO_MATCH when they contradict;
 *   - while the server has not spoken and may still speak (!done[1]), a
 *     client-only claim answers NEED_MORE, unless the protocol is one where
 *     the server never answers first bytes worth waiting for;
 *   - when a direction is done (no more bytes will come: FIN, budget spent,
 *     flow ended), NEED_MORE for lack of that direction's bytes becomes a
 *     final answer: MATCH on what is there, or NO_MATCH;
 *   - NO_MATCH is final: it means no continuation of these bytes can be
 *     this protocol. Once an identifier answers NO_MATCH, it answers
 *     NO_MATCH on every longer input (either direction grown, in any order,
 *     a direction done), so the engine never asks it again for that flow
 *     (ident_run_more). An answer that more bytes could change is
 *     NEED_MORE: a client-first protocol whose client has not spoken yet,
 *     a server-first one whose server has not, a one-sided decision while
 *     the side that could still speak is not done. tests/unit/
 *     test_identify.c checks this on every sample in every order the
 *     directions can grow in, fuzz/fuzz_identify.c on arbitrary bytes;
 *   - evidence values are copied bounded (IDENT_VALUE_MAX); they are raw
 *     bytes from the wire, escaped by the output.
 *
 * Adding a protocol: one file src/identify/proto_NAME.c defining its
 * function and its `const struct ident_proto ident_NAME`, one line in the
 * table in identify.c, samples under tests/identify/samples/NAME/, and its
 * cases in tests/identify/.
 */
#ifndef OFFPORT_IDENTIFY_IDENTIFY_H
#define OFFPORT_IDENTIFY_IDENTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum ident_verdict { IDENT_NO_MATCH = 0, IDENT_NEED_MORE = 1, IDENT_MATCH = 2 };

#define IDENT_TCP 0x01
#define IDENT_UDP 0x02

#define IDENT_DGRAMS_MAX 8

/* The bytes an identifier judges. Index 0 is client to server, 1 server to
 * client (enum flow_dir). */
struct ident_input {
	const uint8_t *data[2];
	uint32_t len[2];
	bool done[2];        /* this direction will bring no more bytes */
	bool truncated[2];   /* the snap length cut some of this direction's
	                        bytes: a message may end early */
	bool midstream[2];   /* the capture began after this direction's first
	                        byte (TCP without its SYN): data[d] starts
	                        somewhere inside the stream, not at its start */
	uint8_t transport;   /* IDENT_TCP or IDENT_UDP */
	/* UDP: the lengths of the first datagrams of each direction, as kept
	 * (data[d] holds them back to back). */
	uint8_t ndgrams[2];
	uint16_t dgram_len[2][IDENT_DGRAMS_MAX];
};

#define IDENT_FIELDS_MAX 8
#define IDENT_VALUE_MAX 256

/* One piece of evidence, e.g. {"sni", "example.com"}. key is a static
 * string: the JSON field name under offport.evidence. */
struct ident_field {
	const char *key;
	uint16_t len;
	uint8_t value[IDENT_VALUE_MAX];
};

struct ident_evidence {
	uint8_t nfields;
	struct ident_field field[IDENT_FIELDS_MAX];
	uint8_t confidence;     /* 0-100: how sure the MATCH is */
	bool server_confirmed;  /* the server's bytes agree with the protocol */
	bool tls_upgrade;       /* a STARTTLS-style upgrade to TLS was accepted */
	/* An identifier may leave a field's value empty at MATCH and name
	 * here the function that fills it in, when that value costs more
	 * than the decision needs and is only shown (TLS: the JA4
	 * fingerprint, two SHA-256, of which a flow that is no finding shows
	 * nothing). NULL when nothing is left to do; see ident_finish. */
	void (*finish)(const struct ident_input *in, struct ident_evidence *ev);
};

/* Appends a field (value cut to IDENT_VALUE_MAX); ignored when full. */
void ident_add(struct ident_evidence *ev, const char *key, const uint8_t *value, size_t len);
void ident_add_str(struct ident_evidence *ev, const char *key, const char *value);
void ident_add_u64(struct ident_evidence *ev, const char *key, uint64_t v);
/* UDP: datagram k of direction d, as a reader over the bytes kept of it
 * (in->data[d] holds the datagrams back to back). False when there is no
 * such datagram. */
struct reader;
bool ident_dgram(const struct ident_input *in, int d, unsigned k, struct reader *out);
/* All of them at once, into out[IDENT_DGRAMS_MAX]: out[k] as ident_dgram
 * gives it, for k up to the first for which ident_dgram is false (false
 * for every later k too); returns that k. One walk over the lengths,
 * where a loop calling ident_dgram for each k walks k^2/2 of them. */
unsigned ident_dgrams(const struct ident_input *in, int d, struct reader *out);

/* Fills in what the identifier left to ev->finish, from the input the
 * MATCH was made on (the same bytes: the fields come out as the
 * identifier would have written them at once). Call it before the
 * evidence is shown; ident_run calls it itself. */
void ident_finish(const struct ident_input *in, struct ident_evidence *ev);

/* The value of a field, or NULL. */
const struct ident_field *ident_get(const struct ident_evidence *ev, const char *key);
void ident_clear(struct ident_evidence *ev);

typedef enum ident_verdict (*ident_fn)(const struct ident_input *in, struct ident_evidence *ev);

struct ident_proto {
	const char *name;   /* short lower-case name: "tls", "http", "ssh" */
	const char *title;  /* for people: "TLS (RFC 8446)" */
	uint8_t transports; /* IDENT_TCP | IDENT_UDP it can be carried over */
	ident_fn match;
	/* A protocol that rides inside another one names it here: websocket
	 * and http, grpc and http2, tor and tls. A port whose entry lists the
	 * carrier accepts the passenger (WebSocket on tcp/80 is no finding);
	 * NULL for the others. */
	const char *carrier;
	/* Optional (NULL: none declared): the bytes direction d (0 the
	 * client, 1 the server) can start with when this identifier can
	 * answer anything but NO_MATCH. When that direction's first message
	 * is there from its start (ident_first_byte below: in->len[d] > 0,
	 * !in->midstream[d], and over UDP a first datagram that is not empty
	 * and kept whole), first_byte(d, in->transport, in->data[d][0]) false
	 * means that match answers NO_MATCH on this input, whatever else it
	 * holds (the other side's bytes, done, truncated, the other
	 * datagrams). Each is derived from its identifier's first checks,
	 * conservatively (a byte in doubt is admitted, and a direction with
	 * no set admits all); ident_run_more rules out the identifiers it
	 * excludes without calling them. tests/unit/test_identify.c and
	 * fuzz/fuzz_identify.c check the claim. */
	bool (*first_byte)(int d, uint8_t transport, uint8_t b);
};

/* Whether direction d's first message is there from its start, so that
 * in->data[d][0] is its first byte: the condition under which the
 * first_byte declarations hold. Over UDP the first datagram must be
 * there, not empty, and within the bytes kept (the stream module records
 * the lengths kept, so it always is: the condition only spares the
 * declarations a case the engine never makes). */
static inline bool ident_first_byte(const struct ident_input *in, int d)
{
	if (in->len[d] == 0 || in->midstream[d])
		return false;
	return in->transport != IDENT_UDP ||
	       (in->ndgrams[d] > 0 && in->dgram_len[d][0] > 0 && in->dgram_len[d][0] <= in->len[d]);
}

/* The registry, in the order identifiers are tried (most specific first). */
extern const struct ident_proto *const ident_registry[];
extern const unsigned ident_count;

/* Index of a protocol by name, or -1. */
int ident_find(const char *name);

/* What an unidentified flow's first message looks like (payload.c): text
 * or structured binary (plausibly a protocol offport does not know yet),
 * or opaque (random-looking: encrypted, compressed, or noise). */
enum ident_payload {
	IDENT_PAYLOAD_NONE = 0, /* no payload */
	IDENT_PAYLOAD_TEXT,
	IDENT_PAYLOAD_STRUCTURED,
	IDENT_PAYLOAD_OPAQUE,
};
enum ident_payload ident_payload_class(const struct ident_input *in);
const char *ident_payload_name(enum ident_payload p);

/* Result of running the registry over one flow's first bytes. */
struct ident_result {
	enum ident_verdict verdict; /* MATCH: proto is set; NEED_MORE: wait */
	int proto;                  /* index into ident_registry, -1 if none */
	struct ident_evidence ev;
};

/* Runs every identifier that supports the input's transport, and on a
 * MATCH finishes the evidence (ident_finish). A MATCH that
 * the server's bytes confirm beats one resting on the client's bytes only;
 * among equals the registry order decides. NEED_MORE when no identifier
 * matched and at least one asked for more. */
void ident_run(const struct ident_input *in, struct ident_result *out);

/* A set of identifiers (bit i: ident_registry[i]). */
#define IDENT_SET_WORDS 2
struct ident_set {
	uint64_t w[IDENT_SET_WORDS];
};

/* ident_run for a flow judged again as its bytes grow: the identifiers in
 * *ruled_out are not run (they answered NO_MATCH on a prefix of these
 * bytes, and NO_MATCH is final); those answering NO_MATCH now are added.
 * The evidence of a MATCH may be unfinished: ident_finish before showing
 * it. */
void ident_run_more(const struct ident_input *in, struct ident_set *ruled_out,
                    struct ident_result *out);

/* The identifiers a run on in may call: those supporting its transport,
 * less those whose first_byte excludes a direction's first byte where
 * ident_first_byte holds (the prefilter of ident_run_more). */
void ident_admitted(const struct ident_input *in, struct ident_set *out);

/* How many identifiers the calling thread's runs have called so far (for
 * the tests: what the prefilter saves). */
unsigned long ident_calls(void);

#endif
