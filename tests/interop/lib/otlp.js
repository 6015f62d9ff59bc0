'use strict';
// The official OTLP schema compiled for protobufjs, as shipped by
// @opentelemetry/otlp-transformer@0.57.2 (installed under the alias
// otlp-transformer-root so it can coexist with the SDK's own version).
//
// That schema predates Span.flags (field 16) and Span.Link.flags (field 6), and
// it has no google.rpc.Status, so this file also carries a small wire-format
// reader for those few fields.
const root = require('otlp-transformer-root/build/src/generated/root.js');

const pb = root.opentelemetry.proto;
const ExportTraceServiceRequest = pb.collector.trace.v1.ExportTraceServiceRequest;
const ExportTraceServiceResponse = pb.collector.trace.v1.ExportTraceServiceResponse;

// ---- minimal protobuf wire reader -------------------------------------------
function readVarint(buf, pos) {
  let result = 0n;
  let shift = 0n;
  for (;;) {
    if (pos >= buf.length) throw new Error('truncated varint');
    const b = buf[pos++];
    result |= BigInt(b & 0x7f) << shift;
    if ((b & 0x80) === 0) break;
    shift += 7n;
    if (shift > 63n) throw new Error('varint too long');
  }
  return [result, pos];
}

// Yields {field, wire, value} for each field of one message; value is a
// Buffer for wire type 2, a BigInt for 0/1, a number for 5.
function* fields(buf) {
  let pos = 0;
  while (pos < buf.length) {
    let key;
    [key, pos] = readVarint(buf, pos);
    const field = Number(key >> 3n);
    const wire = Number(key & 7n);
    let value;
    switch (wire) {
      case 0: [value, pos] = readVarint(buf, pos); break;
      case 1:
        if (pos + 8 > buf.length) throw new Error('truncated fixed64');
        value = buf.readBigUInt64LE(pos); pos += 8; break;
      case 2: {
        let len;
        [len, pos] = readVarint(buf, pos);
        len = Number(len);
        if (pos + len > buf.length) throw new Error('truncated length-delimited field');
        value = buf.subarray(pos, pos + len); pos += len; break;
      }
      case 5:
        if (pos + 4 > buf.length) throw new Error('truncated fixed32');
        value = buf.readUInt32LE(pos); pos += 4; break;
      default: throw new Error(`unsupported wire type ${wire}`);
    }
    yield { field, wire, value };
  }
}

// Span.flags and Link.flags straight from the wire, keyed by span id (hex).
// Returns Map spanIdHex -> {flags: number|undefined, linkFlags: [number|undefined]}
function extractSpanFlags(buf) {
  const out = new Map();
  for (const rs of fields(buf)) {
    if (rs.field !== 1 || rs.wire !== 2) continue; // resource_spans
    for (const ss of fields(rs.value)) {
      if (ss.field !== 2 || ss.wire !== 2) continue; // scope_spans
      for (const sp of fields(ss.value)) {
        if (sp.field !== 2 || sp.wire !== 2) continue; // spans
        let spanId = '';
        let flags;
        const linkFlags = [];
        for (const f of fields(sp.value)) {
          if (f.field === 2 && f.wire === 2) spanId = f.value.toString('hex');
          else if (f.field === 16 && f.wire === 5) flags = f.value;
          else if (f.field === 13 && f.wire === 2) {
            let lf;
            for (const lfld of fields(f.value)) {
              if (lfld.field === 6 && lfld.wire === 5) lf = lfld.value;
            }
            linkFlags.push(lf);
          }
        }
        out.set(spanId, { flags, linkFlags });
      }
    }
  }
  return out;
}

// google.rpc.Status {int32 code = 1; string message = 2; repeated Any details = 3;}
function decodeRpcStatus(buf) {
  const st = { code: 0, message: '', details: [] };
  for (const f of fields(buf)) {
    if (f.field === 1 && f.wire === 0) st.code = Number(BigInt.asIntN(32, f.value));
    else if (f.field === 2 && f.wire === 2) st.message = f.value.toString('utf8');
    else if (f.field === 3 && f.wire === 2) st.details.push(f.value);
    else throw new Error(`unexpected field ${f.field} (wire ${f.wire}) in google.rpc.Status`);
  }
  return st;
}

// Decode one ExportTraceServiceRequest body into {msg, flags} (flags as above).
function decodeTraceRequest(buf) {
  const msg = ExportTraceServiceRequest.decode(buf);
  return { msg, flags: extractSpanFlags(buf) };
}

module.exports = {
  root,
  ExportTraceServiceRequest,
  ExportTraceServiceResponse,
  decodeTraceRequest,
  decodeRpcStatus,
  extractSpanFlags,
  fields,
};
