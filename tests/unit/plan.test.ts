// plan(desired, observed) is the only place the task decides anything, so it carries the product's promises:
// a new environment gets the whole chain in dependency order with issuer and subject read back (never computed);
// a world that matches the spec yields no write at all (idempotence without a state file); every kind of drift
// is repaired by the smallest write (a credential updated in place, a missing assignment restored, only the
// missing pipelines and projects added); nothing is ever deleted, narrowed or re-enabled; and whatever the task
// must not or cannot do (privileged or unknown roles, foreign connections, a full credential budget, a moved
// identity) becomes a finding that blocks every write instead of a half-done run.
import * as assert from 'node:assert/strict';
import { isGrant, isWrite, tokenExchangeAudience, type Action, type Plan } from '../../tasks/ManagedIdentityConnections/src/core/model';
import { federatedCredentialName, roleAssignmentName } from '../../tasks/ManagedIdentityConnections/src/core/names';
import { plan, verificationPlan } from '../../tasks/ManagedIdentityConnections/src/core/plan';
import { ownershipTags } from '../../tasks/ManagedIdentityConnections/src/core/ownership';
import {
  assignment,
  build,
  connection,
  currentPipelineId,
  deepFreeze,
  definition,
  desired,
  devSubscription,
  emptyWorld,
  entraIssuer,
  environment,
  identityFor,
  inSync,
  legacyIssuer,
  otherProjects,
  prodSubscription,
  project,
  role,
  roles,
  updateConnection,
  updateIdentity,
} from './builders/plan-builders';

function writes(result: Plan): Action[] {
  return result.environments.flatMap((item) => item.actions.filter(isWrite));
}

function kinds(result: Plan): string[] {
  return writes(result).map((action) => action.kind);
}

function only<K extends Action['kind']>(result: Plan, kind: K): Extract<Action, { kind: K }> {
  const found = result.environments.flatMap((item) => item.actions).filter((action): action is Extract<Action, { kind: K }> => action.kind === kind);
  assert.equal(found.length, 1, `expected exactly one ${kind}, got ${found.length}`);
  return found[0]!;
}

function findings(result: Plan): { code: string; severity: string; field?: string }[] {
  return result.environments.flatMap((item) => item.findings.map((finding) => ({ code: finding.code, severity: finding.severity, ...(finding.field ? { field: finding.field } : {}) })));
}

describe('plan', () => {
  describe('a new environment', () => {
    it('creates the whole chain: identity, connection, credential, role, pipeline permission, then a test', () => {
      // GIVEN nothing exists
      const state = desired([environment('dev')]);
      // WHEN planning
      const result = plan(state, build(emptyWorld(state)));
      // THEN every piece is created, in dependency order
      assert.deepEqual(kinds(result), ['createIdentity', 'createConnection', 'createFederatedCredential', 'assignRole', 'authorizePipelines']);
      assert.equal(result.environments[0]!.actions.at(-1)!.kind, 'testConnection');
      assert.equal(result.changesPresent, true);
      assert.equal(result.permissionsBroadened, true);
    });

    it('reads issuer and subject back from the created connection instead of computing them', () => {
      const state = desired([environment('dev')]);
      const result = plan(state, build(emptyWorld(state)));
      const created = only(result, 'createConnection');
      const credential = only(result, 'createFederatedCredential');
      assert.deepEqual(credential.issuer, { from: created.id, output: 'connection.issuer' });
      assert.deepEqual(credential.subject, { from: created.id, output: 'connection.subject' });
      assert.equal(credential.audience, tokenExchangeAudience);
      assert.equal(credential.credentialName, federatedCredentialName('app-dev'));
    });

    it('feeds the new identity\'s ids to the connection and the role assignment', () => {
      const state = desired([environment('dev')]);
      const result = plan(state, build(emptyWorld(state)));
      const identity = only(result, 'createIdentity');
      assert.deepEqual(only(result, 'createConnection').definition.clientId, { from: identity.id, output: 'identity.clientId' });
      assert.deepEqual(only(result, 'createConnection').definition.tenantId, { from: identity.id, output: 'identity.tenantId' });
      assert.deepEqual(only(result, 'assignRole').principalId, { from: identity.id, output: 'identity.principalId' });
    });

    it('makes the test wait for identity, connection, credential and every role', () => {
      const state = desired([environment('dev', { roles: [role('Contributor', `/subscriptions/${devSubscription}/resourceGroups/rg-a`), role('Reader', `/subscriptions/${devSubscription}`)] })]);
      const result = plan(state, build(emptyWorld(state)));
      const test = only(result, 'testConnection');
      const roleIds = result.environments[0]!.actions.filter((action) => action.kind === 'assignRole').map((action) => action.id);
      assert.equal(roleIds.length, 2);
      assert.deepEqual(new Set(test.dependsOn), new Set([only(result, 'createIdentity').id, only(result, 'createConnection').id, only(result, 'createFederatedCredential').id, ...roleIds]));
    });

    it('orders actions so that every dependency comes earlier', () => {
      const state = desired([environment('dev', { connections: [connection('a', { shareWith: ['Apps'] }), connection('b', { authorize: { kind: 'all' } })] }), environment('prod')]);
      const result = plan(state, build(emptyWorld(state)));
      for (const item of result.environments) {
        const seen = new Set<string>();
        for (const action of item.actions) {
          for (const dependency of action.dependsOn) assert.ok(seen.has(dependency), `${action.id} depends on later ${dependency}`);
          seen.add(action.id);
        }
      }
    });
  });

  describe('a world that matches the spec', () => {
    it('plans no write at all, only connection tests', () => {
      const state = desired([environment('dev', { connections: [connection('app-dev', { shareWith: ['Apps'], resourceGroup: 'rg-app-dev' })] }), environment('prod', { tags: { env: 'prod' } })]);
      const result = plan(state, build(inSync(state)));
      assert.deepEqual(writes(result), []);
      assert.deepEqual(result.environments.flatMap((item) => item.actions.map((action) => action.kind)), ['testConnection', 'testConnection']);
      assert.equal(result.changesPresent, false);
      assert.equal(result.permissionsBroadened, false);
      assert.deepEqual(findings(result), []);
    });

    it('is deterministic and leaves its inputs untouched', () => {
      const state = deepFreeze(desired([environment('dev')]));
      const world = inSync(state);
      updateIdentity(world, state.environments[0]!, (current) => ({ ...current, roleAssignments: [] }));
      const before = JSON.stringify([...world.identities]);
      const first = plan(state, build(world));
      const second = plan(state, build(world));
      assert.deepEqual(first, second);
      assert.equal(JSON.stringify([...world.identities]), before);
    });
  });

  describe('federated credentials', () => {
    it('updates the credential in place when Azure DevOps moved the connection to the Entra issuer', () => {
      // GIVEN the credential still trusts the legacy issuer and sc:// subject
      const state = desired([environment('dev')]);
      const world = inSync(state);
      updateIdentity(world, state.environments[0]!, (current) => ({
        ...current,
        federatedCredentials: [{ name: federatedCredentialName('app-dev'), issuer: legacyIssuer, subject: 'sc://fabrikam/Platform/app-dev', audiences: [tokenExchangeAudience] }],
      }));
      // WHEN planning against the connection, which now reports the Entra issuer
      const result = plan(state, build(world));
      // THEN the same credential is rewritten with the connection's values, and the reason says why
      const update = only(result, 'updateFederatedCredential');
      const current = world.connections.get('app-dev')!;
      assert.equal(update.credentialName, federatedCredentialName('app-dev'));
      assert.deepEqual([update.issuer, update.subject], [{ known: current.issuer }, { known: current.subject }]);
      assert.match(update.reason, /moved connection app-dev to the Entra issuer/);
      assert.deepEqual(kinds(result), ['updateFederatedCredential']);
      assert.equal(result.permissionsBroadened, true);
    });

    it('says the connection moved to the Entra issuer in a sovereign cloud too', () => {
      const state = desired([environment('dev')]);
      const world = inSync(state);
      const current = world.connections.get('app-dev')!;
      const sovereign = { ...current, issuer: current.issuer!.replace('login.microsoftonline.com', 'login.microsoftonline.us') };
      world.connections.set('app-dev', sovereign);
      updateIdentity(world, state.environments[0]!, (identity) => ({
        ...identity,
        federatedCredentials: [{ name: federatedCredentialName('app-dev'), issuer: legacyIssuer, subject: 'sc://fabrikam/Platform/app-dev', audiences: [tokenExchangeAudience] }],
      }));
      const update = only(plan(state, build(world)), 'updateFederatedCredential');
      assert.deepEqual(update.issuer, { known: sovereign.issuer });
      assert.match(update.reason, /moved connection app-dev to the Entra issuer/);
    });

    it('accepts any credential whose issuer and subject match exactly, whatever its name', () => {
      const state = desired([environment('dev')]);
      const world = inSync(state);
      updateIdentity(world, state.environments[0]!, (current) => ({ ...current, federatedCredentials: current.federatedCredentials.map((item) => ({ ...item, name: 'AzureDevOpsFederation' })) }));
      assert.deepEqual(writes(plan(state, build(world))), []);
    });

    it('rewrites a credential whose subject matches only when ignoring case', () => {
      const state = desired([environment('dev')]);
      const world = inSync(state);
      updateIdentity(world, state.environments[0]!, (current) => ({
        ...current,
        federatedCredentials: current.federatedCredentials.map((item) => ({ ...item, name: 'handmade', subject: item.subject.toUpperCase() })),
      }));
      const update = only(plan(state, build(world)), 'updateFederatedCredential');
      assert.equal(update.credentialName, 'handmade');
      assert.match(update.reason, /case-sensitively/);
    });

    it('rewrites a matching credential whose audience is not exactly the token exchange audience', () => {
      const state = desired([environment('dev')]);
      const world = inSync(state);
      updateIdentity(world, state.environments[0]!, (current) => ({
        ...current,
        federatedCredentials: current.federatedCredentials.map((item) => ({ ...item, audiences: [tokenExchangeAudience, 'api://other'] })),
      }));
      const update = only(plan(state, build(world)), 'updateFederatedCredential');
      assert.match(update.reason, /audiences/);
    });

    it('refuses to exceed 20 credentials on an identity, counting the ones it does not manage', () => {
      const state = desired([environment('dev', { connections: [connection('app-dev'), connection('app-dev-2')] })]);
      const world = inSync(state);
      world.connections.delete('app-dev-2');
      updateIdentity(world, state.environments[0]!, (current) => ({
        ...current,
        federatedCredentials: [
          ...current.federatedCredentials.filter((item) => item.name === federatedCredentialName('app-dev')),
          ...Array.from({ length: 19 }, (_, index) => ({ name: `other-${index}`, issuer: 'https://token.actions.githubusercontent.com', subject: `repo:o/r:${index}`, audiences: [tokenExchangeAudience] })),
        ],
      }));
      assert.deepEqual(findings(plan(state, build(world))), [{ code: 'MIC202', severity: 'error', field: 'environments.dev.connections' }]);
    });
  });

  describe('role assignments', () => {
    it('restores a missing assignment under its deterministic name', () => {
      const state = desired([environment('dev')]);
      const world = inSync(state);
      updateIdentity(world, state.environments[0]!, (current) => ({ ...current, roleAssignments: [] }));
      const result = plan(state, build(world));
      const assign = only(result, 'assignRole');
      const principalId = identityFor(state.environments[0]!, 0).principalId;
      assert.deepEqual(assign.principalId, { known: principalId });
      assert.equal(assign.roleDefinitionId, `/subscriptions/${devSubscription}/providers/Microsoft.Authorization/roleDefinitions/${roles.contributor!.guid}`);
      assert.equal(roleAssignmentName(assign.scope, assign.roleDefinitionGuid, principalId), assignment(assign.scope, roles.contributor!.guid, principalId).name);
      assert.deepEqual(kinds(result), ['assignRole']);
    });

    it('accepts a matching assignment made under another name and with other casing of the scope', () => {
      const state = desired([environment('dev')]);
      const world = inSync(state);
      updateIdentity(world, state.environments[0]!, (current) => ({
        ...current,
        roleAssignments: current.roleAssignments.map((item) => ({ ...assignment(item.scope.toLowerCase() + '/', roles.contributor!.guid, item.principalId, '0d1e2f3a-0000-4000-8000-000000000099') })),
      }));
      assert.deepEqual(writes(plan(state, build(world))), []);
    });

    it('still assigns at the declared scope when the identity only has the role higher up', () => {
      const state = desired([environment('dev')]);
      const world = inSync(state);
      updateIdentity(world, state.environments[0]!, (current) => ({
        ...current,
        roleAssignments: [assignment(`/subscriptions/${devSubscription}`, roles.contributor!.guid, current.identity.principalId)],
      }));
      assert.deepEqual(kinds(plan(state, build(world))), ['assignRole']);
    });

    it('refuses a role whose definition can write role assignments, unless privileged roles are allowed', () => {
      const state = desired([environment('dev', { roles: [role('Access Granter', `/subscriptions/${devSubscription}`)] })]);
      const refused = plan(state, build(emptyWorld(state)));
      assert.deepEqual(findings(refused), [{ code: 'MIC302', severity: 'error', field: 'roles.Access Granter.role' }]);
      assert.equal(refused.environments[0]!.actions.some((action) => action.kind === 'assignRole'), false);

      const allowed = desired(state.environments as never, { allowPrivilegedRoles: true });
      assert.equal(only(plan(allowed, build(emptyWorld(allowed))), 'assignRole').roleName, 'Access Granter');
    });

    it('does not count Contributor as privileged: its notActions exclude Microsoft.Authorization writes', () => {
      const state = desired([environment('dev')]);
      assert.deepEqual(findings(plan(state, build(emptyWorld(state)))).filter((item) => item.code === 'MIC302'), []);
    });

    it('assigns once when the spec names one role by name and by GUID on the same scope', () => {
      const scope = `/subscriptions/${devSubscription}/resourceGroups/rg-app-dev`;
      const state = desired([environment('dev', { roles: [role('Contributor', scope), role(roles.contributor!.guid, scope)] })]);
      assert.deepEqual(kinds(plan(state, build(emptyWorld(state)))).filter((kind) => kind === 'assignRole'), ['assignRole']);
    });

    it('reports a role that no definition matches', () => {
      const state = desired([environment('dev', { roles: [role('Contributer', `/subscriptions/${devSubscription}`)] })]);
      assert.deepEqual(findings(plan(state, build(emptyWorld(state)))), [{ code: 'MIC303', severity: 'error', field: 'roles.Contributer.role' }]);
    });
  });

  describe('identities', () => {
    it('re-points connections, re-creates credentials and re-assigns roles when the identity was recreated', () => {
      // GIVEN someone deleted and recreated the identity: same name, new ids, no credentials, no roles
      const state = desired([environment('dev')]);
      const world = inSync(state);
      const recreated = identityFor(state.environments[0]!, 0, 2);
      updateIdentity(world, state.environments[0]!, () => ({ identity: recreated, federatedCredentials: [], roleAssignments: [] }));
      const result = plan(state, build(world));
      // THEN no new identity, but the connection, its credential and the role follow the new one
      assert.deepEqual(kinds(result), ['updateConnection', 'createFederatedCredential', 'assignRole']);
      const update = only(result, 'updateConnection');
      assert.deepEqual(update.changes.map((change) => [change.field, change.to]), [['serviceprincipalid', { known: recreated.clientId }]]);
      assert.deepEqual(only(result, 'assignRole').principalId, { known: recreated.principalId });
      // Written from what the update answers (a changed tenant or a save may move the pair), not the pair seen before it
      assert.deepEqual(only(result, 'createFederatedCredential').issuer, { from: update.id, output: 'connection.issuer' });
      assert.deepEqual(only(result, 'createFederatedCredential').subject, { from: update.id, output: 'connection.subject' });
    });

    it('rewrites the credential trusting a connection from the pair read back when the connection is updated', () => {
      const state = desired([environment('dev')]);
      const world = inSync(state);
      const connection = world.connections.get('app-dev')!;
      world.connections.set('app-dev', { ...connection, description: 'changed by hand' });
      const result = plan(state, build(world));
      assert.deepEqual(kinds(result), ['updateConnection', 'updateFederatedCredential']);
      const update = only(result, 'updateConnection');
      const credential = only(result, 'updateFederatedCredential');
      assert.deepEqual([credential.issuer, credential.subject], [{ from: update.id, output: 'connection.issuer' }, { from: update.id, output: 'connection.subject' }]);
      assert.equal(credential.previous.issuer, connection.issuer, 'the credential that trusted the connection is moved along, not a second one added');
      assert.deepEqual(credential.dependsOn, [update.id]);
    });

    it('creates a missing identity and re-points existing connections at it once it exists', () => {
      const state = desired([environment('dev')]);
      const world = inSync(state);
      world.identities.clear();
      const result = plan(state, build(world));
      const create = only(result, 'createIdentity');
      const update = only(result, 'updateConnection');
      assert.deepEqual(update.dependsOn, [create.id]);
      assert.deepEqual(update.definition.clientId, { from: create.id, output: 'identity.clientId' });
      assert.deepEqual(only(result, 'createFederatedCredential').dependsOn, [create.id, update.id]);
    });

    it('reports an identity that exists in another location; it cannot be moved', () => {
      const state = desired([environment('dev', { location: 'northeurope' })]);
      const world = inSync(desired([environment('dev')]));
      assert.deepEqual(findings(plan(state, build(world))), [{ code: 'MIC204', severity: 'error', field: 'environments.dev.identity' }]);
    });

    it('adds and changes tags but never removes one', () => {
      const state = desired([environment('dev', { tags: { env: 'dev', owner: 'platform' } })]);
      const world = inSync(state);
      const marker = ownershipTags(project, 'dev');
      updateIdentity(world, state.environments[0]!, (current) => ({ ...current, identity: { ...current.identity, tags: { ...marker, Env: 'test', costCenter: '42' } } }));
      const update = only(plan(state, build(world)), 'updateIdentityTags');
      assert.deepEqual(update.tags, { ...marker, Env: 'dev', costCenter: '42', owner: 'platform' });
      assert.deepEqual(update.changedTags, { Env: 'dev', owner: 'platform' });
    });

    it('counts a tag change as a change but not as a grant', () => {
      const state = desired([environment('dev', { tags: { env: 'dev' } })]);
      const world = inSync(desired([environment('dev')]));
      const result = plan(state, build(world));
      assert.equal(result.changesPresent, true);
      assert.equal(result.permissionsBroadened, false);
    });
  });

  describe('connections', () => {
    it('reports a disabled connection, never re-enables it, and does not test it', () => {
      const state = desired([environment('dev')]);
      const world = inSync(state);
      updateConnection(world, 'app-dev', { isDisabled: true });
      const result = plan(state, build(world));
      assert.deepEqual(findings(result), [{ code: 'MIC402', severity: 'warning', field: 'connections.app-dev.name' }]);
      assert.deepEqual(result.environments[0]!.actions, []);
    });

    it('reports a connection whose last operation failed', () => {
      const state = desired([environment('dev')]);
      const world = inSync(state);
      updateConnection(world, 'app-dev', { operationStatus: { state: 'Failed', message: 'boom' } });
      assert.deepEqual(findings(plan(state, build(world))), [{ code: 'MIC403', severity: 'warning', field: 'connections.app-dev.name' }]);
    });

    for (const [label, change] of [
      ['of another type', { type: 'generic' }],
      ['with a secret', { authorizationScheme: 'ServicePrincipal' }],
      ['created automatically by Azure DevOps', { creationMode: 'Automatic' }],
      ['scoped to a management group', { scopeLevel: 'ManagementGroup' }],
    ] as const) {
      it(`leaves a same-named connection ${label} untouched and reports it`, () => {
        const state = desired([environment('dev')]);
        const world = inSync(state);
        updateConnection(world, 'app-dev', change);
        const result = plan(state, build(world));
        assert.deepEqual(findings(result), [{ code: 'MIC401', severity: 'error', field: 'connections.app-dev.name' }]);
        assert.equal(result.environments[0]!.actions.some((action) => 'connectionName' in action), false);
      });
    }

    it('updates a connection whose description, scope and subscription drifted, naming each change', () => {
      const state = desired([environment('dev', { connections: [connection('app-dev', { resourceGroup: 'rg-app-dev' })] })]);
      const world = inSync(state);
      updateConnection(world, 'app-dev', { description: 'edited by hand', subscriptionId: prodSubscription });
      const copy = { ...world.connections.get('app-dev')! };
      delete (copy as { resourceGroupScope?: string }).resourceGroupScope;
      world.connections.set('app-dev', copy);
      const update = only(plan(state, build(world)), 'updateConnection');
      assert.deepEqual(update.changes.map((change) => change.field), ['description', 'scope', 'subscription']);
      assert.equal(update.definition.resourceGroupScope, `/subscriptions/${devSubscription}/resourcegroups/rg-app-dev`);
    });

    it('ignores a different spelling of the same resource group scope', () => {
      const state = desired([environment('dev', { connections: [connection('app-dev', { resourceGroup: 'rg-app-dev' })] })]);
      const world = inSync(state);
      updateConnection(world, 'app-dev', { resourceGroupScope: `/subscriptions/${devSubscription.toUpperCase()}/resourceGroups/RG-APP-DEV` });
      assert.deepEqual(writes(plan(state, build(world))), []);
    });

    it('refuses a connection to a subscription of another tenant than the identity', () => {
      const state = desired([environment('dev', { connections: [connection('app-dev', { subscriptionId: prodSubscription })], roles: [role('Reader', `/subscriptions/${prodSubscription}`)] })]);
      const world = emptyWorld(state);
      world.subscriptions.set(prodSubscription, { subscriptionId: prodSubscription, displayName: 'Partner', tenantId: '33e01921-4d64-4f8c-a055-5bdaffd5e33d' });
      assert.deepEqual(findings(plan(state, build(world))), [{ code: 'MIC208', severity: 'error', field: 'connections.app-dev.subscriptionId' }]);
    });

    it('reports a subscription the bootstrap identity cannot read', () => {
      const state = desired([environment('dev')]);
      const world = emptyWorld(state);
      world.subscriptions.clear();
      assert.deepEqual(
        findings(plan(state, build(world))).map((item) => item.code),
        ['MIC307', 'MIC307'],
      );
    });

    it('warns when no role lies in the subscription a connection targets, as verification would fail', () => {
      const state = desired([environment('dev', { connections: [connection('app-dev', { subscriptionId: prodSubscription })] })]);
      assert.deepEqual(findings(plan(state, build(emptyWorld(state)))), [{ code: 'MIC507', severity: 'warning', field: 'connections.app-dev.subscriptionId' }]);
    });

    it('lets the test wait for roles to propagate only where the spec gives the identity a role in the subscription', () => {
      const state = desired([environment('dev', { connections: [connection('app-dev'), connection('app-prod', { subscriptionId: prodSubscription })] })]);
      const tests = plan(state, build(emptyWorld(state))).environments[0]!.actions.filter((action): action is Extract<Action, { kind: 'testConnection' }> => action.kind === 'testConnection');
      assert.deepEqual(
        tests.map((action) => [action.connectionName, action.waitForRoles]),
        [
          ['app-dev', true],
          ['app-prod', false],
        ],
      );
    });

    it('keeps the wait decision in the verification plan', () => {
      const state = desired([environment('dev', { connections: [connection('app-dev', { subscriptionId: prodSubscription })] })]);
      const world = inSync(state);
      const [test] = verificationPlan(plan(state, build(world))).environments[0]!.actions;
      assert.ok(test?.kind === 'testConnection');
      assert.equal(test.waitForRoles, false);
    });
  });

  describe('pipeline permissions', () => {
    const cases = [
      { authorize: { kind: 'current' } as const, existing: [], expected: { allPipelines: false, pipelineIds: [currentPipelineId] } },
      { authorize: { kind: 'current' } as const, existing: [currentPipelineId], expected: undefined },
      { authorize: { kind: 'all' } as const, existing: [7], expected: { allPipelines: true, pipelineIds: [] } },
      { authorize: { kind: 'none' } as const, existing: [], expected: undefined },
      { authorize: { kind: 'pipelines', pipelineIds: [7, 8, 9] } as const, existing: [8], expected: { allPipelines: false, pipelineIds: [7, 9] } },
    ];
    for (const { authorize, existing, expected } of cases) {
      it(`authorize ${authorize.kind === 'pipelines' ? JSON.stringify(authorize.pipelineIds) : authorize.kind} with ${JSON.stringify(existing)} authorized → ${expected ? JSON.stringify(expected) : 'nothing'}`, () => {
        const state = desired([environment('dev', { connections: [connection('app-dev', { authorize })] })]);
        const world = inSync(state);
        world.pipelinePermissions.set(world.connections.get('app-dev')!.id.toLowerCase(), { allPipelines: false, pipelineIds: existing });
        const actions = writes(plan(state, build(world)));
        if (expected === undefined) assert.deepEqual(actions, []);
        else {
          const [action] = actions;
          assert.ok(action?.kind === 'authorizePipelines');
          assert.deepEqual({ allPipelines: action.allPipelines, pipelineIds: action.pipelineIds }, expected);
        }
      });
    }

    it('never narrows a connection every pipeline may already use', () => {
      const state = desired([environment('dev', { connections: [connection('app-dev', { authorize: { kind: 'pipelines', pipelineIds: [1] } })] })]);
      const world = inSync(state);
      world.pipelinePermissions.set(world.connections.get('app-dev')!.id.toLowerCase(), { allPipelines: true, pipelineIds: [] });
      assert.deepEqual(writes(plan(state, build(world))), []);
    });

    it('warns, and authorizes nothing, for authorize: current outside a pipeline run', () => {
      const state = desired([environment('dev')], { currentPipelineId: undefined });
      const result = plan(state, build(emptyWorld(state)));
      assert.equal(kinds(result).includes('authorizePipelines'), false);
      assert.deepEqual(findings(result), [{ code: 'MIC409', severity: 'warning', field: 'connections.app-dev.authorize' }]);
    });

    describe('of pipelines in a project the connection is shared with', () => {
      const apps = otherProjects[0]!;
      const appsPipeline = 12;
      const sharedAuthorizing = (pipelineIds: number[]) => desired([environment('dev', { connections: [connection('app-dev', { shareWith: ['Apps'], authorize: { kind: 'pipelines', pipelineIds } })] })]);
      /** This project has pipeline 7; Apps has pipeline 12. */
      const withPipelines = (world: ReturnType<typeof emptyWorld>) => {
        world.pipelines.set('a0a0a0a0-0000-4000-8000-000000000001', new Set([7]));
        world.pipelines.set(apps.id, new Set([appsPipeline]));
        return world;
      };

      it('authorizes them through that project, after sharing the connection with it', () => {
        const state = sharedAuthorizing([7, appsPipeline]);
        const result = plan(state, build(withPipelines(emptyWorld(state))));
        const permissions = writes(result).filter((action): action is Extract<Action, { kind: 'authorizePipelines' }> => action.kind === 'authorizePipelines');
        assert.deepEqual(
          permissions.map((action) => [action.project?.name, action.pipelineIds]),
          [
            ['Apps', [appsPipeline]],
            [undefined, [7]],
          ],
        );
        const share = only(result, 'shareConnection');
        assert.ok(permissions[0]!.dependsOn.includes(share.id), 'after the share');
        assert.ok(!permissions[1]!.dependsOn.includes(share.id), 'this project\'s pipelines need no share');
        assert.equal(findings(result).length, 0);
      });

      it('reads what that project already allows, and plans nothing more', () => {
        const state = sharedAuthorizing([appsPipeline]);
        const world = withPipelines(inSync(state));
        const id = world.connections.get('app-dev')!.id;
        world.pipelinePermissions.set(`${id}@${apps.id}`, { allPipelines: false, pipelineIds: [appsPipeline] });
        world.pipelinePermissions.set(id, { allPipelines: false, pipelineIds: [] });
        assert.deepEqual(writes(plan(state, build(world))), []);
        world.pipelinePermissions.set(`${id}@${apps.id}`, { allPipelines: false, pipelineIds: [] });
        const again = only(plan(state, build(world)), 'authorizePipelines');
        assert.deepEqual([again.project, again.pipelineIds, again.dependsOn], [apps, [appsPipeline], []]);
      });

      it('refuses a pipeline no project of the connection has (MIC412), planning no permission', () => {
        const state = sharedAuthorizing([7, appsPipeline, 99]);
        const result = plan(state, build(withPipelines(emptyWorld(state))));
        assert.deepEqual(findings(result), [{ code: 'MIC412', severity: 'error', field: 'connections.app-dev.authorize' }]);
        assert.match(result.environments[0]!.findings[0]!.message, /^Pipeline 99 \(authorize of connection app-dev\) exists in none of the projects Platform, Apps\.$/);
        assert.equal(kinds(result).includes('authorizePipelines'), false);
      });

      it('refuses a pipeline of a project the connection is not shared with (MIC412)', () => {
        const state = desired([environment('dev', { connections: [connection('app-dev', { authorize: { kind: 'pipelines', pipelineIds: [appsPipeline] } })] })]);
        const result = plan(state, build(withPipelines(emptyWorld(state))));
        assert.deepEqual(findings(result), [{ code: 'MIC412', severity: 'error', field: 'connections.app-dev.authorize' }]);
      });
    });

    describe('before a verification run of the running pipeline', () => {
      const verification = { verificationRunPipelineId: currentPipelineId };
      const cases = [
        { authorize: { kind: 'none' } as const, existing: [], expected: [currentPipelineId] },
        { authorize: { kind: 'pipelines', pipelineIds: [7] } as const, existing: [7], expected: [currentPipelineId] },
        { authorize: { kind: 'pipelines', pipelineIds: [7] } as const, existing: [], expected: [7, currentPipelineId] },
        { authorize: { kind: 'current' } as const, existing: [], expected: [currentPipelineId] },
        { authorize: { kind: 'none' } as const, existing: [currentPipelineId], expected: undefined },
      ];
      for (const { authorize, existing, expected } of cases) {
        it(`authorize ${authorize.kind === 'pipelines' ? JSON.stringify(authorize.pipelineIds) : authorize.kind} with ${JSON.stringify(existing)} authorized → ${expected ? JSON.stringify(expected) : 'nothing'}`, () => {
          const state = desired([environment('dev', { connections: [connection('app-dev', { authorize })] })], verification);
          const world = inSync(state);
          world.pipelinePermissions.set(world.connections.get('app-dev')!.id.toLowerCase(), { allPipelines: false, pipelineIds: existing });
          const actions = writes(plan(state, build(world)));
          if (expected === undefined) assert.deepEqual(actions, []);
          else assert.deepEqual(actions.map((action) => action.kind === 'authorizePipelines' && action.pipelineIds), [expected]);
        });
      }

      it('says which pipeline is there for the verification run, and only when authorize did not name it', () => {
        const none = only(plan(desired([environment('dev', { connections: [connection('app-dev', { authorize: { kind: 'none' } })] })], verification), build(emptyWorld(desired([environment('dev')])))), 'authorizePipelines');
        assert.equal(none.forVerificationRun, currentPipelineId);
        assert.match(none.reason, /queues the verification run, which must be able to use it/);
        assert.ok(isGrant(none));
        const current = only(plan(desired([environment('dev')], verification), build(emptyWorld(desired([environment('dev')])))), 'authorizePipelines');
        assert.equal(current.forVerificationRun, undefined);
      });

      it('never narrows authorize: all, and adds nothing once every pipeline may use the connection', () => {
        const state = desired([environment('dev', { connections: [connection('app-dev', { authorize: { kind: 'all' } })] })], verification);
        const world = inSync(state);
        assert.deepEqual(writes(plan(state, build(world))), []);
      });
    });

    it('authorizes a new connection once it exists', () => {
      const state = desired([environment('dev')]);
      const result = plan(state, build(emptyWorld(state)));
      const created = only(result, 'createConnection');
      const authorize = only(result, 'authorizePipelines');
      assert.deepEqual(authorize.dependsOn, [created.id]);
      assert.deepEqual(authorize.connectionId, { from: created.id, output: 'connection.id' });
    });
  });

  describe('sharing', () => {
    it('shares only with the projects that do not have the connection yet', () => {
      const state = desired([environment('dev', { connections: [connection('app-dev', { shareWith: ['Apps', 'data'] })] })]);
      const world = inSync(desired([environment('dev', { connections: [connection('app-dev', { shareWith: ['Apps'] })] })]));
      const share = only(plan(state, build(world)), 'shareConnection');
      assert.deepEqual(share.projects, [otherProjects[1]]);
    });

    it('refuses to recreate a connection deleted here while a shareWith project still has it, signing in as the identity (MIC413)', () => {
      const state = desired([environment('dev', { connections: [connection('app-dev', { shareWith: ['Apps'] })] })]);
      const world = inSync(state);
      const copy = world.connections.get('app-dev')!;
      world.connections.delete('app-dev');
      world.otherProjectConnections.set(`${otherProjects[0]!.id}|app-dev`, { ...copy, projectReferences: [otherProjects[0]!] });
      const result = plan(state, build(world));
      assert.deepEqual(findings(result), [{ code: 'MIC413', severity: 'error', field: 'connections.app-dev.name' }]);
      assert.ok(result.environments[0]!.findings[0]!.message.includes(copy.id));
      assert.equal(kinds(result).includes('shareConnection'), false);
    });

    it('refuses to share into a project that has another connection of that name (MIC414)', () => {
      const state = desired([environment('dev', { connections: [connection('app-dev', { shareWith: ['Apps'] })] })]);
      const world = inSync(desired([environment('dev')]));
      world.otherProjectConnections.set(`${otherProjects[0]!.id}|app-dev`, { ...world.connections.get('app-dev')!, id: '5c5c5c5c-0000-4000-8000-0000000000ff', clientId: 'someone-else', projectReferences: [otherProjects[0]!] });
      const result = plan(state, build(world));
      assert.deepEqual(findings(result), [{ code: 'MIC414', severity: 'error', field: 'connections.app-dev.shareWith' }]);
    });

    it('reports a project that does not exist', () => {
      const state = desired([environment('dev', { connections: [connection('app-dev', { shareWith: ['Nowhere'] })] })]);
      assert.deepEqual(findings(plan(state, build(inSync(desired([environment('dev')]))))), [{ code: 'MIC406', severity: 'error', field: 'connections.app-dev.shareWith' }]);
    });
  });

  describe('grants and classification', () => {
    it('classifies roles, credentials, pipeline permissions and shares as grants, and nothing else', () => {
      const state = desired([environment('dev', { tags: { a: 'b' }, connections: [connection('app-dev', { shareWith: ['Apps'] })] })]);
      const result = plan(state, build(emptyWorld(state)));
      const grants = writes(result).filter(isGrant).map((action) => action.kind);
      assert.deepEqual(grants, ['createFederatedCredential', 'assignRole', 'shareConnection', 'authorizePipelines']);
    });
  });

  describe('verificationPlan', () => {
    it('tests no connection whose federated credential the plan would write, and waits for no role the plan would assign', () => {
      const state = desired([environment('dev', { connections: [connection('app-dev'), connection('app-ok')] })]);
      const world = inSync(state);
      updateIdentity(world, state.environments[0]!, (current) => ({
        ...current,
        federatedCredentials: current.federatedCredentials.filter((credential) => credential.name !== federatedCredentialName('app-dev')),
        roleAssignments: current.roleAssignments.slice(1),
      }));
      const tests = verificationPlan(plan(state, build(world))).environments.flatMap((item) => item.actions) as Extract<Action, { kind: 'testConnection' }>[];
      assert.deepEqual(
        tests.map((action) => [action.connectionName, action.waitForRoles]),
        [['app-ok', false]],
      );
    });


    it('keeps only tests of connections that exist, as observed, without dependencies', () => {
      const state = desired([environment('dev', { connections: [connection('app-dev'), connection('app-new')] })]);
      const world = inSync(desired([environment('dev')]));
      updateIdentity(world, state.environments[0]!, (current) => ({ ...current, roleAssignments: [] }));
      const verification = verificationPlan(plan(state, build(world)));
      const actions = verification.environments.flatMap((item) => item.actions);
      assert.deepEqual(actions.map((action) => [action.kind, action.dependsOn.length]), [['testConnection', 0]]);
      assert.deepEqual((actions[0] as Extract<Action, { kind: 'testConnection' }>).connection, { known: world.connections.get('app-dev') });
    });
  });

  describe('with an unusual role definition', () => {
    it('checks custom definitions for Microsoft.Authorization writes by wildcard', () => {
      const state = desired([environment('dev', { roles: [role('Writer', `/subscriptions/${devSubscription}`)] })]);
      const world = emptyWorld(state);
      world.roleDefinitions.set(`${devSubscription}|writer`, definition('Writer', '0f0f0f0f-0000-4000-8000-000000000001', ['*/write'], [], 'CustomRole'));
      assert.deepEqual(findings(plan(state, build(world))).map((item) => item.code), ['MIC302']);
    });
  });

  it('describes the connections it saw, for outputs and the summary', () => {
    const state = desired([environment('dev')]);
    const world = inSync(state);
    const result = plan(state, build(world));
    assert.deepEqual(result.environments[0]!.connections, [{ name: 'app-dev', subscriptionId: devSubscription, observed: world.connections.get('app-dev') }]);
    assert.equal(result.environments[0]!.identity.observed?.clientId, identityFor(state.environments[0]!, 0).clientId);
    assert.equal(entraIssuer, world.connections.get('app-dev')!.issuer);
  });
});
