// Protects the rule that a federated credential trusts exactly what Azure DevOps says the connection presents,
// in both issuer formats: an organization still on the legacy issuer gets credentials for
// `https://vstoken.dev.azure.com/{org}` and `sc://{org}/{project}/{connection}`, which sign in; and when Azure
// DevOps moves an existing connection to the other issuer, `verify` reports the drift (the credential to rewrite,
// naming the new issuer) at once and without writing — a sign-in test it knows must fail would only wait — and
// `provision` rewrites the credential in place, after which verify passes.
import assert from 'node:assert/strict';
import { connectionNamed, credentialsOf, devEnvironment, e2eWorld, identityNamed, requestsTo, specText, transcript, writeCounts } from './harness';

const spec = specText([devEnvironment]);

describe('e2e: issuer formats', () => {
  const world = e2eWorld();

  function credentialAndConnection() {
    const state = world.state();
    const connection = connectionNamed(state, 'app-dev')!;
    const credentials = credentialsOf(state, identityNamed(state, 'id-ado-dev')!);
    return { connection, credentials };
  }

  it('an organization defaulting to the legacy issuer still gives a new connection the Entra issuer the task asks for', async () => {
    // GIVEN new connections in this organization get the Azure DevOps (legacy) issuer unless the create asks otherwise
    await world.control('POST', 'devops/organization/issuer', { issuerType: 'DevOps', moveConnections: 'none' });
    const provision = await world.run({ environments: spec });
    assert.equal(provision.result, 'Succeeded', transcript(provision));
    const { connection, credentials } = credentialAndConnection();
    assert.equal(connection.authorization.parameters.workloadIdentityFederationIssuerType, 'EntraID');
    assert.equal(credentials[0]!.properties.issuer, connection.authorization.parameters.workloadIdentityFederationIssuer);
    assert.deepEqual(provision.warnings.filter((warning) => warning.includes('MIC421')), []);
  });

  it('an organization that keeps new connections on the legacy issuer: a vstoken/sc:// credential that verifies, and MIC421 with the retirement date', async () => {
    // GIVEN new connections in this organization get the Azure DevOps (legacy) issuer, whatever the create asks
    await world.control('POST', 'devops/organization/issuer', { issuerType: 'DevOps', moveConnections: 'none' });
    await world.control('POST', 'settings', { devops: { honourRequestedIssuerType: false } });
    const provision = await world.run({ environments: spec });
    assert.equal(provision.result, 'SucceededWithIssues', transcript(provision));
    const legacy = provision.warnings.find((warning) => warning.includes('MIC421'));
    assert.ok(legacy, transcript(provision));
    assert.match(legacy, /app-dev.*2027-07-01/);
    const { connection, credentials } = credentialAndConnection();
    const { organization, project } = world.info;
    assert.equal(credentials.length, 1);
    assert.equal(credentials[0]!.properties.issuer, `https://vstoken.dev.azure.com/${organization.id}`);
    assert.equal(credentials[0]!.properties.subject, `sc://${organization.name}/${project.name}/app-dev`);
    assert.equal(credentials[0]!.properties.issuer, connection.authorization.parameters.workloadIdentityFederationIssuer);
    assert.equal(credentials[0]!.properties.subject, connection.authorization.parameters.workloadIdentityFederationSubject);
    const verify = await world.run({ command: 'verify', environments: spec });
    assert.equal(verify.result, 'Succeeded', transcript(verify));
  });

  describe('a connection Azure DevOps moved to the other issuer', () => {
    let before: ReturnType<typeof credentialAndConnection>;

    beforeEach(async function () {
      this.timeout(20_000);
      const provision = await world.run({ environments: spec });
      assert.equal(provision.result, 'Succeeded', transcript(provision));
      await world.control('POST', 'devops/organization/issuer', { issuerType: 'AzureDevOps', moveConnections: ['app-dev'] });
      before = credentialAndConnection();
      assert.notEqual(before.credentials[0]!.properties.issuer, before.connection.authorization.parameters.workloadIdentityFederationIssuer, 'the move changed the issuer');
    });

    it('verify reports the drift naming the new issuer at once, without a sign-in test it knows must fail, and writes nothing', async () => {
      // GIVEN (beforeEach) the credential still trusts the Entra issuer  WHEN verify runs
      const run = await world.run({ command: 'verify', environments: spec });
      assert.equal(run.result, 'Failed', transcript(run));
      assert.deepEqual(run.problems.map((problem) => problem.code), ['MIC502'], transcript(run));
      assert.match(run.problems[0]!.text, /credential azdo-app-dev .*issuer https:\/\/vstoken\.dev\.azure\.com\//);
      assert.equal(requestsTo(run.requests, 'devops.endpointproxy').length, 0, 'no TestConnection');
      assert.equal(run.writes.length, 0);
    });

    it('provision rewrites the credential in place, and verify then passes', async () => {
      // WHEN provision runs  THEN the one credential is rewritten under its name, and the connection signs in again
      const run = await world.run({ environments: spec });
      assert.equal(run.result, 'Succeeded', transcript(run));
      assert.deepEqual(writeCounts(run), { 'arm.fic.put': 1 });
      const after = credentialAndConnection();
      assert.deepEqual(after.credentials.map((credential) => credential.name), ['azdo-app-dev'], 'the same credential, not a second one');
      assert.equal(after.credentials[0]!.properties.issuer, after.connection.authorization.parameters.workloadIdentityFederationIssuer);
      assert.equal(after.credentials[0]!.properties.subject, after.connection.authorization.parameters.workloadIdentityFederationSubject);
      assert.match(after.credentials[0]!.properties.issuer, /^https:\/\/vstoken\.dev\.azure\.com\//);
      const verify = await world.run({ command: 'verify', environments: spec });
      assert.equal(verify.result, 'Succeeded', transcript(verify));
    });
  });
});
