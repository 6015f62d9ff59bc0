/* Resource detectors of the resourcedetection processor: `env` (OTEL_RESOURCE_ATTRIBUTES)
 * and `system` (host.name, os.type). Pure functions over their inputs so tests can feed
 * them without touching the process environment. */
#ifndef TG_RD_DETECT_H
#define TG_RD_DETECT_H

#include <stddef.h>

typedef struct rd_attr {
  char *key, *value; /* owned */
} rd_attr;

typedef struct rd_attrs {
  rd_attr *items;
  size_t n, cap;
} rd_attrs;

/* Adds key=value unless key is already there (the first detector listed wins, as in the
 * Collector). 0, or -1 when out of memory. */
int rd_attrs_add(rd_attrs *a, const char *key, size_t klen, const char *value, size_t vlen);
void rd_attrs_free(rd_attrs *a);

/* Parses an OTEL_RESOURCE_ATTRIBUTES value: comma-separated key=value pairs, surrounding
 * spaces trimmed, values percent-decoded (the OpenTelemetry SDK environment rule).
 * 0, or -1 with a reason in why (a pair without '=', an empty key, a bad %-escape). */
int rd_parse_env(const char *text, rd_attrs *out, char *why, size_t why_size);

/* The system detector: host.name from the host name, os.type from the kernel's name in
 * the Collector's spelling (linux, darwin, freebsd, ...). 0 or -1 (why). */
int rd_detect_system(rd_attrs *out, char *why, size_t why_size);

#endif
