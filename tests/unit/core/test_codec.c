/* tg_codec: every compressor's output is checked by an independent decoder (zlib for
 * gzip, ZSTD_decompress for zstd, a hand walk of the snappy framing format with the
 * software CRC32C and snappy_uncompress per chunk), then the bounded decoders are checked
 * on the same bytes, at and one byte under their limit, and on corrupt input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>

#include "tg_buf.h"
#include "tg_codec.h"
#include "tg_crc32c.h"
#include "tg_error.h"

/* An input with both repetitive text and pseudo-random bytes, over several 64 KiB
 * snappy chunks. */
static uint8_t *make_input(size_t len) {
  uint8_t *p = malloc(len ? len : 1);
  uint32_t x = 12345;
  for (size_t i = 0; i < len; i++) {
    if ((i / 4096) % 2) {
      x = x * 1103515245u + 12345u;
      p[i] = (uint8_t)(x >> 16);
    } else {
      p[i] = (uint8_t)"service.name=checkout http.method=GET "[i % 38];
    }
  }
  return p;
}

static const size_t sizes[] = {0, 1, 100, 65536, 65537, 300000};

static void compress_to(int codec, int level, const uint8_t *in, size_t len, tg_buf *out) {
  tg_compressor *c = tg_compressor_new(codec, level);
  assert_non_null(c);
  assert_int_equal(tg_compressor_codec(c), codec);
  /* Twice with the same state: the second message must not depend on the first. */
  tg_buf scratch;
  tg_buf_init(&scratch, 0);
  assert_int_equal(tg_compressor_compress(c, in, len, &scratch), TG_OK);
  tg_buf_free(&scratch);
  assert_int_equal(tg_compressor_compress(c, in, len, out), TG_OK);
  tg_compressor_free(c);
}

static void test_gzip_read_by_zlib(void **state) {
  (void)state;
  for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
    for (int level = 0; level <= 12; level += 6) {
      uint8_t *in = make_input(sizes[k]);
      tg_buf z;
      tg_buf_init(&z, 0);
      compress_to(TG_CODEC_GZIP, level, in, sizes[k], &z);
      assert_true(z.len >= 18 && z.data[0] == 0x1f && z.data[1] == 0x8b);
      z_stream zs;
      memset(&zs, 0, sizeof zs);
      assert_int_equal(inflateInit2(&zs, 15 + 16), Z_OK);
      uint8_t *back = malloc(sizes[k] + 16);
      zs.next_in = z.data;
      zs.avail_in = (uInt)z.len;
      zs.next_out = back;
      zs.avail_out = (uInt)sizes[k] + 16;
      assert_int_equal(inflate(&zs, Z_FINISH), Z_STREAM_END);
      assert_int_equal(zs.total_out, sizes[k]);
      assert_int_equal(zs.avail_in, 0);
      assert_memory_equal(back, in, sizes[k] ? sizes[k] : 1 - 1);
      inflateEnd(&zs);
      /* and by tg_codec_decompress, within and one byte under the exact limit */
      tg_buf d;
      tg_buf_init(&d, 0);
      assert_int_equal(tg_codec_decompress(TG_CODEC_GZIP, z.data, z.len, sizes[k] + 1, &d),
                       TG_OK);
      assert_int_equal(d.len, sizes[k]);
      if (sizes[k] > 1) {
        d.len = 0;
        assert_int_equal(tg_codec_decompress(TG_CODEC_GZIP, z.data, z.len, sizes[k] - 1, &d),
                         TG_ETOOBIG);
        assert_int_equal(d.len, 0);
      }
      tg_buf_free(&d);
      free(back);
      tg_buf_free(&z);
      free(in);
    }
  }
}

static void test_zstd_read_by_libzstd(void **state) {
  (void)state;
  for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
    uint8_t *in = make_input(sizes[k]);
    tg_buf z;
    tg_buf_init(&z, 0);
    compress_to(TG_CODEC_ZSTD, 0, in, sizes[k], &z);
    uint8_t *back = malloc(sizes[k] + 1);
    size_t n = ZSTD_decompress(back, sizes[k] + 1, z.data, z.len);
    assert_false(ZSTD_isError(n));
    assert_int_equal(n, sizes[k]);
    assert_memory_equal(back, in, sizes[k] ? sizes[k] : 1 - 1);

    tg_buf d;
    tg_buf_init(&d, 0);
    assert_int_equal(tg_codec_decompress(TG_CODEC_ZSTD, z.data, z.len, sizes[k], &d), TG_OK);
    assert_int_equal(d.len, sizes[k]);
    assert_memory_equal(d.data, in, sizes[k] ? sizes[k] : 1 - 1);
    if (sizes[k] > 1) {
      d.len = 0;
      assert_int_equal(tg_codec_decompress(TG_CODEC_ZSTD, z.data, z.len, sizes[k] - 1, &d),
                       TG_ETOOBIG);
      assert_int_equal(d.len, 0);
      /* truncated: the frame never ends */
      assert_int_equal(tg_codec_decompress(TG_CODEC_ZSTD, z.data, z.len - 1, 0, &d),
                       TG_EDECODE);
    }
    /* two frames back to back are one body */
    tg_buf two;
    tg_buf_init(&two, 0);
    assert_int_equal(tg_buf_append(&two, z.data, z.len), TG_OK);
    assert_int_equal(tg_buf_append(&two, z.data, z.len), TG_OK);
    d.len = 0;
    assert_int_equal(tg_codec_decompress(TG_CODEC_ZSTD, two.data, two.len, 0, &d), TG_OK);
    assert_int_equal(d.len, 2 * sizes[k]);
    tg_buf_free(&two);
    tg_buf_free(&d);
    free(back);
    tg_buf_free(&z);
    free(in);
  }
}

static uint32_t le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Walks a framed snappy stream by the format's rules; returns the decoded bytes. */
static uint8_t *walk_framed(const uint8_t *s, size_t len, size_t *out_len) {
  static const uint8_t id[10] = {0xff, 6, 0, 0, 's', 'N', 'a', 'P', 'p', 'Y'};
  assert_true(len >= 10);
  assert_memory_equal(s, id, 10);
  uint8_t *out = malloc(1);
  size_t n = 0;
  for (size_t off = 10; off < len;) {
    assert_true(len - off >= 8);
    uint8_t type = s[off];
    size_t clen = (size_t)s[off + 1] | (size_t)s[off + 2] << 8 | (size_t)s[off + 3] << 16;
    assert_true(type == 0 || type == 1);
    assert_true(clen >= 4 && off + 4 + clen <= len);
    uint32_t want = le32(s + off + 4);
    const uint8_t *body = s + off + 8;
    size_t blen = clen - 4, ulen = blen;
    if (type == 0)
      assert_int_equal(snappy_uncompressed_length((const char *)body, blen, &ulen), SNAPPY_OK);
    assert_true(ulen <= 65536);
    out = realloc(out, n + ulen + 1);
    if (type == 0) {
      size_t got = ulen;
      assert_int_equal(snappy_uncompress((const char *)body, blen, (char *)out + n, &got),
                       SNAPPY_OK);
    } else {
      memcpy(out + n, body, ulen);
    }
    uint32_t crc = tg_crc32c_sw(0, out + n, ulen);
    assert_int_equal(((crc >> 15) | (crc << 17)) + 0xa282ead8u, want);
    n += ulen;
    off += 4 + clen;
  }
  *out_len = n;
  return out;
}

static void test_snappy_framed(void **state) {
  (void)state;
  for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
    uint8_t *in = make_input(sizes[k]);
    tg_buf z;
    tg_buf_init(&z, 0);
    compress_to(TG_CODEC_SNAPPY, 0, in, sizes[k], &z);
    if (sizes[k] == 0)
      assert_int_equal(z.len, 10); /* the stream identifier alone */
    size_t n = 0;
    uint8_t *back = walk_framed(z.data, z.len, &n);
    assert_int_equal(n, sizes[k]);
    assert_memory_equal(back, in, sizes[k] ? sizes[k] : 1 - 1);
    free(back);

    tg_buf d;
    tg_buf_init(&d, 0);
    assert_int_equal(tg_codec_decompress(TG_CODEC_SNAPPY, z.data, z.len, sizes[k], &d), TG_OK);
    assert_int_equal(d.len, sizes[k]);
    if (sizes[k] > 1) {
      d.len = 0;
      assert_int_equal(tg_codec_decompress(TG_CODEC_SNAPPY, z.data, z.len, sizes[k] - 1, &d),
                       TG_ETOOBIG);
      assert_int_equal(d.len, 0);
      z.data[14] ^= 0x01; /* the first chunk's checksum */
      assert_int_equal(tg_codec_decompress(TG_CODEC_SNAPPY, z.data, z.len, 0, &d), TG_EDECODE);
      z.data[14] ^= 0x01;
      assert_int_equal(tg_codec_decompress(TG_CODEC_SNAPPY, z.data, z.len - 1, 0, &d),
                       TG_EDECODE); /* truncated chunk */
    }
    tg_buf_free(&d);
    tg_buf_free(&z);
    free(in);
  }
}

static void test_snappy_block_and_bombs(void **state) {
  (void)state;
  uint8_t *in = make_input(50000);
  size_t cap = snappy_max_compressed_length(50000), clen = cap;
  char *block = malloc(cap);
  assert_int_equal(snappy_compress((const char *)in, 50000, block, &clen), SNAPPY_OK);
  tg_buf d;
  tg_buf_init(&d, 0);
  assert_int_equal(tg_codec_decompress(TG_CODEC_SNAPPY, (uint8_t *)block, clen, 50000, &d),
                   TG_OK);
  assert_int_equal(d.len, 50000);
  assert_memory_equal(d.data, in, 50000);
  d.len = 0;
  assert_int_equal(tg_codec_decompress(TG_CODEC_SNAPPY, (uint8_t *)block, clen, 49999, &d),
                   TG_ETOOBIG);
  /* A 5-byte block that claims 4 GiB - 1: refused before any allocation. */
  static const uint8_t bomb[] = {0xff, 0xff, 0xff, 0xff, 0x0f};
  assert_int_equal(tg_codec_decompress(TG_CODEC_SNAPPY, bomb, sizeof bomb, 1 << 20, &d),
                   TG_ETOOBIG);
  assert_int_equal(d.len, 0);
  /* A framed chunk claiming more than the format's 64 KiB is corrupt whatever the limit. */
  size_t big_len = snappy_max_compressed_length(70000), big_clen = big_len;
  uint8_t *big_in = make_input(70000);
  char *big = malloc(big_len + 18);
  assert_int_equal(snappy_compress((const char *)big_in, 70000, big + 18, &big_clen),
                   SNAPPY_OK);
  memcpy(big, "\xff\x06\x00\x00sNaPpY", 10);
  big[10] = 0;
  big[11] = (char)((big_clen + 4) & 0xff);
  big[12] = (char)(((big_clen + 4) >> 8) & 0xff);
  big[13] = (char)(((big_clen + 4) >> 16) & 0xff);
  uint32_t crc = tg_crc32c_sw(0, big_in, 70000);
  crc = ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
  memcpy(big + 14, (uint8_t[]){(uint8_t)crc, (uint8_t)(crc >> 8), (uint8_t)(crc >> 16),
                               (uint8_t)(crc >> 24)},
         4);
  assert_int_equal(tg_codec_decompress(TG_CODEC_SNAPPY, (uint8_t *)big, big_clen + 18, 0, &d),
                   TG_EDECODE);
  free(big);
  free(big_in);
  tg_buf_free(&d);
  free(block);
  free(in);
}

static void test_zstd_window_cap(void **state) {
  (void)state;
  /* A frame written by hand (RFC 8878): magic, a descriptor with no content size, a
   * window descriptor asking for 2^30 bytes (exponent 20), one last raw block of 1 byte.
   * libzstd itself decodes it; tg_codec refuses it without the 1 GiB window. */
  static const uint8_t frame[] = {0x28, 0xb5, 0x2f, 0xfd, 0x00, 0xa0, 0x09, 0x00, 0x00, 'A'};
  uint8_t one[4];
  size_t n = ZSTD_decompress(one, sizeof one, frame, sizeof frame);
  assert_false(ZSTD_isError(n));
  assert_int_equal(n, 1);
  tg_buf d;
  tg_buf_init(&d, 0);
  assert_int_equal(tg_codec_decompress(TG_CODEC_ZSTD, frame, sizeof frame, 0, &d), TG_EDECODE);
  assert_int_equal(d.len, 0);
  /* the same frame with a 1 MiB window (exponent 10) is fine */
  uint8_t small[sizeof frame];
  memcpy(small, frame, sizeof frame);
  small[5] = 10 << 3;
  assert_int_equal(tg_codec_decompress(TG_CODEC_ZSTD, small, sizeof small, 0, &d), TG_OK);
  assert_int_equal(d.len, 1);
  assert_int_equal(d.data[0], 'A');
  tg_buf_free(&d);
}

static void test_tokens_and_levels(void **state) {
  (void)state;
  assert_int_equal(tg_codec_from_token("gzip", 4), TG_CODEC_GZIP);
  assert_int_equal(tg_codec_from_token("X-GZIP", 6), TG_CODEC_GZIP);
  assert_int_equal(tg_codec_from_token("zstd", 4), TG_CODEC_ZSTD);
  assert_int_equal(tg_codec_from_token("Snappy", 6), TG_CODEC_SNAPPY);
  assert_int_equal(tg_codec_from_token("identity", 8), TG_CODEC_NONE);
  assert_int_equal(tg_codec_from_token("gzipx", 5), -1);
  assert_int_equal(tg_codec_from_token("gzip", 3), -1);
  assert_int_equal(tg_codec_from_token("br", 2), -1);
  assert_string_equal(tg_codec_token(TG_CODEC_ZSTD), "zstd");
  assert_null(tg_codec_token(TG_CODEC_NONE));
  assert_null(tg_codec_token(99));
  assert_true(tg_codec_level_ok(TG_CODEC_GZIP, 12));
  assert_false(tg_codec_level_ok(TG_CODEC_GZIP, 13));
  assert_false(tg_codec_level_ok(TG_CODEC_GZIP, -1));
  assert_true(tg_codec_level_ok(TG_CODEC_ZSTD, -7));
  assert_true(tg_codec_level_ok(TG_CODEC_ZSTD, 19));
  assert_false(tg_codec_level_ok(TG_CODEC_ZSTD, 20));
  assert_true(tg_codec_level_ok(TG_CODEC_SNAPPY, 0));
  assert_false(tg_codec_level_ok(TG_CODEC_SNAPPY, 1));
  assert_int_equal(tg_codec_default_level(TG_CODEC_GZIP), 1);
  assert_null(tg_compressor_new(TG_CODEC_NONE, 0));
  assert_null(tg_compressor_new(TG_CODEC_GZIP, 13));
  assert_null(tg_compressor_new(TG_CODEC_SNAPPY, 2));
  tg_buf d;
  tg_buf_init(&d, 0);
  assert_int_equal(tg_codec_decompress(TG_CODEC_NONE, (const uint8_t *)"x", 1, 0, &d),
                   TG_EINVAL);
  assert_int_equal(tg_codec_decompress(TG_CODEC_ZSTD, (const uint8_t *)"", 0, 0, &d),
                   TG_EDECODE);
  tg_buf_free(&d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_gzip_read_by_zlib),     cmocka_unit_test(test_zstd_read_by_libzstd),
      cmocka_unit_test(test_snappy_framed),         cmocka_unit_test(test_snappy_block_and_bombs),
      cmocka_unit_test(test_zstd_window_cap),       cmocka_unit_test(test_tokens_and_levels),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
