// `npm run package`: turns the built task folder into the extension's .vsix with tfx-cli, offline.
//
// Why a wrapper and not a bare `tfx extension create`: tfx checks each task.json it packages (friendlyName
// length, instanceNameFormat, that every execution target exists...) but reports what it finds only as
// `warning:` lines and still exits 0, so a broken task would ship. This script streams tfx's output, fails on
// any `warning:` or `error:` line, and deletes the .vsix it made in that case, so nobody uploads it by mistake.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { createInterface } from 'node:readline';

export interface PackageOptions {
  /** The folder holding vss-extension.json; the task folders it names are read relative to it. */
  root: string;
  /** Where tfx writes the .vsix. */
  outputDir: string;
  /** Receives every line tfx prints, as it prints it. */
  log?: (line: string) => void;
}

export interface PackageResult {
  vsixPath: string;
  vsixBytes: number;
  /** Each JavaScript file of a task folder (the entry and what it loads), with its size: the agent runs them with no node_modules. */
  bundles: { path: string; bytes: number }[];
}

interface TaskContribution {
  type?: string;
  properties?: { name?: string };
}

interface TaskJson {
  execution?: Record<string, { target?: string }>;
}

interface ExtensionManifest {
  contributions?: TaskContribution[];
  icons?: { default?: string };
  files?: { path?: string }[];
}

/**
 * Refuses a manifest whose extension icon tfx would silently leave out. tfx packs the icon as the
 * Icons.Default asset (the Marketplace tile, `<Icon>` in the .vsix manifest) only when no `files` entry
 * packs the same file first; one inside a shipped folder (the task's own icon.png in dist/) is kept as a
 * plain file and the extension ships with no icon, without a warning.
 */
function checkExtensionIcon(root: string, manifest: ExtensionManifest): void {
  const icon = manifest.icons?.default;
  if (!icon) throw new Error('vss-extension.json has no icons.default: the Marketplace and the organization show no extension icon');
  if (!existsSync(join(root, icon))) throw new Error(`vss-extension.json's icons.default ${icon} does not exist`);
  const shipped = (manifest.files ?? []).map((file) => file.path).filter((path): path is string => typeof path === 'string');
  const inside = shipped.find((folder) => {
    const fromFolder = relative(join(root, folder), join(root, icon));
    return fromFolder === '' || (!fromFolder.startsWith('..') && !isAbsolute(fromFolder));
  });
  if (inside) throw new Error(`vss-extension.json's icons.default ${icon} lies in the shipped folder ${inside}: tfx would pack it as a plain file and the .vsix would have no icon; point icons.default at a file outside "files"`);
}

/** Reads the task folders the manifest contributes and refuses a missing or stale build before tfx runs. */
function checkTaskFolders(root: string): PackageResult['bundles'] {
  const manifest = JSON.parse(readFileSync(join(root, 'vss-extension.json'), 'utf8')) as ExtensionManifest;
  checkExtensionIcon(root, manifest);
  const taskFolders = (manifest.contributions ?? [])
    .filter((contribution) => contribution.type === 'ms.vss-distributed-task.task')
    .map((contribution) => contribution.properties?.name)
    .filter((name): name is string => typeof name === 'string');
  if (taskFolders.length === 0) throw new Error('vss-extension.json contributes no task (type ms.vss-distributed-task.task with properties.name)');

  const bundles: PackageResult['bundles'] = [];
  for (const folder of taskFolders) {
    const taskJsonPath = join(root, folder, 'task.json');
    if (!existsSync(taskJsonPath)) throw new Error(`${folder}/task.json is missing: run \`npm run build\` first`);
    // The build copies the root task.json into the task folder; a difference means the bundle predates an edit.
    const sourceTaskJson = join(root, 'task.json');
    if (existsSync(sourceTaskJson) && readFileSync(sourceTaskJson, 'utf8') !== readFileSync(taskJsonPath, 'utf8')) {
      throw new Error(`${folder}/task.json differs from task.json: the build is stale, run \`npm run build\` first`);
    }
    const task = JSON.parse(readFileSync(taskJsonPath, 'utf8')) as TaskJson;
    const targets = new Set(Object.values(task.execution ?? {}).map((handler) => handler.target).filter((t): t is string => !!t));
    for (const target of targets) {
      if (!existsSync(join(root, folder, target))) throw new Error(`${folder}/${target} is missing: run \`npm run build\` first`);
    }
    for (const file of readdirSync(join(root, folder)).filter((name) => name.endsWith('.js')).sort()) {
      const path = join(root, folder, file);
      bundles.push({ path, bytes: statSync(path).size });
    }
  }
  return bundles;
}

function tfxEntry(): string {
  const packageJsonPath = require.resolve('tfx-cli/package.json');
  const bin = (JSON.parse(readFileSync(packageJsonPath, 'utf8')) as { bin: { tfx: string } }).bin.tfx;
  return join(dirname(packageJsonPath), bin);
}

// tfx colours its output on a terminal; the prefix sits inside the colour codes, so strip them before matching.
const ansi = /\u001b\[[0-9;]*m/g;

export async function packageExtension(options: PackageOptions): Promise<PackageResult> {
  const root = resolve(options.root);
  const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const bundles = checkTaskFolders(root);

  const child = spawn(
    process.execPath,
    [tfxEntry(), 'extension', 'create', '--root', root, '--manifest-globs', 'vss-extension.json',
      '--output-path', `${resolve(options.outputDir)}/`, '--no-prompt', '--no-color'],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const problems: string[] = [];
  let vsixPath: string | undefined;
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on('line', (raw) => {
      const line = raw.replace(ansi, '');
      log(line);
      if (/^(warning|error):/i.test(line.trim())) problems.push(line.trim());
      const vsix = /^\s*- VSIX: (.+\.vsix)\s*$/.exec(line);
      if (vsix) vsixPath = vsix[1];
    });
  }
  // 'close' comes after both output streams have ended, so every line has been seen by then.
  const exitCode = await new Promise<number | null>((done, fail) => {
    child.once('error', fail);
    child.once('close', (code) => done(code));
  });

  if (exitCode !== 0 || problems.length > 0 || !vsixPath) {
    if (vsixPath) rmSync(vsixPath, { force: true });
    const reasons = [
      ...(exitCode !== 0 ? [`tfx exited with code ${exitCode}`] : []),
      ...problems,
      ...(!vsixPath && exitCode === 0 ? ['tfx printed no VSIX path'] : []),
    ];
    throw new Error(`packaging failed (tfx warnings count as failures; no .vsix kept):\n  ${reasons.join('\n  ')}`);
  }
  return { vsixPath, vsixBytes: statSync(vsixPath).size, bundles };
}

function kilobytes(bytes: number): string {
  return `${(bytes / 1024).toFixed(1)} KiB`;
}

async function main(args: string[]): Promise<void> {
  // Compiled to build/scripts/, two levels below the repository root.
  const root = join(__dirname, '..', '..');
  // `--out <dir>` lets the tests package into a temporary folder; by default the .vsix goes to out/.
  const outIndex = args.indexOf('--out');
  const outputDir = outIndex >= 0 && args[outIndex + 1] ? resolve(args[outIndex + 1]!) : join(root, 'out');
  const result = await packageExtension({ root, outputDir });
  process.stdout.write(`\nvsix:   ${relative(process.cwd(), result.vsixPath)} (${kilobytes(result.vsixBytes)})\n`);
  for (const bundle of result.bundles) {
    process.stdout.write(`bundle: ${relative(root, bundle.path)} (${kilobytes(bundle.bytes)})\n`);
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
