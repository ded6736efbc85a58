// Protects the main job end to end: from a world that holds nothing but the bootstrap connection, one
// `provision` run of the bundled task — as the agent runs it — leaves exactly the estate the spec declares:
// the identity, a manual workload-identity-federation connection backed by it, one federated credential whose
// issuer and subject are the ones Azure DevOps generated for that connection, the declared role assignments
// under deterministic names, the running pipeline's permission, the share, output variables, a summary, and a
// connection Azure DevOps itself can sign in with. Every write happens once.
import assert from 'node:assert/strict';
import { roleAssignmentName } from '../../tasks/ManagedIdentityConnections/src/core/names';
import { DEFAULT_DEVOPS_IDS } from '../emulator/devops/seed';
import {
  assignmentsOf,
  connectionNamed,
  credentialsOf,
  devEnvironment,
  DEV,
  e2eWorld,
  identityNamed,
  permissionsOf,
  requestsTo,
  roleGuid,
  specText,
  TOKEN_EXCHANGE_AUDIENCE,
  transcript,
  verifiedInLog,
  writeCounts,
  type ArmIdentity,
  type MicRun,
  type ServiceEndpointView,
  type WorldState,
} from './harness';

describe('e2e: provision from an empty world', () => {
  const world = e2eWorld({ resetBeforeEach: false });
  let run: MicRun;
  let state: WorldState;
  let identity: ArmIdentity;
  let connection: ServiceEndpointView;

  // GIVEN the default world (no managed identity, no connection but the bootstrap one)
  // WHEN provision runs once with one environment
  before(async function () {
    this.timeout(30_000);
    await world.reset();
    run = await world.run({ environments: specText([devEnvironment]) });
    state = world.state();
    assert.equal(run.result, 'Succeeded', transcript(run));
    identity = identityNamed(state, 'id-ado-dev')!;
    connection = connectionNamed(state, 'app-dev')!;
    assert.ok(identity && connection, transcript(run));
  });

  it('succeeds and writes each object exactly once', () => {
    assert.equal(run.exitCode, 0);
    assert.deepEqual(writeCounts(run), {
      'arm.identities.put': 1,
      'arm.roleassignments.put': 2,
      'arm.fic.put': 1,
      'devops.endpoints.create': 1,
      'devops.pipelinepermissions.update': 1,
      'devops.endpoints.share': 1,
    });
  });

  it('creates the identity in the declared resource group and location', () => {
    assert.match(identity.id, new RegExp(`^/subscriptions/${DEV}/resourcegroups/rg-identities/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-ado-dev$`, 'i'));
    assert.equal(identity.location, 'westeurope');
    assert.equal(identity.properties.tenantId, world.info.tenantId);
  });

  it('creates an Azure Resource Manager connection, manual workload identity federation, backed by the identity', () => {
    assert.equal(connection.type, 'AzureRM');
    assert.equal(connection.authorization.scheme, 'WorkloadIdentityFederation');
    assert.equal(connection.data.creationMode, 'Manual');
    assert.equal(connection.data.scopeLevel, 'Subscription');
    assert.equal(connection.data.subscriptionId, DEV);
    assert.equal(connection.authorization.parameters.serviceprincipalid, identity.properties.clientId);
    assert.equal(connection.authorization.parameters.tenantid, identity.properties.tenantId);
  });

  it('writes one federated credential with exactly the issuer and subject Azure DevOps generated for the connection', () => {
    const credentials = credentialsOf(state, identity);
    assert.equal(credentials.length, 1);
    const [credential] = credentials;
    assert.equal(credential!.name, 'azdo-app-dev');
    assert.ok(connection.authorization.parameters.workloadIdentityFederationIssuer, 'the connection has an issuer');
    assert.equal(credential!.properties.issuer, connection.authorization.parameters.workloadIdentityFederationIssuer);
    assert.equal(credential!.properties.subject, connection.authorization.parameters.workloadIdentityFederationSubject);
    // The Entra-issuer subject embeds the connection id: proof it was read back, not computed beforehand.
    assert.ok(credential!.properties.subject.endsWith(`/${connection.id}`), credential!.properties.subject);
    assert.deepEqual(credential!.properties.audiences, [TOKEN_EXCHANGE_AUDIENCE]);
  });

  it('assigns exactly the declared roles, to a service principal, under deterministic names', () => {
    const principalId = identity.properties.principalId;
    const assignments = assignmentsOf(state, principalId);
    const expected = devEnvironment.roles.map((role) => ({ name: roleAssignmentName(role.scope, roleGuid(role.role), principalId), scope: role.scope, role: roleGuid(role.role) }));
    assert.deepEqual(
      assignments.map((assignment) => ({ name: assignment.name, scope: assignment.properties.scope, role: assignment.properties.roleDefinitionId.split('/').pop() })).sort((a, b) => a.scope.localeCompare(b.scope)),
      expected.sort((a, b) => a.scope.localeCompare(b.scope)),
    );
    for (const assignment of assignments) {
      assert.equal(assignment.properties.principalType, 'ServicePrincipal');
      assert.match(assignment.name, /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'a UUID v5');
    }
  });

  it('authorizes the running pipeline (SYSTEM_DEFINITIONID) and no other', () => {
    const permissions = permissionsOf(state, connection.id);
    const pipelineId = Number(world.info.agentEnv.SYSTEM_DEFINITIONID);
    assert.ok(permissions, 'the connection has pipeline permissions');
    assert.deepEqual(permissions.pipelines.map((pipeline) => ({ id: pipeline.id, authorized: pipeline.authorized })), [{ id: pipelineId, authorized: true }]);
    assert.notEqual(permissions.allPipelines?.authorized, true);
  });

  it('shares the connection with the other project, keeping the owner project', () => {
    assert.deepEqual(
      connection.serviceEndpointProjectReferences.map((reference) => reference.projectReference.id).sort(),
      [DEFAULT_DEVOPS_IDS.platformProjectId, DEFAULT_DEVOPS_IDS.appsProjectId].sort(),
    );
  });

  it('sets the output variables from what it created', () => {
    assert.equal(run.outputs.changesPresent, 'true');
    assert.equal(run.outputs.permissionsBroadened, 'true');
    assert.equal(run.outputs.identityClientId_dev, identity.properties.clientId);
    assert.equal(run.outputs.identityPrincipalId_dev, identity.properties.principalId);
    assert.equal(run.outputs.connectionId_app_dev, connection.id);
    assert.deepEqual(JSON.parse(run.outputs.environments!), {
      dev: {
        identity: { name: 'id-ado-dev', resourceId: identity.id, clientId: identity.properties.clientId, principalId: identity.properties.principalId, tenantId: identity.properties.tenantId },
        connections: { 'app-dev': { id: connection.id, subscriptionId: DEV, resourceGroup: null } },
      },
    });
  });

  it('writes the environments output once: no debug line repeating it', () => {
    const occurrences = run.stdout.split(`"resourceId":"${identity.id}"`).length - 1;
    assert.equal(occurrences, 1, run.stdout);
  });

  it('uploads a summary with a row for the connection: its changes and its verification', () => {
    assert.equal(run.summaries.length, 1);
    const row = run.summaries[0]!.split('\n').find((line) => line.startsWith('| dev |') && line.includes('| app-dev |'));
    assert.ok(row, run.summaries[0]);
    assert.match(row, new RegExp(`id-ado-dev \\(client id ${identity.properties.clientId}\\)`));
    for (const change of ['identity created', 'connection created', 'credential azdo-app-dev created', 'Contributor on', 'Reader on', 'shared with Apps']) assert.ok(row.includes(change), `${change} in ${row}`);
    assert.match(row, /verified/);
  });

  it('signs in once for every call: one OIDC token, one OpenID configuration and one token exchange', () => {
    // MSAL asks AzurePipelinesCredential for the client assertion twice per sign-in; the second reuses the
    // first's OIDC token (credentials.ts), which saves a round trip in the dependent chain (docs/performance.md).
    const routes = run.requests.map((entry) => entry.route);
    const count = (route: string) => routes.filter((candidate) => candidate === route).length;
    assert.deepEqual([count('devops.oidctoken'), count('entra.openid-configuration'), count('entra.token')], [1, 1, 1]);
    assert.ok(routes.indexOf('devops.oidctoken') < routes.indexOf('entra.token') && routes.indexOf('entra.openid-configuration') < routes.indexOf('entra.token'));
  });

  it('runs TestConnection after writing the credential, and the connection really signs in', async () => {
    const credentialWrite = run.requests.findIndex((entry) => entry.route === 'arm.fic.put');
    const tests = requestsTo(run.requests, 'devops.endpointproxy');
    assert.ok(tests.length >= 1, 'TestConnection ran');
    assert.ok(run.requests.indexOf(tests[0]!) > credentialWrite, 'after the credential write');
    assert.ok(verifiedInLog(run, 'dev', 'app-dev'), transcript(run));
    const independent = await world.testConnection(connection.id);
    assert.equal(independent.statusCode, 'ok', independent.errorMessage);
  });
});
