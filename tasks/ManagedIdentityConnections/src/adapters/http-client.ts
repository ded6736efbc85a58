// The process's one pool of keep-alive connections for ARM and Entra ID. With one pool per SDK client, a
// burst of parallel environments opens — and TLS-handshakes — the same connections several times over.
import { createDefaultHttpClient, type HttpClient } from '@azure/core-rest-pipeline';
import { ArmThrottlePacer, pacedArmHttpClient } from './arm-throttle-pacer';

let shared: HttpClient | undefined;
const pacedByEndpoint = new Map<string, HttpClient>();

export function sharedHttpClient(): HttpClient {
  return (shared ??= createDefaultHttpClient());
}

/**
 * The same pool for ARM clients, with requests to the ARM endpoint paced from ARM's throttling headers
 * (arm-throttle-pacer.ts). One pacer per endpoint, shared by every ARM client, so that all parallel
 * environments draw on one estimate of each bucket.
 */
export function sharedArmHttpClient(armEndpoint: string): HttpClient {
  let client = pacedByEndpoint.get(armEndpoint);
  if (!client) {
    client = pacedArmHttpClient(sharedHttpClient(), armEndpoint, new ArmThrottlePacer());
    pacedByEndpoint.set(armEndpoint, client);
  }
  return client;
}
