'use strict';
// Redaction, black box: spans carrying user ids (under every default key, as strings and
// ints, in resource, span, event and link attributes) and e-mail addresses in free text
// are sent by the real OpenTelemetry JS SDK through tailgate's default processors. Then
// everything tailgate emitted is scanned for the raw values and for the key: the spans the
// OTLP sink received (raw protobuf bytes), the debug exporter's detailed output, the JSON
// logs, and whatever GET /metrics answers on every port it listens on.
//
// The oracle for pseudonyms is node's own crypto: "k1:" + base64url of the first 16 bytes
// of HMAC-SHA256(key, value) — independent of tailgate's OpenSSL code. Two processes with
// the same key must agree; a process with another key must not.
const { describe, test } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn, spawnSync } = require('node:child_process');
const { trace, context, SpanStatusCode } = require('@opentelemetry/api');
const { NodeTracerProvider } = require('@opentelemetry/sdk-trace-node');
const { BatchSpanProcessor } = require('@opentelemetry/sdk-trace-base');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-grpc');
const { startSink } = require('./lib/sink');
const { BIN, httpGet, waitFor } = require('./lib/gateway');
const { freePorts } = require('./lib/ports');
const { defaultListenerEnv } = require('./lib/default_env');

const KEY = 'interop-test-pseudonym-key-0123456789abcdef';
const OTHER_KEY = 'another-interop-pseudonym-key-9876543210fedcba';

// The personal values; none may appear anywhere tailgate writes.
const RAW = {
  user: 'alice-7781-raw',
  enduser: 'bob-4410-raw',
  userDotId: 'erin-0042-raw',
  usrInt: 987654321012,
  resourceUser: 'frank-5150-raw',
  eventUser: 'grace-3303-raw',
  linkUser: 'heidi-6060-raw',
  emails: ['carol.smith@example.org', 'dave@mail.example.net', 'ivan+spans@example.com', 'judy@example.co.uk'],
};
const RAW_STRINGS = [RAW.user, RAW.enduser, RAW.userDotId, String(RAW.usrInt), RAW.resourceUser,
  RAW.eventUser, RAW.linkUser, ...RAW.emails];

function pseudonym(key, value) {
  return `k1:${crypto.createHmac('sha256', key).update(String(value)).digest().subarray(0, 16).toString('base64url')}`;
}

// ---- the default's processors, verbatim ---------------------------------------------
// The embedded default (tailgate print-default-config) exports to the debug exporter; to
// also see what leaves over OTLP, the test runs its `processors:` section and its traces
// pipeline's processor list unchanged, with an OTLP exporter added.
function defaultProcessors() {
  const r = spawnSync(BIN, ['print-default-config'], { encoding: 'utf8', timeout: 5000 });
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.split('\n');
  const start = lines.indexOf('processors:');
  assert.ok(start >= 0, 'the default has a processors: section');
  let end = start + 1;
  while (end < lines.length && /^\s/.test(lines[end])) end++;
  const section = lines.slice(start, end).join('\n');
  const tracesAt = lines.findIndex((l) => /^ {4}traces:$/.test(l));
  const list = lines.slice(tracesAt).find((l) => /^ {6}processors: \[.*\]$/.test(l));
  assert.ok(list, 'the default traces pipeline lists processors');
  const names = list.replace(/^ {6}processors: /, '');
  assert.match(names, /^\[redaction[,\]]/, 'redaction is the first processor of the default pipeline');
  return { section, names };
}

function derivedConfig(ports, sinkPort) {
  const { section, names } = defaultProcessors();
  return `receivers:
  otlp:
    protocols:
      grpc: {endpoint: "127.0.0.1:${ports.grpc}"}
      http: {endpoint: "127.0.0.1:${ports.http}"}
${section}
exporters:
  otlp/sink: {endpoint: "127.0.0.1:${sinkPort}", tls: {insecure: true}, compression: none}
  debug: {verbosity: detailed}
  prometheus: {endpoint: "127.0.0.1:${ports.prom}"}
extensions:
  health_check: {endpoint: "127.0.0.1:${ports.health}"}
service:
  extensions: [health_check]
  telemetry: {logs: {level: debug}, metrics: {address: "127.0.0.1:${ports.metrics}"}}
  pipelines:
    traces:
      receivers: [otlp]
      processors: ${names}
      exporters: [otlp/sink, debug]
    metrics:
      exporters: [prometheus]
`;
}

// ---- a tailgate process: config text or the embedded default, env, stop by PID ------
async function launch({ configText, env }) {
  const { ports: p, env: listenerEnv } = await defaultListenerEnv();
  const ports = { grpc: p.otlpGrpc, http: p.otlpHttp, health: p.health, metrics: p.metrics, prom: p.prometheus };
  const { health } = ports;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tailgate-redaction-'));
  const args = [];
  const text = typeof configText === 'function' ? configText(ports) : null;
  if (text !== null) {
    fs.writeFileSync(path.join(dir, 'tailgate.yaml'), text);
    args.push('--config', path.join(dir, 'tailgate.yaml'));
  }
  const childEnv = { ...listenerEnv, TAILGATE_PSEUDONYM_KEY: undefined,
    // the default tail-samples: keep every trace, decide soon (this test is about redaction)
    TAILGATE_SAMPLING_PERCENTAGE: '100', TAILGATE_DECISION_WAIT: '200ms',
    TAILGATE_LOG_LEVEL: 'debug', ...env };
  for (const k of Object.keys(childEnv)) if (childEnv[k] === undefined) delete childEnv[k];
  const proc = spawn(BIN, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], env: childEnv });
  const gw = { proc, pid: proc.pid, ports, dir, stdout: '', stderr: '', exit: null };
  proc.stdout.on('data', (c) => { gw.stdout += c; });
  proc.stderr.on('data', (c) => { gw.stderr += c; });
  gw.exited = new Promise((resolve) => proc.on('exit', (code, signal) => { gw.exit = { code, signal }; resolve(gw.exit); }));
  gw.stop = async () => {
    if (!gw.exit) process.kill(gw.pid, 'SIGTERM');
    await waitFor(() => gw.exit, { timeoutMs: 10000, what: `tailgate pid ${gw.pid} to exit after SIGTERM` });
    assert.equal(gw.exit.code, 0, `tailgate exit status\n${gw.stdout}\n${gw.stderr}`);
  };
  gw.kill = async () => {
    if (!gw.exit) { process.kill(gw.pid, 'SIGKILL'); await gw.exited; }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(async () => {
      if (gw.exit) throw Object.assign(new Error(`tailgate exited: ${gw.stdout}${gw.stderr}`), { fatal: true });
      return (await httpGet(health, '/health/ready', 500)).status === 200;
    }, { timeoutMs: 10000, what: 'tailgate /health/ready' });
  } catch (e) {
    await gw.kill();
    throw e;
  }
  return gw;
}

// ---- the spans: real SDK, OTLP/gRPC ---------------------------------------------------
async function emit(grpcPort, count) {
  const exporter = new OTLPTraceExporter({ url: `http://127.0.0.1:${grpcPort}`, compression: 'none' });
  const results = [];
  const recording = {
    export(spans, cb) { exporter.export(spans, (r) => { results.push(r); cb(r); }); },
    shutdown: () => exporter.shutdown(),
    forceFlush: () => exporter.forceFlush(),
  };
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'redaction-interop', 'user.id': RAW.resourceUser }),
    spanProcessors: [new BatchSpanProcessor(recording, { maxExportBatchSize: 16, scheduledDelayMillis: 50 })],
  });
  const tracer = provider.getTracer('redaction-interop', '1.0.0');
  const linked = tracer.startSpan('linked-op');
  linked.end();
  for (let i = 0; i < count; i++) {
    const email = RAW.emails[i % RAW.emails.length];
    const span = tracer.startSpan(`notify ${email}`, {
      attributes: {
        user_id: RAW.user,
        'enduser.id': RAW.enduser,
        'user.id': [RAW.userDotId, RAW.user],
        'usr.id': RAW.usrInt,
        message: `please contact ${email} about order ${i}`,
        'http.route': '/api/orders/{id}',
      },
      links: [{ context: linked.spanContext(), attributes: { user_id: RAW.linkUser } }],
    }, context.active());
    span.addEvent(`mail sent to ${email}`, { user_id: RAW.eventUser, 'mail.to': email });
    span.setStatus({ code: SpanStatusCode.ERROR, message: `bounce from ${email}` });
    span.end();
  }
  await provider.forceFlush();
  await provider.shutdown();
  const failed = results.filter((r) => r.code !== 0);
  assert.deepEqual(failed.map((r) => String(r.error)), [], 'every SDK export succeeded');
  return count + 1;
}

const attrs = (list) => Object.fromEntries((list || []).map((kv) => [kv.key, kv.value]));

function spansOf(sink) {
  const out = [];
  for (const req of sink.requests) {
    for (const rs of req.msg.resourceSpans || []) {
      for (const ss of rs.scopeSpans || []) for (const s of ss.spans || []) out.push({ resource: rs.resource, span: s });
    }
  }
  return out;
}

// Every place tailgate wrote something, as {where: text or Buffer}.
async function everythingEmitted(gw, sink) {
  const out = { stdout: gw.stdout, stderr: gw.stderr };
  if (sink) sink.requests.forEach((r, i) => { out[`sink request ${i} (raw protobuf)`] = r.raw; });
  for (const [name, port] of Object.entries(gw.ports)) {
    for (const p of ['/metrics', '/health/ready', '/']) {
      try {
        const r = await httpGet(port, p, 2000);
        out[`GET ${p} on the ${name} port`] = r.body;
      } catch (e) {
        out[`GET ${p} on the ${name} port`] = ''; // gRPC-only ports may not speak HTTP/1.1
      }
    }
  }
  return out;
}

function assertNothingRaw(emitted, secrets) {
  const leaks = [];
  for (const [where, body] of Object.entries(emitted)) {
    const buf = Buffer.isBuffer(body) ? body : Buffer.from(String(body));
    for (const s of secrets) if (buf.includes(Buffer.from(s))) leaks.push(`${JSON.stringify(s)} in ${where}`);
  }
  assert.deepEqual(leaks, [], 'no raw personal value and no key in anything tailgate emitted');
}

function redactionsCounted(metricsText) {
  const m = metricsText.match(/^tailgate_processor_redactions_total\{processor="redaction",action="pseudonymize"\} (\d+)$/m);
  return m ? Number(m[1]) : 0;
}

describe('redaction through the default processors', () => {
  test('SDK spans with user ids and e-mails: no raw value in spans, debug output, logs or /metrics', async () => {
    const sink = await startSink({ http: false });
    let gw;
    try {
      gw = await launch({ configText: (ports) => derivedConfig(ports, sink.grpcPort), env: { TAILGATE_PSEUDONYM_KEY: KEY } });
      const n = await emit(gw.ports.grpc, 12);
      await sink.waitForSpans(n, 10000);
      await waitFor(() => gw.stdout.split('\n').filter((l) => l.includes('"exporter":"debug"')).length >= n,
        { timeoutMs: 5000, what: 'the debug exporter to print every span' });

      const spans = spansOf(sink).filter((s) => s.span.name !== 'linked-op');
      assert.equal(spans.length, n - 1);
      for (const { resource, span } of spans) {
        const a = attrs(span.attributes);
        assert.equal(a.user_id.stringValue, pseudonym(KEY, RAW.user));
        assert.equal(a['enduser.id'].stringValue, pseudonym(KEY, RAW.enduser));
        assert.deepEqual(a['user.id'].arrayValue.values.map((v) => v.stringValue),
          [pseudonym(KEY, RAW.userDotId), pseudonym(KEY, RAW.user)], 'arrays: every element, same user same pseudonym');
        assert.equal(a['usr.id'].stringValue, pseudonym(KEY, RAW.usrInt), 'an int id is pseudonymised by its decimal text');
        assert.match(a.message.stringValue, /^please contact \*\*\*\* about order \d+$/);
        assert.equal(a['http.route'].stringValue, '/api/orders/{id}', 'other attributes untouched');
        assert.equal(span.name, 'notify ****');
        assert.equal(span.status.message, 'bounce from ****');
        assert.equal(span.events[0].name, 'mail sent to ****');
        assert.equal(attrs(span.events[0].attributes).user_id.stringValue, pseudonym(KEY, RAW.eventUser));
        assert.equal(attrs(span.events[0].attributes)['mail.to'].stringValue, '****');
        assert.equal(attrs(span.links[0].attributes).user_id.stringValue, pseudonym(KEY, RAW.linkUser));
        assert.equal(attrs(resource.attributes)['user.id'].stringValue, pseudonym(KEY, RAW.resourceUser));
        assert.equal(attrs(resource.attributes)['service.name'].stringValue, 'redaction-interop');
      }
      // the debug exporter printed attribute values: the pseudonym is there, not the raw one
      assert.ok(gw.stdout.includes(pseudonym(KEY, RAW.user)), 'the detailed debug output shows the pseudonym');
      const metrics = (await httpGet(gw.ports.metrics, '/metrics')).body.toString();
      assert.ok(redactionsCounted(metrics) >= 6 * (n - 1), `redactions counted by action\n${metrics}`);
      await gw.stop();
      const emitted = { stdout: gw.stdout, stderr: gw.stderr };
      sink.requests.forEach((r, i) => { emitted[`sink request ${i}`] = r.raw; });
      emitted['/metrics (before stop)'] = metrics;
      assertNothingRaw(emitted, [...RAW_STRINGS, KEY]);
    } catch (e) {
      if (gw) e.message += `\n--- stdout ---\n${gw.stdout.slice(-3000)}\n--- stderr ---\n${gw.stderr.slice(-2000)}`;
      throw e;
    } finally {
      if (gw) await gw.kill();
      await sink.close();
    }
  });

  test('every port, while running: no raw value in any answer', async () => {
    const sink = await startSink({ http: false });
    let gw;
    try {
      gw = await launch({ configText: (ports) => derivedConfig(ports, sink.grpcPort), env: { TAILGATE_PSEUDONYM_KEY: KEY } });
      const n = await emit(gw.ports.grpc, 4);
      await sink.waitForSpans(n, 10000);
      const emitted = await everythingEmitted(gw, sink);
      assert.ok(String(emitted['GET /metrics on the metrics port']).includes('tailgate_processor_redactions_total'));
      assertNothingRaw(emitted, [...RAW_STRINGS, KEY]);
      await gw.stop();
    } finally {
      if (gw) await gw.kill();
      await sink.close();
    }
  });

  test('the embedded default itself (no config file): redaction runs, nothing raw in its output', async () => {
    let gw;
    try {
      gw = await launch({ env: { TAILGATE_PSEUDONYM_KEY: KEY } });
      const n = await emit(gw.ports.grpc, 6);
      const metricsPath = async () => (await httpGet(gw.ports.metrics, '/metrics')).body.toString();
      await waitFor(async () => redactionsCounted(await metricsPath()) >= 6 * (n - 1),
        { timeoutMs: 5000, what: 'the default pipeline to count its pseudonymisations' });
      const emitted = await everythingEmitted(gw, null);
      await gw.stop();
      emitted.stdout = gw.stdout;
      emitted.stderr = gw.stderr;
      assert.ok(!/random key/.test(gw.stdout), 'a configured key: no random-key warning');
      assertNothingRaw(emitted, [...RAW_STRINGS, KEY]);
    } finally {
      if (gw) await gw.kill();
    }
  });

  test('no key configured: a warning, and pseudonyms still replace the values', async () => {
    const sink = await startSink({ http: false });
    let gw;
    try {
      gw = await launch({ configText: (ports) => derivedConfig(ports, sink.grpcPort), env: {} });
      const warn = gw.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l))
        .find((r) => r.level === 'warn' && /random key/.test(r.message));
      assert.ok(warn, `a warning about the random key\n${gw.stdout}`);
      assert.match(warn.message, /TAILGATE_PSEUDONYM_KEY/);
      assert.match(warn.message, /not be stable across restarts/);
      const n = await emit(gw.ports.grpc, 2);
      await sink.waitForSpans(n, 10000);
      const s = spansOf(sink).find((x) => x.span.name !== 'linked-op');
      const p = attrs(s.span.attributes).user_id.stringValue;
      assert.match(p, /^k1:[A-Za-z0-9_-]{22}$/);
      assert.notEqual(p, pseudonym(KEY, RAW.user));
      await gw.stop();
    } finally {
      if (gw) await gw.kill();
      await sink.close();
    }
  });

  test('two processes with the same key agree; another key does not', async () => {
    const run = async (key) => {
      const sink = await startSink({ http: false });
      let gw;
      try {
        gw = await launch({ configText: (ports) => derivedConfig(ports, sink.grpcPort), env: { TAILGATE_PSEUDONYM_KEY: key } });
        const n = await emit(gw.ports.grpc, 2);
        await sink.waitForSpans(n, 10000);
        await gw.stop();
        const s = spansOf(sink).find((x) => x.span.name !== 'linked-op');
        return attrs(s.span.attributes).user_id.stringValue;
      } finally {
        if (gw) await gw.kill();
        await sink.close();
      }
    };
    const a = await run(KEY);
    const b = await run(KEY);
    const c = await run(OTHER_KEY);
    assert.equal(a, b, 'same key, same pseudonym across processes');
    assert.equal(a, pseudonym(KEY, RAW.user));
    assert.equal(c, pseudonym(OTHER_KEY, RAW.user));
    assert.notEqual(a, c, 'another key, another pseudonym');
  });

  test('a key shorter than 32 bytes is refused with its position, and never echoed', () => {
    const r = spawnSync(BIN, ['validate'], {
      encoding: 'utf8', timeout: 5000, env: { ...process.env, TAILGATE_PSEUDONYM_KEY: 'short-key-do-not-echo' },
    });
    assert.notEqual(r.status, 0);
    const out = r.stdout + r.stderr;
    assert.match(out, /<embedded default>:\d+:\d+: processors::redaction: pseudonymize: the key in environment variable "TAILGATE_PSEUDONYM_KEY" is 21 bytes; at least 32 are required/);
    assert.ok(!out.includes('short-key-do-not-echo'), out);
  });
});
