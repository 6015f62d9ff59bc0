'use strict';
// The OTLP/HTTP receiver probed with raw requests (node:http, node:net, zlib):
// encodings, error statuses and bodies, body bounds, broken clients, and the
// self-metrics that count what was accepted.
const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const zlib = require('node:zlib');
const crypto = require('node:crypto');
const { spawnSync } = require('node:child_process');
const { startSink } = require('./lib/sink');
const { startGateway, baseConfig, httpGet, waitFor } = require('./lib/gateway');
const { request } = require('./lib/rawhttp');
const { ExportTraceServiceRequest, ExportTraceServiceResponse, decodeRpcStatus } = require('./lib/otlp');
const { flattenRequests } = require('./lib/compare');

const MAX_BODY = 65536;
const PB = 'application/x-protobuf';

const randHex = (bytes) => crypto.randomBytes(bytes).toString('hex');

// An ExportTraceServiceRequest with `n` spans of one new trace, as protobuf bytes.
function pbRequest(n, { name = 'raw-span', pad = 0 } = {}) {
  const traceId = randHex(16);
  const spanIds = Array.from({ length: n }, () => randHex(8));
  const msg = ExportTraceServiceRequest.create({
    resourceSpans: [{
      resource: { attributes: [{ key: 'service.name', value: { stringValue: 'raw-http' } }] },
      scopeSpans: [{
        scope: { name: 'raw' },
        spans: spanIds.map((id, i) => ({
          traceId: Buffer.from(traceId, 'hex'),
          spanId: Buffer.from(id, 'hex'),
          name: `${name}-${i}`,
          kind: 2,
          startTimeUnixNano: '1704164645000000001',
          endTimeUnixNano: '1704164645500000002',
          attributes: [
            { key: 'i', value: { intValue: i } },
            ...(pad ? [{ key: 'pad', value: { stringValue: 'x'.repeat(pad) } }] : []),
          ],
        })),
      }],
    }],
  });
  return { body: Buffer.from(ExportTraceServiceRequest.encode(msg).finish()), traceId, spanIds };
}

describe('OTLP/HTTP receiver, raw requests', () => {
  let sink;
  let gw;
  let accepted = 0; // spans in requests tailgate answered 200 without partial rejection
  let malformed = 0; // undecodable bodies sent (each counts once as refused, reason="malformed")
  let tooLarge = 0; // bodies refused with 413

  before(async () => {
    sink = await startSink({ http: false });
    gw = await startGateway((ports) => baseConfig(ports, {
      receiverHttp: { max_request_body_size: MAX_BODY },
      exporters: { 'otlp/sink': { endpoint: `127.0.0.1:${sink.grpcPort}`, tls: { insecure: true } } },
    }));
  });

  after(async () => {
    try {
      if (gw) await gw.stop();
    } finally {
      if (gw) { await gw.kill(); gw.cleanup(); }
      if (sink) await sink.close();
    }
  });

  // sum of the samples of one metric whose label text passes labelFilter; null if none
  const metricSum = (text, name, labelFilter = () => true) => {
    let sum = 0;
    let found = false;
    for (const line of text.split('\n')) {
      const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/);
      if (m && m[1] === name && labelFilter(m[2] || '')) { sum += Number(m[3]); found = true; }
    }
    return found ? sum : null;
  };

  const post = (opts) => request({ port: gw.ports.http, ...opts });
  const sinkHas = (spanIds, timeoutMs = 5000) => waitFor(() => {
    const have = new Set(flattenRequests(sink.requests).map((s) => s.spanId));
    return spanIds.every((id) => have.has(id));
  }, { timeoutMs, what: `spans ${spanIds.join(',')} at the sink` });

  // 200 with an ExportTraceServiceResponse body, no rejected spans
  function assertPbOk(res, what) {
    assert.equal(res.status, 200, `${what}: status (body: ${res.body.toString('latin1').slice(0, 200)})`);
    assert.match(res.headers['content-type'] || '', /^application\/x-protobuf\b/, `${what}: content-type`);
    const resp = ExportTraceServiceResponse.decode(res.body);
    const rejected = resp.partialSuccess ? Number(resp.partialSuccess.rejectedSpans || 0) : 0;
    assert.equal(rejected, 0, `${what}: partial_success.rejected_spans`);
  }

  test('gzip-compressed protobuf body is accepted (200) and its spans arrive', async () => {
    const { body, spanIds } = pbRequest(3, { name: 'gzip' });
    const res = await post({ headers: { 'content-type': PB, 'content-encoding': 'gzip' }, body: zlib.gzipSync(body) });
    assertPbOk(res, 'gzip protobuf');
    accepted += 3;
    await sinkHas(spanIds);
  });

  test('uncompressed protobuf body is accepted (200)', async () => {
    const { body, spanIds } = pbRequest(2, { name: 'plain' });
    const res = await post({ headers: { 'content-type': PB }, body });
    assertPbOk(res, 'plain protobuf');
    accepted += 2;
    await sinkHas(spanIds);
  });

  test('JSON body is accepted with a JSON response; int64 as number and as string', async () => {
    const traceId = randHex(16);
    const spanId = randHex(8);
    const json = {
      resourceSpans: [{
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'raw-json' } }] },
        scopeSpans: [{
          scope: { name: 'raw-json', version: '1' },
          spans: [{
            traceId, spanId, name: 'json-span', kind: 3,
            startTimeUnixNano: '1704164645000000001', endTimeUnixNano: '1704164645000000999',
            attributes: [
              { key: 'n.number', value: { intValue: 7 } },
              { key: 'n.string', value: { intValue: '9007199254740993' } },
              { key: 'd', value: { doubleValue: 0.5 } },
            ],
            status: { code: 2, message: 'bad' },
            droppedAttributesCount: 1, droppedEventsCount: 2, droppedLinksCount: 3,
            flags: 0x301,
            events: [{ timeUnixNano: '1704164645000000500', name: 'ev', droppedAttributesCount: 4,
              attributes: [{ key: 'b', value: { boolValue: true } }] }],
            links: [{ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceState: 'k=v',
              droppedAttributesCount: 5, flags: 0x101, attributes: [{ key: 'a', value: { arrayValue: { values: [{ stringValue: 'x' }, { intValue: '2' }] } } }] }],
          }],
        }],
      }],
    };
    const res = await post({ headers: { 'content-type': 'application/json' }, body: JSON.stringify(json) });
    assert.equal(res.status, 200, `status (body: ${res.body.toString().slice(0, 200)})`);
    assert.match(res.headers['content-type'] || '', /^application\/json\b/, 'response content-type');
    const parsed = JSON.parse(res.body.toString('utf8'));
    assert.equal(typeof parsed, 'object');
    assert.ok(!parsed.partialSuccess || !Number(parsed.partialSuccess.rejectedSpans || 0), 'no rejected spans');
    accepted += 1;
    await sinkHas([spanId]);
    const got = flattenRequests(sink.requests).find((s) => s.spanId === spanId);
    assert.equal(got.traceId, traceId);
    assert.equal(got.kind, 3);
    assert.equal(got.startTimeUnixNano, '1704164645000000001');
    assert.equal(got.endTimeUnixNano, '1704164645000000999');
    assert.deepEqual(got.attributes, { 'n.number': { int: '7' }, 'n.string': { int: '9007199254740993' }, d: { double: 0.5 } });
    assert.deepEqual(got.status, { code: 2, message: 'bad' });
    assert.deepEqual([got.droppedAttributesCount, got.droppedEventsCount, got.droppedLinksCount], [1, 2, 3], 'dropped counts');
    assert.equal(got.flags, 0x301, 'span flags');
    assert.deepEqual(got.events, [{ timeUnixNano: '1704164645000000500', name: 'ev', droppedAttributesCount: 4, attributes: { b: { bool: true } } }]);
    assert.deepEqual(got.links, [{ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceState: 'k=v',
      droppedAttributesCount: 5, flags: 0x101, attributes: { a: { array: [{ string: 'x' }, { int: '2' }] } } }]);
    assert.equal(got.resource.attributes['service.name'].string, 'raw-json');
    assert.deepEqual([got.scope.name, got.scope.version], ['raw-json', '1']);
  });

  test('undecodable protobuf → 400 with a google.rpc.Status body', async () => {
    // field 1 (resource_spans), length 5, but only one byte follows
    for (const garbage of [Buffer.from([0x0a, 0x05, 0x01]), Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])]) {
      const res = await post({ headers: { 'content-type': PB }, body: garbage });
      assert.equal(res.status, 400, `garbage ${garbage.toString('hex')}: status`);
      malformed += 1;
      assert.match(res.headers['content-type'] || '', /^application\/x-protobuf\b/, 'error body has the request\'s content type');
      const st = decodeRpcStatus(res.body);
      assert.ok(st.message.length > 0, `Status.message is set (got ${JSON.stringify(st)})`);
    }
  });

  test('undecodable JSON → 400 with a JSON Status body', async () => {
    const res = await post({ headers: { 'content-type': 'application/json' }, body: '{"resourceSpans": [' });
    assert.equal(res.status, 400);
    malformed += 1;
    assert.match(res.headers['content-type'] || '', /^application\/json\b/);
    const st = JSON.parse(res.body.toString('utf8'));
    assert.equal(typeof st.message, 'string');
    assert.ok(st.message.length > 0, 'Status.message is set');
  });

  test('GET /v1/traces → 405', async () => {
    const res = await post({ method: 'GET' });
    assert.equal(res.status, 405);
  });

  test('text/plain → 415', async () => {
    const { body } = pbRequest(1);
    const res = await post({ headers: { 'content-type': 'text/plain' }, body });
    assert.equal(res.status, 415);
  });

  test('body above max_request_body_size → 413, then the next request succeeds', async () => {
    // a valid request whose only fault is its size
    const big = pbRequest(1, { pad: MAX_BODY + 1024 });
    assert.ok(big.body.length > MAX_BODY);
    const res = await post({ headers: { 'content-type': PB }, body: big.body });
    assert.equal(res.status, 413);
    tooLarge += 1;
    // a gzip body that inflates beyond the bound is also too large
    const bomb = pbRequest(1, { pad: MAX_BODY * 4 });
    const gz = zlib.gzipSync(bomb.body);
    assert.ok(gz.length < MAX_BODY);
    const res2 = await post({ headers: { 'content-type': PB, 'content-encoding': 'gzip' }, body: gz });
    assert.equal(res2.status, 413, 'decompressed size above the bound');
    tooLarge += 1;
    const ok = pbRequest(1, { name: 'after-413' });
    assertPbOk(await post({ headers: { 'content-type': PB }, body: ok.body }), 'request after 413');
    accepted += 1;
    await sinkHas(ok.spanIds);
  });

  test('a client that sends half a body and vanishes does not stop the server', async () => {
    const { body } = pbRequest(4, { name: 'half' });
    const sendHalf = () => new Promise((resolve, reject) => {
      const sock = net.connect({ host: '127.0.0.1', port: gw.ports.http }, () => {
        sock.write(`POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: ${PB}\r\nContent-Length: ${body.length}\r\n\r\n`);
        sock.write(body.subarray(0, body.length >> 1), (err) => (err ? reject(err) : resolve(sock)));
      });
      sock.on('error', () => {});
    });
    // one stalled connection stays open while another client is served
    const stalled = await sendHalf();
    const during = pbRequest(1, { name: 'during-stall' });
    assertPbOk(await post({ headers: { 'content-type': PB }, body: during.body, timeoutMs: 3000 }), 'request while another connection stalls mid-body');
    accepted += 1;
    stalled.destroy();
    // and one that is reset right after half a body
    const reset = await sendHalf();
    reset.resetAndDestroy();
    const after1 = pbRequest(1, { name: 'after-reset' });
    assertPbOk(await post({ headers: { 'content-type': PB }, body: after1.body }), 'request after a reset client');
    accepted += 1;
    await sinkHas([...during.spanIds, ...after1.spanIds]);
    assert.ok(gw.running, 'tailgate still running');
    const h = await httpGet(gw.ports.health, '/health/live');
    assert.equal(h.status, 200, '/health/live');
  });

  test('/metrics counts the accepted spans and passes promtool check metrics', async (t) => {
    let text = '';
    let res;
    // counters may trail the responses a little: wait until they settle on the expected values
    try {
      await waitFor(async () => {
        res = await httpGet(gw.ports.metrics, '/metrics');
        text = res.body.toString('utf8');
        return metricSum(text, 'tailgate_receiver_accepted_spans_total') === accepted &&
          metricSum(text, 'tailgate_exporter_sent_spans_total', (l) => l.includes('exporter="otlp/sink"')) === sink.spanCount;
      }, { timeoutMs: 5000, what: 'accepted/sent span counters to match' });
    } catch { /* the assertions below report the values */ }
    assert.equal(res.status, 200);
    assert.match(res.headers['content-type'] || '', /^text\/plain/);
    assert.equal(metricSum(text, 'tailgate_receiver_accepted_spans_total'), accepted,
      `sum of tailgate_receiver_accepted_spans_total (expected ${accepted}):\n${text.split('\n').filter((l) => l.includes('accepted_spans')).join('\n')}`);
    assert.equal(metricSum(text, 'tailgate_receiver_accepted_spans_total', (l) => /transport="http"/.test(l)), accepted,
      'all accepted spans came over transport="http"');
    assert.ok(/tailgate_receiver_accepted_spans_total\{[^}]*receiver="otlp"/.test(text), 'receiver="otlp" label');
    assert.equal(metricSum(text, 'tailgate_exporter_sent_spans_total', (l) => l.includes('exporter="otlp/sink"')), sink.spanCount,
      'tailgate_exporter_sent_spans_total{exporter="otlp/sink"} equals what the sink received');

    const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 10000 });
    if (r.error && r.error.code === 'ENOENT') {
      if (process.env.CI) assert.fail('promtool not found on PATH (install Debian package prometheus)');
      t.skip('promtool not installed (Debian package prometheus); lint skipped');
      return;
    }
    assert.equal(r.status, 0, `promtool check metrics rc=${r.status}\n${r.stdout}${r.stderr}`);
  });

  test('/metrics counts refused requests by reason', async () => {
    const res = await httpGet(gw.ports.metrics, '/metrics');
    const text = res.body.toString('utf8');
    const refused = (reason) => metricSum(text, 'tailgate_receiver_refused_spans_total',
      (l) => l.includes('transport="http"') && l.includes(`reason="${reason}"`));
    assert.equal(refused('malformed'), malformed, 'refused_spans_total{transport="http",reason="malformed"}: one per undecodable body');
    assert.equal(refused('too_large'), tooLarge, 'refused_spans_total{transport="http",reason="too_large"}: one per 413');
  });
});
