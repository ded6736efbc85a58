// Protects "read, then decide, then act" across commands, on the real services' terms: a rerun of the same spec
// writes nothing (counted at the emulator, not inferred from the log); `plan` reports changes through its
// output variables and never writes; `verify` passes on a provisioned world, fails with MIC502 naming the
// drift when something declared disappeared, and never writes either; `provision` restores exactly what is
// missing, under the same deterministic name. Nothing added out of band is drift or removed.
import assert from 'node:assert/strict';
import { roleAssignmentName } from '../../tasks/ManagedIdentityConnections/src/core/names';
import {
  ARM_API,
  assignmentsOf,
  credentialsOf,
  devEnvironment,
  DEV,
  e2eWorld,
  identityNamed,
  requestsTo,
  roleGuid,
  specText,
  transcript,
  verifiedInLog,
  writeCounts,
  type ArmIdentity,
} from './harness';

const spec = specText([devEnvironment]);
const contributorScope = `/subscriptions/${DEV}/resourceGroups/rg-app-dev`;

describe('e2e: rerun, plan and verify', () => {
  const world = e2eWorld();

  describe('on an empty world', () => {
    it('plan reports changes that broaden permissions, and writes nothing', async () => {
      // GIVEN nothing provisioned  WHEN plan runs
      const run = await world.run({ command: 'plan', environments: spec });
      // THEN the outputs say what an apply would do, and the world is untouched
      assert.equal(run.result, 'Succeeded', transcript(run));
      assert.equal(run.outputs.changesPresent, 'true');
      assert.equal(run.outputs.permissionsBroadened, 'true');
      assert.equal(run.writes.length, 0, JSON.stringify(run.writes));
      assert.equal(identityNamed(world.state(), 'id-ado-dev'), undefined);
      assert.match(run.resultMessage ?? '', /^Plan: \d+ changes to apply\.$/);
    });
  });

  describe('on a provisioned world', () => {
    let identity: ArmIdentity;

    beforeEach(async function () {
      this.timeout(20_000);
      const first = await world.run({ environments: spec });
      assert.equal(first.result, 'Succeeded', transcript(first));
      identity = identityNamed(world.state(), 'id-ado-dev')!;
    });

    it('a second provision writes nothing and its plan says no changes', async () => {
      // GIVEN (beforeEach) a provisioned world  WHEN the same spec is provisioned again
      const run = await world.run({ environments: spec });
      assert.equal(run.result, 'Succeeded', transcript(run));
      assert.equal(run.writes.length, 0, JSON.stringify(run.writes));
      assert.equal(run.outputs.changesPresent, 'false');
      assert.equal(run.outputs.permissionsBroadened, 'false');
      assert.ok(run.log.some((line) => /^Plan: 1 environment, 0 changes/.test(line)), transcript(run));
    });

    it('plan of a change that grants nothing sets changesPresent but not permissionsBroadened', async () => {
      // GIVEN the spec now also wants a tag on the identity (a change, but no access)
      const tagged = specText([{ ...devEnvironment, identity: { tags: { owner: 'platform' } } }]);
      const run = await world.run({ command: 'plan', environments: tagged });
      assert.equal(run.result, 'Succeeded', transcript(run));
      assert.equal(run.outputs.changesPresent, 'true');
      assert.equal(run.outputs.permissionsBroadened, 'false');
      assert.equal(run.writes.length, 0);
      // Only the ownership marker provision wrote (docs/lifecycle.md): plan added nothing.
      assert.deepEqual(Object.keys(identityNamed(world.state(), 'id-ado-dev')!.tags).sort(), ['managed-by', 'managed-by-environment', 'managed-by-project']);
    });

    it('verify passes and writes nothing', async () => {
      // WHEN verify runs on what provision just made  THEN no drift, every connection signs in, nothing written
      const run = await world.run({ command: 'verify', environments: spec });
      assert.equal(run.result, 'Succeeded', transcript(run));
      assert.equal(run.writes.length, 0);
      assert.equal(run.outputs.changesPresent, 'false');
      assert.ok(verifiedInLog(run, 'dev', 'app-dev'), transcript(run));
    });

    it('verify fails with MIC502 naming a role assignment deleted out of band, and writes nothing', async () => {
      // GIVEN someone deleted the Contributor assignment
      const name = roleAssignmentName(contributorScope, roleGuid('Contributor'), identity.properties.principalId);
      const deleted = await world.armAsSystem('DELETE', `${contributorScope}/providers/Microsoft.Authorization/roleAssignments/${name}?${ARM_API}`);
      assert.equal(deleted.status, 200);
      // WHEN verify runs
      const run = await world.run({ command: 'verify', environments: spec });
      // THEN it fails on exactly that drift and changes nothing
      assert.equal(run.result, 'Failed', transcript(run));
      const drift = run.problems.find((problem) => problem.code === 'MIC502');
      assert.ok(drift, transcript(run));
      assert.match(drift.text, /1 difference from the spec/);
      assert.ok(drift.text.includes('Contributor') && drift.text.includes(contributorScope), drift.text);
      assert.equal(run.writes.length, 0);
      assert.equal(run.outputs.changesPresent, 'true');
      assert.equal(run.outputs.permissionsBroadened, 'true');
    });

    it('verify fails at once with MIC502 on a federated credential deleted out of band, instead of waiting for it to propagate', async function () {
      this.timeout(60_000);
      // GIVEN someone deleted the identity's federated credential
      const [credential] = credentialsOf(world.state(), identity);
      const deleted = await world.armAsSystem('DELETE', `${credential!.id}?api-version=2023-01-31`);
      assert.ok(deleted.status === 200 || deleted.status === 204, JSON.stringify(deleted));
      // WHEN verify runs with a propagation timeout it could wait out
      const started = Date.now();
      const run = await world.run({ command: 'verify', environments: spec, propagationTimeoutSeconds: '30' });
      const seconds = (Date.now() - started) / 1000;
      // THEN it fails with the drift its plan found, well before that timeout, and tests nothing it knows is broken
      assert.equal(run.result, 'Failed', transcript(run));
      assert.deepEqual(run.problems.map((problem) => problem.code), ['MIC502'], transcript(run));
      assert.match(run.problems[0]!.text, /federated credential/i);
      assert.ok(seconds < 15, `verify took ${seconds.toFixed(1)} s`);
      assert.deepEqual(requestsTo(run.requests, 'devops.endpointproxy'), [], 'no TestConnection of a connection without its credential');
      assert.equal(run.writes.length, 0);
    });

    it('provision restores a deleted role assignment under its deterministic name, writing nothing else', async () => {
      const name = roleAssignmentName(contributorScope, roleGuid('Contributor'), identity.properties.principalId);
      // GIVEN the Contributor assignment was deleted  WHEN provision runs
      await world.armAsSystem('DELETE', `${contributorScope}/providers/Microsoft.Authorization/roleAssignments/${name}?${ARM_API}`);
      const run = await world.run({ environments: spec });
      // THEN exactly that assignment is written back, under the same name
      assert.equal(run.result, 'Succeeded', transcript(run));
      assert.deepEqual(writeCounts(run), { 'arm.roleassignments.put': 1 });
      const restored = assignmentsOf(world.state(), identity.properties.principalId).find((assignment) => assignment.name === name);
      assert.ok(restored, 'the assignment is back under the same name');
      assert.equal(restored.properties.scope, contributorScope);
      assert.equal(restored.properties.principalType, 'ServicePrincipal');
    });

    it('a role assignment added out of band is neither drift nor removed', async () => {
      // GIVEN an operator also gave the identity Reader on rg-app-test
      const scope = `/subscriptions/${DEV}/resourceGroups/rg-app-test`;
      const extra = '55555555-0000-4000-8000-0000000000e1';
      const added = await world.armAsSystem('PUT', `${scope}/providers/Microsoft.Authorization/roleAssignments/${extra}?${ARM_API}`, {
        properties: { roleDefinitionId: `/subscriptions/${DEV}/providers/Microsoft.Authorization/roleDefinitions/${roleGuid('Reader')}`, principalId: identity.properties.principalId, principalType: 'ServicePrincipal' },
      });
      assert.equal(added.status, 201, JSON.stringify(added.body));
      // WHEN verify and provision run  THEN neither sees drift, and the extra assignment stays
      const verify = await world.run({ command: 'verify', environments: spec });
      const provision = await world.run({ environments: spec });
      assert.equal(verify.result, 'Succeeded', transcript(verify));
      assert.equal(provision.writes.length, 0);
      assert.ok(assignmentsOf(world.state(), identity.properties.principalId).some((assignment) => assignment.name === extra));
    });
  });
});
