// Resource locations: what `OPTIONS {org}/_apis/{area}` returns and what every route negotiates its
// api-version against. azure-devops-node-api never hard-codes a URL: it asks for an area's locations, picks
// one by its GUID, fills in the route template and negotiates the version with these numbers. So the GUIDs
// are the real ones the clients use (read from node-api 17's sources), and the templates must produce the
// paths the routes below answer.
import type { ApiLocation } from './api-versions';

function location(
  id: string,
  area: string,
  resourceName: string,
  routeTemplate: string,
  resourceVersion: number,
  minVersion: string,
  releasedVersion: string,
  maxVersion = '7.2',
): ApiLocation {
  return { id, area, resourceName, routeTemplate, resourceVersion, minVersion, maxVersion, releasedVersion };
}

export const LOCATIONS = {
  connectionData: location('00d9565f-ed9c-4a06-9a50-00e7896ccab4', 'Location', 'ConnectionData', '_apis/{resource}', 1, '1.0', '7.1'),
  resourceAreas: location('e81700f7-3be2-46de-8624-2eb35882fcaa', 'Location', 'ResourceAreas', '_apis/{resource}/{areaId}', 1, '3.2', '7.1'),
  projects: location('603fe2ac-9723-48b9-88ad-09305aa6c6e1', 'core', 'projects', '_apis/{resource}/{*projectId}', 4, '1.0', '7.1'),
  endpoints: location('14e48fdc-2c8b-41ce-a0c3-e26f6cc55bd0', 'serviceendpoint', 'endpoints', '_apis/{area}/{resource}/{endpointId}', 4, '5.0', '7.1'),
  projectEndpoints: location('e85f1c62-adfc-4b74-b618-11a150fb195e', 'serviceendpoint', 'endpoints', '{project}/_apis/{area}/{resource}/{endpointId}', 4, '4.0', '7.1'),
  endpointProxy: location('cc63bb57-2a5f-4a7a-b79c-c142d308657e', 'serviceendpoint', 'endpointproxy', '{project}/_apis/{area}/{resource}', 1, '4.0', '7.1'),
  executionHistory: location('10a16738-9299-4cd1-9a81-fd23ad6200d0', 'serviceendpoint', 'executionhistory', '{project}/_apis/{area}/{endpointId}/{resource}', 1, '4.0', '7.1'),
  types: location('5a7938a4-655e-486c-b562-b78c54a7e87b', 'serviceendpoint', 'types', '_apis/{area}/{resource}', 1, '4.0', '7.1'),
  oidcToken: location(
    '69a319f4-28c1-4bfd-93e6-ea0ff5c6f1a2',
    'distributedtask',
    'oidctoken',
    '{scopeIdentifier}/_apis/{area}/hubs/{hubName}/plans/{planId}/jobs/{jobId}/{resource}',
    1,
    '7.1',
    '7.1',
  ),
  pipelines: location('28e1305e-2afe-47bf-abaf-cbb0e6a91988', 'pipelines', 'pipelines', '{project}/_apis/{resource}/{pipelineId}', 1, '6.0', '7.1'),
  runs: location('7859261e-d2e9-4a68-b820-a5d84cc5bb3d', 'pipelines', 'runs', '{project}/_apis/pipelines/{pipelineId}/{resource}/{runId}', 1, '6.0', '7.1'),
  // Preview only (released "0.0"): `api-version=7.1` without `-preview` is refused, as the service does.
  // The GUID is the one other SDKs use for this resource; node-api has no client for it.
  pipelinePermissions: location(
    'b5b9a4a4-e6cd-4096-853c-ab7d8b0c4eb2',
    'pipelinePermissions',
    'pipelinePermissions',
    '{project}/_apis/pipelines/{resource}/{resourceType}/{resourceId}',
    1,
    '5.1',
    '0.0',
  ),
} satisfies Record<string, ApiLocation>;

/**
 * Resource areas and their ids, as `_apis/ResourceAreas` lists them. node-api resolves each client's base
 * URL through this list (its PipelinesApi looks up the `wit` area id, a quirk of the library), and fails
 * if an id is missing. In a single-host emulator every area lives at the collection URI.
 */
export const RESOURCE_AREAS: ReadonlyArray<{ id: string; name: string }> = [
  { id: '79134c72-4a58-4b42-976c-04e7115f32bf', name: 'core' },
  { id: '1814ab31-2f4f-4a9f-8761-f4d77dc5a5d7', name: 'serviceendpoint' },
  { id: 'a85b8835-c1a1-4aac-ae97-1c3d0ba72dbd', name: 'distributedtask' },
  { id: '5264459e-e5e0-4bd8-b118-0985e68a4ec5', name: 'wit' },
  { id: '965220d5-5bb9-42cf-8d67-9b146df2a5a4', name: 'build' },
];

export function locationsForArea(area: string | undefined): ApiLocation[] {
  const all = Object.values(LOCATIONS) as ApiLocation[];
  return area ? all.filter((candidate) => candidate.area.toLowerCase() === area.toLowerCase()) : all;
}
