// Named latency profiles: sets of emulator fault rules that only add latency, so that a rehearsal (`npm run
// try -- --latency-profile mid`) and later the benchmarks can say "a typical cloud" by one name instead of
// repeating numbers. Every profile is plain data for the emulator's `POST faults` (docs/emulator.md,
// "Faults and throttling"); the emulator adds up the latency of every rule a request matches.
import type { FaultRule } from '../../tests/emulator/kernel/faults';

export const latencyProfiles = {
  /** No added latency: the emulator answers as fast as it can. */
  none: [],
  /** The same 50 ms on every request (the benchmarks' default --latency-ms). */
  uniform: [{ id: 'uniform', latencyMs: 50 }],
  /**
   * Slow writes as a busy tenant shows them [U: orders of magnitude observed by hand, not measured]: an ARM
   * PUT 1.5 s, an Azure DevOps POST 0.6 s, an Entra token 0.2 s, a TestConnection 0.8 s. TestConnection is a
   * POST too, so the POST rule leaves it out (a negative look-ahead on its path) and it gets its own rule.
   */
  mid: [
    { id: 'mid-arm-put', service: 'arm', method: 'PUT', latencyMs: 1500 },
    { id: 'mid-devops-post', service: 'devops', method: 'POST', path: '^(?!.*/serviceendpoint/endpointproxy)', latencyMs: 600 },
    { id: 'mid-test-connection', route: 'devops.endpointproxy', latencyMs: 800 },
    { id: 'mid-token', route: 'entra.token', latencyMs: 200 },
  ],
} as const satisfies Record<string, readonly FaultRule[]>;

export type LatencyProfileName = keyof typeof latencyProfiles;

export const latencyProfileNames = Object.keys(latencyProfiles) as LatencyProfileName[];

export function isLatencyProfileName(value: string): value is LatencyProfileName {
  return (latencyProfileNames as string[]).includes(value);
}

/** A profile's rules, copied so that the caller may hand them to `faults.set` (which keeps them). */
export function latencyRules(name: LatencyProfileName): FaultRule[] {
  return latencyProfiles[name].map((rule) => ({ ...rule }));
}
