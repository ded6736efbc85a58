// Custom role definitions in the emulator, as a real ARM client sees them: written with PUT (roleDefinitions/write
// on every assignable scope), listed and read at and below their assignable scopes, usable in role assignments
// and RBAC checks like built-in roles, and gone after a reset. The escalation guard's e2e tests rely on them.
import assert from 'node:assert/strict';
import type { RunningEmulator } from '../emulator';
import { startTestEmulator } from '../../helpers/emulator';
import { BOOTSTRAP_IDENTITY, DEV_SUBSCRIPTION, PROD_SUBSCRIPTION } from './default-world';
import { actor, armToken, bootstrapToken, raw } from './test-support';

const API = 'api-version=2022-04-01';
const GUID = '0f1c0000-0000-4000-8000-0000000000c1';
const devScope = `/subscriptions/${DEV_SUBSCRIPTION.id}`;
const definitionPath = (scope: string, guid = GUID) => `${scope}/providers/Microsoft.Authorization/roleDefinitions/${guid}?${API}`;
const body = (roleName: string, assignableScopes = [devScope]) => ({
  properties: { roleName, type: 'CustomRole', description: 'test', permissions: [{ actions: ['Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/*'], notActions: [] }], assignableScopes },
});

describe('emulator: custom role definitions', () => {
  let emulator: RunningEmulator;

  before(async () => {
    emulator = await startTestEmulator();
  });
  after(() => emulator.close());
  beforeEach(() => emulator.reset());

  async function asSystem(method: string, path: string, payload?: object): Promise<{ status: number; body: any }> {
    const response = await emulator.ctx.internalFetch({ method, path, system: true, ...(payload ? { body: payload, headers: { 'content-type': 'application/json' } } : {}) });
    return { status: response.status, body: response.body };
  }

  it('PUT creates (201) then replaces (200); GET and the filtered list show it in its subscription, not in another', async () => {
    assert.equal((await asSystem('PUT', definitionPath(devScope), body('FIC Writer'))).status, 201);
    assert.equal((await asSystem('PUT', definitionPath(devScope), body('FIC Writer'))).status, 200);
    const got = await asSystem('GET', definitionPath(devScope));
    assert.equal(got.status, 200);
    assert.deepEqual([got.body.properties.roleName, got.body.properties.type], ['FIC Writer', 'CustomRole']);
    const listed = await asSystem('GET', `${devScope}/providers/Microsoft.Authorization/roleDefinitions?${API}&$filter=${encodeURIComponent("roleName eq 'FIC Writer'")}`);
    assert.deepEqual(listed.body.value.map((role: any) => role.name), [GUID]);
    const elsewhere = await asSystem('GET', `/subscriptions/${PROD_SUBSCRIPTION.id}/providers/Microsoft.Authorization/roleDefinitions?${API}&$filter=${encodeURIComponent("type eq 'CustomRole'")}`);
    assert.deepEqual(elsewhere.body.value, []);
  });

  it('refuses a name another definition has (409), a built-in GUID (400), and a caller without roleDefinitions/write (403)', async () => {
    assert.equal((await asSystem('PUT', definitionPath(devScope), body('FIC Writer'))).status, 201);
    const sameName = await asSystem('PUT', definitionPath(devScope, '0f1c0000-0000-4000-8000-0000000000c2'), body('fic writer'));
    assert.deepEqual([sameName.status, sameName.body.error.code], [409, 'RoleDefinitionWithSameNameExists']);
    const builtIn = await asSystem('PUT', definitionPath(devScope, 'b24988ac-6180-42a0-ab88-20f7382dd24c'), body('Mine'));
    assert.equal(builtIn.status, 400);
    // The bootstrap identity's Role Based Access Control Administrator writes assignments, not definitions.
    const refused = await raw(emulator, 'PUT', definitionPath(devScope, '0f1c0000-0000-4000-8000-0000000000c3'), { token: await bootstrapToken(emulator), body: body('Other') });
    assert.deepEqual([refused.status, refused.body.error.code], [403, 'AuthorizationFailed']);
  });

  it('an assignment of it grants its actions in RBAC checks (a federated credential onto the bootstrap identity); a reset removes it', async () => {
    assert.equal((await asSystem('PUT', definitionPath(devScope), body('FIC Writer'))).status, 201);
    const { identity } = await actor(emulator, 'id-fic-writer', { scope: `${devScope}/resourceGroups/${BOOTSTRAP_IDENTITY.resourceGroup}`, roleGuid: GUID });
    const token = await armToken(emulator, identity.properties.clientId, 'id-fic-writer');
    const credential = { properties: { issuer: 'https://attacker.example', subject: 'me', audiences: ['api://AzureADTokenExchange'] } };
    assert.equal((await raw(emulator, 'PUT', `${BOOTSTRAP_IDENTITY.resourceId}/federatedIdentityCredentials/attacker?api-version=2024-11-30`, { token, body: credential })).status, 201);
    // Its actions are federated credentials only: not the identity itself.
    assert.equal((await raw(emulator, 'PATCH', `${BOOTSTRAP_IDENTITY.resourceId}?api-version=2024-11-30`, { token, body: { tags: { a: 'b' } } })).status, 403);
    await emulator.reset();
    assert.equal((await asSystem('GET', definitionPath(devScope))).status, 404);
  });
});
