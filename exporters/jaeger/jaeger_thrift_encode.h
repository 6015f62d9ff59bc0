/* Jaeger api_v2 model → jaeger.thrift Batch, in the binary or compact protocol: the
 * body of POST /api/traces (jaeger_thrift_http exporter) or, wrapped as an
 * Agent.emitBatch message, a UDP datagram (benchmarks, tests, fuzz seeds). The inverse
 * of receivers/jaeger/jaeger_thrift.c. */
#ifndef TG_JAEGER_THRIFT_ENCODE_H
#define TG_JAEGER_THRIFT_ENCODE_H

#include "translate/jaeger/jaeger_model.h"
#include "tg_buf.h"

/* Appends the encoding of b to out. Ids that are not 16/8 bytes encode as zero. Spans'
 * own processes are not representable in Thrift (one process per Batch) and are ignored.
 * Returns TG_OK, TG_ENOMEM or TG_ETOOBIG (out's limit). */
int tg_jaeger_thrift_encode_batch(tg_buf *out, tg_thrift_protocol proto,
                                  const tg_jaeger_batch *b);

/* Appends an Agent.emitBatch oneway message carrying b (seqid as given). */
int tg_jaeger_thrift_encode_emit_batch(tg_buf *out, tg_thrift_protocol proto,
                                       const tg_jaeger_batch *b, int32_t seqid);

#endif
