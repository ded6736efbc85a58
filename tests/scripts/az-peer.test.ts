// Protects the peer row of `npm run bench -- --peer`: the Azure CLI script (scripts/lib/az-peer.ts), run with the
// real `az` against the emulator, must leave the world as the task leaves it for the same spec — otherwise the
// advantage compares unequal work. Also guards that the end-state check names what is missing.
//
// Skipped only when `az` is not installed (CI installs it).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { endStateOf, endStateProblems, peerEnvironments, peerSpec, runAzPeer } from '../../scripts/lib/az-peer';
import { runTask } from '../../scripts/lib/run-task';
import type { RunningEmulator } from '../emulator/emulator';
import { jsonLine } from '../emulator/json-line';
import { startTestEmulator } from '../helpers/emulator';
import { azAvailable } from '../templates/az-harness';

describe('bench peer: the Azure CLI script a user would write', function () {
  this.timeout(240_000);
  let emulator: RunningEmulator | undefined;
  let directory: string | undefined;

  before(async function () {
    if (!azAvailable()) {
      console.log("      (skipped: the Azure CLI `az` is not installed; CI installs Debian's azure-cli: apt-get install -y --no-install-recommends azure-cli)");
      this.skip();
    }
    emulator = await startTestEmulator();
    directory = mkdtempSync(join(tmpdir(), 'mic-az-peer-'));
  });

  after(async () => {
    await emulator?.close();
    if (directory) rmSync(directory, { recursive: true, force: true });
  });

  it('reaches the end state the task reaches for the same spec, and TestConnection answers ok', async () => {
    // GIVEN the task provisioned one environment of the bench's uniform spec
    const environments = peerEnvironments(1);
    const specFile = join(directory!, 'environments.json');
    writeFileSync(specFile, peerSpec(1));
    await emulator!.reset();
    const info = jsonLine(emulator!);
    const task = await runTask({ env: info.agentEnv, inputs: { command: 'provision', bootstrapConnection: info.bootstrapConnection.id, environmentsFile: specFile } });
    assert.equal(task.result, 'Succeeded', task.resultMessage ?? task.stderr);
    assert.match(task.resultMessage ?? '', /verified 1 connection/);
    const taskEnd = endStateOf(emulator!, environments);

    // WHEN the script runs for the same environment on a fresh world
    const peer = await runAzPeer(emulator!, { environments: 1, latencyMs: 0 });

    // THEN the identity, the connection its federated credential trusts, both roles and the pipeline permission
    // are what the task made, and the script's TestConnection answered ok
    assert.deepEqual(peer.problems, []);
    assert.deepEqual(peer.endStates, taskEnd);
    const [end] = peer.endStates;
    assert.equal(end?.connection?.creationMode, 'Manual');
    assert.equal(end?.connection?.trustedByCredential, true);
    assert.equal(end?.roles.length, 2);
    // login, account set, then per environment: identity, connection, credential, 2 roles, permission, tests
    assert.equal(peer.commands, 8 + peer.testAttempts);
    assert.ok(peer.requests >= 11, `requests ${peer.requests}`);
    assert.ok(peer.wallMs > 0);
    if (peer.cpuMs !== null) assert.ok(peer.cpuMs > 0, 'the az processes used CPU');
  });
});

describe('bench peer: the end-state check', () => {
  it('names what an end state lacks', () => {
    const [environment] = peerEnvironments(1);
    const complete = {
      name: 'env-001',
      identity: { name: 'id-ado-env-001', location: 'westeurope' },
      connection: { name: 'env-001-c1', type: 'AzureRM', scheme: 'WorkloadIdentityFederation', creationMode: 'Manual', subscriptionId: 'x', usesIdentity: true, trustedByCredential: true },
      roles: environment!.roles.map((role) => `${role.role} ${role.scope.toLowerCase()}`).sort(),
      pipelines: [1],
    };
    assert.deepEqual(endStateProblems(environment!, complete, 1), []);
    const lacking = { ...complete, connection: { ...complete.connection, trustedByCredential: false }, roles: complete.roles.slice(0, 1), pipelines: [] };
    const problems = endStateProblems(environment!, lacking, 1);
    assert.equal(problems.length, 3, problems.join('\n'));
    assert.match(problems.join('\n'), /federated credential.*roles .*wanted.*pipeline 1 not authorized/s);
  });
});
