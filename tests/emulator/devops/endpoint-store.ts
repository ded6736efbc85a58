// Creating, updating, sharing and deleting service connections: validation and the rules the server
// applies on its own (generated issuer and subject, unique names per project, secrets kept when a client
// sends them back as null). Rights are checked by the routes; the seed uses these functions directly.
import { randomUUID } from 'node:crypto';
import { badRequest } from './ado-errors';
import type { DevOpsService } from './devops-service';
import { confidentialParameters, findEndpointType, findScheme, isAzureRm, isWorkloadIdentityFederation } from './endpoint-types';
import { azureDevOpsIssuer, entraIssuer, federationNames, ISSUER_TYPES, SERVER_GENERATED_PARAMETERS, toIssuerType, type IssuerType } from './issuer-formats';
import type { EndpointProjectReference, Identity, Project, ServiceEndpoint } from './world';
import { sameText } from './world';

/** The request body of create and update, as clients send it (loosely typed: it is validated here). */
export interface EndpointInput {
  id?: unknown;
  name?: unknown;
  type?: unknown;
  url?: unknown;
  description?: unknown;
  owner?: unknown;
  data?: unknown;
  authorization?: unknown;
  isReady?: unknown;
  isDisabled?: unknown;
  serviceEndpointProjectReferences?: unknown;
}

export interface ProjectReferenceInput {
  projectReference?: { id?: unknown; name?: unknown };
  name?: unknown;
  description?: unknown;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringMap(value: unknown, what: string): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (!isObject(value)) throw badRequest(`${what} must be an object of strings.`, 'ArgumentException');
  const result: Record<string, string> = {};
  for (const [key, item] of Object.entries(value)) {
    if (item === null || item === undefined) continue;
    result[key] = typeof item === 'string' ? item : String(item);
  }
  return result;
}

/** Parameter lookup ignoring case, as the service does (`tenantid`, `tenantId`). */
export function parameter(parameters: Record<string, string>, name: string): string | undefined {
  const key = Object.keys(parameters).find((candidate) => candidate.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : parameters[key];
}

function withoutServerGenerated(parameters: Record<string, string>): Record<string, string> {
  const generated = new Set<string>(SERVER_GENERATED_PARAMETERS.map((name) => name.toLowerCase()));
  return Object.fromEntries(Object.entries(parameters).filter(([key]) => !generated.has(key.toLowerCase())));
}

export function duplicateName(name: string): Error {
  return badRequest(`Service connection with name ${name} already exists. Only a user having Administrator/User role permissions on service connection ${name} can see it.`);
}

/** Resolves `serviceEndpointProjectReferences` (by project id or name) into projects and per-project names. */
export function resolveProjectReferences(service: DevOpsService, value: unknown, defaultName: string, defaultDescription: string): Array<{ project: Project; reference: EndpointProjectReference }> {
  if (!Array.isArray(value)) throw badRequest('serviceEndpointProjectReferences must be an array of project references.', 'ArgumentException');
  return value.map((item: ProjectReferenceInput) => {
    const projectRef = isObject(item) && isObject(item.projectReference) ? item.projectReference : undefined;
    const key = typeof projectRef?.id === 'string' && projectRef.id ? projectRef.id : typeof projectRef?.name === 'string' ? projectRef.name : '';
    if (!key) throw badRequest('Each service endpoint project reference needs projectReference.id or projectReference.name.', 'ArgumentException');
    const project = service.world.project(key);
    const name = typeof item.name === 'string' && item.name.trim() ? item.name.trim() : defaultName;
    const description = typeof item.description === 'string' ? item.description : defaultDescription;
    return { project, reference: { projectId: project.id, name, description } };
  });
}

function requireUniqueName(service: DevOpsService, projectId: string, name: string, except?: string): void {
  const existing = service.world.endpointByName(projectId, name);
  if (existing && existing.id !== except) throw duplicateName(name);
}

/** The Entra issuer of every tenant a connection names must verify with the Azure DevOps key. */
function registerIssuers(service: DevOpsService, endpoint: ServiceEndpoint): void {
  const tenant = parameter(endpoint.authorization.parameters, 'tenantid');
  if (tenant) service.ctx.issuers.register(entraIssuer(tenant), service.ctx.keys.devops);
  service.ctx.issuers.register(azureDevOpsIssuer(service.world.organization.id), service.ctx.keys.devops);
}

/** (Re)writes the generated issuer, subject and issuer type of a WIF connection in the given format. */
export function applyFederation(service: DevOpsService, endpoint: ServiceEndpoint, issuerType: IssuerType): void {
  if (!isWorkloadIdentityFederation(endpoint)) return;
  const owner = endpoint.projectRefs[0];
  const names = federationNames(issuerType, {
    organization: service.world.organization,
    tenantId: parameter(endpoint.authorization.parameters, 'tenantid') ?? '',
    endpointId: endpoint.id,
    projectName: service.world.projects.find((project) => project.id === owner.projectId)?.name ?? '',
    connectionName: owner.name,
  });
  const parameters = withoutServerGenerated(endpoint.authorization.parameters);
  parameters.workloadIdentityFederationIssuer = names.issuer;
  parameters.workloadIdentityFederationSubject = names.subject;
  parameters.workloadIdentityFederationIssuerType = names.issuerType;
  endpoint.authorization.parameters = parameters;
  registerIssuers(service, endpoint);
}

export function currentIssuerType(endpoint: ServiceEndpoint): IssuerType | undefined {
  return toIssuerType(parameter(endpoint.authorization.parameters, 'workloadIdentityFederationIssuerType'));
}

/** An authorization parameter of a create or update body, as sent. */
function requestedParameter(input: EndpointInput, name: string): string | undefined {
  return isObject(input.authorization) && isObject(input.authorization.parameters) ? parameter(input.authorization.parameters as Record<string, string>, name) : undefined;
}

function requestedIssuerType(input: EndpointInput): string | undefined {
  return requestedParameter(input, 'workloadIdentityFederationIssuerType');
}

/**
 * The format a new connection gets: the organization's default, unless the create body asks for the Entra
 * issuer (`workloadIdentityFederationIssuerType: EntraID`, as Terraform's provider sends) and the organization
 * honours that request (`devops.honourRequestedIssuerType`; whether every organization does is [U]).
 */
function issuerTypeOnCreate(service: DevOpsService, input: EndpointInput): IssuerType {
  const requested = requestedIssuerType(input);
  if (requested === ISSUER_TYPES.entra && service.settings.honourRequestedIssuerType) return ISSUER_TYPES.entra;
  return service.world.organization.issuerType;
}

function validateAuthorization(typeName: string, authorization: unknown, creationMode: string | undefined): { scheme: string; parameters: Record<string, string> } {
  if (!isObject(authorization)) throw badRequest('Service Connection Authorization cannot be null.');
  const type = findEndpointType(typeName)!;
  const schemeName = typeof authorization.scheme === 'string' ? authorization.scheme : '';
  const scheme = findScheme(type, schemeName);
  if (!scheme) throw badRequest(`The authorization scheme '${schemeName}' is not supported by service connections of type '${typeName}'. Supported: ${type.authenticationSchemes.map((s) => s.scheme).join(', ')}.`);
  const parameters = withoutServerGenerated(stringMap(authorization.parameters, 'authorization.parameters'));
  if (isAzureRm(typeName) && scheme.scheme === 'WorkloadIdentityFederation' && creationMode !== 'automatic') {
    if (!parameter(parameters, 'tenantid')) throw badRequest('The tenant id (authorization.parameters.tenantid) is required for a workload identity federation connection.', 'ArgumentException');
    if (!parameter(parameters, 'serviceprincipalid')) {
      throw badRequest('The service principal id (authorization.parameters.serviceprincipalid) is required for a workload identity federation connection created manually.', 'ArgumentException');
    }
  }
  return { scheme: scheme.scheme, parameters };
}

function validateAzureRmData(data: Record<string, string>): void {
  const scopeLevel = (parameter(data, 'scopeLevel') ?? 'Subscription').toLowerCase();
  if (scopeLevel === 'subscription' && !parameter(data, 'subscriptionId')) throw badRequest('The subscription id (data.subscriptionId) is required when scopeLevel is Subscription.', 'ArgumentException');
  if (scopeLevel === 'managementgroup' && !parameter(data, 'managementGroupId')) throw badRequest('The management group id (data.managementGroupId) is required when scopeLevel is ManagementGroup.', 'ArgumentException');
}

/**
 * Azure DevOps refuses `creationMode: Automatic` (it would create an app registration with the caller's
 * refresh token) unless a signed-in user asks; the emulator creates no app registrations at all, so it
 * refuses it for every caller — with the service's message for non-user callers.
 */
function refuseAutomatic(creator: Identity): never {
  if (creator.kind === 'user') throw badRequest('The emulator does not create app registrations: creationMode Automatic is not emulated. Use creationMode Manual with an existing identity.');
  throw badRequest(`A valid refresh token for identity ${creator.id} was not found.`);
}

export interface CreateOptions {
  /** Projects the URL names when the body has no project references (the 4.x project-scoped create). */
  urlProject?: Project;
  /** Seeding may fix the id; clients never can (a client-sent `id` is ignored, as the service does). */
  fixedId?: string;
}

export function createEndpoint(service: DevOpsService, input: EndpointInput, creator: Identity, options: CreateOptions = {}): ServiceEndpoint {
  if (!isObject(input)) throw badRequest('The request body must be a service endpoint object.', 'ArgumentNullException');
  const name = typeof input.name === 'string' ? input.name.trim() : '';
  if (!name) throw badRequest('The service connection name cannot be empty.', 'ArgumentException');
  const typeName = typeof input.type === 'string' ? input.type : '';
  const type = findEndpointType(typeName);
  if (!type) throw badRequest(`Service connection type '${typeName}' is not supported.`);
  const description = typeof input.description === 'string' ? input.description : '';
  const data = stringMap(input.data, 'data');
  const creationMode = parameter(data, 'creationMode')?.toLowerCase();
  if (isAzureRm(typeName) && creationMode === 'automatic') refuseAutomatic(creator);
  const authorization = validateAuthorization(typeName, input.authorization, creationMode);
  if (isAzureRm(typeName) || type.name === 'azure') {
    if (!parameter(data, 'environment')) data.environment = 'AzureCloud';
  }
  if (isAzureRm(typeName)) validateAzureRmData(data);

  const references =
    input.serviceEndpointProjectReferences !== undefined && input.serviceEndpointProjectReferences !== null
      ? resolveProjectReferences(service, input.serviceEndpointProjectReferences, name, description)
      : options.urlProject
        ? [{ project: options.urlProject, reference: { projectId: options.urlProject.id, name, description } }]
        : [];
  if (references.length === 0) throw badRequest('serviceEndpointProjectReferences cannot be null or empty.', 'ArgumentException');
  for (const { reference } of references) requireUniqueName(service, reference.projectId, reference.name);

  const endpoint: ServiceEndpoint = {
    id: options.fixedId ?? randomUUID(),
    type: typeName,
    url: typeof input.url === 'string' && input.url ? input.url : type.endpointUrl.value,
    owner: typeof input.owner === 'string' && input.owner ? input.owner : 'library',
    data,
    authorization,
    isReady: true,
    isDisabled: false,
    operationStatus: { state: 'Ready', statusMessage: '' },
    createdById: creator.id,
    projectRefs: references.map(({ reference }) => reference),
    roles: new Map([[creator.id, 'Administrator']]),
    createdAt: new Date().toISOString(),
  };
  applyFederation(service, endpoint, issuerTypeOnCreate(service, input));
  service.world.endpoints.set(endpoint.id, endpoint);
  return endpoint;
}

export const UPDATE_OPERATIONS = ['ConvertAuthenticationScheme'] as const;

/** PUT semantics: the body replaces name, description, url, data and authorization; secrets sent back as null stay. */
export function updateEndpoint(service: DevOpsService, endpoint: ServiceEndpoint, input: EndpointInput, projectId: string | undefined, operation: string | undefined): ServiceEndpoint {
  if (!isObject(input)) throw badRequest('The request body must be a service endpoint object.', 'ArgumentNullException');
  if (typeof input.type === 'string' && input.type && !sameText(input.type, endpoint.type)) {
    throw badRequest(`The type of service connection ${endpoint.id} cannot be changed from '${endpoint.type}' to '${input.type}'.`);
  }
  if (operation !== undefined && !UPDATE_OPERATIONS.some((known) => known.toLowerCase() === operation.toLowerCase())) {
    throw badRequest(`The operation '${operation}' is not supported. Supported operations: ${UPDATE_OPERATIONS.join(', ')}.`, 'ArgumentException');
  }
  const converting = operation !== undefined;
  const creationMode = parameter(endpoint.data, 'creationMode')?.toLowerCase();
  if (converting && creationMode !== 'automatic' && !service.settings.convertManualConnections) {
    throw badRequest('Only service connections created automatically (creationMode Automatic) can be converted to another authentication scheme.');
  }
  if (converting) {
    const target = isObject(input.authorization) && typeof input.authorization.scheme === 'string' ? input.authorization.scheme : '';
    if (sameText(target, 'ServicePrincipal') && !sameText(endpoint.authorization.scheme, 'ServicePrincipal')) return revertScheme(endpoint);
    if (sameText(target, 'WorkloadIdentityFederation') && sameText(endpoint.authorization.scheme, 'ServicePrincipal')) {
      const sent = requestedParameter(input, 'serviceprincipalid');
      const current = parameter(endpoint.authorization.parameters, 'serviceprincipalid');
      if (sent !== undefined && current !== undefined && !sameText(sent, current) && !service.settings.convertAllowsNewClientId) {
        throw badRequest('Converting the authentication scheme cannot change the service principal (serviceprincipalid) of the connection.');
      }
      // What a revert restores; without `convertKeepsSecret` the service drops the secret and no revert is possible [U].
      if (service.settings.convertKeepsSecret) endpoint.revertTo = { scheme: endpoint.authorization.scheme, parameters: { ...endpoint.authorization.parameters } };
    }
  }

  const before = { issuerType: currentIssuerType(endpoint) };
  const data = input.data === undefined ? { ...endpoint.data } : stringMap(input.data, 'data');
  if (isAzureRm(endpoint.type) && parameter(data, 'creationMode')?.toLowerCase() === 'automatic' && creationMode !== 'automatic') {
    throw badRequest('creationMode cannot be changed to Automatic.');
  }
  const authorization = input.authorization === undefined ? { ...endpoint.authorization, parameters: { ...endpoint.authorization.parameters } } : validateAuthorization(endpoint.type, input.authorization, parameter(data, 'creationMode')?.toLowerCase());
  // Secrets come back from GET as null; a client that PUTs that object back keeps the stored secret.
  const secrets = confidentialParameters(endpoint.type, authorization.scheme);
  for (const [key, value] of Object.entries(endpoint.authorization.parameters)) {
    if (secrets.has(key.toLowerCase()) && parameter(authorization.parameters, key) === undefined && authorization.scheme === endpoint.authorization.scheme) authorization.parameters[key] = value;
  }
  if (isAzureRm(endpoint.type)) validateAzureRmData(data);

  // Per-project names come from the body's project references; a top-level name or description that differs
  // from what the caller's project shows renames that project's reference (what a client that edits the
  // object it got from GET means), references or not.
  const references = endpoint.projectRefs.map((ref) => ({ ...ref }));
  const context = references.find((ref) => ref.projectId === projectId) ?? references[0];
  const shown = { name: context.name, description: context.description };
  if (Array.isArray(input.serviceEndpointProjectReferences)) {
    for (const { reference } of resolveProjectReferences(service, input.serviceEndpointProjectReferences, shown.name, '')) {
      const existing = references.find((ref) => ref.projectId === reference.projectId);
      if (existing) Object.assign(existing, { name: reference.name, description: reference.description });
    }
  }
  if (typeof input.name === 'string' && input.name.trim() && input.name.trim() !== shown.name) context.name = input.name.trim();
  if (typeof input.description === 'string' && input.description !== shown.description) context.description = input.description;
  for (const ref of references) requireUniqueName(service, ref.projectId, ref.name, endpoint.id);

  endpoint.projectRefs = references;
  endpoint.data = data;
  endpoint.authorization = authorization;
  if (typeof input.url === 'string' && input.url) endpoint.url = input.url;
  if (typeof input.isDisabled === 'boolean') endpoint.isDisabled = input.isDisabled;
  if (converting) {
    if (endpoint.revertTo) endpoint.data.revertSchemeDeadline = new Date(Date.now() + 7 * 24 * 3600_000).toISOString();
    else delete endpoint.data.revertSchemeDeadline;
  }
  // The connection keeps its issuer format; the generated values follow what they embed (the tenant, or
  // for the legacy format the owner project's connection name: renaming breaks a legacy credential). With
  // `devops.updateMovesToEntraIssuer`, saving a legacy connection moves it to the Entra issuer — Microsoft's
  // documented fix is "edit the connection and save" (convert-service-connections) — and the PUT answer
  // carries the new pair.
  // A save that asks for the Entra issuer (`workloadIdentityFederationIssuerType: EntraID`, as the create does)
  // moves the connection when the organization honours that request: how migrate-issuer asks, since the call
  // behind the portal's Update button is undocumented [U] (docs/emulator.md).
  const keep = before.issuerType ?? service.world.organization.issuerType;
  const moves = service.settings.updateMovesToEntraIssuer || (requestedIssuerType(input) === ISSUER_TYPES.entra && service.settings.honourRequestedIssuerType);
  applyFederation(service, endpoint, moves ? ISSUER_TYPES.entra : keep);
  return endpoint;
}

/**
 * The revert: the same ConvertAuthenticationScheme PUT with scheme ServicePrincipal, within 7 days
 * (`data.revertSchemeDeadline`), restores the kept authorization — secret included (community scripts, [I]).
 */
function revertScheme(endpoint: ServiceEndpoint): ServiceEndpoint {
  const deadline = Date.parse(endpoint.data.revertSchemeDeadline ?? '');
  if (!endpoint.revertTo || !(deadline > Date.now())) {
    throw badRequest(`The authentication scheme of service connection ${endpoint.id} cannot be reverted: there is no earlier scheme to go back to, or its revert deadline has passed.`);
  }
  endpoint.authorization = { scheme: endpoint.revertTo.scheme, parameters: { ...endpoint.revertTo.parameters } };
  delete endpoint.revertTo;
  delete endpoint.data.revertSchemeDeadline;
  return endpoint;
}

export function shareEndpoint(service: DevOpsService, endpoint: ServiceEndpoint, body: unknown): void {
  const owner = endpoint.projectRefs[0];
  for (const { reference } of resolveProjectReferences(service, body, owner.name, owner.description)) {
    const existing = endpoint.projectRefs.find((ref) => ref.projectId === reference.projectId);
    if (existing) continue;
    requireUniqueName(service, reference.projectId, reference.name);
    endpoint.projectRefs.push(reference);
  }
}

/** Removes the connection from the projects; it is gone when no project references it any more. */
export function removeFromProjects(service: DevOpsService, endpoint: ServiceEndpoint, projectIds: string[]): void {
  endpoint.projectRefs = endpoint.projectRefs.filter((ref) => !projectIds.includes(ref.projectId));
  for (const projectId of projectIds) service.world.permissions.delete(service.world.permissionsKey(projectId, 'endpoint', endpoint.id));
  if (endpoint.projectRefs.length === 0) service.world.endpoints.delete(endpoint.id);
}
