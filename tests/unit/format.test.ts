// What the task prints is what reviewers approve. This suite protects: a plan lists every change with its
// reason, shows values that only exist after apply as such (not as empty strings), lists every grant again in
// one place, and never breaks the summary's markdown table with the text it contains.
import * as assert from 'node:assert/strict';
import { cell, formatPlanMarkdown, formatPlanText } from '../../tasks/ManagedIdentityConnections/src/core/format-plan';
import { formatProblem, formatTaskError } from '../../tasks/ManagedIdentityConnections/src/core/format-run';
import { plan } from '../../tasks/ManagedIdentityConnections/src/core/plan';
import { problem, TaskError } from '../../tasks/ManagedIdentityConnections/src/errors';
import { build, connection, desired, emptyWorld, environment, inSync } from './builders/plan-builders';

describe('formatting', () => {
  const state = desired([environment('dev', { connections: [connection('app-dev', { shareWith: ['Apps'] })] })]);
  const fresh = plan(state, build(emptyWorld(state)));

  it('lists each change with its reason, and values known only after apply as such', () => {
    const text = formatPlanText(fresh).join('\n');
    assert.match(text, /\+ create federated credential azdo-app-dev .*issuer \(read back after creation\), subject \(read back after creation\)/);
    assert.match(text, /because: Connection app-dev is new/);
    assert.doesNotMatch(text, /undefined|\[object Object\]/);
  });

  it('lists every grant again under one heading', () => {
    const text = formatPlanText(fresh).join('\n');
    const grants = text.slice(text.indexOf('Access granted by this plan:'));
    for (const expected of ['may sign in as identity id-ado-dev', 'gets Contributor', 'pipeline 42 may use connection app-dev', 'project Apps may use connection app-dev']) {
      assert.ok(grants.includes(expected), expected);
    }
  });

  it('says "no changes" for an environment that matches', () => {
    assert.match(formatPlanText(plan(state, build(inSync(state)))).join('\n'), /Environment dev: identity id-ado-dev \(client id [0-9a-f-]+\) — no changes/);
  });

  it('keeps markdown cells on one line and free of column breaks', () => {
    assert.equal(cell('a | b\nc'), 'a \\| b c');
    for (const row of formatPlanMarkdown(fresh).split('\n').filter((line) => line.startsWith('| '))) assert.equal(row.split(/(?<!\\)\|/).length, 5, row);
  });

  it('prints an error with where it is, what, and the fix; an aggregate with each problem', () => {
    const single = problem('MIC118', 'Scope "x" is malformed.', { field: 'environments[0].roles[0].scope', line: 12, column: 16 });
    assert.equal(formatProblem(single), `MIC118 (environments[0].roles[0].scope, line 12, column 16): Scope "x" is malformed. Fix: ${single.remediation}`);
    const many = formatTaskError(new TaskError('MIC100', 'Two problems.', { problems: [single, problem('MIC116', 'Twice.')] }));
    assert.deepEqual(many.split('\n').map((line) => line.slice(0, 12)), ['MIC100: Two ', '  - MIC118 (', '  - MIC116: ']);
  });
});
