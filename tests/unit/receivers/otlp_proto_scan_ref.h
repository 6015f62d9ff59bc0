/* Test-only reference of the OTLP wire pre-scan and index (otlp_proto_scan_ref.c). */
#ifndef TG_TEST_OTLP_PROTO_SCAN_REF_H
#define TG_TEST_OTLP_PROTO_SCAN_REF_H

#include "receivers/otlp/otlp.h"

/* Same contracts as tg_otlp_proto_scan and tg_otlp_proto_index. */
int tg_otlp_proto_scan_ref(const uint8_t *data, size_t len, unsigned max_depth, char *err,
                           size_t err_size);
int tg_otlp_proto_index_ref(const uint8_t *data, size_t len, unsigned max_depth, char *err,
                            size_t err_size, tg_otlp_wire_index *idx);

/* The wire type protobuf-c requires for a known field (what the field tables encode). */
unsigned tg_otlp_proto_expected_wire_type_ref(const ProtobufCFieldDescriptor *f);

#endif
