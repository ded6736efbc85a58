// Protects how people and other tools use the emulator with Azure in it: `npm run -s emulator` prints
// exactly one JSON line (with the Azure fields) and stops on SIGTERM; `--seed FILE` replaces the world;
// `POST reset` restores it; `GET state` shows the Azure collections and counts reads and writes; and a
// separate Node process that only trusts the emulator's CA reaches the real host names
// (login.microsoftonline.com, management.azure.com) through the CONNECT proxy, as the Azure CLI will.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningEmulator } from '../emulator';
import { control, startTestEmulator } from '../../helpers/emulator';
import { BOOTSTRAP_IDENTITY, DEFAULT_TENANT, DEV_SUBSCRIPTION, PROD_SUBSCRIPTION } from './default-world';
import { bootstrapToken, mintAssertion, raw, setupCall } from './test-support';

const ROOT = join(__dirname, '..', '..', '..', '..');
const MAIN = join(ROOT, 'build', 'tests', 'emulator', 'main.js');

interface Started {
  child: ChildProcess;
  info: Record<string, any>;
  stdout: () => string;
}

/** Starts `main.js` as `npm run -s emulator` does (after the build) and reads its JSON line. */
function startProcess(args: string[]): Promise<Started> {
  const child = spawn(process.execPath, [MAIN, '--ca-dir', process.env.MIC_TEST_CA_DIR!, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no JSON line within 15 s; stderr: ${stderr}`)), 15_000);
    child.stdout!.on('data', () => {
      const newline = stdout.indexOf('\n');
      if (newline < 0) return;
      clearTimeout(timer);
      resolve({ child, info: JSON.parse(stdout.slice(0, newline)), stdout: () => stdout });
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`emulator exited with ${code} before printing its line; stderr: ${stderr}`));
    });
  });
}

function stop(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.kill('SIGTERM');
  });
}

describe('emulator: the process, its seed, state and proxy (Azure)', () => {
  describe('npm run -s emulator', () => {
    it('prints one JSON line with the Azure fields, serves ARM on it, and exits 0 on SIGTERM', async () => {
      const { child, info, stdout } = await startProcess([]);
      try {
        for (const field of ['authorityHost', 'armEndpoint', 'proxy', 'caFile', 'tenantId', 'subscriptions', 'controlUrl']) assert.ok(field in info, `missing ${field}`);
        assert.equal(info.tenantId, DEFAULT_TENANT.id);
        assert.deepEqual(info.subscriptions, [
          { id: DEV_SUBSCRIPTION.id, name: DEV_SUBSCRIPTION.name },
          { id: PROD_SUBSCRIPTION.id, name: PROD_SUBSCRIPTION.name },
        ]);
        assert.equal(info.authorityHost, info.armEndpoint);

        const unauthenticated = await fetch(`${info.armEndpoint}/subscriptions?api-version=2022-12-01`);
        assert.equal(unauthenticated.status, 401);
        const { assertion } = (await (await fetch(`${info.controlUrl}test-issuer/assertions`, { method: 'POST', body: JSON.stringify({ subject: BOOTSTRAP_IDENTITY.testIssuerSubject }) })).json()) as { assertion: string };
        const tokenResponse = await fetch(`${info.authorityHost}/${info.tenantId}/oauth2/v2.0/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({
            grant_type: 'client_credentials',
            client_id: BOOTSTRAP_IDENTITY.clientId,
            scope: 'https://management.azure.com/.default',
            client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
            client_assertion: assertion,
          }),
        });
        const { access_token: token } = (await tokenResponse.json()) as { access_token: string };
        const subscriptions = await fetch(`${info.armEndpoint}/subscriptions?api-version=2022-12-01`, { headers: { authorization: `Bearer ${token}` } });
        assert.equal(((await subscriptions.json()) as { value: unknown[] }).value.length, 2);
      } finally {
        assert.equal(await stop(child), 0);
      }
      assert.equal(stdout().trim().split('\n').length, 1, 'stdout holds exactly one line');
    });

    it('replaces the Azure world with --seed FILE', async () => {
      const seedFile = join(mkdtempSync(join(tmpdir(), 'mic-seed-')), 'seed.json');
      const tenantId = 'abcdef00-0000-4000-8000-000000000000';
      const subscriptionId = 'abcdef00-0000-4000-8000-000000000001';
      writeFileSync(seedFile, JSON.stringify({ azure: { tenant: { id: tenantId }, subscriptions: [{ id: subscriptionId, displayName: 'only-one' }] } }));
      const { child, info } = await startProcess(['--seed', seedFile]);
      try {
        assert.equal(info.tenantId, tenantId);
        assert.deepEqual(info.subscriptions, [{ id: subscriptionId, name: 'only-one' }]);
        const state = (await (await fetch(`${info.controlUrl}state`)).json()) as { identities: unknown[]; roleAssignments: unknown[] };
        assert.deepEqual(state.identities, []);
        assert.deepEqual(state.roleAssignments, []);
      } finally {
        await stop(child);
      }
    });

    it('refuses a seed Azure would refuse, naming the place', async () => {
      const seedFile = join(mkdtempSync(join(tmpdir(), 'mic-seed-')), 'seed.json');
      writeFileSync(seedFile, JSON.stringify({ azure: { tenant: { id: DEFAULT_TENANT.id }, subscriptions: [{ id: 'not-a-guid', displayName: 'x' }] } }));
      await assert.rejects(startProcess(['--seed', seedFile]), /seed azure\.subscriptions\[0\]\.id: must be a GUID/);
    });
  });

  describe('control API', () => {
    let emulator: RunningEmulator;

    before(async () => {
      emulator = await startTestEmulator();
    });

    after(async () => {
      await emulator.close();
    });

    it('restores the world on POST reset', async () => {
      await setupCall(emulator, 'PUT', `/subscriptions/${DEV_SUBSCRIPTION.id}/resourcegroups/rg-temporary`, { location: 'westeurope' });
      await control(emulator, 'POST', 'settings', { azure: { ficWriteMs: 999 } });
      const before = await control<{ resourceGroups: Array<{ name: string }> }>(emulator, 'GET', 'state');
      assert.ok(before.resourceGroups.some((group) => group.name === 'rg-temporary'));
      await control(emulator, 'POST', 'reset');
      const after = await control<{ resourceGroups: Array<{ name: string }>; identities: Array<{ name: string }> }>(emulator, 'GET', 'state');
      assert.ok(!after.resourceGroups.some((group) => group.name === 'rg-temporary'));
      assert.deepEqual(after.identities.map((identity) => identity.name), [BOOTSTRAP_IDENTITY.name]);
      const settings = await control<{ azure: { ficWriteMs: number } }>(emulator, 'GET', 'settings');
      assert.equal(settings.azure.ficWriteMs, 20);
    });

    it('shows the four Azure collections as ARM returns them, and counts token requests as reads', async () => {
      await control(emulator, 'POST', 'reset');
      const token = await bootstrapToken(emulator);
      await raw(emulator, 'GET', `/subscriptions/${DEV_SUBSCRIPTION.id}?api-version=2022-12-01`, { token });
      await raw(emulator, 'PUT', `/subscriptions/${DEV_SUBSCRIPTION.id}/resourceGroups/rg-identities/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-counted?api-version=2024-11-30`, {
        token,
        body: { location: 'westeurope' },
      });
      const state = await control<Record<string, any>>(emulator, 'GET', 'state');
      assert.equal(state.requests.reads, 2);
      assert.equal(state.requests.writes, 1);
      assert.deepEqual(state.requests.byService.entra, { reads: 1, writes: 0 });
      assert.deepEqual(state.requests.byService.arm, { reads: 1, writes: 1 });
      assert.equal(state.identities.length, 2);
      assert.equal(state.identities[1].type, 'Microsoft.ManagedIdentity/userAssignedIdentities');
      assert.equal(state.federatedIdentityCredentials[0].type, 'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials');
      assert.equal(state.roleAssignments.length, 3);
      assert.equal(state.roleAssignments[0].type, 'Microsoft.Authorization/roleAssignments');
      assert.equal(state.resourceGroups[0].type, 'Microsoft.Resources/resourceGroups');
    });

    it('publishes the tenant, subscriptions and identities on ctx.shared.azure for other modules', async () => {
      await control(emulator, 'POST', 'reset');
      const shared = emulator.ctx.shared.azure as import('./shared').AzureShared;
      assert.equal(shared.tenantId, DEFAULT_TENANT.id);
      assert.deepEqual(shared.subscriptions().map((subscription) => subscription.name), [DEV_SUBSCRIPTION.name, PROD_SUBSCRIPTION.name]);
      const byId = shared.identityByResourceId(BOOTSTRAP_IDENTITY.resourceId.toUpperCase());
      assert.equal(byId?.clientId, BOOTSTRAP_IDENTITY.clientId);
      assert.equal(shared.identityByClientId(BOOTSTRAP_IDENTITY.clientId)?.principalId, BOOTSTRAP_IDENTITY.principalId);
      assert.equal(shared.identityByClientId('00000000-0000-4000-8000-000000000000'), undefined);
    });
  });

  describe('proxy mode', () => {
    it('lets a Node process that trusts only the emulator CA use login.microsoftonline.com and management.azure.com through HTTPS_PROXY', async () => {
      const emulator = await startTestEmulator();
      try {
        const script = `
          const { ClientAssertionCredential } = require('@azure/identity');
          const { ManagedServiceIdentityClient } = require('@azure/arm-msi');
          (async () => {
            const credential = new ClientAssertionCredential(process.env.TENANT, process.env.CLIENT, async () => process.env.ASSERTION);
            const msi = new ManagedServiceIdentityClient(credential, process.env.SUBSCRIPTION);
            const identity = await msi.userAssignedIdentities.get(process.env.GROUP, process.env.NAME);
            process.stdout.write(JSON.stringify({ clientId: identity.clientId }));
          })().catch((error) => { process.stderr.write(String(error && error.stack || error)); process.exit(1); });`;
        const env: NodeJS.ProcessEnv = {
          PATH: process.env.PATH,
          HTTPS_PROXY: String(emulator.info.proxy),
          NODE_EXTRA_CA_CERTS: String(emulator.info.caFile),
          TENANT: DEFAULT_TENANT.id,
          CLIENT: BOOTSTRAP_IDENTITY.clientId,
          ASSERTION: await mintAssertion(emulator, { subject: BOOTSTRAP_IDENTITY.testIssuerSubject }),
          SUBSCRIPTION: BOOTSTRAP_IDENTITY.subscriptionId,
          GROUP: BOOTSTRAP_IDENTITY.resourceGroup,
          NAME: BOOTSTRAP_IDENTITY.name,
        };
        const output = await new Promise<string>((resolve, reject) => {
          const child = spawn(process.execPath, ['-e', script], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
          let stdout = '';
          let stderr = '';
          child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
          child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
          child.once('exit', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`child exited ${code}: ${stderr}`))));
        });
        assert.deepEqual(JSON.parse(output), { clientId: BOOTSTRAP_IDENTITY.clientId });
        const { log } = await control<{ log: Array<{ host: string; route: string }> }>(emulator, 'GET', 'requests');
        assert.ok(log.some((entry) => entry.host === 'login.microsoftonline.com' && entry.route === 'entra.token'));
        assert.ok(log.some((entry) => entry.host === 'management.azure.com' && entry.route === 'arm.identities.get'));
      } finally {
        await emulator.close();
      }
    });
  });
});
