// Protects the other side of the retry policy: a refusal is not transient. When Azure or Azure DevOps says the
// caller may not do something — the bootstrap identity lost a role, the delegation condition forbids a
// privileged role, the build service is no Creator — the task stops that environment at once (no retry, no
// waiting out propagationTimeoutSeconds), reports the documented code with a message that names what to grant
// and where, and writes nothing after the refusal.
import assert from 'node:assert/strict';
import { DEFAULT_ROLE_ASSIGNMENT_NAMES } from '../emulator/azure/default-world';
import { ARM_API, connectionNamed, devEnvironment, DEV, e2eWorld, identityNamed, requestsTo, specText, transcript, type MicRun } from './harness';

const spec = specText([devEnvironment]);

/** Writes the emulator received after the first refused (403) request. */
function writesAfterRefusal(run: MicRun): number {
  const refused = run.requests.findIndex((entry) => entry.status === 403);
  assert.ok(refused >= 0, 'a request was refused');
  return run.requests.slice(refused + 1).filter((entry) => entry.kind === 'write').length;
}

describe('e2e: refusals fail fast with the right code', () => {
  const world = e2eWorld();

  it('a bootstrap connection that cannot sign in → MIC603 with the bootstrap remediation, at once, nothing written', async () => {
    // GIVEN the bootstrap identity lost the federated credential that trusts the bootstrap connection
    const bootstrapIdentity = identityNamed(world.state(), 'id-mic-bootstrap')!;
    const removed = await world.armAsSystem('DELETE', `${bootstrapIdentity.id}/federatedIdentityCredentials/azure-devops-contoso-bootstrap?api-version=2023-01-31`);
    assert.ok(removed.status === 200 || removed.status === 204, JSON.stringify(removed));
    // WHEN provision runs
    const run = await world.run({ environments: spec, propagationTimeoutSeconds: '20' });
    // THEN the one failure is the sign-in's, named as such, with what to check on the bootstrap connection
    assert.equal(run.result, 'Failed', transcript(run));
    assert.deepEqual([...new Set(run.problems.map((problem) => problem.code))], ['MIC603'], transcript(run));
    const [problem] = run.problems;
    assert.match(problem!.text, /bootstrap connection/i);
    assert.match(problem!.text, /AADSTS70021/);
    assert.match(problem!.text, /Fix: Check the bootstrap service connection/);
    assert.equal(run.writes.length, 0);
  });

  it('AuthorizationFailed on the identity write → MIC304 naming the action and scope, at once, nothing written after', async () => {
    // GIVEN the bootstrap identity lost Managed Identity Contributor on the identity resource group
    const scope = `/subscriptions/${DEV}/resourceGroups/rg-identities`;
    const removed = await world.armAsSystem('DELETE', `${scope}/providers/Microsoft.Authorization/roleAssignments/${DEFAULT_ROLE_ASSIGNMENT_NAMES.bootstrapIdentityContributor}?${ARM_API}`);
    assert.equal(removed.status, 200);
    // WHEN provision runs with the default 300 s propagation timeout
    const run = await world.run({ environments: spec });
    // THEN it fails with MIC304, tried once, quickly
    assert.equal(run.result, 'Failed', transcript(run));
    const refusal = run.problems.find((problem) => problem.code === 'MIC304');
    assert.ok(refusal, transcript(run));
    assert.equal(refusal.environment, 'dev');
    assert.ok(refusal.text.includes('Microsoft.ManagedIdentity/userAssignedIdentities/write'), refusal.text);
    assert.ok(refusal.text.includes(`${scope}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-ado-dev`), refusal.text);
    assert.match(refusal.text, /Fix: Grant the bootstrap identity the permission named in the message on the scope named/);
    assert.equal(requestsTo(run.requests, 'arm.identities.put').length, 1, 'not retried');
    assert.ok(run.durationMs < 10_000, `took ${Math.round(run.durationMs)} ms, not minutes of retrying`);
    assert.equal(writesAfterRefusal(run), 0);
    assert.equal(identityNamed(world.state(), 'id-ado-dev'), undefined);
  });

  it('with allowPrivilegedRoles, the delegation condition still refuses Owner: MIC304 naming roleAssignments/write, and no Owner assignment', async () => {
    // GIVEN the bootstrap identity's Role Based Access Control Administrator is conditioned to non-privileged roles
    const scope = `/subscriptions/${DEV}/resourceGroups/rg-app-dev`;
    const owner = specText([{ ...devEnvironment, roles: [{ role: 'Owner', scope }] }]);
    // WHEN the spec asks for Owner and the task is told privileged roles are allowed
    const run = await world.run({ environments: owner, allowPrivilegedRoles: 'true' });
    // THEN ARM refuses the write and the task reports it as MIC304, not as a crash or a retry
    assert.equal(run.result, 'Failed', transcript(run));
    const refusal = run.problems.find((problem) => problem.code === 'MIC304');
    assert.ok(refusal, transcript(run));
    assert.ok(refusal.text.includes("'Microsoft.Authorization/roleAssignments/write'"), refusal.text);
    assert.ok(refusal.text.includes(`over scope '${scope}/providers/Microsoft.Authorization/roleAssignments/`), refusal.text);
    assert.match(refusal.text, /ABAC condition not fulfilled/);
    assert.deepEqual(requestsTo(run.requests, 'arm.roleassignments.put').map((entry) => entry.status), [403]);
    const identity = identityNamed(world.state(), 'id-ado-dev');
    assert.ok(identity);
    assert.equal(world.state().roleAssignments.filter((assignment) => assignment.properties.principalId === identity.properties.principalId).length, 0);
  });

  it('no Creator role on service connections → MIC404 naming the Endpoint Creators group, tried once', async () => {
    // GIVEN the build service is no longer Creator in the project
    await world.control('POST', 'devops/roles', { identity: 'buildService', project: 'Platform', role: null });
    // WHEN provision runs with the job token (the build service)
    const run = await world.run({ environments: spec });
    // THEN creating the connection fails once with MIC404, and nothing depending on it is written
    assert.equal(run.result, 'Failed', transcript(run));
    const refusal = run.problems.find((problem) => problem.code === 'MIC404');
    assert.ok(refusal, transcript(run));
    assert.equal(refusal.environment, 'dev');
    assert.match(refusal.text, /create service connection app-dev/);
    assert.match(refusal.text, /Creator/);
    assert.match(refusal.text, /Endpoint Creators/);
    assert.deepEqual(requestsTo(run.requests, 'devops.endpoints.create').map((entry) => entry.status), [403]);
    assert.equal(connectionNamed(world.state(), 'app-dev'), undefined);
    assert.equal(requestsTo(run.requests, 'arm.fic.put').length, 0, 'no credential for a connection that does not exist');
  });
});
