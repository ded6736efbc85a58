// ManagedIdentityConnections@1: read the inputs, build the ports, run, map the outcome to the task result.
// Everything else lives behind these five calls (docs/architecture.md).
import * as tl from 'azure-pipelines-task-lib/task';
import { readTaskInputs } from './src/adapters/task-lib-inputs';
import { TaskLibPlatform } from './src/adapters/task-lib-platform';
import { createPorts, pipelineAuthentication } from './src/composition';
import { parseTaskConfig } from './src/config';
import { formatTaskError } from './src/core/format-run';
import { run, type RunStatus } from './src/core/run';
import { toTaskError } from './src/errors';

const taskResults: Record<RunStatus, tl.TaskResult> = {
  succeeded: tl.TaskResult.Succeeded,
  succeededWithIssues: tl.TaskResult.SucceededWithIssues,
  failed: tl.TaskResult.Failed,
};

async function main(): Promise<void> {
  const platform = new TaskLibPlatform();
  try {
    const { inputs, facts } = readTaskInputs();
    const config = parseTaskConfig(inputs, facts);
    const ports = await createPorts(config, platform, pipelineAuthentication(config, platform));
    const result = await run(config, ports);
    platform.flush();
    for (const error of result.errors) tl.error(formatTaskError(error));
    tl.setResult(taskResults[result.status], result.message);
  } catch (caught) {
    const error = toTaskError(caught);
    platform.flush();
    tl.error(formatTaskError(error));
    tl.setResult(tl.TaskResult.Failed, `${error.code}: ${error.message}`);
  }
}

void main();
