// Protects ARM fidelity against Microsoft's own published examples (azure-rest-api-specs x-ms-examples,
// copied to tests/reference/arm-examples): every example is replayed against the emulator with a
// valid token, and the status code and response shape (keys and JSON types, recursively) must match.
// Values are compared only where they matter: resource `type`s, and the fixed segments of ids (e.g. the
// lowercase `resourcegroups` in managed identity ids). Placeholders in the examples that are not valid
// ARM values ("subid", scope "scope", the sample role GUID) are mapped to real ones first.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunningEmulator } from '../emulator';
import { startTestEmulator } from '../../helpers/emulator';
import { referenceRoot } from '../../helpers/reference';
import { DEFAULT_TENANT } from './default-world';
import { armToken, raw, setupCall, testIssuer } from './test-support';

const EXAMPLES = join(referenceRoot, 'arm-examples');
/** Stands in for the examples' non-GUID "subid". */
const PLACEHOLDER_SUBSCRIPTION = '99999999-0000-4000-8000-000000000001';
const READER = 'acdd72a7-3385-48ef-bd42-f606fba81ae7';
/** The role GUID the role-assignment samples use; it is not a built-in role. */
const SAMPLE_ROLE = '0b5fe924-9a61-425c-96af-cfe6e287ca2d';
const SAMPLE_PRINCIPAL = 'ce2ce14e-85d7-4629-bdbc-454d0519d987';
const CALLER = { clientId: '33333333-0000-4000-8000-0000000000e1', principalId: '44444444-0000-4000-8000-0000000000e1', subject: 'examples' };

interface Example {
  parameters: Record<string, any>;
  responses: Record<string, { body?: unknown }>;
}

function readExample(file: string): Example {
  const text = readFileSync(join(EXAMPLES, file), 'utf8')
    .replace(/"sub[iI][dD]"/g, `"${PLACEHOLDER_SUBSCRIPTION}"`)
    .replaceAll(SAMPLE_ROLE, READER);
  return JSON.parse(text) as Example;
}

const exampleSubscriptions = [PLACEHOLDER_SUBSCRIPTION, 'c267c0e7-0a73-4789-9e17-d26aeb0904e5', 'a925f2f7-5c63-4b7b-8799-25a5f97bc3b2', '291bba3f-e0a5-47bc-a099-3bdcb2a50a05'];

function examplesSeed() {
  return {
    azure: {
      tenant: { id: DEFAULT_TENANT.id },
      subscriptions: exampleSubscriptions.map((id) => ({ id, displayName: 'Example Subscription', tags: { tagKey1: 'tagValue1', tagKey2: 'tagValue2' } })),
      resourceGroups: [
        { subscriptionId: PLACEHOLDER_SUBSCRIPTION, name: 'rg-caller', location: 'eastus' },
        { subscriptionId: PLACEHOLDER_SUBSCRIPTION, name: 'rgName', location: 'eastus' },
        { subscriptionId: 'c267c0e7-0a73-4789-9e17-d26aeb0904e5', name: 'rgName', location: 'eastus' },
        { subscriptionId: 'a925f2f7-5c63-4b7b-8799-25a5f97bc3b2', name: 'testrg', location: 'eastus' },
      ],
      principals: [{ id: SAMPLE_PRINCIPAL, type: 'User', displayName: 'Sample user' }],
      identities: [
        {
          subscriptionId: PLACEHOLDER_SUBSCRIPTION,
          resourceGroup: 'rg-caller',
          name: 'id-example-caller',
          location: 'eastus',
          clientId: CALLER.clientId,
          principalId: CALLER.principalId,
          federatedIdentityCredentials: [{ name: 'examples', issuer: '{{testIssuer}}', subject: CALLER.subject }],
        },
      ],
      roleAssignments: exampleSubscriptions.map((subscriptionId, i) => ({
        name: `55555555-0000-4000-8000-0000000000e${i}`,
        scope: `/subscriptions/${subscriptionId}`,
        roleName: 'Owner',
        principalId: CALLER.principalId,
        principalType: 'ServicePrincipal',
      })),
    },
  };
}

/** The literal (even-position) segments of an ARM id, e.g. subscriptions/resourcegroups/providers/userAssignedIdentities. */
function idSkeleton(id: string): string {
  const url = id.startsWith('https://') ? new URL(id).pathname : id;
  return url
    .split('/')
    .filter((segment) => segment !== '')
    .filter((_, index) => index % 2 === 0)
    .join('/');
}

/**
 * Same keys (the emulator may add read-only ones the spec defines) and JSON types, recursively. An
 * example's array shows the shape of its items; an empty array is a valid value, except for the
 * list answer itself (`body.value`), which must hold something for the comparison to mean anything.
 */
function assertSameShape(actual: unknown, expected: unknown, path: string): void {
  if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual), `${path}: expected an array, got ${JSON.stringify(actual)}`);
    if (path === 'body.value' && expected.length > 0) assert.ok(actual.length > 0, `${path}: expected a non-empty list`);
    if (expected.length > 0) actual.forEach((item, i) => assertShapedLikeOneOf(item, expected, `${path}[${i}]`));
    return;
  }
  if (expected !== null && typeof expected === 'object') {
    assert.ok(actual !== null && typeof actual === 'object' && !Array.isArray(actual), `${path}: expected an object, got ${JSON.stringify(actual)}`);
    for (const [key, value] of Object.entries(expected)) {
      const child = `${path}.${key}`;
      assert.ok(Object.hasOwn(actual as object, key), `${child} is missing`);
      const actualValue: unknown = (actual as Record<string, unknown>)[key];
      if (key === 'tags') {
        // Free-form: only the type matters.
        assert.ok(typeof actualValue === 'object' && actualValue !== null && !Array.isArray(actualValue), `${child}: expected an object`);
      } else if ((key === 'id' || key === 'nextLink') && typeof value === 'string') {
        assert.equal(typeof actualValue, 'string', `${child}: expected a string`);
        assert.equal(idSkeleton(actualValue as string), idSkeleton(value), `${child}: ${actualValue} is not shaped like ${value}`);
      } else if (key === 'type' && typeof value === 'string' && value.startsWith('Microsoft.')) {
        assert.equal(actualValue, value, `${child}`);
      } else {
        assertSameShape(actualValue, value, child);
      }
    }
    return;
  }
  assert.equal(typeof actual, typeof expected, `${path}: expected a ${typeof expected}, got ${JSON.stringify(actual)}`);
}

/** A list may mix item shapes (e.g. assignments at a subscription and at a resource group). */
function assertShapedLikeOneOf(actual: unknown, candidates: unknown[], path: string): void {
  const failures: string[] = [];
  for (const candidate of candidates) {
    try {
      assertSameShape(actual, candidate, path);
      return;
    } catch (error) {
      failures.push((error as Error).message);
    }
  }
  assert.fail(failures.join('\n'));
}

type Setup = (emulator: RunningEmulator, p: Record<string, any>) => Promise<void>;

interface Replay {
  method: string;
  path: (p: Record<string, any>) => string;
  /** Sends `parameters.parameters` as the body. */
  body?: boolean;
  query?: string;
  setup?: Setup;
  /** The example's responses in the order the repeated request must produce them (e.g. 201 then 200). */
  statuses: string[];
}

const identityPath = (p: Record<string, any>) =>
  `/subscriptions/${p.subscriptionId}/resourceGroups/${p.resourceGroupName}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${p.resourceName}`;
const ficPath = (p: Record<string, any>) => `${identityPath(p)}/federatedIdentityCredentials/${p.federatedIdentityCredentialResourceName}`;

const createIdentity = (name?: string): Setup => async (emulator, p) => {
  await setupCall(emulator, 'PUT', identityPath({ ...p, resourceName: name ?? p.resourceName }), { location: 'eastus', tags: { key1: 'value1', key2: 'value2' } });
};
const createCredential = (ficName?: string): Setup => async (emulator, p) => {
  await setupCall(emulator, 'PUT', `${identityPath(p)}/federatedIdentityCredentials/${ficName ?? p.federatedIdentityCredentialResourceName}`, {
    properties: { issuer: testIssuer(emulator), subject: `system:serviceaccount:ns:${ficName ?? 'svcaccount'}`, audiences: ['api://AzureADTokenExchange'] },
  });
};
const both = (...setups: Setup[]): Setup => async (emulator, p) => {
  for (const setup of setups) await setup(emulator, p);
};
const sampleAssignment = (scope: string, name: string): Setup => async (emulator) => {
  await setupCall(emulator, 'PUT', `${scope}/providers/Microsoft.Authorization/roleAssignments/${name}`, {
    properties: { roleDefinitionId: `/providers/Microsoft.Authorization/roleDefinitions/${READER}`, principalId: SAMPLE_PRINCIPAL, principalType: 'User' },
  });
};
const roleAssignmentPath = (p: Record<string, any>) => `/${p.scope}/providers/Microsoft.Authorization/roleAssignments/${p.roleAssignmentName}`;
const sampleSubscription = '/subscriptions/a925f2f7-5c63-4b7b-8799-25a5f97bc3b2';

const REPLAYS: Record<string, Replay> = {
  'Microsoft.ManagedIdentity/IdentityCreate.json': { method: 'PUT', path: identityPath, body: true, statuses: ['201', '200'] },
  'Microsoft.ManagedIdentity/IdentityGet.json': { method: 'GET', path: identityPath, setup: createIdentity(), statuses: ['200'] },
  'Microsoft.ManagedIdentity/IdentityUpdate.json': { method: 'PATCH', path: identityPath, body: true, setup: createIdentity(), statuses: ['200'] },
  'Microsoft.ManagedIdentity/IdentityDelete.json': { method: 'DELETE', path: identityPath, setup: createIdentity(), statuses: ['200', '204'] },
  // nextLink only appears when there is a next page: ask for one item of two.
  'Microsoft.ManagedIdentity/IdentityListByResourceGroup.json': {
    method: 'GET',
    path: (p) => `/subscriptions/${p.subscriptionId}/resourceGroups/${p.resourceGroupName}/providers/Microsoft.ManagedIdentity/userAssignedIdentities`,
    query: '$top=1',
    setup: both(createIdentity('identity-one'), createIdentity('identity-two')),
    statuses: ['200'],
  },
  'Microsoft.ManagedIdentity/IdentityListBySubscription.json': {
    method: 'GET',
    path: (p) => `/subscriptions/${p.subscriptionId}/providers/Microsoft.ManagedIdentity/userAssignedIdentities`,
    query: '$top=1',
    setup: async (emulator, p) => createIdentity('identity-one')(emulator, { ...p, resourceGroupName: 'rgName' }),
    statuses: ['200'],
  },
  'Microsoft.ManagedIdentity/FederatedIdentityCredentialCreate.json': { method: 'PUT', path: ficPath, body: true, setup: createIdentity(), statuses: ['201', '200'] },
  'Microsoft.ManagedIdentity/FederatedIdentityCredentialGet.json': { method: 'GET', path: ficPath, setup: both(createIdentity(), createCredential()), statuses: ['200'] },
  'Microsoft.ManagedIdentity/FederatedIdentityCredentialDelete.json': { method: 'DELETE', path: ficPath, setup: both(createIdentity(), createCredential()), statuses: ['200', '204'] },
  'Microsoft.ManagedIdentity/FederatedIdentityCredentialList.json': {
    method: 'GET',
    path: (p) => `${identityPath(p)}/federatedIdentityCredentials`,
    query: '$top=1',
    setup: both(createIdentity(), createCredential('first'), createCredential('second')),
    statuses: ['200'],
  },
  'Microsoft.Authorization/RoleAssignments_CreateForSubscription.json': { method: 'PUT', path: roleAssignmentPath, body: true, statuses: ['201', '200'] },
  'Microsoft.Authorization/RoleAssignments_CreateForResourceGroup.json': { method: 'PUT', path: roleAssignmentPath, body: true, statuses: ['201', '200'] },
  'Microsoft.Authorization/RoleAssignments_CreateForResource.json': { method: 'PUT', path: roleAssignmentPath, body: true, statuses: ['201', '200'] },
  'Microsoft.Authorization/RoleAssignments_CreateById.json': { method: 'PUT', path: (p) => `/${p.roleAssignmentId}`, body: true, statuses: ['201', '200'] },
  'Microsoft.Authorization/RoleAssignments_Get.json': { method: 'GET', path: roleAssignmentPath, setup: sampleAssignment(sampleSubscription, 'b0f43c54-e787-4862-89b1-a653fa9cf747'), statuses: ['200'] },
  'Microsoft.Authorization/RoleAssignments_GetById.json': { method: 'GET', path: (p) => `/${p.roleAssignmentId}`, setup: sampleAssignment(sampleSubscription, 'b0f43c54-e787-4862-89b1-a653fa9cf747'), statuses: ['200'] },
  'Microsoft.Authorization/RoleAssignments_Delete.json': { method: 'DELETE', path: roleAssignmentPath, setup: sampleAssignment(sampleSubscription, 'b0f43c54-e787-4862-89b1-a653fa9cf747'), statuses: ['200', '204'] },
  'Microsoft.Authorization/RoleAssignments_DeleteById.json': { method: 'DELETE', path: (p) => `/${p.roleAssignmentId}`, setup: sampleAssignment(sampleSubscription, 'b0f43c54-e787-4862-89b1-a653fa9cf747'), statuses: ['200', '204'] },
  'Microsoft.Authorization/RoleAssignments_ListForScope.json': {
    method: 'GET',
    path: (p) => `/${p.scope}/providers/Microsoft.Authorization/roleAssignments`,
    setup: sampleAssignment(sampleSubscription, 'b0f43c54-e787-4862-89b1-a653fa9cf747'),
    statuses: ['200'],
  },
  'Microsoft.Authorization/RoleAssignments_ListForSubscription.json': {
    method: 'GET',
    path: (p) => `/subscriptions/${p.subscriptionId}/providers/Microsoft.Authorization/roleAssignments`,
    setup: sampleAssignment(sampleSubscription, 'b0f43c54-e787-4862-89b1-a653fa9cf747'),
    statuses: ['200'],
  },
  'Microsoft.Authorization/RoleAssignments_ListForResourceGroup.json': {
    method: 'GET',
    path: (p) => `/subscriptions/${p.subscriptionId}/resourceGroups/${p.resourceGroupName}/providers/Microsoft.Authorization/roleAssignments`,
    setup: both(sampleAssignment(sampleSubscription, 'b0f43c54-e787-4862-89b1-a653fa9cf747'), sampleAssignment(`${sampleSubscription}/resourceGroups/testrg`, '96786e4b-dede-4c2e-8736-8ab911987f08')),
    statuses: ['200'],
  },
  // The role-definition samples use the literal placeholders "scope" and "roleDefinitionId".
  'Microsoft.Authorization/GetRoleDefinitionByName.json': { method: 'GET', path: () => `${sampleSubscription}/providers/Microsoft.Authorization/roleDefinitions/${READER}`, statuses: ['200'] },
  'Microsoft.Authorization/GetRoleDefinitionById.json': {
    method: 'GET',
    path: () => `/subscriptions/${PLACEHOLDER_SUBSCRIPTION}/providers/Microsoft.Authorization/roleDefinitions/${READER}`,
    statuses: ['200'],
  },
  'Microsoft.Authorization/GetRoleDefinitionAtScope.json': { method: 'GET', path: () => `${sampleSubscription}/providers/Microsoft.Authorization/roleDefinitions`, statuses: ['200'] },
  'Microsoft.Resources/GetSubscription.json': { method: 'GET', path: (p) => `/subscriptions/${p.subscriptionId}`, statuses: ['200'] },
};

function exampleFiles(): string[] {
  return readdirSync(EXAMPLES, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .flatMap((folder) => readdirSync(join(EXAMPLES, folder.name)).map((file) => `${folder.name}/${file}`))
    .filter((file) => file.endsWith('.json'))
    .sort();
}

describe('emulator: ARM answers like the published examples', () => {
  let emulator: RunningEmulator;
  let token: string;

  before(async () => {
    emulator = await startTestEmulator({ seed: examplesSeed() });
  });

  after(async () => {
    await emulator.close();
  });

  beforeEach(async () => {
    await emulator.reset();
    token = await armToken(emulator, CALLER.clientId, CALLER.subject);
  });

  it('has a replay for every example file', () => {
    assert.deepEqual(exampleFiles(), Object.keys(REPLAYS).sort());
  });

  for (const [file, replay] of Object.entries(REPLAYS)) {
    it(`${file}: ${replay.method} answers ${replay.statuses.join(' then ')} shaped like the example`, async () => {
      const example = readExample(file);
      const p = example.parameters;
      await replay.setup?.(emulator, p);
      const query = [`api-version=${p['api-version']}`, replay.query].filter(Boolean).join('&');
      const path = `${replay.path(p)}?${query}`;
      for (const status of replay.statuses) {
        const response = await raw(emulator, replay.method, path, { token, body: replay.body ? p.parameters : undefined });
        assert.equal(String(response.status), status, `${replay.method} ${path}: ${JSON.stringify(response.body)}`);
        const expected = example.responses[status].body;
        if (expected === undefined) assert.equal(response.body, undefined, 'expected no body');
        else assertSameShape(response.body, expected, 'body');
      }
    });
  }
});
