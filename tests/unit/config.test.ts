// Task inputs are the task's other public interface. This suite protects: every input's default and allowed
// values as task.json documents them; that every invalid input is refused with a TaskError naming the input and
// what is allowed, all problems at once; that the agent facts the core relies on are checked the same way; and
// that the resulting config is frozen and cannot print the job token.
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { factNames, inputNames, parseTaskConfig, type RawValues } from '../../tasks/ManagedIdentityConnections/src/config';
import { isTaskError, type TaskError } from '../../tasks/ManagedIdentityConnections/src/errors';

const token = 'job-token-value-that-must-never-print';

function inputs(overrides: RawValues = {}): RawValues {
  return { command: 'provision', bootstrapConnection: '0b0b0b0b-0000-4000-8000-000000000001', environments: 'environments: []', ...overrides };
}

function facts(overrides: RawValues = {}): RawValues {
  return {
    [factNames.bootstrapTenantId]: '72f988bf-86f1-41af-91ab-2d7cd011db47',
    [factNames.bootstrapClientId]: 'c1c1c1c1-0000-4000-8000-000000000099',
    [factNames.bootstrapScheme]: 'WorkloadIdentityFederation',
    [factNames.collectionUri]: 'https://dev.azure.com/fabrikam',
    [factNames.projectName]: 'Platform',
    [factNames.projectId]: 'a0a0a0a0-0000-4000-8000-000000000001',
    [factNames.definitionId]: '42',
    [factNames.accessToken]: token,
    ...overrides,
  };
}

function refusal(raw: RawValues, rawFacts: RawValues = facts()): TaskError {
  try {
    parseTaskConfig(raw, rawFacts);
  } catch (error) {
    assert.ok(isTaskError(error), String(error));
    return error;
  }
  assert.fail('expected the inputs to be refused');
}

function problems(error: TaskError): { code: string; field?: string }[] {
  const list = error.problems.length > 0 ? error.problems : [error];
  return list.map((item) => ({ code: item.code, ...(item.field ? { field: item.field } : {}) }));
}

describe('parseTaskConfig', () => {
  it('applies the documented defaults', () => {
    const config = parseTaskConfig({ bootstrapConnection: '0b0b0b0b-0000-4000-8000-000000000001', environmentsFile: 'envs.yml' }, facts());
    assert.equal(config.command, 'provision');
    assert.equal(config.devOpsAuth, 'systemAccessToken');
    assert.equal(config.allowPrivilegedRoles, false);
    assert.equal(config.concurrency, 16);
    assert.equal(config.propagationTimeoutSeconds, 300);
    assert.deepEqual(config.only, []);
    assert.deepEqual(config.environments, { kind: 'file', path: 'envs.yml' });
    assert.equal(config.cloud.armUrl, 'https://management.azure.com/');
    assert.equal(config.cloud.azureEnvironment, 'AzureCloud');
    assert.equal(config.pipeline.definitionId, 42);
    assert.equal(config.pipeline.collectionUri, 'https://dev.azure.com/fabrikam/');
  });

  it('declares the same defaults as task.json', () => {
    const manifest = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'task.json'), 'utf8')) as { inputs: { name: string; defaultValue?: string }[] };
    const config = parseTaskConfig({ bootstrapConnection: '0b0b0b0b-0000-4000-8000-000000000001', environmentsFile: 'e.yml' }, facts());
    const declared = Object.fromEntries(manifest.inputs.map((input) => [input.name, input.defaultValue]));
    assert.deepEqual(Object.keys(declared).sort(), Object.values(inputNames).sort());
    assert.equal(declared['command'], config.command);
    assert.equal(declared['devOpsAuth'], config.devOpsAuth);
    assert.equal(declared['allowPrivilegedRoles'], String(config.allowPrivilegedRoles));
    assert.equal(declared['concurrency'], String(config.concurrency));
    assert.equal(declared['propagationTimeoutSeconds'], String(config.propagationTimeoutSeconds));
    assert.equal(declared['queueVerificationRun'], String(config.verificationRun.queue));
    assert.equal(declared['waitForVerificationRun'], String(config.verificationRun.wait));
    assert.equal(declared['verificationRunTimeoutMinutes'], String(config.verificationRun.timeoutMinutes));
    assert.deepEqual(JSON.parse(declared['verificationRunParameters']!), config.verificationRun.parameters);
    assert.equal(declared['prune'], String(config.lifecycle.prune));
    assert.equal(declared['maxDeletions'], String(config.lifecycle.maxDeletions));
    assert.equal(declared['keepConnectionsUsedWithinDays'], String(config.lifecycle.keepConnectionsUsedWithinDays));
    assert.equal(declared['deleteUsedConnections'], String(config.lifecycle.deleteUsedConnections));
    assert.equal(declared['migrationScope'], config.lifecycle.migration.scope);
    assert.equal(declared['migrateUnowned'], String(config.lifecycle.migration.includeUnowned));
    assert.equal(declared['dryRun'], String(config.lifecycle.dryRun));
  });

  it('reads migrate-issuer: the project scope needs no spec, the spec scope does', () => {
    const bootstrapConnection = '0b0b0b0b-0000-4000-8000-000000000001';
    const project = parseTaskConfig({ bootstrapConnection, command: 'migrate-issuer', migrationScope: 'project', migrateUnowned: 'true', dryRun: 'true' }, facts());
    assert.deepEqual([project.environments, project.lifecycle.migration, project.lifecycle.dryRun], [{ kind: 'none' }, { scope: 'project', includeUnowned: true }, true]);
    assert.deepEqual(problems(refusal({ bootstrapConnection, command: 'migrate-issuer' })), [{ code: 'MIC103', field: 'environments' }]);
  });

  it('reads the lifecycle inputs, and teardown with only', () => {
    const config = parseTaskConfig(inputs({ command: 'teardown', only: 'dev', prune: 'true', maxDeletions: '0', keepConnectionsUsedWithinDays: '3650', deleteUsedConnections: 'true' }), facts());
    assert.equal(config.command, 'teardown');
    assert.deepEqual(config.lifecycle, { prune: true, maxDeletions: 0, keepConnectionsUsedWithinDays: 3650, deleteUsedConnections: true, dryRun: false, migration: { scope: 'spec', includeUnowned: false } });
  });

  it('reads verification run parameters as YAML or JSON', () => {
    for (const text of ['mode: verify\nfull: true\nretries: 2', '{"mode": "verify", "full": true, "retries": 2}']) {
      assert.deepEqual(parseTaskConfig(inputs({ verificationRunParameters: text }), facts()).verificationRun.parameters, { mode: 'verify', full: true, retries: 2 });
    }
  });

  it('keeps the inline spec text as given, so that line numbers match', () => {
    const text = '\n\nenvironments: []\n';
    assert.deepEqual(parseTaskConfig(inputs({ environments: text }), facts()).environments, { kind: 'inline', text });
  });

  it('reads the command and choices ignoring case, and booleans as true/false', () => {
    const config = parseTaskConfig(inputs({ command: 'Verify', devOpsAuth: 'BOOTSTRAPIDENTITY', allowPrivilegedRoles: 'True' }), facts());
    assert.deepEqual([config.command, config.devOpsAuth, config.allowPrivilegedRoles], ['verify', 'bootstrapIdentity', true]);
  });

  it('splits only on commas, trimming and dropping repeats', () => {
    assert.deepEqual(parseTaskConfig(inputs({ only: ' dev, prod ,dev,' }), facts()).only, ['dev', 'prod']);
  });

  const invalid: [string, RawValues, string, string][] = [
    ['an unknown command', { command: 'apply' }, 'MIC102', 'command'],
    ['a missing bootstrap connection', { bootstrapConnection: '' }, 'MIC101', 'bootstrapConnection'],
    ['a bootstrap connection that is a name, not an id', { bootstrapConnection: 'my-connection' }, 'MIC102', 'bootstrapConnection'],
    ['both environments and environmentsFile', { environmentsFile: 'e.yml' }, 'MIC103', 'environments'],
    ['neither environments nor environmentsFile', { environments: '  ' }, 'MIC103', 'environments'],
    ['only with an invalid name', { only: 'dev,Prod!' }, 'MIC102', 'only'],
    ['an unknown devOpsAuth', { devOpsAuth: 'pat' }, 'MIC102', 'devOpsAuth'],
    ['allowPrivilegedRoles that is not a boolean', { allowPrivilegedRoles: 'yes' }, 'MIC102', 'allowPrivilegedRoles'],
    ['concurrency 0', { concurrency: '0' }, 'MIC102', 'concurrency'],
    ['concurrency 65', { concurrency: '65' }, 'MIC102', 'concurrency'],
    ['concurrency 2.5', { concurrency: '2.5' }, 'MIC102', 'concurrency'],
    ['propagationTimeoutSeconds 9', { propagationTimeoutSeconds: '9' }, 'MIC102', 'propagationTimeoutSeconds'],
    ['propagationTimeoutSeconds 3601', { propagationTimeoutSeconds: '3601' }, 'MIC102', 'propagationTimeoutSeconds'],
    ['queueVerificationRun that is not a boolean', { queueVerificationRun: '1' }, 'MIC102', 'queueVerificationRun'],
    ['verification run parameters that are a list', { verificationRunParameters: '[verify]' }, 'MIC102', 'verificationRunParameters'],
    ['a verification run parameter that is a mapping', { verificationRunParameters: 'mode: { a: 1 }' }, 'MIC102', 'verificationRunParameters'],
    ['verification run parameters that do not parse', { verificationRunParameters: '{ mode: ' }, 'MIC102', 'verificationRunParameters'],
    ['verificationRunTimeoutMinutes 361', { verificationRunTimeoutMinutes: '361' }, 'MIC102', 'verificationRunTimeoutMinutes'],
    ['teardown without only', { command: 'teardown' }, 'MIC150', 'only'],
    ['prune that is not a boolean', { prune: 'yes' }, 'MIC102', 'prune'],
    ['maxDeletions 1001', { maxDeletions: '1001' }, 'MIC102', 'maxDeletions'],
    ['maxDeletions -1', { maxDeletions: '-1' }, 'MIC102', 'maxDeletions'],
    ['keepConnectionsUsedWithinDays 3651', { keepConnectionsUsedWithinDays: '3651' }, 'MIC102', 'keepConnectionsUsedWithinDays'],
    ['deleteUsedConnections that is not a boolean', { deleteUsedConnections: 'force' }, 'MIC102', 'deleteUsedConnections'],
    ['an unknown migrationScope', { command: 'migrate-issuer', migrationScope: 'organization' }, 'MIC102', 'migrationScope'],
    ['migrateUnowned that is not a boolean', { migrateUnowned: 'all' }, 'MIC102', 'migrateUnowned'],
    ['dryRun that is not a boolean', { dryRun: 'maybe' }, 'MIC102', 'dryRun'],
  ];
  for (const [label, overrides, code, field] of invalid) {
    it(`refuses ${label}, naming the input and what is allowed`, () => {
      const error = refusal(inputs(overrides));
      assert.deepEqual(problems(error), [{ code, field }]);
      assert.match(error.message, new RegExp(field === 'environments' ? 'environmentsFile' : field));
    });
  }

  it('accepts the bounds of the numeric inputs', () => {
    for (const [concurrency, timeout] of [['1', '10'], ['64', '3600']] as const) {
      const config = parseTaskConfig(inputs({ concurrency, propagationTimeoutSeconds: timeout }), facts());
      assert.deepEqual([config.concurrency, config.propagationTimeoutSeconds], [Number(concurrency), Number(timeout)]);
    }
  });

  const badFacts: [string, RawValues, string][] = [
    ['a bootstrap connection with a secret', { [factNames.bootstrapScheme]: 'ServicePrincipal' }, 'bootstrapConnection'],
    ['no bootstrap tenant', { [factNames.bootstrapTenantId]: undefined }, factNames.bootstrapTenantId],
    ['a bootstrap client id that is not a GUID', { [factNames.bootstrapClientId]: 'abc' }, factNames.bootstrapClientId],
    ['an ARM URL over http', { [factNames.bootstrapArmUrl]: 'http://management.azure.com/' }, factNames.bootstrapArmUrl],
    ['no collection URI', { [factNames.collectionUri]: '' }, factNames.collectionUri],
    ['no project id', { [factNames.projectId]: undefined }, factNames.projectId],
    ['a definition id that is not a number', { [factNames.definitionId]: 'x1' }, factNames.definitionId],
    ['no System.AccessToken with devOpsAuth systemAccessToken', { [factNames.accessToken]: undefined }, factNames.accessToken],
  ];
  for (const [label, overrides, field] of badFacts) {
    it(`refuses ${label}`, () => {
      const [problem] = problems(refusal(inputs(), facts(overrides)));
      assert.equal(problem!.field, field);
    });
  }

  it('does not need System.AccessToken when Azure DevOps is called as the bootstrap identity', () => {
    const config = parseTaskConfig(inputs({ devOpsAuth: 'bootstrapIdentity' }), facts({ [factNames.accessToken]: undefined }));
    assert.equal(config.pipeline.accessToken, undefined);
  });

  it('refuses a verification run outside a pipeline run, before anything is read', () => {
    const queue = inputs({ queueVerificationRun: 'true' });
    assert.deepEqual(problems(refusal(queue, facts({ [factNames.definitionId]: undefined }))), [{ code: 'MIC411', field: 'queueVerificationRun' }]);
    assert.deepEqual(problems(refusal(queue, facts({ [factNames.hostType]: 'release' }))), [{ code: 'MIC411', field: 'queueVerificationRun' }]);
    assert.equal(parseTaskConfig(queue, facts({ [factNames.hostType]: 'build' })).verificationRun.queue, true);
  });

  it('lets plan and verify carry queueVerificationRun outside a pipeline run: they ignore it', () => {
    for (const command of ['plan', 'verify']) {
      assert.equal(parseTaskConfig(inputs({ command, queueVerificationRun: 'true' }), facts({ [factNames.definitionId]: undefined })).verificationRun.queue, true);
    }
  });

  it('says where it came from, and keeps the cloud apart from the bootstrap connection', () => {
    const config = parseTaskConfig(inputs(), facts({ [factNames.bootstrapArmUrl]: 'https://management.usgovcloudapi.net/', [factNames.bootstrapEnvironment]: 'AzureUSGovernment' }));
    assert.equal(config.source, 'pipeline');
    assert.deepEqual([config.cloud.armUrl, config.cloud.azureEnvironment], ['https://management.usgovcloudapi.net/', 'AzureUSGovernment']);
    assert.deepEqual(Object.keys(config.bootstrap).sort(), ['clientId', 'id', 'tenantId']);
  });

  it('reports every problem at once', () => {
    const error = refusal({ command: 'nope', concurrency: '0' }, facts({ [factNames.projectId]: 'x' }));
    assert.equal(error.code, 'MIC100');
    assert.deepEqual(
      problems(error).map((item) => item.field),
      ['command', 'bootstrapConnection', 'environments', 'concurrency', factNames.projectId],
    );
  });

  it('returns a frozen config', () => {
    const config = parseTaskConfig(inputs(), facts());
    assert.ok(Object.isFrozen(config) && Object.isFrozen(config.bootstrap) && Object.isFrozen(config.pipeline.project) && Object.isFrozen(config.only));
  });

  it('cannot print the job token by accident', () => {
    const config = parseTaskConfig(inputs(), facts());
    assert.equal(config.pipeline.accessToken?.reveal(), token);
    for (const text of [JSON.stringify(config), `${config.pipeline.accessToken}`, inspect(config, { depth: 10 })]) assert.ok(!text.includes(token), text);
  });
});

describe('parseTaskConfig: the environments spec source as the agent passes it', () => {
  const sources = '/agent/_work/1/s';
  const agentFacts = facts({ [factNames.sourcesDirectory]: sources, [factNames.defaultWorkingDirectory]: sources });

  it('treats environmentsFile equal to the sources directory (the agent\'s empty filePath) as not set', () => {
    for (const rooted of [sources, `${sources}/`]) {
      const config = parseTaskConfig(inputs({ environmentsFile: rooted }), agentFacts);
      assert.equal(config.environments.kind, 'inline', rooted);
    }
    assert.deepEqual(problems(refusal(inputs({ environments: '', environmentsFile: sources }), agentFacts)), [{ code: 'MIC103', field: 'environments' }]);
  });

  it('still refuses a real file path next to an inline spec without specSource (MIC103)', () => {
    assert.deepEqual(problems(refusal(inputs({ environmentsFile: `${sources}/envs.yml` }), agentFacts)), [{ code: 'MIC103', field: 'environments' }]);
  });

  it('reads the input specSource names and ignores the other one', () => {
    const both = { environments: 'environments: []', environmentsFile: `${sources}/envs.yml` };
    assert.equal(parseTaskConfig(inputs({ ...both, specSource: 'inline' }), agentFacts).environments.kind, 'inline');
    assert.deepEqual(parseTaskConfig(inputs({ ...both, specSource: 'file' }), agentFacts).environments, { kind: 'file', path: `${sources}/envs.yml` });
  });

  it('refuses a specSource whose input is empty, and an unknown specSource', () => {
    assert.deepEqual(problems(refusal(inputs({ specSource: 'file', environmentsFile: sources }), agentFacts)), [{ code: 'MIC103', field: 'environmentsFile' }]);
    assert.deepEqual(problems(refusal(inputs({ specSource: 'inline', environments: '', environmentsFile: 'e.yml' }), agentFacts)), [{ code: 'MIC103', field: 'environments' }]);
    assert.deepEqual(problems(refusal(inputs({ specSource: 'url' }), agentFacts)), [{ code: 'MIC102', field: 'specSource' }]);
  });
});

describe('parseTaskConfig: the agent\'s proxy and certificate settings', () => {
  it('reads the proxy, its credentials (as a secret) and its bypass list, and the CA file', () => {
    const config = parseTaskConfig(
      inputs(),
      facts({
        [factNames.proxyUrl]: 'http://proxy.contoso.com:8080',
        [factNames.proxyUsername]: 'agent',
        [factNames.proxyPassword]: 'p@ss',
        [factNames.proxyBypassList]: '["\\\\.contoso\\\\.com$", "^https://localhost"]',
        [factNames.caInfo]: '/agent/ca.pem',
      }),
    );
    const proxy = config.network.proxy!;
    assert.equal(proxy.url, 'http://proxy.contoso.com:8080');
    assert.equal(proxy.username, 'agent');
    assert.equal(proxy.password?.reveal(), 'p@ss');
    assert.equal(inspect(config).includes('p@ss'), false);
    assert.deepEqual(proxy.bypass, ['\\.contoso\\.com$', '^https://localhost']);
    assert.equal(config.network.caFile, '/agent/ca.pem');
  });

  it('has no proxy when the agent has none', () => {
    assert.deepEqual(parseTaskConfig(inputs(), facts()).network, {});
  });

  const unusable: [string, RawValues, string][] = [
    ['a proxy URL that is not a URL', { [factNames.proxyUrl]: 'proxy:8080' }, factNames.proxyUrl],
    ['a proxy URL with credentials in it', { [factNames.proxyUrl]: 'http://u:p@proxy:8080' }, factNames.proxyUrl],
    ['a bypass list that is not JSON', { [factNames.proxyUrl]: 'http://proxy:8080', [factNames.proxyBypassList]: 'localhost' }, factNames.proxyBypassList],
    ['a bypass entry that is not a regular expression', { [factNames.proxyUrl]: 'http://proxy:8080', [factNames.proxyBypassList]: '["(a"]' }, factNames.proxyBypassList],
  ];
  for (const [label, overrides, field] of unusable) {
    it(`refuses ${label} with MIC605`, () => {
      const error = refusal(inputs(), facts(overrides));
      assert.deepEqual(problems(error), [{ code: 'MIC605', field }]);
      assert.equal(error.message.includes('u:p@'), false);
    });
  }
});
