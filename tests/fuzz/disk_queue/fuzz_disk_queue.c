/* libFuzzer target for the disk queue's record reader: the input is taken as a segment
 * file's bytes. First the pure parser walks it record by record; then the bytes are
 * written as a real segment and the queue is opened on it (replay), and every record it
 * hands out is checked against the parser's walk: a damaged record must end the segment
 * (skipped and counted), never crash or hand out bytes that did not check. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tg_alloc.h"
#include "tg_disk_queue.h"

static char dir[64];

static void clean(void) {
  char p[128];
  snprintf(p, sizeof p, "%s/0000000000000001.seg", dir);
  unlink(p);
  snprintf(p, sizeof p, "%s/cursor", dir);
  unlink(p);
}

static void remove_dir(void) {
  clean();
  char p[128];
  snprintf(p, sizeof p, "%s/lock", dir);
  unlink(p);
  rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!dir[0]) {
    snprintf(dir, sizeof dir, "/tmp/tg-fuzz-dq-XXXXXX");
    if (!mkdtemp(dir))
      abort();
    atexit(remove_dir);
  }
  /* the parser's walk */
  size_t off = 0, n_valid = 0;
  uint64_t seqs[64];
  for (;;) {
    tg_disk_record rec;
    size_t used = 0;
    if (tg_disk_record_parse(data + off, size - off, 1 << 20, &rec, &used) != TG_OK)
      break;
    if (n_valid && rec.seq <= seqs[(n_valid - 1) % 64])
      break; /* the queue also ends a segment at a seq that does not increase */
    seqs[n_valid % 64] = rec.seq;
    n_valid++;
    off += used;
  }
  /* replay of the same bytes as a segment */
  clean();
  char p[128];
  snprintf(p, sizeof p, "%s/0000000000000001.seg", dir);
  FILE *f = fopen(p, "wb");
  if (!f)
    abort();
  if (size && fwrite(data, 1, size, f) != size)
    abort();
  fclose(f);
  tg_disk_queue_conf c = {.segment_bytes = 1 << 20, .fsync = TG_FSYNC_NEVER,
                          .max_record_bytes = 1 << 20};
  tg_disk_queue *dq = NULL;
  tg_errbuf err;
  if (tg_disk_queue_open(dir, &c, "fuzz", NULL, NULL, &dq, &err) != TG_OK)
    abort();
  tg_disk_queue_stats st;
  tg_disk_queue_stats_get(dq, &st);
  if (st.replayed_records != n_valid)
    abort();
  size_t popped = 0;
  tg_disk_record rec;
  while (tg_disk_queue_pop(dq, &rec) == TG_OK) {
    popped++;
    tg_disk_queue_ack(dq, rec.seq);
    tg_free(rec.data);
  }
  if (popped != n_valid || (off < size && st.corrupt_skipped != 1))
    abort();
  tg_disk_queue_close(dq);
  clean();
  /* the queue removes what it no longer needs; remove whatever is left */
  snprintf(p, sizeof p, "%s/lock", dir);
  unlink(p);
  return 0;
}
