/* The zipkin exporter's encoding step, exposed for tests and the benchmark. */
#ifndef TG_ZIPKIN_EXP_H
#define TG_ZIPKIN_EXP_H

#include <stddef.h>
#include <stdint.h>

#include "tg_buf.h"

extern const struct tg_component tg_exporter_zipkin;

/* Decodes an encoded ExportTraceServiceRequest (the sending queue's item), converts it
 * with translate/zipkin and appends the body to out: Zipkin v2 JSON, or a protobuf
 * ListOfSpans when proto is set. default_service_name as tg_zipkin_from_otlp. *spans is
 * the number of spans written. Returns TG_OK, TG_EDECODE (not an OTLP request: permanent)
 * or TG_ENOMEM. Thread-safe (sender threads call it). */
int tg_zipkin_exp_encode(const uint8_t *otlp, size_t len, int proto,
                         const char *default_service_name, tg_buf *out, size_t *spans);

#endif
