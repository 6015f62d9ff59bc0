/* JSON line logger. The message is JSON-escaped here, so callers can log peer-supplied
 * text without breaking the line format. One mutex keeps lines whole across threads.
 *
 * Rate limiting (tg_log.h) keys call sites by format-string address and component, not
 * by the formatted text: a flood of "refusing connection from <peer>" lines differs in
 * every line yet is one problem. The site table is small and fixed (no allocation while
 * logging); when it is full the least recently used site is evicted after its pending
 * summary is written, so no suppressed count is ever lost. Time is tg_clock_mono_ms, so
 * tests drive windows with tg_clock_set_fake. */
#include "tg_log.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tg_alloc.h"
#include "tg_clock.h"

static const char *const level_names[] = {"debug", "info", "warn", "error", "none"};

const char *const tg_log_reserved_fields[] = {
    "timestamp", "level", "message", "service_name", "component", "correlation_id",
    "error_code", NULL};

void tg_logger_init(tg_logger *log, tg_log_level level, FILE *out) {
  memset(log, 0, sizeof *log);
  log->level = level;
  log->out = out;
  log->service_name = "tailgate";
  log->rate_limit_ms = 10000;
  pthread_mutex_init(&log->lock, NULL);
}

int tg_log_level_parse(const char *s) {
  if (!strcmp(s, "warning"))
    return TG_LOG_WARN;
  for (int i = 0; i <= TG_LOG_NONE; i++)
    if (!strcmp(s, level_names[i]))
      return i;
  return -1;
}

static void write_escaped(FILE *out, const char *s) {
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    switch (*p) {
    case '"':
      fputs("\\\"", out);
      break;
    case '\\':
      fputs("\\\\", out);
      break;
    case '\n':
      fputs("\\n", out);
      break;
    case '\r':
      fputs("\\r", out);
      break;
    case '\t':
      fputs("\\t", out);
      break;
    default:
      if (*p < 0x20)
        fprintf(out, "\\u%04x", *p);
      else
        fputc(*p, out);
    }
  }
}

static void write_json_string(FILE *out, const char *s) {
  fputc('"', out);
  write_escaped(out, s);
  fputc('"', out);
}

void tg_logger_set_encoding(tg_logger *log, tg_log_encoding encoding) {
  log->encoding = encoding;
}

int tg_logger_set_initial_fields(tg_logger *log, const char *const *keys,
                                 const char *const *values, size_t n) {
  char *text = NULL;
  size_t len = 0;
  FILE *mem = open_memstream(&text, &len);
  if (!mem)
    return -1;
  for (size_t i = 0; i < n; i++) {
    fputc(',', mem);
    write_json_string(mem, keys[i]);
    fputc(':', mem);
    write_json_string(mem, values[i] ? values[i] : "");
  }
  if (fclose(mem) != 0 || !text) {
    free(text); /* open_memstream's buffer is libc's */
    return -1;
  }
  char *copy = n ? tg_strdup(text) : NULL;
  free(text);
  if (n && !copy)
    return -1;
  pthread_mutex_lock(&log->lock);
  tg_free(log->initial_fields);
  log->initial_fields = copy;
  pthread_mutex_unlock(&log->lock);
  return 0;
}

/* The console encoding: tab-separated columns, then the extra fields as one JSON
 * object; the message is escaped as in JSON (no raw newline or tab can split a line). */
static void emit_console_locked(tg_logger *log, const char *stamp, int level,
                                const char *component, const char *correlation_id,
                                const char *error_code, const char *message) {
  FILE *out = log->out;
  fprintf(out, "%s\t%s\t", stamp, level_names[level]);
  write_escaped(out, component ? component : "-");
  fputc('\t', out);
  write_escaped(out, message);
  if (correlation_id || error_code || log->initial_fields) {
    int first = 1;
    fputs("\t{", out);
    if (correlation_id) {
      fputs("\"correlation_id\":", out);
      write_json_string(out, correlation_id);
      first = 0;
    }
    if (error_code) {
      fputs(first ? "\"error_code\":" : ",\"error_code\":", out);
      write_json_string(out, error_code);
      first = 0;
    }
    if (log->initial_fields) /* starts with a comma */
      fputs(log->initial_fields + first, out);
    fputc('}', out);
  }
  fputc('\n', out);
  fflush(out);
}

/* Writes one line; the caller holds log->lock. */
static void emit_locked(tg_logger *log, int level, const char *component,
                        const char *correlation_id, const char *error_code,
                        const char *message) {
  uint64_t now = tg_clock_unix_nano();
  time_t secs = (time_t)(now / 1000000000u);
  struct tm tm;
  gmtime_r(&secs, &tm);
  char stamp[40];
  size_t n = strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(stamp + n, sizeof stamp - n, ".%06uZ", (unsigned)((now / 1000u) % 1000000u));

  if (log->encoding == TG_LOG_ENCODING_CONSOLE) {
    emit_console_locked(log, stamp, level, component, correlation_id, error_code, message);
    return;
  }
  FILE *out = log->out;
  fprintf(out, "{\"timestamp\":\"%s\",\"level\":\"%s\",\"message\":", stamp,
          level_names[level]);
  write_json_string(out, message);
  fputs(",\"service_name\":", out);
  write_json_string(out, log->service_name);
  if (component) {
    fputs(",\"component\":", out);
    write_json_string(out, component);
  }
  if (correlation_id) {
    fputs(",\"correlation_id\":", out);
    write_json_string(out, correlation_id);
  }
  if (error_code) {
    fputs(",\"error_code\":", out);
    write_json_string(out, error_code);
  }
  if (log->initial_fields)
    fputs(log->initial_fields, out);
  fputs("}\n", out);
  fflush(out);
}

/* The summary of a site's window: its last message and the count. */
static void emit_summary_locked(tg_logger *log, tg_log_site *s, uint64_t now_ms) {
  char line[TG_LOG_LIMIT_MSG + 96];
  uint64_t span = now_ms - s->window_start_ms;
  snprintf(line, sizeof line, "%s (%llu similar messages suppressed in the last %llu.%llu s)",
           s->last, (unsigned long long)s->suppressed, (unsigned long long)(span / 1000),
           (unsigned long long)(span % 1000 / 100));
  emit_locked(log, s->level, s->component[0] ? s->component : NULL, NULL, NULL, line);
  s->suppressed = 0;
}

/* Copies s into the site's last message, cut to fit. */
static void keep_last(tg_log_site *site, const char *s) {
  size_t n = strlen(s);
  if (n >= sizeof site->last)
    n = sizeof site->last - 1;
  memcpy(site->last, s, n);
  site->last[n] = '\0';
}

static uint64_t hash_str(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (; s && *s; s++) {
    h ^= (unsigned char)*s;
    h *= 1099511628211ull;
  }
  return h;
}

/* Finds or claims the site of (fmt, component); evicts the least recently used one
 * (writing its pending summary first) when the table is full. */
static tg_log_site *site_locked(tg_logger *log, int level, const char *fmt,
                                const char *component, uint64_t now_ms, int *fresh) {
  uint64_t ch = hash_str(component);
  tg_log_site *free_slot = NULL, *lru = &log->sites[0];
  for (int i = 0; i < TG_LOG_LIMIT_SITES; i++) {
    tg_log_site *s = &log->sites[i];
    if (!s->window_start_ms) {
      if (!free_slot)
        free_slot = s;
      continue;
    }
    if (s->fmt == fmt && s->component_hash == ch && s->level == level &&
        strncmp(s->component, component ? component : "", sizeof s->component - 1) == 0) {
      *fresh = 0;
      return s;
    }
    if (s->last_used_ms < lru->last_used_ms || !lru->window_start_ms)
      lru = s;
  }
  tg_log_site *s = free_slot;
  if (!s) {
    s = lru;
    if (s->suppressed)
      emit_summary_locked(log, s, now_ms);
  }
  memset(s, 0, sizeof *s);
  s->fmt = fmt;
  s->component_hash = ch;
  snprintf(s->component, sizeof s->component, "%s", component ? component : "");
  s->level = level;
  s->window_start_ms = now_ms ? now_ms : 1;
  *fresh = 1;
  return s;
}

void tg_log_write(tg_logger *log, tg_log_level level, const char *component,
                  const char *correlation_id, const char *error_code, const char *fmt, ...) {
  char message[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(message, sizeof message, fmt, ap);
  va_end(ap);

  pthread_mutex_lock(&log->lock);
  if (level >= TG_LOG_WARN && log->rate_limit_ms) {
    uint64_t now = tg_clock_mono_ms();
    int fresh;
    tg_log_site *s = site_locked(log, level, fmt, component, now, &fresh);
    s->last_used_ms = now;
    if (!fresh && now - s->window_start_ms < log->rate_limit_ms) {
      s->suppressed++;
      log->suppressed_total++;
      keep_last(s, message);
      pthread_mutex_unlock(&log->lock);
      return;
    }
    if (!fresh && s->suppressed) {
      /* A new window: this line carries the count of the window that ended. */
      keep_last(s, message);
      emit_summary_locked(log, s, now);
    } else {
      emit_locked(log, level, component, correlation_id, error_code, message);
    }
    s->window_start_ms = now ? now : 1;
    pthread_mutex_unlock(&log->lock);
    return;
  }
  emit_locked(log, level, component, correlation_id, error_code, message);
  pthread_mutex_unlock(&log->lock);
}

void tg_logger_flush_suppressed(tg_logger *log) {
  pthread_mutex_lock(&log->lock);
  uint64_t now = tg_clock_mono_ms();
  for (int i = 0; i < TG_LOG_LIMIT_SITES; i++) {
    tg_log_site *s = &log->sites[i];
    if (!s->window_start_ms || now - s->window_start_ms < log->rate_limit_ms)
      continue;
    if (s->suppressed)
      emit_summary_locked(log, s, now);
    s->window_start_ms = 0; /* the site is free again: its next line is written at once */
  }
  pthread_mutex_unlock(&log->lock);
}

void tg_logger_destroy(tg_logger *log) {
  pthread_mutex_lock(&log->lock);
  uint64_t now = tg_clock_mono_ms();
  for (int i = 0; i < TG_LOG_LIMIT_SITES; i++)
    if (log->sites[i].window_start_ms && log->sites[i].suppressed)
      emit_summary_locked(log, &log->sites[i], now);
  pthread_mutex_unlock(&log->lock);
  pthread_mutex_destroy(&log->lock);
  tg_free(log->initial_fields);
  log->initial_fields = NULL;
}
