// The lifecycle half of the pure plan (src/core/prune.ts): owned objects outside the spec are reported,
// pruned with `prune`, torn down with `teardown`; anything without the ownership marker is left alone.
import * as assert from 'node:assert/strict';
import { type Action, type DestructiveAction, type LifecycleSettings, type ObservedIdentity, type Plan, type RoleAssignment, type ServiceConnection } from '../../tasks/ManagedIdentityConnections/src/core/model';
import { federatedCredentialName } from '../../tasks/ManagedIdentityConnections/src/core/names';
import { connectionOwnerMarker, ownershipTags, roleAssignmentDescription } from '../../tasks/ManagedIdentityConnections/src/core/ownership';
import { plan } from '../../tasks/ManagedIdentityConnections/src/core/plan';
import {
  assignment,
  connectionFor,
  currentPipelineId,
  desired,
  devSubscription,
  environment,
  identityFor,
  inSync,
  otherProjects,
  project,
  roles,
  settings,
  updateIdentity,
  type WorldParts,
} from './builders/plan-builders';

const now = '2026-12-04T12:00:00.000Z';

function lifecycle(overrides: Partial<LifecycleSettings> = {}): LifecycleSettings {
  return { prune: false, teardown: false, maxDeletions: 50, keepUsedWithinDays: 30, deleteUsedConnections: false, now, specEnvironments: ['dev'], onlySelected: false, ...overrides };
}

function stateWith(overrides: Partial<LifecycleSettings> = {}, environments = [environment('dev')]) {
  return desired(environments, { lifecycle: lifecycle({ specEnvironments: environments.map((item) => item.name), ...overrides }) });
}

type LifecycleParts = WorldParts & { ownedIdentities?: ObservedIdentity[]; projectConnections?: ServiceConnection[]; lastUsed?: Map<string, string | null>; markedAssignments?: RoleAssignment[] };

function world(parts: WorldParts, extra: Partial<LifecycleParts> = {}): LifecycleParts {
  return { ...parts, projectConnections: [...parts.connections.values()], ownedIdentities: [], lastUsed: new Map(), ...extra };
}

function destructive(result: Plan): DestructiveAction[] {
  return result.environments.flatMap((item) => item.actions).filter((action): action is DestructiveAction => action.kind.startsWith('delete') || action.kind === 'revokePipelines' || action.kind === 'unshareConnection');
}

function codes(result: Plan): string[] {
  return result.environments.flatMap((item) => item.findings.map((finding) => finding.code));
}

/** A credential someone else federated to the identity (not named by our rule). */
const githubCredential = { name: 'github-main', issuer: 'https://token.actions.githubusercontent.com', subject: 'repo:x', audiences: ['api://AzureADTokenExchange'] };

/** The world with every connection's execution history read: never used. */
function neverUsed(parts: WorldParts): LifecycleParts {
  return world(parts, { lastUsed: new Map([...parts.connections.values()].map((item) => [item.id.toLowerCase(), null])) });
}

const extraScope = `/subscriptions/${devSubscription}/resourceGroups/rg-old`;

/** dev in sync, plus an owned Reader assignment and an owned credential that the spec no longer names. */
function withSurplus(state: ReturnType<typeof stateWith>): WorldParts {
  const parts = inSync(state);
  updateIdentity(parts, state.environments[0]!, (current) => ({
    ...current,
    federatedCredentials: [...current.federatedCredentials, { name: 'azdo-app-old', issuer: 'https://issuer.example', subject: 'sc://old', audiences: ['api://AzureADTokenExchange'] }],
    roleAssignments: [...current.roleAssignments, { ...assignment(extraScope, roles.reader!.guid, current.identity.principalId), description: roleAssignmentDescription('dev', project) }],
  }));
  return parts;
}

describe('prune and teardown (pure plan)', () => {
  describe('ownership markers', () => {
    it('tags a new identity, marks its connection and describes its role assignments', () => {
      const state = stateWith();
      const result = plan(state, world({ ...inSync(state), identities: new Map(), connections: new Map(), pipelinePermissions: new Map() }));
      const actions = result.environments[0]!.actions;
      const create = actions.find((action) => action.kind === 'createIdentity');
      assert.ok(create?.kind === 'createIdentity');
      assert.deepEqual(create.tags, ownershipTags(project, 'dev'));
      const connection = actions.find((action) => action.kind === 'createConnection');
      assert.ok(connection?.kind === 'createConnection');
      assert.equal(connection.definition.ownerMarker, connectionOwnerMarker(project, 'dev'));
      const role = actions.find((action) => action.kind === 'assignRole');
      assert.ok(role?.kind === 'assignRole');
      assert.equal(role.description, roleAssignmentDescription('dev', project));
    });

    it('adopts an unmarked identity that holds a credential named by our rule, and leaves other unmarked identities unmarked', () => {
      const state = stateWith();
      const parts = inSync(state);
      updateIdentity(parts, state.environments[0]!, (current) => ({ ...current, identity: { ...current.identity, tags: {} } }));
      const adopted = plan(state, world(parts)).environments[0]!.actions.find((action) => action.kind === 'updateIdentityTags');
      assert.ok(adopted?.kind === 'updateIdentityTags');
      assert.deepEqual(adopted.changedTags, ownershipTags(project, 'dev'));
      assert.match(adopted.reason, /adopted/);

      // An identity the spec names explicitly may have been made by hand: never adopted, even with our credential.
      const named = stateWith({}, [environment('dev', { identityName: 'id-made-by-hand' })]);
      const namedParts = inSync(named);
      updateIdentity(namedParts, named.environments[0]!, (current) => ({ ...current, identity: { ...current.identity, tags: {} } }));
      assert.equal(plan(named, world(namedParts)).environments[0]!.actions.some((action) => action.kind === 'updateIdentityTags'), false);

      updateIdentity(parts, state.environments[0]!, (current) => ({ ...current, federatedCredentials: current.federatedCredentials.map((credential) => ({ ...credential, name: 'hand-made' })) }));
      assert.equal(plan(state, world(parts)).environments[0]!.actions.some((action) => action.kind === 'updateIdentityTags'), false);
    });
  });

  describe('two-way drift', () => {
    it('reports owned objects outside the spec as MIC530 without prune, and writes nothing for them', () => {
      const state = stateWith();
      const result = plan(state, world(withSurplus(state)));
      assert.deepEqual(destructive(result), []);
      assert.equal(result.changesPresent, false);
      assert.equal(result.permissionsNarrowed, false);
      const finding = result.environments[0]!.findings.find((item) => item.code === 'MIC530');
      assert.ok(finding);
      assert.equal(finding.severity, 'warning');
      assert.match(finding.message, /credential azdo-app-old/);
      assert.match(finding.message, new RegExp(`role ${roles.reader!.guid} on .*rg-old`));
    });

    it('with prune deletes them, counts them as changes that narrow permissions, and leaves unowned ones alone', () => {
      const state = stateWith({ prune: true });
      const parts = withSurplus(state);
      updateIdentity(parts, state.environments[0]!, (current) => ({
        ...current,
        federatedCredentials: [...current.federatedCredentials, githubCredential],
        // Someone else's assignment: another name, no description of ours.
        roleAssignments: [...current.roleAssignments, assignment(`/subscriptions/${devSubscription}/resourceGroups/rg-shared`, roles.reader!.guid, current.identity.principalId, '0f0f0f0f-0000-4000-8000-000000000000')],
      }));
      const result = plan(state, world(parts));
      assert.deepEqual(
        destructive(result).map((action) => action.kind + ':' + (action.kind === 'deleteFederatedCredential' ? action.credentialName : action.kind === 'deleteRoleAssignment' ? action.scope : '')),
        ['deleteFederatedCredential:azdo-app-old', `deleteRoleAssignment:${extraScope}`],
      );
      assert.equal(result.changesPresent, true);
      assert.equal(result.permissionsNarrowed, true);
      assert.equal(result.permissionsBroadened, false);
      assert.deepEqual(codes(result), []);
    });

    it('narrows pipeline permissions and shares of a spec connection to what the spec says, never the running pipeline', () => {
      const base = environment('dev');
      const env = { ...base, connections: [{ ...base.connections[0]!, authorize: { kind: 'pipelines' as const, pipelineIds: [7] } }] };
      const state = stateWith({ prune: true }, [env]);
      const parts = inSync(state);
      const existing = parts.connections.get('app-dev')!;
      parts.connections.set('app-dev', { ...existing, projectReferences: [...existing.projectReferences, otherProjects[0]!] });
      parts.pipelinePermissions.set(existing.id.toLowerCase(), { allPipelines: false, pipelineIds: [7, 9, currentPipelineId] });
      const result = plan(state, world(parts));
      const revoke = destructive(result).find((action) => action.kind === 'revokePipelines');
      assert.ok(revoke?.kind === 'revokePipelines');
      assert.deepEqual(revoke.pipelineIds, [9]);
      const unshare = destructive(result).find((action) => action.kind === 'unshareConnection');
      assert.ok(unshare?.kind === 'unshareConnection');
      assert.deepEqual(unshare.projects, [otherProjects[0]]);
    });

    it('deletes an owned connection the spec no longer names: permissions, then the connection, then its credential', () => {
      const state = stateWith({ prune: true });
      const parts = inSync(state);
      const identity = parts.identities.values().next().value!.identity;
      const old = { ...connectionFor({ ...state.environments[0]!.connections[0]!, name: 'app-old' }, identity, state.settings, 7), id: '5c5c5c5c-0000-4000-8000-0000000000ff' };
      updateIdentity(parts, state.environments[0]!, (current) => ({
        ...current,
        federatedCredentials: [...current.federatedCredentials, { name: federatedCredentialName('app-old'), issuer: old.issuer!, subject: old.subject!, audiences: ['api://AzureADTokenExchange'] }],
      }));
      parts.pipelinePermissions.set(old.id, { allPipelines: false, pipelineIds: [5] });
      const result = plan(state, world(parts, { projectConnections: [...parts.connections.values(), old], lastUsed: new Map([[old.id, null]]) }));
      const [revoke, remove, credential] = destructive(result);
      assert.equal(revoke!.kind, 'revokePipelines');
      assert.equal(remove!.kind, 'deleteConnection');
      assert.deepEqual(remove!.dependsOn, [revoke!.id]);
      assert.equal(credential!.kind, 'deleteFederatedCredential');
      assert.deepEqual(credential!.dependsOn, [remove!.id]);
    });

    it('without prune, reports a recently used surplus connection as MIC530 like any other', () => {
      const state = stateWith();
      const parts = inSync(state);
      const identity = parts.identities.values().next().value!.identity;
      const old = { ...connectionFor({ ...state.environments[0]!.connections[0]!, name: 'app-old' }, identity, state.settings, 7), ownerMarker: connectionOwnerMarker(project, 'dev') };
      const result = plan(state, world(parts, { projectConnections: [old], lastUsed: new Map([[old.id, '2026-12-01T08:00:00.000Z']]) }));
      assert.deepEqual(codes(result), ['MIC530']);
      assert.match(result.environments[0]!.findings[0]!.message, /connection app-old/);
    });

    it('keeps a connection a job used within keepUsedWithinDays, and the credential it signs in with (MIC532)', () => {
      const state = stateWith({ prune: true });
      const parts = inSync(state);
      const identity = parts.identities.values().next().value!.identity;
      const old = { ...connectionFor({ ...state.environments[0]!.connections[0]!, name: 'app-old' }, identity, state.settings, 7), id: '5c5c5c5c-0000-4000-8000-0000000000ff', ownerMarker: connectionOwnerMarker(project, 'dev') };
      updateIdentity(parts, state.environments[0]!, (current) => ({
        ...current,
        federatedCredentials: [...current.federatedCredentials, { name: federatedCredentialName('app-old'), issuer: old.issuer!, subject: old.subject!, audiences: ['api://AzureADTokenExchange'] }],
      }));
      const recently = new Map([[old.id, '2026-12-01T08:00:00.000Z']]);
      const kept = plan(state, world(parts, { projectConnections: [old], lastUsed: recently }));
      assert.deepEqual(destructive(kept), []);
      assert.deepEqual(codes(kept), ['MIC532']);
      const forced = plan({ ...state, settings: settings({ lifecycle: lifecycle({ prune: true, deleteUsedConnections: true }) }) }, world(parts, { projectConnections: [old], lastUsed: recently }));
      assert.deepEqual(destructive(forced).map((action) => action.kind), ['deleteConnection', 'deleteFederatedCredential']);
      const longAgo = plan(state, world(parts, { projectConnections: [old], lastUsed: new Map([[old.id, '2026-01-01T00:00:00.000Z']]) }));
      assert.deepEqual(destructive(longAgo).map((action) => action.kind), ['deleteConnection', 'deleteFederatedCredential']);
    });
  });

  describe('connections of an identity the environment no longer uses', () => {
    it('are deleted once, with that identity, not also as the environment\'s surplus', () => {
      const moved = environment('dev', { identityName: 'id-ado-dev-2' });
      const state = stateWith({ prune: true }, [moved]);
      const parts = inSync(state);
      const old = { ...identityFor(environment('dev'), 7), tags: ownershipTags(project, 'dev') };
      const oldConnection = { ...connectionFor({ ...moved.connections[0]!, name: 'app-dev-old' }, old, state.settings, 7), ownerMarker: connectionOwnerMarker(project, 'dev') };
      const owned: ObservedIdentity = {
        identity: old,
        federatedCredentials: [{ name: federatedCredentialName(oldConnection.name), issuer: oldConnection.issuer!, subject: oldConnection.subject!, audiences: ['api://AzureADTokenExchange'] }],
        roleAssignments: [],
      };
      const result = plan(state, world(parts, { ownedIdentities: [owned], projectConnections: [...parts.connections.values(), oldConnection], lastUsed: new Map([[oldConnection.id.toLowerCase(), null]]) }));
      const deletes = destructive(result).filter((action) => action.kind === 'deleteConnection');
      assert.deepEqual(deletes.map((action) => action.environment), ['dev~id-ado-dev']);
      assert.ok(destructive(result).some((action) => action.kind === 'deleteIdentity' && action.identity.name === 'id-ado-dev'));
    });
  });

  describe('role assignments left on a deleted identity\'s principal', () => {
    it('removes those marked for this project and environment, and no others', () => {
      const state = stateWith({ prune: true });
      const parts = inSync(state);
      const scope = state.environments[0]!.roles[0]!.scope;
      const gonePrincipal = 'e1e1e1e1-0009-4000-8000-000000000009';
      const left = { ...assignment(scope, roles.contributor!.guid, gonePrincipal), description: roleAssignmentDescription('dev', project) };
      const otherProject = { ...assignment(scope, roles.reader!.guid, gonePrincipal), description: roleAssignmentDescription('dev', otherProjects[0]!) };
      const living = parts.identities.values().next().value!;
      const ofLiving = { ...living.roleAssignments[0]!, description: roleAssignmentDescription('dev', project) };
      const observed = world(parts, { markedAssignments: [left, otherProject, ofLiving] });
      const result = plan(state, observed);
      const deletions = destructive(result);
      assert.deepEqual(deletions.map((action) => (action.kind === 'deleteRoleAssignment' ? action.assignmentId : action.kind)), [left.id]);
      assert.match(deletions[0]!.reason, /left behind when that identity was deleted/);
      const reported = plan(stateWith(), observed);
      assert.ok(reported.environments[0]!.findings.some((finding) => finding.code === 'MIC530' && finding.message.includes(gonePrincipal)));
    });
  });

  describe('environments removed from the spec', () => {
    function removedWorld(state: ReturnType<typeof stateWith>) {
      const parts = inSync(state);
      const gone = environment('old');
      const identity = { ...identityFor(gone, 5), tags: ownershipTags(project, 'old') };
      const connection = { ...connectionFor(gone.connections[0]!, identity, state.settings, 5), ownerMarker: connectionOwnerMarker(project, 'old') };
      const scope = gone.roles[0]!.scope;
      const owned: ObservedIdentity = {
        identity,
        federatedCredentials: [{ name: federatedCredentialName(connection.name), issuer: connection.issuer!, subject: connection.subject!, audiences: ['api://AzureADTokenExchange'] }],
        roleAssignments: [{ ...assignment(scope, roles.contributor!.guid, identity.principalId), description: roleAssignmentDescription('old', project) }],
      };
      parts.pipelinePermissions.set(connection.id.toLowerCase(), { allPipelines: false, pipelineIds: [currentPipelineId] });
      return world(parts, { ownedIdentities: [owned], projectConnections: [...parts.connections.values(), connection], lastUsed: new Map([[connection.id.toLowerCase(), null]]) });
    }

    it('tears the whole environment down in order: permissions → connection → credential → role → identity', () => {
      const state = stateWith({ prune: true });
      const result = plan(state, removedWorld(state));
      const removed = result.environments.find((item) => item.environment === 'old');
      assert.ok(removed?.outsideSpec);
      const kinds = removed.actions.map((action: Action) => action.kind);
      assert.deepEqual(kinds, ['revokePipelines', 'deleteConnection', 'deleteFederatedCredential', 'deleteRoleAssignment', 'deleteIdentity']);
      const byKind = new Map(removed.actions.map((action) => [action.kind, action]));
      assert.deepEqual(byKind.get('deleteConnection')!.dependsOn, [byKind.get('revokePipelines')!.id]);
      assert.deepEqual(byKind.get('deleteFederatedCredential')!.dependsOn, [byKind.get('deleteConnection')!.id]);
      assert.deepEqual(byKind.get('deleteRoleAssignment')!.dependsOn, [byKind.get('deleteConnection')!.id, byKind.get('deleteFederatedCredential')!.id]);
      assert.equal(byKind.get('deleteIdentity')!.dependsOn.length, 4);
    });

    it('leaves removed environments alone when only selects a part of the spec', () => {
      const state = stateWith({ prune: true, onlySelected: true, specEnvironments: ['dev', 'prod'] });
      const result = plan(state, removedWorld(state));
      assert.deepEqual(result.environments.map((item) => item.environment), ['dev']);
    });

    it('refuses a plan deleting more than maxDeletions as a whole (MIC531)', () => {
      const state = stateWith({ prune: true, maxDeletions: 4 });
      const result = plan(state, removedWorld(state));
      const finding = result.environments.flatMap((item) => item.findings).find((item) => item.code === 'MIC531');
      assert.ok(finding);
      assert.equal(finding.severity, 'error');
    });
  });

  describe('teardown', () => {
    it('plans every owned object of the environment away and creates nothing', () => {
      const state = stateWith({ teardown: true });
      const parts = inSync(state);
      const result = plan(state, neverUsed(parts));
      const kinds = result.environments[0]!.actions.map((action) => action.kind);
      assert.deepEqual(kinds, ['revokePipelines', 'deleteConnection', 'deleteFederatedCredential', 'deleteRoleAssignment', 'deleteIdentity']);
      assert.equal(result.permissionsBroadened, false);
      assert.equal(result.permissionsNarrowed, true);
    });

    it('leaves an identity without the marker alone, and says so (MIC533)', () => {
      const state = stateWith({ teardown: true });
      const parts = inSync(state);
      updateIdentity(parts, state.environments[0]!, (current) => ({ ...current, identity: { ...current.identity, tags: {} } }));
      const result = plan(state, neverUsed(parts));
      assert.deepEqual(result.environments[0]!.actions, []);
      assert.ok(codes(result).every((code) => code === 'MIC533'));
      assert.equal(codes(result).length, 2);
    });

    it('keeps an owned identity that also trusts a credential this task did not create', () => {
      const state = stateWith({ teardown: true });
      const parts = inSync(state);
      updateIdentity(parts, state.environments[0]!, (current) => ({
        ...current,
        federatedCredentials: [...current.federatedCredentials, githubCredential],
      }));
      const result = plan(state, neverUsed(parts));
      assert.equal(result.environments[0]!.actions.some((action) => action.kind === 'deleteIdentity'), false);
      assert.deepEqual(codes(result), ['MIC533']);
    });
  });
});
