/*
 * ber.h - one BER/DER tag-and-length header (ITU-T X.690 section 8.1),
 * for the identifiers of ASN.1 protocols (LDAP, Kerberos, SNMP).
 */
#ifndef OFFPORT_IDENTIFY_BER_H
#define OFFPORT_IDENTIFY_BER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/reader.h"

/* Reads a one-byte tag and a definite length (short form, or long form of
 * at most max_octets length bytes). False on a short header, the
 * indefinite form or a longer length; the value is not checked against
 * what r holds. */
static inline bool ber_header(struct reader *r, uint8_t *tag, size_t *len, unsigned max_octets)
{
	*tag = rd_u8(r);
	uint8_t l0 = rd_u8(r);
	if (!rd_ok(r))
		return false;
	if (l0 < 0x80) {
		*len = l0;
		return true;
	}
	unsigned n = l0 & 0x7f;
	if (n == 0 || n > max_octets)
		return false;
	size_t v = 0;
	for (unsigned i = 0; i < n; i++)
		v = v << 8 | rd_u8(r);
	*len = v;
	return rd_ok(r);
}

#endif
