// The `npm run emulator` JSON line, typed: the fields the Azure and Azure DevOps modules contribute
// (docs/emulator.md, "The JSON line"). Scripts and tests that run the task against an emulator read the
// agent environment and the bootstrap connection from here instead of each declaring the shape again.
import type { RunningEmulator } from './emulator';

export interface EmulatorJsonLine {
  readonly proxy: string;
  readonly caFile: string;
  readonly controlUrl: string;
  readonly authorityHost: string;
  readonly armEndpoint: string;
  readonly tenantId: string;
  readonly subscriptions: readonly { readonly id: string; readonly name: string }[];
  readonly testIssuer: string;
  readonly collectionUri: string;
  readonly organization: { readonly name: string; readonly id: string };
  readonly project: { readonly name: string; readonly id: string };
  readonly bootstrapConnection: { readonly id: string; readonly name: string; readonly clientId: string };
  readonly systemAccessToken: string;
  /** The environment the agent gives a task whose bootstrapConnection input is the bootstrap connection. */
  readonly agentEnv: Readonly<Record<string, string>>;
}

/** The running emulator's JSON line; fails when its world has no Azure DevOps organization (a custom seed). */
export function jsonLine(emulator: RunningEmulator): EmulatorJsonLine {
  const info = emulator.info as Partial<EmulatorJsonLine>;
  if (!info.agentEnv || !info.bootstrapConnection) throw new Error('This emulator has no Azure DevOps organization and bootstrap connection (its seed has no devops section).');
  return info as EmulatorJsonLine;
}
