'use strict';
// An OTLP metrics sink: a gRPC MetricsService/Export server (grpc-js, hand-written service
// definition whose deserializer is the official schema's decode) and an OTLP/HTTP server
// on /v1/metrics (protobuf, optionally gzip). Records every request, decoded.
const http = require('node:http');
const zlib = require('node:zlib');
const grpc = require('@grpc/grpc-js');
const root = require('otlp-transformer-root/build/src/generated/root.js');

const pb = root.opentelemetry.proto.collector.metrics.v1;
const Req = pb.ExportMetricsServiceRequest;
const Resp = pb.ExportMetricsServiceResponse;
const METRICS_PATH = '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export';
const decode = (buf) => Req.toObject(Req.decode(buf), { longs: String, bytes: Buffer, defaults: true });

class MetricsSink {
  constructor() {
    this.requests = []; // {transport, msg}
    this.errors = [];
  }

  async start() {
    const server = new grpc.Server();
    server.addService({
      Export: {
        path: METRICS_PATH, requestStream: false, responseStream: false,
        requestSerialize: (m) => Buffer.from(Req.encode(m).finish()),
        requestDeserialize: (buf) => decode(buf),
        responseSerialize: (m) => Buffer.from(Resp.encode(m).finish()),
        responseDeserialize: (buf) => Resp.decode(buf),
      },
    }, {
      Export: (call, cb) => {
        this.requests.push({ transport: 'grpc', msg: call.request });
        cb(null, Resp.create({}));
      },
    });
    this.grpcPort = await new Promise((resolve, reject) => server.bindAsync('127.0.0.1:0',
      grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))));
    this._grpc = server;
    const hs = http.createServer((req, res) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        try {
          if (req.method !== 'POST' || req.url !== '/v1/metrics') throw new Error(`unexpected ${req.method} ${req.url}`);
          let body = Buffer.concat(chunks);
          if ((req.headers['content-encoding'] || '') === 'gzip') body = zlib.gunzipSync(body);
          if (req.headers['content-type'] !== 'application/x-protobuf') throw new Error(`content-type ${req.headers['content-type']}`);
          this.requests.push({ transport: 'http', msg: decode(body) });
          res.writeHead(200, { 'content-type': 'application/x-protobuf' });
          res.end(Buffer.from(Resp.encode({}).finish()));
        } catch (e) {
          this.errors.push(e.message);
          res.writeHead(400);
          res.end(e.message);
        }
      });
    });
    await new Promise((resolve) => hs.listen({ host: '127.0.0.1', port: 0 }, resolve));
    this.httpPort = hs.address().port;
    this._http = hs;
    return this;
  }

  // Every data point received, flattened: {transport, resource (attrs object), metric,
  // kind, temporality, unit, point, attrs}.
  points() {
    const out = [];
    const attrs = (kvs) => Object.fromEntries((kvs || []).map((kv) => [kv.key, kv.value.stringValue]));
    for (const r of this.requests) {
      for (const rm of r.msg.resourceMetrics) {
        const resource = attrs(rm.resource && rm.resource.attributes);
        for (const sm of rm.scopeMetrics) {
          for (const m of sm.metrics) {
            for (const kind of ['sum', 'histogram', 'exponentialHistogram']) {
              if (!m[kind]) continue;
              for (const p of m[kind].dataPoints) {
                out.push({ transport: r.transport, scope: sm.scope && sm.scope.name, resource, metric: m.name, unit: m.unit, kind,
                  temporality: m[kind].aggregationTemporality, monotonic: m[kind].isMonotonic, point: p, attrs: attrs(p.attributes) });
              }
            }
          }
        }
      }
    }
    return out;
  }

  async close() {
    if (this._grpc) {
      const s = this._grpc;
      this._grpc = null;
      await new Promise((resolve) => {
        const t = setTimeout(() => { s.forceShutdown(); resolve(); }, 2000);
        s.tryShutdown(() => { clearTimeout(t); resolve(); });
      });
    }
    if (this._http) {
      const s = this._http;
      this._http = null;
      s.closeAllConnections();
      await new Promise((resolve) => s.close(() => resolve()));
    }
  }
}

module.exports = { MetricsSink };
