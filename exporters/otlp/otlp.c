/* The otlp exporter: OTLP/gRPC to a backend, as the Collector's `otlp` exporter.
 *
 * This file holds the descriptor, the configuration table (Collector key names) and the
 * metadata rules; core/export/tg_grpc_instance.c holds the state and lifecycle (shared with the jaeger
 * exporter), core/export/tg_grpc_exporter.c the transport. Data path: consume encodes the batch once
 * (tg_export_queue_push_batch), frees it and queues the bytes; the queue's sender threads
 * make one blocking unary Export call per request and retry per the OTLP spec. consume
 * never blocks: a full queue answers TG_EAGAIN, which receivers turn into
 * RESOURCE_EXHAUSTED / 429.
 *
 * Lifecycle: create parses and allocates (no gRPC, no threads); start initialises gRPC,
 * builds the channel and spawns the senders; stop drains within the service's grace
 * period, joins the threads and calls done synchronously (on the loop thread that
 * called stop); destroy releases everything and is safe after a partial create and
 * twice. */
#include <stdlib.h>
#include <string.h>

#include "tg_grpc_exporter.h"
#include "tg_alloc.h"
#include "tg_component.h"
#include "tg_otlp_metrics.h"
#include "tg_service.h"

static const tg_conf_key otlpexp_keys[] = {
    TG_OTLPEXP_GRPC_KEYS("backend host:port (or http://, https:// URL); required",
                         "gzip", "deadline of each Export call"),
};

int tg_otlpexp_parse_endpoint(const char *endpoint, bool insecure, char **target,
                              bool *use_tls, tg_errbuf *err) {
  *target = NULL;
  if (!endpoint || !*endpoint)
    return tg_errf(err, TG_ECONFIG, "endpoint is required (host:port)");
  const char *p = endpoint;
  *use_tls = !insecure;
  static const char *const grpc_schemes[] = {"dns:", "ipv4:", "ipv6:", "unix:"};
  for (size_t i = 0; i < sizeof grpc_schemes / sizeof grpc_schemes[0]; i++) {
    size_t sl = strlen(grpc_schemes[i]);
    if (strncmp(p, grpc_schemes[i], sl) != 0)
      continue;
    if (!p[sl] || strpbrk(p, " \t\r\n"))
      return tg_errf(err, TG_ECONFIG, "endpoint \"%s\": empty or blank gRPC target", endpoint);
    *target = tg_strdup(p); /* gRPC's resolver parses its own target syntax */
    return *target ? TG_OK : tg_errf(err, TG_ENOMEM, "out of memory");
  }
  if (!strncmp(p, "https://", 8)) {
    p += 8;
    *use_tls = true;
  } else if (!strncmp(p, "http://", 7)) {
    p += 7;
    *use_tls = false;
  } else if (strstr(p, "://")) {
    return tg_errf(err, TG_ECONFIG, "endpoint \"%s\": scheme must be http or https", endpoint);
  }
  size_t len = strlen(p);
  if (len && p[len - 1] == '/')
    len--;
  const char *colon = NULL;
  for (size_t i = 0; i < len; i++) {
    if (p[i] == '/' || p[i] == ' ' || p[i] == '?' || p[i] == '#')
      return tg_errf(err, TG_ECONFIG, "endpoint \"%s\": expected host:port with no path",
                     endpoint);
    if (p[i] == ':')
      colon = p + i;
  }
  if (!colon || colon == p || (size_t)(colon - p) + 1 >= len)
    return tg_errf(err, TG_ECONFIG, "endpoint \"%s\": expected host:port", endpoint);
  if (p[0] == '[' && colon[-1] != ']')
    return tg_errf(err, TG_ECONFIG, "endpoint \"%s\": bad IPv6 literal", endpoint);
  long port = 0;
  for (const char *c = colon + 1; c < p + len; c++) {
    if (*c < '0' || *c > '9' || port > 65535)
      return tg_errf(err, TG_ECONFIG, "endpoint \"%s\": bad port", endpoint);
    port = port * 10 + (*c - '0');
  }
  if (port < 1 || port > 65535)
    return tg_errf(err, TG_ECONFIG, "endpoint \"%s\": port must be 1..65535", endpoint);
  *target = tg_strndup(p, len);
  return *target ? TG_OK : tg_errf(err, TG_ENOMEM, "out of memory");
}

/* Lower-case gRPC metadata keys made of [a-z0-9-_.], not reserved; printable values. */
static const char *header_problem(const char *key, const char *value) {
  if (!*key)
    return "empty header name";
  for (const char *c = key; *c; c++) {
    char l = (*c >= 'A' && *c <= 'Z') ? (char)(*c - 'A' + 'a') : *c;
    if (!((l >= 'a' && l <= 'z') || (l >= '0' && l <= '9') || l == '-' || l == '_' || l == '.'))
      return "header name may hold only letters, digits, '-', '_', '.'";
  }
  if (!strncasecmp(key, "grpc-", 5))
    return "header names starting with grpc- are reserved";
  size_t kl = strlen(key);
  if (kl > 4 && !strcasecmp(key + kl - 4, "-bin"))
    return "binary (-bin) headers are not supported";
  for (const unsigned char *c = (const unsigned char *)value; *c; c++)
    if (*c < 0x20 || *c > 0x7e)
      return "header value must be printable ASCII";
  return NULL;
}

static void otlpexp_conf_check(const void *vconf, const tg_yaml_node *node, const char *what,
                               tg_diag *diag) {
  tg_otlpexp_conf_check(vconf, header_problem, node ? &node->pos : NULL, what, diag);
}

static const tg_otlpexp_instance_spec otlpexp_spec = {
    .default_id = "otlp",
    .method = NULL, /* TraceService/Export */
    .queue_ops = &tg_otlpexp_grpc_queue_ops,
    .header_problem = header_problem,
    .start_log = "exporting OTLP/gRPC to",
};

static int otlpexp_create(tg_instance *self, tg_errbuf *err) {
  return tg_otlpexp_instance_create(self, &otlpexp_spec, err);
}

static int otlpexp_start(tg_instance *self, tg_errbuf *err) {
  return tg_otlpexp_instance_start(self, &otlpexp_spec, err);
}

const tg_component tg_exporter_otlp = {
    .abi = TG_COMPONENT_ABI,
    .kind = TG_EXPORTER,
    .type = "otlp",
    .signals = TG_SIGNAL_TRACES | TG_SIGNAL_METRICS,
    .conf_size = sizeof(tg_otlpexp_conf),
    .keys = otlpexp_keys,
    .n_keys = sizeof otlpexp_keys / sizeof otlpexp_keys[0],
    .conf_check = otlpexp_conf_check,
    .ops = {.create = otlpexp_create,
            .start = otlpexp_start,
            .consume = tg_otlp_exporter_consume, /* metrics: tg_otlp_metrics.h */
            .stop = tg_queued_exporter_stop,
            .destroy = tg_otlpexp_instance_destroy,
            .ready = tg_queued_exporter_ready},
    .doc = "Sends traces and metrics as OTLP/gRPC (ExportTraceServiceRequest, "
           "ExportMetricsServiceRequest) through a bounded sending queue with retries (gRPC C "
           "core).",
};
