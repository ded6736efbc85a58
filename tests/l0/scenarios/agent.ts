// What every L0 scenario shares: the environment an agent gives the task (a bootstrap connection whose URLs
// point at a closed local port, the job's System variables and token), a guard that reports any network
// attempt as an `L0-NETWORK host:port` line, and the path of the task entry point as tsc emits it. The
// bundled task cannot be mocked by module name, so L0 runs the unbundled build (research: task-tooling.md §1).
import { mkdtempSync, rmSync } from 'node:fs';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const taskEntry = join(__dirname, '..', '..', '..', 'tasks', 'ManagedIdentityConnections', 'index.js');

export const l0Agent = {
  bootstrapConnectionId: '0b5e1a2c-0000-4000-8000-0000000000b0',
  tenantId: '72f988bf-86f1-41af-91ab-2d7cd011db47',
  clientId: 'c11e0700-0000-4000-8000-0000000000c1',
  subscriptionId: '11111111-1111-4111-8111-111111111111',
  projectId: 'a0a0a0a0-0000-4000-8000-000000000001',
  projectName: 'Platform',
  definitionId: '42',
  // Port 9 (discard) on loopback: nothing listens, so a stray call fails instead of reaching anything.
  closedUrl: 'https://127.0.0.1:9/',
  jobToken: 'l0-job-token-not-a-real-token',
} as const;

/** The agent's variables for a job whose task input `bootstrapConnection` references the L0 connection. */
export function setAgentEnvironment(): void {
  const a = l0Agent;
  const id = a.bootstrapConnectionId;
  const temp = mkdtempSync(join(tmpdir(), 'mic-l0-'));
  process.on('exit', () => rmSync(temp, { recursive: true, force: true }));
  Object.assign(process.env, {
    // task-lib writes its vault key (.taskkey) here; the summary file goes here too.
    AGENT_TEMPDIRECTORY: temp,
    [`ENDPOINT_URL_${id}`]: a.closedUrl,
    [`ENDPOINT_AUTH_${id}`]: JSON.stringify({ parameters: { tenantid: a.tenantId, serviceprincipalid: a.clientId }, scheme: 'WorkloadIdentityFederation' }),
    [`ENDPOINT_AUTH_SCHEME_${id}`]: 'WorkloadIdentityFederation',
    [`ENDPOINT_AUTH_PARAMETER_${id}_TENANTID`]: a.tenantId,
    [`ENDPOINT_AUTH_PARAMETER_${id}_SERVICEPRINCIPALID`]: a.clientId,
    [`ENDPOINT_DATA_${id}_SUBSCRIPTIONID`]: a.subscriptionId,
    [`ENDPOINT_DATA_${id}_ENVIRONMENT`]: 'AzureCloud',
    [`ENDPOINT_DATA_${id}_ENVIRONMENTAUTHORITYURL`]: a.closedUrl,
    [`ENDPOINT_DATA_${id}_ACTIVEDIRECTORYSERVICEENDPOINTRESOURCEID`]: 'https://management.core.windows.net/',
    ENDPOINT_URL_SYSTEMVSSCONNECTION: `${a.closedUrl}contoso/`,
    ENDPOINT_AUTH_SYSTEMVSSCONNECTION: JSON.stringify({ parameters: { AccessToken: a.jobToken }, scheme: 'OAuth' }),
    SYSTEM_COLLECTIONURI: `${a.closedUrl}contoso/`,
    SYSTEM_TEAMPROJECT: a.projectName,
    SYSTEM_TEAMPROJECTID: a.projectId,
    SYSTEM_DEFINITIONID: a.definitionId,
    SYSTEM_HOSTTYPE: 'build',
    SYSTEM_PLANID: '44a21b42-0000-4000-8000-000000000001',
    SYSTEM_JOBID: '82e45f0b-0000-4000-8000-000000000002',
    SYSTEM_OIDCREQUESTURI: `${a.closedUrl}contoso/${a.projectId}/_apis/distributedtask/hubs/build/plans/44a21b42-0000-4000-8000-000000000001/jobs/82e45f0b-0000-4000-8000-000000000002/oidctoken`,
    BUILD_SOURCEBRANCH: 'refs/heads/main',
  });
}

/** Reports (and refuses) every outbound socket the task opens. */
export function guardNetwork(): void {
  const connect = Socket.prototype.connect as (this: Socket, ...args: unknown[]) => Socket;
  (Socket.prototype as unknown as { connect: (...args: unknown[]) => Socket }).connect = function (this: Socket, ...args: unknown[]): Socket {
    const first = (Array.isArray(args[0]) ? (args[0] as unknown[])[0] : args[0]) as { host?: string; port?: number } | number;
    const where = typeof first === 'object' ? `${first.host ?? 'localhost'}:${String(first.port)}` : String(first);
    process.stdout.write(`L0-NETWORK ${where}\n`);
    return connect.apply(this, args);
  };
}
