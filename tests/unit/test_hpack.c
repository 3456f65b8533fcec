/*
 * test_hpack.c - the HPACK decoder (identify/hpack.c) on the examples of
 * RFC 7541 Appendix C, and SHA-1 (common/sha1.c) on FIPS 180 and RFC 6455
 * vectors.
 */
#include <string.h>

#include "check.h"
#include "common/sha1.h"
#include "identify/hpack.h"

struct got {
	unsigned n;
	char name[8][64];
	char value[8][256];
	bool dynamic[8];
};

static void collect(void *ctx, const struct hpack_field *f)
{
	struct got *g = ctx;
	if (g->n >= 8)
		return;
	snprintf(g->name[g->n], sizeof g->name[0], "%.*s", (int)f->name_len, (const char *)f->name);
	snprintf(g->value[g->n], sizeof g->value[0], "%.*s", (int)f->value_len,
	         (const char *)f->value);
	g->dynamic[g->n] = f->dynamic;
	g->n++;
}

static void test_huffman(void)
{
	/* C.4.1: "www.example.com" */
	static const uint8_t www[] = {0xf1, 0xe3, 0xc2, 0xe5, 0xf2, 0x3a,
	                              0x6b, 0xa0, 0xab, 0x90, 0xf4, 0xff};
	uint8_t out[64];
	size_t n;
	bool cut;
	CHECK(hpack_huffman(www, sizeof www, out, sizeof out, &n, &cut));
	CHECK(n == 15 && memcmp(out, "www.example.com", 15) == 0 && !cut);
	/* C.4.2: "no-cache" */
	static const uint8_t nc[] = {0xa8, 0xeb, 0x10, 0x64, 0x9c, 0xbf};
	CHECK(hpack_huffman(nc, sizeof nc, out, sizeof out, &n, &cut));
	CHECK(n == 8 && memcmp(out, "no-cache", 8) == 0);
	/* Cut to the room given. */
	CHECK(hpack_huffman(www, sizeof www, out, 3, &n, &cut));
	CHECK(n == 3 && cut && memcmp(out, "www", 3) == 0);
	/* Padding of 8 ones, padding with a zero, EOS inside: invalid. */
	static const uint8_t pad8[] = {0xf1, 0xe3, 0xc2, 0xe5, 0xf2, 0x3a,
	                               0x6b, 0xa0, 0xab, 0x90, 0xf4, 0xff, 0xff};
	CHECK(!hpack_huffman(pad8, sizeof pad8, out, sizeof out, &n, &cut));
	static const uint8_t pad0[] = {0xa8, 0xeb, 0x10, 0x64, 0x9c, 0xbe};
	CHECK(!hpack_huffman(pad0, sizeof pad0, out, sizeof out, &n, &cut));
	static const uint8_t eos[] = {0xff, 0xff, 0xff, 0xff};
	CHECK(!hpack_huffman(eos, sizeof eos, out, sizeof out, &n, &cut));
	/* Every octet: the code of '0' is 00000, of '/' 011000 (Appendix B). */
	static const uint8_t zeros[] = {0x00, 0x01}; /* "000" and one bit of padding */
	CHECK(hpack_huffman(zeros, 2, out, sizeof out, &n, &cut));
	CHECK(n == 3 && memcmp(out, "000", 3) == 0);
	static const uint8_t slash[] = {0x63}; /* 011000 11 */
	CHECK(hpack_huffman(slash, 1, out, sizeof out, &n, &cut));
	CHECK(n == 1 && out[0] == '/');
	/* Long codes of Appendix B, each padded with ones to a byte. */
	static const struct {
		uint8_t sym, n, b[4];
	} longc[] = {
	    {255, 4, {0xff, 0xff, 0xfb, 0xbf}}, {1, 3, {0xff, 0xff, 0xb1}},
	    {10, 4, {0xff, 0xff, 0xff, 0xf3}},  {203, 4, {0xff, 0xff, 0xfb, 0xdf}},
	    {128, 3, {0xff, 0xfe, 0x6f}},       {92, 3, {0xff, 0xfe, 0x1f}},
	    {234, 4, {0xff, 0xff, 0xf7, 0x7f}},
	};
	for (size_t i = 0; i < sizeof longc / sizeof longc[0]; i++) {
		CHECK(hpack_huffman(longc[i].b, longc[i].n, out, sizeof out, &n, &cut));
		CHECK(n == 1 && out[0] == longc[i].sym);
	}
}

static void test_blocks(void)
{
	struct got g;
	/* C.4.1 */
	static const uint8_t c41[] = {0x82, 0x86, 0x84, 0x41, 0x8c, 0xf1, 0xe3, 0xc2, 0xe5,
	                              0xf2, 0x3a, 0x6b, 0xa0, 0xab, 0x90, 0xf4, 0xff};
	memset(&g, 0, sizeof g);
	CHECK(hpack_decode(c41, sizeof c41, true, collect, &g) == HPACK_OK);
	CHECK_EQ_U(g.n, 4);
	CHECK(strcmp(g.name[0], ":method") == 0 && strcmp(g.value[0], "GET") == 0);
	CHECK(strcmp(g.name[1], ":scheme") == 0 && strcmp(g.value[1], "http") == 0);
	CHECK(strcmp(g.name[2], ":path") == 0 && strcmp(g.value[2], "/") == 0);
	CHECK(strcmp(g.name[3], ":authority") == 0 && strcmp(g.value[3], "www.example.com") == 0);
	/* C.3.3 third request refers to the dynamic table (index 63): within a
	 * first block that inserted nothing this is an error. */
	static const uint8_t c33[] = {0x82, 0x87, 0x85, 0xbf, 0x40, 0x0a, 0x63, 0x75, 0x73, 0x74,
	                              0x6f, 0x6d, 0x2d, 0x6b, 0x65, 0x79, 0x0c, 0x63, 0x75, 0x73,
	                              0x74, 0x6f, 0x6d, 0x2d, 0x76, 0x61, 0x6c, 0x75, 0x65};
	memset(&g, 0, sizeof g);
	CHECK(hpack_decode(c33, sizeof c33, true, collect, &g) == HPACK_BAD);
	/* Without the 0xbf: literal name and value (C.2.1 style). */
	static const uint8_t c33b[] = {0x82, 0x87, 0x85, 0x40, 0x0a, 0x63, 0x75, 0x73, 0x74,
	                               0x6f, 0x6d, 0x2d, 0x6b, 0x65, 0x79, 0x0c, 0x63, 0x75,
	                               0x73, 0x74, 0x6f, 0x6d, 0x2d, 0x76, 0x61, 0x6c, 0x75,
	                               0x65, 0xbe};
	memset(&g, 0, sizeof g);
	CHECK(hpack_decode(c33b, sizeof c33b, true, collect, &g) == HPACK_OK);
	CHECK_EQ_U(g.n, 5);
	CHECK(strcmp(g.name[3], "custom-key") == 0 && strcmp(g.value[3], "custom-value") == 0);
	CHECK(g.dynamic[4]); /* 0xbe: index 62, the entry just inserted */
	/* C.4.3's Huffman-coded literal name and value. */
	static const uint8_t c43[] = {0x40, 0x88, 0x25, 0xa8, 0x49, 0xe9, 0x5b, 0xa9, 0x7d, 0x7f,
	                              0x89, 0x25, 0xa8, 0x49, 0xe9, 0x5b, 0xb8, 0xe8, 0xb4, 0xbf};
	memset(&g, 0, sizeof g);
	CHECK(hpack_decode(c43, sizeof c43, true, collect, &g) == HPACK_OK);
	CHECK(g.n == 1 && strcmp(g.name[0], "custom-key") == 0 &&
	      strcmp(g.value[0], "custom-value") == 0);
	/* C.2.2 literal without indexing, C.2.3 never indexed. */
	static const uint8_t c22[] = {0x04, 0x0c, 0x2f, 0x73, 0x61, 0x6d, 0x70,
	                              0x6c, 0x65, 0x2f, 0x70, 0x61, 0x74, 0x68};
	memset(&g, 0, sizeof g);
	CHECK(hpack_decode(c22, sizeof c22, true, collect, &g) == HPACK_OK);
	CHECK(g.n == 1 && strcmp(g.name[0], ":path") == 0 && strcmp(g.value[0], "/sample/path") == 0);
	static const uint8_t c23[] = {0x10, 0x08, 0x70, 0x61, 0x73, 0x73, 0x77, 0x6f, 0x72,
	                              0x64, 0x06, 0x73, 0x65, 0x63, 0x72, 0x65, 0x74};
	memset(&g, 0, sizeof g);
	CHECK(hpack_decode(c23, sizeof c23, true, collect, &g) == HPACK_OK);
	CHECK(g.n == 1 && strcmp(g.name[0], "password") == 0 && strcmp(g.value[0], "secret") == 0);
	/* Cut inside the last field: the fields before it, HPACK_CUT; as a
	 * complete block, an error. */
	memset(&g, 0, sizeof g);
	CHECK(hpack_decode(c41, 10, false, collect, &g) == HPACK_CUT);
	CHECK_EQ_U(g.n, 3);
	CHECK(hpack_decode(c41, 10, true, collect, &g) == HPACK_BAD);
	/* Index 0, an integer that never ends, a size update after a field. */
	static const uint8_t idx0[] = {0x80};
	CHECK(hpack_decode(idx0, 1, true, collect, &g) == HPACK_BAD);
	static const uint8_t endless[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f};
	CHECK(hpack_decode(endless, sizeof endless, true, collect, &g) == HPACK_BAD);
	static const uint8_t late_update[] = {0x82, 0x20};
	CHECK(hpack_decode(late_update, 2, true, collect, &g) == HPACK_BAD);
	static const uint8_t early_update[] = {0x3f, 0xe1, 0x1f, 0x82};
	memset(&g, 0, sizeof g);
	CHECK(hpack_decode(early_update, 4, true, collect, &g) == HPACK_OK);
	CHECK(g.n == 1 && strcmp(g.value[0], "GET") == 0);
}

static void test_sha1(void)
{
	uint8_t d[20];
	static const uint8_t abc[20] = {0xa9, 0x99, 0x3e, 0x36, 0x47, 0x06, 0x81, 0x6a, 0xba, 0x3e,
	                                0x25, 0x71, 0x78, 0x50, 0xc2, 0x6c, 0x9c, 0xd0, 0xd8, 0x9d};
	sha1_digest((const uint8_t *)"abc", 3, d);
	CHECK_MEM(d, abc, 20);
	/* FIPS 180 two-block message (56 bytes: the length spills over). */
	static const char *m2 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	static const uint8_t d2[20] = {0x84, 0x98, 0x3e, 0x44, 0x1c, 0x3b, 0xd2, 0x6e, 0xba, 0xae,
	                               0x4a, 0xa1, 0xf9, 0x51, 0x29, 0xe5, 0xe5, 0x46, 0x70, 0xf1};
	sha1_digest((const uint8_t *)m2, strlen(m2), d);
	CHECK_MEM(d, d2, 20);
	/* RFC 6455 1.3: the key "dGhlIHNhbXBsZSBub25jZQ==" gives the accept
	 * "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", i.e. these 20 bytes. */
	static const char *ws = "dGhlIHNhbXBsZSBub25jZQ==258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
	static const uint8_t dws[20] = {0xb3, 0x7a, 0x4f, 0x2c, 0xc0, 0x62, 0x4f, 0x16, 0x90, 0xf6,
	                                0x46, 0x06, 0xcf, 0x38, 0x59, 0x45, 0xb2, 0xbe, 0xc4, 0xea};
	sha1_digest((const uint8_t *)ws, strlen(ws), d);
	CHECK_MEM(d, dws, 20);
	/* The same vectors on the portable path, and the two paths against
	 * each other on pseudo-random messages of every length to 300 bytes
	 * (one to six blocks, every padding case). */
	sha1_digest_generic((const uint8_t *)"abc", 3, d);
	CHECK_MEM(d, abc, 20);
	sha1_digest_generic((const uint8_t *)m2, strlen(m2), d);
	CHECK_MEM(d, d2, 20);
	CHECK_EQ_U(check_digests_differ(sha1_digest, sha1_digest_generic, 20, 0x853c49e6748fea9bu), 0);
	printf("sha1: CPU SHA instructions %s\n", sha1_accelerated() ? "used" : "not available");
}

int main(void)
{
	test_huffman();
	test_blocks();
	test_sha1();
	return check_done();
}
