'use strict';
// The OTLP receiver with TLS on both listeners: a certificate made for this run with the
// openssl command line, then real clients — node's https (HTTP/1.1), node's http2 client
// (ALPN h2), and the OpenTelemetry JS gRPC exporter with TLS credentials — and a
// plaintext client that must not get through.
const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const https = require('node:https');
const http2 = require('node:http2');
const net = require('node:net');
const crypto = require('node:crypto');
const { spawnSync } = require('node:child_process');
const grpc = require('@grpc/grpc-js');
const { NodeTracerProvider } = require('@opentelemetry/sdk-trace-node');
const { SimpleSpanProcessor } = require('@opentelemetry/sdk-trace-base');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-grpc');
const { startSink } = require('./lib/sink');
const { startGateway, baseConfig } = require('./lib/gateway');
const { ExportTraceServiceRequest } = require('./lib/otlp');

function makeCertificate(dir) {
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1',
    '-keyout', key, '-out', cert, '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { encoding: 'utf8' });
  assert.equal(r.status, 0, `openssl failed: ${r.stderr}`);
  return { key, cert, pem: fs.readFileSync(cert) };
}

// A CA, and a server and a client certificate it signed (for mutual TLS).
function makeCertificateAuthority(dir) {
  const run = (args) => {
    const r = spawnSync('openssl', args, { encoding: 'utf8', cwd: dir });
    assert.equal(r.status, 0, `openssl ${args[0]} failed: ${r.stderr}`);
  };
  run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-keyout', 'ca.key',
    '-out', 'ca.pem', '-subj', '/CN=tailgate test CA']);
  fs.writeFileSync(path.join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  for (const who of ['server', 'client']) {
    run(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${who}.key`, '-out', `${who}.csr`,
      '-subj', `/CN=${who}`]);
    run(['x509', '-req', '-in', `${who}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key',
      '-CAcreateserial', '-days', '1', '-out', `${who}.pem`,
      ...(who === 'server' ? ['-extfile', 'server.ext'] : [])]);
  }
  const f = (name) => path.join(dir, name);
  return { ca: f('ca.pem'), serverCert: f('server.pem'), serverKey: f('server.key'),
    clientCert: f('client.pem'), clientKey: f('client.key') };
}

function postHttps(port, body, tlsOpts) {
  return new Promise((resolve, reject) => {
    const req = https.request({
      host: '127.0.0.1', port, path: '/v1/traces', method: 'POST', ...tlsOpts,
      headers: { 'content-type': 'application/x-protobuf', 'content-length': body.length },
    }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode)); });
    req.on('error', reject);
    req.end(body);
  });
}

function pbRequest(name, n) {
  const traceId = crypto.randomBytes(16);
  const msg = ExportTraceServiceRequest.create({
    resourceSpans: [{
      resource: { attributes: [{ key: 'service.name', value: { stringValue: 'tls-client' } }] },
      scopeSpans: [{
        spans: Array.from({ length: n }, (_, i) => ({
          traceId, spanId: crypto.randomBytes(8), name: `${name}-${i}`, kind: 2,
          startTimeUnixNano: '1704164645000000001', endTimeUnixNano: '1704164645500000002',
        })),
      }],
    }],
  });
  return Buffer.from(ExportTraceServiceRequest.encode(msg).finish());
}

describe('OTLP receiver over TLS', () => {
  let dir, tls, sink, gw;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tailgate-tls-'));
    tls = makeCertificate(dir);
    sink = await startSink({ http: false });
    gw = await startGateway((ports) => {
      const cfg = baseConfig(ports, {
        exporters: { 'otlp/sink': { endpoint: `127.0.0.1:${sink.grpcPort}`, tls: { insecure: true } } },
      });
      const serverTls = { cert_file: tls.cert, key_file: tls.key };
      cfg.receivers.otlp.protocols.grpc.tls = serverTls;
      cfg.receivers.otlp.protocols.http.tls = serverTls;
      return cfg;
    });
  });

  after(async () => {
    if (gw) await gw.stop();
    if (sink) await sink.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('HTTPS (HTTP/1.1) POST /v1/traces → 200, spans reach the sink', async () => {
    const before = sink.spanCount;
    const status = await postHttps(gw.ports.http, pbRequest('https1', 3), { ca: tls.pem });
    assert.equal(status, 200);
    await sink.waitForSpans(before + 3);
  });

  test('HTTP/2 over TLS negotiates h2 by ALPN and is answered', async () => {
    const before = sink.spanCount;
    const session = http2.connect(`https://127.0.0.1:${gw.ports.http}`, { ca: tls.pem });
    try {
      await new Promise((resolve, reject) => { session.once('connect', resolve); session.once('error', reject); });
      assert.equal(session.alpnProtocol, 'h2');
      const body = pbRequest('h2', 2);
      const status = await new Promise((resolve, reject) => {
        const req = session.request({ ':method': 'POST', ':path': '/v1/traces',
          'content-type': 'application/x-protobuf' });
        req.on('response', (h) => { req.resume(); req.on('end', () => resolve(h[':status'])); });
        req.on('error', reject);
        req.end(body);
      });
      assert.equal(status, 200);
    } finally {
      session.close();
    }
    await sink.waitForSpans(before + 2);
  });

  test('OpenTelemetry JS gRPC exporter with TLS credentials → spans reach the sink', async () => {
    const before = sink.spanCount;
    const exporter = new OTLPTraceExporter({
      url: `https://localhost:${gw.ports.grpc}`,
      credentials: grpc.credentials.createSsl(tls.pem),
      timeoutMillis: 5000,
    });
    const provider = new NodeTracerProvider({
      resource: resourceFromAttributes({ 'service.name': 'tls-grpc' }),
      spanProcessors: [new SimpleSpanProcessor(exporter)],
    });
    const tracer = provider.getTracer('tls-test');
    for (let i = 0; i < 4; i++) tracer.startSpan(`grpc-tls-${i}`).end();
    await provider.forceFlush();
    await provider.shutdown();
    await sink.waitForSpans(before + 4);
  });

  test('a plaintext request on the TLS port gets no HTTP answer', async () => {
    const reply = await new Promise((resolve) => {
      const sock = net.connect(gw.ports.http, '127.0.0.1', () => {
        sock.write('POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\n\r\n');
      });
      let data = '';
      sock.setTimeout(3000, () => sock.destroy());
      sock.on('data', (d) => { data += d.toString('latin1'); });
      sock.on('close', () => resolve(data));
      sock.on('error', () => resolve(data));
    });
    assert.ok(!reply.startsWith('HTTP/1.1 200'), `plaintext got through: ${JSON.stringify(reply.slice(0, 40))}`);
  });
});

describe('OTLP receiver with mutual TLS (client_ca_file)', () => {
  let dir, pki, sink, gw;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tailgate-mtls-'));
    pki = makeCertificateAuthority(dir);
    sink = await startSink({ http: false });
    gw = await startGateway((ports) => {
      const cfg = baseConfig(ports, {
        exporters: { 'otlp/sink': { endpoint: `127.0.0.1:${sink.grpcPort}`, tls: { insecure: true } } },
      });
      cfg.receivers.otlp.protocols.http.tls = {
        cert_file: pki.serverCert, key_file: pki.serverKey, client_ca_file: pki.ca,
      };
      return cfg;
    });
  });

  after(async () => {
    if (gw) await gw.stop();
    if (sink) await sink.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('a client with a certificate from the CA is served', async () => {
    const before = sink.spanCount;
    const status = await postHttps(gw.ports.http, pbRequest('mtls', 2), {
      ca: fs.readFileSync(pki.ca), cert: fs.readFileSync(pki.clientCert),
      key: fs.readFileSync(pki.clientKey),
    });
    assert.equal(status, 200);
    await sink.waitForSpans(before + 2);
  });

  test('a client without a certificate is refused during the handshake', async () => {
    await assert.rejects(postHttps(gw.ports.http, pbRequest('no-cert', 1),
      { ca: fs.readFileSync(pki.ca) }));
  });
});
