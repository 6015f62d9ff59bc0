'use strict';
// Free loopback ports chosen at run time: bind port 0 on 127.0.0.1, read the
// port the kernel gave, close. All listeners of one call are open at the same
// time, so one call never returns the same port twice.
const net = require('node:net');

async function freePorts(n) {
  const servers = [];
  try {
    for (let i = 0; i < n; i++) {
      const srv = net.createServer();
      servers.push(srv);
      await new Promise((resolve, reject) => {
        srv.once('error', reject);
        srv.listen({ host: '127.0.0.1', port: 0, exclusive: true }, resolve);
      });
    }
    return servers.map((s) => s.address().port);
  } finally {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(() => r()))));
  }
}

async function freePort() {
  return (await freePorts(1))[0];
}

module.exports = { freePorts, freePort };
