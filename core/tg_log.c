/* JSON line logger. The message is JSON-escaped here, so callers can log peer-supplied
 * text without breaking the line format. One mutex keeps lines whole across threads. */
#include "tg_log.h"

#include <stdarg.h>
#include <string.h>
#include <time.h>

#include "tg_clock.h"

static const char *const level_names[] = {"debug", "info", "warn", "error", "none"};

void tg_logger_init(tg_logger *log, tg_log_level level, FILE *out) {
  log->level = level;
  log->out = out;
  log->service_name = "tailgate";
  pthread_mutex_init(&log->lock, NULL);
}

void tg_logger_destroy(tg_logger *log) { pthread_mutex_destroy(&log->lock); }

int tg_log_level_parse(const char *s) {
  if (!strcmp(s, "warning"))
    return TG_LOG_WARN;
  for (int i = 0; i <= TG_LOG_NONE; i++)
    if (!strcmp(s, level_names[i]))
      return i;
  return -1;
}

static void write_json_string(FILE *out, const char *s) {
  fputc('"', out);
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
  fputc('"', out);
}

void tg_log_write(tg_logger *log, tg_log_level level, const char *component,
                  const char *correlation_id, const char *error_code, const char *fmt, ...) {
  char message[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(message, sizeof message, fmt, ap);
  va_end(ap);

  uint64_t now = tg_clock_unix_nano();
  time_t secs = (time_t)(now / 1000000000u);
  struct tm tm;
  gmtime_r(&secs, &tm);
  char stamp[40];
  size_t n = strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(stamp + n, sizeof stamp - n, ".%06uZ", (unsigned)((now / 1000u) % 1000000u));

  pthread_mutex_lock(&log->lock);
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
  fputs("}\n", out);
  fflush(out);
  pthread_mutex_unlock(&log->lock);
}
