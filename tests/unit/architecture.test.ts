// docs/architecture.md rule 1: the core never imports task-lib or an SDK, so that it runs (and is tested) the
// same under the agent, the CLI and the fakes. This suite reads every core source file and allows only
// relative imports, Node built-ins and `yaml`; and it keeps plan.ts free of anything that could make it impure.
import * as assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const source = join(__dirname, '..', '..', '..', 'tasks', 'ManagedIdentityConnections', 'src');

function coreFiles(folder: string): string[] {
  return readdirSync(folder).flatMap((name) => {
    const path = join(folder, name);
    if (statSync(path).isDirectory()) return name === 'adapters' ? [] : coreFiles(path);
    return name.endsWith('.ts') && !name.startsWith('composition') ? [path] : [];
  });
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

  it('keeps plan() pure: no ports, clock, randomness or I/O in plan.ts', () => {
    const text = readFileSync(join(source, 'core', 'plan.ts'), 'utf8');
    for (const forbidden of [/Date\.now|new Date/, /Math\.random/, /from '\.\.\/ports'/, /from 'node:/, /process\./, /await /]) assert.doesNotMatch(text, forbidden);
  });
});
