/* The OTLP trace request's messages flattened into one table per message, indexed by
 * field number, for the wire scan (otlp_proto_scan.c): one indexed load per field tells
 * the scan's hot loop which wire types an index accepts, which message a field holds
 * and what the index records about it, where a protobuf-c descriptor lookup and a switch
 * on the field's type took 10 % of the gateway's CPU.
 *
 * Written out by hand from proto/{trace_service,trace,resource,common}.proto rather than
 * built from the descriptors at first use, so the tables are const data with no
 * initialisation to race on. tests/unit/receivers/test_otlp_scan.c checks every entry of
 * every table against the protobuf-c descriptors (and that the tables reach exactly the
 * messages ExportTraceServiceRequest reaches), so a change to the .proto files that is
 * not made here fails the unit tests instead of changing the scan's verdicts. */
#ifndef TG_OTLP_PROTO_SCAN_TABLE_H
#define TG_OTLP_PROTO_SCAN_TABLE_H

#include <stdint.h>

/* The messages reachable from ExportTraceServiceRequest. The request is 0 because it is
 * never a field's child, so child 0 means "not a message field". */
enum tg_otlp_scan_msg {
  TG_OTLP_SCAN_REQUEST,
  TG_OTLP_SCAN_RESOURCE_SPANS,
  TG_OTLP_SCAN_RESOURCE,
  TG_OTLP_SCAN_SCOPE_SPANS,
  TG_OTLP_SCAN_SCOPE,
  TG_OTLP_SCAN_SPAN,
  TG_OTLP_SCAN_EVENT,
  TG_OTLP_SCAN_LINK,
  TG_OTLP_SCAN_STATUS,
  TG_OTLP_SCAN_KEY_VALUE,
  TG_OTLP_SCAN_ANY_VALUE,
  TG_OTLP_SCAN_ARRAY_VALUE,
  TG_OTLP_SCAN_KEY_VALUE_LIST,
  TG_OTLP_SCAN_N_MSGS
};

/* Every field number of these messages is below this; higher numbers are unknown fields.
 * 32 also bounds the singular-message bits the scan keeps per frame in a uint32_t. */
#define TG_OTLP_SCAN_MAX_FIELD 32

enum tg_otlp_scan_flag {
  TG_OTLP_SCAN_F_SINGULAR = 1, /* a message field that is not repeated: a second one merges */
  TG_OTLP_SCAN_F_SEGMENT = 2,  /* the request's resource_spans: an entry of the index */
  TG_OTLP_SCAN_F_SPAN = 4,    /* holds a Span: counted, and its ids checked */
  TG_OTLP_SCAN_F_TRACE_ID = 8, /* Span.trace_id: valid when 16 bytes, not all zero */
  TG_OTLP_SCAN_F_SPAN_ID = 16, /* Span.span_id: valid when 8 bytes, not all zero */
};

typedef struct tg_otlp_scan_field {
  /* Bit w set: an index rejects this field with wire type w ("wrong wire type"); all but
   * the bit of the wire type protobuf-c requires for the field's type. 0 for an unknown
   * number, which any wire type protobuf can skip may carry. */
  uint8_t reject;
  uint8_t child; /* enum tg_otlp_scan_msg of a message field, 0 for any other */
  uint8_t flags; /* enum tg_otlp_scan_flag */
  uint8_t unused;
} tg_otlp_scan_field;

#define TG_OTLP_SCAN_VARINT_ {.reject = 0xff & ~(1u << 0)}
#define TG_OTLP_SCAN_FIXED64_ {.reject = 0xff & ~(1u << 1)}
#define TG_OTLP_SCAN_BYTES_ {.reject = 0xff & ~(1u << 2)}
#define TG_OTLP_SCAN_FIXED32_ {.reject = 0xff & ~(1u << 5)}
#define TG_OTLP_SCAN_ID_(flag) {.reject = 0xff & ~(1u << 2), .flags = (flag)}
#define TG_OTLP_SCAN_REPEATED_(msg) {.reject = 0xff & ~(1u << 2), .child = (msg)}
#define TG_OTLP_SCAN_SINGULAR_(msg)                                                     \
  {.reject = 0xff & ~(1u << 2), .child = (msg), .flags = TG_OTLP_SCAN_F_SINGULAR}

static const tg_otlp_scan_field tg_otlp_scan_tables[TG_OTLP_SCAN_N_MSGS]
                                                  [TG_OTLP_SCAN_MAX_FIELD] = {
  [TG_OTLP_SCAN_REQUEST] = {
    [1] = {.reject = 0xff & ~(1u << 2), .child = TG_OTLP_SCAN_RESOURCE_SPANS,
           .flags = TG_OTLP_SCAN_F_SEGMENT}, /* resource_spans */
  },
  [TG_OTLP_SCAN_RESOURCE_SPANS] = {
    [1] = TG_OTLP_SCAN_SINGULAR_(TG_OTLP_SCAN_RESOURCE),    /* resource */
    [2] = TG_OTLP_SCAN_REPEATED_(TG_OTLP_SCAN_SCOPE_SPANS), /* scope_spans */
    [3] = TG_OTLP_SCAN_BYTES_,                              /* schema_url */
  },
  [TG_OTLP_SCAN_RESOURCE] = {
    [1] = TG_OTLP_SCAN_REPEATED_(TG_OTLP_SCAN_KEY_VALUE), /* attributes */
    [2] = TG_OTLP_SCAN_VARINT_,                           /* dropped_attributes_count */
  },
  [TG_OTLP_SCAN_SCOPE_SPANS] = {
    [1] = TG_OTLP_SCAN_SINGULAR_(TG_OTLP_SCAN_SCOPE), /* scope */
    [2] = {.reject = 0xff & ~(1u << 2), .child = TG_OTLP_SCAN_SPAN,
           .flags = TG_OTLP_SCAN_F_SPAN}, /* spans */
    [3] = TG_OTLP_SCAN_BYTES_,          /* schema_url */
  },
  [TG_OTLP_SCAN_SCOPE] = {
    [1] = TG_OTLP_SCAN_BYTES_,                            /* name */
    [2] = TG_OTLP_SCAN_BYTES_,                            /* version */
    [3] = TG_OTLP_SCAN_REPEATED_(TG_OTLP_SCAN_KEY_VALUE), /* attributes */
    [4] = TG_OTLP_SCAN_VARINT_,                           /* dropped_attributes_count */
  },
  [TG_OTLP_SCAN_SPAN] = {
    [1] = TG_OTLP_SCAN_ID_(TG_OTLP_SCAN_F_TRACE_ID),         /* trace_id */
    [2] = TG_OTLP_SCAN_ID_(TG_OTLP_SCAN_F_SPAN_ID),          /* span_id */
    [3] = TG_OTLP_SCAN_BYTES_,                             /* trace_state */
    [4] = TG_OTLP_SCAN_BYTES_,                             /* parent_span_id */
    [5] = TG_OTLP_SCAN_BYTES_,                             /* name */
    [6] = TG_OTLP_SCAN_VARINT_,                            /* kind */
    [7] = TG_OTLP_SCAN_FIXED64_,                           /* start_time_unix_nano */
    [8] = TG_OTLP_SCAN_FIXED64_,                           /* end_time_unix_nano */
    [9] = TG_OTLP_SCAN_REPEATED_(TG_OTLP_SCAN_KEY_VALUE),  /* attributes */
    [10] = TG_OTLP_SCAN_VARINT_,                           /* dropped_attributes_count */
    [11] = TG_OTLP_SCAN_REPEATED_(TG_OTLP_SCAN_EVENT),     /* events */
    [12] = TG_OTLP_SCAN_VARINT_,                           /* dropped_events_count */
    [13] = TG_OTLP_SCAN_REPEATED_(TG_OTLP_SCAN_LINK),      /* links */
    [14] = TG_OTLP_SCAN_VARINT_,                           /* dropped_links_count */
    [15] = TG_OTLP_SCAN_SINGULAR_(TG_OTLP_SCAN_STATUS),    /* status */
    [16] = TG_OTLP_SCAN_FIXED32_,                          /* flags */
  },
  [TG_OTLP_SCAN_EVENT] = {
    [1] = TG_OTLP_SCAN_FIXED64_,                          /* time_unix_nano */
    [2] = TG_OTLP_SCAN_BYTES_,                            /* name */
    [3] = TG_OTLP_SCAN_REPEATED_(TG_OTLP_SCAN_KEY_VALUE), /* attributes */
    [4] = TG_OTLP_SCAN_VARINT_,                           /* dropped_attributes_count */
  },
  [TG_OTLP_SCAN_LINK] = {
    [1] = TG_OTLP_SCAN_BYTES_,                            /* trace_id */
    [2] = TG_OTLP_SCAN_BYTES_,                            /* span_id */
    [3] = TG_OTLP_SCAN_BYTES_,                            /* trace_state */
    [4] = TG_OTLP_SCAN_REPEATED_(TG_OTLP_SCAN_KEY_VALUE), /* attributes */
    [5] = TG_OTLP_SCAN_VARINT_,                           /* dropped_attributes_count */
    [6] = TG_OTLP_SCAN_FIXED32_,                          /* flags */
  },
  [TG_OTLP_SCAN_STATUS] = {
    /* 1 is reserved: an unknown field */
    [2] = TG_OTLP_SCAN_BYTES_,  /* message */
    [3] = TG_OTLP_SCAN_VARINT_, /* code */
  },
  [TG_OTLP_SCAN_KEY_VALUE] = {
    [1] = TG_OTLP_SCAN_BYTES_,                            /* key */
    [2] = TG_OTLP_SCAN_SINGULAR_(TG_OTLP_SCAN_ANY_VALUE), /* value */
  },
  [TG_OTLP_SCAN_ANY_VALUE] = { /* a oneof: each member is a singular field of its own */
    [1] = TG_OTLP_SCAN_BYTES_,                                 /* string_value */
    [2] = TG_OTLP_SCAN_VARINT_,                                /* bool_value */
    [3] = TG_OTLP_SCAN_VARINT_,                                /* int_value */
    [4] = TG_OTLP_SCAN_FIXED64_,                               /* double_value */
    [5] = TG_OTLP_SCAN_SINGULAR_(TG_OTLP_SCAN_ARRAY_VALUE),    /* array_value */
    [6] = TG_OTLP_SCAN_SINGULAR_(TG_OTLP_SCAN_KEY_VALUE_LIST), /* kvlist_value */
    [7] = TG_OTLP_SCAN_BYTES_,                                 /* bytes_value */
  },
  [TG_OTLP_SCAN_ARRAY_VALUE] = {
    [1] = TG_OTLP_SCAN_REPEATED_(TG_OTLP_SCAN_ANY_VALUE), /* values */
  },
  [TG_OTLP_SCAN_KEY_VALUE_LIST] = {
    [1] = TG_OTLP_SCAN_REPEATED_(TG_OTLP_SCAN_KEY_VALUE), /* values */
  },
};

#undef TG_OTLP_SCAN_VARINT_
#undef TG_OTLP_SCAN_FIXED64_
#undef TG_OTLP_SCAN_BYTES_
#undef TG_OTLP_SCAN_FIXED32_
#undef TG_OTLP_SCAN_ID_
#undef TG_OTLP_SCAN_REPEATED_
#undef TG_OTLP_SCAN_SINGULAR_

#endif
