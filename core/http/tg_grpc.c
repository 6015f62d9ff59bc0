/* gRPC over HTTP/2 wire details that do not depend on nghttp2: length-prefixed message
 * framing (1 flag byte + 4-byte big-endian length), per-message gzip via tg_gzip,
 * grpc-timeout parsing, and grpc-message percent-encoding. tg_http2.c calls these at the
 * points where a stream's headers, data and end arrive.
 *
 * Only unary calls are served: a request stream carrying a second message is answered
 * with 12 UNIMPLEMENTED (the handler model is one request message -> one response). */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "tg_gzip.h"
#include "tg_http_internal.h"

int tg_grpc_check_partial(const uint8_t *body, size_t len, size_t limit, const char **msg) {
  if (len < 5)
    return 0;
  uint32_t mlen = tg_grpc_prefix_length(body);
  if (mlen > limit) {
    *msg = "request message larger than max_body_bytes";
    return 8;
  }
  if (len > 5 + (size_t)mlen) {
    *msg = "client streaming is not supported: more than one request message";
    return 12;
  }
  return 0;
}

int tg_grpc_unframe(const uint8_t *body, size_t len, const char *encoding, size_t limit,
                    tg_buf *out, const uint8_t **data, size_t *data_len, const char **msg) {
  if (len < 5) {
    *msg = len == 0 ? "missing request message" : "truncated message prefix";
    return 13;
  }
  uint8_t flag = body[0];
  uint32_t mlen = tg_grpc_prefix_length(body);
  if (flag > 1) {
    *msg = "invalid message flag";
    return 13;
  }
  if (mlen > limit) {
    *msg = "request message larger than max_body_bytes";
    return 8;
  }
  if (len - 5 < mlen) {
    *msg = "truncated message";
    return 13;
  }
  if (len - 5 > mlen) {
    *msg = "client streaming is not supported: more than one request message";
    return 12;
  }
  const uint8_t *m = body + 5;
  if (flag == 0) { /* uncompressed: the message is read in place, not copied */
    *data = m;
    *data_len = mlen;
    return 0;
  }
  if (!encoding || !*encoding || strcasecmp(encoding, "identity") == 0) {
    *msg = "compressed message without grpc-encoding";
    return 13;
  }
  if (strcasecmp(encoding, "gzip") != 0 && strcasecmp(encoding, "deflate") != 0) {
    *msg = "unsupported grpc-encoding";
    return 12;
  }
  int rc = mlen ? tg_gzip_inflate(m, mlen, limit, out) : TG_EDECODE;
  if (rc == TG_OK) {
    *data = out->data ? out->data : (const uint8_t *)"";
    *data_len = out->len;
    return 0;
  }
  if (rc == TG_ETOOBIG) {
    *msg = "decompressed message larger than max_body_bytes";
    return 8;
  }
  if (rc == TG_ENOMEM) {
    *msg = "out of memory";
    return 8;
  }
  *msg = "corrupt compressed message";
  return 13;
}

int tg_grpc_frame(const uint8_t *msg, size_t len, tg_buf *out) {
  if (len > UINT32_MAX)
    return TG_ETOOBIG;
  uint8_t prefix[5] = {0, (uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8),
                       (uint8_t)len};
  int rc = tg_buf_append(out, prefix, 5);
  if (rc == TG_OK && len)
    rc = tg_buf_append(out, msg, len);
  return rc;
}

int tg_grpc_parse_timeout(const char *value, uint64_t *ms) {
  if (!value)
    return TG_EDECODE;
  size_t n = 0;
  uint64_t v = 0;
  while (value[n] >= '0' && value[n] <= '9') {
    if (n == 8)
      return TG_EDECODE; /* at most 8 digits */
    v = v * 10 + (uint64_t)(value[n] - '0');
    n++;
  }
  if (n == 0 || value[n] == '\0' || value[n + 1] != '\0')
    return TG_EDECODE;
  switch (value[n]) {
  case 'H': *ms = v * 3600000u; break;
  case 'M': *ms = v * 60000u; break;
  case 'S': *ms = v * 1000u; break;
  case 'm': *ms = v; break;
  case 'u': *ms = (v + 999u) / 1000u; break;
  case 'n': *ms = (v + 999999u) / 1000000u; break;
  default: return TG_EDECODE;
  }
  return TG_OK;
}

size_t tg_grpc_percent_encode(const char *msg, char *out, size_t out_len) {
  static const char hex[] = "0123456789ABCDEF";
  size_t w = 0;
  if (out_len == 0)
    return 0;
  for (const unsigned char *p = (const unsigned char *)msg; p && *p; p++) {
    int plain = *p >= 0x20 && *p <= 0x7e && *p != '%';
    size_t need = plain ? 1 : 3;
    if (w + need >= out_len)
      break;
    if (plain) {
      out[w++] = (char)*p;
    } else {
      out[w++] = '%';
      out[w++] = hex[*p >> 4];
      out[w++] = hex[*p & 15];
    }
  }
  out[w] = '\0';
  return w;
}
