// The first requests of a pipeline sign-in, sent before the Azure SDKs are loaded.
//
// AzurePipelinesCredential signs in with up to three round trips in a row: MSAL asks for the job's OIDC token
// (the client assertion); for an authority whose endpoints it does not know by heart — anything but the public
// and sovereign Entra clouds, e.g. Azure Stack Hub or the emulator — it then fetches the authority's OpenID
// configuration; then it exchanges the assertion for a token. The first two depend on nothing but the job, so
// they are sent from here, with Node's own https, in parallel, as soon as the first Azure call needs a token.
// That is before the Azure SDKs and MSAL are compiled and loaded (tens of milliseconds of blocked thread):
// `onTheWire` tells the caller when the requests have left, so the load waits for them rather than they for
// the load. The credential's pipeline then answers MSAL's identical requests from these answers
// (reused-sign-in-answers.ts). A request MSAL or the library shapes differently simply misses and is sent
// again — one extra request, never a wrong answer.
import { request as httpsRequest } from 'node:https';
import { maskTokensInBody } from './mask-tokens';

export interface Answer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** Prefetched answers by `${METHOD} ${url}`; undefined when the prefetch failed and the request must be sent again. */
export type PrefetchedAnswers = ReadonlyMap<string, Promise<Answer | undefined>>;

export interface SignInPrefetch {
  readonly answers: PrefetchedAnswers;
  /** Resolves once every request has been written to its connection, or has failed. */
  readonly onTheWire: Promise<void>;
}

export interface SignInPrefetchSettings {
  /** System.OidcRequestUri; without it there is no OIDC token to fetch (the credential reports why). */
  readonly oidcRequestUri: string | undefined;
  readonly connectionId: string;
  readonly systemAccessToken: string;
  readonly authorityHost: string;
  readonly tenantId: string;
  /** Every answer's token is masked the moment it arrives. */
  readonly setSecret: (value: string) => void;
  /** The process environment, to see whether requests must go through a proxy. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The agent has a proxy (Agent.ProxyUrl): the credential's pipeline sends everything through it. */
  readonly agentProxy?: boolean;
  /** Certificate authorities to trust, when the agent adds one (agent-network.ts). */
  readonly ca?: readonly string[];
  /** The run's cancellation. */
  readonly signal?: AbortSignal;
}

/** The api-version AzurePipelinesCredential asks the oidctoken endpoint for. */
const OIDC_API_VERSION = '7.1';
/** A prefetch that has no answer by then is abandoned; MSAL's own request then goes out as usual. */
const ANSWER_TIMEOUT_MS = 30_000;
/** Hosts whose OpenID configuration MSAL carries built in (msal-common's AuthorityMetadata): no fetch to save. */
const AUTHORITIES_MSAL_KNOWS = new Set([
  'login.microsoftonline.com',
  'login.microsoftonline.us',
  'login.partner.microsoftonline.cn',
  'login.sovcloud-identity.fr',
  'login.sovcloud-identity.de',
  'login.sovcloud-identity.sg',
]);
const PROXY_VARIABLES = ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy', 'ALL_PROXY', 'all_proxy'];

/** The URL AzurePipelinesCredential POSTs to for the job's OIDC token. */
export function oidcTokenUrl(oidcRequestUri: string, connectionId: string): string {
  return `${oidcRequestUri}?api-version=${OIDC_API_VERSION}&serviceConnectionId=${connectionId}`;
}

/** The URL MSAL reads an authority's endpoints from: `${authority}/v2.0/.well-known/openid-configuration`. */
export function openIdConfigurationUrl(authorityHost: string, tenantId: string): string {
  return `${authorityHost.replace(/\/+$/, '')}/${tenantId}/v2.0/.well-known/openid-configuration`;
}

export function answerKey(method: string, url: string): string {
  return `${method.toUpperCase()} ${url}`;
}

interface PrefetchRequest {
  readonly method: 'GET' | 'POST';
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
}

export function prefetchSignIn(settings: SignInPrefetchSettings): SignInPrefetch {
  // Behind a proxy these would go straight out while the SDKs go through it (their proxy policy reads the same
  // variables); rather than implement a proxy client for a few milliseconds, let MSAL send them.
  if (settings.agentProxy || PROXY_VARIABLES.some((name) => settings.env[name])) return { answers: new Map(), onTheWire: Promise.resolve() };
  const requests: PrefetchRequest[] = [];
  if (settings.oidcRequestUri) {
    requests.push({
      method: 'POST',
      url: oidcTokenUrl(settings.oidcRequestUri, settings.connectionId),
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${settings.systemAccessToken}`, 'X-TFS-FedAuthRedirect': 'Suppress' },
    });
  }
  const authority = hostOf(settings.authorityHost);
  if (authority !== undefined && !AUTHORITIES_MSAL_KNOWS.has(authority)) {
    requests.push({ method: 'GET', url: openIdConfigurationUrl(settings.authorityHost, settings.tenantId), headers: { Accept: 'application/json' } });
  }
  const answers = new Map<string, Promise<Answer | undefined>>();
  const sent: Promise<void>[] = [];
  for (const prefetch of requests) {
    const { answer, onTheWire } = send(prefetch, settings);
    answers.set(answerKey(prefetch.method, prefetch.url), answer);
    sent.push(onTheWire);
  }
  return { answers, onTheWire: Promise.all(sent).then(() => undefined) };
}

function hostOf(url: string): string | undefined {
  try {
    return new URL(url).host.toLowerCase();
  } catch {
    return undefined;
  }
}

function send(prefetch: PrefetchRequest, { setSecret, ca, signal }: SignInPrefetchSettings): { answer: Promise<Answer | undefined>; onTheWire: Promise<void> } {
  let wired: () => void = () => undefined;
  const onTheWire = new Promise<void>((resolve) => (wired = resolve));
  const answer = new Promise<Answer | undefined>((resolve) => {
    const give = (value: Answer | undefined) => {
      wired();
      resolve(value);
    };
    let outgoing;
    try {
      const options = { method: prefetch.method, headers: prefetch.headers, timeout: ANSWER_TIMEOUT_MS, ...(ca ? { ca: [...ca] } : {}), ...(signal ? { signal } : {}) };
      outgoing = httpsRequest(prefetch.url, options, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', () => give(undefined));
        response.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          maskTokensInBody(body, setSecret);
          const headers: Record<string, string> = {};
          for (const [name, value] of Object.entries(response.headers)) if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
          give({ status: response.statusCode ?? 0, headers, body });
        });
      });
    } catch {
      give(undefined);
      return;
    }
    outgoing.on('finish', wired);
    outgoing.on('timeout', () => outgoing.destroy());
    outgoing.on('error', () => give(undefined));
    outgoing.end();
  });
  return { answer, onTheWire };
}
