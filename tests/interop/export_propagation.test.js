'use strict';
// Outgoing export requests carry tailgate's own context (service.telemetry.traces.propagators).
// With propagators [tracecontext, b3, jaeger] and sampling_ratio 1, every request the otlp
// (gRPC metadata) and otlphttp (HTTP headers) exporters send carries traceparent, b3 and
// uber-trace-id naming one context, and that trace/span is a "tailgate.export" CLIENT span
// at the self-tracing sink with the exporter's id, span count, attempt, outcome and status.
// Without telemetry.traces (self-tracing off) no context header goes out at all. A retried
// request is one span per attempt (attempt 1 retryable/503, attempt 2 ok/200), each a trace.
const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startSink } = require('./lib/sink');
const { startGateway, baseConfig, waitFor } = require('./lib/gateway');
const { request } = require('./lib/rawhttp');
const { otlpClientBody, stopGatewayAndSinks } = require('./lib/selftrace');
const { flattenRequests } = require('./lib/compare');
const http = require('node:http');

const pbBody = (n) => otlpClientBody(n, 'prop-client');

// A header as the sink recorded it: HTTP headers are strings, gRPC metadata values too.
const header = (req, name) => {
  const v = req.headers[name];
  return v === undefined ? undefined : String(v);
};

async function gatewayTo(pipeSink, traces) {
  return startGateway((ports) => {
    const cfg = baseConfig(ports, {
      exporters: {
        'otlp/sink': { endpoint: `127.0.0.1:${pipeSink.grpcPort}`, tls: { insecure: true } },
        'otlphttp/sink': { endpoint: `http://127.0.0.1:${pipeSink.httpPort}` },
      },
    });
    if (traces) cfg.service.telemetry.traces = traces;
    return cfg;
  });
}

async function sendAndCollect(gw, pipeSink, n) {
  const res = await request({
    port: gw.ports.http,
    headers: { 'content-type': 'application/x-protobuf' },
    body: pbBody(n),
  });
  assert.equal(res.status, 200);
  return waitFor(() => {
    const byTransport = (t) => pipeSink.requests.find((r) => r.transport === t);
    const g = byTransport('grpc');
    const h = byTransport('http');
    return g && h ? { grpc: g, http: h } : null;
  }, { timeoutMs: 8000, what: 'one export request per exporter at the pipeline sink' });
}

describe('export requests carry tailgate\'s context', () => {
  let selfSink;
  let pipeSink;
  let gw;
  before(async () => {
    selfSink = await startSink({ grpc: false });
    pipeSink = await startSink();
    gw = await gatewayTo(pipeSink, {
      endpoint: `http://127.0.0.1:${selfSink.httpPort}/v1/traces`,
      sampling_ratio: 1,
      propagators: ['tracecontext', 'b3', 'jaeger'],
    });
  });
  after(() => stopGatewayAndSinks(gw, selfSink, pipeSink));

  test('traceparent, b3 and uber-trace-id name a tailgate.export span at the self-trace sink', async () => {
    const reqs = await sendAndCollect(gw, pipeSink, 3);
    const seen = new Set();
    for (const [transport, exporter, statusKey, status] of [
      ['grpc', 'otlp/sink', 'rpc.grpc.status_code', 0],
      ['http', 'otlphttp/sink', 'http.response.status_code', 200],
    ]) {
      const r = reqs[transport];
      const tp = /^00-([0-9a-f]{32})-([0-9a-f]{16})-03$/.exec(header(r, 'traceparent') || '');
      assert.ok(tp, `${transport} traceparent: ${header(r, 'traceparent')}`);
      const [, traceId, spanId] = tp;
      assert.notEqual(traceId, '0'.repeat(32));
      assert.equal(header(r, 'b3'), `${traceId}-${spanId}-1`, transport);
      assert.equal(header(r, 'uber-trace-id'), `${traceId}:${spanId}:0:01`, transport);
      seen.add(traceId);
      const span = await waitFor(() => flattenRequests(selfSink.requests)
        .find((s) => s.traceId === traceId && s.spanId === spanId),
      { timeoutMs: 8000, what: `the ${exporter} tailgate.export span` });
      assert.equal(span.name, 'tailgate.export');
      assert.equal(span.kind, 3); // CLIENT
      assert.ok(!span.parentSpanId, 'a root span (a new trace per export request)');
      const a = span.attributes;
      assert.deepEqual({
        exporter: a['tailgate.exporter'].string,
        spans: Number(a['tailgate.spans'].int),
        attempt: Number(a['tailgate.attempt'].int),
        outcome: a['tailgate.outcome'].string,
        status: Number(a[statusKey].int),
      }, { exporter, spans: 3, attempt: 1, outcome: 'ok', status });
    }
    assert.equal(seen.size, 2, 'each export request is a trace of its own');
  });
});

describe('self-tracing off: no context on export requests', () => {
  let pipeSink;
  let gw;
  before(async () => {
    pipeSink = await startSink();
    gw = await gatewayTo(pipeSink, null);
  });
  after(() => stopGatewayAndSinks(gw, pipeSink));

  test('neither exporter sends traceparent, b3 or uber-trace-id', async () => {
    const reqs = await sendAndCollect(gw, pipeSink, 2);
    for (const t of ['grpc', 'http']) {
      for (const h of ['traceparent', 'tracestate', 'b3', 'uber-trace-id', 'x-b3-traceid'])
        assert.equal(header(reqs[t], h), undefined, `${t} ${h}`);
      assert.equal(reqs[t].spanCount, 2);
    }
  });
});

describe('a retried export: one span per attempt', () => {
  let selfSink;
  let backend; // answers the first POST 503, the next ones 200; records the traceparents
  const seen = [];
  let gw;
  before(async () => {
    selfSink = await startSink({ grpc: false });
    backend = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        seen.push(req.headers.traceparent);
        res.writeHead(seen.length === 1 ? 503 : 200, { 'content-type': 'application/x-protobuf' });
        res.end();
      });
    });
    await new Promise((resolve) => backend.listen(0, '127.0.0.1', resolve));
    gw = await startGateway((ports) => {
      const cfg = baseConfig(ports, {
        exporters: {
          'otlphttp/flaky': {
            endpoint: `http://127.0.0.1:${backend.address().port}`,
            retry_on_failure: { initial_interval: '50ms', max_interval: '100ms' },
          },
        },
      });
      cfg.service.telemetry.traces = {
        endpoint: `http://127.0.0.1:${selfSink.httpPort}/v1/traces`, sampling_ratio: 1,
      };
      return cfg;
    });
  });
  after(async () => {
    try {
      if (gw) await gw.stop();
    } finally {
      if (gw) { await gw.kill(); gw.cleanup(); }
      if (selfSink) await selfSink.close();
      if (backend) await new Promise((resolve) => backend.close(resolve));
    }
  });

  test('attempt 1 is retryable with 503, attempt 2 ok with 200, each its own trace', async () => {
    const res = await request({
      port: gw.ports.http, headers: { 'content-type': 'application/x-protobuf' }, body: pbBody(4),
    });
    assert.equal(res.status, 200);
    await waitFor(() => seen.length >= 2, { timeoutMs: 8000, what: 'the retry at the backend' });
    const ids = seen.slice(0, 2).map((tp) => /^00-([0-9a-f]{32})-([0-9a-f]{16})-03$/.exec(tp || ''));
    assert.ok(ids[0] && ids[1], JSON.stringify(seen));
    assert.notEqual(ids[0][1], ids[1][1]);
    const spans = await waitFor(() => {
      const all = flattenRequests(selfSink.requests);
      const got = ids.map(([, t, sp]) => all.find((x) => x.traceId === t && x.spanId === sp));
      return got.every(Boolean) ? got : null;
    }, { timeoutMs: 8000, what: 'both attempts\' tailgate.export spans' });
    const view = spans.map((x) => ({
      attempt: Number(x.attributes['tailgate.attempt'].int),
      outcome: x.attributes['tailgate.outcome'].string,
      status: Number(x.attributes['http.response.status_code'].int),
      spans: Number(x.attributes['tailgate.spans'].int),
    }));
    assert.deepEqual(view, [
      { attempt: 1, outcome: 'retryable', status: 503, spans: 4 },
      { attempt: 2, outcome: 'ok', status: 200, spans: 4 },
    ]);
  });
});
