// Protects the README's promises against what the repository holds: it sends installers to docs/install.md first,
// the quick start is exactly the two commands,
// every command it lists is an npm script, and its inputs table names exactly the inputs task.json declares.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readJson, readTaskJson, repoRoot } from './repository';

const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');

/** The text of the `## <title>` section, up to the next `## `. */
function section(title: string): string {
  const start = readme.indexOf(`\n## ${title}\n`);
  assert.ok(start >= 0, `README.md has no "## ${title}" section`);
  const end = readme.indexOf('\n## ', start + 1);
  return readme.slice(start, end < 0 ? undefined : end);
}

describe('README.md', () => {
  it('has its sections in order: getting started, concepts, samples, troubleshooting, contributing', () => {
    const titles = [...readme.matchAll(/^## (.+)$/gm)].map((match) => match[1]);
    assert.deepEqual(titles, ['Getting started', 'Concepts', 'Samples', 'Troubleshooting', 'Contributing']);
  });

  it('points to docs/install.md first, before the quick start', () => {
    const gettingStarted = section('Getting started');
    const install = gettingStarted.indexOf('](docs/install.md)');
    assert.ok(install >= 0 && install < gettingStarted.indexOf('### Quick start'), 'no link to docs/install.md above "### Quick start"');
    assert.ok(existsSync(join(repoRoot, 'docs', 'install.md')), 'docs/install.md is missing');
  });

  it('starts with exactly two commands: `npm install && npm start`, then `npm test`', () => {
    const quickStart = /### Quick start\n[\s\S]*?```sh\n([\s\S]*?)```/.exec(section('Getting started'));
    assert.ok(quickStart, 'no ```sh block under "### Quick start"');
    const commands = quickStart[1]!.split('\n').map((line) => line.replace(/#.*$/, '').trim()).filter(Boolean);
    assert.deepEqual(commands, ['npm install && npm start', 'npm test']);
  });

  it('lists only npm scripts that exist', () => {
    const scripts = Object.keys(readJson<{ scripts: Record<string, string> }>(join(repoRoot, 'package.json')).scripts);
    const named = [...readme.matchAll(/`npm (?:run (?:-s )?)?([a-z-]+)/g)].map((match) => match[1]!).filter((name) => !['install', 'ci', 'ls'].includes(name));
    assert.ok(named.length >= 6, `README names only ${named.join(', ')}`);
    for (const name of named) assert.ok(scripts.includes(name), `README names \`npm ${name}\`, which package.json does not have`);
  });

  it('documents exactly the inputs task.json declares', () => {
    const rows = [...section('Getting started').matchAll(/^\| `([A-Za-z]+)` \|/gm)].map((match) => match[1]!);
    assert.deepEqual(rows.sort(), readTaskJson().inputs.map((input) => input.name).sort());
  });
});
