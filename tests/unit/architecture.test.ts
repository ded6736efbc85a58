// docs/architecture.md rule 1: the core never imports task-lib or an SDK, so that it runs (and is tested) the
// same under the agent, the CLI and the fakes. This suite reads every core source file and allows only
// relative imports, Node built-ins and `yaml`; and it keeps plan.ts free of anything that could make it impure,
// the task entry short, and the task's own code off the APIs whose deprecations it silences for dependencies.
import * as assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, relative, sep } from 'node:path';
import { DEPENDENCY_DEPRECATIONS } from '../../tasks/ManagedIdentityConnections/src/adapters/dependency-deprecations';

const source = join(__dirname, '..', '..', '..', 'tasks', 'ManagedIdentityConnections', 'src');

/** Every TypeScript source under `folder`: for the task's, index.ts, cli.ts and src/, adapters included. */
function allSources(folder: string): string[] {
  return readdirSync(folder).flatMap((name) => {
    const path = join(folder, name);
    if (statSync(path).isDirectory()) return allSources(path);
    return name.endsWith('.ts') ? [path] : [];
  });
}

/** The core: src/ without the adapters and the composition root. */
function coreFiles(folder: string): string[] {
  return allSources(folder).filter((file) => !relative(folder, file).split(sep).includes('adapters') && !basename(file).startsWith('composition'));
}

function importsOf(path: string): string[] {
  return [...readFileSync(path, 'utf8').matchAll(/^\s*(?:import|export)[^'";]*?from\s+'([^']+)'/gm)].map((match) => match[1]!);
}

describe('architecture', () => {
  const files = coreFiles(source);

  it('finds the core', () => {
    assert.ok(files.some((file) => file.endsWith(join('core', 'plan.ts'))));
  });

  it('lets the core import only its own modules, Node built-ins and yaml', () => {
    const offending = files.flatMap((file) =>
      importsOf(file)
        .filter((specifier) => !specifier.startsWith('.') && !specifier.startsWith('node:') && specifier !== 'yaml')
        .map((specifier) => `${relative(source, file)} imports ${specifier}`),
    );
    assert.deepEqual(offending, []);
  });

  it('never lets the core reach into the adapters or the composition root', () => {
    const offending = files.flatMap((file) => importsOf(file).filter((specifier) => /adapters|composition/.test(specifier)).map((specifier) => `${relative(source, file)} imports ${specifier}`));
    assert.deepEqual(offending, []);
  });

  it('keeps the task entry to 40 lines: read inputs, build ports, run, map the outcome', () => {
    const lines = readFileSync(join(source, '..', 'index.ts'), 'utf8').trimEnd().split('\n');
    assert.ok(lines.length <= 40, `index.ts has ${lines.length} lines`);
  });

  it('uses no API whose deprecation warning the task silences for its dependencies (dependency-deprecations.ts)', () => {
    // DEP0169: the legacy node:url module (url.parse, url.resolve, url.format). WHATWG URL is a global.
    assert.deepEqual([...DEPENDENCY_DEPRECATIONS], ['DEP0169'], 'a new code needs its API listed here');
    const offending = allSources(join(source, '..')).filter((file) => /from '(node:)?url'|require\('(node:)?url'\)/.test(readFileSync(file, 'utf8')));
    assert.deepEqual(offending.map((file) => relative(source, file)), []);
  });

  it('keeps plan() pure: no ports, clock, randomness or I/O in plan.ts', () => {
    const text = readFileSync(join(source, 'core', 'plan.ts'), 'utf8');
    for (const forbidden of [/Date\.now|new Date/, /Math\.random/, /from '\.\.\/ports'/, /from 'node:/, /process\./, /await /]) assert.doesNotMatch(text, forbidden);
  });
});
