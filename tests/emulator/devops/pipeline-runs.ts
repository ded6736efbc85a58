// Queuing a run the way the service compiles one: template parameters are checked against the pipeline's
// declared parameters, every service connection the YAML names (literally or through a parameter) must
// exist in the project, be enabled and be authorized for the pipeline — otherwise the run is refused with
// "The pipeline is not valid." Each run gets one simulated job referencing those connections, so a
// verification run can get ID tokens for exactly the connections it uses.
import { adoError } from './ado-errors';
import type { DevOpsService } from './devops-service';
import { createJob, type AgentDirectories } from './jobs';
import { evaluateRunChecks } from './check-configurations';
import { isAuthorized } from './pipeline-permissions';
import type { Identity, Pipeline, PipelineRun, ServiceEndpoint } from './world';

export interface QueueRequest {
  pipeline: Pipeline;
  requestedBy: Identity;
  templateParameters?: Record<string, unknown>;
  refName?: string;
  /** The identity whose System.AccessToken the job carries; defaults to the project's build service. */
  jobIdentity?: Identity;
  /** Extra connections a job references (a control-created job); checked like YAML references. */
  extraConnections?: string[];
  planId?: string;
  jobId?: string;
  stageName?: string;
  jobName?: string;
}

function invalid(message: string): Error {
  return adoError(400, 'PipelineValidationException', message);
}

function checkTemplateParameters(pipeline: Pipeline, given: Record<string, unknown>): Record<string, string> {
  const values: Record<string, string> = {};
  const errors: string[] = [];
  for (const [name, value] of Object.entries(given)) {
    const declared = pipeline.parameters.find((parameter) => parameter.name.toLowerCase() === name.toLowerCase());
    if (!declared) {
      errors.push(`Unexpected parameter '${name}'`);
      continue;
    }
    const text = typeof value === 'string' ? value : JSON.stringify(value);
    if (declared.type === 'boolean' && !/^(true|false)$/i.test(text)) errors.push(`The '${declared.name}' parameter value '${text}' is not a valid Boolean.`);
    if (declared.type === 'number' && !Number.isFinite(Number(text))) errors.push(`The '${declared.name}' parameter value '${text}' is not a valid Number.`);
    values[declared.name] = text;
  }
  for (const declared of pipeline.parameters) {
    if (declared.default === undefined && values[declared.name] === undefined) errors.push(`A value for the '${declared.name}' parameter must be provided.`);
  }
  if (errors.length > 0) throw invalid(errors.join('\n'));
  return values;
}

/** A parameter value naming connections: a JSON array, or names separated by commas or new lines. */
function connectionNames(value: string): string[] {
  const trimmed = value.trim();
  if (trimmed.startsWith('[')) {
    try {
      const parsed = JSON.parse(trimmed) as unknown;
      if (Array.isArray(parsed)) return parsed.map(String).filter((name) => name.trim() !== '');
    } catch {
      // Not JSON: fall through to the list forms.
    }
  }
  return trimmed
    .split(/[,\n]/)
    .map((name) => name.trim())
    .filter((name) => name !== '');
}

function referencedNames(pipeline: Pipeline, values: Record<string, string>): string[] {
  const names: string[] = [];
  for (const reference of pipeline.connectionReferences) {
    if ('connection' in reference) names.push(reference.connection);
    else {
      const declared = pipeline.parameters.find((parameter) => parameter.name === reference.parameter);
      names.push(...connectionNames(values[reference.parameter] ?? declared?.default ?? ''));
    }
  }
  return names;
}

function resolveConnections(service: DevOpsService, pipeline: Pipeline, names: string[], jobName: string): ServiceEndpoint[] {
  const errors: string[] = [];
  const found: ServiceEndpoint[] = [];
  for (const name of names) {
    const endpoint = service.world.endpointByName(pipeline.projectId, name) ?? service.world.endpoints.get(name.toLowerCase());
    const usable = endpoint && service.world.projectReference(endpoint, pipeline.projectId) && !endpoint.isDisabled && isAuthorized(service, pipeline.projectId, 'endpoint', endpoint.id, pipeline.id);
    if (!usable) {
      errors.push(
        `Job ${jobName}: Step AzureCLI input azureSubscription references service connection ${name} which could not be found. The service connection does not exist, has been disabled or has not been authorized for use. For authorization details, refer to https://aka.ms/yamlauthz.`,
      );
    } else if (!found.includes(endpoint)) found.push(endpoint);
  }
  if (errors.length > 0) throw invalid(`The pipeline is not valid. ${errors.join('\n')}`);
  return found;
}

function runName(service: DevOpsService, pipeline: Pipeline, now: Date): string {
  const day = now.toISOString().slice(0, 10).replace(/-/g, '');
  const sameDay = service.world.runs.filter((run) => run.pipelineId === pipeline.id && run.projectId === pipeline.projectId && run.name.startsWith(`${day}.`)).length;
  return `${day}.${sameDay + 1}`;
}

function buildServiceOf(service: DevOpsService, projectId: string): Identity | undefined {
  return service.world.identities.find((identity) => identity.kind === 'build-service' && identity.projectIds.has(projectId));
}

export async function queueRun(service: DevOpsService, directories: AgentDirectories, request: QueueRequest): Promise<PipelineRun> {
  const { pipeline } = request;
  const jobName = request.jobName ?? 'Job';
  const templateParameters = checkTemplateParameters(pipeline, request.templateParameters ?? {});
  const names = [...referencedNames(pipeline, templateParameters), ...(request.extraConnections ?? [])];
  const connections = resolveConnections(service, pipeline, names, jobName);
  const fate = evaluateRunChecks(service.world, pipeline, connections);
  const now = new Date();
  const run: PipelineRun = {
    id: service.world.nextRunId++,
    pipelineId: pipeline.id,
    projectId: pipeline.projectId,
    name: runName(service, pipeline, now),
    state: 'inProgress',
    createdDate: now.toISOString(),
    templateParameters,
    refName: request.refName ?? 'refs/heads/main',
    requestedById: request.requestedBy.id,
    jobIds: [],
  };
  service.world.runs.push(run);
  if (fate.failure !== undefined) {
    // A failed check stops the run before any job starts.
    Object.assign(run, { state: 'completed', result: 'failed', finishedDate: now.toISOString(), checkFailure: fate.failure });
    return run;
  }
  const identity = request.jobIdentity ?? buildServiceOf(service, pipeline.projectId) ?? request.requestedBy;
  const startJob = async (): Promise<void> => {
    await createJob(service, directories, {
      projectId: pipeline.projectId,
      pipelineId: pipeline.id,
      run,
      connectionIds: connections.map((endpoint) => endpoint.id),
      identityId: identity.id,
      planId: request.planId,
      jobId: request.jobId,
      stageName: request.stageName,
      jobName,
    });
  };
  if (fate.approvals.length > 0) {
    // Approvals hold the job: the run waits in progress until they are given.
    run.pendingApprovals = fate.approvals;
    run.deferredJob = startJob;
    return run;
  }
  await startJob();
  return run;
}

export function completeRun(service: DevOpsService, run: PipelineRun, result: 'succeeded' | 'failed' | 'canceled'): void {
  const finishedDate = new Date().toISOString();
  run.state = 'completed';
  run.result = result;
  run.finishedDate = finishedDate;
  for (const jobId of run.jobIds) {
    const job = service.world.jobs.get(jobId);
    if (job) job.finishedAt = finishedDate;
  }
}
