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

/** The bootstrap connection's workload identity, through the job's OIDC token. */
export function pipelineCredential(settings: PipelineCredentialSettings): TokenCredential {
  return new AzurePipelinesCredential(settings.tenantId, settings.clientId, settings.connectionId, settings.systemAccessToken, {
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
