// Protects the Azure DevOps fields of the `npm run -s emulator` JSON line — the contract other tools and
// the later template and task issues start from: collection URI, organization, project, the bootstrap
// connection, System.AccessToken and the complete agent environment.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { DEFAULT_DEVOPS_IDS } from './seed';

const MAIN = join(__dirname, '..', 'main.js');

function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const end = buffered.indexOf('\n');
      if (end >= 0) resolve(buffered.slice(0, end));
    });
    child.on('exit', (code) => reject(new Error(`emulator exited (${code}) before printing its line: ${stderr}`)));
  });
}

describe('devops: the emulator JSON line', () => {
  let child: ChildProcess | undefined;
  afterEach(() => {
    if (child?.pid && child.exitCode === null) process.kill(child.pid, 'SIGTERM');
  });

  it('carries collectionUri, organization, project, bootstrapConnection, systemAccessToken and agentEnv', async () => {
    child = spawn(process.execPath, [MAIN], { stdio: ['ignore', 'pipe', 'pipe'] });
    const info = JSON.parse(await firstLine(child)) as Record<string, unknown>;
    const origin = String(info.authorityHost ?? '').replace(/\/$/, '');
    assert.match(String(info.collectionUri), /^https:\/\/127\.0\.0\.1:\d+\/contoso\/$/);
    assert.deepEqual(info.organization, { name: 'contoso', id: DEFAULT_DEVOPS_IDS.organizationId });
    assert.deepEqual(info.project, { name: 'Platform', id: DEFAULT_DEVOPS_IDS.platformProjectId });
    assert.deepEqual(info.bootstrapConnection, { id: DEFAULT_DEVOPS_IDS.bootstrapConnectionId, name: 'bootstrap', clientId: '33333333-0000-4000-8000-000000000001' });
    const env = info.agentEnv as Record<string, string>;
    assert.equal(env.SECRET_SYSTEM_ACCESSTOKEN, info.systemAccessToken);
    assert.equal(env.SYSTEM_COLLECTIONURI, info.collectionUri);
    assert.equal(env.NODE_EXTRA_CA_CERTS, info.caFile);
    assert.equal(env[`ENDPOINT_URL_${DEFAULT_DEVOPS_IDS.bootstrapConnectionId}`], `${origin}/`);
    assert.equal(env[`ENDPOINT_AUTH_PARAMETER_${DEFAULT_DEVOPS_IDS.bootstrapConnectionId}_TENANTID`], info.tenantId);
  });
});
