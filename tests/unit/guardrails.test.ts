// The after-observation guardrail decides whether a role can change authorization itself. It must see through
// wildcards (`*`, `Microsoft.Authorization/*`, `*/write`) and honour notActions (Contributor is `*` minus
// Microsoft.Authorization writes), or it either lets Owner-like custom roles through or refuses Contributor.
import * as assert from 'node:assert/strict';
import { authorizationWritesAllowed, operationMatches, wellKnownPrivilegedRole } from '../../tasks/ManagedIdentityConnections/src/core/guardrails';
import { definition, roles } from './builders/plan-builders';

describe('guardrails', () => {
  const cases: [string, string[], string[], boolean][] = [
    ['Owner (*)', ['*'], [], true],
    ['User Access Administrator (Microsoft.Authorization/*)', ['*/read', 'Microsoft.Authorization/*'], [], true],
    ['RBAC Administrator (roleAssignments/write)', ['Microsoft.Authorization/roleAssignments/write', '*/read'], [], true],
    ['a custom role with */write', ['*/write'], [], true],
    ['a custom role with lowercase microsoft.authorization/roleassignments/*', ['microsoft.authorization/roleassignments/*'], [], true],
    ['Contributor (* minus Microsoft.Authorization writes)', roles.contributor!.permissions[0]!.actions as string[], roles.contributor!.permissions[0]!.notActions as string[], false],
    ['Reader (*/read)', ['*/read'], [], false],
    ['a role reading role assignments only', ['Microsoft.Authorization/roleAssignments/read'], [], false],
    ['* with Microsoft.Authorization/* excluded', ['*'], ['Microsoft.Authorization/*'], false],
  ];
  for (const [label, actions, notActions, privileged] of cases) {
    it(`${privileged ? 'flags' : 'accepts'} ${label}`, () => {
      assert.equal(authorizationWritesAllowed(definition('r', '00000000-0000-4000-8000-000000000000', actions, notActions)).length > 0, privileged);
    });
  }

  it('lists what the role could do, for the message', () => {
    assert.deepEqual(authorizationWritesAllowed(definition('r', '00000000-0000-4000-8000-000000000000', ['Microsoft.Authorization/locks/*'])), ['Microsoft.Authorization/locks/write']);
  });

  it('matches ARM action patterns literally apart from *', () => {
    assert.equal(operationMatches('Microsoft.Authorization/role.ssignments/write', 'Microsoft.Authorization/roleAssignments/write'), false);
    assert.equal(operationMatches('*/write', 'Microsoft.Authorization/roleAssignments/write'), true);
  });

  it('knows the well-known privileged roles by name or GUID, ignoring case', () => {
    assert.equal(wellKnownPrivilegedRole('OWNER')?.name, 'Owner');
    assert.equal(wellKnownPrivilegedRole('F58310D9-A9F6-439A-9E8D-F62E7B41A168')?.name, 'Role Based Access Control Administrator');
    assert.equal(wellKnownPrivilegedRole('Contributor'), undefined);
  });
});
