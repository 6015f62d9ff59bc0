/* ${env:VAR} substitution, done once per scalar while the YAML tree is built, so every
 * later consumer sees final text and the scalar keeps its own position for messages.
 *
 * The Collector's syntax is followed: "${env:NAME}" and "${env:NAME:-default}", plus the
 * bare "${NAME}" that older Collector configs use, and "$$" as the escape for a literal
 * "$". Two deliberate differences: an unset variable without a default is an error here
 * (the Collector substitutes "" with a warning, which hides typos in variable names), and
 * a default ends at the first "}" (no nesting). The output is built in a growable buffer
 * whose size is bounded by the input plus the (finite) environment values. */
#include "tg_env.h"

#include <stdlib.h>
#include <string.h>

#include "tg_alloc.h"

typedef struct outbuf {
  char *p;
  size_t n, cap;
  int oom;
} outbuf;

static void out_put(outbuf *b, const char *s, size_t n) {
  if (b->oom)
    return;
  if (b->n + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 32;
    while (cap < b->n + n + 1)
      cap *= 2;
    char *p = tg_realloc(b->p, cap);
    if (!p) {
      b->oom = 1;
      return;
    }
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->n, s, n);
  b->n += n;
  b->p[b->n] = '\0';
}

static int is_name_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int is_name_char(char c) { return is_name_start(c) || (c >= '0' && c <= '9'); }

static int valid_name(const char *s, size_t n) {
  if (n == 0 || !is_name_start(s[0]))
    return 0;
  for (size_t i = 1; i < n; i++)
    if (!is_name_char(s[i]))
      return 0;
  return 1;
}

/* A scheme is [A-Za-z][A-Za-z0-9+.-]* followed by ':' (the Collector's provider URI). */
static size_t scheme_len(const char *s, size_t n) {
  if (n == 0 || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
    return 0;
  size_t i = 1;
  while (i < n && (is_name_char(s[i]) || s[i] == '+' || s[i] == '.' || s[i] == '-'))
    i++;
  /* "NAME:-default" is a bare variable with a default, not a scheme */
  return i < n && s[i] == ':' && !(i + 1 < n && s[i + 1] == '-') ? i : 0;
}

/* Expands one reference body (between "${" and "}"); returns 0 or -1 (reported). */
static int expand_ref(const char *body, size_t n, const tg_yaml_pos *pos, tg_diag *diag,
                      outbuf *b) {
  const char *name = body;
  size_t sl = scheme_len(body, n);
  if (sl) {
    if (sl != 3 || memcmp(body, "env", 3) != 0) {
      tg_diag_add(diag, pos, "unsupported reference \"${%.*s}\": only ${env:NAME} is supported",
                  (int)n, body);
      return -1;
    }
    name = body + 4;
    n -= 4;
  }
  const char *def = NULL;
  size_t name_len = n, def_len = 0;
  for (size_t i = 0; i + 1 < n; i++) {
    if (name[i] == ':' && name[i + 1] == '-') {
      name_len = i;
      def = name + i + 2;
      def_len = n - i - 2;
      break;
    }
  }
  if (!valid_name(name, name_len)) {
    tg_diag_add(diag, pos, "invalid environment variable name \"%.*s\"", (int)name_len, name);
    return -1;
  }
  if (def && def_len >= 2 && memmem(def, def_len, "${", 2)) {
    tg_diag_add(diag, pos, "a reference inside the default of ${env:%.*s} is not supported",
                (int)name_len, name);
    return -1;
  }
  char key[256];
  if (name_len >= sizeof key) {
    tg_diag_add(diag, pos, "environment variable name \"%.*s...\" is too long", 32, name);
    return -1;
  }
  memcpy(key, name, name_len);
  key[name_len] = '\0';
  const char *value = getenv(key);
  if (value) {
    out_put(b, value, strlen(value));
  } else if (def) {
    out_put(b, def, def_len);
  } else {
    tg_diag_add(diag, pos,
                "environment variable \"%s\" is not set (write ${env:%s:-default} to give a "
                "default)",
                key, key);
    return -1;
  }
  return 0;
}

int tg_env_expand(const char *text, size_t len, const tg_yaml_pos *pos, tg_diag *diag,
                  char **out) {
  outbuf b = {0};
  int failed = 0;
  size_t i = 0, lit = 0; /* text[lit..i) is pending literal text */
  out_put(&b, "", 0);
  while (i < len) {
    if (text[i] != '$' || i + 1 >= len) {
      i++;
      continue;
    }
    if (text[i + 1] == '$') {
      out_put(&b, text + lit, i + 1 - lit); /* keeps one '$' */
      i += 2;
      lit = i;
      continue;
    }
    if (text[i + 1] != '{') {
      i++;
      continue;
    }
    const char *body = text + i + 2;
    const char *close = memchr(body, '}', len - (i + 2));
    out_put(&b, text + lit, i - lit);
    if (!close) {
      tg_diag_add(diag, pos, "unterminated \"${\" (write \"$$\" for a literal \"$\")");
      failed = 1;
      lit = i = len;
      break;
    }
    if (expand_ref(body, (size_t)(close - body), pos, diag, &b) < 0)
      failed = 1;
    i = (size_t)(close - text) + 1;
    lit = i;
  }
  out_put(&b, text + lit, len - lit);
  if (b.oom && !failed) {
    tg_diag_add(diag, pos, "out of memory expanding environment references");
    failed = 1;
  }
  if (failed) {
    tg_free(b.p);
    *out = NULL;
    return -1;
  }
  *out = b.p;
  return 0;
}
