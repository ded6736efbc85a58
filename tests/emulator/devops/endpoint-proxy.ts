// `POST {org}/{project}/_apis/serviceendpoint/endpointproxy?endpointId=…`: runs one of the connection
// type's data sources with the connection's credentials. `TestConnection` is the "Verify" button: for an
// AzureRM workload identity federation connection Azure DevOps mints the connection's ID token, exchanges
// it at Entra ID for an ARM token and reads the subscription with it. So the verification passes only once
// a matching federated credential exists and has propagated, and the identity can read the subscription.
import { randomUUID } from 'node:crypto';
import { adoError, badRequest } from './ado-errors';
import { armGet, signInAsConnection, statusName } from './azure-calls';
import { renderTemplate, selectResult } from './data-source-templates';
import type { DevOpsService } from './devops-service';
import { findEndpointType } from './endpoint-types';
import { LOCATIONS } from './locations';
import { endpointRole, requireProjectAccess } from './rights';
import { roleRank, type ServiceEndpoint } from './world';
import { jsonBody, queryParam } from '../kernel/http';

interface ServiceEndpointRequest {
  dataSourceDetails?: { dataSourceName?: unknown; parameters?: Record<string, unknown> };
  resultTransformationDetails?: unknown;
  serviceEndpointDetails?: { url?: unknown; data?: Record<string, unknown>; authorization?: { scheme?: unknown; parameters?: Record<string, unknown> } };
}

interface RequestResult {
  result: string[];
  statusCode: string;
  errorMessage: string;
  activityId: string;
  callbackContextParameters: null;
  callbackRequired: false;
}

function resultOf(statusCode: string, result: string[], errorMessage: string): RequestResult {
  return { result, statusCode, errorMessage, activityId: randomUUID(), callbackContextParameters: null, callbackRequired: false };
}

function templateValues(endpoint: ServiceEndpoint, request: ServiceEndpointRequest): { endpoint: Record<string, string>; parameters: Record<string, string> } {
  // Unsaved edits ("Verify" in the edit dialog) may override the URL and data; never the credentials.
  const details = request.serviceEndpointDetails ?? {};
  const data = { ...endpoint.data };
  for (const [key, value] of Object.entries(details.data ?? {})) if (typeof value === 'string') data[key] = value;
  const url = typeof details.url === 'string' && details.url ? details.url : endpoint.url;
  const parameters: Record<string, string> = {};
  for (const [key, value] of Object.entries(request.dataSourceDetails?.parameters ?? {})) if (value !== null && value !== undefined) parameters[key] = String(value);
  return { endpoint: { ...endpoint.authorization.parameters, ...data, url: url.endsWith('/') ? url : `${url}/` }, parameters };
}

/**
 * The connection TestConnection signs in as: the stored one. With `devops.testConnectionUsesClientDetails`
 * the service behaves as before its 2025-09-23 fix and believes the authorization a client sends in
 * `serviceEndpointDetails` (Daze Security, "Azure DevOps Privilege Escalation via OIDC Abuse") — so a client
 * sending a partial one (no issuer or subject) fails to sign in.
 */
function credentialsFor(service: DevOpsService, endpoint: ServiceEndpoint, request: ServiceEndpointRequest): ServiceEndpoint {
  const sent = request.serviceEndpointDetails?.authorization;
  if (!service.settings.testConnectionUsesClientDetails || !sent || typeof sent !== 'object') return endpoint;
  const parameters: Record<string, string> = {};
  for (const [key, value] of Object.entries(sent.parameters ?? {})) if (typeof value === 'string') parameters[key] = value;
  return { ...endpoint, authorization: { scheme: typeof sent.scheme === 'string' ? sent.scheme : endpoint.authorization.scheme, parameters } };
}

export function registerEndpointProxyRoute(service: DevOpsService): void {
  service.route(
    'POST',
    '/:organization/:project/_apis/serviceendpoint/endpointproxy',
    { name: 'devops.endpointproxy', location: LOCATIONS.endpointProxy, kind: 'read' },
    async (req, call) => {
      const project = requireProjectAccess(service.world, call.caller, req.params.project);
      const request =
        jsonBody<ServiceEndpointRequest>(req, (message) => {
          throw badRequest(message, 'ArgumentException');
        }) ?? {};
      const endpointId = (queryParam(req, 'endpointId') ?? '').toLowerCase();
      const endpoint = service.world.endpoints.get(endpointId);
      if (!endpoint || !service.world.projectReference(endpoint, project.id) || roleRank(endpointRole(service.world, call.caller.identity, endpoint)) < roleRank('Reader')) {
        throw adoError(404, 'ServiceEndpointNotFoundException', `Service connection with id ${endpointId || '(none)'} does not exist or you do not have permission to access it.`);
      }
      if (roleRank(endpointRole(service.world, call.caller.identity, endpoint)) < roleRank('User')) {
        throw adoError(403, 'AccessCheckException', `You do not have permission to use the service connection '${service.world.projectReference(endpoint, project.id)!.name}'. You need to be a User of this service connection.`);
      }
      const name = typeof request.dataSourceDetails?.dataSourceName === 'string' ? request.dataSourceDetails.dataSourceName : '';
      const dataSource = findEndpointType(endpoint.type)?.dataSources.find((candidate) => candidate.name.toLowerCase() === name.toLowerCase());
      if (!dataSource) throw badRequest(`Data source '${name}' is not defined for service connection type '${endpoint.type}'.`);

      const login = await signInAsConnection(service, credentialsFor(service, endpoint, request));
      if (!login.ok) return { status: 200, body: resultOf(statusName(login.status), [], login.message) };
      const url = renderTemplate(dataSource.endpointUrl, templateValues(endpoint, request));
      const response = await armGet(service, url, login.value);
      if (!response.ok) return { status: 200, body: resultOf(statusName(response.status), [], response.message) };
      return { status: 200, body: resultOf('ok', selectResult(dataSource.resultSelector, response.value), '') };
    },
  );
}
