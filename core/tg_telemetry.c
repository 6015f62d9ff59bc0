/* Self-telemetry endpoint. Process figures are read from /proc at scrape time (cheap and
 * always current), not sampled by a timer.
 *
 * /debug/sampling (off unless service.telemetry.debug_endpoints) asks every instance
 * through the component op debug_trace; the route itself only parses the ID and joins
 * the answers, so it knows nothing of any sampler's internals. */
#include "tg_telemetry.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "tg_alloc.h"
#include "tg_clock.h"
#include "tg_hex.h"
#include "tg_http_server.h"
#include "tg_service.h"
#include "tg_version.h"

struct tg_telemetry {
  tg_http_server *server;
  tg_metrics *metrics;
  tg_service *debug_service;
  double start_time_seconds;
  uint64_t start_mono_ns;  /* for tailgate_uptime_seconds (immune to clock steps) */
  char config_sha256[17];  /* tailgate_config_info; "" = not set */
  void (*done)(void *ctx);
  void *done_ctx;
};

static long count_open_fds(void) {
  DIR *dir = opendir("/proc/self/fd");
  if (!dir)
    return -1;
  long n = 0;
  struct dirent *e;
  while ((e = readdir(dir)))
    if (e->d_name[0] != '.')
      n++;
  closedir(dir);
  return n - 1; /* the directory stream's own descriptor */
}

static void read_memory(long *rss_bytes, long *virt_bytes) {
  long pages_virt = 0, pages_rss = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (f) {
    if (fscanf(f, "%ld %ld", &pages_virt, &pages_rss) != 2)
      pages_virt = pages_rss = 0;
    fclose(f);
  }
  long page = sysconf(_SC_PAGESIZE);
  *rss_bytes = pages_rss * page;
  *virt_bytes = pages_virt * page;
}

void tg_telemetry_collect_process(void *ctx, tg_buf *out) {
  const tg_telemetry *tel = ctx;
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
               (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
  long rss, virt;
  read_memory(&rss, &virt);
  tg_buf_appendf(out,
                 "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n"
                 "# TYPE process_cpu_seconds_total counter\n"
                 "process_cpu_seconds_total %.6f\n"
                 "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
                 "# TYPE process_resident_memory_bytes gauge\n"
                 "process_resident_memory_bytes %ld\n"
                 "# HELP process_virtual_memory_bytes Virtual memory size in bytes.\n"
                 "# TYPE process_virtual_memory_bytes gauge\n"
                 "process_virtual_memory_bytes %ld\n"
                 "# HELP process_open_fds Number of open file descriptors.\n"
                 "# TYPE process_open_fds gauge\n"
                 "process_open_fds %ld\n",
                 cpu, rss, virt, count_open_fds());
  if (tel)
    tg_buf_appendf(out,
                   "# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.\n"
                   "# TYPE process_start_time_seconds gauge\n"
                   "process_start_time_seconds %.3f\n",
                   tel->start_time_seconds);
  tg_buf_appendf(out,
                 "# HELP tailgate_build_info Build information; the value is always 1.\n"
                 "# TYPE tailgate_build_info gauge\n"
                 "tailgate_build_info{version=\"%s\"} 1\n",
                 TG_VERSION);
  if (!tel)
    return;
  uint64_t now = uv_hrtime();
  uint64_t up = now > tel->start_mono_ns ? now - tel->start_mono_ns : 0;
  tg_buf_appendf(out,
                 "# HELP tailgate_uptime_seconds Seconds since tailgate started.\n"
                 "# TYPE tailgate_uptime_seconds gauge\n"
                 "tailgate_uptime_seconds %llu.%03llu\n",
                 (unsigned long long)(up / 1000000000u),
                 (unsigned long long)(up % 1000000000u / 1000000u));
  if (tel->config_sha256[0])
    tg_buf_appendf(out,
                   "# HELP tailgate_config_info The configuration in use: sha256 is the first "
                   "16 hex digits of the SHA-256 of its text; the value is always 1.\n"
                   "# TYPE tailgate_config_info gauge\n"
                   "tailgate_config_info{sha256=\"%s\"} 1\n",
                   tel->config_sha256);
}

void tg_telemetry_set_config_hash(tg_telemetry *tel, const char *sha256_prefix) {
  if (tel)
    snprintf(tel->config_sha256, sizeof tel->config_sha256, "%s",
             sha256_prefix ? sha256_prefix : "");
}

uint64_t tg_telemetry_start_mono_ns(const tg_telemetry *tel) {
  return tel ? tel->start_mono_ns : 0;
}

const char *tg_telemetry_config_hash(const tg_telemetry *tel) {
  return tel ? tel->config_sha256 : "";
}

static void on_metrics(void *ctx, const tg_http_request *req, tg_http_response *resp) {
  tg_telemetry *tel = ctx;
  (void)req;
  if (tg_metrics_render(tel->metrics, &resp->body) != TG_OK) {
    resp->status = 500;
    return;
  }
  resp->status = 200;
  resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
}

/* The trace_id parameter of a query string: exactly 32 hex digits, not all zero (W3C's
 * invalid ID). Returns 0 with id filled, -1 otherwise. */
static int query_trace_id(const char *query, uint8_t id[16]) {
  const char *p = query;
  while (p && *p) {
    const char *end = strchr(p, '&');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    if (len >= 9 && !strncmp(p, "trace_id=", 9)) {
      const char *hex = p + 9;
      if (len - 9 != 32)
        return -1;
      int nonzero = 0;
      for (size_t i = 0; i < 16; i++) {
        int hi = tg_hex_digit(hex[2 * i]), lo = tg_hex_digit(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
          return -1;
        id[i] = (uint8_t)(hi << 4 | lo);
        nonzero |= id[i];
      }
      return nonzero ? 0 : -1;
    }
    p = end ? end + 1 : NULL;
  }
  return -1;
}

static void on_debug_sampling(void *ctx, const tg_http_request *req, tg_http_response *resp) {
  tg_telemetry *tel = ctx;
  uint8_t id[16];
  resp->content_type = "application/json";
  if (query_trace_id(req->query, id) != 0) {
    resp->status = 400;
    tg_buf_append_str(&resp->body, "{\"error\":\"trace_id must be 32 hex digits, not all zero\"}\n");
    return;
  }
  char hex[33];
  for (size_t i = 0; i < 16; i++)
    snprintf(hex + 2 * i, 3, "%02x", id[i]);
  tg_buf_appendf(&resp->body, "{\"trace_id\":\"%s\",\"processors\":[", hex);
  size_t found = 0;
  tg_instance *inst;
  for (size_t i = 0; (inst = tg_service_instance(tel->debug_service, i)); i++) {
    size_t mark = resp->body.len;
    if (found)
      tg_buf_append_str(&resp->body, ",");
    int rc = tg_component_debug_trace(inst, id, &resp->body);
    if (rc == TG_OK) {
      found++;
    } else {
      resp->body.len = mark;
      if (rc != TG_ENOTFOUND) {
        resp->status = 500;
        return;
      }
    }
  }
  tg_buf_append_str(&resp->body, "]}\n");
  resp->status = found ? 200 : 404;
}

tg_telemetry *tg_telemetry_start(uv_loop_t *loop, tg_metrics *metrics, tg_logger *log,
                                 const char *address, tg_service *debug_service,
                                 tg_errbuf *err) {
  tg_telemetry *tel = tg_calloc(1, sizeof *tel);
  if (!tel) {
    tg_errf(err, TG_ENOMEM, "out of memory");
    return NULL;
  }
  tel->metrics = metrics;
  tel->debug_service = debug_service;
  tel->start_time_seconds = (double)tg_clock_unix_nano() / 1e9;
  tel->start_mono_ns = uv_hrtime();
  tg_metrics_add_collector(metrics, tg_telemetry_collect_process, tel);
  if (!address || !*address)
    return tel;
  tg_http_server_options opts = {.endpoint = address,
                                 .max_body_bytes = 4096,
                                 .max_connections = 64,
                                 .log = log,
                                 .name = "telemetry"};
  tel->server = tg_http_server_create(loop, &opts, err);
  tg_http_route route = {"GET", "/metrics", 0, on_metrics, tel};
  tg_http_route debug = {"GET", "/debug/sampling", 0, on_debug_sampling, tel};
  if (!tel->server || tg_http_server_add_route(tel->server, &route) != TG_OK ||
      (debug_service && tg_http_server_add_route(tel->server, &debug) != TG_OK) ||
      tg_http_server_start(tel->server, err) != TG_OK) {
    if (tel->server)
      tg_http_server_close(tel->server, NULL, NULL);
    tg_metrics_remove_collector(metrics, tg_telemetry_collect_process, tel);
    tg_free(tel);
    return NULL;
  }
  TG_LOG_INFO(log, "telemetry", "self-metrics on http://%s/metrics%s", address,
              debug_service ? ", /debug/sampling enabled" : "");
  return tel;
}

static void on_server_closed(void *ctx) {
  tg_telemetry *tel = ctx;
  void (*done)(void *) = tel->done;
  void *done_ctx = tel->done_ctx;
  tg_free(tel);
  if (done)
    done(done_ctx);
}

void tg_telemetry_stop(tg_telemetry *tel, void (*done)(void *ctx), void *ctx) {
  if (!tel) {
    if (done)
      done(ctx);
    return;
  }
  tel->done = done;
  tel->done_ctx = ctx;
  tg_metrics_remove_collector(tel->metrics, tg_telemetry_collect_process, tel);
  if (tel->server)
    tg_http_server_close(tel->server, on_server_closed, tel);
  else
    on_server_closed(tel);
}
