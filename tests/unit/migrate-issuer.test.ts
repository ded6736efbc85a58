// The pure half of migrate-issuer (src/core/migrate-issuer.ts): which steps a connection needs in each state a
// migration can be found in (before, after a stop at any step, done), in the order that keeps a credential the
// connection can sign in with at every moment, and what it leaves alone.
import * as assert from 'node:assert/strict';
import { entraCredentialName, planIssuerMigration, predictEntraPair, type MigrationCandidate, type MigrationSettings } from '../../tasks/ManagedIdentityConnections/src/core/migrate-issuer';
import { isLegacyIssuer, legacyIssuerOrganization } from '../../tasks/ManagedIdentityConnections/src/core/legacy-issuer';
import type { Action, FederatedCredential, Identity, ServiceConnection } from '../../tasks/ManagedIdentityConnections/src/core/model';

const tenantId = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const organizationId = '06b4c157-759b-4b4c-bb2a-303135a18867';
const connectionId = 'a59d7818-50d4-4a3b-ac19-fcab848eaf8b';
const legacy = { issuer: `https://vstoken.dev.azure.com/${organizationId}`, subject: 'sc://contoso/Platform/app-dev' };
// The Entra pair for these ids as Azure DevOps writes it (the 'a/' segment is the well-known encoding of its
// app id, the 't/' one the tenant's GUID bytes in Microsoft order).
const entra = {
  issuer: `https://login.microsoftonline.com/${tenantId}/v2.0`,
  subject: `/eid1/c/pub/t/v4j5cvGGr0GRqy180BHbRw/a/rISbSSETf0KqFyZ8ppdXmA/sc/${organizationId}/${connectionId}`,
};

const identity: Identity = {
  id: '/subscriptions/s/resourcegroups/rg-identities/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-ado-dev',
  name: 'id-ado-dev',
  clientId: '11111111-1111-4111-8111-111111111111',
  principalId: '22222222-2222-4222-8222-222222222222',
  tenantId,
  location: 'westeurope',
  tags: {},
};
const ref = { subscriptionId: 's', resourceGroup: 'rg-identities', name: 'id-ado-dev' };

function connection(pair: { issuer: string; subject: string }, issuerType: string): ServiceConnection {
  return {
    id: connectionId,
    name: 'app-dev',
    type: 'azurerm',
    url: 'https://management.azure.com/',
    description: '',
    authorizationScheme: 'WorkloadIdentityFederation',
    tenantId,
    clientId: identity.clientId,
    subscriptionId: 's',
    ...pair,
    issuerType,
    isReady: true,
    isDisabled: false,
    projectReferences: [{ id: 'p', name: 'Platform' }],
  };
}

function credential(name: string, pair: { issuer: string; subject: string }): FederatedCredential {
  return { name, ...pair, audiences: ['api://AzureADTokenExchange'] };
}

function candidate(pair: { issuer: string; subject: string }, credentials: FederatedCredential[], extra: Partial<MigrationCandidate> = {}): MigrationCandidate {
  return { unit: 'dev', connection: connection(pair, pair === legacy ? 'DevOps' : 'EntraID'), identity: { ref, observed: identity, credentials }, owned: true, ...extra };
}

const spec: MigrationSettings = { scope: 'spec', includeUnowned: false };

function steps(actions: readonly Action[]): string[] {
  return actions.map((action) => {
    const what = action.kind === 'createFederatedCredential' ? `${action.credentialName}=${'known' in action.issuer ? 'known' : 'read back'}` : action.kind === 'deleteFederatedCredential' ? action.credentialName : '';
    return `${action.kind}${what ? ` ${what}` : ''} ← [${action.dependsOn.map((id) => id.split(':').pop()).join(', ')}]`;
  });
}

describe('the legacy (Azure DevOps) issuer', () => {
  it('is recognised on both of its hosts, and nothing else is', () => {
    for (const issuer of [legacy.issuer, `https://VSTOKEN.dev.azure.com/${organizationId}/`, `https://app.vstoken.visualstudio.com/${organizationId}`, 'https://app.vstoken.visualstudio.com']) {
      assert.equal(isLegacyIssuer(issuer), true, issuer);
    }
    for (const issuer of [entra.issuer, `https://login.microsoftonline.us/${tenantId}/v2.0`, `https://example.com/vstoken.dev.azure.com/${organizationId}`, `https://vstoken.dev.azure.com.example.com/${organizationId}`, undefined]) {
      assert.equal(isLegacyIssuer(issuer), false, String(issuer));
    }
  });

  it('names its organization only when the path is one GUID', () => {
    assert.equal(legacyIssuerOrganization(`https://vstoken.dev.azure.com/${organizationId.toUpperCase()}`), organizationId);
    assert.equal(legacyIssuerOrganization(`https://app.vstoken.visualstudio.com/${organizationId}/`), organizationId);
    assert.equal(legacyIssuerOrganization('https://app.vstoken.visualstudio.com'), undefined);
    assert.equal(legacyIssuerOrganization(`https://vstoken.dev.azure.com/${organizationId}/extra`), undefined);
  });
});

describe('migrate-issuer plan', () => {
  it('predicts the Entra pair from the legacy issuer, the tenant and the connection id in the documented format', () => {
    assert.deepEqual(predictEntraPair(connection(legacy, 'DevOps')), entra);
    assert.equal(predictEntraPair(connection({ issuer: 'https://vstoken.dev.azure.com/not-a-guid', subject: legacy.subject }, 'DevOps')), undefined);
  });

  it('a legacy connection: add the Entra credential, switch, write the read-back pair, verify, then remove the legacy credential', () => {
    const { plan, rows } = planIssuerMigration([candidate(legacy, [credential('azdo-app-dev', legacy)])], spec);
    assert.deepEqual(steps(plan.environments[0]!.actions), [
      'createFederatedCredential azdo-app-dev-entra=known ← []',
      'switchConnectionIssuer ← [add]',
      'createFederatedCredential azdo-app-dev-entra=read back ← [switch]',
      'testConnection ← [confirm]',
      'deleteFederatedCredential azdo-app-dev ← [verify]',
    ]);
    const add = plan.environments[0]!.actions[0]!;
    assert.ok(add.kind === 'createFederatedCredential' && 'known' in add.issuer && 'known' in add.subject);
    assert.deepEqual([add.issuer.known, add.subject.known], [entra.issuer, entra.subject]);
    assert.deepEqual([plan.changesPresent, plan.permissionsBroadened, plan.permissionsNarrowed], [true, true, true]);
    assert.equal(rows[0]!.verdict, 'migrate');
  });

  it('stopped after the Entra credential was added: the switch is next, nothing added twice', () => {
    const { plan } = planIssuerMigration([candidate(legacy, [credential('azdo-app-dev', legacy), credential('azdo-app-dev-entra', entra)])], spec);
    assert.deepEqual(steps(plan.environments[0]!.actions), [
      'switchConnectionIssuer ← []',
      'createFederatedCredential azdo-app-dev-entra=read back ← [switch]',
      'testConnection ← [confirm]',
      'deleteFederatedCredential azdo-app-dev ← [verify]',
    ]);
  });

  it('stopped after the switch: verify, then remove the legacy credential; a connection without its credential gets it from the pair it reports', () => {
    const finishing = planIssuerMigration([candidate(entra, [credential('azdo-app-dev', legacy), credential('azdo-app-dev-entra', entra)])], spec);
    assert.deepEqual(steps(finishing.plan.environments[0]!.actions), ['testConnection ← []', 'deleteFederatedCredential azdo-app-dev ← [verify]']);
    assert.equal(finishing.rows[0]!.verdict, 'finish');
    const moved = planIssuerMigration([candidate(entra, [credential('azdo-app-dev', legacy)])], spec);
    assert.deepEqual(steps(moved.plan.environments[0]!.actions), ['createFederatedCredential azdo-app-dev-entra=known ← []', 'testConnection ← [confirm]', 'deleteFederatedCredential azdo-app-dev ← [verify]']);
  });

  it('done: no action, and the row says so', () => {
    const { plan, rows } = planIssuerMigration([candidate(entra, [credential('azdo-app-dev-entra', entra)])], spec);
    assert.deepEqual(plan.environments, []);
    assert.equal(plan.changesPresent, false);
    assert.deepEqual([rows[0]!.verdict, rows[0]!.reason], ['done', `already on ${entra.issuer}, trusted by credential azdo-app-dev-entra.`]);
  });

  it('a legacy credential without our name is kept (MIC533) unless unowned ones are allowed', () => {
    const kept = planIssuerMigration([candidate(legacy, [credential('by-hand', legacy)])], spec);
    assert.equal(kept.plan.environments[0]!.actions.some((action) => action.kind === 'deleteFederatedCredential'), false);
    assert.deepEqual(kept.plan.environments[0]!.findings.map((finding) => finding.code), ['MIC533']);
    const removed = planIssuerMigration([candidate(legacy, [credential('by-hand', legacy)])], { scope: 'project', includeUnowned: true });
    assert.equal(removed.plan.environments[0]!.actions.some((action) => action.kind === 'deleteFederatedCredential' && action.credentialName === 'by-hand'), true);
  });

  it('leaves alone a connection it does not own (project scope), and one without a managed identity behind it', () => {
    const unowned = candidate(legacy, [credential('azdo-app-dev', legacy)], { owned: false });
    const { plan, rows } = planIssuerMigration([unowned, { unit: 'other', connection: { ...connection(legacy, 'DevOps'), id: 'x', name: 'app-registration' }, owned: true }], { scope: 'project', includeUnowned: false });
    assert.deepEqual(plan.environments, []);
    assert.deepEqual(rows.map((row) => [row.connection, row.verdict, row.code]), [['app-dev', 'skipped', 'MIC533'], ['app-registration', 'skipped', 'MIC446']]);
    assert.match(rows[0]!.reason, /^not owned, left alone/);
    assert.match(rows[1]!.reason, /not a user-assigned managed identity/);
    assert.equal(planIssuerMigration([unowned], { scope: 'project', includeUnowned: true }).rows[0]!.verdict, 'migrate');
  });

  it('names the Entra credential after the connection, within the credential name rules', () => {
    assert.equal(entraCredentialName('app-dev'), 'azdo-app-dev-entra');
    assert.ok(entraCredentialName('x'.repeat(128)).length <= 120);
  });
});
