// The composition root: the one place that builds SDK clients, credentials and the retry policy, and hands
// the core its ports. Two ways in — a pipeline job (the task) and a workstation (the CLI) — differ only in
// how they sign in; everything after that is the same code.
import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/core-auth';
import { AzurePipelinesCredential } from '@azure/identity';
import type { TaskConfig } from './config';
import { TaskError } from './errors';
import type { Ports } from './ports';
import type { Platform } from './ports/platform';
import { Secret } from './secret';
import { ArmIdentityClient, ArmRoleClient, type ArmSettings } from './adapters/arm-clients';
import { AzureDevOpsClient } from './adapters/devops-client';
import { maskingCredential, maskTokensPolicy } from './adapters/mask-tokens';
import { ServiceCalls } from './adapters/service-calls';
import { describeFailure, formatFailure } from './adapters/service-failure';

/** Azure DevOps' first-party application id: the audience of Entra tokens for Azure DevOps. */
export const AZURE_DEVOPS_RESOURCE = '499b84ac-1321-427f-aa17-267ca6975798';
export const USER_AGENT = 'ManagedIdentityConnections/1.0';

export interface Authentication {
  /** Signs in to ARM as the bootstrap identity. */
  readonly arm: TokenCredential;
  /** The token for Azure DevOps calls, already masked. */
  devOpsToken(): Promise<Secret>;
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

/** In a pipeline job: the bootstrap connection's workload identity through the job's OIDC token. */
export function pipelineAuthentication(config: TaskConfig, platform: Platform): Authentication {
  const accessToken = config.pipeline.accessToken;
  if (!accessToken) throw new TaskError('MIC106', 'System.AccessToken is not available to the task; the bootstrap connection cannot sign in without it.');
  const setSecret = (value: string) => platform.setSecret(value);
  setSecret(accessToken.reveal());
  const credential = sharedTokenCredential(
    maskingCredential(
      new AzurePipelinesCredential(config.bootstrap.tenantId, config.bootstrap.clientId, config.bootstrap.id, accessToken.reveal(), {
        authorityHost: config.bootstrap.authorityHost,
        // The authority comes from the bootstrap connection; MSAL's instance discovery would instead ask
        // login.microsoftonline.com about it, which sovereign clouds and isolated agents cannot reach.
        disableInstanceDiscovery: true,
        additionalPolicies: [{ policy: maskTokensPolicy(setSecret), position: 'perCall' }],
      }),
      setSecret,
    ),
  );
  return {
    arm: credential,
    devOpsToken: async () => {
      if (config.devOpsAuth === 'systemAccessToken') return accessToken;
      return new Secret(await entraTokenForDevOps(credential));
    },
  };
}

export async function entraTokenForDevOps(credential: TokenCredential): Promise<string> {
  try {
    const token = await credential.getToken(`${AZURE_DEVOPS_RESOURCE}/.default`);
    if (!token) throw new Error('no token returned');
    return token.token;
  } catch (error) {
    throw new TaskError('MIC408', `The bootstrap identity could not get a token for Azure DevOps: ${formatFailure(describeFailure(error))}`, { cause: error });
  }
}

export async function createPorts(config: TaskConfig, platform: Platform, authentication: Authentication): Promise<Ports> {
  const calls = new ServiceCalls({ platform, deadlineMs: config.propagationTimeoutSeconds * 1000 });
  const arm: ArmSettings = {
    endpoint: config.bootstrap.armUrl,
    resourceId: config.bootstrap.armResourceId,
    credential: authentication.arm,
    userAgent: USER_AGENT,
  };
  const devOps = new AzureDevOpsClient(
    { collectionUri: config.pipeline.collectionUri, project: config.pipeline.project, token: await authentication.devOpsToken(), userAgent: USER_AGENT },
    calls,
  );
  return { platform, identities: new ArmIdentityClient(arm, calls), roles: new ArmRoleClient(arm, calls), devOps };
}
