// Protects the job OIDC token endpoint: a job gets ID tokens only for connections it references, each
// carrying exactly the issuer and subject the connection stores (so a federated credential copied from
// the connection matches); a name or no id yields a pipeline token; only the job's own token may ask.
// Both real callers are exercised: node-api's TaskApi.createOidcToken and the raw request
// AzurePipelinesCredential sends to SYSTEM_OIDCREQUESTURI.
import assert from 'node:assert/strict';
import { getBearerHandler, WebApi } from 'azure-devops-node-api';
import type { ServiceEndpoint } from 'azure-devops-node-api/interfaces/ServiceEndpointInterfaces';
import { verifyToken } from '../kernel/tokens';
import { OFFLINE, startOfflineEmulator, tokenFor, wifConnectionBody } from './test-world';
import type { RunningEmulator } from '../emulator';
import { control } from '../../helpers/emulator';

describe('devops: job OIDC tokens', () => {
  let emulator: RunningEmulator;
  let env: Record<string, string>;

  before(async () => {
    emulator = await startOfflineEmulator();
  });
  after(() => emulator.close());
  beforeEach(async () => {
    await emulator.reset();
    env = emulator.info.agentEnv as Record<string, string>;
  });

  /** The request AzurePipelinesCredential makes: empty body, api-version 7.1, redirects suppressed. */
  async function credentialStyleRequest(serviceConnectionId: string, token = env.SECRET_SYSTEM_ACCESSTOKEN) {
    const response = await fetch(`${env.SYSTEM_OIDCREQUESTURI}?api-version=7.1&serviceConnectionId=${serviceConnectionId}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'x-tfs-fedauthredirect': 'Suppress' },
    });
    return { status: response.status, body: (await response.json()) as { oidcToken?: string; value?: string; count?: number } };
  }

  it('mints the connection ID token through TaskApi.createOidcToken with the stored issuer and subject', async () => {
    const api = new WebApi(String(emulator.info.collectionUri), getBearerHandler(env.SECRET_SYSTEM_ACCESSTOKEN));
    const task = await api.getTaskApi();
    const result = await task.createOidcToken({}, env.SYSTEM_TEAMPROJECTID, env.SYSTEM_HOSTTYPE, env.SYSTEM_PLANID, env.SYSTEM_JOBID, OFFLINE.connectionId);
    const claims = await verifyToken(result.oidcToken!, emulator.ctx.keys.devops);
    const connection = await (await api.getServiceEndpointApi()).getServiceEndpointDetails('Platform', OFFLINE.connectionId);
    assert.equal(claims.iss, connection.authorization!.parameters!.workloadIdentityFederationIssuer);
    assert.equal(claims.sub, connection.authorization!.parameters!.workloadIdentityFederationSubject);
    assert.equal(claims.aud, 'fb60f99c-7a34-4190-8149-302f77469936', 'Entra-issued tokens name the token-exchange app by its id');
    assert.ok((emulator.state().issuedTokens as string[]).includes(result.oidcToken!), 'recorded in issuedTokens');
  });

  it('answers the AzurePipelinesCredential request (empty body, api-version 7.1)', async () => {
    const { status, body } = await credentialStyleRequest(OFFLINE.connectionId);
    assert.equal(status, 200);
    assert.match(body.oidcToken ?? '', /^ey/);
  });

  it('refuses a connection the job does not reference with the service’s Not Found', async () => {
    const endpoints = await new WebApi(String(emulator.info.collectionUri), getBearerHandler(env.SECRET_SYSTEM_ACCESSTOKEN)).getServiceEndpointApi();
    const created = await endpoints.createServiceEndpoint(wifConnectionBody('created-in-this-job') as ServiceEndpoint);
    const { status, body } = await credentialStyleRequest(created.id!);
    assert.equal(status, 404);
    assert.equal(body.value, `There is no explicit reference to service connection ${created.id} from current stage __default.Job.__default.`);
    assert.equal(body.oidcToken, undefined);
  });

  it('answers a pipeline token when given a name or no id, as the service does', async () => {
    for (const requested of ['bootstrap', '']) {
      const { status, body } = await credentialStyleRequest(requested);
      assert.equal(status, 200);
      const claims = await verifyToken(body.oidcToken!, emulator.ctx.keys.devops);
      assert.equal(claims.sub, 'p://contoso/Platform/bootstrap');
      assert.equal(claims.iss, `https://vstoken.dev.azure.com/${OFFLINE.organizationId}`);
      assert.equal(claims.def_id, '1');
    }
  });

  it('follows the connection when the organization moves it to the legacy issuer', async () => {
    await control(emulator, 'POST', 'devops/organization/issuer', { issuerType: 'AzureDevOps', moveConnections: 'all' });
    const { body } = await credentialStyleRequest(OFFLINE.connectionId);
    const claims = await verifyToken(body.oidcToken!, emulator.ctx.keys.devops);
    assert.equal(claims.iss, `https://vstoken.dev.azure.com/${OFFLINE.organizationId}`);
    assert.equal(claims.sub, 'sc://contoso/Platform/bootstrap');
    assert.equal(claims.aud, 'api://AzureADTokenExchange');
    assert.equal(Number(claims.exp) - Number(claims.iat), 300, 'legacy tokens live 300 s (decoded samples)');
  });

  it('takes only the job’s own token, for its own job', async () => {
    const owner = await tokenFor(emulator, 'owner');
    assert.equal((await credentialStyleRequest(OFFLINE.connectionId, owner)).status, 401, 'a user token is no job token');
    const other = await control<{ jobId: string; agentEnv: Record<string, string> }>(emulator, 'POST', 'devops/jobs', {});
    const wrongJob = await fetch(`${env.SYSTEM_OIDCREQUESTURI.replace(env.SYSTEM_JOBID, other.jobId)}?api-version=7.1&serviceConnectionId=${OFFLINE.connectionId}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${env.SECRET_SYSTEM_ACCESSTOKEN}` },
    });
    assert.equal(wrongJob.status, 404);
  });

  it('refuses a token for a disabled connection', async () => {
    await control(emulator, 'POST', `devops/serviceendpoints/${OFFLINE.connectionId}/disable`);
    const { status } = await credentialStyleRequest(OFFLINE.connectionId);
    assert.equal(status, 400);
  });
});
