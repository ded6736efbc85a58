// The emulator world an environments spec assumes, derived from the spec alone: `npm run try` runs the spec
// against it. Pure (spec in, seed out), so the derivation is unit-tested without an emulator.
//
// The world holds what the spec names — its tenant, every subscription and resource group, every project it
// shares with and every pipeline it authorizes — plus what any pipeline running the task has: a project with
// a bootstrap pipeline, its running job, and a bootstrap connection whose identity holds exactly the least
// rights of docs/permissions.md:
//   - Managed Identity Contributor on each identity resource group;
//   - Role Based Access Control Administrator on each subscription holding a role scope ("one scope above
//     them all" of docs/permissions.md), constrained by the documented two-clause condition to the spec's own
//     roles and to service principals. Not on the role scopes themselves: the task reads role definitions
//     and the identity's role assignments at the subscription, which a grant on a resource group does not
//     allow (the emulator's rule for Microsoft.Authorization/roleDefinitions/read and roleAssignments/read;
//     unverified in a real tenant [U]);
//   - in Azure DevOps, the build service identity is Creator on service connections in the pipeline's
//     project and a member of every project the spec shares with.
// Roles the documented bootstrap may not hand out (privileged ones, and roles Azure does not know) stay out
// of the condition, so the run meets the same refusal the real one would; `needs.refusedRoles` says why.
import type { DesiredEnvironment } from '../../tasks/ManagedIdentityConnections/src/core/model';
import { authorizationWritesAllowed, wellKnownPrivilegedRole } from '../../tasks/ManagedIdentityConnections/src/core/guardrails';
import { BOOTSTRAP_IDENTITY, DEFAULT_LOCATION, DEFAULT_TENANT, defaultAzureSeed, delegationCondition } from '../../tests/emulator/azure/default-world';
import { identityResourceId, keyOf, normalizeScope, parseScope, resourceGroupResourceId } from '../../tests/emulator/azure/ids';
import { roleByGuid, roleByName, type RoleDefinition } from '../../tests/emulator/azure/role-definitions';
import type { AzureSeed } from '../../tests/emulator/azure/seed';
import { defaultDevOpsSeed, type DevOpsSeed } from '../../tests/emulator/devops/seed';

export interface SpecWorldOptions {
  /** The organization issues ID tokens in the Azure DevOps (legacy) format instead of Entra's. */
  readonly legacyIssuer?: boolean;
}

/** One right the bootstrap identity (or the build service identity) must hold for the real run. */
export interface RequiredRight {
  readonly side: 'Azure' | 'Azure DevOps';
  readonly who: string;
  readonly what: string;
  readonly where: string;
  /** For a conditioned role assignment: what the condition allows, in words. */
  readonly condition?: string;
}

/** A role of the spec that the least-rights bootstrap of docs/permissions.md cannot assign. */
export interface RefusedRole {
  readonly environment: string;
  readonly role: string;
  readonly scope: string;
  readonly reason: string;
}

/** What the real run assumes exists and may be done: printed by `npm run try` after the run. */
export interface RealRunNeeds {
  readonly rights: readonly RequiredRight[];
  readonly subscriptions: readonly string[];
  /** `/subscriptions/{id}/resourceGroups/{name}`: the task creates none of them. */
  readonly resourceGroups: readonly string[];
  /** Role scopes below a resource group: the emulator does not model resources, a real tenant needs them. */
  readonly resources: readonly string[];
  readonly projects: ReadonlyArray<{ readonly name: string; readonly why: string }>;
  readonly pipelines: ReadonlyArray<{ readonly id: number; readonly why: string }>;
  readonly refusedRoles: readonly RefusedRole[];
  /** Connection subscriptions in which the bootstrap holds no role, so it cannot read them (MIC307). */
  readonly unreadableSubscriptions: ReadonlyArray<{ readonly subscriptionId: string; readonly connection: string }>;
}

export interface SpecWorld {
  readonly seed: { readonly azure: AzureSeed; readonly devops: DevOpsSeed };
  /** The project the pipeline runs in and owns the connections. */
  readonly project: string;
  /** The id of the pipeline running the task (what `authorize: current` means). */
  readonly pipelineId: number;
  readonly needs: RealRunNeeds;
}

/** The project of the pipeline running the task: the default world's. */
export const PIPELINE_PROJECT = defaultDevOpsSeed().projects[0]!.name;
export const BOOTSTRAP_RESOURCE_GROUP = BOOTSTRAP_IDENTITY.resourceGroup;
const MANAGED_IDENTITY_CONTRIBUTOR = 'Managed Identity Contributor';
const RBAC_ADMINISTRATOR = 'Role Based Access Control Administrator';

/** GUIDs by kind, as in the default world (docs/emulator.md): role assignments 5555…, projects eeee…. */
function numberedGuid(prefix: string, n: number): string {
  return `${prefix}-0000-4000-8000-${String(n).padStart(12, '0')}`;
}

function builtInRole(role: string): RoleDefinition | undefined {
  return roleByName(role) ?? roleByGuid(role);
}

/** Why the documented bootstrap cannot assign this role, or undefined when it can. */
function refusal(role: string): string | undefined {
  const privileged = wellKnownPrivilegedRole(role);
  if (privileged) return `${privileged.name} is privileged: the condition of docs/permissions.md lets the bootstrap assign only the spec's non-privileged roles, so Azure refuses it (AuthorizationFailed) whatever allowPrivilegedRoles says`;
  const definition = builtInRole(role);
  if (!definition) return `no built-in role is named or numbered "${role}": a custom role must exist in each subscription before the run (the run reports MIC303 until it does)`;
  const writes = authorizationWritesAllowed({ guid: definition.name, id: definition.name, roleName: definition.roleName, roleType: definition.roleType, permissions: definition.permissions });
  if (writes.length > 0) return `${definition.roleName} can write ${writes[0]}: it is privileged (MIC302), and the condition of docs/permissions.md does not let the bootstrap assign it`;
  return undefined;
}

/** First-seen order, compared ignoring case: ids and names in Azure are case-insensitive. */
class OrderedSet<T> {
  private readonly items = new Map<string, T>();
  add(key: string, value: T): void {
    if (!this.items.has(keyOf(key))) this.items.set(keyOf(key), value);
  }
  values(): T[] {
    return [...this.items.values()];
  }
}

export function deriveSpecWorld(environments: readonly DesiredEnvironment[], options: SpecWorldOptions = {}): SpecWorld {
  const subscriptions = new OrderedSet<string>();
  const groups = new OrderedSet<{ subscriptionId: string; name: string; location: string }>();
  /** The resource groups the spec names (all but the bootstrap identity's own). */
  const specGroups = new OrderedSet<string>();
  const identityGroups = new OrderedSet<string>();
  /** `/subscriptions/{id}` of every role scope: where the bootstrap gets its delegation right. */
  const roleSubscriptions = new OrderedSet<string>();
  const resources = new OrderedSet<string>();
  const delegable = new OrderedSet<string>();
  const refusedRoles: RefusedRole[] = [];
  const shareProjects = new OrderedSet<{ name: string; connection: string }>();
  const listedPipelines = new Map<number, string>();
  const location = environments[0]?.identity.location ?? DEFAULT_LOCATION;
  const addGroup = (subscriptionId: string, name: string, groupLocation = location) => {
    const id = resourceGroupResourceId(subscriptionId, name);
    subscriptions.add(subscriptionId, subscriptionId);
    groups.add(id, { subscriptionId, name, location: groupLocation });
    specGroups.add(id, id);
  };

  for (const environment of environments) {
    const { ref } = environment.identity;
    addGroup(ref.subscriptionId, ref.resourceGroup, environment.identity.location);
    identityGroups.add(resourceGroupResourceId(ref.subscriptionId, ref.resourceGroup), resourceGroupResourceId(ref.subscriptionId, ref.resourceGroup));
    for (const connection of environment.connections) {
      subscriptions.add(connection.subscriptionId, connection.subscriptionId);
      if (connection.resourceGroup) addGroup(connection.subscriptionId, connection.resourceGroup);
      for (const project of connection.shareWith) shareProjects.add(project, { name: project, connection: connection.name });
      if (connection.authorize.kind === 'pipelines') for (const id of connection.authorize.pipelineIds) if (!listedPipelines.has(id)) listedPipelines.set(id, connection.name);
    }
    for (const role of environment.roles) {
      const scope = normalizeScope(role.scope);
      const parsed = parseScope(scope);
      if (parsed.subscriptionId) subscriptions.add(parsed.subscriptionId, parsed.subscriptionId);
      if (parsed.subscriptionId && parsed.resourceGroup) {
        addGroup(parsed.subscriptionId, parsed.resourceGroup);
        if (keyOf(scope) !== keyOf(resourceGroupResourceId(parsed.subscriptionId, parsed.resourceGroup))) resources.add(scope, scope);
      }
      if (parsed.subscriptionId) roleSubscriptions.add(parsed.subscriptionId, `/subscriptions/${parsed.subscriptionId}`);
      const reason = refusal(role.role);
      if (reason) refusedRoles.push({ environment: environment.name, role: role.role, scope, reason });
      else delegable.add(builtInRole(role.role)!.name, builtInRole(role.role)!.name);
    }
  }

  // The bootstrap identity lives in a resource group of its own in the spec's first subscription.
  const bootstrapSubscription = subscriptions.values()[0] ?? numberedGuid('22222222', 1);
  subscriptions.add(bootstrapSubscription, bootstrapSubscription);
  groups.add(resourceGroupResourceId(bootstrapSubscription, BOOTSTRAP_RESOURCE_GROUP), { subscriptionId: bootstrapSubscription, name: BOOTSTRAP_RESOURCE_GROUP, location });
  const bootstrapResourceId = identityResourceId(bootstrapSubscription, BOOTSTRAP_RESOURCE_GROUP, BOOTSTRAP_IDENTITY.name);

  const assignments: NonNullable<AzureSeed['roleAssignments']> = [];
  const rights: RequiredRight[] = [];
  const bootstrapWho = "the bootstrap connection's identity";
  for (const scope of identityGroups.values()) {
    assignments.push({ name: numberedGuid('55555555', assignments.length + 1), scope, roleName: MANAGED_IDENTITY_CONTRIBUTOR, principalId: BOOTSTRAP_IDENTITY.principalId, principalType: 'ServicePrincipal' });
    rights.push({ side: 'Azure', who: bootstrapWho, what: MANAGED_IDENTITY_CONTRIBUTOR, where: scope });
  }
  const delegableGuids = delegable.values();
  if (delegableGuids.length > 0) {
    const condition = delegationCondition(delegableGuids);
    const roleNames = delegableGuids.map((guid) => roleByGuid(guid)!.roleName).join(', ');
    for (const scope of roleSubscriptions.values()) {
      assignments.push({
        name: numberedGuid('55555555', assignments.length + 1),
        scope,
        roleName: RBAC_ADMINISTRATOR,
        principalId: BOOTSTRAP_IDENTITY.principalId,
        principalType: 'ServicePrincipal',
        description: `May assign ${roleNames} to service principals only (docs/permissions.md).`,
        condition,
        conditionVersion: '2.0',
      });
      rights.push({ side: 'Azure', who: bootstrapWho, what: RBAC_ADMINISTRATOR, where: scope, condition: `may assign only ${roleNames}, only to service principals` });
    }
  }

  // The connection stores its subscription's name, so the bootstrap reads each connection's subscription: it
  // needs some role at, above or below it, which the rights above may not give.
  const heldScopes = [...identityGroups.values(), ...(delegableGuids.length > 0 ? roleSubscriptions.values() : [])].map(keyOf);
  const unreadable = new OrderedSet<{ subscriptionId: string; connection: string }>();
  for (const environment of environments) {
    for (const connection of environment.connections) {
      const subscriptionScope = keyOf(`/subscriptions/${connection.subscriptionId}`);
      if (!heldScopes.some((scope) => scope === subscriptionScope || scope.startsWith(`${subscriptionScope}/`))) unreadable.add(connection.subscriptionId, { subscriptionId: connection.subscriptionId, connection: connection.name });
    }
  }

  const pipelineIds = new Set(listedPipelines.keys());
  let pipelineId = 1;
  while (pipelineIds.has(pipelineId)) pipelineId++;
  const projects = [PIPELINE_PROJECT, ...shareProjects.values().map((project) => project.name).filter((name) => keyOf(name) !== keyOf(PIPELINE_PROJECT))];
  rights.push(
    { side: 'Azure DevOps', who: 'the build service identity', what: 'the Creator role on service connections', where: `project ${PIPELINE_PROJECT}` },
    ...projects.slice(1).map((name): RequiredRight => ({ side: 'Azure DevOps', who: 'the build service identity', what: 'membership (to see it and share connections with it)', where: `project ${name}` })),
  );

  // The default world's Azure DevOps part and bootstrap identity, moved into the spec's world: one
  // definition of what a pipeline running the task has, here and in tests/emulator.
  const base = defaultDevOpsSeed();
  const bootstrapConnection = base.serviceConnections.find((connection) => connection.bootstrap)!;
  const bootstrapPipeline = base.pipelines.find((pipeline) => pipeline.id === base.jobs.find((job) => job.bootstrap)!.pipeline)!;
  const devops: DevOpsSeed = {
    ...base,
    organization: { ...base.organization, issuerType: options.legacyIssuer ? 'AzureDevOps' : 'EntraID' },
    projects: projects.map((name, index) => (index === 0 ? base.projects[0]! : { name, id: numberedGuid('eeeeeeee', index) })),
    // The build service (Creator in the pipeline's project) and the collection administrator see every project.
    identities: base.identities.map((identity) => (identity.kind === 'managed-identity' ? { ...identity, armResourceId: bootstrapResourceId } : { ...identity, projects })),
    pipelines: [{ ...bootstrapPipeline, id: pipelineId }, ...[...listedPipelines.keys()].map((id) => ({ id, project: PIPELINE_PROJECT, name: `pipeline-${id}` }))],
    serviceConnections: [{ ...bootstrapConnection, identityResourceId: bootstrapResourceId, authorizedPipelines: [pipelineId] }],
    jobs: base.jobs.filter((job) => job.bootstrap).map((job) => ({ ...job, pipeline: pipelineId })),
  };

  const bootstrapIdentity = defaultAzureSeed().identities!.find((identity) => identity.principalId === BOOTSTRAP_IDENTITY.principalId)!;
  const azure: AzureSeed = {
    tenant: { ...DEFAULT_TENANT },
    subscriptions: subscriptions.values().map((id) => ({ id, displayName: `subscription-${id.slice(0, 8)}` })),
    resourceGroups: groups.values(),
    identities: [{ ...bootstrapIdentity, subscriptionId: bootstrapSubscription, location }],
    roleAssignments: assignments,
  };

  return {
    seed: { azure, devops },
    project: PIPELINE_PROJECT,
    pipelineId,
    needs: {
      rights,
      subscriptions: subscriptions.values(),
      resourceGroups: specGroups.values(),
      resources: resources.values(),
      projects: [
        { name: PIPELINE_PROJECT, why: 'the project the pipeline runs in; it owns the connections' },
        ...shareProjects.values().filter((project) => keyOf(project.name) !== keyOf(PIPELINE_PROJECT)).map((project) => ({ name: project.name, why: `shareWith of ${project.connection}` })),
      ],
      pipelines: [
        { id: pipelineId, why: 'the pipeline running the task (authorize: current); here its id is picked to differ from the ids the spec lists' },
        ...[...listedPipelines].map(([id, connection]) => ({ id, why: `authorize of ${connection}, in project ${PIPELINE_PROJECT}` })),
      ],
      refusedRoles,
      unreadableSubscriptions: unreadable.values(),
    },
  };
}
