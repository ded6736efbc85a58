// Protects the bundle's promise: the agent copies only the task folder, with no node_modules, so index.js and the
// azure-sdk.js it loads on the first Azure call must carry every dependency inside them. Run from a folder that
// no node_modules is above, index.js must load, reach task-lib, and end with a `##vso[task.complete` result
// line, whatever that result is; azure-sdk.js must load and export what the composition root builds from it.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { builtTaskFolder } from './repository';

describe('the bundled task (dist/tasks/ManagedIdentityConnections/index.js, azure-sdk.js)', function () {
  this.timeout(60_000);
  let folder: string;

  before(() => {
    folder = mkdtempSync(join(tmpdir(), 'mic-bundle-'));
    cpSync(builtTaskFolder, folder, { recursive: true });
  });
  after(() => rmSync(folder, { recursive: true, force: true }));

  it('is run from a folder with no node_modules above it', () => {
    for (let dir = folder; ; dir = dirname(dir)) {
      assert.ok(!existsSync(join(dir, 'node_modules')), `${dir}/node_modules would let a missing dependency resolve`);
      if (dirname(dir) === dir) break;
    }
  });

  it('starts with no node_modules and ends with a task result line', () => {
    // Only what any agent sets; no inputs, so the task must fail on its own terms, not on a missing module.
    const run = spawnSync(process.execPath, ['index.js'], {
      cwd: folder,
      encoding: 'utf8',
      timeout: 30_000,
      env: { PATH: process.env.PATH ?? '', AGENT_TEMPDIRECTORY: folder, AGENT_WORKFOLDER: folder, SYSTEM_CULTURE: 'en-US' },
    });
    assert.equal(run.error, undefined, String(run.error));
    assert.equal(run.signal, null, `index.js was killed by ${run.signal}`);
    const output = `${run.stdout}\n${run.stderr}`;
    assert.doesNotMatch(output, /Cannot find module|MODULE_NOT_FOUND|ERR_MODULE_NOT_FOUND/, output);
    const vsoCommands = run.stdout.split('\n').filter((line) => line.startsWith('##vso['));
    assert.ok(vsoCommands.length > 0, `no ##vso command in stdout:\n${output}`);
    assert.match(vsoCommands.at(-1)!, /^##vso\[task\.complete result=(Succeeded|SucceededWithIssues|Failed);/, output);
  });

  it('loads azure-sdk.js on its own, with no node_modules, and finds the credentials, ARM clients and the shared transport in it', () => {
    const run = spawnSync(process.execPath, ['-e', 'console.log(Object.keys(require("./azure-sdk.js")).sort().join(","))'], {
      cwd: folder,
      encoding: 'utf8',
      timeout: 30_000,
      env: { PATH: process.env.PATH ?? '' },
    });
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout.trim(), 'ArmIdentityClient,ArmRoleClient,GraphDirectoryClient,azureCliCredential,devOpsTransport,pipelineCredential');
  });
});
