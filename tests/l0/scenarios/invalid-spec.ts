// L0 scenario: valid inputs, real composition root, and a spec with a misspelled field on line 9.
import { TaskMockRunner } from 'azure-pipelines-task-lib/mock-run';
import { guardNetwork, l0Agent, setAgentEnvironment, taskEntry } from './agent';

setAgentEnvironment();
guardNetwork();
const runner = new TaskMockRunner(taskEntry);
runner.setInput('command', 'provision');
runner.setInput('bootstrapConnection', l0Agent.bootstrapConnectionId);
runner.setInput(
  'environments',
  [
    'defaults:',
    `  subscriptionId: ${l0Agent.subscriptionId}`,
    '  identityResourceGroup: rg-identities',
    '  location: westeurope',
    'environments:',
    '  - name: dev',
    '    connections:',
    '      - name: app-dev',
    '        resourceGroupp: rg-app-dev',
  ].join('\n'),
);
runner.run();
