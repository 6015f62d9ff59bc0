/* The disk queue: segments of checksummed records, a reader that hands them out in
 * order, and a small cursor file that says which were delivered (format: tg_disk_queue.h).
 *
 * Why this shape: the sending queue's unit is one encoded request, written once and read
 * once, so an append-only log with a delivery cursor is all the structure needed (no
 * B-tree, no compaction: a segment is deleted whole once every record in it is
 * acknowledged). A record is written with one pwritev() at the segment's known end, so
 * a failed or short write is cut off again with ftruncate() and the log stays a sequence
 * of whole records; only a crash can leave a torn tail, and replay finds it by length and
 * CRC32C. Writing new records to a fresh segment after every open means damage is only
 * ever read, never built upon.
 *
 * Duplicates: the cursor is rewritten (pwrite, no fsync needed for a process crash: the
 * page cache survives it) on every hand-out and every acknowledgement, and lists the seqs
 * in flight. After a crash exactly those are sent again, so duplicates are bounded by
 * TG_DISK_MAX_IN_FLIGHT records (in practice the number of sender threads) and counted.
 * Two slots with a generation keep the previous cursor when a power loss tears the
 * newest one (the older cursor only means more duplicates, never a loss).
 *
 * Durability: "always" calls fdatasync before append returns; "batch" leaves it to the
 * flusher thread, which syncs dirty segments (on dup()ed descriptors, so the lock is not
 * held across the sync) at most fsync_interval after the first unsynced write; "never"
 * leaves it to the kernel. A process crash (SIGKILL, OOM) loses nothing in any mode; a
 * power loss may lose the last fsync_interval with "batch". */
#include "tg_disk_queue.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "tg_alloc.h"
#include "tg_crc32c.h"
#include "tg_log.h"
#include "tg_metrics.h"

#define DEFAULT_MAX_RECORD ((uint64_t)256 << 20)
#define CURSOR_MAGIC 0x31435354u /* "TSC1" */
#define CURSOR_SLOT 2048         /* 32 + 8 * TG_DISK_MAX_IN_FLIGHT + 4 fits */

typedef struct segment {
  uint64_t first_seq;   /* its name */
  uint64_t end_seq;     /* one past the last record's seq */
  uint64_t size;        /* bytes on disk */
  uint64_t valid;       /* records end here (a damaged tail lies past it) */
  uint64_t unacked;     /* records not yet acknowledged (pending or in flight) */
  int fd;               /* O_RDWR; -1 once closed */
  int synced;           /* no write since the last fdatasync */
} segment;

/* A record handed out and not acknowledged. Entries from the previous run's cursor
 * start with out = 0 until the reader reaches them again. */
typedef struct in_flight {
  uint64_t seq;
  uint32_t spans;
  int out;   /* handed out by this run */
  int found; /* replay: the record exists */
} in_flight;

struct tg_disk_queue {
  tg_disk_queue_conf conf;
  char *dir;
  char *name;
  char *log_name;
  tg_logger *log;
  int dir_fd, lock_fd, cursor_fd;

  pthread_mutex_t lock;
  segment *segs; /* oldest first; the last is the one written to */
  size_t n_segs, cap_segs;
  size_t rseg;    /* segment the reader is in */
  uint64_t roff;  /* reader's offset in it */
  uint64_t next_seq;
  uint64_t hw;    /* every seq below it was handed out, or acknowledged at replay */
  in_flight fly[TG_DISK_MAX_IN_FLIGHT];
  size_t n_fly, n_out;
  uint64_t replay_end; /* next_seq at open: records below it were replayed */
  uint64_t cursor_gen;
  /* replay's view of the previous run, to skip what it delivered */
  uint64_t old_low, old_hw;
  uint64_t *old_fly;
  size_t n_old_fly;

  uint64_t bytes, pending_records, pending_spans;
  tg_disk_queue_stats st;

  /* flusher (fsync batch) */
  pthread_t flusher;
  int flusher_running, closing, dirty, dir_dirty;
  uint64_t dirty_since_ms;
  pthread_cond_t flush_cond;

  tg_metric_cell *m_bytes, *m_records, *m_replayed, *m_replayed_spans, *m_dups, *m_corrupt,
      *m_corrupt_bytes, *m_ref_bound, *m_ref_io, *m_fsyncs, *m_fsync_us, *m_fsync_max;
};

/* ---- little endian ---- */

static void put32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++)
    p[i] = (uint8_t)(v >> (8 * i));
}
static void put64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++)
    p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get32(const uint8_t *p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; i--)
    v = v << 8 | p[i];
  return v;
}
static uint64_t get64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--)
    v = v << 8 | p[i];
  return v;
}

static uint64_t mono_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ---- the record format ---- */

void tg_disk_record_header(uint8_t hdr[TG_DISK_RECORD_HEADER], uint64_t seq, uint32_t spans,
                           const void *payload, size_t len) {
  put32(hdr, TG_DISK_RECORD_MAGIC);
  put32(hdr + 4, (uint32_t)len);
  put64(hdr + 8, seq);
  put32(hdr + 16, spans);
  uint32_t crc = tg_crc32c(0, hdr + 4, 16);
  put32(hdr + 20, tg_crc32c(crc, payload, len));
}

/* Checks a header alone: TG_OK with the payload length, or TG_EDECODE. */
static int header_check(const uint8_t *hdr, uint64_t max_record, uint32_t *len) {
  if (get32(hdr) != TG_DISK_RECORD_MAGIC)
    return TG_EDECODE;
  *len = get32(hdr + 4);
  return *len > max_record ? TG_EDECODE : TG_OK;
}

static int payload_check(const uint8_t *hdr, const uint8_t *payload, uint32_t len) {
  uint32_t crc = tg_crc32c(tg_crc32c(0, hdr + 4, 16), payload, len);
  return crc == get32(hdr + 20) ? TG_OK : TG_EDECODE;
}

int tg_disk_record_parse(const uint8_t *buf, size_t len, uint64_t max_record_bytes,
                         tg_disk_record *rec, size_t *consumed) {
  if (!max_record_bytes)
    max_record_bytes = DEFAULT_MAX_RECORD;
  if (len < TG_DISK_RECORD_HEADER)
    return len && (len < 4 ? memcmp(buf, "TGR1", len) : get32(buf) != TG_DISK_RECORD_MAGIC)
               ? TG_EDECODE
               : TG_EAGAIN;
  uint32_t plen;
  if (header_check(buf, max_record_bytes, &plen) != TG_OK)
    return TG_EDECODE;
  if (len - TG_DISK_RECORD_HEADER < plen)
    return TG_EAGAIN;
  const uint8_t *payload = buf + TG_DISK_RECORD_HEADER;
  if (payload_check(buf, payload, plen) != TG_OK)
    return TG_EDECODE;
  rec->seq = get64(buf + 8);
  rec->spans = get32(buf + 16);
  rec->data = (uint8_t *)payload;
  rec->len = plen;
  rec->replayed = 0;
  *consumed = TG_DISK_RECORD_HEADER + (size_t)plen;
  return TG_OK;
}

/* ---- metrics ---- */

static tg_metric_cell *series(struct tg_metrics *m, const char *fam, const char *help,
                              tg_metric_type type, const char *name) {
  if (!m)
    return NULL;
  static const char *const labels[] = {"exporter", NULL};
  tg_metric_family *f = tg_metrics_family(m, fam, help, type, labels);
  const char *values[] = {name};
  return f ? tg_metrics_series(f, values) : NULL;
}

static void register_metrics(tg_disk_queue *dq, struct tg_metrics *m) {
  const char *n = dq->name;
  dq->m_bytes = series(m, "tailgate_disk_queue_bytes", "Bytes of the disk queue's segments.",
                       TG_METRIC_GAUGE, n);
  dq->m_records = series(m, "tailgate_disk_queue_records",
                         "Records (requests) in the disk queue not yet acknowledged.",
                         TG_METRIC_GAUGE, n);
  dq->m_replayed = series(m, "tailgate_disk_queue_replayed_records_total",
                          "Records found pending in the disk queue at start.",
                          TG_METRIC_COUNTER, n);
  dq->m_replayed_spans = series(m, "tailgate_disk_queue_replayed_spans_total",
                                "Spans found pending in the disk queue at start.",
                                TG_METRIC_COUNTER, n);
  dq->m_dups = series(m, "tailgate_disk_queue_possible_duplicate_spans_total",
                      "Replayed spans that were in flight when the previous run ended, so "
                      "the backend may have them already.", TG_METRIC_COUNTER, n);
  dq->m_corrupt = series(m, "tailgate_disk_queue_corrupt_skipped_total",
                         "Damaged records or torn segment tails skipped.", TG_METRIC_COUNTER, n);
  dq->m_corrupt_bytes = series(m, "tailgate_disk_queue_corrupt_skipped_bytes_total",
                               "Bytes skipped as damaged.", TG_METRIC_COUNTER, n);
  dq->m_ref_bound = series(m, "tailgate_disk_queue_refused_full_total",
                           "Appends refused because the byte bound was reached.",
                           TG_METRIC_COUNTER, n);
  dq->m_ref_io = series(m, "tailgate_disk_queue_refused_io_total",
                        "Appends refused because the disk failed the write (full disk, I/O "
                        "error).", TG_METRIC_COUNTER, n);
  dq->m_fsyncs = series(m, "tailgate_disk_queue_fsyncs_total", "fdatasync calls.",
                        TG_METRIC_COUNTER, n);
  dq->m_fsync_us = series(m, "tailgate_disk_queue_fsync_microseconds_total",
                          "Time spent in fdatasync.", TG_METRIC_COUNTER, n);
  dq->m_fsync_max = series(m, "tailgate_disk_queue_fsync_max_microseconds",
                           "Longest fdatasync so far.", TG_METRIC_GAUGE, n);
}

/* Publishes the gauges. Lock held. */
static void publish(tg_disk_queue *dq) {
  tg_metric_set(dq->m_bytes, (int64_t)dq->bytes);
  tg_metric_set(dq->m_records, (int64_t)dq->pending_records);
}

/* ---- files ---- */

static void seg_name(char out[32], uint64_t first_seq) {
  snprintf(out, 32, "%016" PRIx64 ".seg", first_seq);
}

/* fdatasync with the latency counted. Lock need not be held (the counters are the
 * metric cells and st, which only this function's callers touch under the lock or in
 * the flusher). */
static void timed_sync(tg_disk_queue *dq, int fd) {
  uint64_t t0 = mono_us();
  fdatasync(fd);
  uint64_t us = mono_us() - t0;
  tg_metric_add(dq->m_fsyncs, 1);
  tg_metric_add(dq->m_fsync_us, (int64_t)us);
  if ((int64_t)us > tg_metric_get(dq->m_fsync_max))
    tg_metric_set(dq->m_fsync_max, (int64_t)us);
  __atomic_add_fetch(&dq->st.fsyncs, 1, __ATOMIC_RELAXED);
  __atomic_add_fetch(&dq->st.fsync_us_total, us, __ATOMIC_RELAXED);
  uint64_t prev = __atomic_load_n(&dq->st.fsync_us_max, __ATOMIC_RELAXED);
  while (us > prev &&
         !__atomic_compare_exchange_n(&dq->st.fsync_us_max, &prev, us, 0, __ATOMIC_RELAXED,
                                      __ATOMIC_RELAXED)) {
  }
}

static int segs_grow(tg_disk_queue *dq) {
  if (dq->n_segs < dq->cap_segs)
    return TG_OK;
  size_t cap = dq->cap_segs ? dq->cap_segs * 2 : 8;
  segment *s = tg_realloc(dq->segs, cap * sizeof *s);
  if (!s)
    return TG_ENOMEM;
  dq->segs = s;
  dq->cap_segs = cap;
  return TG_OK;
}

/* Opens a new, empty segment for writing at next_seq. Lock held. */
static int seg_create(tg_disk_queue *dq) {
  if (segs_grow(dq) != TG_OK)
    return TG_ENOMEM;
  char name[32];
  seg_name(name, dq->next_seq);
  int fd = openat(dq->dir_fd, name, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return TG_EIO;
  dq->segs[dq->n_segs++] = (segment){.first_seq = dq->next_seq, .end_seq = dq->next_seq,
                                     .fd = fd, .synced = 1};
  if (dq->conf.fsync == TG_FSYNC_ALWAYS)
    timed_sync(dq, dq->dir_fd);
  else if (dq->conf.fsync == TG_FSYNC_BATCH)
    dq->dir_dirty = 1;
  return TG_OK;
}

/* Deletes leading segments whose every record was acknowledged and that the reader has
 * left (never the write segment). Lock held. */
static int reader_settle(tg_disk_queue *dq);

static void seg_collect(tg_disk_queue *dq) {
  reader_settle(dq);
  size_t n = 0;
  while (n + 1 < dq->n_segs && n < dq->rseg && dq->segs[n].unacked == 0)
    n++;
  if (!n)
    return;
  for (size_t i = 0; i < n; i++) {
    char name[32];
    seg_name(name, dq->segs[i].first_seq);
    unlinkat(dq->dir_fd, name, 0);
    close(dq->segs[i].fd);
    dq->bytes -= dq->segs[i].size;
  }
  memmove(dq->segs, dq->segs + n, (dq->n_segs - n) * sizeof *dq->segs);
  dq->n_segs -= n;
  dq->rseg -= n;
  if (dq->conf.fsync == TG_FSYNC_BATCH)
    dq->dir_dirty = 1;
  publish(dq);
}

/* ---- cursor ---- */

static uint64_t cursor_low(const tg_disk_queue *dq) {
  uint64_t low = dq->hw;
  for (size_t i = 0; i < dq->n_fly; i++)
    if (dq->fly[i].seq < low)
      low = dq->fly[i].seq;
  return low;
}

/* Writes the cursor into the older slot. Lock held. A failed write is not fatal: the
 * previous slot stays valid and only means more duplicates after a crash. */
static void cursor_write(tg_disk_queue *dq) {
  uint8_t buf[CURSOR_SLOT];
  dq->cursor_gen++;
  put32(buf, CURSOR_MAGIC);
  put32(buf + 4, (uint32_t)dq->n_fly);
  put64(buf + 8, dq->cursor_gen);
  put64(buf + 16, cursor_low(dq));
  put64(buf + 24, dq->hw);
  size_t off = 32;
  for (size_t i = 0; i < dq->n_fly; i++, off += 8)
    put64(buf + off, dq->fly[i].seq);
  put32(buf + off, tg_crc32c(0, buf, off));
  off += 4;
  ssize_t w = pwrite(dq->cursor_fd, buf, off, (off_t)((dq->cursor_gen & 1) * CURSOR_SLOT));
  (void)w;
}

/* Reads the newest valid slot into old_low/old_hw/old_fly; none valid = start over. */
static int cursor_read(tg_disk_queue *dq) {
  uint8_t buf[2 * CURSOR_SLOT];
  ssize_t n = pread(dq->cursor_fd, buf, sizeof buf, 0);
  uint64_t best_gen = 0;
  const uint8_t *best = NULL;
  for (int s = 0; s < 2 && n > 0; s++) {
    const uint8_t *p = buf + s * CURSOR_SLOT;
    if ((ssize_t)(s * CURSOR_SLOT + 36) > n)
      continue;
    if (get32(p) != CURSOR_MAGIC)
      continue;
    uint32_t nf = get32(p + 4);
    if (nf > TG_DISK_MAX_IN_FLIGHT || (ssize_t)(s * CURSOR_SLOT + 36 + 8 * nf) > n)
      continue;
    size_t end = 32 + 8 * (size_t)nf;
    if (tg_crc32c(0, p, end) != get32(p + end))
      continue;
    uint64_t gen = get64(p + 8);
    if (!best || gen > best_gen) {
      best = p;
      best_gen = gen;
    }
  }
  if (!best)
    return TG_OK;
  dq->cursor_gen = best_gen;
  dq->old_low = get64(best + 16);
  dq->old_hw = get64(best + 24);
  dq->n_old_fly = get32(best + 4);
  if (dq->n_old_fly) {
    dq->old_fly = tg_calloc(dq->n_old_fly, sizeof *dq->old_fly);
    if (!dq->old_fly)
      return TG_ENOMEM;
    for (size_t i = 0; i < dq->n_old_fly; i++)
      dq->old_fly[i] = get64(best + 32 + 8 * i);
  }
  return TG_OK;
}

static in_flight *fly_find(tg_disk_queue *dq, uint64_t seq) {
  for (size_t i = 0; i < dq->n_fly; i++)
    if (dq->fly[i].seq == seq)
      return &dq->fly[i];
  return NULL;
}

/* Replay: was seq delivered in the previous run? 0: pending, 1: delivered, 2: it was in
 * flight (the fly entries seeded from the cursor). */
static int old_state(tg_disk_queue *dq, uint64_t seq) {
  if (seq >= dq->old_hw)
    return 0;
  return fly_find(dq, seq) ? 2 : 1;
}

/* ---- replay ---- */

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static void count_corrupt(tg_disk_queue *dq, uint64_t bytes, const char *segname,
                          uint64_t off) {
  dq->st.corrupt_skipped++;
  dq->st.corrupt_bytes += bytes;
  tg_metric_add(dq->m_corrupt, 1);
  tg_metric_add(dq->m_corrupt_bytes, (int64_t)bytes);
  TG_LOG_WARN(dq->log, dq->log_name,
              "disk queue: damaged record in %s at offset %" PRIu64 ": skipping %" PRIu64
              " byte(s) to the end of the segment", segname, off, bytes);
}

/* Scans one segment file: its valid length, records pending and their spans. */
static int replay_segment(tg_disk_queue *dq, uint64_t first_seq, uint64_t *last_seq) {
  char name[32];
  seg_name(name, first_seq);
  int fd = openat(dq->dir_fd, name, O_RDWR | O_CLOEXEC);
  if (fd < 0)
    return TG_EIO;
  struct stat sb;
  if (fstat(fd, &sb) || segs_grow(dq) != TG_OK) {
    close(fd);
    return TG_EIO;
  }
  segment seg = {.first_seq = first_seq, .end_seq = first_seq, .size = (uint64_t)sb.st_size,
                 .fd = fd, .synced = 1};
  if (first_seq + 1 > *last_seq) /* never reuse a segment's name for the write segment */
    *last_seq = first_seq + 1;
  uint64_t max_rec = dq->conf.max_record_bytes ? dq->conf.max_record_bytes : DEFAULT_MAX_RECORD;
  uint8_t hdr[TG_DISK_RECORD_HEADER];
  uint8_t *payload = NULL;
  size_t payload_cap = 0;
  uint64_t off = 0, prev_seq = 0;
  int have_prev = 0;
  while (off < seg.size) {
    uint32_t len;
    int bad = seg.size - off < TG_DISK_RECORD_HEADER ||
              pread(fd, hdr, sizeof hdr, (off_t)off) != (ssize_t)sizeof hdr ||
              header_check(hdr, max_rec, &len) != TG_OK ||
              seg.size - off - TG_DISK_RECORD_HEADER < len;
    if (!bad && len > payload_cap) {
      uint8_t *grown = tg_realloc(payload, len);
      if (!grown) {
        tg_free(payload);
        close(fd);
        return TG_ENOMEM;
      }
      payload = grown;
      payload_cap = len;
    }
    uint64_t seq = bad ? 0 : get64(hdr + 8);
    bad = bad || (len && pread(fd, payload, len, (off_t)(off + TG_DISK_RECORD_HEADER)) !=
                             (ssize_t)len) ||
          payload_check(hdr, payload, len) != TG_OK || (have_prev && seq <= prev_seq);
    if (bad) {
      count_corrupt(dq, seg.size - off, name, off);
      break;
    }
    have_prev = 1;
    prev_seq = seq;
    seg.end_seq = seq + 1;
    if (seq + 1 > *last_seq)
      *last_seq = seq + 1;
    int state = old_state(dq, seq);
    if (state != 1) {
      uint32_t spans = get32(hdr + 16);
      if (state == 2) {
        in_flight *f = fly_find(dq, seq);
        f->spans = spans;
        f->found = 1;
      }
      seg.unacked++;
      dq->pending_records++;
      dq->pending_spans += spans;
      dq->st.replayed_records++;
      dq->st.replayed_spans += spans;
      if (state == 2)
        dq->st.possible_duplicates += spans;
    }
    off += TG_DISK_RECORD_HEADER + (uint64_t)len;
  }
  tg_free(payload);
  seg.valid = off;
  if (!seg.valid) { /* empty, or damaged from its first byte: nothing to keep */
    close(fd);
    unlinkat(dq->dir_fd, name, 0);
    return TG_OK;
  }
  dq->segs[dq->n_segs++] = seg;
  dq->bytes += seg.size;
  return TG_OK;
}

static int replay(tg_disk_queue *dq, tg_errbuf *err) {
  int rc = cursor_read(dq);
  if (rc)
    return tg_errf(err, rc, "%s: out of memory", dq->dir);
  for (size_t i = 0; i < dq->n_old_fly && dq->old_fly[i] < dq->old_hw; i++)
    dq->fly[dq->n_fly++] = (in_flight){.seq = dq->old_fly[i]};
  int dfd = dup(dq->dir_fd);
  DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
  if (!d) {
    if (dfd >= 0)
      close(dfd);
    return tg_errf(err, TG_EIO, "%s: cannot list: %s", dq->dir, strerror(errno));
  }
  uint64_t *firsts = NULL;
  size_t n = 0, cap = 0;
  struct dirent *de;
  while ((de = readdir(d))) {
    size_t l = strlen(de->d_name);
    char *end;
    if (l != 20 || strcmp(de->d_name + 16, ".seg"))
      continue;
    uint64_t first = strtoull(de->d_name, &end, 16);
    if (end != de->d_name + 16)
      continue;
    if (n == cap) {
      cap = cap ? cap * 2 : 16;
      uint64_t *g = tg_realloc(firsts, cap * sizeof *g);
      if (!g) {
        tg_free(firsts);
        closedir(d);
        return tg_errf(err, TG_ENOMEM, "out of memory");
      }
      firsts = g;
    }
    firsts[n++] = first;
  }
  closedir(d);
  if (n)
    qsort(firsts, n, sizeof *firsts, cmp_u64);
  uint64_t last = 0;
  for (size_t i = 0; i < n; i++) {
    rc = replay_segment(dq, firsts[i], &last);
    if (rc) {
      tg_free(firsts);
      return tg_errf(err, rc, "%s: cannot read segment %016" PRIx64 ": %s", dq->dir,
                     firsts[i], rc == TG_ENOMEM ? "out of memory" : strerror(errno));
    }
  }
  tg_free(firsts);
  /* In-flight entries whose record is gone (a damaged tail) are dropped. */
  size_t kept = 0;
  for (size_t i = 0; i < dq->n_fly; i++)
    if (dq->fly[i].found)
      dq->fly[kept++] = dq->fly[i];
  dq->n_fly = kept;
  dq->next_seq = last > dq->old_hw ? last : dq->old_hw;
  if (dq->next_seq < 1)
    dq->next_seq = 1;
  dq->replay_end = dq->next_seq;
  /* Below hw the reader hands out only the fly entries; the rest was delivered. */
  dq->hw = dq->old_hw;
  tg_metric_add(dq->m_replayed, (int64_t)dq->st.replayed_records);
  tg_metric_add(dq->m_replayed_spans, (int64_t)dq->st.replayed_spans);
  tg_metric_add(dq->m_dups, (int64_t)dq->st.possible_duplicates);
  return TG_OK;
}

/* ---- flusher ---- */

static void *flusher_main(void *arg) {
  tg_disk_queue *dq = arg;
  pthread_mutex_lock(&dq->lock);
  for (;;) {
    while (!dq->dirty && !dq->dir_dirty && !dq->closing)
      pthread_cond_wait(&dq->flush_cond, &dq->lock);
    if (dq->closing)
      break;
    /* Group commit: wait out the interval from the first unsynced write. */
    uint64_t due_us = dq->dirty_since_ms * 1000 + dq->conf.fsync_interval_ms * 1000;
    struct timespec ts = {.tv_sec = (time_t)(due_us / 1000000),
                          .tv_nsec = (long)(due_us % 1000000) * 1000};
    while (!dq->closing && mono_us() < due_us)
      if (pthread_cond_timedwait(&dq->flush_cond, &dq->lock, &ts) == ETIMEDOUT)
        break;
    int fds[TG_DISK_MAX_IN_FLIGHT];
    size_t nfd = 0;
    for (size_t i = 0; i < dq->n_segs && nfd < TG_DISK_MAX_IN_FLIGHT - 1; i++) {
      if (dq->segs[i].synced)
        continue;
      int fd = dup(dq->segs[i].fd);
      if (fd >= 0) {
        fds[nfd++] = fd;
        dq->segs[i].synced = 1;
      }
    }
    if (dq->dir_dirty) {
      int fd = dup(dq->dir_fd);
      if (fd >= 0)
        fds[nfd++] = fd;
      dq->dir_dirty = 0;
    }
    dq->dirty = 0;
    pthread_mutex_unlock(&dq->lock);
    for (size_t i = 0; i < nfd; i++) {
      timed_sync(dq, fds[i]);
      close(fds[i]);
    }
    pthread_mutex_lock(&dq->lock);
  }
  pthread_mutex_unlock(&dq->lock);
  return NULL;
}

/* ---- open / close ---- */

static int cond_init_mono(pthread_cond_t *c) {
  pthread_condattr_t attr;
  if (pthread_condattr_init(&attr))
    return -1;
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  int rc = pthread_cond_init(c, &attr);
  pthread_condattr_destroy(&attr);
  return rc ? -1 : 0;
}

static void dq_free(tg_disk_queue *dq) {
  for (size_t i = 0; i < dq->n_segs; i++)
    if (dq->segs[i].fd >= 0)
      close(dq->segs[i].fd);
  if (dq->cursor_fd >= 0)
    close(dq->cursor_fd);
  if (dq->lock_fd >= 0)
    close(dq->lock_fd); /* releases the flock */
  if (dq->dir_fd >= 0)
    close(dq->dir_fd);
  tg_free(dq->segs);
  tg_free(dq->old_fly);
  tg_free(dq->dir);
  tg_free(dq->name);
  tg_free(dq->log_name);
  tg_free(dq);
}

int tg_disk_queue_open(const char *dir, const tg_disk_queue_conf *conf, const char *name,
                       struct tg_logger *log, struct tg_metrics *metrics,
                       tg_disk_queue **out, tg_errbuf *err) {
  *out = NULL;
  if (!conf || conf->segment_bytes < 4096 ||
      (conf->fsync == TG_FSYNC_BATCH && conf->fsync_interval_ms < 1))
    return tg_errf(err, TG_ECONFIG, "disk queue: segment size below 4096 or no interval");
  tg_disk_queue *dq = tg_calloc(1, sizeof *dq);
  if (!dq)
    return tg_errf(err, TG_ENOMEM, "out of memory");
  dq->conf = *conf;
  dq->dir_fd = dq->lock_fd = dq->cursor_fd = -1;
  dq->dir = tg_strdup(dir);
  dq->name = tg_strdup(name ? name : "disk_queue");
  size_t ln = (dq->name ? strlen(dq->name) : 0) + sizeof "exporter:";
  dq->log_name = tg_malloc(ln);
  if (!dq->dir || !dq->name || !dq->log_name) {
    dq_free(dq);
    return tg_errf(err, TG_ENOMEM, "out of memory");
  }
  snprintf(dq->log_name, ln, "exporter:%s", dq->name);
  dq->log = log;
  if (mkdir(dir, 0700) && errno != EEXIST) {
    int e = errno;
    dq_free(dq);
    return tg_errf(err, TG_EIO, "%s: cannot create: %s", dir, strerror(e));
  }
  dq->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dq->dir_fd < 0) {
    int e = errno;
    dq_free(dq);
    return tg_errf(err, TG_EIO, "%s: cannot open: %s", dir, strerror(e));
  }
  dq->lock_fd = openat(dq->dir_fd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (dq->lock_fd < 0 || flock(dq->lock_fd, LOCK_EX | LOCK_NB)) {
    int e = errno;
    dq_free(dq);
    return tg_errf(err, TG_EIO, "%s: %s", dir,
                   e == EWOULDBLOCK ? "in use by another process" : strerror(e));
  }
  dq->cursor_fd = openat(dq->dir_fd, "cursor", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (dq->cursor_fd < 0) {
    int e = errno;
    dq_free(dq);
    return tg_errf(err, TG_EIO, "%s/cursor: %s", dir, strerror(e));
  }
  if (pthread_mutex_init(&dq->lock, NULL)) {
    dq_free(dq);
    return tg_errf(err, TG_ENOMEM, "out of memory");
  }
  if (cond_init_mono(&dq->flush_cond)) {
    pthread_mutex_destroy(&dq->lock);
    dq_free(dq);
    return tg_errf(err, TG_ENOMEM, "out of memory");
  }
  register_metrics(dq, metrics);
  int rc = replay(dq, err);
  if (rc == TG_OK && seg_create(dq) != TG_OK)
    rc = tg_errf(err, TG_EIO, "%s: cannot create a segment: %s", dir, strerror(errno));
  if (rc == TG_OK && conf->fsync == TG_FSYNC_BATCH) {
    if (pthread_create(&dq->flusher, NULL, flusher_main, dq))
      rc = tg_errf(err, TG_EIO, "%s: cannot start the flusher thread", dir);
    else
      dq->flusher_running = 1;
  }
  if (rc != TG_OK) {
    pthread_cond_destroy(&dq->flush_cond);
    pthread_mutex_destroy(&dq->lock);
    dq_free(dq);
    return rc;
  }
  if (dq->flusher_running)
    pthread_setname_np(dq->flusher, "tg-fsync");
  cursor_write(dq);
  publish(dq);
  if (dq->st.replayed_records || dq->st.corrupt_skipped)
    TG_LOG_INFO(log, dq->log_name,
                "disk queue %s: replaying %" PRIu64 " request(s) with %" PRIu64
                " spans (%" PRIu64 " spans possibly sent before), %" PRIu64
                " damaged tail(s) skipped", dir, dq->st.replayed_records,
                dq->st.replayed_spans, dq->st.possible_duplicates, dq->st.corrupt_skipped);
  *out = dq;
  return TG_OK;
}

void tg_disk_queue_close(tg_disk_queue *dq) {
  if (!dq)
    return;
  pthread_mutex_lock(&dq->lock);
  dq->closing = 1;
  pthread_cond_broadcast(&dq->flush_cond);
  pthread_mutex_unlock(&dq->lock);
  if (dq->flusher_running)
    pthread_join(dq->flusher, NULL);
  if (dq->conf.fsync != TG_FSYNC_NEVER) {
    for (size_t i = 0; i < dq->n_segs; i++)
      if (!dq->segs[i].synced)
        timed_sync(dq, dq->segs[i].fd);
    timed_sync(dq, dq->cursor_fd);
    timed_sync(dq, dq->dir_fd);
  }
  /* An empty write segment is not worth keeping. */
  if (dq->n_segs && dq->segs[dq->n_segs - 1].size == 0) {
    char name[32];
    seg_name(name, dq->segs[dq->n_segs - 1].first_seq);
    unlinkat(dq->dir_fd, name, 0);
  }
  pthread_cond_destroy(&dq->flush_cond);
  pthread_mutex_destroy(&dq->lock);
  dq_free(dq);
}

/* ---- append ---- */

int tg_disk_queue_has_room(tg_disk_queue *dq, size_t len) {
  pthread_mutex_lock(&dq->lock);
  int ok = !dq->conf.max_bytes || !dq->pending_records ||
           dq->bytes + TG_DISK_RECORD_HEADER + len <= dq->conf.max_bytes;
  pthread_mutex_unlock(&dq->lock);
  return ok;
}

int tg_disk_queue_append(tg_disk_queue *dq, const void *data, size_t len, uint32_t spans) {
  uint64_t max_rec = dq->conf.max_record_bytes ? dq->conf.max_record_bytes : DEFAULT_MAX_RECORD;
  if (len > max_rec || len > UINT32_MAX)
    return TG_ETOOBIG;
  uint64_t rec = TG_DISK_RECORD_HEADER + (uint64_t)len;
  pthread_mutex_lock(&dq->lock);
  if (dq->conf.max_bytes && dq->pending_records && dq->bytes + rec > dq->conf.max_bytes) {
    dq->st.refused_bound++;
    tg_metric_add(dq->m_ref_bound, 1);
    pthread_mutex_unlock(&dq->lock);
    return TG_EAGAIN;
  }
  segment *ws = &dq->segs[dq->n_segs - 1];
  if (ws->size && ws->size + rec > dq->conf.segment_bytes) {
    if (seg_create(dq) != TG_OK) {
      dq->st.refused_io++;
      tg_metric_add(dq->m_ref_io, 1);
      pthread_mutex_unlock(&dq->lock);
      return TG_EAGAIN;
    }
    seg_collect(dq);
    ws = &dq->segs[dq->n_segs - 1];
  }
  uint8_t hdr[TG_DISK_RECORD_HEADER];
  tg_disk_record_header(hdr, dq->next_seq, spans, data, len);
  struct iovec iov[2] = {{hdr, sizeof hdr}, {(void *)data, len}};
  ssize_t w = pwritev(ws->fd, iov, len ? 2 : 1, (off_t)ws->size);
  if (w != (ssize_t)rec) {
    int e = w < 0 ? errno : ENOSPC;
    if (w > 0 && ftruncate(ws->fd, (off_t)ws->size)) {
      /* cannot cut it off: replay will skip the torn record as damaged */
    }
    dq->st.refused_io++;
    tg_metric_add(dq->m_ref_io, 1);
    pthread_mutex_unlock(&dq->lock);
    TG_LOG_WARN(dq->log, dq->log_name, "disk queue: write refused: %s", strerror(e));
    return TG_EAGAIN;
  }
  if (dq->conf.fsync == TG_FSYNC_ALWAYS) {
    timed_sync(dq, ws->fd);
  } else if (dq->conf.fsync == TG_FSYNC_BATCH) {
    ws->synced = 0;
    if (!dq->dirty) {
      dq->dirty = 1;
      dq->dirty_since_ms = mono_us() / 1000;
      pthread_cond_signal(&dq->flush_cond);
    }
  }
  ws->size += rec;
  ws->valid = ws->size;
  ws->end_seq = dq->next_seq + 1;
  ws->unacked++;
  dq->next_seq++;
  dq->bytes += rec;
  dq->pending_records++;
  dq->pending_spans += spans;
  publish(dq);
  pthread_mutex_unlock(&dq->lock);
  return TG_OK;
}

/* ---- read ---- */

/* Moves the reader past exhausted segments. 1 when a record may be at (rseg, roff). */
static int reader_settle(tg_disk_queue *dq) {
  for (;;) {
    segment *s = &dq->segs[dq->rseg];
    if (dq->roff < s->valid)
      return 1;
    if (dq->rseg + 1 >= dq->n_segs)
      return 0;
    dq->rseg++;
    dq->roff = 0;
  }
}

int tg_disk_queue_has_next(tg_disk_queue *dq) {
  pthread_mutex_lock(&dq->lock);
  int yes = dq->n_out < TG_DISK_MAX_IN_FLIGHT && dq->pending_records > dq->n_out &&
            reader_settle(dq);
  pthread_mutex_unlock(&dq->lock);
  return yes;
}

/* Drops the rest of the reader's segment as damaged. Lock held. */
static void reader_skip_segment(tg_disk_queue *dq) {
  segment *s = &dq->segs[dq->rseg];
  char name[32];
  seg_name(name, s->first_seq);
  count_corrupt(dq, s->valid - dq->roff, name, dq->roff);
  s->valid = dq->roff;
  /* The records still pending in the skipped part are lost: off the counts. */
  uint64_t still = 0;
  for (size_t i = 0; i < dq->n_fly; i++)
    if (dq->fly[i].out && dq->fly[i].seq >= s->first_seq && dq->fly[i].seq < s->end_seq)
      still++;
  if (s->unacked > still) {
    dq->pending_records -= s->unacked - still;
    s->unacked = still;
  }
  publish(dq);
}

int tg_disk_queue_pop(tg_disk_queue *dq, tg_disk_record *rec) {
  uint64_t max_rec = dq->conf.max_record_bytes ? dq->conf.max_record_bytes : DEFAULT_MAX_RECORD;
  pthread_mutex_lock(&dq->lock);
  for (;;) {
    if (!reader_settle(dq)) {
      pthread_mutex_unlock(&dq->lock);
      return TG_EAGAIN;
    }
    segment *s = &dq->segs[dq->rseg];
    uint8_t hdr[TG_DISK_RECORD_HEADER];
    uint32_t len = 0;
    if (s->valid - dq->roff < TG_DISK_RECORD_HEADER ||
        pread(s->fd, hdr, sizeof hdr, (off_t)dq->roff) != (ssize_t)sizeof hdr ||
        header_check(hdr, max_rec, &len) != TG_OK ||
        s->valid - dq->roff - TG_DISK_RECORD_HEADER < len) {
      reader_skip_segment(dq);
      continue;
    }
    uint64_t seq = get64(hdr + 8);
    in_flight *old = NULL;
    if (seq < dq->hw) { /* handed out before: only an unreturned entry goes again */
      old = fly_find(dq, seq);
      if (!old || old->out) {
        dq->roff += TG_DISK_RECORD_HEADER + (uint64_t)len;
        continue;
      }
    } else if (dq->n_fly >= TG_DISK_MAX_IN_FLIGHT) {
      pthread_mutex_unlock(&dq->lock);
      return TG_EAGAIN;
    }
    uint8_t *data = tg_malloc(len ? len : 1);
    if (!data) {
      pthread_mutex_unlock(&dq->lock);
      return TG_ENOMEM;
    }
    if ((len && pread(s->fd, data, len, (off_t)(dq->roff + TG_DISK_RECORD_HEADER)) !=
                    (ssize_t)len) ||
        payload_check(hdr, data, len) != TG_OK) {
      tg_free(data);
      /* The pending records of the skipped tail are gone: take them off the counts. */
      reader_skip_segment(dq);
      continue;
    }
    dq->roff += TG_DISK_RECORD_HEADER + (uint64_t)len;
    rec->seq = seq;
    rec->spans = get32(hdr + 16);
    rec->data = data;
    rec->len = len;
    if (old) {
      rec->replayed = 2;
      old->out = 1;
    } else {
      rec->replayed = seq < dq->replay_end;
      dq->fly[dq->n_fly++] = (in_flight){.seq = seq, .spans = rec->spans, .out = 1};
      dq->hw = seq + 1;
    }
    dq->n_out++;
    cursor_write(dq);
    pthread_mutex_unlock(&dq->lock);
    return TG_OK;
  }
}

void tg_disk_queue_ack(tg_disk_queue *dq, uint64_t seq) {
  pthread_mutex_lock(&dq->lock);
  size_t i = 0;
  while (i < dq->n_fly && dq->fly[i].seq != seq)
    i++;
  if (i == dq->n_fly) {
    pthread_mutex_unlock(&dq->lock);
    return;
  }
  if (!dq->fly[i].out) {
    pthread_mutex_unlock(&dq->lock);
    return;
  }
  uint32_t spans = dq->fly[i].spans;
  dq->fly[i] = dq->fly[--dq->n_fly];
  dq->n_out--;
  dq->pending_records--;
  dq->pending_spans -= spans;
  for (size_t k = 0; k < dq->n_segs; k++) {
    if (seq >= dq->segs[k].first_seq && seq < dq->segs[k].end_seq) {
      if (dq->segs[k].unacked)
        dq->segs[k].unacked--;
      break;
    }
  }
  cursor_write(dq);
  seg_collect(dq);
  publish(dq);
  pthread_mutex_unlock(&dq->lock);
}

void tg_disk_queue_stats_get(tg_disk_queue *dq, tg_disk_queue_stats *st) {
  pthread_mutex_lock(&dq->lock);
  *st = dq->st;
  st->pending_records = dq->pending_records;
  st->pending_spans = dq->pending_spans;
  st->bytes = dq->bytes;
  st->fsyncs = __atomic_load_n(&dq->st.fsyncs, __ATOMIC_RELAXED);
  pthread_mutex_unlock(&dq->lock);
}
