'use strict';
// Exporter compression (core/tg_codec.c), checked by decoders that are not tailgate's:
//  - the otlp exporter's gzip is made by tailgate (libdeflate) and handed to gRPC core as
//    an already-compressed message: a raw HTTP/2 server (node:http2) sees
//    `grpc-encoding: gzip`, a message whose compressed flag is 1, and Node's zlib inflates
//    it to the request that was sent;
//  - the otlphttp exporter's gzip (default and compression_params.level 12) is inflated by
//    the Node sink;
//  - zstd and snappy (no decoder in Node 20) go tailgate → tailgate: the second one's
//    OTLP/HTTP receiver must take the body and pass every span on, uncompressed, to the
//    Node sink, which compares the span ids whole.
const { describe, test } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const http = require('node:http');
const http2 = require('node:http2');
const zlib = require('node:zlib');
const { startSink } = require('./lib/sink');
const { startGateway, baseConfig, waitFor } = require('./lib/gateway');
const { ExportTraceServiceRequest, ExportTraceServiceResponse } = require('./lib/otlp');

const randHex = (bytes) => crypto.randomBytes(bytes).toString('hex');

// An ExportTraceServiceRequest with n spans of one trace: {body, spanIds}.
function pbRequest(n, tag) {
  const traceId = randHex(16);
  const spanIds = Array.from({ length: n }, () => randHex(8));
  const msg = ExportTraceServiceRequest.create({
    resourceSpans: [{
      resource: { attributes: [{ key: 'service.name', value: { stringValue: 'compress' } }] },
      scopeSpans: [{
        scope: { name: 'compress' },
        spans: spanIds.map((id, i) => ({
          traceId: Buffer.from(traceId, 'hex'),
          spanId: Buffer.from(id, 'hex'),
          name: `${tag}-${i}`,
          kind: 2,
          startTimeUnixNano: '1704164645000000001',
          endTimeUnixNano: '1704164645500000002',
          attributes: [{ key: 'http.url', value: { stringValue: `https://shop.example.com/items/${i}` } }],
        })),
      }],
    }],
  });
  return { body: Buffer.from(ExportTraceServiceRequest.encode(msg).finish()), spanIds };
}

function post(port, body) {
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1', port, path: '/v1/traces', method: 'POST',
      headers: { 'content-type': 'application/x-protobuf', 'content-length': body.length },
    }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode)); });
    req.on('error', reject);
    req.end(body);
  });
}

const spanIdsOf = (msgs) => msgs.flatMap((m) => m.resourceSpans.flatMap((rs) =>
  rs.scopeSpans.flatMap((ss) => ss.spans.map((s) => Buffer.from(s.spanId).toString('hex')))));

// A gRPC TraceService that keeps each call's headers and its raw message frames.
async function startRawGrpcSink() {
  const calls = [];
  const server = http2.createServer();
  const sessions = new Set();
  server.on('session', (s) => { sessions.add(s); s.on('close', () => sessions.delete(s)); });
  server.on('stream', (stream, headers) => {
    const chunks = [];
    stream.on('data', (c) => chunks.push(c));
    stream.on('end', () => {
      calls.push({ headers, data: Buffer.concat(chunks) });
      const resp = Buffer.from(ExportTraceServiceResponse.encode({}).finish());
      const frame = Buffer.alloc(5 + resp.length);
      frame.writeUInt32BE(resp.length, 1);
      resp.copy(frame, 5);
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.end(frame);
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: server.address().port,
    calls,
    close: () => new Promise((resolve) => { server.close(() => resolve()); for (const s of sessions) s.destroy(); }),
  };
}
describe('exporter compression', () => {
  test('otlp exporter gzip: a compressed gRPC message with grpc-encoding gzip', async () => {
    const sink = await startRawGrpcSink();
    let gw = null;
    try {
      gw = await startGateway((ports) => baseConfig(ports, {
        exporters: { 'otlp/sink': { endpoint: `127.0.0.1:${sink.port}`, tls: { insecure: true },
          compression: 'gzip', compression_params: { level: 9 } } },
      }));
      const sent = pbRequest(40, 'grpc');
      assert.equal(await post(gw.ports.http, sent.body), 200);
      await waitFor(() => sink.calls.length >= 1, { timeoutMs: 10000, what: 'a call at the raw gRPC sink' });
      const call = sink.calls[0];
      assert.equal(call.headers[':path'], '/opentelemetry.proto.collector.trace.v1.TraceService/Export');
      assert.equal(call.headers['grpc-encoding'], 'gzip');
      assert.equal(call.data[0], 1, 'compressed flag');
      const len = call.data.readUInt32BE(1);
      assert.equal(call.data.length, 5 + len, 'one message');
      const plain = zlib.gunzipSync(call.data.subarray(5));
      assert.ok(len < plain.length, 'smaller than the request it carries');
      const got = ExportTraceServiceRequest.decode(plain);
      assert.deepEqual(spanIdsOf([got]).sort(), [...sent.spanIds].sort());
    } catch (e) {
      if (gw) e.message += `\n${gw.output()}`;
      throw e;
    } finally {
      if (gw) { await gw.kill(); gw.cleanup(); }
      await sink.close();
    }
  });

  for (const [name, conf] of [['default (gzip level 1)', {}], ['gzip level 12', { compression: 'gzip', compression_params: { level: 12 } }]]) {
    test(`otlphttp exporter ${name}: Content-Encoding gzip, read by Node's zlib`, async () => {
      const sink = await startSink({ grpc: false });
      let gw = null;
      try {
        gw = await startGateway((ports) => baseConfig(ports, {
          exporters: { 'otlphttp/sink': { endpoint: `http://127.0.0.1:${sink.httpPort}`, ...conf } },
        }));
        const sent = pbRequest(30, 'http');
        assert.equal(await post(gw.ports.http, sent.body), 200);
        await sink.waitForSpans(30, 10000);
        assert.deepEqual(sink.errors, []);
        for (const r of sink.requests) assert.equal(r.headers['content-encoding'], 'gzip');
        assert.deepEqual(spanIdsOf(sink.requests.map((r) => r.msg)).sort(), [...sent.spanIds].sort());
      } catch (e) {
        if (gw) e.message += `\n${gw.output()}`;
        throw e;
      } finally {
        if (gw) { await gw.kill(); gw.cleanup(); }
        await sink.close();
      }
    });
  }

  for (const codec of ['zstd', 'snappy']) {
    test(`otlphttp exporter ${codec} → tailgate's OTLP/HTTP receiver`, async () => {
      const sink = await startSink({ grpc: false });
      let front = null, back = null;
      try {
        back = await startGateway((ports) => baseConfig(ports, {
          exporters: { 'otlphttp/sink': { endpoint: `http://127.0.0.1:${sink.httpPort}`, compression: 'none' } },
        }));
        front = await startGateway((ports) => baseConfig(ports, {
          exporters: { 'otlphttp/next': { endpoint: `http://127.0.0.1:${back.ports.http}`, compression: codec } },
        }));
        const a = pbRequest(25, `${codec}-a`), b = pbRequest(300, `${codec}-b`);
        assert.equal(await post(front.ports.http, a.body), 200);
        assert.equal(await post(front.ports.http, b.body), 200);
        await sink.waitForSpans(325, 10000);
        assert.deepEqual(sink.errors, []);
        for (const r of sink.requests) assert.equal(r.headers['content-encoding'], undefined);
        assert.deepEqual(spanIdsOf(sink.requests.map((r) => r.msg)).sort(), [...a.spanIds, ...b.spanIds].sort());
      } catch (e) {
        if (front) e.message += `\n${front.output()}`;
        if (back) e.message += `\n${back.output()}`;
        throw e;
      } finally {
        if (front) { await front.kill(); front.cleanup(); }
        if (back) { await back.kill(); back.cleanup(); }
        await sink.close();
      }
    });
  }

  test('compression_params.level out of range for the codec is a configuration error', async () => {
    const { spawnSync } = require('node:child_process');
    const fs = require('node:fs');
    const os = require('node:os');
    const path = require('node:path');
    const { BIN, toYaml } = require('./lib/gateway');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tg-compress-'));
    try {
      const file = path.join(dir, 'c.yaml');
      fs.writeFileSync(file, toYaml(baseConfig({ grpc: 1, http: 2, health: 3, metrics: 4 }, {
        exporters: { otlphttp: { endpoint: 'http://127.0.0.1:9', compression: 'snappy', compression_params: { level: 3 } } },
      })));
      const r = spawnSync(BIN, ['validate', file], { encoding: 'utf8', timeout: 10000 });
      assert.notEqual(r.status, 0);
      assert.match(r.stdout + r.stderr, /compression_params\.level: snappy has no levels/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
