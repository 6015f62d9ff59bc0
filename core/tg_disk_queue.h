/* The disk queue: a write-ahead log of encoded export requests in one directory, for
 * the sending queue's `sending_queue.storage` (the file_storage extension opens one per
 * exporter). Records are appended to segment files, handed to senders in order, and
 * acknowledged when a sender is done with them (delivered, or given up and counted).
 *
 * On disk, in the queue's directory:
 *   <first-seq, 16 hex>.seg  segments of records, each
 *       u32 magic "TGR1" | u32 payload length | u64 seq | u32 spans | u32 crc32c | payload
 *     (little endian; the CRC32C covers length, seq, spans and the payload)
 *   cursor                   two alternating slots, each with a generation and a CRC:
 *       the lowest unacknowledged seq, the next seq to hand out, and the seqs handed out
 *       and not yet acknowledged (in flight)
 *   lock                     flock()ed while open: one process per queue
 * On open the segments are replayed: records below the cursor are delivered, records
 * that were in flight are handed out again and counted as possible duplicates (that is
 * the bound on duplicates after a crash: at most the records in flight), everything
 * after them is pending. A record that does not check (torn write at a crash, flipped
 * bits) ends its segment: the rest of that segment is skipped and counted, never fatal.
 * New records always go to a fresh segment, so a damaged tail is never appended to.
 *
 * Threads: every function may be called from any thread; one mutex guards the queue.
 * append runs on the caller's thread (the loop thread: the client is answered only
 * after its data is in the log); with fsync "batch" a flusher thread fdatasyncs the
 * written segments at most fsync_interval after the write. */
#ifndef TG_DISK_QUEUE_H
#define TG_DISK_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "tg_error.h"

struct tg_metrics;
struct tg_logger;

typedef enum tg_fsync_policy {
  TG_FSYNC_BATCH,  /* group commit: fdatasync at most fsync_interval after a write */
  TG_FSYNC_ALWAYS, /* fdatasync before append returns */
  TG_FSYNC_NEVER,  /* the kernel writes back when it likes (survives a process crash,
                      not a power loss) */
} tg_fsync_policy;

typedef struct tg_disk_queue_conf {
  uint64_t max_bytes;         /* bound on the segments' bytes on disk; 0 = none */
  uint64_t segment_bytes;     /* a segment is closed past this size (>= 4096) */
  tg_fsync_policy fsync;
  uint64_t fsync_interval_ms; /* batch: the group-commit interval (>= 1) */
  uint64_t max_record_bytes;  /* records longer than this are refused / treated as
                                 corrupt on replay; 0 = 256 MiB */
} tg_disk_queue_conf;

/* Record header size on disk, and the magic. */
#define TG_DISK_RECORD_HEADER 24
#define TG_DISK_RECORD_MAGIC 0x31524754u /* "TGR1" little endian */
/* Seqs in flight (handed out, not acknowledged) at most; pop waits past it. */
#define TG_DISK_MAX_IN_FLIGHT 128

typedef struct tg_disk_queue tg_disk_queue;

/* What replay found (also kept as metrics). */
typedef struct tg_disk_queue_stats {
  uint64_t pending_records, pending_spans, bytes; /* now */
  uint64_t replayed_records, replayed_spans;      /* found pending at open */
  uint64_t possible_duplicates;                   /* of those: in flight at the crash */
  uint64_t corrupt_skipped, corrupt_bytes;        /* damaged records/tails skipped */
  uint64_t refused_bound, refused_io;             /* appends refused (TG_EAGAIN) */
  uint64_t fsyncs, fsync_us_total, fsync_us_max;
} tg_disk_queue_stats;

/* Opens (creating it if missing) the queue in directory `dir` and replays it. name labels
 * the metrics (label exporter=<name>) and log lines; metrics and log may be NULL.
 * Returns TG_OK with *out, or TG_ECONFIG/TG_EIO/TG_ENOMEM with detail in err (the
 * directory is not writable, another process holds it). Starts the flusher thread
 * for TG_FSYNC_BATCH. */
int tg_disk_queue_open(const char *dir, const tg_disk_queue_conf *conf, const char *name,
                       struct tg_logger *log, struct tg_metrics *metrics,
                       tg_disk_queue **out, tg_errbuf *err);

/* Appends one record (copied; the caller keeps data). Returns TG_OK once the record is
 * written (and, with TG_FSYNC_ALWAYS, synced), TG_EAGAIN when the byte bound has no room
 * or the disk refused the write (ENOSPC, EIO: counted, the partial record removed), or
 * TG_ETOOBIG for a record above max_record_bytes. A record larger than max_bytes is
 * still accepted when nothing is pending, so no request is refused forever. */
int tg_disk_queue_append(tg_disk_queue *dq, const void *data, size_t len, uint32_t spans);

/* 1 when pop would return a record now. */
int tg_disk_queue_has_next(tg_disk_queue *dq);

/* 1 when an append of len bytes would fit the byte bound. */
int tg_disk_queue_has_room(tg_disk_queue *dq, size_t len);

/* One record handed out. data is tg_malloc'd and the caller's (tg_free). */
typedef struct tg_disk_record {
  uint64_t seq;
  uint32_t spans;
  uint8_t *data;
  size_t len;
  int replayed; /* read back at open (1), or 2: was in flight at the crash */
} tg_disk_record;

/* Hands out the next pending record. TG_OK, TG_EAGAIN when none is pending or
 * TG_DISK_MAX_IN_FLIGHT are out, TG_ENOMEM. A record found damaged while reading is
 * skipped and counted (the rest of its segment with it), as at replay. */
int tg_disk_queue_pop(tg_disk_queue *dq, tg_disk_record *rec);

/* Acknowledges a popped record: it will not be handed out again, not even after a crash
 * (the cursor is written before this returns). Segments wholly acknowledged are deleted.
 * Unknown seqs are ignored. */
void tg_disk_queue_ack(tg_disk_queue *dq, uint64_t seq);

/* A popped record that is neither acknowledged nor released stays in flight: it is
 * handed out again at the next open (shutdown with the backend down, or a crash). */

/* Snapshot of the counters. */
void tg_disk_queue_stats_get(tg_disk_queue *dq, tg_disk_queue_stats *st);

/* Syncs (unless fsync is never), stops the flusher, closes every file and frees. What is
 * pending stays on disk. NULL is ignored. */
void tg_disk_queue_close(tg_disk_queue *dq);

/* ---- the record format, for the fuzz target and tests ---- */

/* Reads the record at buf[0..len): TG_OK with *rec filled (rec->data points into buf,
 * not allocated) and *consumed its size; TG_EAGAIN when buf holds only part of a record
 * (a torn tail); TG_EDECODE when the magic, length bound or checksum is wrong.
 * max_record_bytes 0 = 256 MiB. */
int tg_disk_record_parse(const uint8_t *buf, size_t len, uint64_t max_record_bytes,
                         tg_disk_record *rec, size_t *consumed);

/* Writes the 24-byte header of a record with this payload. */
void tg_disk_record_header(uint8_t hdr[TG_DISK_RECORD_HEADER], uint64_t seq, uint32_t spans,
                           const void *payload, size_t len);

#endif
