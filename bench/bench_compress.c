/* bench_compress: ratio and single-core speed of the exporters' candidate codecs on real
 * OTLP request bytes (docs/BENCHMARKS.md, "Compression").
 *
 * usage: bench_compress FILE [BATCH_REQUESTS] [SECONDS_PER_CODEC]
 *   FILE: requests written by `tg_loadgen --dump FILE --requests N` (4-byte big-endian
 *   length + ExportTraceServiceRequest bytes, repeated). Consecutive requests are joined
 *   into one message of BATCH_REQUESTS requests (default 82: ~8192 spans of 100-span
 *   requests, the batch processor's default send_batch_size). Concatenated requests are
 *   one valid request holding all their resource_spans, which is what an exporter sends
 *   after batch merged them; every message has fresh ids, as on the wire.
 *
 * Per codec and level: input bytes / compressed bytes, compression MB/s of input per core
 * (CPU time of this thread, CLOCK_THREAD_CPUTIME_ID), and decompression MB/s for the
 * codecs tailgate also receives. zlib is measured as tg_gzip_deflate did it until now
 * (a fresh z_stream per message) and with a reused z_stream (deflateReset), libdeflate,
 * zstd and snappy through tg_codec (a reused state per thread). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zlib.h>

#include "tg_alloc.h"
#include "tg_buf.h"
#include "tg_codec.h"
#include "tg_error.h"
#include "tg_gzip.h"

typedef struct msgs {
  uint8_t **data;
  size_t *len;
  size_t n, total;
} msgs;

static double cpu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int load(const char *path, size_t per_batch, msgs *m) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return -1;
  tg_buf cur;
  tg_buf_init(&cur, 0);
  size_t in_cur = 0, cap = 0;
  uint8_t hdr[4];
  *m = (msgs){0};
  for (;;) {
    int eof = fread(hdr, 1, 4, f) != 4;
    if (!eof) {
      size_t len = (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 | (size_t)hdr[2] << 8 | hdr[3];
      if (tg_buf_reserve(&cur, len) != TG_OK || fread(cur.data + cur.len, 1, len, f) != len) {
        fclose(f);
        return -1;
      }
      cur.len += len;
      in_cur++;
    }
    if ((eof && in_cur) || in_cur == per_batch) {
      if (m->n == cap) {
        cap = cap ? cap * 2 : 16;
        m->data = realloc(m->data, cap * sizeof *m->data);
        m->len = realloc(m->len, cap * sizeof *m->len);
      }
      size_t len = 0;
      uint8_t *data = tg_buf_steal(&cur, &len);
      m->data[m->n] = data;
      m->len[m->n] = len;
      m->total += len;
      m->n++;
      in_cur = 0;
    }
    if (eof)
      break;
  }
  fclose(f);
  return m->n ? 0 : -1;
}

typedef struct result {
  size_t in, out;
  double seconds;
} result;

enum { CODEC_ZLIB_FRESH = 100, CODEC_ZLIB_REUSED, CODEC_LIBDEFLATE_RAW };

/* Compresses every message repeatedly for at least `seconds` of CPU. */
static result run_compress(int codec, int level, const msgs *m, double seconds, tg_buf *keep) {
  result r = {0};
  tg_compressor *c = codec < 100 ? tg_compressor_new(codec, level) : NULL;
  z_stream zs;
  memset(&zs, 0, sizeof zs);
  if (codec == CODEC_ZLIB_REUSED)
    deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  tg_buf out;
  tg_buf_init(&out, 0);
  double t0 = cpu_now();
  int first = 1;
  while (cpu_now() - t0 < seconds || first) {
    for (size_t i = 0; i < m->n; i++) {
      out.len = 0;
      int rc = TG_OK;
      if (codec == CODEC_ZLIB_FRESH && level == 6) {
        rc = tg_gzip_deflate(m->data[i], m->len[i], &out);
      } else if (codec == CODEC_ZLIB_FRESH || codec == CODEC_ZLIB_REUSED) {
        if (codec == CODEC_ZLIB_FRESH)
          deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
        else
          deflateReset(&zs);
        size_t bound = deflateBound(&zs, m->len[i]);
        tg_buf_reserve(&out, bound);
        zs.next_in = m->data[i];
        zs.avail_in = (uInt)m->len[i];
        zs.next_out = out.data;
        zs.avail_out = (uInt)bound;
        rc = deflate(&zs, Z_FINISH) == Z_STREAM_END ? TG_OK : TG_ENOMEM;
        out.len = bound - zs.avail_out;
        if (codec == CODEC_ZLIB_FRESH)
          deflateEnd(&zs);
      } else {
        rc = tg_compressor_compress(c, m->data[i], m->len[i], &out);
      }
      if (rc != TG_OK) {
        fprintf(stderr, "compress failed: %s\n", tg_strerror(rc));
        exit(1);
      }
      r.in += m->len[i];
      r.out += out.len;
      if (first && keep) {
        tg_buf_append(&keep[i], out.data, out.len);
      }
    }
    first = 0;
  }
  r.seconds = cpu_now() - t0;
  if (codec == CODEC_ZLIB_REUSED)
    deflateEnd(&zs);
  tg_compressor_free(c);
  tg_buf_free(&out);
  return r;
}

static double run_decompress(int codec, const msgs *m, tg_buf *comp, double seconds) {
  tg_buf out;
  tg_buf_init(&out, 0);
  size_t in = 0;
  double t0 = cpu_now();
  do {
    for (size_t i = 0; i < m->n; i++) {
      out.len = 0;
      int rc = tg_codec_decompress(codec, comp[i].data, comp[i].len, 0, &out);
      if (rc != TG_OK || out.len != m->len[i] || memcmp(out.data, m->data[i], out.len)) {
        fprintf(stderr, "round trip failed (%s)\n", tg_strerror(rc));
        exit(1);
      }
      in += out.len;
    }
  } while (cpu_now() - t0 < seconds);
  double t = cpu_now() - t0;
  tg_buf_free(&out);
  return (double)in / t / 1e6;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: bench_compress FILE [BATCH_REQUESTS] [SECONDS_PER_CODEC]\n");
    return 2;
  }
  size_t per_batch = argc > 2 ? strtoul(argv[2], NULL, 10) : 82;
  double seconds = argc > 3 ? strtod(argv[3], NULL) : 1.0;
  msgs m;
  if (!per_batch || load(argv[1], per_batch, &m)) {
    fprintf(stderr, "bench_compress: cannot read %s\n", argv[1]);
    return 2;
  }
  printf("%zu messages, %.1f KiB each on average\n\n", m.n, (double)m.total / m.n / 1024);
  printf("| codec | level | ratio | compress MB/s per core | decompress MB/s |\n");
  printf("| --- | --- | --- | --- | --- |\n");
  static const struct {
    const char *name;
    int codec, level, decode;
  } rows[] = {
      {"zlib gzip, fresh stream per message (tg_gzip_deflate)", CODEC_ZLIB_FRESH, 6, 1},
      {"zlib gzip, fresh stream per message", CODEC_ZLIB_FRESH, 1, 0},
      {"zlib gzip, reused stream", CODEC_ZLIB_REUSED, 1, 0},
      {"zlib gzip, reused stream", CODEC_ZLIB_REUSED, 6, 0},
      {"libdeflate gzip (tg_codec)", TG_CODEC_GZIP, 1, 1},
      {"libdeflate gzip (tg_codec)", TG_CODEC_GZIP, 6, 0},
      {"zstd (tg_codec)", TG_CODEC_ZSTD, 1, 1},
      {"zstd (tg_codec)", TG_CODEC_ZSTD, 3, 0},
      {"snappy framed (tg_codec)", TG_CODEC_SNAPPY, 0, 1},
  };
  for (size_t k = 0; k < sizeof rows / sizeof rows[0]; k++) {
    tg_buf *keep = calloc(m.n, sizeof *keep);
    for (size_t i = 0; i < m.n; i++)
      tg_buf_init(&keep[i], 0);
    result r = run_compress(rows[k].codec, rows[k].level, &m, seconds, keep);
    char dec[32] = "";
    if (rows[k].decode) {
      int codec = rows[k].codec >= 100 ? TG_CODEC_GZIP : rows[k].codec;
      snprintf(dec, sizeof dec, "%.0f", run_decompress(codec, &m, keep, seconds / 2));
    }
    printf("| %s | %d | %.2f | %.0f | %s |\n", rows[k].name, rows[k].level,
           (double)r.in / (double)r.out, (double)r.in / r.seconds / 1e6, dec);
    for (size_t i = 0; i < m.n; i++)
      tg_buf_free(&keep[i]);
    free(keep);
  }
  for (size_t i = 0; i < m.n; i++)
    tg_free(m.data[i]);
  free(m.data);
  free(m.len);
  return 0;
}
