// The process's one set of connections for ARM, Entra ID and Azure DevOps: one HTTP/2 session per origin where
// the origin offers h2 (http2-client.ts), else one pool of keep-alive HTTP/1.1 connections. With one pool per
// client, a burst of parallel environments opens — and TLS-handshakes — the same connections several times over.
//
// Every request through it also gets the run's cancellation (nothing outlives the task's result), a timeout
// (no request hangs past defaultRequestTimeoutMs), and the agent's proxy and certificate authority
// (agent-network.ts), honouring the bypass list per URL.
import { createDefaultHttpClient, createHttpHeaders, createPipelineRequest, type HttpClient, type HttpMethods } from '@azure/core-rest-pipeline';
import { ArmThrottlePacer, pacedArmHttpClient } from './arm-throttle-pacer';
import type { ClientRequest } from 'node:http';
import { HttpsProxyAgent } from 'https-proxy-agent';
import type { AgentNetwork } from '../config';
import { AgentConnections, proxyFor } from './agent-network';
import type { DevOpsTransport } from './devops-transport';
import { Http2HttpClient } from './http2-client';
import { followRun, followsRun } from '../run-cancellation';
import { defaultRequestTimeoutMs } from './service-calls';

let shared: HttpClient | undefined;
/** One client per settings object, so the ARM clients and the credential of a run share their connections. */
const clients = new WeakMap<HttpSettings, HttpClient>();
const defaults: HttpSettings = {};
const pacers = new Map<string, ArmThrottlePacer>();
const pacedClients = new WeakMap<HttpSettings, Map<string, HttpClient>>();

export interface HttpSettings {
  readonly signal?: AbortSignal;
  readonly network?: AgentNetwork;
}

export function sharedHttpClient(settings: HttpSettings = defaults): HttpClient {
  let client = clients.get(settings);
  if (!client) {
    client = settingsClient(settings);
    clients.set(settings, client);
  }
  return client;
}

function settingsClient(settings: HttpSettings): HttpClient {
  const inner = (shared ??= createDefaultHttpClient());
  const network = settings.network ?? {};
  const connections = new AgentConnections(network, (proxy, options) => new TrustingProxyAgent(proxy, options));
  const http1: HttpClient = {
    sendRequest(request) {
      const agent = connections.agentFor(request.url);
      if (agent) request.agent = agent;
      return inner.sendRequest(request);
    },
  };
  const http2 = new Http2HttpClient(http1, (url) => {
    const authorities = connections.authorities();
    return { proxy: proxyFor(network, url), ...(authorities === undefined ? {} : { ca: authorities }) };
  });
  // Nothing outlives the task's result: its sessions end with the run.
  settings.signal?.addEventListener('abort', () => http2.close(), { once: true });
  return {
    async sendRequest(request) {
      if (!request.timeout) request.timeout = defaultRequestTimeoutMs;
      // The agent's settings win over HTTPS_PROXY, which the SDK's proxy policy may have applied already.
      if (connections.active) request.agent = undefined;
      const run = settings.signal;
      // A request under ServiceCalls already ends with the run. Any other gets a signal that does, rather than the
      // run's own: with a listener per request in flight on the run's signal, Node warns past ten.
      if (!run || followsRun(request.abortSignal, run)) return http2.sendRequest(request);
      const call = followRun(run, request.abortSignal);
      request.abortSignal = call.signal;
      try {
        return await http2.sendRequest(request);
      } finally {
        call.done();
      }
    },
  };
}

/**
 * https-proxy-agent uses its own options for the connection to the proxy only; the TLS connection to the
 * server through the tunnel gets the request's options, where core-rest-pipeline puts no `ca`. This passes
 * the trusted authorities there too.
 */
class TrustingProxyAgent extends HttpsProxyAgent<string> {
  private readonly trusted: string[] | undefined;

  constructor(proxy: URL, options: { keepAlive: boolean; ca?: string[] }) {
    super(proxy, options);
    this.trusted = options.ca;
  }

  override connect(request: ClientRequest, options: Parameters<HttpsProxyAgent<string>['connect']>[1]) {
    // Only a TLS endpoint reads `ca`; the ARM, Entra and Azure DevOps endpoints all are (config.ts).
    return super.connect(request, this.trusted && options.secureEndpoint ? { ...options, ca: this.trusted } : options);
  }
}

/**
 * The same pool for ARM clients, with requests to the ARM endpoint paced from ARM's throttling headers
 * (arm-throttle-pacer.ts). One pacer per endpoint, shared by every ARM client, so that all parallel
 * environments draw on one estimate of each bucket.
 */
export function sharedArmHttpClient(armEndpoint: string, settings: HttpSettings = defaults): HttpClient {
  let pacer = pacers.get(armEndpoint);
  if (!pacer) {
    pacer = new ArmThrottlePacer();
    pacers.set(armEndpoint, pacer);
  }
  let byEndpoint = pacedClients.get(settings);
  if (!byEndpoint) {
    byEndpoint = new Map();
    pacedClients.set(settings, byEndpoint);
  }
  let client = byEndpoint.get(armEndpoint);
  if (!client) {
    client = pacedArmHttpClient(sharedHttpClient(settings), armEndpoint, pacer);
    byEndpoint.set(armEndpoint, client);
  }
  return client;
}

/** azure-devops-node-api's requests over the same connections (devops-transport.ts says why). */
export function devOpsTransport(settings: HttpSettings = defaults): DevOpsTransport {
  const client = sharedHttpClient(settings);
  return {
    async send(request) {
      const response = await client.sendRequest(
        createPipelineRequest({
          url: request.url,
          method: request.method.toUpperCase() as HttpMethods,
          headers: createHttpHeaders(request.headers),
          ...(request.body === undefined ? {} : { body: request.body }),
        }),
      );
      return { status: response.status, headers: response.headers.toJSON(), body: response.bodyAsText ?? '' };
    },
  };
}
