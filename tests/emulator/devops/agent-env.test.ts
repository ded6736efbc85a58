// Protects the agent environment contract: a task process started with exactly `agentEnv` (plus its
// INPUT_* values) finds its bootstrap connection, endpoint data, System.AccessToken and the emulator's CA
// through task-lib, signs in with AzurePipelinesCredential and calls Azure DevOps with node-api — and never
// opens a connection to anything but the emulator (recorded by a --require hook on every socket).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_DEVOPS_IDS } from './seed';
import { verifyToken } from '../kernel/tokens';
import type { RunningEmulator } from '../emulator';
import { control, startTestEmulator } from '../../helpers/emulator';

const PROBE = join(__dirname, 'fixtures', 'probe-task.js');
const RECORDER = join(__dirname, 'fixtures', 'record-sockets.js');

interface ProbeRun {
  code: number | null;
  stdout: string;
  stderr: string;
  sockets: string[];
}

function runProbe(env: Record<string, string>): Promise<ProbeRun> {
  const scratch = mkdtempSync(join(tmpdir(), 'mic-probe-'));
  const socketLog = join(scratch, 'sockets.log');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [PROBE], {
      // Exactly what the agent gives the task, plus the test's instrumentation (NODE_OPTIONS, MIC_SOCKET_LOG).
      env: { ...env, NODE_OPTIONS: `--require ${RECORDER}`, MIC_SOCKET_LOG: socketLog },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      let sockets: string[] = [];
      try {
        sockets = readFileSync(socketLog, 'utf8').split('\n').filter((line) => line !== '');
      } catch {
        // No socket was ever opened.
      }
      rmSync(scratch, { recursive: true, force: true });
      resolve({ code, stdout, stderr, sockets });
    });
  });
}

describe('devops: agent environment', () => {
  let emulator: RunningEmulator;
  let env: Record<string, string>;

  before(async () => {
    emulator = await startTestEmulator();
    env = emulator.info.agentEnv as Record<string, string>;
  });
  after(() => emulator.close());

  it('lets a task run from agentEnv alone and reach nothing but the emulator', async function () {
    this.timeout(30_000);
    const connection = DEFAULT_DEVOPS_IDS.bootstrapConnectionId;
    const run = await runProbe({ ...env, INPUT_BOOTSTRAPCONNECTION: connection });
    const line = run.stdout.split('\n').find((text) => text.startsWith('PROBE_RESULT '));
    assert.ok(line, `probe printed no result (exit ${run.code}):\n${run.stdout}\n${run.stderr}`);
    const result = JSON.parse(line.slice('PROBE_RESULT '.length)) as Record<string, unknown>;
    assert.equal(result.connection, connection);
    assert.equal(result.scheme, 'WorkloadIdentityFederation');
    assert.equal(result.sameTokenBothWays, true, 'System.AccessToken and SYSTEMVSSCONNECTION agree');
    assert.deepEqual(result.secretsLeftInEnv, [], 'task-lib vaulted every secret');
    assert.equal(result.subscriptionStatus, 200);
    assert.equal(result.subscriptionName, env[`ENDPOINT_DATA_${connection}_SUBSCRIPTIONNAME`]);
    assert.deepEqual(result.foundConnectionIds, [connection]);
    assert.match(String(result.subject), new RegExp(`/sc/${DEFAULT_DEVOPS_IDS.organizationId}/${connection}$`));
    assert.match(run.stdout, /##vso\[task\.complete result=Succeeded;\]probe done/);

    const emulatorHost = new URL(String(emulator.info.collectionUri)).host;
    assert.ok(run.sockets.length >= 2, `the probe's connections were recorded: ${run.sockets.join(', ')}`);
    assert.deepEqual([...new Set(run.sockets)], [emulatorHost], 'every socket went to the emulator');
  });

  it('describes every variable the contract promises', () => {
    const id = DEFAULT_DEVOPS_IDS.bootstrapConnectionId;
    const origin = new URL(String(emulator.info.collectionUri)).origin;
    const auth = JSON.parse(env[`ENDPOINT_AUTH_${id}`]) as { scheme: string; parameters: Record<string, string> };
    assert.equal(auth.scheme, 'WorkloadIdentityFederation');
    assert.deepEqual(Object.keys(auth.parameters).sort(), ['serviceprincipalid', 'tenantid']);
    assert.equal(env[`ENDPOINT_URL_${id}`], `${origin}/`);
    assert.equal(env[`ENDPOINT_DATA_${id}_ENVIRONMENTAUTHORITYURL`], `${origin}/`);
    assert.equal(env[`ENDPOINT_DATA_${id}_RESOURCEMANAGERURL`], `${origin}/`);
    assert.equal(env[`ENDPOINT_DATA_${id}_ACTIVEDIRECTORYSERVICEENDPOINTRESOURCEID`], 'https://management.core.windows.net/');
    assert.equal(env[`ENDPOINT_DATA_${id}_ENVIRONMENT`], 'AzureCloud');
    assert.equal(JSON.parse(env[`ENDPOINT_DATA_${id}`]).subscriptionId, env[`ENDPOINT_DATA_${id}_SUBSCRIPTIONID`]);
    assert.deepEqual(JSON.parse(env.ENDPOINT_AUTH_SYSTEMVSSCONNECTION), { parameters: { AccessToken: emulator.info.systemAccessToken }, scheme: 'OAuth' });
    assert.equal(env.ENDPOINT_URL_SYSTEMVSSCONNECTION, emulator.info.collectionUri);
    assert.equal(env.SECRET_SYSTEM_ACCESSTOKEN, emulator.info.systemAccessToken);
    assert.equal(env.SYSTEM_OIDCREQUESTURI, `${String(emulator.info.collectionUri)}${DEFAULT_DEVOPS_IDS.platformProjectId}/_apis/distributedtask/hubs/build/plans/${DEFAULT_DEVOPS_IDS.bootstrapPlanId}/jobs/${DEFAULT_DEVOPS_IDS.bootstrapJobId}/oidctoken`);
    assert.equal(env.SYSTEM_HOSTTYPE, 'build');
    assert.equal(env.BUILD_SOURCEBRANCH, 'refs/heads/main');
    assert.equal(env.NODE_EXTRA_CA_CERTS, emulator.info.caFile);
    assert.ok(env.AGENT_VERSION.localeCompare('4.248.0', undefined, { numeric: true }) >= 0);
    assert.ok(JSON.parse(env.VSTS_SECRET_VARIABLES).includes('System.AccessToken'));
  });

  it('carries a System.AccessToken that names the build service and the job', async () => {
    const claims = await verifyToken(env.SECRET_SYSTEM_ACCESSTOKEN, emulator.ctx.keys.devops);
    assert.equal(claims.nameid, DEFAULT_DEVOPS_IDS.buildServiceId);
    assert.equal(claims.plan_id, DEFAULT_DEVOPS_IDS.bootstrapPlanId);
    assert.equal(claims.job_id, DEFAULT_DEVOPS_IDS.bootstrapJobId);
    assert.equal(claims.def_id, env.SYSTEM_DEFINITIONID);
    assert.equal(claims.build_id, env.BUILD_BUILDID);
    assert.equal(claims.sc_ids, DEFAULT_DEVOPS_IDS.bootstrapConnectionId);
    const issued = (emulator.state().issuedTokens as string[]);
    assert.ok(issued.includes(env.SECRET_SYSTEM_ACCESSTOKEN), 'recorded in issuedTokens');
  });

  it('serves the agent environment of any simulated job through the control API', async () => {
    const job = await control<{ jobId: string; agentEnv: Record<string, string> }>(emulator, 'POST', 'devops/jobs', {});
    const again = await control<Record<string, string>>(emulator, 'GET', `devops/jobs/${job.jobId}/agent-env`);
    assert.deepEqual(again, job.agentEnv);
    assert.equal(again.SYSTEM_JOBID, job.jobId);
    assert.notEqual(again.SECRET_SYSTEM_ACCESSTOKEN, env.SECRET_SYSTEM_ACCESSTOKEN, 'each job has its own token');
  });
});
