'use strict';
// Runaway span-metrics cardinality, black box, through the embedded default (no config
// file; listeners moved to free loopback ports by lib/default_env.js).
//
// 200,000 spans with unique names from 500 services are posted as raw OTLP/HTTP protobuf
// requests of 5,000 spans each (the SDK would take minutes for that many): first one
// runaway service alone (40,000 names: it would take the whole budget without the
// per-service share), then the other 499 services, each request also carrying spans of a
// well-behaved service ("checkout", 4 fixed label sets). The expected series, overflow and
// per-service counts come from a model of the documented budget rules, walked here over
// the same spans in the same order. Asserted: series <= limit, the overflow counter (self-
// metrics) and the otel_metric_overflow="true" series equal the spans that did not fit,
// checkout's RED counts are exact, every scrape (text and OpenMetrics, with and without
// gzip, two taken while spans are still arriving) answers 200, streamed, and passes the
// validator of its format (`promtool check metrics` for text, python3-prometheus-client's
// strict parser for OpenMetrics), the warnings are logged once, and RSS grows by less
// than RSS_BOUND_MB.
//
// Speed: the validators need ~1 s per 1,000 series (OpenMetrics parser) and the default
// limit of 10,000 would make this a minutes-long test, so the budget is lowered through the
// default's own variables (TAILGATE_SPANMETRICS_CARDINALITY_LIMIT=2000, _SERIES_PER_SERVICE
// =200; same code path); the default's values themselves are checked in print-default-config.
// A 10,000- and 100,000-series scrape is measured in bench/ (docs/BENCHMARKS.md).
const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const zlib = require('node:zlib');
const { spawn, spawnSync } = require('node:child_process');
const root = require('otlp-transformer-root/build/src/generated/root.js');
const { BIN, httpGet, waitFor } = require('./lib/gateway');
const { defaultListenerEnv } = require('./lib/default_env');

const ExportTraceServiceRequest = root.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;
const PY = '/usr/bin/python3';
const PROMTOOL = 'promtool';
const OM_ACCEPT = 'application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5';

const LIMIT = 2000;         // aggregation_cardinality_limit (default 10000, see above)
const PER_SERVICE = 200;    // max_series_per_service (default 1000)
const TOTAL = 200000;       // runaway spans (unique names)
const SERVICES = 500;
const PER_REQUEST = 5000;
const RUNAWAY_FIRST = 40000; // svc-000's spans, sent before everything else
const RSS_BOUND_MB = 100;    // documented in README (span metrics + tail-sampling buffers)

const CHECKOUT = [
  { name: 'GET /cart', kind: 2, status: 0 },
  { name: 'POST /pay', kind: 2, status: 1 },
  { name: 'POST /pay', kind: 2, status: 2 },
  { name: 'charge card', kind: 3, status: 0 },
];
const KIND = ['SPAN_KIND_UNSPECIFIED', 'SPAN_KIND_INTERNAL', 'SPAN_KIND_SERVER', 'SPAN_KIND_CLIENT'];
const STATUS = ['STATUS_CODE_UNSET', 'STATUS_CODE_OK', 'STATUS_CODE_ERROR'];

// ---- the spans, in send order ----------------------------------------------------------
// Each request: {groups: [{service, spans: [{name, kind, status}]}]}; checkout first.
function plan() {
  const requests = [];
  let n = 0;
  for (; n < RUNAWAY_FIRST; n += PER_REQUEST) {
    const spans = [];
    for (let i = n; i < n + PER_REQUEST; i++) spans.push({ name: `GET /user/${i}-a1f3`, kind: 2, status: 0 });
    requests.push([{ service: 'svc-000', spans }]);
  }
  let k = 0;
  for (; n < TOTAL; n += PER_REQUEST) {
    const byService = new Map();
    for (let i = n; i < n + PER_REQUEST; i++, k++) {
      const svc = `svc-${String(1 + (k % (SERVICES - 1))).padStart(3, '0')}`;
      if (!byService.has(svc)) byService.set(svc, []);
      byService.get(svc).push({ name: `GET /order/${i}`, kind: 2, status: 0 });
    }
    const checkout = [];
    for (let j = 0; j < 40; j++) checkout.push(CHECKOUT[j % CHECKOUT.length]);
    requests.push([{ service: 'checkout', spans: checkout },
      ...[...byService].map(([service, spans]) => ({ service, spans }))]);
  }
  return requests;
}

// The documented budget, walked over the same spans: a new label set gets a series while
// the table holds fewer than LIMIT and its service fewer than PER_SERVICE; otherwise it
// counts in the overflow series.
function model(requests) {
  const series = new Map(); // key -> count
  const perService = new Map();
  let overflow = 0;
  for (const req of requests) {
    for (const g of req) {
      for (const s of g.spans) {
        const key = `${g.service}\u0000${s.name}\u0000${KIND[s.kind]}\u0000${STATUS[s.status]}`;
        if (series.has(key)) { series.set(key, series.get(key) + 1); continue; }
        const held = perService.get(g.service) || 0;
        if (series.size >= LIMIT || held >= PER_SERVICE) { overflow++; continue; }
        series.set(key, 1);
        perService.set(g.service, held + 1);
      }
    }
  }
  return { series, perService, overflow };
}

function encode(req, reqIndex) {
  let spanNo = 0;
  const resourceSpans = req.map((g) => ({
    resource: { attributes: [{ key: 'service.name', value: { stringValue: g.service } }] },
    scopeSpans: [{
      scope: { name: 'cardinality-interop' },
      spans: g.spans.map((s) => {
        const n = spanNo++;
        const traceId = Buffer.alloc(16);
        traceId.writeUInt32BE(reqIndex + 1, 8);
        traceId.writeUInt32BE(Math.floor(n / 100) + 1, 12); // 100 spans per trace
        const spanId = Buffer.alloc(8);
        spanId.writeUInt32BE(reqIndex + 1, 0);
        spanId.writeUInt32BE(n + 1, 4);
        const start = 1700000000000000000n + BigInt(n) * 1000n;
        return {
          traceId, spanId, name: s.name, kind: s.kind,
          startTimeUnixNano: start.toString(), endTimeUnixNano: (start + 3000000n).toString(),
          status: { code: s.status },
        };
      }),
    }],
  }));
  return ExportTraceServiceRequest.encode(ExportTraceServiceRequest.fromObject({ resourceSpans })).finish();
}

function post(port, body) {
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1', port, path: '/v1/traces', method: 'POST', agent: false,
      headers: { 'content-type': 'application/x-protobuf', 'content-length': body.length },
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

// Retries while the gateway pushes back (429/503), as an OTLP client must.
async function send(port, body) {
  const deadline = Date.now() + 30000;
  for (;;) {
    const r = await post(port, body);
    if (r.status === 200) return;
    assert.ok([429, 503].includes(r.status) && Date.now() < deadline, `POST /v1/traces: ${r.status} ${r.body}`);
    await new Promise((res) => setTimeout(res, 50));
  }
}

function scrape(port, { accept, gzip }) {
  return new Promise((resolve, reject) => {
    const headers = {};
    if (accept) headers.accept = accept;
    if (gzip) headers['accept-encoding'] = 'gzip';
    const req = http.get({ host: '127.0.0.1', port, path: '/metrics', headers, agent: false, timeout: 60000 }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, raw: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('scrape timeout')));
    req.on('error', reject);
  });
}

// One scrape checked whole: 200, streamed (chunked), decoded, and valid for promtool
// (text) or the strict OpenMetrics parser. Returns the text.
async function checkedScrape(port, { om, gzip, validate = true }) {
  const t0 = Date.now();
  const r = await scrape(port, { accept: om ? OM_ACCEPT : null, gzip });
  const t1 = Date.now();
  try { return checkBody(r, { om, gzip, validate }); } finally { console.log(`# scrape ${om ? 'om' : 'text'}${gzip ? '+gz' : ''} ${r.raw.length} B: ${t1 - t0} ms, check ${Date.now() - t1} ms`); }
}

// validate = false: only for a body compared byte for byte with a validated one.
function checkBody(r, { om, gzip, validate }) {
  const what = `${om ? 'OpenMetrics' : 'text'}${gzip ? '+gzip' : ''}`;
  assert.equal(r.status, 200, `${what}: ${r.raw.slice(0, 200)}`);
  assert.equal(r.headers['transfer-encoding'], 'chunked', `${what} is streamed`);
  assert.equal(r.headers['content-encoding'], gzip ? 'gzip' : undefined);
  const text = (gzip ? zlib.gunzipSync(r.raw) : r.raw).toString();
  if (!validate) return text;
  if (om) {
    assert.ok(text.endsWith('# EOF\n'), `${what} ends with # EOF`);
    const script = [
      'import sys',
      'from prometheus_client.openmetrics.parser import text_string_to_metric_families',
      'fams = list(text_string_to_metric_families(sys.stdin.read()))',
      'print(len(fams), sum(len(f.samples) for f in fams))',
    ].join('\n');
    const py = spawnSync(PY, ['-c', script], { input: text, encoding: 'utf8', timeout: 120000, maxBuffer: 1 << 20 });
    assert.equal(py.status, 0, `${what}: openmetrics parser: ${py.stderr}`);
  } else {
    const pt = spawnSync(PROMTOOL, ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 120000 });
    const lints = `${pt.stdout}${pt.stderr}`.split('\n').filter((l) => l.trim());
    const other = lints.filter((l) => !/_duration_milliseconds.*use base unit "seconds" instead of "milliseconds"/.test(l));
    assert.ok(pt.status === 0 || (pt.status === 3 && other.length === 0), `${what}: promtool rc ${pt.status}: ${other.slice(0, 5).join('\n')}`);
  }
  return text;
}

// calls_total samples: Map label-text -> value.
function callsSeries(text) {
  const out = new Map();
  const re = /^traces_span_metrics_calls_total\{(.*)\} (\d+)/;
  for (const line of text.split('\n')) {
    const m = re.exec(line);
    if (m) out.set(m[1], Number(m[2]));
  }
  return out;
}

function rssKb(pid) {
  const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(s)[1]);
}

function selfMetric(body, re) {
  const m = re.exec(body);
  assert.ok(m, `self-metrics match ${re}`);
  return Number(m[1]);
}

test('the embedded default bounds span metrics: 10000 series, 1000 per service, 5m expiry', () => {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('TAILGATE_SPANMETRICS_')) delete env[k];
  const r = spawnSync(BIN, ['print-default-config'], { encoding: 'utf8', env, timeout: 5000 });
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.split('\n');
  const at = lines.indexOf('  spanmetrics:');
  assert.ok(at > 0);
  const section = [];
  for (let i = at + 1; i < lines.length && lines[i].startsWith('    '); i++) section.push(lines[i].trim());
  for (const want of ['aggregation_cardinality_limit: ${env:TAILGATE_SPANMETRICS_CARDINALITY_LIMIT:-10000}',
    'max_series_per_service: ${env:TAILGATE_SPANMETRICS_SERIES_PER_SERVICE:-1000}',
    'metrics_expiration: ${env:TAILGATE_SPANMETRICS_EXPIRATION:-5m}']) assert.ok(section.includes(want), `${want} in\n${section.join('\n')}`);
});

test('runaway span names: bounded series, exact overflow, exact RED for a well-behaved service, every scrape valid', { timeout: 300000 }, async () => {
  const requests = plan();
  const expected = model(requests);
  assert.equal(requests.reduce((n, r) => n + r.reduce((m, g) => m + (g.service === 'checkout' ? 0 : g.spans.length), 0), 0), TOTAL);
  assert.equal(new Set(requests.flatMap((r) => r.map((g) => g.service)).filter((s) => s !== 'checkout')).size, SERVICES);
  const bodies = requests.map(encode);

  const { ports, env: listenerEnv } = await defaultListenerEnv();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tailgate-cardinality-'));
  const env = { ...listenerEnv, TAILGATE_DECISION_WAIT: '1s', TAILGATE_PSEUDONYM_KEY: 'cardinality-interop-key-0123456789',
    TAILGATE_SPANMETRICS_CARDINALITY_LIMIT: String(LIMIT), TAILGATE_SPANMETRICS_SERIES_PER_SERVICE: String(PER_SERVICE) };
  const proc = spawn(BIN, [], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let exit = null;
  proc.stdout.on('data', (c) => { stdout += c; });
  proc.stderr.on('data', (c) => { stderr += c; });
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => { exit = { code, signal }; resolve(); }));
  try {
    await waitFor(async () => {
      if (exit) throw Object.assign(new Error(`tailgate exited: ${stdout}${stderr}`), { fatal: true });
      return (await httpGet(ports.health, '/health/ready', 500)).status === 200;
    }, { timeoutMs: 10000, what: 'tailgate /health/ready' });
    const rss0 = rssKb(proc.pid);
    let rssMax = rss0;

    // the runaway burst, then a scrape taken while the rest is being sent
    let i = 0;
    for (; i < RUNAWAY_FIRST / PER_REQUEST; i++) await send(ports.otlpHttp, bodies[i]);
    const sending = (async () => {
      for (; i < bodies.length; i++) {
        await send(ports.otlpHttp, bodies[i]);
        rssMax = Math.max(rssMax, rssKb(proc.pid));
      }
    })();
    const during = await Promise.all([
      checkedScrape(ports.prometheus, { om: false, gzip: true }),
      checkedScrape(ports.prometheus, { om: true, gzip: false }),
    ]);
    await sending;
    for (const t of during) assert.ok(callsSeries(t).size <= LIMIT + 1);

    // every span is counted once the batch left span metrics: wait for the final total
    const expectedCalls = TOTAL + (requests.length - RUNAWAY_FIRST / PER_REQUEST) * 40;
    await waitFor(async () => {
      const r = await httpGet(ports.metrics, '/metrics', 5000);
      const m = /^tailgate_spanmetrics_overflow_spans_total\{component="spanmetrics"\} (\d+)$/m.exec(r.body.toString());
      return m && Number(m[1]) === expected.overflow;
    }, { timeoutMs: 20000, what: `overflow counter = ${expected.overflow}` });

    const texts = [];
    for (const om of [false, true]) for (const gzip of [false, true]) texts.push(await checkedScrape(ports.prometheus, { om, gzip, validate: !gzip }));
    rssMax = Math.max(rssMax, rssKb(proc.pid));

    const calls = callsSeries(texts[0]);
    const overflowKey = 'otel_metric_overflow="true"';
    assert.equal(calls.size, LIMIT + 1, 'the limit, plus the overflow series');
    assert.equal(calls.get(overflowKey), expected.overflow, 'the overflow series counts the spans that did not fit');
    let sum = 0;
    for (const v of calls.values()) sum += v;
    assert.equal(sum, expectedCalls, 'every span is counted once');
    // the series held are exactly the model's, with its counts
    const got = new Map([...calls].filter(([k]) => k !== overflowKey));
    const want = new Map([...expected.series].map(([k, v]) => {
      const [svc, name, kind, status] = k.split('\u0000');
      return [`service_name="${svc}",span_name="${name}",span_kind="${kind}",status_code="${status}"`, v];
    }));
    assert.deepEqual(new Set(got.keys()), new Set(want.keys()));
    for (const [k, v] of want) assert.equal(got.get(k), v, k);
    // checkout: exact RED counts (calls, and the histogram's count and sum: 3 ms each)
    const perCheckout = (requests.length - RUNAWAY_FIRST / PER_REQUEST) * 10;
    for (const c of CHECKOUT) {
      const labels = `service_name="checkout",span_name="${c.name}",span_kind="${KIND[c.kind]}",status_code="${STATUS[c.status]}"`;
      assert.equal(got.get(labels), perCheckout, labels);
      const esc = labels.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
      assert.match(texts[0], new RegExp(`^traces_span_metrics_duration_milliseconds_count\\{${esc}\\} ${perCheckout}$`, 'm'));
      assert.match(texts[0], new RegExp(`^traces_span_metrics_duration_milliseconds_sum\\{${esc}\\} ${perCheckout * 3}$`, 'm'));
      assert.match(texts[0], new RegExp(`^traces_span_metrics_duration_milliseconds_bucket\\{${esc},le="2"\\} 0$`, 'm'));
      assert.match(texts[0], new RegExp(`^traces_span_metrics_duration_milliseconds_bucket\\{${esc},le="4"\\} ${perCheckout}$`, 'm'));
    }
    // the OpenMetrics rendering holds the same counters
    const omCalls = new Map();
    for (const line of texts[2].split('\n')) {
      const m = /^traces_span_metrics_calls_total\{(.*?)\} (\d+)(?: # .*)?$/.exec(line);
      if (m) omCalls.set(m[1], Number(m[2]));
    }
    assert.deepEqual(omCalls, calls);
    assert.equal(texts[1], texts[0], 'gzip carries the same text');
    assert.equal(texts[3], texts[2], 'gzip carries the same OpenMetrics');

    // self-metrics: series, overflow, services by series held, scrapes
    const self = (await httpGet(ports.metrics, '/metrics', 5000)).body.toString();
    const pt = spawnSync(PROMTOOL, ['check', 'metrics'], { input: self, encoding: 'utf8', timeout: 30000 });
    assert.equal(pt.status, 0, `self-metrics promtool: ${pt.stdout}${pt.stderr}`);
    assert.equal(selfMetric(self, /^tailgate_spanmetrics_series\{component="spanmetrics"\} (\d+)$/m), LIMIT + 1);
    assert.equal(selfMetric(self, /^tailgate_spanmetrics_overflow_spans_total\{component="spanmetrics"\} (\d+)$/m), expected.overflow);
    const held = [...expected.perService.values()];
    for (const le of [1, 10, 100, 1000, 10000, 100000]) {
      assert.equal(selfMetric(self, new RegExp(`^tailgate_spanmetrics_services\\{component="spanmetrics",series_le="${le}"\\} (\\d+)$`, 'm')),
        held.filter((n) => n <= le).length, `services holding <= ${le} series`);
    }
    assert.equal(selfMetric(self, /^tailgate_spanmetrics_services\{component="spanmetrics",series_le="\+Inf"\} (\d+)$/m), held.length);
    assert.equal(expected.perService.get('svc-000'), PER_SERVICE, 'the runaway service got its share only');
    assert.equal(selfMetric(self, /^tailgate_exporter_prometheus_scrape_errors_total\{exporter="prometheus"\} (\d+)$/m), 0);
    assert.ok(selfMetric(self, /^tailgate_exporter_prometheus_last_scrape_bytes\{exporter="prometheus"\} (\d+)$/m) > 0);
    assert.ok(selfMetric(self, /^tailgate_exporter_prometheus_last_scrape_longest_slice_seconds\{exporter="prometheus"\} ([0-9.]+)$/m) > 0);

    // one warning per bound, naming the limit and the key
    const warns = stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l))
      .filter((r) => r.level === 'warn' || r.level === 'WARN' || r.level === 'warning');
    const limitWarns = warns.filter((r) => r.message.includes(`reached aggregation_cardinality_limit (${LIMIT} series)`));
    const shareWarns = warns.filter((r) => r.message.includes(`service_name="svc-000" reached max_series_per_service (${PER_SERVICE} series)`));
    assert.equal(limitWarns.length, 1, stdout.slice(-3000));
    assert.equal(shareWarns.length, 1, stdout.slice(-3000));

    const growthMb = (rssMax - rss0) / 1024;
    console.log(`# RSS ${(rss0 / 1024).toFixed(1)} MB -> max ${(rssMax / 1024).toFixed(1)} MB (growth ${growthMb.toFixed(1)} MB, bound ${RSS_BOUND_MB})`);
    assert.ok(growthMb < RSS_BOUND_MB, `RSS grew by ${growthMb.toFixed(1)} MB`);

    process.kill(proc.pid, 'SIGTERM');
    await waitFor(() => exit, { timeoutMs: 15000, what: 'tailgate to exit after SIGTERM' });
    assert.equal(exit.code, 0, `exit status\n${stderr}`);
  } finally {
    if (!exit) { process.kill(proc.pid, 'SIGKILL'); await exited; }
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
