// Preloaded with `node --require` into the tools the tests run (the OpenAPI
// linters), to prove they work offline: every TCP connection they try is
// written to NO_NETWORK_LOG and fails instead of leaving the machine.
const fs = require('node:fs');
const net = require('node:net');

const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function guardedConnect(...args) {
  const target = args.find((arg) => typeof arg !== 'function');
  const path = typeof target === 'string' ? target : target && target.path;
  if (path) return connect.apply(this, args); // a local IPC socket
  fs.appendFileSync(process.env.NO_NETWORK_LOG, `${JSON.stringify(target)}\n`);
  process.nextTick(() => this.destroy(new Error('network access is refused in this test')));
  return this;
};
