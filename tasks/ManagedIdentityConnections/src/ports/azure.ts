// Azure Resource Manager, as the core needs it: user-assigned identities and their federated credentials
// (Microsoft.ManagedIdentity), role definitions and assignments (Microsoft.Authorization), subscriptions.
// Domain types, not SDK models. Adapters translate service errors into TaskErrors (MIC2xx/3xx/6xx) and
// retry what is transient (throttling, PrincipalNotFound, concurrent credential writes) before giving up.

export interface IdentityRef {
  readonly subscriptionId: string;
  readonly resourceGroup: string;
  readonly name: string;
}

export interface Identity {
  /** ARM resource id, as ARM returns it (often with lowercase `resourcegroups`). */
  readonly id: string;
  readonly name: string;
  /** The application (client) id: what a service connection stores as serviceprincipalid. */
  readonly clientId: string;
  /** The service principal object id: what role assignments name. */
  readonly principalId: string;
  readonly tenantId: string;
  readonly location: string;
  readonly tags: Readonly<Record<string, string>>;
}

export interface IdentityProperties {
  readonly location: string;
  /** The complete tag set to store (ARM replaces tags on PUT; the planner sends existing ∪ desired). */
  readonly tags: Readonly<Record<string, string>>;
}

export interface FederatedCredential {
  readonly name: string;
  readonly issuer: string;
  readonly subject: string;
  readonly audiences: readonly string[];
}

export interface IdentityClient {
  /** undefined when the identity does not exist (404). */
  getIdentity(ref: IdentityRef): Promise<Identity | undefined>;
  /** Every identity in the resource group (all pages); empty when the group does not exist. */
  listIdentities(subscriptionId: string, resourceGroup: string): Promise<Identity[]>;
  /** Every identity in the subscription the caller may read (all pages): to find the bootstrap identity by client id. */
  listIdentitiesInSubscription(subscriptionId: string): Promise<Identity[]>;
  createOrUpdateIdentity(ref: IdentityRef, properties: IdentityProperties): Promise<Identity>;
  /** Every federated credential on the identity (all pages). */
  listFederatedCredentials(ref: IdentityRef): Promise<FederatedCredential[]>;
  /** Create or replace by name. Callers write at most one at a time per identity; adapters still retry 409s. */
  putFederatedCredential(ref: IdentityRef, credential: FederatedCredential): Promise<FederatedCredential>;
  /** Deletes the identity; succeeds when it is already gone (a rerun after a crash). */
  deleteIdentity(ref: IdentityRef): Promise<void>;
  /** Deletes one credential; succeeds when it (or its identity) is already gone. One at a time per identity, like writes. */
  deleteFederatedCredential(ref: IdentityRef, name: string): Promise<void>;
}

export interface RolePermission {
  readonly actions: readonly string[];
  readonly notActions: readonly string[];
  readonly dataActions: readonly string[];
  readonly notDataActions: readonly string[];
}

export interface RoleDefinition {
  /** The role definition GUID (last segment of the id). */
  readonly guid: string;
  /** Full id as ARM returns it (`/subscriptions/…/providers/Microsoft.Authorization/roleDefinitions/{guid}` or `/providers/…`). */
  readonly id: string;
  readonly roleName: string;
  /** `BuiltInRole` or `CustomRole`. */
  readonly roleType: string;
  readonly permissions: readonly RolePermission[];
}

export interface RoleAssignment {
  readonly id: string;
  readonly name: string;
  readonly scope: string;
  readonly roleDefinitionId: string;
  readonly principalId: string;
  readonly principalType?: string;
  /** Where the task writes its ownership marker (core/ownership.ts). */
  readonly description?: string;
}

export interface RoleAssignmentRequest {
  readonly scope: string;
  /** A GUID; the planner derives it (UUID v5) so that reruns name the same assignment. */
  readonly name: string;
  readonly roleDefinitionId: string;
  readonly principalId: string;
  /** Always ServicePrincipal: it lets ARM skip the directory lookup that fails right after an identity is created. */
  readonly principalType: 'ServicePrincipal';
  readonly description: string;
}

export interface Subscription {
  /** The subscription GUID (not the `/subscriptions/…` id). */
  readonly subscriptionId: string;
  readonly displayName: string;
  readonly tenantId: string;
}

export interface RoleClient {
  /** By role name (exact, case-insensitive) or definition GUID, as seen from `scope`; undefined when none. */
  findRoleDefinition(scope: string, nameOrGuid: string): Promise<RoleDefinition | undefined>;
  /** Assignments of the principal at, above and below the subscription. */
  listAssignmentsForPrincipal(subscriptionId: string, principalId: string): Promise<RoleAssignment[]>;
  createAssignment(request: RoleAssignmentRequest): Promise<RoleAssignment>;
  /** Every assignment at, above and below the subscription, whoever holds it (all pages). */
  listAssignmentsInSubscription(subscriptionId: string): Promise<RoleAssignment[]>;
  /** Deletes an assignment by its full id; succeeds when it is already gone. */
  deleteAssignment(assignmentId: string): Promise<void>;
  /** undefined when the subscription does not exist or the caller cannot read it. */
  getSubscription(subscriptionId: string): Promise<Subscription | undefined>;
}
