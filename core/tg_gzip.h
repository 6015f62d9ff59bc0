/* gzip/zlib helpers over zlib: bounded inflate for untrusted bodies (HTTP Content-Encoding,
 * gRPC grpc-encoding) and one-shot gzip deflate for exporters. */
#ifndef TG_GZIP_H
#define TG_GZIP_H

#include <stddef.h>
#include <stdint.h>

#include "tg_buf.h"

/* Inflates in[0..len) and appends the result to out. The format is detected: gzip (one
 * or more concatenated members), zlib, or raw deflate. At most `limit` decoded bytes are
 * produced (0 = no limit; only for trusted data). Returns TG_OK, TG_ETOOBIG when the
 * decoded size would pass limit (or out's own limit), TG_EDECODE on corrupt, truncated
 * or trailing-garbage input, TG_ENOMEM. On error out->len is restored to its old value. */
int tg_gzip_inflate(const uint8_t *in, size_t len, size_t limit, tg_buf *out);

/* Compresses in[0..len) as one gzip member and appends it to out. TG_OK, TG_ENOMEM,
 * TG_ETOOBIG (out's limit). On error out->len is restored. */
int tg_gzip_deflate(const uint8_t *in, size_t len, tg_buf *out);

#endif
