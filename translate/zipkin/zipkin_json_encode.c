/* Zipkin v2 JSON writing: the model → the body of POST /api/v2/spans.
 *
 * One pass into a tg_buf; no DOM. Zipkin's JSON reader wants lower-case hex ids of 16
 * or 32 digits, integers for times, and valid UTF-8, so strings are repaired (an invalid
 * byte becomes U+FFFD) rather than copied blindly: attribute bytes come from the network. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "tg_error.h"
#include "translate/zipkin/zipkin_model.h"

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0. */
static size_t utf8_len(const uint8_t *s, size_t n) {
  uint8_t c = s[0];
  size_t len;
  uint32_t min;
  if (c < 0x80)
    return 1;
  if (c >= 0xc2 && c <= 0xdf)
    len = 2, min = 0x80;
  else if (c >= 0xe0 && c <= 0xef)
    len = 3, min = 0x800;
  else if (c >= 0xf0 && c <= 0xf4)
    len = 4, min = 0x10000;
  else
    return 0;
  if (n < len)
    return 0;
  uint32_t cp = c & (0x3f >> (len - 1));
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xc0) != 0x80)
      return 0;
    cp = cp << 6 | (s[i] & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
    return 0;
  return len;
}

int tg_zipkin_json_append_string(tg_buf *out, const char *str, size_t len) {
  const uint8_t *s = (const uint8_t *)str;
  int rc = tg_buf_reserve(out, len + 2);
  if (rc)
    return rc;
  tg_buf_append(out, "\"", 1);
  size_t run = 0; /* start of the pending run of bytes copied as they are */
  for (size_t i = 0; i < len;) {
    uint8_t c = s[i];
    if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
      i++;
      continue;
    }
    size_t u = c >= 0x80 ? utf8_len(s + i, len - i) : 0;
    if (u) {
      i += u;
      continue;
    }
    if (i > run && (rc = tg_buf_append(out, s + run, i - run)))
      return rc;
    char esc[8];
    const char *e = esc;
    size_t en;
    switch (c) {
    case '"': e = "\\\"", en = 2; break;
    case '\\': e = "\\\\", en = 2; break;
    case '\n': e = "\\n", en = 2; break;
    case '\r': e = "\\r", en = 2; break;
    case '\t': e = "\\t", en = 2; break;
    default:
      if (c < 0x20)
        en = (size_t)snprintf(esc, sizeof esc, "\\u%04x", c);
      else
        e = "\xef\xbf\xbd", en = 3; /* U+FFFD for an invalid byte */
    }
    if ((rc = tg_buf_append(out, e, en)))
      return rc;
    i++;
    run = i;
  }
  if (len > run && (rc = tg_buf_append(out, s + run, len - run)))
    return rc;
  return tg_buf_append(out, "\"", 1);
}

static void hex(char *dst, const uint8_t *p, size_t n) {
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    dst[2 * i] = digits[p[i] >> 4];
    dst[2 * i + 1] = digits[p[i] & 15];
  }
}

static int id_field(tg_buf *out, const char *name, const ProtobufCBinaryData *id, int first) {
  if (!id->len || id->len > 16)
    return TG_OK;
  char h[40];
  hex(h, id->data, id->len);
  return tg_buf_appendf(out, "%s\"%s\":\"%.*s\"", first ? "" : ",", name, (int)(2 * id->len), h);
}

static int str_field(tg_buf *out, const char *name, const char *v) {
  if (!v || !*v)
    return TG_OK;
  int rc = tg_buf_appendf(out, ",\"%s\":", name);
  return rc ? rc : tg_zipkin_json_append_string(out, v, strlen(v));
}

static int endpoint(tg_buf *out, const char *name, const tg_zipkin_endpoint *e) {
  if (!e)
    return TG_OK;
  int rc = tg_buf_appendf(out, ",\"%s\":{", name);
  int first = 1;
  if (!rc && e->service_name && *e->service_name) {
    rc = tg_buf_append_str(out, "\"serviceName\":");
    if (!rc)
      rc = tg_zipkin_json_append_string(out, e->service_name, strlen(e->service_name));
    first = 0;
  }
  char ip[64];
  if (!rc && e->ipv4.len == 4 && tg_zipkin_ip_text(&e->ipv4, ip, sizeof ip)) {
    rc = tg_buf_appendf(out, "%s\"ipv4\":\"%s\"", first ? "" : ",", ip);
    first = 0;
  }
  if (!rc && e->ipv6.len == 16 && tg_zipkin_ip_text(&e->ipv6, ip, sizeof ip)) {
    rc = tg_buf_appendf(out, "%s\"ipv6\":\"%s\"", first ? "" : ",", ip);
    first = 0;
  }
  if (!rc && e->port > 0)
    rc = tg_buf_appendf(out, "%s\"port\":%" PRId32, first ? "" : ",", e->port);
  return rc ? rc : tg_buf_append(out, "}", 1);
}

static int span(tg_buf *out, const tg_zipkin_span *s) {
  static const char *const kinds[] = {NULL, "CLIENT", "SERVER", "PRODUCER", "CONSUMER"};
  int rc = tg_buf_append(out, "{", 1);
  if (!rc)
    rc = id_field(out, "traceId", &s->trace_id, 1);
  if (!rc && s->parent_id.len)
    rc = id_field(out, "parentId", &s->parent_id, 0);
  if (!rc)
    rc = id_field(out, "id", &s->id, 0);
  if (!rc && s->kind > 0 && s->kind < 5)
    rc = tg_buf_appendf(out, ",\"kind\":\"%s\"", kinds[s->kind]);
  if (!rc)
    rc = str_field(out, "name", s->name);
  if (!rc && s->timestamp)
    rc = tg_buf_appendf(out, ",\"timestamp\":%" PRIu64, s->timestamp);
  if (!rc && s->duration)
    rc = tg_buf_appendf(out, ",\"duration\":%" PRIu64, s->duration);
  if (!rc)
    rc = endpoint(out, "localEndpoint", s->local_endpoint);
  if (!rc)
    rc = endpoint(out, "remoteEndpoint", s->remote_endpoint);
  if (!rc && s->n_annotations) {
    rc = tg_buf_append_str(out, ",\"annotations\":[");
    for (size_t i = 0; !rc && i < s->n_annotations; i++) {
      const tg_zipkin_annotation *a = s->annotations[i];
      const char *v = a->value ? a->value : "";
      rc = tg_buf_appendf(out, "%s{\"timestamp\":%" PRIu64 ",\"value\":", i ? "," : "",
                          a->timestamp);
      if (!rc)
        rc = tg_zipkin_json_append_string(out, v, strlen(v));
      if (!rc)
        rc = tg_buf_append(out, "}", 1);
    }
    if (!rc)
      rc = tg_buf_append(out, "]", 1);
  }
  if (!rc && s->n_tags) {
    rc = tg_buf_append_str(out, ",\"tags\":{");
    for (size_t i = 0; !rc && i < s->n_tags; i++) {
      const char *k = s->tags[i]->key ? s->tags[i]->key : "";
      const char *v = s->tags[i]->value ? s->tags[i]->value : "";
      if (i)
        rc = tg_buf_append(out, ",", 1);
      if (!rc)
        rc = tg_zipkin_json_append_string(out, k, strlen(k));
      if (!rc)
        rc = tg_buf_append(out, ":", 1);
      if (!rc)
        rc = tg_zipkin_json_append_string(out, v, strlen(v));
    }
    if (!rc)
      rc = tg_buf_append(out, "}", 1);
  }
  if (!rc && s->debug)
    rc = tg_buf_append_str(out, ",\"debug\":true");
  if (!rc && s->shared)
    rc = tg_buf_append_str(out, ",\"shared\":true");
  return rc ? rc : tg_buf_append(out, "}", 1);
}

int tg_zipkin_json_encode(tg_buf *out, const tg_zipkin_list *list) {
  int rc = tg_buf_append(out, "[", 1);
  for (size_t i = 0; !rc && i < list->n_spans; i++) {
    if (i)
      rc = tg_buf_append(out, ",", 1);
    if (!rc)
      rc = span(out, list->spans[i]);
  }
  return rc ? rc : tg_buf_append(out, "]", 1);
}
