// The emulator's check configurations as a plain HTTP client sees them: preview-only api-versions, an approver
// must be an identity of the organization, the settings only with $expand=settings, and PATCH keeps the id
// and refuses a change of type; managing checks needs the Administrator role on the connection. The task's
// adapter relies on these (tests/e2e/checks.test.ts).
import assert from 'node:assert/strict';
import type { RunningEmulator } from '../emulator';
import { control, startTestEmulator } from '../../helpers/emulator';
import { jsonLine } from '../json-line';
import { DEFAULT_DEVOPS_IDS } from './seed';

describe('emulator: check configurations', () => {
  let emulator: RunningEmulator;
  /** The collection owner's token: an Administrator of the bootstrap connection (the build service is not). */
  let ownerToken: string;
  before(async () => {
    emulator = await startTestEmulator();
    ownerToken = (await control<{ accessToken: string }>(emulator, 'POST', 'devops/tokens', { identity: 'owner' })).accessToken;
  });
  after(() => emulator.close());

  async function call(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
    const info = jsonLine(emulator);
    const response = await fetch(`${info.collectionUri}${info.project.id}/_apis/pipelines/checks/configurations${path}`, {
      method,
      headers: { authorization: `Bearer ${ownerToken}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  }

  const approval = (approvers: string[]) => ({
    type: { id: '8c6f20a7-a545-4486-9777-f762fafe0d4d', name: 'Approval' },
    settings: { approvers: approvers.map((id) => ({ id })), minRequiredApprovers: 1 },
    timeout: 60,
    resource: { type: 'endpoint', id: DEFAULT_DEVOPS_IDS.bootstrapConnectionId },
  });

  it('accepts only preview api-versions', async () => {
    const refused = await call('GET', `?resourceType=endpoint&resourceId=${DEFAULT_DEVOPS_IDS.bootstrapConnectionId}&api-version=7.1`);
    assert.equal(refused.status, 400);
    assert.match(refused.body.message, /under preview/);
  });

  it('refuses an approver that is not an identity of the organization; stores, lists and patches one that is', async () => {
    const unknown = await call('POST', '?api-version=7.1-preview.1', approval(['00000000-0000-4000-8000-000000000000']));
    assert.deepEqual([unknown.status, unknown.body.typeKey], [400, 'InvalidApproverException']);
    const added = await call('POST', '?api-version=7.1-preview.1', approval([DEFAULT_DEVOPS_IDS.ownerId]));
    assert.equal(added.status, 200, JSON.stringify(added.body));
    const plain = await call('GET', `?resourceType=endpoint&resourceId=${DEFAULT_DEVOPS_IDS.bootstrapConnectionId}&api-version=7.1-preview.1`);
    assert.equal(plain.body.value[0].settings, undefined, 'settings only with $expand=settings');
    const expanded = await call('GET', `?resourceType=endpoint&resourceId=${DEFAULT_DEVOPS_IDS.bootstrapConnectionId}&$expand=settings&api-version=7.1-preview.1`);
    assert.equal(expanded.body.value[0].settings.minRequiredApprovers, 1);
    const patched = await call('PATCH', `/${added.body.id}?api-version=7.1-preview.1`, { ...approval([DEFAULT_DEVOPS_IDS.ownerId]), timeout: 120 });
    assert.deepEqual([patched.status, patched.body.id, patched.body.timeout], [200, added.body.id, 120]);
    const retyped = await call('PATCH', `/${added.body.id}?api-version=7.1-preview.1`, { ...approval([DEFAULT_DEVOPS_IDS.ownerId]), type: { id: '2ef31ad6-baa0-403a-8b45-2cbc9b4e5563' } });
    assert.equal(retyped.status, 400);
  });

  it('refuses a caller who is not an Administrator of the connection', async () => {
    const info = jsonLine(emulator);
    const response = await fetch(`${info.collectionUri}${info.project.id}/_apis/pipelines/checks/configurations?api-version=7.1-preview.1`, {
      method: 'POST',
      headers: { authorization: `Bearer ${info.systemAccessToken}`, 'content-type': 'application/json' },
      body: JSON.stringify(approval([DEFAULT_DEVOPS_IDS.ownerId])),
    });
    assert.equal(response.status, 403);
  });
});
