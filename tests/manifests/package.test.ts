// Protects `npm run package`: the .vsix it makes must hold the task folder with task.json and exactly one
// JavaScript file, the bundled index.js (the agent installs no node_modules), and the packaging must fail,
// keeping no .vsix, whenever tfx warns, since tfx itself exits 0 on a task.json it found broken.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageExtension } from '../../scripts/package-extension';
import { builtTaskFolder, pngSize, readJson, repoRoot, taskName, type TaskJson } from './repository';
import { readZip } from './zip';

const taskFolderInVsix = `dist/tasks/${taskName}/`;
const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;

describe('npm run package', function () {
  // tfx loads ~300 modules before it starts; a cold run takes a few seconds.
  this.timeout(120_000);
  let scratch: string;

  before(() => {
    scratch = mkdtempSync(join(tmpdir(), 'mic-package-'));
  });
  after(() => rmSync(scratch, { recursive: true, force: true }));

  it('makes a .vsix whose task folder holds task.json and the two bundled files, index.js and azure-sdk.js, without tfx warnings', () => {
    const out = join(scratch, 'out');
    const run = spawnSync(process.execPath, [join(repoRoot, 'build', 'scripts', 'package-extension.js'), '--out', out], { encoding: 'utf8' });
    assert.equal(run.status, 0, `package-extension failed:\n${run.stdout}\n${run.stderr}`);
    assert.doesNotMatch(run.stdout, /^warning:/m);

    const vsixFiles = readdirSync(out).filter((name) => name.endsWith('.vsix'));
    assert.equal(vsixFiles.length, 1, `expected one .vsix in ${out}, found ${vsixFiles.join(', ')}`);
    const vsix = readFileSync(join(out, vsixFiles[0]!));
    assert.match(run.stdout, /^vsix: .+\.vsix \(\d+\.\d KiB\)$/m);
    for (const file of ['azure-sdk', 'index']) assert.match(run.stdout, new RegExp(`^bundle: dist/tasks/ManagedIdentityConnections/${file}\\.js \\(\\d+\\.\\d KiB\\)$`, 'm'));

    const entries = readZip(vsix);
    const taskFiles = entries.filter((entry) => entry.name.startsWith(taskFolderInVsix) && !entry.name.endsWith('/'));
    assert.deepEqual(taskFiles.map((entry) => entry.name.slice(taskFolderInVsix.length)).sort(), ['azure-sdk.js', 'icon.png', 'index.js', 'task.json']);
    const javascript = entries.filter((entry) => /\.(c|m)?js$/.test(entry.name));
    assert.deepEqual(javascript.map((entry) => entry.name).sort(), [`${taskFolderInVsix}azure-sdk.js`, `${taskFolderInVsix}index.js`], 'the .vsix must carry exactly the two bundled files');

    const packedTask = JSON.parse(taskFiles.find((entry) => entry.name.endsWith('task.json'))!.read().toString('utf8')) as TaskJson;
    assert.deepEqual(packedTask, readJson<TaskJson>(join(repoRoot, 'task.json')));
    const manifest = entries.find((entry) => entry.name === 'extension.vsixmanifest');
    assert.ok(manifest, 'no extension.vsixmanifest in the .vsix');
    const vsixManifest = manifest.read().toString('utf8');
    assert.match(vsixManifest, /<Categories>Azure Pipelines<\/Categories>/);
    // The extension icon: named in the metadata, declared as the Icons.Default asset, and packed, 128×128.
    const icon = readJson<{ icons: { default: string } }>(join(repoRoot, 'vss-extension.json')).icons.default;
    assert.match(vsixManifest, new RegExp(`<Icon>${icon}</Icon>`));
    assert.match(vsixManifest, new RegExp(`<Asset Type="Microsoft\\.VisualStudio\\.Services\\.Icons\\.Default" d:Source="File" Path="${icon}" Addressable="true"/>`));
    const packedIcon = entries.find((entry) => entry.name === icon);
    assert.ok(packedIcon, `${icon} is not in the .vsix`);
    assert.deepEqual(pngSize(packedIcon.read()), { width: 128, height: 128 });

    // Recorded in the test output so that bundle growth shows up in every run.
    console.log(`      .vsix ${kib(vsix.length)}; bundled ${javascript.map((entry) => `${entry.name.slice(taskFolderInVsix.length)} ${kib(entry.size)}`).join(', ')}`);
  });

  /** A copy of what the manifest packs, in a scratch root, with task.json changed by `edit`. */
  function scratchRoot(name: string, edit: (task: TaskJson) => void): string {
    const root = join(scratch, name);
    const icon = readJson<{ icons: { default: string } }>(join(repoRoot, 'vss-extension.json')).icons.default;
    for (const path of ['vss-extension.json', 'LICENSE', 'docs/overview.md', icon]) cpSync(join(repoRoot, path), join(root, path));
    const folder = join(root, 'dist', 'tasks', taskName);
    cpSync(builtTaskFolder, folder, { recursive: true });
    const task = readJson<TaskJson>(join(folder, 'task.json'));
    edit(task);
    writeFileSync(join(folder, 'task.json'), JSON.stringify(task, null, 2));
    return root;
  }

  it('fails on tfx warnings and keeps no .vsix', async () => {
    const root = scratchRoot('broken', (task) => {
      task.friendlyName = 'A friendly name far longer than forty characters';
    });
    const lines: string[] = [];
    await assert.rejects(packageExtension({ root, outputDir: join(root, 'out'), log: (line) => lines.push(line) }), /friendlyName is a required string <= 40 chars/);
    assert.ok(lines.some((line) => line.startsWith('warning:')), `tfx printed no warning:\n${lines.join('\n')}`);
    assert.ok(!existsSync(join(root, 'out')) || readdirSync(join(root, 'out')).every((name) => !name.endsWith('.vsix')), 'a .vsix was left behind');
  });

  it('refuses an extension icon inside the shipped task folder, which tfx would pack without making it the icon', async () => {
    const root = scratchRoot('icon-in-files', () => undefined);
    const manifestPath = join(root, 'vss-extension.json');
    const manifest = readJson<Record<string, unknown>>(manifestPath);
    writeFileSync(manifestPath, JSON.stringify({ ...manifest, icons: { default: `dist/tasks/${taskName}/icon.png` } }, null, 2));
    await assert.rejects(packageExtension({ root, outputDir: join(root, 'out'), log: () => undefined }), /icons\.default dist\/tasks\/ManagedIdentityConnections\/icon\.png lies in the shipped folder/);
  });

  it('refuses a build older than task.json', async () => {
    const root = scratchRoot('stale', () => undefined);
    const task = readJson<TaskJson>(join(repoRoot, 'task.json'));
    writeFileSync(join(root, 'task.json'), JSON.stringify({ ...task, version: { ...task.version, Patch: task.version.Patch + 1 } }, null, 2));
    await assert.rejects(packageExtension({ root, outputDir: join(root, 'out'), log: () => undefined }), /the build is stale/);
  });
});
