// migrate-issuer against the emulator with the real clients and the bundled task (docs/lifecycle.md, "Issuer
// migration"): a connection on the Azure DevOps (vstoken) issuer is moved to the Entra issuer with its
// credential added first, the switch second, the test third and the legacy credential removed last — and at no
// point, a crash at any step included, does the connection lack a credential it can sign in with. A dry run
// writes nothing; a rerun writes nothing; an organization that does not honour the request loses nothing
// (MIC445); the project scope leaves connections it does not own alone unless migrateUnowned.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { connectionNamed, credentialsOf, devEnvironment, e2eWorld, identityNamed, requestsTo, specText, transcript, writeCounts, type MicRun } from './harness';

const spec = specText([devEnvironment]);
const legacyPrefix = 'https://vstoken.dev.azure.com/';

describe('e2e: migrate-issuer', () => {
  const world = e2eWorld();

  /** A provisioned environment whose connection Azure DevOps put on the legacy issuer (an older organization). */
  async function legacyWorld(): Promise<void> {
    await world.control('POST', 'devops/organization/issuer', { issuerType: 'DevOps', moveConnections: 'none' });
    await world.control('POST', 'settings', { devops: { honourRequestedIssuerType: false } });
    const provision = await world.run({ environments: spec });
    assert.equal(provision.result, 'SucceededWithIssues', transcript(provision));
    assert.ok(connectionNamed(world.state(), 'app-dev')!.authorization.parameters.workloadIdentityFederationIssuer!.startsWith(legacyPrefix));
    // From now on the organization moves a connection when asked to.
    await world.control('POST', 'settings', { devops: { honourRequestedIssuerType: true } });
  }

  function current() {
    const state = world.state();
    const connection = connectionNamed(state, 'app-dev')!;
    const credentials = credentialsOf(state, identityNamed(state, 'id-ado-dev')!);
    const { workloadIdentityFederationIssuer: issuer, workloadIdentityFederationSubject: subject } = connection.authorization.parameters;
    return { connection, issuer: issuer!, subject: subject!, credentials, trusted: credentials.some((credential) => credential.properties.issuer === issuer && credential.properties.subject === subject) };
  }

  function assertMigrated(): void {
    const after = current();
    assert.equal(after.connection.authorization.parameters.workloadIdentityFederationIssuerType, 'EntraID');
    assert.deepEqual(
      after.credentials.map((credential) => [credential.name, credential.properties.issuer, credential.properties.subject]),
      [['azdo-app-dev-entra', after.issuer, after.subject]],
      'one credential, for the Entra pair the connection reports',
    );
  }

  it('adds the Entra credential, switches, verifies, then removes the legacy credential; verify, provision and a rerun then write nothing', async function () {
    this.timeout(60_000);
    await legacyWorld();
    const dryRun = await world.run({ command: 'migrate-issuer', environments: spec, dryRun: 'true' });
    assert.equal(dryRun.result, 'Succeeded', transcript(dryRun));
    assert.equal(dryRun.writes.length, 0);
    assert.equal(dryRun.outputs['changesPresent'], 'true');
    assert.match((dryRun.summaries[0] ?? ''), /\| app-dev \| id-ado-dev \| https:\/\/vstoken\.dev\.azure\.com\/[^|]+ \| planned \|/);

    const run = await world.run({ command: 'migrate-issuer', environments: spec });
    assert.equal(run.result, 'Succeeded', transcript(run));
    assert.deepEqual(writeCounts(run), { 'arm.fic.put': 2, 'devops.endpoints.update': 1, 'arm.fic.delete': 1 });
    // The order that keeps a working credential at every moment.
    const at = (route: string, which: 'first' | 'last' = 'first') => {
      const indexes = run.requests.flatMap((entry, index) => (entry.route === route ? [index] : []));
      return which === 'first' ? indexes[0]! : indexes[indexes.length - 1]!;
    };
    assert.ok(at('arm.fic.put') < at('devops.endpoints.update'), 'the Entra credential exists before the switch');
    assert.ok(at('devops.endpoints.update') < at('devops.endpointproxy', 'last'), 'the test follows the switch');
    assert.ok(at('devops.endpointproxy', 'last') < at('arm.fic.delete'), 'the legacy credential goes only after a successful test');
    assert.match((run.summaries[0] ?? ''), /\| app-dev \| id-ado-dev \| https:\/\/vstoken\.dev\.azure\.com\/[^|]+ \| migrated \|/);
    assertMigrated();

    const verify = await world.run({ command: 'verify', environments: spec });
    assert.equal(verify.result, 'Succeeded', transcript(verify));
    const provision = await world.run({ environments: spec });
    assert.equal(provision.writes.length, 0, transcript(provision));
    const again = await world.run({ command: 'migrate-issuer', environments: spec });
    assert.equal(again.result, 'Succeeded', transcript(again));
    assert.equal(again.writes.length, 0);
    assert.match((again.summaries[0] ?? ''), /\| app-dev \|.*\| already on the Entra issuer \|/);
  });

  it('an organization that does not honour the request: MIC445, the connection keeps signing in with its legacy credential; a rerun once it does finishes', async function () {
    this.timeout(60_000);
    await legacyWorld();
    await world.control('POST', 'settings', { devops: { honourRequestedIssuerType: false } });
    const refused = await world.run({ command: 'migrate-issuer', environments: spec });
    assert.equal(refused.result, 'Failed', transcript(refused));
    assert.deepEqual(refused.problems.map((problem) => problem.code), ['MIC445'], transcript(refused));
    const kept = current();
    assert.ok(kept.issuer.startsWith(legacyPrefix));
    assert.ok(kept.trusted, 'the legacy credential is still there');
    assert.equal((await world.testConnection(kept.connection.id)).statusCode, 'ok');
    assert.equal(requestsTo(refused.requests, 'arm.fic.delete').length, 0);

    await world.control('POST', 'settings', { devops: { honourRequestedIssuerType: true } });
    const rerun = await world.run({ command: 'migrate-issuer', environments: spec });
    assert.equal(rerun.result, 'Succeeded', transcript(rerun));
    assert.equal(requestsTo(rerun.requests, 'arm.fic.put').length, 1, 'the Entra credential from the first run is kept; only the read-back write');
    assertMigrated();
  });

  it('finishes a connection the portal already moved: writes its credential from the pair it reports, tests, removes the legacy one', async function () {
    this.timeout(60_000);
    await legacyWorld();
    await world.control('POST', 'devops/organization/issuer', { issuerType: 'EntraID', moveConnections: ['app-dev'] });
    assert.equal(current().trusted, false, 'the move left the connection without a credential');
    const run = await world.run({ command: 'migrate-issuer', environments: spec });
    assert.equal(run.result, 'Succeeded', transcript(run));
    assert.deepEqual(writeCounts(run), { 'arm.fic.put': 1, 'arm.fic.delete': 1 });
    assertMigrated();
  });

  describe('project scope', () => {
    /** As if made by hand: no tags on the identity, no data.managedBy on the connection. */
    async function disown(): Promise<void> {
      const identity = identityNamed(world.state(), 'id-ado-dev')!;
      assert.equal((await world.armAsSystem('PATCH', `${identity.id}?api-version=2023-01-31`, { tags: {} })).status, 200);
      const { collectionUri, project, systemAccessToken } = world.info;
      const id = connectionNamed(world.state(), 'app-dev')!.id;
      const headers = { authorization: `Bearer ${systemAccessToken}`, 'content-type': 'application/json' };
      const endpoint = (await (await fetch(`${collectionUri}${project.id}/_apis/serviceendpoint/endpoints/${id}?api-version=7.1`, { headers })).json()) as { data: Record<string, string> };
      delete endpoint.data['managedBy'];
      const saved = await fetch(`${collectionUri}_apis/serviceendpoint/endpoints/${id}?api-version=7.1`, { method: 'PUT', headers, body: JSON.stringify(endpoint) });
      assert.equal(saved.status, 200, await saved.text());
    }

    it('migrates every connection of the project without a spec, but one the task does not own only with migrateUnowned (MIC533 otherwise)', async function () {
      this.timeout(60_000);
      await legacyWorld();
      await disown();
      assert.ok(current().issuer.startsWith(legacyPrefix), 'saving the connection kept its issuer');
      const refused = await world.run({ command: 'migrate-issuer', migrationScope: 'project', environments: undefined });
      assert.equal(refused.result, 'SucceededWithIssues', transcript(refused));
      assert.equal(refused.writes.length, 0);
      assert.ok(refused.warnings.some((warning) => /^MIC533/.test(warning) && /app-dev/.test(warning)), transcript(refused));
      assert.match((refused.summaries[0] ?? ''), /\| app-dev \|.*\| left alone \|/);

      // `scope` is the input's alias (the name issue 11 gives it).
      const run = await world.run({ command: 'migrate-issuer', scope: 'project', migrateUnowned: 'true', environments: undefined });
      assert.equal(run.result, 'Succeeded', transcript(run));
      assertMigrated();
    });
  });

  describe('killed at every step, finished by a rerun, and never without a working credential', () => {
    const killer = join(__dirname, 'instrumentation', 'kill-on-request.js');
    const steps: [string, string, number][] = [
      ['adding the Entra credential', '^PUT [^ ]*federatedIdentityCredentials/azdo-app-dev-entra\\?', 1],
      ['switching the connection', '^PUT [^ ]*serviceendpoint/endpoints/', 1],
      ['writing the read-back pair', '^PUT [^ ]*federatedIdentityCredentials/azdo-app-dev-entra\\?', 2],
      ['removing the legacy credential', '^DELETE [^ ]*federatedIdentityCredentials/azdo-app-dev\\?', 1],
    ];
    for (const [step, request, nth] of steps) {
      it(`killed while ${step}`, async function () {
        this.timeout(60_000);
        await legacyWorld();
        const killed: MicRun = await world.run({ command: 'migrate-issuer', environments: spec }, { extraEnv: { NODE_OPTIONS: `--require ${killer}`, MIC_KILL_ON: request, MIC_KILL_ON_NTH: String(nth) } });
        assert.equal(killed.result, undefined, `the task was killed before it finished: ${transcript(killed)}`);
        const between = current();
        assert.ok(between.trusted, `after the kill, a credential trusts the pair the connection presents (${between.issuer})`);
        assert.equal((await world.testConnection(between.connection.id)).statusCode, 'ok');
        const rerun = await world.run({ command: 'migrate-issuer', environments: spec });
        assert.equal(rerun.result, 'Succeeded', transcript(rerun));
        assertMigrated();
        const third = await world.run({ command: 'migrate-issuer', environments: spec });
        assert.equal(third.writes.length, 0, 'nothing left to do');
      });
    }
  });
});
