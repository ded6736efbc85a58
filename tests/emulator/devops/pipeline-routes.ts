// Pipelines 7.1: list and get pipelines, queue a run (`templateParameters`,
// `resources.repositories.self.refName`), get and list runs. Runs stay `inProgress` until the control API
// completes them — there is no agent to finish them.
import { adoError, badRequest } from './ado-errors';
import type { DevOpsService } from './devops-service';
import type { AgentDirectories } from './jobs';
import { LOCATIONS } from './locations';
import { queueRun } from './pipeline-runs';
import { requireProjectAccess } from './rights';
import { renderPipeline, renderRun } from './views';
import type { Pipeline, Project } from './world';
import { jsonBody, queryParam, type EmuRequest } from '../kernel/http';

interface RunPipelineParameters {
  templateParameters?: Record<string, unknown>;
  resources?: { repositories?: { self?: { refName?: unknown } } };
  previewRun?: unknown;
  yamlOverride?: unknown;
}

export function registerPipelineRoutes(service: DevOpsService, directories: AgentDirectories): void {
  const world = () => service.world;

  const pipelineIn = (project: Project, rawId: string): Pipeline => {
    const pipeline = world().findPipeline(project.id, Number(rawId));
    if (!pipeline) throw adoError(404, 'DefinitionNotFoundException', `Pipeline with id ${rawId} not found in project ${project.name}.`);
    return pipeline;
  };

  service.route('GET', '/:organization/:project/_apis/pipelines', { name: 'devops.pipelines.list', location: LOCATIONS.pipelines }, (req, call) => {
    const project = requireProjectAccess(world(), call.caller, req.params.project);
    const orderBy = (queryParam(req, 'orderBy') ?? 'name asc').toLowerCase();
    const pipelines = world()
      .pipelines.filter((pipeline) => pipeline.projectId === project.id)
      .sort((a, b) => (orderBy.startsWith('id') ? a.id - b.id : a.name.localeCompare(b.name)) * (orderBy.endsWith('desc') ? -1 : 1));
    const top = Number(queryParam(req, '$top') ?? pipelines.length) || pipelines.length;
    const value = pipelines.slice(0, top).map((pipeline) => renderPipeline(pipeline, call.base));
    return { status: 200, body: { count: value.length, value } };
  });

  service.route('GET', '/:organization/:project/_apis/pipelines/:pipelineId', { name: 'devops.pipelines.get', location: LOCATIONS.pipelines }, (req, call) => {
    const project = requireProjectAccess(world(), call.caller, req.params.project);
    return { status: 200, body: renderPipeline(pipelineIn(project, req.params.pipelineId), call.base) };
  });

  service.route('GET', '/:organization/:project/_apis/pipelines/:pipelineId/runs', { name: 'devops.runs.list', location: LOCATIONS.runs }, (req, call) => {
    const project = requireProjectAccess(world(), call.caller, req.params.project);
    const pipeline = pipelineIn(project, req.params.pipelineId);
    const value = world()
      .runs.filter((run) => run.projectId === project.id && run.pipelineId === pipeline.id)
      .sort((a, b) => b.id - a.id)
      .map((run) => renderRun(world(), run, call.base));
    return { status: 200, body: { count: value.length, value } };
  });

  service.route('GET', '/:organization/:project/_apis/pipelines/:pipelineId/runs/:runId', { name: 'devops.runs.get', location: LOCATIONS.runs }, (req, call) => {
    const project = requireProjectAccess(world(), call.caller, req.params.project);
    const pipeline = pipelineIn(project, req.params.pipelineId);
    const run = world().runs.find((candidate) => candidate.projectId === project.id && candidate.pipelineId === pipeline.id && candidate.id === Number(req.params.runId));
    if (!run) throw adoError(404, 'BuildNotFoundException', `Run ${req.params.runId} of pipeline ${pipeline.id} was not found.`);
    return { status: 200, body: renderRun(world(), run, call.base) };
  });

  service.route('POST', '/:organization/:project/_apis/pipelines/:pipelineId/runs', { name: 'devops.runs.queue', location: LOCATIONS.runs }, async (req: EmuRequest, call) => {
    const project = requireProjectAccess(world(), call.caller, req.params.project);
    const pipeline = pipelineIn(project, req.params.pipelineId);
    const input =
      jsonBody<RunPipelineParameters>(req, (message) => {
        throw badRequest(message, 'ArgumentException');
      }) ?? {};
    if (input.previewRun === true || input.yamlOverride !== undefined) {
      throw badRequest('The emulator keeps no YAML, so it cannot preview a run (previewRun, yamlOverride).', 'ArgumentException');
    }
    const refName = input.resources?.repositories?.self?.refName;
    const run = await queueRun(service, directories, {
      pipeline,
      requestedBy: call.caller.identity,
      templateParameters: input.templateParameters ?? {},
      refName: typeof refName === 'string' && refName ? refName : undefined,
    });
    return { status: 200, body: renderRun(world(), run, call.base) };
  });
}
