// Protects a fresh clone standing on its own: no file refers to a path of the machine it was written on or to
// reference material beside the repository; the reference data the tests read is inside it, each file listed
// with its source and digest; template references pin no tag that does not exist; `npm install` has nothing to
// add to package-lock.json; and the layout table in docs/contributing.md names what the tree really holds.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { referenceRoot } from '../helpers/reference';
import { readJson, repoRoot } from './repository';

/** Generated or installed, never committed (.gitignore). */
const NOT_SOURCES = new Set(['.git', 'node_modules', 'build', 'dist', 'out', 'tmp']);

/** Every file of the repository's own tree, as a path relative to its root with forward slashes. */
function repositoryFiles(directory = repoRoot): string[] {
  return readdirSync(directory, { withFileTypes: true }).flatMap((entry) => {
    if (directory === repoRoot && NOT_SOURCES.has(entry.name)) return [];
    const path = join(directory, entry.name);
    if (entry.isDirectory()) return repositoryFiles(path);
    return entry.isFile() && !entry.name.endsWith('.vsix') ? [relative(repoRoot, path).split(sep).join('/')] : [];
  });
}

// Joined at run time so that this file does not match itself.
const OUTSIDE_PATHS = [['', 'work', ''].join('/'), ['..', 'shared'].join('/'), ['shared', 'reference'].join('/'), ['shared', 'research'].join('/')];

describe('the repository stands on its own', () => {
  it('no file refers to a path outside the repository', () => {
    const files = repositoryFiles();
    assert.ok(files.length > 100 && files.includes('package.json'), `walked ${files.length} files`);
    const hits: string[] = [];
    for (const file of files) {
      const bytes = readFileSync(join(repoRoot, file));
      if (bytes.includes(0)) continue; // binary (icon.png)
      bytes.toString('utf8').split('\n').forEach((line, index) => {
        for (const outside of OUTSIDE_PATHS) if (line.includes(outside)) hits.push(`${file}:${index + 1}: ${outside}`);
      });
    }
    assert.deepEqual(hits, []);
  });

  it('tests/reference/README.md lists every reference file with its source, commit and SHA-256', () => {
    const readme = readFileSync(join(referenceRoot, 'README.md'), 'utf8');
    const listed = new Map(
      [...readme.matchAll(/^\| `([^`]+)` \| ([\w.-]+\/[\w.-]+) \| `[^`]+` \| `([0-9a-f]{40})` \| ([0-9a-f]{12}) \|$/gm)].map((row) => [row[1]!, row[4]!]),
    );
    const onDisk = repositoryFiles(referenceRoot)
      .map((file) => relative(referenceRoot, join(repoRoot, file)).split(sep).join('/'))
      .filter((file) => file !== 'README.md' && !/(^|\/)LICENSE[^/]*$/.test(file))
      .sort();
    assert.ok(onDisk.length >= 50, `only ${onDisk.length} reference files`);
    assert.deepEqual([...listed.keys()].sort(), onDisk);
    for (const file of onDisk) {
      const digest = createHash('sha256').update(readFileSync(join(referenceRoot, file))).digest('hex').slice(0, 12);
      assert.equal(digest, listed.get(file), `${file} differs from the copy the README describes`);
    }
  });

  it('carries a licence beside each group of reference files', () => {
    for (const licence of ['arm-examples/LICENSE', 'ado-specs/LICENSE', 'schemas/LICENSE.azure-pipelines-task-lib', 'schemas/LICENSE.azure-pipelines-vscode']) {
      assert.match(readFileSync(join(referenceRoot, licence), 'utf8'), /MIT License/, licence);
    }
  });
});

describe('template repository references', () => {
  it('pin only tags that exist in this repository (a missing ref fails the pipeline before it starts)', () => {
    const files = repositoryFiles().filter((file) => /^(samples|templates|docs)\/.*\.(ya?ml|md)$|^README\.md$/.test(file));
    assert.ok(files.some((file) => file.startsWith('samples/')), 'no sample found');
    const tags = new Set(spawnSync('git', ['tag', '--list'], { cwd: repoRoot, encoding: 'utf8' }).stdout.split('\n').filter(Boolean));
    const missing: string[] = [];
    for (const file of files) {
      for (const match of readFileSync(join(repoRoot, file), 'utf8').matchAll(/^\s*(?:#\s*)?ref:\s*refs\/tags\/(\S+)/gm)) {
        if (!tags.has(match[1]!)) missing.push(`${file}: refs/tags/${match[1]}`);
      }
    }
    assert.deepEqual(missing, []);
  });
});

describe('package-lock.json', () => {
  it("agrees with package.json on the root package, so that `npm install` has nothing to write", () => {
    const manifest = readJson<Record<string, unknown>>(join(repoRoot, 'package.json'));
    const lock = readJson<{ name: string; version: string; packages: Record<string, Record<string, unknown>> }>(join(repoRoot, 'package-lock.json'));
    const root = lock.packages[''];
    assert.ok(root, 'the lock has no root package');
    assert.equal(lock.name, manifest.name);
    assert.equal(lock.version, manifest.version);
    // The fields npm copies from package.json into the lock's root entry.
    for (const field of ['name', 'version', 'license', 'bin', 'engines', 'dependencies', 'devDependencies', 'optionalDependencies', 'peerDependencies']) {
      assert.deepEqual(root[field], manifest[field], `package-lock.json's root "${field}" differs from package.json's: run \`npm install --package-lock-only\``);
    }
  });

  it('locks every dependency package.json declares', () => {
    const manifest = readJson<{ dependencies: Record<string, string>; devDependencies: Record<string, string> }>(join(repoRoot, 'package.json'));
    const lock = readJson<{ packages: Record<string, unknown> }>(join(repoRoot, 'package-lock.json'));
    for (const name of [...Object.keys(manifest.dependencies), ...Object.keys(manifest.devDependencies)]) {
      assert.ok(lock.packages[`node_modules/${name}`], `${name} is not in package-lock.json`);
    }
  });
});

describe('docs/contributing.md layout', () => {
  const contributing = readFileSync(join(repoRoot, 'docs', 'contributing.md'), 'utf8');
  const table = /\n## Layout\n([\s\S]*?)\n## /.exec(contributing)?.[1] ?? '';
  /** The rows of the table, and every path quoted in it. */
  const rows = table.split('\n').filter((line) => line.startsWith('| `'));
  const quoted = new Set([...table.matchAll(/`([^`\s]+)`/g)].map((match) => match[1]!.replace(/\/$/, '')));

  it('names every top-level entry of the repository', () => {
    assert.ok(rows.length >= 8, 'no layout table under "## Layout"');
    const topLevel = readdirSync(repoRoot).filter((name) => !['.git', 'node_modules', 'tmp'].includes(name) && !name.endsWith('.vsix'));
    const named = (name: string) => [...quoted].some((path) => path === name || path.startsWith(`${name}/`));
    const missing = topLevel.filter((name) => !named(name) && !['.gitignore', '.gitattributes', 'LICENSE', 'README.md'].includes(name));
    assert.deepEqual(missing, []);
  });

  it('names every folder of tests/ and scripts/, and nothing that does not exist', () => {
    for (const folder of ['tests', 'scripts']) {
      for (const name of readdirSync(join(repoRoot, folder))) {
        if (statSync(join(repoRoot, folder, name)).isDirectory()) assert.ok(quoted.has(`${folder}/${name}`), `the layout does not name ${folder}/${name}/`);
      }
    }
    const generated = new Set(['build', 'dist', 'out']);
    const files = repositoryFiles();
    for (const path of quoted) {
      if (/^[\w.-]+(\/[\w.-]+)*$/.test(path) && path.includes('/') && !generated.has(path.split('/')[0]!)) {
        assert.ok(files.some((file) => file === path || file.startsWith(`${path}/`)), `the layout names ${path}, which does not exist`);
      }
    }
  });
});
