// Protects the exact issuer and subject formats Azure DevOps generates for workload identity federation
// connections — the values every federated credential must copy — and the two little template languages
// the endpoint proxy evaluates. A wrong byte order or segment here would make every emulated login pass
// against credentials that would fail in production.
import assert from 'node:assert/strict';
import { renderTemplate, selectResult } from './data-source-templates';
import { AZURE_DEVOPS_APP_ID, encodeGuidForSubject, federationNames, ISSUER_TYPES } from './issuer-formats';
import type { Organization } from './world';

describe('devops: issuer formats', () => {
  const organization: Organization = { name: 'contoso', id: '06b4c157-759b-4b4c-bb2a-303135a18867', issuerType: 'EntraID' };
  const naming = {
    organization,
    tenantId: '72f988bf-86f1-41af-91ab-2d7cd011db47',
    endpointId: 'a59d7818-50d4-4a3b-ac19-fcab848eaf8b',
    projectName: 'Platform',
    connectionName: 'bootstrap',
  };

  it("encodes the Azure DevOps app id as the well-known 'a/' segment", () => {
    // The value seen in every public Entra-issuer FIC subject for Azure DevOps.
    assert.equal(encodeGuidForSubject(AZURE_DEVOPS_APP_ID), 'rISbSSETf0KqFyZ8ppdXmA');
  });

  it('uses Microsoft GUID byte order (first three fields little-endian), not the textual order', () => {
    const encoded = encodeGuidForSubject('00112233-4455-6677-8899-aabbccddeeff');
    assert.equal(Buffer.from(encoded, 'base64url').toString('hex'), '33221100554477668899aabbccddeeff');
    assert.doesNotMatch(encoded, /=/, 'base64url without padding');
    assert.equal(encoded.length, 22);
  });

  it('builds the Entra issuer and a subject that embeds the organization and connection ids', () => {
    const names = federationNames(ISSUER_TYPES.entra, naming);
    assert.equal(names.issuer, 'https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0');
    assert.equal(
      names.subject,
      `/eid1/c/pub/t/${encodeGuidForSubject(naming.tenantId)}/a/rISbSSETf0KqFyZ8ppdXmA/sc/06b4c157-759b-4b4c-bb2a-303135a18867/a59d7818-50d4-4a3b-ac19-fcab848eaf8b`,
    );
    assert.equal(names.issuerType, 'EntraID');
  });

  it('builds the legacy vstoken issuer and sc:// subject from names', () => {
    const names = federationNames(ISSUER_TYPES.azureDevOps, naming);
    assert.equal(names.issuer, 'https://vstoken.dev.azure.com/06b4c157-759b-4b4c-bb2a-303135a18867');
    assert.equal(names.subject, 'sc://contoso/Platform/bootstrap');
    assert.equal(names.issuerType, ISSUER_TYPES.azureDevOps);
  });
});

describe('devops: data source templates', () => {
  const values = { endpoint: { url: 'https://management.azure.com/', subscriptionId: 'sub-1', scopeLevel: 'Subscription', managementGroupId: 'mg' }, parameters: { subscriptionId: 'explicit' } };

  it('renders the azurerm TestConnection URL for subscription and management group scopes', () => {
    const template =
      "{{{endpoint.url}}}{{#equals endpoint.scopeLevel 'ManagementGroup'}}providers/Microsoft.Management/managementGroups/{{{endpoint.managementGroupId}}}?api-version=2018-01-01-preview{{else}}subscriptions/{{{endpoint.subscriptionId}}}?api-version=2016-06-01{{/equals}}";
    assert.equal(renderTemplate(template, values), 'https://management.azure.com/subscriptions/sub-1?api-version=2016-06-01');
    assert.equal(
      renderTemplate(template, { ...values, endpoint: { ...values.endpoint, scopeLevel: 'managementgroup' } }),
      'https://management.azure.com/providers/Microsoft.Management/managementGroups/mg?api-version=2018-01-01-preview',
    );
  });

  it('takes plain names from the request parameters and endpoint.* from the connection', () => {
    assert.equal(renderTemplate('{{{endpoint.url}}}subscriptions/{{{subscriptionId}}}', values), 'https://management.azure.com/subscriptions/explicit');
  });

  it('selects results like the service: strings as they are, objects as JSON', () => {
    const document = { value: [{ name: 'a', id: 1 }, { name: 'b', id: 2 }] };
    assert.deepEqual(selectResult('jsonpath:$.value[*].name', document), ['a', 'b']);
    assert.deepEqual(selectResult('jsonpath:$.value[*]', document), ['{"name":"a","id":1}', '{"name":"b","id":2}']);
    assert.deepEqual(selectResult('jsonpath:$', { id: 'x' }), ['{"id":"x"}']);
  });
});
