/*
 * test_ja4.c - SHA-256 against FIPS 180-4's examples, and the JA4 TLS
 * client fingerprint against the example published with its specification
 * (FoxIO, technical_details/JA4.md). The fingerprint of whole ClientHellos
 * is checked by the identify samples (tls13_ech_cloudflare.txt: a Chrome
 * hello, t13d1516h2_8daaf6152771_02713d6af862, the value FoxIO's JA4
 * database lists for Chromium).
 */
#include <string.h>

#include "check.h"
#include "common/sha256.h"
#include "identify/identify.h"
#include "identify/protocols.h"

static void hex(const uint8_t *d, size_t n, char *out)
{
	static const char h[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = h[d[i] >> 4];
		out[2 * i + 1] = h[d[i] & 0xf];
	}
	out[2 * n] = 0;
}

static void sha(const char *msg, size_t n, const char *want)
{
	uint8_t d[32];
	char got[65];
	sha256_digest((const uint8_t *)msg, n, d);
	hex(d, 32, got);
	if (strcmp(got, want) != 0)
		fprintf(stderr, "sha256(%zu bytes) = %s, want %s\n", n, got, want);
	CHECK(strcmp(got, want) == 0);
}

int main(void)
{
	/* FIPS 180-4 examples (NIST CSRC "SHA256.pdf"): one block, two blocks. */
	sha("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	sha("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56,
	    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	sha("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	{
		/* One million 'a' (FIPS 180-2 appendix B.3), over many blocks. */
		static char m[1000000];
		memset(m, 'a', sizeof m);
		sha(m, sizeof m, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	}
	/* Lengths around the padding boundary (55, 56, 63, 64 bytes). */
	sha("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 55,
	    "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
	sha("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 64,
	    "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");

	{
		/* The CPU's SHA instructions (where present) against the portable
		 * path, and the portable path against a known vector, on
		 * pseudo-random messages of every length to 300 bytes. */
		uint8_t d[32];
		sha256_digest_generic((const uint8_t *)"abc", 3, d);
		char got[65];
		hex(d, 32, got);
		CHECK(strcmp(got, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") ==
		      0);
		CHECK_EQ_U(
		    check_digests_differ(sha256_digest, sha256_digest_generic, 32, 0x9e3779b97f4a7c15u), 0);
	}

	/* JA4.md "Example": the cipher and extension lists in the order of
	 * its "JA4_ro" line, SNI and ALPN h2 present. */
	static const uint16_t suites[] = {0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9,
	                                  0xcca8, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035};
	static const uint16_t exts[] = {0x001b, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002d, 0x000d,
	                                0x0005, 0x0023, 0x0012, 0x002b, 0xff01, 0x000b, 0x000a, 0x0015};
	static const uint16_t sigs[] = {0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601};
	const uint8_t h2[2] = {'h', '2'};
	char fp[37];
	size_t n = ident_ja4_build(true, 0x0304, suites, 15, exts, 16, sigs, 8, h2, 2, fp);
	CHECK_EQ_U(n, 36);
	CHECK(strcmp(fp, "t13d1516h2_8daaf6152771_e5627efa2ab1") == 0);
	/* Without signature algorithms the extension list is hashed alone:
	 * "... = 6d807ffa2a79" in the same document. */
	ident_ja4_build(true, 0x0304, suites, 15, exts, 16, sigs, 0, h2, 2, fp);
	CHECK(strcmp(fp + 24, "6d807ffa2a79") == 0);
	/* Empty lists hash to twelve zeros; no ALPN is "00"; no SNI is "i". */
	ident_ja4_build(false, 0x0303, suites, 0, exts, 0, sigs, 0, h2, 0, fp);
	CHECK(strcmp(fp, "t12i000000_000000000000_000000000000") == 0);
	/* ALPN bytes that are not alphanumeric: first and last hex digits
	 * (JA4.md: 0x30 0xAB -> "3b", 0xAB 0xCD -> "ad"). */
	const uint8_t a1[2] = {0x30, 0xab}, a2[2] = {0xab, 0xcd};
	ident_ja4_build(false, 0x0303, suites, 1, exts, 0, sigs, 0, a1, 2, fp);
	CHECK(fp[8] == '3' && fp[9] == 'b');
	ident_ja4_build(false, 0x0303, suites, 1, exts, 0, sigs, 0, a2, 2, fp);
	CHECK(fp[8] == 'a' && fp[9] == 'd');
	return check_done();
}
