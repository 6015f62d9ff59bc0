'use strict';
// The command line: --version, --help, and `tailgate validate FILE` with
// positions in the form file:line:col: message.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { BIN, baseConfig, toYaml } = require('./lib/gateway');

const run = (args) => spawnSync(BIN, args, { encoding: 'utf8', timeout: 10000 });

test('--version and --help exit 0 and print something', () => {
  const v = run(['--version']);
  assert.equal(v.status, 0, v.stderr);
  assert.match(v.stdout, /\d+\.\d+\.\d+/);
  const h = run(['--help']);
  assert.equal(h.status, 0, h.stderr);
  assert.match(h.stdout + h.stderr, /validate/);
});

test('validate: the suite\'s own config is clean; an undefined exporter is reported at its position', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tailgate-cli-'));
  try {
    const ports = { grpc: 4317, http: 4318, health: 13133, metrics: 8888 };
    const good = path.join(dir, 'good.yaml');
    fs.writeFileSync(good, toYaml(baseConfig(ports, {
      exporters: { 'otlp/sink': { endpoint: '127.0.0.1:4319', tls: { insecure: true }, compression: 'gzip' } },
      receiverHttp: { max_request_body_size: 65536 },
    })));
    const g = run(['validate', good]);
    assert.equal(g.status, 0, `validate ${good}: rc ${g.status}\n${g.stdout}${g.stderr}`);

    const bad = path.join(dir, 'bad.yaml');
    const cfg = baseConfig(ports, { exporters: { 'otlp/sink': { endpoint: '127.0.0.1:4319', tls: { insecure: true } } } });
    cfg.service.pipelines.traces.exporters = ['otlp/sink', 'otlp/missing'];
    const text = toYaml(cfg);
    fs.writeFileSync(bad, text);
    const line = text.split('\n').findIndex((l) => l.includes('otlp/missing')) + 1;
    const b = run(['validate', bad]);
    assert.equal(b.status, 1, `validate ${bad}: rc\n${b.stdout}${b.stderr}`);
    const out = b.stdout + b.stderr;
    const m = out.match(new RegExp(`${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:(\\d+):(\\d+): .*otlp/missing`));
    assert.ok(m, `a "${bad}:line:col: ... otlp/missing" line in:\n${out}`);
    assert.equal(Number(m[1]), line, 'line of the reference');
    assert.ok(Number(m[2]) >= 1);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
