/* libFuzzer target: the jaegerremotesampling decoders. Input whose first byte is '?' is a
 * query string for tg_jrs_query_service; anything else is a strategies file. For a file
 * that parses, every answer must be valid JSON (re-read with the strict reader, which
 * also checks UTF-8), its protobuf must decode, and each service must find its own
 * answer. Allocation failure is injected on some inputs (first byte odd) so the OOM paths
 * free what they built. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "extensions/jaegerremotesampling/jrs.h"
#include "extensions/jaegerremotesampling/jrs_json.h"
#include "extensions/jaegerremotesampling/jrs_strategies.h"
#include "sampling.pb-c.h"
#include "tg_alloc.h"
#include "tg_diag.h"

static void check_answer(const tg_jrs_response *r) {
  jrs_json_doc doc;
  char err[128];
  unsigned line, col;
  if (jrs_json_parse(r->json, r->json_len, &doc, err, sizeof err, &line, &col) != 0)
    abort(); /* we produced invalid JSON */
  jrs_json_free(&doc);
  Jaeger__ApiV2__SamplingStrategyResponse *m =
      jaeger__api_v2__sampling_strategy_response__unpack(NULL, r->pb_len, r->pb);
  if (!m)
    abort();
  if ((size_t)m->strategytype != (size_t)r->type)
    abort();
  jaeger__api_v2__sampling_strategy_response__free_unpacked(m, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 1 && data[0] == '?') {
    char *q = malloc(size);
    memcpy(q, data + 1, size - 1);
    q[size - 1] = '\0';
    char out[TG_JRS_MAX_SERVICE_LEN + 1];
    const char *why;
    long n = tg_jrs_query_service(q, out, &why);
    if (n > TG_JRS_MAX_SERVICE_LEN || (n >= 0 && (size_t)n != strlen(out)))
      abort();
    free(q);
    return 0;
  }
  int inject = size > 0 && (data[0] & 1) && size % 7 == 0;
  if (inject)
    tg_alloc_fail_after((long)(size % 97), 0);
  tg_diag diag;
  tg_diag_init(&diag);
  tg_jrs_strategies *s = tg_jrs_strategies_parse((const char *)data, size, "fuzz.json", &diag);
  tg_alloc_fail_after(-1, 0);
  if (s) {
    if (diag.n)
      abort(); /* success reports nothing */
    check_answer(&s->def);
    for (size_t i = 0; i < s->n_services; i++) {
      check_answer(&s->services[i].resp);
      const char *name = s->services[i].name;
      if (tg_jrs_strategies_find(s, name, strlen(name)) != &s->services[i].resp)
        abort();
    }
    tg_jrs_strategies_free(s);
  } else if (!inject && !tg_diag_failed(&diag)) {
    abort(); /* a refusal always says why */
  }
  tg_diag_free(&diag);
  return 0;
}
