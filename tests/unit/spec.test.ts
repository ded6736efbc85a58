// The environments spec is the task's public interface and the first thing a user gets wrong. This suite
// protects three promises: every class of bad input is refused before any call is made, with a stable code,
// the field path and the line (and what is allowed, or a spelling suggestion); all problems come at once, not
// one per run; and a valid spec resolves its defaults exactly as docs/environments-spec.md says.
import * as assert from 'node:assert/strict';
import type { Problem } from '../../tasks/ManagedIdentityConnections/src/errors';
import { loadSpecText, loadSpecValue, type LoadSpecOptions } from '../../tasks/ManagedIdentityConnections/src/spec/load-spec';
import { dev, lineOf, prod, specWith, validSpec, yamlOf } from './builders/spec-text';

const strict: LoadSpecOptions = { allowPrivilegedRoles: false, only: [] };

function problemsOf(text: string, options: LoadSpecOptions = strict): readonly Problem[] {
  const result = loadSpecText(text, options);
  assert.equal(result.ok, false, 'expected the spec to be refused');
  return result.ok ? [] : result.problems;
}

function theProblem(text: string, options: LoadSpecOptions = strict): { code: string; field?: string; line?: number; message: string } {
  const problems = problemsOf(text, options);
  assert.equal(problems.length, 1, `expected one problem, got: ${problems.map((item) => `${item.code} ${item.message}`).join(' | ')}`);
  const [{ code, field, line, message }] = problems as [Problem];
  return { code, message, ...(field === undefined ? {} : { field }), ...(line === undefined ? {} : { line }) };
}

function accepted(text: string, options: LoadSpecOptions = strict) {
  const result = loadSpecText(text, options);
  assert.ok(result.ok, result.ok ? '' : result.problems.map((item) => `${item.code} ${item.field}: ${item.message}`).join('\n'));
  return result.environments;
}

describe('environments spec', () => {
  describe('syntax', () => {
    it('reports a YAML error with its line and column', () => {
      const text = 'environments:\n  - name: dev\n    connections: [ { name: a }\n    roles: []\n';
      const found = theProblem(text);
      assert.equal(found.code, 'MIC110');
      assert.equal(found.line, 4);
      assert.match(found.message, /line 4, column \d+/);
    });

    it('reports a JSON error with its line', () => {
      const text = '{\n  "environments": [\n    { "name": "dev" "connections": [] }\n  ]\n}\n';
      const found = problemsOf(text);
      assert.ok(found.every((item) => item.code === 'MIC110'));
      assert.equal(found[0]!.line, 3);
    });

    it('refuses a repeated key instead of letting the second win', () => {
      const text = 'environments:\n  - name: dev\n    name: prod\n    connections: [{ name: a }]\n';
      const found = theProblem(text);
      assert.deepEqual([found.code, found.line], ['MIC110', 3]);
    });

    it('reads JSON as well as YAML, with line numbers', () => {
      const text = JSON.stringify(specWith((spec) => (spec.environments[1].connections[0].subscriptionId = 'not-a-guid')), null, 2);
      const found = theProblem(text);
      assert.deepEqual([found.code, found.field, found.line], ['MIC115', 'environments[1].connections[0].subscriptionId', lineOf(text, '"not-a-guid"')]);
    });

    it('refuses a repeated key in JSON too, though JSON.parse alone would keep the last', () => {
      const text = '{\n  "environments": [\n    { "name": "d\\"ev", "description": "a \\" \\\\", "name": "prod", "connections": [] }\n  ]\n}\n';
      const found = theProblem(text);
      assert.deepEqual([found.code, found.line], ['MIC110', 3]);
    });

    it('finds a repeated JSON key however it is spaced or escaped', () => {
      const spaced = '{\n  "environments": [\n    { "name" : "dev", "connections": [],\n      "name"\n      : "prod" }\n  ]\n}\n';
      assert.equal(theProblem(spaced).code, 'MIC110');
      const escaped = '{\n  "environments": [\n    { "name": "dev", "connections": [], "n\\u0061me": "prod" }\n  ]\n}\n';
      assert.equal(theProblem(escaped).code, 'MIC110');
      const endsInBackslash = '{ "environments": [], "a\\\\": 1, "a\\\\": 2 }';
      assert.equal(theProblem(endsInBackslash).code, 'MIC110');
    });

    it('reads equal keys in different JSON objects as the distinct fields they are', () => {
      const text = JSON.stringify(specWith((spec) => (spec.environments[1].connections[0].description = 'name: "x", "name"')));
      assert.equal(accepted(text).length, 2);
    });

    it('refuses an empty spec', () => {
      assert.equal(theProblem('').code, 'MIC112');
    });
  });

  describe('fields', () => {
    it('names an unknown field, its line, and the field it probably meant', () => {
      const text = yamlOf(specWith((spec) => (spec.environments[0].connections[0].subscriptionID = dev)));
      const found = theProblem(text);
      assert.deepEqual([found.code, found.field, found.line], ['MIC111', 'environments[0].connections[0].subscriptionID', lineOf(text, 'subscriptionID')]);
      assert.match(found.message, /did you mean "subscriptionId"\?/);
      assert.match(found.message, /Allowed: name, subscriptionId, resourceGroup/);
    });

    it('suggests the top-level field for a misspelling', () => {
      const text = yamlOf({ enviroments: [] });
      const problems = problemsOf(text);
      assert.deepEqual(problems.map((item) => item.code), ['MIC111', 'MIC113']);
      assert.match(problems[0]!.message, /did you mean "environments"\?/);
    });

    it('refuses a wrong type, naming the expected one', () => {
      const text = yamlOf(specWith((spec) => (spec.environments[0].connections = 'app-dev')));
      const found = theProblem(text);
      assert.deepEqual([found.code, found.field, found.line], ['MIC112', 'environments[0].connections', lineOf(text, 'connections: app-dev')]);
      assert.match(found.message, /must be a list of connections/);
    });

    it('asks for quotes around a tag value that YAML read as a number', () => {
      const text = yamlOf(specWith((spec) => (spec.defaults.tags.costCenter = 1234)));
      const found = theProblem(text);
      assert.deepEqual([found.code, found.field], ['MIC112', 'defaults.tags.costCenter']);
      assert.match(found.message, /quote numbers/);
    });

    it('treats an empty value as the wrong type, not as absent', () => {
      const text = yamlOf(validSpec()).replace(/    roles:\n      - role: Contributor\n.*\n/, '    roles:\n');
      const found = theProblem(text);
      assert.deepEqual([found.code, found.field, found.line], ['MIC112', 'environments[0].roles', lineOf(text, 'roles:')]);
    });

    it('requires the environments list', () => {
      const found = theProblem(yamlOf({ version: 1 }));
      assert.deepEqual([found.code, found.field], ['MIC113', '(spec)']);
    });

    it('requires at least one connection per environment', () => {
      const found = theProblem(yamlOf(specWith((spec) => (spec.environments[0].connections = []))));
      assert.deepEqual([found.code, found.field], ['MIC113', 'environments[0].connections']);
    });

    it('requires identity placement from the identity or the defaults, pointing at the identity', () => {
      const text = yamlOf(specWith((spec) => delete spec.defaults.location));
      const problems = problemsOf(text);
      assert.deepEqual(
        problems.map((item) => [item.code, item.field]),
        [
          ['MIC113', 'environments[0].identity.location'],
          ['MIC113', 'environments[1].identity.location'],
        ],
      );
      assert.equal(problems[1]!.line, lineOf(text, 'identity:'));
      assert.match(problems[0]!.message, /defaults\.location/);
    });

    it('requires a subscription for every connection, from the connection or the defaults', () => {
      const text = yamlOf(specWith((spec) => delete spec.defaults.subscriptionId));
      const codes = problemsOf(text).map((item) => `${item.code} ${item.field}`);
      assert.ok(codes.includes('MIC113 environments[0].connections[0].subscriptionId'), codes.join(', '));
    });

    it('refuses a version other than 1', () => {
      const found = theProblem(yamlOf(specWith((spec) => (spec.version = 2))));
      assert.deepEqual([found.code, found.field], ['MIC121', 'version']);
    });
  });

  describe('names and GUIDs', () => {
    const cases: [string, (spec: any) => void, string, string][] = [
      ['an environment name with capitals', (spec) => (spec.environments[0].name = 'Dev'), 'MIC114', 'environments[0].name'],
      ['an identity name that is too short', (spec) => (spec.environments[1].identity.name = 'ab'), 'MIC114', 'environments[1].identity.name'],
      ['a resource group ending in a period', (spec) => (spec.defaults.identityResourceGroup = 'rg.'), 'MIC114', 'defaults.identityResourceGroup'],
      ['a connection name with a slash', (spec) => (spec.environments[0].connections[0].name = 'app/dev'), 'MIC114', 'environments[0].connections[0].name'],
      ['a project name with a colon', (spec) => (spec.environments[1].connections[0].shareWith = ['a:b']), 'MIC114', 'environments[1].connections[0].shareWith[0]'],
      ['a subscription id that is not a GUID', (spec) => (spec.environments[1].identity.subscriptionId = '1234'), 'MIC115', 'environments[1].identity.subscriptionId'],
      ['a location with punctuation', (spec) => (spec.defaults.location = 'west-europe'), 'MIC123', 'defaults.location'],
    ];
    for (const [label, change, code, field] of cases) {
      it(`refuses ${label}`, () => {
        const text = yamlOf(specWith(change));
        const found = theProblem(text);
        assert.deepEqual([found.code, found.field], [code, field]);
        assert.ok(found.line !== undefined && found.line > 1);
      });
    }

    it('refuses a default identity name that comes out too short, and says to set identity.name', () => {
      const found = theProblem(yamlOf(specWith((spec) => (spec.defaults.namePrefix = '') || (spec.environments[0].name = 'qa'))));
      assert.deepEqual([found.code, found.field], ['MIC114', 'environments[0].name']);
      assert.match(found.message, /Set identity\.name/);
    });
  });

  describe('duplicates', () => {
    it('refuses two environments with one name, at the second', () => {
      const text = yamlOf(specWith((spec) => (spec.environments[1].name = 'dev')));
      const found = theProblem(text);
      assert.deepEqual([found.code, found.field, found.line], ['MIC116', 'environments[1].name', lineOf(text, 'name: dev', 'name: app-dev')]);
    });

    it('refuses two connections whose names differ only in case, across environments', () => {
      const found = theProblem(yamlOf(specWith((spec) => (spec.environments[1].connections[0].name = 'App-Dev'))));
      assert.deepEqual([found.code, found.field], ['MIC117', 'environments[1].connections[0].name']);
    });

    it('refuses two environments on one identity', () => {
      const found = theProblem(yamlOf(specWith((spec) => (spec.environments[1].identity = { name: 'id-ado-dev' }))));
      assert.deepEqual([found.code, found.field], ['MIC203', 'environments[1].identity']);
    });

    it('refuses the same role on the same scope twice, whatever the spelling', () => {
      const found = theProblem(yamlOf(specWith((spec) => spec.environments[0].roles.push({ role: 'contributor', scope: `/subscriptions/${dev}/resourcegroups/rg-app-dev/` .slice(0, -1) }))));
      assert.deepEqual([found.code, found.field], ['MIC122', 'environments[0].roles[1]']);
    });

    it('refuses two connections that would set the same output variable', () => {
      const found = theProblem(yamlOf(specWith((spec) => spec.environments[0].connections.push({ name: 'app.dev' }))));
      assert.deepEqual([found.code, found.field], ['MIC124', 'environments[0].connections[1].name']);
    });
  });

  describe('scopes', () => {
    it('refuses a malformed scope and says what a scope looks like', () => {
      const text = yamlOf(specWith((spec) => (spec.environments[0].roles[0].scope = `subscriptions/${dev}`)));
      const found = theProblem(text);
      assert.deepEqual([found.code, found.field, found.line], ['MIC118', 'environments[0].roles[0].scope', lineOf(text, `scope: subscriptions/${dev}`)]);
      assert.match(found.message, /\/subscriptions\/\{guid\}/);
    });

    it('refuses a management group scope (not supported in version 1)', () => {
      assert.equal(theProblem(yamlOf(specWith((spec) => (spec.environments[0].roles[0].scope = '/providers/Microsoft.Management/managementGroups/mg')))).code, 'MIC118');
    });

    it('accepts resource scopes and any casing of the keywords', () => {
      accepted(
        yamlOf(
          specWith((spec) =>
            spec.environments[0].roles.push(
              { role: 'Reader', scope: `/subscriptions/${dev}/resourcegroups/rg-app-dev/providers/Microsoft.Storage/storageAccounts/stapp` },
              { role: 'Reader', scope: `/SUBSCRIPTIONS/${dev}/RESOURCEGROUPS/rg-x/providers/Microsoft.Web/sites/app/slots/staging` },
            ),
          ),
        ),
      );
    });

    it('refuses a scope in a subscription the spec does not name', () => {
      const other = '33333333-3333-4333-8333-333333333333';
      const found = theProblem(yamlOf(specWith((spec) => (spec.environments[0].roles[0].scope = `/subscriptions/${other}`))));
      assert.deepEqual([found.code, found.field], ['MIC119', 'environments[0].roles[0].scope']);
    });
  });

  describe('budgets and guardrails', () => {
    it('refuses more than 20 connections on one identity', () => {
      const text = yamlOf(specWith((spec) => (spec.environments[0].connections = Array.from({ length: 21 }, (_, index) => ({ name: `c${index}` })))));
      const found = theProblem(text);
      assert.deepEqual([found.code, found.field], ['MIC201', 'environments[0].connections']);
    });

    it('refuses privileged roles by name or GUID unless allowed', () => {
      const text = yamlOf(
        specWith((spec) =>
          spec.environments[0].roles.push({ role: 'owner', scope: `/subscriptions/${dev}` }, { role: '18d7d88d-d35e-4fb5-a5c3-7773c20a72d9', scope: `/subscriptions/${dev}` }),
        ),
      );
      const problems = problemsOf(text);
      assert.deepEqual(problems.map((item) => [item.code, item.field, item.line]), [
        ['MIC301', 'environments[0].roles[1].role', lineOf(text, 'role: owner')],
        ['MIC301', 'environments[0].roles[2].role', lineOf(text, 'role: 18d7d88d')],
      ]);
      accepted(text, { ...strict, allowPrivilegedRoles: true });
    });
  });

  describe('authorize', () => {
    const bad: [string, unknown][] = [
      ['a misspelled keyword', 'alll'],
      ['an empty list', []],
      ['a zero id', [0]],
      ['a string id', ['12']],
      ['a mapping', { pipelines: [1] }],
    ];
    for (const [label, value] of bad) {
      it(`refuses ${label}`, () => {
        const found = problemsOf(yamlOf(specWith((spec) => (spec.environments[0].connections[0].authorize = value))));
        assert.ok(found.length >= 1 && found.every((item) => item.code === 'MIC120' && item.field!.startsWith('environments[0].connections[0].authorize')), JSON.stringify(found));
      });
    }

    it('suggests the keyword for a near miss', () => {
      assert.match(theProblem(yamlOf(specWith((spec) => (spec.environments[0].connections[0].authorize = 'Current')))).message, /did you mean "current"/);
    });

    it('accepts every documented form', () => {
      for (const value of ['current', 'all', 'none', [12, 34]]) accepted(yamlOf(specWith((spec) => (spec.environments[0].connections[0].authorize = value))));
    });
  });

  it('reports every problem at once', () => {
    const text = yamlOf(
      specWith((spec) => {
        spec.environments[0].name = 'Dev';
        spec.environments[0].connections[0].colour = 'blue';
        spec.environments[1].roles[0].scope = '/subscriptions/nope';
      }),
    );
    assert.deepEqual(
      problemsOf(text).map((item) => item.code),
      ['MIC114', 'MIC111', 'MIC118'],
    );
  });

  describe('resolution', () => {
    it('fills identity and connection from the defaults', () => {
      const [environment] = accepted(yamlOf(validSpec()));
      assert.deepEqual(environment!.identity.ref, { subscriptionId: dev, resourceGroup: 'rg-identities', name: 'id-ado-dev' });
      assert.equal(environment!.identity.location, 'westeurope');
      assert.equal(environment!.connections[0]!.subscriptionId, dev);
      assert.deepEqual(environment!.connections[0]!.authorize, { kind: 'current' });
      assert.match(environment!.connections[0]!.description, /managed identity id-ado-dev for environment dev/);
    });

    it('merges tags, the identity winning over the defaults regardless of case', () => {
      const [, prodEnvironment] = accepted(yamlOf(specWith((spec) => (spec.environments[1].identity.tags = { Owner: 'apps', env: 'prod' }))));
      assert.deepEqual(prodEnvironment!.identity.tags, { Owner: 'apps', env: 'prod' });
    });

    it('uses namePrefix for default identity names', () => {
      const [environment] = accepted(yamlOf(specWith((spec) => (spec.defaults.namePrefix = 'uai-'))));
      assert.equal(environment!.identity.ref.name, 'uai-dev');
    });

    it('keeps where each item was written, for problems found later', () => {
      const text = yamlOf(validSpec());
      const [, prodEnvironment] = accepted(text);
      assert.deepEqual(prodEnvironment!.roles[0]!.origin, { field: 'environments[1].roles[0]', line: lineOf(text, 'role: Reader'), column: 9 });
    });

    it('validates a spec given as a value, without line numbers', () => {
      const result = loadSpecValue(specWith((spec) => (spec.environments[0].connections[0].subscriptionId = 'x')), strict);
      assert.ok(!result.ok);
      assert.deepEqual(result.problems.map((item) => [item.code, item.line]), [['MIC115', undefined]]);
    });
  });

  describe('only', () => {
    it('selects the named environments', () => {
      const environments = accepted(yamlOf(validSpec()), { ...strict, only: ['prod'] });
      assert.deepEqual(environments.map((item) => item.name), ['prod']);
    });

    it('refuses a name the spec does not declare, suggesting the closest', () => {
      const found = theProblem(yamlOf(validSpec()), { ...strict, only: ['prd'] });
      assert.deepEqual([found.code, found.field], ['MIC105', 'only']);
      assert.match(found.message, /did you mean "prod"/);
    });
  });

  it('names a subscription in the spec only once per rule (prod is used by identity and connection)', () => {
    const [, prodEnvironment] = accepted(yamlOf(validSpec()));
    assert.equal(prodEnvironment!.identity.ref.subscriptionId, prod);
  });
});
