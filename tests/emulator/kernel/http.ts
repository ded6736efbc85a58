// The emulator's HTTP vocabulary: a parsed request, a response value, a typed error, and a router.
//
// Why a hand-written router instead of express or similar: ARM paths need three things no general
// router gives together — case-insensitive literal segments (`resourceGroups` vs `resourcegroups`),
// collapsing `//` (arm-authorization sends `//subscriptions/...` because its scope is not encoded), and
// variable-depth scope captures (`/{scope}/providers/Microsoft.Authorization/roleAssignments/{name}`,
// where scope may be a subscription, a resource group or a resource). Matching is ~60 lines here.

export type Service = 'entra' | 'arm' | 'graph' | 'devops' | 'test-issuer' | 'control';

/** Whether a call counts as a read or a write in `GET state`'s request counters. */
export type RequestKind = 'read' | 'write';

export interface EmuRequest {
  readonly method: string;
  /** Host header as sent (`127.0.0.1:8443`, or `management.azure.com` through the proxy). */
  readonly host: string;
  /** `https://{host}`: build every self-referencing URL from this, never from a fixed port. */
  readonly origin: string;
  /** Decoded path with repeated slashes collapsed and no trailing slash (except `/`). */
  readonly path: string;
  /** Query parameters, URL-decoded. Keys keep their case; use `queryParam` for case-insensitive lookup. */
  readonly query: URLSearchParams;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly rawBody: Buffer;
  /** Route parameters captured by the matched pattern. `*name` captures are joined with `/` and start with `/`. */
  params: Record<string, string>;
  /**
   * A trusted in-process setup call (seeding, control API). ARM skips authorization and throttling for
   * it. Never true for anything that arrived over the network.
   */
  readonly system?: boolean;
  /**
   * When the request reached the emulator (ms since epoch), before any injected latency. Lets a handler
   * model work that was already under way while the request was delayed (e.g. concurrent FIC writes).
   */
  readonly arrivedAt?: number;
}

export interface EmuResponse {
  status: number;
  headers?: Record<string, string | number | string[]>;
  /** Objects are sent as JSON; strings and Buffers as they are. */
  body?: unknown;
  /** Set by a `dropAfterCommit` fault: the server sends half of this answer, then resets the connection. */
  dropMidBody?: boolean;
}

/** Throw from a handler to answer with this status, body and headers. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Record<string, string | number | string[]> = {},
  ) {
    super(typeof body === 'object' && body !== null ? JSON.stringify(body) : String(body));
    this.name = 'HttpError';
  }
}

export function queryParam(req: EmuRequest, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of req.query) if (key.toLowerCase() === wanted) return value;
  return undefined;
}

export function header(req: EmuRequest, name: string): string | undefined {
  const value = req.headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

export function bearerToken(req: EmuRequest): string | undefined {
  const auth = header(req, 'authorization');
  const match = auth ? /^Bearer\s+(.+)$/i.exec(auth) : null;
  return match ? match[1].trim() : undefined;
}

export function jsonBody<T = unknown>(req: EmuRequest, onInvalid: (message: string) => never): T {
  const text = req.rawBody.toString('utf8');
  if (text.trim() === '') return undefined as T;
  try {
    return JSON.parse(text) as T;
  } catch (error) {
    return onInvalid(`The request body is not valid JSON: ${(error as Error).message}`);
  }
}

export function formBody(req: EmuRequest): URLSearchParams {
  return new URLSearchParams(req.rawBody.toString('utf8'));
}

/** `/a//b/` → `/a/b`; decodes each segment once. */
export function normalizePath(rawPath: string): string {
  const segments = rawPath.split('/').filter((segment) => segment !== '').map(safeDecode);
  return '/' + segments.join('/');
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

export type Handler = (req: EmuRequest) => EmuResponse | Promise<EmuResponse>;

export interface RouteOptions {
  service: Service;
  /** Default: GET/HEAD/OPTIONS are reads, everything else writes. Token and test calls say `read`. */
  kind?: RequestKind;
  /** A short stable name for fault rules and request logs, e.g. `arm.identities.put`. */
  name: string;
}

export interface Route extends RouteOptions {
  method: string;
  pattern: string;
  kind: RequestKind;
  handler: Handler;
  segments: PatternSegment[];
}

type PatternSegment = { literal: string } | { param: string } | { rest: string };

export interface RouteMatch {
  route: Route;
  params: Record<string, string>;
}

/**
 * Patterns: `/subscriptions/:subscriptionId/resourceGroups/:rg`; `*scope` captures zero or more segments
 * (shortest first, so the literal that follows decides). Literals match case-insensitively, as ARM does.
 */
export class Router {
  private readonly routes: Route[] = [];

  add(method: string, pattern: string, options: RouteOptions, handler: Handler): void {
    const upper = method.toUpperCase();
    this.routes.push({
      ...options,
      method: upper,
      pattern,
      kind: options.kind ?? (['GET', 'HEAD', 'OPTIONS'].includes(upper) ? 'read' : 'write'),
      handler,
      segments: parsePattern(pattern),
    });
  }

  /** The first route, in registration order, whose method and pattern match and whose service is allowed. */
  match(method: string, path: string, allowed: (service: Service) => boolean): RouteMatch | undefined {
    const segments = path === '/' ? [] : path.slice(1).split('/');
    for (const route of this.routes) {
      if (route.method !== method.toUpperCase() && route.method !== '*') continue;
      if (!allowed(route.service)) continue;
      const params: Record<string, string> = {};
      if (matchSegments(route.segments, 0, segments, 0, params)) return { route, params };
    }
    return undefined;
  }

  /** Every route in registration order, without handlers: for listings such as the control API's index. */
  list(): readonly Pick<Route, 'method' | 'pattern' | 'name' | 'service'>[] {
    return this.routes.map(({ method, pattern, name, service }) => ({ method, pattern, name, service }));
  }

  /** Whether any route would match the path with another method (for 405 vs 404). */
  hasPath(path: string, allowed: (service: Service) => boolean): Route | undefined {
    const segments = path === '/' ? [] : path.slice(1).split('/');
    return this.routes.find((route) => allowed(route.service) && matchSegments(route.segments, 0, segments, 0, {}));
  }
}

function parsePattern(pattern: string): PatternSegment[] {
  return pattern
    .split('/')
    .filter((segment) => segment !== '')
    .map((segment): PatternSegment => {
      if (segment.startsWith(':')) return { param: segment.slice(1) };
      if (segment.startsWith('*')) return { rest: segment.slice(1) };
      return { literal: segment.toLowerCase() };
    });
}

function matchSegments(
  pattern: PatternSegment[],
  pi: number,
  path: string[],
  si: number,
  params: Record<string, string>,
): boolean {
  if (pi === pattern.length) return si === path.length;
  const part = pattern[pi];
  if ('literal' in part) {
    return si < path.length && path[si].toLowerCase() === part.literal && matchSegments(pattern, pi + 1, path, si + 1, params);
  }
  if ('param' in part) {
    if (si >= path.length) return false;
    params[part.param] = path[si];
    if (matchSegments(pattern, pi + 1, path, si + 1, params)) return true;
    delete params[part.param];
    return false;
  }
  for (let end = si; end <= path.length; end++) {
    params[part.rest] = '/' + path.slice(si, end).join('/');
    if (matchSegments(pattern, pi + 1, path, end, params)) return true;
  }
  delete params[part.rest];
  return false;
}
