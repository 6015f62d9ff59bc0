/* The otlp exporter's transport: blocking unary Export calls through gRPC C core.
 *
 * One channel per instance (gRPC multiplexes calls over its HTTP/2 connections and
 * reconnects by itself); one pluck completion queue per sender thread, so each sender
 * waits only for its own call and no completion-queue thread is needed. gRPC's own
 * retries are disabled (GRPC_ARG_ENABLE_RETRIES=0): the sending queue owns retry policy,
 * per the OTLP spec's code table, so a request is never retried twice over.
 *
 * Ownership: the channel, metadata slices and TLS credentials belong to the
 * tg_otlpexp_grpc; per-thread state (cq, in-flight call) to a worker. A worker's lock
 * guards only its `call` pointer against the stopping thread's abort (grpc_call_cancel
 * is thread-safe, but the call must not be unreffed under it). grpc_init is taken in
 * start and released in free, after the queue joined its threads, with
 * grpc_shutdown_blocking so gRPC's threads are gone when destroy returns.
 *
 * Self-tracing: each call is a tailgate.export span (tg_selftrace_export_begin) whose
 * context goes out as metadata after the configured headers. A worker keeps its own
 * metadata array (the configured entries copied once, room for the context after them),
 * so a call allocates only the context values' slices (gRPC inlines short ones).
 *
 * Compression: gRPC core 1.51 compresses with zlib at its default level and a fresh
 * z_stream per message (its grpc.default_compression_level picks among algorithms, not
 * zlib levels), which made gzip cost four times the rest of the pipeline. So with
 * `compression: gzip` the sender compresses the message itself, with its thread's reused
 * libdeflate state at compression_params.level (tg_codec.h), and hands gRPC a byte
 * buffer made by grpc_raw_compressed_byte_buffer_create: the channel's default algorithm
 * (gzip) still puts `grpc-encoding: gzip` on the call, and core, seeing a message already
 * compressed with the call's algorithm, only sets the frame's compressed flag. */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tg_lazy_grpc.h" /* <grpc/...>, and gRPC calls through the dlopen'd table */

#include "tg_grpc_exporter.h"
#include "rpc_status.pb-c.h"
#include "tg_alloc.h"
#include "tg_buf.h"
#include "tg_codec.h"
#include "tg_component.h"
#include "tg_log.h"
#include "tg_otlp_metrics.h"
#include "tg_selftrace.h"
#include "tg_span-t.h"
#include "tg_version.h"

#define OTLPEXP_METHOD "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
#define OTLPEXP_MAX_PEM (1u << 20) /* a PEM file larger than 1 MiB is a mistake */

struct tg_otlpexp_grpc {
  const tg_otlpexp_conf *conf; /* owned by the instance, outlives us */
  char *target;
  bool use_tls;
  char *log_name;
  tg_logger *log;
  int grpc_inited;
  grpc_channel *channel;
  grpc_slice method;
  int method_set;
  const char *method_name; /* NULL: OTLPEXP_METHOD */
  grpc_metadata *md; /* conf->headers as metadata (lower-cased keys) */
  size_t n_md;
  tg_selftrace *tracer; /* NULL: self-tracing off, no context metadata */
};

typedef struct otlpexp_worker {
  grpc_completion_queue *cq;
  pthread_mutex_t lock;
  grpc_call *call; /* in flight, guarded by lock */
  int aborted;     /* guarded by lock */
  grpc_metadata *md; /* g->md's entries (borrowed slices), then this call's context */
  size_t n_md;       /* entries in use */
  tg_compressor *compressor; /* gzip: made at the first send, reused */
  tg_buf zbody;              /* gzip: the compressed message, reused */
} otlpexp_worker;

/* protobuf-c through the project allocator. */
static void *pb_alloc(void *ud, size_t size) {
  (void)ud;
  return tg_malloc(size);
}
static void pb_free(void *ud, void *p) {
  (void)ud;
  tg_free(p);
}
static ProtobufCAllocator pb_allocator = {pb_alloc, pb_free, NULL};

tg_otlpexp_grpc *tg_otlpexp_grpc_new(const tg_otlpexp_conf *conf, const char *target,
                                     bool use_tls, const char *id, tg_logger *log) {
  tg_otlpexp_grpc *g = tg_calloc(1, sizeof *g);
  if (!g)
    return NULL;
  g->conf = conf;
  g->use_tls = use_tls;
  g->log = log;
  g->target = tg_strdup(target);
  g->log_name = tg_strdup(id);
  if (!g->target || !g->log_name) {
    tg_otlpexp_grpc_free(g);
    return NULL;
  }
  return g;
}

void tg_otlpexp_grpc_set_method(tg_otlpexp_grpc *g, const char *method) {
  g->method_name = method;
}

void tg_otlpexp_grpc_set_tracer(tg_otlpexp_grpc *g, tg_selftrace *tracer) {
  g->tracer = tracer;
}

/* Reads a whole PEM file into a NUL-terminated string (tg_free). */
static char *read_pem(const char *path, tg_errbuf *err, const char *what) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    tg_errf(err, TG_ECONFIG, "%s: cannot open %s \"%s\"", what, "file", path);
    return NULL;
  }
  tg_buf b;
  tg_buf_init(&b, OTLPEXP_MAX_PEM);
  char chunk[4096];
  size_t n;
  int rc = TG_OK;
  while (rc == TG_OK && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
    rc = tg_buf_append(&b, chunk, n);
  if (rc == TG_OK && ferror(f))
    rc = TG_EIO;
  fclose(f);
  if (rc == TG_OK)
    rc = tg_buf_append(&b, "", 1);
  if (rc != TG_OK) {
    tg_buf_free(&b);
    tg_errf(err, TG_ECONFIG, "%s: cannot read \"%s\": %s", what, path, tg_strerror(rc));
    return NULL;
  }
  size_t len;
  return (char *)tg_buf_steal(&b, &len);
}

static grpc_channel_credentials *make_credentials(tg_otlpexp_grpc *g, tg_errbuf *err) {
  if (!g->use_tls)
    return grpc_insecure_credentials_create();
  const tg_otlpexp_tls *t = &g->conf->tls;
  char *ca = NULL, *cert = NULL, *key = NULL;
  grpc_channel_credentials *creds = NULL;
  if (t->ca_file && !(ca = read_pem(t->ca_file, err, g->log_name)))
    goto out;
  if (t->cert_file && !(cert = read_pem(t->cert_file, err, g->log_name)))
    goto out;
  if (t->key_file && !(key = read_pem(t->key_file, err, g->log_name)))
    goto out;
  if (t->insecure_skip_verify) {
    /* The TLS credentials API is the one that can turn verification off entirely
     * (chain and host name); grpc_ssl_credentials always checks the host name. */
    grpc_tls_credentials_options *opts = grpc_tls_credentials_options_create();
    grpc_tls_identity_pairs *pairs = NULL;
    if (cert && key) {
      pairs = grpc_tls_identity_pairs_create();
      grpc_tls_identity_pairs_add_pair(pairs, key, cert);
    }
    if (ca || pairs) {
      grpc_tls_certificate_provider *prov =
          grpc_tls_certificate_provider_static_data_create(ca, pairs);
      grpc_tls_credentials_options_set_certificate_provider(opts, prov);
      grpc_tls_certificate_provider_release(prov);
      if (ca)
        grpc_tls_credentials_options_watch_root_certs(opts);
      if (pairs)
        grpc_tls_credentials_options_watch_identity_key_cert_pairs(opts);
    }
    grpc_tls_credentials_options_set_verify_server_cert(opts, 0);
    grpc_tls_certificate_verifier *v = grpc_tls_certificate_verifier_no_op_create();
    grpc_tls_credentials_options_set_certificate_verifier(opts, v);
    grpc_tls_certificate_verifier_release(v);
    grpc_tls_credentials_options_set_check_call_host(opts, 0);
    creds = grpc_tls_credentials_create(opts); /* takes opts */
  } else {
    grpc_ssl_pem_key_cert_pair pair = {.private_key = key, .cert_chain = cert};
    creds = grpc_ssl_credentials_create_ex(ca, (cert && key) ? &pair : NULL, NULL, NULL);
  }
  if (!creds)
    tg_errf(err, TG_ECONFIG, "%s: cannot create TLS credentials", g->log_name);
out:
  tg_free(ca);
  tg_free(cert);
  if (key) {
    memset(key, 0, strlen(key)); /* do not leave the private key in freed memory */
    tg_free(key);
  }
  return creds;
}

int tg_otlpexp_grpc_start(tg_otlpexp_grpc *g, tg_errbuf *err) {
  if (g->channel)
    return TG_OK;
  if (!g->grpc_inited) {
    const char *why = tg_lazy_grpc_load();
    if (why)
      return tg_errf(err, TG_EIO, "%s: %s", g->log_name, why);
    grpc_init();
    g->grpc_inited = 1;
  }
  const tg_otlpexp_conf *c = g->conf;
  if (!g->method_set) {
    g->method = grpc_slice_from_static_string(g->method_name ? g->method_name : OTLPEXP_METHOD);
    g->method_set = 1;
  }
  if (c->headers.n && !g->md) {
    g->md = tg_calloc(c->headers.n, sizeof *g->md);
    if (!g->md)
      return tg_errf(err, TG_ENOMEM, "%s: out of memory", g->log_name);
    for (size_t i = 0; i < c->headers.n; i++) {
      char *lower = tg_strdup(c->headers.keys[i]);
      if (!lower)
        return tg_errf(err, TG_ENOMEM, "%s: out of memory", g->log_name);
      for (char *p = lower; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
          *p = (char)(*p - 'A' + 'a');
      g->md[i].key = grpc_slice_from_copied_string(lower);
      g->md[i].value = grpc_slice_from_copied_string(c->headers.values[i]);
      g->n_md++;
      tg_free(lower);
    }
  }
  grpc_channel_credentials *creds = make_credentials(g, err);
  if (!creds)
    return TG_ECONFIG;

  grpc_arg args[13];
  size_t n = 0;
  args[n].type = GRPC_ARG_INTEGER;
  args[n].key = (char *)GRPC_ARG_ENABLE_RETRIES;
  args[n++].value.integer = 0;
  args[n].type = GRPC_ARG_INTEGER;
  args[n].key = (char *)GRPC_COMPRESSION_CHANNEL_DEFAULT_ALGORITHM;
  args[n++].value.integer =
      c->compression == TG_OTLPEXP_COMPRESS_GZIP ? GRPC_COMPRESS_GZIP : GRPC_COMPRESS_NONE;
  args[n].type = GRPC_ARG_STRING;
  args[n].key = (char *)GRPC_ARG_PRIMARY_USER_AGENT_STRING;
  args[n++].value.string = (char *)"tailgate/" TG_VERSION;
  args[n].type = GRPC_ARG_STRING;
  args[n].key = (char *)GRPC_ARG_LB_POLICY_NAME;
  args[n++].value.string =
      (char *)(c->balancer_name == TG_OTLPEXP_LB_PICK_FIRST ? "pick_first" : "round_robin");
  if (c->keepalive_time_ms) {
    args[n].type = GRPC_ARG_INTEGER;
    args[n].key = (char *)GRPC_ARG_KEEPALIVE_TIME_MS;
    args[n++].value.integer = c->keepalive_time_ms > INT32_MAX ? INT32_MAX : (int)c->keepalive_time_ms;
  }
  if (c->keepalive_time_ms) {
    /* gRPC core stops after 2 PINGs without data by default; grpc-go (the Collector's
     * client) keeps pinging every keepalive.time, which is what the key promises. */
    args[n].type = GRPC_ARG_INTEGER;
    args[n].key = (char *)GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA;
    args[n++].value.integer = 0;
  }
  if (c->keepalive_timeout_ms) {
    args[n].type = GRPC_ARG_INTEGER;
    args[n].key = (char *)GRPC_ARG_KEEPALIVE_TIMEOUT_MS;
    args[n++].value.integer =
        c->keepalive_timeout_ms > INT32_MAX ? INT32_MAX : (int)c->keepalive_timeout_ms;
  }
  if (c->keepalive_permit_without_stream) {
    args[n].type = GRPC_ARG_INTEGER;
    args[n].key = (char *)GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS;
    args[n++].value.integer = 1;
  }
  if (c->read_buffer_size) {
    args[n].type = GRPC_ARG_INTEGER;
    args[n].key = (char *)GRPC_ARG_TCP_READ_CHUNK_SIZE;
    args[n++].value.integer = (int)c->read_buffer_size;
  }
  if (c->write_buffer_size) {
    args[n].type = GRPC_ARG_INTEGER;
    args[n].key = (char *)GRPC_ARG_HTTP2_WRITE_BUFFER_SIZE;
    args[n++].value.integer = (int)c->write_buffer_size;
  }
  grpc_channel_args cargs = {.num_args = n, .args = args};
  g->channel = grpc_channel_create(g->target, creds, &cargs);
  grpc_channel_credentials_release(creds);
  if (!g->channel)
    return tg_errf(err, TG_EIO, "%s: cannot create gRPC channel to %s", g->log_name, g->target);
  return TG_OK;
}

void tg_otlpexp_grpc_free(tg_otlpexp_grpc *g) {
  if (!g)
    return;
  if (g->channel)
    grpc_channel_destroy(g->channel);
  for (size_t i = 0; i < g->n_md; i++) {
    grpc_slice_unref(g->md[i].key);
    grpc_slice_unref(g->md[i].value);
  }
  tg_free(g->md);
  if (g->method_set)
    grpc_slice_unref(g->method);
  if (g->grpc_inited)
    grpc_shutdown_blocking();
  tg_free(g->target);
  tg_free(g->log_name);
  tg_free(g);
}

/* ---- sender side ---- */

static int worker_init(void *ctx, unsigned index, void **out) {
  tg_otlpexp_grpc *g = ctx;
  (void)index;
  otlpexp_worker *w = tg_calloc(1, sizeof *w);
  if (!w)
    return -1;
  w->md = tg_calloc(g->n_md + TG_SELFTRACE_MAX_HEADERS, sizeof *w->md);
  if (!w->md || pthread_mutex_init(&w->lock, NULL)) {
    tg_free(w->md);
    tg_free(w);
    return -1;
  }
  if (g->n_md)
    memcpy(w->md, g->md, g->n_md * sizeof *w->md);
  w->cq = grpc_completion_queue_create_for_pluck(NULL);
  if (!w->cq) {
    pthread_mutex_destroy(&w->lock);
    tg_free(w->md);
    tg_free(w);
    return -1;
  }
  *out = w;
  return 0;
}

static void worker_fini(void *ctx, void *vw) {
  (void)ctx;
  otlpexp_worker *w = vw;
  if (!w)
    return;
  grpc_completion_queue_shutdown(w->cq);
  while (grpc_completion_queue_pluck(w->cq, NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL)
             .type != GRPC_QUEUE_SHUTDOWN) {
  }
  grpc_completion_queue_destroy(w->cq);
  pthread_mutex_destroy(&w->lock);
  tg_compressor_free(w->compressor);
  tg_buf_free(&w->zbody);
  tg_free(w->md);
  tg_free(w);
}

static void worker_abort(void *ctx, void *vw) {
  (void)ctx;
  otlpexp_worker *w = vw;
  pthread_mutex_lock(&w->lock);
  w->aborted = 1;
  if (w->call)
    grpc_call_cancel(w->call, NULL);
  pthread_mutex_unlock(&w->lock);
}

/* OTLP/gRPC: codes a client may retry (RESOURCE_EXHAUSTED only with RetryInfo). */
static int code_retryable(grpc_status_code code) {
  switch (code) {
  case GRPC_STATUS_CANCELLED:
  case GRPC_STATUS_DEADLINE_EXCEEDED:
  case GRPC_STATUS_ABORTED:
  case GRPC_STATUS_OUT_OF_RANGE:
  case GRPC_STATUS_UNAVAILABLE:
  case GRPC_STATUS_DATA_LOSS:
    return 1;
  default:
    return 0;
  }
}

/* Finds google.rpc.RetryInfo in grpc-status-details-bin; 1 and *ms when present. */
static int find_retry_info(const grpc_metadata_array *trailers, uint64_t *ms) {
  static const char retry_type[] = "type.googleapis.com/google.rpc.RetryInfo";
  for (size_t i = 0; i < trailers->count; i++) {
    const grpc_metadata *m = &trailers->metadata[i];
    if (!grpc_slice_str_cmp(m->key, "grpc-status-details-bin")) {
      Google__Rpc__Status *st = google__rpc__status__unpack(
          &pb_allocator, GRPC_SLICE_LENGTH(m->value), GRPC_SLICE_START_PTR(m->value));
      if (!st)
        return 0;
      int found = 0;
      for (size_t d = 0; d < st->n_details && !found; d++) {
        const Google__Rpc__Any *any = st->details[d];
        if (!any->type_url || strcmp(any->type_url, retry_type))
          continue;
        Google__Rpc__RetryInfo *ri =
            google__rpc__retry_info__unpack(&pb_allocator, any->value.len, any->value.data);
        if (!ri)
          continue;
        found = 1;
        *ms = 0;
        if (ri->retry_delay && ri->retry_delay->seconds >= 0 && ri->retry_delay->nanos >= 0) {
          uint64_t s = (uint64_t)ri->retry_delay->seconds;
          if (s > 86400)
            s = 86400;
          *ms = s * 1000u + (uint64_t)ri->retry_delay->nanos / 1000000u;
        }
        google__rpc__retry_info__free_unpacked(ri, &pb_allocator);
      }
      google__rpc__status__free_unpacked(st, &pb_allocator);
      return found;
    }
  }
  return 0;
}

/* Reads a partial_success from the response message. */
static void read_partial_success(grpc_byte_buffer *resp, tg_send_outcome *out) {
  grpc_byte_buffer_reader reader;
  if (!resp || !grpc_byte_buffer_reader_init(&reader, resp))
    return;
  grpc_slice all = grpc_byte_buffer_reader_readall(&reader);
  grpc_byte_buffer_reader_destroy(&reader);
  tg_send_outcome_from_response(GRPC_SLICE_START_PTR(all), GRPC_SLICE_LENGTH(all), out);
  grpc_slice_unref(all);
}

/* gRPC metadata keys are lower case: tg_selftrace_inject's names, as static slices. */
static grpc_slice md_key(const char *name) {
  static const char *const keys[] = {"traceparent",       "tracestate",     "b3",
                                     "x-b3-traceid",      "x-b3-spanid",    "x-b3-parentspanid",
                                     "x-b3-sampled",      "x-b3-flags",     "uber-trace-id"};
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
    if (!strcasecmp(keys[i], name))
      return grpc_slice_from_static_string(keys[i]);
  return grpc_empty_slice(); /* not reached: inject writes only the names above */
}

/* tg_selftrace_inject's sink: one metadata entry after the configured ones. */
static void add_md(void *arg, const char *name, const char *value) {
  otlpexp_worker *w = arg;
  grpc_slice key = md_key(name);
  if (GRPC_SLICE_IS_EMPTY(key))
    return;
  grpc_metadata *m = &w->md[w->n_md++];
  memset(m, 0, sizeof *m);
  m->key = key;
  m->value = grpc_slice_from_copied_string(value);
}

/* The request message: item's bytes, or (compression: gzip) their gzip made with the
 * worker's compressor and marked compressed, so gRPC core sends it as it is. A
 * compression failure (memory) falls back to the plain message: gRPC then compresses it
 * itself, as before. */
static grpc_byte_buffer *make_message(tg_otlpexp_grpc *g, otlpexp_worker *w,
                                      const tg_export_item *item) {
  if (g->conf->compression == TG_OTLPEXP_COMPRESS_GZIP) {
    if (!w->compressor)
      w->compressor = tg_compressor_new(TG_CODEC_GZIP, (int)g->conf->compression_level);
    w->zbody.len = 0;
    if (w->compressor &&
        tg_compressor_compress(w->compressor, item->data, item->len, &w->zbody) == TG_OK) {
      grpc_slice z = grpc_slice_from_copied_buffer((const char *)w->zbody.data, w->zbody.len);
      grpc_byte_buffer *bb = grpc_raw_compressed_byte_buffer_create(&z, 1, GRPC_COMPRESS_GZIP);
      grpc_slice_unref(z);
      return bb;
    }
  }
  grpc_slice payload = grpc_slice_from_copied_buffer((const char *)item->data, item->len);
  grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&payload, 1);
  grpc_slice_unref(payload);
  return bb;
}

static tg_send_result grpc_send(void *ctx, void *vw, const tg_export_item *item,
                                tg_send_outcome *out) {
  tg_otlpexp_grpc *g = ctx;
  otlpexp_worker *w = vw;
  gpr_timespec deadline =
      gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                   gpr_time_from_millis((int64_t)g->conf->timeout_ms, GPR_TIMESPAN));

  pthread_mutex_lock(&w->lock);
  if (w->aborted) {
    pthread_mutex_unlock(&w->lock);
    snprintf(out->detail, sizeof out->detail, "shutting down");
    return TG_SEND_PERMANENT;
  }
  /* metrics requests (tg_otlp_metrics.c) share the channel and queue of an OTLP exporter */
  grpc_slice method = item->signal == TG_SIGNAL_METRICS
                          ? grpc_slice_from_static_string(TG_OTLP_METRICS_METHOD)
                          : g->method;
  grpc_call *call = grpc_channel_create_call(g->channel, NULL, GRPC_PROPAGATE_DEFAULTS, w->cq,
                                             method, NULL, deadline, NULL);
  w->call = call;
  pthread_mutex_unlock(&w->lock);
  if (!call) {
    snprintf(out->detail, sizeof out->detail, "cannot create call");
    return TG_SEND_RETRYABLE;
  }
  tg_selfspan span;
  tg_tracectx tctx;
  w->n_md = g->n_md;
  if (tg_selftrace_export_begin(g->tracer, g->log_name, item->span_count, item->attempt,
                                &span, &tctx))
    tg_selftrace_inject(g->tracer, &tctx, add_md, w);

  grpc_byte_buffer *req = make_message(g, w, item);
  grpc_metadata_array initial_md, trailers;
  grpc_metadata_array_init(&initial_md);
  grpc_metadata_array_init(&trailers);
  grpc_byte_buffer *resp = NULL;
  grpc_status_code status = GRPC_STATUS_UNKNOWN;
  grpc_slice details = grpc_empty_slice();
  const char *error_string = NULL;

  grpc_op ops[6];
  memset(ops, 0, sizeof ops);
  ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
  ops[0].data.send_initial_metadata.count = w->n_md;
  ops[0].data.send_initial_metadata.metadata = w->md;
  ops[1].op = GRPC_OP_SEND_MESSAGE;
  ops[1].data.send_message.send_message = req;
  ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
  ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
  ops[3].data.recv_initial_metadata.recv_initial_metadata = &initial_md;
  ops[4].op = GRPC_OP_RECV_MESSAGE;
  ops[4].data.recv_message.recv_message = &resp;
  ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
  ops[5].data.recv_status_on_client.trailing_metadata = &trailers;
  ops[5].data.recv_status_on_client.status = &status;
  ops[5].data.recv_status_on_client.status_details = &details;
  ops[5].data.recv_status_on_client.error_string = &error_string;

  tg_send_result result;
  int got_status = 0;
  void *tag = w; /* one batch in flight per worker */
  grpc_call_error ce = grpc_call_start_batch(call, ops, 6, tag, NULL);
  if (ce != GRPC_CALL_OK) {
    snprintf(out->detail, sizeof out->detail, "grpc_call_start_batch failed (%d)", (int)ce);
    result = TG_SEND_RETRYABLE;
  } else {
    /* The call's deadline completes the batch; the slack only guards against a stuck
     * core, after which the call is cancelled and waited for. */
    gpr_timespec wait = gpr_time_add(deadline, gpr_time_from_millis(2000, GPR_TIMESPAN));
    grpc_event ev = grpc_completion_queue_pluck(w->cq, tag, wait, NULL);
    if (ev.type == GRPC_QUEUE_TIMEOUT) {
      grpc_call_cancel(call, NULL);
      ev = grpc_completion_queue_pluck(w->cq, tag, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    }
    got_status = 1;
    if (status == GRPC_STATUS_OK) {
      read_partial_success(resp, out);
      result = TG_SEND_OK;
    } else {
      uint64_t delay = 0;
      int has_retry_info = find_retry_info(&trailers, &delay);
      char *msg = grpc_slice_to_c_string(details);
      snprintf(out->detail, sizeof out->detail, "gRPC status %d: %s", (int)status,
               msg ? msg : "");
      gpr_free(msg);
      if (code_retryable(status) ||
          (status == GRPC_STATUS_RESOURCE_EXHAUSTED && has_retry_info)) {
        result = TG_SEND_RETRYABLE;
        if (has_retry_info)
          out->retry_after_ms = delay;
      } else {
        result = TG_SEND_PERMANENT;
      }
    }
  }

  pthread_mutex_lock(&w->lock);
  w->call = NULL;
  pthread_mutex_unlock(&w->lock);
  grpc_call_unref(call);
  grpc_byte_buffer_destroy(req);
  if (resp)
    grpc_byte_buffer_destroy(resp);
  grpc_metadata_array_destroy(&initial_md);
  grpc_metadata_array_destroy(&trailers);
  grpc_slice_unref(details);
  if (error_string)
    gpr_free((void *)error_string);
  for (size_t i = g->n_md; i < w->n_md; i++)
    grpc_slice_unref(w->md[i].value); /* keys are static */
  w->n_md = g->n_md;
  tg_selftrace_export_end(g->tracer, &span, tg_send_result_name(result),
                          got_status ? "rpc.grpc.status_code" : NULL, (int64_t)status);
  return result;
}

const tg_export_queue_ops tg_otlpexp_grpc_queue_ops = {
    .worker_init = worker_init,
    .send = grpc_send,
    .abort = worker_abort,
    .worker_fini = worker_fini,
};
