/* gzip for scrapes: one shot at zlib level 1. A 10k-series scrape is ~35 MB of text and is
 * compressed on the loop thread; the default level took ~3x as long for ~20 % less. */
#ifndef TG_PROM_GZIP_H
#define TG_PROM_GZIP_H

#include <stddef.h>
#include <stdint.h>

#include "tg_buf.h"

/* Replaces out's contents with the gzip of in[0..len). TG_OK or TG_ENOMEM (out freed). */
int tg_prom_gzip(const uint8_t *in, size_t len, tg_buf *out);

#endif
