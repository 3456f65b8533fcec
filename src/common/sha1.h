/*
 * sha1.h - SHA-1 (FIPS 180-4) over one buffer.
 *
 * For published formats that name SHA-1 (the WebSocket handshake's
 * Sec-WebSocket-Accept, RFC 6455 section 4.2.2), not for security.
 */
#ifndef OFFPORT_COMMON_SHA1_H
#define OFFPORT_COMMON_SHA1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Uses the CPU's SHA instructions where it has them. */
void sha1_digest(const uint8_t *data, size_t n, uint8_t out[20]);

/* The digest of a message of n <= 55 bytes at the start of block, whose
 * other bytes are zero: padded there in place and hashed as one block,
 * without the copy into a block of its own that sha1_digest makes (a
 * Community ID per flow record). The block's bytes past n are
 * overwritten. */
void sha1_digest_block(uint8_t block[64], size_t n, uint8_t out[20]);

/* The portable code path always (tests compare the two). */
void sha1_digest_generic(const uint8_t *data, size_t n, uint8_t out[20]);

/* Whether sha1_digest runs on the CPU's SHA instructions. */
bool sha1_accelerated(void);

#endif
