/* The logger's rate limiting (core/tg_log.c) on a fake clock: the first warning of a
 * call site is written, the rest of its window only counted; the next window's first line
 * carries the count; tg_logger_flush_suppressed writes pending summaries; sites are
 * independent; info is never limited; a full site table evicts without losing counts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tg_clock.h"
#include "tg_log.h"

#define SEC 1000000000ull

typedef struct capture {
  FILE *f;
  tg_logger log;
} capture;

static void cap_open(capture *c) {
  c->f = tmpfile();
  assert_non_null(c->f);
  tg_logger_init(&c->log, TG_LOG_INFO, c->f);
  tg_clock_set_fake(1000 * SEC);
}

/* Returns the lines written so far (joined; caller frees nothing: static buffer). */
static const char *cap_text(capture *c, int *lines) {
  static char buf[65536];
  fflush(c->f);
  long n = ftell(c->f);
  rewind(c->f);
  size_t got = fread(buf, 1, sizeof buf - 1, c->f);
  buf[got] = '\0';
  fseek(c->f, n, SEEK_SET);
  *lines = 0;
  for (const char *p = buf; *p; p++)
    *lines += *p == '\n';
  return buf;
}

static void cap_close(capture *c) {
  tg_logger_destroy(&c->log);
  fclose(c->f);
  tg_clock_set_fake(0);
}

static void refuse(tg_logger *log, int i) {
  TG_LOG_WARN(log, "receiver:otlp", "refusing connection from 10.0.0.%d", i);
}

static void test_first_logged_rest_counted(void **state) {
  (void)state;
  capture c;
  cap_open(&c);
  for (int i = 0; i < 1978; i++)
    refuse(&c.log, i % 250);
  int lines;
  const char *text = cap_text(&c, &lines);
  assert_int_equal(lines, 1);
  assert_non_null(strstr(text, "refusing connection from 10.0.0.0\""));
  assert_int_equal(c.log.suppressed_total, 1977);

  /* 10 s later the next line of the site carries the count */
  tg_clock_set_fake(1010 * SEC);
  refuse(&c.log, 1);
  text = cap_text(&c, &lines);
  assert_int_equal(lines, 2);
  assert_non_null(strstr(text, "refusing connection from 10.0.0.1 (1977 similar messages "
                               "suppressed in the last 10.0 s)"));
  assert_non_null(strstr(text, "\"level\":\"warn\""));
  cap_close(&c);
}

static void test_periodic_flush(void **state) {
  (void)state;
  capture c;
  cap_open(&c);
  for (int i = 0; i < 5; i++)
    refuse(&c.log, i);
  tg_clock_set_fake(1005 * SEC);
  tg_logger_flush_suppressed(&c.log); /* window not over: nothing */
  int lines;
  cap_text(&c, &lines);
  assert_int_equal(lines, 1);
  tg_clock_set_fake(1012 * SEC);
  tg_logger_flush_suppressed(&c.log);
  const char *text = cap_text(&c, &lines);
  assert_int_equal(lines, 2);
  assert_non_null(strstr(text, "refusing connection from 10.0.0.4 (4 similar messages "
                               "suppressed in the last 12.0 s)"));
  tg_logger_flush_suppressed(&c.log); /* nothing pending any more */
  cap_text(&c, &lines);
  assert_int_equal(lines, 2);
  refuse(&c.log, 9); /* the site was freed: written at once */
  cap_text(&c, &lines);
  assert_int_equal(lines, 3);
  cap_close(&c);
}

static void test_sites_and_levels_independent(void **state) {
  (void)state;
  capture c;
  cap_open(&c);
  for (int i = 0; i < 3; i++) {
    refuse(&c.log, i);
    TG_LOG_WARN(&c.log, "receiver:jaeger", "refusing connection from 10.0.0.%d", i);
    TG_LOG_WARN(&c.log, "receiver:otlp", "closing connection from %d", i);
    TG_LOG_INFO(&c.log, "receiver:otlp", "info %d", i);
  }
  int lines;
  cap_text(&c, &lines);
  assert_int_equal(lines, 3 + 3); /* three warn sites once each, info every time */
  cap_close(&c);
}

static void test_eviction_keeps_counts(void **state) {
  (void)state;
  capture c;
  cap_open(&c);
  refuse(&c.log, 1);
  refuse(&c.log, 2); /* suppressed */
  char comp[32];
  for (int i = 0; i < TG_LOG_LIMIT_SITES; i++) { /* fills the table: evicts the first */
    tg_clock_set_fake(1000 * SEC + (uint64_t)(i + 1) * 1000000);
    snprintf(comp, sizeof comp, "c%d", i);
    TG_LOG_WARN(&c.log, comp, "x");
  }
  int lines;
  const char *text = cap_text(&c, &lines);
  assert_int_equal(lines, 1 + 1 + TG_LOG_LIMIT_SITES);
  assert_non_null(strstr(text, "refusing connection from 10.0.0.2 (1 similar messages"));
  cap_close(&c);
}

static void test_disabled(void **state) {
  (void)state;
  capture c;
  cap_open(&c);
  c.log.rate_limit_ms = 0;
  for (int i = 0; i < 10; i++)
    refuse(&c.log, i);
  int lines;
  cap_text(&c, &lines);
  assert_int_equal(lines, 10);
  cap_close(&c);
}

/* initial_fields end every JSON line, escaped; the console encoding writes tab-separated
 * columns with the extra fields as one JSON object, and a newline in a message cannot
 * split the line. */
static void test_encodings_and_initial_fields(void **state) {
  (void)state;
  capture c;
  cap_open(&c);
  const char *keys[] = {"env", "team\"x"};
  const char *values[] = {"prod", "a\nb"};
  assert_int_equal(tg_logger_set_initial_fields(&c.log, keys, values, 2), 0);
  TG_LOG_INFO(&c.log, "service", "started %d", 1);
  tg_logger_set_encoding(&c.log, TG_LOG_ENCODING_CONSOLE);
  TG_LOG_ERROR(&c.log, "exporter:otlp", "TG_EIO", "send failed:\n%s", "refused");
  assert_int_equal(tg_logger_set_initial_fields(&c.log, NULL, NULL, 0), 0);
  TG_LOG_INFO(&c.log, NULL, "plain");
  TG_LOG_CID(&c.log, TG_LOG_INFO, "r", "abc", NULL, "with id");
  int lines;
  const char *text = cap_text(&c, &lines);
  assert_int_equal(lines, 4);
  assert_string_equal(
      text,
      "{\"timestamp\":\"1970-01-01T00:16:40.000000Z\",\"level\":\"info\",\"message\":"
      "\"started 1\",\"service_name\":\"tailgate\",\"component\":\"service\",\"env\":"
      "\"prod\",\"team\\\"x\":\"a\\nb\"}\n"
      "1970-01-01T00:16:40.000000Z\terror\texporter:otlp\tsend failed:\\nrefused\t"
      "{\"error_code\":\"TG_EIO\",\"env\":\"prod\",\"team\\\"x\":\"a\\nb\"}\n"
      "1970-01-01T00:16:40.000000Z\tinfo\t-\tplain\n"
      "1970-01-01T00:16:40.000000Z\tinfo\tr\twith id\t{\"correlation_id\":\"abc\"}\n");
  cap_close(&c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_first_logged_rest_counted),
      cmocka_unit_test(test_periodic_flush),
      cmocka_unit_test(test_sites_and_levels_independent),
      cmocka_unit_test(test_eviction_keeps_counts),
      cmocka_unit_test(test_disabled),
      cmocka_unit_test(test_encodings_and_initial_fields),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
