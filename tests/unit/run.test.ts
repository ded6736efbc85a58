// run() is the whole task minus the SDKs: spec → observe → plan → per command print, apply or check. Against the
// fake world this suite protects the promises users rely on: provision from nothing creates everything and the
// connection really signs in; a rerun writes nothing; plan and verify never write; verify fails on drift and
// on connections that do not work; an invalid spec or a blocking finding means zero calls that write (an invalid
// spec: zero calls at all); one failing environment does not stop the others; outputs and a summary appear in
// every command; and no token ever reaches a log line, output or summary.
import * as assert from 'node:assert/strict';
import { factNames } from '../../tasks/ManagedIdentityConnections/src/config';
import { formatTaskError } from '../../tasks/ManagedIdentityConnections/src/core/format-run';
import { run } from '../../tasks/ManagedIdentityConnections/src/core/run';
import { TaskError } from '../../tasks/ManagedIdentityConnections/src/errors';
import { createFakeWorld, world, type FakeWorld } from '../fakes/fake-world';
import { jobToken, specFor, taskConfig } from './builders/run-builders';
import { lineOf } from './builders/spec-text';

const sub = world.devSubscription.subscriptionId;

async function runCommand(fake: FakeWorld, command: string, spec: string, inputs: Record<string, string> = {}) {
  return run(taskConfig({ command, environments: spec, ...inputs }), fake.ports);
}

async function provisioned(spec: string): Promise<FakeWorld> {
  const fake = createFakeWorld();
  const result = await runCommand(fake, 'provision', spec);
  assert.equal(result.status, 'succeeded', result.errors.map(formatTaskError).join('\n'));
  return fake;
}

describe('run', () => {
  describe('provision', () => {
    it('creates everything from nothing, in order, and the new connection signs in', async () => {
      const fake = createFakeWorld();
      const result = await runCommand(fake, 'provision', specFor(['dev']));
      assert.equal(result.status, 'succeeded', result.errors.map(formatTaskError).join('\n'));
      const methods = fake.log.writes().map((call) => call.method);
      assert.deepEqual([...methods].sort(), ['authorizePipelines', 'createAssignment', 'createConnection', 'createOrUpdateIdentity', 'putFederatedCredential']);
      assert.equal(methods[0], 'createOrUpdateIdentity');
      assert.ok(methods.indexOf('createConnection') < methods.indexOf('putFederatedCredential'));
      const test = result.applied!.environments[0]!.actions.find((outcome) => outcome.action.kind === 'testConnection')!;
      assert.deepEqual([test.status, test.detail], ['succeeded', 'Verified: subscription Contoso Dev is accessible.']);
      assert.deepEqual(fake.devOps.permissionsOf('app-dev'), { allPipelines: false, pipelineIds: [world.pipelineId] });
    });

    it('writes nothing when run again', async () => {
      const fake = await provisioned(specFor(['dev', 'prod'], (name) => (name === 'prod' ? '        shareWith: [Apps]\n        authorize: all\n' : '')));
      const before = fake.log.writes().length;
      const again = await runCommand(fake, 'provision', specFor(['dev', 'prod'], (name) => (name === 'prod' ? '        shareWith: [Apps]\n        authorize: all\n' : '')));
      assert.equal(again.status, 'succeeded');
      assert.equal(fake.log.writes().length, before);
      assert.equal(again.plan!.changesPresent, false);
      assert.equal(fake.platform.outputs.get('changesPresent'), 'false');
    });

    it('repairs what drifted and nothing else', async () => {
      const spec = specFor(['dev']);
      const fake = await provisioned(spec);
      fake.azure.assignments.length = 0;
      fake.devOps.moveToEntraIssuer('app-dev');
      const before = fake.log.writes().length;
      const result = await runCommand(fake, 'provision', spec);
      assert.equal(result.status, 'succeeded', result.errors.map(formatTaskError).join('\n'));
      assert.deepEqual(fake.log.writes().slice(before).map((call) => call.method).sort(), ['createAssignment']);
    });

    it('follows Azure DevOps when it moves a connection to a new issuer: the credential is updated in place', async () => {
      const spec = specFor(['dev']);
      const fake = await provisioned(spec);
      const connection = fake.devOps.byName('app-dev')!;
      const stored = fake.devOps.connections.get(connection.id)!;
      stored.connection = { ...connection, issuer: fake.devOps.legacyIssuer(), subject: fake.devOps.legacySubject('app-dev') };
      const ref = { subscriptionId: sub, resourceGroup: world.identityResourceGroup, name: 'id-ado-dev' };
      await runCommand(fake, 'provision', spec); // now the credential trusts the legacy pair
      fake.devOps.moveToEntraIssuer('app-dev');
      const result = await runCommand(fake, 'provision', spec);
      assert.equal(result.status, 'succeeded', result.errors.map(formatTaskError).join('\n'));
      const credentials = fake.azure.credentialsOf(ref);
      assert.equal(credentials.length, 1);
      assert.deepEqual([credentials[0]!.issuer, credentials[0]!.subject], [fake.devOps.byName('app-dev')!.issuer, fake.devOps.byName('app-dev')!.subject]);
    });

    it('authorizes no pipeline for authorize: current in a classic release, whose definition id is not a pipeline\'s', async () => {
      const fake = createFakeWorld();
      const result = await run(taskConfig({ command: 'provision', environments: specFor(['dev']) }, { [factNames.hostType]: 'release' }), fake.ports);
      assert.equal(result.status, 'succeededWithIssues', result.errors.map(formatTaskError).join('\n'));
      assert.deepEqual(result.warnings.map((warning) => warning.code), ['MIC409']);
      assert.equal(fake.log.methods().includes('authorizePipelines'), false);
    });

    it('keeps going when one environment fails, and fails the run naming it', async () => {
      const fake = createFakeWorld();
      fake.log.failOn('createAssignment', () => new TaskError('MIC304', "AuthorizationFailed: no 'Microsoft.Authorization/roleAssignments/write' over scope"), {
        when: (call) => call.subject === 'id-ado-prod',
      });
      const result = await runCommand(fake, 'provision', specFor(['dev', 'prod']));
      assert.equal(result.status, 'failed');
      assert.match(result.message, /1 of 2 environments failed: prod/);
      assert.deepEqual(result.errors.map((error) => [error.code, error.environment]), [['MIC304', 'prod']]);
      assert.equal(result.applied!.environments.find((item) => item.environment === 'dev')!.status, 'succeeded');
      assert.ok(fake.platform.outputs.has('connectionId_app_dev'));
    });

    it('fails with the verification code when the new connection cannot sign in', async () => {
      const fake = createFakeWorld();
      const spec = specFor(['dev']).replace(/    roles:\n.*\n.*\n/, '    roles: []\n');
      const result = await runCommand(fake, 'provision', spec);
      assert.equal(result.status, 'failed');
      assert.equal(result.errors[0]!.code, 'MIC501');
      assert.match(result.errors[0]!.message, /AuthorizationFailed/);
      assert.ok(result.warnings.some((warning) => warning.code === 'MIC507'), 'the plan should have warned about it');
      const test = fake.log.calls.find((call) => call.method === 'testConnection')!;
      assert.deepEqual(test.args[1], { waitForRoles: false, credentialWrittenThisRun: true }, 'no role to wait for: the adapter must not wait for one');
    });

    it('lets the test wait for a role assignment to propagate when the spec gives one in the subscription', async () => {
      const fake = createFakeWorld();
      await runCommand(fake, 'provision', specFor(['dev']));
      const test = fake.log.calls.find((call) => call.method === 'testConnection')!;
      assert.deepEqual(test.args[1], { waitForRoles: true, credentialWrittenThisRun: true });
    });
  });

  describe('migrate-issuer', () => {
    /** Provisioned, then on the legacy issuer with a credential for it, as an older organization left it. */
    async function onLegacyIssuer(spec: string) {
      const fake = await provisioned(spec);
      const connection = fake.devOps.byName('app-dev')!;
      fake.devOps.connections.get(connection.id)!.connection = { ...connection, issuer: fake.devOps.legacyIssuer(), subject: fake.devOps.legacySubject('app-dev'), issuerType: 'DevOps' };
      await runCommand(fake, 'provision', spec);
      return { fake, ref: { subscriptionId: sub, resourceGroup: world.identityResourceGroup, name: 'id-ado-dev' } };
    }

    it('ends with one credential, for the pair Azure DevOps reads back — even when that differs from the predicted one', async () => {
      const spec = specFor(['dev']);
      const { fake, ref } = await onLegacyIssuer(spec);
      const before = fake.log.writes().length;
      const result = await runCommand(fake, 'migrate-issuer', spec);
      assert.equal(result.status, 'succeeded', result.errors.map(formatTaskError).join('\n'));
      // This fake's subject encoding differs from Azure DevOps' documented one: the prediction is wrong, the
      // read-back write corrects it.
      assert.deepEqual(fake.log.writes().slice(before).map((call) => call.method), ['putFederatedCredential', 'switchToEntraIssuer', 'putFederatedCredential', 'deleteFederatedCredential']);
      const connection = fake.devOps.byName('app-dev')!;
      assert.deepEqual(fake.azure.credentialsOf(ref).map((credential) => [credential.name, credential.issuer, credential.subject]), [['azdo-app-dev-entra', connection.issuer, connection.subject]]);
      const again = fake.log.writes().length;
      assert.equal((await runCommand(fake, 'migrate-issuer', spec)).status, 'succeeded');
      assert.equal((await runCommand(fake, 'provision', spec)).status, 'succeeded');
      assert.equal(fake.log.writes().length, again, 'neither a second migration nor provision writes anything');
    });

    it('dryRun writes nothing; an organization that keeps the legacy issuer is MIC445 and the legacy credential stays', async () => {
      const spec = specFor(['dev']);
      const { fake, ref } = await onLegacyIssuer(spec);
      const before = fake.log.writes().length;
      const dry = await runCommand(fake, 'migrate-issuer', spec, { dryRun: 'true' });
      assert.equal(dry.status, 'succeeded');
      assert.equal(fake.log.writes().length, before);
      assert.match(fake.platform.summaries.join('\n'), /\| app-dev \| id-ado-dev \| https:\/\/vstoken\.dev\.azure\.com\/[^|]+ \| planned \|/);
      fake.devOps.keepsLegacyIssuer = true;
      const refused = await runCommand(fake, 'migrate-issuer', spec);
      assert.deepEqual(refused.errors.map((error) => error.code), ['MIC445']);
      assert.ok(fake.azure.credentialsOf(ref).some((credential) => credential.issuer === fake.devOps.legacyIssuer()), 'the legacy credential is kept');
    });
  });

  describe('plan', () => {
    it('reports the changes as outputs and writes nothing', async () => {
      const fake = createFakeWorld();
      const result = await runCommand(fake, 'plan', specFor(['dev']));
      assert.equal(result.status, 'succeeded');
      assert.deepEqual(fake.log.writes(), []);
      assert.equal(fake.platform.outputs.get('changesPresent'), 'true');
      assert.equal(fake.platform.outputs.get('permissionsBroadened'), 'true');
      assert.ok(!fake.log.methods().includes('testConnection'));
      assert.match(fake.platform.messages('info').join('\n'), /\+ create managed identity id-ado-dev/);
      assert.match(fake.platform.messages('info').join('\n'), /Access granted by this plan:/);
    });

    it('says there is nothing to do when everything matches', async () => {
      const spec = specFor(['dev']);
      const fake = await provisioned(spec);
      const result = await runCommand(fake, 'plan', spec);
      assert.deepEqual([result.status, result.message], ['succeeded', 'Plan: no changes; everything matches the spec.']);
      assert.equal(fake.platform.outputs.get('permissionsBroadened'), 'false');
    });
  });

  describe('verify', () => {
    it('succeeds when nothing drifted and every connection signs in', async () => {
      const spec = specFor(['dev', 'prod']);
      const fake = await provisioned(spec);
      const before = fake.log.writes().length;
      const result = await runCommand(fake, 'verify', spec);
      assert.equal(result.status, 'succeeded', result.errors.map(formatTaskError).join('\n'));
      assert.equal(fake.log.writes().length, before);
      assert.equal(fake.log.methods().filter((method) => method === 'testConnection').length, 4);
    });

    it('fails on drift, listing it, and writes nothing', async () => {
      const spec = specFor(['dev']);
      const fake = await provisioned(spec);
      fake.azure.assignments.length = 0;
      const before = fake.log.writes().length;
      const result = await runCommand(fake, 'verify', spec);
      assert.equal(result.status, 'failed');
      assert.equal(fake.log.writes().length, before);
      const drift = result.errors.find((error) => error.code === 'MIC502');
      assert.match(drift!.message, /dev: assign Contributor/);
    });

    it('fails when a connection does not sign in, even without drift', async () => {
      const spec = specFor(['dev']);
      const fake = await provisioned(spec);
      fake.log.failOn('testConnection', () => new TaskError('MIC503', 'AADSTS70021: No matching federated identity record found for presented assertion.'));
      const result = await runCommand(fake, 'verify', spec);
      assert.deepEqual(result.errors.map((error) => error.code), ['MIC503']);
    });

    it('fails at once on a missing federated credential: the drift, without testing the connection it breaks', async () => {
      const spec = specFor(['dev', 'prod']);
      const fake = await provisioned(spec);
      // GIVEN dev's identity lost its credential out of band
      const [stored] = [...fake.azure.identities.values()].filter((item) => item.ref.name === 'id-ado-dev');
      stored!.credentials.length = 0;
      const callsBefore = fake.log.calls.length;
      // WHEN verify runs
      const result = await runCommand(fake, 'verify', spec);
      // THEN the drift is the failure, app-dev's test (which would wait for a credential that is not coming) does
      // not run, and prod's connection is still tested
      assert.deepEqual(result.errors.map((error) => error.code), ['MIC502'], result.errors.map(formatTaskError).join('\n'));
      assert.match(result.errors[0]!.message, /dev: .*federated credential/i);
      const tested = fake.log.calls.slice(callsBefore).filter((call) => call.method === 'testConnection').map((call) => call.subject);
      assert.deepEqual(tested, ['app-prod']);
    });

    it('fails on a disabled connection, without testing it', async () => {
      const spec = specFor(['dev']);
      const fake = await provisioned(spec);
      fake.devOps.disable('app-dev');
      const tests = fake.log.methods().filter((method) => method === 'testConnection').length;
      const result = await runCommand(fake, 'verify', spec);
      assert.deepEqual(result.errors.map((error) => error.code), ['MIC402']);
      assert.equal(fake.log.methods().filter((method) => method === 'testConnection').length, tests);
    });
  });

  describe('a connection shared with another project', () => {
    const sharedSpec = (authorize: string) => specFor(['dev'], () => `        shareWith: [Apps]\n        authorize: ${authorize}\n`);

    it('authorizes a pipeline of the shareWith project in that project, and a rerun writes nothing', async () => {
      const spec = sharedSpec(`[${world.otherPipelineId}, ${world.appsPipelineId}]`);
      const fake = await provisioned(spec);
      assert.deepEqual(fake.devOps.permissionsOf('app-dev').pipelineIds, [world.otherPipelineId]);
      assert.deepEqual(fake.devOps.permissionsIn('app-dev', world.otherProject.id)?.pipelineIds, [world.appsPipelineId]);
      const before = fake.log.writes().length;
      const again = await runCommand(fake, 'provision', spec);
      assert.equal(again.status, 'succeeded', again.errors.map(formatTaskError).join('\n'));
      assert.equal(fake.log.writes().length, before);
    });

    it('refuses a pipeline id in no project of the connection with MIC412, writing nothing', async () => {
      const fake = createFakeWorld();
      const result = await runCommand(fake, 'provision', sharedSpec(`[${world.appsPipelineId}, 999]`));
      assert.deepEqual(result.errors.map((error) => error.code), ['MIC412']);
      assert.deepEqual(fake.log.writes(), []);
    });

    it('refuses to recreate a shared connection deleted in this project while another still has it (MIC413), writing nothing', async () => {
      const spec = sharedSpec('current');
      const fake = await provisioned(spec);
      const before = fake.log.writes().length;
      fake.devOps.deleteInProject('app-dev', world.project.id);
      const result = await runCommand(fake, 'provision', spec);
      assert.deepEqual(result.errors.map((error) => error.code), ['MIC413']);
      assert.match(result.errors[0]!.message, /project Apps still has it/);
      assert.equal(fake.log.writes().length, before);
    });

    it('does not take a connection another run created and shared between its two reads for a deletion (no MIC413)', async () => {
      const spec = sharedSpec('current');
      const fake = await provisioned(spec);
      const before = fake.log.writes().length;
      // This project's first read comes before the other run's create; the other project's read after its share.
      let firstReadHere = true;
      const devOps = { ...fake.ports.devOps };
      devOps.findConnections = async (names, project) => {
        if (!project && firstReadHere) {
          firstReadHere = false;
          return [];
        }
        return fake.ports.devOps.findConnections(names, project);
      };
      const result = await run(taskConfig({ command: 'provision', environments: spec }), { ...fake.ports, devOps });
      assert.equal(result.status, 'succeeded', result.errors.map(formatTaskError).join('\n'));
      assert.equal(fake.log.writes().length, before, 'the connection was adopted, nothing written');
    });
  });

  describe('refusals', () => {
    it('makes no call at all for an invalid spec, reporting every problem', async () => {
      const fake = createFakeWorld();
      const result = await runCommand(fake, 'provision', specFor(['dev', 'dev']).replace('role: Contributor', 'role: Owner'));
      assert.equal(result.status, 'failed');
      assert.deepEqual(fake.log.calls, []);
      assert.equal(result.errors[0]!.code, 'MIC100');
      assert.deepEqual(result.errors[0]!.problems.map((item) => item.code).sort(), ['MIC116', 'MIC117', 'MIC301']);
    });

    it('writes nothing when the plan finds a blocking problem in any environment', async () => {
      const fake = createFakeWorld();
      const spec = specFor(['dev', 'prod']).replace('role: Contributor', 'role: Contributer');
      const result = await runCommand(fake, 'provision', spec);
      assert.equal(result.status, 'failed');
      assert.deepEqual(fake.log.writes(), []);
      assert.deepEqual([result.errors[0]!.code, result.errors[0]!.field, result.errors[0]!.line], ['MIC303', 'environments[0].roles[0].role', lineOf(spec, 'role: Contributer')]);
    });

    it('reads the spec from environmentsFile through the platform, and reports a missing file', async () => {
      const fake = createFakeWorld();
      fake.platform.files.set('envs/platform.yml', specFor(['dev']));
      const ok = await run(taskConfig({ command: 'plan', environmentsFile: 'envs/platform.yml' }), fake.ports);
      assert.equal(ok.status, 'succeeded');
      const missing = await run(taskConfig({ command: 'plan', environmentsFile: 'envs/missing.yml' }), fake.ports);
      assert.deepEqual([missing.status, missing.errors[0]!.code], ['failed', 'MIC104']);
    });

    it('acts only on the environments named in only', async () => {
      const fake = createFakeWorld();
      await runCommand(fake, 'provision', specFor(['dev', 'prod']), { only: 'prod' });
      assert.ok(fake.log.calls.every((call) => !call.subject.includes('dev')), fake.log.calls.map((call) => call.subject).join(','));
      assert.ok(fake.devOps.byName('app-prod'));
    });
  });

  describe('outputs', () => {
    it('sets per-environment ids and the environments JSON', async () => {
      const fake = await provisioned(specFor(['dev', 'web-prod']));
      const json = JSON.parse(fake.platform.outputs.get('environments')!);
      const identity = [...fake.azure.identities.values()].find((stored) => stored.ref.name === 'id-ado-web-prod')!.identity;
      assert.equal(fake.platform.outputs.get('identityClientId_web_prod'), identity.clientId);
      assert.equal(fake.platform.outputs.get('identityPrincipalId_web_prod'), identity.principalId);
      assert.equal(fake.platform.outputs.get('connectionId_app_web_prod'), fake.devOps.byName('app-web-prod')!.id);
      assert.deepEqual(json['web-prod'], {
        identity: { name: 'id-ado-web-prod', resourceId: identity.id, clientId: identity.clientId, principalId: identity.principalId, tenantId: identity.tenantId },
        connections: { 'app-web-prod': { id: fake.devOps.byName('app-web-prod')!.id, subscriptionId: sub, resourceGroup: null } },
      });
    });

    it('gives each connection its subscription with defaults applied, and its resource group, for the verify jobs', async () => {
      // GIVEN a spec whose connections rely on defaults.subscriptionId (specFor sets only the default)
      const spec = specFor(['dev'], () => `      - name: api-dev\n        subscriptionId: ${world.prodSubscription.subscriptionId}\n        resourceGroup: rg-api\n`);
      assert.doesNotMatch(spec.split('connections:')[1]!.split('- name: api-dev')[0]!, /subscriptionId/);
      const fake = createFakeWorld();
      await runCommand(fake, 'plan', spec);
      assert.deepEqual(JSON.parse(fake.platform.outputs.get('environments')!).dev.connections, {
        'app-dev': { id: null, subscriptionId: sub, resourceGroup: null },
        'api-dev': { id: null, subscriptionId: world.prodSubscription.subscriptionId, resourceGroup: 'rg-api' },
      });
    });

    it('says null for what does not exist yet in plan mode', async () => {
      const fake = createFakeWorld();
      await runCommand(fake, 'plan', specFor(['dev']));
      assert.deepEqual(JSON.parse(fake.platform.outputs.get('environments')!).dev.connections, { 'app-dev': { id: null, subscriptionId: sub, resourceGroup: null } });
      assert.equal(fake.platform.outputs.has('identityClientId_dev'), false);
    });

    it('uploads a summary with a row per environment and connection', async () => {
      const fake = await provisioned(specFor(['dev']));
      const [summary] = fake.platform.summaries;
      assert.match(summary!, /## Managed identity connections — provision/);
      assert.match(summary!, /\| dev \| id-ado-dev \(client id [0-9a-f-]+\) \| app-dev \| identity created; Contributor on \S+; connection created; credential azdo-app-dev created; pipeline 42 authorized \| verified: Verified: subscription Contoso Dev is accessible\. \|/);
    });
  });

  describe('secrets', () => {
    it('masks the job token and never prints it, nor any token a service echoes back', async () => {
      const fake = createFakeWorld();
      const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzYzovL2ZhYnJpa2FtIn0.c2lnbmF0dXJl';
      fake.log.failOn('createConnection', () => new TaskError('MIC604', `Unexpected 500 for request with Authorization: Bearer ${jobToken} and assertion ${jwt}`));
      const result = await runCommand(fake, 'provision', specFor(['dev']));
      assert.deepEqual(fake.platform.secrets, [jobToken]);
      const printed = [fake.platform.everythingPrinted(), ...result.errors.map(formatTaskError), result.message].join('\n');
      assert.ok(printed.includes('Bearer ***'), 'the failure should still be reported');
      assert.ok(!printed.includes(jobToken), 'the job token was printed');
      assert.ok(!printed.includes(jwt), 'a JWT was printed');
    });

    it('does not need the job token when Azure DevOps is called as the bootstrap identity', async () => {
      const fake = createFakeWorld();
      const result = await run(taskConfig({ command: 'plan', environments: specFor(['dev']), devOpsAuth: 'bootstrapIdentity' }, { [factNames.accessToken]: undefined }), fake.ports);
      assert.equal(result.status, 'succeeded');
      assert.deepEqual(fake.platform.secrets, []);
    });
  });

  it('returns an internal error instead of throwing when something unexpected breaks', async () => {
    const fake = createFakeWorld();
    fake.log.failOn('findConnections', () => new TypeError("Cannot read properties of undefined (reading 'value')"));
    const result = await runCommand(fake, 'plan', specFor(['dev']));
    assert.deepEqual([result.status, result.errors[0]!.code], ['failed', 'MIC901']);
  });
});
