// Protects "nothing is half-done by a refused spec": every class of bad input — YAML syntax, unknown fields,
// duplicates, malformed GUIDs, names and scopes, scopes outside the spec's subscriptions, too many credentials,
// privileged or unknown roles, bad task inputs — fails the bundled task with its documented MIC code, naming the
// field (and the line, for spec text), and the emulator receives ZERO writes. Problems the task can find
// without asking Azure are found before any request at all.
import assert from 'node:assert/strict';
import { DEV, e2eWorld, transcript, type Inputs } from './harness';

// Lines 1–5 of every spec below; the environments start on line 6.
const header = `defaults:
  subscriptionId: ${DEV}
  identityResourceGroup: rg-identities
  location: westeurope
environments:
`;
const good = `${header}  - name: dev
    connections:
      - name: app-dev
`;

interface BadInput {
  readonly title: string;
  readonly inputs: Inputs;
  readonly code: string;
  readonly field: string;
  readonly line?: number;
  readonly text?: RegExp;
  /** Found only after reading Azure (e.g. an unknown role): reads happen, writes do not. */
  readonly needsReads?: boolean;
}

const cases: readonly BadInput[] = [
  {
    title: 'YAML syntax error',
    inputs: { environments: `${header}  - name: dev\n    connections:\n      - name: app-dev\n     roles: [\n` },
    code: 'MIC110',
    field: 'environments',
    line: 9,
  },
  {
    title: 'misspelled field',
    inputs: { environments: `${good}        resourceGroupp: rg-app-dev\n` },
    code: 'MIC111',
    field: 'environments[0].connections[0].resourceGroupp',
    line: 9,
    text: /did you mean "resourceGroup"\?/,
  },
  {
    title: 'duplicate environment names',
    inputs: { environments: `${good}  - name: dev\n    connections:\n      - name: app-dev-2\n` },
    code: 'MIC116',
    field: 'environments[1].name',
    line: 9,
  },
  {
    title: 'duplicate connection names, ignoring case',
    inputs: { environments: `${good}  - name: test\n    connections:\n      - name: App-Dev\n` },
    code: 'MIC117',
    field: 'environments[1].connections[0].name',
    line: 11,
  },
  {
    title: 'a subscription id that is not a GUID',
    inputs: { environments: `${good}        subscriptionId: 2222-not-a-guid\n` },
    code: 'MIC115',
    field: 'environments[0].connections[0].subscriptionId',
    line: 9,
  },
  {
    title: 'an environment name that breaks the naming rule',
    inputs: { environments: `${header}  - name: Dev_Env\n    connections:\n      - name: app-dev\n` },
    code: 'MIC114',
    field: 'environments[0].name',
    line: 6,
  },
  {
    title: 'a malformed scope',
    inputs: { environments: `${good}    roles:\n      - role: Reader\n        scope: /subscriptions/${DEV}/resourceGroups/\n` },
    code: 'MIC118',
    field: 'environments[0].roles[0].scope',
    line: 11,
  },
  {
    title: 'a scope in a subscription the spec does not name',
    inputs: { environments: `${good}    roles:\n      - role: Reader\n        scope: /subscriptions/22222222-0000-4000-8000-000000000009\n` },
    code: 'MIC119',
    field: 'environments[0].roles[0].scope',
    line: 11,
  },
  {
    title: '21 connections on one identity',
    inputs: { environments: `${header}  - name: dev\n    connections:\n${Array.from({ length: 21 }, (_, i) => `      - name: app-${i + 1}\n`).join('')}` },
    code: 'MIC201',
    field: 'environments[0].connections',
    line: 8,
  },
  {
    title: 'a privileged role without allowPrivilegedRoles',
    inputs: { environments: `${good}    roles:\n      - role: Owner\n        scope: /subscriptions/${DEV}/resourceGroups/rg-app-dev\n` },
    code: 'MIC301',
    field: 'environments[0].roles[0].role',
    line: 10,
  },
  {
    title: 'a role Azure does not know',
    inputs: { environments: `${good}    roles:\n      - role: Contributer\n        scope: /subscriptions/${DEV}/resourceGroups/rg-app-dev\n` },
    code: 'MIC303',
    field: 'environments[0].roles[0].role',
    line: 10,
    needsReads: true,
  },
  { title: 'an unknown command', inputs: { command: 'apply', environments: good }, code: 'MIC102', field: 'command', text: /use one of plan, provision, verify/ },
  { title: 'concurrency out of range', inputs: { concurrency: '0', environments: good }, code: 'MIC102', field: 'concurrency', text: /from 1 to 64/ },
  { title: 'both environments and environmentsFile', inputs: { environments: good, environmentsFile: 'samples/environments.yml' }, code: 'MIC103', field: 'environments' },
];

describe('e2e: bad input fails with its code and writes nothing', () => {
  const world = e2eWorld();

  for (const bad of cases) {
    it(`${bad.title} → ${bad.code} (${bad.field}${bad.line === undefined ? '' : `, line ${bad.line}`})`, async () => {
      // GIVEN the default world  WHEN the task runs with the bad input
      const run = await world.run(bad.inputs);
      // THEN it fails with the code, naming the field (and line), and the emulator saw no write
      assert.equal(run.result, 'Failed', transcript(run));
      assert.equal(run.exitCode, 0, 'the task completes (it reports the failure, it does not crash)');
      const found = run.problems.find((problem) => problem.code === bad.code);
      assert.ok(found, `${bad.code} in:\n${transcript(run)}`);
      assert.equal(found.field, bad.field);
      if (bad.line !== undefined) assert.equal(found.line, bad.line);
      if (bad.text) assert.match(found.text, bad.text);
      assert.match(run.resultMessage ?? '', new RegExp(`^(${bad.code}|MIC100): `));
      assert.equal(run.writes.length, 0, JSON.stringify(run.writes));
      if (!bad.needsReads) assert.equal(run.requests.length, 0, 'found before any request');
    });
  }
});
