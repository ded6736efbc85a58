// Reuses the job's OIDC token instead of asking Azure DevOps for it again.
//
// AzurePipelinesCredential hands MSAL a callback that POSTs to the job's oidctoken endpoint, and MSAL calls
// it twice per sign-in (once while building the client application, once for the request) — two round trips
// to Azure DevOps in a row before the token exchange can start. The token is valid for minutes (legacy
// issuer) to a day (Entra issuer). This pipeline policy, on the credential's own HTTP pipeline, answers a
// repeated request for the same URL (job and connection) with the first answer until a minute before the
// token expires. Only successful answers are kept; a failure is asked again next time.
import { createHttpHeaders, type PipelinePolicy, type PipelineResponse } from '@azure/core-rest-pipeline';

const EXPIRY_MARGIN_MS = 60_000;

interface Cached {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
  readonly expiresAt: number;
}

/** `exp` of a JWT in ms, or undefined when the text is not a JWT with one. */
function expiryOf(token: string): number | undefined {
  const payload = token.split('.')[1];
  if (payload === undefined) return undefined;
  try {
    const exp = (JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { exp?: unknown }).exp;
    return typeof exp === 'number' ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/** The `oidcToken` of an answer; anything unreadable is left to the credential to report. */
function oidcTokenOf(body: string | undefined): string | undefined {
  try {
    const token = body ? (JSON.parse(body) as { oidcToken?: unknown }).oidcToken : undefined;
    return typeof token === 'string' ? token : undefined;
  } catch {
    return undefined;
  }
}

export function oidcTokenCachePolicy(now: () => number = Date.now): PipelinePolicy {
  const answers = new Map<string, Promise<Cached | undefined>>();
  return {
    name: 'reuseJobOidcToken',
    async sendRequest(request, next) {
      if (request.method !== 'POST' || !/\/oidctoken(\?|$)/i.test(request.url)) return next(request);
      const cached = await answers.get(request.url);
      if (cached && cached.expiresAt - EXPIRY_MARGIN_MS > now()) {
        return { request, status: cached.status, headers: createHttpHeaders(cached.headers), bodyAsText: cached.body } satisfies PipelineResponse;
      }
      let settle: (value: Cached | undefined) => void = () => undefined;
      answers.set(request.url, new Promise((resolve) => (settle = resolve)));
      try {
        const response = await next(request);
        const token = response.status === 200 ? oidcTokenOf(response.bodyAsText ?? undefined) : undefined;
        const expiresAt = token === undefined ? undefined : expiryOf(token);
        settle(expiresAt === undefined ? undefined : { status: response.status, headers: response.headers.toJSON(), body: response.bodyAsText ?? '', expiresAt });
        return response;
      } catch (error) {
        settle(undefined);
        throw error;
      }
    },
  };
}
