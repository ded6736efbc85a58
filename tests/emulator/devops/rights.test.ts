// Protects who may do what: unauthenticated calls get Azure DevOps' JSON 401 (never a sign-in page),
// creating needs the Creator role in the project, sharing, authorizing and deleting need Administrator on
// the connection (which its creator gets), and an Entra access token is accepted only for an organization
// member of the organization's tenant — the `devOpsAuth: bootstrapIdentity` mode.
import assert from 'node:assert/strict';
import { getBearerHandler, WebApi } from 'azure-devops-node-api';
import type { ServiceEndpoint } from 'azure-devops-node-api/interfaces/ServiceEndpointInterfaces';
import { KeyRing } from '../kernel/tokens';
import { ado, OFFLINE, startOfflineEmulator, tokenFor, wifConnectionBody } from './test-world';
import { CREATOR_REQUIRED } from './rights';
import type { RunningEmulator } from '../emulator';
import { control } from '../../helpers/emulator';

describe('devops: identities and rights', () => {
  let emulator: RunningEmulator;
  let buildToken: string;
  const bootstrapId = OFFLINE.connectionId;

  before(async () => {
    emulator = await startOfflineEmulator();
  });
  after(() => emulator.close());
  beforeEach(async () => {
    await emulator.reset();
    buildToken = String(emulator.info.systemAccessToken);
  });

  const endpointsFor = (token: string) => new WebApi(String(emulator.info.collectionUri), getBearerHandler(token)).getServiceEndpointApi();

  async function entraToken(claims: Record<string, unknown>, keys = emulator.ctx.keys.entra): Promise<string> {
    return keys.sign({ aud: '499b84ac-1321-427f-aa17-267ca6975798', iss: `https://sts.windows.net/${OFFLINE.tenantId}/`, tid: OFFLINE.tenantId, oid: OFFLINE.memberObjectId, ...claims }, 600);
  }

  describe('authentication', () => {
    it('answers 401 in JSON without a token, never a sign-in page', async () => {
      const response = await ado<{ typeKey: string; message: string }>(emulator, 'GET', 'Platform/_apis/serviceendpoint/endpoints');
      assert.equal(response.status, 401);
      assert.match(response.headers.get('content-type') ?? '', /application\/json/);
      assert.equal(response.body.typeKey, 'UnauthorizedRequestException');
      assert.equal(response.body.message, 'TF400813: Resource not available for anonymous access. Client authentication required.');
      assert.match(response.headers.get('www-authenticate') ?? '', /^Bearer authorization_uri=https:\/\/login\.microsoftonline\.com\//);
    });

    it('answers 401 for a malformed token, a foreign signature and a job token from before a reset', async () => {
      assert.equal((await ado(emulator, 'GET', 'Platform/_apis/serviceendpoint/endpoints', { token: 'not-a-jwt' })).status, 401);
      const foreign = await KeyRing.create('foreign');
      const forged = await foreign.sign({ iss: 'app.vstoken.visualstudio.com', aud: `app.vstoken.visualstudio.com|vso:${OFFLINE.organizationId}`, nameid: 'x' }, 600);
      assert.equal((await ado(emulator, 'GET', 'Platform/_apis/serviceendpoint/endpoints', { token: forged })).status, 401);
      await emulator.reset();
      assert.equal((await ado(emulator, 'GET', 'Platform/_apis/serviceendpoint/endpoints', { token: buildToken })).status, 401, 'the old job is gone');
    });

    it('accepts Basic auth with the token as password (curl -u :$(System.AccessToken))', async () => {
      const url = new URL('Platform/_apis/serviceendpoint/endpoints?api-version=7.1', String(emulator.info.collectionUri));
      const response = await fetch(url, { headers: { authorization: `Basic ${Buffer.from(`:${buildToken}`).toString('base64')}` } });
      assert.equal(response.status, 200);
    });
  });

  describe('creating', () => {
    it('refuses a caller without the Creator role with the service message (403)', async () => {
      await control(emulator, 'POST', 'devops/roles', { identity: 'buildService', project: 'Platform', role: null });
      const endpoints = await endpointsFor(buildToken);
      await assert.rejects(endpoints.createServiceEndpoint(wifConnectionBody('denied') as ServiceEndpoint), (error: Error & { statusCode?: number }) => {
        assert.equal(error.statusCode, 403);
        assert.equal(error.message, CREATOR_REQUIRED);
        return true;
      });
    });

    it('refuses creation in a project where the caller is a member but no Creator', async () => {
      const response = await ado<{ message: string }>(emulator, 'POST', '_apis/serviceendpoint/endpoints', {
        token: buildToken,
        body: wifConnectionBody('apps-only', [{ id: OFFLINE.appsId, name: 'Apps' }]),
      });
      assert.equal(response.status, 403);
      assert.equal(response.body.message, 'You do not have permission to create a service connection. You need to be a Creator for service connections in this project.');
    });

    it('lets a granted Creator create, and the creator then administers its connection', async () => {
      const endpoints = await endpointsFor(buildToken);
      const created = await endpoints.createServiceEndpoint(wifConnectionBody('mine') as ServiceEndpoint);
      const overview = await control<{ identities: Array<{ key: string; id: string }> }>(emulator, 'GET', 'devops');
      const build = overview.identities.find((identity) => identity.key === 'buildService')!;
      assert.equal(created.createdBy!.id, build.id);
      const authorize = await ado(emulator, 'PATCH', `Platform/_apis/pipelines/pipelinePermissions/endpoint/${created.id}`, {
        token: buildToken,
        apiVersion: '7.1-preview.1',
        body: { pipelines: [{ id: 2, authorized: true }] },
      });
      assert.equal(authorize.status, 200);
    });
  });

  describe('administering a connection someone else created', () => {
    it('refuses share, authorize and delete without Administrator (403), then allows them once granted', async () => {
      const share = await ado<{ message: string }>(emulator, 'PATCH', `_apis/serviceendpoint/endpoints/${bootstrapId}`, {
        token: buildToken,
        body: [{ projectReference: { id: OFFLINE.appsId, name: 'Apps' }, name: 'bootstrap' }],
      });
      assert.equal(share.status, 403);
      assert.match(share.body.message, /You do not have permission to share the service connection 'bootstrap'/);

      const authorize = await ado<{ message: string }>(emulator, 'PATCH', `Platform/_apis/pipelines/pipelinePermissions/endpoint/${bootstrapId}`, {
        token: buildToken,
        apiVersion: '7.1-preview.1',
        body: { allPipelines: { authorized: true } },
      });
      assert.equal(authorize.status, 403);
      assert.match(authorize.body.message, /authorize pipelines for the service connection 'bootstrap'/);

      const remove = await ado<{ message: string }>(emulator, 'DELETE', `_apis/serviceendpoint/endpoints/${bootstrapId}?projectIds=${OFFLINE.platformId}`, { token: buildToken });
      assert.equal(remove.status, 403);
      assert.match(remove.body.message, /delete the service connection 'bootstrap'/);

      await control(emulator, 'POST', 'devops/roles', { identity: 'buildService', serviceEndpoint: bootstrapId, role: 'Administrator' });
      const shared = await ado(emulator, 'PATCH', `_apis/serviceendpoint/endpoints/${bootstrapId}`, {
        token: buildToken,
        body: [{ projectReference: { id: OFFLINE.appsId, name: 'Apps' }, name: 'bootstrap' }],
      });
      assert.equal(shared.status, 204);
    });

    it('lets a Reader read but not use, update or verify', async () => {
      const reader = await tokenFor(emulator, 'reader');
      const read = await ado(emulator, 'GET', `Platform/_apis/serviceendpoint/endpoints/${bootstrapId}`, { token: reader });
      assert.equal(read.status, 200);
      const update = await ado(emulator, 'PUT', `_apis/serviceendpoint/endpoints/${bootstrapId}`, { token: reader, body: read.body });
      assert.equal(update.status, 403);
      const verify = await ado(emulator, 'POST', `Platform/_apis/serviceendpoint/endpointproxy?endpointId=${bootstrapId}`, {
        token: reader,
        body: { dataSourceDetails: { dataSourceName: 'TestConnection', parameters: {} } },
      });
      assert.equal(verify.status, 403);
    });
  });

  describe('Entra access tokens (devOpsAuth: bootstrapIdentity)', () => {
    it('accepts a token whose oid is an organization member, with that member’s roles', async () => {
      const token = await entraToken({});
      const response = await ado<{ createdBy: { displayName: string } }>(emulator, 'POST', '_apis/serviceendpoint/endpoints', { token, body: wifConnectionBody('via-entra') });
      assert.equal(response.status, 200);
      assert.equal(response.body.createdBy.displayName, 'automation-sp');
    });

    it('refuses a non-member, another tenant, another audience and a token Entra did not sign', async () => {
      const path = 'Platform/_apis/serviceendpoint/endpoints';
      const stranger = await ado<{ message: string }>(emulator, 'GET', path, { token: await entraToken({ oid: '00000000-0000-4000-8000-000000000009' }) });
      assert.equal(stranger.status, 401);
      assert.equal(stranger.body.message, "TF400813: The user '00000000-0000-4000-8000-000000000009' is not authorized to access this resource.");
      assert.equal((await ado(emulator, 'GET', path, { token: await entraToken({ tid: '00000000-0000-4000-8000-0000000000ff' }) })).status, 401);
      assert.equal((await ado(emulator, 'GET', path, { token: await entraToken({ aud: 'https://management.azure.com/' }) })).status, 401);
      assert.equal((await ado(emulator, 'GET', path, { token: await entraToken({}, emulator.ctx.keys.devops) })).status, 401);
    });
  });
});
