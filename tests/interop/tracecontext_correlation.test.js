'use strict';
// Every inbound request's log lines carry correlation_id = the caller's trace ID when a
// trace context came with it (W3C traceparent, B3 single or multi, Jaeger uber-trace-id;
// HTTP headers or gRPC metadata), else a fresh 32-hex ID. The gateway runs with debug
// logs, where each request writes an "accepted ... request" line.
const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const grpc = require('@grpc/grpc-js');
const { startGateway, baseConfig, waitFor } = require('./lib/gateway');
const { freePorts } = require('./lib/ports');
const { request } = require('./lib/rawhttp');
const { ExportTraceServiceRequest, ExportTraceServiceResponse } = require('./lib/otlp');

const PB = 'application/x-protobuf';
const randHex = (bytes) => crypto.randomBytes(bytes).toString('hex');

function pbBody(name) {
  const msg = ExportTraceServiceRequest.create({
    resourceSpans: [{
      resource: { attributes: [{ key: 'service.name', value: { stringValue: 'cid-test' } }] },
      scopeSpans: [{
        scope: { name: 'cid' },
        spans: [{
          traceId: crypto.randomBytes(16), spanId: crypto.randomBytes(8), name, kind: 2,
          startTimeUnixNano: '1704164645000000001', endTimeUnixNano: '1704164645500000002',
        }],
      }],
    }],
  });
  return Buffer.from(ExportTraceServiceRequest.encode(msg).finish());
}

describe('correlation_id of inbound requests', () => {
  let gw, zipkinPort;
  before(async () => {
    [zipkinPort] = await freePorts(1);
    gw = await startGateway((ports) => {
      const cfg = baseConfig(ports, { logLevel: 'debug' });
      cfg.receivers.zipkin = { endpoint: `127.0.0.1:${zipkinPort}` };
      cfg.service.pipelines.traces.receivers.push('zipkin');
      return cfg;
    });
  });
  after(async () => {
    try {
      if (gw) await gw.stop();
    } finally {
      if (gw) { await gw.kill(); gw.cleanup(); }
    }
  });

  // POSTs one OTLP/HTTP request with extra headers; returns the correlation_id of the
  // request's "accepted" log line (identified by the span name in nothing but order:
  // requests are sent one at a time and the count of accepted lines grows by one).
  async function postAndCid(headers) {
    const accepted = () => gw.logRecords().filter((r) => /^accepted http request/.test(r.message || ''));
    const before = accepted().length;
    const res = await request({ port: gw.ports.http, headers: { 'content-type': PB, ...headers }, body: pbBody('http') });
    assert.equal(res.status, 200);
    const recs = await waitFor(() => (accepted().length > before ? accepted() : null), { what: 'an accepted-request log line' });
    return recs[before].correlation_id;
  }

  test('W3C traceparent: correlation_id is its trace ID', async () => {
    const trace = randHex(16);
    const cid = await postAndCid({ traceparent: `00-${trace}-${randHex(8)}-01` });
    assert.equal(cid, trace);
  });

  test('B3 single header: correlation_id is its trace ID (64-bit left-padded)', async () => {
    const trace = randHex(16);
    assert.equal(await postAndCid({ b3: `${trace}-${randHex(8)}-1` }), trace);
    const short = randHex(8);
    assert.equal(await postAndCid({ b3: `${short}-${randHex(8)}-d` }), `${'0'.repeat(16)}${short}`);
  });

  test('B3 multi headers and Jaeger uber-trace-id', async () => {
    const trace = randHex(16);
    assert.equal(await postAndCid({ 'x-b3-traceid': trace, 'x-b3-spanid': randHex(8), 'x-b3-sampled': '1' }), trace);
    const jt = randHex(16);
    assert.equal(await postAndCid({ 'uber-trace-id': `${jt}:${randHex(8)}:0:1` }), jt);
  });

  test('no context or an invalid one: a fresh 32-hex ID per request', async () => {
    const a = await postAndCid({});
    const b = await postAndCid({ traceparent: `00-${'0'.repeat(32)}-${randHex(8)}-01` });
    const c = await postAndCid({ traceparent: `00-${randHex(16).toUpperCase()}-${randHex(8)}-01` });
    for (const id of [a, b, c]) assert.match(id, /^[0-9a-f]{32}$/);
    assert.equal(new Set([a, b, c]).size, 3);
    assert.notEqual(b, '0'.repeat(32));
  });

  test('gRPC metadata traceparent: correlation_id is its trace ID', async () => {
    const Client = grpc.makeGenericClientConstructor({
      Export: {
        path: '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
        requestStream: false, responseStream: false,
        requestSerialize: (b) => b, requestDeserialize: (b) => b,
        responseSerialize: (b) => b, responseDeserialize: (b) => ExportTraceServiceResponse.decode(b),
      },
    }, 'TraceService');
    const client = new Client(`127.0.0.1:${gw.ports.grpc}`, grpc.credentials.createInsecure());
    try {
      const trace = randHex(16);
      const md = new grpc.Metadata();
      md.set('traceparent', `00-${trace}-${randHex(8)}-01`);
      const accepted = () => gw.logRecords().filter((r) => /^accepted grpc request/.test(r.message || ''));
      const before = accepted().length;
      await new Promise((resolve, reject) => client.Export(pbBody('grpc'), md, (err, res) => (err ? reject(err) : resolve(res))));
      const recs = await waitFor(() => (accepted().length > before ? accepted() : null), { what: 'an accepted gRPC log line' });
      assert.equal(recs[before].correlation_id, trace);
    } finally {
      client.close();
    }
  });

  // A Zipkin v2 JSON request (as zipkin-js and Brave send, with the caller's B3 headers):
  // its "accepted v2_json request" line carries the B3 trace ID.
  async function zipkinPostAndCid(headers) {
    const accepted = () => gw.logRecords().filter((r) => /^accepted v2_json request/.test(r.message || ''));
    const before = accepted().length;
    const body = Buffer.from(JSON.stringify([{
      traceId: randHex(16), id: randHex(8), name: 'zipkin-cid', kind: 'SERVER',
      timestamp: 1704164645000000, duration: 5000, localEndpoint: { serviceName: 'cid-zipkin' },
    }]));
    const res = await request({ port: zipkinPort, path: '/api/v2/spans', headers: { 'content-type': 'application/json', ...headers }, body });
    assert.equal(res.status, 202);
    const recs = await waitFor(() => (accepted().length > before ? accepted() : null), { what: 'an accepted Zipkin log line' });
    return recs[before].correlation_id;
  }

  test('Zipkin receiver: b3 single and X-B3-* headers give the correlation_id', async () => {
    const trace = randHex(16);
    assert.equal(await zipkinPostAndCid({ b3: `${trace}-${randHex(8)}-1` }), trace);
    const short = randHex(8);
    assert.equal(await zipkinPostAndCid({ 'x-b3-traceid': short, 'x-b3-spanid': randHex(8), 'x-b3-sampled': '1' }),
      `${'0'.repeat(16)}${short}`);
    const fresh = await zipkinPostAndCid({});
    assert.match(fresh, /^[0-9a-f]{32}$/);
    assert.notEqual(fresh, trace);
  });
});
