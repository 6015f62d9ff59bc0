'use strict';
// The jaeger (api_v2 gRPC) and jaeger_thrift_http exporters against fake Jaeger
// collectors: a grpc-js CollectorService loaded from our proto files with
// @grpc/proto-loader, and an HTTP /api/traces server decoding Thrift with thriftrw and
// the official IDL jaeger-client ships. The OpenTelemetry JS SDK sends its fixed span set
// to tailgate over OTLP; what each collector receives is checked field by field against
// the SDK's own record of the spans (InMemorySpanExporter), by the Jaeger mapping rules.
// Also: retries after UNAVAILABLE / 503 deliver every span exactly once.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const http = require('node:http');
const { Thrift } = require('thriftrw');
const { SpanKind, SpanStatusCode } = require('@opentelemetry/api');
const { spawn, spawnSync } = require('node:child_process');
const { initTracer } = require('jaeger-client');
const { BIN, Gateway, httpGet, waitFor } = require('./lib/gateway');
const { freePorts } = require('./lib/ports');
const { emitThrough, RESOURCE } = require('./lib/sdk');
const { startGrpcCollector } = require('./lib/jaeger_collector');
const { defaultListenerEnv } = require('./lib/default_env');

const ROOT = path.resolve(__dirname, '..', '..');
const IDL = path.join(__dirname, 'node_modules', 'jaeger-client', 'dist', 'src', 'jaeger-idl', 'thrift');

// ---- fake collectors --------------------------------------------------------------


// POST /api/traces with a Thrift binary Batch; fails the first `failures` with 503.
async function startThriftCollector() {
  const thrift = new Thrift({ source: fs.readFileSync(path.join(IDL, 'jaeger.thrift'), 'ascii'), allowOptionalArguments: true });
  const c = { batches: [], calls: 0, failures: 0, contentTypes: [], errors: [] };
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (d) => chunks.push(d));
    req.on('end', () => {
      c.calls++;
      c.contentTypes.push(req.headers['content-type']);
      if (req.url !== '/api/traces' || req.method !== 'POST') {
        c.errors.push(`${req.method} ${req.url}`);
        res.writeHead(404).end();
        return;
      }
      if (c.failures > 0) {
        c.failures--;
        res.writeHead(503, { 'retry-after': '0' }).end('busy');
        return;
      }
      const r = thrift.Batch.rw.readFrom(Buffer.concat(chunks), 0);
      if (r.err) {
        c.errors.push(String(r.err));
        res.writeHead(400).end(String(r.err));
        return;
      }
      c.batches.push(r.value);
      res.writeHead(202).end();
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  c.port = server.address().port;
  c.close = () => new Promise((r) => { server.closeAllConnections(); server.close(r); });
  c.spans = () => c.batches.flatMap((b) => b.spans.map((s) => ({ span: s, process: b.process })));
  return c;
}

// ---- one normal form for both wires ---------------------------------------------------

const hex = (b) => Buffer.from(b).toString('hex');
const i64hex = (b) => hex(b).padStart(16, '0'); // thriftrw i64 is an 8-byte Buffer
const nanos = (ts) => BigInt(ts.seconds) * 1000000000n + BigInt(ts.nanos);

const PROTO_TYPES = { STRING: 'str', BOOL: 'bool', INT64: 'int', FLOAT64: 'double', BINARY: 'bytes' };
const THRIFT_TYPES = { STRING: 'str', DOUBLE: 'double', BOOL: 'bool', LONG: 'int', BINARY: 'bytes' };

function protoTag(t) {
  const type = PROTO_TYPES[t.v_type];
  const value = { str: t.v_str, bool: t.v_bool, int: String(t.v_int64), double: t.v_float64, bytes: t.v_binary && hex(t.v_binary) }[type];
  return [t.key, { type, value }];
}

function thriftTag(t) {
  const type = THRIFT_TYPES[t.vType];
  const value = { str: t.vStr, bool: t.vBool, int: t.vLong && BigInt.asIntN(64, BigInt(`0x${hex(t.vLong)}`)).toString(), double: t.vDouble, bytes: t.vBinary && hex(t.vBinary) }[type];
  return [t.key, { type, value }];
}

function fromProto({ span: s, process }) {
  return {
    traceId: hex(s.trace_id), spanId: hex(s.span_id), name: s.operation_name, flags: s.flags,
    startNs: nanos(s.start_time), durationNs: nanos(s.duration),
    refs: s.references.map((r) => ({ type: r.ref_type, traceId: hex(r.trace_id), spanId: hex(r.span_id) })),
    tags: s.tags.map(protoTag),
    logs: s.logs.map((l) => ({ ns: nanos(l.timestamp), fields: l.fields.map(protoTag) })),
    service: process.service_name, processTags: process.tags.map(protoTag),
  };
}

function fromThrift({ span: s, process }) {
  const us = (b) => BigInt.asIntN(64, BigInt(`0x${hex(b)}`)) * 1000n;
  return {
    traceId: i64hex(s.traceIdHigh) + i64hex(s.traceIdLow), spanId: i64hex(s.spanId), parent: i64hex(s.parentSpanId),
    name: s.operationName, flags: s.flags, startNs: us(s.startTime), durationNs: us(s.duration),
    refs: (s.references || []).map((r) => ({ type: r.refType, traceId: i64hex(r.traceIdHigh) + i64hex(r.traceIdLow), spanId: i64hex(r.spanId) })),
    tags: (s.tags || []).map(thriftTag),
    logs: (s.logs || []).map((l) => ({ ns: us(l.timestamp), fields: l.fields.map(thriftTag) })),
    service: process.serviceName, processTags: (process.tags || []).map(thriftTag),
  };
}

// ---- the oracle: what Jaeger must hold for an SDK span --------------------------------

const hrNs = ([s, ns]) => BigInt(s) * 1000000000n + BigInt(ns);

function expectedValue(v) {
  if (typeof v === 'string') return { type: 'str', value: v };
  if (typeof v === 'boolean') return { type: 'bool', value: v };
  if (typeof v === 'number') return Number.isInteger(v) ? { type: 'int', value: String(v) } : { type: 'double', value: v };
  return { type: 'json', value: v }; // arrays: a JSON string, compared parsed
}

function expectedTags(attributes) {
  return Object.entries(attributes).map(([k, v]) => [k, expectedValue(v)]);
}

function checkTags(got, want, what) {
  assert.equal(got.length, want.length, `${what}: tag count (${got.map((t) => t[0])} vs ${want.map((t) => t[0])})`);
  for (let i = 0; i < want.length; i++) {
    const [wk, wv] = want[i];
    const [gk, gv] = got[i];
    assert.equal(gk, wk, `${what}: tag ${i} key`);
    if (wv.type === 'json') {
      assert.equal(gv.type, 'str', `${what}: ${wk} is a JSON string`);
      assert.deepEqual(JSON.parse(gv.value), wv.value, `${what}: ${wk}`);
    } else {
      assert.deepEqual(gv, wv, `${what}: ${wk}`);
    }
  }
}

const KIND = { [SpanKind.INTERNAL]: 'internal', [SpanKind.SERVER]: 'server', [SpanKind.CLIENT]: 'client', [SpanKind.PRODUCER]: 'producer', [SpanKind.CONSUMER]: 'consumer' };

function checkSpan(got, sdk, { micros }) {
  const ctx = sdk.spanContext();
  const what = `span "${sdk.name}" (${micros ? 'thrift' : 'api_v2'})`;
  const cut = (ns) => (micros ? (ns / 1000n) * 1000n : ns);
  assert.equal(got.traceId, ctx.traceId, `${what}: trace id`);
  assert.equal(got.name, sdk.name, `${what}: name`);
  assert.equal(got.flags, 1, `${what}: sampled flag`);
  assert.equal(got.startNs, cut(hrNs(sdk.startTime)), `${what}: start`);
  assert.equal(got.durationNs, cut(hrNs(sdk.endTime) - hrNs(sdk.startTime)), `${what}: duration`);
  const refs = [];
  const parent = sdk.parentSpanContext;
  if (parent) refs.push({ type: 'CHILD_OF', traceId: ctx.traceId, spanId: parent.spanId });
  for (const l of sdk.links) refs.push({ type: 'FOLLOWS_FROM', traceId: l.context.traceId, spanId: l.context.spanId });
  assert.deepEqual(got.refs, refs, `${what}: references`);
  if (micros) assert.equal(got.parent, parent ? parent.spanId : '0000000000000000', `${what}: parentSpanId`);
  const tags = expectedTags(sdk.attributes);
  tags.push(['span.kind', { type: 'str', value: KIND[sdk.kind] }]);
  if (sdk.status.code === SpanStatusCode.ERROR) {
    tags.push(['otel.status_code', { type: 'str', value: 'ERROR' }], ['error', { type: 'bool', value: true }]);
  } else if (sdk.status.code === SpanStatusCode.OK) {
    tags.push(['otel.status_code', { type: 'str', value: 'OK' }]);
  }
  if (sdk.status.code !== SpanStatusCode.UNSET && sdk.status.message) tags.push(['otel.status_description', { type: 'str', value: sdk.status.message }]);
  const ts = ctx.traceState && ctx.traceState.serialize();
  if (ts) tags.push(['w3c.tracestate', { type: 'str', value: ts }]);
  const scope = sdk.instrumentationScope;
  tags.push(['otel.scope.name', { type: 'str', value: scope.name }]);
  if (scope.version) tags.push(['otel.scope.version', { type: 'str', value: scope.version }]);
  checkTags(got.tags, tags, what);
  assert.equal(got.logs.length, sdk.events.length, `${what}: logs`);
  sdk.events.forEach((ev, i) => {
    assert.equal(got.logs[i].ns, cut(hrNs(ev.time)), `${what}: log ${i} time`);
    checkTags(got.logs[i].fields, [['event', { type: 'str', value: ev.name }], ...expectedTags(ev.attributes || {})], `${what}: log ${i}`);
  });
  assert.equal(got.service, RESOURCE['service.name'], `${what}: process service name`);
  const res = { ...sdk.resource.attributes };
  delete res['service.name'];
  checkTags(got.processTags, expectedTags(res), `${what}: process tags`);
}

// ---- the test ---------------------------------------------------------------------

let gw;
let gcol;
let tcol;

test.before(async () => {
  gcol = await startGrpcCollector();
  tcol = await startThriftCollector();
  const [grpcPort, httpPort, health, metrics] = await freePorts(4);
  const ports = { grpc: grpcPort, http: httpPort, health, metrics };
  const retry = { initial_interval: '50ms', max_interval: '200ms' };
  const config = {
    receivers: { otlp: { protocols: { grpc: { endpoint: `127.0.0.1:${grpcPort}` } } } },
    processors: { batch: { timeout: '100ms' } },
    exporters: {
      jaeger: { endpoint: `127.0.0.1:${gcol.port}`, tls: { insecure: true }, headers: { 'x-tenant': 'blue' }, retry_on_failure: retry },
      jaeger_thrift_http: { endpoint: `http://127.0.0.1:${tcol.port}`, retry_on_failure: retry },
    },
    extensions: { health_check: { endpoint: `127.0.0.1:${health}` } },
    service: {
      extensions: ['health_check'],
      telemetry: { metrics: { address: `127.0.0.1:${metrics}` } },
      pipelines: { traces: { receivers: ['otlp'], processors: ['batch'], exporters: ['jaeger', 'jaeger_thrift_http'] } },
    },
  };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tailgate-jaeger-exp-'));
  gw = new Gateway({ config, dir, ports });
  await gw.start();
});

test.after(async () => {
  try {
    if (gw) await gw.stop();
  } finally {
    if (gw) { await gw.kill(); gw.cleanup(); }
    if (gcol) await gcol.close();
    if (tcol) await tcol.close();
  }
});

test('both exporters deliver the SDK spans to Jaeger, field by field, after retries', async () => {
  gcol.failures = 1; // the first PostSpans fails UNAVAILABLE: retried
  tcol.failures = 1; // the first POST gets 503: retried
  const r = await emitThrough({ protocol: 'grpc', endpoint: `http://127.0.0.1:${gw.ports.grpc}` });
  assert.deepEqual(r.failures, []);
  assert.equal(r.memory.length, r.count);
  await waitFor(() => gcol.spans().length >= r.count && tcol.spans().length >= r.count,
    { timeoutMs: 10000, what: `${r.count} spans at both collectors (have ${gcol.spans().length}, ${tcol.spans().length})` });
  assert.equal(gcol.spans().length, r.count, 'api_v2: every span exactly once');
  assert.equal(tcol.spans().length, r.count, 'thrift: every span exactly once');
  assert.ok(gcol.calls > gcol.batches.length, 'the gRPC collector saw the failed attempt');
  assert.ok(tcol.calls > tcol.batches.length, 'the Thrift collector saw the failed attempt');
  assert.deepEqual(tcol.errors, []);
  assert.ok(tcol.contentTypes.every((ct) => ct === 'application/x-thrift'));
  assert.ok(gcol.metadata.every((m) => m['x-tenant'] === 'blue'), 'configured headers as gRPC metadata');
  const protoSpans = gcol.spans().map(fromProto);
  const thriftSpans = tcol.spans().map(fromThrift);
  for (const sdk of r.memory) {
    const id = sdk.spanContext().spanId;
    const p = protoSpans.find((s) => s.spanId === id);
    const t = thriftSpans.find((s) => s.spanId === id);
    assert.ok(p && t, `span ${sdk.name} (${id}) at both collectors`);
    checkSpan(p, sdk, { micros: false });
    checkSpan(t, sdk, { micros: true });
  }
});

// The embedded default (no --config), every endpoint moved to a free port through its
// environment variable: with TAILGATE_JAEGER_ENDPOINT set it exports to that collector
// and says so at start-up; Jaeger spans in (jaeger-client, UDP) arrive as Jaeger out.
test('embedded default: Jaeger in, Jaeger out when TAILGATE_JAEGER_ENDPOINT is set', async (t) => {
  const { ports, env: listenerEnv } = await defaultListenerEnv();
  const { health, binary } = ports;
  const env = {
    ...listenerEnv,
    TAILGATE_JAEGER_ENDPOINT: `127.0.0.1:${gcol.port}`,
    TAILGATE_DECISION_WAIT: '300ms', // the default tail-samples: decide soon
  };
  const proc = spawn(BIN, [], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (c) => { out += c; });
  proc.stderr.on('data', (c) => { out += c; });
  const exited = new Promise((r) => proc.on('exit', (code) => r(code)));
  t.after(() => { try { process.kill(proc.pid, 'SIGKILL'); } catch { /* gone */ } });
  await waitFor(async () => (await httpGet(health, '/health/ready', 500)).status === 200,
    { what: `the default gateway ready\n${out}` });
  assert.match(out, new RegExp(`embedded default: exporting traces to the Jaeger collector at 127\\.0\\.0\\.1:${gcol.port}`));
  const before = gcol.spans().length;
  const tracer = initTracer({ serviceName: 'default-e2e', sampler: { type: 'const', param: 1 },
    reporter: { agentHost: '127.0.0.1', agentPort: binary, flushIntervalMs: 50 } }, { logger: { info() {}, error() {} } });
  const span = tracer.startSpan('through-the-default');
  span.setTag('k', 'v');
  span.setTag('error', true); // the default keeps every trace with an error
  span.finish();
  await new Promise((r) => tracer.close(r));
  await waitFor(() => gcol.spans().length > before, { what: 'the span at the Jaeger collector' });
  const got = gcol.spans().slice(before).map(fromProto);
  assert.equal(got.length, 1);
  assert.equal(got[0].name, 'through-the-default');
  assert.equal(got[0].service, 'default-e2e');
  assert.equal(got[0].traceId, span.context().toTraceId().padStart(32, '0'));
  assert.deepEqual(got[0].tags.find(([k]) => k === 'k'), ['k', { type: 'str', value: 'v' }]);
  process.kill(proc.pid, 'SIGTERM');
  assert.equal(await exited, 0, out);
});

// TLS to the collector: the exporter verifies the collector's certificate against
// tls.ca_file (a certificate made for this run).
test('jaeger exporter over TLS (tls.ca_file)', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tailgate-jaeger-tls-'));
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1',
    '-keyout', key, '-out', cert, '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { encoding: 'utf8' });
  assert.equal(r.status, 0, `openssl failed: ${r.stderr}`);
  const col = await startGrpcCollector({ key, cert });
  const [grpcPort, httpPort, health, metrics] = await freePorts(4);
  const config = {
    receivers: { otlp: { protocols: { grpc: { endpoint: `127.0.0.1:${grpcPort}` } } } },
    exporters: { 'jaeger/tls': { endpoint: `localhost:${col.port}`, tls: { ca_file: cert } } },
    extensions: { health_check: { endpoint: `127.0.0.1:${health}` } },
    service: {
      extensions: ['health_check'],
      telemetry: { metrics: { address: `127.0.0.1:${metrics}` } },
      pipelines: { traces: { receivers: ['otlp'], exporters: ['jaeger/tls'] } },
    },
  };
  const tgw = new Gateway({ config, dir, ports: { grpc: grpcPort, http: httpPort, health, metrics } });
  t.after(async () => { await tgw.kill(); tgw.cleanup(); await col.close(); });
  await tgw.start();
  const res = await emitThrough({ protocol: 'grpc', endpoint: `http://127.0.0.1:${grpcPort}` });
  assert.deepEqual(res.failures, []);
  await waitFor(() => col.spans().length >= res.count, { what: `${res.count} spans at the TLS collector` });
  assert.equal(col.spans().length, res.count);
  assert.match(tgw.stdout, /exporting to Jaeger \(api_v2 gRPC\) at localhost:\d+ \(TLS\)/);
  await tgw.stop();
});
