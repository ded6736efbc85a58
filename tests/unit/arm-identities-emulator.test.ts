// Listing a resource group's identities through the real ARM adapter (@azure/arm-msi) against the in-process
// emulator: every identity of the group comes back as a domain value, a group that does not exist is an empty
// list (as a missing identity is "not there", not an error), and identities of other groups stay out.
import * as assert from 'node:assert/strict';
import { ArmIdentityClient } from '../../tasks/ManagedIdentityConnections/src/adapters/arm-clients';
import { ServiceCalls } from '../../tasks/ManagedIdentityConnections/src/adapters/service-calls';
import { DEV_SUBSCRIPTION, IDENTITY_RESOURCE_GROUP } from '../emulator/azure/default-world';
import { ARM_SCOPE, bootstrapCredential } from '../emulator/azure/test-support';
import type { RunningEmulator } from '../emulator/emulator';
import { FakePlatform } from '../fakes/fake-platform';
import { startTestEmulator } from '../helpers/emulator';

describe('ARM adapter: the identities of a resource group, against the emulator', function () {
  this.timeout(30_000);
  let emulator: RunningEmulator;
  let client: ArmIdentityClient;

  before(async () => {
    emulator = await startTestEmulator();
    const calls = new ServiceCalls({ platform: new FakePlatform(), deadlineMs: 5_000, initialDelayMs: 50, maxDelayMs: 100 });
    client = new ArmIdentityClient({ endpoint: String(emulator.info.armEndpoint), resourceId: ARM_SCOPE.replace(/\/\.default$/, '/'), credential: bootstrapCredential(emulator), userAgent: 'test' }, calls);
  });
  after(() => emulator.close());

  it('lists every identity in the group, and no other', async () => {
    const names = ['id-list-a', 'id-list-b', 'id-list-c'];
    const created = await Promise.all(
      names.map((name) => client.createOrUpdateIdentity({ subscriptionId: DEV_SUBSCRIPTION.id, resourceGroup: IDENTITY_RESOURCE_GROUP, name }, { location: 'westeurope', tags: { team: name } })),
    );
    const listed = await client.listIdentities(DEV_SUBSCRIPTION.id, IDENTITY_RESOURCE_GROUP);
    for (const identity of created) {
      const found = listed.find((candidate) => candidate.name === identity.name);
      assert.deepEqual(found, identity);
    }
    assert.ok(listed.every((identity) => identity.id.toLowerCase().includes(`/resourcegroups/${IDENTITY_RESOURCE_GROUP}/`)));
  });

  it('answers an empty list for a resource group that does not exist', async () => {
    assert.deepEqual(await client.listIdentities(DEV_SUBSCRIPTION.id, 'rg-that-is-not-there'), []);
  });
});
