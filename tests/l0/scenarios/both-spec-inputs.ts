// L0 scenario: the spec given both inline and as a file.
import { TaskMockRunner } from 'azure-pipelines-task-lib/mock-run';
import { guardNetwork, l0Agent, setAgentEnvironment, taskEntry } from './agent';

setAgentEnvironment();
guardNetwork();
const runner = new TaskMockRunner(taskEntry);
runner.setInput('command', 'provision');
runner.setInput('bootstrapConnection', l0Agent.bootstrapConnectionId);
runner.setInput('environments', 'environments: []');
runner.setInput('environmentsFile', 'environments.yml');
runner.run();
