/* libFuzzer target for W3C baggage and Jaeger uberctx-* headers. Input lines: a line
 * "uberctx-KEY: VALUE" is read as a Jaeger baggage header, any other line as a `baggage`
 * value. Checked: the bounds hold (64 members, 8192 bytes), and the emitted W3C header is a
 * fixed point (parsing it gives the same members, and emitting again the same text). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tg_baggage.h"

static tg_baggage a, b;
static char out1[3 * TG_BAGGAGE_MAX_BYTES + 1], out2[3 * TG_BAGGAGE_MAX_BYTES + 1];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 32768)
    return 0;
  tg_baggage_init(&a);
  char line[32769];
  size_t pos = 0;
  while (pos < size) {
    const uint8_t *e = memchr(data + pos, '\n', size - pos);
    size_t len = e ? (size_t)(e - (data + pos)) : size - pos;
    memcpy(line, data + pos, len);
    line[len] = '\0';
    char *colon = strstr(line, ": ");
    if (len > 8 && !strncmp(line, "uberctx-", 8) && colon) {
      *colon = '\0';
      tg_baggage_add_uberctx(&a, line, strlen(line), colon + 2);
    } else {
      tg_baggage_parse(&a, line, len, NULL);
    }
    pos += len + 1;
  }
  if (a.n > TG_BAGGAGE_MAX_MEMBERS || a.used > TG_BAGGAGE_MAX_BYTES)
    abort();
  size_t n1 = tg_baggage_format(&a, out1, sizeof out1);
  tg_baggage_init(&b);
  tg_baggage_parse(&b, out1, n1, NULL);
  size_t n2 = tg_baggage_format(&b, out2, sizeof out2);
  if (n1 <= TG_BAGGAGE_MAX_BYTES && (n1 != n2 || memcmp(out1, out2, n1)))
    abort();
  for (size_t i = 0; i < a.n; i++) {
    char v[3 * 1024 + 1];
    tg_baggage_format_value(&a, i, v, sizeof v);
  }
  return 0;
}
