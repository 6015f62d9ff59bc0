/* W3C Baggage (`baggage` header) and Jaeger's `uberctx-{key}` baggage headers, as one
 * bounded list of key/value members. Nothing allocates: a tg_baggage is a plain value of
 * about 9 KiB (the spec's 8192-byte bound plus the member index), so keep one per owner
 * rather than on a hot stack. */
#ifndef TG_BAGGAGE_H
#define TG_BAGGAGE_H

#include <stddef.h>
#include <stdint.h>

#define TG_BAGGAGE_MAX_MEMBERS 64   /* the spec's minimum to propagate */
#define TG_BAGGAGE_MAX_BYTES 8192   /* likewise, for the whole header */

typedef struct tg_baggage_member {
  uint16_t key_off, key_len;     /* token, as received */
  uint16_t value_off, value_len; /* percent-decoded */
  uint16_t props_off, props_len; /* ";prop;k=v" as received (without the first ';'), may be 0 */
} tg_baggage_member;

typedef struct tg_baggage {
  uint16_t n;
  uint8_t truncated; /* members dropped because a bound was reached */
  size_t used;
  tg_baggage_member m[TG_BAGGAGE_MAX_MEMBERS];
  char buf[TG_BAGGAGE_MAX_BYTES];
} tg_baggage;

void tg_baggage_init(tg_baggage *b);

/* Adds the members of one `baggage` header value (call again for a repeated header).
 * list-member = key OWS "=" OWS value *(OWS ";" OWS property); key is an RFC 9110 token;
 * value is baggage-octets with %XX escapes (decoded here; an invalid escape or octet makes
 * that member invalid). Invalid members are skipped and counted; members past the bounds
 * are dropped and set truncated. A key already present is replaced (last wins). Returns
 * the number of invalid members (0 = all good); *reason tells the first problem. */
int tg_baggage_parse(tg_baggage *b, const char *value, size_t len, const char **reason);

/* Sets key=value (value raw, not encoded). Returns 0, or -1 when the key is not a token
 * or a bound is reached. */
int tg_baggage_set(tg_baggage *b, const char *key, size_t key_len, const char *value,
                   size_t value_len);

/* Reads one Jaeger baggage header: name "uberctx-{key}" (any case; the key is taken in
 * lower case as HTTP/2 delivers it), value URL-encoded. Returns 1 when the name was an
 * uberctx header and the member was added, 0 when the name is not one, -1 when invalid. */
int tg_baggage_add_uberctx(tg_baggage *b, const char *name, size_t name_len, const char *value);

/* Writes the W3C header value ("k=v;props,k=v") with values percent-encoded, NUL-terminated.
 * Members that would not fit in cap are left out. Returns the length written. */
size_t tg_baggage_format(const tg_baggage *b, char *out, size_t cap);

/* Writes member i's value URL-encoded (for uberctx-{key}); returns length, NUL-terminated. */
size_t tg_baggage_format_value(const tg_baggage *b, size_t i, char *out, size_t cap);

#endif
