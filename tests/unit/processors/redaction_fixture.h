/* Loading a redaction processor's settings through the real config loader, and building
 * a redactor from them with a fixed test key. */
#ifndef TG_TEST_REDACTION_FIXTURE_H
#define TG_TEST_REDACTION_FIXTURE_H

#include <stdio.h>
#include <string.h>

#include "tg_config.h"
#include "../../../processors/redaction/redaction_engine.h"

#define TEST_KEY "0123456789abcdef0123456789abcdef"

/* A whole config around `processors:` text (indented by two spaces per component). */
static inline tg_config *load_processors(const char *processors, tg_diag *diag) {
  static char text[8192];
  snprintf(text, sizeof text,
           "receivers: {otlp: {protocols: {grpc: {endpoint: 127.0.0.1:0}}}}\n"
           "processors:\n%s"
           "exporters: {nop: {}}\n"
           "service:\n"
           "  telemetry: {metrics: {address: \"\"}}\n"
           "  pipelines: {traces: {receivers: [otlp], processors: [redaction], exporters: [nop]}}\n",
           processors);
  tg_diag_init(diag);
  return tg_config_load_text("t.yaml", text, strlen(text), diag);
}

/* The diag's lines joined with '\n'. */
static inline const char *diag_text(const tg_diag *d) {
  static char buf[16384];
  size_t used = 0;
  buf[0] = '\0';
  for (size_t i = 0; i < d->n && used < sizeof buf; i++)
    used += (size_t)snprintf(buf + used, sizeof buf - used, "%s\n", d->lines[i]);
  return buf;
}

#endif
