// The CLI as a platform engineer runs it, against the in-process emulator: the real composition root, the
// real ARM and Azure DevOps adapters and the console, with only the Azure CLI's account swapped for a
// credential that needs no `az login` (the bootstrap identity, through the emulator's test issuer). This suite
// protects: plan, provision and verify work end to end from a workstation; Azure DevOps is reached with a PAT
// (Basic authentication) or, without one, with the account's Entra token; the project is found by name;
// outputs and the summary land in their files; exit codes follow the result; a PAT or token never reaches
// stdout, stderr or a file; and the adapter does not wait for a role assignment that the spec never makes
// (TestConnection options), while still waiting when told to.
import type { TokenCredential } from '@azure/core-auth';
import { CredentialUnavailableError } from '@azure/identity';
import * as assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exitCodes, runCli } from '../../tasks/ManagedIdentityConnections/cli';
import { AzureDevOpsClient } from '../../tasks/ManagedIdentityConnections/src/adapters/devops-client';
import { devOpsTransport } from '../../tasks/ManagedIdentityConnections/src/adapters/http-client';
import { ServiceCalls } from '../../tasks/ManagedIdentityConnections/src/adapters/service-calls';
import { Secret } from '../../tasks/ManagedIdentityConnections/src/secret';
import type { RunningEmulator } from '../emulator/emulator';
import { bootstrapCredential } from '../emulator/azure/test-support';
import { FakePlatform } from '../fakes/fake-platform';
import { control, startTestEmulator } from '../helpers/emulator';

const dev = '22222222-0000-4000-8000-000000000001';
const prod = '22222222-0000-4000-8000-000000000002';

const spec = `defaults:
  subscriptionId: ${dev}
  identityResourceGroup: rg-identities
  location: westeurope
environments:
  - name: dev
    connections:
      - name: cli-app-dev
        resourceGroup: rg-app-dev
    roles:
      - role: Contributor
        scope: /subscriptions/${dev}/resourceGroups/rg-app-dev
`;

// The identity gets no role in prod, so its connection there can never pass TestConnection (MIC507).
const noRoleSpec = `defaults:
  subscriptionId: ${dev}
  identityResourceGroup: rg-identities
  location: westeurope
environments:
  - name: stray
    connections:
      - name: cli-app-stray
        subscriptionId: ${prod}
    roles:
      - role: Reader
        scope: /subscriptions/${dev}/resourceGroups/rg-app-dev
`;

class Sink {
  text = '';
  write(chunk: string): boolean {
    this.text += chunk;
    return true;
  }
}

describe('CLI against the emulator', function () {
  this.timeout(60_000);
  let emulator: RunningEmulator;
  let directory: string;
  let pat: string;

  before(async () => {
    emulator = await startTestEmulator();
    directory = mkdtempSync(join(tmpdir(), 'mic-cli-emulator-'));
    writeFileSync(join(directory, 'envs.yml'), spec);
    writeFileSync(join(directory, 'no-role.yml'), noRoleSpec);
    // What a PAT is to the real service: a token for a user of the organization (the collection owner).
    pat = (await control<{ accessToken: string }>(emulator, 'POST', 'devops/tokens', { identity: 'owner' })).accessToken;
  });

  after(async () => {
    await emulator?.close();
  });

  async function cli(args: readonly string[], env: Record<string, string> = {}, credential: TokenCredential = bootstrapCredential(emulator)): Promise<{ code: number; stdout: string; stderr: string }> {
    const stdout = new Sink();
    const stderr = new Sink();
    const code = await runCli(
      [
        ...args,
        '--organization', String(emulator.info.collectionUri),
        '--arm-endpoint', String(emulator.info.armEndpoint),
        // The emulator's ARM answers to the public cloud's audience, like the real one.
        '--arm-resource', 'https://management.azure.com/',
        '--authority-host', String(emulator.info.authorityHost),
      ],
      { stdout, stderr, env, cwd: directory, credential },
    );
    return { code, stdout: stdout.text, stderr: stderr.text };
  }

  function writes(): number {
    return emulator.ctx.requests.summary().writes;
  }

  it('plans without writing, calling Azure DevOps with the account\'s Entra token when there is no PAT', async () => {
    const before = writes();
    const result = await cli(['plan', '--environments-file', 'envs.yml', '--project', 'Platform', '--pipeline-id', '1']);
    assert.equal(result.code, exitCodes.succeeded, result.stderr);
    assert.equal(writes(), before);
    assert.match(result.stdout, /\+ create managed identity id-ado-dev/);
    assert.match(result.stdout, /^changesPresent=true$/m);
    assert.match(result.stdout, /^Succeeded: Plan: \d+ changes to apply\.$/m);
  });

  it('provisions with a PAT, writing outputs and summary files and never printing the PAT or a token', async () => {
    const result = await cli(['provision', '--environments-file', 'envs.yml', '--project', 'Platform', '--pipeline-id', '1', '--outputs', 'out/outputs.json', '--summary', 'out/summary.md'], {
      AZURE_DEVOPS_EXT_PAT: pat,
    });
    assert.equal(result.code, exitCodes.succeeded, result.stderr);
    const outputs = JSON.parse(readFileSync(join(directory, 'out', 'outputs.json'), 'utf8')) as Record<string, string>;
    const summary = readFileSync(join(directory, 'out', 'summary.md'), 'utf8');
    assert.equal(outputs.changesPresent, 'true');
    assert.match(outputs.connectionId_cli_app_dev ?? '', /^[0-9a-f-]{36}$/);
    assert.match(summary, /\| dev \| id-ado-dev \(client id [0-9a-f-]+\) \| cli-app-dev \| .*pipeline 1 authorized \| verified/);
    assert.ok(!result.stdout.includes('changesPresent='), 'outputs went to the file');
    const everything = [result.stdout, result.stderr, JSON.stringify(outputs), summary].join('\n');
    assert.ok(!everything.includes(pat), 'the PAT was printed');
    assert.doesNotMatch(everything, /eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\./, 'a token was printed');
  });

  it('verifies what it provisioned, finding the project by id as well as by name', async () => {
    const project = (emulator.info.project as { id: string }).id;
    const result = await cli(['verify', '--environments-file', 'envs.yml', '--project', project, '--pipeline-id', '1'], { AZURE_DEVOPS_EXT_PAT: pat });
    assert.equal(result.code, exitCodes.succeeded, result.stderr);
    assert.match(result.stdout, /Succeeded: Verified 1 environment: no drift, every connection signs in\./);
  });

  it('exits with 1 and MIC406 for a project that does not exist', async () => {
    const result = await cli(['plan', '--environments-file', 'envs.yml', '--project', 'Nowhere'], { AZURE_DEVOPS_EXT_PAT: pat });
    assert.equal(result.code, exitCodes.failed);
    assert.match(result.stderr, /^error: MIC406 \(--project\): Project "Nowhere" was not found/m);
  });

  it('warns about authorize: current without --pipeline-id, and still exits with 0', async () => {
    const result = await cli(['plan', '--environments-file', 'envs.yml', '--project', 'Platform', '--only', 'dev'], { AZURE_DEVOPS_EXT_PAT: pat });
    assert.equal(result.code, exitCodes.succeeded);
    assert.match(result.stderr, /^warning: MIC409 .*authorize: current for connection cli-app-dev, but this is not a pipeline run/m);
    assert.match(result.stdout, /^Succeeded with warnings: /m);
  });

  describe('signing in', () => {
    // What AzureCliCredential throws when nobody ran `az login`.
    const signedOut: TokenCredential = {
      getToken: () => Promise.reject(new CredentialUnavailableError("Please run 'az login' from a command prompt to authenticate before using this credential.")),
    };

    it('says to run az login when the Azure CLI has no account, for ARM', async () => {
      const result = await cli(['plan', '--environments-file', 'envs.yml', '--project', 'Platform'], { AZURE_DEVOPS_EXT_PAT: pat }, signedOut);
      assert.equal(result.code, exitCodes.failed);
      assert.match(result.stderr, /error: MIC603: The Azure CLI account could not get a token for https:\/\/management\.azure\.com\/\.default: .*az login.* Fix: Sign in with `az login`/);
    });

    it('says to set a PAT or run az login when there is no token for Azure DevOps', async () => {
      const result = await cli(['plan', '--environments-file', 'envs.yml', '--project', 'Platform'], {}, signedOut);
      assert.equal(result.code, exitCodes.failed);
      assert.match(result.stderr, /error: MIC408: The Azure CLI account could not get a token for Azure DevOps: .* Fix: Set AZURE_DEVOPS_EXT_PAT to a personal access token, or: Sign in with `az login`/);
    });
  });

  describe('TestConnection and role propagation', () => {
    it('fails at once when no role of the spec lies in the connection\'s subscription, instead of waiting out the timeout', async () => {
      const started = Date.now();
      const result = await cli(['provision', '--environments-file', 'no-role.yml', '--project', 'Platform', '--pipeline-id', '1', '--propagation-timeout-seconds', '60', '--debug'], {
        AZURE_DEVOPS_EXT_PAT: pat,
      });
      assert.equal(result.code, exitCodes.failed);
      assert.match(result.stderr, /^warning: MIC507 /m);
      assert.match(result.stderr, /error: MIC501 \(environment stray\): Verifying service connection cli-app-stray failed: .*AuthorizationFailed/);
      assert.doesNotMatch(result.stdout, /verify service connection cli-app-stray: AuthorizationFailed.*trying again/);
      assert.ok(Date.now() - started < 30_000, 'it waited for a role that will never come');
    });

    it('waits for a role to propagate when told to, until the deadline, then reports the last answer', async () => {
      const platform = new FakePlatform();
      const calls = new ServiceCalls({ platform, deadlineMs: 1500, initialDelayMs: 100, maxDelayMs: 200 });
      const project = emulator.info.project as { id: string; name: string };
      const client = new AzureDevOpsClient({ collectionUri: String(emulator.info.collectionUri), project, token: new Secret(pat), tokenKind: 'pat', userAgent: 'test', transport: devOpsTransport() }, calls);
      const [connection] = await client.findConnections(['cli-app-stray']);
      assert.ok(connection);

      const waited = await client.testConnection(connection, { waitForRoles: true });
      assert.equal(waited.ok, false);
      assert.ok(platform.messages('info').some((line) => /AuthorizationFailed.*trying again/.test(line)), platform.messages('info').join('\n'));

      const retries = platform.messages('info').length;
      const immediate = await client.testConnection(connection, { waitForRoles: false });
      assert.equal(immediate.ok, false);
      assert.match(immediate.message, /AuthorizationFailed/);
      assert.equal(platform.messages('info').length, retries, 'no retry without a role to wait for');
    });
  });

  it('audits the project after provisioning: the JSON and CSV files, and --fail-on failing with exit code 1', async () => {
    const before = writes();
    const result = await cli(['audit', '--project', 'Platform', '--environments-file', 'envs.yml', '--output-directory', 'audit'], { AZURE_DEVOPS_EXT_PAT: pat });
    assert.equal(result.code, exitCodes.succeeded, result.stderr);
    assert.equal(writes(), before, 'the audit writes nothing');
    const rows = (JSON.parse(readFileSync(join(directory, 'audit', 'audit.json'), 'utf8')) as { connections: { name: string; owned: boolean; drift: string }[] }).connections;
    assert.deepEqual(rows.find((row) => row.name === 'cli-app-dev') && { owned: rows.find((row) => row.name === 'cli-app-dev')!.owned }, { owned: true });
    assert.ok(readFileSync(join(directory, 'audit', 'audit.csv'), 'utf8').startsWith('name,projects,id,scheme,'));
    const failing = await cli(['audit', '--project', 'Platform', '--output-directory', 'audit', '--fail-on', 'notOwned'], { AZURE_DEVOPS_EXT_PAT: pat });
    assert.equal(failing.code, exitCodes.failed, failing.stdout);
    assert.match(failing.stderr, /MIC432.*auditFailOn notOwned matched bootstrap/);
  });
});

