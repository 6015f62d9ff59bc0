/* The sending queue shared by the network exporters (otlp, otlphttp): a bounded FIFO of
 * encoded requests, N sender threads that pop and call the exporter's send function, and
 * the retry policy between attempts. It is the Collector's exporterhelper (queue_sender +
 * retry_sender), with the Collector's config names (`sending_queue.*`,
 * `retry_on_failure.*`).
 *
 * Threads: push, ready and the metrics run on the loop thread (or any thread); send runs
 * on the queue's own sender threads, one request at a time per thread. The exporter owns
 * per-thread transport state (a gRPC completion queue, a curl handle) through the
 * worker_init/worker_fini hooks, which run on the sender thread itself.
 *
 * Nothing is dropped silently: every span pushed is eventually counted exactly once, as
 * sent, send-failed (permanent error, retries exhausted, rejected by partial success,
 * left over at shutdown) or enqueue-failed (queue full or closed). */
#ifndef TG_EXPORT_QUEUE_H
#define TG_EXPORT_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tg_conf.h"
#include "tg_error.h"

struct tg_logger;
struct tg_metrics;
struct tg_batch;

/* retry_on_failure.* (Collector names and defaults). */
typedef struct tg_retry_conf {
  bool enabled;                 /* default true */
  uint64_t initial_interval_ms; /* default 5s */
  double randomization_factor;  /* default 0.5: delay is interval * [1-f, 1+f] */
  double multiplier;            /* default 1.5 */
  uint64_t max_interval_ms;     /* default 30s: cap of the un-jittered interval */
  uint64_t max_elapsed_ms;      /* default 300s; 0 = retry until shutdown */
} tg_retry_conf;

/* sending_queue.* (Collector names). num_consumers defaults to 4, not the Collector's 10:
 * tailgate targets small machines and each consumer is a thread with its own connection
 * state. enabled=false keeps the threads but removes the buffer: a request is accepted
 * only when a sender is idle to take it (consume never blocks the loop thread). */
typedef struct tg_queue_conf {
  bool enabled;          /* default true */
  int64_t num_consumers; /* default 4, 1..128 */
  int64_t queue_size;    /* default 1000 requests, 1..1000000 */
  uint64_t max_bytes;    /* ours: bound on queued bytes (memory of queued batches, encoded
                            size of encoded requests); default 64 MiB; 0 = none */
  char *storage;         /* id of a storage extension (file_storage/NAME): the queue lives
                            on disk there (tg_disk_queue.h); NULL = in memory */
} tg_queue_conf;

/* Key-table rows for both structs, for exporters whose conf struct st has a
 * tg_retry_conf field `rf` and a tg_queue_conf field `qf`. Use inside a key table. */
#define TG_EXPORT_QUEUE_KEYS(st, rf, qf)                                              \
  TG_KEY_BOOL("retry_on_failure.enabled", st, rf.enabled, "true",                     \
              "retry failed sends with exponential back-off"),                        \
  TG_KEY_DURATION("retry_on_failure.initial_interval", st, rf.initial_interval_ms, "5s", \
                  1, 3600000, "first back-off interval"),                             \
  TG_KEY_DOUBLE("retry_on_failure.randomization_factor", st, rf.randomization_factor,  \
                "0.5", 0, 1, "jitter: delay is interval*[1-f,1+f]"),                  \
  TG_KEY_DOUBLE("retry_on_failure.multiplier", st, rf.multiplier, "1.5", 1, 100,       \
                "interval growth per retry"),                                         \
  TG_KEY_DURATION("retry_on_failure.max_interval", st, rf.max_interval_ms, "30s", 1,    \
                  86400000, "cap of the back-off interval"),                          \
  TG_KEY_DURATION("retry_on_failure.max_elapsed_time", st, rf.max_elapsed_ms, "300s",  \
                  0, 604800000, "give up after this long (0 = until shutdown)"),       \
  TG_KEY_BOOL("sending_queue.enabled", st, qf.enabled, "true",                        \
              "buffer requests; false = accept only when a sender is idle"),          \
  TG_KEY_INT("sending_queue.num_consumers", st, qf.num_consumers, "4", 1, 128,          \
             "sender threads"),                                                       \
  TG_KEY_INT("sending_queue.queue_size", st, qf.queue_size, "1000", 1, 1000000,         \
             "queued requests before refusing (back-pressure)"),                      \
  TG_KEY_SIZE("sending_queue.max_bytes", st, qf.max_bytes, "64MiB", 0, 0,               \
              "queued bytes before refusing (0 = no byte bound)"),                    \
  TG_KEY_STRING("sending_queue.storage", st, qf.storage, NULL,                        \
                "storage extension id (file_storage/NAME): keep the queue on disk")

/* Number of rows TG_EXPORT_QUEUE_KEYS expands to. */
#define TG_EXPORT_QUEUE_N_KEYS 11

/* Fills both structs with the defaults above (for code that builds a conf without the
 * key table, such as tests). */
void tg_retry_conf_defaults(tg_retry_conf *rc);
void tg_queue_conf_defaults(tg_queue_conf *qc);

/* ---- back-off (pure, for the queue and for tests) ---- */

typedef struct tg_backoff {
  uint64_t interval_ms; /* next un-jittered interval */
  uint64_t start_ms;    /* monotonic time of the first attempt */
} tg_backoff;

/* Starts a back-off sequence at now_ms (time of the first attempt). */
void tg_backoff_reset(tg_backoff *b, const tg_retry_conf *rc, uint64_t now_ms);

/* The wait before the next attempt, or UINT64_MAX when retrying must stop (retry
 * disabled, or now + delay would pass start + max_elapsed). rnd01 is uniform in [0, 1)
 * and picks the jitter; server_delay_ms (Retry-After / RetryInfo, 0 = none) raises the
 * delay to at least that value. Advances the interval (× multiplier, capped). */
uint64_t tg_backoff_next(tg_backoff *b, const tg_retry_conf *rc, double rnd01,
                         uint64_t server_delay_ms, uint64_t now_ms);

/* ---- the queue ---- */

typedef enum tg_send_result {
  TG_SEND_OK,        /* delivered (possibly with some spans rejected, see outcome) */
  TG_SEND_RETRYABLE, /* transient: back off and try again */
  TG_SEND_PERMANENT, /* the server will never take it: count as failed, no retry */
} tg_send_result;

/* The result as a self-span's tailgate.outcome: "ok", "retryable", "permanent". */
static inline const char *tg_send_result_name(tg_send_result r) {
  return r == TG_SEND_OK ? "ok" : r == TG_SEND_RETRYABLE ? "retryable" : "permanent";
}

/* One queued request: an encoded ExportTraceServiceRequest (owned by the queue). A batch
 * pushed with tg_export_queue_push_batch waits as a batch reference and is encoded by the
 * sender thread that takes it, so encoding never runs on the loop thread; senders only
 * ever see encoded items. */
/* A request the sender thread encodes itself, possibly into several requests (a metrics
 * flush cut at the byte limit): encode calls emit once per request, in order, handing
 * over data (tg_free) and its point count, and returns 0 or an error (what was not
 * emitted then counts as failed). emit returns 0. free releases d; the queue calls it
 * exactly once, after encode or instead of it (refused, left over at stop). */
typedef int (*tg_export_emit_fn)(void *ctx, uint8_t *data, size_t len, size_t n_points);
typedef struct tg_export_deferred {
  int (*encode)(struct tg_export_deferred *d, tg_export_emit_fn emit, void *emit_ctx);
  void (*free)(struct tg_export_deferred *d);
} tg_export_deferred;

typedef struct tg_export_item {
  uint8_t *data;
  size_t len;            /* encoded bytes; while `batch` is set, the batch's memory */
  size_t span_count;
  struct tg_batch *batch; /* not yet encoded (a read-only reference) */
  unsigned attempt;       /* set by the queue before each send: 1 = the first */
  unsigned signal;        /* 0: traces; TG_SIGNAL_METRICS: an ExportMetricsServiceRequest
                             (span_count then counts data points) */
  tg_export_deferred *deferred; /* not yet encoded (owned); senders never see it set */
} tg_export_item;

/* What a send reports beyond its result. The queue zeroes it before each attempt. */
typedef struct tg_send_outcome {
  uint64_t retry_after_ms; /* server-supplied delay (Retry-After, RetryInfo); 0 = none */
  int64_t rejected_spans;  /* partial success: spans the server refused (of a TG_SEND_OK) */
  char detail[256];        /* why, for the log (status code, message) */
} tg_send_outcome;

typedef struct tg_export_queue_ops {
  /* Runs on each sender thread before its first send; *worker receives the thread's
   * transport state. Non-zero return: the thread exits (logged); others continue. */
  int (*worker_init)(void *ctx, unsigned index, void **worker);
  /* Sends one request; must not keep item->data after returning. Runs on the sender
   * thread owning worker; must return within the exporter's own timeout, and promptly
   * once abort() was called for this worker. */
  tg_send_result (*send)(void *ctx, void *worker, const tg_export_item *item,
                         tg_send_outcome *out);
  /* Optional: shutdown deadline hit; make an in-flight send on worker return soon
   * (cancel the call). Called from the stopping thread with the queue lock held: it
   * must only flag or cancel, never wait for the sender. */
  void (*abort)(void *ctx, void *worker);
  /* Runs on the sender thread as it exits; releases what worker_init made. */
  void (*worker_fini)(void *ctx, void *worker);
} tg_export_queue_ops;

typedef struct tg_export_queue tg_export_queue;

/* Allocates a queue (no threads yet) and registers its metrics series labelled
 * exporter=<name> in metrics (may be NULL: no metrics). log may be NULL. ops->send is
 * required; ctx is passed to every op. Copies conf and name. NULL on ENOMEM. */
tg_export_queue *tg_export_queue_new(const tg_queue_conf *qconf, const tg_retry_conf *rconf,
                                     const tg_export_queue_ops *ops, void *ctx,
                                     const char *name, struct tg_logger *log,
                                     struct tg_metrics *metrics);

struct tg_disk_queue;

/* Puts the queue on disk (before start): pushes append records to dq and are accepted
 * once written (TG_EAGAIN when its byte bound or the disk is full, or queue_size records
 * are pending); senders pop records, and acknowledge each once it is delivered or given
 * up (counted). What is left at stop (queued, or in flight past the deadline) stays in
 * dq for the next start instead of counting as failed; max_elapsed_time 0 thus retries
 * until delivered, across restarts. The queue takes ownership of dq (closed by stop). */
void tg_export_queue_set_storage(tg_export_queue *q, struct tg_disk_queue *dq);

/* Test hook: the jitter source, uniform in [0, 1). Called by sender threads (serialised
 * by the queue lock). Default: a per-queue xorshift generator. Call before start. */
void tg_export_queue_set_random(tg_export_queue *q, double (*rand01)(void *rctx),
                                void *rctx);

/* Spawns the sender threads. TG_OK or TG_ENOMEM/TG_EIO (no thread left running). */
int tg_export_queue_start(tg_export_queue *q);

/* Hands an encoded request to the queue; never blocks. Takes ownership of data in every
 * case (freed on refusal). Returns TG_OK, TG_EAGAIN when the item or byte bound is full
 * (an item larger than max_bytes is still accepted into an empty queue, so no request
 * is refused forever), TG_ECLOSED after stop began. Refusals count enqueue_failed. */
int tg_export_queue_push(tg_export_queue *q, uint8_t *data, size_t len, size_t span_count);

/* As tg_export_queue_push for an encoded ExportMetricsServiceRequest of n_points data
 * points (the item's signal says metrics, so senders pick the metrics method or URL).
 * A queue kept on disk refuses it (TG_EUNSUPPORTED: records there carry no signal). */
int tg_export_queue_push_metrics(tg_export_queue *q, uint8_t *data, size_t len,
                                 size_t n_points);

/* As tg_export_queue_push_metrics for a flush not yet encoded: the sender thread that
 * takes it runs d->encode and sends each request it emits in turn (each with its own
 * retries), so encoding never runs on the loop thread. bytes is what d holds (for the
 * byte bound), n_points the data points it will emit. Takes ownership of d in every case
 * (d->free on refusal). Returns as tg_export_queue_push_metrics. */
int tg_export_queue_push_deferred_metrics(tg_export_queue *q, tg_export_deferred *d,
                                          size_t bytes, size_t n_points);

/* The exporters' consume: queues the batch (ownership transfers, except on TG_EAGAIN:
 * then the batch is untouched and still the caller's, per tg_component.h); a sender
 * thread encodes it once as an ExportTraceServiceRequest just before the first attempt.
 * The byte bound counts the batch's arena memory until then. Empty batches are freed and
 * return TG_OK. Returns as tg_export_queue_push. */
int tg_export_queue_push_batch(tg_export_queue *q, struct tg_batch *batch);

/* 1 while both bounds (items and bytes) have room, else 0 (health: not ready). */
int tg_export_queue_ready(const tg_export_queue *q);

/* Requests queued and not yet taken by a sender; and in flight in senders. */
size_t tg_export_queue_len(const tg_export_queue *q);
size_t tg_export_queue_busy(const tg_export_queue *q);

/* 1 once the shutdown deadline passed: sends should give up (for transports that poll). */
int tg_export_queue_aborting(const tg_export_queue *q);

/* Blocking shutdown: refuses new pushes, lets the senders drain the queue (retries
 * included) until grace_ms passes, then aborts in-flight sends, joins every thread and
 * counts what is left as send-failed with one error log. Idempotent; also fine when the
 * queue was never started (everything queued then counts as failed). Returns the number
 * of spans counted as failed by the shutdown itself. */
size_t tg_export_queue_stop(tg_export_queue *q, uint64_t grace_ms);

/* Stops (grace 0) if still running and frees the queue. NULL is ignored. */
void tg_export_queue_free(tg_export_queue *q);

/* Reads an encoded ExportTraceServiceResponse: a partial_success sets rejected_spans
 * and a "partial success: ..." detail. Undecodable or empty responses change nothing. */
void tg_send_outcome_from_response(const uint8_t *data, size_t len, tg_send_outcome *out);

/* ---- the shared exporter ops ----
 * For exporters whose instance state begins with its queue (`tg_export_queue *queue;`
 * as the first member): consume queues the batch, stop drains within the service's
 * shutdown grace (10 s if unset) and reports done, ready reports the queue's bounds. */
struct tg_instance;
int tg_queued_exporter_consume(struct tg_instance *self, struct tg_batch *batch);
void tg_queued_exporter_stop(struct tg_instance *self, void (*done)(struct tg_instance *self));
int tg_queued_exporter_ready(const struct tg_instance *self);

/* For the same exporters, at start before tg_export_queue_start: when
 * sending_queue.storage names a storage extension, opens this exporter's disk queue
 * there (tg_component.h's tg_storage_ops) and attaches it. TG_OK (also without storage),
 * or TG_ECONFIG/TG_EIO with detail in err (no such extension, not a storage, the
 * directory cannot be used). */
int tg_queued_exporter_attach_storage(struct tg_instance *self, tg_errbuf *err);

#endif
