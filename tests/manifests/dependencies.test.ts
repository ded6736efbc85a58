// Protects the dependency decisions the README states: sync-request is not in the tree (azure-pipelines-task-lib
// 5.x does not use it; it was task-lib ≤ 4.5's way to download Node for MockTestRunner), and @azure/identity stays
// on 4.13.1, the last release that installs on the agent's Node 20 (4.13.2+ declares node >= 22). typed-rest-client,
// which adapters/devops-transport.ts extends, is the very version azure-devops-node-api pins: one copy in the tree.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { readJson, repoRoot } from './repository';

interface NpmTree {
  version?: string;
  dependencies?: Record<string, NpmTree>;
}

/** Every `name@version` path in `npm ls --all --json` whose package name is `name`. */
function findInTree(tree: NpmTree, name: string, trail: string[] = []): string[] {
  return Object.entries(tree.dependencies ?? {}).flatMap(([child, node]) => {
    const here = [...trail, `${child}@${node.version ?? '?'}`];
    return [...(child === name ? [here.join(' > ')] : []), ...findInTree(node, name, here)];
  });
}

describe('dependencies', function () {
  this.timeout(60_000);

  it('have no sync-request anywhere in `npm ls --all`', () => {
    const run = spawnSync('npm', ['ls', '--all', '--json'], { cwd: repoRoot, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    assert.equal(run.error, undefined, String(run.error));
    // npm ls exits 1 on extraneous or missing packages; the tree it prints is still complete, so read it anyway.
    const tree = JSON.parse(run.stdout) as NpmTree;
    assert.ok(Object.keys(tree.dependencies ?? {}).length > 0, `npm ls printed no tree:\n${run.stderr}`);
    assert.deepEqual(findInTree(tree, 'sync-request'), []);
  });

  it('have no sync-request in package-lock.json', () => {
    const lock = readJson<{ packages: Record<string, unknown> }>(join(repoRoot, 'package-lock.json'));
    assert.deepEqual(Object.keys(lock.packages).filter((path) => /(^|\/)node_modules\/sync-request$/.test(path)), []);
  });

  it('pin @azure/identity to 4.13.1 and azure-pipelines-task-lib to 5.x', () => {
    const manifest = readJson<{ dependencies: Record<string, string> }>(join(repoRoot, 'package.json'));
    assert.equal(manifest.dependencies['@azure/identity'], '4.13.1');
    assert.match(manifest.dependencies['azure-pipelines-task-lib'] ?? '', /^\^?5\./);
    const lock = readJson<{ packages: Record<string, { version: string }> }>(join(repoRoot, 'package-lock.json'));
    assert.equal(lock.packages['node_modules/@azure/identity']?.version, '4.13.1');
  });

  it('pin typed-rest-client to the version azure-devops-node-api depends on, so there is one copy of it', () => {
    const manifest = readJson<{ dependencies: Record<string, string> }>(join(repoRoot, 'package.json'));
    const lock = readJson<{ packages: Record<string, { version: string; dependencies?: Record<string, string> }> }>(join(repoRoot, 'package-lock.json'));
    const wanted = lock.packages['node_modules/azure-devops-node-api']?.dependencies?.['typed-rest-client'];
    assert.ok(wanted, 'azure-devops-node-api names no typed-rest-client');
    assert.equal(manifest.dependencies['typed-rest-client'], wanted);
    assert.deepEqual(Object.keys(lock.packages).filter((path) => path.endsWith('/typed-rest-client') && path !== 'node_modules/typed-rest-client' && !path.includes('node_modules/tfx-cli/')), []);
  });
});
