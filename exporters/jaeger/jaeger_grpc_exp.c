/* The jaeger exporter: api_v2 CollectorService/PostSpans to a Jaeger collector (:14250),
 * as the Collector's former `jaeger` exporter, with its configgrpc keys (endpoint, tls,
 * headers, compression, keepalive, balancer_name, timeout) and the sending queue and
 * retry keys of every network exporter.
 *
 * Transport: the otlp exporter's gRPC C core transport (DNS resolution, reconnects,
 * keepalive, TLS, metadata, one channel per instance, a pluck completion queue per sender
 * thread), pointed at the PostSpans method, and its instance half (state, config checks,
 * create/start/destroy: core/export/tg_grpc_instance.c). Each queued OTLP request becomes one
 * PostSpans call per process (Jaeger's Batch has one process), sent in order; a retry
 * resumes after the Batches already delivered. The status code table is the otlp one
 * (UNAVAILABLE and friends retry, INVALID_ARGUMENT is permanent). */
#include <stdio.h>
#include <string.h>

#include "tg_grpc_exporter.h"
#include "jaeger_exp.h"
#include "tg_alloc.h"
#include "tg_component.h"
#include "tg_error.h"
#include "tg_service.h"

#define JAEGER_POST_SPANS "/jaeger.api_v2.CollectorService/PostSpans"

typedef struct jgrpc_worker {
  void *inner; /* the gRPC transport's per-thread state */
  tg_jaeger_exp_progress progress;
} jgrpc_worker;

static const tg_conf_key jgrpc_keys[] = {
    TG_OTLPEXP_GRPC_KEYS("Jaeger collector host:port (api_v2 gRPC, usually :14250); required",
                         "none", "deadline of each PostSpans call"),
};

/* gRPC metadata keys: [a-z0-9-_.] (any case), not grpc-*, not binary; printable values. */
static const char *header_problem(const char *key, const char *value) {
  if (!*key)
    return "empty header name";
  for (const char *c = key; *c; c++) {
    char l = (*c >= 'A' && *c <= 'Z') ? (char)(*c - 'A' + 'a') : *c;
    if (!((l >= 'a' && l <= 'z') || (l >= '0' && l <= '9') || l == '-' || l == '_' || l == '.'))
      return "header name may hold only letters, digits, '-', '_', '.'";
  }
  size_t kl = strlen(key);
  if (!strncasecmp(key, "grpc-", 5) || (kl > 4 && !strcasecmp(key + kl - 4, "-bin")))
    return "grpc-* and binary (-bin) headers are not supported";
  for (const unsigned char *c = (const unsigned char *)value; *c; c++)
    if (*c < 0x20 || *c > 0x7e)
      return "header value must be printable ASCII";
  return NULL;
}

static void jgrpc_conf_check(const void *vconf, const tg_yaml_node *node, const char *what,
                             tg_diag *diag) {
  tg_otlpexp_conf_check(vconf, header_problem, node ? &node->pos : NULL, what, diag);
}

/* ---- sender side: wraps the gRPC transport's ops ---- */

static int jw_init(void *ctx, unsigned index, void **out) {
  jgrpc_worker *w = tg_calloc(1, sizeof *w);
  if (!w)
    return -1;
  if (tg_otlpexp_grpc_queue_ops.worker_init(ctx, index, &w->inner)) {
    tg_free(w);
    return -1;
  }
  *out = w;
  return 0;
}

static void jw_fini(void *ctx, void *vw) {
  jgrpc_worker *w = vw;
  if (!w)
    return;
  tg_otlpexp_grpc_queue_ops.worker_fini(ctx, w->inner);
  tg_free(w);
}

static void jw_abort(void *ctx, void *vw) {
  jgrpc_worker *w = vw;
  tg_otlpexp_grpc_queue_ops.abort(ctx, w->inner);
}

static tg_send_result jw_send(void *ctx, void *vw, const tg_export_item *item,
                              tg_send_outcome *out) {
  jgrpc_worker *w = vw;
  tg_jaeger_exp_request req;
  int rc = tg_jaeger_exp_request_init(&req, item->data, item->len);
  if (rc != TG_OK) {
    tg_jaeger_exp_request_free(&req);
    snprintf(out->detail, sizeof out->detail, "cannot convert the request: %s",
             tg_strerror(rc));
    return rc == TG_ENOMEM ? TG_SEND_RETRYABLE : TG_SEND_PERMANENT;
  }
  size_t done = tg_jaeger_exp_progress_begin(&w->progress, item->data, item->len);
  tg_send_result result = TG_SEND_OK;
  for (size_t i = done; i < req.n; i++) {
    tg_jaeger_post_spans msg = JAEGER__API_V2__POST_SPANS_REQUEST__INIT;
    msg.batch = req.batches[i];
    size_t len = jaeger__api_v2__post_spans_request__get_packed_size(&msg);
    uint8_t *buf = tg_malloc(len ? len : 1);
    if (!buf) {
      snprintf(out->detail, sizeof out->detail, "out of memory");
      result = TG_SEND_RETRYABLE;
      break;
    }
    jaeger__api_v2__post_spans_request__pack(&msg, buf);
    tg_export_item sub = {.data = buf, .len = len, .span_count = req.span_counts[i],
                          .attempt = item->attempt};
    result = tg_otlpexp_grpc_queue_ops.send(ctx, w->inner, &sub, out);
    tg_free(buf);
    if (result != TG_SEND_OK)
      break;
    out->rejected_spans = 0; /* PostSpansResponse carries no partial success */
    w->progress.done = i + 1;
  }
  if (result != TG_SEND_RETRYABLE)
    w->progress.data = NULL; /* finished with this item, one way or the other */
  tg_jaeger_exp_request_free(&req);
  return result;
}

static const tg_export_queue_ops jgrpc_queue_ops = {
    .worker_init = jw_init,
    .send = jw_send,
    .abort = jw_abort,
    .worker_fini = jw_fini,
};

/* ---- lifecycle: the otlp exporter's instance half (core/export/tg_grpc_instance.c) ---- */

static const tg_otlpexp_instance_spec jgrpc_spec = {
    .default_id = "jaeger",
    .method = JAEGER_POST_SPANS,
    .queue_ops = &jgrpc_queue_ops,
    .header_problem = header_problem,
    .start_log = "exporting to Jaeger (api_v2 gRPC) at",
};

static int jgrpc_create(tg_instance *self, tg_errbuf *err) {
  return tg_otlpexp_instance_create(self, &jgrpc_spec, err);
}

static int jgrpc_start(tg_instance *self, tg_errbuf *err) {
  return tg_otlpexp_instance_start(self, &jgrpc_spec, err);
}

const tg_component tg_exporter_jaeger = {
    .abi = TG_COMPONENT_ABI,
    .kind = TG_EXPORTER,
    .type = "jaeger",
    .signals = TG_SIGNAL_TRACES,
    .conf_size = sizeof(tg_otlpexp_conf),
    .keys = jgrpc_keys,
    .n_keys = sizeof jgrpc_keys / sizeof jgrpc_keys[0],
    .conf_check = jgrpc_conf_check,
    .ops = {.create = jgrpc_create,
            .start = jgrpc_start,
            .consume = tg_queued_exporter_consume,
            .stop = tg_queued_exporter_stop,
            .destroy = tg_otlpexp_instance_destroy,
            .ready = tg_queued_exporter_ready},
    .doc = "Sends traces to a Jaeger collector over api_v2 gRPC (PostSpans, one Batch per "
           "process) through a bounded sending queue with retries (gRPC C core).",
};
