// Protects the path the pipeline task takes, with the real, unmodified SDK clients over HTTPS: the
// bootstrap identity signs in through ClientAssertionCredential and, under its seeded RBAC (Managed
// Identity Contributor on the identity resource group, a conditioned RBAC Administrator on the
// subscriptions), creates, reads, lists and deletes an identity, its federated credentials and its role
// assignments; the new identity then signs in itself and can do what its role allows, and no more.
import assert from 'node:assert/strict';
import type { RunningEmulator } from '../emulator';
import { startTestEmulator } from '../../helpers/emulator';
import { BOOTSTRAP_IDENTITY, DEV_SUBSCRIPTION, IDENTITY_RESOURCE_GROUP, PROD_SUBSCRIPTION } from './default-world';
import {
  authorizationClient,
  bootstrapCredential,
  bootstrapToken,
  credentialFor,
  expectRestError,
  FIC_AUDIENCE,
  msiClient,
  raw,
  ROLE,
  testIssuer,
} from './test-support';

const devGroup = (name: string) => `/subscriptions/${DEV_SUBSCRIPTION.id}/resourceGroups/${name}`;

async function collect<T>(pages: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of pages) items.push(item);
  return items;
}

describe('emulator: the real Azure SDK clients, as the bootstrap identity', () => {
  let emulator: RunningEmulator;

  before(async () => {
    emulator = await startTestEmulator();
  });

  after(async () => {
    await emulator.close();
  });

  beforeEach(async () => {
    await emulator.reset();
  });

  it('sees both subscriptions, through its conditioned RBAC Administrator assignments', async () => {
    const { status, body } = await raw(emulator, 'GET', '/subscriptions?api-version=2022-12-01', { token: await bootstrapToken(emulator) });
    assert.equal(status, 200);
    assert.deepEqual(body.value.map((subscription: { subscriptionId: string }) => subscription.subscriptionId).sort(), [DEV_SUBSCRIPTION.id, PROD_SUBSCRIPTION.id]);
  });

  it('creates, reads, updates, lists and deletes an identity in the identity resource group', async () => {
    const msi = msiClient(emulator, bootstrapCredential(emulator), DEV_SUBSCRIPTION.id);
    const created = await msi.userAssignedIdentities.createOrUpdate(IDENTITY_RESOURCE_GROUP, 'id-app-dev', { location: 'westeurope', tags: { env: 'dev' } });
    assert.equal(created.id, `/subscriptions/${DEV_SUBSCRIPTION.id}/resourcegroups/${IDENTITY_RESOURCE_GROUP}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-app-dev`);
    assert.match(created.clientId!, /^[0-9a-f-]{36}$/);
    assert.match(created.principalId!, /^[0-9a-f-]{36}$/);
    assert.notEqual(created.clientId, created.principalId);

    const read = await msi.userAssignedIdentities.get(IDENTITY_RESOURCE_GROUP, 'ID-APP-DEV');
    assert.equal(read.clientId, created.clientId);
    const updated = await msi.userAssignedIdentities.update(IDENTITY_RESOURCE_GROUP, 'id-app-dev', { tags: { env: 'dev', owner: 'team' } });
    assert.deepEqual(updated.tags, { env: 'dev', owner: 'team' });

    const inGroup = await collect(msi.userAssignedIdentities.listByResourceGroup(IDENTITY_RESOURCE_GROUP));
    assert.deepEqual(inGroup.map((identity) => identity.name), ['id-app-dev']);
    const inSubscription = await collect(msi.userAssignedIdentities.listBySubscription());
    assert.deepEqual(inSubscription.map((identity) => identity.name).sort(), ['id-app-dev', BOOTSTRAP_IDENTITY.name]);

    await msi.userAssignedIdentities.delete(IDENTITY_RESOURCE_GROUP, 'id-app-dev');
    await expectRestError(msi.userAssignedIdentities.get(IDENTITY_RESOURCE_GROUP, 'id-app-dev'), { statusCode: 404, code: 'ResourceNotFound' });
  });

  it('may not create identities outside the identity resource group', async () => {
    const msi = msiClient(emulator, bootstrapCredential(emulator), DEV_SUBSCRIPTION.id);
    await expectRestError(msi.userAssignedIdentities.createOrUpdate('rg-app-dev', 'id-elsewhere', { location: 'westeurope' }), {
      statusCode: 403,
      code: 'AuthorizationFailed',
      message: /Microsoft\.ManagedIdentity\/userAssignedIdentities\/write/,
    });
  });

  it('writes, reads, pages through and deletes federated credentials', async () => {
    const msi = msiClient(emulator, bootstrapCredential(emulator), DEV_SUBSCRIPTION.id);
    await msi.userAssignedIdentities.createOrUpdate(IDENTITY_RESOURCE_GROUP, 'id-app-dev', { location: 'westeurope' });
    for (const name of ['deploy-dev', 'deploy-test']) {
      const credential = await msi.federatedIdentityCredentials.createOrUpdate(IDENTITY_RESOURCE_GROUP, 'id-app-dev', name, {
        issuer: testIssuer(emulator),
        subject: name,
        audiences: [FIC_AUDIENCE],
      });
      assert.equal(credential.subject, name);
    }
    const one = await msi.federatedIdentityCredentials.get(IDENTITY_RESOURCE_GROUP, 'id-app-dev', 'deploy-test');
    assert.deepEqual(one.audiences, [FIC_AUDIENCE]);
    // One per page: the pager must follow nextLink to see both.
    const listed = await collect(msi.federatedIdentityCredentials.list(IDENTITY_RESOURCE_GROUP, 'id-app-dev', { top: 1 }));
    assert.deepEqual(listed.map((credential) => credential.name), ['deploy-dev', 'deploy-test']);

    await msi.federatedIdentityCredentials.delete(IDENTITY_RESOURCE_GROUP, 'id-app-dev', 'deploy-dev');
    await expectRestError(msi.federatedIdentityCredentials.get(IDENTITY_RESOURCE_GROUP, 'id-app-dev', 'deploy-dev'), { statusCode: 404, code: 'ResourceNotFound' });
  });

  it('assigns a delegable role to the new identity, finds it by scope, principal and id, and deletes it', async () => {
    const credential = bootstrapCredential(emulator);
    const msi = msiClient(emulator, credential, DEV_SUBSCRIPTION.id);
    const authorization = authorizationClient(emulator, credential, DEV_SUBSCRIPTION.id);
    const identity = await msi.userAssignedIdentities.createOrUpdate(IDENTITY_RESOURCE_GROUP, 'id-app-dev', { location: 'westeurope' });
    const scope = devGroup('rg-app-dev');

    const assignment = await authorization.roleAssignments.create(scope, 'a3b1c2d4-0000-4000-8000-000000000001', {
      roleDefinitionId: `/subscriptions/${DEV_SUBSCRIPTION.id}/providers/Microsoft.Authorization/roleDefinitions/${ROLE.contributor}`,
      principalId: identity.principalId!,
      principalType: 'ServicePrincipal',
    });
    assert.equal(assignment.id, `${scope}/providers/Microsoft.Authorization/roleAssignments/a3b1c2d4-0000-4000-8000-000000000001`);
    assert.equal(assignment.scope, scope);
    assert.equal(assignment.createdBy, BOOTSTRAP_IDENTITY.principalId);
    assert.match(String(assignment.roleDefinitionId), new RegExp(`${ROLE.contributor}$`));

    const fetched = await authorization.roleAssignments.get(scope, 'a3b1c2d4-0000-4000-8000-000000000001');
    assert.equal(fetched.principalId, identity.principalId);
    const byId = await authorization.roleAssignments.getById(assignment.id!);
    assert.equal(byId.name, assignment.name);

    const forPrincipal = await collect(authorization.roleAssignments.listForSubscription({ filter: `principalId eq '${identity.principalId}'` }));
    assert.deepEqual(forPrincipal.map((found) => found.name), [assignment.name]);
    const atScope = await collect(authorization.roleAssignments.listForScope(scope, { filter: 'atScope()' }));
    assert.ok(atScope.some((found) => found.name === assignment.name));
    assert.ok(atScope.some((found) => found.principalId === BOOTSTRAP_IDENTITY.principalId), 'the subscription-level assignment is above the scope');
    const inGroup = await collect(authorization.roleAssignments.listForResourceGroup('rg-app-dev'));
    assert.ok(inGroup.some((found) => found.name === assignment.name));

    await authorization.roleAssignments.deleteById(assignment.id!);
    await expectRestError(authorization.roleAssignments.get(scope, assignment.name!), { statusCode: 404, code: 'RoleAssignmentNotFound' });
  });

  it('finds role definitions by name and type, and by id', async () => {
    const authorization = authorizationClient(emulator, bootstrapCredential(emulator), DEV_SUBSCRIPTION.id);
    const scope = `/subscriptions/${DEV_SUBSCRIPTION.id}`;
    const [contributor, ...others] = await collect(authorization.roleDefinitions.list(scope, { filter: "roleName eq 'Contributor'" }));
    assert.equal(others.length, 0);
    assert.equal(contributor.name, ROLE.contributor);
    assert.equal(contributor.roleType, 'BuiltInRole');
    assert.ok(contributor.permissions?.[0].notActions?.includes('Microsoft.Authorization/*/Write'));
    const builtIn = await collect(authorization.roleDefinitions.list(scope, { filter: "type eq 'BuiltInRole'" }));
    assert.ok(builtIn.length >= 7);
    const byId = await authorization.roleDefinitions.getById(contributor.id!);
    assert.equal(byId.roleName, 'Contributor');
  });

  it('lets the new identity sign in through its credential and act within its role only', async () => {
    const bootstrap = bootstrapCredential(emulator);
    const msi = msiClient(emulator, bootstrap, DEV_SUBSCRIPTION.id);
    const identity = await msi.userAssignedIdentities.createOrUpdate(IDENTITY_RESOURCE_GROUP, 'id-app-dev', { location: 'westeurope' });
    await msi.federatedIdentityCredentials.createOrUpdate(IDENTITY_RESOURCE_GROUP, 'id-app-dev', 'pipeline', { issuer: testIssuer(emulator), subject: 'app-dev', audiences: [FIC_AUDIENCE] });
    await authorizationClient(emulator, bootstrap, DEV_SUBSCRIPTION.id).roleAssignments.create(devGroup('rg-app-dev'), 'a3b1c2d4-0000-4000-8000-000000000002', {
      roleDefinitionId: `/providers/Microsoft.Authorization/roleDefinitions/${ROLE.contributor}`,
      principalId: identity.principalId!,
      principalType: 'ServicePrincipal',
    });

    const appMsi = msiClient(emulator, credentialFor(emulator, identity.clientId!, { subject: 'app-dev' }), DEV_SUBSCRIPTION.id);
    const made = await appMsi.userAssignedIdentities.createOrUpdate('rg-app-dev', 'id-made-by-app', { location: 'westeurope' });
    assert.equal(made.name, 'id-made-by-app');
    await expectRestError(appMsi.userAssignedIdentities.createOrUpdate(IDENTITY_RESOURCE_GROUP, 'id-not-allowed', { location: 'westeurope' }), { statusCode: 403, code: 'AuthorizationFailed' });
    const appAuthorization = authorizationClient(emulator, credentialFor(emulator, identity.clientId!, { subject: 'app-dev' }), DEV_SUBSCRIPTION.id);
    await expectRestError(
      appAuthorization.roleAssignments.create(devGroup('rg-app-dev'), 'a3b1c2d4-0000-4000-8000-000000000003', {
        roleDefinitionId: `/providers/Microsoft.Authorization/roleDefinitions/${ROLE.reader}`,
        principalId: identity.principalId!,
        principalType: 'ServicePrincipal',
      }),
      { statusCode: 403, code: 'AuthorizationFailed', message: /Microsoft\.Authorization\/roleAssignments\/write/ },
    );
  });
});
