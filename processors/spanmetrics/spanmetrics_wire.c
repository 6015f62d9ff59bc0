/* A minimal protobuf reader for the OTLP fields spanmetrics reads (field numbers from
 * opentelemetry/proto/trace/v1/trace.proto and common.proto, see proto/). Every read is
 * bounds-checked; unknown fields are skipped by wire type; groups (deprecated, never in
 * OTLP) are rejected. Nothing is allocated: values point into the segment. The wire
 * primitives are core/tg_pbwire.h's (shared with tail_sampling); the fast path below
 * is this reader's own. */
#include "spanmetrics_wire.h"
#include "tg_pbwire.h"

#include <stdio.h>
#include <string.h>

enum { WT_VARINT = TG_PB_VARINT, WT_I64 = TG_PB_I64, WT_LEN = TG_PB_LEN, WT_I32 = TG_PB_I32 };

typedef tg_pbwire_reader reader;

/* Next field: its number, wire type, and (LEN) its bytes / (VARINT, I64, I32) its value.
 * Returns 1 for a field, 0 at the end, -1 on malformed input. */
static int next_slow(reader *r, uint32_t *field, int *wt, tg_sm_bytes *bytes, uint64_t *value);

/* Fast path for the common shapes (one-byte tag; for LEN a one-byte length, for VARINT a
 * one-byte value, or a fixed64): OTLP's
 * field numbers are all below 16 and most strings are short. The profile of the gateway
 * had this reader at 5 % of its CPU before. */
static inline __attribute__((always_inline)) int next(reader *r, uint32_t *field, int *wt,
                                                     tg_sm_bytes *bytes, uint64_t *value) {
  const uint8_t *p = r->p;
  if (p == r->end)
    return 0;
  if (r->end - p >= 2 && p[0] < 0x80 && (p[0] & 0xf8) && (p[0] & 7) == WT_LEN) {
    /* a one- or two-byte length: every span (they are longer than 127 bytes) */
    size_t n, head;
    if (p[1] < 0x80)
      n = p[1], head = 2;
    else if (r->end - p >= 3 && p[2] < 0x80)
      n = (p[1] & 0x7fu) | (size_t)p[2] << 7, head = 3;
    else
      return next_slow(r, field, wt, bytes, value);
    if (n > (size_t)(r->end - p - head))
      return -1;
    *field = p[0] >> 3;
    *wt = WT_LEN;
    bytes->p = p + head;
    bytes->len = n;
    r->p = p + head + n;
    return 1;
  }
  /* a one-byte tag with a fixed64 (the span's times) or a one-byte varint (kind, flags,
   * status code): read as tg_pbwire_value would, without the call */
  if (r->end - p >= 2 && p[0] < 0x80 && (p[0] & 0xf8)) {
    if ((p[0] & 7) == WT_I64 && r->end - p >= 9) {
      *field = p[0] >> 3;
      *wt = WT_I64;
      *value = tg_pbwire_load_le64(p + 1);
      r->p = p + 9;
      return 1;
    }
    if ((p[0] & 7) == WT_VARINT && p[1] < 0x80) {
      *field = p[0] >> 3;
      *wt = WT_VARINT;
      *value = p[1];
      r->p = p + 2;
      return 1;
    }
  }
  /* a two-byte tag with a fixed32: the span's flags (field 16), read as next_slow would */
  if (r->end - p >= 6 && p[0] >= 0x80 && (p[0] & 7) == WT_I32 && p[1] < 0x80) {
    *field = (uint32_t)(p[0] & 0x7f) >> 3 | (uint32_t)p[1] << 4;
    *wt = WT_I32;
    *value = tg_pbwire_load_le32(p + 2);
    r->p = p + 6;
    return 1;
  }
  return next_slow(r, field, wt, bytes, value);
}

static int next_slow(reader *r, uint32_t *field, int *wt, tg_sm_bytes *bytes,
                     uint64_t *value) {
  if (r->p == r->end)
    return 0;
  /* The tag as protobuf-c reads it (tg_pbwire_tag_pbc), so this reader accepts exactly
   * the messages the decoder would: the fuzz target checks that differentially. */
  if (tg_pbwire_tag_pbc(r, field, wt))
    return -1;
  return tg_pbwire_value(r, *wt, value, &bytes->p, &bytes->len) ? -1 : 1;
}

/* A span's status may come in several pieces: protobuf-c (1.4) keeps the last one whole,
 * and within it the last code. Done the same way here (the fuzz target checks it). */
static int read_status(tg_sm_bytes m, uint32_t *code) {
  reader r = {m.p, m.p + m.len};
  uint32_t f, this_code = 0;
  int wt, rc;
  tg_sm_bytes b;
  uint64_t v;
  while ((rc = next(&r, &f, &wt, &b, &v)) == 1)
    if (f == 3 && wt == WT_VARINT)
      this_code = (uint32_t)v;
  *code = this_code;
  return rc;
}

static int read_span(tg_sm_bytes m, tg_sm_wire_span *s) {
  reader r = {m.p, m.p + m.len};
  uint32_t f;
  int wt, rc;
  tg_sm_bytes b = {0};
  uint64_t v = 0;
  s->msg = m;
  for (;;) {
    /* Attributes (field 9, one-byte lengths), most of a span's fields and none of them
     * read here: stepped over a run at a time, as next() would one by one. */
    const uint8_t *p = r.p;
    while (r.end - p >= 2 && p[0] == 0x4a && p[1] < 0x80 && p[1] <= (size_t)(r.end - p - 2))
      p += 2 + p[1];
    r.p = p;
    if ((rc = next(&r, &f, &wt, &b, &v)) != 1)
      break;
    if (wt == WT_LEN) {
      if (f == 1)
        s->trace_id = b;
      else if (f == 2)
        s->span_id = b;
      else if (f == 5)
        s->name = b;
      else if (f == 15 && read_status(b, &s->status_code))
        return -1;
    } else if (wt == WT_VARINT && f == 6) {
      s->kind = (uint32_t)v;
    } else if (wt == WT_I64 && f == 7) {
      s->start_unix_nano = v;
    } else if (wt == WT_I64 && f == 8) {
      s->end_unix_nano = v;
    }
  }
  return rc;
}

int tg_sm_wire_each_span(const uint8_t *seg, size_t len,
                         int (*fn)(void *ctx, const tg_sm_wire_span *span), void *ctx) {
  /* the resource may follow the scope spans on the wire: find it first */
  tg_sm_bytes resource = {0};
  reader r = {seg, seg + len};
  uint32_t f;
  int wt, rc;
  tg_sm_bytes b;
  uint64_t v;
  while ((rc = next(&r, &f, &wt, &b, &v)) == 1)
    if (f == 1 && wt == WT_LEN)
      resource = b;
  if (rc)
    return -1;
  r = (reader){seg, seg + len};
  while ((rc = next(&r, &f, &wt, &b, &v)) == 1) {
    if (f != 2 || wt != WT_LEN)
      continue;
    reader ss = {b.p, b.p + b.len};
    tg_sm_bytes sb;
    int src;
    while ((src = next(&ss, &f, &wt, &sb, &v)) == 1) {
      if (f != 2 || wt != WT_LEN)
        continue;
      tg_sm_wire_span span = {.resource = resource};
      if (read_span(sb, &span))
        return -1;
      int urc = fn(ctx, &span);
      if (urc)
        return urc;
    }
    if (src)
      return -1;
  }
  return rc ? -1 : 0;
}

/* AnyValue → text; 1 when it has a scalar value. */
static int any_value(tg_sm_bytes m, tg_sm_bytes *out, char *buf, size_t size) {
  reader r = {m.p, m.p + m.len};
  uint32_t f;
  int wt, rc, found = 0;
  tg_sm_bytes b;
  uint64_t v;
  while ((rc = next(&r, &f, &wt, &b, &v)) == 1) {
    if (f == 1 && wt == WT_LEN) {
      *out = b;
      found = 1;
    } else if (f == 2 && wt == WT_VARINT) {
      const char *t = v ? "true" : "false";
      *out = (tg_sm_bytes){(const uint8_t *)t, strlen(t)};
      found = 1;
    } else if (f == 3 && wt == WT_VARINT) {
      int n = snprintf(buf, size, "%lld", (long long)(int64_t)v);
      *out = (tg_sm_bytes){(const uint8_t *)buf, (size_t)n};
      found = 1;
    } else if (f == 4 && wt == WT_I64) {
      double d;
      memcpy(&d, &v, 8);
      int n = snprintf(buf, size, "%.17g", d);
      *out = (tg_sm_bytes){(const uint8_t *)buf, (size_t)n};
      found = 1;
    } else if (f >= 5 && f <= 7) {
      found = 0; /* array, kvlist, bytes: treated as missing */
    }
  }
  return rc ? 0 : found;
}

int tg_sm_wire_attr(tg_sm_bytes msg, uint32_t field, const char *key, size_t key_len,
                    tg_sm_bytes *out, char *buf, size_t size) {
  reader r = {msg.p, msg.p + msg.len};
  uint32_t f;
  int wt;
  tg_sm_bytes b;
  uint64_t v;
  while (next(&r, &f, &wt, &b, &v) == 1) {
    if (f != field || wt != WT_LEN)
      continue;
    reader kv = {b.p, b.p + b.len};
    tg_sm_bytes k = {0}, val = {0};
    int have_val = 0, krc;
    uint32_t kf;
    int kwt;
    tg_sm_bytes kb;
    uint64_t kvv;
    while ((krc = next(&kv, &kf, &kwt, &kb, &kvv)) == 1) {
      if (kf == 1 && kwt == WT_LEN)
        k = kb;
      else if (kf == 2 && kwt == WT_LEN) {
        val = kb;
        have_val = 1;
      }
    }
    if (krc == 0 && k.len == key_len && !memcmp(k.p, key, key_len))
      return have_val ? any_value(val, out, buf, size) : 0; /* the first entry wins, as
                                                               for decoded spans */
  }
  return 0;
}
