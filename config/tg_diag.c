/* Diagnostic lines. Each line is formatted once, at the time of the problem, into its own
 * allocation: positions are copied into the text, so the list outlives the YAML document
 * it talks about. Storage is capped (TG_DIAG_MAX_LINES) and a failed allocation only sets
 * `oom`, so reporting a problem can never itself fail. */
#include "tg_diag.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "tg_alloc.h"

void tg_diag_init(tg_diag *diag) { memset(diag, 0, sizeof *diag); }

void tg_diag_free(tg_diag *diag) {
  for (size_t i = 0; i < diag->n; i++)
    tg_free(diag->lines[i]);
  tg_free(diag->lines);
  memset(diag, 0, sizeof *diag);
}

static char *format_line(const tg_yaml_pos *pos, const char *fmt, va_list ap) {
  char prefix[64 + 32];
  const char *file = pos && pos->file ? pos->file : NULL;
  size_t file_len = file ? strlen(file) : 0;
  int plen = 0;
  if (file && pos->line > 0)
    plen = snprintf(prefix, sizeof prefix, ":%u:%u: ", pos->line, pos->col);
  else if (file)
    plen = snprintf(prefix, sizeof prefix, ": ");
  va_list ap2;
  va_copy(ap2, ap);
  int mlen = vsnprintf(NULL, 0, fmt, ap2);
  va_end(ap2);
  if (mlen < 0 || plen < 0)
    return NULL;
  size_t total = file_len + (size_t)plen + (size_t)mlen + 1;
  char *line = tg_malloc(total);
  if (!line)
    return NULL;
  if (file)
    memcpy(line, file, file_len);
  memcpy(line + file_len, prefix, (size_t)plen);
  vsnprintf(line + file_len + (size_t)plen, (size_t)mlen + 1, fmt, ap);
  return line;
}

void tg_diag_addv(tg_diag *diag, const tg_yaml_pos *pos, const char *fmt, va_list ap) {
  if (diag->n >= TG_DIAG_MAX_LINES) {
    diag->dropped++;
    return;
  }
  if (diag->n == diag->cap) {
    size_t cap = diag->cap ? diag->cap * 2 : 8;
    char **lines = tg_realloc(diag->lines, cap * sizeof *lines);
    if (!lines) {
      diag->oom = 1;
      return;
    }
    diag->lines = lines;
    diag->cap = cap;
  }
  char *line = format_line(pos, fmt, ap);
  if (!line) {
    diag->oom = 1;
    return;
  }
  diag->lines[diag->n++] = line;
}

void tg_diag_add(tg_diag *diag, const tg_yaml_pos *pos, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  tg_diag_addv(diag, pos, fmt, ap);
  va_end(ap);
}

void tg_diag_print(const tg_diag *diag, FILE *out) {
  for (size_t i = 0; i < diag->n; i++)
    fprintf(out, "%s\n", diag->lines[i]);
  if (diag->dropped)
    fprintf(out, "... and %zu more problems\n", diag->dropped);
  if (diag->oom)
    fprintf(out, "... and more problems (out of memory while reporting them)\n");
}
