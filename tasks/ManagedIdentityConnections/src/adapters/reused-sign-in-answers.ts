// Answers a sign-in's repeated or prefetched requests without going back to the network.
//
// Two requests of AzurePipelinesCredential's sign-in have answers that stay good for a while:
// - the job's OIDC token (POST …/oidctoken): MSAL calls the credential's callback twice per sign-in (once while
//   building the client application, once for the request) — two round trips to Azure DevOps in a row before
//   the token exchange can start. The token is valid for minutes (legacy issuer) to a day (Entra issuer), so
//   the first answer serves until a minute before it expires;
// - an authority's OpenID configuration (GET …/.well-known/openid-configuration), which does not change while
//   the task runs.
// This pipeline policy, on the credential's own HTTP pipeline, answers them from the first answer — which may
// be one sign-in-prefetch.ts sent before the SDKs loaded. Only successful answers are kept; a failure is asked
// again next time, and every other request passes through untouched.
import { createHttpHeaders, type PipelinePolicy, type PipelineRequest, type PipelineResponse } from '@azure/core-rest-pipeline';
import { answerKey, type Answer, type PrefetchedAnswers } from './sign-in-prefetch';

const EXPIRY_MARGIN_MS = 60_000;

interface Kept extends Answer {
  readonly expiresAt: number;
}

type Reusable = 'oidcToken' | 'openIdConfiguration';

function reusable(method: string, url: string): Reusable | undefined {
  if (method === 'POST' && /\/oidctoken(\?|$)/i.test(url)) return 'oidcToken';
  if (method === 'GET' && /\/\.well-known\/openid-configuration(\?|$)/i.test(url)) return 'openIdConfiguration';
  return undefined;
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

function parsed(body: string): Record<string, unknown> | undefined {
  try {
    const value = JSON.parse(body) as unknown;
    return value !== null && typeof value === 'object' ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** How long an answer may be reused, or undefined when it must not be (a failure, or nothing readable). */
function keep(kind: Reusable, answer: Answer | undefined): Kept | undefined {
  if (answer?.status !== 200) return undefined;
  const body = parsed(answer.body);
  if (kind === 'openIdConfiguration') return typeof body?.['token_endpoint'] === 'string' ? { ...answer, expiresAt: Number.POSITIVE_INFINITY } : undefined;
  const token = body?.['oidcToken'];
  const expiresAt = typeof token === 'string' ? expiryOf(token) : undefined;
  return expiresAt === undefined ? undefined : { ...answer, expiresAt };
}

export function reusedSignInAnswersPolicy(prefetched: PrefetchedAnswers = new Map(), now: () => number = Date.now): PipelinePolicy {
  const answers = new Map<string, Promise<Kept | undefined>>();
  return {
    name: 'reuseSignInAnswers',
    async sendRequest(request: PipelineRequest, next) {
      const kind = reusable(request.method, request.url);
      if (kind === undefined) return next(request);
      const key = answerKey(request.method, request.url);
      // The first ask of a prefetched request takes the prefetch's answer as its own.
      const prefetch = answers.has(key) ? undefined : prefetched.get(key);
      if (prefetch) answers.set(key, prefetch.then((answer) => keep(kind, answer)));
      const kept = await answers.get(key);
      if (kept && kept.expiresAt - EXPIRY_MARGIN_MS > now()) {
        return { request, status: kept.status, headers: createHttpHeaders({ ...kept.headers }), bodyAsText: kept.body } satisfies PipelineResponse;
      }
      let settle: (value: Kept | undefined) => void = () => undefined;
      answers.set(key, new Promise((resolve) => (settle = resolve)));
      try {
        const response = await next(request);
        settle(keep(kind, { status: response.status, headers: response.headers.toJSON(), body: response.bodyAsText ?? '' }));
        return response;
      } catch (error) {
        settle(undefined);
        throw error;
      }
    },
  };
}
