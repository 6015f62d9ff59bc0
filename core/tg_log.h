/* JSON logs on stdout, one object per line: timestamp (ISO-8601 UTC), level, message,
 * service_name, component, correlation_id, error_code, then the configured initial fields
 * (service.telemetry.logs.initial_fields). With the console encoding
 * (service.telemetry.logs.encoding: console) a line reads instead, tab-separated:
 *   2026-12-02T15:00:00.000000Z<TAB>info<TAB>component<TAB>message<TAB>{"k":"v",...}
 * where the last column (correlation_id, error_code, initial fields as JSON) is left out
 * when empty and a missing component is "-". Thread-safe (exporter threads log too). The
 * TG_LOG_* macros check the level before formatting anything.
 *
 * Repeated warnings are rate-limited: warn and error lines from one call site (the same
 * format string and component) are written once per window (rate_limit_ms, default
 * 10 s); the rest of the window is counted, not written, and the window's suppressed
 * count is reported with the site's last message, "... (N similar messages suppressed in
 * the last 10 s)", either by the next line of that site after the window or by
 * tg_logger_flush_suppressed (main.c calls it every second). A flood of identical
 * warnings thus costs one line per site per window. Debug and info are never limited. */
#ifndef TG_LOG_H
#define TG_LOG_H

#include <pthread.h>
#include <stdio.h>

typedef enum tg_log_level {
  TG_LOG_DEBUG,
  TG_LOG_INFO,
  TG_LOG_WARN,
  TG_LOG_ERROR,
  TG_LOG_NONE,
} tg_log_level;

#include <stdint.h>

/* One rate-limited call site. */
enum { TG_LOG_LIMIT_SITES = 32, TG_LOG_LIMIT_MSG = 512 };
typedef struct tg_log_site {
  const char *fmt;          /* key: the format string (a literal: stable address) */
  uint64_t component_hash;  /* key: FNV-1a of the component ("" when NULL) */
  char component[64];
  int level;
  uint64_t window_start_ms; /* 0 = free slot */
  uint64_t last_used_ms;
  uint64_t suppressed;      /* lines not written in the current window */
  char last[TG_LOG_LIMIT_MSG];
} tg_log_site;

typedef enum tg_log_encoding { TG_LOG_ENCODING_JSON, TG_LOG_ENCODING_CONSOLE } tg_log_encoding;

typedef struct tg_logger {
  tg_log_level level;
  tg_log_encoding encoding;
  char *initial_fields;     /* owned: `,"k":"v"...` ready to append; NULL = none */
  FILE *out;                /* not owned */
  const char *service_name; /* "tailgate" */
  pthread_mutex_t lock;
  uint64_t rate_limit_ms;   /* window per call site; 0 = no rate limiting */
  tg_log_site sites[TG_LOG_LIMIT_SITES]; /* guarded by lock */
  uint64_t suppressed_total; /* every line ever suppressed (for tests and metrics) */
} tg_logger;

void tg_logger_init(tg_logger *log, tg_log_level level, FILE *out);
/* Writes the summaries still pending, then releases the lock and the initial fields. */
void tg_logger_destroy(tg_logger *log);

/* Sets the line format (before any other thread logs). */
void tg_logger_set_encoding(tg_logger *log, tg_log_encoding encoding);
/* Sets the fields added to every line: n string pairs (copied and JSON-escaped once
 * here). Call before other threads log. 0, or -1 when out of memory (fields unchanged). */
int tg_logger_set_initial_fields(tg_logger *log, const char *const *keys,
                                 const char *const *values, size_t n);
/* The field names a line always has (initial_fields must not reuse them); NULL-ended. */
extern const char *const tg_log_reserved_fields[];

/* Writes a summary line for every call site whose window has ended with lines
 * suppressed, and frees it. Thread-safe; cheap when nothing is pending. */
void tg_logger_flush_suppressed(tg_logger *log);
/* "debug", "info", "warn", "error" (also "warning", "none"); -1 when unknown. */
int tg_log_level_parse(const char *s);

/* Writes one line. component, correlation_id and error_code may be NULL (omitted). */
void tg_log_write(tg_logger *log, tg_log_level level, const char *component,
                  const char *correlation_id, const char *error_code, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

#define TG_LOG_AT(log, lvl, component, error_code, ...)                         \
  do {                                                                         \
    tg_logger *tg_log_l_ = (log);                                              \
    if (tg_log_l_ && (lvl) >= tg_log_l_->level)                                \
      tg_log_write(tg_log_l_, (lvl), (component), NULL, (error_code), __VA_ARGS__); \
  } while (0)

/* The same with a correlation ID (a request's trace ID: see tg_tracectx_request.h). */
#define TG_LOG_CID(log, lvl, component, correlation_id, error_code, ...)             \
  do {                                                                         \
    tg_logger *tg_log_l_ = (log);                                              \
    if (tg_log_l_ && (lvl) >= tg_log_l_->level)                                \
      tg_log_write(tg_log_l_, (lvl), (component), (correlation_id), (error_code), __VA_ARGS__); \
  } while (0)

#define TG_LOG_DEBUG(log, component, ...) TG_LOG_AT(log, TG_LOG_DEBUG, component, NULL, __VA_ARGS__)
#define TG_LOG_INFO(log, component, ...) TG_LOG_AT(log, TG_LOG_INFO, component, NULL, __VA_ARGS__)
#define TG_LOG_WARN(log, component, ...) TG_LOG_AT(log, TG_LOG_WARN, component, NULL, __VA_ARGS__)
#define TG_LOG_ERROR(log, component, code, ...) TG_LOG_AT(log, TG_LOG_ERROR, component, code, __VA_ARGS__)

#endif
