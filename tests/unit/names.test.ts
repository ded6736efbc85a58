// Derived names are contracts with what earlier runs created: a role assignment name or a federated credential
// name that changes between releases (or between two spellings of the same scope) makes the next run write a
// duplicate instead of finding its own. This suite pins the derivations to known values and to the rules ARM
// enforces on them.
import * as assert from 'node:assert/strict';
import { federatedCredentialName, federatedCredentialNamePattern, roleAssignmentName, variableNamePart } from '../../tasks/ManagedIdentityConnections/src/core/names';
import { isWithinScope, normalizeScope, parseScope } from '../../tasks/ManagedIdentityConnections/src/core/scopes';
import { uuidV5 } from '../../tasks/ManagedIdentityConnections/src/core/uuid-v5';

const scope = '/subscriptions/11111111-1111-4111-8111-111111111111/resourceGroups/rg-app-dev';
const contributor = 'b24988ac-6180-42a0-ab88-20f7382dd24c';
const principal = 'e1e1e1e1-0001-4000-8000-000000000001';

describe('uuidV5', () => {
  it('matches the RFC test vector (DNS namespace, www.example.com)', () => {
    assert.equal(uuidV5('www.example.com', '6ba7b810-9dad-11d1-80b4-00c04fd430c8'), '2ed6657d-e927-568b-95e1-2665a8aea6a2');
  });

  it('sets version 5 and the RFC variant', () => {
    assert.match(uuidV5('anything', '6ba7b810-9dad-11d1-80b4-00c04fd430c8'), /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});

describe('roleAssignmentName', () => {
  it('is the same on every run (pinned: changing it would duplicate every assignment ever made)', () => {
    assert.equal(roleAssignmentName(scope, contributor, principal), 'c340a9e2-25e3-5b60-a3b1-a164315ed24c');
  });

  it('ignores case and a trailing slash in the scope, and case in the GUIDs', () => {
    const expected = roleAssignmentName(scope, contributor, principal);
    assert.equal(roleAssignmentName(`${scope.toUpperCase()}/`, contributor.toUpperCase(), principal.toUpperCase()), expected);
    assert.equal(roleAssignmentName(scope.replace('resourceGroups', 'resourcegroups'), contributor, principal), expected);
  });

  it('differs for another scope, role or principal', () => {
    const base = roleAssignmentName(scope, contributor, principal);
    assert.notEqual(roleAssignmentName(`${scope}2`, contributor, principal), base);
    assert.notEqual(roleAssignmentName(scope, 'acdd72a7-3385-48ef-bd42-f606fba81ae7', principal), base);
    assert.notEqual(roleAssignmentName(scope, contributor, 'e1e1e1e1-0002-4000-8000-000000000001'), base);
  });
});

describe('federatedCredentialName', () => {
  it('is azdo- plus the connection name when that is a valid credential name', () => {
    assert.equal(federatedCredentialName('app-dev'), 'azdo-app-dev');
  });

  it('replaces characters a credential name cannot hold, and adds a hash so that names do not collide', () => {
    const spaced = federatedCredentialName('App (Dev) 1.0');
    assert.match(spaced, federatedCredentialNamePattern);
    assert.match(spaced, /^azdo-App-Dev-1-0-[0-9a-f]{8}$/);
    assert.notEqual(federatedCredentialName('app dev'), federatedCredentialName('app-dev'));
  });

  it('fits 120 characters for the longest connection name', () => {
    const name = federatedCredentialName(`a${' b'.repeat(63)}c`);
    assert.ok(name.length <= 120, `${name.length}`);
    assert.match(name, federatedCredentialNamePattern);
    assert.match(federatedCredentialName('x'.repeat(128)), federatedCredentialNamePattern);
  });

  it('gives the same hashed name for names that differ only in case (connection names ignore case)', () => {
    assert.equal(federatedCredentialName('App Dev').toLowerCase(), federatedCredentialName('app dev').toLowerCase());
  });
});

describe('variableNamePart', () => {
  it('keeps letters, digits and underscores, and maps the rest to _', () => {
    assert.equal(variableNamePart('app-dev (1).x'), 'app_dev__1__x');
  });
});

describe('scopes', () => {
  it('parses subscription and resource group out of any supported scope', () => {
    assert.deepEqual(parseScope(`${scope}/providers/Microsoft.Storage/storageAccounts/st`), { subscriptionId: '11111111-1111-4111-8111-111111111111', resourceGroup: 'rg-app-dev' });
    assert.deepEqual(parseScope('/subscriptions/11111111-1111-4111-8111-111111111111'), { subscriptionId: '11111111-1111-4111-8111-111111111111' });
    assert.equal(parseScope(`${scope}/`), undefined);
  });

  it('compares containment ignoring case, on whole segments', () => {
    assert.equal(isWithinScope(scope, '/SUBSCRIPTIONS/11111111-1111-4111-8111-111111111111'), true);
    assert.equal(isWithinScope(`${scope}-2`, scope), false);
    assert.equal(isWithinScope(`${scope}/providers/Microsoft.Web/sites/app`, `${scope}/`), true);
    assert.equal(isWithinScope(scope, `${scope}/providers`), false);
    assert.equal(isWithinScope(scope.toUpperCase(), scope), true);
    assert.equal(normalizeScope(`${scope}//`), scope.toLowerCase());
  });
});
