'use strict';
// Oracle test: tailgate's C trace-context library (through build/tests/tracecontext-tool)
// against the OpenTelemetry JS propagators — W3C (@opentelemetry/core), B3
// (@opentelemetry/propagator-b3) and Jaeger (@opentelemetry/propagator-jaeger). For valid
// inputs both must extract the same context and inject the same headers. The JS
// propagators are lenient (upper-case hex, odd lengths), so invalid inputs are not
// compared here: their rejection comes from the specifications, in the C unit vectors.
const test = require('node:test');
const assert = require('node:assert');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const api = require('@opentelemetry/api');
const { W3CTraceContextPropagator, W3CBaggagePropagator } = require('@opentelemetry/core');
const { B3Propagator, B3InjectEncoding } = require('@opentelemetry/propagator-b3');
const { B3_DEBUG_FLAG_KEY } = require('@opentelemetry/propagator-b3/build/src/common');
const { JaegerPropagator } = require('@opentelemetry/propagator-jaeger');

const TOOL = path.resolve(__dirname, '..', '..', 'build', 'tests', 'tracecontext-tool');
const US = '\x1f';

// Runs every case through one tool process; returns one parsed object per line.
function runTool(lines) {
  const r = spawnSync(TOOL, [], { input: lines.join('\n') + '\n', encoding: 'utf8', timeout: 10000 });
  assert.strictEqual(r.status, 0, r.stderr);
  const out = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.strictEqual(out.length, lines.length);
  return out;
}

const getter = {
  keys: (c) => Object.keys(c),
  get: (c, k) => c[k.toLowerCase()],
};
const setter = { set: (c, k, v) => { c[k.toLowerCase()] = v; } };

function jsExtract(propagator, headers) {
  const carrier = {};
  for (const [k, v] of headers) carrier[k.toLowerCase()] = v;
  const ctx = propagator.extract(api.ROOT_CONTEXT, carrier, getter);
  const sc = api.trace.getSpanContext(ctx);
  return { sc, ctx };
}

const T32 = '4bf92f3577b34da6a3ce929d0e0e4736';
const S16 = '00f067aa0ba902b7';
const P16 = '53995c3f42cd8ad8';

const w3cValid = [
  [['traceparent', `00-${T32}-${S16}-01`]],
  [['traceparent', `00-${T32}-${S16}-00`]],
  [['traceparent', `00-${T32}-${S16}-02`]],
  [['traceparent', `00-${T32}-${S16}-03`]],
  [['traceparent', `cc-${T32}-${S16}-01-what-the-future-will-be-like`]],
  [['traceparent', `00-${T32}-${S16}-01`], ['tracestate', 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7']],
  [['traceparent', `00-${T32}-${S16}-01`], ['tracestate', 'a@b=1,c-d*/e_f=x y']],
  [['traceparent', `00-ffffffffffffffffffffffffffffffff-ffffffffffffffff-01`], ['tracestate', 'k=v']],
];

test('W3C traceparent/tracestate: same context as @opentelemetry/core', () => {
  const prop = new W3CTraceContextPropagator();
  const got = runTool(w3cValid.map((h) => ['extract', ...h.flat()].join(US)));
  w3cValid.forEach((headers, i) => {
    const { sc } = jsExtract(prop, headers);
    assert.ok(sc, `oracle rejected case ${i}`);
    assert.strictEqual(got[i].source, 'w3c', `case ${i}: ${got[i].reason}`);
    assert.deepStrictEqual(
      { trace: got[i].trace_id, span: got[i].span_id, flags: (got[i].sampled ? 1 : 0) | (got[i].random ? 2 : 0), ts: got[i].tracestate },
      { trace: sc.traceId, span: sc.spanId, flags: sc.traceFlags & 3, ts: sc.traceState ? sc.traceState.serialize() : '' },
      `case ${i}`);
  });
});

const b3Valid = [
  [['b3', `${T32}-${S16}-1`]],
  [['b3', `${T32}-${S16}-0`]],
  [['b3', `${T32}-${S16}-d`]],
  [['b3', `${T32}-${S16}-1-${P16}`]],
  [['b3', `a3ce929d0e0e4736-${S16}-1`]],
  [['b3', `${T32}-${S16}`]],
  [['x-b3-traceid', T32], ['x-b3-spanid', S16], ['x-b3-sampled', '1']],
  [['x-b3-traceid', T32], ['x-b3-spanid', S16], ['x-b3-sampled', '0']],
  [['x-b3-traceid', 'a3ce929d0e0e4736'], ['x-b3-spanid', S16], ['x-b3-flags', '1']],
  [['x-b3-traceid', T32], ['x-b3-spanid', S16], ['x-b3-parentspanid', P16], ['x-b3-sampled', 'true']],
  [['b3', `${T32}-${S16}-1`], ['x-b3-traceid', 'a3ce929d0e0e4736'], ['x-b3-spanid', P16], ['x-b3-sampled', '0']],
];

test('B3 single and multi: same context as @opentelemetry/propagator-b3', () => {
  const prop = new B3Propagator();
  const got = runTool(b3Valid.map((h) => ['extract', ...h.flat()].join(US)));
  b3Valid.forEach((headers, i) => {
    const { sc, ctx } = jsExtract(prop, headers);
    assert.ok(sc, `oracle rejected case ${i}`);
    assert.ok(got[i].source === 'b3' || got[i].source === 'b3multi', `case ${i}: ${got[i].reason}`);
    const jsDebug = ctx.getValue(B3_DEBUG_FLAG_KEY) !== undefined;
    assert.deepStrictEqual(
      { trace: got[i].trace_id, span: got[i].span_id, sampled: got[i].sampled, debug: got[i].debug },
      { trace: sc.traceId, span: sc.spanId, sampled: (sc.traceFlags & 1) === 1, debug: jsDebug },
      `case ${i}`);
  });
});

const jaegerValid = [
  [['uber-trace-id', `${T32}:${S16}:0:1`]],
  [['uber-trace-id', `${T32}:${S16}:0:0`]],
  [['uber-trace-id', `${T32}:${S16}:${P16}:01`]],
  [['uber-trace-id', `a3ce929d0e0e4736:${S16}:0:1`]],
  [['uber-trace-id', '1f:2e:0:1']],
  [['uber-trace-id', `${T32}%3A${S16}%3A0%3A1`]],
  [['uber-trace-id', `${T32}:${S16}:0:1`], ['uberctx-tenant', 'acme%20corp'], ['uberctx-region', 'eu']],
];

test('Jaeger uber-trace-id and uberctx-*: same context as @opentelemetry/propagator-jaeger', () => {
  const prop = new JaegerPropagator();
  const got = runTool(jaegerValid.map((h) => ['extract', ...h.flat()].join(US)));
  jaegerValid.forEach((headers, i) => {
    const { sc, ctx } = jsExtract(prop, headers);
    assert.ok(sc, `oracle rejected case ${i}`);
    assert.strictEqual(got[i].source, 'jaeger', `case ${i}: ${got[i].reason}`);
    assert.deepStrictEqual(
      { trace: got[i].trace_id, span: got[i].span_id, sampled: got[i].sampled },
      { trace: sc.traceId, span: sc.spanId, sampled: (sc.traceFlags & 1) === 1 },
      `case ${i}`);
    const bag = api.propagation.getBaggage(ctx);
    const jsBag = bag ? Object.fromEntries(bag.getAllEntries().map(([k, e]) => [k, e.value])) : {};
    // the tool writes baggage as a W3C header; decode it the same way the W3C propagator does
    const parsed = {};
    if (got[i].baggage) {
      const c = new W3CBaggagePropagator().extract(api.ROOT_CONTEXT, { baggage: got[i].baggage }, getter);
      for (const [k, e] of api.propagation.getBaggage(c).getAllEntries()) parsed[k] = e.value;
    }
    assert.deepStrictEqual(parsed, jsBag, `case ${i} baggage`);
  });
});

// Injection: the same span context through both sides.
const injectCases = [
  { traceId: T32, spanId: S16, traceFlags: 1, debug: false },
  { traceId: T32, spanId: S16, traceFlags: 0, debug: false },
  { traceId: '0000000000000000a3ce929d0e0e4736', spanId: S16, traceFlags: 1, debug: false },
  { traceId: T32, spanId: S16, traceFlags: 1, debug: true },
];

// OpenTelemetry keeps B3 debug as a context value: 'd' from the single header, '1' from
// X-B3-Flags; each encoding writes only its own spelling.
function jsInject(propagator, c, debugValue = 'd') {
  let ctx = api.trace.setSpanContext(api.ROOT_CONTEXT, { traceId: c.traceId, spanId: c.spanId, traceFlags: c.traceFlags, isRemote: false });
  if (c.debug) ctx = ctx.setValue(B3_DEBUG_FLAG_KEY, debugValue);
  const carrier = {};
  propagator.inject(ctx, carrier, setter);
  return carrier;
}

test('injected headers equal the OpenTelemetry propagators\' for the same context', () => {
  const got = runTool(injectCases.map((c) => ['inject', c.traceId, c.spanId, c.traceFlags.toString(16), c.debug ? '1' : '0'].join(US)));
  injectCases.forEach((c, i) => {
    const w3c = jsInject(new W3CTraceContextPropagator(), c);
    const single = jsInject(new B3Propagator({ injectEncoding: B3InjectEncoding.SINGLE_HEADER }), c);
    const multi = jsInject(new B3Propagator({ injectEncoding: B3InjectEncoding.MULTI_HEADER }), c, '1');
    if (!c.debug) {
      // W3C and Jaeger have no B3 debug state in OpenTelemetry's context
      assert.strictEqual(got[i].traceparent, w3c.traceparent, `case ${i} traceparent`);
      const jaeger = jsInject(new JaegerPropagator(), c);
      assert.strictEqual(got[i]['uber-trace-id'], jaeger['uber-trace-id'], `case ${i} uber-trace-id`);
    }
    assert.strictEqual(got[i].b3, single.b3, `case ${i} b3`);
    const mine = {};
    for (const k of ['x-b3-traceid', 'x-b3-spanid', 'x-b3-sampled', 'x-b3-flags'])
      if (got[i][k] !== '') mine[k] = got[i][k];
    assert.deepStrictEqual(mine, multi, `case ${i} multi`);
  });
});
