/* libFuzzer target: the input of `tailgate sampling explain` (OTLP/JSON or a protobuf
 * ExportTraceServiceRequest, chosen by the first non-blank byte) → the batch it decodes
 * into → the offline explanation against a policy list with every policy type whose
 * reason reads spans. Invariants: parsing either succeeds with a batch whose span count
 * matches its tree, or fails with a printable message and no spans; an accepted input
 * is explained without error, one "trace" line per distinct trace ID. The arena is
 * bounded, as the command's input is by TS_EXPLAIN_MAX_INPUT. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "processors/tail_sampling/ts_explain.h"
#include "tg_alloc.h"
#include "tg_error.h"
#include "tg_yaml.h"

static const char policies_yaml[] =
    "policies:\n"
    "  - name: no-health\n    type: drop\n    drop:\n      drop_sub_policy:\n"
    "        - {name: h, type: string_attribute, string_attribute: {key: route, values: [/health]}}\n"
    "  - {name: e, type: status_code, status_code: {status_codes: [ERROR]}}\n"
    "  - {name: l, type: latency, latency: {threshold_ms: 100}}\n"
    "  - {name: r, type: string_attribute, string_attribute: {key: k, values: ['^a.*z$'], enabled_regex_matching: true}}\n"
    "  - {name: n, type: numeric_attribute, numeric_attribute: {key: n, min_value: -5, max_value: 5}}\n"
    "  - {name: b, type: boolean_attribute, boolean_attribute: {key: b, value: true}}\n"
    "  - {name: s, type: trace_state, trace_state: {key: ot, values: ['th:8']}}\n"
    "  - {name: f, type: trace_flags}\n"
    "  - {name: c, type: span_count, span_count: {min_spans: 2}}\n"
    "  - {name: p, type: probabilistic, probabilistic: {sampling_percentage: 10}}\n"
    "  - name: rl\n    type: rate_limiting\n    rate_limiting: {spans_per_second: 3}\n"
    "  - name: comp\n    type: composite\n    composite:\n      max_total_spans_per_second: 10\n"
    "      composite_sub_policy:\n        - {name: ce, type: status_code, status_code: {status_codes: [ERROR]}}\n"
    "        - {name: ca, type: always_sample}\n"
    "      rate_allocation: [{policy: ce, percent: 50}, {policy: ca, percent: 50}]\n"
    "  - name: both\n    type: and\n    and:\n      and_sub_policy:\n"
    "        - {name: ae, type: status_code, status_code: {status_codes: [ERROR]}}\n"
    "        - name: an\n          type: not\n          not:\n            not_sub_policy: {name: ann, type: span_count, span_count: {min_spans: 9}}\n";

static tg_ts_conf conf;

static void setup(void) {
  static int done;
  if (done)
    return;
  done = 1;
  tg_diag diag;
  tg_diag_init(&diag);
  tg_yaml_doc *doc = tg_yaml_parse("fuzz", policies_yaml, strlen(policies_yaml), &diag);
  tg_conf_apply(tg_ts_conf_keys, TG_TS_CONF_N_KEYS, tg_yaml_root(doc), &conf, "fuzz", &diag);
  tg_yaml_free(doc);
  if (tg_diag_count(&diag))
    abort();
  tg_diag_free(&diag);
}

static size_t tree_spans(const tg_batch *b) {
  size_t n = 0;
  for (size_t i = 0; i < b->request.n_resource_spans; i++)
    for (size_t k = 0; k < b->request.resource_spans[i]->n_scope_spans; k++)
      n += b->request.resource_spans[i]->scope_spans[k]->n_spans;
  return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  setup();
  tg_batch *b = tg_batch_new(4096, (size_t)64 << 20);
  if (!b)
    return 0;
  char err[256] = "";
  int rc = ts_explain_parse(b, data, size, err, sizeof err);
  if (rc == TG_OK) {
    if (tree_spans(b) != b->span_count)
      abort();
    tg_buf out;
    tg_buf_init(&out, 0);
    if (ts_explain_run(&conf, b, 1700000000, &out) != TG_OK)
      abort();
    /* one report per trace: a trace line for every distinct ID, at most one per span */
    size_t traces = 0;
    for (size_t i = 0; i + 6 <= out.len; i++)
      if ((i == 0 || out.data[i - 1] == '\n') && !memcmp(out.data + i, "trace ", 6))
        traces++;
    if (traces > b->span_count || (b->span_count && !traces))
      abort();
    tg_buf_free(&out);
  } else {
    if (b->span_count != 0)
      abort();
    for (const char *p = err; *p; p++)
      if ((unsigned char)*p < 0x20 && *p != '\n')
        abort();
  }
  tg_batch_free(b);
  return 0;
}
