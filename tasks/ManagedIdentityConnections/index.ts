// Placeholder entry until the task core lands (issue 4): fails clearly instead of pretending to work.
import * as tl from 'azure-pipelines-task-lib/task';

tl.setResult(tl.TaskResult.Failed, 'ManagedIdentityConnections is not implemented yet.');
