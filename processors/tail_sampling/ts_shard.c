/* A shard: ingest, bounds, decisions and output for the traces of one worker (see
 * ts_shard.h). The order of checks for an arriving span is the Collector's: a trace
 * still buffered takes it; otherwise the decision caches answer (kept: forward now,
 * dropped: discard); otherwise it starts a new trace, decided after decision_wait. */
#include "ts_shard.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <string.h>

#include "tg_alloc.h"
#include "tg_clock.h"
#include "tg_error.h"
#include "tg_metrics_service.h"
#include "ts_prob.h"
#include "ts_verdict.h"
#include "ts_wire.h"

_Static_assert((int)TS_TRIGGER_WAIT == (int)TS_CAUSE_WAIT &&
                   (int)TS_TRIGGER_EARLY == (int)TS_CAUSE_EARLY &&
                   (int)TS_TRIGGER_SHUTDOWN == (int)TS_CAUSE_SHUTDOWN,
               "verdict causes follow the metrics' triggers");

/* Kept spans are handed on in batches of about this many. */
#define FLUSH_SPANS 8192

int ts_shard_init(ts_shard *sh, const tg_ts_conf *conf, const ts_leaves *leaves,
                  ts_limiters *limiters, ts_metrics *metrics, tg_kept_traces *kept,
                  size_t max_traces, size_t max_bytes, ts_deliver_fn deliver, void *ctx) {
  memset(sh, 0, sizeof *sh);
  sh->conf = conf;
  sh->leaves = leaves;
  sh->limiters = limiters;
  sh->metrics = metrics;
  sh->kept = kept;
  sh->max_traces = max_traces ? max_traces : 1;
  sh->max_bytes = max_bytes;
  sh->deliver = deliver;
  sh->deliver_ctx = ctx;
  ts_emitter_init(&sh->out);
  tg_buf_init(&sh->attrs, 0);
  /* the table grows by doubling; start from the Collector's sizing hint when given */
  size_t expect = (size_t)conf->expected_new_traces_per_sec * (conf->decision_wait_ms / 1000 + 1);
  if (expect > sh->max_traces)
    expect = sh->max_traces;
  if (ts_store_init(&sh->store, expect) != 0 ||
      ts_cache_init(&sh->sampled, (size_t)conf->sampled_cache_size) != 0 ||
      ts_cache_init(&sh->not_sampled, (size_t)conf->non_sampled_cache_size) != 0)
    return -1;
  if (!(sh->match_data = pcre2_match_data_create(1, NULL)))
    return -1;
  if (!(sh->verdicts = tg_calloc(conf->policies.n ? conf->policies.n : 1, 1)))
    return -1;
  /* late spans of a kept trace name its policies: the sampled cache remembers them */
  if (conf->decision_attributes && ts_cache_keep_records(&sh->sampled) != 0)
    return -1;
  return 0;
}

int ts_shard_enable_queries(ts_shard *sh) {
  if (sh->queryable)
    return 0;
  if (ts_cache_keep_records(&sh->sampled) != 0 || ts_cache_keep_records(&sh->not_sampled) != 0)
    return -1;
  pthread_mutex_init(&sh->lock, NULL);
  sh->queryable = 1;
  return 0;
}

static void lock(ts_shard *sh) {
  if (sh->queryable)
    pthread_mutex_lock(&sh->lock);
}

static void unlock(ts_shard *sh) {
  if (sh->queryable)
    pthread_mutex_unlock(&sh->lock);
}

void ts_shard_free(ts_shard *sh) {
  ts_store_free(&sh->store);
  ts_cache_free(&sh->sampled);
  ts_cache_free(&sh->not_sampled);
  ts_emitter_free(&sh->out);
  pcre2_match_data_free(sh->match_data);
  sh->match_data = NULL;
  tg_free(sh->verdicts);
  sh->verdicts = NULL;
  tg_buf_free(&sh->attrs);
  if (sh->queryable)
    pthread_mutex_destroy(&sh->lock);
  sh->queryable = 0;
}

/* Keeps the gauges equal to the sum over shards: each shard adds its own change. */
static void report_gauges(ts_shard *sh) {
  size_t traces = sh->store.n_traces, bytes = sh->store.bytes;
  tg_metric_add(sh->metrics->traces_in_memory, (int64_t)traces - (int64_t)sh->reported_traces);
  tg_metric_add(sh->metrics->bytes_in_memory, (int64_t)bytes - (int64_t)sh->reported_bytes);
  sh->reported_traces = traces;
  sh->reported_bytes = bytes;
}

void ts_shard_flush(ts_shard *sh) {
  size_t lost = 0;
  tg_batch *b = ts_emit_take(&sh->out, &lost);
  tg_metric_add(sh->metrics->lost_spans, (int64_t)lost);
  if (b)
    sh->deliver(sh->deliver_ctx, b);
  report_gauges(sh);
}

/* The record of a decision (cause: TS_TRIGGER_*, bound: TS_EARLY_* when early). */
static ts_verdict verdict_of(const ts_shard *sh, const ts_trace *t, uint64_t now_ms, int state,
                             int cause, int bound) {
  ts_verdict v = {0};
  ts_verdict_set_votes(&v, sh->verdicts, sh->conf->policies.n);
  v.state = state;
  v.cause = cause;
  v.bound = bound;
  v.span_count = t->span_count;
  v.wire_bytes = t->wire_bytes > UINT32_MAX ? UINT32_MAX : (uint32_t)t->wire_bytes;
  v.wait_ms = now_ms > t->arrival_ms ? (uint32_t)(now_ms - t->arrival_ms > UINT32_MAX
                                                       ? UINT32_MAX
                                                       : now_ms - t->arrival_ms)
                                     : 0;
  return v;
}

static void decide(ts_shard *sh, ts_trace *t, uint64_t now_ms, int trigger, int bound) {
  ts_metrics *m = sh->metrics;
  uint8_t *verdicts = sh->verdicts;
  ts_decision d = ts_policy_decide(sh->conf, t, sh->limiters, now_ms,
                                   (int64_t)(tg_clock_unix_nano() / 1000000000u), verdicts);
  if (trigger == TS_TRIGGER_SHUTDOWN && sh->conf->drop_pending_traces_on_shutdown)
    d.keep = 0;
  static const int metric_of[] = {[TS_VERDICT_SAMPLED] = TS_POLICY_SAMPLED,
                                  [TS_VERDICT_NOT_SAMPLED] = TS_POLICY_NOT_SAMPLED,
                                  [TS_VERDICT_DROPPED] = TS_POLICY_DROPPED};
  for (size_t i = 0; i < sh->conf->policies.n && i < m->n_policies; i++)
    tg_metric_add(m->policy[i][metric_of[verdicts[i]]], 1);
  int outcome = d.keep ? TS_OUT_SAMPLED : TS_OUT_NOT_SAMPLED;
  tg_metric_add(m->decided[trigger][outcome], 1);
  tg_metric_add(m->spans_out[outcome], t->span_count);
  if (trigger == TS_TRIGGER_WAIT) {
    uint64_t due = t->arrival_ms + sh->conf->decision_wait_ms;
    ts_hist_observe(&m->decision_lag, now_ms > due ? (double)(now_ms - due) / 1000.0 : 0);
  }
  /* the record, only when something reads it (decision_attributes, the debug route) */
  ts_verdict v = {0};
  ts_verdict_rec rec = {{0, 0}};
  if (sh->sampled.recs || sh->not_sampled.recs || sh->conf->decision_attributes) {
    int dropped = 0;
    for (size_t i = 0; i < sh->conf->policies.n && !dropped; i++)
      dropped = verdicts[i] == TS_VERDICT_DROPPED;
    v = verdict_of(sh, t, now_ms,
                   d.keep ? TS_STATE_SAMPLED : dropped ? TS_STATE_DROPPED : TS_STATE_NOT_SAMPLED,
                   trigger, bound);
    v.debug = d.debug;
    v.prob_only = d.by_probabilistic_only;
    rec = ts_verdict_pack(&v);
  }
  if (d.keep) {
    char th[16];
    const char *th_hex = NULL;
    if (d.by_probabilistic_only) {
      tg_ts_threshold_hex(d.threshold, th);
      th_hex = th;
    }
    if (d.debug)
      tg_metric_add(m->debug_kept, 1);
    sh->attrs.len = 0;
    if (sh->conf->decision_attributes &&
        ts_verdict_attributes(&sh->attrs, &sh->conf->policies, v.votes,
                              ts_verdict_trigger(&v)) != TG_OK)
      sh->attrs.len = 0; /* out of memory: the spans go on without the attributes */
    if (ts_emit_trace(&sh->out, &sh->store, t, th_hex, sh->attrs.data, sh->attrs.len) != 0)
      tg_metric_add(m->lost_spans, t->span_count);
    ts_cache_put_rec(&sh->sampled, t->id, now_ms, &rec);
    tg_kept_traces_add(sh->kept, t->id);
  } else {
    ts_cache_put_rec(&sh->not_sampled, t->id, now_ms, &rec);
  }
  ts_store_remove(&sh->store, t);
  if (sh->out.spans >= FLUSH_SPANS)
    ts_shard_flush(sh);
}

/* Before deciding t: the traces after it in arrival order were written ~decision_wait
 * ago and are cold. The next one was fetched a decision ago, so its table slot and
 * records can be hinted now (removal unlinks and frees them); the one after it is
 * fetched for the next decision. */
static void prefetch_next(const ts_shard *sh, const ts_trace *t) {
  const ts_trace *next = t->newer;
  if (!next)
    return;
  ts_store_prefetch_trace(&sh->store, next);
  if (next->newer)
    __builtin_prefetch(next->newer);
}

/* Decides the oldest traces while a bound is exceeded. */
static void enforce_bounds(ts_shard *sh, uint64_t now_ms) {
  while (sh->store.oldest) {
    int bound;
    if (sh->store.n_traces > sh->max_traces)
      bound = TS_BOUND_TRACES;
    else if (sh->max_bytes && sh->store.bytes > sh->max_bytes)
      bound = TS_BOUND_MEMORY;
    else
      return;
    tg_metric_add(sh->metrics->early[bound], 1);
    decide(sh, sh->store.oldest, now_ms, TS_TRIGGER_EARLY,
           bound == TS_BOUND_TRACES ? TS_EARLY_TRACES : TS_EARLY_MEMORY);
  }
}

/* A varint at *p (before end), advancing *p: core/tg_pbwire.h's reader. */
static int read_varint(const uint8_t **p, const uint8_t *end, uint64_t *out) {
  tg_pbwire_reader r = {*p, end};
  if (tg_pbwire_varint(&r, out))
    return -1;
  *p = r.p;
  return 0;
}

typedef struct cur_header {
  uint32_t id;
  const uint8_t *rs, *ss;
  size_t rs_len, ss_len;
  uint64_t mask;
  int traces_cell_known;
  tg_metric_cell *traces_cell; /* its service's traces counter (traces_cell()) */
} cur_header;

/* The current header holds a reference of its own, so deciding a trace early (which
 * may drop the last span reference) cannot free it while spans still arrive under it. */
static void leave_header(ts_shard *sh, cur_header *h) {
  if (h->id != TS_NO_HEADER && --sh->store.headers[h->id].refs == 0)
    ts_store_release_header(&sh->store, h->id);
  h->id = TS_NO_HEADER;
}

static void enter_header(ts_shard *sh, cur_header *h) {
  h->id = ts_store_intern_header(&sh->store, h->rs, h->rs_len, h->ss, h->ss_len);
  h->mask = 0;
  h->traces_cell_known = 0;
  if (h->id == TS_NO_HEADER)
    return;
  ts_header *e = &sh->store.headers[h->id];
  e->refs++;
  if (!e->mask_known) {
    /* the Resource is field 1 of the ResourceSpans prefix */
    ts_reader r = ts_reader_of(h->rs, h->rs_len);
    ts_field f;
    e->leaf_mask = 0;
    while (ts_next_field(&r, &f) == 1)
      if (f.number == 1 && f.wire_type == TS_WT_LEN)
        e->leaf_mask |= ts_resource_leaf_mask(f.data, f.len, sh->leaves, sh->match_data);
    e->mask_known = 1;
  }
  h->mask = e->leaf_mask;
}

/* A trace past maximum_trace_size_bytes: dropped now (not sampled, remembered as such),
 * as the Collector does, so one runaway trace cannot hold the buffer. */
static void drop_too_large(ts_shard *sh, ts_trace *t, uint64_t now_ms) {
  tg_metric_add(sh->metrics->too_large, 1);
  tg_metric_add(sh->metrics->decided[TS_TRIGGER_EARLY][TS_OUT_NOT_SAMPLED], 1);
  tg_metric_add(sh->metrics->spans_out[TS_OUT_NOT_SAMPLED], t->span_count);
  ts_verdict_rec rec = {{0, 0}};
  if (sh->not_sampled.recs) {
    memset(sh->verdicts, TS_VERDICT_NOT_SAMPLED, sh->conf->policies.n);
    ts_verdict v = verdict_of(sh, t, now_ms, TS_STATE_DROPPED, TS_CAUSE_EARLY, TS_EARLY_TOO_LARGE);
    rec = ts_verdict_pack(&v);
  }
  ts_cache_put_rec(&sh->not_sampled, t->id, now_ms, &rec);
  ts_store_remove(&sh->store, t);
}

/* The service's traces counter under the current header, looked up once per header and
 * message: reading the resource's service.name from the wire, sanitising it and finding
 * its series cost about 750 instructions, paid per new trace before. */
static tg_metric_cell *traces_cell(ts_shard *sh, cur_header *h) {
  if (!h->traces_cell_known) {
    h->traces_cell = tg_metrics_service_trace_cell(sh->metrics->reg, h->rs, h->rs_len);
    h->traces_cell_known = 1;
  }
  return h->traces_cell;
}

static void take_span(ts_shard *sh, cur_header *h, const uint8_t id[16], const uint8_t *span,
                      size_t len, uint64_t now_ms, size_t more) {
  ts_span_info info;
  if (ts_span_inspect(span, len, sh->leaves, sh->match_data, &info) != 0)
    info = (ts_span_info){0}; /* the receiver's scan accepted it: keep it, decide on id */
  info.leaf_mask |= h->mask;
  ts_trace *t = ts_store_find(&sh->store, id);
  uint64_t when;
  if (!t) {
    if (ts_cache_has(&sh->sampled, id, &when)) {
      tg_metric_add(sh->metrics->late[TS_LATE_SAMPLED], 1);
      ts_hist_observe(&sh->metrics->late_age, (double)(now_ms - when) / 1000.0);
      ts_verdict_rec rec;
      sh->attrs.len = 0;
      if (sh->conf->decision_attributes && ts_cache_get_rec(&sh->sampled, id, NULL, &rec) &&
          ts_verdict_attributes(&sh->attrs, &sh->conf->policies, ts_verdict_unpack(rec).votes,
                                "late") != TG_OK)
        sh->attrs.len = 0;
      if (ts_emit_span(&sh->out, h->rs, h->rs_len, h->ss, h->ss_len, span, len, sh->attrs.data,
                       sh->attrs.len) != 0)
        tg_metric_add(sh->metrics->lost_spans, 1);
      return;
    }
    if (ts_cache_has(&sh->not_sampled, id, &when)) {
      tg_metric_add(sh->metrics->late[TS_LATE_NOT_SAMPLED], 1);
      ts_hist_observe(&sh->metrics->late_age, (double)(now_ms - when) / 1000.0);
      return;
    }
  }
  uint64_t limit = sh->conf->maximum_trace_size_bytes;
  int known = t != NULL;
  if (t && limit && t->wire_bytes + ts_len_field_size(len) > limit) {
    drop_too_large(sh, t, now_ms);
    t = NULL; /* removed */
    if (sh->not_sampled.capacity)
      return; /* the cache now answers for the rest of the trace */
  }
  if (!known) /* a new trace: tailgate_service_received_traces_total, by its first resource */
    tg_metric_add(traces_cell(sh, h), 1);
  ts_trace *got = ts_store_append(&sh->store, t, id, h->id, span, len, &info, now_ms, more);
  if (!got) {
    /* out of memory: make room by deciding the oldest (perhaps this very trace), then
     * try once more */
    if (sh->store.oldest) {
      tg_metric_add(sh->metrics->early[TS_BOUND_MEMORY], 1);
      decide(sh, sh->store.oldest, now_ms, TS_TRIGGER_EARLY, TS_EARLY_MEMORY);
    }
    got = ts_store_append(&sh->store, ts_store_find(&sh->store, id), id, h->id, span, len,
                          &info, now_ms, 0);
    if (!got) {
      tg_metric_add(sh->metrics->lost_spans, 1);
      return;
    }
  }
  t = got;
  if (limit && t->wire_bytes > limit) /* a single span over the limit */
    drop_too_large(sh, t, now_ms);
}

/* A span record at *p (its kind byte read already: kind): the trace id, and the span's
 * bytes, inline ('S') or where the slicer's reference points ('R'). Advances *p; 0, or
 * -1 when the record is cut short (cannot happen: the slicer wrote it). */
static int read_span_record(uint8_t kind, const uint8_t **p, const uint8_t *end,
                            const uint8_t **id, const uint8_t **span, size_t *len) {
  const uint8_t *q = *p;
  uint64_t n;
  if (end - q < 16)
    return -1;
  *id = q;
  q += 16;
  if (read_varint(&q, end, &n))
    return -1;
  if (kind == TS_REC_SPAN_REF) {
    if (end - q < (ptrdiff_t)sizeof *span)
      return -1;
    memcpy(span, q, sizeof *span);
    q += sizeof *span;
  } else {
    if (n > (uint64_t)(end - q))
      return -1;
    *span = q;
    q += n;
  }
  *len = (size_t)n;
  *p = q;
  return 0;
}

static inline int is_span_record(uint8_t kind) {
  return kind == TS_REC_SPAN || kind == TS_REC_SPAN_REF;
}

/* Record bytes of the span records right after p (up to end) that belong to trace id:
 * spans of one trace usually travel together, so their buffer can grow once. *next is
 * where the run ends. */
static size_t run_after(const uint8_t *p, const uint8_t *end, const uint8_t id[16],
                        uint32_t header, const uint8_t **next) {
  size_t total = 0;
  while (end - p > 17 && is_span_record(*p) && memcmp(p + 1, id, 16) == 0) {
    const uint8_t *q = p + 1, *rid, *span;
    size_t len;
    if (read_span_record(*p, &q, end, &rid, &span, &len))
      break;
    total += ts_store_record_size(header, len);
    p = q;
  }
  *next = p;
  return total;
}

/* The bytes of the span the record at p refers to, when it is a reference: they were
 * last written on the loop thread's core, so the first read of each line here misses
 * (perf: ts_span_inspect doubled when the slicer stopped copying). Started one span
 * ahead, they arrive while the current span is inspected and stored. */
static inline void prefetch_next_span(const uint8_t *p, const uint8_t *end) {
  if (end - p < 1 + 16 + 1 + (ptrdiff_t)sizeof(const uint8_t *) || *p != TS_REC_SPAN_REF)
    return;
  const uint8_t *q = p + 1, *id, *span;
  size_t len;
  if (read_span_record(TS_REC_SPAN_REF, &q, end, &id, &span, &len))
    return;
  size_t lines = len < 1024 ? len : 1024;
  for (size_t off = 0; off < lines; off += 64)
    __builtin_prefetch(span + off);
}

void ts_shard_ingest(ts_shard *sh, const ts_msg *msg, uint64_t now_ms) {
  lock(sh);
  const uint8_t *p = msg->data, *end = msg->data + msg->len;
  cur_header h = {TS_NO_HEADER, NULL, NULL, 0, 0, 0, 0, NULL};
  const uint8_t *run_id = NULL;
  size_t run_left = 0, received = 0;
  static const uint8_t empty[1];
  h.rs = h.ss = empty;
  while (p < end) {
    uint8_t kind = *p++;
    uint64_t a, b;
    if (kind == TS_REC_HEADER) {
      if (read_varint(&p, end, &a) || a > (uint64_t)(end - p))
        break;
      const uint8_t *rs = p;
      p += a;
      if (read_varint(&p, end, &b) || b > (uint64_t)(end - p))
        break;
      leave_header(sh, &h);
      run_id = NULL;
      h.rs = rs;
      h.rs_len = (size_t)a;
      h.ss = p;
      h.ss_len = (size_t)b;
      p += b;
      enter_header(sh, &h);
    } else if (is_span_record(kind)) {
      const uint8_t *id, *span;
      size_t len;
      if (read_span_record(kind, &p, end, &id, &span, &len))
        break;
      received++; /* added once per message: the cell is shared by every worker */
      /* the rest of this trace's run, counted once per run (not per span) */
      size_t size = ts_store_record_size(h.id, len);
      if (!run_id || memcmp(run_id, id, 16) != 0) {
        const uint8_t *next;
        run_left = run_after(p, end, id, h.id, &next);
        /* the next run's table bucket is a cache miss: start it while this run is taken */
        if (end - next > 17 && is_span_record(*next))
          ts_store_prefetch_id(&sh->store, next + 1);
      } else
        run_left -= run_left < size ? run_left : size;
      run_id = id;
      prefetch_next_span(p, end);
      take_span(sh, &h, id, span, len, now_ms, run_left);
      enforce_bounds(sh, now_ms);
    } else {
      break; /* the slicer wrote it: cannot happen */
    }
  }
  leave_header(sh, &h);
  tg_metric_add(sh->metrics->spans_received, (int64_t)received);
  unlock(sh);
}

size_t ts_shard_decide_due(ts_shard *sh, uint64_t now_ms) {
  size_t n = 0;
  if (!sh->store.oldest || sh->store.oldest->arrival_ms + sh->conf->decision_wait_ms > now_ms)
    return 0; /* the common case: nothing due, no lock taken */
  lock(sh);
  while (sh->store.oldest && sh->store.oldest->arrival_ms + sh->conf->decision_wait_ms <= now_ms) {
    prefetch_next(sh, sh->store.oldest);
    decide(sh, sh->store.oldest, now_ms, TS_TRIGGER_WAIT, 0);
    n++;
  }
  unlock(sh);
  return n;
}

void ts_shard_decide_all(ts_shard *sh, uint64_t now_ms) {
  lock(sh);
  while (sh->store.oldest)
    decide(sh, sh->store.oldest, now_ms, TS_TRIGGER_SHUTDOWN, 0);
  unlock(sh);
}

uint64_t ts_shard_next_due(const ts_shard *sh) {
  return sh->store.oldest ? sh->store.oldest->arrival_ms + sh->conf->decision_wait_ms
                          : UINT64_MAX;
}

/* ---- queries (loop thread) ----------------------------------------------------------- */

static const char *const state_names[] = {[TS_STATE_SAMPLED] = "sampled",
                                          [TS_STATE_NOT_SAMPLED] = "not_sampled",
                                          [TS_STATE_DROPPED] = "dropped"};

static uint64_t to_unix_ms(uint64_t mono, uint64_t now_mono_ms, uint64_t now_unix_ms) {
  uint64_t ago = now_mono_ms > mono ? now_mono_ms - mono : 0;
  return now_unix_ms > ago ? now_unix_ms - ago : 0;
}

/* Verdicts of a decided trace (from its record v), or of a buffered one as they would
 * be now (preview, when v is NULL). */
static int policies_json(const ts_shard *sh, const ts_verdict *v, const uint8_t *preview,
                         tg_buf *out) {
  static const char *const would[] = {[TS_VERDICT_NOT_SAMPLED] = "would_not_sample",
                                      [TS_VERDICT_SAMPLED] = "would_sample",
                                      [TS_VERDICT_DROPPED] = "would_drop",
                                      [TS_VERDICT_PENDING] = "pending"};
  int rc = tg_buf_append_str(out, "\"policies\":[");
  const tg_ts_policies *ps = &sh->conf->policies;
  for (size_t i = 0; i < ps->n && rc == TG_OK; i++) {
    const char *verdict = preview && preview[i] <= TS_VERDICT_PENDING ? would[preview[i]] : "pending";
    if (v) {
      int voted = i < TS_VERDICT_MAX_POLICIES && (v->votes >> i & 1);
      verdict = i >= TS_VERDICT_MAX_POLICIES ? "unrecorded"
                : !voted                      ? "not_sampled"
                : ps->items[i].type == TG_TS_DROP ? "dropped"
                                                  : "sampled";
    }
    rc = tg_buf_append_str(out, i ? ",{\"name\":" : "{\"name\":");
    if (rc == TG_OK)
      rc = ts_json_string(out, ps->items[i].name, strlen(ps->items[i].name));
    if (rc == TG_OK)
      rc = tg_buf_appendf(out, ",\"verdict\":\"%s\"}", verdict);
  }
  return rc == TG_OK ? tg_buf_append_str(out, "]") : rc;
}

int ts_shard_query(ts_shard *sh, const char *processor, const uint8_t id[16],
                   uint64_t now_mono_ms, uint64_t now_unix_ms, tg_buf *out) {
  if (!sh->queryable)
    return TG_EINVAL;
  int rc = TG_ENOTFOUND;
  size_t mark = out->len;
  pthread_mutex_lock(&sh->lock);
  const ts_trace *t = ts_store_find(&sh->store, id);
  ts_verdict_rec rec;
  uint64_t decided;
  if (t) {
    rc = tg_buf_append_str(out, "{\"processor\":");
    if (rc == TG_OK)
      rc = ts_json_string(out, processor, strlen(processor));
    if (rc == TG_OK)
      rc = tg_buf_appendf(out,
                        ",\"shard\":%zu,\"state\":\"buffered\",\"first_span_unix_ms\":%llu,"
                        "\"decision_due_unix_ms\":%llu,\"span_count\":%u,\"bytes\":%llu,",
                        sh->index,
                        (unsigned long long)to_unix_ms(t->arrival_ms, now_mono_ms, now_unix_ms),
                        (unsigned long long)to_unix_ms(t->arrival_ms, now_mono_ms, now_unix_ms) +
                            (unsigned long long)sh->conf->decision_wait_ms,
                        t->span_count, (unsigned long long)t->wire_bytes);
    uint8_t *preview = tg_calloc(sh->conf->policies.n ? sh->conf->policies.n : 1, 1);
    if (preview)
      ts_policy_preview(sh->conf, t, preview);
    if (rc == TG_OK)
      rc = policies_json(sh, NULL, preview, out);
    tg_free(preview);
    if (rc == TG_OK)
      rc = tg_buf_append_str(out, "}");
  } else if (ts_cache_get_rec(&sh->sampled, id, &decided, &rec) ||
             ts_cache_get_rec(&sh->not_sampled, id, &decided, &rec)) {
    ts_verdict v = ts_verdict_unpack(rec);
    uint64_t at = to_unix_ms(decided, now_mono_ms, now_unix_ms);
    rc = tg_buf_append_str(out, "{\"processor\":");
    if (rc == TG_OK)
      rc = ts_json_string(out, processor, strlen(processor));
    if (rc == TG_OK)
      rc = tg_buf_appendf(
        out,
        ",\"shard\":%zu,\"state\":\"%s\",\"first_span_unix_ms\":%llu,\"decided_unix_ms\":%llu,"
        "\"span_count\":%u,\"bytes\":%u,\"trigger\":\"%s\",\"probabilistic_only\":%s,",
        sh->index, state_names[v.state], (unsigned long long)(at - v.wait_ms),
        (unsigned long long)at, v.span_count, v.wire_bytes, ts_verdict_trigger(&v),
        v.prob_only ? "true" : "false");
    if (rc == TG_OK)
      rc = policies_json(sh, &v, NULL, out);
    if (rc == TG_OK)
      rc = tg_buf_append_str(out, "}");
  }
  pthread_mutex_unlock(&sh->lock);
  if (rc != TG_OK && rc != TG_ENOTFOUND)
    out->len = mark;
  return rc;
}
