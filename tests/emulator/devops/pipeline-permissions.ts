// Pipeline permissions (approvalsAndChecks, preview-only api-version 7.1-preview.1): which pipelines of a
// project may use a protected resource. `allPipelines` opens it to every pipeline; `pipelines` lists
// single ones. A PATCH changes only what it names — pipelines it leaves out keep their state.
//
// Connections are authorized by their Administrators. Other resource types (agent queues, environments,
// …) exist only as seeded names here and are authorized by Project Collection Administrators [U]: each
// real resource type has its own security roles, which the emulator does not model.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { adoError, badRequest } from './ado-errors';
import type { Caller } from './callers';
import type { AuthenticatedCall, DevOpsService } from './devops-service';
import { LOCATIONS } from './locations';
import { canSeeEndpoint, requireEndpointAdministrator, requireProjectAccess } from './rights';
import { identityRef } from './views';
import type { PermissionGrant, Project, ResourcePermissions } from './world';
import { sameText } from './world';
import { jsonBody, type EmuRequest } from '../kernel/http';

interface PermissionsInput {
  resource?: { type?: unknown; id?: unknown; name?: unknown };
  allPipelines?: { authorized?: unknown };
  pipelines?: Array<{ id?: unknown; authorized?: unknown }>;
}

interface Target {
  type: string;
  id: string;
}

/**
 * Pipeline-permission writes in one project that overlap answer 500 TF400898, as Azure DevOps does under
 * parallel PATCHes (microsoft/terraform-provider-azuredevops#1448, #875): each write holds its project for
 * `devops.pipelinePermissionsWriteMs` from its arrival. The refused write changes nothing.
 */
const writesInFlight = new WeakMap<DevOpsService, Map<string, number[]>>();

async function holdProject(service: DevOpsService, projectId: string, arrivedAt: number | undefined): Promise<void> {
  const duration = service.settings.pipelinePermissionsWriteMs;
  if (!(duration > 0)) return;
  const now = Date.now();
  const from = arrivedAt ?? now;
  let byProject = writesInFlight.get(service);
  if (!byProject) writesInFlight.set(service, (byProject = new Map()));
  const until = (byProject.get(projectId) ?? []).filter((end) => end > from);
  if (until.length > 0) {
    throw adoError(500, 'VssServiceException', `TF400898: An Internal Error Occurred. Activity Id: ${randomUUID()}.`);
  }
  byProject.set(projectId, [...until, now + duration]);
  await sleep(duration);
}

function resourceNotFound(type: string, id: string): Error {
  return adoError(404, 'ResourceNotFoundException', `Resource of type '${type}' with id '${id}' does not exist or you do not have permission to access it.`);
}

export function registerPipelinePermissionRoutes(service: DevOpsService): void {
  const world = () => service.world;

  /** Checks the resource exists in the project and the caller may read (or, for `manage`, authorize) it. */
  const resolve = (caller: Caller, project: Project, type: string, id: string, manage: boolean): Target => {
    if (sameText(type, 'endpoint')) {
      const endpoint = world().endpoints.get(id.toLowerCase());
      if (!endpoint || !world().projectReference(endpoint, project.id) || !canSeeEndpoint(world(), caller.identity, endpoint)) throw resourceNotFound(type, id);
      if (manage) requireEndpointAdministrator(world(), caller, endpoint, 'authorize pipelines for', project.id);
      return { type: 'endpoint', id: endpoint.id };
    }
    const resource = world().pipelineResources.find((candidate) => candidate.projectId === project.id && sameText(candidate.type, type) && sameText(candidate.id, id));
    if (!resource) throw resourceNotFound(type, id);
    if (manage && !caller.identity.collectionAdministrator) {
      throw adoError(403, 'AccessCheckException', `You do not have permission to authorize pipelines for the ${resource.type} '${resource.name}'.`);
    }
    return { type: resource.type, id: resource.id };
  };

  const render = (project: Project, target: Target, base: string): Record<string, unknown> => {
    const record = world().permissions.get(world().permissionsKey(project.id, target.type, target.id));
    const grant = (value: PermissionGrant) => {
      const by = world().findIdentity(value.authorizedById);
      return { authorized: true, authorizedBy: by ? identityRef(by, base) : null, authorizedOn: value.authorizedOn };
    };
    const body: Record<string, unknown> = {
      resource: { type: target.type, id: target.id },
      pipelines: [...(record?.pipelines.entries() ?? [])].sort(([a], [b]) => a - b).map(([id, value]) => ({ id, ...grant(value) })),
    };
    if (record?.allPipelines) body.allPipelines = grant(record.allPipelines);
    return body;
  };

  /** Validates one update completely before anything is written, so a batch fails as a whole. */
  const prepare = (caller: Caller, project: Project, target: Target, input: PermissionsInput): (() => void) => {
    if (typeof input !== 'object' || input === null) throw badRequest('Each pipeline permission update must be an object.', 'ArgumentException');
    if (input.allPipelines !== undefined && typeof input.allPipelines?.authorized !== 'boolean') throw badRequest('allPipelines.authorized must be true or false.', 'ArgumentException');
    const pipelines = input.pipelines ?? [];
    if (!Array.isArray(pipelines)) throw badRequest('pipelines must be an array of { id, authorized }.', 'ArgumentException');
    for (const item of pipelines) {
      if (!Number.isInteger(item?.id) || typeof item?.authorized !== 'boolean') throw badRequest('Each pipeline permission needs an integer id and authorized true or false.', 'ArgumentException');
      if (!world().findPipeline(project.id, item.id as number)) throw badRequest(`Pipeline ${String(item.id)} does not exist in project ${project.name}.`, 'ArgumentException');
    }
    return () => {
      const key = world().permissionsKey(project.id, target.type, target.id);
      const record: ResourcePermissions = world().permissions.get(key) ?? { projectId: project.id, type: target.type, id: target.id, pipelines: new Map() };
      const grant: PermissionGrant = { authorizedById: caller.identity.id, authorizedOn: new Date().toISOString() };
      if (input.allPipelines) record.allPipelines = input.allPipelines.authorized ? record.allPipelines ?? grant : undefined;
      for (const item of pipelines) {
        const id = item.id as number;
        if (item.authorized) record.pipelines.set(id, record.pipelines.get(id) ?? grant);
        else record.pipelines.delete(id);
      }
      world().permissions.set(key, record);
    };
  };

  const body = <T>(req: EmuRequest): T =>
    jsonBody<T>(req, (message) => {
      throw badRequest(message, 'ArgumentException');
    });

  service.route(
    'PATCH',
    '/:organization/:project/_apis/pipelines/pipelinePermissions',
    { name: 'devops.pipelinepermissions.update-many', location: LOCATIONS.pipelinePermissions },
    async (req: EmuRequest, call: AuthenticatedCall) => {
      const project = requireProjectAccess(world(), call.caller, req.params.project);
      await holdProject(service, project.id, req.arrivedAt);
      const inputs = body<PermissionsInput[]>(req);
      if (!Array.isArray(inputs)) throw badRequest('The request body must be an array of resource pipeline permissions.', 'ArgumentException');
      const prepared = inputs.map((input) => {
        const type = typeof input?.resource?.type === 'string' ? input.resource.type : '';
        const id = typeof input?.resource?.id === 'string' ? input.resource.id : '';
        if (!type || !id) throw badRequest('Each update needs resource.type and resource.id.', 'ArgumentException');
        const target = resolve(call.caller, project, type, id, true);
        return { target, apply: prepare(call.caller, project, target, input) };
      });
      for (const { apply } of prepared) apply();
      const value = prepared.map(({ target }) => render(project, target, call.base));
      return { status: 200, body: { count: value.length, value } };
    },
  );

  service.route(
    'GET',
    '/:organization/:project/_apis/pipelines/pipelinePermissions/:resourceType/:resourceId',
    { name: 'devops.pipelinepermissions.get', location: LOCATIONS.pipelinePermissions },
    (req, call) => {
      const project = requireProjectAccess(world(), call.caller, req.params.project);
      const target = resolve(call.caller, project, req.params.resourceType, req.params.resourceId, false);
      return { status: 200, body: render(project, target, call.base) };
    },
  );

  service.route(
    'PATCH',
    '/:organization/:project/_apis/pipelines/pipelinePermissions/:resourceType/:resourceId',
    { name: 'devops.pipelinepermissions.update', location: LOCATIONS.pipelinePermissions },
    async (req, call) => {
      const project = requireProjectAccess(world(), call.caller, req.params.project);
      await holdProject(service, project.id, req.arrivedAt);
      const target = resolve(call.caller, project, req.params.resourceType, req.params.resourceId, true);
      prepare(call.caller, project, target, body<PermissionsInput>(req) ?? {})();
      return { status: 200, body: render(project, target, call.base) };
    },
  );
}

/** Whether a pipeline may use a connection (all pipelines, or this one). */
export function isAuthorized(service: DevOpsService, projectId: string, type: string, id: string, pipelineId: number): boolean {
  const record = service.world.permissions.get(service.world.permissionsKey(projectId, type, id));
  return !!record && (!!record.allPipelines || record.pipelines.has(pipelineId));
}
