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
    }, { timeoutMs: 20000, what: `all ${acked.size} acknowledged spans at the sink` });
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
