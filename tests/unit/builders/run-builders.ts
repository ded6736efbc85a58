// Builders for tests that run the core against the fake world: task configs from raw inputs, and plans made
// the way run() makes them (observe through the ports, then plan).
import { factNames, parseTaskConfig, type RawValues, type TaskConfig } from '../../../tasks/ManagedIdentityConnections/src/config';
import type { DesiredState, Plan } from '../../../tasks/ManagedIdentityConnections/src/core/model';
import { observe } from '../../../tasks/ManagedIdentityConnections/src/core/observe';
import { plan } from '../../../tasks/ManagedIdentityConnections/src/core/plan';
import type { FakeWorld } from '../../fakes/fake-world';
import { world } from '../../fakes/fake-world';

export const jobToken = 'ZmFrZS1qb2ItdG9rZW4tdGhhdC1tdXN0LW5ldmVyLWFwcGVhcg';

export function taskConfig(inputs: RawValues, facts: RawValues = {}): TaskConfig {
  return parseTaskConfig(
    { bootstrapConnection: '0b0b0b0b-0000-4000-8000-000000000001', ...inputs },
    {
      [factNames.bootstrapTenantId]: world.tenantId,
      [factNames.bootstrapClientId]: 'c0c0c0c0-0000-4000-8000-0000000000b0',
      [factNames.bootstrapScheme]: 'WorkloadIdentityFederation',
      [factNames.collectionUri]: 'https://dev.azure.com/fabrikam/',
      [factNames.projectName]: world.project.name,
      [factNames.projectId]: world.project.id,
      [factNames.definitionId]: String(world.pipelineId),
      [factNames.accessToken]: jobToken,
      ...facts,
    },
  );
}

export async function planAgainst(fake: FakeWorld, state: DesiredState, concurrency = 8): Promise<Plan> {
  return plan(state, await observe(state, fake.ports, { concurrency }));
}

/** A spec (as YAML text) for `count` environments, each with its own identity, connection and role. */
export function specFor(names: readonly string[], extra: (name: string) => string = () => ''): string {
  const sub = world.devSubscription.subscriptionId;
  const environments = names
    .map(
      (name) => `  - name: ${name}
    connections:
      - name: app-${name}
${extra(name)}    roles:
      - role: Contributor
        scope: /subscriptions/${sub}/resourceGroups/rg-app-${name}
`,
    )
    .join('');
  return `defaults:
  subscriptionId: ${sub}
  identityResourceGroup: ${world.identityResourceGroup}
  location: westeurope
environments:
${environments}`;
}
