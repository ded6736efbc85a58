// observe() is the only reader of the world and the plan trusts it to be complete and cheap. This suite
// protects: reads only, never a write; Azure DevOps looked up once per run for all environments (the API takes
// lists of names); each role definition and subscription resolved once however many environments name it;
// credentials and role assignments read only for identities that exist; pipeline permissions read only where
// the plan may need them; identities found with one list of their resource group when the spec wants enough of
// them there (read one by one otherwise, or when the list is refused); and absence recorded as absence.
import * as assert from 'node:assert/strict';
import { roleKey } from '../../tasks/ManagedIdentityConnections/src/core/model';
import { identityKey } from '../../tasks/ManagedIdentityConnections/src/core/names';
import { LIST_IDENTITIES_FROM, observe } from '../../tasks/ManagedIdentityConnections/src/core/observe';
import { TaskError } from '../../tasks/ManagedIdentityConnections/src/errors';
import { createFakeWorld } from '../fakes/fake-world';
import { connection, desired, devSubscription, environment, role } from './builders/plan-builders';

describe('observe', () => {
  const names = ['e1', 'e2', 'e3'];
  const state = desired(
    names.map((name) =>
      environment(name, {
        connections: [connection(`app-${name}`, { shareWith: ['Apps'] }), connection(`api-${name}`, { authorize: { kind: 'none' } })],
        roles: [role('Contributor', `/subscriptions/${devSubscription}/resourceGroups/rg-${name}`), role('Reader', `/subscriptions/${devSubscription}`)],
      }),
    ),
  );

  it('reads only, batching Azure DevOps lookups and resolving each role and subscription once', async () => {
    const fake = createFakeWorld();
    fake.azure.seedIdentity(state.environments[0]!.identity.ref, { location: 'westeurope' });
    fake.devOps.seedConnection({ name: 'app-e1', clientId: 'x' });
    await observe(state, fake.ports, { concurrency: 4 });
    const count = (method: string) => fake.log.methods().filter((item) => item === method).length;
    assert.deepEqual(fake.log.writes(), []);
    // Once in this project; once in Apps for the names still to be shared there (what sharing could collide with).
    assert.equal(count('findConnections'), 2);
    const inApps = fake.log.calls.filter((call) => call.method === 'findConnections')[1]!;
    assert.deepEqual(inApps.args, [['app-e1', 'app-e2', 'app-e3'], { id: 'b0b0b0b0-0000-4000-8000-000000000002', name: 'Apps' }]);
    assert.equal(count('findProjects'), 1);
    assert.equal(count('findRoleDefinition'), 2);
    assert.equal(count('getSubscription'), 1);
    assert.equal(count('listIdentities'), 1, 'three identities in one resource group: one list');
    assert.equal(count('getIdentity'), 0);
    assert.equal(count('listFederatedCredentials'), 1, 'only the identity that exists has credentials to read');
    assert.equal(count('listAssignmentsForPrincipal'), 1);
    assert.equal(count('getPipelinePermissions'), 1, 'only for existing connections the spec authorizes');
    assert.deepEqual(fake.log.calls.find((call) => call.method === 'findConnections')!.args[0], names.flatMap((name) => [`app-${name}`, `api-${name}`]));
  });

  it('looks up the pipelines authorize lists: in this project, then those it lacks in the connection\'s shareWith projects', async () => {
    const fake = createFakeWorld();
    const listed = desired([environment('e1', { connections: [connection('app-e1', { shareWith: ['Apps'], authorize: { kind: 'pipelines', pipelineIds: [7, 12, 99] } })] })]);
    const observed = await observe(listed, fake.ports, { concurrency: 4 });
    const lookups = fake.log.calls.filter((call) => call.method === 'findPipelines').map((call) => call.args);
    assert.deepEqual(lookups, [[[7, 12, 99]], [[12, 99], { id: 'b0b0b0b0-0000-4000-8000-000000000002', name: 'Apps' }]]);
    assert.deepEqual(
      [...observed.pipelines].map(([project, ids]) => [project, [...ids]]),
      [
        ['a0a0a0a0-0000-4000-8000-000000000001', [7]],
        ['b0b0b0b0-0000-4000-8000-000000000002', [12]],
      ],
    );
  });

  it('reads the permissions of every existing connection when a verification run will need them all', async () => {
    const fake = createFakeWorld();
    fake.devOps.seedConnection({ name: 'app-e1' });
    fake.devOps.seedConnection({ name: 'api-e1' });
    await observe({ ...state, settings: { ...state.settings, verificationRunPipelineId: 42 } }, fake.ports, { concurrency: 4 });
    const read = fake.log.calls.filter((call) => call.method === 'getPipelinePermissions').map((call) => call.subject).sort();
    assert.deepEqual(read, ['api-e1', 'app-e1'], 'authorize: none included');
  });

  it('records what exists and leaves out what does not', async () => {
    const fake = createFakeWorld();
    fake.azure.seedIdentity(state.environments[0]!.identity.ref, { location: 'westeurope' });
    const seeded = fake.devOps.seedConnection({ name: 'APP-E1' });
    const world = await observe(state, fake.ports, { concurrency: 4 });
    assert.deepEqual([...world.identities.keys()], [identityKey(state.environments[0]!.identity.ref)]);
    assert.deepEqual([...world.connections.keys()], ['app-e1']);
    assert.equal(world.connections.get('app-e1')!.id, seeded.id);
    assert.ok(world.roleDefinitions.has(roleKey(devSubscription, 'contributor')));
    assert.deepEqual([...world.projects.keys()], ['apps']);
  });

  it(`reads identities one by one when fewer than ${LIST_IDENTITIES_FROM} share a resource group`, async () => {
    const fake = createFakeWorld();
    const two = desired([environment('e1'), environment('e2'), environment('e3', { identityName: 'id-elsewhere' })].map((item, index) =>
      index === 2 ? { ...item, identity: { ...item.identity, ref: { ...item.identity.ref, resourceGroup: 'rg-other' } } } : item,
    ));
    fake.azure.seedIdentity(two.environments[0]!.identity.ref, { location: 'westeurope' });
    const world = await observe(two, fake.ports, { concurrency: 4 });
    const count = (method: string) => fake.log.methods().filter((item) => item === method).length;
    assert.deepEqual([count('getIdentity'), count('listIdentities')], [3, 0]);
    assert.deepEqual([...world.identities.keys()], [identityKey(two.environments[0]!.identity.ref)]);
  });

  it('finds listed identities whatever the case of their names, with their credentials and assignments', async () => {
    const fake = createFakeWorld();
    const ref = state.environments[1]!.identity.ref;
    fake.azure.seedIdentity({ ...ref, name: ref.name.toUpperCase() }, { location: 'westeurope' });
    const world = await observe(state, fake.ports, { concurrency: 4 });
    assert.deepEqual([...world.identities.keys()], [identityKey(ref)]);
    assert.equal(fake.log.methods().filter((item) => item === 'listFederatedCredentials').length, 1);
  });

  it('reads identities one by one when their resource group cannot be listed', async () => {
    const fake = createFakeWorld();
    fake.azure.seedIdentity(state.environments[2]!.identity.ref, { location: 'westeurope' });
    fake.log.failOn('listIdentities', () => new TaskError('MIC604', 'AuthorizationFailed: no read on the resource group.'));
    const world = await observe(state, fake.ports, { concurrency: 4 });
    assert.equal(fake.log.methods().filter((item) => item === 'getIdentity').length, 3);
    assert.deepEqual([...world.identities.keys()], [identityKey(state.environments[2]!.identity.ref)]);
  });
});
