// Test helpers for the Azure DevOps module: a world that needs no Azure module (its connections name
// their client and tenant ids directly), sign-in tokens for seeded identities, and a small fetch wrapper
// that speaks the service's api-version and auth conventions.
import { devopsModule } from './devops-module';
import type { DevOpsSeed } from './seed';
import { testIssuerModule } from '../kernel/test-issuer';
import type { EmulatorModule } from '../kernel/context';
import type { EmulatorOptions, RunningEmulator } from '../emulator';
import { control, startTestEmulator } from '../../helpers/emulator';

export const OFFLINE = {
  tenantId: '7c9f3e55-0000-4000-8000-00000000aaaa',
  subscriptionId: '7c9f3e55-0000-4000-8000-00000000bbbb',
  clientId: '7c9f3e55-0000-4000-8000-00000000cccc',
  memberObjectId: '7c9f3e55-0000-4000-8000-00000000dddd',
  organizationId: '0d5ce33f-9c73-4b53-8a38-1f7c0e2a4b11',
  platformId: '1b1f7f0e-3f0a-4c55-9d0c-0c1d2e3f4a5b',
  appsId: '2c2f8f1f-4f1b-4d66-8e1d-1d2e3f4a5b6c',
  connectionId: '3d3f9f2f-5f2c-4e77-9f2e-2e3f4a5b6c7d',
  planId: '4e4fa03f-6f3d-4f88-8f3f-3f4a5b6c7d8e',
  jobId: '5f5fb14f-7f4e-4a99-9a4f-4a5b6c7d8e9f',
};

/** Modules without Azure: the DevOps module alone (plus the kernel's test issuer). */
export const OFFLINE_MODULES: readonly EmulatorModule[] = [testIssuerModule, devopsModule];

export function offlineSeed(): DevOpsSeed {
  return {
    organization: { name: 'contoso', id: OFFLINE.organizationId, tenantId: OFFLINE.tenantId, issuerType: 'EntraID' },
    projects: [
      { name: 'Platform', id: OFFLINE.platformId },
      { name: 'Apps', id: OFFLINE.appsId },
    ],
    identities: [
      { key: 'buildService', kind: 'build-service', displayName: 'Platform Build Service (contoso)', projects: ['Platform', 'Apps'], serviceConnectionRoles: { Platform: 'Creator' } },
      { key: 'member', kind: 'service-principal', displayName: 'automation-sp', entraObjectId: OFFLINE.memberObjectId, projects: ['Platform'], serviceConnectionRoles: { Platform: 'Creator' } },
      { key: 'reader', kind: 'user', displayName: 'Reader Person', uniqueName: 'reader@contoso.example', projects: ['Platform', 'Apps'] },
      { key: 'owner', kind: 'user', displayName: 'Contoso Owner', uniqueName: 'owner@contoso.example', collectionAdministrator: true, projects: ['Platform', 'Apps'] },
    ],
    pipelines: [
      { id: 1, project: 'Platform', name: 'bootstrap', connectionReferences: [{ connection: 'bootstrap' }] },
      { id: 2, project: 'Platform', name: 'verify-connections', parameters: [{ name: 'connections', type: 'object', default: '[]' }], connectionReferences: [{ parameter: 'connections' }] },
      { id: 3, project: 'Apps', name: 'deploy-app' },
    ],
    pipelineResources: [{ project: 'Platform', type: 'queue', id: '1', name: 'Azure Pipelines' }],
    serviceConnections: [
      {
        id: OFFLINE.connectionId,
        bootstrap: true,
        project: 'Platform',
        createdBy: 'owner',
        name: 'bootstrap',
        type: 'AzureRM',
        url: 'https://management.azure.com/',
        authorization: { scheme: 'WorkloadIdentityFederation', parameters: { tenantid: OFFLINE.tenantId, serviceprincipalid: OFFLINE.clientId } },
        data: { environment: 'AzureCloud', scopeLevel: 'Subscription', creationMode: 'Manual', subscriptionId: OFFLINE.subscriptionId, subscriptionName: 'offline-sub' },
        authorizedPipelines: [1],
      },
    ],
    jobs: [{ pipeline: 1, project: 'Platform', planId: OFFLINE.planId, jobId: OFFLINE.jobId, bootstrap: true }],
  };
}

export function startOfflineEmulator(options: EmulatorOptions = {}): Promise<RunningEmulator> {
  return startTestEmulator({ modules: OFFLINE_MODULES, seed: { devops: offlineSeed() }, ...options });
}

export async function tokenFor(emulator: RunningEmulator, identity: string): Promise<string> {
  return (await control<{ accessToken: string }>(emulator, 'POST', 'devops/tokens', { identity })).accessToken;
}

export function collectionUri(emulator: RunningEmulator): string {
  return String(emulator.info.collectionUri);
}

export interface AdoResponse<T = unknown> {
  status: number;
  body: T;
  headers: Headers;
}

/** A call against `{collectionUri}{path}`; `apiVersion` goes in the query unless the path has one. */
export async function ado<T = unknown>(
  emulator: RunningEmulator,
  method: string,
  path: string,
  options: { token?: string; body?: unknown; apiVersion?: string | null; headers?: Record<string, string> } = {},
): Promise<AdoResponse<T>> {
  const url = new URL(path, collectionUri(emulator));
  if (options.apiVersion !== null && !url.searchParams.has('api-version')) url.searchParams.set('api-version', options.apiVersion ?? '7.1');
  const headers: Record<string, string> = { 'x-tfs-fedauthredirect': 'Suppress', ...(options.headers ?? {}) };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(url, { method, headers, body: options.body === undefined ? undefined : JSON.stringify(options.body) });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    // Not JSON: keep the text.
  }
  return { status: response.status, body: body as T, headers: response.headers };
}

/** A WIF connection body for the offline world (Manual; client and tenant given directly). */
export function wifConnectionBody(name: string, projects: Array<{ id: string; name: string }> = [{ id: OFFLINE.platformId, name: 'Platform' }]) {
  return {
    name,
    type: 'AzureRM',
    url: 'https://management.azure.com/',
    description: `connection ${name}`,
    authorization: { scheme: 'WorkloadIdentityFederation', parameters: { tenantid: OFFLINE.tenantId, serviceprincipalid: OFFLINE.clientId } },
    data: { environment: 'AzureCloud', scopeLevel: 'Subscription', creationMode: 'Manual', subscriptionId: OFFLINE.subscriptionId, subscriptionName: 'offline-sub' },
    isShared: false,
    isReady: true,
    owner: 'library',
    serviceEndpointProjectReferences: projects.map((project) => ({ projectReference: project, name, description: '' })),
  };
}
