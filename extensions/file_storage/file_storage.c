/* file_storage extension: a directory where queued exporters keep their sending queue on
 * disk (`sending_queue.storage: file_storage/NAME`, the Collector's keys). It offers the
 * storage interface of tg_component.h: open_queue gives an exporter its own disk queue
 * (core/export/tg_disk_queue.h) in a subdirectory named after the exporter
 * (exporter_otlp_backend for otlp/backend), so two exporters never share a log and a
 * renamed exporter starts empty rather than reading another's data.
 *
 * Ours beyond the Collector: a byte bound per queue (`max_bytes`, full = back-pressure),
 * the segment size, and the fsync policy (`fsync: batch | always | never` with the
 * group-commit interval `fsync_interval`). The Collector's `fsync` is a boolean; here it
 * names a policy, since "fsync every write" costs two orders of magnitude of throughput
 * (docs/BENCHMARKS.md) and group commit keeps most of the durability.
 *
 * Lifecycle: create checks the keys; start checks (or creates, with create_directory)
 * the directory, so a bad path fails start-up and not the first export; the queues
 * themselves are opened by their exporters' start (extensions start first) and closed by
 * their stop (exporters stop before extensions). */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tg_alloc.h"
#include "tg_component.h"
#include "tg_disk_queue.h"
#include "tg_service.h"

typedef struct fs_conf {
  char *directory;
  bool create_directory;
  uint64_t max_bytes;
  uint64_t segment_size;
  int fsync;
  uint64_t fsync_interval_ms;
  uint64_t timeout_ms; /* the Collector's key: accepted, unused (no file locks to wait on) */
} fs_conf;

static const char *const fsync_values[] = {"batch", "always", "never", NULL};

static const tg_conf_key fs_keys[] = {
    TG_KEY_STRING("directory", fs_conf, directory, "/var/lib/tailgate/file_storage",
                  "directory for the queues (one subdirectory per exporter)"),
    TG_KEY_BOOL("create_directory", fs_conf, create_directory, "false",
                "create the directory (mode 0700) if it is missing"),
    TG_KEY_SIZE("max_bytes", fs_conf, max_bytes, "1GiB", 0, 0,
                "bytes on disk per exporter queue before refusing new data (0 = no bound)"),
    TG_KEY_SIZE("segment_size", fs_conf, segment_size, "8MiB", 65536, (uint64_t)1 << 30,
                "segment file size: delivered data is deleted one segment at a time"),
    TG_KEY_ENUM("fsync", fs_conf, fsync, "batch", fsync_values,
                "batch: fdatasync within fsync_interval of a write; always: before "
                "accepting; never: leave it to the kernel"),
    TG_KEY_DURATION("fsync_interval", fs_conf, fsync_interval_ms, "100ms", 1, 60000,
                    "group-commit interval of fsync: batch"),
    TG_KEY_DURATION("timeout", fs_conf, timeout_ms, "1s", 0, 3600000,
                    "the Collector's lock timeout (accepted for compatibility)"),
};

typedef struct fs_state {
  tg_instance *self;
} fs_state;

static void fs_conf_check(const void *conf, const tg_yaml_node *node, const char *what,
                          tg_diag *diag) {
  const fs_conf *c = conf;
  if (!c->directory || !*c->directory)
    tg_diag_add(diag, node ? &node->pos : NULL, "%s: directory: must not be empty", what);
  if (c->max_bytes && c->max_bytes < c->segment_size)
    tg_diag_add(diag, node ? &node->pos : NULL,
                "%s: max_bytes must be at least segment_size (or 0)", what);
}

static int fs_create(tg_instance *self, tg_errbuf *err) {
  fs_state *st = tg_calloc(1, sizeof *st);
  if (!st)
    return tg_errf(err, TG_ENOMEM, "out of memory");
  st->self = self;
  self->state = st;
  return TG_OK;
}

/* mkdir -p with mode 0700 for the parts it creates. */
static int make_dirs(const char *path) {
  char *p = tg_strdup(path);
  if (!p)
    return -1;
  for (char *s = p + 1; *s; s++) {
    if (*s != '/')
      continue;
    *s = 0;
    if (mkdir(p, 0700) && errno != EEXIST) {
      tg_free(p);
      return -1;
    }
    *s = '/';
  }
  int rc = mkdir(p, 0700) && errno != EEXIST ? -1 : 0;
  tg_free(p);
  return rc;
}

static int fs_start(tg_instance *self, tg_errbuf *err) {
  const fs_conf *c = self->conf;
  if (c->create_directory && make_dirs(c->directory))
    return tg_errf(err, TG_EIO, "directory %s: cannot create: %s", c->directory,
                   strerror(errno));
  struct stat sb;
  if (stat(c->directory, &sb) || !S_ISDIR(sb.st_mode))
    return tg_errf(err, TG_ECONFIG, "directory %s: %s", c->directory,
                   errno && !S_ISDIR(sb.st_mode) ? strerror(errno) : "not a directory");
  if (access(c->directory, W_OK | X_OK))
    return tg_errf(err, TG_ECONFIG, "directory %s: not writable", c->directory);
  return TG_OK;
}

static int fs_open_queue(tg_instance *self, const char *owner, tg_disk_queue **out,
                         tg_errbuf *err) {
  const fs_conf *c = self->conf;
  tg_buf path = {0};
  int rc = tg_buf_append_str(&path, c->directory) || tg_buf_append_str(&path, "/exporter_");
  for (const char *p = owner; !rc && *p; p++) {
    char ch = *p;
    int safe = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
               (ch >= '0' && ch <= '9') || ch == '-' || ch == '.';
    rc = tg_buf_append(&path, safe ? &ch : "_", 1);
  }
  if (rc) {
    tg_buf_free(&path);
    return tg_errf(err, TG_ENOMEM, "out of memory");
  }
  tg_disk_queue_conf dc = {.max_bytes = c->max_bytes,
                           .segment_bytes = c->segment_size,
                           .fsync = (tg_fsync_policy)c->fsync,
                           .fsync_interval_ms = c->fsync_interval_ms};
  tg_service *svc = self->service;
  rc = tg_disk_queue_open((const char *)path.data, &dc, owner, svc ? svc->log : NULL,
                          svc ? svc->metrics : NULL, out, err);
  if (rc == TG_OK && svc && svc->log)
    TG_LOG_INFO(svc->log, self->id, "%s keeps its sending queue in %s (fsync: %s)", owner,
                (const char *)path.data, fsync_values[c->fsync]);
  tg_buf_free(&path);
  return rc;
}

static void fs_destroy(tg_instance *self) {
  tg_free(self->state);
  self->state = NULL;
}

static const tg_storage_ops fs_storage = {.open_queue = fs_open_queue};

const tg_component tg_extension_file_storage = {
    .abi = TG_COMPONENT_ABI,
    .kind = TG_EXTENSION,
    .type = "file_storage",
    .conf_size = sizeof(fs_conf),
    .keys = fs_keys,
    .n_keys = sizeof fs_keys / sizeof fs_keys[0],
    .conf_check = fs_conf_check,
    .ops = {.create = fs_create, .start = fs_start, .destroy = fs_destroy},
    .doc = "disk directory for persistent sending queues (write-ahead log per exporter)",
    .storage = &fs_storage,
};
