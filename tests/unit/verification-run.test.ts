// queueVerificationRun, end to end through run() against the fake world. This suite protects what a pipeline
// relies on when it asks for a verification run: the running pipeline is authorized on every connection
// before the run is queued (even `authorize: none`), as a planned grant; the run is this pipeline on the
// same branch with verificationRunParameters as its template parameters; verificationRunId/Url are set;
// waiting polls with backoff until the run completes or the timeout, failing with MIC508 / MIC509 and the
// run's address unless it succeeded; nothing is queued when provisioning failed or there is nothing to use;
// and plan and verify ignore the input. The clock is fake, so a 30-minute wait takes no time.
import * as assert from 'node:assert/strict';
import { factNames, type RawValues } from '../../tasks/ManagedIdentityConnections/src/config';
import { formatTaskError } from '../../tasks/ManagedIdentityConnections/src/core/format-run';
import { run, type RunResult } from '../../tasks/ManagedIdentityConnections/src/core/run';
import { pollSchedule, type WaitClock } from '../../tasks/ManagedIdentityConnections/src/core/verification-run';
import { TaskError } from '../../tasks/ManagedIdentityConnections/src/errors';
import type { RunRequest } from '../../tasks/ManagedIdentityConnections/src/ports/devops';
import { createFakeWorld, world, type FakeWorld } from '../fakes/fake-world';
import { specFor, taskConfig } from './builders/run-builders';

class FakeClock implements WaitClock {
  readonly sleeps: number[] = [];
  private time = 0;

  now(): number {
    return this.time;
  }

  async sleep(ms: number): Promise<void> {
    this.sleeps.push(ms);
    this.time += ms;
  }
}

interface Scenario {
  readonly spec?: string;
  readonly inputs?: RawValues;
  readonly facts?: RawValues;
  readonly command?: string;
}

async function provisionWithRun(fake: FakeWorld, scenario: Scenario = {}, clock = new FakeClock()): Promise<RunResult> {
  const config = taskConfig(
    { command: scenario.command ?? 'provision', environments: scenario.spec ?? specFor(['dev']), queueVerificationRun: 'true', ...scenario.inputs },
    { [factNames.sourceBranch]: 'refs/heads/main', [factNames.hostType]: 'build', ...scenario.facts },
  );
  return run(config, fake.ports, { clock });
}

function queued(fake: FakeWorld): RunRequest[] {
  return fake.devOps.runs.map((item) => item.request);
}

function errorsOf(result: RunResult): string {
  return result.errors.map(formatTaskError).join('\n');
}

describe('verification run', () => {
  describe('queuing', () => {
    it('queues this pipeline on the same branch once everything is applied and tested, and sets the outputs', async () => {
      const fake = createFakeWorld();
      const result = await provisionWithRun(fake);
      assert.equal(result.status, 'succeeded', errorsOf(result));
      assert.deepEqual(queued(fake), [{ pipelineId: world.pipelineId, branch: 'refs/heads/main', templateParameters: { mode: 'verify' } }]);
      const methods = fake.log.methods('devOps');
      assert.equal(methods.at(-1), 'queueRun');
      assert.ok(methods.indexOf('testConnection') < methods.indexOf('queueRun'), 'the run is queued after the connections were tested');
      const [item] = fake.devOps.runs;
      assert.equal(fake.platform.outputs.get('verificationRunId'), String(item!.run.id));
      assert.equal(fake.platform.outputs.get('verificationRunUrl'), item!.run.url);
      assert.deepEqual([result.verificationRun?.status, fake.log.methods().includes('getRun')], ['queued', false]);
      assert.match(result.message, /verification run 20240501\.1 queued/);
    });

    it('passes the parameters through as the run\'s template parameters, as text', async () => {
      const fake = createFakeWorld();
      await provisionWithRun(fake, { inputs: { verificationRunParameters: 'mode: verify\nfull: true\nretries: 2' } });
      assert.deepEqual(queued(fake)[0]!.templateParameters, { mode: 'verify', full: 'true', retries: '2' });
    });

    it('passes the branch through, and none when the agent gives none', async () => {
      const fake = createFakeWorld();
      await provisionWithRun(fake, { facts: { [factNames.sourceBranch]: 'refs/heads/feature/identities' } });
      assert.equal(queued(fake)[0]!.branch, 'refs/heads/feature/identities');
      const other = createFakeWorld();
      await provisionWithRun(other, { facts: { [factNames.sourceBranch]: undefined } });
      assert.equal('branch' in queued(other)[0]!, false);
    });

    it('fails with MIC410 when Azure DevOps refuses the run, after provisioning everything', async () => {
      const fake = createFakeWorld();
      fake.log.failOn('queueRun', () => new TaskError('MIC410', "Azure DevOps refused to queue a run of pipeline 42: Unexpected parameter 'mode'"));
      const result = await provisionWithRun(fake);
      assert.equal(result.status, 'failed');
      assert.deepEqual(result.errors.map((error) => error.code), ['MIC410']);
      assert.ok(fake.devOps.byName('app-dev'), 'provisioning itself went through');
      assert.equal(fake.platform.outputs.has('verificationRunId'), false);
      assert.match(fake.platform.summaries[0]!, /\*\*Verification run\*\*: could not be queued: MIC410/);
    });
  });

  describe('authorizing the pipeline first', () => {
    it('authorizes the running pipeline even on a connection with authorize: none, and reports it as a grant', async () => {
      const fake = createFakeWorld();
      const result = await provisionWithRun(fake, { spec: specFor(['dev'], () => '        authorize: none\n') });
      assert.equal(result.status, 'succeeded', errorsOf(result));
      assert.deepEqual(fake.devOps.permissionsOf('app-dev').pipelineIds, [world.pipelineId]);
      const methods = fake.log.methods('devOps');
      assert.ok(methods.indexOf('authorizePipelines') < methods.indexOf('queueRun'));
      const grant = `dev: pipeline ${world.pipelineId} may use connection app-dev (pipeline ${world.pipelineId}: for the verification run)`;
      assert.ok(fake.platform.messages('info').some((line) => line.includes(grant)), 'the plan lists the grant');
      assert.ok(fake.platform.summaries[0]!.includes(grant), 'the summary lists the grant');
      assert.equal(result.plan!.permissionsBroadened, true);
    });

    it('adds the running pipeline to the pipelines a connection lists', async () => {
      const fake = createFakeWorld();
      await provisionWithRun(fake, { spec: specFor(['dev'], () => '        authorize: [7]\n') });
      assert.deepEqual([...fake.devOps.permissionsOf('app-dev').pipelineIds].sort((a, b) => a - b), [7, world.pipelineId]);
    });

    it('authorizes an existing connection the pipeline may not use yet, reading its permissions even for authorize: none', async () => {
      const fake = createFakeWorld();
      const spec = specFor(['dev'], () => '        authorize: none\n');
      assert.equal((await run(taskConfig({ command: 'provision', environments: spec }), fake.ports)).status, 'succeeded');
      assert.deepEqual(fake.devOps.permissionsOf('app-dev').pipelineIds, []);
      const result = await provisionWithRun(fake, { spec });
      assert.equal(result.status, 'succeeded', errorsOf(result));
      assert.ok(fake.log.methods().includes('getPipelinePermissions'));
      assert.deepEqual(fake.devOps.permissionsOf('app-dev').pipelineIds, [world.pipelineId]);
    });

    it('grants nothing more when every pipeline may use the connection already', async () => {
      const fake = createFakeWorld();
      await provisionWithRun(fake, { spec: specFor(['dev'], () => '        authorize: all\n') });
      const authorizations = fake.log.calls.filter((call) => call.method === 'authorizePipelines').map((call) => call.args[1]);
      assert.deepEqual(authorizations, [{ allPipelines: true, pipelineIds: [] }]);
      assert.equal(fake.devOps.runs.length, 1);
    });
  });

  describe('waiting', () => {
    it('polls with backoff until the run succeeds, logging progress', async () => {
      const fake = createFakeWorld();
      fake.devOps.runOutcome = { afterPolls: 3, result: 'succeeded' };
      const clock = new FakeClock();
      const result = await provisionWithRun(fake, { inputs: { waitForVerificationRun: 'true' } }, clock);
      assert.equal(result.status, 'succeeded', errorsOf(result));
      assert.equal(result.verificationRun?.status, 'succeeded');
      assert.deepEqual(clock.sleeps, [pollSchedule.initialDelayMs, pollSchedule.initialDelayMs * 2, pollSchedule.initialDelayMs * 4]);
      const progress = fake.platform.messages('info').filter((line) => line.startsWith('Verification run 20240501.1:'));
      assert.deepEqual(progress, ['Verification run 20240501.1: in progress (10 s of 30 min).', 'Verification run 20240501.1: in progress (30 s of 30 min).', 'Verification run 20240501.1: completed (succeeded) (1 min 10 s of 30 min).']);
      assert.match(fake.platform.summaries[0]!, /\*\*Verification run\*\*: \[20240501\.1\]\(https:\/\/\S+\) of pipeline 42 on refs\/heads\/main — succeeded\./);
    });

    it('never polls faster than the schedule\'s ceiling', async () => {
      const fake = createFakeWorld();
      fake.devOps.runOutcome = { afterPolls: 8, result: 'succeeded' };
      const clock = new FakeClock();
      await provisionWithRun(fake, { inputs: { waitForVerificationRun: 'true' } }, clock);
      assert.equal(Math.max(...clock.sleeps), pollSchedule.maxDelayMs);
    });

    for (const [result, words] of [
      ['failed', 'failed'],
      ['canceled', 'was canceled'],
    ] as const) {
      it(`fails with MIC508 and the run's address when the run ${words}`, async () => {
        const fake = createFakeWorld();
        fake.devOps.runOutcome = { afterPolls: 2, result };
        const outcome = await provisionWithRun(fake, { inputs: { waitForVerificationRun: 'true' } });
        assert.equal(outcome.status, 'failed');
        assert.deepEqual(outcome.errors.map((error) => error.code), ['MIC508']);
        assert.ok(outcome.errors[0]!.message.includes(`Verification run 20240501.1 ${words}: ${fake.devOps.runs[0]!.run.url}`), outcome.errors[0]!.message);
        assert.match(outcome.message, /Provisioned 1 environment and verified 1 connection, but the verification run did not succeed: MIC508/);
      });
    }

    it('fails with MIC509 and the run\'s address when the run is still going at the timeout, waiting exactly that long', async () => {
      const fake = createFakeWorld();
      fake.devOps.runOutcome = { afterPolls: Infinity, result: 'succeeded' };
      const clock = new FakeClock();
      const outcome = await provisionWithRun(fake, { inputs: { waitForVerificationRun: 'true', verificationRunTimeoutMinutes: '2' } }, clock);
      assert.equal(outcome.status, 'failed');
      assert.deepEqual(outcome.errors.map((error) => error.code), ['MIC509']);
      assert.match(outcome.errors[0]!.message, /did not finish within 2 minutes; it is still in progress: https:\/\/\S+buildId=1/);
      assert.equal(clock.sleeps.reduce((sum, ms) => sum + ms, 0), 2 * 60_000);
      assert.equal(outcome.verificationRun?.status, 'timedOut');
    });

    it('fails when the run cannot be read while waiting', async () => {
      const fake = createFakeWorld();
      fake.log.failOn('getRun', () => new TaskError('MIC602', 'read run 1 of pipeline 42 failed: ECONNRESET'));
      const outcome = await provisionWithRun(fake, { inputs: { waitForVerificationRun: 'true' } });
      assert.deepEqual(outcome.errors.map((error) => error.code), ['MIC602']);
    });
  });

  describe('when there is nothing to queue', () => {
    it('queues nothing when an environment failed, and says so', async () => {
      const fake = createFakeWorld();
      fake.log.failOn('createAssignment', () => new TaskError('MIC304', 'AuthorizationFailed'), { when: (call) => call.subject === 'id-ado-prod' });
      const result = await provisionWithRun(fake, { spec: specFor(['dev', 'prod']) });
      assert.equal(result.status, 'failed');
      assert.deepEqual(fake.devOps.runs, []);
      assert.equal(result.verificationRun?.status, 'notQueued');
      assert.ok(fake.platform.messages('info').includes('No verification run was queued: provisioning failed in prod; fix that and run again.'));
    });

    it('queues nothing when every connection is disabled, with an info line rather than an error', async () => {
      const fake = createFakeWorld();
      fake.devOps.seedConnection({ name: 'app-dev', isDisabled: true, subscriptionId: world.devSubscription.subscriptionId, subscriptionName: world.devSubscription.displayName });
      const result = await provisionWithRun(fake);
      assert.equal(result.status, 'succeededWithIssues', errorsOf(result));
      assert.deepEqual(fake.devOps.runs, []);
      assert.ok(fake.platform.messages('info').includes('No verification run was queued: the selected environments have no enabled connection for it to use.'));
    });

    it('is ignored by verify, with an info line, and adds no grant to the plan', async () => {
      const fake = createFakeWorld();
      const spec = specFor(['dev'], () => '        authorize: none\n');
      await run(taskConfig({ command: 'provision', environments: spec }), fake.ports);
      const result = await provisionWithRun(fake, { command: 'verify', spec });
      assert.deepEqual(fake.devOps.runs, []);
      assert.ok(fake.platform.messages('info').includes('queueVerificationRun is ignored: only provision queues a verification run, and the command is verify.'));
      assert.ok(!result.plan!.environments[0]!.actions.some((action) => action.kind === 'authorizePipelines'));
    });

    it('is shown by plan: the grant provision will make for the verification run is in the plan and in permissionsBroadened, and nothing is queued', async () => {
      const fake = createFakeWorld();
      const spec = specFor(['dev'], () => '        authorize: none\n');
      await run(taskConfig({ command: 'provision', environments: spec }), fake.ports);
      fake.platform.outputs.clear();
      const result = await provisionWithRun(fake, { command: 'plan', spec });
      assert.equal(result.status, 'succeeded', errorsOf(result));
      assert.deepEqual(fake.devOps.runs, []);
      const grant = result.plan!.environments[0]!.actions.find((action) => action.kind === 'authorizePipelines');
      assert.ok(grant && grant.kind === 'authorizePipelines', 'the plan shows the verification run\'s grant');
      assert.deepEqual([grant.pipelineIds, grant.forVerificationRun], [[world.pipelineId], world.pipelineId]);
      assert.equal(fake.platform.outputs.get('permissionsBroadened'), 'true');
      assert.equal(fake.platform.outputs.get('changesPresent'), 'true');
      assert.ok(fake.platform.messages('info').some((line) => line.includes(`pipeline ${world.pipelineId} runs this task and queues the verification run`)));
      assert.deepEqual(fake.log.methods('devOps').filter((method) => method === 'authorizePipelines' || method === 'queueRun'), [], 'plan writes nothing');
    });
  });
});
