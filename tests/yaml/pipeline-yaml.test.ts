// Protects the offline YAML check that the template, sample and docs tests rely on: a pipeline using our task
// must pass, and the mistakes a reader would make (an input that does not exist, a bad `command`, a misspelled
// key, bad indentation, a missing connection) must each fail with a message that names the problem and its line.
// If the check let these through, every later YAML test would pass vacuously. Job and step ids built from
// `${{ }}` expressions pass, as the service compiles them; their literal characters are still checked.
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readTaskJson } from '../manifests/repository';
import { admitTemplateExpressions, fencedPipelineBlocks, formatProblems, pipelineSchema, taskSchemaEntries, validatePipelineFiles, validatePipelineYaml, yamlFilesUnder, type YamlProblem } from './pipeline-yaml';

const task = readTaskJson();

const validPipeline = `trigger: none
pool:
  vmImage: ubuntu-latest
stages:
- stage: plan
  jobs:
  - job: plan
    steps:
    - task: ManagedIdentityConnections@1
      name: identities
      displayName: Plan identities
      inputs:
        command: plan
        bootstrapConnection: bootstrap-connection
        environmentsFile: environments.yml
        only: dev,test
        devOpsAuth: systemAccessToken
        allowPrivilegedRoles: false
        concurrency: '8'
        propagationTimeoutSeconds: '600'
- stage: provision
  dependsOn: plan
  condition: eq(dependencies.plan.outputs['plan.identities.changesPresent'], 'true')
  jobs:
  - job: provision
    steps:
    - task: ManagedIdentityConnections@1
      inputs:
        bootstrapConnection: bootstrap-connection
        environments: |
          version: 1
          environments: []
`;

/** The pipeline above with one line replaced; fails the test if `from` is not in it. */
function withLine(from: string, to: string): string {
  assert.ok(validPipeline.includes(from), `the valid pipeline has no line ${from}`);
  return validPipeline.replace(from, to);
}

function assertPasses(problems: YamlProblem[]): void {
  assert.deepEqual(problems, [], formatProblems(problems));
}

function assertFails(problems: YamlProblem[], message: RegExp, line?: number): void {
  const match = problems.find((problem) => message.test(problem.message));
  assert.ok(match, `expected a problem matching ${message}, got:\n${formatProblems(problems) || '(none)'}`);
  if (line !== undefined) assert.equal(match.line, line, formatProblems([match]));
}

describe('the offline pipeline YAML check', function () {
  // The first call loads and resolves the 1.6 MB schema.
  this.timeout(60_000);

  it('passes a pipeline that uses ManagedIdentityConnections@1 with every input', async () => {
    assertPasses(await validatePipelineYaml(validPipeline));
  });

  it('accepts the task by its id as well as its name, but only major version 1', async () => {
    assertPasses(await validatePipelineYaml(withLine('- task: ManagedIdentityConnections@1\n      name', `- task: ${task.id}@1\n      name`)));
    assertFails(await validatePipelineYaml(withLine('- task: ManagedIdentityConnections@1\n      name', '- task: ManagedIdentityConnections@2\n      name')), /Value is not accepted|does not match the pattern/);
  });

  it('fails an input the task does not have, naming it and its line', async () => {
    const problems = await validatePipelineYaml(withLine('        only: dev,test', '        onlyEnvironments: dev,test'), 'unknown-input.yml');
    assertFails(problems, /Unexpected property onlyEnvironments/, 16);
    assert.match(formatProblems(problems), /^unknown-input\.yml:16:9 warning: Unexpected property onlyEnvironments/m);
  });

  it('fails a command that is not plan, provision, verify, audit or teardown, listing the allowed values', async () => {
    assertFails(await validatePipelineYaml(withLine('        command: plan', '        command: apply')), /Value is not accepted\. Valid values: "plan", "provision", "verify", "audit", "teardown"/, 13);
  });

  it('fails a task without the required bootstrap connection', async () => {
    assertFails(await validatePipelineYaml(withLine('        bootstrapConnection: bootstrap-connection\n        environments', '        environments')), /Missing property "bootstrapConnection"/);
  });

  it('fails a misspelled top-level key', async () => {
    assertFails(await validatePipelineYaml(withLine('stages:', 'stagez:')), /Unexpected property stagez/, 4);
  });

  it('fails bad indentation as a YAML error', async () => {
    const problems = await validatePipelineYaml(withLine('      displayName: Plan identities', '     displayName: Plan identities'));
    assertFails(problems, /bad indentation/);
    assert.ok(problems.some((problem) => problem.severity === 'error'), formatProblems(problems));
  });

  it('passes a steps template with typed parameters, ${{ each }} and ${{ if }}', async () => {
    const template = `parameters:
- name: environments
  type: object
  default: []
- name: command
  type: string
  default: plan
  values: [plan, provision, verify]
- name: allowPrivilegedRoles
  type: boolean
  default: false
steps:
- \${{ each environment in parameters.environments }}:
  - script: echo \${{ environment.name }}
    displayName: Show \${{ environment.name }}
- \${{ if eq(parameters.command, 'provision') }}:
  - task: ManagedIdentityConnections@1
    inputs:
      command: \${{ parameters.command }}
      bootstrapConnection: bootstrap-connection
      allowPrivilegedRoles: \${{ parameters.allowPrivilegedRoles }}
`;
    assertPasses(await validatePipelineYaml(template, 'steps-template.yml'));
  });

  it('passes a pipeline that extends a template', async () => {
    const extending = `trigger:
  branches:
    include: [main]
resources:
  repositories:
  - repository: templates
    type: git
    name: platform/managed-identity-connections
    ref: refs/tags/v1
extends:
  template: templates/stages/provision.yml@templates
  parameters:
    bootstrapConnection: bootstrap-connection
    environmentsFile: environments.yml
`;
    assertPasses(await validatePipelineYaml(extending, 'extends.yml'));
  });
});

describe('ids built from template expressions', function () {
  this.timeout(60_000);

  /** A jobs template whose one job has the id `id` and one step named `step`. */
  const jobs = (id: string, step = 'show', extra = '') => `parameters:
- name: connection
  type: object
jobs:
- job: ${id}
  displayName: Smoke test \${{ parameters.connection.name }}
  steps:
  - script: echo hello
    name: ${step}
${extra}`;

  it('passes a job id made of literal characters and expressions, as the service compiles it', async () => {
    for (const id of [
      "smoke_${{ replace(replace(parameters.connection.name, '-', '_'), ' ', '_') }}",
      '${{ parameters.connection.name }}',
      '${{ parameters.connection.name }}_${{ parameters.connection.subscriptionId }}',
      "smoke_${{ format('{0}', parameters.connection.name) }}",
    ]) {
      assertPasses(await validatePipelineYaml(jobs(id), 'built-id.yml'));
    }
  });

  it('passes a step name and a task name built from an expression', async () => {
    assertPasses(await validatePipelineYaml(jobs('smoke', 'show_${{ parameters.connection.name }}'), 'built-step.yml'));
    const task = `steps:
- task: ManagedIdentityConnections@1
  name: mic_\${{ parameters.environment }}
  inputs:
    command: plan
    bootstrapConnection: bootstrap-connection
`;
    assertPasses(await validatePipelineYaml(task, 'built-task-name.yml'));
  });

  it('still fails the literal part of a built id, a runtime macro in an id, and an unclosed expression', async () => {
    assertFails(await validatePipelineYaml(jobs('smoke test_${{ parameters.connection.name }}')), /does not match the pattern of "\^\[-_A-Za-z0-9\]\*\$" \(\$\{\{ \}\} template expressions aside\)/, 5);
    // $( ) is a runtime macro: the service needs the id when it compiles the run, before macros expand.
    assertFails(await validatePipelineYaml(jobs('smoke_$(connectionName)')), /does not match the pattern/, 5);
    assertFails(await validatePipelineYaml(jobs('smoke_${{ parameters.connection.name')), /does not match the pattern/, 5);
    assertFails(await validatePipelineYaml(jobs('smoke', 'show.step_${{ parameters.connection.name }}')), /does not match the pattern/, 9);
  });

  it('still fails a misspelled key and a bad value in a job whose id is built', async () => {
    const id = 'smoke_${{ parameters.connection.name }}';
    assertFails(await validatePipelineYaml(jobs(id, 'show', '  timeoutInMinute: 10\n')), /Unexpected property timeoutInMinute/, 10);
    assertFails(await validatePipelineYaml(jobs(id, 'show', '  workspace:\n    clean: everything\n')), /Value is not accepted\. Valid values: "outputs", "resources", "all"/, 11);
  });

  it('widens only id patterns, and only by whole expressions', () => {
    const widened = new RegExp(admitTemplateExpressions('^[-_A-Za-z0-9]*$'));
    for (const good of ['', 'plain', 'a_${{ x }}', '${{ x }}${{ y }}', "a${{ replace(x, '-', '_') }}b"]) assert.match(good, widened);
    for (const bad of ['a b', 'a_${{ x }', 'a_${ x }', 'a_$(x)', "a_${{ x }} }}", 'a.${{ x }}']) assert.doesNotMatch(bad, widened);
    assert.throws(() => admitTemplateExpressions('^none$'), /expected an id pattern/);
  });

  it('leaves resource aliases as Microsoft\'s schema has them', () => {
    const definitions = (pipelineSchema() as { definitions: Record<string, { pattern?: string; properties?: Record<string, { $ref?: string }> }> }).definitions;
    assert.equal(definitions.referenceName!.pattern, '^[-_A-Za-z0-9]*$');
    assert.equal(definitions.repositoryResource!.properties!.repository!.$ref, '#/definitions/referenceName');
  });
});

describe('the schema entry generated from task.json', () => {
  type InputSchema = { type?: string; pattern?: string };
  const { shape } = taskSchemaEntries(task);
  const inputs = (shape.properties as { inputs: { properties: Record<string, InputSchema>; additionalProperties: boolean } }).inputs;

  it('describes every input and refuses others', () => {
    assert.deepEqual(Object.keys(inputs.properties).sort(), task.inputs.map((input) => input.name).sort());
    assert.equal(inputs.additionalProperties, false);
    for (const input of task.inputs) assert.equal(inputs.properties[input.name]!.type, input.type === 'boolean' ? 'boolean' : 'string', input.name);
  });

  it('allows a pickList its options and whole-value expressions, nothing else', () => {
    for (const input of task.inputs.filter((candidate) => candidate.type === 'pickList')) {
      const pattern = new RegExp(inputs.properties[input.name]!.pattern!, 'i');
      for (const option of Object.keys(input.options ?? {})) assert.match(option, pattern, input.name);
      for (const expression of ['${{ parameters.x }}', '$(x)', "$[ variables['x'] ]"]) assert.match(expression, pattern, input.name);
      for (const other of ['', 'apply', `${Object.keys(input.options ?? {})[0]} extra`, 'prefix ${{ parameters.x }}']) assert.doesNotMatch(other, pattern, input.name);
    }
  });
});

describe('pipeline YAML in files and Markdown', () => {
  let scratch: string;
  before(() => {
    scratch = mkdtempSync(join(tmpdir(), 'mic-yaml-'));
  });
  after(() => rmSync(scratch, { recursive: true, force: true }));

  it('takes the yaml blocks of Markdown, skipping those marked as something else, and reports Markdown lines', async () => {
    const markdown = [
      '# Title', //                                   1
      '', //                                          2
      '```yaml', //                                   3
      'steps:', //                                    4
      '- script: echo one', //                        5
      '```', //                                       6
      '', //                                          7
      '```yaml environments', //                      8
      'version: 1', //                                9
      '```', //                                       10
      '', //                                          11
      '  ```yml', //                                  12
      '  stepz:', //                                  13
      '  - script: echo two', //                      14
      '  ```', //                                     15
    ].join('\n');
    assert.deepEqual(fencedPipelineBlocks(markdown), [
      { line: 4, text: 'steps:\n- script: echo one\n' },
      { line: 13, text: 'stepz:\n- script: echo two\n' },
    ]);
    const file = join(scratch, 'guide.md');
    writeFileSync(file, markdown);
    const problems = await validatePipelineFiles([file]);
    assertFails(problems, /Unexpected property stepz/, 13);
  });

  it('finds .yml and .yaml files in nested folders, and none in a folder that does not exist', () => {
    mkdirSync(join(scratch, 'templates', 'steps'), { recursive: true });
    writeFileSync(join(scratch, 'templates', 'steps', 'a.yml'), 'steps: []\n');
    writeFileSync(join(scratch, 'templates', 'b.yaml'), 'steps: []\n');
    writeFileSync(join(scratch, 'templates', 'notes.md'), '# not YAML\n');
    assert.deepEqual(yamlFilesUnder(join(scratch, 'templates')), [join(scratch, 'templates', 'b.yaml'), join(scratch, 'templates', 'steps', 'a.yml')]);
    assert.deepEqual(yamlFilesUnder(join(scratch, 'missing')), []);
  });
});
