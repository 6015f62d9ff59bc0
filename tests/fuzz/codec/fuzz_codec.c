/* libFuzzer target for the receivers' bounded decompression (core/tg_codec_decode.c).
 * Input: byte 0 picks the codec (gzip, zstd, snappy) and a limit (1 KiB << 0..7); the
 * rest is the body. Checked: the decoder never writes past the limit, leaves out as it
 * was on failure, and on success its output compresses and decompresses back to itself
 * with tailgate's own compressor of that codec (a decoder and encoder that disagree is a
 * finding). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tg_buf.h"
#include "tg_codec.h"
#include "tg_error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  static const int codecs[] = {TG_CODEC_GZIP, TG_CODEC_ZSTD, TG_CODEC_SNAPPY, TG_CODEC_SNAPPY};
  int codec = codecs[data[0] & 3];
  size_t limit = (size_t)1024 << ((data[0] >> 2) & 7);
  tg_buf out;
  tg_buf_init(&out, 0);
  if (tg_buf_append(&out, "pre", 3) != TG_OK)
    abort();
  int rc = tg_codec_decompress(codec, data + 1, size - 1, limit, &out);
  if (rc != TG_OK) {
    if (out.len != 3 || memcmp(out.data, "pre", 3))
      abort();
    tg_buf_free(&out);
    return 0;
  }
  if (out.len < 3 || out.len - 3 > limit)
    abort();
  tg_compressor *c = tg_compressor_new(codec, 0);
  tg_buf z, back;
  tg_buf_init(&z, 0);
  tg_buf_init(&back, 0);
  if (!c || tg_compressor_compress(c, out.data + 3, out.len - 3, &z) != TG_OK ||
      tg_codec_decompress(codec, z.data, z.len, limit, &back) != TG_OK ||
      back.len != out.len - 3 || (back.len && memcmp(back.data, out.data + 3, back.len)))
    abort();
  tg_compressor_free(c);
  tg_buf_free(&z);
  tg_buf_free(&back);
  tg_buf_free(&out);
  return 0;
}
