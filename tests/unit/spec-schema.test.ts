// Two descriptions of the spec exist: the JSON Schema editors use, and the validator the task runs. This suite
// keeps them from drifting apart: on a corpus of specs they agree on every valid spec and on every shape or
// name error; the cross-field rules only the task can check (duplicates, defaults, guardrails) are accepted by
// the schema and refused by the task, by design; every name pattern in the schema is the validator's own; and
// every example in docs/environments-spec.md is valid for both.
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';
import { parse } from 'yaml';
import * as names from '../../tasks/ManagedIdentityConnections/src/core/names';
import { scopePattern } from '../../tasks/ManagedIdentityConnections/src/core/scopes';
import { loadSpecText, loadSpecValue } from '../../tasks/ManagedIdentityConnections/src/spec/load-spec';
import { dev, specWith, validSpec, yamlOf } from './builders/spec-text';

const root = join(__dirname, '..', '..', '..');
const schema = JSON.parse(readFileSync(join(root, 'tasks/ManagedIdentityConnections/src/spec/environments.v1.schema.json'), 'utf8'));
const validateWithSchema = new Ajv({ allErrors: true }).compile(schema);

function taskAccepts(spec: unknown): boolean {
  return loadSpecValue(spec, { allowPrivilegedRoles: false, only: [] }).ok;
}

function schemaAccepts(spec: unknown): boolean {
  return validateWithSchema(spec) === true;
}

const other = '33333333-3333-4333-8333-333333333333';

const validCorpus: [string, unknown][] = [
  ['the small valid spec', validSpec()],
  ['a minimal spec', { environments: [{ name: 'qa1', identity: { subscriptionId: dev, resourceGroup: 'rg', location: 'eastus2' }, connections: [{ name: 'q', subscriptionId: dev }] }] }],
  ['every optional field', specWith((spec) => {
    spec.$schema = './environments.v1.schema.json';
    spec.defaults.namePrefix = '';
    spec.environments[0].name = 'dev-1';
    spec.environments[0].identity = { name: 'uai_dev-1', resourceGroup: 'rg-(x).y', subscriptionId: dev.toUpperCase(), location: 'West Europe', tags: { 'a b': '' } };
    spec.environments[0].connections[0] = { name: 'App (Dev) 1.0', subscriptionId: dev, resourceGroup: 'rg', description: '', shareWith: [], authorize: [1, 2] };
    spec.environments[0].roles = [];
  })],
];

// Shape and name errors: both must refuse.
const structuralErrors: [string, unknown][] = [
  ['no environments', { version: 1 }],
  ['an empty environments list', { environments: [] }],
  ['an unknown top-level field', specWith((spec) => (spec.extra = true))],
  ['an unknown connection field', specWith((spec) => (spec.environments[0].connections[0].subscriptionID = dev))],
  ['version 2', specWith((spec) => (spec.version = 2))],
  ['version as a string', specWith((spec) => (spec.version = '1'))],
  ['a null list', specWith((spec) => (spec.environments[0].roles = null))],
  ['connections as a string', specWith((spec) => (spec.environments[0].connections = 'app-dev'))],
  ['no connections', specWith((spec) => (spec.environments[0].connections = []))],
  ['21 connections', specWith((spec) => (spec.environments[0].connections = Array.from({ length: 21 }, (_, index) => ({ name: `c${index}` }))))],
  ['a connection without a name', specWith((spec) => delete spec.environments[0].connections[0].name)],
  ['an environment without a name', specWith((spec) => delete spec.environments[0].name)],
  ['an environment name with capitals', specWith((spec) => (spec.environments[0].name = 'Dev'))],
  ['an environment name ending in a hyphen', specWith((spec) => (spec.environments[0].name = 'dev-'))],
  ['an identity name with a dot', specWith((spec) => (spec.environments[1].identity.name = 'id.prod'))],
  ['a resource group ending in a period', specWith((spec) => (spec.defaults.identityResourceGroup = 'rg.'))],
  ['a connection name with a slash', specWith((spec) => (spec.environments[0].connections[0].name = 'a/b'))],
  ['a connection name ending in a space', specWith((spec) => (spec.environments[0].connections[0].name = 'ab '))],
  ['a GUID with a missing digit', specWith((spec) => (spec.defaults.subscriptionId = dev.slice(1)))],
  ['a location with a hyphen', specWith((spec) => (spec.defaults.location = 'west-europe'))],
  ['a name prefix starting with a hyphen', specWith((spec) => (spec.defaults.namePrefix = '-x'))],
  ['a numeric tag value', specWith((spec) => (spec.defaults.tags.n = 1))],
  ['a tag name with a slash', specWith((spec) => (spec.defaults.tags['a/b'] = 'x'))],
  ['51 tags', specWith((spec) => (spec.defaults.tags = Object.fromEntries(Array.from({ length: 51 }, (_, index) => [`t${index}`, 'v']))))],
  ['a tag value of 257 characters', specWith((spec) => (spec.defaults.tags.long = 'x'.repeat(257)))],
  ['a description of 1025 characters', specWith((spec) => (spec.environments[0].connections[0].description = 'x'.repeat(1025)))],
  ['a malformed scope', specWith((spec) => (spec.environments[0].roles[0].scope = `/subscriptions/${dev}/resourceGroups/`))],
  ['a management group scope', specWith((spec) => (spec.environments[0].roles[0].scope = '/providers/Microsoft.Management/managementGroups/mg'))],
  ['a blank role', specWith((spec) => (spec.environments[0].roles[0].role = '  '))],
  ['a role without a scope', specWith((spec) => delete spec.environments[0].roles[0].scope)],
  ['authorize: everything', specWith((spec) => (spec.environments[0].connections[0].authorize = 'everything'))],
  ['authorize: []', specWith((spec) => (spec.environments[0].connections[0].authorize = []))],
  ['authorize: [0]', specWith((spec) => (spec.environments[0].connections[0].authorize = [0]))],
  ['authorize: [1.5]', specWith((spec) => (spec.environments[0].connections[0].authorize = [1.5]))],
  ['authorize: [3, 3]', specWith((spec) => (spec.environments[0].connections[0].authorize = [3, 3]))],
  ['shareWith with a bad project name', specWith((spec) => (spec.environments[1].connections[0].shareWith = ['a|b']))],
  ['shareWith with one project twice', specWith((spec) => (spec.environments[1].connections[0].shareWith = ['Apps', 'Apps']))],
];

// Rules across fields: the schema cannot express them, the task must refuse them.
const crossFieldErrors: [string, unknown][] = [
  ['two environments with one name', specWith((spec) => (spec.environments[1].name = 'dev'))],
  ['two connections whose names differ in case', specWith((spec) => (spec.environments[1].connections[0].name = 'APP-DEV'))],
  ['two connections mapping to one output variable', specWith((spec) => spec.environments[0].connections.push({ name: 'app_dev' }))],
  ['two environments on one identity', specWith((spec) => (spec.environments[1].identity = { name: 'id-ado-dev' }))],
  ['a scope outside the spec\'s subscriptions', specWith((spec) => (spec.environments[0].roles[0].scope = `/subscriptions/${other}`))],
  ['Owner without allowPrivilegedRoles', specWith((spec) => (spec.environments[0].roles[0].role = 'Owner'))],
  ['an identity with no location anywhere', specWith((spec) => delete spec.defaults.location)],
  ['a connection with no subscription anywhere', specWith((spec) => delete spec.defaults.subscriptionId)],
  ['one role twice', specWith((spec) => spec.environments[0].roles.push({ ...spec.environments[0].roles[0] }))],
  ['a default identity name that is too short', specWith((spec) => (spec.defaults.namePrefix = '') || (spec.environments[0].name = 'qa'))],
  ['shareWith with one project twice in different case', specWith((spec) => (spec.environments[1].connections[0].shareWith = ['Apps', 'apps']))],
];

describe('environments spec: schema and validator', () => {
  for (const [label, spec] of validCorpus) {
    it(`both accept ${label}`, () => {
      assert.equal(taskAccepts(spec), true, 'the task refused it');
      assert.equal(schemaAccepts(spec), true, JSON.stringify(validateWithSchema.errors));
    });
  }

  for (const [label, spec] of structuralErrors) {
    it(`both refuse ${label}`, () => {
      assert.equal(taskAccepts(spec), false, 'the task accepted it');
      assert.equal(schemaAccepts(spec), false, 'the schema accepted it');
    });
  }

  for (const [label, spec] of crossFieldErrors) {
    it(`the task refuses ${label}, which the schema cannot see`, () => {
      assert.equal(taskAccepts(spec), false, 'the task accepted it');
      assert.equal(schemaAccepts(spec), true, JSON.stringify(validateWithSchema.errors));
    });
  }

  it('uses exactly the validator\'s name patterns', () => {
    const d = schema.definitions;
    const pairs: [string, RegExp][] = [
      [d.guid.pattern, names.guidRule.pattern],
      [d.resourceGroupName.pattern, names.resourceGroupNameRule.pattern],
      [d.location.pattern, names.locationRule.pattern],
      [d.defaults.properties.namePrefix.pattern, names.namePrefixRule.pattern],
      [d.environment.properties.name.pattern, names.environmentNameRule.pattern],
      [d.identity.properties.name.pattern, names.identityNameRule.pattern],
      [d.connection.properties.name.pattern, names.connectionNameRule.pattern],
      [d.connection.properties.shareWith.items.pattern, names.projectNameRule.pattern],
      [d.role.properties.scope.pattern, scopePattern],
    ];
    for (const [fromSchema, fromValidator] of pairs) assert.equal(new RegExp(fromSchema).source, fromValidator.source);
  });

  describe('the examples in docs/environments-spec.md', () => {
    const markdown = readFileSync(join(root, 'docs/environments-spec.md'), 'utf8');
    // Spec blocks carry the info string `yaml environments` (or `json environments`): plain `yaml` blocks in the
    // docs are pipelines, which tests/yaml checks against the pipeline schema.
    const blocks = [...markdown.matchAll(/```(yaml|json) environments\n([\s\S]*?)```/g)].map((match) => ({ language: match[1]!, text: match[2]! }));

    it('exist, in both languages, and every fenced block of the page is one of them', () => {
      assert.equal(blocks.length, [...markdown.matchAll(/^```\S/gm)].length);
      assert.ok(blocks.filter((block) => block.language === 'yaml').length >= 3);
      assert.ok(blocks.some((block) => block.language === 'json'));
    });

    blocks.forEach((block, index) => {
      it(`example ${index + 1} (${block.language}) is valid for the task and the schema`, () => {
        const result = loadSpecText(block.text, { allowPrivilegedRoles: false, only: [] });
        assert.ok(result.ok, result.ok ? '' : result.problems.map((item) => `${item.code} ${item.field} line ${item.line}: ${item.message}`).join('\n'));
        const value = block.language === 'json' ? JSON.parse(block.text) : parse(block.text);
        assert.equal(schemaAccepts(value), true, JSON.stringify(validateWithSchema.errors));
      });
    });
  });

  it('round-trips the small valid spec through YAML text unchanged in meaning', () => {
    const fromText = loadSpecText(yamlOf(validSpec()), { allowPrivilegedRoles: false, only: [] });
    const fromValue = loadSpecValue(validSpec(), { allowPrivilegedRoles: false, only: [] });
    assert.ok(fromText.ok && fromValue.ok);
    const strip = (environments: typeof fromText.environments) => JSON.stringify(environments, (key, value) => (key === 'line' || key === 'column' ? undefined : value));
    assert.equal(strip(fromText.environments), strip(fromValue.environments));
  });
});
