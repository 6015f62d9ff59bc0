'use strict';
// Scrape benchmark (issue 17): the real binary, its embedded default with the span-metrics
// budget raised to SERIES, filled with SERIES unique label sets over OTLP/HTTP; then
//  1. each scrape mode (text, text+gzip, OpenMetrics, OpenMetrics+gzip) REPEAT times:
//     wall time to the last byte (curl), body size, and the gateway's peak RSS during the
//     scrape over its RSS before (VmHWM reset through /proc/PID/clear_refs);
//  2. under load (tg_loadgen at LOAD_RATE requests/s of 100 spans over OTLP/gRPC), the
//     loop thread's longest stall: a probe sends GET /health/live (served on the same loop
//     thread) back to back on one keep-alive connection and records the longest answer
//     time, first without and then during back-to-back OpenMetrics+gzip scrapes; plus the
//     exporter's own gauge of the longest slice.
//
// Usage (from the repository root, after `ninja -C build`):
//   node bench/scrape_bench.js [--series 100000] [--repeat 3] [--load-rate 2000] [--load-seconds 10]
// Needs curl and tests/interop's node_modules (npm ci there).
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const root = require(path.join(ROOT, 'tests/interop/node_modules/otlp-transformer-root/build/src/generated/root.js'));
const { defaultListenerEnv } = require(path.join(ROOT, 'tests/interop/lib/default_env.js'));
const E = root.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;

const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const SERIES = arg('series', 100000);
const REPEAT = arg('repeat', 2);
const LOAD_RATE = arg('load-rate', 2000);
const LOAD_SECONDS = arg('load-seconds', 10);
const BIN = process.env.TAILGATE_BIN || path.join(ROOT, 'build/tailgate');
const LOADGEN = process.env.TG_LOADGEN || path.join(ROOT, 'build/bench/tg_loadgen');
const OM = 'application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5';

const kb = (pid, field) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);

function post(port, body) {
  return new Promise((resolve, reject) => {
    const r = http.request({ host: '127.0.0.1', port, path: '/v1/traces', method: 'POST', agent: false,
      headers: { 'content-type': 'application/x-protobuf' } }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode)); });
    r.on('error', reject);
    r.end(body);
  });
}

async function fill(port) {
  const services = 100;
  for (let base = 0; base < SERIES; base += 5000) {
    const groups = [];
    for (let k = 0; k < services; k++) groups.push({ resource: { attributes: [{ key: 'service.name', value: { stringValue: `svc-${k}` } }] }, scopeSpans: [{ spans: [] }] });
    for (let i = base; i < Math.min(SERIES, base + 5000); i++) {
      const t = Buffer.alloc(16); t.writeUInt32BE(i + 1, 12);
      const s = Buffer.alloc(8); s.writeUInt32BE(i + 1, 4);
      groups[i % services].scopeSpans[0].spans.push({ traceId: t, spanId: s, name: `GET /user/${i}`, kind: 2,
        startTimeUnixNano: '1700000000000000000', endTimeUnixNano: String(1700000000000000000n + BigInt(1 + (i % 3000)) * 1000000n) });
    }
    for (;;) {
      const st = await post(port, E.encode(E.fromObject({ resourceSpans: groups })).finish());
      if (st === 200) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

function curl(port, { om, gzip }) {
  const args = ['-s', '-o', '/dev/null', '-w', '%{http_code} %{size_download} %{time_total}'];
  if (om) args.push('-H', `accept: ${OM}`);
  if (gzip) args.push('-H', 'accept-encoding: gzip');
  args.push(`http://127.0.0.1:${port}/metrics`);
  const r = spawnSync('curl', args, { encoding: 'utf8' });
  const [code, size, t] = r.stdout.trim().split(' ');
  return { code: Number(code), size: Number(size), ms: Number(t) * 1000 };
}

async function selfMetric(port, name) {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/metrics', agent: false }, (res) => {
      let b = '';
      res.on('data', (c) => { b += c; });
      res.on('end', () => { const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, 'm').exec(b); resolve(m ? Number(m[1]) : NaN); });
    }).on('error', reject);
  });
}

// Back-to-back GET /health/live on one connection for ms; returns the longest answer time.
async function probe(port, ms) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const end = Date.now() + ms;
  let max = 0;
  let n = 0;
  const lat = [];
  while (Date.now() < end) {
    const t0 = process.hrtime.bigint();
    await new Promise((resolve, reject) => {
      http.get({ host: '127.0.0.1', port, path: '/health/live', agent }, (res) => { res.resume(); res.on('end', resolve); }).on('error', reject);
    });
    const d = Number(process.hrtime.bigint() - t0) / 1e6;
    lat.push(d);
    max = Math.max(max, d);
    n++;
  }
  agent.destroy();
  lat.sort((a, b) => a - b);
  return { max, p99: lat[Math.floor(lat.length * 0.99)], n };
}

(async () => {
  const { ports, env } = await defaultListenerEnv();
  let childExit;
  const child = spawn(BIN, [], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...env,
    TAILGATE_SPANMETRICS_CARDINALITY_LIMIT: String(SERIES), TAILGATE_SPANMETRICS_SERIES_PER_SERVICE: String(SERIES),
    TAILGATE_DECISION_WAIT: '1s', TAILGATE_SAMPLING_PERCENTAGE: '1', TAILGATE_PSEUDONYM_KEY: 'scrape-bench-key-0123456789abcdef0123' } });
  childExit = new Promise((r) => child.on('exit', r));
  try {
    for (let i = 0; ; i++) {
      try { await new Promise((res, rej) => http.get({ host: '127.0.0.1', port: ports.health, path: '/health/ready', agent: false }, (r) => { r.resume(); r.statusCode === 200 ? res() : rej(); }).on('error', rej)); break; } catch {
        if (i > 100) throw new Error('tailgate did not become ready');
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const t0 = Date.now();
    await fill(ports.otlpHttp);
    const series = await selfMetric(ports.metrics, 'tailgate_spanmetrics_series');
    console.log(`filled ${series} series in ${Date.now() - t0} ms; RSS ${(kb(child.pid, 'VmRSS') / 1024).toFixed(1)} MB`);
    console.log('mode            | status | body bytes | wall ms (min/median/max) | peak RSS over before (MB, max) | longest slice ms (max of runs)');
    for (const [label, om, gzip] of [['text', false, false], ['text+gzip', false, true], ['OpenMetrics', true, false], ['OpenMetrics+gzip', true, true]]) {
      const ms = [];
      let peak = 0;
      let slice = 0;
      let cpu = 0;
      let r;
      for (let k = 0; k < REPEAT; k++) {
        fs.writeFileSync(`/proc/${child.pid}/clear_refs`, '5'); // resets VmHWM
        const before = kb(child.pid, 'VmRSS');
        r = curl(ports.prometheus, { om, gzip });
        peak = Math.max(peak, (kb(child.pid, 'VmHWM') - before) / 1024);
        ms.push(r.ms);
        slice = Math.max(slice, await selfMetric(ports.metrics, 'tailgate_exporter_prometheus_last_scrape_longest_slice_seconds') * 1000);
        cpu = Math.max(cpu, await selfMetric(ports.metrics, 'tailgate_exporter_prometheus_last_scrape_longest_slice_cpu_seconds') * 1000);
      }
      ms.sort((a, b) => a - b);
      console.log(`${label.padEnd(16)}| ${r.code}    | ${String(r.size).padStart(10)} | ${ms[0].toFixed(0)} / ${ms[Math.floor(ms.length / 2)].toFixed(0)} / ${ms[ms.length - 1].toFixed(0)} | ${peak.toFixed(1)} | ${slice.toFixed(2)} wall, ${cpu.toFixed(2)} CPU`);
    }
    // under load
    const lg = spawn(LOADGEN, ['--target', `grpc://127.0.0.1:${ports.otlpGrpc}`, '--spans-per-request', '100', '--attrs-per-span', '4',
      '--rate', String(LOAD_RATE), '--connections', '2', '--duration', String(2 * LOAD_SECONDS + 4), '--quiet'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let lgOut = '';
    lg.stdout.on('data', (c) => { lgOut += c; });
    const lgExit = new Promise((r) => lg.on('exit', r));
    await new Promise((r) => setTimeout(r, 2000));
    const quiet = await probe(ports.health, LOAD_SECONDS * 1000);
    let scraping = true;
    let scrapes = 0;
    let maxSlice = 0;
    let maxCpu = 0;
    const loop = (async () => {
      while (scraping) {
        const r = spawn('curl', ['-s', '-o', '/dev/null', '-H', `accept: ${OM}`, '-H', 'accept-encoding: gzip', `http://127.0.0.1:${ports.prometheus}/metrics`]);
        await new Promise((res) => r.on('exit', res));
        scrapes++;
        maxSlice = Math.max(maxSlice, await selfMetric(ports.metrics, 'tailgate_exporter_prometheus_last_scrape_longest_slice_seconds') * 1000);
        maxCpu = Math.max(maxCpu, await selfMetric(ports.metrics, 'tailgate_exporter_prometheus_last_scrape_longest_slice_cpu_seconds') * 1000);
      }
    })();
    const busy = await probe(ports.health, LOAD_SECONDS * 1000);
    scraping = false;
    await loop;
    await lgExit;
    console.log(`load: tg_loadgen ${LOAD_RATE} req/s x 100 spans: ${lgOut.trim()}`);
    console.log(`loop probe without scrapes: longest ${quiet.max.toFixed(2)} ms, p99 ${quiet.p99.toFixed(2)} ms (${quiet.n} probes)`);
    console.log(`loop probe during ${scrapes} OpenMetrics+gzip scrapes: longest ${busy.max.toFixed(2)} ms, p99 ${busy.p99.toFixed(2)} ms (${busy.n} probes); longest slice (exporter gauges) ${maxSlice.toFixed(2)} ms wall, ${maxCpu.toFixed(2)} ms CPU`);
    console.log(`scrape errors: ${await selfMetric(ports.metrics, 'tailgate_exporter_prometheus_scrape_errors_total')}`);
  } finally {
    child.kill('SIGTERM');
    await childExit;
  }
})().catch((e) => { console.error(e); process.exitCode = 1; });
