// The agent facts a pipeline run gives the task, for tests that parse task inputs (config.ts).
import { factNames, type RawValues } from '../../../tasks/ManagedIdentityConnections/src/config';

export function pipelineFacts(overrides: RawValues = {}): RawValues {
  return {
    [factNames.bootstrapTenantId]: '72f988bf-86f1-41af-91ab-2d7cd011db47',
    [factNames.bootstrapClientId]: 'c1c1c1c1-0000-4000-8000-000000000099',
    [factNames.collectionUri]: 'https://dev.azure.com/fabrikam',
    [factNames.projectName]: 'Platform',
    [factNames.projectId]: 'a0a0a0a0-0000-4000-8000-000000000001',
    [factNames.accessToken]: 'token',
    ...overrides,
  };
}

/** The inputs of a plan of an empty spec, to vary one input on. */
export const planInputs = { command: 'plan', bootstrapConnection: '0b0b0b0b-0000-4000-8000-000000000001', environments: 'environments: []' } as const;
