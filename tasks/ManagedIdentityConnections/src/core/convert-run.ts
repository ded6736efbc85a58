// The convert command (docs/lifecycle.md, "Convert"): observe (reads only) → planConversion (pure) → print the
// plan → apply the chain of each connection → one summary row per connection. Any refusal or missing
// connection stops the run before its first write, like a blocking finding of provision.
import type { ConvertSettings, TaskConfig } from '../config';
import { isTaskError, TaskError, toTaskError, type Problem } from '../errors';
import type { Ports } from '../ports';
import type { Identity, RoleDefinition } from '../ports/azure';
import type { ServiceConnection } from '../ports/devops';
import { loadSpecText } from '../spec/load-spec';
import { KeyedMutex, mapWithConcurrency } from './concurrency';
import {
  convertedAssignmentName,
  identityFor,
  planConversion,
  selectConnections,
  type CandidateObservation,
  type ConnectionConversion,
  type ConvertAction,
  type ConvertObserved,
  type ConvertPlan,
  type ConvertRequest,
  type SpecConnectionIdentity,
} from './convert-plan';
import { formatConversionPlan, formatConversionSummary, type ConversionOutcome } from './format-convert';
import { isAzureRm, tokenExchangeAudience, usesServicePrincipalSecret } from './model';
import { identityKey, roleDefinitionGuidOf } from './names';
import { conversionOf } from './ownership';
import { subscriptionScope } from './scopes';

export interface ConvertRunResult {
  readonly status: 'succeeded' | 'succeededWithIssues' | 'failed';
  readonly message: string;
  readonly errors: readonly TaskError[];
  readonly plan?: ConvertPlan;
  readonly outcomes?: readonly ConversionOutcome[];
}

/** The request from the config and, when a spec is given, the identities its environments name per connection. */
export async function conversionRequest(config: TaskConfig, settings: ConvertSettings, specText: string | undefined): Promise<ConvertRequest> {
  const specIdentities = new Map<string, SpecConnectionIdentity>();
  if (specText !== undefined) {
    const loaded = loadSpecText(specText, { allowPrivilegedRoles: config.allowPrivilegedRoles, only: [] });
    if (!loaded.ok) throw TaskError.aggregate(loaded.problems, `The environments spec has ${loaded.problems.length} problems; nothing was read or changed.`);
    for (const environment of loaded.environments) {
      for (const connection of environment.connections) specIdentities.set(connection.name.toLowerCase(), { environment: environment.name, ref: environment.identity.ref, location: environment.identity.location });
    }
  }
  return {
    project: config.pipeline.project,
    select: settings.connections === '*' ? { all: true } : { names: settings.connections },
    ...(settings.target ? { target: settings.target } : {}),
    specIdentities,
    allowPrivilegedRoles: config.allowPrivilegedRoles,
  };
}

/** Reads only: the project's connections, the identities convert would use, and per candidate its principal and roles. */
export async function observeConversion(request: ConvertRequest, ports: Ports, concurrency: number): Promise<ConvertObserved> {
  const { devOps, identities: identityClient } = ports;
  const [listed, named] = await Promise.all([devOps.listAzureRmConnections(), 'names' in request.select ? devOps.findConnections(request.select.names) : Promise.resolve([])]);
  const connections = [...new Map([...listed, ...named].map((connection) => [connection.id.toLowerCase(), connection])).values()];
  const identities = new Map<string, Identity>();
  if (request.target) for (const identity of await identityClient.listIdentities(request.target.subscriptionId, request.target.resourceGroup)) identities.set(identityKey({ ...request.target, name: identity.name }), identity);
  const specRefs = connections.flatMap((connection) => {
    const choice = request.specIdentities.get(connection.name.toLowerCase());
    return choice ? [choice.ref] : [];
  });
  await mapWithConcurrency(specRefs, concurrency, async (ref) => {
    const identity = await identityClient.getIdentity(ref);
    if (identity) identities.set(identityKey(ref), identity);
  });
  const { selected } = selectConnections(request, { connections, identities });
  const candidates = new Map<string, CandidateObservation>();
  // Service principals of one subscription mostly hold the same few roles: each definition is read once.
  const definitions = new Map<string, Promise<RoleDefinition | undefined>>();
  const roleDefinition = (subscriptionId: string, guid: string): Promise<RoleDefinition | undefined> => {
    const key = `${subscriptionId.toLowerCase()}|${guid}`;
    let definition = definitions.get(key);
    if (!definition) definitions.set(key, (definition = ports.roles.findRoleDefinition(subscriptionScope(subscriptionId), guid)));
    return definition;
  };
  await mapWithConcurrency(selected, concurrency, async (connection) => {
    const choice = identityFor(request, connection);
    if (!choice || !isAzureRm(connection) || connection.readerStub) return;
    candidates.set(connection.id, await observeCandidate(request, ports, connection, identities.get(identityKey(choice.ref)), roleDefinition));
  });
  return { connections, identities, candidates };
}

async function observeCandidate(
  request: ConvertRequest,
  ports: Ports,
  connection: ServiceConnection,
  identity: Identity | undefined,
  roleDefinition: (subscriptionId: string, guid: string) => Promise<RoleDefinition | undefined>,
): Promise<CandidateObservation> {
  const secret = usesServicePrincipalSecret(connection);
  const appId = secret ? connection.clientId : identity && conversionOf(identity, request.project)?.appId;
  const choice = identityFor(request, connection);
  const credentials = identity && choice ? await ports.identities.listFederatedCredentials(choice.ref) : [];
  const subscriptionId = connection.subscriptionId;
  const targetAssignments = identity && subscriptionId ? await ports.roles.listAssignmentsForPrincipal(subscriptionId, identity.principalId) : [];
  const base = { credentials, targetAssignments, ...(appId ? { appId } : {}) };
  if (!appId) return { ...base, sourceAssignments: [], roleDefinitions: new Map() };
  if (!ports.directory) throw new TaskError('MIC902', 'The convert command needs the Microsoft Graph port, which the composition root did not provide.');
  let servicePrincipal;
  try {
    servicePrincipal = await ports.directory.findServicePrincipal(appId);
  } catch (caught) {
    if (isTaskError(caught) && caught.code === 'MIC442') return { ...base, servicePrincipalProblem: { code: caught.code, message: `Service connection ${connection.name}: ${caught.message} Nothing was changed for it.`, remediation: caught.remediation }, sourceAssignments: [], roleDefinitions: new Map() };
    throw caught;
  }
  if (!servicePrincipal || !subscriptionId) return { ...base, ...(servicePrincipal ? { servicePrincipal } : {}), sourceAssignments: [], roleDefinitions: new Map() };
  const sourceAssignments = await ports.roles.listAssignmentsForPrincipal(subscriptionId, servicePrincipal.objectId);
  const guids = [...new Set(sourceAssignments.map((assignment) => roleDefinitionGuidOf(assignment.roleDefinitionId)))];
  const roleDefinitions = new Map<string, RoleDefinition>();
  const found = await Promise.all(guids.map((guid) => roleDefinition(subscriptionId, guid)));
  guids.forEach((guid, index) => {
    if (found[index]) roleDefinitions.set(guid, found[index]!);
  });
  return { ...base, servicePrincipal, sourceAssignments, roleDefinitions };
}

/** Runs each connection's chain; connections in parallel, the first failure stops its chain. Decides nothing. */
export async function applyConversion(plan: ConvertPlan, ports: Ports, concurrency: number): Promise<ConversionOutcome[]> {
  // Connections a spec environment names share its identity, and ARM refuses concurrent credential writes on one.
  const credentialWrites = new KeyedMutex();
  return mapWithConcurrency(plan.conversions, concurrency, (conversion) => applyOne(conversion, ports, credentialWrites));
}

async function applyOne(conversion: ConnectionConversion, ports: Ports, credentialWrites: KeyedMutex): Promise<ConversionOutcome> {
  if (conversion.state === 'refused') return { conversion, status: 'refused', done: [], ...(conversion.refusal ? { error: TaskError.fromProblem(conversion.refusal) } : {}) };
  let identity = conversion.observedIdentity;
  let connection = conversion.connection;
  let credentialWritten = false;
  const done: ConvertAction[] = [];
  const needIdentity = (): Identity => {
    if (!identity) throw new TaskError('MIC902', `No identity for service connection ${connection.name} although the plan created or found one.`);
    return identity;
  };
  for (const action of conversion.actions) {
    try {
      switch (action.kind) {
        case 'createIdentity':
          identity = await ports.identities.createOrUpdateIdentity(action.ref, { location: action.location, tags: action.tags });
          break;
        case 'assignRole': {
          const principalId = needIdentity().principalId;
          await ports.roles.createAssignment({ scope: action.scope, name: convertedAssignmentName(action.scope, action.roleDefinitionId, principalId), roleDefinitionId: action.roleDefinitionId, principalId, principalType: 'ServicePrincipal', description: action.description });
          break;
        }
        case 'switchConnection': {
          const target = needIdentity();
          connection = await ports.devOps.convertConnectionScheme(action.connectionId, { clientId: target.clientId, tenantId: target.tenantId });
          break;
        }
        case 'writeCredential': {
          // The pair Azure DevOps answered for the switched connection (or holds for one switched earlier).
          if (!connection.issuer || !connection.subject) throw new TaskError('MIC407', `Service connection ${connection.name} (${connection.id}) has no workload identity federation issuer or subject after the switch.`);
          const credential = { name: action.name, issuer: connection.issuer, subject: connection.subject, audiences: [tokenExchangeAudience] };
          await credentialWrites.runExclusive(identityKey(action.ref), () => ports.identities.putFederatedCredential(action.ref, credential));
          credentialWritten = true;
          break;
        }
        case 'verify': {
          const waitForRoles = conversion.actions.some((other) => other.kind === 'assignRole');
          const result = await ports.devOps.testConnection(connection, { waitForRoles, credentialWrittenThisRun: credentialWritten });
          if (!result.ok) return { conversion, status: 'failed', done, failedAction: action, error: await verificationFailed(ports, connection, rollsBack(conversion), result.message) };
          break;
        }
      }
      done.push(action);
    } catch (caught) {
      const error = toTaskError(caught, 'MIC604');
      // Switched but not working (no credential, or the test could not run): back to the secret, as for a failed test.
      const switched = done.some((other) => other.kind === 'switchConnection') || conversion.state === 'resume';
      if (switched && action.kind !== 'switchConnection' && rollsBack(conversion)) return { conversion, status: 'failed', done, failedAction: action, error: await verificationFailed(ports, connection, true, `${error.code}: ${error.message}`) };
      return { conversion, status: 'failed', done, failedAction: action, error };
    }
  }
  return { conversion, status: done.some((action) => action.kind !== 'verify') ? 'converted' : 'unchanged', done };
}

function rollsBack(conversion: ConnectionConversion): boolean {
  return conversion.actions.some((action) => action.kind === 'verify' && action.rollbackOnFailure);
}

/** The connection did not sign in as its identity: back to its secret when this run switched or completed it. */
async function verificationFailed(ports: Ports, connection: ServiceConnection, rollback: boolean, message: string): Promise<TaskError> {
  if (!rollback) return new TaskError('MIC501', `Service connection ${connection.name} does not sign in as its managed identity: ${message}`);
  try {
    await ports.devOps.revertConnectionScheme(connection.id);
    return new TaskError('MIC444', `Service connection ${connection.name} did not sign in as its managed identity (${message}); it was switched back to its service principal secret.`);
  } catch (caught) {
    const reason = toTaskError(caught, 'MIC604');
    return new TaskError('MIC444', `Service connection ${connection.name} did not sign in as its managed identity (${message}), and the roll-back to its secret failed too (${reason.code}: ${reason.message}); it stays on workload identity federation. Revert it in the web UI within 7 days of the conversion, or fix the cause and run convert again.`, { cause: caught });
  }
}

/** The whole command; run() hands over to it. */
export async function runConvert(config: TaskConfig, ports: Ports, specText: string | undefined, options: { readonly dryRun: boolean }): Promise<ConvertRunResult> {
  const { platform } = ports;
  const settings = config.convert;
  if (!settings) throw new TaskError('MIC901', 'The convert command ran without its settings.');
  const request = await conversionRequest(config, settings, specText);
  platform.info('Reading the project\'s Azure Resource Manager connections and their service principals…');
  const observed = await observeConversion(request, ports, config.concurrency);
  const plan = planConversion(request, observed);
  for (const line of formatConversionPlan(plan)) platform.info(line);
  platform.setOutput('changesPresent', String(plan.changesPresent));
  platform.setOutput('permissionsBroadened', String(plan.permissionsBroadened));
  platform.setOutput('permissionsNarrowed', 'false');
  const blocking: Problem[] = [...plan.missing, ...plan.conversions.flatMap((conversion) => (conversion.refusal ? [conversion.refusal] : []))];
  if (blocking.length > 0) {
    const error = TaskError.aggregate(blocking, `convert found ${blocking.length} problems that must be fixed first; nothing was changed.`);
    platform.uploadSummary(formatConversionSummary(plan, undefined, { dryRun: options.dryRun }));
    return { status: 'failed', message: `${error.code}: nothing was changed; ${blocking.length} problem${blocking.length === 1 ? '' : 's'} must be fixed first.`, errors: [error], plan };
  }
  if (options.dryRun) {
    platform.uploadSummary(formatConversionSummary(plan, undefined, { dryRun: true }));
    const writes = plan.conversions.flatMap((conversion) => conversion.actions.filter((action) => action.kind !== 'verify')).length;
    return { status: 'succeeded', message: `Dry run: ${writes} change${writes === 1 ? '' : 's'} planned for ${plan.conversions.length} connection${plan.conversions.length === 1 ? '' : 's'}; nothing was written.`, errors: [], plan };
  }
  const outcomes = await applyConversion(plan, ports, config.concurrency);
  for (const outcome of outcomes) platform.info(`[${outcome.conversion.connection.name}] ${outcome.status}${outcome.error ? `: ${outcome.error.code} ${outcome.error.message}` : ''}`);
  platform.uploadSummary(formatConversionSummary(plan, outcomes, { dryRun: false }));
  const errors = outcomes.flatMap((outcome) => (outcome.error ? [outcome.error] : []));
  const converted = outcomes.filter((outcome) => outcome.status === 'converted' || outcome.status === 'unchanged').length;
  const message =
    errors.length > 0
      ? `${errors.length} of ${outcomes.length} connection${outcomes.length === 1 ? '' : 's'} not converted: ${outcomes.filter((outcome) => outcome.error).map((outcome) => `${outcome.conversion.connection.name} (${outcome.error!.code})`).join(', ')}; run convert again after fixing them (every step is safe to repeat).`
      : `Converted ${converted} connection${converted === 1 ? '' : 's'} to workload identity federation on managed identities; the old app registrations were kept (see the summary).`;
  return { status: errors.length > 0 ? 'failed' : 'succeeded', message, errors, plan, outcomes };
}
