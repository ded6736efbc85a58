// Protects task.json, the task's public interface: it must satisfy Microsoft's task schema, keep the input
// names and kinds that pipelines already use, and hold together internally (visible rules, groups, defaults and
// the instance name all point at inputs and options that exist). tfx only warns about such mistakes and the
// agent shows them to users as a broken task editor or a task that never starts, so they are caught here.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Ajv from 'ajv-draft-04';
import { readJson, readTaskJson, referenceSchemas, type TaskInput, type TaskJson } from './repository';

const task: TaskJson = readTaskJson();
const input = (name: string): TaskInput => {
  const found = task.inputs.find((candidate) => candidate.name === name);
  assert.ok(found, `task.json has no input named ${name}`);
  return found;
};

/** One predicate of a visibleRule, e.g. `command != verify`. */
interface VisiblePredicate {
  inputName: string;
  operator: string;
  value: string;
}

// The operators the task editor evaluates. A rule joins predicates with && or || but never mixes the two.
const visibleRuleOperators = ['==', '!=', '<=', '>=', '=', '<', '>', 'NotContains', 'NotStartsWith', 'NotEndsWith', 'Contains', 'StartsWith', 'EndsWith'];

function parseVisibleRule(rule: string): VisiblePredicate[] {
  const hasAnd = rule.includes('&&');
  const hasOr = rule.includes('||');
  if (hasAnd && hasOr) throw new Error(`visibleRule "${rule}" mixes && and ||, which the task editor cannot evaluate`);
  const operatorPattern = visibleRuleOperators.map((operator) => operator.replace(/[=<>!|]/g, '\\$&')).join('|');
  const predicate = new RegExp(`^\\s*([A-Za-z][A-Za-z0-9_]*)\\s*(${operatorPattern})\\s*(\\S.*?)\\s*$`, 'i');
  return rule.split(hasAnd ? '&&' : '||').map((part) => {
    const match = predicate.exec(part);
    if (!match) throw new Error(`visibleRule "${rule}": "${part.trim()}" is not "<input> <operator> <value>"`);
    return { inputName: match[1]!, operator: match[2]!, value: match[3]! };
  });
}

describe('task.json', () => {
  it('validates against the task schema (tasks.schema.json, draft-04)', () => {
    // unicodeRegExp: false because the schema's pattern ^connectedService\:.+$ is not a valid unicode regexp.
    const ajv = new Ajv({ strict: false, unicodeRegExp: false, allErrors: true });
    const schema = readJson(join(referenceSchemas, 'tasks.schema.json')) as { properties: { inputs: { items: { properties: Record<string, unknown> } } } };
    // The published schema predates input `validation` ({expression, message}), which the task editor and the
    // server evaluate (azure-pipelines-tasks docs/taskinputvalidation.md) and Microsoft's own tasks use.
    schema.properties.inputs.items.properties.validation = {
      type: 'object',
      additionalProperties: false,
      required: ['expression', 'message'],
      properties: { expression: { type: 'string' }, message: { type: 'string' } },
    };
    const validate = ajv.compile(schema);
    const valid = validate(task);
    assert.ok(valid, ajv.errorsText(validate.errors, { separator: '\n' }));
  });

  it('is ManagedIdentityConnections@1 with a friendly name tfx accepts (≤ 40 characters)', () => {
    assert.equal(task.name, 'ManagedIdentityConnections');
    assert.equal(task.version.Major, 1);
    assert.ok(task.friendlyName.length > 0 && task.friendlyName.length <= 40, `friendlyName is ${task.friendlyName.length} characters`);
  });

  it('runs index.js on the Node 20 handler (and Node 24), and needs the first agent that has Node20_1', () => {
    assert.deepEqual(Object.keys(task.execution).sort(), ['Node20_1', 'Node24']);
    for (const [handler, { target }] of Object.entries(task.execution)) assert.equal(target, 'index.js', `${handler} target`);
    // Agent 4.248.0 is the first with Node20_1; a lower minimum would let older agents fall back to Node 16.
    assert.equal(task.minimumAgentVersion, '4.248.0');
  });

  it('declares the inputs pipelines use, with their kinds and defaults', () => {
    const command = input('command');
    assert.equal(command.type, 'pickList');
    assert.deepEqual(Object.keys(command.options ?? {}).sort(), ['audit', 'convert', 'migrate-issuer', 'plan', 'provision', 'teardown', 'verify']);
    assert.equal(command.defaultValue, 'provision');

    const bootstrap = input('bootstrapConnection');
    // The scheme after the type filters the editor's connection list (as in GitHubReleaseV1's
    // connectedService:github:OAuth,…): only workload identity federation connections can sign in here.
    assert.equal(bootstrap.type, 'connectedService:AzureRM:WorkloadIdentityFederation');
    assert.equal(bootstrap.required, true);
    // YAML steps of Azure tasks name their connection azureSubscription; both names work.
    assert.deepEqual(bootstrap.aliases, ['azureSubscription']);

    assert.equal(input('environments').type, 'multiLine');
    assert.equal(input('environmentsFile').type, 'filePath');
    assert.equal(input('only').type, 'string');

    const devOpsAuth = input('devOpsAuth');
    assert.equal(devOpsAuth.type, 'pickList');
    assert.deepEqual(Object.keys(devOpsAuth.options ?? {}).sort(), ['bootstrapIdentity', 'systemAccessToken']);
    assert.equal(devOpsAuth.defaultValue, 'systemAccessToken');

    const privileged = input('allowPrivilegedRoles');
    assert.equal(privileged.type, 'boolean');
    assert.equal(privileged.defaultValue, 'false');

    input('concurrency');
    input('propagationTimeoutSeconds');

    // The lifecycle inputs (docs/lifecycle.md): deleting is off unless asked for, and bounded.
    assert.deepEqual(
      ['prune', 'maxDeletions', 'keepConnectionsUsedWithinDays', 'deleteUsedConnections'].map((name) => [input(name).type, input(name).defaultValue]),
      [['boolean', 'false'], ['string', '10'], ['string', '30'], ['boolean', 'false']],
    );
  });

  it('validates the numeric inputs in the editor with the ranges the task enforces', () => {
    for (const [name, range] of [
      ['concurrency', '1, 64'],
      ['propagationTimeoutSeconds', '10, 3600'],
      ['verificationRunTimeoutMinutes', '1, 360'],
    ] as const) {
      const validation = (input(name) as TaskInput & { validation?: { expression: string; message: string } }).validation;
      assert.equal(validation?.expression, `isInRange(value, ${range})`, name);
      assert.ok(validation.message.includes(range.replace(', ', ' to ')), `${name}: ${validation.message}`);
    }
  });

  it('chooses the spec source with a pick list that shows one input of the pair (the pair alone still works)', () => {
    const specSource = input('specSource');
    assert.equal(specSource.type, 'pickList');
    assert.deepEqual(Object.keys(specSource.options ?? {}), ['inline', 'file']);
    // No default: a step that sets only the pair keeps its meaning (the agent would pass a default to it).
    assert.equal(specSource.defaultValue, undefined);
    assert.equal(input('environments').visibleRule, 'specSource != file');
    assert.equal(input('environmentsFile').visibleRule, 'specSource = file');
    // New inputs go at the end: specSource after every input that existed before it (later ones follow it).
    const names = task.inputs.map((item) => item.name);
    assert.ok(names.indexOf('specSource') > names.indexOf('propagationTimeoutSeconds'), 'new inputs go at the end');
  });

  it('restricts the variables a logging command in its output may set to its own outputs', () => {
    const full = task as TaskJson & { restrictions?: { commands?: { mode?: string }; settableVariables?: { allowed?: string[] } }; outputVariables?: { name: string }[] };
    const restrictions = full.restrictions;
    // restricted mode would drop task.uploadsummary (TaskCommandExtension.cs: not AllowedInRestrictedMode).
    assert.equal(restrictions?.commands?.mode, 'any');
    const allowed = restrictions?.settableVariables?.allowed ?? [];
    for (const output of full.outputVariables ?? []) assert.ok(allowed.includes(output.name), `${output.name} is settable`);
    for (const pattern of ['identityClientId_*', 'identityPrincipalId_*', 'connectionId_*']) assert.ok(allowed.includes(pattern), pattern);
    assert.ok(!allowed.some((name) => name.includes('*') && !name.endsWith('_*')), 'no catch-all pattern');
  });

  it('gives every input a label and help text, and no two inputs (or aliases) the same name', () => {
    const names = task.inputs.flatMap((candidate) => [candidate.name, ...(candidate.aliases ?? [])].map((name) => name.toLowerCase()));
    assert.equal(new Set(names).size, names.length, `duplicate input names or aliases: ${names.join(', ')}`);
    for (const candidate of task.inputs) {
      assert.ok(candidate.label?.trim(), `input ${candidate.name} has no label`);
      assert.ok(candidate.helpMarkDown?.trim(), `input ${candidate.name} has no helpMarkDown`);
    }
  });

  it('puts inputs only in groups that exist', () => {
    const groups = new Set((task.groups ?? []).map((group) => group.name));
    for (const candidate of task.inputs) {
      if (candidate.groupName !== undefined) assert.ok(groups.has(candidate.groupName), `input ${candidate.name}: no group named ${candidate.groupName}`);
    }
  });

  it('has pickList and boolean defaults that are among the allowed values', () => {
    for (const candidate of task.inputs) {
      if (candidate.defaultValue === undefined) continue;
      if (candidate.type === 'pickList') {
        assert.ok(Object.keys(candidate.options ?? {}).includes(candidate.defaultValue), `input ${candidate.name}: default ${candidate.defaultValue} is not an option`);
      }
      if (candidate.type === 'boolean') assert.match(candidate.defaultValue, /^(true|false)$/, `input ${candidate.name}`);
    }
  });

  it('has visible rules that parse and compare existing inputs with values they can take', () => {
    for (const candidate of task.inputs.filter((item) => item.visibleRule !== undefined)) {
      for (const predicate of parseVisibleRule(candidate.visibleRule!)) {
        assert.notEqual(predicate.inputName, candidate.name, `input ${candidate.name}: visibleRule refers to itself`);
        const other = input(predicate.inputName);
        if (other.type === 'pickList' && ['==', '!=', '='].includes(predicate.operator)) {
          assert.ok(Object.keys(other.options ?? {}).includes(predicate.value), `input ${candidate.name}: ${predicate.inputName} has no option ${predicate.value}`);
        }
        if (other.type === 'boolean') assert.match(predicate.value, /^(true|false)$/, `input ${candidate.name}: visibleRule on boolean ${predicate.inputName}`);
      }
    }
  });

  it('names only existing inputs in instanceNameFormat', () => {
    const references = [...task.instanceNameFormat.matchAll(/\$\(([^)]+)\)/g)].map((match) => match[1]!);
    assert.ok(references.length > 0, 'instanceNameFormat shows no input');
    for (const reference of references) input(reference);
  });
});

describe('the visibleRule parser used above', () => {
  it('reads joined predicates and refuses malformed or mixed rules', () => {
    assert.deepEqual(parseVisibleRule('command != verify && devOpsAuth = bootstrapIdentity'), [
      { inputName: 'command', operator: '!=', value: 'verify' },
      { inputName: 'devOpsAuth', operator: '=', value: 'bootstrapIdentity' },
    ]);
    assert.deepEqual(parseVisibleRule('only NotContains prod'), [{ inputName: 'only', operator: 'NotContains', value: 'prod' }]);
    assert.throws(() => parseVisibleRule('command'), /is not "<input> <operator> <value>"/);
    assert.throws(() => parseVisibleRule('command !='), /is not/);
    assert.throws(() => parseVisibleRule('a = 1 && b = 2 || c = 3'), /mixes && and \|\|/);
  });
});
