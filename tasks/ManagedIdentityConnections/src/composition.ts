// The composition root: the one place that builds SDK clients, credentials and the retry policy, and hands
// the core its ports. Two ways in — a pipeline job (the task: pipelineAuthentication) and a workstation (the
// CLI: cliAuthentication) — differ only in how they sign in; everything after that is the same code.
import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/core-auth';
import type { CliConfig, PipelineConfig, TaskConfig } from './config';
import { isTaskError, TaskError } from './errors';
import type { Ports } from './ports';
import type { IdentityClient, RoleClient } from './ports/azure';
import type { DevOpsClient } from './ports/devops';
import type { DirectoryClient } from './ports/directory';
import type { Platform } from './ports/platform';
import { Secret } from './secret';
import type { ArmSettings } from './adapters/arm-clients';
import { checkProxyReachable } from './adapters/agent-network';
import { AzureDevOpsClient } from './adapters/devops-client';
import type { HttpSettings } from './adapters/http-client';
import { maskingCredential } from './adapters/mask-tokens';
import { builtOnFirstUse } from './adapters/on-first-use';
import { ServiceCalls } from './adapters/service-calls';
import { describeFailure, formatFailure } from './adapters/service-failure';
import { classifyHttpFailure } from './retry';
import { azureDevOpsApplicationId } from './core/model';

/** The audience of Entra tokens for Azure DevOps: its first-party application id. */
export const AZURE_DEVOPS_RESOURCE = azureDevOpsApplicationId;
export const USER_AGENT = 'ManagedIdentityConnections/1.0';

export interface DevOpsToken {
  readonly token: Secret;
  /** A personal access token goes in Basic authentication; everything else is a bearer token. */
  readonly kind: 'bearer' | 'pat';
}

export interface Authentication {
  /** Signs in to ARM: as the bootstrap identity in a pipeline, as the Azure CLI's account on a workstation. */
  readonly arm: TokenCredential;
  /** The token for Azure DevOps calls, already masked. */
  devOpsToken(): Promise<DevOpsToken>;
  /** How the credential's requests travel; the ARM clients use the same object (one connection pool). */
  readonly http?: HttpSettings;
}

/** What a run's calls share from the process: the cancellation of everything still in flight. */
export interface RunControl {
  readonly signal?: AbortSignal;
}

/**
 * Concurrent first calls (every environment reads at once) would each start their own sign-in; one
 * token per scope, shared until five minutes before it expires, makes that a single exchange.
 */
export function sharedTokenCredential(inner: TokenCredential): TokenCredential {
  const tokens = new Map<string, Promise<AccessToken | null>>();
  return {
    getToken(scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken | null> {
      const key = ([] as string[]).concat(scopes).join(' ');
      const cached = tokens.get(key);
      if (cached) {
        return cached.then((token) => {
          if (token && token.expiresOnTimestamp - Date.now() > 5 * 60_000) return token;
          tokens.delete(key);
          return this.getToken(scopes, options);
        });
      }
      const pending = inner.getToken(scopes, options).catch((error: unknown) => {
        tokens.delete(key);
        throw error;
      });
      tokens.set(key, pending);
      return pending;
    },
  };
}

/** The Azure SDKs and MSAL, loaded on the first Azure call (azure-sdk.ts says why). */
const azureSdk = () => import('./adapters/azure-sdk');

/** In a pipeline job: the bootstrap connection's workload identity through the job's OIDC token. */
export function pipelineAuthentication(config: PipelineConfig, platform: Platform, control: RunControl = {}): Authentication {
  const accessToken = config.pipeline.accessToken;
  if (!accessToken) throw new TaskError('MIC106', 'System.AccessToken is not available to the task; the bootstrap connection cannot sign in without it.');
  const setSecret = (value: string) => platform.setSecret(value);
  setSecret(accessToken.reveal());
  const proxyPassword = config.network.proxy?.password?.reveal();
  if (proxyPassword) setSecret(proxyPassword);
  const http: HttpSettings = { network: config.network, ...(control.signal ? { signal: control.signal } : {}) };
  const bootstrap = { tenantId: config.bootstrap.tenantId, connectionId: config.bootstrap.id, systemAccessToken: accessToken.reveal(), authorityHost: config.cloud.authorityHost, setSecret };
  const signIn = builtOnFirstUse<TokenCredential>(async () => (await azureSdk()).pipelineCredential({ ...bootstrap, clientId: config.bootstrap.clientId, http }), { getToken: true });
  const bootstrapName = `Bootstrap connection ${config.bootstrap.id}`;
  const credential = sharedTokenCredential(maskingCredential(explainedSignInFailures(signIn, bootstrapName, bootstrapSignInRemediation), setSecret));
  return {
    arm: credential,
    http,
    devOpsToken: async () => {
      if (config.devOpsAuth === 'systemAccessToken') return { token: accessToken, kind: 'bearer' };
      return { token: new Secret(await entraTokenForDevOps(credential, 'The bootstrap identity')), kind: 'bearer' };
    },
  };
}

export async function entraTokenForDevOps(credential: TokenCredential, who: string, remediation?: string): Promise<string> {
  try {
    const token = await credential.getToken(`${AZURE_DEVOPS_RESOURCE}/.default`);
    if (!token) throw new Error('no token returned');
    return token.token;
  } catch (error) {
    const reason = isTaskError(error) ? error.message : formatFailure(describeFailure(error));
    throw new TaskError('MIC408', `${who} could not get a token for Azure DevOps: ${reason}`, { cause: error, ...(remediation === undefined ? {} : { remediation }) });
  }
}

/** The environment variable the Azure DevOps CLI extension reads a personal access token from. */
export const PAT_VARIABLE = 'AZURE_DEVOPS_EXT_PAT';

const bootstrapSignInRemediation =
  'Check the bootstrap service connection (the bootstrapConnection input): its identity needs a federated credential with exactly the connection\'s issuer and subject, and this pipeline must be allowed to use the connection.';

const cliSignInRemediation = 'Sign in with `az login` (add --tenant-id, or `az account set`, for another tenant); the CLI uses the Azure CLI\'s account.';

export interface CliSignIn {
  /** Environment variables: AZURE_DEVOPS_EXT_PAT, when set, is the Azure DevOps token. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The Azure CLI's account unless given; tests pass a credential that needs no `az login`. */
  readonly credential?: TokenCredential;
}

/**
 * On a workstation: ARM as the Azure CLI's signed-in account; Azure DevOps with a personal access token from
 * AZURE_DEVOPS_EXT_PAT (the az devops convention) or else an Entra token of the same account.
 */
export function cliAuthentication(config: CliConfig, platform: Platform, signIn: CliSignIn): Authentication {
  const setSecret = (value: string) => platform.setSecret(value);
  const inner =
    signIn.credential ?? builtOnFirstUse<TokenCredential>(async () => (await azureSdk()).azureCliCredential(config.tenantId), { getToken: true });
  const credential = sharedTokenCredential(maskingCredential(explainedSignInFailures(inner, 'The Azure CLI account', cliSignInRemediation), setSecret));
  const pat = signIn.env[PAT_VARIABLE]?.trim();
  if (pat) setSecret(pat);
  return {
    arm: credential,
    devOpsToken: async () =>
      pat ? { token: new Secret(pat), kind: 'pat' } : { token: new Secret(await entraTokenForDevOps(credential, 'The Azure CLI account', `Set ${PAT_VARIABLE} to a personal access token, or: ${cliSignInRemediation}`)), kind: 'bearer' },
  };
}

/**
 * A sign-in that fails for good is the caller's sign-in failing — MIC603 with how to fix that sign-in — not the
 * call that happened to ask for the first token (a subscription read would otherwise report MIC604, and an
 * AADSTS code about our own identity would read like one about a managed connection). On a workstation that is
 * nearly always "not logged in" or "wrong tenant"; in a pipeline, the bootstrap connection. Transient failures
 * (network, throttling, 5xx) pass through untouched, for the call's retries.
 */
export function explainedSignInFailures(inner: TokenCredential, who: string, remediation: string): TokenCredential {
  return {
    async getToken(scopes, options) {
      try {
        return await inner.getToken(scopes, options);
      } catch (error) {
        if (isTaskError(error)) throw error;
        const failure = describeFailure(error);
        if (classifyHttpFailure(failure).retry) throw error;
        throw new TaskError('MIC603', `${who} could not get a token for ${([] as string[]).concat(scopes).join(' ')}: ${formatFailure(failure)}`, { cause: error, remediation });
      }
    },
  };
}

/**
 * The CLI names its project by name or id; connections record both, so look the other half up once, before
 * the run. The task gets both from the agent.
 */
export async function withResolvedProject(config: CliConfig, devOps: DevOpsClient): Promise<CliConfig> {
  const wanted = config.pipeline.project.id || config.pipeline.project.name;
  const [project] = await devOps.findProjects([wanted]);
  if (!project) throw new TaskError('MIC406', `Project ${JSON.stringify(wanted)} was not found in ${config.pipeline.collectionUri}, or the signed-in account cannot see it.`, { field: '--project' });
  return Object.freeze({ ...config, pipeline: Object.freeze({ ...config.pipeline, project: Object.freeze({ id: project.id, name: project.name }) }) });
}

export async function createPorts(config: TaskConfig, platform: Platform, authentication: Authentication, control: RunControl = {}): Promise<Ports> {
  const { signal } = control;
  const calls = new ServiceCalls({ platform, deadlineMs: config.propagationTimeoutSeconds * 1000, ...(signal ? { signal } : {}) });
  const network = config.source === 'pipeline' ? config.network : {};
  const http: HttpSettings = authentication.http ?? { network, ...(signal ? { signal } : {}) };
  const arm: ArmSettings = { endpoint: config.cloud.armUrl, resourceId: config.cloud.armResourceId, credential: authentication.arm, userAgent: USER_AGENT, http };
  // A dead proxy fails every request; say so once, at once, instead of retrying each call until the deadline.
  let proxyChecked: Promise<void> | undefined;
  const proxyReachable = () => (proxyChecked ??= checkProxyReachable(network, [config.cloud.armUrl, config.cloud.authorityHost, config.pipeline.collectionUri], signal));
  // Each port is built on its first call (on-first-use.ts): no call before the spec is valid, and the Azure
  // SDKs load only when the first Azure call needs them.
  const armClients = async () => {
    await proxyReachable();
    return azureSdk();
  };
  const identities = builtOnFirstUse<IdentityClient>(async () => new (await armClients()).ArmIdentityClient(arm, calls), {
    getIdentity: true,
    listIdentities: true,
    listIdentitiesInSubscription: true,
    createOrUpdateIdentity: true,
    listFederatedCredentials: true,
    putFederatedCredential: true,
    deleteIdentity: true,
    deleteFederatedCredential: true,
  });
  const roles = builtOnFirstUse<RoleClient>(async () => new (await armClients()).ArmRoleClient(arm, calls), {
    findRoleDefinition: true,
    listAssignmentsForPrincipal: true,
    createAssignment: true,
    getSubscription: true,
    deleteAssignment: true,
    listAssignmentsInSubscription: true,
  });
  const devOps = builtOnFirstUse<DevOpsClient>(
    async () => {
      await proxyReachable();
      // Azure DevOps travels on the Azure SDKs' connections (devops-transport.ts), so it waits for them to load.
      const [{ token, kind }, sdk] = await Promise.all([authentication.devOpsToken(), azureSdk()]);
      return new AzureDevOpsClient({ collectionUri: config.pipeline.collectionUri, project: config.pipeline.project, token, tokenKind: kind, userAgent: USER_AGENT, transport: sdk.devOpsTransport(http) }, calls);
    },
    {
      findConnections: true,
      createConnection: true,
      updateConnection: true,
      switchToEntraIssuer: true,
      getPipelinePermissions: true,
      authorizePipelines: true,
      findPipelines: true,
      revokePipelines: true,
      deleteConnection: true,
      findProjects: true,
      shareConnection: true,
      testConnection: true,
      queueRun: true,
      getRun: true,
      listChecks: true,
      listProjects: true,
      listAzureRmConnections: true,
      lastUsed: true,
      putCheck: true,
      convertConnectionScheme: true,
      revertConnectionScheme: true,
    },
  );
  const directory = builtOnFirstUse<DirectoryClient>(
    async () => new (await armClients()).GraphDirectoryClient({ endpoint: config.cloud.graphUrl ?? graphEndpoint(config.cloud.azureEnvironment), resource: graphEndpoint(config.cloud.azureEnvironment), credential: authentication.arm, userAgent: USER_AGENT, http }, calls),
    { findServicePrincipal: true },
  );
  return { platform, identities, roles, devOps, directory };
}

/** Microsoft Graph of the connection's cloud (https://learn.microsoft.com/graph/deployments). */
export function graphEndpoint(azureEnvironment: string): string {
  switch (azureEnvironment.toLowerCase()) {
    case 'azureusgovernment':
      return 'https://graph.microsoft.us/';
    case 'azurechinacloud':
      return 'https://microsoftgraph.chinacloudapi.cn/';
    default:
      return 'https://graph.microsoft.com/';
  }
}
