'use strict';
// Normalisation and comparison of OTLP trace data.
//
// Decoded ExportTraceServiceRequests (however the sender grouped them into
// resources, scopes and requests) are flattened into one record per span that
// carries its own resource and scope, with typed attribute values, hex ids,
// nanosecond times as decimal strings and proto3 defaults filled in. Two span
// sets are equal when every span id appears exactly once on each side and all
// fields are deep-equal.
const assert = require('node:assert/strict');

const hex = (b) => (b && b.length ? Buffer.from(b).toString('hex') : '');
const str = (s) => (s == null ? '' : String(s));
const num = (n) => (n == null ? 0 : Number(n));
const u64 = (v) => (v == null ? '0' : typeof v === 'object' ? v.toString() : BigInt(v).toString());
const has = (o, k) => Object.prototype.hasOwnProperty.call(o, k);

// AnyValue → a tagged value: {string}|{bool}|{int}|{double}|{array}|{kvlist}|{bytes}|{empty}
function anyValue(av) {
  if (!av) return { empty: true };
  if (has(av, 'stringValue')) return { string: str(av.stringValue) };
  if (has(av, 'boolValue')) return { bool: Boolean(av.boolValue) };
  if (has(av, 'intValue')) return { int: u64(av.intValue) };
  if (has(av, 'doubleValue')) return { double: Number(av.doubleValue) };
  if (has(av, 'arrayValue')) return { array: ((av.arrayValue && av.arrayValue.values) || []).map(anyValue) };
  if (has(av, 'kvlistValue')) return { kvlist: attributes((av.kvlistValue && av.kvlistValue.values) || []) };
  if (has(av, 'bytesValue')) return { bytes: hex(av.bytesValue) };
  return { empty: true };
}

// KeyValue list → object key → tagged value (insertion order kept, duplicates flagged)
function attributes(kvs) {
  const out = {};
  for (const kv of kvs || []) {
    const k = str(kv.key);
    if (has(out, k)) throw new Error(`duplicate attribute key ${JSON.stringify(k)}`);
    out[k] = anyValue(kv.value);
  }
  return out;
}

function normSpan(span, resource, resourceSchemaUrl, scope, scopeSchemaUrl, wireFlags) {
  const spanId = hex(span.spanId);
  const wf = (wireFlags && wireFlags.get(spanId)) || { flags: undefined, linkFlags: [] };
  return {
    traceId: hex(span.traceId),
    spanId,
    parentSpanId: hex(span.parentSpanId),
    traceState: str(span.traceState),
    flags: num(wf.flags),
    name: str(span.name),
    kind: num(span.kind),
    startTimeUnixNano: u64(span.startTimeUnixNano),
    endTimeUnixNano: u64(span.endTimeUnixNano),
    attributes: attributes(span.attributes),
    droppedAttributesCount: num(span.droppedAttributesCount),
    events: (span.events || []).map((e) => ({
      timeUnixNano: u64(e.timeUnixNano),
      name: str(e.name),
      attributes: attributes(e.attributes),
      droppedAttributesCount: num(e.droppedAttributesCount),
    })),
    droppedEventsCount: num(span.droppedEventsCount),
    links: (span.links || []).map((l, i) => ({
      traceId: hex(l.traceId),
      spanId: hex(l.spanId),
      traceState: str(l.traceState),
      attributes: attributes(l.attributes),
      droppedAttributesCount: num(l.droppedAttributesCount),
      flags: num(wf.linkFlags[i]),
    })),
    droppedLinksCount: num(span.droppedLinksCount),
    status: { code: num(span.status && span.status.code), message: str(span.status && span.status.message) },
    resource: {
      attributes: attributes(resource && resource.attributes),
      droppedAttributesCount: num(resource && resource.droppedAttributesCount),
      schemaUrl: str(resourceSchemaUrl),
    },
    scope: {
      name: str(scope && scope.name),
      version: str(scope && scope.version),
      attributes: attributes(scope && scope.attributes),
      droppedAttributesCount: num(scope && scope.droppedAttributesCount),
      schemaUrl: str(scopeSchemaUrl),
    },
  };
}

// requests: [{msg, flags}] as recorded by the sink → array of normalised spans
function flattenRequests(requests) {
  const spans = [];
  for (const { msg, flags } of requests) {
    for (const rs of msg.resourceSpans || []) {
      for (const ss of rs.scopeSpans || []) {
        for (const sp of ss.spans || []) {
          spans.push(normSpan(sp, rs.resource, rs.schemaUrl, ss.scope, ss.schemaUrl, flags));
        }
      }
    }
  }
  return spans;
}

function bySpanId(spans, label) {
  const m = new Map();
  for (const s of spans) {
    if (m.has(s.spanId)) throw new assert.AssertionError({ message: `${label}: span id ${s.spanId} (${s.name}) appears more than once` });
    m.set(s.spanId, s);
  }
  return m;
}

// Asserts that `actual` holds exactly the spans of `expected`, field by field.
function assertSameSpans(actual, expected, label = 'spans') {
  const exp = bySpanId(expected, `${label} (expected)`);
  const act = bySpanId(actual, `${label} (actual)`);
  const missing = [...exp.keys()].filter((k) => !act.has(k)).map((k) => `${k} ${exp.get(k).name}`);
  const extra = [...act.keys()].filter((k) => !exp.has(k)).map((k) => `${k} ${act.get(k).name}`);
  assert.deepEqual({ missing, extra }, { missing: [], extra: [] }, `${label}: span ids differ`);
  for (const [id, e] of exp) {
    const a = act.get(id);
    // field by field, so the message names the first differing field
    for (const field of Object.keys(e)) {
      assert.deepStrictEqual(a[field], e[field], `${label}: span ${id} "${e.name}" field ${field} differs`);
    }
    assert.deepStrictEqual(Object.keys(a).sort(), Object.keys(e).sort());
  }
}

// ---- the second oracle: the SDK's own ReadableSpan (InMemorySpanExporter) -----
function jsAnyValue(v) {
  if (v === null || v === undefined) return { empty: true };
  if (typeof v === 'string') return { string: v };
  if (typeof v === 'boolean') return { bool: v };
  if (typeof v === 'number') return Number.isInteger(v) ? { int: String(v) } : { double: v };
  if (v instanceof Uint8Array) return { bytes: hex(v) };
  if (Array.isArray(v)) return { array: v.map(jsAnyValue) };
  if (typeof v === 'object') return { kvlist: jsAttributes(v) };
  throw new Error(`unexpected attribute value ${v}`);
}
function jsAttributes(attrs) {
  const out = {};
  for (const [k, v] of Object.entries(attrs || {})) out[k] = jsAnyValue(v);
  return out;
}
const hrNanos = ([s, ns]) => (BigInt(s) * 1000000000n + BigInt(ns)).toString();
const spanFlags = (traceFlags, isRemote) => (traceFlags & 0xff) | 0x100 | (isRemote ? 0x200 : 0);

// ReadableSpan (SDK 2.x) → the same normalised shape as normSpan, following the
// OTLP mapping of the specification (kind + 1, status codes shared, flags with
// the HAS_IS_REMOTE/IS_REMOTE bits).
function normReadable(span) {
  const ctx = span.spanContext();
  const parent = span.parentSpanContext;
  const scope = span.instrumentationScope || {};
  return {
    traceId: ctx.traceId,
    spanId: ctx.spanId,
    parentSpanId: (parent && parent.spanId) || '',
    traceState: ctx.traceState ? ctx.traceState.serialize() : '',
    flags: spanFlags(ctx.traceFlags, parent && parent.isRemote),
    name: span.name,
    kind: span.kind + 1,
    startTimeUnixNano: hrNanos(span.startTime),
    endTimeUnixNano: hrNanos(span.endTime),
    attributes: jsAttributes(span.attributes),
    droppedAttributesCount: span.droppedAttributesCount || 0,
    events: span.events.map((e) => ({
      timeUnixNano: hrNanos(e.time),
      name: e.name,
      attributes: jsAttributes(e.attributes),
      droppedAttributesCount: e.droppedAttributesCount || 0,
    })),
    droppedEventsCount: span.droppedEventsCount || 0,
    links: span.links.map((l) => ({
      traceId: l.context.traceId,
      spanId: l.context.spanId,
      traceState: l.context.traceState ? l.context.traceState.serialize() : '',
      attributes: jsAttributes(l.attributes),
      droppedAttributesCount: l.droppedAttributesCount || 0,
      flags: spanFlags(l.context.traceFlags, l.context.isRemote),
    })),
    droppedLinksCount: span.droppedLinksCount || 0,
    status: { code: span.status.code, message: span.status.message || '' },
    resource: {
      attributes: jsAttributes(span.resource.attributes),
      droppedAttributesCount: 0,
      schemaUrl: span.resource.schemaUrl || '',
    },
    scope: {
      name: scope.name || '',
      version: scope.version || '',
      attributes: {},
      droppedAttributesCount: 0,
      schemaUrl: scope.schemaUrl || '',
    },
  };
}

module.exports = {
  normReadable, anyValue, attributes, normSpan, flattenRequests, assertSameSpans, bySpanId };
