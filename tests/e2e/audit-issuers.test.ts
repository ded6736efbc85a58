// The audit across issuers, end to end: the bundled task against the emulator, whose project holds a connection
// this task provisioned on a user-assigned identity (used by a finished job), a workload identity federation
// connection of an app registration still on the legacy Azure DevOps issuer, and one on the Entra issuer. This
// suite protects: the legacy issuer and its retirement date, an app registration told from a managed identity by
// client id, last use from the execution history (a finished job's record), and the legacyIssuer /
// appRegistration / neverUsed rules failing only on the connections they match.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AuditRow } from '../../tasks/ManagedIdentityConnections/src/core/audit';
import { ado, tokenFor } from '../emulator/devops/test-world';
import { DEV, devEnvironment, e2eWorld, specText, transcript, type MicRun } from './harness';

const spec = specText([devEnvironment]);
const appRegistrations = { legacy: randomUUID(), entra: randomUUID() };

describe('e2e: audit across issuers', function () {
  this.timeout(120_000);
  const world = e2eWorld({ resetBeforeEach: false });
  let output: string;

  before(async function () {
    await world.reset();
    output = mkdtempSync(join(tmpdir(), 'mic-audit-issuers-'));
    const provision = await world.run({ environments: spec });
    assert.equal(provision.result, 'Succeeded', transcript(provision));

    const owner = await tokenFor(world.emulator, 'owner');
    const create = async (project: { id: string; name: string }, name: string, clientId: string) => {
      const response = await ado(world.emulator, 'POST', '_apis/serviceendpoint/endpoints', {
        token: owner,
        body: {
          name,
          type: 'AzureRM',
          url: 'https://management.azure.com/',
          authorization: { scheme: 'WorkloadIdentityFederation', parameters: { tenantid: world.info.tenantId, serviceprincipalid: clientId } },
          data: { environment: 'AzureCloud', scopeLevel: 'Subscription', creationMode: 'Manual', subscriptionId: DEV, subscriptionName: 'dev' },
          serviceEndpointProjectReferences: [{ projectReference: project, name, description: '' }],
        },
      });
      assert.equal(response.status, 200, JSON.stringify(response.body));
    };
    const platform = world.info.project;
    // A connection created while the organization still issued ID tokens with its own issuer keeps it.
    await world.control('POST', 'devops/organization/issuer', { issuerType: 'AzureDevOps', moveConnections: 'none' });
    await create(platform, 'legacy-app', appRegistrations.legacy);
    await world.control('POST', 'devops/organization/issuer', { issuerType: 'EntraID', moveConnections: 'none' });
    await create(platform, 'entra-app', appRegistrations.entra);

    // A job of the bootstrap pipeline uses app-dev and finishes: the connection's execution history gets a record.
    const job = await world.control<{ runId: number }>('POST', 'devops/jobs', { connections: ['app-dev'] });
    await world.control('POST', `devops/runs/${job.runId}/complete`, { result: 'succeeded' });
  });

  after(() => rmSync(output, { recursive: true, force: true }));

  async function audit(inputs: Record<string, string>): Promise<{ run: MicRun; rows: AuditRow[] }> {
    const run = await world.run({ command: 'audit', auditOutputDirectory: output, ...inputs });
    return { run, rows: (JSON.parse(readFileSync(join(output, 'audit.json'), 'utf8')) as { connections: AuditRow[] }).connections };
  }

  it('tells the legacy issuer from Entra and an app registration from a managed identity, with last use', async () => {
    const { run, rows } = await audit({});
    assert.equal(run.result, 'Succeeded', transcript(run));
    assert.equal(run.writes.length, 0, 'an audit only reads');
    const byName = new Map(rows.map((row) => [row.name, row]));
    assert.deepEqual([...byName.keys()], ['app-dev', 'bootstrap', 'entra-app', 'legacy-app'], 'only the current project');
    const legacy = byName.get('legacy-app')!;
    assert.deepEqual([legacy.legacyIssuer, legacy.issuer, legacy.appRegistration], [true, 'Azure DevOps (legacy, retiring 2027-07-01)', true]);
    assert.match(legacy.identity, new RegExp(`^app registration \\(client id ${appRegistrations.legacy}`));
    const entra = byName.get('entra-app')!;
    assert.deepEqual([entra.legacyIssuer, entra.issuer, entra.appRegistration, entra.neverUsed], [false, 'Entra ID', true, true]);
    const dev = byName.get('app-dev')!;
    assert.match(dev.identity, /^managed identity id-ado-dev /);
    assert.deepEqual([dev.appRegistration, dev.neverUsed, dev.credentials], [false, false, '1/20']);
    assert.match(dev.lastUsed, /^\d{4}-\d\d-\d\dT.* \(bootstrap, succeeded\)$/);
  });

  it('fails only on the rules that match: legacyIssuer and appRegistration name the connections, neverUsed too', async () => {
    const { run } = await audit({ auditFailOn: 'legacyIssuer,appRegistration,neverUsed,secret' });
    assert.equal(run.result, 'Failed', transcript(run));
    const texts = run.problems.filter((problem) => problem.code === 'MIC432').map((problem) => problem.text);
    assert.ok(texts.some((text) => /auditFailOn legacyIssuer matched legacy-app:/.test(text)), texts.join('\n'));
    assert.ok(texts.some((text) => /auditFailOn appRegistration matched entra-app, legacy-app:/.test(text)), texts.join('\n'));
    assert.ok(texts.some((text) => /auditFailOn neverUsed matched entra-app, legacy-app:/.test(text)), texts.join('\n'));
    assert.ok(!texts.some((text) => /auditFailOn secret/.test(text)), 'no secret connection here');
  });
});
