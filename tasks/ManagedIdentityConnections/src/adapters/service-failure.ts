// What went wrong in a call to Azure, Entra ID or Azure DevOps, read the same way whichever client threw it.
//
// Three client families throw three shapes: @azure/core-rest-pipeline's RestError (ARM: statusCode, `code`
// from the ARM error body, the response with its headers), @azure/identity's AuthenticationError (Entra:
// statusCode and an OAuth error response whose description starts with the AADSTS code), and
// typed-rest-client's plain Error (Azure DevOps: statusCode, the parsed body in `result`, `responseHeaders`).
// Network failures arrive as Node errors with a `code` such as ECONNRESET, sometimes wrapped. Retry and
// translation decide on this one shape instead of on each library's.
import { networkErrorCodes, parseRetryAfter, type HeaderSource } from '../retry';

export type FailureSource = 'arm' | 'entra' | 'devops' | 'network' | 'unknown';

export interface ServiceFailure {
  readonly source: FailureSource;
  readonly statusCode?: number;
  /** ARM `error.code`, an Entra `error`, Azure DevOps `typeKey`, or a Node network code. */
  readonly code?: string;
  /** The service's own words (ARM message, AADSTS description, Azure DevOps message). */
  readonly message: string;
  readonly retryAfterMs?: number;
  /** ARM's x-ms-correlation-request-id or Azure DevOps' activity id, for support requests. */
  readonly correlationId?: string;
}

type Bag = Record<string, unknown>;

function isBag(value: unknown): value is Bag {
  return typeof value === 'object' && value !== null;
}

function headerSource(value: unknown): HeaderSource | undefined {
  if (!isBag(value)) return undefined;
  if (typeof value.get === 'function') return value as unknown as HeaderSource;
  return value as Readonly<Record<string, string | undefined>>;
}

function header(headers: HeaderSource | undefined, name: string): string | undefined {
  if (!headers) return undefined;
  if (typeof (headers as { get?: unknown }).get === 'function') return (headers as { get(name: string): string | null | undefined }).get(name) ?? undefined;
  const record = headers as Readonly<Record<string, string | undefined>>;
  const key = Object.keys(record).find((candidate) => candidate.toLowerCase() === name);
  return key === undefined ? undefined : record[key];
}

/** The Node network code of an error or of one of its causes (RestError wraps socket errors). */
function networkCode(error: unknown, depth = 0): string | undefined {
  if (!isBag(error) || depth > 4) return undefined;
  if (typeof error.code === 'string' && networkErrorCodes.has(error.code)) return error.code;
  // A connection lost mid-answer: Node's "socket hang up", undici's "terminated" / "other side closed", and
  // core-rest-pipeline's PARSE_ERROR "Error reading response as text: aborted" (the body stopped half-way).
  if (/socket hang up|other side closed|^terminated$|reading response as text: aborted/i.test(String(error.message ?? ''))) return 'ECONNRESET';
  return networkCode(error.cause, depth + 1) ?? networkCode(error.innerError, depth + 1);
}

export function describeFailure(error: unknown, now = Date.now()): ServiceFailure {
  const network = networkCode(error);
  if (!isBag(error)) return { source: 'unknown', message: String(error) };
  const message = typeof error.message === 'string' ? error.message : String(error);

  if (error.name === 'AuthenticationError' && isBag(error.errorResponse)) {
    const response = error.errorResponse;
    return {
      source: 'entra',
      ...(typeof error.statusCode === 'number' ? { statusCode: error.statusCode } : {}),
      code: String(response.error ?? 'authentication_failed'),
      message: String(response.errorDescription ?? message),
      ...(typeof response.correlationId === 'string' ? { correlationId: response.correlationId } : {}),
    };
  }
  if (error.name === 'CredentialUnavailableError') return { source: 'entra', code: 'CredentialUnavailable', message };

  if (error.name === 'RestError') {
    const response = isBag(error.response) ? error.response : undefined;
    const headers = headerSource(response?.headers);
    const retryAfterMs = headers ? parseRetryAfter(headers, now) : undefined;
    const correlationId = header(headers, 'x-ms-correlation-request-id') ?? header(headers, 'x-ms-request-id');
    // A status may have arrived before the body was cut off: the answer is still lost.
    if (network !== undefined && (typeof error.statusCode !== 'number' || error.code === 'PARSE_ERROR')) return { source: 'network', code: network, message };
    return {
      source: 'arm',
      ...(typeof error.statusCode === 'number' ? { statusCode: error.statusCode } : {}),
      ...(typeof error.code === 'string' ? { code: error.code } : {}),
      message,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
      ...(correlationId === undefined ? {} : { correlationId }),
    };
  }

  if (typeof error.statusCode === 'number') {
    // typed-rest-client (azure-devops-node-api): the parsed error body is in `result`.
    const result = isBag(error.result) ? error.result : undefined;
    const headers = headerSource(error.responseHeaders);
    const retryAfterMs = headers ? parseRetryAfter(headers, now) : undefined;
    const activityId = header(headers, 'activityid') ?? header(headers, 'x-vss-e2eid');
    return {
      source: 'devops',
      statusCode: error.statusCode,
      ...(typeof result?.typeKey === 'string' ? { code: result.typeKey } : {}),
      message: typeof result?.message === 'string' ? result.message : message,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
      ...(activityId === undefined ? {} : { correlationId: activityId }),
    };
  }

  if (network !== undefined) return { source: 'network', code: network, message };
  return { source: 'unknown', ...(typeof error.code === 'string' ? { code: error.code } : {}), message };
}

/** `HTTP 403 AuthorizationFailed: …  (correlation id …)` — for messages and debug lines. */
export function formatFailure(failure: ServiceFailure): string {
  const status = failure.statusCode === undefined ? '' : `HTTP ${failure.statusCode} `;
  const code = failure.code === undefined ? '' : `${failure.code}: `;
  const correlation = failure.correlationId === undefined ? '' : ` (correlation id ${failure.correlationId})`;
  return `${status}${code}${failure.message}${correlation}`.trim();
}

/**
 * One short line for retry progress: the code and the first sentence. A propagation wait repeats every few
 * seconds for minutes; the full AADSTS text (trace ids, timestamps) belongs in the final error only.
 */
export function briefFailure(failure: ServiceFailure): string {
  // A TestConnection answer wraps the real error: an AADSTS code, or ARM's JSON error with its code.
  const aadsts = /AADSTS\d+/.exec(failure.message)?.[0];
  const armCode = /"code"\s*:\s*"([A-Za-z]+)"/.exec(failure.message)?.[1];
  const armMessage = /"message"\s*:\s*"([^"]+)"/.exec(failure.message)?.[1];
  const body = aadsts ? failure.message.replace(/^.*?(AADSTS\d+:\s*)/, '') : armMessage ?? failure.message;
  const firstSentence = body.split(/(?<=\.)\s/)[0] ?? body;
  const text = firstSentence.length > 140 ? `${firstSentence.slice(0, 137)}…` : firstSentence;
  const code = aadsts ?? armCode ?? failure.code ?? (failure.statusCode === undefined ? undefined : `HTTP ${failure.statusCode}`);
  return code === undefined ? text : `${code}: ${text}`;
}

/**
 * azure-devops-node-api resolves a call whose answer was cut off mid-body with `null`: the server may have
 * done the work, the client knows nothing. Thrown as a dropped connection, so the call is retried (a create
 * looks the object up first) instead of a TypeError on the missing answer.
 */
export function requireAnswer<T>(answer: T | null | undefined, what: string): T {
  if (answer !== null && answer !== undefined) return answer;
  throw Object.assign(new Error(`the connection closed before the whole answer to "${what}" arrived`), { code: 'ECONNRESET' });
}
