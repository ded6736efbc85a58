// Checks on the new connections, end to end: the bundled task writes them through Azure DevOps' Checks API
// (pipelines/checks/configurations) on the emulator. This suite protects: every kind is created with the
// connection and before any pipeline is authorized; a rerun writes nothing; a check changed by hand is drift
// (verify fails) and provision rewrites it in place (same id); and the verification run meets the checks as a
// real run would — held until approved, or stopped when its pipeline does not extend the required template.
import assert from 'node:assert/strict';
import { DEFAULT_BOOTSTRAP_TEMPLATE, DEFAULT_DEVOPS_IDS } from '../emulator/devops/seed';
import { connectionNamed, devEnvironment, e2eWorld, specText, transcript, type WorldState } from './harness';

interface CheckRecord {
  id: number;
  type: { id: string; name: string };
  settings: Record<string, any>;
  timeout: number;
  resource: { type: string; id: string; name: string };
}

interface RunWithChecks {
  id: number;
  state: string;
  result?: string;
  jobIds: string[];
  pendingApprovals: number[];
  checkFailure: string | null;
}

const approvals = { approvers: [DEFAULT_DEVOPS_IDS.ownerId], minApprovers: 1, timeoutMinutes: 1440, instructions: 'Check the plan first.' };
const requiredTemplate = { repository: DEFAULT_BOOTSTRAP_TEMPLATE.repositoryName, ref: DEFAULT_BOOTSTRAP_TEMPLATE.repositoryRef, path: DEFAULT_BOOTSTRAP_TEMPLATE.templatePath };
const allChecks = { approvals, exclusiveLock: true, requiredTemplate, businessHours: { timeZone: 'UTC', days: ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday'], start: '08:00', end: '18:00' } };
const specWith = (checks: object) => specText([{ ...devEnvironment, connections: [{ name: 'app-dev', checks }] }]);

// The verification run uses the new connection, as the template's verify mode does.
const verifying = { queueVerificationRun: 'true', verificationRunParameters: JSON.stringify({ mode: 'verify', connections: 'app-dev' }) };

const checksOf = (state: WorldState, connectionId: string): CheckRecord[] =>
  ((state as unknown as { checkConfigurations: CheckRecord[] }).checkConfigurations ?? []).filter((record) => record.resource.id === connectionId);
const runsOf = (state: WorldState): RunWithChecks[] => (state as unknown as { pipelineRuns: RunWithChecks[] }).pipelineRuns;

describe('e2e: checks on connections', function () {
  this.timeout(120_000);
  const world = e2eWorld();

  it('creates every check with the connection, before any pipeline may use it; a rerun writes nothing', async () => {
    const run = await world.run({ environments: specWith(allChecks) });
    assert.equal(run.result, 'Succeeded', transcript(run));
    const connection = connectionNamed(world.state(), 'app-dev')!;
    const checks = checksOf(world.state(), connection.id);
    assert.deepEqual(checks.map((check) => check.type.name).sort(), ['Approval', 'ExclusiveLock', 'ExtendsCheck', 'Task Check']);
    const approval = checks.find((check) => check.type.name === 'Approval')!;
    assert.deepEqual([approval.settings['approvers'].map((item: { id: string }) => item.id), approval.settings['minRequiredApprovers'], approval.timeout], [[DEFAULT_DEVOPS_IDS.ownerId], 1, 1440]);
    assert.equal(checks.find((check) => check.type.name === 'Task Check')!.settings['inputs'].businessDays, 'Monday,Tuesday,Wednesday,Thursday,Friday');
    // Checks before authorization: no moment where a pipeline may use the connection unguarded.
    const routes = run.requests.map((entry) => entry.route);
    const lastCheck = routes.lastIndexOf('devops.checks.add');
    const firstAuthorization = routes.findIndex((route) => route?.startsWith('devops.pipelinepermissions.update'));
    assert.ok(lastCheck >= 0 && firstAuthorization > lastCheck, routes.join(' '));
    assert.match(run.stdout, /add a check to connection app-dev: Approvals by 4a02d6a4-0298-4071-880a-a8137ba52d0d \(1 required, timeout 1440 min\)/);

    const again = await world.run({ environments: specWith(allChecks) });
    assert.equal(again.result, 'Succeeded', transcript(again));
    assert.equal(again.writes.length, 0, JSON.stringify(again.writes));
    assert.equal(again.outputs['changesPresent'], 'false');
  });

  it('a check changed by hand is drift: verify fails, provision rewrites it in place', async () => {
    assert.equal((await world.run({ environments: specWith({ approvals }) })).result, 'Succeeded');
    const connection = connectionNamed(world.state(), 'app-dev')!;
    const [approval] = checksOf(world.state(), connection.id);
    const info = world.info;
    const patched = await fetch(`${info.collectionUri}${info.project.id}/_apis/pipelines/checks/configurations/${approval!.id}?api-version=7.1-preview.1`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${info.systemAccessToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ...approval, settings: { ...approval!.settings, minRequiredApprovers: 0 } }),
    });
    assert.equal(patched.status, 200, await patched.text());

    const verify = await world.run({ environments: specWith({ approvals }), command: 'verify' });
    assert.equal(verify.result, 'Failed', transcript(verify));
    assert.ok(verify.problems.some((problem) => problem.code === 'MIC502'), transcript(verify));

    const provision = await world.run({ environments: specWith({ approvals }) });
    assert.equal(provision.result, 'Succeeded', transcript(provision));
    assert.deepEqual(provision.writes.map((entry) => entry.route), ['devops.checks.update']);
    const after = checksOf(world.state(), connection.id);
    assert.deepEqual(after.map((check) => [check.id, check.settings['minRequiredApprovers']]), [[approval!.id, 1]]);
  });

  it('the verification run waits for the approval, and starts once approved', async () => {
    const run = await world.run({ environments: specWith({ approvals }), ...verifying });
    assert.equal(run.result, 'Succeeded', transcript(run));
    const queued = runsOf(world.state()).find((candidate) => String(candidate.id) === run.outputs['verificationRunId'])!;
    assert.deepEqual([queued.state, queued.jobIds.length, queued.pendingApprovals.length], ['inProgress', 0, 1]);
    await world.control('POST', `devops/runs/${queued.id}/approve`);
    const approved = runsOf(world.state()).find((candidate) => candidate.id === queued.id)!;
    assert.deepEqual([approved.jobIds.length, approved.pendingApprovals.length], [1, 0]);
  });

  it('a verification run of a pipeline that does not extend the required template is stopped before any job', async () => {
    const elsewhere = { ...requiredTemplate, path: 'templates/other.yml' };
    const run = await world.run({ environments: specWith({ requiredTemplate: elsewhere }), ...verifying });
    assert.equal(run.result, 'Succeeded', transcript(run));
    const queued = runsOf(world.state()).find((candidate) => String(candidate.id) === run.outputs['verificationRunId'])!;
    assert.deepEqual([queued.state, queued.result, queued.jobIds.length], ['completed', 'failed', 0]);
    assert.match(queued.checkFailure ?? '', /does not extend the required template templates\/other\.yml@Platform\/mic-templates/);
  });
});
