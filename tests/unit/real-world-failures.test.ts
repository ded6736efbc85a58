// Protects the small decisions behind surviving real Azure (docs/reliability.md): which connection created
// meanwhile is ours to adopt, how a lost answer and a body cut off mid-way are read (as a dropped connection,
// so they are retried), and when Entra's "no record" is propagation and when it is drift.
import * as assert from 'node:assert/strict';
import { adoptConcurrentlyCreated, isNameTaken } from '../../tasks/ManagedIdentityConnections/src/adapters/connection-adoption';
import { describeFailure, requireAnswer } from '../../tasks/ManagedIdentityConnections/src/adapters/service-failure';
import { classifyTestFailure, isTaskError } from '../../tasks/ManagedIdentityConnections/src/errors';
import type { ConnectionDefinition, ServiceConnection } from '../../tasks/ManagedIdentityConnections/src/ports/devops';

const definition: ConnectionDefinition = {
  name: 'app-dev',
  description: '',
  url: 'https://management.azure.com/',
  azureEnvironment: 'AzureCloud',
  tenantId: 'T1',
  clientId: 'C1',
  subscriptionId: 'S1',
  subscriptionName: 'dev',
  project: { id: 'P', name: 'Platform' },
};
const connection = (overrides: Partial<ServiceConnection> = {}): ServiceConnection => ({
  id: 'id-1',
  name: 'app-dev',
  type: 'azurerm',
  url: '',
  description: '',
  authorizationScheme: 'WorkloadIdentityFederation',
  tenantId: 't1',
  clientId: 'c1',
  isReady: true,
  isDisabled: false,
  projectReferences: [],
  ...overrides,
});

function codeOf(action: () => unknown): string | undefined {
  try {
    action();
  } catch (error) {
    return isTaskError(error) ? error.code : 'not a TaskError';
  }
  return undefined;
}

describe('surviving real Azure: small decisions', () => {
  it('adopts a connection created meanwhile only for the same identity and tenant (ignoring case)', () => {
    assert.equal(adoptConcurrentlyCreated(connection(), definition, 'taken').id, 'id-1');
    assert.equal(codeOf(() => adoptConcurrentlyCreated(connection({ clientId: 'other' }), definition, 'taken')), 'MIC420');
    assert.equal(codeOf(() => adoptConcurrentlyCreated(connection({ tenantId: 'other' }), definition, 'taken')), 'MIC420');
    assert.equal(codeOf(() => adoptConcurrentlyCreated(undefined, definition, 'taken')), 'MIC420');
    assert.equal(codeOf(() => adoptConcurrentlyCreated(connection({ readerStub: true, type: '' }), definition, 'taken')), 'MIC422');
  });

  it('recognizes Azure DevOps\' "already exists" refusal, and nothing else', () => {
    const taken = describeFailure(Object.assign(new Error('x'), { statusCode: 400, result: { typeKey: 'ServiceEndpointException', message: 'Service connection with name app-dev already exists. Only a user having Administrator/User role permissions on service connection app-dev can see it.' } }));
    assert.equal(isNameTaken(taken), true);
    assert.equal(isNameTaken({ ...taken, statusCode: 403 }), false);
    assert.equal(isNameTaken({ ...taken, message: 'Service Connection Authorization cannot be null.' }), false);
  });

  it('reads a body cut off mid-way, and a null answer, as a dropped connection', () => {
    const cut = Object.assign(new Error('Error reading response as text: aborted'), { name: 'RestError', statusCode: 200, code: 'PARSE_ERROR' });
    assert.deepEqual([describeFailure(cut).source, describeFailure(cut).code], ['network', 'ECONNRESET']);
    const invalidJson = Object.assign(new Error('Unexpected token < in JSON'), { name: 'RestError', statusCode: 200, code: 'PARSE_ERROR' });
    assert.equal(describeFailure(invalidJson).source, 'arm', 'a whole body that is not JSON is no network failure');
    assert.equal(requireAnswer({ id: 1 }, 'x').id, 1);
    let lost: unknown;
    try {
      requireAnswer(null, 'create service connection app-dev');
    } catch (error) {
      lost = error;
    }
    assert.deepEqual([describeFailure(lost).source, describeFailure(lost).code], ['network', 'ECONNRESET']);
  });

  it('"no record" is propagation for a credential written in this run, drift otherwise; a named mismatch keeps its code', () => {
    for (const aadsts of ['AADSTS70021', 'AADSTS70025']) {
      assert.equal(classifyTestFailure(`… ${aadsts}: No matching …`, true), 'MIC503');
      assert.equal(classifyTestFailure(`… ${aadsts}: No matching …`, false), 'MIC502');
    }
    assert.equal(classifyTestFailure('AADSTS700213: subject', false), 'MIC505');
    assert.equal(classifyTestFailure('AADSTS700211: issuer', true), 'MIC504');
  });
});
