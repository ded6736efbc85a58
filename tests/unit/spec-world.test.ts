// The world `npm run try` derives from a spec (scripts/lib/spec-world.ts): everything the spec names exists,
// and the bootstrap identity holds exactly the least rights of docs/permissions.md — no more.
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { deriveSpecWorld, PIPELINE_PROJECT } from '../../scripts/lib/spec-world';
import { loadSpecText } from '../../tasks/ManagedIdentityConnections/src/spec/load-spec';
import { BOOTSTRAP_IDENTITY } from '../emulator/azure/default-world';
import { roleByName } from '../emulator/azure/role-definitions';

const root = join(__dirname, '..', '..', '..');
const SUB_A = '11111111-1111-4111-8111-111111111111';
const SUB_B = '22222222-2222-4222-8222-222222222222';
const SUB_C = '33333333-3333-4333-8333-333333333333';

function environments(text: string, allowPrivilegedRoles = false) {
  const loaded = loadSpecText(text, { allowPrivilegedRoles, only: [] });
  assert.ok(loaded.ok, loaded.ok ? '' : loaded.problems.map((item) => `${item.code} ${item.message}`).join('\n'));
  return loaded.environments;
}

const spec = `
defaults: { subscriptionId: ${SUB_A}, identityResourceGroup: rg-identities, location: northeurope }
environments:
  - name: dev
    connections:
      - { name: app-dev, resourceGroup: rg-app-dev, shareWith: [Apps, Data], authorize: [1, 12] }
    roles:
      - { role: Contributor, scope: /subscriptions/${SUB_A}/resourceGroups/rg-app-dev }
      - { role: Storage Blob Data Reader, scope: /subscriptions/${SUB_A}/resourceGroups/rg-data/providers/Microsoft.Storage/storageAccounts/stdata }
  - name: prod
    identity: { subscriptionId: ${SUB_B}, resourceGroup: rg-prod-identities }
    connections:
      - { name: app-prod, subscriptionId: ${SUB_B}, shareWith: [apps] }
      - { name: app-hub, subscriptionId: ${SUB_C}, authorize: all }
    roles:
      - { role: acdd72a7-3385-48ef-bd42-f606fba81ae7, scope: /subscriptions/${SUB_B} }
`;

const guid = (name: string) => roleByName(name)!.name;
const delegationText = (roles: string[]) =>
  ['write', 'delete']
    .map((action) => {
      const source = action === 'write' ? 'Request' : 'Resource';
      return `((!(ActionMatches{'Microsoft.Authorization/roleAssignments/${action}'}))OR(@${source}[Microsoft.Authorization/roleAssignments:RoleDefinitionId]ForAnyOfAnyValues:GuidEquals{${roles.join(',')}}AND@${source}[Microsoft.Authorization/roleAssignments:PrincipalType]ForAnyOfAnyValues:StringEqualsIgnoreCase{'ServicePrincipal'}))`;
    })
    .join('AND');
const squeeze = (text: string) => text.replace(/\s+/g, '');

describe('the world npm run try derives from a spec', () => {
  const world = deriveSpecWorld(environments(spec));
  const { azure, devops } = world.seed;

  it('holds every subscription and resource group the spec names, and the bootstrap identity in a group of its own', () => {
    assert.deepEqual(azure.subscriptions!.map((subscription) => subscription.id), [SUB_A, SUB_B, SUB_C]);
    assert.deepEqual(
      azure.resourceGroups!.map((group) => `${group.subscriptionId}/${group.name}/${group.location}`),
      [`${SUB_A}/rg-identities/northeurope`, `${SUB_A}/rg-app-dev/northeurope`, `${SUB_A}/rg-data/northeurope`, `${SUB_B}/rg-prod-identities/northeurope`, `${SUB_A}/rg-mic-bootstrap/northeurope`],
    );
    assert.deepEqual(world.needs.resourceGroups, [`/subscriptions/${SUB_A}/resourceGroups/rg-identities`, `/subscriptions/${SUB_A}/resourceGroups/rg-app-dev`, `/subscriptions/${SUB_A}/resourceGroups/rg-data`, `/subscriptions/${SUB_B}/resourceGroups/rg-prod-identities`]);
    assert.deepEqual(world.needs.resources, [`/subscriptions/${SUB_A}/resourceGroups/rg-data/providers/Microsoft.Storage/storageAccounts/stdata`]);
    assert.deepEqual(azure.identities!.map((identity) => [identity.subscriptionId, identity.resourceGroup, identity.name, identity.principalId]), [[SUB_A, 'rg-mic-bootstrap', BOOTSTRAP_IDENTITY.name, BOOTSTRAP_IDENTITY.principalId]]);
  });

  it('gives the bootstrap identity exactly the least rights of docs/permissions.md', () => {
    const assignments = azure.roleAssignments!.map((assignment) => [assignment.roleName, assignment.scope, assignment.principalId, assignment.principalType]);
    const bootstrap = BOOTSTRAP_IDENTITY.principalId;
    assert.deepEqual(assignments, [
      ['Managed Identity Contributor', `/subscriptions/${SUB_A}/resourceGroups/rg-identities`, bootstrap, 'ServicePrincipal'],
      ['Managed Identity Contributor', `/subscriptions/${SUB_B}/resourceGroups/rg-prod-identities`, bootstrap, 'ServicePrincipal'],
      ['Role Based Access Control Administrator', `/subscriptions/${SUB_A}`, bootstrap, 'ServicePrincipal'],
      ['Role Based Access Control Administrator', `/subscriptions/${SUB_B}`, bootstrap, 'ServicePrincipal'],
    ]);
    const conditioned = azure.roleAssignments!.filter((assignment) => assignment.condition);
    assert.equal(conditioned.length, 2);
    for (const assignment of conditioned) {
      assert.equal(assignment.conditionVersion, '2.0');
      assert.equal(squeeze(assignment.condition!), delegationText([guid('Contributor'), guid('Storage Blob Data Reader'), guid('Reader')]));
    }
    assert.equal(new Set(azure.roleAssignments!.map((assignment) => assignment.name)).size, 4, 'distinct assignment names');
  });

  it('uses the condition text of docs/permissions.md, word for word', () => {
    const markdown = readFileSync(join(root, 'docs', 'permissions.md'), 'utf8');
    const documented = /```text\n([\s\S]*?)```/.exec(markdown)![1]!;
    const derived = deriveSpecWorld(environments(`
defaults: { subscriptionId: ${SUB_A}, identityResourceGroup: rg-identities, location: westeurope }
environments:
  - name: dev
    connections: [{ name: app-dev }]
    roles: [{ role: Contributor, scope: /subscriptions/${SUB_A}/resourceGroups/rg-orders-dev }, { role: Reader, scope: /subscriptions/${SUB_A} }]
`));
    const condition = derived.seed.azure.roleAssignments!.find((assignment) => assignment.condition)!.condition!;
    assert.equal(squeeze(condition), squeeze(documented));
  });

  it('creates the pipeline project, every project shared with (once, ignoring case), and every listed pipeline', () => {
    assert.deepEqual(devops.projects.map((project) => project.name), [PIPELINE_PROJECT, 'Apps', 'Data']);
    assert.equal(new Set(devops.projects.map((project) => project.id)).size, 3);
    const buildService = devops.identities.find((identity) => identity.kind === 'build-service')!;
    assert.deepEqual([buildService.projects, buildService.serviceConnectionRoles], [[PIPELINE_PROJECT, 'Apps', 'Data'], { [PIPELINE_PROJECT]: 'Creator' }]);
    // The running pipeline's id must differ from the spec's 1 and 12, or authorize: [1] would prove nothing.
    assert.equal(world.pipelineId, 2);
    assert.deepEqual(devops.pipelines.map((pipeline) => [pipeline.id, pipeline.project]), [[2, PIPELINE_PROJECT], [1, PIPELINE_PROJECT], [12, PIPELINE_PROJECT]]);
    assert.deepEqual(devops.jobs.map((job) => [job.pipeline, job.bootstrap]), [[2, true]]);
    const bootstrap = devops.serviceConnections.find((connection) => connection.bootstrap)!;
    assert.deepEqual(bootstrap.authorizedPipelines, [2]);
    assert.match(bootstrap.identityResourceId!, new RegExp(`/subscriptions/${SUB_A}/resourceGroups/rg-mic-bootstrap/.*/${BOOTSTRAP_IDENTITY.name}$`, 'i'));
    assert.deepEqual(world.needs.pipelines.map((pipeline) => pipeline.id), [2, 1, 12]);
    assert.deepEqual(world.needs.projects.map((project) => project.name), [PIPELINE_PROJECT, 'Apps', 'Data']);
  });

  it('names a connection subscription the bootstrap identity holds no role in (it could not read it)', () => {
    assert.deepEqual(world.needs.unreadableSubscriptions, [{ subscriptionId: SUB_C, connection: 'app-hub' }]);
  });

  it('uses the Entra issuer, or the legacy one when asked', () => {
    assert.equal(devops.organization.issuerType, 'EntraID');
    assert.equal(deriveSpecWorld(environments(spec), { legacyIssuer: true }).seed.devops.organization.issuerType, 'AzureDevOps');
  });

  it('keeps roles the documented bootstrap may not assign out of its condition, and says why', () => {
    const derived = deriveSpecWorld(
      environments(
        `
defaults: { subscriptionId: ${SUB_A}, identityResourceGroup: rg-identities, location: westeurope }
environments:
  - name: dev
    connections: [{ name: app-dev }]
    roles:
      - { role: Reader, scope: /subscriptions/${SUB_A} }
      - { role: Owner, scope: /subscriptions/${SUB_A}/resourceGroups/rg-app }
      - { role: Our Custom Deployer, scope: /subscriptions/${SUB_A}/resourceGroups/rg-app }
`,
        true,
      ),
    );
    const condition = derived.seed.azure.roleAssignments!.find((assignment) => assignment.condition)!.condition!;
    assert.equal(squeeze(condition), delegationText([guid('Reader')]));
    assert.deepEqual(
      derived.needs.refusedRoles.map((role) => role.role),
      ['Owner', 'Our Custom Deployer'],
    );
    assert.match(derived.needs.refusedRoles[0]!.reason, /privileged/);
    assert.match(derived.needs.refusedRoles[1]!.reason, /custom role must exist.*MIC303/);
  });
});
