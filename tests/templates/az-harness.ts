// Runs the real Azure CLI (Debian's azure-cli 2.45) against an in-process emulator, the way AzureCLI@2 runs
// it on an agent, and runs the shipped smoke scripts with it.
//
// The proxy recipe (docs/emulator.md, "Starting it"): the CLI keeps the real host names and goes through
// the emulator's CONNECT proxy (HTTPS_PROXY), trusting only the emulator's CA (REQUESTS_CA_BUNDLE), with a
// fresh AZURE_CONFIG_DIR per session (cached tokens would hide calls) and telemetry off. PYTHONPATH carries
// the test-only fix for Debian's `az role assignment` bug (debian-az-workaround/sitecustomize.py).
//
// Everything spawns asynchronously: the emulator answers from this same Node process, so a synchronous
// spawn would block the event loop the emulator needs and hang.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BOOTSTRAP_IDENTITY, DEFAULT_TENANT } from '../emulator/azure/default-world';
import type { RunningEmulator } from '../emulator/emulator';
import { control } from '../helpers/emulator';
import { root, scriptsDir } from './repository-files';

export const debianWorkaroundDir = join(root, 'tests', 'templates', 'debian-az-workaround');

/** Whether `az` can run here (CI installs Debian's azure-cli; a developer machine may not have it). */
export function azAvailable(): boolean {
  const probe = spawnSync('az', ['version', '--output', 'none'], { encoding: 'utf8', env: { ...process.env, AZURE_CORE_COLLECT_TELEMETRY: 'false', AZURE_CONFIG_DIR: mkdtempSync(join(tmpdir(), 'mic-az-probe-')) }, timeout: 60_000 });
  return probe.status === 0;
}

export interface ProcessResult {
  status: number | null;
  stdout: string;
  stderr: string;
  /** stdout and stderr together, for messages. */
  output: string;
}

export function run(command: string, args: readonly string[], env: NodeJS.ProcessEnv, timeoutMs = 120_000): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr, output: `${stdout}\n${stderr}` });
    });
  });
}

/** One agent job's worth of Azure CLI state: its own config directory, pointed at the emulator. */
export class AzSession {
  readonly configDir = mkdtempSync(join(tmpdir(), 'mic-azcfg-'));
  readonly env: NodeJS.ProcessEnv;

  constructor(readonly emulator: RunningEmulator, extraEnv: NodeJS.ProcessEnv = {}) {
    const inherited = { ...process.env };
    for (const key of Object.keys(inherited)) if (/^(https?_proxy|no_proxy|all_proxy|AZURE_|REQUESTS_CA_BUNDLE|TF_BUILD)$/i.test(key) || key.startsWith('AZURE_')) delete inherited[key];
    this.env = {
      ...inherited,
      AZURE_CONFIG_DIR: this.configDir,
      AZURE_CORE_COLLECT_TELEMETRY: 'false',
      AZURE_CORE_NO_COLOR: 'true',
      HTTPS_PROXY: emulator.info.proxy,
      https_proxy: emulator.info.proxy,
      REQUESTS_CA_BUNDLE: emulator.info.caFile,
      PYTHONPATH: [debianWorkaroundDir, process.env.PYTHONPATH].filter(Boolean).join(':'),
      // No __pycache__ in the repository from importing sitecustomize.py.
      PYTHONDONTWRITEBYTECODE: '1',
      ...extraEnv,
    };
  }

  az(args: readonly string[]): Promise<ProcessResult> {
    return run('az', args, this.env);
  }

  /** What AzureCLI@2 does for a workload identity federation connection before the script runs. */
  async signInAsAzureCli2(connection: FederatedConnection, subscriptionId: string): Promise<void> {
    const login = await this.az(['login', '--service-principal', '-u', connection.clientId, '--tenant', connection.tenantId, '--allow-no-subscriptions', '--federated-token', connection.idToken, '--output', 'none']);
    if (login.status !== 0) throw new Error(`az login failed (${login.status}): ${login.output}`);
    const select = await this.az(['account', 'set', '--subscription', subscriptionId]);
    if (select.status !== 0) throw new Error(`az account set failed (${select.status}): ${select.output}`);
  }

  /**
   * Runs templates/scripts/smoke-test.sh with the variables AzureCLI@2 exports under
   * `addSpnToEnvironment: true` (servicePrincipalId, idToken, tenantId) plus the given ones.
   */
  smokeTest(connection: FederatedConnection | undefined, args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<ProcessResult> {
    const spn = connection ? { servicePrincipalId: connection.clientId, idToken: connection.idToken, tenantId: connection.tenantId } : {};
    return run('bash', [join(scriptsDir, 'smoke-test.sh'), ...args], { ...this.env, ...spn, ...env });
  }

  dispose(): void {
    rmSync(this.configDir, { recursive: true, force: true });
  }
}

/** What an Azure DevOps job knows about a workload identity federation connection: its client id, tenant, and an ID token. */
export interface FederatedConnection {
  clientId: string;
  tenantId: string;
  idToken: string;
}

/**
 * An ID token from the emulator's test issuer, standing in for the token Azure DevOps mints for a connection
 * (same audience, signed by an issuer Entra knows). `subject` is what the federated credential must trust.
 */
export async function testIssuerToken(emulator: RunningEmulator, subject: string, options: { issuer?: string; expiresInSeconds?: number } = {}): Promise<string> {
  const minted = await control<{ assertion: string }>(emulator, 'POST', 'test-issuer/assertions', { subject, ...options });
  return minted.assertion;
}

/** An access token from the emulator's Entra ID for a client id, in exchange for an ID token (as any SDK does). */
export async function accessToken(emulator: RunningEmulator, connection: FederatedConnection, scope = 'https://management.azure.com/.default'): Promise<string> {
  const response = await fetch(`${emulator.ctx.urls.origin}/${connection.tenantId}/oauth2/v2.0/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      client_id: connection.clientId,
      grant_type: 'client_credentials',
      scope,
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: connection.idToken,
    }),
  });
  const body = (await response.json()) as { access_token?: string; error_description?: string };
  if (!response.ok || !body.access_token) throw new Error(`token exchange for ${connection.clientId} failed (${response.status}): ${body.error_description}`);
  return body.access_token;
}

/**
 * An ARM call as the default world's bootstrap identity, signed in through the test issuer: a change made
 * out of band, the way someone holding the same rights would make it (so ARM's rules and RBAC apply).
 */
export async function armAsBootstrap(emulator: RunningEmulator, method: string, path: string, body?: unknown): Promise<Response> {
  const bootstrap = { clientId: BOOTSTRAP_IDENTITY.clientId, tenantId: DEFAULT_TENANT.id, idToken: await testIssuerToken(emulator, BOOTSTRAP_IDENTITY.testIssuerSubject) };
  const token = await accessToken(emulator, bootstrap);
  return fetch(emulator.ctx.urls.origin + path, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

/** The emulator's request log since `from`, as `service route status` lines. */
export function requestsSince(emulator: RunningEmulator, from: number): string[] {
  return emulator.ctx.requests.log.slice(from).map((entry) => `${entry.service} ${entry.route} ${entry.status}`);
}

/**
 * The ID token Azure DevOps mints for a service connection inside a job, from the emulator's Azure DevOps
 * side: a job of the bootstrap pipeline that references the connection asks its OIDC endpoint, exactly as
 * AzureCLI@2 does (System.OidcRequestUri + System.AccessToken + serviceConnectionId). The connection must
 * exist and be authorized for that pipeline, as after the task provisioned it.
 */
export async function devOpsConnectionToken(emulator: RunningEmulator, connectionId: string): Promise<string> {
  const job = await control<{ agentEnv: Record<string, string> }>(emulator, 'POST', 'devops/jobs', { connections: [connectionId] });
  const response = await fetch(`${job.agentEnv.SYSTEM_OIDCREQUESTURI}?api-version=7.1&serviceConnectionId=${connectionId}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${job.agentEnv.SECRET_SYSTEM_ACCESSTOKEN}`, 'content-type': 'application/json', 'x-tfs-fedauthredirect': 'Suppress' },
  });
  const body = (await response.json()) as { oidcToken?: string };
  if (!response.ok || !body.oidcToken) throw new Error(`oidctoken for connection ${connectionId} answered ${response.status}: ${JSON.stringify(body)}`);
  return body.oidcToken;
}
