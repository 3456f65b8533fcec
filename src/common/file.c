/*
 * file.c - see file.h.
 */
#include "common/file.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int file_read_all(const char *path, size_t max, char **out, size_t *outlen, char *err,
                  size_t errlen)
{
	*out = NULL;
	*outlen = 0;
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	errno = 0;
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);
	int rc = 0;
	while (buf) {
		len += fread(buf + len, 1, cap - len, f);
		if (len > max) {
			snprintf(err, errlen, "%s: larger than %zu MiB", path, max >> 20);
			rc = -1;
			break;
		}
		if (len < cap)
			break; /* end of file or an error, told apart below */
		/* full: grow, to at most one byte past max (which tells a file
		 * of exactly max bytes from a larger one) */
		size_t next = cap * 2 > max + 1 ? max + 1 : cap * 2;
		char *nb = realloc(buf, next);
		if (!nb) {
			free(buf);
			buf = NULL;
			break;
		}
		buf = nb;
		cap = next;
	}
	if (!buf) {
		snprintf(err, errlen, "%s: out of memory", path);
		rc = -1;
	} else if (rc == 0 && ferror(f)) {
		snprintf(err, errlen, "%s: %s", path, errno ? strerror(errno) : "read error");
		rc = -1;
	}
	fclose(f);
	if (rc != 0) {
		free(buf);
		return -1;
	}
	*out = buf;
	*outlen = len;
	return 0;
}

int config_error(char *err, size_t errlen, const char *name, unsigned line, const char *fmt, ...)
{
	va_list ap;
	int n = line ? snprintf(err, errlen, "%s:%u: ", name, line) : snprintf(err, errlen, "%s: ", name);
	if (n < 0 || (size_t)n >= errlen)
		return -1;
	va_start(ap, fmt);
	vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}
