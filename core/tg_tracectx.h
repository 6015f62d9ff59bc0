/* Trace context: one type for the three propagation formats tailgate reads and writes.
 *
 *   W3C Trace Context Level 2   traceparent, tracestate          (tg_tracectx.c)
 *   B3 (openzipkin)             b3, X-B3-TraceId/SpanId/...       (tg_tracectx_b3.c)
 *   Jaeger                      uber-trace-id, uberctx-*          (tg_tracectx_jaeger.c)
 *   W3C Baggage                 baggage                           (tg_baggage.c)
 *
 * Parsers are strict (by the specifications, not by what one library tolerates) and total:
 * any byte string yields either a context or "no context" plus a static reason text for the
 * logs. Nothing here allocates; a context is a plain value (about 560 bytes, most of it the
 * tracestate bound), safe to copy.
 *
 * One type for all three so that converting loses only what the target cannot carry:
 *   trace_id   128 bits everywhere (64-bit B3/Jaeger IDs left-padded with zeros)
 *   span_id    the caller's span (W3C parent-id, B3 SpanId, Jaeger span-id)
 *   parent_id  the caller's parent (B3 ParentSpanId, Jaeger parent-span-id); W3C has none
 *   flags      SAMPLED 0x01 and RANDOM 0x02 as in W3C trace-flags (other bits dropped:
 *              Level 2 says unknown flags are sent as zero)
 *   debug      B3 "d" / X-B3-Flags: 1, Jaeger flag 0x02; implies SAMPLED
 *   deferred   B3 without a sampling state ("let the receiver decide"); W3C and Jaeger
 *              always carry a decision, so there it is the unsampled default
 *   tracestate W3C only (validated, combined, at most 32 members, truncated to 512 chars)
 */
#ifndef TG_TRACECTX_H
#define TG_TRACECTX_H

#include <stddef.h>
#include <stdint.h>

#define TG_TRACECTX_SAMPLED 0x01u
#define TG_TRACECTX_RANDOM 0x02u

#define TG_TRACESTATE_MAX_MEMBERS 32
#define TG_TRACESTATE_MAX_LEN 512   /* what we propagate, per the spec's SHOULD */
#define TG_TRACESTATE_LONG_MEMBER 128 /* members longer than this go first on truncation */
#define TG_TRACEPARENT_LEN 55
#define TG_B3_SINGLE_MAX 68         /* 32+1+16+1+1+1+16 */
#define TG_UBER_TRACE_ID_MAX 70     /* 32:16:16:2 */

/* Which formats a propagator set reads and writes (service.telemetry.traces.propagators). */
enum {
  TG_PROPAGATE_TRACECONTEXT = 1u << 0,
  TG_PROPAGATE_B3 = 1u << 1,        /* single header on inject */
  TG_PROPAGATE_B3_MULTI = 1u << 2,  /* X-B3-* on inject */
  TG_PROPAGATE_JAEGER = 1u << 3,
  TG_PROPAGATE_BAGGAGE = 1u << 4,
};

typedef enum tg_tracectx_source {
  TG_TRACECTX_NONE = 0,
  TG_TRACECTX_FROM_W3C,
  TG_TRACECTX_FROM_B3_SINGLE,
  TG_TRACECTX_FROM_B3_MULTI,
  TG_TRACECTX_FROM_JAEGER,
} tg_tracectx_source;

typedef struct tg_tracectx {
  uint8_t trace_id[16];
  uint8_t span_id[8];
  uint8_t parent_id[8]; /* all zero: none */
  uint8_t flags;        /* TG_TRACECTX_SAMPLED | TG_TRACECTX_RANDOM */
  uint8_t debug;        /* 1: forced sampling (B3 d, Jaeger 0x02) */
  uint8_t deferred;     /* 1: B3 without a sampling state */
  uint8_t source;       /* tg_tracectx_source */
  uint16_t tracestate_len;
  char tracestate[TG_TRACESTATE_MAX_LEN + 1]; /* NUL-terminated, canonical form */
} tg_tracectx;

/* ---- W3C traceparent / tracestate ---------------------------------------------------- */

/* Parses one traceparent value (surrounding spaces/tabs ignored). Version 00 must be
 * exactly 55 characters; a higher version is read by its 00 prefix (at least 55
 * characters, the flags followed by the end or '-'); version ff, upper-case hex, all-zero
 * IDs are invalid. On success fills trace_id, span_id, flags (SAMPLED|RANDOM only), clears
 * the rest of *out and returns 0; otherwise returns -1, sets *reason (static text) and
 * leaves *out zeroed. */
int tg_traceparent_parse(const char *value, size_t len, tg_tracectx *out, const char **reason);

/* Writes "00-<trace>-<span>-<flags>" (55 chars + NUL) into out[56]; flags are the
 * SAMPLED|RANDOM bits, with SAMPLED also set when debug. Returns 55. */
size_t tg_traceparent_format(const tg_tracectx *ctx, char out[TG_TRACEPARENT_LEN + 1]);

/* Adds one tracestate header value to ctx->tracestate (repeated headers are combined in
 * order, as if joined with ','). Call once per header, then tg_tracestate_finish.
 * A member that breaks the grammar (key: [a-z0-9] then up to 255 of [a-z0-9_-*\/@];
 * value: up to 256 printable chars but ',' and '=', not ending in a space), or more than
 * 32 members, marks the whole header invalid: the spec's "discard the entire header".
 * Empty members are allowed and dropped; a duplicate key keeps its first (left-most, most
 * recent) occurrence. Returns 0, or -1 with *reason once invalid. */
typedef struct tg_tracestate_parser {
  /* Members are kept as (offset, length) into a work buffer bounded at 32 * 514 bytes. */
  uint16_t n;
  uint8_t invalid;
  const char *reason;
  struct {
    uint16_t off, len, key_len;
  } m[TG_TRACESTATE_MAX_MEMBERS];
  size_t used;
  char buf[TG_TRACESTATE_MAX_MEMBERS * 514];
} tg_tracestate_parser;

void tg_tracestate_begin(tg_tracestate_parser *p);
int tg_tracestate_add(tg_tracestate_parser *p, const char *value, size_t len);
/* Writes the canonical combined value ("k=v,k=v", no OWS) into ctx->tracestate, truncated
 * to at most 512 characters by whole members: members over 128 characters go first, then
 * members from the end. An invalid or empty header leaves ctx->tracestate empty. Returns
 * the number of members kept. */
int tg_tracestate_finish(tg_tracestate_parser *p, tg_tracectx *ctx, const char **reason);

/* ---- B3 ------------------------------------------------------------------------------- */

/* b3 single header: "{trace}-{span}[-{1|0|d}[-{parent}]]" or a bare "0" / "1" / "d".
 * Trace ID 16 or 32 lower-case hex (16 is left-padded), span/parent 16 lower-case hex,
 * none all zero. A bare sampling state gives no context (return 1, *out holds only the
 * decision in flags/debug/deferred=0): the caller starts a trace that keeps it.
 * Returns 0 (context), 1 (decision only), -1 (invalid, *reason set). */
int tg_b3_single_parse(const char *value, size_t len, tg_tracectx *out, const char **reason);

/* Multi-header form; each argument may be NULL (header absent). X-B3-Sampled accepts
 * "1"/"0" and the legacy "true"/"false"; X-B3-Flags "1" is debug (implies sampled).
 * Trace and span IDs are both required for a context; with neither, a sampling header
 * alone gives a decision (return 1). Returns 0, 1 or -1 as tg_b3_single_parse. */
int tg_b3_multi_parse(const char *trace_id, const char *span_id, const char *parent_id,
                      const char *sampled, const char *flags, tg_tracectx *out,
                      const char **reason);

/* "{trace32}-{span}-{1|0|d}[-{parent}]"; the sampling field is left out when deferred. */
size_t tg_b3_single_format(const tg_tracectx *ctx, char out[TG_B3_SINGLE_MAX + 1]);

/* The multi-header values: 32-hex trace, 16-hex span, parent ("" when none), sampled
 * ("" when deferred or debug, else "1"/"0"), flags ("1" when debug, else ""). */
typedef struct tg_b3_multi_values {
  char trace_id[33], span_id[17], parent_id[17], sampled[2], flags[2];
} tg_b3_multi_values;
void tg_b3_multi_format(const tg_tracectx *ctx, tg_b3_multi_values *out);

/* ---- Jaeger --------------------------------------------------------------------------- */

/* uber-trace-id "{trace}:{span}:{parent}:{flags}" (also with ':' URL-encoded as %3A).
 * trace 1..32 hex, span and parent 1..16 hex (left-padded), flags 1..2 hex; trace and span
 * must not be zero (parent 0 means none). Flag 0x01 sampled, 0x02 debug (implies sampled).
 * Returns 0 or -1 with *reason. */
int tg_uber_trace_id_parse(const char *value, size_t len, tg_tracectx *out,
                           const char **reason);

/* "{trace32}:{span16}:{parent16 or 0}:{flags as 2 hex}", the form OpenTelemetry's Jaeger
 * propagator writes and every Jaeger client reads. */
size_t tg_uber_trace_id_format(const tg_tracectx *ctx, char out[TG_UBER_TRACE_ID_MAX + 1]);

/* ---- Extraction from a request's headers ---------------------------------------------- */

/* Feed every header of a request (names in any case) with tg_tracectx_extract_header, then
 * tg_tracectx_extract_finish. Only pointers to the values are kept: they must stay valid
 * until finish. Formats are tried in the order W3C, B3 single, B3 multi, Jaeger among the
 * enabled ones; the first header that is present decides (an invalid traceparent does
 * not fall through to B3: it means "no context", as the W3C spec asks). */
#define TG_TRACECTX_MAX_TRACESTATE_HEADERS 16
typedef struct tg_tracectx_extractor {
  unsigned formats;
  const char *traceparent;
  size_t traceparent_len;
  unsigned traceparent_count;
  const char *tracestate[TG_TRACECTX_MAX_TRACESTATE_HEADERS];
  size_t tracestate_len[TG_TRACECTX_MAX_TRACESTATE_HEADERS];
  unsigned tracestate_count;
  const char *b3, *b3_trace, *b3_span, *b3_parent, *b3_sampled, *b3_flags;
  const char *uber;
} tg_tracectx_extractor;

void tg_tracectx_extract_begin(tg_tracectx_extractor *ex, unsigned formats);
void tg_tracectx_extract_header(tg_tracectx_extractor *ex, const char *name, size_t name_len,
                                const char *value);
/* Returns the source format (> 0) with *out filled, or TG_TRACECTX_NONE with *reason set
 * ("no trace context headers" when none was present). When parse is non-NULL it is used
 * as scratch space for tracestate (it is large: pass one kept per thread or instance); when
 * NULL, tracestate is not read. */
tg_tracectx_source tg_tracectx_extract_finish(tg_tracectx_extractor *ex,
                                              tg_tracestate_parser *parse, tg_tracectx *out,
                                              const char **reason);

/* ---- Helpers -------------------------------------------------------------------------- */

/* Lower-case hex of n bytes into out (2n chars + NUL). */
void tg_hex_encode(const uint8_t *in, size_t n, char *out);
/* Decodes exactly 2n hex chars; lower_only rejects A-F. Returns 0 or -1. */
int tg_hex_decode(const char *in, size_t n, uint8_t *out, int lower_only);
int tg_id_is_zero(const uint8_t *id, size_t n);

/* A small per-owner random source for fresh trace and span IDs (xoshiro256**, seeded from
 * the OS; a zero-filled one seeds itself on first use). Not for secrets. */
typedef struct tg_idgen {
  uint64_t s[4];
} tg_idgen;
void tg_idgen_seed(tg_idgen *g);
void tg_idgen_trace_id(tg_idgen *g, uint8_t out[16]);
void tg_idgen_span_id(tg_idgen *g, uint8_t out[8]);

/* The correlation ID for a request's log lines: the caller's trace ID as 32 lower-case
 * hex when a context came in (src != TG_TRACECTX_NONE), else a fresh random ID. */
void tg_tracectx_correlation_id(tg_tracectx_source src, const tg_tracectx *ctx, tg_idgen *g,
                                char out[33]);

#endif
