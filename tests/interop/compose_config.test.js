'use strict';
// The configuration docker-compose.yaml mounts (deploy/compose/tailgate.yaml), run for
// real on free ports: OpenTelemetry JS SDK spans in over OTLP, a fake Jaeger collector
// (api_v2 gRPC) receives what tail sampling kept, pseudonymised, and the span-metrics port serves RED
// series for every span sent, kept or not.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { SpanStatusCode } = require('@opentelemetry/api');
const { NodeTracerProvider } = require('@opentelemetry/sdk-trace-node');
const { BatchSpanProcessor } = require('@opentelemetry/sdk-trace-base');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { BIN, httpGet, waitFor } = require('./lib/gateway');
const { defaultListenerEnv } = require('./lib/default_env');
const { makeExporter } = require('./lib/sdk');
const { startGrpcCollector } = require('./lib/jaeger_collector');

const CONFIG = path.resolve(__dirname, '..', '..', 'deploy', 'compose', 'tailgate.yaml');

test('deploy/compose/tailgate.yaml: errors reach Jaeger, every span counts in the RED metrics', async (t) => {
  const col = await startGrpcCollector();
  t.after(() => col.close());
  const { ports, env: listenerEnv } = await defaultListenerEnv();
  const { otlpGrpc: og, health, prometheus: prom } = ports;
  const env = {
    ...listenerEnv,
    TAILGATE_JAEGER_ENDPOINT: `127.0.0.1:${col.port}`,
    TAILGATE_DECISION_WAIT: '500ms',
    TAILGATE_PSEUDONYM_KEY: 'compose-test-key-0123456789abcdef0123',
  };
  const proc = spawn(BIN, ['--config', CONFIG], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (c) => { out += c; });
  proc.stderr.on('data', (c) => { out += c; });
  const exited = new Promise((r) => proc.on('exit', (code) => r(code)));
  t.after(() => { try { process.kill(proc.pid, 'SIGKILL'); } catch { /* gone */ } });
  await waitFor(async () => (await httpGet(health, '/health/ready', 500)).status === 200,
    { timeoutMs: 10000, what: 'the compose config ready' });

  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'checkout' }),
    spanProcessors: [new BatchSpanProcessor(makeExporter('grpc', `http://127.0.0.1:${og}`), { scheduledDelayMillis: 50 })],
  });
  const tracer = provider.getTracer('compose');
  const errorTraces = [];
  for (let i = 0; i < 40; i++) {
    const span = tracer.startSpan('POST /pay', { attributes: { user_id: `customer-${i}`, note: `mail ann.lee${i}@example.org` } });
    if (i % 8 === 0) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: 'declined' });
      errorTraces.push(span.spanContext().traceId);
    }
    span.end();
  }
  await provider.forceFlush();
  await provider.shutdown();

  await waitFor(() => errorTraces.every((id) => col.spans().some((s) => Buffer.from(s.span.trace_id).toString('hex') === id)),
    { timeoutMs: 10000, what: 'every error trace at the Jaeger collector' });
  // redaction ran before export: pseudonyms and masks only
  const sent = JSON.stringify(col.spans().map((s) => s.span.tags));
  assert.doesNotMatch(sent, /customer-\d|ann\.lee\d*@example\.org/, 'no raw user id or e-mail reached Jaeger');
  assert.match(sent, /k1:[A-Za-z0-9_-]{22}/, 'user_id pseudonymised');
  const r = await waitFor(async () => {
    const m = await httpGet(prom, '/metrics', 1000);
    const line = m.body.toString().split('\n').find((l) => l.startsWith('traces_span_metrics_calls_total{') &&
      l.includes('service_name="checkout"') && l.includes('status_code="STATUS_CODE_UNSET"'));
    return line && Number(line.split(' ').pop()) === 35 ? m : null;
  }, { timeoutMs: 10000, what: '35 unset-status calls counted (all spans, before sampling)' });
  assert.match(r.body.toString(), /traces_span_metrics_calls_total\{[^}]*service_name="checkout"[^}]*status_code="STATUS_CODE_ERROR"[^}]*\} 5/);
  process.kill(proc.pid, 'SIGTERM');
  assert.equal(await exited, 0, out);
});
