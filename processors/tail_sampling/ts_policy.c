/* Policy evaluation (see ts_policy.h). Span-level predicates were already reduced to
 * leaf bits at ingest, so evaluating a trace touches no span: a decision costs a walk of
 * the policy tree, whatever the trace's size. */
#include "ts_policy.h"

#include <string.h>

#include "tg_alloc.h"
#include "ts_prob.h"

int ts_limiters_init(ts_limiters *l, int n) {
  l->n = 0;
  l->items = tg_calloc(n > 0 ? (size_t)n : 1, sizeof *l->items);
  if (!l->items)
    return -1;
  for (int i = 0; i < n; i++) {
    pthread_mutex_init(&l->items[i].lock, NULL);
    l->items[i].tokens = -1; /* full on first use */
  }
  l->n = n;
  return 0;
}

void ts_limiters_free(ts_limiters *l) {
  for (int i = 0; i < l->n; i++)
    pthread_mutex_destroy(&l->items[i].lock);
  tg_free(l->items);
  l->items = NULL;
  l->n = 0;
}

/* Token bucket: rate per second, burst (0: 2 x rate). Takes cost when it fits. */
static int bucket_take(ts_limiter *lim, int64_t rate, int64_t burst, uint64_t cost,
                       uint64_t now_ms, double *available) {
  double cap = (double)(burst > 0 ? burst : 2 * rate);
  pthread_mutex_lock(&lim->lock);
  if (lim->tokens < 0) {
    lim->tokens = cap;
  } else if (now_ms > lim->last_ms) {
    lim->tokens += (double)(now_ms - lim->last_ms) * (double)rate / 1000.0;
    if (lim->tokens > cap)
      lim->tokens = cap;
  }
  lim->last_ms = now_ms > lim->last_ms ? now_ms : lim->last_ms;
  *available = lim->tokens;
  int ok = (double)cost <= lim->tokens;
  if (ok)
    lim->tokens -= (double)cost;
  pthread_mutex_unlock(&lim->lock);
  return ok;
}

/* Composite share: spans counted per wall-clock second. */
static int second_take(ts_limiter *lim, int64_t allowed, int64_t max_total, int64_t spans,
                       int64_t now_s, int64_t *spent) {
  pthread_mutex_lock(&lim->lock);
  if (lim->second != now_s) {
    lim->second = now_s;
    lim->spent = 0;
  }
  *spent = lim->spent;
  int64_t after = lim->spent + spans;
  int ok = after <= allowed && after <= max_total;
  if (ok)
    lim->spent = after;
  pthread_mutex_unlock(&lim->lock);
  return ok;
}

typedef struct eval {
  const ts_trace *t;
  ts_limiters *lim;
  uint64_t now_ms;
  int64_t now_s;
  int prob_hit;           /* a probabilistic policy said Sampled */
  uint64_t prob_threshold;
  int other_hit;          /* another policy said Sampled */
  ts_explain *x;          /* notes, or NULL */
  int depth;
  int preview;            /* ts_policy_preview: limiters answer TS_VERDICT_PENDING */
} eval;

static int leaf_hit(const eval *e, const tg_ts_policy *p) {
  return p->leaf >= 0 && (e->t->leaf_mask >> p->leaf) & 1;
}

static int64_t duration_ms(const ts_trace *t) {
  if (t->min_start == UINT64_MAX || t->max_end < t->min_start)
    return 0;
  return (int64_t)((t->max_end - t->min_start) / 1000000);
}

static int evaluate(eval *e, const tg_ts_policy *p);

static int sampled(int verdict) { return verdict == TS_VERDICT_SAMPLED; }

static int evaluate_composite(eval *e, const tg_ts_policy *p, ts_note *note) {
  for (size_t k = 0; k < p->n_subs; k++) {
    size_t i = p->order ? p->order[k] : k;
    if (!sampled(evaluate(e, &p->subs[i])))
      continue;
    /* the first sampling sub-policy decides: within its share, or not at all */
    int64_t share = p->sub_allocation ? p->sub_allocation[i] : 0;
    note->sub = (int)i;
    note->share = share;
    note->value = e->t->span_count;
    if (p->rate_index < 0 || p->rate_index + (int)i >= e->lim->n)
      return TS_VERDICT_NOT_SAMPLED;
    int64_t spent = 0;
    int ok = second_take(&e->lim->items[p->rate_index + (int)i], share,
                         p->max_total_spans_per_second, e->t->span_count, e->now_s, &spent);
    note->available = (double)spent;
    note->limited = !ok;
    return ok ? TS_VERDICT_SAMPLED : TS_VERDICT_NOT_SAMPLED;
  }
  return TS_VERDICT_NOT_SAMPLED;
}

static int evaluate_inner(eval *e, const tg_ts_policy *p, ts_note *note);

/* Evaluates p, with a note when explaining (notes past TS_MAX_NOTES are counted lost;
 * the decision is the same either way). */
static int evaluate(eval *e, const tg_ts_policy *p) {
  ts_note scratch, *note = &scratch;
  if (!e->x) /* a live decision: the details are written to scratch and never read */
    return evaluate_inner(e, p, note);
  if (e->x->n < TS_MAX_NOTES)
    note = &e->x->notes[e->x->n++];
  else
    e->x->truncated = 1;
  *note = (ts_note){.policy = p, .depth = e->depth, .sub = -1};
  e->depth++;
  int v = evaluate_inner(e, p, note);
  e->depth--;
  note->verdict = v;
  return v;
}

static int evaluate_inner(eval *e, const tg_ts_policy *p, ts_note *note) {
  const ts_trace *t = e->t;
  int hit = 0;
  switch (p->type) {
  case TG_TS_ALWAYS_SAMPLE:
    hit = 1;
    break;
  case TG_TS_LATENCY: {
    int64_t d = duration_ms(t);
    note->value = d;
    hit = p->upper_threshold_ms == 0 ? d >= p->threshold_ms
                                     : d > p->threshold_ms && d <= p->upper_threshold_ms;
    break;
  }
  case TG_TS_NUMERIC_ATTRIBUTE:
  case TG_TS_STRING_ATTRIBUTE:
  case TG_TS_BOOLEAN_ATTRIBUTE:
    hit = leaf_hit(e, p) != (p->invert_match != 0);
    break;
  case TG_TS_STATUS_CODE:
  case TG_TS_TRACE_STATE:
  case TG_TS_TRACE_FLAGS:
    hit = leaf_hit(e, p);
    break;
  case TG_TS_PROBABILISTIC: {
    note->r = tg_ts_randomness(t->id, p->hash_salt);
    note->t = p->threshold;
    hit = note->r >= p->threshold;
    if (hit) {
      if (!e->prob_hit || p->threshold < e->prob_threshold)
        e->prob_threshold = p->threshold;
      e->prob_hit = 1;
    }
    return hit ? TS_VERDICT_SAMPLED : TS_VERDICT_NOT_SAMPLED;
  }
  case TG_TS_SPAN_COUNT:
    note->value = t->span_count;
    hit = t->span_count >= (uint64_t)p->min_spans &&
          (p->max_spans == 0 || t->span_count <= (uint64_t)p->max_spans);
    break;
  case TG_TS_RATE_LIMITING:
  case TG_TS_BYTES_LIMITING: {
    if (e->preview)
      return TS_VERDICT_PENDING;
    if (p->rate_index < 0 || p->rate_index >= e->lim->n)
      break;
    int spans = p->type == TG_TS_RATE_LIMITING;
    note->value = spans ? (int64_t)t->span_count : (int64_t)t->wire_bytes;
    hit = bucket_take(&e->lim->items[p->rate_index],
                      spans ? p->spans_per_second : p->bytes_per_second, p->burst_capacity,
                      spans ? t->span_count : t->wire_bytes, e->now_ms, &note->available);
    note->limited = !hit;
    break;
  }
  case TG_TS_AND:
  case TG_TS_DROP: {
    int pending = 0;
    hit = 1;
    for (size_t i = 0; i < p->n_subs && hit; i++) {
      int v = evaluate(e, &p->subs[i]);
      pending |= v == TS_VERDICT_PENDING; /* only in a preview */
      hit = sampled(v) || v == TS_VERDICT_PENDING;
    }
    if (hit && pending)
      return TS_VERDICT_PENDING;
    if (p->type == TG_TS_DROP)
      return hit ? TS_VERDICT_DROPPED : TS_VERDICT_NOT_SAMPLED;
    break;
  }
  case TG_TS_NOT: {
    int v = p->n_subs ? evaluate(e, &p->subs[0]) : TS_VERDICT_SAMPLED;
    if (v == TS_VERDICT_PENDING)
      return v;
    hit = !sampled(v);
    break;
  }
  case TG_TS_COMPOSITE:
    if (e->preview)
      return TS_VERDICT_PENDING;
    return evaluate_composite(e, p, note);
  }
  return hit ? TS_VERDICT_SAMPLED : TS_VERDICT_NOT_SAMPLED;
}

ts_decision ts_policy_decide(const tg_ts_conf *conf, const ts_trace *t, ts_limiters *limiters,
                             uint64_t now_ms, int64_t now_unix_s, uint8_t *verdicts) {
  return ts_policy_decide_explained(conf, t, limiters, now_ms, now_unix_s, verdicts, NULL);
}

ts_decision ts_policy_decide_explained(const tg_ts_conf *conf, const ts_trace *t,
                                       ts_limiters *limiters, uint64_t now_ms,
                                       int64_t now_unix_s, uint8_t *verdicts, ts_explain *x) {
  const tg_ts_policies *ps = &conf->policies;
  ts_decision d = {0};
  if (x) {
    x->n = 0;
    x->truncated = 0;
  }
  eval e = {.t = t, .lim = limiters, .now_ms = now_ms, .now_s = now_unix_s, .x = x};
  if (verdicts)
    memset(verdicts, TS_VERDICT_NOT_SAMPLED, ps->n);
  int dropped = 0, keep = 0;
  /* drop policies first, as the Collector orders them */
  for (size_t i = 0; i < ps->n && !dropped; i++) {
    if (ps->items[i].type != TG_TS_DROP)
      continue;
    int v = evaluate(&e, &ps->items[i]);
    if (verdicts)
      verdicts[i] = (uint8_t)v;
    dropped = v == TS_VERDICT_DROPPED;
  }
  for (size_t i = 0; i < ps->n && !dropped; i++) {
    const tg_ts_policy *p = &ps->items[i];
    if (p->type == TG_TS_DROP)
      continue;
    int v = evaluate(&e, p);
    if (verdicts)
      verdicts[i] = (uint8_t)v;
    if (sampled(v)) {
      keep = 1;
      e.other_hit |= p->type != TG_TS_PROBABILISTIC;
      if (conf->sample_on_first_match)
        break;
    }
  }
  /* an upstream debug flag keeps the trace whatever the policies said */
  d.keep = t->debug || (keep && !dropped);
  d.debug = t->debug && (!keep || dropped);
  d.by_probabilistic_only = d.keep && !t->debug && e.prob_hit && !e.other_hit;
  d.threshold = e.prob_threshold;
  return d;
}

void ts_policy_preview(const tg_ts_conf *conf, const ts_trace *t, uint8_t *verdicts) {
  eval e = {.t = t, .preview = 1};
  for (size_t i = 0; i < conf->policies.n; i++)
    verdicts[i] = (uint8_t)evaluate(&e, &conf->policies.items[i]);
}
