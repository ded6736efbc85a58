// The migrate-issuer command: read the connections in scope and the identities behind them, plan the
// migration (migrate-issuer.ts, pure), print it, and — unless dryRun — apply it with the ordinary apply().
// One summary row per connection says what became of it.
import type { TaskConfig } from '../config';
import { problem, withEnvironment, type Problem } from '../errors';
import type { Ports } from '../ports';
import { apply } from './apply';
import { identitiesByClientId, identityRefOf } from './audit';
import { Limiter } from './concurrency';
import { cell, formatFindingBody } from './format-plan';
import { allFindings, isFederated, type ApplyResult, type DesiredEnvironment, type FederatedCredential, type Identity, type IdentityRef, type ServiceConnection } from './model';
import { migrationActionPrefix, ownsConnection, planIssuerMigration, unitOf, type MigrationCandidate, type MigrationPlan, type MigrationRow } from './migrate-issuer';
import type { RunResult } from './run';
import { groupedProgress, printPlan } from './run-output';

type MigrationPorts = Pick<Ports, 'devOps' | 'identities' | 'platform'>;

/** `environments`: the spec's (after `only`) for the spec scope; ignored for the project scope. */
export async function runIssuerMigration(config: TaskConfig, ports: Ports, environments: readonly DesiredEnvironment[]): Promise<RunResult> {
  const { platform } = ports;
  const settings = config.lifecycle.migration;
  const project = config.pipeline.project;
  platform.info(
    settings.scope === 'project'
      ? `Reading every workload identity federation connection of project ${project.name}${settings.includeUnowned ? ' (connections the task does not own included)' : ''}…`
      : `Reading the connections of ${environments.length} environment${environments.length === 1 ? '' : 's'}…`,
  );
  const candidates =
    settings.scope === 'project' ? await observeProject(ports, config.concurrency, project) : await observeSpec(ports, config.concurrency, environments);
  const migration = planIssuerMigration(candidates, settings);
  printPlan(platform, migration.plan);
  for (const row of migration.rows) platform.info(`${row.connection}: ${row.verdict} — ${row.reason}`);
  platform.setOutput('changesPresent', String(migration.plan.changesPresent));
  platform.setOutput('permissionsBroadened', String(migration.plan.permissionsBroadened));
  platform.setOutput('permissionsNarrowed', String(migration.plan.permissionsNarrowed));
  const warnings: Problem[] = [...allFindings(migration.plan), ...skippedWarnings(migration.rows)];
  for (const warning of warnings) platform.warn(formatFindingBody({ severity: 'warning', ...warning }));

  if (config.lifecycle.dryRun) {
    platform.uploadSummary(migrationSummary(migration, undefined, true));
    const count = migration.rows.filter((row) => row.verdict === 'migrate' || row.verdict === 'finish').length;
    return { status: warnings.length > 0 ? 'succeededWithIssues' : 'succeeded', message: `Dry run: ${count} connection${count === 1 ? '' : 's'} to migrate; nothing was changed.`, errors: [], warnings, plan: migration.plan };
  }
  const applied = await apply(migration.plan, ports, { concurrency: config.concurrency, onEvent: groupedProgress(platform, migration.plan) });
  const errors = applied.environments.flatMap((environment) => (environment.error ? [withEnvironment(environment.error, environment.environment)] : []));
  platform.uploadSummary(migrationSummary(migration, applied, false));
  const moved = migration.rows.filter((row) => outcomeOf(row, applied) === 'migrated').length;
  const message = errors.length > 0 ? `Issuer migration failed for ${errors.length} identit${errors.length === 1 ? 'y' : 'ies'}; run it again to finish (every step is safe to repeat).` : `Issuer migration: ${moved} connection${moved === 1 ? '' : 's'} on the Entra issuer now.`;
  return { status: errors.length > 0 ? 'failed' : warnings.length > 0 ? 'succeededWithIssues' : 'succeeded', message, errors, warnings, plan: migration.plan, applied };
}

/** The spec's connections, each with the environment's identity when the connection signs in as it. */
async function observeSpec(ports: MigrationPorts, concurrency: number, environments: readonly DesiredEnvironment[]): Promise<MigrationCandidate[]> {
  const limiter = new Limiter(concurrency);
  const perEnvironment = await Promise.all(
    environments.map(async (environment): Promise<MigrationCandidate[]> => {
      const ref = environment.identity.ref;
      const [connections, identity] = await Promise.all([
        limiter.run(() => ports.devOps.findConnections(environment.connections.map((connection) => connection.name))),
        limiter.run(() => ports.identities.getIdentity(ref)),
      ]);
      const credentials = identity ? await limiter.run(() => ports.identities.listFederatedCredentials(ref)) : [];
      return connections.filter(isFederated).map((connection) => candidate(environment.name, connection, ref, identity, credentials, true));
    }),
  );
  return perEnvironment.flat();
}

/** Every workload identity federation connection of the project; identities found by client id. */
async function observeProject(ports: MigrationPorts, concurrency: number, project: TaskConfig['pipeline']['project']): Promise<MigrationCandidate[]> {
  const limiter = new Limiter(concurrency);
  const connections = (await ports.devOps.listAzureRmConnections()).filter((connection) => isFederated(connection) && !connection.readerStub);
  const identityBehind = identitiesByClientId(ports, limiter, connections);
  const credentialsById = new Map<string, Promise<FederatedCredential[]>>();
  return Promise.all(
    connections.map(async (connection): Promise<MigrationCandidate> => {
      const identity = await identityBehind(connection);
      if (typeof identity === 'string') return { unit: connection.name, connection, owned: false, identityUnknown: identity };
      const ref = identity && identityRefOf(identity.id);
      if (!identity || !ref) return { unit: connection.name, connection, owned: false };
      let credentials = credentialsById.get(identity.id.toLowerCase());
      if (!credentials) {
        credentials = limiter.run(() => ports.identities.listFederatedCredentials(ref));
        credentialsById.set(identity.id.toLowerCase(), credentials);
      }
      const list = await credentials;
      return candidate(unitOf(connection, project, identity), connection, ref, identity, list, ownsConnection(connection, project, identity, list));
    }),
  );
}

function candidate(unit: string, connection: ServiceConnection, ref: IdentityRef, identity: Identity | undefined, credentials: readonly FederatedCredential[], owned: boolean): MigrationCandidate {
  if (!identity) return { unit, connection, owned, identityUnknown: `identity ${ref.name} does not exist` };
  if ((connection.clientId ?? '').toLowerCase() !== identity.clientId.toLowerCase()) {
    return { unit, connection, owned, identityUnknown: `the spec's identity ${identity.name} has client id ${identity.clientId}; run provision first` };
  }
  return { unit, connection, owned, identity: { ref, observed: identity, credentials } };
}

function skippedWarnings(rows: readonly MigrationRow[]): Problem[] {
  return rows.filter((row) => row.verdict === 'skipped').map((row) => problem(row.code ?? 'MIC446', `Connection ${row.connection} is left out of the migration: ${row.reason}`, { environment: row.unit }));
}

type Outcome = 'planned' | 'migrated' | 'already on the Entra issuer' | 'left alone' | 'failed' | 'not reached';

function outcomeOf(row: MigrationRow, applied: ApplyResult | undefined): Outcome {
  if (row.verdict === 'skipped') return 'left alone';
  if (row.verdict === 'done') return 'already on the Entra issuer';
  if (!applied) return 'planned';
  const prefix = migrationActionPrefix(row.connection);
  const all = applied.environments.flatMap((environment) => environment.actions).filter((outcome) => outcome.action.id.startsWith(prefix));
  if (all.some((outcome) => outcome.status === 'failed')) return 'failed';
  if (all.some((outcome) => outcome.status === 'skipped')) return 'not reached';
  return 'migrated';
}

/** The run summary: one row per connection. */
export function migrationSummary(migration: MigrationPlan, applied: ApplyResult | undefined, dryRun: boolean): string {
  const lines = [
    `## Issuer migration${dryRun ? ' (dry run: nothing was changed)' : ''}`,
    '',
    '| Connection | Identity | Issuer before | Result | Why |',
    '| --- | --- | --- | --- | --- |',
    ...migration.rows.map((row) => `| ${cell(row.connection)} | ${cell(row.identity ?? '—')} | ${cell(row.issuerBefore)} | ${outcomeOf(row, applied)} | ${cell(row.reason)} |`),
  ];
  return `${lines.join('\n')}\n`;
}
