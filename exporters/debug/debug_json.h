/* A small JSON writer for the debug exporter: appends JSON text to a tg_buf. Strings are
 * escaped for any input bytes (quotes, backslash, control characters; invalid UTF-8
 * bytes become U+FFFD, as Go's encoding/json does in the Collector), so every line is
 * valid JSON whatever a client sent. All functions return TG_OK or the tg_buf error. */
#ifndef TG_DEBUG_JSON_H
#define TG_DEBUG_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "tg_buf.h"
#include "tg_span-t.h"

int tg_debugjson_str(tg_buf *out, const char *s, size_t len);
int tg_debugjson_cstr(tg_buf *out, const char *s); /* NULL → "" */
int tg_debugjson_hex(tg_buf *out, const uint8_t *p, size_t len);    /* "0a1b.." */
int tg_debugjson_base64(tg_buf *out, const uint8_t *p, size_t len); /* "AQID" */
int tg_debugjson_double(tg_buf *out, double v); /* NaN/±Inf as strings "NaN", "Infinity" */

/* An AnyValue: string, true/false, integer, number, array, object (kvlist),
 * {"bytes_base64": "..."} for bytes, null when unset. Nested deeper than 64: "…". */
int tg_debugjson_any(tg_buf *out, const tg_any_value *v, unsigned depth);
/* Attributes as one object {"key": value, ...} (duplicate keys are kept in order). */
int tg_debugjson_attrs(tg_buf *out, tg_key_value *const *kv, size_t n, unsigned depth);

#endif
