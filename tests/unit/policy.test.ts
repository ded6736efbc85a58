// The platform policy decides, outside the application's spec, what a project / repository may ask for. This
// suite protects: the policy file is validated like the spec (every problem MIC141 with its field and line;
// the JSON Schema agrees with the validator on a corpus); the first matching rule applies and no match allows
// nothing (MIC142); every rule refuses what it should with its own code, naming the rule and pointing into the
// spec (MIC143–MIC148); roles match by the spec's wording, the definition's name or its GUID (MIC145); and
// a rule without restrictions lets the spec through.
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';
import { parse } from 'yaml';
import { factNames, parseTaskConfig } from '../../tasks/ManagedIdentityConnections/src/config';
import { roleKey } from '../../tasks/ManagedIdentityConnections/src/core/model';
import { isTaskError } from '../../tasks/ManagedIdentityConnections/src/errors';
import { checkRoles, checkSpec, globMatches, selectRule, type Policy, type PolicyRule } from '../../tasks/ManagedIdentityConnections/src/core/policy';
import { loadSpecText, loadSpecValue } from '../../tasks/ManagedIdentityConnections/src/spec/load-spec';
import { loadPolicyText } from '../../tasks/ManagedIdentityConnections/src/spec/policy-validate';
import { roles } from './builders/plan-builders';
import { pipelineFacts, planInputs } from './builders/task-facts';
import { dev, lineOf, prod, validSpec, yamlOf } from './builders/spec-text';

const root = join(__dirname, '..', '..', '..');
const schema = JSON.parse(readFileSync(join(root, 'tasks/ManagedIdentityConnections/src/spec/policy.v1.schema.json'), 'utf8'));
const schemaAccepts = new Ajv({ allErrors: true }).compile(schema);

const strictRule = {
  name: 'orders',
  match: { project: 'Apps', repository: 'orders-*' },
  subscriptions: [dev],
  resourceGroups: ['rg-orders-*'],
  identityResourceGroups: ['rg-identities-orders'],
  roles: ['Contributor', 'Reader'],
  identityNamePattern: '^id-orders-',
  connectionNamePattern: '^orders-',
  maxEnvironments: 1,
  maxConnections: 1,
};

function policyOf(value: unknown): Policy {
  const loaded = loadPolicyText(yamlOf(value), 'policy.yml');
  assert.ok(loaded.ok, JSON.stringify(!loaded.ok && loaded.problems));
  return loaded.policy;
}

function environmentsOf(spec: unknown) {
  const loaded = loadSpecValue(spec, { allowPrivilegedRoles: true, only: [] });
  assert.ok(loaded.ok, JSON.stringify(!loaded.ok && loaded.problems));
  return loaded.environments;
}

describe('platform policy', () => {
  describe('the policy file', () => {
    const valid: [string, unknown][] = [
      ['one open rule', { version: 1, rules: [{ name: 'everyone' }] }],
      ['a strict rule', { version: 1, rules: [strictRule, { name: 'rest', match: { project: '*' }, allowSharing: true, allowAuthorizeAll: true, allowPrivilegedRoles: false }] }],
    ];
    const invalid: [string, unknown][] = [
      ['no version', { rules: [{ name: 'a' }] }],
      ['version 2', { version: 2, rules: [{ name: 'a' }] }],
      ['no rules', { version: 1, rules: [] }],
      ['an unknown field', { version: 1, rules: [{ name: 'a', allowedRoles: ['Reader'] }] }],
      ['a rule without a name', { version: 1, rules: [{ roles: ['Reader'] }] }],
      ['a subscription that is not a GUID', { version: 1, rules: [{ name: 'a', subscriptions: ['dev'] }] }],
      ['maxEnvironments 0', { version: 1, rules: [{ name: 'a', maxEnvironments: 0 }] }],
      ['allowSharing as a string', { version: 1, rules: [{ name: 'a', allowSharing: 'yes' }] }],
      ['an empty roles list', { version: 1, rules: [{ name: 'a', roles: [] }] }],
      ['an unknown match key', { version: 1, rules: [{ name: 'a', match: { branch: 'main' } }] }],
    ];
    for (const [label, value] of valid) {
      it(`accepts ${label}, as the schema does`, () => {
        assert.equal(loadPolicyText(yamlOf(value), 'p').ok, true);
        assert.equal(schemaAccepts(value), true, JSON.stringify(schemaAccepts.errors));
      });
    }
    for (const [label, value] of invalid) {
      it(`refuses ${label} with MIC141, as the schema does`, () => {
        const loaded = loadPolicyText(yamlOf(value), 'p');
        assert.equal(loaded.ok, false);
        assert.ok(!loaded.ok && loaded.problems.every((item) => item.code === 'MIC141'));
        assert.equal(schemaAccepts(value), false);
      });
    }

    it('refuses what only the task checks: an invalid regular expression and a repeated rule name', () => {
      const badPattern = { version: 1, rules: [{ name: 'a', identityNamePattern: '^(id-' }] };
      const twice = { version: 1, rules: [{ name: 'a' }, { name: 'A' }] };
      for (const value of [badPattern, twice]) {
        assert.equal(schemaAccepts(value), true);
        assert.equal(loadPolicyText(yamlOf(value), 'p').ok, false);
      }
    });

    it('names the field and line of each problem, and reports them all at once', () => {
      const text = yamlOf({ version: 1, rules: [{ name: 'a', roles: ['Reader'], maxConnections: -1, allowSharing: 'no' }] });
      const loaded = loadPolicyText(text, 'policy.yml');
      assert.ok(!loaded.ok);
      assert.deepEqual(
        loaded.problems.map((item) => [item.field, item.line]),
        [
          ['policy.rules[0].maxConnections', lineOf(text, 'maxConnections')],
          ['policy.rules[0].allowSharing', lineOf(text, 'allowSharing')],
        ],
      );
      assert.match(loaded.problems[0]!.message, /^The platform policy \(policy\.yml\): /);
    });

    it('refuses text that is not YAML with MIC141', () => {
      const loaded = loadPolicyText('rules: [', 'policy.yml');
      assert.ok(!loaded.ok);
      assert.equal(loaded.problems[0]!.code, 'MIC141');
      assert.match(loaded.problems[0]!.message, /platform policy \(policy\.yml\)/);
    });
  });

  describe('which rule applies', () => {
    const policy = policyOf({ version: 1, rules: [strictRule, { name: 'platform', match: { project: 'Platform' } }] });
    it('the first whose project and repository match, ignoring case', () => {
      assert.equal(selectRule(policy, { project: 'apps', repository: 'Orders-API' })?.name, 'orders');
      assert.equal(selectRule(policy, { project: 'Platform', repository: 'anything' })?.name, 'platform');
    });
    it('none when nothing matches, or when a rule needs a repository and there is none', () => {
      assert.equal(selectRule(policy, { project: 'Apps', repository: 'billing' }), undefined);
      assert.equal(selectRule(policy, { project: 'Apps' }), undefined);
    });
    it('globs: * any run, ? one character, everything else literal', () => {
      assert.equal(globMatches('rg-orders-*', 'rg-orders-dev'), true);
      assert.equal(globMatches('rg-orders-?', 'rg-orders-dev'), false);
      assert.equal(globMatches('rg.orders', 'rg-orders'), false);
      assert.equal(globMatches('contoso/*', 'contoso/orders'), true);
    });
  });

  describe('a hostile spec against a strict rule', () => {
    const rule = policyOf({ version: 1, rules: [strictRule] }).rules[0]!;
    // validSpec(): two environments, prod in another subscription, identities in rg-identities, a connection
    // shared with Apps and open to all pipelines, Reader on the whole prod subscription.
    const problems = checkSpec(rule, environmentsOf(validSpec()), { allowPrivilegedRoles: true });
    const byCode = (code: string) => problems.filter((item) => item.code === code);

    it('refuses each violation with its own code, naming the rule and the setting', () => {
      assert.deepEqual([...new Set(problems.map((item) => item.code))].sort(), ['MIC143', 'MIC144', 'MIC146', 'MIC147', 'MIC148']);
      for (const item of problems) assert.match(item.message, /\(platform policy rule orders, [A-Za-z]+\)\.$/);
    });
    it('subscriptions (MIC143): the prod identity, connection and role', () => {
      assert.deepEqual(byCode('MIC143').map((item) => item.field), ['environments[1].identity', 'environments[1].connections[0]', 'environments[1].roles[0]']);
    });
    it('resource groups (MIC144): identity groups, a connection group, and a role on a whole subscription is not within an allowed group', () => {
      assert.ok(byCode('MIC144').some((item) => /Identity id-ado-dev would live in resource group rg-identities/.test(item.message)));
      assert.ok(byCode('MIC144').some((item) => /Connection app-dev is scoped to resource group rg-app-dev/.test(item.message)));
      assert.ok(byCode('MIC144').some((item) => /Role Contributor .* covers resource group rg-app-dev/.test(item.message)));
    });
    it('names (MIC146), limits (MIC147), sharing, authorize: all and privileged roles (MIC148)', () => {
      assert.equal(byCode('MIC146').length, 4, 'two identities, two connections');
      const setting = (item: { message: string }) => /rule orders, ([A-Za-z]+)\)\.$/.exec(item.message)![1];
      assert.deepEqual(byCode('MIC147').map(setting), ['maxEnvironments', 'maxConnections']);
      assert.deepEqual(byCode('MIC148').map(setting).sort(), ['allowAuthorizeAll', 'allowPrivilegedRoles', 'allowSharing']);
    });
    it('points into the spec: environment and line', () => {
      const text = yamlOf(validSpec());
      const loaded = loadSpecText(text, { allowPrivilegedRoles: false, only: [] });
      assert.ok(loaded.ok);
      const shared = checkSpec(rule, loaded.environments, { allowPrivilegedRoles: false }).find((item) => item.code === 'MIC148' && /shared/.test(item.message))!;
      assert.deepEqual([shared.environment, shared.field, shared.line], ['prod', 'environments[1].connections[0]', lineOf(text, 'name: app-prod')]);
    });
  });

  describe('roles', () => {
    const rule = { ...policyOf({ version: 1, rules: [{ name: 'r', roles: ['Reader', roles.contributor!.guid] }] }).rules[0]! } satisfies PolicyRule;
    const environments = environmentsOf(validSpec());
    const definitions = new Map([
      [roleKey(dev, 'Contributor'), roles.contributor!],
      [roleKey(prod, 'Reader'), roles.reader!],
    ]);
    it('matches the spec wording, the definition name or its GUID', () => {
      assert.deepEqual(checkRoles(rule, environments, definitions), []);
    });
    it('refuses a role the rule does not list with MIC145 naming the rule', () => {
      const onlyReader = { ...rule, roles: ['Reader'] };
      const refused = checkRoles(onlyReader, environments, definitions);
      assert.deepEqual(refused.map((item) => [item.code, item.field, item.environment]), [['MIC145', 'environments[0].roles[0].role', 'dev']]);
      assert.match(refused[0]!.message, /Role Contributor \(b24988ac-6180-42a0-ab88-20f7382dd24c\) is not among the roles the platform allows: Reader \(platform policy rule r, roles\)\./);
    });
  });

  it('a rule without restrictions lets an ordinary spec through', () => {
    const open = policyOf({ version: 1, rules: [{ name: 'open', allowSharing: true, allowAuthorizeAll: true }] }).rules[0]!;
    assert.deepEqual(checkSpec(open, environmentsOf(validSpec()), { allowPrivilegedRoles: false }), []);
  });

  it('every policy example in docs/governance.md is valid for the task and the schema', () => {
    const docs = readFileSync(join(root, 'docs/governance.md'), 'utf8');
    const blocks = [...docs.matchAll(/```yaml policy\n([\s\S]*?)```/g)].map((match) => match[1]!);
    assert.ok(blocks.length >= 1);
    for (const block of blocks) {
      const loaded = loadPolicyText(block, 'docs');
      assert.ok(loaded.ok, JSON.stringify(!loaded.ok && loaded.problems));
      assert.equal(schemaAccepts(parse(block)), true, JSON.stringify(schemaAccepts.errors));
    }
  });

  it('policyFile left empty, which the agent roots at the sources directory, means no policy; policy and policyFile together are MIC140', () => {
    const inputs = planInputs;
    const facts = pipelineFacts({ [factNames.sourcesDirectory]: '/agent/_work/1/s' });
    assert.equal(parseTaskConfig({ ...inputs, policyFile: '/agent/_work/1/s' }, facts).policy, undefined);
    assert.deepEqual(parseTaskConfig({ ...inputs, policyFile: '/agent/_work/1/s/policy.yml' }, facts).policy, { kind: 'file', path: '/agent/_work/1/s/policy.yml' });
    assert.throws(() => parseTaskConfig({ ...inputs, policy: 'version: 1', policyFile: '/agent/_work/1/s/policy.yml' }, facts), (error: unknown) => isTaskError(error) && error.code === 'MIC140');
  });
});

