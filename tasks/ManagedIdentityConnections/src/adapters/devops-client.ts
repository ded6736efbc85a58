// The Azure DevOps port on azure-devops-node-api 17: ServiceEndpointApi for connections, sharing and
// TestConnection, CoreApi for projects, PipelinesApi for the verification run, and the API's own REST
// client for pipeline permissions (no typed client exists for them in any version of the library). They all
// send through the task's transport (devops-transport.ts): the Azure SDKs' connections, HTTP/2 where offered.
//
// The API classes are constructed directly rather than through WebApi: WebApi imports every client of the
// library, which would add about a megabyte to the bundled task for nothing. Nothing is lost — WebApi's
// resource-area lookup only matters for clients on another host than the collection.
import { CoreApi } from 'azure-devops-node-api/CoreApi';
import { BearerCredentialHandler } from 'azure-devops-node-api/handlers/bearertoken';
import { PersonalAccessTokenCredentialHandler } from 'azure-devops-node-api/handlers/personalaccesstoken';
import type { SchemeConversion } from '../ports/devops';
import type { IRequestHandler, IRequestOptions } from 'azure-devops-node-api/interfaces/common/VsoBaseInterfaces';
import { RunResult as SdkRunResult, RunState as SdkRunState, type Run as SdkRun } from 'azure-devops-node-api/interfaces/PipelinesInterfaces';
import type { ServiceEndpoint as SdkServiceEndpoint } from 'azure-devops-node-api/interfaces/ServiceEndpointInterfaces';
import { PipelinesApi } from 'azure-devops-node-api/PipelinesApi';
import { ServiceEndpointApi } from 'azure-devops-node-api/ServiceEndpointApi';
import { TaskError } from '../errors';
import { defaultCheckTimeoutMinutes, normalizeCheck } from '../core/checks';
import { checkLabel } from '../core/names';
import type {
  CheckSpec,
  ConnectionCheck,
  ConnectionDefinition,
  ConnectionTestOptions,
  ConnectionTestResult,
  ConnectionUse,
  DevOpsClient,
  PipelineAuthorization,
  PipelinePermissions,
  PipelineRevocation,
  PipelineRun,
  ProjectRef,
  RunRequest,
  RunResult,
  RunState,
  ServiceConnection,
} from '../ports/devops';
import type { Secret } from '../secret';
import { resolveRequestUrlsDirectly } from './devops-request-urls';
import { sendThrough, type DevOpsTransport } from './devops-transport';
import { MicroBatcher } from './micro-batch';
import { adoptConcurrentlyCreated, isNameTaken } from './connection-adoption';
import type { ServiceCalls } from './service-calls';
import { describeFailure, requireAnswer, type ServiceFailure } from './service-failure';

export interface DevOpsSettings {
  /** e.g. https://dev.azure.com/contoso/ */
  readonly collectionUri: string;
  /** The project the task runs in: connections are created and looked up there. */
  readonly project: ProjectRef;
  readonly token: Secret;
  /**
   * bearer: a job access token or an Entra token. pat: a personal access token, which Azure DevOps only
   * accepts as the password of Basic authentication.
   */
  readonly tokenKind?: 'bearer' | 'pat';
  readonly userAgent: string;
  /** How requests travel: with the agent's proxy and certificate authority, a timeout, the run's cancellation. */
  readonly transport: DevOpsTransport;
}

const PIPELINE_PERMISSIONS_API_VERSION = '7.1-preview.1';
/** How long a pipeline permission waits for others to share its request (it is off the critical path). */
const PERMISSION_BATCH_WINDOW_MS = 10;

interface PermissionUpdate {
  readonly connectionId: string;
  readonly authorization: PipelineAuthorization;
  /** Another project than the task's (one the connection is shared with). */
  readonly project?: ProjectRef;
}

/**
 * TestConnection failures worth waiting out: the federated credential or the identity's role assignment is
 * still replicating. While a new credential propagates Entra answers AADSTS70021 ("no matching federated
 * identity record"), AADSTS70025 (the identity seems to have none) or, now and then, AADSTS700213 on a pair
 * that is right (kedacore/keda#8152) — worth waiting out only for a credential this run wrote
 * (ConnectionTestOptions.credentialWrittenThisRun). AuthorizationFailed is ARM's answer until a new role
 * assignment is visible, only worth waiting for when there is a role to wait for (waitForRoles).
 */
const CREDENTIAL_PROPAGATING = /AADSTS70021\b|AADSTS70025\b|AADSTS700213\b/;
const ROLE_PROPAGATING = /AuthorizationFailed|does not have authorization/;

class PropagationPending extends Error {
  /** Read by ServiceCalls' classification like any service error code. */
  readonly code = 'PropagationPending';
  constructor(readonly result: ConnectionTestResult) {
    super(result.message);
    this.name = 'PropagationPending';
  }
}

function parameter(endpoint: SdkServiceEndpoint, name: string): string | undefined {
  const parameters = endpoint.authorization?.parameters ?? {};
  const key = Object.keys(parameters).find((candidate) => candidate.toLowerCase() === name.toLowerCase());
  const value = key === undefined ? undefined : parameters[key];
  return value === null || value === undefined || value === '' ? undefined : value;
}

function dataValue(endpoint: SdkServiceEndpoint, name: string): string | undefined {
  const data = endpoint.data ?? {};
  const key = Object.keys(data).find((candidate) => candidate.toLowerCase() === name.toLowerCase());
  const value = key === undefined ? undefined : data[key];
  return value === null || value === undefined || value === '' ? undefined : value;
}

function optional<K extends string>(key: K, value: string | undefined): Partial<Record<K, string>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, string>);
}

export function toServiceConnection(endpoint: SdkServiceEndpoint): ServiceConnection {
  const status = endpoint.operationStatus as { state?: string; statusMessage?: string } | undefined;
  return {
    id: endpoint.id ?? '',
    name: endpoint.name ?? '',
    type: endpoint.type ?? '',
    url: endpoint.url ?? '',
    description: endpoint.description ?? '',
    authorizationScheme: endpoint.authorization?.scheme ?? '',
    ...optional('tenantId', parameter(endpoint, 'tenantid')),
    ...optional('clientId', parameter(endpoint, 'serviceprincipalid')),
    ...optional('resourceGroupScope', parameter(endpoint, 'scope')),
    ...optional('issuer', parameter(endpoint, 'workloadIdentityFederationIssuer')),
    ...optional('subject', parameter(endpoint, 'workloadIdentityFederationSubject')),
    ...optional('issuerType', parameter(endpoint, 'workloadIdentityFederationIssuerType')),
    ...optional('subscriptionId', dataValue(endpoint, 'subscriptionId')),
    ...optional('subscriptionName', dataValue(endpoint, 'subscriptionName')),
    ...optional('scopeLevel', dataValue(endpoint, 'scopeLevel')),
    ...optional('creationMode', dataValue(endpoint, 'creationMode')),
    ...optional('ownerMarker', dataValue(endpoint, ownerMarkerKey)),
    ...optional('revertSchemeDeadline', dataValue(endpoint, 'revertSchemeDeadline')),
    isReady: endpoint.isReady === true,
    isDisabled: endpoint.isDisabled === true,
    ...(status?.state === undefined ? {} : { operationStatus: { state: status.state, ...optional('message', status.statusMessage) } }),
    projectReferences: (endpoint.serviceEndpointProjectReferences ?? []).map((reference) => ({
      id: reference.projectReference?.id ?? '',
      name: reference.projectReference?.name ?? '',
    })),
    // What a caller with only the Reader role gets (terraform-provider-azuredevops#1445): an id, no type or authorization.
    ...(endpoint.id && !endpoint.type && !endpoint.authorization ? { readerStub: true as const } : {}),
  };
}

/** data key of the task's ownership marker (core/ownership.ts). */
const ownerMarkerKey = 'managedBy';

/**
 * The request body for an AzureRM, workload identity federation, manual connection (learn.microsoft.com *Automate service connections*). A create
 * asks for the Entra issuer (`workloadIdentityFederationIssuerType: EntraID`, as Terraform's provider sends):
 * the Azure DevOps issuer retires on 2027-07-01, and an organization may still default to it.
 */
function endpointBody(definition: ConnectionDefinition, base?: SdkServiceEndpoint): SdkServiceEndpoint {
  const parameters: Record<string, string> = { tenantid: definition.tenantId, serviceprincipalid: definition.clientId };
  if (base === undefined) parameters.workloadIdentityFederationIssuerType = 'EntraID';
  if (definition.resourceGroupScope !== undefined) parameters.scope = definition.resourceGroupScope;
  return {
    ...(base ?? {}),
    name: definition.name,
    type: 'AzureRM',
    url: definition.url,
    description: definition.description,
    authorization: { scheme: 'WorkloadIdentityFederation', parameters },
    data: {
      ...(base?.data ?? {}),
      subscriptionId: definition.subscriptionId,
      subscriptionName: definition.subscriptionName,
      environment: definition.azureEnvironment,
      scopeLevel: 'Subscription',
      creationMode: 'Manual',
      ...(definition.ownerMarker === undefined ? {} : { [ownerMarkerKey]: definition.ownerMarker }),
    },
    isShared: base?.isShared ?? false,
    isReady: true,
    owner: base?.owner ?? 'library',
    serviceEndpointProjectReferences: base?.serviceEndpointProjectReferences ?? [
      { projectReference: { id: definition.project.id, name: definition.project.name }, name: definition.name, description: definition.description },
    ],
  };
}

interface PipelinePermissionsResource {
  allPipelines?: { authorized?: boolean } | null;
  pipelines?: { id: number; authorized?: boolean }[] | null;
}

const runStates: Readonly<Record<number, RunState>> = {
  [SdkRunState.InProgress]: 'inProgress',
  [SdkRunState.Canceling]: 'canceling',
  [SdkRunState.Completed]: 'completed',
};
const runResults: Readonly<Record<number, RunResult>> = {
  [SdkRunResult.Succeeded]: 'succeeded',
  [SdkRunResult.Failed]: 'failed',
  [SdkRunResult.Canceled]: 'canceled',
};

/** The client turns the enums into numbers; read strings too, in case a response escapes that. */
function enumValue<T extends string>(value: unknown, byNumber: Readonly<Record<number, T>>, fallback: T): T {
  if (typeof value === 'number') return byNumber[value] ?? fallback;
  if (typeof value === 'string') return Object.values(byNumber).find((candidate) => candidate.toLowerCase() === value.toLowerCase()) ?? fallback;
  return fallback;
}

export function toPipelineRun(run: SdkRun, pipelineId: number): PipelineRun {
  const links = run._links as { web?: { href?: string } } | undefined;
  const result = run.result === undefined || run.result === null ? undefined : enumValue<RunResult>(run.result, runResults, 'unknown');
  return {
    id: run.id ?? 0,
    pipelineId: run.pipeline?.id ?? pipelineId,
    name: run.name ?? String(run.id ?? ''),
    state: enumValue<RunState>(run.state, runStates, 'unknown'),
    ...(result === undefined ? {} : { result }),
    url: links?.web?.href ?? run.url ?? '',
  };
}

export class AzureDevOpsClient implements DevOpsClient {
  private readonly endpoints: ServiceEndpointApi;
  private readonly core: CoreApi;
  private readonly pipelines: PipelinesApi;
  private readonly projectUrl: string;
  /** Pipeline permissions asked for together, sent together (authorizePipelines). */
  private readonly permissionUpdates = new MicroBatcher<PermissionUpdate>((updates) => this.sendPermissionUpdates(updates), PERMISSION_BATCH_WINDOW_MS);

  constructor(
    private readonly settings: DevOpsSettings,
    private readonly calls: ServiceCalls,
  ) {
    const handler: IRequestHandler =
      settings.tokenKind === 'pat' ? new PersonalAccessTokenCredentialHandler(settings.token.reveal(), false) : new BearerCredentialHandler(settings.token.reveal(), false);
    const options: IRequestOptions = {
      // Without it Azure DevOps answers an expired or unknown token with a sign-in page instead of a 401.
      headers: { 'X-TFS-FedAuthRedirect': 'Suppress' },
      // typed-rest-client's own https agent is built once and never used (the transport sends).
      keepAlive: true,
      allowRetries: false,
    };
    this.endpoints = new ServiceEndpointApi(settings.collectionUri, [handler], options, settings.userAgent);
    this.core = new CoreApi(settings.collectionUri, [handler], options, settings.userAgent);
    this.pipelines = new PipelinesApi(settings.collectionUri, [handler], options, settings.userAgent);
    sendThrough(settings.transport, [this.endpoints, this.core, this.pipelines], settings.userAgent, [handler], options);
    resolveRequestUrlsDirectly([this.endpoints, this.core, this.pipelines]);
    this.projectUrl = `${settings.collectionUri.replace(/\/?$/, '/')}${encodeURIComponent(settings.project.id || settings.project.name)}`;
  }

  private get project(): string {
    return this.settings.project.id || this.settings.project.name;
  }

  findConnections(names: readonly string[], project?: ProjectRef): Promise<ServiceConnection[]> {
    if (names.length === 0) return Promise.resolve([]);
    return this.calls.run({
      what: `look up service connections ${names.join(', ')}${project ? ` in project ${project.name}` : ''}`,
      operation: async () => {
        const found = await this.endpoints.getServiceEndpointsByNames(project ? project.id || project.name : this.project, [...names], undefined, undefined, undefined, true, true);
        return (found ?? []).map(toServiceConnection);
      },
    });
  }

  createConnection(definition: ConnectionDefinition): Promise<ServiceConnection> {
    const findByName = async (): Promise<SdkServiceEndpoint | undefined> => {
      const existing = await this.endpoints.getServiceEndpointsByNames(this.project, [definition.name], undefined, undefined, undefined, true, true);
      return (existing ?? []).find((endpoint) => (endpoint.name ?? '').toLowerCase() === definition.name.toLowerCase());
    };
    return this.calls.runCreate({
      what: `create service connection ${definition.name}`,
      operation: async () => {
        try {
          return await this.readBack(requireAnswer(await this.endpoints.createServiceEndpoint(endpointBody(definition)), `create service connection ${definition.name}`));
        } catch (error) {
          const failure = describeFailure(error);
          if (!isNameTaken(failure)) throw error;
          // Created meanwhile by another run or a person: adopt it when it is the one the spec asks for.
          const found = await findByName();
          const adopted = adoptConcurrentlyCreated(found && toServiceConnection(found), definition, failure.message);
          return this.readBack(found!, adopted);
        }
      },
      // A POST whose answer was lost may still have created the connection: look before posting again.
      findExisting: async () => {
        const match = await findByName();
        return match ? this.readBack(match) : undefined;
      },
      translate: (failure) => this.rightsError(failure, 'MIC404', `create service connection ${definition.name}`),
    });
  }

  /**
   * The issuer and subject come from Azure DevOps, never from us: the subject embeds the id it assigned.
   * The create answer normally carries them; if it does not, read the connection again.
   */
  private async readBack(endpoint: SdkServiceEndpoint, converted?: ServiceConnection): Promise<ServiceConnection> {
    const connection = converted ?? toServiceConnection(endpoint);
    if (connection.issuer !== undefined && connection.subject !== undefined) return connection;
    const details = await this.endpoints.getServiceEndpointDetails(this.project, connection.id);
    const reread = details ? toServiceConnection(details) : connection;
    if (reread.issuer === undefined || reread.subject === undefined) {
      throw new TaskError('MIC407', `Service connection ${connection.name} (${connection.id}) has no workload identity federation issuer or subject.`);
    }
    return reread;
  }

  updateConnection(connectionId: string, definition: ConnectionDefinition): Promise<ServiceConnection> {
    return this.calls.run({
      what: `update service connection ${definition.name}`,
      operation: async () => {
        const current = await this.currentEndpoint(connectionId, `${definition.name} (${connectionId})`);
        return this.readBack(requireAnswer(await this.endpoints.updateServiceEndpoint(endpointBody(definition, current), connectionId), `update service connection ${definition.name}`));
      },
      translate: (failure) => this.rightsError(failure, 'MIC405', `update service connection ${definition.name}`),
    });
  }

  /**
   * The connection as it is, saved with the Entra issuer requested. How the portal's "Update" button asks for
   * the move is not publicly documented [U] (docs/lifecycle.md): this sends the one documented way to ask for an
   * issuer, `workloadIdentityFederationIssuerType: EntraID` (what the create sends), on a plain update; the
   * server-generated issuer and subject are left out so that the server fills them in.
   */
  switchToEntraIssuer(connectionId: string, connectionName: string): Promise<ServiceConnection> {
    return this.calls.run({
      what: `switch service connection ${connectionName} to the Entra issuer`,
      operation: async () => {
        const current = await this.currentEndpoint(connectionId, `${connectionName} (${connectionId})`);
        const { workloadIdentityFederationIssuer: _issuer, workloadIdentityFederationSubject: _subject, ...parameters } = current.authorization?.parameters ?? {};
        const body: SdkServiceEndpoint = { ...current, authorization: { ...current.authorization, parameters: { ...parameters, workloadIdentityFederationIssuerType: 'EntraID' } } };
        return this.readBack(requireAnswer(await this.endpoints.updateServiceEndpoint(body, connectionId), `switch service connection ${connectionName} to the Entra issuer`));
      },
      translate: (failure) => this.rightsError(failure, 'MIC405', `update service connection ${connectionName}`),
    });
  }

  getPipelinePermissions(connectionId: string, project?: ProjectRef): Promise<PipelinePermissions> {
    return this.calls.run({
      what: `read pipeline permissions of ${connectionId}${project ? ` in project ${project.name}` : ''}`,
      operation: async () => {
        const response = await this.endpoints.rest.get<PipelinePermissionsResource>(this.pipelinePermissionsUrl(connectionId, project));
        const resource = response.result ?? {};
        return {
          allPipelines: resource.allPipelines?.authorized === true,
          pipelineIds: (resource.pipelines ?? []).filter((pipeline) => pipeline.authorized !== false).map((pipeline) => pipeline.id),
        };
      },
    });
  }

  /**
   * Connections created at about the same time (parallel environments) are authorized in one request: Azure
   * DevOps' pipeline permissions take a list, and fifty environments would otherwise send fifty PATCHes within
   * a few milliseconds. A lone update uses the single-resource route. The list is all or nothing, so when Azure
   * DevOps refuses it (400 or 404: a pipeline or connection it does not know), each connection is asked again
   * on its own — one environment's mistake fails only that environment.
   */
  authorizePipelines(connectionId: string, authorization: PipelineAuthorization, project?: ProjectRef): Promise<void> {
    // Pipelines of another project are authorized through that project's route; rare enough not to batch.
    if (project) return this.authorizeOne({ connectionId, authorization, project });
    return this.permissionUpdates.add({ connectionId, authorization });
  }

  /** A pipeline the project does not have reads as 404, which the REST client answers as null. */
  findPipelines(pipelineIds: readonly number[], project?: ProjectRef): Promise<number[]> {
    if (pipelineIds.length === 0) return Promise.resolve([]);
    const projectKey = project ? project.id || project.name : this.project;
    return this.calls.run({
      what: `look up pipelines ${pipelineIds.join(', ')}${project ? ` in project ${project.name}` : ''}`,
      operation: async () => {
        const found = await Promise.all(pipelineIds.map(async (pipelineId) => ((await this.pipelines.getPipeline(projectKey, pipelineId))?.id === undefined ? [] : [pipelineId])));
        return found.flat();
      },
    });
  }

  private async sendPermissionUpdates(updates: readonly PermissionUpdate[]): Promise<PromiseSettledResult<void>[]> {
    if (updates.length > 1) {
      const what = `authorize pipelines for connections ${updates.map((update) => update.connectionId).join(', ')}`;
      let refusedAsAList = false;
      try {
        await this.calls.run({
          what,
          operation: async () => {
            await this.endpoints.rest.update(`${this.projectUrl}/_apis/pipelines/pipelinepermissions?api-version=${PIPELINE_PERMISSIONS_API_VERSION}`, updates.map(permissionsBody));
          },
          translate: (failure) => {
            refusedAsAList = failure.statusCode === 400 || failure.statusCode === 404;
            return this.rightsError(failure, 'MIC405', what);
          },
        });
        return updates.map(() => ({ status: 'fulfilled', value: undefined }));
      } catch (error) {
        if (!refusedAsAList) return updates.map(() => ({ status: 'rejected', reason: error }));
      }
    }
    return Promise.allSettled(updates.map((update) => this.authorizeOne(update)));
  }

  private authorizeOne({ connectionId, authorization, project }: PermissionUpdate): Promise<void> {
    return this.calls.run({
      what: `authorize pipelines for ${connectionId}${project ? ` in project ${project.name}` : ''}`,
      operation: async () => {
        await this.endpoints.rest.update(this.pipelinePermissionsUrl(connectionId, project), permissionsBody({ connectionId, authorization }));
      },
      translate: (failure) => this.rightsError(failure, 'MIC405', `authorize pipelines for connection ${connectionId}`),
    });
  }

  private pipelinePermissionsUrl(connectionId: string, project?: ProjectRef): string {
    const projectUrl = project ? `${this.settings.collectionUri.replace(/\/?$/, '/')}${encodeURIComponent(project.id || project.name)}` : this.projectUrl;
    return `${projectUrl}/_apis/pipelines/pipelinepermissions/endpoint/${encodeURIComponent(connectionId)}?api-version=${PIPELINE_PERMISSIONS_API_VERSION}`;
  }

  /** The same route as authorizing, with `authorized: false`; a connection already gone has no permissions left. */
  revokePipelines(connectionId: string, revocation: PipelineRevocation): Promise<void> {
    const what = `revoke pipeline permissions of connection ${connectionId}`;
    return this.calls.run({
      what,
      operation: async () => {
        const body = {
          resource: { type: 'endpoint', id: connectionId },
          ...(revocation.allPipelines ? { allPipelines: { authorized: false } } : {}),
          pipelines: revocation.pipelineIds.map((id) => ({ id, authorized: false })),
        };
        await goneIsDone(() => this.endpoints.rest.update(this.pipelinePermissionsUrl(connectionId), body));
      },
      translate: (failure) => this.rightsError(failure, 'MIC405', what),
    });
  }

  /**
   * DELETE …/serviceendpoint/endpoints/{id}?projectIds=… removes the connection from those projects, and
   * deletes it once no project holds it (the REST reference, DELETE__ServiceEndpoint.json in tests/reference). Never `deep`: that would
   * delete an app registration Azure DevOps created, and ours are managed identities. Gone already is done.
   */
  deleteConnection(connectionId: string, connectionName: string, projects: readonly ProjectRef[]): Promise<void> {
    const what = `delete service connection ${connectionName} from ${projects.map((project) => project.name || project.id).join(', ')}`;
    return this.calls.run({
      what,
      operation: () => goneIsDone(() => this.endpoints.deleteServiceEndpoint(connectionId, projects.map((project) => project.id))),
      translate: (failure) => this.rightsError(failure, 'MIC405', what),
    });
  }

  findProjects(names: readonly string[]): Promise<ProjectRef[]> {
    return this.calls.run({
      what: `look up projects ${names.join(', ')}`,
      operation: async () => {
        const projects = await Promise.all(names.map((name) => this.core.getProject(name)));
        return projects.filter((project) => project?.id !== undefined).map((project) => ({ id: project.id!, name: project.name ?? '' }));
      },
    });
  }

  shareConnection(connectionId: string, connectionName: string, projects: readonly ProjectRef[]): Promise<void> {
    return this.calls.run({
      what: `share service connection ${connectionName}`,
      operation: () =>
        this.endpoints.shareServiceEndpoint(
          projects.map((project) => ({ projectReference: { id: project.id, name: project.name }, name: connectionName, description: '' })),
          connectionId,
        ),
      translate: (failure) => this.rightsError(failure, 'MIC405', `share service connection ${connectionName}`),
    });
  }

  async testConnection(connection: ServiceConnection, options: ConnectionTestOptions): Promise<ConnectionTestResult> {
    try {
      return await this.calls.run({
        what: `verify service connection ${connection.name}`,
        operation: async () => {
          const result = await this.endpoints.executeServiceEndpointRequest(
            // What the server stores, nothing else: a partial serviceEndpointDetails would be believed by a
            // service that trusts client details (as Azure DevOps did before 2025-09-23), and test nothing real.
            { dataSourceDetails: { dataSourceName: 'TestConnection', parameters: {} }, resultTransformationDetails: {} },
            this.project,
            connection.id,
          );
          const statusCode = String(result?.statusCode ?? '');
          if (statusCode.toLowerCase() === 'ok') return { ok: true, message: 'TestConnection succeeded.' };
          const outcome: ConnectionTestResult = { ok: false, message: result?.errorMessage || `TestConnection answered ${statusCode || 'nothing'}.`, ...(statusCode ? { code: statusCode } : {}) };
          if (options.credentialWrittenThisRun && CREDENTIAL_PROPAGATING.test(outcome.message)) throw new PropagationPending(outcome);
          if (options.waitForRoles && ROLE_PROPAGATING.test(outcome.message)) throw new PropagationPending(outcome);
          return outcome;
        },
        pollCodes: ['PropagationPending'],
      });
    } catch (error) {
      // Still replicating at the deadline: report the last answer as the test result, not as a call failure.
      if (error instanceof PropagationPending) return error.result;
      const cause = (error as { cause?: unknown }).cause;
      if (cause instanceof PropagationPending) return cause.result;
      throw error;
    }
  }

  queueRun(request: RunRequest): Promise<PipelineRun> {
    const what = `queue a run of pipeline ${request.pipelineId}`;
    let firstAttempt: number | undefined;
    return this.calls.runCreate({
      what,
      operation: async () => {
        firstAttempt ??= Date.now();
        const run = await this.pipelines.runPipeline(
          {
            templateParameters: { ...request.templateParameters },
            ...(request.branch === undefined ? {} : { resources: { repositories: { self: { refName: request.branch } } } }),
          },
          this.project,
          request.pipelineId,
        );
        return toPipelineRun(run, request.pipelineId);
      },
      // A POST whose answer was lost may still have queued the run: a run of this pipeline, created since the
      // first attempt, on the same branch with the same parameters is ours — queuing again would run it twice.
      findExisting: async () => {
        const runs = (await this.pipelines.listRuns(this.project, request.pipelineId)) ?? [];
        const ours = runs.find(
          (run) =>
            run.createdDate !== undefined &&
            new Date(run.createdDate).getTime() >= (firstAttempt ?? 0) - 60_000 &&
            (request.branch === undefined || run.resources?.repositories?.['self']?.refName === request.branch) &&
            Object.entries(request.templateParameters).every(([name, value]) => String(run.templateParameters?.[name] ?? '') === value),
        );
        return ours ? toPipelineRun(ours, request.pipelineId) : undefined;
      },
      translate: (failure) => {
        if (failure.statusCode === 401) return new TaskError('MIC408', `Azure DevOps refused the task's token (${what}): ${failure.message}`);
        // 400 is "The pipeline is not valid" (an undeclared parameter, a connection it may not use), 403 a
        // missing Queue builds permission, 404 a pipeline the token cannot see.
        if (failure.statusCode === 400 || failure.statusCode === 403 || failure.statusCode === 404) {
          return new TaskError('MIC410', `Azure DevOps refused to ${what}: ${failure.message}`);
        }
        return undefined;
      },
    });
  }

  getRun(pipelineId: number, runId: number): Promise<PipelineRun> {
    return this.calls.run({
      what: `read run ${runId} of pipeline ${pipelineId}`,
      operation: async () => toPipelineRun(await this.pipelines.getRun(this.project, pipelineId, runId), pipelineId),
    });
  }

  listProjects(): Promise<ProjectRef[]> {
    return this.calls.run({
      what: 'list the projects of the organization',
      operation: async () => {
        // Paged: each page carries the token of the next (Projects - List, continuationToken).
        const projects: ProjectRef[] = [];
        let continuationToken: number | undefined;
        do {
          const page = await this.core.getProjects(undefined, undefined, undefined, continuationToken);
          for (const project of page ?? []) if (project.id) projects.push({ id: project.id, name: project.name ?? '' });
          const next = Number((page as { continuationToken?: unknown } | undefined)?.continuationToken);
          continuationToken = Number.isFinite(next) && next > 0 ? next : undefined;
        } while (continuationToken !== undefined);
        return projects;
      },
    });
  }

  listAzureRmConnections(project?: ProjectRef): Promise<ServiceConnection[]> {
    const target = project ? project.id : this.project;
    return this.calls.run({
      what: `list the Azure Resource Manager service connections of project ${project?.name ?? this.settings.project.name}`,
      operation: async () => ((await this.endpoints.getServiceEndpoints(target, 'azurerm', undefined, undefined, undefined, true, true)) ?? []).map(toServiceConnection),
    });
  }

  lastUsed(connectionId: string, project?: ProjectRef): Promise<ConnectionUse | undefined> {
    return this.calls.run({
      what: `read the execution history of connection ${connectionId}`,
      operation: async () => {
        const records = await this.endpoints.getServiceEndpointExecutionRecords(project ? project.id : this.project, connectionId, 1);
        const data = (records ?? [])[0]?.data;
        const at = data?.finishTime ?? data?.startTime;
        if (!data || !at) return undefined;
        const result = data.result === undefined ? undefined : (['succeeded', 'succeededWithIssues', 'failed', 'canceled', 'skipped', 'abandoned'][data.result] ?? String(data.result));
        return { at: new Date(at).toISOString(), ...(data.definition?.name ? { pipeline: data.definition.name } : {}), ...(result ? { result } : {}) };
      },
    });
  }

  listChecks(connectionId: string): Promise<ConnectionCheck[]> {
    return this.calls.run({
      what: `read the checks of connection ${connectionId}`,
      operation: async () => {
        const url = `${this.projectUrl}/_apis/pipelines/checks/configurations?resourceType=endpoint&resourceId=${encodeURIComponent(connectionId)}&$expand=settings&api-version=${CHECKS_API_VERSION}`;
        const response = await this.endpoints.rest.get<{ value?: CheckConfigurationJson[] } | CheckConfigurationJson[]>(url);
        const result = response.result;
        const list = Array.isArray(result) ? result : (result?.value ?? []);
        return list.flatMap((json) => toConnectionCheck(json) ?? []);
      },
    });
  }

  putCheck(connection: { readonly id: string; readonly name: string }, check: CheckSpec, existingId?: number): Promise<ConnectionCheck> {
    const what = `${existingId === undefined ? 'add' : 'update'} the ${checkLabel(check.kind)} check of connection ${connection.name}`;
    return this.calls.run({
      what,
      operation: async () => {
        const base = `${this.projectUrl}/_apis/pipelines/checks/configurations`;
        const body = checkConfigurationBody(connection, check, existingId);
        const response =
          existingId === undefined
            ? await this.endpoints.rest.create<CheckConfigurationJson>(`${base}?api-version=${CHECKS_API_VERSION}`, body)
            : await this.endpoints.rest.update<CheckConfigurationJson>(`${base}/${existingId}?api-version=${CHECKS_API_VERSION}`, body);
        const written = response.result && toConnectionCheck(response.result);
        if (!written) throw new TaskError('MIC902', `Azure DevOps answered ${what} without the check configuration.`);
        return written;
      },
      translate: (failure) =>
        this.rightsError(failure, 'MIC405', what) ??
        (failure.statusCode === 400 ? new TaskError('MIC430', `Azure DevOps refused to ${what}: ${failure.message}`) : undefined),
    });
  }

  convertConnectionScheme(connectionId: string, conversion: SchemeConversion): Promise<ServiceConnection> {
    return this.switchScheme(connectionId, 'convert', (current) => {
      const parameters: Record<string, string> = { tenantid: conversion.tenantId, serviceprincipalid: conversion.clientId, workloadIdentityFederationIssuerType: 'EntraID' };
      const scope = parameter(current, 'scope');
      if (scope !== undefined) parameters.scope = scope;
      return { scheme: 'WorkloadIdentityFederation', parameters };
    });
  }

  revertConnectionScheme(connectionId: string): Promise<ServiceConnection> {
    // The server holds the secret (GET answers it as null); the scheme alone asks for the old authorization back.
    return this.switchScheme(connectionId, 'revert', (current) => {
      const parameters: Record<string, string> = { tenantid: parameter(current, 'tenantid') ?? '' };
      const scope = parameter(current, 'scope');
      if (scope !== undefined) parameters.scope = scope;
      return { scheme: 'ServicePrincipal', parameters };
    });
  }

  /**
   * `PUT …/endpoints/{id}?operation=ConvertAuthenticationScheme` with the connection as read and another
   * authorization, `data.revertSchemeDeadline` left out (the conversion script of learn.microsoft.com *Connect to Azure*, docs/lifecycle.md "Convert"). Not retried blindly: a lost answer is
   * followed by a read, and a rerun of the command starts from what the connection then is.
   */
  private switchScheme(connectionId: string, direction: 'convert' | 'revert', authorization: (current: SdkServiceEndpoint) => { scheme: string; parameters: Record<string, string> }): Promise<ServiceConnection> {
    const what = `${direction === 'convert' ? 'convert' : 'revert'} the authentication scheme of service connection ${connectionId}`;
    return this.calls.run({
      what,
      operation: async () => {
        const current = await this.currentEndpoint(connectionId, connectionId);
        const data = { ...(current.data ?? {}) };
        delete data.revertSchemeDeadline;
        const body: SdkServiceEndpoint = { ...current, authorization: authorization(current), data };
        const answer = toServiceConnection(requireAnswer(await this.endpoints.updateServiceEndpoint(body, connectionId, 'ConvertAuthenticationScheme'), what));
        return direction === 'convert' ? this.readBack(current, answer) : answer;
      },
      translate: (failure) =>
        this.rightsError(failure, 'MIC405', what) ?? (failure.statusCode === 400 ? new TaskError('MIC443', `Azure DevOps refused to ${what}: ${failure.message}`) : undefined),
    });
  }

  /** The connection as Azure DevOps holds it now, before a write that sends it back whole. */
  private async currentEndpoint(connectionId: string, label: string): Promise<SdkServiceEndpoint> {
    const current = await this.endpoints.getServiceEndpointDetails(this.project, connectionId);
    if (!current) throw new TaskError('MIC604', `Service connection ${label} disappeared while the task ran.`);
    return current;
  }

  private rightsError(failure: ServiceFailure, code: 'MIC404' | 'MIC405', what: string): TaskError | undefined {
    if (failure.statusCode !== 403 && failure.statusCode !== 401) return undefined;
    if (failure.statusCode === 401) return new TaskError('MIC408', `Azure DevOps refused the task's token (${what}): ${failure.message}`);
    return new TaskError(code, `Azure DevOps refused to ${what}: ${failure.message}`);
  }
}

// ——— Checks (Approvals and checks, PipelinesChecks 7.1-preview.1) ———
// Type ids and the business-hours task reference as Azure DevOps uses them (microsoft/terraform-provider-azuredevops,
// azuredevops/internal/service/checks); see docs/governance.md.
const CHECKS_API_VERSION = '7.1-preview.1';
const checkTypes = {
  approval: { id: '8c6f20a7-a545-4486-9777-f762fafe0d4d', name: 'Approval' },
  exclusiveLock: { id: '2ef31ad6-baa0-403a-8b45-2cbc9b4e5563', name: 'ExclusiveLock' },
  requiredTemplate: { id: '4020e66e-b0f3-47e1-bc88-48f3cc59b5f3', name: 'ExtendsCheck' },
  businessHours: { id: 'fe1de3ee-a436-41b4-bb20-f6eb4cb879a7', name: 'Task Check' },
} as const;
const businessHoursTask = { id: '445fde2f-6c39-441c-807f-8a59ff2e075f', name: 'evaluatebusinesshours', version: '0.0.1' };

interface CheckConfigurationJson {
  id?: number;
  type?: { id?: string; name?: string };
  timeout?: number;
  settings?: Record<string, any>;
  resource?: { type?: string; id?: string; name?: string };
}

/** A check configuration as the REST API takes it. */
export function checkConfigurationBody(connection: { readonly id: string; readonly name: string }, check: CheckSpec, id?: number): CheckConfigurationJson {
  const base = { ...(id === undefined ? {} : { id }), type: checkTypes[check.kind], timeout: check.timeoutMinutes, resource: { type: 'endpoint', id: connection.id, name: connection.name } };
  switch (check.kind) {
    case 'approval':
      return { ...base, settings: { approvers: check.approvers.map((approver) => ({ id: approver })), executionOrder: 'anyOrder', minRequiredApprovers: check.minApprovers, instructions: check.instructions, requesterCannotBeApprover: false, blockedApprovers: [] } };
    case 'exclusiveLock':
      return { ...base, settings: {} };
    case 'requiredTemplate':
      return { ...base, settings: { extendsChecks: check.templates.map((template) => ({ repositoryType: template.repositoryType, repositoryName: template.repository, repositoryRef: template.ref, templatePath: template.path })) } };
    case 'businessHours':
      return {
        ...base,
        settings: { displayName: 'Business Hours', definitionRef: businessHoursTask, inputs: { businessDays: check.days.join(','), timeZone: check.timeZone, startTime: check.start, endTime: check.end }, retryInterval: 5 },
      };
  }
}

/** A check configuration of a kind the task manages, normalized; undefined for any other kind. */
export function toConnectionCheck(json: CheckConfigurationJson): ConnectionCheck | undefined {
  const typeId = json.type?.id?.toLowerCase();
  const settings = json.settings ?? {};
  const timeoutMinutes = typeof json.timeout === 'number' ? json.timeout : defaultCheckTimeoutMinutes;
  const id = json.id ?? 0;
  let check: CheckSpec | undefined;
  if (typeId === checkTypes.approval.id) {
    const approvers = Array.isArray(settings['approvers']) ? settings['approvers'].map((approver: { id?: string }) => String(approver?.id ?? '')) : [];
    check = { kind: 'approval', timeoutMinutes, approvers, minApprovers: Number(settings['minRequiredApprovers'] ?? 0), instructions: String(settings['instructions'] ?? '') };
  } else if (typeId === checkTypes.exclusiveLock.id) {
    check = { kind: 'exclusiveLock', timeoutMinutes };
  } else if (typeId === checkTypes.requiredTemplate.id) {
    const entries = Array.isArray(settings['extendsChecks']) ? settings['extendsChecks'] : [];
    check = {
      kind: 'requiredTemplate',
      timeoutMinutes,
      templates: entries.map((entry: Record<string, unknown>) => ({ repositoryType: String(entry['repositoryType'] ?? ''), repository: String(entry['repositoryName'] ?? ''), ref: String(entry['repositoryRef'] ?? ''), path: String(entry['templatePath'] ?? '') })),
    };
  } else if (typeId === checkTypes.businessHours.id && String(settings['definitionRef']?.id ?? '').toLowerCase() === businessHoursTask.id) {
    const inputs = settings['inputs'] ?? {};
    check = { kind: 'businessHours', timeoutMinutes, timeZone: String(inputs.timeZone ?? ''), days: String(inputs.businessDays ?? '').split(',').map((day: string) => day.trim()).filter(Boolean), start: String(inputs.startTime ?? ''), end: String(inputs.endTime ?? '') };
  }
  return check ? { ...normalizeCheck(check), id } : undefined;
}

/** A delete or revocation whose target is already gone has done its job (a rerun after a crash). */
async function goneIsDone(operation: () => Promise<unknown>): Promise<void> {
  try {
    await operation();
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) return;
    throw error;
  }
}

/** One connection's pipeline permissions as the pipelinePermissions routes take them. */
function permissionsBody({ connectionId, authorization }: PermissionUpdate) {
  return {
    resource: { type: 'endpoint', id: connectionId },
    ...(authorization.allPipelines ? { allPipelines: { authorized: true } } : {}),
    pipelines: authorization.pipelineIds.map((id) => ({ id, authorized: true })),
  };
}
