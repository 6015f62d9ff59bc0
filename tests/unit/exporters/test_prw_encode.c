/* Remote-write encoding, checked by decoding the output with code generated from our own
 * remote_write.proto: series names and suffixes, labels sorted with __name__ and le,
 * cumulative bucket values, external labels (a series label wins), the sample timestamp,
 * and requests split at max_request_bytes without losing or repeating a series. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fake_source.h"
#include "remote_write.pb-c.h"
#include "tg_alloc.h"
#include "../../../exporters/prometheusremotewrite/prw_encode.h"

typedef struct captured {
  Prometheus__WriteRequest *req[64];
  size_t n_req, n_series;
} captured;

static int capture(void *ctx, const uint8_t *data, size_t len, size_t n_series) {
  captured *c = ctx;
  assert_true(c->n_req < 64);
  c->req[c->n_req] = prometheus__write_request__unpack(NULL, len, data);
  assert_non_null(c->req[c->n_req]);
  assert_int_equal(c->req[c->n_req]->n_timeseries, n_series);
  c->n_req++;
  c->n_series += n_series;
  return 0;
}

static void release(captured *c) {
  for (size_t i = 0; i < c->n_req; i++)
    prometheus__write_request__free_unpacked(c->req[i], NULL);
}

static const char *label(const Prometheus__TimeSeries *ts, const char *name) {
  for (size_t i = 0; i < ts->n_labels; i++)
    if (!strcmp(ts->labels[i]->name, name))
      return ts->labels[i]->value;
  return NULL;
}

static const Prometheus__TimeSeries *find(const captured *c, const char *name, const char *le) {
  for (size_t r = 0; r < c->n_req; r++)
    for (size_t i = 0; i < c->req[r]->n_timeseries; i++) {
      const Prometheus__TimeSeries *ts = c->req[r]->timeseries[i];
      const char *n = label(ts, "__name__"), *l = label(ts, "le");
      if (n && !strcmp(n, name) && label(ts, "service_name") &&
          ((!le && !l) || (le && l && !strcmp(l, le))))
        return ts;
    }
  return NULL;
}

static const tg_mlabel external[] = {{.name = "cluster", .value = "eu1"},
                                     {.name = "service_name", .value = "ignored"}};

static void encode(captured *c, size_t max_bytes) {
  memset(c, 0, sizeof *c);
  const tg_metric_source *srcs[] = {&fake_source};
  tg_prw_opts o = {.external_labels = external, .n_external = 2, .name_prefix = "tg_",
                   .timestamp_ms = 1700000000123, .max_request_bytes = max_bytes,
                   .emit = capture, .ctx = c};
  assert_int_equal(tg_prw_encode(srcs, 1, &o), 0);
}

static void test_series_and_labels(void **state) {
  (void)state;
  captured c;
  encode(&c, 1 << 20);
  assert_int_equal(c.n_req, 1);
  /* counter: 2 series; histogram: 3 buckets + sum + count */
  assert_int_equal(c.n_series, 7);
  const Prometheus__TimeSeries *ts = find(&c, "tg_rpc_calls_total", NULL);
  assert_non_null(ts);
  assert_int_equal(ts->n_samples, 1);
  assert_true(ts->samples[0]->value == 7);
  assert_int_equal(ts->samples[0]->timestamp, 1700000000123);
  assert_string_equal(label(ts, "service_name"), "a\"b"); /* raw, not escaped; series wins */
  assert_string_equal(label(ts, "cluster"), "eu1");
  for (size_t i = 1; i < ts->n_labels; i++) /* sorted by name */
    assert_true(strcmp(ts->labels[i - 1]->name, ts->labels[i]->name) < 0);
  const char *les[] = {"2.0", "4.5", "+Inf"};
  const double cum[] = {1, 1, 3};
  for (int i = 0; i < 3; i++) {
    ts = find(&c, "tg_rpc_duration_milliseconds_bucket", les[i]);
    assert_non_null(ts);
    assert_true(ts->samples[0]->value == cum[i]);
    for (size_t k = 1; k < ts->n_labels; k++)
      assert_true(strcmp(ts->labels[k - 1]->name, ts->labels[k]->name) < 0);
  }
  ts = find(&c, "tg_rpc_duration_milliseconds_sum", NULL);
  assert_true(ts->samples[0]->value == 10.5);
  ts = find(&c, "tg_rpc_duration_milliseconds_count", NULL);
  assert_true(ts->samples[0]->value == 3);
  release(&c);
}

static void test_split_requests(void **state) {
  (void)state;
  captured c;
  encode(&c, 1); /* every series fills a request */
  assert_int_equal(c.n_req, 7);
  assert_int_equal(c.n_series, 7);
  assert_non_null(find(&c, "tg_rpc_duration_milliseconds_bucket", "+Inf"));
  release(&c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_series_and_labels),
      cmocka_unit_test(test_split_requests),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
