'use strict';
// The TAILGATE_* variables that move every listener of the embedded default (and of the
// compose config, which reads the same ones) to free loopback ports: TCP ports from
// freePorts, UDP ports from sockets bound and closed here.
const dgram = require('node:dgram');
const { freePorts } = require('./ports');

async function freeUdpPorts(n) {
  const socks = [];
  try {
    for (let i = 0; i < n; i++) {
      const s = dgram.createSocket('udp4');
      socks.push(s);
      await new Promise((resolve, reject) => { s.once('error', reject); s.bind(0, '127.0.0.1', resolve); });
    }
    return socks.map((s) => s.address().port);
  } finally {
    await Promise.all(socks.map((s) => new Promise((r) => s.close(r))));
  }
}

// Returns {ports, env}: env is process.env plus every listener variable.
async function defaultListenerEnv() {
  const [otlpGrpc, otlpHttp, jaegerGrpc, jaegerHttp, health, metrics, prometheus, zipkin, jaegerSampling] =
    await freePorts(9);
  const [compact, binary] = await freeUdpPorts(2);
  const ports = {
    otlpGrpc, otlpHttp, jaegerGrpc, jaegerHttp, compact, binary, health, metrics, prometheus, zipkin,
    jaegerSampling,
  };
  const at = (p) => `127.0.0.1:${p}`;
  const env = {
    ...process.env,
    TAILGATE_OTLP_GRPC_ENDPOINT: at(otlpGrpc),
    TAILGATE_OTLP_HTTP_ENDPOINT: at(otlpHttp),
    TAILGATE_JAEGER_GRPC_ENDPOINT: at(jaegerGrpc),
    TAILGATE_JAEGER_THRIFT_HTTP_ENDPOINT: at(jaegerHttp),
    TAILGATE_JAEGER_THRIFT_COMPACT_ENDPOINT: at(compact),
    TAILGATE_JAEGER_THRIFT_BINARY_ENDPOINT: at(binary),
    TAILGATE_HEALTH_ENDPOINT: at(health),
    TAILGATE_METRICS_ADDRESS: at(metrics),
    TAILGATE_PROMETHEUS_ENDPOINT: at(prometheus),
    // listeners the default gains with the Zipkin receiver and Jaeger remote sampling
    TAILGATE_ZIPKIN_ENDPOINT: at(zipkin),
    TAILGATE_JAEGER_SAMPLING_ENDPOINT: at(jaegerSampling),
  };
  return { ports, env };
}

module.exports = { defaultListenerEnv, freeUdpPorts };
