/* `tailgate sampling explain`: runs a configuration's tail_sampling policies offline on
 * traces given as a file (OTLP/JSON or protobuf ExportTraceServiceRequest) and prints,
 * per trace, the decision and each policy's verdict with its reason — the span and
 * attribute that matched, the latency computed and the threshold, R and T of
 * probabilistic, which composite sub-policy matched and its rate share, a limiter that
 * refused. The evaluation is the live one: the spans go through the same slicer, shard
 * ingest (span inspection, leaf bits) and policy walk as in the running sampler; only
 * the clock and the limiters (fresh, full buckets) differ. */
#ifndef TG_TS_EXPLAIN_H
#define TG_TS_EXPLAIN_H

#include <stddef.h>
#include <stdint.h>

#include "tg_batch.h"
#include "tg_buf.h"
#include "ts_conf.h"

/* Largest input the command reads. */
#define TS_EXPLAIN_MAX_INPUT ((size_t)64 << 20)

/* Decodes input into an empty batch: OTLP/JSON when the first non-blank byte is '{',
 * else a protobuf ExportTraceServiceRequest. Returns TG_OK, TG_EDECODE (err says why,
 * printable), TG_ETOOBIG (the batch arena's limit) or TG_ENOMEM. */
int ts_explain_parse(tg_batch *batch, const uint8_t *data, size_t len, char *err,
                     size_t err_size);

/* The OTLP/JSON part of ts_explain_parse (ts_explain_json.c). */
int ts_explain_parse_json(tg_batch *batch, const uint8_t *data, size_t len, char *err,
                          size_t err_size);

/* Explains every trace in batch (read, not taken) against conf, appending the report to
 * out; now_unix_s is the second composite shares are counted in. Traces appear in the
 * order of their first span. Returns TG_OK or TG_ENOMEM. */
int ts_explain_run(const tg_ts_conf *conf, tg_batch *batch, int64_t now_unix_s,
                   tg_buf *out);

/* The subcommand: argv[0] = "sampling", argv[1] = "explain", then --config FILE,
 * optionally --processor ID, and the input file (none or "-": stdin). Returns 0 when
 * every trace was explained, 1 on bad input or configuration, 2 on usage errors. */
int ts_explain_command(int argc, char **argv);

#endif
