'use strict';
// Authentication end to end with real clients. One gateway runs every HTTP/gRPC receiver
// behind an authenticator (bearertokenauth or basicauth, from a token file and an
// htpasswd file written by Debian's htpasswd), and exports through otlp (bearer) and
// otlphttp (basic) to a sink that records each request's headers.
//  - every receiver refuses missing and wrong credentials (HTTP 401 + WWW-Authenticate,
//    gRPC 16 UNAUTHENTICATED) and accepts the right ones: the OTel JS SDK exporters with
//    headers/metadata, grpc-js with call credentials over TLS, jaeger-client with its
//    username/password, plain HTTP;
//  - the exporters' requests carry exactly the configured credentials;
//  - refusals are counted per receiver, exactly; a rotated token file takes effect;
//  - no token or password (nor its base64 form) appears in a log line or in /metrics.
// A second gateway checks mutual TLS: no certificate, another CA's certificate and an
// expired one are refused; a replaced server certificate is served after reload_interval.
const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const http = require('node:http');
const https = require('node:https');
const crypto = require('node:crypto');
const { spawnSync } = require('node:child_process');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const { initTracer } = require('jaeger-client');
const { ExportResultCode } = require('@opentelemetry/core');
const { NodeTracerProvider } = require('@opentelemetry/sdk-trace-node');
const { SimpleSpanProcessor, InMemorySpanExporter } = require('@opentelemetry/sdk-trace-base');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { OTLPTraceExporter: GrpcExporter } = require('@opentelemetry/exporter-trace-otlp-grpc');
const { OTLPTraceExporter: ProtoExporter } = require('@opentelemetry/exporter-trace-otlp-proto');
const { Gateway, httpGet, waitFor } = require('./lib/gateway');
const { freePorts } = require('./lib/ports');
const { startSink, EXPORT_PATH } = require('./lib/sink');
const { ExportTraceServiceRequest } = require('./lib/otlp');

const ROOT = path.resolve(__dirname, '..', '..');
const rnd = () => crypto.randomBytes(9).toString('base64url');

function run(cmd, args, cwd) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', cwd });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

// A CA and certificates it signs; `days` < 0 makes an already expired certificate.
function makeCa(dir, name) {
  run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-keyout',
    `${name}.key`, '-out', `${name}.pem`, '-subj', `/CN=${name}`], dir);
  fs.writeFileSync(path.join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  const sign = (who, { days = 1, server = false } = {}) => {
    run('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${who}.key`, '-out',
      `${who}.csr`, '-subj', `/CN=${who}`], dir);
    run('openssl', ['x509', '-req', '-in', `${who}.csr`, '-CA', `${name}.pem`, '-CAkey',
      `${name}.key`, '-CAcreateserial', '-days', String(days), '-out', `${who}.pem`,
      ...(server ? ['-extfile', 'server.ext'] : [])], dir);
    return { cert: path.join(dir, `${who}.pem`), key: path.join(dir, `${who}.key`) };
  };
  return { pem: path.join(dir, `${name}.pem`), sign };
}

function pbRequest(name, n = 1) {
  const traceId = crypto.randomBytes(16);
  const msg = ExportTraceServiceRequest.create({
    resourceSpans: [{
      resource: { attributes: [{ key: 'service.name', value: { stringValue: 'auth-raw' } }] },
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

// POST /v1/traces over plain HTTP; resolves {status, headers}.
function postHttp(port, urlPath, body, headers = {}, contentType = 'application/x-protobuf') {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: urlPath, method: 'POST', agent: false,
      headers: { 'content-type': contentType, 'content-length': body.length, ...headers } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function postHttps(port, body, tlsOpts) {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port, path: '/v1/traces', method: 'POST', agent: false,
      ...tlsOpts, headers: { 'content-type': 'application/x-protobuf', 'content-length': body.length } },
    (res) => {
      const serial = res.socket.getPeerCertificate().serialNumber;
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, serial }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

// One unary gRPC call with raw bytes; resolves the error (null on success).
function grpcCall(client, method, body, metadata = new grpc.Metadata()) {
  return new Promise((resolve) => {
    client.makeUnaryRequest(method, (b) => b, (b) => b, body, metadata, { deadline: Date.now() + 5000 },
      (err) => resolve(err || null));
  });
}

const bearerMd = (v) => { const m = new grpc.Metadata(); m.set('authorization', v); return m; };
const basic = (u, p) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;

// Records one span with the SDK and exports it with `exporter`; resolves the result code.
async function sdkExport(exporter, name) {
  const mem = new InMemorySpanExporter();
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'auth-sdk' }),
    spanProcessors: [new SimpleSpanProcessor(mem)],
  });
  provider.getTracer('auth').startSpan(name).end();
  await provider.forceFlush();
  const result = await new Promise((resolve) => exporter.export(mem.getFinishedSpans(), resolve));
  await exporter.shutdown();
  await provider.shutdown();
  return result.code;
}

describe('authenticators on every HTTP/gRPC receiver and on exporters', () => {
  let dir, sink, gw, ports, tokenFile, ca, grpcCa;
  const secrets = {
    cfgToken: `cfg-${rnd()}`, fileToken: `file-${rnd()}`, rotated: `rot-${rnd()}`,
    exporterToken: `exp-${rnd()}`, exporterPassword: `pw-${rnd()}`,
    alice: `a-${rnd()}`, bob: `b-${rnd()}`, carol: `c-${rnd()}`,
  };
  // refusals we cause, per receiver/transport: compared exactly with /metrics
  const refusedByUs = {};
  const refused = (recv, transport) => { const k = `${recv}|${transport}`; refusedByUs[k] = (refusedByUs[k] || 0) + 1; };
  const namesAt = (transport) => new Set(sink.requests.filter((r) => r.transport === transport)
    .flatMap((r) => r.msg.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans.map((s) => s.name)))));
  const arrives = (name) => waitFor(() => namesAt('grpc').has(name) && namesAt('http').has(name),
    { timeoutMs: 10000, what: `span ${name} at both sink transports` });

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tailgate-auth-'));
    ca = makeCa(dir, 'ca');
    const server = ca.sign('server', { server: true });
    grpcCa = fs.readFileSync(ca.pem);
    tokenFile = path.join(dir, 'tokens');
    fs.writeFileSync(tokenFile, `# bearer tokens\n${secrets.fileToken}\n`);
    const htpasswd = path.join(dir, 'users.htpasswd');
    run('htpasswd', ['-cbB', '-C', '5', htpasswd, 'alice', secrets.alice]); // bcrypt $2y$
    run('htpasswd', ['-bm', htpasswd, 'bob', secrets.bob]);                  // apr1
    run('htpasswd', ['-bs', htpasswd, 'carol', secrets.carol]);              // {SHA}
    sink = await startSink();
    const [bGrpc, bHttp, aGrpc, aHttp, jGrpc, jHttp, health, metrics] = await freePorts(8);
    ports = { bGrpc, bHttp, aGrpc, aHttp, jGrpc, jHttp, health, metrics };
    const bearer = { authenticator: 'bearertokenauth/server' };
    const basicAuth = { authenticator: 'basicauth/server' };
    const config = {
      extensions: {
        health_check: { endpoint: `127.0.0.1:${health}` },
        'bearertokenauth/server': { token: secrets.cfgToken, filename: tokenFile, reload_interval: '100ms' },
        'basicauth/server': { htpasswd: { file: htpasswd } },
        'bearertokenauth/client': { token: secrets.exporterToken },
        'basicauth/client': { client_auth: { username: 'exporter', password: secrets.exporterPassword } },
      },
      receivers: {
        'otlp/bearer': { protocols: {
          grpc: { endpoint: `127.0.0.1:${bGrpc}`, tls: { cert_file: server.cert, key_file: server.key }, auth: bearer },
          http: { endpoint: `127.0.0.1:${bHttp}`, auth: bearer } } },
        'otlp/basic': { protocols: {
          grpc: { endpoint: `127.0.0.1:${aGrpc}`, auth: basicAuth },
          http: { endpoint: `127.0.0.1:${aHttp}`, auth: basicAuth } } },
        jaeger: { protocols: {
          grpc: { endpoint: `127.0.0.1:${jGrpc}`, auth: bearer },
          thrift_http: { endpoint: `127.0.0.1:${jHttp}`, auth: basicAuth } } },
      },
      exporters: {
        'otlp/sink': { endpoint: `127.0.0.1:${sink.grpcPort}`, tls: { insecure: true },
          auth: { authenticator: 'bearertokenauth/client' } },
        'otlphttp/sink': { endpoint: `http://127.0.0.1:${sink.httpPort}`,
          auth: { authenticator: 'basicauth/client' } },
      },
      service: {
        extensions: ['health_check', 'bearertokenauth/server', 'basicauth/server',
          'bearertokenauth/client', 'basicauth/client'],
        telemetry: { logs: { level: 'debug' }, metrics: { address: `127.0.0.1:${metrics}` } },
        pipelines: { traces: { receivers: ['otlp/bearer', 'otlp/basic', 'jaeger'],
          exporters: ['otlp/sink', 'otlphttp/sink'] } },
      },
    };
    gw = new Gateway({ config, dir, ports });
    await gw.start();
  });

  after(async () => {
    if (gw) await gw.kill();
    if (sink) await sink.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('OTLP/HTTP (bearer): none and wrong → 401 + WWW-Authenticate, config and file tokens → 200', async () => {
    let r = await postHttp(ports.bHttp, '/v1/traces', pbRequest('bh-none'));
    assert.equal(r.status, 401);
    assert.equal(r.headers['www-authenticate'], 'Bearer realm="tailgate"');
    refused('otlp/bearer', 'http');
    r = await postHttp(ports.bHttp, '/v1/traces', pbRequest('bh-wrong'), { authorization: `Bearer ${secrets.cfgToken}x` });
    assert.equal(r.status, 401);
    refused('otlp/bearer', 'http');
    r = await postHttp(ports.bHttp, '/v1/traces', pbRequest('bh-basic'), { authorization: basic('alice', secrets.alice) });
    assert.equal(r.status, 401, 'Basic credentials on a bearer receiver');
    refused('otlp/bearer', 'http');
    r = await postHttp(ports.bHttp, '/v1/traces', pbRequest('bh-cfg'), { authorization: `Bearer ${secrets.cfgToken}` });
    assert.equal(r.status, 200);
    r = await postHttp(ports.bHttp, '/v1/traces', pbRequest('bh-file'), { authorization: `bearer ${secrets.fileToken}` });
    assert.equal(r.status, 200);
    await arrives('bh-cfg-0');
    await arrives('bh-file-0');
    assert.ok(!namesAt('grpc').has('bh-none-0') && !namesAt('grpc').has('bh-wrong-0'));
  });

  test('OTLP/HTTP (basic): bcrypt, apr1 and {SHA} users pass; a wrong password or user → 401', async () => {
    for (const user of ['alice', 'bob', 'carol']) {
      const r = await postHttp(ports.aHttp, '/v1/traces', pbRequest(`ah-${user}`), { authorization: basic(user, secrets[user]) });
      assert.equal(r.status, 200, user);
    }
    // the same credentials again (answered from the verified-password cache)
    assert.equal((await postHttp(ports.aHttp, '/v1/traces', pbRequest('ah-again'), { authorization: basic('alice', secrets.alice) })).status, 200);
    for (const [u, p] of [['alice', secrets.bob], ['bob', `${secrets.bob}x`], ['mallory', secrets.alice], ['carol', '']]) {
      const r = await postHttp(ports.aHttp, '/v1/traces', pbRequest('ah-bad'), { authorization: basic(u, p) });
      assert.equal(r.status, 401, `${u} with a wrong password`);
      assert.equal(r.headers['www-authenticate'], 'Basic realm="tailgate", charset="UTF-8"');
      refused('otlp/basic', 'http');
    }
    assert.equal((await postHttp(ports.aHttp, '/v1/traces', pbRequest('ah-none'))).status, 401);
    refused('otlp/basic', 'http');
    for (const user of ['alice', 'bob', 'carol']) await arrives(`ah-${user}-0`);
  });

  test('OTel JS SDK exporters with headers: right ones export, wrong ones fail', async () => {
    const protoOk = new ProtoExporter({ url: `http://127.0.0.1:${ports.bHttp}/v1/traces`,
      headers: { Authorization: `Bearer ${secrets.fileToken}` } });
    assert.equal(await sdkExport(protoOk, 'sdk-http-ok'), ExportResultCode.SUCCESS);
    const protoBad = new ProtoExporter({ url: `http://127.0.0.1:${ports.aHttp}/v1/traces`,
      headers: { Authorization: basic('bob', 'nope') } });
    assert.equal(await sdkExport(protoBad, 'sdk-http-bad'), ExportResultCode.FAILED);
    refused('otlp/basic', 'http');

    const grpcOk = new GrpcExporter({ url: `http://127.0.0.1:${ports.aGrpc}`,
      metadata: bearerMdFor(basic('carol', secrets.carol)) });
    assert.equal(await sdkExport(grpcOk, 'sdk-grpc-ok'), ExportResultCode.SUCCESS);
    const grpcBad = new GrpcExporter({ url: `http://127.0.0.1:${ports.aGrpc}`,
      metadata: bearerMdFor(basic('carol', 'wrong')) });
    assert.equal(await sdkExport(grpcBad, 'sdk-grpc-bad'), ExportResultCode.FAILED);
    refused('otlp/basic', 'grpc');
    await arrives('sdk-http-ok');
    await arrives('sdk-grpc-ok');
    assert.ok(!namesAt('http').has('sdk-http-bad') && !namesAt('http').has('sdk-grpc-bad'));
  });

  test('OTLP/gRPC over TLS (bearer): grpc-js call credentials pass, none and wrong → UNAUTHENTICATED', async () => {
    const opts = { 'grpc.ssl_target_name_override': 'localhost' };
    const target = `127.0.0.1:${ports.bGrpc}`;
    const withToken = (token) => grpc.credentials.combineChannelCredentials(grpc.credentials.createSsl(grpcCa),
      grpc.credentials.createFromMetadataGenerator((_p, cb) => cb(null, bearerMd(`Bearer ${token}`))));
    const ok = new grpc.Client(target, withToken(secrets.cfgToken), opts);
    assert.equal(await grpcCall(ok, EXPORT_PATH, pbRequest('bg-ok')), null);
    ok.close();
    const wrong = new grpc.Client(target, withToken(secrets.exporterToken), opts);
    const e1 = await grpcCall(wrong, EXPORT_PATH, pbRequest('bg-wrong'));
    assert.equal(e1 && e1.code, grpc.status.UNAUTHENTICATED);
    refused('otlp/bearer', 'grpc');
    wrong.close();
    const none = new grpc.Client(target, grpc.credentials.createSsl(grpcCa), opts);
    const e2 = await grpcCall(none, EXPORT_PATH, pbRequest('bg-none'));
    assert.equal(e2 && e2.code, grpc.status.UNAUTHENTICATED);
    refused('otlp/bearer', 'grpc');
    none.close();
    await arrives('bg-ok-0');
  });

  test('Jaeger api_v2 gRPC (bearer) and Thrift HTTP (basic, jaeger-client username/password)', async () => {
    const def = protoLoader.loadSync('collector.proto', { includeDirs: [path.join(ROOT, 'proto')], keepCase: true, longs: String, enums: String });
    const api = grpc.loadPackageDefinition(def).jaeger.api_v2;
    const client = new api.CollectorService(`127.0.0.1:${ports.jGrpc}`, grpc.credentials.createInsecure());
    const batch = (name) => ({
      process: { service_name: 'jaeger-grpc' },
      spans: [{ trace_id: crypto.randomBytes(16), span_id: crypto.randomBytes(8), operation_name: name,
        start_time: { seconds: 1704164645, nanos: 0 }, duration: { seconds: 0, nanos: 5000000 } }],
    });
    const post = (name, md) => new Promise((resolve) => client.PostSpans({ batch: batch(name) }, md, (err) => resolve(err || null)));
    assert.equal(await post('jg-ok', bearerMd(`Bearer ${secrets.cfgToken}`)), null);
    const e = await post('jg-none', new grpc.Metadata());
    assert.equal(e && e.code, grpc.status.UNAUTHENTICATED);
    refused('jaeger', 'grpc');
    client.close();

    const quiet = { info() {}, error() {} };
    const tracer = initTracer({ serviceName: 'jaeger-http', sampler: { type: 'const', param: 1 },
      reporter: { flushIntervalMs: 50, collectorEndpoint: `http://127.0.0.1:${ports.jHttp}/api/traces`,
        username: 'bob', password: secrets.bob } }, { logger: quiet });
    tracer.startSpan('jh-ok').finish();
    await new Promise((resolve) => tracer.close(resolve));
    const r = await postHttp(ports.jHttp, '/api/traces', Buffer.from([0x0c, 0x00]), {}, 'application/x-thrift');
    assert.equal(r.status, 401);
    assert.match(r.headers['www-authenticate'], /^Basic /);
    refused('jaeger', 'thrift_http');
    await arrives('jg-ok');
    await arrives('jh-ok');
  });

  test('exporters carry exactly their authenticator\'s credentials', () => {
    const grpcReqs = sink.requests.filter((r) => r.transport === 'grpc');
    const httpReqs = sink.requests.filter((r) => r.transport === 'http');
    assert.ok(grpcReqs.length > 0 && httpReqs.length > 0);
    for (const r of grpcReqs) assert.equal(r.headers.authorization, `Bearer ${secrets.exporterToken}`);
    for (const r of httpReqs) assert.equal(r.headers.authorization, basic('exporter', secrets.exporterPassword));
  });

  test('refusals are counted per receiver and transport, exactly', async () => {
    const text = (await httpGet(ports.metrics, '/metrics')).body.toString();
    const got = {};
    for (const m of text.matchAll(/^tailgate_receiver_refused_requests_total\{receiver="([^"]+)",transport="([^"]+)",reason="unauthenticated"\} (\d+)$/gm)) {
      if (Number(m[3])) got[`${m[1]}|${m[2]}`] = Number(m[3]);
    }
    assert.deepEqual(got, refusedByUs);
  });

  test('a rotated token file takes effect without a restart', async () => {
    fs.writeFileSync(tokenFile, `${secrets.rotated}\n`);
    await waitFor(async () => (await postHttp(ports.bHttp, '/v1/traces', pbRequest('rot'),
      { authorization: `Bearer ${secrets.rotated}` })).status === 200, { what: 'the rotated token accepted' });
    assert.equal((await postHttp(ports.bHttp, '/v1/traces', pbRequest('old'), { authorization: `Bearer ${secrets.fileToken}` })).status, 401);
    assert.equal((await postHttp(ports.bHttp, '/v1/traces', pbRequest('cfg'), { authorization: `Bearer ${secrets.cfgToken}` })).status, 200);
  });

  test('no token or password appears in the logs or in /metrics', async () => {
    const metrics = (await httpGet(ports.metrics, '/metrics')).body.toString();
    await gw.stop();
    const haystacks = { stdout: gw.stdout, stderr: gw.stderr, metrics };
    assert.ok(gw.stdout.includes('refused unauthenticated request'), 'the debug log saw the refusals');
    const needles = Object.values(secrets).concat(['alice', 'bob', 'carol'].map((u) => basic(u, secrets[u]).slice(6)),
      [basic('exporter', secrets.exporterPassword).slice(6)]);
    for (const [where, text] of Object.entries(haystacks)) {
      for (const s of needles) assert.ok(!text.includes(s), `a secret leaked into ${where}`);
    }
  });
});

// gRPC metadata carrying an Authorization value (the SDK exporter's `metadata` option).
function bearerMdFor(value) { return bearerMd(value); }

describe('mutual TLS (client_ca_file) and certificate reload', () => {
  let dir, ca, other, good, expired, stranger, server, gw, ports, sink;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tailgate-mtls-auth-'));
    ca = makeCa(dir, 'ca');
    server = ca.sign('server', { server: true });
    good = ca.sign('client');
    expired = ca.sign('expired', { days: -1 });
    const otherDir = path.join(dir, 'other');
    fs.mkdirSync(otherDir);
    other = makeCa(otherDir, 'otherca');
    stranger = other.sign('stranger');
    sink = await startSink({ http: false });
    const [grpcPort, httpPort, health, metrics] = await freePorts(4);
    ports = { grpc: grpcPort, http: httpPort, health, metrics };
    gw = new Gateway({ dir, ports, config: {
      extensions: { health_check: { endpoint: `127.0.0.1:${health}` } },
      receivers: { otlp: { protocols: { http: { endpoint: `127.0.0.1:${httpPort}`,
        tls: { cert_file: server.cert, key_file: server.key, client_ca_file: ca.pem, reload_interval: '100ms' } } } } },
      exporters: { 'otlp/sink': { endpoint: `127.0.0.1:${sink.grpcPort}`, tls: { insecure: true } } },
      service: { extensions: ['health_check'], telemetry: { metrics: { address: `127.0.0.1:${metrics}` } },
        pipelines: { traces: { receivers: ['otlp'], exporters: ['otlp/sink'] } } },
    } });
    await gw.start();
  });

  after(async () => {
    if (gw) await gw.stop();
    if (sink) await sink.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const tlsWith = (id) => ({ ca: fs.readFileSync(ca.pem),
    ...(id ? { cert: fs.readFileSync(id.cert), key: fs.readFileSync(id.key) } : {}) });

  test('a certificate from the CA is served', async () => {
    const before = sink.spanCount;
    assert.equal((await postHttps(ports.http, pbRequest('mtls-ok', 2), tlsWith(good))).status, 200);
    await sink.waitForSpans(before + 2);
  });

  test('no certificate, another CA\'s certificate and an expired one are refused', async () => {
    const before = sink.spanCount;
    await assert.rejects(postHttps(ports.http, pbRequest('no-cert'), tlsWith(null)));
    await assert.rejects(postHttps(ports.http, pbRequest('stranger'), tlsWith(stranger)));
    await assert.rejects(postHttps(ports.http, pbRequest('expired'), tlsWith(expired)));
    assert.equal((await postHttps(ports.http, pbRequest('after'), tlsWith(good))).status, 200);
    await sink.waitForSpans(before + 1);
    assert.equal(sink.spanCount, before + 1);
  });

  test('a replaced server certificate is served to new connections (reload_interval)', async () => {
    const first = (await postHttps(ports.http, pbRequest('r1'), tlsWith(good))).serial;
    const fresh = ca.sign('server2', { server: true });
    fs.copyFileSync(fresh.key, server.key);
    fs.copyFileSync(fresh.cert, server.cert);
    const want = run('openssl', ['x509', '-in', fresh.cert, '-noout', '-serial']).trim().split('=')[1].toUpperCase();
    assert.notEqual(first.toUpperCase(), want);
    await waitFor(async () => (await postHttps(ports.http, pbRequest('r2'), tlsWith(good))).serial.toUpperCase() === want,
      { what: 'the new server certificate' });
  });
});
