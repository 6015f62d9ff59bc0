/* Slicing a batch into per-shard messages. A header record is written to a shard's
 * message only when the first span of that resource/scope lands there, so a request
 * whose spans all belong to one trace costs one header in one message.
 *
 * A span of a wire segment is not copied here: its record points at it, and the message
 * holds a reference to the batch. The worker copies it once, into its trace's buffer.
 * Copying on the loop thread cost a fresh buffer per shard and batch and every span's
 * bytes written twice (perf: the slicer at 4 % of the gateway's CPU; docs/BENCHMARKS.md,
 * "Issue 14, fourth session"). */
#include "ts_slice.h"

#include <string.h>

#include "tg_alloc.h"
#include "tg_error.h"
#include "tg_trace_id.h"
#include "ts_wire.h"

enum { RS_RESOURCE = 1, RS_SCOPE_SPANS = 2, RS_SCHEMA_URL = 3 };
enum { SS_SCOPE = 1, SS_SPANS = 2, SS_SCHEMA_URL = 3 };
enum { SPAN_TRACE_ID = 1 };

size_t ts_shard_of(const uint8_t id[16], size_t n) {
  /* the high bits: the tables inside a shard use the low ones */
  return (size_t)((tg_trace_id_hash(id) >> 40) % n);
}

void ts_msg_free(ts_msg *msg) {
  if (!msg)
    return;
  tg_batch_free(msg->batch);
  tg_free(msg->data);
  tg_free(msg);
}

typedef struct slicer {
  tg_batch *batch; /* what 'R' records point into */
  size_t n;
  ts_msg **out;
  unsigned *header_gen; /* per shard: the header generation last written */
  unsigned gen;
  const uint8_t *rs, *ss; /* current header prefixes */
  size_t rs_len, ss_len;
  uint8_t *scratch;       /* packed prefixes of decoded resources and scopes */
  size_t scratch_cap;
  size_t first_cap;       /* a message's first allocation (see ts_slice_batch) */
} slicer;

static int reserve(ts_msg *m, size_t extra) {
  if (m->len + extra <= m->cap)
    return TG_OK;
  size_t cap = m->cap ? m->cap * 2 : 4096;
  while (cap < m->len + extra)
    cap *= 2;
  uint8_t *d = tg_realloc(m->data, cap);
  if (!d)
    return TG_ENOMEM;
  m->data = d;
  m->cap = cap;
  return TG_OK;
}

static ts_msg *shard_msg(slicer *s, size_t shard) {
  if (!s->out[shard]) {
    ts_msg *m = tg_calloc(1, sizeof(ts_msg));
    if (m && s->first_cap) {
      m->data = tg_malloc(s->first_cap);
      m->cap = m->data ? s->first_cap : 0; /* no memory: reserve tries its own size */
    }
    s->out[shard] = m;
  }
  return s->out[shard];
}

/* Makes sure the shard's message has the current header; returns TG_OK or TG_ENOMEM. */
static int ensure_header(slicer *s, size_t shard, ts_msg *m) {
  if (s->header_gen[shard] == s->gen)
    return TG_OK;
  size_t need = 1 + 10 + s->rs_len + 10 + s->ss_len;
  if (reserve(m, need) != TG_OK)
    return TG_ENOMEM;
  uint8_t *p = m->data + m->len;
  *p++ = TS_REC_HEADER;
  p += ts_put_varint(p, s->rs_len);
  memcpy(p, s->rs, s->rs_len);
  p += s->rs_len;
  p += ts_put_varint(p, s->ss_len);
  memcpy(p, s->ss, s->ss_len);
  p += s->ss_len;
  m->len = (size_t)(p - m->data);
  s->header_gen[shard] = s->gen;
  return TG_OK;
}

/* Trace ID of a span in wire form (all zeros when missing: such spans share a shard). */
static void span_trace_id(const uint8_t *span, size_t len, uint8_t id[16]) {
  if (len >= 18 && span[0] == (SPAN_TRACE_ID << 3 | TS_WT_LEN) && span[1] == 16) {
    memcpy(id, span + 2, 16); /* the first field, as every encoder writes it */
    return;
  }
  ts_reader r = ts_reader_of(span, len);
  ts_field f;
  memset(id, 0, 16);
  while (ts_next_field(&r, &f) == 1)
    if (f.number == SPAN_TRACE_ID && f.wire_type == TS_WT_LEN && f.len == 16) {
      memcpy(id, f.data, 16);
      return;
    }
}

/* Appends one span record: a reference to span (in s->batch's wire segments), or pack
 * (non-NULL) packed, a decoded span. */
static int put_span(slicer *s, const uint8_t id[16], const uint8_t *span, size_t len,
                    const tg_span *pack) {
  size_t shard = ts_shard_of(id, s->n);
  ts_msg *m = shard_msg(s, shard);
  if (!m || ensure_header(s, shard, m) != TG_OK ||
      reserve(m, 1 + 16 + 10 + (pack ? len : sizeof span)) != TG_OK)
    return TG_ENOMEM;
  uint8_t *p = m->data + m->len;
  *p++ = pack ? TS_REC_SPAN : TS_REC_SPAN_REF;
  memcpy(p, id, 16);
  p += 16;
  p += ts_put_varint(p, len);
  if (pack) {
    protobuf_c_message_pack(&pack->base, p);
    p += len;
  } else {
    if (!m->batch)
      m->batch = tg_batch_ref(s->batch);
    memcpy(p, &span, sizeof span);
    p += sizeof span;
    m->ref_bytes += len;
  }
  m->len = (size_t)(p - m->data);
  m->spans++;
  return TG_OK;
}

/* Copies every field but `skip` of a message into dst (sized len); returns bytes. */
static size_t prefix_without(const uint8_t *msg, size_t len, uint32_t skip, uint8_t *dst) {
  ts_reader r = ts_reader_of(msg, len);
  ts_field f;
  size_t n = 0;
  while (ts_next_field(&r, &f) == 1)
    if (f.number != skip) {
      memcpy(dst + n, f.start, f.total);
      n += f.total;
    }
  return n;
}

static int scratch_reserve(slicer *s, size_t need) {
  if (need <= s->scratch_cap)
    return TG_OK;
  uint8_t *d = tg_realloc(s->scratch, need);
  if (!d)
    return TG_ENOMEM;
  s->scratch = d;
  s->scratch_cap = need;
  return TG_OK;
}

static int slice_segment(slicer *s, const uint8_t *data, size_t len) {
  /* the prefixes live in scratch: resource part first, then each scope part after it */
  if (scratch_reserve(s, 2 * len + 16) != TG_OK)
    return TG_ENOMEM;
  s->rs = s->scratch;
  s->rs_len = prefix_without(data, len, RS_SCOPE_SPANS, s->scratch);
  ts_reader r = ts_reader_of(data, len);
  ts_field f;
  int rc;
  while ((rc = ts_next_field(&r, &f)) == 1) {
    if (f.number != RS_SCOPE_SPANS || f.wire_type != TS_WT_LEN)
      continue;
    s->ss = s->scratch + s->rs_len;
    s->ss_len = prefix_without(f.data, f.len, SS_SPANS, s->scratch + s->rs_len);
    s->gen++;
    ts_reader sr = ts_reader_of(f.data, f.len);
    ts_field sf;
    while ((rc = ts_next_field(&sr, &sf)) == 1) {
      if (sf.number != SS_SPANS || sf.wire_type != TS_WT_LEN)
        continue;
      uint8_t id[16];
      span_trace_id(sf.data, sf.len, id);
      if (put_span(s, id, sf.data, sf.len, NULL) != TG_OK)
        return TG_ENOMEM;
    }
    if (rc < 0)
      return TG_EDECODE;
  }
  return rc < 0 ? TG_EDECODE : TG_OK;
}

/* Packs `field` (a message, may be NULL) as field number `number` into dst. */
static size_t pack_field(uint32_t number, const ProtobufCMessage *msg, uint8_t *dst) {
  if (!msg)
    return 0;
  size_t len = protobuf_c_message_get_packed_size(msg);
  size_t n = ts_put_len_header(dst, number, len);
  protobuf_c_message_pack(msg, dst + n);
  return n + len;
}

static size_t pack_string(uint32_t number, const char *str, uint8_t *dst) {
  size_t len = str ? strlen(str) : 0;
  if (!len)
    return 0;
  size_t n = ts_put_len_header(dst, number, len);
  memcpy(dst + n, str, len);
  return n + len;
}

static int slice_decoded(slicer *s, const tg_resource_spans *rs) {
  size_t rlen = rs->resource ? protobuf_c_message_get_packed_size(&rs->resource->base) : 0;
  size_t need = rlen + (rs->schema_url ? strlen(rs->schema_url) : 0) + 32;
  size_t max_ss = 0;
  for (size_t i = 0; i < rs->n_scope_spans; i++) {
    const tg_scope_spans *ss = rs->scope_spans[i];
    size_t l = (ss->scope ? protobuf_c_message_get_packed_size(&ss->scope->base) : 0) +
               (ss->schema_url ? strlen(ss->schema_url) : 0) + 32;
    if (l > max_ss)
      max_ss = l;
  }
  if (scratch_reserve(s, need + max_ss) != TG_OK)
    return TG_ENOMEM;
  s->rs = s->scratch;
  s->rs_len = pack_field(RS_RESOURCE, rs->resource ? &rs->resource->base : NULL, s->scratch);
  s->rs_len += pack_string(RS_SCHEMA_URL, rs->schema_url, s->scratch + s->rs_len);
  for (size_t i = 0; i < rs->n_scope_spans; i++) {
    const tg_scope_spans *ss = rs->scope_spans[i];
    uint8_t *dst = s->scratch + s->rs_len;
    s->ss = dst;
    s->ss_len = pack_field(SS_SCOPE, ss->scope ? &ss->scope->base : NULL, dst);
    s->ss_len += pack_string(SS_SCHEMA_URL, ss->schema_url, dst + s->ss_len);
    s->gen++;
    for (size_t j = 0; j < ss->n_spans; j++) {
      const tg_span *sp = ss->spans[j];
      uint8_t id[16] = {0};
      if (sp->trace_id.len == 16)
        memcpy(id, sp->trace_id.data, 16);
      size_t len = protobuf_c_message_get_packed_size(&sp->base);
      if (put_span(s, id, NULL, len, sp) != TG_OK)
        return TG_ENOMEM;
    }
  }
  return TG_OK;
}

int ts_slice_batch(tg_batch *batch, size_t n_shards, ts_msg **out) {
  memset(out, 0, n_shards * sizeof *out);
  slicer s = {.batch = batch, .n = n_shards, .out = out};
  /* A message holds a record of 1 (the kind) + 16 (the trace id) + a length + an
   * address per span, and its headers (at most a resource and a scope per segment and
   * shard). Sized from the batch once, so that it does not grow by doubling; a shard
   * given more than its share still doubles. */
  size_t headers = 0; /* a guess: a resource and a scope prefix, for every shard */
  for (size_t i = 0; i < batch->n_wire; i++)
    headers += batch->wire[i].len < 1024 ? batch->wire[i].len : 1024;
  if (batch->n_wire && !batch->request.n_resource_spans)
    s.first_cap = 28 * batch->span_count / n_shards + headers + 256;
  unsigned gens[64]; /* the usual case without an allocation per batch */
  s.header_gen =
      n_shards <= 64 ? memset(gens, 0, sizeof gens) : tg_calloc(n_shards, sizeof *s.header_gen);
  int rc = s.header_gen ? TG_OK : TG_ENOMEM;
  for (size_t i = 0; rc == TG_OK && i < batch->request.n_resource_spans; i++)
    rc = slice_decoded(&s, batch->request.resource_spans[i]);
  for (size_t i = 0; rc == TG_OK && i < batch->n_wire; i++)
    rc = slice_segment(&s, batch->wire[i].data, batch->wire[i].len);
  if (s.header_gen != gens)
    tg_free(s.header_gen);
  tg_free(s.scratch);
  if (rc != TG_OK) {
    for (size_t i = 0; i < n_shards; i++) {
      ts_msg_free(out[i]);
      out[i] = NULL;
    }
  }
  return rc;
}
