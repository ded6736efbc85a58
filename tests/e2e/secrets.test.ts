// Protects "no secrets in text" where it matters — in what the agent receives from the task process. Every
// token the emulator issued (job tokens, Azure DevOps ID tokens, Entra access tokens, including the ones
// TestConnection used internally) must be absent from the task's stdout and stderr, except inside
// `##vso[task.setsecret]` commands (how a task asks the agent to mask a value; the agent never prints them).
// And every token the task itself received — the job token, the bootstrap connection's ID tokens, the
// bootstrap identity's access tokens for ARM and Azure DevOps — must have been handed to setsecret, so the
// agent masks it wherever it might surface. Exercised with debug output on, retries, and a failing run.
import assert from 'node:assert/strict';
import { BOOTSTRAP_IDENTITY } from '../emulator/azure/default-world';
import type { IssuedToken } from '../emulator/kernel/tokens';
import { connectionNamed, devEnvironment, e2eWorld, specText, transcript, type MicRun } from './harness';

const spec = specText([{ ...devEnvironment, connections: [{ name: 'app-dev' }] }]);
const SET_SECRET = '##vso[task.setsecret]';

interface ObservedRun {
  readonly run: MicRun;
  /** Tokens the emulator issued while this run was going on. */
  readonly issued: readonly IssuedToken[];
}

describe('e2e: tokens never reach the log', () => {
  const world = e2eWorld({ resetBeforeEach: false });
  const runs: ObservedRun[] = [];
  let bootstrapSubject: string;

  async function observe(run: () => Promise<MicRun>): Promise<void> {
    const first = world.emulator.ctx.tokens.list().length;
    const result = await run();
    runs.push({ run: result, issued: world.emulator.ctx.tokens.list().slice(first) });
  }

  before(async function () {
    this.timeout(60_000);
    await world.reset();
    const debug = { extraEnv: { SYSTEM_DEBUG: 'true' } };
    bootstrapSubject = connectionNamed(world.state(), 'bootstrap')!.authorization.parameters.workloadIdentityFederationSubject!;
    // A provision that signs in to Azure DevOps with an Entra token and waits out a propagating credential…
    await world.control('POST', 'delays', { ficPropagationMs: 300 });
    await observe(() => world.run({ environments: spec, devOpsAuth: 'bootstrapIdentity' }, debug));
    assert.equal(runs[0]!.run.result, 'Succeeded', transcript(runs[0]!.run));
    // …and a verify with the job token that fails on a connection moved to the other issuer.
    await world.control('POST', 'devops/organization/issuer', { issuerType: 'AzureDevOps', moveConnections: ['app-dev'] });
    await observe(() => world.run({ command: 'verify', environments: spec }, debug));
    assert.equal(runs[1]!.run.result, 'Failed', transcript(runs[1]!.run));
  });

  // GIVEN (before) a provision with an Entra token for Azure DevOps and a retried sign-in, and a failing verify
  it('no issued token appears in stdout or stderr outside setsecret commands', () => {
    const tokens = [...world.emulator.ctx.tokens.list().map((entry) => entry.token), world.info.systemAccessToken];
    assert.ok(tokens.length >= 6, `${tokens.length} tokens issued`);
    for (const { run } of runs) {
      const printed = [...run.stdout.split(/\r?\n/).filter((line) => !line.startsWith(SET_SECRET)), ...run.stderr.split(/\r?\n/)];
      for (const token of tokens) {
        // The signature alone identifies the token; header and claims are not secret by themselves.
        const signature = token.split('.')[2]!;
        const leaks = printed.filter((line) => line.includes(token) || line.includes(signature));
        assert.deepEqual(leaks.map((line) => line.slice(0, 160)), [], `a token (${token.slice(0, 12)}…) was printed`);
      }
    }
  });

  it('every token the task received was passed to setsecret', () => {
    for (const { run, issued } of runs) {
      const received = [
        world.info.systemAccessToken,
        ...issued.filter((entry) => entry.kind === 'id-token' && entry.subject === bootstrapSubject).map((entry) => entry.token),
        ...issued.filter((entry) => entry.kind === 'access-token' && entry.subject === BOOTSTRAP_IDENTITY.principalId).map((entry) => entry.token),
      ];
      assert.ok(issued.some((entry) => entry.kind === 'id-token' && entry.subject === bootstrapSubject), 'the run fetched a job ID token');
      assert.ok(issued.some((entry) => entry.kind === 'access-token' && entry.subject === BOOTSTRAP_IDENTITY.principalId), 'the run got an access token');
      for (const token of received) assert.ok(run.secrets.includes(token), `a received token (${token.slice(0, 12)}…) was never passed to setsecret`);
    }
    const devOpsToken = runs[0]!.issued.find((entry) => entry.kind === 'access-token' && entry.audience.startsWith('499b84ac-1321-427f-aa17-267ca6975798'));
    assert.ok(devOpsToken && runs[0]!.run.secrets.includes(devOpsToken.token), 'the Entra token for Azure DevOps was masked');
  });
});
