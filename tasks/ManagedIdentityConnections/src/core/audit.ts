// The organization inventory (command `audit`): every Azure Resource Manager connection of the project (or of
// every project the caller can read, scope organization), what
// it signs in with and as whom, what that identity may do, when it was last used, whether this tool owns it
// and (with a spec) whether it drifted. Reads only. observeAudit reads through the ports; auditRows and
// auditFailures are pure; the formatters turn rows into a markdown table, CSV and JSON (docs/governance.md).
import type { AuditRule, AuditScope, AuditSettings } from '../config';
import { problem, type Problem } from '../errors';
import type { Ports } from '../ports';
import type { ConnectionUse } from '../ports/devops';
import { Limiter } from './concurrency';
import { cell } from './format-plan';
import { federatedCredentialLimit } from './guardrails';
import { isLegacyIssuer, LEGACY_ISSUER_RETIREMENT } from './legacy-issuer';
import { isFederated, isWrite, usesServicePrincipalSecret, type Identity, type Plan, type ProjectRef, type RoleAssignment, type ServiceConnection } from './model';
import { roleDefinitionGuidOf } from './names';
import { isTaskMarkedConnection, isTaskMarkedIdentity, ownershipMarker } from './ownership';
import { subscriptionScope } from './scopes';

export interface AuditedConnection {
  readonly connection: ServiceConnection;
  /** The projects it was listed in (a shared connection is listed in each, audited once). */
  readonly projects: readonly ProjectRef[];
  /** The user-assigned identity with the connection's client id, when one was found. */
  readonly identity?: Identity;
  /** Why the identity behind it is unknown (a list refused), when it is. */
  readonly identityUnknown?: string;
  readonly credentialCount?: number;
  readonly roles: readonly { readonly role: string; readonly scope: string }[];
  readonly lastUse?: ConnectionUse;
  /** Why the execution history could not be read, when it could not: last use unknown, which is not "never used". */
  readonly lastUseUnknown?: string;
}

export interface AuditRow {
  readonly name: string;
  /** The projects it was listed in, comma-separated. */
  readonly projects: string;
  readonly id: string;
  /** workload identity federation, secret (service principal key), managed identity (agent), or the scheme. */
  readonly scheme: string;
  readonly secretBased: boolean;
  /** Entra ID, Azure DevOps (legacy), or —. */
  readonly issuer: string;
  readonly legacyIssuer: boolean;
  readonly creationMode: string;
  /** managed identity …, app registration …, or —. */
  readonly identity: string;
  readonly appRegistration: boolean;
  /** `n/20` for a managed identity. */
  readonly credentials: string;
  readonly roles: readonly string[];
  readonly lastUsed: string;
  /** No job has used it: its execution history was read and is empty. */
  readonly neverUsed: boolean;
  readonly owned: boolean;
  /** in sync, drift: …, not in spec, or — (no spec given). */
  readonly drift: string;
  readonly drifted: boolean;
}

export interface AuditReach {
  readonly scope: AuditScope;
  /** The project the task runs in (scope project lists only it). */
  readonly project: ProjectRef;
  /** Projects that could not be listed (scope organization): reported, not fatal. */
  readonly unreadable: string[];
}

/** The connections in reach, each once, with every project it was listed in. */
async function listConnections(ports: Pick<Ports, 'devOps'>, reach: AuditReach, limiter: Limiter): Promise<{ connection: ServiceConnection; projects: ProjectRef[] }[]> {
  if (reach.scope === 'project') return (await ports.devOps.listAzureRmConnections()).map((connection) => ({ connection, projects: [reach.project] }));
  const byId = new Map<string, { connection: ServiceConnection; projects: ProjectRef[] }>();
  const projects = await ports.devOps.listProjects();
  const listed = await Promise.all(
    projects.map((project) =>
      limiter
        .run(() => ports.devOps.listAzureRmConnections(project))
        .then((connections) => ({ project, connections }))
        .catch((error: unknown) => {
          reach.unreadable.push(`${project.name}: ${error instanceof Error ? error.message : String(error)}`);
          return { project, connections: [] as ServiceConnection[] };
        }),
    ),
  );
  for (const { project, connections } of listed) {
    for (const connection of connections) {
      const entry = byId.get(connection.id.toLowerCase()) ?? { connection, projects: [] };
      entry.projects.push(project);
      byId.set(connection.id.toLowerCase(), entry);
    }
  }
  return [...byId.values()];
}

export async function observeAudit(ports: Pick<Ports, 'devOps' | 'identities' | 'roles'>, concurrency: number, reach: AuditReach): Promise<AuditedConnection[]> {
  const limiter = new Limiter(concurrency);
  const found = await listConnections(ports, reach, limiter);
  const connections = found.map((item) => item.connection);
  const projectsOf = new Map(found.map((item) => [item.connection, item.projects]));
  const federated = connections.filter((connection) => isFederated(connection) && connection.clientId && connection.subscriptionId);
  const identityBehind = identitiesByClientId(ports, limiter, federated);
  const roleNames = new Map<string, Promise<string>>();
  const roleName = (subscriptionId: string, guid: string): Promise<string> => {
    const key = `${subscriptionId}|${guid}`.toLowerCase();
    let name = roleNames.get(key);
    if (!name) {
      name = limiter.run(() => ports.roles.findRoleDefinition(subscriptionScope(subscriptionId), guid)).then((definition) => definition?.roleName ?? guid, () => guid);
      roleNames.set(key, name);
    }
    return name;
  };
  return Promise.all(
    connections.map(async (connection): Promise<AuditedConnection> => {
      const projects = projectsOf.get(connection) ?? [reach.project];
      let lastUseUnknown: string | undefined;
      const lastUse = await limiter
        .run(() => (reach.scope === 'project' ? ports.devOps.lastUsed(connection.id) : ports.devOps.lastUsed(connection.id, projects[0])))
        .catch((error: unknown) => {
          // Unknown, not "never": a history this identity may not read must not look like an unused connection.
          lastUseUnknown = error instanceof Error ? error.message : String(error);
          return undefined;
        });
      const base = { connection, projects, roles: [], ...(lastUse ? { lastUse } : {}), ...(lastUseUnknown === undefined ? {} : { lastUseUnknown }) };
      if (!federated.includes(connection)) return base;
      const subscriptionId = connection.subscriptionId!.toLowerCase();
      const identity = await identityBehind(connection);
      if (typeof identity === 'string') return { ...base, identityUnknown: identity };
      if (!identity) return base;
      const ref = identityRefOf(identity.id);
      const [credentials, assignments] = await Promise.all([
        ref ? limiter.run(() => ports.identities.listFederatedCredentials(ref)).then((items) => items.length, () => undefined) : Promise.resolve(undefined),
        limiter.run(() => ports.roles.listAssignmentsForPrincipal(subscriptionId, identity.principalId)).catch(() => [] as RoleAssignment[]),
      ]);
      const roles = await Promise.all(assignments.map(async (assignment) => ({ role: await roleName(subscriptionId, roleDefinitionGuidOf(assignment.roleDefinitionId)), scope: assignment.scope })));
      return { ...base, identity, roles, ...(credentials === undefined ? {} : { credentialCount: credentials }) };
    }),
  );
}

/**
 * The user-assigned identity behind each connection, found by its client id: one list of identities per
 * subscription the connections name, read once. A string is why it is unknown (the list was refused, or the
 * connection names no subscription); undefined, that no identity there has the client id (an app registration).
 */
export function identitiesByClientId(
  ports: Pick<Ports, 'identities'>,
  limiter: Limiter,
  connections: readonly ServiceConnection[],
): (connection: ServiceConnection) => Promise<Identity | string | undefined> {
  const lists = new Map<string, Promise<Identity[] | string>>();
  for (const subscriptionId of new Set(connections.flatMap((connection) => (connection.subscriptionId ? [connection.subscriptionId.toLowerCase()] : [])))) {
    lists.set(
      subscriptionId,
      limiter.run(() => ports.identities.listIdentitiesInSubscription(subscriptionId)).catch((error: unknown) => (error instanceof Error ? error.message : String(error))),
    );
  }
  return async (connection) => {
    const listed = connection.subscriptionId ? await lists.get(connection.subscriptionId.toLowerCase()) : 'the connection names no subscription';
    if (listed === undefined || typeof listed === 'string') return listed ?? 'the connection names no subscription';
    return listed.find((candidate) => candidate.clientId.toLowerCase() === (connection.clientId ?? '').toLowerCase());
  };
}

/** The rows of the inventory; `plan` is the spec's plan when a spec was given (for drift). */
export function auditRows(audited: readonly AuditedConnection[], plan?: Plan): AuditRow[] {
  const inSpec = new Map<string, string[]>();
  for (const environment of plan?.environments ?? []) {
    const environmentWrites = environment.actions.filter((action) => isWrite(action) && !('connectionName' in action));
    for (const snapshot of environment.connections) {
      const own = environment.actions.filter((action) => isWrite(action) && 'connectionName' in action && action.connectionName === snapshot.name);
      inSpec.set(snapshot.name.toLowerCase(), [...environmentWrites, ...own].map((action) => action.kind));
    }
  }
  return [...audited]
    .sort((a, b) => a.connection.name.localeCompare(b.connection.name) || a.connection.id.localeCompare(b.connection.id))
    .map(({ connection, projects, identity, identityUnknown, credentialCount, roles, lastUse, lastUseUnknown }) => {
      const scheme = connection.authorizationScheme;
      const federated = isFederated(connection);
      const legacy = federated && isLegacyIssuer(connection.issuer);
      const appRegistration = federated && !identity && identityUnknown === undefined && !!connection.clientId;
      const changes = inSpec.get(connection.name.toLowerCase());
      const drift = plan === undefined ? '—' : changes === undefined ? 'not in spec' : changes.length === 0 ? 'in sync' : `drift: ${[...new Set(changes)].join(', ')}`;
      return {
        name: connection.name,
        projects: projects.map((project) => project.name).join(', '),
        id: connection.id,
        scheme: describeScheme(scheme),
        secretBased: usesServicePrincipalSecret(connection),
        issuer: !federated ? '—' : legacy ? `Azure DevOps (legacy, retiring ${LEGACY_ISSUER_RETIREMENT})` : connection.issuer ? 'Entra ID' : '—',
        legacyIssuer: legacy,
        creationMode: connection.creationMode ?? '—',
        identity: identity
          ? `managed identity ${identity.name} (${identity.id})`
          : identityUnknown !== undefined
            ? `unknown (${identityUnknown})`
            : appRegistration
              ? `app registration (client id ${connection.clientId}; no managed identity with it in subscription ${connection.subscriptionId})`
              : '—',
        appRegistration,
        credentials: credentialCount === undefined ? '—' : `${credentialCount}/${federatedCredentialLimit}`,
        roles: roles.map((item) => `${item.role} on ${item.scope}`),
        lastUsed: lastUse ? `${lastUse.at}${lastUse.pipeline ? ` (${lastUse.pipeline}${lastUse.result ? `, ${lastUse.result}` : ''})` : ''}` : lastUseUnknown !== undefined ? `unknown (${lastUseUnknown})` : 'never',
        neverUsed: !lastUse && lastUseUnknown === undefined,
        owned: ownedByThisTool(connection, identity),
        drift,
        drifted: drift.startsWith('drift'),
      };
    });
}

const ruleTests: Record<AuditRule, { readonly test: (row: AuditRow) => boolean; readonly what: string }> = {
  secret: { test: (row) => row.secretBased, what: 'secret-based (a service principal key or certificate)' },
  legacyIssuer: { test: (row) => row.legacyIssuer, what: `the legacy Azure DevOps issuer, retiring ${LEGACY_ISSUER_RETIREMENT}` },
  appRegistration: { test: (row) => row.appRegistration, what: 'federation with an app registration, not a managed identity' },
  notOwned: { test: (row) => !row.owned, what: 'not managed by this tool' },
  drift: { test: (row) => row.drifted, what: 'drift from the spec' },
  neverUsed: { test: (row) => row.neverUsed, what: 'no job has used it (its execution history is empty)' },
};

/** One MIC432 problem per failOn rule some connection matches. */
export function auditFailures(rows: readonly AuditRow[], settings: AuditSettings): Problem[] {
  return settings.failOn.flatMap((rule) => {
    const matched = rows.filter(ruleTests[rule].test);
    if (matched.length === 0) return [];
    return [problem('MIC432', `auditFailOn ${rule} matched ${matched.map((row) => row.name).join(', ')}: ${ruleTests[rule].what}.`, { field: 'auditFailOn' })];
  });
}

const columns: readonly [string, (row: AuditRow) => string][] = [
  ['name', (row) => row.name],
  ['projects', (row) => row.projects],
  ['id', (row) => row.id],
  ['scheme', (row) => row.scheme],
  ['issuer', (row) => row.issuer],
  ['creationMode', (row) => row.creationMode],
  ['identity', (row) => row.identity],
  ['credentials', (row) => row.credentials],
  ['roles', (row) => row.roles.join('; ')],
  ['lastUsed', (row) => row.lastUsed],
  ['owned', (row) => (row.owned ? 'yes' : 'no')],
  ['drift', (row) => row.drift],
];

export function auditCsv(rows: readonly AuditRow[]): string {
  const quote = (value: string): string => (/[",\n\r]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value);
  return [columns.map(([name]) => name).join(','), ...rows.map((row) => columns.map(([, value]) => quote(value(row))).join(','))].join('\n') + '\n';
}

export function auditJson(rows: readonly AuditRow[]): string {
  return `${JSON.stringify({ connections: rows }, null, 2)}\n`;
}

export function auditMarkdown(rows: readonly AuditRow[], failures: readonly Problem[]): string {
  const out = [
    `## Managed identity connections — audit`,
    '',
    `${rows.length} Azure Resource Manager connection${rows.length === 1 ? '' : 's'}: ${rows.filter((row) => row.secretBased).length} secret-based, ${rows.filter((row) => row.legacyIssuer).length} on the legacy issuer, ${rows.filter((row) => row.appRegistration).length} backed by an app registration, ${rows.filter((row) => row.owned).length} managed by this tool.`,
    '',
    `| ${columns.filter(([name]) => name !== 'id').map(([name]) => name).join(' | ')} |`,
    `| ${columns.filter(([name]) => name !== 'id').map(() => '---').join(' | ')} |`,
    ...rows.map((row) => `| ${columns.filter(([name]) => name !== 'id').map(([, value]) => cell(value(row)) || '—').join(' | ')} |`),
  ];
  if (failures.length > 0) out.push('', '**Failed rules**', '', ...failures.map((failure) => `- ${cell(failure.message)}`));
  return out.join('\n');
}

/**
 * Managed by this tool: the connection's data.managedBy marker or its identity's managed-by tag (the lifecycle's
 * markers, docs/lifecycle.md), or the description earlier versions wrote.
 */
function ownedByThisTool(connection: ServiceConnection, identity: Identity | undefined): boolean {
  return isTaskMarkedConnection(connection) || (identity !== undefined && isTaskMarkedIdentity(identity)) || connection.description.includes(ownershipMarker);
}

function describeScheme(scheme: string): string {
  switch (scheme.toLowerCase()) {
    case 'workloadidentityfederation':
      return 'workload identity federation';
    case 'serviceprincipal':
      return 'secret (service principal key or certificate)';
    case 'managedserviceidentity':
      return "managed identity (the agent's)";
    default:
      return scheme;
  }
}

export function identityRefOf(resourceId: string): { subscriptionId: string; resourceGroup: string; name: string } | undefined {
  const match = /^\/subscriptions\/([^/]+)\/resourcegroups\/([^/]+)\/providers\/microsoft\.managedidentity\/userassignedidentities\/([^/]+)$/i.exec(resourceId);
  return match ? { subscriptionId: match[1]!, resourceGroup: match[2]!, name: match[3]! } : undefined;
}
