// Protects what users copy and extend: every template (templates/**), every sample pipeline (samples/*.yml)
// and every pipeline block in docs/templates.md and docs/permissions.md passes the offline Azure Pipelines
// schema check with our task's entry (tests/yaml), warnings included, as written: job ids built from
// `${{ }}` expressions are checked the way the service compiles them, with no placeholder swapped in.
// Also: the sample environments spec is a spec the task accepts, and the ABAC condition docs/permissions.md
// tells users to paste is one Azure's grammar parses and that allows exactly what the task needs.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { parse } from 'yaml';
import { loadSpecText, loadSpecValue, type LoadSpecResult } from '../../tasks/ManagedIdentityConnections/src/spec/load-spec';
import { evaluateCondition, parseCondition, type ConditionContext } from '../emulator/azure/abac-condition';
import { formatProblems, validatePipelineFiles, validatePipelineYaml } from '../yaml/pipeline-yaml';
import { fencedBlocks, readText, repoPath, root, samplePipelineFiles, samplesDir, templateFiles } from '../templates/repository-files';

describe('templates, samples and template docs against the Azure Pipelines schema', function () {
  this.timeout(60_000);

  it('still fails a template with a real mistake (the check is not vacuous)', async () => {
    const broken = readText(join(root, 'templates', 'steps', 'smoke-test.yml')).replace('scriptLocation: scriptPath', 'scriptLocation: scriptPath\n    scriptLocaton: typo');
    const problems = await validatePipelineYaml(broken, 'templates/steps/smoke-test.yml');
    assert.ok(problems.some((problem) => /scriptLocaton/.test(problem.message)), formatProblems(problems) || 'no problem reported');
  });

  it('checks the job whose id is built from an expression like any other (verify-connection.yml)', async () => {
    const path = join(root, 'templates', 'jobs', 'verify-connection.yml');
    const text = readText(path);
    assert.match(text, /^- job: smoke_\$\{\{ .* \}\}$/m, 'the template still builds its job id from the connection name');
    const misspelled = text.replace('  dependsOn: expectations', '  dependsOnn: expectations');
    assert.ok((await validatePipelineYaml(misspelled, repoPath(path))).some((problem) => /Unexpected property dependsOnn/.test(problem.message)), 'a misspelled key in that job fails');
    const badId = text.replace('- job: smoke_${{', '- job: smoke test_${{');
    assert.ok((await validatePipelineYaml(badId, repoPath(path))).some((problem) => /does not match the pattern/.test(problem.message)), 'a space in the literal part of the id fails');
  });

  for (const path of [...templateFiles(), ...samplePipelineFiles()]) {
    it(`${repoPath(path)} passes`, async () => {
      const problems = await validatePipelineFiles([path]);
      assert.deepEqual(problems, [], formatProblems(problems));
    });
  }

  for (const doc of ['docs/templates.md', 'docs/permissions.md', 'samples/README.md']) {
    it(`the pipeline blocks of ${doc} pass`, async () => {
      const problems = await validatePipelineFiles([join(root, doc)]);
      assert.deepEqual(problems, [], formatProblems(problems));
    });
  }

  it('docs/templates.md shows a complete pipeline that extends the template', () => {
    const blocks = fencedBlocks(readText(join(root, 'docs', 'templates.md')), 'yaml');
    assert.ok(blocks.some((block) => block.text.includes('template: templates/bootstrap.yml@mic') && block.text.includes('mode: ${{ parameters.mode }}')));
  });
});

function assertValidSpec(result: LoadSpecResult, where: string): void {
  assert.ok(result.ok, `${where}: ${result.ok ? '' : result.problems.map((problem) => JSON.stringify(problem)).join('\n')}`);
}

describe('the environments specs of the samples, as the task validates them', () => {
  it('samples/environments.yml', () => {
    assertValidSpec(loadSpecText(readText(join(samplesDir, 'environments.yml')), { allowPrivilegedRoles: false, only: [] }), 'samples/environments.yml');
  });

  for (const path of samplePipelineFiles()) {
    const pipeline = parse(readText(path)) as { extends?: { parameters?: { environments?: unknown } } };
    if (pipeline.extends?.parameters?.environments === undefined) continue;
    it(`${repoPath(path)} (its extends parameter environments)`, () => {
      assertValidSpec(loadSpecValue(pipeline.extends!.parameters!.environments, { allowPrivilegedRoles: false, only: [] }), repoPath(path));
    });
  }

  it('docs/templates.md (the extends example)', () => {
    const block = fencedBlocks(readText(join(root, 'docs', 'templates.md')), 'yaml').find((candidate) => candidate.text.includes('templates/bootstrap.yml@mic'))!;
    const pipeline = parse(block.text) as { extends: { parameters: { environments: unknown } } };
    assertValidSpec(loadSpecValue(pipeline.extends.parameters.environments, { allowPrivilegedRoles: false, only: [] }), 'docs/templates.md');
  });
});

describe('samples/environments.yml', () => {
  const spec = parse(readText(join(samplesDir, 'environments.yml'))) as { defaults?: Record<string, unknown>; environments: { name: string; connections: { name: string; subscriptionId: string; resourceGroup?: string }[]; roles?: { role: string; scope: string }[] }[] };

  it('is a v1 spec: unique lowercase environment names, one or more connections each, unique connection names', () => {
    const names = spec.environments.map((environment) => environment.name);
    assert.deepEqual(new Set(names).size, names.length);
    for (const name of names) assert.match(name, /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/);
    const connections = spec.environments.flatMap((environment) => environment.connections.map((connection) => connection.name.toLowerCase()));
    assert.equal(new Set(connections).size, connections.length);
    for (const environment of spec.environments) assert.ok(environment.connections.length > 0, environment.name);
  });

  it('scopes every role inside a subscription one of its connections targets (so the smoke test checks it)', () => {
    for (const environment of spec.environments) {
      const subscriptions = environment.connections.map((connection) => connection.subscriptionId.toLowerCase());
      for (const role of environment.roles ?? []) {
        assert.ok(subscriptions.some((subscription) => role.scope.toLowerCase().startsWith(`/subscriptions/${subscription}`)), `${environment.name}: ${role.role} at ${role.scope}`);
      }
    }
  });

  it('names the same environments in the self-service sample (so the two stay one example)', () => {
    const pipeline = parse(readText(join(samplesDir, 'self-service-bootstrap.yml'))) as { extends: { parameters: { environments: { environments: { name: string }[] } } } };
    const inPipeline = pipeline.extends.parameters.environments.environments.map((environment) => environment.name);
    assert.deepEqual(inPipeline, spec.environments.map((environment) => environment.name));
  });
});

describe('the ABAC condition in docs/permissions.md', () => {
  const blocks = fencedBlocks(readText(join(root, 'docs', 'permissions.md')), 'text').filter((block) => block.text.includes('ActionMatches'));
  const contributor = 'b24988ac-6180-42a0-ab88-20f7382dd24c';
  const owner = '8e3af657-a8ff-443c-a75c-2fe8c4bcb635';
  const request = (action: string, roleDefinitionId: string, principalType: string, source: 'Request' | 'Resource'): ConditionContext => ({
    action,
    attributes: { [source]: { 'Microsoft.Authorization/roleAssignments:RoleDefinitionId': [roleDefinitionId], 'Microsoft.Authorization/roleAssignments:PrincipalType': [principalType] } },
  });

  it('is there once, with conditionVersion 2.0 named beside it', () => {
    assert.equal(blocks.length, 1);
    assert.match(readText(join(root, 'docs', 'permissions.md')), /conditionVersion` `2\.0`|--condition-version 2\.0/);
  });

  it('parses, and allows writing and deleting the listed roles for service principals only', () => {
    const condition = parseCondition(blocks[0].text);
    const write = 'Microsoft.Authorization/roleAssignments/write';
    const remove = 'Microsoft.Authorization/roleAssignments/delete';
    assert.equal(evaluateCondition(condition, request(write, contributor, 'ServicePrincipal', 'Request')), true, 'Contributor for a managed identity');
    assert.equal(evaluateCondition(condition, request(write, owner, 'ServicePrincipal', 'Request')), false, 'Owner is refused');
    assert.equal(evaluateCondition(condition, request(write, contributor, 'User', 'Request')), false, 'a user is refused');
    assert.equal(evaluateCondition(condition, request(remove, contributor, 'ServicePrincipal', 'Resource')), true, 'deleting what it may create');
    assert.equal(evaluateCondition(condition, request(remove, owner, 'ServicePrincipal', 'Resource')), false, 'deleting an Owner assignment is refused');
    assert.equal(evaluateCondition(condition, { action: 'Microsoft.Resources/subscriptions/resourceGroups/read', attributes: {} }), true, 'other actions are not constrained');
  });
});
