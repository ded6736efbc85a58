// Protects the task against the agent's input translation (scripts/lib/run-task.ts agentInputs): the agent
// passes every task.json input, with its default when a step leaves it out, maps aliases to names, and roots
// every filePath input — an empty one included — at the sources directory. The shipped step template passes
// `environments` inline and no `environmentsFile`; on a real agent the task therefore sees environmentsFile set
// to the sources directory, and must still read the inline spec.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { agentInputs, repoRoot } from '../../scripts/lib/run-task';
import { devEnvironment, e2eWorld, specText, transcript } from './harness';

interface TemplateParameter {
  readonly name: string;
  readonly default?: unknown;
}

/**
 * The inputs the step template gives the task for a plain provision: its unconditional `inputs`, with each
 * `${{ parameters.x }}` replaced by the value given here or the template's default, and
 * `${{ convertToJson(parameters.x) }}` by the value as JSON — the template compiler's own results.
 */
function templateInputs(values: Readonly<Record<string, unknown>>): Record<string, string> {
  const template = parse(readFileSync(join(repoRoot, 'templates', 'steps', 'managed-identity-connections.yml'), 'utf8')) as {
    parameters: TemplateParameter[];
    steps: Record<string, unknown>[];
  };
  const parameter = (name: string): unknown => (name in values ? values[name] : template.parameters.find((candidate) => candidate.name === name)?.default);
  const step = template.steps.find((candidate) => candidate.task === 'ManagedIdentityConnections@1');
  assert.ok(step, 'the template has a ManagedIdentityConnections@1 step');
  const inputs: Record<string, string> = {};
  for (const [name, expression] of Object.entries(step.inputs as Record<string, unknown>)) {
    if (name.startsWith('${{')) continue; // conditional blocks: left out for a plain provision
    const text = String(expression);
    const json = /^\$\{\{\s*convertToJson\(parameters\.(\w+)\)\s*\}\}$/.exec(text);
    const plain = /^\$\{\{\s*parameters\.(\w+)\s*\}\}$/.exec(text);
    if (json) inputs[name] = JSON.stringify(parameter(json[1]!), null, 2);
    else if (plain) inputs[name] = String(parameter(plain[1]!));
    else inputs[name] = text;
  }
  return inputs;
}

describe('e2e: the inputs as the agent translates them', () => {
  const world = e2eWorld();

  it('the step template\'s exact inputs provision: the rooted, empty environmentsFile counts as not set', async () => {
    // GIVEN the inputs the shipped template passes, for the default world's bootstrap connection
    const spec = parse(specText([devEnvironment])) as object;
    const inputs = templateInputs({ command: 'provision', connection: world.info.bootstrapConnection.id, environments: spec });
    assert.equal(inputs.environmentsFile, undefined, 'the template does not pass environmentsFile');
    // (the agent then passes it anyway, as the sources directory)
    const translated = agentInputs(inputs, world.info.agentEnv);
    assert.equal(translated.environmentsFile, world.info.agentEnv.BUILD_SOURCESDIRECTORY);
    // WHEN the task runs with them as the agent runs it
    const run = await world.run(inputs);
    // THEN it read the inline spec and provisioned
    assert.equal(run.result, 'Succeeded', transcript(run));
    assert.deepEqual(run.problems, []);
  });

  it('a YAML step may name the bootstrap connection by its alias azureSubscription', async () => {
    const run = await world.run({ bootstrapConnection: undefined, azureSubscription: world.info.bootstrapConnection.id, environments: specText([devEnvironment]), command: 'plan' });
    assert.equal(run.result, 'Succeeded', transcript(run));
  });
});

describe('agentInputs (the harness\'s translation)', () => {
  const env = { BUILD_SOURCESDIRECTORY: '/agent/_work/1/s', SYSTEM_DEFAULTWORKINGDIRECTORY: '/agent/_work/1/s' };

  it('passes every task.json input, with its default, and roots filePath inputs at the sources directory', () => {
    const inputs = agentInputs({ bootstrapConnection: ' 0b0b0b0b-0000-4000-8000-000000000001 ' }, env);
    assert.equal(inputs.bootstrapConnection, '0b0b0b0b-0000-4000-8000-000000000001', 'trimmed');
    assert.equal(inputs.command, 'provision', 'task.json default');
    assert.equal(inputs.concurrency, '16');
    assert.equal(inputs.environments, '');
    assert.equal(inputs.environmentsFile, '/agent/_work/1/s');
    assert.equal(agentInputs({ environmentsFile: 'specs/envs.yml' }, env).environmentsFile, '/agent/_work/1/s/specs/envs.yml');
    assert.equal(agentInputs({ environmentsFile: '/etc/envs.yml' }, env).environmentsFile, '/etc/envs.yml');
  });

  it('maps an alias to the input name and passes undeclared inputs through', () => {
    const inputs = agentInputs({ azureSubscription: 'abc', somethingElse: 'x' }, env);
    assert.equal(inputs.bootstrapConnection, 'abc');
    assert.equal(inputs.azureSubscription, undefined);
    assert.equal(inputs.somethingElse, 'x');
  });
});
