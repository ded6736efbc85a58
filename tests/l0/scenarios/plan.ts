// L0 scenario: `command: plan` through the real entry point and task-lib, with the composition root replaced
// by in-memory fakes of Azure and Azure DevOps (tests/fakes) holding an empty estate. Prints what the wiring
// did: every input name read (`L0-INPUT`), the config handed to createPorts (`L0-CONFIG`), and at exit the
// write calls the fakes received (`L0-WRITES`).
import { TaskMockRunner } from 'azure-pipelines-task-lib/mock-run';
import type { Platform } from '../../../tasks/ManagedIdentityConnections/src/ports/platform';
import { createFakeWorld, world } from '../../fakes/fake-world';
import { guardNetwork, l0Agent, setAgentEnvironment, taskEntry } from './agent';

setAgentEnvironment();
guardNetwork();
const runner = new TaskMockRunner(taskEntry);
runner.setInput('command', 'plan');
runner.setInput('bootstrapConnection', l0Agent.bootstrapConnectionId);
runner.setInput('concurrency', '3');
runner.setInput('propagationTimeoutSeconds', '45');
runner.setInput(
  'environments',
  [
    'defaults:',
    `  subscriptionId: ${world.devSubscription.subscriptionId}`,
    `  identityResourceGroup: ${world.identityResourceGroup}`,
    '  location: westeurope',
    'environments:',
    '  - name: dev',
    '    connections:',
    '      - name: app-dev',
    '    roles:',
    '      - role: Reader',
    `        scope: /subscriptions/${world.devSubscription.subscriptionId}`,
  ].join('\n'),
);

// Loaded only now: task-lib moves INPUT_* into its vault when it loads, so the inputs must be set first.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const taskLib = require('azure-pipelines-task-lib/task') as typeof import('azure-pipelines-task-lib/task');
runner.registerMockExport('getInput', (name: string, required?: boolean) => {
  process.stdout.write(`L0-INPUT ${name}\n`);
  return taskLib.getInput(name, required);
});

const fakes = createFakeWorld();
runner.registerMock('./src/composition', {
  pipelineAuthentication: () => ({}),
  createPorts: async (config: unknown, platform: Platform) => {
    process.stdout.write(`L0-CONFIG ${JSON.stringify(config)}\n`);
    return { ...fakes.ports, platform };
  },
});
process.on('exit', () => process.stdout.write(`L0-WRITES ${JSON.stringify(fakes.log.writes().map((call) => call.method))}\n`));

runner.run();
