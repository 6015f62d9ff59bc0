'use strict';
// Runs build/tailgate as a black box: writes a YAML config into a temp dir,
// spawns the binary, captures stdout/stderr, waits for /health/ready, and stops
// it by PID with SIGTERM (asserting exit code 0; SIGKILL after a deadline).
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const http = require('node:http');
const { spawn, spawnSync } = require('node:child_process');
const { freePorts } = require('./ports');

const BIN = process.env.TAILGATE_BIN
  ? path.resolve(process.env.TAILGATE_BIN)
  : path.resolve(__dirname, '..', '..', '..', 'build', 'tailgate');

// ---- a small YAML writer (block maps, flow sequences, quoted strings) --------
function yamlScalar(v) {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'boolean' || typeof v === 'number') return String(v);
  if (typeof v === 'object') return JSON.stringify(v); // JSON is YAML flow style
  return JSON.stringify(String(v)); // a JSON string is a valid YAML double-quoted scalar
}

function toYaml(obj, indent = 0) {
  const pad = ' '.repeat(indent);
  let out = '';
  for (const [k, v] of Object.entries(obj)) {
    if (Array.isArray(v)) {
      out += `${pad}${k}: [${v.map(yamlScalar).join(', ')}]\n`;
    } else if (v && typeof v === 'object') {
      out += Object.keys(v).length === 0 ? `${pad}${k}: {}\n` : `${pad}${k}:\n${toYaml(v, indent + 2)}`;
    } else {
      out += `${pad}${k}: ${yamlScalar(v)}\n`;
    }
  }
  return out;
}

// ---- HTTP helpers ---------------------------------------------------------------
function httpGet(port, urlPath, timeoutMs = 1000) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, timeout: timeoutMs, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

const delay = (ms) => new Promise((r) => setTimeout(r, ms));

// Resolves true if `promise` settles within ms, false otherwise; leaves no timer behind.
function settlesWithin(promise, ms) {
  let timer;
  return Promise.race([
    promise.then(() => true),
    new Promise((r) => { timer = setTimeout(() => r(false), ms); }),
  ]).finally(() => clearTimeout(timer));
}

// Polls fn() until it returns a truthy value; throws describe() after timeoutMs.
async function waitFor(fn, { timeoutMs = 5000, intervalMs = 50, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
      last = v;
    } catch (e) {
      if (e && e.fatal) throw e; // no point waiting any longer
      last = e;
    }
    if (Date.now() >= deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    }
    await delay(intervalMs);
  }
}

class Gateway {
  constructor({ config, dir, ports }) {
    this.config = config;
    this.dir = dir;
    this.ports = ports;
    this.configPath = path.join(dir, 'tailgate.yaml');
    this.proc = null;
    this.pid = 0;
    this.stdout = '';
    this.stderr = '';
    this.exit = null; // {code, signal}
    this._exited = null;
  }

  output() {
    const cut = (s) => (s.length > 4000 ? `…${s.slice(-4000)}` : s);
    return `--- tailgate stdout ---\n${cut(this.stdout)}\n--- tailgate stderr ---\n${cut(this.stderr)}`;
  }

  // The JSON log records tailgate wrote on stdout (lines that parse as JSON objects).
  logRecords() {
    return this.stdout.split('\n').filter((l) => l.trim().startsWith('{')).flatMap((l) => {
      try { return [JSON.parse(l)]; } catch { return []; }
    });
  }

  get running() {
    return this.proc !== null && this.exit === null;
  }

  async start({ readyTimeoutMs = 10000 } = {}) {
    fs.writeFileSync(this.configPath, toYaml(this.config));
    if (!fs.existsSync(BIN)) throw new Error(`tailgate binary not found at ${BIN} (set TAILGATE_BIN)`);
    this.proc = spawn(BIN, ['--config', this.configPath], {
      cwd: this.dir,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env },
    });
    this.pid = this.proc.pid;
    this.proc.stdout.on('data', (c) => { this.stdout += c; });
    this.proc.stderr.on('data', (c) => { this.stderr += c; });
    this._exited = new Promise((resolve) => {
      this.proc.on('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
      this.proc.on('error', (err) => {
        this.exit = { code: null, signal: null, error: err };
        resolve(this.exit);
      });
    });
    const health = this.ports.health;
    try {
      await waitFor(async () => {
        if (this.exit) throw Object.assign(new Error(`tailgate exited early: ${JSON.stringify(this.exit)}`), { fatal: true });
        const r = await httpGet(health, '/health/ready', 500);
        return r.status === 200;
      }, { timeoutMs: readyTimeoutMs, what: `GET http://127.0.0.1:${health}/health/ready → 200` });
    } catch (e) {
      await this.kill();
      throw new Error(`${e.message}\nconfig ${this.configPath}:\n${toYaml(this.config)}\n${this.output()}`);
    }
    return this;
  }

  // SIGTERM by PID, wait up to timeoutMs, SIGKILL fallback. Returns {code, signal}.
  // Throws if the exit was not a clean exit 0.
  async stop({ timeoutMs = 10000 } = {}) {
    if (!this.proc) return null;
    if (!this.exit) {
      try { process.kill(this.pid, 'SIGTERM'); } catch (e) { if (e.code !== 'ESRCH') throw e; }
      if (!(await settlesWithin(this._exited, timeoutMs))) {
        await this.kill();
        throw new Error(`tailgate (pid ${this.pid}) did not exit within ${timeoutMs} ms of SIGTERM; killed\n${this.output()}`);
      }
    }
    const { code, signal } = this.exit;
    if (code !== 0) {
      throw new Error(`tailgate (pid ${this.pid}) exited with code ${code} signal ${signal} after SIGTERM (expected 0)\n${this.output()}`);
    }
    return this.exit;
  }

  // Unconditional cleanup (for after hooks): SIGKILL if still running, wait for exit.
  async kill() {
    if (this.proc && !this.exit) {
      try { process.kill(this.pid, 'SIGKILL'); } catch (e) { if (e.code !== 'ESRCH') throw e; }
      await settlesWithin(this._exited, 5000);
    }
  }

  cleanup() {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

// Builds the usual config around the given ports. `pipeline` names the
// exporters; `exporters`/`processors` override or add component configs.
// `extra` is deep-merged at the top level.
function baseConfig(ports, { exporters, processors, pipelineProcessors = ['batch'], pipelineExporters, receiverHttp = {}, logLevel = 'info' } = {}) {
  return {
    receivers: {
      otlp: {
        protocols: {
          grpc: { endpoint: `127.0.0.1:${ports.grpc}` },
          http: { endpoint: `127.0.0.1:${ports.http}`, ...receiverHttp },
        },
      },
    },
    processors: processors || { batch: { timeout: '200ms', send_batch_size: 512 } },
    exporters: exporters || { debug: { verbosity: 'basic' } },
    extensions: { health_check: { endpoint: `127.0.0.1:${ports.health}` } },
    service: {
      extensions: ['health_check'],
      telemetry: { logs: { level: logLevel }, metrics: { address: `127.0.0.1:${ports.metrics}` } },
      pipelines: {
        traces: {
          receivers: ['otlp'],
          processors: pipelineProcessors,
          exporters: pipelineExporters || Object.keys(exporters || { debug: {} }),
        },
      },
    },
  };
}

// Allocates ports, writes the config built by makeConfig(ports), starts tailgate.
async function startGateway(makeConfig, opts = {}) {
  const [grpcPort, httpPort, health, metrics] = await freePorts(4);
  const ports = { grpc: grpcPort, http: httpPort, health, metrics };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tailgate-interop-'));
  const gw = new Gateway({ config: makeConfig(ports), dir, ports });
  try {
    await gw.start(opts);
  } catch (e) {
    gw.cleanup();
    throw e;
  }
  return gw;
}

function binaryVersion() {
  const r = spawnSync(BIN, ['--version'], { encoding: 'utf8', timeout: 5000 });
  return r.status === 0 ? r.stdout.trim() : null;
}

module.exports = { BIN, Gateway, startGateway, baseConfig, toYaml, httpGet, waitFor, delay, binaryVersion };
