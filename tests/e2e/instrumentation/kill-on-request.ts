// Test-only instrumentation, loaded into the task process with `NODE_OPTIONS=--require <this file>`: kills the
// process (SIGKILL, no cleanup, as an agent losing its machine would) as soon as it has handed the socket the
// first request whose request line matches MIC_KILL_ON (a case-insensitive regular expression, e.g.
// `^DELETE .*roleAssignments`; with MIC_KILL_ON_NTH=n, the n-th such request). The service may or may not have
// received it: exactly what a crash leaves.
// HTTP/1.1 writes its request line in plain text through Socket.prototype.write, TLS included (encryption happens
// below it), so patching it sees every such request whatever library sent it. HTTP/2 has no request line (its
// headers are compressed frames written below JavaScript), so for the task's HTTP/2 transport the same
// `METHOD /path` is matched where a stream is opened (ClientHttp2Session.request), and the kill comes one turn
// of the event loop after the stream's headers were handed to the session.
import http2 from 'node:http2';
import { Socket } from 'node:net';

const pattern = process.env.MIC_KILL_ON ? new RegExp(process.env.MIC_KILL_ON, 'i') : undefined;

if (pattern) {
  const write = Socket.prototype.write as (this: Socket, ...args: unknown[]) => boolean;
  let matchesLeft = Number(process.env.MIC_KILL_ON_NTH ?? '1');
  (Socket.prototype as unknown as { write: (...args: unknown[]) => boolean }).write = function (this: Socket, ...args: unknown[]): boolean {
    const chunk = args[0];
    const text = typeof chunk === 'string' ? chunk : Buffer.isBuffer(chunk) ? chunk.toString('latin1', 0, Math.min(chunk.length, 2048)) : '';
    const requestLine = text.split('\r\n', 1)[0] ?? '';
    const written = write.apply(this, args);
    if (matchesLeft > 0 && pattern.test(requestLine) && --matchesLeft === 0) {
      // Right after the request was handed to the socket: it may have reached the service or not, and no
      // answer is acted on. (A timer would be too late: against a local service the rest of a teardown
      // takes a few milliseconds.)
      process.nextTick(() => process.kill(process.pid, 'SIGKILL'));
    }
    return written;
  };

  const connect = http2.connect;
  (http2 as unknown as { connect: typeof http2.connect }).connect = function (...args: Parameters<typeof http2.connect>) {
    const session = connect(...args);
    const request = session.request.bind(session);
    session.request = (headers, options) => {
      const stream = request(headers, options);
      const requestLine = `${String(headers?.[':method'] ?? 'GET')} ${String(headers?.[':path'] ?? '/')} HTTP/2`;
      if (matchesLeft > 0 && pattern.test(requestLine) && --matchesLeft === 0) {
        const kill = () => setImmediate(() => process.kill(process.pid, 'SIGKILL'));
        // On a connected session the stream is opened at once (it has its id already); else when it connects.
        if (stream.id !== undefined) kill();
        else stream.once('ready', kill);
      }
      return stream;
    };
    return session;
  } as typeof http2.connect;
}
