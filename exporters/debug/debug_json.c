/* JSON text for the debug exporter. Kept apart from the exporter so the escaping rules
 * (the part that must hold for hostile input) are one small, separately tested unit.
 * Everything appends to a caller-owned tg_buf; nothing here allocates otherwise. */
#include "debug_json.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "tg_error.h"

#define DEBUGJSON_MAX_DEPTH 64

/* Length of the valid UTF-8 sequence at s[0..len), or 0 when it is not one (overlong,
 * surrogate, past U+10FFFF, truncated). */
static size_t utf8_seq(const unsigned char *s, size_t len) {
  unsigned c = s[0];
  size_t n;
  uint32_t cp;
  if (c < 0x80)
    return 1;
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2;
    cp = c & 0x1f;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3;
    cp = c & 0x0f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (len < n)
    return 0;
  for (size_t i = 1; i < n; i++) {
    if ((s[i] & 0xc0) != 0x80)
      return 0;
    cp = (cp << 6) | (s[i] & 0x3f);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
      (cp >= 0xd800 && cp <= 0xdfff))
    return 0;
  return n;
}

int tg_debugjson_str(tg_buf *out, const char *s, size_t len) {
  static const char hex[] = "0123456789abcdef";
  const unsigned char *p = (const unsigned char *)s;
  int rc = tg_buf_append(out, "\"", 1);
  size_t run = 0; /* bytes to copy verbatim, starting at i - run */
  for (size_t i = 0; rc == TG_OK && i < len;) {
    unsigned c = p[i];
    const char *esc = NULL;
    char ubuf[7];
    size_t step = 1;
    if (c == '"')
      esc = "\\\"";
    else if (c == '\\')
      esc = "\\\\";
    else if (c == '\n')
      esc = "\\n";
    else if (c == '\r')
      esc = "\\r";
    else if (c == '\t')
      esc = "\\t";
    else if (c == '\b')
      esc = "\\b";
    else if (c == '\f')
      esc = "\\f";
    else if (c < 0x20 || c == 0x7f) {
      ubuf[0] = '\\';
      ubuf[1] = 'u';
      ubuf[2] = '0';
      ubuf[3] = '0';
      ubuf[4] = hex[c >> 4];
      ubuf[5] = hex[c & 15];
      ubuf[6] = '\0';
      esc = ubuf;
    } else if (c >= 0x80) {
      step = utf8_seq(p + i, len - i);
      if (!step) {
        esc = "\\ufffd";
        step = 1;
      }
    }
    if (esc) {
      if (run)
        rc = tg_buf_append(out, p + i - run, run);
      run = 0;
      if (rc == TG_OK)
        rc = tg_buf_append_str(out, esc);
    } else {
      run += step;
    }
    i += step;
  }
  if (rc == TG_OK && run)
    rc = tg_buf_append(out, p + len - run, run);
  if (rc == TG_OK)
    rc = tg_buf_append(out, "\"", 1);
  return rc;
}

int tg_debugjson_cstr(tg_buf *out, const char *s) {
  return tg_debugjson_str(out, s ? s : "", s ? strlen(s) : 0);
}

int tg_debugjson_hex(tg_buf *out, const uint8_t *p, size_t len) {
  static const char hex[] = "0123456789abcdef";
  int rc = tg_buf_reserve(out, 2 * len + 2);
  if (rc)
    return rc;
  out->data[out->len++] = '"';
  for (size_t i = 0; i < len; i++) {
    out->data[out->len++] = (uint8_t)hex[p[i] >> 4];
    out->data[out->len++] = (uint8_t)hex[p[i] & 15];
  }
  out->data[out->len++] = '"';
  return TG_OK;
}

int tg_debugjson_base64(tg_buf *out, const uint8_t *p, size_t len) {
  static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  int rc = tg_buf_reserve(out, (len + 2) / 3 * 4 + 2);
  if (rc)
    return rc;
  uint8_t *o = out->data + out->len;
  *o++ = '"';
  size_t i = 0;
  for (; i + 2 < len; i += 3) {
    uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
    *o++ = (uint8_t)b64[v >> 18];
    *o++ = (uint8_t)b64[(v >> 12) & 63];
    *o++ = (uint8_t)b64[(v >> 6) & 63];
    *o++ = (uint8_t)b64[v & 63];
  }
  if (i < len) {
    uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < len ? (uint32_t)p[i + 1] << 8 : 0);
    *o++ = (uint8_t)b64[v >> 18];
    *o++ = (uint8_t)b64[(v >> 12) & 63];
    *o++ = i + 1 < len ? (uint8_t)b64[(v >> 6) & 63] : '=';
    *o++ = '=';
  }
  *o++ = '"';
  out->len = (size_t)(o - out->data);
  return TG_OK;
}

int tg_debugjson_double(tg_buf *out, double v) {
  if (isnan(v))
    return tg_buf_append_str(out, "\"NaN\"");
  if (isinf(v))
    return tg_buf_append_str(out, v > 0 ? "\"Infinity\"" : "\"-Infinity\"");
  char tmp[40];
  int n = snprintf(tmp, sizeof tmp, "%.17g", v);
  int rc = tg_buf_append(out, tmp, (size_t)n);
  /* Keep integral doubles recognisable as doubles: 2 → 2.0. */
  if (rc == TG_OK && !strpbrk(tmp, ".eE"))
    rc = tg_buf_append(out, ".0", 2);
  return rc;
}

int tg_debugjson_any(tg_buf *out, const tg_any_value *v, unsigned depth) {
  if (!v)
    return tg_buf_append_str(out, "null");
  if (depth >= DEBUGJSON_MAX_DEPTH)
    return tg_buf_append_str(out, "\"\\u2026\"");
  int rc = TG_OK;
  switch (v->value_case) {
  case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE:
    return tg_debugjson_cstr(out, v->string_value);
  case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE:
    return tg_buf_append_str(out, v->bool_value ? "true" : "false");
  case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE:
    return tg_buf_appendf(out, "%" PRId64, v->int_value);
  case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE:
    return tg_debugjson_double(out, v->double_value);
  case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE:
    rc = tg_buf_append(out, "[", 1);
    if (v->array_value)
      for (size_t i = 0; rc == TG_OK && i < v->array_value->n_values; i++) {
        if (i)
          rc = tg_buf_append(out, ",", 1);
        if (rc == TG_OK)
          rc = tg_debugjson_any(out, v->array_value->values[i], depth + 1);
      }
    return rc ? rc : tg_buf_append(out, "]", 1);
  case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE:
    if (!v->kvlist_value)
      return tg_buf_append_str(out, "{}");
    return tg_debugjson_attrs(out, v->kvlist_value->values, v->kvlist_value->n_values,
                              depth + 1);
  case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE:
    rc = tg_buf_append_str(out, "{\"bytes_base64\":");
    if (rc == TG_OK)
      rc = tg_debugjson_base64(out, v->bytes_value.data, v->bytes_value.len);
    return rc ? rc : tg_buf_append(out, "}", 1);
  default:
    return tg_buf_append_str(out, "null");
  }
}

int tg_debugjson_attrs(tg_buf *out, tg_key_value *const *kv, size_t n, unsigned depth) {
  int rc = tg_buf_append(out, "{", 1);
  for (size_t i = 0; rc == TG_OK && i < n; i++) {
    if (i)
      rc = tg_buf_append(out, ",", 1);
    if (rc == TG_OK)
      rc = tg_debugjson_cstr(out, kv[i]->key);
    if (rc == TG_OK)
      rc = tg_buf_append(out, ":", 1);
    if (rc == TG_OK)
      rc = tg_debugjson_any(out, kv[i]->value, depth);
  }
  return rc ? rc : tg_buf_append(out, "}", 1);
}
