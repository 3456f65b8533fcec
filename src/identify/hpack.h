/*
 * hpack.h - a bounded HPACK (RFC 7541) decoder for the first header block
 * of an HTTP/2 connection, as proto_http2 and proto_grpc need it.
 *
 * It decodes the representations of RFC 7541 section 6 (indexed field,
 * literal with incremental indexing, without indexing, never indexed,
 * dynamic table size update), integers (5.1), string literals (5.2) plain or
 * Huffman-coded (Appendix B) and resolves names and values from the static
 * table (Appendix A). It keeps no dynamic table: the first header block of a
 * connection starts with an empty one (2.3.2), so a reference to it can
 * only name an entry that this same block inserted; such a field is passed
 * on with `dynamic` set and no name or value, and a reference beyond the
 * entries the block inserted is a decoding error.
 */
#ifndef OFFPORT_IDENTIFY_HPACK_H
#define OFFPORT_IDENTIFY_HPACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HPACK_NAME_MAX 64
#define HPACK_VALUE_MAX 256

struct hpack_field {
	uint8_t name[HPACK_NAME_MAX];
	uint8_t value[HPACK_VALUE_MAX];
	size_t name_len, value_len; /* bytes kept (cut at the maxima) */
	bool name_cut, value_cut;   /* the string was longer than kept */
	bool dynamic;               /* a dynamic table reference: unknown */
};

/* Called once per decoded field, in order. */
typedef void (*hpack_visit)(void *ctx, const struct hpack_field *f);

enum hpack_status {
	HPACK_OK,   /* the whole block decoded */
	HPACK_CUT,  /* the bytes ended inside a field (a block cut short by the
	               capture): the fields before it were visited */
	HPACK_BAD,  /* not a valid header block */
};

/* Decodes the header block p[0..len) (the concatenated fragments of a
 * HEADERS frame and its CONTINUATION frames). `complete` says the block is
 * all there; when false, running out of bytes inside a field is HPACK_CUT
 * rather than HPACK_BAD. */
enum hpack_status hpack_decode(const uint8_t *p, size_t len, bool complete, hpack_visit visit,
                               void *ctx);

/* Decodes a Huffman-coded string (RFC 7541 5.2, Appendix B) into out
 * (at most cap bytes, *cut set when more would have followed). False when
 * the code is invalid: the EOS symbol inside, or padding longer than 7 bits
 * or not all ones. */
bool hpack_huffman(const uint8_t *p, size_t len, uint8_t *out, size_t cap, size_t *outlen,
                   bool *cut);

#endif
