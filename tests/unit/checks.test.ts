// Checks on the new connections (spec `checks`): approvals, exclusive lock, required template, business hours.
// This suite protects: the spec validator and the JSON Schema agree on checks and the validator refuses bad
// values with their field (MIC431, MIC115); values are normalized so that the same check compares equal
// however it was written; plan() adds a missing check after the connection exists and before any pipeline is
// authorized, rewrites a differing one in place, leaves a matching one and every other kind alone; and the
// adapter's REST body and its reading agree (what it writes reads back as the same check).
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';
import { checkConfigurationBody, toConnectionCheck } from '../../tasks/ManagedIdentityConnections/src/adapters/devops-client';
import type { Action, CheckSpec, DesiredState, Plan } from '../../tasks/ManagedIdentityConnections/src/core/model';
import { plan } from '../../tasks/ManagedIdentityConnections/src/core/plan';
import { loadSpecValue } from '../../tasks/ManagedIdentityConnections/src/spec/load-spec';
import { build, connection, desired, emptyWorld, environment, inSync } from './builders/plan-builders';
import { specWith } from './builders/spec-text';

const root = join(__dirname, '..', '..', '..');
const schemaAccepts = new Ajv({ allErrors: true }).compile(JSON.parse(readFileSync(join(root, 'tasks/ManagedIdentityConnections/src/spec/environments.v1.schema.json'), 'utf8')));

const approver = '66666666-0000-4000-8000-0000000000a1';
const allChecks = {
  approvals: { approvers: [approver.toUpperCase()], minApprovers: 1, timeoutMinutes: 1440, instructions: ' Check the plan. ' },
  exclusiveLock: true,
  requiredTemplate: { repository: 'Platform/mic-templates', ref: 'refs/tags/v1.0.0', path: 'templates/bootstrap.yml' },
  businessHours: { timeZone: 'UTC', days: ['friday', 'Monday'], start: '08:00', end: '18:00' },
};
const withChecks = (checks: unknown) => specWith((spec) => (spec.environments[0].connections[0].checks = checks));

function checksOf(spec: unknown): readonly CheckSpec[] {
  const loaded = loadSpecValue(spec, { allowPrivilegedRoles: false, only: [] });
  assert.ok(loaded.ok, JSON.stringify(!loaded.ok && loaded.problems));
  return loaded.environments[0]!.connections[0]!.checks ?? [];
}

function problemsOf(spec: unknown): { code: string; field?: string }[] {
  const loaded = loadSpecValue(spec, { allowPrivilegedRoles: false, only: [] });
  assert.ok(!loaded.ok, 'expected a refusal');
  return loaded.problems.map((item) => ({ code: item.code, ...(item.field ? { field: item.field } : {}) }));
}

function actionsOf(result: Plan, kind: Action['kind']): Action[] {
  return result.environments.flatMap((item) => item.actions).filter((action) => action.kind === kind);
}

describe('checks on connections', () => {
  describe('the spec', () => {
    it('reads every kind, normalized: approver ids lowercase, days in week order, instructions trimmed, defaults filled', () => {
      assert.deepEqual(checksOf(withChecks(allChecks)), [
        { kind: 'approval', timeoutMinutes: 1440, approvers: [approver], minApprovers: 1, instructions: 'Check the plan.' },
        { kind: 'exclusiveLock', timeoutMinutes: 43200 },
        { kind: 'requiredTemplate', timeoutMinutes: 43200, templates: [{ repositoryType: 'git', repository: 'Platform/mic-templates', ref: 'refs/tags/v1.0.0', path: 'templates/bootstrap.yml' }] },
        { kind: 'businessHours', timeoutMinutes: 43200, timeZone: 'UTC', days: ['Monday', 'Friday'], start: '08:00', end: '18:00' },
      ]);
      assert.equal(schemaAccepts(withChecks(allChecks)), true, JSON.stringify(schemaAccepts.errors));
    });

    const refused: [string, unknown, { code: string; field?: string }][] = [
      ['an approver that is not an id', { approvals: { approvers: ['alice@contoso.com'] } }, { code: 'MIC115', field: 'environments[0].connections[0].checks.approvals.approvers[0]' }],
      ['more required approvers than approvers', { approvals: { approvers: [approver], minApprovers: 2 } }, { code: 'MIC431', field: 'environments[0].connections[0].checks.approvals.minApprovers' }],
      ['a branch name instead of a ref', { requiredTemplate: { repository: 'r', ref: 'main', path: 't.yml' } }, { code: 'MIC431', field: 'environments[0].connections[0].checks.requiredTemplate.ref' }],
      ['a day that is not one', { businessHours: { timeZone: 'UTC', days: ['Someday'], start: '08:00', end: '18:00' } }, { code: 'MIC431', field: 'environments[0].connections[0].checks.businessHours.days[0]' }],
      ['a time that is not HH:MM', { businessHours: { timeZone: 'UTC', days: ['Monday'], start: '8am', end: '18:00' } }, { code: 'MIC431', field: 'environments[0].connections[0].checks.businessHours.start' }],
      ['an unknown kind of check', { branchControl: true }, { code: 'MIC111', field: 'environments[0].connections[0].checks.branchControl' }],
    ];
    for (const [label, checks, expected] of refused) {
      it(`refuses ${label}`, () => assert.deepEqual(problemsOf(withChecks(checks)), [expected]));
    }

    it('the schema refuses the shapes the validator refuses (the cross-field rule minApprovers ≤ approvers is the task\'s)', () => {
      for (const [, checks] of refused.filter(([label]) => label !== 'more required approvers than approvers')) assert.equal(schemaAccepts(withChecks(checks)), false, JSON.stringify(checks));
    });
  });

  describe('plan', () => {
    const checks = checksOf(withChecks(allChecks));
    const state = (): DesiredState => desired([environment('dev', { connections: [connection('app-dev', { checks })] })]);

    it('a new connection: each check after the connection, and pipelines authorized only after its checks', () => {
      const result = plan(state(), build(emptyWorld(state())));
      const configured = actionsOf(result, 'configureCheck');
      assert.equal(configured.length, 4);
      for (const action of configured) assert.deepEqual(action.dependsOn, ['dev/connection:app-dev']);
      const authorize = actionsOf(result, 'authorizePipelines')[0]!;
      for (const action of configured) assert.ok(authorize.dependsOn.includes(action.id), `authorize waits for ${action.id}`);
    });

    it('an existing connection with exactly these checks (and another kind besides): nothing to do', () => {
      const world = inSync(state());
      const id = world.connections.get('app-dev')!.id;
      const observed = { ...build(world), checks: new Map([[id.toLowerCase(), checks.map((check, index) => ({ ...check, id: index + 1 }))]]) };
      assert.deepEqual(actionsOf(plan(state(), observed), 'configureCheck'), []);
    });

    it('a differing check is rewritten in place (its id kept); a missing one is added', () => {
      const world = inSync(state());
      const id = world.connections.get('app-dev')!.id;
      const drifted = [{ ...checks[0]!, id: 7, minApprovers: 0 } as CheckSpec & { id: number }];
      const result = plan(state(), { ...build(world), checks: new Map([[id.toLowerCase(), drifted]]) });
      const configured = actionsOf(result, 'configureCheck') as Extract<Action, { kind: 'configureCheck' }>[];
      assert.deepEqual(configured.map((action) => [action.check.kind, action.existing?.id]), [['approval', 7], ['exclusiveLock', undefined], ['requiredTemplate', undefined], ['businessHours', undefined]]);
      assert.match(configured[0]!.reason, /differs from the spec; it is rewritten in place/);
      assert.equal(result.permissionsBroadened, false, 'a check restricts; it grants nothing');
    });
  });

  describe('the REST body', () => {
    it('reads back as the check it was written from, for every kind', () => {
      for (const check of checksOf(withChecks(allChecks))) {
        const body = checkConfigurationBody({ id: 'c0', name: 'app-dev' }, check, 3);
        assert.deepEqual(toConnectionCheck(body), { ...check, id: 3 });
      }
    });
    it('ignores kinds the task does not manage (a branch control task check)', () => {
      assert.equal(toConnectionCheck({ id: 1, type: { id: 'fe1de3ee-a436-41b4-bb20-f6eb4cb879a7' }, settings: { definitionRef: { id: '86b05a0c-73e6-4f7d-b3cf-e38f3b39a75b' } } }), undefined);
    });
  });
});
