// apply() runs a plan against the real rules of the services, here played by faithful in-memory fakes. This
// suite protects how it runs, not what it decides: dependencies are honoured and data flows from each action to
// the next (the credential trusts exactly the issuer and subject the new connection came back with); what does
// not depend on each other runs together; credential writes on one identity never overlap (ARM answers 409);
// no more environments run at once than `concurrency`; and one environment's failure stops that environment
// only.
import * as assert from 'node:assert/strict';
import { apply, type ApplyEvent } from '../../tasks/ManagedIdentityConnections/src/core/apply';
import { roleAssignmentName } from '../../tasks/ManagedIdentityConnections/src/core/names';
import { verificationPlan } from '../../tasks/ManagedIdentityConnections/src/core/plan';
import { TaskError } from '../../tasks/ManagedIdentityConnections/src/errors';
import type { Call } from '../fakes/call-log';
import { createFakeWorld } from '../fakes/fake-world';
import { connection, desired, environment } from './builders/plan-builders';
import { planAgainst } from './builders/run-builders';

function indexOf(calls: readonly Call[], method: string, subject?: string): number {
  const index = calls.findIndex((call) => call.method === method && (subject === undefined || call.subject === subject));
  assert.ok(index >= 0, `no ${method} call${subject ? ` for ${subject}` : ''}`);
  return index;
}

describe('apply', () => {
  it('runs each environment\'s chain in dependency order', async () => {
    const fake = createFakeWorld();
    const plan = await planAgainst(fake, desired([environment('dev')]));
    const start = fake.log.calls.length;
    await apply(plan, fake.ports, { concurrency: 4 });
    const calls = fake.log.calls.slice(start);
    const identity = indexOf(calls, 'createOrUpdateIdentity');
    assert.ok(identity < indexOf(calls, 'createConnection'));
    assert.ok(indexOf(calls, 'createConnection') < indexOf(calls, 'putFederatedCredential'));
    assert.ok(identity < indexOf(calls, 'createAssignment'));
    assert.ok(indexOf(calls, 'createConnection') < indexOf(calls, 'authorizePipelines'));
    for (const before of ['putFederatedCredential', 'createAssignment']) assert.ok(indexOf(calls, before) < indexOf(calls, 'testConnection'), `${before} after the test`);
  });

  it('passes each action\'s results on: ids of the new identity, issuer and subject of the new connection', async () => {
    const fake = createFakeWorld();
    const state = desired([environment('dev')]);
    const result = await apply(await planAgainst(fake, state), fake.ports, { concurrency: 4 });
    const ref = state.environments[0]!.identity.ref;
    const created = fake.devOps.byName('app-dev')!;
    const identity = fake.azure.identities.get(`${ref.subscriptionId}/${ref.resourceGroup}/${ref.name}`.toLowerCase())!.identity;
    assert.deepEqual(fake.azure.credentialsOf(ref), [{ name: 'azdo-app-dev', issuer: created.issuer, subject: created.subject, audiences: ['api://AzureADTokenExchange'] }]);
    assert.equal(created.clientId, identity.clientId);
    assert.equal(created.tenantId, identity.tenantId);
    const [assignment] = fake.azure.assignments;
    assert.equal(assignment!.principalId, identity.principalId);
    assert.equal(assignment!.name, roleAssignmentName(assignment!.scope, 'b24988ac-6180-42a0-ab88-20f7382dd24c', identity.principalId));
    assert.equal(result.environments[0]!.status, 'succeeded');
    assert.equal(result.environments[0]!.identity?.clientId, identity.clientId);
    assert.equal(result.environments[0]!.connections.get('app-dev')?.id, created.id);
  });

  it('starts what does not depend on each other together: the connection and the role assignment', async () => {
    const fake = createFakeWorld({ latencyTicks: 4 });
    const plan = await planAgainst(fake, desired([environment('dev')]));
    await apply(plan, fake.ports, { concurrency: 4 });
    assert.ok(
      fake.log.overlaps.some((active) => active.some((call) => call.method === 'createConnection') && active.some((call) => call.method === 'createAssignment')),
      'the connection and the role assignment never ran at the same time',
    );
  });

  it('writes the credentials of one identity one at a time', async () => {
    const fake = createFakeWorld({ latencyTicks: 4 });
    const names = ['a', 'b', 'c', 'd', 'e', 'f'];
    const state = desired([environment('dev', { connections: names.map((name) => connection(`app-${name}`)) })]);
    const result = await apply(await planAgainst(fake, state), fake.ports, { concurrency: 4 });
    assert.equal(result.environments[0]!.status, 'succeeded', JSON.stringify(result.environments[0]!.error));
    assert.equal(fake.azure.concurrentCredentialWrites, 0);
    assert.equal(fake.azure.credentialsOf(state.environments[0]!.identity.ref).length, names.length);
  });

  it('(the fake catches overlapping credential writes, so the test above can fail)', async () => {
    const fake = createFakeWorld();
    const ref = { subscriptionId: '11111111-1111-4111-8111-111111111111', resourceGroup: 'rg-identities', name: 'id-x' };
    fake.azure.seedIdentity(ref, { location: 'westeurope' });
    const write = (name: string) => fake.ports.identities.putFederatedCredential(ref, { name, issuer: 'https://issuer', subject: name, audiences: ['api://AzureADTokenExchange'] });
    const results = await Promise.allSettled([write('one'), write('two')]);
    assert.deepEqual(results.map((item) => item.status), ['fulfilled', 'rejected']);
    assert.equal(fake.azure.concurrentCredentialWrites, 1);
  });

  it('runs no more environments at once than the concurrency allows', async () => {
    const fake = createFakeWorld({ latencyTicks: 3 });
    const names = ['e1', 'e2', 'e3', 'e4', 'e5', 'e6'];
    const plan = await planAgainst(fake, desired(names.map((name) => environment(name))));
    const start = fake.log.overlaps.length;
    await apply(plan, fake.ports, { concurrency: 2 });
    const environmentOf = (call: Call) => names.find((name) => call.subject === `id-ado-${name}` || call.subject === `app-${name}`);
    const widths = fake.log.overlaps.slice(start).map((active) => new Set(active.map(environmentOf)).size);
    assert.equal(Math.max(...widths), 2);
  });

  it('stops an environment at its first failure and lets the others finish', async () => {
    const fake = createFakeWorld();
    const plan = await planAgainst(fake, desired([environment('dev'), environment('prod')]));
    fake.log.failOn('createConnection', () => new TaskError('MIC404', 'You need to be a Creator for service connections in this project.'), { when: (call) => call.subject === 'app-dev' });
    const events: ApplyEvent[] = [];
    const result = await apply(plan, fake.ports, { concurrency: 2, onEvent: (event) => events.push(event) });
    const [dev, prod] = result.environments;
    assert.equal(dev!.status, 'failed');
    assert.equal(dev!.error?.code, 'MIC404');
    const status = Object.fromEntries(dev!.actions.map((outcome) => [outcome.action.kind, outcome.status]));
    assert.equal(status['createConnection'], 'failed');
    assert.deepEqual([status['createFederatedCredential'], status['authorizePipelines'], status['testConnection']], ['skipped', 'skipped', 'skipped']);
    assert.equal(prod!.status, 'succeeded');
    assert.equal(fake.devOps.byName('app-prod')?.isReady, true);
    assert.ok(events.some((event) => event.type === 'skipped' && event.action.environment === 'dev'));
  });

  it('wraps an untranslated error from a port, keeping its message', async () => {
    const fake = createFakeWorld();
    const plan = await planAgainst(fake, desired([environment('dev')]));
    fake.log.failOn('createOrUpdateIdentity', () => new Error('socket hang up'));
    const [dev] = (await apply(plan, fake.ports, { concurrency: 1 })).environments;
    assert.deepEqual([dev!.error?.code, dev!.error?.message], ['MIC604', 'socket hang up']);
  });

  it('fails the test action with the most specific code from Azure DevOps\' message', async () => {
    const fake = createFakeWorld();
    const state = desired([environment('dev')]);
    await apply(await planAgainst(fake, state), fake.ports, { concurrency: 1 });
    const tests = verificationPlan(await planAgainst(fake, state));
    // Someone then points the credential elsewhere; the test must name the subject mismatch.
    const [credential] = fake.azure.credentialsOf(state.environments[0]!.identity.ref);
    fake.azure.credentialsOf(state.environments[0]!.identity.ref)[0] = { ...credential!, subject: `${credential!.subject}x` };
    const [dev] = (await apply(tests, fake.ports, { concurrency: 1 })).environments;
    assert.equal(dev!.error?.code, 'MIC505');
  });
});
