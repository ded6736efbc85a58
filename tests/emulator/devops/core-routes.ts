// What a client needs before it can call anything: location data per area, the resource area list,
// connectionData (who am I), and the core projects API (list, and get by name or id).
import { adoError } from './ado-errors';
import type { DevOpsService } from './devops-service';
import { LOCATIONS, locationsForArea, RESOURCE_AREAS } from './locations';
import { canSeeProject, requireProjectAccess } from './rights';
import { renderProjectReference } from './views';
import { queryParam } from '../kernel/http';

export function registerCoreRoutes(service: DevOpsService): void {
  const list = (value: unknown[]) => ({ status: 200, body: { count: value.length, value } });

  service.route('OPTIONS', '/:organization/_apis', { name: 'devops.locations.all', anonymous: true }, () => list(locationsForArea(undefined)));
  service.route('OPTIONS', '/:organization/_apis/:area', { name: 'devops.locations.area', anonymous: true }, (req) => list(locationsForArea(req.params.area)));

  const resourceArea = (base: string, area: { id: string; name: string }) => ({ id: area.id, name: area.name, locationUrl: base });
  service.route('GET', '/:organization/_apis/ResourceAreas', { name: 'devops.resourceareas.list', location: LOCATIONS.resourceAreas, anonymous: true }, (_req, call) =>
    list(RESOURCE_AREAS.map((area) => resourceArea(call.base, area))),
  );
  service.route('GET', '/:organization/_apis/ResourceAreas/:areaId', { name: 'devops.resourceareas.get', location: LOCATIONS.resourceAreas, anonymous: true }, (req, call) => {
    const area = RESOURCE_AREAS.find((candidate) => candidate.id === req.params.areaId.toLowerCase() || candidate.name === req.params.areaId.toLowerCase());
    if (!area) throw adoError(404, 'ResourceAreaNotFoundException', `Resource area ${req.params.areaId} was not found.`);
    return { status: 200, body: resourceArea(call.base, area) };
  });

  service.route('GET', '/:organization/_apis/connectionData', { name: 'devops.connectiondata', location: LOCATIONS.connectionData, anonymous: true }, (_req, call) => {
    const user = call.caller
      ? {
          id: call.caller.identity.id,
          descriptor: call.caller.identity.descriptor,
          subjectDescriptor: call.caller.identity.descriptor,
          providerDisplayName: call.caller.identity.displayName,
          isActive: true,
          properties: { Account: { $type: 'System.String', $value: call.caller.identity.uniqueName } },
          resourceVersion: 2,
          metaTypeId: 0,
        }
      : { id: 'aa442b8d-c8d0-4d1a-ae0c-42e9cce9e5c1', descriptor: 'anonymous', providerDisplayName: 'Anonymous', isActive: true, properties: {}, resourceVersion: 2, metaTypeId: 0 };
    return {
      status: 200,
      body: {
        authenticatedUser: user,
        authorizedUser: user,
        instanceId: service.world.organization.id,
        deploymentId: service.world.organization.id,
        deploymentType: 'hosted',
        locationServiceData: { serviceOwner: '00025394-6065-48ca-87d9-7f5672854ef7', defaultAccessMappingMoniker: 'PublicAccessMapping', lastChangeId: 1, lastChangeId64: 1 },
      },
    };
  });

  service.route('GET', '/:organization/_apis/projects', { name: 'devops.projects.list', location: LOCATIONS.projects }, (req, call) => {
    const visible = service.world.projects.filter((project) => canSeeProject(call.caller.identity, project));
    const top = Number(queryParam(req, '$top') ?? visible.length);
    const skip = Number(queryParam(req, '$skip') ?? 0);
    return list(visible.slice(skip, skip + top).map((project) => renderProjectReference(project, call.base)));
  });

  service.route('GET', '/:organization/_apis/projects/:project', { name: 'devops.projects.get', location: LOCATIONS.projects }, (req, call) => {
    const project = requireProjectAccess(service.world, call.caller, req.params.project);
    const body: Record<string, unknown> = {
      ...renderProjectReference(project, call.base),
      _links: {
        self: { href: `${call.base}_apis/projects/${project.id}` },
        collection: { href: `${call.base}_apis/projectCollections/${service.world.organization.id}` },
        web: { href: `${call.base}${encodeURIComponent(project.name)}` },
      },
      defaultTeam: { id: project.id, name: `${project.name} Team`, url: `${call.base}_apis/projects/${project.id}/teams/${project.id}` },
    };
    if (queryParam(req, 'includeCapabilities') === 'true') {
      body.capabilities = { versioncontrol: { sourceControlType: 'Git', gitEnabled: 'True', tfvcEnabled: 'False' }, processTemplate: { templateName: 'Agile' } };
    }
    return { status: 200, body };
  });
}
