'use strict';
// Zipkin in and out with real clients:
// - @opentelemetry/exporter-zipkin (v2 JSON) and zipkin-js (zipkin + zipkin-transport-http,
//   v2 and v1 JSON) send to tailgate's zipkin receiver; the spans are checked field by
//   field at an OTLP sink decoding with the official schema.
// - One trace reported through Zipkin (zipkin-js, 64-bit ids), Jaeger (jaeger-client over
//   Thrift HTTP) and OTLP (the OpenTelemetry SDK) arrives at the sink as one trace.
// - A B3 debug span keeps its trace through the embedded default's tail sampling (10 %),
//   while a non-debug trace that the 10 % drops is dropped.
// - The zipkin exporter's output (JSON and proto) is accepted by a Zipkin sink that
//   decodes with the zipkin2 schema (a protobufjs schema written here from zipkin.proto's
//   published wire format, and JSON checked against the v2 model's rules).
// - Bad input is refused (400 with a reason, 415, 413) and counted.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const http = require('node:http');
const net = require('node:net');
const zlib = require('node:zlib');
const { spawn } = require('node:child_process');
const protobuf = require('protobufjs');
const { Tracer, BatchRecorder, ExplicitContext, TraceId, Annotation, option: { Some }, jsonEncoder: { JSON_V1, JSON_V2 } } = require('zipkin');
const { HttpLogger } = require('zipkin-transport-http');
const { ZipkinExporter } = require('@opentelemetry/exporter-zipkin');
const { initTracer } = require('jaeger-client');
const { NodeTracerProvider } = require('@opentelemetry/sdk-trace-node');
const { SimpleSpanProcessor } = require('@opentelemetry/sdk-trace-base');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { trace, ROOT_CONTEXT, SpanKind, SpanStatusCode, TraceFlags } = require('@opentelemetry/api');
const { Gateway, BIN, httpGet, waitFor } = require('./lib/gateway');
const { freePorts } = require('./lib/ports');
const { startSink } = require('./lib/sink');
const { makeExporter } = require('./lib/sdk');
const { request } = require('./lib/rawhttp');
const { defaultListenerEnv } = require('./lib/default_env');
const { startGrpcCollector } = require('./lib/jaeger_collector');

const hex = (b) => Buffer.from(b || []).toString('hex');
const quiet = { info() {}, error() {} };
// the connection limits of the zipkin receiver (top-level keys, as confighttp's)
const HEADER_TIMEOUT_MS = 800;
const PER_PEER = 4;

// Every span the sink received, with its resource and scope.
function received(sink) {
  const out = [];
  for (const r of sink.requests) {
    for (const rs of r.msg.resourceSpans || []) {
      for (const ss of rs.scopeSpans || []) {
        for (const span of ss.spans || []) out.push({ span, resource: rs.resource, scope: ss.scope });
      }
    }
  }
  return out;
}

function attrs(list) {
  const o = {};
  for (const kv of list || []) {
    const v = kv.value || {};
    if (v.stringValue !== undefined && v.stringValue !== null && v.stringValue !== '') o[kv.key] = v.stringValue;
    else if (v.boolValue === true) o[kv.key] = true;
    else if (v.intValue !== undefined && v.intValue !== null) o[kv.key] = Number(v.intValue.toString());
    else o[kv.key] = '';
  }
  return o;
}

const serviceOf = (r) => attrs(r.resource && r.resource.attributes)['service.name'];

function gatewayConfig(ports, sink, { maxBody } = {}) {
  return {
    receivers: {
      zipkin: { endpoint: `127.0.0.1:${ports.zipkin}`, ...(maxBody ? { max_request_body_size: maxBody } : {}),
        read_header_timeout: `${HEADER_TIMEOUT_MS}ms`, max_connections_per_peer: PER_PEER },
      otlp: { protocols: { http: { endpoint: `127.0.0.1:${ports.otlp}` } } },
      jaeger: { protocols: { thrift_http: { endpoint: `127.0.0.1:${ports.jhttp}` } } },
    },
    processors: { batch: { timeout: '50ms' } },
    exporters: { otlp: { endpoint: `127.0.0.1:${sink.grpcPort}`, tls: { insecure: true } } },
    extensions: { health_check: { endpoint: `127.0.0.1:${ports.health}` } },
    service: {
      extensions: ['health_check'],
      telemetry: { metrics: { address: `127.0.0.1:${ports.metrics}` } },
      pipelines: { traces: { receivers: ['zipkin', 'otlp', 'jaeger'], processors: ['batch'], exporters: ['otlp'] } },
    },
  };
}

let sink;
let gw;
let ports;

test.before(async () => {
  sink = await startSink({ http: false });
  const [zipkin, otlp, jhttp, health, metrics] = await freePorts(5);
  ports = { zipkin, otlp, jhttp, health, metrics };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tailgate-zipkin-'));
  gw = new Gateway({ config: gatewayConfig(ports, sink, { maxBody: 65536 }), dir, ports });
  await gw.start();
});

test.after(async () => {
  if (gw) {
    await gw.stop();
    gw.cleanup();
  }
  if (sink) await sink.close();
});

async function spansOfTrace(traceHex, n) {
  await waitFor(() => received(sink).filter((r) => hex(r.span.traceId) === traceHex).length >= n,
    { timeoutMs: 10000, what: `${n} spans of trace ${traceHex} at the sink` });
  return received(sink).filter((r) => hex(r.span.traceId) === traceHex);
}

function zipkinJsTracer(endpoint, encoder, service) {
  const logger = new HttpLogger({ endpoint, jsonEncoder: encoder, httpInterval: 50, log: quiet });
  const recorder = new BatchRecorder({ logger });
  const tracer = new Tracer({ ctxImpl: new ExplicitContext(), recorder, localServiceName: service });
  tracer.serviceForSpans = service;
  return { tracer, logger };
}

// One client span recorded with zipkin-js under the given ids.
function zipkinJsClientSpan(tracer, { traceId, spanId, parentId, debug = false, name = 'get /users' }) {
  const id = new TraceId({
    traceId, spanId, parentId: parentId ? new Some(parentId) : undefined,
    sampled: new Some(true), debug,
  });
  tracer.letId(id, () => {
    tracer.recordServiceName(tracer.serviceForSpans); // zipkin-js sets localEndpoint only so
    tracer.recordRpc(name);
    tracer.recordAnnotation(new Annotation.ClientSend());
    tracer.recordBinary('http.path', '/users');
    tracer.recordAnnotation(new Annotation.ServerAddr({ serviceName: 'users-db', port: 5432 }));
    tracer.recordMessage('cache miss');
    tracer.recordAnnotation(new Annotation.ClientRecv());
  });
}

test('OpenTelemetry Zipkin exporter (v2 JSON) → tailgate → OTLP sink', async () => {
  const exporter = new ZipkinExporter({ url: `http://127.0.0.1:${ports.zipkin}/api/v2/spans`, serviceName: 'otel-zipkin' });
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'otel-zipkin' }),
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  const tracer = provider.getTracer('zipkin-interop', '1.2.3');
  const parent = tracer.startSpan('checkout', { kind: SpanKind.SERVER, attributes: { 'http.method': 'POST', retries: 3 } });
  const ctx = trace.setSpan(ROOT_CONTEXT, parent);
  const child = tracer.startSpan('charge card', { kind: SpanKind.CLIENT }, ctx);
  child.addEvent('card declined');
  child.setStatus({ code: SpanStatusCode.ERROR, message: 'insufficient funds' });
  child.end();
  parent.end();
  await provider.forceFlush();
  await provider.shutdown();
  const traceHex = parent.spanContext().traceId;
  const got = await spansOfTrace(traceHex, 2);
  assert.equal(got.length, 2);
  const p = got.find((r) => r.span.name === 'checkout');
  const c = got.find((r) => r.span.name === 'charge card');
  assert.ok(p && c, 'both spans arrived');
  assert.equal(hex(p.span.spanId), parent.spanContext().spanId);
  assert.equal(hex(c.span.spanId), child.spanContext().spanId);
  assert.equal(hex(c.span.parentSpanId), parent.spanContext().spanId);
  assert.equal(serviceOf(p), 'otel-zipkin');
  assert.equal(p.span.kind, 2); // SERVER
  assert.equal(c.span.kind, 3); // CLIENT
  // Zipkin tags are strings: the number 3 arrives as "3"
  assert.equal(attrs(p.span.attributes)['http.method'], 'POST');
  assert.equal(attrs(p.span.attributes).retries, '3');
  // the exporter's error tags become an error status with its message
  assert.equal(c.span.status.code, 2);
  assert.equal(c.span.status.message, 'insufficient funds');
  assert.deepEqual(c.span.events.map((e) => e.name), ['card declined']);
  // the JS exporter copies resource attributes into tags; they arrive as span attributes
  assert.equal(attrs(c.span.attributes)['service.name'], 'otel-zipkin');
  // microseconds on the Zipkin wire: times arrive rounded to the microsecond
  const startNs = BigInt(p.span.startTimeUnixNano.toString());
  assert.equal(startNs % 1000n, 0n);
});

test('zipkin-js v2 and v1 JSON (64-bit ids) → tailgate → OTLP sink', async () => {
  for (const [encoder, apiPath, traceId] of [[JSON_V2, '/api/v2/spans', '1a2b3c4d5e6f7081'], [JSON_V1, '/api/v1/spans', '1a2b3c4d5e6f7082']]) {
    const { tracer } = zipkinJsTracer(`http://127.0.0.1:${ports.zipkin}${apiPath}`, encoder, 'zipkin-js-svc');
    zipkinJsClientSpan(tracer, { traceId, spanId: 'aaaaaaaaaaaaaaa1', parentId: 'bbbbbbbbbbbbbbb1' });
    const [r] = await spansOfTrace(`0000000000000000${traceId}`, 1);
    assert.equal(hex(r.span.spanId), 'aaaaaaaaaaaaaaa1', apiPath);
    assert.equal(hex(r.span.parentSpanId), 'bbbbbbbbbbbbbbb1', apiPath);
    assert.equal(r.span.name, 'get /users', apiPath);
    assert.equal(r.span.kind, 3, apiPath);
    assert.equal(serviceOf(r), 'zipkin-js-svc', apiPath);
    const a = attrs(r.span.attributes);
    assert.equal(a['http.path'], '/users', apiPath);
    assert.equal(a['peer.service'], 'users-db', apiPath);
    assert.equal(a['net.peer.port'], 5432, apiPath);
    assert.deepEqual(r.span.events.map((e) => e.name), ['cache miss'], apiPath);
    const start = BigInt(r.span.startTimeUnixNano.toString());
    const end = BigInt(r.span.endTimeUnixNano.toString());
    assert.ok(start > 0n && end >= start, `${apiPath}: times ${start}..${end}`);
  }
});

test('one trace through Zipkin (64-bit), Jaeger and OTLP arrives as one trace', async () => {
  const tid64 = '7d3c2b1a09f8e7d6';
  const traceHex = `0000000000000000${tid64}`;
  // Zipkin: the root, 64-bit trace id
  const { tracer: ztracer } = zipkinJsTracer(`http://127.0.0.1:${ports.zipkin}/api/v2/spans`, JSON_V2, 'edge');
  zipkinJsClientSpan(ztracer, { traceId: tid64, spanId: '0000000000000a01', name: 'edge call' });
  // Jaeger: a child of the Zipkin span, context from uber-trace-id
  const jtracer = initTracer({
    serviceName: 'jaeger-svc', sampler: { type: 'const', param: 1 },
    reporter: { collectorEndpoint: `http://127.0.0.1:${ports.jhttp}/api/traces`, flushIntervalMs: 50 },
  }, { logger: quiet });
  const jparent = jtracer.extract('http_headers', { 'uber-trace-id': `${tid64}:0000000000000a01:0:1` });
  const jspan = jtracer.startSpan('jaeger work', { childOf: jparent });
  jspan.finish();
  await new Promise((r) => jtracer.close(r));
  // OTLP: a child of the Jaeger span, W3C context with the padded 128-bit id
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'otel-svc' }),
    spanProcessors: [new SimpleSpanProcessor(makeExporter('http/protobuf', `http://127.0.0.1:${ports.otlp}`))],
  });
  const jspanId = jspan.context().toSpanId().padStart(16, '0');
  const octx = trace.setSpanContext(ROOT_CONTEXT, { traceId: traceHex, spanId: jspanId, traceFlags: TraceFlags.SAMPLED, isRemote: true });
  provider.getTracer('t').startSpan('otel work', {}, octx).end();
  await provider.forceFlush();
  await provider.shutdown();
  const got = await spansOfTrace(traceHex, 3);
  const byService = Object.fromEntries(got.map((r) => [serviceOf(r), r.span]));
  assert.deepEqual(Object.keys(byService).sort(), ['edge', 'jaeger-svc', 'otel-svc']);
  assert.equal(hex(byService['jaeger-svc'].parentSpanId), '0000000000000a01');
  assert.equal(hex(byService['otel-svc'].parentSpanId), jspanId);
  assert.equal(new Set(got.map((r) => hex(r.span.traceId))).size, 1);
});

test('bad input is refused with the right status and counted', async () => {
  const post = (p, headers, body) => request({ port: ports.zipkin, path: p, headers, body: Buffer.from(body) });
  const json = { 'content-type': 'application/json' };
  let r = await post('/api/v2/spans', json, '[{"traceId":"xyz","id":"1"}]');
  assert.equal(r.status, 400);
  assert.match(r.body.toString(), /span 0, traceId: id must be hex digits/);
  r = await post('/api/v2/spans', json, '[{"id":"1"}]');
  assert.equal(r.status, 400);
  assert.match(r.body.toString(), /traceId is required/);
  r = await post('/api/v2/spans', { 'content-type': 'application/x-protobuf' }, Buffer.from([0x0a, 0x05, 0x01]));
  assert.equal(r.status, 400);
  assert.match(r.body.toString(), /ListOfSpans/);
  r = await post('/api/v2/spans', { 'content-type': 'application/x-thrift' }, '[]');
  assert.equal(r.status, 415);
  r = await post('/api/v1/spans', { 'content-type': 'application/x-protobuf' }, '[]');
  assert.equal(r.status, 415);
  r = await post('/api/v2/spans', { ...json, 'content-encoding': 'gzip' }, zlib.gzipSync(Buffer.alloc(70000, 0x20)));
  assert.equal(r.status, 413);
  r = await request({ port: ports.zipkin, method: 'GET', path: '/api/v2/spans' });
  assert.equal(r.status, 405);
  // gzip bodies are accepted, and the answer to a good request is 202
  r = await post('/api/v2/spans', { ...json, 'content-encoding': 'gzip' }, zlib.gzipSync('[{"traceId":"5","id":"6","name":"gz"}]'));
  assert.equal(r.status, 202);
  await spansOfTrace('00000000000000000000000000000005', 1);
  const metrics = (await httpGet(ports.metrics, '/metrics')).body.toString();
  const value = (re) => { const m = metrics.match(re); return m ? Number(m[1]) : NaN; };
  assert.equal(value(/tailgate_receiver_refused_spans_total\{receiver="zipkin",transport="v2_json",reason="malformed"\} (\d+)/), 3);
  assert.equal(value(/tailgate_receiver_refused_spans_total\{receiver="zipkin",transport="v2_proto",reason="malformed"\} (\d+)/), 1);
  assert.equal(value(/tailgate_receiver_refused_spans_total\{receiver="zipkin",transport="v2_json",reason="too_large"\} (\d+)/), 1);
});

// ---- the embedded default: a B3 debug span keeps its trace through 10 % sampling ----

// A connection that never finishes its headers; resolves with how long the server kept
// it open (from the handshake).
function slowHeaders(port, localAddress) {
  return new Promise((resolve) => {
    let started = Date.now();
    const s = net.connect({ host: '127.0.0.1', port, localAddress });
    s.on('connect', () => {
      started = Date.now();
      s.write('POST /api/v2/spans HTTP/1.1\r\nHost: tailgate\r\nX-Slow: ');
    });
    s.on('data', () => {});
    s.on('error', () => {});
    s.on('close', () => resolve(Date.now() - started));
    s.setTimeout(HEADER_TIMEOUT_MS * 4 + 5000, () => s.destroy()); // a stuck test ends anyway
  });
}

test('connection limits: read_header_timeout closes slow headers, max_connections_per_peer refuses the excess', async () => {
  // PER_PEER slow connections from 127.0.0.2 are admitted and held until the deadline
  const held = Array.from({ length: PER_PEER }, () => slowHeaders(ports.zipkin, '127.0.0.2'));
  await new Promise((r) => setTimeout(r, 200)); // let them be accepted before the excess one
  const excess = await slowHeaders(ports.zipkin, '127.0.0.2');
  assert.ok(excess < HEADER_TIMEOUT_MS / 2, `the connection over the per-peer share lived ${excess} ms`);
  // another peer is served meanwhile
  const r = await request({ port: ports.zipkin, path: '/api/v2/spans', headers: { 'content-type': 'application/json' }, body: '[]' });
  assert.equal(r.status, 202);
  for (const lived of await Promise.all(held)) {
    assert.ok(lived >= HEADER_TIMEOUT_MS - 100 && lived < HEADER_TIMEOUT_MS + 2500, `a slow connection lived ${lived} ms`);
  }
});

test('embedded default: a Zipkin debug trace is kept, a plain one the 10 % drops is not', async (t) => {
  const col = await startGrpcCollector();
  t.after(() => col.close());
  const { ports: dp, env: listenerEnv } = await defaultListenerEnv();
  const env = { ...listenerEnv, TAILGATE_JAEGER_ENDPOINT: `127.0.0.1:${col.port}`, TAILGATE_DECISION_WAIT: '300ms' };
  const proc = spawn(BIN, [], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (c) => { out += c; });
  proc.stderr.on('data', (c) => { out += c; });
  const exited = new Promise((r) => proc.on('exit', (code) => r(code)));
  t.after(() => { try { process.kill(proc.pid, 'SIGKILL'); } catch { /* gone */ } });
  await waitFor(async () => (await httpGet(dp.health, '/health/ready', 500)).status === 200,
    { what: `the default gateway ready\n${out}` });
  // low 56 bits tiny: far below the 10 % threshold (0xe666 << 40), so only debug keeps it
  const debugTrace = '00000000000000a1';
  const plainTrace = '00000000000000a2';
  const { tracer } = zipkinJsTracer(`http://127.0.0.1:${dp.zipkin}/api/v2/spans`, JSON_V2, 'b3-svc');
  zipkinJsClientSpan(tracer, { traceId: debugTrace, spanId: '00000000000000d1', debug: true, name: 'debug call' });
  zipkinJsClientSpan(tracer, { traceId: plainTrace, spanId: '00000000000000d2', name: 'plain call' });
  const tidOf = (s) => hex(s.span.traceId ? s.span.traceId : s.span.trace_id);
  await waitFor(() => col.spans().some((s) => tidOf(s) === `0000000000000000${debugTrace}`),
    { timeoutMs: 10000, what: `the debug trace at the Jaeger collector\n${out}` });
  // the plain trace was received (counted) and decided by now; it must not have been kept
  const metricsText = async () => (await httpGet(dp.metrics, '/metrics')).body.toString();
  await waitFor(async () => /tailgate_receiver_accepted_spans_total\{receiver="zipkin",transport="v2_json"\} 2/.test(await metricsText()),
    { what: 'both Zipkin spans accepted' });
  process.kill(proc.pid, 'SIGTERM'); // decides every pending trace and flushes
  assert.equal(await exited, 0, out);
  const traces = col.spans().map(tidOf);
  assert.ok(traces.includes(`0000000000000000${debugTrace}`));
  assert.ok(!traces.includes(`0000000000000000${plainTrace}`), 'the plain trace was dropped by 10 % sampling');
});

// ---- the zipkin exporter, checked by a sink that decodes with the zipkin2 schema ----

// zipkin.proto (zipkin2 v2 model), written here from its published wire format.
const zipkinRoot = protobuf.Root.fromJSON({
  nested: { zipkin: { nested: { proto3: { nested: {
    Span: {
      fields: {
        trace_id: { type: 'bytes', id: 1 }, parent_id: { type: 'bytes', id: 2 }, id: { type: 'bytes', id: 3 },
        kind: { type: 'Kind', id: 4 }, name: { type: 'string', id: 5 }, timestamp: { type: 'fixed64', id: 6 },
        duration: { type: 'uint64', id: 7 }, local_endpoint: { type: 'Endpoint', id: 8 },
        remote_endpoint: { type: 'Endpoint', id: 9 }, annotations: { rule: 'repeated', type: 'Annotation', id: 10 },
        tags: { keyType: 'string', type: 'string', id: 11 }, debug: { type: 'bool', id: 12 }, shared: { type: 'bool', id: 13 },
      },
      nested: { Kind: { values: { SPAN_KIND_UNSPECIFIED: 0, CLIENT: 1, SERVER: 2, PRODUCER: 3, CONSUMER: 4 } } },
    },
    Endpoint: { fields: { service_name: { type: 'string', id: 1 }, ipv4: { type: 'bytes', id: 2 }, ipv6: { type: 'bytes', id: 3 }, port: { type: 'int32', id: 4 } } },
    Annotation: { fields: { timestamp: { type: 'fixed64', id: 1 }, value: { type: 'string', id: 2 } } },
    ListOfSpans: { fields: { spans: { rule: 'repeated', type: 'Span', id: 1 } } },
  } } } } },
});
const ListOfSpans = zipkinRoot.lookupType('zipkin.proto3.ListOfSpans');

// v2 JSON → the same normal form as the proto decoder gives, checking the model's rules.
function fromJsonSpan(s) {
  assert.match(s.traceId, /^[0-9a-f]{16}([0-9a-f]{16})?$/);
  assert.match(s.id, /^[0-9a-f]{16}$/);
  if (s.parentId !== undefined) assert.match(s.parentId, /^[0-9a-f]{16}$/);
  if (s.kind !== undefined) assert.ok(['CLIENT', 'SERVER', 'PRODUCER', 'CONSUMER'].includes(s.kind));
  assert.ok(Number.isInteger(s.timestamp) && s.timestamp > 0);
  assert.ok(Number.isInteger(s.duration) && s.duration >= 1);
  for (const v of Object.values(s.tags || {})) assert.equal(typeof v, 'string');
  return {
    traceId: s.traceId, id: s.id, parentId: s.parentId || '', kind: s.kind || '', name: s.name || '',
    timestamp: s.timestamp, duration: s.duration, service: (s.localEndpoint || {}).serviceName || '',
    remote: (s.remoteEndpoint || {}).serviceName || '', tags: s.tags || {},
    annotations: (s.annotations || []).map((a) => a.value),
  };
}

function fromProtoSpan(s) {
  return {
    traceId: hex(s.trace_id), id: hex(s.id), parentId: hex(s.parent_id),
    kind: ['', 'CLIENT', 'SERVER', 'PRODUCER', 'CONSUMER'][s.kind || 0], name: s.name || '',
    timestamp: Number(s.timestamp.toString()), duration: Number((s.duration || 0).toString()),
    service: (s.local_endpoint || {}).service_name || '', remote: (s.remote_endpoint || {}).service_name || '',
    tags: { ...(s.tags || {}) }, annotations: (s.annotations || []).map((a) => a.value),
  };
}

async function startZipkinSink() {
  const z = { spans: [], contentTypes: [], errors: [] };
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const ct = (req.headers['content-type'] || '').split(';')[0].trim();
      z.contentTypes.push(ct);
      try {
        if (req.url !== '/api/v2/spans') throw new Error(`path ${req.url}`);
        if (ct === 'application/json') z.spans.push(...JSON.parse(body.toString('utf8')).map(fromJsonSpan));
        else if (ct === 'application/x-protobuf') z.spans.push(...ListOfSpans.decode(body).spans.map(fromProtoSpan));
        else throw new Error(`content type ${ct}`);
        res.writeHead(202).end();
      } catch (e) {
        z.errors.push(e.message);
        res.writeHead(400).end(e.message);
      }
    });
  });
  z.port = await new Promise((r) => server.listen(0, '127.0.0.1', () => r(server.address().port)));
  z.close = () => new Promise((r) => { server.closeAllConnections(); server.close(r); });
  return z;
}

for (const format of ['json', 'proto']) {
  test(`zipkin exporter (${format}): OTLP in, Zipkin out, decoded with the zipkin2 schema`, async (t) => {
    const z = await startZipkinSink();
    t.after(() => z.close());
    const [otlp, health, metrics] = await freePorts(3);
    const p = { otlp, health, metrics };
    const config = {
      receivers: { otlp: { protocols: { http: { endpoint: `127.0.0.1:${otlp}` } } } },
      processors: { batch: { timeout: '50ms' } },
      exporters: { zipkin: { endpoint: `http://127.0.0.1:${z.port}`, format, default_service_name: 'nameless' } },
      extensions: { health_check: { endpoint: `127.0.0.1:${health}` } },
      service: {
        extensions: ['health_check'],
        telemetry: { metrics: { address: `127.0.0.1:${metrics}` } },
        pipelines: { traces: { receivers: ['otlp'], processors: ['batch'], exporters: ['zipkin'] } },
      },
    };
    const g = new Gateway({ config, dir: fs.mkdtempSync(path.join(os.tmpdir(), 'tailgate-zipkin-exp-')), ports: p });
    await g.start();
    t.after(async () => { await g.stop(); g.cleanup(); });
    const provider = new NodeTracerProvider({
      resource: resourceFromAttributes({ 'service.name': 'shop' }),
      spanProcessors: [new SimpleSpanProcessor(makeExporter('http/protobuf', `http://127.0.0.1:${otlp}`))],
    });
    const tracer = provider.getTracer('lib', '2.0');
    const root = tracer.startSpan('GET /cart', { kind: SpanKind.SERVER, attributes: { 'http.status_code': 500, ok: false } });
    const child = tracer.startSpan('db query', { kind: SpanKind.CLIENT, attributes: { 'peer.service': 'postgres' } },
      trace.setSpan(ROOT_CONTEXT, root));
    child.addEvent('rows fetched');
    child.end();
    root.setStatus({ code: SpanStatusCode.ERROR, message: 'boom' });
    root.end();
    await provider.forceFlush();
    await provider.shutdown();
    await waitFor(() => z.spans.length >= 2, { what: `2 spans at the Zipkin sink (errors: ${z.errors})` });
    assert.deepEqual(z.errors, []);
    assert.ok(z.contentTypes.every((c) => c === (format === 'json' ? 'application/json' : 'application/x-protobuf')));
    const r = z.spans.find((s) => s.name === 'GET /cart');
    const c = z.spans.find((s) => s.name === 'db query');
    assert.equal(r.traceId, root.spanContext().traceId);
    assert.equal(r.id, root.spanContext().spanId);
    assert.equal(c.parentId, root.spanContext().spanId);
    assert.equal(r.kind, 'SERVER');
    assert.equal(c.kind, 'CLIENT');
    assert.equal(r.service, 'shop');
    assert.equal(c.remote, 'postgres');
    assert.deepEqual(r.tags, {
      'http.status_code': '500', ok: 'false', 'otel.status_code': 'ERROR', error: 'boom',
      'otel.scope.name': 'lib', 'otel.scope.version': '2.0',
    });
    assert.deepEqual(c.annotations, ['rows fetched']);
    assert.ok(!('peer.service' in c.tags), 'peer.service moved to remoteEndpoint');
  });
}
