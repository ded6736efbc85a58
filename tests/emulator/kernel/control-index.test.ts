// Protects the control API's index (`GET {controlUrl}`): it lists every route registered on the control
// router, the kernel's and each module's, because it reads them from the router instead of a list kept by
// hand (which once missed all of Azure DevOps' control calls). And docs/emulator.md's control API table
// names exactly those routes, so a new control call cannot go undocumented, nor a removed one stay.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunningEmulator } from '../emulator';
import { control, startTestEmulator } from '../../helpers/emulator';

const emulatorDoc = join(__dirname, '..', '..', '..', '..', 'docs', 'emulator.md');

interface ControlIndex {
  description: string;
  endpoints: string[];
}

/** `POST devops/jobs/{jobId}/x` and `POST devops/jobs/:jobId/x` both become `POST devops/jobs/:/x`. */
function comparable(endpoint: string): string {
  return endpoint.replace(/\?.*$/, '').replace(/\{[^}]+\}|:\w+/g, ':');
}

/**
 * The routes the first column of the doc's control API table names: one or more `METHOD path` in
 * backticks per row; `…/x` reuses the previous path with its last segment replaced.
 */
function documentedRoutes(markdown: string): string[] {
  const section = markdown.slice(markdown.indexOf('## The control API'), markdown.indexOf('### Settings'));
  const routes: string[] = [];
  for (const row of section.split('\n').filter((line) => /^\| `/.test(line))) {
    const firstCell = row.split(' | ')[0]!;
    let previous = '';
    for (const [, code] of firstCell.matchAll(/`([^`]+)`/g)) {
      const route = code!.startsWith('…/') ? `${previous.slice(0, previous.lastIndexOf('/'))}${code!.slice(1)}` : code!;
      routes.push(comparable(route));
      previous = route;
    }
  }
  return routes;
}

describe('the control API index', function () {
  this.timeout(30_000);
  let emulator: RunningEmulator;

  before(async () => {
    emulator = await startTestEmulator();
  });
  after(() => emulator.close());

  it('lists every route of the control router, the modules\' included, in registration order', async () => {
    const index = await control<ControlIndex>(emulator, 'GET', '');
    const registered = emulator.ctx.controlRouter.list().map(({ method, pattern }) => `${method} ${pattern === '/' ? '/' : pattern.slice(1)}`);
    assert.deepEqual(index.endpoints, registered);
    for (const expected of ['GET /', 'GET state', 'POST reset', 'POST test-issuer/assertions', 'GET devops', 'POST devops/jobs', 'GET devops/jobs/:jobId/agent-env', 'POST devops/runs/:runId/complete']) {
      assert.ok(index.endpoints.includes(expected), `${expected} missing from ${index.endpoints.join(', ')}`);
    }
    assert.match(index.description, /docs\/emulator\.md/);
  });

  it('reads the router when asked, so a route added later is listed too', async () => {
    emulator.ctx.controlRouter.add('POST', '/probe/:id/poke', { service: 'control', name: 'control.test.probe' }, () => ({ status: 200, body: {} }));
    const index = await control<ControlIndex>(emulator, 'GET', '');
    assert.equal(index.endpoints.at(-1), 'POST probe/:id/poke');
  });

  it('matches the control API table of docs/emulator.md, route for route', async () => {
    const fresh = await startTestEmulator();
    try {
      const listed = (await control<ControlIndex>(fresh, 'GET', '')).endpoints.map(comparable).sort();
      const documented = documentedRoutes(readFileSync(emulatorDoc, 'utf8')).sort();
      assert.deepEqual(documented, listed);
    } finally {
      await fresh.close();
    }
  });
});
