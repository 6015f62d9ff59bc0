'use strict';
// Jaeger remote sampling: how much a strategy request costs the gateway. Starts
// build/tailgate with a strategies file of SERVICES services (10 operation strategies
// each), sends REQUESTS GET /sampling?service=... over CONC keep-alive connections and as
// a tenth as many GetSamplingStrategy calls over one gRPC channel (grpc-js is the slow
// side: the gateway answers within ~0.2 ms of reading a call, per strace), and reports
// requests/s (bounded by this Node client) and the gateway's CPU time per request
// (utime+stime from /proc).
//   node bench/jaeger_sampling_bench.js [REQUESTS=100000] [CONC=32] [SERVICES=1000]
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const http = require('node:http');
const { spawn } = require('node:child_process');
const mods = path.join(__dirname, '..', 'tests', 'interop', 'node_modules');
const grpc = require(path.join(mods, '@grpc/grpc-js'));
const protoLoader = require(path.join(mods, '@grpc/proto-loader'));
const { freePorts } = require('../tests/interop/lib/ports');

const REQUESTS = Number(process.argv[2] || 100000);
const CONC = Number(process.argv[3] || 32);
const SERVICES = Number(process.argv[4] || 1000);
const BIN = process.env.TAILGATE_BIN || path.join(__dirname, '..', 'build', 'tailgate');

function cpuTicks(pid) {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(f[11]) + Number(f[12]); // utime + stime, in clock ticks (100/s)
}

async function waitListening(port) {
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise((r) => http.get({ host: '127.0.0.1', port, path: '/sampling?service=x' },
      (res) => { res.resume(); r(res.statusCode === 200); }).on('error', () => r(false)));
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('gateway did not come up');
}

async function main() {
  const [sampling, grpcPort, metrics] = await freePorts(3);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jrs-bench-'));
  const services = [];
  for (let i = 0; i < SERVICES; i++) {
    services.push({ service: `svc-${i}`, type: 'probabilistic', param: 0.5,
      operation_strategies: Array.from({ length: 10 }, (_, k) => ({ operation: `GET /api/v1/op${k}`, type: 'probabilistic', param: 0.1 })) });
  }
  const file = path.join(dir, 's.json');
  fs.writeFileSync(file, JSON.stringify({ service_strategies: services, default_strategy: { type: 'probabilistic', param: 1 } }));
  const cfg = path.join(dir, 'c.yaml');
  fs.writeFileSync(cfg, `receivers:\n  otlp:\n    protocols:\n      grpc: {endpoint: 127.0.0.1:0}\nexporters:\n  debug:\nextensions:\n  jaegerremotesampling:\n    source: {file: ${file}}\n    http: {endpoint: 127.0.0.1:${sampling}}\n    grpc: {endpoint: 127.0.0.1:${grpcPort}}\nservice:\n  extensions: [jaegerremotesampling]\n  telemetry: {metrics: {address: 127.0.0.1:${metrics}}, logs: {level: warn}}\n  pipelines:\n    traces: {receivers: [otlp], exporters: [debug]}\n`);
  const t0 = process.hrtime.bigint();
  const proc = spawn(BIN, ['--config', cfg], { stdio: ['ignore', 'inherit', 'inherit'] });
  try {
    await waitListening(sampling);
    const startMs = Number(process.hrtime.bigint() - t0) / 1e6;
    const rss = Number(fs.readFileSync(`/proc/${proc.pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)[1]);
    console.log(`start with ${SERVICES} services x 10 operations (${(fs.statSync(file).size / 1024).toFixed(0)} KiB file): up in ${startMs.toFixed(0)} ms, RSS ${rss} KiB`);

    const agent = new http.Agent({ keepAlive: true, maxSockets: CONC });
    let next = 0;
    const c0 = cpuTicks(proc.pid);
    const h0 = process.hrtime.bigint();
    await Promise.all(Array.from({ length: CONC }, async () => {
      while (next < REQUESTS) {
        const i = next++;
        await new Promise((resolve, reject) => http.get({ host: '127.0.0.1', port: sampling, agent, path: `/sampling?service=svc-${i % SERVICES}` },
          (res) => { res.resume(); res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`)))); }).on('error', reject));
      }
    }));
    let secs = Number(process.hrtime.bigint() - h0) / 1e9;
    let cpu = (cpuTicks(proc.pid) - c0) / 100;
    console.log(`HTTP GET /sampling: ${REQUESTS} requests, ${CONC} connections: ${(REQUESTS / secs).toFixed(0)} req/s, gateway CPU ${(cpu * 1e6 / REQUESTS).toFixed(1)} us/request`);
    agent.destroy();

    const def = protoLoader.loadSync('sampling.proto', { includeDirs: [path.join(__dirname, '..', 'proto')], keepCase: true });
    const api = grpc.loadPackageDefinition(def).jaeger.api_v2;
    const client = new api.SamplingManager(`127.0.0.1:${grpcPort}`, grpc.credentials.createInsecure());
    next = 0;
    const CALLS = Math.max(1, Math.floor(REQUESTS / 10));
    const c1 = cpuTicks(proc.pid);
    const g0 = process.hrtime.bigint();
    await Promise.all(Array.from({ length: CONC }, async () => {
      while (next < CALLS) {
        const i = next++;
        await new Promise((resolve, reject) => client.GetSamplingStrategy({ serviceName: `svc-${i % SERVICES}` }, (e) => (e ? reject(e) : resolve())));
      }
    }));
    secs = Number(process.hrtime.bigint() - g0) / 1e9;
    cpu = (cpuTicks(proc.pid) - c1) / 100;
    console.log(`gRPC GetSamplingStrategy: ${CALLS} calls, ${CONC} in flight on one channel: ${(CALLS / secs).toFixed(0)} calls/s, gateway CPU ${(cpu * 1e6 / CALLS).toFixed(1)} us/call`);
    client.close();
  } finally {
    proc.kill('SIGTERM');
    await new Promise((r) => proc.on('exit', r));
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
