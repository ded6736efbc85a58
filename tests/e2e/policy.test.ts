// The platform policy end to end: the bundled task, given the platform's policy (inline, as the template passes
// it, or as a file), against an application spec asking for more than the platform allows. This suite
// protects: every violation is reported with its code and the rule's name, and nothing is written (the spec
// checks even run before anything is read); roles are judged after their definitions are read, still before
// any write; an invalid policy is MIC141 with its line; no rule for the project is MIC142; and a compliant
// spec plans and provisions as before, the log naming the rule that applied.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { PROD_SUBSCRIPTION } from '../emulator/azure/default-world';
import { connectionNamed, DEV, devEnvironment, e2eWorld, specText, transcript } from './harness';

const PROD = PROD_SUBSCRIPTION.id;

const strictPolicy = {
  version: 1,
  rules: [
    {
      name: 'platform-apps',
      match: { project: 'Platform', repository: 'Platform' },
      subscriptions: [DEV],
      resourceGroups: ['rg-app-*'],
      identityResourceGroups: ['rg-identities'],
      roles: ['Contributor', 'Reader'],
      identityNamePattern: '^id-ado-',
      connectionNamePattern: '^app-',
      maxEnvironments: 2,
      maxConnections: 2,
    },
  ],
};

const compliant = specText([{ name: 'dev', connections: [{ name: 'app-dev' }], roles: [{ role: 'Contributor', scope: `/subscriptions/${DEV}/resourceGroups/rg-app-dev` }] }]);

describe('e2e: platform policy', function () {
  this.timeout(120_000);
  const world = e2eWorld();

  it('refuses a hostile application spec on every count, naming the rule, with nothing read or written', async () => {
    const hostile = specText([
      { ...devEnvironment, connections: [{ name: 'app-dev', shareWith: ['Apps'], authorize: 'all' }] },
      { name: 'prod', identity: { subscriptionId: PROD, resourceGroup: 'rg-app-prod' }, connections: [{ name: 'prod-conn', subscriptionId: PROD }], roles: [{ role: 'Reader', scope: `/subscriptions/${PROD}` }] },
      { name: 'test', connections: [{ name: 'app-test' }], roles: [{ role: 'Contributor', scope: `/subscriptions/${DEV}/resourceGroups/rg-app-test` }] },
    ]);
    const run = await world.run({ environments: hostile, policy: JSON.stringify(strictPolicy), allowPrivilegedRoles: 'true' });
    assert.equal(run.result, 'Failed', transcript(run));
    const violations = run.problems.filter((problem) => problem.code !== 'MIC100'); // MIC100: the list's own header
    assert.deepEqual([...new Set(violations.map((problem) => problem.code))].sort(), ['MIC143', 'MIC144', 'MIC146', 'MIC147', 'MIC148'], transcript(run));
    for (const problem of violations) assert.match(problem.text, /platform policy rule platform-apps/);
    assert.ok(run.problems.some((problem) => problem.code === 'MIC144' && /Role Reader on \/subscriptions\/.* covers a whole subscription/.test(problem.text)), transcript(run));
    assert.equal(run.writes.length, 0);
    assert.equal(run.requests.filter((entry) => entry.service === 'arm' || entry.service === 'devops').length, 0, JSON.stringify(run.requests));
    assert.match(run.stdout, /Platform policy \(the policy input\): rule platform-apps applies to project Platform, repository Platform/);
  });

  it('refuses a role the rule does not list once its definition is read (MIC145), before any write', async () => {
    const spec = specText([{ name: 'dev', connections: [{ name: 'app-dev' }], roles: [{ role: 'Managed Identity Operator', scope: `/subscriptions/${DEV}/resourceGroups/rg-app-dev` }] }]);
    const run = await world.run({ environments: spec, policy: JSON.stringify(strictPolicy) });
    assert.equal(run.result, 'Failed', transcript(run));
    assert.deepEqual(run.problems.map((problem) => problem.code), ['MIC145'], transcript(run));
    assert.match(run.problems[0]!.text, /Role Managed Identity Operator \(f1a07417-d97a-45cb-824c-7a7467783830\) is not among the roles the platform allows: Contributor, Reader/);
    assert.equal(run.writes.length, 0);
  });

  it('plans and provisions a compliant spec from a policy file, the log naming the rule', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'mic-policy-'));
    const file = join(directory, 'platform-policy.yml');
    writeFileSync(file, stringify(strictPolicy));
    const run = await world.run({ environments: compliant, policyFile: file });
    assert.equal(run.result, 'Succeeded', transcript(run));
    assert.ok(connectionNamed(world.state(), 'app-dev'));
    assert.ok(run.stdout.includes(`Platform policy (${file}): rule platform-apps applies to project Platform, repository Platform`), run.stdout);
    assert.ok(run.summaries.some((summary) => summary.includes(`- Platform policy (${file}): rule platform-apps applies`)), 'the run summary names the rule too');
  });

  it('an invalid policy is MIC141 with its line; a project no rule matches is MIC142; both stop before anything is read', async () => {
    const invalid = await world.run({ environments: compliant, policy: 'version: 1\nrules:\n  - name: a\n    maxConnections: none\n', command: 'plan' });
    assert.equal(invalid.result, 'Failed', transcript(invalid));
    assert.deepEqual(invalid.problems.map((problem) => [problem.code, problem.field, problem.line]), [['MIC141', 'policy.rules[0].maxConnections', 4]]);

    const elsewhere = { version: 1, rules: [{ ...strictPolicy.rules[0], match: { project: 'Apps' } }] };
    const unmatched = await world.run({ environments: compliant, policy: JSON.stringify(elsewhere), command: 'plan' });
    assert.equal(unmatched.result, 'Failed', transcript(unmatched));
    assert.deepEqual(unmatched.problems.map((problem) => problem.code), ['MIC142']);
    assert.match(unmatched.problems[0]!.text, /No rule of the platform policy \(the policy input\) matches project Platform, repository Platform/);
    assert.equal([...invalid.requests, ...unmatched.requests].filter((entry) => entry.service === 'arm' || entry.service === 'devops').length, 0);
  });
});
