'use strict';
// Shared by the self-tracing tests (selftrace, export_propagation): a client's OTLP
// protobuf request body and the teardown of a gateway with its sinks.
const crypto = require('node:crypto');
const { ExportTraceServiceRequest } = require('./otlp');

// An ExportTraceServiceRequest (protobuf bytes) of n CLIENT spans named client-0..n-1 in
// one new trace, under a resource with the given service.name.
function otlpClientBody(n, serviceName) {
  const traceId = crypto.randomBytes(16);
  const msg = ExportTraceServiceRequest.create({
    resourceSpans: [{
      resource: { attributes: [{ key: 'service.name', value: { stringValue: serviceName } }] },
      scopeSpans: [{
        scope: { name: 'c' },
        spans: Array.from({ length: n }, (_, i) => ({
          traceId, spanId: crypto.randomBytes(8), name: `client-${i}`, kind: 2,
          startTimeUnixNano: '1704164645000000001', endTimeUnixNano: '1704164645500000002',
        })),
      }],
    }],
  });
  return Buffer.from(ExportTraceServiceRequest.encode(msg).finish());
}

// Stops the gateway (gracefully, then by kill, and removes its files) and closes every
// sink given; null entries (a before hook that failed half-way) are skipped.
async function stopGatewayAndSinks(gw, ...sinks) {
  try {
    if (gw) await gw.stop();
  } finally {
    if (gw) { await gw.kill(); gw.cleanup(); }
    for (const s of sinks) if (s) await s.close();
  }
}

module.exports = { otlpClientBody, stopGatewayAndSinks };
