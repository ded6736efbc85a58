// The process's one pool of keep-alive connections for ARM and Entra ID. With one pool per SDK client, a
// burst of parallel environments opens — and TLS-handshakes — the same connections several times over.
import { createDefaultHttpClient, type HttpClient } from '@azure/core-rest-pipeline';

let shared: HttpClient | undefined;

export function sharedHttpClient(): HttpClient {
  return (shared ??= createDefaultHttpClient());
}
