// The agent's proxy and extra certificate authority, applied to every request the task sends.
//
// The agent does not export HTTPS_PROXY: it hands tasks its proxy as variables (Agent.ProxyUrl, user,
// password, Agent.ProxyBypassList — a JSON array of regular expressions matched, case-insensitively, against
// the whole request URL) and its --sslcacert file as Agent.CAInfo (azure-pipelines-agent
// src/Agent.Worker/ExecutionContext.cs; task-lib getHttpProxyConfiguration). Node reads NODE_EXTRA_CA_CERTS
// only at start-up, so the extra authority is added to each connection's `ca` — together with Node's own
// roots, because `ca` replaces them. Without a proxy or an authority nothing here changes a request.
import { readFileSync } from 'node:fs';
import type { Agent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { connect } from 'node:net';
import { rootCertificates } from 'node:tls';
import type { AgentNetwork } from '../config';
import { TaskError } from '../errors';

/** How long the proxy gets to accept a connection before the run fails with MIC602. */
const PROXY_CONNECT_TIMEOUT_MS = 5_000;

/** The proxy to use for a URL: undefined without a proxy or when the bypass list names the URL. */
export function proxyFor(network: AgentNetwork, url: string): URL | undefined {
  const proxy = network.proxy;
  if (!proxy || proxy.bypass.some((pattern) => new RegExp(pattern, 'i').test(url))) return undefined;
  const address = new URL(proxy.url);
  if (proxy.username !== undefined) address.username = proxy.username;
  if (proxy.password !== undefined) address.password = proxy.password.reveal();
  return address;
}

/** Node's certificate authorities plus the agent's, or undefined when the agent names none. */
export function trustedAuthorities(network: AgentNetwork): string[] | undefined {
  if (network.caFile === undefined) return undefined;
  try {
    return [...rootCertificates, readFileSync(network.caFile, 'utf8')];
  } catch (error) {
    throw new TaskError('MIC605', `The agent's certificate authority file ${network.caFile} (Agent.CAInfo) cannot be read: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}

/** Connections that honour the agent's settings, one per proxy decision, kept alive like the default ones. */
export class AgentConnections {
  private readonly agents = new Map<string, Agent>();
  private authoritiesRead: string[] | undefined | null = null;

  constructor(
    readonly network: AgentNetwork,
    /** Creates a tunnelling agent through an HTTP(S) proxy (https-proxy-agent, loaded with the Azure SDKs). */
    private readonly tunnel?: (proxy: URL, options: { keepAlive: boolean; ca?: string[] }) => Agent,
  ) {}

  /** Whether anything differs from Node's defaults. */
  get active(): boolean {
    return this.network.proxy !== undefined || this.network.caFile !== undefined;
  }

  /** Node's roots plus the agent's authority (trustedAuthorities), read once; undefined when the agent names none. */
  authorities(): string[] | undefined {
    if (this.authoritiesRead === null) this.authoritiesRead = trustedAuthorities(this.network);
    return this.authoritiesRead;
  }

  /** The agent for a request to `url`; undefined when Node's defaults apply. */
  agentFor(url: string): Agent | undefined {
    if (!this.active) return undefined;
    const authorities = this.authorities();
    const proxy = proxyFor(this.network, url);
    const key = proxy?.href ?? 'direct';
    let agent = this.agents.get(key);
    if (!agent) {
      const ca = authorities === undefined ? {} : { ca: authorities };
      if (proxy && !this.tunnel) throw new TaskError('MIC605', 'No proxy tunnel is available to this client.');
      agent = proxy ? this.tunnel!(proxy, { keepAlive: true, ...ca }) : new HttpsAgent({ keepAlive: true, ...ca });
      this.agents.set(key, agent);
    }
    return agent;
  }
}

/**
 * Fails fast with MIC602 when the agent's proxy does not accept connections, before any request would
 * retry against it for propagationTimeoutSeconds; nothing to check when every URL is bypassed.
 */
export async function checkProxyReachable(network: AgentNetwork, urls: readonly string[], signal?: AbortSignal): Promise<void> {
  if (!network.proxy || urls.every((url) => proxyFor(network, url) === undefined)) return;
  const proxy = new URL(network.proxy.url);
  const port = Number(proxy.port) || (proxy.protocol === 'https:' ? 443 : 80);
  await new Promise<void>((resolve, reject) => {
    const socket = connect({ host: proxy.hostname, port, timeout: PROXY_CONNECT_TIMEOUT_MS, ...(signal ? { signal } : {}) });
    const fail = (reason: string) => {
      socket.destroy();
      reject(new TaskError('MIC602', `The agent's proxy ${proxy.protocol}//${proxy.host} (Agent.ProxyUrl) cannot be reached: ${reason}.`, { remediation: 'Start the proxy or fix the agent\'s proxy settings (config.sh --proxyurl, or the .proxy file), or list the Azure hosts in its bypass list.' }));
    };
    socket.once('connect', () => {
      socket.destroy();
      resolve();
    });
    socket.once('timeout', () => fail(`no connection within ${PROXY_CONNECT_TIMEOUT_MS / 1000} s`));
    socket.once('error', (error: NodeJS.ErrnoException) => (signal?.aborted ? reject(signal.reason) : fail(error.code ?? error.message)));
  });
}
