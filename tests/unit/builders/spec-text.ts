// Spec texts for validation tests: a small valid spec, a way to build variants of it, and a way to find the
// line a piece of text is on, so that tests can assert line numbers without counting by hand.
import { stringify } from 'yaml';

export const dev = '11111111-1111-4111-8111-111111111111';
export const prod = '22222222-2222-4222-8222-222222222222';

export function validSpec(): Record<string, unknown> {
  return {
    version: 1,
    defaults: { subscriptionId: dev, identityResourceGroup: 'rg-identities', location: 'westeurope', tags: { owner: 'platform' } },
    environments: [
      {
        name: 'dev',
        connections: [{ name: 'app-dev', resourceGroup: 'rg-app-dev' }],
        roles: [{ role: 'Contributor', scope: `/subscriptions/${dev}/resourceGroups/rg-app-dev` }],
      },
      {
        name: 'prod',
        identity: { subscriptionId: prod, tags: { env: 'prod' } },
        connections: [{ name: 'app-prod', subscriptionId: prod, authorize: 'all', shareWith: ['Apps'] }],
        roles: [{ role: 'Reader', scope: `/subscriptions/${prod}` }],
      },
    ],
  };
}

/** The valid spec with one change applied to a fresh copy. */
export function specWith(change: (spec: any) => void): Record<string, unknown> {
  const spec = validSpec();
  change(spec);
  return spec;
}

export function yamlOf(spec: unknown): string {
  return stringify(spec, { lineWidth: 0 });
}

/** 1-based line of the first line containing `needle` (after `after`, if given). */
export function lineOf(text: string, needle: string, after?: string): number {
  const lines = text.split('\n');
  const start = after === undefined ? 0 : lines.findIndex((line) => line.includes(after));
  const index = lines.findIndex((line, position) => position >= start && line.includes(needle));
  if (index < 0) throw new Error(`lineOf: ${JSON.stringify(needle)} not found`);
  return index + 1;
}
