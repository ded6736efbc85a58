// ManagedIdentityConnections@1: read the inputs, build the ports, run, map the outcome to the task result.
// Everything else lives behind these five calls (docs/architecture.md).
import * as tl from 'azure-pipelines-task-lib/task';
import { silenceDependencyDeprecations } from './src/adapters/dependency-deprecations';
import { readTaskInputs } from './src/adapters/task-lib-inputs';
import { TaskLibPlatform } from './src/adapters/task-lib-platform';
import { TaskLifetime } from './src/adapters/task-lifetime';
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
  silenceDependencyDeprecations();
  const platform = new TaskLibPlatform();
  const lifetime = new TaskLifetime();
  try {
    const { inputs, facts } = readTaskInputs();
    const config = parseTaskConfig(inputs, facts);
    const ports = await createPorts(config, platform, pipelineAuthentication(config, platform, lifetime), lifetime);
    const result = await run(config, ports, { clock: lifetime.clock });
    for (const error of result.errors) platform.error(formatTaskError(error));
    platform.complete(taskResults[result.status], result.message);
  } catch (caught) {
    const error = toTaskError(caught);
    platform.error(formatTaskError(error));
    platform.complete(tl.TaskResult.Failed, `${error.code}: ${error.message}`);
  } finally {
    lifetime.end();
  }
}

void main();
