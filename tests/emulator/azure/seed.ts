// The `azure` section of a seed document, checked and loaded into the world.
//
// Seeded objects go through the same rules as API writes (names, federated-credential limits, role
// assignment conflicts), so a seed cannot hold a world Azure would refuse; they count as replicated and
// propagated. `{{testIssuer}}` and `{{origin}}` in a federated credential's issuer are replaced by the
// emulator's test issuer URL and HTTPS origin, which are only known once it listens.
import { testIssuerUrl } from '../kernel/test-issuer';
import { HttpError } from '../kernel/http';
import { createIdentity } from './arm-identities';
import { putCredential, validateCredentialBody } from './arm-federated-credentials';
import { applyRoleAssignment, readRoleAssignmentBody } from './arm-role-assignments';
import { DEFAULT_TENANT } from './default-world';
import { normalizeLocation, validateResourceGroupName, validateTags } from './arm-subscriptions';
import { isGuid, normalizeScope, parseScope } from './ids';
import { roleByName, ROLE_DEFINITIONS_PROVIDER } from './role-definitions';
import type { AzureRuntime } from './runtime';
import { PRINCIPAL_TYPES, type PrincipalType } from './world';

export interface AzureSeed {
  tenant?: { id: string; displayName?: string; defaultDomain?: string };
  subscriptions?: Array<{ id: string; displayName: string; state?: string; tags?: Record<string, string> }>;
  resourceGroups?: Array<{ subscriptionId: string; name: string; location: string; tags?: Record<string, string> }>;
  /**
   * App registrations with a service principal and client secrets (what a ServicePrincipal-scheme service
   * connection signs in as). Their service principals become directory principals role assignments can name.
   */
  applications?: Array<{ appId: string; displayName?: string; servicePrincipalId: string; secrets?: string[] }>;
  /** Directory objects other than identities' service principals (users, groups, other apps). */
  principals?: Array<{ id: string; type: string; displayName?: string }>;
  identities?: Array<{
    subscriptionId: string;
    resourceGroup: string;
    name: string;
    location: string;
    tags?: Record<string, string>;
    /** Generated when absent. */
    clientId?: string;
    principalId?: string;
    federatedIdentityCredentials?: Array<{ name: string; issuer: string; subject: string; audiences?: string[] }>;
  }>;
  roleAssignments?: Array<{
    name: string;
    scope: string;
    /** A role GUID or id; or give `roleName` (a built-in role's name) instead. */
    roleDefinitionId?: string;
    roleName?: string;
    principalId: string;
    principalType?: string;
    description?: string;
    condition?: string;
    conditionVersion?: string;
  }>;
}

const SECTION_KEYS = ['tenant', 'subscriptions', 'resourceGroups', 'principals', 'identities', 'roleAssignments', 'applications'];

class SeedError extends Error {
  constructor(path: string, message: string) {
    super(`seed ${path}: ${message}`);
    this.name = 'SeedError';
  }
}

function expectObject(value: unknown, path: string, keys: readonly string[]): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new SeedError(path, 'must be an object');
  const unknown = Object.keys(value).filter((key) => !keys.includes(key));
  if (unknown.length > 0) throw new SeedError(path, `unknown field(s) ${unknown.join(', ')}; known: ${keys.join(', ')}`);
  return value as Record<string, unknown>;
}

function expectArray(value: unknown, path: string): unknown[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new SeedError(path, 'must be an array');
  return value;
}

function expectString(value: unknown, path: string): string {
  if (typeof value !== 'string' || value === '') throw new SeedError(path, 'must be a non-empty string');
  return value;
}

function expectGuid(value: unknown, path: string): string {
  if (!isGuid(value)) throw new SeedError(path, `must be a GUID, got ${JSON.stringify(value)}`);
  return value;
}

function optionalString(value: unknown, path: string): string | undefined {
  return value === undefined ? undefined : expectString(value, path);
}

/** Runs an API rule and reports its refusal against the seed path. */
function underRule<T>(path: string, apply: () => T): T {
  try {
    return apply();
  } catch (error) {
    if (error instanceof HttpError) {
      const body = error.body as { error?: { code?: string; message?: string } };
      throw new SeedError(path, `${body.error?.code ?? error.status}: ${body.error?.message ?? error.message}`);
    }
    throw error;
  }
}

export function loadAzureSeed(runtime: AzureRuntime, input: unknown): void {
  const { world, ctx } = runtime;
  const section = expectObject(input, 'azure', SECTION_KEYS);

  if (section.tenant === undefined) {
    world.tenant = { ...DEFAULT_TENANT };
  } else {
    const tenant = expectObject(section.tenant, 'azure.tenant', ['id', 'displayName', 'defaultDomain']);
    world.tenant = {
      id: expectGuid(tenant.id, 'azure.tenant.id'),
      displayName: optionalString(tenant.displayName, 'azure.tenant.displayName') ?? 'Default Directory',
      defaultDomain: optionalString(tenant.defaultDomain, 'azure.tenant.defaultDomain') ?? 'emulator.onmicrosoft.com',
    };
  }

  expectArray(section.subscriptions, 'azure.subscriptions').forEach((raw, i) => {
    const path = `azure.subscriptions[${i}]`;
    const item = expectObject(raw, path, ['id', 'displayName', 'state', 'tags']);
    const id = expectGuid(item.id, `${path}.id`);
    if (world.subscription(id)) throw new SeedError(`${path}.id`, `duplicate subscription ${id}`);
    world.subscriptions.set(id.toLowerCase(), {
      id,
      displayName: expectString(item.displayName, `${path}.displayName`),
      state: optionalString(item.state, `${path}.state`) ?? 'Enabled',
      tags: underRule(`${path}.tags`, () => validateTags(item.tags)),
    });
  });

  expectArray(section.resourceGroups, 'azure.resourceGroups').forEach((raw, i) => {
    const path = `azure.resourceGroups[${i}]`;
    const item = expectObject(raw, path, ['subscriptionId', 'name', 'location', 'tags']);
    const subscription = world.subscription(expectGuid(item.subscriptionId, `${path}.subscriptionId`));
    if (!subscription) throw new SeedError(`${path}.subscriptionId`, `no subscription ${String(item.subscriptionId)} in azure.subscriptions`);
    const name = expectString(item.name, `${path}.name`);
    underRule(`${path}.name`, () => validateResourceGroupName(name));
    world.putResourceGroup({
      subscriptionId: subscription.id,
      name,
      location: normalizeLocation(expectString(item.location, `${path}.location`)),
      tags: underRule(`${path}.tags`, () => validateTags(item.tags)),
    });
  });

  expectArray(section.principals, 'azure.principals').forEach((raw, i) => {
    const path = `azure.principals[${i}]`;
    const item = expectObject(raw, path, ['id', 'type', 'displayName']);
    const type = PRINCIPAL_TYPES.find((known) => known === item.type);
    if (!type) throw new SeedError(`${path}.type`, `must be one of ${PRINCIPAL_TYPES.join(', ')}`);
    const id = expectGuid(item.id, `${path}.id`);
    world.putPrincipal({ id, type, displayName: optionalString(item.displayName, `${path}.displayName`) ?? id, createdAt: 0 });
  });

  expectArray(section.applications, 'azure.applications').forEach((raw, i) => {
    const path = `azure.applications[${i}]`;
    const item = expectObject(raw, path, ['appId', 'displayName', 'servicePrincipalId', 'secrets']);
    const appId = expectGuid(item.appId, `${path}.appId`);
    const servicePrincipalId = expectGuid(item.servicePrincipalId, `${path}.servicePrincipalId`);
    if (world.application(appId)) throw new SeedError(`${path}.appId`, `duplicate application ${appId}`);
    const secrets = expectArray(item.secrets, `${path}.secrets`).map((secret, j) => expectString(secret, `${path}.secrets[${j}]`));
    const displayName = optionalString(item.displayName, `${path}.displayName`) ?? appId;
    world.applications.set(appId.toLowerCase(), { appId, displayName, servicePrincipalId, secrets });
    world.putPrincipal({ id: servicePrincipalId, type: 'ServicePrincipal', displayName, createdAt: 0 });
  });

  const placeholders: Record<string, string> = { '{{testIssuer}}': testIssuerUrl(ctx), '{{origin}}': ctx.urls.origin };
  const expand = (text: string) => text.replace(/\{\{(testIssuer|origin)\}\}/g, (placeholder) => placeholders[placeholder]);

  expectArray(section.identities, 'azure.identities').forEach((raw, i) => {
    const path = `azure.identities[${i}]`;
    const item = expectObject(raw, path, ['subscriptionId', 'resourceGroup', 'name', 'location', 'tags', 'clientId', 'principalId', 'federatedIdentityCredentials']);
    const subscriptionId = expectGuid(item.subscriptionId, `${path}.subscriptionId`);
    const group = world.resourceGroup(subscriptionId, expectString(item.resourceGroup, `${path}.resourceGroup`));
    if (!group) throw new SeedError(`${path}.resourceGroup`, `no resource group ${String(item.resourceGroup)} in subscription ${subscriptionId} in azure.resourceGroups`);
    const name = expectString(item.name, `${path}.name`);
    if (world.identity(group.subscriptionId, group.name, name)) throw new SeedError(`${path}.name`, `duplicate identity ${name}`);
    const clientId = item.clientId === undefined ? undefined : expectGuid(item.clientId, `${path}.clientId`);
    const principalId = item.principalId === undefined ? undefined : expectGuid(item.principalId, `${path}.principalId`);
    if (clientId && world.identityByClientId(clientId)) throw new SeedError(`${path}.clientId`, `another identity already has client id ${clientId}`);
    if (principalId && world.principal(principalId)) throw new SeedError(`${path}.principalId`, `principal ${principalId} already exists`);
    const identity = createIdentity(world, {
      subscriptionId: group.subscriptionId,
      resourceGroup: group.name,
      name,
      location: expectString(item.location, `${path}.location`),
      tags: underRule(`${path}.tags`, () => validateTags(item.tags)),
      clientId,
      principalId,
      replicated: true,
    });
    expectArray(item.federatedIdentityCredentials, `${path}.federatedIdentityCredentials`).forEach((rawCredential, j) => {
      const credentialPath = `${path}.federatedIdentityCredentials[${j}]`;
      const credential = expectObject(rawCredential, credentialPath, ['name', 'issuer', 'subject', 'audiences']);
      const credentialName = expectString(credential.name, `${credentialPath}.name`);
      const properties = {
        issuer: expand(expectString(credential.issuer, `${credentialPath}.issuer`)),
        subject: expectString(credential.subject, `${credentialPath}.subject`),
        audiences: credential.audiences ?? ['api://AzureADTokenExchange'],
      };
      underRule(credentialPath, () => {
        if (!/^[a-zA-Z0-9][a-zA-Z0-9-_]{2,119}$/.test(credentialName)) throw new SeedError(`${credentialPath}.name`, `'${credentialName}' does not match ^[a-zA-Z0-9][a-zA-Z0-9-_]{2,119}$`);
        putCredential(identity, credentialName, validateCredentialBody(credentialName, { properties }), 0);
      });
    });
  });

  expectArray(section.roleAssignments, 'azure.roleAssignments').forEach((raw, i) => {
    const path = `azure.roleAssignments[${i}]`;
    const item = expectObject(raw, path, ['name', 'scope', 'roleDefinitionId', 'roleName', 'principalId', 'principalType', 'description', 'condition', 'conditionVersion']);
    const name = expectGuid(item.name, `${path}.name`);
    const scope = normalizeScope(expectString(item.scope, `${path}.scope`));
    const { subscriptionId, resourceGroup } = parseScope(scope);
    if (subscriptionId && !world.subscription(subscriptionId)) throw new SeedError(`${path}.scope`, `no subscription ${subscriptionId} in azure.subscriptions`);
    if (subscriptionId && resourceGroup && !world.resourceGroup(subscriptionId, resourceGroup)) throw new SeedError(`${path}.scope`, `no resource group ${resourceGroup} in azure.resourceGroups`);
    let roleDefinitionId = optionalString(item.roleDefinitionId, `${path}.roleDefinitionId`);
    const roleName = optionalString(item.roleName, `${path}.roleName`);
    if ((roleDefinitionId === undefined) === (roleName === undefined)) throw new SeedError(path, 'give exactly one of roleDefinitionId and roleName');
    if (roleName !== undefined) {
      const role = roleByName(roleName);
      if (!role) throw new SeedError(`${path}.roleName`, `no built-in role named '${roleName}' in role-definitions.json`);
      roleDefinitionId = role.name;
    }
    const principalType = item.principalType as PrincipalType | undefined;
    underRule(path, () => {
      const input = readRoleAssignmentBody(scope, name, {
        properties: {
          roleDefinitionId: roleDefinitionId!.includes('/') ? roleDefinitionId : `${ROLE_DEFINITIONS_PROVIDER}/${roleDefinitionId}`,
          principalId: item.principalId,
          principalType,
          description: item.description,
          condition: item.condition,
          conditionVersion: item.conditionVersion,
        },
      });
      applyRoleAssignment(runtime, input, null, true);
    });
  });
}
