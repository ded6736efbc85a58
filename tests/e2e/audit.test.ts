// The organization inventory, end to end: the bundled task's `audit` command against the emulator's project,
// which holds the bootstrap connection (made by hand), a connection this tool provisioned and a secret-based
// one. This suite protects: every Azure Resource Manager connection is listed with its scheme, issuer, the
// identity behind it (a managed identity found by client id, with its credential budget and roles), last use,
// ownership and drift against the spec; the rows reach the summary, audit.json and audit.csv; the audit
// writes nothing; it fails only on the auditFailOn rules a connection matches (MIC432); and with auditScope
// organization it lists the connections of every project the caller can read, a shared one once.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BOOTSTRAP_IDENTITY } from '../emulator/azure/default-world';
import { DEFAULT_DEVOPS_IDS } from '../emulator/devops/seed';
import { DEV, devEnvironment, e2eWorld, specText, transcript } from './harness';

interface Row {
  name: string;
  projects: string;
  scheme: string;
  secretBased: boolean;
  issuer: string;
  identity: string;
  credentials: string;
  roles: string[];
  lastUsed: string;
  owned: boolean;
  drift: string;
}

const spec = specText([devEnvironment]);

describe('e2e: audit', function () {
  this.timeout(120_000);
  const world = e2eWorld({ resetBeforeEach: false });
  let rows: Row[];

  /** A connection someone made by hand with a client secret, in a project, as the build service. */
  async function createSecretConnection(project: { id: string; name: string }, name: string, servicePrincipalId: string): Promise<void> {
    const info = world.info;
    const created = await fetch(`${info.collectionUri}${project.id}/_apis/serviceendpoint/endpoints?api-version=7.1`, {
      method: 'POST',
      headers: { authorization: `Bearer ${info.systemAccessToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        name,
        type: 'azurerm',
        url: 'https://management.azure.com/',
        authorization: { scheme: 'ServicePrincipal', parameters: { tenantid: info.tenantId, serviceprincipalid: servicePrincipalId, authenticationType: 'spnKey', serviceprincipalkey: 'not-a-real-secret' } },
        data: { subscriptionId: DEV, subscriptionName: 'mic-emulator-dev', environment: 'AzureCloud', scopeLevel: 'Subscription', creationMode: 'Manual' },
        serviceEndpointProjectReferences: [{ projectReference: project, name }],
      }),
    });
    assert.equal(created.status, 200, await created.text());
  }

  before(async function () {
    await world.reset();
    assert.equal((await world.run({ environments: spec })).result, 'Succeeded');
    // A connection someone made by hand with a client secret.
    await createSecretConnection({ id: world.info.project.id, name: world.info.project.name }, 'legacy-secret', '77777777-0000-4000-8000-000000000001');
  });

  it('lists every connection with what stands behind it, writes the JSON and CSV files, and writes nothing to Azure or Azure DevOps', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'mic-audit-'));
    const run = await world.run({ command: 'audit', environments: spec, auditOutputDirectory: directory });
    assert.equal(run.result, 'Succeeded', transcript(run));
    assert.equal(run.writes.length, 0, JSON.stringify(run.writes));
    rows = (JSON.parse(readFileSync(join(directory, 'audit.json'), 'utf8')) as { connections: Row[] }).connections;
    assert.deepEqual(rows.map((row) => row.name), ['app-dev', 'bootstrap', 'legacy-secret']);
    const [appDev, bootstrap, secret] = rows as [Row, Row, Row];
    assert.deepEqual([appDev.scheme, appDev.issuer, appDev.owned, appDev.drift, appDev.credentials], ['workload identity federation', 'Entra ID', true, 'in sync', '1/20']);
    assert.match(appDev.identity, /^managed identity id-ado-dev /);
    assert.ok(appDev.roles.some((role) => /^Contributor on \/subscriptions\/.*\/resourceGroups\/rg-app-dev$/.test(role)), appDev.roles.join('; '));
    assert.match(bootstrap.identity, new RegExp(`^managed identity ${BOOTSTRAP_IDENTITY.name} `));
    assert.deepEqual([bootstrap.owned, bootstrap.drift], [false, 'not in spec']);
    assert.deepEqual([secret.secretBased, secret.issuer, secret.identity], [true, '—', '—']);
    assert.equal(run.outputs['auditConnections'], '3');
    assert.equal(run.outputs['auditJsonFile'], join(directory, 'audit.json'));
    const csv = readFileSync(join(directory, 'audit.csv'), 'utf8').split('\n');
    assert.equal(csv[0], 'name,projects,id,scheme,issuer,creationMode,identity,credentials,roles,lastUsed,owned,drift');
    assert.equal(csv.filter(Boolean).length, 4);
    assert.ok(!readFileSync(join(directory, 'audit.json'), 'utf8').includes('not-a-real-secret'));
    assert.ok(run.summaries.some((summary) => summary.includes('3 Azure Resource Manager connections: 1 secret-based')), run.summaries.join('\n'));
  });

  it('fails with MIC432 only for the auditFailOn rules some connection matches, naming them', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'mic-audit-'));
    const failing = await world.run({ command: 'audit', auditOutputDirectory: directory, auditFailOn: 'secret,notOwned,legacyIssuer' });
    assert.equal(failing.result, 'Failed', transcript(failing));
    assert.deepEqual(
      failing.problems.filter((problem) => problem.code === 'MIC432').map((problem) => problem.text.replace(/ Fix:.*$/, '')),
      ['auditFailOn secret matched legacy-secret: secret-based (a service principal key or certificate).', 'auditFailOn notOwned matched bootstrap, legacy-secret: not managed by this tool.'],
    );
    const passing = await world.run({ command: 'audit', auditOutputDirectory: directory, auditFailOn: 'legacyIssuer,drift' });
    assert.equal(passing.result, 'Succeeded', transcript(passing));
  });

  it('with auditScope organization, lists every readable project\'s connections: one only in Apps, the shared one once', async () => {
    // The build service may create connections in Apps too (so it sees the one it creates there).
    await world.control('POST', 'devops/roles', { identity: 'buildService', project: 'Apps', role: 'Creator' });
    await createSecretConnection({ id: DEFAULT_DEVOPS_IDS.appsProjectId, name: 'Apps' }, 'apps-secret', '77777777-0000-4000-8000-000000000002');
    const directory = mkdtempSync(join(tmpdir(), 'mic-audit-'));
    const run = await world.run({ command: 'audit', auditScope: 'organization', auditOutputDirectory: directory });
    assert.equal(run.result, 'Succeeded', transcript(run));
    assert.equal(run.writes.length, 0, JSON.stringify(run.writes));
    const all = (JSON.parse(readFileSync(join(directory, 'audit.json'), 'utf8')) as { connections: Row[] }).connections;
    assert.deepEqual(
      all.map((row) => [row.name, row.projects]),
      [['app-dev', 'Platform, Apps'], ['apps-secret', 'Apps'], ['bootstrap', 'Platform'], ['legacy-secret', 'Platform']],
    );
    const projectOnly = await world.run({ command: 'audit', auditOutputDirectory: directory });
    assert.equal(projectOnly.outputs['auditConnections'], '3', transcript(projectOnly));
  });
});
