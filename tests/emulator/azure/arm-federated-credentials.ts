// .../userAssignedIdentities/{name}/federatedIdentityCredentials: create, get, list (`$top`,
// `$skiptoken`, nextLink) and delete, with the rules the MSI resource provider and Entra enforce:
//   - name: ^[a-zA-Z0-9][a-zA-Z0-9-_]{2,119}$
//   - exactly one audience; issuer an https URL; issuer, subject, audience at most 600 characters
//   - at most 20 credentials per identity; issuer + subject unique per identity (a same-name re-PUT
//     with identical values is an idempotent 200)
//   - the parent identity must exist (404 ParentResourceNotFound)
//   - writes and deletes on one identity must not overlap: a write takes settings.azure.ficWriteMs,
//     counted from when the request reached the emulator (injected latency included); one that
//     overlaps another gets 409 ConcurrentFederatedIdentityCredentialsWritesForSingleManagedIdentity.
// Each credential remembers when it was written, for the token endpoint's propagation delay.
import { setTimeout as sleep } from 'node:timers/promises';
import { armError, parentResourceNotFound, resourceNotFound } from './arm-errors';
import { armRoute, type ArmCall } from './arm-pipeline';
import { identityTarget } from './arm-identities';
import { ficResourceId, FIC_TYPE, identityResourceId, keyOf } from './ids';
import { page } from './paging';
import type { AzureRuntime } from './runtime';
import type { FederatedCredential, Identity } from './world';

const READ = 'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/read';
const WRITE = 'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/write';
const DELETE = 'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/delete';
const NAME = /^[a-zA-Z0-9][a-zA-Z0-9-_]{2,119}$/;
export const MAX_CREDENTIALS_PER_IDENTITY = 20;
const MAX_FIELD_LENGTH = 600;
/** Windows older than this cannot overlap anything new; dropping them keeps the log small. */
const WRITE_LOG_RETENTION_MS = 60_000;

export function renderFederatedCredential(identity: Identity, credential: FederatedCredential): Record<string, unknown> {
  return {
    id: ficResourceId(identityResourceId(identity.subscriptionId, identity.resourceGroup, identity.name), credential.name),
    name: credential.name,
    type: FIC_TYPE,
    properties: { issuer: credential.issuer, subject: credential.subject, audiences: credential.audiences },
  };
}

function badRequest(message: string) {
  return armError(400, 'BadRequest', message);
}

export interface CredentialInput {
  issuer: string;
  subject: string;
  audiences: string[];
}

/** Validates a PUT body the way the resource provider does; returns the three properties. */
export function validateCredentialBody(name: string, body: unknown): CredentialInput {
  const properties = (body as { properties?: Record<string, unknown> } | undefined)?.properties;
  if (!properties || typeof properties !== 'object' || Object.keys(properties).length === 0) {
    throw badRequest(`Federated Identity Credential '${name}' has empty properties.`);
  }
  const { issuer, subject, audiences } = properties;
  if (typeof issuer !== 'string' || issuer === '') throw badRequest(`Federated Identity Credential '${name}' must have an issuer.`);
  if (typeof subject !== 'string' || subject === '') throw badRequest(`Federated Identity Credential '${name}' must have a subject.`);
  if (!Array.isArray(audiences) || audiences.length !== 1 || typeof audiences[0] !== 'string' || audiences[0] === '') {
    throw badRequest(`Federated Identity Credential '${name}' must have exactly one audience.`);
  }
  let issuerUrl: URL | undefined;
  try {
    issuerUrl = new URL(issuer);
  } catch {
    issuerUrl = undefined;
  }
  if (!issuerUrl || issuerUrl.protocol !== 'https:' || issuer.trim() !== issuer) {
    throw badRequest(`The issuer '${issuer}' of Federated Identity Credential '${name}' is not a valid URL. It must be an https URL without surrounding whitespace.`);
  }
  for (const [field, value] of [['issuer', issuer], ['subject', subject], ['audience', audiences[0]]] as const) {
    if (value.length > MAX_FIELD_LENGTH) throw badRequest(`The ${field} of Federated Identity Credential '${name}' is longer than ${MAX_FIELD_LENGTH} characters.`);
  }
  return { issuer, subject, audiences: [audiences[0]] };
}

/**
 * Reserves a write window on the identity or throws the 409 ARM answers for concurrent writes. The
 * window runs from the request's arrival until `until`; an overlap with any other window refuses.
 */
function reserveWriteWindow(runtime: AzureRuntime, identityId: string, arrivedAt: number, until: number): void {
  const key = keyOf(identityId);
  const windows = (runtime.ficWrites.get(key) ?? []).filter((window) => window.until > Date.now() - WRITE_LOG_RETENTION_MS);
  if (windows.some((window) => window.from < until && arrivedAt < window.until)) {
    throw armError(
      409,
      'ConcurrentFederatedIdentityCredentialsWritesForSingleManagedIdentity',
      `Too many Federated Identity Credentials are written concurrently for the managed identity '${identityId.toLowerCase()}'. Concurrent Federated Identity Credentials writes under the same managed identity are not supported.`,
    );
  }
  windows.push({ from: arrivedAt, until });
  runtime.ficWrites.set(key, windows);
}

/** Holds the answer for the write's duration, so a second write sent meanwhile overlaps it. */
async function takeWriteTime(call: ArmCall, identityId: string): Promise<void> {
  if (call.req.system) return;
  const duration = call.runtime.settings.ficWriteMs;
  const now = Date.now();
  reserveWriteWindow(call.runtime, identityId, call.req.arrivedAt ?? now, now + duration);
  if (duration > 0) await sleep(duration);
}

function parentOf(call: ArmCall, action: string): { identity: Identity; identityId: string } {
  const target = identityTarget(call, action);
  const identity = call.runtime.world.identity(target.subscriptionId, target.resourceGroup, target.name);
  if (!identity) throw parentResourceNotFound(target.name);
  return { identity, identityId: identityResourceId(identity.subscriptionId, identity.resourceGroup, identity.name) };
}

/** Creates or updates a credential; shared by the PUT route and the seed loader. */
export function putCredential(identity: Identity, name: string, input: CredentialInput, writtenAt: number): 'created' | 'updated' | 'unchanged' {
  const existing = identity.federatedCredentials.get(keyOf(name));
  if (existing && existing.issuer === input.issuer && existing.subject === input.subject && existing.audiences[0] === input.audiences[0]) return 'unchanged';
  const clash = [...identity.federatedCredentials.values()].find(
    (credential) => keyOf(credential.name) !== keyOf(name) && credential.issuer === input.issuer && credential.subject === input.subject,
  );
  if (clash) throw badRequest('Issuer and subject combination already exists for this Managed Identity.');
  if (!existing && identity.federatedCredentials.size >= MAX_CREDENTIALS_PER_IDENTITY) {
    throw badRequest(`The managed identity '${identity.name}' already has ${MAX_CREDENTIALS_PER_IDENTITY} federated identity credentials, the maximum allowed.`);
  }
  identity.federatedCredentials.set(keyOf(name), { name: existing?.name ?? name, ...input, writtenAt });
  return existing ? 'updated' : 'created';
}

export function registerFederatedCredentialRoutes(runtime: AzureRuntime): void {
  const base = '/subscriptions/:subscriptionId/resourceGroups/:resourceGroup/providers/Microsoft.ManagedIdentity/userAssignedIdentities/:identityName/federatedIdentityCredentials';

  armRoute(runtime, 'PUT', `${base}/:ficName`, 'arm.fic.put', async (call) => {
    const name = call.req.params.ficName;
    const { identity, identityId } = parentOf(call, WRITE);
    // The identity exists, but the credential resource provider has not heard of it yet.
    if (!call.req.system && identity.createdAt > 0 && Date.now() - identity.createdAt < call.runtime.settings.identityVisibilityMs) {
      throw parentResourceNotFound(identity.name);
    }
    if (!NAME.test(name)) {
      throw badRequest(`Federated Identity Credential name '${name}' is invalid. It must be 3 to 120 characters, start with a letter or digit, and contain only letters, digits, '-' and '_'.`);
    }
    const input = validateCredentialBody(name, call.body());
    await takeWriteTime(call, identityId);
    const outcome = putCredential(identity, name, input, call.req.system ? 0 : Date.now());
    const credential = identity.federatedCredentials.get(keyOf(name))!;
    return { status: outcome === 'created' ? 201 : 200, body: renderFederatedCredential(identity, credential) };
  });

  armRoute(runtime, 'GET', `${base}/:ficName`, 'arm.fic.get', (call) => {
    const { identity } = parentOf(call, READ);
    const credential = identity.federatedCredentials.get(keyOf(call.req.params.ficName));
    if (!credential) throw resourceNotFound(`Microsoft.ManagedIdentity/userAssignedIdentities/${identity.name}/federatedIdentityCredentials`, call.req.params.ficName, identity.resourceGroup);
    return { status: 200, body: renderFederatedCredential(identity, credential) };
  });

  armRoute(runtime, 'DELETE', `${base}/:ficName`, 'arm.fic.delete', async (call) => {
    const { identity, identityId } = parentOf(call, DELETE);
    if (!identity.federatedCredentials.has(keyOf(call.req.params.ficName))) return { status: 204 };
    await takeWriteTime(call, identityId);
    identity.federatedCredentials.delete(keyOf(call.req.params.ficName));
    return { status: 200 };
  });

  armRoute(runtime, 'GET', base, 'arm.fic.list', (call) => {
    const { identity } = parentOf(call, READ);
    const credentials = [...identity.federatedCredentials.values()].map((credential) => renderFederatedCredential(identity, credential));
    const identityId = identityResourceId(identity.subscriptionId, identity.resourceGroup, identity.name);
    return { status: 200, body: page(call.req, credentials, 100, `${identityId}/federatedIdentityCredentials`) };
  });
}
