// The @azure/identity credentials (with MSAL they are part of azure-sdk.ts, loaded on the first Azure call).
import type { TokenCredential } from '@azure/core-auth';
import { AzureCliCredential, AzurePipelinesCredential } from '@azure/identity';
import { sharedHttpClient, type HttpSettings } from './http-client';
import { maskTokensPolicy } from './mask-tokens';

export interface PipelineCredentialSettings {
  readonly tenantId: string;
  readonly clientId: string;
  /** The bootstrap connection's id. */
  readonly connectionId: string;
  readonly systemAccessToken: string;
  readonly authorityHost: string;
  readonly setSecret: (value: string) => void;
  /** The run's cancellation and the agent's network settings (the same object as the ARM clients'). */
  readonly http?: HttpSettings;
}

/** How long a job OIDC token is used again for the next assertion MSAL asks for (see OneOidcTokenPerSignIn). */
const OIDC_TOKEN_REUSE_MS = 10_000;

interface OidcTokenRequester {
  requestOidcToken(oidcRequestUrl: string, systemAccessToken: string): Promise<string>;
}
const PipelinesCredential = AzurePipelinesCredential as unknown as new (...args: ConstructorParameters<typeof AzurePipelinesCredential>) => TokenCredential & OidcTokenRequester;

/**
 * MSAL asks for the client assertion twice per sign-in, one after the other (msal-node 5's
 * acquireTokenByClientCredential evaluates the request's assertion, then buildOauthClientConfiguration the
 * configuration's), and AzurePipelinesCredential answers each with a POST to the job's OIDC endpoint: one
 * more Azure DevOps round trip in the run's dependent chain (600 ms of 5.2 s in the bench's `mid` profile).
 * The token of the first is valid for the second (the exchange takes it within seconds), so the second
 * uses it. AzurePipelinesCredential binds requestOidcToken in its constructor, hence the override
 * (@azure/identity is pinned to an exact version in package.json).
 */
class OneOidcTokenPerSignIn extends PipelinesCredential {
  private last: { at: number; token: Promise<string> } | undefined;

  override requestOidcToken(oidcRequestUrl: string, systemAccessToken: string): Promise<string> {
    const now = Date.now();
    if (this.last && now - this.last.at < OIDC_TOKEN_REUSE_MS) return this.last.token;
    const token = super.requestOidcToken(oidcRequestUrl, systemAccessToken);
    const entry = { at: now, token };
    this.last = entry;
    token.catch(() => {
      if (this.last === entry) this.last = undefined;
    });
    return token;
  }
}

/** The bootstrap connection's workload identity, through the job's OIDC token. */
export function pipelineCredential(settings: PipelineCredentialSettings): TokenCredential {
  return new OneOidcTokenPerSignIn(settings.tenantId, settings.clientId, settings.connectionId, settings.systemAccessToken, {
    authorityHost: settings.authorityHost,
    httpClient: sharedHttpClient(settings.http),
    // The authority comes from the bootstrap connection; MSAL's instance discovery would instead ask
    // login.microsoftonline.com about it, which sovereign clouds and isolated agents cannot reach.
    disableInstanceDiscovery: true,
    additionalPolicies: [
      // Masks the OIDC and access tokens the credential receives, which never leave the library otherwise.
      { policy: maskTokensPolicy(settings.setSecret), position: 'perCall' },
    ],
  });
}

/** The Azure CLI's signed-in account (`az login`), for the command-line tool. */
export function azureCliCredential(tenantId: string | undefined): TokenCredential {
  return new AzureCliCredential(tenantId === undefined ? {} : { tenantId });
}
