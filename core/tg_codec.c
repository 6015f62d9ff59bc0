/* Compressors for the senders: one state per sender thread, reused for every message.
 *
 * Why these libraries (figures in docs/BENCHMARKS.md, "Compression"): on OTLP request
 * bytes libdeflate's one-shot gzip is several times faster than zlib's streaming deflate
 * at the same level and ratio, and its state (hash tables, a few hundred KiB) is
 * allocated once here instead of once per request as tg_gzip_deflate did. zstd keeps a
 * ZSTD_CCtx per thread for the same reason. snappy has no state; its C API allocates its
 * working memory per call inside the library (a few tens of KiB).
 *
 * Every codec is one-shot into out, reserved to the codec's worst-case bound first, so
 * there is no chunk loop and no second copy: exporters hand out's bytes to libcurl or
 * gRPC as they are. snappy is written in the framing format (stream identifier, then
 * chunks of at most 64 KiB with a masked CRC32C): every Collector reads it under
 * "snappy", the older ones only it. */
#include "tg_codec.h"

#include <string.h>
#include <strings.h>

#include <libdeflate.h>
#include <snappy-c.h>
#include <zstd.h>

#include "tg_alloc.h"
#include "tg_crc32c.h"
#include "tg_error.h"

const char *const tg_codec_values[] = {"none", "gzip", "zstd", "snappy", NULL};

/* gzip level 1: on OTLP batches libdeflate's level 1 compresses ~4.5x faster than zlib's
 * default level 6 (what tg_gzip_deflate used) for 19:1 instead of 24:1; zstd level 3 is
 * its library default. Figures: docs/BENCHMARKS.md, "Compression". */
enum { GZIP_DEFAULT_LEVEL = 1, ZSTD_DEFAULT_LEVEL = 3 };
enum { SNAPPY_CHUNK = 65536 }; /* uncompressed bytes per chunk, the format's maximum */

struct tg_compressor {
  int codec, level;
  struct libdeflate_compressor *deflate;
  ZSTD_CCtx *zstd;
};

const char *tg_codec_token(int codec) {
  switch (codec) {
  case TG_CODEC_GZIP: return "gzip";
  case TG_CODEC_ZSTD: return "zstd";
  case TG_CODEC_SNAPPY: return "snappy";
  default: return NULL;
  }
}

int tg_codec_from_token(const char *token, size_t len) {
  static const struct {
    const char *name;
    int codec;
  } names[] = {{"identity", TG_CODEC_NONE}, {"gzip", TG_CODEC_GZIP},
               {"x-gzip", TG_CODEC_GZIP},   {"zstd", TG_CODEC_ZSTD},
               {"snappy", TG_CODEC_SNAPPY}};
  for (size_t i = 0; token && i < sizeof names / sizeof names[0]; i++)
    if (strlen(names[i].name) == len && !strncasecmp(token, names[i].name, len))
      return names[i].codec;
  return -1;
}

int tg_codec_level_ok(int codec, int level) {
  switch (codec) {
  case TG_CODEC_GZIP: return level >= 0 && level <= 12;
  case TG_CODEC_ZSTD: return level >= -7 && level <= 19;
  case TG_CODEC_SNAPPY: return level == 0;
  default: return 0;
  }
}

int tg_codec_default_level(int codec) {
  return codec == TG_CODEC_GZIP ? GZIP_DEFAULT_LEVEL
         : codec == TG_CODEC_ZSTD ? ZSTD_DEFAULT_LEVEL
                                  : 0;
}

tg_compressor *tg_compressor_new(int codec, int level) {
  if (codec <= TG_CODEC_NONE || codec >= TG_CODEC_COUNT || !tg_codec_level_ok(codec, level))
    return NULL;
  if (level == 0)
    level = tg_codec_default_level(codec);
  tg_compressor *c = tg_calloc(1, sizeof *c);
  if (!c)
    return NULL;
  c->codec = codec;
  c->level = level;
  if (codec == TG_CODEC_GZIP && !(c->deflate = libdeflate_alloc_compressor(level))) {
    tg_free(c);
    return NULL;
  }
  if (codec == TG_CODEC_ZSTD) {
    c->zstd = ZSTD_createCCtx();
    if (!c->zstd || ZSTD_isError(ZSTD_CCtx_setParameter(c->zstd, ZSTD_c_compressionLevel,
                                                        level))) {
      tg_compressor_free(c);
      return NULL;
    }
  }
  return c;
}

int tg_compressor_codec(const tg_compressor *c) { return c ? c->codec : TG_CODEC_NONE; }

void tg_compressor_free(tg_compressor *c) {
  if (!c)
    return;
  if (c->deflate)
    libdeflate_free_compressor(c->deflate);
  ZSTD_freeCCtx(c->zstd); /* NULL ok */
  tg_free(c);
}

static void put_le24(uint8_t *p, size_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)(v >> 16);
}

static void put_le32(uint8_t *p, uint32_t v) {
  put_le24(p, v);
  p[3] = (uint8_t)(v >> 24);
}

/* The framing format's masked checksum of a chunk's uncompressed bytes. */
static uint32_t snappy_masked_crc(const uint8_t *data, size_t len) {
  uint32_t crc = tg_crc32c(0, data, len);
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

static const uint8_t snappy_stream_id[10] = {0xff, 0x06, 0x00, 0x00, 's', 'N', 'a', 'P', 'p', 'Y'};

/* Appends in as a snappy framed stream; out has room reserved for the bound. */
static size_t snappy_framed(const uint8_t *in, size_t len, uint8_t *dst) {
  uint8_t *p = dst;
  memcpy(p, snappy_stream_id, sizeof snappy_stream_id);
  p += sizeof snappy_stream_id;
  for (size_t off = 0; off < len;) {
    size_t n = len - off < SNAPPY_CHUNK ? len - off : SNAPPY_CHUNK;
    size_t clen = snappy_max_compressed_length(n);
    uint8_t *hdr = p;
    if (snappy_compress((const char *)in + off, n, (char *)hdr + 8, &clen) != SNAPPY_OK ||
        clen >= n) { /* incompressible: an uncompressed chunk (type 1) */
      hdr[0] = 0x01;
      memcpy(hdr + 8, in + off, n);
      clen = n;
    } else {
      hdr[0] = 0x00;
    }
    put_le24(hdr + 1, clen + 4);
    put_le32(hdr + 4, snappy_masked_crc(in + off, n));
    p += 8 + clen;
    off += n;
  }
  return (size_t)(p - dst);
}

static size_t snappy_framed_bound(size_t len) {
  size_t chunks = len / SNAPPY_CHUNK + 1;
  return sizeof snappy_stream_id + chunks * 8 + snappy_max_compressed_length(SNAPPY_CHUNK) * chunks;
}

int tg_compressor_compress(tg_compressor *c, const uint8_t *in, size_t len, tg_buf *out) {
  if (!c || (!in && len))
    return TG_EINVAL;
  static const uint8_t empty[1];
  if (!in)
    in = empty;
  size_t bound = c->codec == TG_CODEC_GZIP   ? libdeflate_gzip_compress_bound(c->deflate, len)
                 : c->codec == TG_CODEC_ZSTD ? ZSTD_compressBound(len)
                                             : snappy_framed_bound(len);
  int rc = tg_buf_reserve(out, bound); /* tg_buf keeps room for its NUL beyond */
  if (rc != TG_OK)
    return rc;
  uint8_t *dst = out->data + out->len;
  size_t n = 0;
  switch (c->codec) {
  case TG_CODEC_GZIP:
    n = libdeflate_gzip_compress(c->deflate, in, len, dst, bound);
    break;
  case TG_CODEC_ZSTD: {
    size_t z = ZSTD_compress2(c->zstd, dst, bound, in, len);
    n = ZSTD_isError(z) ? 0 : z;
    break;
  }
  default:
    n = snappy_framed(in, len, dst);
    break;
  }
  if (n == 0) /* cannot happen within the bound; a library failure is memory */
    return TG_ENOMEM;
  out->len += n;
  out->data[out->len] = '\0';
  return TG_OK;
}
