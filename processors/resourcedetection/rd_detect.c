/* The `env` and `system` detectors. Both run once, at create: a resource does not change
 * while the process lives (the Collector's detectors also run once, at start). */
#include "rd_detect.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "tg_alloc.h"

int rd_attrs_add(rd_attrs *a, const char *key, size_t klen, const char *value, size_t vlen) {
  for (size_t i = 0; i < a->n; i++)
    if (strlen(a->items[i].key) == klen && memcmp(a->items[i].key, key, klen) == 0)
      return 0;
  if (a->n == a->cap) {
    size_t cap = a->cap ? a->cap * 2 : 8;
    rd_attr *items = tg_realloc(a->items, cap * sizeof *items);
    if (!items)
      return -1;
    a->items = items;
    a->cap = cap;
  }
  char *k = tg_strndup(key, klen), *v = tg_strndup(value, vlen);
  if (!k || !v) {
    tg_free(k);
    tg_free(v);
    return -1;
  }
  a->items[a->n++] = (rd_attr){k, v};
  return 0;
}

void rd_attrs_free(rd_attrs *a) {
  for (size_t i = 0; i < a->n; i++) {
    tg_free(a->items[i].key);
    tg_free(a->items[i].value);
  }
  tg_free(a->items);
  memset(a, 0, sizeof *a);
}

static int hexval(char c) {
  return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                          : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static void trim(const char **s, const char **e) {
  while (*s < *e && isspace((unsigned char)**s))
    (*s)++;
  while (*e > *s && isspace((unsigned char)(*e)[-1]))
    (*e)--;
}

int rd_parse_env(const char *text, rd_attrs *out, char *why, size_t why_size) {
  const char *p = text;
  while (*p) {
    const char *end = strchr(p, ',');
    if (!end)
      end = p + strlen(p);
    const char *s = p, *e = end;
    trim(&s, &e);
    if (s < e) {
      const char *eq = memchr(s, '=', (size_t)(e - s));
      if (!eq) {
        snprintf(why, why_size, "OTEL_RESOURCE_ATTRIBUTES: \"%.*s\" is not key=value",
                 (int)(e - s > 80 ? 80 : e - s), s);
        return -1;
      }
      const char *ks = s, *ke = eq, *vs = eq + 1, *ve = e;
      trim(&ks, &ke);
      trim(&vs, &ve);
      if (ks == ke) {
        snprintf(why, why_size, "OTEL_RESOURCE_ATTRIBUTES: a pair has an empty key");
        return -1;
      }
      char value[1024];
      size_t n = 0;
      for (const char *c = vs; c < ve; c++) {
        if (n + 1 >= sizeof value) {
          snprintf(why, why_size, "OTEL_RESOURCE_ATTRIBUTES: a value is longer than %zu bytes",
                   sizeof value - 1);
          return -1;
        }
        if (*c == '%') {
          int h = c + 2 < ve ? hexval(c[1]) : -1, l = c + 2 < ve ? hexval(c[2]) : -1;
          if (h < 0 || l < 0) {
            snprintf(why, why_size, "OTEL_RESOURCE_ATTRIBUTES: bad percent-escape in the "
                                    "value of \"%.*s\"", (int)(ke - ks > 80 ? 80 : ke - ks), ks);
            return -1;
          }
          value[n++] = (char)(h * 16 + l);
          c += 2;
        } else {
          value[n++] = *c;
        }
      }
      if (rd_attrs_add(out, ks, (size_t)(ke - ks), value, n) != 0) {
        snprintf(why, why_size, "out of memory");
        return -1;
      }
    }
    p = *end ? end + 1 : end;
  }
  return 0;
}

int rd_detect_system(rd_attrs *out, char *why, size_t why_size) {
  char host[256];
  if (gethostname(host, sizeof host) != 0) {
    snprintf(why, why_size, "system: cannot read the host name");
    return -1;
  }
  host[sizeof host - 1] = '\0';
  struct utsname u;
  if (uname(&u) != 0) {
    snprintf(why, why_size, "system: uname failed");
    return -1;
  }
  char os[sizeof u.sysname];
  size_t n = 0;
  for (; u.sysname[n] && n + 1 < sizeof os; n++)
    os[n] = (char)tolower((unsigned char)u.sysname[n]);
  os[n] = '\0';
  if (rd_attrs_add(out, "host.name", 9, host, strlen(host)) != 0 ||
      rd_attrs_add(out, "os.type", 7, os, n) != 0) {
    snprintf(why, why_size, "out of memory");
    return -1;
  }
  return 0;
}
