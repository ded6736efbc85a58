// Reads the world the plan needs, and nothing else, through the ports. Reads only: observe never writes.
// Independent reads run in parallel under one bound (the concurrency input), so that a large spec neither
// crawls nor trips ARM's per-principal read throttling. Azure DevOps lookups are batched across environments
// (one findConnections and one findProjects for the whole run) because that API takes lists of names.
import { Limiter } from './concurrency';
import { identityTakeoverAllowed } from './guardrails';
import {
  otherProjectConnectionKey,
  permissionsKey,
  roleKey,
  type BootstrapIdentityLookup,
  type DesiredConnection,
  type DesiredEnvironment,
  type DesiredState,
  type Identity,
  type IdentityRef,
  type ObservedIdentity,
  type ObservedWorld,
  type PlanSettings,
} from './model';
import { identityKey } from './names';
import { assignmentMarkerOf, isOwnedIdentity, markedEnvironment } from './ownership';
import { parseScope, subscriptionScope } from './scopes';
import type { Ports } from '../ports';
import type { ConnectionCheck, PipelinePermissions, ProjectRef, RoleAssignment, RoleDefinition, ServiceConnection, Subscription } from './model';

export interface ObserveOptions {
  readonly concurrency: number;
  /** The identity the task runs as, for the escalation guard; absent in the CLI (it runs as a person). */
  readonly bootstrapIdentity?: BootstrapIdentityHint;
}

export interface BootstrapIdentityHint {
  /** The bootstrap connection's service principal (client) id. */
  readonly clientId: string;
  /** From the bootstrapIdentityResourceId input: no lookup needed. */
  readonly resourceId?: string;
}

export async function observe(desired: DesiredState, ports: Pick<Ports, 'identities' | 'roles' | 'devOps'>, options: ObserveOptions): Promise<ObservedWorld> {
  const limiter = new Limiter(options.concurrency);
  const { environments } = desired;

  // Order matters for speed, not for the result. Azure DevOps first: its requests go out at once, while the
  // first ARM call spends a few tens of milliseconds building its SDK client and signing in. Then the few
  // role-definition and subscription reads, before one identity read per environment can fill the limiter
  // and hold them back by a round trip.
  const lifecycle = desired.settings.lifecycle !== undefined;
  // Looking for removed environments lists every resource group of the spec; a group listed to find
  // identities (three or more there) is listed once for both.
  const groups = new GroupLists(ports, limiter);
  const listEveryGroup = lifecycle && !desired.settings.lifecycle!.onlySelected;
  const projectsRead = observeProjects(environments, ports);
  const [connectionState, projects, roleDefinitions, subscriptions, identities] = await Promise.all([
    observeConnections(environments, desired.settings, projectsRead, ports, limiter),
    projectsRead,
    observeRoleDefinitions(environments, ports, limiter),
    observeSubscriptions(environments, ports, limiter),
    observeIdentities(environments, ports, limiter, { lifecycle, groups }),
  ]);
  // After the spec's own reads, not beside them: they are not on the way to any write of the spec, and
  // leaving the spec's reads their usual pace keeps the environments' writes as close together as before
  // (pipeline permissions of environments that finish within 10 ms share one request).
  const lifecycleLists = lifecycle ? await listForLifecycle(desired, ports, limiter, groups, listEveryGroup) : undefined;
  const bootstrapIdentity = await locateBootstrapIdentity(environments, roleDefinitions, options.bootstrapIdentity, ports, limiter);
  const world: ObservedWorld = { identities, roleDefinitions, subscriptions, projects, ...connectionState, ...(bootstrapIdentity ? { bootstrapIdentity } : {}) };
  return lifecycleLists ? observeLifecycle(desired, world, lifecycleLists, ports, limiter) : world;
}

/**
 * Where the bootstrap identity is, for the escalation guard — looked up only when some role of the spec could
 * take over an identity, so an ordinary spec costs no request. Role scopes lie in subscriptions the spec names
 * (MIC119), so listing the identities of the subscriptions those roles name is enough: an identity found
 * nowhere there is out of every such role's reach.
 */
async function locateBootstrapIdentity(
  environments: readonly DesiredEnvironment[],
  roleDefinitions: ReadonlyMap<string, RoleDefinition>,
  hint: BootstrapIdentityHint | undefined,
  ports: Pick<Ports, 'identities'>,
  limiter: Limiter,
): Promise<BootstrapIdentityLookup | undefined> {
  if (!hint) return undefined;
  const subscriptions = unique(
    environments.flatMap((environment) =>
      environment.roles.map((role) => {
        const subscriptionId = parseScope(role.scope)?.subscriptionId.toLowerCase();
        const definition = subscriptionId === undefined ? undefined : roleDefinitions.get(roleKey(subscriptionId, role.role));
        return definition && identityTakeoverAllowed(definition).length > 0 ? subscriptionId : undefined;
      }),
    ),
  );
  if (subscriptions.length === 0) return undefined;
  if (hint.resourceId !== undefined) {
    return { status: 'found', resourceId: hint.resourceId, name: hint.resourceId.split('/').pop() ?? hint.resourceId, source: 'the bootstrapIdentityResourceId input' };
  }
  const failures: string[] = [];
  const lists = await Promise.all(
    subscriptions.map((subscriptionId) =>
      limiter.run(() => ports.identities.listIdentitiesInSubscription(subscriptionId)).catch((error: unknown) => {
        failures.push(`listing the identities of subscription ${subscriptionId} failed: ${error instanceof Error ? error.message : String(error)}`);
        return [] as Identity[];
      }),
    ),
  );
  const found = lists.flat().find((identity) => identity.clientId.toLowerCase() === hint.clientId.toLowerCase());
  if (found) return { status: 'found', resourceId: found.id, name: found.name, source: `found by the bootstrap connection's client id ${hint.clientId}` };
  if (failures.length > 0) return { status: 'unknown', reason: failures.join('; ') };
  return { status: 'absent', reason: `no user-assigned identity has client id ${hint.clientId} in subscription${subscriptions.length === 1 ? '' : 's'} ${subscriptions.join(', ')}` };
}

interface LifecycleLists {
  readonly projectConnections: ServiceConnection[];
  /** Identities of the spec's resource groups that carry this project's marker and no selected environment names. */
  readonly ownedElsewhere: Identity[];
  /** Assignments of the spec's role subscriptions with this project's marker in their description. */
  readonly markedAssignments: RoleAssignment[];
}

/**
 * What prune.ts needs besides the spec's own objects: every AzureRM connection of the project (one call), and —
 * when the run sees the whole spec — the owned identities of the spec's resource groups that the spec no longer
 * names (one list per group). Environments whose identity lived in a group the spec no longer names are not
 * found (docs/lifecycle.md).
 */
async function listForLifecycle(desired: DesiredState, ports: Pick<Ports, 'devOps' | 'roles'>, limiter: Limiter, groups: GroupLists, listEveryGroup: boolean): Promise<LifecycleLists> {
  const { project } = desired.settings;
  const wanted = new Set(desired.environments.map((environment) => identityKey(environment.identity.ref)));
  const roleSubscriptions = unique(desired.environments.flatMap((environment) => environment.roles.map((role) => parseScope(role.scope)?.subscriptionId.toLowerCase())));
  const [projectConnections, lists, assignmentLists] = await Promise.all([
    ports.devOps.listAzureRmConnections(),
    listEveryGroup ? Promise.all(desired.environments.map(({ identity }) => groups.list(identity.ref))) : [],
    // Only for finding what a deleted identity left behind: a subscription that cannot be listed hides that, nothing more.
    Promise.all(roleSubscriptions.map((subscriptionId) => limiter.run(() => ports.roles.listAssignmentsInSubscription(subscriptionId)).catch((): RoleAssignment[] => []))),
  ]);
  const markedAssignments = dedupeAssignments(assignmentLists.flat()).filter((assignment) => assignmentMarkerOf(assignment.description)?.projectId === project.id.toLowerCase());
  // identityKey() is the lowercased ARM id, so an id compares with it once lowercased. A group that cannot
  // be listed hides its removed environments (docs/lifecycle.md), nothing more.
  const listed = new Map(lists.flatMap((list) => list ?? []).map((identity) => [identity.id.toLowerCase(), identity]));
  const ownedElsewhere = [...listed.values()].filter((identity) => isOwnedIdentity(identity, project) && !wanted.has(identity.id.toLowerCase()));
  return { projectConnections, ownedElsewhere, markedAssignments };
}

/** One list per resource group, shared by whoever asks first; undefined when the group cannot be listed. */
class GroupLists {
  private readonly lists = new Map<string, Promise<Identity[] | undefined>>();

  constructor(
    private readonly ports: Pick<Ports, 'identities'>,
    private readonly limiter: Limiter,
  ) {}

  list(ref: IdentityRef): Promise<Identity[] | undefined> {
    const key = `${ref.subscriptionId}/${ref.resourceGroup}`.toLowerCase();
    let list = this.lists.get(key);
    if (!list) {
      list = this.limiter.run(() => this.ports.identities.listIdentities(ref.subscriptionId, ref.resourceGroup)).then(
        (identities) => identities,
        // A caller may read its identities but not list their group; the reads one by one will tell.
        () => undefined,
      );
      this.lists.set(key, list);
    }
    return list;
  }
}

async function observeLifecycle(desired: DesiredState, world: ObservedWorld, lists: LifecycleLists, ports: Pick<Ports, 'identities' | 'roles' | 'devOps'>, limiter: Limiter): Promise<ObservedWorld> {
  const { project, lifecycle } = desired.settings;
  const subscriptions = unique([
    ...desired.environments.flatMap((environment) => [environment.identity.ref.subscriptionId, ...environment.roles.map((role) => parseScope(role.scope)?.subscriptionId)]),
  ].map((id) => id?.toLowerCase()));
  const ownedIdentities = await Promise.all(
    lists.ownedElsewhere.map(async (identity) => {
      const ref = refOfIdentityId(identity.id) ?? { subscriptionId: '', resourceGroup: '', name: identity.name };
      const [federatedCredentials, assignmentLists] = await Promise.all([
        limiter.run(() => ports.identities.listFederatedCredentials(ref)),
        Promise.all(unique([ref.subscriptionId.toLowerCase(), ...subscriptions]).map((subscriptionId) => limiter.run(() => ports.roles.listAssignmentsForPrincipal(subscriptionId, identity.principalId)))),
      ]);
      return { identity, federatedCredentials, roleAssignments: dedupeAssignments(assignmentLists.flat()) };
    }),
  );
  // Connections that may be deleted or narrowed: the project's that carry our marker or sign in as an owned
  // identity (not the spec's — except in a teardown), plus, for narrowing, every existing spec connection.
  const ownedClientIds = new Set(
    [...world.identities.values(), ...ownedIdentities].filter((item) => isOwnedIdentity(item.identity, project)).map((item) => item.identity.clientId.toLowerCase()),
  );
  const specNames = new Set(desired.environments.flatMap((environment) => environment.connections.map((connection) => connection.name.toLowerCase())));
  const candidates = lists.projectConnections.filter(
    (connection) => (lifecycle!.teardown || !specNames.has(connection.name.toLowerCase())) && (markedEnvironment(connection, project) !== undefined || ownedClientIds.has((connection.clientId ?? '').toLowerCase())),
  );
  const specConnections = [...world.connections.values()];
  const permissionsWanted = [...new Map([...candidates, ...specConnections].map((connection) => [connection.id.toLowerCase(), connection])).values()].filter(
    (connection) => !world.pipelinePermissions.has(connection.id.toLowerCase()),
  );
  const pipelinePermissions = new Map(world.pipelinePermissions);
  const lastUsed = new Map<string, string | null>();
  await Promise.all([
    ...permissionsWanted.map(async (connection) => pipelinePermissions.set(connection.id.toLowerCase(), await limiter.run(() => ports.devOps.getPipelinePermissions(connection.id)))),
    // A history that cannot be read leaves the connection out of the map: prune.ts then keeps it (MIC532).
    // Only a run that may delete asks: a report (MIC530) does not depend on it.
    ...(lifecycle!.prune || lifecycle!.teardown ? candidates : []).map(async (connection) => {
      const used = await limiter.run(() => ports.devOps.lastUsed(connection.id)).then(
        (use) => ({ when: use?.at }),
        () => undefined,
      );
      if (used) lastUsed.set(connection.id.toLowerCase(), used.when ?? null);
    }),
  ]);
  return { ...world, pipelinePermissions, ownedIdentities, projectConnections: lists.projectConnections, lastUsed, markedAssignments: lists.markedAssignments };
}

function refOfIdentityId(id: string): IdentityRef | undefined {
  const match = /^\/subscriptions\/([^/]+)\/resourcegroups\/([^/]+)\/providers\/microsoft\.managedidentity\/userassignedidentities\/([^/]+)$/i.exec(id);
  return match ? { subscriptionId: match[1]!, resourceGroup: match[2]!, name: match[3]! } : undefined;
}

function dedupeAssignments(assignments: RoleAssignment[]): RoleAssignment[] {
  return [...new Map(assignments.map((assignment) => [assignment.id.toLowerCase(), assignment])).values()];
}

/**
 * From this many identities in one resource group on, they are found with one list of the group instead of a
 * read each: fifty environments make one request instead of fifty, which matters for ARM's read throttling.
 * Fewer are read one by one — two reads cost no more than a list, and a crowded group's list takes pages.
 */
export const LIST_IDENTITIES_FROM = 3;

interface IdentityObservation {
  readonly lifecycle: boolean;
  readonly groups: GroupLists;
}

async function observeIdentities(environments: readonly DesiredEnvironment[], ports: Pick<Ports, 'identities' | 'roles'>, limiter: Limiter, options: IdentityObservation): Promise<Map<string, ObservedIdentity>> {
  const { lifecycle } = options;
  const findIdentity = identityFinder(environments, ports, limiter, options);
  const found = new Map<string, ObservedIdentity>();
  await Promise.all(
    environments.map(async (environment) => {
      const ref = environment.identity.ref;
      const identity = await findIdentity(ref);
      if (!identity) return;
      // For prune, also where a role removed from the spec may still be: the identity's and the connections' subscriptions.
      const extra = lifecycle ? [ref.subscriptionId, ...environment.connections.map((connection) => connection.subscriptionId)] : [];
      const roleSubscriptions = unique([...environment.roles.map((role) => parseScope(role.scope)?.subscriptionId), ...extra].map((id) => id?.toLowerCase()));
      const [federatedCredentials, assignmentLists] = await Promise.all([
        limiter.run(() => ports.identities.listFederatedCredentials(ref)),
        Promise.all(roleSubscriptions.map((subscriptionId) => limiter.run(() => ports.roles.listAssignmentsForPrincipal(subscriptionId, identity.principalId)))),
      ]);
      // A principal's list for one subscription can include assignments above it (management groups): the
      // same assignment may come back for two subscriptions. Keep one of each.
      const roleAssignments = dedupeAssignments(assignmentLists.flat());
      found.set(identityKey(ref), { identity, federatedCredentials, roleAssignments });
    }),
  );
  return found;
}

/** Finds an identity in its resource group's list when the spec wants enough of them there, else reads it. */
function identityFinder(
  environments: readonly DesiredEnvironment[],
  ports: Pick<Ports, 'identities'>,
  limiter: Limiter,
  options: Pick<IdentityObservation, 'groups'>,
): (ref: IdentityRef) => Promise<Identity | undefined> {
  const groupOf = (ref: IdentityRef) => `${ref.subscriptionId}/${ref.resourceGroup}`.toLowerCase();
  const wanted = new Map<string, IdentityRef[]>();
  for (const { identity } of environments) {
    const group = groupOf(identity.ref);
    wanted.set(group, [...(wanted.get(group) ?? []), identity.ref]);
  }
  const lists = new Map<string, Promise<Map<string, Identity> | undefined>>();
  for (const [group, refs] of wanted) {
    if (refs.length < LIST_IDENTITIES_FROM) continue;
    lists.set(group, options.groups.list(refs[0]!).then((identities) => identities && new Map(identities.map((identity) => [identity.name.toLowerCase(), identity]))));
  }
  return async (ref) => {
    const listed = await lists.get(groupOf(ref));
    return listed ? listed.get(ref.name.toLowerCase()) : limiter.run(() => ports.identities.getIdentity(ref));
  };
}

async function observeRoleDefinitions(environments: readonly DesiredEnvironment[], ports: Pick<Ports, 'roles'>, limiter: Limiter): Promise<Map<string, RoleDefinition>> {
  const wanted = new Map<string, { subscriptionId: string; role: string }>();
  for (const role of environments.flatMap((environment) => environment.roles)) {
    const subscriptionId = parseScope(role.scope)?.subscriptionId.toLowerCase();
    if (subscriptionId !== undefined) wanted.set(roleKey(subscriptionId, role.role), { subscriptionId, role: role.role });
  }
  const found = new Map<string, RoleDefinition>();
  await Promise.all(
    [...wanted].map(async ([key, { subscriptionId, role }]) => {
      const definition = await limiter.run(() => ports.roles.findRoleDefinition(subscriptionScope(subscriptionId), role));
      if (definition) found.set(key, definition);
    }),
  );
  return found;
}

async function observeSubscriptions(environments: readonly DesiredEnvironment[], ports: Pick<Ports, 'roles'>, limiter: Limiter): Promise<Map<string, Subscription>> {
  const ids = unique(
    environments.flatMap((environment) => [environment.identity.ref.subscriptionId, ...environment.connections.map((connection) => connection.subscriptionId)].map((id) => id.toLowerCase())),
  );
  const found = new Map<string, Subscription>();
  await Promise.all(
    ids.map(async (id) => {
      const subscription = await limiter.run(() => ports.roles.getSubscription(id));
      if (subscription) found.set(id, subscription);
    }),
  );
  return found;
}

interface ConnectionState {
  connections: Map<string, ServiceConnection>;
  pipelinePermissions: Map<string, PipelinePermissions>;
  pipelines: Map<string, Set<number>>;
  otherProjectConnections: Map<string, ServiceConnection>;
  /** By lowercased connection id; only when the spec names checks (a spec without costs no request). */
  checks?: Map<string, readonly ConnectionCheck[]>;
}

async function observeConnections(
  environments: readonly DesiredEnvironment[],
  settings: PlanSettings,
  projectsRead: Promise<Map<string, ProjectRef>>,
  ports: Pick<Ports, 'devOps'>,
  limiter: Limiter,
): Promise<ConnectionState> {
  const desired = environments.flatMap((environment) => environment.connections);
  const state: ConnectionState = { connections: new Map(), pipelinePermissions: new Map(), pipelines: new Map(), otherProjectConnections: new Map() };
  if (desired.length === 0) return state;
  const [found, pipelines] = await Promise.all([ports.devOps.findConnections(desired.map((item) => item.name)), observePipelines(desired, settings, projectsRead, ports, limiter)]);
  for (const connection of found) {
    const key = connection.name.toLowerCase();
    if (!state.connections.has(key)) state.connections.set(key, connection);
  }
  state.pipelines = pipelines;
  const projects = await projectsRead;
  const verificationRun = settings.verificationRunPipelineId !== undefined;
  const reads: Promise<void>[] = [];
  for (const item of desired) {
    const existing = state.connections.get(item.name.toLowerCase());
    // Permissions matter only where the spec authorizes something, or everywhere when a verification run of
    // this pipeline follows (it needs every connection).
    if (existing && (verificationRun || item.authorize.kind !== 'none')) {
      reads.push(limiter.run(async () => void state.pipelinePermissions.set(permissionsKey(existing.id), await ports.devOps.getPipelinePermissions(existing.id))));
    }
    for (const project of shareWithProjects(item, projects)) {
      const sharedThere = existing?.projectReferences.some((reference) => sameProject(reference, project)) ?? false;
      // Pipelines of a shareWith project are authorized there, once the connection is shared with it.
      const authorizedThere = item.authorize.kind === 'pipelines' && item.authorize.pipelineIds.some((id) => pipelines.get(project.id.toLowerCase())?.has(id));
      if (existing && sharedThere && authorizedThere) {
        reads.push(limiter.run(async () => void state.pipelinePermissions.set(permissionsKey(existing.id, project.id), await ports.devOps.getPipelinePermissions(existing.id, project))));
      }
    }
  }
  const needChecks = desired.filter((item) => (item.checks?.length ?? 0) > 0).flatMap((item) => state.connections.get(item.name.toLowerCase()) ?? []);
  if (needChecks.length > 0) {
    const checks = new Map<string, readonly ConnectionCheck[]>();
    state.checks = checks;
    for (const connection of needChecks) reads.push(limiter.run(async () => void checks.set(connection.id.toLowerCase(), await ports.devOps.listChecks(connection.id))));
  }
  await Promise.all([...reads, observeOtherProjectConnections(desired, state, projects, ports, limiter)]);
  return state;
}

/**
 * Where the pipelines that `authorize` lists live: Azure DevOps keeps pipeline permissions per project, so a
 * pipeline of a shareWith project (the platform-team pattern) is authorized there. Looked for in the project the
 * task runs in first, then in the shareWith projects of the connections naming it.
 */
async function observePipelines(
  desired: readonly DesiredConnection[],
  settings: PlanSettings,
  projectsRead: Promise<Map<string, ProjectRef>>,
  ports: Pick<Ports, 'devOps'>,
  limiter: Limiter,
): Promise<Map<string, Set<number>>> {
  const found = new Map<string, Set<number>>();
  const named = desired.flatMap((item) => (item.authorize.kind === 'pipelines' ? [{ item, ids: item.authorize.pipelineIds }] : []));
  const wanted = [...new Set(named.flatMap(({ ids }) => ids))];
  if (wanted.length === 0) return found;
  const here = new Set(await limiter.run(() => ports.devOps.findPipelines(wanted)));
  found.set(settings.project.id.toLowerCase(), here);
  const projects = await projectsRead;
  const elsewhere = new Map<string, { project: ProjectRef; ids: Set<number> }>();
  for (const { item, ids } of named) {
    const missing = ids.filter((id) => !here.has(id));
    for (const project of missing.length === 0 ? [] : shareWithProjects(item, projects)) {
      const entry = elsewhere.get(project.id.toLowerCase()) ?? { project, ids: new Set<number>() };
      for (const id of missing) entry.ids.add(id);
      elsewhere.set(project.id.toLowerCase(), entry);
    }
  }
  await Promise.all(
    [...elsewhere.values()].map(async ({ project, ids }) => {
      found.set(project.id.toLowerCase(), new Set(await limiter.run(() => ports.devOps.findPipelines([...ids], project))));
    }),
  );
  return found;
}

/**
 * Sharing a connection with a project that already has a connection of that name fails ("already exists"). The
 * usual cause is a shared connection deleted in its owner project only: its copy lives on in the other, still
 * trusted by the identity's federated credential. Look there by name wherever a share is still to come, so the
 * plan can say so before writing anything. Best effort: a project the caller cannot read is left to the share.
 */
async function observeOtherProjectConnections(
  desired: readonly DesiredConnection[],
  state: ConnectionState,
  projects: ReadonlyMap<string, ProjectRef>,
  ports: Pick<Ports, 'devOps'>,
  limiter: Limiter,
): Promise<void> {
  const namesByProject = new Map<string, { project: ProjectRef; names: string[] }>();
  for (const item of desired) {
    const existing = state.connections.get(item.name.toLowerCase());
    for (const project of shareWithProjects(item, projects)) {
      if (existing?.projectReferences.some((reference) => sameProject(reference, project))) continue;
      const entry = namesByProject.get(project.id.toLowerCase()) ?? { project, names: [] };
      entry.names.push(item.name);
      namesByProject.set(project.id.toLowerCase(), entry);
    }
  }
  const foundElsewhere = new Set<string>();
  await Promise.all(
    [...namesByProject.values()].map(async ({ project, names }) => {
      const found = await limiter.run(() => ports.devOps.findConnections(names, project)).catch(() => []);
      for (const connection of found) {
        state.otherProjectConnections.set(otherProjectConnectionKey(project.id, connection.name), connection);
        if (!state.connections.has(connection.name.toLowerCase())) foundElsewhere.add(connection.name.toLowerCase());
      }
    }),
  );
  // Found in another project but not here: deleted here while shared — or created and shared by another run
  // between this project's read and the other's. Read this project again for those names, so that a run
  // beside ours is not taken for a deletion (MIC413).
  if (foundElsewhere.size === 0) return;
  const names = desired.filter((item) => foundElsewhere.has(item.name.toLowerCase())).map((item) => item.name);
  for (const connection of await limiter.run(() => ports.devOps.findConnections(names))) {
    const key = connection.name.toLowerCase();
    if (!state.connections.has(key)) state.connections.set(key, connection);
  }
}

function shareWithProjects(item: DesiredConnection, projects: ReadonlyMap<string, ProjectRef>): ProjectRef[] {
  return item.shareWith.flatMap((name) => projects.get(name.toLowerCase()) ?? []);
}

function sameProject(reference: ProjectRef, project: ProjectRef): boolean {
  return reference.id.toLowerCase() === project.id.toLowerCase() || reference.name.toLowerCase() === project.name.toLowerCase();
}

async function observeProjects(environments: readonly DesiredEnvironment[], ports: Pick<Ports, 'devOps'>): Promise<Map<string, ProjectRef>> {
  const names = uniqueIgnoringCase(environments.flatMap((environment) => environment.connections.flatMap((connection) => connection.shareWith)));
  const found = new Map<string, ProjectRef>();
  if (names.length === 0) return found;
  for (const project of await ports.devOps.findProjects(names)) found.set(project.name.toLowerCase(), project);
  return found;
}

function unique(values: readonly (string | undefined)[]): string[] {
  return [...new Set(values.filter((value): value is string => value !== undefined))];
}

function uniqueIgnoringCase(values: readonly string[]): string[] {
  return [...new Map(values.map((value) => [value.toLowerCase(), value])).values()];
}
