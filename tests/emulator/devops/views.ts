// How stored records look on the wire. Every response that carries a connection goes through
// `renderEndpoint`, which is the one place secrets are replaced by null — so no route can echo one.
import { confidentialParameters } from './endpoint-types';
import type { DevOpsWorld, Identity, Pipeline, PipelineRun, Project, ServiceEndpoint } from './world';

/** `{origin}/{organization}/`: the collection URI clients are given and build every URL from. */
export function collectionUri(origin: string, world: DevOpsWorld): string {
  return `${origin}/${world.organization.name}/`;
}

export function identityRef(identity: Identity, base: string): Record<string, unknown> {
  const avatar = `${base}_apis/GraphProfile/MemberAvatars/${identity.descriptor}`;
  return {
    displayName: identity.displayName,
    url: `${base}_apis/Identities/${identity.id}`,
    _links: { avatar: { href: avatar } },
    id: identity.id,
    uniqueName: identity.uniqueName,
    imageUrl: avatar,
    descriptor: identity.descriptor,
  };
}

/** The `authorization` object as responses carry it: confidential values become null. */
export function publicAuthorization(endpoint: ServiceEndpoint): { parameters: Record<string, string | null>; scheme: string } {
  const secrets = confidentialParameters(endpoint.type, endpoint.authorization.scheme);
  const parameters: Record<string, string | null> = {};
  for (const [key, value] of Object.entries(endpoint.authorization.parameters)) parameters[key] = secrets.has(key.toLowerCase()) ? null : value;
  return { parameters, scheme: endpoint.authorization.scheme };
}

/**
 * A connection as `GET …/serviceendpoint/endpoints/{id}` returns it. `projectId` picks whose name and
 * description are shown (a shared connection may have another name in each project); without it the
 * owner project's.
 */
export function renderEndpoint(world: DevOpsWorld, endpoint: ServiceEndpoint, base: string, projectId?: string): Record<string, unknown> {
  const reference = (projectId ? world.projectReference(endpoint, projectId) : undefined) ?? endpoint.projectRefs[0];
  const creator = world.findIdentity(endpoint.createdById);
  return {
    data: { ...endpoint.data },
    id: endpoint.id,
    name: reference?.name ?? '',
    type: endpoint.type,
    url: endpoint.url,
    createdBy: creator ? identityRef(creator, base) : null,
    description: reference?.description ?? '',
    authorization: publicAuthorization(endpoint),
    isShared: endpoint.projectRefs.length > 1,
    isReady: endpoint.isReady,
    isOutdated: false,
    isDisabled: endpoint.isDisabled,
    operationStatus: { ...endpoint.operationStatus },
    owner: endpoint.owner,
    administratorsGroup: null,
    readersGroup: null,
    serviceEndpointProjectReferences: endpoint.projectRefs.map((ref) => ({
      projectReference: { id: ref.projectId, name: world.projects.find((project) => project.id === ref.projectId)?.name ?? '' },
      name: ref.name,
      description: ref.description,
    })),
  };
}

export function renderProjectReference(project: Project, base: string): Record<string, unknown> {
  return {
    id: project.id,
    name: project.name,
    description: project.description,
    url: `${base}_apis/projects/${project.id}`,
    state: 'wellFormed',
    revision: 1,
    visibility: 'private',
    lastUpdateTime: project.lastUpdateTime,
  };
}

export function renderPipeline(pipeline: Pipeline, base: string): Record<string, unknown> {
  const url = `${base}${pipeline.projectId}/_apis/pipelines/${pipeline.id}?revision=${pipeline.revision}`;
  return {
    _links: {
      self: { href: url },
      web: { href: `${base}${pipeline.projectId}/_build/definition?definitionId=${pipeline.id}` },
    },
    configuration: {
      path: pipeline.yamlPath,
      repository: { id: pipeline.repository.id, type: 'azureReposGit' },
      type: 'yaml',
    },
    url,
    id: pipeline.id,
    revision: pipeline.revision,
    name: pipeline.name,
    folder: pipeline.folder,
  };
}

export function renderRun(world: DevOpsWorld, run: PipelineRun, base: string): Record<string, unknown> {
  const pipeline = world.findPipeline(run.projectId, run.pipelineId);
  const self = `${base}${run.projectId}/_apis/pipelines/${run.pipelineId}/runs/${run.id}`;
  const pipelineUrl = `${base}${run.projectId}/_apis/pipelines/${run.pipelineId}?revision=${pipeline?.revision ?? 1}`;
  const body: Record<string, unknown> = {
    _links: {
      self: { href: self },
      web: { href: `${base}${run.projectId}/_build/results?buildId=${run.id}` },
      'pipeline.web': { href: `${base}${run.projectId}/_build/definition?definitionId=${run.pipelineId}` },
      pipeline: { href: pipelineUrl },
    },
    templateParameters: { ...run.templateParameters },
    pipeline: { url: pipelineUrl, id: run.pipelineId, revision: pipeline?.revision ?? 1, name: pipeline?.name ?? '', folder: pipeline?.folder ?? '\\' },
    state: run.state,
    createdDate: run.createdDate,
    url: self,
    resources: {
      repositories: {
        self: {
          repository: { id: pipeline?.repository.id ?? '', type: 'azureReposGit' },
          refName: run.refName,
        },
      },
    },
    id: run.id,
    name: run.name,
  };
  if (run.result) body.result = run.result;
  if (run.finishedDate) body.finishedDate = run.finishedDate;
  return body;
}

/**
 * What a caller with only the Reader role gets instead of the connection: its id and name, no type, url,
 * data or authorization — microsoft/terraform-provider-azuredevops#1445 and PR #1559 ("a user with just the
 * Reader role will have serviceEndpoint.Id populated, but serviceEndpoint.Authorization will be nil" and
 * Type nil). Which other fields the stub keeps is [U]; the emulator keeps the name and project references.
 */
export function renderEndpointStub(world: DevOpsWorld, endpoint: ServiceEndpoint, projectId?: string): Record<string, unknown> {
  const full = renderEndpoint(world, endpoint, '', projectId);
  return { id: full.id, name: full.name, description: full.description, isShared: full.isShared, isReady: full.isReady, serviceEndpointProjectReferences: full.serviceEndpointProjectReferences };
}
