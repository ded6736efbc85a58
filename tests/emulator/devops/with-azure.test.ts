// Protects the parts of the Azure DevOps module that need Entra ID and ARM (the default world, both
// modules): AzurePipelinesCredential signs in as the bootstrap connection from the agent environment
// alone; a connection "verifies" (TestConnection) only once a matching federated credential exists and
// has propagated and the identity may read the subscription, and stops verifying when the organization
// moves it to the other issuer; the bootstrap identity's own Entra token works against Azure DevOps.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { AzurePipelinesCredential } from '@azure/identity';
import { getBearerHandler, WebApi } from 'azure-devops-node-api';
import type { ServiceEndpoint, ServiceEndpointRequestResult } from 'azure-devops-node-api/interfaces/ServiceEndpointInterfaces';
import { DEFAULT_DEVOPS_IDS } from './seed';
import type { RunningEmulator } from '../emulator';
import { control, startTestEmulator } from '../../helpers/emulator';

const ARM_SCOPE = 'https://management.azure.com/.default';
const AZURE_DEVOPS_SCOPE = '499b84ac-1321-427f-aa17-267ca6975798/.default';
const READER_ROLE = 'acdd72a7-3385-48ef-bd42-f606fba81ae7';

/** The WIF connection a task input references, found the way a task would: from the endpoint variables. */
export function wifConnectionIn(env: Record<string, string>): string {
  const key = Object.keys(env).find((name) => name.startsWith('ENDPOINT_AUTH_SCHEME_') && env[name] === 'WorkloadIdentityFederation');
  assert.ok(key, 'agentEnv carries a workload identity federation endpoint');
  return key.slice('ENDPOINT_AUTH_SCHEME_'.length);
}

/** AzurePipelinesCredential built from agent variables only (it reads SYSTEM_OIDCREQUESTURI from process.env). */
export function credentialFromAgentEnv(env: Record<string, string>): AzurePipelinesCredential {
  const id = wifConnectionIn(env);
  const saved = process.env.SYSTEM_OIDCREQUESTURI;
  process.env.SYSTEM_OIDCREQUESTURI = env.SYSTEM_OIDCREQUESTURI;
  try {
    return new AzurePipelinesCredential(env[`ENDPOINT_AUTH_PARAMETER_${id}_TENANTID`], env[`ENDPOINT_AUTH_PARAMETER_${id}_SERVICEPRINCIPALID`], id, env.SECRET_SYSTEM_ACCESSTOKEN, {
      authorityHost: env[`ENDPOINT_DATA_${id}_ENVIRONMENTAUTHORITYURL`],
      disableInstanceDiscovery: true,
    });
  } finally {
    if (saved === undefined) delete process.env.SYSTEM_OIDCREQUESTURI;
    else process.env.SYSTEM_OIDCREQUESTURI = saved;
  }
}

describe('devops with Entra ID and ARM (default world)', () => {
  let emulator: RunningEmulator;
  let env: Record<string, string>;
  let armToken: string;

  before(async () => {
    emulator = await startTestEmulator();
  });
  after(() => emulator.close());
  beforeEach(async () => {
    await emulator.reset();
    env = emulator.info.agentEnv as Record<string, string>;
    armToken = (await credentialFromAgentEnv(env).getToken(ARM_SCOPE)).token;
  });

  async function arm<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
    const id = wifConnectionIn(env);
    const response = await fetch(new URL(path, env[`ENDPOINT_URL_${id}`]), {
      method,
      headers: { authorization: `Bearer ${armToken}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as T };
  }

  function devOpsApi(token = env.SECRET_SYSTEM_ACCESSTOKEN): WebApi {
    return new WebApi(env.SYSTEM_COLLECTIONURI, getBearerHandler(token));
  }

  async function testConnection(connectionId: string): Promise<ServiceEndpointRequestResult> {
    const endpoints = await devOpsApi().getServiceEndpointApi();
    return endpoints.executeServiceEndpointRequest({ dataSourceDetails: { dataSourceName: 'TestConnection', parameters: {} }, resultTransformationDetails: {} }, env.SYSTEM_TEAMPROJECT, connectionId);
  }

  it('signs in as the bootstrap connection from agentEnv alone and reads its subscription', async () => {
    const id = wifConnectionIn(env);
    assert.equal(id, DEFAULT_DEVOPS_IDS.bootstrapConnectionId);
    const subscriptionId = env[`ENDPOINT_DATA_${id}_SUBSCRIPTIONID`];
    const subscription = await arm<{ subscriptionId: string; displayName: string }>('GET', `subscriptions/${subscriptionId}?api-version=2016-06-01`);
    assert.equal(subscription.status, 200);
    assert.equal(subscription.body.displayName, env[`ENDPOINT_DATA_${id}_SUBSCRIPTIONNAME`]);
  });

  it('verifies the bootstrap connection (TestConnection) in the default world', async () => {
    const result = await testConnection(DEFAULT_DEVOPS_IDS.bootstrapConnectionId);
    assert.equal(result.statusCode, 'ok', result.errorMessage);
    assert.equal(result.errorMessage, '');
    const logged = (emulator.ctx.requests.log).filter((entry) => entry.route === 'devops.endpointproxy');
    assert.deepEqual(logged.map((entry) => entry.kind), ['read'], 'verification counts as a read');
    const subscription = JSON.parse((result.result as string[])[0]) as { subscriptionId: string };
    assert.equal(subscription.subscriptionId, env[`ENDPOINT_DATA_${DEFAULT_DEVOPS_IDS.bootstrapConnectionId}_SUBSCRIPTIONID`]);
  });

  it('verifies a new connection only after its federated credential exists, has propagated and a role lets it read', async () => {
    const id = wifConnectionIn(env);
    const subscriptionId = env[`ENDPOINT_DATA_${id}_SUBSCRIPTIONID`];
    const tenantId = env[`ENDPOINT_AUTH_PARAMETER_${id}_TENANTID`];
    const identityPath = `subscriptions/${subscriptionId}/resourceGroups/rg-identities/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-env-dev`;

    // What the task does, in its order: identity, connection, read the pair back, federated credential, role.
    const identity = await arm<{ properties: { clientId: string; principalId: string } }>('PUT', `${identityPath}?api-version=2024-11-30`, { location: 'westeurope' });
    assert.equal(identity.status, 201);
    const endpoints = await devOpsApi().getServiceEndpointApi();
    const connection = await endpoints.createServiceEndpoint({
      name: 'env-dev',
      type: 'AzureRM',
      url: 'https://management.azure.com/',
      authorization: { scheme: 'WorkloadIdentityFederation', parameters: { tenantid: tenantId, serviceprincipalid: identity.body.properties.clientId } },
      data: { environment: 'AzureCloud', scopeLevel: 'Subscription', creationMode: 'Manual', subscriptionId, subscriptionName: env[`ENDPOINT_DATA_${id}_SUBSCRIPTIONNAME`] },
      serviceEndpointProjectReferences: [{ projectReference: { id: env.SYSTEM_TEAMPROJECTID, name: env.SYSTEM_TEAMPROJECT }, name: 'env-dev' }],
    } as ServiceEndpoint);

    const beforeCredential = await testConnection(connection.id!);
    assert.equal(beforeCredential.statusCode, 'badRequest');
    assert.match(beforeCredential.errorMessage!, /AADSTS70025/);

    await control(emulator, 'POST', 'delays', { ficPropagationMs: 1500 });
    const credential = await arm('PUT', `${identityPath}/federatedIdentityCredentials/azure-devops-env-dev?api-version=2024-11-30`, {
      properties: {
        issuer: connection.authorization!.parameters!.workloadIdentityFederationIssuer,
        subject: connection.authorization!.parameters!.workloadIdentityFederationSubject,
        audiences: ['api://AzureADTokenExchange'],
      },
    });
    assert.ok(credential.status === 200 || credential.status === 201, JSON.stringify(credential.body));
    const whilePropagating = await testConnection(connection.id!);
    assert.match(whilePropagating.errorMessage!, /AADSTS70025/, 'a fresh credential is invisible until it propagates: the identity seems to have none');

    await sleep(1600);
    const withoutRole = await testConnection(connection.id!);
    assert.equal(withoutRole.statusCode, 'forbidden');
    assert.match(withoutRole.errorMessage!, /AuthorizationFailed/);
    assert.match(withoutRole.errorMessage!, /Microsoft\.Resources\/subscriptions\/read/);

    const assignment = await arm('PUT', `subscriptions/${subscriptionId}/providers/Microsoft.Authorization/roleAssignments/8a1b9c2d-0000-4000-8000-00000000e001?api-version=2022-04-01`, {
      properties: {
        roleDefinitionId: `/subscriptions/${subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${READER_ROLE}`,
        principalId: identity.body.properties.principalId,
        principalType: 'ServicePrincipal',
      },
    });
    assert.equal(assignment.status, 201, JSON.stringify(assignment.body));
    const verified = await testConnection(connection.id!);
    assert.equal(verified.statusCode, 'ok', verified.errorMessage);

    // The organization moves the connection to the other issuer: the credential no longer matches.
    await control(emulator, 'POST', 'devops/organization/issuer', { issuerType: 'AzureDevOps', moveConnections: [connection.id] });
    const drifted = await testConnection(connection.id!);
    assert.equal(drifted.statusCode, 'unauthorized');
    assert.match(drifted.errorMessage!, /AADSTS700211/);
  });

  it('accepts the bootstrap identity’s Entra token for Azure DevOps, as a member with the Creator role', async () => {
    const token = (await credentialFromAgentEnv(env).getToken(AZURE_DEVOPS_SCOPE)).token;
    const endpoints = await devOpsApi(token).getServiceEndpointApi();
    const found = await endpoints.getServiceEndpointsByNames(env.SYSTEM_TEAMPROJECT, ['bootstrap']);
    assert.deepEqual(found.map((endpoint) => endpoint.id), [DEFAULT_DEVOPS_IDS.bootstrapConnectionId]);
    const connectionData = await devOpsApi(token).connect();
    assert.equal(connectionData.authenticatedUser?.id, DEFAULT_DEVOPS_IDS.bootstrapIdentityMemberId);
  });

  it('seeds the bootstrap identity’s federated credential from the connection it created', () => {
    const state = emulator.state() as { federatedIdentityCredentials: Array<{ properties: { issuer: string; subject: string } }>; serviceEndpoints: Array<{ id: string; authorization: { parameters: Record<string, string> } }> };
    const connection = state.serviceEndpoints.find((endpoint) => endpoint.id === DEFAULT_DEVOPS_IDS.bootstrapConnectionId)!;
    const subject = connection.authorization.parameters.workloadIdentityFederationSubject;
    assert.ok(subject.endsWith(`/sc/${DEFAULT_DEVOPS_IDS.organizationId}/${DEFAULT_DEVOPS_IDS.bootstrapConnectionId}`));
    assert.ok(state.federatedIdentityCredentials.some((credential) => credential.properties.subject === subject && credential.properties.issuer === connection.authorization.parameters.workloadIdentityFederationIssuer));
  });
});
