/* `tailgate sampling explain` (see ts_explain.h).
 *
 * Shape: the input is decoded into a batch, sliced into one shard message and ingested
 * by a private shard exactly as a worker would (so leaf bits, span counts, durations
 * and the debug mark are the live ones), then every buffered trace is decided with
 * ts_policy_decide_explained, which leaves a note per evaluated policy. The reasons that
 * need the spans themselves (which span matched a leaf, and with what value) are found
 * afterwards by inspecting the trace's records one span at a time with the same leaf
 * evaluator. Output is text, one line per policy, indented by sub-policy depth:
 *   trace <hex>: N spans, B bytes, duration D ms
 *     decision: sampled (by "errors", "slow")
 *     policy "errors" (status_code): sampled: span "GET /a" 00f067aa0ba902b7 has status ERROR
 */
#include "ts_explain.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <inttypes.h>
#include <pcre2.h>
#include <stdio.h>
#include <string.h>

#include "tg_alloc.h"
#include "tg_clock.h"
#include "tg_config.h"
#include "tg_error.h"
#include "ts_metrics.h"
#include "ts_policy.h"
#include "ts_prob.h"
#include "ts_shard.h"
#include "ts_slice.h"
#include "ts_span.h"
#include "ts_verdict.h"
#include "ts_wire.h"

int ts_explain_parse(tg_batch *batch, const uint8_t *data, size_t len, char *err,
                     size_t err_size) {
  size_t i = 0;
  while (i < len && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r'))
    i++;
  if (i < len && data[i] == '{')
    return ts_explain_parse_json(batch, data, len, err, err_size);
  int rc = tg_batch_decode_otlp(batch, data, len);
  if (rc == TG_EDECODE && err && err_size)
    snprintf(err, err_size, "not OTLP/JSON and not a protobuf ExportTraceServiceRequest");
  return rc;
}

/* ---- reading a span's fields for the reasons ------------------------------------------- */

enum { SPAN_ID = 2, SPAN_TRACE_STATE = 3, SPAN_NAME = 5, SPAN_ATTRS = 9, SPAN_STATUS = 15,
       SPAN_FLAGS = 16 };

typedef struct span_view {
  const uint8_t *name, *state, *id;
  size_t name_len, state_len, id_len;
  uint32_t flags;
  int status;
} span_view;

static void view_span(const uint8_t *span, size_t len, span_view *v) {
  memset(v, 0, sizeof *v);
  ts_reader r = ts_reader_of(span, len);
  ts_field f;
  while (ts_next_field(&r, &f) == 1) {
    if (f.number == SPAN_NAME && f.wire_type == TS_WT_LEN) {
      v->name = f.data;
      v->name_len = f.len;
    } else if (f.number == SPAN_ID && f.wire_type == TS_WT_LEN) {
      v->id = f.data;
      v->id_len = f.len;
    } else if (f.number == SPAN_TRACE_STATE && f.wire_type == TS_WT_LEN) {
      v->state = f.data;
      v->state_len = f.len;
    } else if (f.number == SPAN_FLAGS && f.wire_type == TS_WT_I32) {
      v->flags = (uint32_t)f.value;
    } else if (f.number == SPAN_STATUS && f.wire_type == TS_WT_LEN) {
      ts_reader s = ts_reader_of(f.data, f.len);
      ts_field g;
      while (ts_next_field(&s, &g) == 1)
        if (g.number == 3 && g.wire_type == TS_WT_VARINT)
          v->status = (int)g.value;
    }
  }
}

/* Appends a JSON-quoted copy of bytes (names and values may hold anything). */
static void quoted(tg_buf *out, const uint8_t *s, size_t len) {
  ts_json_string(out, (const char *)s, len);
}

static void hex(tg_buf *out, const uint8_t *b, size_t len) {
  for (size_t i = 0; i < len; i++)
    tg_buf_appendf(out, "%02x", b[i]);
}

/* Appends the value of the attribute `key` found in a list of KeyValue fields numbered
 * `field` (Span.attributes: 9; Resource.attributes: 1). Returns 1 when found. */
static int attribute_value(const uint8_t *msg, size_t len, uint32_t field, const char *key,
                           tg_buf *out) {
  ts_reader r = ts_reader_of(msg, len);
  ts_field f;
  size_t klen = strlen(key);
  while (ts_next_field(&r, &f) == 1) {
    if (f.number != field || f.wire_type != TS_WT_LEN)
      continue;
    ts_reader kv = ts_reader_of(f.data, f.len);
    ts_field g;
    int is_key = 0;
    const uint8_t *val = NULL;
    size_t val_len = 0;
    while (ts_next_field(&kv, &g) == 1) {
      if (g.number == 1 && g.wire_type == TS_WT_LEN)
        is_key = g.len == klen && memcmp(g.data, key, klen) == 0;
      else if (g.number == 2 && g.wire_type == TS_WT_LEN) {
        val = g.data;
        val_len = g.len;
      }
    }
    if (!is_key)
      continue;
    ts_reader av = ts_reader_of(val ? val : (const uint8_t *)"", val_len);
    ts_field h;
    const char *shown = "(empty)";
    while (ts_next_field(&av, &h) == 1) {
      if (h.number == 1 && h.wire_type == TS_WT_LEN) {
        quoted(out, h.data, h.len);
        return 1;
      }
      if (h.number == 2 && h.wire_type == TS_WT_VARINT) {
        tg_buf_append_str(out, h.value ? "true" : "false");
        return 1;
      }
      if (h.number == 3 && h.wire_type == TS_WT_VARINT) {
        tg_buf_appendf(out, "%" PRId64, (int64_t)h.value);
        return 1;
      }
      if (h.number == 4 && h.wire_type == TS_WT_I64) {
        double d;
        memcpy(&d, &h.value, sizeof d);
        tg_buf_appendf(out, "%.17g", d);
        return 1;
      }
      shown = "(array, map or bytes)";
    }
    tg_buf_append_str(out, shown);
    return 1;
  }
  return 0;
}

/* The Resource message inside a header's ResourceSpans prefix. */
static int header_resource(const ts_store *s, uint32_t header, const uint8_t **res,
                           size_t *len) {
  if (header == TS_NO_HEADER)
    return 0;
  const ts_header *h = &s->headers[header];
  ts_reader r = ts_reader_of(h->bytes, h->rs_len);
  ts_field f;
  while (ts_next_field(&r, &f) == 1)
    if (f.number == 1 && f.wire_type == TS_WT_LEN) {
      *res = f.data;
      *len = f.len;
      return 1;
    }
  return 0;
}

static const char *const status_names[] = {"UNSET", "OK", "ERROR"};

/* Why a leaf policy (a span-level predicate) matched: the first span, or resource, whose
 * bits hold it. Appends the reason; returns 1 when something matched. */
static int leaf_reason(const ts_shard *sh, const ts_trace *t, const tg_ts_policy *p,
                       tg_buf *out) {
  size_t off = 0, len;
  uint32_t header;
  const uint8_t *span;
  while (ts_trace_next_record(t, &off, &header, &span, &len)) {
    ts_span_info info;
    uint64_t span_bits = 0, res_bits = 0;
    if (ts_span_inspect(span, len, sh->leaves, sh->match_data, &info) == 0)
      span_bits = info.leaf_mask;
    if (header != TS_NO_HEADER && sh->store.headers[header].mask_known)
      res_bits = sh->store.headers[header].leaf_mask;
    uint64_t bit = UINT64_C(1) << p->leaf;
    if (!((span_bits | res_bits) & bit))
      continue;
    span_view v;
    view_span(span, len, &v);
    const uint8_t *res;
    size_t res_len;
    if (!(span_bits & bit) && header_resource(&sh->store, header, &res, &res_len)) {
      tg_buf_appendf(out, "resource attribute %s = ", p->key ? p->key : "?");
      if (!attribute_value(res, res_len, 1, p->key ? p->key : "", out))
        tg_buf_append_str(out, "(absent)");
      tg_buf_append_str(out, " (resource of span ");
      quoted(out, v.name ? v.name : (const uint8_t *)"", v.name_len);
      tg_buf_append_str(out, ")");
      return 1;
    }
    tg_buf_append_str(out, "span ");
    quoted(out, v.name ? v.name : (const uint8_t *)"", v.name_len);
    tg_buf_append_str(out, " ");
    hex(out, v.id, v.id_len);
    switch (p->type) {
    case TG_TS_STATUS_CODE:
      tg_buf_appendf(out, " has status %s", status_names[v.status >= 0 && v.status <= 2 ? v.status : 0]);
      break;
    case TG_TS_TRACE_STATE:
      tg_buf_append_str(out, " has tracestate ");
      quoted(out, v.state ? v.state : (const uint8_t *)"", v.state_len);
      break;
    case TG_TS_TRACE_FLAGS:
      tg_buf_appendf(out, " has flags 0x%02x", v.flags);
      break;
    default:
      tg_buf_appendf(out, " has %s = ", p->key ? p->key : "?");
      if (!attribute_value(span, len, SPAN_ATTRS, p->key ? p->key : "", out))
        tg_buf_append_str(out, "(absent)");
    }
    return 1;
  }
  return 0;
}

/* What a leaf policy looks for, when nothing matched. */
static void leaf_wanted(const tg_ts_policy *p, tg_buf *out) {
  switch (p->type) {
  case TG_TS_STATUS_CODE:
    tg_buf_append_str(out, "no span has status");
    for (int i = 0; i < 3; i++)
      if (p->status_mask & (1u << i))
        tg_buf_appendf(out, " %s", status_names[i]);
    break;
  case TG_TS_NUMERIC_ATTRIBUTE:
    tg_buf_appendf(out, "no span or resource has %s in [", p->key);
    if (p->has_min)
      tg_buf_appendf(out, "%" PRId64, p->min_value);
    else
      tg_buf_append_str(out, "-inf");
    if (p->has_max)
      tg_buf_appendf(out, ", %" PRId64 "]", p->max_value);
    else
      tg_buf_append_str(out, ", +inf]");
    break;
  case TG_TS_BOOLEAN_ATTRIBUTE:
    tg_buf_appendf(out, "no span or resource has %s = %s", p->key, p->bool_value ? "true" : "false");
    break;
  case TG_TS_TRACE_FLAGS:
    tg_buf_appendf(out, "no span has flags 0x%02x set", p->flags_mask);
    break;
  default:
    tg_buf_appendf(out, "no %s has %s among [", p->type == TG_TS_TRACE_STATE ? "tracestate" : "span or resource",
                   p->key ? p->key : "?");
    for (size_t i = 0; i < p->n_values; i++) {
      if (i)
        tg_buf_append_str(out, ", ");
      quoted(out, (const uint8_t *)p->values[i], strlen(p->values[i]));
    }
    tg_buf_append_str(out, "]");
  }
}

static const char *const type_names[] = {
    [TG_TS_ALWAYS_SAMPLE] = "always_sample",   [TG_TS_LATENCY] = "latency",
    [TG_TS_NUMERIC_ATTRIBUTE] = "numeric_attribute", [TG_TS_PROBABILISTIC] = "probabilistic",
    [TG_TS_STATUS_CODE] = "status_code",       [TG_TS_STRING_ATTRIBUTE] = "string_attribute",
    [TG_TS_BOOLEAN_ATTRIBUTE] = "boolean_attribute", [TG_TS_TRACE_STATE] = "trace_state",
    [TG_TS_SPAN_COUNT] = "span_count",         [TG_TS_AND] = "and",
    [TG_TS_NOT] = "not",                       [TG_TS_DROP] = "drop",
    [TG_TS_RATE_LIMITING] = "rate_limiting",   [TG_TS_TRACE_FLAGS] = "trace_flags",
    [TG_TS_BYTES_LIMITING] = "bytes_limiting", [TG_TS_COMPOSITE] = "composite",
};

static const char *const verdict_names[] = {[TS_VERDICT_NOT_SAMPLED] = "not_sampled",
                                            [TS_VERDICT_SAMPLED] = "sampled",
                                            [TS_VERDICT_DROPPED] = "dropped"};

static void note_reason(const ts_shard *sh, const ts_trace *t, const ts_note *n, tg_buf *out) {
  const tg_ts_policy *p = n->policy;
  char th[16];
  switch (p->type) {
  case TG_TS_ALWAYS_SAMPLE:
    tg_buf_append_str(out, "always");
    break;
  case TG_TS_LATENCY:
    if (p->upper_threshold_ms)
      tg_buf_appendf(out, "duration %" PRId64 " ms %s (%" PRId64 ", %" PRId64 "] ms", n->value,
                     n->verdict == TS_VERDICT_SAMPLED ? "in" : "not in", p->threshold_ms,
                     p->upper_threshold_ms);
    else
      tg_buf_appendf(out, "duration %" PRId64 " ms %s threshold %" PRId64 " ms", n->value,
                     n->verdict == TS_VERDICT_SAMPLED ? ">=" : "<", p->threshold_ms);
    break;
  case TG_TS_SPAN_COUNT:
    tg_buf_appendf(out, "%" PRId64 " spans vs min_spans %" PRId64 ", max_spans %" PRId64 "%s",
                   n->value, p->min_spans, p->max_spans, p->max_spans ? "" : " (none)");
    break;
  case TG_TS_PROBABILISTIC:
    tg_ts_threshold_hex(n->t, th);
    tg_buf_appendf(out, "R = 0x%014" PRIx64 " %s T = 0x%014" PRIx64 " (th:%s, %g%%%s)", n->r,
                   n->r >= n->t ? ">=" : "<", n->t, th, p->sampling_percentage,
                   p->hash_salt && *p->hash_salt ? ", salted" : "");
    break;
  case TG_TS_NUMERIC_ATTRIBUTE:
  case TG_TS_STRING_ATTRIBUTE:
  case TG_TS_BOOLEAN_ATTRIBUTE:
  case TG_TS_STATUS_CODE:
  case TG_TS_TRACE_STATE:
  case TG_TS_TRACE_FLAGS:
    if (!leaf_reason(sh, t, p, out))
      leaf_wanted(p, out);
    if (p->invert_match)
      tg_buf_append_str(out, " (invert_match)");
    break;
  case TG_TS_RATE_LIMITING:
  case TG_TS_BYTES_LIMITING: {
    const char *unit = p->type == TG_TS_RATE_LIMITING ? "spans" : "bytes";
    int64_t rate = p->type == TG_TS_RATE_LIMITING ? p->spans_per_second : p->bytes_per_second;
    tg_buf_appendf(out, "cost %" PRId64 " %s, bucket held %.0f (%" PRId64 " %s/s, burst %" PRId64
                   "): %s",
                   n->value, unit, n->available, rate, unit,
                   p->burst_capacity ? p->burst_capacity : 2 * rate,
                   n->limited ? "refused by the bucket" : "taken");
    break;
  }
  case TG_TS_COMPOSITE:
    if (n->sub < 0) {
      tg_buf_append_str(out, "no sub-policy matched");
    } else {
      tg_buf_append_str(out, "sub-policy ");
      const char *name = p->subs[n->sub].name;
      quoted(out, (const uint8_t *)name, strlen(name));
      tg_buf_appendf(out, " matched first; its share %" PRId64 " spans/s (of %" PRId64
                     "), %.0f spent this second, cost %" PRId64 ": %s",
                     n->share, p->max_total_spans_per_second, n->available, n->value,
                     n->limited ? "share spent" : "within share");
    }
    break;
  case TG_TS_AND:
    tg_buf_append_str(out, n->verdict == TS_VERDICT_SAMPLED ? "every sub-policy sampled"
                                                            : "a sub-policy did not sample");
    break;
  case TG_TS_DROP:
    tg_buf_append_str(out, n->verdict == TS_VERDICT_DROPPED
                               ? "every sub-policy matched: the trace is dropped"
                               : "a sub-policy did not match");
    break;
  case TG_TS_NOT:
    tg_buf_append_str(out, n->verdict == TS_VERDICT_SAMPLED ? "its sub-policy did not sample"
                                                            : "its sub-policy sampled");
    break;
  }
}

static void explain_trace(const tg_ts_conf *conf, ts_shard *sh, const ts_trace *t,
                          int64_t now_s, ts_explain *x, uint8_t *verdicts, tg_buf *out) {
  int64_t dur = t->min_start == UINT64_MAX || t->max_end < t->min_start
                    ? 0
                    : (int64_t)((t->max_end - t->min_start) / 1000000);
  tg_buf_append_str(out, "trace ");
  hex(out, t->id, 16);
  tg_buf_appendf(out, ": %u spans, %" PRIu64 " bytes, duration %" PRId64 " ms\n", t->span_count,
                 t->wire_bytes, dur);
  if (conf->maximum_trace_size_bytes && t->wire_bytes > conf->maximum_trace_size_bytes) {
    tg_buf_appendf(out, "  decision: dropped (%" PRIu64 " bytes > maximum_trace_size_bytes %" PRIu64
                   "; no policy is evaluated)\n",
                   t->wire_bytes, conf->maximum_trace_size_bytes);
    return;
  }
  ts_decision d = ts_policy_decide_explained(conf, t, sh->limiters, 0, now_s, verdicts, x);
  int dropped = 0;
  for (size_t i = 0; i < conf->policies.n; i++)
    dropped |= verdicts[i] == TS_VERDICT_DROPPED;
  tg_buf_appendf(out, "  decision: %s", d.keep ? "sampled" : dropped ? "dropped" : "not_sampled");
  if (d.keep) {
    tg_buf_append_str(out, " (by");
    int any = 0;
    for (size_t i = 0; i < conf->policies.n; i++)
      if (verdicts[i] == TS_VERDICT_SAMPLED) {
        tg_buf_append_str(out, any ? ", " : " ");
        quoted(out, (const uint8_t *)conf->policies.items[i].name,
               strlen(conf->policies.items[i].name));
        any = 1;
      }
    if (d.debug)
      tg_buf_append_str(out, any ? ", and" : "");
    if (d.debug || !any)
      tg_buf_append_str(out, " an upstream debug flag (sampling.priority >= 1)");
    tg_buf_append_str(out, ")");
    if (d.by_probabilistic_only) {
      char th[16];
      tg_ts_threshold_hex(d.threshold, th);
      tg_buf_appendf(out, "; probabilistic only: spans get ot=th:%s", th);
    }
  }
  tg_buf_append_str(out, "\n");
  for (size_t i = 0; i < x->n; i++) {
    const ts_note *n = &x->notes[i];
    for (int k = 0; k <= n->depth; k++)
      tg_buf_append_str(out, "  ");
    tg_buf_append_str(out, "policy ");
    quoted(out, (const uint8_t *)n->policy->name, strlen(n->policy->name));
    tg_buf_appendf(out, " (%s): %s: ", type_names[n->policy->type], verdict_names[n->verdict]);
    note_reason(sh, t, n, out);
    tg_buf_append_str(out, "\n");
  }
  if (x->truncated)
    tg_buf_append_str(out, "  (more policies were evaluated than can be shown)\n");
  if (conf->sample_on_first_match && d.keep)
    tg_buf_append_str(out, "  (sample_on_first_match: later policies were not evaluated)\n");
}

static void discard(void *ctx, tg_batch *b) {
  (void)ctx;
  tg_batch_free(b);
}

int ts_explain_run(const tg_ts_conf *conf, tg_batch *batch, int64_t now_unix_s,
                   tg_buf *out) {
  /* ingest with no size limit and no attributes: the explanation reports the limit itself */
  tg_ts_conf local = *conf;
  local.maximum_trace_size_bytes = 0;
  local.decision_attributes = 0;
  local.expected_new_traces_per_sec = 0;
  ts_leaves leaves;
  ts_leaves_collect(&conf->policies, &leaves);
  ts_limiters lim;
  ts_metrics metrics;
  ts_shard sh;
  memset(&sh, 0, sizeof sh);
  int rc = TG_ENOMEM;
  ts_explain *x = tg_malloc(sizeof *x);
  uint8_t *verdicts = tg_calloc(conf->policies.n ? conf->policies.n : 1, 1);
  int lim_ok = ts_limiters_init(&lim, conf->policies.n_rates) == 0;
  int met_ok = ts_metrics_init(&metrics, NULL, "explain", &conf->policies) == 0;
  ts_msg *msg[1] = {NULL};
  if (x && verdicts && lim_ok && met_ok &&
      ts_shard_init(&sh, &local, &leaves, &lim, &metrics, NULL, batch->span_count + 1, 0,
                    discard, NULL) == 0) {
    rc = ts_slice_batch(batch, 1, msg);
    if (rc == TG_OK && msg[0]) {
      ts_shard_ingest(&sh, msg[0], 0);
      for (const ts_trace *t = sh.store.oldest; t; t = t->newer)
        explain_trace(conf, &sh, t, now_unix_s, x, verdicts, out);
    } else if (rc == TG_OK) {
      tg_buf_append_str(out, "no spans\n");
    }
  }
  ts_msg_free(msg[0]);
  ts_shard_free(&sh);
  if (met_ok)
    ts_metrics_destroy(&metrics);
  if (lim_ok)
    ts_limiters_free(&lim);
  tg_free(verdicts);
  tg_free(x);
  return rc;
}

/* ---- the command ---------------------------------------------------------------------- */

static void usage(FILE *f) {
  fprintf(f, "usage: tailgate sampling explain --config FILE [--processor ID] [TRACE|-]\n"
             "  Runs the tail_sampling policies of FILE on the traces in TRACE (OTLP/JSON or\n"
             "  a protobuf ExportTraceServiceRequest; none or '-' reads stdin) and prints each\n"
             "  policy's verdict and why. Rate limits start with full buckets.\n");
}

static uint8_t *read_all(FILE *f, size_t *len) {
  size_t cap = 65536, n = 0;
  uint8_t *buf = tg_malloc(cap);
  while (buf) {
    size_t got = fread(buf + n, 1, cap - n, f);
    n += got;
    if (got == 0)
      break;
    if (n == cap) {
      if (cap >= TS_EXPLAIN_MAX_INPUT) {
        tg_free(buf);
        return NULL;
      }
      uint8_t *more = tg_realloc(buf, cap * 2);
      if (!more) {
        tg_free(buf);
        return NULL;
      }
      buf = more;
      cap *= 2;
    }
  }
  *len = n;
  return buf;
}

int ts_explain_command(int argc, char **argv) {
  const char *config_path = NULL, *input = NULL, *only = NULL;
  if (argc < 2 || strcmp(argv[1], "explain") != 0) {
    usage(stderr);
    return 2;
  }
  for (int i = 2; i < argc; i++) {
    if ((!strcmp(argv[i], "--config") || !strcmp(argv[i], "-c")) && i + 1 < argc)
      config_path = argv[++i];
    else if (!strncmp(argv[i], "--config=", 9))
      config_path = argv[i] + 9;
    else if (!strcmp(argv[i], "--processor") && i + 1 < argc)
      only = argv[++i];
    else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      usage(stdout);
      return 0;
    } else if (!input && (argv[i][0] != '-' || !strcmp(argv[i], "-")))
      input = argv[i];
    else {
      fprintf(stderr, "tailgate sampling explain: unknown argument '%s'\n", argv[i]);
      usage(stderr);
      return 2;
    }
  }
  if (!config_path) {
    fprintf(stderr, "tailgate sampling explain: --config FILE is required\n");
    usage(stderr);
    return 2;
  }
  tg_diag diag;
  tg_diag_init(&diag);
  tg_config *config = tg_config_load_file(config_path, &diag);
  if (!config || tg_diag_failed(&diag)) {
    tg_diag_print(&diag, stderr);
    tg_diag_free(&diag);
    if (config)
      tg_config_free(config);
    return 1;
  }
  tg_diag_free(&diag);
  FILE *f = input && strcmp(input, "-") ? fopen(input, "rb") : stdin;
  size_t len = 0;
  uint8_t *data = f ? read_all(f, &len) : NULL;
  if (f && f != stdin)
    fclose(f);
  int code = 0;
  if (!data) {
    fprintf(stderr, "tailgate sampling explain: cannot read %s (missing, unreadable or over %zu MiB)\n",
            input && strcmp(input, "-") ? input : "stdin", TS_EXPLAIN_MAX_INPUT >> 20);
    tg_config_free(config);
    return 1;
  }
  tg_batch *batch = tg_batch_new(len + 4096, 0);
  char err[256] = "";
  int rc = batch ? ts_explain_parse(batch, data, len, err, sizeof err) : TG_ENOMEM;
  if (rc != TG_OK) {
    fprintf(stderr, "tailgate sampling explain: %s: %s\n", input ? input : "stdin",
            err[0] ? err : tg_err_name(rc));
    code = 1;
  }
  size_t explained = 0;
  for (size_t i = 0; i < config->n_components && rc == TG_OK; i++) {
    const tg_config_component *c = &config->components[i];
    if (c->kind != TG_PROCESSOR || !c->component || strcmp(c->component->type, "tail_sampling") ||
        (only && strcmp(c->id, only)) || !c->conf)
      continue;
    tg_buf out;
    tg_buf_init(&out, 0);
    tg_buf_appendf(&out, "processor %s\n", c->id);
    rc = ts_explain_run(c->conf, batch, (int64_t)(tg_clock_unix_nano() / 1000000000u), &out);
    fwrite(out.data, 1, out.len, stdout);
    tg_buf_free(&out);
    explained++;
  }
  if (rc == TG_OK && !explained) {
    fprintf(stderr, "tailgate sampling explain: %s has no tail_sampling processor%s%s\n",
            config_path, only ? " named " : "", only ? only : "");
    code = 1;
  } else if (rc != TG_OK && code == 0) {
    fprintf(stderr, "tailgate sampling explain: %s\n", tg_err_name(rc));
    code = 1;
  }
  tg_batch_free(batch);
  tg_free(data);
  tg_config_free(config);
  return code;
}
