/* Protobuf bodies a receiver answers with: ExportTraceServiceResponse (gRPC and
 * OTLP/HTTP protobuf) and google.rpc.Status (OTLP/HTTP protobuf errors). The messages
 * live on the stack and are packed straight into the response buffer. */
#include "otlp.h"

#include "rpc_status.pb-c.h"
#include "tg_error.h"

static int pack_into(tg_buf *out, const ProtobufCMessage *msg) {
  size_t n = protobuf_c_message_get_packed_size(msg);
  int rc = tg_buf_reserve(out, n ? n : 1);
  if (rc != TG_OK)
    return rc;
  out->len += protobuf_c_message_pack(msg, out->data + out->len);
  return TG_OK;
}

int tg_otlp_proto_encode_response(tg_buf *out, int64_t rejected_spans,
                                  const char *error_message) {
  tg_export_response resp =
      OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_RESPONSE__INIT;
  tg_export_partial_success partial =
      OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_PARTIAL_SUCCESS__INIT;
  if (rejected_spans || (error_message && *error_message)) {
    partial.rejected_spans = rejected_spans;
    partial.error_message = (char *)(error_message ? error_message : "");
    resp.partial_success = &partial;
  }
  return pack_into(out, &resp.base);
}

int tg_otlp_proto_encode_status(tg_buf *out, int code, const char *message) {
  Google__Rpc__Status status = GOOGLE__RPC__STATUS__INIT;
  status.code = code;
  status.message = (char *)(message ? message : "");
  return pack_into(out, &status.base);
}
