'use strict';
// Tail sampling end to end: the real OpenTelemetry JS SDK in two "services" (one over
// OTLP/gRPC, one over OTLP/HTTP) sends spans of the same traces to tailgate, which
// samples them and exports to an OTLP sink decoding with the official schema. The
// expected set of kept traces is computed here, independently, from the trace IDs
// (consistent probability sampling: keep when the low 56 bits >= 0xe666 << 40 at 10 %)
// and from what each trace contains (an error, a slow root, a debug mark).
const { describe, test } = require('node:test');
const assert = require('node:assert/strict');
const { trace, ROOT_CONTEXT, SpanKind, SpanStatusCode, TraceFlags } = require('@opentelemetry/api');
const { NodeTracerProvider } = require('@opentelemetry/sdk-trace-node');
const { BatchSpanProcessor } = require('@opentelemetry/sdk-trace-base');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { startSink } = require('./lib/sink');
const { startGateway, baseConfig, httpGet, waitFor } = require('./lib/gateway');
const { makeExporter } = require('./lib/sdk');

const THRESHOLD_10PCT = 0xe666n << 40n;
const hex = (b) => Buffer.from(b).toString('hex');
const randomness = (traceIdHex) => BigInt(`0x${traceIdHex.slice(18)}`); // bytes 9..15

function provider(service, protocol, endpoint) {
  const exporter = makeExporter(protocol, endpoint);
  return new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': service }),
    spanProcessors: [new BatchSpanProcessor(exporter, { maxExportBatchSize: 64, scheduledDelayMillis: 50 })],
  });
}

function samplingConfig(ports, sinkPort, ts) {
  return baseConfig(ports, {
    processors: { tail_sampling: ts, batch: { timeout: '100ms', send_batch_size: 256 } },
    pipelineProcessors: ['tail_sampling', 'batch'],
    exporters: { 'otlp/sink': { endpoint: `127.0.0.1:${sinkPort}`, tls: { insecure: true } } },
  });
}

const DEFAULT_POLICIES = [
  { name: 'errors', type: 'status_code', status_code: { status_codes: ['ERROR'] } },
  { name: 'slow', type: 'latency', latency: { threshold_ms: 1000 } },
  { name: 'ten-percent', type: 'probabilistic', probabilistic: { sampling_percentage: 10 } },
];

// Emits `n` three-span traces: a frontend root (gRPC) and two backend spans (HTTP).
// Returns per trace what the sampler should see.
function emitTraces(front, back, n, { errorEvery = 10, slowEvery = 10, debugEvery = 25 } = {}) {
  const ft = front.getTracer('front');
  const bt = back.getTracer('back');
  const traces = [];
  const now = Date.now();
  for (let i = 0; i < n; i++) {
    const error = errorEvery && i % errorEvery === 3;
    const slow = slowEvery && i % slowEvery === 7;
    const debug = debugEvery && i % debugEvery === 11;
    const start = now - (slow ? 1500 : 20);
    const root = ft.startSpan(`GET /item/${i % 5}`, {
      kind: SpanKind.SERVER, startTime: start,
      attributes: debug ? { 'sampling.priority': 1 } : {},
    });
    const ctx = trace.setSpan(ROOT_CONTEXT, root);
    const child = bt.startSpan('load', { kind: SpanKind.SERVER, startTime: start + 2 }, ctx);
    const grandchild = bt.startSpan('SELECT', { kind: SpanKind.CLIENT, startTime: start + 3 },
      trace.setSpan(ROOT_CONTEXT, child));
    if (error) grandchild.setStatus({ code: SpanStatusCode.ERROR, message: 'boom' });
    grandchild.end(start + 8);
    child.end(start + 10);
    root.end(now);
    traces.push({ traceId: root.spanContext().traceId, error, slow, debug });
  }
  return traces;
}

function expectedKept(t) {
  return t.error || t.slow || t.debug || randomness(t.traceId) >= THRESHOLD_10PCT;
}
const byProbabilityOnly = (t) => !t.error && !t.slow && !t.debug && expectedKept(t);

// trace id → [spans] received by the sink
function sinkTraces(sink) {
  const out = new Map();
  for (const r of sink.requests) {
    for (const rs of r.msg.resourceSpans || []) {
      const service = (rs.resource.attributes || []).find((a) => a.key === 'service.name').value.stringValue;
      for (const ss of rs.scopeSpans || []) {
        for (const s of ss.spans || []) {
          const id = hex(s.traceId);
          if (!out.has(id)) out.set(id, []);
          out.get(id).push({ service, name: s.name, traceState: s.traceState, spanId: hex(s.spanId) });
        }
      }
    }
  }
  return out;
}

async function metricsText(gw) {
  const r = await httpGet(gw.ports.metrics, '/metrics');
  assert.equal(r.status, 200);
  return r.body.toString();
}

function metricValue(text, name, labels) {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) &&
    Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)));
  return line ? Number(line.split(' ').pop()) : NaN;
}

describe('tail_sampling with real SDK clients', () => {
  test('keeps exactly errors, slow, debug and the consistent 10 %, every span of each, joined across receivers', async () => {
    const sink = await startSink({ http: false });
    let gw = null;
    const providers = [];
    try {
      gw = await startGateway((ports) => samplingConfig(ports, sink.grpcPort, {
        decision_wait: '1500ms', num_workers: 2,
        decision_cache: { sampled_cache_size: 10000, non_sampled_cache_size: 10000 },
        policies: DEFAULT_POLICIES,
      }));
      const front = provider('frontend', 'grpc', `http://127.0.0.1:${gw.ports.grpc}`);
      const back = provider('backend', 'http/protobuf', `http://127.0.0.1:${gw.ports.http}`);
      providers.push(front, back);
      const traces = emitTraces(front, back, 400);
      await Promise.all([front.forceFlush(), back.forceFlush()]);
      const kept = traces.filter(expectedKept);
      const dropped = traces.filter((t) => !expectedKept(t));
      assert.ok(kept.filter(byProbabilityOnly).length >= 15, 'the 10 % policy kept a fair share by itself');
      assert.ok(dropped.length > 200, 'most plain traces are dropped');

      await sink.waitForSpans(kept.length * 3, 15000);
      // every decided trace: wait for the decision counters to cover all 400
      await waitFor(async () => {
        const m = await metricsText(gw);
        const s = metricValue(m, 'tailgate_processor_tail_sampling_traces_decided_total', { decision: 'sampled', trigger: 'decision_wait' });
        const n = metricValue(m, 'tailgate_processor_tail_sampling_traces_decided_total', { decision: 'not_sampled', trigger: 'decision_wait' });
        return s + n === traces.length;
      }, { timeoutMs: 10000, what: 'all 400 traces decided' });
      const got = sinkTraces(sink);
      assert.deepEqual([...got.keys()].sort(), kept.map((t) => t.traceId).sort(), 'kept trace set');
      for (const t of kept) {
        const spans = got.get(t.traceId);
        assert.equal(spans.length, 3, `trace ${t.traceId}: all three spans`);
        assert.deepEqual(spans.map((s) => s.service).sort(), ['backend', 'backend', 'frontend']);
        assert.equal(new Set(spans.map((s) => s.spanId)).size, 3, 'no duplicates');
        for (const s of spans) {
          if (byProbabilityOnly(t)) assert.match(s.traceState, /(^|,)ot=th:e666(;|,|$)/, `th on ${t.traceId}`);
          else assert.doesNotMatch(s.traceState || '', /th:/, `no th on ${t.traceId} (kept with certainty)`);
        }
      }
      const m = await metricsText(gw);
      assert.equal(metricValue(m, 'tailgate_processor_tail_sampling_policy_decisions_total', { policy: 'errors', decision: 'sampled' }),
        traces.filter((t) => t.error).length);
      assert.equal(metricValue(m, 'tailgate_processor_tail_sampling_traces_in_memory', {}), 0);
      assert.equal(metricValue(m, 'tailgate_processor_tail_sampling_spans_received_total', {}), traces.length * 3);

      // Late spans follow the cached decision: the dropped trace's late span first, then the kept one's.
      const late = front.getTracer('late');
      const parentOf = (t) => trace.setSpan(ROOT_CONTEXT, trace.wrapSpanContext({
        traceId: t.traceId, spanId: '00f067aa0ba902b7', traceFlags: TraceFlags.SAMPLED, isRemote: true,
      }));
      const lateDropped = late.startSpan('late-dropped', {}, parentOf(dropped[0]));
      lateDropped.end();
      await front.forceFlush();
      await waitFor(async () => metricValue(await metricsText(gw), 'tailgate_processor_tail_sampling_late_spans_total', { decision: 'not_sampled' }) === 1,
        { timeoutMs: 5000, what: 'late span of a dropped trace counted' });
      const lateKept = late.startSpan('late-kept', {}, parentOf(kept[0]));
      lateKept.end();
      await front.forceFlush();
      await sink.waitForSpans(kept.length * 3 + 1, 5000);
      const after = sinkTraces(sink);
      assert.ok(after.get(kept[0].traceId).some((s) => s.name === 'late-kept'), 'late span of a kept trace forwarded');
      assert.ok(!after.has(dropped[0].traceId), 'late span of a dropped trace not forwarded');
    } finally {
      await Promise.all(providers.map((p) => p.shutdown().catch(() => {})));
      if (gw) { await gw.stop(); gw.cleanup(); }
      await sink.close();
    }
  });

  test('num_traces bound decides the oldest early (counted), and SIGTERM decides everything pending', async () => {
    const sink = await startSink({ http: false });
    let gw = null;
    const providers = [];
    try {
      gw = await startGateway((ports) => samplingConfig(ports, sink.grpcPort, {
        decision_wait: '60s', num_traces: 50, num_workers: 1,
        policies: [DEFAULT_POLICIES[0]],
      }));
      // one service, so each trace's spans arrive together and the bound counts traces exactly
      const svc = provider('backend', 'grpc', `http://127.0.0.1:${gw.ports.grpc}`);
      providers.push(svc);
      const traces = emitTraces(svc, svc, 200, { errorEvery: 4, slowEvery: 0, debugEvery: 0 });
      await svc.forceFlush();
      const errors = traces.filter((t) => t.error);
      await waitFor(async () => metricValue(await metricsText(gw), 'tailgate_processor_tail_sampling_spans_received_total', {}) === 600,
        { timeoutMs: 10000, what: 'all spans taken' });
      const m = await metricsText(gw);
      const early = metricValue(m, 'tailgate_processor_tail_sampling_early_decisions_total', { bound: 'num_traces' });
      assert.equal(early, 150, 'traces beyond num_traces decided early');
      assert.equal(metricValue(m, 'tailgate_processor_tail_sampling_traces_in_memory', {}), 50);
      await Promise.all(providers.map((p) => p.shutdown()));
      providers.length = 0;
      await gw.stop(); // SIGTERM: the 50 still pending are decided and flushed before exit
      const got = sinkTraces(sink);
      assert.deepEqual([...got.keys()].sort(), errors.map((t) => t.traceId).sort(), 'every error trace kept, nothing else');
      for (const t of errors) assert.equal(got.get(t.traceId).length, 3, `trace ${t.traceId} complete`);
      gw.cleanup();
      gw = null;
    } finally {
      await Promise.all(providers.map((p) => p.shutdown().catch(() => {})));
      if (gw) { await gw.kill(); gw.cleanup(); }
      await sink.close();
    }
  });
});

// The debug flag of a Jaeger client (jaeger-client sets flag 0x2 when a span is tagged
// sampling.priority >= 1) reaches the sampler as the sampling.priority attribute, and
// keeps its trace even when no policy would.
describe('tail_sampling with a Jaeger client\'s debug flag', () => {
  test('debug traces are kept whole, the rest dropped by a 0 % policy', async () => {
    const dgram = require('node:dgram');
    const { initTracer } = require('jaeger-client');
    const { freePorts } = require('./lib/ports');
    const sink = await startSink({ http: false });
    let gw = null;
    let tracer = null;
    try {
      // a free UDP port: bind, read, close (the gateway binds it next)
      const udp = dgram.createSocket('udp4');
      await new Promise((resolve) => udp.bind(0, '127.0.0.1', resolve));
      const binaryPort = udp.address().port;
      await new Promise((resolve) => udp.close(resolve));
      const [jhttp] = await freePorts(1);
      gw = await startGateway((ports) => {
        const c = samplingConfig(ports, sink.grpcPort, {
          decision_wait: '500ms', num_workers: 2,
          policies: [{ name: 'none', type: 'probabilistic', probabilistic: { sampling_percentage: 0 } }],
        });
        c.receivers.jaeger = { protocols: {
          thrift_binary: { endpoint: `127.0.0.1:${binaryPort}` },
          thrift_http: { endpoint: `127.0.0.1:${jhttp}` },
        } };
        c.service.pipelines.traces.receivers = ['jaeger'];
        return c;
      });
      tracer = initTracer({
        serviceName: 'jaeger-debug',
        sampler: { type: 'const', param: 1 },
        reporter: { agentHost: '127.0.0.1', agentPort: binaryPort, flushIntervalMs: 50 },
      }, { logger: { info() {}, error() {} } });
      const debugIds = [];
      for (let i = 0; i < 20; i++) {
        const root = tracer.startSpan(`op-${i}`);
        if (i % 4 === 0) {
          root.setTag('sampling.priority', 1);
          debugIds.push(root.context().traceIdStr);
        }
        const child = tracer.startSpan(`child-${i}`, { childOf: root });
        child.finish();
        root.finish();
      }
      await new Promise((resolve) => tracer.close(resolve));
      tracer = null;
      await sink.waitForSpans(debugIds.length * 2, 10000);
      await waitFor(async () => {
        const m = await metricsText(gw);
        return metricValue(m, 'tailgate_processor_tail_sampling_traces_decided_total', { decision: 'not_sampled', trigger: 'decision_wait' }) === 15;
      }, { timeoutMs: 10000, what: 'the 15 plain traces decided' });
      const got = sinkTraces(sink);
      const want = debugIds.map((id) => id.padStart(32, '0')).sort();
      assert.deepEqual([...got.keys()].sort(), want, 'exactly the debug traces');
      for (const id of want) assert.equal(got.get(id).length, 2, `trace ${id} complete`);
      const m = await metricsText(gw);
      assert.equal(metricValue(m, 'tailgate_processor_tail_sampling_debug_kept_traces_total', {}), 5);
    } finally {
      if (tracer) await new Promise((resolve) => tracer.close(resolve));
      if (gw) { await gw.stop(); gw.cleanup(); }
      await sink.close();
    }
  });
});

// Span metrics run before the sampler and count every span, but their exemplars may only
// point at traces the sampler kept, so every exemplar link opens a trace that exists.
describe('span metrics exemplars with tail sampling', () => {
  test('every exemplar is a kept trace; the counts cover every span', async () => {
    const { freePorts } = require('./lib/ports');
    const sink = await startSink({ http: false });
    let gw = null;
    const providers = [];
    try {
      const [promPort] = await freePorts(1);
      gw = await startGateway((ports) => {
        const c = samplingConfig(ports, sink.grpcPort, {
          decision_wait: '300ms', num_workers: 2, policies: DEFAULT_POLICIES,
        });
        c.processors.spanmetrics = { metrics_exporter: 'prometheus', exemplars: { enabled: true } };
        c.exporters.prometheus = { endpoint: `127.0.0.1:${promPort}` };
        c.service.pipelines.traces.processors = ['spanmetrics', 'tail_sampling', 'batch'];
        c.service.pipelines.metrics = { exporters: ['prometheus'] };
        return c;
      });
      const front = provider('frontend', 'grpc', `http://127.0.0.1:${gw.ports.grpc}`);
      const back = provider('backend', 'http/protobuf', `http://127.0.0.1:${gw.ports.http}`);
      providers.push(front, back);
      const traces = emitTraces(front, back, 200);
      await Promise.all([front.forceFlush(), back.forceFlush()]);
      const kept = traces.filter(expectedKept);
      await sink.waitForSpans(kept.length * 3, 15000);
      const keptIds = new Set(kept.map((t) => t.traceId));
      const scrape = async () => (await httpGet(promPort, '/metrics', 2000)).body.toString();
      // exemplars are chosen at render time among recent spans whose trace was kept
      const text = await waitFor(async () => {
        const r = await new Promise((resolve, reject) => {
          const http = require('node:http');
          http.get({ host: '127.0.0.1', port: promPort, path: '/metrics', headers: { accept: 'application/openmetrics-text; version=1.0.0' } }, (res) => {
            let b = '';
            res.on('data', (c) => { b += c; });
            res.on('end', () => resolve(b));
          }).on('error', reject);
        });
        return /trace_id="[0-9a-f]{32}"/.test(r) ? r : null;
      }, { timeoutMs: 10000, what: 'an exemplar in the OpenMetrics scrape' });
      const exemplarIds = [...text.matchAll(/trace_id="([0-9a-f]{32})"/g)].map((m) => m[1]);
      assert.ok(exemplarIds.length > 0);
      for (const id of exemplarIds) assert.ok(keptIds.has(id), `exemplar trace ${id} was kept (and exported)`);
      const plain = await scrape();
      const calls = plain.split('\n').filter((l) => l.startsWith('traces_span_metrics_calls_total{'))
        .reduce((a, l) => a + Number(l.split(' ').pop()), 0);
      assert.equal(calls, traces.length * 3, 'every span counted, kept or not');
    } finally {
      await Promise.all(providers.map((p) => p.shutdown().catch(() => {})));
      if (gw) { await gw.stop(); gw.cleanup(); }
      await sink.close();
    }
  });
});
