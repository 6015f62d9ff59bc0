// Writes the seed corpora of the otlp_json and otlp_proto fuzz targets from one model:
// each seed request is written as OTLP/JSON (tests/fuzz/otlp_json/corpus/) and as
// protobuf (tests/fuzz/otlp_proto/corpus/), so both decoders start from the same shapes.
// Usage: node tests/fuzz/otlp_json/gen_corpus.mjs   (Node 20, no packages needed)
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const jsonDir = join(here, 'corpus');
const protoDir = join(here, '..', 'otlp_proto', 'corpus');

// ---- a minimal protobuf writer ------------------------------------------------------
const varint = (n) => {
  let v = BigInt.asUintN(64, BigInt(n));
  const out = [];
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v) b |= 0x80;
    out.push(b);
  } while (v);
  return out;
};
const tag = (field, wire) => varint((field << 3) | wire);
const bytesField = (f, bytes) => [...tag(f, 2), ...varint(bytes.length), ...bytes];
const str = (f, s) => (s ? bytesField(f, [...Buffer.from(s, 'utf8')]) : []);
const msg = (f, body) => bytesField(f, body);
const u = (f, n) => (n ? [...tag(f, 0), ...varint(n)] : []);
const fixed64 = (f, n) => {
  if (!n) return [];
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return [...tag(f, 1), ...b];
};
const fixed32 = (f, n) => {
  if (!n) return [];
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return [...tag(f, 5), ...b];
};
const dbl = (f, x) => {
  const b = Buffer.alloc(8);
  b.writeDoubleLE(x);
  return [...tag(f, 1), ...b];
};
const hex = (s) => [...Buffer.from(s, 'hex')];

// AnyValue: {s}|{b}|{i}|{d}|{arr}|{kv}|{bytes}
const anyPb = (v) => {
  if ('s' in v) return bytesField(1, [...Buffer.from(v.s, 'utf8')]);
  if ('b' in v) return [...tag(2, 0), v.b ? 1 : 0];
  if ('i' in v) return [...tag(3, 0), ...varint(v.i)];
  if ('d' in v) return dbl(4, v.d);
  if ('arr' in v) return msg(5, v.arr.flatMap((x) => msg(1, anyPb(x))));
  if ('kv' in v) return msg(6, v.kv.flatMap((x) => msg(1, kvPb(x))));
  if ('bytes' in v) return bytesField(7, v.bytes);
  return [];
};
const kvPb = ([k, v]) => [...str(1, k), ...msg(2, anyPb(v))];
const attrsPb = (f, attrs = []) => attrs.flatMap((a) => msg(f, kvPb(a)));

const anyJson = (v) => {
  if ('s' in v) return { stringValue: v.s };
  if ('b' in v) return { boolValue: v.b };
  if ('i' in v) return { intValue: typeof v.i === 'bigint' ? v.i.toString() : v.i };
  if ('d' in v) return { doubleValue: Number.isFinite(v.d) ? v.d : String(v.d) };
  if ('arr' in v) return { arrayValue: { values: v.arr.map(anyJson) } };
  if ('kv' in v) return { kvlistValue: { values: v.kv.map(kvJson) } };
  if ('bytes' in v) return { bytesValue: Buffer.from(v.bytes).toString('base64') };
  return {};
};
const kvJson = ([k, v]) => ({ key: k, value: anyJson(v) });

const spanPb = (s) => [
  ...bytesField(1, hex(s.traceId)), ...bytesField(2, hex(s.spanId)), ...str(3, s.traceState),
  ...(s.parentSpanId ? bytesField(4, hex(s.parentSpanId)) : []), ...str(5, s.name),
  ...u(6, s.kind), ...fixed64(7, s.start), ...fixed64(8, s.end), ...attrsPb(9, s.attributes),
  ...u(10, s.droppedAttributes),
  ...(s.events || []).flatMap((e) => msg(11, [...fixed64(1, e.time), ...str(2, e.name),
                                               ...attrsPb(3, e.attributes)])),
  ...u(12, s.droppedEvents),
  ...(s.links || []).flatMap((l) => msg(13, [...bytesField(1, hex(l.traceId)),
                                              ...bytesField(2, hex(l.spanId)),
                                              ...str(3, l.traceState),
                                              ...attrsPb(4, l.attributes),
                                              ...fixed32(6, l.flags)])),
  ...u(14, s.droppedLinks),
  ...(s.status ? msg(15, [...str(2, s.status.message), ...u(3, s.status.code)]) : []),
  ...fixed32(16, s.flags),
];
const spanJson = (s, upper) => ({
  traceId: upper ? s.traceId.toUpperCase() : s.traceId, spanId: s.spanId,
  ...(s.traceState && { traceState: s.traceState }),
  ...(s.parentSpanId && { parentSpanId: s.parentSpanId }), name: s.name,
  ...(s.kind && { kind: upper ? ['', 'SPAN_KIND_INTERNAL', 'SPAN_KIND_SERVER',
                                 'SPAN_KIND_CLIENT'][s.kind] : s.kind }),
  ...(s.start && { startTimeUnixNano: String(s.start) }),
  ...(s.end && { endTimeUnixNano: upper ? Number(s.end) : String(s.end) }),
  ...(s.attributes && { attributes: s.attributes.map(kvJson) }),
  ...(s.droppedAttributes && { droppedAttributesCount: s.droppedAttributes }),
  ...(s.events && { events: s.events.map((e) => ({ timeUnixNano: String(e.time), name: e.name,
                                                   attributes: (e.attributes || []).map(kvJson) })) }),
  ...(s.droppedEvents && { droppedEventsCount: s.droppedEvents }),
  ...(s.links && { links: s.links.map((l) => ({ traceId: l.traceId, spanId: l.spanId,
                                               traceState: l.traceState || '',
                                               attributes: (l.attributes || []).map(kvJson),
                                               flags: l.flags || 0 })) }),
  ...(s.droppedLinks && { droppedLinksCount: s.droppedLinks }),
  ...(s.status && { status: { message: s.status.message, code: s.status.code } }),
  ...(s.flags && { flags: s.flags }),
});

const requestPb = (req) => req.flatMap((rs) => msg(1, [
  ...msg(1, attrsPb(1, rs.resource)),
  ...rs.scopes.flatMap((sc) => msg(2, [
    ...msg(1, [...str(1, sc.name), ...str(2, sc.version), ...attrsPb(3, sc.attributes)]),
    ...sc.spans.flatMap((s) => msg(2, spanPb(s))),
    ...str(3, sc.schemaUrl),
  ])),
  ...str(3, rs.schemaUrl),
]));
const requestJson = (req, upper) => ({ resourceSpans: req.map((rs) => ({
  resource: { attributes: rs.resource.map(kvJson) },
  scopeSpans: rs.scopes.map((sc) => ({
    scope: { name: sc.name, version: sc.version, attributes: (sc.attributes || []).map(kvJson) },
    spans: sc.spans.map((s) => spanJson(s, upper)),
    ...(sc.schemaUrl && { schemaUrl: sc.schemaUrl }),
  })),
  ...(rs.schemaUrl && { schemaUrl: rs.schemaUrl }),
})) });

// ---- the seeds ----------------------------------------------------------------------
const T = '5b8efff798038103d269b633813fc60c';
const full = [{
  resource: [['service.name', { s: 'checkout' }], ['host.cores', { i: 8 }]],
  schemaUrl: 'https://opentelemetry.io/schemas/1.21.0',
  scopes: [{
    name: 'io.opentelemetry.http', version: '1.2.3', attributes: [['s', { b: true }]],
    schemaUrl: 's',
    spans: [{
      traceId: T, spanId: 'eee19b7ec3c1b174', parentSpanId: 'eee19b7ec3c1b173',
      traceState: 'ot=th:8', name: 'GET /cart', kind: 2, flags: 0x301,
      start: 1700000000000000000n, end: 1700000000500000000n,
      attributes: [['http.status_code', { i: 200 }], ['ratio', { d: 0.25 }],
                   ['neg', { i: -5n }], ['blob', { bytes: [0, 1, 2, 255] }],
                   ['list', { arr: [{ s: 'a' }, { i: 1 }, { arr: [{ b: false }] }] }],
                   ['map', { kv: [['k', { s: 'v' }], ['nested', { kv: [['x', { d: 1.5 }]] }]] }],
                   ['empty', {}]],
      droppedAttributes: 1,
      events: [{ time: 1700000000100000000n, name: 'retry', attributes: [['attempt', { i: 2 }]] }],
      droppedEvents: 2,
      links: [{ traceId: 'f' + T.slice(1), spanId: 'f112131415161718', traceState: 'k=v',
                attributes: [['l', { s: 'y' }]], flags: 0x300 }],
      droppedLinks: 3,
      status: { message: 'boom', code: 2 },
    }],
  }],
}];
const small = [{ resource: [['service.name', { s: 'a' }]], scopes: [{ name: 'x', spans: [
  { traceId: T, spanId: '0000000000000001', name: 'root', kind: 1, start: 1n, end: 2n },
  { traceId: '00000000000000000000000000000000', spanId: '0000000000000002', name: 'bad' },
] }] }];
const multi = [0, 1].map((r) => ({ resource: [['r', { i: r }]], scopes: [0, 1].map((c) => ({
  name: `s${c}`, spans: [{ traceId: T, spanId: `00000000000000${r}${c + 1}`, name: `r${r}c${c}`,
                          kind: 3, status: { code: 1 } }] })) }));

mkdirSync(jsonDir, { recursive: true });
mkdirSync(protoDir, { recursive: true });
const seeds = { full, small, multi };
for (const [name, req] of Object.entries(seeds)) {
  writeFileSync(join(protoDir, `${name}.pb`), Buffer.from(requestPb(req)));
  writeFileSync(join(jsonDir, `${name}.json`), JSON.stringify(requestJson(req, false)));
  writeFileSync(join(jsonDir, `${name}_upper.json`), JSON.stringify(requestJson(req, true)));
}
writeFileSync(join(jsonDir, 'special_doubles.json'), JSON.stringify({ resourceSpans: [{
  scopeSpans: [{ spans: [{ trace_id: T, span_id: 'eee19b7ec3c1b174', attributes: [
    { key: 'nan', value: { doubleValue: 'NaN' } }, { key: 'inf', value: { doubleValue: 'Infinity' } },
    { key: 'ninf', value: { double_value: '-Infinity' } }, { key: 'u', value: { bytes_value: '-_8' } },
  ], unknownField: { a: [1, null] } }] }] }] }));
writeFileSync(join(protoDir, 'empty.pb'), Buffer.alloc(0));
writeFileSync(join(jsonDir, 'empty.json'), '{}');
