'use strict';
// The jaegerremotesampling extension with the clients that poll it: jaeger-client's
// default remote sampler (HTTP GET /sampling?service=), @opentelemetry/sampler-jaeger-remote
// (same endpoint), and a grpc-js client calling api_v2 SamplingManager/GetSamplingStrategy
// with our sampling.proto.
//
// Part 1 runs the embedded default (every listener moved by lib/default_env.js, exports to a
// fake Jaeger collector, tail sampling at 100 %): a jaeger-client service with its default
// configuration sends every trace after its first poll, while the same client polling a
// port where nothing answers stays at its built-in 0.1 % (the control that shows part 1
// can fail). Part 2 runs a config with a strategies file: the answers field by field as
// each client parses them, reload (a changed file is served at the next poll; a broken one
// keeps the old strategies, is logged once and counted), bad requests, `tailgate validate`.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const http = require('node:http');
const { spawn, spawnSync } = require('node:child_process');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const { initTracer, ProbabilisticSampler, RateLimitingSampler } = require('jaeger-client');
const { JaegerRemoteSampler } = require('@opentelemetry/sampler-jaeger-remote');
const { AlwaysOffSampler } = require('@opentelemetry/sdk-trace-base');
const { BIN, Gateway, httpGet, waitFor } = require('./lib/gateway');
const { freePorts } = require('./lib/ports');
const { defaultListenerEnv, freeUdpPorts } = require('./lib/default_env');
const { startGrpcCollector } = require('./lib/jaeger_collector');

const ROOT = path.resolve(__dirname, '..', '..');

function samplingApi() {
  const def = protoLoader.loadSync('sampling.proto', {
    includeDirs: [path.join(ROOT, 'proto')], keepCase: true, longs: Number, enums: String, defaults: false,
  });
  return grpc.loadPackageDefinition(def).jaeger.api_v2;
}
function collectorApi() {
  const def = protoLoader.loadSync('collector.proto', {
    includeDirs: [path.join(ROOT, 'proto')], keepCase: true, longs: String, enums: String, defaults: true,
  });
  return grpc.loadPackageDefinition(def).jaeger.api_v2;
}

// Replaces a file the gateway polls in one step (write aside, rename over), as a
// ConfigMap update does: writing in place could let a poll read a half-written file and
// count a reload failure the test did not cause.
function replaceFile(file, text) {
  const tmp = `${file}.tmp`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}

// GetSamplingStrategy over gRPC; resolves {err} or {resp}.
function getStrategy(port, serviceName) {
  const api = samplingApi();
  const client = new api.SamplingManager(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  return new Promise((resolve) => {
    client.GetSamplingStrategy({ serviceName }, { deadline: Date.now() + 5000 }, (err, resp) => {
      client.close();
      resolve({ err, resp });
    });
  });
}

// A gRPC answer in the JSON answer's shape: proto3 omits zero scalars and the enum's zero
// value, protobufjs omits absent messages; the JSON form spells every field out.
function grpcAsJson(resp) {
  const out = { strategyType: resp.strategyType || 'PROBABILISTIC' };
  if (resp.probabilisticSampling) out.probabilisticSampling = { samplingRate: resp.probabilisticSampling.samplingRate || 0 };
  if (resp.rateLimitingSampling) out.rateLimitingSampling = { maxTracesPerSecond: resp.rateLimitingSampling.maxTracesPerSecond || 0 };
  if (resp.operationSampling) {
    const o = resp.operationSampling;
    out.operationSampling = {
      defaultSamplingProbability: o.defaultSamplingProbability || 0,
      defaultLowerBoundTracesPerSecond: o.defaultLowerBoundTracesPerSecond || 0,
      perOperationStrategies: (o.perOperationStrategies || []).map((p) => ({
        operation: p.operation || '',
        probabilisticSampling: { samplingRate: (p.probabilisticSampling && p.probabilisticSampling.samplingRate) || 0 },
      })),
    };
  }
  return out;
}

async function getJson(port, urlPath) {
  const r = await httpGet(port, urlPath);
  return { status: r.status, type: r.headers['content-type'], body: r.body.toString() };
}

function request(port, method, urlPath) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: urlPath, agent: false, timeout: 2000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

async function metricsText(port) {
  const r = await httpGet(port, '/metrics');
  assert.equal(r.status, 200);
  return r.body.toString();
}
function metricValue(text, name, labels = {}) {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) &&
    Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)));
  return line ? Number(line.split(' ').pop()) : NaN;
}

// A jaeger-client tracer with its DEFAULT sampler (no `sampler` in the config: the remote
// sampler, 0.001 until its first successful poll) and its default reporter (Thrift binary
// over UDP to the agent port, here the receiver's thrift_binary). Only the addresses and
// the poll interval are set (the default interval is a minute).
function defaultClient(serviceName, samplingPort, agentPort, events) {
  return initTracer(
    { serviceName, reporter: { agentHost: '127.0.0.1', agentPort, flushIntervalMs: 50 } },
    {
      host: '127.0.0.1',
      port: samplingPort,
      refreshInterval: 100,
      onSamplerUpdate: (s) => events.updates.push(s),
      logger: { info() {}, error(msg) { events.errors.push(String(msg)); } },
    },
  );
}

const TRACES = 300;

// Starts TRACES root spans (one trace each) named `${prefix}${i}`; returns the ids of the
// traces the client sampled. The reporter is flushed every 100 spans: jaeger-client's UDP
// sender loses the span that overflows a full datagram (250 spans in one go arrive as 249,
// with or without this extension), which would blur the 100 % this test is about.
async function emitTraces(tracer, prefix) {
  const ids = [];
  for (let i = 0; i < TRACES; i++) {
    const span = tracer.startSpan(`${prefix}${i}`);
    if (span.context().isSampled()) ids.push(span.context().toTraceId().padStart(32, '0'));
    span.finish();
    if (i % 100 === 99) await new Promise((r) => tracer._reporter.flush(r));
  }
  await new Promise((r) => tracer.close(r));
  return ids;
}

const hexId = (b) => Buffer.from(b || []).toString('hex');

// ---------------------------------------------------------------------------------------
// Part 1: the embedded default.
// ---------------------------------------------------------------------------------------
test.describe('embedded default', () => {
  let col;
  let proc;
  let out = '';
  let ports;
  let exited;

  test.before(async () => {
    col = await startGrpcCollector();
    const { ports: p, env: listenerEnv } = await defaultListenerEnv();
    ports = p;
    const env = {
      ...listenerEnv,
      TAILGATE_JAEGER_ENDPOINT: `127.0.0.1:${col.port}`,
      TAILGATE_DECISION_WAIT: '300ms',
      TAILGATE_SAMPLING_PERCENTAGE: '100', // the tail sampler keeps all: what arrives is what was sent
    };
    proc = spawn(BIN, [], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stdout.on('data', (c) => { out += c; });
    proc.stderr.on('data', (c) => { out += c; });
    exited = new Promise((r) => proc.on('exit', (code) => r(code)));
    await waitFor(async () => (await httpGet(ports.health, '/health/ready', 500)).status === 200,
      { what: 'the default gateway ready', timeoutMs: 10000 });
  });

  test.after(async () => {
    try {
      if (proc && proc.exitCode === null) {
        process.kill(proc.pid, 'SIGTERM');
        assert.equal(await exited, 0, out);
      }
    } finally {
      if (proc && proc.exitCode === null) try { process.kill(proc.pid, 'SIGKILL'); } catch { /* gone */ }
      if (col) await col.close();
    }
  });

  test('jaeger-client with its default remote sampler: after the first poll, 100 % of traces reach Jaeger', async () => {
    const events = { updates: [], errors: [] };
    const tracer = defaultClient('remote-all', ports.jaegerSampling, ports.binary, events);
    await waitFor(() => events.updates.length > 0, { what: `the first sampling poll (errors: ${events.errors})` });
    const sampler = tracer._sampler._sampler;
    assert.ok(sampler instanceof ProbabilisticSampler, `sampler after the poll: ${sampler}`);
    assert.equal(sampler._samplingRate, 1);
    const ids = await emitTraces(tracer, 'all-');
    assert.equal(ids.length, TRACES, 'the client sampled every trace');
    const arrived = () => col.spans().filter((s) => s.span.operation_name.startsWith('all-'));
    await waitFor(() => arrived().length >= TRACES, { what: `${TRACES} traces at the Jaeger collector`, timeoutMs: 15000 })
      .catch((e) => { throw new Error(`${e.message}: ${arrived().length} arrived; client errors: ${events.errors.slice(0, 2)}`); });
    const got = new Set(arrived().map((s) => hexId(s.span.trace_id)));
    assert.deepEqual(got, new Set(ids));
    assert.equal(arrived().length, TRACES);
  });

  test('control: the same client without a sampling endpoint keeps its 0.1 % default', async () => {
    const [deadPort] = await freePorts(1); // nothing listens here
    const events = { updates: [], errors: [] };
    const tracer = defaultClient('remote-none', deadPort, ports.binary, events);
    await waitFor(() => events.errors.some((e) => e.includes('Error in fetching sampling strategy')),
      { what: 'the failed first poll' });
    const sampler = tracer._sampler._sampler;
    assert.ok(sampler instanceof ProbabilisticSampler);
    assert.equal(sampler._samplingRate, 0.001);
    const ids = await emitTraces(tracer, 'none-');
    // A marker through the same path tells when everything sent before it has arrived.
    const marker = initTracer({ serviceName: 'remote-none', sampler: { type: 'const', param: 1 },
      reporter: { agentHost: '127.0.0.1', agentPort: ports.binary, flushIntervalMs: 50 } },
    { logger: { info() {}, error() {} } });
    marker.startSpan('none-marker').finish();
    await new Promise((r) => marker.close(r));
    await waitFor(() => col.spans().some((s) => s.span.operation_name === 'none-marker'), { what: 'the marker span', timeoutMs: 15000 });
    const arrived = col.spans().filter((s) => /^none-\d+$/.test(s.span.operation_name));
    assert.equal(arrived.length, ids.length, 'what the client sampled arrived');
    assert.ok(ids.length <= 10, `0.1 % of ${TRACES} traces, got ${ids.length}`);
  });

  test('one listener serves PostSpans and GetSamplingStrategy (the jaeger receiver\'s gRPC port)', async () => {
    const { err, resp } = await getStrategy(ports.jaegerGrpc, 'grpc-svc');
    assert.equal(err, null);
    assert.deepEqual(grpcAsJson(resp), { strategyType: 'PROBABILISTIC', probabilisticSampling: { samplingRate: 1 } });
    const api = collectorApi();
    const client = new api.CollectorService(`127.0.0.1:${ports.jaegerGrpc}`, grpc.credentials.createInsecure());
    const traceId = Buffer.alloc(16, 0); traceId[15] = 7; traceId[0] = 1;
    const spanId = Buffer.alloc(8, 0); spanId[7] = 9;
    const now = new Date();
    await new Promise((resolve, reject) => client.PostSpans({
      batch: {
        process: { service_name: 'grpc-svc' },
        spans: [{ trace_id: traceId, span_id: spanId, operation_name: 'shared-listener', flags: 1,
          start_time: { seconds: Math.floor(now / 1000), nanos: 0 }, duration: { seconds: 0, nanos: 1000000 } }],
      },
    }, { deadline: Date.now() + 5000 }, (e) => { client.close(); return e ? reject(e) : resolve(); }));
    await waitFor(() => col.spans().some((s) => s.span.operation_name === 'shared-listener'), { what: 'the PostSpans span at Jaeger', timeoutMs: 15000 });
    assert.match(out, /Jaeger SamplingManager gRPC on the listener of receiver jaeger/);
  });
});

// ---------------------------------------------------------------------------------------
// Part 2: a strategies file.
// ---------------------------------------------------------------------------------------
const STRATEGIES = {
  service_strategies: [
    {
      service: 'foo', type: 'probabilistic', param: 0.8,
      operation_strategies: [
        { operation: 'op1', type: 'probabilistic', param: 0.2 },
        { operation: '/health', type: 'probabilistic', param: 0.5 }, // overrides the default's
      ],
    },
    { service: 'bar', type: 'ratelimiting', param: 5 },
    { service: 'baz', type: 'probabilistic', param: 0.25 }, // inherits the default's operations
  ],
  default_strategy: {
    type: 'probabilistic', param: 0.5,
    operation_strategies: [
      { operation: '/health', type: 'probabilistic', param: 0.0 },
      { operation: '/metrics', type: 'probabilistic', param: 0.0 },
    ],
  },
};

// What Jaeger's static strategy store answers for the file above, written out by hand.
const op = (operation, samplingRate) => ({ operation, probabilisticSampling: { samplingRate } });
const EXPECTED = {
  foo: {
    strategyType: 'PROBABILISTIC', probabilisticSampling: { samplingRate: 0.8 },
    operationSampling: {
      defaultSamplingProbability: 0.8, defaultLowerBoundTracesPerSecond: 0,
      perOperationStrategies: [op('op1', 0.2), op('/health', 0.5), op('/metrics', 0)],
    },
  },
  bar: { strategyType: 'RATE_LIMITING', rateLimitingSampling: { maxTracesPerSecond: 5 } },
  baz: {
    strategyType: 'PROBABILISTIC', probabilisticSampling: { samplingRate: 0.25 },
    operationSampling: {
      defaultSamplingProbability: 0.25, defaultLowerBoundTracesPerSecond: 0,
      perOperationStrategies: [op('/health', 0), op('/metrics', 0)],
    },
  },
  unknown: {
    strategyType: 'PROBABILISTIC', probabilisticSampling: { samplingRate: 0.5 },
    operationSampling: {
      defaultSamplingProbability: 0.5, defaultLowerBoundTracesPerSecond: 0,
      perOperationStrategies: [op('/health', 0), op('/metrics', 0)],
    },
  },
};

test.describe('strategies file', () => {
  let gw;
  let file;
  let ports;

  test.before(async () => {
    const [jgrpc, sampling, samplingGrpc, health, metrics] = await freePorts(5);
    ports = { jgrpc, sampling, samplingGrpc, health, metrics };
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tailgate-jrs-'));
    file = path.join(dir, 'strategies.json');
    fs.writeFileSync(file, JSON.stringify(STRATEGIES, null, 2));
    const config = {
      receivers: { jaeger: { protocols: { grpc: { endpoint: `127.0.0.1:${jgrpc}` } } } },
      processors: { tail_sampling: { decision_wait: '1s', policies: [{ name: 'all', type: 'always_sample' }] } },
      exporters: { debug: { verbosity: 'basic' } },
      extensions: {
        health_check: { endpoint: `127.0.0.1:${health}` },
        jaegerremotesampling: {
          source: { file, reload_interval: '200ms' },
          http: { endpoint: `127.0.0.1:${sampling}` },
          grpc: { endpoint: `127.0.0.1:${samplingGrpc}` }, // its own listener
        },
      },
      service: {
        extensions: ['health_check', 'jaegerremotesampling'],
        telemetry: { metrics: { address: `127.0.0.1:${metrics}` } },
        pipelines: { traces: { receivers: ['jaeger'], processors: ['tail_sampling'], exporters: ['debug'] } },
      },
    };
    gw = new Gateway({ config, dir, ports });
    await gw.start();
  });

  test.after(async () => {
    try {
      if (gw) await gw.stop();
    } finally {
      if (gw) { await gw.kill(); gw.cleanup(); }
    }
  });

  test('HTTP answers: /sampling and the legacy / give Jaeger\'s answer field by field', async () => {
    for (const [service, expected] of Object.entries(EXPECTED)) {
      const r = await getJson(ports.sampling, `/sampling?service=${service}`);
      assert.equal(r.status, 200);
      assert.equal(r.type, 'application/json');
      assert.deepEqual(JSON.parse(r.body), expected, service);
      const legacy = await getJson(ports.sampling, `/?service=${service}`);
      assert.equal(legacy.body, r.body, `legacy / for ${service}`);
    }
  });

  test('jaeger-client parses the answers into the samplers they describe', async () => {
    const polled = async (service) => {
      const events = { updates: [], errors: [] };
      const tracer = defaultClient(service, ports.sampling, 9, events); // nothing is reported
      await waitFor(() => events.updates.length > 0, { what: `${service}: first poll (errors: ${events.errors})` });
      const s = tracer._sampler._sampler;
      await new Promise((r) => tracer.close(r));
      assert.deepEqual(events.errors, []);
      return s;
    };
    const foo = await polled('foo');
    assert.equal(foo.name(), 'PerOperationSampler');
    assert.equal(foo._defaultSampler._samplingRate, 0.8);
    assert.equal(foo._defaultLowerBound, 0);
    assert.deepEqual(
      Object.fromEntries(Object.entries(foo._samplersByOperation).map(([k, v]) => [k, v._probabilisticSampler._samplingRate])),
      { op1: 0.2, '/health': 0.5, '/metrics': 0 });
    const bar = await polled('bar');
    assert.ok(bar instanceof RateLimitingSampler, `${bar}`);
    assert.equal(bar._maxTracesPerSecond, 5);
    const baz = await polled('baz');
    assert.equal(baz.name(), 'PerOperationSampler');
    assert.equal(baz._defaultSampler._samplingRate, 0.25);
    assert.deepEqual(Object.keys(baz._samplersByOperation).sort(), ['/health', '/metrics']);
  });

  test('@opentelemetry/sampler-jaeger-remote gets the same strategy', async () => {
    // The sampler starts a polling interval in its constructor and offers no way to stop
    // it; capture the handle so the test can clear it.
    const realSetInterval = global.setInterval;
    let handle;
    global.setInterval = (...a) => (handle = realSetInterval(...a));
    let sampler;
    try {
      sampler = new JaegerRemoteSampler({ endpoint: `http://127.0.0.1:${ports.sampling}`, serviceName: 'foo',
        poolingInterval: 60000, initialSampler: new AlwaysOffSampler() });
    } finally {
      global.setInterval = realSetInterval;
      if (handle) clearInterval(handle);
    }
    await sampler.getAndUpdateSampler();
    const perOp = sampler._sampler._root;
    assert.equal(perOp.constructor.name, 'PerOperationSampler');
    assert.equal(perOp._defaultSampler._ratio, 0.8);
    assert.deepEqual(Object.fromEntries([...perOp._perOperationSampler].map(([k, v]) => [k, v._ratio])),
      { op1: 0.2, '/health': 0.5, '/metrics': 0 });
  });

  test('gRPC GetSamplingStrategy gives the same strategies', async () => {
    for (const [service, expected] of Object.entries(EXPECTED)) {
      const { err, resp } = await getStrategy(ports.samplingGrpc, service);
      assert.equal(err, null, service);
      assert.deepEqual(grpcAsJson(resp), expected, service);
    }
  });

  test('the warning about lowered head sampling is logged once at start', () => {
    const warnings = gw.logRecords().filter((r) => /lowers head sampling/.test(r.message));
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0].level, 'warn');
  });

  test('bad requests get 400/404/405 and are counted; the extension keeps serving', async () => {
    const long = 'x'.repeat(300);
    const before = metricValue(await metricsText(ports.metrics), 'tailgate_extension_jaegerremotesampling_bad_requests_total', { transport: 'http' });
    const cases = [
      ['/sampling', 400], ['/sampling?service=', 400], ['/sampling?service', 400],
      ['/sampling?service=a&service=b', 400], [`/sampling?service=${long}`, 400],
      ['/sampling?service=%zz', 400], ['/sampling?service=%ff', 400],
      ['/', 400], ['/nope?service=foo', 404], ['/sampling/x?service=foo', 404],
    ];
    for (const [p, status] of cases) assert.equal((await httpGet(ports.sampling, p)).status, status, p);
    assert.equal(await request(ports.sampling, 'POST', '/sampling?service=foo'), 405);
    const after = metricValue(await metricsText(ports.metrics), 'tailgate_extension_jaegerremotesampling_bad_requests_total', { transport: 'http' });
    assert.equal(after - before, 8); // every 400 (404 and 405 are the router's)
    const empty = await getStrategy(ports.samplingGrpc, '');
    assert.equal(empty.err && empty.err.code, grpc.status.INVALID_ARGUMENT);
    const longGrpc = await getStrategy(ports.samplingGrpc, long);
    assert.equal(longGrpc.err && longGrpc.err.code, grpc.status.INVALID_ARGUMENT);
    const ok = await getJson(ports.sampling, '/sampling?service=foo%20bar');
    assert.equal(ok.status, 200);
    assert.deepEqual(JSON.parse(ok.body), EXPECTED.unknown);
  });

  test('requests are counted by service and transport', async () => {
    const m = await metricsText(ports.metrics);
    const foo = metricValue(m, 'tailgate_extension_jaegerremotesampling_requests_total', { service: 'foo', transport: 'http' });
    const fooGrpc = metricValue(m, 'tailgate_extension_jaegerremotesampling_requests_total', { service: 'foo', transport: 'grpc' });
    assert.ok(foo >= 3, `foo over http: ${foo}`);
    assert.ok(fooGrpc >= 1, `foo over grpc: ${fooGrpc}`);
  });

  test('reload: a changed file is served at the next poll; a broken one keeps the old, logged once and counted', async () => {
    const changed = { default_strategy: { type: 'probabilistic', param: 1 },
      service_strategies: [{ service: 'foo', type: 'probabilistic', param: 0.3 }] };
    replaceFile(file, JSON.stringify(changed));
    const want = { strategyType: 'PROBABILISTIC', probabilisticSampling: { samplingRate: 0.3 } };
    await waitFor(async () => JSON.stringify(JSON.parse((await getJson(ports.sampling, '/sampling?service=foo')).body)) === JSON.stringify(want),
      { what: 'the changed strategy' });
    assert.deepEqual(grpcAsJson((await getStrategy(ports.samplingGrpc, 'foo')).resp), want);
    assert.deepEqual(JSON.parse((await getJson(ports.sampling, '/sampling?service=bar')).body),
      { strategyType: 'PROBABILISTIC', probabilisticSampling: { samplingRate: 1 } });
    const failuresBefore = metricValue(await metricsText(ports.metrics), 'tailgate_extension_jaegerremotesampling_reload_failures_total');
    assert.equal(failuresBefore, 0);
    const broken = '{"service_strategies": [{"service": "foo", "type": "probabilistic", "param": 7}]}';
    replaceFile(file, broken);
    await waitFor(async () => metricValue(await metricsText(ports.metrics), 'tailgate_extension_jaegerremotesampling_reload_failures_total') >= 3,
      { what: 'three failed reloads' });
    assert.deepEqual(JSON.parse((await getJson(ports.sampling, '/sampling?service=foo')).body), want, 'the last good strategies stay');
    const logged = gw.logRecords().filter((r) => /not reloaded/.test(r.message));
    assert.equal(logged.length, 1, 'logged once for the failing streak');
    assert.equal(logged[0].level, 'error');
    assert.ok(logged[0].message.includes(`${file}:1:${broken.indexOf('7') + 1}: service_strategies[0]: param: a probability must be within [0, 1]`),
      logged[0].message);
    assert.ok(metricValue(await metricsText(ports.metrics), 'tailgate_extension_jaegerremotesampling_reloads_total') >= 1);
  });

  test('tailgate validate reports a broken strategies file at its file:line:col', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tailgate-jrs-validate-'));
    try {
      const bad = path.join(dir, 'bad.json');
      const line4 = '    {"service": "a", "type": "sometimes", "param": 1}';
      fs.writeFileSync(bad, `{\n  "default_strategy": {"type": "probabilistic", "param": 0.5},\n  "service_strategies": [\n${line4}\n  ]\n}\n`);
      const cfg = path.join(dir, 'c.yaml');
      fs.writeFileSync(cfg, `receivers:\n  jaeger:\n    protocols:\n      grpc:\nexporters:\n  debug:\nextensions:\n  jaegerremotesampling:\n    source:\n      file: ${bad}\nservice:\n  extensions: [jaegerremotesampling]\n  pipelines:\n    traces: {receivers: [jaeger], exporters: [debug]}\n`);
      const r = spawnSync(BIN, ['validate', cfg], { encoding: 'utf8', timeout: 5000 });
      assert.notEqual(r.status, 0);
      assert.ok((r.stdout + r.stderr).includes(`${bad}:4:${line4.indexOf('"sometimes"') + 1}: service_strategies[0]: type: expected "probabilistic" or "ratelimiting"`),
        r.stdout + r.stderr);
      const trailingComma = '{"default_strategy": {"type": "probabilistic", "param": 0.5},}';
      fs.writeFileSync(bad, trailingComma);
      const r2 = spawnSync(BIN, ['validate', cfg], { encoding: 'utf8', timeout: 5000 });
      assert.notEqual(r2.status, 0);
      assert.ok((r2.stdout + r2.stderr).includes(`${bad}:1:${trailingComma.length}: invalid JSON: expected a string key in object`),
        r2.stdout + r2.stderr);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
