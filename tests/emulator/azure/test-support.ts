// Shared by the Azure emulator tests: minting assertions from the test issuer, building the real SDK
// clients against an emulator, raw ARM/Entra calls, and checking the errors clients receive.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { AuthorizationManagementClient } from '@azure/arm-authorization';
import { ManagedServiceIdentityClient } from '@azure/arm-msi';
import { ClientAssertionCredential } from '@azure/identity';
import type { RunningEmulator } from '../emulator';
import { control } from '../../helpers/emulator';
import { BOOTSTRAP_IDENTITY, DEFAULT_TENANT, DEV_SUBSCRIPTION, IDENTITY_RESOURCE_GROUP } from './default-world';

export const ARM_SCOPE = 'https://management.azure.com/.default';
export const FIC_AUDIENCE = 'api://AzureADTokenExchange';

export interface AssertionOptions {
  subject: string;
  audience?: string | string[];
  expiresInSeconds?: number;
  notBeforeSeconds?: number;
  issuer?: string;
}

export async function mintAssertion(emulator: RunningEmulator, options: AssertionOptions): Promise<string> {
  const { assertion } = await control<{ assertion: string }>(emulator, 'POST', 'test-issuer/assertions', options);
  return assertion;
}

export function testIssuer(emulator: RunningEmulator): string {
  return String(emulator.info.testIssuer);
}

/** A real ClientAssertionCredential that presents a fresh test-issuer assertion for `subject` each time. */
export function credentialFor(emulator: RunningEmulator, clientId: string, assertion: AssertionOptions, tenantId = DEFAULT_TENANT.id): ClientAssertionCredential {
  return new ClientAssertionCredential(tenantId, clientId, () => mintAssertion(emulator, assertion), {
    authorityHost: String(emulator.info.authorityHost),
    disableInstanceDiscovery: true,
  });
}

export function bootstrapCredential(emulator: RunningEmulator): ClientAssertionCredential {
  return credentialFor(emulator, BOOTSTRAP_IDENTITY.clientId, { subject: BOOTSTRAP_IDENTITY.testIssuerSubject });
}

export function msiClient(emulator: RunningEmulator, credential: ClientAssertionCredential, subscriptionId: string, maxRetries?: number): ManagedServiceIdentityClient {
  return new ManagedServiceIdentityClient(credential, subscriptionId, {
    endpoint: String(emulator.info.armEndpoint),
    credentialScopes: [ARM_SCOPE],
    ...(maxRetries === undefined ? {} : { retryOptions: { maxRetries } }),
  });
}

export function authorizationClient(emulator: RunningEmulator, credential: ClientAssertionCredential, subscriptionId: string, maxRetries?: number): AuthorizationManagementClient {
  return new AuthorizationManagementClient(credential, subscriptionId, {
    endpoint: String(emulator.info.armEndpoint),
    credentialScopes: [ARM_SCOPE],
    ...(maxRetries === undefined ? {} : { retryOptions: { maxRetries } }),
  });
}

export interface RawResponse {
  status: number;
  headers: Headers;
  body: any;
}

export async function raw(emulator: RunningEmulator, method: string, path: string, options: { token?: string; body?: unknown; form?: Record<string, string> } = {}): Promise<RawResponse> {
  const headers: Record<string, string> = {};
  let body: string | undefined;
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.form) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(options.form).toString();
  } else if (options.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(options.body);
  }
  const response = await fetch(`${emulator.info.armEndpoint}${path}`, { method, headers, body });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: keep the text
  }
  return { status: response.status, headers: response.headers, body: parsed };
}

/** The token endpoint called directly, as a client would with a federated assertion. */
export function exchange(emulator: RunningEmulator, clientId: string, assertion: string, scope = ARM_SCOPE, tenantId = DEFAULT_TENANT.id): Promise<RawResponse> {
  return raw(emulator, 'POST', `/${tenantId}/oauth2/v2.0/token`, {
    form: {
      grant_type: 'client_credentials',
      client_id: clientId,
      scope,
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: assertion,
    },
  });
}

/** An ARM access token for an identity whose federated credential trusts the test issuer with `subject`. */
export async function armToken(emulator: RunningEmulator, clientId: string, subject: string, scope = ARM_SCOPE): Promise<string> {
  const response = await exchange(emulator, clientId, await mintAssertion(emulator, { subject }), scope);
  assert.equal(response.status, 200, JSON.stringify(response.body));
  return response.body.access_token as string;
}

export function bootstrapToken(emulator: RunningEmulator): Promise<string> {
  return armToken(emulator, BOOTSTRAP_IDENTITY.clientId, BOOTSTRAP_IDENTITY.testIssuerSubject);
}

/** Awaits a rejection and checks the RestError a real ARM client surfaced. */
export async function expectRestError(promise: Promise<unknown>, expected: { statusCode: number; code: string; message?: RegExp }): Promise<Error & { statusCode?: number; code?: string }> {
  try {
    await promise;
  } catch (error) {
    const restError = error as Error & { statusCode?: number; code?: string };
    assert.equal(restError.name, 'RestError', `expected a RestError, got ${restError.name}: ${restError.message}`);
    assert.equal(restError.statusCode, expected.statusCode, restError.message);
    assert.equal(restError.code, expected.code, restError.message);
    if (expected.message) assert.match(restError.message, expected.message);
    return restError;
  }
  assert.fail(`expected ${expected.statusCode} ${expected.code}, but the call succeeded`);
}

/** Awaits a credential failure and checks the AADSTS code in what the client saw. */
export async function expectAuthenticationError(promise: Promise<unknown>, aadsts: string): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    const failure = error as Error;
    assert.match(failure.name, /Authentication/, `expected an authentication error, got ${failure.name}: ${failure.message}`);
    assert.match(failure.message, new RegExp(`${aadsts}\\b`), failure.message);
    return failure;
  }
  assert.fail(`expected ${aadsts}, but the token request succeeded`);
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${Math.random().toString(36).slice(2, 8)}`;
}

export interface IdentityJson {
  id: string;
  name: string;
  properties: { clientId: string; principalId: string; tenantId: string };
}

/** A trusted setup call through ARM's routes (no token, counts as replicated/propagated). */
export async function setupCall(emulator: RunningEmulator, method: string, path: string, body?: object): Promise<any> {
  const separator = path.includes('?') ? '&' : '?';
  const response = await emulator.ctx.internalFetch({ method, path: `${path}${separator}api-version=2024-11-30`, body, system: true });
  assert.ok(response.status < 300, `setup ${method} ${path} → ${response.status}: ${JSON.stringify(response.body)}`);
  return response.body;
}

/** Creates an identity in the identity resource group, with federated credentials, as setup. */
export async function setupIdentity(
  emulator: RunningEmulator,
  name: string,
  credentials: Array<{ name: string; issuer: string; subject: string; audiences?: string[] }> = [],
): Promise<IdentityJson> {
  const id = `/subscriptions/${DEV_SUBSCRIPTION.id}/resourceGroups/${IDENTITY_RESOURCE_GROUP}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${name}`;
  const identity = (await setupCall(emulator, 'PUT', id, { location: 'westeurope' })) as IdentityJson;
  for (const credential of credentials) {
    await setupCall(emulator, 'PUT', `${id}/federatedIdentityCredentials/${credential.name}`, {
      properties: { issuer: credential.issuer, subject: credential.subject, audiences: credential.audiences ?? [FIC_AUDIENCE] },
    });
  }
  return identity;
}

export const ROLE = {
  owner: '8e3af657-a8ff-443c-a75c-2fe8c4bcb635',
  contributor: 'b24988ac-6180-42a0-ab88-20f7382dd24c',
  reader: 'acdd72a7-3385-48ef-bd42-f606fba81ae7',
  rbacAdministrator: 'f58310d9-a9f6-439a-9e8d-f62e7b41a168',
  managedIdentityOperator: 'f1a07417-d97a-45cb-824c-7a7467783830',
};

/** Grants a role as setup (no caller checks); returns the assignment's name. */
export async function setupRoleAssignment(emulator: RunningEmulator, scope: string, roleGuid: string, principalId: string, principalType = 'ServicePrincipal'): Promise<string> {
  const name = randomUUID();
  await setupCall(emulator, 'PUT', `${scope}/providers/Microsoft.Authorization/roleAssignments/${name}`, {
    properties: { roleDefinitionId: `/providers/Microsoft.Authorization/roleDefinitions/${roleGuid}`, principalId, principalType },
  });
  return name;
}

/** An identity the test issuer can act as (subject = its name), holding `roleGuid` at `scope` when given. */
export async function actor(emulator: RunningEmulator, name: string, grant?: { scope: string; roleGuid: string }): Promise<{ identity: IdentityJson; credential: ClientAssertionCredential }> {
  const identity = await setupIdentity(emulator, name, [{ name: 'test-issuer', issuer: testIssuer(emulator), subject: name }]);
  if (grant) await setupRoleAssignment(emulator, grant.scope, grant.roleGuid, identity.properties.principalId);
  return { identity, credential: credentialFor(emulator, identity.properties.clientId, { subject: name }) };
}
