// Simulated jobs: the part of a pipeline run an agent would execute. A job has ids (plan, job, timeline),
// a System.AccessToken for the project's build service, and the service connections its task inputs
// reference — the only ones it can get ID tokens for. `agentEnvironment` is the environment the Azure
// Pipelines agent gives a task in that job: endpoint variables for each referenced connection and for
// SYSTEMVSSCONNECTION, the System/Build/Agent variables task-lib and Microsoft's tasks read, and the CA.
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AZURE_DEVOPS_TOKEN_ISSUER } from './callers';
import type { DevOpsService } from './devops-service';
import { AZURE_CLOUD_ENVIRONMENT, isAzureRm } from './endpoint-types';
import type { PipelineRun, ServiceEndpoint, SimulatedJob } from './world';

/** A version that runs Node20_1 tasks (the first is 4.248.0). */
export const AGENT_VERSION = '4.266.2';

export interface JobRequest {
  projectId: string;
  pipelineId: number;
  run: PipelineRun;
  connectionIds: string[];
  identityId: string;
  planId?: string;
  jobId?: string;
  stageName?: string;
  jobName?: string;
}

/**
 * Roots of every emulator's agent directories in this process, removed when the process exits (modules
 * have no close hook, and tests start many emulators). One exit listener for all of them.
 */
const liveRoots = new Set<string>();
let exitCleanupRegistered = false;

function removeAtExit(root: string): void {
  liveRoots.add(root);
  if (exitCleanupRegistered) return;
  exitCleanupRegistered = true;
  process.once('exit', () => {
    for (const path of liveRoots) rmSync(path, { recursive: true, force: true });
  });
}

/**
 * What the emulator creates for agents and must keep stable across `POST reset`, because the agentEnv in
 * the JSON line printed at start names it: the directories (work folder, temp, sources; emptied on reset,
 * removed at exit) and the job access tokens of jobs that come back with the same ids and claims.
 */
export class AgentDirectories {
  private root: string | undefined;
  private readonly tokens = new Map<string, { claims: string; token: Promise<string>; mintedAt: number }>();

  /** The job's access token: the one minted before for the same job and claims (in its first half-life), else a new one. */
  jobToken(jobId: string, claims: string, lifetimeSeconds: number, mint: () => Promise<string>): Promise<string> {
    const known = this.tokens.get(jobId);
    if (known?.claims === claims && Date.now() - known.mintedAt < (lifetimeSeconds * 1000) / 2) return known.token;
    const token = mint();
    this.tokens.set(jobId, { claims, token, mintedAt: Date.now() });
    return token;
  }

  create(jobId: string): string {
    if (!this.root) {
      this.root = mkdtempSync(join(tmpdir(), 'mic-emulator-agents-'));
      removeAtExit(this.root);
    }
    const work = join(this.root, jobId);
    mkdirSync(join(work, '_temp'), { recursive: true });
    mkdirSync(join(work, '1', 's'), { recursive: true });
    return work;
  }

  /**
   * Empties the root but keeps it: the default world's jobs have fixed ids, so after `POST reset` they get the
   * same directories again and the agentEnv printed in the JSON line at start stays valid.
   */
  clear(): void {
    if (!this.root) return;
    for (const entry of readdirSync(this.root)) rmSync(join(this.root, entry), { recursive: true, force: true });
  }
}

export async function createJob(service: DevOpsService, directories: AgentDirectories, request: JobRequest): Promise<SimulatedJob> {
  const world = service.world;
  const planId = (request.planId ?? randomUUID()).toLowerCase();
  const jobId = (request.jobId ?? randomUUID()).toLowerCase();
  const lifetime = service.settings.jobAccessTokenLifetimeSeconds;
  const claims = {
    iss: AZURE_DEVOPS_TOKEN_ISSUER,
    aud: `${AZURE_DEVOPS_TOKEN_ISSUER}|vso:${world.organization.id}`,
    nameid: request.identityId,
    scp: 'app_token',
    prj_id: request.projectId,
    plan_id: planId,
    job_id: jobId,
    def_id: String(request.pipelineId),
    build_id: String(request.run.id),
    sc_ids: request.connectionIds.join(','),
  };
  const accessToken = service.ctx.tokens.record(
    'job-access-token',
    await directories.jobToken(jobId, JSON.stringify(claims), lifetime, () => service.ctx.keys.devops.sign(claims, lifetime)),
  );
  const workFolder = directories.create(jobId);
  const job: SimulatedJob = {
    planId,
    jobId,
    projectId: request.projectId,
    pipelineId: request.pipelineId,
    runId: request.run.id,
    hubName: 'build',
    stageName: request.stageName ?? '__default',
    jobName: request.jobName ?? 'Job',
    connectionIds: request.connectionIds.map((id) => id.toLowerCase()),
    identityId: request.identityId,
    accessToken,
    accessTokenExpiresOn: new Date(Date.now() + lifetime * 1000).toISOString(),
    tempDirectory: join(workFolder, '_temp'),
    startedAt: new Date().toISOString(),
  };
  world.jobs.set(jobId, job);
  request.run.jobIds.push(jobId);
  return job;
}

/** `<KEY>` as the agent writes it: upper case, `.` and space become `_`. */
function envKey(name: string): string {
  return name.replace(/[. ]/g, '_').toUpperCase();
}

/**
 * Endpoint data as a job sees it: the stored data plus, for Azure connections, the environment data the
 * server adds. Callable URLs in it point at the emulator (so Microsoft's Azure tasks and ours authenticate
 * and call ARM here); resource ids and DNS suffixes keep their public-cloud values.
 */
function jobEndpointData(service: DevOpsService, endpoint: ServiceEndpoint): Record<string, string> {
  const data = { ...endpoint.data };
  if (!isAzureRm(endpoint.type)) return data;
  const origin = `${service.ctx.urls.origin}/`;
  for (const [key, value] of AZURE_CLOUD_ENVIRONMENT) {
    if (Object.keys(data).some((existing) => existing.toLowerCase() === key.toLowerCase())) continue;
    data[key] = /^https?:\/\//.test(value) && !key.toLowerCase().endsWith('resourceid') ? origin : value;
  }
  return data;
}

function endpointVariables(service: DevOpsService, endpoint: ServiceEndpoint, env: Record<string, string>): void {
  const id = endpoint.id;
  // Only what the agent gets from the job message: non-secret and secret parameters alike (the agent hands
  // secrets to the task this way), but not the server-generated issuer/subject — whether the real agent
  // passes those is unverified, so the emulator does not let a task come to depend on them.
  const parameters: Record<string, string> = {};
  for (const [key, value] of Object.entries(endpoint.authorization.parameters)) {
    if (!key.toLowerCase().startsWith('workloadidentityfederation')) parameters[key] = value;
  }
  const data = jobEndpointData(service, endpoint);
  env[`ENDPOINT_URL_${id}`] = isAzureRm(endpoint.type) ? `${service.ctx.urls.origin}/` : endpoint.url;
  env[`ENDPOINT_AUTH_${id}`] = JSON.stringify({ parameters, scheme: endpoint.authorization.scheme });
  env[`ENDPOINT_AUTH_SCHEME_${id}`] = endpoint.authorization.scheme;
  for (const [key, value] of Object.entries(parameters)) env[`ENDPOINT_AUTH_PARAMETER_${id}_${envKey(key)}`] = value;
  env[`ENDPOINT_DATA_${id}`] = JSON.stringify(data);
  for (const [key, value] of Object.entries(data)) env[`ENDPOINT_DATA_${id}_${envKey(key)}`] = value;
}

export function agentEnvironment(service: DevOpsService, job: SimulatedJob): Record<string, string> {
  const world = service.world;
  const collectionUri = service.collectionUri;
  const project = world.projects.find((candidate) => candidate.id === job.projectId)!;
  const pipeline = world.findPipeline(job.projectId, job.pipelineId);
  const run = world.runs.find((candidate) => candidate.id === job.runId);
  const identity = world.findIdentity(job.identityId);
  const workFolder = join(job.tempDirectory, '..');
  const branch = run?.refName ?? 'refs/heads/main';

  // Public variables by their pipeline names; the agent exports each as NAME_IN_UPPER_CASE and lists the names.
  const variables: Record<string, string> = {
    'System.CollectionUri': collectionUri,
    'System.TeamFoundationCollectionUri': collectionUri,
    'System.TeamFoundationServerUri': collectionUri,
    'System.CollectionId': world.organization.id,
    'System.TeamProject': project.name,
    'System.TeamProjectId': project.id,
    'System.PlanId': job.planId,
    'System.JobId': job.jobId,
    'System.TimelineId': job.planId,
    'System.HostType': job.hubName,
    'System.DefinitionId': String(job.pipelineId),
    'System.DefinitionName': pipeline?.name ?? '',
    'System.StageName': job.stageName,
    'System.PhaseName': job.jobName,
    'System.JobName': job.jobName,
    'System.JobDisplayName': job.jobName,
    'System.JobAttempt': '1',
    'System.OidcRequestUri': `${collectionUri}${project.id}/_apis/distributedtask/hubs/${job.hubName}/plans/${job.planId}/jobs/${job.jobId}/oidctoken`,
    'System.ServerType': 'Hosted',
    'System.Culture': 'en-US',
    'System.Debug': 'false',
    'System.DefaultWorkingDirectory': join(workFolder, '1', 's'),
    'Build.BuildId': String(job.runId),
    'Build.BuildNumber': run?.name ?? String(job.runId),
    'Build.DefinitionName': pipeline?.name ?? '',
    'Build.SourceBranch': branch,
    'Build.SourceBranchName': branch.replace(/^refs\/heads\//, ''),
    'Build.Reason': 'Manual',
    'Build.Repository.Name': pipeline?.repository.name ?? project.name,
    'Build.Repository.Id': pipeline?.repository.id ?? '',
    'Build.Repository.Provider': 'TfsGit',
    'Build.RequestedFor': identity?.displayName ?? '',
    'Build.SourcesDirectory': join(workFolder, '1', 's'),
    'Agent.TempDirectory': job.tempDirectory,
    'Agent.WorkFolder': workFolder,
    'Agent.BuildDirectory': join(workFolder, '1'),
    'Agent.Version': AGENT_VERSION,
    'Agent.Name': 'Azure Pipelines 1',
    'Agent.MachineName': 'emulated-agent',
    'Agent.OS': 'Linux',
    'Agent.OSArchitecture': 'X64',
    'Agent.JobName': job.jobName,
    'Agent.JobStatus': 'Succeeded',
    'TF_BUILD': 'True',
  };
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(variables)) env[envKey(name)] = value;
  env.VSTS_PUBLIC_VARIABLES = JSON.stringify(Object.keys(variables));
  env.VSTS_SECRET_VARIABLES = JSON.stringify(['System.AccessToken']);
  env.SECRET_SYSTEM_ACCESSTOKEN = job.accessToken;

  env.ENDPOINT_URL_SYSTEMVSSCONNECTION = collectionUri;
  env.ENDPOINT_AUTH_SYSTEMVSSCONNECTION = JSON.stringify({ parameters: { AccessToken: job.accessToken }, scheme: 'OAuth' });
  env.ENDPOINT_AUTH_SCHEME_SYSTEMVSSCONNECTION = 'OAuth';
  env.ENDPOINT_AUTH_PARAMETER_SYSTEMVSSCONNECTION_ACCESSTOKEN = job.accessToken;
  for (const id of job.connectionIds) {
    const endpoint = world.endpoints.get(id);
    if (endpoint) endpointVariables(service, endpoint, env);
  }
  if (service.ctx.urls.caFile) env.NODE_EXTRA_CA_CERTS = service.ctx.urls.caFile;
  return env;
}
