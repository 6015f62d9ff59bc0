'use strict';
// A fake Jaeger collector: jaeger.api_v2.CollectorService/PostSpans on grpc-js, with the
// service loaded from the project's api_v2 protos by @grpc/proto-loader. Records every
// Batch; can fail the first N calls (retry tests) and serve TLS only.
const fs = require('node:fs');
const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const ROOT = path.resolve(__dirname, '..', '..', '..');

// api_v2 CollectorService; fails the first `failures` calls with UNAVAILABLE. With tls
// ({key, cert} PEM files) it serves TLS only.
async function startGrpcCollector(tls) {
  const def = protoLoader.loadSync('collector.proto', {
    includeDirs: [path.join(ROOT, 'proto')], keepCase: true, longs: String, enums: String, defaults: true,
  });
  const api = grpc.loadPackageDefinition(def).jaeger.api_v2;
  const c = { batches: [], calls: 0, failures: 0, metadata: [] };
  const server = new grpc.Server();
  server.addService(api.CollectorService.service, {
    PostSpans: (call, cb) => {
      c.calls++;
      c.metadata.push(call.metadata.getMap());
      if (c.failures > 0) {
        c.failures--;
        cb({ code: grpc.status.UNAVAILABLE, details: 'collector warming up' });
        return;
      }
      c.batches.push(call.request.batch);
      cb(null, {});
    },
  });
  const creds = tls
    ? grpc.ServerCredentials.createSsl(null, [{ private_key: fs.readFileSync(tls.key), cert_chain: fs.readFileSync(tls.cert) }])
    : grpc.ServerCredentials.createInsecure();
  c.port = await new Promise((resolve, reject) => server.bindAsync('127.0.0.1:0', creds,
    (e, p) => (e ? reject(e) : resolve(p))));
  c.close = () => new Promise((r) => server.tryShutdown(r));
  c.spans = () => c.batches.flatMap((b) => b.spans.map((s) => ({ span: s, process: b.process })));
  return c;
}

module.exports = { startGrpcCollector };
