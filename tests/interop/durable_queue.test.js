'use strict';
// The persistent sending queue (file_storage + sending_queue.storage), black-box:
//  - crash loop: OTLP/HTTP clients keep exporting while the backend is down; tailgate is
//    SIGKILLed at random moments and restarted on the same directory, a dozen times;
//    then the backend (an OTLP gRPC sink) comes up. Every span a client got a 200 for is
//    delivered; spans delivered twice are no more than tailgate counted as possibly
//    duplicate at its restarts; nothing arrives that no client sent.
//  - fault injection against the otlphttp exporter: a scripted backend answering 429 with
//    Retry-After, 503, too slowly, by resetting the connection, 400 (permanent), and a TLS
//    backend whose certificate is first from a foreign CA: each retried (or refused, for
//    400) as OTLP asks, counted, and delivered once the backend behaves. A DNS failure
//    (a name under .invalid) is retried and keeps the data queued on disk.
const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const http = require('node:http');
const zlib = require('node:zlib');
const https = require('node:https');
const tls = require('node:tls');
const { spawnSync } = require('node:child_process');
const { Sink } = require('./lib/sink');
const { Gateway, httpGet, waitFor, delay } = require('./lib/gateway');
const { freePorts } = require('./lib/ports');
const { request } = require('./lib/rawhttp');
const { ExportTraceServiceRequest, ExportTraceServiceResponse, decodeTraceRequest } = require('./lib/otlp');
const { flattenRequests } = require('./lib/compare');

const PB = 'application/x-protobuf';
const randHex = (bytes) => crypto.randomBytes(bytes).toString('hex');

// An ExportTraceServiceRequest with n spans of one new trace: {body, spanIds}.
function pbRequest(n, tag) {
  const traceId = randHex(16);
  const spanIds = Array.from({ length: n }, () => randHex(8));
  const msg = ExportTraceServiceRequest.create({
    resourceSpans: [{
      resource: { attributes: [{ key: 'service.name', value: { stringValue: 'durable' } }] },
      scopeSpans: [{
        scope: { name: 'durable' },
        spans: spanIds.map((id, i) => ({
          traceId: Buffer.from(traceId, 'hex'),
          spanId: Buffer.from(id, 'hex'),
          name: `${tag}-${i}`,
          kind: 2,
          startTimeUnixNano: '1704164645000000001',
          endTimeUnixNano: '1704164645500000002',
          attributes: [{ key: 'pad', value: { stringValue: 'x'.repeat(64) } }],
        })),
      }],
    }],
  });
  return { body: Buffer.from(ExportTraceServiceRequest.encode(msg).finish()), spanIds };
}

function metricSum(text, name) {
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/);
    if (m && m[1] === name) sum += Number(m[3]);
  }
  return sum;
}

async function scrape(gw) {
  const r = await httpGet(gw.ports.metrics, '/metrics', 2000);
  assert.equal(r.status, 200);
  return r.body.toString('utf8');
}

function spanIdsOf(requests) {
  return flattenRequests(requests).map((s) => s.spanId);
}

function gatewayConfig(ports, dir, exporter, { fsync = 'batch', extraExporters = {} } = {}) {
  return {
    receivers: {
      otlp: { protocols: { http: { endpoint: `127.0.0.1:${ports.http}` } } },
    },
    // No batch processor: the receiver's 200 then means the request is in the disk
    // queue (a batch processor in front holds spans in memory until it flushes).
    exporters: { ...exporter, ...extraExporters },
    extensions: {
      health_check: { endpoint: `127.0.0.1:${ports.health}` },
      'file_storage/q': { directory: path.join(dir, 'queue'), create_directory: true, fsync,
        fsync_interval: '20ms' },
    },
    service: {
      extensions: ['health_check', 'file_storage/q'],
      telemetry: { logs: { level: 'info' }, metrics: { address: `127.0.0.1:${ports.metrics}` } },
      pipelines: {
        traces: { receivers: ['otlp'], processors: [], exporters: Object.keys({ ...exporter, ...extraExporters }) },
      },
    },
  };
}

const fastRetry = { initial_interval: '50ms', max_interval: '200ms', multiplier: 1.5,
  randomization_factor: 0.1, max_elapsed_time: 0 };

describe('persistent sending queue: crash loop with the backend down', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tailgate-durable-'));
  let ports;
  let sinkPort;
  let gw = null;
  let sink = null;

  before(async () => {
    const [http_, health, metrics, sp] = await freePorts(4);
    ports = { http: http_, health, metrics };
    sinkPort = sp;
  });

  after(async () => {
    if (gw) await gw.kill();
    if (sink) await sink.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const exporter = () => ({
    'otlp/backend': {
      endpoint: `127.0.0.1:${sinkPort}`, tls: { insecure: true }, timeout: '2s',
      retry_on_failure: fastRetry,
      sending_queue: { storage: 'file_storage/q', num_consumers: 2, queue_size: 100000 },
    },
  });

  test('every acknowledged span is delivered after 12 SIGKILLs; duplicates within the counted bound', async (t) => {
    const acked = new Set(); // span ids a client got 200 for
    const sent = new Set(); // every span id sent (acknowledged or not)
    let possibleDupSpans = 0; // tailgate's own count, summed over its restarts
    let replayedSpans = 0;
    let stopLoad = false;
    let refused = 0;

    // Two clients exporting back to back; failures (tailgate down) are retried later
    // with new data, as an SDK would drop or retry: only 200s count as acknowledged.
    const client = async (tag) => {
      let k = 0;
      while (!stopLoad) {
        const { body, spanIds } = pbRequest(10, `${tag}-${k++}`);
        spanIds.forEach((id) => sent.add(id));
        try {
          const r = await request({ port: ports.http, headers: { 'content-type': PB }, body, timeoutMs: 2000 });
          if (r.status === 200) spanIds.forEach((id) => acked.add(id));
          else refused++;
          await delay(10); // a steady load (~100 requests/s per client), not a flood
        } catch {
          await delay(20); // connection refused while tailgate restarts
        }
      }
    };
    const clients = [client('a'), client('b')];

    const started = Date.now();
    const ROUNDS = 12;
    for (let round = 0; round < ROUNDS; round++) {
      gw = new Gateway({ config: gatewayConfig(ports, dir, exporter()), dir, ports });
      await gw.start();
      const text = await scrape(gw);
      possibleDupSpans += metricSum(text, 'tailgate_disk_queue_possible_duplicate_spans_total');
      replayedSpans += metricSum(text, 'tailgate_disk_queue_replayed_spans_total');
      await delay(150 + Math.floor(Math.random() * 450));
      await gw.kill(); // SIGKILL
      assert.equal(gw.exit.signal, 'SIGKILL', gw.output());
      gw = null;
    }
    stopLoad = true;
    await Promise.all(clients);
    assert.ok(acked.size >= 500, `load too small to mean anything: ${acked.size} spans acknowledged`);
    assert.ok(replayedSpans > 0, 'restarts replayed nothing: the queue was not on disk');

    // The backend comes up where the exporter points; one last start delivers it all.
    sink = await new Sink().start({ http: false, grpcPort: sinkPort });
    gw = new Gateway({ config: gatewayConfig(ports, dir, exporter()), dir, ports });
    await gw.start();
    let text = await scrape(gw);
    possibleDupSpans += metricSum(text, 'tailgate_disk_queue_possible_duplicate_spans_total');
    await waitFor(() => {
      const got = new Set(spanIdsOf(sink.requests));
      for (const id of acked) if (!got.has(id)) return false;
      return true;
    }, { timeoutMs: 40000, what: `all ${acked.size} acknowledged spans at the sink` }).catch((e) => {
      throw new Error(`${e.message}: ${new Set(spanIdsOf(sink.requests)).size} unique spans arrived\n${gw.output()}`);
    });
    await waitFor(async () => {
      text = await scrape(gw);
      return metricSum(text, 'tailgate_disk_queue_records') === 0;
    }, { timeoutMs: 10000, what: 'the disk queue to drain' });

    const delivered = spanIdsOf(sink.requests);
    const unique = new Set(delivered);
    const duplicates = delivered.length - unique.size;
    for (const id of unique) assert.ok(sent.has(id), `span ${id} was never sent by a client`);
    assert.ok(duplicates <= possibleDupSpans,
      `${duplicates} duplicate spans delivered, tailgate counted only ${possibleDupSpans} as possible`);
    assert.equal(metricSum(text, 'tailgate_exporter_send_failed_spans_total'), 0);
    await gw.stop();
    gw = null;
    const secs = ((Date.now() - started) / 1000).toFixed(1);
    t.diagnostic(`crash loop: ${ROUNDS} SIGKILLs in ${secs} s, ${acked.size} spans acknowledged, ` +
      `${refused} requests refused, ${unique.size} unique spans delivered, ${duplicates} duplicates ` +
      `(bound counted by tailgate: ${possibleDupSpans}), ${replayedSpans} spans replayed over the restarts`);
  });
});

// A self-signed certificate for 127.0.0.1 (its own CA), made with the openssl CLI.
function selfSigned(dir, name) {
  const key = path.join(dir, `${name}.key`);
  const cert = path.join(dir, `${name}.pem`);
  const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1',
    '-keyout', key, '-out', cert, '-subj', `/CN=${name}`,
    '-addext', 'subjectAltName=IP:127.0.0.1'], { encoding: 'utf8' });
  assert.equal(r.status, 0, `openssl failed: ${r.stderr}`);
  return { key: fs.readFileSync(key), cert: fs.readFileSync(cert), certPath: cert };
}

// The request body as sent (the otlphttp exporter gzips by default, as the Collector's).
function bodyOf(req, chunks) {
  const raw = Buffer.concat(chunks);
  return (req.headers['content-encoding'] || '') === 'gzip' ? zlib.gunzipSync(raw) : raw;
}

function metricOf(text, name, exporter) {
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/);
    if (m && m[1] === name && (m[2] || '').includes(`exporter="${exporter}"`)) sum += Number(m[3]);
  }
  return sum;
}

describe('persistent sending queue: fault injection against the otlphttp exporter', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tailgate-faults-'));
  let ports;
  let gw;
  let scripted; // plain HTTP backend following a script per request
  let tlsServer; // HTTPS backend: a foreign certificate first, then the trusted one
  const attempts = []; // {at, behaviour, spanIds}
  const delivered = []; // span ids the scripted backend answered 200 for
  let script = [];
  const tlsDelivered = [];
  let tlsFailures = 0;
  let trusted;

  before(async () => {
    const [h, health, metrics, sp, tp] = await freePorts(5);
    ports = { http: h, health, metrics };
    scripted = http.createServer((req, res) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const spanIds = spanIdsOf([decodeTraceRequest(bodyOf(req, chunks))]);
        const behaviour = script.length ? script.shift() : 'ok';
        attempts.push({ at: Date.now(), behaviour, spanIds });
        const ok = () => {
          res.writeHead(200, { 'content-type': PB });
          res.end(Buffer.from(ExportTraceServiceResponse.encode({}).finish()));
        };
        if (behaviour === '429') { res.writeHead(429, { 'retry-after': '1' }); res.end(); }
        else if (behaviour === '503') { res.writeHead(503); res.end(); }
        else if (behaviour === '400') { res.writeHead(400); res.end('bad request'); }
        else if (behaviour === 'reset') req.socket.destroy();
        else if (behaviour === 'slow') setTimeout(() => { if (!res.destroyed) ok(); }, 1500);
        else { delivered.push(...spanIds); ok(); }
      });
    });
    await new Promise((r) => scripted.listen({ host: '127.0.0.1', port: sp }, r));

    const foreign = selfSigned(dir, 'foreign');
    trusted = selfSigned(dir, 'trusted');
    tlsServer = https.createServer({ key: foreign.key, cert: foreign.cert }, (req, res) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        tlsDelivered.push(...spanIdsOf([decodeTraceRequest(bodyOf(req, chunks))]));
        res.writeHead(200, { 'content-type': PB });
        res.end(Buffer.from(ExportTraceServiceResponse.encode({}).finish()));
      });
    });
    tlsServer.on('tlsClientError', () => { tlsFailures++; });
    await new Promise((r) => tlsServer.listen({ host: '127.0.0.1', port: tp }, r));

    const retry = { ...fastRetry, initial_interval: '100ms' };
    const config = gatewayConfig(ports, dir, {
      'otlphttp/faulty': { endpoint: `http://127.0.0.1:${sp}`, timeout: '500ms', retry_on_failure: retry,
        sending_queue: { storage: 'file_storage/q', num_consumers: 1 } },
    }, {
      extraExporters: {
        'otlphttp/tls': { endpoint: `https://127.0.0.1:${tp}`, tls: { ca_file: trusted.certPath },
          timeout: '1s', retry_on_failure: retry, sending_queue: { storage: 'file_storage/q', num_consumers: 1 } },
        'otlphttp/dns': { endpoint: 'http://tailgate-durable-test.invalid:4318', timeout: '1s',
          retry_on_failure: retry, sending_queue: { storage: 'file_storage/q', num_consumers: 1 } },
      },
    });
    gw = new Gateway({ config, dir, ports });
    await gw.start();
  });

  after(async () => {
    try {
      if (gw) await gw.stop({ timeoutMs: 20000 });
    } finally {
      if (gw) await gw.kill();
      if (scripted) { scripted.closeAllConnections(); await new Promise((r) => scripted.close(r)); }
      if (tlsServer) { tlsServer.closeAllConnections(); await new Promise((r) => tlsServer.close(r)); }
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('429 with Retry-After, 503, a slow answer and a reset are retried until delivered', async () => {
    script = ['429', '503', 'slow', 'reset'];
    const { body, spanIds } = pbRequest(10, 'faults');
    const r = await request({ port: ports.http, headers: { 'content-type': PB }, body });
    assert.equal(r.status, 200);
    await waitFor(() => spanIds.every((id) => delivered.includes(id)),
      { timeoutMs: 15000, what: 'the spans delivered after the faults' }).catch((e) => {
      throw new Error(`${e.message}\nattempts: ${JSON.stringify(attempts.map((a) => a.behaviour))}\n${gw.output()}`);
    });
    const mine = attempts.filter((a) => a.spanIds[0] === spanIds[0]);
    assert.deepEqual(mine.map((a) => a.behaviour), ['429', '503', 'slow', 'reset', 'ok']);
    // Retry-After: 1 holds the next attempt back at least a second (back-off alone: 100 ms).
    assert.ok(mine[1].at - mine[0].at >= 950, `retried ${mine[1].at - mine[0].at} ms after a 429 with Retry-After: 1`);
    assert.ok(mine[2].at - mine[1].at < 900, 'a 503 without Retry-After waits only the back-off');
    const text = await scrape(gw);
    assert.equal(metricOf(text, 'tailgate_exporter_sent_spans_total', 'otlphttp/faulty'), 10);
    assert.equal(metricOf(text, 'tailgate_exporter_send_failed_spans_total', 'otlphttp/faulty'), 0);
    assert.equal(delivered.filter((id) => spanIds.includes(id)).length, 10, 'delivered once');
  });

  test('400 is permanent: not retried, counted as failed, acknowledged off the disk queue', async () => {
    script = ['400'];
    const before = attempts.length;
    const { body, spanIds } = pbRequest(7, 'permanent');
    const r = await request({ port: ports.http, headers: { 'content-type': PB }, body });
    assert.equal(r.status, 200);
    await waitFor(async () => metricOf(await scrape(gw), 'tailgate_exporter_send_failed_spans_total', 'otlphttp/faulty') === 7,
      { timeoutMs: 10000, what: 'the 7 spans counted as failed' });
    // A later request goes through; the refused one was not tried again meanwhile.
    const next = pbRequest(3, 'after-permanent');
    await request({ port: ports.http, headers: { 'content-type': PB }, body: next.body });
    await waitFor(() => next.spanIds.every((id) => delivered.includes(id)), { timeoutMs: 10000, what: 'the next request delivered' });
    const mine = attempts.slice(before).filter((a) => a.spanIds[0] === spanIds[0]);
    assert.equal(mine.length, 1, 'a 400 must not be retried');
    const text = await scrape(gw);
    assert.equal(metricOf(text, 'tailgate_disk_queue_records', 'otlphttp/faulty'), 0);
  });

  test('a TLS handshake failure is retried and delivered once the backend presents a trusted certificate', async () => {
    await waitFor(() => tlsFailures >= 2, { timeoutMs: 10000, what: 'two failed TLS handshakes' });
    assert.equal(tlsDelivered.length, 0);
    tlsServer.setSecureContext({ key: trusted.key, cert: trusted.cert });
    // Everything sent so far (20 spans in the three requests above) reaches the TLS backend.
    await waitFor(() => tlsDelivered.length >= 20, { timeoutMs: 15000, what: '20 spans over TLS' });
    const text = await scrape(gw);
    assert.equal(metricOf(text, 'tailgate_exporter_sent_spans_total', 'otlphttp/tls'), 20);
    assert.equal(metricOf(text, 'tailgate_exporter_send_failed_spans_total', 'otlphttp/tls'), 0);
  });

  test('a DNS failure is retried and the data stays in the disk queue', async () => {
    const text = await scrape(gw);
    assert.equal(metricOf(text, 'tailgate_exporter_send_failed_spans_total', 'otlphttp/dns'), 0);
    assert.equal(metricOf(text, 'tailgate_exporter_sent_spans_total', 'otlphttp/dns'), 0);
    assert.equal(metricOf(text, 'tailgate_disk_queue_records', 'otlphttp/dns'), 3);
    assert.ok(gw.stdout.includes('tailgate-durable-test.invalid'), 'the resolve failure is logged');
  });
});

describe('sending_queue.storage references: validate refuses what start-up refuses', () => {
  test('a missing, unlisted or non-storage extension is an error at its position', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tailgate-storage-ref-'));
    try {
      const file = path.join(dir, 'c.yaml');
      fs.writeFileSync(file, [
        'receivers: {otlp: {protocols: {grpc: {endpoint: "127.0.0.1:0"}}}}',
        'exporters:',
        '  otlp/a: {endpoint: "127.0.0.1:1", tls: {insecure: true}, sending_queue: {storage: file_storage/missing}}',
        '  otlp/b: {endpoint: "127.0.0.1:1", tls: {insecure: true}, sending_queue: {storage: health_check}}',
        '  otlp/c: {endpoint: "127.0.0.1:1", tls: {insecure: true}, sending_queue: {storage: file_storage/unlisted}}',
        'extensions:',
        '  health_check: {endpoint: "127.0.0.1:0"}',
        `  file_storage/unlisted: {directory: ${JSON.stringify(dir)}}`,
        'service:',
        '  extensions: [health_check]',
        '  pipelines: {traces: {receivers: [otlp], exporters: [otlp/a, otlp/b, otlp/c]}}',
        '',
      ].join('\n'));
      const v = spawnSync(process.env.TAILGATE_BIN || path.join(__dirname, '../../build/tailgate'),
        ['validate', file], { encoding: 'utf8', timeout: 10000 });
      assert.notEqual(v.status, 0);
      const lines = (v.stdout + v.stderr).split('\n').filter((l) => l.includes('sending_queue.storage'));
      assert.deepEqual(lines.map((l) => l.replace(file, 'c.yaml')), [
        'c.yaml:3:85: exporters::otlp/a: sending_queue.storage: "file_storage/missing" is not an extension listed in service: extensions:',
        'c.yaml:4:85: exporters::otlp/b: sending_queue.storage: "health_check" is not a storage extension (file_storage)',
        'c.yaml:5:85: exporters::otlp/c: sending_queue.storage: "file_storage/unlisted" is not an extension listed in service: extensions:',
      ]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('persistent sending queue: SIGKILL while delivering', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tailgate-redeliver-'));
  let ports;
  let gw = null;
  let backend = null;
  const received = []; // span ids, as often as the backend received them

  before(async () => {
    const [h, health, metrics, bp] = await freePorts(4);
    ports = { http: h, health, metrics, backend: bp };
    // A slow backend: it records each request as received, then answers 250 ms later, so
    // a SIGKILL often lands between "the backend has it" and "tailgate acknowledged it".
    backend = http.createServer((req, res) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        received.push(...spanIdsOf([decodeTraceRequest(bodyOf(req, chunks))]));
        setTimeout(() => {
          if (res.destroyed) return;
          res.writeHead(200, { 'content-type': PB });
          res.end(Buffer.from(ExportTraceServiceResponse.encode({}).finish()));
        }, 250);
      });
    });
    await new Promise((r) => backend.listen({ host: '127.0.0.1', port: bp }, r));
  });

  after(async () => {
    if (gw) await gw.kill();
    if (backend) { backend.closeAllConnections(); await new Promise((r) => backend.close(r)); }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('duplicates after SIGKILLs during delivery are no more than tailgate counted', async (t) => {
    const config = () => gatewayConfig(ports, dir, {
      'otlphttp/slow': { endpoint: `http://127.0.0.1:${ports.backend}`, timeout: '5s',
        retry_on_failure: fastRetry,
        sending_queue: { storage: 'file_storage/q', num_consumers: 4, queue_size: 100000 } },
    });
    // Queue 60 requests while nothing delivers faster than 4 per 250 ms.
    gw = new Gateway({ config: config(), dir, ports });
    await gw.start();
    const acked = new Set();
    for (let i = 0; i < 60; i++) {
      const { body, spanIds } = pbRequest(5, `redeliver-${i}`);
      const r = await request({ port: ports.http, headers: { 'content-type': PB }, body });
      assert.equal(r.status, 200);
      spanIds.forEach((id) => acked.add(id));
    }
    let possibleDupSpans = 0;
    for (let round = 0; round < 6; round++) {
      await delay(200 + Math.floor(Math.random() * 300));
      await gw.kill();
      gw = new Gateway({ config: config(), dir, ports });
      await gw.start();
      possibleDupSpans += metricSum(await scrape(gw), 'tailgate_disk_queue_possible_duplicate_spans_total');
    }
    await waitFor(() => [...acked].every((id) => received.includes(id)),
      { timeoutMs: 20000, what: `all ${acked.size} spans at the backend` });
    await waitFor(async () => metricSum(await scrape(gw), 'tailgate_disk_queue_records') === 0,
      { timeoutMs: 10000, what: 'the disk queue to drain' });
    await gw.stop();
    gw = null;
    const duplicates = received.length - new Set(received).size;
    assert.ok(possibleDupSpans > 0, 'no SIGKILL landed while requests were in flight');
    assert.ok(duplicates <= possibleDupSpans,
      `${duplicates} duplicate spans received, tailgate counted only ${possibleDupSpans} as possible`);
    // The bound: at most num_consumers (4) requests of 5 spans in flight per crash.
    assert.ok(possibleDupSpans <= 6 * 4 * 5, `counted ${possibleDupSpans} > 6 crashes x 4 requests x 5 spans`);
    t.diagnostic(`redelivery: 6 SIGKILLs during delivery, ${acked.size} spans, ${duplicates} duplicates received, ` +
      `${possibleDupSpans} counted as possible duplicates`);
  });
});
