// Masks every token the moment it exists, even the ones that never leave the SDKs.
//
// AzurePipelinesCredential fetches the job's OIDC token and exchanges it for an access token inside the
// library; we never hold either. A pipeline policy on the credential's own HTTP pipeline sees both answers
// as they arrive and hands the token strings to setSecret, so the agent masks them should anything (an SDK
// log line under AZURE_LOG_LEVEL, an error description) ever print one. The credential wrapper masks the
// access tokens the SDK clients receive, whatever credential produced them (the CLI's too).
import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/core-auth';
import type { PipelinePolicy } from '@azure/core-rest-pipeline';

const TOKEN_FIELDS = ['access_token', 'id_token', 'refresh_token', 'oidcToken', 'token', 'accessToken'];

/** Masks every token field of a JSON answer body; anything else is left alone. */
export function maskTokensInBody(text: string | null | undefined, setSecret: (value: string) => void): void {
  if (!text || !/token/i.test(text)) return;
  try {
    const body = JSON.parse(text) as Record<string, unknown>;
    for (const field of TOKEN_FIELDS) {
      const value = body[field];
      if (typeof value === 'string' && value.length > 0) setSecret(value);
    }
  } catch {
    // Not JSON: nothing we know how to read a token from.
  }
}

export function maskTokensPolicy(setSecret: (value: string) => void): PipelinePolicy {
  return {
    name: 'maskTokensInResponses',
    async sendRequest(request, next) {
      const response = await next(request);
      maskTokensInBody(response.bodyAsText, setSecret);
      return response;
    },
  };
}

export function maskingCredential(inner: TokenCredential, setSecret: (value: string) => void): TokenCredential {
  return {
    async getToken(scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken | null> {
      const token = await inner.getToken(scopes, options);
      if (token?.token) setSecret(token.token);
      return token;
    },
  };
}
