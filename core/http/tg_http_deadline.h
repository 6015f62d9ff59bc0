/* Deadlines of one inbound connection, as arithmetic on an injected clock.
 *
 * A connection is always in one phase (tg_http_conn_phase): HEADERS, BODY or IDLE. Each
 * phase has its own deadline, counted from the moment the connection entered it:
 *  HEADERS  read_header_timeout: the TLS handshake, the HTTP/2 preface and a request's
 *           header block must be complete by then (from accept, or from the request's
 *           first byte on a kept-alive connection). Slowloris ends here.
 *  BODY     a minimum average rate: by (phase start + read_header_timeout +
 *           bytes received so far / min_body_rate) the next bytes must have arrived,
 *           so a body that trickles in slower than min_body_rate ends here.
 *           min_body_rate 0 turns the rate off; the idle timeout then bounds each gap.
 *  IDLE     idle_timeout: between requests; bytes that start no request (HTTP/2 PINGs
 *           and SETTINGS) do not count as activity, as in Go's net/http.
 * No sockets and no clock here: the server passes uv_now(), tests pass numbers. */
#ifndef TG_HTTP_DEADLINE_H
#define TG_HTTP_DEADLINE_H

#include <stddef.h>
#include <stdint.h>

typedef struct tg_http_deadline_conf {
  uint64_t read_header_timeout_ms; /* > 0 */
  uint64_t idle_timeout_ms;        /* > 0 */
  uint64_t min_body_rate;          /* bytes per second; 0 = no rate */
} tg_http_deadline_conf;

typedef struct tg_http_deadline {
  int phase;          /* TG_HTTP_PHASE_* */
  uint64_t since_ms;  /* when the phase began */
  uint64_t bytes;     /* bytes received in this phase */
} tg_http_deadline;

/* Why a connection was closed by its deadline. */
typedef enum tg_http_expiry {
  TG_HTTP_EXPIRY_NONE,
  TG_HTTP_EXPIRY_HEADER, /* headers (or handshake/preface) not complete in time */
  TG_HTTP_EXPIRY_BODY,   /* body slower than min_body_rate */
  TG_HTTP_EXPIRY_IDLE,   /* idle_timeout between requests */
} tg_http_expiry;

/* A fresh connection: phase HEADERS from now_ms. */
void tg_http_deadline_start(tg_http_deadline *d, uint64_t now_ms);

/* After a read of bytes_read bytes (0 for a phase change without input) that left the
 * connection in phase: a new phase restarts the clock and the byte count (the bytes of
 * the read that entered BODY count towards the body); the same phase adds the bytes. */
void tg_http_deadline_note(tg_http_deadline *d, uint64_t now_ms, int phase,
                           size_t bytes_read);

/* The absolute time (ms) at which the connection expires if nothing more arrives. */
uint64_t tg_http_deadline_due(const tg_http_deadline *d, const tg_http_deadline_conf *conf);

/* NONE while now_ms is before the due time, else why the connection expired. */
tg_http_expiry tg_http_deadline_check(const tg_http_deadline *d,
                                      const tg_http_deadline_conf *conf, uint64_t now_ms);

/* "header", "body", "idle" (for logs); "" for NONE. */
const char *tg_http_expiry_name(tg_http_expiry e);

#endif
