'use strict';
// Every PromQL expression of the monitoring package, run against a real Prometheus
// (Debian's `prometheus`, 1 s scrapes) scraping a real tailgate (the compose config,
// deploy/compose/tailgate.yaml) fed with known traffic: OTLP/HTTP spans of two services
// with errors and slow spans, and malformed requests tailgate refuses.
//  - every panel of monitoring/grafana/dashboards/*.json, its template variables
//    substituted as Grafana does ($var, ${var}, [[var]], $__rate_interval, $__interval),
//    returns data, both with every variable at "All" and with one service/operation picked;
//  - no panel reads a metric tailgate does not emit;
//  - the RED count panels return exactly the spans sent, per service, operation and status;
//  - Prometheus loads monitoring/prometheus/rules/*.yml and every rule evaluates cleanly;
//    every recording rule returns data, every alert's compared quantities return data, the
//    alerts that must stay silent on a healthy gateway do, and the random-key alert goes
//    pending (the config runs without TAILGATE_PSEUDONYM_KEY);
//  - the per-service self-metrics count exactly the spans and traces sent, and the
//    malformed requests are counted by reason;
//  - the latency histogram carries trace_id exemplars of traces the sampler kept (and
//    exported), so Grafana's exemplar links open a trace that Jaeger has.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');
const { spawn } = require('node:child_process');
const { BIN, httpGet, waitFor } = require('./lib/gateway');
const { defaultListenerEnv } = require('./lib/default_env');
const { startGrpcCollector } = require('./lib/jaeger_collector');
const { request } = require('./lib/rawhttp');
const { substitute, grafanaIntervals, metricNames, comparedQuantities, startPrometheus } = require('./lib/promql');

const ROOT = path.resolve(__dirname, '..', '..');
const CONFIG = path.join(ROOT, 'deploy', 'compose', 'tailgate.yaml');
const DASHBOARDS = path.join(ROOT, 'monitoring', 'grafana', 'dashboards');
const RULES = path.join(ROOT, 'monitoring', 'prometheus', 'rules');
const SCRAPE_S = 1;

// ---- known traffic ------------------------------------------------------------------------
const hex = (n) => crypto.randomBytes(n).toString('hex');
function otlpSpan({ name, ms, error }) {
  const end = BigInt(Date.now()) * 1000000n;
  const traceId = hex(16);
  return {
    traceId,
    span: {
      traceId, spanId: hex(8), name, kind: 2,
      startTimeUnixNano: String(end - BigInt(Math.round(ms * 1e6))), endTimeUnixNano: String(end),
      attributes: [{ key: 'user_id', value: { stringValue: 'customer-7' } }],
      status: error ? { code: 2, message: 'declined' } : {},
    },
  };
}
// spans: [{service, name, ms, error}] -> one OTLP/HTTP JSON request; returns the trace ids
async function sendSpans(port, spans) {
  const byService = new Map();
  const ids = [];
  for (const s of spans) {
    const { traceId, span } = otlpSpan(s);
    ids.push({ ...s, traceId });
    if (!byService.has(s.service)) byService.set(s.service, []);
    byService.get(s.service).push(span);
  }
  const body = JSON.stringify({
    resourceSpans: [...byService].map(([service, list]) => ({
      resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }] },
      scopeSpans: [{ scope: { name: 'monitoring-test' }, spans: list }],
    })),
  });
  const r = await request({ port, body, headers: { 'content-type': 'application/json' } });
  assert.equal(r.status, 200, r.body.toString());
  return ids;
}
const many = (n, s) => Array.from({ length: n }, () => ({ ...s }));

// exact expected totals: prime wave + main wave
const PRIME = [
  { service: 'checkout', name: 'POST /pay', ms: 20 },
  { service: 'checkout', name: 'POST /pay', ms: 20, error: true },
  { service: 'cart', name: 'GET /cart', ms: 8 },
];
const MAIN = [
  ...many(30, { service: 'checkout', name: 'POST /pay', ms: 20 }),
  ...many(2, { service: 'checkout', name: 'POST /pay', ms: 1500 }),   // slow: kept by the latency policy
  ...many(8, { service: 'checkout', name: 'POST /pay', ms: 20, error: true }),
  ...many(20, { service: 'cart', name: 'GET /cart', ms: 8 }),
];
const EXPECTED = { // service|span_name|status_code -> spans
  'checkout|POST /pay|STATUS_CODE_UNSET': 33,
  'checkout|POST /pay|STATUS_CODE_ERROR': 9,
  'cart|GET /cart|STATUS_CODE_UNSET': 21,
};

// ---- what tailgate emits ---------------------------------------------------------------------
async function emittedNames(ports) {
  const names = new Set();
  for (const port of ports) {
    const r = await httpGet(port, '/metrics', 2000);
    for (const line of r.body.toString().split('\n')) {
      const m = /^([A-Za-z_:][\w:]*)[{ ]/.exec(line);
      if (m) names.add(m[1]);
    }
  }
  return names;
}

// Grafana's label_values(metric{sel}, label) and label_values(label)
async function variableValues(prom, query, start, end) {
  const m = /^label_values\((?:(.*),\s*)?(\w+)\)$/.exec(query.trim());
  assert.ok(m, `a label_values() variable query: ${query}`);
  const params = { start: String(start), end: String(end) };
  if (m[1]) params['match[]'] = m[1];
  return prom.api(`/api/v1/label/${m[2]}/values`, params);
}

test('every dashboard panel and every rule returns data from a real Prometheus scraping tailgate', { timeout: 90000 }, async (t) => {
  const col = await startGrpcCollector();
  t.after(() => col.close());
  const { ports, env: listenerEnv } = await defaultListenerEnv();
  const env = { ...listenerEnv, TAILGATE_JAEGER_ENDPOINT: `127.0.0.1:${col.port}`, TAILGATE_DECISION_WAIT: '500ms' };
  delete env.TAILGATE_PSEUDONYM_KEY; // the random-key gauge and alert are part of the test
  const gw = spawn(BIN, ['--config', CONFIG], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let gwOut = '';
  gw.stdout.on('data', (c) => { gwOut = (gwOut + c).slice(-20000); });
  gw.stderr.on('data', (c) => { gwOut = (gwOut + c).slice(-20000); });
  const gwExited = new Promise((r) => gw.on('exit', (code) => r(code)));
  t.after(() => { try { process.kill(gw.pid, 'SIGKILL'); } catch { /* gone */ } });

  const prom = await startPrometheus({
    jobs: { tailgate: `127.0.0.1:${ports.metrics}`, 'tailgate-spanmetrics': `127.0.0.1:${ports.prometheus}` },
    ruleFiles: fs.readdirSync(RULES).filter((f) => f.endsWith('.yml')).map((f) => path.join(RULES, f)),
    scrapeSeconds: SCRAPE_S,
    extraArgs: ['--enable-feature=exemplar-storage'],
  });
  t.after(() => prom.stop());
  await waitFor(async () => (await httpGet(ports.health, '/health/ready', 500)).status === 200,
    { timeoutMs: 10000, what: 'tailgate ready' });
  const t0 = Date.now() / 1000;
  await waitFor(async () => {
    const up = await prom.query('up');
    return up.result.length === 2 && up.result.every((s) => s.value[1] === '1');
  }, { timeoutMs: 20000, intervalMs: 200, what: 'Prometheus scraping both tailgate ports' });

  // prime wave: the series exist before the measured traffic, so rate() sees its increase
  const sentIds = await sendSpans(ports.otlpHttp, PRIME);
  await waitFor(async () => (await prom.query('sum(traces_span_metrics_calls_total)')).result[0]?.value[1] === '3',
    { timeoutMs: 10000, intervalMs: 200, what: 'the prime wave in Prometheus' });
  sentIds.push(...await sendSpans(ports.otlpHttp, MAIN));
  // refusals: a body that is not OTLP, twice
  for (let i = 0; i < 2; i++) {
    const r = await request({ port: ports.otlpHttp, body: Buffer.from('\xff\xff\xff not protobuf'), headers: { 'content-type': 'application/x-protobuf' } });
    assert.equal(r.status, 400);
  }
  const total = Object.values(EXPECTED).reduce((a, b) => a + b, 0);
  await waitFor(async () => (await prom.query('sum(traces_span_metrics_calls_total)')).result[0]?.value[1] === String(total),
    { timeoutMs: 10000, intervalMs: 200, what: `${total} spans counted in Prometheus` });
  // the sampler keeps the error and slow traces and the exporter delivers them
  const kept = new Set(sentIds.filter((s) => s.error || s.ms > 1000).map((s) => s.traceId));
  await waitFor(() => [...kept].every((id) => col.spans().some((s) => Buffer.from(s.span.trace_id).toString('hex') === id)),
    { timeoutMs: 10000, what: 'every error and slow trace at the Jaeger collector' });
  await waitFor(async () => Number((await prom.query('sum(tailgate_exporter_sent_spans_total)')).result[0]?.value[1]) >= kept.size,
    { timeoutMs: 10000, intervalMs: 200, what: 'the exports scraped' });
  // one more rule evaluation after the last scrape
  const evalAfter = Date.now() / 1000 + SCRAPE_S;
  await waitFor(async () => {
    const groups = (await prom.api('/api/v1/rules')).groups;
    return groups.length > 0 && groups.every((g) => Date.parse(g.lastEvaluation) / 1000 > evalAfter);
  }, { timeoutMs: 10000, intervalMs: 200, what: 'a rule evaluation after the traffic' });

  const end = Date.now() / 1000;
  const start = Math.floor(t0) - 2;
  const builtins = grafanaIntervals({ rangeMs: (end - start) * 1000, scrapeSeconds: SCRAPE_S });
  assert.equal(builtins.__rate_interval, '4s', 'Grafana: 4 x the 1 s scrape interval');
  const emitted = await emittedNames([ports.metrics, ports.prometheus]);
  const ruleGroups = (await prom.api('/api/v1/rules')).groups;
  const recorded = new Set(ruleGroups.flatMap((g) => g.rules.filter((r) => r.type === 'recording').map((r) => r.name)));
  const known = (name) => emitted.has(name) || recorded.has(name) || name === 'up';

  async function run(expr, instant) {
    if (instant) return (await prom.query(expr, end)).result;
    return (await prom.queryRange(expr, start, end, builtins.__interval.replace('s', ''))).result;
  }

  await t.test('dashboards: variables, panels, metrics, exact RED counts', async () => {
    const files = fs.readdirSync(DASHBOARDS).filter((f) => f.endsWith('.json'));
    assert.deepEqual(files.sort(), ['tailgate-health.json', 'tailgate-red.json']);
    let exprs = 0;
    const problems = [];
    for (const file of files) {
      const dash = JSON.parse(fs.readFileSync(path.join(DASHBOARDS, file), 'utf8'));
      // variables, in order, each resolved with the ones before it
      const all = { ...builtins };
      const picked = { ...builtins };
      for (const v of dash.templating.list) {
        assert.equal(v.type, 'query', `${file}: ${v.name}`);
        const q = typeof v.query === 'string' ? v.query : v.query.query;
        const valsAll = await variableValues(prom, substitute(q, all), start, end);
        assert.ok(valsAll.length > 0, `${file}: variable ${v.name} (${q}) has values`);
        all[v.name] = { values: valsAll, all: true, allValue: v.allValue, multi: v.multi, includeAll: v.includeAll };
        const valsPicked = await variableValues(prom, substitute(q, picked), start, end);
        const want = { service: 'checkout', operation: 'POST /pay' }[v.name] ?? valsPicked[0];
        assert.ok(valsPicked.includes(want), `${file}: variable ${v.name} offers ${want}: ${valsPicked}`);
        picked[v.name] = { values: [want], all: false, multi: v.multi, includeAll: v.includeAll };
      }
      if (file === 'tailgate-red.json') {
        assert.deepEqual([...all.service.values].sort(), ['cart', 'checkout']);
        assert.deepEqual([...all.operation.values].sort(), ['GET /cart', 'POST /pay']);
      }
      for (const p of dash.panels.filter((x) => x.type !== 'row')) {
        for (const target of p.targets) {
          for (const [scenario, vars] of [['all', all], ['picked', picked]]) {
            const expr = substitute(target.expr, vars);
            assert.doesNotMatch(expr, /\$|\[\[/, `${file} "${p.title}": every variable substituted: ${expr}`);
            const missing = metricNames(expr).filter((name) => !known(name));
            for (const name of missing) problems.push(`${file} "${p.title}" reads ${name}, which tailgate does not emit`);
            const instant = target.instant === true && target.range !== true;
            const result = await run(expr, instant);
            if (result.length === 0) problems.push(`${file} "${p.title}" [${scenario}] returns no data: ${expr}`);
            if (missing.length || result.length === 0) continue;
            exprs++;
            if (file !== 'tailgate-red.json') continue;
            const onlyCheckout = scenario === 'picked';
            for (const s of result) {
              if (onlyCheckout) assert.equal(s.metric.service_name, 'checkout', `${p.title}: $service=checkout`);
            }
            if (/^Spans counted/.test(p.title)) {
              const got = {};
              for (const s of result) {
                const key = p.title.includes('operation')
                  ? `${s.metric.service_name}|${s.metric.span_name}|${s.metric.status_code}`
                  : `${s.metric.service_name}|${s.metric.status_code}`;
                got[key] = Number(s.value[1]);
              }
              const want = {};
              for (const [k, n] of Object.entries(EXPECTED)) {
                const [svc, op, st] = k.split('|');
                if (onlyCheckout && svc !== 'checkout') continue;
                want[p.title.includes('operation') ? k : `${svc}|${st}`] = n;
              }
              assert.deepEqual(got, want, `${p.title} [${scenario}]: the exact spans sent`);
            } else if (/^Rate/.test(p.title)) {
              const peak = Math.max(...result.filter((s) => s.metric.service_name === 'checkout')
                .flatMap((s) => s.values.map((v) => Number(v[1]))));
              assert.ok(peak > 0, `${p.title}: checkout's rate rises with the traffic`);
            } else if (/^Error ratio/.test(p.title)) {
              const series = result.filter((s) => s.metric.service_name === 'checkout');
              assert.equal(series.length, 1, `${p.title}: one checkout series (cart has no errors)`);
              const ratios = series[0].values.map((v) => Number(v[1])).filter((x) => Number.isFinite(x) && x > 0);
              // 8 errors in 40 spans; rate() extrapolates each series a little differently
              assert.ok(ratios.some((x) => Math.abs(x - 0.2) < 0.05), `${p.title}: about 0.2: ${ratios}`);
            }
          }
        }
      }
      // the p99 of checkout is a slow span's bucket, its p50 a fast one's
      const q = (phi) => `histogram_quantile(${phi}, sum by (service_name, le) (increase(traces_span_metrics_duration_milliseconds_bucket{service_name="checkout"}[1h])))`;
      if (file === 'tailgate-red.json') {
        const p99 = Number((await run(q(0.99), true))[0].value[1]);
        const p50 = Number((await run(q(0.5), true))[0].value[1]);
        assert.ok(p99 > 1000 && p99 <= 5000, `checkout p99 in a slow bucket: ${p99}`);
        assert.ok(p50 < 100, `checkout p50 in a fast bucket: ${p50}`);
      }
    }
    assert.deepEqual([...new Set(problems)], [], 'every panel reads emitted metrics and returns data');
    assert.ok(exprs >= 60, `${exprs} panel queries run`);
  });

  await t.test('per-service self-metrics count exactly the spans and traces sent', async () => {
    // every span here is its own trace: per service, traces == spans
    const want = { checkout: 42, cart: 21 };
    for (const family of ['tailgate_service_received_spans_total', 'tailgate_service_received_traces_total']) {
      const r = await run(`sum by (service_name) (${family})`, true);
      assert.deepEqual(Object.fromEntries(r.map((x) => [x.metric.service_name, Number(x.value[1])])), want, family);
    }
    const refused = await run('sum by (receiver, transport, reason) (tailgate_receiver_refused_requests_total)', true);
    assert.ok(refused.some((x) => x.metric.reason === 'malformed' && x.metric.transport === 'http' && Number(x.value[1]) === 2),
      `two malformed OTLP/HTTP requests counted: ${JSON.stringify(refused)}`);
  });

  await t.test('rules: loaded, evaluated, recorded series and alert quantities return data', async () => {
    const files = fs.readdirSync(RULES).filter((f) => f.endsWith('.yml'));
    assert.equal(new Set(ruleGroups.map((g) => g.file)).size, files.length, 'every rule file loaded');
    const rules = ruleGroups.flatMap((g) => g.rules);
    assert.equal(rules.filter((r) => r.type === 'alerting').length, 12);
    const problems = [];
    for (const r of rules) {
      assert.equal(r.health, 'ok', `${r.name}: ${r.lastError}`);
      for (const name of metricNames(r.query)) if (!known(name)) problems.push(`${r.name} reads ${name}, which tailgate does not emit`);
      await run(r.query, true); // evaluates without error
      if (r.type === 'recording') {
        if ((await run(r.name, true)).length === 0) problems.push(`recording rule ${r.name} returns no data`);
        continue;
      }
      for (const part of comparedQuantities(r.query)) {
        if ((await run(part, true)).length === 0) problems.push(`${r.name}: ${part} returns no data`);
      }
    }
    assert.deepEqual(problems, [], 'every rule reads emitted metrics and returns data');
    const silent = ['TailgateDown', 'TailgateNotReady', 'TailgateExporterFailing', 'TailgateExporterQueueHigh',
      'TailgateSamplerMemoryPressure', 'TailgateDecisionLagHigh', 'TailgateSpanMetricsOverflow', 'TailgateRequestsRefused'];
    for (const name of silent) {
      const r = rules.find((x) => x.name === name);
      assert.deepEqual(await run(r.query, true), [], `${name} is silent on a healthy gateway`);
    }
    const randomKey = rules.find((x) => x.name === 'TailgatePseudonymRandomKey');
    assert.equal((await run(randomKey.query, true)).length, 1, 'no TAILGATE_PSEUDONYM_KEY: the random-key condition holds');
    const alerts = (await prom.api('/api/v1/alerts')).alerts;
    assert.ok(alerts.some((a) => a.labels.alertname === 'TailgatePseudonymRandomKey' && a.state === 'pending'),
      `TailgatePseudonymRandomKey pending: ${JSON.stringify(alerts.map((a) => a.labels.alertname))}`);
  });

  await t.test('exemplars on the latency histogram are kept traces', async () => {
    const ex = await prom.api('/api/v1/query_exemplars', {
      query: 'traces_span_metrics_duration_milliseconds_bucket{service_name="checkout"}', start: String(start), end: String(end + 1),
    });
    const ids = ex.flatMap((s) => s.exemplars.map((e) => e.labels.trace_id));
    assert.ok(ids.length > 0, 'exemplars stored');
    const exported = new Set(col.spans().map((s) => Buffer.from(s.span.trace_id).toString('hex')));
    const sent = new Set(sentIds.map((s) => s.traceId));
    for (const id of ids) assert.ok(sent.has(id) && exported.has(id), `exemplar ${id} is a trace sent here that the sampler kept`);
    assert.ok(ids.some((id) => kept.has(id)), 'an error or slow trace among the exemplars');
  });

  process.kill(gw.pid, 'SIGTERM');
  assert.equal(await gwExited, 0, gwOut);
});

test('Grafana variable substitution, metric extraction and threshold splitting', () => {
  const vars = {
    __rate_interval: '4s', __interval: '1s',
    service: { values: ['checkout'], all: false, multi: true, includeAll: true },
    op: { values: ['POST /pay', 'a.b'], all: false, multi: true, includeAll: true },
    inst: { values: ['x'], all: true, allValue: '.*', multi: true, includeAll: true },
    single: { values: ["it's"], all: false },
  };
  assert.equal(substitute('rate(m{s=~"$service",o=~"${op}",i=~"[[inst]]"}[$__rate_interval]) $__interval ${single} $nope', vars),
    'rate(m{s=~"checkout",o=~"(POST /pay|a\\\\.b)",i=~".*"}[4s]) 1s it\\\\\'s $nope');
  assert.deepEqual(metricNames('histogram_quantile(0.9, sum by (le, job) (rate(a_bucket{x="y z"}[5m]))) / on(i) group_left b:c:d > 0.1 and up offset 5m'),
    ['a_bucket', 'b:c:d', 'up']);
  assert.deepEqual(metricNames('max by (i) (k{a="b"}) + sum(rate(x[1m])) * count(y)'), ['k', 'x', 'y']);
  assert.deepEqual(comparedQuantities('x / y > 0.05\n  and z{a=">"} > 0.1'), ['x / y', 'z{a=">"}']);
  assert.deepEqual(comparedQuantities('max by (i) (k) == 1'), ['max by (i) (k)']);
  assert.deepEqual(grafanaIntervals({ rangeMs: 3600000, scrapeSeconds: 15 }).__rate_interval, '60s');
  assert.deepEqual(grafanaIntervals({ rangeMs: 3600000 * 24, scrapeSeconds: 15 }).__rate_interval, '102s');
});
