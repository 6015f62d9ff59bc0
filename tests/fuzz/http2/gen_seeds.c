/* Writes the HTTP/2 seed corpus: the client side of a few h2c conversations, produced by
 * an nghttp2 client session (preface, SETTINGS, HEADERS, DATA). Not part of the build:
 *   cc gen_seeds.c -lnghttp2 -lz -o /tmp/gen && /tmp/gen corpus */
#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

typedef struct src { const uint8_t *p; size_t n, off; } src;

static ssize_t rd(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len, uint32_t *flags,
                  nghttp2_data_source *ds, void *ud) {
  (void)s; (void)id; (void)ud;
  src *b = ds->ptr;
  size_t n = b->n - b->off < len ? b->n - b->off : len;
  memcpy(buf, b->p + b->off, n);
  b->off += n;
  if (b->off == b->n)
    *flags |= NGHTTP2_DATA_FLAG_EOF;
  return (ssize_t)n;
}

#define NV(n, v) {(uint8_t *)(n), (uint8_t *)(v), strlen(n), strlen(v), NGHTTP2_NV_FLAG_NONE}

static void seed(const char *dir, const char *name, const char *path, const char *ct,
                 const char *enc, const uint8_t *body, size_t len) {
  nghttp2_session_callbacks *cb;
  nghttp2_session *s;
  nghttp2_session_callbacks_new(&cb);
  nghttp2_session_client_new(&s, cb, NULL);
  nghttp2_session_callbacks_del(cb);
  nghttp2_submit_settings(s, NGHTTP2_FLAG_NONE, NULL, 0);
  nghttp2_nv nva[7] = {NV(":method", "POST"), NV(":scheme", "http"), NV(":authority", "x"),
                       NV(":path", path), NV("content-type", ct), NV("te", "trailers")};
  size_t n = 6;
  if (enc)
    nva[n++] = (nghttp2_nv)NV("grpc-encoding", enc);
  src b = {body, len, 0};
  nghttp2_data_provider prd = {.source.ptr = &b, .read_callback = rd};
  nghttp2_submit_request(s, NULL, nva, n, &prd, NULL);
  char fn[256];
  snprintf(fn, sizeof fn, "%s/%s", dir, name);
  FILE *f = fopen(fn, "wb");
  const uint8_t *d;
  ssize_t k;
  while ((k = nghttp2_session_mem_send(s, &d)) > 0)
    fwrite(d, 1, (size_t)k, f);
  fclose(f);
  nghttp2_session_del(s);
}

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : "corpus";
  uint8_t msg[64] = {0, 0, 0, 0, 5, 'h', 'e', 'l', 'l', 'o'};
  seed(dir, "grpc_unary.bin", "/test.Svc/Call", "application/grpc", NULL, msg, 10);
  uint8_t z[64];
  uLongf zl = sizeof z - 5;
  z_stream zs = {0};
  deflateInit2(&zs, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY);
  zs.next_in = (uint8_t *)"hello hello hello";
  zs.avail_in = 17;
  zs.next_out = z + 5;
  zs.avail_out = (uInt)zl;
  deflate(&zs, Z_FINISH);
  zl = zs.total_out;
  deflateEnd(&zs);
  z[0] = 1; z[1] = 0; z[2] = 0; z[3] = (uint8_t)(zl >> 8); z[4] = (uint8_t)zl;
  seed(dir, "grpc_gzip.bin", "/test.Svc/Call", "application/grpc", "gzip", z, zl + 5);
  seed(dir, "grpc_unknown.bin", "/test.Svc/Nope", "application/grpc", NULL, msg, 10);
  seed(dir, "h2_post_echo.bin", "/echo?a=1", "text/plain", NULL, (const uint8_t *)"abc", 3);
  return 0;
}
