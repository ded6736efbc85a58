// Protects every rule ARM enforces in the emulator by the error a real client receives (RestError
// statusCode and code): federated-credential limits and concurrency, role-assignment conflicts and
// replication, RBAC and ABAC refusals, authentication failures, throttling, injected faults, and the
// headers every ARM answer carries. The task's retry and error handling is only as good as these.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { RunningEmulator } from '../emulator';
import { control, startTestEmulator } from '../../helpers/emulator';
import { ADMIN_USER, BOOTSTRAP_IDENTITY, DEFAULT_ROLE_ASSIGNMENT_NAMES, DEV_SUBSCRIPTION, IDENTITY_RESOURCE_GROUP, PROD_SUBSCRIPTION } from './default-world';
import {
  actor,
  armToken,
  authorizationClient,
  bootstrapCredential,
  bootstrapToken,
  credentialFor,
  expectRestError,
  FIC_AUDIENCE,
  mintAssertion,
  msiClient,
  raw,
  ROLE,
  setupCall,
  setupIdentity,
  testIssuer,
} from './test-support';

const devScope = `/subscriptions/${DEV_SUBSCRIPTION.id}`;
const devGroup = (name: string) => `${devScope}/resourceGroups/${name}`;
const roleId = (guid: string) => `/providers/Microsoft.Authorization/roleDefinitions/${guid}`;
const identityPath = (name: string) => `${devGroup(IDENTITY_RESOURCE_GROUP)}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${name}`;

describe('emulator: ARM rules, as real clients see them', () => {
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

  describe('federated identity credentials', () => {
    const credential = (subject: string, audiences = [FIC_AUDIENCE]) => ({ issuer: testIssuer(emulator), subject, audiences });

    it('refuses a name outside ^[a-zA-Z0-9][a-zA-Z0-9-_]{2,119}$', async () => {
      await setupIdentity(emulator, 'id-app');
      const msi = msiClient(emulator, bootstrapCredential(emulator), DEV_SUBSCRIPTION.id);
      for (const name of ['ab', '-starts-with-dash', 'has.dot', 'x'.repeat(121)]) {
        await expectRestError(msi.federatedIdentityCredentials.createOrUpdate(IDENTITY_RESOURCE_GROUP, 'id-app', name, credential(name)), {
          statusCode: 400,
          code: 'BadRequest',
          message: /Federated Identity Credential name .* is invalid/,
        });
      }
    });

    it('refuses a 21st credential on one identity', async () => {
      await setupIdentity(
        emulator,
        'id-app',
        Array.from({ length: 20 }, (_, i) => ({ name: `fic-${i}`, issuer: testIssuer(emulator), subject: `subject-${i}` })),
      );
      const msi = msiClient(emulator, bootstrapCredential(emulator), DEV_SUBSCRIPTION.id);
      await expectRestError(msi.federatedIdentityCredentials.createOrUpdate(IDENTITY_RESOURCE_GROUP, 'id-app', 'fic-20', credential('subject-20')), {
        statusCode: 400,
        code: 'BadRequest',
        message: /20 federated identity credentials/,
      });
      // Replacing one of the twenty is still allowed.
      await msi.federatedIdentityCredentials.createOrUpdate(IDENTITY_RESOURCE_GROUP, 'id-app', 'fic-0', credential('subject-0-renamed'));
    });

    it('wants exactly one audience', async () => {
      await setupIdentity(emulator, 'id-app');
      const msi = msiClient(emulator, bootstrapCredential(emulator), DEV_SUBSCRIPTION.id);
      for (const audiences of [[], [FIC_AUDIENCE, 'api://Other']]) {
        await expectRestError(msi.federatedIdentityCredentials.createOrUpdate(IDENTITY_RESOURCE_GROUP, 'id-app', 'fic-a', credential('s', audiences)), {
          statusCode: 400,
          code: 'BadRequest',
          message: /exactly one audience/,
        });
      }
    });

    it('refuses the same issuer and subject under another name, and answers an identical re-PUT with 200', async () => {
      await setupIdentity(emulator, 'id-app', [{ name: 'first', issuer: testIssuer(emulator), subject: 'deploy' }]);
      const msi = msiClient(emulator, bootstrapCredential(emulator), DEV_SUBSCRIPTION.id);
      await expectRestError(msi.federatedIdentityCredentials.createOrUpdate(IDENTITY_RESOURCE_GROUP, 'id-app', 'second', credential('deploy')), {
        statusCode: 400,
        code: 'BadRequest',
        message: /Issuer and subject combination already exists for this Managed Identity/,
      });
      let status = 0;
      await msi.federatedIdentityCredentials.createOrUpdate(IDENTITY_RESOURCE_GROUP, 'id-app', 'first', credential('deploy'), { onResponse: (response) => (status = response.status) });
      assert.equal(status, 200);
    });

    it('answers 404 ParentResourceNotFound under a missing identity', async () => {
      const msi = msiClient(emulator, bootstrapCredential(emulator), DEV_SUBSCRIPTION.id);
      await expectRestError(msi.federatedIdentityCredentials.createOrUpdate(IDENTITY_RESOURCE_GROUP, 'id-missing', 'fic', credential('s')), { statusCode: 404, code: 'ParentResourceNotFound' });
    });

    it('refuses concurrent writes on one identity with 409, but not sequential ones or ones on different identities', async () => {
      await control(emulator, 'POST', 'settings', { azure: { ficWriteMs: 150 } });
      await setupIdentity(emulator, 'id-one');
      await setupIdentity(emulator, 'id-two');
      const msi = msiClient(emulator, bootstrapCredential(emulator), DEV_SUBSCRIPTION.id);
      await msi.userAssignedIdentities.get(IDENTITY_RESOURCE_GROUP, 'id-one'); // sign in first, so the writes leave together

      const parallel = await Promise.allSettled(
        ['a', 'b', 'c'].map((name) => msi.federatedIdentityCredentials.createOrUpdate(IDENTITY_RESOURCE_GROUP, 'id-one', `fic-${name}`, credential(name))),
      );
      const refused = parallel.filter((outcome) => outcome.status === 'rejected');
      assert.equal(parallel.filter((outcome) => outcome.status === 'fulfilled').length, 1);
      assert.equal(refused.length, 2);
      for (const outcome of refused) {
        const error = (outcome as PromiseRejectedResult).reason as { statusCode: number; code: string; message: string };
        assert.equal(error.statusCode, 409);
        assert.equal(error.code, 'ConcurrentFederatedIdentityCredentialsWritesForSingleManagedIdentity');
        assert.match(error.message, /Too many Federated Identity Credentials are written concurrently for the managed identity '\/subscriptions\/22222222-0000-4000-8000-000000000001\/resourcegroups\/rg-identities\/providers\/microsoft\.managedidentity\/userassignedidentities\/id-one'/);
      }

      await msi.federatedIdentityCredentials.createOrUpdate(IDENTITY_RESOURCE_GROUP, 'id-one', 'fic-seq-1', credential('seq-1'));
      await msi.federatedIdentityCredentials.createOrUpdate(IDENTITY_RESOURCE_GROUP, 'id-one', 'fic-seq-2', credential('seq-2'));
      await Promise.all(['id-one', 'id-two'].map((identity) => msi.federatedIdentityCredentials.createOrUpdate(IDENTITY_RESOURCE_GROUP, identity, 'fic-other', credential(`other-${identity}`))));
    });

    it('counts injected latency as part of a write, so slow parallel writes collide', async () => {
      await control(emulator, 'POST', 'settings', { azure: { ficWriteMs: 0 } });
      await control(emulator, 'POST', 'faults', { rules: [{ route: 'arm.fic.put', latencyMs: 200 }] });
      await setupIdentity(emulator, 'id-one');
      const msi = msiClient(emulator, bootstrapCredential(emulator), DEV_SUBSCRIPTION.id);
      await msi.userAssignedIdentities.get(IDENTITY_RESOURCE_GROUP, 'id-one');
      const parallel = await Promise.allSettled(['a', 'b'].map((name) => msi.federatedIdentityCredentials.createOrUpdate(IDENTITY_RESOURCE_GROUP, 'id-one', `fic-${name}`, credential(name))));
      assert.deepEqual(parallel.map((outcome) => outcome.status).sort(), ['fulfilled', 'rejected']);
    });
  });

  describe('role assignments', () => {
    async function newServicePrincipal(name: string): Promise<string> {
      return (await setupIdentity(emulator, name)).properties.principalId;
    }

    it('answers 409 RoleAssignmentExists for the same principal, role and scope under another name, naming the existing one', async () => {
      const principalId = await newServicePrincipal('id-app');
      const authorization = authorizationClient(emulator, bootstrapCredential(emulator), DEV_SUBSCRIPTION.id);
      const first = randomUUID();
      const body = { roleDefinitionId: roleId(ROLE.reader), principalId, principalType: 'ServicePrincipal' as const };
      await authorization.roleAssignments.create(devGroup('rg-app-dev'), first, body);
      await expectRestError(authorization.roleAssignments.create(devGroup('rg-app-dev'), randomUUID(), body), {
        statusCode: 409,
        code: 'RoleAssignmentExists',
        message: new RegExp(`The role assignment already exists\\. The ID of the existing role assignment is ${first.replace(/-/g, '')}\\.`),
      });
    });

    it('answers 400 RoleAssignmentUpdateNotPermitted when a name is reused for another principal, and 200 for an identical re-PUT', async () => {
      const first = await newServicePrincipal('id-first');
      const second = await newServicePrincipal('id-second');
      const authorization = authorizationClient(emulator, bootstrapCredential(emulator), DEV_SUBSCRIPTION.id);
      const name = randomUUID();
      const body = { roleDefinitionId: roleId(ROLE.reader), principalId: first, principalType: 'ServicePrincipal' as const };
      await authorization.roleAssignments.create(devGroup('rg-app-dev'), name, body);
      let status = 0;
      await authorization.roleAssignments.create(devGroup('rg-app-dev'), name, body, { onResponse: (response) => (status = response.status) });
      assert.equal(status, 200);
      await expectRestError(authorization.roleAssignments.create(devGroup('rg-app-dev'), name, { ...body, principalId: second }), {
        statusCode: 400,
        code: 'RoleAssignmentUpdateNotPermitted',
      });
      await expectRestError(authorization.roleAssignments.create(devGroup('rg-app-test'), name, body), { statusCode: 400, code: 'RoleAssignmentUpdateNotPermitted' });
    });

    it('answers 400 PrincipalNotFound for a principal not yet replicated, unless principalType is given', async () => {
      // GIVEN an unconditioned Owner, and principals that take a minute to replicate
      const owner = await actor(emulator, 'id-owner', { scope: devScope, roleGuid: ROLE.owner });
      await control(emulator, 'POST', 'delays', { principalReplicationMs: 60_000 });
      const msi = msiClient(emulator, owner.credential, DEV_SUBSCRIPTION.id);
      const authorization = authorizationClient(emulator, owner.credential, DEV_SUBSCRIPTION.id);
      const fresh = await msi.userAssignedIdentities.createOrUpdate(IDENTITY_RESOURCE_GROUP, 'id-fresh', { location: 'westeurope' });
      // WHEN it assigns a role to the new identity without, then with, principalType
      const without = authorization.roleAssignments.create(devGroup('rg-app-dev'), randomUUID(), { roleDefinitionId: roleId(ROLE.reader), principalId: fresh.principalId! });
      // THEN the first is refused as ARM does, the second accepted
      await expectRestError(without, { statusCode: 400, code: 'PrincipalNotFound', message: /replication delay.*principalType/ });
      const withType = await authorization.roleAssignments.create(devGroup('rg-app-dev'), randomUUID(), {
        roleDefinitionId: roleId(ROLE.reader),
        principalId: fresh.principalId!,
        principalType: 'ServicePrincipal',
      });
      assert.equal(withType.principalType, 'ServicePrincipal');
    });

    it('answers 400 PrincipalNotFound for a principal that does not exist, and fills principalType from the directory otherwise', async () => {
      const owner = await actor(emulator, 'id-owner', { scope: devScope, roleGuid: ROLE.owner });
      const authorization = authorizationClient(emulator, owner.credential, DEV_SUBSCRIPTION.id);
      await expectRestError(authorization.roleAssignments.create(devGroup('rg-app-dev'), randomUUID(), { roleDefinitionId: roleId(ROLE.reader), principalId: randomUUID() }), {
        statusCode: 400,
        code: 'PrincipalNotFound',
      });
      const made = await authorization.roleAssignments.create(devGroup('rg-app-dev'), randomUUID(), { roleDefinitionId: roleId(ROLE.reader), principalId: ADMIN_USER.id });
      assert.equal(made.principalType, 'User');
      await expectRestError(
        authorization.roleAssignments.create(devGroup('rg-app-dev'), randomUUID(), { roleDefinitionId: roleId(ROLE.contributor), principalId: ADMIN_USER.id, principalType: 'ServicePrincipal' }),
        { statusCode: 400, code: 'UnmatchedPrincipalType' },
      );
    });

    it('refuses an unparsable condition, a conditionVersion other than 2.0, and an unknown role', async () => {
      const owner = await actor(emulator, 'id-owner', { scope: devScope, roleGuid: ROLE.owner });
      const principalId = await newServicePrincipal('id-app');
      const authorization = authorizationClient(emulator, owner.credential, DEV_SUBSCRIPTION.id);
      const base = { roleDefinitionId: roleId(ROLE.rbacAdministrator), principalId, principalType: 'ServicePrincipal' as const };
      await expectRestError(authorization.roleAssignments.create(devScope, randomUUID(), { ...base, condition: "((ActionMatches{'x'}) OR", conditionVersion: '2.0' }), {
        statusCode: 400,
        code: 'InvalidConditionFormat',
        message: /The given role assignment condition is invalid/,
      });
      await expectRestError(authorization.roleAssignments.create(devScope, randomUUID(), { ...base, condition: "ActionMatches{'x'}", conditionVersion: '1.0' }), {
        statusCode: 400,
        code: 'InvalidConditionFormat',
      });
      await expectRestError(authorization.roleAssignments.create(devScope, randomUUID(), { ...base, roleDefinitionId: roleId(randomUUID()) }), { statusCode: 400, code: 'RoleDefinitionDoesNotExist' });
    });
  });

  describe('authorization', () => {
    it('answers 403 AuthorizationFailed, worded as ARM words it, to a caller without a role', async () => {
      const nobody = await actor(emulator, 'id-nobody');
      const msi = msiClient(emulator, nobody.credential, DEV_SUBSCRIPTION.id);
      const scope = `${devGroup(IDENTITY_RESOURCE_GROUP)}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${BOOTSTRAP_IDENTITY.name}`;
      const oid = nobody.identity.properties.principalId;
      await expectRestError(msi.userAssignedIdentities.get(IDENTITY_RESOURCE_GROUP, BOOTSTRAP_IDENTITY.name), {
        statusCode: 403,
        code: 'AuthorizationFailed',
        message: new RegExp(
          `^The client '${oid}' with object id '${oid}' does not have authorization to perform action 'Microsoft\\.ManagedIdentity/userAssignedIdentities/read' over scope '${scope.replace(/\./g, '\\.')}' or the scope is invalid\\. If access was recently granted, please refresh your credentials\\.$`,
        ),
      });
    });

    it('hides subscriptions a caller has no role in, and refuses reading them with 403', async () => {
      const scoped = await actor(emulator, 'id-scoped', { scope: devGroup('rg-app-dev'), roleGuid: ROLE.reader });
      const token = await armToken(emulator, scoped.identity.properties.clientId, 'id-scoped');
      const list = await raw(emulator, 'GET', '/subscriptions?api-version=2022-12-01', { token });
      assert.deepEqual(list.body.value.map((subscription: { subscriptionId: string }) => subscription.subscriptionId), [DEV_SUBSCRIPTION.id]);
      assert.equal((await raw(emulator, 'GET', `${devScope}?api-version=2022-12-01`, { token })).status, 200);
      const other = await raw(emulator, 'GET', `/subscriptions/${PROD_SUBSCRIPTION.id}?api-version=2022-12-01`, { token });
      assert.equal(other.status, 403);
      assert.equal(other.body.error.code, 'AuthorizationFailed');
      assert.match(other.body.error.message, /Microsoft\.Resources\/subscriptions\/read/);
      const unknown = await raw(emulator, 'GET', `/subscriptions/${randomUUID()}?api-version=2022-12-01`, { token });
      assert.equal(unknown.body.error.code, 'SubscriptionNotFound');
      assert.equal((await raw(emulator, 'GET', '/subscriptions/not-a-guid?api-version=2022-12-01', { token })).body.error.code, 'InvalidSubscriptionId');
    });

    it('lets the bootstrap identity assign Contributor to a service principal, but not Owner, and not to a user (ABAC)', async () => {
      const principalId = (await setupIdentity(emulator, 'id-app')).properties.principalId;
      const authorization = authorizationClient(emulator, bootstrapCredential(emulator), DEV_SUBSCRIPTION.id);
      const scope = devGroup('rg-app-dev');
      const abacRefusal = { statusCode: 403, code: 'AuthorizationFailed', message: /does not have authorization or an ABAC condition not fulfilled to perform action 'Microsoft\.Authorization\/roleAssignments\/write'/ };
      await expectRestError(authorization.roleAssignments.create(scope, randomUUID(), { roleDefinitionId: roleId(ROLE.owner), principalId, principalType: 'ServicePrincipal' }), abacRefusal);
      await expectRestError(authorization.roleAssignments.create(scope, randomUUID(), { roleDefinitionId: roleId(ROLE.contributor), principalId: ADMIN_USER.id, principalType: 'User' }), abacRefusal);
      const allowed = await authorization.roleAssignments.create(scope, randomUUID(), { roleDefinitionId: roleId(ROLE.contributor), principalId, principalType: 'ServicePrincipal' });
      assert.equal(allowed.principalId, principalId);
    });

    it('lets the bootstrap identity delete what it may assign, but not its own RBAC Administrator assignment (ABAC on @Resource)', async () => {
      const principalId = (await setupIdentity(emulator, 'id-app')).properties.principalId;
      const authorization = authorizationClient(emulator, bootstrapCredential(emulator), DEV_SUBSCRIPTION.id);
      const granted = await authorization.roleAssignments.create(devGroup('rg-app-dev'), randomUUID(), { roleDefinitionId: roleId(ROLE.reader), principalId, principalType: 'ServicePrincipal' });
      await authorization.roleAssignments.deleteById(granted.id!);
      await expectRestError(authorization.roleAssignments.delete(devScope, DEFAULT_ROLE_ASSIGNMENT_NAMES.bootstrapRbacAdminDev), {
        statusCode: 403,
        code: 'AuthorizationFailed',
        message: /ABAC condition not fulfilled to perform action 'Microsoft\.Authorization\/roleAssignments\/delete'/,
      });
    });
  });

  describe('authentication', () => {
    it('answers 401 with WWW-Authenticate for a missing token or one the emulator did not issue', async () => {
      const missing = await raw(emulator, 'GET', `${devScope}/resourcegroups?api-version=2021-04-01`);
      assert.equal(missing.status, 401);
      assert.equal(missing.body.error.code, 'AuthenticationFailed');
      assert.match(missing.headers.get('www-authenticate') ?? '', /^Bearer authorization_uri="https:\/\/127\.0\.0\.1:\d+\/11111111-0000-4000-8000-000000000000", error="invalid_token"/);
      const foreign = await raw(emulator, 'GET', `${devScope}/resourcegroups?api-version=2021-04-01`, { token: await mintAssertion(emulator, { subject: 'someone' }) });
      assert.equal(foreign.status, 401);
      assert.equal(foreign.body.error.code, 'InvalidAuthenticationToken');
      assert.ok(foreign.headers.get('www-authenticate'));
    });

    it('answers 401 InvalidAuthenticationTokenAudience to a client holding a token for another resource', async () => {
      const credential = bootstrapCredential(emulator);
      const msi = new (await import('@azure/arm-msi')).ManagedServiceIdentityClient(credential, DEV_SUBSCRIPTION.id, {
        endpoint: String(emulator.info.armEndpoint),
        credentialScopes: ['https://vault.azure.net/.default'],
      });
      await expectRestError(msi.userAssignedIdentities.get(IDENTITY_RESOURCE_GROUP, 'anything'), { statusCode: 401, code: 'InvalidAuthenticationTokenAudience' });
    });

    it('answers 401 ExpiredAuthenticationToken to an expired token', async () => {
      const now = Math.floor(Date.now() / 1000);
      const expired = await emulator.ctx.keys.entra.sign(
        { aud: 'https://management.azure.com', iss: 'https://sts.windows.net/11111111-0000-4000-8000-000000000000/', oid: BOOTSTRAP_IDENTITY.principalId, iat: now - 7200, nbf: now - 7200, exp: now - 3600 },
        3600,
      );
      const response = await raw(emulator, 'GET', `${devScope}?api-version=2022-12-01`, { token: expired });
      assert.equal(response.status, 401);
      assert.equal(response.body.error.code, 'ExpiredAuthenticationToken');
      assert.match(response.body.error.message, /^The access token expiry UTC time '\d+\/\d+\/\d{4} \d+:\d\d:\d\d [AP]M' is earlier than current UTC time/);
    });
  });

  describe('throttling', () => {
    it('counts down x-ms-ratelimit-remaining-* and answers 429 TooManyRequests with Retry-After when the bucket is empty', async () => {
      await control(emulator, 'POST', 'settings', { throttle: { writes: { capacity: 2, refillPerSecond: 0.5 } } });
      const msi = msiClient(emulator, bootstrapCredential(emulator), DEV_SUBSCRIPTION.id, 0);
      const remaining: string[] = [];
      for (const name of ['id-a', 'id-b']) {
        await msi.userAssignedIdentities.createOrUpdate(IDENTITY_RESOURCE_GROUP, name, { location: 'westeurope' }, { onResponse: (response) => remaining.push(response.headers.get('x-ms-ratelimit-remaining-subscription-writes') ?? '') });
      }
      assert.deepEqual(remaining, ['1', '0']);
      const refused = await expectRestError(msi.userAssignedIdentities.createOrUpdate(IDENTITY_RESOURCE_GROUP, 'id-c', { location: 'westeurope' }), { statusCode: 429, code: 'TooManyRequests' });
      const headers = (refused as unknown as { response: { headers: { get(name: string): string | undefined } } }).response.headers;
      assert.equal(headers.get('retry-after'), '2');
      assert.equal(headers.get('x-ms-ratelimit-remaining-subscription-writes'), '0');
      // Reads have their own bucket.
      let reads = '';
      await msi.userAssignedIdentities.get(IDENTITY_RESOURCE_GROUP, 'id-a', { onResponse: (response) => (reads = response.headers.get('x-ms-ratelimit-remaining-subscription-reads') ?? '') });
      assert.equal(reads, '249');
    });

    it('lets a client with default retries wait out Retry-After and succeed', async () => {
      await control(emulator, 'POST', 'settings', { throttle: { writes: { capacity: 1, refillPerSecond: 1 } } });
      const msi = msiClient(emulator, bootstrapCredential(emulator), DEV_SUBSCRIPTION.id);
      await msi.userAssignedIdentities.createOrUpdate(IDENTITY_RESOURCE_GROUP, 'id-a', { location: 'westeurope' });
      const started = Date.now();
      await msi.userAssignedIdentities.createOrUpdate(IDENTITY_RESOURCE_GROUP, 'id-b', { location: 'westeurope' });
      assert.ok(Date.now() - started >= 900, 'the client waited for Retry-After');
    });
  });

  describe('injected faults', () => {
    it('adds latency', async () => {
      await control(emulator, 'POST', 'faults', { rules: [{ route: 'arm.identities.get', latencyMs: 300 }] });
      const msi = msiClient(emulator, bootstrapCredential(emulator), DEV_SUBSCRIPTION.id);
      await msi.userAssignedIdentities.get(BOOTSTRAP_IDENTITY.resourceGroup, BOOTSTRAP_IDENTITY.name).catch(() => undefined); // sign in
      const started = Date.now();
      await msi.userAssignedIdentities.get(BOOTSTRAP_IDENTITY.resourceGroup, BOOTSTRAP_IDENTITY.name).catch(() => undefined);
      assert.ok(Date.now() - started >= 290);
    });

    it('answers a 5xx shaped like an ARM error, with ARM request ids', async () => {
      await control(emulator, 'POST', 'faults', { rules: [{ route: 'arm.identities', status: 503, times: 1 }] });
      const msi = msiClient(emulator, bootstrapCredential(emulator), DEV_SUBSCRIPTION.id, 0);
      const error = await expectRestError(msi.userAssignedIdentities.get(IDENTITY_RESOURCE_GROUP, 'any'), { statusCode: 503, code: 'ServiceUnavailable' });
      const headers = (error as unknown as { response: { headers: { get(name: string): string | undefined } } }).response.headers;
      assert.match(headers.get('x-ms-request-id') ?? '', /^[0-9a-f-]{36}$/);
    });

    it('drops the connection', async () => {
      await control(emulator, 'POST', 'faults', { rules: [{ route: 'arm.identities', drop: true, times: 1 }] });
      const msi = msiClient(emulator, bootstrapCredential(emulator), DEV_SUBSCRIPTION.id, 0);
      await assert.rejects(msi.userAssignedIdentities.get(IDENTITY_RESOURCE_GROUP, 'any'), (error: Error & { code?: string }) => {
        assert.match(`${error.code} ${error.message}`, /ECONNRESET|socket hang up/);
        return true;
      });
    });

    it('answers 429 with Retry-After, which the client waits out before succeeding', async () => {
      await control(emulator, 'POST', 'faults', { rules: [{ id: 'throttle-once', route: 'arm.identities.get', status: 429, retryAfterSeconds: 1, times: 1 }] });
      const msi = msiClient(emulator, bootstrapCredential(emulator), DEV_SUBSCRIPTION.id);
      const identity = await msi.userAssignedIdentities.get(BOOTSTRAP_IDENTITY.resourceGroup, BOOTSTRAP_IDENTITY.name);
      assert.equal(identity.clientId, BOOTSTRAP_IDENTITY.clientId);
      const { rules } = await control<{ rules: Array<{ id?: string; fired: number }> }>(emulator, 'GET', 'faults');
      assert.equal(rules.find((rule) => rule.id === 'throttle-once')?.fired, 1);
    });
  });

  describe('every answer', () => {
    it('carries x-ms-request-id, and echoes the client x-ms-correlation-request-id', async () => {
      const token = await bootstrapToken(emulator);
      const response = await fetch(`${emulator.info.armEndpoint}${devScope}?api-version=2022-12-01`, {
        headers: { authorization: `Bearer ${token}`, 'x-ms-correlation-request-id': 'c0ffee00-0000-4000-8000-000000000000' },
      });
      assert.match(response.headers.get('x-ms-request-id') ?? '', /^[0-9a-f-]{36}$/);
      assert.equal(response.headers.get('x-ms-correlation-request-id'), 'c0ffee00-0000-4000-8000-000000000000');
      const missing = await raw(emulator, 'GET', '/subscriptions?api-version=2022-12-01');
      assert.match(missing.headers.get('x-ms-correlation-request-id') ?? '', /^[0-9a-f-]{36}$/);
    });
  });

  describe('resource groups and identities', () => {
    it('creates (201, then 200), reads, lists, checks and deletes a resource group, then answers 404 ResourceGroupNotFound', async () => {
      const owner = await actor(emulator, 'id-owner', { scope: devScope, roleGuid: ROLE.owner });
      const token = await armToken(emulator, owner.identity.properties.clientId, 'id-owner');
      const group = `${devScope}/resourcegroups/rg-new?api-version=2025-04-01`;
      assert.equal((await raw(emulator, 'PUT', group, { token, body: { location: 'West Europe' } })).status, 201);
      const again = await raw(emulator, 'PUT', group, { token, body: { location: 'westeurope', tags: { a: 'b' } } });
      assert.equal(again.status, 200);
      assert.deepEqual(again.body, { id: `${devScope}/resourceGroups/rg-new`, name: 'rg-new', type: 'Microsoft.Resources/resourceGroups', location: 'westeurope', tags: { a: 'b' }, properties: { provisioningState: 'Succeeded' } });
      const listed = await raw(emulator, 'GET', `${devScope}/resourcegroups?api-version=2021-04-01`, { token });
      assert.ok(listed.body.value.some((found: { name: string }) => found.name === 'rg-new'));
      assert.equal((await raw(emulator, 'HEAD', group, { token })).status, 204);
      assert.equal((await raw(emulator, 'DELETE', group, { token })).status, 200);
      const gone = await raw(emulator, 'GET', group, { token });
      assert.equal(gone.status, 404);
      assert.equal(gone.body.error.code, 'ResourceGroupNotFound');
      const msi = msiClient(emulator, owner.credential, DEV_SUBSCRIPTION.id);
      await expectRestError(msi.userAssignedIdentities.createOrUpdate('rg-new', 'id-x', { location: 'westeurope' }), { statusCode: 404, code: 'ResourceGroupNotFound' });
    });

    it('refuses bad names and unsupported filters with ARM codes', async () => {
      const token = await bootstrapToken(emulator);
      const identity = await raw(emulator, 'PUT', `${identityPath('ab')}?api-version=2024-11-30`, { token, body: { location: 'westeurope' } });
      assert.equal(identity.body.error.code, 'InvalidResourceName');
      const group = await raw(emulator, 'GET', `${devScope}/resourcegroups/bad!name?api-version=2021-04-01`, { token });
      assert.equal(group.status, 400);
      assert.equal(group.body.error.code, 'InvalidResourceGroup');
      assert.match(group.body.error.message, /has these invalid characters: '!'/);
      const assignment = await raw(emulator, 'PUT', `${devScope}/providers/Microsoft.Authorization/roleAssignments/not-a-guid?api-version=2022-04-01`, {
        token,
        body: { properties: { roleDefinitionId: roleId(ROLE.reader), principalId: ADMIN_USER.id } },
      });
      assert.equal(assignment.body.error.code, 'InvalidRoleAssignmentId');
      const filter = await raw(emulator, 'GET', `${devScope}/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01&$filter=${encodeURIComponent("roleName eq 'x'")}`, { token });
      assert.equal(filter.status, 400);
      assert.equal(filter.body.error.code, 'BadRequest');
    });

    it('refuses an identity without a location, and a bad body, with ARM codes', async () => {
      const token = await bootstrapToken(emulator);
      const noLocation = await raw(emulator, 'PUT', `${identityPath('id-x')}?api-version=2024-11-30`, { token, body: { tags: {} } });
      assert.equal(noLocation.status, 400);
      assert.equal(noLocation.body.error.code, 'LocationRequired');
      const response = await fetch(`${emulator.info.armEndpoint}${identityPath('id-x')}?api-version=2024-11-30`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: '{"location": ',
      });
      assert.equal(response.status, 400);
      assert.equal(((await response.json()) as { error: { code: string } }).error.code, 'InvalidRequestContent');
    });

    it('gives a re-created identity new ids, so old role assignments name a principal that is gone', async () => {
      const msi = msiClient(emulator, bootstrapCredential(emulator), DEV_SUBSCRIPTION.id);
      const first = await msi.userAssignedIdentities.createOrUpdate(IDENTITY_RESOURCE_GROUP, 'id-app', { location: 'westeurope' });
      await msi.userAssignedIdentities.delete(IDENTITY_RESOURCE_GROUP, 'id-app');
      const second = await msi.userAssignedIdentities.createOrUpdate(IDENTITY_RESOURCE_GROUP, 'id-app', { location: 'westeurope' });
      assert.notEqual(second.principalId, first.principalId);
      assert.notEqual(second.clientId, first.clientId);
      await setupCall(emulator, 'GET', identityPath('id-app'));
      const exchanged = credentialFor(emulator, first.clientId!, { subject: 'whatever' });
      await assert.rejects(exchanged.getToken('https://management.azure.com/.default'), /AADSTS700016/);
    });
  });
});
