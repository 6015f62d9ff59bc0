'use strict';
// tailgate's own metrics (issue 11) against known traffic: spans from two services sent
// by the real OpenTelemetry JS SDK, a malformed request, an oversized one, one without
// credentials, a connection over the per-peer limit, one that never finishes its headers
// and a plaintext client on a TLS listener. Every counter is compared with the exact value
// the traffic implies, the histograms' counts with the requests that reached a handler
// or the backend, and the whole exposition passes `promtool check metrics` with no output.
// A second part checks service.telemetry.metrics.level (none, basic) and
// service.telemetry.logs (console encoding, initial_fields).
const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const net = require('node:net');
const path = require('node:path');
const crypto = require('node:crypto');
const http = require('node:http');
const { spawnSync } = require('node:child_process');
const { trace } = require('@opentelemetry/api');
const { NodeTracerProvider } = require('@opentelemetry/sdk-trace-node');
const { BatchSpanProcessor } = require('@opentelemetry/sdk-trace-base');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { startSink } = require('./lib/sink');
const { makeExporter } = require('./lib/sdk');
const { freePorts } = require('./lib/ports');
const { Gateway, startGateway, baseConfig, httpGet, waitFor } = require('./lib/gateway');

const TOKEN = 'self-metrics-token';

// The value of one series: name and labels exactly (order as tailgate writes them).
function series(text, name, labels = {}) {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(',');
  const head = want ? `${name}{${want}} ` : `${name} `;
  const line = text.split('\n').find((l) => l.startsWith(head));
  return line === undefined ? undefined : Number(line.slice(head.length));
}

function post(port, urlPath, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: urlPath, method: 'POST', agent: false,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', reject);
    req.end(body);
  });
}

// Resolves once the server closes the socket (or it errors).
const closed = (sock) => new Promise((resolve) => { sock.on('close', resolve); sock.on('error', () => {}); });
const connected = (port) => new Promise((resolve, reject) => {
  const s = net.connect(port, '127.0.0.1', () => resolve(s));
  s.on('error', reject);
});

function makeCertificate(dir) {
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1',
    '-keyout', key, '-out', cert, '-subj', '/CN=localhost'], { encoding: 'utf8' });
  assert.equal(r.status, 0, `openssl failed: ${r.stderr}`);
  return { key, cert };
}

// Ends spans through a provider whose resource names the service.
async function sendSpans(service, endpoint, names) {
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': service }),
    spanProcessors: [new BatchSpanProcessor(makeExporter('http/protobuf', endpoint))],
  });
  const tracer = provider.getTracer('self-metrics');
  const root = tracer.startSpan(names[0], { attributes: { 'user.id': `${service}-user` } });
  const ctx = trace.setSpan(require('@opentelemetry/api').context.active(), root);
  for (const n of names.slice(1)) tracer.startSpan(n, {}, ctx).end();
  root.end();
  await provider.forceFlush();
  await provider.shutdown();
}

function promtool(t, text) {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 10000 });
  if (r.error && r.error.code === 'ENOENT') {
    if (process.env.CI) assert.fail('promtool not found (Debian package prometheus)');
    t.skip('promtool not installed');
    return;
  }
  assert.equal(r.status, 0, `promtool check metrics rc=${r.status}\n${r.stdout}${r.stderr}`);
  assert.equal(`${r.stdout}${r.stderr}`, '', 'promtool printed lint');
}

describe('self-metrics against known traffic', () => {
  let sink;
  let gw;
  let dir;
  let ports;
  let text = '';

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tailgate-selfmetrics-'));
    const cert = makeCertificate(dir);
    fs.writeFileSync(path.join(dir, 'tokens'), `${TOKEN}\n`);
    sink = await startSink({ http: false });
    const [authHttp, limitedHttp, tlsGrpc] = await freePorts(3);
    gw = await startGateway((p) => {
      ports = { ...p, authHttp, limitedHttp, tlsGrpc };
      const c = baseConfig(p, {
        receiverHttp: { max_request_body_size: 4096 },
        processors: {
          redaction: { allow_all_keys: true, pseudonymize: { keys: ['user.id'] } },
          tail_sampling: { decision_wait: '300ms', policies: [{ name: 'all', type: 'always_sample' }] },
        },
        pipelineProcessors: ['redaction', 'tail_sampling'],
        exporters: { 'otlp/sink': { endpoint: `127.0.0.1:${sink.grpcPort}`, tls: { insecure: true } } },
      });
      c.receivers['otlp/auth'] = { protocols: { http: { endpoint: `127.0.0.1:${authHttp}`,
        auth: { authenticator: 'bearertokenauth/in' } } } };
      c.receivers['otlp/limited'] = { protocols: { http: { endpoint: `127.0.0.1:${limitedHttp}`,
        max_connections_per_peer: 1, read_header_timeout: '300ms' } } };
      c.receivers['otlp/tls'] = { protocols: { grpc: { endpoint: `127.0.0.1:${tlsGrpc}`,
        tls: { cert_file: cert.cert, key_file: cert.key } } } };
      c.extensions['bearertokenauth/in'] = { filename: path.join(dir, 'tokens') };
      c.service.extensions.push('bearertokenauth/in');
      c.service.pipelines.traces.receivers.push('otlp/auth', 'otlp/limited', 'otlp/tls');
      c.service.telemetry.metrics.level = 'detailed';
      return c;
    });

    // good spans: svc-a 3 spans in one trace, svc-b 2 spans in one trace
    await sendSpans('svc-a', `http://127.0.0.1:${ports.http}`, ['a-root', 'a-1', 'a-2']);
    await sendSpans('svc-b', `http://127.0.0.1:${ports.http}`, ['b-root', 'b-1']);
    // malformed JSON, an oversized body (refused by the server: 413), no credentials
    assert.equal(await post(ports.http, '/v1/traces', '{"resourceSpans": [ }'), 400);
    assert.equal(await post(ports.http, '/v1/traces', `{"x":"${'y'.repeat(8000)}"}`), 413);
    assert.equal(await post(ports.authHttp, '/v1/traces', '{}'), 401);
    // one idle connection holds the peer's only slot: the next is refused at once, and
    // the idle one is closed when read_header_timeout passes
    const idle = await connected(ports.limitedHttp);
    const idleClosed = closed(idle);
    const second = net.connect(ports.limitedHttp, '127.0.0.1');
    await closed(second);
    await idleClosed;
    // a plaintext HTTP request on a TLS listener fails the handshake
    const plain = await connected(ports.tlsGrpc);
    const plainClosed = closed(plain);
    plain.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await plainClosed;

    await sink.waitForSpans(5, 10000);
    // counters settle a little after the answers: wait for the last ones to appear
    await waitFor(async () => {
      text = (await httpGet(ports.metrics, '/metrics')).body.toString('utf8');
      return series(text, 'tailgate_exporter_sent_spans_total', { exporter: 'otlp/sink' }) === 5 &&
        series(text, 'tailgate_receiver_refused_requests_total', { receiver: 'otlp/tls', transport: 'grpc', reason: 'tls_handshake' }) === 1 &&
        series(text, 'tailgate_receiver_refused_requests_total', { receiver: 'otlp/limited', transport: 'http', reason: 'timeout' }) === 1;
    }, { timeoutMs: 5000, what: 'the counters to settle' }).catch(() => {});
  });

  after(async () => {
    if (gw) { await gw.stop(); gw.cleanup(); }
    if (sink) await sink.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('spans and traces per service', () => {
    assert.equal(series(text, 'tailgate_receiver_accepted_spans_total', { receiver: 'otlp', transport: 'http' }), 5);
    assert.equal(series(text, 'tailgate_service_received_spans_total', { service_name: 'svc-a' }), 3);
    assert.equal(series(text, 'tailgate_service_received_spans_total', { service_name: 'svc-b' }), 2);
    assert.equal(series(text, 'tailgate_service_received_traces_total', { service_name: 'svc-a' }), 1);
    assert.equal(series(text, 'tailgate_service_received_traces_total', { service_name: 'svc-b' }), 1);
    assert.equal(series(text, 'tailgate_service_received_spans_total', { service_name: '_overflow_' }), undefined);
  });

  test('refused requests by reason', () => {
    const req = (receiver, transport, reason) =>
      series(text, 'tailgate_receiver_refused_requests_total', { receiver, transport, reason });
    assert.equal(req('otlp', 'http', 'malformed'), 1);
    assert.equal(req('otlp', 'http', 'too_large'), 1);
    assert.equal(req('otlp', 'http', 'timeout'), 0);
    assert.equal(req('otlp/auth', 'http', 'unauthenticated'), 1);
    assert.equal(req('otlp/limited', 'http', 'too_many_connections'), 1);
    assert.equal(req('otlp/limited', 'http', 'timeout'), 1);
    assert.equal(req('otlp/tls', 'grpc', 'tls_handshake'), 1);
    // the span-level family keeps counting an undecodable body once, as before
    assert.equal(series(text, 'tailgate_receiver_refused_spans_total', { receiver: 'otlp', transport: 'http', reason: 'malformed' }), 1);
    assert.equal(series(text, 'tailgate_receiver_refused_spans_total', { receiver: 'otlp', transport: 'http', reason: 'too_large' }), 1);
  });

  test('latency histograms count what reached a handler and the backend', () => {
    // two SDK exports and the malformed body reached the handler; the 413 did not
    assert.equal(series(text, 'tailgate_receiver_request_duration_seconds_count', { receiver: 'otlp', transport: 'http' }), 3);
    assert.equal(series(text, 'tailgate_receiver_request_duration_seconds_bucket', { receiver: 'otlp', transport: 'http', le: '+Inf' }), 3);
    assert.equal(series(text, 'tailgate_exporter_send_duration_seconds_count', { exporter: 'otlp/sink' }), sink.requests.length);
  });

  test('redaction, uptime and config info', () => {
    assert.equal(series(text, 'tailgate_processor_pseudonymised_values_total', { processor: 'redaction' }), 2);
    assert.equal(series(text, 'tailgate_processor_redaction_random_key', { processor: 'redaction' }), 1);
    const up = series(text, 'tailgate_uptime_seconds');
    assert.ok(up > 0 && up < 120, `uptime ${up}`);
    const sha = crypto.createHash('sha256').update(fs.readFileSync(gw.configPath)).digest('hex').slice(0, 16);
    assert.equal(series(text, 'tailgate_config_info', { sha256: sha }), 1);
  });

  test('the whole exposition passes promtool check metrics without lint', (t) => {
    promtool(t, text);
  });
});

describe('service.telemetry levels and logs', () => {
  test('level basic keeps the basic families only; none opens no listener', async (t) => {
    let gw = await startGateway((p) => {
      const c = baseConfig(p, {});
      c.service.telemetry.metrics.level = 'basic';
      return c;
    });
    try {
      const m = (await httpGet(gw.ports.metrics, '/metrics')).body.toString('utf8');
      assert.equal(series(m, 'tailgate_receiver_accepted_spans_total', { receiver: 'otlp', transport: 'http' }), 0);
      assert.doesNotMatch(m, /_duration_seconds|tailgate_processor_/);
      assert.match(m, /^tailgate_uptime_seconds /m);
      promtool(t, m);
    } finally { await gw.stop(); gw.cleanup(); }
    gw = await startGateway((p) => {
      const c = baseConfig(p, {});
      c.service.telemetry.metrics.level = 'none';
      return c;
    });
    try {
      await assert.rejects(httpGet(gw.ports.metrics, '/metrics'), /ECONNREFUSED/);
    } finally { await gw.stop(); gw.cleanup(); }
  });

  test('console encoding and initial_fields', async () => {
    const [grpc, httpPort, health, metrics] = await freePorts(4);
    const ports = { grpc, http: httpPort, health, metrics };
    const c = baseConfig(ports, {});
    c.service.telemetry.logs = { level: 'info', encoding: 'console', initial_fields: { env: 'test', team: 'obs' } };
    let gw = new Gateway({ config: c, dir: fs.mkdtempSync(path.join(os.tmpdir(), 'tailgate-logs-')), ports });
    await gw.start();
    try {
      const line = gw.stdout.split('\n').find((l) => l.includes('\tservice\ttailgate '));
      assert.ok(line, `a console start line in:\n${gw.stdout}`);
      const cols = line.split('\t');
      assert.match(cols[0], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
      assert.equal(cols[1], 'info');
      assert.equal(cols[2], 'service');
      assert.deepEqual(JSON.parse(cols[4]), { env: 'test', team: 'obs' });
    } finally { await gw.stop(); gw.cleanup(); }
    c.service.telemetry.logs = { level: 'info', initial_fields: { env: 'test' } };
    gw = new Gateway({ config: c, dir: fs.mkdtempSync(path.join(os.tmpdir(), 'tailgate-logs-')), ports });
    await gw.start();
    try {
      const recs = gw.logRecords();
      assert.ok(recs.length > 0);
      for (const r of recs) assert.equal(r.env, 'test', JSON.stringify(r));
    } finally { await gw.stop(); gw.cleanup(); }
  });
});

describe('zpages and pprof extensions', () => {
  test('zpages serve the service, pipelines and extensions; pprof serves process figures, not Go profiles', async () => {
    const [zp, pp] = await freePorts(2);
    const gw = await startGateway((p) => {
      const c = baseConfig(p, {});
      c.extensions.zpages = { endpoint: `127.0.0.1:${zp}` };
      c.extensions.pprof = { endpoint: `127.0.0.1:${pp}` };
      c.service.extensions.push('zpages', 'pprof');
      return c;
    });
    try {
      const get = async (port, p) => {
        const r = await httpGet(port, p);
        return { status: r.status, body: r.body.toString('utf8') };
      };
      const sha = crypto.createHash('sha256').update(fs.readFileSync(gw.configPath)).digest('hex').slice(0, 16);
      const servicez = await get(zp, '/debug/servicez');
      assert.equal(servicez.status, 200);
      assert.match(servicez.body, /^version: \S+\nuptime_seconds: \d+\n/);
      assert.match(servicez.body, new RegExp(`\nconfig_sha256: ${sha}\npipelines: 1\n$`));
      const pipelinez = await get(zp, '/debug/pipelinez');
      assert.equal(pipelinez.body, 'traces:\n  receivers:\n    otlp (receivers) ready\n  processors:\n' +
        '    batch (processors) ready\n  exporters:\n    debug (exporters) ready\n');
      assert.equal((await get(zp, '/debug/extensionz')).body, 'health_check (health_check)\nzpages (zpages)\npprof (pprof)\n');
      const tracez = await get(zp, '/debug/tracez');
      assert.equal(tracez.status, 404);
      assert.match(tracez.body, /no in-process span samples/);
      const index = await get(pp, '/debug/pprof/');
      assert.equal(index.status, 200);
      assert.match(index.body, new RegExp(`^pid: ${gw.pid}\n`));
      assert.match(index.body, new RegExp(`perf record -g -p ${gw.pid}`));
      const heap = await get(pp, '/debug/pprof/heap');
      assert.equal(heap.status, 501);
      assert.match(heap.body, /no Go profile to serve/);
    } finally { await gw.stop(); gw.cleanup(); }
  });

  test('pprof keys that ask for Go profiles are positioned errors', () => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'tailgate-pprof-'));
    try {
      const file = path.join(d, 'c.yaml');
      fs.writeFileSync(file, 'receivers:\n  otlp:\n    protocols:\n      http:\nexporters:\n  debug: {}\n' +
        'extensions:\n  pprof:\n    save_to_file: cpu.prof\n    block_profile_fraction: 3\n' +
        'service:\n  extensions: [pprof]\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [debug]\n');
      const { BIN } = require('./lib/gateway');
      const r = spawnSync(BIN, ['validate', file], { encoding: 'utf8', timeout: 10000 });
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, /c\.yaml:10:29: extensions::pprof: block_profile_fraction: tailgate is not a Go program/);
      assert.match(r.stderr, /c\.yaml:9:19: extensions::pprof: save_to_file: tailgate cannot write a Go CPU profile; record the equivalent with `perf record -g -p <pid> -o cpu\.prof`/);
    } finally { fs.rmSync(d, { recursive: true, force: true }); }
  });
});
