// Protects the behaviours where the real services are less kind than the emulator used to be, each as the
// real client receives it (docs/emulator.md, "Where real Azure is less kind"): a federated-credential PUT
// right after the identity was created answers ParentResourceNotFound; a connection reset mid-answer after the
// server committed; Azure DevOps' legacy issuer type `DevOps`, a create body asking for the Entra issuer, a
// save that moves the issuer; the stub a mere Reader gets; TF400898 on parallel pipeline-permission PATCHes;
// TestConnection believing client-sent details (the pre-2025-09-23 service).
import assert from 'node:assert/strict';
import { getBearerHandler, WebApi } from 'azure-devops-node-api';
import type { ServiceEndpoint } from 'azure-devops-node-api/interfaces/ServiceEndpointInterfaces';
import type { ServiceEndpointApi } from 'azure-devops-node-api/ServiceEndpointApi';
import type { RunningEmulator } from '../emulator';
import { control, startTestEmulator } from '../../helpers/emulator';
import { ado, OFFLINE, startOfflineEmulator, tokenFor, wifConnectionBody } from '../devops/test-world';
import { DEV_SUBSCRIPTION, IDENTITY_RESOURCE_GROUP } from './default-world';
import { bootstrapCredential, expectRestError, FIC_AUDIENCE, msiClient, testIssuer } from './test-support';

describe('emulator: where real Azure is less kind (ARM)', () => {
  let emulator: RunningEmulator;
  before(async () => {
    emulator = await startTestEmulator();
  });
  after(() => emulator.close());
  beforeEach(() => emulator.reset());

  it('answers a credential PUT with 404 ParentResourceNotFound until a new identity is visible (azure.identityVisibilityMs)', async () => {
    await control(emulator, 'POST', 'settings', { azure: { identityVisibilityMs: 400 } });
    const msi = msiClient(emulator, bootstrapCredential(emulator), DEV_SUBSCRIPTION.id);
    await msi.userAssignedIdentities.createOrUpdate(IDENTITY_RESOURCE_GROUP, 'id-fresh', { location: 'westeurope' });
    const credential = { issuer: testIssuer(emulator), subject: 'fresh', audiences: [FIC_AUDIENCE] };
    await expectRestError(msi.federatedIdentityCredentials.createOrUpdate(IDENTITY_RESOURCE_GROUP, 'id-fresh', 'fresh', credential), {
      statusCode: 404,
      code: 'ParentResourceNotFound',
      message: /Parent resource 'id-fresh' not found/,
    });
    await new Promise((resolve) => setTimeout(resolve, 450));
    const written = await msi.federatedIdentityCredentials.createOrUpdate(IDENTITY_RESOURCE_GROUP, 'id-fresh', 'fresh', credential);
    assert.equal(written.subject, 'fresh');
  });

  it('a dropAfterCommit fault commits the write, then resets the connection mid-body: the client sees a network error', async () => {
    await control(emulator, 'POST', 'faults', { rules: [{ route: 'arm.identities.put', dropAfterCommit: true, times: 1 }] });
    const msi = msiClient(emulator, bootstrapCredential(emulator), DEV_SUBSCRIPTION.id);
    const failure = await msi.userAssignedIdentities.createOrUpdate(IDENTITY_RESOURCE_GROUP, 'id-reset', { location: 'westeurope' }).then(
      () => undefined,
      (error: unknown) => error as Error & { code?: string },
    );
    assert.ok(failure, 'the client saw the answer fail');
    assert.doesNotMatch(String(failure.message), /^\{/, 'no half JSON parsed as an answer');
    const identity = await msi.userAssignedIdentities.get(IDENTITY_RESOURCE_GROUP, 'id-reset');
    assert.equal(identity.name, 'id-reset', 'the server committed before the reset');
  });

  it('TestConnection uses what the server stores; with devops.testConnectionUsesClientDetails it believes a partial client body and fails', async () => {
    const info = emulator.info as unknown as { collectionUri: string; project: { id: string }; systemAccessToken: string; bootstrapConnection: { id: string } };
    const partial = {
      dataSourceDetails: { dataSourceName: 'TestConnection', parameters: {} },
      resultTransformationDetails: {},
      serviceEndpointDetails: { type: 'AzureRM', url: 'https://management.azure.com/', authorization: { scheme: 'WorkloadIdentityFederation', parameters: { tenantid: 'x', serviceprincipalid: 'y' } } },
    };
    const storedOnly = { dataSourceDetails: partial.dataSourceDetails, resultTransformationDetails: {} };
    const run = async (body: object) => {
      const response = await fetch(`${info.collectionUri}${info.project.id}/_apis/serviceendpoint/endpointproxy?endpointId=${info.bootstrapConnection.id}&api-version=7.1`, {
        method: 'POST',
        headers: { authorization: `Bearer ${info.systemAccessToken}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return (await response.json()) as { statusCode: string; errorMessage: string };
    };
    assert.equal((await run(storedOnly)).statusCode, 'ok');
    assert.equal((await run(partial)).statusCode, 'ok', 'the fixed service ignores client-sent credentials');
    await control(emulator, 'POST', 'settings', { devops: { testConnectionUsesClientDetails: true } });
    const believed = await run(partial);
    assert.notEqual(believed.statusCode, 'ok', believed.errorMessage);
    assert.equal((await run(storedOnly)).statusCode, 'ok', 'dataSourceDetails alone still uses the stored connection');
  });
});

describe('emulator: where real Azure DevOps is less kind', () => {
  let emulator: RunningEmulator;
  let endpoints: ServiceEndpointApi;
  let buildToken: string;

  before(async () => {
    emulator = await startOfflineEmulator();
  });
  after(() => emulator.close());
  beforeEach(async () => {
    await emulator.reset();
    buildToken = String(emulator.info.systemAccessToken);
    endpoints = await new WebApi(String(emulator.info.collectionUri), getBearerHandler(buildToken)).getServiceEndpointApi();
  });

  const parameters = (endpoint: ServiceEndpoint) => endpoint.authorization!.parameters!;

  it('names the legacy issuer type DevOps, and an organization on it still gives the Entra issuer to a create that asks for it', async () => {
    await control(emulator, 'POST', 'devops/organization/issuer', { issuerType: 'DevOps' });
    const legacy = await endpoints.createServiceEndpoint(wifConnectionBody('legacy-default') as ServiceEndpoint);
    assert.equal(parameters(legacy).workloadIdentityFederationIssuerType, 'DevOps');
    assert.match(parameters(legacy).workloadIdentityFederationIssuer!, /^https:\/\/vstoken\.dev\.azure\.com\//);

    const asking = wifConnectionBody('asks-entra') as ServiceEndpoint;
    asking.authorization!.parameters!.workloadIdentityFederationIssuerType = 'EntraID';
    const entra = await endpoints.createServiceEndpoint(asking);
    assert.equal(parameters(entra).workloadIdentityFederationIssuerType, 'EntraID');
    assert.equal(parameters(entra).workloadIdentityFederationIssuer, `https://login.microsoftonline.com/${OFFLINE.tenantId}/v2.0`);

    await control(emulator, 'POST', 'settings', { devops: { honourRequestedIssuerType: false } });
    const ignored = await endpoints.createServiceEndpoint({ ...asking, name: 'asks-entra-2', serviceEndpointProjectReferences: [{ projectReference: { id: OFFLINE.platformId, name: 'Platform' }, name: 'asks-entra-2', description: '' }] });
    assert.equal(parameters(ignored).workloadIdentityFederationIssuerType, 'DevOps', 'an organization that does not honour the request');
  });

  it('with devops.updateMovesToEntraIssuer, saving a legacy connection moves it to the Entra issuer and the PUT answer carries the new pair', async () => {
    await control(emulator, 'POST', 'devops/organization/issuer', { issuerType: 'DevOps' });
    const legacy = await endpoints.createServiceEndpoint(wifConnectionBody('to-move') as ServiceEndpoint);
    await control(emulator, 'POST', 'settings', { devops: { updateMovesToEntraIssuer: true } });
    const saved = await endpoints.updateServiceEndpoint({ ...legacy, description: 'edited' }, legacy.id!);
    assert.equal(parameters(saved).workloadIdentityFederationIssuerType, 'EntraID');
    assert.equal(parameters(saved).workloadIdentityFederationSubject, `/eid1/c/pub/t/${parameters(saved).workloadIdentityFederationSubject!.split('/t/')[1]!.split('/')[0]}/a/rISbSSETf0KqFyZ8ppdXmA/sc/${OFFLINE.organizationId}/${legacy.id}`);
    const read = await endpoints.getServiceEndpointDetails('Platform', legacy.id!);
    assert.equal(parameters(read).workloadIdentityFederationIssuer, parameters(saved).workloadIdentityFederationIssuer);
  });

  it('gives a mere Reader a stub: id and name, no type, data or authorization (GET and list)', async () => {
    const reader = await tokenFor(emulator, 'reader');
    const one = await ado<Record<string, unknown>>(emulator, 'GET', `Platform/_apis/serviceendpoint/endpoints/${OFFLINE.connectionId}`, { token: reader });
    assert.equal(one.status, 200);
    assert.equal(one.body.id, OFFLINE.connectionId);
    assert.equal(one.body.name, 'bootstrap');
    for (const field of ['type', 'data', 'authorization', 'url']) assert.equal(one.body[field], undefined, field);
    const list = await ado<{ value: Record<string, unknown>[] }>(emulator, 'GET', 'Platform/_apis/serviceendpoint/endpoints?endpointNames=bootstrap', { token: reader });
    assert.deepEqual(Object.keys(list.body.value[0]!).includes('authorization'), false);
    const full = await ado<Record<string, unknown>>(emulator, 'GET', `Platform/_apis/serviceendpoint/endpoints/${OFFLINE.connectionId}`, { token: buildToken });
    assert.equal(full.body.type, 'AzureRM', 'a User (project Creator) sees all of it');
    await control(emulator, 'POST', 'settings', { devops: { readerSeesStub: false } });
    const old = await ado<Record<string, unknown>>(emulator, 'GET', `Platform/_apis/serviceendpoint/endpoints/${OFFLINE.connectionId}`, { token: reader });
    assert.equal(old.body.type, 'AzureRM');
  });

  it('answers overlapping pipeline-permission PATCHes in one project with 500 TF400898 (devops.pipelinePermissionsWriteMs)', async () => {
    await control(emulator, 'POST', 'settings', { devops: { pipelinePermissionsWriteMs: 200 } });
    const owner = await tokenFor(emulator, 'owner');
    const patch = (pipeline: number) =>
      ado(emulator, 'PATCH', `Platform/_apis/pipelines/pipelinePermissions/endpoint/${OFFLINE.connectionId}`, { token: owner, apiVersion: '7.1-preview.1', body: { pipelines: [{ id: pipeline, authorized: true }] } });
    const [first, second] = await Promise.all([patch(2), patch(1)]);
    const statuses = [first.status, second.status].sort();
    assert.deepEqual(statuses, [200, 500]);
    const refused = (first.status === 500 ? first : second).body as { message: string; typeKey: string };
    assert.match(refused.message, /^TF400898: An Internal Error Occurred\./);
    const alone = await patch(2);
    assert.equal(alone.status, 200, 'one at a time is fine');
  });

});
