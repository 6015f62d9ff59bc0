'use strict';
// An OTLP trace sink: a gRPC TraceService/Export server (grpc-js with a
// hand-written service definition whose deserializer is the official schema's
// decode) and an OTLP/HTTP server on /v1/traces (protobuf, optionally gzip).
// It records every request it receives and can wait for a span count.
const http = require('node:http');
const zlib = require('node:zlib');
const { EventEmitter } = require('node:events');
const grpc = require('@grpc/grpc-js');
const { ExportTraceServiceRequest, ExportTraceServiceResponse, decodeTraceRequest } = require('./otlp');

const EXPORT_PATH = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';

const traceServiceDefinition = {
  Export: {
    path: EXPORT_PATH,
    requestStream: false,
    responseStream: false,
    requestSerialize: (m) => Buffer.from(ExportTraceServiceRequest.encode(m).finish()),
    // keep the raw bytes too: flags are read from the wire
    requestDeserialize: (buf) => ({ raw: Buffer.from(buf), ...decodeTraceRequest(buf) }),
    responseSerialize: (m) => Buffer.from(ExportTraceServiceResponse.encode(m).finish()),
    responseDeserialize: (buf) => ExportTraceServiceResponse.decode(buf),
  },
};

function countSpans(msg) {
  let n = 0;
  for (const rs of msg.resourceSpans || []) {
    for (const ss of rs.scopeSpans || []) n += (ss.spans || []).length;
  }
  return n;
}

class Sink extends EventEmitter {
  constructor() {
    super();
    this.requests = []; // {transport, headers, raw, msg, flags, spanCount}
    this.errors = []; // requests the sink could not take: {transport, reason, headers}
    this.grpcPort = 0;
    this.httpPort = 0;
    this._grpc = null;
    this._http = null;
  }

  get spanCount() {
    return this.requests.reduce((a, r) => a + r.spanCount, 0);
  }

  _record(entry) {
    entry.spanCount = countSpans(entry.msg);
    entry.at = Date.now();
    this.requests.push(entry);
    this.emit('request', entry);
  }

  // grpcPort/httpPort: fixed ports (a backend that comes up where the exporter already
  // points); 0 = any free port.
  async start({ grpc: wantGrpc = true, http: wantHttp = true, grpcPort = 0, httpPort = 0 } = {}) {
    if (wantGrpc) {
      const server = new grpc.Server();
      server.addService(traceServiceDefinition, {
        Export: (call, callback) => {
          const { raw, msg, flags } = call.request;
          this._record({ transport: 'grpc', headers: call.metadata.getMap(), raw, msg, flags });
          callback(null, ExportTraceServiceResponse.create({}));
        },
      });
      this.grpcPort = await new Promise((resolve, reject) => {
        server.bindAsync(`127.0.0.1:${grpcPort}`, grpc.ServerCredentials.createInsecure(), (err, port) =>
          err ? reject(err) : resolve(port));
      });
      this._grpc = server;
    }
    if (wantHttp) {
      const server = http.createServer((req, res) => this._onHttp(req, res));
      await new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host: '127.0.0.1', port: httpPort }, resolve);
      });
      this.httpPort = server.address().port;
      this._http = server;
    }
    return this;
  }

  _onHttp(req, res) {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const fail = (code, reason) => {
        this.errors.push({ transport: 'http', reason, headers: req.headers });
        this.emit('error-request', reason);
        res.writeHead(code, { 'content-type': 'text/plain' });
        res.end(reason);
      };
      if (req.method !== 'POST' || req.url.split('?')[0] !== '/v1/traces') {
        return fail(404, `unexpected ${req.method} ${req.url}`);
      }
      let body = Buffer.concat(chunks);
      const enc = (req.headers['content-encoding'] || '').toLowerCase();
      if (enc === 'gzip') {
        try { body = zlib.gunzipSync(body); } catch (e) { return fail(400, `bad gzip: ${e.message}`); }
      } else if (enc && enc !== 'identity') {
        return fail(415, `unsupported content-encoding ${enc}`);
      }
      const ct = (req.headers['content-type'] || '').split(';')[0].trim().toLowerCase();
      if (ct !== 'application/x-protobuf') return fail(415, `sink takes protobuf only, got ${ct}`);
      let decoded;
      try { decoded = decodeTraceRequest(body); } catch (e) { return fail(400, `undecodable: ${e.message}`); }
      this._record({ transport: 'http', headers: req.headers, raw: body, ...decoded });
      res.writeHead(200, { 'content-type': 'application/x-protobuf' });
      res.end(Buffer.from(ExportTraceServiceResponse.encode({}).finish()));
    });
  }

  // Resolves when at least n spans have arrived; rejects after timeoutMs.
  waitForSpans(n, timeoutMs = 10000) {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (this.spanCount >= n) {
          cleanup();
          resolve(this.spanCount);
          return true;
        }
        return false;
      };
      const onReq = () => check();
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`sink: waited ${timeoutMs} ms for ${n} spans, have ${this.spanCount} ` +
          `in ${this.requests.length} requests (sink errors: ${JSON.stringify(this.errors.map((e) => e.reason))})`));
      }, timeoutMs);
      const cleanup = () => { clearTimeout(timer); this.off('request', onReq); };
      this.on('request', onReq);
      check();
    });
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

async function startSink(opts) {
  return new Sink().start(opts);
}

module.exports = { startSink, Sink, countSpans, EXPORT_PATH };
