/* The sending queue: back-off arithmetic, the item bound (TG_EAGAIN), retries honouring a
 * server delay, max_elapsed_time, and shutdown draining with a deadline. Waits poll a
 * condition with a deadline; nothing sleeps blindly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>
#include <time.h>

#include "tg_alloc.h"
#include "tg_disk_queue.h"
#include "tg_error.h"
#include "tg_export_queue.h"
#include "tg_span-t.h"
#include "tg_metrics.h"

/* ---- helpers ---- */

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int64_t metric(tg_metrics *m, const char *name, tg_metric_type type) {
  static const char *const labels[] = {"exporter", NULL};
  const char *values[] = {"test/q"};
  return tg_metric_get(tg_metrics_series(tg_metrics_family(m, name, "", type, labels), values));
}
#define SENT(m) metric(m, "tailgate_exporter_sent_spans_total", TG_METRIC_COUNTER)
#define FAILED(m) metric(m, "tailgate_exporter_send_failed_spans_total", TG_METRIC_COUNTER)
#define ENQ_FAILED(m) metric(m, "tailgate_exporter_enqueue_failed_spans_total", TG_METRIC_COUNTER)

/* A scripted backend: results[] in order (then the last one forever), optional gate that
 * holds every send until opened or aborted, attempt timestamps. */
typedef struct fake {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  int gate_closed;
  int aborted;
  tg_send_result results[8];
  uint64_t retry_after[8];
  size_t n_results;
  size_t attempts;
  uint64_t at[64];
} fake;

static void fake_init(fake *f) {
  memset(f, 0, sizeof *f);
  pthread_mutex_init(&f->lock, NULL);
  pthread_cond_init(&f->cond, NULL);
  f->results[0] = TG_SEND_OK;
  f->n_results = 1;
}

static void fake_destroy(fake *f) {
  pthread_mutex_destroy(&f->lock);
  pthread_cond_destroy(&f->cond);
}

static tg_send_result fake_send(void *ctx, void *worker, const tg_export_item *item,
                                tg_send_outcome *out) {
  (void)worker;
  fake *f = ctx;
  assert_non_null(item->data);
  pthread_mutex_lock(&f->lock);
  size_t i = f->attempts < f->n_results ? f->attempts : f->n_results - 1;
  if (f->attempts < 64)
    f->at[f->attempts] = now_ms();
  f->attempts++;
  pthread_cond_broadcast(&f->cond);
  while (f->gate_closed && !f->aborted)
    pthread_cond_wait(&f->cond, &f->lock);
  tg_send_result r = f->aborted ? TG_SEND_RETRYABLE : f->results[i];
  out->retry_after_ms = f->retry_after[i];
  pthread_mutex_unlock(&f->lock);
  strcpy(out->detail, "scripted");
  return r;
}

static void fake_abort(void *ctx, void *worker) {
  (void)worker;
  fake *f = ctx;
  pthread_mutex_lock(&f->lock);
  f->aborted = 1;
  pthread_cond_broadcast(&f->cond);
  pthread_mutex_unlock(&f->lock);
}

static int worker_init(void *ctx, unsigned index, void **worker) {
  (void)index;
  *worker = ctx;
  return 0;
}

static const tg_export_queue_ops fake_ops = {
    .worker_init = worker_init, .send = fake_send, .abort = fake_abort};

static void open_gate(fake *f) {
  pthread_mutex_lock(&f->lock);
  f->gate_closed = 0;
  pthread_cond_broadcast(&f->cond);
  pthread_mutex_unlock(&f->lock);
}

/* Waits (up to 10 s) until the fake saw n attempts. */
static void wait_attempts(fake *f, size_t n) {
  pthread_mutex_lock(&f->lock);
  uint64_t deadline = now_ms() + 10000;
  while (f->attempts < n && now_ms() < deadline) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 10 * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
      ts.tv_sec++;
      ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&f->cond, &f->lock, &ts);
  }
  size_t got = f->attempts;
  pthread_mutex_unlock(&f->lock);
  assert_true(got >= n);
}

/* Polls cond() until true or 10 s pass. */
#define WAIT_FOR(expr)                                                              \
  do {                                                                              \
    uint64_t wf_deadline_ = now_ms() + 10000;                                       \
    while (!(expr) && now_ms() < wf_deadline_) {                                    \
      struct timespec wf_ts_ = {0, 2 * 1000000L};                                   \
      nanosleep(&wf_ts_, NULL); /* poll interval of a deadline-bounded wait */      \
    }                                                                               \
    assert_true(expr);                                                              \
  } while (0)

static uint8_t *bytes(size_t n) {
  uint8_t *p = tg_malloc(n);
  memset(p, 0xab, n);
  return p;
}

static void fast_retry(tg_retry_conf *rc) {
  tg_retry_conf_defaults(rc);
  rc->initial_interval_ms = 5;
  rc->randomization_factor = 0;
  rc->multiplier = 1;
  rc->max_interval_ms = 5;
  rc->max_elapsed_ms = 0;
}

/* ---- back-off ---- */

static void test_backoff_sequence(void **state) {
  (void)state;
  tg_retry_conf rc;
  tg_retry_conf_defaults(&rc);
  rc.initial_interval_ms = 100;
  rc.multiplier = 2;
  rc.max_interval_ms = 1000;
  rc.randomization_factor = 0.5;
  rc.max_elapsed_ms = 100000;
  tg_backoff b;
  tg_backoff_reset(&b, &rc, 0);
  /* rnd 0.5 → the un-jittered interval: 100, 200, 400, 800, then capped at 1000 */
  uint64_t expect[] = {100, 200, 400, 800, 1000, 1000};
  for (size_t i = 0; i < 6; i++)
    assert_int_equal(tg_backoff_next(&b, &rc, 0.5, 0, 0), expect[i]);
  /* jitter bounds: interval*(1-f) .. interval*(1+f) */
  tg_backoff_reset(&b, &rc, 0);
  assert_int_equal(tg_backoff_next(&b, &rc, 0.0, 0, 0), 50);
  uint64_t hi = tg_backoff_next(&b, &rc, 0.999999, 0, 0);
  assert_true(hi >= 299 && hi <= 300);
  /* every draw stays in bounds */
  tg_backoff_reset(&b, &rc, 0);
  for (int i = 0; i < 10; i++) {
    double iv = (double)b.interval_ms;
    uint64_t d = tg_backoff_next(&b, &rc, (double)i / 10.0, 0, 0);
    assert_true((double)d >= iv * 0.5 - 1 && (double)d <= iv * 1.5);
  }
}

static void test_backoff_server_delay_and_limits(void **state) {
  (void)state;
  tg_retry_conf rc;
  tg_retry_conf_defaults(&rc);
  rc.initial_interval_ms = 100;
  rc.randomization_factor = 0;
  rc.max_elapsed_ms = 5000;
  tg_backoff b;
  tg_backoff_reset(&b, &rc, 1000);
  /* Retry-After larger than the back-off wins */
  assert_int_equal(tg_backoff_next(&b, &rc, 0.3, 3000, 1000), 3000);
  /* a smaller server delay does not shorten the back-off */
  assert_int_equal(tg_backoff_next(&b, &rc, 0.3, 10, 1000), 150);
  /* max_elapsed: 1000 + 4990 + delay > 1000 + 5000 → stop */
  assert_int_equal(tg_backoff_next(&b, &rc, 0.3, 0, 1000 + 4990), UINT64_MAX);
  /* disabled */
  rc.enabled = false;
  tg_backoff_reset(&b, &rc, 0);
  assert_int_equal(tg_backoff_next(&b, &rc, 0.3, 0, 0), UINT64_MAX);
  /* max_elapsed 0 = no limit */
  rc.enabled = true;
  rc.max_elapsed_ms = 0;
  tg_backoff_reset(&b, &rc, 0);
  assert_true(tg_backoff_next(&b, &rc, 0.3, 0, UINT64_MAX / 4) != UINT64_MAX);
}

/* ---- queue ---- */

static void test_bound_gives_eagain(void **state) {
  (void)state;
  tg_metrics *m = tg_metrics_new();
  fake f;
  fake_init(&f);
  f.gate_closed = 1;
  tg_queue_conf qc;
  tg_queue_conf_defaults(&qc);
  qc.num_consumers = 1;
  qc.queue_size = 2;
  tg_retry_conf rc;
  fast_retry(&rc);
  tg_export_queue *q = tg_export_queue_new(&qc, &rc, &fake_ops, &f, "test/q", NULL, m);
  assert_non_null(q);
  assert_int_equal(metric(m, "tailgate_exporter_queue_capacity", TG_METRIC_GAUGE), 2);
  assert_int_equal(tg_export_queue_start(q), TG_OK);

  assert_int_equal(tg_export_queue_push(q, bytes(10), 10, 3), TG_OK);
  wait_attempts(&f, 1); /* the sender holds item 1 at the gate */
  assert_int_equal(tg_export_queue_push(q, bytes(10), 10, 3), TG_OK);
  assert_int_equal(tg_export_queue_push(q, bytes(10), 10, 3), TG_OK);
  assert_int_equal(tg_export_queue_ready(q), 0);
  assert_int_equal(metric(m, "tailgate_exporter_queue_size", TG_METRIC_GAUGE), 2);
  assert_int_equal(tg_export_queue_push(q, bytes(10), 10, 7), TG_EAGAIN);
  assert_int_equal(ENQ_FAILED(m), 7);

  open_gate(&f);
  WAIT_FOR(SENT(m) == 9);
  assert_int_equal(tg_export_queue_ready(q), 1);
  assert_int_equal(tg_export_queue_stop(q, 1000), 0);
  assert_int_equal(tg_export_queue_push(q, bytes(10), 10, 1), TG_ECLOSED);
  assert_int_equal(ENQ_FAILED(m), 8);
  assert_int_equal(FAILED(m), 0);
  tg_export_queue_free(q);
  fake_destroy(&f);
  tg_metrics_free(m);
}

static void test_byte_bound(void **state) {
  (void)state;
  fake f;
  fake_init(&f);
  tg_queue_conf qc;
  tg_queue_conf_defaults(&qc);
  qc.max_bytes = 100;
  tg_retry_conf rc;
  fast_retry(&rc);
  tg_export_queue *q = tg_export_queue_new(&qc, &rc, &fake_ops, &f, "test/q", NULL, NULL);
  /* not started: nothing is taken */
  assert_int_equal(tg_export_queue_push(q, bytes(500), 500, 1), TG_OK); /* empty queue */
  assert_int_equal(tg_export_queue_push(q, bytes(1), 1, 1), TG_EAGAIN);
  assert_int_equal(tg_export_queue_len(q), 1);
  assert_int_equal(tg_export_queue_stop(q, 0), 1); /* never started: counted failed */
  tg_export_queue_free(q);
  fake_destroy(&f);
}

static void test_retry_honours_server_delay(void **state) {
  (void)state;
  tg_metrics *m = tg_metrics_new();
  fake f;
  fake_init(&f);
  f.results[0] = TG_SEND_RETRYABLE;
  f.retry_after[0] = 200;
  f.results[1] = TG_SEND_OK;
  f.n_results = 2;
  tg_queue_conf qc;
  tg_queue_conf_defaults(&qc);
  qc.num_consumers = 1;
  tg_retry_conf rc;
  fast_retry(&rc);
  tg_export_queue *q = tg_export_queue_new(&qc, &rc, &fake_ops, &f, "test/q", NULL, m);
  assert_int_equal(tg_export_queue_start(q), TG_OK);
  assert_int_equal(tg_export_queue_push(q, bytes(4), 4, 5), TG_OK);
  WAIT_FOR(SENT(m) == 5);
  pthread_mutex_lock(&f.lock);
  assert_int_equal(f.attempts, 2);
  assert_true(f.at[1] - f.at[0] >= 200);
  pthread_mutex_unlock(&f.lock);
  tg_export_queue_free(q);
  fake_destroy(&f);
  tg_metrics_free(m);
}

static void test_max_elapsed_gives_up(void **state) {
  (void)state;
  tg_metrics *m = tg_metrics_new();
  fake f;
  fake_init(&f);
  f.results[0] = TG_SEND_RETRYABLE;
  tg_queue_conf qc;
  tg_queue_conf_defaults(&qc);
  qc.num_consumers = 1;
  tg_retry_conf rc;
  fast_retry(&rc);
  rc.initial_interval_ms = 10;
  rc.max_interval_ms = 10;
  rc.max_elapsed_ms = 60;
  tg_export_queue *q = tg_export_queue_new(&qc, &rc, &fake_ops, &f, "test/q", NULL, m);
  assert_int_equal(tg_export_queue_start(q), TG_OK);
  assert_int_equal(tg_export_queue_push(q, bytes(4), 4, 4), TG_OK);
  WAIT_FOR(FAILED(m) == 4);
  pthread_mutex_lock(&f.lock);
  assert_true(f.attempts >= 3 && f.attempts <= 8);
  pthread_mutex_unlock(&f.lock);
  assert_int_equal(SENT(m), 0);
  tg_export_queue_free(q);
  fake_destroy(&f);
  tg_metrics_free(m);
}

static void test_permanent_not_retried(void **state) {
  (void)state;
  tg_metrics *m = tg_metrics_new();
  fake f;
  fake_init(&f);
  f.results[0] = TG_SEND_PERMANENT;
  tg_queue_conf qc;
  tg_queue_conf_defaults(&qc);
  tg_retry_conf rc;
  fast_retry(&rc);
  tg_export_queue *q = tg_export_queue_new(&qc, &rc, &fake_ops, &f, "test/q", NULL, m);
  assert_int_equal(tg_export_queue_start(q), TG_OK);
  assert_int_equal(tg_export_queue_push(q, bytes(4), 4, 2), TG_OK);
  WAIT_FOR(FAILED(m) == 2);
  assert_int_equal(tg_export_queue_stop(q, 1000), 0);
  assert_int_equal(f.attempts, 1);
  tg_export_queue_free(q);
  fake_destroy(&f);
  tg_metrics_free(m);
}

static void test_shutdown_drains_all(void **state) {
  (void)state;
  tg_metrics *m = tg_metrics_new();
  fake f;
  fake_init(&f);
  tg_queue_conf qc;
  tg_queue_conf_defaults(&qc);
  qc.num_consumers = 2;
  tg_retry_conf rc;
  fast_retry(&rc);
  tg_export_queue *q = tg_export_queue_new(&qc, &rc, &fake_ops, &f, "test/q", NULL, m);
  assert_int_equal(tg_export_queue_start(q), TG_OK);
  for (int i = 0; i < 20; i++)
    assert_int_equal(tg_export_queue_push(q, bytes(8), 8, 1), TG_OK);
  assert_int_equal(tg_export_queue_stop(q, 10000), 0);
  assert_int_equal(SENT(m), 20);
  assert_int_equal(FAILED(m), 0);
  tg_export_queue_free(q);
  fake_destroy(&f);
  tg_metrics_free(m);
}

static void test_shutdown_deadline_counts_leftovers(void **state) {
  (void)state;
  tg_metrics *m = tg_metrics_new();
  fake f;
  fake_init(&f);
  f.gate_closed = 1; /* the backend hangs until aborted */
  tg_queue_conf qc;
  tg_queue_conf_defaults(&qc);
  qc.num_consumers = 1;
  tg_retry_conf rc;
  fast_retry(&rc);
  tg_export_queue *q = tg_export_queue_new(&qc, &rc, &fake_ops, &f, "test/q", NULL, m);
  assert_int_equal(tg_export_queue_start(q), TG_OK);
  assert_int_equal(tg_export_queue_push(q, bytes(8), 8, 1), TG_OK);
  wait_attempts(&f, 1);
  assert_int_equal(tg_export_queue_push(q, bytes(8), 8, 2), TG_OK);
  assert_int_equal(tg_export_queue_push(q, bytes(8), 8, 3), TG_OK);
  uint64_t t0 = now_ms();
  assert_int_equal(tg_export_queue_stop(q, 100), 5); /* the two queued */
  uint64_t took = now_ms() - t0;
  assert_true(took >= 100 && took < 5000);
  assert_int_equal(FAILED(m), 6); /* + the aborted in-flight one */
  assert_int_equal(SENT(m), 0);
  assert_int_equal(metric(m, "tailgate_exporter_queue_size", TG_METRIC_GAUGE), 0);
  assert_int_equal(tg_export_queue_stop(q, 100), 0); /* idempotent */
  tg_export_queue_free(q);
  fake_destroy(&f);
  tg_metrics_free(m);
}

static void test_disabled_queue_hands_off(void **state) {
  (void)state;
  fake f;
  fake_init(&f);
  f.gate_closed = 1;
  tg_queue_conf qc;
  tg_queue_conf_defaults(&qc);
  qc.enabled = false;
  qc.num_consumers = 1;
  tg_retry_conf rc;
  fast_retry(&rc);
  tg_export_queue *q = tg_export_queue_new(&qc, &rc, &fake_ops, &f, "test/q", NULL, NULL);
  assert_int_equal(tg_export_queue_start(q), TG_OK);
  int pushed = 0;
  WAIT_FOR(pushed || (pushed = tg_export_queue_push(q, bytes(8), 8, 1) == TG_OK)); /* once idle */
  wait_attempts(&f, 1);
  assert_int_equal(tg_export_queue_push(q, bytes(8), 8, 1), TG_EAGAIN); /* nobody idle */
  open_gate(&f);
  tg_export_queue_free(q);
  fake_destroy(&f);
}

/* partial_success in an export response becomes rejected spans and a detail. */
static void test_outcome_from_response(void **state) {
  (void)state;
  tg_export_partial_success ps =
      OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_PARTIAL_SUCCESS__INIT;
  ps.rejected_spans = 3;
  ps.error_message = "bad ids";
  tg_export_response resp =
      OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_RESPONSE__INIT;
  resp.partial_success = &ps;
  uint8_t buf[64];
  size_t len = protobuf_c_message_pack(&resp.base, buf);
  tg_send_outcome out;
  memset(&out, 0, sizeof out);
  tg_send_outcome_from_response(buf, len, &out);
  assert_int_equal(out.rejected_spans, 3);
  assert_string_equal(out.detail, "partial success: bad ids");
  memset(&out, 0, sizeof out);
  const uint8_t junk[] = {0x0a, 0x7f};
  tg_send_outcome_from_response(junk, sizeof junk, &out);
  tg_send_outcome_from_response(buf, 0, &out);
  assert_int_equal(out.rejected_spans, 0);
  assert_string_equal(out.detail, "");
}

/* ---- with storage (tg_disk_queue) ---- */

static tg_disk_queue *open_disk(const char *dir) {
  tg_disk_queue_conf c = {.max_bytes = 0, .segment_bytes = 1 << 20, .fsync = TG_FSYNC_NEVER};
  tg_disk_queue *dq = NULL;
  tg_errbuf err;
  assert_int_equal(tg_disk_queue_open(dir, &c, "test/q", NULL, NULL, &dq, &err), TG_OK);
  return dq;
}

/* The backend is down through a shutdown: nothing counts as failed, everything stays on
 * disk, and the next queue on the same directory delivers it (the in-flight request
 * counted as a possible duplicate). */
static void test_storage_keeps_undelivered_across_restart(void **state) {
  (void)state;
  char dir[] = "/tmp/tg-eq-disk-XXXXXX";
  assert_non_null(mkdtemp(dir));
  tg_metrics *m = tg_metrics_new();
  fake f;
  fake_init(&f);
  f.results[0] = TG_SEND_RETRYABLE; /* down, forever */
  tg_queue_conf qc;
  tg_queue_conf_defaults(&qc);
  qc.num_consumers = 1;
  tg_retry_conf rc;
  fast_retry(&rc);
  tg_export_queue *q = tg_export_queue_new(&qc, &rc, &fake_ops, &f, "test/q", NULL, m);
  tg_export_queue_set_storage(q, open_disk(dir));
  assert_int_equal(tg_export_queue_start(q), TG_OK);
  for (int i = 0; i < 3; i++)
    assert_int_equal(tg_export_queue_push(q, bytes(16), 16, 10), TG_OK);
  wait_attempts(&f, 3); /* retrying the first request */
  assert_int_equal(tg_export_queue_stop(q, 20), 0);
  assert_int_equal(FAILED(m), 0);
  assert_int_equal(SENT(m), 0);
  tg_export_queue_free(q);

  /* restart: the backend is up */
  fake_destroy(&f);
  fake_init(&f);
  tg_metrics *m2 = tg_metrics_new();
  q = tg_export_queue_new(&qc, &rc, &fake_ops, &f, "test/q", NULL, m2);
  tg_disk_queue *dq = open_disk(dir);
  tg_disk_queue_stats st;
  tg_disk_queue_stats_get(dq, &st);
  assert_int_equal(st.replayed_records, 3);
  assert_int_equal(st.possible_duplicates, 10); /* the one in flight at the stop */
  tg_export_queue_set_storage(q, dq);
  assert_int_equal(tg_export_queue_start(q), TG_OK);
  WAIT_FOR(SENT(m2) == 30);
  WAIT_FOR(tg_export_queue_len(q) == 0 && tg_export_queue_busy(q) == 0);
  assert_int_equal(tg_export_queue_stop(q, 1000), 0);
  tg_export_queue_free(q);

  /* a third start finds nothing left */
  dq = open_disk(dir);
  tg_disk_queue_stats_get(dq, &st);
  assert_int_equal(st.replayed_records, 0);
  tg_disk_queue_close(dq);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  assert_int_equal(system(cmd), 0);
  fake_destroy(&f);
  tg_metrics_free(m);
  tg_metrics_free(m2);
}

/* A permanent error is counted as failed and acknowledged: it does not come back. */
static void test_storage_permanent_error_acknowledged(void **state) {
  (void)state;
  char dir[] = "/tmp/tg-eq-disk-XXXXXX";
  assert_non_null(mkdtemp(dir));
  tg_metrics *m = tg_metrics_new();
  fake f;
  fake_init(&f);
  f.results[0] = TG_SEND_PERMANENT;
  f.results[1] = TG_SEND_OK;
  f.n_results = 2;
  tg_queue_conf qc;
  tg_queue_conf_defaults(&qc);
  qc.num_consumers = 1;
  tg_retry_conf rc;
  fast_retry(&rc);
  tg_export_queue *q = tg_export_queue_new(&qc, &rc, &fake_ops, &f, "test/q", NULL, m);
  tg_export_queue_set_storage(q, open_disk(dir));
  assert_int_equal(tg_export_queue_start(q), TG_OK);
  assert_int_equal(tg_export_queue_push(q, bytes(8), 8, 4), TG_OK);
  assert_int_equal(tg_export_queue_push(q, bytes(8), 8, 6), TG_OK);
  WAIT_FOR(SENT(m) == 6 && FAILED(m) == 4);
  assert_int_equal(tg_export_queue_stop(q, 1000), 0);
  tg_export_queue_free(q);
  tg_disk_queue *dq = open_disk(dir);
  tg_disk_queue_stats st;
  tg_disk_queue_stats_get(dq, &st);
  assert_int_equal(st.replayed_records, 0);
  tg_disk_queue_close(dq);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  assert_int_equal(system(cmd), 0);
  fake_destroy(&f);
  tg_metrics_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_outcome_from_response),
      cmocka_unit_test(test_backoff_sequence),
      cmocka_unit_test(test_backoff_server_delay_and_limits),
      cmocka_unit_test(test_bound_gives_eagain),
      cmocka_unit_test(test_byte_bound),
      cmocka_unit_test(test_retry_honours_server_delay),
      cmocka_unit_test(test_max_elapsed_gives_up),
      cmocka_unit_test(test_permanent_not_retried),
      cmocka_unit_test(test_shutdown_drains_all),
      cmocka_unit_test(test_shutdown_deadline_counts_leftovers),
      cmocka_unit_test(test_disabled_queue_hands_off),
      cmocka_unit_test(test_storage_keeps_undelivered_across_restart),
      cmocka_unit_test(test_storage_permanent_error_acknowledged),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
