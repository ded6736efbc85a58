// The convert command: the pure plan from literals (which connections, which actions with which reasons, what a
// rerun after a crash at each step plans), and run() against the fake world (the connection really signs in as
// its new identity afterwards, a failed verification rolls it back, a refusal writes nothing).
import * as assert from 'node:assert/strict';
import { planConversion, conversionIdentityName, type ConvertObserved, type ConvertRequest, type CandidateObservation } from '../../tasks/ManagedIdentityConnections/src/core/convert-plan';
import { formatTaskError } from '../../tasks/ManagedIdentityConnections/src/core/format-run';
import { identityKey } from '../../tasks/ManagedIdentityConnections/src/core/names';
import { conversionTags } from '../../tasks/ManagedIdentityConnections/src/core/ownership';
import { run } from '../../tasks/ManagedIdentityConnections/src/core/run';
import { TaskError } from '../../tasks/ManagedIdentityConnections/src/errors';
import { parseCliConfig } from '../../tasks/ManagedIdentityConnections/src/config';
import type { Identity, RoleAssignment } from '../../tasks/ManagedIdentityConnections/src/ports/azure';
import type { ServiceConnection } from '../../tasks/ManagedIdentityConnections/src/ports/devops';
import { createFakeWorld, world, type FakeWorld } from '../fakes/fake-world';
import { specFor, taskConfig } from './builders/run-builders';

const sub = world.devSubscription.subscriptionId;
const appId = 'aaaa0000-0000-4000-8000-00000000a001';
const spObjectId = 'bbbb0000-0000-4000-8000-00000000b001';
const contributor = 'b24988ac-6180-42a0-ab88-20f7382dd24c';
const owner = '8e3af657-a8ff-443c-a75c-2fe8c4bcb635';
const target = { subscriptionId: sub, resourceGroup: world.identityResourceGroup, location: 'westeurope' };

function secretConnection(overrides: Partial<ServiceConnection> = {}): ServiceConnection {
  return {
    id: 'c0000000-0000-4000-8000-000000000001',
    name: 'legacy-app',
    type: 'azurerm',
    url: 'https://management.azure.com/',
    description: '',
    authorizationScheme: 'ServicePrincipal',
    tenantId: world.tenantId,
    clientId: appId,
    subscriptionId: sub,
    isReady: true,
    isDisabled: false,
    projectReferences: [world.project],
    ...overrides,
  };
}

function assignment(role: string, scope: string, principalId: string): RoleAssignment {
  return { id: `${scope}/providers/Microsoft.Authorization/roleAssignments/${role}`, name: role, scope, roleDefinitionId: `/subscriptions/${sub}/providers/Microsoft.Authorization/roleDefinitions/${role}`, principalId };
}

const request = (overrides: Partial<ConvertRequest> = {}): ConvertRequest => ({ project: world.project, select: { names: ['legacy-app'] }, target, specIdentities: new Map(), allowPrivilegedRoles: false, ...overrides });

function observed(connection: ServiceConnection, candidate: Partial<CandidateObservation> = {}, identity?: Identity): ConvertObserved {
  const key = identityKey({ subscriptionId: sub, resourceGroup: world.identityResourceGroup, name: conversionIdentityName(connection) });
  return {
    connections: [connection],
    identities: new Map(identity ? [[key, identity]] : []),
    candidates: new Map([
      [
        connection.id,
        {
          credentials: [],
          appId,
          servicePrincipal: { objectId: spObjectId, appId, displayName: 'legacy-app-sp' },
          sourceAssignments: [assignment(contributor, `/subscriptions/${sub}/resourceGroups/rg-app`, spObjectId)],
          targetAssignments: [],
          roleDefinitions: new Map([[contributor, { guid: contributor, id: contributor, roleName: 'Contributor', roleType: 'BuiltInRole', permissions: [{ actions: ['*'], notActions: ['Microsoft.Authorization/*/Write', 'Microsoft.Authorization/*/Delete', 'Microsoft.Authorization/elevateAccess/Action'], dataActions: [], notDataActions: [] }] }]]),
          ...candidate,
        },
      ],
    ]),
  };
}

const convertedIdentity = (connection: ServiceConnection): Identity => ({
  id: `/subscriptions/${sub}/resourcegroups/${world.identityResourceGroup}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${conversionIdentityName(connection)}`,
  name: conversionIdentityName(connection),
  clientId: 'dddd0000-0000-4000-8000-00000000d001',
  principalId: 'eeee0000-0000-4000-8000-00000000e001',
  tenantId: world.tenantId,
  location: 'westeurope',
  tags: conversionTags(world.project, connection.id, appId),
});

describe('convert plan', () => {
  it('plans identity, role parity, switch, credential and a verification that rolls back, each with its reason', () => {
    const plan = planConversion(request(), observed(secretConnection()));
    const [conversion] = plan.conversions;
    assert.equal(conversion!.state, 'convert', conversion!.refusal?.message);
    assert.deepEqual(conversion!.actions.map((action) => action.kind), ['createIdentity', 'assignRole', 'switchConnection', 'writeCredential', 'verify']);
    const role = conversion!.actions[1]!;
    assert.match(role.reason, /role parity: service principal aaaa0000.* has Contributor on \/subscriptions\/.*\/resourceGroups\/rg-app/);
    assert.deepEqual(conversion!.actions[4], { connection: 'legacy-app', kind: 'verify', connectionId: secretConnection().id, rollbackOnFailure: true, reason: 'TestConnection as the managed identity; on failure the connection goes back to its secret' });
    assert.equal(conversion!.appId, appId);
    assert.ok(plan.changesPresent && plan.permissionsBroadened);
  });

  it('after a crash between the switch and the credential, plans only the credential and the verification', () => {
    const connection = secretConnection();
    const identity = convertedIdentity(connection);
    const switched = { ...connection, authorizationScheme: 'WorkloadIdentityFederation', clientId: identity.clientId, issuer: 'https://login.microsoftonline.com/t/v2.0', subject: '/eid1/c/pub/x' };
    const plan = planConversion(request(), observed(switched, { targetAssignments: [assignment(contributor, `/subscriptions/${sub}/resourceGroups/rg-app`, identity.principalId)] }, identity));
    assert.equal(plan.conversions[0]!.state, 'resume');
    assert.deepEqual(plan.conversions[0]!.actions.map((action) => action.kind), ['writeCredential', 'verify']);
  });

  it('finishes a switched connection on a spec identity without the old app id: no parity step, no refusal', () => {
    const connection = secretConnection();
    const identity = { ...convertedIdentity(connection), tags: {} };
    const switched = { ...connection, authorizationScheme: 'WorkloadIdentityFederation', clientId: identity.clientId, issuer: 'https://i', subject: 's' };
    const spec = new Map([['legacy-app', { environment: 'dev', ref: { subscriptionId: sub, resourceGroup: world.identityResourceGroup, name: conversionIdentityName(connection) }, location: 'westeurope' }]]);
    const plan = planConversion(request({ specIdentities: spec }), observed(switched, { appId: undefined, servicePrincipal: undefined, sourceAssignments: [] }, identity));
    assert.equal(plan.conversions[0]!.state, 'resume', plan.conversions[0]!.refusal?.message);
    assert.deepEqual(plan.conversions[0]!.actions.map((action) => action.kind), ['writeCredential', 'verify']);
  });

  it('a finished conversion only verifies, without roll-back, and changes nothing', () => {
    const connection = secretConnection();
    const identity = convertedIdentity(connection);
    const switched = { ...connection, authorizationScheme: 'WorkloadIdentityFederation', clientId: identity.clientId, issuer: 'https://i', subject: 's' };
    const plan = planConversion(
      request(),
      observed(switched, { targetAssignments: [assignment(contributor, `/subscriptions/${sub}/resourceGroups/rg-app`, identity.principalId)], credentials: [{ name: 'azdo-legacy-app', issuer: 'https://i', subject: 's', audiences: ['api://AzureADTokenExchange'] }] }, identity),
    );
    assert.equal(plan.conversions[0]!.state, 'converted');
    assert.deepEqual(plan.conversions[0]!.actions.map((action) => [action.kind, action.kind === 'verify' && action.rollbackOnFailure]), [['verify', false]]);
    assert.equal(plan.changesPresent, false);
  });

  it('refuses a workload identity connection, a shared one, one not found and an identity it did not create, with MIC441', () => {
    const wif = planConversion(request(), observed(secretConnection({ authorizationScheme: 'WorkloadIdentityFederation', clientId: 'ffff0000-0000-4000-8000-000000000001' })));
    assert.deepEqual([wif.conversions[0]!.state, wif.conversions[0]!.refusal?.code, wif.conversions[0]!.actions.length], ['refused', 'MIC441', 0]);
    const shared = planConversion(request(), observed(secretConnection({ projectReferences: [world.project, world.otherProject] })));
    assert.match(shared.conversions[0]!.refusal!.message, /shared with 1 other project/);
    const missing = planConversion(request({ select: { names: ['nope'] } }), observed(secretConnection()));
    assert.deepEqual(missing.missing.map((item) => [item.code, item.field]), [['MIC441', 'convertConnections']]);
    const foreign = { ...convertedIdentity(secretConnection()), tags: {} };
    const taken = planConversion(request(), observed(secretConnection(), {}, foreign));
    assert.match(taken.conversions[0]!.refusal!.message, /not created by convert for this connection/);
  });

  it('with *, selects only service-principal secret connections of the project', () => {
    const other = { ...secretConnection({ id: 'c0000000-0000-4000-8000-000000000002', name: 'modern', authorizationScheme: 'WorkloadIdentityFederation' }) };
    const base = observed(secretConnection());
    const plan = planConversion(request({ select: { all: true } }), { ...base, connections: [...base.connections, other] });
    assert.deepEqual(plan.conversions.map((conversion) => conversion.connection.name), ['legacy-app']);
  });

  it('refuses a privileged role of the service principal (MIC320) unless allowPrivilegedRoles, and a Graph denial (MIC442)', () => {
    const privileged = observed(secretConnection(), { sourceAssignments: [assignment(owner, `/subscriptions/${sub}`, spObjectId)], roleDefinitions: new Map() });
    assert.equal(planConversion(request(), privileged).conversions[0]!.refusal?.code, 'MIC320');
    assert.equal(planConversion(request({ allowPrivilegedRoles: true }), privileged).conversions[0]!.state, 'convert');
    const denied = observed(secretConnection(), { servicePrincipal: undefined, servicePrincipalProblem: { code: 'MIC442', message: 'denied', remediation: '' } });
    assert.equal(planConversion(request(), denied).conversions[0]!.refusal?.code, 'MIC442');
  });
});

describe('convert (run against the fake world)', () => {
  const inputs = { command: 'convert', convertConnections: 'legacy-app', convertIdentityResourceGroup: `/subscriptions/${sub}/resourceGroups/${world.identityResourceGroup}`, convertIdentityLocation: 'westeurope' };

  function seeded(): FakeWorld {
    const fake = createFakeWorld();
    fake.devOps.seedConnection({ name: 'legacy-app', authorizationScheme: 'ServicePrincipal', clientId: appId, tenantId: world.tenantId, subscriptionId: sub, issuer: undefined, subject: undefined, issuerType: undefined } as ServiceConnection);
    fake.directory.addServicePrincipal({ objectId: spObjectId, appId, displayName: 'legacy-app-sp' });
    fake.devOps.validSecretApps.set(appId, spObjectId);
    fake.azure.assignments.push({ ...assignment(contributor, `/subscriptions/${sub}/resourceGroups/rg-app`, spObjectId), principalType: 'ServicePrincipal' });
    return fake;
  }

  it('converts: the connection signs in as a new owned identity holding the same role; the app registration is only reported', async () => {
    const fake = seeded();
    const result = await run(taskConfig(inputs), fake.ports);
    assert.equal(result.status, 'succeeded', result.errors.map(formatTaskError).join('\n'));
    const connection = fake.devOps.byName('legacy-app')!;
    assert.equal(connection.authorizationScheme, 'WorkloadIdentityFederation');
    const identity = fake.azure.identityByClientId(connection.clientId!)!;
    assert.equal(identity.identity.tags['managed-by-connection'], connection.id);
    assert.ok(fake.azure.assignments.some((item) => item.principalId === identity.identity.principalId && item.scope.endsWith('/rg-app')));
    assert.match(fake.platform.summaries.join('\n'), new RegExp(`${appId} \\(kept, not deleted\\)`));
    const again = await run(taskConfig(inputs), fake.ports);
    assert.equal(again.status, 'succeeded');
    assert.equal(fake.log.writes().filter((call) => call.method !== 'testConnection').length, 4, 'the rerun wrote nothing more');
  });

  it('rolls the connection back to its secret when it does not sign in as the identity (MIC444)', async () => {
    const fake = seeded();
    // The identity's credential never matches: Azure DevOps answers another subject than it signs with.
    const convert = fake.devOps.client.convertConnectionScheme;
    (fake.devOps.client as { convertConnectionScheme: typeof convert }).convertConnectionScheme = async (id, conversion) => ({ ...(await convert(id, conversion)), subject: 'not-the-real-subject' });
    const result = await run(taskConfig({ ...inputs, propagationTimeoutSeconds: '10' }), fake.ports);
    assert.equal(result.status, 'failed');
    assert.deepEqual(result.errors.map((error) => error.code), ['MIC444']);
    assert.equal(fake.devOps.byName('legacy-app')!.authorizationScheme, 'ServicePrincipal');
    assert.equal(fake.devOps.byName('legacy-app')!.clientId, appId);
  });

  it('a refused conversion (Manual connection) changes the connection in no way (MIC443)', async () => {
    const fake = seeded();
    fake.devOps.convertRefusal = 'Only service connections created automatically can be converted.';
    const result = await run(taskConfig(inputs), fake.ports);
    assert.deepEqual(result.errors.map((error) => error.code), ['MIC443']);
    assert.equal(fake.devOps.byName('legacy-app')!.authorizationScheme, 'ServicePrincipal');
  });

  it('without Graph read rights, refuses with MIC442 and writes nothing', async () => {
    const fake = seeded();
    fake.directory.denied = true;
    const result = await run(taskConfig(inputs), fake.ports);
    assert.deepEqual(result.errors.map((error) => error.code), ['MIC442']);
    assert.equal(fake.log.writes().length, 0);
  });

  it('with a spec, a connection an environment names moves onto that environment\'s identity (created with its ownership tags)', async () => {
    const fake = seeded();
    const spec = specFor(['dev']).replace('      - name: app-dev', '      - name: legacy-app');
    const result = await run(taskConfig({ command: 'convert', convertConnections: 'legacy-app', environments: spec }), fake.ports);
    assert.equal(result.status, 'succeeded', result.errors.map(formatTaskError).join('\n'));
    const connection = fake.devOps.byName('legacy-app')!;
    const identity = fake.azure.identityByClientId(connection.clientId!)!;
    assert.equal(identity.ref.name, 'id-ado-dev');
    assert.deepEqual([identity.identity.tags['managed-by-environment'], identity.identity.tags['managed-by-connection']], ['dev', undefined]);
  });

  it('two connections of one spec environment share its identity: their credentials are written one at a time', async () => {
    const fake = seeded();
    fake.devOps.seedConnection({ name: 'legacy-two', authorizationScheme: 'ServicePrincipal', clientId: appId, tenantId: world.tenantId, subscriptionId: sub, issuer: undefined, subject: undefined, issuerType: undefined } as ServiceConnection);
    const spec = specFor(['dev']).replace('      - name: app-dev', '      - name: legacy-app\n      - name: legacy-two');
    const result = await run(taskConfig({ command: 'convert', convertConnections: 'legacy-app,legacy-two', environments: spec }), fake.ports);
    assert.equal(result.status, 'succeeded', result.errors.map(formatTaskError).join('\n'));
    const identity = fake.azure.identityByClientId(fake.devOps.byName('legacy-two')!.clientId!)!;
    assert.equal(identity.credentials.length, 2);
  });

  it('with *, converts every secret connection of the project and leaves the others alone', async () => {
    const fake = seeded();
    const modern = fake.devOps.seedConnection({ name: 'modern' });
    const result = await run(taskConfig({ ...inputs, convertConnections: '*' }), fake.ports);
    assert.equal(result.status, 'succeeded', result.errors.map(formatTaskError).join('\n'));
    assert.equal(fake.devOps.byName('legacy-app')!.authorizationScheme, 'WorkloadIdentityFederation');
    assert.deepEqual(fake.devOps.byName('modern'), modern);
  });

  it('prune never takes a converted connection\'s identity (in a spec\'s resource group) for a removed environment', async () => {
    const fake = seeded();
    const converted = await run(taskConfig(inputs), fake.ports);
    assert.equal(converted.status, 'succeeded', converted.errors.map(formatTaskError).join('\n'));
    const identityName = conversionIdentityName(fake.devOps.byName('legacy-app')!);
    const pruned = await run(taskConfig({ command: 'provision', environments: specFor(['dev']), prune: 'true' }), fake.ports);
    assert.equal(pruned.status, 'succeeded', pruned.errors.map(formatTaskError).join('\n'));
    assert.ok([...fake.azure.identities.values()].some((stored) => stored.ref.name === identityName), 'the converted connection keeps its identity');
    assert.equal(fake.devOps.byName('legacy-app')!.authorizationScheme, 'WorkloadIdentityFederation');
    assert.equal(fake.log.writes().filter((call) => call.method.startsWith('delete')).length, 0);
  });

  it('dryRun prints the plan and writes nothing', async () => {
    const fake = seeded();
    const result = await run(taskConfig({ ...inputs, dryRun: 'true' }), fake.ports);
    assert.equal(result.status, 'succeeded');
    assert.equal(fake.log.writes().length, 0);
    assert.match(fake.platform.summaries.join('\n'), /dry run: nothing written/);
  });

  it('the CLI takes the same settings as options, without a spec, and names the option in a refusal', () => {
    const cli = parseCliConfig({ command: 'convert', organization: 'fabrikam', project: 'Platform', connections: 'legacy-app, other', 'identity-resource-group': inputs.convertIdentityResourceGroup, 'identity-location': 'West Europe' });
    assert.deepEqual(cli.convert, { connections: ['legacy-app', 'other'], target: { subscriptionId: sub, resourceGroup: world.identityResourceGroup, location: 'westeurope' } });
    assert.equal(cli.environments.kind, 'none');
    assert.throws(
      () => parseCliConfig({ command: 'convert', organization: 'fabrikam', project: 'Platform', connections: 'legacy-app' }),
      (error: unknown) => error instanceof TaskError && error.code === 'MIC440' && error.field === '--identity-resource-group',
    );
  });

  it('every bad input is a MIC440 naming the field, before any call', async () => {
    for (const [bad, field] of [
      [{ convertConnections: '' }, 'convertConnections'],
      [{ convertConnections: 'a,*' }, 'convertConnections'],
      [{ convertIdentityResourceGroup: '/subscriptions/x/resourceGroups/rg' }, 'convertIdentityResourceGroup'],
      [{ convertIdentityLocation: '' }, 'convertIdentityLocation'],
      [{ convertIdentityResourceGroup: '' }, 'convertIdentityResourceGroup'],
    ] as const) {
      assert.throws(
        () => taskConfig({ ...inputs, ...bad }),
        (error: unknown) => error instanceof TaskError && (error.code === 'MIC440' ? error.field === field : error.problems.some((item) => item.code === 'MIC440' && item.field === field)),
        JSON.stringify(bad),
      );
    }
  });
});
