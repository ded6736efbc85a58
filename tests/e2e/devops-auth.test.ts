// Protects the second way into Azure DevOps: with `devOpsAuth: bootstrapIdentity` the task calls Azure DevOps
// with an Entra token of the bootstrap connection's identity (audience Azure DevOps) instead of the job's
// System.AccessToken — so the connections it creates belong to that identity, not to the build service — and
// the whole job still works end to end.
import assert from 'node:assert/strict';
import { BOOTSTRAP_IDENTITY } from '../emulator/azure/default-world';
import { DEFAULT_DEVOPS_IDS } from '../emulator/devops/seed';
import { connectionNamed, credentialsOf, devEnvironment, e2eWorld, identityNamed, permissionsOf, specText, transcript, verifiedInLog } from './harness';

const AZURE_DEVOPS_APP_ID = '499b84ac-1321-427f-aa17-267ca6975798';
// The bootstrap identity is a member of Platform only, so nothing is shared into Apps here.
const spec = specText([{ ...devEnvironment, connections: [{ name: 'app-dev' }] }]);

describe('e2e: devOpsAuth bootstrapIdentity', () => {
  const world = e2eWorld();

  it('provisions and verifies, acting in Azure DevOps as the bootstrap identity', async () => {
    // GIVEN the default world, where the bootstrap identity is an organization member and Creator in Platform
    // WHEN provision runs with devOpsAuth bootstrapIdentity
    const run = await world.run({ environments: spec, devOpsAuth: 'bootstrapIdentity' });
    // THEN everything is provisioned, and Azure DevOps saw the bootstrap identity act
    assert.equal(run.result, 'Succeeded', transcript(run));
    const state = world.state();
    const connection = connectionNamed(state, 'app-dev');
    assert.ok(connection);
    assert.equal(connection.createdBy.id, DEFAULT_DEVOPS_IDS.bootstrapIdentityMemberId, 'created by the bootstrap identity, not the build service');
    assert.equal(credentialsOf(state, identityNamed(state, 'id-ado-dev')!)[0]!.properties.subject, connection.authorization.parameters.workloadIdentityFederationSubject);
    assert.deepEqual(permissionsOf(state, connection.id)?.pipelines.map((pipeline) => pipeline.id), [Number(world.info.agentEnv.SYSTEM_DEFINITIONID)]);
    const devOpsTokens = world.emulator.ctx.tokens.list().filter((token) => token.kind === 'access-token' && token.audience.startsWith(AZURE_DEVOPS_APP_ID));
    assert.deepEqual(devOpsTokens.map((token) => token.subject), [BOOTSTRAP_IDENTITY.principalId], 'one Entra token for Azure DevOps, for the bootstrap identity');
    assert.ok(verifiedInLog(run, 'dev', 'app-dev'), transcript(run));
  });
});
