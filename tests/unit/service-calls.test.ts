// ServiceCalls is the one retry and translation policy of every adapter. This suite protects one rule the
// adapters depend on: an error that is already a TaskError — an adapter's own check inside an operation
// (MIC407 for a connection without issuer), or a credential that explains its failure (the CLI's MIC603) —
// reaches the core as it is, once, instead of being retried or rewrapped as an unexpected answer (MIC604).
import * as assert from 'node:assert/strict';
import { ServiceCalls } from '../../tasks/ManagedIdentityConnections/src/adapters/service-calls';
import { TaskError } from '../../tasks/ManagedIdentityConnections/src/errors';
import { FakePlatform } from '../fakes/fake-platform';

describe('ServiceCalls', () => {
  it('passes a TaskError thrown by the operation through unchanged, without retrying', async () => {
    const calls = new ServiceCalls({ platform: new FakePlatform(), deadlineMs: 10_000, initialDelayMs: 1, maxDelayMs: 1 });
    const original = new TaskError('MIC407', 'Service connection app-dev has no workload identity federation issuer or subject.');
    let attempts = 0;
    await assert.rejects(
      calls.run({
        what: 'create service connection app-dev',
        operation: () => {
          attempts += 1;
          return Promise.reject(original);
        },
      }),
      (error) => error === original,
    );
    assert.equal(attempts, 1);
  });

  it('still translates what a service threw', async () => {
    const calls = new ServiceCalls({ platform: new FakePlatform(), deadlineMs: 10_000, initialDelayMs: 1, maxDelayMs: 1 });
    const refused = Object.assign(new Error('Forbidden'), { name: 'RestError', statusCode: 403, code: 'AuthorizationFailed' });
    await assert.rejects(
      calls.run({ what: 'create identity id-dev', operation: () => Promise.reject(refused) }),
      (error: TaskError) => error.code === 'MIC304' && /create identity id-dev failed: HTTP 403 AuthorizationFailed/.test(error.message),
    );
  });
});
