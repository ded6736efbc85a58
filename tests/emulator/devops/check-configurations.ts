// Approvals and checks on service connections (PipelinesChecks, preview-only api-version 7.1-preview.1):
// GET, POST and PATCH of check configurations, and what they do to a queued run. Shapes as the swagger
// describes them (MicrosoftDocs/vsts-rest-api-specs, specification/approvalsAndChecks/7.1/pipelinesChecks.json);
// type ids as Azure DevOps uses them (microsoft/terraform-provider-azuredevops).
//
// On a queued run, per connection the run references: a Required template (ExtendsCheck) the pipeline does
// not extend fails the run before any job; an Approval holds the job until `POST devops/runs/{id}/approve`
// (control API) approves it. Exclusive lock and business hours are stored but not enforced [U].
// Managing checks needs the Administrator role on the connection [U: as for pipeline permissions].
import { adoError, badRequest } from './ado-errors';
import type { AuthenticatedCall, DevOpsService } from './devops-service';
import { canSeeEndpoint, requireEndpointAdministrator, requireProjectAccess } from './rights';
import { identityRef } from './views';
import type { CheckConfigurationRecord, DevOpsWorld, Pipeline, PipelineRun, Project, ServiceEndpoint } from './world';
import { sameText } from './world';
import { jsonBody, queryParam, type EmuRequest } from '../kernel/http';

export const CHECK_TYPES = {
  approval: '8c6f20a7-a545-4486-9777-f762fafe0d4d',
  exclusiveLock: '2ef31ad6-baa0-403a-8b45-2cbc9b4e5563',
  extends: '4020e66e-b0f3-47e1-bc88-48f3cc59b5f3',
  task: 'fe1de3ee-a436-41b4-bb20-f6eb4cb879a7',
} as const;

interface CheckInput {
  id?: unknown;
  type?: { id?: unknown; name?: unknown };
  settings?: unknown;
  timeout?: unknown;
  resource?: { type?: unknown; id?: unknown; name?: unknown };
}

function requirePreview(req: EmuRequest): void {
  const version = queryParam(req, 'api-version') ?? '';
  if (!/-preview/i.test(version)) {
    throw adoError(400, 'VssInvalidPreviewVersionException', `The requested version "${version}" of the resource is under preview. The -preview flag must be supplied in the api-version for such requests. For example: "7.1-preview"`);
  }
}

export function registerCheckConfigurationRoutes(service: DevOpsService): void {
  const world = (): DevOpsWorld => service.world;
  const base = '/:organization/:project/_apis/pipelines/checks/configurations';

  const endpointOf = (call: AuthenticatedCall, project: Project, id: string, manage: boolean): ServiceEndpoint => {
    const endpoint = world().endpoints.get(id.toLowerCase());
    if (!endpoint || !world().projectReference(endpoint, project.id) || !canSeeEndpoint(world(), call.caller.identity, endpoint)) {
      throw adoError(404, 'ResourceNotFoundException', `Resource of type 'endpoint' with id '${id}' does not exist or you do not have permission to access it.`);
    }
    if (manage) requireEndpointAdministrator(world(), call.caller, endpoint, 'update', project.id);
    return endpoint;
  };

  const render = (record: CheckConfigurationRecord, call: AuthenticatedCall, withSettings: boolean): Record<string, unknown> => {
    const by = (id: string) => {
      const identity = world().findIdentity(id);
      return identity ? identityRef(identity, call.base) : null;
    };
    return {
      ...(withSettings ? { settings: record.settings } : {}),
      createdBy: by(record.createdById),
      createdOn: record.createdOn,
      modifiedBy: by(record.modifiedById),
      modifiedOn: record.modifiedOn,
      timeout: record.timeout,
      _links: { self: { href: `${call.base}${record.projectId}/_apis/pipelines/checks/configurations/${record.id}` } },
      id: record.id,
      version: 1,
      type: record.type,
      url: `${call.base}${record.projectId}/_apis/pipelines/checks/configurations/${record.id}`,
      resource: record.resource,
    };
  };

  const validate = (input: CheckInput): { type: { id: string; name: string }; settings: Record<string, unknown>; timeout: number; resourceId: string } => {
    if (typeof input !== 'object' || input === null) throw badRequest('The check configuration must be an object.', 'ArgumentException');
    const typeId = typeof input.type?.id === 'string' ? input.type.id.toLowerCase() : '';
    if (!(Object.values(CHECK_TYPES) as string[]).includes(typeId)) throw badRequest(`Check type '${String(input.type?.id)}' is not supported.`, 'ArgumentException');
    if (!sameText(String(input.resource?.type ?? ''), 'endpoint') || typeof input.resource?.id !== 'string') throw badRequest('resource must be { type: "endpoint", id }.', 'ArgumentException');
    const settings = (input.settings ?? {}) as Record<string, unknown>;
    if (typeId === CHECK_TYPES.approval) {
      const approvers = settings['approvers'];
      if (!Array.isArray(approvers) || approvers.length === 0) throw badRequest('An approval check needs at least one approver.', 'ArgumentException');
      for (const approver of approvers as Array<{ id?: unknown }>) {
        if (typeof approver?.id !== 'string' || !world().findIdentity(approver.id)) throw badRequest(`Approver '${String(approver?.id)}' is not a user or group of the organization.`, 'InvalidApproverException');
      }
    }
    if (typeId === CHECK_TYPES.extends && (!Array.isArray(settings['extendsChecks']) || settings['extendsChecks'].length === 0)) throw badRequest('A required template check needs extendsChecks.', 'ArgumentException');
    const timeout = typeof input.timeout === 'number' && Number.isInteger(input.timeout) && input.timeout > 0 ? input.timeout : 43200;
    return { type: { id: typeId, name: typeof input.type?.name === 'string' ? input.type.name : '' }, settings, timeout, resourceId: input.resource.id };
  };

  const body = (req: EmuRequest): CheckInput =>
    jsonBody<CheckInput>(req, (message) => {
      throw badRequest(message, 'ArgumentException');
    }) ?? {};

  service.route('GET', base, { name: 'devops.checks.list' }, (req, call) => {
    requirePreview(req);
    const project = requireProjectAccess(world(), call.caller, req.params.project);
    const resourceType = queryParam(req, 'resourceType');
    const resourceId = queryParam(req, 'resourceId');
    if (resourceId !== undefined && sameText(resourceType ?? 'endpoint', 'endpoint')) endpointOf(call, project, resourceId, false);
    const matches = world().checks.filter(
      (record) => record.projectId === project.id && (resourceType === undefined || sameText(record.resource.type, resourceType)) && (resourceId === undefined || sameText(record.resource.id, resourceId)),
    );
    const expand = sameText(queryParam(req, '$expand') ?? 'none', 'settings');
    return { status: 200, body: { count: matches.length, value: matches.map((record) => render(record, call, expand)) } };
  });

  service.route('POST', base, { name: 'devops.checks.add' }, (req, call) => {
    requirePreview(req);
    const project = requireProjectAccess(world(), call.caller, req.params.project);
    const input = validate(body(req));
    const endpoint = endpointOf(call, project, input.resourceId, true);
    const now = new Date().toISOString();
    const record: CheckConfigurationRecord = {
      id: world().nextCheckId++,
      projectId: project.id,
      type: input.type,
      settings: input.settings,
      timeout: input.timeout,
      resource: { type: 'endpoint', id: endpoint.id, name: world().projectReference(endpoint, project.id)?.name ?? '' },
      createdById: call.caller.identity.id,
      createdOn: now,
      modifiedById: call.caller.identity.id,
      modifiedOn: now,
    };
    world().checks.push(record);
    return { status: 200, body: render(record, call, true) };
  });

  service.route('PATCH', `${base}/:id`, { name: 'devops.checks.update' }, (req, call) => {
    requirePreview(req);
    const project = requireProjectAccess(world(), call.caller, req.params.project);
    const record = world().checks.find((candidate) => candidate.projectId === project.id && candidate.id === Number(req.params.id));
    if (!record) throw adoError(404, 'CheckConfigurationNotFoundException', `Check configuration with id ${req.params.id} does not exist.`);
    const input = validate(body(req));
    if (!sameText(input.resourceId, record.resource.id) || input.type.id !== record.type.id) throw badRequest('The resource and type of a check configuration cannot change.', 'ArgumentException');
    endpointOf(call, project, record.resource.id, true);
    Object.assign(record, { settings: input.settings, timeout: input.timeout, modifiedById: call.caller.identity.id, modifiedOn: new Date().toISOString() });
    return { status: 200, body: render(record, call, true) };
  });
}

/**
 * What the checks of the connections a run uses do to it: a Required template the pipeline does not extend fails
 * it (a message saying which); Approvals hold its job. Returns the run's fate.
 */
export function evaluateRunChecks(world: DevOpsWorld, pipeline: Pipeline, connections: readonly ServiceEndpoint[]): { failure?: string; approvals: number[] } {
  const checks = world.checks.filter((record) => record.projectId === pipeline.projectId && sameText(record.resource.type, 'endpoint') && connections.some((endpoint) => sameText(endpoint.id, record.resource.id)));
  for (const record of checks.filter((candidate) => candidate.type.id === CHECK_TYPES.extends)) {
    const required = (record.settings['extendsChecks'] as Array<Record<string, string>> | undefined) ?? [];
    const extended = pipeline.extends;
    const matches = extended !== undefined && required.some((entry) =>
      sameText(entry['repositoryType'] ?? '', extended.repositoryType) &&
      sameText(entry['repositoryName'] ?? '', extended.repositoryName) &&
      sameText(entry['repositoryRef'] ?? '', extended.repositoryRef) &&
      sameText((entry['templatePath'] ?? '').replace(/^\/+/, ''), extended.templatePath.replace(/^\/+/, '')),
    );
    if (!matches) {
      const wanted = required.map((entry) => `${entry['templatePath']}@${entry['repositoryName']} (${entry['repositoryRef']})`).join(' or ');
      return { failure: `The pipeline does not extend the required template ${wanted} of service connection ${record.resource.name}.`, approvals: [] };
    }
  }
  return { approvals: checks.filter((candidate) => candidate.type.id === CHECK_TYPES.approval).map((record) => record.id) };
}

/** Approves every pending approval of the run and starts its job. */
export async function approveRun(run: PipelineRun): Promise<void> {
  run.pendingApprovals = [];
  const start = run.deferredJob;
  run.deferredJob = undefined;
  await start?.();
}
