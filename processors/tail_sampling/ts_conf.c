/* tail_sampling configuration: the key table (the Collector's names and defaults) and
 * the parser of the `policies` list, a TG_KEY_CUSTOM field because the list is a tree of
 * typed policies that a flat key table cannot describe.
 *
 * The parser walks the YAML nodes itself so that every problem keeps its file:line:col:
 * unknown policy types, types we do not implement yet, unknown or mistyped keys, bad
 * bounds, regexes that do not compile. Regexes are compiled here (PCRE2), once, so a
 * bad pattern is a config error and the hot path only matches. The result is immutable
 * and may be read from several threads (see tg_ts_policy). */
#include "ts_conf.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <string.h>

#include "tg_alloc.h"
#include "tg_yaml.h"
#include "ts_prob.h"
#include "ts_verdict.h"

const tg_conf_key tg_ts_conf_keys[TG_TS_CONF_N_KEYS] = {
    TG_KEY_DURATION("decision_wait", tg_ts_conf, decision_wait_ms, "30s", 1, 86400000,
                    "time from a trace's first span to its sampling decision"),
    TG_KEY_INT("num_traces", tg_ts_conf, num_traces, "50000", 1, 100000000,
               "traces held at most; beyond it the oldest are decided early"),
    TG_KEY_INT("expected_new_traces_per_sec", tg_ts_conf, expected_new_traces_per_sec, "0", 0,
               100000000, "sizing hint for the trace table"),
    TG_KEY_INT("decision_cache.sampled_cache_size", tg_ts_conf, sampled_cache_size, "0", 0,
               100000000, "trace IDs remembered as kept, for late spans (0: no cache)"),
    TG_KEY_INT("decision_cache.non_sampled_cache_size", tg_ts_conf, non_sampled_cache_size,
               "0", 0, 100000000,
               "trace IDs remembered as dropped, for late spans (0: no cache)"),
    TG_KEY_BOOL("sample_on_first_match", tg_ts_conf, sample_on_first_match, "false",
                "stop evaluating policies at the first that samples"),
    TG_KEY_INT("max_memory_mib", tg_ts_conf, max_memory_mib, "256", 1, 1048576,
               "bytes of buffered spans at most; beyond it the oldest are decided early"),
    TG_KEY_INT("num_workers", tg_ts_conf, num_workers, "0", 0, 256,
               "worker threads, each owning a shard of the traces (0: one per core)"),
    TG_KEY_BOOL("drop_pending_traces_on_shutdown", tg_ts_conf, drop_pending_traces_on_shutdown,
                "false", "at shutdown drop undecided traces instead of deciding them"),
    TG_KEY_SIZE("maximum_trace_size_bytes", tg_ts_conf, maximum_trace_size_bytes, "0", 0,
                (int64_t)1 << 40, "a trace growing past this many OTLP bytes is dropped at once "
                "(0: no limit)"),
    TG_KEY_BOOL("decision_attributes", tg_ts_conf, decision_attributes, "false",
                "ours: every span of a kept trace carries tailgate.sampling.policies (the "
                "top-level policies that voted to keep it) and tailgate.sampling.trigger"),
    TG_KEY_CUSTOM("policies", tg_ts_conf, policies, tg_ts_policies_parse, tg_ts_policies_free,
                  "sampling policies: a list of {name, type, <type>: {...}}"),
};

void tg_ts_conf_check(const void *conf, const tg_yaml_node *node, const char *what,
                      tg_diag *diag) {
  const tg_ts_conf *c = conf;
  const tg_yaml_node *list = node && node->kind == TG_YAML_MAP ? tg_yaml_get(node, "policies") : NULL;
  if (c->policies.n == 0 && (!list || list->kind != TG_YAML_SEQ || list->n == 0))
    tg_diag_add(diag, node ? &node->pos : NULL, "%s: policies: at least one policy is required",
                what);
  if (c->decision_attributes && c->policies.n > TS_VERDICT_MAX_POLICIES) {
    const tg_yaml_node *at = node && node->kind == TG_YAML_MAP ? tg_yaml_get(node, "decision_attributes") : NULL;
    tg_diag_add(diag, at ? &at->pos : node ? &node->pos : NULL,
                "%s: decision_attributes: at most %d top-level policies can be named (there are %zu)",
                what, TS_VERDICT_MAX_POLICIES, c->policies.n);
  }
}

/* ---- the policies parser ------------------------------------------------------------ */

typedef struct parser {
  tg_diag *diag;
  tg_ts_policies *out;
} parser;

static const char *const supported_types[] = {
    [TG_TS_ALWAYS_SAMPLE] = "always_sample",   [TG_TS_LATENCY] = "latency",
    [TG_TS_NUMERIC_ATTRIBUTE] = "numeric_attribute", [TG_TS_PROBABILISTIC] = "probabilistic",
    [TG_TS_STATUS_CODE] = "status_code",       [TG_TS_STRING_ATTRIBUTE] = "string_attribute",
    [TG_TS_BOOLEAN_ATTRIBUTE] = "boolean_attribute", [TG_TS_TRACE_STATE] = "trace_state",
    [TG_TS_SPAN_COUNT] = "span_count",         [TG_TS_AND] = "and",
    [TG_TS_NOT] = "not",                       [TG_TS_DROP] = "drop",
    [TG_TS_RATE_LIMITING] = "rate_limiting",   [TG_TS_TRACE_FLAGS] = "trace_flags",
    [TG_TS_BYTES_LIMITING] = "bytes_limiting", [TG_TS_COMPOSITE] = "composite",
};
#define N_TYPES (sizeof supported_types / sizeof supported_types[0])
static const char *const unsupported_types[] = {"ottl_condition"};
#define VALID_TYPES                                                                       \
  "always_sample, latency, numeric_attribute, probabilistic, status_code, "               \
  "string_attribute, boolean_attribute, trace_state, span_count, and, not, drop, "         \
  "rate_limiting, trace_flags, bytes_limiting, composite"

static void report(parser *p, const tg_yaml_node *at, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void report(parser *p, const tg_yaml_node *at, const char *path, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  tg_diag_add(p->diag, at ? &at->pos : NULL, "tail_sampling: %s: %s", path, msg);
}

static int scalar(parser *p, const tg_yaml_node *v, const char *path, const char *key) {
  if (v->kind == TG_YAML_SCALAR)
    return 1;
  report(p, v, path, "%s: expected a scalar, got %s", key, tg_yaml_kind_name(v->kind));
  return 0;
}

static void get_int(parser *p, const tg_yaml_node *v, const char *path, const char *key,
                    int64_t lo, int64_t hi, int64_t *out) {
  int64_t x;
  if (!scalar(p, v, path, key))
    return;
  if (tg_conf_parse_int(v->scalar, &x) != 0)
    report(p, v, path, "%s: \"%s\" is not an integer", key, v->scalar);
  else if (x < lo || x > hi)
    report(p, v, path, "%s: %lld is out of range [%lld, %lld]", key, (long long)x,
           (long long)lo, (long long)hi);
  else
    *out = x;
}

static void get_bool(parser *p, const tg_yaml_node *v, const char *path, const char *key,
                     int *out) {
  _Bool b;
  if (!scalar(p, v, path, key))
    return;
  if (tg_conf_parse_bool(v->scalar, &b) != 0)
    report(p, v, path, "%s: \"%s\" is not true or false", key, v->scalar);
  else
    *out = b;
}

static void get_string(parser *p, const tg_yaml_node *v, const char *path, const char *key,
                       char **out) {
  if (!scalar(p, v, path, key))
    return;
  tg_free(*out);
  *out = tg_strdup(v->scalar);
  if (!*out)
    report(p, v, path, "%s: out of memory", key);
}

/* A sequence of scalars into a NULL-terminated-free array of owned strings. */
static void get_strings(parser *p, const tg_yaml_node *v, const char *path, const char *key,
                        char ***out, size_t *n_out) {
  if (v->kind != TG_YAML_SEQ) {
    report(p, v, path, "%s: expected a sequence of strings, got %s", key,
           tg_yaml_kind_name(v->kind));
    return;
  }
  char **items = tg_calloc(v->n ? v->n : 1, sizeof *items);
  if (!items) {
    report(p, v, path, "%s: out of memory", key);
    return;
  }
  size_t n = 0;
  for (size_t i = 0; i < v->n; i++) {
    if (!scalar(p, v->items[i], path, key))
      continue;
    if (!(items[n++] = tg_strdup(v->items[i]->scalar)))
      report(p, v->items[i], path, "%s: out of memory", key);
  }
  *out = items;
  *n_out = n;
}

static void unknown_key(parser *p, const tg_yaml_pair *pair, const char *path,
                        const char *valid) {
  report(p, pair->key, path, "unknown key \"%s\" (valid keys: %s)", pair->key->scalar, valid);
}

static void parse_policy(parser *p, const tg_yaml_node *node, const char *path, int depth,
                         tg_ts_policy *pol);

/* A list of sub-policies (and_sub_policy, drop_sub_policy). */
static void parse_sub_list(parser *p, const tg_yaml_node *v, const char *path,
                           const char *key, int depth, tg_ts_policy *pol) {
  if (v->kind != TG_YAML_SEQ || v->n == 0) {
    report(p, v, path, "%s: expected a non-empty list of policies", key);
    return;
  }
  pol->subs = tg_calloc(v->n, sizeof *pol->subs);
  if (!pol->subs) {
    report(p, v, path, "%s: out of memory", key);
    return;
  }
  for (size_t i = 0; i < v->n; i++) {
    char sub[256];
    snprintf(sub, sizeof sub, "%s.%s[%zu]", path, key, i);
    parse_policy(p, v->items[i], sub, depth + 1, &pol->subs[pol->n_subs++]);
  }
}

static void compile_regexes(parser *p, const tg_yaml_node *at, const char *path,
                            tg_ts_policy *pol) {
  pol->regexes = tg_calloc(pol->n_values ? pol->n_values : 1, sizeof *pol->regexes);
  if (!pol->regexes) {
    report(p, at, path, "values: out of memory");
    return;
  }
  for (size_t i = 0; i < pol->n_values; i++) {
    int code;
    PCRE2_SIZE offset;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pol->values[i], PCRE2_ZERO_TERMINATED,
                                   PCRE2_UTF, &code, &offset, NULL);
    if (!re) {
      PCRE2_UCHAR msg[160];
      pcre2_get_error_message(code, msg, sizeof msg);
      const tg_yaml_node *item = at && at->kind == TG_YAML_SEQ && i < at->n ? at->items[i] : at;
      report(p, item, path, "values: regex \"%s\" does not compile at offset %zu: %s",
             pol->values[i], (size_t)offset, (const char *)msg);
      continue;
    }
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* best effort: falls back to the interpreter */
    pol->regexes[i] = re;
  }
}

static long sub_index(const tg_ts_policy *pol, const char *name) {
  for (size_t i = 0; i < pol->n_subs; i++)
    if (pol->subs[i].name && !strcmp(pol->subs[i].name, name))
      return (long)i;
  return -1;
}

/* policy_order and rate_allocation of a composite, after its sub-policies were parsed:
 * every name must be one of the sub-policies. A sub-policy without an allocation gets no
 * budget (it never samples), as in the Collector; percent <= 0 means an equal share. */
static void parse_composite_shares(parser *p, const tg_yaml_node *order_node,
                                   const tg_yaml_node *alloc_node, const char *path,
                                   tg_ts_policy *pol) {
  pol->order = tg_calloc(pol->n_subs, sizeof *pol->order);
  pol->sub_allocation = tg_calloc(pol->n_subs, sizeof *pol->sub_allocation);
  if (!pol->order || !pol->sub_allocation) {
    report(p, NULL, path, "composite: out of memory");
    return;
  }
  size_t n = 0;
  if (order_node && order_node->kind == TG_YAML_SEQ) {
    for (size_t i = 0; i < order_node->n && n < pol->n_subs; i++) {
      const tg_yaml_node *item = order_node->items[i];
      if (!scalar(p, item, path, "policy_order"))
        continue;
      long idx = sub_index(pol, item->scalar);
      if (idx < 0) {
        report(p, item, path, "policy_order: \"%s\" is not a composite_sub_policy name",
               item->scalar);
        continue;
      }
      int dup = 0;
      for (size_t j = 0; j < n; j++)
        dup |= pol->order[j] == (size_t)idx;
      if (!dup)
        pol->order[n++] = (size_t)idx;
    }
  } else if (order_node) {
    report(p, order_node, path, "policy_order: expected a list of sub-policy names");
  }
  for (size_t i = 0; i < pol->n_subs; i++) { /* the rest in list order */
    int listed = 0;
    for (size_t j = 0; j < n; j++)
      listed |= pol->order[j] == i;
    if (!listed)
      pol->order[n++] = i;
  }
  if (!alloc_node)
    return;
  if (alloc_node->kind != TG_YAML_SEQ) {
    report(p, alloc_node, path, "rate_allocation: expected a list of {policy, percent}");
    return;
  }
  int64_t total = 0;
  for (size_t i = 0; i < alloc_node->n; i++) {
    const tg_yaml_node *item = alloc_node->items[i];
    const tg_yaml_node *name = item->kind == TG_YAML_MAP ? tg_yaml_get(item, "policy") : NULL;
    const tg_yaml_node *pct = item->kind == TG_YAML_MAP ? tg_yaml_get(item, "percent") : NULL;
    if (!name || !pct || name->kind != TG_YAML_SCALAR) {
      report(p, item, path, "rate_allocation[%zu]: expected {policy: <name>, percent: <0-100>}",
             i);
      continue;
    }
    for (size_t j = 0; j < item->n; j++)
      if (strcmp(item->pairs[j].key->scalar, "policy") && strcmp(item->pairs[j].key->scalar, "percent"))
        unknown_key(p, &item->pairs[j], path, "policy, percent");
    int64_t percent = -1;
    get_int(p, pct, path, "percent", 0, 100, &percent);
    long idx = sub_index(pol, name->scalar);
    if (idx < 0) {
      report(p, name, path, "rate_allocation: \"%s\" is not a composite_sub_policy name",
             name->scalar);
      continue;
    }
    if (percent < 0)
      continue;
    total += percent;
    pol->sub_allocation[idx] = percent == 0
                                   ? pol->max_total_spans_per_second / (int64_t)pol->n_subs
                                   : pol->max_total_spans_per_second * percent / 100;
  }
  if (total > 100)
    report(p, alloc_node, path, "rate_allocation: percentages add up to %lld, more than 100",
           (long long)total);
}

static void parse_settings(parser *p, const tg_yaml_node *set, const tg_yaml_node *type_key,
                           const char *path, int depth, tg_ts_policy *pol) {
  static const char *const valid[N_TYPES] = {
      [TG_TS_ALWAYS_SAMPLE] = "(none)",
      [TG_TS_LATENCY] = "threshold_ms, upper_threshold_ms",
      [TG_TS_NUMERIC_ATTRIBUTE] = "key, min_value, max_value, invert_match",
      [TG_TS_PROBABILISTIC] = "sampling_percentage, hash_salt",
      [TG_TS_STATUS_CODE] = "status_codes",
      [TG_TS_STRING_ATTRIBUTE] =
          "key, values, enabled_regex_matching, cache_max_size, invert_match",
      [TG_TS_BOOLEAN_ATTRIBUTE] = "key, value, invert_match",
      [TG_TS_TRACE_STATE] = "key, values",
      [TG_TS_SPAN_COUNT] = "min_spans, max_spans",
      [TG_TS_AND] = "and_sub_policy",
      [TG_TS_NOT] = "not_sub_policy",
      [TG_TS_DROP] = "drop_sub_policy",
      [TG_TS_RATE_LIMITING] = "spans_per_second, burst_capacity",
      [TG_TS_TRACE_FLAGS] = "(none)",
      [TG_TS_BYTES_LIMITING] = "bytes_per_second, burst_capacity",
      [TG_TS_COMPOSITE] =
          "max_total_spans_per_second, policy_order, composite_sub_policy, rate_allocation",
  };
  const tg_yaml_node *order_node = NULL, *alloc_node = NULL;
  int regex = 0, have_key = 0, have_values = 0, have_value = 0, have_rate = 0, have_pct = 0;
  int have_sub = 0, have_threshold = 0;
  const tg_yaml_node *values_node = NULL;
  if (set && set->kind != TG_YAML_MAP && set->kind != TG_YAML_NULL) {
    report(p, set, path, "%s: expected a mapping, got %s", supported_types[pol->type],
           tg_yaml_kind_name(set->kind));
    return;
  }
  for (size_t i = 0; set && set->kind == TG_YAML_MAP && i < set->n; i++) {
    const tg_yaml_pair *pair = &set->pairs[i];
    const char *k = pair->key->scalar;
    const tg_yaml_node *v = pair->value;
    int known = 1;
    switch (pol->type) {
    case TG_TS_LATENCY:
      if (!strcmp(k, "threshold_ms")) {
        get_int(p, v, path, k, 0, INT64_MAX / 1000000, &pol->threshold_ms);
        have_threshold = 1;
      } else if (!strcmp(k, "upper_threshold_ms"))
        get_int(p, v, path, k, 0, INT64_MAX / 1000000, &pol->upper_threshold_ms);
      else
        known = 0;
      break;
    case TG_TS_NUMERIC_ATTRIBUTE:
      if (!strcmp(k, "key")) {
        get_string(p, v, path, k, &pol->key);
        have_key = 1;
      } else if (!strcmp(k, "min_value")) {
        get_int(p, v, path, k, INT64_MIN, INT64_MAX, &pol->min_value);
        pol->has_min = 1;
      } else if (!strcmp(k, "max_value")) {
        get_int(p, v, path, k, INT64_MIN, INT64_MAX, &pol->max_value);
        pol->has_max = 1;
      } else if (!strcmp(k, "invert_match"))
        get_bool(p, v, path, k, &pol->invert_match);
      else
        known = 0;
      break;
    case TG_TS_PROBABILISTIC:
      if (!strcmp(k, "sampling_percentage")) {
        double d;
        have_pct = 1;
        if (!scalar(p, v, path, k))
          break;
        if (tg_conf_parse_double(v->scalar, &d) != 0)
          report(p, v, path, "%s: \"%s\" is not a number", k, v->scalar);
        else if (d < 0 || d > 100)
          report(p, v, path, "%s: %g is out of range [0, 100]", k, d);
        else
          pol->sampling_percentage = d;
      } else if (!strcmp(k, "hash_salt"))
        get_string(p, v, path, k, &pol->hash_salt);
      else
        known = 0;
      break;
    case TG_TS_STATUS_CODE:
      if (!strcmp(k, "status_codes")) {
        have_values = 1;
        if (v->kind != TG_YAML_SEQ || v->n == 0) {
          report(p, v, path, "%s: expected a non-empty list of ERROR, OK, UNSET", k);
          break;
        }
        for (size_t j = 0; j < v->n; j++) {
          const tg_yaml_node *item = v->items[j];
          if (!scalar(p, item, path, k))
            continue;
          if (!strcmp(item->scalar, "ERROR"))
            pol->status_mask |= TG_TS_STATUS_ERROR;
          else if (!strcmp(item->scalar, "OK"))
            pol->status_mask |= TG_TS_STATUS_OK;
          else if (!strcmp(item->scalar, "UNSET"))
            pol->status_mask |= TG_TS_STATUS_UNSET;
          else
            report(p, item, path, "%s: \"%s\" is not one of: ERROR, OK, UNSET", k, item->scalar);
        }
      } else
        known = 0;
      break;
    case TG_TS_STRING_ATTRIBUTE:
    case TG_TS_TRACE_STATE:
      if (!strcmp(k, "key")) {
        get_string(p, v, path, k, &pol->key);
        have_key = 1;
      } else if (!strcmp(k, "values")) {
        get_strings(p, v, path, k, &pol->values, &pol->n_values);
        values_node = v;
        have_values = 1;
      } else if (pol->type == TG_TS_STRING_ATTRIBUTE && !strcmp(k, "enabled_regex_matching"))
        get_bool(p, v, path, k, &regex);
      else if (pol->type == TG_TS_STRING_ATTRIBUTE && !strcmp(k, "invert_match"))
        get_bool(p, v, path, k, &pol->invert_match);
      else if (pol->type == TG_TS_STRING_ATTRIBUTE && !strcmp(k, "cache_max_size")) {
        int64_t ignored = 0; /* the Collector's regex result cache; PCRE2 JIT needs none */
        get_int(p, v, path, k, 0, INT64_MAX, &ignored);
      } else
        known = 0;
      break;
    case TG_TS_BOOLEAN_ATTRIBUTE:
      if (!strcmp(k, "key")) {
        get_string(p, v, path, k, &pol->key);
        have_key = 1;
      } else if (!strcmp(k, "value")) {
        get_bool(p, v, path, k, &pol->bool_value);
        have_value = 1;
      } else if (!strcmp(k, "invert_match"))
        get_bool(p, v, path, k, &pol->invert_match);
      else
        known = 0;
      break;
    case TG_TS_SPAN_COUNT:
      if (!strcmp(k, "min_spans"))
        get_int(p, v, path, k, 0, INT32_MAX, &pol->min_spans);
      else if (!strcmp(k, "max_spans"))
        get_int(p, v, path, k, 0, INT32_MAX, &pol->max_spans);
      else
        known = 0;
      break;
    case TG_TS_RATE_LIMITING:
    case TG_TS_BYTES_LIMITING: {
      const char *rate_key =
          pol->type == TG_TS_RATE_LIMITING ? "spans_per_second" : "bytes_per_second";
      if (!strcmp(k, rate_key)) {
        get_int(p, v, path, k, 1, INT64_MAX / 4, pol->type == TG_TS_RATE_LIMITING
                                                     ? &pol->spans_per_second
                                                     : &pol->bytes_per_second);
        have_rate = 1;
      } else if (!strcmp(k, "burst_capacity"))
        get_int(p, v, path, k, 0, INT64_MAX / 4, &pol->burst_capacity);
      else
        known = 0;
      break;
    }
    case TG_TS_COMPOSITE:
      if (!strcmp(k, "max_total_spans_per_second")) {
        get_int(p, v, path, k, 1, INT64_MAX / 4, &pol->max_total_spans_per_second);
        have_rate = 1;
      } else if (!strcmp(k, "composite_sub_policy")) {
        parse_sub_list(p, v, path, k, depth, pol);
        have_sub = 1;
      } else if (!strcmp(k, "policy_order"))
        order_node = v;
      else if (!strcmp(k, "rate_allocation"))
        alloc_node = v;
      else
        known = 0;
      break;
    case TG_TS_AND:
    case TG_TS_DROP: {
      const char *want = pol->type == TG_TS_AND ? "and_sub_policy" : "drop_sub_policy";
      if (!strcmp(k, want)) {
        parse_sub_list(p, v, path, k, depth, pol);
        have_sub = 1;
      } else
        known = 0;
      break;
    }
    case TG_TS_NOT:
      if (!strcmp(k, "not_sub_policy")) {
        have_sub = 1;
        pol->subs = tg_calloc(1, sizeof *pol->subs);
        if (!pol->subs) {
          report(p, v, path, "%s: out of memory", k);
          break;
        }
        char sub[256];
        snprintf(sub, sizeof sub, "%s.%s", path, k);
        pol->n_subs = 1;
        parse_policy(p, v, sub, depth + 1, &pol->subs[0]);
      } else
        known = 0;
      break;
    case TG_TS_ALWAYS_SAMPLE:
    case TG_TS_TRACE_FLAGS:
      known = 0;
      break;
    }
    if (!known)
      unknown_key(p, pair, path, valid[pol->type]);
  }
  const tg_yaml_node *at = set ? set : type_key;
  const char *tn = supported_types[pol->type];
  if ((pol->type == TG_TS_NUMERIC_ATTRIBUTE || pol->type == TG_TS_STRING_ATTRIBUTE ||
       pol->type == TG_TS_BOOLEAN_ATTRIBUTE || pol->type == TG_TS_TRACE_STATE) &&
      !have_key)
    report(p, at, path, "%s: key is required", tn);
  if ((pol->type == TG_TS_STRING_ATTRIBUTE || pol->type == TG_TS_TRACE_STATE ||
       pol->type == TG_TS_STATUS_CODE) && !have_values)
    report(p, at, path, "%s: %s is required", tn,
           pol->type == TG_TS_STATUS_CODE ? "status_codes" : "values");
  if (pol->type == TG_TS_BOOLEAN_ATTRIBUTE && !have_value)
    report(p, at, path, "%s: value is required", tn);
  if (pol->type == TG_TS_RATE_LIMITING && !have_rate)
    report(p, at, path, "%s: spans_per_second is required", tn);
  if (pol->type == TG_TS_BYTES_LIMITING && !have_rate)
    report(p, at, path, "%s: bytes_per_second is required", tn);
  if (pol->type == TG_TS_COMPOSITE && !have_rate)
    report(p, at, path, "%s: max_total_spans_per_second is required", tn);
  if (pol->type == TG_TS_COMPOSITE && have_sub && pol->n_subs)
    parse_composite_shares(p, order_node, alloc_node, path, pol);
  if (pol->type == TG_TS_TRACE_FLAGS)
    pol->flags_mask = 1; /* W3C sampled */
  if (pol->type == TG_TS_PROBABILISTIC && !have_pct)
    report(p, at, path, "%s: sampling_percentage is required", tn);
  if (pol->type == TG_TS_LATENCY && !have_threshold && !pol->upper_threshold_ms)
    report(p, at, path, "%s: threshold_ms or upper_threshold_ms is required", tn);
  if (pol->type == TG_TS_LATENCY && pol->upper_threshold_ms &&
      pol->upper_threshold_ms < pol->threshold_ms)
    report(p, at, path, "%s: upper_threshold_ms (%lld) must be at least threshold_ms (%lld)",
           tn, (long long)pol->upper_threshold_ms, (long long)pol->threshold_ms);
  if (pol->type == TG_TS_NUMERIC_ATTRIBUTE && !pol->has_min && !pol->has_max)
    report(p, at, path, "%s: min_value or max_value is required", tn);
  if (pol->type == TG_TS_NUMERIC_ATTRIBUTE && pol->has_min && pol->has_max &&
      pol->max_value < pol->min_value)
    report(p, at, path, "%s: max_value (%lld) must be at least min_value (%lld)", tn,
           (long long)pol->max_value, (long long)pol->min_value);
  if (pol->type == TG_TS_SPAN_COUNT && pol->max_spans && pol->max_spans < pol->min_spans)
    report(p, at, path, "%s: max_spans (%lld) must be 0 or at least min_spans (%lld)", tn,
           (long long)pol->max_spans, (long long)pol->min_spans);
  if ((pol->type == TG_TS_AND || pol->type == TG_TS_NOT || pol->type == TG_TS_DROP ||
       pol->type == TG_TS_COMPOSITE) &&
      !have_sub)
    report(p, at, path, "%s: %s is required", tn, valid[pol->type]);
  if (regex && pol->n_values)
    compile_regexes(p, values_node, path, pol);
  if (pol->type == TG_TS_PROBABILISTIC)
    pol->threshold = tg_ts_threshold(pol->sampling_percentage, 4);
}

static void parse_policy(parser *p, const tg_yaml_node *node, const char *path, int depth,
                         tg_ts_policy *pol) {
  pol->leaf = -1;
  pol->rate_index = -1;
  pol->type = TG_TS_ALWAYS_SAMPLE;
  pol->pos = node->pos;
  if (depth > TG_TS_MAX_DEPTH) {
    report(p, node, path, "policies nest deeper than %d levels", TG_TS_MAX_DEPTH);
    return;
  }
  if (node->kind != TG_YAML_MAP) {
    report(p, node, path, "expected a mapping {name, type, ...}, got %s",
           tg_yaml_kind_name(node->kind));
    return;
  }
  const tg_yaml_pair *type_pair = tg_yaml_get_pair(node, "type");
  const tg_yaml_node *name = tg_yaml_get(node, "name");
  if (name && scalar(p, name, path, "name"))
    pol->name = tg_strdup(name->scalar);
  else if (!name)
    report(p, node, path, "name is required");
  if (!type_pair) {
    report(p, node, path, "type is required (one of: " VALID_TYPES ")");
    return;
  }
  const tg_yaml_node *tv = type_pair->value;
  if (!scalar(p, tv, path, "type"))
    return;
  size_t t = 0;
  while (t < N_TYPES && strcmp(supported_types[t], tv->scalar))
    t++;
  if (t == N_TYPES) {
    size_t u = 0;
    while (u < sizeof unsupported_types / sizeof *unsupported_types &&
           strcmp(unsupported_types[u], tv->scalar))
      u++;
    if (u < sizeof unsupported_types / sizeof *unsupported_types)
      report(p, tv, path, "policy type %s is not supported yet", tv->scalar);
    else
      report(p, tv, path, "unknown policy type \"%s\" (valid types: " VALID_TYPES ")",
             tv->scalar);
    return;
  }
  pol->type = (tg_ts_policy_type)t;
  const tg_yaml_node *settings = NULL;
  for (size_t i = 0; i < node->n; i++) {
    const tg_yaml_pair *pair = &node->pairs[i];
    const char *k = pair->key->scalar;
    if (!strcmp(k, "name") || !strcmp(k, "type"))
      continue;
    if (!strcmp(k, supported_types[t]) && pol->type != TG_TS_ALWAYS_SAMPLE) {
      settings = pair->value;
      continue;
    }
    char valid[96];
    snprintf(valid, sizeof valid, "name, type%s%s",
             pol->type == TG_TS_ALWAYS_SAMPLE ? "" : ", ",
             pol->type == TG_TS_ALWAYS_SAMPLE ? "" : supported_types[t]);
    unknown_key(p, pair, path, valid);
  }
  parse_settings(p, settings, tv, path, depth, pol);
  switch (pol->type) {
  case TG_TS_NUMERIC_ATTRIBUTE:
  case TG_TS_STRING_ATTRIBUTE:
  case TG_TS_BOOLEAN_ATTRIBUTE:
  case TG_TS_TRACE_STATE:
  case TG_TS_STATUS_CODE:
  case TG_TS_TRACE_FLAGS:
    if (p->out->n_leaves >= TG_TS_MAX_LEAVES)
      report(p, node, path, "more than %d attribute, status and trace_state policies",
             TG_TS_MAX_LEAVES);
    else
      pol->leaf = p->out->n_leaves++;
    break;
  case TG_TS_RATE_LIMITING:
  case TG_TS_BYTES_LIMITING:
    pol->rate_index = p->out->n_rates++;
    break;
  case TG_TS_COMPOSITE:
    pol->rate_index = p->out->n_rates;
    p->out->n_rates += (int)pol->n_subs;
    break;
  default:
    break;
  }
}

void tg_ts_policies_parse(const tg_yaml_node *node, void *field, tg_diag *diag) {
  tg_ts_policies *out = field;
  parser p = {diag, out};
  if (node->kind == TG_YAML_NULL)
    return;
  if (node->kind != TG_YAML_SEQ) {
    report(&p, node, "policies", "expected a list of policies, got %s",
           tg_yaml_kind_name(node->kind));
    return;
  }
  if (node->n == 0)
    return;
  out->items = tg_calloc(node->n, sizeof *out->items);
  if (!out->items) {
    report(&p, node, "policies", "out of memory");
    return;
  }
  for (size_t i = 0; i < node->n; i++) {
    char path[64];
    snprintf(path, sizeof path, "policies[%zu]", i);
    parse_policy(&p, node->items[i], path, 1, &out->items[out->n++]);
  }
}

static void free_policy(tg_ts_policy *pol) {
  tg_free(pol->name);
  tg_free(pol->key);
  tg_free(pol->hash_salt);
  for (size_t i = 0; i < pol->n_values; i++) {
    tg_free(pol->values[i]);
    if (pol->regexes)
      pcre2_code_free(pol->regexes[i]);
  }
  tg_free(pol->values);
  tg_free(pol->regexes);
  tg_free(pol->order);
  tg_free(pol->sub_allocation);
  for (size_t i = 0; i < pol->n_subs; i++)
    free_policy(&pol->subs[i]);
  tg_free(pol->subs);
}

void tg_ts_policies_free(void *field) {
  tg_ts_policies *ps = field;
  for (size_t i = 0; i < ps->n; i++)
    free_policy(&ps->items[i]);
  tg_free(ps->items);
  memset(ps, 0, sizeof *ps);
}
