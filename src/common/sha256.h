/*
 * sha256.h - SHA-256 (FIPS 180-4 section 6.2) over one buffer.
 *
 * For published formats that name SHA-256 (the JA4 TLS client fingerprint
 * hashes its cipher and extension lists with it), not for security.
 */
#ifndef OFFPORT_COMMON_SHA256_H
#define OFFPORT_COMMON_SHA256_H

#include <stddef.h>
#include <stdint.h>

/* Uses the CPU's SHA instructions where it has them. */
void sha256_digest(const uint8_t *data, size_t n, uint8_t out[32]);

/* The portable code path always (tests compare the two). */
void sha256_digest_generic(const uint8_t *data, size_t n, uint8_t out[32]);

#endif
