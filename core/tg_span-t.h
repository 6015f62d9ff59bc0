/* The span model: short names for the OTLP messages that every receiver decodes into and
 * every exporter encodes from. tailgate's internal representation IS the OTLP data model
 * (as the Collector's pdata is), held in protobuf-c structs allocated from a batch arena:
 * OTLP in → OTLP out needs no conversion, and other formats convert once at the edge. */
#ifndef TG_SPAN_T_H
#define TG_SPAN_T_H

#include "common.pb-c.h"
#include "resource.pb-c.h"
#include "trace.pb-c.h"
#include "trace_service.pb-c.h"

typedef Opentelemetry__Proto__Common__V1__AnyValue tg_any_value;
typedef Opentelemetry__Proto__Common__V1__ArrayValue tg_array_value;
typedef Opentelemetry__Proto__Common__V1__KeyValueList tg_kvlist_value;
typedef Opentelemetry__Proto__Common__V1__KeyValue tg_key_value;
typedef Opentelemetry__Proto__Common__V1__InstrumentationScope tg_scope;
typedef Opentelemetry__Proto__Resource__V1__Resource tg_resource;
typedef Opentelemetry__Proto__Trace__V1__ResourceSpans tg_resource_spans;
typedef Opentelemetry__Proto__Trace__V1__ScopeSpans tg_scope_spans;
typedef Opentelemetry__Proto__Trace__V1__Span tg_span;
typedef Opentelemetry__Proto__Trace__V1__Span__Event tg_span_event;
typedef Opentelemetry__Proto__Trace__V1__Span__Link tg_span_link;
typedef Opentelemetry__Proto__Trace__V1__Status tg_span_status;
typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest
    tg_export_request;
typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceResponse
    tg_export_response;
typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTracePartialSuccess
    tg_export_partial_success;

#define TG_TRACE_ID_LEN 16
#define TG_SPAN_ID_LEN 8

#endif
