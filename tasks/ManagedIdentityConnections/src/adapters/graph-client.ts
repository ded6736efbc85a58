// Microsoft Graph for the convert command: the service principal of an app id (GET /v1.0/servicePrincipals
// ?$filter=appId eq '…', https://learn.microsoft.com/graph/api/serviceprincipal-list). Same credential, pool
// and proxy as the ARM clients; a 403 (no Application.Read.All / Directory.Read.All) is MIC442.
import { ServiceClient } from '@azure/core-client';
import type { TokenCredential } from '@azure/core-auth';
import { bearerTokenAuthenticationPolicy, createPipelineRequest, RestError } from '@azure/core-rest-pipeline';
import { TaskError } from '../errors';
import type { DirectoryClient, DirectoryServicePrincipal } from '../ports/directory';
import { sharedHttpClient, type HttpSettings } from './http-client';
import type { ServiceCalls } from './service-calls';

export interface GraphSettings {
  /** https://graph.microsoft.com/ (or a national cloud's Graph). */
  readonly endpoint: string;
  /** The audience of Graph tokens: the cloud's Graph (https://graph.microsoft.com), whatever URL the requests go to. */
  readonly resource: string;
  readonly credential: TokenCredential;
  readonly userAgent: string;
  readonly http?: HttpSettings;
}

export class GraphDirectoryClient implements DirectoryClient {
  private readonly client: ServiceClient;
  private readonly endpoint: string;

  constructor(settings: GraphSettings, private readonly calls: ServiceCalls) {
    this.endpoint = settings.endpoint.replace(/\/+$/, '');
    this.client = new ServiceClient({ baseUri: this.endpoint, httpClient: sharedHttpClient(settings.http), userAgentOptions: { userAgentPrefix: settings.userAgent } });
    this.client.pipeline.addPolicy(bearerTokenAuthenticationPolicy({ credential: settings.credential, scopes: [`${settings.resource.replace(/\/+$/, '')}/.default`] }));
  }

  findServicePrincipal(appId: string): Promise<DirectoryServicePrincipal | undefined> {
    const filter = encodeURIComponent(`appId eq '${appId.replace(/'/g, "''")}'`);
    return this.calls.run({
      what: `look up the service principal of app ${appId} in Microsoft Graph`,
      operation: async (_, abortSignal) => {
        const response = await this.client.sendRequest(createPipelineRequest({ url: `${this.endpoint}/v1.0/servicePrincipals?$filter=${filter}&$select=id,appId,displayName`, method: 'GET', abortSignal }));
        const body = response.bodyAsText ? (JSON.parse(response.bodyAsText) as { value?: { id?: string; appId?: string; displayName?: string }[]; error?: { code?: string; message?: string } }) : {};
        if (response.status === 403) {
          throw new TaskError('MIC442', `Microsoft Graph refused to read the service principal of app ${appId} (${body.error?.code ?? '403'}): the identity running the task needs Application.Read.All or Directory.Read.All.`);
        }
        if (response.status !== 200) throw new RestError(body.error?.message ?? `HTTP ${response.status}`, { statusCode: response.status, ...(body.error?.code ? { code: body.error.code } : {}), request: response.request, response });
        const found = (body.value ?? []).find((item) => (item.appId ?? '').toLowerCase() === appId.toLowerCase() && item.id);
        return found ? { objectId: found.id!, appId: found.appId!, displayName: found.displayName ?? '' } : undefined;
      },
    });
  }
}
