// Protects the wiring between task.json and the entry point, with azure-pipelines-task-lib's own
// MockTestRunner (offline: nodePath is this Node, runAsync() without a version — never a download). Not
// behaviour (the unit and e2e tiers own that): that the inputs task.json declares are the ones the entry point
// reads, that input problems surface as the documented codes naming the input, that a bad spec stops the run
// before any network call, and that `plan` publishes its output variables and writes nothing.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MockTestRunner } from 'azure-pipelines-task-lib/mock-test';
import { parseAgentCommand, repoRoot } from '../../scripts/lib/run-task';
import { l0Agent } from './scenarios/agent';

const taskJson = join(repoRoot, 'task.json');

async function runScenario(name: string): Promise<MockTestRunner> {
  const runner = new MockTestRunner(join(__dirname, 'scenarios', `${name}.js`), taskJson);
  runner.nodePath = process.execPath;
  await runner.runAsync();
  return runner;
}

/** TaskConfig as JSON (the job token is a Secret, which serializes as ***). */
interface PrintedConfig {
  readonly command: string;
  readonly concurrency: number;
  readonly propagationTimeoutSeconds: number;
  readonly environments: { readonly kind: string };
  readonly bootstrap: { readonly id: string; readonly tenantId: string; readonly clientId: string };
  readonly pipeline: { readonly project: { readonly id: string; readonly name: string }; readonly definitionId?: number; readonly accessToken?: string };
}

function markers(runner: MockTestRunner, marker: string): string[] {
  return runner.stdout.split(/\r?\n/).filter((line) => line.startsWith(`${marker} `)).map((line) => line.slice(marker.length + 1));
}

function trace(runner: MockTestRunner): string {
  return `stdout:\n${runner.stdout}\nstderr:\n${runner.stderr}`;
}

describe('L0: task.json ↔ entry point wiring (MockTestRunner)', function () {
  this.timeout(30_000);

  it('without bootstrapConnection the task fails with MIC101 naming the input', async () => {
    const runner = await runScenario('missing-bootstrap-connection');
    assert.equal(runner.failed, true, trace(runner));
    assert.ok(runner.errorIssues.some((issue) => issue.includes('MIC101 (bootstrapConnection): The input bootstrapConnection is required.')), trace(runner));
    assert.deepEqual(markers(runner, 'L0-NETWORK'), []);
  });

  it('with both environments and environmentsFile the task fails with MIC103', async () => {
    const runner = await runScenario('both-spec-inputs');
    assert.equal(runner.failed, true, trace(runner));
    assert.ok(runner.errorIssues.some((issue) => issue.startsWith('MIC103 (environments):')), trace(runner));
    assert.deepEqual(markers(runner, 'L0-NETWORK'), []);
  });

  it('an invalid spec fails with its MIC1xx code, field and line, before any network call', async () => {
    const runner = await runScenario('invalid-spec');
    assert.equal(runner.failed, true, trace(runner));
    assert.ok(runner.errorIssues.some((issue) => issue.startsWith('MIC111 (environments[0].connections[0].resourceGroupp, line 9, column 9):')), trace(runner));
    assert.deepEqual(markers(runner, 'L0-NETWORK'), []);
  });

  it('plan reads every declared input, builds its config from inputs and agent, publishes outputs, and writes nothing', async () => {
    const runner = await runScenario('plan');
    assert.equal(runner.succeeded, true, trace(runner));
    const declared = (JSON.parse(readFileSync(taskJson, 'utf8')) as { inputs: { name: string }[] }).inputs.map((input) => input.name);
    assert.deepEqual([...new Set(markers(runner, 'L0-INPUT'))].sort(), [...declared].sort());

    const [configLine] = markers(runner, 'L0-CONFIG');
    assert.ok(configLine, trace(runner));
    const config = JSON.parse(configLine) as PrintedConfig;
    assert.equal(config.command, 'plan');
    assert.equal(config.concurrency, 3);
    assert.equal(config.propagationTimeoutSeconds, 45);
    assert.equal(config.environments.kind, 'inline');
    assert.deepEqual([config.bootstrap.id, config.bootstrap.tenantId, config.bootstrap.clientId], [l0Agent.bootstrapConnectionId, l0Agent.tenantId, l0Agent.clientId]);
    assert.deepEqual(config.pipeline.project, { id: l0Agent.projectId, name: l0Agent.projectName });
    assert.equal(config.pipeline.definitionId, Number(l0Agent.definitionId));
    assert.equal(config.pipeline.accessToken, '***', 'the job token is read, and never printed');

    const commands = runner.stdout.split(/\r?\n/).map(parseAgentCommand).filter((command) => command !== undefined);
    const outputs = Object.fromEntries(commands.filter((command) => command.name === 'task.setvariable' && command.properties.isOutput === 'true').map((command) => [command.properties.variable, command.value]));
    assert.equal(outputs.changesPresent, 'true');
    assert.equal(outputs.permissionsBroadened, 'true');
    // As an attachment of the summary type, named for the summary tab's title (not after its file).
    assert.ok(
      commands.some((command) => command.name === 'task.addattachment' && command.properties.type === 'Distributedtask.Core.Summary' && command.properties.name === 'Managed identity connections'),
      'a summary is uploaded, titled Managed identity connections',
    );
    assert.deepEqual(markers(runner, 'L0-WRITES'), ['[]']);
    assert.deepEqual(markers(runner, 'L0-NETWORK'), []);
    const printed = runner.stdout.split(/\r?\n/).filter((line) => !line.startsWith('##vso[task.setsecret]'));
    assert.ok(!printed.some((line) => line.includes(l0Agent.jobToken)), 'the job token is only ever passed to setsecret');
  });
});
