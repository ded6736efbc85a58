// The three listeners: the HTTPS server every emulated service answers on, the plain-HTTP control API,
// and the CONNECT proxy that lets clients keep the real Azure host names.
//
// The HTTPS server speaks HTTP/2 and HTTP/1.1 on one port (ALPN decides, per connection): clients that offer
// `h2` multiplex their requests on one connection, every other client (typed-rest-client, Python's requests in
// the `az` CLI, Node's https) gets HTTP/1.1 as before. `http2: false` makes it HTTP/1.1 only, to compare.
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { constants as http2Constants, createSecureServer, type Http2ServerRequest, type Http2ServerResponse } from 'node:http2';
import { createServer as createHttpsServer } from 'node:https';
import type { Server as TlsServer } from 'node:tls';
import type { AddressInfo, Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { AZURE_HOSTS, type EmulatorCertificates } from './certs';
import type { EmulatorContext, InternalRequest } from './context';
import { HttpError, normalizePath, type EmuRequest, type EmuResponse, type Router, type Service } from './http';

const HOST_SERVICES: Record<string, Service> = {
  'login.microsoftonline.com': 'entra',
  'management.azure.com': 'arm',
  'graph.microsoft.com': 'graph',
  'dev.azure.com': 'devops',
};

/** Which services answer on a host: one per real Azure host name, all of them on loopback. */
export function servicesForHost(host: string): (service: Service) => boolean {
  const name = host.replace(/:443$/, '').toLowerCase();
  const only = HOST_SERVICES[name];
  return only ? (service) => service === only : () => true;
}

export function parseTarget(rawUrl: string): { path: string; query: URLSearchParams } {
  // Not `new URL(rawUrl, base)`: arm-authorization sends `//subscriptions/...`, which URL reads as a host.
  const queryStart = rawUrl.indexOf('?');
  const rawPath = queryStart < 0 ? rawUrl : rawUrl.slice(0, queryStart);
  const query = new URLSearchParams(queryStart < 0 ? '' : rawUrl.slice(queryStart + 1));
  return { path: normalizePath(rawPath), query };
}

function readBody(req: AnyRequest): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function defaultErrorBody(ctx: EmulatorContext, service: Service | undefined, status: number, code: string, message: string): unknown {
  const shape = service ? ctx.errorShapes[service] : undefined;
  return shape ? shape(status, code, message) : { error: { code, message } };
}

const DEFAULT_FAULT_CODES: Record<number, string> = {
  408: 'RequestTimeout',
  409: 'Conflict',
  429: 'TooManyRequests',
  500: 'InternalServerError',
  502: 'BadGateway',
  503: 'ServiceUnavailable',
  504: 'GatewayTimeout',
};

interface DispatchOptions {
  /** Count the request and apply fault rules (true for real HTTP traffic, false for internalFetch). */
  external: boolean;
  /** An in-process call between modules: only fault rules marked `internal` apply. */
  internal?: boolean;
  /** Ends the connection (HTTP/1.1) or resets the stream (HTTP/2) without an answer: a `drop` fault. */
  drop?: () => void;
  /** The protocol the request came in on, for the request log. */
  protocol?: 'h2' | 'http/1.1';
}

/** Routes one request. Returns undefined when a fault dropped the connection. */
export async function dispatch(ctx: EmulatorContext, router: Router, req: EmuRequest, options: DispatchOptions): Promise<EmuResponse | undefined> {
  const allowed = servicesForHost(req.host);
  const match = router.match(req.method, req.path, allowed);
  const service = match?.route.service;
  const routeName = match?.route.name ?? 'unmatched';
  const kind = match?.route.kind ?? (['GET', 'HEAD', 'OPTIONS'].includes(req.method) ? 'read' : 'write');
  let response: EmuResponse | undefined;

  const decision =
    options.external || options.internal ? ctx.faults.decide({ method: req.method, path: req.path, route: routeName, service, internal: !options.external }) : { latencyMs: 0 };
  if (decision.latencyMs > 0) await sleep(decision.latencyMs);

  if (decision.fail?.drop) {
    options.drop?.();
  } else if (decision.fail && !decision.fail.dropAfterCommit) {
    const status = decision.fail.status ?? 500;
    const code = decision.fail.code ?? DEFAULT_FAULT_CODES[status] ?? 'InjectedFault';
    const message = decision.fail.message ?? `Injected fault ${status} ${code} for ${req.method} ${req.path}.`;
    const headers: Record<string, string> = {};
    if (decision.fail.retryAfterSeconds !== undefined) headers['retry-after'] = String(decision.fail.retryAfterSeconds);
    response = { status, headers, body: defaultErrorBody(ctx, service, status, code, message) };
  } else if (!match) {
    const other = router.hasPath(req.path, allowed);
    response = other
      ? { status: 405, body: defaultErrorBody(ctx, other.service, 405, 'MethodNotAllowed', `The method ${req.method} is not allowed on ${req.path}.`) }
      : { status: 404, body: defaultErrorBody(ctx, undefined, 404, 'NotFound', `The emulator serves nothing at ${req.method} ${req.path}.`) };
  } else {
    req.params = match.params;
    try {
      response = await match.route.handler(req);
    } catch (error) {
      if (error instanceof HttpError) {
        response = { status: error.status, headers: error.headers, body: error.body };
      } else {
        const message = error instanceof Error ? error.stack ?? error.message : String(error);
        response = { status: 500, body: defaultErrorBody(ctx, service, 500, 'InternalServerError', `Emulator error: ${message}`) };
      }
    }
  }

  const serviceHeaders = service && response ? ctx.responseHeaders[service]?.(req) : undefined;
  if (response && serviceHeaders) response = { ...response, headers: { ...serviceHeaders, ...(response.headers ?? {}) } };

  if (options.external) {
    ctx.requests.record({
      at: new Date().toISOString(),
      ...(req.arrivedAt === undefined ? {} : { arrivedAt: new Date(req.arrivedAt).toISOString() }),
      method: req.method,
      host: req.host,
      path: req.path,
      route: routeName,
      service: service ?? 'none',
      kind,
      status: response?.status ?? 0,
      ...(options.protocol ? { protocol: options.protocol } : {}),
    });
  }
  if (response && decision.fail?.dropAfterCommit) response = { ...response, dropMidBody: true };
  return response;
}

type AnyRequest = IncomingMessage | Http2ServerRequest;
type AnyResponse = ServerResponse | Http2ServerResponse;

/**
 * Loses the connection under one request. HTTP/1.1 carries one request at a time, so that is the socket;
 * an HTTP/2 connection carries many, so only this request's stream is reset (RST_STREAM with INTERNAL_ERROR —
 * not REFUSED_STREAM, which would tell the client the request was not processed and may be sent again).
 */
function dropConnection(req: AnyRequest): void {
  if ('stream' in req) req.stream.close(http2Constants.NGHTTP2_INTERNAL_ERROR);
  else req.socket.destroy();
}

/** The status line, headers and half of the body, then a reset: what a connection lost mid-answer looks like. */
function sendHalfAndDrop(req: AnyRequest, res: AnyResponse, response: EmuResponse): void {
  const payload = Buffer.from(response.body === undefined || response.body === null ? '' : typeof response.body === 'string' || Buffer.isBuffer(response.body) ? response.body : JSON.stringify(response.body));
  res.writeHead(response.status, { ...(response.headers ?? {}), 'content-type': 'application/json; charset=utf-8', 'content-length': Math.max(payload.length, 2) });
  (res as ServerResponse).write(payload.subarray(0, Math.floor(payload.length / 2)), () => dropConnection(req));
}

function send(res: AnyResponse, method: string, response: EmuResponse): void {
  const headers: Record<string, string | number | string[]> = { ...(response.headers ?? {}) };
  let payload: Buffer | undefined;
  if (response.body !== undefined && response.body !== null) {
    if (Buffer.isBuffer(response.body)) payload = response.body;
    else if (typeof response.body === 'string') payload = Buffer.from(response.body, 'utf8');
    else {
      payload = Buffer.from(JSON.stringify(response.body), 'utf8');
      if (!Object.keys(headers).some((key) => key.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json; charset=utf-8';
    }
  }
  headers['content-length'] = payload?.length ?? 0;
  res.writeHead(response.status, headers);
  (res as ServerResponse).end(method === 'HEAD' ? undefined : payload);
}

async function toEmuRequest(req: AnyRequest, defaultHost: string): Promise<EmuRequest> {
  const arrivedAt = Date.now();
  const { path, query } = parseTarget(req.url ?? '/');
  // HTTP/2 names the host in the :authority pseudo-header (RFC 9113 §8.3.1), HTTP/1.1 in Host.
  const host = req.headers.host ?? ('authority' in req ? req.authority : undefined) ?? defaultHost;
  return {
    arrivedAt,
    method: (req.method ?? 'GET').toUpperCase(),
    host,
    origin: `https://${host.replace(/:443$/, '')}`,
    path,
    query,
    headers: req.headers,
    rawBody: await readBody(req),
    params: {},
  };
}

/** How long an idle HTTP/1.1 keep-alive connection stays open. */
const KEEP_ALIVE_TIMEOUT_MS = 30_000;

export function createServiceServer(ctx: EmulatorContext, certs: EmulatorCertificates, options: { http2: boolean } = { http2: true }): TlsServer {
  const handle = (req: AnyRequest, res: AnyResponse): void => {
    void (async () => {
      const request = await toEmuRequest(req, new URL(ctx.urls.origin).host);
      const response = await dispatch(ctx, ctx.router, request, { external: true, drop: () => dropConnection(req), protocol: 'stream' in req ? 'h2' : 'http/1.1' });
      if (response?.dropMidBody) sendHalfAndDrop(req, res, response);
      else if (response) send(res, request.method, response);
    })().catch((error: unknown) => {
      if (!res.headersSent) send(res, 'GET', { status: 500, body: { error: { code: 'InternalServerError', message: String(error) } } });
    });
  };
  if (!options.http2) return createHttpsServer({ key: certs.keyPem, cert: certs.certPem, keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS }, handle);
  const server = createSecureServer({ key: certs.keyPem, cert: certs.certPem, allowHTTP1: true }, handle);
  // The HTTP/1.1 side reads its keep-alive timeout from the server object, as an https server does.
  (server as unknown as { keepAliveTimeout: number }).keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  server.on('session', () => ctx.requests.http2Connections++);
  return server;
}

export function createControlServer(ctx: EmulatorContext): HttpServer {
  return createHttpServer((req, res) => {
    void (async () => {
      const request = await toEmuRequest(req, new URL(ctx.urls.controlUrl).host);
      const response = await dispatch(ctx, ctx.controlRouter, request, { external: false });
      send(res, request.method, response ?? { status: 500 });
    })().catch((error: unknown) => {
      if (!res.headersSent) send(res, 'GET', { status: 500, body: { error: String(error) } });
    });
  });
}

/**
 * HTTP CONNECT proxy: for the Azure host names it answers `200 Connection Established` and hands the socket
 * to the HTTPS server, which presents a certificate for that name signed by the emulator's CA. Any other
 * host is refused with 403, so a stray call (telemetry, version checks) fails fast instead of leaving.
 */
export function createProxyServer(ctx: EmulatorContext, serviceServer: TlsServer): HttpServer {
  const allowed = new Set<string>(AZURE_HOSTS);
  const proxy = createHttpServer((req, res) => {
    res.writeHead(403, { 'content-type': 'text/plain' });
    res.end(`The emulator proxy only tunnels HTTPS (CONNECT) to ${[...allowed].join(', ')}; refused ${req.method} ${req.url}\n`);
  });
  proxy.on('connect', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    const [host, port = '443'] = (req.url ?? '').split(':');
    if (!allowed.has(host.toLowerCase()) || port !== '443') {
      ctx.requests.log.push({ at: new Date().toISOString(), method: 'CONNECT', host: req.url ?? '', path: '', route: 'proxy.refused', service: 'none', kind: 'read', status: 403 });
      socket.end('HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    if (head.length > 0) socket.unshift(head);
    serviceServer.emit('connection', socket);
  });
  return proxy;
}

export async function listen(server: HttpServer | TlsServer, port: number): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

/** In-process dispatch used by `ctx.internalFetch`: same routes and checks, no counting, no faults. */
export async function internalDispatch(ctx: EmulatorContext, request: InternalRequest): Promise<EmuResponse> {
  const { path, query } = parseTarget(request.path);
  const host = request.host ?? new URL(ctx.urls.origin).host;
  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries(request.headers ?? {})) headers[key.toLowerCase()] = value;
  let rawBody: Buffer;
  if (request.body === undefined) rawBody = Buffer.alloc(0);
  else if (Buffer.isBuffer(request.body)) rawBody = request.body;
  else if (typeof request.body === 'string') rawBody = Buffer.from(request.body, 'utf8');
  else {
    rawBody = Buffer.from(JSON.stringify(request.body), 'utf8');
    headers['content-type'] ??= 'application/json';
  }
  const emuRequest: EmuRequest = {
    method: request.method.toUpperCase(),
    host,
    origin: `https://${host.replace(/:443$/, '')}`,
    path,
    query,
    headers,
    rawBody,
    params: {},
    system: request.system === true,
    arrivedAt: Date.now(),
  };
  const response = await dispatch(ctx, ctx.router, emuRequest, { external: false, internal: true });
  return response ?? { status: 500 };
}
