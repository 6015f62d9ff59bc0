/* Strict scalar parsers for configuration values: integers, doubles, durations, sizes,
 * booleans. Each validates the whole text against an explicit grammar before converting
 * (strtoll/strtod alone would accept leading spaces, "0x", "inf", trailing junk), and
 * checks every multiplication for overflow. The *_detail variants return the reason as
 * text for tg_conf.c's messages; the public ones (tg_conf.h) return 0/-1. */
#include "tg_conf_internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int is_digit(char c) { return c >= '0' && c <= '9'; }

const char *tg_conf_int_detail(const char *s, int64_t *out) {
  const char *p = s;
  if (*p == '+' || *p == '-')
    p++;
  if (!is_digit(*p))
    return "is not an integer";
  const char *digits = p;
  while (is_digit(*p))
    p++;
  if (*p)
    return "is not an integer";
  if (digits[0] == '0' && p - digits > 1)
    return "is not an integer (leading zeros are ambiguous: octal in YAML 1.1)";
  errno = 0;
  char *end;
  long long v = strtoll(s, &end, 10);
  if (errno == ERANGE || *end)
    return "is out of the 64-bit integer range";
  *out = v;
  return NULL;
}

const char *tg_conf_double_detail(const char *s, double *out) {
  const char *p = s;
  if (*p == '+' || *p == '-')
    p++;
  size_t mantissa = 0;
  while (is_digit(*p))
    p++, mantissa++;
  if (*p == '.') {
    p++;
    while (is_digit(*p))
      p++, mantissa++;
  }
  if (!mantissa)
    return "is not a number";
  if (*p == 'e' || *p == 'E') {
    p++;
    if (*p == '+' || *p == '-')
      p++;
    if (!is_digit(*p))
      return "is not a number";
    while (is_digit(*p))
      p++;
  }
  if (*p)
    return "is not a number";
  errno = 0;
  char *end;
  double v = strtod(s, &end);
  if (*end || !isfinite(v) || errno == ERANGE)
    return "is out of range for a number";
  *out = v;
  return NULL;
}

static int mul_ok(uint64_t a, uint64_t b, uint64_t *out) {
  if (a && b > UINT64_MAX / a)
    return 0;
  *out = a * b;
  return 1;
}

static int add_ok(uint64_t a, uint64_t b, uint64_t *out) {
  if (a > UINT64_MAX - b)
    return 0;
  *out = a + b;
  return 1;
}

static const struct {
  const char *name;
  uint64_t ns;
} duration_units[] = {
    /* longest first where one is a prefix of another ("ms" before "m") */
    {"ns", 1},           {"us", 1000},          {"\xc2\xb5s", 1000}, {"\xce\xbcs", 1000},
    {"ms", 1000000},     {"s", 1000000000ull}, {"m", 60000000000ull}, {"h", 3600000000000ull},
};

/* The whole Go-style duration in nanoseconds (shared by the ms and ns parsers). */
static const char *duration_ns_detail(const char *s, uint64_t *out) {
  static const char *const bad = "is not a duration (examples: 250ms, 5s, 1m30s, 2h)";
  const char *p = s;
  if (*p == '-')
    return "is negative (durations must be >= 0)";
  if (*p == '+')
    p++;
  if (!strcmp(p, "0")) {
    *out = 0;
    return NULL;
  }
  if (!*p)
    return bad;
  uint64_t total = 0;
  while (*p) {
    if (!is_digit(*p) && *p != '.')
      return bad;
    uint64_t whole = 0;
    size_t n_whole = 0, n_frac = 0;
    while (is_digit(*p)) {
      if (!mul_ok(whole, 10, &whole) || !add_ok(whole, (uint64_t)(*p - '0'), &whole))
        return "is too large";
      p++, n_whole++;
    }
    const char *frac = NULL;
    if (*p == '.') {
      frac = ++p;
      while (is_digit(*p))
        p++, n_frac++;
    }
    if (!n_whole && !n_frac)
      return bad;
    size_t u = 0, ulen = 0;
    for (; u < sizeof duration_units / sizeof *duration_units; u++) {
      ulen = strlen(duration_units[u].name);
      if (!strncmp(p, duration_units[u].name, ulen))
        break;
    }
    if (u == sizeof duration_units / sizeof *duration_units)
      return *p ? bad : "needs a unit (examples: 500ms, 5s, 1m)";
    p += ulen;
    uint64_t unit = duration_units[u].ns, ns;
    if (!mul_ok(whole, unit, &ns) || !add_ok(total, ns, &total))
      return "is too large";
    /* Fraction digits scale the unit down by ten each; digits below one nanosecond are
     * dropped (as Go does). The result is exact to the nanosecond because every unit is
     * 10^k times 1, 6 or 36. */
    uint64_t place = unit;
    for (size_t i = 0; i < n_frac && place % 10 == 0; i++) {
      place /= 10;
      if (!add_ok(total, (uint64_t)(frac[i] - '0') * place, &total))
        return "is too large";
    }
  }
  *out = total;
  return NULL;
}

const char *tg_conf_duration_detail(const char *s, uint64_t *out) {
  uint64_t total;
  const char *why = duration_ns_detail(s, &total);
  if (why)
    return why;
  if (total % 1000000)
    return "is finer than the millisecond resolution";
  *out = total / 1000000;
  return NULL;
}

int tg_conf_parse_duration_ns(const char *s, uint64_t *out) {
  return duration_ns_detail(s, out) ? -1 : 0;
}

static const struct {
  const char *name;
  uint64_t mult;
} size_units[] = {
    {"KiB", 1ull << 10}, {"MiB", 1ull << 20}, {"GiB", 1ull << 30}, {"TiB", 1ull << 40},
    {"KB", 1000},        {"kB", 1000},        {"MB", 1000000},     {"GB", 1000000000ull},
    {"TB", 1000000000000ull}, {"B", 1},
};

const char *tg_conf_size_detail(const char *s, uint64_t *out) {
  static const char *const bad = "is not a size (examples: 512, 4KiB, 16MiB, 1GiB, 1MB)";
  const char *p = s;
  uint64_t v = 0;
  if (!is_digit(*p))
    return *p == '-' ? "is negative (sizes must be >= 0)" : bad;
  while (is_digit(*p)) {
    if (!mul_ok(v, 10, &v) || !add_ok(v, (uint64_t)(*p - '0'), &v))
      return "is too large";
    p++;
  }
  if (!*p) {
    *out = v;
    return NULL;
  }
  for (size_t u = 0; u < sizeof size_units / sizeof *size_units; u++) {
    if (!strcmp(p, size_units[u].name)) {
      if (!mul_ok(v, size_units[u].mult, &v))
        return "is too large";
      *out = v;
      return NULL;
    }
  }
  return bad;
}

const char *tg_conf_bool_detail(const char *s, _Bool *out) {
  static const char *const t[] = {"true", "True", "TRUE"}, *const f[] = {"false", "False", "FALSE"};
  for (size_t i = 0; i < 3; i++) {
    if (!strcmp(s, t[i])) {
      *out = 1;
      return NULL;
    }
    if (!strcmp(s, f[i])) {
      *out = 0;
      return NULL;
    }
  }
  return "is not a boolean (write true or false)";
}

int tg_conf_parse_int(const char *s, int64_t *out) { return tg_conf_int_detail(s, out) ? -1 : 0; }

int tg_conf_parse_double(const char *s, double *out) {
  return tg_conf_double_detail(s, out) ? -1 : 0;
}

int tg_conf_parse_duration_ms(const char *s, uint64_t *out) {
  return tg_conf_duration_detail(s, out) ? -1 : 0;
}

int tg_conf_parse_size(const char *s, uint64_t *out) {
  return tg_conf_size_detail(s, out) ? -1 : 0;
}

int tg_conf_parse_bool(const char *s, _Bool *out) { return tg_conf_bool_detail(s, out) ? -1 : 0; }
