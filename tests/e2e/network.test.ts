// Protects the task's boundary: run as the agent runs it, with nothing but the job's environment, it talks to
// the endpoints that environment names — here all of them the emulator's one HTTPS origin — and to nothing
// else: no instance discovery at login.microsoftonline.com, no telemetry, no default public-cloud host. Every
// outbound socket of the child process is recorded by a --require hook (instrumentation/record-sockets.ts).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { devEnvironment, e2eWorld, specText, transcript } from './harness';

const recorder = join(__dirname, 'instrumentation', 'record-sockets.js');

describe('e2e: the task reaches the emulator and nothing else', () => {
  const world = e2eWorld();
  let directory: string;

  beforeEach(() => {
    directory = mkdtempSync(join(tmpdir(), 'mic-sockets-'));
  });
  afterEach(() => rmSync(directory, { recursive: true, force: true }));

  it('every outbound socket of a full provision goes to the emulator origin', async () => {
    // GIVEN the task process records its sockets  WHEN it provisions an environment from nothing
    const log = join(directory, 'sockets.log');
    const run = await world.run({ environments: specText([devEnvironment]) }, { extraEnv: { NODE_OPTIONS: `--require ${recorder}`, MIC_SOCKET_LOG: log } });
    assert.equal(run.result, 'Succeeded', transcript(run));
    // THEN it connected, and only ever to the emulator's host:port
    const destinations = readFileSync(log, 'utf8').split('\n').filter(Boolean);
    const origin = new URL(String(world.emulator.info.armEndpoint)).host;
    assert.ok(destinations.length > 0, 'the recorder saw the task connect');
    assert.deepEqual([...new Set(destinations)], [origin]);
  });
});
