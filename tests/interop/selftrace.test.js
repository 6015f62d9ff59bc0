'use strict';
// service.telemetry.traces: tailgate's own spans. A request that carries a traceparent
// yields a "tailgate.receive" span (SERVER) in the caller's trace, child of the caller's
// span, and a "tailgate.process" child of it, with span counts and the outcome as
// attributes, at the configured OTLP/HTTP endpoint. They never enter tailgate's own
// pipeline: the pipeline's sink sees only the client's spans.
const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { startSink } = require('./lib/sink');
const { startGateway, baseConfig, waitFor } = require('./lib/gateway');
const { request } = require('./lib/rawhttp');
const { otlpClientBody, stopGatewayAndSinks } = require('./lib/selftrace');
const { flattenRequests } = require('./lib/compare');
const { freePorts } = require('./lib/ports');

const randHex = (bytes) => crypto.randomBytes(bytes).toString('hex');

const pbBody = (n) => otlpClientBody(n, 'selftrace-client');

describe('self-tracing', () => {
  let selfSink; // receives tailgate's own spans (OTLP/HTTP)
  let pipeSink; // receives what the pipeline exports (OTLP/gRPC)
  let gw, zipkinPort;
  before(async () => {
    [zipkinPort] = await freePorts(1);
    selfSink = await startSink({ grpc: false });
    pipeSink = await startSink({ http: false });
    gw = await startGateway((ports) => {
      const cfg = baseConfig(ports, {
        exporters: { 'otlp/sink': { endpoint: `127.0.0.1:${pipeSink.grpcPort}`, tls: { insecure: true } } },
      });
      cfg.service.telemetry.traces = {
        endpoint: `http://127.0.0.1:${selfSink.httpPort}/v1/traces`,
        sampling_ratio: 1,
        propagators: ['tracecontext', 'b3'],
      };
      cfg.receivers.zipkin = { endpoint: `127.0.0.1:${zipkinPort}` };
      cfg.service.pipelines.traces.receivers.push('zipkin');
      return cfg;
    });
  });
  after(() => stopGatewayAndSinks(gw, selfSink, pipeSink));

  test('receive and process spans continue the caller\'s trace, with counts and outcome', async () => {
    const trace = randHex(16);
    const callerSpan = randHex(8);
    const res = await request({
      port: gw.ports.http,
      headers: { 'content-type': 'application/x-protobuf', traceparent: `00-${trace}-${callerSpan}-01` },
      body: pbBody(3),
    });
    assert.equal(res.status, 200);
    const mine = await waitFor(() => {
      const s = flattenRequests(selfSink.requests).filter((x) => x.traceId === trace);
      return s.length >= 2 ? s : null;
    }, { timeoutMs: 8000, what: 'tailgate.receive and tailgate.process at the self-trace sink' });
    assert.equal(mine.length, 2);
    const recv = mine.find((s) => s.name === 'tailgate.receive');
    const proc = mine.find((s) => s.name === 'tailgate.process');
    assert.ok(recv && proc, JSON.stringify(mine.map((s) => s.name)));
    assert.equal(recv.parentSpanId, callerSpan);
    assert.equal(recv.kind, 2); // SERVER
    assert.equal(proc.parentSpanId, recv.spanId);
    assert.equal(proc.kind, 1); // INTERNAL
    assert.notEqual(recv.spanId, callerSpan);
    for (const s of [recv, proc]) {
      const attrs = s.attributes; // normalised: key -> {int|string: ...}
      assert.deepEqual(
        { accepted: Number(attrs['tailgate.spans.accepted'].int), outcome: attrs['tailgate.outcome'].string },
        { accepted: 3, outcome: 'ok' }, s.name);
      assert.ok(BigInt(s.endTimeUnixNano) >= BigInt(s.startTimeUnixNano));
    }
    assert.equal(recv.attributes['tailgate.transport'].string, 'http');
    // the resource names tailgate
    const rs = selfSink.requests[0].msg.resourceSpans[0];
    assert.equal(rs.resource.attributes.find((a) => a.key === 'service.name').value.stringValue, 'tailgate');
  });

  test('a malformed request is traced as an error; own spans never reach the pipeline', async () => {
    const trace = randHex(16);
    const res = await request({
      port: gw.ports.http,
      headers: { 'content-type': 'application/x-protobuf', traceparent: `00-${trace}-${randHex(8)}-01` },
      body: Buffer.from([0x0a, 0xff, 0xff]),
    });
    assert.equal(res.status, 400);
    const recv = await waitFor(() => flattenRequests(selfSink.requests).find((x) => x.traceId === trace && x.name === 'tailgate.receive'),
      { timeoutMs: 8000, what: 'the refused request\'s receive span' });
    assert.equal(recv.attributes['tailgate.outcome'].string, 'malformed');
    // the pipeline carried the client's spans of the first test and nothing of tailgate's
    await waitFor(() => pipeSink.spanCount >= 3, { what: 'client spans at the pipeline sink' });
    const names = new Set(flattenRequests(pipeSink.requests).map((s) => s.name));
    assert.deepEqual([...names].sort(), ['client-0', 'client-1', 'client-2']);
  });

  // Runs after the pipeline-content check above: these Zipkin spans enter the pipeline.
  test('a Zipkin request with B3 is traced: receive (transport v2_json) and process spans', async () => {
    const trace = randHex(16);
    const callerSpan = randHex(8);
    const span = (i) => ({ traceId: randHex(16), id: randHex(8), name: `zipkin-${i}`,
      timestamp: 1704164645000000, duration: 1000, localEndpoint: { serviceName: 'selftrace-zipkin' } });
    const res = await request({
      port: zipkinPort, path: '/api/v2/spans',
      headers: { 'content-type': 'application/json', b3: `${trace}-${callerSpan}-1` },
      body: Buffer.from(JSON.stringify([span(0), span(1)])),
    });
    assert.equal(res.status, 202);
    const mine = await waitFor(() => {
      const s = flattenRequests(selfSink.requests).filter((x) => x.traceId === trace);
      return s.length >= 2 ? s : null;
    }, { timeoutMs: 8000, what: 'the Zipkin request\'s own spans' });
    assert.equal(mine.length, 2);
    const recv = mine.find((s) => s.name === 'tailgate.receive');
    const proc = mine.find((s) => s.name === 'tailgate.process');
    assert.ok(recv && proc, JSON.stringify(mine.map((s) => s.name)));
    assert.equal(recv.parentSpanId, callerSpan);
    assert.equal(proc.parentSpanId, recv.spanId);
    assert.equal(recv.attributes['tailgate.transport'].string, 'v2_json');
    for (const s of [recv, proc]) {
      assert.deepEqual(
        { accepted: Number(s.attributes['tailgate.spans.accepted'].int), outcome: s.attributes['tailgate.outcome'].string },
        { accepted: 2, outcome: 'ok' }, s.name);
    }
  });
});
