// The peer of `npm run bench -- --peer`: the Azure CLI script a user would write instead of the task, run with
// the real `az` (Debian's azure-cli 2.45) against the emulator through its CONNECT proxy, the way
// tests/templates/az-harness.ts runs it. Same work as the bench's uniform scenarios ask of the task (one
// identity, one WorkloadIdentityFederation connection in creationMode Manual, its federated credential,
// Contributor on rg-app-dev and Reader on the subscription, the connection authorized for the current pipeline,
// TestConnection until ok), one environment after another as a shell for-loop runs them:
//
//   az login --service-principal -u $BOOTSTRAP --tenant $T --federated-token $JWT; az account set -s $DEV
//   for env in env-001 … env-010; do
//     az identity create -g rg-identities -n id-ado-$env -l westeurope                    → clientId, principalId
//     az rest --method post --resource 499b84ac-… --url https://dev.azure.com/$ORG/_apis/serviceendpoint/endpoints
//                                                                                          → id, issuer, subject
//     az identity federated-credential create -g rg-identities --identity-name id-ado-$env -n azdo-$env-c1
//        --issuer $issuer --subject $subject --audiences api://AzureADTokenExchange
//     az role assignment create --assignee-object-id $principalId --assignee-principal-type ServicePrincipal
//        --role Contributor --scope /subscriptions/$DEV/resourceGroups/rg-app-dev        (and Reader on /subscriptions/$DEV)
//     az rest --method patch --resource 499b84ac-… --url …/pipelinepermissions/endpoint/$id   (the current pipeline)
//     until az rest --method post --resource 499b84ac-… --url …/endpointproxy?endpointId=$id … = ok; do sleep; done
//   done
//
// Azure DevOps is called with the bootstrap identity's Entra token (`az rest --resource` with Azure DevOps'
// application id), as the task does with `devOpsAuth: bootstrapIdentity`: the emulator's Azure DevOps accepts an
// Entra token whose oid is an organization member, and the bootstrap identity is one with the Creator role.
// az signs in as the bootstrap identity through the emulator's test issuer (BOOTSTRAP_IDENTITY's federated
// credential), standing in for the ID token AzureCLI@2 would get for the bootstrap connection.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { BOOTSTRAP_IDENTITY, DEFAULT_LOCATION, DEFAULT_TENANT, DEV_SUBSCRIPTION, IDENTITY_RESOURCE_GROUP } from '../../tests/emulator/azure/default-world';
import { roleByGuid } from '../../tests/emulator/azure/role-definitions';
import type { RunningEmulator } from '../../tests/emulator/emulator';
import { jsonLine } from '../../tests/emulator/json-line';
import { AZURE_DEVOPS_RESOURCE } from '../../tasks/ManagedIdentityConnections/src/composition';
import { tokenExchangeAudience } from '../../tasks/ManagedIdentityConnections/src/core/model';
import { azAvailable, AzSession, testIssuerToken, type ProcessResult } from '../../tests/templates/az-harness';

const DEV = DEV_SUBSCRIPTION.id;

/** One environment of the bench's uniform spec, with the names the task derives from it. */
export interface PeerEnvironment {
  readonly name: string;
  readonly identity: string;
  readonly connection: string;
  readonly credential: string;
  readonly roles: readonly { readonly role: string; readonly scope: string }[];
}

/** The environments of the bench's uniform scenarios (scripts/bench.ts `spec`, one connection each). */
export function peerEnvironments(count: number): PeerEnvironment[] {
  return Array.from({ length: count }, (_, index) => {
    const name = `env-${String(index + 1).padStart(3, '0')}`;
    return {
      name,
      // The task's default identity name prefix and credential name (src/core/names.ts).
      identity: `id-ado-${name}`,
      connection: `${name}-c1`,
      credential: `azdo-${name}-c1`,
      roles: [
        { role: 'Contributor', scope: `/subscriptions/${DEV}/resourceGroups/rg-app-dev` },
        { role: 'Reader', scope: `/subscriptions/${DEV}` },
      ],
    };
  });
}

/** The same environments as the task's environments spec (what the bench gives the task). */
export function peerSpec(count: number): string {
  const environments = peerEnvironments(count).map((environment) => ({
    name: environment.name,
    connections: [{ name: environment.connection, subscriptionId: DEV, authorize: 'current' }],
    roles: environment.roles,
  }));
  return JSON.stringify({ defaults: { subscriptionId: DEV, identityResourceGroup: IDENTITY_RESOURCE_GROUP, location: DEFAULT_LOCATION }, environments });
}

/**
 * What one environment is after a run, in terms both the task and the script can be held to: names and the
 * links between objects, not ids, descriptions or tags (the task's ownership marker is no script's business).
 */
export interface EnvironmentEndState {
  readonly name: string;
  readonly identity: { readonly name: string; readonly location: string } | null;
  readonly connection: {
    readonly name: string;
    readonly type: string;
    readonly scheme: string;
    readonly creationMode: string;
    readonly subscriptionId: string;
    /** serviceprincipalid is the identity's client id. */
    readonly usesIdentity: boolean;
    /** A federated credential of the identity has the connection's issuer and subject. */
    readonly trustedByCredential: boolean;
  } | null;
  /** `Role scope`, sorted, lower-case scopes. */
  readonly roles: readonly string[];
  /** Pipelines authorized to use the connection. */
  readonly pipelines: readonly number[];
}

interface StateView {
  identities: { id: string; name: string; location: string; properties: { clientId: string; principalId: string } }[];
  federatedIdentityCredentials: { id: string; name: string; properties: { issuer: string; subject: string; audiences: string[] } }[];
  roleAssignments: { properties: { roleDefinitionId: string; principalId: string; scope: string } }[];
  serviceEndpoints: { id: string; name: string; type: string; data: Record<string, string>; authorization: { scheme: string; parameters: Record<string, string> } }[];
  pipelinePermissions: { resource: { type: string; id: string }; pipelines: { id: number; authorized: boolean }[] }[];
}

/** The end state of each environment, read from the emulator's state (GET state). */
export function endStateOf(emulator: RunningEmulator, environments: readonly PeerEnvironment[]): EnvironmentEndState[] {
  const state = emulator.state() as unknown as StateView;
  const identityPrefix = `/subscriptions/${DEV}/resourcegroups/${IDENTITY_RESOURCE_GROUP}/providers/microsoft.managedidentity/userassignedidentities/`;
  return environments.map((environment) => {
    const identity = state.identities.find((candidate) => candidate.id.toLowerCase() === `${identityPrefix}${environment.identity}`.toLowerCase());
    const endpoint = state.serviceEndpoints.find((candidate) => candidate.name === environment.connection);
    const credentials = identity ? state.federatedIdentityCredentials.filter((credential) => credential.id.toLowerCase().startsWith(`${identity.id.toLowerCase()}/federatedidentitycredentials/`)) : [];
    const parameters = endpoint?.authorization.parameters ?? {};
    const roles = identity
      ? state.roleAssignments
          .filter((assignment) => assignment.properties.principalId === identity.properties.principalId)
          .map((assignment) => `${roleByGuid(assignment.properties.roleDefinitionId.split('/').pop() ?? '')?.roleName ?? assignment.properties.roleDefinitionId} ${assignment.properties.scope.toLowerCase()}`)
          .sort()
      : [];
    const permission = endpoint ? state.pipelinePermissions.find((candidate) => candidate.resource.type === 'endpoint' && candidate.resource.id === endpoint.id) : undefined;
    return {
      name: environment.name,
      identity: identity ? { name: identity.name, location: identity.location } : null,
      connection: endpoint
        ? {
            name: endpoint.name,
            type: endpoint.type,
            scheme: endpoint.authorization.scheme,
            creationMode: endpoint.data.creationMode ?? '',
            subscriptionId: endpoint.data.subscriptionId ?? '',
            usesIdentity: identity !== undefined && parameters.serviceprincipalid === identity.properties.clientId,
            trustedByCredential: credentials.some(
              (credential) =>
                credential.properties.issuer === parameters.workloadIdentityFederationIssuer &&
                credential.properties.subject === parameters.workloadIdentityFederationSubject &&
                credential.properties.audiences.includes(tokenExchangeAudience),
            ),
          }
        : null,
      roles,
      pipelines: (permission?.pipelines ?? []).filter((pipeline) => pipeline.authorized).map((pipeline) => pipeline.id).sort((a, b) => a - b),
    };
  });
}

/** What is missing from an environment's end state, in words (empty when complete). */
export function endStateProblems(environment: PeerEnvironment, end: EnvironmentEndState, pipelineId: number): string[] {
  const problems: string[] = [];
  if (!end.identity) problems.push(`${environment.name}: no identity ${environment.identity}`);
  if (!end.connection) problems.push(`${environment.name}: no connection ${environment.connection}`);
  else {
    if (!end.connection.usesIdentity) problems.push(`${environment.name}: connection ${environment.connection} does not use the identity's client id`);
    if (!end.connection.trustedByCredential) problems.push(`${environment.name}: no federated credential with the connection's issuer and subject`);
  }
  const wanted = environment.roles.map((role) => `${role.role} ${role.scope.toLowerCase()}`).sort();
  if (JSON.stringify(end.roles) !== JSON.stringify(wanted)) problems.push(`${environment.name}: roles ${end.roles.join(', ') || 'none'}, wanted ${wanted.join(', ')}`);
  if (!end.pipelines.includes(pipelineId)) problems.push(`${environment.name}: pipeline ${pipelineId} not authorized`);
  return problems;
}

export interface AzPeerOptions {
  readonly environments: number;
  /** The latency of every request (the bench's uniform profile). */
  readonly latencyMs: number;
  /** Pause between TestConnection attempts that did not answer ok (a script's `sleep`). */
  readonly retryDelayMs?: number;
  /** Give up on a connection's TestConnection after this long. */
  readonly testTimeoutMs?: number;
}

export interface AzPeerResult {
  readonly environments: number;
  /** From the start of `az login` to the exit of the last command. */
  readonly wallMs: number;
  /** az processes run, sign-in included. */
  readonly commands: number;
  /** The az processes' CPU time (user + system), as the kernel counted it for this process's children; null off Linux. */
  readonly cpuMs: number | null;
  /** Requests the emulator answered during the run. */
  readonly requests: number;
  readonly testAttempts: number;
  readonly endStates: readonly EnvironmentEndState[];
  /** Empty when every environment is complete and its TestConnection answered ok. */
  readonly problems: readonly string[];
}

/**
 * CPU time of this process's reaped children (cutime + cstime of /proc/self/stat), in ms: the az processes,
 * which the script runs one at a time and Node reaps as each exits. The emulator's own CPU is this process's
 * utime/stime, not counted here. null where there is no /proc.
 */
function childrenCpuMs(ticksPerSecond: number): number | null {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    // Fields after the command name (which may hold spaces): state is field 3, cutime 16, cstime 17.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[13]) + Number(fields[14])) * 1000) / ticksPerSecond;
  } catch {
    return null;
  }
}

function clockTicksPerSecond(): number {
  const probe = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const ticks = Number(probe.stdout?.trim());
  return Number.isFinite(ticks) && ticks > 0 ? ticks : 100;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Resets the emulator, gives every request `latencyMs`, and runs the script for `environments` environments.
 * Fails when a command fails; an incomplete end state is reported in `problems`.
 */
export async function runAzPeer(emulator: RunningEmulator, options: AzPeerOptions): Promise<AzPeerResult> {
  const retryDelayMs = options.retryDelayMs ?? 2_000;
  const testTimeoutMs = options.testTimeoutMs ?? 120_000;
  if (!azAvailable()) throw new Error("The Azure CLI script needs `az` (Debian: apt-get install -y --no-install-recommends azure-cli).");
  await emulator.reset();
  emulator.ctx.faults.set([{ id: 'latency', latencyMs: options.latencyMs }]);
  const info = jsonLine(emulator);
  const pipelineId = Number(info.agentEnv.SYSTEM_DEFINITIONID);
  const devOps = `https://dev.azure.com/${info.organization.name}`;
  const environments = peerEnvironments(options.environments);
  // What AzureCLI@2 has before the script starts: an ID token for the bootstrap identity.
  const federatedToken = await testIssuerToken(emulator, BOOTSTRAP_IDENTITY.testIssuerSubject);
  const ticksPerSecond = clockTicksPerSecond();
  const session = new AzSession(emulator);
  let commands = 0;
  let testAttempts = 0;
  const az = async (args: readonly string[]): Promise<string> => {
    commands++;
    const result: ProcessResult = await session.az(args);
    if (result.status !== 0) throw new Error(`az ${args.slice(0, 3).join(' ')} failed (${result.status}): ${result.output.trim()}`);
    return result.stdout;
  };
  const devOpsRest = async (method: string, url: string, body: unknown): Promise<unknown> =>
    JSON.parse(await az(['rest', '--method', method, '--url', url, '--resource', AZURE_DEVOPS_RESOURCE, '--body', JSON.stringify(body), '--output', 'json']));
  const testFailures: string[] = [];

  emulator.ctx.requests.reset();
  const cpuBefore = childrenCpuMs(ticksPerSecond);
  const startedAt = performance.now();
  try {
    await az(['login', '--service-principal', '-u', BOOTSTRAP_IDENTITY.clientId, '--tenant', DEFAULT_TENANT.id, '--allow-no-subscriptions', '--federated-token', federatedToken, '--output', 'none']);
    await az(['account', 'set', '--subscription', DEV]);
    for (const environment of environments) {
      const identity = JSON.parse(
        await az(['identity', 'create', '--resource-group', IDENTITY_RESOURCE_GROUP, '--name', environment.identity, '--location', DEFAULT_LOCATION, '--output', 'json']),
      ) as { clientId: string; principalId: string };
      const connection = (await devOpsRest('post', `${devOps}/_apis/serviceendpoint/endpoints?api-version=7.1`, {
        name: environment.connection,
        type: 'AzureRM',
        url: 'https://management.azure.com/',
        description: `Workload identity federation with ${environment.identity}`,
        authorization: { scheme: 'WorkloadIdentityFederation', parameters: { tenantid: DEFAULT_TENANT.id, serviceprincipalid: identity.clientId } },
        data: { subscriptionId: DEV, subscriptionName: DEV_SUBSCRIPTION.name, environment: 'AzureCloud', scopeLevel: 'Subscription', creationMode: 'Manual' },
        isShared: false,
        isReady: true,
        owner: 'library',
        serviceEndpointProjectReferences: [{ projectReference: { id: info.project.id, name: info.project.name }, name: environment.connection, description: '' }],
      })) as { id: string; authorization: { parameters: { workloadIdentityFederationIssuer: string; workloadIdentityFederationSubject: string } } };
      const { workloadIdentityFederationIssuer: issuer, workloadIdentityFederationSubject: subject } = connection.authorization.parameters;
      await az([
        'identity', 'federated-credential', 'create',
        '--resource-group', IDENTITY_RESOURCE_GROUP, '--identity-name', environment.identity, '--name', environment.credential,
        '--issuer', issuer, '--subject', subject, '--audiences', tokenExchangeAudience, '--output', 'none',
      ]);
      for (const role of environment.roles) {
        await az(['role', 'assignment', 'create', '--assignee-object-id', identity.principalId, '--assignee-principal-type', 'ServicePrincipal', '--role', role.role, '--scope', role.scope, '--output', 'none']);
      }
      await devOpsRest('patch', `${devOps}/${info.project.id}/_apis/pipelines/pipelinepermissions/endpoint/${connection.id}?api-version=7.1-preview.1`, {
        resource: { type: 'endpoint', id: connection.id },
        pipelines: [{ id: pipelineId, authorized: true }],
      });
      const testUntil = performance.now() + testTimeoutMs;
      for (;;) {
        testAttempts++;
        const test = (await devOpsRest('post', `${devOps}/${info.project.id}/_apis/serviceendpoint/endpointproxy?endpointId=${connection.id}&api-version=7.1`, {
          dataSourceDetails: { dataSourceName: 'TestConnection', parameters: {} },
          resultTransformationDetails: {},
        })) as { statusCode: string; errorMessage: string };
        if (test.statusCode.toLowerCase() === 'ok') break;
        if (performance.now() + retryDelayMs > testUntil) {
          testFailures.push(`${environment.name}: TestConnection answered ${test.statusCode}: ${test.errorMessage}`);
          break;
        }
        await sleep(retryDelayMs);
      }
    }
  } finally {
    session.dispose();
  }
  const wallMs = performance.now() - startedAt;
  const cpuAfter = childrenCpuMs(ticksPerSecond);
  const summary = emulator.ctx.requests.summary();
  const endStates = endStateOf(emulator, environments);
  const problems = [...environments.flatMap((environment, index) => endStateProblems(environment, endStates[index]!, pipelineId)), ...testFailures];
  return {
    environments: options.environments,
    wallMs: Math.round(wallMs),
    commands,
    cpuMs: cpuBefore === null || cpuAfter === null ? null : Math.round(cpuAfter - cpuBefore),
    requests: summary.reads + summary.writes,
    testAttempts,
    endStates,
    problems,
  };
}

/** The bench's `peer` object: the script's figures and the task's advantage (peer wall / task wall). */
export interface PeerSummary {
  readonly environments: number;
  readonly wallMs: number;
  readonly commands: number;
  readonly cpuMs: number | null;
  readonly requests: number;
  /** null when the task's run of as many environments with the same latency did not run. */
  readonly advantage: number | null;
}

export function peerSummary(result: AzPeerResult, taskWallMs: number | undefined): PeerSummary {
  if (result.problems.length > 0) throw new Error(`the Azure CLI script did not reach the task's end state:\n${result.problems.join('\n')}`);
  const { environments, wallMs, commands, cpuMs, requests } = result;
  return { environments, wallMs, commands, cpuMs, requests, advantage: taskWallMs ? Math.round((wallMs / taskWallMs) * 10) / 10 : null };
}

export function describePeer(peer: PeerSummary): string {
  return [
    `${`Azure CLI script: ${peer.environments} env`.padEnd(30)} wall ${String(peer.wallMs).padStart(6)} ms`,
    `${peer.commands} az commands`,
    `requests ${peer.requests}`,
    `CPU ${peer.cpuMs ?? '?'} ms`,
    peer.advantage === null ? 'no task run to compare with' : `${peer.advantage}× the task's wall`,
  ].join('  ');
}
