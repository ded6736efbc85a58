// The service connection types the emulator knows, described the way `GET _apis/serviceendpoint/types`
// describes them. The descriptors drive behaviour, not just the types listing: which authorization
// parameters are confidential (never echoed), which schemes a type accepts, the default URL, the
// environment data an agent adds to an Azure job, and the data sources `endpointproxy` can run.

export interface InputDescriptor {
  id: string;
  name: string;
  description: string;
  type: null;
  properties: null;
  inputMode: string;
  isConfidential: boolean;
  useInDefaultDescription: boolean;
  groupName: string | null;
  valueHint: null;
  validation: { dataType: string; isRequired?: boolean; maxLength?: number };
}

export interface DataSource {
  name: string;
  /** A small mustache dialect: `{{{endpoint.x}}}`, `{{{parameter}}}`, `{{#equals endpoint.x 'v'}}…{{else}}…{{/equals}}`. */
  endpointUrl: string;
  requestVerb: string | null;
  requestContent: string | null;
  resourceUrl: string;
  /** `jsonpath:$`, `jsonpath:$.value[*]`, `jsonpath:$.value[*].name`. */
  resultSelector: string;
  callbackContextTemplate: null;
  callbackRequiredTemplate: null;
  initialContextTemplate: null;
  headers: never[];
  authenticationScheme: null;
}

export interface AuthenticationScheme {
  inputDescriptors: InputDescriptor[];
  scheme: string;
  displayName: string;
  requiresOAuth2Configuration: boolean;
  dataSourceBindings: never[];
  authorizationHeaders: Array<{ name: string; value: string }>;
  clientCertificates: never[];
  properties: Record<string, string>;
}

export interface EndpointType {
  inputDescriptors: InputDescriptor[];
  authenticationSchemes: AuthenticationScheme[];
  dataSources: DataSource[];
  dependencyData: Array<{ input: string; map: Array<{ key: string; value: Array<{ key: string; value: string }> }> }>;
  trustedHosts: string[];
  name: string;
  displayName: string;
  description: string;
  endpointUrl: { displayName: string; helpText: string; value: string; isVisible: string; dependsOn?: { input: string; map: Array<{ key: string; value: string }> } };
  helpMarkDown: string;
  iconUrl: string;
  uiContributionId: string;
}

function input(
  id: string,
  name: string,
  options: { description?: string; confidential?: boolean; required?: boolean; group?: string | null; mode?: string; dataType?: string; maxLength?: number } = {},
): InputDescriptor {
  const validation: InputDescriptor['validation'] = { dataType: options.dataType ?? 'string' };
  if (options.required) validation.isRequired = true;
  if (options.maxLength) validation.maxLength = options.maxLength;
  return {
    id,
    name,
    description: options.description ?? name,
    type: null,
    properties: null,
    inputMode: options.mode ?? (options.confidential ? 'passwordBox' : 'textBox'),
    isConfidential: options.confidential ?? false,
    useInDefaultDescription: false,
    groupName: options.group === undefined ? 'AuthenticationParameter' : options.group,
    valueHint: null,
    validation,
  };
}

function scheme(schemeName: string, displayName: string, inputs: InputDescriptor[], headers: Array<{ name: string; value: string }> = []): AuthenticationScheme {
  return {
    inputDescriptors: inputs,
    scheme: schemeName,
    displayName,
    requiresOAuth2Configuration: false,
    dataSourceBindings: [],
    authorizationHeaders: headers,
    clientCertificates: [],
    properties: {},
  };
}

function dataSource(name: string, endpointUrl: string, resultSelector: string, resourceUrl = ''): DataSource {
  return {
    name,
    endpointUrl,
    requestVerb: null,
    requestContent: null,
    resourceUrl,
    resultSelector,
    callbackContextTemplate: null,
    callbackRequiredTemplate: null,
    initialContextTemplate: null,
    headers: [],
    authenticationScheme: null,
  };
}

/**
 * Public-cloud environment data Azure DevOps adds to an AzureRM connection handed to a job (the
 * `dependencyData` of the azurerm type). Microsoft's Azure tasks read these as endpoint data
 * (`environmentAuthorityUrl`, `activeDirectoryServiceEndpointResourceId`, …).
 */
export const AZURE_CLOUD_ENVIRONMENT: ReadonlyArray<readonly [string, string]> = [
  ['environmentUrl', 'https://management.azure.com/'],
  ['galleryUrl', 'https://gallery.azure.com/'],
  ['serviceManagementUrl', 'https://management.core.windows.net/'],
  ['resourceManagerUrl', 'https://management.azure.com/'],
  ['activeDirectoryAuthority', 'https://login.microsoftonline.com/'],
  ['environmentAuthorityUrl', 'https://login.windows.net/'],
  ['graphUrl', 'https://graph.windows.net/'],
  // Microsoft Graph (not the retired Azure AD Graph above); whether Azure DevOps hands it to jobs is [U].
  ['microsoftGraphUrl', 'https://graph.microsoft.com/'],
  ['managementPortalUrl', 'https://manage.windowsazure.com/'],
  ['armManagementPortalUrl', 'https://portal.azure.com/'],
  ['activeDirectoryServiceEndpointResourceId', 'https://management.core.windows.net/'],
  ['sqlDatabaseDnsSuffix', '.database.windows.net'],
  ['AzureKeyVaultDnsSuffix', 'vault.azure.net'],
  ['AzureKeyVaultServiceEndpointResourceId', 'https://vault.azure.net'],
  ['StorageEndpointSuffix', 'core.windows.net'],
  ['EnableAdfsAuthentication', 'false'],
];

const TENANT_ID = input('tenantid', 'Tenant Id', { required: true, description: 'Tenant Id for connecting to the endpoint.' });
const SERVICE_PRINCIPAL_ID = input('serviceprincipalid', 'Service Principal Id', { required: true, description: 'Client Id for connecting to the endpoint.' });

const azureRm: EndpointType = {
  inputDescriptors: [
    input('environment', 'Environment', { group: null, mode: 'combo', description: 'Microsoft Azure Environment for the subscription', maxLength: 300 }),
    input('scopeLevel', 'Scope Level', { group: null, mode: 'combo', maxLength: 300 }),
    input('subscriptionId', 'Subscription Id', { group: null, dataType: 'guid', maxLength: 38, description: 'Subscription Id of the Azure subscription' }),
    input('subscriptionName', 'Subscription Name', { group: null, maxLength: 255 }),
    input('managementGroupId', 'Management Group Id', { group: null, maxLength: 255 }),
    input('managementGroupName', 'Management Group Name', { group: null, maxLength: 255 }),
    input('creationMode', 'Creation Mode', { group: null, maxLength: 255, description: 'Endpoint creation can be Automatic or Manual.' }),
    input('identityType', 'Identity type', { group: null, maxLength: 255 }),
  ],
  authenticationSchemes: [
    scheme('ServicePrincipal', 'Service principal (key or certificate)', [
      SERVICE_PRINCIPAL_ID,
      input('authenticationType', 'Credential', { mode: 'radioButtons', required: true }),
      input('serviceprincipalkey', 'Service principal key', { confidential: true }),
      input('servicePrincipalCertificate', 'Certificate', { confidential: true, mode: 'textArea' }),
      input('scope', 'Scope', { maxLength: 1024 }),
      TENANT_ID,
    ]),
    scheme('WorkloadIdentityFederation', 'Workload Identity federation', [
      SERVICE_PRINCIPAL_ID,
      TENANT_ID,
      input('scope', 'Scope', { maxLength: 1024 }),
      input('workloadIdentityFederationIssuer', 'Issuer', { description: 'Generated by the server; cannot be set by the user.' }),
      input('workloadIdentityFederationSubject', 'Subject identifier', { description: 'Generated by the server; cannot be set by the user.' }),
      input('workloadIdentityFederationIssuerType', 'Issuer type', { description: 'Generated by the server; cannot be set by the user.' }),
    ]),
    scheme('ManagedServiceIdentity', 'Managed Identity', [TENANT_ID]),
    scheme('PublishProfile', 'Publish Profile', [input('publishProfile', 'Publish profile', { confidential: true, mode: 'textArea' }), TENANT_ID]),
  ],
  dataSources: [
    dataSource(
      'TestConnection',
      "{{{endpoint.url}}}{{#equals endpoint.scopeLevel 'ManagementGroup'}}providers/Microsoft.Management/managementGroups/{{{endpoint.managementGroupId}}}?api-version=2018-01-01-preview{{else}}subscriptions/{{{endpoint.subscriptionId}}}?api-version=2016-06-01{{/equals}}",
      'jsonpath:$',
    ),
    dataSource('AzureSubscriptions', '{{{endpoint.url}}}subscriptions?api-version=2016-06-01', 'jsonpath:$.value[*]'),
    dataSource('AzureResourceGroups', '{{{endpoint.url}}}subscriptions/{{{endpoint.subscriptionId}}}/resourcegroups?api-version=2016-02-01', 'jsonpath:$.value[*].name'),
    dataSource('AzureResourceGroupsByExplicitSubscription', '{{{endpoint.url}}}subscriptions/{{{subscriptionId}}}/resourcegroups?api-version=2016-02-01', 'jsonpath:$.value[*].name'),
  ],
  dependencyData: [{ input: 'environment', map: [{ key: 'AzureCloud', value: AZURE_CLOUD_ENVIRONMENT.map(([key, value]) => ({ key, value })) }] }],
  trustedHosts: ['vault.azure.net', 'core.windows.net', 'azurecr.io'],
  name: 'azurerm',
  displayName: 'Azure Resource Manager',
  description: 'Service Endpoint type for Azure Resource Manager',
  endpointUrl: {
    displayName: 'Server Url',
    helpText: '',
    value: 'https://management.azure.com/',
    isVisible: 'true',
    dependsOn: {
      input: 'environment',
      map: [
        { key: 'AzureCloud', value: 'https://management.azure.com/' },
        { key: 'AzureChinaCloud', value: 'https://management.chinacloudapi.cn/' },
        { key: 'AzureUSGovernment', value: 'https://management.usgovcloudapi.net/' },
      ],
    },
  },
  helpMarkDown: 'Azure Resource Manager service connection.',
  iconUrl: '',
  uiContributionId: 'ms.vss-endpoint.azurerm-endpoint-ui',
};

const azureClassic: EndpointType = {
  inputDescriptors: [
    input('environment', 'Environment', { group: null, mode: 'combo', maxLength: 300 }),
    input('subscriptionId', 'Subscription Id', { group: null, dataType: 'guid', required: true, maxLength: 38 }),
    input('subscriptionName', 'Subscription Name', { group: null, required: true, maxLength: 255 }),
  ],
  authenticationSchemes: [
    scheme('Certificate', 'Certificate Based', [input('certificate', 'Management Certificate', { confidential: true, required: true, mode: 'textArea' })]),
    scheme('UsernamePassword', 'Credentials', [input('username', 'Username', { required: true }), input('password', 'Password', { confidential: true, required: true })]),
  ],
  dataSources: [],
  dependencyData: [],
  trustedHosts: [],
  name: 'azure',
  displayName: 'Azure Classic',
  description: 'Service Endpoint type for Azure Classic',
  endpointUrl: {
    displayName: 'Server Url',
    helpText: '',
    value: 'https://management.core.windows.net/',
    isVisible: 'false',
    dependsOn: {
      input: 'environment',
      map: [
        { key: 'AzureCloud', value: 'https://management.core.windows.net/' },
        { key: 'AzureChinaCloud', value: 'https://management.core.chinacloudapi.cn/' },
        { key: 'AzureUSGovernment', value: 'https://management.core.usgovcloudapi.net/' },
      ],
    },
  },
  helpMarkDown: 'Azure Classic service connection.',
  iconUrl: '',
  uiContributionId: '',
};

const generic: EndpointType = {
  inputDescriptors: [],
  authenticationSchemes: [
    scheme('UsernamePassword', 'Basic Authentication', [input('username', 'Username'), input('password', 'Password/Token Key', { confidential: true })], [
      { name: 'Authorization', value: 'Basic {{ #base64 endpoint.username ":" endpoint.password }}' },
    ]),
    scheme('Token', 'Token Based Authentication', [input('apitoken', 'API Token', { confidential: true, required: true })]),
    scheme('None', 'No authentication', []),
  ],
  dataSources: [],
  dependencyData: [],
  trustedHosts: [],
  name: 'generic',
  displayName: 'Generic',
  description: 'Service connection type for all Generic connections',
  endpointUrl: { displayName: 'Server URL', helpText: '', value: '', isVisible: 'true' },
  helpMarkDown: '',
  iconUrl: '',
  uiContributionId: '',
};

export const ENDPOINT_TYPES: readonly EndpointType[] = [azureRm, azureClassic, generic];

export function findEndpointType(name: string): EndpointType | undefined {
  return ENDPOINT_TYPES.find((type) => type.name.toLowerCase() === name.toLowerCase());
}

export function findScheme(type: EndpointType, schemeName: string): AuthenticationScheme | undefined {
  return type.authenticationSchemes.find((candidate) => candidate.scheme.toLowerCase() === schemeName.toLowerCase());
}

/** Confidential parameter names (lower-cased) of a type's scheme. */
export function confidentialParameters(typeName: string, schemeName: string): Set<string> {
  const type = findEndpointType(typeName);
  const found = type ? findScheme(type, schemeName) : undefined;
  return new Set((found?.inputDescriptors ?? []).filter((descriptor) => descriptor.isConfidential).map((descriptor) => descriptor.id.toLowerCase()));
}

export function isAzureRm(typeName: string): boolean {
  return typeName.toLowerCase() === 'azurerm';
}

export const WIF_SCHEME = 'WorkloadIdentityFederation';

export function isWorkloadIdentityFederation(endpoint: { type: string; authorization: { scheme: string } }): boolean {
  return isAzureRm(endpoint.type) && endpoint.authorization.scheme.toLowerCase() === WIF_SCHEME.toLowerCase();
}
