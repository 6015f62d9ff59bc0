/* W3C Baggage and Jaeger uberctx-* baggage in one bounded member list.
 *
 * Values are stored decoded, so a member read from `uberctx-k: a%20b` and one read from
 * `baggage: k=a%20b` are the same member, and each format re-encodes on the way out.
 * Properties (";metadata") have no Jaeger equivalent; they are kept raw for W3C output.
 * All storage is inside the struct: a peer cannot make it grow past 8 KiB. */
#include "tg_baggage.h"
#include "tg_hex.h"

#include <string.h>

void tg_baggage_init(tg_baggage *b) {
  b->n = 0;
  b->truncated = 0;
  b->used = 0;
}

static int is_tchar(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
    return 1;
  return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}
static int is_baggage_octet(unsigned char c) {
  return c == 0x21 || (c >= 0x23 && c <= 0x2b) || (c >= 0x2d && c <= 0x3a) ||
         (c >= 0x3c && c <= 0x5b) || (c >= 0x5d && c <= 0x7e);
}
static int is_ows(char c) { return c == ' ' || c == '\t'; }
static void trim(const char **s, size_t *len) {
  while (*len && is_ows((*s)[0]))
    (*s)++, (*len)--;
  while (*len && is_ows((*s)[*len - 1]))
    (*len)--;
}

static int find_key(const tg_baggage *b, const char *key, size_t key_len) {
  for (uint16_t i = 0; i < b->n; i++)
    if (b->m[i].key_len == key_len && !memcmp(b->buf + b->m[i].key_off, key, key_len))
      return i;
  return -1;
}

/* Appends a member; value given raw (already decoded). Replaces an existing key by
 * removing the old entry (its bytes stay used until the list is rebuilt: bounded). */
static int add_member(tg_baggage *b, const char *key, size_t key_len, const char *val,
                      size_t val_len, const char *props, size_t props_len) {
  int old = find_key(b, key, key_len);
  if (old >= 0) {
    memmove(&b->m[old], &b->m[old + 1], (size_t)(b->n - old - 1) * sizeof b->m[0]);
    b->n--;
  }
  if (b->n >= TG_BAGGAGE_MAX_MEMBERS ||
      b->used + key_len + val_len + props_len > TG_BAGGAGE_MAX_BYTES) {
    b->truncated = 1;
    return -1;
  }
  tg_baggage_member *m = &b->m[b->n++];
  m->key_off = (uint16_t)b->used;
  m->key_len = (uint16_t)key_len;
  memcpy(b->buf + b->used, key, key_len);
  b->used += key_len;
  m->value_off = (uint16_t)b->used;
  m->value_len = (uint16_t)val_len;
  memcpy(b->buf + b->used, val, val_len);
  b->used += val_len;
  m->props_off = (uint16_t)b->used;
  m->props_len = (uint16_t)props_len;
  if (props_len)
    memcpy(b->buf + b->used, props, props_len);
  b->used += props_len;
  return 0;
}

/* Percent-decodes s into out (cap bytes); url_mode accepts any octet but %, since Jaeger
 * values are URL-encoded rather than baggage-octet strings. Returns length or -1. */
static long decode_value(const char *s, size_t len, char *out, size_t cap, int url_mode) {
  size_t n = 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '%') {
      if (i + 2 >= len)
        return -1;
      int hi = tg_hex_digit((unsigned char)s[i + 1]), lo = tg_hex_digit((unsigned char)s[i + 2]);
      if (hi < 0 || lo < 0)
        return -1;
      c = (unsigned char)(hi << 4 | lo);
      i += 2;
    } else if (!url_mode && !is_baggage_octet(c)) {
      return -1;
    } else if (url_mode && (c < 0x20 || c == 0x7f)) {
      return -1;
    }
    if (n >= cap)
      return -1;
    out[n++] = (char)c;
  }
  return (long)n;
}

static int member(tg_baggage *b, const char *s, size_t len, const char **why) {
  const char *semi = memchr(s, ';', len);
  size_t kv_len = semi ? (size_t)(semi - s) : len;
  const char *eq = memchr(s, '=', kv_len);
  if (!eq) {
    *why = "baggage: member without '='";
    return -1;
  }
  const char *key = s;
  size_t key_len = (size_t)(eq - s);
  trim(&key, &key_len);
  if (!key_len) {
    *why = "baggage: empty key";
    return -1;
  }
  for (size_t i = 0; i < key_len; i++)
    if (!is_tchar((unsigned char)key[i])) {
      *why = "baggage: key is not a token";
      return -1;
    }
  const char *val = eq + 1;
  size_t val_len = (size_t)(s + kv_len - val);
  trim(&val, &val_len);
  char dec[TG_BAGGAGE_MAX_BYTES];
  long dlen = decode_value(val, val_len, dec, sizeof dec, 0);
  if (dlen < 0) {
    *why = "baggage: value has a character outside baggage-octet or a bad %-escape";
    return -1;
  }
  const char *props = NULL;
  size_t props_len = 0;
  if (semi) {
    props = semi + 1;
    props_len = (size_t)(s + len - props);
    trim(&props, &props_len);
    for (size_t i = 0; i < props_len; i++) {
      unsigned char c = (unsigned char)props[i];
      if (!(is_tchar(c) || is_baggage_octet(c) || c == ';' || c == '=' || is_ows((char)c))) {
        *why = "baggage: property has an invalid character";
        return -1;
      }
    }
  }
  if (add_member(b, key, key_len, dec, (size_t)dlen, props, props_len)) {
    *why = "baggage: more than 64 members or 8192 bytes";
    return -1;
  }
  return 0;
}

int tg_baggage_parse(tg_baggage *b, const char *value, size_t len, const char **reason) {
  int bad = 0;
  const char *why = NULL;
  if (!value)
    return 0;
  if (len > TG_BAGGAGE_MAX_BYTES) {
    b->truncated = 1;
    len = TG_BAGGAGE_MAX_BYTES; /* the cut member fails to parse or is shortened: bounded */
  }
  size_t i = 0;
  while (i <= len) {
    size_t start = i;
    while (i < len && value[i] != ',')
      i++;
    const char *m = value + start;
    size_t mlen = i - start;
    trim(&m, &mlen);
    if (mlen) {
      const char *w = NULL;
      if (member(b, m, mlen, &w)) {
        bad++;
        if (!why)
          why = w;
      }
    }
    i++;
  }
  if (reason && why)
    *reason = why;
  return bad;
}

int tg_baggage_set(tg_baggage *b, const char *key, size_t key_len, const char *value,
                   size_t value_len) {
  if (!key_len)
    return -1;
  for (size_t i = 0; i < key_len; i++)
    if (!is_tchar((unsigned char)key[i]))
      return -1;
  return add_member(b, key, key_len, value, value_len, NULL, 0);
}

int tg_baggage_add_uberctx(tg_baggage *b, const char *name, size_t name_len, const char *value) {
  static const char prefix[] = "uberctx-";
  size_t plen = sizeof prefix - 1;
  if (name_len <= plen)
    return 0;
  for (size_t i = 0; i < plen; i++) {
    char c = name[i];
    if (c >= 'A' && c <= 'Z')
      c = (char)(c - 'A' + 'a');
    if (c != prefix[i])
      return 0;
  }
  char key[256];
  size_t key_len = name_len - plen;
  if (key_len > sizeof key)
    return -1;
  for (size_t i = 0; i < key_len; i++) {
    char c = name[plen + i];
    key[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
  }
  char dec[1024];
  long dlen = decode_value(value, strlen(value), dec, sizeof dec, 1);
  if (dlen < 0)
    return -1;
  return tg_baggage_set(b, key, key_len, dec, (size_t)dlen) ? -1 : 1;
}

static size_t encode(const char *s, size_t len, char *out, size_t cap, int url_mode) {
  static const char digits[] = "0123456789ABCDEF";
  size_t n = 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    int plain = url_mode ? ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                            (c >= '0' && c <= '9') || strchr("-_.!~*'()", c) != NULL)
                         : (is_baggage_octet(c) && c != '%');
    if (plain && c) {
      if (n + 1 > cap)
        return (size_t)-1;
      out[n++] = (char)c;
    } else {
      if (n + 3 > cap)
        return (size_t)-1;
      out[n++] = '%';
      out[n++] = digits[c >> 4];
      out[n++] = digits[c & 15];
    }
  }
  return n;
}

size_t tg_baggage_format(const tg_baggage *b, char *out, size_t cap) {
  if (!cap)
    return 0;
  size_t n = 0;
  char tmp[3 * TG_BAGGAGE_MAX_BYTES + 1];
  for (uint16_t i = 0; i < b->n; i++) {
    const tg_baggage_member *m = &b->m[i];
    size_t w = 0;
    if (n)
      tmp[w++] = ',';
    memcpy(tmp + w, b->buf + m->key_off, m->key_len);
    w += m->key_len;
    tmp[w++] = '=';
    size_t e = encode(b->buf + m->value_off, m->value_len, tmp + w, sizeof tmp - w, 0);
    if (e == (size_t)-1)
      continue;
    w += e;
    if (m->props_len && w + 1 + m->props_len < sizeof tmp) {
      tmp[w++] = ';';
      memcpy(tmp + w, b->buf + m->props_off, m->props_len);
      w += m->props_len;
    }
    if (n + w + 1 > cap || n + w > TG_BAGGAGE_MAX_BYTES)
      continue;
    memcpy(out + n, tmp, w);
    n += w;
  }
  out[n] = '\0';
  return n;
}

size_t tg_baggage_format_value(const tg_baggage *b, size_t i, char *out, size_t cap) {
  if (!cap || i >= b->n)
    return 0;
  size_t e = encode(b->buf + b->m[i].value_off, b->m[i].value_len, out, cap - 1, 1);
  if (e == (size_t)-1)
    e = 0;
  out[e] = '\0';
  return e;
}
