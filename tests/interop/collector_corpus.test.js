'use strict';
// The Collector compatibility corpus (tests/data/collector/*.yaml): each configuration,
// written in the shape of the Collector's docs and testdata, must validate and start
// unchanged, with its listeners moved by ${env:VAR:-default} substitution to free
// loopback ports; spans sent through it must arrive at an OTLP backend (a grpc-js sink)
// exactly as the configured processors say — the expected set is computed here from the
// inputs (sampling thresholds, OTTL conditions, attribute actions), never read back.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const http = require('node:http');
const crypto = require('node:crypto');
const { spawn, spawnSync } = require('node:child_process');
const { BIN, httpGet, waitFor } = require('./lib/gateway');
const { freePorts } = require('./lib/ports');
const { startSink } = require('./lib/sink');
const { ExportTraceServiceRequest } = require('./lib/otlp');

const CORPUS = path.resolve(__dirname, '..', 'data', 'collector');

// ---- running one corpus file ------------------------------------------------------
async function corpusEnv(sink, extra = {}) {
  const [grpc, httpPort, health, metrics, prom] = await freePorts(5);
  const ports = { grpc, http: httpPort, health, metrics, prom };
  const env = {
    ...process.env,
    OTLP_GRPC_ENDPOINT: `127.0.0.1:${grpc}`,
    OTLP_HTTP_ENDPOINT: `127.0.0.1:${httpPort}`,
    HEALTH_CHECK_ENDPOINT: `127.0.0.1:${health}`,
    TELEMETRY_METRICS_ADDRESS: `127.0.0.1:${metrics}`,
    PROMETHEUS_ENDPOINT: `127.0.0.1:${prom}`,
    BACKEND_OTLP_ENDPOINT: `127.0.0.1:${sink.grpcPort}`,
    ...extra,
  };
  return { ports, env };
}

function validate(file, env) {
  const r = spawnSync(BIN, ['validate', path.join(CORPUS, file)], { env, encoding: 'utf8', timeout: 10000 });
  assert.equal(r.status, 0, `tailgate validate ${file}:\n${r.stdout}${r.stderr}`);
  assert.match(r.stdout + r.stderr, /configuration is valid/);
}

async function start(file, env, ports) {
  const proc = spawn(BIN, ['--config', path.join(CORPUS, file)], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const run = { proc, out: '', exit: null };
  proc.stdout.on('data', (c) => { run.out += c; });
  proc.stderr.on('data', (c) => { run.out += c; });
  run.exited = new Promise((resolve) => proc.on('exit', (code, signal) => { run.exit = { code, signal }; resolve(run.exit); }));
  await waitFor(async () => {
    if (run.exit) throw Object.assign(new Error(`${file}: tailgate exited: ${JSON.stringify(run.exit)}\n${run.out.slice(-3000)}`), { fatal: true });
    return (await httpGet(ports.health, '/health/ready', 500)).status === 200;
  }, { timeoutMs: 10000, what: `${file} ready` });
  return run;
}

async function stop(run) {
  if (!run.exit) process.kill(run.proc.pid, 'SIGTERM');
  let timer;
  const done = await Promise.race([run.exited, new Promise((r) => { timer = setTimeout(() => r(null), 15000); })]);
  clearTimeout(timer);
  if (!done) {
    process.kill(run.proc.pid, 'SIGKILL');
    await run.exited;
    assert.fail(`tailgate did not stop within 15 s of SIGTERM\n${run.out.slice(-3000)}`);
  }
  assert.equal(done.code, 0, `exit after SIGTERM: ${JSON.stringify(done)}\n${run.out.slice(-3000)}`);
}

// ---- building and sending OTLP -------------------------------------------------------
const str = (key, v) => ({ key, value: { stringValue: v } });
const int = (key, v) => ({ key, value: { intValue: v } });

let spanSeq = 1;
function span({ traceId, name, kind = 2, status = 0, attrs = [], events = [], durMs = 5 }) {
  const start = BigInt(Date.now() - 1000) * 1000000n;
  const sid = Buffer.alloc(8);
  sid.writeUInt32BE(spanSeq++, 4);
  return {
    traceId, spanId: sid, name, kind,
    startTimeUnixNano: start.toString(), endTimeUnixNano: (start + BigInt(durMs) * 1000000n).toString(),
    attributes: attrs, status: { code: status },
    events: events.map((e) => ({ timeUnixNano: start.toString(), name: e.name, attributes: e.attrs || [] })),
  };
}

// A trace ID whose randomness (bytes 9..15, W3C level 2) is given as 14 hex digits.
function traceId(prefixByte, r56hex) {
  return Buffer.concat([Buffer.alloc(9, prefixByte), Buffer.from(r56hex, 'hex')]);
}

function request(resourceSpans) {
  return Buffer.from(ExportTraceServiceRequest.encode(ExportTraceServiceRequest.create({
    resourceSpans: resourceSpans.map(({ resource, spans }) => ({
      resource: { attributes: resource },
      scopeSpans: [{ scope: { name: 'corpus-test' }, spans }],
    })),
  })).finish());
}

function post(port, body) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/v1/traces', method: 'POST', agent: false,
      headers: { 'content-type': 'application/x-protobuf', 'content-length': body.length } }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`POST /v1/traces: ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end(body);
  });
}

// Every span the sink received, with its resource attributes flattened.
function received(sink) {
  const out = [];
  for (const r of sink.requests) {
    for (const rs of r.msg.resourceSpans || []) {
      const res = Object.fromEntries((rs.resource?.attributes || []).map((a) => [a.key, a.value.stringValue ?? a.value.intValue]));
      for (const ss of rs.scopeSpans || []) {
        for (const s of ss.spans || []) {
          out.push({
            traceId: Buffer.from(s.traceId).toString('hex'), name: s.name, traceState: s.traceState || '',
            attrs: Object.fromEntries((s.attributes || []).map((a) => [a.key, a.value.stringValue ?? a.value.intValue])),
            events: (s.events || []).map((e) => e.name), res,
          });
        }
      }
    }
  }
  return out;
}

async function withCorpus(file, extraEnv, body) {
  const sink = await startSink({ http: false });
  let run;
  try {
    const { ports, env } = await corpusEnv(sink, extraEnv);
    validate(file, env);
    run = await start(file, env, ports);
    await body({ ports, sink, run });
    await stop(run);
  } finally {
    if (run && !run.exit) { process.kill(run.proc.pid, 'SIGKILL'); await run.exited; }
    await sink.close();
  }
  return sink;
}

test('every corpus file validates unchanged with the Collector default ports', () => {
  const files = fs.readdirSync(CORPUS).filter((f) => f.endsWith('.yaml'));
  assert.deepEqual(files.sort(), ['agent.yaml', 'gateway.yaml', 'health_filter.yaml', 'jaeger_spm.yaml', 'tail_sampling_gateway.yaml']);
  const env = { ...process.env };
  for (const k of ['OTLP_GRPC_ENDPOINT', 'OTLP_HTTP_ENDPOINT', 'HEALTH_CHECK_ENDPOINT', 'TELEMETRY_METRICS_ADDRESS',
    'BACKEND_OTLP_ENDPOINT', 'PROMETHEUS_ENDPOINT']) delete env[k];
  for (const f of files) validate(f, env);
});

test('agent.yaml: resourcedetection (env, system, override false) and head sampling at 50 %', async () => {
  // 50 %: threshold 0x80000000000000; R >= T keeps. Kept spans carry ot=th:8.
  const ids = [
    ['80000000000000', true], ['ffffffffffffff', true], ['c0ffee00000000', true], ['80000000000001', true],
    ['7fffffffffffff', false], ['00000000000000', false], ['12345678abcdef', false], ['40000000000000', false],
  ].map(([r, keep], i) => ({ id: traceId(0x10 + i, r), keep }));
  const sink = await withCorpus('agent.yaml', { OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=ci,service.name=from-env' }, async ({ ports, sink }) => {
    await post(ports.http, request([{ resource: [str('service.name', 'agent-svc')],
      spans: ids.map(({ id }, i) => span({ traceId: id, name: `op-${i}` })) }]));
    await sink.waitForSpans(4, 10000);
  });
  const got = received(sink);
  assert.deepEqual(new Set(got.map((s) => s.traceId)), new Set(ids.filter((x) => x.keep).map((x) => x.id.toString('hex'))));
  assert.equal(got.length, 4);
  for (const s of got) {
    assert.equal(s.traceState, 'ot=th:8');
    assert.equal(s.res['service.name'], 'agent-svc'); // override: false keeps the SDK's value
    assert.equal(s.res['deployment.environment'], 'ci');
    assert.equal(s.res['host.name'], os.hostname());
    assert.equal(s.res['os.type'], 'linux');
  }
});

test('gateway.yaml: resource and attributes actions, OTLP export', async () => {
  const id = traceId(0x21, '01020304050607');
  const sink = await withCorpus('gateway.yaml', {}, async ({ ports, sink }) => {
    await post(ports.http, request([{
      resource: [str('service.name', 'shop'), str('telemetry.sdk.version', '1.2.3'), str('host.ip', '10.0.0.7')],
      spans: [span({ traceId: id, name: 'GET /cart', attrs: [str('http.request.header.authorization', 'Bearer x'), int('n', 1)] })],
    }]));
    await sink.waitForSpans(1, 10000);
  });
  const [s, extra] = received(sink);
  assert.equal(extra, undefined);
  assert.deepEqual(s.res, {
    'service.name': 'shop',
    'host.ip': crypto.createHash('sha256').update('10.0.0.7').digest('hex'),
    'deployment.environment': 'production',
  });
  assert.equal(s.attrs.tier, 'gateway');
  assert.equal(s.attrs['http.request.header.authorization'], undefined);
});

test('tail_sampling_gateway.yaml: errors and slow traces kept, the rest dropped', async () => {
  const err = traceId(0x31, 'aaaaaaaaaaaaaa');
  const slow = traceId(0x32, 'bbbbbbbbbbbbbb');
  const ok = traceId(0x33, 'cccccccccccccc');
  const sink = await withCorpus('tail_sampling_gateway.yaml', { DECISION_WAIT: '1s' }, async ({ ports, sink }) => {
    await post(ports.http, request([{ resource: [str('service.name', 'ts')], spans: [
      span({ traceId: err, name: 'a' }), span({ traceId: err, name: 'b', status: 2 }),
      span({ traceId: slow, name: 'slow', durMs: 1500 }),
      span({ traceId: ok, name: 'fast' }), span({ traceId: ok, name: 'fast-child' }),
    ] }]));
    await sink.waitForSpans(3, 10000);
  });
  const got = received(sink);
  assert.deepEqual(got.map((s) => `${s.traceId}:${s.name}`).sort(),
    [`${err.toString('hex')}:a`, `${err.toString('hex')}:b`, `${slow.toString('hex')}:slow`].sort());
});

test('jaeger_spm.yaml: RED series on the Prometheus endpoint, traces on to OTLP', async () => {
  const id = traceId(0x41, '11111111111111');
  const sink = await withCorpus('jaeger_spm.yaml', {}, async ({ ports, sink }) => {
    await post(ports.http, request([{ resource: [str('service.name', 'spm-svc')], spans: [
      span({ traceId: id, name: 'GET /a', attrs: [str('http.method', 'GET'), int('http.status_code', 200)] }),
      span({ traceId: id, name: 'GET /a', attrs: [str('http.method', 'GET'), int('http.status_code', 200)] }),
      span({ traceId: id, name: 'POST /b', kind: 3, status: 2, attrs: [int('http.status_code', 500)] }),
    ] }]));
    await sink.waitForSpans(3, 10000);
    // calls per (span_name, status) exactly as sent: GET /a twice, POST /b once (method defaulted)
    await waitFor(async () => {
      const r = await httpGet(ports.prom, '/metrics', 1000);
      const text = r.body.toString();
      const calls = (name) => text.split('\n').filter((l) => l.startsWith('traces_span_metrics_calls_total{') &&
        l.includes('service_name="spm-svc"') && l.includes(`span_name="${name}"`));
      const a = calls('GET /a'), b = calls('POST /b');
      return a.length === 1 && / 2$/.test(a[0]) && a[0].includes('http_method="GET"') && a[0].includes('http_status_code="200"') &&
        b.length === 1 && / 1$/.test(b[0]) && b[0].includes('http_method="GET"') && b[0].includes('status_code="STATUS_CODE_ERROR"');
    }, { timeoutMs: 10000, what: 'RED series for spm-svc' });
  });
  assert.equal(received(sink).length, 3);
});

test('health_filter.yaml: health checks and noisy spans dropped by OTTL conditions', async () => {
  const id = traceId(0x51, '22222222222222');
  const sink = await withCorpus('health_filter.yaml', {}, async ({ ports, sink }) => {
    await post(ports.http, request([
      { resource: [str('service.name', 'web')], spans: [
        span({ traceId: id, name: 'GET /health', attrs: [str('http.route', '/health')] }),
        span({ traceId: id, name: 'GET', attrs: [str('url.path', '/readyz')] }),
        span({ traceId: id, name: 'GET', attrs: [str('url.path', '/readyz/deep')] }),
        span({ traceId: id, name: 'GET /metrics', attrs: [int('http.response.status_code', 200)] }),
        span({ traceId: id, name: 'GET /metrics', attrs: [int('http.response.status_code', 503)] }),
        span({ traceId: id, name: 'POST /order', events: [
          { name: 'cache-miss', attrs: [str('log.severity', 'DEBUG')] }, { name: 'exception', attrs: [str('log.severity', 'ERROR')] }] }),
        span({ traceId: id, name: 'tick', kind: 1 }),
      ] },
      { resource: [str('service.name', 'noisy-worker')], spans: [
        span({ traceId: id, name: 'poll', kind: 1 }),
        span({ traceId: id, name: 'process', kind: 5 }),
      ] },
    ]));
    await sink.waitForSpans(5, 10000);
  });
  const got = received(sink).map((s) => `${s.res['service.name']}:${s.name}:${s.attrs['url.path'] || s.attrs['http.response.status_code'] || ''}:${s.events.join('|')}`);
  assert.deepEqual(got.sort(), [
    'noisy-worker:process::',
    'web:GET /metrics:503:',
    'web:GET:/readyz/deep:',
    'web:POST /order::exception',
    'web:tick::',
  ].sort());
});
