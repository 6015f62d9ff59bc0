/* Answering strategy requests: GET /sampling?service=NAME and the legacy GET /?service=
 * over HTTP (the JSON the Jaeger clients parse), and api_v2
 * SamplingManager/GetSamplingStrategy over gRPC. Both look the service up in the current
 * strategies and copy the answer encoded at load time; nothing is encoded per request.
 *
 * Requests are counted by service and transport. A service name is a label value chosen
 * by clients, so only the first TG_JRS_MAX_SERVICE_SERIES distinct names get series of
 * their own and later ones count as service="_other": the registry stays bounded. */
#include <stdio.h>
#include <string.h>

#include "jrs.h"
#include "sampling.pb-c.h"
#include "tg_alloc.h"
#include "tg_hex.h"
#include "tg_metrics.h"

static const char *const transport_names[TG_JRS_TRANSPORT_COUNT_] = {"http", "grpc"};

int tg_jrs_metrics_init(tg_jrs *jrs, tg_metrics *reg, const char *id) {
  static const char *const req_labels[] = {"extension", "service", "transport", NULL};
  static const char *const bad_labels[] = {"extension", "transport", NULL};
  static const char *const ext_labels[] = {"extension", NULL};
  jrs->requests_family = tg_metrics_family(
      reg, "tailgate_extension_jaegerremotesampling_requests_total",
      "Sampling strategy requests answered, by service (the first 100 names; later ones "
      "as _other) and transport.",
      TG_METRIC_COUNTER, req_labels);
  tg_metric_family *bad = tg_metrics_family(
      reg, "tailgate_extension_jaegerremotesampling_bad_requests_total",
      "Sampling strategy requests refused (no, repeated, empty or over-long service).",
      TG_METRIC_COUNTER, bad_labels);
  tg_metric_family *reloads = tg_metrics_family(
      reg, "tailgate_extension_jaegerremotesampling_reloads_total",
      "Re-reads of the strategies file that loaded a valid file.", TG_METRIC_COUNTER,
      ext_labels);
  tg_metric_family *failures = tg_metrics_family(
      reg, "tailgate_extension_jaegerremotesampling_reload_failures_total",
      "Re-reads of the strategies file that failed (the last good strategies stay).",
      TG_METRIC_COUNTER, ext_labels);
  if (!jrs->requests_family || !bad || !reloads || !failures)
    return TG_ENOMEM;
  for (int t = 0; t < TG_JRS_TRANSPORT_COUNT_; t++) {
    const char *rv[] = {id, "_other", transport_names[t]};
    const char *bv[] = {id, transport_names[t]};
    if (!(jrs->other_requests[t] = tg_metrics_series(jrs->requests_family, rv)) ||
        !(jrs->bad_requests[t] = tg_metrics_series(bad, bv)))
      return TG_ENOMEM;
  }
  const char *ev[] = {id};
  jrs->reloads = tg_metrics_series(reloads, ev);
  jrs->reload_failures = tg_metrics_series(failures, ev);
  return jrs->reloads && jrs->reload_failures ? TG_OK : TG_ENOMEM;
}

void tg_jrs_metrics_free(tg_jrs *jrs) {
  for (size_t i = 0; i < jrs->n_series; i++)
    tg_free(jrs->series[i].name);
  jrs->n_series = 0;
}

static void count_request(tg_jrs *jrs, const char *service, tg_jrs_transport t) {
  for (size_t i = 0; i < jrs->n_series; i++)
    if (!strcmp(jrs->series[i].name, service)) {
      tg_metric_add(jrs->series[i].requests[t], 1);
      return;
    }
  if (jrs->n_series < TG_JRS_MAX_SERVICE_SERIES && jrs->requests_family) {
    tg_jrs_service_series *s = &jrs->series[jrs->n_series];
    const char *id = jrs->instance && jrs->instance->id ? jrs->instance->id : "jaegerremotesampling";
    if ((s->name = tg_strdup(service))) {
      for (int k = 0; k < TG_JRS_TRANSPORT_COUNT_; k++) {
        const char *v[] = {id, service, transport_names[k]};
        s->requests[k] = tg_metrics_series(jrs->requests_family, v);
      }
      jrs->n_series++;
      tg_metric_add(s->requests[t], 1);
      return;
    }
  }
  tg_metric_add(jrs->other_requests[t], 1);
}

static int valid_utf8(const unsigned char *p, size_t n) {
  for (size_t i = 0; i < n;) {
    unsigned c = p[i];
    size_t len;
    unsigned min, v;
    if (c < 0x80) {
      if (!c)
        return 0;
      i++;
      continue;
    }
    if (c >= 0xC2 && c <= 0xDF)
      len = 2, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF)
      len = 3, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4)
      len = 4, min = 0x10000;
    else
      return 0;
    if (n - i < len)
      return 0;
    v = c & (0x7Fu >> len);
    for (size_t k = 1; k < len; k++) {
      if ((p[i + k] & 0xC0) != 0x80)
        return 0;
      v = (v << 6) | (p[i + k] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
      return 0;
    i += len;
  }
  return 1;
}

long tg_jrs_query_service(const char *query, char out[TG_JRS_MAX_SERVICE_LEN + 1],
                          const char **why) {
  long found = -1;
  *why = "'service' parameter must be provided once";
  for (const char *p = query; p && *p;) {
    const char *end = strchr(p, '&');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    if (len >= 8 && !memcmp(p, "service=", 8)) {
      if (found >= 0) {
        *why = "'service' parameter must be provided once";
        return -1;
      }
      size_t o = 0;
      for (size_t i = 8; i < len; i++) {
        char c = p[i];
        if (c == '%') {
          int hi = i + 2 < len ? tg_hex_digit(p[i + 1]) : -1, lo = hi >= 0 ? tg_hex_digit(p[i + 2]) : -1;
          if (lo < 0) {
            *why = "'service' parameter is not valid percent-encoding";
            return -1;
          }
          c = (char)(hi * 16 + lo);
          i += 2;
        } else if (c == '+') {
          c = ' ';
        }
        if (o == TG_JRS_MAX_SERVICE_LEN) {
          *why = "'service' parameter is longer than 256 bytes";
          return -1;
        }
        out[o++] = c;
      }
      out[o] = '\0';
      if (!o) {
        *why = "'service' parameter must not be empty";
        return -1;
      }
      if (!valid_utf8((const unsigned char *)out, o)) {
        *why = "'service' parameter is not UTF-8";
        return -1;
      }
      found = (long)o;
    } else if (len == 7 && !memcmp(p, "service", 7)) {
      *why = "'service' parameter must not be empty";
      return -1;
    }
    p = end ? end + 1 : p + len;
  }
  if (found < 0)
    *why = "'service' parameter must be provided once";
  return found;
}

void tg_jrs_http_handle(void *ctx, const tg_http_request *req, tg_http_response *resp) {
  tg_jrs *jrs = ctx;
  char service[TG_JRS_MAX_SERVICE_LEN + 1];
  const char *why = NULL;
  long len = tg_jrs_query_service(req->query, service, &why);
  if (len < 0) {
    tg_metric_add(jrs->bad_requests[TG_JRS_HTTP], 1);
    resp->status = 400;
    resp->content_type = "text/plain";
    tg_buf_append_str(&resp->body, why);
    tg_buf_append(&resp->body, "\n", 1);
    return;
  }
  const tg_jrs_response *answer = tg_jrs_strategies_find(jrs->strategies, service, (size_t)len);
  if (tg_buf_append(&resp->body, answer->json, answer->json_len) != TG_OK) {
    resp->status = 500;
    return;
  }
  resp->status = 200;
  resp->content_type = "application/json";
  count_request(jrs, service, TG_JRS_HTTP);
}

static void *pb_alloc(void *data, size_t size) {
  (void)data;
  return tg_malloc(size);
}
static void pb_free(void *data, void *p) {
  (void)data;
  tg_free(p);
}

void tg_jrs_grpc_handle(void *ctx, const tg_http_request *req, tg_http_response *resp) {
  tg_jrs *jrs = ctx;
  ProtobufCAllocator alloc = {pb_alloc, pb_free, NULL};
  Jaeger__ApiV2__SamplingStrategyParameters *params =
      jaeger__api_v2__sampling_strategy_parameters__unpack(&alloc, req->body_len, req->body);
  const char *name = params ? params->servicename : NULL;
  size_t len = name ? strlen(name) : 0;
  if (!params || !len || len > TG_JRS_MAX_SERVICE_LEN ||
      !valid_utf8((const unsigned char *)name, len)) {
    tg_metric_add(jrs->bad_requests[TG_JRS_GRPC], 1);
    resp->grpc_status = 3; /* INVALID_ARGUMENT */
    resp->grpc_message = !params ? "malformed SamplingStrategyParameters"
                         : !len  ? "serviceName must not be empty"
                         : len > TG_JRS_MAX_SERVICE_LEN ? "serviceName is longer than 256 bytes"
                                                        : "serviceName is not UTF-8";
    if (params)
      jaeger__api_v2__sampling_strategy_parameters__free_unpacked(params, &alloc);
    return;
  }
  const tg_jrs_response *answer = tg_jrs_strategies_find(jrs->strategies, name, len);
  if (tg_buf_append(&resp->body, answer->pb, answer->pb_len) != TG_OK) {
    resp->grpc_status = 13; /* INTERNAL */
    resp->grpc_message = "out of memory";
  } else {
    count_request(jrs, name, TG_JRS_GRPC);
  }
  jaeger__api_v2__sampling_strategy_parameters__free_unpacked(params, &alloc);
}
