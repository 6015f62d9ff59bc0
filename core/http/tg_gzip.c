/* Bounded inflate and one-shot gzip deflate on zlib.
 *
 * Inflate never trusts the peer's sizes: it decodes in fixed chunks and checks the running
 * total against the caller's limit before appending, so a 1 KiB "zip bomb" costs at most
 * `limit` bytes of memory. Auto-detection uses zlib's windowBits 15+32 (gzip or zlib
 * header); input that has neither header is retried as raw deflate, since some HTTP
 * clients send raw deflate under "Content-Encoding: deflate". */
#include "tg_gzip.h"

#include <string.h>
#include <zlib.h>

#include "tg_alloc.h"
#include "tg_error.h"

enum { CHUNK = 16384 };

static voidpf zalloc_fn(voidpf opaque, uInt items, uInt size) {
  (void)opaque;
  return tg_calloc(items, size);
}

static void zfree_fn(voidpf opaque, voidpf ptr) {
  (void)opaque;
  tg_free(ptr);
}

static int has_gzip_or_zlib_header(const uint8_t *in, size_t len) {
  if (len >= 2 && in[0] == 0x1f && in[1] == 0x8b)
    return 1;
  /* zlib: CM = 8, CINFO <= 7, header checksum multiple of 31. */
  return len >= 2 && (in[0] & 0x0f) == 8 && (in[0] >> 4) <= 7 &&
         ((unsigned)in[0] * 256u + in[1]) % 31u == 0;
}

static int inflate_with(const uint8_t *in, size_t len, size_t limit, tg_buf *out,
                        int window_bits) {
  z_stream zs;
  memset(&zs, 0, sizeof zs);
  zs.zalloc = zalloc_fn;
  zs.zfree = zfree_fn;
  if (inflateInit2(&zs, window_bits) != Z_OK)
    return TG_ENOMEM;
  size_t produced = 0;
  int rc = TG_OK;
  uint8_t chunk[CHUNK];
  const uint8_t *p = in;
  size_t left = len;
  for (;;) {
    uInt feed = left > (size_t)UINT32_MAX ? UINT32_MAX : (uInt)left;
    zs.next_in = (Bytef *)(uintptr_t)p;
    zs.avail_in = feed;
    zs.next_out = chunk;
    zs.avail_out = CHUNK;
    int zrc = inflate(&zs, Z_NO_FLUSH);
    size_t consumed = feed - zs.avail_in;
    p += consumed;
    left -= consumed;
    size_t got = CHUNK - zs.avail_out;
    if (got) {
      if (limit && got > limit - produced) {
        rc = TG_ETOOBIG;
        break;
      }
      produced += got;
      rc = tg_buf_append(out, chunk, got);
      if (rc != TG_OK)
        break;
    }
    if (zrc == Z_STREAM_END) {
      /* Another gzip member may follow (concatenated gzip is valid). */
      if (left == 0)
        break;
      if (window_bits == 15 + 32 && left >= 2 && p[0] == 0x1f && p[1] == 0x8b) {
        if (inflateReset(&zs) != Z_OK) {
          rc = TG_EDECODE;
          break;
        }
        continue;
      }
      rc = TG_EDECODE; /* trailing garbage */
      break;
    }
    if (zrc == Z_MEM_ERROR) {
      rc = TG_ENOMEM;
      break;
    }
    if (zrc != Z_OK && zrc != Z_BUF_ERROR) {
      rc = TG_EDECODE;
      break;
    }
    if (zrc == Z_BUF_ERROR) { /* no progress possible: input ended before the stream */
      rc = TG_EDECODE;
      break;
    }
  }
  inflateEnd(&zs);
  return rc;
}

int tg_gzip_inflate(const uint8_t *in, size_t len, size_t limit, tg_buf *out) {
  if (!in && len)
    return TG_EINVAL;
  if (len == 0)
    return TG_EDECODE;
  size_t old_len = out->len;
  int bits = has_gzip_or_zlib_header(in, len) ? 15 + 32 : -15;
  int rc = inflate_with(in, len, limit, out, bits);
  if (rc != TG_OK) {
    out->len = old_len;
    if (out->data)
      out->data[old_len] = '\0';
  }
  return rc;
}

int tg_gzip_deflate(const uint8_t *in, size_t len, tg_buf *out) {
  if (!in && len)
    return TG_EINVAL;
  size_t old_len = out->len;
  z_stream zs;
  memset(&zs, 0, sizeof zs);
  zs.zalloc = zalloc_fn;
  zs.zfree = zfree_fn;
  if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
      Z_OK)
    return TG_ENOMEM;
  int rc = TG_OK;
  const uint8_t *p = in;
  size_t left = len;
  uint8_t chunk[CHUNK];
  for (;;) {
    uInt feed = left > (size_t)UINT32_MAX ? UINT32_MAX : (uInt)left;
    zs.next_in = (Bytef *)(uintptr_t)p;
    zs.avail_in = feed;
    zs.next_out = chunk;
    zs.avail_out = CHUNK;
    int flush = feed == left ? Z_FINISH : Z_NO_FLUSH;
    int zrc = deflate(&zs, flush);
    size_t consumed = feed - zs.avail_in;
    p += consumed;
    left -= consumed;
    size_t got = CHUNK - zs.avail_out;
    if (got && (rc = tg_buf_append(out, chunk, got)) != TG_OK)
      break;
    if (zrc == Z_STREAM_END)
      break;
    if (zrc != Z_OK && zrc != Z_BUF_ERROR) {
      rc = TG_ENOMEM;
      break;
    }
  }
  deflateEnd(&zs);
  if (rc != TG_OK) {
    out->len = old_len;
    if (out->data)
      out->data[old_len] = '\0';
  }
  return rc;
}
