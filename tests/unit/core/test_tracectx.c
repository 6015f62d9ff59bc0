/* Trace-context parsing and emitting: table-driven vectors written from the W3C Trace
 * Context Level 2, B3 and Jaeger specifications (every valid and invalid case they
 * describe), the extraction order across formats, tracestate's combination, limits and
 * truncation, baggage, and round trips W3C <-> B3 <-> Jaeger. Expected values are written
 * out literally, not computed by the code under test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tg_baggage.h"
#include "tg_tracectx.h"

#define T32 "4bf92f3577b34da6a3ce929d0e0e4736"
#define S16 "00f067aa0ba902b7"
#define P16 "53995c3f42cd8ad8"

static void hex(const uint8_t *b, size_t n, char *out) { tg_hex_encode(b, n, out); }

/* ---- traceparent ---------------------------------------------------------------------- */

typedef struct tp_case {
  const char *in;
  int ok;
  const char *trace, *span;
  unsigned flags;
} tp_case;

static const tp_case tp_cases[] = {
    /* valid: the spec's examples, flags kept to SAMPLED|RANDOM */
    {"00-" T32 "-" S16 "-01", 1, T32, S16, 0x01},
    {"00-" T32 "-" S16 "-00", 1, T32, S16, 0x00},
    {"00-" T32 "-" S16 "-02", 1, T32, S16, 0x02},
    {"00-" T32 "-" S16 "-03", 1, T32, S16, 0x03},
    {"00-" T32 "-" S16 "-ff", 1, T32, S16, 0x03}, /* unknown bits dropped */
    {"00-" T32 "-" S16 "-09", 1, T32, S16, 0x01},
    /* OWS around the value */
    {" 00-" T32 "-" S16 "-01", 1, T32, S16, 0x01},
    {"\t00-" T32 "-" S16 "-01 \t", 1, T32, S16, 0x01},
    /* higher versions: parsed by prefix */
    {"cc-" T32 "-" S16 "-01", 1, T32, S16, 0x01},
    {"cc-" T32 "-" S16 "-01-what-the-future-will-be-like", 1, T32, S16, 0x01},
    {"01-" T32 "-" S16 "-02-", 1, T32, S16, 0x02},
    {"fe-" T32 "-" S16 "-00-x", 1, T32, S16, 0x00},
    /* invalid */
    {"cc-" T32 "-" S16 "-01.what-the-future-will-be-like", 0, NULL, NULL, 0},
    {"00-" T32 "-" S16 "-01.", 0, NULL, NULL, 0},
    {"00-" T32 "-" S16 "-01-what-the-future-will-be-like", 0, NULL, NULL, 0},
    {"ff-" T32 "-" S16 "-01", 0, NULL, NULL, 0},
    {".0-" T32 "-" S16 "-01", 0, NULL, NULL, 0},
    {"0.-" T32 "-" S16 "-01", 0, NULL, NULL, 0},
    {"000-" T32 "-" S16 "-01", 0, NULL, NULL, 0},
    {"0000-" T32 "-" S16 "-01", 0, NULL, NULL, 0},
    {"0-" T32 "-" S16 "-01", 0, NULL, NULL, 0},
    {"00-00000000000000000000000000000000-" S16 "-01", 0, NULL, NULL, 0},
    {"00-.bf92f3577b34da6a3ce929d0e0e4736-" S16 "-01", 0, NULL, NULL, 0},
    {"00-4bf92f3577b34da6a3ce929d0e0e473.-" S16 "-01", 0, NULL, NULL, 0},
    {"00-4BF92F3577B34DA6A3CE929D0E0E4736-" S16 "-01", 0, NULL, NULL, 0}, /* upper case */
    {"00-" T32 "-00F067AA0BA902B7-01", 0, NULL, NULL, 0},
    {"00-" T32 "-" S16 "-0A", 0, NULL, NULL, 0},
    {"0A-" T32 "-" S16 "-01", 0, NULL, NULL, 0},
    {"00-" T32 "1-" S16 "-01", 0, NULL, NULL, 0},          /* trace-id too long */
    {"00-4bf92f3577b34da6a3ce929d0e0e473-" S16 "-01", 0, NULL, NULL, 0}, /* too short */
    {"00-" T32 "-0000000000000000-01", 0, NULL, NULL, 0},
    {"00-" T32 "-.0f067aa0ba902b7-01", 0, NULL, NULL, 0},
    {"00-" T32 "-00f067aa0ba902b.-01", 0, NULL, NULL, 0},
    {"00-" T32 "-" S16 "1-01", 0, NULL, NULL, 0},
    {"00-" T32 "-00f067aa0ba902b-01", 0, NULL, NULL, 0},
    {"00-" T32 "-" S16 "-.0", 0, NULL, NULL, 0},
    {"00-" T32 "-" S16 "-0.", 0, NULL, NULL, 0},
    {"00-" T32 "-" S16 "-001", 0, NULL, NULL, 0},
    {"00-" T32 "-" S16 "-1", 0, NULL, NULL, 0},
    {"cc-" T32 "-" S16 "-1", 0, NULL, NULL, 0}, /* higher version shorter than 55 */
    {"00_" T32 "_" S16 "_01", 0, NULL, NULL, 0},
    {"", 0, NULL, NULL, 0},
    {"00", 0, NULL, NULL, 0},
    {"00-", 0, NULL, NULL, 0},
};

static void test_traceparent_vectors(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof tp_cases / sizeof tp_cases[0]; i++) {
    const tp_case *c = &tp_cases[i];
    tg_tracectx ctx;
    const char *reason = NULL;
    int rc = tg_traceparent_parse(c->in, strlen(c->in), &ctx, &reason);
    if (rc != (c->ok ? 0 : -1))
      fail_msg("case %zu '%s': rc %d (%s)", i, c->in, rc, reason ? reason : "");
    if (!c->ok) {
      assert_non_null(reason);
      assert_true(tg_id_is_zero(ctx.trace_id, 16));
      continue;
    }
    char t[33], s[17];
    hex(ctx.trace_id, 16, t);
    hex(ctx.span_id, 8, s);
    assert_string_equal(t, c->trace);
    assert_string_equal(s, c->span);
    assert_int_equal(ctx.flags, c->flags);
    assert_int_equal(ctx.source, TG_TRACECTX_FROM_W3C);
  }
}

static void test_traceparent_emit(void **state) {
  (void)state;
  tg_tracectx ctx;
  const char *future = "cc-" T32 "-" S16 "-ff-x";
  assert_int_equal(tg_traceparent_parse(future, strlen(future), &ctx, NULL), 0);
  char out[56];
  assert_int_equal(tg_traceparent_format(&ctx, out), 55);
  assert_string_equal(out, "00-" T32 "-" S16 "-03"); /* downgraded to 00, flags known only */
  ctx.flags = 0;
  ctx.debug = 1;
  tg_traceparent_format(&ctx, out);
  assert_string_equal(out, "00-" T32 "-" S16 "-01"); /* debug is sampled in W3C */
}

/* ---- tracestate ----------------------------------------------------------------------- */

static const char *ts_run(const char *const *hdrs, size_t n, int *kept) {
  static tg_tracestate_parser p;
  static tg_tracectx ctx;
  tg_tracestate_begin(&p);
  for (size_t i = 0; i < n; i++)
    if (tg_tracestate_add(&p, hdrs[i], strlen(hdrs[i])))
      break;
  *kept = tg_tracestate_finish(&p, &ctx, NULL);
  assert_int_equal(strlen(ctx.tracestate), ctx.tracestate_len);
  return ctx.tracestate;
}

typedef struct ts_case {
  const char *hdrs[5];
  const char *want;
  int kept;
} ts_case;

static void test_tracestate_vectors(void **state) {
  (void)state;
  static const ts_case cases[] = {
      {{"foo=1,bar=2"}, "foo=1,bar=2", 2},
      {{"foo=1 \t , \t bar=2, \t baz=3"}, "foo=1,bar=2,baz=3", 3},
      {{" foo=1"}, "foo=1", 1},
      {{"foo=1\t"}, "foo=1", 1},
      {{"foo=1,bar=2", "rojo=1,congo=2", "baz=3"}, "foo=1,bar=2,rojo=1,congo=2,baz=3", 5},
      {{"", "foo=1"}, "foo=1", 1},
      {{"foo=1", ""}, "foo=1", 1},
      {{""}, "", 0},
      {{",,foo=1, ,"}, "foo=1", 1},                     /* empty members are allowed */
      {{"foo=1,foo=2"}, "foo=1", 1},                    /* duplicate: first kept */
      {{"foo=1", "foo=2"}, "foo=1", 1},
      {{"foo@=1,bar=2"}, "foo@=1,bar=2", 2},            /* '@' is a keychar in Level 2 */
      {{"foo@bar@baz=1"}, "foo@bar@baz=1", 1},
      {{"0ab=1"}, "0ab=1", 1},
      {{"k= leading"}, "k= leading", 1},                /* leading spaces are the value's */
      {{"@foo=1,bar=2"}, "", 0},                         /* invalid: whole header dropped */
      {{"foo =1"}, "", 0},
      {{"FOO=1"}, "", 0},
      {{"foo.bar=1"}, "", 0},
      {{"foo=bar=baz"}, "", 0},
      {{"foo=,bar=3"}, "", 0},
      {{"foo"}, "", 0},
      {{"=1"}, "", 0},
      {{"foo=1", "bar=\x01"}, "", 0},
      {{"foo=a\tb"}, "", 0},
      {{"_foo=1"}, "", 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    size_t n = 0;
    while (n < 5 && cases[i].hdrs[n])
      n++;
    int kept;
    const char *got = ts_run(cases[i].hdrs, n, &kept);
    if (strcmp(got, cases[i].want) || kept != cases[i].kept)
      fail_msg("case %zu: got '%s' (%d), want '%s' (%d)", i, got, kept, cases[i].want,
               cases[i].kept);
  }
}

static void test_tracestate_limits(void **state) {
  (void)state;
  char a[400], b[512], k256[300], k257[300];
  /* 32 members kept, 33 discard the header */
  size_t w = 0;
  for (int i = 1; i <= 32; i++)
    w += (size_t)sprintf(a + w, "%sbar%02d=%02d", i > 1 ? "," : "", i, i);
  int kept;
  const char *h1[] = {a};
  const char *got = ts_run(h1, 1, &kept);
  assert_int_equal(kept, 32);
  assert_string_equal(got, a);
  snprintf(b, sizeof b, "%s,bar33=33", a);
  const char *h2[] = {b};
  assert_string_equal(ts_run(h2, 1, &kept), "");
  /* key lengths: 256 ok, 257 invalid */
  memset(k256, 'z', 256);
  strcpy(k256 + 256, "=1");
  memset(k257, 'z', 257);
  strcpy(k257 + 257, "=1");
  const char *h3[] = {"foo=1", k256};
  got = ts_run(h3, 2, &kept);
  assert_int_equal(kept, 2);
  assert_int_equal(strlen(got), 6 + 258);
  const char *h4[] = {"foo=1", k257};
  assert_string_equal(ts_run(h4, 2, &kept), "");
  /* value lengths: 256 ok, 257 invalid */
  char v256[300], v257[300];
  strcpy(v256, "k=");
  memset(v256 + 2, 'v', 256);
  v256[258] = '\0';
  strcpy(v257, "k=");
  memset(v257 + 2, 'v', 257);
  v257[259] = '\0';
  const char *h5[] = {v256};
  assert_int_equal(strlen(ts_run(h5, 1, &kept)), 258);
  const char *h6[] = {v257};
  assert_string_equal(ts_run(h6, 1, &kept), "");
}

static void test_tracestate_truncation(void **state) {
  (void)state;
  /* 4 short (10 chars each: "aN=xxxxxxx") + one of 200 + more short ones: the long one
   * goes first, then members from the end. */
  char big[200 + 1], hdr[8192];
  memset(big, 'x', 200);
  big[0] = 'l';
  big[1] = '=';
  big[200] = '\0';
  size_t w = 0;
  w += (size_t)sprintf(hdr + w, "a1=1234567,%s", big);
  for (int i = 2; i <= 31; i++)
    w += (size_t)sprintf(hdr + w, ",a%02d=123456", i); /* 10 chars each */
  const char *h[] = {hdr};
  int kept;
  const char *got = ts_run(h, 1, &kept);
  /* without the long member: 10 + 30*11 = 340 <= 512, so only the long one goes */
  assert_null(strstr(got, "l=xx"));
  assert_int_equal(kept, 31);
  assert_int_equal(strncmp(got, "a1=1234567,a02=123456", 21), 0);
  assert_int_equal(strlen(got), 340);

  /* all members short: drop from the end until <= 512 */
  w = 0;
  for (int i = 1; i <= 32; i++)
    w += (size_t)sprintf(hdr + w, "%sk%02d=%s", i > 1 ? "," : "", i,
                         "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv"); /* 124-char members */
  got = ts_run(h, 1, &kept);
  /* 4 members: 4*124+3 = 499; 5 would be 624 */
  assert_int_equal(kept, 4);
  assert_int_equal(strlen(got), 499);
  assert_int_equal(strncmp(got, "k01=", 4), 0);
  assert_non_null(strstr(got, ",k04="));
  assert_null(strstr(got, "k05="));
}

/* ---- B3 ------------------------------------------------------------------------------- */

typedef struct b3_case {
  const char *in;
  int rc;
  const char *trace, *span, *parent;
  int sampled, debug, deferred;
} b3_case;

static void test_b3_single_vectors(void **state) {
  (void)state;
  static const b3_case cases[] = {
      {T32 "-" S16 "-1-" P16, 0, T32, S16, P16, 1, 0, 0},
      {T32 "-" S16 "-1", 0, T32, S16, "0000000000000000", 1, 0, 0},
      {T32 "-" S16 "-0", 0, T32, S16, "0000000000000000", 0, 0, 0},
      {T32 "-" S16 "-d", 0, T32, S16, "0000000000000000", 1, 1, 0},
      {T32 "-" S16, 0, T32, S16, "0000000000000000", 0, 0, 1},
      {"a3ce929d0e0e4736-" S16 "-1", 0, "0000000000000000a3ce929d0e0e4736", S16,
       "0000000000000000", 1, 0, 0},
      {"0", 1, NULL, NULL, NULL, 0, 0, 0},
      {"1", 1, NULL, NULL, NULL, 1, 0, 0},
      {"d", 1, NULL, NULL, NULL, 1, 1, 0},
      {"2", -1, NULL, NULL, NULL, 0, 0, 0},
      {"true", -1, NULL, NULL, NULL, 0, 0, 0},
      {T32 "-" S16 "-" P16, -1, NULL, NULL, NULL, 0, 0, 0}, /* parent in sampling slot */
      {T32 "-" S16 "-2", -1, NULL, NULL, NULL, 0, 0, 0},
      {T32 "-" S16 "-1-" P16 "-x", -1, NULL, NULL, NULL, 0, 0, 0},
      {T32 "-" S16 "-1-", -1, NULL, NULL, NULL, 0, 0, 0},
      {T32 "-" S16 "-", -1, NULL, NULL, NULL, 0, 0, 0},
      {"4BF92F3577B34DA6A3CE929D0E0E4736-" S16 "-1", -1, NULL, NULL, NULL, 0, 0, 0},
      {"a3ce929d0e0e473-" S16 "-1", -1, NULL, NULL, NULL, 0, 0, 0}, /* 15 digits */
      {T32 "0-" S16 "-1", -1, NULL, NULL, NULL, 0, 0, 0},
      {"00000000000000000000000000000000-" S16 "-1", -1, NULL, NULL, NULL, 0, 0, 0},
      {T32 "-0000000000000000-1", -1, NULL, NULL, NULL, 0, 0, 0},
      {T32 "-" S16 "-1-0000000000000000", -1, NULL, NULL, NULL, 0, 0, 0},
      {T32 "-00f067aa0ba902b-1", -1, NULL, NULL, NULL, 0, 0, 0},
      {T32, -1, NULL, NULL, NULL, 0, 0, 0},
      {"", -1, NULL, NULL, NULL, 0, 0, 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const b3_case *c = &cases[i];
    tg_tracectx ctx;
    const char *reason = NULL;
    int rc = tg_b3_single_parse(c->in, strlen(c->in), &ctx, &reason);
    if (rc != c->rc)
      fail_msg("b3 case %zu '%s': rc %d want %d (%s)", i, c->in, rc, c->rc,
               reason ? reason : "");
    if (rc == -1) {
      assert_non_null(reason);
      continue;
    }
    assert_int_equal(!!(ctx.flags & TG_TRACECTX_SAMPLED), c->sampled);
    assert_int_equal(ctx.debug, c->debug);
    assert_int_equal(ctx.deferred, c->deferred);
    if (rc == 1)
      continue;
    char t[33], s[17], p[17];
    hex(ctx.trace_id, 16, t);
    hex(ctx.span_id, 8, s);
    hex(ctx.parent_id, 8, p);
    assert_string_equal(t, c->trace);
    assert_string_equal(s, c->span);
    assert_string_equal(p, c->parent);
  }
}

static void test_b3_multi_vectors(void **state) {
  (void)state;
  struct {
    const char *t, *s, *p, *sampled, *flags;
    int rc, sampled_out, debug, deferred;
    const char *trace;
  } cases[] = {
      {T32, S16, P16, "1", NULL, 0, 1, 0, 0, T32},
      {T32, S16, NULL, "0", NULL, 0, 0, 0, 0, T32},
      {T32, S16, NULL, "true", NULL, 0, 1, 0, 0, T32},
      {T32, S16, NULL, "false", NULL, 0, 0, 0, 0, T32},
      {T32, S16, NULL, NULL, NULL, 0, 0, 0, 1, T32},
      {T32, S16, NULL, NULL, "1", 0, 1, 1, 0, T32},     /* debug implies sampled */
      {T32, S16, NULL, "0", "1", 0, 1, 1, 0, T32},      /* flags win over sampled */
      {"a3ce929d0e0e4736", S16, NULL, "1", NULL, 0, 1, 0, 0, "0000000000000000a3ce929d0e0e4736"},
      {NULL, NULL, NULL, "0", NULL, 1, 0, 0, 0, NULL},   /* decision only */
      {NULL, NULL, NULL, NULL, "1", 1, 1, 1, 0, NULL},
      {T32, NULL, NULL, "1", NULL, -1, 0, 0, 0, NULL},
      {NULL, S16, NULL, "1", NULL, -1, 0, 0, 0, NULL},
      {T32, S16, NULL, "2", NULL, -1, 0, 0, 0, NULL},
      {T32, S16, NULL, "True", NULL, -1, 0, 0, 0, NULL},
      {T32, S16, NULL, NULL, "2", -1, 0, 0, 0, NULL},
      {T32, S16, "0000000000000000", "1", NULL, -1, 0, 0, 0, NULL},
      {T32, S16, "xyz", "1", NULL, -1, 0, 0, 0, NULL},
      {"4BF92F3577B34DA6A3CE929D0E0E4736", S16, NULL, "1", NULL, -1, 0, 0, 0, NULL},
      {"00000000000000000000000000000000", S16, NULL, "1", NULL, -1, 0, 0, 0, NULL},
      {T32, "0000000000000000", NULL, "1", NULL, -1, 0, 0, 0, NULL},
      {"abc", S16, NULL, "1", NULL, -1, 0, 0, 0, NULL},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    tg_tracectx ctx;
    const char *reason = NULL;
    int rc = tg_b3_multi_parse(cases[i].t, cases[i].s, cases[i].p, cases[i].sampled,
                               cases[i].flags, &ctx, &reason);
    if (rc != cases[i].rc)
      fail_msg("b3 multi case %zu: rc %d want %d (%s)", i, rc, cases[i].rc,
               reason ? reason : "");
    if (rc == -1)
      continue;
    assert_int_equal(!!(ctx.flags & TG_TRACECTX_SAMPLED), cases[i].sampled_out);
    assert_int_equal(ctx.debug, cases[i].debug);
    assert_int_equal(ctx.deferred, cases[i].deferred);
    if (cases[i].trace) {
      char t[33];
      hex(ctx.trace_id, 16, t);
      assert_string_equal(t, cases[i].trace);
    }
  }
}

static void test_b3_emit(void **state) {
  (void)state;
  tg_tracectx ctx;
  char out[TG_B3_SINGLE_MAX + 1];
  tg_b3_multi_values mv;
  assert_int_equal(tg_b3_single_parse(T32 "-" S16 "-1-" P16, 68, &ctx, NULL), 0);
  assert_int_equal(tg_b3_single_format(&ctx, out), 68);
  assert_string_equal(out, T32 "-" S16 "-1-" P16);
  tg_b3_multi_format(&ctx, &mv);
  assert_string_equal(mv.trace_id, T32);
  assert_string_equal(mv.span_id, S16);
  assert_string_equal(mv.parent_id, P16);
  assert_string_equal(mv.sampled, "1");
  assert_string_equal(mv.flags, "");
  assert_int_equal(tg_b3_single_parse("a3ce929d0e0e4736-" S16 "-d", 35, &ctx, NULL), 0);
  tg_b3_single_format(&ctx, out);
  assert_string_equal(out, "0000000000000000a3ce929d0e0e4736-" S16 "-d");
  tg_b3_multi_format(&ctx, &mv);
  assert_string_equal(mv.sampled, "");
  assert_string_equal(mv.flags, "1");
  assert_int_equal(tg_b3_single_parse(T32 "-" S16, 49, &ctx, NULL), 0);
  tg_b3_single_format(&ctx, out);
  assert_string_equal(out, T32 "-" S16); /* deferred stays deferred */
  tg_b3_multi_format(&ctx, &mv);
  assert_string_equal(mv.sampled, "");
}

/* ---- Jaeger --------------------------------------------------------------------------- */

static void test_jaeger_vectors(void **state) {
  (void)state;
  struct {
    const char *in;
    int ok;
    const char *trace, *span, *parent;
    int sampled, debug;
  } cases[] = {
      {T32 ":" S16 ":0:1", 1, T32, S16, "0000000000000000", 1, 0},
      {T32 ":" S16 ":" P16 ":01", 1, T32, S16, P16, 1, 0},
      {"1f:2e:0:0", 1, "0000000000000000000000000000001f", "000000000000002e",
       "0000000000000000", 0, 0},
      {"a3ce929d0e0e4736:" S16 ":0:3", 1, "0000000000000000a3ce929d0e0e4736", S16,
       "0000000000000000", 1, 1},
      {"A3CE929D0E0E4736:00F067AA0BA902B7:0:2", 1, "0000000000000000a3ce929d0e0e4736", S16,
       "0000000000000000", 1, 1}, /* debug implies sampled */
      {T32 "%3A" S16 "%3a0%3A1", 1, T32, S16, "0000000000000000", 1, 0},
      {"1f:2e:0:ff", 1, "0000000000000000000000000000001f", "000000000000002e",
       "0000000000000000", 1, 1},
      {"0:2e:0:1", 0, NULL, NULL, NULL, 0, 0},
      {"00000000000000000000000000000000:2e:0:1", 0, NULL, NULL, NULL, 0, 0},
      {"1f:0:0:1", 0, NULL, NULL, NULL, 0, 0},
      {"1f:2e:0", 0, NULL, NULL, NULL, 0, 0},
      {"1f:2e:0:1:5", 0, NULL, NULL, NULL, 0, 0},
      {"1f:2e:0:100", 0, NULL, NULL, NULL, 0, 0},
      {"1f:2e:0:", 0, NULL, NULL, NULL, 0, 0},
      {":2e:0:1", 0, NULL, NULL, NULL, 0, 0},
      {T32 "0:2e:0:1", 0, NULL, NULL, NULL, 0, 0}, /* 33 digits */
      {"1f:" S16 "0:0:1", 0, NULL, NULL, NULL, 0, 0},
      {"1g:2e:0:1", 0, NULL, NULL, NULL, 0, 0},
      {"1f%3B2e:0:1", 0, NULL, NULL, NULL, 0, 0},
      {"", 0, NULL, NULL, NULL, 0, 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    tg_tracectx ctx;
    const char *reason = NULL;
    int rc = tg_uber_trace_id_parse(cases[i].in, strlen(cases[i].in), &ctx, &reason);
    if (rc != (cases[i].ok ? 0 : -1))
      fail_msg("jaeger case %zu '%s': rc %d (%s)", i, cases[i].in, rc, reason ? reason : "");
    if (!cases[i].ok)
      continue;
    char t[33], s[17], p[17];
    hex(ctx.trace_id, 16, t);
    hex(ctx.span_id, 8, s);
    hex(ctx.parent_id, 8, p);
    assert_string_equal(t, cases[i].trace);
    assert_string_equal(s, cases[i].span);
    assert_string_equal(p, cases[i].parent);
    assert_int_equal(!!(ctx.flags & TG_TRACECTX_SAMPLED), cases[i].sampled);
    assert_int_equal(ctx.debug, cases[i].debug);
  }
  tg_tracectx ctx;
  char out[TG_UBER_TRACE_ID_MAX + 1];
  assert_int_equal(tg_uber_trace_id_parse("1f:2e:" P16 ":3", 24, &ctx, NULL), 0);
  tg_uber_trace_id_format(&ctx, out);
  assert_string_equal(out, "0000000000000000000000000000001f:000000000000002e:" P16 ":03");
}

/* ---- extraction ----------------------------------------------------------------------- */

static tg_tracectx_source extract(const char *const *hdrs, unsigned formats, tg_tracectx *ctx,
                                  const char **reason) {
  static tg_tracestate_parser p;
  tg_tracectx_extractor ex;
  tg_tracectx_extract_begin(&ex, formats);
  for (size_t i = 0; hdrs[i]; i += 2)
    tg_tracectx_extract_header(&ex, hdrs[i], strlen(hdrs[i]), hdrs[i + 1]);
  return tg_tracectx_extract_finish(&ex, &p, ctx, reason);
}

static void test_extract_order(void **state) {
  (void)state;
  const unsigned all = TG_PROPAGATE_TRACECONTEXT | TG_PROPAGATE_B3 | TG_PROPAGATE_JAEGER;
  tg_tracectx ctx;
  const char *reason;
  char t[33];
  /* W3C first; tracestate combined from repeated headers, names in any case */
  const char *h1[] = {"TraceParent", "00-" T32 "-" S16 "-01", "b3", "a3ce929d0e0e4736-" S16 "-0",
                      "tracestate", "a=1", "TRACESTATE", "b=2", NULL};
  assert_int_equal(extract(h1, all, &ctx, &reason), TG_TRACECTX_FROM_W3C);
  assert_string_equal(ctx.tracestate, "a=1,b=2");
  /* invalid traceparent: no context, no fall-through to B3, tracestate unread */
  const char *h2[] = {"traceparent", "00-" T32 "-" S16 "-0x", "b3", T32 "-" S16 "-1",
                      "tracestate", "a=1", NULL};
  assert_int_equal(extract(h2, all, &ctx, &reason), TG_TRACECTX_NONE);
  assert_non_null(strstr(reason, "traceparent"));
  assert_string_equal(ctx.tracestate, "");
  /* repeated traceparent: invalid */
  const char *h3[] = {"traceparent", "00-" T32 "-" S16 "-01", "traceparent",
                      "00-" T32 "-" S16 "-01", NULL};
  assert_int_equal(extract(h3, all, &ctx, &reason), TG_TRACECTX_NONE);
  /* b3 single wins over multi */
  const char *h4[] = {"x-b3-traceid", "1111111111111111", "x-b3-spanid", S16, "b3",
                      "a3ce929d0e0e4736-" S16 "-1", NULL};
  assert_int_equal(extract(h4, all, &ctx, &reason), TG_TRACECTX_FROM_B3_SINGLE);
  hex(ctx.trace_id, 16, t);
  assert_string_equal(t, "0000000000000000a3ce929d0e0e4736");
  /* multi alone */
  const char *h5[] = {"X-B3-TraceId", T32, "X-B3-SpanId", S16, "X-B3-Sampled", "1", NULL};
  assert_int_equal(extract(h5, all, &ctx, &reason), TG_TRACECTX_FROM_B3_MULTI);
  /* jaeger, and disabled formats are not read */
  const char *h6[] = {"uber-trace-id", "1f:2e:0:1", NULL};
  assert_int_equal(extract(h6, all, &ctx, &reason), TG_TRACECTX_FROM_JAEGER);
  assert_int_equal(extract(h6, TG_PROPAGATE_TRACECONTEXT, &ctx, &reason), TG_TRACECTX_NONE);
  assert_string_equal(reason, "no trace context headers");
  /* tracestate without traceparent: nothing */
  const char *h7[] = {"tracestate", "a=1", NULL};
  assert_int_equal(extract(h7, all, &ctx, &reason), TG_TRACECTX_NONE);
  /* a b3 decision alone is no context */
  const char *h8[] = {"b3", "0", NULL};
  assert_int_equal(extract(h8, all, &ctx, &reason), TG_TRACECTX_NONE);
}

static void test_round_trips(void **state) {
  (void)state;
  tg_tracectx a, b, c, d;
  char tp[56], b3[TG_B3_SINGLE_MAX + 1], uber[TG_UBER_TRACE_ID_MAX + 1];
  /* W3C -> B3 -> Jaeger -> W3C keeps IDs and the sampled bit */
  assert_int_equal(tg_traceparent_parse("00-" T32 "-" S16 "-01", 55, &a, NULL), 0);
  tg_b3_single_format(&a, b3);
  assert_string_equal(b3, T32 "-" S16 "-1");
  assert_int_equal(tg_b3_single_parse(b3, strlen(b3), &b, NULL), 0);
  tg_uber_trace_id_format(&b, uber);
  assert_string_equal(uber, T32 ":" S16 ":0:01");
  assert_int_equal(tg_uber_trace_id_parse(uber, strlen(uber), &c, NULL), 0);
  tg_traceparent_format(&c, tp);
  assert_string_equal(tp, "00-" T32 "-" S16 "-01");
  /* B3 with parent and debug -> Jaeger keeps both -> B3 again is identical */
  assert_int_equal(tg_b3_single_parse(T32 "-" S16 "-d-" P16, 68, &a, NULL), 0);
  tg_uber_trace_id_format(&a, uber);
  assert_string_equal(uber, T32 ":" S16 ":" P16 ":03");
  assert_int_equal(tg_uber_trace_id_parse(uber, strlen(uber), &d, NULL), 0);
  tg_b3_single_format(&d, b3);
  assert_string_equal(b3, T32 "-" S16 "-d-" P16);
  /* unsampled W3C -> B3 says deny (0), not defer */
  assert_int_equal(tg_traceparent_parse("00-" T32 "-" S16 "-00", 55, &a, NULL), 0);
  tg_b3_single_format(&a, b3);
  assert_string_equal(b3, T32 "-" S16 "-0");
  /* 64-bit Jaeger -> W3C -> Jaeger: the padded ID survives */
  assert_int_equal(tg_uber_trace_id_parse("a3ce929d0e0e4736:" S16 ":0:1", 37, &a, NULL), 0);
  tg_traceparent_format(&a, tp);
  assert_string_equal(tp, "00-0000000000000000a3ce929d0e0e4736-" S16 "-01");
  assert_int_equal(tg_traceparent_parse(tp, 55, &b, NULL), 0);
  assert_memory_equal(a.trace_id, b.trace_id, 16);
}

/* ---- baggage -------------------------------------------------------------------------- */

static void test_baggage(void **state) {
  (void)state;
  tg_baggage *b = malloc(sizeof *b);
  assert_non_null(b);
  tg_baggage_init(b);
  const char *reason = NULL;
  const char *in = "userId=alice, serverNode = DF%2028 ;meta;k=v,isProduction=false";
  assert_int_equal(tg_baggage_parse(b, in, strlen(in), &reason), 0);
  assert_int_equal(b->n, 3);
  assert_int_equal(b->m[1].value_len, 5);
  assert_memory_equal(b->buf + b->m[1].value_off, "DF 28", 5);
  char out[512];
  tg_baggage_format(b, out, sizeof out);
  assert_string_equal(out, "userId=alice,serverNode=DF%2028;meta;k=v,isProduction=false");
  /* invalid members are skipped and counted */
  tg_baggage_init(b);
  const char *bad = "a=1,b c=2,d=\"q\",e=%zz,f=ok";
  assert_int_equal(tg_baggage_parse(b, bad, strlen(bad), &reason), 3);
  assert_int_equal(b->n, 2);
  tg_baggage_format(b, out, sizeof out);
  assert_string_equal(out, "a=1,f=ok");
  /* uberctx: URL-decoded in, key lower-cased; W3C out percent-encodes */
  tg_baggage_init(b);
  assert_int_equal(tg_baggage_add_uberctx(b, "uberctx-Tenant", 14, "a%20b%2Cc"), 1);
  assert_int_equal(tg_baggage_add_uberctx(b, "x-other", 7, "1"), 0);
  tg_baggage_format(b, out, sizeof out);
  assert_string_equal(out, "tenant=a%20b%2Cc");
  tg_baggage_format_value(b, 0, out, sizeof out);
  assert_string_equal(out, "a%20b%2Cc");
  /* the member bound */
  tg_baggage_init(b);
  char big[2048];
  size_t w = 0;
  for (int i = 0; i < 70; i++)
    w += (size_t)sprintf(big + w, "%sk%d=v", i ? "," : "", i);
  assert_int_equal(tg_baggage_parse(b, big, w, &reason), 6);
  assert_int_equal(b->n, 64);
  assert_true(b->truncated);
  free(b);
}

static void test_correlation_id(void **state) {
  (void)state;
  tg_idgen g;
  tg_idgen_seed(&g);
  tg_tracectx ctx;
  assert_int_equal(tg_traceparent_parse("00-" T32 "-" S16 "-01", 55, &ctx, NULL), 0);
  char id[33], id2[33];
  tg_tracectx_correlation_id(TG_TRACECTX_FROM_W3C, &ctx, &g, id);
  assert_string_equal(id, T32);
  tg_tracectx_correlation_id(TG_TRACECTX_NONE, &ctx, &g, id);
  tg_tracectx_correlation_id(TG_TRACECTX_NONE, &ctx, &g, id2);
  assert_int_equal(strlen(id), 32);
  assert_string_not_equal(id, T32);
  assert_string_not_equal(id, id2);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_traceparent_vectors), cmocka_unit_test(test_traceparent_emit),
      cmocka_unit_test(test_tracestate_vectors),  cmocka_unit_test(test_tracestate_limits),
      cmocka_unit_test(test_tracestate_truncation), cmocka_unit_test(test_b3_single_vectors),
      cmocka_unit_test(test_b3_multi_vectors),    cmocka_unit_test(test_b3_emit),
      cmocka_unit_test(test_jaeger_vectors),      cmocka_unit_test(test_extract_order),
      cmocka_unit_test(test_round_trips),         cmocka_unit_test(test_baggage),
      cmocka_unit_test(test_correlation_id),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
