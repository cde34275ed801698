/**
 * Preloaded into Portkey's gateway (`node --import …/loopback-only.ts`): its start script listens
 * on every interface and takes no host option, and the benchmark uses loopback addresses only.
 * A `listen(port)` or `listen(port, undefined, callback)` gets 127.0.0.1 as its host.
 */
import { Server } from 'node:net';

// eslint-disable-next-line @typescript-eslint/unbound-method -- called below with the right `this`
const listen = Server.prototype.listen;
Server.prototype.listen = function listenOnLoopback(this: Server, ...args: unknown[]): Server {
  if (typeof args[0] === 'number' && (args.length === 1 || typeof args[1] !== 'string')) {
    const callback = args.find((argument) => typeof argument === 'function');
    return (listen as (...parameters: unknown[]) => Server).call(this, args[0], '127.0.0.1', callback);
  }
  return (listen as (...parameters: unknown[]) => Server).apply(this, args);
} as typeof Server.prototype.listen;
