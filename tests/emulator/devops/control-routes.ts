// The Azure DevOps part of the control API (plain HTTP, no auth): what tests and developers need to
// arrange situations a real organization reaches by clicking or by waiting — switching the issuer format
// (and migrating connections, the drift the task repairs), the 100-day auto-disable, a failed connection,
// granting and revoking roles, sign-in tokens for seeded identities, jobs and their agent environment,
// and finishing pipeline runs.
import { randomUUID } from 'node:crypto';
import type { DevOpsService } from './devops-service';
import { AZURE_DEVOPS_TOKEN_ISSUER } from './callers';
import { applyFederation, parameter } from './endpoint-store';
import { isWorkloadIdentityFederation } from './endpoint-types';
import { toIssuerType } from './issuer-formats';
import { agentEnvironment, type AgentDirectories } from './jobs';
import { approveRun } from './check-configurations';
import { completeRun, queueRun } from './pipeline-runs';
import { isEndpointRole, type ServiceEndpoint } from './world';
import { HttpError, jsonBody, type EmuRequest } from '../kernel/http';

function controlError(status: number, message: string): HttpError {
  return new HttpError(status, { error: message });
}

function body<T>(req: EmuRequest): T {
  return (
    jsonBody<T>(req, (message) => {
      throw controlError(400, message);
    }) ?? ({} as T)
  );
}

export function registerDevOpsControlRoutes(service: DevOpsService, directories: AgentDirectories): void {
  const r = service.ctx.controlRouter;
  const route = (method: string, pattern: string, name: string, handler: (req: EmuRequest) => unknown | Promise<unknown>) =>
    r.add(method, pattern, { service: 'control', name: `control.devops.${name}` }, async (req) => ({ status: 200, body: await handler(req) }));
  const world = () => service.world;

  const endpointOf = (id: string): ServiceEndpoint => {
    const endpoint = world().endpoints.get(id.toLowerCase()) ?? [...world().endpoints.values()].find((candidate) => candidate.projectRefs.some((ref) => ref.name.toLowerCase() === id.toLowerCase()));
    if (!endpoint) throw controlError(404, `no service connection with id or name ${id}`);
    return endpoint;
  };
  const summary = (endpoint: ServiceEndpoint) => ({
    id: endpoint.id,
    name: endpoint.projectRefs[0]?.name,
    isDisabled: endpoint.isDisabled,
    isReady: endpoint.isReady,
    operationStatus: endpoint.operationStatus,
    issuer: parameter(endpoint.authorization.parameters, 'workloadIdentityFederationIssuer'),
    subject: parameter(endpoint.authorization.parameters, 'workloadIdentityFederationSubject'),
    issuerType: parameter(endpoint.authorization.parameters, 'workloadIdentityFederationIssuerType'),
  });

  route('GET', '/devops', 'overview', () => ({
    organization: world().organization,
    projects: world().projects,
    identities: world().identities.map((identity) => ({
      key: identity.key,
      id: identity.id,
      kind: identity.kind,
      displayName: identity.displayName,
      entraObjectId: identity.entraObjectId,
      collectionAdministrator: identity.collectionAdministrator,
      projects: [...identity.projectIds],
      serviceConnectionRoles: Object.fromEntries(world().projects.map((project) => [project.name, world().projectRole(project.id, identity.id) ?? null])),
    })),
    jobs: [...world().jobs.values()].map(({ accessToken: _token, ...job }) => job),
  }));

  // Switches the issuer new WIF connections get; `moveConnections` ("all" or ids/names) moves existing
  // ones too, as Azure DevOps' own migration does — their federated credentials stop matching.
  route('POST', '/devops/organization/issuer', 'issuer', (req) => {
    const input = body<{ issuerType?: unknown; moveConnections?: unknown }>(req);
    const issuerType = toIssuerType(input.issuerType);
    if (issuerType === undefined) throw controlError(400, 'issuerType must be "EntraID" or "DevOps" (or its alias "AzureDevOps")');
    world().organization.issuerType = issuerType;
    const move = input.moveConnections;
    const targets =
      move === 'all'
        ? [...world().endpoints.values()]
        : Array.isArray(move)
          ? move.map((id) => endpointOf(String(id)))
          : move === undefined || move === 'none'
            ? []
            : (() => {
                throw controlError(400, 'moveConnections must be "all", "none" or an array of connection ids or names');
              })();
    const moved = targets.filter(isWorkloadIdentityFederation);
    for (const endpoint of moved) applyFederation(service, endpoint, issuerType);
    return { issuerType: world().organization.issuerType, moved: moved.map(summary) };
  });

  route('POST', '/devops/serviceendpoints/:id/disable', 'disable', (req) => {
    const endpoint = endpointOf(req.params.id);
    endpoint.isDisabled = true;
    return summary(endpoint);
  });
  route('POST', '/devops/serviceendpoints/:id/enable', 'enable', (req) => {
    const endpoint = endpointOf(req.params.id);
    endpoint.isDisabled = false;
    return summary(endpoint);
  });
  // A connection whose (automatic) setup failed: not ready, state Failed; lists hide it without includeFailed.
  route('POST', '/devops/serviceendpoints/:id/fail', 'fail', (req) => {
    const endpoint = endpointOf(req.params.id);
    const input = body<{ statusMessage?: unknown }>(req);
    endpoint.isReady = false;
    endpoint.operationStatus = { state: 'Failed', statusMessage: typeof input.statusMessage === 'string' ? input.statusMessage : 'The operation failed.' };
    return summary(endpoint);
  });

  // Grants (role) or revokes (role null) a project-level role ({identity, project, role}) or a
  // connection-level role ({identity, serviceEndpoint, role}).
  route('POST', '/devops/roles', 'roles', (req) => {
    const input = body<{ identity?: unknown; project?: unknown; serviceEndpoint?: unknown; role?: unknown }>(req);
    const identity = world().findIdentity(String(input.identity ?? ''));
    if (!identity) throw controlError(404, `no identity with key or id ${String(input.identity)}`);
    if (input.role !== null && !isEndpointRole(input.role)) throw controlError(400, 'role must be Reader, User, Creator, Administrator or null');
    const role = input.role === null ? undefined : input.role;
    if (typeof input.serviceEndpoint === 'string') {
      if (role === 'Creator') throw controlError(400, 'Creator exists only at project level');
      const endpoint = endpointOf(input.serviceEndpoint);
      if (role) endpoint.roles.set(identity.id, role);
      else endpoint.roles.delete(identity.id);
      return { identity: identity.key, serviceEndpoint: endpoint.id, role: role ?? null };
    }
    if (typeof input.project !== 'string') throw controlError(400, 'name a project or a serviceEndpoint');
    const project = world().findProject(input.project);
    if (!project) throw controlError(404, `no project ${input.project}`);
    world().setProjectRole(project.id, identity.id, role);
    return { identity: identity.key, project: project.name, role: role ?? null };
  });

  // A sign-in token for a seeded identity (what a PAT or an interactive session would be).
  route('POST', '/devops/tokens', 'tokens', async (req) => {
    const input = body<{ identity?: unknown; lifetimeSeconds?: unknown }>(req);
    const identity = world().findIdentity(String(input.identity ?? ''));
    if (!identity) throw controlError(404, `no identity with key or id ${String(input.identity)}`);
    const lifetime = typeof input.lifetimeSeconds === 'number' ? input.lifetimeSeconds : 3600;
    const token = await service.ctx.keys.devops.sign(
      { iss: AZURE_DEVOPS_TOKEN_ISSUER, aud: `${AZURE_DEVOPS_TOKEN_ISSUER}|vso:${world().organization.id}`, nameid: identity.id, scp: 'vso.full', jti: randomUUID() },
      lifetime,
    );
    return { identity: identity.key, accessToken: service.ctx.tokens.record('access-token', token) };
  });

  // A new job (a run of `pipelineId`, default the bootstrap job's pipeline) that references the pipeline's
  // connections plus `connections` (ids or names; each must exist, be enabled and authorized for it).
  route('POST', '/devops/jobs', 'jobs.create', async (req) => {
    const input = body<{ pipelineId?: unknown; project?: unknown; connections?: unknown; templateParameters?: unknown; refName?: unknown }>(req);
    const defaultJob = service.bootstrap.jobId ? world().jobs.get(service.bootstrap.jobId) : undefined;
    const project = typeof input.project === 'string' ? world().findProject(input.project) : world().projects.find((candidate) => candidate.id === defaultJob?.projectId);
    if (!project) throw controlError(404, `no project ${String(input.project ?? '(default)')}`);
    const pipelineId = typeof input.pipelineId === 'number' ? input.pipelineId : defaultJob?.pipelineId;
    const pipeline = pipelineId === undefined ? undefined : world().findPipeline(project.id, pipelineId);
    if (!pipeline) throw controlError(404, `no pipeline ${String(pipelineId)} in project ${project.name}`);
    if (input.connections !== undefined && !Array.isArray(input.connections)) throw controlError(400, 'connections must be an array of connection ids or names');
    const owner = world().identities.find((identity) => identity.collectionAdministrator) ?? world().identities[0];
    const run = await queueRun(service, directories, {
      pipeline,
      requestedBy: owner,
      templateParameters: (input.templateParameters as Record<string, unknown> | undefined) ?? {},
      extraConnections: ((input.connections as unknown[] | undefined) ?? []).map(String),
      refName: typeof input.refName === 'string' ? input.refName : undefined,
    });
    const job = run.jobIds[0] === undefined ? undefined : world().jobs.get(run.jobIds[0]);
    // Checks can hold the job (approvals) or stop the run (a required template): say so instead of a job.
    if (!job) return { runId: run.id, state: run.state, result: run.result ?? null, pendingApprovals: run.pendingApprovals ?? [], checkFailure: run.checkFailure ?? null };
    return { runId: run.id, planId: job.planId, jobId: job.jobId, connectionIds: job.connectionIds, agentEnv: agentEnvironment(service, job) };
  });

  route('POST', '/devops/runs/:runId/approve', 'runs.approve', async (req) => {
    const run = world().runs.find((candidate) => candidate.id === Number(req.params.runId));
    if (!run) throw controlError(404, `no run ${req.params.runId}`);
    if (!run.pendingApprovals || run.pendingApprovals.length === 0) throw controlError(409, `run ${run.id} waits for no approval`);
    await approveRun(run);
    return { id: run.id, state: run.state, jobIds: [...run.jobIds] };
  });

  route('GET', '/devops/jobs/:jobId/agent-env', 'jobs.agent-env', (req) => {
    const job = world().jobs.get(req.params.jobId.toLowerCase());
    if (!job) throw controlError(404, `no job ${req.params.jobId}`);
    return agentEnvironment(service, job);
  });

  route('POST', '/devops/runs/:runId/complete', 'runs.complete', (req) => {
    const run = world().runs.find((candidate) => candidate.id === Number(req.params.runId));
    if (!run) throw controlError(404, `no run ${req.params.runId}`);
    const input = body<{ result?: unknown }>(req);
    if (input.result !== 'succeeded' && input.result !== 'failed' && input.result !== 'canceled') throw controlError(400, 'result must be succeeded, failed or canceled');
    if (run.state === 'completed') throw controlError(409, `run ${run.id} is already completed (${run.result})`);
    completeRun(service, run, input.result);
    return { id: run.id, state: run.state, result: run.result, finishedDate: run.finishedDate };
  });
}
