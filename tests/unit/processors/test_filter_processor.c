/* filter processor: OTTL conditions on a table of spans with the keep/drop answer written
 * by hand from OTTL's grammar and comparison rules; refused features with positions; the
 * component end to end (span events, empty resources removed, error_mode). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <uv.h>

#include "attr_builders.h"
#include "drop_metrics.h"
#include "proc_harness.h"
#include "processors/filter/filter_ottl.h"
#include "tg_component.h"
#include "tg_config.h"
#include "tg_service.h"

extern const tg_component tg_processor_filter;

static tg_any_value *av_dbl(tg_arena *a, double d) {
  tg_any_value *v = tg_arena_alloc(a, sizeof *v);
  opentelemetry__proto__common__v1__any_value__init(v);
  v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE;
  v->double_value = d;
  return v;
}

static tg_any_value *av_bool(tg_arena *a, int b) {
  tg_any_value *v = tg_arena_alloc(a, sizeof *v);
  opentelemetry__proto__common__v1__any_value__init(v);
  v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE;
  v->bool_value = b;
  return v;
}

static tg_span *mk_span(tg_arena *a, const char *name, int kind, int status,
                        tg_key_value **attrs, size_t n) {
  tg_span *sp = tg_arena_alloc(a, sizeof *sp);
  opentelemetry__proto__trace__v1__span__init(sp);
  sp->name = tg_arena_strndup(a, name, strlen(name));
  sp->kind = kind;
  if (status >= 0) {
    tg_span_status *st = tg_arena_alloc(a, sizeof *st);
    opentelemetry__proto__trace__v1__status__init(st);
    st->code = status;
    sp->status = st;
  }
  sp->attributes = attrs;
  sp->n_attributes = n;
  return sp;
}

/* The table: 4 spans under one resource {service.name: checkout, env: prod}. */
typedef struct fixture {
  tg_arena *arena;
  tg_resource res;
  tg_scope scope;
  tg_span *spans[4];
} fixture;

static void fixture_init(fixture *f) {
  f->arena = tg_arena_new(4096, 0);
  tg_arena *a = f->arena;
  opentelemetry__proto__resource__v1__resource__init(&f->res);
  f->res.attributes = kv_list(a, 2, kv(a, "service.name", av_str(a, "checkout")),
                              kv(a, "env", av_str(a, "prod")));
  f->res.n_attributes = 2;
  opentelemetry__proto__common__v1__instrumentation_scope__init(&f->scope);
  f->scope.name = "io.opentelemetry.http";
  /* 0: health check, server, unset */
  f->spans[0] = mk_span(a, "GET /health", 2, -1,
                        kv_list(a, 2, kv(a, "http.route", av_str(a, "/health")),
                                kv(a, "http.status_code", av_int(a, 200))), 2);
  /* 1: a failing client call */
  f->spans[1] = mk_span(a, "POST /pay", 3, 2,
                        kv_list(a, 3, kv(a, "http.route", av_str(a, "/pay")),
                                kv(a, "http.status_code", av_int(a, 503)),
                                kv(a, "ratio", av_dbl(a, 0.25))), 3);
  /* 2: internal, with a bool and an array */
  f->spans[2] = mk_span(a, "compute", 1, 1,
                        kv_list(a, 2, kv(a, "cached", av_bool(a, 1)),
                                kv(a, "tags", av_array(a, 1, av_str(a, "x")))), 2);
  /* 3: no attributes, kind unspecified, no status */
  f->spans[3] = mk_span(a, "readyz", 0, -1, NULL, 0);
}

typedef struct row {
  const char *cond;
  const char *expect; /* per span: '1' condition true, '0' false, 'E' evaluation error */
} row;

static const row table[] = {
    {"attributes[\"http.route\"] == \"/health\"", "1000"},
    {"attributes[\"http.route\"] != \"/health\"", "0111"}, /* nil != "/health" */
    {"attributes[\"http.route\"] == nil", "0011"},
    {"attributes[\"missing\"] == nil and name != nil", "1111"},
    {"kind == SPAN_KIND_SERVER", "1000"},
    {"kind == 3 or kind == SPAN_KIND_INTERNAL", "0110"},
    {"status.code == STATUS_CODE_ERROR", "0100"},
    {"status.code == STATUS_CODE_UNSET", "1001"},
    {"attributes[\"http.status_code\"] >= 500", "0100"},
    {"attributes[\"http.status_code\"] < 300", "1000"}, /* nil < 300 is false */
    {"attributes[\"http.status_code\"] > 199.5", "1100"}, /* int vs float as float */
    {"attributes[\"ratio\"] <= .25 and attributes[\"ratio\"] > -1", "0100"},
    {"attributes[\"http.status_code\"] == \"200\"", "0000"}, /* int vs string: not equal */
    {"attributes[\"cached\"] == true", "0010"},
    {"attributes[\"cached\"] > false", "0010"}, /* false < true */
    {"attributes[\"tags\"] != nil", "0010"},
    {"attributes[\"tags\"] == \"x\"", "0000"},
    {"name > \"GET\" and name < \"compute\"", "1100"}, /* byte-wise: "POST" < "compute" */
    {"IsMatch(name, \"^GET /(health|ready)\")", "1000"},
    {"IsMatch(name, \"ready\") or IsMatch(attributes[\"http.route\"], \"health\")", "1001"},
    {"IsMatch(attributes[\"http.status_code\"], \"^5\\\\d\\\\d$\")", "0100"}, /* int as text */
    {"IsMatch(attributes[\"cached\"], \"^true$\")", "0010"},
    {"IsMatch(attributes[\"tags\"], \".\")", "00E0"}, /* only span 2 has tags: error */
    {"not IsMatch(name, \"^GET\")", "0111"},
    {"not (kind == 2 or kind == 3) and name != \"readyz\"", "0010"},
    {"kind == 2 or kind == 3 and status.code == 2", "1100"}, /* and binds tighter */
    {"(kind == 2 or kind == 3) and status.code == 2", "0100"},
    {"not kind == 2 and not kind == 3", "0011"},
    {"resource.attributes[\"service.name\"] == \"checkout\" and kind == 2", "1000"},
    {"resource.attributes[\"env\"] == \"dev\"", "0000"},
    {"instrumentation_scope.name == \"io.opentelemetry.http\" and span.name == \"readyz\"",
     "0001"},
    {"true", "1111"},
    {"false or nil == nil", "1111"},
    {"nil != nil", "0000"},
    {"1 == 1.0 and \"a\" < \"b\" and -2 < -1", "1111"},
    {"status.message == \"\"", "1111"},
};

static void test_condition_table(void **state) {
  (void)state;
  fixture f;
  fixture_init(&f);
  for (size_t r = 0; r < sizeof table / sizeof *table; r++) {
    tg_ottl_cond *c = NULL;
    unsigned caps = 0;
    size_t off = 0;
    char why[256];
    int rc = tg_ottl_compile(table[r].cond, strlen(table[r].cond), TG_OTTL_SPAN, &c, &caps,
                             &off, why, sizeof why);
    if (rc != TG_OK)
      fail_msg("row %zu: %s: %s at %zu", r, table[r].cond, why, off);
    tg_matcher m;
    assert_int_equal(tg_matcher_init(&m, caps), TG_OK);
    for (int s = 0; s < 4; s++) {
      tg_ottl_env env = {.resource = &f.res, .scope = &f.scope, .span = f.spans[s]};
      int got = tg_ottl_eval(c, &env, &m, why, sizeof why);
      char g = got < 0 ? 'E' : got ? '1' : '0';
      char want = table[r].expect[s];
      if (g != want)
        fail_msg("row %zu (%s), span %d: got %c, want %c", r, table[r].cond, s, g, want);
    }
    tg_matcher_free(&m);
    tg_ottl_free(c);
  }
  tg_arena_unref(f.arena);
}

typedef struct refused {
  const char *cond;
  size_t off;         /* expected byte offset */
  const char *needle; /* expected words of the message */
} refused;

static const refused refusals[] = {
    {"attributes[\"a\"] + 1 == 2", 16, "math expressions"},
    {"Concat([name, \"x\"], \"\") == \"a\"", 0, "converter Concat() is not supported"},
    {"set(attributes[\"a\"], 1)", 0, "set() is an editor"},
    {"name == \"a\" where kind == 2", 12, "expected 'and', 'or'"},
    {"attributes[\"a\"] == [1, 2]", 19, "list values"},
    {"attributes[\"a\"] == {\"k\": 1}", 19, "map values"},
    {"attributes[\"a\"] == 0x01", 19, "byte slice literals"},
    {"trace_id.string == \"ab\"", 0, "path \"trace_id.string\" is not supported"},
    {"attributes[\"a\"][\"b\"] == 1", 15, "indexing into a map"},
    {"attributes == nil", 0, "is a map: index it"},
    {"kind == SPAN_KIND_WEIRD", 8, "enum SPAN_KIND_WEIRD"},
    {"name", 0, "not a boolean"},
    {"(name == \"a\"", 0, "unclosed '('"},
    {"name == \"a\")", 11, "unmatched ')'"},
    {"name == \"a", 8, "unterminated string"},
    {"IsMatch(name, \"(\")", 14, "does not compile"},
    {"IsMatch(name, attributes[\"p\"])", 14, "pattern must be a string literal"},
    {"name == \"\\d\"", 9, "unknown escape"},
    {"", 0, "empty condition"},
    {"name == 1 and", 13, "expected a value, found the end"},
    {"name ~ \"x\"", 5, "unexpected character '~'"},
};

static void test_refused_features(void **state) {
  (void)state;
  for (size_t r = 0; r < sizeof refusals / sizeof *refusals; r++) {
    tg_ottl_cond *c = NULL;
    unsigned caps = 0;
    size_t off = 999;
    char why[512];
    int rc = tg_ottl_compile(refusals[r].cond, strlen(refusals[r].cond), TG_OTTL_SPAN, &c,
                             &caps, &off, why, sizeof why);
    if (rc != TG_ECONFIG || !strstr(why, refusals[r].needle) || off != refusals[r].off)
      fail_msg("row %zu (%s): rc %d, off %zu (want %zu), why: %s", r, refusals[r].cond, rc, off,
               refusals[r].off, why);
    assert_null(c);
  }
  /* nesting is bounded: 100 '(' is refused, not a stack overflow */
  char deep[256];
  memset(deep, '(', 100);
  strcpy(deep + 100, "true");
  tg_ottl_cond *c = NULL;
  unsigned caps = 0;
  size_t off;
  char why[256];
  assert_int_equal(tg_ottl_compile(deep, strlen(deep), TG_OTTL_SPAN, &c, &caps, &off, why,
                                   sizeof why), TG_ECONFIG);
  assert_non_null(strstr(why, "nested deeper"));
}

/* ---- the component ---- */

static tg_config *load(const char *filter, tg_diag *d) {
  static char text[8192];
  snprintf(text, sizeof text,
           "receivers: {otlp: {protocols: {grpc: {endpoint: 127.0.0.1:0}}}}\n"
           "processors:\n  filter:\n%s"
           "exporters: {nop: {}}\n"
           "service:\n"
           "  telemetry: {metrics: {address: \"\"}}\n"
           "  pipelines: {traces: {receivers: [otlp], processors: [filter], exporters: [nop]}}\n",
           filter);
  tg_diag_init(d);
  return tg_config_load_text("f.yaml", text, strlen(text), d);
}

static const char *joined(const tg_diag *d) {
  static char buf[8192];
  size_t used = 0;
  buf[0] = '\0';
  for (size_t i = 0; i < d->n && used < sizeof buf; i++)
    used += (size_t)snprintf(buf + used, sizeof buf - used, "%s\n", d->lines[i]);
  return buf;
}

static tg_span_event *mk_event(tg_arena *a, const char *name, tg_key_value **attrs, size_t n) {
  tg_span_event *e = tg_arena_alloc(a, sizeof *e);
  opentelemetry__proto__trace__v1__span__event__init(e);
  e->name = tg_arena_strndup(a, name, strlen(name));
  e->attributes = attrs;
  e->n_attributes = n;
  return e;
}

/* Two resources: "web" with spans health (server), pay (client, 2 events), and "cron"
 * with one health span only. */
static tg_batch *make_batch(void) {
  tg_batch *b = tg_batch_new(0, 0);
  tg_arena *a = b->arena;
  tg_span *health = mk_span(a, "GET /health", 2, -1,
                            kv_list(a, 1, kv(a, "http.route", av_str(a, "/health"))), 1);
  tg_span *pay = mk_span(a, "POST /pay", 3, 2, kv_list(a, 1, kv(a, "tags", av_array(a, 0))), 1);
  pay->events = tg_arena_alloc(a, 2 * sizeof *pay->events);
  pay->events[0] = mk_event(a, "retry", kv_list(a, 1, kv(a, "level", av_str(a, "debug"))), 1);
  pay->events[1] = mk_event(a, "exception", NULL, 0);
  pay->n_events = 2;
  tg_span *health2 = mk_span(a, "GET /health", 2, -1,
                             kv_list(a, 1, kv(a, "http.route", av_str(a, "/health"))), 1);
  tg_resource_spans **rss = tg_arena_alloc(a, 2 * sizeof *rss);
  const char *svc[2] = {"web", "cron"};
  for (int r = 0; r < 2; r++) {
    tg_resource_spans *rs = tg_arena_alloc(a, sizeof *rs);
    opentelemetry__proto__trace__v1__resource_spans__init(rs);
    rs->resource = tg_arena_alloc(a, sizeof *rs->resource);
    opentelemetry__proto__resource__v1__resource__init(rs->resource);
    rs->resource->attributes = kv_list(a, 1, kv(a, "service.name", av_str(a, svc[r])));
    rs->resource->n_attributes = 1;
    tg_scope_spans *ss = tg_arena_alloc(a, sizeof *ss);
    opentelemetry__proto__trace__v1__scope_spans__init(ss);
    ss->spans = tg_arena_alloc(a, 2 * sizeof(void *));
    if (r == 0) {
      ss->spans[0] = health;
      ss->spans[1] = pay;
      ss->n_spans = 2;
    } else {
      ss->spans[0] = health2;
      ss->n_spans = 1;
    }
    rs->scope_spans = tg_arena_alloc(a, sizeof(void *));
    rs->scope_spans[0] = ss;
    rs->n_scope_spans = 1;
    rss[r] = rs;
  }
  b->request.resource_spans = rss;
  b->request.n_resource_spans = 2;
  b->span_count = 3;
  return b;
}

/* The filter's own series `family{processor="filter"}` as rendered. */
static long long filter_series(proc_harness *h, const char *family) {
  char series[160];
  snprintf(series, sizeof series, "%s{processor=\"filter\"}", family);
  return rendered_series(h->svc.metrics, series);
}

static void harness_start(proc_harness *h, const char *yaml) {
  tg_diag d;
  tg_config *cfg = load(yaml, &d);
  if (!cfg)
    fail_msg("%s", joined(&d));
  tg_diag_free(&d);
  proc_harness_start(h, cfg, &tg_processor_filter, "filter");
}

static void test_component_drops(void **state) {
  (void)state;
  proc_harness h;
  harness_start(&h, "    error_mode: ignore\n"
                    "    traces:\n"
                    "      span:\n"
                    "        - 'attributes[\"http.route\"] == \"/health\"'\n"
                    "      spanevent:\n"
                    "        - 'attributes[\"level\"] == \"debug\" and span.kind == SPAN_KIND_CLIENT'\n");
  assert_int_equal(tg_component_consume(&h.inst, make_batch()), TG_OK);
  assert_int_equal(h.out.calls, 1);
  tg_batch *b = h.out.last;
  /* the cron resource had only a health span: gone */
  assert_int_equal(b->request.n_resource_spans, 1);
  tg_resource_spans *rs = b->request.resource_spans[0];
  assert_string_equal(rs->resource->attributes[0]->value->string_value, "web");
  assert_int_equal(rs->n_scope_spans, 1);
  assert_int_equal(rs->scope_spans[0]->n_spans, 1);
  tg_span *pay = rs->scope_spans[0]->spans[0];
  assert_string_equal(pay->name, "POST /pay");
  assert_int_equal(pay->n_events, 1);
  assert_string_equal(pay->events[0]->name, "exception");
  assert_int_equal(b->span_count, 1);
  /* filtered on purpose: counted as filtered, never as dropped */
  assert_int_equal(filter_series(&h, "tailgate_filter_spans_dropped_total"), 2);
  assert_int_equal(filter_series(&h, "tailgate_filter_span_events_dropped_total"), 1);
  assert_int_equal(dropped_spans(h.svc.metrics, "filter"), 0);
  proc_harness_stop(&h);

  /* every span dropped: nothing is passed on */
  harness_start(&h, "    traces:\n      span: ['true']\n");
  assert_int_equal(tg_component_consume(&h.inst, make_batch()), TG_OK);
  assert_int_equal(h.out.calls, 0);
  proc_harness_stop(&h);
}

static void test_error_modes(void **state) {
  (void)state;
  /* IsMatch on the pay span's array attribute is an evaluation error */
  const char *cond = "      span: ['IsMatch(attributes[\"tags\"], \"x\")', 'name == \"POST /pay\"']\n";
  char yaml[512];
  proc_harness h;
  /* propagate (default): the whole batch is refused */
  snprintf(yaml, sizeof yaml, "    traces:\n%s", cond);
  harness_start(&h, yaml);
  assert_int_equal(tg_component_consume(&h.inst, make_batch()), TG_EINVAL);
  assert_int_equal(h.out.calls, 0);
  proc_harness_stop(&h);
  /* the refused batch is an error drop of all its spans, even those a condition had
   * already filtered before the failing one (health comes before pay) */
  harness_start(&h, "    traces:\n      span: ['name == \"GET /health\"', "
                    "'IsMatch(attributes[\"tags\"], \"x\")']\n");
  assert_int_equal(tg_component_consume(&h.inst, make_batch()), TG_EINVAL);
  assert_int_equal(h.out.calls, 0);
  assert_int_equal(dropped_spans(h.svc.metrics, "filter"), 3);
  assert_int_equal(filter_series(&h, "tailgate_filter_spans_dropped_total"), 0);
  assert_int_equal(filter_series(&h, "tailgate_filter_condition_errors_total"), 1);
  proc_harness_stop(&h);
  /* out of memory: the same */
  harness_start(&h, "    traces:\n      span: ['name == \"GET /health\"']\n");
  tg_batch *b = make_batch();
  exhaust_arena(b->arena);
  assert_int_equal(tg_component_consume(&h.inst, b), TG_ENOMEM);
  assert_int_equal(h.out.calls, 0);
  assert_int_equal(dropped_spans(h.svc.metrics, "filter"), 3);
  proc_harness_stop(&h);
  /* ignore and silent: the failing condition reads false, the next one still applies */
  const char *modes[] = {"ignore", "silent"};
  for (int i = 0; i < 2; i++) {
    snprintf(yaml, sizeof yaml, "    error_mode: %s\n    traces:\n%s", modes[i], cond);
    harness_start(&h, yaml);
    assert_int_equal(tg_component_consume(&h.inst, make_batch()), TG_OK);
    assert_int_equal(h.out.calls, 1);
    assert_int_equal(h.out.last->span_count, 2); /* pay dropped by the second condition */
    proc_harness_stop(&h);
  }
}

static void test_config_errors(void **state) {
  (void)state;
  tg_diag d;
  tg_config *cfg = load("    error_mode: loud\n"
                        "    metrics: {metric: ['true']}\n",
                        &d);
  assert_null(cfg);
  assert_non_null(strstr(joined(&d), "f.yaml:4:17: processors::filter: error_mode: \"loud\" is not one of"));
  assert_non_null(strstr(joined(&d), "unknown key \"metrics\" (valid keys: error_mode, traces)"));
  tg_diag_free(&d);
  cfg = load("    error_mode: silent\n"
                        "    traces:\n"
                        "      span:\n"
                        "        - 'name == \"a\" and Len(name) > 3'\n"
                        "        - name == \"a\" or 1 * 2\n"
                        "      spanevent:\n"
                        "        - 'kind == 2'\n",
                        &d);
  assert_null(cfg);
  const char *t = joined(&d);
  /* line 7 col 11 is the quote; the condition starts at col 12, Len at index 16 */
  assert_non_null(strstr(t, "f.yaml:7:28: processors::filter: traces.span: item 1: converter "
                            "Len() is not supported"));
  /* plain scalar starting at col 11; '*' at index 17 */
  assert_non_null(strstr(t, "f.yaml:8:28: processors::filter: traces.span: item 2: math "
                            "expressions"));
  /* kind is a span path: in the spanevent context it is span.kind */
  assert_non_null(strstr(t, "f.yaml:10:12: processors::filter: traces.spanevent: item 1: path "
                            "\"kind\" is not supported"));
  tg_diag_free(&d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_condition_table),
      cmocka_unit_test(test_refused_features),
      cmocka_unit_test(test_component_drops),
      cmocka_unit_test(test_error_modes),
      cmocka_unit_test(test_config_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
