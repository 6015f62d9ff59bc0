'use strict';
// Span metrics end to end with a real Prometheus (Debian's 2.42).
//
//   OpenTelemetry JS SDK (3 services × 5 operations, fixed error ratios and durations)
//     → tailgate: otlp receiver → spanmetrics connector → metrics pipeline
//         → prometheus exporter, scraped by Prometheus every 1 s (OpenMetrics negotiated)
//         → prometheusremotewrite into the same Prometheus (--web.enable-remote-write-receiver)
//
// Then Prometheus's HTTP API must show: the per-service rate and totals that were sent,
// the error ratio, histogram_quantile(0.95) in the bucket the durations fall in (one
// service sits exactly on a bucket bound, so inclusive `le` matters), a healthy target
// with exemplars (only parsed from OpenMetrics) that point at sent traces, and the same
// series through remote write. The exposition itself passes `promtool check metrics`
// (both ports; only the base-unit lint on …_duration_milliseconds is allowed, the Jaeger
// SPM names need it) and the strict OpenMetrics parser of python3-prometheus-client.
const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const zlib = require('node:zlib');
const { spawn, spawnSync } = require('node:child_process');
const { trace, SpanKind, SpanStatusCode } = require('@opentelemetry/api');
const { NodeTracerProvider } = require('@opentelemetry/sdk-trace-node');
const { BatchSpanProcessor } = require('@opentelemetry/sdk-trace-base');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-proto');
const { startGateway, httpGet, waitFor, delay } = require('./lib/gateway');
const { freePorts } = require('./lib/ports');

const PROMETHEUS = '/usr/bin/prometheus';
const PROMTOOL = '/usr/bin/promtool';
const PY = '/usr/bin/python3'; // Debian's, which sees python3-prometheus-client
const PROM_ACCEPT = 'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';

// The traffic: per service a duration (ms, whole: exact in the SDK's hrtime), spans per
// operation per round, and which span numbers are errors.
const SERVICES = [
  { name: 'checkout', durationMs: 30, perRound: 2, isError: () => false, bucket: [10, 50] },
  { name: 'payments', durationMs: 100, perRound: 4, isError: (k) => k % 10 === 0, bucket: [50, 100] },
  { name: 'inventory', durationMs: 700, perRound: 1, isError: (k) => k % 4 === 0, bucket: [400, 800] },
];
const OPERATIONS = ['GET /', 'GET /cart', 'POST /order', 'GET /item', 'DELETE /item'];
const ROUND_MS = 250;
const ROUNDS = 48; // 12 s of traffic
// label sets: every (service, operation) with status unset, plus an error one where errors occur
const SERIES = 3 * 5 + 2 * 5;

const have = fs.existsSync(PROMETHEUS) && fs.existsSync(PROMTOOL);
const skip = have ? false : 'Debian prometheus is not installed (scripts/install-deps.sh --test)';

async function startPrometheus(dir, scrapePort) {
  const [port] = await freePorts(1);
  const cfg = path.join(dir, 'prometheus.yml');
  fs.writeFileSync(cfg, [
    'global:',
    '  scrape_interval: 1s',
    '  scrape_timeout: 1s',
    'scrape_configs:',
    '  - job_name: tailgate',
    '    static_configs:',
    `      - targets: ['127.0.0.1:${scrapePort}']`,
    '',
  ].join('\n'));
  const proc = spawn(PROMETHEUS, [
    `--config.file=${cfg}`, `--storage.tsdb.path=${path.join(dir, 'tsdb')}`,
    `--web.listen-address=127.0.0.1:${port}`, '--web.enable-remote-write-receiver',
    '--enable-feature=exemplar-storage', '--log.level=warn',
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  proc.stdout.on('data', (c) => { log += c; });
  proc.stderr.on('data', (c) => { log += c; });
  const exited = new Promise((r) => proc.on('exit', (code, signal) => r({ code, signal })));
  const p = {
    port, proc, exited, log: () => log.slice(-4000),
    async stop() {
      try { process.kill(proc.pid, 'SIGTERM'); } catch (e) { if (e.code !== 'ESRCH') throw e; }
      const t = setTimeout(() => { try { process.kill(proc.pid, 'SIGKILL'); } catch { /* gone */ } }, 10000);
      await exited;
      clearTimeout(t);
    },
  };
  await waitFor(async () => (await httpGet(port, '/-/ready', 1000)).status === 200,
    { timeoutMs: 20000, what: 'prometheus /-/ready' });
  return p;
}

async function promQuery(prom, q) {
  const r = await httpGet(prom.port, `/api/v1/query?query=${encodeURIComponent(q)}`, 5000);
  const j = JSON.parse(r.body.toString());
  if (j.status !== 'success') throw new Error(`query ${q}: ${r.body}`);
  return j.data.result;
}

const byService = (result) => Object.fromEntries(result.map((s) => [s.metric.service_name, Number(s.value[1])]));

function makeProviders(httpPort) {
  return SERVICES.map((s) => {
    const exporter = new OTLPTraceExporter({ url: `http://127.0.0.1:${httpPort}/v1/traces` });
    const failures = [];
    const recording = {
      export(spans, cb) {
        exporter.export(spans, (r) => { if (r.code !== 0) failures.push(r.error); cb(r); });
      },
      shutdown: () => exporter.shutdown(),
      forceFlush: () => exporter.forceFlush(),
    };
    const provider = new NodeTracerProvider({
      resource: resourceFromAttributes({ 'service.name': s.name }),
      spanProcessors: [new BatchSpanProcessor(recording, { scheduledDelayMillis: 100, maxExportBatchSize: 256 })],
    });
    return { service: s, provider, tracer: provider.getTracer('spanmetrics-interop'), failures };
  });
}

describe('span metrics through a real Prometheus', { skip }, () => {
  let dir, gw, prom, promPort, sent, traceIds, providers, rateDuringTraffic, elapsedS;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tailgate-spanmetrics-'));
    [promPort] = await freePorts(1);
    // Prometheus first: its port goes into tailgate's remote-write endpoint.
    const promDir = fs.mkdtempSync(path.join(dir, 'prom-'));
    let exporterPort;
    [exporterPort] = await freePorts(1);
    prom = await startPrometheus(promDir, exporterPort);
    gw = await startGateway((ports) => ({
      receivers: { otlp: { protocols: { http: { endpoint: `127.0.0.1:${ports.http}` } } } },
      connectors: {
        spanmetrics: { exemplars: { enabled: true }, metrics_flush_interval: '1s' },
      },
      exporters: {
        prometheus: { endpoint: `127.0.0.1:${exporterPort}` },
        prometheusremotewrite: {
          endpoint: `http://127.0.0.1:${prom.port}/api/v1/write`,
          external_labels: { via: 'rw' },
        },
      },
      extensions: { health_check: { endpoint: `127.0.0.1:${ports.health}` } },
      service: {
        extensions: ['health_check'],
        telemetry: { metrics: { address: `127.0.0.1:${ports.metrics}` } },
        pipelines: {
          traces: { receivers: ['otlp'], exporters: ['spanmetrics'] },
          metrics: { receivers: ['spanmetrics'], exporters: ['prometheus', 'prometheusremotewrite'] },
        },
      },
    }));
    gw.ports.prometheus = exporterPort;

    providers = makeProviders(gw.ports.http);
    sent = {};
    traceIds = new Set();
    const counters = {};
    const t0 = Date.now();
    for (let round = 0; round < ROUNDS; round++) {
      const roundStart = Date.now();
      for (const p of providers) {
        const s = p.service;
        for (const op of OPERATIONS) {
          for (let i = 0; i < s.perRound; i++) {
            const key = `${s.name}|${op}`;
            const k = (counters[key] = (counters[key] || 0) + 1);
            const end = Date.now();
            const span = p.tracer.startSpan(op, { kind: SpanKind.SERVER, startTime: end - s.durationMs });
            const err = s.isError(k);
            if (err) span.setStatus({ code: SpanStatusCode.ERROR, message: 'boom' });
            traceIds.add(span.spanContext().traceId);
            span.end(end);
            const acc = (sent[s.name] = sent[s.name] || { total: 0, errors: 0 });
            acc.total++;
            if (err) acc.errors++;
          }
        }
      }
      if (round === ROUNDS - 4) { // traffic still flowing: the rate Prometheus sees now
        rateDuringTraffic = byService(await promQuery(prom,
          'sum by (service_name) (rate(traces_span_metrics_calls_total{job="tailgate"}[6s]))'));
      }
      const wait = ROUND_MS - (Date.now() - roundStart);
      if (wait > 0) await delay(wait);
    }
    elapsedS = (Date.now() - t0) / 1000;
    await Promise.all(providers.map((p) => p.provider.forceFlush()));
  });

  after(async () => {
    if (providers) await Promise.all(providers.map((p) => p.provider.shutdown().catch(() => {})));
    if (gw) {
      try { await gw.stop(); } finally { await gw.kill(); gw.cleanup(); }
    }
    if (prom) await prom.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('every SDK export succeeded', () => {
    for (const p of providers) assert.deepEqual(p.failures, [], p.service.name);
  });

  test('totals and rates by service match what was sent', async () => {
    const want = Object.fromEntries(Object.entries(sent).map(([k, v]) => [k, v.total]));
    const got = await waitFor(async () => {
      const r = byService(await promQuery(prom, 'sum by (service_name) (traces_span_metrics_calls_total{job="tailgate"})'));
      return JSON.stringify(r) === JSON.stringify({ ...r, ...want }) && Object.keys(r).length === 3 ? r : null;
    }, { timeoutMs: 20000, intervalMs: 500, what: `scraped totals ${JSON.stringify(want)}` });
    assert.deepEqual(got, want);
    // rate: each service's nominal spans/s, scaled by how fast the rounds really ran
    for (const s of SERVICES) {
      const expected = sent[s.name].total / elapsedS;
      const r = rateDuringTraffic[s.name];
      assert.ok(r > expected * 0.7 && r < expected * 1.3,
        `rate(${s.name}) ${r} within 30 % of the ${expected.toFixed(1)}/s sent`);
    }
  });

  test('error ratio by service', async () => {
    const r = byService(await promQuery(prom,
      'sum by (service_name) (traces_span_metrics_calls_total{job="tailgate",status_code="STATUS_CODE_ERROR",span_kind="SPAN_KIND_SERVER"})'
      + ' / sum by (service_name) (traces_span_metrics_calls_total{job="tailgate"})'));
    for (const s of SERVICES) {
      const want = sent[s.name].errors / sent[s.name].total;
      if (want === 0) assert.equal(r[s.name], undefined, `${s.name} has no error series`);
      else assert.ok(Math.abs(r[s.name] - want) < 1e-9, `${s.name} error ratio ${r[s.name]} = ${want}`);
    }
    assert.ok(sent.payments.errors > 0 && sent.inventory.errors > sent.payments.errors / 4);
  });

  test('histogram_quantile(0.95) lands in the bucket of the durations', async () => {
    const r = byService(await promQuery(prom,
      'histogram_quantile(0.95, sum by (le, service_name) (rate(traces_span_metrics_duration_milliseconds_bucket{job="tailgate"}[20s])))'));
    for (const s of SERVICES) {
      const [lo, hi] = s.bucket;
      assert.ok(r[s.name] > lo && r[s.name] <= hi, `${s.name} p95 ${r[s.name]} in (${lo}, ${hi}]`);
    }
  });

  test('target healthy with OpenMetrics: exemplars point at sent traces', async () => {
    const t = JSON.parse((await httpGet(prom.port, '/api/v1/targets', 5000)).body.toString());
    const target = t.data.activeTargets.find((x) => x.labels.job === 'tailgate');
    assert.equal(target.health, 'up', target.lastError);
    assert.equal(target.lastError, '');
    const now = Date.now() / 1000;
    const q = encodeURIComponent('traces_span_metrics_duration_milliseconds_bucket{job="tailgate"}');
    const ex = JSON.parse((await httpGet(prom.port, `/api/v1/query_exemplars?query=${q}&start=${now - 120}&end=${now + 10}`, 5000)).body.toString());
    const all = ex.data.flatMap((s) => s.exemplars.map((e) => ({ series: s.seriesLabels, e })));
    assert.ok(all.length > 0, 'Prometheus stored exemplars (it parses them only from OpenMetrics)');
    for (const { series, e } of all) {
      assert.ok(traceIds.has(e.labels.trace_id), `exemplar trace ${e.labels.trace_id} was sent`);
      assert.match(e.labels.span_id, /^[0-9a-f]{16}$/);
      const svc = SERVICES.find((s) => s.name === series.service_name);
      assert.equal(Number(e.value), svc.durationMs, 'exemplar value is the span duration');
      assert.ok(Number(e.value) <= Number(series.le), 'exemplar sits in its bucket');
    }
  });

  test('OpenMetrics output passes the strict python3-prometheus-client parser', async () => {
    const r = await httpGet(gw.ports.prometheus, '/metrics', 5000);
    const res = await new Promise((resolve, reject) => {
      const http = require('node:http');
      const req = http.get({ host: '127.0.0.1', port: gw.ports.prometheus, path: '/metrics', headers: { accept: PROM_ACCEPT }, agent: false }, (resp) => {
        const chunks = [];
        resp.on('data', (c) => chunks.push(c));
        resp.on('end', () => resolve({ headers: resp.headers, body: Buffer.concat(chunks) }));
      });
      req.on('error', reject);
    });
    assert.equal(r.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
    assert.equal(res.headers['content-type'], 'application/openmetrics-text; version=1.0.0; charset=utf-8');
    const text = res.body.toString();
    assert.ok(text.endsWith('# EOF\n'));
    const script = [
      'import sys',
      'from prometheus_client.openmetrics.parser import text_string_to_metric_families',
      'fams = list(text_string_to_metric_families(sys.stdin.read()))',
      'ex = sum(1 for f in fams for s in f.samples if s.exemplar)',
      'print(len(fams), sum(len(f.samples) for f in fams), ex)',
    ].join('\n');
    const py = spawnSync(PY, ['-c', script], { input: text, encoding: 'utf8', timeout: 30000 });
    assert.equal(py.status, 0, `openmetrics parser: ${py.stderr}`);
    const [families, samples] = py.stdout.trim().split(' ').map(Number);
    assert.equal(families, 2);
    // 25 label sets: 3 services x 5 operations, and an error series for 2 of the services
    assert.equal(samples, SERIES * (1 + 19), 'per label set: 1 counter + 16 buckets, +Inf, sum, count');
  });

  test('promtool check metrics passes on both ports (but the base-unit lint)', async () => {
    for (const [port, what] of [[gw.ports.prometheus, 'span metrics'], [gw.ports.metrics, 'self-metrics']]) {
      const r = await httpGet(port, '/metrics', 5000);
      assert.equal(r.status, 200);
      const pt = spawnSync(PROMTOOL, ['check', 'metrics'], { input: r.body, encoding: 'utf8', timeout: 30000 });
      const lints = `${pt.stdout}${pt.stderr}`.split('\n').filter((l) => l.trim());
      const other = lints.filter((l) => !/_duration_milliseconds.*use base unit "seconds" instead of "milliseconds"/.test(l));
      assert.ok(pt.status === 0 || (pt.status === 3 && other.length === 0), `${what}: promtool rc ${pt.status}: ${other.join('\n')}`);
      if (what === 'self-metrics') {
        const body = r.body.toString();
        assert.match(body, /^tailgate_dependency_health\{dependency="prometheusremotewrite"\} 1$/m);
        assert.match(body, /^process_cpu_seconds_total [0-9.]+$/m);
        assert.match(body, /^process_resident_memory_bytes [0-9]+$/m);
        assert.match(body, /^process_open_fds [0-9]+$/m);
        assert.match(body, /^tailgate_spanmetrics_series\{component="spanmetrics"\} 25$/m);
      }
    }
  });

  test('gzip when the scraper accepts it', async () => {
    const res = await new Promise((resolve, reject) => {
      const http = require('node:http');
      const req = http.get({ host: '127.0.0.1', port: gw.ports.prometheus, path: '/metrics', headers: { 'accept-encoding': 'gzip' }, agent: false }, (resp) => {
        const chunks = [];
        resp.on('data', (c) => chunks.push(c));
        resp.on('end', () => resolve({ headers: resp.headers, body: Buffer.concat(chunks) }));
      });
      req.on('error', reject);
    });
    assert.equal(res.headers['content-encoding'], 'gzip');
    const text = zlib.gunzipSync(res.body).toString();
    assert.match(text, /^traces_span_metrics_calls_total\{service_name="payments",span_name="GET \/",span_kind="SPAN_KIND_SERVER",status_code="STATUS_CODE_ERROR"\} \d+$/m);
  });

  test('remote write yields the same series and totals', async () => {
    const want = Object.fromEntries(Object.entries(sent).map(([k, v]) => [k, v.total]));
    await waitFor(async () => {
      const r = byService(await promQuery(prom, 'sum by (service_name) (traces_span_metrics_calls_total{via="rw"})'));
      return JSON.stringify(r) === JSON.stringify({ ...r, ...want }) && Object.keys(r).length === 3;
    }, { timeoutMs: 20000, intervalMs: 500, what: `remote-written totals ${JSON.stringify(want)}` });
    const series = async (sel) => {
      const r = await httpGet(prom.port, `/api/v1/series?match[]=${encodeURIComponent(sel)}`, 5000);
      return JSON.parse(r.body.toString()).data.map((m) => {
        const { job, instance, via, ...rest } = m;
        void job; void instance; void via;
        return JSON.stringify(Object.keys(rest).sort().map((k) => [k, rest[k]]));
      }).sort();
    };
    const scraped = await series('{__name__=~"traces_span_metrics_.+",job="tailgate"}');
    const pushed = await series('{__name__=~"traces_span_metrics_.+",via="rw"}');
    assert.equal(scraped.length, SERIES * (1 + 19));
    assert.deepEqual(pushed, scraped);
  });
});
