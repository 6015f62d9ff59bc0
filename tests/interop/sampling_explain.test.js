'use strict';
// Explainable tail sampling end to end. The real OpenTelemetry JS SDK sends error,
// slow, random (kept by the 10 % share) and plain traces — plus health checks that a
// drop policy removes — through tailgate with `decision_attributes: true` and
// `service.telemetry.debug_endpoints: true`. What each trace should get is computed
// here, independently of tailgate, from what the test put into it:
//   errors      a span with status ERROR
//   slow        first start to last end >= 1000 ms
//   ten-percent R = low 56 bits of the trace ID >= 0xe666 << 40 (the test chooses byte 9)
//   no-health   (drop) a span with http.route = /health
// Then: the sink's spans name exactly those policies (in configuration order) with the
// trigger; /debug/sampling answers for buffered, kept, not sampled, dropped and unknown
// traces and refuses malformed IDs; `tailgate sampling explain` run on the same spans
// (serialised by the SDK's own OTLP serializers, JSON file and protobuf on stdin) gives
// the verdicts the live sampler gave. A second gateway without debug_endpoints has no
// such route.
const { describe, test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');
const { spawnSync } = require('node:child_process');
const { trace, ROOT_CONTEXT, SpanKind, SpanStatusCode, TraceFlags } = require('@opentelemetry/api');
const { NodeTracerProvider } = require('@opentelemetry/sdk-trace-node');
const { BatchSpanProcessor, SimpleSpanProcessor, InMemorySpanExporter } = require('@opentelemetry/sdk-trace-base');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { JsonTraceSerializer, ProtobufTraceSerializer } = require('@opentelemetry/otlp-transformer');
const { startSink } = require('./lib/sink');
const { BIN, startGateway, baseConfig, httpGet, waitFor } = require('./lib/gateway');
const { makeExporter } = require('./lib/sdk');

const THRESHOLD_10PCT = 0xe666n << 40n;
const hex = (b) => Buffer.from(b).toString('hex');
const randomness = (traceIdHex) => BigInt(`0x${traceIdHex.slice(18)}`); // bytes 9..15

const POLICIES = [
  { name: 'no-health', type: 'drop', drop: { drop_sub_policy: [
    { name: 'health', type: 'string_attribute', string_attribute: { key: 'http.route', values: ['/health'] } },
  ] } },
  { name: 'errors', type: 'status_code', status_code: { status_codes: ['ERROR'] } },
  { name: 'slow', type: 'latency', latency: { threshold_ms: 1000 } },
  { name: 'ten-percent', type: 'probabilistic', probabilistic: { sampling_percentage: 10 } },
];
const KEEP_POLICIES = ['errors', 'slow', 'ten-percent'];

function gatewayConfig(ports, sinkPort, { debug = true, decisionWait = '2s' } = {}) {
  const cfg = baseConfig(ports, {
    processors: {
      tail_sampling: {
        decision_wait: decisionWait, num_workers: 2, decision_attributes: true,
        decision_cache: { sampled_cache_size: 1000, non_sampled_cache_size: 1000 },
        policies: POLICIES,
      },
    },
    pipelineProcessors: ['tail_sampling'],
    exporters: { 'otlp/sink': { endpoint: `127.0.0.1:${sinkPort}`, tls: { insecure: true } } },
  });
  if (debug) cfg.service.telemetry.debug_endpoints = true;
  return cfg;
}

// Trace IDs chosen by the test: byte 9 fixes whether R reaches the 10 % threshold.
function idGenerator(plan) {
  return {
    generateTraceId() {
      const b = crypto.randomBytes(16);
      b[9] = plan.next ? 0xf0 : 0x20; // 0xf0.. >= 0xe666.., 0x20.. < it
      return b.toString('hex');
    },
    generateSpanId() { return crypto.randomBytes(8).toString('hex'); },
  };
}

// kind: error | slow | random | plain | health (an error on the health route: dropped)
function emit(tracer, plan, kind, i) {
  plan.next = kind === 'random';
  const now = Date.now();
  const start = now - (kind === 'slow' ? 1500 : 30);
  const root = tracer.startSpan(`GET /item/${i}`, {
    kind: SpanKind.SERVER, startTime: start,
    attributes: kind === 'health' ? { 'http.route': '/health' } : { 'http.route': '/item/:id' },
  });
  const ctx = trace.setSpan(ROOT_CONTEXT, root);
  const child = tracer.startSpan('load', { startTime: start + 2 }, ctx);
  const leaf = tracer.startSpan('SELECT', { kind: SpanKind.CLIENT, startTime: start + 3 }, trace.setSpan(ROOT_CONTEXT, child));
  if (kind === 'error' || kind === 'health') leaf.setStatus({ code: SpanStatusCode.ERROR, message: 'boom' });
  leaf.end(start + 8);
  child.end(start + 10);
  root.end(now);
  return root.spanContext().traceId;
}

// The independent oracle: which top-level policies vote for a trace, and its state.
function expectation(t) {
  const votes = [];
  if (t.error) votes.push('errors');
  if (t.durationMs >= 1000) votes.push('slow');
  if (randomness(t.traceId) >= THRESHOLD_10PCT) votes.push('ten-percent');
  const state = t.health ? 'dropped' : votes.length ? 'sampled' : 'not_sampled';
  return { votes, state };
}

function attr(span, key) {
  const kv = (span.attributes || []).find((a) => a.key === key);
  return kv ? kv.value : undefined;
}

function sinkSpans(sink) {
  const out = new Map();
  for (const r of sink.requests) {
    for (const rs of r.msg.resourceSpans || []) {
      for (const ss of rs.scopeSpans || []) {
        for (const s of ss.spans || []) {
          const id = hex(s.traceId);
          if (!out.has(id)) out.set(id, []);
          const policies = attr(s, 'tailgate.sampling.policies');
          const trigger = attr(s, 'tailgate.sampling.trigger');
          out.get(id).push({
            name: s.name,
            policies: policies && policies.arrayValue ? policies.arrayValue.values.map((v) => v.stringValue) : null,
            trigger: trigger ? trigger.stringValue : null,
            traceState: s.traceState || '',
          });
        }
      }
    }
  }
  return out;
}

async function debugSampling(gw, query) {
  const r = await httpGet(gw.ports.metrics, `/debug/sampling?${query}`);
  let json = null;
  try { json = JSON.parse(r.body.toString()); } catch { /* not JSON */ }
  return { status: r.status, json, text: r.body.toString() };
}

async function metricsText(gw) {
  return (await httpGet(gw.ports.metrics, '/metrics')).body.toString();
}

function metricValue(text, name, labels) {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) &&
    Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)));
  return line ? Number(line.split(' ').pop()) : NaN;
}

// Parses `tailgate sampling explain` output: trace → {decision, verdicts{top-level name: verdict}}.
function parseExplain(text) {
  const out = new Map();
  let cur = null;
  for (const line of text.split('\n')) {
    let m = /^trace ([0-9a-f]{32}): (\d+) spans/.exec(line);
    if (m) { cur = { spans: Number(m[2]), decision: null, verdicts: {} }; out.set(m[1], cur); continue; }
    m = /^ {2}decision: (\w+)/.exec(line);
    if (m && cur) { cur.decision = m[1]; continue; }
    m = /^ {2}policy "([^"]+)" \((\w+)\): (\w+): (.*)$/.exec(line); // depth 0 only: two spaces
    if (m && cur) cur.verdicts[m[1]] = { verdict: m[3], why: m[4] };
  }
  return out;
}

function runExplain(configPath, args, input) {
  const r = spawnSync(BIN, ['sampling', 'explain', '--config', configPath, ...args],
    { input, encoding: 'utf8', timeout: 20000 });
  assert.equal(r.status, 0, `explain exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

describe('explainable tail sampling', () => {
  test('decision attributes, /debug/sampling and sampling explain agree with an independent oracle', async () => {
    const sink = await startSink({ http: false });
    let gw = null;
    let provider = null;
    try {
      gw = await startGateway((ports) => gatewayConfig(ports, sink.grpcPort));
      const plan = { next: false };
      const memory = new InMemorySpanExporter();
      provider = new NodeTracerProvider({
        resource: resourceFromAttributes({ 'service.name': 'shop' }),
        idGenerator: idGenerator(plan),
        spanProcessors: [
          new BatchSpanProcessor(makeExporter('grpc', `http://127.0.0.1:${gw.ports.grpc}`), { maxExportBatchSize: 64, scheduledDelayMillis: 50 }),
          new SimpleSpanProcessor(memory),
        ],
      });
      const tracer = provider.getTracer('explain');
      const kinds = ['error', 'slow', 'random', 'plain', 'plain', 'random', 'error', 'health', 'plain', 'slow'];
      const traces = [];
      for (let i = 0; i < 30; i++) {
        const kind = kinds[i % kinds.length];
        const traceId = emit(tracer, plan, kind, i);
        traces.push({ traceId, kind, error: kind === 'error' || kind === 'health', health: kind === 'health',
          durationMs: kind === 'slow' ? 1500 : 30 });
      }
      await provider.forceFlush();
      for (const t of traces) t.expect = expectation(t);
      assert.ok(traces.some((t) => t.expect.votes.length === 1 && t.expect.votes[0] === 'ten-percent'), 'some trace is kept by the 10 % share alone');
      assert.ok(traces.some((t) => t.expect.state === 'not_sampled'), 'some trace is not sampled');

      // Buffered: the spans are in, decision_wait (2 s) has not passed.
      await waitFor(async () => metricValue(await metricsText(gw), 'tailgate_processor_tail_sampling_spans_received_total', {}) === traces.length * 3,
        { timeoutMs: 5000, what: 'all spans received' });
      const buffered = await debugSampling(gw, `trace_id=${traces[0].traceId}`);
      assert.equal(buffered.status, 200, buffered.text);
      assert.equal(buffered.json.trace_id, traces[0].traceId);
      assert.equal(buffered.json.processors.length, 1);
      const b = buffered.json.processors[0];
      assert.equal(b.processor, 'tail_sampling');
      assert.equal(b.state, 'buffered');
      assert.equal(b.span_count, 3);
      assert.ok(b.shard === 0 || b.shard === 1, `shard ${b.shard}`);
      assert.ok(b.bytes > 0);
      assert.ok(Math.abs(b.first_span_unix_ms - Date.now()) < 10000, 'first span time is now-ish');
      // verdicts so far, for the error trace traces[0]: only errors would sample it
      assert.equal(traces[0].kind, 'error');
      assert.deepEqual(b.policies.map((p) => [p.name, p.verdict]),
        [['no-health', 'would_not_sample'], ['errors', 'would_sample'], ['slow', 'would_not_sample'], ['ten-percent', 'would_not_sample']]);

      // Decided.
      await waitFor(async () => {
        const m = await metricsText(gw);
        const s = metricValue(m, 'tailgate_processor_tail_sampling_traces_decided_total', { decision: 'sampled', trigger: 'decision_wait' });
        const n = metricValue(m, 'tailgate_processor_tail_sampling_traces_decided_total', { decision: 'not_sampled', trigger: 'decision_wait' });
        return s + n === traces.length;
      }, { timeoutMs: 10000, what: 'all traces decided' });
      const kept = traces.filter((t) => t.expect.state === 'sampled');
      await sink.waitForSpans(kept.length * 3, 10000);

      // In the data: every span of a kept trace names exactly its policies.
      const got = sinkSpans(sink);
      assert.deepEqual([...got.keys()].sort(), kept.map((t) => t.traceId).sort(), 'kept trace set');
      for (const t of kept) {
        const spans = got.get(t.traceId);
        assert.equal(spans.length, 3);
        for (const s of spans) {
          assert.deepEqual(s.policies, t.expect.votes, `policies on ${s.name} of ${t.kind} trace ${t.traceId}`);
          assert.equal(s.trigger, 'decision_wait');
          const alone = t.expect.votes.length === 1 && t.expect.votes[0] === 'ten-percent';
          if (alone) assert.match(s.traceState, /(^|,)ot=th:e666(;|,|$)/, 'the unbiased sample is marked');
          else assert.doesNotMatch(s.traceState, /th:/);
        }
      }

      // On demand: the debug route's answer for every decided trace.
      const live = new Map();
      for (const t of traces) {
        const r = await debugSampling(gw, `trace_id=${t.traceId}`);
        assert.equal(r.status, 200, `${t.kind} ${t.traceId}: ${r.text}`);
        const a = r.json.processors[0];
        assert.equal(a.state, t.expect.state, `${t.kind} trace ${t.traceId}`);
        assert.equal(a.span_count, 3);
        assert.equal(a.trigger, 'decision_wait');
        assert.ok(a.decided_unix_ms >= a.first_span_unix_ms + 1900, 'decided decision_wait after the first span');
        const sampledBy = a.policies.filter((p) => p.verdict === 'sampled').map((p) => p.name);
        if (t.expect.state === 'dropped') {
          assert.deepEqual(a.policies.map((p) => p.verdict), ['dropped', 'not_sampled', 'not_sampled', 'not_sampled']);
        } else {
          assert.deepEqual(sampledBy, t.expect.votes);
        }
        assert.equal(a.probabilistic_only, t.expect.state === 'sampled' && t.expect.votes.join() === 'ten-percent');
        live.set(t.traceId, a);
      }
      // Unknown and malformed IDs.
      const unknown = await debugSampling(gw, `trace_id=${crypto.randomBytes(16).toString('hex')}`);
      assert.equal(unknown.status, 404);
      assert.deepEqual(unknown.json.processors, []);
      for (const bad of ['trace_id=xyz', `trace_id=${'a'.repeat(31)}`, `trace_id=${'a'.repeat(33)}`,
        `trace_id=${'0'.repeat(32)}`, `trace_id=${'g'.repeat(32)}`, '', 'span_id=00f067aa0ba902b7']) {
        const r = await debugSampling(gw, bad);
        assert.equal(r.status, 400, `?${bad}: ${r.text}`);
      }

      // A late span of a kept trace: forwarded by the cache, trigger "late", same policies.
      const target = kept.find((t) => t.expect.votes.length >= 1);
      const lateParent = trace.setSpan(ROOT_CONTEXT, trace.wrapSpanContext({
        traceId: target.traceId, spanId: '00f067aa0ba902b7', traceFlags: TraceFlags.SAMPLED, isRemote: true,
      }));
      tracer.startSpan('late', {}, lateParent).end();
      await provider.forceFlush();
      await sink.waitForSpans(kept.length * 3 + 1, 5000);
      const late = sinkSpans(sink).get(target.traceId).find((s) => s.name === 'late');
      assert.deepEqual(late.policies, target.expect.votes);
      assert.equal(late.trigger, 'late');

      // Offline: explain the same spans (the SDK's own serializers), JSON file and protobuf stdin.
      const spans = memory.getFinishedSpans().filter((s) => s.name !== 'late');
      assert.equal(spans.length, traces.length * 3);
      const jsonPath = path.join(gw.dir, 'traces.json');
      fs.writeFileSync(jsonPath, Buffer.from(JsonTraceSerializer.serializeRequest(spans)));
      const fromJson = parseExplain(runExplain(gw.configPath, [jsonPath]));
      const fromProto = parseExplain(runExplain(gw.configPath, ['-'], Buffer.from(ProtobufTraceSerializer.serializeRequest(spans))));
      assert.equal(fromJson.size, traces.length);
      assert.deepEqual(fromProto, fromJson, 'the same verdicts from protobuf and JSON input');
      for (const t of traces) {
        const x = fromJson.get(t.traceId);
        const a = live.get(t.traceId);
        assert.equal(x.spans, 3);
        assert.equal(x.decision, a.state, `explain's decision for ${t.kind} trace ${t.traceId}`);
        if (a.state === 'dropped') {
          assert.equal(x.verdicts['no-health'].verdict, 'dropped');
        } else {
          for (const p of a.policies) assert.equal(x.verdicts[p.name].verdict, p.verdict, `${p.name} on ${t.traceId}`);
        }
        // the reasons name what the oracle used
        if (t.kind === 'error') assert.match(x.verdicts.errors.why, /^span "SELECT" [0-9a-f]{16} has status ERROR$/);
        if (t.kind === 'slow') assert.match(x.verdicts.slow.why, /^duration 1500 ms >= threshold 1000 ms$/);
        if (t.kind === 'plain') assert.match(x.verdicts['ten-percent'].why, /^R = 0x20[0-9a-f]{12} < T = 0xe6660000000000 \(th:e666, 10%\)$/);
        if (t.kind === 'health') assert.match(x.verdicts['no-health'].why, /every sub-policy matched/);
      }
    } finally {
      if (provider) await provider.shutdown().catch(() => {});
      if (gw) { await gw.stop(); gw.cleanup(); }
      await sink.close();
    }
  });

  test('without debug_endpoints there is no /debug/sampling route', async () => {
    const sink = await startSink({ http: false });
    let gw = null;
    try {
      gw = await startGateway((ports) => gatewayConfig(ports, sink.grpcPort, { debug: false }));
      for (const q of [`trace_id=${crypto.randomBytes(16).toString('hex')}`, 'trace_id=xyz']) {
        const r = await debugSampling(gw, q);
        assert.equal(r.status, 404, 'no route: the server answers 404 for any query');
        assert.ok(!r.json || !('processors' in r.json), `not the debug route's answer: ${r.text}`);
      }
      assert.equal((await httpGet(gw.ports.metrics, '/metrics')).status, 200, 'the metrics route is still there');
    } finally {
      if (gw) { await gw.stop(); gw.cleanup(); }
      await sink.close();
    }
  });
});
