// What every emulator module shares: the routers, the keys, the settings, the request counters, the
// fault book, and a way to call another module's routes in-process.
//
// A module (Entra + ARM, Azure DevOps, Graph) registers routes and owns its slice of state. Modules talk
// to each other through `internalFetch`, i.e. through the same HTTP semantics a client sees — so
// TestConnection really exchanges a token at the Entra route and really GETs the subscription through
// ARM's authorization checks, instead of reaching into another module's maps.
import type { EmuRequest, EmuResponse, Router, Service, RequestKind } from './http';
import type { FaultBook } from './faults';
import type { BucketSettings } from './throttle';
import type { IssuedTokenLog, KeyRing } from './tokens';

export interface EmulatorSettings {
  /** A federated credential is not used for token exchange until this long after it was written. */
  ficPropagationMs: number;
  /** A new identity's service principal is unknown to role assignments (without principalType) for this long. */
  principalReplicationMs: number;
  /** ARM throttling per subscription × principal × operation type. */
  throttle: { enabled: boolean; reads: BucketSettings; writes: BucketSettings; deletes: BucketSettings };
  /** Lifetime of access tokens the Entra endpoint issues. */
  accessTokenLifetimeSeconds: number;
  /** Module-specific settings (e.g. `devops`), merged by `POST settings`. */
  [module: string]: unknown;
}

export function defaultSettings(): EmulatorSettings {
  return {
    ficPropagationMs: 0,
    principalReplicationMs: 0,
    throttle: {
      enabled: true,
      reads: { capacity: 250, refillPerSecond: 25 },
      writes: { capacity: 200, refillPerSecond: 10 },
      deletes: { capacity: 200, refillPerSecond: 10 },
    },
    accessTokenLifetimeSeconds: 3599,
  };
}

export interface RequestLogEntry {
  /** When the answer left (after any injected latency). */
  at: string;
  /** When the request arrived, before any injected latency (start-up measurements use it). */
  arrivedAt?: string;
  method: string;
  host: string;
  path: string;
  route: string;
  service: Service | 'none';
  kind: RequestKind;
  status: number;
  /** `h2` or `http/1.1`: how the request arrived (absent for the proxy's CONNECT entries). */
  protocol?: 'h2' | 'http/1.1';
}

const MAX_LOG_ENTRIES = 20_000;

export class RequestStats {
  reads = 0;
  writes = 0;
  /** TLS connections the service server accepted: each is a handshake a client paid for. */
  tlsConnections = 0;
  /** Of those, the ones that negotiated HTTP/2 (ALPN `h2`): each carries any number of requests at once. */
  http2Connections = 0;
  readonly byService: Partial<Record<Service, { reads: number; writes: number }>> = {};
  readonly log: RequestLogEntry[] = [];

  record(entry: RequestLogEntry): void {
    const bucket = entry.kind === 'read' ? 'reads' : 'writes';
    this[bucket]++;
    if (entry.service !== 'none') {
      const perService = (this.byService[entry.service] ??= { reads: 0, writes: 0 });
      perService[bucket]++;
    }
    this.log.push(entry);
    if (this.log.length > MAX_LOG_ENTRIES) this.log.splice(0, this.log.length - MAX_LOG_ENTRIES);
  }

  reset(): void {
    this.reads = 0;
    this.writes = 0;
    this.tlsConnections = 0;
    this.http2Connections = 0;
    for (const key of Object.keys(this.byService)) delete this.byService[key as Service];
    this.log.length = 0;
  }

  summary(): { reads: number; writes: number; tlsConnections: number; http2Connections: number; byService: RequestStats['byService'] } {
    return { reads: this.reads, writes: this.writes, tlsConnections: this.tlsConnections, http2Connections: this.http2Connections, byService: structuredClone(this.byService) };
  }
}

/** Issuer string (exactly as in the `iss` claim) → the key ring whose public key verifies it. */
export class IssuerRegistry {
  private readonly issuers = new Map<string, KeyRing>();

  register(issuer: string, keyRing: KeyRing): void {
    this.issuers.set(issuer, keyRing);
  }

  lookup(issuer: string): KeyRing | undefined {
    return this.issuers.get(issuer);
  }

  list(): string[] {
    return [...this.issuers.keys()];
  }
}

export interface InternalRequest {
  method: string;
  /** Path with query string, e.g. `/{tenant}/oauth2/v2.0/token`. */
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer | object;
  /** Host to pretend the call came to; defaults to the loopback origin's host. */
  host?: string;
  /**
   * Trusted setup call (seeding, control API): ARM skips authorization and throttling for it. Never set
   * for calls that act on behalf of a caller, such as TestConnection's subscription read.
   */
  system?: boolean;
}

export interface EmulatorUrls {
  /** `https://127.0.0.1:{port}`, the HTTPS server every service answers on. */
  origin: string;
  /** `http://127.0.0.1:{port}/`, the control API. */
  controlUrl: string;
  /** `http://127.0.0.1:{port}`, the CONNECT proxy for clients that use the real Azure host names. */
  proxy: string;
  /**
   * The CA certificate file clients must trust (what the JSON line calls `caFile`). Modules hand it to
   * the processes they describe, e.g. `NODE_EXTRA_CA_CERTS` in a simulated agent's environment.
   */
  caFile?: string;
}

export interface EmulatorKeys {
  /** Signs Entra access tokens. */
  entra: KeyRing;
  /** Signs Azure DevOps ID tokens (both issuer formats) and job access tokens. */
  devops: KeyRing;
  /** Signs assertions of the test issuer the emulator hosts. */
  testIssuer: KeyRing;
}

export interface EmulatorContext {
  readonly router: Router;
  readonly controlRouter: Router;
  readonly keys: EmulatorKeys;
  readonly issuers: IssuerRegistry;
  readonly tokens: IssuedTokenLog;
  readonly requests: RequestStats;
  readonly faults: FaultBook;
  settings: EmulatorSettings;
  /** Filled in once the servers listen; modules read it lazily (at request time). */
  urls: EmulatorUrls;
  /** Calls a route in-process: no counting, no faults, same handlers and checks as over HTTP. */
  internalFetch(request: InternalRequest): Promise<EmuResponse>;
  /** Modules publish typed helpers for each other here (e.g. `ctx.shared.azure`). */
  readonly shared: Record<string, unknown>;
  /** How each service words an error body; used for injected faults and unmatched routes. */
  readonly errorShapes: Partial<Record<Service, ErrorShape>>;
  /**
   * Headers a service puts on every answer, injected faults included (e.g. ARM's `x-ms-request-id`).
   * Headers a handler set itself win.
   */
  readonly responseHeaders: Partial<Record<Service, ResponseHeaders>>;
}

export type ErrorShape = (status: number, code: string, message: string) => unknown;

export type ResponseHeaders = (req: EmuRequest) => Record<string, string>;

export interface SeedDocument {
  [module: string]: unknown;
}

export interface EmulatorModule {
  readonly name: string;
  /** Add routes and register issuers. Called once, before the servers listen. */
  register(ctx: EmulatorContext): void | Promise<void>;
  /** Drop all state. Called before every seed (start and `POST reset`). */
  clear(ctx: EmulatorContext): void;
  /** Load the initial world from the seed (modules run in order, so later ones may use earlier ones). */
  seed(ctx: EmulatorContext, seed: SeedDocument): void | Promise<void>;
  /** Fields this module contributes to `GET state`. */
  state(ctx: EmulatorContext): Record<string, unknown>;
  /** Fields this module contributes to the `npm run emulator` JSON line. */
  info(ctx: EmulatorContext): Record<string, unknown>;
}

export type { EmuRequest, EmuResponse };
