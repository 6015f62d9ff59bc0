'use strict';
// Emits a fixed set of spans with the real OpenTelemetry JS SDK (2.x) through
// one of its three OTLP exporters, and at the same time through a control
// http/protobuf exporter (to a sink directly) and an InMemorySpanExporter, so
// a test has two independent oracles for what the SDK exported.
const { trace, ROOT_CONTEXT, SpanKind, SpanStatusCode, TraceFlags } = require('@opentelemetry/api');
const { TraceState, ExportResultCode } = require('@opentelemetry/core');
const { NodeTracerProvider } = require('@opentelemetry/sdk-trace-node');
const { BatchSpanProcessor, SimpleSpanProcessor, InMemorySpanExporter } = require('@opentelemetry/sdk-trace-base');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } = require('@opentelemetry/semantic-conventions');

const PROTOCOLS = ['grpc', 'http/protobuf', 'http/json'];

// endpoint: 'http://127.0.0.1:PORT' (no path)
function makeExporter(protocol, endpoint, { compression = 'none', timeoutMillis = 5000 } = {}) {
  switch (protocol) {
    case 'grpc': {
      const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-grpc');
      return new OTLPTraceExporter({ url: endpoint, compression, timeoutMillis });
    }
    case 'http/protobuf': {
      const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-proto');
      return new OTLPTraceExporter({ url: `${endpoint}/v1/traces`, compression, timeoutMillis });
    }
    case 'http/json': {
      const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-http');
      return new OTLPTraceExporter({ url: `${endpoint}/v1/traces`, compression, timeoutMillis });
    }
    default:
      throw new Error(`unknown protocol ${protocol}`);
  }
}

// Wraps an exporter and records every export result (code and error).
function recording(inner, label) {
  const results = [];
  return {
    results,
    label,
    export(spans, cb) {
      inner.export(spans, (r) => {
        results.push({ code: r.code, error: r.error, spans: spans.length });
        cb(r);
      });
    },
    shutdown: () => inner.shutdown(),
    forceFlush: () => (inner.forceFlush ? inner.forceFlush() : Promise.resolve()),
    failures() {
      return results.filter((r) => r.code !== ExportResultCode.SUCCESS)
        .map((r) => `${label}: export of ${r.spans} spans failed: ${r.error ? r.error.message || r.error : 'no error given'}`);
    },
  };
}

const SPAN_LIMITS = {
  attributeCountLimit: 40,
  eventCountLimit: 5,
  attributePerEventCountLimit: 16,
  attributePerLinkCountLimit: 16,
};

const RESOURCE = {
  [ATTR_SERVICE_NAME]: 'interop-svc',
  [ATTR_SERVICE_VERSION]: '1.2.3',
  'service.namespace': 'tailgate-tests',
  'deployment.environment.name': 'interop',
  'host.cores': 2,
  'res.bool': true,
  'res.double': 0.25,
  'res.tags': ['a', 'b', 'c'],
};

// every attribute type the JS API can express
const ALL_TYPES = {
  'str': 'hello',
  'str.empty': '',
  'str.unicode': 'grüße, 世界 ✓ \u{1F680}',
  'bool.true': true,
  'bool.false': false,
  'int': 42,
  'int.zero': 0,
  'int.negative': -7,
  'int.max_safe': Number.MAX_SAFE_INTEGER,
  'int.min_safe': Number.MIN_SAFE_INTEGER,
  'double': 3.14159,
  'double.negative': -0.5,
  'double.tiny': 5e-324,
  'double.precise': 12345.678901234567, // (doubles >= 2^53 are integers to JS and export as intValue)
  'arr.str': ['x', 'y', ''],
  'arr.bool': [true, false, true],
  'arr.int': [1, -2, 3000000000],
  'arr.double': [1.5, -2.25, 1e-9],
  'arr.empty': [],
};

// fixed times with nanosecond precision: [seconds, nanos]
const T0 = 1704164645; // 2024-01-02T03:04:05Z
const t = (msOffset, extraNanos = 0) => {
  const totalNanos = BigInt(msOffset) * 1000000n + BigInt(extraNanos) + 123456789n;
  return [T0 + Number(totalNanos / 1000000000n), Number(totalNanos % 1000000000n)];
};

const REMOTE_PARENT = {
  traceId: '0af7651916cd43dd8448eb211c80319c',
  spanId: 'b7ad6b7169203331',
  traceFlags: TraceFlags.SAMPLED,
  isRemote: true,
  traceState: new TraceState('congo=t61rcWkgMzE,rojo=00f067aa0ba902b7'),
};
const LINK_TARGET = {
  traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
  spanId: '00f067aa0ba902b7',
  traceFlags: TraceFlags.SAMPLED,
  isRemote: true,
  traceState: new TraceState('vendor=opaque-value'),
};

// Emits the fixed span set with the given provider. Returns the span count.
function emitFixedSpans(provider) {
  const tracer = provider.getTracer('interop-tracer', '9.8.7', { schemaUrl: 'https://opentelemetry.io/schemas/1.24.0' });
  const other = provider.getTracer('interop-second-scope'); // no version, no schema url
  const remoteCtx = trace.setSpanContext(ROOT_CONTEXT, REMOTE_PARENT);
  let n = 0;

  // 1. SERVER span under a remote parent (trace state, remote flag), all attribute types, status OK
  const server = tracer.startSpan('GET /api/orders/{id}', {
    kind: SpanKind.SERVER, startTime: t(0), attributes: ALL_TYPES,
  }, remoteCtx);
  server.setStatus({ code: SpanStatusCode.OK });
  const serverCtx = trace.setSpan(ROOT_CONTEXT, server);

  // 2. CLIENT child: events with attributes, an exception event, status ERROR with message
  const client = tracer.startSpan('SELECT orders', {
    kind: SpanKind.CLIENT, startTime: t(10, 1),
    attributes: { 'db.system': 'postgresql', 'db.statement': 'SELECT * FROM orders WHERE id = $1', 'net.peer.port': 5432 },
  }, serverCtx);
  client.addEvent('query.start', { 'rows.expected': 1, 'cache.hit': false, 'ratio': 0.75, 'tags': ['a', 'b'] }, t(11));
  client.addEvent('no-attributes', t(12));
  const err = new Error('connection reset by peer');
  err.name = 'ECONNRESET';
  client.recordException(err, t(13));
  client.setStatus({ code: SpanStatusCode.ERROR, message: 'db error: connexion réinitialisée' });
  const clientCtx = trace.setSpan(ROOT_CONTEXT, client);

  // 3. INTERNAL grandchild without attributes, status left UNSET
  const internal = tracer.startSpan('render', { kind: SpanKind.INTERNAL, startTime: t(20) }, clientCtx);
  internal.end(t(21, 999999));
  n++;
  client.end(t(30));
  n++;

  // 4. PRODUCER child with links (with attributes and trace state) to another trace
  const producer = tracer.startSpan('orders publish', {
    kind: SpanKind.PRODUCER, startTime: t(40),
    links: [
      { context: LINK_TARGET, attributes: { 'link.reason': 'batch', 'link.index': 0, 'link.ok': true, 'link.weights': [0.5, 0.25] } },
      { context: internal.spanContext() },
    ],
  }, serverCtx);
  producer.end(t(41));
  n++;
  server.end(t(100));
  n++;

  // 5. CONSUMER root span of a new trace in a second scope, linked back to the producer
  const consumer = other.startSpan('orders process', {
    kind: SpanKind.CONSUMER, startTime: t(200),
    links: [{ context: producer.spanContext(), attributes: { 'messaging.message.id': 'm-1' } }],
    attributes: { 'messaging.system': 'kafka', 'messaging.batch.message_count': 3 },
  }, ROOT_CONTEXT);
  consumer.setStatus({ code: SpanStatusCode.ERROR }); // ERROR without a message
  consumer.end(t(250));
  n++;

  // 6. a span that exceeds the limits: dropped attribute, event and link counts
  const manyAttrs = {};
  for (let i = 0; i < SPAN_LIMITS.attributeCountLimit + 3; i++) manyAttrs[`k${String(i).padStart(2, '0')}`] = i;
  const limits = tracer.startSpan('over-limits', {
    kind: SpanKind.INTERNAL, startTime: t(300), attributes: manyAttrs,
    links: [0, 1, 2, 3, 4].map((i) => ({ context: { ...LINK_TARGET, spanId: `00000000000000a${i}` }, attributes: { i } })),
  }, serverCtx);
  for (let i = 0; i < SPAN_LIMITS.eventCountLimit + 2; i++) limits.addEvent(`e${i}`, { i }, t(301 + i));
  limits.end(t(310));
  n++;

  // 7. zero-duration span, SERVER kind in the second scope, name with unicode
  const instant = other.startSpan('größe/✓', { kind: SpanKind.SERVER, startTime: t(400) }, ROOT_CONTEXT);
  instant.end(t(400));
  n++;

  return n;
}

// Sends the fixed spans through `protocol` to `endpoint`, and through a control
// http/protobuf exporter to `controlEndpoint` (if given). Returns
// {count, memory: ReadableSpan[], failures: string[]}.
async function emitThrough({ protocol, endpoint, compression = 'none', controlEndpoint }) {
  const main = recording(makeExporter(protocol, endpoint, { compression }), `${protocol} → ${endpoint}`);
  const memory = new InMemorySpanExporter();
  const processors = [
    new BatchSpanProcessor(main, { maxExportBatchSize: 4, scheduledDelayMillis: 100 }),
    new SimpleSpanProcessor(memory),
  ];
  let control = null;
  if (controlEndpoint) {
    control = recording(makeExporter('http/protobuf', controlEndpoint), `control → ${controlEndpoint}`);
    processors.push(new BatchSpanProcessor(control, { scheduledDelayMillis: 100 }));
  }
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes(RESOURCE),
    spanLimits: SPAN_LIMITS,
    spanProcessors: processors,
  });
  const count = emitFixedSpans(provider);
  let flushError = null;
  try {
    await provider.forceFlush();
  } catch (e) {
    flushError = e;
  }
  const finished = memory.getFinishedSpans().slice(); // shutdown() empties the in-memory exporter
  await provider.shutdown().catch(() => {});
  const failures = [...main.failures(), ...(control ? control.failures() : [])];
  if (flushError && failures.length === 0) failures.push(`forceFlush failed: ${flushError.message}`);
  return { count, memory: finished, failures, exportCalls: main.results.length };
}

module.exports = { PROTOCOLS, makeExporter, emitThrough, emitFixedSpans, RESOURCE, ALL_TYPES, SPAN_LIMITS, REMOTE_PARENT, LINK_TARGET };
