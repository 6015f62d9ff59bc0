/* resource and resourcedetection processors through the real components: actions on
 * resource attributes, detected attributes with and without override, the env detector's
 * parsing rules, and positioned configuration errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <uv.h>

#include "attr_builders.h"
#include "drop_metrics.h"
#include "proc_harness.h"
#include "processors/resourcedetection/rd_detect.h"
#include "tg_component.h"
#include "tg_config.h"
#include "tg_service.h"

extern const tg_component tg_processor_resource;
extern const tg_component tg_processor_resourcedetection;

static const char *joined(const tg_diag *d) {
  static char buf[8192];
  size_t used = 0;
  buf[0] = '\0';
  for (size_t i = 0; i < d->n && used < sizeof buf; i++)
    used += (size_t)snprintf(buf + used, sizeof buf - used, "%s\n", d->lines[i]);
  return buf;
}

static tg_config *load(const char *type, const char *body, tg_diag *d) {
  static char text[4096];
  snprintf(text, sizeof text,
           "receivers: {otlp: {protocols: {grpc: {endpoint: 127.0.0.1:0}}}}\n"
           "processors:\n  %s:\n%s"
           "exporters: {nop: {}}\n"
           "service:\n  telemetry: {metrics: {address: \"\"}}\n"
           "  pipelines: {traces: {receivers: [otlp], processors: [%s], exporters: [nop]}}\n",
           type, body, type);
  tg_diag_init(d);
  return tg_config_load_text("r.yaml", text, strlen(text), d);
}

static void start(proc_harness *h, const tg_component *comp, const char *body) {
  tg_diag d;
  tg_config *cfg = load(comp->type, body, &d);
  if (!cfg)
    fail_msg("%s", joined(&d));
  tg_diag_free(&d);
  proc_harness_start(h, cfg, comp, comp->type);
}

/* Two resource_spans: the first with {service.name: web, host.name: laptop, secret: s}, the
 * second without a resource message. */
static tg_batch *make_batch(void) {
  tg_batch *b = tg_batch_new(0, 0);
  tg_arena *a = b->arena;
  tg_resource_spans **rss = tg_arena_alloc(a, 2 * sizeof *rss);
  for (int r = 0; r < 2; r++) {
    tg_resource_spans *rs = tg_arena_alloc(a, sizeof *rs);
    opentelemetry__proto__trace__v1__resource_spans__init(rs);
    if (r == 0) {
      rs->resource = tg_arena_alloc(a, sizeof *rs->resource);
      opentelemetry__proto__resource__v1__resource__init(rs->resource);
      rs->resource->attributes = kv_list(a, 3, kv(a, "service.name", av_str(a, "web")),
                                         kv(a, "host.name", av_str(a, "laptop")),
                                         kv(a, "secret", av_str(a, "s")));
      rs->resource->n_attributes = 3;
    }
    tg_scope_spans *ss = tg_arena_alloc(a, sizeof *ss);
    opentelemetry__proto__trace__v1__scope_spans__init(ss);
    tg_span *sp = tg_arena_alloc(a, sizeof *sp);
    opentelemetry__proto__trace__v1__span__init(sp);
    ss->spans = tg_arena_alloc(a, sizeof(void *));
    ss->spans[0] = sp;
    ss->n_spans = 1;
    rs->scope_spans = tg_arena_alloc(a, sizeof(void *));
    rs->scope_spans[0] = ss;
    rs->n_scope_spans = 1;
    rss[r] = rs;
  }
  b->request.resource_spans = rss;
  b->request.n_resource_spans = 2;
  b->span_count = 2;
  return b;
}

static tg_resource *res(proc_harness *h, int i) {
  return h->out.last->request.resource_spans[i]->resource;
}

static void test_resource_actions(void **state) {
  (void)state;
  proc_harness h;
  start(&h, &tg_processor_resource,
        "    attributes:\n"
        "      - {key: deployment.environment, value: prod, action: insert}\n"
        "      - {key: service.name, value: shop-web, action: update}\n"
        "      - {key: cloud.region, value: eu-west-1, action: upsert}\n"
        "      - {key: secret, action: delete}\n"
        "      - {key: host.name, action: hash}\n");
  assert_int_equal(tg_component_consume(&h.inst, make_batch()), TG_OK);
  tg_resource *r0 = res(&h, 0), *r1 = res(&h, 1);
  assert_string_equal(attr_str(r0->attributes, r0->n_attributes, "deployment.environment"), "prod");
  assert_string_equal(attr_str(r0->attributes, r0->n_attributes, "service.name"), "shop-web");
  assert_string_equal(attr_str(r0->attributes, r0->n_attributes, "cloud.region"), "eu-west-1");
  assert_null(attr_get(r0->attributes, r0->n_attributes, "secret"));
  /* SHA-256("laptop"), computed with sha256sum */
  assert_string_equal(attr_str(r0->attributes, r0->n_attributes, "host.name"),
                      "5eec0dc419aa8337bf725f026fda9c78c1cb1c642eeaff9d6e1112f37783e942");
  assert_int_equal(r0->n_attributes, 4);
  /* a ResourceSpans without a resource got one: insert and upsert acted, update did not */
  assert_non_null(r1);
  assert_int_equal(r1->n_attributes, 2);
  assert_string_equal(attr_str(r1->attributes, r1->n_attributes, "deployment.environment"), "prod");
  assert_string_equal(attr_str(r1->attributes, r1->n_attributes, "cloud.region"), "eu-west-1");
  proc_harness_stop(&h);
}

static void test_env_parsing(void **state) {
  (void)state;
  rd_attrs a = {0};
  char why[256];
  assert_int_equal(rd_parse_env(" service.name = shop ,k8s.pod.name=web-1,,team=a%2Cb%20c,"
                                "service.name=ignored", &a, why, sizeof why), 0);
  assert_int_equal(a.n, 3);
  assert_string_equal(a.items[0].key, "service.name");
  assert_string_equal(a.items[0].value, "shop");
  assert_string_equal(a.items[1].key, "k8s.pod.name");
  assert_string_equal(a.items[1].value, "web-1");
  assert_string_equal(a.items[2].key, "team");
  assert_string_equal(a.items[2].value, "a,b c");
  rd_attrs_free(&a);
  assert_int_equal(rd_parse_env("a=1,novalue", &a, why, sizeof why), -1);
  assert_non_null(strstr(why, "\"novalue\" is not key=value"));
  rd_attrs_free(&a);
  assert_int_equal(rd_parse_env("=x", &a, why, sizeof why), -1);
  assert_non_null(strstr(why, "empty key"));
  rd_attrs_free(&a);
  assert_int_equal(rd_parse_env("a=%zz", &a, why, sizeof why), -1);
  assert_non_null(strstr(why, "bad percent-escape"));
  rd_attrs_free(&a);
  assert_int_equal(rd_parse_env("a=50%", &a, why, sizeof why), -1);
  rd_attrs_free(&a);
}

static void read_hostname(char *out, size_t cap) {
  FILE *f = fopen("/proc/sys/kernel/hostname", "r");
  assert_non_null(f);
  assert_non_null(fgets(out, (int)cap, f));
  fclose(f);
  out[strcspn(out, "\n")] = '\0';
}

static void test_detection(void **state) {
  (void)state;
  char host[256];
  read_hostname(host, sizeof host);
  setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=staging,host.name=from-env", 1);
  proc_harness h;
  /* env first: its host.name wins over system's; override replaces the incoming laptop */
  start(&h, &tg_processor_resourcedetection, "    detectors: [env, system]\n");
  assert_int_equal(tg_component_consume(&h.inst, make_batch()), TG_OK);
  tg_resource *r0 = res(&h, 0), *r1 = res(&h, 1);
  assert_string_equal(attr_str(r0->attributes, r0->n_attributes, "host.name"), "from-env");
  assert_string_equal(attr_str(r0->attributes, r0->n_attributes, "deployment.environment"),
                      "staging");
  assert_string_equal(attr_str(r0->attributes, r0->n_attributes, "os.type"), "linux");
  assert_string_equal(attr_str(r0->attributes, r0->n_attributes, "service.name"), "web");
  assert_int_equal(r0->n_attributes, 5);
  assert_int_equal(r1->n_attributes, 3);
  proc_harness_stop(&h);
  /* system first, override false: the incoming host.name stays; the empty resource gets
   * the real host name */
  start(&h, &tg_processor_resourcedetection,
        "    detectors: [system, env]\n    override: false\n    timeout: 2s\n"
        "    system: {hostname_sources: [os]}\n");
  assert_int_equal(tg_component_consume(&h.inst, make_batch()), TG_OK);
  r0 = res(&h, 0);
  r1 = res(&h, 1);
  assert_string_equal(attr_str(r0->attributes, r0->n_attributes, "host.name"), "laptop");
  assert_string_equal(attr_str(r1->attributes, r1->n_attributes, "host.name"), host);
  assert_string_equal(attr_str(r1->attributes, r1->n_attributes, "os.type"), "linux");
  proc_harness_stop(&h);
  unsetenv("OTEL_RESOURCE_ATTRIBUTES");
}

static void test_config_errors(void **state) {
  (void)state;
  tg_diag d;
  assert_null(load("resourcedetection", "    detectors: [env, ec2]\n"
                                        "    system: {hostname_sources: [dns, os]}\n", &d));
  const char *t = joined(&d);
  assert_non_null(strstr(t, "r.yaml:4:16: processors::resourcedetection: detectors: \"ec2\" is "
                            "not a detector tailgate has"));
  assert_non_null(strstr(t, "r.yaml:5:13: processors::resourcedetection: "
                            "system.hostname_sources: \"dns\" is not supported"));
  tg_diag_free(&d);
  assert_null(load("resource", "    attributes:\n      - {key: a, action: explode}\n", &d));
  assert_non_null(strstr(joined(&d), "r.yaml:5:26: processors::resource: actions: item 1: "
                                     "action \"explode\" is not one of"));
  tg_diag_free(&d);
  /* a bad OTEL_RESOURCE_ATTRIBUTES fails create, naming the variable */
  setenv("OTEL_RESOURCE_ATTRIBUTES", "broken", 1);
  tg_config *cfg = load("resourcedetection", "    detectors: [env]\n", &d);
  assert_non_null(cfg);
  tg_diag_free(&d);
  tg_instance inst = {.component = &tg_processor_resourcedetection, .id = "resourcedetection",
                      .conf = tg_config_find(cfg, TG_PROCESSOR, "resourcedetection")->conf};
  tg_errbuf err;
  assert_int_equal(tg_component_create(&inst, &err), TG_ECONFIG);
  assert_non_null(strstr(err.msg, "OTEL_RESOURCE_ATTRIBUTES: \"broken\" is not key=value"));
  tg_component_destroy(&inst);
  tg_config_free(cfg);
  unsetenv("OTEL_RESOURCE_ATTRIBUTES");
}

/* A batch the processor cannot finish (no arena room left) is dropped, never passed on
 * half-edited, and its two spans are counted as dropped; a later good batch is not. */
static void test_error_drops_counted(void **state) {
  (void)state;
  static const struct {
    const tg_component *comp;
    const char *body;
  } cases[] = {
      {&tg_processor_resource,
       "    attributes:\n      - {key: deployment.environment, value: prod, action: insert}\n"},
      {&tg_processor_resourcedetection, "    detectors: [env]\n"},
  };
  setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=staging", 1);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    proc_harness h;
    start(&h, cases[i].comp, cases[i].body);
    assert_int_equal(dropped_spans(h.svc.metrics, cases[i].comp->type), 0);
    tg_batch *b = make_batch();
    exhaust_arena(b->arena);
    assert_int_equal(tg_component_consume(&h.inst, b), TG_ENOMEM);
    assert_null(h.out.last);
    assert_int_equal(dropped_spans(h.svc.metrics, cases[i].comp->type), 2);
    assert_int_equal(tg_component_consume(&h.inst, make_batch()), TG_OK);
    assert_non_null(h.out.last);
    assert_int_equal(dropped_spans(h.svc.metrics, cases[i].comp->type), 2);
    proc_harness_stop(&h);
  }
  unsetenv("OTEL_RESOURCE_ATTRIBUTES");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_resource_actions),
      cmocka_unit_test(test_env_parsing),
      cmocka_unit_test(test_detection),
      cmocka_unit_test(test_config_errors),
      cmocka_unit_test(test_error_drops_counted),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
