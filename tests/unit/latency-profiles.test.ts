// The named latency profiles (scripts/lib/latency-profiles.ts) mean what their names promise, as the emulator's
// fault book applies them: rules add up, so the mid profile must not slow a TestConnection twice.
import * as assert from 'node:assert/strict';
import { latencyProfileNames, latencyRules } from '../../scripts/lib/latency-profiles';
import { FaultBook } from '../emulator/kernel/faults';

function latencyOf(profile: Parameters<typeof latencyRules>[0], request: Parameters<FaultBook['decide']>[0]): number {
  const book = new FaultBook();
  book.set(latencyRules(profile));
  const decision = book.decide(request);
  assert.equal(decision.fail, undefined, 'a profile only adds latency');
  return decision.latencyMs;
}

describe('latency profiles', () => {
  it('are none, uniform and mid', () => {
    assert.deepEqual(latencyProfileNames, ['none', 'uniform', 'mid']);
  });

  it('mid: ARM PUT 1.5 s, Azure DevOps POST 0.6 s, token 0.2 s, TestConnection 0.8 s, reads as fast as ever', () => {
    assert.equal(latencyOf('mid', { method: 'PUT', path: '/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id', route: 'arm.identities.put', service: 'arm' }), 1500);
    assert.equal(latencyOf('mid', { method: 'POST', path: '/contoso/_apis/serviceendpoint/endpoints', route: 'devops.endpoints.create', service: 'devops' }), 600);
    assert.equal(latencyOf('mid', { method: 'POST', path: '/contoso/Platform/_apis/serviceendpoint/endpointproxy', route: 'devops.endpointproxy', service: 'devops' }), 800);
    assert.equal(latencyOf('mid', { method: 'POST', path: '/11111111-0000-4000-8000-000000000000/oauth2/v2.0/token', route: 'entra.token', service: 'entra' }), 200);
    assert.equal(latencyOf('mid', { method: 'GET', path: '/subscriptions/s', route: 'arm.subscriptions.get', service: 'arm' }), 0);
  });

  it('uniform slows every request alike; none slows nothing', () => {
    const request = { method: 'GET', path: '/subscriptions/s', route: 'arm.subscriptions.get', service: 'arm' as const };
    assert.equal(latencyOf('uniform', request), 50);
    assert.equal(latencyOf('uniform', { ...request, method: 'POST', service: 'devops' }), 50);
    assert.equal(latencyOf('none', request), 0);
  });

  it('hands out copies, so that a caller changing its rules changes no profile', () => {
    latencyRules('mid')[0]!.latencyMs = 1;
    assert.equal(latencyRules('mid')[0]!.latencyMs, 1500);
  });
});
