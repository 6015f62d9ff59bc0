/* The JSON bodies an OTLP/HTTP receiver answers with: ExportTraceServiceResponse (with
 * partialSuccess) and google.rpc.Status for errors. They are two tiny fixed shapes, so
 * they are written directly into the response buffer instead of building a jansson DOM;
 * the only care needed is string escaping (messages may quote peer data). */
#include "otlp_json.h"

#include <inttypes.h>
#include <string.h>

#include "tg_error.h"

/* Appends s as a JSON string literal. Control characters are escaped; bytes >= 0x80 are
 * passed through only as part of well-formed UTF-8 and replaced by U+FFFD otherwise, so
 * the output is always valid JSON. */
static int append_json_string(tg_buf *out, const char *s) {
  static const char hex[] = "0123456789abcdef";
  int rc = tg_buf_append(out, "\"", 1);
  const unsigned char *p = (const unsigned char *)(s ? s : "");
  while (rc == TG_OK && *p) {
    unsigned char c = *p;
    if (c == '"' || c == '\\') {
      char esc[2] = {'\\', (char)c};
      rc = tg_buf_append(out, esc, 2);
      p++;
    } else if (c < 0x20) {
      char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
      rc = tg_buf_append(out, esc, 6);
      p++;
    } else if (c < 0x80) {
      rc = tg_buf_append(out, p, 1);
      p++;
    } else {
      size_t n = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c <= 0xdf ? 2 : 0;
      size_t i = 1;
      while (n && i < n && (p[i] & 0xc0) == 0x80)
        i++;
      /* reject overlongs and surrogates of 3-byte forms, and > U+10FFFF */
      int ok = n && i == n;
      if (ok && n == 3)
        ok = !(c == 0xe0 && p[1] < 0xa0) && !(c == 0xed && p[1] >= 0xa0);
      if (ok && n == 4)
        ok = !(c == 0xf0 && p[1] < 0x90) && !(c == 0xf4 && p[1] >= 0x90);
      if (ok) {
        rc = tg_buf_append(out, p, n);
        p += n;
      } else {
        rc = tg_buf_append(out, "\xef\xbf\xbd", 3);
        p++;
      }
    }
  }
  if (rc == TG_OK)
    rc = tg_buf_append(out, "\"", 1);
  return rc;
}

int tg_otlp_json_encode_response(tg_buf *out, int64_t rejected_spans,
                                 const char *error_message) {
  if (!rejected_spans && (!error_message || !*error_message))
    return tg_buf_append_str(out, "{}");
  int rc = tg_buf_appendf(out, "{\"partialSuccess\":{\"rejectedSpans\":\"%" PRId64 "\"",
                          rejected_spans);
  if (rc == TG_OK && error_message && *error_message) {
    rc = tg_buf_append_str(out, ",\"errorMessage\":");
    if (rc == TG_OK)
      rc = append_json_string(out, error_message);
  }
  if (rc == TG_OK)
    rc = tg_buf_append_str(out, "}}");
  return rc;
}

int tg_otlp_json_encode_status(tg_buf *out, int code, const char *message) {
  int rc = tg_buf_appendf(out, "{\"code\":%d,\"message\":", code);
  if (rc == TG_OK)
    rc = append_json_string(out, message);
  if (rc == TG_OK)
    rc = tg_buf_append_str(out, "}");
  return rc;
}
