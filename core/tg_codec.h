/* Body and message compression for senders (a reusable compressor per sender thread) and
 * bounded decompression for receivers, over one small set of codecs: gzip (libdeflate),
 * zstd (libzstd) and snappy (libsnappy, the framing format on send; framed or block on
 * receive). gzip inflate stays in tg_gzip.h (zlib, streaming, detects zlib/raw too);
 * tg_codec_decompress dispatches to it, so a receiver calls one function per
 * Content-Encoding / grpc-encoding. */
#ifndef TG_CODEC_H
#define TG_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "tg_buf.h"

/* The codecs, in the order of tg_codec_values (the exporters' `compression` key). */
enum { TG_CODEC_NONE, TG_CODEC_GZIP, TG_CODEC_ZSTD, TG_CODEC_SNAPPY, TG_CODEC_COUNT };

/* "none", "gzip", "zstd", "snappy", NULL: the enum above by name, for key tables. */
extern const char *const tg_codec_values[];

/* The codec's token for Content-Encoding / grpc-encoding ("gzip", "zstd", "snappy"), or
 * NULL for TG_CODEC_NONE and out-of-range values. */
const char *tg_codec_token(int codec);

/* The codec named by token[0..len) (case-insensitive; "x-gzip" is gzip, "identity" is
 * none), or -1 when unknown. */
int tg_codec_from_token(const char *token, size_t len);

/* Levels accepted per codec by tg_compressor_new (0 always means the codec's default,
 * which is what tg_codec_default_level returns). gzip: 1..12 (libdeflate's scale: 1-9 as
 * zlib's, 10-12 slower and smaller); zstd: 1..19 and negative fast levels down to -7;
 * snappy: none (only 0). Returns 1 when level is valid for codec. */
int tg_codec_level_ok(int codec, int level);
int tg_codec_default_level(int codec);

/* A compressor: the codec's state, allocated once and reused for every message by one
 * thread (not thread-safe; one per sender thread). */
typedef struct tg_compressor tg_compressor;

/* A compressor for codec at level (0 = default). NULL on out of memory, for
 * TG_CODEC_NONE or an invalid level. */
tg_compressor *tg_compressor_new(int codec, int level);
int tg_compressor_codec(const tg_compressor *c);
/* Appends the compressed form of in[0..len) to out as one self-contained message (one
 * gzip member, one zstd frame, one snappy framed stream). TG_OK, TG_ENOMEM, TG_ETOOBIG
 * (out's limit), TG_EINVAL (in NULL with len). On error out->len is restored. */
int tg_compressor_compress(tg_compressor *c, const uint8_t *in, size_t len, tg_buf *out);
void tg_compressor_free(tg_compressor *c); /* NULL ok */

/* Appends the decompressed form of in[0..len) to out, producing at most `limit` bytes
 * (0 = no limit; only for trusted data) whatever sizes the input claims. gzip: as
 * tg_gzip_inflate. zstd: one or more frames (window capped at 8 MiB). snappy: the framing
 * format (stream identifier first) or, without the identifier, one raw block (as the
 * Collector since 0.125 accepts both). Returns TG_OK, TG_ETOOBIG, TG_EDECODE (corrupt,
 * truncated, trailing garbage, bad checksum), TG_ENOMEM, TG_EINVAL (codec none/unknown);
 * on error out->len is restored. */
int tg_codec_decompress(int codec, const uint8_t *in, size_t len, size_t limit, tg_buf *out);

#endif
