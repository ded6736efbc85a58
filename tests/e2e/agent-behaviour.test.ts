// Protects what a real agent does around the task, run as the agent runs it (scripts/lib/run-task.ts):
// - the agent's proxy (AGENT_PROXYURL, user, password, bypass list) carries every request, and a dead one
//   fails fast with MIC602; its extra certificate authority (AGENT_CAINFO) is trusted without
//   NODE_EXTRA_CA_CERTS;
// - the process ends within 2 s of task.complete, whatever is still retrying, and no single request hangs
//   past its timeout;
// - nothing a spec or an input carries becomes a logging command the agent would run;
// - the summary tab has a readable title.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage } from 'node:http';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { devEnvironment, DEV, e2eWorld, specText, transcript, type MicRun } from './harness';

const recorder = join(__dirname, 'instrumentation', 'record-sockets.js');
/** task.json's restrictions.settableVariables: the agent drops a setvariable for any other name. */
const taskJson = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'task.json'), 'utf8')) as { restrictions: { settableVariables: { allowed: string[] } } };
const settable = taskJson.restrictions.settableVariables.allowed.map((pattern) => new RegExp(`^${pattern.replace(/\*/g, '.*')}$`, 'i'));

/** An HTTP CONNECT proxy that tunnels anywhere and records each tunnel's target and Proxy-Authorization. */
class RecordingProxy {
  readonly tunnels: { target: string; authorization?: string }[] = [];
  private readonly server = createHttpServer((_, res) => res.writeHead(405).end());
  private readonly sockets = new Set<Socket>();

  async start(): Promise<string> {
    this.server.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
      const [host, port] = (req.url ?? '').split(':');
      this.tunnels.push({ target: req.url ?? '', ...(req.headers['proxy-authorization'] ? { authorization: req.headers['proxy-authorization'] } : {}) });
      const upstream = connect(Number(port), host, () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        if (head.length > 0) upstream.write(head);
        upstream.pipe(client).pipe(upstream);
      });
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('error', () => undefined).on('close', () => this.sockets.delete(socket));
      }
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** A port on which nothing listens (bound, then closed). */
async function deadPort(): Promise<number> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** The agent ends the task when task.complete is out and the process exits; the two must be close. */
function assertExitedPromptly(run: MicRun): void {
  assert.ok(run.completedAtMs !== undefined, `no task.complete\n${transcript(run)}`);
  assert.ok(run.durationMs - run.completedAtMs < 2_000, `exited ${Math.round(run.durationMs - run.completedAtMs)} ms after task.complete\n${transcript(run)}`);
}

describe('e2e: the agent\'s proxy and certificate authority', () => {
  const world = e2eWorld();
  let directory: string;
  let proxy: RecordingProxy;
  let proxyUrl: string;

  beforeEach(async () => {
    directory = mkdtempSync(join(tmpdir(), 'mic-proxy-'));
    proxy = new RecordingProxy();
    proxyUrl = await proxy.start();
  });
  afterEach(async () => {
    await proxy.close();
    rmSync(directory, { recursive: true, force: true });
  });

  /** The job's environment without NODE_EXTRA_CA_CERTS: trust comes from AGENT_CAINFO only. */
  function agentEnvTrustingOnlyAgentCa(): Record<string, string> {
    const { NODE_EXTRA_CA_CERTS: caFile, ...env } = world.info.agentEnv;
    assert.ok(caFile, 'the emulator names its CA');
    return { ...env, AGENT_CAINFO: caFile };
  }

  it('sends every request of a provision through the agent\'s proxy, with its credentials, trusting AGENT_CAINFO', async () => {
    // GIVEN an agent with a proxy that needs a user and password, and an extra CA instead of NODE_EXTRA_CA_CERTS
    const log = join(directory, 'sockets.log');
    const password = 'proxy-password-never-printed';
    const run = await world.run(
      { environments: specText([devEnvironment]) },
      {
        agentEnv: agentEnvTrustingOnlyAgentCa(),
        extraEnv: {
          AGENT_PROXYURL: proxyUrl,
          AGENT_PROXYUSERNAME: 'agent',
          SECRET_AGENT_PROXYPASSWORD: password,
          NODE_OPTIONS: `--require ${recorder}`,
          MIC_SOCKET_LOG: log,
        },
      },
    );
    // THEN it provisioned, and every socket it opened went to the proxy
    assert.equal(run.result, 'Succeeded', transcript(run));
    const destinations = [...new Set(readFileSync(log, 'utf8').split('\n').filter(Boolean))];
    assert.deepEqual(destinations, [new URL(proxyUrl).host]);
    // AND the proxy tunnelled to the emulator, each time with the agent's proxy credentials
    const origin = new URL(String(world.emulator.info.armEndpoint)).host;
    assert.ok(proxy.tunnels.length > 0);
    for (const tunnel of proxy.tunnels) {
      assert.equal(tunnel.target, origin);
      assert.equal(tunnel.authorization, `Basic ${Buffer.from(`agent:${password}`).toString('base64')}`);
    }
    assert.ok(run.requests.length > 0);
    // The password is a secret variable of the agent's, masked by the agent; the task masks it again and
    // prints it nowhere else.
    const printed = run.stdout.split('\n').filter((line) => line.includes(password));
    assert.deepEqual(printed.filter((line) => !line.startsWith('##vso[task.setsecret]') && !line.startsWith('##vso[task.debug]')), [], 'the proxy password is printed');
    assert.ok(printed.some((line) => line === `##vso[task.setsecret]${password}`), 'the task masks the proxy password');
    assert.ok(!run.stderr.includes(password));
  });

  it('goes direct to URLs the bypass list matches, never touching the proxy', async () => {
    const dead = `http://127.0.0.1:${await deadPort()}`;
    const run = await world.run(
      { command: 'plan', environments: specText([devEnvironment]) },
      { extraEnv: { AGENT_PROXYURL: dead, AGENT_PROXYBYPASSLIST: JSON.stringify(['^https://127\\.0\\.0\\.1[:/]']) } },
    );
    assert.equal(run.result, 'Succeeded', transcript(run));
  });

  it('fails fast with MIC602 (not MIC604) when the agent\'s proxy is dead, before any request', async () => {
    const run = await world.run({ environments: specText([devEnvironment]), propagationTimeoutSeconds: '300' }, { extraEnv: { AGENT_PROXYURL: `http://127.0.0.1:${await deadPort()}` } });
    assert.equal(run.result, 'Failed', transcript(run));
    assert.deepEqual([...new Set(run.problems.map((problem) => problem.code))], ['MIC602'], transcript(run));
    assert.match(run.problems[0]!.text, /proxy/);
    assert.equal(run.requests.length, 0);
    assert.ok(run.durationMs < 10_000, `took ${Math.round(run.durationMs)} ms`);
    assertExitedPromptly(run);
  });

  it('refuses proxy settings it cannot use with MIC605, before any request', async () => {
    const run = await world.run({ environments: specText([devEnvironment]) }, { extraEnv: { AGENT_PROXYURL: proxyUrl, AGENT_PROXYBYPASSLIST: '["(unclosed"]' } });
    assert.equal(run.result, 'Failed', transcript(run));
    assert.deepEqual(run.problems.map((problem) => problem.code), ['MIC605']);
    assert.equal(run.requests.length, 0);
  });
});

describe('e2e: the process ends with its result', () => {
  const world = e2eWorld();
  const prodEnvironment = { ...devEnvironment, name: 'prod', connections: [{ name: 'app-prod' }] };

  it('exits within 2 s of a fatal error while other calls are still being retried', async () => {
    // GIVEN one environment whose identity read is refused and another whose read keeps failing transiently
    await world.control('POST', 'faults', {
      rules: [
        { route: 'arm.identities.get', path: '/id-ado-dev($|\\?)', status: 403, code: 'AuthorizationFailed' },
        { route: 'arm.identities.get', path: '/id-ado-prod($|\\?)', status: 503 },
      ],
    });
    // WHEN provision runs with the default propagation timeout (300 s of retries for the second read)
    const run = await world.run({ environments: specText([devEnvironment, prodEnvironment]) });
    // THEN it fails on the refusal and the process is gone 2 s later at most
    assert.equal(run.result, 'Failed', transcript(run));
    assert.ok(run.problems.some((problem) => problem.code === 'MIC304'), transcript(run));
    assertExitedPromptly(run);
    assert.equal(run.exitCode, 0, run.stderr);
  });

  it('gives up a request that hangs after its share of propagationTimeoutSeconds (MIC602)', async () => {
    // GIVEN creating the identity takes 60 s to answer, and the propagation timeout is 10 s
    await world.control('POST', 'faults', { rules: [{ route: 'arm.identities.put', latencyMs: 60_000 }] });
    const run = await world.run({ environments: specText([devEnvironment]), propagationTimeoutSeconds: '10' });
    // THEN the request is abandoned at the deadline and reported as a network failure
    assert.equal(run.result, 'Failed', transcript(run));
    assert.ok(run.problems.some((problem) => problem.code === 'MIC602' && /no answer within/.test(problem.text)), transcript(run));
    assert.ok(run.durationMs < 16_000, `took ${Math.round(run.durationMs)} ms`);
    assertExitedPromptly(run);
  });
});

describe('e2e: no logging command from spec values or inputs', () => {
  const world = e2eWorld();
  // What an attacker who can edit a spec might write: a command anywhere in a line, after a CR or LF, and
  // ANSI escapes that hide or rewrite text.
  const payloads = [
    '##vso[task.setvariable variable=INJECTED]pwned',
    'x\r##vso[task.complete result=Succeeded]done',
    'y\n##[error]forged',
    'z\u001b[2K\u001b[1A##[group]hidden',
    'w ##[command]rm -rf',
  ];
  const allowedCommands = new Set(['task.setsecret', 'task.debug', 'task.issue', 'task.logissue', 'task.setvariable', 'task.addattachment', 'task.complete']);

  /** Every line the agent would read (it splits at CR too) that it would execute or format, and is not ours. */
  function executable(stdout: string): string[] {
    const found: string[] = [];
    for (const line of stdout.split(/\r\n|\r|\n/)) {
      const at = line.indexOf('##vso[');
      // Inside a command's data (task-lib debug-prints every input it reads) an escape cannot forge a line.
      if (at !== 0 && line.includes('\u001b')) found.push(`ANSI escape: ${JSON.stringify(line)}`);
      if (at > 0) found.push(`command inside a line: ${JSON.stringify(line)}`);
      if (at === 0) {
        const name = /^##vso\[([\w.]+)/.exec(line)?.[1] ?? '';
        if (!allowedCommands.has(name)) found.push(`unexpected command ${name}: ${JSON.stringify(line)}`);
        const variable = /^##vso\[task\.setvariable [^\]]*variable=([^;\]]+)/.exec(line)?.[1];
        if (variable !== undefined && !settable.some((pattern) => pattern.test(variable))) found.push(`sets ${variable}: ${JSON.stringify(line)}`);
      }
      if (/^##\[/.test(line) && !/^##\[(group|endgroup)\]/.test(line)) found.push(`formatting command: ${JSON.stringify(line)}`);
    }
    return found;
  }

  for (const [index, payload] of payloads.entries()) {
    it(`echoes payload ${index + 1} in every field without making it a command`, async () => {
      // GIVEN the payload in every free-text field the task echoes: a role, an identity tag, a connection's
      // description (a valid spec, so the plan runs and echoes them), a project to share with and an unknown
      // field's name (an invalid spec, so the validator echoes them), and the `only` input
      const valid = specText([
        {
          ...devEnvironment,
          identity: { tags: { owner: payload } },
          connections: [{ name: 'app-dev', description: payload }],
          roles: [{ role: payload, scope: `/subscriptions/${DEV}` }],
        },
      ]);
      const invalid = specText([{ ...devEnvironment, connections: [{ name: 'app-dev', shareWith: [payload] }] }]);
      const runs = [
        await world.run({ command: 'plan', environments: valid }),
        await world.run({ command: 'plan', environments: `${invalid}${JSON.stringify(payload)}: 1\n` }),
        await world.run({ command: 'plan', environments: specText([devEnvironment]), only: payload }),
      ];
      // THEN the payload reached the log (it is not dropped) but no line is a command the agent would run
      for (const run of runs) {
        assert.equal(run.result, 'Failed', transcript(run));
        assert.deepEqual(executable(run.stdout), [], transcript(run));
      }
    });
  }
});

describe('e2e: the summary tab and the log', () => {
  const world = e2eWorld();

  it('groups the log per environment: its plan, then its results, each line inside its own group', async () => {
    const prod = { ...devEnvironment, name: 'prod', connections: [{ name: 'app-prod' }] };
    const run = await world.run({ environments: specText([devEnvironment, prod]) });
    assert.equal(run.result, 'Succeeded', transcript(run));
    const groups: { title: string; lines: string[] }[] = [];
    let open: { title: string; lines: string[] } | undefined;
    for (const line of run.stdout.split('\n')) {
      if (line.startsWith('##[group]')) {
        assert.equal(open, undefined, 'groups do not nest');
        open = { title: line.slice('##[group]'.length), lines: [] };
      } else if (line === '##[endgroup]') {
        assert.ok(open, 'endgroup closes a group');
        groups.push(open);
        open = undefined;
      } else if (open) open.lines.push(line);
      else assert.ok(!/^\[(dev|prod)\] /.test(line), `progress line outside its group: ${line}`);
    }
    assert.equal(open, undefined);
    // The plan's part per environment in spec order, then each environment's results as it finishes.
    assert.deepEqual(groups.slice(0, 2).map((group) => group.title.split(':')[0]), ['Environment dev', 'Environment prod']);
    assert.deepEqual(groups.slice(2).map((group) => group.title).sort(), ['Environment dev: results', 'Environment prod: results']);
    for (const group of groups) {
      const name = /^Environment (\w+)/.exec(group.title)![1]!;
      for (const line of group.lines.filter((text) => /^\[\w+\] /.test(text))) assert.ok(line.startsWith(`[${name}] `), `${line} in the group of ${name}`);
    }
    assert.ok(groups.some((group) => group.title === 'Environment dev: results' && group.lines.some((line) => line.startsWith('[dev] done: verify service connection app-dev'))));
    // AND every output variable it set is one task.json's restrictions let it set
    assert.ok(Object.keys(run.outputs).length >= 8);
    for (const name of Object.keys(run.outputs)) assert.ok(settable.some((pattern) => pattern.test(name)), `output ${name} is not in restrictions.settableVariables`);
  });

  it('is titled "Managed identity connections"', async () => {
    const run = await world.run({ command: 'plan', environments: specText([devEnvironment]) });
    assert.equal(run.result, 'Succeeded', transcript(run));
    assert.deepEqual(run.summaryTitles, ['Managed identity connections']);
    assert.equal(run.summaries.length, 1);
  });
});

describe('e2e: debug lines', () => {
  const world = e2eWorld();

  it('come out as task.debug commands the agent reads, one per action started, and not at all when task-lib skips debug output', async () => {
    const environments = specText([devEnvironment]);
    const run = await world.run({ environments });
    assert.equal(run.result, 'Succeeded', transcript(run));
    const debug = run.commands.filter((command) => command.name === 'task.debug').map((command) => command.value);
    assert.ok(debug.some((line) => line.startsWith('[dev] start: create managed identity id-ado-dev')), debug.join('\n'));
    assert.ok(debug.some((line) => line.startsWith('[dev] start: create service connection app-dev')), debug.join('\n'));

    // The knob task-lib honours (DistributedTask.Tasks.Node.SkipDebugLogsWhenDebugModeOff) with System.Debug off.
    const quiet = await world.run({ environments }, { extraEnv: { DISTRIBUTEDTASK_TASKS_NODE_SKIPDEBUGLOGSWHENDEBUGMODEOFF: 'true' } });
    assert.equal(quiet.result, 'Succeeded', transcript(quiet));
    // task-lib announces the two settings before it applies them; nothing follows.
    const quietDebug = quiet.commands.filter((command) => command.name === 'task.debug').map((command) => command.value);
    assert.deepEqual(quietDebug, ['system.debug=false', 'DistributedTask.Tasks.Node.SkipDebugLogsWhenDebugModeOff=true']);
  });
});
