'use strict';
// Span metrics to OTLP metrics backends, black box: tailgate's otlp exporter (gRPC) and
// otlphttp exporter (HTTP) at the end of metrics pipelines, received by a sink that
// decodes with the official OTLP schema (lib/metrics_sink.js).
//
//   raw OTLP/HTTP spans (exact nanosecond durations) → otlp receiver
//     → spanmetrics/delta  (AGGREGATION_TEMPORALITY_DELTA, histogram.exponential,
//                           resource_metrics_key_attributes) → otlp (gRPC)
//     → spanmetrics/cum    (cumulative, buckets [100us, 1ms, 2ms, 6ms, 10ms, 100ms, 250ms],
//                           Jaeger's SPM example) → otlphttp
//
// Asserted exactly: names, units, temporality, resource vs point attributes, the counts and
// sums; the delta counts reset per flush (the second batch reports only its own spans,
// starting where an earlier interval ended) while the cumulative ones keep adding up; the
// exponential buckets equal the data model's mapping computed here independently (the
// largest scale <= 20 at which the values fit max_size buckets, index ceil(log2(v)·2^s)−1);
// and the explicit sub-millisecond buckets. Plus validate's positioned refusals.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const http = require('node:http');
const { spawnSync } = require('node:child_process');
const root = require('otlp-transformer-root/build/src/generated/root.js');
const { BIN, startGateway, waitFor } = require('./lib/gateway');
const { MetricsSink } = require('./lib/metrics_sink');

const TraceReq = root.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;
const FLUSH = '300ms';
const MAX_SIZE = 20; // small, so the scale must drop below 20 for these values
const BOUNDS = [0.1, 1, 2, 6, 10, 100, 250];
const BATCH1_NS = [50000, 500000, 1000000, 3000000, 3000000, 150000000]; // 0.05 … 150 ms
const BATCH2_NS = [7000000, 7000000];

let sink;
let gw;

before(async () => {
  sink = await new MetricsSink().start();
  gw = await startGateway((ports) => ({
    receivers: { otlp: { protocols: { http: { endpoint: `127.0.0.1:${ports.http}` } } } },
    connectors: {
      'spanmetrics/delta': {
        aggregation_temporality: 'AGGREGATION_TEMPORALITY_DELTA',
        histogram: { exponential: { max_size: MAX_SIZE } },
        resource_metrics_key_attributes: ['deployment.environment'],
        metrics_flush_interval: FLUSH,
        delta_temporality: { metric_timestamp_cache_size: 1000 },
        exemplars: { max_per_data_point: 2 },
      },
      'spanmetrics/cum': {
        histogram: { explicit: { buckets: ['100us', '1ms', '2ms', '6ms', '10ms', '100ms', '250ms'] } },
        metrics_flush_interval: FLUSH,
      },
    },
    exporters: {
      'otlp/sink': { endpoint: `127.0.0.1:${sink.grpcPort}`, tls: { insecure: true } },
      'otlphttp/sink': { endpoint: `http://127.0.0.1:${sink.httpPort}` },
    },
    extensions: { health_check: { endpoint: `127.0.0.1:${ports.health}` } },
    service: {
      extensions: ['health_check'],
      telemetry: { metrics: { address: `127.0.0.1:${ports.metrics}` } },
      pipelines: {
        traces: { receivers: ['otlp'], exporters: ['spanmetrics/delta', 'spanmetrics/cum'] },
        'metrics/delta': { receivers: ['spanmetrics/delta'], exporters: ['otlp/sink'] },
        'metrics/cum': { receivers: ['spanmetrics/cum'], exporters: ['otlphttp/sink'] },
      },
    },
  }));
});

after(async () => {
  if (gw) { await gw.kill(); gw.cleanup(); }
  if (sink) await sink.close();
});

let spanSeq = 0;
function post(durationsNs) {
  const start = BigInt(Date.now()) * 1000000n;
  const spans = durationsNs.map((d) => {
    spanSeq++;
    return {
      traceId: Buffer.from(String(spanSeq).padStart(32, '0'), 'hex'),
      spanId: Buffer.from(String(spanSeq).padStart(16, '0'), 'hex'),
      name: 'GET /cart', kind: 2,
      startTimeUnixNano: String(start), endTimeUnixNano: String(start + BigInt(d)),
    };
  });
  const body = Buffer.from(TraceReq.encode(TraceReq.fromObject({ resourceSpans: [{
    resource: { attributes: [
      { key: 'service.name', value: { stringValue: 'checkout' } },
      { key: 'deployment.environment', value: { stringValue: 'prod' } },
    ] },
    scopeSpans: [{ spans }],
  }] })).finish());
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: gw.ports.http, path: '/v1/traces', method: 'POST',
      headers: { 'content-type': 'application/x-protobuf' } }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end(body);
  });
}

// ---- the data model's exponential mapping, written independently -------------------------
function indexAt(v, scale) {
  const l = Math.log2(v);
  if (Number.isInteger(l)) return scale >= 0 ? l * 2 ** scale - 1 : Math.floor((l - 1) / 2 ** -scale);
  return scale >= 0 ? Math.ceil(l * 2 ** scale) - 1 : Math.floor(Math.floor(l) / 2 ** -scale);
}
function expectedExp(valuesMs, maxSize) {
  for (let s = 20; s >= -10; s--) {
    const idx = valuesMs.map((v) => indexAt(v, s));
    const lo = Math.min(...idx);
    const hi = Math.max(...idx);
    if (hi - lo + 1 <= maxSize) {
      const counts = new Array(hi - lo + 1).fill(0);
      for (const i of idx) counts[i - lo]++;
      return { scale: s, offset: lo, counts };
    }
  }
  throw new Error('no scale fits');
}

const sumOf = (ns) => ns.reduce((a, d) => a + d / 1e6, 0);
const deltaPoints = (metric) => sink.points().filter((p) => p.transport === 'grpc' && p.metric === metric);
const cumPoints = (metric) => sink.points().filter((p) => p.transport === 'http' && p.metric === metric);

test('span metrics reach OTLP sinks: delta + exponential over gRPC, cumulative sub-ms buckets over HTTP', async () => {
  await post(BATCH1_NS);
  await waitFor(() => deltaPoints('traces.span.metrics.calls').length >= 1 &&
    cumPoints('traces.span.metrics.duration').some((p) => Number(p.point.count) === 6),
  { timeoutMs: 10000, what: 'the first flush at both sinks' });
  assert.deepEqual(sink.errors, []);

  // delta, gRPC: one calls point and one exponential histogram point for the 6 spans
  const [calls] = deltaPoints('traces.span.metrics.calls');
  assert.equal(calls.kind, 'sum');
  assert.equal(calls.temporality, 1); // AGGREGATION_TEMPORALITY_DELTA
  assert.equal(calls.monotonic, true);
  assert.equal(Number(calls.point.asInt), 6);
  assert.deepEqual(calls.resource, { 'service.name': 'checkout', 'deployment.environment': 'prod' });
  assert.deepEqual(calls.attrs, { 'service.name': 'checkout', 'span.name': 'GET /cart',
    'span.kind': 'SPAN_KIND_SERVER', 'status.code': 'STATUS_CODE_UNSET' });
  assert.equal(calls.scope, 'tailgate.spanmetrics');
  const [dur] = deltaPoints('traces.span.metrics.duration');
  assert.equal(dur.kind, 'exponentialHistogram');
  assert.equal(dur.unit, 'ms');
  assert.equal(dur.temporality, 1);
  assert.equal(Number(dur.point.count), 6);
  assert.ok(Math.abs(dur.point.sum - sumOf(BATCH1_NS)) < 1e-9, `sum ${dur.point.sum}`);
  const want = expectedExp(BATCH1_NS.map((d) => d / 1e6), MAX_SIZE);
  assert.ok(want.scale < 20, 'the test values must force a downscale');
  assert.equal(dur.point.scale, want.scale);
  assert.equal(Number(dur.point.zeroCount), 0);
  assert.equal(dur.point.positive.offset, want.offset);
  assert.deepEqual(dur.point.positive.bucketCounts.map(Number), want.counts);

  // cumulative, HTTP: explicit bounds in ms, le inclusive (1ms falls in the 1ms bucket)
  const c1 = cumPoints('traces.span.metrics.duration').find((p) => Number(p.point.count) === 6);
  assert.equal(c1.kind, 'histogram');
  assert.equal(c1.temporality, 2); // CUMULATIVE
  assert.deepEqual(c1.point.explicitBounds, BOUNDS);
  assert.deepEqual(c1.point.bucketCounts.map(Number), [1, 2, 0, 2, 0, 0, 1, 0]);
  assert.deepEqual(c1.resource, { 'service.name': 'checkout' });

  // second batch: delta reports only these 2 spans, cumulative 8
  const seen = deltaPoints('traces.span.metrics.calls').length;
  const lastTime = BigInt(deltaPoints('traces.span.metrics.calls').at(-1).point.timeUnixNano);
  await post(BATCH2_NS);
  await waitFor(() => deltaPoints('traces.span.metrics.calls').length > seen &&
    cumPoints('traces.span.metrics.calls').some((p) => Number(p.point.asInt) === 8),
  { timeoutMs: 10000, what: 'the second batch at both sinks' });
  const d2 = deltaPoints('traces.span.metrics.calls').slice(seen);
  assert.deepEqual(d2.map((p) => Number(p.point.asInt)), [2], 'delta: reset after each flush');
  const start2 = BigInt(d2[0].point.startTimeUnixNano);
  assert.ok(start2 >= lastTime && start2 < BigInt(d2[0].point.timeUnixNano),
    `delta interval starts where an earlier one ended (${start2} vs ${lastTime})`);
  const dur2 = deltaPoints('traces.span.metrics.duration').slice(seen);
  assert.equal(Number(dur2[0].point.count), 2);
  assert.ok(Math.abs(dur2[0].point.sum - 14) < 1e-9);
  const w2 = expectedExp([7, 7], MAX_SIZE);
  assert.equal(dur2[0].point.scale, w2.scale); // a new interval starts at scale 20 again
  assert.deepEqual(dur2[0].point.positive.bucketCounts.map(Number), w2.counts);
  // every cumulative calls point counts from the same start
  const cum = cumPoints('traces.span.metrics.calls');
  assert.equal(new Set(cum.map((p) => p.point.startTimeUnixNano)).size, 1);
  assert.ok(cum.every((p, i) => i === 0 || Number(p.point.asInt) >= Number(cum[i - 1].point.asInt)));
  await gw.stop();
});

function validate(yaml) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tg-otlpm-'));
  const file = path.join(dir, 'c.yaml');
  fs.writeFileSync(file, yaml);
  const r = spawnSync(BIN, ['validate', file], { encoding: 'utf8', timeout: 10000 });
  fs.rmSync(dir, { recursive: true, force: true });
  return { status: r.status, out: (r.stdout + r.stderr).replaceAll(file, 'c.yaml') };
}

const CFG = (connector, exporter) => `receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:4318
connectors:
  spanmetrics:
${connector}
exporters:
${exporter}
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [spanmetrics]
    metrics:
      receivers: [spanmetrics]
      exporters: [out]
`;

test('validate: delta or exponential into prometheus is refused at the exporter, saying why', () => {
  const prom = '  prometheus/out:\n    endpoint: 127.0.0.1:9464\n';
  const fix = (s) => s.replace('exporters: [out]', 'exporters: [prometheus/out]');
  let r = validate(fix(CFG('    aggregation_temporality: AGGREGATION_TEMPORALITY_DELTA', prom)));
  assert.equal(r.status, 1);
  assert.match(r.out, /^c\.yaml:20:19: service::pipelines::metrics: exporter "prometheus\/out" cannot take the metrics of "spanmetrics": they use delta temporality .*Prometheus scrapes cumulative counters/m);
  r = validate(fix(CFG('    histogram:\n      exponential:\n        max_size: 80', prom)));
  assert.equal(r.status, 1);
  assert.match(r.out, /^c\.yaml:22:19: .*they use exponential histograms \(histogram\.exponential\)/m);
  // the same connector into an OTLP exporter is fine
  const otlp = '  otlp/out:\n    endpoint: 127.0.0.1:4317\n    tls:\n      insecure: true\n';
  r = validate(CFG('    aggregation_temporality: AGGREGATION_TEMPORALITY_DELTA\n    histogram:\n      exponential:', otlp)
    .replace('exporters: [out]', 'exporters: [otlp/out]'));
  assert.equal(r.status, 0, r.out);
});

test('validate: sub-millisecond buckets load; zero, unordered and mixed histograms are refused with positions', () => {
  const otlp = '  otlp/out:\n    endpoint: 127.0.0.1:4317\n    tls:\n      insecure: true\n';
  const fix = (s) => s.replace('exporters: [out]', 'exporters: [otlp/out]');
  let r = validate(fix(CFG('    histogram:\n      explicit:\n        buckets: [100us, 1ms, 2ms, 6ms, 10ms, 100ms, 250ms]', otlp)));
  assert.equal(r.status, 0, r.out);
  r = validate(fix(CFG('    histogram:\n      explicit:\n        buckets: [500us, 0.5ms]', otlp)));
  assert.equal(r.status, 1);
  assert.match(r.out, /^c\.yaml:10:26: .*histogram\.explicit\.buckets\[1\]: buckets must be strictly ascending/m);
  r = validate(fix(CFG('    histogram:\n      explicit:\n        buckets: [0us]', otlp)));
  assert.match(r.out, /^c\.yaml:10:19: .*buckets\[0\]: expected a positive duration/m);
  r = validate(fix(CFG('    histogram:\n      exponential:\n      explicit:\n        buckets: [1ms]', otlp)));
  assert.equal(r.status, 1);
  assert.match(r.out, /histogram: use either explicit or exponential, not both/);
  r = validate(fix(CFG('    histogram:\n      exponential:\n        max_size: 2', otlp)));
  assert.match(r.out, /max_size/);
});
