// The HTTP/2 transport of the Azure SDK pipeline (adapters/http2-client.ts) against local servers: one session
// per origin for every request, the fallback to the HTTP/1.1 client when ALPN picks http/1.1, abort and
// timeout, the CONNECT tunnel with the proxy's credentials, and what a session that goes away or a reset
// stream looks like to the caller.
import * as assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import { constants, createSecureServer, type Http2SecureServer, type ServerHttp2Stream } from 'node:http2';
import { Agent as HttpsAgent, createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { connect as connectTcp, type AddressInfo, type Socket } from 'node:net';
import { createDefaultHttpClient, createHttpHeaders, createPipelineRequest, type HttpClient, type PipelineRequest } from '@azure/core-rest-pipeline';
import { sharedHttpClient } from '../../tasks/ManagedIdentityConnections/src/adapters/http-client';
import { Http2HttpClient, type Http2Route } from '../../tasks/ManagedIdentityConnections/src/adapters/http2-client';
import { followRun } from '../../tasks/ManagedIdentityConnections/src/run-cancellation';
import { createCertificates, type EmulatorCertificates } from '../emulator/kernel/certs';
import { testCertificateAuthority } from '../helpers/emulator';

type StreamHandler = (stream: ServerHttp2Stream, headers: Record<string, string | string[] | undefined>, count: number, dropConnections: () => void) => void;

async function listen(server: HttpServer | HttpsServer | Http2SecureServer): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

async function close(server: HttpServer | HttpsServer | Http2SecureServer, sockets: Set<Socket>): Promise<void> {
  for (const socket of sockets) socket.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

function trackSockets(server: HttpServer | HttpsServer | Http2SecureServer): Set<Socket> {
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  return sockets;
}

/** An HTTP/2-only server; `handle` answers each stream (the default: 200 and the path as JSON). */
async function h2Server(certs: EmulatorCertificates, handle?: StreamHandler) {
  let streams = 0;
  let sessions = 0;
  const server = createSecureServer({ key: certs.keyPem, cert: certs.certPem });
  const sockets = trackSockets(server);
  server.on('session', () => sessions++);
  server.on('stream', (stream, headers) => {
    streams++;
    // A stream the handler resets reports it as an error here too; the client's view is what the tests check.
    stream.on('error', () => undefined);
    if (handle) return handle(stream, headers, streams, () => sockets.forEach((socket) => socket.destroy()));
    stream.respond({ ':status': 200, 'content-type': 'application/json', 'x-seen-method': String(headers[':method']), 'x-seen-content-type': String(headers['content-type']) });
    stream.end(JSON.stringify({ path: headers[':path'], protocol: 'h2' }));
  });
  const port = await listen(server);
  return {
    origin: `https://127.0.0.1:${port}`,
    port,
    get sessions() {
      return sessions;
    },
    get streams() {
      return streams;
    },
    close: () => close(server, sockets),
  };
}

describe('the HTTP/2 transport', function () {
  this.timeout(20_000);
  let certs: EmulatorCertificates;
  const sent: PipelineRequest[] = [];
  let http1: HttpClient;
  let route: Http2Route;

  before(async () => {
    certs = await createCertificates(testCertificateAuthority());
    const agent = new HttpsAgent({ keepAlive: true, ca: certs.caPem });
    const inner = createDefaultHttpClient();
    http1 = {
      sendRequest(request) {
        sent.push(request);
        request.agent = agent;
        return inner.sendRequest(request);
      },
    };
    route = { ca: [certs.caPem] };
  });
  beforeEach(() => (sent.length = 0));

  const get = (url: string, extra: Partial<Parameters<typeof createPipelineRequest>[0]> = {}) => createPipelineRequest({ url, method: 'GET', ...extra });

  it('sends a burst of requests and the next ones on one session per origin', async () => {
    const server = await h2Server(certs);
    const client = new Http2HttpClient(http1, () => route);
    try {
      const first = await Promise.all(Array.from({ length: 30 }, (_, i) => client.sendRequest(get(`${server.origin}/item/${i}?x=1`))));
      const second = await client.sendRequest(
        createPipelineRequest({ url: `${server.origin}/write`, method: 'PUT', body: JSON.stringify({ a: 1 }), headers: createHttpHeaders({ 'Content-Type': 'application/json', Connection: 'keep-alive' }) }),
      );
      assert.deepEqual(first.map((response) => response.status), Array(30).fill(200));
      assert.deepEqual(JSON.parse(first[7]!.bodyAsText!), { path: '/item/7?x=1', protocol: 'h2' });
      assert.equal(second.headers.get('x-seen-method'), 'PUT');
      assert.equal(second.headers.get('x-seen-content-type'), 'application/json', 'the request headers arrive, the connection-specific one dropped');
      assert.equal(server.sessions, 1);
      assert.equal(client.sessionsOpened, 1);
      assert.equal(sent.length, 0, 'nothing went to the HTTP/1.1 client');
    } finally {
      client.close();
      await server.close();
    }
  });

  it('hands an origin that negotiates http/1.1 to the HTTP/1.1 client, and probes it only once', async () => {
    let handshakes = 0;
    const versions: string[] = [];
    const server = createHttpsServer({ key: certs.keyPem, cert: certs.certPem }, (req: IncomingMessage, res) => {
      versions.push(req.httpVersion);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"protocol":"http/1.1"}');
    });
    const sockets = trackSockets(server);
    server.on('secureConnection', () => handshakes++);
    const port = await listen(server);
    const client = new Http2HttpClient(http1, () => route);
    try {
      for (let i = 0; i < 3; i++) {
        const response = await client.sendRequest(get(`https://127.0.0.1:${port}/x`));
        assert.equal(response.bodyAsText, '{"protocol":"http/1.1"}');
      }
      assert.equal(sent.length, 3);
      assert.deepEqual(versions, ['1.1', '1.1', '1.1']);
      assert.equal(handshakes, 2, 'one ALPN probe, then the HTTP/1.1 client\'s keep-alive connection');
      assert.equal(client.sessionsOpened, 0);
    } finally {
      client.close();
      await close(server, sockets);
    }
  });

  it('ends the stream and rejects with an AbortError on abort and on the per-attempt timeout', async () => {
    const cancelled: number[] = [];
    const server = await h2Server(certs, (stream) => stream.once('close', () => cancelled.push(stream.rstCode)));
    const client = new Http2HttpClient(http1, () => route);
    try {
      const controller = new AbortController();
      const pending = client.sendRequest(get(`${server.origin}/slow`, { abortSignal: controller.signal }));
      setTimeout(() => controller.abort(), 100);
      await assert.rejects(pending, { name: 'AbortError' });
      const started = Date.now();
      await assert.rejects(client.sendRequest(get(`${server.origin}/slow`, { timeout: 200 })), { name: 'AbortError' });
      assert.ok(Date.now() - started < 2_000);
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.deepEqual(cancelled, [constants.NGHTTP2_CANCEL, constants.NGHTTP2_CANCEL]);
      assert.equal(server.sessions, 1, 'an aborted stream leaves the session to the others');
    } finally {
      client.close();
      await server.close();
    }
  });

  it('ends every request with the run, through a fixed number of listeners on the run\'s signal (sharedHttpClient)', async () => {
    const server = await h2Server(certs, (stream, headers) => {
      if (headers[':path'] !== '/slow') return void stream.respond({ ':status': 200 }, { endStream: true });
    });
    const run = new AbortController();
    const client = sharedHttpClient({ signal: run.signal });
    try {
      await client.sendRequest(get(`${server.origin}/warm-up`));
      const listening = () => getEventListeners(run.signal, 'abort').length;
      const before = listening();
      // Without a signal (azure-devops-node-api's), with one that follows the run (ServiceCalls'), with one of
      // its own (an SDK's): none adds a listener per request, and Node's warning past ten stays away.
      const own = new AbortController();
      const ownRequest = client.sendRequest(get(`${server.origin}/slow`, { abortSignal: own.signal }));
      const pending = [
        ...Array.from({ length: 15 }, () => client.sendRequest(get(`${server.origin}/slow`))),
        ...Array.from({ length: 15 }, () => client.sendRequest(get(`${server.origin}/slow`, { abortSignal: followRun(run.signal).signal }))),
      ];
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(listening(), before);
      own.abort();
      await assert.rejects(ownRequest, { name: 'AbortError' });
      run.abort(new Error('the task has its result'));
      for (const request of pending) await assert.rejects(request, { name: 'AbortError' });
    } finally {
      await server.close();
    }
  });

  it('tunnels through the agent\'s proxy with its credentials, then negotiates h2 through it', async () => {
    const server = await h2Server(certs);
    const seen: Array<{ target: string; authorization?: string }> = [];
    const proxy = createHttpServer();
    const proxySockets = trackSockets(proxy);
    proxy.on('connect', (req: IncomingMessage, socket: Socket, head: Buffer) => {
      seen.push({ target: req.url ?? '', ...(req.headers['proxy-authorization'] ? { authorization: req.headers['proxy-authorization'] } : {}) });
      if (req.headers['proxy-authorization'] !== `Basic ${Buffer.from('agent:p@ss word').toString('base64')}`) {
        socket.end('HTTP/1.1 407 Proxy Authentication Required\r\ncontent-length: 0\r\n\r\n');
        return;
      }
      const upstream = connectTcp(server.port, '127.0.0.1', () => {
        socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        if (head.length > 0) upstream.write(head);
        upstream.pipe(socket).pipe(upstream);
      });
      upstream.on('error', () => socket.destroy());
      socket.on('error', () => upstream.destroy());
    });
    const proxyPort = await listen(proxy);
    const proxyUrl = new URL(`http://127.0.0.1:${proxyPort}`);
    proxyUrl.username = 'agent';
    proxyUrl.password = encodeURIComponent('p@ss word');
    const client = new Http2HttpClient(http1, () => ({ ...route, proxy: proxyUrl }));
    try {
      const responses = await Promise.all([1, 2, 3].map((i) => client.sendRequest(get(`${server.origin}/through/${i}`))));
      assert.deepEqual(responses.map((response) => response.status), [200, 200, 200]);
      assert.equal(seen.length, 1, 'one tunnel for the three requests');
      assert.equal(seen[0]!.target, `127.0.0.1:${server.port}`);
      assert.equal(server.sessions, 1);

      // A proxy that refuses the tunnel: the request goes to the HTTP/1.1 client, which reports the refusal.
      const wrong = new URL(proxyUrl);
      wrong.password = 'wrong';
      const refused = new Http2HttpClient({ sendRequest: async (request) => ({ status: 407, headers: createHttpHeaders(), request }) }, () => ({ ...route, proxy: wrong }));
      assert.equal((await refused.sendRequest(get(`${server.origin}/refused`))).status, 407);
    } finally {
      client.close();
      await close(proxy, proxySockets);
      await server.close();
    }
  });

  it('opens a new session after a GOAWAY, and sends a refused stream again once, transparently', async () => {
    const server = await h2Server(certs, (stream, headers, count) => {
      if (headers[':path'] === '/refuse' && count === 1) return stream.close(constants.NGHTTP2_REFUSED_STREAM);
      stream.respond({ ':status': 200 });
      stream.end(String(count));
      if (headers[':path'] === '/last') stream.session?.goaway(constants.NGHTTP2_NO_ERROR);
    });
    const client = new Http2HttpClient(http1, () => route);
    try {
      assert.equal((await client.sendRequest(get(`${server.origin}/refuse`))).bodyAsText, '2');
      assert.equal((await client.sendRequest(get(`${server.origin}/last`))).bodyAsText, '3');
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal((await client.sendRequest(get(`${server.origin}/after`))).bodyAsText, '4');
      assert.equal(server.sessions, 2);
      assert.equal(client.sessionsOpened, 2);
    } finally {
      client.close();
      await server.close();
    }
  });

  it('reports a stream reset before or during the answer as ECONNRESET, which the retry policy retries', async () => {
    const server = await h2Server(certs, (stream, headers, _count, dropConnections) => {
      if (headers[':path'] === '/reset') return stream.close(constants.NGHTTP2_INTERNAL_ERROR);
      if (headers[':path'] === '/connection-lost') return dropConnections();
      if (headers[':path'] === '/reset-then-fine') return void stream.respond({ ':status': 200 }, { endStream: true });
      stream.respond({ ':status': 200, 'content-length': 100 });
      stream.write('{"half":', () => stream.close(constants.NGHTTP2_INTERNAL_ERROR));
    });
    const client = new Http2HttpClient(http1, () => route);
    try {
      await assert.rejects(client.sendRequest(get(`${server.origin}/reset`)), { name: 'RestError', code: 'ECONNRESET', message: /before an answer/ });
      await assert.rejects(client.sendRequest(get(`${server.origin}/half`)), { name: 'RestError', code: 'ECONNRESET', message: /before the whole answer/ });
      // The whole connection lost under a request the server may have processed: not sent again here either.
      await assert.rejects(client.sendRequest(get(`${server.origin}/connection-lost`)), { name: 'RestError', code: 'ECONNRESET' });
      assert.equal(server.streams, 3, 'a reset that may follow processing is not sent again here');
      assert.equal((await client.sendRequest(get(`${server.origin}/reset-then-fine`))).status, 200, 'the next request gets a new session');
    } finally {
      client.close();
      await server.close();
    }
  });

  it('leaves to the HTTP/1.1 client what it does not model: another agent, plain http, a streamed body', async () => {
    const client = new Http2HttpClient({ sendRequest: async (request) => ({ status: 299, headers: createHttpHeaders(), request }) }, () => route);
    const withAgent = get('https://127.0.0.1:1/x');
    withAgent.agent = new HttpsAgent();
    assert.equal((await client.sendRequest(withAgent)).status, 299);
    assert.equal((await client.sendRequest(get('http://127.0.0.1:1/x', { allowInsecureConnection: true }))).status, 299);
    const { Readable } = await import('node:stream');
    assert.equal((await client.sendRequest(createPipelineRequest({ url: 'https://127.0.0.1:1/x', method: 'PUT', body: () => Readable.from(['a']) }))).status, 299);
    assert.equal(client.sessionsOpened, 0);
  });
});

