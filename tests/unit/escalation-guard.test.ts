// The escalation guard: a role that can write a federated credential onto (or otherwise become) a user-assigned
// identity hands its connections every right of the identities it reaches — the bootstrap identity's above all.
// This suite protects: which roles count (built-in and custom, through wildcards and notActions); which scopes
// expose what (the bootstrap identity, every spec identity, identity resource groups, also from inside them);
// the refusal (MIC310, nothing planned for that role) unless allowPrivilegedRoles (then MIC313 and the
// shared-group warning MIC312); the bootstrap identity that could not be located (MIC311, spec identities
// still protected); and observe looking the bootstrap identity up only when a risky role exists.
import * as assert from 'node:assert/strict';
import { parseTaskConfig } from '../../tasks/ManagedIdentityConnections/src/config';
import { exposedByScope, identityTakeoverAllowed } from '../../tasks/ManagedIdentityConnections/src/core/guardrails';
import { roleKey, type BootstrapIdentityLookup, type DesiredState, type Plan } from '../../tasks/ManagedIdentityConnections/src/core/model';
import { observe } from '../../tasks/ManagedIdentityConnections/src/core/observe';
import { plan } from '../../tasks/ManagedIdentityConnections/src/core/plan';
import { isTaskError, TaskError } from '../../tasks/ManagedIdentityConnections/src/errors';
import { createFakeWorld } from '../fakes/fake-world';
import { pipelineFacts, planInputs } from './builders/task-facts';
import { build, definition, desired, devSubscription, emptyWorld, environment, prodSubscription, role, roles } from './builders/plan-builders';

const bootstrapId = `/subscriptions/${devSubscription}/resourceGroups/rg-bootstrap/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-bootstrap`;
const found: BootstrapIdentityLookup = { status: 'found', resourceId: bootstrapId, name: 'id-bootstrap', source: 'test' };
const ficWriter = definition('FIC Writer', '0f1c0000-0000-4000-8000-000000000001', ['Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/write'], [], 'CustomRole');
const miOperator = definition('Managed Identity Operator', 'f1a07417-d97a-45cb-824c-7a7467783830', ['Microsoft.ManagedIdentity/userAssignedIdentities/*/read', 'Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action']);

function planWith(state: DesiredState, bootstrap?: BootstrapIdentityLookup, extraRoles: typeof ficWriter[] = []): Plan {
  const world = emptyWorld(state);
  for (const item of state.environments.flatMap((environment) => environment.roles)) {
    const custom = extraRoles.find((candidate) => candidate.roleName === item.role);
    if (custom) world.roleDefinitions.set(roleKey(item.scope.split('/')[2]!, item.role), custom);
  }
  return plan(state, { ...build(world), ...(bootstrap ? { bootstrapIdentity: bootstrap } : {}) });
}

function codes(result: Plan): string[] {
  return result.environments.flatMap((item) => item.findings.map((finding) => `${finding.severity}:${finding.code}`));
}

function message(result: Plan, code: string): string {
  const finding = result.environments.flatMap((item) => item.findings).find((item) => item.code === code);
  assert.ok(finding, `no ${code} in ${JSON.stringify(codes(result))}`);
  return finding.message;
}

describe('escalation guard', () => {
  describe('which roles can take over an identity', () => {
    const cases: [string, ReturnType<typeof definition>, boolean][] = [
      ['Contributor (* minus Microsoft.Authorization writes)', roles.contributor!, true],
      ['Reader', roles.reader!, false],
      ['a custom role writing only federated credentials', ficWriter, true],
      ['Managed Identity Operator (assign/action)', miOperator, true],
      ['a custom */write', definition('w', '0f1c0000-0000-4000-8000-000000000002', ['*/write']), true],
      ['* with Microsoft.ManagedIdentity/* carved out', definition('x', '0f1c0000-0000-4000-8000-000000000003', ['*'], ['Microsoft.ManagedIdentity/*']), false],
      ['Microsoft.ManagedIdentity/*/read', definition('y', '0f1c0000-0000-4000-8000-000000000004', ['Microsoft.ManagedIdentity/*/read']), false],
    ];
    for (const [label, role, risky] of cases) {
      it(`${risky ? 'flags' : 'accepts'} ${label}`, () => assert.equal(identityTakeoverAllowed(role).length > 0, risky));
    }
  });

  describe('which scopes expose what', () => {
    const protectedScopes = [
      { scope: bootstrapId, label: 'bootstrap', resourceGroup: false },
      { scope: `/subscriptions/${devSubscription}/resourceGroups/rg-identities`, label: 'group', resourceGroup: true },
    ];
    it('a subscription exposes everything in it; another subscription nothing', () => {
      assert.deepEqual(exposedByScope(`/subscriptions/${devSubscription}`, protectedScopes).map((item) => item.label), ['bootstrap', 'group']);
      assert.deepEqual(exposedByScope(`/subscriptions/${prodSubscription}`, protectedScopes), []);
    });
    it('a resource inside an identity group is exposed too (it may be an identity); a sibling group is not', () => {
      assert.deepEqual(exposedByScope(`/subscriptions/${devSubscription}/resourceGroups/RG-IDENTITIES/providers/Microsoft.ManagedIdentity/userAssignedIdentities/other`, protectedScopes).map((item) => item.label), ['group']);
      assert.deepEqual(exposedByScope(`/subscriptions/${devSubscription}/resourceGroups/rg-identities-2`, protectedScopes), []);
    });
  });

  describe('plan', () => {
    const subscriptionContributor = environment('dev', { roles: [role('Contributor', `/subscriptions/${devSubscription}`)] });

    it('refuses Contributor on a subscription holding the bootstrap identity and the identity group: MIC310, no assignment planned', () => {
      const result = planWith(desired([subscriptionContributor]), found);
      assert.deepEqual(codes(result), ['error:MIC310']);
      const text = message(result, 'MIC310');
      assert.match(text, /federatedIdentityCredentials\/write/);
      assert.match(text, /the bootstrap identity id-bootstrap/);
      assert.match(text, /identity resource group rg-identities/);
      assert.equal(result.environments[0]!.actions.some((action) => action.kind === 'assignRole'), false);
      assert.equal(result.environments[0]!.findings[0]!.field, 'roles.Contributor.scope');
    });

    it('refuses a custom role that writes only federated credentials, on the bootstrap identity alone', () => {
      const state = desired([environment('dev', { roles: [role('FIC Writer', `/subscriptions/${devSubscription}/resourceGroups/rg-bootstrap`)] })]);
      const text = message(planWith(state, found, [ficWriter]), 'MIC310');
      assert.match(text, /the bootstrap identity id-bootstrap/);
      assert.doesNotMatch(text, /rg-identities/);
    });

    it('protects the identities of every spec environment, also those only leaves out', () => {
      const prodIdentityGroup = `/subscriptions/${prodSubscription}/resourceGroups/rg-prod-identities`;
      const state: DesiredState = {
        ...desired([environment('dev', { roles: [role('Contributor', prodIdentityGroup)] })]),
        specIdentities: [
          { environment: 'dev', ref: { subscriptionId: devSubscription, resourceGroup: 'rg-identities', name: 'id-ado-dev' } },
          { environment: 'prod', ref: { subscriptionId: prodSubscription, resourceGroup: 'rg-prod-identities', name: 'id-ado-prod' } },
        ],
      };
      assert.match(message(planWith(state, found), 'MIC310'), /identity id-ado-prod \(environment prod\)/);
    });

    it('lets Contributor on an application resource group through, and Reader on the subscription', () => {
      const state = desired([environment('dev', { roles: [role('Contributor', `/subscriptions/${devSubscription}/resourceGroups/rg-app-dev`), role('Reader', `/subscriptions/${devSubscription}`)] })]);
      const result = planWith(state, found);
      assert.deepEqual(codes(result), []);
      assert.equal(result.environments[0]!.actions.filter((action) => action.kind === 'assignRole').length, 2);
    });

    it('with allowPrivilegedRoles: plans the grant, warns MIC313, and MIC312 when environments share the exposed identity group', () => {
      const state = desired([subscriptionContributor, environment('prod')], { allowPrivilegedRoles: true });
      const result = planWith(state, found);
      assert.deepEqual(codes(result), ['warning:MIC313', 'warning:MIC312']);
      assert.match(message(result, 'MIC312'), /environments dev, prod share identity resource group rg-identities/);
      assert.equal(result.environments[0]!.actions.some((action) => action.kind === 'assignRole'), true);
    });

    it('bootstrap identity not located: still refuses on spec identity groups; elsewhere warns MIC311 saying what it could not check', () => {
      const unknown: BootstrapIdentityLookup = { status: 'unknown', reason: 'listing the identities of subscription x failed' };
      assert.deepEqual(codes(planWith(desired([subscriptionContributor]), unknown)), ['error:MIC310']);
      const elsewhere = desired([environment('dev', { roles: [role('Contributor', `/subscriptions/${prodSubscription}`)] })]);
      const result = planWith(elsewhere, unknown);
      assert.deepEqual(codes(result), ['warning:MIC311', 'warning:MIC507']);
      assert.match(message(result, 'MIC311'), /could not be checked \(listing the identities of subscription x failed\)/);
    });

    it('bootstrap identity provably elsewhere: no warning', () => {
      const elsewhere = desired([environment('dev', { roles: [role('Contributor', `/subscriptions/${prodSubscription}`)] })]);
      assert.deepEqual(codes(planWith(elsewhere, { status: 'absent', reason: 'none' })), ['warning:MIC507']);
    });
  });

  describe('observe', () => {
    const risky = desired([environment('dev', { roles: [role('Contributor', `/subscriptions/${devSubscription}`)] })]);
    const hint = { clientId: 'c0ffee00-0000-4000-8000-000000000001' };

    it('does not look the bootstrap identity up for an ordinary spec', async () => {
      const fake = createFakeWorld();
      const ordinary = desired([environment('dev', { roles: [role('Reader', `/subscriptions/${devSubscription}`)] })]);
      const observed = await observe(ordinary, fake.ports, { concurrency: 4, bootstrapIdentity: hint });
      assert.equal(observed.bootstrapIdentity, undefined);
      assert.equal(fake.log.methods().filter((method) => method === 'listIdentitiesInSubscription').length, 0);
    });

    it('finds it by client id in the subscriptions risky roles name', async () => {
      const fake = createFakeWorld();
      const seeded = fake.azure.seedIdentity({ subscriptionId: devSubscription, resourceGroup: 'rg-bootstrap', name: 'id-bootstrap' }, { location: 'westeurope' });
      const observed = await observe(risky, fake.ports, { concurrency: 4, bootstrapIdentity: { clientId: seeded.clientId } });
      assert.deepEqual(observed.bootstrapIdentity, { status: 'found', resourceId: seeded.id, name: 'id-bootstrap', source: `found by the bootstrap connection's client id ${seeded.clientId}` });
      assert.deepEqual(fake.log.writes(), []);
    });

    it('uses the input when given (no list), and says unknown when a list is refused', async () => {
      const given = createFakeWorld();
      const observed = await observe(risky, given.ports, { concurrency: 4, bootstrapIdentity: { ...hint, resourceId: bootstrapId } });
      assert.equal(observed.bootstrapIdentity?.status, 'found');
      assert.equal(given.log.methods().filter((method) => method === 'listIdentitiesInSubscription').length, 0);

      const refused = createFakeWorld();
      refused.log.failOn('listIdentitiesInSubscription', () => new TaskError('MIC304', 'AuthorizationFailed: no read'));
      const lookup = (await observe(risky, refused.ports, { concurrency: 4, bootstrapIdentity: hint })).bootstrapIdentity;
      assert.equal(lookup?.status, 'unknown');
      assert.match(lookup.status === 'unknown' ? lookup.reason : '', /AuthorizationFailed: no read/);
    });

    it('says absent when no identity of the subscriptions has that client id', async () => {
      const fake = createFakeWorld();
      assert.equal((await observe(risky, fake.ports, { concurrency: 4, bootstrapIdentity: hint })).bootstrapIdentity?.status, 'absent');
    });
  });

  describe('the bootstrapIdentityResourceId input', () => {
    const inputs = planInputs;
    const facts = pipelineFacts();

    it('is carried into the bootstrap settings when it is an identity resource id', () => {
      assert.equal(parseTaskConfig({ ...inputs, bootstrapIdentityResourceId: bootstrapId }, facts).bootstrap.identityResourceId, bootstrapId);
      assert.equal(parseTaskConfig(inputs, facts).bootstrap.identityResourceId, undefined);
    });

    it('is refused with MIC102 naming it when it is not one', () => {
      try {
        parseTaskConfig({ ...inputs, bootstrapIdentityResourceId: `/subscriptions/${devSubscription}/resourceGroups/rg-bootstrap` }, facts);
        assert.fail('expected a refusal');
      } catch (error) {
        assert.ok(isTaskError(error));
        assert.equal(error.code, 'MIC102');
        assert.equal(error.field, 'bootstrapIdentityResourceId');
      }
    });
  });
});
