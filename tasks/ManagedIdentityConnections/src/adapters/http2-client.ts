// An HTTP/2 transport for the Azure SDK pipeline: one connection per origin, every request multiplexed on it.
//
// Why hand-written: the SDKs' Node client (@azure/core-rest-pipeline's createDefaultHttpClient, implemented in
// @typespec/ts-http-runtime's nodeHttpClient.js) sends every request with node:http / node:https, i.e.
// HTTP/1.1, which carries one request at a time per connection. A run's dependent steps are bursts (50 identity
// writes at once, then 100 role assignments…), so on HTTP/1.1 every request in flight costs a TLS handshake,
// and bounding the pool queues the bursts (docs/performance.md). Node's http2 module multiplexes them on one.
//
// What it keeps from the HTTP/1.1 client, so that the pipeline and the task's retry policy see the same thing:
// - ALPN offers `h2` and `http/1.1`; an origin (or a proxy in the way) that picks HTTP/1.1 is sent to the
//   HTTP/1.1 client from then on (one extra handshake per such origin and process). So is any request this
//   transport does not model: a custom agent set by someone else (the SDK's HTTPS_PROXY policy), plain http,
//   a streamed or multipart body, progress callbacks.
// - The agent's proxy: a CONNECT tunnel (with its credentials, Basic) per origin, then TLS with ALPN through
//   it; the bypass list and the extra certificate authority as in agent-network.ts. A proxy that refuses the
//   tunnel gets the request through the HTTP/1.1 client, which reports its answer as before.
// - An abort or the per-attempt timeout ends the stream (RST_STREAM CANCEL) and rejects with an AbortError,
//   as the HTTP/1.1 client does; a stream reset or a connection lost before the whole answer arrived rejects
//   with a RestError coded ECONNRESET, which the task's retry policy treats as any dropped connection.
// - A session that goes away (GOAWAY, error, close) is forgotten; the next request opens a new one. A request
//   the server refused without processing it (REFUSED_STREAM, or a stream above a GOAWAY's last stream id) is
//   sent again once on a new session right here: RFC 9113 §8.7 says it was not processed, so that is safe for
//   a write too.
// - Idle sessions do not keep the process alive, and close after IDLE_SESSION_MS.
import { type ClientHttp2Session, type ClientHttp2Stream, connect as connectHttp2, constants, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP, type Socket } from 'node:net';
import { connect as connectTls, type TLSSocket } from 'node:tls';
import { createGunzip, createInflate } from 'node:zlib';
import type { Readable } from 'node:stream';
import { createHttpHeaders, RestError, type HttpClient, type PipelineRequest, type PipelineResponse } from '@azure/core-rest-pipeline';

/** An idle session (no stream open) closes after this long; a run's steps are seconds apart at most. */
const IDLE_SESSION_MS = 30_000;
/** How long a connection (tunnel and TLS handshake) may take when the request names no timeout. */
const CONNECT_TIMEOUT_MS = 60_000;

/** Headers HTTP/2 forbids (RFC 9113 §8.2.2) or carries as pseudo-headers. */
const connectionHeaders = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'host', 'te']);

export interface Http2Route {
  /** The proxy for this URL (credentials in it), undefined for a direct connection. */
  readonly proxy?: URL;
  /** Certificate authorities replacing Node's (the agent's plus Node's roots), undefined for Node's own. */
  readonly ca?: readonly string[];
}

interface Origin {
  /** Decided by ALPN on the first connection: this origin is served by the HTTP/1.1 client. */
  http1?: boolean;
  session?: ClientHttp2Session;
  connecting?: Promise<ClientHttp2Session | undefined>;
}

/** A request the server did not process and may be sent again (RFC 9113 §8.7). */
class Unprocessed extends Error {}

export class Http2HttpClient implements HttpClient {
  private readonly origins = new Map<string, Origin>();
  /** Sessions opened, for tests and the bench. */
  sessionsOpened = 0;

  constructor(
    /** The HTTP/1.1 client with the same settings, for what this transport leaves to it. */
    private readonly http1: HttpClient,
    /** The proxy and authorities for a URL (agent-network.ts). */
    private readonly route: (url: string) => Http2Route,
  ) {}

  async sendRequest(request: PipelineRequest): Promise<PipelineResponse> {
    if (!modelled(request)) return this.http1.sendRequest(request);
    const url = new URL(request.url);
    const route = this.route(request.url);
    const key = `${url.origin} ${route.proxy?.href ?? ''}`;
    // One deadline for the attempt, connection included, as the HTTP/1.1 client's timeout covers both.
    const deadline = request.timeout > 0 ? Date.now() + request.timeout : undefined;
    for (let attempt = 0; ; attempt++) {
      if (request.abortSignal?.aborted) throw abortError();
      const session = await untilAborted(this.session(key, url, route, request), request, deadline);
      if (!session) return this.http1.sendRequest(request);
      try {
        return await exchange(session, url, request, deadline);
      } catch (error) {
        // Sent again on this session while it is open (a refused stream), else on a new one (a GOAWAY).
        if (!(error instanceof Unprocessed)) throw error;
        if (attempt > 0) throw new RestError(error.message, { code: 'ECONNRESET', request });
      }
    }
  }

  /** Ends every session: at the end of the run, nothing of it should outlive the result. */
  close(): void {
    for (const origin of this.origins.values()) origin.session?.destroy();
    this.origins.clear();
  }

  private async session(key: string, url: URL, route: Http2Route, request: PipelineRequest): Promise<ClientHttp2Session | undefined> {
    let origin = this.origins.get(key);
    if (!origin) this.origins.set(key, (origin = {}));
    if (origin.http1) return undefined;
    const current = origin.session;
    if (current && !current.closed && !current.destroyed) return current;
    origin.connecting ??= this.open(origin, url, route, request).finally(() => (origin.connecting = undefined));
    return origin.connecting;
  }

  private async open(origin: Origin, url: URL, route: Http2Route, request: PipelineRequest): Promise<ClientHttp2Session | undefined> {
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const port = Number(url.port) || 443;
    const timeoutMs = request.timeout > 0 ? request.timeout : CONNECT_TIMEOUT_MS;
    let tunnel: Socket | undefined;
    if (route.proxy) {
      tunnel = await connectTunnel(route.proxy, host, port, route.ca, timeoutMs, request);
      // The proxy refused the tunnel: the HTTP/1.1 client reports its answer as it always did.
      if (!tunnel) return undefined;
    }
    const tls = await new Promise<TLSSocket>((resolve, reject) => {
      const socket = connectTls({
        host,
        port,
        ...(tunnel ? { socket: tunnel } : {}),
        ...(isIP(host) ? {} : { servername: host }),
        ALPNProtocols: ['h2', 'http/1.1'],
        ...(route.ca ? { ca: [...route.ca] } : {}),
      });
      socket.setTimeout(timeoutMs, () => socket.destroy(timedOut(`No TLS connection to ${host}:${port} within ${timeoutMs} ms`)));
      socket.once('secureConnect', () => {
        socket.setTimeout(0);
        resolve(socket);
      });
      socket.once('error', (error: NodeJS.ErrnoException) => reject(new RestError(error.message, { code: error.code ?? RestError.REQUEST_SEND_ERROR, request })));
    });
    if (tls.alpnProtocol !== 'h2') {
      // end, not destroy: the server sees a completed handshake and a clean close, not a reset.
      tls.end();
      origin.http1 = true;
      return undefined;
    }
    const session = connectHttp2(url.origin, { createConnection: () => tls });
    this.sessionsOpened++;
    origin.session = session;
    const forget = () => {
      if (origin.session === session) origin.session = undefined;
    };
    session.once('goaway', (_code: number, lastStreamId: number) => {
      goawayLastStream.set(session, lastStreamId);
      forget();
    });
    session.once('close', forget);
    session.on('error', forget);
    session.setTimeout(IDLE_SESSION_MS, () => {
      if (streamsOpen(session) === 0) session.close();
    });
    session.unref();
    return session;
  }
}

/** Whether this transport carries the request; the rest goes to the HTTP/1.1 client unchanged. */
function modelled(request: PipelineRequest): boolean {
  const body = request.body;
  return (
    request.url.startsWith('https:') &&
    !request.agent &&
    !request.proxySettings &&
    !request.tlsSettings &&
    !request.multipartBody &&
    !request.formData &&
    !request.onUploadProgress &&
    !request.onDownloadProgress &&
    (body === undefined || body === null || typeof body === 'string' || Buffer.isBuffer(body) || body instanceof ArrayBuffer || ArrayBuffer.isView(body))
  );
}

const openStreams = new WeakMap<ClientHttp2Session, number>();
/** The last stream id a GOAWAY said the server may process; streams above it were not processed. */
const goawayLastStream = new WeakMap<ClientHttp2Session, number>();

/** Whether the server did not process the stream (RFC 9113 §8.7): refused, or above a GOAWAY's last stream id. */
function unprocessed(session: ClientHttp2Session, stream: ClientHttp2Stream): boolean {
  if (stream.rstCode === constants.NGHTTP2_REFUSED_STREAM || stream.id === undefined) return true;
  const last = goawayLastStream.get(session);
  return last !== undefined && stream.id > last;
}
function streamsOpen(session: ClientHttp2Session): number {
  return openStreams.get(session) ?? 0;
}

/** Keeps the process alive while a stream is open, and only then. */
function track(session: ClientHttp2Session, delta: 1 | -1): void {
  const count = streamsOpen(session) + delta;
  openStreams.set(session, count);
  if (count === 1 && delta === 1) session.ref();
  if (count === 0 && !session.destroyed) session.unref();
}

function timedOut(message: string): Error {
  return Object.assign(new Error(message), { code: 'ETIMEDOUT' });
}

/** Waits for a connection no longer than the request wants to: its signal and its timeout. */
function untilAborted<T>(pending: Promise<T>, request: PipelineRequest, deadline: number | undefined): Promise<T> {
  const signal = request.abortSignal;
  if (!signal && deadline === undefined) return pending;
  return new Promise<T>((resolve, reject) => {
    const stop = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    const onAbort = () => {
      stop();
      reject(abortError());
    };
    const timer = deadline === undefined ? undefined : setTimeout(onAbort, Math.max(0, deadline - Date.now()));
    signal?.addEventListener('abort', onAbort);
    pending.then(
      (value) => {
        stop();
        resolve(value);
      },
      (error: unknown) => {
        stop();
        reject(error);
      },
    );
  });
}

function abortError(): Error {
  const error = new Error('The operation was aborted.');
  error.name = 'AbortError';
  return error;
}

function requestBody(request: PipelineRequest): Buffer | undefined {
  const body = request.body;
  if (body === undefined || body === null) return undefined;
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  if (Buffer.isBuffer(body)) return body;
  if (ArrayBuffer.isView(body)) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  return Buffer.from(body as ArrayBuffer);
}

/** One request and its answer on a session. */
function exchange(session: ClientHttp2Session, url: URL, request: PipelineRequest, deadline: number | undefined): Promise<PipelineResponse> {
  const body = requestBody(request);
  const headers: OutgoingHttpHeaders = {
    [constants.HTTP2_HEADER_METHOD]: request.method,
    [constants.HTTP2_HEADER_PATH]: `${url.pathname}${url.search}`,
    [constants.HTTP2_HEADER_SCHEME]: 'https',
    [constants.HTTP2_HEADER_AUTHORITY]: url.host,
  };
  // toJSON: the names already lower-case, without the generator that iterating HttpHeaders runs per header.
  const requestHeaders = request.headers.toJSON();
  for (const name in requestHeaders) if (!connectionHeaders.has(name)) headers[name] = requestHeaders[name];
  if (body && headers['content-length'] === undefined) headers['content-length'] = body.length;

  return new Promise<PipelineResponse>((resolve, reject) => {
    let stream: ClientHttp2Stream;
    try {
      stream = session.request(headers, { endStream: !body });
    } catch (error) {
      // ERR_HTTP2_GOAWAY_SESSION / ERR_HTTP2_INVALID_SESSION: the session closed before this request left.
      reject(new Unprocessed(error instanceof Error ? error.message : String(error)));
      return;
    }
    track(session, 1);
    let settled = false;
    let answered = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      request.abortSignal?.removeEventListener('abort', onAbort);
      outcome();
    };
    const onAbort = () => {
      stream.close(constants.NGHTTP2_CANCEL);
      finish(() => reject(abortError()));
    };
    if (request.abortSignal) {
      if (request.abortSignal.aborted) return onAbort();
      request.abortSignal.addEventListener('abort', onAbort);
    }
    if (deadline !== undefined) timer = setTimeout(onAbort, Math.max(0, deadline - Date.now()));
    stream.once('close', () => {
      track(session, -1);
      if (settled) return;
      const code = stream.rstCode;
      // A connection lost under a stream the server may have processed is not sent again here: the task's retry
      // policy decides, as for a dropped HTTP/1.1 connection.
      if (!answered && unprocessed(session, stream)) {
        finish(() => reject(new Unprocessed(`The server did not process ${request.method} ${url.pathname} (HTTP/2 stream closed with code ${code}).`)));
      } else {
        finish(() => reject(lost(request, url, answered, code)));
      }
    });
    stream.on('error', () => {
      // Reported on 'close' with the stream's reset code; listening here keeps it from being thrown.
    });
    stream.once('response', (answer: IncomingHttpHeaders) => {
      answered = true;
      const status = Number(answer[constants.HTTP2_HEADER_STATUS]);
      const responseHeaders = createHttpHeaders();
      for (const [name, value] of Object.entries(answer)) {
        if (name.startsWith(':') || value === undefined) continue;
        responseHeaders.set(name, Array.isArray(value) ? value[0]! : String(value));
      }
      const response: PipelineResponse = { status, headers: responseHeaders, request };
      if (request.method === 'HEAD') {
        stream.resume();
        return finish(() => resolve(response));
      }
      const encoding = responseHeaders.get('content-encoding');
      const accepted = request.headers.get('accept-encoding') ?? '';
      let content: Readable = stream;
      if (encoding === 'gzip' && accepted.includes('gzip')) content = stream.pipe(createGunzip());
      else if (encoding === 'deflate' && accepted.includes('deflate')) content = stream.pipe(createInflate());
      if (request.streamResponseStatusCodes?.has(Number.POSITIVE_INFINITY) || request.streamResponseStatusCodes?.has(status)) {
        response.readableStreamBody = content;
        return finish(() => resolve(response));
      }
      const chunks: Buffer[] = [];
      content.on('data', (chunk: Buffer) => chunks.push(chunk));
      content.once('end', () => finish(() => resolve({ ...response, bodyAsText: Buffer.concat(chunks).toString('utf8') })));
      if (content !== stream) content.once('error', (error) => finish(() => reject(new RestError(`Error reading response as text: ${error.message}`, { code: RestError.PARSE_ERROR, request }))));
    });
    if (body) stream.end(body);
  });
}

/** The answer is lost: reset before or during it. ECONNRESET, as a dropped HTTP/1.1 connection reports. */
function lost(request: PipelineRequest, url: URL, answered: boolean, code: number): RestError {
  const what = answered ? 'before the whole answer arrived' : 'before an answer';
  return new RestError(`The HTTP/2 stream of ${request.method} ${url.pathname} was reset ${what} (code ${code}).`, { code: 'ECONNRESET', request });
}

/**
 * A CONNECT tunnel through the proxy to host:port, or undefined when the proxy answers anything but 200.
 * Credentials in the proxy URL go as Basic Proxy-Authorization, as https-proxy-agent sends them.
 */
function connectTunnel(proxy: URL, host: string, port: number, ca: readonly string[] | undefined, timeoutMs: number, request: PipelineRequest): Promise<Socket | undefined> {
  const target = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  const headers: Record<string, string> = { host: target };
  if (proxy.username || proxy.password) {
    headers['proxy-authorization'] = `Basic ${Buffer.from(`${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`).toString('base64')}`;
  }
  const secure = proxy.protocol === 'https:';
  const options = {
    host: proxy.hostname.replace(/^\[|\]$/g, ''),
    port: Number(proxy.port) || (secure ? 443 : 80),
    method: 'CONNECT',
    path: target,
    headers,
    ...(secure && ca ? { ca: [...ca] } : {}),
  };
  return new Promise((resolve, reject) => {
    const connecting = secure ? httpsRequest(options) : httpRequest(options);
    connecting.once('connect', (answer, socket: Socket, head: Buffer) => {
      if (answer.statusCode !== 200) {
        socket.destroy();
        resolve(undefined);
        return;
      }
      if (head.length > 0) socket.unshift(head);
      resolve(socket);
    });
    connecting.once('error', (error: NodeJS.ErrnoException) => reject(new RestError(error.message, { code: error.code ?? RestError.REQUEST_SEND_ERROR, request })));
    connecting.setTimeout(timeoutMs, () => connecting.destroy(timedOut(`No tunnel from the proxy ${proxy.host} within ${timeoutMs} ms`)));
    connecting.end();
  });
}
