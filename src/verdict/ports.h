/*
 * ports.h - the ports registry: which protocols each server port is
 * expected to carry (etc/ports.conf, compiled into the binary, and a user
 * file given with --ports).
 */
#ifndef OFFPORT_VERDICT_PORTS_H
#define OFFPORT_VERDICT_PORTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PORTS_MAX_PROTOS 128 /* protocols a set can hold (identify registry size) */
#define PORTS_MAX_SETS 1024  /* distinct protocol sets in one registry */

enum ports_transport { PORTS_TCP = 0, PORTS_UDP = 1 };

/* A set of protocols: bit i = ident_registry[i]. */
struct proto_set {
	uint64_t w[PORTS_MAX_PROTOS / 64];
};

static inline bool proto_set_has(const struct proto_set *s, int proto)
{
	return proto >= 0 && proto < PORTS_MAX_PROTOS && (s->w[proto / 64] >> (proto % 64)) & 1u;
}

static inline bool proto_set_empty(const struct proto_set *s)
{
	for (size_t i = 0; i < PORTS_MAX_PROTOS / 64; i++)
		if (s->w[i])
			return false;
	return true;
}

struct ports {
	/* per transport and port: index into sets[], 0 = no entry; port 0
	 * holds the tcp/any and udp/any entries */
	uint16_t entry[2][65536];
	struct proto_set sets[PORTS_MAX_SETS];
	unsigned nsets;
};

/* The registry from the etc/ports.conf compiled into offport. Returns 0,
 * or -1 with "etc/ports.conf:LINE: message" in err. */
int ports_load_default(struct ports *p, char *err, size_t errlen);

/* Applies a user file on top (replace, "+" add, "-" remove per port).
 * Returns 0, or -1 with "FILE:LINE: message" in err. */
int ports_load_file(struct ports *p, const char *path, char *err, size_t errlen);

/* Parses text as if read from a file named `name` (for tests and the
 * default). overlay: the "+" and "-" forms are allowed. */
int ports_load_text(struct ports *p, const char *name, const char *text, size_t len,
                    bool overlay, char *err, size_t errlen);

/* The protocols expected on a server port; NULL when the port has no entry. */
const struct proto_set *ports_expected(const struct ports *p, enum ports_transport t,
                                       uint16_t port);

/* True when proto is accepted on every port of transport t that has no
 * entry ("tcp/any bittorrent": protocols that pick their ports at random). */
bool ports_anywhere(const struct ports *p, enum ports_transport t, int proto);

/* Writes the ports where proto is expected (tcp/any first when it is
 * accepted on any port without an entry), as "tcp/443,udp/443,tcp/8443"
 * (ranges as tcp/6665-6669), at most outlen bytes. Returns the count of
 * entries written. */
unsigned ports_of_proto(const struct ports *p, int proto, char *out, size_t outlen);

#endif
