// Protects the ABAC condition language the emulator enforces on role assignments: the delegation
// condition Azure documents must allow exactly the non-privileged roles for service principals, in any
// of its equivalent spellings (AND/&&, OR/||, NOT/!, extra parentheses, single-value operators), and a
// condition that does not parse must be refused rather than silently read as "allow".
import assert from 'node:assert/strict';
import { ConditionSyntaxError, evaluateCondition, parseCondition, type ConditionContext } from './abac-condition';
import { delegationCondition } from './default-world';
import { actionMatches, roleAllows } from './rbac';
import { roleByName } from './role-definitions';

const CONTRIBUTOR = 'b24988ac-6180-42a0-ab88-20f7382dd24c';
const READER = 'acdd72a7-3385-48ef-bd42-f606fba81ae7';
const OWNER = '8e3af657-a8ff-443c-a75c-2fe8c4bcb635';
const WRITE = 'Microsoft.Authorization/roleAssignments/write';
const DELETE = 'Microsoft.Authorization/roleAssignments/delete';

function attributes(roleDefinitionId: string, principalType: string) {
  return {
    'Microsoft.Authorization/roleAssignments:RoleDefinitionId': [roleDefinitionId],
    'Microsoft.Authorization/roleAssignments:PrincipalType': [principalType],
  };
}

function writeOf(roleDefinitionId: string, principalType: string): ConditionContext {
  return { action: WRITE, attributes: { Request: attributes(roleDefinitionId, principalType) } };
}

function deleteOf(roleDefinitionId: string, principalType: string): ConditionContext {
  return { action: DELETE, attributes: { Resource: attributes(roleDefinitionId, principalType) } };
}

describe('ABAC conditions', () => {
  describe('the delegation condition', () => {
    const condition = parseCondition(delegationCondition([CONTRIBUTOR, READER]));

    it('allows writing and deleting listed roles for service principals', () => {
      assert.equal(evaluateCondition(condition, writeOf(CONTRIBUTOR, 'ServicePrincipal')), true);
      assert.equal(evaluateCondition(condition, writeOf(READER.toUpperCase(), 'servicePRINCIPAL')), true);
      assert.equal(evaluateCondition(condition, deleteOf(READER, 'ServicePrincipal')), true);
    });

    it('refuses roles outside the list, and users or groups', () => {
      assert.equal(evaluateCondition(condition, writeOf(OWNER, 'ServicePrincipal')), false);
      assert.equal(evaluateCondition(condition, writeOf(CONTRIBUTOR, 'User')), false);
      assert.equal(evaluateCondition(condition, deleteOf(CONTRIBUTOR, 'Group')), false);
    });

    it('refuses a write whose request lacks an attribute it tests', () => {
      const context: ConditionContext = { action: WRITE, attributes: { Request: { 'Microsoft.Authorization/roleAssignments:RoleDefinitionId': [CONTRIBUTOR] } } };
      assert.equal(evaluateCondition(condition, context), false);
    });

    it('does not constrain other actions, such as reads', () => {
      assert.equal(evaluateCondition(condition, { action: 'Microsoft.Resources/subscriptions/resourceGroups/read', attributes: {} }), true);
    });
  });

  it('reads the spelling Azure publishes for built-in roles (single-value operator, nested parentheses)', () => {
    const text =
      "((!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})) OR ((@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {c12c1c16-33a1-487b-954d-41c89c60f349, 69566ab7-960f-475b-8e7c-b3118f30c6bd}) AND (@Request[Microsoft.Authorization/roleAssignments:PrincipalType] StringEqualsIgnoreCase 'ServicePrincipal')))";
    const condition = parseCondition(text);
    assert.equal(evaluateCondition(condition, writeOf('69566ab7-960f-475b-8e7c-b3118f30c6bd', 'ServicePrincipal')), true);
    assert.equal(evaluateCondition(condition, writeOf(CONTRIBUTOR, 'ServicePrincipal')), false);
  });

  it('treats &&, || and ! like AND, OR and NOT, with AND binding tighter than OR', () => {
    const context = writeOf(CONTRIBUTOR, 'User');
    const isUser = "@Request[Microsoft.Authorization/roleAssignments:PrincipalType] StringEquals 'User'";
    const isOwner = `@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] GuidEquals ${OWNER}`;
    assert.equal(evaluateCondition(parseCondition(`${isUser} || ${isOwner} && ${isOwner}`), context), true);
    assert.equal(evaluateCondition(parseCondition(`(${isUser} OR ${isOwner}) AND ${isOwner}`), context), false);
    assert.equal(evaluateCondition(parseCondition(`!(${isOwner})`), context), true);
    assert.equal(evaluateCondition(parseCondition(`NOT ${isUser}`), context), false);
  });

  it('supports the other cross-product quantifiers over multi-valued attributes', () => {
    const context: ConditionContext = { action: WRITE, attributes: { Request: { tags: ['a', 'b'] } } };
    assert.equal(evaluateCondition(parseCondition("@Request[tags] ForAllOfAnyValues:StringEquals {'a', 'b', 'c'}"), context), true);
    assert.equal(evaluateCondition(parseCondition("@Request[tags] ForAllOfAnyValues:StringEquals {'a'}"), context), false);
    assert.equal(evaluateCondition(parseCondition("@Request[tags] ForAnyOfAllValues:StringNotEquals {'a', 'c'}"), context), true);
    assert.equal(evaluateCondition(parseCondition("@Request[tags] ForAllOfAllValues:StringStartsWith {''}"), context), true);
  });

  it('refuses conditions that do not parse, saying where', () => {
    const broken = [
      '',
      "(ActionMatches{'x'}",
      "ActionMatches{x}",
      '@Request[a] StringEquals',
      "@Request[a] NoSuchOperator 'x'",
      "@Request[a] StringEquals {'x', 'y'}",
      "@Somewhere[a] StringEquals 'x'",
      "@Request[a] StringEquals 'x' AND",
      "@Request[a] StringEquals 'x' 'y'",
      "@Request[a] StringEquals 'unterminated",
    ];
    for (const text of broken) assert.throws(() => parseCondition(text), ConditionSyntaxError, `should refuse: ${text}`);
    assert.throws(() => parseCondition("@Request[a] StringEquals 'x' OR OR"), /at character 33/);
  });

  describe('RBAC actions', () => {
    it('matches wildcards case-insensitively, and notActions take away what actions grant', () => {
      assert.equal(actionMatches('*/read', 'Microsoft.ManagedIdentity/userAssignedIdentities/read'), true);
      assert.equal(actionMatches('Microsoft.Authorization/*/Write', 'Microsoft.Authorization/roleAssignments/write'), true);
      assert.equal(actionMatches('Microsoft.ManagedIdentity/userAssignedIdentities/*/read', 'Microsoft.ManagedIdentity/userAssignedIdentities/read'), false);
      const contributor = roleByName('Contributor')!;
      assert.equal(roleAllows(contributor, 'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/write'), true);
      assert.equal(roleAllows(contributor, WRITE), false);
      assert.equal(roleAllows(roleByName('Role Based Access Control Administrator')!, WRITE), true);
      assert.equal(roleAllows(roleByName('Managed Identity Contributor')!, 'Microsoft.Resources/subscriptions/resourceGroups/write'), false);
    });
  });
});
