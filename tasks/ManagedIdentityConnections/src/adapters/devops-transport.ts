// azure-devops-node-api's clients, sending over the task's own connections (HTTP/2 where the host offers it).
//
// Why: azure-devops-node-api sends through typed-rest-client, which uses node:https, i.e. HTTP/1.1 with one
// request per connection at a time. A run's steps are bursts (50 connection creations at once, then 50
// TestConnections), so each Azure DevOps request in flight cost a TLS handshake — 50 of the 51 a 50-environment
// run opened once ARM and Entra shared one HTTP/2 connection, and the largest CPU item left (docs/performance.md).
// Bounding typed-rest-client's pool instead queues the bursts: measured, runs two to four times as long.
//
// How: everything a typed-rest-client HttpClient sends — get/post/put/patch/del/options, and so the location
// lookups and every call of ServiceEndpointApi, CoreApi and PipelinesApi — goes through its public
// `requestRaw(info, data)` ("All other methods such as get, post, patch, and request ultimately call this",
// typed-rest-client HttpClient.ts). A subclass overrides that one method to hand the prepared request (URL,
// method, headers with the credential handler's Authorization, body) to a `DevOpsTransport`: the same HTTP
// client as the Azure SDKs (http-client.ts), with the agent's proxy and certificate authority, the per-request
// timeout and the run's cancellation. The library keeps what it is good at: routes, api-version negotiation,
// (de)serialization and its errors. What its callers read from the answer is exactly what
// IHttpClientResponse declares — the status, the headers and the body (RestClient.processResponse).
import type { IncomingMessage } from 'node:http';
import { HttpClient } from 'typed-rest-client/HttpClient';
import type { IHttpClientResponse, IRequestHandler, IRequestInfo, IRequestOptions } from 'typed-rest-client/Interfaces';

export interface DevOpsRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
}

export interface DevOpsAnswer {
  readonly status: number;
  /** Lower-case names, as Node's IncomingMessage has them. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** Sends one request and resolves with the whole answer; rejects only when no answer arrived. */
export interface DevOpsTransport {
  send(request: DevOpsRequest): Promise<DevOpsAnswer>;
}

/** The parts of an azure-devops-node-api client (ClientApiBase) that send: both are typed-rest-client's. */
export interface DevOpsApi {
  http: HttpClient;
  rest: { client: HttpClient };
}

class TransportHttpClient extends HttpClient {
  constructor(
    userAgent: string,
    handlers: IRequestHandler[],
    options: IRequestOptions,
    private readonly transport: DevOpsTransport,
  ) {
    super(userAgent, handlers, options);
  }

  override async requestRaw(info: IRequestInfo, data: string | NodeJS.ReadableStream | null | undefined): Promise<IHttpClientResponse> {
    // No call of this task uploads a stream (only file and attachment uploads of the library do).
    if (data !== null && data !== undefined && typeof data !== 'string') throw new Error('A streamed request body is not supported by the Azure DevOps transport.');
    const answer = await this.transport.send({
      method: info.options.method ?? 'GET',
      url: info.parsedUrl.href,
      headers: flatHeaders(info.options.headers),
      ...(data === null || data === undefined ? {} : { body: data }),
    });
    const message = { statusCode: answer.status, headers: answer.headers } as unknown as IncomingMessage;
    return { message, readBody: () => Promise.resolve(answer.body) };
  }
}

/** Node's outgoing header values may be numbers or lists; a transport takes one string per name. */
function flatHeaders(headers: IRequestInfo['options']['headers']): Record<string, string> {
  const flat: Record<string, string> = {};
  if (!headers || Array.isArray(headers)) return flat;
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    flat[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
  }
  return flat;
}

/**
 * One HttpClient for every given API client, sending through `transport`; the handlers (authentication) and
 * options (headers, no retries of its own) are the ones the API clients were built with.
 */
export function sendThrough(transport: DevOpsTransport, apis: readonly DevOpsApi[], userAgent: string, handlers: IRequestHandler[], options: IRequestOptions): void {
  const client = new TransportHttpClient(userAgent, handlers, options, transport);
  for (const api of apis) {
    api.http = client;
    api.rest.client = client;
  }
}
