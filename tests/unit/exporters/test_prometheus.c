/* prometheus exporter rendering: the exact text 0.0.4 and OpenMetrics 1.0 output for a
 * fixed source (suffixes, cumulative buckets, inclusive le, label escaping, exemplars and
 * # EOF only in OpenMetrics, const labels and namespace), number formatting, and the
 * Accept negotiation with the header Prometheus really sends. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fake_source.h"
#include "tg_alloc.h"
#include "tg_buf.h"
#include "tg_error.h"
#include "tg_gzip.h"
#include "../../../exporters/prometheus/prom_gzip.h"
#include "../../../exporters/prometheus/prom_render.h"

static char *render(tg_prom_format fmt, const char *prefix, const char *konst) {
  const tg_metric_source *srcs[] = {&fake_source};
  tg_prom_render_opts o = {.format = fmt, .name_prefix = prefix, .const_labels = konst};
  tg_buf b;
  tg_buf_init(&b, 0);
  assert_int_equal(tg_prom_render(srcs, 1, &o, &b), 0);
  tg_buf_append(&b, "", 1);
  return (char *)b.data;
}

/* A source for the Collector keys: one counter series with a resource-only label
 * (env) last updated at mono 1000, one histogram series updated at mono 9000. */
static const tg_mlabel keys_labels[] = {
    {.name = "service_name", .value = "s", .where = TG_MLABEL_BOTH},
    {.name = "env", .value = "prod", .where = TG_MLABEL_RESOURCE}};
static const tg_mfamily keys_calls = {.name = "c", .help = "C.", .kind = TG_MKIND_COUNTER};
static const double keys_bounds[] = {1};
static const tg_mfamily keys_dur = {.name = "d_milliseconds", .help = "D.",
                                    .kind = TG_MKIND_HISTOGRAM, .bounds = keys_bounds,
                                    .n_bounds = 1, .unit = "ms"};
static const uint64_t keys_buckets[] = {1, 1};

static int keys_collect(const tg_metric_source *src, const tg_metric_visitor *v) {
  (void)src;
  tg_mpoint c = {.labels = keys_labels, .n_labels = 2,
                 .label_text = "service_name=\"s\",env=\"prod\"",
                 .label_text_point = "service_name=\"s\"", .updated_mono_ms = 1000, .count = 4};
  tg_mpoint h = {.labels = keys_labels, .n_labels = 1, .label_text = "service_name=\"s\"",
                 .updated_mono_ms = 9000, .count = 2, .sum = 2.5, .buckets = keys_buckets};
  int rc = v->family(v->ctx, &keys_calls);
  if (!rc)
    rc = v->point(v->ctx, &keys_calls, &c);
  if (!rc)
    rc = v->family(v->ctx, &keys_dur);
  return rc ? rc : v->point(v->ctx, &keys_dur, &h);
}

static const tg_metric_source keys_source = {.name = "keys", .collect = keys_collect};

static char *render_keys(const tg_prom_render_opts *o) {
  const tg_metric_source *srcs[] = {&keys_source};
  tg_buf b;
  tg_buf_init(&b, 0);
  assert_int_equal(tg_prom_render(srcs, 1, o, &b), 0);
  tg_buf_append(&b, "", 1);
  return (char *)b.data;
}

static void test_collector_keys(void **state) {
  (void)state;
  /* defaults: no timestamps, resource-only labels left out, suffixes */
  tg_prom_render_opts o = {.format = TG_PROM_TEXT};
  char *s = render_keys(&o);
  assert_string_equal(s,
      "# HELP c_total C.\n# TYPE c_total counter\nc_total{service_name=\"s\"} 4\n"
      "# HELP d_milliseconds D.\n# TYPE d_milliseconds histogram\n"
      "d_milliseconds_bucket{service_name=\"s\",le=\"1\"} 1\n"
      "d_milliseconds_bucket{service_name=\"s\",le=\"+Inf\"} 2\n"
      "d_milliseconds_sum{service_name=\"s\"} 2.5\n"
      "d_milliseconds_count{service_name=\"s\"} 2\n");
  tg_free(s);
  /* send_timestamps (ms in text), resource_to_telemetry_conversion, add_metric_suffixes
   * off, metric_expiration: the counter idle 9 s > 5 s is left out */
  o = (tg_prom_render_opts){.format = TG_PROM_TEXT, .timestamp_ms = 1700000000123ull,
                            .resource_labels = 1, .no_suffixes = 1, .expire_ms = 5000,
                            .now_mono_ms = 10000};
  s = render_keys(&o);
  assert_string_equal(s,
      "# HELP c C.\n# TYPE c counter\n"
      "# HELP d D.\n# TYPE d histogram\n"
      "d_bucket{service_name=\"s\",le=\"1\"} 1 1700000000123\n"
      "d_bucket{service_name=\"s\",le=\"+Inf\"} 2 1700000000123\n"
      "d_sum{service_name=\"s\"} 2.5 1700000000123\n"
      "d_count{service_name=\"s\"} 2 1700000000123\n");
  tg_free(s);
  /* OpenMetrics: timestamps in seconds, _total kept on counter samples; resource labels */
  o = (tg_prom_render_opts){.format = TG_PROM_OPENMETRICS, .timestamp_ms = 1700000000123ull,
                            .resource_labels = 1, .no_suffixes = 1};
  s = render_keys(&o);
  assert_non_null(strstr(s, "c_total{service_name=\"s\",env=\"prod\"} 4 1700000000.123\n"));
  assert_non_null(strstr(s, "d_count{service_name=\"s\"} 2 1700000000.123\n# EOF\n"));
  tg_free(s);
}

static void test_text_format(void **state) {
  (void)state;
  char *s = render(TG_PROM_TEXT, NULL, NULL);
  assert_string_equal(s,
      "# HELP rpc_calls_total Calls.\n"
      "# TYPE rpc_calls_total counter\n"
      "rpc_calls_total{service_name=\"a\\\"b\",span_kind=\"SPAN_KIND_SERVER\"} 7\n"
      "rpc_calls_total 1\n"
      "# HELP rpc_duration_milliseconds Durations.\n"
      "# TYPE rpc_duration_milliseconds histogram\n"
      "rpc_duration_milliseconds_bucket{service_name=\"a\\\"b\",span_kind=\"SPAN_KIND_SERVER\",le=\"2\"} 1\n"
      "rpc_duration_milliseconds_bucket{service_name=\"a\\\"b\",span_kind=\"SPAN_KIND_SERVER\",le=\"4.5\"} 1\n"
      "rpc_duration_milliseconds_bucket{service_name=\"a\\\"b\",span_kind=\"SPAN_KIND_SERVER\",le=\"+Inf\"} 3\n"
      "rpc_duration_milliseconds_sum{service_name=\"a\\\"b\",span_kind=\"SPAN_KIND_SERVER\"} 10.5\n"
      "rpc_duration_milliseconds_count{service_name=\"a\\\"b\",span_kind=\"SPAN_KIND_SERVER\"} 3\n");
  tg_free(s);
}

static void test_openmetrics_format(void **state) {
  (void)state;
  char *s = render(TG_PROM_OPENMETRICS, NULL, NULL);
  assert_string_equal(s,
      "# HELP rpc_calls Calls.\n"
      "# TYPE rpc_calls counter\n"
      "rpc_calls_total{service_name=\"a\\\"b\",span_kind=\"SPAN_KIND_SERVER\"} 7 "
      "# {trace_id=\"ab000000000000000000000000000001\",span_id=\"cd00000000000002\"} 3.25 1700000000.123\n"
      "rpc_calls_total 1\n"
      "# HELP rpc_duration_milliseconds Durations.\n"
      "# TYPE rpc_duration_milliseconds histogram\n"
      "rpc_duration_milliseconds_bucket{service_name=\"a\\\"b\",span_kind=\"SPAN_KIND_SERVER\",le=\"2.0\"} 1\n"
      "rpc_duration_milliseconds_bucket{service_name=\"a\\\"b\",span_kind=\"SPAN_KIND_SERVER\",le=\"4.5\"} 1 "
      "# {trace_id=\"ab000000000000000000000000000001\",span_id=\"cd00000000000002\"} 3.25 1700000000.123\n"
      "rpc_duration_milliseconds_bucket{service_name=\"a\\\"b\",span_kind=\"SPAN_KIND_SERVER\",le=\"+Inf\"} 3\n"
      "rpc_duration_milliseconds_sum{service_name=\"a\\\"b\",span_kind=\"SPAN_KIND_SERVER\"} 10.5\n"
      "rpc_duration_milliseconds_count{service_name=\"a\\\"b\",span_kind=\"SPAN_KIND_SERVER\"} 3\n"
      "# EOF\n");
  tg_free(s);
}

static void test_prefix_and_const_labels(void **state) {
  (void)state;
  char *s = render(TG_PROM_TEXT, "ns_", "env=\"prod\"");
  assert_non_null(strstr(s, "# TYPE ns_rpc_calls_total counter\n"));
  assert_non_null(strstr(s, "ns_rpc_calls_total{env=\"prod\",service_name=\"a\\\"b\","));
  assert_non_null(strstr(s, "ns_rpc_calls_total{env=\"prod\"} 1\n"));
  assert_non_null(strstr(s, "span_kind=\"SPAN_KIND_SERVER\",le=\"+Inf\"} 3\n"));
  tg_free(s);
}

static void test_numbers(void **state) {
  (void)state;
  const struct { double v; int om; const char *want; } cases[] = {
      {2, 0, "2"}, {2, 1, "2.0"}, {0.005, 0, "0.005"}, {0.1, 1, "0.1"}, {1e21, 1, "1e+21"},
      {0.1 + 0.2, 0, "0.30000000000000004"}, {-3, 0, "-3"}, {1.0 / 0.0, 1, "+Inf"}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    tg_buf b;
    tg_buf_init(&b, 0);
    tg_prom_append_double(&b, cases[i].v, cases[i].om);
    tg_buf_append(&b, "", 1);
    assert_string_equal((char *)b.data, cases[i].want);
    tg_buf_free(&b);
  }
}

static void test_negotiation(void **state) {
  (void)state;
  /* what Prometheus 2.42 sends */
  assert_int_equal(tg_prom_negotiate("application/openmetrics-text;version=1.0.0,"
                                     "application/openmetrics-text;version=0.0.1;q=0.75,"
                                     "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"),
                   TG_PROM_OPENMETRICS);
  assert_int_equal(tg_prom_negotiate(NULL), TG_PROM_TEXT);
  assert_int_equal(tg_prom_negotiate("*/*"), TG_PROM_TEXT);
  assert_int_equal(tg_prom_negotiate("text/plain;version=0.0.4"), TG_PROM_TEXT);
  assert_int_equal(tg_prom_negotiate("application/openmetrics-text; version=1.0.0; q=0.2, "
                                     "text/plain; q=0.9"), TG_PROM_TEXT);
  assert_int_equal(tg_prom_negotiate("application/openmetrics-text;q=0"), TG_PROM_TEXT);
  assert_int_equal(tg_prom_negotiate("Application/OpenMetrics-Text"), TG_PROM_OPENMETRICS);
}

static void test_output_limit(void **state) {
  (void)state;
  const tg_metric_source *srcs[] = {&fake_source};
  tg_prom_render_opts o = {.format = TG_PROM_TEXT, .name_prefix = NULL, .const_labels = NULL};
  tg_buf b;
  tg_buf_init(&b, 100); /* far too small: a clean error, not an overrun */
  assert_int_equal(tg_prom_render(srcs, 1, &o, &b), TG_ETOOBIG);
  assert_true(b.len <= 100);
  tg_buf_free(&b);
}

static void test_gzip_round_trip(void **state) {
  (void)state;
  char *s = render(TG_PROM_OPENMETRICS, NULL, NULL);
  tg_buf gz, back;
  tg_buf_init(&gz, 0);
  tg_buf_init(&back, 0);
  assert_int_equal(tg_prom_gzip((const uint8_t *)s, strlen(s), &gz), TG_OK);
  assert_true(gz.len > 18 && gz.data[0] == 0x1f && gz.data[1] == 0x8b); /* a gzip member */
  assert_int_equal(tg_gzip_inflate(gz.data, gz.len, 1 << 20, &back), TG_OK);
  assert_int_equal(back.len, strlen(s));
  assert_memory_equal(back.data, s, back.len);
  tg_buf_free(&gz);
  tg_buf_free(&back);
  tg_free(s);
}

/* ---- streamed rendering ---- */

/* A source of n series (a counter and a histogram family) with a cursor, like
 * spanmetrics: the stream must render exactly what tg_prom_render renders. */
#define MANY 300
typedef struct many_cursor {
  int family, pos, started;
  int open;
} many_cursor;
static char many_labels[MANY][64];
static const uint64_t many_buckets[] = {1, 2, 3};
static int many_open_cursors;

static tg_mpoint many_point(int i, int hist) {
  tg_mpoint p = {.label_text = many_labels[i], .count = (uint64_t)i * 3 + 1};
  if (hist) {
    p.count = 6;
    p.sum = i + 0.5;
    p.buckets = many_buckets;
  }
  return p;
}

static int many_collect(const tg_metric_source *src, const tg_metric_visitor *v) {
  (void)src;
  int rc = v->family(v->ctx, &fake_calls);
  for (int i = 0; !rc && i < MANY; i++) {
    tg_mpoint p = many_point(i, 0);
    rc = v->point(v->ctx, &fake_calls, &p);
  }
  if (!rc)
    rc = v->family(v->ctx, &fake_dur);
  for (int i = 0; !rc && i < MANY; i++) {
    tg_mpoint p = many_point(i, 1);
    rc = v->point(v->ctx, &fake_dur, &p);
  }
  return rc;
}

static void *many_open(const tg_metric_source *src) {
  (void)src;
  many_open_cursors++;
  return tg_calloc(1, sizeof(many_cursor));
}

static int many_next(const tg_metric_source *src, void *cursor, const tg_metric_visitor *v,
                     size_t max_points, int *done) {
  (void)src;
  many_cursor *c = cursor;
  size_t n = 0;
  int rc = 0;
  while (!rc && c->family < 2 && n < max_points) {
    const tg_mfamily *f = c->family ? &fake_dur : &fake_calls;
    if (!c->started) {
      c->started = 1;
      rc = v->family(v->ctx, f);
    } else if (c->pos == MANY) {
      c->family++;
      c->pos = 0;
      c->started = 0;
    } else {
      tg_mpoint p = many_point(c->pos++, c->family);
      rc = v->point(v->ctx, f, &p);
      n++;
    }
  }
  *done = c->family == 2;
  return rc;
}

static void many_close(const tg_metric_source *src, void *cursor) {
  (void)src;
  many_open_cursors--;
  tg_free(cursor);
}

static const tg_metric_source many_source = {.name = "many", .flush_interval_ms = 1000,
                                             .collect = many_collect, .open = many_open,
                                             .next = many_next, .close = many_close};

static void many_init(void) {
  for (int i = 0; i < MANY; i++)
    snprintf(many_labels[i], sizeof many_labels[i], "service_name=\"svc-%d\",span_name=\"op %d\"",
             i % 7, i);
}

/* Renders through the stream in slices of max_bytes; checks each slice's bound. */
static void stream_all(const tg_metric_source *const *srcs, size_t n, tg_prom_format fmt,
                       size_t max_bytes, tg_buf *all, size_t *slices) {
  tg_prom_render_opts o = {.format = fmt, .name_prefix = NULL, .const_labels = "k=\"v\""};
  tg_prom_stream *st = tg_prom_stream_new(srcs, n, &o);
  assert_non_null(st);
  tg_buf slice;
  tg_buf_init(&slice, 0);
  int done = 0;
  *slices = 0;
  while (!done) {
    slice.len = 0;
    assert_int_equal(tg_prom_stream_next(st, &slice, max_bytes, &done), TG_OK);
    /* a slice stops at the first step past max_bytes: at most 16 points (< 1 KiB each
     * here) more, or one whole cursor-less source */
    assert_true(slice.len <= max_bytes + 16 * 1024 || n > 1);
    assert_int_equal(tg_buf_append(all, slice.data, slice.len), TG_OK);
    (*slices)++;
  }
  tg_buf_free(&slice);
  tg_prom_stream_free(st);
}

static void test_stream_equals_render(void **state) {
  (void)state;
  many_init();
  const tg_metric_source *srcs[] = {&many_source, &fake_source, &many_source};
  for (int om = 0; om < 2; om++) {
    tg_prom_format fmt = om ? TG_PROM_OPENMETRICS : TG_PROM_TEXT;
    tg_prom_render_opts o = {.format = fmt, .name_prefix = NULL, .const_labels = "k=\"v\""};
    tg_buf whole;
    tg_buf_init(&whole, 0);
    assert_int_equal(tg_prom_render(srcs, 3, &o, &whole), TG_OK);
    assert_true(whole.len > 100000);
    static const size_t sizes[] = {1, 700, 4096, 65536, 1 << 30};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
      tg_buf all;
      tg_buf_init(&all, 0);
      size_t slices;
      stream_all(srcs, 1, fmt, sizes[k], &all, &slices);
      tg_buf_free(&all);
      tg_buf_init(&all, 0);
      stream_all(srcs, 3, fmt, sizes[k], &all, &slices);
      assert_int_equal(all.len, whole.len);
      assert_memory_equal(all.data, whole.data, whole.len);
      if (sizes[k] <= 4096)
        assert_true(slices > whole.len / 20000); /* really sliced */
      tg_buf_free(&all);
    }
    tg_buf_free(&whole);
  }
  assert_int_equal(many_open_cursors, 0);
  /* abandoned half way: free closes the open cursor */
  tg_prom_render_opts o = {.format = TG_PROM_TEXT, .name_prefix = NULL, .const_labels = NULL};
  tg_prom_stream *st = tg_prom_stream_new(srcs, 3, &o);
  tg_buf b;
  tg_buf_init(&b, 0);
  int done = 0;
  assert_int_equal(tg_prom_stream_next(st, &b, 1000, &done), TG_OK);
  assert_false(done);
  assert_int_equal(many_open_cursors, 1);
  tg_prom_stream_free(st);
  assert_int_equal(many_open_cursors, 0);
  tg_buf_free(&b);
}

/* Streamed gzip, slice by slice with the exporter's flushing, inflates to the text. */
static void test_gzip_stream_round_trip(void **state) {
  (void)state;
  many_init();
  const tg_metric_source *srcs[] = {&many_source};
  tg_prom_render_opts o = {.format = TG_PROM_OPENMETRICS, .name_prefix = NULL, .const_labels = NULL};
  tg_buf whole;
  tg_buf_init(&whole, 0);
  assert_int_equal(tg_prom_render(srcs, 1, &o, &whole), TG_OK);
  tg_prom_stream *st = tg_prom_stream_new(srcs, 1, &o);
  tg_prom_gzip_stream gz;
  assert_int_equal(tg_prom_gzip_begin(&gz), TG_OK);
  tg_buf text, out, all, back;
  tg_buf_init(&text, 0);
  tg_buf_init(&out, 0);
  tg_buf_init(&all, 0);
  tg_buf_init(&back, 0);
  int done = 0, empty_before_flush = 0;
  while (!done) {
    text.len = 0;
    out.len = 0;
    assert_int_equal(tg_prom_stream_next(st, &text, 2048, &done), TG_OK);
    assert_int_equal(tg_prom_gzip_feed(&gz, text.data, text.len,
                                       done ? TG_PROM_GZ_FINISH : TG_PROM_GZ_NONE, &out), TG_OK);
    if (!done && !out.len) {
      empty_before_flush++;
      assert_int_equal(tg_prom_gzip_feed(&gz, NULL, 0, TG_PROM_GZ_SYNC, &out), TG_OK);
      assert_true(out.len > 0); /* a sync flush always yields bytes */
    }
    tg_buf_append(&all, out.data, out.len);
  }
  assert_true(empty_before_flush > 0); /* zlib does hold slices back */
  tg_prom_gzip_end(&gz);
  tg_prom_gzip_end(&gz); /* twice is fine */
  assert_int_equal(tg_gzip_inflate(all.data, all.len, 1 << 24, &back), TG_OK);
  assert_int_equal(back.len, whole.len);
  assert_memory_equal(back.data, whole.data, whole.len);
  tg_prom_stream_free(st);
  tg_buf_free(&text);
  tg_buf_free(&out);
  tg_buf_free(&all);
  tg_buf_free(&back);
  tg_buf_free(&whole);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_text_format),
      cmocka_unit_test(test_openmetrics_format),
      cmocka_unit_test(test_prefix_and_const_labels),
      cmocka_unit_test(test_numbers),
      cmocka_unit_test(test_negotiation),
      cmocka_unit_test(test_output_limit),
      cmocka_unit_test(test_gzip_round_trip),
      cmocka_unit_test(test_stream_equals_render),
      cmocka_unit_test(test_gzip_stream_round_trip),
      cmocka_unit_test(test_collector_keys),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
