// The audit's rows and rules are pure functions of what was read. This suite protects: the scheme, issuer and
// identity columns (a legacy issuer, an app registration, an identity that could not be looked up); drift
// from the spec's plan; ownership from the description marker; failOn rules matching only what they say; the
// CSV quoting; the organization scope (every readable project, a shared connection once, an unreadable project
// reported); and the audit's inputs (the spec optional for audit only, unknown rules and scopes refused with MIC102).
import * as assert from 'node:assert/strict';
import { factNames, parseCliConfig, parseTaskConfig } from '../../tasks/ManagedIdentityConnections/src/config';
import { auditCsv, auditFailures, auditRows, observeAudit, type AuditedConnection } from '../../tasks/ManagedIdentityConnections/src/core/audit';
import { ownershipMarker } from '../../tasks/ManagedIdentityConnections/src/core/ownership';
import { isTaskError } from '../../tasks/ManagedIdentityConnections/src/errors';
import { plan } from '../../tasks/ManagedIdentityConnections/src/core/plan';
import { pipelineFacts } from './builders/task-facts';
import { createFakeWorld, world } from '../fakes/fake-world';
import { build, connectionFor, desired, environment, identityFor, inSync, legacyIssuer, settings } from './builders/plan-builders';

const state = desired([environment('dev')]);
const identity = identityFor(state.environments[0]!, 0);
const ours = connectionFor(state.environments[0]!.connections[0]!, identity, settings(), 0);

function audited(overrides: Partial<AuditedConnection['connection']>, extra: Partial<AuditedConnection> = {}): AuditedConnection {
  return { connection: { ...ours, ...overrides }, projects: [world.project], roles: [], ...extra };
}

describe('audit', () => {
  const rows = auditRows(
    [
      audited({ description: `Workload identity federation for dev. ${ownershipMarker}.` }, { identity, credentialCount: 3, roles: [{ role: 'Reader', scope: '/subscriptions/x' }] }),
      audited({ name: 'old-issuer', id: 'c2', issuer: `${legacyIssuer}`, clientId: 'aaaaaaaa-0000-4000-8000-000000000001' }),
      audited({ name: 'hidden', id: 'c3' }, { identityUnknown: 'AuthorizationFailed' }),
      audited({ name: 'secret', id: 'c4', authorizationScheme: 'ServicePrincipal', issuer: undefined }),
    ],
    plan(state, build(inSync(state))),
  );
  const byName = (name: string) => rows.find((row) => row.name === name)!;

  it('describes what stands behind each connection', () => {
    assert.deepEqual([byName('app-dev').identity.startsWith('managed identity id-ado-dev'), byName('app-dev').credentials, byName('app-dev').roles], [true, '3/20', ['Reader on /subscriptions/x']]);
    assert.deepEqual([byName('old-issuer').issuer, byName('old-issuer').appRegistration], ['Azure DevOps (legacy, retiring 2027-07-01)', true]);
    assert.match(byName('hidden').identity, /^unknown \(AuthorizationFailed\)$/);
    assert.equal(byName('hidden').appRegistration, false, 'unknown is not an app registration');
    assert.deepEqual([byName('secret').scheme, byName('secret').secretBased, byName('secret').issuer], ['secret (service principal key or certificate)', true, '—']);
  });

  it('ownership from the lifecycle markers too: the connection\'s data.managedBy, or its identity\'s managed-by tag', () => {
    const marked = auditRows([
      audited({ name: 'by-marker', id: 'm1', description: '', ownerMarker: 'ManagedIdentityConnections/a0a0a0a0-0000-4000-8000-000000000001/dev' }),
      audited({ name: 'by-tag', id: 'm2', description: '' }, { identity: { ...identity, tags: { 'managed-by': 'ManagedIdentityConnections' } } }),
      audited({ name: 'other-tool', id: 'm3', description: '', ownerMarker: 'SomethingElse/x' }, { identity: { ...identity, tags: { 'managed-by': 'terraform' } } }),
    ]);
    assert.deepEqual(marked.map((row) => [row.name, row.owned]), [['by-marker', true], ['by-tag', true], ['other-tool', false]]);
  });

  it('ownership from the description marker, drift from the spec plan', () => {
    assert.deepEqual(rows.map((row) => [row.name, row.owned, row.drift]), [
      ['app-dev', true, 'in sync'],
      ['hidden', false, 'not in spec'],
      ['old-issuer', false, 'not in spec'],
      ['secret', false, 'not in spec'],
    ]);
    const drifted = auditRows([audited({})], plan(state, build({ ...inSync(state), identities: new Map() })));
    assert.match(drifted[0]!.drift, /^drift: createIdentity/);
    assert.equal(auditRows([audited({})])[0]!.drift, '—', 'no spec, no drift column');
  });

  it('fails only on the rules asked for, one problem per rule', () => {
    assert.deepEqual(auditFailures(rows, { failOn: [], scope: 'project', outputDirectory: '.' }), []);
    const failures = auditFailures(rows, { failOn: ['secret', 'appRegistration', 'drift'], scope: 'project', outputDirectory: '.' });
    assert.deepEqual(failures.map((failure) => [failure.code, failure.message.split(':')[0]]), [
      ['MIC432', 'auditFailOn secret matched secret'],
      ['MIC432', 'auditFailOn appRegistration matched old-issuer'],
    ]);
  });

  it('quotes CSV fields with commas, quotes or new lines', () => {
    const csv = auditCsv(auditRows([audited({ name: 'a,"b"' })]));
    assert.match(csv.split('\n')[1]!, /^"a,""b""",/);
  });

  describe('inputs', () => {
    const facts = pipelineFacts({ [factNames.tempDirectory]: '/agent/_temp' });
    const base = { bootstrapConnection: '0b0b0b0b-0000-4000-8000-000000000001' };

    it('the spec is optional for audit only; the output folder defaults to the agent temp folder', () => {
      const config = parseTaskConfig({ ...base, command: 'audit', auditFailOn: 'Secret, drift' }, facts);
      assert.deepEqual([config.environments.kind, config.audit], ['none', { failOn: ['secret', 'drift'], scope: 'project', outputDirectory: '/agent/_temp' }]);
      assert.throws(() => parseTaskConfig({ ...base, command: 'plan' }, facts), (error: unknown) => isTaskError(error) && error.code === 'MIC103');
    });

    it('refuses an unknown rule with MIC102 naming the input (the task) or the option (the CLI)', () => {
      assert.throws(() => parseTaskConfig({ ...base, command: 'audit', auditFailOn: 'secrets' }, facts), (error: unknown) => isTaskError(error) && error.code === 'MIC102' && error.field === 'auditFailOn');
      assert.throws(
        () => parseCliConfig({ command: 'audit', organization: 'contoso', project: 'Platform', 'fail-on': 'nope' }),
        (error: unknown) => isTaskError(error) && error.code === 'MIC102' && error.field === '--fail-on',
      );
      assert.equal(parseCliConfig({ command: 'audit', organization: 'contoso', project: 'Platform' }).audit?.outputDirectory, '.');
    });

    it('takes the scope project (default) or organization, and refuses anything else with MIC102', () => {
      assert.equal(parseTaskConfig({ ...base, command: 'audit', auditScope: 'Organization' }, facts).audit?.scope, 'organization');
      assert.equal(parseCliConfig({ command: 'audit', organization: 'contoso', project: 'Platform', scope: 'organization' }).audit?.scope, 'organization');
      assert.throws(() => parseTaskConfig({ ...base, command: 'audit', auditScope: 'tenant' }, facts), (error: unknown) => isTaskError(error) && error.code === 'MIC102' && error.field === 'auditScope');
    });
  });

  describe('neverUsed', () => {
    it('matches an empty execution history only: a used connection does not, an unreadable history is "unknown"', async () => {
      const fake = createFakeWorld();
      const used = fake.devOps.seedConnection({ name: 'used', authorizationScheme: 'ServicePrincipal', issuer: undefined, subject: undefined });
      fake.devOps.seedConnection({ name: 'idle', authorizationScheme: 'ServicePrincipal', issuer: undefined, subject: undefined });
      const hidden = fake.devOps.seedConnection({ name: 'hidden-history', authorizationScheme: 'ServicePrincipal', issuer: undefined, subject: undefined });
      fake.devOps.uses.set(used.id, { at: '2026-12-01T10:00:00.000Z', pipeline: 'deploy', result: 'succeeded' });
      const lastUsed = fake.ports.devOps.lastUsed;
      const devOps = { ...fake.ports.devOps, lastUsed: (id: string, project?: { id: string; name: string }) => (id === hidden.id ? Promise.reject(new Error('HTTP 403')) : lastUsed(id, project)) };
      const rows = auditRows(await observeAudit({ ...fake.ports, devOps }, 4, { scope: 'project', project: world.project, unreadable: [] }));
      const row = (name: string) => rows.find((candidate) => candidate.name === name)!;
      assert.deepEqual([row('used').neverUsed, row('used').lastUsed], [false, '2026-12-01T10:00:00.000Z (deploy, succeeded)']);
      assert.deepEqual([row('idle').neverUsed, row('idle').lastUsed], [true, 'never']);
      assert.deepEqual([row('hidden-history').neverUsed, row('hidden-history').lastUsed], [false, 'unknown (HTTP 403)']);
      const failures = auditFailures(rows, { failOn: ['neverUsed'], scope: 'project', outputDirectory: '.' });
      assert.deepEqual(failures.map((failure) => failure.message), ['auditFailOn neverUsed matched idle: no job has used it (its execution history is empty).']);
    });
  });

  describe('scope organization', () => {
    it('lists every readable project, a connection shared between projects once with both, and says which project it could not list', async () => {
      const fake = createFakeWorld();
      fake.devOps.seedConnection({ name: 'platform-only', authorizationScheme: 'ServicePrincipal', issuer: undefined, subject: undefined });
      fake.devOps.seedConnection({ name: 'shared', authorizationScheme: 'ServicePrincipal', issuer: undefined, subject: undefined, projectReferences: [world.project, world.otherProject] });
      fake.devOps.seedConnection({ name: 'apps-only', authorizationScheme: 'ServicePrincipal', issuer: undefined, subject: undefined, projectReferences: [world.otherProject] });
      const listInProject = fake.ports.devOps.listAzureRmConnections;
      const devOps = { ...fake.ports.devOps, listAzureRmConnections: (project?: { id: string; name: string }) => (project?.id === world.thirdProject.id ? Promise.reject(new Error('HTTP 403')) : listInProject(project)) };
      const reach = { scope: 'organization' as const, project: world.project, unreadable: [] as string[] };
      const rows = auditRows(await observeAudit({ ...fake.ports, devOps }, 4, reach));
      assert.deepEqual(rows.map((row) => [row.name, row.projects]), [['apps-only', 'Apps'], ['platform-only', 'Platform'], ['shared', 'Platform, Apps']]);
      assert.deepEqual(reach.unreadable, ['Data: HTTP 403']);
      const projectOnly = auditRows(await observeAudit(fake.ports, 4, { scope: 'project', project: world.project, unreadable: [] }));
      assert.deepEqual(projectOnly.map((row) => row.name), ['platform-only', 'shared']);
    });
  });
});
