// Destructive actions against the in-memory fakes (observe → plan → apply): the fakes' real rules still hold
// while deleting — credential deletes on one identity never overlap (ARM answers 409 to concurrent writes
// and deletes alike) — and what apply reports afterwards no longer names what it deleted.
import * as assert from 'node:assert/strict';
import { apply } from '../../tasks/ManagedIdentityConnections/src/core/apply';
import type { LifecycleSettings } from '../../tasks/ManagedIdentityConnections/src/core/model';
import { createFakeWorld } from '../fakes/fake-world';
import { connection, desired, environment } from './builders/plan-builders';
import { planAgainst } from './builders/run-builders';

function lifecycle(overrides: Partial<LifecycleSettings> = {}): LifecycleSettings {
  return { prune: true, teardown: false, maxDeletions: 50, keepUsedWithinDays: 30, deleteUsedConnections: false, now: new Date().toISOString(), specEnvironments: ['dev'], onlySelected: false, ...overrides };
}

describe('apply: destructive actions against the fakes', () => {
  it('deletes surplus credentials of one identity one at a time, and the connection before its credential', async () => {
    const fake = createFakeWorld({ latencyTicks: 4 });
    const wide = desired([environment('dev', { connections: [connection('app-dev'), connection('app-dev2')] })], { lifecycle: lifecycle() });
    const created = await apply(await planAgainst(fake, wide), fake.ports, { concurrency: 4 });
    assert.equal(created.environments[0]!.status, 'succeeded');
    const ref = wide.environments[0]!.identity.ref;
    // Two more credentials of ours that trust nothing the spec names.
    for (const name of ['azdo-old-1', 'azdo-old-2']) {
      await fake.ports.identities.putFederatedCredential(ref, { name, issuer: 'https://issuer.example', subject: name, audiences: ['api://AzureADTokenExchange'] });
    }

    const narrow = desired([environment('dev', { connections: [connection('app-dev')] })], { lifecycle: lifecycle() });
    const start = fake.log.calls.length;
    const result = await apply(await planAgainst(fake, narrow), fake.ports, { concurrency: 4 });
    assert.equal(result.environments[0]!.status, 'succeeded', JSON.stringify(result.environments[0]!.error));
    assert.equal(fake.azure.concurrentCredentialWrites, 0);
    assert.deepEqual(fake.azure.credentialsOf(ref).map((credential) => credential.name), ['azdo-app-dev']);
    assert.equal(fake.devOps.byName('app-dev2'), undefined);
    const calls = fake.log.calls.slice(start);
    const connectionDeleted = calls.findIndex((call) => call.method === 'deleteConnection' && call.subject === 'app-dev2');
    const itsCredentialDeleted = calls.findIndex((call) => call.method === 'deleteFederatedCredential' && call.args[1] === 'azdo-app-dev2');
    assert.ok(connectionDeleted >= 0 && connectionDeleted < itsCredentialDeleted, `${connectionDeleted} < ${itsCredentialDeleted}`);
  });

  it('a teardown leaves no identity or connection in its outcome, and a second teardown plans nothing', async () => {
    const fake = createFakeWorld();
    const spec = desired([environment('dev')], { lifecycle: lifecycle() });
    await apply(await planAgainst(fake, spec), fake.ports, { concurrency: 4 });
    const teardown = desired([...spec.environments], { lifecycle: lifecycle({ teardown: true }) });
    const result = await apply(await planAgainst(fake, teardown), fake.ports, { concurrency: 4 });
    const outcome = result.environments[0]!;
    assert.equal(outcome.status, 'succeeded');
    assert.equal(outcome.identity, undefined);
    assert.equal(outcome.connections.size, 0);
    assert.equal(fake.azure.identities.size, 0);
    assert.equal(fake.azure.assignments.length, 0);
    const again = await planAgainst(fake, teardown);
    assert.deepEqual(again.environments[0]!.actions, []);
  });
});
