// The emulator's kernel: routing rules ARM clients depend on (case-insensitive literals, `//` collapse,
// variable-depth scopes), fault rules, the token bucket, and the proxy's refusal of unknown hosts.
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { connect as connectHttp2, constants as http2Constants, type ClientHttp2Session } from 'node:http2';
import { request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { FaultBook } from './faults';
import { normalizePath, Router } from './http';
import { TokenBuckets } from './throttle';
import { control, startTestEmulator, testCertificateAuthority } from '../../helpers/emulator';
import type { RunningEmulator } from '../emulator';

interface H2Answer {
  status?: number;
  headers: Record<string, unknown>;
  body: string;
  /** The stream's RST_STREAM code when it was reset (0: closed normally). */
  resetCode: number;
}

/** One request on an HTTP/2 session; resolves also when the stream is reset, with what had arrived. */
function h2Request(session: ClientHttp2Session, method: string, path: string, body?: string): Promise<H2Answer> {
  return new Promise((resolve) => {
    const stream = session.request({ ':method': method, ':path': path, ...(body ? { 'content-type': 'application/json' } : {}) }, { endStream: body === undefined });
    const answer: H2Answer = { headers: {}, body: '', resetCode: 0 };
    stream.on('response', (headers) => {
      answer.status = Number(headers[':status']);
      answer.headers = headers;
    });
    stream.on('data', (chunk: Buffer) => (answer.body += chunk.toString('utf8')));
    stream.on('error', () => undefined);
    stream.on('close', () => resolve({ ...answer, resetCode: stream.rstCode }));
    if (body !== undefined) stream.end(body);
  });
}

function h2Session(emulator: RunningEmulator): ClientHttp2Session {
  return connectHttp2(emulator.ctx.urls.origin, { ca: testCertificateAuthority().certPem });
}

describe('emulator kernel', () => {
  describe('router', () => {
    const router = new Router();
    const ok = () => ({ status: 200 });
    router.add('GET', '/subscriptions/:sub/resourceGroups/:rg', { service: 'arm', name: 'rg' }, ok);
    router.add('PUT', '*scope/providers/Microsoft.Authorization/roleAssignments/:name', { service: 'arm', name: 'ra' }, ok);
    const all = () => true;

    it('matches literal segments case-insensitively', () => {
      const match = router.match('GET', '/SUBSCRIPTIONS/s1/resourcegroups/rg-1', all);
      assert.deepEqual(match?.params, { sub: 's1', rg: 'rg-1' });
    });

    it('collapses repeated slashes, as arm-authorization sends `//subscriptions`', () => {
      assert.equal(normalizePath('//subscriptions/s1//resourceGroups/rg/'), '/subscriptions/s1/resourceGroups/rg');
    });

    it('captures a scope of any depth', () => {
      const match = router.match('PUT', '/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Authorization/roleAssignments/abc', all);
      assert.deepEqual(match?.params, { scope: '/subscriptions/s1/resourceGroups/rg', name: 'abc' });
    });

    it('respects the host filter', () => {
      assert.equal(router.match('GET', '/subscriptions/s1/resourceGroups/rg', (service) => service === 'entra'), undefined);
    });
  });

  describe('faults', () => {
    it('adds latency from every matching rule and fails from the first failing one, `times` bounded', () => {
      const faults = new FaultBook();
      faults.set([{ latencyMs: 5 }, { route: 'arm.fic', status: 409, times: 1 }, { route: 'arm', status: 500 }]);
      const first = faults.decide({ method: 'PUT', path: '/x', route: 'arm.fic.put', service: 'arm' });
      assert.equal(first.latencyMs, 5);
      assert.equal(first.fail?.status, 409);
      const second = faults.decide({ method: 'PUT', path: '/x', route: 'arm.fic.put', service: 'arm' });
      assert.equal(second.fail?.status, 500);
    });

    it('rejects a rule with an impossible status', () => {
      assert.throws(() => new FaultBook().set([{ status: 200 }]), /400 to 599/);
    });
  });

  describe('token buckets', () => {
    it('answers 429 when empty, with the seconds until a token is back', () => {
      const buckets = new TokenBuckets();
      const settings = { capacity: 2, refillPerSecond: 0.5 };
      assert.equal(buckets.take('k', settings, 0).allowed, true);
      assert.equal(buckets.take('k', settings, 0).remaining, 0);
      const refused = buckets.take('k', settings, 0);
      assert.equal(refused.allowed, false);
      assert.equal(refused.retryAfterSeconds, 2);
      assert.equal(buckets.take('k', settings, 2000).allowed, true);
    });
  });

  describe('servers', () => {
    it('serves HTTPS with the test CA, tunnels Azure hosts through the proxy and refuses others', async () => {
      const emulator = await startTestEmulator();
      try {
        const discovery = await fetch(`${emulator.info.testIssuer}/.well-known/openid-configuration`);
        assert.equal(discovery.status, 200);
        const proxy = new URL(emulator.info.proxy);
        const connect = (host: string) =>
          new Promise<number>((resolve, reject) => {
            const req = httpRequest({ host: proxy.hostname, port: proxy.port, method: 'CONNECT', path: `${host}:443` });
            req.on('connect', (res, socket: Socket) => {
              socket.destroy();
              resolve(res.statusCode ?? 0);
            });
            req.on('error', reject);
            req.end();
          });
        assert.equal(await connect('management.azure.com'), 200);
        assert.equal(await connect('example.com'), 403);
        const state = await control<{ requests: { reads: number } }>(emulator, 'GET', 'state');
        assert.equal(state.requests.reads, 1);
      } finally {
        await emulator.close();
      }
    });
  });

  describe('HTTP/2', function () {
    this.timeout(20_000);

    it('multiplexes requests on one connection, counted once, and keeps answering HTTP/1.1 clients on the same port', async () => {
      const emulator = await startTestEmulator();
      const session = h2Session(emulator);
      try {
        const answers = await Promise.all(Array.from({ length: 20 }, () => h2Request(session, 'GET', '/nowhere')));
        assert.deepEqual(new Set(answers.map((answer) => answer.status)), new Set([404]));
        const http1 = await new Promise<string>((resolve, reject) => {
          const request = httpsRequest(`${emulator.ctx.urls.origin}/nowhere`, { ca: testCertificateAuthority().certPem }, (response) => {
            response.resume();
            resolve(`${response.httpVersion} ${response.statusCode}`);
          });
          request.on('error', reject);
          request.end();
        });
        assert.equal(http1, '1.1 404');
        const state = await control<{ requests: { reads: number; tlsConnections: number; http2Connections: number } }>(emulator, 'GET', 'state');
        assert.deepEqual([state.requests.reads, state.requests.tlsConnections, state.requests.http2Connections], [21, 2, 1]);
      } finally {
        session.close();
        await emulator.close();
      }
    });

    it('applies every fault rule to a stream: latency, a status with Retry-After, a drop and a reset mid-body as RST_STREAM', async () => {
      const emulator = await startTestEmulator();
      const session = h2Session(emulator);
      try {
        emulator.ctx.faults.set([
          { path: '^/slow$', latencyMs: 300 },
          { path: '^/throttled$', status: 429, retryAfterSeconds: 7 },
          { path: '^/dropped$', drop: true },
          { path: '^/cut$', dropAfterCommit: true },
        ]);
        const started = Date.now();
        const [slow, throttled, dropped, cut, after] = await Promise.all(['/slow', '/throttled', '/dropped', '/cut', '/after'].map((path) => h2Request(session, 'GET', path)));
        assert.ok(Date.now() - started >= 290, 'the latency was added');
        assert.equal(slow!.status, 404);
        assert.equal(throttled!.status, 429);
        assert.equal(throttled!.headers['retry-after'], '7');
        // A drop resets only that stream, with INTERNAL_ERROR (not REFUSED_STREAM: it may have been processed).
        assert.equal(dropped!.status, undefined);
        assert.equal(dropped!.resetCode, http2Constants.NGHTTP2_INTERNAL_ERROR);
        // A reset after commit: the status and part of the body arrived, then RST_STREAM.
        assert.equal(cut!.status, 404);
        assert.ok(cut!.body.length > 0 && !cut!.body.endsWith('}'), `half a body, got ${cut!.body}`);
        assert.equal(cut!.resetCode, http2Constants.NGHTTP2_INTERNAL_ERROR);
        // The other streams of the connection, and the connection itself, were untouched.
        assert.equal(after!.status, 404);
        assert.equal((await h2Request(session, 'GET', '/again')).status, 404);
        assert.equal(emulator.ctx.requests.http2Connections, 1);
      } finally {
        session.close();
        await emulator.close();
      }
    });

    it('offers h2 through the CONNECT proxy too, and only http/1.1 when started with http2: false', async () => {
      const negotiated = async (emulator: RunningEmulator, viaProxy: boolean): Promise<string | false> => {
        let tunnel: Socket | undefined;
        if (viaProxy) {
          const proxy = new URL(emulator.info.proxy);
          tunnel = await new Promise<Socket>((resolve, reject) => {
            const req = httpRequest({ host: proxy.hostname, port: proxy.port, method: 'CONNECT', path: 'management.azure.com:443' });
            req.on('connect', (_res, socket: Socket) => resolve(socket));
            req.on('error', reject);
            req.end();
          });
        }
        const origin = new URL(emulator.ctx.urls.origin);
        return new Promise((resolve, reject) => {
          const socket = connectTls({
            ...(tunnel ? { socket: tunnel, servername: 'management.azure.com' } : { host: origin.hostname, port: Number(origin.port) }),
            ALPNProtocols: ['h2', 'http/1.1'],
            ca: testCertificateAuthority().certPem,
          });
          socket.once('secureConnect', () => {
            resolve(socket.alpnProtocol ?? false);
            socket.end();
          });
          socket.once('error', reject);
        });
      };
      const both = await startTestEmulator();
      const http1Only = await startTestEmulator({ http2: false });
      try {
        assert.equal(await negotiated(both, false), 'h2');
        assert.equal(await negotiated(both, true), 'h2');
        assert.equal(await negotiated(http1Only, false), 'http/1.1');
        assert.equal(await negotiated(http1Only, true), 'http/1.1');
        // The server counts a connection when the client's Finished arrives, a moment after the client is done.
        for (let waited = 0; http1Only.ctx.requests.tlsConnections < 2 && waited < 2_000; waited += 20) await new Promise((resolve) => setTimeout(resolve, 20));
        assert.deepEqual([http1Only.ctx.requests.tlsConnections, http1Only.ctx.requests.http2Connections], [2, 0]);
      } finally {
        await both.close();
        await http1Only.close();
      }
    });
  });
});
