/* tracecontext-service PORT: the service under test that the W3C trace-context harness
 * (w3c/trace-context, test/) drives. It listens on 127.0.0.1:PORT with tailgate's own
 * inbound server and answers POST /test, whose body is a JSON array of
 * {"url": ..., "arguments": [...]}: for each element it POSTs `arguments` as JSON to `url`
 * carrying the context extracted from the incoming request by tailgate's trace-context
 * library — same trace ID, a new span ID per call, the flags it may propagate, the
 * propagated tracestate — or, when no valid traceparent came in, a new trace. Then it
 * answers 200.
 *
 * Outgoing calls are synchronous libcurl requests made inside the handler: this program
 * serves one harness at a time, and the harness's callback server runs in its own process. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>
#include <uv.h>

#include "tg_http_server.h"
#include "tg_tracectx.h"

typedef struct service {
  tg_idgen ids;
  tg_tracestate_parser ts;
  tg_logger log;
} service;

static size_t discard(char *p, size_t size, size_t n, void *ctx) {
  (void)p;
  (void)ctx;
  return size * n;
}

static void call(const char *url, const char *body, const tg_tracectx *out) {
  char tp[TG_TRACEPARENT_LEN + 1], h_tp[80], h_ts[TG_TRACESTATE_MAX_LEN + 16];
  tg_traceparent_format(out, tp);
  snprintf(h_tp, sizeof h_tp, "traceparent: %s", tp);
  struct curl_slist *hdrs = NULL;
  hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
  hdrs = curl_slist_append(hdrs, h_tp);
  if (out->tracestate_len) {
    snprintf(h_ts, sizeof h_ts, "tracestate: %s", out->tracestate);
    hdrs = curl_slist_append(hdrs, h_ts);
  }
  CURL *c = curl_easy_init();
  if (!c) {
    curl_slist_free_all(hdrs);
    return;
  }
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK)
    fprintf(stderr, "tracecontext-service: POST %s: %s\n", url, curl_easy_strerror(rc));
  curl_easy_cleanup(c);
  curl_slist_free_all(hdrs);
}

static void handle(void *arg, const tg_http_request *req, tg_http_response *resp) {
  service *svc = arg;
  tg_tracectx_extractor ex;
  tg_tracectx_extract_begin(&ex, TG_PROPAGATE_TRACECONTEXT);
  for (size_t i = 0; i < req->n_headers; i++)
    tg_tracectx_extract_header(&ex, req->headers[i].name, strlen(req->headers[i].name),
                               req->headers[i].value);
  tg_tracectx in;
  const char *reason = NULL;
  tg_tracectx_source src = tg_tracectx_extract_finish(&ex, &svc->ts, &in, &reason);
  if (src == TG_TRACECTX_NONE) {
    /* restart: a new random trace ID, so the random flag is set; no tracestate */
    tg_idgen_trace_id(&svc->ids, in.trace_id);
    in.flags = TG_TRACECTX_RANDOM;
    in.tracestate_len = 0;
    in.tracestate[0] = '\0';
    fprintf(stderr, "tracecontext-service: new trace (%s)\n", reason ? reason : "");
  }
  json_error_t jerr;
  json_t *root = json_loadb((const char *)req->body, req->body_len, 0, &jerr);
  if (json_is_array(root)) {
    size_t i;
    json_t *item;
    json_array_foreach(root, i, item) {
      const char *url = json_string_value(json_object_get(item, "url"));
      json_t *args = json_object_get(item, "arguments");
      if (!url)
        continue;
      char *body = json_dumps(args ? args : json_array(), JSON_COMPACT | JSON_ENCODE_ANY);
      tg_tracectx out = in;
      tg_idgen_span_id(&svc->ids, out.span_id); /* our own span: a new parent-id */
      call(url, body ? body : "[]", &out);
      free(body);
    }
  }
  json_decref(root);
  resp->status = 200;
  resp->content_type = "text/plain";
  (void)tg_buf_append_str(&resp->body, "ok\n");
}

static void on_signal(uv_signal_t *s, int signum) {
  (void)signum;
  uv_stop(s->loop);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s PORT\n", argv[0]);
    return 2;
  }
  static service svc;
  tg_idgen_seed(&svc.ids);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  uv_loop_t *loop = uv_default_loop();
  char endpoint[64];
  snprintf(endpoint, sizeof endpoint, "127.0.0.1:%s", argv[1]);
  tg_http_server_options opts;
  memset(&opts, 0, sizeof opts);
  opts.endpoint = endpoint;
  opts.name = "tracecontext-service";
  tg_errbuf err;
  tg_http_server *srv = tg_http_server_create(loop, &opts, &err);
  if (!srv) {
    fprintf(stderr, "tracecontext-service: %s\n", err.msg);
    return 1;
  }
  tg_http_route route = {.method = "POST", .path = "/test", .handle = handle, .ctx = &svc};
  tg_http_server_add_route(srv, &route);
  if (tg_http_server_start(srv, &err) != TG_OK) {
    fprintf(stderr, "tracecontext-service: %s\n", err.msg);
    return 1;
  }
  printf("listening on %s\n", endpoint);
  fflush(stdout);
  uv_signal_t sigint, sigterm;
  uv_signal_init(loop, &sigint);
  uv_signal_init(loop, &sigterm);
  uv_signal_start(&sigint, on_signal, SIGINT);
  uv_signal_start(&sigterm, on_signal, SIGTERM);
  uv_run(loop, UV_RUN_DEFAULT);
  uv_close((uv_handle_t *)&sigint, NULL);
  uv_close((uv_handle_t *)&sigterm, NULL);
  tg_http_server_close(srv, NULL, NULL);
  uv_run(loop, UV_RUN_DEFAULT);
  curl_global_cleanup();
  return 0;
}
