// Node `--import` preload for third-party servers started by tests (server-everything binds
// every interface): a `listen` that names no host binds 127.0.0.1 instead, and each server
// reports its port on stderr as "GATEHOUSE_TEST_LISTENING <port>", so PORT=0 works.
import net from 'node:net';

const LOOPBACK = '127.0.0.1';
const listen = net.Server.prototype.listen;

net.Server.prototype.listen = function listenOnLoopback(...args) {
  const [first] = args;
  if (first !== null && typeof first === 'object') {
    // listen(options[, cb]): a port without host, not a pipe path or handle.
    if (
      first.host === undefined &&
      first.path === undefined &&
      first.fd === undefined &&
      first.handle === undefined &&
      !('_handle' in first)
    ) {
      args[0] = { ...first, host: LOOPBACK };
    }
  } else if (first === undefined || typeof first === 'function') {
    // listen() / listen(cb): a random port.
    args.unshift(0, LOOPBACK);
    if (first === undefined) args.splice(2, 1);
  } else if (typeof first === 'number' || /^\d+$/.test(String(first))) {
    // listen(port[, host][, backlog][, cb]).
    if (typeof args[1] !== 'string') args.splice(1, 0, LOOPBACK);
  }
  this.once('listening', () => {
    const address = this.address();
    if (address && typeof address === 'object') process.stderr.write(`GATEHOUSE_TEST_LISTENING ${address.port}\n`);
  });
  return listen.apply(this, args);
};
