/*
 * sha1.h - SHA-1 (FIPS 180-4) over one buffer.
 *
 * For published formats that name SHA-1 (the WebSocket handshake's
 * Sec-WebSocket-Accept, RFC 6455 section 4.2.2), not for security.
 */
#ifndef OFFPORT_COMMON_SHA1_H
#define OFFPORT_COMMON_SHA1_H

#include <stddef.h>
#include <stdint.h>

void sha1_digest(const uint8_t *data, size_t n, uint8_t out[20]);

#endif
