// Starts the emulator in-process: certificates, keys, modules, the three listeners, and the seed.
// `main.ts` wraps this for `npm run emulator`; tests call `startEmulator` directly.
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { readFileSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { createCertificates, type CertificateAuthority } from './kernel/certs';
import { defaultSettings, IssuerRegistry, RequestStats, type EmulatorContext, type EmulatorModule, type EmulatorSettings, type SeedDocument } from './kernel/context';
import { registerControlRoutes } from './kernel/control';
import { FaultBook } from './kernel/faults';
import { Router } from './kernel/http';
import { createControlServer, createProxyServer, createServiceServer, internalDispatch, listen } from './kernel/server';
import { IssuedTokenLog, KeyRing } from './kernel/tokens';
import { defaultSeed, emulatorModules } from './modules';

export interface EmulatorOptions {
  /** Ports to listen on (127.0.0.1); 0 or absent picks a free one. */
  port?: number;
  controlPort?: number;
  proxyPort?: number;
  /** The world to start from; the default world when absent (see `modules.ts`). */
  seed?: SeedDocument;
  settings?: Partial<EmulatorSettings>;
  /** Sign the server certificate with this CA instead of a fresh one (the test runner's CA). */
  ca?: CertificateAuthority;
  modules?: readonly EmulatorModule[];
  /** Offer HTTP/2 (ALPN `h2`) beside HTTP/1.1 on the HTTPS port; true when absent. False: HTTP/1.1 only. */
  http2?: boolean;
}

/** The contract of the `npm run emulator` JSON line (modules add their fields). */
export interface EmulatorInfo {
  proxy: string;
  caFile: string;
  controlUrl: string;
  [field: string]: unknown;
}

export interface RunningEmulator {
  readonly info: EmulatorInfo;
  readonly ctx: EmulatorContext;
  /** Same as `GET {controlUrl}state`. */
  state(): Record<string, unknown>;
  reset(): Promise<void>;
  close(): Promise<void>;
}

export function readSeedFile(path: string): SeedDocument {
  const text = readFileSync(path, 'utf8');
  try {
    return JSON.parse(text) as SeedDocument;
  } catch (error) {
    throw new Error(`--seed ${path}: not valid JSON (${(error as Error).message})`);
  }
}

export async function startEmulator(options: EmulatorOptions = {}): Promise<RunningEmulator> {
  const modules = options.modules ?? emulatorModules;
  const seed = options.seed ?? defaultSeed();
  const initialSettings = (): EmulatorSettings => ({ ...defaultSettings(), ...structuredClone(options.settings ?? {}) });
  const [certs, entra, devops, testIssuer] = await Promise.all([
    createCertificates(options.ca),
    KeyRing.create('entra'),
    KeyRing.create('devops'),
    KeyRing.create('test-issuer'),
  ]);

  const ctx: EmulatorContext = {
    router: new Router(),
    controlRouter: new Router(),
    keys: { entra, devops, testIssuer },
    issuers: new IssuerRegistry(),
    tokens: new IssuedTokenLog(),
    requests: new RequestStats(),
    faults: new FaultBook(),
    settings: initialSettings(),
    urls: { origin: '', controlUrl: '', proxy: '' },
    internalFetch: (request) => internalDispatch(ctx, request),
    shared: {},
    errorShapes: {},
    responseHeaders: {},
  };

  const loadWorld = async (): Promise<void> => {
    for (const module of modules) module.clear(ctx);
    for (const module of modules) await module.seed(ctx, seed);
  };
  const reset = async (): Promise<void> => {
    ctx.settings = initialSettings();
    ctx.faults.clear();
    ctx.tokens.clear();
    await loadWorld();
    ctx.requests.reset();
  };

  for (const module of modules) await module.register(ctx);
  const state = (): Record<string, unknown> => {
    const fields: Record<string, unknown> = {};
    for (const module of modules) Object.assign(fields, module.state(ctx));
    return { ...fields, requests: ctx.requests.summary(), issuedTokens: ctx.tokens.list().map((entry) => entry.token) };
  };
  registerControlRoutes(ctx, { reset, state });

  const serviceServer = createServiceServer(ctx, certs, { http2: options.http2 ?? true });
  const controlServer = createControlServer(ctx);
  const proxyServer = createProxyServer(ctx, serviceServer);
  const servers: Array<Server | typeof serviceServer> = [serviceServer, controlServer, proxyServer];
  serviceServer.on('secureConnection', () => ctx.requests.tlsConnections++);
  // Tunnelled (CONNECT) and keep-alive sockets outlive `server.close()`; track them all to end them on close.
  const sockets = new Set<Socket>();
  for (const server of servers) {
    server.on('connection', (socket: Socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    });
  }
  const [port, controlPort, proxyPort] = await Promise.all([
    listen(serviceServer, options.port ?? 0),
    listen(controlServer, options.controlPort ?? 0),
    listen(proxyServer, options.proxyPort ?? 0),
  ]);
  ctx.urls = {
    origin: `https://127.0.0.1:${port}`,
    controlUrl: `http://127.0.0.1:${controlPort}/`,
    proxy: `http://127.0.0.1:${proxyPort}`,
    caFile: certs.caFile,
  };

  await loadWorld();

  const info = (): EmulatorInfo => {
    const fields: EmulatorInfo = { proxy: ctx.urls.proxy, caFile: certs.caFile, controlUrl: ctx.urls.controlUrl };
    for (const module of modules) Object.assign(fields, module.info(ctx));
    return fields;
  };

  return {
    get info() {
      return info();
    },
    ctx,
    state,
    reset,
    async close() {
      const closed = Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
      for (const socket of sockets) socket.destroy();
      await closed;
      // The CA file lives in a directory of its own, made at start; clients are gone now.
      rmSync(dirname(certs.caFile), { recursive: true, force: true });
    },
  };
}
