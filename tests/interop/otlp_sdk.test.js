'use strict';
// Real OpenTelemetry JS SDK exporters → tailgate → tailgate's OTLP exporters →
// a sink. Every field of every span must arrive unchanged. The oracle is the
// same spans sent by the same SDK straight to a control sink (http/protobuf),
// itself checked against the SDK's in-memory record of the spans.
const { describe, test } = require('node:test');
const assert = require('node:assert/strict');
const { startSink } = require('./lib/sink');
const { startGateway, baseConfig } = require('./lib/gateway');
const { emitThrough } = require('./lib/sdk');
const { flattenRequests, assertSameSpans, normReadable } = require('./lib/compare');

// The fixture must really cover what it claims, or the comparison proves little.
function assertFixtureCoverage(spans) {
  const kinds = new Set(spans.map((s) => s.kind));
  assert.deepEqual([...kinds].sort(), [1, 2, 3, 4, 5], 'every SpanKind');
  const types = new Set();
  const collect = (v) => { for (const [t, x] of Object.entries(v)) { types.add(t); if (t === 'array') x.forEach(collect); } };
  for (const s of spans) Object.values(s.attributes).forEach(collect);
  for (const t of ['string', 'bool', 'int', 'double', 'array']) assert.ok(types.has(t), `attribute type ${t} present`);
  const arrayTypes = new Set(spans.flatMap((s) => Object.values(s.attributes))
    .filter((v) => v.array && v.array.length).map((v) => Object.keys(v.array[0])[0]));
  assert.deepEqual([...arrayTypes].sort(), ['bool', 'double', 'int', 'string'], 'arrays of every primitive type');
  assert.ok(spans.some((s) => s.events.some((e) => Object.keys(e.attributes).length > 0)), 'events with attributes');
  assert.ok(spans.some((s) => s.links.some((l) => Object.keys(l.attributes).length > 0 && l.traceState)), 'links with attributes and trace state');
  assert.ok(spans.some((s) => s.status.code === 1), 'status OK');
  assert.ok(spans.some((s) => s.status.code === 2 && s.status.message), 'status ERROR with message');
  assert.ok(spans.some((s) => s.parentSpanId && spans.some((p) => p.spanId === s.parentSpanId)), 'parent/child');
  assert.ok(spans.some((s) => s.traceState && (s.flags & 0x300) === 0x300), 'remote parent with trace state');
  // (SDK 2.2 does not enforce linkCountLimit, so droppedLinksCount is covered by the raw JSON test)
  assert.ok(spans.some((s) => s.droppedAttributesCount && s.droppedEventsCount), 'dropped attribute and event counts');
  assert.ok(new Set(spans.map((s) => s.scope.name)).size >= 2, 'two scopes');
  assert.ok(spans.some((s) => s.scope.version && s.scope.schemaUrl), 'scope version and schema url');
  assert.ok(spans.some((s) => !/0000000$/.test(s.startTimeUnixNano)), 'nanosecond timestamps');
  assert.equal(spans[0].resource.attributes['service.name'].string, 'interop-svc');
}

// protocol/compression: the SDK side. via: tailgate's exporter ('otlp' or 'otlphttp').
async function roundTrip({ protocol, compression, via }) {
  const sink = await startSink();
  const control = await startSink({ grpc: false });
  const exporters = via === 'otlp'
    ? { 'otlp/sink': { endpoint: `127.0.0.1:${sink.grpcPort}`, tls: { insecure: true }, compression: 'gzip' } }
    : { 'otlphttp/sink': { endpoint: `http://127.0.0.1:${sink.httpPort}`, compression: 'gzip' } };
  let gw = null;
  try {
    gw = await startGateway((ports) => baseConfig(ports, { exporters }));
    const port = protocol === 'grpc' ? gw.ports.grpc : gw.ports.http;
    const r = await emitThrough({
      protocol, compression, endpoint: `http://127.0.0.1:${port}`,
      controlEndpoint: `http://127.0.0.1:${control.httpPort}`,
    });
    assert.deepEqual(r.failures, [], 'every SDK export succeeded');
    assert.ok(r.exportCalls >= 2, 'the SDK sent several requests');

    await control.waitForSpans(r.count, 5000);
    const expected = flattenRequests(control.requests);
    assertSameSpans(expected, r.memory.map(normReadable), 'oracle: control sink vs SDK in-memory spans');
    assertFixtureCoverage(expected);

    await sink.waitForSpans(r.count, 10000);
    await gw.stop(); // SIGTERM → exit 0 (asserted); anything still batched is flushed
    assertSameSpans(flattenRequests(sink.requests), expected, `SDK ${protocol} → tailgate → ${via} → sink`);
    for (const req of sink.requests) {
      assert.equal(req.transport, via === 'otlp' ? 'grpc' : 'http');
      if (via === 'otlphttp') assert.equal(req.headers['content-encoding'], 'gzip', 'otlphttp exporter compression: gzip');
    }
    return gw;
  } catch (e) {
    if (gw) e.message += `\n${gw.output()}`;
    throw e;
  } finally {
    if (gw) { await gw.kill(); gw.cleanup(); }
    await sink.close();
    await control.close();
  }
}

describe('OTLP SDK exporters through tailgate', () => {
  test('grpc (gzip) → otlp exporter → gRPC sink', async () => {
    await roundTrip({ protocol: 'grpc', compression: 'gzip', via: 'otlp' });
  });
  test('grpc (uncompressed) → otlp exporter → gRPC sink', async () => {
    await roundTrip({ protocol: 'grpc', compression: 'none', via: 'otlp' });
  });
  test('http/protobuf (gzip) → otlp exporter → gRPC sink', async () => {
    await roundTrip({ protocol: 'http/protobuf', compression: 'gzip', via: 'otlp' });
  });
  test('http/json → otlp exporter → gRPC sink', async () => {
    await roundTrip({ protocol: 'http/json', compression: 'none', via: 'otlp' });
  });
  test('http/protobuf → otlphttp exporter (gzip) → HTTP sink', async () => {
    const gw = await roundTrip({ protocol: 'http/protobuf', compression: 'none', via: 'otlphttp' });
    // logs are JSON on stdout: every non-empty stdout line is one JSON object
    const lines = gw.stdout.split('\n').filter((l) => l.trim());
    assert.ok(lines.length > 0, 'tailgate logged something on stdout');
    for (const l of lines) {
      let rec;
      assert.doesNotThrow(() => { rec = JSON.parse(l); }, `stdout line is JSON: ${l}`);
      assert.equal(typeof rec, 'object', `stdout line is a JSON object: ${l}`);
    }
  });

  test('SIGTERM flushes spans still held by the batch processor, then exits 0', async () => {
    const sink = await startSink({ http: false });
    let gw = null;
    try {
      gw = await startGateway((ports) => baseConfig(ports, {
        processors: { batch: { timeout: '60s', send_batch_size: 100000 } },
        exporters: { 'otlp/sink': { endpoint: `127.0.0.1:${sink.grpcPort}`, tls: { insecure: true } } },
      }));
      const r = await emitThrough({ protocol: 'grpc', endpoint: `http://127.0.0.1:${gw.ports.grpc}` });
      assert.deepEqual(r.failures, []);
      // nothing can leave before the 60 s batch timeout or the size bound
      assert.equal(sink.spanCount, 0, 'batch processor holds the spans');
      await gw.stop({ timeoutMs: 10000 });
      await sink.waitForSpans(r.count, 1000);
      assert.equal(sink.spanCount, r.count, 'exactly the accepted spans were flushed on SIGTERM');
    } catch (e) {
      if (gw) e.message += `\n${gw.output()}`;
      throw e;
    } finally {
      if (gw) { await gw.kill(); gw.cleanup(); }
      await sink.close();
    }
  });
});
