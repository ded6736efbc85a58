// Protects vss-extension.json and the task folder the build assembles: the manifest must contribute exactly the
// folder the build writes, and that folder must hold only what the agent needs (task.json, one bundled
// index.js, a 128×128 icon), because tfx packs whatever sits there and the Marketplace rejects a bad icon.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { builtTaskFolder, pngSize, readJson, repoRoot, taskName } from './repository';

interface ExtensionManifest {
  manifestVersion: number;
  id: string;
  publisher: string;
  version: string;
  name: string;
  description: string;
  categories: string[];
  targets: { id: string }[];
  icons?: Record<string, string>;
  content?: Record<string, { path: string }>;
  repository?: { type: string; uri: string };
  files: { path: string; addressable?: boolean }[];
  contributions: { id: string; type: string; targets: string[]; properties: { name: string } }[];
}

const manifest = readJson<ExtensionManifest>(join(repoRoot, 'vss-extension.json'));
const taskFolder = `dist/tasks/${taskName}`;

describe('vss-extension.json', () => {
  it('has the fields tfx and the Marketplace require', () => {
    assert.equal(manifest.manifestVersion, 1);
    assert.match(manifest.id, /^[a-z0-9][a-z0-9-]*$/);
    assert.match(manifest.publisher, /^[a-z0-9][a-z0-9-]*$/);
    assert.match(manifest.version, /^\d+\.\d+\.\d+$/);
    assert.ok(manifest.name.trim() && manifest.description.trim());
    assert.deepEqual(manifest.categories, ['Azure Pipelines']);
    assert.deepEqual(manifest.targets, [{ id: 'Microsoft.VisualStudio.Services' }]);
    assert.equal(manifest.repository?.type, 'git');
  });

  it('ships the built task folder and contributes it as the one pipeline task', () => {
    assert.deepEqual(manifest.files.map((file) => file.path), [taskFolder]);
    assert.equal(manifest.contributions.length, 1);
    const [contribution] = manifest.contributions;
    assert.equal(contribution!.type, 'ms.vss-distributed-task.task');
    assert.deepEqual(contribution!.targets, ['ms.vss-distributed-task.tasks']);
    // tfx finds the task.json to check at <root>/<properties.name>; any other value skips that check silently.
    assert.equal(contribution!.properties.name, taskFolder);
  });

  it('refers only to files that exist (icon, overview, license)', () => {
    const referenced = [...Object.values(manifest.icons ?? {}), ...Object.values(manifest.content ?? {}).map((item) => item.path)];
    assert.ok(referenced.length >= 2, 'manifest names no icon or overview');
    for (const path of referenced) assert.ok(existsSync(join(repoRoot, path)), `vss-extension.json refers to missing ${path} (run the build first for dist/)`);
  });

  it('names a 128×128 PNG extension icon outside the shipped folder, where tfx packs it as the icon', () => {
    const icon = manifest.icons?.default;
    assert.ok(icon, 'no icons.default');
    // A file that `files` already packs loses its Icons.Default asset in tfx (scripts/package-extension.ts).
    for (const file of manifest.files) assert.ok(!icon.startsWith(`${file.path}/`), `${icon} lies in the shipped folder ${file.path}`);
    assert.deepEqual(pngSize(readFileSync(join(repoRoot, icon))), { width: 128, height: 128 });
  });
});

describe(`the built task folder ${taskFolder}`, () => {
  it('holds exactly task.json, index.js, the azure-sdk.js it loads, and icon.png', () => {
    assert.ok(existsSync(builtTaskFolder), `${taskFolder} is missing: run \`npm run build\``);
    assert.deepEqual(readdirSync(builtTaskFolder).sort(), ['azure-sdk.js', 'icon.png', 'index.js', 'task.json']);
  });

  it('carries the current task.json unchanged', () => {
    assert.equal(readFileSync(join(builtTaskFolder, 'task.json'), 'utf8'), readFileSync(join(repoRoot, 'task.json'), 'utf8'));
  });

  it('has a 128×128 PNG icon', () => {
    assert.deepEqual(pngSize(readFileSync(join(builtTaskFolder, 'icon.png'))), { width: 128, height: 128 });
  });
});
