// Protects the verification run (issue 5) end to end, with the bundled task as the agent runs it: a provision
// with queueVerificationRun queues exactly one run of the pipeline running the task (System.DefinitionId), on
// the branch it runs on (Build.SourceBranch), with verificationRunParameters (by default `mode: verify`) — and
// only after the running pipeline was authorized on every connection, `authorize: none` included, because
// Azure Pipelines refuses a run that names a connection its pipeline may not use. Every successful provision
// queues one, whether or not it changed anything; plan and verify never queue one. When the task waits, the
// run's result is the task's: a failed run fails it with MIC508 and the run's address. A run Azure DevOps
// refuses (an undeclared parameter) fails the task with MIC410 and Azure DevOps' reason, and nothing is queued.
//
// Not here: the timeout (MIC509). verificationRunTimeoutMinutes is at least 1, and the poll schedule
// (10 s, 20 s, then the rest of the minute) makes that a 60-second test; tests/unit/verification-run.test.ts
// covers it with a fake clock. The two waiting tests below each take one 10-second poll.
import assert from 'node:assert/strict';
import {
  connectionNamed,
  devEnvironment,
  e2eWorld,
  permissionsOf,
  requestsTo,
  specText,
  statusesOf,
  transcript,
  writeCounts,
  type E2eWorld,
  type MicRun,
  type PipelineRunView,
  type WorldState,
} from './harness';

/** Two connections on one identity; the second may be used by no pipeline, as far as the spec says. */
const environment = {
  ...devEnvironment,
  connections: [
    { name: 'app-dev', shareWith: ['Apps'] },
    { name: 'app-dev-locked', authorize: 'none' },
  ],
};
const spec = specText([environment]);
const connectionNames = environment.connections.map((connection) => connection.name);

const withRun = { environments: spec, queueVerificationRun: 'true' } as const;

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function runIds(state: WorldState): Set<number> {
  return new Set(state.pipelineRuns.map((run) => run.id));
}

function runsSince(state: WorldState, before: ReadonlySet<number>): PipelineRunView[] {
  return state.pipelineRuns.filter((run) => !before.has(run.id));
}

/**
 * Runs the task and, as soon as the emulator holds the run it queued, completes that run with `result` through
 * the control API — while the task is still waiting for it.
 */
async function runAndComplete(world: E2eWorld, inputs: Record<string, string>, result: 'succeeded' | 'failed'): Promise<{ run: MicRun; queued: PipelineRunView }> {
  const before = runIds(world.state());
  const log = world.emulator.ctx.requests.log;
  const first = log.length;
  let finished: MicRun | undefined;
  const task = world.run(inputs).then((run) => (finished = run));
  let queued: PipelineRunView | undefined;
  // Completed only once the task has the queue request's answer (the log holds answered requests): the answer
  // says the run is in progress, as Azure DevOps' does, and the task must poll to learn how it ends. Completing
  // it as soon as it exists could reach the emulator while it is still writing that answer.
  const answered = () => log.slice(first).some((entry) => entry.route === 'devops.runs.queue' && entry.status === 200);
  while (!queued || !answered()) {
    if (finished) throw new Error(`the task ended before it queued a run:\n${transcript(finished)}`);
    queued ??= runsSince(world.state(), before)[0];
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  await world.control('POST', `devops/runs/${queued.id}/complete`, { result });
  assert.equal(finished, undefined, 'the run was completed while the task was still waiting');
  return { run: await task, queued };
}

describe('e2e: the verification run', function () {
  this.timeout(60_000);
  const world = e2eWorld({ resetBeforeEach: false });

  describe('provision with queueVerificationRun (defaults: mode: verify, no waiting)', () => {
    const branch = 'refs/heads/feature/verify-run';
    let pipelineId: number;
    let run: MicRun;
    let newRuns: PipelineRunView[];
    let state: WorldState;

    // GIVEN an empty world and a job of the bootstrap pipeline running on a feature branch
    // WHEN provision runs there with queueVerificationRun: true, for two new connections, one `authorize: none`
    before(async () => {
      await world.reset();
      const job = await world.control<{ agentEnv: Record<string, string> }>('POST', 'devops/jobs', { refName: branch });
      assert.equal(job.agentEnv.BUILD_SOURCEBRANCH, branch);
      pipelineId = Number(job.agentEnv.SYSTEM_DEFINITIONID);
      const before = runIds(world.state());
      run = await world.run(withRun, { agentEnv: job.agentEnv });
      state = world.state();
      newRuns = runsSince(state, before);
      assert.equal(run.result, 'Succeeded', transcript(run));
    });

    it('queues exactly one run, of the pipeline running the task', () => {
      // THEN one new run, of System.DefinitionId, queued by one request
      assert.equal(newRuns.length, 1, JSON.stringify(newRuns));
      assert.equal(newRuns[0]!.pipeline.id, pipelineId);
      assert.equal(requestsTo(run.requests, 'devops.runs.queue').length, 1);
    });

    it('queues it with templateParameters { mode: verify } on the branch the task runs on', () => {
      // THEN the default verificationRunParameters, and Build.SourceBranch as the self repository's ref
      assert.deepEqual(newRuns[0]!.templateParameters, { mode: 'verify' });
      assert.equal(newRuns[0]!.resources.repositories.self.refName, branch);
    });

    it('publishes the run\'s id and address as outputs, and names the run in the result', () => {
      // THEN verificationRunId / verificationRunUrl are the queued run's
      const queued = newRuns[0]!;
      assert.equal(run.outputs.verificationRunId, String(queued.id));
      assert.equal(run.outputs.verificationRunUrl, queued._links.web.href);
      assert.ok(run.log.some((line) => line.startsWith(`Queued verification run ${queued.name} of pipeline ${pipelineId} on ${branch}: ${queued._links.web.href}`)), transcript(run));
      assert.match(run.resultMessage ?? '', new RegExp(`verification run ${escape(queued.name)} queued\\.$`));
    });

    it('does not wait for the run: it is still in progress when the task ends', () => {
      assert.equal(newRuns[0]!.state, 'inProgress');
      assert.equal(requestsTo(run.requests, 'devops.runs.get').length, 0);
    });

    it('queues the run only after the pipeline-permission write of every new connection', () => {
      // THEN in the request log, every PATCH …/pipelinepermissions — one connection's route, or the list route
      // that connections authorized together share — was answered before the run was queued, and each new
      // connection was in one of them (the next test checks what they granted)
      const queue = requestsTo(run.requests, 'devops.runs.queue')[0]!;
      const queueIndex = run.requests.indexOf(queue);
      const writes = requestsTo(run.requests, 'devops.pipelinepermissions.update');
      assert.ok(writes.length >= 1 && writes.length <= connectionNames.length, `${writes.length} permission writes`);
      for (const write of writes) {
        assert.ok(run.requests.indexOf(write) < queueIndex, `${write.route} comes before the queue`);
        assert.ok(write.at <= (queue.arrivedAt ?? queue.at), `${write.route} was answered before the queue request arrived`);
      }
      for (const name of connectionNames) {
        const connection = connectionNamed(state, name);
        assert.ok(connection, `connection ${name} exists`);
        const written = writes.some((write) => write.route === 'devops.pipelinepermissions.update-many' || write.path.toLowerCase().includes(connection.id.toLowerCase()));
        assert.ok(written, `a permission write for ${name}`);
      }
    });

    it('leaves the running pipeline authorized on every connection, the `authorize: none` one included', () => {
      for (const name of connectionNames) {
        const permissions = permissionsOf(state, connectionNamed(state, name)!.id);
        assert.ok(
          permissions?.pipelines.some((pipeline) => pipeline.id === pipelineId && pipeline.authorized),
          `pipeline ${pipelineId} may use ${name}: ${JSON.stringify(permissions)}`,
        );
      }
      assert.equal(run.outputs.permissionsBroadened, 'true');
    });
  });

  describe('a rerun with nothing to change', () => {
    it('queues one more run: every successful provision queues one, changes or not, and writes nothing else', async () => {
      // GIVEN a world provisioned with queueVerificationRun (one run queued already)
      await world.reset();
      const first = await world.run(withRun);
      assert.equal(first.result, 'Succeeded', transcript(first));
      const before = runIds(world.state());
      // WHEN the same provision runs again
      const rerun = await world.run(withRun);
      // THEN nothing changed, and yet exactly one more run is queued (afterProvision queues whenever no
      // environment failed and an enabled connection exists)
      assert.equal(rerun.result, 'Succeeded', transcript(rerun));
      assert.equal(rerun.outputs.changesPresent, 'false');
      assert.equal(rerun.outputs.permissionsBroadened, 'false');
      assert.deepEqual(writeCounts(rerun), { 'devops.runs.queue': 1 });
      const newRuns = runsSince(world.state(), before);
      assert.equal(newRuns.length, 1, JSON.stringify(newRuns));
      assert.deepEqual(newRuns[0]!.templateParameters, { mode: 'verify' });
      assert.equal(rerun.outputs.verificationRunId, String(newRuns[0]!.id));
      assert.notEqual(rerun.outputs.verificationRunId, first.outputs.verificationRunId);
    });
  });

  describe('waitForVerificationRun', () => {
    beforeEach(() => world.reset());
    const waiting = { ...withRun, waitForVerificationRun: 'true', verificationRunTimeoutMinutes: '1' };

    it('fails the task with MIC508 and the run\'s address when the run fails', async () => {
      // GIVEN an empty world  WHEN provision queues the run and waits, and the run completes `failed`
      const { run, queued } = await runAndComplete(world, waiting, 'failed');
      // THEN the task fails with MIC508 naming the run and its address; everything else was provisioned
      assert.equal(run.result, 'Failed', transcript(run));
      const failure = run.problems.find((problem) => problem.code === 'MIC508');
      assert.ok(failure, transcript(run));
      assert.ok(failure.text.startsWith(`Verification run ${queued.name} failed: ${queued._links.web.href}`), failure.text);
      assert.deepEqual(run.problems.map((problem) => problem.code), ['MIC508']);
      assert.match(run.resultMessage ?? '', /but the verification run did not succeed: MIC508\.$/);
      assert.equal(run.outputs.verificationRunUrl, queued._links.web.href);
      assert.ok(run.log.some((line) => line.startsWith(`Verification run ${queued.name}: completed (failed)`)), transcript(run));
      assert.ok(connectionNamed(world.state(), 'app-dev'), 'the connections were provisioned');
    });

    it('succeeds when the run succeeds', async () => {
      // GIVEN an empty world  WHEN provision queues the run and waits, and the run completes `succeeded`
      const { run, queued } = await runAndComplete(world, waiting, 'succeeded');
      // THEN the task succeeds, having read the run until it completed
      assert.equal(run.result, 'Succeeded', transcript(run));
      assert.deepEqual(run.problems, []);
      assert.equal(run.outputs.verificationRunId, String(queued.id));
      assert.ok(requestsTo(run.requests, 'devops.runs.get').length >= 1, 'the task polled the run');
      assert.ok(run.log.some((line) => line.startsWith(`Verification run ${queued.name}: completed (succeeded)`)), transcript(run));
      assert.match(run.resultMessage ?? '', new RegExp(`verification run ${escape(queued.name)} succeeded\\.$`));
    });
  });

  describe('plan shows its grant, verify ignores it', () => {
    beforeEach(() => world.reset());
    const lockedSpec = specText([{ ...devEnvironment, connections: [{ name: 'app-dev', authorize: 'none' }] }]);

    it('plan shows the grant provision makes for the verification run, and queues no run', async () => {
      // GIVEN an empty world  WHEN plan runs with queueVerificationRun: true
      const before = runIds(world.state());
      const run = await world.run({ command: 'plan', environments: lockedSpec, queueVerificationRun: 'true' });
      // THEN the running pipeline's grant is in the plan (authorize: none notwithstanding), and no run, no write,
      // no verification run outputs
      assert.equal(run.result, 'Succeeded', transcript(run));
      const running = world.info.agentEnv.SYSTEM_DEFINITIONID;
      assert.ok(run.log.some((line) => line.includes(`dev: pipeline ${running} may use connection app-dev (pipeline ${running}: for the verification run)`)), transcript(run));
      assert.equal(run.outputs.permissionsBroadened, 'true');
      assert.deepEqual(runsSince(world.state(), before), []);
      assert.equal(run.writes.length, 0, JSON.stringify(run.writes));
      assert.equal(run.outputs.verificationRunId, undefined);
    });

    it('verify queues no run, says so in an info line, and finds no drift in a pipeline it would have authorized', async () => {
      // GIVEN a world provisioned without a verification run (authorize: none: no pipeline may use app-dev)
      const provisioned = await world.run({ environments: lockedSpec });
      assert.equal(provisioned.result, 'Succeeded', transcript(provisioned));
      const before = runIds(world.state());
      // WHEN verify runs with queueVerificationRun: true
      const run = await world.run({ command: 'verify', environments: lockedSpec, queueVerificationRun: 'true' });
      // THEN it passes, queues nothing, writes nothing, and says why
      assert.equal(run.result, 'Succeeded', transcript(run));
      assert.ok(run.log.includes('queueVerificationRun is ignored: only provision queues a verification run, and the command is verify.'), transcript(run));
      assert.deepEqual(runsSince(world.state(), before), []);
      assert.equal(run.writes.length, 0, JSON.stringify(run.writes));
      assert.equal(run.outputs.verificationRunId, undefined);
    });
  });

  describe('a run Azure DevOps refuses', () => {
    it('an undeclared parameter fails the task with MIC410 and Azure DevOps\' reason, and no run is queued', async () => {
      // GIVEN an empty world and a parameter the bootstrap pipeline does not declare
      await world.reset();
      const before = runIds(world.state());
      // WHEN provision runs with it
      const run = await world.run({ ...withRun, verificationRunParameters: 'mode: verify\nregion: westeurope\n' });
      // THEN the task fails with MIC410 quoting Azure DevOps; provisioning itself happened; no run exists
      assert.equal(run.result, 'Failed', transcript(run));
      const refusal = run.problems.find((problem) => problem.code === 'MIC410');
      assert.ok(refusal, transcript(run));
      assert.match(refusal.text, /Azure DevOps refused to queue a run of pipeline 1: Unexpected parameter 'region'/);
      assert.deepEqual(run.problems.map((problem) => problem.code), ['MIC410']);
      assert.match(run.resultMessage ?? '', /but the verification run did not succeed: MIC410\.$/);
      assert.deepEqual(statusesOf(run.requests, 'devops.runs.queue'), [400]);
      assert.deepEqual(runsSince(world.state(), before), []);
      assert.equal(run.outputs.verificationRunId, undefined);
      assert.equal(run.outputs.verificationRunUrl, undefined);
      assert.ok(connectionNamed(world.state(), 'app-dev'), 'the connections were provisioned');
    });
  });
});
