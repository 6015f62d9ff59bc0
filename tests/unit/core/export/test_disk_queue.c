/* The disk queue: append/pop/ack round trip, replay after a "crash" (close without
 * acknowledging) with the in-flight records counted as possible duplicates and the
 * acknowledged ones never seen again, a torn tail and a flipped bit skipped and counted,
 * segment rotation and deletion, the byte bound (TG_EAGAIN), and the record parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tg_alloc.h"
#include "tg_crc32c.h"
#include "tg_disk_queue.h"
#include "tg_error.h"

static char dir[256];

static int setup(void **state) {
  (void)state;
  snprintf(dir, sizeof dir, "/tmp/tg-dq-test-XXXXXX");
  assert_non_null(mkdtemp(dir));
  return 0;
}

static int teardown(void **state) {
  (void)state;
  DIR *d = opendir(dir);
  struct dirent *de;
  char path[512];
  while (d && (de = readdir(d))) {
    if (de->d_name[0] == '.')
      continue;
    snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
    unlink(path);
  }
  if (d)
    closedir(d);
  rmdir(dir);
  return 0;
}

static tg_disk_queue_conf conf_of(uint64_t max_bytes, uint64_t segment) {
  return (tg_disk_queue_conf){.max_bytes = max_bytes, .segment_bytes = segment,
                              .fsync = TG_FSYNC_NEVER, .fsync_interval_ms = 10};
}

static tg_disk_queue *open_q(const tg_disk_queue_conf *c) {
  tg_disk_queue *dq = NULL;
  tg_errbuf err = {{0}};
  int rc = tg_disk_queue_open(dir, c, "test", NULL, NULL, &dq, &err);
  if (rc)
    fail_msg("open: %s", err.msg);
  return dq;
}

/* Payload i: "rec-<i>" padded with i's low byte to `len` bytes. */
static void payload(char *buf, size_t len, int i) {
  memset(buf, 'a' + i % 26, len);
  char tag[16];
  int n = snprintf(tag, sizeof tag, "rec-%06d", i);
  memcpy(buf, tag, (size_t)n < len ? (size_t)n : len);
}

static void append_n(tg_disk_queue *dq, int from, int n, size_t len) {
  char buf[4096];
  for (int i = from; i < from + n; i++) {
    payload(buf, len, i);
    assert_int_equal(tg_disk_queue_append(dq, buf, len, (uint32_t)i), TG_OK);
  }
}

/* Pops one record and checks it is payload i. Returns its seq. */
static uint64_t pop_expect(tg_disk_queue *dq, int i, size_t len, int replayed) {
  tg_disk_record rec;
  assert_int_equal(tg_disk_queue_pop(dq, &rec), TG_OK);
  char want[4096];
  payload(want, len, i);
  assert_int_equal(rec.len, len);
  assert_memory_equal(rec.data, want, len);
  assert_int_equal(rec.spans, (uint32_t)i);
  assert_int_equal(rec.replayed, replayed);
  tg_free(rec.data);
  return rec.seq;
}

static void test_crc32c_known_values(void **state) {
  (void)state;
  /* The standard check value of CRC-32C ("123456789") and the iSCSI all-zero vector. */
  assert_int_equal(tg_crc32c(0, "123456789", 9), 0xE3069283u);
  uint8_t zeros[32] = {0};
  assert_int_equal(tg_crc32c(0, zeros, 32), 0x8A9136AAu);
  /* Continuation equals one pass, across the 8-byte fast path. */
  const char *s = "the quick brown fox jumps over the lazy dog";
  assert_int_equal(tg_crc32c(tg_crc32c(0, s, 13), s + 13, strlen(s) - 13),
                   tg_crc32c(0, s, strlen(s)));
  /* The hardware path (when the CPU has one) and the software path agree, at every
   * alignment and length. */
  uint8_t buf[300];
  for (size_t i = 0; i < sizeof buf; i++)
    buf[i] = (uint8_t)(i * 131 + 7);
  assert_int_equal(tg_crc32c_sw(0, "123456789", 9), 0xE3069283u);
  for (size_t off = 0; off < 9; off++)
    for (size_t len = 0; len + off <= sizeof buf; len += 37)
      assert_int_equal(tg_crc32c(5, buf + off, len), tg_crc32c_sw(5, buf + off, len));
}

static void test_round_trip_and_ack(void **state) {
  (void)state;
  tg_disk_queue_conf c = conf_of(0, 1 << 20);
  tg_disk_queue *dq = open_q(&c);
  append_n(dq, 1, 5, 100);
  tg_disk_queue_stats st;
  tg_disk_queue_stats_get(dq, &st);
  assert_int_equal(st.pending_records, 5);
  assert_int_equal(st.pending_spans, 1 + 2 + 3 + 4 + 5);
  assert_int_equal(st.bytes, 5 * (TG_DISK_RECORD_HEADER + 100));
  for (int i = 1; i <= 5; i++)
    tg_disk_queue_ack(dq, pop_expect(dq, i, 100, 0));
  tg_disk_record rec;
  assert_int_equal(tg_disk_queue_pop(dq, &rec), TG_EAGAIN);
  assert_int_equal(tg_disk_queue_has_next(dq), 0);
  tg_disk_queue_stats_get(dq, &st);
  assert_int_equal(st.pending_records, 0);
  assert_int_equal(st.pending_spans, 0);
  tg_disk_queue_close(dq);
  /* Reopen: everything was acknowledged, nothing comes back. */
  dq = open_q(&c);
  tg_disk_queue_stats_get(dq, &st);
  assert_int_equal(st.replayed_records, 0);
  assert_int_equal(tg_disk_queue_pop(dq, &rec), TG_EAGAIN);
  /* New records continue after the old seqs. */
  append_n(dq, 6, 1, 50);
  tg_disk_queue_ack(dq, pop_expect(dq, 6, 50, 0));
  tg_disk_queue_close(dq);
}

static void test_replay_after_crash(void **state) {
  (void)state;
  tg_disk_queue_conf c = conf_of(0, 1 << 20);
  tg_disk_queue *dq = open_q(&c);
  append_n(dq, 1, 6, 64);
  uint64_t s1 = pop_expect(dq, 1, 64, 0);
  uint64_t s2 = pop_expect(dq, 2, 64, 0);
  uint64_t s3 = pop_expect(dq, 3, 64, 0);
  tg_disk_queue_ack(dq, s2); /* delivered out of order */
  (void)s1;
  (void)s3;
  /* "crash": close without acknowledging 1 and 3 (close only syncs and frees) */
  tg_disk_queue_close(dq);
  dq = open_q(&c);
  tg_disk_queue_stats st;
  tg_disk_queue_stats_get(dq, &st);
  assert_int_equal(st.replayed_records, 5);              /* 1, 3, 4, 5, 6 */
  assert_int_equal(st.replayed_spans, 1 + 3 + 4 + 5 + 6);
  assert_int_equal(st.possible_duplicates, 1 + 3);       /* the two in flight */
  /* 1 and 3 come back marked as possibly sent, 2 never again, then 4..6. */
  tg_disk_queue_ack(dq, pop_expect(dq, 1, 64, 2));
  /* crash again with 3 not yet handed out: it must still come back next time */
  tg_disk_queue_close(dq);
  dq = open_q(&c);
  tg_disk_queue_stats_get(dq, &st);
  assert_int_equal(st.replayed_records, 4);
  assert_int_equal(st.possible_duplicates, 3);
  tg_disk_queue_ack(dq, pop_expect(dq, 3, 64, 2));
  tg_disk_queue_ack(dq, pop_expect(dq, 4, 64, 1));
  tg_disk_queue_ack(dq, pop_expect(dq, 5, 64, 1));
  tg_disk_queue_ack(dq, pop_expect(dq, 6, 64, 1));
  tg_disk_record rec;
  assert_int_equal(tg_disk_queue_pop(dq, &rec), TG_EAGAIN);
  tg_disk_queue_close(dq);
}

/* Path of the only (or first) segment file. */
static void first_segment(char *out, size_t n) {
  DIR *d = opendir(dir);
  struct dirent *de;
  char best[256] = "";
  while ((de = readdir(d)))
    if (strstr(de->d_name, ".seg") && (!best[0] || strcmp(de->d_name, best) < 0))
      memcpy(best, de->d_name, strlen(de->d_name) + 1);
  closedir(d);
  assert_true(best[0]);
  snprintf(out, n, "%s/%s", dir, best);
}

static void test_torn_tail_skipped(void **state) {
  (void)state;
  tg_disk_queue_conf c = conf_of(0, 1 << 20);
  tg_disk_queue *dq = open_q(&c);
  append_n(dq, 1, 3, 100);
  tg_disk_queue_close(dq);
  char path[600];
  first_segment(path, sizeof path);
  /* cut the last record in half, as a crash mid-write would */
  off_t full = 3 * (TG_DISK_RECORD_HEADER + 100);
  assert_int_equal(truncate(path, full - 60), 0);
  dq = open_q(&c);
  tg_disk_queue_stats st;
  tg_disk_queue_stats_get(dq, &st);
  assert_int_equal(st.replayed_records, 2);
  assert_int_equal(st.corrupt_skipped, 1);
  assert_int_equal(st.corrupt_bytes, TG_DISK_RECORD_HEADER + 100 - 60);
  tg_disk_queue_ack(dq, pop_expect(dq, 1, 100, 1));
  tg_disk_queue_ack(dq, pop_expect(dq, 2, 100, 1));
  /* new appends go to a new segment and work */
  append_n(dq, 7, 1, 10);
  tg_disk_queue_ack(dq, pop_expect(dq, 7, 10, 0));
  tg_disk_record rec;
  assert_int_equal(tg_disk_queue_pop(dq, &rec), TG_EAGAIN);
  tg_disk_queue_close(dq);
}

static void test_corrupt_checksum_skipped(void **state) {
  (void)state;
  tg_disk_queue_conf c = conf_of(0, 1 << 20);
  tg_disk_queue *dq = open_q(&c);
  append_n(dq, 1, 4, 100);
  tg_disk_queue_close(dq);
  char path[600];
  first_segment(path, sizeof path);
  /* flip one payload bit of record 3: records 3 and 4 (the rest of the segment) go */
  int fd = open(path, O_RDWR);
  off_t at = 2 * (TG_DISK_RECORD_HEADER + 100) + TG_DISK_RECORD_HEADER + 50;
  uint8_t b;
  assert_int_equal(pread(fd, &b, 1, at), 1);
  b ^= 0x10;
  assert_int_equal(pwrite(fd, &b, 1, at), 1);
  close(fd);
  dq = open_q(&c);
  tg_disk_queue_stats st;
  tg_disk_queue_stats_get(dq, &st);
  assert_int_equal(st.replayed_records, 2);
  assert_int_equal(st.corrupt_skipped, 1);
  assert_int_equal(st.corrupt_bytes, 2 * (TG_DISK_RECORD_HEADER + 100));
  tg_disk_queue_ack(dq, pop_expect(dq, 1, 100, 1));
  tg_disk_queue_ack(dq, pop_expect(dq, 2, 100, 1));
  tg_disk_record rec;
  assert_int_equal(tg_disk_queue_pop(dq, &rec), TG_EAGAIN);
  tg_disk_queue_close(dq);
}

static size_t count_segments(void) {
  DIR *d = opendir(dir);
  struct dirent *de;
  size_t n = 0;
  while ((de = readdir(d)))
    n += strstr(de->d_name, ".seg") != NULL;
  closedir(d);
  return n;
}

static void test_rotation_and_deletion(void **state) {
  (void)state;
  /* 4 KiB segments, 1000-byte records (1024 on disk): 4 records per segment */
  tg_disk_queue_conf c = conf_of(0, 4096);
  tg_disk_queue *dq = open_q(&c);
  append_n(dq, 1, 10, 1000);
  assert_int_equal(count_segments(), 3);
  for (int i = 1; i <= 4; i++)
    tg_disk_queue_ack(dq, pop_expect(dq, i, 1000, 0));
  /* the first segment goes once the reader left it */
  uint64_t s5 = pop_expect(dq, 5, 1000, 0);
  assert_int_equal(count_segments(), 2);
  tg_disk_queue_stats st;
  tg_disk_queue_stats_get(dq, &st);
  assert_int_equal(st.bytes, 6 * 1024);
  tg_disk_queue_ack(dq, s5);
  tg_disk_queue_close(dq);
  /* replay across segments keeps order */
  dq = open_q(&c);
  tg_disk_queue_stats_get(dq, &st);
  assert_int_equal(st.replayed_records, 5);
  assert_int_equal(st.possible_duplicates, 0);
  for (int i = 6; i <= 10; i++)
    tg_disk_queue_ack(dq, pop_expect(dq, i, 1000, 1));
  tg_disk_queue_close(dq);
}

static void test_byte_bound(void **state) {
  (void)state;
  tg_disk_queue_conf c = conf_of(3 * 1024, 4096);
  tg_disk_queue *dq = open_q(&c);
  append_n(dq, 1, 3, 1000);
  char buf[1000];
  payload(buf, sizeof buf, 4);
  assert_int_equal(tg_disk_queue_append(dq, buf, sizeof buf, 4), TG_EAGAIN);
  assert_int_equal(tg_disk_queue_has_room(dq, 1000), 0);
  tg_disk_queue_stats st;
  tg_disk_queue_stats_get(dq, &st);
  assert_int_equal(st.refused_bound, 1);
  assert_int_equal(st.pending_records, 3);
  tg_disk_queue_close(dq);
  /* with nothing pending, an oversized record is still taken (never refused forever) */
  teardown(NULL);
  setup(NULL);
  c = conf_of(512, 4096);
  dq = open_q(&c);
  assert_int_equal(tg_disk_queue_append(dq, buf, sizeof buf, 4), TG_OK);
  assert_int_equal(tg_disk_queue_append(dq, buf, sizeof buf, 4), TG_EAGAIN);
  tg_disk_queue_close(dq);
}

static void test_second_open_refused(void **state) {
  (void)state;
  tg_disk_queue_conf c = conf_of(0, 4096);
  tg_disk_queue *dq = open_q(&c);
  tg_disk_queue *dq2 = NULL;
  tg_errbuf err = {{0}};
  assert_int_equal(tg_disk_queue_open(dir, &c, "again", NULL, NULL, &dq2, &err), TG_EIO);
  assert_null(dq2);
  assert_non_null(strstr(err.msg, "in use"));
  tg_disk_queue_close(dq);
}

static void test_fsync_policies_count(void **state) {
  (void)state;
  tg_disk_queue_conf c = conf_of(0, 1 << 20);
  c.fsync = TG_FSYNC_ALWAYS;
  tg_disk_queue *dq = open_q(&c);
  tg_disk_queue_stats st0, st;
  tg_disk_queue_stats_get(dq, &st0);
  append_n(dq, 1, 3, 10);
  tg_disk_queue_stats_get(dq, &st);
  assert_int_equal(st.fsyncs - st0.fsyncs, 3); /* one per append */
  tg_disk_queue_close(dq);
  c.fsync = TG_FSYNC_BATCH;
  c.fsync_interval_ms = 5;
  dq = open_q(&c);
  append_n(dq, 4, 50, 10);
  /* the flusher syncs within the interval: poll with a deadline */
  for (int i = 0; i < 400; i++) {
    tg_disk_queue_stats_get(dq, &st);
    if (st.fsyncs > 0)
      break;
    usleep(5000);
  }
  assert_true(st.fsyncs > 0);
  assert_true(st.fsyncs < 50); /* grouped, not one per append */
  tg_disk_queue_close(dq);
}

static void test_record_parse(void **state) {
  (void)state;
  uint8_t buf[64];
  const char *p = "hello";
  tg_disk_record_header(buf, 42, 7, p, 5);
  memcpy(buf + TG_DISK_RECORD_HEADER, p, 5);
  tg_disk_record rec;
  size_t used = 0;
  assert_int_equal(tg_disk_record_parse(buf, TG_DISK_RECORD_HEADER + 5, 0, &rec, &used), TG_OK);
  assert_int_equal(used, TG_DISK_RECORD_HEADER + 5);
  assert_int_equal(rec.seq, 42);
  assert_int_equal(rec.spans, 7);
  assert_memory_equal(rec.data, "hello", 5);
  assert_int_equal(tg_disk_record_parse(buf, TG_DISK_RECORD_HEADER + 4, 0, &rec, &used), TG_EAGAIN);
  assert_int_equal(tg_disk_record_parse(buf, 10, 0, &rec, &used), TG_EAGAIN);
  assert_int_equal(tg_disk_record_parse(buf, TG_DISK_RECORD_HEADER + 5, 4, &rec, &used),
                   TG_EDECODE); /* longer than the bound */
  buf[TG_DISK_RECORD_HEADER + 1] ^= 1;
  assert_int_equal(tg_disk_record_parse(buf, TG_DISK_RECORD_HEADER + 5, 0, &rec, &used),
                   TG_EDECODE);
  buf[0] = 'X';
  assert_int_equal(tg_disk_record_parse(buf, 3, 0, &rec, &used), TG_EDECODE);
}

/* A full disk, simulated with RLIMIT_FSIZE (writes past it fail with EFBIG, as ENOSPC
 * would): the append is refused with TG_EAGAIN and counted, the partial record is cut
 * off again, and once there is room appends work and replay sees only whole records. */
static void test_full_disk_refused_and_recovered(void **state) {
  (void)state;
  tg_disk_queue_conf c = conf_of(0, 1 << 20);
  tg_disk_queue *dq = open_q(&c);
  struct rlimit old;
  assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
  signal(SIGXFSZ, SIG_IGN);
  struct rlimit small = {.rlim_cur = 2500, .rlim_max = old.rlim_max};
  assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
  /* 1024 bytes per record on disk: two fit under 2500, the third is cut at 2500 */
  char buf[1000];
  payload(buf, sizeof buf, 1);
  assert_int_equal(tg_disk_queue_append(dq, buf, sizeof buf, 1), TG_OK);
  payload(buf, sizeof buf, 2);
  assert_int_equal(tg_disk_queue_append(dq, buf, sizeof buf, 2), TG_OK);
  payload(buf, sizeof buf, 3);
  int rc = tg_disk_queue_append(dq, buf, sizeof buf, 3);
  assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
  signal(SIGXFSZ, SIG_DFL);
  assert_int_equal(rc, TG_EAGAIN);
  tg_disk_queue_stats st;
  tg_disk_queue_stats_get(dq, &st);
  assert_int_equal(st.refused_io, 1);
  assert_int_equal(st.pending_records, 2);
  assert_int_equal(st.bytes, 2 * 1024);
  char path[600];
  first_segment(path, sizeof path);
  struct stat sb;
  assert_int_equal(stat(path, &sb), 0);
  assert_int_equal(sb.st_size, 2 * 1024); /* the torn third record was cut off */
  /* room again: the refused record can be appended now */
  assert_int_equal(tg_disk_queue_append(dq, buf, sizeof buf, 3), TG_OK);
  tg_disk_queue_close(dq);
  dq = open_q(&c);
  tg_disk_queue_stats_get(dq, &st);
  assert_int_equal(st.replayed_records, 3);
  assert_int_equal(st.corrupt_skipped, 0);
  for (int i = 1; i <= 3; i++)
    tg_disk_queue_ack(dq, pop_expect(dq, i, 1000, 1));
  tg_disk_queue_close(dq);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_crc32c_known_values),
      cmocka_unit_test(test_record_parse),
      cmocka_unit_test_setup_teardown(test_round_trip_and_ack, setup, teardown),
      cmocka_unit_test_setup_teardown(test_replay_after_crash, setup, teardown),
      cmocka_unit_test_setup_teardown(test_torn_tail_skipped, setup, teardown),
      cmocka_unit_test_setup_teardown(test_corrupt_checksum_skipped, setup, teardown),
      cmocka_unit_test_setup_teardown(test_rotation_and_deletion, setup, teardown),
      cmocka_unit_test_setup_teardown(test_byte_bound, setup, teardown),
      cmocka_unit_test_setup_teardown(test_full_disk_refused_and_recovered, setup, teardown),
      cmocka_unit_test_setup_teardown(test_second_open_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_fsync_policies_count, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
