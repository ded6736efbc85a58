// Protects the service connection rules the task depends on, driven through azure-devops-node-api's
// ServiceEndpointApi exactly as the task will call it: the server generates issuer and subject (ignoring
// what a client sends), names are unique per project ignoring case, secrets never come back, shared
// connections appear in both projects, deletes are per project, failed and disabled connections behave
// as documented, Automatic creation is refused, and api-versions are negotiated like the real service.
import assert from 'node:assert/strict';
import { getBearerHandler, WebApi } from 'azure-devops-node-api';
import type { ServiceEndpointApi } from 'azure-devops-node-api/ServiceEndpointApi';
import type { ServiceEndpoint } from 'azure-devops-node-api/interfaces/ServiceEndpointInterfaces';
import { ado, OFFLINE, startOfflineEmulator, tokenFor, wifConnectionBody } from './test-world';
import { encodeGuidForSubject } from './issuer-formats';
import type { RunningEmulator } from '../emulator';
import { control } from '../../helpers/emulator';

describe('devops: service connections', () => {
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

  const apps = { id: OFFLINE.appsId, name: 'Apps' };

  it('generates issuer and subject on create and ignores the values a client sends', async () => {
    const body = wifConnectionBody('env-dev') as ServiceEndpoint;
    body.authorization!.parameters!.workloadIdentityFederationIssuer = 'https://attacker.example';
    body.authorization!.parameters!.workloadIdentityFederationSubject = 'sc://forged';
    const created = await endpoints.createServiceEndpoint(body);
    const parameters = created.authorization!.parameters!;
    assert.equal(parameters.workloadIdentityFederationIssuer, `https://login.microsoftonline.com/${OFFLINE.tenantId}/v2.0`);
    assert.equal(
      parameters.workloadIdentityFederationSubject,
      `/eid1/c/pub/t/${encodeGuidForSubject(OFFLINE.tenantId)}/a/rISbSSETf0KqFyZ8ppdXmA/sc/${OFFLINE.organizationId}/${created.id}`,
    );
    assert.equal(parameters.workloadIdentityFederationIssuerType, 'EntraID');
    assert.equal(created.isReady, true);
    assert.deepEqual(created.operationStatus, { state: 'Ready', statusMessage: '' });
  });

  it('finds connections by name ignoring case and refuses a second one with the same name', async () => {
    const created = await endpoints.createServiceEndpoint(wifConnectionBody('Env-Dev') as ServiceEndpoint);
    const found = await endpoints.getServiceEndpointsByNames('Platform', ['ENV-DEV']);
    assert.deepEqual(found.map((endpoint) => endpoint.id), [created.id]);
    await assert.rejects(endpoints.createServiceEndpoint(wifConnectionBody('env-dev') as ServiceEndpoint), (error: Error & { statusCode?: number }) => {
      assert.equal(error.statusCode, 400);
      assert.match(error.message, /Service connection with name env-dev already exists/);
      return true;
    });
  });

  it('makes the creator Administrator: it may update, share and delete what it created', async () => {
    const created = await endpoints.createServiceEndpoint(wifConnectionBody('env-test') as ServiceEndpoint);
    const subject = created.authorization!.parameters!.workloadIdentityFederationSubject;

    const renamed = await endpoints.updateServiceEndpoint({ ...created, name: 'env-test-renamed', description: 'renamed' }, created.id!);
    assert.equal(renamed.name, 'env-test-renamed');
    assert.equal(renamed.authorization!.parameters!.workloadIdentityFederationSubject, subject, 'the Entra subject embeds the id, not the name');

    await endpoints.shareServiceEndpoint([{ projectReference: apps, name: 'env-test-shared', description: '' }], created.id!);
    const inApps = await endpoints.getServiceEndpointDetails('Apps', created.id!);
    assert.equal(inApps.name, 'env-test-shared');
    assert.equal(inApps.isShared, true);
    assert.equal(inApps.serviceEndpointProjectReferences!.length, 2);

    await endpoints.deleteServiceEndpoint(created.id!, [OFFLINE.appsId]);
    assert.equal(await endpoints.getServiceEndpointDetails('Apps', created.id!), null, 'gone from Apps');
    assert.equal((await endpoints.getServiceEndpointDetails('Platform', created.id!)).isShared, false, 'still in Platform');
    await endpoints.deleteServiceEndpoint(created.id!, [OFFLINE.platformId]);
    assert.equal(await endpoints.getServiceEndpointDetails('Platform', created.id!), null);
    assert.equal((emulator.state().serviceEndpoints as unknown[]).length, 1, 'only the seeded bootstrap connection is left');
  });

  it('moves the legacy subject with the name but keeps the Entra one', async () => {
    await control(emulator, 'POST', 'devops/organization/issuer', { issuerType: 'AzureDevOps' });
    const legacy = await endpoints.createServiceEndpoint(wifConnectionBody('legacy-env') as ServiceEndpoint);
    assert.equal(legacy.authorization!.parameters!.workloadIdentityFederationIssuer, `https://vstoken.dev.azure.com/${OFFLINE.organizationId}`);
    assert.equal(legacy.authorization!.parameters!.workloadIdentityFederationSubject, 'sc://contoso/Platform/legacy-env');
    const renamed = await endpoints.updateServiceEndpoint({ ...legacy, name: 'legacy-env-2' }, legacy.id!);
    assert.equal(renamed.authorization!.parameters!.workloadIdentityFederationSubject, 'sc://contoso/Platform/legacy-env-2');
    assert.equal(renamed.authorization!.parameters!.workloadIdentityFederationIssuerType, 'DevOps');
  });

  it('moves existing connections to the other issuer on request (the drift the task repairs)', async () => {
    const created = await endpoints.createServiceEndpoint(wifConnectionBody('env-prod') as ServiceEndpoint);
    const moved = await control<{ moved: Array<{ id: string; issuer: string; subject: string }> }>(emulator, 'POST', 'devops/organization/issuer', {
      issuerType: 'AzureDevOps',
      moveConnections: [created.id],
    });
    assert.deepEqual(moved.moved.map((item) => item.id), [created.id]);
    const read = await endpoints.getServiceEndpointDetails('Platform', created.id!);
    assert.equal(read.authorization!.parameters!.workloadIdentityFederationSubject, 'sc://contoso/Platform/env-prod');
    assert.equal(read.authorization!.parameters!.workloadIdentityFederationIssuerType, 'DevOps');
    const other = (await endpoints.getServiceEndpointsByNames('Platform', ['bootstrap']))[0];
    assert.equal(other.authorization!.parameters!.workloadIdentityFederationIssuerType, 'EntraID', 'connections not named stay');
  });

  it('never echoes a secret, and keeps it when a client PUTs the null back', async () => {
    const owner = await tokenFor(emulator, 'owner');
    const ownerEndpoints = await new WebApi(String(emulator.info.collectionUri), getBearerHandler(owner)).getServiceEndpointApi();
    const body = wifConnectionBody('secret-sp') as ServiceEndpoint;
    body.authorization = { scheme: 'ServicePrincipal', parameters: { tenantid: OFFLINE.tenantId, serviceprincipalid: OFFLINE.clientId, authenticationType: 'spnKey', serviceprincipalkey: 'hunter2' } };
    const created = await ownerEndpoints.createServiceEndpoint(body);
    assert.equal(created.authorization!.parameters!.serviceprincipalkey, null);
    await ownerEndpoints.updateServiceEndpoint({ ...created, description: 'x' }, created.id!);
    const listed = JSON.stringify(await ownerEndpoints.getServiceEndpoints('Platform'));
    assert.doesNotMatch(listed, /hunter2/);
    assert.doesNotMatch(JSON.stringify(emulator.state()), /hunter2/);
    // The stored secret survived the PUT of a null: a job referencing the connection gets it from the agent.
    const authorize = await ado(emulator, 'PATCH', `Platform/_apis/pipelines/pipelinePermissions/endpoint/${created.id}`, {
      token: owner,
      apiVersion: '7.1-preview.1',
      body: { pipelines: [{ id: 2, authorized: true }] },
    });
    assert.equal(authorize.status, 200);
    const job = await control<{ agentEnv: Record<string, string> }>(emulator, 'POST', 'devops/jobs', { pipelineId: 2, templateParameters: { connections: 'secret-sp' } });
    assert.equal(job.agentEnv[`ENDPOINT_AUTH_PARAMETER_${created.id}_SERVICEPRINCIPALKEY`], 'hunter2');
  });

  it('refuses creationMode Automatic from a non-user caller with the service message', async () => {
    const body = wifConnectionBody('auto') as ServiceEndpoint;
    body.data!.creationMode = 'Automatic';
    await assert.rejects(endpoints.createServiceEndpoint(body), (error: Error & { statusCode?: number }) => {
      assert.equal(error.statusCode, 400);
      assert.match(error.message, /^A valid refresh token for identity [0-9a-f-]{36} was not found\.$/);
      return true;
    });
  });

  it('hides failed connections unless includeFailed is set', async () => {
    const created = await endpoints.createServiceEndpoint(wifConnectionBody('will-fail') as ServiceEndpoint);
    await control(emulator, 'POST', `devops/serviceendpoints/${created.id}/fail`, { statusMessage: 'Failed to create an app in Microsoft Entra ID.' });
    assert.deepEqual(await endpoints.getServiceEndpointsByNames('Platform', ['will-fail']), []);
    const withFailed = await endpoints.getServiceEndpointsByNames('Platform', ['will-fail'], undefined, undefined, undefined, true);
    assert.equal(withFailed.length, 1);
    assert.equal(withFailed[0].isReady, false);
    assert.deepEqual(withFailed[0].operationStatus, { state: 'Failed', statusMessage: 'Failed to create an app in Microsoft Entra ID.' });
  });

  it('reports isDisabled after the auto-disable control call and clears it on enable', async () => {
    const id = String((emulator.info.bootstrapConnection as { id: string }).id);
    await control(emulator, 'POST', `devops/serviceendpoints/${id}/disable`);
    assert.equal((await endpoints.getServiceEndpointDetails('Platform', id)).isDisabled, true);
    await control(emulator, 'POST', `devops/serviceendpoints/${id}/enable`);
    assert.equal((await endpoints.getServiceEndpointDetails('Platform', id)).isDisabled, false);
  });

  it('lists with the spec filters: type, authSchemes, owner, endpointIds', async () => {
    const created = await endpoints.createServiceEndpoint(wifConnectionBody('filtered') as ServiceEndpoint);
    const byType = await endpoints.getServiceEndpoints('Platform', 'azurerm', ['WorkloadIdentityFederation'], undefined, 'library');
    assert.deepEqual(byType.map((endpoint) => endpoint.name).sort(), ['bootstrap', 'filtered']);
    assert.deepEqual(await endpoints.getServiceEndpoints('Platform', 'generic'), []);
    assert.deepEqual((await endpoints.getServiceEndpoints('Platform', undefined, undefined, [created.id!])).map((endpoint) => endpoint.id), [created.id]);
  });

  it('accepts ConvertAuthenticationScheme only for connections Azure DevOps created, and no unknown operation', async () => {
    const created = await endpoints.createServiceEndpoint(wifConnectionBody('manual-one') as ServiceEndpoint);
    const convert = await ado<{ message: string }>(emulator, 'PUT', `_apis/serviceendpoint/endpoints/${created.id}?operation=ConvertAuthenticationScheme`, { token: buildToken, body: created });
    assert.equal(convert.status, 400);
    assert.match(convert.body.message, /creationMode Automatic/);
    const unknown = await ado(emulator, 'PUT', `_apis/serviceendpoint/endpoints/${created.id}?operation=Frobnicate`, { token: buildToken, body: created });
    assert.equal(unknown.status, 400);
  });

  it('shapes injected faults like Azure DevOps errors', async () => {
    await control(emulator, 'POST', 'faults', { rules: [{ route: 'devops.endpoints.list', status: 503, times: 1 }] });
    const faulted = await ado<{ typeKey: string; $id: string; message: string }>(emulator, 'GET', 'Platform/_apis/serviceendpoint/endpoints', { token: buildToken });
    assert.equal(faulted.status, 503);
    assert.equal(faulted.body.$id, '1');
    assert.equal(faulted.body.typeKey, 'ServiceUnavailable');
    assert.equal((await ado(emulator, 'GET', 'Platform/_apis/serviceendpoint/endpoints', { token: buildToken })).status, 200, 'only once');
    await control(emulator, 'DELETE', 'faults');
  });

  it('answers null for an id it does not know, as the service does', async () => {
    assert.equal(await endpoints.getServiceEndpointDetails('Platform', '00000000-0000-0000-0000-000000000001'), null);
  });

  it('describes its types, including the server-generated WIF parameters', async () => {
    const types = await endpoints.getServiceEndpointTypes('azurerm', 'WorkloadIdentityFederation');
    assert.equal(types.length, 1);
    const ids = types[0].authenticationSchemes![0].inputDescriptors!.map((descriptor) => descriptor.id);
    assert.ok(ids.includes('workloadIdentityFederationSubject'));
    assert.equal(types[0].authenticationSchemes!.length, 1);
  });

  describe('api-version negotiation', () => {
    it('refuses a write without api-version', async () => {
      const response = await ado<{ typeKey: string; message: string }>(emulator, 'POST', '_apis/serviceendpoint/endpoints', { token: buildToken, body: wifConnectionBody('x'), apiVersion: null });
      assert.equal(response.status, 400);
      assert.equal(response.body.typeKey, 'VssVersionNotSpecifiedException');
    });

    it('accepts the version in the Accept header, as node-api sends it', async () => {
      const response = await ado(emulator, 'GET', 'Platform/_apis/serviceendpoint/endpoints', { token: buildToken, apiVersion: null, headers: { accept: 'application/json;api-version=7.2-preview.4' } });
      assert.equal(response.status, 200);
    });

    it('refuses a version above the maximum and a preview version without -preview', async () => {
      const tooHigh = await ado<{ typeKey: string }>(emulator, 'GET', 'Platform/_apis/serviceendpoint/endpoints', { token: buildToken, apiVersion: '9.0' });
      assert.equal(tooHigh.status, 400);
      assert.equal(tooHigh.body.typeKey, 'VssVersionOutOfRangeException');
      const notPreview = await ado<{ typeKey: string; message: string }>(emulator, 'GET', `Platform/_apis/pipelines/pipelinePermissions/endpoint/${OFFLINE.connectionId}`, {
        token: buildToken,
        apiVersion: '7.1',
      });
      assert.equal(notPreview.status, 400);
      assert.equal(notPreview.body.typeKey, 'VssInvalidPreviewVersionException');
      assert.match(notPreview.body.message, /-preview flag must be supplied/);
    });

    it('serves location data for every area node-api asks about', async () => {
      for (const [area, id] of [
        ['serviceendpoint', 'e85f1c62-adfc-4b74-b618-11a150fb195e'],
        ['distributedtask', '69a319f4-28c1-4bfd-93e6-ea0ff5c6f1a2'],
        ['pipelines', '7859261e-d2e9-4a68-b820-a5d84cc5bb3d'],
        ['pipelinePermissions', 'b5b9a4a4-e6cd-4096-853c-ab7d8b0c4eb2'],
        ['core', '603fe2ac-9723-48b9-88ad-09305aa6c6e1'],
      ]) {
        const response = await ado<{ value: Array<{ id: string; routeTemplate: string }> }>(emulator, 'OPTIONS', `_apis/${area}`, { apiVersion: null });
        assert.equal(response.status, 200, area);
        assert.ok(response.body.value.some((location) => location.id === id), `${area} has ${id}`);
      }
    });
  });

  it('serves core projects by name and id to members only', async () => {
    const core = await new WebApi(String(emulator.info.collectionUri), getBearerHandler(buildToken)).getCoreApi();
    const projects = await core.getProjects();
    assert.deepEqual(projects.map((project) => project.name).sort(), ['Apps', 'Platform']);
    assert.equal((await core.getProject(OFFLINE.platformId)).name, 'Platform');
    assert.equal((await core.getProject('platform')).id, OFFLINE.platformId);
    const member = await tokenFor(emulator, 'member');
    const hidden = await ado<{ message: string }>(emulator, 'GET', '_apis/projects/Apps', { token: member });
    assert.equal(hidden.status, 404, 'the member service principal is in Platform only');
    assert.match(hidden.body.message, /^TF200016: The following project does not exist: Apps\./);
  });
});
