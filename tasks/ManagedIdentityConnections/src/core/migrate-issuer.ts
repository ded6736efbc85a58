// migrate-issuer: moves workload identity federation connections from the Azure DevOps issuer
// (https://vstoken.dev.azure.com/{organization}), which retires on 2027-07-01, to the Entra issuer — without a
// moment in which a connection has no credential it can sign in with (docs/lifecycle.md, "Issuer migration").
//
// Per connection, each step one typed action of an ordinary plan (apply.ts runs it and decides nothing):
//   1. add a credential for the Entra issuer to the identity, from the predicted pair (below)
//   2. switch the connection; Azure DevOps answers with the pair it now presents
//   3. write that read-back pair onto the same credential (a write with the same values when the prediction was right)
//   4. verify that the connection signs in
//   5. only then remove the legacy credential (only one carrying our `azdo-` name, unless unowned ones are allowed)
// A connection trusts one issuer at a time and Azure DevOps only tells the new pair once it has switched, so a
// credential written after the switch would leave the connection unable to sign in until Entra has it. Step 1
// closes that gap from the documented Entra format (issuer `https://login.microsoftonline.com/{tenant}/v2.0`,
// subject `/eid1/c/pub/t/{tenant}/a/{Azure DevOps app}/sc/{organization}/{connection}`; the organization id is
// the one the connection's legacy issuer names). The pair read back always wins: step 3 rewrites the credential
// from it, so a wrong prediction costs a short gap, never a wrong credential.
//
// Crash safety: every run plans from what it reads. A legacy connection restarts at step 1 (a credential already
// there is not written again); an Entra connection whose credential is missing gets it from the pair it reports;
// one with a legacy credential still beside a working Entra one is verified and the legacy one removed.
import { problem } from '../errors';
import { isLegacyIssuer, LEGACY_ISSUER_RETIREMENT, legacyIssuerOrganization } from './legacy-issuer';
import {
  azureDevOpsApplicationId,
  fromAction,
  isDestructive,
  isGrant,
  isWrite,
  known,
  type Action,
  type EnvironmentPlan,
  type FederatedCredential,
  type Finding,
  type Identity,
  type IdentityRef,
  type Plan,
  type ProjectRef,
  type ServiceConnection,
  tokenExchangeAudience,
} from './model';
import { federatedCredentialName, guidRule, identityKey } from './names';
import { isOwnedCredentialName, isOwnedConnection, markedEnvironment } from './ownership';

export const migrationScopes = ['spec', 'project'] as const;
export type MigrationScope = (typeof migrationScopes)[number];

/** A workload identity federation connection the command looks at, with the identity it signs in as. */
export interface MigrationCandidate {
  /** The environment (spec scope, or the connection's ownership marker), else the identity's name. */
  readonly unit: string;
  readonly connection: ServiceConnection;
  /** The user-assigned identity whose client id the connection holds; absent when none was found. */
  readonly identity?: { readonly ref: IdentityRef; readonly observed: Identity; readonly credentials: readonly FederatedCredential[] };
  /** Why no identity: not found among the subscription's identities (an app registration?), or unreadable. */
  readonly identityUnknown?: string;
  /** Declared in the spec (spec scope), or carrying the task's ownership marker. */
  readonly owned: boolean;
}

export interface MigrationSettings {
  readonly scope: MigrationScope;
  /** Migrate (and remove legacy credentials of) connections and identities the task does not own. */
  readonly includeUnowned: boolean;
}

export type MigrationVerdict = 'migrate' | 'finish' | 'done' | 'skipped';

/** One row of the summary per connection. */
export interface MigrationRow {
  readonly unit: string;
  readonly connection: string;
  readonly connectionId: string;
  readonly identity?: string;
  readonly issuerBefore: string;
  readonly verdict: MigrationVerdict;
  readonly reason: string;
  /** A skipped row's warning: MIC533 (not owned) or MIC446 (not migratable here). */
  readonly code?: 'MIC533' | 'MIC446';
}

export interface MigrationPlan {
  /** The writes, as an ordinary plan: one unit per identity. */
  readonly plan: Plan;
  readonly rows: readonly MigrationRow[];
}

/** The Entra pair Azure DevOps will give the connection, from its documented format; undefined when it cannot be told. */
export function predictEntraPair(connection: ServiceConnection): { readonly issuer: string; readonly subject: string } | undefined {
  const organizationId = legacyIssuerOrganization(connection.issuer);
  const tenantId = connection.tenantId;
  if (organizationId === undefined || tenantId === undefined || !guidRule.pattern.test(tenantId)) return undefined;
  return {
    issuer: `https://login.microsoftonline.com/${tenantId.toLowerCase()}/v2.0`,
    subject: `/eid1/c/pub/t/${encodeGuid(tenantId)}/a/${encodeGuid(azureDevOpsApplicationId)}/sc/${organizationId}/${connection.id.toLowerCase()}`,
  };
}

/** The prefix of the id of every action of one connection's migration (the summary finds them by it). */
export function migrationActionPrefix(connectionName: string): string {
  return `migrate:${connectionName}:`;
}

/** The name of the Entra credential written beside the legacy one (which keeps its name until it is removed). */
export function entraCredentialName(connectionName: string): string {
  return federatedCredentialName(`${connectionName}-entra`);
}

export function planIssuerMigration(candidates: readonly MigrationCandidate[], settings: MigrationSettings): MigrationPlan {
  const rows: MigrationRow[] = [];
  const units = new Map<string, { ref: IdentityRef; identity: Identity; unit: string; connections: ServiceConnection[]; actions: Action[]; findings: Finding[] }>();
  for (const candidate of [...candidates].sort((a, b) => a.connection.name.localeCompare(b.connection.name))) {
    const { connection } = candidate;
    const row = (verdict: MigrationVerdict, reason: string, code?: MigrationRow['code']): void => {
      rows.push({ unit: candidate.unit, connection: connection.name, connectionId: connection.id, ...(candidate.identity ? { identity: candidate.identity.observed.name } : {}), issuerBefore: connection.issuer ?? '(none)', verdict, reason, ...(code ? { code } : {}) });
    };
    const refusal = refuse(candidate, settings);
    if (refusal) {
      row('skipped', refusal.reason, refusal.code);
      continue;
    }
    const identity = candidate.identity!;
    const steps = connectionSteps(candidate, identity, settings, candidate.unit);
    if (steps.actions.length === 0) {
      row(steps.verdict, steps.reason, steps.verdict === 'skipped' ? 'MIC446' : undefined);
      continue;
    }
    const key = `${candidate.unit}|${identityKey(identity.ref)}`;
    let unit = units.get(key);
    if (!unit) {
      unit = { ref: identity.ref, identity: identity.observed, unit: candidate.unit, connections: [], actions: [], findings: [] };
      units.set(key, unit);
    }
    unit.connections.push(connection);
    unit.actions.push(...steps.actions);
    unit.findings.push(...steps.findings);
    row(steps.verdict, steps.reason);
  }
  const environments: EnvironmentPlan[] = [...units.values()].map((unit) => ({
    environment: unit.unit,
    identity: { ref: unit.ref, location: unit.identity.location, observed: unit.identity },
    connections: unit.connections.map((connection) => ({ name: connection.name, subscriptionId: connection.subscriptionId ?? '', observed: connection })),
    actions: unit.actions,
    findings: unit.findings,
  }));
  const actions = environments.flatMap((environment) => environment.actions);
  return { plan: { environments, changesPresent: actions.some(isWrite), permissionsBroadened: actions.some(isGrant), permissionsNarrowed: actions.some(isDestructive) }, rows };
}

/** Why the command leaves a connection alone, or undefined when it may act on it. */
function refuse(candidate: MigrationCandidate, settings: MigrationSettings): { readonly code: 'MIC533' | 'MIC446'; readonly reason: string } | undefined {
  const { connection } = candidate;
  if (!candidate.identity) {
    return { code: 'MIC446', reason: `it signs in as client id ${connection.clientId ?? '(none)'}, which is not a user-assigned managed identity the task can read${candidate.identityUnknown ? ` (${candidate.identityUnknown})` : ''}; an app registration is migrated with the connection's Update button in the portal.` };
  }
  if (!candidate.owned && !settings.includeUnowned) return { code: 'MIC533', reason: 'not owned, left alone: it carries no ownership marker of this task (allow it with migrateUnowned).' };
  if (!connection.issuer || !connection.subject) return { code: 'MIC446', reason: 'Azure DevOps reports no issuer or subject for it.' };
  return undefined;
}

interface ConnectionSteps {
  readonly verdict: MigrationVerdict;
  readonly reason: string;
  readonly actions: readonly Action[];
  readonly findings: readonly Finding[];
}

function connectionSteps(candidate: MigrationCandidate, identity: NonNullable<MigrationCandidate['identity']>, settings: MigrationSettings, environment: string): ConnectionSteps {
  const { connection } = candidate;
  const issuer = connection.issuer!;
  const subject = connection.subject!;
  const credentials = identity.credentials;
  const id = (step: string): string => `${migrationActionPrefix(connection.name)}${step}`;
  const base = { environment, identity: identity.ref, connectionName: connection.name, audience: tokenExchangeAudience } as const;
  const findings: Finding[] = [];
  const removable = (credential: FederatedCredential): boolean => {
    if (isOwnedCredentialName(credential.name) || settings.includeUnowned) return true;
    findings.push({ severity: 'warning', connection: connection.name, ...problem('MIC533', `Legacy credential ${credential.name} on identity ${identity.observed.name} is not owned by the task, so it is left alone; remove it by hand once ${connection.name} works with the Entra issuer.`, { environment }) });
    return false;
  };
  const verifyThenRemove = (connectionFrom: Action | undefined, dependsOn: readonly string[], legacy: readonly FederatedCredential[]): Action[] => {
    const test: Action = {
      kind: 'testConnection',
      id: id('verify'),
      environment,
      connectionName: connection.name,
      connection: connectionFrom ? fromAction(connectionFrom.id, 'connection') : known(connection),
      waitForRoles: false,
      credentialWrittenThisRun: true,
      dependsOn,
      reason: `The legacy credential is removed only once ${connection.name} signs in with the Entra issuer.`,
    };
    const removals: Action[] = legacy.filter(removable).map((credential) => ({
      kind: 'deleteFederatedCredential',
      id: id(`remove:${credential.name}`),
      environment,
      identity: identity.ref,
      credentialName: credential.name,
      issuer: credential.issuer,
      subject: credential.subject,
      dependsOn: [test.id],
      reason: `${connection.name} signs in with the Entra issuer; the Azure DevOps issuer's credential is no longer used (that issuer retires on ${LEGACY_ISSUER_RETIREMENT}).`,
    }));
    return [test, ...removals];
  };

  if (isLegacyIssuer(issuer)) {
    const predicted = predictEntraPair(connection);
    if (!predicted) {
      return { verdict: 'skipped', reason: `its issuer ${issuer} or tenant ${connection.tenantId ?? '(none)'} does not have the documented form, so the Entra pair cannot be added before the switch.`, actions: [], findings: [] };
    }
    const legacy = credentials.filter((credential) => credential.issuer === issuer && credential.subject === subject);
    const prepared = credentials.find((credential) => credential.issuer === predicted.issuer && credential.subject === predicted.subject);
    const credentialName = prepared?.name ?? entraCredentialName(connection.name);
    const add: Action | undefined = prepared
      ? undefined
      : { ...base, kind: 'createFederatedCredential', id: id('add'), credentialName, issuer: known(predicted.issuer), subject: known(predicted.subject), dependsOn: [], reason: `Before the switch, so that ${connection.name} can sign in at every moment: the Entra pair in its documented format (checked against what Azure DevOps answers after the switch).` };
    const switchIssuer: Action = {
      kind: 'switchConnectionIssuer',
      id: id('switch'),
      environment,
      connectionName: connection.name,
      connectionId: connection.id,
      fromIssuer: issuer,
      dependsOn: add ? [add.id] : [],
      reason: `${connection.name} uses the Azure DevOps issuer, which retires on ${LEGACY_ISSUER_RETIREMENT}.`,
    };
    const confirm: Action = {
      ...base,
      kind: 'createFederatedCredential',
      id: id('confirm'),
      credentialName,
      issuer: fromAction(switchIssuer.id, 'connection.issuer'),
      subject: fromAction(switchIssuer.id, 'connection.subject'),
      dependsOn: [switchIssuer.id],
      reason: 'The pair Azure DevOps reads back after the switch is the one the credential must trust.',
    };
    const actions = [...(add ? [add] : []), switchIssuer, confirm, ...verifyThenRemove(switchIssuer, [confirm.id], legacy)];
    return { verdict: 'migrate', reason: `${prepared ? `credential ${prepared.name} for the Entra issuer is already there; ` : ''}switch from ${issuer} to the Entra issuer.`, actions, findings };
  }

  // Already on another issuer (a run that stopped half-way, or the portal's Update): finish what is left.
  const legacy = credentials.filter((credential) => isLegacyIssuer(credential.issuer) && legacySubjectOf(connection, credential.subject));
  const current = credentials.find((credential) => credential.issuer === issuer && credential.subject === subject);
  if (current && legacy.length === 0) return { verdict: 'done', reason: `already on ${issuer}, trusted by credential ${current.name}.`, actions: [], findings: [] };
  const write: Action | undefined = current
    ? undefined
    : { ...base, kind: 'createFederatedCredential', id: id('confirm'), credentialName: entraCredentialName(connection.name), issuer: known(issuer), subject: known(subject), dependsOn: [], reason: `${connection.name} already uses ${issuer}, but no credential on identity ${identity.observed.name} trusts it.` };
  const tail = verifyThenRemove(undefined, write ? [write.id] : [], legacy);
  const actions = [...(write ? [write] : []), ...tail];
  const left = [write ? 'its credential' : undefined, legacy.length > 0 ? `removal of ${legacy.map((credential) => credential.name).join(', ')}` : undefined].filter(Boolean).join(' and ');
  return { verdict: 'finish', reason: `already on ${issuer}; ${left} left to do.`, actions, findings };
}

/** Whether a legacy subject (`sc://{organization}/{project}/{connection}`) names this connection in one of its projects. */
function legacySubjectOf(connection: ServiceConnection, subject: string): boolean {
  const match = /^sc:\/\/[^/]+\/([^/]+)\/(.+)$/.exec(subject);
  if (!match) return false;
  const [, project, name] = match;
  return name!.toLowerCase() === connection.name.toLowerCase() && connection.projectReferences.some((reference) => reference.name.toLowerCase() === project!.toLowerCase());
}

/** Ownership in the project scope: the connection's marker, or an owned identity and credential behind it. */
export function ownsConnection(connection: ServiceConnection, project: ProjectRef, identity: Identity | undefined, credentials: readonly FederatedCredential[]): boolean {
  return isOwnedConnection(connection, project, identity ? { identity, federatedCredentials: credentials } : undefined);
}

/** The unit a connection is reported under: its marked environment, else its identity's name. */
export function unitOf(connection: ServiceConnection, project: ProjectRef, identity: Identity | undefined): string {
  return markedEnvironment(connection, project) ?? identity?.name ?? connection.name;
}

/**
 * base64url (no padding) of a GUID's 16 bytes in Microsoft's order (the first three fields little-endian):
 * how the Entra subject encodes the tenant and application ids.
 */
function encodeGuid(guid: string): string {
  const bytes = Buffer.from(guid.replace(/-/g, ''), 'hex');
  const ordered = Buffer.concat([Buffer.from(bytes.subarray(0, 4)).reverse(), Buffer.from(bytes.subarray(4, 6)).reverse(), Buffer.from(bytes.subarray(6, 8)).reverse(), bytes.subarray(8)]);
  return ordered.toString('base64url');
}
