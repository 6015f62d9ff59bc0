/* gzip for scrapes: one shot at zlib level 1. A 10k-series scrape is ~35 MB of text and is
 * compressed on the loop thread; the default level took ~3x as long for ~20 % less. */
#ifndef TG_PROM_GZIP_H
#define TG_PROM_GZIP_H

#include <stddef.h>
#include <stdint.h>

#include "tg_buf.h"

/* Replaces out's contents with the gzip of in[0..len). TG_OK or TG_ENOMEM (out freed). */
int tg_prom_gzip(const uint8_t *in, size_t len, tg_buf *out);

/* Streaming gzip at the same level, for scrapes rendered in slices: memory is zlib's
 * state (~256 KiB at level 1) plus the caller's slice buffers, whatever the body size.
 * begin: TG_OK or TG_ENOMEM. feed appends the compressed form of in[0..len) to out;
 * mode TG_PROM_GZ_NONE lets zlib keep input back (out may stay empty: at ~35:1 a deflate
 * block spans megabytes of text), TG_PROM_GZ_SYNC forces out everything fed so far (a
 * byte-aligned flush costing a few bytes), TG_PROM_GZ_FINISH ends the stream with the gzip
 * trailer. end frees the state (safe after a failed begin, and twice). */
enum { TG_PROM_GZ_NONE, TG_PROM_GZ_SYNC, TG_PROM_GZ_FINISH };
typedef struct tg_prom_gzip_stream {
  void *zs; /* z_stream */
} tg_prom_gzip_stream;
int tg_prom_gzip_begin(tg_prom_gzip_stream *g);
int tg_prom_gzip_feed(tg_prom_gzip_stream *g, const uint8_t *in, size_t len, int mode,
                      tg_buf *out);
void tg_prom_gzip_end(tg_prom_gzip_stream *g);

#endif
