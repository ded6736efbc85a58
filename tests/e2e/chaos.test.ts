// Chaos: the task is killed (SIGKILL, as a cancelled job or a lost agent) at every write of a 3-environment
// provision, under each class of failure real Azure produces, then run again; the world must end exactly as a
// clean run leaves it — same objects, none twice — and (plain class) a further run must write nothing. The figures (points
// tried / converged) are printed and recorded in docs/reliability.md.
//
// The kill lands when the k-th write reaches the emulator, before it is handled (the write never happens, the
// task never hears back). Writes handled but unanswered are the `reset` class (a reset mid-body after the
// server committed). Transient faults (resets, Entra's AADSTS700213) fire in the killed run only; the world's
// steady properties (slow identity visibility, TF400898 on overlapping permission writes) stay for the rerun.
import assert from 'node:assert/strict';
import { DEV, e2eWorld, specText, transcript, type MicRun, type WorldState } from './harness';

const WRITE_ROUTES = [
  'arm.identities.put',
  'arm.identities.patch',
  'arm.fic.put',
  'arm.roleassignments.put',
  'devops.endpoints.create',
  'devops.endpoints.update',
  'devops.endpoints.share',
  'devops.pipelinepermissions.update',
];

const spec = specText([
  { name: 'dev', connections: [{ name: 'app-dev', shareWith: ['Apps'] }], roles: [{ role: 'Contributor', scope: `/subscriptions/${DEV}/resourceGroups/rg-app-dev` }, { role: 'Reader', scope: `/subscriptions/${DEV}` }] },
  { name: 'test', connections: [{ name: 'app-test', authorize: 'all' }], roles: [{ role: 'Contributor', scope: `/subscriptions/${DEV}/resourceGroups/rg-app-test` }, { role: 'Reader', scope: `/subscriptions/${DEV}` }] },
  { name: 'qa', connections: [{ name: 'app-qa' }], roles: [{ role: 'Reader', scope: `/subscriptions/${DEV}/resourceGroups/rg-app-test` }, { role: 'Reader', scope: `/subscriptions/${DEV}` }] },
]);

interface FaultClass {
  readonly name: string;
  /** Settings that describe the world (kept for the rerun). */
  readonly settings?: object;
  /** Transient faults, armed for the killed run only. */
  readonly faults?: readonly object[];
  /**
   * Also run a third time and require zero writes. Equal end states already imply it; proven for the plain
   * class only, to keep the test's CI cost at about two minutes.
   */
  readonly thirdRun?: boolean;
}

const CLASSES: readonly FaultClass[] = [
  { name: 'none', thirdRun: true },
  { name: 'ParentResourceNotFound (identity visible after 200 ms)', settings: { azure: { identityVisibilityMs: 200 } } },
  { name: 'transient AADSTS700213 at sign-in', faults: [{ route: 'entra.token', status: 401, code: 'AADSTS700213', internal: true, times: 1 }] },
  { name: 'TF400898 on overlapping permission writes', settings: { devops: { pipelinePermissionsWriteMs: 100 } } },
  { name: 'reset mid-body after commit (every write route once)', faults: WRITE_ROUTES.map((route) => ({ route, dropAfterCommit: true, times: 1 })) },
];

/**
 * The world with everything random taken out (ids, client ids, generated subjects), as a comparable value:
 * what exists, how many of each, and whether each credential trusts exactly its connection.
 */
function canonical(state: WorldState): unknown {
  const identityByPrincipal = new Map(state.identities.map((identity) => [identity.properties.principalId, identity.name]));
  const identityByClient = new Map(state.identities.map((identity) => [identity.properties.clientId, identity.name]));
  const connectionsById = new Map(state.serviceEndpoints.map((endpoint) => [endpoint.id, endpoint.name]));
  const ours = state.serviceEndpoints.filter((endpoint) => endpoint.name.startsWith('app-'));
  return {
    identities: state.identities.map((identity) => `${identity.name}|${identity.location}|${JSON.stringify(identity.tags)}`).sort(),
    credentials: state.federatedIdentityCredentials
      .map((credential) => {
        const identity = credential.id.split('/userAssignedIdentities/')[1]!.split('/')[0];
        const trusted = ours.find(
          (endpoint) =>
            endpoint.authorization.parameters.workloadIdentityFederationIssuer === credential.properties.issuer &&
            endpoint.authorization.parameters.workloadIdentityFederationSubject === credential.properties.subject,
        );
        return `${identity}|${credential.name}|${trusted?.name ?? 'trusts nothing'}|${credential.properties.audiences.join(',')}`;
      })
      .sort(),
    roleAssignments: state.roleAssignments
      .filter((assignment) => identityByPrincipal.has(assignment.properties.principalId))
      .map((assignment) => `${identityByPrincipal.get(assignment.properties.principalId)}|${assignment.properties.roleDefinitionId.split('/').pop()}|${assignment.properties.scope.toLowerCase()}`)
      .sort(),
    connections: ours
      .map((endpoint) =>
        [
          endpoint.name,
          endpoint.type,
          endpoint.authorization.scheme,
          identityByClient.get(endpoint.authorization.parameters.serviceprincipalid ?? '') ?? 'unknown identity',
          endpoint.authorization.parameters.workloadIdentityFederationIssuerType,
          endpoint.data.subscriptionId,
          endpoint.description,
          endpoint.serviceEndpointProjectReferences.map((reference) => reference.projectReference.name).sort().join('+'),
        ].join('|'),
      )
      .sort(),
    permissions: state.pipelinePermissions
      .filter((permission) => connectionsById.has(permission.resource.id) && connectionsById.get(permission.resource.id)!.startsWith('app-'))
      .map((permission) => `${connectionsById.get(permission.resource.id)}|all=${permission.allPipelines?.authorized === true}|${permission.pipelines.filter((pipeline) => pipeline.authorized).map((pipeline) => pipeline.id).sort().join(',')}`)
      .sort(),
  };
}

function succeeded(run: MicRun): boolean {
  return run.result === 'Succeeded' || run.result === 'SucceededWithIssues';
}

describe('e2e: chaos — killed at every write, under every fault class, a rerun converges', function () {
  this.timeout(600_000);
  const world = e2eWorld({ resetBeforeEach: false });
  const figures: { name: string; tried: number; converged: number }[] = [];

  async function arrange(faultClass: FaultClass, withFaults: boolean): Promise<void> {
    await world.reset();
    if (faultClass.settings) await world.control('POST', 'settings', faultClass.settings);
    if (withFaults && faultClass.faults) await world.control('POST', 'faults', { rules: faultClass.faults });
  }

  /** Runs provision and kills the task when the k-th write arrives (that write is dropped unhandled). */
  async function runKilledAt(k: number): Promise<{ killedAt?: string; run: MicRun }> {
    const faults = world.emulator.ctx.faults;
    const decide = faults.decide.bind(faults);
    let writes = 0;
    let kill: (() => void) | undefined;
    let killedAt: string | undefined;
    faults.decide = (request) => {
      if (killedAt !== undefined) return { latencyMs: 0, fail: { drop: true } };
      if (!request.internal && WRITE_ROUTES.some((route) => (request.route ?? '').startsWith(route))) {
        writes += 1;
        if (writes === k) {
          killedAt = `${request.method} ${request.route}`;
          kill?.();
          return { latencyMs: 0, fail: { drop: true } };
        }
      }
      return decide(request);
    };
    try {
      const run = await world.run({ environments: spec }, { onSpawn: (switchOff) => (kill = switchOff) });
      return { ...(killedAt === undefined ? {} : { killedAt }), run };
    } finally {
      faults.decide = decide;
    }
  }

  for (const faultClass of CLASSES) {
    it(`fault class: ${faultClass.name}`, async () => {
      // The clean run: what the world must look like at the end, and how many writes there are to kill at.
      await arrange(faultClass, false);
      const clean = await world.run({ environments: spec });
      assert.ok(succeeded(clean), transcript(clean));
      const expected = canonical(world.state());
      // Writes that took effect: how many a fault class adds as failed attempts (a 500, a reset) depends on timing,
      // and each of those is one more kill point in a killed run, never one fewer.
      const writeCount = clean.writes.filter((entry) => entry.status < 400 && WRITE_ROUTES.some((route) => entry.route.startsWith(route))).length;
      assert.ok(writeCount >= 15, `a 3-environment provision writes at least 15 times (${writeCount})`);

      let tried = 0;
      let converged = 0;
      const failures: string[] = [];
      for (let k = 1; ; k += 1) {
        await arrange(faultClass, true);
        const killed = await runKilledAt(k);
        if (killed.killedAt === undefined) break; // the run finished before its k-th write: every point tried
        tried += 1;
        await world.control('DELETE', 'faults');
        const rerun = await world.run({ environments: spec });
        const state = canonical(world.state());
        const again = succeeded(rerun) && faultClass.thirdRun ? await world.run({ environments: spec }) : undefined;
        const ok = succeeded(rerun) && JSON.stringify(state) === JSON.stringify(expected) && (!faultClass.thirdRun || again?.writes.length === 0);
        if (ok) converged += 1;
        else failures.push(`killed at write ${k} (${killed.killedAt}): rerun ${rerun.result}, ${again ? `third run wrote ${again.writes.length}` : ''}\n${transcript(rerun).slice(0, 3000)}\n${JSON.stringify({ state, expected }, null, 1).slice(0, 3000)}`);
      }
      figures.push({ name: faultClass.name, tried, converged });
      assert.ok(tried >= writeCount - 1, `every write was a kill point (${tried} of ${writeCount})`);
      assert.deepEqual(failures, [], failures.join('\n\n'));
      assert.equal(converged, tried);
    });
  }

  after(() => {
    const total = figures.reduce((sum, figure) => ({ tried: sum.tried + figure.tried, converged: sum.converged + figure.converged }), { tried: 0, converged: 0 });
    console.log(`chaos: ${figures.map((figure) => `${figure.name}: ${figure.converged}/${figure.tried}`).join('; ')}; total ${total.converged}/${total.tried} kill points converged`);
  });
});
