// The emulator's kernel: routing rules ARM clients depend on (case-insensitive literals, `//` collapse,
// variable-depth scopes), fault rules, the token bucket, and the proxy's refusal of unknown hosts.
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import type { Socket } from 'node:net';
import { FaultBook } from './faults';
import { normalizePath, Router } from './http';
import { TokenBuckets } from './throttle';
import { control, startTestEmulator } from '../../helpers/emulator';

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
});
