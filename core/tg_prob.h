/* Consistent probability sampling (OpenTelemetry's tracestate `ot=th:` rules) shared by the
 * tail sampler's probabilistic policy and the probabilistic_sampler processor:
 * thresholds, randomness from the trace ID, and tracestate edits.
 * Pure functions, no state: every replica computes the same answer for the same trace. */
#ifndef TG_PROB_H
#define TG_PROB_H

#include <stddef.h>
#include <stdint.h>

#define TG_TS_MAX_ADJUSTED (UINT64_C(1) << 56)
/* Room for a rewritten tracestate; W3C caps the header at 512 characters. */
#define TG_TS_TRACESTATE_MAX 1024

/* Rejection threshold T for sampling probability pct/100, rounded to `precision`
 * significant hex digits as OpenTelemetry's ProbabilityToThresholdWithPrecision does
 * (precision grows for probabilities near 0 or 1). pct >= 100 gives 0 (keep all);
 * pct <= 0 gives TG_TS_MAX_ADJUSTED (keep none: no R reaches it). */
uint64_t tg_ts_threshold(double pct, int precision);

/* Encodes T as the `th` value: 14 hex digits with trailing zeros removed ("0" for 0).
 * out must hold 15 bytes; returns the length written (NUL-terminated). */
size_t tg_ts_threshold_hex(uint64_t threshold, char *out);

/* Iterates the list members of a W3C tracestate: from *pos (start at 0), sets the next
 * non-empty member (optional whitespace trimmed) as [*start, *start + *mlen) and returns
 * 1, or returns 0 at the end. */
int tg_ts_tracestate_member(const char *ts, size_t len, size_t *pos, const char **start,
                            size_t *mlen);

/* Parses a `th` value (1 to 14 hex digits, trailing zeros implied) into *out.
 * Returns 0, or -1 when it is not a valid threshold. */
int tg_ts_threshold_parse(const char *hex, size_t len, uint64_t *out);

/* The threshold in the `ot` entry of a W3C tracestate: 1 with *out set when there is a
 * valid th:, else 0. */
int tg_ts_tracestate_get_th(const char *ts, size_t len, uint64_t *out);

/* Randomness R: the low 56 bits of the trace ID (bytes 9..15, big-endian) when salt is
 * NULL or empty; otherwise the low 56 bits of 64-bit FNV-1a over salt bytes followed by
 * the 16 trace ID bytes (independent samples per salt, still deterministic). */
uint64_t tg_ts_randomness(const uint8_t trace_id[16], const char *salt);

/* Writes `old` (a W3C tracestate, may be empty) with the `ot` entry set to carry
 * th:<th_hex>: an existing `ot` entry keeps its other subkeys (p:, rv:, ...) and moves to
 * the front as W3C asks of a modified entry; other entries are kept in order. Returns the
 * length written to out (NUL-terminated, at most cap - 1), or -1 when it does not fit. */
int tg_ts_tracestate_set_th(const char *old, size_t old_len, const char *th_hex, char *out,
                            size_t cap);

#endif
