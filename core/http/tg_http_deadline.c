/* Connection deadlines: see tg_http_deadline.h for the rules. Kept apart from the libuv
 * server so the rules can be tested against an injected clock, and so the server's timer
 * only ever asks one question: when is this connection due? */
#include "tg_http_deadline.h"

#include "tg_http_conn.h"

void tg_http_deadline_start(tg_http_deadline *d, uint64_t now_ms) {
  d->phase = TG_HTTP_PHASE_HEADERS;
  d->since_ms = now_ms;
  d->bytes = 0;
}

void tg_http_deadline_note(tg_http_deadline *d, uint64_t now_ms, int phase,
                           size_t bytes_read) {
  if (phase != d->phase) {
    d->phase = phase;
    d->since_ms = now_ms;
    d->bytes = phase == TG_HTTP_PHASE_BODY ? bytes_read : 0;
    return;
  }
  d->bytes += bytes_read;
}

static uint64_t sat_add(uint64_t a, uint64_t b) { return a + b < a ? UINT64_MAX : a + b; }

uint64_t tg_http_deadline_due(const tg_http_deadline *d, const tg_http_deadline_conf *conf) {
  switch (d->phase) {
  case TG_HTTP_PHASE_HEADERS:
    return sat_add(d->since_ms, conf->read_header_timeout_ms);
  case TG_HTTP_PHASE_BODY:
    if (conf->min_body_rate == 0)
      return UINT64_MAX; /* bounded by the server's per-read idle check instead */
    return sat_add(sat_add(d->since_ms, conf->read_header_timeout_ms),
                   d->bytes / conf->min_body_rate * 1000 +
                       d->bytes % conf->min_body_rate * 1000 / conf->min_body_rate);
  default:
    return sat_add(d->since_ms, conf->idle_timeout_ms);
  }
}

tg_http_expiry tg_http_deadline_check(const tg_http_deadline *d,
                                      const tg_http_deadline_conf *conf, uint64_t now_ms) {
  if (now_ms < tg_http_deadline_due(d, conf))
    return TG_HTTP_EXPIRY_NONE;
  switch (d->phase) {
  case TG_HTTP_PHASE_HEADERS:
    return TG_HTTP_EXPIRY_HEADER;
  case TG_HTTP_PHASE_BODY:
    return TG_HTTP_EXPIRY_BODY;
  default:
    return TG_HTTP_EXPIRY_IDLE;
  }
}

const char *tg_http_expiry_name(tg_http_expiry e) {
  static const char *const names[] = {"", "header", "body", "idle"};
  return (unsigned)e < sizeof names / sizeof names[0] ? names[e] : "";
}
