// L0 scenario: every input but bootstrapConnection.
import { TaskMockRunner } from 'azure-pipelines-task-lib/mock-run';
import { guardNetwork, setAgentEnvironment, taskEntry } from './agent';

setAgentEnvironment();
guardNetwork();
const runner = new TaskMockRunner(taskEntry);
runner.setInput('command', 'provision');
runner.setInput('environments', 'environments: []');
runner.run();
