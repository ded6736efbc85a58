// Tiny builders for pure plan tests: a desired state, and an observed world that matches it exactly
// (`inSync`), which a test then bends in one place to describe its situation.
import type {
  DesiredConnection,
  DesiredEnvironment,
  DesiredRole,
  DesiredState,
  FederatedCredential,
  Identity,
  ObservedIdentity,
  ObservedWorld,
  PipelinePermissions,
  PlanSettings,
  ProjectRef,
  RoleAssignment,
  RoleDefinition,
  ServiceConnection,
  Subscription,
} from '../../../tasks/ManagedIdentityConnections/src/core/model';
import { roleKey, tokenExchangeAudience } from '../../../tasks/ManagedIdentityConnections/src/core/model';
import { federatedCredentialName, identityKey, roleAssignmentName } from '../../../tasks/ManagedIdentityConnections/src/core/names';
import { ownershipTags } from '../../../tasks/ManagedIdentityConnections/src/core/ownership';
import { parseScope, resourceGroupScope } from '../../../tasks/ManagedIdentityConnections/src/core/scopes';

export const tenantId = '72f988bf-86f1-41af-91ab-2d7cd011db47';
export const devSubscription = '11111111-1111-4111-8111-111111111111';
export const prodSubscription = '22222222-2222-4222-8222-222222222222';
export const project: ProjectRef = { id: 'a0a0a0a0-0000-4000-8000-000000000001', name: 'Platform' };
export const otherProjects: ProjectRef[] = [
  { id: 'b0b0b0b0-0000-4000-8000-000000000002', name: 'Apps' },
  { id: 'c0c0c0c0-0000-4000-8000-000000000003', name: 'Data' },
];
export const currentPipelineId = 42;
export const entraIssuer = `https://login.microsoftonline.com/${tenantId}/v2.0`;
export const legacyIssuer = 'https://vstoken.dev.azure.com/f1b2c3d4-0000-4000-8000-00000000000a';

export const roles: Record<string, RoleDefinition> = {
  contributor: definition('Contributor', 'b24988ac-6180-42a0-ab88-20f7382dd24c', ['*'], ['Microsoft.Authorization/*/Delete', 'Microsoft.Authorization/*/Write', 'Microsoft.Authorization/elevateAccess/Action']),
  reader: definition('Reader', 'acdd72a7-3385-48ef-bd42-f606fba81ae7', ['*/read']),
  grantor: definition('Access Granter', '9d0e6b5c-1f1a-4e5e-9a55-3f3c8a3f0b11', ['*/read', 'Microsoft.Authorization/roleAssignments/*'], [], 'CustomRole'),
};

export function definition(roleName: string, guid: string, actions: string[], notActions: string[] = [], roleType = 'BuiltInRole'): RoleDefinition {
  return { guid, id: `/providers/Microsoft.Authorization/roleDefinitions/${guid}`, roleName, roleType, permissions: [{ actions, notActions, dataActions: [], notDataActions: [] }] };
}

export function settings(overrides: Partial<PlanSettings> = {}): PlanSettings {
  return { project, connectionUrl: 'https://management.azure.com/', azureEnvironment: 'AzureCloud', currentPipelineId, allowPrivilegedRoles: false, ...overrides };
}

export function connection(name: string, overrides: Partial<DesiredConnection> = {}): DesiredConnection {
  return { name, subscriptionId: devSubscription, description: `Connection ${name}`, shareWith: [], authorize: { kind: 'current' }, origin: { field: `connections.${name}` }, ...overrides };
}

export function role(roleName: string, scope: string): DesiredRole {
  return { role: roleName, scope, origin: { field: `roles.${roleName}` } };
}

export function environment(name: string, overrides: Partial<Omit<DesiredEnvironment, 'identity'>> & { identityName?: string; location?: string; tags?: Record<string, string> } = {}): DesiredEnvironment {
  const { identityName, location, tags, ...rest } = overrides;
  return {
    name,
    identity: {
      ref: { subscriptionId: devSubscription, resourceGroup: 'rg-identities', name: identityName ?? `id-ado-${name}` },
      location: location ?? 'westeurope',
      tags: tags ?? {},
      origin: { field: `environments.${name}.identity` },
      ...(identityName === undefined ? { derivedName: true } : {}),
    },
    connections: [connection(`app-${name}`)],
    roles: [role('Contributor', `/subscriptions/${devSubscription}/resourceGroups/rg-app-${name}`)],
    origin: { field: `environments.${name}` },
    ...rest,
  };
}

export function desired(environments: DesiredEnvironment[], overrides: Partial<PlanSettings> = {}): DesiredState {
  return { environments, settings: settings(overrides) };
}

/** Mutable parts of an ObservedWorld, so a test can bend one thing. */
export interface WorldParts {
  identities: Map<string, ObservedIdentity>;
  connections: Map<string, ServiceConnection>;
  pipelinePermissions: Map<string, PipelinePermissions>;
  roleDefinitions: Map<string, RoleDefinition>;
  subscriptions: Map<string, Subscription>;
  projects: Map<string, ProjectRef>;
  /** By lowercased project id. */
  pipelines: Map<string, Set<number>>;
  otherProjectConnections: Map<string, ServiceConnection>;
}

/** Nothing exists yet, but the subscriptions, role definitions and projects the spec names can be read. */
export function emptyWorld(state: DesiredState): WorldParts {
  const parts: WorldParts = {
    identities: new Map(),
    connections: new Map(),
    pipelinePermissions: new Map(),
    roleDefinitions: new Map(),
    subscriptions: new Map(
      [devSubscription, prodSubscription].map((subscriptionId, index) => [subscriptionId, { subscriptionId, displayName: index === 0 ? 'Contoso Dev' : 'Contoso Prod', tenantId }]),
    ),
    projects: new Map(otherProjects.map((item) => [item.name.toLowerCase(), item])),
    // Every pipeline the spec lists is one of the project the task runs in.
    pipelines: new Map([
      [
        state.settings.project.id.toLowerCase(),
        new Set(state.environments.flatMap((environment) => environment.connections.flatMap((item) => (item.authorize.kind === 'pipelines' ? item.authorize.pipelineIds : [])))),
      ],
    ]),
    otherProjectConnections: new Map(),
  };
  for (const item of state.environments.flatMap((environment) => environment.roles)) {
    const known = Object.values(roles).find((candidate) => candidate.roleName.toLowerCase() === item.role.toLowerCase() || candidate.guid === item.role.toLowerCase());
    if (known) parts.roleDefinitions.set(roleKey(parseScope(item.scope)!.subscriptionId, item.role), known);
  }
  return parts;
}

/** Everything the spec describes exists and matches: the plan must be empty (but for connection tests). */
export function inSync(state: DesiredState): WorldParts {
  const parts = emptyWorld(state);
  state.environments.forEach((environment, index) => {
    const identity = identityFor(environment, index);
    const credentials: FederatedCredential[] = [];
    for (const wanted of environment.connections) {
      const existing = connectionFor(wanted, identity, state.settings, index);
      parts.connections.set(wanted.name.toLowerCase(), existing);
      credentials.push({ name: federatedCredentialName(wanted.name), issuer: existing.issuer!, subject: existing.subject!, audiences: [tokenExchangeAudience] });
      const permissions: PipelinePermissions =
        wanted.authorize.kind === 'all'
          ? { allPipelines: true, pipelineIds: [] }
          : { allPipelines: false, pipelineIds: wanted.authorize.kind === 'pipelines' ? [...wanted.authorize.pipelineIds] : wanted.authorize.kind === 'current' ? [currentPipelineId] : [] };
      parts.pipelinePermissions.set(existing.id.toLowerCase(), permissions);
    }
    const roleAssignments: RoleAssignment[] = environment.roles.map((item) => {
      const known = parts.roleDefinitions.get(roleKey(parseScope(item.scope)!.subscriptionId, item.role))!;
      return assignment(item.scope, known.guid, identity.principalId);
    });
    parts.identities.set(identityKey(environment.identity.ref), { identity, federatedCredentials: credentials, roleAssignments });
  });
  return parts;
}

export function build(parts: WorldParts): ObservedWorld {
  return parts;
}

export function identityFor(environment: DesiredEnvironment, index: number, generation = 1): Identity {
  const { ref } = environment.identity;
  return {
    id: `/subscriptions/${ref.subscriptionId}/resourcegroups/${ref.resourceGroup}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${ref.name}`,
    name: ref.name,
    clientId: `c1c1c1c1-000${generation}-4000-8000-${String(index + 1).padStart(12, '0')}`,
    principalId: `e1e1e1e1-000${generation}-4000-8000-${String(index + 1).padStart(12, '0')}`,
    tenantId,
    location: environment.identity.location,
    // As this version leaves it: with the ownership marker.
    tags: { ...environment.identity.tags, ...ownershipTags(project, environment.name) },
  };
}

export function connectionFor(wanted: DesiredConnection, identity: Identity, planSettings: PlanSettings, index: number): ServiceConnection {
  const id = `5c5c5c5c-0000-4000-8000-${String(index + 1).padStart(6, '0')}${wanted.name.length.toString().padStart(6, '0')}`;
  return {
    id,
    name: wanted.name,
    type: 'azurerm',
    url: planSettings.connectionUrl,
    description: wanted.description,
    authorizationScheme: 'WorkloadIdentityFederation',
    tenantId: identity.tenantId,
    clientId: identity.clientId,
    ...(wanted.resourceGroup ? { resourceGroupScope: resourceGroupScope(wanted.subscriptionId, wanted.resourceGroup) } : {}),
    issuer: entraIssuer,
    subject: `/eid1/c/pub/t/v4j5cvGGr0GRqy180BHbRw/a/rISbSSETf0KqFyZ8ppdXmA/sc/f1b2c3d4-0000-4000-8000-00000000000a/${id}`,
    issuerType: 'EntraID',
    subscriptionId: wanted.subscriptionId,
    subscriptionName: 'Contoso Dev',
    scopeLevel: 'Subscription',
    creationMode: 'Manual',
    isReady: true,
    isDisabled: false,
    projectReferences: [planSettings.project, ...otherProjects.filter((item) => wanted.shareWith.some((name) => name.toLowerCase() === item.name.toLowerCase()))],
  };
}

export function assignment(scope: string, roleGuid: string, principalId: string, name = roleAssignmentName(scope, roleGuid, principalId)): RoleAssignment {
  return {
    id: `${scope}/providers/Microsoft.Authorization/roleAssignments/${name}`,
    name,
    scope,
    roleDefinitionId: `/subscriptions/${parseScope(scope.replace(/\/+$/, ''))!.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${roleGuid}`,
    principalId,
    principalType: 'ServicePrincipal',
  };
}

/** Replaces one observed identity's record. */
export function updateIdentity(parts: WorldParts, environment: DesiredEnvironment, change: (current: ObservedIdentity) => ObservedIdentity): void {
  const key = identityKey(environment.identity.ref);
  parts.identities.set(key, change(parts.identities.get(key)!));
}

export function updateConnection(parts: WorldParts, name: string, change: Partial<ServiceConnection>): ServiceConnection {
  const updated = { ...parts.connections.get(name.toLowerCase())!, ...change };
  parts.connections.set(name.toLowerCase(), updated);
  return updated;
}

/** Deep-freezes a value, so that a test can prove a function does not mutate its inputs. */
export function deepFreeze<T>(value: T): T {
  if (value instanceof Map) {
    for (const item of value.values()) deepFreeze(item);
    Object.freeze(value);
  } else if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const item of Object.values(value)) deepFreeze(item);
    Object.freeze(value);
  }
  return value;
}
