'use strict';
// The loadbalancing exporter end to end (issue 12): one load-balancing tailgate in front
// of sampling tailgates (real processes on free ports), the OpenTelemetry JS SDK in two
// services sending the spans of each trace in several requests (frontend over OTLP/gRPC,
// backend over OTLP/HTTP JSON, so both the wire path and the decoded path route).
//
// What is asserted, computed independently of tailgate:
//  - every span reaches exactly one sampler: the samplers' received spans add up to what
//    was sent, and their decided traces add up to the number of traces (a trace split
//    over two samplers is decided twice);
//  - the kept set over all samplers equals what one sampler keeps on the same input
//    (errors, slow roots, the consistent 10 % from the trace ID's low 56 bits), each kept
//    trace whole in exactly one sampler's sink;
//  - membership changes (dnsmasq on a free loopback port; samplers on 127.0.0.2.. with one
//    port): adding a sampler while traces are open splits none with routing_stickiness,
//    and splits some without it (so the test can fail); removing one (SIGTERM) loses
//    nothing; a SIGKILLed sampler's queued data reaches the others once DNS drops it,
//    counted as re-routed;
//  - removing a sampler while its traces are open (SIGTERM with service.shutdown_drain:
//    not ready at once, DNS drops it, it keeps receiving for the drain; the LB keeps it as
//    departing for its sticky traces) splits none: every trace decided exactly once, each
//    kept trace whole in one sink; without the drain the same removal splits traces.
const { describe, test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn, spawnSync } = require('node:child_process');
const { trace, ROOT_CONTEXT, SpanKind, SpanStatusCode } = require('@opentelemetry/api');
const { NodeTracerProvider } = require('@opentelemetry/sdk-trace-node');
const { BatchSpanProcessor } = require('@opentelemetry/sdk-trace-base');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { startSink } = require('./lib/sink');
const { startGateway, baseConfig, httpGet, waitFor } = require('./lib/gateway');
const { makeExporter } = require('./lib/sdk');
const { freePort } = require('./lib/ports');

const THRESHOLD_10PCT = 0xe666n << 40n;
const hex = (b) => Buffer.from(b).toString('hex');
const randomness = (id) => BigInt(`0x${id.slice(18)}`);
const POLICIES = [
  { name: 'errors', type: 'status_code', status_code: { status_codes: ['ERROR'] } },
  { name: 'slow', type: 'latency', latency: { threshold_ms: 1000 } },
  { name: 'ten-percent', type: 'probabilistic', probabilistic: { sampling_percentage: 10 } },
];
const expectedKept = (t) => t.error || t.slow || randomness(t.traceId) >= THRESHOLD_10PCT;

function provider(service, protocol, endpoint) {
  return new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': service }),
    spanProcessors: [new BatchSpanProcessor(makeExporter(protocol, endpoint),
      { maxExportBatchSize: 64, scheduledDelayMillis: 50, maxQueueSize: 100000 })],
  });
}

// Opens n traces: the two backend spans end now; the frontend root is returned open.
function openTraces(front, back, n, tag) {
  const ft = front.getTracer('front');
  const bt = back.getTracer('back');
  const out = [];
  const now = Date.now();
  for (let i = 0; i < n; i++) {
    const error = i % 10 === 3;
    const slow = i % 10 === 7;
    const start = now - (slow ? 1500 : 20);
    const root = ft.startSpan(`GET /${tag}/${i % 5}`, { kind: SpanKind.SERVER, startTime: start });
    const ctx = trace.setSpan(ROOT_CONTEXT, root);
    const child = bt.startSpan('load', { kind: SpanKind.SERVER, startTime: start + 2 }, ctx);
    const gc = bt.startSpan('SELECT', { kind: SpanKind.CLIENT, startTime: start + 3 }, trace.setSpan(ROOT_CONTEXT, child));
    if (error) gc.setStatus({ code: SpanStatusCode.ERROR, message: 'boom' });
    gc.end(start + 8);
    child.end(start + 10);
    out.push({ traceId: root.spanContext().traceId, error, slow, root, end: slow ? start + 1500 : start + 50 });
  }
  return out;
}
// The root's duration is fixed (50 ms, or 1.5 s for the slow ones) however late it ends.
const closeTraces = (ts) => { for (const t of ts) t.root.end(t.end); };

async function metricsText(gw) {
  const r = await httpGet(gw.ports.metrics, '/metrics');
  assert.equal(r.status, 200);
  return r.body.toString();
}
function metricValue(text, name, labels = {}) {
  const lines = text.split('\n').filter((l) => (l.startsWith(`${name}{`) || l.startsWith(`${name} `)) &&
    Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)));
  return lines.length ? lines.reduce((a, l) => a + Number(l.split(' ').pop()), 0) : 0;
}
async function samplerCounts(s) {
  const m = await metricsText(s);
  return {
    received: metricValue(m, 'tailgate_processor_tail_sampling_spans_received_total'),
    decided: metricValue(m, 'tailgate_processor_tail_sampling_traces_decided_total'),
    inMemory: metricValue(m, 'tailgate_processor_tail_sampling_traces_in_memory'),
  };
}
async function totals(samplers) {
  const c = await Promise.all(samplers.map(samplerCounts));
  return {
    received: c.reduce((a, x) => a + x.received, 0),
    decided: c.reduce((a, x) => a + x.decided, 0),
    inMemory: c.reduce((a, x) => a + x.inMemory, 0),
    each: c,
  };
}
// Every sampler has decided everything it holds (so a split trace's second half is counted).
async function allDecided(samplers, atLeast) {
  await waitFor(async () => { const t = await totals(samplers); return t.decided >= atLeast && t.inMemory === 0; },
    { timeoutMs: 15000, what: `${atLeast}+ traces decided, none in memory` });
  return (await totals(samplers)).decided;
}

// trace id → {sink index, spans}
function keptBySink(sinks) {
  const out = new Map();
  sinks.forEach((sink, idx) => {
    for (const r of sink.requests) for (const rs of r.msg.resourceSpans || []) for (const ss of rs.scopeSpans || []) {
      for (const s of ss.spans || []) {
        const id = hex(s.traceId);
        if (!out.has(id)) out.set(id, { sinks: new Set(), spans: 0 });
        out.get(id).sinks.add(idx);
        out.get(id).spans++;
      }
    }
  });
  return out;
}

function samplerConfig(ports, sinkPort, grpcEndpoint, decisionWait, drain) {
  const c = baseConfig(ports, {
    processors: {
      tail_sampling: { decision_wait: decisionWait, num_workers: 1, policies: POLICIES },
      batch: { timeout: '100ms', send_batch_size: 256 },
    },
    pipelineProcessors: ['tail_sampling', 'batch'],
    exporters: { otlp: { endpoint: `127.0.0.1:${sinkPort}`, tls: { insecure: true } } },
  });
  c.receivers.otlp.protocols = { grpc: { endpoint: grpcEndpoint } };
  if (drain) c.service.shutdown_drain = drain;
  return c;
}

async function startSampler(decisionWait, host = '127.0.0.1', port = 0, drain = null) {
  const sink = await startSink({ http: false });
  const gw = await startGateway((ports) => samplerConfig(ports, sink.grpcPort,
    `${host}:${port || ports.grpc}`, decisionWait, drain));
  gw.sink = sink;
  gw.endpoint = `${host}:${port || gw.ports.grpc}`;
  return gw;
}

function lbConfig(ports, resolver, extra = {}) {
  return baseConfig(ports, {
    processors: { batch: { timeout: '50ms', send_batch_size: 256 } },
    exporters: {
      loadbalancing: {
        protocol: { otlp: { tls: { insecure: true }, timeout: '2s', retry_on_failure: { initial_interval: '100ms', max_interval: '500ms' } } },
        resolver,
        ...extra,
      },
    },
  });
}

async function stopAll(gws) {
  for (const g of gws) {
    if (!g) continue;
    await g.kill();
    g.cleanup();
    if (g.sink) await g.sink.close();
  }
}

describe('loadbalancing exporter: static ring of three samplers', () => {
  test('every span of every trace reaches exactly one sampler; kept set equals one sampler\'s', async () => {
    const gws = [];
    const providers = [];
    try {
      const samplers = [];
      for (let i = 0; i < 3; i++) { const s = await startSampler('1500ms'); samplers.push(s); gws.push(s); }
      const lb = await startGateway((ports) => lbConfig(ports, { static: { hostnames: samplers.map((s) => s.endpoint) } }));
      gws.push(lb);
      const front = provider('frontend', 'grpc', `http://127.0.0.1:${lb.ports.grpc}`);
      const back = provider('backend', 'http/json', `http://127.0.0.1:${lb.ports.http}`);
      providers.push(front, back);
      const traces = openTraces(front, back, 300, 'a');
      await back.forceFlush();
      closeTraces(traces); // the roots go in later requests, over the other protocol
      await front.forceFlush();
      await allDecided(samplers, 300);
      const kept = traces.filter(expectedKept).map((t) => t.traceId).sort();
      await waitFor(async () => samplers.reduce((a, s) => a + s.sink.spanCount, 0) >= kept.length * 3,
        { timeoutMs: 10000, what: 'kept spans at the sinks' });
      const t = await totals(samplers);
      assert.equal(t.received, 900, 'every span reached a sampler, once');
      assert.equal(t.decided, 300, 'no trace was seen by two samplers');
      for (const c of t.each) assert.ok(c.received > 100, `each sampler got a share (${c.received})`);
      const got = keptBySink(samplers.map((s) => s.sink));
      assert.deepEqual([...got.keys()].sort(), kept, 'kept set = what one sampler keeps');
      for (const [id, g] of got) {
        assert.equal(g.sinks.size, 1, `trace ${id} kept by one sampler`);
        assert.equal(g.spans, 3, `trace ${id} whole`);
      }
      const m = await metricsText(lb);
      assert.equal(metricValue(m, 'tailgate_exporter_loadbalancer_endpoints', { exporter: 'loadbalancing' }), 3);
      assert.equal(metricValue(m, 'tailgate_exporter_loadbalancer_backend_spans_total', { exporter: 'loadbalancing' }), 900);
      assert.equal(metricValue(m, 'tailgate_exporter_sent_spans_total', { exporter: 'loadbalancing' }), 900);
      assert.equal(metricValue(m, 'tailgate_exporter_loadbalancer_split_traces_total', { exporter: 'loadbalancing' }), 0);
      for (const s of samplers) {
        const per = metricValue(m, 'tailgate_exporter_loadbalancer_backend_spans_total', { endpoint: s.endpoint });
        assert.equal(per, (await samplerCounts(s)).received, `spans per backend ${s.endpoint}`);
      }
      await lb.stop(); // drains and exits 0 (an ASan build would report leaks here)
      for (const s of samplers) await s.stop();
    } finally {
      await Promise.all(providers.map((p) => p.shutdown().catch(() => {})));
      await stopAll(gws.reverse());
    }
  });
});

// ---- DNS: dnsmasq on a free loopback port, samplers on 127.0.0.2.. sharing one port ----

function dnsmasqPath() {
  for (const p of ['/usr/sbin/dnsmasq', '/usr/bin/dnsmasq', '/sbin/dnsmasq']) if (fs.existsSync(p)) return p;
  const r = spawnSync('sh', ['-c', 'command -v dnsmasq'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

async function startDns(hostsLines) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tailgate-dns-'));
  fs.chmodSync(dir, 0o755);
  const hosts = path.join(dir, 'hosts');
  const write = (lines) => { fs.writeFileSync(hosts, lines.map((ip) => `${ip} samplers.test\n`).join('')); fs.chmodSync(hosts, 0o644); };
  write(hostsLines);
  const port = await freePort();
  const proc = spawn(dnsmasqPath(), ['--no-daemon', `--port=${port}`, '--listen-address=127.0.0.1',
    '--bind-interfaces', '--no-resolv', '--no-hosts', `--addn-hosts=${hosts}`, '--pid-file=',
    '--user=root', '--log-facility=-'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr.on('data', (c) => { err += c; });
  const exited = new Promise((r) => proc.on('exit', r));
  return {
    port, dir,
    set(lines) { write(lines); process.kill(proc.pid, 'SIGHUP'); },
    output: () => err,
    async stop() { try { process.kill(proc.pid, 'SIGTERM'); } catch { /* gone */ } await exited; fs.rmSync(dir, { recursive: true, force: true }); },
  };
}

const lbMetric = async (lb, name, labels = {}) => metricValue(await metricsText(lb), name, { exporter: 'loadbalancing', ...labels });
const waitEndpoints = (lb, n) => waitFor(async () => (await lbMetric(lb, 'tailgate_exporter_loadbalancer_endpoints')) === n,
  { timeoutMs: 5000, what: `${n} endpoints in the ring` });

async function membershipRun({ stickiness }) {
  const gws = [];
  const providers = [];
  let dns = null;
  try {
    const port = await freePort();
    const samplers = [];
    for (const x of [2, 3, 4]) { const s = await startSampler('4s', `127.0.0.${x}`, port); samplers.push(s); gws.push(s); }
    dns = await startDns(['127.0.0.2', '127.0.0.3', '127.0.0.4']);
    const lb = await startGateway((ports) => lbConfig(ports,
      { dns: { hostname: 'samplers.test', port, interval: '200ms', timeout: '500ms', nameserver: `127.0.0.1:${dns.port}` } },
      { routing_stickiness: stickiness }));
    gws.push(lb);
    await waitEndpoints(lb, 3);
    const front = provider('frontend', 'grpc', `http://127.0.0.1:${lb.ports.grpc}`);
    const back = provider('backend', 'http/json', `http://127.0.0.1:${lb.ports.http}`);
    providers.push(front, back);
    // traces open across the change: children before, roots after
    const open = openTraces(front, back, 300, 'open');
    await back.forceFlush();
    await waitFor(async () => (await lbMetric(lb, 'tailgate_exporter_loadbalancer_backend_spans_total')) === 600,
      { timeoutMs: 5000, what: 'children routed' });
    const fourth = await startSampler('4s', '127.0.0.5', port);
    samplers.push(fourth);
    gws.push(fourth);
    dns.set(['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5']);
    await waitEndpoints(lb, 4);
    closeTraces(open);
    const fresh = openTraces(front, back, 100, 'fresh');
    closeTraces(fresh);
    await Promise.all([front.forceFlush(), back.forceFlush()]);
    await waitFor(async () => (await totals(samplers)).received === 1200, { timeoutMs: 10000, what: 'all 1200 spans received' });
    const afterAdd = await totals(samplers);
    const split = await lbMetric(lb, 'tailgate_exporter_loadbalancer_split_traces_total');
    return { lb, samplers, dns, port, front, back, gws, providers, afterAdd, split, open, fresh };
  } catch (e) {
    if (dns) await dns.stop();
    await Promise.all(providers.map((p) => p.shutdown().catch(() => {})));
    await stopAll(gws.reverse());
    throw e;
  }
}

const haveDnsmasq = dnsmasqPath() !== null;

describe('loadbalancing exporter: DNS membership changes under load', { skip: !haveDnsmasq && 'dnsmasq not installed (scripts/install-deps.sh --test)' }, () => {
  test('adding a sampler splits no open trace with stickiness; SIGTERM removal and SIGKILL lose nothing that the LB held', async () => {
    const run = await membershipRun({ stickiness: '35s' });
    const { lb, samplers, dns, front, back, gws, providers } = run;
    try {
      // no split: the 300 open traces and 100 fresh ones were each decided by one sampler
      assert.equal(await allDecided(samplers, 400), 400, 'no trace decided by two samplers');
      assert.equal(run.split, 0, 'split traces');
      assert.ok((await samplerCounts(samplers[3])).received > 0, 'the new sampler takes new traces');

      // remove 127.0.0.2: out of DNS first, then SIGTERM (it drains)
      const before = await totals(samplers);
      dns.set(['127.0.0.3', '127.0.0.4', '127.0.0.5']);
      await waitEndpoints(lb, 3);
      await samplers[0].stop();
      const rest = samplers.slice(1);
      const restBefore = (await totals(rest)).received;
      const more = openTraces(front, back, 100, 'more');
      closeTraces(more);
      await Promise.all([front.forceFlush(), back.forceFlush()]);
      await waitFor(async () => (await totals(rest)).received === restBefore + 300, { timeoutMs: 10000, what: 'spans after removal at the three left' });
      assert.equal(before.received, 1200);

      // SIGKILL 127.0.0.3 while traffic flows: what the LB queued for it goes elsewhere once DNS drops it
      const killed = samplers[1];
      await killed.kill();
      const alive = [samplers[2], samplers[3]];
      const aliveBefore = (await totals(alive)).received;
      const late = openTraces(front, back, 100, 'late');
      closeTraces(late);
      await Promise.all([front.forceFlush(), back.forceFlush()]);
      dns.set(['127.0.0.4', '127.0.0.5']);
      await waitEndpoints(lb, 2);
      await waitFor(async () => (await totals(alive)).received === aliveBefore + 300, { timeoutMs: 15000, what: 'every span sent after the kill at the two left' });
      const m = await metricsText(lb);
      assert.ok(metricValue(m, 'tailgate_exporter_loadbalancer_rerouted_spans_total', { exporter: 'loadbalancing' }) > 0, 're-routed spans counted');
      assert.equal(metricValue(m, 'tailgate_exporter_send_failed_spans_total', { exporter: 'loadbalancing' }), 0, 'nothing the LB held was lost');
      assert.ok(metricValue(m, 'tailgate_exporter_loadbalancer_resolver_refreshes_total', { exporter: 'loadbalancing' }) > 3);
      await lb.stop(); // with a retired backend and the DNS socket: exits 0
    } finally {
      await dns.stop();
      await Promise.all(providers.map((p) => p.shutdown().catch(() => {})));
      await stopAll(gws.reverse());
    }
  });

  test('without stickiness the same change splits traces (the check above can fail)', async () => {
    const run = await membershipRun({ stickiness: '0s' });
    try {
      // traces whose root now hashes to the new sampler were decided twice
      assert.ok(await allDecided(run.samplers, 400) > 400, 'split traces are decided twice');
    } finally {
      await run.dns.stop();
      await Promise.all(run.providers.map((p) => p.shutdown().catch(() => {})));
      await stopAll(run.gws.reverse());
    }
  });
});

// ---- removal: SIGTERM one sampler while its traces are open ----

async function removalRun({ drain }) {
  const gws = [];
  const providers = [];
  let dns = null;
  try {
    const port = await freePort();
    const samplers = [];
    for (const x of [2, 3, 4]) { const s = await startSampler('2s', `127.0.0.${x}`, port, drain); samplers.push(s); gws.push(s); }
    dns = await startDns(['127.0.0.2', '127.0.0.3', '127.0.0.4']);
    const lb = await startGateway((ports) => lbConfig(ports,
      { dns: { hostname: 'samplers.test', port, interval: '200ms', timeout: '500ms', nameserver: `127.0.0.1:${dns.port}` } },
      { routing_stickiness: '3s' }));
    gws.push(lb);
    await waitEndpoints(lb, 3);
    const front = provider('frontend', 'grpc', `http://127.0.0.1:${lb.ports.grpc}`);
    const back = provider('backend', 'http/json', `http://127.0.0.1:${lb.ports.http}`);
    providers.push(front, back);
    // 300 traces open across the removal: children before, roots after
    const open = openTraces(front, back, 300, 'open');
    await back.forceFlush();
    await waitFor(async () => (await totals(samplers)).received === 600, { timeoutMs: 5000, what: 'children at the samplers' });
    const gone = samplers[0];
    const goneHeld = (await samplerCounts(gone)).received / 2; // its open traces
    const stopped = gone.stop({ timeoutMs: 30000 }); // SIGTERM
    if (drain) {
      await waitFor(async () => (await httpGet(gone.ports.health, '/health/ready', 500)).status === 503,
        { timeoutMs: 3000, what: 'draining sampler not ready' });
    }
    dns.set(['127.0.0.3', '127.0.0.4']); // what Kubernetes does once the pod is not ready
    await waitEndpoints(lb, 2);
    closeTraces(open);
    const fresh = openTraces(front, back, 100, 'fresh');
    closeTraces(fresh);
    await Promise.all([front.forceFlush(), back.forceFlush()]);
    const traces = [...open, ...fresh];
    return { lb, samplers, gone, goneHeld, stopped, dns, gws, providers, traces };
  } catch (e) {
    if (dns) await dns.stop();
    await Promise.all(providers.map((p) => p.shutdown().catch(() => {})));
    await stopAll(gws.reverse());
    throw e;
  }
}

async function endRemoval(run) {
  await run.dns.stop();
  await Promise.all(run.providers.map((p) => p.shutdown().catch(() => {})));
  await stopAll(run.gws.reverse());
}

describe('loadbalancing exporter: removing a sampler under load', { skip: !haveDnsmasq && 'dnsmasq not installed (scripts/install-deps.sh --test)' }, () => {
  test('SIGTERM with shutdown_drain: no open trace is split (every trace decided once, kept traces whole)', async () => {
    const run = await removalRun({ drain: '8s' });
    try {
      const { lb, samplers, gone, traces } = run;
      assert.ok(run.goneHeld > 20, `the removed sampler held open traces (${run.goneHeld})`);
      // while the removed sampler still drains: all 1200 spans in, every trace decided once
      await waitFor(async () => (await totals(samplers)).received === 1200, { timeoutMs: 6000, what: 'all 1200 spans received' });
      assert.equal(await allDecided(samplers, 400), 400, 'no trace decided by two samplers');
      assert.ok(!gone.exit, 'the removed sampler was still draining');
      assert.equal(await lbMetric(lb, 'tailgate_exporter_loadbalancer_split_traces_total'), 0, 'split traces');
      await run.stopped; // the drain ends, then the normal shutdown: exit 0
      const kept = traces.filter(expectedKept).map((t) => t.traceId).sort();
      await waitFor(async () => samplers.reduce((a, s) => a + s.sink.spanCount, 0) >= kept.length * 3,
        { timeoutMs: 10000, what: 'kept spans at the sinks' });
      const got = keptBySink(samplers.map((s) => s.sink));
      assert.deepEqual([...got.keys()].sort(), kept, 'kept set = what one sampler keeps');
      for (const [id, g] of got) {
        assert.equal(g.sinks.size, 1, `trace ${id} kept by one sampler`);
        assert.equal(g.spans, 3, `trace ${id} whole`);
      }
      assert.equal(await lbMetric(lb, 'tailgate_exporter_send_failed_spans_total'), 0, 'nothing lost');
      await lb.stop();
    } finally {
      await endRemoval(run);
    }
  });

  test('shutdown_drain: not ready at once, still receiving; a second SIGTERM ends the drain', async () => {
    const s = await startSampler('500ms', '127.0.0.1', 0, '60s');
    const p = provider('frontend', 'grpc', `http://${s.endpoint}`);
    try {
      process.kill(s.pid, 'SIGTERM');
      await waitFor(async () => (await httpGet(s.ports.health, '/health/ready', 500)).status === 503,
        { timeoutMs: 3000, what: 'not ready after SIGTERM' });
      assert.equal((await httpGet(s.ports.health, '/health/live', 500)).status, 200, 'still live');
      const ts = openTraces(p, p, 20, 'drain');
      closeTraces(ts);
      await p.forceFlush();
      await waitFor(async () => (await samplerCounts(s)).received === 60, { timeoutMs: 5000, what: '60 spans received while draining' });
      await waitFor(async () => (await samplerCounts(s)).decided === 20, { timeoutMs: 5000, what: '20 traces decided while draining' });
      assert.ok(!s.exit, 'still running within the 60 s drain');
      const t0 = Date.now();
      await s.stop({ timeoutMs: 8000 }); // the second SIGTERM: the drain ends, exit 0
      assert.ok(Date.now() - t0 < 8000);
    } finally {
      await p.shutdown().catch(() => {});
      await stopAll([s]);
    }
  });

  test('the same removal without shutdown_drain splits traces (the check above can fail)', async () => {
    const run = await removalRun({ drain: null });
    try {
      await run.stopped;
      // the stopped sampler decided its open traces at once; their roots go to a new owner
      await waitFor(async () => (await lbMetric(run.lb, 'tailgate_exporter_loadbalancer_split_traces_total')) > 0,
        { timeoutMs: 10000, what: 'split traces counted' });
      const rest = run.samplers.slice(1);
      // its traces' roots reached the rest, which decided those traces a second time
      await waitFor(async () => (await totals(rest)).received === 1200 - 2 * run.goneHeld,
        { timeoutMs: 10000, what: 'the removed sampler\'s roots re-routed to the rest' });
      assert.equal(await allDecided(rest, 400), 400, `the rest decided the ${run.goneHeld} removed-sampler traces again`);
      assert.equal(await lbMetric(run.lb, 'tailgate_exporter_loadbalancer_split_traces_total'), run.goneHeld,
        'every open trace of the removed sampler split');
    } finally {
      await endRemoval(run);
    }
  });
});
