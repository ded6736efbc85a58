// Protects "never re-enable": Azure DevOps disables connections unused for 100 days, and whether one comes back
// is the owner's decision. `provision` reports a disabled connection (MIC402 warning, SucceededWithIssues),
// neither writes to it nor tests it, and leaves it disabled; `verify` — whose job is to say whether every
// connection works — fails on it.
import assert from 'node:assert/strict';
import { connectionNamed, devEnvironment, e2eWorld, requestsTo, specText, transcript } from './harness';

const spec = specText([devEnvironment]);

describe('e2e: a disabled connection', () => {
  const world = e2eWorld();

  beforeEach(async function () {
    this.timeout(20_000);
    // GIVEN a provisioned environment whose connection Azure DevOps then disabled
    const provision = await world.run({ environments: spec });
    assert.equal(provision.result, 'Succeeded', transcript(provision));
    await world.control('POST', 'devops/serviceendpoints/app-dev/disable');
  });

  it('provision warns with MIC402, does not test it, writes nothing, and leaves it disabled', async () => {
    const run = await world.run({ environments: spec });
    assert.equal(run.result, 'SucceededWithIssues', transcript(run));
    const warning = run.warnings.find((text) => text.includes('MIC402'));
    assert.ok(warning, transcript(run));
    assert.match(warning, /app-dev is disabled/);
    assert.equal(run.writes.length, 0, JSON.stringify(run.writes));
    assert.equal(requestsTo(run.requests, 'devops.endpointproxy').length, 0, 'a disabled connection is not tested');
    assert.equal(connectionNamed(world.state(), 'app-dev')!.isDisabled, true);
  });

  it('verify fails with MIC402 naming the connection, and writes nothing', async () => {
    const run = await world.run({ command: 'verify', environments: spec });
    assert.equal(run.result, 'Failed', transcript(run));
    const problem = run.problems.find((candidate) => candidate.code === 'MIC402');
    assert.ok(problem, transcript(run));
    assert.equal(problem.field, 'environments[0].connections[0].name');
    assert.match(problem.text, /app-dev is disabled/);
    assert.equal(run.writes.length, 0);
    assert.equal(connectionNamed(world.state(), 'app-dev')!.isDisabled, true);
  });
});
