// Test-only instrumentation, loaded into the task process with `NODE_OPTIONS=--require <this file>`: appends
// the destination of every outbound socket (host:port) to the file named by MIC_SOCKET_LOG. Every TCP and TLS
// client in Node — http, https, undici's fetch, net.connect, tls.connect — ends in Socket.prototype.connect,
// so patching it sees them all, before any DNS lookup and whatever library opened the socket.
import { appendFileSync } from 'node:fs';
import { Socket } from 'node:net';

const logFile = process.env.MIC_SOCKET_LOG;

type ConnectArgs = unknown[];

function destination(args: ConnectArgs): string {
  // net.connect passes its already-normalized [options, callback] array as the first argument.
  const first = Array.isArray(args[0]) ? (args[0] as unknown[])[0] : args[0];
  if (typeof first === 'object' && first !== null) {
    const options = first as { host?: string; port?: number | string; path?: string | null };
    if (typeof options.path === 'string') return `pipe:${options.path}`;
    return `${options.host ?? 'localhost'}:${String(options.port)}`;
  }
  if (typeof first === 'string' && !/^\d+$/.test(first)) return `pipe:${first}`;
  return `${typeof args[1] === 'string' ? args[1] : 'localhost'}:${String(first)}`;
}

if (logFile) {
  const connect = Socket.prototype.connect as (this: Socket, ...args: ConnectArgs) => Socket;
  (Socket.prototype as unknown as { connect: (...args: ConnectArgs) => Socket }).connect = function (this: Socket, ...args: ConnectArgs): Socket {
    appendFileSync(logFile, `${destination(args)}\n`);
    return connect.apply(this, args);
  };
}
