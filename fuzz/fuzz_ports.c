/*
 * fuzz_ports.c - libFuzzer harness for the ports registry parser: any
 * bytes as a --ports file over the built-in registry. It must answer 0 or
 * -1 with a "name:line: message" error, never crash or overrun.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verdict/ports.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ports base, p;
	static int ready;
	char err[512];
	if (!ready) {
		if (ports_load_default(&base, err, sizeof err) != 0)
			abort();
		ready = 1;
	}
	p = base;
	char *text = malloc(size ? size : 1);
	if (!text)
		abort();
	memcpy(text, data, size);
	err[0] = 0;
	int rc = ports_load_text(&p, "fuzz.conf", text, size, true, err, sizeof err);
	if (rc != 0 && strncmp(err, "fuzz.conf:", 10) != 0)
		abort();
	if (rc == 0 && p.nsets > PORTS_MAX_SETS)
		abort();
	free(text);
	return 0;
}
