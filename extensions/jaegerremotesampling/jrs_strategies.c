/* Strategies file → resolved, pre-encoded answers (see jrs_strategies.h for the rules).
 *
 * Two passes: `read_*` walk the positioned JSON tree and report every problem they find
 * (a user fixes the file in one go), borrowing strings from the tree; only when nothing
 * was wrong does `resolve` build the owned model with Jaeger's merge rules and encode
 * each answer once. Lookups afterwards are a binary search over the sorted services. */
#include "jrs_strategies.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jrs_json.h"
#include "tg_alloc.h"
#include "tg_error.h"

typedef enum level { LEVEL_DEFAULT, LEVEL_SERVICE, LEVEL_OPERATION } level;

typedef struct raw_op {
  const char *name;
  double rate;
} raw_op;

typedef struct raw_strategy {
  const char *service;      /* LEVEL_SERVICE */
  size_t service_len;
  tg_jrs_type type;
  double param;
  raw_op *ops;              /* LEVEL_DEFAULT / LEVEL_SERVICE */
  size_t n_ops;
} raw_strategy;

typedef struct reader {
  const char *file;
  tg_diag *diag;
  size_t before;
} reader;

__attribute__((format(printf, 3, 4))) static void problem(reader *r, const jrs_json *at,
                                                          const char *fmt, ...) {
  tg_yaml_pos pos = {r->file, at ? at->line : 0, at ? at->col : 0};
  va_list ap;
  va_start(ap, fmt);
  tg_diag_addv(r->diag, &pos, fmt, ap);
  va_end(ap);
}

static int failed(const reader *r) { return tg_diag_count(r->diag) != r->before; }

/* Reports every key of obj not in allowed (NULL-terminated), listing the valid ones. */
static void check_keys(reader *r, const jrs_json *obj, const char *what,
                       const char *const *allowed) {
  for (size_t i = 0; i < obj->len; i++) {
    int known = 0;
    for (const char *const *a = allowed; *a; a++)
      known |= !strcmp(obj->keys[i]->str, *a);
    if (known)
      continue;
    char list[200] = "";
    size_t used = 0;
    for (const char *const *a = allowed; *a; a++) {
      int n = snprintf(list + used, sizeof list - used, "%s%s", used ? ", " : "", *a);
      if (n > 0 && (size_t)n < sizeof list - used)
        used += (size_t)n;
    }
    problem(r, obj->keys[i], "%s: unknown key \"%.100s\" (valid keys: %s)", what,
            obj->keys[i]->str, list);
  }
}

static const char *const default_keys[] = {"type", "param", "operation_strategies", NULL};
static const char *const service_keys[] = {"service", "type", "param",
                                           "operation_strategies", NULL};
static const char *const operation_keys[] = {"operation", "type", "param", NULL};
static const char *const top_keys[] = {"default_strategy", "service_strategies", NULL};

static int read_strategy(reader *r, const jrs_json *node, level lv, const char *what,
                         raw_strategy *out);

static void read_operations(reader *r, const jrs_json *arr, const char *what,
                            raw_strategy *out) {
  if (arr->kind != JRS_JSON_ARRAY) {
    problem(r, arr, "%s: operation_strategies: expected an array, got %s", what,
            jrs_json_kind_name(arr->kind));
    return;
  }
  if (!arr->len)
    return;
  if (!(out->ops = tg_calloc(arr->len, sizeof *out->ops))) {
    problem(r, arr, "out of memory");
    return;
  }
  for (size_t i = 0; i < arr->len; i++) {
    char opwhat[160];
    snprintf(opwhat, sizeof opwhat, "%s: operation_strategies[%zu]", what, i);
    raw_strategy op = {0};
    if (read_strategy(r, arr->items[i], LEVEL_OPERATION, opwhat, &op) != 0)
      continue;
    const char *name = jrs_json_get(arr->items[i], "operation")->str;
    int dup = 0;
    for (size_t k = 0; k < out->n_ops && !dup; k++)
      dup = !strcmp(out->ops[k].name, name);
    if (dup) {
      problem(r, jrs_json_get(arr->items[i], "operation"),
              "%s: operation \"%.100s\" is listed twice", opwhat, name);
      continue;
    }
    out->ops[out->n_ops++] = (raw_op){name, op.param};
  }
}

/* 0 when node is a valid strategy of level lv (out filled), -1 otherwise (reported). */
static int read_strategy(reader *r, const jrs_json *node, level lv, const char *what,
                         raw_strategy *out) {
  size_t before = tg_diag_count(r->diag);
  if (node->kind != JRS_JSON_OBJECT) {
    problem(r, node, "%s: expected an object, got %s", what, jrs_json_kind_name(node->kind));
    return -1;
  }
  check_keys(r, node, what,
             lv == LEVEL_DEFAULT ? default_keys : lv == LEVEL_SERVICE ? service_keys
                                                                      : operation_keys);
  if (lv != LEVEL_DEFAULT) {
    const char *key = lv == LEVEL_SERVICE ? "service" : "operation";
    const jrs_json *name = jrs_json_get(node, key);
    if (!name)
      problem(r, node, "%s: missing \"%s\"", what, key);
    else if (name->kind != JRS_JSON_STRING)
      problem(r, name, "%s: %s: expected a string, got %s", what, key,
              jrs_json_kind_name(name->kind));
    else if (lv == LEVEL_SERVICE && (!name->len || name->len > TG_JRS_MAX_SERVICE_LEN))
      problem(r, name, "%s: service: must be 1 to %d bytes long", what,
              TG_JRS_MAX_SERVICE_LEN);
    else if (lv == LEVEL_SERVICE) {
      out->service = name->str;
      out->service_len = name->len;
    }
  }
  const jrs_json *type = jrs_json_get(node, "type");
  const jrs_json *param = jrs_json_get(node, "param");
  int type_ok = 0;
  if (!type) {
    problem(r, node, "%s: missing \"type\" (probabilistic or ratelimiting)", what);
  } else if (type->kind != JRS_JSON_STRING ||
             (strcmp(type->str, "probabilistic") && strcmp(type->str, "ratelimiting"))) {
    problem(r, type, "%s: type: expected \"probabilistic\" or \"ratelimiting\"", what);
  } else {
    out->type = strcmp(type->str, "probabilistic") ? TG_JRS_RATE_LIMITING
                                                   : TG_JRS_PROBABILISTIC;
    type_ok = 1;
    if (lv == LEVEL_OPERATION && out->type == TG_JRS_RATE_LIMITING) {
      problem(r, type, "%s: type: operation strategies can only be probabilistic", what);
      type_ok = 0;
    }
  }
  if (!param) {
    problem(r, node, "%s: missing \"param\"", what);
  } else if (param->kind != JRS_JSON_NUMBER) {
    problem(r, param, "%s: param: expected a number, got %s", what,
            jrs_json_kind_name(param->kind));
  } else if (type_ok && out->type == TG_JRS_PROBABILISTIC &&
             !(param->number >= 0 && param->number <= 1)) {
    problem(r, param, "%s: param: a probability must be within [0, 1]", what);
  } else if (type_ok && out->type == TG_JRS_RATE_LIMITING &&
             (param->number < 0 || param->number > 32767 ||
              param->number != (double)(int32_t)param->number)) {
    problem(r, param, "%s: param: traces per second must be a whole number within "
            "[0, 32767]", what);
  } else {
    out->param = param->number;
  }
  const jrs_json *ops = lv == LEVEL_OPERATION ? NULL : jrs_json_get(node, "operation_strategies");
  if (ops) {
    if (type_ok && out->type == TG_JRS_RATE_LIMITING)
      problem(r, ops, "%s: operation_strategies need a probabilistic strategy (Jaeger "
              "clients ignore the rate limit when operation strategies are present)", what);
    else
      read_operations(r, ops, what, out);
  }
  return tg_diag_count(r->diag) == before ? 0 : -1;
}

static void raw_free(raw_strategy *s) {
  tg_free(s->ops);
  s->ops = NULL;
  s->n_ops = 0;
}

static void response_free(tg_jrs_response *resp) {
  for (size_t i = 0; i < resp->n_ops; i++)
    tg_free(resp->ops[i].operation);
  tg_free(resp->ops);
  tg_free(resp->json);
  tg_free(resp->pb);
  memset(resp, 0, sizeof *resp);
}

void tg_jrs_strategies_free(tg_jrs_strategies *s) {
  if (!s)
    return;
  response_free(&s->def);
  for (size_t i = 0; i < s->n_services; i++) {
    tg_free(s->services[i].name);
    response_free(&s->services[i].resp);
  }
  tg_free(s->services);
  tg_free(s);
}

static int add_op(tg_jrs_response *resp, const char *name, double rate) {
  char *copy = tg_strdup(name);
  if (!copy)
    return TG_ENOMEM;
  resp->ops[resp->n_ops].operation = copy;
  resp->ops[resp->n_ops].rate = rate;
  resp->n_ops++;
  return TG_OK;
}

/* Builds one answer: own type/param; own operations first, then the default's that the
 * own list does not name (Jaeger's merge); a probabilistic strategy without operations
 * inherits the default's list. dflt is NULL for the default itself. */
static int resolve(const raw_strategy *own, const raw_strategy *dflt, tg_jrs_response *out) {
  out->type = own->type;
  if (own->type == TG_JRS_PROBABILISTIC)
    out->rate = own->param;
  else
    out->max_traces_per_second = (int32_t)own->param;
  size_t n_default = dflt && own->type == TG_JRS_PROBABILISTIC ? dflt->n_ops : 0;
  if (!own->n_ops && !n_default)
    return TG_OK;
  out->per_operation = 1;
  out->default_probability = own->param;
  out->default_lower_bound = 0;
  if (!(out->ops = tg_calloc(own->n_ops + n_default, sizeof *out->ops)))
    return TG_ENOMEM;
  for (size_t i = 0; i < own->n_ops; i++)
    if (add_op(out, own->ops[i].name, own->ops[i].rate) != TG_OK)
      return TG_ENOMEM;
  for (size_t i = 0; i < n_default; i++) {
    int named = 0;
    for (size_t k = 0; k < own->n_ops && !named; k++)
      named = !strcmp(own->ops[k].name, dflt->ops[i].name);
    if (!named && add_op(out, dflt->ops[i].name, dflt->ops[i].rate) != TG_OK)
      return TG_ENOMEM;
  }
  return TG_OK;
}

static int encode(tg_jrs_response *resp) {
  int rc = tg_jrs_encode_json(resp);
  return rc == TG_OK ? tg_jrs_encode_pb(resp) : rc;
}

static int cmp_service(const void *a, const void *b) {
  return strcmp(((const tg_jrs_service *)a)->name, ((const tg_jrs_service *)b)->name);
}

/* The first place that lets less than everything through, for the tail-sampling warning. */
static void describe_lowering(const raw_strategy *def, const raw_strategy *svcs, size_t n,
                              char *out, size_t size) {
  out[0] = '\0';
  const raw_strategy *all_first = def;
  for (size_t i = 0; i <= n && !out[0]; i++) {
    const raw_strategy *s = i == 0 ? all_first : &svcs[i - 1];
    if (!s)
      continue;
    char who[140];
    if (s->service)
      snprintf(who, sizeof who, "service \"%.100s\"", s->service);
    else
      snprintf(who, sizeof who, "default_strategy");
    if (s->type == TG_JRS_RATE_LIMITING)
      snprintf(out, size, "%.120s is rate limited to %g traces/s", who, s->param);
    else if (s->param < 1)
      snprintf(out, size, "%.120s samples %g", who, s->param);
    for (size_t k = 0; k < s->n_ops && !out[0]; k++)
      if (s->ops[k].rate < 1)
        snprintf(out, size, "operation \"%.40s\" of %.120s samples %g", s->ops[k].name, who,
                 s->ops[k].rate);
  }
}

static uint64_t fnv1a(const char *p, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++) {
    h ^= (unsigned char)p[i];
    h *= 1099511628211ull;
  }
  return h;
}

tg_jrs_strategies *tg_jrs_strategies_parse(const char *text, size_t len, const char *file,
                                           tg_diag *diag) {
  reader r = {file ? file : "strategies", diag, tg_diag_count(diag)};
  jrs_json_doc doc;
  char err[160];
  unsigned line = 0, col = 0;
  if (jrs_json_parse(text, len, &doc, err, sizeof err, &line, &col) != 0) {
    tg_yaml_pos pos = {r.file, line, col};
    tg_diag_add(diag, &pos, "invalid JSON: %s", err);
    return NULL;
  }
  const jrs_json *root = doc.root;
  raw_strategy def = {.type = TG_JRS_PROBABILISTIC, .param = 1.0};
  int has_def = 0;
  raw_strategy *svcs = NULL;
  size_t n_svcs = 0;
  tg_jrs_strategies *s = NULL;
  if (root->kind != JRS_JSON_OBJECT) {
    problem(&r, root, "expected an object with default_strategy and service_strategies, "
            "got %s", jrs_json_kind_name(root->kind));
    goto out;
  }
  check_keys(&r, root, "strategies", top_keys);
  const jrs_json *d = jrs_json_get(root, "default_strategy");
  if (d && read_strategy(&r, d, LEVEL_DEFAULT, "default_strategy", &def) == 0)
    has_def = 1;
  const jrs_json *list = jrs_json_get(root, "service_strategies");
  if (list && list->kind != JRS_JSON_ARRAY) {
    problem(&r, list, "service_strategies: expected an array, got %s",
            jrs_json_kind_name(list->kind));
  } else if (list && list->len) {
    if (!(svcs = tg_calloc(list->len, sizeof *svcs))) {
      problem(&r, list, "out of memory");
      goto out;
    }
    for (size_t i = 0; i < list->len; i++) {
      char what[64];
      snprintf(what, sizeof what, "service_strategies[%zu]", i);
      raw_strategy one = {0};
      if (read_strategy(&r, list->items[i], LEVEL_SERVICE, what, &one) != 0) {
        raw_free(&one);
        continue;
      }
      int dup = 0;
      for (size_t k = 0; k < n_svcs && !dup; k++)
        dup = !strcmp(svcs[k].service, one.service);
      if (dup) {
        problem(&r, jrs_json_get(list->items[i], "service"),
                "%s: service \"%.100s\" is listed twice", what, one.service);
        raw_free(&one);
        continue;
      }
      svcs[n_svcs++] = one;
    }
  }
  if (failed(&r))
    goto out;
  s = tg_calloc(1, sizeof *s);
  if (!s || (n_svcs && !(s->services = tg_calloc(n_svcs, sizeof *s->services))))
    goto oom;
  if (resolve(&def, NULL, &s->def) != TG_OK || encode(&s->def) != TG_OK)
    goto oom;
  for (size_t i = 0; i < n_svcs; i++) {
    tg_jrs_service *svc = &s->services[s->n_services++];
    if (!(svc->name = tg_strdup(svcs[i].service)) ||
        resolve(&svcs[i], &def, &svc->resp) != TG_OK || encode(&svc->resp) != TG_OK)
      goto oom;
  }
  if (s->n_services > 1)
    qsort(s->services, s->n_services, sizeof *s->services, cmp_service);
  s->digest = fnv1a(text, len);
  describe_lowering(has_def ? &def : NULL, svcs, n_svcs, s->lowers, sizeof s->lowers);
  goto out;
oom:
  problem(&r, NULL, "out of memory");
  tg_jrs_strategies_free(s);
  s = NULL;
out:
  raw_free(&def);
  for (size_t i = 0; i < n_svcs; i++)
    raw_free(&svcs[i]);
  tg_free(svcs);
  jrs_json_free(&doc);
  return s;
}

tg_jrs_strategies *tg_jrs_strategies_default(void) {
  tg_jrs_strategies *s = tg_calloc(1, sizeof *s);
  if (!s)
    return NULL;
  s->def.type = TG_JRS_PROBABILISTIC;
  s->def.rate = 1.0;
  if (encode(&s->def) != TG_OK) {
    tg_jrs_strategies_free(s);
    return NULL;
  }
  return s;
}

tg_jrs_strategies *tg_jrs_strategies_load(const char *path, tg_diag *diag) {
  tg_yaml_pos pos = {path, 0, 0};
  FILE *f = fopen(path, "rb");
  if (!f) {
    tg_diag_add(diag, &pos, "cannot read the strategies file: %s", strerror(errno));
    return NULL;
  }
  char *text = tg_malloc(TG_JRS_MAX_FILE_BYTES + 1);
  size_t len = text ? fread(text, 1, TG_JRS_MAX_FILE_BYTES + 1, f) : 0;
  int read_error = ferror(f);
  fclose(f);
  tg_jrs_strategies *s = NULL;
  if (!text)
    tg_diag_add(diag, &pos, "out of memory");
  else if (read_error)
    tg_diag_add(diag, &pos, "cannot read the strategies file");
  else if (len > TG_JRS_MAX_FILE_BYTES)
    tg_diag_add(diag, &pos, "strategies file larger than %u bytes", TG_JRS_MAX_FILE_BYTES);
  else
    s = tg_jrs_strategies_parse(text, len, path, diag);
  tg_free(text);
  return s;
}

static int cmp_name(const char *name, size_t len, const char *other) {
  size_t ol = strlen(other);
  int c = memcmp(name, other, len < ol ? len : ol);
  return c ? c : (len > ol) - (len < ol);
}

long tg_jrs_strategies_index(const tg_jrs_strategies *s, const char *name, size_t len) {
  size_t lo = 0, hi = s->n_services;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = cmp_name(name, len, s->services[mid].name);
    if (!c)
      return (long)mid;
    if (c < 0)
      hi = mid;
    else
      lo = mid + 1;
  }
  return -1;
}

const tg_jrs_response *tg_jrs_strategies_find(const tg_jrs_strategies *s, const char *name,
                                              size_t len) {
  long i = tg_jrs_strategies_index(s, name, len);
  return i < 0 ? &s->def : &s->services[i].resp;
}
