/*
 * file.h - a whole configuration file read into memory (startup code).
 */
#ifndef OFFPORT_COMMON_FILE_H
#define OFFPORT_COMMON_FILE_H

#include <stddef.h>

/* Reads the file at path, at most max bytes. Returns 0 with *buf (from
 * malloc, for the caller to free) and *len, or -1 with "PATH: reason" in
 * err (cannot open, larger than max, read error, out of memory). */
int file_read_all(const char *path, size_t max, char **buf, size_t *len, char *err,
                  size_t errlen);

/* A configuration file's error into err: "NAME:LINE: message", or
 * "NAME: message" for line 0 (the whole file). Returns -1. */
__attribute__((format(printf, 5, 6))) int config_error(char *err, size_t errlen, const char *name,
                                                       unsigned line, const char *fmt, ...);

#endif
