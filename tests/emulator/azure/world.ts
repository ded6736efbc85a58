// The Azure world the emulator holds: one tenant, its directory of principals, subscriptions, resource
// groups, user-assigned identities with their federated credentials, and role assignments.
//
// Plain data and lookups only. The rules (who may do what, which writes are refused, how errors read)
// live in the route modules, so the same store serves the Entra and ARM sides and the seed loader.
import { identityResourceId, keyOf, resourceGroupResourceId } from './ids';
import type { RoleDefinition } from './role-definitions';

export type PrincipalType = 'User' | 'Group' | 'ServicePrincipal' | 'ForeignGroup' | 'Device';
export const PRINCIPAL_TYPES: readonly PrincipalType[] = ['User', 'Group', 'ServicePrincipal', 'ForeignGroup', 'Device'];

export interface Tenant {
  id: string;
  displayName: string;
  defaultDomain: string;
}

export interface Subscription {
  id: string;
  displayName: string;
  state: string;
  tags?: Record<string, string>;
}

export interface ResourceGroup {
  subscriptionId: string;
  name: string;
  location: string;
  tags?: Record<string, string>;
  managedBy?: string;
}

export interface FederatedCredential {
  name: string;
  issuer: string;
  subject: string;
  audiences: string[];
  /** When it was last written (ms since epoch); 0 for seeded and setup writes, which count as propagated. */
  writtenAt: number;
}

export interface Identity {
  subscriptionId: string;
  resourceGroup: string;
  name: string;
  location: string;
  tags: Record<string, string>;
  isolationScope: string;
  tenantId: string;
  clientId: string;
  principalId: string;
  /** When ARM created it (ms since epoch); 0 for seeded and setup identities, which count as visible everywhere. */
  createdAt: number;
  /** Keyed by lowercase name, in creation order. */
  federatedCredentials: Map<string, FederatedCredential>;
}

/** A directory object a role assignment can name. */
export interface Principal {
  id: string;
  type: PrincipalType;
  displayName: string;
  /** When it appeared in the directory (ms since epoch); 0 counts as already replicated. */
  createdAt: number;
}

export interface RoleAssignment {
  name: string;
  /** Normalized (`/subscriptions/...`, no trailing slash), in the caller's spelling. */
  scope: string;
  roleDefinitionGuid: string;
  principalId: string;
  principalType: PrincipalType;
  description: string | null;
  condition: string | null;
  conditionVersion: string | null;
  delegatedManagedIdentityResourceId: string | null;
  createdOn: string;
  updatedOn: string;
  createdBy: string | null;
  updatedBy: string | null;
}

/**
 * An app registration with its service principal and client secrets: what an Azure DevOps connection with the
 * ServicePrincipal scheme signs in as (client credentials with a secret). The service principal's object id is
 * what its role assignments name.
 */
export interface Application {
  appId: string;
  displayName: string;
  servicePrincipalId: string;
  /** Client secret values that Entra accepts for it. */
  secrets: string[];
}

export class AzureWorld {
  tenant: Tenant = { id: '', displayName: '', defaultDomain: '' };
  readonly subscriptions = new Map<string, Subscription>();
  readonly resourceGroups = new Map<string, ResourceGroup>();
  readonly identities = new Map<string, Identity>();
  readonly principals = new Map<string, Principal>();
  /** Keyed by lowercase name: ARM wants role assignment names unique across scopes. */
  readonly roleAssignments = new Map<string, RoleAssignment>();
  /** Custom role definitions (PUT …/roleDefinitions/{guid}), keyed by lowercase GUID; built-ins live in role-definitions.json. */
  readonly customRoles = new Map<string, RoleDefinition>();
  /** App registrations (with their service principals), keyed by lowercase app id. */
  readonly applications = new Map<string, Application>();

  clear(): void {
    this.customRoles.clear();
    this.tenant = { id: '', displayName: '', defaultDomain: '' };
    this.subscriptions.clear();
    this.resourceGroups.clear();
    this.identities.clear();
    this.principals.clear();
    this.roleAssignments.clear();
    this.applications.clear();
  }

  application(appId: string): Application | undefined {
    return this.applications.get(keyOf(appId));
  }

  subscription(id: string): Subscription | undefined {
    return this.subscriptions.get(keyOf(id));
  }

  resourceGroup(subscriptionId: string, name: string): ResourceGroup | undefined {
    return this.resourceGroups.get(keyOf(resourceGroupResourceId(subscriptionId, name)));
  }

  putResourceGroup(group: ResourceGroup): void {
    this.resourceGroups.set(keyOf(resourceGroupResourceId(group.subscriptionId, group.name)), group);
  }

  identity(subscriptionId: string, resourceGroup: string, name: string): Identity | undefined {
    return this.identities.get(keyOf(identityResourceId(subscriptionId, resourceGroup, name)));
  }

  identityById(resourceId: string): Identity | undefined {
    return this.identities.get(keyOf(resourceId));
  }

  identityByClientId(clientId: string): Identity | undefined {
    const wanted = keyOf(clientId);
    for (const identity of this.identities.values()) if (keyOf(identity.clientId) === wanted) return identity;
    return undefined;
  }

  putIdentity(identity: Identity): void {
    this.identities.set(keyOf(identityResourceId(identity.subscriptionId, identity.resourceGroup, identity.name)), identity);
  }

  /** Removes the identity and its service principal; role assignments naming it stay, as in Azure. */
  deleteIdentity(identity: Identity): void {
    this.identities.delete(keyOf(identityResourceId(identity.subscriptionId, identity.resourceGroup, identity.name)));
    this.principals.delete(keyOf(identity.principalId));
  }

  principal(id: string): Principal | undefined {
    return this.principals.get(keyOf(id));
  }

  putPrincipal(principal: Principal): void {
    this.principals.set(keyOf(principal.id), principal);
  }

  roleAssignmentByName(name: string): RoleAssignment | undefined {
    return this.roleAssignments.get(keyOf(name));
  }

  putRoleAssignment(assignment: RoleAssignment): void {
    this.roleAssignments.set(keyOf(assignment.name), assignment);
  }

  deleteRoleAssignment(name: string): void {
    this.roleAssignments.delete(keyOf(name));
  }
}
