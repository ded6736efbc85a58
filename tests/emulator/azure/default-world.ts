// The default Azure world: fixed, readable ids so docs, tests and other modules can name them.
//
// GUIDs follow a pattern by kind (tenant 1111…, subscriptions 2222…, client ids 3333…, principal ids
// 4444…, role assignment names 5555…, users 6666…) so a log line says what an id is at a glance.
// The bootstrap identity is what the pipeline task runs as: Managed Identity Contributor on the identity
// resource group, and Role Based Access Control Administrator on both subscriptions, constrained by the
// documented two-clause delegation condition to non-privileged roles for service principals.
import { identityResourceId, resourceGroupResourceId, subscriptionResourceId } from './ids';
import { roleByName } from './role-definitions';
import type { AzureSeed } from './seed';

export const DEFAULT_TENANT = { id: '11111111-0000-4000-8000-000000000000', displayName: 'MIC Emulator', defaultDomain: 'micemulator.onmicrosoft.com' };

export const DEV_SUBSCRIPTION = { id: '22222222-0000-4000-8000-000000000001', name: 'mic-emulator-dev' };
export const PROD_SUBSCRIPTION = { id: '22222222-0000-4000-8000-000000000002', name: 'mic-emulator-prod' };

export const DEFAULT_LOCATION = 'westeurope';
/** Where the task creates the identities it manages. */
export const IDENTITY_RESOURCE_GROUP = 'rg-identities';

export const BOOTSTRAP_IDENTITY = {
  subscriptionId: DEV_SUBSCRIPTION.id,
  resourceGroup: 'rg-mic-bootstrap',
  name: 'id-mic-bootstrap',
  clientId: '33333333-0000-4000-8000-000000000001',
  principalId: '44444444-0000-4000-8000-000000000001',
  resourceId: identityResourceId(DEV_SUBSCRIPTION.id, 'rg-mic-bootstrap', 'id-mic-bootstrap'),
  /** A federated credential trusting the emulator's test issuer with this subject, so anyone can act as the bootstrap identity. */
  testIssuerSubject: 'mic-bootstrap',
};

/** A user in the directory, for role assignments that must name a non-service principal. */
export const ADMIN_USER = { id: '66666666-0000-4000-8000-000000000001', displayName: 'Emulator Admin' };

function roleGuid(roleName: string): string {
  const role = roleByName(roleName);
  if (!role) throw new Error(`role-definitions.json has no role '${roleName}'`);
  return role.name;
}

/** The roles the bootstrap identity may hand out: none of them can grant access further. */
export const DELEGABLE_ROLE_NAMES = [
  'Contributor',
  'Reader',
  'Managed Identity Operator',
  'Storage Blob Data Contributor',
  'Storage Blob Data Reader',
  'Key Vault Secrets User',
  'AcrPull',
] as const;

/** The delegation condition from Azure's docs: writes and deletes of these roles, for service principals only. */
export function delegationCondition(roleGuids: readonly string[]): string {
  const set = `{${roleGuids.join(', ')}}`;
  const clause = (action: 'write' | 'delete', source: 'Request' | 'Resource') =>
    `((!(ActionMatches{'Microsoft.Authorization/roleAssignments/${action}'})) OR ` +
    `(@${source}[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals ${set} ` +
    `AND @${source}[Microsoft.Authorization/roleAssignments:PrincipalType] ForAnyOfAnyValues:StringEqualsIgnoreCase {'ServicePrincipal'}))`;
  return `${clause('write', 'Request')} AND ${clause('delete', 'Resource')}`;
}

export const DEFAULT_ROLE_ASSIGNMENT_NAMES = {
  bootstrapIdentityContributor: '55555555-0000-4000-8000-000000000001',
  bootstrapRbacAdminDev: '55555555-0000-4000-8000-000000000002',
  bootstrapRbacAdminProd: '55555555-0000-4000-8000-000000000003',
};

export function defaultAzureSeed(): AzureSeed {
  const condition = delegationCondition(DELEGABLE_ROLE_NAMES.map(roleGuid));
  const group = (subscriptionId: string, name: string) => ({ subscriptionId, name, location: DEFAULT_LOCATION });
  return {
    tenant: { ...DEFAULT_TENANT },
    subscriptions: [
      { id: DEV_SUBSCRIPTION.id, displayName: DEV_SUBSCRIPTION.name },
      { id: PROD_SUBSCRIPTION.id, displayName: PROD_SUBSCRIPTION.name },
    ],
    resourceGroups: [
      group(DEV_SUBSCRIPTION.id, BOOTSTRAP_IDENTITY.resourceGroup),
      group(DEV_SUBSCRIPTION.id, IDENTITY_RESOURCE_GROUP),
      group(DEV_SUBSCRIPTION.id, 'rg-app-dev'),
      group(DEV_SUBSCRIPTION.id, 'rg-app-test'),
      group(PROD_SUBSCRIPTION.id, 'rg-app-prod'),
    ],
    principals: [{ id: ADMIN_USER.id, type: 'User', displayName: ADMIN_USER.displayName }],
    identities: [
      {
        subscriptionId: BOOTSTRAP_IDENTITY.subscriptionId,
        resourceGroup: BOOTSTRAP_IDENTITY.resourceGroup,
        name: BOOTSTRAP_IDENTITY.name,
        location: DEFAULT_LOCATION,
        clientId: BOOTSTRAP_IDENTITY.clientId,
        principalId: BOOTSTRAP_IDENTITY.principalId,
        federatedIdentityCredentials: [{ name: 'emulator-test-issuer', issuer: '{{testIssuer}}', subject: BOOTSTRAP_IDENTITY.testIssuerSubject }],
      },
    ],
    roleAssignments: [
      {
        name: DEFAULT_ROLE_ASSIGNMENT_NAMES.bootstrapIdentityContributor,
        scope: resourceGroupResourceId(DEV_SUBSCRIPTION.id, IDENTITY_RESOURCE_GROUP),
        roleName: 'Managed Identity Contributor',
        principalId: BOOTSTRAP_IDENTITY.principalId,
        principalType: 'ServicePrincipal',
      },
      ...[
        [DEFAULT_ROLE_ASSIGNMENT_NAMES.bootstrapRbacAdminDev, DEV_SUBSCRIPTION.id],
        [DEFAULT_ROLE_ASSIGNMENT_NAMES.bootstrapRbacAdminProd, PROD_SUBSCRIPTION.id],
      ].map(([name, subscriptionId]) => ({
        name,
        scope: subscriptionResourceId(subscriptionId),
        roleName: 'Role Based Access Control Administrator',
        principalId: BOOTSTRAP_IDENTITY.principalId,
        principalType: 'ServicePrincipal',
        description: 'May assign non-privileged roles to service principals only (delegation condition).',
        condition,
        conditionVersion: '2.0',
      })),
    ],
  };
}
