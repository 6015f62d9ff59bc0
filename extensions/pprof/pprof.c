/* pprof extension: the Collector's `pprof` serves Go runtime profiles (CPU, heap,
 * goroutines) at /debug/pprof/. tailgate is a C program: there is no Go runtime to
 * profile and pretending otherwise would be a silent no-op. What it serves instead, on
 * the same key (`endpoint`, default localhost:1777):
 *   /debug/pprof/   a text page with the process figures a profile would start from
 *                   (pid, CPU seconds, resident and virtual memory, threads, open fds)
 *                   and the commands that give the equivalent profiles for a native
 *                   process: `perf record -g -p PID` / `perf top -p PID` (CPU),
 *                   `heaptrack -p PID` or `valgrind --tool=massif` (heap), and
 *                   `gdb -p PID -batch -ex 'thread apply all bt'` (the goroutine dump's
 *                   equivalent).
 *   /debug/pprof/<profile> (profile, heap, goroutine, ...) 501 with the same pointer.
 * The Collector's other keys are refused with their position when they ask for
 * something tailgate cannot do: save_to_file (a CPU profile written at shutdown), and
 * non-zero block_profile_fraction / mutex_profile_fraction. */
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "tg_alloc.h"
#include "tg_component.h"
#include "tg_diag.h"
#include "tg_http_server.h"
#include "tg_service.h"
#include "tg_yaml.h"

typedef struct pprof_conf {
  char *endpoint;
  int64_t block_profile_fraction;
  int64_t mutex_profile_fraction;
  char *save_to_file;
} pprof_conf;

static const tg_conf_key pprof_keys[] = {
    TG_KEY_STRING("endpoint", pprof_conf, endpoint, "localhost:1777",
                  "address of /debug/pprof/ (process figures and the perf equivalents)"),
    TG_KEY_INT("block_profile_fraction", pprof_conf, block_profile_fraction, "0", 0, 1000000000,
               "Collector key; only 0 (tailgate has no Go runtime to sample)"),
    TG_KEY_INT("mutex_profile_fraction", pprof_conf, mutex_profile_fraction, "0", 0, 1000000000,
               "Collector key; only 0 (tailgate has no Go runtime to sample)"),
    TG_KEY_STRING("save_to_file", pprof_conf, save_to_file, "",
                  "Collector key; must stay empty (use perf record -o FILE)"),
};

static void pprof_check(const void *vconf, const tg_yaml_node *node, const char *what,
                        tg_diag *diag) {
  const pprof_conf *c = vconf;
  static const char *const fractions[] = {"block_profile_fraction", "mutex_profile_fraction"};
  const int64_t values[] = {c->block_profile_fraction, c->mutex_profile_fraction};
  for (int i = 0; i < 2; i++) {
    if (!values[i])
      continue;
    const tg_yaml_node *at = tg_yaml_get(node, fractions[i]);
    tg_diag_add(diag, at ? &at->pos : node ? &node->pos : NULL,
                "%s: %s: tailgate is not a Go program and has no %s profile; for lock and "
                "wait time of a native process use `perf lock` or `perf sched` (only 0 is "
                "accepted)",
                what, fractions[i], i ? "mutex" : "block");
  }
  if (c->save_to_file && c->save_to_file[0]) {
    const tg_yaml_node *at = tg_yaml_get(node, "save_to_file");
    tg_diag_add(diag, at ? &at->pos : node ? &node->pos : NULL,
                "%s: save_to_file: tailgate cannot write a Go CPU profile; record the "
                "equivalent with `perf record -g -p <pid> -o %s`",
                what, c->save_to_file);
  }
}

typedef struct pprof_state {
  tg_instance *self;
  tg_http_server *server;
  tg_stop_done_fn stop_done;
} pprof_state;

static long count_dir(const char *path) {
  DIR *d = opendir(path);
  if (!d)
    return -1;
  long n = 0;
  struct dirent *e;
  while ((e = readdir(d)))
    if (e->d_name[0] != '.')
      n++;
  closedir(d);
  return n;
}

static const char how_to[] =
    "tailgate is a native (C) program: Go's pprof profiles do not exist here.\n"
    "Equivalent profiles of this process (run on its host, as its user or root):\n"
    "  CPU:        perf record -g -p %d -- sleep 30 && perf report   (or: perf top -p %d)\n"
    "  heap:       heaptrack -p %d   (or run under valgrind --tool=massif)\n"
    "  threads:    gdb -p %d -batch -ex 'thread apply all bt'\n"
    "  metrics:    service.telemetry.metrics.address /metrics (process_*, tailgate_*)\n";

static void on_index(void *ctx, const tg_http_request *req, tg_http_response *resp) {
  (void)ctx;
  (void)req;
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  long pages_virt = 0, pages_rss = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (f) {
    if (fscanf(f, "%ld %ld", &pages_virt, &pages_rss) != 2)
      pages_virt = pages_rss = 0;
    fclose(f);
  }
  long page = sysconf(_SC_PAGESIZE);
  int pid = (int)getpid();
  resp->status = 200;
  resp->content_type = "text/plain; charset=utf-8";
  tg_buf_appendf(&resp->body,
                 "pid: %d\ncpu_user_seconds: %ld.%06ld\ncpu_system_seconds: %ld.%06ld\n"
                 "resident_memory_bytes: %ld\nvirtual_memory_bytes: %ld\nmax_resident_kib: %ld\n"
                 "threads: %ld\nopen_fds: %ld\n\n",
                 pid, (long)ru.ru_utime.tv_sec, (long)ru.ru_utime.tv_usec,
                 (long)ru.ru_stime.tv_sec, (long)ru.ru_stime.tv_usec, pages_rss * page,
                 pages_virt * page, ru.ru_maxrss, count_dir("/proc/self/task"),
                 count_dir("/proc/self/fd") - 1);
  tg_buf_appendf(&resp->body, how_to, pid, pid, pid, pid);
}

static void on_profile(void *ctx, const tg_http_request *req, tg_http_response *resp) {
  (void)ctx;
  int pid = (int)getpid();
  resp->status = 501;
  resp->content_type = "text/plain; charset=utf-8";
  tg_buf_appendf(&resp->body, "%s: no Go profile to serve.\n", req->path ? req->path : "");
  tg_buf_appendf(&resp->body, how_to, pid, pid, pid, pid);
}

static int pprof_create(tg_instance *self, tg_errbuf *err) {
  pprof_state *st = tg_calloc(1, sizeof *st);
  if (!st)
    return tg_errf(err, TG_ENOMEM, "out of memory");
  st->self = self;
  self->state = st;
  return TG_OK;
}

static int pprof_start(tg_instance *self, tg_errbuf *err) {
  pprof_state *st = self->state;
  const pprof_conf *conf = self->conf;
  tg_http_server_options opts = {.endpoint = conf->endpoint,
                                 .max_body_bytes = 4096,
                                 .max_connections = 16,
                                 .log = self->service->log,
                                 .name = "extension:pprof"};
  st->server = tg_http_server_create(self->service->loop, &opts, err);
  if (!st->server)
    return TG_ECONFIG;
  static const char *const profiles[] = {"/debug/pprof/profile", "/debug/pprof/heap",
                                         "/debug/pprof/goroutine", "/debug/pprof/allocs",
                                         "/debug/pprof/block", "/debug/pprof/mutex",
                                         "/debug/pprof/threadcreate", "/debug/pprof/trace",
                                         "/debug/pprof/cmdline", "/debug/pprof/symbol"};
  tg_http_route index = {"GET", "/debug/pprof/", 0, on_index, st};
  int rc = tg_http_server_add_route(st->server, &index);
  for (size_t i = 0; rc == TG_OK && i < sizeof profiles / sizeof profiles[0]; i++) {
    tg_http_route r = {"GET", profiles[i], 0, on_profile, st};
    rc = tg_http_server_add_route(st->server, &r);
  }
  if (rc != TG_OK)
    return tg_errf(err, rc, "out of memory");
  rc = tg_http_server_start(st->server, err);
  if (rc != TG_OK)
    return rc;
  TG_LOG_INFO(self->service->log, "extension:pprof",
              "http://%s/debug/pprof/ serves process figures and the perf equivalents of Go "
              "profiles (tailgate has no Go runtime)",
              conf->endpoint);
  return TG_OK;
}

static void on_server_closed(void *ctx) {
  pprof_state *st = ctx;
  st->server = NULL;
  st->stop_done(st->self);
}

static void pprof_stop(tg_instance *self, tg_stop_done_fn done) {
  pprof_state *st = self->state;
  if (!st->server) {
    done(self);
    return;
  }
  st->stop_done = done;
  tg_http_server_close(st->server, on_server_closed, st);
}

static void pprof_destroy(tg_instance *self) {
  tg_free(self->state);
  self->state = NULL;
}

const tg_component tg_extension_pprof = {
    .abi = TG_COMPONENT_ABI,
    .kind = TG_EXTENSION,
    .type = "pprof",
    .conf_size = sizeof(pprof_conf),
    .keys = pprof_keys,
    .n_keys = sizeof pprof_keys / sizeof pprof_keys[0],
    .conf_check = pprof_check,
    .ops = {.create = pprof_create,
            .start = pprof_start,
            .stop = pprof_stop,
            .destroy = pprof_destroy},
    .doc = "process figures and perf equivalents at /debug/pprof/ (no Go profiles)",
};
