'use strict';
// Idle memory of the embedded default (issue 14): VmRSS under 10 MB, and what makes it so.
//
// - bench/idle_rss.sh --max-kb 10240 (the benchmark's own measurement: started on free
//   loopback ports, measured once ready and settled, stopped by PID) exits 0.
// - Structural, so a regression is explained and not just noticed: the embedded default
//   maps neither libgrpc nor libcurl (nor what only they pull in: gnutls, absl); a config
//   with an otlp (gRPC) and an otlphttp (libcurl) exporter maps both once started.
// - A library that cannot be loaded fails the start with the exporter's name, the soname
//   and the loader's reason (a library of that soname that is not an ELF file, found first
//   through LD_LIBRARY_PATH).
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn, spawnSync } = require('node:child_process');
const { BIN, toYaml, httpGet, waitFor } = require('./lib/gateway');
const { defaultListenerEnv } = require('./lib/default_env');
const { freePorts } = require('./lib/ports');

const ROOT = path.resolve(__dirname, '..', '..');
const KEY = 'idle-memory-test-pseudonym-key-0123456789';
const MAX_KB = 10240;

// Starts tailgate with args/env, waits for /health/ready on healthPort. Returns
// {proc, pid, out(), exited}.
async function start(args, env, healthPort) {
  const proc = spawn(BIN, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
  let out = '';
  proc.stdout.on('data', (c) => { out += c; });
  proc.stderr.on('data', (c) => { out += c; });
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  let exit = null;
  exited.then((e) => { exit = e; });
  await waitFor(async () => {
    if (exit) throw Object.assign(new Error(`tailgate exited: ${JSON.stringify(exit)}\n${out}`), { fatal: true });
    return (await httpGet(healthPort, '/health/ready', 500)).status === 200;
  }, { timeoutMs: 15000, what: 'ready' });
  return { proc, pid: proc.pid, out: () => out, exited };
}

async function stop(gw) {
  try { process.kill(gw.pid, 'SIGTERM'); } catch (e) { if (e.code !== 'ESRCH') throw e; }
  const timer = setTimeout(() => { try { process.kill(gw.pid, 'SIGKILL'); } catch { /* gone */ } }, 10000);
  const exit = await gw.exited;
  clearTimeout(timer);
  assert.equal(exit.code, 0, `tailgate exits 0 on SIGTERM\n${gw.out()}`);
}

// File names of the shared objects mapped into pid.
function mappedLibraries(pid) {
  const names = new Set();
  for (const line of fs.readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n')) {
    const file = line.split(/\s+/)[5];
    if (file && file.includes('.so')) names.add(path.basename(file));
  }
  return [...names];
}
const has = (libs, prefix) => libs.some((l) => l.startsWith(prefix));

function lazyConfig(ports, exporters) {
  return {
    receivers: { otlp: { protocols: { http: { endpoint: `127.0.0.1:${ports.http}` } } } },
    exporters,
    extensions: { health_check: { endpoint: `127.0.0.1:${ports.health}` } },
    service: {
      extensions: ['health_check'],
      telemetry: { metrics: { address: `127.0.0.1:${ports.metrics}` } },
      pipelines: { traces: { receivers: ['otlp'], exporters: Object.keys(exporters) } },
    },
  };
}

// Port 9 (discard) on loopback: nothing listens, and nothing is sent while idle anyway.
const OTLP = { otlp: { endpoint: '127.0.0.1:9', tls: { insecure: true } } };
const OTLPHTTP = { otlphttp: { endpoint: 'http://127.0.0.1:9' } };

function writeConfig(dir, config) {
  const file = path.join(dir, 'tailgate.yaml');
  fs.writeFileSync(file, toYaml(config));
  return file;
}

test('bench/idle_rss.sh: the embedded default idles under 10 MB VmRSS', () => {
  const r = spawnSync(path.join(ROOT, 'bench', 'idle_rss.sh'), ['--tailgate', BIN, '--max-kb', String(MAX_KB)],
    { encoding: 'utf8', timeout: 60000, env: { ...process.env, TAILGATE_PSEUDONYM_KEY: KEY } });
  const line = r.stdout.split('\n').find((l) => l.startsWith('{"vmrss_kb"'));
  assert.ok(line, `idle_rss.sh printed its JSON line\n${r.stdout}\n${r.stderr}`);
  const m = JSON.parse(line);
  assert.ok(m.vmrss_kb > 1000, `a plausible VmRSS (${m.vmrss_kb} kB)`);
  assert.equal(r.status, 0, `VmRSS ${m.vmrss_kb} kB within ${MAX_KB} kB\n${r.stdout}\n${r.stderr}`);
});

test('the embedded default maps neither libgrpc nor libcurl; otlp and otlphttp exporters map both', async () => {
  const { ports, env } = await defaultListenerEnv();
  const gw = await start([], { ...env, TAILGATE_PSEUDONYM_KEY: KEY }, ports.health);
  let libs;
  try {
    libs = mappedLibraries(gw.pid);
  } finally {
    await stop(gw);
  }
  assert.ok(has(libs, 'libc.so') && has(libs, 'libuv.so'), `maps read (${libs.join(' ')})`);
  for (const lib of ['libgrpc.so', 'libgpr.so', 'libcurl.so', 'libgnutls.so', 'libabsl_', 'libre2.so'])
    assert.ok(!has(libs, lib), `${lib} is not mapped by the embedded default (${libs.join(' ')})`);

  const [http, health, metrics] = await freePorts(3);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tailgate-idle-'));
  try {
    const file = writeConfig(dir, lazyConfig({ http, health, metrics }, { ...OTLP, ...OTLPHTTP }));
    const gw2 = await start(['--config', file], { ...process.env }, health);
    let libs2;
    try {
      libs2 = mappedLibraries(gw2.pid);
    } finally {
      await stop(gw2);
    }
    assert.ok(has(libs2, 'libgrpc.so'), `otlp (gRPC) loaded libgrpc (${libs2.join(' ')})`);
    assert.ok(has(libs2, 'libgpr.so'), 'with libgpr');
    assert.ok(has(libs2, 'libcurl.so'), `otlphttp loaded libcurl (${libs2.join(' ')})`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a library that cannot be loaded fails the start with the soname and the reason', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tailgate-idle-'));
  try {
    // Empty files named like the real sonames (what the build recorded), found first.
    const header = fs.readFileSync(path.join(path.dirname(BIN), 'tg_sonames.h'), 'utf8');
    const soname = (n) => header.match(new RegExp(`#define TG_${n}_SONAME "([^"]+)"`))[1];
    const fake = path.join(dir, 'lib');
    fs.mkdirSync(fake);
    for (const s of [soname('GRPC'), soname('CURL')]) fs.writeFileSync(path.join(fake, s), '');
    for (const [name, exporters, lib] of [['otlp', OTLP, soname('GRPC')], ['otlphttp', OTLPHTTP, soname('CURL')]]) {
      const [http, health, metrics] = await freePorts(3);
      const file = writeConfig(dir, lazyConfig({ http, health, metrics }, exporters));
      const r = spawnSync(BIN, ['--config', file], {
        encoding: 'utf8', timeout: 15000, env: { ...process.env, LD_LIBRARY_PATH: fake },
      });
      const out = r.stdout + r.stderr;
      assert.equal(r.status, 1, `start fails (${name})\n${out}`);
      const rec = out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l))
        .find((x) => x.level === 'error' && x.message.startsWith('cannot start'));
      assert.ok(rec, `an error record (${name})\n${out}`);
      assert.match(rec.message, new RegExp(`exporters ${name}: .*cannot load ${lib.replace(/\./g, '\\.')}: ${fake.replace(/[./]/g, '\\$&')}/${lib.replace(/\./g, '\\.')}: file too short`));
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
