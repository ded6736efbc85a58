// The Azure DevOps module of the emulator (service `devops`, host dev.azure.com through the proxy):
// organization, projects, service connections with server-generated workload identity federation names,
// connection verification through Entra ID and ARM, job ID tokens, pipeline permissions, pipelines and
// runs, and simulated jobs whose agent environment lets a real task run against the emulator.
import { devopsErrorShape } from './ado-errors';
import { registerDevOpsControlRoutes } from './control-routes';
import { registerCoreRoutes } from './core-routes';
import { defaultDevOpsSettings, DevOpsService, type DevOpsSettings } from './devops-service';
import { registerEndpointProxyRoute } from './endpoint-proxy';
import { registerEndpointRoutes } from './endpoint-routes';
import { parameter } from './endpoint-store';
import { agentEnvironment, AgentDirectories } from './jobs';
import { registerOidcTokenRoute } from './oidc-token-route';
import { registerCheckConfigurationRoutes } from './check-configurations';
import { registerPipelinePermissionRoutes } from './pipeline-permissions';
import { registerPipelineRoutes } from './pipeline-routes';
import { loadDevOpsSeed, type DevOpsSeed } from './seed';
import { identityRef, renderEndpoint, renderRun } from './views';
import { DevOpsWorld } from './world';
import type { EmulatorContext, EmulatorModule } from '../kernel/context';

/** One service per running emulator (tests start several in one process: nothing may be module-global). */
const services = new WeakMap<EmulatorContext, { service: DevOpsService; directories: AgentDirectories }>();

function runtime(ctx: EmulatorContext): { service: DevOpsService; directories: AgentDirectories } {
  const found = services.get(ctx);
  if (!found) throw new Error('the devops module was not registered on this emulator');
  return found;
}

export const devopsModule: EmulatorModule = {
  name: 'devops',

  register(ctx) {
    const service = new DevOpsService(ctx);
    const directories = new AgentDirectories();
    services.set(ctx, { service, directories });
    ctx.errorShapes.devops = devopsErrorShape;
    registerCoreRoutes(service);
    registerEndpointRoutes(service);
    registerEndpointProxyRoute(service);
    registerOidcTokenRoute(service);
    // Before the pipelines routes: `_apis/pipelines/pipelinePermissions/…` must not read as a pipeline id.
    registerPipelinePermissionRoutes(service);
    registerCheckConfigurationRoutes(service);
    registerPipelineRoutes(service, directories);
    registerDevOpsControlRoutes(service, directories);
  },

  clear(ctx) {
    const { service, directories } = runtime(ctx);
    service.world = new DevOpsWorld();
    service.bootstrap = {};
    directories.clear();
  },

  async seed(ctx, seed) {
    const { service, directories } = runtime(ctx);
    // `POST reset` rebuilds ctx.settings from the kernel defaults: put this module's back, keeping values given at start.
    ctx.settings.devops = { ...defaultDevOpsSettings(), ...((ctx.settings.devops as Partial<DevOpsSettings> | undefined) ?? {}) };
    if (!seed.devops) return;
    const seeded = await loadDevOpsSeed(service, directories, seed.devops as DevOpsSeed);
    service.bootstrap = { connectionId: seeded.bootstrapConnectionId, jobId: seeded.bootstrapJobId };
  },

  state(ctx) {
    const { service } = runtime(ctx);
    const world = service.world;
    const base = service.collectionUri;
    return {
      serviceEndpoints: [...world.endpoints.values()].map((endpoint) => renderEndpoint(world, endpoint, base)),
      pipelinePermissions: [...world.permissions.values()].map((record) => ({
        project: world.projects.find((project) => project.id === record.projectId)?.name,
        resource: { type: record.type, id: record.id },
        allPipelines: record.allPipelines ? { authorized: true, authorizedBy: identityRef(world.identity(record.allPipelines.authorizedById), base), authorizedOn: record.allPipelines.authorizedOn } : undefined,
        pipelines: [...record.pipelines.entries()].map(([id, grant]) => ({ id, authorized: true, authorizedBy: identityRef(world.identity(grant.authorizedById), base), authorizedOn: grant.authorizedOn })),
      })),
      pipelineRuns: world.runs.map((run) => ({ ...renderRun(world, run, base), jobIds: [...run.jobIds], pendingApprovals: [...(run.pendingApprovals ?? [])], checkFailure: run.checkFailure ?? null })),
      checkConfigurations: world.checks.map((record) => ({ ...record })),
      devopsJobs: [...world.jobs.values()].map(({ accessToken: _token, ...job }) => job),
    };
  },

  info(ctx) {
    const { service } = runtime(ctx);
    const world = service.world;
    if (!world.organization.name) return {};
    const fields: Record<string, unknown> = {
      collectionUri: service.collectionUri,
      organization: { name: world.organization.name, id: world.organization.id },
    };
    const job = service.bootstrap.jobId ? world.jobs.get(service.bootstrap.jobId) : undefined;
    const project = world.projects.find((candidate) => candidate.id === job?.projectId) ?? world.projects[0];
    if (project) fields.project = { name: project.name, id: project.id };
    const connection = service.bootstrap.connectionId ? world.endpoints.get(service.bootstrap.connectionId) : undefined;
    if (connection) {
      fields.bootstrapConnection = {
        id: connection.id,
        name: (project && world.projectReference(connection, project.id)?.name) ?? connection.projectRefs[0].name,
        clientId: parameter(connection.authorization.parameters, 'serviceprincipalid'),
      };
    }
    if (job) {
      fields.systemAccessToken = job.accessToken;
      fields.agentEnv = agentEnvironment(service, job);
    }
    return fields;
  },
};
