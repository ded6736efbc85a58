// The serviceendpoint REST surface (7.1 spec, plus the project-scoped 4.x forms its HTTP examples use):
// create, get, get by names / list with filters, update (one or many), share, delete, types and
// execution history. `endpointproxy` lives in endpoint-proxy.ts.
import { adoError, badRequest } from './ado-errors';
import type { Caller } from './callers';
import type { AuthenticatedCall, DevOpsService } from './devops-service';
import { createEndpoint, removeFromProjects, shareEndpoint, updateEndpoint, type EndpointInput } from './endpoint-store';
import { ENDPOINT_TYPES, findScheme } from './endpoint-types';
import { LOCATIONS } from './locations';
import { canSeeEndpoint, endpointRole, requireCreator, requireEndpointAdministrator, requireProjectAccess } from './rights';
import { renderEndpoint, renderEndpointStub } from './views';
import { roleRank, sameText, type EndpointRole, type Project, type ServiceEndpoint } from './world';
import { jsonBody, queryParam, type EmuRequest, type EmuResponse } from '../kernel/http';

function body<T>(req: EmuRequest): T {
  return jsonBody<T>(req, (message) => {
    throw badRequest(message, 'ArgumentException');
  });
}

function csv(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

function flag(req: EmuRequest, name: string): boolean {
  return (queryParam(req, name) ?? '').toLowerCase() === 'true';
}

const ACTION_FILTER_ROLES: Record<string, EndpointRole | undefined> = { none: undefined, view: 'Reader', use: 'User', manage: 'Administrator' };

function passesActionFilter(service: DevOpsService, caller: Caller, endpoint: ServiceEndpoint, actionFilter: string | undefined): boolean {
  const needed = actionFilter ? ACTION_FILTER_ROLES[actionFilter.toLowerCase()] : undefined;
  return roleRank(endpointRole(service.world, caller.identity, endpoint)) >= roleRank(needed ?? 'Reader');
}

function endpointNotFound(id: string): Error {
  return adoError(404, 'ServiceEndpointNotFoundException', `Service connection with id ${id} does not exist or you do not have permission to access it.`);
}

export function registerEndpointRoutes(service: DevOpsService): void {
  const world = () => service.world;
  const collection = (value: unknown[]): EmuResponse => ({ status: 200, body: { count: value.length, value } });

  /** A read as the caller may see it: the whole connection, or only a stub for a mere Reader (`devops.readerSeesStub`). */
  const shown = (call: AuthenticatedCall, endpoint: ServiceEndpoint, projectId: string): Record<string, unknown> =>
    service.settings.readerSeesStub && endpointRole(world(), call.caller.identity, endpoint) === 'Reader'
      ? renderEndpointStub(world(), endpoint, projectId)
      : renderEndpoint(world(), endpoint, call.base, projectId);

  const findVisible = (caller: Caller, id: string): ServiceEndpoint => {
    const endpoint = world().endpoints.get(id.toLowerCase());
    if (!endpoint || !canSeeEndpoint(world(), caller.identity, endpoint)) throw endpointNotFound(id);
    return endpoint;
  };

  const create = (req: EmuRequest, call: AuthenticatedCall, urlProject?: Project): EmuResponse => {
    const input = body<EndpointInput>(req);
    // Rights first: which projects the body names decides where Creator is needed.
    const projects: Project[] = [];
    if (input && Array.isArray(input.serviceEndpointProjectReferences)) {
      for (const item of input.serviceEndpointProjectReferences as Array<{ projectReference?: { id?: string; name?: string } }>) {
        const key = item?.projectReference?.id || item?.projectReference?.name;
        if (typeof key === 'string' && key) projects.push(requireProjectAccess(world(), call.caller, key));
      }
    } else if (urlProject) projects.push(urlProject);
    for (const project of projects) requireCreator(world(), call.caller, project);
    const endpoint = createEndpoint(service, input, call.caller.identity, urlProject ? { urlProject } : {});
    return { status: 200, body: renderEndpoint(world(), endpoint, call.base, urlProject?.id) };
  };

  service.route('POST', '/:organization/_apis/serviceendpoint/endpoints', { name: 'devops.endpoints.create', location: LOCATIONS.endpoints }, (req, call) => create(req, call));

  service.route('POST', '/:organization/:project/_apis/serviceendpoint/endpoints', { name: 'devops.endpoints.create-in-project', location: LOCATIONS.projectEndpoints }, (req, call) => {
    const project = requireProjectAccess(world(), call.caller, req.params.project);
    const endpointIds = csv(queryParam(req, 'endpointIds'));
    if (endpointIds.length === 0) return create(req, call, project);
    // "Get service endpoints with refreshed authentication": WIF and key-based schemes hold nothing to
    // refresh, so this answers the connections as they are.
    const value = endpointIds
      .map((id) => world().endpoints.get(id.toLowerCase()))
      .filter((endpoint): endpoint is ServiceEndpoint => !!endpoint && !!world().projectReference(endpoint, project.id) && canSeeEndpoint(world(), call.caller.identity, endpoint));
    return collection(value.map((endpoint) => renderEndpoint(world(), endpoint, call.base, project.id)));
  });

  service.route('GET', '/:organization/:project/_apis/serviceendpoint/endpoints/:endpointId', { name: 'devops.endpoints.get', location: LOCATIONS.projectEndpoints }, (req, call) => {
    const project = requireProjectAccess(world(), call.caller, req.params.project);
    const endpoint = world().endpoints.get(req.params.endpointId.toLowerCase());
    // The service answers 200 with an empty body for an id it does not know (or one the caller may not see).
    if (!endpoint || !world().projectReference(endpoint, project.id) || !passesActionFilter(service, call.caller, endpoint, queryParam(req, 'actionFilter'))) {
      return { status: 200, headers: { 'content-type': 'application/json; charset=utf-8' }, body: 'null' };
    }
    return { status: 200, body: shown(call, endpoint, project.id) };
  });

  service.route('GET', '/:organization/:project/_apis/serviceendpoint/endpoints', { name: 'devops.endpoints.list', location: LOCATIONS.projectEndpoints }, (req, call) => {
    const project = requireProjectAccess(world(), call.caller, req.params.project);
    const names = csv(queryParam(req, 'endpointNames'));
    const ids = csv(queryParam(req, 'endpointIds')).map((id) => id.toLowerCase());
    const type = queryParam(req, 'type');
    const schemes = csv(queryParam(req, 'authSchemes'));
    const owner = queryParam(req, 'owner');
    const includeFailed = flag(req, 'includeFailed');
    const actionFilter = queryParam(req, 'actionFilter');
    const matches = world()
      .endpointsInProject(project.id)
      .filter((endpoint) => {
        const reference = world().projectReference(endpoint, project.id)!;
        if (names.length > 0 && !names.some((name) => sameText(name, reference.name))) return false;
        if (ids.length > 0 && !ids.includes(endpoint.id)) return false;
        if (type && !sameText(type, endpoint.type)) return false;
        if (schemes.length > 0 && !schemes.some((scheme) => sameText(scheme, endpoint.authorization.scheme))) return false;
        if (owner && !sameText(owner, endpoint.owner)) return false;
        if (!includeFailed && endpoint.operationStatus.state === 'Failed') return false;
        return passesActionFilter(service, call.caller, endpoint, actionFilter);
      });
    return collection(matches.map((endpoint) => shown(call, endpoint, project.id)));
  });

  const update = (req: EmuRequest, call: AuthenticatedCall, projectId: string | undefined): EmuResponse => {
    const endpoint = findVisible(call.caller, req.params.endpointId);
    requireEndpointAdministrator(world(), call.caller, endpoint, 'update', projectId);
    updateEndpoint(service, endpoint, body<EndpointInput>(req), projectId, queryParam(req, 'operation'));
    return { status: 200, body: renderEndpoint(world(), endpoint, call.base, projectId) };
  };
  service.route('PUT', '/:organization/_apis/serviceendpoint/endpoints/:endpointId', { name: 'devops.endpoints.update', location: LOCATIONS.endpoints }, (req, call) => update(req, call, undefined));
  service.route('PUT', '/:organization/:project/_apis/serviceendpoint/endpoints/:endpointId', { name: 'devops.endpoints.update-in-project', location: LOCATIONS.projectEndpoints }, (req, call) =>
    update(req, call, requireProjectAccess(world(), call.caller, req.params.project).id),
  );

  const updateMany = (req: EmuRequest, call: AuthenticatedCall, projectId: string | undefined): EmuResponse => {
    const inputs = body<EndpointInput[]>(req);
    if (!Array.isArray(inputs)) throw badRequest('The request body must be an array of service endpoints.', 'ArgumentException');
    // All or nothing: check every connection and right before changing any.
    const targets = inputs.map((input) => {
      const endpoint = findVisible(call.caller, typeof input?.id === 'string' ? input.id : '');
      requireEndpointAdministrator(world(), call.caller, endpoint, 'update', projectId);
      return { endpoint, input };
    });
    for (const { endpoint, input } of targets) updateEndpoint(service, endpoint, input, projectId, undefined);
    return collection(targets.map(({ endpoint }) => renderEndpoint(world(), endpoint, call.base, projectId)));
  };
  service.route('PUT', '/:organization/_apis/serviceendpoint/endpoints', { name: 'devops.endpoints.update-many', location: LOCATIONS.endpoints }, (req, call) => updateMany(req, call, undefined));
  service.route('PUT', '/:organization/:project/_apis/serviceendpoint/endpoints', { name: 'devops.endpoints.update-many-in-project', location: LOCATIONS.projectEndpoints }, (req, call) =>
    updateMany(req, call, requireProjectAccess(world(), call.caller, req.params.project).id),
  );

  service.route('PATCH', '/:organization/_apis/serviceendpoint/endpoints/:endpointId', { name: 'devops.endpoints.share', location: LOCATIONS.endpoints }, (req, call) => {
    const endpoint = findVisible(call.caller, req.params.endpointId);
    requireEndpointAdministrator(world(), call.caller, endpoint, 'share');
    const references = body<unknown>(req);
    if (Array.isArray(references)) {
      for (const item of references as Array<{ projectReference?: { id?: string; name?: string } }>) {
        const key = item?.projectReference?.id || item?.projectReference?.name;
        if (typeof key === 'string' && key) requireProjectAccess(world(), call.caller, key);
      }
    }
    shareEndpoint(service, endpoint, references);
    return { status: 204 };
  });

  const remove = (req: EmuRequest, call: AuthenticatedCall, urlProject: Project | undefined): EmuResponse => {
    const endpoint = findVisible(call.caller, req.params.endpointId);
    const projectIdsParam = queryParam(req, 'projectIds');
    if (!urlProject && projectIdsParam === undefined) throw badRequest('Value cannot be null.\r\nParameter name: projectIds', 'ArgumentNullException');
    const projectIds = urlProject && projectIdsParam === undefined ? [urlProject.id] : csv(projectIdsParam).map((key) => world().project(key).id);
    requireEndpointAdministrator(world(), call.caller, endpoint, 'delete', urlProject?.id);
    // `deep` would also delete an app registration Azure DevOps created (Automatic); Manual connections own none.
    removeFromProjects(service, endpoint, projectIds);
    return { status: 204 };
  };
  service.route('DELETE', '/:organization/_apis/serviceendpoint/endpoints/:endpointId', { name: 'devops.endpoints.delete', location: LOCATIONS.endpoints }, (req, call) => remove(req, call, undefined));
  service.route('DELETE', '/:organization/:project/_apis/serviceendpoint/endpoints/:endpointId', { name: 'devops.endpoints.delete-in-project', location: LOCATIONS.projectEndpoints }, (req, call) =>
    remove(req, call, requireProjectAccess(world(), call.caller, req.params.project)),
  );

  service.route('GET', '/:organization/_apis/serviceendpoint/types', { name: 'devops.endpoints.types', location: LOCATIONS.types }, (req) => {
    const type = queryParam(req, 'type');
    const scheme = queryParam(req, 'scheme');
    const matches = ENDPOINT_TYPES.filter((candidate) => (!type || sameText(type, candidate.name)) && (!scheme || findScheme(candidate, scheme)));
    return collection(
      matches.map((candidate) => (scheme ? { ...candidate, authenticationSchemes: candidate.authenticationSchemes.filter((item) => sameText(item.scheme, scheme)) } : candidate)),
    );
  });

  service.route(
    'GET',
    '/:organization/:project/_apis/serviceendpoint/:endpointId/executionhistory',
    { name: 'devops.endpoints.executionhistory', location: LOCATIONS.executionHistory },
    (req, call) => {
      const project = requireProjectAccess(world(), call.caller, req.params.project);
      const endpoint = findVisible(call.caller, req.params.endpointId);
      const top = Math.max(1, Number(queryParam(req, 'top') ?? 50) || 50);
      const continuation = Number(queryParam(req, 'continuationToken') ?? 0) || 0;
      // A job reports its use of a connection when it finishes (with its result), so running jobs are not listed yet.
      const records = [...world().jobs.values()]
        .filter((job) => job.projectId === project.id && job.connectionIds.includes(endpoint.id) && job.finishedAt !== undefined)
        .map((job) => ({ job, run: world().runs.find((run) => run.id === job.runId) }))
        .filter(({ run }) => run !== undefined && (continuation === 0 || run.id < continuation))
        .sort((a, b) => b.run!.id - a.run!.id);
      const page = records.slice(0, top);
      const headers: Record<string, string> = {};
      if (records.length > top) headers['x-ms-continuationtoken'] = String(page[page.length - 1].run!.id);
      const value = page.map(({ job, run }) => {
        const pipeline = world().findPipeline(job.projectId, job.pipelineId);
        const projectBase = `${call.base}${job.projectId}`;
        const data: Record<string, unknown> = {
          id: run!.id,
          planType: 'Build',
          definition: {
            _links: { web: { href: `${call.base}_permalink/_build/index?collectionId=${world().organization.id}&projectId=${job.projectId}&definitionId=${job.pipelineId}` }, self: { href: `${projectBase}/_apis/build/Definitions/${job.pipelineId}` } },
            id: job.pipelineId,
            name: pipeline?.name ?? '',
          },
          owner: {
            _links: { web: { href: `${call.base}_permalink/_build/index?collectionId=${world().organization.id}&projectId=${job.projectId}&buildId=${run!.id}` }, self: { href: `${projectBase}/_apis/build/Builds/${run!.id}` } },
            id: run!.id,
            name: run!.name,
          },
          startTime: job.startedAt,
        };
        if (run!.finishedDate) data.finishTime = run!.finishedDate;
        if (run!.result) data.result = run!.result;
        return { endpointId: endpoint.id, data };
      });
      return { status: 200, headers, body: { count: value.length, value } };
    },
  );
}
