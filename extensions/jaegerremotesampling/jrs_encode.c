/* Encodes one resolved answer twice, once at load time: as the JSON that Jaeger clients
 * parse from GET /sampling (the form the Jaeger agent has always served: strategyType as
 * the enum's name and every field present, since jaeger-client checks that
 * defaultLowerBoundTracesPerSecond is a number and proto3 JSON would omit zeros), and as
 * an api_v2 SamplingStrategyResponse for gRPC (proto3: zero values are omitted on the
 * wire, which every protobuf reader turns back into zeros). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jrs_strategies.h"
#include "sampling.pb-c.h"
#include "tg_alloc.h"
#include "tg_buf.h"
#include "tg_error.h"

/* The shortest decimal that reads back as the same double (rates are finite: checked). */
static int append_double(tg_buf *b, double v) {
  char tmp[40];
  for (int prec = 1; prec <= 17; prec++) {
    snprintf(tmp, sizeof tmp, "%.*g", prec, v);
    if (strtod(tmp, NULL) == v)
      break;
  }
  return tg_buf_append_str(b, tmp);
}

/* A JSON string: quotes, backslashes and control bytes escaped; UTF-8 passes through
 * (the parser accepted only valid UTF-8). */
static int append_json_string(tg_buf *b, const char *s) {
  int rc = tg_buf_append(b, "\"", 1);
  for (const char *p = s; rc == TG_OK && *p; p++) {
    unsigned char c = (unsigned char)*p;
    if (c == '"' || c == '\\') {
      char e[2] = {'\\', (char)c};
      rc = tg_buf_append(b, e, 2);
    } else if (c < 0x20) {
      rc = tg_buf_appendf(b, "\\u%04x", c);
    } else {
      rc = tg_buf_append(b, p, 1);
    }
  }
  return rc == TG_OK ? tg_buf_append(b, "\"", 1) : rc;
}

static int append_probabilistic(tg_buf *b, double rate) {
  int rc = tg_buf_append_str(b, "{\"samplingRate\":");
  if (rc == TG_OK)
    rc = append_double(b, rate);
  return rc == TG_OK ? tg_buf_append_str(b, "}") : rc;
}

int tg_jrs_encode_json(tg_jrs_response *resp) {
  tg_buf b;
  tg_buf_init(&b, 0);
  int rc;
  if (resp->type == TG_JRS_RATE_LIMITING) {
    rc = tg_buf_appendf(&b, "{\"strategyType\":\"RATE_LIMITING\",\"rateLimitingSampling\":"
                            "{\"maxTracesPerSecond\":%d}",
                        (int)resp->max_traces_per_second);
  } else {
    rc = tg_buf_append_str(&b, "{\"strategyType\":\"PROBABILISTIC\",\"probabilisticSampling\":");
    if (rc == TG_OK)
      rc = append_probabilistic(&b, resp->rate);
  }
  if (rc == TG_OK && resp->per_operation) {
    rc = tg_buf_append_str(&b, ",\"operationSampling\":{\"defaultSamplingProbability\":");
    if (rc == TG_OK)
      rc = append_double(&b, resp->default_probability);
    if (rc == TG_OK)
      rc = tg_buf_append_str(&b, ",\"defaultLowerBoundTracesPerSecond\":");
    if (rc == TG_OK)
      rc = append_double(&b, resp->default_lower_bound);
    if (rc == TG_OK)
      rc = tg_buf_append_str(&b, ",\"perOperationStrategies\":[");
    for (size_t i = 0; rc == TG_OK && i < resp->n_ops; i++) {
      rc = tg_buf_append_str(&b, i ? ",{\"operation\":" : "{\"operation\":");
      if (rc == TG_OK)
        rc = append_json_string(&b, resp->ops[i].operation);
      if (rc == TG_OK)
        rc = tg_buf_append_str(&b, ",\"probabilisticSampling\":");
      if (rc == TG_OK)
        rc = append_probabilistic(&b, resp->ops[i].rate);
      if (rc == TG_OK)
        rc = tg_buf_append_str(&b, "}");
    }
    if (rc == TG_OK)
      rc = tg_buf_append_str(&b, "]}");
  }
  if (rc == TG_OK)
    rc = tg_buf_append_str(&b, "}");
  if (rc != TG_OK) {
    tg_buf_free(&b);
    return TG_ENOMEM;
  }
  tg_free(resp->json);
  resp->json = (char *)tg_buf_steal(&b, &resp->json_len);
  return TG_OK;
}

int tg_jrs_encode_pb(tg_jrs_response *resp) {
  Jaeger__ApiV2__SamplingStrategyResponse msg = JAEGER__API_V2__SAMPLING_STRATEGY_RESPONSE__INIT;
  Jaeger__ApiV2__ProbabilisticSamplingStrategy prob =
      JAEGER__API_V2__PROBABILISTIC_SAMPLING_STRATEGY__INIT;
  Jaeger__ApiV2__RateLimitingSamplingStrategy limit =
      JAEGER__API_V2__RATE_LIMITING_SAMPLING_STRATEGY__INIT;
  Jaeger__ApiV2__PerOperationSamplingStrategies per =
      JAEGER__API_V2__PER_OPERATION_SAMPLING_STRATEGIES__INIT;
  Jaeger__ApiV2__OperationSamplingStrategy *ops = NULL, **op_ptrs = NULL;
  Jaeger__ApiV2__ProbabilisticSamplingStrategy *op_probs = NULL;
  int rc = TG_OK;
  if (resp->type == TG_JRS_RATE_LIMITING) {
    msg.strategytype = JAEGER__API_V2__SAMPLING_STRATEGY_TYPE__RATE_LIMITING;
    limit.maxtracespersecond = resp->max_traces_per_second;
    msg.ratelimitingsampling = &limit;
  } else {
    msg.strategytype = JAEGER__API_V2__SAMPLING_STRATEGY_TYPE__PROBABILISTIC;
    prob.samplingrate = resp->rate;
    msg.probabilisticsampling = &prob;
  }
  if (resp->per_operation) {
    per.defaultsamplingprobability = resp->default_probability;
    per.defaultlowerboundtracespersecond = resp->default_lower_bound;
    size_t n = resp->n_ops ? resp->n_ops : 1;
    ops = tg_calloc(n, sizeof *ops);
    op_ptrs = tg_calloc(n, sizeof *op_ptrs);
    op_probs = tg_calloc(n, sizeof *op_probs);
    if (!ops || !op_ptrs || !op_probs) {
      rc = TG_ENOMEM;
      goto out;
    }
    for (size_t i = 0; i < resp->n_ops; i++) {
      Jaeger__ApiV2__ProbabilisticSamplingStrategy p =
          JAEGER__API_V2__PROBABILISTIC_SAMPLING_STRATEGY__INIT;
      Jaeger__ApiV2__OperationSamplingStrategy o = JAEGER__API_V2__OPERATION_SAMPLING_STRATEGY__INIT;
      op_probs[i] = p;
      op_probs[i].samplingrate = resp->ops[i].rate;
      ops[i] = o;
      ops[i].operation = resp->ops[i].operation;
      ops[i].probabilisticsampling = &op_probs[i];
      op_ptrs[i] = &ops[i];
    }
    per.n_peroperationstrategies = resp->n_ops;
    per.peroperationstrategies = op_ptrs;
    msg.operationsampling = &per;
  }
  size_t size = jaeger__api_v2__sampling_strategy_response__get_packed_size(&msg);
  uint8_t *out = tg_malloc(size ? size : 1);
  if (!out) {
    rc = TG_ENOMEM;
    goto out;
  }
  resp->pb_len = jaeger__api_v2__sampling_strategy_response__pack(&msg, out);
  tg_free(resp->pb);
  resp->pb = out;
out:
  tg_free(ops);
  tg_free(op_ptrs);
  tg_free(op_probs);
  return rc;
}
