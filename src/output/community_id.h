/*
 * community_id.h - Community ID flow hashing, version 1
 * (github.com/corelight/community-id-spec), so that offport's records join
 * Zeek's, Suricata's and Elastic's on the same "1:..." string.
 */
#ifndef OFFPORT_OUTPUT_COMMUNITY_ID_H
#define OFFPORT_OUTPUT_COMMUNITY_ID_H

#include <stddef.h>
#include <stdint.h>

/* The text's length: "1:" and the 28 base64 characters of 20 bytes. */
#define COMMUNITY_ID_LEN 30

/* Writes "1:<base64 of SHA-1>" (31 bytes with the NUL) into out[32].
 * Addresses as in struct packet (IPv4 in the first 4 bytes); ports in
 * host order; seed 0 unless configured. */
void community_id_v1(uint16_t seed, uint8_t ipver, uint8_t proto, const uint8_t src[16],
                     uint16_t sport, const uint8_t dst[16], uint16_t dport, char out[32]);

/* community_id_v1 in its two steps, for a writer that hashes first and
 * writes the text later (report.c): the SHA-1 digest of the flow's tuple,
 * then its text, COMMUNITY_ID_LEN bytes at out without a NUL. */
void community_id_hash(uint16_t seed, uint8_t ipver, uint8_t proto, const uint8_t src[16],
                       uint16_t sport, const uint8_t dst[16], uint16_t dport, uint8_t digest[20]);
void community_id_text(const uint8_t digest[20], char *out);

#endif
