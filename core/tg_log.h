/* JSON logs on stdout, one object per line: timestamp (ISO-8601 UTC), level, message,
 * service_name, component, correlation_id, error_code. Thread-safe (exporter threads log
 * too). The TG_LOG_* macros check the level before formatting anything. */
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

typedef struct tg_logger {
  tg_log_level level;
  FILE *out;                /* not owned */
  const char *service_name; /* "tailgate" */
  pthread_mutex_t lock;
} tg_logger;

void tg_logger_init(tg_logger *log, tg_log_level level, FILE *out);
void tg_logger_destroy(tg_logger *log);
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
