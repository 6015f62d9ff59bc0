'use strict';
// Raw HTTP/1.1 requests with node:http, for probing the OTLP/HTTP receiver.
const http = require('node:http');

// Resolves {status, headers, body} once a response has fully arrived. A write
// error after the server answered early (e.g. 413 then close) is tolerated;
// without a response it rejects.
function request({ port, method = 'POST', path = '/v1/traces', headers = {}, body, timeoutMs = 5000 }) {
  return new Promise((resolve, reject) => {
    let response = null;
    let done = false;
    const finish = (fn, v) => { if (!done) { done = true; clearTimeout(timer); fn(v); } };
    const req = http.request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      response = res;
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => finish(resolve, { status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', (e) => finish(reject, e));
    });
    const timer = setTimeout(() => {
      req.destroy();
      finish(reject, new Error(`${method} ${path} on :${port}: no complete response within ${timeoutMs} ms`));
    }, timeoutMs);
    req.on('error', (e) => {
      if (!response) finish(reject, new Error(`${method} ${path} on :${port}: ${e.code || e.message} before any response`));
    });
    if (body !== undefined) req.end(body); else req.end();
  });
}

module.exports = { request };
