/* core/tg_processor_drop: the processors' dropped and refused span families, registered
 * once with one label (processor) whichever processor comes first, and the error-drop
 * path (count, one log line, batch freed, rc returned). Values are read from the rendered
 * exposition. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tg_batch.h"
#include "tg_buf.h"
#include "tg_processor_drop.h"
#include "tg_service.h"

static char *render(tg_metrics *m) {
  tg_buf out;
  tg_buf_init(&out, 0);
  assert_int_equal(tg_metrics_render(m, &out), TG_OK);
  assert_int_equal(tg_buf_append(&out, "", 1), TG_OK);
  return (char *)out.data;
}

static void test_two_processors_one_label_set(void **state) {
  (void)state;
  tg_service svc = {.metrics = tg_metrics_new()};
  tg_instance ts = {.id = "tail_sampling", .service = &svc};
  tg_instance batch = {.id = "batch/2", .service = &svc};
  /* tail_sampling used to register refused spans with {processor, reason}: whichever of
   * it and batch came second got no series at all */
  tg_metric_add(tg_processor_refused_spans(&ts), 5);
  tg_metric_add(tg_processor_refused_spans(&batch), 7);
  tg_metric_add(tg_processor_dropped_spans(&batch), 3);
  assert_non_null(tg_processor_dropped_spans(&ts));
  char *text = render(svc.metrics);
  assert_non_null(strstr(text, "\ntailgate_processor_refused_spans_total{processor=\"tail_sampling\"} 5\n"));
  assert_non_null(strstr(text, "\ntailgate_processor_refused_spans_total{processor=\"batch/2\"} 7\n"));
  assert_non_null(strstr(text, "\ntailgate_processor_dropped_spans_total{processor=\"batch/2\"} 3\n"));
  assert_non_null(strstr(text, "\ntailgate_processor_dropped_spans_total{processor=\"tail_sampling\"} 0\n"));
  assert_non_null(strstr(text, "# TYPE tailgate_processor_dropped_spans_total counter\n"));
  free(text);
  tg_metrics_free(svc.metrics);
  /* no registry: NULL cells, and bumping them is a no-op */
  tg_service bare = {0};
  tg_instance lone = {.id = "filter", .service = &bare};
  assert_null(tg_processor_dropped_spans(&lone));
  assert_null(tg_processor_refused_spans(&lone));
}

static void test_drop_batch(void **state) {
  (void)state;
  char *logged = NULL;
  size_t logged_len = 0;
  FILE *f = open_memstream(&logged, &logged_len);
  assert_non_null(f);
  tg_logger log;
  tg_logger_init(&log, TG_LOG_INFO, f);
  tg_service svc = {.log = &log, .metrics = tg_metrics_new()};
  tg_instance self = {.id = "resource/x", .service = &svc};
  tg_metric_cell *dropped = tg_processor_dropped_spans(&self);
  tg_batch *b = tg_batch_new(0, 0);
  assert_non_null(b);
  b->span_count = 42;
  /* the batch is freed here (ASan reports it otherwise) and rc comes back */
  assert_int_equal(tg_processor_drop_batch(&self, dropped, b, TG_ENOMEM, "actions could not complete"),
                   TG_ENOMEM);
  assert_int_equal(tg_processor_drop_batch(&self, dropped, NULL, TG_EINVAL, NULL), TG_EINVAL);
  assert_int_equal(tg_metric_get(dropped), 42);
  tg_logger_destroy(&log);
  fclose(f);
  /* one line per dropped batch, naming the count, the reason and the error */
  assert_non_null(strstr(logged, "dropping 42 spans: actions could not complete ("));
  assert_non_null(strstr(logged, "dropping 0 spans: "));
  size_t lines = 0;
  for (const char *p = logged; *p; p++)
    lines += *p == '\n';
  assert_int_equal(lines, 2);
  free(logged);
  tg_metrics_free(svc.metrics);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_two_processors_one_label_set),
      cmocka_unit_test(test_drop_batch),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
